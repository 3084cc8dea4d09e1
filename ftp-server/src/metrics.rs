//! The server's Prometheus metrics ([`Metrics`]), served as text on the admin listener's
//! `/metrics` (see [`crate::admin`]).
//!
//! Every label has a fixed, small set of values (verbs are the known ones or `other`,
//! results and directions a handful of words), so no client can grow the label space.
//! Storage operations are timed in one place, [`MeteredStorage`], which wraps every
//! account's storage whatever its backend.
//!
//! ```
//! let m = ftp_server::metrics::Metrics::new();
//! m.login(true);
//! let text = m.encode();
//! assert!(text.contains("ftp_logins_total{result=\"ok\"} 1"));
//! ```

use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::storage::{
    BoxFuture, DirEntry, EntryFormatter, Metadata, ReadStream, Sha256, Storage, StorageError,
    Upload, WriteMode,
};
use crate::vpath::VPath;

/// A label set of one label.
type One = [(&'static str, &'static str); 1];
/// A label set of two labels.
type Two = [(&'static str, &'static str); 2];
type Histograms = Family<Two, Histogram, fn() -> Histogram>;

/// Why a connection was refused before its session started (`ftp_sessions_rejected_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejected {
    /// The total session limit (`max_sessions`).
    Limit,
    /// The per-address session limit (`max_sessions_per_ip`).
    PerIp,
    /// The client's address is banned.
    Banned,
    /// The client's address is in `deny_ips`, or outside a non-empty `allow_ips`.
    Denied,
    /// The server is draining (`POST /api/v1/drain`).
    Draining,
    /// A connection from a load balancer without a valid PROXY header.
    ProxyHeader,
}

impl Rejected {
    fn label(self) -> &'static str {
        match self {
            Rejected::Limit => "limit",
            Rejected::PerIp => "per_ip",
            Rejected::Banned => "banned",
            Rejected::Denied => "denied",
            Rejected::Draining => "draining",
            Rejected::ProxyHeader => "proxy_header",
        }
    }
}

/// How a transfer ended, for `ftp_transfers_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// All data moved.
    Ok,
    /// The data connection, the storage or TLS failed, or the client went away.
    Failed,
    /// `ABOR`, or the administrator closed the session.
    Aborted,
}

