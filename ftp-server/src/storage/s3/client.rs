//! The S3 requests the storage needs, signed by rusty-s3 and sent through [`http::Pool`],
//! with retries (backoff and jitter) for the idempotent ones and S3's errors turned into
//! [`StorageError`]s.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Method;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use url::Url;

use super::http::{Body, Endpoint, HttpError, Pool, PooledResponse, MAX_XML_BODY};
use super::S3Settings;
use crate::storage::StorageError;

/// How long a signed request stays valid (it is sent at once; retries reuse it).
pub(crate) const SIGNATURE_VALIDITY: Duration = Duration::from_secs(15 * 60);

/// Attempts of an idempotent request before it fails with [`StorageError::Unavailable`].
const ATTEMPTS: u32 = 5;

/// The first retry's pause; each further one doubles it (with jitter).
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The largest single `CopyObject` or `UploadPartCopy` S3 accepts.
pub(crate) const MAX_COPY: u64 = 5 << 30;

/// Why building a client failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3ConfigError {
    /// A required setting is missing.
    #[error("S3 storage needs {0}")]
    Missing(&'static str),
    /// The endpoint is not a usable `http://` or `https://` URL.
    #[error("invalid S3 endpoint {0:?}")]
    Endpoint(String),
    /// A file could not be read.
    #[error("cannot read {what} {}: {}", path.display(), crate::config::io_reason(error))]
    Read {
        /// Which setting names it.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("ca_file {}: no usable PEM certificate", .0.display())]
    CaFile(std::path::PathBuf),
    /// No system root certificate could be loaded for an HTTPS endpoint.
    #[error("no system root certificates for the HTTPS S3 endpoint (set ca_file)")]
    NoRoots,
    /// The key prefix is invalid.
    #[error(transparent)]
    Prefix(#[from] super::PrefixError),
}

/// What a request is, for retries: may it be sent twice?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Sending it again does no harm (GET, HEAD, PUT of a whole body, DELETE, copies).
    Idempotent,
    /// Only retried when no connection could be made (nothing was sent).
    ConnectOnly,
}

/// One signed request, ready to send (again).
#[derive(Debug)]
pub(crate) struct Call {
    method: Method,
    url: Url,
    headers: Vec<(String, String)>,
    body: Bytes,
    retry: Retry,
    /// The object key (or "bucket"), for log lines.
    what: String,
    /// Failures are the caller's to report (no log line).
    pub(crate) quiet: bool,
}

impl Call {
    /// A call for a URL signed by hand, sending `headers` (the signed ones).
    pub(crate) fn signed(
        method: Method,
        url: Url,
        headers: &[(&str, String)],
        body: Bytes,
        retry: Retry,
        what: &str,
    ) -> Call {
        Call {
            method,
            url,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            body,
            retry,
            what: what.to_string(),
            quiet: false,
        }
    }
}

/// An S3 request that failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// S3 answered with an error status and (usually) an error code.
    Status { status: u16, code: String },
    /// No answer (after the retries for idempotent requests).
    Transport(String),
}

impl Failure {
    /// The storage error for the FTP reply.
    pub(crate) fn storage(&self) -> StorageError {
        match self {
            Failure::Status { status: 404, .. } => StorageError::NotFound,
            Failure::Status { status: 403, .. } => StorageError::PermissionDenied,
            Failure::Status { status: 412, .. } => StorageError::AlreadyExists,
            Failure::Status { code, .. } if code == "KeyTooLongError" => {
                StorageError::NameTooLong { creating: true }
            }
            Failure::Status { code, .. } if code == "QuotaExceeded" => StorageError::QuotaExceeded,
            Failure::Status { code, .. } if code == "EntityTooLarge" => StorageError::NoSpace,
            Failure::Status { status, .. } if *status >= 500 || *status == 429 => {
                StorageError::Unavailable
            }
            Failure::Transport(_) => StorageError::Unavailable,
            Failure::Status { status, code } => {
                StorageError::Other(std::io::Error::other(format!("S3 error {status} {code}")))
            }
        }
    }

