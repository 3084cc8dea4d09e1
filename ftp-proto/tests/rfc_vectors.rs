//! The RFCs' own examples as test vectors.
//!
//! Each vector names where it comes from. Where an RFC shows a command or reply in a
//! non-canonical spelling (`MLst tmp`, `TYPE A`), the test checks both that it parses and what
//! the canonical wire form is.

use std::net::{SocketAddr, SocketAddrV4};

use ftp_proto::addr::{self, AddrError, AddressFamily};
use ftp_proto::command::{EpsvArg, ProtLevel, Structure, TextFormat, TransferMode, TransferType};
use ftp_proto::facts::{EntryType, FactSet, Facts};
use ftp_proto::feat::Features;
use ftp_proto::line::LineDecoder;
use ftp_proto::reply::{quote_path, unquote_path, ReplyClass};
use ftp_proto::{Arg, Command, Reply, ReplyCode, Timestamp};

fn cmd(line: &[u8]) -> Command {
    Command::parse(line).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(line)))
}

/// An argument from bytes known to hold no CR or LF.
fn arg(bytes: &[u8]) -> Arg {
    Arg::new(bytes).unwrap()
}

fn reply(wire: &[u8]) -> Reply {
    let (r, rest) = Reply::decode(wire)
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(wire)))
        .expect("complete reply");
    assert!(rest.is_empty(), "one reply");
    r
}

fn err_code(line: &[u8]) -> u16 {
    Command::parse(line).unwrap_err().reply_code().as_u16()
}

// ---------------------------------------------------------------------------------------------
// RFC 959
// ---------------------------------------------------------------------------------------------

/// RFC 959 §4.2: the multi-line reply example, with an inner line starting with digits.
#[test]
fn rfc959_multiline_reply_example() {
    let wire = b"123-First line\r\nSecond line\r\n  234 A line beginning with numbers\r\n123 The last line\r\n";
    let r = reply(wire);
    assert_eq!(r.code().as_u16(), 123);
    assert_eq!(
        r.lines(),
        [
            b"First line".to_vec(),
            b"Second line".to_vec(),
            b"  234 A line beginning with numbers".to_vec(),
            b"The last line".to_vec(),
        ]
    );
    assert_eq!(r.to_bytes(), wire);
}

/// RFC 959 §4.2: "the first digit of the reply code ... must be followed by a space" — a line
/// starting with a different code inside a multi-line reply does not end it.
#[test]
fn rfc959_inner_line_with_other_code_is_text() {
    let r = reply(b"211-status\r\n200 not the end\r\n211 end\r\n");
    assert_eq!(r.lines().len(), 3);
    assert_eq!(r.lines()[1], b"200 not the end");
}

/// RFC 959 §4.2.1/§4.2.2: reply texts of the code list round-trip and carry their class.
#[test]
fn rfc959_reply_code_list_examples() {
    let sections: [(ReplyClass, Codes); 5] = [
        (ReplyClass::PositivePreliminary, PRELIMINARY),
        (ReplyClass::PositiveCompletion, COMPLETION),
        (ReplyClass::PositiveIntermediate, INTERMEDIATE),
        (ReplyClass::TransientNegative, TRANSIENT_NEGATIVE),
        (ReplyClass::PermanentNegative, PERMANENT_NEGATIVE),
    ];
    for (class, vectors) in sections {
        for (wire, code) in vectors {
            let r = reply(wire);
            assert_eq!(r.code().as_u16(), *code);
            assert_eq!(r.code().class(), class);
            assert_eq!(&r.to_bytes()[..], *wire);
        }
    }
    // The named constants agree with the numbers.
    assert_eq!(ReplyCode::FILE_STATUS_OK.as_u16(), 150);
    assert_eq!(ReplyCode::CLOSING_DATA.as_u16(), 226);
    assert_eq!(ReplyCode::PASSIVE_MODE.as_u16(), 227);
    assert_eq!(ReplyCode::PATH_CREATED.as_u16(), 257);
    assert_eq!(ReplyCode::NEED_PASSWORD.as_u16(), 331);
    assert_eq!(ReplyCode::PENDING.as_u16(), 350);
    assert_eq!(ReplyCode::NOT_AVAILABLE.as_u16(), 421);
    assert_eq!(ReplyCode::FILE_NOT_AVAILABLE.as_u16(), 550);
}

