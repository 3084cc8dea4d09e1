//! The per-connection protocol state machine, with no sockets: a [`Command`] goes in, an
//! [`Action`] comes out. The connection task drives it over a real connection; a fuzz target or a
//! unit test can drive it directly.
//!
//! The session owns login state, the working directory, `TYPE`, `REST`, `RNFR`, `EPSV ALL`
//! and the `OPTS MLST` selection. It talks to storage (async) but never to the network nor
//! to a clock: data connections are requested through [`Action::Passive`],
//! [`Action::Active`] and [`Action::Transfer`], waits through [`Action::Delay`], and what
//! the connection observes (a transfer's end, a command during a transfer, the idle
//! deadline, a shutdown) comes in through the methods of `events`, which choose the replies.
//!
//! Layout: this module has [`Session`], [`Session::handle`] (the login and `PROT P` gates,
//! and what the command takes from `Pending`) and the dispatch table `Session::dispatch`;
//! each command family has its handlers in a module of its own: `login`, `tls`, `navigate`,
//! `params`, `transfer`, `list`, `info`, `limits`, `digest`, `site` (and `copy`, its `CPFR`/`CPTO`/`COPY`). A new command is one arm in the table and
//! one handler in its family's module (see ARCHITECTURE.md, "Where to add a command").

use std::net::SocketAddr;
use std::sync::Arc;

use ftp_proto::facts::FactSet;
use ftp_proto::hash::HashAlgorithm;
use ftp_proto::{Command, ParseError, Reply, ReplyCode, Verb};

use crate::access::{Access, Offence, UserSlot};
use crate::auth::{Account, Authenticator};
use crate::config::Config;
use crate::storage::StorageError;
use crate::vpath::{VPath, VPathError};

mod action;
mod copy;
mod digest;
mod events;
mod info;
mod limits;
mod list;
mod login;
mod navigate;
mod params;
mod pending;
mod site;
mod tls;
mod transfer;

pub use action::{Action, Job, Transfer, TransferData};
pub use events::{Busy, Progress, TransferEnd};
use pending::{Pending, Source};

enum Login {
    AwaitUser,
    AwaitPass(String),
    /// Logged in, holding one of the user's `max_sessions` (freed when dropped).
    LoggedIn(Account, #[allow(dead_code)] UserSlot),
}

/// One control connection's protocol state.
pub struct Session {
    cfg: Arc<Config>,
    auth: Arc<dyn Authenticator>,
    /// Bans and open sessions per user, shared by the server's sessions.
    access: Arc<Access>,
    peer: SocketAddr,
    local: SocketAddr,
    login: Login,
    failures: u32,
    cwd: VPath,
    ascii: bool,
    /// `REST` and `RNFR`: what a command leaves for the next ones.
    pending: Pending,
    epsv_all: bool,
    mlst: FactSet,
    tag: String,
    /// The control connection is protected by TLS.
    tls_active: bool,
    /// `PBSZ` was given (after `AUTH`).
    pbsz: bool,
    /// `PROT P` is in force: data connections use TLS.
    prot_private: bool,
    /// TLS came with the connection (implicit FTPS): `CCC` and `REIN` keep it.
    tls_implicit: bool,
    /// `CCC` ended TLS on the control connection; `PBSZ`/`PROT` keep working.
    tls_cleared: bool,
    /// The server-wide bandwidth caps.
    caps: crate::policy::rate::Caps,
    /// The algorithm of `HASH` (`OPTS HASH`).
    hash_alg: HashAlgorithm,
    /// The server-wide slots for computing digests (`max_concurrent_hashes`).
    hash_slots: Arc<async_lock::Semaphore>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .field("user", &self.user())
            .field("cwd", &self.cwd)
            .finish_non_exhaustive()
    }
}

fn reply(code: ReplyCode, text: impl AsRef<[u8]>) -> Action {
    Action::Reply(Reply::new(code, text))
}

