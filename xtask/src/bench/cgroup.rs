//! Exact CPU time of a server and of every process it ever forked, from a cgroup of its own.
//!
//! `/proc/<pid>/stat` counts in clock ticks of 10 ms: a 1 GiB download for which a server
//! spends 0.27 s is 27 ± 1 ticks, so two servers 2 % apart cannot be told apart by it, and a
//! session process that exits between two readings of the tree is counted only up to the
//! last one. A cgroup counts the CPU time of all its tasks, exited ones included, in
//! nanoseconds (v1 `cpuacct.usage`) or microseconds (v2 `cpu.stat`, `usage_usec`). So where
//! the bench may make cgroups (root and a writable cgroup file system, as in CI) each server
//! it starts is moved into a group of its own ([`Group`]) right after `spawn`, before it
//! accepts a connection, and [`super::measure::CpuMeter`] reads that group's [`Counter`];
//! elsewhere it reads `/proc`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Name prefix of the groups the bench makes (and the only ones [`Counter::of`] reads).
const PREFIX: &str = "xtask-bench-";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// The unified hierarchy: `cpu.stat` is there in every group, no controller needed.
    V2,
    /// The v1 `cpuacct` controller's hierarchy.
    V1,
}

/// The CPU counter of a bench-made cgroup, found by [`Counter::of`] (it leaves the group be).
#[derive(Debug)]
pub struct Counter {
    dir: PathBuf,
    kind: Kind,
}

/// A cgroup the bench made; deleted on drop, once the processes killed before have left it.
#[derive(Debug)]
pub struct Group(Counter);

/// Where each hierarchy is mounted, from `/proc/self/mounts`: v2 first (it is preferred).
fn mounts() -> Vec<(Kind, PathBuf)> {
    let text = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut found: Vec<(Kind, PathBuf)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let kind = match (f.get(2).copied()?, f.get(3).copied()?) {
                ("cgroup2", _) => Kind::V2,
                ("cgroup", opts) if opts.split(',').any(|o| o == "cpuacct") => Kind::V1,
                _ => return None,
            };
            Some((kind, PathBuf::from(f.get(1)?)))
        })
        .collect();
    found.sort_by_key(|(k, _)| *k != Kind::V2);
    found
}

impl Group {
    /// Makes a group named after `label`, moves `pid` (all its threads) into it and returns
    /// it; `None` where no hierarchy lets this process do that.
    pub fn enter(label: &str, pid: u32) -> Option<Group> {
        let group = Group::create(label)?;
        group.add(pid).ok()?;
        Some(group)
    }

    /// Makes an empty group named after `label` (with a notice, once, where none can be made).
    pub fn create(label: &str) -> Option<Group> {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}-{label}", std::process::id());
        for (kind, mount) in mounts() {
            let dir = mount.join(&name);
            if std::fs::create_dir(&dir).is_ok() {
                let group = Group(Counter { dir, kind });
                if group.seconds().is_some() {
                    return Some(group);
                }
            }
        }
        static NOTICE: std::sync::Once = std::sync::Once::new();
        NOTICE.call_once(|| {
            eprintln!(
                "xtask bench: no cgroup can be made here; server CPU from /proc, in 10 ms ticks"
            )
        });
        None
    }

    /// A new empty group for [`Group::command`]s, checked by running `true` in it: `None`
    /// where none can be made or a process cannot move itself into it.
    pub fn for_commands(label: &str) -> Option<Group> {
        let group = Group::create(label)?;
        let joined = group.command("true").status();
        joined.is_ok_and(|st| st.success()).then_some(group)
    }

    /// A command running `program` inside the group from its first instruction on: a shell
    /// moves itself into the group, then becomes `program` (`exec`). Add the arguments.
    pub fn command(&self, program: &str) -> std::process::Command {
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg(r#"echo $$ > "$0" && exec "$@""#)
            .arg(self.0.dir.join("cgroup.procs"))
            .arg(program);
        c
    }

    /// Moves `pid` (all its threads) into the group.
    pub fn add(&self, pid: u32) -> std::io::Result<()> {
        std::fs::write(self.0.dir.join("cgroup.procs"), pid.to_string())
    }

    /// CPU seconds used by every task that has been in the group, exited ones included.
    pub fn seconds(&self) -> Option<f64> {
        self.0.seconds()
    }
}

