//! `TYPE A` (ASCII, non-print) conversion between local text with LF line ends and the
//! network's CR LF (RFC 959 §3.1.1.1), over chunks of any size.
//!
//! ```
//! use ftp_proto::ascii::{FromNetwork, ToNetwork};
//!
//! let mut wire = Vec::new();
//! let mut enc = ToNetwork::default();
//! enc.convert(b"one\ntwo\r", &mut wire);
//! enc.convert(b"\nthree\n", &mut wire); // an existing CR LF is not doubled
//! assert_eq!(wire, b"one\r\ntwo\r\nthree\r\n");
//!
//! let mut local = Vec::new();
//! let mut dec = FromNetwork::default();
//! dec.convert(&wire[..8], &mut local); // "one\r\ntwo\r": the CR waits for what follows
//! dec.convert(&wire[8..], &mut local);
//! dec.finish(&mut local);
//! assert_eq!(local, b"one\ntwo\nthree\n");
//! ```

/// Local text to network ASCII: a LF not already preceded by CR gets one.
#[derive(Debug, Clone, Default)]
pub struct ToNetwork {
    last: u8,
}

impl ToNetwork {
    /// Appends the converted `input` to `out`.
    pub fn convert(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 32);
        for &b in input {
            if b == b'\n' && self.last != b'\r' {
                out.push(b'\r');
            }
            out.push(b);
            self.last = b;
        }
    }
}

/// Network ASCII to local text: CR LF becomes LF; any other CR is kept.
#[derive(Debug, Clone, Default)]
pub struct FromNetwork {
    pending_cr: bool,
}

impl FromNetwork {
    /// Appends the converted `input` to `out`. A CR at the end of `input` is held until the
    /// next chunk (or [`finish`](Self::finish)) shows whether a LF follows.
    pub fn convert(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                if b != b'\n' {
                    out.push(b'\r');
                }
            }
            if b == b'\r' {
                self.pending_cr = true;
            } else {
                out.push(b);
            }
        }
    }

    /// At the end of the data: writes a held-back CR.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.push(b'\r');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_network_adds_cr_only_to_bare_lf_across_chunks() {
        let mut out = Vec::new();
        let mut c = ToNetwork::default();
        c.convert(b"a\nb\r", &mut out);
        c.convert(b"\nc\r\r\n\n", &mut out);
        assert_eq!(out, b"a\r\nb\r\nc\r\r\n\r\n");
    }

    #[test]
    fn from_network_keeps_lone_cr_and_flushes_a_final_one() {
        let mut out = Vec::new();
        let mut c = FromNetwork::default();
        c.convert(b"a\r", &mut out);
        c.convert(b"\nb\rc\r\r\n", &mut out);
        c.convert(b"end\r", &mut out);
        assert_eq!(out, b"a\nb\rc\r\nend");
        c.finish(&mut out);
        assert_eq!(out, b"a\nb\rc\r\nend\r");
    }
}
