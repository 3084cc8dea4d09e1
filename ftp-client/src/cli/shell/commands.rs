//! The shell's commands: one table that dispatch, `help`, completion and the history filter
//! all read.
//!
//! To add a command, write its handler (`async fn(&mut State, Call<'_>) -> Result<()>`) in
//! the module of its family and add one row to [`COMMANDS`]: name, aliases, usage, help
//! line, completion kind and handler.

use std::future::Future;
use std::pin::Pin;

use anyhow::Result;

use super::{
    bookmarks, files, local, mirror, navigation, script, server, session, settings, transfer, tree,
    State,
};
use crate::cli::fail;
use crate::error::ErrorClass;

/// What Tab completes in a command's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Complete {
    /// Remote paths.
    Remote,
    /// Local paths.
    Local,
    /// A local path first, then remote paths (`put LOCAL [REMOTE]`).
    LocalThenRemote,
    /// A remote path first, then a local one (`get REMOTE [LOCAL]`).
    RemoteThenLocal,
    /// `mirror`: remote then local, local then remote after `-R`.
    Mirror,
    /// Nothing: the command takes no path.
    Nothing,
}

/// One command line, as a handler receives it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Call<'a> {
    /// The table row of the command (whichever alias was typed).
    pub cmd: &'static Command,
    /// The words after the command.
    pub args: &'a [String],
}

impl<'a> Call<'a> {
    /// Argument `i`, or a usage error naming the command's usage.
    pub fn arg(&self, i: usize) -> Result<&'a str> {
        self.args
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| self.usage())
    }

    /// Splits off the leading single-letter options (up to `--` or the first other word;
    /// `-sh` is `-s -h`), each of which must be one of `letters`: the letters given, and the
    /// words after them.
    pub fn flags(&self, letters: &str) -> Result<(String, &'a [String])> {
        let mut seen = String::new();
        let mut rest = self.args;
        while let Some((w, tail)) = rest.split_first() {
            if w == "--" {
                rest = tail;
                break;
            }
            let Some(opts) = w.strip_prefix('-').filter(|o| !o.is_empty()) else {
                break;
            };
            if let Some(bad) = opts.chars().find(|c| !letters.contains(*c)) {
                return Err(fail(
                    ErrorClass::Usage,
                    format!("unknown option -{bad}; usage: {}", self.cmd.usage),
                ));
            }
            seen.push_str(opts);
            rest = tail;
        }
        Ok((seen, rest))
    }

    /// The usage error: `usage: …` from the table.
    pub fn usage(&self) -> anyhow::Error {
        fail(ErrorClass::Usage, format!("usage: {}", self.cmd.usage))
    }
}

/// A boxed handler future, borrowing the shell state and the command line.
pub(super) type Run<'a> = Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// A command's handler.
pub(super) type Handler = for<'a> fn(&'a mut State, Call<'a>) -> Run<'a>;

/// A shell command: one row of [`COMMANDS`].
#[derive(Debug)]
pub(super) struct Command {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// `get REMOTE [LOCAL]`: shown by `help` and in usage errors.
    pub usage: &'static str,
    pub help: &'static str,
    pub complete: Complete,
    pub run: Handler,
}

impl Command {
    /// The line `help` prints: `usage — help (also alias, …)`.
    pub fn help_line(&self) -> String {
        let mut line = format!("{} — {}", self.usage, self.help);
        if !self.aliases.is_empty() {
            line.push_str(&format!(" (also {})", self.aliases.join(", ")));
        }
        line
    }

    /// The name and the aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

/// The command a word names (its name or one of its aliases).
pub(super) fn find(word: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.names().any(|n| n == word))
}

/// `handler!(module::function)`: the table's boxed form of an `async fn` handler.
macro_rules! handler {
    ($f:path) => {
        |st, call| Box::pin($f(st, call))
    };
}

use Complete::{Local, LocalThenRemote, Mirror, Nothing, Remote, RemoteThenLocal};

