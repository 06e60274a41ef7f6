//! EPS Non-Access Stratum messages (3GPP TS 24.301), as GSMTAP type 0x12
//! carries them: counted by type, and decoded for the identities that tie an
//! LTE phone to its SIM and device (IMSI, IMEI, GUTI, M-TMSI).
//!
//! Octet 1 holds the security header type (high nibble, §9.3.1) and the
//! protocol discriminator (low nibble: EMM 0x7, ESM 0x2). Security header 0 is
//! a plain message. Types 1 and 3 (integrity protected) wrap a plain message
//! after a 6-octet header (MAC, sequence number), which is unwrapped and
//! decoded; types 2 and 4 (ciphered) are reported as [`Nas::Ciphered`]. Type
//! 12 (and 13–15, §9.3.1) is the short Service Request format. ESM messages
//! (§8.3) carry an EPS bearer identity instead and are counted by type.
//!
//! Decoded EMM messages (§8.2): Attach Request/Accept, Detach Request,
//! Tracking Area Update Request/Accept, Extended Service Request, GUTI
//! Reallocation Command, Identity Request/Response, Uplink/Downlink NAS
//! Transport (their container is handed back as a byte range, so the caller
//! can decode the SMS CP message inside as GSM L3).
//!
//! Contract: [`parse`] never panics on any bytes; errors use the GSM L3
//! [`Error`] with offsets from the start of the buffer given. Optional IEs
//! follow the walk rules of [`crate::dissect::gsm_l3`] (0x7x are TLV-E here).

use std::fmt;
use std::ops::Range;

use super::gsm_l3::ie::{
    identity_digits, Guti, Identity, IdentityDigits, IdentityType, IeFormat, Ies, MobileIdentity, Plmn, Reader,
};
use super::gsm_l3::{named_enum, Error, ErrorKind};
use super::wire::{be16, be32, open_enum};

/// EPS mobility management protocol discriminator.
pub const PD_EMM: u8 = 0x07;
/// EPS session management protocol discriminator.
pub const PD_ESM: u8 = 0x02;

/// Octets before the wrapped message in a security-protected NAS message.
pub const SECURITY_HEADER_LEN: usize = 6;
/// Length of the short Service Request (security header type 12).
pub const SERVICE_REQUEST_LEN: usize = 4;

/// EPS mobile identity in its IE: "GUTI" (§9.9.3.12).
const EPS_IDENTITY_GUTI: u8 = 6;
/// Length of a GUTI EPS mobile identity value.
const GUTI_VALUE_LEN: usize = 11;

/// IEIs of optional identity IEs.
const IEI_GUTI: u8 = 0x50;
const IEI_MS_IDENTITY: u8 = 0x23;

/// TV IEs below 0x80 in Attach and TAU Requests (§8.2.4, §8.2.29): old P-TMSI
/// signature (4), NonceUE (5), last visited TAI (6), DRX parameter (3), old LAI (6).
const REQUEST_IES: IeFormat = IeFormat { tv: &[(0x19, 4), (0x55, 5), (0x52, 6), (0x5c, 3), (0x13, 6)], tlv_e: true };
/// TV IEs below 0x80 in Attach and TAU Accepts (§8.2.1, §8.2.26): T3412 (2),
/// LAI (6), EMM cause (2), T3402 (2), T3423 (2).
const ACCEPT_IES: IeFormat = IeFormat { tv: &[(0x5a, 2), (0x13, 6), (0x53, 2), (0x17, 2), (0x59, 2)], tlv_e: true };
/// EMM cause, the TV IE of a network-originated Detach Request.
const IEI_EMM_CAUSE: u8 = 0x53;

open_enum! {
    /// Security header types (TS 24.301 §9.3.1).
    pub enum SecurityHeader(u8) {
        /// Plain NAS message.
        Plain = 0,
        /// Integrity protected.
        IntegrityProtected = 1,
        /// Integrity protected and ciphered.
        IntegrityProtectedCiphered = 2,
        /// Integrity protected with a new EPS security context.
        IntegrityProtectedNewContext = 3,
        /// Integrity protected and ciphered with a new EPS security context.
        IntegrityProtectedCipheredNewContext = 4,
        /// Integrity protected and partially ciphered (control plane CIoT).
        IntegrityProtectedPartiallyCiphered = 5,
        /// The short Service Request format.
        ServiceRequest = 12,
    }
}

