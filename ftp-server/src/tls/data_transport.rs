//! The transport under a data connection's TLS session: it decides, late in the handshake,
//! whether the connection gets a TLS 1.3 ticket.
//!
//! TLS 1.3 clients use a ticket once, so a client needs a fresh one from each data connection
//! to resume the next (curl with OpenSSL offers nothing otherwise). But the server sends the
//! ticket when it processes the client's `Finished`, and a client that never reads an
//! upload's connection (curl again) closes it with the ticket unread: the kernel then resets
//! the connection and drops the upload's unsent tail. The direction, though, is often known
//! only after the handshake began: curl starts the handshake right after `EPSV` and sends
//! `RETR`/`STOR` only once the server's first flight has woken it up.
//!
//! So [`DataTransport`] passes the client's hello and the server's first flight through at
//! once, then holds back the client's next bytes (its `Finished`, which the client sent
//! without waiting for anything) until the direction future resolves. By then it knows
//! whether the connection is an upload and whether the hello asked for tickets (RFC 9149
//! `ticket_request`, as our client does: such a client reads). The server's ticketer asks
//! [`super::Binding`]'s flag before it makes a ticket.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_lite::io::{AsyncRead, AsyncWrite};

use super::{Binding, DataDirection};

/// The most bytes of the client's hello kept for the `ticket_request` check.
const HELLO_KEPT: usize = 4096;

/// The TLS extension type of RFC 9149 `ticket_request`.
const TICKET_REQUEST: u16 = 58;

/// A data connection's stream under TLS (see the [module](self) documentation).
pub struct DataTransport<S> {
    inner: S,
    /// Until the client's `Finished` may be read.
    gate: Option<Box<Gate>>,
}

struct Gate {
    /// The client's first bytes (its hello), at most [`HELLO_KEPT`].
    hello: Vec<u8>,
    /// The server has written its first flight.
    wrote: bool,
    direction: Pin<Box<dyn Future<Output = DataDirection> + Send>>,
    binding: Arc<Binding>,
}

impl<S> DataTransport<S> {
    pub(super) fn new(
        inner: S,
        direction: impl Future<Output = DataDirection> + Send + 'static,
        binding: Arc<Binding>,
    ) -> DataTransport<S> {
        let gate = Gate {
            hello: Vec::new(),
            wrote: false,
            direction: Box::pin(direction),
            binding,
        };
        DataTransport {
            inner,
            gate: Some(Box::new(gate)),
        }
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> std::fmt::Debug for DataTransport<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataTransport")
            .field("gated", &self.gate.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for DataTransport<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if let Some(g) = this.gate.as_mut().filter(|g| g.wrote) {
            let direction = ready!(g.direction.as_mut().poll(cx));
            let ticket = direction != DataDirection::Upload || asks_for_tickets(&g.hello);
            g.binding.data_ticket.store(ticket, Ordering::Relaxed);
            this.gate = None;
        }
        let n = ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if let Some(g) = this.gate.as_mut() {
            let room = HELLO_KEPT.saturating_sub(g.hello.len());
            g.hello.extend_from_slice(&buf[..n.min(room)]);
        }
        Poll::Ready(Ok(n))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for DataTransport<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        if let Some(g) = this.gate.as_mut() {
            g.wrote = true;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// Whether the TLS ClientHello at the start of `bytes` (its records, possibly cut short)
/// carries the `ticket_request` extension. Anything unreadable answers `false`.
///
/// ```text
/// record: 22 | version(2) | length(2) | handshake: 1 | length(3) | version(2) | random(32)
///         | session_id(1+n) | cipher_suites(2+n) | compression(1+n) | extensions(2+n)
/// ```
fn asks_for_tickets(bytes: &[u8]) -> bool {
    let mut hs = Vec::new();
    let mut rest = bytes;
    while let [22, _, _, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let body = &tail[..len.min(tail.len())];
        hs.extend_from_slice(body);
        rest = &tail[body.len()..];
    }
    extension_types(&hs).is_some_and(|mut types| types.any(|t| t == TICKET_REQUEST))
}

/// The extension types of a ClientHello handshake message, if it is readable that far.
fn extension_types(hs: &[u8]) -> Option<impl Iterator<Item = u16> + '_> {
    let mut r = Reader(hs);
    (r.take(1)? == [1]).then_some(())?;
    r.take(3 + 2 + 32)?;
    r.vector(1)?; // session id
    r.vector(2)?; // cipher suites
    r.vector(1)?; // compression methods
    let mut exts = Reader(r.vector(2)?);
    Some(std::iter::from_fn(move || {
        let t = exts.take(2)?;
        exts.vector(2)?;
        Some(u16::from_be_bytes([t[0], t[1]]))
    }))
}

/// A cursor over TLS's length-prefixed encoding.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    /// A vector with a `width`-byte length prefix.
    fn vector(&mut self, width: usize) -> Option<&'a [u8]> {
        let len = self
            .take(width)?
            .iter()
            .fold(0usize, |n, b| n << 8 | usize::from(*b));
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record with extensions of these types (empty bodies).
    fn hello(types: &[u16]) -> Vec<u8> {
        let mut exts = Vec::new();
        for t in types {
            exts.extend_from_slice(&t.to_be_bytes());
            exts.extend_from_slice(&[0, 0]);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn finds_the_ticket_request_extension_even_across_records() {
        assert!(asks_for_tickets(&hello(&[0, 10, 58, 43])));
        assert!(!asks_for_tickets(&hello(&[0, 10, 43])));
        // The same handshake message split over two records.
        let whole = hello(&[58]);
        let hs = &whole[5..];
        let mut split = vec![22, 3, 1, 0, 10];
        split.extend_from_slice(&hs[..10]);
        split.extend_from_slice(&[22, 3, 1]);
        split.extend_from_slice(&((hs.len() - 10) as u16).to_be_bytes());
        split.extend_from_slice(&hs[10..]);
        assert!(asks_for_tickets(&split));
    }

    #[test]
    fn cut_or_foreign_bytes_ask_for_nothing() {
        let h = hello(&[58]);
        for n in 0..h.len() - 4 {
            assert!(!asks_for_tickets(&h[..n]), "cut at {n}");
        }
        assert!(!asks_for_tickets(b"GET / HTTP/1.1\r\n"));
        assert!(!asks_for_tickets(&[22, 3, 1, 255, 255, 1]));
    }
}
