//! The GoIP control plane on UDP (SPEC 3.2): the SMS-server protocol and the
//! SIM-bank client↔server packets.
//!
//! # SMS-server protocol
//!
//! A GoIP with "SMS Server" enabled talks clear text over UDP to a server
//! (default port [`SMS_SERVER_PORT`], 44444). Sources: the vendor's "GOIP SMS
//! Interface" document (`goip_sms_Interface_en`, copies at
//! <https://docest.com/doc/618464/goip-sms-interface> and
//! <https://mwitty.com/content.php?id=5910775>), and the open clients that
//! implement it, e.g. `styryl/goip` (PHP, with a captured keep-alive in its
//! tests), `lszabados/GoIPSms` (C#) and `yuksbg/goip-sms-server` (Go).
//!
//! Two syntaxes share the port:
//! - `key:value;key:value;…` — the GoIP's reports. The first key names the
//!   message; its value is a counter.
//!   - keep-alive, every 30 s per channel: `req:N;id:…;pass:…;num:…;signal:…;
//!     gsm_status:LOGIN;voip_status:…;voip_state:…;remain_time:…;imei:…;imsi:…;
//!     iccid:…;pro:<carrier>;idle:…;disable_status:…;SMS_LOGIN:…;SMB_LOGIN:…;
//!     CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;` (LAC and cell id in hex);
//!   - the server's ack `reg:N;status:200;` (some servers answer `req:N;status:…`);
//!   - `STATE:N;id;password;gsm_remain_state:DIALING:<number>`,
//!     `RECORD:N;id;password;dir:1|2;num` (1 incoming, 2 outgoing),
//!     `HANGUP:N;id;password;num[,cause:…]`, `RECEIVE:N;id;password;srcnum;msg`
//!     (an incoming SMS; `msg` is last and runs to the end of the datagram),
//!     `DELIVER:N;id;password;sms_no;state;num`, `REMAIN:N;id;password;
//!     gsm_remain_time`, `CELLS:N;id;password;lists`, `BCCH:N;…`.
//! - `KIND N …` — the server's replies to those (`RECEIVE N OK`,
//!   `STATE N ERROR msg`) and its commands (`MSG`, `PASSWORD`, `SEND`, …).
//!
//! Fields may be missing, empty, reordered or in any letter case; unknown
//! fields are counted, not kept. Values are borrowed slices with their byte
//! offsets ([`Field`]) so evidence can point into the packet. Identities stay
//! raw bytes here; [`Field::to_imei`] and friends validate them through
//! `duanka_shared::ids`.
//!
//! **Credentials.** `pass:`/`password:` (and the `PASSWORD` command) carry the
//! gateway's SMS-server password. The parser skips them: no parsed type holds
//! or points at them, so neither `Debug` nor any accessor can expose them.
//!
//! # SIM-bank packets
//!
//! A GoIP using a remote SIM bank (SMB) runs `smb_module`, which talks to the
//! SIM server (SPEC 3.2: UDP 56011) in binary packets that start with the
//! magic `0x43215678`; the payload is RC4-encrypted when a key is configured.
//! The only public description is a reverse-engineering write-up of the
//! firmware (`Merlin1488/goip-firmware-analysis`,
//! `DOC_SMB_MODULE_DEEP_ANALYSIS.md`): the magic appears as an immediate in
//! the little-endian ARM binary, the module supports UDP and TCP, and the
//! header is reconstructed as magic (4) + session/sequence (4) + message type
//! (2) + flags (2). The wire byte order is not documented, so
//! [`is_simbank`] accepts the magic in either order at offset 0 and
//! [`SimBankPacket`] reads the other header fields in the order the magic was
//! found in. Treat those fields as tentative; the magic alone is the signal.

use std::fmt;
use std::ops::Range;

use duanka_shared::ids::{Iccid, Imei, Imsi, Msisdn};

/// Default UDP port of an SMS server (the GoIP's "SMS Server Port").
pub const SMS_SERVER_PORT: u16 = 44444;
/// UDP port of the SIM-bank server (SPEC 3.2).
pub const SIMBANK_PORT: u16 = 56011;
/// Magic number at the start of every SIM-bank packet.
pub const SIMBANK_MAGIC: u32 = 0x4321_5678;
/// Bytes in a SIM-bank header (magic, session, type, flags).
pub const SIMBANK_HEADER_LEN: usize = 12;
/// Longest SMS-server datagram parsed. The vendor caps SMS text at 3000
/// bytes; a keep-alive is a few hundred.
pub const MAX_MESSAGE_LEN: usize = 8192;
/// Most `key:value` fields read from one message before giving up.
pub const MAX_FIELDS: usize = 64;

/// Keys whose values are credentials and are never kept.
const CREDENTIAL_KEYS: &[&[u8]] = &[b"pass", b"password", b"passwd", b"pwd"];

/// Colon-form message kinds `looks_like_goip_sms` recognises.
const COLON_KINDS: &[&[u8]] =
    &[b"req", b"reg", b"STATE", b"RECORD", b"HANGUP", b"RECEIVE", b"DELIVER", b"REMAIN", b"CELLS", b"BCCH", b"EXPIRY"];

/// Report kinds the server acknowledges with `KIND N OK|ERROR …`.
const REPLY_KINDS: &[&[u8]] =
    &[b"RECEIVE", b"DELIVER", b"STATE", b"RECORD", b"REMAIN", b"CELLS", b"HANGUP", b"BCCH", b"EXPIRY", b"REQUEST"];

/// Server→GoIP commands of the bulk-SMS and control exchange (`KIND N …`).
const COMMAND_KINDS: &[&[u8]] = &[b"MSG", b"PASSWORD", b"SEND", b"DONE", b"USSD"];

/// What kind of problem stopped a parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes end before the first `key:` or `KIND ` token, or before the
    /// SIM-bank header: more bytes could fix it.
    Incomplete,
    /// The bytes do not start with a `key:` or `KIND ` token.
    Syntax,
    /// A keep-alive or ack counter is missing or not a decimal number.
    Counter,
    /// The datagram is longer than [`MAX_MESSAGE_LEN`].
    TooLarge,
    /// More than [`MAX_FIELDS`] fields.
    TooManyFields,
    /// No SIM-bank magic at offset 0.
    Magic,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Incomplete,
        ErrorKind::Syntax,
        ErrorKind::Counter,
        ErrorKind::TooLarge,
        ErrorKind::TooManyFields,
        ErrorKind::Magic,
    ];

    /// Stable snake_case name, used as a counter key in reports.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::Incomplete => "goip_incomplete",
            ErrorKind::Syntax => "goip_syntax",
            ErrorKind::Counter => "goip_counter",
            ErrorKind::TooLarge => "goip_too_large",
            ErrorKind::TooManyFields => "goip_too_many_fields",
            ErrorKind::Magic => "goip_simbank_magic",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why bytes are not a GoIP control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("GoIP {kind} at byte {offset}")]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where, from the start of the buffer given.
    pub offset: usize,
}

impl Error {
    fn new(kind: ErrorKind, offset: usize) -> Self {
        Error { kind, offset }
    }
}

/// A value borrowed from the packet, with its byte offset.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The bytes, exactly as sent.
    pub value: &'a [u8],
    /// Offset of the first byte in the buffer given to [`parse`].
    pub offset: usize,
}

impl<'a> Field<'a> {
    fn at(buf: &'a [u8], range: Range<usize>) -> Self {
        Field { value: buf.get(range.clone()).unwrap_or(&[]), offset: range.start }
    }

    /// The bytes' range in the buffer.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.value.len()
    }

    /// The value as text, if it is UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.value).ok()
    }

    /// Validates the value as an IMEI (a wrong check digit is kept: forged
    /// IMEIs are evidence; see `Imei::is_luhn_valid`).
    pub fn to_imei(&self) -> Option<Imei> {
        Imei::parse_lenient(self.as_str()?).ok()
    }

    /// Validates the value as an IMSI.
    pub fn to_imsi(&self) -> Option<Imsi> {
        Imsi::parse(self.as_str()?).ok()
    }

    /// Validates the value as an ICCID (check digit not enforced).
    pub fn to_iccid(&self) -> Option<Iccid> {
        Iccid::parse_lenient(self.as_str()?).ok()
    }

    /// Normalises the value as a phone number.
    pub fn to_msisdn(&self) -> Option<Msisdn> {
        Msisdn::parse(self.as_str()?).ok()
    }
}

impl fmt::Debug for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"@{}", self.value.escape_ascii(), self.offset)
    }
}

/// A GSM or VoIP login state (`gsm_status`, `voip_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginStatus<'a> {
    /// `LOGIN`: registered.
    Login,
    /// `LOGOUT`: not registered.
    Logout,
    /// Anything else, as sent.
    Unknown(&'a [u8]),
}

