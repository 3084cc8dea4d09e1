//! RFC 3659 machine listings: the `fact=value;… name` lines of `MLST` and `MLSD`.
//!
//! ```
//! use ftp_proto::facts::{Facts, EntryType, FactSet};
//!
//! let mut facts = Facts::default();
//! facts.entry_type = Some(EntryType::File);
//! facts.size = Some(1024);
//! let mut line = Vec::new();
//! facts.format(FactSet::ALL, b"report.pdf", &mut line);
//! assert_eq!(line, b"type=file;size=1024; report.pdf");
//!
//! let (parsed, name) = Facts::parse(&line).unwrap();
//! assert_eq!(parsed, facts);
//! assert_eq!(name, b"report.pdf");
//! ```

use crate::time::Timestamp;

/// The `type` fact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryType {
    /// `file`
    File,
    /// `dir`
    Dir,
    /// `cdir` — the listed directory itself.
    Cdir,
    /// `pdir` — its parent.
    Pdir,
    /// Anything else, e.g. `OS.unix=symlink` (kept as sent).
    Other(String),
}

impl EntryType {
    fn as_str(&self) -> &str {
        match self {
            EntryType::File => "file",
            EntryType::Dir => "dir",
            EntryType::Cdir => "cdir",
            EntryType::Pdir => "pdir",
            EntryType::Other(s) => s,
        }
    }

    fn parse(s: &str) -> EntryType {
        match s.to_ascii_lowercase().as_str() {
            "file" => EntryType::File,
            "dir" => EntryType::Dir,
            "cdir" => EntryType::Cdir,
            "pdir" => EntryType::Pdir,
            _ => EntryType::Other(s.to_string()),
        }
    }

    /// True for `dir`, `cdir` and `pdir`.
    pub fn is_dir(&self) -> bool {
        matches!(self, EntryType::Dir | EntryType::Cdir | EntryType::Pdir)
    }
}

/// The facts of one entry. Unknown facts are kept in `other`.
///
/// More facts may be added, so build one from [`Facts::default`] and set fields:
///
/// ```
/// use ftp_proto::facts::{EntryType, Facts};
///
/// let mut facts = Facts::default();
/// facts.entry_type = Some(EntryType::Dir);
/// facts.perm = Some("el".into());
/// assert!(facts.entry_type.as_ref().is_some_and(EntryType::is_dir));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Facts {
    /// `type`
    pub entry_type: Option<EntryType>,
    /// `size` in bytes
    pub size: Option<u64>,
    /// `modify` (UTC)
    pub modify: Option<Timestamp>,
    /// `perm`, e.g. `adfrw`
    pub perm: Option<String>,
    /// `unique`, an identifier that is the same for the same file
    pub unique: Option<String>,
    /// `UNIX.mode`, the permission bits (written in octal)
    pub unix_mode: Option<u32>,
    /// Any other facts, as `(name, value)`
    pub other: Vec<(String, String)>,
}

/// Which facts a server writes: the `OPTS MLST` selection.
///
/// More facts may be added, so start from [`FactSet::ALL`] or [`FactSet::NONE`]:
///
/// ```
/// use ftp_proto::facts::FactSet;
///
/// let mut set = FactSet::NONE;
/// set.size = true;
/// assert_eq!(set, FactSet::from_opts("size;"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct FactSet {
    /// `type`
    pub entry_type: bool,
    /// `size`
    pub size: bool,
    /// `modify`
    pub modify: bool,
    /// `perm`
    pub perm: bool,
    /// `unique`
    pub unique: bool,
    /// `UNIX.mode`
    pub unix_mode: bool,
}

impl Default for FactSet {
    fn default() -> Self {
        FactSet::ALL
    }
}

impl FactSet {
    /// Every fact this module knows.
    pub const ALL: FactSet = FactSet {
        entry_type: true,
        size: true,
        modify: true,
        perm: true,
        unique: true,
        unix_mode: true,
    };

