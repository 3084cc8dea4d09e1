//! Command/reply behaviour over a real control connection (RFC 959 §5.4 sequences).

mod common;

use common::*;
use ftp_server::Permissions;

#[test]
fn greets_and_logs_in_and_out() {
    let srv = Srv::start();
    let mut c = Ctl::connect(srv.addr);
    assert_eq!(c.greeting.code().as_u16(), 220);
    c.expect("USER alice", 331);
    c.expect("PASS secret", 230);
    c.expect("ACCT x", 202);
    c.expect("QUIT", 221);
    assert!(c.closed());
}

#[test]
fn pass_without_user_is_bad_sequence() {
    let srv = Srv::start();
    let mut c = Ctl::connect(srv.addr);
    c.expect("PASS secret", 503);
    c.login(USER, PASS);
}

#[test]
fn commands_before_login_get_530_except_the_allowed_few() {
    let srv = Srv::start();
    let mut c = Ctl::connect(srv.addr);
    for cmd in [
        "PWD", "CWD /", "LIST", "RETR a", "STOR a", "PASV", "EPSV", "TYPE I", "MKD x", "SIZE a",
        "STAT /", "MLST", "ACCT a",
    ] {
        c.expect(cmd, 530);
    }
    c.expect("SYST", 215);
    c.expect("NOOP", 200);
    c.expect("FEAT", 211);
    c.expect("HELP", 214);
    c.expect("AUTH TLS", 502);
    c.expect("PBSZ 0", 503);
    c.expect("PROT P", 503);
}

#[test]
fn rein_logs_out_and_keeps_the_connection() {
    let srv = Srv::start();
    let mut c = srv.login();
    c.expect("CWD /", 250);
    c.expect("REIN", 220);
    c.expect("PWD", 530);
    c.login(USER, PASS);
    c.expect("PWD", 257);
}

#[test]
fn user_can_relogin_with_user_command() {
    let srv = Srv::start();
    let mut c = srv.login();
    c.login(USER, PASS);
    c.expect("NOOP", 200);
}

#[test]
fn syst_feat_and_opts() {
    let srv = Srv::start();
    let mut c = srv.login();
    assert_eq!(c.expect("SYST", 215).text(), "UNIX Type: L8");
    let feat = c.expect("FEAT", 211);
    let f = ftp_proto::feat::Features::from_reply(&feat);
    for name in [
        "EPRT", "EPSV", "MDTM", "MFMT", "MLST", "PASV", "SIZE", "TVFS", "UTF8", "HOST",
    ] {
        assert!(f.has(name), "FEAT lacks {name}");
    }
    assert_eq!(f.params("REST"), Some("STREAM"));
    c.expect("OPTS UTF8 ON", 200);
    c.expect("OPTS BOGUS 1", 501);
    let r = c.expect("OPTS MLST type;size;", 200);
    assert!(r.text().contains("type;size;"), "{r}");
}

#[test]
fn unknown_and_malformed_commands_get_5xx_and_session_goes_on() {
    let srv = Srv::start();
    let mut c = srv.login();
    c.expect("FOO bar", 500);
    c.expect("RETR", 501);
    c.expect("PORT 1,2,3", 501);
    c.expect("REST abc", 501);
    c.expect("TYPE X", 501);
    c.expect("TYPE E", 504);
    c.expect("MODE B", 504);
    c.expect("STRU R", 504);
    c.expect("MODE S", 200);
    c.expect("STRU F", 200);
    c.expect("EPRT |3|1.2.3.4|5000|", 522);
    c.expect("SMNT /x", 502);
    c.expect("SITE HELP", 214);
    c.expect("SITE CHMOD 777 x", 550);
    c.expect("SITE BOGUS", 500);
    c.expect("ALLO 100", 202);
    c.expect("ABOR", 225);
    c.expect("NOOP", 200);
}

#[test]
fn host_is_accepted_only_before_login() {
    let srv = Srv::start();
    let mut c = Ctl::connect(srv.addr);
    c.expect("HOST ftp.example.com", 220);
    c.login(USER, PASS);
    c.expect("HOST ftp.example.com", 503);
}

