//! GSM layer 3: the messages a passive receiver or a BTS feed shows about
//! subscribers (IMSI, TMSI), devices (IMEI, IMEISV), cells (LAI, cell
//! identity) and calls (called and calling numbers).
//!
//! Framing (TS 24.007 §11.2.3): octet 1 holds the protocol discriminator in
//! its low nibble and a skip indicator or transaction identifier in its high
//! nibble; octet 2 is the message type. For MM, CC and SS the two high bits
//! of the type are the send sequence number N(SD) and are masked off (`& 0x3f`);
//! RR, GMM, SM and SMS use the whole octet.
//!
//! Decoded (everything else is counted by its [`MessageType`] only):
//! - RR (TS 44.018): Paging Request Type 1/2/3 (§9.1.22–24), Immediate
//!   Assignment (§9.1.18), System Information 3/4 (§9.1.35–36), Paging
//!   Response (§9.1.25), Ciphering Mode Complete (§9.1.10, IMEISV).
//! - MM (TS 24.008 §9.2): Location Updating Request/Accept, IMSI Detach
//!   Indication, Identity Request/Response, CM Service Request, CM
//!   Re-establishment Request, TMSI Reallocation Command.
//! - CC (§9.3): Setup (called/calling BCD numbers), Connect, Disconnect,
//!   Release, Release Complete (causes).
//! - GMM (§9.4), for the identities they carry: Attach Request/Accept, Detach
//!   Request, Routing Area Update Request/Accept, P-TMSI Reallocation Command,
//!   Identity Response.
//!
//! Contract: [`Packet::new_checked`] needs the 2 header octets; [`Message::parse`]
//! never panics on any bytes. Unknown protocol discriminators and message types
//! are values ([`MessageType::Unknown`], `…Type::Unknown(n)`), never errors.
//! Mandatory IEs are strict; a truncated *optional* IE ends the IE walk (radio
//! captures often pad messages), but an optional IE that is present and
//! malformed is an error.

use std::fmt;

/// Declares an open enum over an integer whose known values also carry their
/// snake_case specification name (`open_enum!` plus `name()`).
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident($ty:ty) {
            $( $variant:ident = $value:expr => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( #[doc = $text] $variant, )+
            /// A value this parser has no name for.
            Unknown($ty),
        }

        impl From<$ty> for $name {
            fn from(value: $ty) -> Self {
                match value {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for $ty {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }

        impl $name {
            /// The snake_case name from the specification, or `unknown`.
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Unknown(_) => "unknown",
                }
            }
        }
    };
}

pub(crate) use named_enum;

mod cc;
mod gmm;
pub mod ie;
mod mm;
mod rr;
mod types;

pub use cc::Setup;
pub use ie::{
    BcdNumber, Cause, Digits, Guti, Identity, IdentityDigits, IdentityType, Lai, MobileIdentity, NumberDigits, Plmn,
    TypeOfNumber,
};
pub use mm::{CmServiceType, LocationUpdatingType};
pub use rr::{
    ChannelDescription, ChannelKind, EstablishmentCause, ImmediateAssignment, PagingRequest, RequestReference,
    SystemInformation3, SystemInformation4,
};
pub use types::{CcType, GmmType, MmType, RrType, SmType, SmsType, SsType};

use super::wire::open_enum;

/// Why GSM L3 (or EPS NAS) bytes could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("L3 {kind} at byte {offset}")]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where, counted from the start of the message.
    pub offset: usize,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, offset: usize) -> Error {
        Error { kind, offset }
    }

    /// The same error `by` octets further into an enclosing buffer.
    pub(crate) fn shifted(self, by: usize) -> Error {
        Error { kind: self.kind, offset: self.offset + by }
    }
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The message ends inside a mandatory field or a length it declares
    /// (incomplete input, not invalid input).
    Truncated,
    /// A field holds a value or length the specification does not allow.
    Malformed,
    /// A digit position of a BCD field holds a non-decimal nibble.
    BadDigit,
    /// More digits than the named limit allows.
    TooLong,
}