named_enum! {
    /// EPS mobility management message types (TS 24.301 table 9.8.1).
    pub enum EmmType(u8) {
        AttachRequest = 0x41 => "attach_request",
        AttachAccept = 0x42 => "attach_accept",
        AttachComplete = 0x43 => "attach_complete",
        AttachReject = 0x44 => "attach_reject",
        DetachRequest = 0x45 => "detach_request",
        DetachAccept = 0x46 => "detach_accept",
        TrackingAreaUpdateRequest = 0x48 => "tracking_area_update_request",
        TrackingAreaUpdateAccept = 0x49 => "tracking_area_update_accept",
        TrackingAreaUpdateComplete = 0x4a => "tracking_area_update_complete",
        TrackingAreaUpdateReject = 0x4b => "tracking_area_update_reject",
        ExtendedServiceRequest = 0x4c => "extended_service_request",
        ControlPlaneServiceRequest = 0x4d => "control_plane_service_request",
        ServiceReject = 0x4e => "service_reject",
        ServiceAccept = 0x4f => "service_accept",
        GutiReallocationCommand = 0x50 => "guti_reallocation_command",
        GutiReallocationComplete = 0x51 => "guti_reallocation_complete",
        AuthenticationRequest = 0x52 => "authentication_request",
        AuthenticationResponse = 0x53 => "authentication_response",
        AuthenticationReject = 0x54 => "authentication_reject",
        IdentityRequest = 0x55 => "identity_request",
        IdentityResponse = 0x56 => "identity_response",
        AuthenticationFailure = 0x5c => "authentication_failure",
        SecurityModeCommand = 0x5d => "security_mode_command",
        SecurityModeComplete = 0x5e => "security_mode_complete",
        SecurityModeReject = 0x5f => "security_mode_reject",
        EmmStatus = 0x60 => "emm_status",
        EmmInformation = 0x61 => "emm_information",
        DownlinkNasTransport = 0x62 => "downlink_nas_transport",
        UplinkNasTransport = 0x63 => "uplink_nas_transport",
        CsServiceNotification = 0x64 => "cs_service_notification",
        DownlinkGenericNasTransport = 0x68 => "downlink_generic_nas_transport",
        UplinkGenericNasTransport = 0x69 => "uplink_generic_nas_transport",
    }
}

named_enum! {
    /// EPS session management message types (TS 24.301 table 9.8.2).
    pub enum EsmType(u8) {
        ActivateDefaultBearerRequest = 0xc1 => "activate_default_eps_bearer_context_request",
        ActivateDefaultBearerAccept = 0xc2 => "activate_default_eps_bearer_context_accept",
        ActivateDefaultBearerReject = 0xc3 => "activate_default_eps_bearer_context_reject",
        ActivateDedicatedBearerRequest = 0xc5 => "activate_dedicated_eps_bearer_context_request",
        ActivateDedicatedBearerAccept = 0xc6 => "activate_dedicated_eps_bearer_context_accept",
        ActivateDedicatedBearerReject = 0xc7 => "activate_dedicated_eps_bearer_context_reject",
        ModifyBearerRequest = 0xc9 => "modify_eps_bearer_context_request",
        ModifyBearerAccept = 0xca => "modify_eps_bearer_context_accept",
        ModifyBearerReject = 0xcb => "modify_eps_bearer_context_reject",
        DeactivateBearerRequest = 0xcd => "deactivate_eps_bearer_context_request",
        DeactivateBearerAccept = 0xce => "deactivate_eps_bearer_context_accept",
        PdnConnectivityRequest = 0xd0 => "pdn_connectivity_request",
        PdnConnectivityReject = 0xd1 => "pdn_connectivity_reject",
        PdnDisconnectRequest = 0xd2 => "pdn_disconnect_request",
        PdnDisconnectReject = 0xd3 => "pdn_disconnect_reject",
        BearerResourceAllocationRequest = 0xd4 => "bearer_resource_allocation_request",
        BearerResourceAllocationReject = 0xd5 => "bearer_resource_allocation_reject",
        BearerResourceModificationRequest = 0xd6 => "bearer_resource_modification_request",
        BearerResourceModificationReject = 0xd7 => "bearer_resource_modification_reject",
        EsmInformationRequest = 0xd9 => "esm_information_request",
        EsmInformationResponse = 0xda => "esm_information_response",
        Notification = 0xdb => "notification",
        EsmDummyMessage = 0xdc => "esm_dummy_message",
        EsmStatus = 0xe8 => "esm_status",
        RemoteUeReport = 0xe9 => "remote_ue_report",
        RemoteUeReportResponse = 0xea => "remote_ue_report_response",
        EsmDataTransport = 0xeb => "esm_data_transport",
    }
}

