//! What the session fuzz targets share: one user over a given storage, a session for it, and
//! the check every reply must pass.

use std::sync::Arc;

use ftp_proto::line::LineDecoder;
use ftp_proto::{Command, ParseError, Reply, Secret};
use ftp_server::auth::AuthError;
use ftp_server::session::{Action, Session, Transfer, TransferEnd};
use ftp_server::storage::{BoxFuture, Storage};
use ftp_server::{Account, Authenticator, Config, Permissions};

/// alice/secret with every permission on one storage.
#[derive(Debug)]
pub struct OneUser(pub Arc<dyn Storage>);

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
                Ok(Account::new("alice", storage, Permissions::ALL))
            } else {
                Err(AuthError::InvalidCredentials)
            }
        })
    }
}

/// A session of alice's on `storage`, without login delays; and its control input: `input`,
/// after a login when `login`.
pub fn session(storage: Arc<dyn Storage>, login: bool, input: &[u8]) -> (Session, Vec<u8>) {
    let cfg = Config {
        login_failure_delay: std::time::Duration::ZERO,
        max_login_failures: 1000,
        ..Config::default()
    };
    let session = Session::new(
        Arc::new(cfg),
        Arc::new(OneUser(storage)),
        "127.0.0.1:40000".parse().unwrap(),
        "127.0.0.1:21".parse().unwrap(),
    );
    let mut script = Vec::new();
    if login {
        script.extend_from_slice(b"USER alice\r\nPASS secret\r\n");
    }
    script.extend_from_slice(input);
    (session, script)
}

/// Every reply re-encodes to bytes that decode to the same reply, using all of them.
pub fn check_reply(r: &Reply) {
    let wire = r.to_bytes();
    let (back, rest) = Reply::decode(&wire).unwrap().unwrap();
    assert!(rest.is_empty());
    assert_eq!(&back, r);
}

/// The working directory is a normalised absolute path.
pub fn check_cwd(session: &Session) {
    let cwd = session.cwd().as_bytes();
    assert!(cwd.starts_with(b"/") && !cwd.windows(2).any(|w| w == b"//"));
}

/// The control input, cut into commands as the server's reader does.
pub struct Input<'a> {
    dec: LineDecoder,
    rest: &'a [u8],
    steps: usize,
}

impl<'a> Input<'a> {
    pub fn new(script: &'a [u8]) -> Input<'a> {
        Input {
            dec: LineDecoder::new(512),
            rest: script,
            steps: 0,
        }
    }

    /// The next command (or why it does not parse); at most 256 decoding steps in all.
    pub fn next_command(&mut self) -> Option<Result<Command, ParseError>> {
        while self.steps < 256 && !self.rest.is_empty() {
            self.steps += 1;
            let line;
            (line, self.rest) = self.dec.decode(self.rest);
            if let Some(line) = line {
                let cmd = line.map_err(ParseError::from);
                return Some(cmd.and_then(|l| Command::parse(&l)));
            }
        }
        None
    }

    /// What is left of the input (uploads take their data from it).
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

/// Hands `cmd` to the session and checks its replies: `None` once the session closes,
/// else the transfer it started, if any.
pub async fn step(
    session: &mut Session,
    cmd: Result<Command, ParseError>,
) -> Option<Option<Transfer>> {
    match session.handle(cmd).await {
        Action::Reply(r) | Action::Active(_, r) | Action::Reinitialize(r) => check_reply(&r),
        Action::Close(r) => {
            check_reply(&r);
            return None;
        }
        Action::Transfer(t) => {
            check_reply(&t.opening);
            check_reply(&session.transfer_ended(&TransferEnd::Done(0)));
            return Some(Some(t));
        }
        Action::Job(j) => check_reply(&j.work.await),
        _ => {}
    }
    Some(None)
}
