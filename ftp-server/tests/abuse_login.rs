//! Brute force is slow: every failed login is answered only after the configured delay (a
//! lower bound, so deterministic), also when the guesses are pipelined, and the connection is
//! closed after the configured number of failures.

mod common;

use std::time::{Duration, Instant};

use common::*;

const DELAY: Duration = Duration::from_millis(300);

#[test]
fn each_failed_login_is_delayed_for_unknown_users_and_wrong_passwords() {
    let srv = Srv::start_with(|c| {
        c.login_failure_delay = DELAY;
        c.max_login_failures = 10;
    });
    let mut c = Ctl::connect(srv.addr);
    for user in ["nobody", USER] {
        c.expect(&format!("USER {user}"), 331);
        let t = Instant::now();
        c.expect("PASS wrong", 530);
        assert!(
            t.elapsed() >= DELAY,
            "{user}: answered after {:?}",
            t.elapsed()
        );
    }
    c.login(USER, PASS);
}

#[test]
fn pipelined_guesses_are_delayed_one_by_one_and_end_in_a_closed_connection() {
    let srv = Srv::start_with(|c| {
        c.login_failure_delay = DELAY;
        c.max_login_failures = 3;
    });
    let mut c = Ctl::connect(srv.addr);
    let t = Instant::now();
    let mut burst = String::new();
    for i in 0..20 {
        burst += &format!("USER {USER}\r\nPASS guess{i}\r\n");
    }
    c.send_raw(burst.as_bytes());
    let mut failures = 0;
    while let Some(r) = c.try_reply() {
        match r.code().as_u16() {
            331 => {}
            530 => failures += 1,
            421 => break,
            _ => panic!("unexpected {r}"),
        }
        assert!(failures <= 3, "more guesses answered than allowed");
    }
    assert_eq!(failures, 3);
    assert!(c.closed());
    assert!(t.elapsed() >= DELAY * 3, "3 failures in {:?}", t.elapsed());
    srv.login().expect("NOOP", 200);
}