/// An EPS mobile identity (TS 24.301 §9.9.3.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EpsMobileIdentity {
    /// IMSI digits.
    Imsi(IdentityDigits),
    /// IMEI digits.
    Imei(IdentityDigits),
    /// Globally unique temporary identity.
    Guti(Guti),
    /// A reserved identity type.
    Other(u8),
}

impl EpsMobileIdentity {
    /// Decode the value of an EPS mobile identity IE.
    pub fn parse(value: &[u8]) -> Result<EpsMobileIdentity, Error> {
        let Some(&first) = value.first() else {
            return Err(Error::new(ErrorKind::Truncated, 0));
        };
        Ok(match first & 0x07 {
            EPS_IDENTITY_GUTI => {
                if value.len() < GUTI_VALUE_LEN {
                    return Err(Error::new(ErrorKind::Truncated, value.len()));
                }
                EpsMobileIdentity::Guti(Guti {
                    plmn: Plmn::parse(&value[1..]).map_err(|e| e.shifted(1))?,
                    mme_group_id: be16(value, 4),
                    mme_code: value[6],
                    m_tmsi: be32(value, 7),
                })
            }
            // IMSI (1) and IMEI (3) digits are coded as in a TS 24.008 Mobile Identity.
            1 => EpsMobileIdentity::Imsi(identity_digits(value)?),
            3 => EpsMobileIdentity::Imei(identity_digits(value)?),
            other => EpsMobileIdentity::Other(other),
        })
    }

    /// The subscriber or device identity it names, if any.
    pub fn identity(&self) -> Option<Identity> {
        match *self {
            EpsMobileIdentity::Imsi(d) => Some(Identity::Imsi(d)),
            EpsMobileIdentity::Imei(d) => Some(Identity::Imei(d)),
            EpsMobileIdentity::Guti(g) => Some(Identity::Guti(g)),
            EpsMobileIdentity::Other(_) => None,
        }
    }
}

/// A decoded EMM message body: the fields duanka tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmmBody {
    /// Attach Request (§8.2.4).
    AttachRequest {
        /// EPS attach type (1 EPS, 2 combined EPS/IMSI, 6 emergency).
        attach_type: u8,
        /// Old GUTI or IMSI (or IMEI for an emergency attach).
        identity: EpsMobileIdentity,
        /// Additional GUTI (IEI 0x50).
        additional_guti: Option<EpsMobileIdentity>,
        /// The ESM message container (a PDN Connectivity Request), as a byte range.
        esm: Range<usize>,
    },
    /// Attach Accept (§8.2.1).
    AttachAccept {
        /// The allocated GUTI (IEI 0x50).
        guti: Option<EpsMobileIdentity>,
        /// A TMSI allocated by a combined attach (IEI 0x23).
        ms_identity: Option<MobileIdentity>,
        /// The ESM message container, as a byte range.
        esm: Range<usize>,
    },
    /// Detach Request (§8.2.11).
    DetachRequest {
        /// Detach type.
        detach_type: u8,
        /// The phone's GUTI or IMSI (phone-originated detach only).
        identity: Option<EpsMobileIdentity>,
    },
    /// Tracking Area Update Request (§8.2.29).
    TrackingAreaUpdateRequest {
        /// EPS update type value.
        update_type: u8,
        /// Old GUTI.
        old_guti: EpsMobileIdentity,
        /// Additional GUTI (IEI 0x50).
        additional_guti: Option<EpsMobileIdentity>,
    },
    /// Tracking Area Update Accept (§8.2.26).
    TrackingAreaUpdateAccept {
        /// The allocated GUTI (IEI 0x50).
        guti: Option<EpsMobileIdentity>,
        /// A TMSI allocated by a combined update (IEI 0x23).
        ms_identity: Option<MobileIdentity>,
    },
    /// Extended Service Request (§8.2.15).
    ExtendedServiceRequest {
        /// Service type (0 MO CS fallback, 8 packet services, …).
        service_type: u8,
        /// The M-TMSI (a TS 24.008 Mobile Identity).
        m_tmsi: MobileIdentity,
    },
    /// GUTI Reallocation Command (§8.2.16).
    GutiReallocationCommand {
        /// The new GUTI.
        guti: EpsMobileIdentity,
    },
    /// Identity Request (§8.2.18).
    IdentityRequest {
        /// The identity asked for (1 IMSI, 2 IMEI, 3 IMEISV, 4 TMSI).
        identity_type: IdentityType,
    },
    /// Identity Response (§8.2.19).
    IdentityResponse {
        /// The identity given (a TS 24.008 Mobile Identity).
        identity: MobileIdentity,
    },
    /// Uplink or Downlink NAS Transport (§8.2.30, §8.2.12): an SMS CP message.
    NasTransport {
        /// The NAS message container, as a byte range.
        container: Range<usize>,
    },
    /// Not decoded further.
    Other,
}

