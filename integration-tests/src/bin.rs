//! Locating (and building on demand) the workspace's binaries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The path of a workspace binary (`ftp-server`, `ftp-client`), built from the current sources.
///
/// Binaries live in `<target-dir>/<profile>/`, beside the `deps/` directory holding the running
/// test executable. A binary newer than every workspace source file (`*/src/**`, the manifests,
/// `Cargo.lock`) is used as is: `cargo test --workspace` builds `ftp-server` itself. Otherwise
/// the first call in a test process runs `cargo build --workspace --bins --tests` into that same
/// target directory: the same feature resolution as `cargo test --workspace`, so it reuses its
/// artifacts instead of rebuilding the dependency tree. Honours the `CARGO` variable cargo sets
/// for the tests it runs.
///
/// # Panics
/// When the build fails or the binary is still missing afterwards: the test cannot run.
///
/// ```no_run
/// let client = integration_tests::bin_path("ftp-client");
/// let status = std::process::Command::new(client).arg("--help").status().unwrap();
/// assert!(status.success());
/// ```
pub fn bin_path(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    // Held across the build: concurrent tests wait for one build instead of racing.
    let mut built = built
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let (target_dir, profile) = target_layout();
    let path = target_dir
        .join(&profile)
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !is_fresh(&path) {
        build(&target_dir, &profile, name);
    }
    assert!(
        path.is_file(),
        "the build succeeded but {} does not exist",
        path.display()
    );
    built.insert(name.to_string(), path.clone());
    path
}

/// `(<target-dir>, <profile>)` of the running test executable `<target-dir>/<profile>/deps/<exe>`.
fn target_layout() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("cannot locate the test executable");
    let deps = exe.parent().expect("test executable has no directory");
    let profile_dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("deps/ has no parent")
    } else {
        deps
    };
    let profile = profile_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "debug".to_string());
    let target_dir = profile_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| profile_dir.to_path_buf());
    (target_dir, profile)
}

/// The workspace root (the parent of this crate).
pub(crate) fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration-tests has a parent directory")
}

/// Whether `binary` exists and is newer than every source file of the workspace.
fn is_fresh(binary: &Path) -> bool {
    let Ok(built) = binary.metadata().and_then(|m| m.modified()) else {
        return false;
    };
    let root = workspace_root();
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    let mut consider = |path: &Path| {
        if let Ok(modified) = path.metadata().and_then(|m| m.modified()) {
            newest = newest.max(modified);
        }
    };
    consider(&root.join("Cargo.toml"));
    consider(&root.join("Cargo.lock"));
    let Ok(members) = std::fs::read_dir(root) else {
        return false;
    };
    for member in members.flatten() {
        let dir = member.path();
        if dir.join("Cargo.toml").is_file() && dir.file_name().is_some_and(|n| n != "target") {
            consider(&dir.join("Cargo.toml"));
            walk_files(&dir.join("src"), 0, &mut consider);
        }
    }
    built >= newest
}

fn walk_files(dir: &Path, depth: usize, f: &mut impl FnMut(&Path)) {
    if depth > 16 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk_files(&path, depth + 1, f);
        } else {
            f(&path);
        }
    }
}

fn build(target_dir: &Path, profile: &str, name: &str) {
    // `--tests` makes the feature resolution match `cargo test --workspace` (dev-dependencies
    // included), so the artifacts it built are reused. If some test target of the workspace
    // does not compile right now, fall back to building just this binary.
    let workspace = ["build", "--quiet", "--workspace", "--bins", "--tests"];
    let single = ["build", "--quiet", "-p", name, "--bin", name];
    if !cargo_build(&workspace, target_dir, profile) {
        eprintln!(
            "bin_path: `cargo build --workspace --bins --tests` failed; building only {name}"
        );
        assert!(
            cargo_build(&single, target_dir, profile),
            "`cargo build -p {name} --bin {name}` failed"
        );
    }
}

fn cargo_build(args: &[&str], target_dir: &Path, profile: &str) -> bool {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // Cargo gives the test process its package's variables (CARGO_MANIFEST_DIR, CARGO_PKG_*,
    // ...). Build scripts that track them (ring's does) would rerun with the inherited values
    // and rebuild half the dependency tree, so the nested cargo must not see them.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let per_package = key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
            || matches!(
                &*key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "OUT_DIR"
            );
        if per_package {
            cmd.env_remove(&*key);
        }
    }
    cmd.args(args)
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    cmd.status()
        .unwrap_or_else(|e| panic!("cannot run cargo: {e}"))
        .success()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_path_builds_the_server_binary_next_to_the_tests() {
        let path = bin_path("ftp-server");
        assert!(path.is_file(), "{}", path.display());
        let (target_dir, profile) = target_layout();
        assert_eq!(path.parent(), Some(target_dir.join(profile).as_path()));
        // Cached: the second call does not build again and returns the same path.
        assert_eq!(bin_path("ftp-server"), path);
        let status = Command::new(&path).arg("--help").output().expect("run it");
        assert!(status.status.success());
    }
}
