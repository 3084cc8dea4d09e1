//! Directory listing cost on the local filesystem: `FsStorage::list` (read the directory,
//! stat every entry), `FsStorage::list_formatted` (what `LIST` sends: stat and format on the
//! same threads) and `LIST` line formatting alone, for a directory of 10,000 files like the
//! one `cargo xtask bench` lists. Run with `cargo bench -p ftp-server`.

use std::sync::Arc;
use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ftp_server::listing::list_line;
use ftp_server::storage::{DirEntry, EntryFormatter, FsStorage, Storage};
use ftp_server::vpath::VPath;
use futures_lite::future::block_on;

const ENTRIES: usize = 10_000;

fn listing(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    for i in 0..ENTRIES {
        std::fs::File::create(dir.path().join(format!("entry-{i:05}.txt"))).expect("create");
    }
    let fs = FsStorage::new(dir.path()).expect("storage");
    let root = VPath::root();
    let mut g = c.benchmark_group("listing");
    g.throughput(Throughput::Elements(ENTRIES as u64));
    g.bench_function("FsStorage::list of 10k entries", |b| {
        b.iter(|| block_on(fs.list(&root)).expect("list"))
    });
    let now = SystemTime::now();
    let lines: EntryFormatter =
        Arc::new(move |e: &DirEntry, out: &mut Vec<u8>| list_line(&e.metadata, &e.name, now, out));
    g.bench_function(
        "FsStorage::list_formatted of 10k entries (LIST lines)",
        |b| b.iter(|| block_on(fs.list_formatted(&root, lines.clone(), usize::MAX)).expect("list")),
    );
    let entries = block_on(fs.list(&root)).expect("list");
    let mut out = Vec::with_capacity(ENTRIES * 80);
    g.bench_function("list_line for 10k entries", |b| {
        b.iter(|| {
            out.clear();
            for e in &entries {
                list_line(&e.metadata, &e.name, now, &mut out);
            }
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, listing);
criterion_main!(benches);
