//! Integrity and server-side operations over a real control connection: `HASH`, `OPTS
//! HASH`, `RANG` and the legacy digest commands, the stored SHA-256 of uploads, `SITE
//! CPFR`/`CPTO`/`COPY`, `SITE UTIME`, `SITE CHMOD`, `SITE HELP`.

mod common;

use std::process::Command as Process;

use common::*;
use ftp_server::{Config, Permissions, User};

/// `tool` (`sha256sum`, …) of `data`: the hex word it prints.
fn tool_digest(tool: &str, data: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    std::fs::write(&p, data).unwrap();
    let out = Process::new(tool).arg(&p).output().unwrap();
    assert!(out.status.success(), "{tool} failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

/// CRC-32 as zlib computes it, by Python's `zlib.crc32`.
fn python_crc32(data: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    std::fs::write(&p, data).unwrap();
    let script = "import sys,zlib;print('%08x'%zlib.crc32(open(sys.argv[1],'rb').read()))";
    let out = Process::new("python3")
        .args(["-c", script])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// The hex of a `213 ALG start-end hex path` reply.
fn hash_hex(r: &ftp_proto::Reply) -> String {
    let h = ftp_proto::hash::HashReply::parse(&r.text()).unwrap_or_else(|| panic!("{r}"));
    h.hex
}

#[test]
fn hash_of_an_upload_matches_the_usual_tools_for_every_algorithm_and_spelling() {
    let srv = Srv::start();
    let mut c = srv.login();
    let data = sample(300_000);
    c.expect("TYPE I", 200);
    assert_eq!(c.upload("STOR up.bin", &data).code().as_u16(), 226);
    let feat = c.expect("FEAT", 211);
    let f = ftp_proto::feat::Features::from_reply(&feat);
    assert_eq!(f.params("HASH"), Some("SHA-256*;SHA-512;SHA-1;MD5;CRC32"));
    let expected = [
        ("SHA-256", "XSHA256", tool_digest("sha256sum", &data)),
        ("SHA-512", "XSHA512", tool_digest("sha512sum", &data)),
        ("SHA-1", "XSHA1", tool_digest("sha1sum", &data)),
        ("MD5", "XMD5", tool_digest("md5sum", &data)),
        ("CRC32", "XCRC", python_crc32(&data)),
    ];
    for (name, legacy, want) in &expected {
        assert_eq!(c.expect(&format!("OPTS HASH {name}"), 200).text(), *name);
        let r = c.expect("HASH up.bin", 213);
        assert_eq!(hash_hex(&r), *want, "HASH with {name}");
        assert!(r.text().starts_with(&format!("{name} 0-300000 ")), "{r}");
        assert!(r.text().ends_with(" up.bin"), "{r}");
        assert_eq!(c.expect(&format!("{legacy} up.bin"), 250).text(), *want);
    }
    assert_eq!(c.expect("XSHA up.bin", 250).text(), expected[2].2);
    assert_eq!(c.expect("OPTS HASH", 200).text(), "CRC32");
    c.expect("OPTS HASH CRC-37", 501);
    assert_eq!(c.expect("OPTS HASH", 200).text(), "CRC32");
    c.expect("REIN", 220);
    c.login(USER, PASS);
    assert_eq!(c.expect("OPTS HASH", 200).text(), "SHA-256");
}

#[test]
fn a_range_hash_equals_the_hash_of_the_range() {
    let srv = Srv::start();
    let data = sample(5000);
    srv.write("f", &data);
    let mut c = srv.login();
    c.expect("RANG 10 99", 350);
    let r = c.expect("HASH f", 213);
    assert!(r.text().starts_with("SHA-256 10-99 "), "{r}");
    assert_eq!(hash_hex(&r), tool_digest("sha256sum", &data[10..=99]));
    // The range lasts one command.
    assert_eq!(
        hash_hex(&c.expect("HASH f", 213)),
        tool_digest("sha256sum", &data)
    );
    let md5 = c.expect("XMD5 f 100 4000", 250);
    assert_eq!(md5.text(), tool_digest("md5sum", &data[100..4000]));
    c.expect("RANG 0 5000", 350);
    c.expect("HASH f", 501);
    c.expect("XMD5 f 10 10", 501);
    c.expect("RANG 5 4", 501);
    c.expect("RANG 1 0", 350);
    c.expect("RANG 0 9", 350);
    c.expect("RETR f", 504);
}

#[test]
fn a_stored_digest_answers_until_the_file_changes_behind_the_servers_back() {
    let srv = Srv::start_with(|c| c.hash_all_uploads = true);
    let mut c = srv.login();
    let data = sample(70_000);
    c.expect("TYPE I", 200);
    assert_eq!(c.upload("STOR s.bin", &data).code().as_u16(), 226);
    let sum = tool_digest("sha256sum", &data);
    assert_eq!(hash_hex(&c.expect("HASH s.bin", 213)), sum);
    let file = std::fs::File::open(srv.path("s.bin")).unwrap();
    let mut value = [0u8; 128];
    match rustix::fs::fgetxattr(&file, "user.ftp.sha256", &mut value) {
        Ok(n) => {
            let v = String::from_utf8_lossy(&value[..n]).to_string();
            assert!(v.ends_with(&sum), "{v}");
            // The stored digest is what HASH answers: a forged one (same size and time) shows.
            let forged = v.replace(&sum, &"ab".repeat(32));
            rustix::fs::fsetxattr(
                &file,
                "user.ftp.sha256",
                forged.as_bytes(),
                rustix::fs::XattrFlags::empty(),
            )
            .unwrap();
            assert_eq!(hash_hex(&c.expect("HASH s.bin", 213)), "ab".repeat(32));
        }
        Err(e) => eprintln!("no user extended attributes here ({e}): stored digests not checked"),
    }
    // Written directly, not through the server: the stored digest no longer counts.
    let changed = sample(70_001);
    std::fs::write(srv.path("s.bin"), &changed).unwrap();
    assert_eq!(
        hash_hex(&c.expect("HASH s.bin", 213)),
        tool_digest("sha256sum", &changed)
    );
}

/// The `user.ftp.sha256` attribute of `path`: `Ok(None)` when it has none, `Err` when this
/// filesystem keeps no user extended attributes.
fn stored_digest(path: &std::path::Path) -> Result<Option<String>, rustix::io::Errno> {
    let file = std::fs::File::open(path).unwrap();
    let mut value = [0u8; 128];
    match rustix::fs::fgetxattr(&file, "user.ftp.sha256", &mut value) {
        Ok(n) => Ok(Some(String::from_utf8_lossy(&value[..n]).to_string())),
        Err(rustix::io::Errno::NODATA) => Ok(None),
        Err(e) => Err(e),
    }
}

#[test]
fn a_local_upload_is_hashed_by_the_first_hash_unless_hash_all_uploads_hashes_it_on_arrival() {
    // A `TYPE A` upload passes through a buffer like a TLS one: neither costs a digest on
    // the way unless asked to.
    let text = "a line of text\r\n".repeat(5000);
    let stored = text.replace("\r\n", "\n");
    let sum = tool_digest("sha256sum", stored.as_bytes());
    for hash_all in [false, true] {
        let srv = Srv::start_with(|c| c.hash_all_uploads = hash_all);
        let mut c = srv.login();
        c.expect("TYPE A", 200);
        assert_eq!(c.upload("STOR t.txt", text.as_bytes()).code().as_u16(), 226);
        assert_eq!(std::fs::read(srv.path("t.txt")).unwrap(), stored.as_bytes());
        let on_arrival = match stored_digest(&srv.path("t.txt")) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("no user extended attributes here ({e}): stored digests not checked");
                return;
            }
        };
        assert_eq!(on_arrival.is_some(), hash_all, "{on_arrival:?}");
        assert_eq!(hash_hex(&c.expect("HASH t.txt", 213)), sum);
        let kept = stored_digest(&srv.path("t.txt")).unwrap();
        assert!(
            kept.as_deref().is_some_and(|v| v.ends_with(&sum)),
            "{kept:?}"
        );
    }
}

#[test]
fn hash_of_a_directory_a_missing_file_or_outside_the_root_is_550() {
    let srv = Srv::start();
    std::fs::create_dir(srv.path("d")).unwrap();
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::symlink(outside.path(), srv.path("link")).unwrap();
    let mut c = srv.login();
    for cmd in [
        "HASH d",
        "HASH missing",
        "HASH ../../etc/passwd",
        "HASH link",
        "XSHA256 d",
        "XCRC missing",
    ] {
        c.expect(cmd, 550);
    }
}

#[test]
fn hashing_needs_login_and_the_read_permission() {
    let srv = Srv::start_with(|c| {
        let mut u = User::new("w", "pw", c.users[0].home.clone());
        u.permissions = Permissions {
            read: false,
            ..Permissions::ALL
        };
        c.users.push(u);
    });
    srv.write("f", b"x");
    let mut c = Ctl::connect(srv.addr);
    c.expect("HASH f", 530);
    c.expect("XMD5 f", 530);
    c.login("w", "pw");
    c.expect("HASH f", 550);
}

#[test]
fn a_long_hash_leaves_noop_stat_and_abor_answered() {
    let srv = Srv::start_with(|c| c.max_concurrent_hashes = 1);
    sparse(&srv.path("big"), 1 << 30);
    let mut c = srv.login();
    c.expect("OPTS HASH SHA-512", 200);
    c.send("HASH big");
    // Answered while the digest is computed (a GiB takes far longer than a round trip).
    c.expect("NOOP", 200);
    let stat = c.expect("STAT", 211);
    assert!(stat.text().contains("HASH"), "{stat}");
    // The one server-wide slot is taken.
    let mut other = srv.login();
    other.expect("HASH big", 450);
    c.expect("ABOR", 426);
    c.expect_reply(226);
    c.expect("NOOP", 200);
    // The slot is free again once the aborted digest's job is gone.
    srv.write("small", b"abc");
    eventually("the digest slot is released", || {
        other.cmd("HASH small").code().as_u16() == 213
    });
}

#[test]
fn hash_over_the_size_limit_is_refused_for_policy() {
    let srv = Srv::start_with(|c| c.max_hash_bytes = 10);
    srv.write("f", &sample(11));
    srv.write("g", &sample(10));
    let mut c = srv.login();
    c.expect("HASH f", 556);
    c.expect("XSHA1 f", 550);
    c.expect("HASH g", 213);
    c.expect("RANG 0 9", 350);
    c.expect("HASH f", 213);
}

fn copy_server() -> Srv {
    Srv::start_with(|c: &mut Config| {
        let home = c.users[0].home.clone();
        let mut ro = User::new("ro", "pw", home.clone());
        ro.permissions = Permissions::READ_ONLY;
        let mut wo = User::new("wo", "pw", home);
        wo.permissions = Permissions {
            read: false,
            ..Permissions::ALL
        };
        c.users.extend([ro, wo]);
    })
}

#[test]
fn site_copy_needs_login_first_unlike_cve_2015_3306() {
    let srv = copy_server();
    srv.write("secret", b"s");
    let mut c = Ctl::connect(srv.addr);
    c.expect("SITE CPFR secret", 530);
    c.expect("SITE CPTO stolen", 530);
    c.expect("SITE COPY secret stolen", 530);
    assert!(!srv.path("stolen").exists());
}

#[test]
fn cpfr_cpto_copies_a_file_and_cpto_must_follow_cpfr() {
    let srv = copy_server();
    srv.write("a/src.bin", &sample(100_000));
    let mut c = srv.login();
    c.expect("SITE CPTO x", 503);
    let r = c.expect("SITE CPFR a/src.bin", 350);
    assert_eq!(
        r.text(),
        "File or directory exists, ready for destination name"
    );
    assert_eq!(c.expect("SITE CPTO b.bin", 250).text(), "Copy successful");
    assert_eq!(srv.read("b.bin"), sample(100_000));
    c.expect("SITE CPFR a/src.bin", 350);
    c.expect("NOOP", 200);
    c.expect("SITE CPTO c.bin", 503);
    assert!(!srv.path("c.bin").exists());
    c.expect("SITE COPY a/src.bin \"with space.bin\"", 250);
    assert_eq!(srv.read("with space.bin"), sample(100_000));
    c.expect("SITE COPY a c", 550);
    c.expect("SITE CPFR a", 550);
    c.expect("SITE COPY onlyone", 501);
    assert_eq!(dir_names(srv.root.path()), ["a", "b.bin", "with space.bin"]);
}

#[test]
fn copies_outside_the_root_or_without_permission_are_550() {
    let srv = copy_server();
    srv.write("f", b"data");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("o"), b"outside").unwrap();
    std::os::unix::fs::symlink(outside.path(), srv.path("out")).unwrap();
    let mut c = srv.login();
    c.expect("SITE CPFR ../../../etc/passwd", 550);
    c.expect("SITE CPFR out/o", 550);
    c.expect("SITE COPY out/o here", 550);
    c.expect("SITE COPY f out/copied", 550);
    assert!(!outside.path().join("copied").exists());
    let mut ro = Ctl::connect(srv.addr);
    ro.login("ro", "pw");
    ro.expect("SITE CPFR f", 350);
    ro.expect("SITE CPTO g", 550);
    ro.expect("SITE COPY f g", 550);
    let mut wo = Ctl::connect(srv.addr);
    wo.login("wo", "pw");
    wo.expect("SITE CPFR f", 550);
    wo.expect("SITE COPY f g", 550);
    assert!(!srv.path("g").exists());
}

