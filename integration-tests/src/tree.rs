//! Directory trees for transfer tests: build one of many files, read one back, compare two.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! integration_tests::tree::make_files(dir.path(), 10);
//! let snap = integration_tests::tree::snapshot(dir.path());
//! assert_eq!(snap.values().filter(|f| f.is_some()).count(), 10);
//! integration_tests::tree::assert_same_tree(dir.path(), dir.path());
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use crate::test_bytes;

/// Every path under a root (relative, `/`-separated) with the file's bytes (`None` for a
/// directory).
pub type Snapshot = BTreeMap<String, Option<Vec<u8>>>;

/// Writes `count` files under `root`, spread over three directory levels (`d0/`, `d1/e0/`,
/// ...), of sizes from empty to 300 KB, each with its own bytes; returns their relative paths.
pub fn make_files(root: &Path, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let rel = match i % 3 {
                0 => format!("top {i}.bin"),
                1 => format!("d{}/f{i}.bin", i % 4),
                _ => format!("d{}/e{}/f{i}.bin", i % 4, i % 2),
            };
            let len = [0, 1, 700, 65_536, 300_000][i % 5] + i;
            let path = root.join(&rel);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dirs");
            std::fs::write(&path, test_bytes(len, i as u64)).expect("write a file");
            rel
        })
        .collect()
}

/// Reads the tree under `root` (at most 16 levels deep).
///
/// # Panics
/// When the tree cannot be read.
pub fn snapshot(root: &Path) -> Snapshot {
    fn walk(root: &Path, dir: &Path, out: &mut Snapshot, depth: usize) {
        assert!(depth < 16, "tree too deep under {}", root.display());
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let rel = path
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.insert(rel, None);
                walk(root, &path, out, depth + 1);
            } else {
                out.insert(rel, Some(std::fs::read(&path).expect("read a file")));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out, 0);
    out
}

/// Asserts that the trees under `got` and `want` hold the same paths and the same bytes.
#[track_caller]
pub fn assert_same_tree(got: &Path, want: &Path) {
    let (got, want) = (snapshot(got), snapshot(want));
    let names = |s: &Snapshot| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&got), names(&want), "the trees hold different paths");
    for (path, bytes) in &want {
        assert!(got[path] == *bytes, "{path} differs");
    }
}
