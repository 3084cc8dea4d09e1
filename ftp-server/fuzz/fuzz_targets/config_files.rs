//! Feeds arbitrary bytes to the two file parsers an operator's typo reaches: the
//! configuration file (`ConfigFile::load`) and the users file (`load_users_file`).
//!
//! Invariants: nothing panics, whatever the bytes (not UTF-8, not TOML, wrong shapes, huge
//! numbers, duplicate keys); every refusal names the file it refused, so the operator's one
//! log line says where to look.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use ftp_server::config::{load_users_file, ConfigFile};
use libfuzzer_sys::fuzz_target;

/// One scratch file per fuzzing process, rewritten for every input.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ftp-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir.join("input.toml")
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("scratch file");
    let shown = path.display().to_string();
    if let Err(e) = ConfigFile::load(path) {
        assert!(e.to_string().contains(&shown), "config error without the file: {e}");
    }
    if let Err(e) = load_users_file(path) {
        assert!(e.to_string().contains(&shown), "users error without the file: {e}");
    }
});
