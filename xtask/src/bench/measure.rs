//! Server-side CPU (from its cgroup, or the process tree in `/proc`) and memory.

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux).
const HZ: f64 = 100.0;

/// Parses `/proc/<pid>/stat`: (ppid, utime+stime+cutime+cstime in ticks).
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // After the state field (index 0): utime 11, stime 12, cutime 13, cstime 14.
    Some((ppid, t(11) + t(12) + t(13) + t(14)))
}

/// `pid` and all its live descendants, parents before children.
///
/// Read from the kernel's per-thread `children` lists: a few small files per process of the
/// tree. [`TreeMeter`] reads the tree every 10 ms during a transfer; the scan of every
/// process's `stat` it did before took 2.2 ms in the debug build `cargo xtask` runs (27 µs
/// this way), a fifth of a core taken from the server and the client while they were
/// measured. Kernels without `CONFIG_PROC_CHILDREN` still get that scan.
pub fn tree(pid: u32) -> Vec<u32> {
    children_tree(pid).unwrap_or_else(|| scanned_tree(pid))
}

fn children_tree(pid: u32) -> Option<Vec<u32>> {
    // No such file in this kernel: fall back to the scan.
    std::fs::metadata(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        i += 1;
        // A process or thread gone meanwhile has no children left to list.
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            if let Ok(list) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(
                    list.split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
    }
    Some(out)
}

/// [`tree`] by reading every process's parent from `/proc/<pid>/stat`.
fn scanned_tree(pid: u32) -> Vec<u32> {
    let mut all = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                if let Some((pp, _)) = stat(p) {
                    all.push((p, pp));
                }
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(all.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    out
}

/// CPU seconds of the tree's live processes, including the children each has reaped.
///
/// Read from a consistent snapshot: a child reaped between the read of its own stat and
/// the read of its parent's (or the other way round) would be missed (or counted twice),
/// and a parent reaping many exiting sessions while the tree is read (the idle scenario's
/// thousand sessions closing) made a start reading miss most of their lifetime CPU, which
/// then showed up as CPU of the measured window: ProFTPD's RETR at 3.38 s/GiB. So the tree
/// is read twice and the reading kept only when both agree on who is alive and on every
/// reaped total (a bounded number of tries; the last reading otherwise).
fn with_reaped(pid: u32) -> f64 {
    let read = || -> Vec<(u32, u64, u64)> {
        tree(pid)
            .into_iter()
            .filter_map(|p| Some((p, stat(p)?.1, reaped_ticks(p)?)))
            .collect()
    };
    let total = |r: &[(u32, u64, u64)]| r.iter().map(|(_, t, _)| *t as f64 / HZ).sum();
    let mut last = read();
    for _ in 0..50 {
        let again = read();
        let same = again.len() == last.len()
            && again
                .iter()
                .zip(&last)
                .all(|(a, b)| a.0 == b.0 && a.2 == b.2);
        if same {
            return total(&again);
        }
        last = again;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    total(&last)
}

/// cutime+cstime (ticks) of one process: what its reaped children used.
fn reaped_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = text[text.rfind(')')? + 2..].split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(t(13)? + t(14)?)
}

/// Waits (`limit` at most) until the tree rooted at `pid` has at most `n` processes: the
/// sessions a scenario closed have exited and been reaped, so their exit is not counted as
/// CPU of the next scenario.
pub fn settle(pid: u32, n: usize, limit: std::time::Duration) {
    let end = std::time::Instant::now() + limit;
    while tree(pid).len() > n && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Own utime+stime (ticks) of one process, without reaped children.
fn own_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = text[text.rfind(')')? + 2..].split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(t(11)? + t(12)?)
}

/// Server CPU over a measured window: exact from the server's own cgroup where the bench
/// made one ([`super::cgroup`]), else from the `/proc` tree ([`TreeMeter`]).
pub enum CpuMeter {
    /// The group's CPU seconds at the start.
    Group(super::cgroup::Counter, f64),
    /// Ticks from `/proc`.
    Tree(TreeMeter),
}

impl CpuMeter {
    /// Starts measuring the server whose daemon is `pid`.
    pub fn start(pid: u32) -> CpuMeter {
        if let Some(group) = super::cgroup::Counter::of(pid) {
            if let Some(s0) = group.seconds() {
                return CpuMeter::Group(group, s0);
            }
        }
        CpuMeter::Tree(TreeMeter::start(pid))
    }

    /// Stops; returns the CPU seconds the server used meanwhile.
    pub fn stop(self) -> f64 {
        match self {
            CpuMeter::Group(g, s0) => g.seconds().map_or(f64::NAN, |s| s - s0),
            CpuMeter::Tree(t) => t.stop(),
        }
    }
}

/// Server CPU over a measured window from `/proc`, robust to session processes that exit
/// (and may be auto-reaped without reaching the daemon's cutime, as with ProFTPD): a thread
/// polls the tree every 10 ms and keeps each process's last seen own CPU time; the result is
/// the sum of the growth of every process seen. CPU a short-lived process spends after the
/// last poll is missed (at most one poll interval each). The other lower bound, the growth of
/// the tree's utime+stime+cutime+cstime (exact for daemons that wait for their children), is
/// taken too, and the larger of the two is reported. Counted in ticks of 10 ms.
pub struct TreeMeter {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<f64>,
    pid: u32,
    reaped0: f64,
}

impl TreeMeter {
    /// Starts watching the tree rooted at `pid`.
    pub fn start(pid: u32) -> TreeMeter {
        use std::sync::atomic::Ordering;
        let reaped0 = with_reaped(pid);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let initial: std::collections::HashMap<u32, u64> = tree(pid)
            .into_iter()
            .filter_map(|p| own_ticks(p).map(|t| (p, t)))
            .collect();
        let thread = std::thread::spawn(move || {
            let mut last: std::collections::HashMap<u32, u64> = initial.clone();
            loop {
                let done = flag.load(Ordering::Relaxed);
                for p in tree(pid) {
                    if let Some(t) = own_ticks(p) {
                        last.insert(p, t);
                    }
                }
                if done {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            last.iter()
                .map(|(p, t)| t.saturating_sub(initial.get(p).copied().unwrap_or(0)))
                .sum::<u64>() as f64
                / HZ
        });
        TreeMeter {
            stop,
            thread,
            pid,
            reaped0,
        }
    }

    /// Stops watching; returns the CPU seconds the tree used meanwhile.
    pub fn stop(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let polled = self.thread.join().unwrap_or(f64::NAN);
        polled.max(with_reaped(self.pid) - self.reaped0)
    }
}

/// PSS of the tree in KiB.
pub fn pss_kib(pid: u32) -> u64 {
    tree(pid)
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_tree_has_cpu_and_memory() {
        let me = std::process::id();
        assert_eq!(tree(me)[0], me);
        assert!(CpuMeter::start(me).stop() >= 0.0);
        assert!(pss_kib(me) > 0);
    }

    #[test]
    fn the_children_lists_find_the_same_tree_as_a_scan_of_proc() {
        // A child with a grandchild (the shell waits for its background sleep).
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 2 & wait"])
            .spawn()
            .unwrap();
        let sh = child.id();
        let mut found = Vec::new();
        for _ in 0..100 {
            found = tree(sh);
            if found.len() == 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let scanned = scanned_tree(sh);
        let mine = tree(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found, scanned);
        assert!(mine.contains(&sh), "{mine:?}");
    }
}
