//! Adapters from the sans-io types to `futures::io` streams, shared by client and server.
//!
//! Reading is built on [`AsyncBufRead`]: bytes are taken from the reader's own buffer and
//! consumed only once the [`LineDecoder`] has used them, so these futures are cancel-safe —
//! dropping one (e.g. in a `select`) loses no input.
//!
//! ```
//! use ftp_proto::io::{CommandReader, write_reply};
//! use ftp_proto::{Command, Reply, ReplyCode};
//!
//! futures_lite::future::block_on(async {
//!     let input: &[u8] = b"USER anonymous\r\nQUIT\r\n";
//!     let mut reader = CommandReader::new(input, 512);
//!     assert_eq!(reader.next().await.unwrap(), Some(Ok(Command::User("anonymous".into()))));
//!     assert_eq!(reader.next().await.unwrap(), Some(Ok(Command::Quit)));
//!     assert_eq!(reader.next().await.unwrap(), None);
//!
//!     let mut out = Vec::new();
//!     write_reply(&mut out, &Reply::new(ReplyCode::CLOSING, "Bye.")).await.unwrap();
//!     assert_eq!(out, b"221 Bye.\r\n");
//! });
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::command::{Command, ParseError};
use crate::line::{Decoded, LineDecoder};
use crate::reply::{Reply, ReplyError, ReplyParser};

/// Reads the next line from `reader` through `decoder`; `Ok(None)` at end of stream (a partial
/// last line without LF is dropped).
pub async fn read_line<R>(reader: &mut R, decoder: &mut LineDecoder) -> io::Result<Decoded>
where
    R: AsyncBufRead + Unpin + ?Sized,
{
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(None);
        }
        let (line, rest) = decoder.decode(buf);
        let used = buf.len() - rest.len();
        reader.consume(used);
        if line.is_some() {
            return Ok(line);
        }
    }
}

/// Reads commands from a control connection (the server side).
#[derive(Debug)]
pub struct CommandReader<R> {
    reader: R,
    decoder: LineDecoder,
}

impl<R: AsyncBufRead + Unpin> CommandReader<R> {
    /// Wraps `reader`, accepting lines up to `max_line` bytes.
    pub fn new(reader: R, max_line: usize) -> Self {
        CommandReader {
            reader,
            decoder: LineDecoder::new(max_line),
        }
    }

    /// The next command, `Some(Err(_))` for a line that is not one (answer it and go on), or
    /// `None` when the peer closed the connection.
    pub async fn next(&mut self) -> io::Result<Option<Result<Command, ParseError>>> {
        Ok(read_line(&mut self.reader, &mut self.decoder)
            .await?
            .map(|line| {
                line.map_err(ParseError::from)
                    .and_then(|l| Command::parse(&l))
            }))
    }

    /// The underlying reader.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// Unwraps the reader. Bytes the decoder holds of an unfinished line are lost.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

/// Reads replies from a control connection (the client side).
#[derive(Debug)]
pub struct ReplyReader<R> {
    reader: R,
    decoder: LineDecoder,
    parser: ReplyParser,
}

/// An error while reading a reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadReplyError {
    /// The connection failed.
    #[error("control connection: {0}")]
    Io(#[from] io::Error),
    /// The server sent something that is not a reply.
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// The server closed the control connection.
    #[error("the server closed the control connection")]
    Closed,
}

impl<R: AsyncBufRead + Unpin> ReplyReader<R> {
    /// Wraps `reader`, accepting reply lines up to `max_line` bytes.
    pub fn new(reader: R, max_line: usize) -> Self {
        ReplyReader {
            reader,
            decoder: LineDecoder::new(max_line),
            parser: ReplyParser::default(),
        }
    }

    /// The next complete reply.
    pub async fn next(&mut self) -> Result<Reply, ReadReplyError> {
        loop {
            match read_line(&mut self.reader, &mut self.decoder).await? {
                None => return Err(ReadReplyError::Closed),
                Some(line) => {
                    let line = line.map_err(ReplyError::from)?;
                    if let Some(reply) = self.parser.push_owned_line(line)? {
                        return Ok(reply);
                    }
                }
            }
        }
    }

