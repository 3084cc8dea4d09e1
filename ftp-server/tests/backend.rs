//! The storage backends behave alike: one list of behaviours, each an `async fn` over a
//! [`Backend`], run against `FsStorage`, `MemStorage` and `S3Storage` (modules `fs`, `mem`,
//! `s3`, made by `behaviours!`); and the session works unchanged over each of them and over
//! another authenticator.
//!
//! The S3 cases need an S3 endpoint: the Ceph gateway of `cargo xtask ceph start`
//! (127.0.0.1:7480, its test user and bucket; `FTP_S3_ENDPOINT`, `FTP_S3_BUCKET`,
//! `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` point elsewhere). Without one they skip
//! with a notice, and fail when `FTP_INTEROP_REQUIRED=1`. Each test works under a key prefix
//! of its own, so they run in parallel against one bucket, and removes it at the end.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use ftp_proto::Secret;
use ftp_server::auth::AuthError;
use ftp_server::storage::s3::{Prefix, S3Client, S3Settings, S3Storage};
use ftp_server::storage::{BoxFuture, FsStorage, MemStorage, Storage, StorageError, WriteMode};
use ftp_server::vpath::VPath;
use ftp_server::{Account, Authenticator, Config, Permissions, Server};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};

/// Which backend a case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fs,
    Mem,
    S3,
}

/// A backend under test, empty at the start.
struct Backend {
    kind: Kind,
    storage: Arc<dyn Storage>,
    _dir: Option<tempfile::TempDir>,
}

/// The Ceph gateway's test user and bucket (`xtask/src/ceph.rs`), unless the environment
/// names another endpoint.
fn s3_settings() -> S3Settings {
    let env = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_string());
    S3Settings {
        endpoint: Some(env("FTP_S3_ENDPOINT", "http://127.0.0.1:7480")),
        bucket: Some(env("FTP_S3_BUCKET", "ftp-test")),
        access_key_id: Some(env("AWS_ACCESS_KEY_ID", "FTPTESTACCESSKEY0001")),
        secret_access_key: Some(Secret::new(env(
            "AWS_SECRET_ACCESS_KEY",
            "ftp-test-secret-key-not-a-secret-0000001",
        ))),
        ..S3Settings::default()
    }
}

/// An S3 storage under a prefix of its own, or `None` (after a notice) without an endpoint.
fn s3_backend(test: &str) -> Option<Arc<dyn Storage>> {
    Some(Arc::new(s3_storage(test)?))
}

/// [`s3_backend`], as its type.
fn s3_storage(test: &str) -> Option<S3Storage> {
    let settings = s3_settings();
    let client = S3Client::new(&settings).expect("S3 settings");
    if let Err(e) = smol::block_on(client.check_bucket()) {
        let required = std::env::var_os("FTP_INTEROP_REQUIRED").is_some_and(|v| v == "1");
        assert!(
            !required,
            "{test}: no S3 endpoint ({e}; FTP_INTEROP_REQUIRED=1: run `cargo xtask ceph start`)"
        );
        eprintln!("{test}: skipped, no S3 endpoint ({e}; run `cargo xtask ceph start`)");
        return None;
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = Prefix::new(&format!("tests/{test}-{}-{nanos}", std::process::id())).unwrap();
    Some(S3Storage::new(Arc::new(client), prefix).max_entries(1000))
}

impl Backend {
    fn new(kind: Kind, test: &str) -> Option<Backend> {
        let (storage, dir): (Arc<dyn Storage>, _) = match kind {
            Kind::Fs => {
                let dir = tempfile::tempdir().unwrap();
                (Arc::new(FsStorage::new(dir.path()).unwrap()), Some(dir))
            }
            Kind::Mem => (Arc::new(MemStorage::new(64 << 20)), None),
            Kind::S3 => (s3_backend(test)?, None),
        };
        Some(Backend {
            kind,
            storage,
            _dir: dir,
        })
    }

    async fn put(&self, path: &str, data: &[u8]) {
        self.write(path, WriteMode::Replace, data).await.unwrap();
    }

    async fn write(&self, path: &str, mode: WriteMode, data: &[u8]) -> Result<(), StorageError> {
        let mut up = self.storage.open_write(&vp(path), mode).await?;
        up.write_all(data).await?;
        up.close().await?;
        up.commit().await
    }

    async fn read(&self, path: &str) -> Result<Vec<u8>, StorageError> {
        self.read_from(path, 0).await
    }

    async fn read_from(&self, path: &str, offset: u64) -> Result<Vec<u8>, StorageError> {
        let mut r = self.storage.open_read(&vp(path), offset).await?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).await?;
        Ok(out)
    }

    async fn names(&self, path: &str) -> Vec<String> {
        let mut names: Vec<String> = (self.storage.list(&vp(path)).await.unwrap())
            .into_iter()
            .map(|e| String::from_utf8(e.name).unwrap())
            .collect();
        names.sort();
        names
    }

    /// Removes everything the case left (under S3, the case's prefix).
    async fn clear(&self, path: &VPath) {
        let entries = self.storage.list(path).await.unwrap_or_default();
        for e in entries {
            let p = path.join(&e.name).unwrap();
            if e.metadata.is_dir() {
                Box::pin(self.clear(&p)).await;
                let _ = self.storage.rmdir(&p).await;
            } else {
                let _ = self.storage.remove(&p).await;
            }
        }
    }
}

