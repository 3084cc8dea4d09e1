//! Quotas and bandwidth limits through the real server, each rule on the local filesystem
//! and on memory storage: uploads over the quota get `552` and leave nothing, deletes and
//! overwriting renames give the space back, `AVBL`/`SITE QUOTA`/`STAT` agree with what is
//! stored, and rate limits hold (lower bounds on the time only, so nothing here is flaky).

mod common;

use std::io::{Read, Write};
use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ftp_proto::Secret;
use ftp_server::auth::AuthError;
use ftp_server::policy::{Limits, UserPolicy};
use ftp_server::storage::{BoxFuture, MemStorage};
use ftp_server::vpath::VPath;
use ftp_server::{Account, Authenticator, Config, Permissions, Server, ShutdownHandle, User};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Fs,
    Mem,
}

/// Users of one in-memory tree, each with its policy (made once, so sessions share it).
#[derive(Debug)]
struct MemUsers {
    mem: MemStorage,
    users: Vec<(String, UserPolicy)>,
}

impl Authenticator for MemUsers {
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        password: &'a Secret<Vec<u8>>,
    ) -> BoxFuture<'a, Result<Account, AuthError>> {
        let found = self
            .users
            .iter()
            .find(|(n, _)| n == user && password.expose() == PASS.as_bytes());
        let account = found.map(|(name, policy)| Account {
            policy: policy.clone(),
            ..Account::new(name, Arc::new(self.mem.clone()), Permissions::ALL)
        });
        Box::pin(async move { account.ok_or(AuthError::InvalidCredentials) })
    }
}

/// A server on one backend, with its users.
struct Rig {
    addr: std::net::SocketAddr,
    fs: Option<Srv>,
    mem: Option<(MemStorage, ShutdownHandle, std::thread::JoinHandle<()>)>,
}

/// Memory storage's size cap in these tests.
const MEM_CAP: u64 = 64 << 20;

fn vp(rel: &str) -> VPath {
    VPath::root().resolve(rel.as_bytes()).unwrap()
}

impl Rig {
    fn start(kind: Kind, users: &[(&str, Limits)], configure: impl FnOnce(&mut Config)) -> Rig {
        match kind {
            Kind::Fs => {
                let srv = Srv::start_with(|c| {
                    let home = c.users[0].home.clone();
                    c.users = users
                        .iter()
                        .map(|(name, limits)| User {
                            limits: *limits,
                            ..User::new(name, PASS, &home)
                        })
                        .collect();
                    configure(c);
                });
                Rig {
                    addr: srv.addr,
                    fs: Some(srv),
                    mem: None,
                }
            }
            Kind::Mem => {
                let mut cfg = Config {
                    listen: vec!["127.0.0.1:0".parse().unwrap()],
                    ..Config::default()
                };
                configure(&mut cfg);
                let mem = MemStorage::new(MEM_CAP);
                let auth = MemUsers {
                    mem: mem.clone(),
                    users: users
                        .iter()
                        .map(|(n, l)| (n.to_string(), UserPolicy::new(l, cfg.quota_rescan)))
                        .collect(),
                };
                let server = smol::block_on(Server::bind_with(cfg, Arc::new(auth))).unwrap();
                let addr = server.local_addrs()[0];
                let stop = server.shutdown_handle();
                let t = std::thread::spawn(move || smol::block_on(server.run()).unwrap());
                Rig {
                    addr,
                    fs: None,
                    mem: Some((mem, stop, t)),
                }
            }
        }
    }

    /// The one user `alice` with `limits`.
    fn alice(kind: Kind, limits: Limits) -> Rig {
        Rig::start(kind, &[(USER, limits)], |_| {})
    }

    fn login_as(&self, user: &str) -> Ctl {
        let mut c = Ctl::connect(self.addr);
        c.login(user, PASS);
        c
    }

    fn login(&self) -> Ctl {
        self.login_as(USER)
    }

    /// Stores a file behind the server's back.
    fn put(&self, rel: &str, data: &[u8]) {
        match (&self.fs, &self.mem) {
            (Some(s), _) => s.write(rel, data),
            (_, Some((m, ..))) => m.insert_file(&vp(rel), data.to_vec()).unwrap(),
            _ => unreachable!(),
        }
    }