/// Reply wires with their codes, one reply a row.
type Codes = &'static [(&'static [u8], u16)];

/// RFC 959 §4.2.2, 1yz: positive preliminary replies.
const PRELIMINARY: Codes = &[
    (b"110 MARK yyyy = mmmm\r\n", 110),
    (b"120 Service ready in nnn minutes.\r\n", 120),
    (
        b"125 Data connection already open; transfer starting.\r\n",
        125,
    ),
    (
        b"150 File status okay; about to open data connection.\r\n",
        150,
    ),
];

/// RFC 959 §4.2.2, 2yz: positive completion replies.
const COMPLETION: Codes = &[
    (b"200 Command okay.\r\n", 200),
    (
        b"202 Command not implemented, superfluous at this site.\r\n",
        202,
    ),
    (b"211 System status, or system help reply.\r\n", 211),
    (b"215 UNIX Type: L8\r\n", 215),
    (b"220 Service ready for new user.\r\n", 220),
    (b"221 Service closing control connection.\r\n", 221),
    (b"226 Closing data connection.\r\n", 226),
    (b"227 Entering Passive Mode (132,235,1,2,24,131).\r\n", 227),
    (b"230 User logged in, proceed.\r\n", 230),
    (b"250 Requested file action okay, completed.\r\n", 250),
    (b"257 \"/usr/dm\" created.\r\n", 257),
];

/// RFC 959 §4.2.2, 3yz: positive intermediate replies.
const INTERMEDIATE: Codes = &[
    (b"331 User name okay, need password.\r\n", 331),
    (b"332 Need account for login.\r\n", 332),
    (
        b"350 Requested file action pending further information.\r\n",
        350,
    ),
];

/// RFC 959 §4.2.2, 4yz: transient negative completion replies.
const TRANSIENT_NEGATIVE: Codes = &[
    (
        b"421 Service not available, closing control connection.\r\n",
        421,
    ),
    (b"425 Can't open data connection.\r\n", 425),
    (b"426 Connection closed; transfer aborted.\r\n", 426),
    (b"450 Requested file action not taken.\r\n", 450),
];

/// RFC 959 §4.2.2, 5yz: permanent negative completion replies.
const PERMANENT_NEGATIVE: Codes = &[
    (b"500 Syntax error, command unrecognized.\r\n", 500),
    (b"501 Syntax error in parameters or arguments.\r\n", 501),
    (b"502 Command not implemented.\r\n", 502),
    (b"503 Bad sequence of commands.\r\n", 503),
    (b"504 Command not implemented for that parameter.\r\n", 504),
    (b"530 Not logged in.\r\n", 530),
    (b"550 Requested action not taken.\r\n", 550),
    (b"553 Requested action not taken.\r\n", 553),
];

/// RFC 959 §4.1.2 / §5.3.2: PORT h1,h2,h3,h4,p1,p2 — the address RFC 2428 reuses:
/// 132.235.1.2 port 6275 (= 24*256 + 131).
#[test]
fn rfc959_port_and_pasv() {
    let a: SocketAddrV4 = "132.235.1.2:6275".parse().unwrap();
    assert_eq!(cmd(b"PORT 132,235,1,2,24,131"), Command::Port(a));
    assert_eq!(Command::Port(a).to_line(), b"PORT 132,235,1,2,24,131\r\n");
    assert_eq!(addr::encode_port(a), "132,235,1,2,24,131");
    // 227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).
    let r = reply(b"227 Entering Passive Mode (132,235,1,2,24,131).\r\n");
    assert_eq!(addr::parse_pasv_reply(&r.lines()[0]), Ok(a));
    assert_eq!(
        addr::pasv_reply(a).to_bytes(),
        b"227 Entering Passive Mode (132,235,1,2,24,131).\r\n"
    );
    // Each number is a decimal byte: out of range or missing is a 501.
    assert_eq!(
        addr::parse_port(b"132,235,1,2,256,131"),
        Err(AddrError::OutOfRange)
    );
    assert_eq!(err_code(b"PORT 132,235,1,2,24"), 501);
    assert_eq!(err_code(b"PORT"), 501);
}

