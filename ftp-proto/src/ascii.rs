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
///
/// A CR LF already in the text is kept as it is and a lone CR passes unchanged; the byte
/// before a chunk's first LF is remembered across chunks, so the result does not depend on
/// where the input is split.
#[derive(Debug, Clone, Default)]
pub struct ToNetwork {
    last: u8,
}

/// The conversion rule, shared by [`ToNetwork::convert`] and [`ToNetwork::converted_len`]:
/// whether `b`, following `last`, is a bare LF that needs a CR in front of it.
#[inline]
fn needs_cr(last: u8, b: u8) -> bool {
    b == b'\n' && last != b'\r'
}

impl ToNetwork {
    /// Appends the converted `input` to `out`.
    pub fn convert(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 32);
        for &b in input {
            if needs_cr(self.last, b) {
                out.push(b'\r');
            }
            out.push(b);
            self.last = b;
        }
    }

    /// How many bytes [`convert`](Self::convert) would append for `input`, without producing
    /// them; the state advances exactly as `convert` would advance it. Summed over the chunks
    /// of a file, this is the size of the file in `TYPE A` on the wire (what `SIZE` must
    /// answer in ASCII mode, RFC 3659 §4).
    ///
    /// ```
    /// use ftp_proto::ascii::ToNetwork;
    ///
    /// let mut count = ToNetwork::default();
    /// // "a\n" gains a CR; the CR LF split across the chunks stays two bytes; a lone CR is one.
    /// let n = count.converted_len(b"a\nb\r") + count.converted_len(b"\nc\rd");
    /// assert_eq!(n, 9); // 8 bytes of text plus the CR in front of the first LF
    ///
    /// let mut wire = Vec::new();
    /// let mut enc = ToNetwork::default();
    /// enc.convert(b"a\nb\r\nc\rd", &mut wire);
    /// assert_eq!(wire.len() as u64, n);
    /// ```
    pub fn converted_len(&mut self, input: &[u8]) -> u64 {
        let Some((&first, _)) = input.split_first() else {
            return 0;
        };
        let mut added = u64::from(needs_cr(self.last, first));
        // Each byte against the one before it, in blocks of 255 pairs so a block's count
        // fits a `u8`: that lets the compiler count 16 or 32 pairs per instruction.
        let (before, after) = (&input[..input.len() - 1], &input[1..]);
        for (b, a) in before.chunks(255).zip(after.chunks(255)) {
            let block: u8 = b
                .iter()
                .zip(a)
                .fold(0, |n, (&last, &byte)| n + u8::from(needs_cr(last, byte)));
            added += u64::from(block);
        }
        self.last = input[input.len() - 1];
        input.len() as u64 + added
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

    #[test]
    fn converted_len_counts_bare_lf_crlf_and_lone_cr_across_chunks() {
        let mut c = ToNetwork::default();
        assert_eq!(c.converted_len(b""), 0);
        assert_eq!(c.converted_len(b"\n"), 2); // a LF at the very start is bare
        assert_eq!(c.converted_len(b"x\r"), 2);
        assert_eq!(c.converted_len(b""), 0); // an empty chunk keeps the pending CR
        assert_eq!(c.converted_len(b"\n"), 1); // CR | LF split across chunks: not doubled
        assert_eq!(c.converted_len(b"\r\r\n\n"), 5); // lone CR, CR LF, bare LF
    }

    #[test]
    fn converted_len_counts_long_runs_of_bare_lf() {
        // More bare LFs than one counting block holds.
        assert_eq!(ToNetwork::default().converted_len(&[b'\n'; 1000]), 2000);
        let crlf = b"\r\n".repeat(700);
        assert_eq!(ToNetwork::default().converted_len(&crlf), 1400);
    }

    /// Splits `data` at the given (sorted, deduplicated, clamped) points.
    fn chunks<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (data.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut out = Vec::new();
        let mut start = 0;
        for c in cuts {
            out.push(&data[start..c]);
            start = c;
        }
        out.push(&data[start..]);
        out
    }

    proptest::proptest! {
        #[test]
        fn converted_len_equals_convert_len_over_any_chunking(
            // Mostly CR, LF and one other byte, so every combination shows up often.
            data in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'\r'),
                    proptest::strategy::Just(b'\n'),
                    proptest::strategy::Just(b'x'),
                    proptest::num::u8::ANY,
                ],
                0..1200, // past the 255-pair blocks `converted_len` counts in
            ),
            counting_cuts in proptest::collection::vec(proptest::num::usize::ANY, 0..8),
            converting_cuts in proptest::collection::vec(proptest::num::usize::ANY, 0..8),
        ) {
            let mut counter = ToNetwork::default();
            let mut counted = 0u64;
            for c in chunks(&data, &counting_cuts) {
                counted += counter.converted_len(c);
            }
            let mut enc = ToNetwork::default();
            let mut converted = 0u64;
            for c in chunks(&data, &converting_cuts) {
                let mut out = Vec::new();
                enc.convert(c, &mut out);
                converted += out.len() as u64;
            }
            proptest::prop_assert_eq!(counted, converted);
            // Both leave the same state behind.
            proptest::prop_assert_eq!(counter.last, enc.last);
        }
    }
}
