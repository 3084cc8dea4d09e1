//! No escapes: every path-taking command, through `..`, absolute paths, file and directory
//! symlinks that point out of the root (absolute and relative, to existing and missing
//! targets) and odd encodings. Nothing outside may be read, created, changed or revealed:
//! a way out answers exactly like a missing name, whatever the outside target is.

mod common;

use std::net::Shutdown;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::*;

/// The outside world next to a server root: a file and a directory holding one.
struct World {
    srv: Srv,
    outside: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"top secret").unwrap();
        let srv = Srv::start();
        srv.write("real.txt", b"inside");
        let rel_out = relative_to(srv.root.path(), outside.path());
        let o = outside.path();
        let links: [(PathBuf, &str); 7] = [
            (o.join("secret"), "f_abs_exists"),
            (o.join("missing"), "f_abs_missing"),
            (rel_out.join("secret"), "f_rel_exists"),
            (rel_out.join("missing"), "f_rel_missing"),
            (o.to_path_buf(), "d_abs"),
            (rel_out.clone(), "d_rel"),
            (o.join("nodir"), "d_abs_missing"),
        ];
        for (target, name) in links {
            symlink(target, srv.path(name)).unwrap();
        }
        World { srv, outside }
    }

    /// The outside is exactly as created.
    fn assert_outside_untouched(&self, what: &str) {
        assert_eq!(dir_names(self.outside.path()), ["secret"], "{what}");
        assert_eq!(
            std::fs::read(self.outside.path().join("secret")).unwrap(),
            b"top secret",
            "{what}"
        );
    }
}

/// `../../tmp/xyz` from `from` to `to` (both absolute).
fn relative_to(from: &Path, to: &Path) -> PathBuf {
    let mut r = PathBuf::new();
    for _ in from.components().skip(1) {
        r.push("..");
    }
    r.join(to.strip_prefix("/").unwrap())
}

/// Escaping paths whose last component is a link out (or a name under a link out).
const LEAF_LINKS: [&str; 4] = [
    "f_abs_exists",
    "f_abs_missing",
    "f_rel_exists",
    "f_rel_missing",
];
const DIR_LINKS: [&str; 3] = ["d_abs", "d_rel", "d_abs_missing"];
const UNDER_LINKS: [&str; 6] = [
    "d_abs/secret",
    "d_rel/secret",
    "d_abs/missing",
    "d_rel/missing",
    "d_abs_missing/secret",
    "/./d_abs/./secret",
];

/// Plain names that are simply not there (the answers every escape must look like), plus
/// `..`, absolute-path and odd-encoding attempts, which resolve inside the root.
const MISSING: [&str; 10] = [
    "no_such_name",
    "../../../../../../../../etc/passwd",
    "/etc/passwd",
    "%2e%2e/%2e%2e/etc/passwd",
    "..\\..\\..\\etc\\passwd",
    "d_abs./secret",
    "d_abs../secret",
    "\u{c0}\u{ae}\u{c0}\u{ae}/etc/passwd",
    "/../../../no_such_name",
    "no_such_dir/secret",
];

/// Runs `verb arg` (over a passive data connection for transfer commands) and describes the
/// outcome: reply codes and texts, with the argument itself masked out.
fn outcome(c: &mut Ctl, verb: &str, arg: &[u8]) -> String {
    let data = matches!(verb, "RETR" | "STOR" | "APPE" | "LIST" | "NLST" | "MLSD");
    let mut line = match verb {
        "MFMT" => b"MFMT 20200101000000 ".to_vec(),
        "RNTO" => {
            c.expect("RNFR real.txt", 350);
            b"RNTO ".to_vec()
        }
        v => format!("{v} ").into_bytes(),
    };
    line.extend_from_slice(arg);
    line.extend_from_slice(b"\r\n");
    let d = data.then(|| c.epsv());
    c.send_raw(&line);
    let r = c.reply();
    let mask = |r: &ftp_proto::Reply| {
        let t = r.lines().join(&b"\n"[..]);
        let t = String::from_utf8_lossy(&t).replace(&*String::from_utf8_lossy(arg), "<p>");
        format!("{} {t}", r.code().as_u16())
    };
    let mut out = mask(&r);
    if r.code().as_u16() == 150 {
        let mut d = d.unwrap();
        let mut got = Vec::new();
        if verb == "STOR" || verb == "APPE" {
            use std::io::Write;
            d.write_all(b"upload").unwrap();
            d.shutdown(Shutdown::Write).unwrap();
        } else {
            use std::io::Read;
            d.read_to_end(&mut got).unwrap();
        }
        drop(d);
        out += &format!(" / {} bytes / {}", got.len(), mask(&c.reply()));
    }
    if verb == "RNFR" && r.code().as_u16() == 350 {
        c.expect("ABOR", 226);
    }
    out
}