/// RFC 959 §5.3.1 grammar: every argument form of TYPE, STRU, MODE, ALLO, REST.
#[test]
fn rfc959_parameter_commands() {
    use TextFormat::*;
    let t = |s: &[u8]| match cmd(s) {
        Command::Type(t) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(t(b"TYPE A"), TransferType::Ascii(NonPrint));
    assert_eq!(t(b"TYPE A N"), TransferType::Ascii(NonPrint));
    assert_eq!(t(b"TYPE A T"), TransferType::Ascii(Telnet));
    assert_eq!(t(b"TYPE A C"), TransferType::Ascii(Asa));
    assert_eq!(t(b"TYPE E"), TransferType::Ebcdic(NonPrint));
    assert_eq!(t(b"TYPE E T"), TransferType::Ebcdic(Telnet));
    assert_eq!(t(b"TYPE I"), TransferType::Image);
    assert_eq!(t(b"TYPE L 8"), TransferType::Local(8));
    assert_eq!(t(b"type l 36"), TransferType::Local(36));
    // `TYPE A` and `TYPE A N` mean the same; the default format is not sent (some servers
    // refuse `TYPE A N`).
    let a = Command::Type(TransferType::Ascii(NonPrint));
    assert_eq!(a.to_line(), b"TYPE A\r\n");
    assert_eq!(
        Command::Type(TransferType::Ebcdic(NonPrint)).to_line(),
        b"TYPE E\r\n"
    );
    assert_eq!(
        Command::Type(TransferType::Ascii(Telnet)).to_line(),
        b"TYPE A T\r\n"
    );
    assert_eq!(
        Command::Type(TransferType::Local(8)).to_line(),
        b"TYPE L 8\r\n"
    );
    assert_eq!(err_code(b"TYPE X"), 501);
    assert_eq!(err_code(b"TYPE L"), 501);
    assert_eq!(err_code(b"TYPE L 0"), 501);
    assert_eq!(err_code(b"TYPE A X"), 501);

    assert_eq!(cmd(b"STRU F"), Command::Stru(Structure::File));
    assert_eq!(cmd(b"STRU R"), Command::Stru(Structure::Record));
    assert_eq!(cmd(b"STRU P"), Command::Stru(Structure::Page));
    assert_eq!(cmd(b"MODE S"), Command::Mode(TransferMode::Stream));
    assert_eq!(cmd(b"MODE B"), Command::Mode(TransferMode::Block));
    assert_eq!(cmd(b"MODE C"), Command::Mode(TransferMode::Compressed));
    assert_eq!(err_code(b"MODE Z"), 501);

    assert_eq!(
        cmd(b"ALLO 1000"),
        Command::Allo {
            size: 1000,
            record: None
        }
    );
    assert_eq!(
        cmd(b"ALLO 1000 R 80"),
        Command::Allo {
            size: 1000,
            record: Some(80)
        }
    );
    assert_eq!(
        Command::Allo {
            size: 1000,
            record: Some(80)
        }
        .to_line(),
        b"ALLO 1000 R 80\r\n"
    );
    assert_eq!(err_code(b"ALLO 10 X 3"), 501);
}

/// RFC 959 §4.1 and §5.3.1: verbs are case-insensitive; every command's argument rules.
#[test]
fn rfc959_commands_and_argument_rules() {
    assert_eq!(cmd(b"USER anonymous"), Command::User("anonymous".into()));
    assert_eq!(cmd(b"user anonymous"), Command::User("anonymous".into()));
    assert_eq!(cmd(b"ACCT acct"), Command::Acct("acct".into()));
    assert_eq!(cmd(b"CWD /usr/dm"), Command::Cwd(arg(b"/usr/dm")));
    assert_eq!(cmd(b"CDUP"), Command::Cdup);
    assert_eq!(cmd(b"SMNT /mnt"), Command::Smnt(arg(b"/mnt")));
    assert_eq!(cmd(b"REIN"), Command::Rein);
    assert_eq!(cmd(b"QUIT"), Command::Quit);
    assert_eq!(cmd(b"PASV"), Command::Pasv);
    assert_eq!(cmd(b"RETR a b"), Command::Retr(arg(b"a b")));
    assert_eq!(cmd(b"STOR a"), Command::Stor(arg(b"a")));
    assert_eq!(cmd(b"STOU"), Command::Stou(None));
    assert_eq!(cmd(b"APPE a"), Command::Appe(arg(b"a")));
    assert_eq!(cmd(b"RNFR a"), Command::Rnfr(arg(b"a")));
    assert_eq!(cmd(b"RNTO b"), Command::Rnto(arg(b"b")));
    assert_eq!(cmd(b"ABOR"), Command::Abor);
    assert_eq!(cmd(b"DELE a"), Command::Dele(arg(b"a")));
    assert_eq!(cmd(b"RMD d"), Command::Rmd(arg(b"d")));
    assert_eq!(cmd(b"MKD d"), Command::Mkd(arg(b"d")));
    assert_eq!(cmd(b"PWD"), Command::Pwd);
    assert_eq!(cmd(b"LIST"), Command::List(None));
    assert_eq!(cmd(b"LIST -la"), Command::List(Some(arg(b"-la"))));
    assert_eq!(cmd(b"NLST d"), Command::Nlst(Some(arg(b"d"))));
    assert_eq!(cmd(b"SITE CHMOD 644 a"), Command::Site(arg(b"CHMOD 644 a")));
    assert_eq!(cmd(b"SYST"), Command::Syst);
    assert_eq!(cmd(b"STAT"), Command::Stat(None));
    assert_eq!(cmd(b"HELP"), Command::Help(None));
    assert_eq!(cmd(b"HELP RETR"), Command::Help(Some("RETR".into())));
    assert_eq!(cmd(b"NOOP"), Command::Noop);
    // RFC 1123 §4.1.3.1: the X… aliases.
    assert_eq!(cmd(b"XPWD"), Command::Pwd);
    assert_eq!(cmd(b"XCUP"), Command::Cdup);
    assert_eq!(cmd(b"XCWD d"), Command::Cwd(arg(b"d")));
    assert_eq!(cmd(b"XMKD d"), Command::Mkd(arg(b"d")));
    assert_eq!(cmd(b"XRMD d"), Command::Rmd(arg(b"d")));
    // 500 for an unknown verb, 501 for a bad or missing argument.
    assert_eq!(err_code(b"XYZZY"), 500);
    assert_eq!(err_code(b"RETRX a"), 500);
    assert_eq!(err_code(b"RETR"), 501);
    assert_eq!(err_code(b"RETR    "), 501);
    assert_eq!(err_code(b"NOOP now"), 501);
    assert_eq!(err_code(b"REST x"), 501);
}

/// RFC 959 Appendix II: MKD/PWD replies quote the path and double embedded quotes.
#[test]
fn rfc959_appendix2_quoted_pathnames() {
    assert_eq!(cmd(b"MKD foo\"bar"), Command::Mkd(arg(b"foo\"bar")));
    let r = reply(b"257 \"/usr/dm/foo\"\"bar\" directory created.\r\n");
    assert_eq!(r.quoted_path().unwrap(), b"/usr/dm/foo\"bar");
    assert_eq!(
        Reply::path(b"/usr/dm/foo\"bar", "directory created.").to_bytes(),
        b"257 \"/usr/dm/foo\"\"bar\" directory created.\r\n"
    );
    assert_eq!(quote_path(b"/usr/dm"), b"\"/usr/dm\"");
    assert_eq!(
        unquote_path(b"\"/usr/dm\" created."),
        Some(b"/usr/dm".to_vec())
    );
    let r = reply(b"257 \"/usr/dm\" is current directory.\r\n");
    assert_eq!(r.quoted_path().unwrap(), b"/usr/dm");
}

/// RFC 959 §4.1.3 and RFC 854: ABOR sent with Telnet IP and Synch (IAC IP, IAC DM).
#[test]
fn rfc959_urgent_abor_with_telnet_ip_and_synch() {
    let mut dec = LineDecoder::default();
    let wire = b"\xff\xf4\xff\xf2ABOR\r\n";
    let (line, rest) = dec.decode(wire);
    assert!(rest.is_empty());
    assert_eq!(cmd(&line.unwrap().unwrap()), Command::Abor);
    // The DM byte may be consumed out of band: IAC IP IAC, then ABOR.
    let mut dec = LineDecoder::default();
    let (line, _) = dec.decode(b"\xff\xf4\xffABOR\r\n");
    assert_eq!(cmd(&line.unwrap().unwrap()), Command::Abor);
}

/// RFC 959 §4.1.3 + RFC 854: a 0xFF data byte in a pathname is sent as IAC IAC.
#[test]
fn rfc854_iac_is_doubled_in_pathnames() {
    let c = Command::Retr(arg(b"caf\xff"));
    assert_eq!(c.to_line(), b"RETR caf\xff\xff\r\n");
    let mut dec = LineDecoder::default();
    let (line, _) = dec.decode(&c.to_line());
    assert_eq!(cmd(&line.unwrap().unwrap()), c);
}

// ---------------------------------------------------------------------------------------------
// RFC 2228 / RFC 4217
// ---------------------------------------------------------------------------------------------

/// RFC 4217 §4–§9: AUTH TLS, PBSZ 0, PROT P (and the other levels), CCC; RFC 2228 ADAT/MIC/
/// CONF/ENC take base64 arguments; 234 / 6xx reply codes.
#[test]
fn rfc4217_and_rfc2228_security_commands() {
    assert_eq!(cmd(b"AUTH TLS"), Command::Auth("TLS".into()));
    assert_eq!(cmd(b"AUTH SSL"), Command::Auth("SSL".into()));
    assert_eq!(cmd(b"PBSZ 0"), Command::Pbsz(0));
    assert_eq!(cmd(b"PROT P"), Command::Prot(ProtLevel::Private));
    assert_eq!(cmd(b"PROT C"), Command::Prot(ProtLevel::Clear));
    assert_eq!(cmd(b"PROT S"), Command::Prot(ProtLevel::Safe));
    assert_eq!(cmd(b"PROT E"), Command::Prot(ProtLevel::Confidential));
    assert_eq!(cmd(b"CCC"), Command::Ccc);
    assert_eq!(cmd(b"ADAT aGVsbG8="), Command::Adat("aGVsbG8=".into()));
    assert_eq!(cmd(b"MIC aGVsbG8="), Command::Mic("aGVsbG8=".into()));
    assert_eq!(cmd(b"CONF aGVsbG8="), Command::Conf("aGVsbG8=".into()));
    assert_eq!(cmd(b"ENC aGVsbG8="), Command::Enc("aGVsbG8=".into()));
    assert_eq!(err_code(b"PROT X"), 501);
    assert_eq!(err_code(b"PBSZ -1"), 501);
    let r = reply(b"234 AUTH TLS successful\r\n");
    assert_eq!(r.code(), ReplyCode::AUTH_OK);
    let r = reply(b"631 base64stuff\r\n");
    assert_eq!(r.code(), ReplyCode::INTEGRITY_PROTECTED);
    assert_eq!(r.code().class(), ReplyClass::Protected);
}

// ---------------------------------------------------------------------------------------------
// RFC 2389
// ---------------------------------------------------------------------------------------------

/// RFC 2389 §3.4: the FEAT example response.
#[test]
fn rfc2389_feat_example() {
    assert_eq!(cmd(b"FEAT"), Command::Feat);
    let wire = b"211-Extensions supported:\r\n MLST size*;create;modify*;perm;media-type\r\n SIZE\r\n COMPRESSION\r\n MDTM\r\n211 END\r\n";
    let r = reply(wire);
    assert_eq!(r.to_bytes(), wire);
    let f = Features::from_reply(&r);
    assert_eq!(
        f.iter().collect::<Vec<_>>(),
        vec![
            ("MLST", Some("size*;create;modify*;perm;media-type")),
            ("SIZE", None),
            ("COMPRESSION", None),
            ("MDTM", None),
        ]
    );
    // "211 no-features" and a 500/502 answer both mean: nothing announced.
    assert_eq!(
        Features::from_reply(&reply(b"211 no-features\r\n")),
        Features::new()
    );
    assert_eq!(
        Features::from_reply(&reply(b"502 Command not implemented.\r\n")),
        Features::new()
    );
}

/// RFC 2389 §4: OPTS command-name [command-options].
#[test]
fn rfc2389_opts() {
    assert_eq!(
        cmd(b"OPTS MLST size;modify;"),
        Command::Opts {
            name: "MLST".into(),
            value: Some("size;modify;".into())
        }
    );
    assert_eq!(
        cmd(b"OPTS UTF8"),
        Command::Opts {
            name: "UTF8".into(),
            value: None
        }
    );
    assert_eq!(err_code(b"OPTS"), 501);
}

// ---------------------------------------------------------------------------------------------
// RFC 2428
// ---------------------------------------------------------------------------------------------

/// RFC 2428 §2: the EPRT examples, and the delimiter/family rules.
#[test]
fn rfc2428_eprt_examples() {
    let v4: SocketAddr = "132.235.1.2:6275".parse().unwrap();
    let v6: SocketAddr = "[1080::8:800:200C:417A]:5282".parse().unwrap();
    assert_eq!(cmd(b"EPRT |1|132.235.1.2|6275|"), Command::Eprt(v4));
    assert_eq!(
        cmd(b"EPRT |2|1080::8:800:200C:417A|5282|"),
        Command::Eprt(v6)
    );
    assert_eq!(
        Command::Eprt(v4).to_line(),
        b"EPRT |1|132.235.1.2|6275|\r\n"
    );
    // The canonical IPv6 text is lower-case.
    assert_eq!(
        Command::Eprt(v6).to_line(),
        b"EPRT |2|1080::8:800:200c:417a|5282|\r\n"
    );
    // Any delimiter in 33..=126.
    assert_eq!(addr::parse_eprt(b"!1!132.235.1.2!6275!"), Ok(v4));
    assert_eq!(addr::parse_eprt(b"~2~1080::8:800:200C:417A~5282~"), Ok(v6));
    // Unknown network protocol: 522; malformed: 501.
    assert_eq!(err_code(b"EPRT |3|132.235.1.2|6275|"), 522);
    assert_eq!(err_code(b"EPRT |1|1080::8:800:200C:417A|5282|"), 501);
    assert_eq!(err_code(b"EPRT |1|132.235.1.2|65536|"), 501);
    assert_eq!(err_code(b"EPRT |1|132.235.1.2|6275"), 501);
}

/// RFC 2428 §3: EPSV with no argument, a protocol number, or ALL; the 229 example reply.
#[test]
fn rfc2428_epsv_examples() {
    assert_eq!(cmd(b"EPSV"), Command::Epsv(EpsvArg::Any));
    assert_eq!(
        cmd(b"EPSV 1"),
        Command::Epsv(EpsvArg::Family(AddressFamily::V4))
    );
    assert_eq!(
        cmd(b"EPSV 2"),
        Command::Epsv(EpsvArg::Family(AddressFamily::V6))
    );
    assert_eq!(cmd(b"EPSV ALL"), Command::Epsv(EpsvArg::All));
    assert_eq!(cmd(b"epsv all"), Command::Epsv(EpsvArg::All));
    assert_eq!(err_code(b"EPSV 3"), 522);
    assert_eq!(err_code(b"EPSV x"), 501);
    let wire = b"229 Entering Extended Passive Mode (|||6446|)\r\n";
    let r = reply(wire);
    assert_eq!(r.code(), ReplyCode::EXTENDED_PASSIVE_MODE);
    assert_eq!(addr::parse_epsv_reply(&r.lines()[0]), Ok(6446));
    assert_eq!(addr::epsv_reply(6446).to_bytes(), wire);
    // 522 lists the supported protocols.
    let r = reply(b"522 Network protocol not supported, use (1,2)\r\n");
    assert_eq!(r.code().as_u16(), 522);
}

// ---------------------------------------------------------------------------------------------
// RFC 2640
// ---------------------------------------------------------------------------------------------

/// RFC 2640 §4: LANG with and without a tag; FEAT announces LANG and UTF8; UTF-8 pathnames
/// travel as their bytes.
#[test]
fn rfc2640_lang_and_utf8() {
    assert_eq!(cmd(b"LANG"), Command::Lang(None));
    assert_eq!(cmd(b"LANG fr"), Command::Lang(Some("fr".into())));
    assert_eq!(cmd(b"LANG en-US"), Command::Lang(Some("en-US".into())));
    let r = reply(b"211-Extensions supported:\r\n LANG EN*;FR\r\n UTF8\r\n211 end\r\n");
    let f = Features::from_reply(&r);
    assert_eq!(f.params("LANG"), Some("EN*;FR"));
    assert!(f.has("UTF8"));
    let name = "répertoire/日本語.txt".as_bytes();
    let mut line = b"RETR ".to_vec();
    line.extend_from_slice(name);
    assert_eq!(cmd(&line), Command::Retr(arg(name)));
    assert_eq!(
        cmd(b"OPTS UTF8 ON"),
        Command::Opts {
            name: "UTF8".into(),
            value: Some("ON".into())
        }
    );
}

// ---------------------------------------------------------------------------------------------
// RFC 3659
// ---------------------------------------------------------------------------------------------

/// RFC 3659 §2.3 and §3: the time-val syntax and MDTM's 213 reply.
#[test]
fn rfc3659_mdtm_and_time_values() {
    assert_eq!(cmd(b"MDTM file"), Command::Mdtm(arg(b"file")));
    let r = reply(b"213 19980615100045.014\r\n");
    let t = Timestamp::parse(&r.lines()[0]).unwrap();
    assert_eq!(
        (
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millis()
        ),
        (1998, 6, 15, 10, 0, 45, 14)
    );
    assert_eq!(t.to_string(), "19980615100045.014");
    let t = Timestamp::parse(b"19990929003355").unwrap();
    assert_eq!(t.to_string(), "19990929003355");
    // Leap seconds, 25 o'clock and two-digit years are not time-vals.
    assert!(Timestamp::parse(b"19990929235960").is_err());
    assert!(Timestamp::parse(b"19990929250000").is_err());
    assert!(Timestamp::parse(b"990929003355").is_err());
    assert!(Timestamp::parse(b"19981301000000").is_err());
    let r = reply(b"550 file: No such file or directory.\r\n");
    assert!(r.code().is_negative());
}

/// MFMT (draft-somers-ftp-mfxx): MFMT time-val path, answered "213 Modify=time; path".
#[test]
fn mfmt_sets_a_time_val() {
    match cmd(b"MFMT 20020717210715 file with spaces.txt") {
        Command::Mfmt { time, path } => {
            assert_eq!(time.to_string(), "20020717210715");
            assert_eq!(path, b"file with spaces.txt");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err_code(b"MFMT 2002071721071 f"), 501);
    assert_eq!(err_code(b"MFMT 20020717210715"), 501);
}

/// RFC 3659 §4: SIZE and its 213 reply with the size in octets.
#[test]
fn rfc3659_size() {
    assert_eq!(cmd(b"SIZE file"), Command::Size(arg(b"file")));
    assert_eq!(cmd(b"size test"), Command::Size(arg(b"test")));
    let r = reply(b"213 1024\r\n");
    assert_eq!(r.code(), ReplyCode::FILE_STATUS);
    assert_eq!(r.text().parse::<u64>().unwrap(), 1024);
}

/// RFC 3659 §5: REST STREAM takes a byte offset and is answered 350.
#[test]
fn rfc3659_rest_stream() {
    assert_eq!(cmd(b"REST 0"), Command::Rest(0));
    assert_eq!(cmd(b"REST 1024"), Command::Rest(1024));
    assert_eq!(cmd(b"REST 18446744073709551615"), Command::Rest(u64::MAX));
    assert_eq!(err_code(b"REST 18446744073709551616"), 501);
    assert_eq!(err_code(b"REST -1"), 501);
    let r = reply(b"350 Restarting at 1024. Send STORE or RETRIEVE\r\n");
    assert_eq!(r.code(), ReplyCode::PENDING);
    // FEAT announces "REST STREAM".
    let f = Features::from_reply(&reply(b"211-Features:\r\n REST STREAM\r\n211 End\r\n"));
    assert_eq!(f.params("REST"), Some("STREAM"));
}

/// RFC 3659 §7.7.x: MLST replies — the entry is on its own line, starting with a space.
#[test]
fn rfc3659_mlst_example() {
    assert_eq!(cmd(b"MLst tmp"), Command::Mlst(Some(arg(b"tmp"))));
    assert_eq!(cmd(b"MLST"), Command::Mlst(None));
    let wire = b"250- Listing tmp\r\n Type=dir;Modify=19981107085215;Perm=el; /tmp\r\n250 End\r\n";
    let r = reply(wire);
    assert_eq!(r.to_bytes(), wire);
    let (facts, name) = Facts::parse(&r.lines()[1]).unwrap();
    assert_eq!(name, b"/tmp");
    assert_eq!(facts.entry_type, Some(EntryType::Dir));
    assert_eq!(facts.modify.unwrap().to_string(), "19981107085215");
    assert_eq!(facts.perm.as_deref(), Some("el"));
}

/// RFC 3659 §8.1 ("Some IANA Files"): MLSD data lines.
#[test]
fn rfc3659_mlsd_iana_example() {
    assert_eq!(cmd(b"MLSD"), Command::Mlsd(None));
    assert_eq!(
        cmd(b"MLSD media-types"),
        Command::Mlsd(Some(arg(b"media-types")))
    );
    // (line, type, size, modify, name)
    type Vector<'a> = (&'a [u8], EntryType, Option<u64>, &'a str, &'a [u8]);
    let lines: &[Vector<'_>] = &[
        (
            b"Type=cdir;Modify=19990219183438; /iana/assignments",
            EntryType::Cdir,
            None,
            "19990219183438",
            b"/iana/assignments",
        ),
        (
            b"Type=pdir;Modify=19990112030453; ..",
            EntryType::Pdir,
            None,
            "19990112030453",
            b"..",
        ),
        (
            b"Type=dir;Modify=19990219073522; media-types",
            EntryType::Dir,
            None,
            "19990219073522",
            b"media-types",
        ),
        (
            b"Type=file;Size=44242;Modify=19990217230400; character-sets",
            EntryType::File,
            Some(44242),
            "19990217230400",
            b"character-sets",
        ),
        (
            b"Type=file;Size=1947;Modify=19990209215600; operating-system-names",
            EntryType::File,
            Some(1947),
            "19990209215600",
            b"operating-system-names",
        ),
    ];
    for (line, ty, size, modify, name) in lines {
        let (f, n) = Facts::parse(line).unwrap();
        assert_eq!(f.entry_type.as_ref(), Some(ty));
        assert_eq!(f.size, *size);
        assert_eq!(f.modify.unwrap().to_string(), *modify);
        assert_eq!(n, *name);
        // Re-formatted (canonical lower-case fact names) it parses to the same facts.
        let mut out = Vec::new();
        f.format(FactSet::ALL, n, &mut out);
        assert_eq!(Facts::parse(&out).unwrap(), (f, n));
    }
    assert_eq!(
        reply(b"226 MLSD completed\r\n").code(),
        ReplyCode::CLOSING_DATA
    );
}

/// RFC 3659 §7.9: OPTS MLST selects facts; the FEAT line marks the selected ones with `*`.
#[test]
fn rfc3659_opts_mlst_and_feat_line() {
    let set = FactSet::from_opts("type;size;");
    assert!(set.entry_type && set.size && !set.modify);
    assert_eq!(set.to_opts(), "type;size;");
    assert_eq!(
        set.feat_line(),
        "MLST type*;size*;modify;perm;unique;UNIX.mode;"
    );
    assert_eq!(FactSet::from_opts(""), FactSet::NONE);
}

// ---------------------------------------------------------------------------------------------
// RFC 7151
// ---------------------------------------------------------------------------------------------

/// RFC 7151 §3: HOST with a domain name or an address literal, answered 220 (or 504/501).
#[test]
fn rfc7151_host() {
    assert_eq!(
        cmd(b"HOST ftp.example.com"),
        Command::Host("ftp.example.com".into())
    );
    assert_eq!(cmd(b"HOST 192.0.2.1"), Command::Host("192.0.2.1".into()));
    assert_eq!(
        cmd(b"HOST [2001:db8::1]"),
        Command::Host("[2001:db8::1]".into())
    );
    assert_eq!(err_code(b"HOST"), 501);
    assert_eq!(
        reply(b"220 Host accepted\r\n").code(),
        ReplyCode::SERVICE_READY
    );
    assert_eq!(
        Command::Host("ftp.example.com".into()).to_line(),
        b"HOST ftp.example.com\r\n"
    );
}
