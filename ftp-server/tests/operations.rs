//! Operations: the admin HTTP listener's metrics, health and readiness, the bearer-token
//! admin API (sessions, kick, drain, config, reload), the xferlog, and that misbehaving
//! admin clients leave FTP sessions alone.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ftp_server::config::load_users_file;
use ftp_server::reload::{ConfigLoader, ReloadError};
use ftp_server::{Config, User};

const TOKEN: &str = "s3cret-admin-token";

/// A server with the admin listener on a loopback port and the token file `TOKEN`.
fn start(configure: impl FnOnce(&mut Config)) -> (Srv, tempfile::TempDir) {
    let etc = tempfile::tempdir().unwrap();
    std::fs::write(etc.path().join("token"), format!("{TOKEN}\n")).unwrap();
    let token = etc.path().join("token");
    let srv = Srv::start_with(|c| {
        c.admin_listen = Some("127.0.0.1:0".parse().unwrap());
        c.admin_token_file = Some(token);
        configure(c);
    });
    (srv, etc)
}

fn api(srv: &Srv, method: &str, path: &str) -> (u16, serde_json::Value) {
    let (status, body) = http(srv.admin.unwrap(), method, path, Some(TOKEN));
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (status, v)
}

/// The value of the sample `name` (with its labels) in the metrics text, 0 when absent.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

fn metrics(srv: &Srv) -> String {
    let (status, text) = http(srv.admin.unwrap(), "GET", "/metrics", None);
    assert_eq!(status, 200);
    text
}

#[test]
fn metrics_move_with_logins_a_download_an_upload_and_an_abor() {
    let (srv, _etc) = start(|_| {});
    srv.write("f.bin", &[7u8; 10_000]);
    sparse(&srv.path("big.bin"), 1 << 30);
    let before = metrics(&srv);
    assert_eq!(metric(&before, "ftp_sessions_active"), 0.0);
    let mut c = Ctl::connect(srv.addr);
    c.expect(&format!("USER {USER}"), 331);
    c.expect("PASS wrong", 530);
    c.login(USER, PASS);
    let (got, r) = c.download("RETR f.bin");
    assert_eq!((got.len(), r.code().as_u16()), (10_000, 226));
    assert_eq!(c.upload("STOR up.bin", &[1u8; 5000]).code().as_u16(), 226);
    // A download that cannot finish (the client does not read), aborted.
    let d = c.epsv();
    c.expect("RETR big.bin", 150);
    c.send("ABOR");
    let replies = [c.reply().code().as_u16(), c.reply().code().as_u16()];
    assert_eq!(replies, [426, 226]);
    drop(d);
    let m = metrics(&srv);
    for (name, want) in [
        ("ftp_sessions_active", 1.0),
        ("ftp_sessions_total", 1.0),
        ("ftp_logins_total{result=\"ok\"}", 1.0),
        ("ftp_logins_total{result=\"failed\"}", 1.0),
        (
            "ftp_transfers_total{direction=\"download\",result=\"ok\"}",
            1.0,
        ),
        (
            "ftp_transfers_total{direction=\"upload\",result=\"ok\"}",
            1.0,
        ),
        (
            "ftp_transfers_total{direction=\"download\",result=\"aborted\"}",
            1.0,
        ),
        ("ftp_transfer_bytes_total{direction=\"upload\"}", 5000.0),
        ("ftp_commands_total{verb=\"RETR\"}", 2.0),
        ("ftp_commands_total{verb=\"ABOR\"}", 1.0),
        ("ftp_passive_ports_in_use", 0.0),
    ] {
        assert_eq!(metric(&m, name), want, "{name} in\n{m}");
    }
    assert!(metric(&m, "ftp_transfer_bytes_total{direction=\"download\"}") >= 10_000.0);
    let opened = "ftp_storage_operation_seconds_count{backend=\"fs\",operation=\"open_write\"}";
    assert_eq!(metric(&m, opened), 1.0, "{m}");
    c.send("FOO bar");
    c.expect_reply(500);
    c.expect("QUIT", 221);
    assert!(c.closed());
    eventually("the session counts as closed", || {
        let m = metrics(&srv);
        metric(&m, "ftp_sessions_active") == 0.0
            && metric(&m, "ftp_commands_total{verb=\"other\"}") == 1.0
    });
}