impl ErrorKind {
    /// A stable snake_case name for counters and reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Truncated => "truncated",
            ErrorKind::Malformed => "malformed",
            ErrorKind::BadDigit => "bad_digit",
            ErrorKind::TooLong => "too_long",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

open_enum! {
    /// Protocol discriminators (TS 24.007 table 11.2).
    pub enum Pd(u8) {
        /// Group call control.
        GroupCc = 0x00,
        /// Broadcast call control.
        BroadcastCc = 0x01,
        /// EPS session management (NAS).
        Esm = 0x02,
        /// Call control and call-related supplementary services.
        Cc = 0x03,
        /// GPRS transparent transport protocol.
        Gttp = 0x04,
        /// Mobility management.
        Mm = 0x05,
        /// Radio resource management.
        Rr = 0x06,
        /// EPS mobility management (NAS).
        Emm = 0x07,
        /// GPRS mobility management.
        Gmm = 0x08,
        /// Short message service.
        Sms = 0x09,
        /// GPRS session management.
        Sm = 0x0a,
        /// Non-call-related supplementary services.
        Ss = 0x0b,
        /// Location services.
        Lcs = 0x0c,
        /// Extension of the PD to one octet.
        Extension = 0x0e,
        /// Test procedures.
        Test = 0x0f,
    }
}

impl Pd {
    /// A stable snake_case name, the prefix of message names.
    pub fn name(self) -> &'static str {
        match self {
            Pd::GroupCc => "gcc",
            Pd::BroadcastCc => "bcc",
            Pd::Esm => "esm",
            Pd::Cc => "cc",
            Pd::Gttp => "gttp",
            Pd::Mm => "mm",
            Pd::Rr => "rr",
            Pd::Emm => "emm",
            Pd::Gmm => "gmm",
            Pd::Sms => "sms",
            Pd::Sm => "sm",
            Pd::Ss => "ss",
            Pd::Lcs => "lcs",
            Pd::Extension => "ext",
            Pd::Test => "test",
            Pd::Unknown(_) => "pd_unknown",
        }
    }

    /// True when bits 7–8 of the message type are a send sequence number.
    fn has_send_sequence(self) -> bool {
        matches!(self, Pd::Mm | Pd::Cc | Pd::Ss)
    }
}

/// Mask of the message type bits under a send sequence number.
const SEND_SEQUENCE_MASK: u8 = 0x3f;

mod field {
    pub const PD: usize = 0;
    pub const MESSAGE_TYPE: usize = 1;
}

/// Length of the L3 header (PD octet and message type).
pub const HEADER_LEN: usize = 2;

/// A read-only view of a GSM L3 message.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer, checking it holds the 2 header octets.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::new(ErrorKind::Truncated, len));
        }
        Ok(Packet { buffer })
    }

    /// Protocol discriminator.
    pub fn pd(&self) -> Pd {
        Pd::from(self.buffer.as_ref()[field::PD] & 0x0f)
    }

    /// The high nibble of octet 1: skip indicator (RR, MM, GMM) or transaction identifier.
    pub fn skip_or_transaction(&self) -> u8 {
        self.buffer.as_ref()[field::PD] >> 4
    }

    /// The message type octet as sent.
    pub fn raw_message_type(&self) -> u8 {
        self.buffer.as_ref()[field::MESSAGE_TYPE]
    }

    /// The send sequence number N(SD), for MM, CC and SS.
    pub fn send_sequence(&self) -> Option<u8> {
        self.pd().has_send_sequence().then(|| self.raw_message_type() >> 6)
    }

    /// The message type, by protocol.
    pub fn message_type(&self) -> MessageType {
        MessageType::new(self.pd(), self.raw_message_type())
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The whole message, header included (IE offsets count from here).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buffer
    }
}

/// A message type together with its protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Radio resource management.
    Rr(RrType),
    /// Mobility management.
    Mm(MmType),
    /// Call control.
    Cc(CcType),
    /// GPRS mobility management.
    Gmm(GmmType),
    /// GPRS session management.
    Sm(SmType),
    /// Short message control protocol.
    Sms(SmsType),
    /// Supplementary services.
    Ss(SsType),
    /// A protocol without a type table here, with its raw type octet.
    Unknown(Pd, u8),
}

