//! `cargo xtask dist`: shell completions (bash, zsh, fish) and man pages for `ftp-client` and
//! `ftp-server`, generated from their clap definitions into `target/dist/`:
//!
//! ```text
//! target/dist/completions/ftp-client.bash  _ftp-client  ftp-client.fish   (and ftp-server's)
//! target/dist/man/man1/ftp-client.1  ftp-client-mirror.1 …  ftp-server.1  ftp-server-hash-password.1
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

/// The server's command line, the very file its `main.rs` includes (only `command` is used
/// here).
#[allow(dead_code)]
mod server_cli {
    include!("../../ftp-server/src/cli.rs");
}

/// Both binaries' command lines, named as they are installed.
fn commands() -> Vec<clap::Command> {
    vec![
        ftp_client::cli::Cli::command(),
        server_cli::command()
            .name("ftp-server")
            .bin_name("ftp-server"),
    ]
}

/// Writes the completions and man pages into `out` (default `target/dist` under `root`);
/// returns the files written.
pub fn dist(root: &Path, out: Option<&Path>) -> Result<Vec<PathBuf>> {
    let out = out.map_or_else(|| root.join("target/dist"), Path::to_path_buf);
    let completions = out.join("completions");
    let man = out.join("man/man1");
    for d in [&completions, &man] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut written = Vec::new();
    for mut cmd in commands() {
        let name = cmd.get_name().to_string();
        cmd.build();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let path = clap_complete::generate_to(shell, &mut cmd, &name, &completions)
                .with_context(|| format!("writing the {shell} completions of {name}"))?;
            written.push(path);
        }
        written.extend(man_pages(&cmd, &man)?);
    }
    for f in &written {
        println!("{}", f.display());
    }
    Ok(written)
}

/// The man page of `cmd` and one per subcommand (`ftp-client-mirror.1`, as `git` does);
/// `cmd` is built, so subcommands carry their display name (`ftp-client-mirror`).
fn man_pages(cmd: &clap::Command, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut todo = vec![cmd.clone()];
    while let Some(cmd) = todo.pop() {
        let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .render(&mut page)
            .with_context(|| format!("rendering the man page of {name}"))?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
        todo.extend(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set() && s.get_name() != "help")
                .cloned(),
        );
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn dist_writes_completions_and_man_pages_for_both_binaries() {
        let out = tempfile_dir();
        let files = dist(Path::new("."), Some(&out)).expect("dist");
        assert!(files.iter().all(|f| f.starts_with(&out)), "{files:?}");
        let c = out.join("completions");
        let bash = read(&c, "ftp-client.bash");
        assert!(bash.contains("mirror") && bash.contains("--exclude") && bash.contains("doctor"));
        assert!(read(&c, "_ftp-client").starts_with("#compdef ftp-client"));
        let fish = read(&c, "ftp-client.fish");
        assert!(fish.contains("complete -c ftp-client") && fish.contains("only-missing"));
        let server = read(&c, "ftp-server.bash");
        assert!(server.contains("--passive-ports") && server.contains("hash-password"));
        assert!(read(&c, "_ftp-server").contains("#compdef ftp-server"));
        assert!(read(&c, "ftp-server.fish").contains("complete -c ftp-server"));
        let m = out.join("man/man1");
        let client = read(&m, "ftp-client.1");
        assert!(client.contains(".TH ftp-client 1") && client.contains("Exit codes"));
        let mirror = read(&m, "ftp-client-mirror.1");
        assert!(mirror.contains("ftp\\-client\\-mirror") && mirror.contains("size\\-range"));
        let server = read(&m, "ftp-server.1");
        // The help lines come from the settings table, as `ftp-server --help` shows them.
        assert!(server.contains(".TH ftp-server 1") && server.contains("passive data listeners"));
        assert!(m.join("ftp-server-hash-password.1").is_file());
        let _ = std::fs::remove_dir_all(&out);
    }

    /// A fresh directory under the system's temporary directory.
    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-dist-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
}
