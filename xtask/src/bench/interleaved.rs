//! Scenarios 1 (RETR of the big file with curl) and 3 (small files over one session), the
//! servers interleaved measurement by measurement.
//!
//! One download's figure swings up to ×2 on this kind of machine (how the scheduler places
//! curl and the server on the two vCPUs), and the machine's speed drifts over minutes: in one
//! run the same server's median moved from 3045 to 3780 MB/s between two passes a few minutes
//! apart. A server measured in its own slot of a round carries the drift of that slot into
//! the comparison. So every server of the round (the floor too) is started at once, idle
//! beside the others, and the measurements rotate over them: pass `p` fetches the big file and
//! then the small files once from each server, in an order rotated by `p` and by the round, so
//! that each server's samples are spread over the same stretch of time as everyone else's.
//! The small files were measured once per server and round before, in each server's own
//! slot: the same code came out ×1.20 and ×0.91 against pure-ftpd in two runs.
//!
//! Beside the floor, the corked floor ([`CORKED`]) takes part in the downloads only: it shows
//! what sending ProFTPD's way does to the three RETR rows.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use super::cgroup::Group;
use super::floor::{Floor, CORKED, FLOOR};
use super::report::Metric;
use super::{curl_transfer, measure, peers, small_files, url, Exes, Samples, Sizes};

/// A server started for the passes; stopped on drop.
enum Up {
    Peer(peers::Running),
    Floor(Floor),
}

impl Up {
    fn start(root: &Path, exes: &Exes, name: &str, dir: &Path) -> Result<Up> {
        Ok(match name {
            FLOOR => Up::Floor(Floor::start(&exes.floor, dir, false)?),
            CORKED => Up::Floor(Floor::start(&exes.floor, dir, true)?),
            _ => Up::Peer(peers::start(root, &exes.ours, name, dir, None)?),
        })
    }

    fn pid(&self) -> u32 {
        match self {
            Up::Peer(p) => p.pid(),
            Up::Floor(f) => f.pid(),
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Up::Peer(p) => p.addr,
            Up::Floor(f) => f.addr,
        }
    }
}

/// Round `round` of scenarios 1 and 3: `s.retr_repeats` passes over all `servers` (started
/// here, stopped at the end), one download of the big file and one run of the small files
/// from each per pass; MB/s and the server's CPU per GiB of every download and the files/s of
/// every small-files run go into `out`. With the floor comes the corked floor, for the
/// downloads only. A server that fails to start is left out of the round with a notice, and
/// so is one whose transfer fails.
pub fn round(
    root: &Path,
    exes: &Exes,
    servers: &[&str],
    dir: &Path,
    s: &Sizes,
    round: usize,
    out: &mut Samples,
) {
    let mut up = Vec::new();
    let corked = servers.contains(&FLOOR).then_some(CORKED);
    for &name in servers.iter().chain(&corked) {
        match Up::start(root, exes, name, dir) {
            Ok(srv) => up.push((name, srv)),
            Err(e) => eprintln!("xtask bench: {name}: {e:#}"),
        }
    }
    eprintln!(
        "xtask bench: round {} RETR and small files, {} passes over {} servers",
        round + 1,
        s.retr_repeats,
        up.len()
    );
    // curl's own CPU, for the server + client row (where a cgroup can be made).
    let client = Group::for_commands("curl");
    let mut failed = vec![false; up.len()];
    for pass in 0..s.retr_repeats {
        for k in 0..up.len() {
            let i = (k + pass + round) % up.len();
            let (name, srv) = &up[i];
            if failed[i] {
                continue;
            }
            let measured = download(srv, client.as_ref(), s).and_then(|d| match *name {
                CORKED => Ok((d, None)),
                _ => Ok((d, Some(small_files(srv.addr(), name, s)?))),
            });
            let (d, files) = match measured {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("xtask bench: {name}: {e:#}; left out of this round");
                    failed[i] = true;
                    continue;
                }
            };
            let mut put = |metric, v| out.entry((metric, name.to_string())).or_default().push(v);
            put(Metric::RetrMBs, d.mbs);
            put(Metric::RetrCpu, d.server_cpu);
            if let Some(files) = files {
                put(Metric::SmallFiles, files);
            }
            if let Some(c) = d.client_cpu {
                put(Metric::RetrTotalCpu, d.server_cpu + c);
            }
        }
    }
}

/// The figures of one download.
struct Download {
    mbs: f64,
    /// Server CPU, s/GiB.
    server_cpu: f64,
    /// curl's CPU, s/GiB, when it ran in the `client` group.
    client_cpu: Option<f64>,
}

/// One `curl -o /dev/null` of the big file from `srv` (inside `client` if given): MB/s, and
/// server and curl CPU s/GiB (a forked session's exit belongs to its download, so the meter
/// waits for the tree to settle).
///
/// The second CPU figure is there because on loopback the kernel charges the receiving
/// side's TCP work to whichever end happens to run it: a server that sends with `TCP_CORK`
/// set, as ProFTPD does around its one `sendfile` of the whole file, pushes work to curl.
/// Our server with `TCP_CORK` (an A/B, 10 downloads each): 0.253 s/GiB of server CPU
/// against 0.275 without, but curl's CPU went from 0.241 to 0.555 s/GiB and the MB/s halved.
fn download(srv: &Up, client: Option<&Group>, s: &Sizes) -> Result<Download> {
    let gib = s.big as f64 / (1u64 << 30) as f64;
    let mb = s.big as f64 / 1e6;
    let processes = measure::tree(srv.pid()).len();
    let client0 = client.and_then(Group::seconds);
    let cpu = measure::CpuMeter::start(srv.pid());
    let mut curl = client.map_or_else(|| Command::new("curl"), |g| g.command("curl"));
    let t = curl_transfer(curl.args(["-sS", "-o", "/dev/null", &url(srv.addr(), "big.bin")]))?;
    measure::settle(srv.pid(), processes, Duration::from_secs(5));
    let server_cpu = cpu.stop() / gib;
    let client_cpu = match (client.and_then(Group::seconds), client0) {
        (Some(c1), Some(c0)) => Some((c1 - c0) / gib),
        _ => None,
    };
    Ok(Download {
        mbs: mb / t,
        server_cpu,
        client_cpu,
    })
}