    fn exists(&self, rel: &str) -> bool {
        match (&self.fs, &self.mem) {
            (Some(s), _) => s.path(rel).exists(),
            (_, Some((m, ..))) => m.file(&vp(rel)).is_ok(),
            _ => unreachable!(),
        }
    }

    /// The bytes and files stored, as the disk or the tree has them.
    fn stored(&self) -> (u64, u64) {
        match (&self.fs, &self.mem) {
            (Some(s), _) => du(s.root.path()),
            (_, Some((m, ..))) => {
                let names = m_names(m);
                (m.used(), names)
            }
            _ => unreachable!(),
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some((_, stop, t)) = self.mem.take() {
            stop.shutdown();
            let _ = t.join();
        }
    }
}

/// Bytes and files under `dir`, recursively.
fn du(dir: &std::path::Path) -> (u64, u64) {
    let mut total = (0, 0);
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        if m.is_dir() {
            let (b, f) = du(&e.path());
            total = (total.0 + b, total.1 + f);
        } else if m.is_file() {
            total = (total.0 + m.len(), total.1 + 1);
        }
    }
    total
}

/// Files in the root of an in-memory tree (the tests store nothing deeper).
fn m_names(m: &MemStorage) -> u64 {
    use ftp_server::Storage;
    let entries = smol::block_on(m.list(&VPath::root())).unwrap();
    entries.iter().filter(|e| !e.metadata.is_dir()).count() as u64
}

fn quota(bytes: Option<u64>, files: Option<u64>) -> Limits {
    Limits {
        quota_bytes: bytes,
        quota_files: files,
        ..Limits::default()
    }
}

fn rate(n: u64) -> Option<NonZeroU64> {
    NonZeroU64::new(n)
}

/// Starts an upload of `data` and returns the final reply; the server may cut the data
/// connection early, so a failed write is expected and ignored.
fn upload_cut(c: &mut Ctl, line: &str, data: &[u8]) -> u16 {
    let mut d = c.epsv();
    let r = c.cmd(line);
    if r.code().as_u16() != 150 {
        return r.code().as_u16();
    }
    let _ = d.write_all(data);
    let _ = d.shutdown(std::net::Shutdown::Write);
    drop(d);
    c.reply().code().as_u16()
}

/// The number an `AVBL` answers.
fn avbl(c: &mut Ctl) -> u64 {
    c.expect("AVBL", 213).text().trim().parse().unwrap()
}

fn an_upload_over_the_quota_gets_552_and_leaves_nothing(kind: Kind) {
    let rig = Rig::alice(kind, quota(Some(100_000), None));
    rig.put("old.bin", &[1u8; 30_000]);
    let mut c = rig.login();
    // Cut during the transfer: nothing under the name, the old file untouched.
    assert_eq!(upload_cut(&mut c, "STOR big.bin", &[7u8; 200_000]), 552);
    assert!(!rig.exists("big.bin"));
    assert_eq!(upload_cut(&mut c, "STOR old.bin", &[7u8; 200_000]), 552);
    assert_eq!(upload_cut(&mut c, "STOU", &[7u8; 200_000]), 552);
    c.expect("TYPE A", 200);
    assert_eq!(upload_cut(&mut c, "STOR text.txt", &[b'x'; 200_000]), 552);
    c.expect("TYPE I", 200);
    assert_eq!(rig.stored(), (30_000, 1));
    // Known sizes are refused before the transfer starts.
    c.expect("ALLO 70001", 552);
    c.expect("ALLO 70000", 200);
    assert_eq!(
        c.upload("STOR fits.bin", &[2u8; 70_000]).code().as_u16(),
        226
    );
    // Full now: an append is refused before its 150.
    let mut d = c.epsv();
    c.expect("APPE fits.bin", 552);
    drop(d.write_all(b"x"));
    c.expect("REST 70000", 350);
    c.expect("STOR fits.bin", 552);
    assert_eq!(rig.stored(), (100_000, 2));
    // The same quota after the refusals: a replacement of the same size still fits.
    assert_eq!(
        c.upload("STOR fits.bin", &[3u8; 70_000]).code().as_u16(),
        226
    );
    assert_eq!(avbl(&mut c), 0);
}

