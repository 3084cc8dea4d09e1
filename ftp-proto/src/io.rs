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

use futures_lite::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

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
        let (used, line) = decoder.decode(buf);
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

/// Writes a reply and flushes.
pub async fn write_reply<W: AsyncWrite + Unpin + ?Sized>(
    w: &mut W,
    reply: &Reply,
) -> io::Result<()> {
    w.write_all(&reply.to_bytes()).await?;
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
