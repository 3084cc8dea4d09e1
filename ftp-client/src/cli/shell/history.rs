//! The shell's history: what it keeps of a line (never a secret) and where it lives.

use std::path::PathBuf;

use super::commands::find;
use super::words::{escape_word, split_words};
use crate::cli::url::without_password;

/// What the history keeps of a command line: never a secret. `user NAME PASSWORD` is kept
/// as `user NAME` (recalled, it asks for the password), a URL loses its password, and
/// `quote PASS …`/`quote ACCT …` is not kept at all.
pub(super) fn history_entry(line: &str) -> Option<String> {
    let canonical = |cmd: &str| find(cmd).map_or("", |c| c.name);
    let secretive = |cmd: &str| matches!(canonical(cmd), "user" | "open" | "quote" | "bookmark");
    let Ok(words) = split_words(line) else {
        // Unparsable: keep it (to be corrected) unless it may hold a secret.
        let first = line.split_whitespace().next().unwrap_or("");
        return (!secretive(first)).then(|| line.to_string());
    };
    let (cmd, args) = words.split_first()?;
    let rebuilt = |words: &[String]| words.iter().map(|w| escape_word(w)).collect::<Vec<_>>();
    match canonical(cmd) {
        "user" if args.len() > 1 => Some(rebuilt(&words[..2]).join(" ")),
        "quote"
            if args.first().is_some_and(|v| {
                v.eq_ignore_ascii_case("PASS") || v.eq_ignore_ascii_case("ACCT")
            }) =>
        {
            None
        }
        "open" | "bookmark" if args.iter().any(|a| without_password(a) != *a) => {
            let masked: Vec<String> = words.iter().map(|w| without_password(w)).collect();
            Some(rebuilt(&masked).join(" "))
        }
        _ => Some(line.to_string()),
    }
}

/// `$FTP_CLIENT_HISTORY`, else `$XDG_STATE_HOME/ftp-client/history` (`~/.local/state/…`).
pub(super) fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FTP_CLIENT_HISTORY") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("ftp-client").join("history"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_never_keeps_a_secret() {
        let kept = |l: &str| history_entry(l);
        assert_eq!(kept("user rw rwpass").as_deref(), Some("user rw"));
        assert_eq!(kept("user 'r w' 'pa ss'").as_deref(), Some(r"user r\ w"));
        assert_eq!(kept("user rw").as_deref(), Some("user rw"));
        assert_eq!(
            kept("open ftp://u:p@h/dir/").as_deref(),
            Some("open ftp://u@h/dir/")
        );
        assert_eq!(kept("open h 2121").as_deref(), Some("open h 2121"));
        assert_eq!(
            kept("bookmark add w ftp://u:p@h/").as_deref(),
            Some("bookmark add w ftp://u@h/")
        );
        assert_eq!(kept("quote PASS x"), None);
        assert_eq!(kept("literal acct x"), None);
        assert_eq!(kept("user rw \"unterminated"), None);
        assert_eq!(kept("quote SITE HELP").as_deref(), Some("quote SITE HELP"));
        assert_eq!(kept("get a.txt").as_deref(), Some("get a.txt"));
    }
}
