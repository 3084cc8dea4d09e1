"""Python's ftplib against an FTP server, for integration-tests/tests/interop_ftplib.rs.

Usage: ftplib_scenarios.py SCENARIO HOST PORT USER PASSWORD WORKDIR

Each scenario drives ftplib's API and asserts on the replies it returns; the Rust test checks
the bytes on disk (on the server side and in WORKDIR). Exit status 0 means every assertion held.
"""
import ftplib
import io
import os
import sys

TIMEOUT = 30


def connect(host, port, user, password, pasv=True):
    ftp = ftplib.FTP(timeout=TIMEOUT)
    welcome = ftp.connect(host, int(port))
    assert welcome.startswith("220"), welcome
    resp = ftp.login(user, password)
    assert resp.startswith("230"), resp
    ftp.set_pasv(pasv)
    return ftp


def read(path):
    with open(path, "rb") as f:
        return f.read()


def session(ftp, work):
    """pwd, mkd, cwd, rmd, sendcmd/voidcmd and the reply codes ftplib expects."""
    assert ftp.pwd() == "/", ftp.pwd()
    made = ftp.mkd("made")
    assert made == "/made", made
    assert ftp.cwd("made").startswith("250")
    assert ftp.pwd() == "/made", ftp.pwd()
    inner = ftp.mkd("inner dir")
    assert inner == "/made/inner dir", inner
    assert ftp.cwd("..").startswith("250")
    assert ftp.pwd() == "/"
    assert ftp.rmd("made/inner dir").startswith("250")
    assert ftp.sendcmd("NOOP").startswith("200")
    assert ftp.voidcmd("TYPE I").startswith("200")
    syst = ftp.sendcmd("SYST")
    assert syst.startswith("215"), syst
    feat = ftp.sendcmd("FEAT")
    assert feat.startswith("211"), feat
    for needed in ("SIZE", "MDTM", "EPSV", "MLST", "REST STREAM", "UTF8"):
        assert needed in feat, (needed, feat)
    try:
        ftp.cwd("no-such-dir")
        raise AssertionError("CWD to a missing directory succeeded")
    except ftplib.error_perm as e:
        assert str(e).startswith("550"), e
    try:
        ftp.sendcmd("XYZZY")
        raise AssertionError("an unknown command succeeded")
    except ftplib.error_perm as e:
        assert str(e)[:3] in ("500", "502"), e


def transfers(ftp, work):
    """storbinary, retrbinary (whole and with rest), storlines, retrlines, size."""
    with open(os.path.join(work, "up.bin"), "rb") as f:
        resp = ftp.storbinary("STOR up.bin", f, blocksize=8192)
    assert resp.startswith("226"), resp
    size = os.path.getsize(os.path.join(work, "up.bin"))
    assert ftp.size("up.bin") == size, ftp.size("up.bin")

    with open(os.path.join(work, "down.bin"), "wb") as f:
        resp = ftp.retrbinary("RETR down.bin", f.write)
    assert resp.startswith("226"), resp

    offset = 123457
    with open(os.path.join(work, "tail.bin"), "wb") as f:
        resp = ftp.retrbinary("RETR down.bin", f.write, rest=offset)
    assert resp.startswith("226"), resp

    with open(os.path.join(work, "lines.txt"), "rb") as f:
        resp = ftp.storlines("STOR lines.txt", f)
    assert resp.startswith("226"), resp

    got = []
    resp = ftp.retrlines("RETR text.txt", got.append)
    assert resp.startswith("226"), resp
    with open(os.path.join(work, "retrlines.txt"), "w") as f:
        f.write("".join(line + "\n" for line in got))

    # APPE through the low-level API.
    resp = ftp.storbinary("APPE up.bin", io.BytesIO(b"appended tail"))
    assert resp.startswith("226"), resp
    assert ftp.size("up.bin") == size + len(b"appended tail")

    # REST + STOR via transfercmd: overwrite from an offset.
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR restored.bin", rest=5)
    conn.sendall(b"WORLD")
    conn.close()
    resp = ftp.voidresp()
    assert resp.startswith("226"), resp


def listings(ftp, work):
    """nlst, dir, mlsd."""
    names = sorted(ftp.nlst())
    assert names == ["a.txt", "dir", "zero.bin"], names
    names = sorted(ftp.nlst("dir"))
    assert [n.rsplit("/", 1)[-1] for n in names] == ["inside.txt"], names

    lines = []
    ftp.dir(lines.append)
    assert len(lines) == 3, lines
    by_name = {line.split(None, 8)[-1]: line for line in lines}
    assert set(by_name) == {"a.txt", "dir", "zero.bin"}, lines
    assert by_name["dir"].startswith("d"), by_name["dir"]
    assert by_name["a.txt"].startswith("-"), by_name["a.txt"]
    assert by_name["a.txt"].split()[4] == "11", by_name["a.txt"]

    entries = dict(ftp.mlsd(facts=["type", "size", "modify"]))
    names = sorted(n for n, f in entries.items() if f.get("type") not in ("cdir", "pdir"))
    assert names == ["a.txt", "dir", "zero.bin"], entries
    assert entries["a.txt"]["type"] == "file", entries["a.txt"]
    assert entries["a.txt"]["size"] == "11", entries["a.txt"]
    assert entries["zero.bin"]["size"] == "0", entries["zero.bin"]
    assert entries["dir"]["type"] == "dir", entries["dir"]
    assert len(entries["a.txt"]["modify"]) >= 14, entries["a.txt"]

    inside = dict(ftp.mlsd("dir"))
    files = [n for n, f in inside.items() if f.get("type") == "file"]
    assert files == ["inside.txt"], inside

    mdtm = ftp.sendcmd("MDTM a.txt")
    assert mdtm.startswith("213 ") and len(mdtm.split()[1]) >= 14, mdtm


def rename_delete(ftp, work):
    """rename, delete, rmd of a non-empty directory fails."""
    assert ftp.rename("old.txt", "new.txt").startswith("250")
    assert ftp.delete("gone.txt").startswith("250")
    try:
        ftp.delete("gone.txt")
        raise AssertionError("deleting a missing file succeeded")
    except ftplib.error_perm as e:
        assert str(e).startswith("550"), e
    try:
        ftp.rmd("full")
        raise AssertionError("RMD of a non-empty directory succeeded")
    except ftplib.error_perm as e:
        assert str(e).startswith("550"), e
    assert ftp.rename("full/f.txt", "moved.txt").startswith("250")
    assert ftp.rmd("full").startswith("250")


def active(ftp, work):
    """set_pasv(False): PORT (or EPRT on IPv6) for retrbinary, storbinary and nlst."""
    with open(os.path.join(work, "down.bin"), "wb") as f:
        resp = ftp.retrbinary("RETR down.bin", f.write)
    assert resp.startswith("226"), resp
    with open(os.path.join(work, "up.bin"), "rb") as f:
        resp = ftp.storbinary("STOR up.bin", f)
    assert resp.startswith("226"), resp
    names = sorted(ftp.nlst())
    assert names == ["down.bin", "up.bin"], names


def quit_politely(ftp):
    resp = ftp.quit()
    assert resp.startswith("221"), resp


SCENARIOS = {
    "session": (session, True),
    "transfers": (transfers, True),
    "listings": (listings, True),
    "rename_delete": (rename_delete, True),
    "active": (active, False),
}


def main():
    scenario, host, port, user, password, work = sys.argv[1:7]
    run, pasv = SCENARIOS[scenario]
    ftp = connect(host, port, user, password, pasv)
    run(ftp, work)
    quit_politely(ftp)
    print("ok " + scenario)


if __name__ == "__main__":
    main()