#[test]
fn health_and_metrics_need_no_token_but_the_api_does() {
    let (srv, _etc) = start(|_| {});
    let admin = srv.admin.unwrap();
    assert_eq!(http(admin, "GET", "/healthz", None).0, 200);
    assert_eq!(http(admin, "GET", "/readyz", None).0, 200);
    assert_eq!(http(admin, "GET", "/metrics", None).0, 200);
    for (method, path) in [
        ("GET", "/api/v1/sessions"),
        ("DELETE", "/api/v1/sessions/1"),
        ("POST", "/api/v1/drain"),
        ("GET", "/api/v1/config"),
        ("POST", "/api/v1/reload"),
    ] {
        assert_eq!(http(admin, method, path, None).0, 401, "{method} {path}");
        assert_eq!(http(admin, method, path, Some("wrong")).0, 401);
        assert_eq!(http(admin, method, path, Some("s3cret-admin-toke")).0, 401);
    }
    assert_eq!(http(admin, "GET", "/api/v1/sessions", Some(TOKEN)).0, 200);
    assert_eq!(http(admin, "GET", "/api/v1/nothing", Some(TOKEN)).0, 404);
    assert_eq!(http(admin, "PUT", "/api/v1/sessions", Some(TOKEN)).0, 405);
    // Without a token file the API is off.
    let srv = Srv::start_with(|c| c.admin_listen = Some("127.0.0.1:0".parse().unwrap()));
    let admin = srv.admin.unwrap();
    assert_eq!(http(admin, "GET", "/api/v1/sessions", Some(TOKEN)).0, 403);
    assert_eq!(http(admin, "GET", "/metrics", None).0, 200);
}

#[test]
fn the_config_endpoint_redacts_passwords_and_the_token() {
    let (srv, _etc) = start(|_| {});
    let (status, v) = api(&srv, "GET", "/api/v1/config");
    assert_eq!(status, 200);
    let text = v.to_string();
    assert!(!text.contains(PASS) && !text.contains(TOKEN), "{text}");
    assert_eq!(v["users"][0]["name"], USER);
    assert_eq!(v["users"][0]["password"], "<redacted>");
}

/// The session of the admin API's list whose peer is `peer`.
fn listed(srv: &Srv, peer: SocketAddr) -> Option<serde_json::Value> {
    let (status, v) = api(srv, "GET", "/api/v1/sessions");
    assert_eq!(status, 200);
    v.as_array()
        .unwrap()
        .iter()
        .find(|s| s["peer"] == peer.to_string())
        .cloned()
}

#[test]
fn the_admin_api_lists_a_session_and_kicks_it_during_an_upload_that_stays_invisible() {
    let (srv, _etc) = start(|_| {});
    let mut c = srv.login();
    c.expect("CWD /", 250);
    let peer = c.stream.local_addr().unwrap();
    let mut d = c.epsv();
    c.expect("STOR partial.bin", 150);
    d.write_all(&[9u8; 100_000]).unwrap();
    let mut s = None;
    eventually("the upload shows its bytes", || {
        s = listed(&srv, peer);
        s.as_ref()
            .is_some_and(|s| s["transfer"]["bytes"] == 100_000)
    });
    let s = s.unwrap();
    assert_eq!(s["user"], USER);
    assert_eq!(s["local"], srv.addr.to_string());
    assert_eq!(
        (s["cwd"].clone(), s["tls"].clone()),
        ("/".into(), false.into())
    );
    assert_eq!(s["transfer"]["verb"], "STOR");
    assert_eq!(s["transfer"]["path"], "/partial.bin");
    let id = s["id"].as_u64().unwrap();
    let (status, _) = api(&srv, "DELETE", &format!("/api/v1/sessions/{id}"));
    assert_eq!(status, 200);
    // A closed connection without the reply is as good as 421 for a kicked client.
    if let Some(r) = c.try_reply() {
        assert_eq!(r.code().as_u16(), 421, "{r}");
    }
    assert!(c.closed());
    eventually("the session is gone", || listed(&srv, peer).is_none());
    assert!(!srv.path("partial.bin").exists());
    assert_eq!(dir_names(srv.root.path()), Vec::<String>::new());
    assert_eq!(
        api(&srv, "DELETE", &format!("/api/v1/sessions/{id}")).0,
        404
    );
    assert_eq!(api(&srv, "DELETE", "/api/v1/sessions/x").0, 404);
}

