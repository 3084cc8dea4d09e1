//! Medians, ratios and the three outputs: a plain table, JSON and an SVG bar chart.
//!
//! The null servers (the floor, `super::floor::FLOOR`, and the corked floor, `CORKED`) are
//! not peers: they never take part in the `ours/best` ratio. The table shows them last on
//! their rows as `floor (null server) ...`; the JSON keeps them out of a metric's
//! `"results"` and puts them beside them as `"floor"` / `"floor_corked"`:
//! `{ "median", "min", "max", "samples" }` (only on the metrics they run); the SVG draws them
//! as hatched grey bars.
//!
//! Beside the ratio of medians, a row shows ours against the best peer pass by pass
//! (`paired: ahead k/n, xR`: ours better in k of n pairs, median of the pairs' ratios), as
//! the samples of one pass or round were taken minutes apart from the next ones' but
//! seconds apart from each other.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::floor::{CORKED, FLOOR};
use super::tls::Case;
use super::Samples;

/// The null servers: their entry names, labels in the table and the chart, and JSON keys.
const REFERENCES: [(&str, &str, &str); 2] = [
    (FLOOR, "floor (null server)", "floor"),
    (CORKED, "floor corked (ProFTPD's way)", "floor_corked"),
];

/// The names ours is recorded under: the server, and the client in row 7.
const OURS: [&str; 2] = ["ours", "ftp-client"];

/// Ours' figure against another's, oriented so that > 1 means ours is better.
fn oriented(higher_is_better: bool, ours: f64, theirs: f64) -> f64 {
    if higher_is_better {
        ours / theirs
    } else {
        theirs / ours
    }
}

/// A measured figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    RetrMBs,
    RetrCpu,
    /// Server + curl CPU per GiB of the RETR ([`super::interleaved`] says why).
    RetrTotalCpu,
    StorMBs,
    StorCpu,
    /// STOR into ours with `--fsync-uploads`, beside ours without it in the same round.
    StorFsyncMBs,
    SmallFiles,
    SessionsPerS,
    SessionP50,
    SessionP99,
    SessionCpu,
    IdleKib,
    ListMs,
    ClientGetMBs,
    MirrorFiles,
    /// An FTPS figure of one certificate/version case (`super::tls`).
    Ftps(Ftps, Case),
}

/// The FTPS figures (`super::tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ftps {
    RetrMBs,
    RetrCpu,
    StorMBs,
    StorCpu,
    SmallFiles,
    Sessions,
    /// Aggregate MB/s of this many concurrent downloads.
    Parallel(u8),
}

impl Ftps {
    /// (JSON key, table label, unit, higher is better), without the case.
    fn info(self) -> (String, String, &'static str, bool) {
        let (k, l, unit, higher) = match self {
            Ftps::RetrMBs => ("retr_mb_s", "RETR", "MB/s", true),
            Ftps::RetrCpu => ("retr_cpu_s_per_gib", "RETR CPU", "s/GiB", false),
            Ftps::StorMBs => ("stor_mb_s", "STOR", "MB/s", true),
            Ftps::StorCpu => ("stor_cpu_s_per_gib", "STOR CPU", "s/GiB", false),
            Ftps::SmallFiles => ("small_files_per_s", "small files", "files/s", true),
            Ftps::Sessions => ("sessions_per_s", "sessions", "sess/s", true),
            Ftps::Parallel(n) => {
                return (
                    format!("parallel_{n}_mb_s"),
                    format!("{n}x RETR"),
                    "MB/s",
                    true,
                )
            }
        };
        (k.to_string(), l.to_string(), unit, higher)
    }
}

