//! The local side: `lcd`, `lpwd`, `lls`, `lmkdir` and `!COMMAND`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result};

use super::commands::Call;
use super::State;
use crate::cli::fail;
use crate::error::ErrorClass;

/// `lcd [DIR]`: to DIR, or to `$HOME`.
pub(super) async fn lcd(_: &mut State, call: Call<'_>) -> Result<()> {
    let dir = match call.args.first() {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| ".".into()),
    };
    std::env::set_current_dir(&dir).with_context(|| format!("lcd {}", dir.display()))?;
    let now = std::env::current_dir()?;
    writeln!(std::io::stdout(), "Local directory now {}", now.display())?;
    Ok(())
}

pub(super) async fn lpwd(_: &mut State, _: Call<'_>) -> Result<()> {
    writeln!(std::io::stdout(), "{}", std::env::current_dir()?.display())?;
    Ok(())
}

/// `lls [ARGS...]`: `ls` on the local side, with glob arguments expanded here.
pub(super) async fn lls(_: &mut State, call: Call<'_>) -> Result<()> {
    let mut args = Vec::new();
    for a in call.args {
        let matches: Vec<PathBuf> = match a.contains(['*', '?', '[']) {
            true => glob::glob(a)
                .map(|g| g.flatten().collect())
                .unwrap_or_default(),
            false => Vec::new(),
        };
        if matches.is_empty() {
            args.push(PathBuf::from(a));
        } else {
            args.extend(matches);
        }
    }
    run_local(std::process::Command::new("ls").args(&args), "lls")
}

/// `lmkdir [-p] DIR`.
pub(super) async fn lmkdir(_: &mut State, call: Call<'_>) -> Result<()> {
    let parents = call.args.iter().any(|a| a == "-p");
    let dirs: Vec<&String> = call.args.iter().filter(|a| *a != "-p").collect();
    if dirs.is_empty() {
        return Err(call.usage());
    }
    for d in dirs {
        let r = match parents {
            true => std::fs::create_dir_all(d),
            false => std::fs::create_dir(d),
        };
        r.with_context(|| format!("lmkdir {d}"))?;
    }
    Ok(())
}

/// `! [COMMAND]` (also `!COMMAND`): COMMAND through `$SHELL -c` (`/bin/sh` without
/// `$SHELL`), or an interactive `$SHELL`; its failure is the command's failure.
pub(super) async fn shell_escape(_: &mut State, call: Call<'_>) -> Result<()> {
    let sh = std::env::var_os("SHELL")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    let mut cmd = std::process::Command::new(sh);
    if !call.args.is_empty() {
        cmd.arg("-c").arg(call.args.join(" "));
    }
    run_local(&mut cmd, "!")
}

/// Runs a local program on the shell's terminal (stdin, stdout and stderr shared); a
/// non-zero exit is an error.
fn run_local(cmd: &mut std::process::Command, what: &str) -> Result<()> {
    std::io::stdout().flush()?;
    // A script read from stdin is not the program's input.
    if !std::io::stdin().is_terminal() {
        cmd.stdin(std::process::Stdio::null());
    }
    let status = cmd.status().with_context(|| format!("{what}: starting"))?;
    if status.success() {
        return Ok(());
    }
    let why = match status.code() {
        Some(c) => format!("{what}: exit status {c}"),
        None => format!("{what}: killed by a signal"),
    };
    Err(fail(ErrorClass::Transfer, why))
}
