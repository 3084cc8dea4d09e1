//! The doctor's probes: each one fills in [`Findings`] and adds a [`Step`].

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Instant, SystemTime};

use anyhow::Result;
use ftp_proto::{Command, ReplyCode, Timestamp};

use super::Report;
use crate::cli::session::Login;
use crate::cli::Ctx;
use crate::client::{connect_tcp, with_timeout};
use crate::tls::{client_config_only, TlsContext, TlsMode, TlsVersion};
use crate::{Client, DataMode, Error};

/// Features worth having, and what their absence costs (for the FEAT step's detail).
const WANTED: &[&str] = &[
    "EPSV", "EPRT", "MLST", "SIZE", "MDTM", "MFMT", "REST", "UTF8", "HASH", "TVFS",
];

/// Connects and logs in as the URL says, or (with `version`) over TLS offering only that
/// version: explicit (`AUTH TLS`) unless the URL asks for implicit FTPS.
async fn connect(ctx: &Ctx, login: &Login, version: Option<TlsVersion>) -> Result<Client, Error> {
    let mut opts = ctx.opts.clone();
    if login.tls != TlsMode::Off {
        opts.tls = login.tls;
    }
    let host = login.host.trim_start_matches('[').trim_end_matches(']');
    let mut c = match version {
        None => Client::connect(&login.host, login.port, opts).await?,
        Some(v) => {
            let tls = TlsContext::with_config(host, client_config_only(&opts.verify, v)?)?;
            if opts.tls == TlsMode::Implicit {
                implicit(host, login.port, opts, tls).await?
            } else {
                opts.tls = TlsMode::Off;
                let mut c = Client::connect(&login.host, login.port, opts).await?;
                c.auth_tls(tls).await?;
                c
            }
        }
    };
    c.login(&login.user, &login.password).await?;
    Ok(c)
}

/// An implicit-FTPS connection with the given TLS context.
async fn implicit(
    host: &str,
    port: u16,
    opts: crate::Options,
    tls: TlsContext,
) -> Result<Client, Error> {
    let target = format!("{host}:{port}");
    let limit = opts.connect_timeout;
    let (stream, peer, local) = connect_tcp(host, port, &target, limit).await?;
    let s = with_timeout(
        limit,
        || "the TLS handshake".into(),
        tls.connect_implicit(stream),
    )
    .await?;
    let mut c = Client::from_stream(Box::new(s), peer, local, opts).await?;
    c.protect_data(tls).await?;
    Ok(c)
}

/// Runs every probe; fails only when the server cannot be reached or logged in to.
pub(super) async fn all(ctx: &Ctx, login: &Login, r: &mut Report) -> Result<()> {
    let started = Instant::now();
    let mut c = match connect(ctx, login, None).await {
        Ok(c) => c,
        Err(e) => {
            r.step("connect", started, false, e.to_string());
            return Err(e.into());
        }
    };
    let greeting = c.welcome().to_string();
    let how = if c.is_tls() { "over TLS" } else { "plain" };
    r.step(
        "connect",
        started,
        true,
        format!("{how}, logged in as {}; {greeting}", login.user),
    );
    r.f.greeting = Some(greeting);
    features(&mut c, r).await;
    // The probe file goes first, so that the listings have an entry to show.
    let probe = upload(&mut c, r).await;
    listings(&mut c, r).await;
    if let Some(name) = probe {
        times(&mut c, &name, r).await;
        let _ = c.delete(&name).await;
    }
    let _ = c.quit().await;
    data_modes(ctx, login, r).await;
    tls(ctx, login, r).await;
    Ok(())
}