fn deletes_and_renames_give_the_space_back(kind: Kind) {
    let rig = Rig::alice(kind, quota(Some(100_000), Some(2)));
    let mut c = rig.login();
    assert_eq!(c.upload("STOR a.bin", &[1u8; 60_000]).code().as_u16(), 226);
    assert_eq!(upload_cut(&mut c, "STOR b.bin", &[2u8; 60_000]), 552);
    c.expect("DELE a.bin", 250);
    assert_eq!(c.upload("STOR b.bin", &[2u8; 60_000]).code().as_u16(), 226);
    assert_eq!(c.upload("STOR c.bin", &[3u8; 10_000]).code().as_u16(), 226);
    // Two files: a third is refused before it starts.
    let mut d = c.epsv();
    c.expect("STOR d.bin", 552);
    drop(d.write_all(b"x"));
    assert!(!rig.exists("d.bin"));
    // A rename over a file frees that file and its bytes.
    c.expect("RNFR c.bin", 350);
    c.expect("RNTO b.bin", 250);
    assert_eq!(rig.stored(), (10_000, 1));
    assert_eq!(avbl(&mut c), 90_000);
    assert_eq!(c.upload("STOR e.bin", &[5u8; 90_000]).code().as_u16(), 226);
    assert_eq!(avbl(&mut c), 0);
}

fn avbl_and_site_quota_agree_with_the_disk(kind: Kind) {
    let rig = Rig::start(kind, &[(USER, quota(Some(1_000_000), Some(50)))], |c| {
        c.quota_rescan = Duration::from_millis(200);
    });
    rig.put("a.bin", &[0u8; 12_345]);
    rig.put("b.bin", &[0u8; 1_000]);
    let mut c = rig.login();
    let (bytes, files) = rig.stored();
    assert_eq!((bytes, files), (13_345, 2));
    assert_eq!(avbl(&mut c), 1_000_000 - bytes);
    let q = c.expect("SITE QUOTA", 200).to_string();
    assert!(
        q.contains(&format!("Bytes: {bytes} used of 1000000")),
        "{q}"
    );
    assert!(q.contains("Files: 2 used of 50"), "{q}");
    let st = c.expect("STAT", 211).to_string();
    assert!(st.contains(&format!("Bytes: {bytes} used")), "{st}");
    assert_eq!(c.upload("STOR c.bin", &[0u8; 5_000]).code().as_u16(), 226);
    assert_eq!(avbl(&mut c), 1_000_000 - rig.stored().0);
    // A file stored behind the server's back shows after the rescan interval.
    rig.put("outside.bin", &[0u8; 40_000]);
    let want = 1_000_000 - rig.stored().0;
    eventually("AVBL sees the outside file", || avbl(&mut c) == want);
    let q = c.expect("SITE QUOTA", 200).to_string();
    assert!(q.contains("Files: 4 used of 50"), "{q}");
}

fn avbl_without_a_quota_answers_the_free_space(kind: Kind) {
    let rig = Rig::alice(kind, Limits::default());
    rig.put("a.bin", &[0u8; 1_000]);
    let mut c = rig.login();
    let n = avbl(&mut c);
    match kind {
        Kind::Mem => assert_eq!(n, MEM_CAP - 1_000),
        Kind::Fs => assert!(n > 0),
    }
    c.expect("AVBL a.bin", 550);
    c.expect("AVBL nowhere", 550);
    let feat = c.expect("FEAT", 211).to_string();
    assert!(feat.lines().any(|l| l.trim() == "AVBL"), "{feat}");
    assert!(c.expect("SITE QUOTA", 200).to_string().contains("No quota"));
}

/// Downloads `rel` and returns its length.
fn download_len(c: &mut Ctl, rel: &str) -> usize {
    let (data, r) = c.download(&format!("RETR {rel}"));
    assert_eq!(r.code().as_u16(), 226, "{r}");
    data.len()
}