/// The reply for a failed storage operation ([`StorageError::reply`]); failures the client
/// cannot see the cause of are logged.
pub fn storage_error_reply(e: &StorageError) -> Reply {
    match e {
        StorageError::NameTooLong { .. } => log::info!("refused: {e}"),
        StorageError::Other(_) => log::warn!("{e}"),
        _ => {}
    }
    let (code, text) = e.reply();
    Reply::new(code, text.as_ref())
}

/// A handler's answer: `Ok` when the command did what it asked, `Err` with the reply that
/// refuses it or reports its failure, so that `?` ends a handler at the first problem.
type Handled = Result<Action, Action>;

/// A failed storage operation answers with its reply ([`storage_error_reply`]).
impl From<StorageError> for Action {
    fn from(e: StorageError) -> Action {
        Action::Reply(storage_error_reply(&e))
    }
}

/// What a command runs with besides the session: the account (after login) and what it
/// took from [`Pending`].
struct Context {
    acct: Option<Account>,
    /// The `REST` offset for a transfer command, else 0.
    rest: u64,
    /// What the previous command left for this one to complete (`RNFR`).
    source: Option<Source>,
    /// The size an `ALLO` announced for this upload.
    allo: Option<u64>,
}

impl Context {
    /// The logged-in account (`530` before login, which `Session::handle` already refused).
    fn account(&self) -> Result<&Account, Action> {
        self.acct
            .as_ref()
            .ok_or_else(|| reply(ReplyCode::NOT_LOGGED_IN, "Please login with USER and PASS."))
    }
}

/// `Ok` when the account has the permission, else the `550` refusal.
fn allow(permitted: bool) -> Result<(), Action> {
    if permitted {
        Ok(())
    } else {
        Err(denied())
    }
}

fn denied() -> Action {
    reply(ReplyCode::FILE_NOT_AVAILABLE, "Permission denied.")
}

/// Verbs a client may use before logging in.
fn allowed_before_login(v: Verb) -> bool {
    matches!(
        v,
        Verb::User
            | Verb::Pass
            | Verb::Auth
            | Verb::Pbsz
            | Verb::Prot
            | Verb::Ccc
            | Verb::Feat
            | Verb::Syst
            | Verb::Help
            | Verb::Quit
            | Verb::Noop
            | Verb::Host
            | Verb::Opts
    )
}