/// FEAT (what is listed and what is missing), SYST, UTF-8, REST STREAM, HASH.
async fn features(c: &mut Client, r: &mut Report) {
    let started = Instant::now();
    let feat = match c.feat().await {
        Ok(f) => f.clone(),
        Err(e) => {
            r.step("FEAT", started, false, e.to_string());
            return;
        }
    };
    let f = &mut r.f;
    f.features = feat
        .iter()
        .map(|(n, p)| p.map_or_else(|| n.to_string(), |p| format!("{n} {p}")))
        .collect();
    f.missing_features = WANTED
        .iter()
        .filter(|w| !feat.has(w))
        .map(|w| w.to_string())
        .collect();
    f.rest_stream = feat
        .params("REST")
        .is_some_and(|p| p.eq_ignore_ascii_case("STREAM"));
    f.hash = feat
        .params("HASH")
        .map(|p| {
            p.split(';')
                .map(|h| h.trim().trim_end_matches('*').to_string())
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default();
    f.auth_tls = Some(
        c.is_tls()
            || feat
                .params("AUTH")
                .is_some_and(|p| p.to_ascii_uppercase().contains("TLS")),
    );
    let missing = match f.missing_features.is_empty() {
        true => "nothing missing".to_string(),
        false => format!("missing: {}", f.missing_features.join(" ")),
    };
    let detail = format!("{}; {missing}", f.features.join(", "));
    r.step("FEAT", started, true, detail);
    let started = Instant::now();
    r.f.syst = c.syst().await.ok();
    let utf8 = c.raw("OPTS UTF8 ON").await;
    r.f.utf8 = feat.has("UTF8") || utf8.as_ref().is_ok_and(|r| r.code().is_completion());
    let detail = match &utf8 {
        Ok(reply) => format!("OPTS UTF8 ON: {reply}"),
        Err(e) => e.to_string(),
    };
    r.step("UTF-8", started, r.f.utf8, detail);
}

/// The layout of a `LIST` listing: Unix `ls -l`, DOS/IIS, or unknown.
fn list_format(bytes: &[u8]) -> &'static str {
    let now = crate::listing::now();
    let lines: Vec<&[u8]> = crate::listing::split_lines(bytes)
        .filter(|l| !l.is_empty() && !l.starts_with(b"total "))
        .collect();
    let Some(first) = lines.first() else {
        return "empty";
    };
    match crate::listing::parse_list_line(first, now) {
        Some(_) if first[0].is_ascii_digit() => "dos",
        Some(_) => "unix",
        None => "unknown",
    }
}

/// MLSD tried whatever FEAT says, then LIST and its format.
async fn listings(c: &mut Client, r: &mut Report) {
    let started = Instant::now();
    let mlsd = c.read_listing(Command::Mlsd(None)).await;
    r.f.mlsd = Some(mlsd.is_ok());
    let detail = match &mlsd {
        Ok(b) => format!(
            "works ({} entries): exact UTC times and sizes",
            crate::listing::parse_mlsd(b).len()
        ),
        Err(e) => format!("does not work ({e}): listings come from LIST"),
    };
    r.step("MLSD", started, mlsd.is_ok(), detail);
    let started = Instant::now();
    match c.list_raw(None).await {
        Ok(b) => {
            let format = list_format(&b);
            r.f.list_format = Some(format);
            r.step(
                "LIST",
                started,
                format != "unknown",
                format!("format: {format}"),
            );
        }
        Err(e) => r.step("LIST", started, false, e.to_string()),
    }
}

/// The MDTM of `name` as the server sent it (digits, maybe a fraction).
async fn mdtm_text(c: &mut Client, name: &str) -> Option<String> {
    let reply = c.raw(&format!("MDTM {name}")).await.ok()?;
    (reply.code() == ReplyCode::FILE_STATUS).then(|| {
        let line = String::from_utf8_lossy(&reply.lines()[0]).into_owned();
        line.trim().to_string()
    })
}

/// Uploads a probe file when allowed; returns its name.
async fn upload(c: &mut Client, r: &mut Report) -> Option<String> {
    let started = Instant::now();
    let name = format!("ftp-client-doctor-{}.tmp", std::process::id());
    let body = futures_lite::io::Cursor::new(b"ftp-client doctor probe\n".to_vec());
    if let Err(e) = c.stor(&name, body, 0).await {
        r.f.upload_allowed = Some(false);
        let detail = format!("not allowed ({e}): clock skew and MFMT not probed");
        r.step("upload", started, false, detail);
        return None;
    }
    r.f.upload_allowed = Some(true);
    let detail = format!("{name} uploaded (deleted at the end)");
    r.step("upload", started, true, detail);
    Some(name)
}

/// MDTM precision and clock skew from the probe file, then what MFMT keeps.
async fn times(c: &mut Client, name: &str, r: &mut Report) {
    let started = Instant::now();
    let text = mdtm_text(c, name).await;
    let now = Timestamp::from_system_time(SystemTime::now()).to_unix().0;
    r.f.mdtm = Some(text.is_some());
    if let Some(t) = text
        .as_deref()
        .and_then(|t| Timestamp::parse(t.as_bytes()).ok())
    {
        // The file was written a moment ago: its time is the server's "now".
        let skew = t.to_unix().0 - now;
        let ms = text.as_deref().is_some_and(|t| t.contains('.'));
        let precision = if ms { "milliseconds" } else { "seconds" };
        r.f.mdtm_precision = Some(precision);
        r.f.clock_skew_secs = Some(skew);
        let detail = format!(
            "precise to the {}; clock skew {skew:+} s",
            precision.trim_end_matches('s')
        );
        r.step("MDTM", started, true, detail);
    } else {
        r.step(
            "MDTM",
            started,
            false,
            "no modification times (MDTM refused)",
        );
    }
    mfmt(c, name, r).await;
}

/// Sets a time with milliseconds on the probe file and reads it back.
async fn mfmt(c: &mut Client, name: &str, r: &mut Report) {
    let started = Instant::now();
    let offered = c.feat().await.is_ok_and(|f| f.has("MFMT"));
    let Ok(want) = Timestamp::new(2001, 2, 3, 4, 5, 6, 789) else {
        return;
    };
    let mut set = c.set_mtime(name, want).await;
    if set.is_err() && offered {
        // Some servers (pyftpdlib) take whole seconds only.
        let whole = Timestamp::from_unix(want.to_unix().0, 0);
        set = c.set_mtime(name, whole).await;
    }
    r.f.mfmt = Some(set.is_ok());
    if let Err(e) = set {
        let why = if offered {
            "offered but refused"
        } else {
            "not offered"
        };
        let detail = format!("{why} ({e}): uploads keep the upload time");
        r.step("MFMT", started, false, detail);
        return;
    }
    let back = mdtm_text(c, name)
        .await
        .and_then(|t| Timestamp::parse(t.as_bytes()).ok());
    let kept = match back {
        Some(t) if t == want => "milliseconds",
        Some(t) if t.to_unix().0 == want.to_unix().0 => "seconds",
        _ => "none",
    };
    r.f.mfmt_precision = Some(kept);
    r.step(
        "MFMT",
        started,
        kept != "none",
        format!("keeps {kept} of a time it is given"),
    );
}

/// What kind of address a 227 reply announced.
fn address_kind(ip: Ipv4Addr) -> &'static str {
    if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if ip.octets()[0] == 100 && (64..128).contains(&ip.octets()[1]) {
        "carrier-grade NAT"
    } else {
        "public"
    }
}

