//! Locating (and building on demand) the workspace's binaries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The path of a workspace binary (`ftp-server`, `ftp-client`), built from the current sources.
///
/// Binaries live in `<target-dir>/<profile>/`, beside the `deps/` directory holding the running
/// test executable. The first call for a name in a test process runs
/// `cargo build -p <name> --bin <name>` into that same target directory (a no-op when it is up to
/// date, so a stale binary is never used); later calls return the cached path. Honours the
/// `CARGO` variable cargo sets for the tests it runs.
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
    build(name, &target_dir, &profile);
    assert!(
        path.is_file(),
        "`cargo build -p {name} --bin {name}` succeeded but {} does not exist",
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

fn build(name: &str, target_dir: &Path, profile: &str) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration-tests has a parent directory")
        .join("Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", name, "--bin", name])
        .arg("--manifest-path")
        .arg(&manifest)
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
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {name}: {e}"));
    assert!(status.success(), "building {name} failed: {status}");
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