impl MessageType {
    /// Read a type octet under protocol `pd`.
    pub fn new(pd: Pd, octet: u8) -> MessageType {
        let code = if pd.has_send_sequence() { octet & SEND_SEQUENCE_MASK } else { octet };
        match pd {
            Pd::Rr => MessageType::Rr(code.into()),
            Pd::Mm => MessageType::Mm(code.into()),
            Pd::Cc => MessageType::Cc(code.into()),
            Pd::Gmm => MessageType::Gmm(code.into()),
            Pd::Sm => MessageType::Sm(code.into()),
            Pd::Sms => MessageType::Sms(code.into()),
            Pd::Ss => MessageType::Ss(code.into()),
            other => MessageType::Unknown(other, code),
        }
    }

    /// The protocol.
    pub fn pd(&self) -> Pd {
        match self {
            MessageType::Rr(_) => Pd::Rr,
            MessageType::Mm(_) => Pd::Mm,
            MessageType::Cc(_) => Pd::Cc,
            MessageType::Gmm(_) => Pd::Gmm,
            MessageType::Sm(_) => Pd::Sm,
            MessageType::Sms(_) => Pd::Sms,
            MessageType::Ss(_) => Pd::Ss,
            MessageType::Unknown(pd, _) => *pd,
        }
    }

    /// The type code (masked for MM, CC and SS).
    pub fn code(&self) -> u8 {
        match *self {
            MessageType::Rr(t) => t.into(),
            MessageType::Mm(t) => t.into(),
            MessageType::Cc(t) => t.into(),
            MessageType::Gmm(t) => t.into(),
            MessageType::Sm(t) => t.into(),
            MessageType::Sms(t) => t.into(),
            MessageType::Ss(t) => t.into(),
            MessageType::Unknown(_, code) => code,
        }
    }

    /// The snake_case specification name, or `unknown`.
    pub fn name(&self) -> &'static str {
        match *self {
            MessageType::Rr(t) => t.name(),
            MessageType::Mm(t) => t.name(),
            MessageType::Cc(t) => t.name(),
            MessageType::Gmm(t) => t.name(),
            MessageType::Sm(t) => t.name(),
            MessageType::Sms(t) => t.name(),
            MessageType::Ss(t) => t.name(),
            MessageType::Unknown(..) => "unknown",
        }
    }

    /// True when the type has a name here.
    pub fn is_known(&self) -> bool {
        self.name() != "unknown"
    }
}

impl PartialOrd for MessageType {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MessageType {
    /// By protocol discriminator, then type code.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (u8::from(self.pd()), self.code()).cmp(&(u8::from(other.pd()), other.code()))
    }
}

impl fmt::Display for MessageType {
    /// `rr.paging_request_1`, or `rr.unknown_0x45` for an unnamed type.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_known() {
            write!(f, "{}.{}", self.pd().name(), self.name())
        } else {
            write!(f, "{}.unknown_0x{:02x}", self.pd().name(), self.code())
        }
    }
}

