//! The admin HTTP listener (`admin_listen`): HTTP/1.1 by hyper on the server's own executor
//! (through smol-hyper).
//!
//! `/metrics` (Prometheus text), `/healthz` and `/readyz` need no token; every route under
//! `/api/` needs `Authorization: Bearer <token>`, the token read from `admin_token_file`
//! (compared in constant time; without a token file the API answers `403`, with a wrong or
//! missing token `401`). The routes are one table, [`ROUTES`]: a new endpoint is one row and
//! one handler.
//!
//! A misbehaving admin client cannot hurt FTP sessions: requests are small (no route reads
//! a body; headers are bounded in size and count), each connection has a time limit for
//! its headers and for its whole life, at most [`MAX_CONNECTIONS`] are open at once, and
//! every handler does a bounded amount of work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_net::TcpListener;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::config::Config;
use crate::shared::{LiveSession, Shared};
use crate::storage::BoxFuture;
use crate::vpath::VPath;

/// Most admin connections open at once; further ones are closed at once.
pub const MAX_CONNECTIONS: usize = 32;
/// Time a client has to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Time limit of a whole admin connection (request and response).
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of request headers (hyper's smallest read buffer).
const MAX_HEADER_BYTES: usize = 8192;
/// Most request headers.
const MAX_HEADERS: usize = 32;
/// How long the readiness probe's result is reused.
const READY_CACHE: Duration = Duration::from_secs(1);
/// How long `DELETE /api/v1/sessions/{id}` waits for the session to end.
const KICK_WAIT: Duration = Duration::from_secs(5);
/// How long the storage may take to answer the readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// An HTTP reply: status and JSON (or text) body.
type Reply = Response<Full<Bytes>>;

/// What a handler gets: the server's state and the path's `{…}` parts in order.
type Handler = fn(Arc<Shared>, Vec<String>) -> BoxFuture<'static, Reply>;

/// One route of the admin listener.
#[derive(Debug)]
pub struct Route {
    /// The HTTP method.
    pub method: &'static str,
    /// The path; a segment `{name}` matches any one segment.
    pub path: &'static str,
    /// Whether the bearer token is needed.
    pub token: bool,
    handler: Handler,
}

/// Every route of the admin listener.
pub static ROUTES: &[Route] = &[
    route("GET", "/metrics", false, metrics),
    route("GET", "/healthz", false, healthz),
    route("GET", "/readyz", false, readyz),
    route("GET", "/api/v1/sessions", true, sessions),
    route("DELETE", "/api/v1/sessions/{id}", true, kick),
    route("POST", "/api/v1/drain", true, drain),
    route("GET", "/api/v1/config", true, config),
    route("POST", "/api/v1/reload", true, reload),
    route("GET", "/api/v1/bans", true, bans),
    route("DELETE", "/api/v1/bans/{ip}", true, lift_ban),
];

const fn route(method: &'static str, path: &'static str, token: bool, handler: Handler) -> Route {
    Route {
        method,
        path,
        token,
        handler,
    }
}

/// The route for `path` and its `{…}` parts; `Err(true)` when the path exists with another
/// method (`405`), `Err(false)` when it does not (`404`).
fn find<'r>(method: &str, path: &str) -> Result<(&'r Route, Vec<String>), bool> {
    let want: Vec<&str> = path.split('/').collect();
    let mut path_exists = false;
    for r in ROUTES {
        let have: Vec<&str> = r.path.split('/').collect();
        if have.len() != want.len() {
            continue;
        }
        let mut params = Vec::new();
        let matched = have.iter().zip(&want).all(|(h, w)| {
            if h.starts_with('{') && !w.is_empty() {
                params.push((*w).to_string());
                true
            } else {
                h == w
            }
        });
        if !matched {
            continue;
        }
        if r.method == method {
            return Ok((r, params));
        }
        path_exists = true;
    }
    Err(path_exists)
}

/// Serves the admin listener until the future is dropped.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    ex: Arc<smol::Executor<'static>>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                log::warn!("admin listener: accept failed: {e}");
                async_io::Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        if open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::Relaxed);
            drop(stream);
            continue;
        }
        let (shared, open) = (shared.clone(), open.clone());
        ex.spawn(async move {
            connection(stream, shared).await;
            open.fetch_sub(1, Ordering::Relaxed);
        })
        .detach();
    }
}