/// Every metric of one server. Clones share the values (a clone is one reference count).
#[derive(Debug, Clone)]
pub struct Metrics(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    registry: Registry,
    sessions_active: Gauge,
    sessions: Counter,
    rejected: Family<One, Counter>,
    logins: Family<One, Counter>,
    commands: Family<One, Counter>,
    transfers: Family<Two, Counter>,
    transfer_bytes: Family<One, Counter>,
    passive_in_use: Gauge,
    passive_available: Gauge,
    tls_handshakes: Family<One, Counter>,
    tls_resumptions: Family<One, Counter>,
    storage_seconds: Histograms,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn storage_histogram() -> Histogram {
    // 50 µs to about 26 s.
    Histogram::new(exponential_buckets(0.000_05, 4.0, 10))
}

impl Metrics {
    /// A fresh set of metrics, all at zero.
    pub fn new() -> Metrics {
        let mut r = Registry::default();
        let m = Inner {
            registry: Registry::default(),
            sessions_active: Gauge::default(),
            sessions: Counter::default(),
            rejected: Family::default(),
            logins: Family::default(),
            commands: Family::default(),
            transfers: Family::default(),
            transfer_bytes: Family::default(),
            passive_in_use: Gauge::default(),
            passive_available: Gauge::default(),
            tls_handshakes: Family::default(),
            tls_resumptions: Family::default(),
            storage_seconds: Family::new_with_constructor(storage_histogram),
        };
        macro_rules! register {
            ($($name:literal, $help:literal, $field:ident;)*) => {
                $(r.register($name, $help, m.$field.clone());)*
            };
        }
        register! {
            "ftp_sessions_active", "Sessions open now", sessions_active;
            "ftp_sessions", "Sessions started", sessions;
            "ftp_sessions_rejected", "Connections refused before a session started, by reason", rejected;
            "ftp_logins", "Login attempts, by result", logins;
            "ftp_commands", "Commands received, by verb (unknown verbs count as other)", commands;
            "ftp_transfers", "File transfers, by direction and result", transfers;
            "ftp_transfer_bytes", "Bytes moved by file transfers, by direction", transfer_bytes;
            "ftp_passive_ports_in_use", "Passive data listeners open now", passive_in_use;
            "ftp_passive_ports_available", "Passive ports left in the configured (or ephemeral) range", passive_available;
            "ftp_tls_handshakes", "TLS handshakes on control and data connections, by result", tls_handshakes;
            "ftp_tls_data_resumptions", "TLS data-connection handshakes, by whether they resumed a session", tls_resumptions;
            "ftp_storage_operation_seconds", "Storage operations, by backend and operation", storage_seconds;
        }
        Metrics(Arc::new(Inner { registry: r, ..m }))
    }

    /// The metrics in the Prometheus (OpenMetrics) text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.0.registry);
        out
    }

    /// A session started; the returned guard counts it as active until dropped.
    pub(crate) fn session_started(&self) -> ActiveGuard {
        self.0.sessions.inc();
        self.0.sessions_active.inc();
        ActiveGuard(self.0.sessions_active.clone())
    }

    /// A connection was refused before its session started.
    pub fn rejected(&self, why: Rejected) {
        self.0
            .rejected
            .get_or_create(&[("reason", why.label())])
            .inc();
    }

    /// A login attempt's result.
    pub fn login(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.0.logins.get_or_create(&[("result", result)]).inc();
    }

    /// A command arrived (`None`: a line that is no known command).
    pub(crate) fn command(&self, verb: Option<ftp_proto::Verb>) {
        let label = verb.map_or("other", |v| v.as_str());
        self.0.commands.get_or_create(&[("verb", label)]).inc();
    }

    /// A file transfer ended (`upload` false: a download) after moving `bytes`.
    pub(crate) fn transfer(&self, upload: bool, outcome: Outcome, bytes: u64) {
        let direction = if upload { "upload" } else { "download" };
        let result = match outcome {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Aborted => "aborted",
        };
        let labels = [("direction", direction), ("result", result)];
        self.0.transfers.get_or_create(&labels).inc();
        self.0
            .transfer_bytes
            .get_or_create(&[("direction", direction)])
            .inc_by(bytes);
    }

    /// A passive listener was opened out of a range of `range_size` ports; the returned
    /// guard counts it as in use until dropped.
    pub(crate) fn passive_opened(&self, range_size: u32) -> PortGuard {
        let in_use = self.0.passive_in_use.inc() + 1;
        self.0
            .passive_available
            .set((i64::from(range_size) - in_use).max(0));
        PortGuard {
            in_use: self.0.passive_in_use.clone(),
            available: self.0.passive_available.clone(),
        }
    }

    /// Sets the passive ports available while none is in use yet.
    pub(crate) fn passive_range(&self, range_size: u32) {
        let in_use = self.0.passive_in_use.get();
        self.0
            .passive_available
            .set((i64::from(range_size) - in_use).max(0));
    }

    /// A TLS handshake's result (`ok` or `failed`).
    pub(crate) fn tls_handshake(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.0
            .tls_handshakes
            .get_or_create(&[("result", result)])
            .inc();
    }

    /// A TLS data connection's handshake: `resumed`, `full` (a new session, allowed when
    /// reuse is not required) or `refused` (not resumed where reuse is required).
    pub(crate) fn tls_data_resumption(&self, result: &'static str) {
        self.0
            .tls_resumptions
            .get_or_create(&[("result", result)])
            .inc();
    }

    /// Times one storage operation.
    fn storage(&self, backend: &'static str, operation: &'static str, started: Instant) {
        self.0
            .storage_seconds
            .get_or_create(&[("backend", backend), ("operation", operation)])
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Counts a session as active while it lives.
#[derive(Debug)]
pub(crate) struct ActiveGuard(Gauge);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Counts a passive port as in use while it lives.
#[derive(Debug)]
pub(crate) struct PortGuard {
    in_use: Gauge<i64, AtomicI64>,
    available: Gauge<i64, AtomicI64>,
}

impl Drop for PortGuard {
    fn drop(&mut self) {
        self.in_use.dec();
        self.available.inc();
    }
}

/// A [`Storage`] that times every operation of the one it wraps into
/// `ftp_storage_operation_seconds{backend, operation}`; the backend's name comes from
/// [`Storage::backend_name`].
#[derive(Debug)]
pub struct MeteredStorage {
    inner: Arc<dyn Storage>,
    metrics: Metrics,
}

impl MeteredStorage {
    /// Wraps `inner`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ftp_server::metrics::{MeteredStorage, Metrics};
    /// use ftp_server::storage::{MemStorage, Storage};
    /// let m = Metrics::new();
    /// let s = MeteredStorage::new(Arc::new(MemStorage::new(1024)), m.clone());
    /// let _ = smol::block_on(s.metadata(&ftp_server::vpath::VPath::root()));
    /// assert!(m.encode().contains("backend=\"memory\",operation=\"metadata\""));
    /// ```
    pub fn new(inner: Arc<dyn Storage>, metrics: Metrics) -> MeteredStorage {
        MeteredStorage { inner, metrics }
    }

    /// Runs `fut` and times it as `operation`.
    fn timed<'a, T: Send + 'a>(
        &'a self,
        operation: &'static str,
        fut: BoxFuture<'a, T>,
    ) -> BoxFuture<'a, T> {
        let started = Instant::now();
        Box::pin(async move {
            let r = fut.await;
            self.metrics
                .storage(self.inner.backend_name(), operation, started);
            r
        })
    }
}

impl Storage for MeteredStorage {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    fn metadata<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Metadata, StorageError>> {
        self.timed("metadata", self.inner.metadata(path))
    }

    fn list<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Vec<DirEntry>, StorageError>> {
        self.timed("list", self.inner.list(path))
    }

    fn list_formatted<'a>(
        &'a self,
        path: &'a VPath,
        format: EntryFormatter,
        max_entries: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        self.timed("list", self.inner.list_formatted(path, format, max_entries))
    }

    fn open_read<'a>(
        &'a self,
        path: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<ReadStream, StorageError>> {
        self.timed("open_read", self.inner.open_read(path, offset))
    }

    fn open_read_local<'a>(
        &'a self,
        path: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<Option<std::fs::File>, StorageError>> {
        self.timed("open_read", self.inner.open_read_local(path, offset))
    }

    fn open_write<'a>(
        &'a self,
        path: &'a VPath,
        mode: WriteMode,
    ) -> BoxFuture<'a, Result<Box<dyn Upload>, StorageError>> {
        let fut = self.inner.open_write(path, mode);
        self.timed(
            "open_write",
            Box::pin(async move {
                let up = fut.await?;
                Ok(Box::new(MeteredUpload {
                    inner: up,
                    backend: self.inner.backend_name(),
                    metrics: self.metrics.clone(),
                }) as Box<dyn Upload>)
            }),
        )
    }

    fn mkdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        self.timed("mkdir", self.inner.mkdir(path))
    }

    fn rmdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        self.timed("rmdir", self.inner.rmdir(path))
    }

    fn remove<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        self.timed("remove", self.inner.remove(path))
    }

    fn rename<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.timed("rename", self.inner.rename(from, to))
    }

    fn set_mtime<'a>(
        &'a self,
        path: &'a VPath,
        time: SystemTime,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.timed("set_mtime", self.inner.set_mtime(path, time))
    }

    fn available<'a>(
        &'a self,
        path: &'a VPath,
    ) -> BoxFuture<'a, Result<Option<u64>, StorageError>> {
        self.timed("available", self.inner.available(path))
    }

    fn set_mode<'a>(
        &'a self,
        path: &'a VPath,
        mode: u32,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.timed("set_mode", self.inner.set_mode(path, mode))
    }

    fn stored_sha256<'a>(
        &'a self,
        path: &'a VPath,
    ) -> BoxFuture<'a, Result<Option<Sha256>, StorageError>> {
        self.timed("stored_sha256", self.inner.stored_sha256(path))
    }

    fn store_sha256<'a>(
        &'a self,
        path: &'a VPath,
        digest: Sha256,
        seen: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.timed("store_sha256", self.inner.store_sha256(path, digest, seen))
    }

    fn copy<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        self.timed("copy", self.inner.copy(from, to))
    }
}