impl Drop for Group {
    /// Deletes the group once the processes killed before have left it (2 s at most; a
    /// group still busy then is left behind and swept by the next run, [`sweep`]).
    fn drop(&mut self) {
        let end = Instant::now() + Duration::from_secs(2);
        while std::fs::remove_dir(&self.0.dir).is_err() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Counter {
    /// The counter of the bench-made group `pid` is in, if any.
    pub fn of(pid: u32) -> Option<Counter> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        for (kind, mount) in mounts() {
            // "0::/path" (v2) or "N:cpu,cpuacct:/path" (v1).
            let rel = text.lines().find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (id, ctrls, path) = (f.next()?, f.next()?, f.next()?);
                let ours = match kind {
                    Kind::V2 => id == "0" && ctrls.is_empty(),
                    Kind::V1 => ctrls.split(',').any(|c| c == "cpuacct"),
                };
                ours.then_some(path)
            });
            let Some(rel) = rel else { continue };
            let dir = mount.join(rel.trim_start_matches('/'));
            let named = dir.file_name().and_then(|n| n.to_str());
            if named.is_some_and(|n| n.starts_with(PREFIX)) {
                return Some(Counter { dir, kind });
            }
        }
        None
    }

    /// CPU seconds used by every task that has been in the group, exited ones included.
    pub fn seconds(&self) -> Option<f64> {
        match self.kind {
            Kind::V1 => {
                let ns = std::fs::read_to_string(self.dir.join("cpuacct.usage")).ok()?;
                Some(ns.trim().parse::<u64>().ok()? as f64 / 1e9)
            }
            Kind::V2 => {
                let stat = std::fs::read_to_string(self.dir.join("cpu.stat")).ok()?;
                let us = stat.lines().find_map(|l| l.strip_prefix("usage_usec "))?;
                Some(us.trim().parse::<u64>().ok()? as f64 / 1e6)
            }
        }
    }
}

/// Removes the empty groups earlier runs left behind (a busy one stays: `rmdir` refuses it).
pub fn sweep() {
    for (_, mount) in mounts() {
        let Ok(dir) = std::fs::read_dir(&mount) else {
            continue;
        };
        for e in dir.flatten() {
            if e.file_name().to_string_lossy().starts_with(PREFIX) {
                let _ = std::fs::remove_dir(Path::new(&mount).join(e.file_name()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_counts_the_cpu_of_processes_that_have_exited() {
        // A shell that waits, then forks a child that burns CPU and exits.
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "read x; sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'",
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let Some(group) = Group::enter("test", child.id()) else {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("skipped: no writable cgroup hierarchy here (needs root)");
            return;
        };
        assert_eq!(
            Counter::of(child.id()).map(|c| c.dir),
            Some(group.0.dir.clone())
        );
        let before = group.seconds().unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
        let used = group.seconds().unwrap() - before;
        drop(group);
        // 200 000 shell iterations take well over 10 ms on any machine.
        assert!(used > 0.01, "{used}");
    }

    #[test]
    fn a_command_of_a_group_runs_inside_it_from_the_start() {
        let Some(group) = Group::for_commands("test-command") else {
            eprintln!("skipped: no writable cgroup hierarchy here (needs root)");
            return;
        };
        let before = group.seconds().unwrap();
        let st = group
            .command("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        let used = group.seconds().unwrap() - before;
        drop(group);
        assert!(st.success());
        assert!(used > 0.01, "{used}");
    }

    #[test]
    fn a_process_outside_the_bench_groups_has_none() {
        assert!(Counter::of(std::process::id()).is_none());
    }
}