/// One admin connection, within its time limit.
async fn connection(stream: async_net::TcpStream, shared: Arc<Shared>) {
    let io = smol_hyper::rt::FuturesIo::new(stream);
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, std::convert::Infallible>(respond(shared, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(smol_hyper::rt::SmolTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(false)
        .serve_connection(io, service);
    let _ = crate::data::timeout(CONNECTION_TIMEOUT, async {
        conn.await.map_err(std::io::Error::other)
    })
    .await;
}

/// Routes one request, checking the token where the route needs it.
async fn respond(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let (route, params) = match find(req.method().as_str(), req.uri().path()) {
        Ok(found) => found,
        Err(true) => return error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        Err(false) => return error(StatusCode::NOT_FOUND, "no such endpoint"),
    };
    if route.token {
        if let Some(refused) = refusal(&shared, &req) {
            return refused;
        }
    }
    (route.handler)(shared, params).await
}

/// `None` when the request carries the configured token, else the refusal: `403` without a
/// token file, `401` for a missing or wrong token.
fn refusal(shared: &Shared, req: &Request<Incoming>) -> Option<Reply> {
    let token = shared
        .admin_token
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let Some(token) = token else {
        return Some(error(
            StatusCode::FORBIDDEN,
            "the admin API is off: no admin token file (--admin-token-file)",
        ));
    };
    let given = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    match given {
        Some(g) if crate::auth::constant_time_eq(g.trim_ascii(), token.expose()) => None,
        _ => {
            let mut r = error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
            r.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Bearer"),
            );
            Some(r)
        }
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

fn json_reply(status: StatusCode, v: &Value) -> Reply {
    let mut body = v.to_string();
    body.push('\n');
    reply(status, "application/json", body)
}

fn error(status: StatusCode, message: &str) -> Reply {
    json_reply(status, &json!({ "error": message }))
}

fn ready(v: Reply) -> BoxFuture<'static, Reply> {
    Box::pin(std::future::ready(v))
}

fn metrics(shared: Arc<Shared>, _: Vec<String>) -> BoxFuture<'static, Reply> {
    let cfg = shared.config();
    shared
        .metrics
        .passive_range(crate::data::passive_range_size(cfg.passive_ports.as_ref()));
    let ct = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ready(reply(StatusCode::OK, ct, shared.metrics.encode()))
}

fn healthz(_: Arc<Shared>, _: Vec<String>) -> BoxFuture<'static, Reply> {
    ready(reply(StatusCode::OK, "text/plain", "ok\n"))
}

fn readyz(shared: Arc<Shared>, _: Vec<String>) -> BoxFuture<'static, Reply> {
    Box::pin(async move {
        if shared.draining.load(Ordering::Relaxed) {
            return reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "draining\n");
        }
        if storage_ready(&shared).await {
            reply(StatusCode::OK, "text/plain", "ready\n")
        } else {
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "storage unavailable\n",
            )
        }
    })
}

/// Whether every storage answers for its root, probed at most once per [`READY_CACHE`].
async fn storage_ready(shared: &Shared) -> bool {
    let cached = *shared.ready_cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((at, ok)) = cached {
        if at.elapsed() < READY_CACHE {
            return ok;
        }
    }
    let mut ok = true;
    for s in shared.auth.storages() {
        let probe = async {
            s.metadata(&VPath::root())
                .await
                .map(|_| ())
                .map_err(std::io::Error::other)
        };
        ok &= crate::data::timeout(PROBE_TIMEOUT, probe).await.is_ok();
    }
    *shared.ready_cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), ok));
    ok
}

