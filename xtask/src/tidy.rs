//! Tidy tests: ARCHITECTURE.md stays in step with the code.
//!
//! Every name in `code` in ARCHITECTURE.md that looks like a file or a Rust name must exist:
//! a path such as `xtask/src/check.rs` as a file or directory, a Rust path such as
//! `vpath::VPath::resolve` or a name such as `LineDecoder` as words in some `.rs` file. Wire
//! and shell text (`USER PASS`, `--workers N`, `0xFF`, all-caps names) is not checked. Every
//! test file (`<crate>/tests/*.rs`) must have a row in the test map. The check is only that
//! names exist, so a moved module or a reworded section keeps passing as long as its names are
//! real.

use std::collections::HashSet;
use std::path::Path;

/// A name from ARCHITECTURE.md that must exist in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    /// A path relative to the workspace root (`*` matches within one component).
    Path(String),
    /// A file name found anywhere in the tree (`line_model.rs`).
    File(String),
    /// A word of Rust source.
    Word(String),
    /// The start of a word of Rust source (`danger_`).
    Prefix(String),
}

/// The text of every inline code span outside fenced blocks, with its line number.
fn code_spans(markdown: &str) -> Vec<(usize, String)> {
    let mut spans = Vec::new();
    let mut fenced = false;
    for (n, line) in markdown.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut parts = line.split('`');
        parts.next(); // the text before the first backtick
        while let (Some(code), Some(_)) = (parts.next(), parts.next()) {
            spans.push((n + 1, code.to_string()));
        }
    }
    spans
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What a code span names, if it looks like a file or a Rust name (see the module docs).
fn names(span: &str) -> Vec<Name> {
    let span = span.trim();
    // `Session::handle(Command) -> Action`, `splice(2)`: the name before the parenthesis.
    let token = match span.find('(') {
        Some(i) => &span[..i],
        None => span,
    };
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Vec::new();
    }
    const FILE_TYPES: &[&str] = &[".rs", ".toml", ".md", ".py", ".txt", ".sh"];
    if token.contains('/') {
        return match token.starts_with('/') {
            true => Vec::new(),                           // a system path such as /proc
            false if token.contains("://") => Vec::new(), // a URL or a scheme: `ftps://`
            false => vec![Name::Path(token.trim_end_matches('/').to_string())],
        };
    }
    if FILE_TYPES.iter().any(|t| token.ends_with(t)) {
        return vec![Name::File(token.to_string())];
    }
    if token.contains("::") {
        let segments: Vec<&str> = token.split("::").collect();
        if !segments.iter().all(|s| is_identifier(s)) {
            return Vec::new();
        }
        return segments
            .into_iter()
            .filter(|s| !matches!(*s, "crate" | "self" | "super"))
            .map(|s| Name::Word(s.to_string()))
            .collect();
    }
    if !is_identifier(token) || !token.chars().any(|c| c.is_ascii_lowercase()) {
        return Vec::new(); // `0xFF`, `-la`, `USER`, `TIME_WAIT`: wire and OS names
    }
    match token.strip_suffix('_') {
        Some(_) => vec![Name::Prefix(token.to_string())],
        None => vec![Name::Word(token.to_string())],
    }
}

/// Every word of Rust source and every file name under `root` (build output and VCS left out).
fn scan(root: &Path) -> (HashSet<String>, HashSet<String>) {
    let (mut words, mut files) = (HashSet::new(), HashSet::new());
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | ".git" | "corpus" | "artifacts") {
                    dirs.push(path);
                }
                continue;
            }
            // This file quotes names in its tests; they must not count as existing.
            if name.ends_with(".rs") && path != root.join("xtask/src/tidy.rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                words.extend(
                    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .filter(|w| !w.is_empty())
                        .map(str::to_string),
                );
            }
            files.insert(name);
        }
    }
    (words, files)
}

/// True if `pattern` (relative, `*` within a component) names something under `root` or
/// under a crate's `src` (the code map names modules as `session/mod.rs`).
fn path_exists(root: &Path, pattern: &str) -> bool {
    let crate_srcs = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("src"));
    std::iter::once(root.to_path_buf())
        .chain(crate_srcs)
        .any(|base| path_under(&base, pattern))
}

