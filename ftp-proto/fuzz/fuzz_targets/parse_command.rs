//! Fuzzes `Command::parse` on one control line, directly and after line framing.
//!
//! Whatever parses must serialise to a single line that parses back to the same command, and
//! every error must map to one of the reply codes a server sends for a bad command.
#![no_main]

use ftp_proto::line::LineDecoder;
use ftp_proto::Command;
use libfuzzer_sys::fuzz_target;

fn check(line: &[u8]) {
    match Command::parse(line) {
        Ok(cmd) => {
            let wire = cmd.to_line();
            let mut dec = LineDecoder::new(1 << 20);
            let (framed, rest) = dec.decode(&wire);
            assert!(rest.is_empty(), "one command is one line");
            let framed = framed.expect("a whole line").expect("not too long");
            assert_eq!(Command::parse(&framed).as_ref(), Ok(&cmd), "round trip");
            let _ = cmd.to_string();
        }
        Err(e) => {
            let code = e.reply_code().as_u16();
            assert!(matches!(code, 500 | 501 | 502 | 504 | 522), "{code}");
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut dec = LineDecoder::default();
    let mut rest = data;
    while !rest.is_empty() {
        let line;
        (line, rest) = dec.decode(rest);
        if let Some(Ok(line)) = line {
            check(&line);
        }
    }
});
