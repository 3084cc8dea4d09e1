//! Security on the control and data connections (RFC 2228, RFC 4217): `AUTH`, `PBSZ`,
//! `PROT`, `CCC`.

use ftp_proto::command::ProtLevel;
use ftp_proto::{Command, Reply, ReplyCode};

use super::{reply, Action, Session};

impl Session {
    /// `AUTH`, `PBSZ`, `PROT` and `CCC` (RFC 2228, RFC 4217).
    pub(super) fn tls(&mut self, cmd: Command) -> Action {
        if self.cfg.tls.is_none() {
            return match cmd {
                Command::Pbsz(_) | Command::Prot(_) => {
                    reply(ReplyCode::BAD_SEQUENCE, "PBSZ and PROT need AUTH first.")
                }
                _ => reply(ReplyCode::NOT_IMPLEMENTED, "TLS not configured."),
            };
        }
        match cmd {
            Command::Auth(mech) => {
                let mech = mech.to_ascii_uppercase();
                if !matches!(mech.as_str(), "TLS" | "SSL" | "TLS-C" | "TLS-P") {
                    return reply(
                        ReplyCode::NOT_IMPLEMENTED_FOR_PARAMETER,
                        "Unsupported mechanism: use AUTH TLS.",
                    );
                }
                if self.tls_active {
                    return reply(ReplyCode::BAD_SEQUENCE, "TLS is already active.");
                }
                self.tls_active = true;
                self.tls_cleared = false;
                self.pbsz = false;
                self.prot_private = false;
                Action::StartTls(Reply::new(
                    ReplyCode::AUTH_OK,
                    format!("AUTH {mech} successful."),
                ))
            }
            Command::Ccc => self.ccc(),
            _ if !self.tls_active && !self.tls_cleared => reply(
                ReplyCode::BAD_SEQUENCE,
                "Use AUTH TLS first (PBSZ and PROT need TLS).",
            ),
            Command::Pbsz(_) => {
                self.pbsz = true;
                reply(ReplyCode::OK, "PBSZ=0")
            }
            Command::Prot(_) if !self.pbsz => reply(ReplyCode::BAD_SEQUENCE, "Use PBSZ 0 first."),
            Command::Prot(ProtLevel::Private) => {
                self.prot_private = true;
                reply(ReplyCode::OK, "Protection level set to Private.")
            }
            Command::Prot(ProtLevel::Clear) => {
                if self.cfg.tls.as_ref().is_some_and(|t| t.require_prot_p) {
                    return reply(
                        ReplyCode::POLICY_DENIED,
                        "Data connections must be protected: use PROT P.",
                    );
                }
                self.prot_private = false;
                reply(ReplyCode::OK, "Protection level set to Clear.")
            }
            Command::Prot(_) => reply(
                ReplyCode::PROT_LEVEL_NOT_SUPPORTED,
                "Only PROT C and PROT P are supported.",
            ),
            _ => reply(
                ReplyCode::NOT_IMPLEMENTED_FOR_PARAMETER,
                "Unsupported security command.",
            ),
        }
    }

    /// `CCC` (RFC 2228, RFC 4217): only over TLS (`533` otherwise: the command itself was not
    /// protected), only when the configuration allows it (`534`), never on an implicit-FTPS
    /// connection (`534`), and only after login (`530`), so credentials are never sent in
    /// the clear because of it. Data protection (`PBSZ`/`PROT`) stays as negotiated.
    fn ccc(&mut self) -> Action {
        if !self.tls_active {
            return reply(
                ReplyCode::PROTECTION_DENIED,
                "CCC must be sent over TLS: use AUTH TLS first.",
            );
        }
        if !self.cfg.tls.as_ref().is_some_and(|t| t.allow_ccc) {
            return reply(
                ReplyCode::POLICY_DENIED,
                "CCC refused: the control connection stays protected.",
            );
        }
        if self.tls_implicit {
            return reply(
                ReplyCode::POLICY_DENIED,
                "CCC refused: implicit FTPS stays protected.",
            );
        }
        if self.account().is_none() {
            return reply(
                ReplyCode::NOT_LOGGED_IN,
                "Log in with USER and PASS before CCC.",
            );
        }
        self.tls_active = false;
        self.tls_cleared = true;
        Action::EndTls {
            reply: Reply::new(
                ReplyCode::OK,
                "CCC ok: the control connection continues in clear text.",
            ),
            reinitialize: false,
        }
    }
}