    /// The underlying reader.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// Unwraps the reader.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

/// Bytes a [`CompactBufReader`] reads at most per call.
pub const COMPACT_READ: usize = 512;

/// A buffered reader that owns no buffer while it has nothing unread.
///
/// An idle control connection spends its life waiting in `fill_buf`; a
/// [`futures_lite::io::BufReader`] keeps its whole buffer allocated meanwhile. This reader
/// polls the inner reader with a buffer on the stack (up to [`COMPACT_READ`] bytes) and copies
/// what arrived to the heap, where it stays only until it is consumed: thousands of idle
/// sessions then cost no read buffers at all.
///
/// ```
/// use futures_lite::io::AsyncBufReadExt;
/// use ftp_proto::io::CompactBufReader;
///
/// futures_lite::future::block_on(async {
///     let mut r = CompactBufReader::new(&b"NOOP\r\nQUIT\r\n"[..]);
///     assert_eq!(r.fill_buf().await.unwrap(), b"NOOP\r\nQUIT\r\n");
///     r.consume(6);
///     assert_eq!(r.buffer(), b"QUIT\r\n");
///     r.consume(6);
///     assert!(r.buffer().is_empty());
///     assert!(r.fill_buf().await.unwrap().is_empty()); // end of stream
/// });
/// ```
#[derive(Debug)]
pub struct CompactBufReader<R> {
    inner: R,
    /// Unread bytes are `buf[pos..]`; empty (unallocated) when everything was consumed.
    buf: Vec<u8>,
    pos: usize,
}

impl<R> CompactBufReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        CompactBufReader {
            inner,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// The bytes read but not consumed yet.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// The inner reader.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Unwraps the inner reader; unread [`buffer`](Self::buffer) bytes are lost.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CompactBufReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pos == this.buf.len() {
            return Pin::new(&mut this.inner).poll_read(cx, out);
        }
        let n = out.len().min(this.buf.len() - this.pos);
        out[..n].copy_from_slice(&this.buf[this.pos..this.pos + n]);
        Pin::new(this).consume(n);
        Poll::Ready(Ok(n))
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for CompactBufReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.pos == this.buf.len() {
            let mut chunk = [0u8; COMPACT_READ];
            let n = match Pin::new(&mut this.inner).poll_read(cx, &mut chunk) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            this.buf = chunk[..n].to_vec();
            this.pos = 0;
        }
        Poll::Ready(Ok(&this.buf[this.pos..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = this.buf.len().min(this.pos.saturating_add(amt));
        if this.pos == this.buf.len() {
            this.buf = Vec::new();
            this.pos = 0;
        }
    }
}

/// Writes a reply and flushes.
pub async fn write_reply<W: AsyncWrite + Unpin + ?Sized>(
    w: &mut W,
    reply: &Reply,
) -> io::Result<()> {
    write_replies(w, &[reply]).await
}

/// Writes several replies with one write and flushes: a `150` and a `226` sent together
/// reach the peer in one TCP segment and wake it once.
///
/// ```
/// use ftp_proto::io::write_replies;
/// use ftp_proto::{Reply, ReplyCode};
///
/// let opening = Reply::new(ReplyCode::FILE_STATUS_OK, "Opening data connection.");
/// let done = Reply::new(ReplyCode::CLOSING_DATA, "Transfer complete.");
/// let mut out = Vec::new();
/// futures_lite::future::block_on(write_replies(&mut out, &[&opening, &done])).unwrap();
/// assert_eq!(out, b"150 Opening data connection.\r\n226 Transfer complete.\r\n");
/// ```
pub async fn write_replies<W: AsyncWrite + Unpin + ?Sized>(
    w: &mut W,
    replies: &[&Reply],
) -> io::Result<()> {
    let size = replies
        .iter()
        .flat_map(|r| r.lines())
        .map(|l| l.len() + 6)
        .sum();
    let mut bytes = Vec::with_capacity(size);
    for r in replies {
        r.encode(&mut bytes);
    }
    w.write_all(&bytes).await?;
    w.flush().await
}

/// Writes a command and flushes.
pub async fn write_command<W: AsyncWrite + Unpin + ?Sized>(
    w: &mut W,
    cmd: &Command,
) -> io::Result<()> {
    w.write_all(&cmd.to_line()).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;

    #[test]
    fn compact_reader_holds_no_buffer_once_everything_is_consumed() {
        block_on(async {
            let input = b"USER a\r\nPASS b\r\n".repeat(100);
            let mut r = CommandReader::new(CompactBufReader::new(&input[..]), 512);
            for _ in 0..100 {
                assert_eq!(r.next().await.unwrap(), Some(Ok(Command::User("a".into()))));
                assert!(matches!(
                    r.next().await.unwrap(),
                    Some(Ok(Command::Pass(_)))
                ));
            }
            assert_eq!(r.get_mut().buf.capacity(), 0);
            assert_eq!(r.next().await.unwrap(), None);
        });
    }

    #[test]
    fn compact_reader_reads_through_its_buffer_first() {
        block_on(async {
            let mut r = CompactBufReader::new(&b"abcdef"[..]);
            assert_eq!(r.fill_buf().await.unwrap(), b"abcdef");
            r.consume(2);
            let mut out = [0u8; 3];
            assert_eq!(
                futures_lite::io::AsyncReadExt::read(&mut r, &mut out)
                    .await
                    .unwrap(),
                3
            );
            assert_eq!(&out, b"cde");
            r.consume(100);
            assert!(r.buffer().is_empty());
        });
    }
}
