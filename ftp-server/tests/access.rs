//! Access rules through the real server: per-user session caps, `allowed_ips` and
//! `require_tls`, groups and server-wide defaults inherited, mounts (listing, reading and
//! writing inside, confinement at the mount boundary, no rename across mounts), the modes of
//! new files, `deny_ips`/`allow_ips` at accept, and bans by score (they cross connections,
//! spare other addresses, expire and can be lifted).
//!
//! 127.0.0.3 and 127.0.0.4 play two other hosts: clients bind to them before connecting.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::num::NonZeroUsize;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ftp_server::access::{FileMode, IpNet, Rules};
use ftp_server::config::Mount;
use ftp_server::vpath::VPath;
use ftp_server::{Permissions, User};

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|n| n.parse().unwrap()).collect()
}

/// Sets alice's rules.
fn alice_rules(rules: Rules) -> impl FnOnce(&mut ftp_server::Config) {
    move |c| c.users[0].rules = rules
}

#[test]
fn a_user_over_its_max_sessions_is_refused_until_one_of_them_leaves() {
    let srv = Srv::start_with(|c| {
        c.users[0].rules.max_sessions = NonZeroUsize::new(2);
        // The refused logins below would count towards a ban of 127.0.0.1.
        c.bans.score = 0;
    });
    let a = srv.login();
    let mut b = srv.login();
    let mut c = Ctl::connect(srv.addr);
    c.expect(&format!("USER {USER}"), 331);
    let r = c.expect(&format!("PASS {PASS}"), 530);
    assert!(r.to_string().contains("Too many sessions"), "{r}");
    c.expect("PWD", 530);
    drop(a);
    // The slot is free once the server has seen the first session close.
    let mut d = None;
    eventually("a session slot of alice's is free", || {
        let mut again = Ctl::connect(srv.addr);
        again.expect(&format!("USER {USER}"), 331);
        let ok = again.cmd(&format!("PASS {PASS}")).code().as_u16() == 230;
        d = ok.then_some(again);
        ok
    });
    // REIN frees a slot at once.
    b.expect("REIN", 220);
    c.login(USER, PASS);
    d.unwrap().expect("NOOP", 200);
}

#[test]
fn allowed_ips_let_a_user_in_from_its_addresses_only() {
    let srv = Srv::start_with(alice_rules(Rules {
        allowed_ips: Some(nets(&["127.0.0.3/32"])),
        ..Rules::default()
    }));
    Ctl::connect_from("127.0.0.3", srv.addr).login(USER, PASS);
    let mut other = Ctl::connect_from("127.0.0.4", srv.addr);
    other.expect(&format!("USER {USER}"), 331);
    // Refused as a wrong password is, so the reply tells nothing about the password.
    let r = other.expect(&format!("PASS {PASS}"), 530);
    assert!(r.to_string().contains("Login incorrect"), "{r}");
}

