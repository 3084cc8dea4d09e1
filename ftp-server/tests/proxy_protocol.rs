//! The PROXY protocol through the real server: a test "balancer" on 127.0.0.1 sends v1 and v2
//! headers naming other clients; direct clients come from 127.0.0.2.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use common::*;

/// A server that takes PROXY headers from 127.0.0.1 only.
fn behind_balancer(configure: impl FnOnce(&mut ftp_server::Config)) -> Srv {
    Srv::start_with(|c| {
        c.proxy_protocol_from =
            ftp_server::settings::parse_cidrs(&["127.0.0.1/32".into()]).unwrap();
        configure(c);
    })
}

/// A v1 header from `client` to `to`.
fn v1(client: &str, to: SocketAddr) -> Vec<u8> {
    let c: SocketAddr = client.parse().unwrap();
    format!(
        "PROXY TCP4 {} {} {} {}\r\n",
        c.ip(),
        to.ip(),
        c.port(),
        to.port()
    )
    .into_bytes()
}

/// A v2 header from `client` to `to`.
fn v2(client: &str, to: SocketAddr) -> Vec<u8> {
    let c: SocketAddr = client.parse().unwrap();
    ppp::v2::Builder::with_addresses(
        ppp::v2::Version::Two | ppp::v2::Command::Proxy,
        ppp::v2::Protocol::Stream,
        (c, to),
    )
    .build()
    .unwrap()
}

/// A connection from the balancer that starts with `header`.
fn through(to: SocketAddr, header: &[u8]) -> TcpStream {
    let mut s = data_stream(TcpStream::connect(to).unwrap());
    s.write_all(header).unwrap();
    s
}

/// A logged-in control connection through the balancer for `client`.
fn login_as(srv: &Srv, client: &str) -> Ctl {
    let mut c = Ctl::over(through(srv.addr, &v2(client, srv.addr)));
    assert_eq!(c.greeting.code().as_u16(), 220);
    c.login(USER, PASS);
    c
}

#[test]
fn per_ip_limit_counts_the_addresses_in_the_headers_not_the_balancer() {
    let srv = behind_balancer(|c| c.max_sessions_per_ip = 1);
    let a = Ctl::over(through(srv.addr, &v1("192.0.2.3:4000", srv.addr)));
    let b = Ctl::over(through(srv.addr, &v2("192.0.2.4:4000", srv.addr)));
    assert_eq!(a.greeting.code().as_u16(), 220);
    assert_eq!(b.greeting.code().as_u16(), 220);
    let c = Ctl::over(through(srv.addr, &v1("192.0.2.3:4001", srv.addr)));
    assert_eq!(c.greeting.code().as_u16(), 421);
}

#[test]
fn balancer_connection_without_a_valid_header_is_closed_without_a_greeting() {
    let srv = behind_balancer(|_| {});
    for bytes in [
        b"USER alice\r\n".as_slice(),
        b"PROXY TCP4 999.1.1.1 127.0.0.1 1 2\r\n",
        b"PROXY TCP4 192.0.2.1 127.0.0.1 1",
    ] {
        let mut s = through(srv.addr, bytes);
        if bytes.ends_with(b" 1") {
            s.shutdown(std::net::Shutdown::Write).unwrap();
        }
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        assert!(
            got.is_empty(),
            "{:?} got {:?}",
            bytes,
            String::from_utf8_lossy(&got)
        );
    }
    // The server still serves.
    let mut c = login_as(&srv, "192.0.2.5:1");
    c.expect("NOOP", 200);
}

#[test]
fn header_from_a_client_outside_the_balancer_ranges_is_not_honoured() {
    let srv = behind_balancer(|c| c.max_sessions_per_ip = 1);
    let mut direct = Ctl::over(bind_connect("127.0.0.2", srv.addr));
    assert_eq!(direct.greeting.code().as_u16(), 220);
    // Sent after the greeting, a header is just a bad command.
    let line = String::from_utf8(v1("192.0.2.3:1", srv.addr)).unwrap();
    let r = direct.cmd(line.trim_end());
    assert!(r.code().as_u16() >= 500, "{r}");
    // And the client still counts as 127.0.0.2: a second one is over the limit.
    let again = Ctl::over(bind_connect("127.0.0.2", srv.addr));
    assert_eq!(again.greeting.code().as_u16(), 421);
}