impl<'a> LoginStatus<'a> {
    fn parse(v: &'a [u8]) -> Self {
        if v.eq_ignore_ascii_case(b"LOGIN") {
            LoginStatus::Login
        } else if v.eq_ignore_ascii_case(b"LOGOUT") {
            LoginStatus::Logout
        } else {
            LoginStatus::Unknown(v)
        }
    }
}

/// Direction of a call in a `RECORD` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    /// `dir:1`: a call from the GSM side into the gateway.
    Incoming,
    /// `dir:2`: a call the gateway places on the GSM side.
    Outgoing,
    /// Any other number.
    Unknown(u64),
}

/// A channel's keep-alive (`req:N;…`): who the channel is on the GSM side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeepAlive<'a> {
    /// Packet counter (1 at power-up, +1 per packet).
    pub req: u64,
    /// The channel's SMS-server id (one per line on multi-line gateways).
    pub id: Option<Field<'a>>,
    /// The SIM's phone number, as configured.
    pub num: Option<Field<'a>>,
    /// GSM signal (CSQ, 0–31, 99 unknown).
    pub signal: Option<u8>,
    /// GSM registration.
    pub gsm_status: Option<LoginStatus<'a>>,
    /// SIP/H.323 registration.
    pub voip_status: Option<LoginStatus<'a>>,
    /// Call state of the VoIP side (`IDLE`, …).
    pub voip_state: Option<Field<'a>>,
    /// Minutes of outgoing call time left (-1: no limit).
    pub remain_time: Option<i64>,
    /// IMEI of the GSM module.
    pub imei: Option<Field<'a>>,
    /// IMSI of the SIM.
    pub imsi: Option<Field<'a>>,
    /// ICCID of the SIM.
    pub iccid: Option<Field<'a>>,
    /// Carrier name (`pro:`).
    pub carrier: Option<Field<'a>>,
    /// Seconds since the channel's last call.
    pub idle: Option<i64>,
    /// The channel's disable flag.
    pub disable_status: Option<u64>,
    /// `SMS_LOGIN` state.
    pub sms_login: Option<Field<'a>>,
    /// `SMB_LOGIN`: login state with a remote SIM bank (`Y` means the SIM is
    /// remote).
    pub smb_login: Option<Field<'a>>,
    /// The whole `CELLINFO` value, e.g. `LAC:7E5,CELL ID:5E5B`.
    pub cell_info: Option<Field<'a>>,
    /// Location area code (hex in `CELLINFO`).
    pub lac: Option<u16>,
    /// Cell identity (hex in `CELLINFO`; 32 bits to hold UMTS/LTE ids).
    pub cell_id: Option<u32>,
    /// GPRS attach (`CGATT:Y`).
    pub cgatt: Option<bool>,
    /// Fields this parser does not know (credentials not counted).
    pub unknown_fields: usize,
}

impl KeepAlive<'_> {
    /// The IMEI, validated (wrong check digit kept).
    pub fn imei_id(&self) -> Option<Imei> {
        self.imei.as_ref().and_then(Field::to_imei)
    }

    /// The IMSI, validated.
    pub fn imsi_id(&self) -> Option<Imsi> {
        self.imsi.as_ref().and_then(Field::to_imsi)
    }

    /// The ICCID, validated (check digit not enforced).
    pub fn iccid_id(&self) -> Option<Iccid> {
        self.iccid.as_ref().and_then(Field::to_iccid)
    }

    /// The SIM's number, normalised.
    pub fn msisdn(&self) -> Option<Msisdn> {
        self.num.as_ref().and_then(Field::to_msisdn)
    }
}

/// `STATE:N;…`: a channel's line state changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State<'a> {
    /// Report counter.
    pub recv_id: Option<u64>,
    /// Channel id.
    pub id: Option<Field<'a>>,
    /// The whole `gsm_remain_state` value, e.g. `DIALING:<number>`.
    pub gsm_remain_state: Option<Field<'a>>,
    /// Its state word (`IDLE`, `DIALING`, `ACTIVE`, …).
    pub state: Option<Field<'a>>,
    /// The number after the state word, if any.
    pub peer: Option<Field<'a>>,
}

/// `RECORD:N;…`: a call started on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// Report counter.
    pub recv_id: Option<u64>,
    /// Channel id.
    pub id: Option<Field<'a>>,
    /// Call direction.
    pub dir: Option<CallDirection>,
    /// The other party's number.
    pub num: Option<Field<'a>>,
}

/// `HANGUP:N;…`: a call ended on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hangup<'a> {
    /// Report counter.
    pub recv_id: Option<u64>,
    /// Channel id.
    pub id: Option<Field<'a>>,
    /// The other party's number.
    pub num: Option<Field<'a>>,
    /// Release cause text, when sent (`num:…,cause:"…"` or `cause:…`).
    pub cause: Option<Field<'a>>,
}

/// `RECEIVE:N;…`: an SMS arrived on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receive<'a> {
    /// Report counter.
    pub recv_id: Option<u64>,
    /// Channel id.
    pub id: Option<Field<'a>>,
    /// Sender's number.
    pub srcnum: Option<Field<'a>>,
    /// The text: everything after `msg:` to the end of the datagram.
    pub msg: Option<Field<'a>>,
}

/// `DELIVER:N;…`: a delivery report for an SMS the channel sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver<'a> {
    /// Report counter.
    pub recv_id: Option<u64>,
    /// Channel id.
    pub id: Option<Field<'a>>,
    /// Which SMS.
    pub sms_no: Option<u64>,
    /// Delivery state as sent.
    pub state: Option<Field<'a>>,
    /// Recipient's number.
    pub num: Option<Field<'a>>,
}

/// `REMAIN:N;…`: outgoing call time left after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remain<'a> {
    /// Report counter.
    pub recv_id: Option<u64>,
    /// Channel id.
    pub id: Option<Field<'a>>,
    /// Minutes left.
    pub remain_time: Option<i64>,
}

/// `CELLS:N;…`: the list of cells a channel sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cells<'a> {
    /// Report counter.
    pub recv_id: Option<u64>,
    /// Channel id.
    pub id: Option<Field<'a>>,
    /// The cell list as sent.
    pub lists: Option<Field<'a>>,
}

/// A report whose body is not documented (`BCCH`): counter and channel only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report<'a> {
    /// Report counter.
    pub recv_id: Option<u64>,
    /// Channel id.
    pub id: Option<Field<'a>>,
}