/// A server whose alice requires TLS and whose bob does not.
fn tls_server() -> (Srv, Arc<rustls::ClientConfig>) {
    use ftp_server::tls::{ReloadableCert, SelfSigned, TlsConfig};
    let cert = SelfSigned::generate(&["localhost".into()]).unwrap();
    let tls = TlsConfig::new(ReloadableCert::fixed(cert.certified_key().unwrap()));
    let srv = Srv::start_with(|c| {
        c.tls = Some(tls);
        c.users[0].rules.require_tls = Some(true);
        let home = c.users[0].home.clone();
        c.users.push(User::new("bob", "pw", home));
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert_der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (srv, Arc::new(cfg))
}

/// Sends `line` over a TLS control connection and reads the reply's code.
fn tls_cmd(
    r: &mut BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
    line: &str,
) -> u16 {
    r.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .unwrap();
    let mut text = String::new();
    r.read_line(&mut text).unwrap();
    text[..3].parse().unwrap()
}

#[test]
fn require_tls_refuses_a_plain_text_login_and_admits_one_over_tls() {
    let (srv, cfg) = tls_server();
    let mut plain = Ctl::connect(srv.addr);
    plain.expect(&format!("USER {USER}"), 331);
    let r = plain.expect(&format!("PASS {PASS}"), 530);
    assert!(r.to_string().contains("TLS required"), "{r}");
    plain.login("bob", "pw");

    let mut c = Ctl::connect(srv.addr);
    c.expect("AUTH TLS", 234);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(cfg, name).unwrap();
    let mut tls = BufReader::new(rustls::StreamOwned::new(
        conn,
        c.stream.try_clone().unwrap(),
    ));
    assert_eq!(tls_cmd(&mut tls, &format!("USER {USER}")), 331);
    assert_eq!(tls_cmd(&mut tls, &format!("PASS {PASS}")), 230);
}

/// Writes a users file into `dir` and serves it, with `[user_defaults]` from `defaults`.
fn users_file_server(dir: &Path, users: &str, defaults: Rules) -> Srv {
    let file = dir.join("users.toml");
    std::fs::write(&file, users).unwrap();
    let loaded = ftp_server::config::load_users_file(&file).unwrap();
    Srv::start_with(move |c| {
        c.users = loaded;
        c.user_defaults = defaults;
    })
}

#[test]
fn users_inherit_from_their_groups_what_they_do_not_set_then_from_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("home")).unwrap();
    let users = r#"
        [[group]]
        name = "guests"
        max_sessions = 1
        allowed_ips = ["127.0.0.3"]
        permissions = ["list", "read"]

        [[group]]
        name = "later"
        max_sessions = 9
        permissions = ["all"]

        [[user]]
        name = "bob"
        password = "pw"
        home = "home"
        groups = ["guests", "later"]
        allowed_ips = ["127.0.0.0/8"]
    "#;
    let defaults = Rules {
        require_tls: Some(false),
        umask: Some(FileMode(0o077)),
        ..Rules::default()
    };
    let srv = users_file_server(dir.path(), users, defaults);
    // Its own allowed_ips win over the group's: 127.0.0.4 gets in.
    let mut c = Ctl::connect_from("127.0.0.4", srv.addr);
    c.login("bob", "pw");
    // The first group's permissions and max_sessions, not the second's.
    c.expect("MKD new", 550);
    let mut d = Ctl::connect(srv.addr);
    d.expect("USER bob", 331);
    d.expect("PASS pw", 530);
}

#[test]
fn the_server_wide_defaults_apply_to_users_that_set_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("home")).unwrap();
    let users =
        "[[user]]\nname = \"bob\"\npassword = \"pw\"\nhome = \"home\"\npermissions = [\"all\"]\n";
    let defaults = Rules {
        max_sessions: NonZeroUsize::new(1),
        dir_mode: Some(FileMode(0o700)),
        ..Rules::default()
    };
    let srv = users_file_server(dir.path(), users, defaults);
    let mut c = Ctl::connect(srv.addr);
    c.login("bob", "pw");
    c.expect("MKD private", 257);
    let mode = std::fs::metadata(dir.path().join("home/private"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let mut d = Ctl::connect(srv.addr);
    d.expect("USER bob", 331);
    d.expect("PASS pw", 530);
}

/// A server whose alice has `/shared` (list, read) and `/drop` (everything) mounted, with
/// `shared/doc.txt` and, beside the shared directory, a file no mount may reach.
struct Mounted {
    srv: Srv,
    shared: tempfile::TempDir,
    drop: tempfile::TempDir,
}

fn mounted() -> Mounted {
    let shared = tempfile::tempdir().unwrap();
    let drop = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("doc.txt"), b"shared words").unwrap();
    let (s, d) = (shared.path().to_path_buf(), drop.path().to_path_buf());
    let mount = |path: &str, target, permissions| Mount {
        path: VPath::root().resolve(path.as_bytes()).unwrap(),
        target,
        permissions,
    };
    let srv = Srv::start_with(move |c| {
        c.users[0].mounts = vec![
            mount("/shared", s, Permissions::READ_ONLY),
            mount("/drop", d, Permissions::ALL),
        ];
    });
    srv.write("home.txt", b"home words");
    Mounted { srv, shared, drop }
}

