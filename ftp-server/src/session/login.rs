//! Logging in and out: `USER`, `PASS`, `ACCT`, `REIN`, `QUIT`, `HOST`.

use ftp_proto::Secret;
use ftp_proto::{Reply, ReplyCode};

use super::{reply, Action, Handled, Login, Session};
use crate::access::{IpNet, Offence};
use crate::auth::{Account, AuthError};
use crate::vpath::VPath;

impl Session {
    /// `USER name`: starts a login (and forgets the previous one's transfer state).
    pub(super) fn user_cmd(&mut self, name: String) -> Handled {
        if !self.tls_active && self.cfg.tls.as_ref().is_some_and(|t| t.require_tls_login) {
            return Err(reply(
                ReplyCode::NOT_LOGGED_IN,
                "TLS required: use AUTH TLS before logging in.",
            ));
        }
        self.login = Login::AwaitPass(name);
        self.tag = super::tag_with_user(&self.tag, None);
        self.reset_transfer_state();
        Ok(reply(
            ReplyCode::NEED_PASSWORD,
            "Please specify the password.",
        ))
    }

    /// `PASS password`: checks the password of the user `USER` named. A failure answers
    /// after the configured delay ([`Action::Delay`]) and closes the connection after the
    /// configured number of failures.
    pub(super) async fn pass(&mut self, pw: Secret<Vec<u8>>) -> Handled {
        match self.login {
            Login::AwaitUser => {
                return Err(reply(ReplyCode::BAD_SEQUENCE, "Login with USER first."))
            }
            Login::LoggedIn(..) => {
                return Err(reply(ReplyCode::BAD_SEQUENCE, "Already logged in."))
            }
            Login::AwaitPass(_) => {}
        }
        let Login::AwaitPass(name) = std::mem::replace(&mut self.login, Login::AwaitUser) else {
            return Err(reply(ReplyCode::BAD_SEQUENCE, "Login with USER first."));
        };
        let offence = match self.auth.authenticate(&name, &pw).await {
            Ok(acct) => return self.admit(acct),
            Err(AuthError::UnknownUser) => Offence::UnknownUser,
            Err(_) => Offence::WrongPassword,
        };
        log::warn!(event = "login", result = "failed", user = name.as_str(); "{} login failed for user {name:?}", self.tag);
        Err(self.login_failed(offence))
    }

    /// A login whose password was right, if the account's rules let it in: from an address
    /// of its `allowed_ips` (else refused as a wrong password would be, so the reply tells
    /// nothing about the password), over TLS when it requires TLS, within its
    /// `max_sessions`.
    fn admit(&mut self, acct: Account) -> Handled {
        let rules = acct.rules.clone();
        if let Some(nets) = &rules.allowed_ips {
            if !IpNet::any_contains(nets, self.peer.ip()) {
                log::warn!(
                    "{} login refused for user {}: not from its allowed_ips",
                    self.tag,
                    acct.name
                );
                return Err(self.login_failed(Offence::WrongPassword));
            }
        }
        if rules.require_tls == Some(true) && !self.tls_active {
            return Err(reply(
                ReplyCode::NOT_LOGGED_IN,
                "TLS required for this user: use AUTH TLS before logging in.",
            ));
        }
        let Some(slot) = self.access.user_slot(&acct.name, rules.max_sessions) else {
            log::warn!(
                "{} login refused for user {}: max_sessions",
                self.tag,
                acct.name
            );
            self.offend(Offence::OverLimit);
            return Err(reply(
                ReplyCode::NOT_LOGGED_IN,
                "Too many sessions for this user; try again later.",
            ));
        };
        log::info!(event = "login", result = "ok", user = acct.name.as_str(); "{} login ok: user {}", self.tag, acct.name);
        self.tag = super::tag_with_user(&self.tag, Some(&acct.name));
        self.login = Login::LoggedIn(acct, slot);
        self.cwd = VPath::root();
        Ok(reply(ReplyCode::LOGGED_IN, "Login successful."))
    }

    /// The answer to a failed login, after the configured delay: `530`, and the connection
    /// closed after the configured number of failures or when the failure bans the address.
    fn login_failed(&mut self, offence: Offence) -> Action {
        self.failures += 1;
        let banned = self.offend(offence);
        let r = Reply::new(ReplyCode::NOT_LOGGED_IN, "Login incorrect.");
        let answer = if banned || self.failures >= self.cfg.max_login_failures.max(1) {
            Action::Close(r)
        } else {
            Action::Reply(r)
        };
        Action::after(self.cfg.login_failure_delay, answer)
    }

    /// `REIN`: back to before `USER`, with the security state of a new connection.
    pub(super) fn rein(&mut self) -> Handled {
        self.login = Login::AwaitUser;
        self.tag = super::tag_with_user(&self.tag, None);
        self.reset_transfer_state();
        self.epsv_all = false;
        // RFC 2228/4217: REIN also resets the security state. PBSZ and PROT return
        // to their defaults; an `AUTH TLS` control connection returns to plain text
        // (implicit FTPS keeps its TLS: the port promises it).
        self.pbsz = false;
        self.prot_private = false;
        self.tls_cleared = false;
        let r = Reply::new(ReplyCode::SERVICE_READY, "Service ready for new user.");
        if self.tls_active && !self.tls_implicit {
            self.tls_active = false;
            Ok(Action::EndTls {
                reply: r,
                reinitialize: true,
            })
        } else {
            Ok(Action::Reinitialize(r))
        }
    }

    /// `HOST name` (RFC 7151): accepted before `USER` only; one virtual host serves all.
    pub(super) fn host(&self) -> Handled {
        if matches!(self.login, Login::AwaitUser) {
            Ok(reply(ReplyCode::SERVICE_READY, "Host accepted."))
        } else {
            Err(reply(
                ReplyCode::BAD_SEQUENCE,
                "HOST must come before USER.",
            ))
        }
    }

    /// The reply to `QUIT`, now or after the running transfer.
    pub fn goodbye(&self) -> Reply {
        Reply::new(ReplyCode::CLOSING, "Goodbye.")
    }
}
