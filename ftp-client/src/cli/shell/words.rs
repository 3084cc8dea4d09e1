//! Command lines as words: quotes and backslash escapes, both ways.

/// Splits a command line into words: quotes (`'…'`, `"…"`) and backslash escapes.
pub(crate) fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(c) if c == ch => break,
                        Some('\\') if ch == '"' => {
                            if let Some(n) = chars.next() {
                                cur.push(n);
                            }
                        }
                        Some(c) => cur.push(c),
                        None => return Err("unterminated quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Splits `-c` text into command lines at `;` and new lines outside quotes and escapes;
/// blank commands and `#` comments are left out.
pub(super) fn split_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                cur.push(c);
                cur.extend(chars.next());
            }
            (None, ';' | '\n') => out.push(std::mem::take(&mut cur)),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.retain(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    out
}

/// `s` as one word for [`split_words`]: spaces, quotes and backslashes escaped.
pub(crate) fn escape_word(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_whitespace() || matches!(c, '\\' | '\'' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The word the cursor is in (`before` is the line up to the cursor): where it starts in
/// `before`, and its text with escapes and quotes resolved as [`split_words`] does.
pub(super) fn current_word(before: &str) -> (usize, String) {
    let mut start = 0;
    let mut quote = None;
    let mut chars = before.char_indices();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (None, '\\') => {
                chars.next();
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => start = i + c.len_utf8(),
            _ => {}
        }
    }
    let raw = &before[start..];
    let word = match split_words(raw) {
        Ok(w) => w.into_iter().next().unwrap_or_default(),
        // An open quote: complete what follows it.
        Err(_) => split_words(&format!("{raw}{}", quote.unwrap_or('"')))
            .ok()
            .and_then(|w| w.into_iter().next())
            .unwrap_or_default(),
    };
    (start, word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_with_quotes_and_escapes() {
        assert_eq!(
            split_words(r#"put "my file" 'b c' d\ e"#).unwrap(),
            vec!["put", "my file", "b c", "d e"]
        );
        assert_eq!(split_words("  ls   ").unwrap(), vec!["ls"]);
        assert!(split_words("get \"x").is_err());
        assert_eq!(split_words("cd ''").unwrap(), vec!["cd", ""]);
    }

    #[test]
    fn the_word_under_the_cursor_keeps_its_escapes_together() {
        assert_eq!(current_word("cd di"), (3, "di".to_string()));
        assert_eq!(current_word(r"cd dir\ w"), (3, "dir w".to_string()));
        assert_eq!(current_word("get 'a b"), (4, "a b".to_string()));
        assert_eq!(current_word("get x "), (6, String::new()));
        assert_eq!(current_word("he"), (0, "he".to_string()));
    }

    #[test]
    fn commands_split_at_semicolons_outside_quotes() {
        assert_eq!(
            split_commands("open ftp://h/; cd 'a;b'\nget x\\;y ;; # note"),
            vec!["open ftp://h/", " cd 'a;b'", "get x\\;y "]
        );
    }

    #[test]
    fn escaped_words_split_back_to_themselves() {
        for w in ["dir with spaces/", r"a\b", "it's", "\"q\""] {
            assert_eq!(split_words(&escape_word(w)).unwrap(), vec![w.to_string()]);
        }
    }
}