/// A decoded GSM L3 message: the fields duanka tracks, owned and small.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// RR Paging Request Type 1, 2 or 3.
    PagingRequest(PagingRequest),
    /// RR Immediate Assignment.
    ImmediateAssignment(ImmediateAssignment),
    /// RR System Information Type 3.
    SystemInformation3(SystemInformation3),
    /// RR System Information Type 4.
    SystemInformation4(SystemInformation4),
    /// RR Paging Response.
    PagingResponse {
        /// Ciphering key sequence number.
        cksn: u8,
        /// The paged phone's identity.
        identity: MobileIdentity,
    },
    /// RR Ciphering Mode Complete.
    CipheringModeComplete {
        /// The IMEISV, when the network asked for it.
        imeisv: Option<MobileIdentity>,
    },
    /// MM Location Updating Request.
    LocationUpdatingRequest {
        /// Normal, periodic or IMSI attach.
        update_type: LocationUpdatingType,
        /// Follow-on request pending.
        follow_on: bool,
        /// Ciphering key sequence number.
        cksn: u8,
        /// The location area the phone was last registered in.
        lai: Lai,
        /// IMSI or TMSI.
        identity: MobileIdentity,
    },
    /// MM Location Updating Accept.
    LocationUpdatingAccept {
        /// The location area now registered.
        lai: Lai,
        /// A newly allocated TMSI (or the IMSI, when the TMSI is withdrawn).
        identity: Option<MobileIdentity>,
    },
    /// MM IMSI Detach Indication.
    ImsiDetachIndication {
        /// IMSI or TMSI.
        identity: MobileIdentity,
    },
    /// MM Identity Request.
    IdentityRequest {
        /// The identity asked for.
        identity_type: IdentityType,
    },
    /// MM Identity Response.
    IdentityResponse {
        /// The identity given.
        identity: MobileIdentity,
    },
    /// MM CM Service Request.
    CmServiceRequest {
        /// What the phone wants (call, SMS, SS, …).
        service_type: CmServiceType,
        /// Ciphering key sequence number.
        cksn: u8,
        /// IMSI or TMSI.
        identity: MobileIdentity,
    },
    /// MM CM Re-establishment Request.
    CmReestablishmentRequest {
        /// Ciphering key sequence number.
        cksn: u8,
        /// IMSI or TMSI.
        identity: MobileIdentity,
        /// The location area, sent with a TMSI.
        lai: Option<Lai>,
    },
    /// MM TMSI Reallocation Command.
    TmsiReallocationCommand {
        /// The location area the TMSI is valid in.
        lai: Lai,
        /// The new TMSI (or IMSI).
        identity: MobileIdentity,
    },
    /// CC Setup.
    Setup(Setup),
    /// CC Connect.
    Connect,
    /// CC Disconnect.
    Disconnect {
        /// Why.
        cause: Cause,
    },
    /// CC Release.
    Release {
        /// Why, when given.
        cause: Option<Cause>,
    },
    /// CC Release Complete.
    ReleaseComplete {
        /// Why, when given.
        cause: Option<Cause>,
    },
    /// GMM Attach Request.
    GprsAttachRequest {
        /// P-TMSI or IMSI.
        identity: MobileIdentity,
    },
    /// GMM Attach Accept.
    GprsAttachAccept {
        /// The allocated P-TMSI.
        ptmsi: Option<MobileIdentity>,
        /// A TMSI allocated by a combined attach.
        ms_identity: Option<MobileIdentity>,
    },
    /// GMM Detach Request.
    GprsDetachRequest {
        /// The P-TMSI (phone-originated detach).
        ptmsi: Option<MobileIdentity>,
    },
    /// GMM Routing Area Update Request.
    RoutingAreaUpdateRequest {
        /// The P-TMSI.
        ptmsi: Option<MobileIdentity>,
        /// Additional mobile identity.
        additional: Option<MobileIdentity>,
    },
    /// GMM Routing Area Update Accept.
    RoutingAreaUpdateAccept {
        /// The allocated P-TMSI.
        ptmsi: Option<MobileIdentity>,
        /// A TMSI allocated by a combined update.
        ms_identity: Option<MobileIdentity>,
    },
    /// GMM P-TMSI Reallocation Command.
    PtmsiReallocationCommand {
        /// The allocated P-TMSI.
        ptmsi: MobileIdentity,
    },
    /// GMM Identity Response.
    GprsIdentityResponse {
        /// The identity given.
        identity: MobileIdentity,
    },
    /// A message whose fields are not decoded here (counted by its type).
    Other(MessageType),
}

impl Message {
    /// Decode a checked message.
    pub fn parse(packet: &Packet<&[u8]>) -> Result<Message, Error> {
        let msg = packet.as_bytes();
        match packet.message_type() {
            MessageType::Rr(t) => rr::parse(t, msg),
            MessageType::Mm(t) => mm::parse(t, msg),
            MessageType::Cc(t) => cc::parse(t, msg),
            MessageType::Gmm(t) => gmm::parse(t, msg),
            other => Ok(Message::Other(other)),
        }
    }

    /// Decode a message from bytes (header check included).
    pub fn from_bytes(msg: &[u8]) -> Result<Message, Error> {
        Message::parse(&Packet::new_checked(msg)?)
    }

