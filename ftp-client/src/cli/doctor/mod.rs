//! `ftp-client doctor URL`: probes a server and says, in plain words, what works and which
//! flags to use. Each probe (`probe`) fills in [`Findings`] and adds a timed [`Step`]; the
//! advice is derived from the findings at the end.

mod probe;

use std::io::Write;
use std::time::Instant;

use anyhow::Result;

use super::session::resolve_login;
use super::url::{without_password, FtpUrl};
use super::Ctx;

/// One probe: what it was, whether it worked, how long it took, what it found.
#[derive(Debug, serde::Serialize)]
struct Step {
    name: &'static str,
    ok: bool,
    ms: u64,
    detail: String,
}

/// What the probes found (`null` in JSON: not probed, or could not be told).
#[derive(Debug, Default, serde::Serialize)]
struct Findings {
    greeting: Option<String>,
    syst: Option<String>,
    /// FEAT's lines, as the server sent them.
    features: Vec<String>,
    /// Useful features FEAT does not list.
    missing_features: Vec<String>,
    epsv: Option<bool>,
    pasv: Option<bool>,
    eprt: Option<bool>,
    port: Option<bool>,
    /// The address in the 227 reply, and what kind it is (`loopback`, `private`,
    /// `link-local`, `unspecified`, `public`).
    pasv_address: Option<String>,
    pasv_address_kind: Option<&'static str>,
    /// Whether the 227 address is the control connection's.
    pasv_address_is_control: Option<bool>,
    mlsd: Option<bool>,
    /// `unix`, `dos`, `unknown` (nothing parsed) or `empty`.
    list_format: Option<&'static str>,
    utf8: bool,
    rest_stream: bool,
    hash: Vec<String>,
    /// The probe file could be uploaded (and was deleted again).
    upload_allowed: Option<bool>,
    mdtm: Option<bool>,
    /// `seconds` or `milliseconds`.
    mdtm_precision: Option<&'static str>,
    mfmt: Option<bool>,
    /// What a time set with MFMT keeps: `milliseconds`, `seconds`, or `none`.
    mfmt_precision: Option<&'static str>,
    /// The server's clock minus ours, in seconds (from the MDTM of the uploaded file).
    clock_skew_secs: Option<i64>,
    auth_tls: Option<bool>,
    tls12: Option<bool>,
    tls13: Option<bool>,
    /// Data connections over TLS work (three listings in a row), with the newest version
    /// that works.
    data_tls: Option<bool>,
    /// The same with TLS 1.2.
    data_tls12: Option<bool>,
    /// Data connections resumed the control connection's TLS session.
    data_tls_resumed: Option<bool>,
}

/// The probes' results so far.
#[derive(Debug, Default)]
struct Report {
    steps: Vec<Step>,
    f: Findings,
}

impl Report {
    fn step(&mut self, name: &'static str, started: Instant, ok: bool, detail: impl Into<String>) {
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.steps.push(Step {
            name,
            ok,
            ms,
            detail: detail.into(),
        });
    }
}

/// `ftp-client doctor URL [--json]`.
pub(crate) async fn run(ctx: &Ctx, url: &str, json: bool) -> Result<()> {
    let u = FtpUrl::parse(url)?;
    let login = resolve_login(ctx, &u)?;
    let mut r = Report::default();
    let probed = probe::all(ctx, &login, &mut r).await;
    let advice = advice(
        &r.f,
        login.tls != crate::tls::TlsMode::Off || ctx.opts.tls != crate::tls::TlsMode::Off,
    );
    let shown = without_password(url);
    if json {
        let v = serde_json::json!({
            "url": shown,
            "steps": r.steps,
            "findings": r.f,
            "advice": advice,
        });
        writeln!(std::io::stdout(), "{v}")?;
    } else {
        print_report(&shown, &r, &advice)?;
    }
    probed
}

fn print_report(url: &str, r: &Report, advice: &[String]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ftp-client doctor {url}")?;
    for s in &r.steps {
        let mark = if s.ok { "ok  " } else { "FAIL" };
        let detail = super::names::escape_controls(s.detail.as_bytes());
        writeln!(out, "  {mark} {:<12} {:>6} ms  {detail}", s.name, s.ms)?;
    }
    if advice.is_empty() {
        writeln!(out, "No flags needed: the defaults suit this server.")?;
    } else {
        writeln!(out, "Advice:")?;
        for a in advice {
            writeln!(out, "  - {a}")?;
        }
    }
    Ok(())
}

/// What to do about the findings, in plain words (flags to use, behaviour to expect).
fn advice(f: &Findings, tls_used: bool) -> Vec<String> {
    let mut a = Vec::new();
    let passive = f.epsv == Some(true) || f.pasv == Some(true);
    let active = f.eprt == Some(true) || f.port == Some(true);
    if !passive && active {
        a.push("passive mode fails here but active mode works: use --active".to_string());
    }
    if f.epsv == Some(false) && f.pasv == Some(true) {
        a.push("EPSV does not work: the client falls back to PASV by itself".to_string());
    }
    if f.pasv_address_is_control == Some(false) {
        a.push(format!(
            "the 227 reply announces {} ({}), not the server's control address: the client \
             connects to the control address anyway; do not use --trust-pasv-address",
            f.pasv_address.as_deref().unwrap_or("?"),
            f.pasv_address_kind.unwrap_or("?")
        ));
    }
    if !tls_used && f.auth_tls == Some(true) {
        a.push("the server offers TLS: use ftpes:// URLs (or --tls) to protect the password and the data".to_string());
    }
    if f.tls13 == Some(true) && f.data_tls == Some(false) && f.data_tls12 == Some(true) {
        a.push("TLS 1.3 data connections are refused: use --tls-max-version 1.2".to_string());
    }
    if f.mlsd == Some(false) {
        a.push(
            "no MLSD: listings are parsed from LIST, whose times are in the server's time zone \
             and coarse, so mirror compares sizes (and --only-newer needs a day's margin)"
                .to_string(),
        );
    }
    if !f.rest_stream {
        a.push(
            "no REST STREAM: an interrupted transfer starts over instead of resuming".to_string(),
        );
    }
    if let Some(s) = f.clock_skew_secs.filter(|s| s.abs() > 60) {
        a.push(format!(
            "the server's clock is {s:+} s off ours: --newer-than and --only-newer compare \
             across that skew"
        ));
    }
    a
}