/// One SMS-server datagram.
// The keep-alive variant is a few hundred bytes of borrowed slices; boxing it
// would allocate per packet to save stack space a parse result only holds
// briefly.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A channel's keep-alive.
    KeepAlive(KeepAlive<'a>),
    /// The server's keep-alive ack `reg:N;status:S;`.
    Ack {
        /// The keep-alive counter acknowledged.
        seq: u64,
        /// Status (200 or 0: accepted).
        status: Option<u16>,
    },
    /// Line state change.
    State(State<'a>),
    /// Call start.
    Record(Record<'a>),
    /// Call end.
    Hangup(Hangup<'a>),
    /// Incoming SMS.
    Receive(Receive<'a>),
    /// SMS delivery report.
    Deliver(Deliver<'a>),
    /// Call time left.
    Remain(Remain<'a>),
    /// Cell list.
    Cells(Cells<'a>),
    /// BCCH report (body undocumented).
    Bcch(Report<'a>),
    /// The server's reply to a report: `KIND N OK` or `KIND N ERROR …`.
    Reply {
        /// The report kind replied to, e.g. `RECEIVE`.
        kind: &'a [u8],
        /// The report counter replied to.
        seq: u64,
        /// `OK` (true) or anything else (false).
        ok: bool,
    },
    /// Any other message in either syntax (server commands, `EXPIRY`, …);
    /// only its kind is kept, so a command's password never is.
    Other {
        /// The first token, e.g. `PASSWORD` or `EXPIRY`.
        kind: &'a [u8],
    },
}

impl<'a> Message<'a> {
    /// Stable snake_case name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            Message::KeepAlive(_) => "keep_alive",
            Message::Ack { .. } => "ack",
            Message::State(_) => "state",
            Message::Record(_) => "record",
            Message::Hangup(_) => "hangup",
            Message::Receive(_) => "receive",
            Message::Deliver(_) => "deliver",
            Message::Remain(_) => "remain",
            Message::Cells(_) => "cells",
            Message::Bcch(_) => "bcch",
            Message::Reply { .. } => "reply",
            Message::Other { .. } => "other",
        }
    }

    /// The channel id of a GoIP report, if it has one.
    pub fn channel_id(&self) -> Option<Field<'a>> {
        match self {
            Message::KeepAlive(m) => m.id,
            Message::State(m) => m.id,
            Message::Record(m) => m.id,
            Message::Hangup(m) => m.id,
            Message::Receive(m) => m.id,
            Message::Deliver(m) => m.id,
            Message::Remain(m) => m.id,
            Message::Cells(m) => m.id,
            Message::Bcch(m) => m.id,
            Message::Ack { .. } | Message::Reply { .. } | Message::Other { .. } => None,
        }
    }
}

/// Whether a UDP payload looks like SMS-server traffic: a known message kind
/// then `:` and a counter (or `id:`), or a known reply/command then a space
/// and a digit. Case-sensitive and prefix-only, so it is cheap; a keep-alive
/// whose `req` field is not first is not recognised here (but [`parse`]
/// reads it).
pub fn looks_like_goip_sms(buf: &[u8]) -> bool {
    if buf.len() < 5 || buf.len() > MAX_MESSAGE_LEN {
        return false;
    }
    for kind in COLON_KINDS {
        if let Some(rest) = buf.strip_prefix(*kind).and_then(|r| r.strip_prefix(b":")) {
            return rest.first().is_some_and(u8::is_ascii_digit) || rest.starts_with(b"id:");
        }
    }
    for kind in REPLY_KINDS.iter().chain(COMMAND_KINDS) {
        if let Some(rest) = buf.strip_prefix(*kind).and_then(|r| r.strip_prefix(b" ")) {
            return rest.first().is_some_and(u8::is_ascii_digit);
        }
    }
    false
}

/// Parses one SMS-server datagram (either direction).
pub fn parse(buf: &[u8]) -> Result<Message<'_>, Error> {
    if buf.len() > MAX_MESSAGE_LEN {
        return Err(Error::new(ErrorKind::TooLarge, MAX_MESSAGE_LEN));
    }
    let end = trimmed_end(buf);
    if end == 0 {
        return Err(Error::new(ErrorKind::Incomplete, 0));
    }
    let body = &buf[..end];
    if !is_token_start(body[0]) {
        return Err(Error::new(ErrorKind::Syntax, 0));
    }
    let tok = body.iter().take_while(|&&b| is_token_char(b)).count();
    match body.get(tok) {
        None => Err(Error::new(ErrorKind::Incomplete, end)),
        Some(b':') => parse_colon_form(buf, end, &body[..tok]),
        Some(b' ') => Ok(parse_space_form(body, tok)),
        Some(_) => Err(Error::new(ErrorKind::Syntax, tok)),
    }
}

/// First byte of a message kind.
fn is_token_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// Byte of a message kind.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// End of the datagram without trailing line ends, blanks and NULs.
fn trimmed_end(buf: &[u8]) -> usize {
    buf.iter().rposition(|b| !matches!(b, b'\r' | b'\n' | b'\0' | b' ' | b'\t')).map_or(0, |i| i + 1)
}

/// `KIND N OK|ERROR …` replies and `KIND …` commands.
fn parse_space_form(body: &[u8], tok: usize) -> Message<'_> {
    let kind = &body[..tok];
    if REPLY_KINDS.iter().any(|k| k.eq_ignore_ascii_case(kind)) {
        let mut words = body[tok + 1..].split(|&b| b == b' ').filter(|w| !w.is_empty());
        if let (Some(seq), Some(word)) = (words.next().and_then(parse_u64), words.next()) {
            return Message::Reply { kind, seq, ok: word.eq_ignore_ascii_case(b"OK") };
        }
    }
    Message::Other { kind }
}

/// One `key[:value]` field of the colon form.
#[derive(Clone, Copy)]
struct Pair<'a> {
    key: &'a [u8],
    /// The value, `None` when empty or absent.
    value: Option<Field<'a>>,
}

impl Pair<'_> {
    fn is(&self, key: &str) -> bool {
        self.key.eq_ignore_ascii_case(key.as_bytes())
    }

    fn is_credential(&self) -> bool {
        CREDENTIAL_KEYS.iter().any(|k| self.key.eq_ignore_ascii_case(k))
    }
}

/// Iterates `;`-separated fields of `buf[..end]`, failing after
/// [`MAX_FIELDS`]. Empty segments are skipped.
struct Pairs<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    count: usize,
}

impl<'a> Pairs<'a> {
    fn new(buf: &'a [u8], end: usize) -> Self {
        Pairs { buf, pos: 0, end: end.min(buf.len()), count: 0 }
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Result<Pair<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.end {
            let start = self.pos;
            let seg_end = self.buf[start..self.end].iter().position(|&b| b == b';').map_or(self.end, |i| start + i);
            self.pos = seg_end + 1;
            let seg = &self.buf[start..seg_end];
            if seg.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.count += 1;
            if self.count > MAX_FIELDS {
                self.pos = self.end;
                return Some(Err(Error::new(ErrorKind::TooManyFields, start)));
            }
            let (key, value) = match seg.iter().position(|&b| b == b':') {
                Some(c) => (&seg[..c], Some(Field::at(self.buf, start + c + 1..seg_end))),
                None => (seg, None),
            };
            let value = value.filter(|v| !v.value.is_empty());
            return Some(Ok(Pair { key: key.trim_ascii(), value }));
        }
        None
    }
}

/// `key:value;…` reports and the keep-alive ack.
fn parse_colon_form<'a>(buf: &'a [u8], end: usize, kind: &'a [u8]) -> Result<Message<'a>, Error> {
    let is = |k: &str| kind.eq_ignore_ascii_case(k.as_bytes());
    let mut pairs = Pairs::new(buf, end);
    let first = match pairs.next() {
        Some(p) => p?,
        None => return Err(Error::new(ErrorKind::Incomplete, end)),
    };
    if is("reg") || (is("req") && is_ack(buf, end)?) {
        return parse_ack(first, pairs);
    }
    if is("req") {
        return parse_keep_alive(buf, end).map(Message::KeepAlive);
    }
    let (recv_id, nested_id) = report_head(buf, &first);
    let msg = if is("STATE") {
        Message::State(parse_state(pairs, recv_id, nested_id)?)
    } else if is("RECORD") {
        Message::Record(parse_record(pairs, recv_id, nested_id)?)
    } else if is("HANGUP") {
        Message::Hangup(parse_hangup(pairs, recv_id, nested_id)?)
    } else if is("RECEIVE") {
        Message::Receive(parse_receive(buf, end, pairs, recv_id, nested_id)?)
    } else if is("DELIVER") {
        Message::Deliver(parse_deliver(pairs, recv_id, nested_id)?)
    } else if is("REMAIN") {
        Message::Remain(parse_remain(pairs, recv_id, nested_id)?)
    } else if is("CELLS") {
        Message::Cells(parse_cells(pairs, recv_id, nested_id)?)
    } else if is("BCCH") {
        let mut id = nested_id;
        for p in pairs {
            let p = p?;
            if p.is("id") {
                id = id.or(p.value);
            }
        }
        Message::Bcch(Report { recv_id, id })
    } else if has_key(buf, end, "req")? {
        // A keep-alive whose fields were reordered.
        Message::KeepAlive(parse_keep_alive(buf, end)?)
    } else {
        Message::Other { kind }
    };
    Ok(msg)
}