#[test]
fn pwd_cwd_cdup_show_virtual_paths() {
    let srv = Srv::start();
    std::fs::create_dir_all(srv.path("a/b")).unwrap();
    let mut c = srv.login();
    assert_eq!(c.expect("PWD", 257).quoted_path().unwrap(), b"/");
    c.expect("CWD a/b", 250);
    assert_eq!(c.expect("PWD", 257).quoted_path().unwrap(), b"/a/b");
    c.expect("CDUP", 250);
    assert_eq!(c.expect("PWD", 257).quoted_path().unwrap(), b"/a");
    c.expect("CWD nope", 550);
    c.expect("CWD /", 250);
    c.expect("CDUP", 250);
    assert_eq!(c.expect("PWD", 257).quoted_path().unwrap(), b"/");
}

#[test]
fn dotdot_absolute_and_repeated_slashes_stay_inside_root() {
    let srv = Srv::start();
    std::fs::create_dir_all(srv.path("a")).unwrap();
    srv.write("a/f.txt", b"in root");
    let mut c = srv.login();
    c.expect("CWD ../../../..", 250);
    assert_eq!(c.expect("PWD", 257).quoted_path().unwrap(), b"/");
    c.expect("CWD //a//", 250);
    assert_eq!(c.expect("PWD", 257).quoted_path().unwrap(), b"/a");
    let (data, r) = c.download("RETR ../../../a/./f.txt");
    assert_eq!((data.as_slice(), r.code().as_u16()), (&b"in root"[..], 226));
    c.expect("RETR /../../etc/passwd", 550);
    c.expect("SIZE ../../../../etc/passwd", 550);
}

#[test]
fn replies_never_reveal_the_real_root() {
    let srv = Srv::start();
    let real = srv.root.path().canonicalize().unwrap();
    let real = real.to_string_lossy().into_owned();
    let mut c = srv.login();
    let mut replies = Vec::new();
    for cmd in [
        "PWD",
        "MKD d",
        "CWD d",
        "PWD",
        "CWD /nope",
        "RETR nope",
        "STAT /",
        "MLST /",
        "MLST /d",
        "STAT",
        "RMD /d",
    ] {
        replies.push(c.cmd(cmd).to_string());
    }
    replies.push(c.text("LIST /"));
    replies.push(c.text("MLSD /"));
    for r in replies {
        assert!(!r.contains(&real), "reply reveals the real root: {r}");
    }
}

#[test]
fn symlinks_leading_outside_root_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"top secret").unwrap();
    let srv = Srv::start();
    std::os::unix::fs::symlink(outside.path(), srv.path("out")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), srv.path("s")).unwrap();
    srv.write("inside.txt", b"ok");
    std::os::unix::fs::symlink(srv.path("inside.txt"), srv.path("good")).unwrap();
    let mut c = srv.login();
    c.expect("CWD out", 550);
    c.expect("RETR s", 550);
    c.expect("RETR out/secret", 550);
    c.expect("SIZE s", 550);
    c.expect("MDTM s", 550);
    c.expect("MLST out", 550);
    c.expect("STAT out", 550);
    c.expect("LIST out", 550);
    c.expect("MKD out/x", 550);
    c.expect("STOR out/new", 550);
    c.expect("APPE s", 550);
    c.expect("RNFR out/secret", 550);
    c.expect("DELE out/secret", 550);
    c.expect("MFMT 20200101000000 s", 550);
    let list = c.text("NLST");
    assert!(
        !list.contains("out") && !list.lines().any(|l| l == "s"),
        "{list}"
    );
    assert!(list.contains("good"), "{list}");
    assert_eq!(c.download("RETR good").0, b"ok");
    assert_eq!(
        std::fs::read(outside.path().join("secret")).unwrap(),
        b"top secret"
    );
    assert_eq!(dir_names(outside.path()), ["secret"]);
}

#[test]
fn nul_in_path_is_refused() {
    let srv = Srv::start();
    let mut c = srv.login();
    c.send_raw(b"MKD a\0b\r\n");
    let r = c.reply();
    assert!(r.code().as_u16() >= 500, "{r}");
    assert!(dir_names(srv.root.path()).is_empty());
    c.expect("NOOP", 200);
}