/// An upload whose commit is timed (`operation="commit"`); writes go straight through.
struct MeteredUpload {
    inner: Box<dyn Upload>,
    backend: &'static str,
    metrics: Metrics,
}

impl futures::io::AsyncWrite for MeteredUpload {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut *self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.inner).poll_close(cx)
    }
}

impl Upload for MeteredUpload {
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        let started = Instant::now();
        let MeteredUpload {
            inner,
            backend,
            metrics,
        } = *self;
        Box::pin(async move {
            let r = inner.commit().await;
            metrics.storage(backend, "commit", started);
            r
        })
    }

    fn local_file(&mut self) -> Option<&std::fs::File> {
        self.inner.local_file()
    }

    fn admit(&mut self, n: u64) -> std::io::Result<()> {
        self.inner.admit(n)
    }

    fn record_sha256(&mut self, digest: [u8; 32]) {
        self.inner.record_sha256(digest);
    }

    fn keeps_sha256(&self) -> bool {
        self.inner.keeps_sha256()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_are_the_documented_ones() {
        let m = Metrics::new();
        m.rejected(Rejected::Draining);
        m.command(None);
        m.command(Some(ftp_proto::Verb::Retr));
        m.transfer(true, Outcome::Aborted, 10);
        let _g = m.passive_opened(100);
        let text = m.encode();
        for want in [
            "ftp_sessions_rejected_total{reason=\"draining\"} 1",
            "ftp_commands_total{verb=\"other\"} 1",
            "ftp_commands_total{verb=\"RETR\"} 1",
            "ftp_transfers_total{direction=\"upload\",result=\"aborted\"} 1",
            "ftp_transfer_bytes_total{direction=\"upload\"} 10",
            "ftp_passive_ports_in_use 1",
            "ftp_passive_ports_available 99",
            "ftp_sessions_active 0",
        ] {
            assert!(text.contains(want), "{want} missing in\n{text}");
        }
    }
}
