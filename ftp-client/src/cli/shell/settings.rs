//! Settings and state: `binary`, `ascii`, `passive`, `verify-data-peer`, `clobber`, `set`,
//! `status`. `set` reads [`SETTINGS`], one row per setting.

use std::io::Write;

use anyhow::Result;

use super::commands::Call;
use super::State;
use crate::cli::{fail, positive_secs, secs, secs_or_zero};
use crate::error::ErrorClass;
use crate::{DataMode, Options, TransferKind};

pub(super) async fn binary(st: &mut State, _: Call<'_>) -> Result<()> {
    set_kind(st, TransferKind::Binary)
}

pub(super) async fn ascii(st: &mut State, _: Call<'_>) -> Result<()> {
    set_kind(st, TransferKind::Ascii)
}

fn set_kind(st: &mut State, kind: TransferKind) -> Result<()> {
    change_kind(st, kind);
    writeln!(std::io::stdout(), "Transfer mode: {}", kind_name(kind))?;
    Ok(())
}

/// The transfer type of the shell, of its session and of its live connection.
fn change_kind(st: &mut State, kind: TransferKind) {
    st.ctx.kind = kind;
    if let Some(s) = st.sess.as_mut() {
        s.kind = kind;
        if let Some(c) = s.client.as_mut() {
            c.set_transfer_kind(kind);
        }
    }
}

pub(super) async fn passive(st: &mut State, call: Call<'_>) -> Result<()> {
    let on = on_off(call.args.first(), st.ctx.opts.mode != DataMode::Passive)?;
    set_passive(st, on);
    writeln!(std::io::stdout(), "Passive mode: {}", on_text(on))?;
    Ok(())
}

pub(super) async fn verify_data_peer(st: &mut State, call: Call<'_>) -> Result<()> {
    let on = on_off(call.args.first(), !st.ctx.opts.verify_data_peer)?;
    set_options(st, |o| o.verify_data_peer = on);
    writeln!(std::io::stdout(), "Data peer check: {}", on_text(on))?;
    Ok(())
}

pub(super) async fn clobber(st: &mut State, call: Call<'_>) -> Result<()> {
    let on = on_off(call.args.first(), st.ctx.no_clobber)?;
    st.ctx.no_clobber = !on;
    writeln!(std::io::stdout(), "Overwrite local files: {}", on_text(on))?;
    Ok(())
}

/// `status`: the connection, the data mode, the transfer type and the data peer check.
pub(super) async fn status(st: &mut State, _: Call<'_>) -> Result<()> {
    let mut out = std::io::stdout();
    match &st.sess {
        Some(s) if s.client.is_some() => writeln!(
            out,
            "Connected to {}:{} as {}.",
            s.login.host, s.login.port, s.login.user
        )?,
        Some(s) => writeln!(out, "Not logged in to {}:{}.", s.login.host, s.login.port)?,
        None => writeln!(out, "Not connected.")?,
    }
    let mode = if st.ctx.opts.mode == DataMode::Passive {
        "passive"
    } else {
        "active"
    };
    writeln!(
        out,
        "Mode: {mode}; type: {}; data peer check: {}.",
        kind_name(st.ctx.kind),
        on_text(st.ctx.opts.verify_data_peer)
    )?;
    let all: Vec<String> = SETTINGS
        .iter()
        .map(|s| format!("{} {}", s.name, (s.get)(st)))
        .collect();
    writeln!(out, "Settings: {}.", all.join(", "))?;
    Ok(())
}

/// One setting of `set`: its name, what it takes, and how to read and change it.
struct Setting {
    name: &'static str,
    values: &'static str,
    get: fn(&State) -> String,
    set: fn(&mut State, &String) -> Result<()>,
}

