//! Drives a whole session state machine with arbitrary control input, against an in-memory
//! storage with a size limit: no socket, no filesystem.
//!
//! Invariants: nothing panics; every reply re-decodes to itself; the working directory stays
//! a normalised absolute path; storage never exceeds its limit; transfers run to completion
//! with input-derived upload data.
#![no_main]

use std::sync::Arc;

use ftp_proto::line::LineDecoder;
use ftp_proto::{Command, ParseError, Reply, Secret};
use ftp_server::auth::AuthError;
use ftp_server::session::{Action, Session, TransferData};
use ftp_server::storage::{BoxFuture, MemStorage};
use ftp_server::vpath::VPath;
use ftp_server::{Account, Authenticator, Config, Permissions};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use libfuzzer_sys::fuzz_target;

const LIMIT: u64 = 64 * 1024;

#[derive(Debug)]
struct OneUser(MemStorage);

impl Authenticator for OneUser {
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        password: &'a Secret<Vec<u8>>,
    ) -> BoxFuture<'a, Result<Account, AuthError>> {
        let ok = user == "alice" && password.expose() == b"secret";
        let storage = self.0.clone();
        Box::pin(async move {
            if ok {
                Ok(Account {
                    name: "alice".into(),
                    storage: Arc::new(storage),
                    permissions: Permissions::ALL,
                })
            } else {
                Err(AuthError::InvalidCredentials)
            }
        })
    }
}

fn check_reply(r: &Reply) {
    let wire = r.to_bytes();
    let (back, used) = Reply::decode(&wire).unwrap().unwrap();
    assert_eq!(used, wire.len());
    assert_eq!(&back, r);
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else {
        return;
    };
    let mem = MemStorage::new(LIMIT);
    let vp = |s: &str| VPath::root().resolve(s.as_bytes()).unwrap();
    mem.insert_file(&vp("f"), b"line one\nline two\n".to_vec()).unwrap();
    futures_lite::future::block_on(async {
        use ftp_server::storage::Storage;
        mem.mkdir(&vp("d")).await.unwrap();
    });
    let cfg = Config {
        login_failure_delay: std::time::Duration::ZERO,
        max_login_failures: 1000,
        ..Config::default()
    };
    let mut session = Session::new(
        Arc::new(cfg),
        Arc::new(OneUser(mem.clone())),
        "127.0.0.1:40000".parse().unwrap(),
        "127.0.0.1:21".parse().unwrap(),
    );
    let mut script = Vec::new();
    if flags & 1 == 1 {
        script.extend_from_slice(b"USER alice\r\nPASS secret\r\n");
    }
    script.extend_from_slice(input);
    futures_lite::future::block_on(async {
        let mut dec = LineDecoder::new(512);
        let mut rest = &script[..];
        for _ in 0..256 {
            if rest.is_empty() {
                break;
            }
            let (used, line) = dec.decode(rest);
            rest = &rest[used..];
            let Some(line) = line else { continue };
            let cmd = line
                .map_err(ParseError::from)
                .and_then(|l| Command::parse(&l));
            match session.handle(cmd).await {
                Action::Reply(r) | Action::Active(_, r) | Action::Reinitialize(r) => {
                    check_reply(&r)
                }
                Action::Close(r) => {
                    check_reply(&r);
                    break;
                }
                Action::Passive { .. } => {}
                Action::Transfer(t) => {
                    check_reply(&t.opening);
                    check_reply(&t.done);
                    match t.data {
                        TransferData::Send(mut r) => {
                            let mut sink = Vec::new();
                            r.read_to_end(&mut sink).await.unwrap();
                            assert!(sink.len() as u64 <= LIMIT);
                        }
                        TransferData::Receive(mut up) => {
                            // Upload the next up-to-1 KiB of input as file data.
                            let n = rest.len().min(1024);
                            if up.write_all(&rest[..n]).await.is_ok() && flags & 2 == 0 {
                                let _ = up.close().await;
                                let _ = up.commit().await;
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
            let cwd = session.cwd().as_bytes();
            assert!(cwd.starts_with(b"/") && !cwd.windows(2).any(|w| w == b"//"));
            assert!(mem.used() <= LIMIT);
        }
    });
});
