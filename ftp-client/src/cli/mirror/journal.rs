//! The mirror's journal: the plan of a run and each action as it completes, appended to a
//! file, so a run that was killed or lost the network restarts with what was left instead of
//! comparing both trees again.
//!
//! The file lives in `$XDG_STATE_HOME/ftp-client/mirror/` (default `~/.local/state/…`), named
//! after a hash of what identifies the run (direction, server, user, both roots, the options
//! that shape the plan). Lines:
//!
//! ```text
//! ftp-client mirror journal 1
//! key <hex>
//! a <action>            one per planned action, in order
//! planned <count> <unusable> <up to date> <filtered>
//! d <index>             the action completed
//! ```
//!
//! Every line is written whole with one `write` (`O_APPEND`): a kill leaves at worst a
//! partial last line, which is ignored. A journal without its `planned` line is a plan that
//! was not finished: ignored too. The file is removed once every action succeeded.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};

use super::{Action, PlanStats};

const MAGIC: &str = "ftp-client mirror journal 1";

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2 + 1);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s == "-" {
        return Some(Vec::new());
    }
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn unopt<T: std::str::FromStr>(s: &str) -> Option<Option<T>> {
    if s == "-" {
        Some(None)
    } else {
        s.parse().ok().map(Some)
    }
}

fn path_hex(p: &Path) -> String {
    hex(&super::remote_name(p))
}

fn unpath(s: &str) -> Option<PathBuf> {
    unhex(s).map(|b| super::local_name(&b))
}

/// One action as a journal line (without the `a ` and the newline).
pub(super) fn encode(a: &Action) -> String {
    match a {
        Action::MkdirLocal(p) => format!("ml {}", path_hex(p)),
        Action::MkdirRemote(p) => format!("mr {}", hex(p)),
        Action::Get {
            remote,
            local,
            mtime,
            size,
            mode,
        } => format!(
            "g {} {} {} {} {}",
            hex(remote),
            path_hex(local),
            opt(mtime.map(|t| t.to_unix().0)),
            opt(*size),
            opt(*mode)
        ),
        Action::Put {
            local,
            remote,
            mode,
        } => format!("p {} {} {}", path_hex(local), hex(remote), opt(*mode)),
        Action::DeleteLocal(p, dir) => format!("dl {} {}", path_hex(p), u8::from(*dir)),
        Action::DeleteRemote(p, dir) => format!("dr {} {}", hex(p), u8::from(*dir)),
        Action::ChmodLocal(p, m) => format!("cl {} {m}", path_hex(p)),
        Action::ChmodRemote(p, m) => format!("cr {} {m}", hex(p)),
    }
}

/// The action of a journal line written by [`encode`].
pub(super) fn decode(s: &str) -> Option<Action> {
    let w: Vec<&str> = s.split(' ').collect();
    let flag = |s: &str| match s {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    };
    Some(match w.as_slice() {
        ["ml", p] => Action::MkdirLocal(unpath(p)?),
        ["mr", p] => Action::MkdirRemote(unhex(p)?),
        ["g", r, l, t, s, m] => Action::Get {
            remote: unhex(r)?,
            local: unpath(l)?,
            mtime: unopt::<i64>(t)?.map(|t| ftp_proto::Timestamp::from_unix(t, 0)),
            size: unopt(s)?,
            mode: unopt(m)?,
        },
        ["p", l, r, m] => Action::Put {
            local: unpath(l)?,
            remote: unhex(r)?,
            mode: unopt(m)?,
        },
        ["dl", p, d] => Action::DeleteLocal(unpath(p)?, flag(d)?),
        ["dr", p, d] => Action::DeleteRemote(unhex(p)?, flag(d)?),
        ["cl", p, m] => Action::ChmodLocal(unpath(p)?, m.parse().ok()?),
        ["cr", p, m] => Action::ChmodRemote(unhex(p)?, m.parse().ok()?),
        _ => return None,
    })
}

/// The directory journals are kept in.
fn dir() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("ftp-client").join("mirror"))
}

/// A run's journal: where it is and the done actions it records.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: Option<File>,
}

/// What an earlier, unfinished run left: the actions still to do (with their index in the
/// plan), the plan's size and what it left alone.
#[derive(Debug)]
pub(crate) struct Leftover {
    pub todo: Vec<(usize, Action)>,
    pub planned: usize,
    pub stats: PlanStats,
}

impl Journal {
    /// The journal for the run identified by `key` (none when no state directory is known).
    pub fn for_key(key: &str) -> Option<Journal> {
        let name = hex(&Sha256::digest(key.as_bytes())[..16]);
        Some(Journal {
            path: dir()?.join(format!("{name}.journal")),
            file: None,
        })
    }