/// Sends a bare PASV to read the address the server announces.
async fn pasv_address(c: &mut Client, r: &mut Report) {
    let Ok(reply) = c.raw("PASV").await else {
        return;
    };
    if reply.code() != ReplyCode::PASSIVE_MODE {
        return;
    }
    if let Ok(a) = ftp_proto::addr::parse_pasv_reply(&reply.lines()[0]) {
        r.f.pasv_address = Some(a.ip().to_string());
        r.f.pasv_address_kind = Some(address_kind(*a.ip()));
        r.f.pasv_address_is_control = Some(IpAddr::V4(*a.ip()) == c.peer_addr().ip());
    }
}

/// One listing over each of EPSV, PASV, EPRT and PORT, each on a connection of its own.
async fn data_modes(ctx: &Ctx, login: &Login, r: &mut Report) {
    let modes = [
        ("EPSV", DataMode::Passive, true),
        ("PASV", DataMode::Passive, false),
        ("EPRT", DataMode::Active, true),
        ("PORT", DataMode::Active, false),
    ];
    for (name, mode, extended) in modes {
        let started = Instant::now();
        let result = async {
            let mut c = connect(ctx, login, None).await?;
            let o = c.options_mut();
            o.mode = mode;
            o.extended_data_commands = extended;
            if name == "PASV" {
                pasv_address(&mut c, r).await;
            }
            c.list_raw(None).await?;
            let fell_back = extended && (c.epsv_broken || c.eprt_broken);
            let _ = c.quit().await;
            Ok::<bool, Error>(fell_back)
        }
        .await;
        let (ok, detail) = match result {
            Ok(false) => (true, "a listing went through".to_string()),
            Ok(true) => (false, "refused by the server".to_string()),
            Err(e) => (false, e.to_string()),
        };
        let mut detail = detail;
        if let (true, Some(a), Some(k)) = (name == "PASV", &r.f.pasv_address, r.f.pasv_address_kind)
        {
            let same = if r.f.pasv_address_is_control == Some(true) {
                "the control address"
            } else {
                "not the control address"
            };
            detail = format!("{detail}; 227 announces {a} ({k}, {same})");
        }
        *match name {
            "EPSV" => &mut r.f.epsv,
            "PASV" => &mut r.f.pasv,
            "EPRT" => &mut r.f.eprt,
            _ => &mut r.f.port,
        } = Some(ok);
        r.step(name, started, ok, detail);
    }
}

