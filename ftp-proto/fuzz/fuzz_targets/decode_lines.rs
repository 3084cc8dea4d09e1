//! Fuzzes `LineDecoder`: decoding in chunks gives the same lines as decoding at once and as a
//! byte-at-a-time model, no line exceeds the limit, and the decoder never holds more than it.
#![no_main]

use ftp_proto::line::{LineDecoder, LineError};
use libfuzzer_sys::fuzz_target;

fn decode_all(dec: &mut LineDecoder, mut input: &[u8], out: &mut Vec<Result<Vec<u8>, LineError>>) {
    while !input.is_empty() {
        let (used, line) = dec.decode(input);
        assert!(used > 0 || line.is_some(), "progress");
        input = &input[used..];
        out.extend(line);
        assert!(dec.pending() <= dec.max_line() + 1);
    }
}

/// A byte-at-a-time model of the decoder's documented rules (see `tests/roundtrip.rs`): the
/// real decoder copies plain runs at once, and must give exactly the same lines.
fn model(input: &[u8], max: usize, telnet: bool) -> Vec<Result<Vec<u8>, LineError>> {
    #[derive(PartialEq)]
    enum T {
        Data,
        Iac,
        Opt,
        Sub,
        SubIac,
    }
    let (mut t, mut buf, mut discarding, mut out) = (T::Data, Vec::new(), false, Vec::new());
    for &b in input {
        if telnet {
            match t {
                T::Data if b == 0xFF => {
                    t = T::Iac;
                    continue;
                }
                T::Data => {}
                T::Iac => {
                    t = T::Data;
                    match b {
                        0xFF => {}
                        251..=254 => {
                            t = T::Opt;
                            continue;
                        }
                        250 => {
                            t = T::Sub;
                            continue;
                        }
                        240..=249 => continue,
                        _ => {}
                    }
                }
                T::Opt => {
                    t = T::Data;
                    continue;
                }
                T::Sub => {
                    if b == 0xFF {
                        t = T::SubIac;
                    }
                    continue;
                }
                T::SubIac => {
                    t = if b == 240 { T::Data } else { T::Sub };
                    continue;
                }
            }
        }
        if b == b'\n' {
            if !discarding {
                let mut line = std::mem::take(&mut buf);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                out.push(Ok(line));
            }
            discarding = false;
            buf.clear();
            continue;
        }
        if discarding {
            continue;
        }
        if buf.len() > max || (buf.len() == max && b != b'\r') {
            buf.clear();
            discarding = true;
            out.push(Err(LineError::TooLong { limit: max }));
            continue;
        }
        buf.push(b);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the limit and Telnet handling, the second the chunk size.
    let [a, b, input @ ..] = data else { return };
    let max = usize::from(a & 0x7f);
    let telnet = a & 0x80 == 0;
    let chunk = usize::from(*b).max(1);

    let mut whole = LineDecoder::new(max).with_telnet(telnet);
    let mut expected = Vec::new();
    decode_all(&mut whole, input, &mut expected);

    let mut chunked = LineDecoder::new(max).with_telnet(telnet);
    let mut got = Vec::new();
    for piece in input.chunks(chunk) {
        decode_all(&mut chunked, piece, &mut got);
    }
    assert_eq!(got, expected);
    assert_eq!(expected, model(input, max, telnet));
    assert_eq!(chunked.pending(), whole.pending());
    for line in expected.iter().flatten() {
        assert!(line.len() <= max);
        assert!(!line.contains(&b'\n'));
    }
});