#[test]
fn drain_lets_a_running_download_finish_while_new_connections_are_refused() {
    const SIZE: u64 = 100 << 20;
    let (srv, _etc) = start(|c| c.shutdown_grace = Duration::from_secs(60));
    sparse(&srv.path("big.bin"), SIZE);
    let mut idle = srv.login();
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    c.expect("RETR big.bin", 150);
    let mut buf = vec![0u8; 1 << 16];
    let mut got = d.read(&mut buf).unwrap() as u64;
    let (status, v) = api(&srv, "POST", "/api/v1/drain");
    assert_eq!((status, v["draining"].clone()), (202, true.into()));
    let admin = srv.admin.unwrap();
    assert_eq!(http(admin, "GET", "/readyz", None).0, 503);
    assert_eq!(http(admin, "GET", "/healthz", None).0, 200);
    let mut late = Ctl::connect(srv.addr);
    assert_eq!(late.greeting.code().as_u16(), 421);
    assert!(late.closed());
    // The idle session is told and closed; the running download goes on to its end.
    idle.expect_reply(421);
    loop {
        match d.read(&mut buf).unwrap() {
            0 => break,
            n => got += n as u64,
        }
    }
    assert_eq!(got, SIZE);
    c.expect_reply(226);
    c.expect_reply(421);
    let m = metrics(&srv);
    assert_eq!(
        metric(&m, "ftp_sessions_rejected_total{reason=\"draining\"}"),
        1.0
    );
}

/// A loader that reads the users from `users_file` (as the daemon reads its files).
fn users_loader(users_file: &Path, base: Config) -> ConfigLoader {
    let f = users_file.to_path_buf();
    Arc::new(move || {
        let users = load_users_file(&f).map_err(|e| ReloadError::Invalid(e.to_string()))?;
        Ok(Config {
            users,
            listen: vec!["127.0.0.2:0".parse().unwrap()],
            admin_listen: Some("127.0.0.2:0".parse().unwrap()),
            ..base.clone()
        })
    })
}

#[test]
fn a_broken_users_file_on_reload_keeps_the_old_users_and_names_the_line() {
    let etc = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let users_file = etc.path().join("users.toml");
    let entry = |name: &str| {
        format!(
            "[[user]]\nname = \"{name}\"\npassword = \"pw\"\nhome = \"{}\"\n",
            home.path().display()
        )
    };
    std::fs::write(&users_file, entry("bob")).unwrap();
    std::fs::write(etc.path().join("token"), TOKEN).unwrap();
    let mut base = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        login_failure_delay: Duration::from_millis(10),
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_token_file: Some(etc.path().join("token")),
        ..Config::default()
    };
    base.users = vec![User::new("bob", "pw", home.path())];
    let loader = users_loader(&users_file, base.clone());
    let srv = Srv::start_server(|c| *c = base.clone(), |s| s.with_config_loader(loader));
    std::fs::write(&users_file, entry("carol") + "name = \"x\"\n").unwrap();
    let (status, v) = api(&srv, "POST", "/api/v1/reload");
    assert_eq!(status, 422, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("users.toml:5"), "{error}");
    let mut c = Ctl::connect(srv.addr);
    c.login("bob", "pw");
    // A good file goes in whole; a listen address needs a restart.
    std::fs::write(&users_file, entry("carol")).unwrap();
    let (status, v) = api(&srv, "POST", "/api/v1/reload");
    assert_eq!((status, v["users"].clone()), (200, 1.into()), "{v}");
    assert_eq!(
        v["needs_restart"],
        serde_json::json!(["listen", "admin_listen"])
    );
    let mut c = Ctl::connect(srv.addr);
    c.login("carol", "pw");
    let mut c = Ctl::connect(srv.addr);
    c.expect("USER bob", 331);
    c.expect("PASS pw", 530);
}

