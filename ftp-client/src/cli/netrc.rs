//! A `~/.netrc` reader: `machine`, `default`, `login`, `password`, `account`, `macdef`.

/// Credentials found for a host.
#[derive(Clone, PartialEq, Eq)]
pub struct NetrcEntry {
    /// `login`, if given.
    pub login: Option<String>,
    /// `password`, if given.
    pub password: Option<String>,
}

impl std::fmt::Debug for NetrcEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetrcEntry")
            .field("login", &self.login)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .finish()
    }
}

/// Finds the entry for `host` (falling back to `default`) in netrc text. When `user` is
/// given, an entry whose `login` differs is skipped.
///
/// ```
/// use ftp_client::cli::netrc::lookup;
/// let text = "machine ftp.example.org login bob password s3cret\ndefault login anonymous password me@";
/// let e = lookup(text, "ftp.example.org", None).unwrap();
/// assert_eq!(e.password.as_deref(), Some("s3cret"));
/// assert_eq!(lookup(text, "other", None).unwrap().login.as_deref(), Some("anonymous"));
/// ```
pub fn lookup(text: &str, host: &str, user: Option<&str>) -> Option<NetrcEntry> {
    let mut toks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        for w in line.split_whitespace() {
            if w == "macdef" {
                // Skip the macro body: up to the next empty line.
                for l in lines.by_ref() {
                    if l.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            if w.starts_with('#') {
                break;
            }
            toks.push(w);
        }
    }
    let mut entries: Vec<(Option<&str>, NetrcEntry)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match toks[i] {
            "machine" => {
                entries.push((
                    toks.get(i + 1).copied(),
                    NetrcEntry {
                        login: None,
                        password: None,
                    },
                ));
                i += 2;
            }
            "default" => {
                entries.push((
                    None,
                    NetrcEntry {
                        login: None,
                        password: None,
                    },
                ));
                i += 1;
            }
            key @ ("login" | "password" | "account") => {
                let val = toks.get(i + 1).map(|s| s.to_string());
                if let Some((_, e)) = entries.last_mut() {
                    match key {
                        "login" => e.login = val,
                        "password" => e.password = val,
                        _ => {}
                    }
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    let fits = |e: &NetrcEntry| match (user, &e.login) {
        (Some(u), Some(l)) => u == l,
        _ => true,
    };
    entries
        .iter()
        .find(|(m, e)| m.is_some_and(|m| m.eq_ignore_ascii_case(host)) && fits(e))
        .or_else(|| entries.iter().find(|(m, e)| m.is_none() && fits(e)))
        .map(|(_, e)| e.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiline_and_macdef_and_user_filter() {
        let text = "machine h\n  login a\n  password pa\nmacdef init\ncd /\nls\n\nmachine h login b password pb\n";
        assert_eq!(
            lookup(text, "h", None).unwrap().password.as_deref(),
            Some("pa")
        );
        assert_eq!(
            lookup(text, "h", Some("b")).unwrap().password.as_deref(),
            Some("pb")
        );
        assert_eq!(lookup(text, "H", Some("c")), None);
        assert_eq!(lookup(text, "other", None), None);
    }
}
