//! Fuzzes the data-channel address parsers (PORT, 227, EPRT, 229), plus the RFC 3659 time
//! value and MLSx fact parsers; whatever parses must encode and parse back to itself.
#![no_main]

use ftp_proto::addr;
use ftp_proto::facts::{FactSet, Facts};
use ftp_proto::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = addr::parse_port(data) {
        assert_eq!(addr::parse_port(addr::encode_port(a).as_bytes()), Ok(a));
    }
    if let Ok(a) = addr::parse_pasv_reply(data) {
        let reply = addr::pasv_reply(a);
        assert_eq!(addr::parse_pasv_reply(&reply.lines()[0]), Ok(a));
    }
    if let Ok(a) = addr::parse_eprt(data) {
        assert_eq!(addr::parse_eprt(addr::encode_eprt(a).as_bytes()), Ok(a));
    }
    if let Ok(port) = addr::parse_epsv_reply(data) {
        let reply = addr::epsv_reply(port);
        assert_eq!(addr::parse_epsv_reply(&reply.lines()[0]), Ok(port));
    }
    if let Ok(t) = Timestamp::parse(data) {
        assert_eq!(Timestamp::parse(t.to_string().as_bytes()), Ok(t));
        let (s, n) = t.to_unix();
        assert_eq!(Timestamp::from_unix(s, n), t);
    }
    if let Ok((facts, name)) = Facts::parse(data) {
        let mut line = Vec::new();
        facts.format(FactSet::ALL, name, &mut line);
        let _ = Facts::parse(&line);
    }
});