#[test]
fn the_xferlog_line_has_the_classic_field_layout() {
    let etc = tempfile::tempdir().unwrap();
    let log = etc.path().join("xferlog");
    let (srv, _etc) = start(|c| c.xferlog = Some(log.clone()));
    srv.write("dir/a b.txt", b"hello\n");
    let mut c = srv.login();
    c.expect("TYPE A", 200);
    assert_eq!(c.download("RETR dir/a b.txt").1.code().as_u16(), 226);
    c.expect("TYPE I", 200);
    assert_eq!(c.upload("STOR up.bin", &[0u8; 1234]).code().as_u16(), 226);
    c.expect("QUIT", 221);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    for f in &lines {
        // ctime: weekday, month, day (space-padded), time, year; then 13 fields.
        let fields: Vec<&str> = f.iter().copied().filter(|w| !w.is_empty()).collect();
        assert_eq!(fields.len(), 18, "{f:?}");
        assert_eq!(fields[0].len(), 3);
        assert_eq!(fields[3].len(), 8);
        assert!(fields[4].parse::<u32>().unwrap() >= 2024);
        assert!(fields[5].parse::<u64>().is_ok());
        assert_eq!(fields[6], "127.0.0.1");
        assert_eq!(
            &fields[10..],
            ["_", fields[11], "r", USER, "ftp", "0", "*", "c"]
        );
    }
    let (down, up): (Vec<&str>, Vec<&str>) = (
        lines[0].iter().copied().filter(|w| !w.is_empty()).collect(),
        lines[1].iter().copied().filter(|w| !w.is_empty()).collect(),
    );
    assert_eq!(&down[7..12], ["6", "/dir/a_b.txt", "a", "_", "o"]);
    assert_eq!(&up[7..12], ["1234", "/up.bin", "b", "_", "i"]);
}

#[test]
fn oversized_or_slow_admin_requests_do_not_affect_ftp_sessions() {
    let (srv, _etc) = start(|_| {});
    srv.write("f.bin", &[3u8; 50_000]);
    let admin = srv.admin.unwrap();
    // Slow clients: half a request line each, never finished; more than the admin listener
    // takes at once.
    let slow: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(admin).unwrap();
            s.write_all(b"GET /metr").unwrap();
            s
        })
        .collect();
    // An oversized request: headers far over the limit.
    let mut big = TcpStream::connect(admin).unwrap();
    big.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..2000 {
        req.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "y".repeat(100)).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let _ = big.write_all(&req);
    let mut resp = Vec::new();
    let _ = big.read_to_end(&mut resp);
    let status = String::from_utf8_lossy(&resp);
    assert!(
        status.is_empty() || status.starts_with("HTTP/1.1 431"),
        "{status}"
    );
    // FTP goes on as usual meanwhile.
    for _ in 0..3 {
        let mut c = srv.login();
        c.expect("NOOP", 200);
        let (got, r) = c.download("RETR f.bin");
        assert_eq!((got.len(), r.code().as_u16()), (50_000, 226));
        c.expect("QUIT", 221);
    }
    drop(slow);
    eventually("the admin listener answers again", || {
        std::thread::sleep(Duration::from_millis(20));
        http(admin, "GET", "/healthz", None).0 == 200
    });
}