    /// Where the journal is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What an unfinished earlier run with the same key left, if its journal is whole.
    pub fn leftover(&self, key: &str) -> Option<Leftover> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        // A partial last line (the run was killed while writing it) does not count.
        let whole = &text[..text.rfind('\n')? + 1];
        let mut lines = whole.lines();
        if lines.next()? != MAGIC || lines.next()? != format!("key {}", hex(key.as_bytes())) {
            return None;
        }
        let mut plan = Vec::new();
        let mut counts = None;
        let mut done = BTreeSet::new();
        for line in lines {
            let (tag, rest) = line.split_once(' ')?;
            match (tag, counts) {
                ("a", None) => plan.push(decode(rest)?),
                ("planned", None) => {
                    let n: Vec<usize> = rest
                        .split(' ')
                        .map(|n| n.parse().ok())
                        .collect::<Option<_>>()?;
                    let [count, unusable, up_to_date, filtered] = n[..] else {
                        return None;
                    };
                    let stats = PlanStats {
                        unusable,
                        up_to_date,
                        filtered,
                    };
                    counts = Some((count, stats));
                }
                ("d", Some(_)) => {
                    done.insert(rest.parse::<usize>().ok()?);
                }
                _ => return None,
            }
        }
        let (planned, stats) = counts?;
        (planned == plan.len()).then_some(())?;
        let todo = plan
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !done.contains(i))
            .collect();
        Some(Leftover {
            todo,
            planned,
            stats,
        })
    }

    /// Starts a fresh journal holding `plan`.
    pub fn start(&mut self, key: &str, plan: &[Action], stats: PlanStats) -> Result<()> {
        if let Some(d) = self.path.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let mut text = format!("{MAGIC}\nkey {}\n", hex(key.as_bytes()));
        for a in plan {
            text.push_str("a ");
            text.push_str(&encode(a));
            text.push('\n');
        }
        let PlanStats {
            unusable,
            up_to_date,
            filtered,
        } = stats;
        text.push_str(&format!(
            "planned {} {unusable} {up_to_date} {filtered}\n",
            plan.len()
        ));
        // Written under a temporary name and renamed: a half-written plan never counts.
        let tmp = self.path.with_extension("new");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("renaming {}", self.path.display()))?;
        self.reopen()
    }

    /// Opens the journal to append to it (after [`Journal::leftover`] found it whole).
    pub fn reopen(&mut self) -> Result<()> {
        let f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .with_context(|| format!("opening {}", self.path.display()))?;
        self.file = Some(f);
        Ok(())
    }

    /// Records that the action at `index` of the plan completed.
    pub fn done(&mut self, index: usize) {
        if let Some(f) = self.file.as_mut() {
            if let Err(e) = f.write_all(format!("d {index}\n").as_bytes()) {
                log::warn!("writing the mirror journal: {e}");
                self.file = None;
            }
        }
    }

    /// Removes the journal: the run is complete.
    pub fn remove(mut self) {
        self.file = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_survives_the_journal_and_torn_lines_do_not_count() {
        let acts = vec![
            Action::MkdirLocal("l/d ir".into()),
            Action::MkdirRemote(b"r/\xffd".to_vec()),
            Action::Get {
                remote: b"r/f".to_vec(),
                local: "l/f".into(),
                mtime: Some(ftp_proto::Timestamp::from_unix(1_000_000, 0)),
                size: None,
                mode: Some(0o640),
            },
            Action::Put {
                local: "l/g".into(),
                remote: Vec::new(),
                mode: None,
            },
            Action::DeleteLocal("x".into(), true),
            Action::DeleteRemote(b"y".to_vec(), false),
            Action::ChmodLocal("l/d ir".into(), 0o755),
            Action::ChmodRemote(b"r".to_vec(), 0o700),
        ];
        for a in &acts {
            let back = decode(&encode(a)).expect("decodes");
            assert_eq!(back.to_string(), a.to_string());
            assert_eq!(encode(&back), encode(a));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal {
            path: dir.path().join("j"),
            file: None,
        };
        let stats = PlanStats {
            unusable: 2,
            up_to_date: 3,
            filtered: 4,
        };
        j.start("k", &acts, stats).unwrap();
        j.done(0);
        j.done(3);
        std::fs::OpenOptions::new()
            .append(true)
            .open(j.path())
            .unwrap()
            .write_all(b"d 4")
            .unwrap();
        let left = j.leftover("k").expect("whole");
        assert_eq!((left.planned, left.stats), (8, stats));
        let idx: Vec<usize> = left.todo.iter().map(|(i, _)| *i).collect();
        assert_eq!(idx, [1, 2, 4, 5, 6, 7]);
        assert!(j.leftover("other key").is_none());
        j.remove();
        assert!(!dir.path().join("j").exists());
    }
}
