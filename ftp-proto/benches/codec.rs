//! Codec throughput on a realistic control-connection mix.
//!
//! Run with `cargo bench -p ftp-proto`; each benchmark reports elements (commands, lines or
//! replies) per second.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ftp_proto::addr;
use ftp_proto::feat::Features;
use ftp_proto::line::LineDecoder;
use ftp_proto::{Command, Reply, ReplyCode};

/// Command lines as a client session sends them (without CR LF): login, settings, passive and
/// extended-passive transfers with real-looking paths, resumes, listings and metadata.
const COMMANDS: &[&[u8]] = &[
    b"USER anonymous",
    b"PASS guest@example.com",
    b"SYST",
    b"FEAT",
    b"OPTS UTF8 ON",
    b"PWD",
    b"TYPE I",
    b"CWD /pub/releases/2024",
    b"PASV",
    b"LIST -la",
    b"EPSV",
    b"SIZE linux-6.8.tar.xz",
    b"MDTM linux-6.8.tar.xz",
    b"REST 104857600",
    b"RETR linux-6.8.tar.xz",
    b"EPSV",
    b"RETR /pub/releases/2024/My Documents/annual report (final).pdf",
    b"PORT 192,168,1,20,195,80",
    b"STOR upload/photo 001.jpg",
    b"EPRT |2|2001:db8::20|50001|",
    b"NLST",
    b"TYPE A",
    b"CDUP",
    b"NOOP",
    b"QUIT",
];

fn replies() -> Vec<Reply> {
    let mut feat = Features::new();
    for (name, params) in [
        ("EPRT", None),
        ("EPSV", None),
        ("MDTM", None),
        ("MLST", Some("type*;size*;modify*;perm;unique;UNIX.mode;")),
        ("REST", Some("STREAM")),
        ("SIZE", None),
        ("TVFS", None),
        ("UTF8", None),
        ("AUTH", Some("TLS")),
        ("PBSZ", None),
        ("PROT", None),
    ] {
        feat.add(name, params);
    }
    vec![
        Reply::new(
            ReplyCode::FILE_STATUS_OK,
            "Opening BINARY mode data connection.",
        ),
        Reply::new(ReplyCode::CLOSING_DATA, "Transfer complete."),
        addr::pasv_reply("192.168.1.10:50000".parse().unwrap()),
        addr::epsv_reply(50001),
        Reply::path(b"/pub/releases/2024", "is the current directory"),
        Reply::new(ReplyCode::FILE_STATUS, "104857600"),
        Reply::new(ReplyCode::FILE_STATUS, "20240315120000"),
        feat.to_reply(),
        Reply::new(ReplyCode::FILE_NOT_AVAILABLE, "No such file or directory."),
        Reply::new(ReplyCode::OK, "Command okay."),
    ]
}

fn bench_parse_commands(c: &mut Criterion) {
    let mut g = c.benchmark_group("commands");
    g.throughput(Throughput::Elements(COMMANDS.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for line in COMMANDS {
                let _ = black_box(Command::parse(black_box(line)));
            }
        })
    });
    let parsed: Vec<Command> = COMMANDS
        .iter()
        .map(|l| Command::parse(l).unwrap())
        .collect();
    let mut out = Vec::with_capacity(4096);
    g.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            for cmd in &parsed {
                cmd.encode(&mut out);
            }
            black_box(&out);
        })
    });
    g.finish();
}

fn bench_decode_lines(c: &mut Criterion) {
    // 100 sessions' worth of command lines in one buffer, CR LF terminated.
    let mut wire = Vec::new();
    let mut n = 0u64;
    for _ in 0..100 {
        for line in COMMANDS {
            wire.extend_from_slice(line);
            wire.extend_from_slice(b"\r\n");
            n += 1;
        }
    }
    let mut g = c.benchmark_group("lines");
    g.throughput(Throughput::Elements(n));
    g.bench_function("decode", |b| {
        b.iter_batched_ref(
            LineDecoder::default,
            |dec| {
                let mut rest = &wire[..];
                while !rest.is_empty() {
                    let line;
                    (line, rest) = dec.decode(rest);
                    black_box(line);
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("decode_and_parse", |b| {
        b.iter_batched_ref(
            LineDecoder::default,
            |dec| {
                let mut rest = &wire[..];
                while !rest.is_empty() {
                    let line;
                    (line, rest) = dec.decode(rest);
                    if let Some(Ok(line)) = line {
                        let _ = black_box(Command::parse(&line));
                    }
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn bench_replies(c: &mut Criterion) {
    let replies = replies();
    let mut g = c.benchmark_group("replies");
    g.throughput(Throughput::Elements(replies.len() as u64));
    let mut out = Vec::with_capacity(4096);
    g.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            for r in &replies {
                r.encode(&mut out);
            }
            black_box(&out);
        })
    });
    g.bench_function("build_and_encode", |b| {
        b.iter(|| {
            out.clear();
            for r in black_box(self::replies()) {
                r.encode(&mut out);
            }
            black_box(&out);
        })
    });
    let mut wire = Vec::new();
    for r in &replies {
        r.encode(&mut wire);
    }
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut rest = black_box(&wire[..]);
            while let Ok(Some((reply, after))) = Reply::decode(rest) {
                black_box(reply);
                rest = after;
            }
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_parse_commands,
    bench_decode_lines,
    bench_replies
);
criterion_main!(benches);
