//! A small HTTP/1.1 client for one S3 endpoint: hyper's connection-level client over
//! async-net (plain TCP) or futures-rustls (HTTPS), with a bounded pool of idle connections.
//! Response bodies are read whole (bounded) or streamed as a `futures::io` reader.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_lite::io::{AsyncRead, AsyncWrite};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::Request;
use smol_hyper::rt::FuturesIo;

/// The request body type: S3 requests carry whole, known-length bodies (a part at most).
pub(crate) type Body = Full<Bytes>;

/// Idle connections kept per endpoint; more are closed when they are handed back.
const MAX_IDLE: usize = 32;

/// The largest response body read into memory (XML documents: listings, errors).
pub(crate) const MAX_XML_BODY: usize = 8 << 20;

/// A stream hyper can run a connection over.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Where the endpoint is and how to reach it.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// Host name or address, as in the URL.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `Some` for HTTPS: the TLS client configuration.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// The connections of one endpoint.
#[derive(Debug)]
pub(crate) struct Pool {
    endpoint: Endpoint,
    idle: Mutex<Vec<Sender>>,
}

/// hyper's connection: it does the connection's reading and writing whenever it is polled.
type Conn = http1::Connection<FuturesIo<Box<dyn Io>>, Body>;

/// One connection: its request handle and the connection itself, which the task using it
/// polls ([`Sender::drive`]) instead of a task of its own. So the connection's work runs on
/// the thread of the session that uses it, with no hop to another thread (and its futex
/// wake-up) per chunk of a response body.
struct Sender {
    tx: SendRequest<Body>,
    /// `None` once the connection has ended.
    conn: Option<Pin<Box<Conn>>>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sender")
    }
}

impl Sender {
    /// Whether a request can go out on it now: open and idle. Polls the connection once
    /// first, so that a close by the server while it was idle is seen.
    async fn usable(&mut self) -> bool {
        futures_lite::future::poll_fn(|cx| {
            drive(&mut self.conn, cx);
            Poll::Ready(())
        })
        .await;
        self.conn.is_some() && self.tx.is_ready()
    }
}

/// Lets the connection make progress (read, write, notice a close); forgets it once it ended.
fn drive(conn: &mut Option<Pin<Box<Conn>>>, cx: &mut Context<'_>) {
    if let Some(c) = conn.as_mut() {
        if c.as_mut().poll(cx).is_ready() {
            *conn = None;
        }
    }
}

/// Runs `fut` (which needs the connection's progress) while driving `conn`.
async fn driving<T>(conn: &mut Option<Pin<Box<Conn>>>, fut: impl Future<Output = T>) -> T {
    let mut fut = std::pin::pin!(fut);
    futures_lite::future::poll_fn(|cx| {
        drive(conn, cx);
        fut.as_mut().poll(cx)
    })
    .await
}

/// A transport failure: no connection, or one that broke before the response arrived.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// Connecting (TCP or TLS) failed: nothing was sent, so any request may be retried.
    #[error("cannot connect to the S3 endpoint: {0}")]
    Connect(io::Error),
    /// The request failed on an open connection.
    #[error("S3 request failed: {0}")]
    Request(#[from] hyper::Error),
    /// Reading the response body failed.
    #[error("reading the S3 response failed: {0}")]
    Body(String),
}

impl Pool {
    pub(crate) fn new(endpoint: Endpoint) -> Arc<Pool> {
        Arc::new(Pool {
            endpoint,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// An idle connection that is still open, or a new one.
    async fn checkout(&self) -> Result<Sender, HttpError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match idle {
                Some(mut s) => {
                    if s.usable().await {
                        return Ok(s);
                    }
                }
                None => break,
            }
        }
        self.connect().await.map_err(HttpError::Connect)
    }

    /// Keeps `s` for the next request if it is still open (whether it is idle by then is
    /// checked at [`Pool::checkout`]: the connection marks itself idle only once polled).
    fn checkin(&self, s: Sender) {
        if s.conn.is_some() && !s.tx.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(s);
            }
        }
    }

    async fn connect(&self) -> io::Result<Sender> {
        let e = &self.endpoint;
        let tcp = async_net::TcpStream::connect((e.host.as_str(), e.port)).await?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match &e.tls {
            None => Box::new(tcp),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(e.host.clone())
                    .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
                let tls = futures_rustls::TlsConnector::from(config.clone());
                Box::new(tls.connect(name, tcp).await?)
            }
        };
        let (tx, conn) = http1::handshake(FuturesIo::new(io))
            .await
            .map_err(io::Error::other)?;
        Ok(Sender {
            tx,
            conn: Some(Box::pin(conn)),
        })
    }

    /// Sends one request and returns the response with its body unread, holding the
    /// connection until the body is consumed ([`PooledResponse::bytes`] or
    /// [`PooledResponse::into_reader`]).
    pub(crate) async fn send(
        self: &Arc<Self>,
        req: Request<Body>,
    ) -> Result<PooledResponse, HttpError> {
        let mut s = self.checkout().await?;
        let Sender { tx, conn } = &mut s;
        let sent = driving(conn, async {
            tx.ready().await?;
            tx.send_request(req).await
        })
        .await;
        let (head, body) = sent?.into_parts();
        Ok(PooledResponse {
            head,
            body,
            sender: Some(s),
            pool: self.clone(),
        })
    }
}

/// A response whose connection goes back to the pool once its body has been read.
pub(crate) struct PooledResponse {
    /// Status and headers.
    pub head: hyper::http::response::Parts,
    body: Incoming,
    sender: Option<Sender>,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for PooledResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledResponse")
            .field("status", &self.head.status)
            .finish()
    }
}

impl PooledResponse {
    /// The status code.
    pub(crate) fn status(&self) -> u16 {
        self.head.status.as_u16()
    }

    /// The body, read whole (at most `limit` bytes; more is an error).
    pub(crate) async fn bytes(self, limit: usize) -> Result<Bytes, HttpError> {
        let PooledResponse {
            body,
            mut sender,
            pool,
            ..
        } = self;
        let collect = Limited::new(body, limit).collect();
        let collected = match sender.as_mut() {
            Some(s) => driving(&mut s.conn, collect).await,
            None => collect.await,
        }
        .map_err(|e| HttpError::Body(e.to_string()))?;
        if let Some(s) = sender {
            pool.checkin(s);
        }
        Ok(collected.to_bytes())
    }

    /// The body as a reader; the connection goes back to the pool at its end.
    pub(crate) fn into_reader(self) -> BodyReader {
        BodyReader {
            resp: Some(self),
            chunk: Bytes::new(),
        }
    }
}

/// A response body as a `futures::io` reader.
#[derive(Debug)]
pub(crate) struct BodyReader {
    resp: Option<PooledResponse>,
    chunk: Bytes,
}

impl AsyncRead for BodyReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            if !self.chunk.is_empty() {
                let n = self.chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&self.chunk.split_to(n));
                return Poll::Ready(Ok(n));
            }
            let Some(resp) = self.resp.as_mut() else {
                return Poll::Ready(Ok(0));
            };
            if let Some(s) = resp.sender.as_mut() {
                drive(&mut s.conn, cx);
            }
            match Pin::new(&mut resp.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.chunk = data;
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    self.resp = None;
                    return Poll::Ready(Err(io::Error::other(e)));
                }
                Poll::Ready(None) => {
                    if let Some(mut r) = self.resp.take() {
                        if let Some(s) = r.sender.take() {
                            r.pool.checkin(s);
                        }
                    }
                    return Poll::Ready(Ok(0));
                }
            }
        }
    }
}