/// True if `pattern` names something under `base`.
fn path_under(base: &Path, pattern: &str) -> bool {
    let mut candidates = vec![base.to_path_buf()];
    for component in pattern.split('/') {
        let mut next = Vec::new();
        for dir in candidates {
            if !component.contains('*') {
                next.push(dir.join(component));
                continue;
            }
            let (head, tail) = component.split_once('*').unwrap();
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(head) && name.ends_with(tail) {
                    next.push(entry.path());
                }
            }
        }
        candidates = next;
    }
    candidates.iter().any(|p| p.exists())
}

/// Test files (`<member>/tests/*.rs`) as paths relative to `root`.
fn test_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for member in std::fs::read_dir(root).unwrap().flatten() {
        let tests = member.path().join("tests");
        for file in std::fs::read_dir(&tests).into_iter().flatten().flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rs") {
                let member = member.file_name().to_string_lossy().into_owned();
                out.push(format!("{member}/tests/{name}"));
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn architecture() -> (std::path::PathBuf, String) {
        let root = crate::workspace_root().unwrap();
        let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
        (root, text)
    }

    #[test]
    fn names_in_code_in_architecture_md_exist() {
        let (root, text) = architecture();
        let (words, files) = scan(&root);
        let mut missing = Vec::new();
        for (line, span) in code_spans(&text) {
            for name in names(&span) {
                let found = match &name {
                    Name::Path(p) => path_exists(&root, p),
                    Name::File(f) => files.contains(f),
                    Name::Word(w) => words.contains(w),
                    Name::Prefix(p) => words.iter().any(|w| w.starts_with(p.as_str())),
                };
                if !found {
                    missing.push(format!("ARCHITECTURE.md:{line}: `{span}`: no {name:?}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "names in ARCHITECTURE.md that the tree does not have (rename them there, or \
             write them as plain text if they are not code):\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn every_test_file_is_in_the_test_map() {
        let (root, text) = architecture();
        let spans: HashSet<String> = code_spans(&text).into_iter().map(|(_, s)| s).collect();
        let unlisted: Vec<String> = test_files(&root)
            .into_iter()
            .filter(|f| !spans.contains(f))
            .collect();
        assert!(
            unlisted.is_empty(),
            "test files without a row in ARCHITECTURE.md's test map: {unlisted:?}"
        );
    }

    #[test]
    fn code_spans_are_classified_as_files_rust_names_or_prose() {
        let word = |w: &str| Name::Word(w.to_string());
        assert_eq!(
            names("Session::handle(Command) -> Action"),
            [word("Session"), word("handle")]
        );
        assert_eq!(names("crate::data::receive_file").len(), 2);
        assert_eq!(names("LineDecoder"), [word("LineDecoder")]);
        assert_eq!(names("splice(2)"), [word("splice")]);
        assert_eq!(names("danger_"), [Name::Prefix("danger_".into())]);
        assert_eq!(
            names("xtask/src/bench/"),
            [Name::Path("xtask/src/bench".into())]
        );
        assert_eq!(names("line_model.rs"), [Name::File("line_model.rs".into())]);
        for prose in [
            "USER PASS AUTH",
            "TIME_WAIT",
            "0xFF",
            "--workers N",
            "/proc",
            "ftps://",
            "227",
        ] {
            assert_eq!(names(prose), [], "{prose}");
        }
        assert_eq!(names("\\|af\\|addr\\|port\\|"), []);
    }

    #[test]
    fn a_made_up_name_is_reported_missing() {
        let (root, _) = architecture();
        let (words, files) = scan(&root);
        assert!(!words.contains(&format!("NoSuch{}", "TypeAnywhere")));
        assert!(words.contains("LineDecoder"));
        assert!(files.contains("Cargo.toml"));
        assert!(path_exists(&root, "integration-tests/tests/interop_*.rs"));
        assert!(!path_exists(&root, "integration-tests/tests/nothing_*.rs"));
    }

    #[test]
    fn code_spans_skip_fenced_blocks() {
        let md = "a `one` b `two`\n```\n`not`\n```\n`three`";
        let spans: Vec<String> = code_spans(md).into_iter().map(|(_, s)| s).collect();
        assert_eq!(spans, ["one", "two", "three"]);
    }
}
