//! Shared by `tests/roundtrip.rs` and the `decode_lines` fuzz target (included with
//! `#[path]`), so both check the decoder against one model.

use ftp_proto::line::LineError;

/// A byte-at-a-time model of the line decoder, written straight from its documented rules
/// (RFC 854 Telnet commands removed, a lone IAC inside a line kept as data, LF ends a line, a
/// CR before it is dropped, an overlong line is one error and is skipped). The real decoder
/// copies runs of plain bytes at once; this checks that the fast path changes nothing.
pub fn model_decode(input: &[u8], max: usize, telnet: bool) -> Vec<Result<Vec<u8>, LineError>> {
    #[derive(PartialEq)]
    enum T {
        Data,
        Iac,
        Opt,
        Sub,
        SubIac,
    }
    let mut t = T::Data;
    let mut line = ModelLine {
        max,
        buf: Vec::new(),
        discarding: false,
        out: Vec::new(),
    };
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
                        // No command: dropped at the start of a line (what a Synch leaves
                        // when its DM went out of band), else kept as data with `b`.
                        _ if line.buf.is_empty() => {}
                        _ => line.data(0xFF),
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
        line.data(b);
    }
    line.out
}

/// The model's line state: what data bytes (Telnet handling done) build up.
struct ModelLine {
    max: usize,
    buf: Vec<u8>,
    discarding: bool,
    out: Vec<Result<Vec<u8>, LineError>>,
}

impl ModelLine {
    fn data(&mut self, b: u8) {
        if b == b'\n' {
            if self.discarding {
                self.discarding = false;
            } else {
                let mut line = std::mem::take(&mut self.buf);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.out.push(Ok(line));
            }
            self.buf.clear();
            return;
        }
        if self.discarding {
            return;
        }
        let max = self.max;
        if self.buf.len() > max || (self.buf.len() == max && b != b'\r') {
            self.buf.clear();
            self.discarding = true;
            self.out.push(Err(LineError::TooLong { limit: max }));
            return;
        }
        self.buf.push(b);
    }
}
