//! `cargo xtask check`: the checks a contributor runs before pushing, without root and
//! without the interop peers (interop tests skip with a notice when a peer is missing).
//!
//! Every step runs even when an earlier one failed, so one run lists everything to mend; the
//! summary at the end says which steps passed, failed or were skipped, and why.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{cargo, fuzz_dirs, rustup_cargo, show, succeeds};

/// Runs every step and fails if any of them failed.
pub fn check(root: &Path) -> Result<()> {
    let mut report = Report::default();
    report.run("fmt", cargo().args(["fmt", "--all", "--check"]));
    report.run(
        "clippy (workspace lints, warnings denied)",
        cargo()
            .args(["clippy", "--workspace", "--all-targets", "--locked"])
            .args(["--", "-D", "warnings"]),
    );
    report.run(
        "tests",
        cargo()
            .args(["test", "--workspace", "--locked"])
            // A contributor's check, not CI: a missing peer skips its tests.
            .env_remove("FTP_INTEROP_REQUIRED"),
    );
    report.run(
        "docs (warnings denied)",
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    );
    msrv_step(root, &mut report)?;
    for dir in fuzz_dirs(root)? {
        fuzz_step(root, &dir, &mut report);
    }
    report.finish()
}

/// A build at the `rust-version` the workspace declares, if that toolchain is installed
/// (it is never downloaded here).
fn msrv_step(root: &Path, report: &mut Report) -> Result<()> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).context("read Cargo.toml")?;
    let msrv = rust_version(&manifest).context("Cargo.toml declares no rust-version")?;
    let what = format!("build at the MSRV ({msrv})");
    let toolchain = format!("+{msrv}");
    if !succeeds(rustup_cargo().args([toolchain.as_str(), "--version"])) {
        report.skip(
            &what,
            &format!("toolchain {msrv} is not installed (`rustup toolchain install {msrv}`)"),
        );
        return Ok(());
    }
    report.run(
        &what,
        rustup_cargo()
            .args([
                toolchain.as_str(),
                "check",
                "--workspace",
                "--all-targets",
                "--locked",
            ])
            // Its own directory: another compiler's artefacts would evict the warm ones.
            .args(["--target-dir", "target/msrv"]),
    );
    Ok(())
}

/// A compile of one fuzz crate: `cargo fuzz build` (as `cargo xtask fuzz` runs them) when
/// nightly and cargo-fuzz are there, else `cargo check` on the default toolchain. The fuzz
/// crates keep no Cargo.lock in the repository, so this step cannot be `--locked`.
fn fuzz_step(root: &Path, dir: &Path, report: &mut Report) {
    let name = dir.strip_prefix(root).unwrap_or(dir).display().to_string();
    if succeeds(rustup_cargo().args(["+nightly", "fuzz", "--version"])) {
        report.run(
            &format!("fuzz build ({name})"),
            rustup_cargo()
                .args([
                    "+nightly",
                    "fuzz",
                    "build",
                    "--dev",
                    "--sanitizer",
                    "none",
                    "--fuzz-dir",
                ])
                .arg(dir),
        );
    } else {
        report.run(
            &format!("fuzz check ({name}; no nightly cargo-fuzz)"),
            cargo()
                .args(["check", "--bins", "--manifest-path"])
                .arg(dir.join("Cargo.toml"))
                .args(["--target-dir", "target/fuzz-check"]),
        );
    }
}

/// The value of `rust-version = "…"` in a manifest.
fn rust_version(manifest: &str) -> Option<&str> {
    manifest.lines().find_map(|line| {
        let value = line.trim().strip_prefix("rust-version")?.trim_start();
        let value = value.strip_prefix('=')?.trim();
        Some(value.trim_matches('"')).filter(|v| !v.is_empty())
    })
}

/// What each step came to, printed at the end.
#[derive(Default)]
struct Report {
    lines: Vec<String>,
    failed: usize,
}

impl Report {
    fn run(&mut self, what: &str, cmd: &mut Command) {
        let shown = show(cmd);
        eprintln!("\nxtask check: {what}\nxtask: $ {shown}");
        let start = Instant::now();
        let failure = match cmd.status() {
            Ok(s) if s.success() => None,
            Ok(s) => Some(s.to_string()),
            Err(e) => Some(format!("cannot start `{shown}`: {e}")),
        };
        let secs = start.elapsed().as_secs_f64();
        self.lines.push(match failure {
            None => format!("  ok       {what} ({secs:.0}s)"),
            Some(why) => {
                self.failed += 1;
                format!("  FAILED   {what} ({secs:.0}s): {why}")
            }
        });
    }

    fn skip(&mut self, what: &str, why: &str) {
        eprintln!("\nxtask check: {what}: skipped, {why}");
        self.lines.push(format!("  skipped  {what}: {why}"));
    }

    fn finish(self) -> Result<()> {
        eprintln!("\nxtask check:");
        for line in &self.lines {
            eprintln!("{line}");
        }
        if self.failed > 0 {
            bail!("{} of {} checks failed", self.failed, self.lines.len());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_version_is_read_from_the_workspace_manifest() {
        let manifest = "[workspace.package]\nedition = \"2021\"\nrust-version = \"1.85\"\n";
        assert_eq!(rust_version(manifest), Some("1.85"));
        assert_eq!(rust_version("[package]\nname = \"x\"\n"), None);
        let root = crate::workspace_root().unwrap();
        let ours = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(rust_version(&ours).is_some());
    }
}
