//! Fuzzes `LineDecoder`: decoding in chunks gives the same lines as decoding at once and as a
//! byte-at-a-time model, no line exceeds the limit, and the decoder never holds more than it.
#![no_main]

#[path = "../../tests/support/line_model.rs"]
mod line_model;
use ftp_proto::line::{LineDecoder, LineError};
use libfuzzer_sys::fuzz_target;
use line_model::model_decode;

fn decode_all(dec: &mut LineDecoder, mut input: &[u8], out: &mut Vec<Result<Vec<u8>, LineError>>) {
    while !input.is_empty() {
        let (line, rest) = dec.decode(input);
        assert!(rest.len() < input.len() || line.is_some(), "progress");
        input = rest;
        out.extend(line);
        assert!(dec.pending() <= dec.max_line() + 1);
    }
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
    assert_eq!(expected, model_decode(input, max, telnet));
    assert_eq!(chunked.pending(), whole.pending());
    for line in expected.iter().flatten() {
        assert!(line.len() <= max);
        assert!(!line.contains(&b'\n'));
    }
});
