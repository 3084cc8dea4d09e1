//! Reads a PROXY protocol header (v1 or v2) off arbitrary bytes, as the server does at the
//! start of a connection from a load balancer.
//!
//! Invariants: nothing panics; the pure parser and the reader agree (a whole header for
//! one is a whole header with the same addresses for the other, an error an error); a
//! header is never longer than the input nor than `MAX_HEADER`; the reader consumes exactly
//! the header's bytes and leaves every byte behind it to the FTP session.
#![no_main]

use std::time::Duration;

use ftp_server::proxy::{parse, read_header, Parsed, MAX_HEADER};
use futures_lite::io::{AsyncReadExt, Cursor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = parse(data);
    let mut cur = Cursor::new(data.to_vec());
    let read = futures_lite::future::block_on(read_header(&mut cur, Duration::from_secs(60)));
    match (parsed, read) {
        (Ok(Parsed::Header { len, source, destination }), Ok(a)) => {
            assert!(len <= data.len() && len <= MAX_HEADER);
            assert_eq!((a.source, a.destination), (source, destination));
            assert_eq!(cur.position() as usize, len);
            let mut rest = Vec::new();
            futures_lite::future::block_on(cur.read_to_end(&mut rest)).unwrap();
            assert_eq!(rest, &data[len..]);
        }
        // A prefix of a header: the reader runs out of input (or over the size bound).
        (Ok(Parsed::Incomplete), Err(_)) => {}
        // The reader may stop at a malformed prefix before the parser sees the whole input.
        (Err(_), Err(_)) => {}
        (Ok(Parsed::Header { .. }), Err(e)) => panic!("parser found a header, reader: {e}"),
        (p, Ok(a)) => panic!("reader found {a:?}, parser {p:?}"),
    }
});