/// Whether any field is named `key`.
fn has_key(buf: &[u8], end: usize, key: &str) -> Result<bool, Error> {
    for p in Pairs::new(buf, end) {
        if p?.is(key) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A `req:N;…` with `status` and no `id` is an ack (some servers answer
/// `req:` instead of the documented `reg:`).
fn is_ack(buf: &[u8], end: usize) -> Result<bool, Error> {
    Ok(has_key(buf, end, "status")? && !has_key(buf, end, "id")?)
}

fn parse_ack<'a>(first: Pair<'a>, pairs: Pairs<'a>) -> Result<Message<'a>, Error> {
    let counter_at = first.value.map_or(first.key.len(), |v| v.offset);
    let seq = first.value.and_then(|v| parse_u64(v.value)).ok_or(Error::new(ErrorKind::Counter, counter_at))?;
    let mut status = None;
    for p in pairs {
        let p = p?;
        if p.is("status") && status.is_none() {
            status = p.value.and_then(|v| parse_u64(v.value)).and_then(|n| u16::try_from(n).ok());
        }
    }
    Ok(Message::Ack { seq, status })
}

fn parse_keep_alive(buf: &[u8], end: usize) -> Result<KeepAlive<'_>, Error> {
    let mut ka = KeepAlive::default();
    let mut req = None;
    for p in Pairs::new(buf, end) {
        let p = p?;
        let v = p.value;
        if p.is_credential() {
            continue;
        } else if p.is("req") {
            if req.is_none() {
                let at = v.map_or(0, |v| v.offset);
                req = Some(v.and_then(|v| parse_u64(v.value)).ok_or(Error::new(ErrorKind::Counter, at))?);
            }
        } else if p.is("id") {
            ka.id = ka.id.or(v);
        } else if p.is("num") {
            ka.num = ka.num.or(v);
        } else if p.is("signal") {
            ka.signal = ka.signal.or(v.and_then(|v| parse_u64(v.value)).and_then(|n| u8::try_from(n).ok()));
        } else if p.is("gsm_status") {
            ka.gsm_status = ka.gsm_status.or(v.map(|v| LoginStatus::parse(v.value)));
        } else if p.is("voip_status") {
            ka.voip_status = ka.voip_status.or(v.map(|v| LoginStatus::parse(v.value)));
        } else if p.is("voip_state") {
            ka.voip_state = ka.voip_state.or(v);
        } else if p.is("remain_time") {
            ka.remain_time = ka.remain_time.or(v.and_then(|v| parse_i64(v.value)));
        } else if p.is("imei") {
            ka.imei = ka.imei.or(v);
        } else if p.is("imsi") {
            ka.imsi = ka.imsi.or(v);
        } else if p.is("iccid") {
            ka.iccid = ka.iccid.or(v);
        } else if p.is("pro") {
            ka.carrier = ka.carrier.or(v);
        } else if p.is("idle") {
            ka.idle = ka.idle.or(v.and_then(|v| parse_i64(v.value)));
        } else if p.is("disable_status") {
            ka.disable_status = ka.disable_status.or(v.and_then(|v| parse_u64(v.value)));
        } else if p.is("sms_login") {
            ka.sms_login = ka.sms_login.or(v);
        } else if p.is("smb_login") {
            ka.smb_login = ka.smb_login.or(v);
        } else if p.is("cellinfo") {
            if let Some(v) = v.filter(|_| ka.cell_info.is_none()) {
                ka.cell_info = Some(v);
                let (lac, cell_id) = parse_cell_info(v.value);
                ka.lac = ka.lac.or(lac);
                ka.cell_id = ka.cell_id.or(cell_id);
            }
        } else if p.is("lac") {
            // Some firmwares split CELLINFO's parts into fields of their own.
            ka.lac = ka.lac.or(v.and_then(|v| parse_hex(v.value)).and_then(|n| u16::try_from(n).ok()));
        } else if p.is("cell id") || p.is("cellid") {
            ka.cell_id = ka.cell_id.or(v.and_then(|v| parse_hex(v.value)));
        } else if p.is("cgatt") {
            ka.cgatt = ka.cgatt.or(v.and_then(|v| parse_flag(v.value)));
        } else {
            ka.unknown_fields += 1;
        }
    }
    ka.req = req.ok_or(Error::new(ErrorKind::Counter, 0))?;
    Ok(ka)
}

/// `LAC:7E5,CELL ID:5E5B` → (0x7E5, 0x5E5B). Parts are `key:hex`, separated
/// by commas, in any order; quotes and blanks around values are ignored.
fn parse_cell_info(v: &[u8]) -> (Option<u16>, Option<u32>) {
    let (mut lac, mut cell_id) = (None, None);
    for part in v.split(|&b| b == b',') {
        let Some(c) = part.iter().position(|&b| b == b':') else { continue };
        let key = part[..c].trim_ascii();
        let val = unquote(part[c + 1..].trim_ascii());
        if key.eq_ignore_ascii_case(b"LAC") {
            lac = lac.or(parse_hex(val).and_then(|n| u16::try_from(n).ok()));
        } else if key.eq_ignore_ascii_case(b"CELL ID")
            || key.eq_ignore_ascii_case(b"CELLID")
            || key.eq_ignore_ascii_case(b"CI")
        {
            cell_id = cell_id.or(parse_hex(val));
        }
    }
    (lac, cell_id)
}

/// The counter of a report (`STATE:N`) and, for the undocumented variant
/// `RECEIVE:id:…;` seen in one client's logs, a channel id nested in it.
fn report_head<'a>(buf: &'a [u8], first: &Pair<'a>) -> (Option<u64>, Option<Field<'a>>) {
    let Some(v) = first.value else { return (None, None) };
    if let Some(n) = parse_u64(v.value) {
        return (Some(n), None);
    }
    match v.value.iter().position(|&b| b == b':') {
        Some(c) if v.value[..c].trim_ascii().eq_ignore_ascii_case(b"id") && c + 1 < v.value.len() => {
            (None, Some(Field::at(buf, v.offset + c + 1..v.offset + v.value.len())))
        }
        _ => (None, None),
    }
}

fn parse_state<'a>(pairs: Pairs<'a>, recv_id: Option<u64>, id: Option<Field<'a>>) -> Result<State<'a>, Error> {
    let mut m = State { recv_id, id, gsm_remain_state: None, state: None, peer: None };
    for p in pairs {
        let p = p?;
        if p.is("id") {
            m.id = m.id.or(p.value);
        } else if p.is("gsm_remain_state") && m.gsm_remain_state.is_none() {
            if let Some(v) = p.value {
                m.gsm_remain_state = Some(v);
                let (state, peer) = split_at_byte(v, b':');
                m.state = state;
                m.peer = peer;
            }
        }
    }
    Ok(m)
}

fn parse_record<'a>(pairs: Pairs<'a>, recv_id: Option<u64>, id: Option<Field<'a>>) -> Result<Record<'a>, Error> {
    let mut m = Record { recv_id, id, dir: None, num: None };
    for p in pairs {
        let p = p?;
        if p.is("id") {
            m.id = m.id.or(p.value);
        } else if p.is("dir") {
            m.dir = m.dir.or(p.value.and_then(|v| parse_u64(v.value)).map(|n| match n {
                1 => CallDirection::Incoming,
                2 => CallDirection::Outgoing,
                n => CallDirection::Unknown(n),
            }));
        } else if p.is("num") {
            m.num = m.num.or(p.value);
        }
    }
    Ok(m)
}

fn parse_hangup<'a>(pairs: Pairs<'a>, recv_id: Option<u64>, id: Option<Field<'a>>) -> Result<Hangup<'a>, Error> {
    let mut m = Hangup { recv_id, id, num: None, cause: None };
    for p in pairs {
        let p = p?;
        if p.is("id") {
            m.id = m.id.or(p.value);
        } else if p.is("num") && m.num.is_none() {
            // One capture shows `num:<number>,cause:"Normal call clearing`.
            if let Some(v) = p.value {
                let (num, rest) = split_at_byte(v, b',');
                m.num = num;
                if let Some(rest) = rest {
                    if let (Some(k), Some(cause)) = split_at_byte(rest, b':') {
                        if k.value.trim_ascii().eq_ignore_ascii_case(b"cause") {
                            m.cause = m.cause.or(unquote_field(cause));
                        }
                    }
                }
            }
        } else if p.is("cause") {
            m.cause = m.cause.or(p.value.and_then(unquote_field));
        }
    }
    Ok(m)
}

fn parse_receive<'a>(
    buf: &'a [u8],
    end: usize,
    pairs: Pairs<'a>,
    recv_id: Option<u64>,
    id: Option<Field<'a>>,
) -> Result<Receive<'a>, Error> {
    let mut m = Receive { recv_id, id, srcnum: None, msg: None };
    for p in pairs {
        let p = p?;
        if p.is("id") {
            m.id = m.id.or(p.value);
        } else if p.is("srcnum") {
            m.srcnum = m.srcnum.or(p.value);
        } else if p.is("msg") {
            // The text is the last field and may hold `;` and `:`.
            m.msg = p.value.map(|v| Field::at(buf, v.offset..end));
            break;
        }
    }
    Ok(m)
}

fn parse_deliver<'a>(pairs: Pairs<'a>, recv_id: Option<u64>, id: Option<Field<'a>>) -> Result<Deliver<'a>, Error> {
    let mut m = Deliver { recv_id, id, sms_no: None, state: None, num: None };
    for p in pairs {
        let p = p?;
        if p.is("id") {
            m.id = m.id.or(p.value);
        } else if p.is("sms_no") {
            m.sms_no = m.sms_no.or(p.value.and_then(|v| parse_u64(v.value)));
        } else if p.is("state") {
            m.state = m.state.or(p.value);
        } else if p.is("num") {
            m.num = m.num.or(p.value);
        }
    }
    Ok(m)
}

fn parse_remain<'a>(pairs: Pairs<'a>, recv_id: Option<u64>, id: Option<Field<'a>>) -> Result<Remain<'a>, Error> {
    let mut m = Remain { recv_id, id, remain_time: None };
    for p in pairs {
        let p = p?;
        if p.is("id") {
            m.id = m.id.or(p.value);
        } else if p.is("gsm_remain_time") {
            m.remain_time = m.remain_time.or(p.value.and_then(|v| parse_i64(v.value)));
        }
    }
    Ok(m)
}