#[test]
fn mkd_rmd_reply_257_with_rfc_quoting() {
    let srv = Srv::start();
    let mut c = srv.login();
    let r = c.expect("MKD say \"hi\"", 257);
    assert_eq!(r.quoted_path().unwrap(), b"/say \"hi\"");
    assert!(r.to_string().contains("\"/say \"\"hi\"\"\""), "{r}");
    assert!(srv.path("say \"hi\"").is_dir());
    c.expect("MKD say \"hi\"", 550);
    c.expect("RMD say \"hi\"", 250);
    c.expect("RMD say \"hi\"", 550);
    c.expect("RMD /", 550);
}

#[test]
fn rmd_of_non_empty_directory_fails() {
    let srv = Srv::start();
    srv.write("d/f", b"x");
    let mut c = srv.login();
    c.expect("RMD d", 550);
    assert!(srv.path("d/f").exists());
}

#[test]
fn dele_removes_files_only() {
    let srv = Srv::start();
    srv.write("f", b"x");
    std::fs::create_dir(srv.path("d")).unwrap();
    let mut c = srv.login();
    c.expect("DELE d", 550);
    c.expect("DELE f", 250);
    c.expect("DELE f", 550);
    assert!(!srv.path("f").exists() && srv.path("d").is_dir());
}

#[test]
fn rename_files_and_directories() {
    let srv = Srv::start();
    srv.write("a.txt", b"A");
    srv.write("dir/x", b"X");
    let mut c = srv.login();
    c.expect("RNFR a.txt", 350);
    c.expect("RNTO b.txt", 250);
    assert_eq!(srv.read("b.txt"), b"A");
    c.expect("RNFR dir", 350);
    c.expect("RNTO dir2", 250);
    assert_eq!(srv.read("dir2/x"), b"X");
    c.expect("RNTO c.txt", 503);
    c.expect("RNFR nope", 550);
    c.expect("RNFR b.txt", 350);
    c.expect("NOOP", 200);
    c.expect("RNTO c.txt", 503);
    c.expect("RNFR dir2", 350);
    c.expect("RNTO dir2/inside", 553);
}

#[test]
fn size_mdtm_mfmt() {
    let srv = Srv::start();
    srv.write("f", b"12345");
    std::fs::create_dir(srv.path("d")).unwrap();
    let mut c = srv.login();
    assert_eq!(c.expect("SIZE f", 213).text(), "5");
    c.expect("SIZE d", 550);
    c.expect("SIZE nope", 550);
    let r = c.expect("MFMT 20200102030405 f", 213);
    assert_eq!(r.text(), "Modify=20200102030405; /f");
    assert_eq!(c.expect("MDTM f", 213).text(), "20200102030405");
    c.expect("MDTM nope", 550);
    c.expect("MFMT 20200102030405 nope", 550);
    c.expect("MFMT 2020 f", 501);
}

/// Text with bare LFs, CR LFs, lone CRs and a CR LF split exactly at the 64 KiB chunk
/// boundary the server reads in, longer than one chunk.
fn mixed_line_ends() -> Vec<u8> {
    let mut f = b"\nstarts with a bare LF\r\nCRLF line\rlone CR\n\n\r\r\n".to_vec();
    while f.len() < 64 * 1024 - 1 {
        f.extend_from_slice(b"bare\n");
    }
    f.truncate(64 * 1024 - 1);
    f.extend_from_slice(b"\r\n"); // CR is the chunk's last byte, LF the next chunk's first
    for i in 0..20_000u32 {
        f.extend_from_slice(match i % 4 {
            0 => b"unix\n".as_slice(),
            1 => b"dos\r\n",
            2 => b"mac\r",
            _ => b"\n",
        });
    }
    f.extend_from_slice(b"ends with a lone CR\r");
    f
}

#[test]
fn size_in_type_a_counts_the_bytes_retr_sends() {
    let srv = Srv::start();
    let data = mixed_line_ends();
    srv.write("t.txt", &data);
    std::fs::create_dir(srv.path("d")).unwrap();
    let mut c = srv.login();
    c.expect("TYPE A", 200);
    let size: u64 = c.expect("SIZE t.txt", 213).text().parse().unwrap();
    let (sent, r) = c.download("RETR t.txt");
    assert_eq!(r.code().as_u16(), 226, "{r}");
    assert_eq!(size, sent.len() as u64);
    assert!(size > data.len() as u64, "bare LFs gain a CR in TYPE A");
    c.expect("SIZE d", 550);
    c.expect("SIZE nope", 550);
    c.expect("TYPE I", 200);
    let binary: u64 = c.expect("SIZE t.txt", 213).text().parse().unwrap();
    assert_eq!(binary, data.len() as u64);
}