#[test]
fn mounts_are_listed_read_and_written_with_their_own_permissions() {
    let m = mounted();
    let mut c = m.srv.login();
    let names = c.text("NLST");
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["drop", "home.txt", "shared"]);
    let list = c.text("LIST /");
    assert!(list
        .lines()
        .any(|l| l.starts_with('d') && l.trim_end().ends_with(" shared")));
    assert_eq!(c.text("NLST /shared"), "/shared/doc.txt\r\n");
    c.expect("CWD /shared", 250);
    assert_eq!(c.download("RETR doc.txt").0, b"shared words");
    c.expect("SIZE /shared/doc.txt", 213);
    // Read-only there: no upload, no directory, no delete.
    c.expect("STOR up.bin", 550);
    c.expect("MKD sub", 550);
    c.expect("DELE doc.txt", 550);
    // Everything in /drop.
    assert_eq!(
        c.upload("STOR /drop/up.bin", b"dropped").code().as_u16(),
        226
    );
    assert_eq!(
        std::fs::read(m.drop.path().join("up.bin")).unwrap(),
        b"dropped"
    );
    c.expect("MKD /drop/sub", 257);
    assert!(m.drop.path().join("sub").is_dir());
    c.expect("RNFR /drop/up.bin", 350);
    c.expect("RNTO /drop/sub/moved.bin", 250);
    assert!(m.drop.path().join("sub/moved.bin").is_file());
    // The mount points themselves stay.
    c.expect("RMD /drop", 550);
    c.expect("RNFR /drop", 350);
    c.expect("RNTO /gone", 550);
    c.expect("CWD /drop", 250);
    // Nothing written into the home by any of it.
    assert_eq!(dir_names(m.srv.root.path()), ["home.txt"]);
    assert_eq!(dir_names(m.shared.path()), ["doc.txt"]);
}

