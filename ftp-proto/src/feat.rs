//! The RFC 2389 `FEAT` reply: a list of feature lines, each with optional parameters.
//!
//! ```
//! use ftp_proto::feat::Features;
//! use ftp_proto::Reply;
//!
//! let mut f = Features::new();
//! f.add("SIZE", None);
//! f.add("REST", Some("STREAM"));
//! let reply = f.to_reply();
//! assert_eq!(reply.to_bytes(), b"211-Features:\r\n SIZE\r\n REST STREAM\r\n211 End\r\n");
//!
//! let back = Features::from_reply(&reply);
//! assert!(back.has("size"));
//! assert_eq!(back.params("REST"), Some("STREAM"));
//! ```

use crate::reply::{Reply, ReplyCode};

/// The features a server announces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    entries: Vec<(String, Option<String>)>,
}

impl Features {
    /// An empty list.
    pub fn new() -> Self {
        Features::default()
    }

    /// Adds a feature (name upper-cased) with optional parameters.
    pub fn add(&mut self, name: &str, params: Option<&str>) -> &mut Self {
        self.entries
            .push((name.to_ascii_uppercase(), params.map(str::to_string)));
        self
    }

    /// True if the feature is listed (case-insensitive).
    pub fn has(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The parameters of a listed feature; `None` if it is not listed or has none.
    pub fn params(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, p)| p.as_deref())
    }

    /// Every feature, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.entries.iter().map(|(n, p)| (n.as_str(), p.as_deref()))
    }

    /// Reads a `211` FEAT reply: every line starting with a space is a feature. A negative
    /// reply (500/502: FEAT unsupported) gives an empty list.
    pub fn from_reply(reply: &Reply) -> Features {
        let mut f = Features::new();
        if reply.code() != ReplyCode::SYSTEM_STATUS {
            return f;
        }
        let lines = reply.lines();
        for line in lines.iter().take(lines.len().saturating_sub(1)).skip(1) {
            let Some(rest) = line.strip_prefix(b" ") else {
                continue;
            };
            let text = String::from_utf8_lossy(rest);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match text.split_once(' ') {
                Some((n, p)) => f.add(n, Some(p.trim())),
                None => f.add(text, None),
            };
        }
        f
    }

    /// The `211-Features:` … `211 End` reply.
    pub fn to_reply(&self) -> Reply {
        let mut lines = vec!["Features:".to_string()];
        for (n, p) in &self.entries {
            lines.push(match p {
                Some(p) => format!(" {n} {p}"),
                None => format!(" {n}"),
            });
        }
        lines.push("End".to_string());
        Reply::multi(ReplyCode::SYSTEM_STATUS, lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc2389_example() {
        let wire = b"211-Extensions supported:\r\n MLST size*;create;modify*;perm;media-type\r\n SIZE\r\n COMPRESSION\r\n MDTM\r\n211 END\r\n";
        let (r, _) = Reply::decode(wire).unwrap().unwrap();
        let f = Features::from_reply(&r);
        assert!(f.has("MDTM") && f.has("compression"));
        assert_eq!(
            f.params("MLST"),
            Some("size*;create;modify*;perm;media-type")
        );
        assert_eq!(f.iter().count(), 4);
    }

    #[test]
    fn negative_reply_means_no_features() {
        let r = Reply::new(ReplyCode::SYNTAX_ERROR, "FEAT not understood");
        assert_eq!(Features::from_reply(&r), Features::new());
    }
}