/// A decoded plain (or unwrapped) EMM message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmmMessage {
    /// The outer security header when the message was integrity protected.
    pub protected: Option<SecurityHeader>,
    /// The message type.
    pub message_type: EmmType,
    /// The decoded fields.
    pub body: EmmBody,
}

/// The header of an ESM message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EsmMessage {
    /// The outer security header when the message was integrity protected.
    pub protected: Option<SecurityHeader>,
    /// EPS bearer identity.
    pub bearer: u8,
    /// Procedure transaction identity.
    pub pti: u8,
    /// The message type.
    pub message_type: EsmType,
}

/// What a NAS PDU turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nas {
    /// An EPS mobility management message.
    Emm(EmmMessage),
    /// An EPS session management message.
    Esm(EsmMessage),
    /// A ciphered message: only its outer header can be read.
    Ciphered(SecurityHeader),
    /// The short Service Request (security header type 12).
    ServiceRequest {
        /// NAS key set identifier.
        ksi: u8,
        /// Short sequence number.
        sequence: u8,
    },
    /// Another protocol discriminator.
    OtherPd(u8),
}

impl Nas {
    /// `emm.attach_request`, `esm.pdn_connectivity_request`, `emm.ciphered`,
    /// `emm.service_request`, `nas.pd_N`: the key messages are counted under.
    pub fn key(&self) -> MessageKey {
        match self {
            Nas::Emm(m) => MessageKey::Emm(m.message_type),
            Nas::Esm(m) => MessageKey::Esm(m.message_type),
            Nas::Ciphered(_) => MessageKey::Ciphered,
            Nas::ServiceRequest { .. } => MessageKey::ServiceRequest,
            Nas::OtherPd(pd) => MessageKey::OtherPd(*pd),
        }
    }

    /// The subscriber and device identities the message carries.
    pub fn identities(&self) -> impl Iterator<Item = Identity> + '_ {
        let mut slots: [Option<Identity>; 2] = [None, None];
        if let Nas::Emm(m) = self {
            let eps = |i: &Option<EpsMobileIdentity>| i.as_ref().and_then(EpsMobileIdentity::identity);
            let gsm = |i: &Option<MobileIdentity>| i.as_ref().and_then(MobileIdentity::identity);
            slots = match &m.body {
                EmmBody::AttachRequest { identity, additional_guti, .. } => [identity.identity(), eps(additional_guti)],
                EmmBody::AttachAccept { guti, ms_identity, .. }
                | EmmBody::TrackingAreaUpdateAccept { guti, ms_identity } => [eps(guti), gsm(ms_identity)],
                EmmBody::DetachRequest { identity, .. } => [eps(identity), None],
                EmmBody::TrackingAreaUpdateRequest { old_guti, additional_guti, .. } => {
                    [old_guti.identity(), eps(additional_guti)]
                }
                EmmBody::ExtendedServiceRequest { m_tmsi: identity, .. } | EmmBody::IdentityResponse { identity } => {
                    [identity.identity(), None]
                }
                EmmBody::GutiReallocationCommand { guti } => [guti.identity(), None],
                EmmBody::IdentityRequest { .. } | EmmBody::NasTransport { .. } | EmmBody::Other => [None, None],
            };
        }
        slots.into_iter().flatten()
    }
}

