"""FTPS small-files client of `cargo xtask bench` (xtask/src/bench/tls.rs).

Fetches small/f00000 ... over one control connection with Python's ftplib and OpenSSL: TLS
required, the version pinned, every data connection resuming the newest session (a TLS 1.3
ticket is used once, as curl does). curl itself is unusable for this row: version 7.88
stalls for its one-second multi timeout whenever a server answers EPSV before curl has
finished its own step, which fast servers do every few files.

Arguments: host port user password count tls13(1|0). Prints files/s; the control
connection's cipher goes to stderr.
"""

import ftplib
import ssl
import sys
import time

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
count, v13 = int(sys.argv[5]), sys.argv[6] == "1"

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
version = ssl.TLSVersion.TLSv1_3 if v13 else ssl.TLSVersion.TLSv1_2
ctx.minimum_version = ctx.maximum_version = version
if not v13:
    ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256")


class Client(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the newest TLS session."""

    newest = None

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        session = self.newest or self.sock.session
        conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size

    def get(self, name):
        with self.transfercmd("RETR " + name) as conn:
            while conn.recv(65536):
                pass
            if conn.session is not None:
                self.newest = conn.session
            conn.unwrap()
        return self.voidresp()


start = time.monotonic()
ftp = Client(context=ctx, timeout=30)
ftp.connect(host, port)
ftp.auth()
ftp.login(user, password)
ftp.prot_p()
ftp.voidcmd("TYPE I")
print(ftp.sock.cipher()[0], file=sys.stderr)
for i in range(count):
    ftp.get("small/f%05d" % i)
ftp.quit()
print(count / (time.monotonic() - start))
