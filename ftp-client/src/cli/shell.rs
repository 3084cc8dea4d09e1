//! The interactive shell: the classic `ftp` commands, with line editing, history and tab
//! completion of commands and remote paths on a terminal; plain line reading otherwise.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::Helper;

use super::ops::{
    download_file, local_name, long_line, make_parents, remote_name, resolve_login, rjoin,
    upload_file, Login, Session,
};
use super::url::{is_url, FtpUrl};
use super::{classify, error_text, fail, Ctx};
use crate::error::ErrorClass;
use crate::{DataMode, EntryKind, Options, TransferKind};

/// Commands and their help text.
const COMMANDS: &[(&str, &str)] = &[
    ("open", "open URL | open HOST [PORT] — connect and log in"),
    ("user", "user NAME [PASSWORD] — log in again as NAME"),
    ("close", "close — disconnect"),
    ("ls", "ls [PATH] — list names"),
    ("dir", "dir [PATH] — long listing"),
    ("cd", "cd PATH — change the remote directory"),
    ("cdup", "cdup — go to the parent remote directory"),
    ("pwd", "pwd — show the remote directory"),
    ("lcd", "lcd [DIR] — change the local directory"),
    ("lpwd", "lpwd — show the local directory"),
    ("get", "get REMOTE [LOCAL] — download a file"),
    ("reget", "reget REMOTE [LOCAL] — resume a download"),
    ("put", "put LOCAL [REMOTE] — upload a file"),
    ("reput", "reput LOCAL [REMOTE] — resume an upload"),
    (
        "mget",
        "mget PATTERN... — download files matching glob patterns",
    ),
    (
        "mput",
        "mput PATTERN... — upload local files matching glob patterns",
    ),
    ("cat", "cat REMOTE — print a remote file"),
    ("mkdir", "mkdir [-p] PATH — create a remote directory"),
    ("rmdir", "rmdir PATH — remove a remote directory"),
    ("delete", "delete PATH — delete a remote file"),
    ("rename", "rename FROM TO — rename a remote file"),
    ("size", "size PATH — show a file's size"),
    ("modtime", "modtime PATH — show a file's modification time"),
    ("binary", "binary — binary transfers (TYPE I)"),
    ("ascii", "ascii — text transfers (TYPE A)"),
    ("passive", "passive [on|off] — toggle passive mode"),
    (
        "verify-data-peer",
        "verify-data-peer [on|off] — active mode: accept data connections only from the server's address",
    ),
    ("quote", "quote LINE — send a raw command"),
    ("status", "status — show the connection state"),
    ("help", "help [COMMAND] — this list"),
    ("bye", "bye — quit (also quit, exit)"),
];

fn canonical(cmd: &str) -> &str {
    match cmd {
        "quit" | "exit" => "bye",
        "rm" | "del" => "delete",
        "mv" => "rename",
        "?" => "help",
        other => other,
    }
}

/// The setting `on`/`off` asks for; none given toggles to `toggled`.
fn on_off(args: &[String], toggled: bool) -> Result<bool> {
    match args.first().map(String::as_str) {
        None => Ok(toggled),
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(other) => Err(fail(
            ErrorClass::Usage,
            format!("expected on or off, not {other:?}"),
        )),
    }
}

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

struct State {
    ctx: Ctx,
    sess: Option<Session>,
    /// Remote directory listings cached for completion (cleared after each command).
    cache: HashMap<Vec<u8>, Vec<(String, bool)>>,
}

enum Flow {
    Continue,
    Quit,
}

impl State {
    fn sess(&mut self) -> Result<&mut Session> {
        self.sess
            .as_mut()
            .ok_or_else(|| fail(ErrorClass::Usage, "not connected (use open)"))
    }