/// A time as RFC 3339 (`2026-12-04T18:15:01.5Z`).
fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn session_json(s: &LiveSession) -> Value {
    let st = s.state();
    let transfer = st.transfer.map(|t| {
        json!({
            "verb": t.verb,
            "path": t.path,
            "bytes": t.bytes.load(Ordering::Relaxed),
            "started": rfc3339(t.started),
        })
    });
    json!({
        "id": s.id,
        "user": st.user,
        "peer": s.peer.to_string(),
        "local": s.local.to_string(),
        "since": rfc3339(s.since),
        "tls": st.tls,
        // Empty for `/`.
        "cwd": if st.cwd.is_empty() { "/" } else { &st.cwd },
        "transfer": transfer,
    })
}

fn sessions(shared: Arc<Shared>, _: Vec<String>) -> BoxFuture<'static, Reply> {
    let list: Vec<Value> = shared
        .live_sessions()
        .iter()
        .map(|s| session_json(s))
        .collect();
    ready(json_reply(StatusCode::OK, &Value::Array(list)))
}

/// Closes a session and answers once it has ended (`200`), or `202` when it takes longer
/// than [`KICK_WAIT`] (it is closing, its transfer aborted, but its reply is still being sent).
fn kick(shared: Arc<Shared>, params: Vec<String>) -> BoxFuture<'static, Reply> {
    let id = params.first().and_then(|p| p.parse::<u64>().ok());
    let Some(id) = id.filter(|&id| shared.kick(id)) else {
        return ready(error(StatusCode::NOT_FOUND, "no such session"));
    };
    log::info!(event = "kick", session = id; "admin API: closing session s{id}");
    Box::pin(async move {
        let ended = async {
            shared.ended(id).await;
            Ok(())
        };
        match crate::data::timeout(KICK_WAIT, ended).await {
            Ok(()) => json_reply(StatusCode::OK, &json!({ "closed": id })),
            Err(_) => json_reply(StatusCode::ACCEPTED, &json!({ "closing": id })),
        }
    })
}

/// The banned addresses ([`crate::access::Access::bans`]), longest remaining first.
fn bans(shared: Arc<Shared>, _: Vec<String>) -> BoxFuture<'static, Reply> {
    let list: Vec<Value> = shared
        .access
        .bans()
        .iter()
        .map(|b| {
            json!({
                "ip": b.ip.to_string(),
                "remaining_seconds": b.remaining.as_secs_f64(),
                "count": b.count,
            })
        })
        .collect();
    ready(json_reply(StatusCode::OK, &Value::Array(list)))
}

/// Lifts the ban of an address (and forgets its score): `200`, `404` when it is not banned,
/// `400` for something that is no address.
fn lift_ban(shared: Arc<Shared>, params: Vec<String>) -> BoxFuture<'static, Reply> {
    let Some(ip) = params
        .first()
        .and_then(|p| p.parse::<std::net::IpAddr>().ok())
    else {
        return ready(error(StatusCode::BAD_REQUEST, "not an IP address"));
    };
    if !shared.access.lift(ip) {
        return ready(error(StatusCode::NOT_FOUND, "not banned"));
    }
    log::info!(event = "unban", peer = ip.to_string().as_str(); "admin API: ban of {ip} lifted");
    ready(json_reply(
        StatusCode::OK,
        &json!({ "lifted": ip.to_string() }),
    ))
}

fn drain(shared: Arc<Shared>, _: Vec<String>) -> BoxFuture<'static, Reply> {
    if !shared.draining.swap(true, Ordering::Relaxed) {
        log::info!(event = "drain"; "admin API: draining: new connections are refused, sessions end after their transfer");
        shared.drain.close();
    }
    let open = shared.live_sessions().len();
    let grace = shared.config().shutdown_grace.as_secs();
    let body = json!({ "draining": true, "sessions": open, "shutdown_grace_seconds": grace });
    ready(json_reply(StatusCode::ACCEPTED, &body))
}

fn config(shared: Arc<Shared>, _: Vec<String>) -> BoxFuture<'static, Reply> {
    ready(json_reply(StatusCode::OK, &config_json(&shared.config())))
}

fn reload(shared: Arc<Shared>, _: Vec<String>) -> BoxFuture<'static, Reply> {
    Box::pin(async move {
        let handle = crate::reload::ReloadHandle { shared };
        match blocking::unblock(move || handle.reload()).await {
            Ok(report) => {
                log::info!(event = "reload"; "admin API: reloaded ({report:?})");
                let body = json!({
                    "reloaded": true,
                    "users": report.users,
                    "certificate": report.certificate,
                    "needs_restart": report.needs_restart,
                });
                json_reply(StatusCode::OK, &body)
            }
            Err(e) => {
                log::error!(event = "reload"; "admin API: reload refused, nothing changed: {e}");
                error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())
            }
        }
    })
}