#[test]
fn size_in_type_a_above_the_limit_is_550() {
    let srv = Srv::start_with(|c| c.ascii_size_limit = 10);
    srv.write("ten", b"a\nb\nc\nd\ne\n");
    srv.write("eleven", b"a\nb\nc\nd\ne\nf");
    let mut c = srv.login();
    c.expect("TYPE A", 200);
    // A file of exactly the limit is still counted.
    assert_eq!(c.expect("SIZE ten", 213).text(), "15");
    let r = c.expect("SIZE eleven", 550);
    assert_eq!(
        r.text(),
        "SIZE not available in ASCII mode for files over 10 bytes; use TYPE I."
    );
    c.expect("TYPE I", 200);
    assert_eq!(c.expect("SIZE eleven", 213).text(), "11");
}

#[test]
fn listing_a_directory_over_the_entry_limit_is_550() {
    let srv = Srv::start_with(|c| c.max_list_entries = 3);
    for name in ["a", "b", "c"] {
        srv.write(&format!("three/{name}"), b"x");
        srv.write(&format!("four/{name}"), b"x");
    }
    // Hidden entries count, though LIST leaves them out.
    srv.write("four/.hidden", b"x");
    let mut c = srv.login();
    for cmd in ["LIST four", "NLST four", "MLSD four", "LIST four/*"] {
        let _data = c.epsv();
        let r = c.expect(cmd, 550);
        assert_eq!(
            r.text(),
            "Directory too large to list (more than 3 entries).",
            "{cmd}"
        );
    }
    assert_eq!(c.text("NLST three"), "three/a\r\nthree/b\r\nthree/c\r\n");
}

#[test]
fn list_nlst_mlsd_mlst_and_stat_of_a_path() {
    let srv = Srv::start();
    srv.write("d/a.txt", b"hello");
    srv.write("d/.hidden", b"h");
    std::fs::create_dir(srv.path("d/sub")).unwrap();
    let mut c = srv.login();
    let list = c.text("LIST d");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[0].starts_with("-rw") && lines[0].ends_with(" a.txt"),
        "{list}"
    );
    assert!(
        lines[1].starts_with('d') && lines[1].ends_with(" sub"),
        "{list}"
    );
    assert!(list.ends_with("\r\n"));
    let all = c.text("LIST -la d");
    assert!(all.contains(".hidden"), "{all}");
    assert_eq!(c.text("NLST d"), "d/a.txt\r\nd/sub\r\n");
    assert_eq!(c.text("NLST /d/"), "/d/a.txt\r\n/d/sub\r\n");
    assert_eq!(c.text("NLST d/a.txt"), "d/a.txt\r\n");
    c.expect("CWD d", 250);
    assert_eq!(c.text("NLST"), "a.txt\r\nsub\r\n");
    c.expect("CWD /", 250);
    let one = c.text("LIST d/a.txt");
    assert!(
        one.trim_end().ends_with(" a.txt") && one.lines().count() == 1,
        "{one}"
    );
    let mlsd = c.text("MLSD d");
    assert!(
        mlsd.contains("type=file;size=5;") && mlsd.contains(" a.txt\r\n"),
        "{mlsd}"
    );
    assert!(
        mlsd.contains("type=dir;") && mlsd.contains(" sub\r\n"),
        "{mlsd}"
    );
    assert!(mlsd.contains(".hidden"), "MLSD shows every entry: {mlsd}");
    let r = c.expect("MLST d/a.txt", 250);
    assert_eq!(r.lines().len(), 3, "{r}");
    assert!(r.lines()[1].starts_with(b" type=file;size=5;"), "{r}");
    assert!(r.lines()[1].ends_with(b" /d/a.txt"), "{r}");
    c.expect("MLSD d/a.txt", 550);
    c.expect("LIST nope", 550);
    let st = c.expect("STAT d", 212);
    assert!(st.to_string().contains("a.txt"), "{st}");
    let st = c.expect("STAT d/a.txt", 213);
    assert!(st.to_string().contains("a.txt"), "{st}");
    c.expect("STAT nope", 550);
    let st = c.expect("STAT", 211);
    assert!(st.to_string().contains("alice"), "{st}");
}