const MB: u64 = 1_000_000;

fn a_4mb_download_limited_to_1mb_per_second_takes_at_least_3_5_s(kind: Kind) {
    let limits = Limits {
        download_rate: rate(MB),
        ..Limits::default()
    };
    let rig = Rig::alice(kind, limits);
    rig.put("four.bin", &vec![9u8; 4 * MB as usize]);
    let mut c = rig.login();
    let started = Instant::now();
    assert_eq!(download_len(&mut c, "four.bin"), 4 * MB as usize);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(3_500), "{took:?}");
}

fn two_sessions_of_one_user_share_the_download_limit(kind: Kind) {
    let limits = Limits {
        download_rate: rate(MB),
        ..Limits::default()
    };
    let rig = Rig::alice(kind, limits);
    rig.put("two.bin", &vec![9u8; 2 * MB as usize]);
    let (mut a, mut b) = (rig.login(), rig.login());
    let started = Instant::now();
    std::thread::scope(|s| {
        let one = s.spawn(|| download_len(&mut a, "two.bin"));
        assert_eq!(download_len(&mut b, "two.bin"), 2 * MB as usize);
        assert_eq!(one.join().unwrap(), 2 * MB as usize);
    });
    // 4 MB together at 1 MB/s.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(3_500), "{took:?}");
}

fn an_upload_limited_to_1mb_per_second_takes_at_least_1_5_s(kind: Kind) {
    let limits = Limits {
        upload_rate: rate(MB),
        ..Limits::default()
    };
    let rig = Rig::alice(kind, limits);
    let mut c = rig.login();
    let payload = vec![4u8; 2 * MB as usize];
    let started = Instant::now();
    assert_eq!(c.upload("STOR up.bin", &payload).code().as_u16(), 226);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1_500), "{took:?}");
    assert_eq!(rig.stored(), (2 * MB, 1));
}

fn the_server_wide_cap_holds_for_all_users_together(kind: Kind) {
    let users = [("alice", Limits::default()), ("bob", Limits::default())];
    let rig = Rig::start(kind, &users, |c| c.download_rate = rate(MB));
    rig.put("two.bin", &vec![9u8; 2 * MB as usize]);
    let (mut a, mut b) = (rig.login_as("alice"), rig.login_as("bob"));
    let started = Instant::now();
    std::thread::scope(|s| {
        let one = s.spawn(|| download_len(&mut a, "two.bin"));
        assert_eq!(download_len(&mut b, "two.bin"), 2 * MB as usize);
        assert_eq!(one.join().unwrap(), 2 * MB as usize);
    });
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(3_500), "{took:?}");
}

/// Each rule as one test per backend: `fs::name` and `memory::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod fs {
            $( #[test] fn $name() { super::$name(super::Kind::Fs) } )*
        }
        mod memory {
            $( #[test] fn $name() { super::$name(super::Kind::Mem) } )*
        }
    };
}

on_both_backends!(
    an_upload_over_the_quota_gets_552_and_leaves_nothing,
    deletes_and_renames_give_the_space_back,
    avbl_and_site_quota_agree_with_the_disk,
    avbl_without_a_quota_answers_the_free_space,
    a_4mb_download_limited_to_1mb_per_second_takes_at_least_3_5_s,
    two_sessions_of_one_user_share_the_download_limit,
    an_upload_limited_to_1mb_per_second_takes_at_least_1_5_s,
    the_server_wide_cap_holds_for_all_users_together,
);

#[test]
fn a_full_quota_refuses_uploads_not_downloads() {
    // Reading needs no room: a full quota refuses uploads, not downloads.
    let rig = Rig::alice(Kind::Fs, quota(Some(10), None));
    rig.put("a.bin", &[0u8; 100]);
    let mut c = rig.login();
    assert_eq!(download_len(&mut c, "a.bin"), 100);
    let mut buf = Vec::new();
    let mut d = c.epsv();
    c.expect("LIST", 150);
    d.read_to_end(&mut buf).unwrap();
    c.expect_reply(226);
}