impl Session {
    /// A new session for a client at `peer` that connected to `local`.
    pub fn new(
        cfg: Arc<Config>,
        auth: Arc<dyn Authenticator>,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Session {
        let cfg_hashes = cfg.max_concurrent_hashes;
        Session {
            cfg,
            auth,
            access: Arc::new(Access::default()),
            peer,
            local,
            login: Login::AwaitUser,
            failures: 0,
            cwd: VPath::root(),
            ascii: false,
            pending: Pending::default(),
            epsv_all: false,
            mlst: FactSet::ALL,
            tag: format!("[{peer}]"),
            tls_active: false,
            pbsz: false,
            prot_private: false,
            tls_implicit: false,
            tls_cleared: false,
            caps: crate::policy::rate::Caps::default(),
            hash_alg: HashAlgorithm::Sha256,
            hash_slots: Arc::new(async_lock::Semaphore::new(cfg_hashes)),
        }
    }

    /// Sets the server-wide bandwidth caps this session's transfers share with all others.
    pub fn set_rate_caps(&mut self, caps: crate::policy::rate::Caps) {
        self.caps = caps;
    }

    /// Shares the server-wide digest slots (`max_concurrent_hashes`) with this session; a
    /// session made alone has slots of its own.
    pub fn set_hash_slots(&mut self, slots: Arc<async_lock::Semaphore>) {
        self.hash_slots = slots;
    }

    /// Shares `access` (the server's bans and per-user session counts) instead of the
    /// session's own.
    pub fn set_access(&mut self, access: Arc<Access>) {
        self.access = access;
    }

    /// Adds `offence` to the client address's score; true when that bans it.
    fn offend(&self, offence: Offence) -> bool {
        self.access.offend(self.peer.ip(), offence, &self.cfg)
    }

    /// Sets the prefix of this session's log lines (e.g. `[s12 127.0.0.1:5555]`; after a
    /// login the session adds the user, `[s12 127.0.0.1:5555 alice]`).
    pub fn set_log_tag(&mut self, tag: String) {
        self.tag = tag;
    }

    /// The prefix of this session's log lines.
    pub fn log_tag(&self) -> &str {
        &self.tag
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The server address the client connected to.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Marks the control connection as protected (implicit FTPS, or after the `AUTH TLS`
    /// handshake).
    pub fn set_tls_active(&mut self) {
        self.tls_active = true;
    }

    /// Marks the control connection as implicit FTPS (TLS from the first byte): protected,
    /// and staying so (`CCC` is refused, `REIN` keeps TLS).
    pub fn set_tls_implicit(&mut self) {
        self.tls_active = true;
        self.tls_implicit = true;
    }

    /// Whether data connections must use TLS (`PROT P`).
    pub fn data_protected(&self) -> bool {
        self.prot_private
    }

    /// The `220` greeting.
    pub fn greeting(&self) -> Reply {
        Reply::new(ReplyCode::SERVICE_READY, &self.cfg.greeting)
    }

    /// The logged-in user's name.
    pub fn user(&self) -> Option<&str> {
        match &self.login {
            Login::LoggedIn(a, _) => Some(&a.name),
            _ => None,
        }
    }

    /// The working directory.
    pub fn cwd(&self) -> &VPath {
        &self.cwd
    }

    /// The configuration this session runs with (the server's when it connected: a reload
    /// changes only later sessions).
    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// Whether the control connection is protected by TLS now.
    pub fn tls_active(&self) -> bool {
        self.tls_active
    }

    fn account(&self) -> Option<&Account> {
        match &self.login {
            Login::LoggedIn(a, _) => Some(a),
            _ => None,
        }
    }

    fn path(&self, arg: &[u8]) -> Result<VPath, Action> {
        self.cwd.resolve(arg).map_err(|e| match e {
            VPathError::Nul => reply(ReplyCode::FILE_NAME_NOT_ALLOWED, "File name not allowed."),
            _ => reply(ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS, "Missing path."),
        })
    }

    /// The path the client named, or the working directory when it named none.
    fn path_or_cwd(&self, arg: Option<&[u8]>) -> Result<VPath, Action> {
        match arg {
            Some(a) => self.path(a),
            None => Ok(self.cwd.clone()),
        }
    }

    /// Handles one parsed control line.
    pub async fn handle(&mut self, cmd: Result<Command, ParseError>) -> Action {
        let cmd = match cmd {
            Ok(c) => c,
            Err(ParseError::Empty) => return reply(ReplyCode::SYNTAX_ERROR, "Empty command."),
            Err(e) => return reply(e.reply_code(), e.to_string()),
        };
        let verb = cmd.verb();
        // RNTO must immediately follow RNFR.
        let source = self.pending.source();
        let account = match &self.login {
            Login::LoggedIn(a, _) => Some(a.clone()),
            _ if allowed_before_login(verb) => None,
            _ => return reply(ReplyCode::NOT_LOGGED_IN, "Please login with USER and PASS."),
        };
        if let (Some(_), Some(t)) = (&account, &self.cfg.tls) {
            let transfer = matches!(
                verb,
                Verb::Retr
                    | Verb::Stor
                    | Verb::Stou
                    | Verb::Appe
                    | Verb::List
                    | Verb::Nlst
                    | Verb::Mlsd
            );
            if transfer && t.require_prot_p && !self.prot_private {
                return reply(
                    ReplyCode::PROT_NOT_ALLOWED,
                    "Data connections must be protected: use PBSZ 0 and PROT P.",
                );
            }
        }
        if matches!(source, Some(Source::Range { .. }))
            && matches!(verb, Verb::Retr | Verb::Stor | Verb::Appe | Verb::Stou)
        {
            return reply(
                ReplyCode::NOT_IMPLEMENTED_FOR_PARAMETER,
                "RANG applies to HASH only; send RANG 1 0 to reset.",
            );
        }
        let rest = self.pending.rest_for(verb);
        let allo = self.pending.allo_for(verb);
        let cx = Context {
            acct: account,
            rest,
            source,
            allo,
        };
        match self.dispatch(cmd, cx).await {
            Ok(a) | Err(a) => a,
        }
    }

    /// The dispatch table: which handler answers which command, by family (one module
    /// each). [`handle`](Self::handle) has already refused what needs a login, and taken what
    /// the command may use from [`Pending`].
    async fn dispatch(&mut self, cmd: Command, cx: Context) -> Handled {
        match cmd {
            // login.rs
            Command::User(name) => self.user_cmd(name),
            Command::Pass(pw) => self.pass(pw).await,
            Command::Acct(_) => Ok(reply(ReplyCode::SUPERFLUOUS, "ACCT not needed.")),
            Command::Rein => self.rein(),
            Command::Quit => Ok(Action::Close(self.goodbye())),
            Command::Host(_) => self.host(),
            // tls.rs
            Command::Auth(_) | Command::Pbsz(_) | Command::Prot(_) | Command::Ccc => {
                Ok(self.tls(cmd))
            }
            // navigate.rs
            Command::Pwd => self.pwd(),
            Command::Cwd(arg) => self.cwd_cmd(&arg, &cx).await,
            Command::Cdup => self.cdup(&cx).await,
            Command::Mkd(arg) => self.mkd(&arg, &cx).await,
            Command::Rmd(arg) => self.rmd(&arg, &cx).await,
            Command::Dele(arg) => self.dele(&arg, &cx).await,
            Command::Rnfr(arg) => self.rnfr(&arg, &cx).await,
            Command::Rnto(arg) => self.rnto(&arg, &cx).await,
            // params.rs
            Command::Type(t) => self.type_cmd(t),
            Command::Mode(m) => self.mode(m),
            Command::Stru(s) => self.stru(s),
            Command::Port(a) => self.active(SocketAddr::V4(a), false),
            Command::Eprt(a) => self.active(a, true),
            Command::Pasv => self.pasv(),
            Command::Epsv(arg) => self.epsv(arg),
            // transfer.rs
            Command::Rest(n) => self.rest_cmd(n),
            Command::Retr(arg) => self.retr(&arg, &cx).await,
            Command::Stor(arg) => self.stor(&arg, &cx).await,
            Command::Appe(arg) => self.appe(&arg, &cx).await,
            Command::Stou(arg) => self.stou(arg.as_deref(), &cx).await,
            Command::Abor => Ok(reply(ReplyCode::DATA_OPEN, "No transfer to abort.")),
            // list.rs
            Command::List(arg) => self.list(arg.as_deref(), &cx).await,
            Command::Nlst(arg) => self.nlst(arg.as_deref(), &cx).await,
            Command::Mlsd(arg) => self.mlsd(arg.as_deref(), &cx).await,
            // info.rs
            Command::Feat => Ok(Action::Reply(self.features().to_reply())),
            Command::Syst => Ok(reply(ReplyCode::SYSTEM_TYPE, "UNIX Type: L8")),
            Command::Noop => Ok(Action::Reply(events::noop_reply())),
            Command::Help(_) => Ok(Action::Reply(self.help())),
            Command::Opts { name, value } => Ok(self.opts(&name, value.as_deref())),
            Command::Size(arg) => self.size(&arg, &cx).await,
            Command::Mdtm(arg) => self.mdtm(&arg, &cx).await,
            Command::Mfmt { time, path } => self.mfmt(time, &path, &cx).await,
            Command::Mlst(arg) => self.mlst(arg.as_deref(), &cx).await,
            Command::Stat(arg) => self.stat(arg.as_deref(), &cx).await,
            Command::Lang(tag) => self.lang(tag.as_deref()),
            // limits.rs
            Command::Allo { size, .. } => self.allo(size, &cx).await,
            Command::Avbl(arg) => self.avbl(arg.as_deref(), &cx).await,
            // digest.rs
            Command::Hash(arg) => self.hash(&arg, &cx).await,
            Command::Rang { start, end } => self.rang(start, end),
            Command::LegacyHash {
                algorithm,
                path,
                range,
            } => self.legacy_hash(algorithm, &path, range, &cx).await,
            // site.rs (copy.rs: CPFR, CPTO, COPY)
            Command::Site(arg) => self.site(&arg, &cx).await,
            // SMNT, and the RFC 2228 commands of other security mechanisms.
            other => Err(reply(
                ReplyCode::NOT_IMPLEMENTED,
                format!("{} not implemented.", other.verb().as_str()),
            )),
        }
    }

    fn reset_transfer_state(&mut self) {
        self.cwd = VPath::root();
        self.ascii = false;
        self.pending = Pending::default();
        self.mlst = FactSet::ALL;
        self.hash_alg = HashAlgorithm::Sha256;
    }
}

#[cfg(test)]
mod tests;

/// The log tag `tag` (`[s12 127.0.0.1:5555]`, with or without a user) naming `user`, or no
/// user: `[s12 127.0.0.1:5555 alice]`. The name is percent-encoded outside letters, digits
/// and `._@+-`, so that the tag stays one word and a log reader can split it (the JSON log
/// decodes it into `user`).
///
/// ```text
/// [s12 127.0.0.1:5555]  + "alice"    →  [s12 127.0.0.1:5555 alice]
/// [s12 127.0.0.1:5555 alice]  + "b] c"  →  [s12 127.0.0.1:5555 b%5D%20c]
/// ```
pub(crate) fn tag_with_user(tag: &str, user: Option<&str>) -> String {
    let inner = tag.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
    let Some(inner) = inner else {
        return tag.to_string();
    };
    let base: Vec<&str> = inner.splitn(3, ' ').take(2).collect();
    let mut out = format!("[{}", base.join(" "));
    if let Some(u) = user {
        out.push(' ');
        for b in u.bytes() {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'_' | b'@' | b'+' | b'-' => {
                    out.push(char::from(b))
                }
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    out.push(']');
    out
}

/// What a session's log line starts with, split ([`tag_with_user`] made it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTag<'a> {
    /// The session number (`12` of `s12`).
    pub session: u64,
    /// The client's address.
    pub peer: &'a str,
    /// The logged-in user, decoded.
    pub user: Option<String>,
    /// The rest of the line.
    pub rest: &'a str,
}

/// Splits `[s12 127.0.0.1:5555 alice] rest` (the user optional) into its parts.
///
/// ```
/// use ftp_server::session::parse_log_tag;
/// let t = parse_log_tag("[s12 127.0.0.1:5555 b%5D%20c] RETR x").unwrap();
/// assert_eq!((t.session, t.peer, t.user.as_deref(), t.rest), (12, "127.0.0.1:5555", Some("b] c"), "RETR x"));
/// assert_eq!(parse_log_tag("[s3 [::1]:21] hello").unwrap().user, None);
/// assert!(parse_log_tag("no tag").is_none());
/// ```
pub fn parse_log_tag(msg: &str) -> Option<LogTag<'_>> {
    let inner = msg.strip_prefix("[s")?;
    let (tag, rest) = inner.split_once("] ")?;
    let mut words = tag.split(' ');
    let session = words.next()?.parse().ok()?;
    let peer = words.next()?;
    let user = words.next().map(|u| {
        let (mut out, b) = (Vec::new(), u.as_bytes());
        let mut i = 0;
        while i < b.len() {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'%', Some(v)) => {
                    out.push(v);
                    i += 3;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    Some(LogTag {
        session,
        peer,
        user,
        rest,
    })
}