impl Metric {
    /// (JSON key, table label, unit, higher is better).
    fn info(self) -> (String, String, &'static str, bool) {
        let (k, l, unit, higher) = match self {
            Metric::Ftps(f, case) => {
                let (k, l, unit, higher) = f.info();
                return (
                    format!("ftps_{}_{k}", case.key()),
                    format!("F {} {l}", case.label()),
                    unit,
                    higher,
                );
            }
            Metric::RetrMBs => ("retr_mb_s", "1 RETR", "MB/s", true),
            Metric::RetrCpu => ("retr_cpu_s_per_gib", "1 RETR CPU", "s/GiB", false),
            Metric::RetrTotalCpu => (
                "retr_server_and_client_cpu_s_per_gib",
                "1 RETR CPU +curl",
                "s/GiB",
                false,
            ),
            Metric::StorMBs => ("stor_mb_s", "2 STOR", "MB/s", true),
            Metric::StorCpu => ("stor_cpu_s_per_gib", "2 STOR CPU", "s/GiB", false),
            Metric::StorFsyncMBs => ("stor_fsync_mb_s", "2 STOR fsync", "MB/s", true),
            Metric::SmallFiles => ("small_files_per_s", "3 small files", "files/s", true),
            Metric::SessionsPerS => ("sessions_per_s", "4 sessions", "sess/s", true),
            Metric::SessionP50 => ("session_p50_ms", "4 session p50", "ms", false),
            Metric::SessionP99 => ("session_p99_ms", "4 session p99", "ms", false),
            Metric::SessionCpu => ("session_cpu_ms", "4 session CPU", "ms/sess", false),
            Metric::IdleKib => ("idle_kib_per_conn", "5 idle memory", "KiB/conn", false),
            Metric::ListMs => ("list_10k_ms", "6 LIST 10k", "ms", false),
            Metric::ClientGetMBs => ("client_get_mb_s", "7 client get", "MB/s", true),
            Metric::MirrorFiles => ("client_mirror_files_per_s", "7 mirror", "files/s", true),
        };
        (k.to_string(), l.to_string(), unit, higher)
    }
}

/// Median, min and max of one figure.
#[derive(Debug, Clone, Copy)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
    n: usize,
}

fn stat(v: &[f64]) -> Option<Stat> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    };
    Some(Stat {
        median,
        min: v[0],
        max: v[v.len() - 1],
        n: v.len(),
    })
}

/// The summarised results of a run.
pub struct Report {
    rows: BTreeMap<Metric, Vec<(String, Stat)>>,
    /// The samples themselves, in the order taken (for [`Report::paired`]).
    samples: Samples,
    ceiling: Option<f64>,
    quick: bool,
    rounds: usize,
}

