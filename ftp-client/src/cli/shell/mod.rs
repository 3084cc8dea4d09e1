//! The interactive shell: the classic `ftp` commands, with line editing, history and tab
//! completion of commands and remote paths on a terminal; plain line reading otherwise.
//!
//! The commands are one table, [`commands::COMMANDS`]; their handlers live in one module per
//! family: `session` (open, user, quote, help, bye), `navigation` (ls, cd, pwd), `local`
//! (lcd, lpwd, lls, lmkdir, !), `transfer` (get, pget, put, mget, mput, cat), `mirror`,
//! `files` (mkdir, delete, mrm, rename, chmod, size), `tree` (du, find), `settings`
//! (binary, passive, clobber, set, status), `bookmarks` and `script` (source).
//!
//! Scripts: `-c "cmd; cmd"` and `source FILE` stop at the first failing command with its
//! exit class unless `fail-exit` is off (`--keep-going`, `set fail-exit off`); commands piped
//! into stdin all run, and the exit status is the last failure's.

mod bookmarks;
mod commands;
mod complete;
mod files;
mod history;
mod local;
mod mirror;
mod navigation;
mod script;
mod server;
mod session;
mod settings;
mod transfer;
mod tree;
mod words;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::rc::Rc;

use anyhow::{Context as _, Result};
use rustyline::completion::FilenameCompleter;

use super::interrupt::{catch, forget_pending, until_interrupt};
use super::session::Session;
use super::transfer::interrupted_download;
use super::{classify, error_text, fail, Ctx};
use crate::error::ErrorClass;
use crate::EntryKind;
use commands::Call;
use complete::ShellHelper;
use history::{history_entry, history_path};
use words::split_commands;
pub(crate) use words::split_words;

/// What the shell's commands work on.
struct State {
    ctx: Ctx,
    sess: Option<Session>,
    /// Remote directory listings cached for completion (cleared after each command).
    cache: HashMap<Vec<u8>, Vec<(String, bool)>>,
    /// The local file of the download in progress and the command that resumes it: what
    /// Ctrl-C reports.
    in_flight: Option<(PathBuf, String)>,
    /// Set by `bye`: the shell ends after this command.
    quit: bool,
    /// A failed command ends a `-c` or `source` script (`set fail-exit`).
    fail_exit: bool,
    /// How many `source` files are being read, one inside the other.
    depth: usize,
}

impl State {
    fn sess(&mut self) -> Result<&mut Session> {
        self.sess
            .as_mut()
            .ok_or_else(|| fail(ErrorClass::Usage, "not connected (use open)"))
    }

    async fn close(&mut self) {
        if let Some(mut s) = self.sess.take() {
            s.quit().await;
        }
    }

    /// Runs one command line, split into words, through the command table.
    async fn exec(&mut self, words: &[String]) -> Result<()> {
        let Some((word, args)) = words.split_first() else {
            return Ok(());
        };
        let cmd = commands::find(word).ok_or_else(|| {
            fail(
                ErrorClass::Usage,
                format!("unknown command {word:?} (try help)"),
            )
        })?;
        (cmd.run)(self, Call { cmd, args }).await
    }

    /// Prints a command's error and returns its class; a broken connection is forgotten,
    /// so the next command reconnects.
    fn report(&mut self, e: &anyhow::Error) -> ErrorClass {
        eprintln!("ftp-client: {}", error_text(e));
        let class = classify(e);
        if matches!(class, ErrorClass::Connect | ErrorClass::Timeout) {
            if let Some(s) = self.sess.as_mut() {
                s.reset();
            }
        }
        class
    }

    /// After Ctrl-C ended a command: aborts its transfer, and returns the error that says
    /// what became of its partial file.
    async fn interrupted(&mut self) -> anyhow::Error {
        if let Some(s) = self.sess.as_mut() {
            s.after_interrupt().await;
        }
        match self.in_flight.take() {
            Some((local, again)) => interrupted_download(&local, &again),
            None => fail(ErrorClass::Interrupted, "interrupted"),
        }
    }