    pub(crate) fn is_status(&self, want: u16) -> bool {
        matches!(self, Failure::Status { status, .. } if *status == want)
    }
}

impl From<Failure> for StorageError {
    fn from(f: Failure) -> StorageError {
        f.storage()
    }
}

/// What a `HEAD` tells about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectHead {
    pub len: u64,
    /// `x-amz-meta-mtime` when set (by `MFMT`), else `Last-Modified`.
    pub modified: Option<SystemTime>,
    /// The `ETag`: changes whenever the object's bytes do.
    pub etag: Option<String>,
}

/// A client for one bucket.
pub struct S3Client {
    pub(super) bucket: Bucket,
    pub(super) credentials: Credentials,
    pool: Arc<Pool>,
    pub(super) path_style: bool,
    /// [`S3Settings::request_timeout`].
    timeout: Duration,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("bucket", &self.bucket.name())
            .field("url", &self.bucket.base_url().as_str())
            .field("access_key_id", &self.credentials.key())
            .finish_non_exhaustive()
    }
}

impl S3Client {
    /// A client for the bucket `settings` name (no request is sent yet). Path-style URLs for
    /// custom endpoints, virtual-hosted style for AWS (`*.amazonaws.com`, or no endpoint).
    pub fn new(settings: &S3Settings) -> Result<S3Client, S3ConfigError> {
        let bucket_name = settings.bucket.clone().ok_or(S3ConfigError::Missing(
            "a bucket (--s3-bucket, [storage] bucket)",
        ))?;
        let endpoint = match &settings.endpoint {
            Some(e) => e.clone(),
            None => format!("https://s3.{}.amazonaws.com", settings.region),
        };
        let url: Url = endpoint
            .parse()
            .map_err(|_| S3ConfigError::Endpoint(endpoint.clone()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(S3ConfigError::Endpoint(endpoint));
        }
        let aws = url
            .host_str()
            .is_some_and(|h| h == "amazonaws.com" || h.ends_with(".amazonaws.com"));
        let style = if aws {
            UrlStyle::VirtualHost
        } else {
            UrlStyle::Path
        };
        let bucket = Bucket::new(url, style, bucket_name, settings.region.clone())
            .map_err(|_| S3ConfigError::Endpoint(endpoint.clone()))?;
        let (key, secret) = settings.credentials()?;
        let base = bucket.base_url();
        let tls = match base.scheme() {
            "https" => Some(super::tls::client_config(settings.ca_file.as_deref())?),
            _ => None,
        };
        let host = match base.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => return Err(S3ConfigError::Endpoint(endpoint)),
        };
        let port = base
            .port_or_known_default()
            .ok_or(S3ConfigError::Endpoint(endpoint))?;
        Ok(S3Client {
            pool: Pool::new(Endpoint { host, port, tls }),
            credentials: Credentials::new(key, secret.expose().clone()),
            bucket,
            path_style: !aws,
            timeout: settings.request_timeout,
        })
    }

    /// The bucket's name.
    pub fn bucket_name(&self) -> &str {
        self.bucket.name()
    }

