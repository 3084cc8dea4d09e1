//! Tab completion on a terminal: command names from the table, then what the command's
//! [`Complete`] kind says (remote paths, listed once per command line; local paths).

use std::cell::RefCell;
use std::rc::Rc;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::Helper;

use super::commands::{find, Complete, COMMANDS};
use super::mirror::option_takes_value;
use super::words::{current_word, escape_word};
use super::State;
use crate::cli::names::escape_controls;

/// The rustyline helper of the shell.
pub(super) struct ShellHelper {
    pub state: Rc<RefCell<State>>,
    pub files: FilenameCompleter,
}

impl ShellHelper {
    /// Command names and aliases starting with `word`.
    fn commands(word: &str) -> Vec<Pair> {
        COMMANDS
            .iter()
            .flat_map(|c| c.names())
            .filter(|c| c.starts_with(word))
            .map(|c| Pair {
                display: c.to_string(),
                replacement: format!("{c} "),
            })
            .collect()
    }

    /// Remote paths starting with `word`; directories end in `/`.
    fn remote(&self, word: &str) -> Vec<Pair> {
        let Ok(mut st) = self.state.try_borrow_mut() else {
            return Vec::new();
        };
        st.remote_candidates(word)
            .into_iter()
            .map(|(n, dir)| Pair {
                display: escape_controls(n.as_bytes()).into_owned(),
                replacement: if dir {
                    format!("{}/", escape_word(&n))
                } else {
                    format!("{} ", escape_word(&n))
                },
            })
            .collect()
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let (start, word) = current_word(before);
        if start == 0 {
            return Ok((0, Self::commands(&word)));
        }
        let words: Vec<&str> = before[..start].split_whitespace().collect();
        let cmd = words.first().copied().unwrap_or("");
        let args = words.get(1..).unwrap_or_default();
        let nth = positional_count(args);
        let reverse = args.iter().any(|w| *w == "-R" || *w == "--reverse");
        let kind = match find(cmd) {
            Some(c) => c.complete,
            // `!COMMAND`: local paths.
            None if cmd.starts_with('!') => Complete::Local,
            None => Complete::Remote,
        };
        let local = match kind {
            Complete::Local => true,
            Complete::Nothing => return Ok((start, Vec::new())),
            Complete::Remote => false,
            Complete::LocalThenRemote => nth == 0,
            Complete::RemoteThenLocal => nth >= 1,
            Complete::Mirror => (nth == 0) == reverse,
        };
        if local {
            self.files.complete(line, pos, ctx)
        } else {
            Ok((start, self.remote(&word)))
        }
    }
}

/// How many of `args` are positional (options and the values they take not counted): which
/// argument the cursor is in.
fn positional_count(args: &[&str]) -> usize {
    let mut n = 0;
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if a.starts_with('-') {
            skip = !a.contains('=') && (*a == "-n" || option_takes_value(a));
        } else {
            n += 1;
        }
    }
    n
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::positional_count;

    #[test]
    fn option_values_are_not_counted_as_arguments() {
        assert_eq!(positional_count(&["-n", "4", "remote"]), 1);
        assert_eq!(positional_count(&["-R", "--parallel", "3", "up"]), 1);
        assert_eq!(positional_count(&["--parallel=3", "a", "b"]), 2);
    }
}
