//! Transfer parameters (RFC 959 §4.1.2, RFC 2428): `TYPE`, `MODE`, `STRU`, and where the next
//! data connection goes: `PORT`, `EPRT`, `PASV`, `EPSV`.

use std::net::{IpAddr, SocketAddr};

use ftp_proto::addr::AddressFamily;
use ftp_proto::command::{EpsvArg, Structure, TextFormat, TransferMode, TransferType};
use ftp_proto::{Reply, ReplyCode};

use super::{reply, Action, Handled, Session};
use crate::access::Offence;

fn canonical_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

impl Session {
    /// `TYPE A`, `TYPE I`, `TYPE L 8`.
    pub(super) fn type_cmd(&mut self, t: TransferType) -> Handled {
        match t {
            TransferType::Ascii(TextFormat::NonPrint) => {
                self.ascii = true;
                Ok(reply(ReplyCode::OK, "Switching to ASCII mode."))
            }
            TransferType::Image | TransferType::Local(8) => {
                self.ascii = false;
                Ok(reply(ReplyCode::OK, "Switching to Binary mode."))
            }
            _ => Err(reply(
                ReplyCode::NOT_IMPLEMENTED_FOR_PARAMETER,
                "Only TYPE A, I and L 8 are supported.",
            )),
        }
    }

    /// `MODE S` only.
    pub(super) fn mode(&self, m: TransferMode) -> Handled {
        match m {
            TransferMode::Stream => Ok(reply(ReplyCode::OK, "Mode set to S.")),
            _ => Err(reply(
                ReplyCode::NOT_IMPLEMENTED_FOR_PARAMETER,
                "Only MODE S is supported.",
            )),
        }
    }

    /// `STRU F` only.
    pub(super) fn stru(&self, s: Structure) -> Handled {
        match s {
            Structure::File => Ok(reply(ReplyCode::OK, "Structure set to F.")),
            _ => Err(reply(
                ReplyCode::NOT_IMPLEMENTED_FOR_PARAMETER,
                "Only STRU F is supported.",
            )),
        }
    }

    /// `PORT` (`extended` false) or `EPRT`: the next transfer connects to `addr`.
    pub(super) fn active(&self, addr: SocketAddr, extended: bool) -> Handled {
        self.check_data_addr(addr)?;
        let text = if extended {
            "EPRT command successful."
        } else {
            "PORT command successful."
        };
        Ok(Action::Active(addr, Reply::new(ReplyCode::OK, text)))
    }

    /// `PASV`: not after `EPSV ALL`.
    pub(super) fn pasv(&self) -> Handled {
        if self.epsv_all {
            return Err(reply(
                ReplyCode::BAD_SEQUENCE,
                "Only EPSV is allowed after EPSV ALL.",
            ));
        }
        Ok(Action::Passive { extended: false })
    }

    /// `EPSV`, `EPSV ALL`, `EPSV 1|2` (the family of the control connection only).
    pub(super) fn epsv(&mut self, arg: EpsvArg) -> Handled {
        let family = AddressFamily::of(canonical_ip(self.local.ip()));
        match arg {
            EpsvArg::All => {
                self.epsv_all = true;
                Ok(reply(ReplyCode::OK, "EPSV ALL ok."))
            }
            EpsvArg::Family(f) if f != family => Err(reply(
                ReplyCode::UNSUPPORTED_NETWORK_PROTOCOL,
                format!("Network protocol not supported, use ({})", family.number()),
            )),
            _ => Ok(Action::Passive { extended: true }),
        }
    }

    fn check_data_addr(&self, addr: SocketAddr) -> Result<(), Action> {
        if self.epsv_all {
            return Err(reply(
                ReplyCode::BAD_SEQUENCE,
                "Only EPSV is allowed after EPSV ALL.",
            ));
        }
        // Both refusals are bounce-attack attempts (RFC 2577): they count towards a ban.
        if !self.cfg.allow_foreign_data_address
            && canonical_ip(addr.ip()) != canonical_ip(self.peer.ip())
        {
            self.offend(Offence::Abuse);
            return Err(reply(
                ReplyCode::NOT_IMPLEMENTED_FOR_PARAMETER,
                "Data connections only to the client's own address.",
            ));
        }
        if !self.cfg.allow_privileged_data_port && addr.port() < 1024 {
            self.offend(Offence::Abuse);
            return Err(reply(
                ReplyCode::NOT_IMPLEMENTED_FOR_PARAMETER,
                "Data connections to ports below 1024 are not allowed.",
            ));
        }
        Ok(())
    }
}
