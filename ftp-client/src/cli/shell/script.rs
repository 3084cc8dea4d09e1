//! Scripts: `source FILE`. With fail-exit on (the default) the first failing line ends the
//! script with that line's exit class, as lftp's `cmd:fail-exit` does.

use anyhow::{Context as _, Result};

use super::commands::Call;
use super::{line_words, State};
use crate::cli::fail;
use crate::error::ErrorClass;

/// How deep `source` may nest (a file that sources itself stops there).
const MAX_DEPTH: usize = 8;

/// `source FILE`: its lines as commands (`#` comments and blank lines skipped).
pub(super) async fn source(st: &mut State, call: Call<'_>) -> Result<()> {
    let file = call.arg(0)?;
    if st.depth >= MAX_DEPTH {
        return Err(fail(
            ErrorClass::Usage,
            format!("source {file}: nested more than {MAX_DEPTH} deep"),
        ));
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("source {file}"))?;
    st.depth += 1;
    let r = run_lines(st, file, &text).await;
    st.depth -= 1;
    r
}

/// Runs each line of `text` (from `file`); see [`source`].
async fn run_lines(st: &mut State, file: &str, text: &str) -> Result<()> {
    let mut failed: Option<ErrorClass> = None;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let words = line_words(line)
            .map_err(|e| fail(ErrorClass::Usage, format!("{file} line {}: {e}", n + 1)))?;
        if let Err(e) = st.exec(&words).await {
            let class = st.report(&e);
            if st.fail_exit || class == ErrorClass::Interrupted {
                return Err(fail(
                    class,
                    format!(
                        "{file} line {}: failed; the lines after it were not run",
                        n + 1
                    ),
                ));
            }
            failed = Some(class);
        }
        if st.quit {
            break;
        }
    }
    match failed {
        Some(class) => Err(fail(class, format!("{file}: some commands failed"))),
        None => Ok(()),
    }
}