    /// Signs `action` with `headers` (lowercase names, also sent) into a [`Call`].
    pub(super) fn call<'a, A: S3Action<'a>>(
        &self,
        mut action: A,
        headers: &[(&'a str, String)],
        body: Bytes,
        retry: Retry,
        what: &str,
    ) -> Call {
        for (k, v) in headers {
            action.headers_mut().insert(*k, v.clone());
        }
        let url = action.sign(SIGNATURE_VALIDITY);
        Call::signed(method_of::<A>(), url, headers, body, retry, what)
    }

    /// Sends `call`, retrying as its [`Retry`] allows; a success status (2xx) returns the
    /// response with its body unread.
    pub(super) async fn execute(&self, call: &Call) -> Result<PooledResponse, Failure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= ATTEMPTS;
            let failure = match self.send_once(call).await {
                Ok(resp) if resp.status() < 300 => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.bytes(64 << 10).await.unwrap_or_default();
                    let code = xml_tag(&String::from_utf8_lossy(&body), "Code").unwrap_or_default();
                    let f = Failure::Status { status, code };
                    if last || call.retry != Retry::Idempotent || !transient(&f) {
                        log_failure(call, &f);
                        return Err(f);
                    }
                    f
                }
                Err(e) => {
                    let connect = matches!(e, HttpError::Connect(_));
                    let f = Failure::Transport(e.to_string());
                    if last || !(connect || call.retry == Retry::Idempotent) {
                        log_failure(call, &f);
                        return Err(f);
                    }
                    f
                }
            };
            log::debug!("S3 {} {}: {failure:?}; retrying", call.method, call.what);
            async_io::Timer::after(backoff(attempt)).await;
        }
    }

    async fn send_once(&self, call: &Call) -> Result<PooledResponse, HttpError> {
        let req = request(call);
        // The wait for the response's head, plus time for sending the body at 1 MB/s.
        let limit = self.timeout + Duration::from_micros(call.body.len() as u64);
        let timeout = async {
            async_io::Timer::after(limit).await;
            Err(HttpError::Body("no response in time".into()))
        };
        futures_lite::future::or(self.pool.send(req), timeout).await
    }

    /// Sends `call` and reads the response body (bounded).
    pub(super) async fn fetch(&self, call: &Call) -> Result<Fetched, Failure> {
        let resp = self.execute(call).await?;
        let headers = resp.head.headers.clone();
        let body = resp
            .bytes(MAX_XML_BODY)
            .await
            .map_err(|e| Failure::Transport(e.to_string()))?;
        Ok(Fetched { headers, body })
    }
}

/// A response read whole.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Fetched {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(super) fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

/// The method an action is sent with.
fn method_of<'a, A: S3Action<'a>>() -> Method {
    match A::METHOD {
        rusty_s3::Method::Head => Method::HEAD,
        rusty_s3::Method::Get => Method::GET,
        rusty_s3::Method::Post => Method::POST,
        rusty_s3::Method::Put => Method::PUT,
        rusty_s3::Method::Delete => Method::DELETE,
    }
}

/// The hyper request for `call`: origin-form URI, `Host`, the signed headers, and a
/// `Content-Length` on every request that may carry a body (RGW wants it on empty PUTs).
fn request(call: &Call) -> hyper::Request<Body> {
    let url = &call.url;
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let mut b = hyper::Request::builder()
        .method(call.method.clone())
        .uri(&url[url::Position::BeforePath..])
        .header(hyper::header::HOST, host);
    for (k, v) in &call.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    if matches!(call.method, Method::PUT | Method::POST) {
        b = b.header(hyper::header::CONTENT_LENGTH, call.body.len());
    }
    b.body(Full::new(call.body.clone()))
        .unwrap_or_else(|_| hyper::Request::new(Full::new(Bytes::new())))
}

/// Worth another try: throttling and server-side failures.
fn transient(f: &Failure) -> bool {
    match f {
        Failure::Transport(_) => true,
        Failure::Status { status, code } => {
            *status >= 500
                || *status == 429
                || matches!(
                    code.as_str(),
                    "SlowDown" | "RequestTimeout" | "InternalError"
                )
        }
    }
}

/// The pause before attempt `attempt + 1`: exponential, with "full jitter" in its upper half.
fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
    let jitter = rand::random::<f64>() * 0.5 + 0.5;
    base.mul_f64(jitter)
}

fn log_failure(call: &Call, f: &Failure) {
    match f {
        _ if call.quiet => {}
        Failure::Status {
            status: 404 | 412 | 416,
            ..
        } => {}
        f => log::warn!("S3 {} {}: {}", call.method, call.what, describe(f)),
    }
}

fn describe(f: &Failure) -> String {
    match f {
        Failure::Status { status, code } => format!("HTTP {status} {code}"),
        Failure::Transport(e) => e.clone(),
    }
}

/// The text of the first `<tag>…</tag>` in `xml`, unescaped.
pub(crate) fn xml_tag(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(
        xml[start..end]
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}
