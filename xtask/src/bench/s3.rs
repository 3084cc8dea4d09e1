//! `cargo xtask bench --s3`: our server storing into and serving from S3 (the Ceph cluster of
//! `cargo xtask ceph start`), against the same transfer done directly over S3 by rclone, in
//! the same run (issue 15).
//!
//! Each round, our pair first in odd rounds and the direct pair first in even ones (each
//! object deleted, and its space collected, before the next is written):
//! - **STOR**: curl uploads the file to our release server (`--storage s3`), which streams it
//!   into a multipart upload; **direct PUT**: `rclone copyto` of the same file (its defaults:
//!   multipart, 5 MiB chunks, four in flight);
//! - **RETR**: curl downloads it from our server to `/dev/null` (one ranged-less GET streamed
//!   through); **direct GET**: `rclone cat` of the same object to `/dev/null` (one stream, as
//!   RETR; `copyto` would write the page cache and split large files into parallel streams).
//!
//! The engine sets the pace on this machine, so the figures are ratios (ours / direct), medians
//! over the rounds. Beside them: our server's CPU seconds per GiB (its whole process tree, from
//! `/proc`) and its peak RSS during each transfer (`VmHWM`, reset before each through
//! `/proc/<pid>/clear_refs`). A 1 GiB STOR must keep the peak RSS under [`RSS_LIMIT_MIB`]: the
//! run fails otherwise (after printing everything).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use super::peers::{self, PASS, USER};
use super::{measure, timed};
use crate::ceph;

/// The most a 1 GiB STOR may make our server's RSS (issue 15).
pub const RSS_LIMIT_MIB: f64 = 64.0;

/// What one round measured.
#[derive(Debug, Default, Clone)]
struct Round {
    stor_mbs: f64,
    put_mbs: f64,
    retr_mbs: f64,
    get_mbs: f64,
    stor_cpu: f64,
    retr_cpu: f64,
    stor_rss_mib: f64,
    retr_rss_mib: f64,
}

