//! Fuzzes `Reply::decode` and `ReplyParser`, and the helpers that read reply text.
//!
//! A decoded reply must re-serialise to bytes that decode to the same reply.
#![no_main]

use ftp_proto::feat::Features;
use ftp_proto::reply::ReplyParser;
use ftp_proto::Reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    // Each decoded reply consumes at least one byte, so this ends.
    while let Ok(Some((reply, after))) = Reply::decode(rest) {
        assert!(after.len() < rest.len());
        rest = after;
        let wire = reply.to_bytes();
        let (again, after) = Reply::decode(&wire)
            .expect("re-encoded reply decodes")
            .expect("re-encoded reply is complete");
        assert!(after.is_empty());
        assert_eq!(again, reply, "round trip");
        let _ = reply.to_string();
        let _ = reply.quoted_path();
        let _ = Features::from_reply(&reply);
        let _ = ftp_proto::addr::parse_pasv_reply(&reply.lines()[0]);
        let _ = ftp_proto::addr::parse_epsv_reply(&reply.lines()[0]);
    }
    // Line by line with a small line limit, as a client would with a hostile server.
    let mut parser = ReplyParser::new(8);
    for line in data.split(|b| *b == b'\n') {
        let _ = parser.push_line(line);
    }
});
