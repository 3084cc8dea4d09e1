//! A minimal blocking FTP control client for the load scenarios (std sockets, no runtime), so
//! the load generator stays cheap and identical for every server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// A logged-in (or just greeted) control connection.
pub struct Ctrl {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
    addr: SocketAddr,
}

impl Ctrl {
    /// Connects and reads the greeting.
    pub fn connect(addr: SocketAddr) -> Result<Ctrl> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        stream.set_nodelay(true)?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut c = Ctrl {
            reader,
            stream,
            addr,
        };
        c.expect(b'2')?;
        Ok(c)
    }

    /// Reads one reply (multi-line aware), returns its last line.
    pub fn reply(&mut self) -> Result<String> {
        for _ in 0..100_000 {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed");
            }
            if line.len() >= 4 && line.as_bytes()[3] == b' ' {
                return Ok(line);
            }
        }
        bail!("reply too long")
    }

    /// Reads a reply and checks its first digit.
    pub fn expect(&mut self, first: u8) -> Result<String> {
        let r = self.reply()?;
        if r.as_bytes().first() != Some(&first) {
            bail!("unexpected reply {}", r.trim_end());
        }
        Ok(r)
    }

    /// Sends one command line.
    pub fn send(&mut self, line: &str) -> Result<()> {
        self.stream.write_all(format!("{line}\r\n").as_bytes())?;
        Ok(())
    }

    /// Sends a command and expects a reply starting with `first`.
    pub fn cmd(&mut self, line: &str, first: u8) -> Result<String> {
        self.send(line)?;
        self.expect(first)
    }

    /// USER/PASS, then TYPE I.
    pub fn login(&mut self, user: &str, pass: &str) -> Result<()> {
        self.send(&format!("USER {user}"))?;
        let r = self.reply()?;
        if r.starts_with('3') {
            self.cmd(&format!("PASS {pass}"), b'2')?;
        } else if !r.starts_with('2') {
            bail!("USER refused: {}", r.trim_end());
        }
        self.cmd("TYPE I", b'2')?;
        Ok(())
    }

    /// EPSV, and a data connection to the port it announced.
    fn data_connection(&mut self) -> Result<TcpStream> {
        let r = self.cmd("EPSV", b'2')?;
        let port: u16 = r
            .split("|||")
            .nth(1)
            .and_then(|s| s.split('|').next())
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("bad EPSV reply {}", r.trim_end()))?;
        let data = TcpStream::connect(SocketAddr::new(self.addr.ip(), port))?;
        data.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(data)
    }

    /// EPSV, then `line` (STOR/APPE) sending `bytes`; waits for the final reply.
    pub fn upload(&mut self, line: &str, bytes: &[u8]) -> Result<()> {
        let mut data = self.data_connection()?;
        self.send(line)?;
        self.expect(b'1')?;
        data.write_all(bytes)?;
        drop(data);
        self.expect(b'2')?;
        Ok(())
    }

    /// EPSV, then `line` (RETR/LIST), reads the data to the end; returns bytes read.
    pub fn download(&mut self, line: &str, sink: &mut Vec<u8>) -> Result<usize> {
        let mut data = self.data_connection()?;
        self.send(line)?;
        self.expect(b'1')?;
        sink.clear();
        let n = data.read_to_end(sink)?;
        drop(data);
        self.expect(b'2')?;
        Ok(n)
    }

    /// QUIT (reply not awaited beyond one read).
    pub fn quit(mut self) -> Result<()> {
        self.cmd("QUIT", b'2')?;
        Ok(())
    }
}