/// Runs the S3 comparison: `rounds` rounds of a `size`-byte file; prints the table and writes
/// the JSON to `json`.
pub fn run(root: &Path, size: u64, rounds: usize, json: &Path) -> Result<()> {
    if !ceph::s3_answers() {
        bail!(
            "no S3 gateway answers on {} (start one with `cargo xtask ceph start`)",
            ceph::S3_ADDR
        );
    }
    let bins = crate::build_bins(root, &["ftp-server"], false)?;
    let dir = std::env::temp_dir().join(format!("xtask-bench-s3-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("big.bin");
    write_file(&file, size)?;
    let prefix = format!("bench-s3-{}/", std::process::id());
    let result = (|| -> Result<Vec<Round>> {
        let srv = start_server(&bins.join("ftp-server"), &prefix, &dir)?;
        let mut all = Vec::with_capacity(rounds);
        for r in 0..rounds {
            eprintln!("xtask bench --s3: round {}/{rounds}", r + 1);
            all.push(round(root, &srv, &file, &prefix, size, r)?);
        }
        Ok(all)
    })();
    let _ = crate::run(ceph::rclone().args(["purge", &remote(&prefix)]));
    let _ = std::fs::remove_dir_all(&dir);
    let all = result?;
    let text = table(&all, size);
    println!("{text}");
    if let Some(parent) = json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(json, to_json(&all, size)).with_context(|| json.display().to_string())?;
    eprintln!("xtask bench --s3: wrote {}", json.display());
    let worst = all.iter().map(|r| r.stor_rss_mib).fold(0.0, f64::max);
    if size >= 1 << 30 && worst >= RSS_LIMIT_MIB {
        bail!("a 1 GiB STOR took our server to {worst:.1} MiB RSS (limit {RSS_LIMIT_MIB} MiB)");
    }
    Ok(())
}

/// `ceph:ftp-test/<key>`.
fn remote(key: &str) -> String {
    format!("ceph:{}/{key}", ceph::BUCKET)
}

/// A `size`-byte file of a repeating 1 MiB pattern (size rounded up to whole MiB).
fn write_file(path: &Path, size: u64) -> Result<()> {
    use std::io::Write;
    let pattern: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for _ in 0..size.div_ceil(1 << 20) {
        f.write_all(&pattern)?;
    }
    f.flush()?;
    Ok(())
}

/// Our release server on `prefix` of the test bucket, credentials in its environment.
fn start_server(exe: &Path, prefix: &str, dir: &Path) -> Result<peers::Running> {
    let addr = SocketAddr::from(([127, 0, 0, 1], peers::free_port()?));
    let mut cmd = Command::new(exe);
    cmd.args(["--listen", &addr.to_string()])
        .args(["--user", &format!("{USER}:{PASS}")])
        .args(["--storage", "s3"])
        .args(["--s3-endpoint", &format!("http://{}", ceph::S3_ADDR)])
        .args(["--s3-bucket", ceph::BUCKET, "--s3-region", ceph::REGION])
        .args(["--s3-prefix", prefix])
        .env("AWS_ACCESS_KEY_ID", ceph::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ceph::SECRET_KEY)
        .env("RUST_LOG", "warn");
    peers::spawn(cmd, "ours (s3)", addr, dir.join("server"))
}

/// One round: STOR and RETR through our server, PUT and GET directly (which pair first
/// alternates with `r`). Each object is deleted and its space collected before the other is
/// written: the cluster holds three replicas of each in RAM.
fn round(
    root: &Path,
    srv: &peers::Running,
    file: &Path,
    prefix: &str,
    size: u64,
    r: usize,
) -> Result<Round> {
    let mut out = Round::default();
    for ours in [r.is_multiple_of(2), !r.is_multiple_of(2)] {
        let key = format!("{prefix}{}.bin", if ours { "ours" } else { "direct" });
        if ours {
            through_server(srv, file, &key, size, &mut out)?;
        } else {
            directly(file, &key, size, &mut out)?;
        }
        crate::run(ceph::rclone().args(["deletefile", &remote(&key)]))?;
        ceph::collect_garbage(root)?;
    }
    Ok(out)
}

/// STOR of `file` as `key` through our server, then RETR of it: rates, CPU, peak RSS.
fn through_server(
    srv: &peers::Running,
    file: &Path,
    key: &str,
    size: u64,
    out: &mut Round,
) -> Result<()> {
    let (mb, gib) = (size as f64 / 1e6, size as f64 / (1u64 << 30) as f64);
    let name = key.rsplit('/').next().unwrap_or(key);
    let url = format!("ftp://{USER}:{PASS}@{}/{name}", srv.addr);
    let pid = srv.pid();
    reset_peak_rss(pid);
    let cpu = measure::CpuMeter::start(pid);
    let t = timed(Command::new("curl").args(["-sS", "-T"]).arg(file).arg(&url))?;
    out.stor_cpu = cpu.stop() / gib;
    out.stor_rss_mib = peak_rss_mib(pid)?;
    out.stor_mbs = mb / t;
    check_size(key, size)?;
    reset_peak_rss(pid);
    let cpu = measure::CpuMeter::start(pid);
    let t = timed(Command::new("curl").args(["-sS", "-o", "/dev/null", &url]))?;
    out.retr_cpu = cpu.stop() / gib;
    out.retr_rss_mib = peak_rss_mib(pid)?;
    out.retr_mbs = mb / t;
    Ok(())
}

/// The same transfers directly over S3: `rclone copyto` up, `rclone cat` down.
fn directly(file: &Path, key: &str, size: u64, out: &mut Round) -> Result<()> {
    let mb = size as f64 / 1e6;
    let t = timed(ceph::rclone().arg("copyto").arg(file).arg(remote(key)))?;
    out.put_mbs = mb / t;
    check_size(key, size)?;
    let t = timed(ceph::rclone().arg("cat").arg(remote(key)))?;
    out.get_mbs = mb / t;
    Ok(())
}

/// Fails unless the object `key` exists with `size` bytes (read directly over S3).
fn check_size(key: &str, size: u64) -> Result<()> {
    let out = crate::output(
        ceph::rclone()
            .args(["lsjson", "--stat", "--no-mimetype"])
            .arg(remote(key))
            .stderr(Stdio::piped()),
    )?;
    let want = format!("\"Size\":{size},");
    if !out.replace(' ', "").contains(&want) {
        bail!("object {key} is not {size} bytes: {out}");
    }
    Ok(())
}

/// Resets the peak RSS (`VmHWM`) of `pid` to its current RSS (`clear_refs` value 5).
fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// `VmHWM` of `pid` in MiB: the peak RSS since the last reset.
fn peak_rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/<pid>/status")?;
    Ok(kib / 1024.0)
}

/// The median of `values` (NaN when empty).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The medians, in table order: (label, ours, direct, ours CPU s/GiB, ours peak RSS MiB).
fn rows(all: &[Round]) -> [(&'static str, f64, f64, f64, f64); 2] {
    let m = |f: fn(&Round) -> f64| median(all.iter().map(f).collect());
    [
        (
            "upload (STOR / rclone copyto)",
            m(|r| r.stor_mbs),
            m(|r| r.put_mbs),
            m(|r| r.stor_cpu),
            all.iter().map(|r| r.stor_rss_mib).fold(0.0, f64::max),
        ),
        (
            "download (RETR / rclone cat)",
            m(|r| r.retr_mbs),
            m(|r| r.get_mbs),
            m(|r| r.retr_cpu),
            all.iter().map(|r| r.retr_rss_mib).fold(0.0, f64::max),
        ),
    ]
}

/// The plain-text table (Markdown).
fn table(all: &[Round], size: u64) -> String {
    let mut t = format!(
        "S3 on Ceph RGW, {} MiB file, {} round(s), medians\n\n\
         | transfer | ours MB/s | direct S3 MB/s | ours / direct | server CPU s/GiB | server peak RSS MiB |\n\
         |---|---:|---:|---:|---:|---:|\n",
        size >> 20,
        all.len()
    );
    for (label, ours, direct, cpu, rss) in rows(all) {
        t.push_str(&format!(
            "| {label} | {ours:.1} | {direct:.1} | {:.2} | {cpu:.2} | {rss:.1} |\n",
            ours / direct
        ));
    }
    t
}

/// The JSON report: medians per transfer and every round's figures.
fn to_json(all: &[Round], size: u64) -> String {
    let [up, down] = rows(all);
    let row = |(_, ours, direct, cpu, rss): (&str, f64, f64, f64, f64)| {
        format!(
            "{{\"ours_mb_s\": {ours:.2}, \"direct_mb_s\": {direct:.2}, \"ratio\": {:.3}, \
             \"server_cpu_s_per_gib\": {cpu:.3}, \"server_peak_rss_mib\": {rss:.1}}}",
            ours / direct
        )
    };
    let rounds: Vec<String> = all
        .iter()
        .map(|r| {
            format!(
                "{{\"stor_mb_s\": {:.2}, \"put_mb_s\": {:.2}, \"retr_mb_s\": {:.2}, \
                 \"get_mb_s\": {:.2}, \"stor_rss_mib\": {:.1}, \"retr_rss_mib\": {:.1}}}",
                r.stor_mbs, r.put_mbs, r.retr_mbs, r.get_mbs, r.stor_rss_mib, r.retr_rss_mib
            )
        })
        .collect();
    format!(
        "{{\"bytes\": {size}, \"rss_limit_mib\": {RSS_LIMIT_MIB}, \"upload\": {}, \
         \"download\": {}, \"rounds\": [{}]}}\n",
        row(up),
        row(down),
        rounds.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_ratios_of_medians() {
        let r = |stor, put| Round {
            stor_mbs: stor,
            put_mbs: put,
            retr_mbs: 100.0,
            get_mbs: 200.0,
            ..Round::default()
        };
        let all = [r(40.0, 50.0), r(30.0, 40.0), r(45.0, 45.0)];
        let t = table(&all, 1 << 30);
        assert!(
            t.contains("| upload (STOR / rclone copyto) | 40.0 | 45.0 | 0.89 |"),
            "{t}"
        );
        assert!(
            t.contains("| download (RETR / rclone cat) | 100.0 | 200.0 | 0.50 |"),
            "{t}"
        );
        assert!(to_json(&all, 1 << 30).contains("\"ratio\": 0.889"));
    }

    #[test]
    fn peak_rss_of_this_process_is_positive() {
        reset_peak_rss(std::process::id());
        assert!(peak_rss_mib(std::process::id()).unwrap() > 0.0);
    }
}