/// The effective configuration as JSON, without secrets: users' passwords and the admin
/// token are never shown (the token file's path is), nor private keys (only their paths).
pub(crate) fn config_json(c: &Config) -> Value {
    let users: Vec<Value> = c
        .users
        .iter()
        .map(|u| {
            json!({
                "name": u.name,
                "password": "<redacted>",
                "home": u.home.display().to_string(),
                "permissions": format!("{:?}", u.permissions),
            })
        })
        .collect();
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let tls = c.tls.as_ref().map(|t| {
        json!({
            "certificate_sha256": t.settings.cert().fingerprint(),
            "require_tls_login": t.require_tls_login,
            "require_prot_p": t.require_prot_p,
            "require_session_reuse": t.require_session_reuse,
            "allow_ccc": t.allow_ccc,
        })
    });
    let addrs = |a: &[std::net::SocketAddr]| a.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let nets = |n: &[crate::access::IpNet]| n.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    json!({
        "listen": addrs(&c.listen),
        "implicit_tls_listen": addrs(&c.implicit_tls_listen),
        "anonymous_root": path(&c.anonymous),
        "users": users,
        "passive_ports": c.passive_ports.as_ref().map(|r| format!("{}-{}", r.start(), r.end())),
        "public_address": c.public_address,
        "allow_fxp": c.allow_foreign_data_address,
        "allow_privileged_ports": c.allow_privileged_data_port,
        "max_sessions": c.max_sessions,
        "max_sessions_per_ip": c.max_sessions_per_ip,
        "max_line": c.max_line,
        "ascii_size_limit": c.ascii_size_limit,
        "max_list_entries": c.max_list_entries,
        "idle_timeout_seconds": c.idle_timeout.as_secs_f64(),
        "data_timeout_seconds": c.data_timeout.as_secs_f64(),
        "login_failure_delay_ms": c.login_failure_delay.as_millis() as u64,
        "max_login_failures": c.max_login_failures,
        "shutdown_grace_seconds": c.shutdown_grace.as_secs_f64(),
        "greeting": c.greeting,
        "tls": tls,
        "fsync_uploads": c.fsync_uploads,
        "admin_listen": c.admin_listen.map(|a| a.to_string()),
        "admin_token_file": path(&c.admin_token_file),
        "admin_token": c.admin_token_file.as_ref().map(|_| "<redacted>"),
        "xferlog": path(&c.xferlog),
        "deny_ips": nets(&c.deny_ips),
        "allow_ips": nets(&c.allow_ips),
        "ban_score": c.bans.score,
        "ban_window_seconds": c.bans.window.as_secs_f64(),
        "ban_duration_seconds": c.bans.duration.as_secs_f64(),
        "ban_max_tracked": c.bans.max_tracked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_by_method_and_path_with_parameters() {
        let (r, p) = find("DELETE", "/api/v1/sessions/12").unwrap();
        assert_eq!(
            (r.path, p),
            ("/api/v1/sessions/{id}", vec!["12".to_string()])
        );
        assert!(matches!(find("GET", "/api/v1/sessions/12"), Err(true)));
        assert!(matches!(find("GET", "/api/v1/nothing"), Err(false)));
        assert!(matches!(find("DELETE", "/api/v1/sessions/"), Err(false)));
        assert!(!find("GET", "/metrics").unwrap().0.token);
        assert!(ROUTES
            .iter()
            .filter(|r| r.path.starts_with("/api/"))
            .all(|r| r.token));
    }

    #[test]
    fn the_config_shows_no_password() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config {
            users: vec![crate::User::new("alice", "hunter2", dir.path())],
            ..Config::default()
        };
        let text = config_json(&c).to_string();
        assert!(
            text.contains("alice") && !text.contains("hunter2"),
            "{text}"
        );
    }
}
