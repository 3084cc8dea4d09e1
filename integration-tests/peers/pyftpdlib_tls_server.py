"""Run pyftpdlib's TLS_FTPHandler on 127.0.0.1 with an OS-chosen port (FTPS interop tests).

Usage: pyftpdlib_tls_server.py ROOT USER PASSWORD CERTFILE KEYFILE [implicit]
Prints the bound port on its own line on stdout, then serves until killed. TLS is required
on the control and the data connections. With `implicit`, the control connection is TLS
from the first byte (implicit FTPS, which pyftpdlib itself only offers as AUTH TLS): the
handler secures the socket before it sends the greeting.
"""
import logging
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    root, user, password, certfile, keyfile = sys.argv[1:6]
    implicit = sys.argv[6:7] == ["implicit"]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    authorizer = DummyAuthorizer()
    authorizer.add_user(user, password, root, perm="elradfmwMT")

    class Handler(TLS_FTPHandler):
        def handle(self):
            if implicit:
                self.secure_connection(self.ssl_context)
            super().handle()

    Handler.authorizer = authorizer
    Handler.certfile = certfile
    Handler.keyfile = keyfile
    Handler.tls_control_required = True
    Handler.tls_data_required = True
    Handler.banner = "pyftpdlib TLS interop peer ready."
    server = FTPServer(("127.0.0.1", 0), Handler)
    server.max_cons = 64
    print(server.address[1], flush=True)
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    main()
