//! Unit tests of the session state machine: commands in, actions out, no sockets.

use super::*;
use crate::auth::UserDb;
use crate::config::User;
use futures_lite::future::block_on;

struct Harness {
    s: Session,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(|_| {})
    }

    fn with(configure: impl FnOnce(&mut Config)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"0123456789").unwrap();
        let mut cfg = Config {
            users: vec![User::new("alice", "secret", dir.path())],
            login_failure_delay: std::time::Duration::ZERO,
            ..Config::default()
        };
        configure(&mut cfg);
        let auth = Arc::new(UserDb::from_config(&cfg).unwrap());
        let s = Session::new(
            Arc::new(cfg),
            auth,
            "127.0.0.1:40000".parse().unwrap(),
            "127.0.0.1:21".parse().unwrap(),
        );
        Harness { s, _dir: dir }
    }

    fn run(&mut self, line: &str) -> Action {
        block_on(self.s.handle(Command::parse(line.as_bytes())))
    }

    fn code(&mut self, line: &str) -> u16 {
        match self.run(line) {
            Action::Reply(r) | Action::Close(r) | Action::Active(_, r) => r.code().as_u16(),
            Action::Reinitialize(r) | Action::StartTls(r) => r.code().as_u16(),
            Action::EndTls { reply, .. } => reply.code().as_u16(),
            Action::Passive { .. } => 227,
            Action::Transfer(t) => t.opening.code().as_u16(),
            Action::Job(j) => block_on(j.work).code().as_u16(),
            Action::Delay { then, .. } => panic!("no login delay configured: {then:?}"),
        }
    }

    fn logged_in() -> Harness {
        let mut h = Harness::new();
        assert_eq!(h.code("USER alice"), 331);
        assert_eq!(h.code("PASS secret"), 230);
        h
    }
}

fn tls_harness(allow_ccc: bool) -> Harness {
    Harness::with(|c| {
        let (cert, _) = crate::tls::ReloadableCert::self_signed(&["localhost".into()]).unwrap();
        let mut t = crate::tls::TlsConfig::new(cert);
        t.allow_ccc = allow_ccc;
        c.tls = Some(t);
    })
}

#[test]
fn help_lists_ccc_only_where_it_is_allowed() {
    let listed = |allow: bool| match tls_harness(allow).run("HELP") {
        Action::Reply(r) => {
            assert_eq!(r.code().as_u16(), 214);
            r.lines()
                .iter()
                .any(|l| l.split(|&b| b == b' ').any(|w| w == b"CCC"))
        }
        other => panic!("{other:?}"),
    };
    assert!(listed(true));
    assert!(!listed(false));
}

#[test]
fn ccc_is_refused_by_default_and_before_auth() {
    let mut h = tls_harness(false);
    assert_eq!(h.code("CCC"), 533, "not protected: no AUTH yet");
    assert!(matches!(h.run("AUTH TLS"), Action::StartTls(_)));
    assert_eq!(h.code("CCC"), 534, "refused by policy");
    h.code("USER alice");
    assert_eq!(h.code("PASS secret"), 230);
    assert_eq!(h.code("CCC"), 534, "still refused after login");
}

#[test]
fn allowed_ccc_needs_login_and_keeps_data_protection() {
    let mut h = tls_harness(true);
    assert_eq!(h.code("CCC"), 533);
    assert!(matches!(h.run("AUTH TLS"), Action::StartTls(_)));
    assert_eq!(h.code("CCC"), 530, "credentials stay protected");
    h.code("USER alice");
    assert_eq!(h.code("PASS secret"), 230);
    assert_eq!(h.code("PBSZ 0"), 200);
    assert_eq!(h.code("PROT P"), 200);
    match h.run("CCC") {
        Action::EndTls {
            reply,
            reinitialize: false,
        } => assert_eq!(reply.code().as_u16(), 200),
        other => panic!("{other:?}"),
    }
    assert!(h.s.data_protected(), "PROT P survives CCC");
    assert_eq!(h.code("CCC"), 533, "the control connection is clear now");
    assert_eq!(h.code("PROT C"), 200, "PROT still answers after CCC");
}

