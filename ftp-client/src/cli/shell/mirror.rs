//! `mirror [-R] [OPTIONS] SRC DST` on the open connection. The words are parsed with the
//! `mirror` subcommand's own [`MirrorArgs`], so every option it has exists here too.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{CommandFactory, Parser};

use super::commands::Call;
use super::State;
use crate::cli::fail;
use crate::cli::mirror::{run_on, MirrorArgs};
use crate::error::ErrorClass;

/// The shell's `mirror` line: the subcommand's arguments and `-R`.
#[derive(Debug, Parser)]
#[command(
    name = "mirror",
    no_binary_name = true,
    about = "Mirror remote SRC into local DST; with -R, local SRC up to remote DST. Remote \
             paths are relative to the remote directory, local ones to the local directory."
)]
struct MirrorLine {
    /// Reverse: upload the local directory SRC into the remote directory DST.
    #[arg(short = 'R', long)]
    reverse: bool,
    #[command(flatten)]
    args: MirrorArgs,
}

/// `mirror [-R] [OPTIONS] SRC DST`; `mirror --help` prints the options. Without `-P`, `set
/// parallel` says how many connections.
pub(super) async fn mirror(st: &mut State, call: Call<'_>) -> Result<()> {
    let mut line = match MirrorLine::try_parse_from(call.args) {
        Ok(l) => l,
        Err(e) if !e.use_stderr() => {
            write!(std::io::stdout(), "{}", e.render())?;
            return Ok(());
        }
        Err(e) => {
            let text = e.render().to_string();
            return Err(fail(ErrorClass::Usage, text.trim_end().to_string()));
        }
    };
    let given = |w: &String| w == "-P" || w.starts_with("--parallel") || w.starts_with("-P");
    if !call.args.iter().any(given) {
        line.args.parallel = st.ctx.parallel;
    }
    let (remote, local) = match line.reverse {
        true => (&line.args.dst, &line.args.src),
        false => (&line.args.src, &line.args.dst),
    };
    let remote = remote.trim_end_matches('/');
    let remote = if remote == "." { "" } else { remote }.as_bytes().to_vec();
    let local = PathBuf::from(local);
    let ctx = st.ctx.clone();
    let s = st.sess()?;
    s.client().await?;
    run_on(&ctx, s, &remote, &local, !line.reverse, &line.args).await
}

/// Whether a `mirror` option takes a value (`-P N`): what Tab completion skips over.
pub(super) fn option_takes_value(word: &str) -> bool {
    let cmd = MirrorLine::command();
    let found = cmd.get_arguments().any(|a| {
        let named = word
            .strip_prefix("--")
            .map(|l| a.get_long() == Some(l))
            .or_else(|| {
                let mut c = word.strip_prefix('-')?.chars();
                Some(a.get_short() == c.next() && c.next().is_none())
            })
            .unwrap_or(false);
        named && a.get_action().takes_values()
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_mirror_parses_the_subcommands_options() {
        let l = MirrorLine::try_parse_from(["-R", "--delete", "-P", "3", "up", "site"]).unwrap();
        assert!(l.reverse && l.args.delete && !l.args.only_newer);
        assert_eq!(l.args.parallel, 3);
        assert_eq!((l.args.src.as_str(), l.args.dst.as_str()), ("up", "site"));
        assert!(MirrorLine::try_parse_from(["--no-such-option", "a", "b"]).is_err());
        assert!(option_takes_value("-P") && option_takes_value("--parallel"));
        assert!(!option_takes_value("--delete") && !option_takes_value("-R"));
    }
}