#[test]
fn the_admin_api_lists_bans_and_lifts_one() {
    let (srv, _etc) = start(|c| c.bans.score = 5);
    assert_eq!(
        api(&srv, "GET", "/api/v1/bans"),
        (200, serde_json::json!([]))
    );
    // One bounce attempt (a score of 5) bans 127.0.0.3.
    let mut c = Ctl::connect_from("127.0.0.3", srv.addr);
    c.login(USER, PASS);
    c.expect("PORT 127,0,0,2,200,10", 504);
    assert!(closed_before_greeting("127.0.0.3", srv.addr));
    let (status, list) = api(&srv, "GET", "/api/v1/bans");
    assert_eq!(status, 200);
    assert_eq!(list[0]["ip"], "127.0.0.3");
    assert_eq!(list[0]["count"], 1);
    assert!(
        list[0]["remaining_seconds"].as_f64().unwrap() > 60.0,
        "{list}"
    );
    assert_eq!(api(&srv, "DELETE", "/api/v1/bans/127.0.0.4").0, 404);
    assert_eq!(api(&srv, "DELETE", "/api/v1/bans/nonsense").0, 400);
    let (status, body) = api(&srv, "DELETE", "/api/v1/bans/127.0.0.3");
    assert_eq!(
        (status, &body["lifted"]),
        (200, &serde_json::json!("127.0.0.3"))
    );
    Ctl::connect_from("127.0.0.3", srv.addr).login(USER, PASS);
    assert_eq!(api(&srv, "GET", "/api/v1/bans").1, serde_json::json!([]));
}

#[test]
fn a_reload_applies_new_address_rules_at_once_and_keeps_the_bans() {
    let etc = tempfile::tempdir().unwrap();
    std::fs::write(etc.path().join("token"), TOKEN).unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut base = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_token_file: Some(etc.path().join("token")),
        ..Config::default()
    };
    base.users = vec![User::new(USER, PASS, home.path())];
    base.bans.score = 5;
    // What the "file" says now: the loader reads it at each reload.
    let deny = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (from_file, loaded) = (deny.clone(), base.clone());
    let loader: ConfigLoader = Arc::new(move || {
        Ok(Config {
            deny_ips: from_file.lock().unwrap().clone(),
            ..loaded.clone()
        })
    });
    let srv = Srv::start_server(|c| *c = base.clone(), |s| s.with_config_loader(loader));
    let mut c = Ctl::connect_from("127.0.0.3", srv.addr);
    c.login(USER, PASS);
    c.expect("PORT 127,0,0,2,200,10", 504);
    assert!(closed_before_greeting("127.0.0.3", srv.addr));
    Ctl::connect_from("127.0.0.4", srv.addr).login(USER, PASS);

    *deny.lock().unwrap() = vec!["127.0.0.4".parse().unwrap()];
    assert_eq!(api(&srv, "POST", "/api/v1/reload").0, 200);
    assert!(closed_before_greeting("127.0.0.4", srv.addr));
    assert!(closed_before_greeting("127.0.0.3", srv.addr));
    assert_eq!(api(&srv, "GET", "/api/v1/bans").1[0]["ip"], "127.0.0.3");
    assert_eq!(
        api(&srv, "GET", "/api/v1/config").1["deny_ips"][0],
        "127.0.0.4/32"
    );
    srv.login().expect("NOOP", 200);
}