#[test]
fn rein_on_auth_tls_connection_ends_tls_and_resets_protection() {
    let mut h = tls_harness(false);
    assert!(matches!(h.run("AUTH TLS"), Action::StartTls(_)));
    h.code("USER alice");
    h.code("PASS secret");
    h.code("PBSZ 0");
    h.code("PROT P");
    match h.run("REIN") {
        Action::EndTls {
            reply,
            reinitialize: true,
        } => assert_eq!(reply.code().as_u16(), 220),
        other => panic!("{other:?}"),
    }
    assert!(!h.s.data_protected(), "PROT back to C");
    assert_eq!(h.code("PBSZ 0"), 503, "PBSZ needs AUTH again");
    assert!(matches!(h.run("AUTH TLS"), Action::StartTls(_)));
}

#[test]
fn rein_on_implicit_tls_keeps_tls_and_ccc_is_refused_there() {
    let mut h = tls_harness(true);
    h.s.set_tls_implicit();
    h.code("USER alice");
    h.code("PASS secret");
    assert_eq!(h.code("CCC"), 534);
    h.code("PBSZ 0");
    h.code("PROT P");
    assert!(matches!(h.run("REIN"), Action::Reinitialize(_)));
    assert!(!h.s.data_protected(), "PROT back to C");
    assert_eq!(h.code("PROT P"), 503, "PBSZ first");
    assert_eq!(h.code("PBSZ 0"), 200, "still under TLS");
}

#[test]
fn login_then_logout_with_rein() {
    let mut h = Harness::new();
    assert_eq!(h.code("PWD"), 530);
    assert_eq!(h.code("USER alice"), 331);
    assert_eq!(h.code("PASS nope"), 530);
    assert_eq!(h.s.user(), None);
    assert_eq!(h.code("USER alice"), 331);
    assert_eq!(h.code("PASS secret"), 230);
    assert_eq!(h.s.user(), Some("alice"));
    assert_eq!(h.code("PASS secret"), 503);
    assert_eq!(h.s.user(), Some("alice"), "a stray PASS keeps the login");
    assert!(matches!(h.run("REIN"), Action::Reinitialize(_)));
    assert_eq!(h.code("PWD"), 530);
}

#[test]
fn third_failure_closes() {
    let mut h = Harness::new();
    for i in 0..3 {
        h.code("USER x");
        let a = h.run("PASS y");
        assert_eq!(matches!(a, Action::Close(_)), i == 2, "{a:?}");
    }
}

#[test]
fn data_addresses_are_checked_against_the_peer() {
    let mut h = Harness::logged_in();
    assert!(matches!(h.run("PORT 127,0,0,1,100,0"), Action::Active(..)));
    assert_eq!(h.code("PORT 127,0,0,2,100,0"), 504);
    assert_eq!(h.code("PORT 127,0,0,1,0,80"), 504);
    assert_eq!(h.code("EPRT |2|::1|30000|"), 504);
    assert!(matches!(h.run("EPSV"), Action::Passive { extended: true }));
    assert_eq!(h.code("EPSV ALL"), 200);
    assert_eq!(h.code("PASV"), 503);
    assert_eq!(h.code("PORT 127,0,0,1,100,0"), 503);
    assert!(matches!(h.run("EPSV"), Action::Passive { extended: true }));
}

#[test]
fn rest_applies_to_the_next_transfer_only() {
    let mut h = Harness::logged_in();
    assert_eq!(h.code("REST 4"), 350);
    let Action::Transfer(t) = h.run("RETR f") else {
        panic!("expected a transfer")
    };
    let mut got = Vec::new();
    match t.data {
        TransferData::Send(mut s) => {
            block_on(futures_lite::io::AsyncReadExt::read_to_end(
                &mut s, &mut got,
            ))
            .unwrap();
        }
        TransferData::SendFile(mut f) => {
            std::io::Read::read_to_end(&mut f, &mut got).unwrap();
        }
        other => panic!("expected a file to send, got {other:?}"),
    }
    assert_eq!(got, b"456789");
    assert_eq!(h.s.pending.rest(), 0);
}

#[test]
fn rnto_must_follow_rnfr_directly() {
    let mut h = Harness::logged_in();
    assert_eq!(h.code("RNFR f"), 350);
    assert_eq!(h.code("NOOP"), 200);
    assert_eq!(h.code("RNTO g"), 503);
    assert_eq!(h.code("RNFR f"), 350);
    assert_eq!(h.code("RNTO g"), 250);
    assert_eq!(h.code("SIZE g"), 213);
}

#[test]
fn parse_errors_become_replies() {
    let mut h = Harness::logged_in();
    assert_eq!(h.code("BOGUS"), 500);
    assert_eq!(h.code("RETR"), 501);
    assert_eq!(h.code(""), 500);
}