    async fn open(&mut self, args: &[String]) -> Result<()> {
        let target = args
            .first()
            .ok_or_else(|| fail(ErrorClass::Usage, "usage: open URL | open HOST [PORT]"))?;
        let url = if is_url(target) {
            target.clone()
        } else {
            let host = if target.contains(':') {
                format!("[{target}]")
            } else {
                target.clone()
            };
            format!("ftp://{host}:{}/", args.get(1).map_or("21", String::as_str))
        };
        let u = FtpUrl::parse(&url)?;
        let login = resolve_login(&self.ctx, &u)?;
        self.close().await;
        let anonymous = login.user == "anonymous";
        let mut s = Session::new(&self.ctx, login);
        let c = match s.client().await {
            Ok(c) => c,
            Err(e) if anonymous && e.class() == ErrorClass::Login => {
                // Stay "open" so that `user NAME` can log in, as the classic ftp does.
                eprintln!("Anonymous login refused ({e}); log in with: user NAME [PASSWORD]");
                self.sess = Some(s);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let welcome = c.welcome().text().into_owned();
        if !u.path.is_empty() {
            c.cwd(&u.path).await?;
            s.cwd = Some(s.client().await?.pwd().await?);
        }
        if !self.ctx.quiet {
            eprintln!("Connected to {}.", u.host);
            for l in welcome.lines() {
                eprintln!("{l}");
            }
        }
        self.sess = Some(s);
        Ok(())
    }

    async fn close(&mut self) {
        if let Some(mut s) = self.sess.take() {
            s.quit().await;
        }
    }

    /// Changes the client options of the shell, of its session and of its live connection.
    fn set_options(&mut self, change: impl Fn(&mut Options)) {
        change(&mut self.ctx.opts);
        if let Some(s) = self.sess.as_mut() {
            change(&mut s.opts);
            if let Some(c) = s.client.as_mut() {
                change(c.options_mut());
            }
        }
    }

    async fn exec(&mut self, words: Vec<String>) -> Result<Flow> {
        let Some((cmd, args)) = words.split_first() else {
            return Ok(Flow::Continue);
        };
        let cmd = canonical(cmd.as_str());
        let arg = |i: usize, usage: &str| -> Result<String> {
            args.get(i)
                .cloned()
                .ok_or_else(|| fail(ErrorClass::Usage, format!("usage: {usage}")))
        };
        let mut out = std::io::stdout();
        match cmd {
            "bye" => {
                self.close().await;
                return Ok(Flow::Quit);
            }
            "help" => {
                for (name, text) in COMMANDS {
                    if args.is_empty() || args.iter().any(|a| a == name) {
                        writeln!(out, "{text}")?;
                    }
                }
            }
            "open" => self.open(args).await?,
            "close" => self.close().await,
            "user" => {
                let name = arg(0, "user NAME [PASSWORD]")?;
                let s = self.sess()?;
                let password = match args.get(1) {
                    Some(p) => p.clone(),
                    None => {
                        if let Ok(p) = std::env::var("FTP_PASSWORD") {
                            p
                        } else if std::io::stdin().is_terminal() {
                            rpassword::prompt_password("Password: ")?
                        } else {
                            return Err(fail(
                                ErrorClass::Login,
                                "no password (stdin is not a terminal)",
                            ));
                        }
                    }
                };
                let login = Login {
                    user: name,
                    password,
                    ..s.login.clone()
                };
                s.quit().await;
                s.login = login;
                s.cwd = None;
                s.client().await?;
            }
            "ls" | "dir" | "nlist" => {
                let path = args.first().map(|a| a.as_bytes().to_vec());
                let c = self.sess()?.client().await?;
                let entries = c.list(path.as_deref()).await?;
                let mut o = out.lock();
                for e in &entries {
                    if cmd == "dir" {
                        writeln!(o, "{}", long_line(e))?;
                    } else {
                        o.write_all(&e.name)?;
                        o.write_all(b"\n")?;
                    }
                }
            }
            "cd" => {
                let p = arg(0, "cd PATH")?;
                let s = self.sess()?;
                let c = s.client().await?;
                c.cwd(p.as_bytes()).await?;
                s.cwd = Some(c.pwd().await?);
            }
            "cdup" => {
                let s = self.sess()?;
                let c = s.client().await?;
                c.cdup().await?;
                s.cwd = Some(c.pwd().await?);
            }
            "pwd" => {
                let c = self.sess()?.client().await?;
                let p = c.pwd().await?;
                out.write_all(&p)?;
                out.write_all(b"\n")?;
            }
            "lcd" => {
                let dir = match args.first() {
                    Some(d) => PathBuf::from(d),
                    None => std::env::var_os("HOME")
                        .map(PathBuf::from)
                        .unwrap_or_else(|| ".".into()),
                };
                std::env::set_current_dir(&dir)
                    .with_context(|| format!("lcd {}", dir.display()))?;
                writeln!(
                    out,
                    "Local directory now {}",
                    std::env::current_dir()?.display()
                )?;
            }
            "lpwd" => writeln!(out, "{}", std::env::current_dir()?.display())?,
            "get" | "reget" | "recv" => {
                let remote = arg(0, "get REMOTE [LOCAL]")?;
                let local = match args.get(1) {
                    Some(l) => PathBuf::from(l),
                    None => local_name(base_name(remote.as_bytes())),
                };
                let ctx = self.ctx.clone();
                let s = self.sess()?;
                download_file(
                    &ctx,
                    s,
                    remote.as_bytes(),
                    &local,
                    cmd == "reget",
                    None,
                    None,
                )
                .await?;
            }
            "put" | "reput" | "send" => {
                let local = arg(0, "put LOCAL [REMOTE]")?;
                let remote = match args.get(1) {
                    Some(r) => r.as_bytes().to_vec(),
                    None => {
                        remote_name(Path::new(Path::new(&local).file_name().unwrap_or_default()))
                    }
                };
                let ctx = self.ctx.clone();
                let s = self.sess()?;
                upload_file(&ctx, s, Path::new(&local), &remote, cmd == "reput", false).await?;
            }
            "mget" => {
                if args.is_empty() {
                    return Err(fail(ErrorClass::Usage, "usage: mget PATTERN..."));
                }
                let ctx = self.ctx.clone();
                let s = self.sess()?;
                let mut failed = 0;
                let mut matched = 0;
                for pat in args {
                    let (dir, name_pat) = match pat.rfind('/') {
                        Some(i) => (pat.as_bytes()[..i].to_vec(), &pat[i + 1..]),
                        None => (Vec::new(), pat.as_str()),
                    };
                    let pattern = glob::Pattern::new(name_pat)
                        .map_err(|e| fail(ErrorClass::Usage, format!("bad pattern {pat}: {e}")))?;
                    let entries = s.client().await?.list(Some(&dir)).await?;
                    for e in entries.iter().filter(|e| e.kind == EntryKind::File) {
                        if !pattern.matches(&e.name_lossy()) {
                            continue;
                        }
                        matched += 1;
                        let remote = rjoin(&dir, &e.name);
                        if let Err(err) = download_file(
                            &ctx,
                            s,
                            &remote,
                            &local_name(&e.name),
                            false,
                            e.modified,
                            None,
                        )
                        .await
                        {
                            eprintln!("mget {}: {}", e.name_lossy(), error_text(&err));
                            failed += 1;
                        }
                    }
                }
                if matched == 0 {
                    return Err(fail(ErrorClass::NotFound, "no remote file matches"));
                }
                if failed > 0 {
                    return Err(fail(
                        ErrorClass::Partial,
                        format!("{failed} of {matched} files failed"),
                    ));
                }
            }
            "mput" => {
                if args.is_empty() {
                    return Err(fail(ErrorClass::Usage, "usage: mput PATTERN..."));
                }
                let ctx = self.ctx.clone();
                let s = self.sess()?;
                let mut failed = 0;
                let mut matched = 0;
                for pat in args {
                    let paths = glob::glob(pat)
                        .map_err(|e| fail(ErrorClass::Usage, format!("bad pattern {pat}: {e}")))?;
                    for p in paths.flatten().filter(|p| p.is_file()) {
                        matched += 1;
                        let remote = remote_name(Path::new(p.file_name().unwrap_or_default()));
                        if let Err(err) = upload_file(&ctx, s, &p, &remote, false, false).await {
                            eprintln!("mput {}: {}", p.display(), error_text(&err));
                            failed += 1;
                        }
                    }
                }
                if matched == 0 {
                    return Err(fail(ErrorClass::NotFound, "no local file matches"));
                }
                if failed > 0 {
                    return Err(fail(
                        ErrorClass::Partial,
                        format!("{failed} of {matched} files failed"),
                    ));
                }
            }
            "cat" => {
                let remote = arg(0, "cat REMOTE")?;
                let c = self.sess()?.client().await?;
                let mut dl = c.retr(remote.as_bytes(), 0).await?;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = futures_lite::io::AsyncReadExt::read(&mut dl, &mut buf)
                        .await
                        .map_err(|e| super::ops::io_to_ftp(e, "receiving data"))?;
                    if n == 0 {
                        break;
                    }
                    out.write_all(&buf[..n])?;
                }
                dl.finish().await?;
            }
            "mkdir" => {
                let p = arg(0, "mkdir PATH")?;
                let c = self.sess()?.client().await?;
                if args.iter().any(|a| a == "-p") {
                    let p = args
                        .iter()
                        .find(|a| *a != "-p")
                        .cloned()
                        .unwrap_or_default();
                    make_parents(c, p.as_bytes()).await;
                    let _ = c.mkdir(p.as_bytes()).await;
                } else {
                    let made = c.mkdir(p.as_bytes()).await?;
                    if !self.ctx.quiet {
                        eprintln!("created {}", String::from_utf8_lossy(&made));
                    }
                }
            }
            "rmdir" => {
                let p = arg(0, "rmdir PATH")?;
                self.sess()?.client().await?.rmdir(p.as_bytes()).await?;
            }
            "delete" => {
                let p = arg(0, "delete PATH")?;
                self.sess()?.client().await?.delete(p.as_bytes()).await?;
            }
            "rename" => {
                let from = arg(0, "rename FROM TO")?;
                let to = arg(1, "rename FROM TO")?;
                self.sess()?
                    .client()
                    .await?
                    .rename(from.as_bytes(), to.as_bytes())
                    .await?;
            }
            "size" => {
                let p = arg(0, "size PATH")?;
                let n = self.sess()?.client().await?.size(p.as_bytes()).await?;
                writeln!(out, "{p}\t{n}")?;
            }
            "modtime" => {
                let p = arg(0, "modtime PATH")?;
                let t = self.sess()?.client().await?.mdtm(p.as_bytes()).await?;
                writeln!(
                    out,
                    "{p}\t{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                    t.year(),
                    t.month(),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )?;
            }
            "binary" | "image" | "ascii" => {
                let kind = if cmd == "ascii" {
                    TransferKind::Ascii
                } else {
                    TransferKind::Binary
                };
                self.ctx.kind = kind;
                if let Some(s) = self.sess.as_mut() {
                    s.kind = kind;
                    if let Some(c) = s.client.as_mut() {
                        c.set_transfer_kind(kind);
                    }
                }
                writeln!(
                    out,
                    "Transfer mode: {}",
                    if cmd == "ascii" { "ascii" } else { "binary" }
                )?;
            }
            "passive" => {
                let on = on_off(args, self.ctx.opts.mode != DataMode::Passive)?;
                let mode = if on {
                    DataMode::Passive
                } else {
                    DataMode::Active
                };
                self.set_options(|o| o.mode = mode);
                writeln!(out, "Passive mode: {}", if on { "on" } else { "off" })?;
            }
            "verify-data-peer" => {
                let on = on_off(args, !self.ctx.opts.verify_data_peer)?;
                self.set_options(|o| o.verify_data_peer = on);
                writeln!(out, "Data peer check: {}", if on { "on" } else { "off" })?;
            }
            "quote" | "literal" => {
                if args.is_empty() {
                    return Err(fail(ErrorClass::Usage, "usage: quote LINE"));
                }
                let line = args.join(" ");
                let r = self.sess()?.client().await?.raw(&line).await?;
                writeln!(out, "{r}")?;
            }
            "status" => {
                match &self.sess {
                    Some(s) if s.client.is_some() => writeln!(
                        out,
                        "Connected to {}:{} as {}.",
                        s.login.host, s.login.port, s.login.user
                    )?,
                    Some(s) => {
                        writeln!(out, "Not logged in to {}:{}.", s.login.host, s.login.port)?
                    }
                    None => writeln!(out, "Not connected.")?,
                }
                writeln!(
                    out,
                    "Mode: {}; type: {}; data peer check: {}.",
                    if self.ctx.opts.mode == DataMode::Passive {
                        "passive"
                    } else {
                        "active"
                    },
                    if self.ctx.kind == TransferKind::Ascii {
                        "ascii"
                    } else {
                        "binary"
                    },
                    if self.ctx.opts.verify_data_peer {
                        "on"
                    } else {
                        "off"
                    }
                )?;
            }
            other => {
                return Err(fail(
                    ErrorClass::Usage,
                    format!("unknown command {other:?} (try help)"),
                ));
            }
        }
        Ok(Flow::Continue)
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

fn base_name(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|b| *b == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

struct ShellHelper {
    state: Rc<RefCell<State>>,
    files: FilenameCompleter,
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
        let start = before.rfind(' ').map_or(0, |i| i + 1);
        let word = &before[start..];
        if start == 0 {
            let v = COMMANDS
                .iter()
                .map(|(c, _)| *c)
                .chain(["quit", "exit", "rm"])
                .filter(|c| c.starts_with(word))
                .map(|c| Pair {
                    display: c.to_string(),
                    replacement: format!("{c} "),
                })
                .collect();
            return Ok((0, v));
        }
        let cmd = before.split_whitespace().next().unwrap_or("");
        if matches!(cmd, "lcd" | "put" | "reput" | "mput" | "send") && before[..start].trim() == cmd
        {
            return self.files.complete(line, pos, ctx);
        }
        let Ok(mut st) = self.state.try_borrow_mut() else {
            return Ok((start, Vec::new()));
        };
        let v = st
            .remote_candidates(word)
            .into_iter()
            .map(|(n, dir)| Pair {
                display: n.clone(),
                replacement: if dir {
                    format!("{n}/")
                } else {
                    format!("{n} ")
                },
            })
            .collect();
        Ok((start, v))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FTP_CLIENT_HISTORY") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("ftp-client").join("history"))
}

/// Runs one line; returns `None` to quit, else the failure class if the command failed.
fn run_line(state: &Rc<RefCell<State>>, line: &str) -> Option<Option<ErrorClass>> {
    let words = match split_words(line) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("ftp-client: {e}");
            return Some(Some(ErrorClass::Usage));
        }
    };
    let mut st = state.borrow_mut();
    st.cache.clear();
    let started = Instant::now();
    let r = smol::block_on(st.exec(words));
    let _ = started;
    match r {
        Ok(Flow::Quit) => None,
        Ok(Flow::Continue) => {
            let _ = std::io::stdout().flush();
            Some(None)
        }
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("ftp-client: {}", error_text(&e));
            let class = classify(&e);
            // A broken connection is forgotten so the next command reconnects.
            if matches!(class, ErrorClass::Connect | ErrorClass::Timeout) {
                if let Some(s) = st.sess.as_mut() {
                    s.reset();
                }
            }
            Some(Some(class))
        }
    }
}

pub(crate) fn run(ctx: Ctx, url: Option<String>) -> Result<()> {
    let interactive = ctx.interactive && std::io::stdout().is_terminal();
    let state = Rc::new(RefCell::new(State {
        ctx,
        sess: None,
        cache: HashMap::new(),
    }));
    let mut last_failure = None;
    if let Some(u) = url {
        if let Some(Some(class)) = run_line(&state, &format!("open {}", shell_quote(&u))) {
            last_failure = Some(class);
            if !interactive {
                return Err(fail(class, "could not open the connection"));
            }
        }
    }
    if interactive {
        let config = rustyline::Config::builder()
            .auto_add_history(true)
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
                    if run_line(&state, &line).is_none() {
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
        smol::block_on(state.borrow_mut().close());
        return Ok(());
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock();
    let mut buf = String::new();
    loop {
        buf.clear();
        match lines.read_line(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(e).context("reading commands"),
        }
        let line = buf.trim_end_matches(['\n', '\r']);
        if line.trim_start().starts_with('#') {
            continue;
        }
        match run_line(&state, line) {
            None => break,
            Some(Some(class)) => last_failure = Some(class),
            Some(None) => {}
        }
    }
    smol::block_on(state.borrow_mut().close());
    match last_failure {
        Some(class) => Err(fail(class, "some commands failed")),
        None => Ok(()),
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
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
}
