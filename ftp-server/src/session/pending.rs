//! What one command leaves for the ones after it: `REST`'s offset, `ALLO`'s size, and the
//! source of `RNFR`, `SITE CPFR` and `RANG`.

use ftp_proto::Verb;

use crate::vpath::VPath;

/// A source a command named that only the next command may complete: `RNFR` (by `RNTO`),
/// `SITE CPFR` (by `SITE CPTO`), `RANG` (by `HASH`).
#[derive(Debug)]
pub(super) enum Source {
    /// `RNFR path`: the file or directory to rename.
    Rename(VPath),
    /// `SITE CPFR path`: the file to copy.
    Copy(VPath),
    /// `RANG start end`: the bytes `start..=end` the next `HASH` covers.
    Range {
        /// The first byte.
        start: u64,
        /// The last byte (inclusive).
        end: u64,
    },
}

/// The pending state of a session, kept and consumed by the rules of RFC 959 §4.1.3: the
/// source of `RNFR` lasts exactly one command, a `REST` offset until the next transfer
/// command (or `REST`).
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// `REST n`: where the next `RETR` or `STOR` starts.
    rest: u64,
    /// What the command right after this one must complete.
    source: Option<Source>,
    /// `ALLO n`: the size of the next upload.
    allo: Option<u64>,
}

impl Pending {
    /// A command is about to run: the previous command's source ends here whatever `verb`
    /// is; the restart offset goes to a transfer command (or `REST`), and stays otherwise.
    pub(super) fn source(&mut self) -> Option<Source> {
        self.source.take()
    }

    /// The restart offset for a command with `verb` (consumed by `RETR STOR APPE STOU REST`).
    pub(super) fn rest_for(&mut self, verb: Verb) -> u64 {
        if matches!(
            verb,
            Verb::Retr | Verb::Stor | Verb::Appe | Verb::Stou | Verb::Rest
        ) {
            std::mem::take(&mut self.rest)
        } else {
            self.rest
        }
    }

    /// The size `ALLO` announced, for the transfer command that consumes it (`RETR STOR
    /// APPE STOU`); it stays over other commands (`REST`, `TYPE`) in between.
    pub(super) fn allo_for(&mut self, verb: Verb) -> Option<u64> {
        if matches!(verb, Verb::Retr | Verb::Stor | Verb::Appe | Verb::Stou) {
            self.allo.take()
        } else {
            None
        }
    }

    /// `ALLO n`.
    pub(super) fn set_allo(&mut self, n: u64) {
        self.allo = Some(n);
    }

    /// `REST n`.
    pub(super) fn set_rest(&mut self, n: u64) {
        self.rest = n;
    }

    /// `RNFR`, `SITE CPFR`, `RANG`: the next command may complete `source`.
    pub(super) fn set_source(&mut self, source: Source) {
        self.source = Some(source);
    }

    /// The offset a later transfer would use.
    #[cfg(test)]
    pub(super) fn rest(&self) -> u64 {
        self.rest
    }
}