/// The counting key of a NAS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageKey {
    /// An EMM message type.
    Emm(EmmType),
    /// An ESM message type.
    Esm(EsmType),
    /// A ciphered message.
    Ciphered,
    /// The short Service Request.
    ServiceRequest,
    /// Another protocol discriminator.
    OtherPd(u8),
}

impl fmt::Display for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageKey::Emm(EmmType::Unknown(c)) => write!(f, "emm.unknown_0x{c:02x}"),
            MessageKey::Emm(t) => write!(f, "emm.{}", t.name()),
            MessageKey::Esm(EsmType::Unknown(c)) => write!(f, "esm.unknown_0x{c:02x}"),
            MessageKey::Esm(t) => write!(f, "esm.{}", t.name()),
            MessageKey::Ciphered => f.write_str("emm.ciphered"),
            MessageKey::ServiceRequest => f.write_str("emm.service_request"),
            MessageKey::OtherPd(pd) => write!(f, "nas.pd_{pd}"),
        }
    }
}

/// The counting key from the header octets alone, so that a message whose
/// body does not decode is still counted by its type.
pub fn message_key(buf: &[u8]) -> Result<MessageKey, Error> {
    let Some(&first) = buf.first() else {
        return Err(Error::new(ErrorKind::Truncated, 0));
    };
    let plain_at = |at: usize| -> Result<MessageKey, Error> {
        let Some(&octet1) = buf.get(at) else {
            return Err(Error::new(ErrorKind::Truncated, at));
        };
        let (type_at, pd) = match octet1 & 0x0f {
            PD_ESM => (at + 2, PD_ESM),
            PD_EMM => (at + 1, PD_EMM),
            other => return Ok(MessageKey::OtherPd(other)),
        };
        let Some(&t) = buf.get(type_at) else {
            return Err(Error::new(ErrorKind::Truncated, buf.len()));
        };
        Ok(if pd == PD_ESM { MessageKey::Esm(t.into()) } else { MessageKey::Emm(t.into()) })
    };
    if first & 0x0f != PD_EMM {
        return plain_at(0);
    }
    match SecurityHeader::from(first >> 4) {
        SecurityHeader::Plain => plain_at(0),
        SecurityHeader::IntegrityProtected | SecurityHeader::IntegrityProtectedNewContext => {
            plain_at(SECURITY_HEADER_LEN)
        }
        SecurityHeader::Unknown(12..=15) | SecurityHeader::ServiceRequest => Ok(MessageKey::ServiceRequest),
        _ => Ok(MessageKey::Ciphered),
    }
}

/// Decode a NAS PDU.
pub fn parse(buf: &[u8]) -> Result<Nas, Error> {
    let Some(&first) = buf.first() else {
        return Err(Error::new(ErrorKind::Truncated, 0));
    };
    let pd = first & 0x0f;
    if pd == PD_ESM {
        return plain(buf, 0, None);
    }
    if pd != PD_EMM {
        return Ok(Nas::OtherPd(pd));
    }
    match SecurityHeader::from(first >> 4) {
        SecurityHeader::Plain => plain(buf, 0, None),
        outer @ (SecurityHeader::IntegrityProtected | SecurityHeader::IntegrityProtectedNewContext) => {
            if buf.len() <= SECURITY_HEADER_LEN {
                return Err(Error::new(ErrorKind::Truncated, buf.len()));
            }
            // The wrapped message must be plain: another security header inside is malformed.
            let inner = buf[SECURITY_HEADER_LEN];
            if inner & 0x0f == PD_EMM && inner >> 4 != 0 {
                return Err(Error::new(ErrorKind::Malformed, SECURITY_HEADER_LEN));
            }
            plain(buf, SECURITY_HEADER_LEN, Some(outer))
        }
        SecurityHeader::Unknown(12..=15) | SecurityHeader::ServiceRequest => {
            if buf.len() < SERVICE_REQUEST_LEN {
                return Err(Error::new(ErrorKind::Truncated, buf.len()));
            }
            Ok(Nas::ServiceRequest { ksi: buf[1] >> 5, sequence: buf[1] & 0x1f })
        }
        other => Ok(Nas::Ciphered(other)),
    }
}