#[test]
fn a_mount_is_confined_to_its_target_like_a_home() {
    let m = mounted();
    // Beside the shared directory, and a symlink inside it leading there.
    let outside = m.shared.path().parent().unwrap().join(format!(
        "outside-{}",
        m.shared.path().file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&outside, b"not for ftp").unwrap();
    std::os::unix::fs::symlink(&outside, m.shared.path().join("link")).unwrap();
    std::os::unix::fs::symlink("..", m.shared.path().join("up")).unwrap();
    let mut c = m.srv.login();
    c.expect("CWD /shared", 250);
    // `..` at the mount point is the home, never the target's parent.
    c.expect("CWD ..", 250);
    assert_eq!(
        c.expect("PWD", 257).to_string(),
        "257 \"/\" is the current directory"
    );
    c.expect("CWD /shared", 250);
    assert_eq!(c.download("RETR ../home.txt").0, b"home words");
    let name = outside.file_name().unwrap().to_string_lossy().into_owned();
    c.expect(&format!("RETR ../../{name}"), 550);
    c.expect("RETR link", 550);
    c.expect(&format!("RETR up/{name}"), 550);
    c.expect("CWD up", 550);
    c.expect(&format!("SIZE /shared/../{name}"), 550);
    std::fs::remove_file(&outside).unwrap();
}

#[test]
fn a_rename_across_mounts_is_refused_with_553() {
    let m = mounted();
    let mut c = m.srv.login();
    assert_eq!(c.upload("STOR /drop/f", b"x").code().as_u16(), 226);
    for to in ["/f", "/shared/f"] {
        c.expect("RNFR /drop/f", 350);
        let r = c.expect(&format!("RNTO {to}"), 553);
        assert!(r.to_string().contains("across mounts"), "{r}");
    }
    m.srv.write("h", b"home");
    c.expect("RNFR /h", 350);
    c.expect("RNTO /drop/h", 553);
    assert!(m.drop.path().join("f").is_file() && m.srv.path("h").is_file());
}

#[test]
fn uploads_and_new_directories_get_the_configured_modes_whatever_the_process_umask() {
    let srv = Srv::start_with(alice_rules(Rules {
        umask: Some(FileMode(0o027)),
        file_mode: Some(FileMode(0o660)),
        ..Rules::default()
    }));
    let mut c = srv.login();
    let mode = |rel: &str| {
        std::fs::metadata(srv.path(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(c.upload("STOR f", b"data").code().as_u16(), 226);
    assert_eq!(mode("f"), 0o640);
    assert_eq!(c.upload("APPE g", b"data").code().as_u16(), 226);
    assert_eq!(mode("g"), 0o640);
    c.expect("MKD d", 257);
    assert_eq!(mode("d"), 0o750);
    // An existing file appended to keeps its mode.
    std::fs::set_permissions(srv.path("g"), std::fs::Permissions::from_mode(0o604)).unwrap();
    assert_eq!(c.upload("APPE g", b"more").code().as_u16(), 226);
    assert_eq!(mode("g"), 0o604);
}

#[test]
fn denied_and_unlisted_addresses_are_closed_before_the_greeting() {
    let srv = Srv::start_with(|c| {
        c.allow_ips = nets(&["127.0.0.0/8"]);
        c.deny_ips = nets(&["127.0.0.3"]);
    });
    assert!(closed_before_greeting("127.0.0.3", srv.addr));
    Ctl::connect_from("127.0.0.4", srv.addr).login(USER, PASS);
    let only = Srv::start_with(|c| c.allow_ips = nets(&["127.0.0.4/32"]));
    assert!(closed_before_greeting("127.0.0.3", only.addr));
    assert!(closed_before_greeting("127.0.0.1", only.addr));
    Ctl::connect_from("127.0.0.4", only.addr).login(USER, PASS);
}

/// Guesses alice's password from `from_ip`, one connection after another, until the
/// server closes a new connection before its greeting (bounded); returns the guesses made.
fn guess_until_banned(srv: &Srv, from_ip: &str) -> usize {
    let mut guesses = 0;
    for _ in 0..20 {
        if closed_before_greeting(from_ip, srv.addr) {
            return guesses;
        }
        let mut c = Ctl::connect_from(from_ip, srv.addr);
        for i in 0..3 {
            c.send(&format!("USER {USER}"));
            match c.try_reply().map(|r| r.code().as_u16()) {
                Some(331) => {}
                _ => break,
            }
            c.send(&format!("PASS guess{i}"));
            match c.try_reply().map(|r| r.code().as_u16()) {
                Some(530) => guesses += 1,
                other => panic!("guess answered {other:?}"),
            }
        }
    }
    panic!("not banned after {guesses} guesses");
}

/// A server that bans after 5 wrong passwords within a minute, for `ban`.
fn banning(ban: Duration) -> Srv {
    Srv::start_with(move |c| {
        c.max_login_failures = 3;
        c.bans.score = 5;
        c.bans.window = Duration::from_secs(60);
        c.bans.duration = ban;
    })
}

#[test]
fn password_guessing_bans_the_address_across_connections_while_others_keep_working() {
    let srv = banning(Duration::from_secs(600));
    assert_eq!(guess_until_banned(&srv, "127.0.0.3"), 5);
    // The right password does not help now, and the ban is listed.
    assert!(closed_before_greeting("127.0.0.3", srv.addr));
    let bans = srv.access.bans();
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].ip.to_string(), "127.0.0.3");
    assert!(bans[0].remaining > Duration::from_secs(500));
    Ctl::connect_from("127.0.0.4", srv.addr).login(USER, PASS);
    // Lifted, the address is served at once.
    assert!(srv.access.lift("127.0.0.3".parse().unwrap()));
    Ctl::connect_from("127.0.0.3", srv.addr).login(USER, PASS);
}

#[test]
fn a_ban_expires_and_a_second_one_lasts_longer() {
    let ban = Duration::from_secs(1);
    let srv = banning(ban);
    guess_until_banned(&srv, "127.0.0.3");
    eventually("the ban expired", || {
        !closed_before_greeting("127.0.0.3", srv.addr)
    });
    Ctl::connect_from("127.0.0.3", srv.addr).login(USER, PASS);
    guess_until_banned(&srv, "127.0.0.3");
    let second = srv.access.bans()[0].remaining;
    assert!(second > ban, "second ban {second:?}");
    assert_eq!(srv.access.bans()[0].count, 2);
}

#[test]
fn bounce_attempts_count_towards_a_ban() {
    let srv = Srv::start_with(|c| c.bans.score = 15);
    let mut c = Ctl::connect_from("127.0.0.3", srv.addr);
    c.login(USER, PASS);
    for _ in 0..3 {
        c.expect("PORT 127,0,0,2,200,10", 504);
    }
    assert!(closed_before_greeting("127.0.0.3", srv.addr));
    // The session that was banned may finish; others from elsewhere go on.
    c.expect("NOOP", 200);
    srv.login().expect("NOOP", 200);
}