    /// No facts.
    pub const NONE: FactSet = FactSet {
        entry_type: false,
        size: false,
        modify: false,
        perm: false,
        unique: false,
        unix_mode: false,
    };

    /// Parses the argument of `OPTS MLST` (`type;size;`); unknown names are ignored, as RFC
    /// 3659 §7.9 asks.
    pub fn from_opts(arg: &str) -> FactSet {
        let mut set = FactSet::NONE;
        for name in arg.split(';').map(str::trim) {
            match name.to_ascii_lowercase().as_str() {
                "type" => set.entry_type = true,
                "size" => set.size = true,
                "modify" => set.modify = true,
                "perm" => set.perm = true,
                "unique" => set.unique = true,
                "unix.mode" => set.unix_mode = true,
                _ => {}
            }
        }
        set
    }

    fn names(self) -> impl Iterator<Item = (&'static str, bool)> {
        [
            ("type", self.entry_type),
            ("size", self.size),
            ("modify", self.modify),
            ("perm", self.perm),
            ("unique", self.unique),
            ("UNIX.mode", self.unix_mode),
        ]
        .into_iter()
    }

    /// The selected facts as `type;size;` — the reply text of `OPTS MLST`.
    pub fn to_opts(self) -> String {
        self.names()
            .filter(|(_, on)| *on)
            .map(|(n, _)| format!("{n};"))
            .collect()
    }

    /// The FEAT line: every supported fact, with `*` after the selected ones.
    ///
    /// ```
    /// use ftp_proto::facts::FactSet;
    /// assert_eq!(FactSet::ALL.feat_line(), "MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;");
    /// ```
    pub fn feat_line(self) -> String {
        let facts: String = self
            .names()
            .map(|(n, on)| format!("{n}{};", if on { "*" } else { "" }))
            .collect();
        format!("MLST {facts}")
    }
}

/// Why a machine-listing line cannot be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed MLSx entry: expected `fact=value;… name`")]
pub struct FactsError;

impl Facts {
    /// Appends `facts name` (no line ending) to `out`, writing only the facts in `select`
    /// that are known.
    pub fn format(&self, select: FactSet, name: &[u8], out: &mut Vec<u8>) {
        use std::io::Write;
        if let (true, Some(t)) = (select.entry_type, &self.entry_type) {
            let _ = write!(out, "type={};", t.as_str());
        }
        if let (true, Some(s)) = (select.size, self.size) {
            let _ = write!(out, "size={s};");
        }
        if let (true, Some(m)) = (select.modify, self.modify) {
            let _ = write!(out, "modify={m};");
        }
        if let (true, Some(p)) = (select.perm, &self.perm) {
            let _ = write!(out, "perm={p};");
        }
        if let (true, Some(u)) = (select.unique, &self.unique) {
            let _ = write!(out, "unique={u};");
        }
        if let (true, Some(m)) = (select.unix_mode, self.unix_mode) {
            let _ = write!(out, "UNIX.mode=0{m:o};");
        }
        for (k, v) in &self.other {
            let _ = write!(out, "{k}={v};");
        }
        out.push(b' ');
        out.extend_from_slice(name);
    }