#[test]
fn read_only_user_cannot_change_anything() {
    let srv = Srv::start_with(|c| c.users[0].permissions = Permissions::READ_ONLY);
    srv.write("f", b"x");
    std::fs::create_dir(srv.path("d")).unwrap();
    let mut c = srv.login();
    for cmd in [
        "STOR g",
        "APPE f",
        "STOU",
        "DELE f",
        "MKD e",
        "RMD d",
        "RNFR f",
        "MFMT 20200101000000 f",
    ] {
        c.expect(cmd, 550);
    }
    assert_eq!(c.download("RETR f").0, b"x");
    assert_eq!(dir_names(srv.root.path()), ["d", "f"]);
}

#[test]
fn anonymous_login_is_read_only_and_off_by_default() {
    let srv = Srv::start();
    let mut c = Ctl::connect(srv.addr);
    c.expect("USER anonymous", 331);
    c.expect("PASS me@example.com", 530);
    let anon_root = tempfile::tempdir().unwrap();
    std::fs::write(anon_root.path().join("pub.txt"), b"public").unwrap();
    let p = anon_root.path().to_path_buf();
    let srv = Srv::start_with(move |c| c.anonymous = Some(p));
    let mut c = Ctl::connect(srv.addr);
    c.login("anonymous", "me@example.com");
    assert_eq!(c.download("RETR pub.txt").0, b"public");
    c.expect("STOR x", 550);
    c.expect("MKD x", 550);
    c.expect("DELE pub.txt", 550);
}

#[test]
fn unknown_user_and_wrong_password_get_the_same_reply() {
    let srv = Srv::start_with(|c| c.max_login_failures = 10);
    let mut c = Ctl::connect(srv.addr);
    c.expect("USER nobody", 331);
    let a = c.expect("PASS secret", 530);
    c.expect("USER alice", 331);
    let b = c.expect("PASS wrong", 530);
    assert_eq!(a, b);
}

#[test]
fn too_many_login_failures_close_the_connection() {
    let srv = Srv::start_with(|c| c.max_login_failures = 2);
    let mut c = Ctl::connect(srv.addr);
    c.expect("USER alice", 331);
    c.expect("PASS x", 530);
    c.expect("USER alice", 331);
    c.expect("PASS y", 530);
    assert!(c.closed());
    // The server is still there for others.
    srv.login().expect("NOOP", 200);
}

#[test]
fn argon2_users_from_a_users_file_can_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let hash = ftp_server::auth::hash_password(b"pw").unwrap();
    let file = dir.path().join("users.toml");
    std::fs::write(
        &file,
        format!("[[user]]\nname = \"bob\"\npassword_hash = \"{hash}\"\nhome = \".\"\npermissions = [\"list\"]\n"),
    )
    .unwrap();
    let users = ftp_server::config::load_users_file(&file).unwrap();
    let srv = Srv::start_with(move |c| c.users = users);
    let mut c = Ctl::connect(srv.addr);
    c.login("bob", "pw");
    c.expect("RETR users.toml", 550);
    assert!(c.text("NLST").contains("users.toml"));
}

#[test]
fn names_with_line_breaks_are_left_out_of_listings() {
    let srv = Srv::start();
    srv.write("bad\nname", b"x");
    srv.write("good", b"y");
    let mut c = srv.login();
    assert_eq!(c.text("NLST"), "good\r\n");
    assert_eq!(c.text("LIST").lines().count(), 1);
    assert_eq!(c.text("MLSD").lines().count(), 1);
}

#[test]
fn list_and_nlst_expand_glob_patterns() {
    let srv = Srv::start();
    srv.write("d/a.txt", b"a");
    srv.write("d/b.txt", b"b");
    srv.write("d/c.bin", b"c");
    let mut c = srv.login();
    assert_eq!(c.text("NLST d/*.txt"), "d/a.txt\r\nd/b.txt\r\n");
    c.expect("CWD d", 250);
    assert_eq!(c.text("NLST *.bin"), "c.bin\r\n");
    assert_eq!(c.text("LIST ?.txt").lines().count(), 2);
    assert_eq!(c.text("NLST *.none"), "");
    c.expect("NLST none.txt", 550);
    c.expect("NLST nodir/*.txt", 550);
}