fn vp(s: &str) -> VPath {
    VPath::root().resolve(s.as_bytes()).unwrap()
}

/// Bytes that differ from one offset to the next (a misplaced part shows).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// One module per backend, each with one test per behaviour.
macro_rules! behaviours {
    ($($name:ident),* $(,)?) => {
        mod fs { $( #[test] fn $name() { super::run(super::Kind::Fs, stringify!($name), |b| Box::pin(super::$name(b))) } )* }
        mod mem { $( #[test] fn $name() { super::run(super::Kind::Mem, stringify!($name), |b| Box::pin(super::$name(b))) } )* }
        mod s3 { $( #[test] fn $name() { super::run(super::Kind::S3, stringify!($name), |b| Box::pin(super::$name(b))) } )* }
    };
}

fn run(kind: Kind, test: &str, case: impl for<'a> FnOnce(&'a Backend) -> BoxFuture<'a, ()>) {
    let Some(b) = Backend::new(kind, test) else {
        return;
    };
    smol::block_on(async {
        case(&b).await;
        b.clear(&VPath::root()).await;
    });
}

behaviours!(
    replace_shows_nothing_until_commit,
    create_new_refuses_an_existing_file,
    create_new_loses_a_race_to_a_committed_file,
    uploads_larger_than_a_part_arrive_whole,
    dropped_large_upload_keeps_the_old_content,
    append_and_offset_writes_keep_the_head,
    large_append_keeps_the_head,
    reads_start_at_the_offset,
    metadata_tells_files_from_directories,
    directories_are_made_and_removed_only_when_empty,
    listing_shows_entries_and_refuses_too_many,
    remove_refuses_missing_files_and_directories,
    renames_replace_files_and_move_empty_directories,
    non_empty_directory_rename_follows_the_backend,
    set_mtime_is_reported_by_metadata,
    upload_into_a_missing_directory_is_refused,
    copies_are_whole_and_refuse_what_is_not_a_file,
    a_recorded_digest_is_kept_until_the_file_is_rewritten,
);

async fn replace_shows_nothing_until_commit(b: &Backend) {
    b.put("f", b"old").await;
    let mut up = b
        .storage
        .open_write(&vp("f"), WriteMode::Replace)
        .await
        .unwrap();
    up.write_all(b"new content").await.unwrap();
    drop(up);
    assert_eq!(b.read("f").await.unwrap(), b"old", "{:?}", b.kind);
    b.put("f", b"new content").await;
    assert_eq!(b.read("f").await.unwrap(), b"new content");
    b.put("empty", b"").await;
    assert_eq!(b.read("empty").await.unwrap(), b"");
}

async fn create_new_refuses_an_existing_file(b: &Backend) {
    b.write("u", WriteMode::CreateNew, b"one").await.unwrap();
    let again = b.storage.open_write(&vp("u"), WriteMode::CreateNew).await;
    assert!(
        matches!(again, Err(StorageError::AlreadyExists)),
        "{:?}",
        b.kind
    );
    assert_eq!(b.read("u").await.unwrap(), b"one");
}

async fn create_new_loses_a_race_to_a_committed_file(b: &Backend) {
    for (name, len) in [("small", 10), ("large", 9 << 20)] {
        let mut first = b
            .storage
            .open_write(&vp(name), WriteMode::CreateNew)
            .await
            .unwrap();
        let mut second = b
            .storage
            .open_write(&vp(name), WriteMode::CreateNew)
            .await
            .unwrap();
        first.write_all(&pattern(len, 1)).await.unwrap();
        second.write_all(&pattern(len, 2)).await.unwrap();
        first.commit().await.unwrap();
        let lost = second.commit().await;
        assert!(
            matches!(lost, Err(StorageError::AlreadyExists)),
            "{:?} {name}: {lost:?}",
            b.kind
        );
        assert!(
            b.read(name).await.unwrap() == pattern(len, 1),
            "{:?} {name}",
            b.kind
        );
    }
}

async fn uploads_larger_than_a_part_arrive_whole(b: &Backend) {
    let data = pattern(19 << 20, 1);
    let mut up = b
        .storage
        .open_write(&vp("big"), WriteMode::Replace)
        .await
        .unwrap();
    for chunk in data.chunks(1 << 20) {
        up.write_all(chunk).await.unwrap();
    }
    up.commit().await.unwrap();
    assert_eq!(
        b.storage.metadata(&vp("big")).await.unwrap().len,
        data.len() as u64
    );
    assert!(
        b.read("big").await.unwrap() == data,
        "{:?}: content differs",
        b.kind
    );
}

async fn dropped_large_upload_keeps_the_old_content(b: &Backend) {
    b.put("keep", b"the old content").await;
    let mut up = b
        .storage
        .open_write(&vp("keep"), WriteMode::Replace)
        .await
        .unwrap();
    up.write_all(&pattern(17 << 20, 2)).await.unwrap();
    drop(up);
    let mut up = b
        .storage
        .open_write(&vp("new"), WriteMode::Replace)
        .await
        .unwrap();
    up.write_all(&pattern(9 << 20, 3)).await.unwrap();
    drop(up);
    assert_eq!(b.read("keep").await.unwrap(), b"the old content");
    assert!(matches!(b.read("new").await, Err(StorageError::NotFound)));
}

async fn append_and_offset_writes_keep_the_head(b: &Backend) {
    b.put("f", b"hello").await;
    b.write("f", WriteMode::Append, b" world").await.unwrap();
    assert_eq!(b.read("f").await.unwrap(), b"hello world");
    b.write("f", WriteMode::At(5), b"!").await.unwrap();
    assert_eq!(b.read("f").await.unwrap(), b"hello!");
    b.write("g", WriteMode::Append, b"new").await.unwrap();
    assert_eq!(b.read("g").await.unwrap(), b"new");
}

async fn large_append_keeps_the_head(b: &Backend) {
    // Over S3's smallest part: copied on the S3 side, then the new data.
    let head = pattern(6 << 20, 4);
    let tail = pattern(3 << 20, 5);
    b.put("big", &head).await;
    b.write("big", WriteMode::Append, &tail).await.unwrap();
    let got = b.read("big").await.unwrap();
    assert!(
        got == [&head[..], &tail[..]].concat(),
        "{:?}: append differs",
        b.kind
    );
    b.write("big", WriteMode::At(5 << 20), b"end")
        .await
        .unwrap();
    let got = b.read("big").await.unwrap();
    assert!(
        got == [&head[..5 << 20], b"end"].concat(),
        "{:?}: resume differs",
        b.kind
    );
}

async fn reads_start_at_the_offset(b: &Backend) {
    b.put("f", b"0123456789").await;
    assert_eq!(b.read_from("f", 7).await.unwrap(), b"789");
    assert_eq!(b.read_from("f", 10).await.unwrap(), b"");
    assert!(matches!(
        b.read("missing").await,
        Err(StorageError::NotFound)
    ));
    b.storage.mkdir(&vp("d")).await.unwrap();
    assert!(matches!(b.read("d").await, Err(StorageError::IsADirectory)));
}

async fn metadata_tells_files_from_directories(b: &Backend) {
    b.put("f", b"12345").await;
    b.storage.mkdir(&vp("d")).await.unwrap();
    let s = &b.storage;
    let f = s.metadata(&vp("f")).await.unwrap();
    assert!(!f.is_dir() && f.len == 5 && f.modified.is_some());
    assert!(s.metadata(&vp("d")).await.unwrap().is_dir());
    assert!(s.metadata(&VPath::root()).await.unwrap().is_dir());
    assert!(matches!(
        s.metadata(&vp("nope")).await,
        Err(StorageError::NotFound)
    ));
}

async fn directories_are_made_and_removed_only_when_empty(b: &Backend) {
    let s = &b.storage;
    s.mkdir(&vp("d")).await.unwrap();
    assert!(matches!(
        s.mkdir(&vp("d")).await,
        Err(StorageError::AlreadyExists)
    ));
    assert!(matches!(
        s.mkdir(&vp("x/y")).await,
        Err(StorageError::NotFound)
    ));
    s.mkdir(&vp("d/sub")).await.unwrap();
    b.put("d/sub/f", b"x").await;
    assert!(matches!(
        s.rmdir(&vp("d/sub")).await,
        Err(StorageError::DirectoryNotEmpty)
    ));
    assert!(matches!(
        s.rmdir(&vp("nope")).await,
        Err(StorageError::NotFound)
    ));
    s.remove(&vp("d/sub/f")).await.unwrap();
    s.rmdir(&vp("d/sub")).await.unwrap();
    assert_eq!(b.names("d").await, Vec::<String>::new());
    s.rmdir(&vp("d")).await.unwrap();
    assert!(matches!(
        s.metadata(&vp("d")).await,
        Err(StorageError::NotFound)
    ));
}

async fn listing_shows_entries_and_refuses_too_many(b: &Backend) {
    b.storage.mkdir(&vp("d")).await.unwrap();
    for n in ["b", "a", "c"] {
        b.put(&format!("d/{n}"), n.as_bytes()).await;
    }
    b.storage.mkdir(&vp("d/sub")).await.unwrap();
    assert_eq!(b.names("d").await, ["a", "b", "c", "sub"]);
    assert_eq!(b.names("/").await, ["d"]);
    let names = Arc::new(|e: &ftp_server::storage::DirEntry, out: &mut Vec<u8>| {
        out.extend_from_slice(&e.name);
        out.push(b' ');
    });
    let listed = b.storage.list_formatted(&vp("d"), names.clone(), 4).await;
    assert_eq!(listed.unwrap(), b"a b c sub ");
    let over = b.storage.list_formatted(&vp("d"), names, 3).await;
    assert!(matches!(
        over,
        Err(StorageError::TooManyEntries { limit: 3 })
    ));
    assert!(b.storage.list(&vp("nope")).await.is_err());
}

async fn remove_refuses_missing_files_and_directories(b: &Backend) {
    b.storage.mkdir(&vp("d")).await.unwrap();
    b.put("f", b"x").await;
    let s = &b.storage;
    assert!(matches!(
        s.remove(&vp("nope")).await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        s.remove(&vp("d")).await,
        Err(StorageError::IsADirectory)
    ));
    s.remove(&vp("f")).await.unwrap();
    assert!(matches!(
        s.remove(&vp("f")).await,
        Err(StorageError::NotFound)
    ));
}

async fn renames_replace_files_and_move_empty_directories(b: &Backend) {
    b.put("a", b"from a").await;
    b.put("b", b"from b").await;
    let s = &b.storage;
    s.rename(&vp("a"), &vp("b")).await.unwrap();
    assert_eq!(b.read("b").await.unwrap(), b"from a");
    assert!(matches!(b.read("a").await, Err(StorageError::NotFound)));
    s.mkdir(&vp("d")).await.unwrap();
    s.rename(&vp("d"), &vp("e")).await.unwrap();
    assert_eq!(b.names("/").await, ["b", "e"]);
    assert!(matches!(
        s.rename(&vp("nope"), &vp("x")).await,
        Err(StorageError::NotFound)
    ));
}

async fn non_empty_directory_rename_follows_the_backend(b: &Backend) {
    b.storage.mkdir(&vp("d")).await.unwrap();
    b.put("d/f", b"inside").await;
    let r = b.storage.rename(&vp("d"), &vp("e")).await;
    if b.kind == Kind::S3 {
        // Not atomic on S3: refused unless `rename_dirs` is on.
        assert!(matches!(r, Err(StorageError::PermissionDenied)), "{r:?}");
        assert_eq!(b.read("d/f").await.unwrap(), b"inside");
    } else {
        r.unwrap();
        assert_eq!(b.read("e/f").await.unwrap(), b"inside");
    }
}

async fn set_mtime_is_reported_by_metadata(b: &Backend) {
    b.put("f", b"timed").await;
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    b.storage.set_mtime(&vp("f"), t).await.unwrap();
    assert_eq!(
        b.storage.metadata(&vp("f")).await.unwrap().modified,
        Some(t)
    );
    assert_eq!(b.read("f").await.unwrap(), b"timed");
}

async fn upload_into_a_missing_directory_is_refused(b: &Backend) {
    let r = b
        .storage
        .open_write(&vp("nodir/f"), WriteMode::Replace)
        .await;
    assert!(
        matches!(r.err(), Some(StorageError::NotFound)),
        "{:?}",
        b.kind
    );
}

#[test]
fn s3_renames_non_empty_directories_only_with_rename_dirs() {
    let Some(s3) = s3_storage("rename_dirs") else {
        return;
    };
    let b = Backend {
        kind: Kind::S3,
        storage: Arc::new(s3.rename_dirs(true)),
        _dir: None,
    };
    smol::block_on(async {
        b.storage.mkdir(&vp("d")).await.unwrap();
        b.storage.mkdir(&vp("d/sub")).await.unwrap();
        b.put("d/f", b"one").await;
        b.put("d/sub/g", b"two").await;
        b.storage.mkdir(&vp("taken")).await.unwrap();
        let onto = b.storage.rename(&vp("d"), &vp("taken")).await;
        assert!(matches!(onto, Err(StorageError::AlreadyExists)), "{onto:?}");
        b.storage.rename(&vp("d"), &vp("e")).await.unwrap();
        assert_eq!(b.names("/").await, ["e", "taken"]);
        assert_eq!(b.names("e").await, ["f", "sub"]);
        assert_eq!(b.read("e/sub/g").await.unwrap(), b"two");
        assert!(b.storage.metadata(&vp("e/sub")).await.unwrap().is_dir());
        b.clear(&VPath::root()).await;
    });
}

#[test]
fn s3_directories_that_are_only_common_prefixes_can_be_entered_and_vanish_when_emptied() {
    let Some(s3) = s3_storage("common_prefix") else {
        return;
    };
    // Another client's object `only/f`, with no `only/` marker: written through a second
    // view whose prefix ends in `only/`.
    let settings = s3_settings();
    let deeper = s3.prefix().join(&Prefix::new("only").unwrap());
    let other = S3Storage::new(Arc::new(S3Client::new(&settings).unwrap()), deeper);
    let b = Backend {
        kind: Kind::S3,
        storage: Arc::new(s3),
        _dir: None,
    };
    smol::block_on(async {
        let mut up = other
            .open_write(&vp("f"), WriteMode::Replace)
            .await
            .unwrap();
        up.write_all(b"from elsewhere").await.unwrap();
        up.commit().await.unwrap();
        assert!(b.storage.metadata(&vp("only")).await.unwrap().is_dir());
        assert_eq!(b.names("/").await, ["only"]);
        assert_eq!(b.names("only").await, ["f"]);
        let rmd = b.storage.rmdir(&vp("only")).await;
        assert!(
            matches!(rmd, Err(StorageError::DirectoryNotEmpty)),
            "{rmd:?}"
        );
        b.storage.remove(&vp("only/f")).await.unwrap();
        let gone = b.storage.metadata(&vp("only")).await;
        assert!(matches!(gone, Err(StorageError::NotFound)), "{gone:?}");
    });
}

/// One user whose storage is given.
#[derive(Debug)]
struct OneUser(Arc<dyn Storage>);

impl Authenticator for OneUser {
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        password: &'a Secret<Vec<u8>>,
    ) -> BoxFuture<'a, Result<Account, AuthError>> {
        let ok = user == USER && password.expose() == PASS.as_bytes();
        let storage = self.0.clone();
        Box::pin(async move {
            if ok {
                Ok(Account::new(USER, storage, Permissions::ALL))
            } else {
                Err(AuthError::InvalidCredentials)
            }
        })
    }
}

/// A server over `storage` with [`OneUser`], and a logged-in control connection.
fn serve(
    storage: Arc<dyn Storage>,
) -> (
    Ctl,
    ftp_server::ShutdownHandle,
    std::thread::JoinHandle<Result<(), ftp_server::ServerError>>,
) {
    let cfg = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..Config::default()
    };
    let server = smol::block_on(Server::bind_with(cfg, Arc::new(OneUser(storage)))).unwrap();
    let addr = server.local_addrs()[0];
    let stop = server.shutdown_handle();
    let t = std::thread::spawn(move || smol::block_on(server.run()));
    let mut c = Ctl::connect(addr);
    c.login(USER, PASS);
    (c, stop, t)
}

/// The session over any backend: the same commands, the same replies.
fn session_works_over(kind: Kind, test: &str) {
    let Some(b) = Backend::new(kind, test) else {
        return;
    };
    smol::block_on(b.put("hello.txt", b"from the backend"));
    let (mut c, stop, t) = serve(b.storage.clone());
    assert_eq!(c.download("RETR hello.txt").0, b"from the backend");
    c.expect("MKD dir", 257);
    c.expect("CWD dir", 250);
    c.expect("CWD /", 250);
    c.upload("STOR dir/up.bin", &[7u8; 5000]);
    c.expect("REST 4000", 350);
    c.upload("STOR dir/up.bin", b"tail");
    assert_eq!(smol::block_on(b.read("dir/up.bin")).unwrap().len(), 4004);
    c.expect("RNFR dir/up.bin", 350);
    c.expect("RNTO moved.bin", 250);
    assert_eq!(c.text("NLST"), "dir\r\nhello.txt\r\nmoved.bin\r\n");
    assert!(c.text("MLSD").contains("type=file;size=4004;"));
    assert_eq!(c.expect("SIZE moved.bin", 213).text(), "4004");
    c.expect("MFMT 20200102030405 moved.bin", 213);
    assert_eq!(c.expect("MDTM moved.bin", 213).text(), "20200102030405");
    c.expect("DELE moved.bin", 250);
    c.expect("DELE moved.bin", 550);
    c.expect("RMD dir", 250);
    c.expect("QUIT", 221);
    stop.shutdown();
    t.join().unwrap().unwrap();
    smol::block_on(b.clear(&VPath::root()));
}

#[test]
fn the_session_works_over_the_filesystem() {
    session_works_over(Kind::Fs, "session_fs");
}

#[test]
fn the_session_works_over_memory() {
    session_works_over(Kind::Mem, "session_mem");
}

#[test]
fn the_session_works_over_s3() {
    session_works_over(Kind::S3, "session_s3");
}

#[test]
fn a_storage_error_answers_and_stores_nothing() {
    let mem = MemStorage::new(1 << 20);
    let (mut c, stop, t) = serve(Arc::new(mem.clone()));
    // Over the backend's size limit: a storage error, and nothing is stored.
    let mut d = c.epsv();
    c.expect("STOR huge.bin", 150);
    // The server may stop reading before all is sent: a failed write is expected here.
    let _ = std::io::Write::write_all(&mut d, &vec![0u8; 2 << 20]);
    drop(d);
    c.expect_reply(452);
    assert!(mem.file(&vp("huge.bin")).is_err());
    c.expect("QUIT", 221);
    stop.shutdown();
    t.join().unwrap().unwrap();
}

/// An S3 storage at `endpoint` (no request is sent until it is used).
fn s3_at(endpoint: String) -> Arc<dyn Storage> {
    let settings = S3Settings {
        endpoint: Some(endpoint),
        ..s3_settings()
    };
    let client = S3Client::new(&settings).unwrap();
    Arc::new(S3Storage::new(Arc::new(client), Prefix::default()))
}

/// A fake S3 endpoint answering each request with the next of `answers` (the last one
/// again when they run out); also the count of requests it read. Serves at most 20.
fn fake_s3(answers: Vec<&'static str>) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut served = 0;
        for conn in listener.incoming().take(20) {
            let Ok(conn) = conn else { break };
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut w = conn;
            // Each request is a head without a body (HEAD); several may share a connection.
            while served < 20 {
                let mut line = String::new();
                let mut head_lines = 0;
                while r.read_line(&mut line).is_ok_and(|n| n > 0)
                    && line != "\r\n"
                    && head_lines < 100
                {
                    line.clear();
                    head_lines += 1;
                }
                if head_lines == 0 {
                    break;
                }
                let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let answer = answers[n.min(answers.len() - 1)];
                served += 1;
                if w.write_all(answer.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    (endpoint, count)
}

const SLOW_DOWN: &str = "HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\n\r\n";
const FOUND: &str =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n";

#[test]
fn throttled_requests_are_retried_until_they_succeed() {
    let (endpoint, count) = fake_s3(vec![SLOW_DOWN, SLOW_DOWN, FOUND]);
    let s = s3_at(endpoint);
    let m = smol::block_on(s.metadata(&vp("f"))).unwrap();
    assert_eq!(m.len, 5);
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[test]
fn a_failing_or_unreachable_endpoint_answers_451_and_the_session_goes_on() {
    let (endpoint, count) = fake_s3(vec![SLOW_DOWN]);
    let s = s3_at(endpoint);
    assert!(matches!(
        smol::block_on(s.metadata(&vp("f"))),
        Err(StorageError::Unavailable)
    ));
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        5,
        "five attempts"
    );
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (mut c, stop, t) = serve(s3_at(format!("http://127.0.0.1:{port}")));
    c.expect("SIZE f", 451);
    c.expect("NOOP", 200);
    let d = c.epsv();
    c.expect("RETR f", 451);
    drop(d);
    c.expect("QUIT", 221);
    stop.shutdown();
    t.join().unwrap().unwrap();
}

async fn copies_are_whole_and_refuse_what_is_not_a_file(b: &Backend) {
    let data = pattern(1 << 20, 7);
    b.put("src", &data).await;
    b.put("dst", b"old").await;
    let n = b.storage.copy(&vp("src"), &vp("dst")).await.unwrap();
    assert_eq!(n, data.len() as u64);
    assert!(b.read("dst").await.unwrap() == data, "{:?}", b.kind);
    assert!(b.read("src").await.unwrap() == data, "{:?}", b.kind);
    b.storage.mkdir(&vp("d")).await.unwrap();
    let refused = [
        ("d", "x", "a directory as the source"),
        ("src", "d", "a directory as the target"),
        ("missing", "x", "a missing source"),
        ("src", "nodir/x", "a missing target directory"),
    ];
    for (from, to, what) in refused {
        let r = b.storage.copy(&vp(from), &vp(to)).await;
        assert!(
            matches!(r, Err(StorageError::IsADirectory | StorageError::NotFound)),
            "{:?}: {what}: {r:?}",
            b.kind
        );
    }
    assert!(matches!(b.read("x").await, Err(StorageError::NotFound)));
}

async fn a_recorded_digest_is_kept_until_the_file_is_rewritten(b: &Backend) {
    use sha2::Digest as _;
    // One `PUT` and a multipart upload on S3.
    for (i, len) in [3000usize, 9 << 20].into_iter().enumerate() {
        let (name, copy) = (format!("f{i}"), format!("c{i}"));
        let data = pattern(len, 8);
        let digest: [u8; 32] = sha2::Sha256::digest(&data).into();
        let mut up = b
            .storage
            .open_write(&vp(&name), WriteMode::Replace)
            .await
            .unwrap();
        let keeps = up.keeps_sha256();
        up.write_all(&data).await.unwrap();
        up.close().await.unwrap();
        up.record_sha256(digest);
        up.commit().await.unwrap();
        let kept = keeps.then_some(digest);
        let stored = b.storage.stored_sha256(&vp(&name)).await.unwrap();
        assert_eq!(stored, kept, "{:?}: {len} bytes", b.kind);
        // A copy has the same contents: its digest, if any, is the same.
        b.storage.copy(&vp(&name), &vp(&copy)).await.unwrap();
        let copied = b.storage.stored_sha256(&vp(&copy)).await.unwrap();
        assert!(copied.is_none() || copied == Some(digest), "{:?}", b.kind);
        // Rewritten without a digest: forgotten.
        b.put(&name, b"other").await;
        let stored = b.storage.stored_sha256(&vp(&name)).await.unwrap();
        assert_eq!(stored, None, "{:?}: a stale digest", b.kind);
        // A digest computed from the file is kept while the file stays as it was seen.
        let seen = b.storage.metadata(&vp(&name)).await.unwrap();
        let other: [u8; 32] = sha2::Sha256::digest(b"other").into();
        b.storage
            .store_sha256(&vp(&name), other, &seen)
            .await
            .unwrap();
        let stored = b.storage.stored_sha256(&vp(&name)).await.unwrap();
        assert_eq!(stored, keeps.then_some(other), "{:?}", b.kind);
    }
}