/// A plain message starting at `at`.
fn plain(buf: &[u8], at: usize, protected: Option<SecurityHeader>) -> Result<Nas, Error> {
    let mut r = Reader::new(buf, at);
    let first = r.u8()?;
    if first & 0x0f == PD_ESM {
        let pti = r.u8()?;
        let message_type = EsmType::from(r.u8()?);
        return Ok(Nas::Esm(EsmMessage { protected, bearer: first >> 4, pti, message_type }));
    }
    if first & 0x0f != PD_EMM {
        return Ok(Nas::OtherPd(first & 0x0f));
    }
    let message_type = EmmType::from(r.u8()?);
    let body = emm_body(message_type, buf, &mut r)?;
    Ok(Nas::Emm(EmmMessage { protected, message_type, body }))
}

fn emm_body(t: EmmType, buf: &[u8], r: &mut Reader<'_>) -> Result<EmmBody, Error> {
    Ok(match t {
        EmmType::AttachRequest => {
            let attach_type = r.u8()? & 0x07;
            let identity = eps_identity(r)?;
            let _ue_network_capability = r.lv()?;
            let (esm, esm_at) = r.lv_e()?;
            let additional_guti = optional_eps_identity(buf, r.pos(), REQUEST_IES, IEI_GUTI)?;
            EmmBody::AttachRequest { attach_type, identity, additional_guti, esm: esm_at..esm_at + esm.len() }
        }
        EmmType::AttachAccept => {
            let _result = r.u8()?;
            let _t3412 = r.u8()?;
            let _tai_list = r.lv()?;
            let (esm, esm_at) = r.lv_e()?;
            let (guti, ms_identity) = accept_identities(buf, r.pos())?;
            EmmBody::AttachAccept { guti, ms_identity, esm: esm_at..esm_at + esm.len() }
        }
        EmmType::DetachRequest => {
            let b = r.u8()?;
            // Phone-originated: an EPS mobile identity (LV, at most 11 octets)
            // follows; network-originated: nothing, or the EMM cause (TV 0x53).
            let identity = match r.peek() {
                Some(len) if len != IEI_EMM_CAUSE && usize::from(len) <= GUTI_VALUE_LEN => Some(eps_identity(r)?),
                _ => None,
            };
            EmmBody::DetachRequest { detach_type: b & 0x07, identity }
        }
        EmmType::TrackingAreaUpdateRequest => {
            let update_type = r.u8()? & 0x07;
            let old_guti = eps_identity(r)?;
            let additional_guti = optional_eps_identity(buf, r.pos(), REQUEST_IES, IEI_GUTI)?;
            EmmBody::TrackingAreaUpdateRequest { update_type, old_guti, additional_guti }
        }
        EmmType::TrackingAreaUpdateAccept => {
            let _result = r.u8()?;
            let (guti, ms_identity) = accept_identities(buf, r.pos())?;
            EmmBody::TrackingAreaUpdateAccept { guti, ms_identity }
        }
        EmmType::ExtendedServiceRequest => {
            let service_type = r.u8()? & 0x0f;
            EmmBody::ExtendedServiceRequest { service_type, m_tmsi: r.mobile_identity()? }
        }
        EmmType::GutiReallocationCommand => EmmBody::GutiReallocationCommand { guti: eps_identity(r)? },
        EmmType::IdentityRequest => EmmBody::IdentityRequest { identity_type: IdentityType::from(r.u8()? & 0x07) },
        EmmType::IdentityResponse => EmmBody::IdentityResponse { identity: r.mobile_identity()? },
        EmmType::UplinkNasTransport | EmmType::DownlinkNasTransport => {
            let (container, at) = r.lv()?;
            EmmBody::NasTransport { container: at..at + container.len() }
        }
        _ => EmmBody::Other,
    })
}

/// An LV EPS mobile identity.
fn eps_identity(r: &mut Reader<'_>) -> Result<EpsMobileIdentity, Error> {
    let (value, at) = r.lv()?;
    EpsMobileIdentity::parse(value).map_err(|e| e.shifted(at))
}