    /// Completion candidates for a remote path prefix.
    fn remote_candidates(&mut self, word: &str) -> Vec<(String, bool)> {
        let (dir, _) = match word.rfind('/') {
            Some(i) => (&word[..=i], &word[i + 1..]),
            None => ("", word),
        };
        let key = dir.as_bytes().to_vec();
        if !self.cache.contains_key(&key) {
            let Some(s) = self.sess.as_mut() else {
                return Vec::new();
            };
            let list = smol::block_on(async {
                let c = s.client().await.ok()?;
                c.list(Some(dir.trim_end_matches('/').as_bytes()))
                    .await
                    .ok()
            })
            .unwrap_or_default();
            let names = list
                .iter()
                .map(|e| (format!("{dir}{}", e.name_lossy()), e.kind == EntryKind::Dir))
                .collect();
            self.cache.insert(key.clone(), names);
        }
        self.cache
            .get(&key)
            .map(|v| {
                v.iter()
                    .filter(|(n, _)| n.starts_with(word))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Runs one line; returns `None` to quit, else the failure class if the command failed.
/// Ctrl-C (caught by `signals`) ends the command: see [`State::interrupted`].
fn run_line(
    state: &Rc<RefCell<State>>,
    line: &str,
    signals: Option<&async_signal::Signals>,
) -> Option<Option<ErrorClass>> {
    let words = match line_words(line) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("ftp-client: {e}");
            return Some(Some(ErrorClass::Usage));
        }
    };
    let mut st = state.borrow_mut();
    st.cache.clear();
    st.in_flight = None;
    let r = smol::block_on(until_interrupt(signals, st.exec(&words)))
        .unwrap_or_else(|| Err(smol::block_on(st.interrupted())));
    let _ = std::io::stdout().flush();
    match r {
        Ok(()) if st.quit => None,
        Ok(()) => Some(None),
        Err(e) => Some(Some(st.report(&e))),
    }
}

/// A command line as words; `!COMMAND` is the word `!` and the rest of the line as one.
fn line_words(line: &str) -> Result<Vec<String>, String> {
    match line.trim_start().strip_prefix('!') {
        Some(rest) if rest.trim().is_empty() => Ok(vec!["!".into()]),
        Some(rest) => Ok(vec!["!".into(), rest.trim().into()]),
        None => split_words(line),
    }
}

/// How the shell runs: the server to open first, and the commands of `-c`.
pub(crate) struct Start {
    pub url: Option<String>,
    /// `-c "cmd; cmd"`: run these instead of reading stdin.
    pub commands: Option<String>,
    /// `--keep-going`: a failed command does not end a script.
    pub keep_going: bool,
}

/// The shell: opens `url` first if given, then runs the `-c` commands, or reads commands
/// from the terminal (line editing) or from stdin (a script: the exit status is the last
/// failure's class).
pub(crate) fn run(ctx: Ctx, start: Start) -> Result<()> {
    let Start {
        url,
        commands,
        keep_going,
    } = start;
    let interactive = ctx.interactive && std::io::stdout().is_terminal() && commands.is_none();
    let state = Rc::new(RefCell::new(State {
        ctx,
        sess: None,
        cache: HashMap::new(),
        in_flight: None,
        quit: false,
        fail_exit: !keep_going,
        depth: 0,
    }));
    let signals = catch();
    let mut last_failure = None;
    if let Some(u) = url {
        let open = format!("open {}", shell_quote(&u));
        if let Some(Some(class)) = run_line(&state, &open, signals.as_ref()) {
            last_failure = Some(class);
            if !interactive {
                return Err(fail(class, "could not open the connection"));
            }
        }
    }
    if let Some(text) = commands {
        let ran = run_commands(&state, &text, signals.as_ref());
        if ran.is_err() {
            smol::block_on(state.borrow_mut().close());
        }
        last_failure = ran?.or(last_failure);
    } else if interactive {
        run_terminal(&state, signals.as_ref())?;
    } else {
        last_failure = run_script(&state, signals.as_ref())?.or(last_failure);
    }
    smol::block_on(state.borrow_mut().close());
    match last_failure.filter(|_| !interactive) {
        Some(class) => Err(fail(class, "some commands failed")),
        None => Ok(()),
    }
}

/// Reads lines with rustyline (history, completion) until `bye` or end of input.
fn run_terminal(state: &Rc<RefCell<State>>, signals: Option<&async_signal::Signals>) -> Result<()> {
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .max_history_size(1000)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .build();
    let mut ed: rustyline::Editor<ShellHelper, rustyline::history::FileHistory> =
        rustyline::Editor::with_config(config)?;
    ed.set_helper(Some(ShellHelper {
        state: state.clone(),
        files: FilenameCompleter::new(),
    }));
    let hist = history_path();
    if let Some(h) = &hist {
        let _ = ed.load_history(h);
    }
    loop {
        match ed.readline("ftp> ") {
            Ok(line) => {
                if let Some(entry) = history_entry(&line) {
                    let _ = ed.add_history_entry(entry);
                }
                if let Some(s) = signals {
                    forget_pending(s);
                }
                if run_line(state, &line, signals).is_none() {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
    if let Some(h) = &hist {
        if let Some(parent) = h.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = ed.save_history(h);
    }
    Ok(())
}

/// Reads commands from stdin (`#` starts a comment line) until `bye`, end of input or
/// Ctrl-C; returns the class of the last failure.
fn run_script(
    state: &Rc<RefCell<State>>,
    signals: Option<&async_signal::Signals>,
) -> Result<Option<ErrorClass>> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock();
    let mut buf = String::new();
    let mut last_failure = None;
    loop {
        buf.clear();
        if lines.read_line(&mut buf).context("reading commands")? == 0 {
            break;
        }
        let line = buf.trim_end_matches(['\n', '\r']);
        if line.trim_start().starts_with('#') {
            continue;
        }
        match run_line(state, line, signals) {
            None => break,
            // Ctrl-C ends a script.
            Some(Some(ErrorClass::Interrupted)) => {
                last_failure = Some(ErrorClass::Interrupted);
                break;
            }
            Some(Some(class)) => last_failure = Some(class),
            Some(None) => {}
        }
    }
    Ok(last_failure)
}

/// Runs the `-c` commands (separated by `;` or new lines) until `bye` or, with fail-exit, the
/// first failure (whose class ends the program); returns the class of the last failure.
fn run_commands(
    state: &Rc<RefCell<State>>,
    text: &str,
    signals: Option<&async_signal::Signals>,
) -> Result<Option<ErrorClass>> {
    let mut last_failure = None;
    for cmd in split_commands(text) {
        match run_line(state, &cmd, signals) {
            None => break,
            Some(Some(class)) if class == ErrorClass::Interrupted || state.borrow().fail_exit => {
                return Err(fail(
                    class,
                    format!(
                        "`{}` failed; the commands after it were not run",
                        cmd.trim()
                    ),
                ));
            }
            Some(Some(class)) => last_failure = Some(class),
            Some(None) => {}
        }
    }
    Ok(last_failure)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