#[test]
fn a_copy_onto_an_existing_file_keeps_the_old_one_until_the_new_one_is_complete() {
    let srv = Srv::start();
    let new = sample(48 << 20);
    srv.write("new", &new);
    srv.write("dst", b"old contents");
    let mut c = srv.login();
    c.send("SITE COPY new dst");
    for _ in 0..200 {
        let now = srv.read("dst");
        if now == new {
            break;
        }
        assert_eq!(now, b"old contents", "a partial copy was visible");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(c.reply().code().as_u16(), 250);
    assert_eq!(srv.read("dst"), new);
    assert_eq!(dir_names(srv.root.path()), ["dst", "new"]);
}

#[test]
fn site_utime_in_both_spellings_and_site_chmod() {
    use std::os::unix::fs::PermissionsExt;
    let srv = Srv::start_with(|c| c.anonymous = Some(c.users[0].home.clone()));
    srv.write("a b", b"x");
    let mut c = srv.login();
    let mtime = |srv: &Srv| {
        let m = std::fs::metadata(srv.path("a b"))
            .unwrap()
            .modified()
            .unwrap();
        m.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    };
    c.expect("SITE UTIME 20200102030405 a b", 200);
    assert_eq!(mtime(&srv), 1_577_934_245);
    c.expect("SITE UTIME a b 202101020304", 200);
    assert_eq!(mtime(&srv), 1_609_556_640);
    c.expect(
        "SITE UTIME a b 20200101000000 20220102030405 20200101000000 UTC",
        200,
    );
    assert_eq!(mtime(&srv), 1_641_092_645);
    c.expect("SITE UTIME a b", 501);
    c.expect("SITE UTIME 20200102030405 missing", 550);
    c.expect("SITE CHMOD 640 a b", 200);
    let mode = std::fs::metadata(srv.path("a b"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o640);
    c.expect("SITE CHMOD 4755 a b", 550);
    c.expect("SITE CHMOD x a b", 501);
    c.expect("SITE CHMOD 644 ../outside", 550);
    let mut anon = Ctl::connect(srv.addr);
    anon.login("anonymous", "guest@");
    anon.expect("SITE CHMOD 777 a b", 550);
    let help = c.expect("SITE HELP", 214).to_string();
    for name in ["CHMOD", "COPY", "CPFR", "CPTO", "UTIME", "HELP"] {
        assert!(help.contains(name), "{help}");
    }
}