    /// Parses one entry line (without CR LF; a leading space, as in an `MLST` reply, is
    /// skipped). Returns the facts and the rest of the line after them, which is the name,
    /// byte for byte (what was found, then the rest: the shape every decoder of this crate
    /// has).
    ///
    /// An entry without facts is a space and the name (RFC 3659 §7.2: `[ facts ] SP pathname`,
    /// what a server sends after `OPTS MLST` selected nothing); a line that starts with a space
    /// whose first word holds no `=` is read that way.
    ///
    /// ```
    /// use ftp_proto::facts::Facts;
    /// assert_eq!(Facts::parse(b" a name").unwrap(), (Facts::default(), &b"a name"[..]));
    /// ```
    pub fn parse(line: &[u8]) -> Result<(Facts, &[u8]), FactsError> {
        let line = match line.strip_prefix(b" ") {
            Some(rest) if !starts_with_facts(rest) => return Ok((Facts::default(), rest)),
            Some(rest) => rest,
            None => line,
        };
        let sp = line.iter().position(|b| *b == b' ').ok_or(FactsError)?;
        let (facts_part, name) = (&line[..sp], &line[sp + 1..]);
        let facts_part = std::str::from_utf8(facts_part).map_err(|_| FactsError)?;
        let mut facts = Facts::default();
        for fact in facts_part.split(';').filter(|f| !f.is_empty()) {
            let (k, v) = fact.split_once('=').ok_or(FactsError)?;
            match k.to_ascii_lowercase().as_str() {
                "type" => facts.entry_type = Some(EntryType::parse(v)),
                "size" => facts.size = Some(v.parse().map_err(|_| FactsError)?),
                "modify" => {
                    facts.modify = Some(Timestamp::parse(v.as_bytes()).map_err(|_| FactsError)?)
                }
                "perm" => facts.perm = Some(v.to_string()),
                "unique" => facts.unique = Some(v.to_string()),
                "unix.mode" => {
                    facts.unix_mode = Some(u32::from_str_radix(v, 8).map_err(|_| FactsError)?)
                }
                _ => facts.other.push((k.to_string(), v.to_string())),
            }
        }
        Ok((facts, name))
    }
}

/// True if `line` starts with a fact list: a first word that is empty (no facts, as in an
/// `MLST` reply line) or holds a `fact=value`.
fn starts_with_facts(line: &[u8]) -> bool {
    match line.iter().position(|b| *b == b' ') {
        Some(sp) => line[..sp].is_empty() || line[..sp].contains(&b'='),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3659_example_lines() {
        let (f, name) = Facts::parse(b"Type=cdir;Modify=19981107085215;Perm=el; tmp").unwrap();
        assert_eq!(f.entry_type, Some(EntryType::Cdir));
        assert_eq!(f.perm.as_deref(), Some("el"));
        assert_eq!(name, b"tmp");
        let (f, name) = Facts::parse(b"type=file;size=1234;UNIX.mode=0644; a b  c").unwrap();
        assert_eq!((f.size, f.unix_mode), (Some(1234), Some(0o644)));
        assert_eq!(name, b"a b  c");
    }

    #[test]
    fn names_may_start_with_space_after_separator() {
        let (_, name) = Facts::parse(b"type=file;  leading").unwrap();
        assert_eq!(name, b" leading");
    }

    #[test]
    fn selection_limits_output_and_unknown_opts_are_ignored() {
        let set = FactSet::from_opts("size;bogus;");
        assert_eq!(set.to_opts(), "size;");
        let f = Facts {
            size: Some(3),
            entry_type: Some(EntryType::File),
            ..Facts::default()
        };
        let mut out = Vec::new();
        f.format(set, b"x", &mut out);
        assert_eq!(out, b"size=3; x");
    }

    #[test]
    fn entry_without_facts_is_space_and_name() {
        // Regression (found by the round-trip property): formatting with no facts selected
        // gives " name", which used to be rejected by `parse`.
        let mut line = Vec::new();
        Facts::default().format(FactSet::NONE, b"x y", &mut line);
        assert_eq!(line, b" x y");
        assert_eq!(Facts::parse(&line), Ok((Facts::default(), &b"x y"[..])));
        assert_eq!(Facts::parse(b" x"), Ok((Facts::default(), &b"x"[..])));
        assert_eq!(Facts::parse(b" "), Ok((Facts::default(), &b""[..])));
        // The same entry in an MLST reply line, with its extra leading space.
        assert_eq!(Facts::parse(b"  x y"), Ok((Facts::default(), &b"x y"[..])));
        // A fact list after the leading space is still checked.
        assert!(Facts::parse(b" size=abc; x").is_err());
    }

    #[test]
    fn rejects_lines_without_name_or_with_bad_values() {
        assert!(Facts::parse(b"type=file;").is_err());
        assert!(Facts::parse(b"size=abc; x").is_err());
        assert!(Facts::parse(b"novalue; x").is_err());
    }
}