#[test]
fn local_header_of_a_health_check_is_served_as_the_balancer() {
    let srv = behind_balancer(|_| {});
    let local = ppp::v2::Builder::with_addresses(
        ppp::v2::Version::Two | ppp::v2::Command::Local,
        ppp::v2::Protocol::Unspecified,
        ppp::v2::Addresses::Unspecified,
    )
    .build()
    .unwrap();
    let mut c = Ctl::over(through(srv.addr, &local));
    assert_eq!(c.greeting.code().as_u16(), 220);
    c.expect("QUIT", 221);
    let mut u = Ctl::over(through(srv.addr, b"PROXY UNKNOWN\r\n"));
    assert_eq!(u.greeting.code().as_u16(), 220);
    u.expect("QUIT", 221);
}

#[test]
fn passive_data_connection_through_the_balancer_must_name_the_control_client() {
    let srv = behind_balancer(|_| {});
    srv.write("f", b"for the real client");
    let mut c = login_as(&srv, "192.0.2.3:4000");
    let r = c.expect("EPSV", 229);
    let port = ftp_proto::addr::parse_epsv_reply(&r.lines()[0]).unwrap();
    let data_addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Another client's data connection through the balancer is dropped...
    let mut thief = through(data_addr, &v2("192.0.2.9:5000", data_addr));
    // ...and so is one from the balancer without a header.
    let mut bare = through(data_addr, b"");
    c.expect("RETR f", 150);
    let mut stolen = Vec::new();
    let _ = thief.read_to_end(&mut stolen);
    assert!(stolen.is_empty());
    let mut d = through(data_addr, &v1("192.0.2.3:4001", data_addr));
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"for the real client");
    c.expect_reply(226);
    let mut nothing = Vec::new();
    bare.set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .unwrap();
    let _ = bare.read_to_end(&mut nothing);
    assert!(nothing.is_empty());
}

#[test]
fn port_must_name_the_real_client_not_the_balancer() {
    let srv = behind_balancer(|_| {});
    srv.write("f", b"active");
    let mut c = login_as(&srv, "127.0.0.3:4000");
    // The balancer's address is not the client's.
    let balancer = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = balancer.local_addr().unwrap().port();
    let r = c.cmd(&format!("EPRT |1|127.0.0.1|{p}|"));
    assert!(r.code().as_u16() >= 500, "{r}");
    // The real client's is.
    let client = TcpListener::bind("127.0.0.3:0").unwrap();
    let p = client.local_addr().unwrap().port();
    c.expect(&format!("EPRT |1|127.0.0.3|{p}|"), 200);
    c.expect("RETR f", 150);
    let mut d = accept_timeout(&client, IO_TIMEOUT).expect("the server connects");
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"active");
    c.expect_reply(226);
}

#[test]
fn split_horizon_tells_each_client_range_its_passive_address() {
    let srv = behind_balancer(|c| {
        c.public_address = Some("127.0.0.1".into());
        c.passive_address_overrides = vec![ftp_server::config::PassiveOverride {
            from: "10.0.0.0/8".parse().unwrap(),
            address: "10.1.2.3".parse().unwrap(),
        }];
    });
    // A LAN client, seen through the balancer's header, gets the internal address...
    let mut lan = login_as(&srv, "10.4.5.6:1000");
    let r = lan.expect("PASV", 227);
    let a = ftp_proto::addr::parse_pasv_reply(&r.lines()[0]).unwrap();
    assert_eq!(a.ip().to_string(), "10.1.2.3");
    // ...an internet client the public one.
    let mut far = login_as(&srv, "198.51.100.7:1000");
    let r = far.expect("PASV", 227);
    let a = ftp_proto::addr::parse_pasv_reply(&r.lines()[0]).unwrap();
    assert_eq!(a.ip().to_string(), "127.0.0.1");
}

#[test]
fn announced_ports_without_a_matching_passive_range_are_refused_at_start() {
    let cfg = ftp_server::Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        passive_ports_announced: Some(60000..=60099),
        ..ftp_server::Config::default()
    };
    let r = smol::block_on(ftp_server::Server::bind(cfg));
    assert!(r.is_err());
}

#[test]
fn bans_fall_on_the_client_a_header_names_not_on_the_balancer() {
    let srv = behind_balancer(|c| c.bans.score = 5);
    // One bounce attempt (a score of 5) bans the client the header named.
    let mut c = login_as(&srv, "192.0.2.3:4000");
    c.expect("PORT 127,0,0,2,200,10", 504);
    // That client, through the same balancer, is now closed before the greeting...
    let mut s = through(srv.addr, &v2("192.0.2.3:4001", srv.addr));
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("a banned client was served: {other:?}"),
    }
    // ...while other clients of the balancer are served as before.
    login_as(&srv, "192.0.2.4:4000").expect("NOOP", 200);
}
