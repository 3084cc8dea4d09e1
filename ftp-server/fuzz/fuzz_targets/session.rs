//! Drives a whole session state machine with arbitrary control input, against an in-memory
//! storage with a size limit: no socket, no filesystem.
//!
//! Invariants: nothing panics; every reply re-decodes to itself; the working directory stays
//! a normalised absolute path; storage never exceeds its limit; transfers run to completion
//! with input-derived upload data.
#![no_main]

use std::sync::Arc;

use ftp_server::session::TransferData;
use ftp_server::storage::MemStorage;
use ftp_server::vpath::VPath;
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use libfuzzer_sys::fuzz_target;

mod common;
use common::{check_cwd, step, Input};

const LIMIT: u64 = 64 * 1024;

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
    let (mut session, script) = common::session(Arc::new(mem.clone()), flags & 1 == 1, input);
    futures_lite::future::block_on(async {
        let mut input = Input::new(&script);
        while let Some(cmd) = input.next_command() {
            let Some(transfer) = step(&mut session, cmd).await else {
                break;
            };
            match transfer.map(|t| t.data) {
                Some(TransferData::Send(mut r)) => {
                    let mut sink = Vec::new();
                    r.read_to_end(&mut sink).await.unwrap();
                    assert!(sink.len() as u64 <= LIMIT);
                }
                Some(TransferData::Receive(mut up)) => {
                    // Upload the next up-to-1 KiB of input as file data.
                    let rest = input.rest();
                    let n = rest.len().min(1024);
                    if up.write_all(&rest[..n]).await.is_ok() && flags & 2 == 0 {
                        let _ = up.close().await;
                        let _ = up.commit().await;
                    }
                }
                _ => {}
            }
            check_cwd(&session);
            assert!(mem.used() <= LIMIT);
        }
    });
});
