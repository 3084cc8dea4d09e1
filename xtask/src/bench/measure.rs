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

/// CPU seconds used so far by the tree rooted at `pid` (including reaped children).
pub fn cpu_seconds(pid: u32) -> f64 {
    tree(pid)
        .into_iter()
        .filter_map(stat)
        .map(|(_, t)| t as f64 / HZ)
        .sum()
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
        assert!(cpu_seconds(me) >= 0.0);
        assert!(pss_kib(me) > 0);
    }
}