/// The optional EPS mobile identity IE with IEI `iei`.
fn optional_eps_identity(
    buf: &[u8],
    start: usize,
    format: IeFormat,
    iei: u8,
) -> Result<Option<EpsMobileIdentity>, Error> {
    match Ies::new(buf, start, format).find(|ie| ie.iei == iei) {
        Some(ie) => Ok(Some(EpsMobileIdentity::parse(ie.value).map_err(|e| e.shifted(ie.offset))?)),
        None => Ok(None),
    }
}

/// GUTI (0x50) and MS identity (0x23) of an Attach or TAU Accept.
fn accept_identities(buf: &[u8], start: usize) -> Result<(Option<EpsMobileIdentity>, Option<MobileIdentity>), Error> {
    let (mut guti, mut ms) = (None, None);
    for ie in Ies::new(buf, start, ACCEPT_IES) {
        match ie.iei {
            IEI_GUTI => guti = Some(EpsMobileIdentity::parse(ie.value).map_err(|e| e.shifted(ie.offset))?),
            IEI_MS_IDENTITY => ms = Some(MobileIdentity::parse(ie.value).map_err(|e| e.shifted(ie.offset))?),
            _ => {}
        }
    }
    Ok((guti, ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn guti(mcc: u16, mnc: u16, mme_group_id: u16, mme_code: u8, m_tmsi: u32) -> EpsMobileIdentity {
        EpsMobileIdentity::Guti(Guti {
            plmn: Plmn { mcc, mnc, three_digit_mnc: false },
            mme_group_id,
            mme_code,
            m_tmsi,
        })
    }

    fn emm(buf: &[u8]) -> EmmMessage {
        match parse(buf) {
            Ok(Nas::Emm(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    /// Open5GS `lib/nas/eps` unit-test messages.
    #[test]
    fn open5gs_vectors() {
        let attach = hex(
            "0741020bf600f110000201030003e605f07000001000050215d011d15200f11030395c0a003103e5e0349011035758a65d0100e0c1",
        );
        let m = emm(&attach);
        let EmmBody::AttachRequest { attach_type, identity, additional_guti, esm } = &m.body else { panic!() };
        assert_eq!((*attach_type, *identity, *additional_guti), (2, guti(1, 1, 2, 1, 0x0300_03e6), None));
        assert_eq!(&attach[esm.clone()][..3], &[0x02, 0x15, 0xd0], "PDN connectivity request inside");
        assert_eq!(parse(&attach[esm.clone()]).unwrap().key().to_string(), "esm.pdn_connectivity_request");

        let accept = hex(concat!(
            "07420223060014f799303900325201c101090908696e7465726e657405010ae1000a271b80802110020200108106c0a8",
            "a8018306c0a8a801000d04c0a8a801500bf614f7992345e1000004561300f120fffd2305f400e102d4640123"
        ));
        let m = emm(&accept);
        let EmmBody::AttachAccept { guti: g, ms_identity, .. } = &m.body else { panic!() };
        let want = EpsMobileIdentity::Guti(Guti {
            plmn: Plmn { mcc: 417, mnc: 99, three_digit_mnc: false },
            mme_group_id: 9029,
            mme_code: 225,
            m_tmsi: 0x456,
        });
        assert_eq!((*g, *ms_identity), (Some(want), Some(MobileIdentity::Tmsi(0x00e1_02d4))));

        assert_eq!(emm(&hex("075501")).body, EmmBody::IdentityRequest { identity_type: IdentityType::Imsi });
        let m = emm(&hex("0756080910101032548651"));
        let EmmBody::IdentityResponse { identity } = m.body else { panic!() };
        assert_eq!(identity.identity().unwrap().to_string(), "001010123456815");
        assert_eq!(parse(&hex("c7a8640c")), Ok(Nas::ServiceRequest { ksi: 5, sequence: 8 }));
        assert_eq!(emm(&hex("074411")).message_type, EmmType::AttachReject);
    }

    #[test]
    fn security_headers() {
        // Integrity protected (type 1) Identity Response: unwrapped and decoded.
        let m = emm(&hex("17 01020304 05 0756080910101032548651"));
        assert_eq!(m.protected, Some(SecurityHeader::IntegrityProtected));
        assert_eq!(m.message_type, EmmType::IdentityResponse);
        // Ciphered (type 2): only counted.
        assert_eq!(parse(&hex("27 01020304 05 8c1d3a")), Ok(Nas::Ciphered(SecurityHeader::IntegrityProtectedCiphered)));
        assert_eq!(parse(&hex("17 01020304 05")).unwrap_err().kind, ErrorKind::Truncated);
        assert_eq!(parse(&hex("17 01020304 05 17")).unwrap_err(), Error::new(ErrorKind::Malformed, 6));
        // ESM: bearer 5, PTI 0, Modify EPS bearer context request.
        let Ok(Nas::Esm(esm)) = parse(&hex("52 00 c9 00")) else { panic!() };
        assert_eq!((esm.bearer, esm.message_type), (5, EsmType::ModifyBearerRequest));
        assert_eq!(parse(&hex("0b 3b")), Ok(Nas::OtherPd(0x0b)));
        assert_eq!(MessageKey::Emm(EmmType::from(0x7f)).to_string(), "emm.unknown_0x7f");
        // The key needs only the header, and agrees with a full parse.
        for h in ["07 45 09 0b f6", "17 01020304 05 0756", "27 00", "c7a8640c", "52 00 c9", "0b 3b"] {
            let b = hex(h);
            assert!(message_key(&b).is_ok(), "{h}");
            if let Ok(nas) = parse(&b) {
                assert_eq!(nas.key(), message_key(&b).unwrap(), "{h}");
            }
        }
        assert_eq!(message_key(&hex("17 01020304 05")).unwrap_err().kind, ErrorKind::Truncated);
    }

    #[test]
    fn detach_tau_and_transport() {
        // UE-originated Detach Request with a GUTI, followed by zero padding as QCSuper writes it.
        let m = emm(&hex("07 45 09 0b f6 00 f1 10 00 02 01 03 00 03 e6 00 00 00"));
        assert_eq!(m.body, EmmBody::DetachRequest { detach_type: 1, identity: Some(guti(1, 1, 2, 1, 0x0300_03e6)) });
        // Network-originated Detach Request with an EMM cause.
        assert_eq!(emm(&hex("07 45 02 53 07")).body, EmmBody::DetachRequest { detach_type: 2, identity: None });
        // TAU Request: old GUTI, GPRS CKSN (half octet), additional GUTI, NonceUE (TV 5), then padding.
        let tau = hex(concat!(
            "07 48 62 0b f6 00 f1 10 00 02 01 03 00 03 e6 80 50 0b f6 00 f1 10 00 02 01 0a 0b 0c 0d",
            "55 01 02 03 04 00 00"
        ));
        let m = emm(&tau);
        let ids: Vec<String> = Nas::Emm(m).identities().map(|i| i.to_string()).collect();
        assert_eq!(ids, ["001-01-2-1-0x030003e6", "001-01-2-1-0x0a0b0c0d"]);
        // Uplink NAS Transport carrying an SMS CP-ACK.
        let m = emm(&hex("07 63 02 09 04"));
        assert_eq!(m.body, EmmBody::NasTransport { container: 3..5 });
        // Extended Service Request with an M-TMSI.
        let m = emm(&hex("07 4c 60 05 f4 12 34 56 78 57 02 20 00"));
        assert_eq!(
            m.body,
            EmmBody::ExtendedServiceRequest { service_type: 0, m_tmsi: MobileIdentity::Tmsi(0x1234_5678) }
        );
        // IMEI as an EPS mobile identity (type 3).
        let imei = EpsMobileIdentity::parse(&hex("4b 32 24 43 32 24 43 02")).unwrap();
        assert_eq!(imei.identity().unwrap().to_string(), "423423423423420");
    }

    #[test]
    fn every_prefix_errs_or_parses() {
        let attach = hex(
            "0741020bf600f110000201030003e605f07000001000050215d011d15200f11030395c0a003103e5e0349011035758a65d0100e0c1",
        );
        for n in 0..attach.len() {
            let _ = parse(&attach[..n]);
        }
        for n in 0..20 {
            assert!(parse(&attach[..n]).is_err(), "prefix {n}");
        }
    }
}