fn fmt(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Report {
    /// Summarises the samples of all rounds.
    pub fn new(samples: Samples, ceiling: Option<f64>, quick: bool, rounds: usize) -> Report {
        let mut rows: BTreeMap<Metric, Vec<(String, Stat)>> = BTreeMap::new();
        for ((m, who), v) in &samples {
            if let Some(s) = stat(v) {
                rows.entry(*m).or_default().push((who.clone(), s));
            }
        }
        Report {
            rows,
            samples,
            ceiling,
            quick,
            rounds,
        }
    }

    /// The entries that are not a null server.
    fn peers(entries: &[(String, Stat)]) -> impl Iterator<Item = &(String, Stat)> {
        entries
            .iter()
            .filter(|(w, _)| REFERENCES.iter().all(|(r, _, _)| w != r))
    }

    /// The null servers' figures on a row (those that ran that scenario), in
    /// [`REFERENCES`] order: label, JSON key, figure.
    fn references(entries: &[(String, Stat)]) -> impl Iterator<Item = (&str, &str, &Stat)> {
        REFERENCES.iter().filter_map(move |&(name, label, key)| {
            let s = entries.iter().find(|(w, _)| w == name)?;
            Some((label, key, &s.1))
        })
    }

    /// Ours (ftp-server / ftp-client) divided by the best other entry (never a null server),
    /// oriented so that > 1 means ours is better.
    fn ratio(m: Metric, entries: &[(String, Stat)]) -> Option<(f64, String)> {
        let (_, _, _, higher) = m.info();
        let ours = entries
            .iter()
            .find(|(w, _)| OURS.contains(&w.as_str()))?
            .1
            .median;
        let best = Self::peers(entries)
            // Ours built with the other crypto provider is no peer; "ours without fsync"
            // is the fsync row's reference and stays one.
            .filter(|(w, _)| w != "ours-aws-lc" && !OURS.contains(&w.as_str()))
            .max_by(|a, b| {
                let o = a.1.median.total_cmp(&b.1.median);
                if higher {
                    o
                } else {
                    o.reverse()
                }
            })?;
        Some((oriented(higher, ours, best.1.median), best.0.clone()))
    }

    /// Ours against `best` sample by sample: sample `i` of every server on a row was taken
    /// in the same pass (RETR, small files) or round (the rest), so comparing them pairwise
    /// cancels the machine's drift between passes. Returns how many pairs ours wins, how
    /// many there are, and the median of the pairs' ratios (> 1: ours better); `None` unless
    /// both have the same number of samples (a server left out of a round breaks the pairs).
    fn paired(&self, m: Metric, best: &str) -> Option<(usize, usize, f64)> {
        let higher = m.info().3;
        let ours = OURS
            .iter()
            .find_map(|w| self.samples.get(&(m, w.to_string())))?;
        let theirs = self.samples.get(&(m, best.to_string()))?;
        if ours.len() != theirs.len() || ours.len() < 2 {
            return None;
        }
        let ratios: Vec<f64> = ours
            .iter()
            .zip(theirs)
            .map(|(o, t)| oriented(higher, *o, *t))
            .collect();
        let ahead = ratios.iter().filter(|r| **r > 1.0).count();
        Some((ahead, ratios.len(), stat(&ratios)?.median))
    }

    /// The plain-text table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "side-by-side benchmark ({} mode, {} round(s); median [min-max]; ratio >1 = ours better)",
            if self.quick { "quick" } else { "full" },
            self.rounds
        );
        if let Some(c) = self.ceiling {
            let _ = writeln!(t, "loopback ceiling (iperf3, 1 stream): {c:.0} MB/s");
        }
        for (m, entries) in &self.rows {
            let (_, label, unit, _) = m.info();
            let _ = write!(t, "{label:<28} {unit:<9}");
            for (who, s) in Self::peers(entries) {
                let _ = write!(
                    t,
                    " | {who} {} [{}-{}]",
                    fmt(s.median),
                    fmt(s.min),
                    fmt(s.max)
                );
            }
            if let Some((r, best)) = Self::ratio(*m, entries) {
                let _ = write!(t, " | ours/best({best}) x{r:.2}");
                if let Some((ahead, n, pr)) = self.paired(*m, &best) {
                    let _ = write!(t, " (paired: ahead {ahead}/{n}, x{pr:.2})");
                }
            }
            for (label, _, s) in Self::references(entries) {
                let _ = write!(
                    t,
                    " | {label} {} [{}-{}]",
                    fmt(s.median),
                    fmt(s.min),
                    fmt(s.max)
                );
            }
            t.push('\n');
        }
        t
    }

    /// The JSON document (hand-written: no serde dependency in xtask).
    pub fn json(&self) -> String {
        let mut j = String::from("{\n");
        let _ = writeln!(
            j,
            "  \"mode\": \"{}\",\n  \"rounds\": {},\n  \"loopback_ceiling_mb_s\": {},",
            if self.quick { "quick" } else { "full" },
            self.rounds,
            self.ceiling.map_or("null".into(), |c| format!("{c:.1}"))
        );
        j.push_str("  \"metrics\": {\n");
        let n = self.rows.len();
        for (i, (m, entries)) in self.rows.iter().enumerate() {
            let (key, _, unit, higher) = m.info();
            let _ = writeln!(
                j,
                "    \"{key}\": {{\n      \"unit\": \"{unit}\",\n      \"higher_is_better\": {higher},"
            );
            if let Some((r, best)) = Self::ratio(*m, entries) {
                let paired = self.paired(*m, &best).map_or(String::new(), |(a, n, pr)| {
                    format!(", \"paired\": {{ \"ours_ahead\": {a}, \"pairs\": {n}, \"median_ratio\": {pr:.3} }}")
                });
                let _ = writeln!(
                    j,
                    "      \"ours_vs_best\": {{ \"best\": \"{best}\", \"ratio\": {r:.3}{paired} }},"
                );
            }
            let json_stat = |s: &Stat| {
                format!(
                    "{{ \"median\": {:.4}, \"min\": {:.4}, \"max\": {:.4}, \"samples\": {} }}",
                    s.median, s.min, s.max, s.n
                )
            };
            for (_, key, s) in Self::references(entries) {
                let _ = writeln!(j, "      \"{key}\": {},", json_stat(s));
            }
            j.push_str("      \"results\": {\n");
            let peers: Vec<_> = Self::peers(entries).collect();
            for (k, (who, s)) in peers.iter().enumerate() {
                let _ = writeln!(
                    j,
                    "        \"{who}\": {}{}",
                    json_stat(s),
                    if k + 1 < peers.len() { "," } else { "" }
                );
            }
            let _ = writeln!(j, "      }}\n    }}{}", if i + 1 < n { "," } else { "" });
        }
        j.push_str("  }\n}\n");
        j
    }

    /// A horizontal bar chart: one panel per metric, bars scaled to the panel's maximum.
    pub fn svg(&self) -> String {
        let bar_h = 14.0;
        let width = 760.0;
        let label_w = 250.0;
        let mut y = 40.0;
        let mut body = String::new();
        for (m, entries) in &self.rows {
            let (_, label, unit, higher) = m.info();
            let _ = writeln!(
                body,
                "<text x=\"10\" y=\"{y}\" font-weight=\"bold\">{} ({}, {})</text>",
                esc(&label),
                esc(unit),
                if higher {
                    "higher is better"
                } else {
                    "lower is better"
                }
            );
            y += 6.0;
            let max = entries
                .iter()
                .map(|(_, s)| s.median)
                .fold(0.0_f64, f64::max)
                .max(f64::MIN_POSITIVE);
            // Peers first, the null servers last.
            let peers = Self::peers(entries).map(|(who, s)| {
                let fill = if OURS.contains(&who.as_str()) {
                    "#d9480f"
                } else {
                    "#868e96"
                };
                (fill, "none", who.as_str(), s)
            });
            let references =
                Self::references(entries).map(|(label, _, s)| ("url(#floor)", "#868e96", label, s));
            for (fill, stroke, name, s) in peers.chain(references) {
                let w = (s.median / max) * (width - label_w - 90.0);
                let _ = writeln!(
                    body,
                    "<text x=\"20\" y=\"{:.0}\">{}</text><rect x=\"{label_w}\" y=\"{y:.0}\" width=\"{w:.1}\" height=\"{bar_h}\" fill=\"{fill}\" stroke=\"{stroke}\"/><text x=\"{:.1}\" y=\"{:.0}\">{}</text>",
                    y + bar_h - 3.0,
                    esc(name),
                    label_w + w + 4.0,
                    y + bar_h - 3.0,
                    fmt(s.median)
                );
                y += bar_h + 3.0;
            }
            y += 18.0;
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{y:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n\
             <defs><pattern id=\"floor\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
             <rect width=\"6\" height=\"6\" fill=\"#e9ecef\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#868e96\" stroke-width=\"2\"/></pattern></defs>\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">cargo xtask bench ({} mode, medians of {} round(s))</text>\n{body}</svg>\n",
            if self.quick { "quick" } else { "full" },
            self.rounds
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut s = Samples::new();
        s.insert((Metric::RetrMBs, "ours".into()), vec![100.0, 300.0, 200.0]);
        s.insert((Metric::RetrMBs, "vsftpd".into()), vec![100.0]);
        s.insert((Metric::ListMs, "ours".into()), vec![10.0, 20.0]);
        s.insert((Metric::ListMs, "proftpd".into()), vec![30.0]);
        Report::new(s, Some(5000.0), true, 3)
    }

    #[test]
    fn median_of_even_count_averages_the_middle_pair() {
        let s = stat(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
    }

    #[test]
    fn ratio_is_oriented_so_above_one_means_ours_is_better() {
        let r = sample();
        let retr = Report::ratio(Metric::RetrMBs, &r.rows[&Metric::RetrMBs]).unwrap();
        assert_eq!(retr, (2.0, "vsftpd".to_string()));
        let list = Report::ratio(Metric::ListMs, &r.rows[&Metric::ListMs]).unwrap();
        assert_eq!(list, (2.0, "proftpd".to_string()));
    }

    #[test]
    fn null_servers_are_never_the_best_peer_but_are_shown_apart() {
        let mut s = Samples::new();
        s.insert((Metric::RetrCpu, "ours".into()), vec![1.0]);
        s.insert((Metric::RetrCpu, "vsftpd".into()), vec![2.0]);
        s.insert((Metric::RetrCpu, FLOOR.into()), vec![0.5, 0.6, 0.55]);
        s.insert((Metric::RetrCpu, CORKED.into()), vec![0.1, 0.2]);
        let r = Report::new(s, None, true, 3);
        let row = &r.rows[&Metric::RetrCpu];
        assert_eq!(
            Report::ratio(Metric::RetrCpu, row),
            Some((2.0, "vsftpd".into()))
        );
        let table = r.table();
        let line = table.lines().find(|l| l.starts_with("1 RETR CPU")).unwrap();
        assert!(
            line.ends_with(
                "| ours/best(vsftpd) x2.00 | floor (null server) 0.550 [0.500-0.600] \
                 | floor corked (ProFTPD's way) 0.150 [0.100-0.200]"
            ),
            "{line}"
        );
        let json = r.json();
        assert!(json.contains(
            "\"floor\": { \"median\": 0.5500, \"min\": 0.5000, \"max\": 0.6000, \"samples\": 3 },"
        ));
        let results = &json[json.find("\"results\"").unwrap()..];
        assert!(!results.contains("floor"), "{json}");
        assert!(json.contains("\"floor_corked\": { \"median\": 0.1500,"));
        assert!(r.svg().contains("floor (null server)</text>"));
        assert!(r.svg().contains("floor corked (ProFTPD's way)</text>"));
    }

    #[test]
    fn ours_is_compared_with_the_best_peer_pass_by_pass_when_the_passes_match() {
        let mut s = Samples::new();
        s.insert((Metric::RetrMBs, "ours".into()), vec![3.0, 1.0, 4.0, 5.0]);
        s.insert((Metric::RetrMBs, "vsftpd".into()), vec![2.0, 2.0, 3.0, 6.0]);
        s.insert((Metric::RetrCpu, "ours".into()), vec![1.0, 2.0, 3.0]);
        s.insert((Metric::RetrCpu, "vsftpd".into()), vec![2.0, 2.0]);
        let r = Report::new(s, None, true, 4);
        let table = r.table();
        let retr = table.lines().find(|l| l.starts_with("1 RETR ")).unwrap();
        assert!(
            retr.ends_with("| ours/best(vsftpd) x1.40 (paired: ahead 2/4, x1.08)"),
            "{retr}"
        );
        let cpu = table.lines().find(|l| l.starts_with("1 RETR CPU")).unwrap();
        assert!(!cpu.contains("paired"), "{cpu}");
        assert!(r.json().contains(
            "\"ours_vs_best\": { \"best\": \"vsftpd\", \"ratio\": 1.400, \"paired\": \
             { \"ours_ahead\": 2, \"pairs\": 4, \"median_ratio\": 1.083 } },"
        ));
    }

    #[test]
    fn ours_with_aws_lc_is_no_peer_but_ours_without_fsync_is() {
        let mut s = Samples::new();
        s.insert((Metric::RetrMBs, "ours".into()), vec![300.0]);
        s.insert((Metric::RetrMBs, "ours-aws-lc".into()), vec![600.0]);
        s.insert((Metric::RetrMBs, "vsftpd".into()), vec![150.0]);
        s.insert((Metric::StorFsyncMBs, "ours".into()), vec![100.0]);
        s.insert(
            (Metric::StorFsyncMBs, "ours without fsync".into()),
            vec![400.0],
        );
        let r = Report::new(s, None, true, 1);
        let retr = Report::ratio(Metric::RetrMBs, &r.rows[&Metric::RetrMBs]);
        assert_eq!(retr, Some((2.0, "vsftpd".into())));
        let fsync = Report::ratio(Metric::StorFsyncMBs, &r.rows[&Metric::StorFsyncMBs]);
        assert_eq!(fsync, Some((0.25, "ours without fsync".into())));
    }

    #[test]
    fn outputs_mention_every_entry() {
        let r = sample();
        assert!(r.table().contains("vsftpd 100"));
        assert!(r.json().contains("\"list_10k_ms\""));
        let svg = r.svg();
        assert!(svg.starts_with("<svg") && svg.contains("proftpd"));
    }
}