/// The settings `set` shows and changes (the flags of the same names set them at start).
const SETTINGS: &[Setting] = &[
    Setting {
        name: "timeout",
        values: "SECS (connecting, each reply, stalled data)",
        get: |st| secs_text(st.ctx.opts.reply_timeout),
        set: |st, v| {
            let t = secs(positive_secs(v).map_err(usage)?);
            set_options(st, |o| {
                o.connect_timeout = t;
                o.reply_timeout = t;
                o.data_timeout = t;
            });
            Ok(())
        },
    },
    Setting {
        name: "retries",
        values: "N (of an interrupted transfer)",
        get: |st| st.ctx.retries.to_string(),
        set: |st, v| {
            st.ctx.retries = v
                .parse()
                .map_err(|_| usage(format!("{v:?} is not a count")))?;
            Ok(())
        },
    },
    Setting {
        name: "passive",
        values: "on|off",
        get: |st| on_text(st.ctx.opts.mode == DataMode::Passive).into(),
        set: |st, v| {
            set_passive(st, on_off(Some(v), true)?);
            Ok(())
        },
    },
    Setting {
        name: "ascii",
        values: "on|off (TYPE A or TYPE I)",
        get: |st| on_text(st.ctx.kind == TransferKind::Ascii).into(),
        set: |st, v| {
            let kind = match on_off(Some(v), true)? {
                true => TransferKind::Ascii,
                false => TransferKind::Binary,
            };
            change_kind(st, kind);
            Ok(())
        },
    },
    Setting {
        name: "keepalive",
        values: "SECS (NOOP during transfers; 0: off)",
        get: |st| st.ctx.opts.keepalive.map_or("0".into(), secs_text),
        set: |st, v| {
            let k = secs_or_zero(v).map_err(usage)?;
            set_options(st, |o| o.keepalive = (k > 0.0).then(|| secs(k)));
            Ok(())
        },
    },
    Setting {
        name: "parallel",
        values: "N (connections of mirror without -P, 1 to 16)",
        get: |st| st.ctx.parallel.to_string(),
        set: |st, v| {
            st.ctx.parallel = v
                .parse()
                .ok()
                .filter(|n| (1..=16).contains(n))
                .ok_or_else(|| usage(format!("{v:?} is not a number from 1 to 16")))?;
            Ok(())
        },
    },
    Setting {
        name: "fail-exit",
        values: "on|off (a failed command ends a -c or source script)",
        get: |st| on_text(st.fail_exit).into(),
        set: |st, v| {
            st.fail_exit = on_off(Some(v), true)?;
            Ok(())
        },
    },
];

/// `set`: every setting; `set NAME`: one; `set NAME VALUE`: changes it.
pub(super) async fn set(st: &mut State, call: Call<'_>) -> Result<()> {
    let mut out = std::io::stdout();
    let Some(name) = call.args.first() else {
        for s in SETTINGS {
            writeln!(out, "{} {}", s.name, (s.get)(st))?;
        }
        return Ok(());
    };
    let s = SETTINGS.iter().find(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        usage(format!(
            "no setting {name:?} (settings: {})",
            names.join(", ")
        ))
    })?;
    match call.args.get(1..) {
        Some([]) | None => {}
        Some([value]) => (s.set)(st, value)
            .map_err(|e| usage(format!("set {}: {e} (values: {})", s.name, s.values)))?,
        Some(_) => return Err(call.usage()),
    }
    writeln!(out, "{} {}", s.name, (s.get)(st))?;
    Ok(())
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    fail(ErrorClass::Usage, msg)
}

fn secs_text(d: std::time::Duration) -> String {
    format!("{}", d.as_secs_f64())
}

/// Changes the client options of the shell, of its session and of its live connection.
fn set_options(st: &mut State, change: impl Fn(&mut Options)) {
    change(&mut st.ctx.opts);
    if let Some(s) = st.sess.as_mut() {
        change(&mut s.opts);
        if let Some(c) = s.client.as_mut() {
            change(c.options_mut());
        }
    }
}

fn set_passive(st: &mut State, on: bool) {
    let mode = if on {
        DataMode::Passive
    } else {
        DataMode::Active
    };
    set_options(st, |o| o.mode = mode);
}

/// The setting `on`/`off` asks for; none given toggles to `toggled`.
fn on_off(word: Option<&String>, toggled: bool) -> Result<bool> {
    match word.map(String::as_str) {
        None => Ok(toggled),
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(other) => Err(fail(
            ErrorClass::Usage,
            format!("expected on or off, not {other:?}"),
        )),
    }
}

fn on_text(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

fn kind_name(kind: TransferKind) -> &'static str {
    if kind == TransferKind::Ascii {
        "ascii"
    } else {
        "binary"
    }
}