#[test]
fn a_reload_changes_new_sessions_while_open_ones_keep_their_settings() {
    let etc = tempfile::tempdir().unwrap();
    std::fs::write(etc.path().join("token"), TOKEN).unwrap();
    let home = tempfile::tempdir().unwrap();
    let base = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        users: vec![User::new(USER, PASS, home.path())],
        login_failure_delay: Duration::from_millis(10),
        max_login_failures: 3,
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_token_file: Some(etc.path().join("token")),
        ..Config::default()
    };
    let next = Config {
        greeting: "Reloaded.".to_string(),
        max_login_failures: 1,
        ..base.clone()
    };
    let loader: ConfigLoader = Arc::new(move || Ok(next.clone()));
    let srv = Srv::start_server(|c| *c = base.clone(), |s| s.with_config_loader(loader));
    let mut old = Ctl::connect(srv.addr);
    let (status, v) = api(&srv, "POST", "/api/v1/reload");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["needs_restart"], serde_json::json!([]));
    let mut new = Ctl::connect(srv.addr);
    assert_eq!(new.greeting.lines()[0], b"Reloaded.");
    assert_ne!(old.greeting.lines()[0], b"Reloaded.");
    // The open session still allows three failures; the new one closes after one.
    for _ in 0..2 {
        old.expect(&format!("USER {USER}"), 331);
        old.expect("PASS wrong", 530);
    }
    old.expect("NOOP", 200);
    new.expect(&format!("USER {USER}"), 331);
    new.expect("PASS wrong", 530);
    assert!(new.closed());
}

#[test]
fn readiness_follows_the_storage_and_refusals_are_counted_by_reason() {
    let (srv, _etc) = start(|c| c.max_sessions_per_ip = 1);
    let admin = srv.admin.unwrap();
    assert_eq!(http(admin, "GET", "/readyz", None).0, 200);
    std::fs::remove_dir(srv.root.path()).unwrap();
    eventually("readiness sees the storage gone", || {
        http(admin, "GET", "/readyz", None).0 == 503
    });
    assert_eq!(http(admin, "GET", "/healthz", None).0, 200);
    std::fs::create_dir(srv.root.path()).unwrap();
    eventually("readiness sees the storage back", || {
        http(admin, "GET", "/readyz", None).0 == 200
    });
    let _first = srv.login();
    let second = Ctl::connect(srv.addr);
    assert_eq!(second.greeting.code().as_u16(), 421);
    let m = metrics(&srv);
    assert_eq!(
        metric(&m, "ftp_sessions_rejected_total{reason=\"per_ip\"}"),
        1.0,
        "{m}"
    );
}

#[test]
fn a_changed_users_file_is_picked_up_by_polling_and_a_broken_one_keeps_the_old_users() {
    let etc = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let users_file = etc.path().join("users.toml");
    let entry = |name: &str| {
        format!(
            "[[user]]\nname = \"{name}\"\npassword = \"pw\"\nhome = \"{}\"\n",
            home.path().display()
        )
    };
    std::fs::write(&users_file, entry("bob")).unwrap();
    let mut base = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        login_failure_delay: Duration::from_millis(10),
        users_file_poll: Duration::from_millis(100),
        ..Config::default()
    };
    base.users = vec![User::new("bob", "pw", home.path())];
    let loader = users_loader(&users_file, base.clone());
    let watched = vec![users_file.clone()];
    let srv = Srv::start_server(
        |c| *c = base.clone(),
        |s| {
            let s = s.with_config_loader(loader);
            // The first fingerprints before the server starts, then the polling task.
            let watch = smol::block_on(ftp_server::reload::watch_files(
                s.reload_handle(),
                watched,
                |_| {},
            ));
            smol::spawn(watch).detach();
            s
        },
    );
    let logs_in = |user: &str| {
        let mut c = Ctl::connect(srv.addr);
        c.expect(&format!("USER {user}"), 331);
        c.cmd("PASS pw").code().as_u16() == 230
    };
    // A broken file changes nothing.
    std::fs::write(&users_file, entry("carol") + "name = \"x\"\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(logs_in("bob"));
    assert!(!logs_in("carol"));
    // A good one goes in within a few polls, without a signal or an API call.
    std::fs::write(&users_file, entry("carol")).unwrap();
    eventually("carol can log in", || logs_in("carol"));
    assert!(!logs_in("bob"));
}
