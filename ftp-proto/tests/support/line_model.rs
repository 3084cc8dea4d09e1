//! Shared by `tests/roundtrip.rs` and the `decode_lines` fuzz target (included with
//! `#[path]`), so both check the decoder against one model.

use ftp_proto::line::LineError;

/// A byte-at-a-time model of the line decoder, written straight from its documented rules
/// (RFC 854 Telnet commands removed, LF ends a line, a CR before it is dropped, an overlong
/// line is one error and is skipped). The real decoder copies runs of plain bytes at once;
/// this checks that the fast path changes nothing.
pub fn model_decode(input: &[u8], max: usize, telnet: bool) -> Vec<Result<Vec<u8>, LineError>> {
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
            if discarding {
                discarding = false;
            } else {
                let mut line = std::mem::take(&mut buf);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                out.push(Ok(line));
            }
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
