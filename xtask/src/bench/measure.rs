//! Server-side CPU and memory of a whole process tree, from `/proc`.

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
pub fn tree(pid: u32) -> Vec<u32> {
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
fn with_reaped(pid: u32) -> f64 {
    tree(pid)
        .into_iter()
        .filter_map(stat)
        .map(|(_, t)| t as f64 / HZ)
        .sum()
}

/// Own utime+stime (ticks) of one process, without reaped children.
fn own_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = text[text.rfind(')')? + 2..].split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(t(11)? + t(12)?)
}

/// Server CPU over a measured window, robust to session processes that exit (and may be
/// auto-reaped without reaching the daemon's cutime, as with ProFTPD): a thread polls the
/// tree every 10 ms and keeps each process's last seen own CPU time; the result is the sum of
/// the growth of every process seen. CPU a short-lived process spends after the last poll is
/// missed (at most one poll interval each). The other lower bound, the growth of the tree's
/// utime+stime+cutime+cstime (exact for daemons that wait for their children), is taken too,
/// and the larger of the two is reported.
pub struct CpuMeter {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<f64>,
    pid: u32,
    reaped0: f64,
}

impl CpuMeter {
    /// Starts watching the tree rooted at `pid`.
    pub fn start(pid: u32) -> CpuMeter {
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
        CpuMeter {
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
}
