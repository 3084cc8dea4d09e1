//! The session code works unchanged over another storage backend and authenticator.

mod common;

use std::sync::Arc;

use common::*;
use ftp_proto::Secret;
use ftp_server::auth::AuthError;
use ftp_server::storage::{BoxFuture, MemStorage};
use ftp_server::vpath::VPath;
use ftp_server::{Account, Authenticator, Config, Permissions, Server};

#[derive(Debug)]
struct OneUser(MemStorage);

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
                Ok(Account {
                    name: USER.to_string(),
                    storage: Arc::new(storage),
                    permissions: Permissions::ALL,
                })
            } else {
                Err(AuthError::InvalidCredentials)
            }
        })
    }
}

#[test]
fn serves_an_in_memory_tree_through_a_custom_authenticator() {
    let mem = MemStorage::new(1 << 20);
    let vp = |s: &str| VPath::root().resolve(s.as_bytes()).unwrap();
    mem.insert_file(&vp("hello.txt"), b"from memory".to_vec())
        .unwrap();
    let cfg = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..Config::default()
    };
    let server = smol::block_on(Server::bind_with(cfg, Arc::new(OneUser(mem.clone())))).unwrap();
    let addr = server.local_addrs()[0];
    let stop = server.shutdown_handle();
    let t = std::thread::spawn(move || smol::block_on(server.run()));

    let mut c = Ctl::connect(addr);
    c.login(USER, PASS);
    assert_eq!(c.download("RETR hello.txt").0, b"from memory");
    c.expect("MKD dir", 257);
    c.upload("STOR dir/up.bin", &[7u8; 5000]);
    c.expect("REST 4000", 350);
    c.upload("STOR dir/up.bin", b"tail");
    assert_eq!(mem.file(&vp("dir/up.bin")).unwrap().len(), 4004);
    c.expect("RNFR dir/up.bin", 350);
    c.expect("RNTO moved.bin", 250);
    assert_eq!(c.text("NLST"), "dir\r\nhello.txt\r\nmoved.bin\r\n");
    assert!(c.text("MLSD").contains("type=file;size=4004;"));
    assert_eq!(c.expect("SIZE moved.bin", 213).text(), "4004");
    c.expect("DELE moved.bin", 250);
    c.expect("RMD dir", 250);
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