/// TLS 1.2 and 1.3 each on their own connection, and three TLS data connections on each
/// (a server that wants the session resumed refuses those that do not).
async fn tls(ctx: &Ctx, login: &Login, r: &mut Report) {
    let asked = login.tls != TlsMode::Off || ctx.opts.tls != TlsMode::Off;
    if !asked && r.f.auth_tls != Some(true) {
        return;
    }
    for (name, v) in [
        ("TLS 1.2", TlsVersion::Tls12),
        ("TLS 1.3", TlsVersion::Tls13),
    ] {
        let started = Instant::now();
        let mut c = match connect(ctx, login, Some(v)).await {
            Ok(c) => c,
            Err(e) => {
                *version_slot(r, v) = Some(false);
                r.step(name, started, false, e.to_string());
                continue;
            }
        };
        *version_slot(r, v) = Some(true);
        let mut data = Ok(());
        for _ in 0..3 {
            data = c.list_raw(None).await.map(drop);
            if data.is_err() {
                break;
            }
        }
        let (full, resumed) = c.tls.as_ref().map_or((0, 0), TlsContext::data_handshakes);
        let _ = c.quit().await;
        // The findings about data connections are those of the newest version that works.
        r.f.data_tls = Some(data.is_ok());
        if v == TlsVersion::Tls12 {
            r.f.data_tls12 = Some(data.is_ok());
        }
        r.f.data_tls_resumed = Some(resumed > 0);
        let detail = match &data {
            Ok(()) => {
                format!("data connections work ({resumed} resumed the session, {full} did not)")
            }
            Err(e) => format!("control connection works; data connections fail: {e}"),
        };
        r.step(name, started, data.is_ok(), detail);
    }
}

fn version_slot(r: &mut Report, v: TlsVersion) -> &mut Option<bool> {
    match v {
        TlsVersion::Tls12 => &mut r.f.tls12,
        TlsVersion::Tls13 => &mut r.f.tls13,
    }
}
