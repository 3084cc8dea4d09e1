//! Data connections: passive listeners (accepting only the control peer), active connects,
//! and the copy loops with `TYPE A` line-ending conversion and a stall timeout.

use ftp_proto::ascii::{FromNetwork, ToNetwork};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_net::{TcpListener, TcpStream};
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size of the copy buffer for sending (TLS or `TYPE A`; plain binary files go out with
/// `sendfile`), allocated only while a transfer runs.
pub const TRANSFER_BUFFER: usize = 128 * 1024;

/// Size of the copy buffer for receiving (`STOR`/`APPE`/`STOU`), allocated only while a
/// transfer runs: large reads mean fewer system calls per GiB.
pub const RECEIVE_BUFFER: usize = 1024 * 1024;

/// Runs `fut` with a time limit; `TimedOut` when it expires.
pub async fn timeout<T>(
    d: Duration,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    future::or(fut, async {
        async_io::Timer::after(d).await;
        Err(io::ErrorKind::TimedOut.into())
    })
    .await
}

/// Binds a passive listener on `ip`, on a port from `range` (tried from a random start) or
/// one the OS chooses.
pub async fn bind_passive(
    ip: IpAddr,
    range: Option<&RangeInclusive<u16>>,
) -> io::Result<TcpListener> {
    let Some(range) = range else {
        return TcpListener::bind(SocketAddr::new(ip, 0)).await;
    };
    let (lo, hi) = (u32::from(*range.start()), u32::from(*range.end()));
    if lo > hi {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let n = hi - lo + 1;
    let start = rand::random::<u32>() % n;
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for i in 0..n {
        let port = u16::try_from(lo + (start + i) % n).unwrap_or(0);
        match TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(l) => return Ok(l),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Accepts the data connection from `peer_ip`; connections from other addresses are dropped
/// (port-stealing protection) and the wait goes on until `limit` has passed.
pub async fn accept_from(
    listener: &TcpListener,
    peer_ip: IpAddr,
    limit: Duration,
    tag: &str,
) -> io::Result<TcpStream> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (stream, from) = timeout(left, listener.accept()).await?;
        if from.ip().to_canonical() == peer_ip.to_canonical() {
            return Ok(stream);
        }
        log::warn!("{tag} dropped data connection from foreign address {from}");
    }
}

/// Connects to an active-mode (`PORT`/`EPRT`) address within `limit`.
pub async fn connect(addr: SocketAddr, limit: Duration) -> io::Result<TcpStream> {
    timeout(limit, TcpStream::connect(addr)).await
}

/// Why a copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Reading the source failed.
    #[error("read: {0}")]
    Read(io::Error),
    /// Writing the destination failed.
    #[error("write: {0}")]
    Write(io::Error),
}

/// Which side of a copy is the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sending to the client (LF to CRLF in ASCII).
    Send,
    /// Receiving from the client (CRLF to LF in ASCII).
    Receive,
}

/// Copies `src` to `dst` through a buffer of `buf_size` bytes, converting line endings when
/// `ascii`, with each read and write limited to `stall`. Counts bytes read from the source in
/// `progress`.
pub async fn copy<R, W>(
    mut src: R,
    dst: &mut W,
    buf_size: usize,
    ascii: Option<Direction>,
    stall: Duration,
    progress: &Arc<AtomicU64>,
) -> Result<u64, CopyError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buf = vec![0u8; buf_size.max(1)];
    let mut conv = Vec::new();
    let mut to_network = ToNetwork::default();
    let mut from_network = FromNetwork::default();
    let mut total = 0u64;
    loop {
        let n = timeout(stall, src.read(&mut buf))
            .await
            .map_err(CopyError::Read)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        progress.store(total, Ordering::Relaxed);
        let chunk: &[u8] = match ascii {
            None => &buf[..n],
            Some(Direction::Send) => {
                conv.clear();
                to_network.convert(&buf[..n], &mut conv);
                &conv
            }
            Some(Direction::Receive) => {
                conv.clear();
                from_network.convert(&buf[..n], &mut conv);
                &conv
            }
        };
        timeout(stall, dst.write_all(chunk))
            .await
            .map_err(CopyError::Write)?;
    }
    conv.clear();
    from_network.finish(&mut conv);
    if !conv.is_empty() {
        timeout(stall, dst.write_all(&conv))
            .await
            .map_err(CopyError::Write)?;
    }
    timeout(stall, dst.flush())
        .await
        .map_err(CopyError::Write)?;
    Ok(total)
}

/// How many bytes one `sendfile` call may move (the socket's free buffer space limits each
/// call further; this only bounds the work between progress updates).
const SENDFILE_CHUNK: usize = 8 * 1024 * 1024;

/// Sends `file` from its current position to the end over the plain TCP `dst` with zero-copy
/// `sendfile(2)`, each wait for socket space limited to `stall`. Counts bytes sent in
/// `progress`. Returns `Ok(None)` without sending anything when the kernel can't `sendfile`
/// from this file (the caller then copies it the ordinary way).
pub async fn send_file(
    file: &std::fs::File,
    dst: &TcpStream,
    stall: Duration,
    progress: &Arc<AtomicU64>,
) -> Result<Option<u64>, CopyError> {
    let sock: Arc<async_io::Async<std::net::TcpStream>> = dst.clone().into();
    let mut total = 0u64;
    loop {
        let sent = timeout(
            stall,
            sock.write_with(|s| {
                rustix::fs::sendfile(s, file, None, SENDFILE_CHUNK).map_err(io::Error::from)
            }),
        )
        .await;
        let n = match sent {
            Ok(n) => n,
            Err(e) if total == 0 && unsupported(&e) => return Ok(None),
            Err(e) if is_network_error(&e) => return Err(CopyError::Write(e)),
            Err(e) => return Err(CopyError::Read(e)),
        };
        if n == 0 {
            return Ok(Some(total));
        }
        total += n as u64;
        progress.store(total, Ordering::Relaxed);
    }
}

/// `sendfile` can't be used with this file (filesystem without support).
fn unsupported(e: &io::Error) -> bool {
    let errno = e.raw_os_error();
    errno == Some(rustix::io::Errno::INVAL.raw_os_error())
        || errno == Some(rustix::io::Errno::NOSYS.raw_os_error())
        || errno == Some(rustix::io::Errno::OPNOTSUPP.raw_os_error())
}

/// The error came from the network side of a `sendfile` (the peer, or the stall timeout).
fn is_network_error(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::BrokenPipe
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::TimedOut
            | K::NetworkDown
            | K::NetworkUnreachable
            | K::HostUnreachable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_converts_and_counts() {
        let progress = Arc::new(AtomicU64::new(0));
        let mut out = Vec::new();
        let n = future::block_on(copy(
            &b"x\ny\n"[..],
            &mut out,
            16,
            Some(Direction::Send),
            Duration::from_secs(5),
            &progress,
        ))
        .unwrap();
        assert_eq!((n, out.as_slice()), (4, &b"x\r\ny\r\n"[..]));
    }
}