fn parse_cells<'a>(pairs: Pairs<'a>, recv_id: Option<u64>, id: Option<Field<'a>>) -> Result<Cells<'a>, Error> {
    let mut m = Cells { recv_id, id, lists: None };
    for p in pairs {
        let p = p?;
        if p.is("id") {
            m.id = m.id.or(p.value);
        } else if p.is("lists") {
            m.lists = m.lists.or(p.value);
        }
    }
    Ok(m)
}

/// Splits a field at the first `sep`; empty parts become `None`.
fn split_at_byte(f: Field<'_>, sep: u8) -> (Option<Field<'_>>, Option<Field<'_>>) {
    fn nonempty(x: Field<'_>) -> Option<Field<'_>> {
        (!x.value.is_empty()).then_some(x)
    }
    match f.value.iter().position(|&b| b == sep) {
        Some(i) => (
            nonempty(Field { value: &f.value[..i], offset: f.offset }),
            nonempty(Field { value: &f.value[i + 1..], offset: f.offset + i + 1 }),
        ),
        None => (nonempty(f), None),
    }
}

/// Drops surrounding blanks and a leading and/or trailing `"`.
fn unquote(v: &[u8]) -> &[u8] {
    let v = v.strip_prefix(b"\"").unwrap_or(v);
    v.strip_suffix(b"\"").unwrap_or(v)
}

/// [`unquote`] on a field, keeping the offset right; `None` if nothing is left.
fn unquote_field(f: Field<'_>) -> Option<Field<'_>> {
    let lead = f.value.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let v = f.value[lead..].trim_ascii_end();
    let (start, v) = match v.strip_prefix(b"\"") {
        Some(rest) => (lead + 1, rest),
        None => (lead, v),
    };
    let v = v.strip_suffix(b"\"").unwrap_or(v);
    (!v.is_empty()).then_some(Field { value: v, offset: f.offset + start })
}

/// A decimal `u64` of 1 to 20 digits.
fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 20 {
        return None;
    }
    v.iter().try_fold(
        0u64,
        |n, &b| if b.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(b - b'0')) } else { None },
    )
}

/// A decimal `i64` with an optional leading `-`.
fn parse_i64(v: &[u8]) -> Option<i64> {
    match v.strip_prefix(b"-") {
        Some(rest) => parse_u64(rest).and_then(|n| i64::try_from(n).ok()).map(|n| -n),
        None => parse_u64(v).and_then(|n| i64::try_from(n).ok()),
    }
}

/// Up to 8 hex digits, optionally after `0x`.
fn parse_hex(v: &[u8]) -> Option<u32> {
    let v = v.strip_prefix(b"0x").or_else(|| v.strip_prefix(b"0X")).unwrap_or(v);
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    v.iter().try_fold(0u32, |n, &b| Some((n << 4) | char::from(b).to_digit(16)?))
}

/// `Y`/`1` → true, `N`/`0` → false.
fn parse_flag(v: &[u8]) -> Option<bool> {
    match v {
        b"Y" | b"y" | b"1" => Some(true),
        b"N" | b"n" | b"0" => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// SIM bank

/// Byte order the SIM-bank magic was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// `43 21 56 78` on the wire.
    Big,
    /// `78 56 21 43` on the wire (the ARM firmware's native order).
    Little,
}

/// The order of the SIM-bank magic at offset 0, if it is there.
pub fn simbank_byte_order(buf: &[u8]) -> Option<ByteOrder> {
    let magic: [u8; 4] = buf.get(field::MAGIC)?.try_into().ok()?;
    if magic == SIMBANK_MAGIC.to_be_bytes() {
        Some(ByteOrder::Big)
    } else if magic == SIMBANK_MAGIC.to_le_bytes() {
        Some(ByteOrder::Little)
    } else {
        None
    }
}

/// Whether a payload starts with the SIM-bank magic (either byte order).
pub fn is_simbank(buf: &[u8]) -> bool {
    simbank_byte_order(buf).is_some()
}

/// Field offsets of the SIM-bank header (reconstructed; see module docs).
mod field {
    use std::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const SESSION: Range<usize> = 4..8;
    pub const MSG_TYPE: Range<usize> = 8..10;
    pub const FLAGS: Range<usize> = 10..12;
    pub const PAYLOAD: usize = 12;
}

/// A checked view of a SIM-bank packet header.
#[derive(Debug, Clone)]
pub struct SimBankPacket<T: AsRef<[u8]>> {
    buffer: T,
    order: ByteOrder,
}

impl<T: AsRef<[u8]>> SimBankPacket<T> {
    /// Checks the magic and that a whole header is present; afterwards no
    /// accessor panics.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < field::MAGIC.end {
            return Err(Error::new(ErrorKind::Incomplete, b.len()));
        }
        let order = simbank_byte_order(b).ok_or(Error::new(ErrorKind::Magic, 0))?;
        if b.len() < SIMBANK_HEADER_LEN {
            return Err(Error::new(ErrorKind::Incomplete, b.len()));
        }
        Ok(SimBankPacket { buffer, order })
    }

    /// The order the magic (and so, presumably, the header) is in.
    pub fn byte_order(&self) -> ByteOrder {
        self.order
    }

    fn read<const N: usize>(&self, r: Range<usize>) -> [u8; N] {
        self.buffer.as_ref().get(r).and_then(|s| s.try_into().ok()).unwrap_or([0; N])
    }

    /// Session id or sequence number (tentative).
    pub fn session(&self) -> u32 {
        let b = self.read::<4>(field::SESSION);
        match self.order {
            ByteOrder::Big => u32::from_be_bytes(b),
            ByteOrder::Little => u32::from_le_bytes(b),
        }
    }

    /// Message type (tentative).
    pub fn msg_type(&self) -> u16 {
        let b = self.read::<2>(field::MSG_TYPE);
        match self.order {
            ByteOrder::Big => u16::from_be_bytes(b),
            ByteOrder::Little => u16::from_le_bytes(b),
        }
    }

    /// Flags or sub-type (tentative).
    pub fn flags(&self) -> u16 {
        let b = self.read::<2>(field::FLAGS);
        match self.order {
            ByteOrder::Big => u16::from_be_bytes(b),
            ByteOrder::Little => u16::from_le_bytes(b),
        }
    }

    /// The bytes after the header (RC4-encrypted when a key is set).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::PAYLOAD..).unwrap_or(&[])
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// The header fields of a SIM-bank packet, owned, for tests and emitters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimBankRepr {
    /// Byte order of the header.
    pub order: ByteOrder,
    /// Session or sequence.
    pub session: u32,
    /// Message type.
    pub msg_type: u16,
    /// Flags.
    pub flags: u16,
}

