//! The SHA-256 the server keeps with a local file: an extended attribute `user.ftp.sha256`
//! holding the digest and the size and modification time the file had when it was computed,
//! `v1 <size> <mtime seconds>.<nanoseconds> <64 hex>`. A write the server did not make
//! (another program, `APPE`, `MFMT`) changes the size or the modification time, and the stored
//! digest is then ignored (and replaced once a `HASH` computed the new one). Filesystems without
//! user extended attributes simply keep nothing.

use std::os::fd::AsFd;

use rustix::fs::XattrFlags;

use super::super::Sha256;

/// The attribute's name.
pub(super) const XATTR: &str = "user.ftp.sha256";

/// The attribute's value for `digest` over a file with status `st`.
fn encode(digest: &Sha256, st: &rustix::fs::Stat) -> String {
    format!(
        "v1 {} {}.{:09} {}",
        st.st_size,
        st.st_mtime,
        st.st_mtime_nsec,
        ftp_proto::hash::to_hex(digest)
    )
}

/// The digest in `value` when it was computed over a file with `st`'s size and modification
/// time, else `None`.
fn decode(value: &[u8], st: &rustix::fs::Stat) -> Option<Sha256> {
    let expected = encode(&[0; 32], st);
    let prefix = &expected[..expected.len() - 64];
    let value = std::str::from_utf8(value).ok()?;
    let hex = value.strip_prefix(prefix)?;
    let hex = ftp_proto::hash::parse_hex_digest(hex, ftp_proto::hash::HashAlgorithm::Sha256)?;
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *o = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// The valid digest stored with the open file `fd`, if any.
pub(super) fn read(fd: impl AsFd) -> Option<Sha256> {
    let st = rustix::fs::fstat(&fd).ok()?;
    let mut buf = [0u8; 128];
    let n = rustix::fs::fgetxattr(&fd, XATTR, &mut buf).ok()?;
    decode(&buf[..n.min(buf.len())], &st)
}

/// Stores `digest` with the open file `fd` as it is now, when `check` accepts its status (best
/// effort: a filesystem without user attributes, or a file we may not change, keeps nothing).
pub(super) fn write(fd: impl AsFd, digest: &Sha256, check: impl FnOnce(&rustix::fs::Stat) -> bool) {
    let Ok(st) = rustix::fs::fstat(&fd) else {
        return;
    };
    if check(&st) {
        let value = encode(digest, &st);
        let _ = rustix::fs::fsetxattr(&fd, XATTR, value.as_bytes(), XattrFlags::empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_stored_digest_is_valid_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"one").unwrap();
        let d = [7u8; 32];
        write(&f, &d, |_| true);
        if rustix::fs::fgetxattr(&f, XATTR, &mut [0u8; 128]).is_err() {
            eprintln!("skipped: no user extended attributes on this filesystem");
            return;
        }
        assert_eq!(read(&f), Some(d));
        f.write_all(b" and two").unwrap();
        assert_eq!(read(&f), None);
        write(&f, &d, |_| false);
        assert_eq!(read(&f), None);
    }

    #[test]
    fn decode_refuses_other_sizes_and_garbage() {
        let st = rustix::fs::fstat(tempfile::tempfile().unwrap()).unwrap();
        let d = [0xabu8; 32];
        let v = encode(&d, &st);
        assert_eq!(decode(v.as_bytes(), &st), Some(d));
        assert_eq!(decode(v.replacen("v1 0", "v1 1", 1).as_bytes(), &st), None);
        assert_eq!(decode(b"v1 garbage", &st), None);
        assert_eq!(decode(&v.as_bytes()[..v.len() - 1], &st), None);
    }
}