#[test]
fn a_failed_login_asks_for_the_configured_delay_before_its_530() {
    let delay = std::time::Duration::from_millis(300);
    let mut h = Harness::with(|c| {
        c.login_failure_delay = delay;
        c.max_login_failures = 2;
    });
    h.code("USER alice");
    match h.run("PASS wrong") {
        Action::Delay { delay: d, then } => {
            assert_eq!(d, delay);
            assert!(matches!(*then, Action::Reply(ref r) if r.code().as_u16() == 530));
        }
        other => panic!("{other:?}"),
    }
    h.code("USER alice");
    match h.run("PASS wrong") {
        Action::Delay { then, .. } => assert!(matches!(*then, Action::Close(_)), "{then:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn during_a_transfer_abor_stat_noop_answer_now_quit_waits_and_the_rest_is_deferred() {
    let h = Harness::logged_in();
    let path = VPath::root().resolve(b"f").unwrap();
    let progress = Progress {
        verb: Verb::Retr,
        path: &path,
        bytes: 42,
    };
    let busy = |line: &str| {
        h.s.during_transfer(&Command::parse(line.as_bytes()), progress)
    };
    match busy("ABOR") {
        Busy::Abort(a, b) => assert_eq!((a.code().as_u16(), b.code().as_u16()), (426, 226)),
        other => panic!("{other:?}"),
    }
    match busy("STAT") {
        Busy::Reply(r) => {
            assert_eq!(r.code().as_u16(), 211);
            assert_eq!(r.lines()[0], b"Transfer in progress: RETR /f, 42 bytes");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(busy("NOOP"), Busy::Reply(r) if r.code().as_u16() == 200));
    assert!(matches!(busy("QUIT"), Busy::QuitAfter));
    assert!(matches!(busy("RETR f"), Busy::Defer));
    assert!(matches!(busy("STAT f"), Busy::Defer));
    assert!(matches!(busy("BOGUS"), Busy::Defer));
}

#[test]
fn each_transfer_end_has_its_reply() {
    let h = Harness::logged_in();
    let code = |end: TransferEnd| h.s.transfer_ended(&end).code().as_u16();
    let io = || std::io::Error::from(std::io::ErrorKind::TimedOut);
    assert_eq!(code(TransferEnd::Done(10)), 226);
    assert_eq!(code(TransferEnd::NoConnection(io())), 425);
    assert_eq!(code(TransferEnd::Data(io())), 426);
    assert_eq!(
        code(TransferEnd::Tls(crate::tls::DataTlsError::NotResumed)),
        425
    );
    assert_eq!(code(TransferEnd::Storage(StorageError::NoSpace)), 452);
    assert_eq!(code(TransferEnd::Storage(StorageError::Other(io()))), 451);
    assert_eq!(code(TransferEnd::Storage(StorageError::NotFound)), 550);
    assert_eq!(TransferEnd::Done(10).to_string(), "ok");
}

#[test]
fn the_idle_deadline_is_the_idle_timeout_after_the_last_command() {
    let h = Harness::with(|c| c.idle_timeout = std::time::Duration::from_secs(30));
    let t = std::time::Instant::now();
    assert_eq!(h.s.idle_deadline(t), t + std::time::Duration::from_secs(30));
    assert_eq!(h.s.idle_timeout().code().as_u16(), 421);
    assert_eq!(h.s.shutdown().code().as_u16(), 421);
}

#[test]
fn passive_replies_announce_the_port_or_say_why_not() {
    let h = Harness::logged_in();
    let ip = std::net::Ipv4Addr::LOCALHOST;
    let text = |r: Reply| r.to_string();
    assert_eq!(
        text(h.s.passive_opened(false, Some(ip), Some(5000))),
        text(ftp_proto::addr::pasv_reply(
            "127.0.0.1:5000".parse().unwrap()
        ))
    );
    assert_eq!(
        text(h.s.passive_opened(true, None, Some(5000))),
        text(ftp_proto::addr::epsv_reply(5000))
    );
    assert_eq!(
        h.s.passive_opened(false, None, Some(5000)).code().as_u16(),
        425
    );
    assert_eq!(
        h.s.passive_opened(true, Some(ip), None).code().as_u16(),
        425
    );
}

#[test]
fn a_full_disk_answers_452_an_exceeded_quota_552_and_unavailable_storage_451() {
    use std::io::{Error, ErrorKind};
    let code = |e: Error| storage_error_reply(&StorageError::from(e)).code().as_u16();
    assert_eq!(code(Error::from(ErrorKind::StorageFull)), 452);
    assert_eq!(code(Error::from(ErrorKind::QuotaExceeded)), 552);
    let unavailable = storage_error_reply(&StorageError::Unavailable);
    assert_eq!(unavailable.code().as_u16(), 451);
}

/// A logged-in session of a user with `limits`.
fn limited(limits: crate::policy::Limits) -> Harness {
    let mut h = Harness::with(|c| c.users[0].limits = limits);
    assert_eq!(h.code("USER alice"), 331);
    assert_eq!(h.code("PASS secret"), 230);
    h
}

fn meter_of(a: Action) -> Option<crate::policy::rate::Meter> {
    match a {
        Action::Transfer(t) => t.meter,
        other => panic!("no transfer: {other:?}"),
    }
}

#[test]
fn an_unlimited_users_transfers_carry_no_meter() {
    // No meter: the connection runs today's unpaced sendfile/splice/copy path.
    let mut h = Harness::logged_in();
    assert!(meter_of(h.run("RETR f")).is_none());
    assert!(meter_of(h.run("STOR g")).is_none());
    assert!(meter_of(h.run("LIST")).is_none());
}

#[test]
fn a_rate_limited_user_gets_a_meter_for_that_direction_only() {
    let rate = std::num::NonZeroU64::new(1_000_000);
    let mut h = limited(crate::policy::Limits {
        download_rate: rate,
        ..Default::default()
    });
    assert_eq!(meter_of(h.run("RETR f")).map(|m| m.chunk()), Some(100_000));
    assert!(meter_of(h.run("STOR g")).is_none());
    assert!(meter_of(h.run("LIST")).is_none());
}

#[test]
fn allo_is_checked_against_the_quota() {
    let mut h = Harness::logged_in();
    assert_eq!(h.code("ALLO 1000"), 202);
    let mut h = limited(crate::policy::Limits {
        quota_bytes: Some(100),
        ..Default::default()
    });
    // `f` holds 10 bytes: 90 are left.
    assert_eq!(h.code("ALLO 91"), 552);
    assert_eq!(h.code("ALLO 90"), 200);
    assert_eq!(h.code("AVBL"), 213);
    assert_eq!(h.code("AVBL f"), 550);
    assert_eq!(h.code("SITE QUOTA"), 200);
}

#[test]
fn avbl_of_a_user_who_may_not_store_is_zero() {
    let mut h = Harness::with(|c| c.users[0].permissions = crate::config::Permissions::READ_ONLY);
    assert_eq!(h.code("USER alice"), 331);
    assert_eq!(h.code("PASS secret"), 230);
    match h.run("AVBL") {
        Action::Reply(r) => assert_eq!(r.to_string(), "213 0"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hash_and_copy_run_as_jobs_and_cpto_needs_cpfr_right_before() {
    let mut h = Harness::logged_in();
    assert!(matches!(h.run("HASH f"), Action::Job(_)));
    assert_eq!(h.code("HASH f"), 213);
    assert_eq!(h.code("XCRC f"), 250);
    assert_eq!(h.code("SITE CPTO g"), 503);
    assert_eq!(h.code("SITE CPFR f"), 350);
    assert_eq!(h.code("SITE CPTO g"), 250);
    assert_eq!(h.code("SITE CPFR f"), 350);
    assert_eq!(h.code("PWD"), 257);
    assert_eq!(h.code("SITE CPTO h"), 503);
    assert_eq!(h.code("RANG 0 3"), 350);
    assert_eq!(h.code("STOR x"), 504);
}

#[test]
fn the_log_tag_names_the_logged_in_user_until_rein_or_user() {
    let base = "[s12 127.0.0.1:5555]";
    let alice = super::tag_with_user(base, Some("alice"));
    assert_eq!(alice, "[s12 127.0.0.1:5555 alice]");
    let odd = super::tag_with_user(&alice, Some("b] c\n"));
    assert_eq!(odd, "[s12 127.0.0.1:5555 b%5D%20c%0A]");
    let line = format!("{odd} RETR x");
    let back = super::parse_log_tag(&line).unwrap();
    assert_eq!(back.user.as_deref(), Some("b] c\n"));
    assert_eq!(super::tag_with_user(&odd, None), base);
    // A session's tag before the server numbers it: the peer alone.
    assert_eq!(
        super::tag_with_user("[[::1]:21]", Some("x")),
        "[[::1]:21 x]"
    );
}