/// Read-only and removing commands: every escape answers exactly like a missing name.
#[test]
fn every_path_command_answers_an_escape_exactly_like_a_missing_name() {
    for verb in [
        "CWD", "RETR", "DELE", "RMD", "RNFR", "SIZE", "MDTM", "MFMT", "MLST", "MLSD", "LIST",
        "NLST", "STAT",
    ] {
        let w = World::new();
        let mut c = w.srv.login();
        let expected = outcome(&mut c, verb, b"no_such_name");
        assert!(
            expected.starts_with('5')
                || expected.starts_with('4')
                || verb == "LIST"
                || verb == "NLST"
                || verb == "STAT",
            "{verb}: {expected}"
        );
        for p in LEAF_LINKS
            .iter()
            .chain(&DIR_LINKS)
            .chain(&UNDER_LINKS)
            .chain(&MISSING)
        {
            let got = outcome(&mut c, verb, p.as_bytes());
            assert_eq!(got, expected, "{verb} {p}");
            c.expect("PWD", 257);
        }
        // Overlong UTF-8 for `..` as raw bytes, too.
        let got = outcome(
            &mut c,
            verb,
            b"\xc0\xae\xc0\xae/\xc0\xae\xc0\xae/etc/passwd",
        );
        assert_eq!(got, expected, "{verb} overlong");
        w.assert_outside_untouched(verb);
        assert_eq!(w.srv.read("real.txt"), b"inside");
    }
}

/// Creating commands: whatever the outside target (existing or missing, absolute or
/// relative link), the answer is the same, and nothing is created or changed outside.
#[test]
fn creating_commands_never_reach_outside_and_do_not_depend_on_the_target() {
    for verb in ["STOR", "APPE", "MKD", "RNTO"] {
        for group in [&LEAF_LINKS[..], &DIR_LINKS[..], &UNDER_LINKS[..5]] {
            let mut seen = Vec::new();
            for p in group {
                // A fresh world each time: a successful STOR replaces the link itself.
                let w = World::new();
                let mut c = w.srv.login();
                seen.push((p, outcome(&mut c, verb, p.as_bytes())));
                c.expect("NOOP", 200);
                w.assert_outside_untouched(&format!("{verb} {p}"));
            }
            let first = &seen[0].1;
            for (p, o) in &seen {
                assert_eq!(o, first, "{verb} {p} differs from {verb} {}", seen[0].0);
            }
        }
    }
}

#[test]
fn stou_after_a_refused_cwd_into_a_link_stays_inside() {
    let w = World::new();
    let mut c = w.srv.login();
    c.expect("CWD d_abs", 550);
    c.expect("CWD d_rel", 550);
    let mut d = c.epsv();
    let r = c.cmd("STOU");
    assert_eq!(r.code().as_u16(), 150, "{r}");
    {
        use std::io::Write;
        d.write_all(b"unique").unwrap();
    }
    drop(d);
    c.expect_reply(226);
    w.assert_outside_untouched("STOU");
    assert_eq!(
        c.expect("PWD", 257).lines()[0],
        b"\"/\" is the current directory".to_vec()
    );
}