/// Every shell command, in the order `help` lists them.
pub(super) const COMMANDS: &[Command] = &[
    // The session: connecting, logging in, raw commands.
    Command {
        name: "open",
        aliases: &[],
        usage: "open URL | open BOOKMARK | open HOST [PORT]",
        help: "connect and log in (ftps:// implicit FTPS, port 990; ftpes:// explicit FTPS)",
        complete: Nothing,
        run: handler!(session::open),
    },
    Command {
        name: "user",
        aliases: &[],
        usage: "user NAME [PASSWORD]",
        help: "log in again as NAME",
        complete: Nothing,
        run: handler!(session::user),
    },
    Command {
        name: "close",
        aliases: &[],
        usage: "close",
        help: "disconnect",
        complete: Nothing,
        run: handler!(session::close),
    },
    // Navigation and listings.
    Command {
        name: "ls",
        aliases: &["nlist"],
        usage: "ls [PATH]",
        help: "list names",
        complete: Remote,
        run: handler!(navigation::ls),
    },
    Command {
        name: "dir",
        aliases: &[],
        usage: "dir [PATH]",
        help: "long listing",
        complete: Remote,
        run: handler!(navigation::dir),
    },
    Command {
        name: "cd",
        aliases: &[],
        usage: "cd PATH",
        help: "change the remote directory",
        complete: Remote,
        run: handler!(navigation::cd),
    },
    Command {
        name: "cdup",
        aliases: &[],
        usage: "cdup",
        help: "go to the parent remote directory",
        complete: Nothing,
        run: handler!(navigation::cdup),
    },
    Command {
        name: "pwd",
        aliases: &[],
        usage: "pwd",
        help: "show the remote directory",
        complete: Nothing,
        run: handler!(navigation::pwd),
    },
    // The local side.
    Command {
        name: "lcd",
        aliases: &[],
        usage: "lcd [DIR]",
        help: "change the local directory",
        complete: Local,
        run: handler!(local::lcd),
    },
    Command {
        name: "lpwd",
        aliases: &[],
        usage: "lpwd",
        help: "show the local directory",
        complete: Nothing,
        run: handler!(local::lpwd),
    },
    Command {
        name: "lls",
        aliases: &[],
        usage: "lls [ARGS...]",
        help: "list local files (runs ls; globs expanded)",
        complete: Local,
        run: handler!(local::lls),
    },
    Command {
        name: "lmkdir",
        aliases: &[],
        usage: "lmkdir [-p] DIR",
        help: "create a local directory",
        complete: Local,
        run: handler!(local::lmkdir),
    },
    Command {
        name: "!",
        aliases: &[],
        usage: "! [COMMAND]",
        help: "run COMMAND (or an interactive shell) through $SHELL; also !COMMAND",
        complete: Local,
        run: handler!(local::shell_escape),
    },
    // Transfers.
    Command {
        name: "get",
        aliases: &["recv"],
        usage: "get REMOTE [LOCAL]",
        help: "download a file (a glob in REMOTE: every match, into LOCAL if a directory)",
        complete: RemoteThenLocal,
        run: handler!(transfer::get),
    },
    Command {
        name: "reget",
        aliases: &[],
        usage: "reget REMOTE [LOCAL]",
        help: "resume a download",
        complete: RemoteThenLocal,
        run: handler!(transfer::reget),
    },
    Command {
        name: "pget",
        aliases: &[],
        usage: "pget [-c] [-n N] REMOTE [LOCAL]",
        help: "download over N connections at once (ranges with REST; -c resumes)",
        complete: RemoteThenLocal,
        run: handler!(transfer::pget),
    },
    Command {
        name: "mirror",
        aliases: &[],
        usage: "mirror [-R] [OPTIONS] SRC DST",
        help: "mirror remote SRC into local DST (-R: local SRC up to remote DST); mirror --help lists the options",
        complete: Mirror,
        run: handler!(mirror::mirror),
    },
    Command {
        name: "put",
        aliases: &["send"],
        usage: "put LOCAL [REMOTE]",
        help: "upload a file",
        complete: LocalThenRemote,
        run: handler!(transfer::put),
    },
    Command {
        name: "reput",
        aliases: &[],
        usage: "reput LOCAL [REMOTE]",
        help: "resume an upload",
        complete: LocalThenRemote,
        run: handler!(transfer::reput),
    },
    Command {
        name: "mget",
        aliases: &[],
        usage: "mget PATTERN...",
        help: "download files matching glob patterns",
        complete: Remote,
        run: handler!(transfer::mget),
    },
    Command {
        name: "mput",
        aliases: &[],
        usage: "mput PATTERN...",
        help: "upload local files matching glob patterns",
        complete: LocalThenRemote,
        run: handler!(transfer::mput),
    },
    Command {
        name: "cat",
        aliases: &[],
        usage: "cat REMOTE",
        help: "print a remote file",
        complete: Remote,
        run: handler!(transfer::cat),
    },
    // Remote files and directories.
    Command {
        name: "mkdir",
        aliases: &[],
        usage: "mkdir [-p] PATH",
        help: "create a remote directory",
        complete: Remote,
        run: handler!(files::mkdir),
    },
    Command {
        name: "rmdir",
        aliases: &[],
        usage: "rmdir PATH",
        help: "remove a remote directory",
        complete: Remote,
        run: handler!(files::rmdir),
    },
    Command {
        name: "delete",
        aliases: &["rm", "del"],
        usage: "delete [-r] PATH...",
        help: "delete remote files (globs matched here; -r: directories with all they hold)",
        complete: Remote,
        run: handler!(files::delete),
    },
    Command {
        name: "mrm",
        aliases: &[],
        usage: "mrm PATTERN...",
        help: "delete the remote files matching glob patterns",
        complete: Remote,
        run: handler!(files::mrm),
    },
    Command {
        name: "rename",
        aliases: &["mv"],
        usage: "rename FROM TO",
        help: "rename a remote file (a glob in FROM: every match, into the directory TO)",
        complete: Remote,
        run: handler!(files::rename),
    },
    Command {
        name: "size",
        aliases: &[],
        usage: "size PATH",
        help: "show a file's size",
        complete: Remote,
        run: handler!(files::size),
    },
    Command {
        name: "modtime",
        aliases: &[],
        usage: "modtime PATH",
        help: "show a file's modification time",
        complete: Remote,
        run: handler!(files::modtime),
    },
    Command {
        name: "chmod",
        aliases: &[],
        usage: "chmod MODE PATH...",
        help: "change remote permissions (SITE CHMOD; octal MODE, globs matched here)",
        complete: Remote,
        run: handler!(files::chmod),
    },
    Command {
        name: "du",
        aliases: &[],
        usage: "du [-h] [-s] [PATH]",
        help: "bytes under each remote directory (-s: the total only; -h: K, M, G)",
        complete: Remote,
        run: handler!(tree::du),
    },
    Command {
        name: "find",
        aliases: &[],
        usage: "find [PATH]",
        help: "list a remote tree, one path a line (directories end in /)",
        complete: Remote,
        run: handler!(tree::find),
    },
    // Work on the server (server.rs).
    Command {
        name: "hash",
        aliases: &[],
        usage: "hash PATH [sha-256|sha-512|sha-1|md5|crc32]",
        help: "print the server's digest of a file (HASH), as sha256sum does",
        complete: Remote,
        run: handler!(server::hash),
    },
    Command {
        name: "cp",
        aliases: &[],
        usage: "cp FROM TO",
        help: "copy a remote file on the server (SITE CPFR/CPTO, SITE COPY), else streamed",
        complete: Remote,
        run: handler!(server::cp),
    },
    // Settings.
    Command {
        name: "binary",
        aliases: &["image"],
        usage: "binary",
        help: "binary transfers (TYPE I)",
        complete: Nothing,
        run: handler!(settings::binary),
    },
    Command {
        name: "ascii",
        aliases: &[],
        usage: "ascii",
        help: "text transfers (TYPE A)",
        complete: Nothing,
        run: handler!(settings::ascii),
    },
    Command {
        name: "passive",
        aliases: &[],
        usage: "passive [on|off]",
        help: "toggle passive mode",
        complete: Nothing,
        run: handler!(settings::passive),
    },
    Command {
        name: "verify-data-peer",
        aliases: &[],
        usage: "verify-data-peer [on|off]",
        help: "active mode: accept data connections only from the server's address",
        complete: Nothing,
        run: handler!(settings::verify_data_peer),
    },
    Command {
        name: "clobber",
        aliases: &[],
        usage: "clobber [on|off]",
        help: "whether downloads may overwrite existing local files",
        complete: Nothing,
        run: handler!(settings::clobber),
    },
    Command {
        name: "set",
        aliases: &[],
        usage: "set [NAME [VALUE]]",
        help: "show the settings, or set one (timeout, retries, passive, ascii, keepalive, parallel, fail-exit)",
        complete: Nothing,
        run: handler!(settings::set),
    },
    // The session again: raw commands, state, help, quitting.
    Command {
        name: "quote",
        aliases: &["literal"],
        usage: "quote LINE",
        help: "send a raw command",
        complete: Nothing,
        run: handler!(session::quote),
    },
    Command {
        name: "status",
        aliases: &[],
        usage: "status",
        help: "show the connection state",
        complete: Nothing,
        run: handler!(settings::status),
    },
    Command {
        name: "bookmark",
        aliases: &[],
        usage: "bookmark add NAME [URL] | bookmark list | bookmark del NAME",
        help: "remember servers by name (no passwords); open NAME connects",
        complete: Nothing,
        run: handler!(bookmarks::bookmark),
    },
    Command {
        name: "source",
        aliases: &[],
        usage: "source FILE",
        help: "run the commands in FILE (stops at the first failure unless set fail-exit off)",
        complete: Local,
        run: handler!(script::source),
    },
    Command {
        name: "help",
        aliases: &["?"],
        usage: "help [COMMAND]",
        help: "this list",
        complete: Nothing,
        run: handler!(session::help),
    },
    Command {
        name: "bye",
        aliases: &["quit", "exit"],
        usage: "bye",
        help: "quit",
        complete: Nothing,
        run: handler!(session::bye),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_alias_names_one_command() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            for n in c.names() {
                assert!(seen.insert(n), "{n} names two commands");
                assert_eq!(find(n).map(|f| f.name), Some(c.name));
            }
            assert!(c.usage.starts_with(c.name), "{}'s usage", c.name);
        }
    }

    #[test]
    fn help_lines_show_usage_and_aliases() {
        let bye = find("quit").unwrap();
        assert_eq!(bye.help_line(), "bye — quit (also quit, exit)");
        assert_eq!(
            find("get").unwrap().help_line(),
            "get REMOTE [LOCAL] — download a file (a glob in REMOTE: every match, into LOCAL if \
             a directory) (also recv)"
        );
    }
}
