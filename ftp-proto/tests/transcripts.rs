//! Wire transcripts (`tests/transcripts/*.txt`, format in `tests/transcripts/README.md`):
//! every `C:` line parses as a `Command` and re-serialises identically (or to its `=` line),
//! every block of `S:` lines parses as replies that re-serialise to the same bytes, and every
//! `D:` line parses as MLSx facts.

use std::fs;
use std::path::{Path, PathBuf};

use ftp_proto::facts::{FactSet, Facts};
use ftp_proto::line::LineDecoder;
use ftp_proto::{Command, Reply};

/// Undoes the transcript escapes: `\xHH` is one byte, `\\` one backslash.
fn unescape(text: &str, at: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match b.get(i + 1) {
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                }
                Some(b'x') => {
                    let hex = text
                        .get(i + 2..i + 4)
                        .unwrap_or_else(|| panic!("{at}: truncated \\x escape"));
                    let v = u8::from_str_radix(hex, 16)
                        .unwrap_or_else(|_| panic!("{at}: bad \\x escape {hex:?}"));
                    out.push(v);
                    i += 4;
                }
                _ => panic!("{at}: unknown escape"),
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// One line framed from `wire` (which ends in CR LF), with Telnet escapes undone.
fn frame_one(wire: &[u8], at: &str) -> Vec<u8> {
    let mut dec = LineDecoder::default();
    let (line, rest) = dec.decode(wire);
    assert!(rest.is_empty(), "{at}: one line");
    line.unwrap_or_else(|| panic!("{at}: no complete line"))
        .unwrap_or_else(|e| panic!("{at}: {e}"))
}

fn with_crlf(mut line: Vec<u8>) -> Vec<u8> {
    line.extend_from_slice(b"\r\n");
    line
}

#[derive(Default)]
struct Counts {
    commands: usize,
    replies: usize,
    data_lines: usize,
}

/// Checks a block of reply lines: decode all replies, re-encode, compare bytes.
fn check_replies(block: &[u8], at: &str, counts: &mut Counts) {
    let mut rest = block;
    let mut again = Vec::new();
    // Each reply uses at least one line, so this runs at most once per line.
    for _ in 0..block.len() {
        if rest.is_empty() {
            break;
        }
        let (reply, after) = Reply::decode(rest)
            .unwrap_or_else(|e| panic!("{at}: {e}"))
            .unwrap_or_else(|| {
                panic!("{at}: incomplete reply {:?}", String::from_utf8_lossy(rest))
            });
        reply.encode(&mut again);
        rest = after;
        counts.replies += 1;
    }
    assert!(rest.is_empty(), "{at}: unparsed bytes");
    assert_eq!(
        String::from_utf8_lossy(&again),
        String::from_utf8_lossy(block),
        "{at}: replies re-serialise differently"
    );
    assert_eq!(again, block, "{at}");
}

/// `C: <command>`: the command parses; returns it with its wire bytes.
fn parse_command_line(body: &str, at: &str) -> (Command, Vec<u8>) {
    let wire = with_crlf(unescape(body, at));
    let line = frame_one(&wire, at);
    let cmd = Command::parse(&line)
        .unwrap_or_else(|e| panic!("{at}: {e} ({:?})", String::from_utf8_lossy(&line)));
    (cmd, wire)
}

/// `E: <code> <line>`: the line does not parse, and the error's reply code is `<code>`.
fn check_error_line(body: &str, at: &str) {
    let (code, line) = body
        .split_once(' ')
        .unwrap_or_else(|| panic!("{at}: expected `E: <code> <line>`"));
    let wire = with_crlf(unescape(line, at));
    let err = Command::parse(&frame_one(&wire, at)).expect_err(&format!("{at}: must not parse"));
    assert_eq!(err.reply_code().to_string(), code, "{at}: {err}");
}

/// `=  <line>`: the canonical form of the command `cmd` before it, which parses back to it.
fn check_canonical_line(cmd: &Command, body: &str, at: &str) {
    let canonical = with_crlf(unescape(body, at));
    assert_eq!(
        String::from_utf8_lossy(&cmd.to_line()),
        String::from_utf8_lossy(&canonical),
        "{at}: canonical form"
    );
    let line = frame_one(&canonical, at);
    assert_eq!(Command::parse(&line).as_ref(), Ok(cmd), "{at}");
}

/// `D: <facts line>`: an MLSx entry that parses and re-formats to the same facts.
fn check_facts_line(body: &str, at: &str) {
    let line = unescape(body, at);
    let (facts, entry) = Facts::parse(&line).unwrap_or_else(|e| panic!("{at}: {e}"));
    let mut out = Vec::new();
    facts.format(FactSet::ALL, entry, &mut out);
    assert_eq!(Facts::parse(&out), Ok((facts, entry)), "{at}");
}

fn check_transcript(path: &Path) -> Counts {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = fs::read_to_string(path).unwrap();
    let mut counts = Counts::default();
    let mut block: Vec<u8> = Vec::new();
    let mut block_at = String::new();
    let mut last_cmd: Option<(Command, String)> = None;
    let mut pending_canonical_check: Option<(Command, Vec<u8>, String)> = None;

    let finish_command = |pending: &mut Option<(Command, Vec<u8>, String)>| {
        if let Some((cmd, wire, at)) = pending.take() {
            assert_eq!(
                String::from_utf8_lossy(&cmd.to_line()),
                String::from_utf8_lossy(&wire),
                "{at}: command re-serialises differently"
            );
        }
    };

    for (n, raw) in text.lines().enumerate() {
        let at = format!("{name}:{}", n + 1);
        let (tag, body) = match raw.split_at_checked(3) {
            Some((t, b)) if matches!(t, "C: " | "E: " | "S: " | "D: " | "=  ") => (t, b),
            _ => (raw, ""),
        };
        if tag != "S: " && !block.is_empty() {
            check_replies(&block, &block_at, &mut counts);
            block.clear();
        }
        if tag != "=  " {
            finish_command(&mut pending_canonical_check);
        }
        match tag {
            "C: " => {
                let (cmd, wire) = parse_command_line(body, &at);
                counts.commands += 1;
                last_cmd = Some((cmd.clone(), at.clone()));
                pending_canonical_check = Some((cmd, wire, at));
            }
            "E: " => {
                check_error_line(body, &at);
                counts.commands += 1;
            }
            "=  " => {
                let (cmd, _) = last_cmd
                    .take()
                    .unwrap_or_else(|| panic!("{at}: `=` without `C:`"));
                pending_canonical_check = None;
                check_canonical_line(&cmd, body, &at);
            }
            "S: " => {
                if block.is_empty() {
                    block_at = at.clone();
                }
                block.extend_from_slice(&with_crlf(unescape(body, &at)));
            }
            "D: " => {
                check_facts_line(body, &at);
                counts.data_lines += 1;
            }
            _ if raw.trim().is_empty() || raw.starts_with('#') => {}
            _ => panic!("{at}: unknown line {raw:?}"),
        }
    }
    if !block.is_empty() {
        check_replies(&block, &block_at, &mut counts);
    }
    finish_command(&mut pending_canonical_check);
    counts
}

fn transcript_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_transcript_parses_and_reserialises_identically() {
    let files = transcript_files();
    assert!(files.len() >= 5, "transcripts missing: {files:?}");
    let mut total = Counts::default();
    for f in &files {
        let c = check_transcript(f);
        assert!(c.commands + c.replies > 0, "{} is empty", f.display());
        total.commands += c.commands;
        total.replies += c.replies;
        total.data_lines += c.data_lines;
    }
    assert!(total.commands >= 100, "{} commands", total.commands);
    assert!(total.replies >= 100, "{} replies", total.replies);
    assert!(total.data_lines >= 10, "{} data lines", total.data_lines);
}

#[test]
fn transcript_reply_blocks_survive_any_chunking() {
    // The same S: blocks, read through one ReplyReader fed in small pieces.
    use ftp_proto::io::ReplyReader;
    for f in transcript_files() {
        let text = fs::read_to_string(&f).unwrap();
        let mut wire = Vec::new();
        for (n, l) in text.lines().enumerate() {
            if let Some(body) = l.strip_prefix("S: ") {
                wire.extend_from_slice(&with_crlf(unescape(body, &format!("{}:{n}", f.display()))));
            }
        }
        let expected = {
            let mut out = Vec::new();
            let mut rest = &wire[..];
            while let Some((r, after)) = Reply::decode(rest).unwrap() {
                out.push(r);
                rest = after;
            }
            out
        };
        for chunk in [1usize, 2, 7, 64] {
            let reader = futures_lite::io::BufReader::with_capacity(chunk, &wire[..]);
            let mut rr = ReplyReader::new(reader, 4096);
            let got: Vec<Reply> = futures_lite::future::block_on(async {
                let mut got = Vec::new();
                for _ in 0..expected.len() {
                    got.push(rr.next().await.unwrap());
                }
                got
            });
            assert_eq!(got, expected, "{} chunk {chunk}", f.display());
        }
    }
}