impl SimBankRepr {
    /// Reads the header of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &SimBankPacket<T>) -> Self {
        SimBankRepr {
            order: packet.byte_order(),
            session: packet.session(),
            msg_type: packet.msg_type(),
            flags: packet.flags(),
        }
    }

    /// Writes the header into the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let Some(hdr) = buf.get_mut(..SIMBANK_HEADER_LEN) else {
            return Err(Error::new(ErrorKind::Incomplete, buf.len()));
        };
        let (magic, session, msg_type, flags) = match self.order {
            ByteOrder::Big => (
                SIMBANK_MAGIC.to_be_bytes(),
                self.session.to_be_bytes(),
                self.msg_type.to_be_bytes(),
                self.flags.to_be_bytes(),
            ),
            ByteOrder::Little => (
                SIMBANK_MAGIC.to_le_bytes(),
                self.session.to_le_bytes(),
                self.msg_type.to_le_bytes(),
                self.flags.to_le_bytes(),
            ),
        };
        hdr[field::MAGIC].copy_from_slice(&magic);
        hdr[field::SESSION].copy_from_slice(&session);
        hdr[field::MSG_TYPE].copy_from_slice(&msg_type);
        hdr[field::FLAGS].copy_from_slice(&flags);
        Ok(SIMBANK_HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Synthetic identities with valid check digits (MCC 460): IMEI
    // 86000012345678 + Luhn 1, IMSI 460-00-1234567890, ICCID
    // 8986001234567890123 + Luhn 8.
    const IMEI: &str = "860000123456781";
    const IMSI: &str = "460001234567890";
    const ICCID: &str = "89860012345678901238";
    const SECRET: &str = "pw_Zq7SECRETx";

    fn keep_alive_text() -> String {
        format!(
            "req:27;id:goip01;pass:{SECRET};num:13812345678;signal:29;gsm_status:LOGIN;voip_status:LOGOUT;\
             voip_state:IDLE;remain_time:-1;imei:{IMEI};imsi:{IMSI};iccid:{ICCID};pro:CHINA MOBILE;idle:11;\
             disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;"
        )
    }

    fn keep_alive(buf: &[u8]) -> KeepAlive<'_> {
        match parse(buf) {
            Ok(Message::KeepAlive(k)) => k,
            other => panic!("not a keep-alive: {other:?}"),
        }
    }

    fn text(f: Option<Field<'_>>) -> Option<&str> {
        f.and_then(|f| f.as_str())
    }

    /// Every field a message points at, to check offsets and credentials.
    fn fields<'a>(m: &Message<'a>) -> Vec<Field<'a>> {
        let v: Vec<Option<Field<'a>>> = match m {
            Message::KeepAlive(k) => vec![
                k.id,
                k.num,
                k.voip_state,
                k.imei,
                k.imsi,
                k.iccid,
                k.carrier,
                k.sms_login,
                k.smb_login,
                k.cell_info,
            ],
            Message::State(s) => vec![s.id, s.gsm_remain_state, s.state, s.peer],
            Message::Record(r) => vec![r.id, r.num],
            Message::Hangup(h) => vec![h.id, h.num, h.cause],
            Message::Receive(r) => vec![r.id, r.srcnum, r.msg],
            Message::Deliver(d) => vec![d.id, d.state, d.num],
            Message::Remain(r) => vec![r.id],
            Message::Cells(c) => vec![c.id, c.lists],
            Message::Bcch(b) => vec![b.id],
            Message::Ack { .. } | Message::Reply { .. } | Message::Other { .. } => vec![],
        };
        v.into_iter().flatten().collect()
    }

    fn assert_offsets_point_into(buf: &[u8], m: &Message<'_>) {
        for f in fields(m) {
            assert_eq!(&buf[f.range()], f.value, "{f:?}");
        }
    }

    /// The credential appears in no field, no range and no Debug output.
    fn assert_no_secret(buf: &[u8], m: &Message<'_>, secret: &str) {
        let dbg = format!("{m:?}");
        assert!(!dbg.contains(secret), "Debug leaks the password: {dbg}");
        let at = buf.windows(secret.len()).position(|w| w == secret.as_bytes()).expect("secret in input");
        let secret_range = at..at + secret.len();
        for f in fields(m) {
            let r = f.range();
            assert!(r.end <= secret_range.start || r.start >= secret_range.end, "{f:?} overlaps the password");
        }
        if let Message::Other { kind } | Message::Reply { kind, .. } = m {
            assert!(!String::from_utf8_lossy(kind).contains(secret));
        }
    }

    #[test]
    fn full_keep_alive() {
        let t = keep_alive_text();
        let buf = t.as_bytes();
        let k = keep_alive(buf);
        assert_eq!(k.req, 27);
        assert_eq!(text(k.id), Some("goip01"));
        assert_eq!(text(k.num), Some("13812345678"));
        assert_eq!(k.signal, Some(29));
        assert_eq!(k.gsm_status, Some(LoginStatus::Login));
        assert_eq!(k.voip_status, Some(LoginStatus::Logout));
        assert_eq!(text(k.voip_state), Some("IDLE"));
        assert_eq!(k.remain_time, Some(-1));
        assert_eq!(text(k.imei), Some(IMEI));
        assert_eq!(text(k.imsi), Some(IMSI));
        assert_eq!(text(k.iccid), Some(ICCID));
        assert_eq!(text(k.carrier), Some("CHINA MOBILE"));
        assert_eq!(k.idle, Some(11));
        assert_eq!(k.disable_status, Some(0));
        assert_eq!(text(k.sms_login), Some("N"));
        assert_eq!(k.smb_login, None, "empty values read as absent");
        assert_eq!(text(k.cell_info), Some("LAC:7E5,CELL ID:5E5B"));
        assert_eq!(k.lac, Some(0x7E5));
        assert_eq!(k.cell_id, Some(0x5E5B));
        assert_eq!(k.cgatt, Some(true));
        assert_eq!(k.unknown_fields, 0);
        // Offsets point at the values.
        let imei = k.imei.unwrap();
        assert_eq!(imei.offset, t.find(IMEI).unwrap());
        assert_eq!(&buf[imei.range()], IMEI.as_bytes());
        assert_offsets_point_into(buf, &Message::KeepAlive(k.clone()));
        // Validated identities.
        let imei = k.imei_id().unwrap();
        assert!(imei.is_luhn_valid());
        assert_eq!(imei.tac(), "86000012");
        let imsi = k.imsi_id().unwrap();
        assert_eq!((imsi.mcc(), imsi.mnc(), imsi.cn_operator()), ("460", "00", Some("China Mobile")));
        assert_eq!(k.iccid_id().unwrap().is_luhn_valid(), Some(true));
        assert!(k.msisdn().unwrap().is_cn_mobile());
    }

    #[test]
    fn credential_is_never_exposed() {
        let t = keep_alive_text();
        let m = parse(t.as_bytes()).unwrap();
        assert_no_secret(t.as_bytes(), &m, SECRET);
        // Every report kind, with both spellings of the key.
        let reports = [
            format!("STATE:446;id:c1;password:{SECRET};gsm_remain_state:DIALING:13812345678"),
            format!("RECORD:445;id:c1;password:{SECRET};dir:2;num:13812345678"),
            format!("HANGUP:442;id:c1;password:{SECRET};num:13812345678,cause:\"Normal call clearing\""),
            format!("RECEIVE:441;id:c1;password:{SECRET};srcnum:10086;msg:hello"),
            format!("DELIVER:429;id:c1;password:{SECRET};sms_no:3;state:0;num:13812345678"),
            format!("REMAIN:12;id:c1;password:{SECRET};gsm_remain_time:55"),
            format!("CELLS:7;id:c1;password:{SECRET};lists:1,2,3"),
            format!("BCCH:7;id:c1;password:{SECRET};x:1"),
            format!("EXPIRY:7;id:c1;password:{SECRET}"),
            format!("req:9;pass:{SECRET};id:c1"),
            format!("PASSWORD 12 {SECRET}\n"),
            format!("USSD 13 {SECRET} *100#"),
        ];
        for r in &reports {
            let m = parse(r.as_bytes()).unwrap_or_else(|e| panic!("{r}: {e}"));
            assert_no_secret(r.as_bytes(), &m, SECRET);
        }
    }

    #[test]
    fn reordered_missing_and_empty_fields() {
        let t = format!("req:3;imsi:{IMSI};id:ch2;num:;signal:;pass:;imei:{IMEI};");
        let k = keep_alive(t.as_bytes());
        assert_eq!((k.req, text(k.id), k.num, k.signal), (3, Some("ch2"), None, None));
        assert_eq!((text(k.imei), text(k.imsi), k.iccid), (Some(IMEI), Some(IMSI), None));
        // `req` not first: still a keep-alive.
        let t = format!("id:ch2;req:4;imei:{IMEI}");
        let k = keep_alive(t.as_bytes());
        assert_eq!((k.req, text(k.id), text(k.imei)), (4, Some("ch2"), Some(IMEI)));
        // Keys in other letter cases, CRLF at the end.
        let k = keep_alive(b"req:5;ID:x;IMEI:860000123456781;cellinfo:lac:1a2b, cell id:\"0F\";cgatt:N\r\n");
        assert_eq!(
            (text(k.id), text(k.imei), k.lac, k.cell_id, k.cgatt),
            (Some("x"), Some(IMEI), Some(0x1A2B), Some(0xF), Some(false))
        );
        // Bare minimum.
        let k = keep_alive(b"req:1;");
        assert_eq!((k.req, k.id, k.unknown_fields), (1, None, 0));
    }

    #[test]
    fn cell_info_variants() {
        // Parts reordered; a separate CELL ID field; UMTS-sized cell id; junk.
        let k = keep_alive(b"req:1;CELLINFO:CELL ID:5E5B,LAC:7E5");
        assert_eq!((k.lac, k.cell_id), (Some(0x7E5), Some(0x5E5B)));
        let k = keep_alive(b"req:1;CELLINFO:LAC:7E5;CELL ID:5E5B;");
        assert_eq!((k.lac, k.cell_id), (Some(0x7E5), Some(0x5E5B)));
        let k = keep_alive(b"req:1;CELLINFO:LAC:FFFE,CELL ID:0x0ABCDEF1");
        assert_eq!((k.lac, k.cell_id), (Some(0xFFFE), Some(0x0ABC_DEF1)));
        let k = keep_alive(b"req:1;CELLINFO:LAC:12345,CELL ID:zz,,:,LAC");
        assert_eq!((k.lac, k.cell_id), (None, None));
        assert_eq!(text(k.cell_info), Some("LAC:12345,CELL ID:zz,,:,LAC"));
    }

    #[test]
    fn counters() {
        assert_eq!(parse(b"req:;id:x").unwrap_err(), Error::new(ErrorKind::Counter, 0));
        assert_eq!(parse(b"req:abc;id:x").unwrap_err(), Error::new(ErrorKind::Counter, 4));
        assert_eq!(parse(b"req:99999999999999999999999;id:x").unwrap_err().kind, ErrorKind::Counter);
        assert_eq!(parse(b"reg:x;status:200").unwrap_err(), Error::new(ErrorKind::Counter, 4));
        let k = keep_alive(b"req:18446744073709551615;id:x");
        assert_eq!(k.req, u64::MAX);
    }

    #[test]
    fn acks() {
        assert_eq!(parse(b"reg:10;status:200;").unwrap(), Message::Ack { seq: 10, status: Some(200) });
        assert_eq!(parse(b"reg:10;status:0;").unwrap(), Message::Ack { seq: 10, status: Some(0) });
        assert_eq!(parse(b"reg:10;").unwrap(), Message::Ack { seq: 10, status: None });
        // The `req:` spelling some servers use.
        assert_eq!(parse(b"req:10;status:200;").unwrap(), Message::Ack { seq: 10, status: Some(200) });
    }

    #[test]
    fn reports() {
        let buf = b"STATE:446;id:c1;password:x;gsm_remain_state:DIALING:13812345678";
        let Message::State(s) = parse(buf).unwrap() else { panic!() };
        assert_eq!((s.recv_id, text(s.id)), (Some(446), Some("c1")));
        assert_eq!((text(s.state), text(s.peer)), (Some("DIALING"), Some("13812345678")));
        let Message::State(s) = parse(b"STATE:447;id:c1;gsm_remain_state:IDLE").unwrap() else { panic!() };
        assert_eq!((text(s.state), s.peer), (Some("IDLE"), None));

        let Message::Record(r) = parse(b"RECORD:445;id:c1;password:x;dir:2;num:13812345678").unwrap() else { panic!() };
        assert_eq!((r.recv_id, r.dir, text(r.num)), (Some(445), Some(CallDirection::Outgoing), Some("13812345678")));
        let Message::Record(r) = parse(b"RECORD:1;dir:1;num:+8613812345678").unwrap() else { panic!() };
        assert_eq!(r.dir, Some(CallDirection::Incoming));
        assert!(r.num.unwrap().to_msisdn().unwrap().is_cn_mobile());
        let Message::Record(r) = parse(b"RECORD:1;dir:7").unwrap() else { panic!() };
        assert_eq!(r.dir, Some(CallDirection::Unknown(7)));

        let buf = b"HANGUP:442;id:c1;password:x;num:13812345678,cause:\"Normal call clearing";
        let Message::Hangup(h) = parse(buf).unwrap() else { panic!() };
        assert_eq!((text(h.num), text(h.cause)), (Some("13812345678"), Some("Normal call clearing")));
        assert_offsets_point_into(buf, &Message::Hangup(h));
        let Message::Hangup(h) = parse(b"HANGUP:442;id:c1;num:,cause:\"Normal\"").unwrap() else { panic!() };
        assert_eq!((h.num, text(h.cause)), (None, Some("Normal")));
        let Message::Hangup(h) = parse(b"HANGUP:2;num:10086;cause:16").unwrap() else { panic!() };
        assert_eq!((text(h.num), text(h.cause)), (Some("10086"), Some("16")));

        let buf = b"RECEIVE:441;id:c1;password:x;srcnum:10086;msg:bal: 5.00; valid:2030\r\n";
        let Message::Receive(r) = parse(buf).unwrap() else { panic!() };
        assert_eq!((r.recv_id, text(r.srcnum), text(r.msg)), (Some(441), Some("10086"), Some("bal: 5.00; valid:2030")));
        assert_offsets_point_into(buf, &Message::Receive(r));
        // A variant without the counter, as one client logs it.
        let Message::Receive(r) = parse(b"RECEIVE:id:1;password:x;srcnum:+1234567890;msg:Hi").unwrap() else {
            panic!()
        };
        assert_eq!((r.recv_id, text(r.id), text(r.msg)), (None, Some("1"), Some("Hi")));

        let Message::Deliver(d) = parse(b"DELIVER:429;id:c1;password:x;sms_no:3;state:0;num:13812345678").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (d.recv_id, d.sms_no, text(d.state), text(d.num)),
            (Some(429), Some(3), Some("0"), Some("13812345678"))
        );

        let Message::Remain(r) = parse(b"REMAIN:5;id:c1;password:x;gsm_remain_time:-1").unwrap() else { panic!() };
        assert_eq!((r.recv_id, r.remain_time), (Some(5), Some(-1)));
        let Message::Cells(c) = parse(b"CELLS:6;id:c1;password:x;lists:460,00,7E5,5E5B").unwrap() else { panic!() };
        assert_eq!(text(c.lists), Some("460,00,7E5,5E5B"));
        assert_eq!(
            parse(b"BCCH:8;id:c3;x:y").unwrap(),
            Message::Bcch(Report { recv_id: Some(8), id: Some(Field { value: b"c3", offset: 10 }) })
        );
        assert_eq!(parse(b"EXPIRY:1;id:c1").unwrap(), Message::Other { kind: b"EXPIRY" });
        assert_eq!(parse(b"EXPIRY:1;id:c1").unwrap().channel_id(), None);
        assert_eq!(text(parse(b"CELLS:1;id:c9").unwrap().channel_id()), Some("c9"));
    }

    #[test]
    fn space_form() {
        assert_eq!(parse(b"RECEIVE 441 OK\n").unwrap(), Message::Reply { kind: b"RECEIVE", seq: 441, ok: true });
        assert_eq!(parse(b"STATE 7 ERROR auth failed").unwrap(), Message::Reply { kind: b"STATE", seq: 7, ok: false });
        assert_eq!(parse(b"STATE x OK").unwrap(), Message::Other { kind: b"STATE" });
        assert_eq!(parse(b"MSG 1 5 hello").unwrap(), Message::Other { kind: b"MSG" });
        assert_eq!(parse(b"DONE 1\n").unwrap(), Message::Other { kind: b"DONE" });
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b"").unwrap_err(), Error::new(ErrorKind::Incomplete, 0));
        assert_eq!(parse(b"\r\n").unwrap_err(), Error::new(ErrorKind::Incomplete, 0));
        assert_eq!(parse(b"req").unwrap_err(), Error::new(ErrorKind::Incomplete, 3));
        assert_eq!(parse(b":1;id:x").unwrap_err(), Error::new(ErrorKind::Syntax, 0));
        assert_eq!(parse(b"\x80\x00abc").unwrap_err(), Error::new(ErrorKind::Syntax, 0));
        assert_eq!(parse(b"req=1").unwrap_err(), Error::new(ErrorKind::Syntax, 3));
        let big = vec![b'a'; MAX_MESSAGE_LEN + 1];
        assert_eq!(parse(&big).unwrap_err().kind, ErrorKind::TooLarge);
        let many = format!("req:1;{}", "x:1;".repeat(MAX_FIELDS));
        assert_eq!(parse(many.as_bytes()).unwrap_err().kind, ErrorKind::TooManyFields);
        let just_enough = format!("req:1;{}", "x:1;".repeat(MAX_FIELDS - 1));
        assert_eq!(keep_alive(just_enough.as_bytes()).unknown_fields, MAX_FIELDS - 1);
        // An SMS may hold many `;` after `msg:` without hitting the limit.
        let sms = format!("RECEIVE:1;id:c1;srcnum:1;msg:{}", ";".repeat(MAX_FIELDS * 2));
        assert!(matches!(parse(sms.as_bytes()), Ok(Message::Receive(_))));
        for k in ErrorKind::ALL {
            assert!(k.name().starts_with("goip_"));
        }
        assert_eq!(Error::new(ErrorKind::Counter, 4).to_string(), "GoIP goip_counter at byte 4");
    }

    #[test]
    fn looks_like_table() {
        let t = keep_alive_text();
        let yes: &[&[u8]] = &[
            t.as_bytes(),
            b"reg:10;status:200;",
            b"STATE:446;id:c1",
            b"RECORD:1;dir:1",
            b"RECEIVE:id:1;msg:x",
            b"BCCH:2;id:c1",
            b"RECEIVE 441 OK\n",
            b"PASSWORD 1 x\n",
            b"MSG 1 5 hello",
        ];
        for b in yes {
            assert!(looks_like_goip_sms(b), "{}", b.escape_ascii());
        }
        let no: &[&[u8]] = &[
            b"",
            b"req:",
            b"REGISTER sip:example.com SIP/2.0\r\n",
            b"SIP/2.0 200 OK\r\n",
            b"\x80\x08\x00\x01\x00\x00\x00\xa0\xde\xad\xbe\xef",
            b"req:x;id:1",
            b"STATE:",
            b"STATE OK",
            b"id:ch2;req:4;imei:1",
            b"xV!C\x00\x00\x00\x01",
        ];
        for b in no {
            assert!(!looks_like_goip_sms(b), "{}", b.escape_ascii());
        }
    }

    /// Every prefix of a valid message parses or fails cleanly; once the
    /// counter is in, it parses as the same kind, and values it holds are
    /// prefixes of the full message's values at the same offsets.
    #[test]
    fn growing_prefixes() {
        let t = keep_alive_text();
        let messages: Vec<&[u8]> = vec![
            t.as_bytes(),
            b"reg:10;status:200;",
            b"STATE:446;id:c1;password:x;gsm_remain_state:DIALING:13812345678",
            b"RECORD:445;id:c1;password:x;dir:2;num:13812345678",
            b"HANGUP:442;id:c1;password:x;num:13812345678,cause:\"Normal call clearing\"",
            b"RECEIVE:441;id:c1;password:x;srcnum:10086;msg:hello; world",
            b"DELIVER:429;id:c1;password:x;sms_no:3;state:0;num:13812345678",
        ];
        for full in messages {
            let whole = parse(full).unwrap();
            let counter_end = full.iter().position(|b| b.is_ascii_digit()).unwrap() + 1;
            for n in 0..=full.len() {
                let prefix = &full[..n];
                let got = parse(prefix);
                if n < counter_end {
                    // Before the counter's first digit the kind may not be
                    // known yet; only a clean result is required.
                    if let Ok(m) = &got {
                        assert_offsets_point_into(prefix, m);
                    }
                    continue;
                }
                let m = got.unwrap_or_else(|e| panic!("{}: {e}", prefix.escape_ascii()));
                assert_eq!(m.name(), whole.name(), "{}", prefix.escape_ascii());
                assert_offsets_point_into(prefix, &m);
                if let (Message::KeepAlive(a), Message::KeepAlive(b)) = (&m, &whole) {
                    for (x, y) in [(a.imei, b.imei), (a.imsi, b.imsi), (a.iccid, b.iccid), (a.id, b.id)] {
                        if let (Some(x), Some(y)) = (x, y) {
                            assert_eq!(x.offset, y.offset);
                            assert!(y.value.starts_with(x.value));
                        }
                    }
                }
            }
        }
    }

    /// Prefixes of a reply are replies only once complete, otherwise other.
    #[test]
    fn growing_prefixes_space_form() {
        let full = b"RECEIVE 441 OK";
        for n in 0..=full.len() {
            match parse(&full[..n]) {
                Ok(Message::Reply { kind, seq, ok }) => {
                    assert_eq!((kind, seq, ok), (&b"RECEIVE"[..], 441, n == full.len()))
                }
                Ok(Message::Other { kind }) => assert_eq!(kind, b"RECEIVE"),
                Ok(m) => panic!("{m:?}"),
                Err(e) => assert_eq!(e.kind, ErrorKind::Incomplete),
            }
        }
    }

    #[test]
    fn simbank_magic_both_orders() {
        assert!(is_simbank(&[0x43, 0x21, 0x56, 0x78]));
        assert!(is_simbank(b"xV!C\x01\x00\x00\x00"));
        assert_eq!(simbank_byte_order(&[0x43, 0x21, 0x56, 0x78, 0]), Some(ByteOrder::Big));
        assert_eq!(simbank_byte_order(&[0x78, 0x56, 0x21, 0x43]), Some(ByteOrder::Little));
        assert!(!is_simbank(&[0x43, 0x21, 0x56]));
        assert!(!is_simbank(&[0x00, 0x43, 0x21, 0x56, 0x78]));
        assert!(!is_simbank(b"req:1;id:x"));
        assert!(!is_simbank(&[]));
    }

    #[test]
    fn simbank_header_view() {
        let mut buf = [0u8; 21];
        buf[..12].copy_from_slice(&[0x43, 0x21, 0x56, 0x78, 0x00, 0x01, 0xB1, 0xFD, 0x00, 0x05, 0x80, 0x01]);
        buf[12..].copy_from_slice(b"\x9a\x1crc4data");
        let p = SimBankPacket::new_checked(&buf[..]).unwrap();
        assert_eq!((p.byte_order(), p.session(), p.msg_type(), p.flags()), (ByteOrder::Big, 0x0001_B1FD, 5, 0x8001));
        assert_eq!(p.payload(), b"\x9a\x1crc4data");
        let le = [0x78, 0x56, 0x21, 0x43, 0xFD, 0xB1, 0x01, 0x00, 0x05, 0x00, 0x01, 0x80];
        let p = SimBankPacket::new_checked(&le[..]).unwrap();
        assert_eq!((p.byte_order(), p.session(), p.msg_type(), p.flags()), (ByteOrder::Little, 0x0001_B1FD, 5, 0x8001));
        assert_eq!(p.payload(), b"");
        assert_eq!(SimBankPacket::new_checked(&le[..3]).unwrap_err(), Error::new(ErrorKind::Incomplete, 3));
        assert_eq!(SimBankPacket::new_checked(&le[..11]).unwrap_err(), Error::new(ErrorKind::Incomplete, 11));
        assert_eq!(SimBankPacket::new_checked(&b"req:1;id:x;"[..]).unwrap_err(), Error::new(ErrorKind::Magic, 0));
    }

    #[test]
    fn simbank_repr_round_trip_and_prefixes() {
        for order in [ByteOrder::Big, ByteOrder::Little] {
            let repr = SimBankRepr { order, session: 0xDEAD_BEEF, msg_type: 0x0102, flags: 7 };
            let mut buf = [0u8; 16];
            assert_eq!(repr.emit(&mut buf), Ok(SIMBANK_HEADER_LEN));
            let p = SimBankPacket::new_checked(&buf[..]).unwrap();
            assert_eq!(SimBankRepr::parse(&p), repr);
            assert_eq!(p.into_inner().len(), 16);
            for n in 0..SIMBANK_HEADER_LEN {
                let e = SimBankPacket::new_checked(&buf[..n]).unwrap_err();
                assert_eq!(e.kind, ErrorKind::Incomplete, "{n}");
                assert_eq!(is_simbank(&buf[..n]), n >= 4);
            }
            assert_eq!(repr.emit(&mut [0u8; 11]).unwrap_err().kind, ErrorKind::Incomplete);
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = looks_like_goip_sms(&buf);
            if let Ok(m) = parse(&buf) {
                assert_offsets_point_into(&buf, &m);
                let _ = format!("{m:?}");
            }
            let _ = is_simbank(&buf);
            if let Ok(p) = SimBankPacket::new_checked(&buf[..]) {
                let _ = (p.session(), p.msg_type(), p.flags(), p.payload().len(), SimBankRepr::parse(&p));
            }
        }

        #[test]
        fn random_goip_like_text_never_panics(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("req:"), Just("reg:"), Just("STATE:"), Just("RECEIVE:"), Just("HANGUP:"), Just("RECORD:"),
                    Just(";"), Just(":"), Just(","), Just("id:"), Just("imei:"), Just("msg:"), Just("CELLINFO:"),
                    Just("LAC:"), Just("CELL ID:"), Just("num:"), Just("cause:"), Just("\""), Just("-"), Just(" "),
                    Just("7E5"), Just("12"), Just("99999999999999999999999"), Just("\r\n"), Just("pass:"),
                ],
                0..40,
            )
        ) {
            let s = parts.concat();
            let _ = looks_like_goip_sms(s.as_bytes());
            if let Ok(m) = parse(s.as_bytes()) {
                assert_offsets_point_into(s.as_bytes(), &m);
            }
        }

        #[test]
        fn random_password_never_exposed(pw in "[A-Za-z0-9_!@#%^&*()-]{1,24}", which in 0usize..4) {
            let secret = format!("PW{pw}");
            let buf = match which {
                0 => format!("req:1;id:c1;pass:{secret};imei:{IMEI};imsi:{IMSI}"),
                1 => format!("RECEIVE:2;id:c1;password:{secret};srcnum:1;msg:hi"),
                2 => format!("STATE:3;password:{secret};id:c1;gsm_remain_state:IDLE"),
                _ => format!("PASSWORD 4 {secret}"),
            };
            let m = parse(buf.as_bytes()).unwrap();
            assert_no_secret(buf.as_bytes(), &m, &secret);
        }
    }
}