    /// The mobile identities the message carries, in order.
    pub fn mobile_identities(&self) -> impl Iterator<Item = &MobileIdentity> + '_ {
        let slots: [Option<&MobileIdentity>; 4] = match self {
            Message::PagingRequest(p) => {
                [p.identities[0].as_ref(), p.identities[1].as_ref(), p.identities[2].as_ref(), p.identities[3].as_ref()]
            }
            Message::PagingResponse { identity, .. }
            | Message::LocationUpdatingRequest { identity, .. }
            | Message::ImsiDetachIndication { identity }
            | Message::IdentityResponse { identity }
            | Message::CmServiceRequest { identity, .. }
            | Message::CmReestablishmentRequest { identity, .. }
            | Message::TmsiReallocationCommand { identity, .. }
            | Message::GprsAttachRequest { identity }
            | Message::PtmsiReallocationCommand { ptmsi: identity }
            | Message::GprsIdentityResponse { identity } => [Some(identity), None, None, None],
            Message::CipheringModeComplete { imeisv: one }
            | Message::LocationUpdatingAccept { identity: one, .. }
            | Message::GprsDetachRequest { ptmsi: one } => [one.as_ref(), None, None, None],
            Message::GprsAttachAccept { ptmsi: a, ms_identity: b }
            | Message::RoutingAreaUpdateRequest { ptmsi: a, additional: b }
            | Message::RoutingAreaUpdateAccept { ptmsi: a, ms_identity: b } => [a.as_ref(), b.as_ref(), None, None],
            _ => [None; 4],
        };
        slots.into_iter().flatten()
    }

    /// The subscriber and device identities the message carries.
    pub fn identities(&self) -> impl Iterator<Item = Identity> + '_ {
        self.mobile_identities().filter_map(MobileIdentity::identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_masks_send_sequence_for_mm_cc_ss_only() {
        // osmo-msc: MO CC Setup with N(SD) = 2 ("03 85"), CC Connect "83 c7".
        let p = Packet::new_checked(&[0x03, 0x85][..]).unwrap();
        assert_eq!((p.message_type(), p.send_sequence()), (MessageType::Cc(CcType::Setup), Some(2)));
        let p = Packet::new_checked(&[0x83, 0xc7][..]).unwrap();
        assert_eq!((p.message_type(), p.skip_or_transaction()), (MessageType::Cc(CcType::Connect), 8));
        // MM Identity Response with N(SD) = 1: "05 59".
        assert_eq!(
            Packet::new_checked(&[0x05, 0x59][..]).unwrap().message_type(),
            MessageType::Mm(MmType::IdentityResponse)
        );
        // RR and GMM keep the whole octet.
        assert_eq!(
            Packet::new_checked(&[0x06, 0x3f][..]).unwrap().message_type(),
            MessageType::Rr(RrType::ImmediateAssignment)
        );
        assert_eq!(
            Packet::new_checked(&[0x08, 0x41][..]).unwrap().message_type(),
            MessageType::Gmm(GmmType::Unknown(0x41))
        );
        assert_eq!(Packet::new_checked(&[0x06, 0x7f][..]).unwrap().send_sequence(), None);
    }

    #[test]
    fn names_and_unknowns() {
        assert_eq!(MessageType::new(Pd::Rr, 0x21).to_string(), "rr.paging_request_1");
        assert_eq!(MessageType::new(Pd::Mm, 0x08).to_string(), "mm.location_updating_request");
        assert_eq!(MessageType::new(Pd::Rr, 0x77).to_string(), "rr.unknown_0x77");
        assert_eq!(MessageType::new(Pd::Lcs, 0x01).to_string(), "lcs.unknown_0x01");
        assert_eq!(MessageType::new(Pd::from(0x0d), 0x01), MessageType::Unknown(Pd::Unknown(0x0d), 0x01));
        assert_eq!(Message::from_bytes(&[0x0d, 0x01]), Ok(Message::Other(MessageType::Unknown(Pd::Unknown(0x0d), 1))));
        assert_eq!(Message::from_bytes(&[0x06, 0x77]), Ok(Message::Other(MessageType::Rr(RrType::Unknown(0x77)))));
        assert_eq!(Message::from_bytes(&[0x06]), Err(Error::new(ErrorKind::Truncated, 1)));
        assert_eq!(u8::from(RrType::PagingRequest3), 0x24);
        assert_eq!(RrType::from(0x1b).name(), "system_information_3");
    }
}
