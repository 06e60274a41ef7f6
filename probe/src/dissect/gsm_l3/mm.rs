//! Mobility management messages (TS 24.008 §9.2): the phone's registration,
//! detach and identity exchanges, sent before ciphering starts.

use super::ie::{IdentityType, IeFormat, Ies, Lai, MobileIdentity, Reader, LAI_LEN};
use super::{Error, Message, MessageType, MmType};
use crate::dissect::wire::open_enum;

/// IEI of the Mobile Identity in a Location Updating Accept.
const IEI_MOBILE_IDENTITY: u8 = 0x17;
/// IEI of the LAI in a CM Re-establishment Request (TV, 6 octets).
const IEI_LAI: u8 = 0x13;

open_enum! {
    /// Location updating type (§10.5.3.5).
    pub enum LocationUpdatingType(u8) {
        /// Normal location updating (the phone moved).
        Normal = 0,
        /// Periodic updating (timer T3212).
        Periodic = 1,
        /// IMSI attach (the phone was switched on).
        ImsiAttach = 2,
    }
}

impl LocationUpdatingType {
    /// A stable snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            LocationUpdatingType::Normal => "normal",
            LocationUpdatingType::Periodic => "periodic",
            LocationUpdatingType::ImsiAttach => "imsi_attach",
            LocationUpdatingType::Unknown(_) => "reserved",
        }
    }
}

open_enum! {
    /// CM service type (§10.5.3.3).
    pub enum CmServiceType(u8) {
        /// Mobile-originating call (or packet-mode connection).
        OriginatingCall = 1,
        /// Emergency call.
        EmergencyCall = 2,
        /// Short message service.
        ShortMessage = 4,
        /// Supplementary service activation (USSD, call forwarding, …).
        SupplementaryService = 8,
        /// Voice group call.
        VoiceGroupCall = 9,
        /// Voice broadcast call.
        VoiceBroadcastCall = 10,
        /// Location services.
        LocationServices = 11,
    }
}

pub(super) fn parse(t: MmType, msg: &[u8]) -> Result<Message, Error> {
    let mut r = Reader::new(msg, super::HEADER_LEN);
    Ok(match t {
        MmType::LocationUpdatingRequest => {
            let b = r.u8()?;
            let lai = r.lai()?;
            let _classmark1 = r.u8()?;
            Message::LocationUpdatingRequest {
                update_type: LocationUpdatingType::from(b & 0x03),
                follow_on: b & 0x08 != 0,
                cksn: (b >> 4) & 0x07,
                lai,
                identity: r.mobile_identity()?,
            }
        }
        MmType::LocationUpdatingAccept => {
            let lai = r.lai()?;
            let mut identity = None;
            for ie in Ies::new(msg, r.pos(), IeFormat::TLV) {
                if ie.iei == IEI_MOBILE_IDENTITY {
                    identity = Some(MobileIdentity::parse(ie.value).map_err(|e| e.shifted(ie.offset))?);
                }
            }
            Message::LocationUpdatingAccept { lai, identity }
        }
        MmType::ImsiDetachIndication => {
            let _classmark1 = r.u8()?;
            Message::ImsiDetachIndication { identity: r.mobile_identity()? }
        }
        MmType::IdentityRequest => Message::IdentityRequest { identity_type: IdentityType::from(r.u8()? & 0x07) },
        MmType::IdentityResponse => Message::IdentityResponse { identity: r.mobile_identity()? },
        MmType::CmServiceRequest => {
            let b = r.u8()?;
            let _classmark2 = r.lv()?;
            Message::CmServiceRequest {
                service_type: CmServiceType::from(b & 0x0f),
                cksn: (b >> 4) & 0x07,
                identity: r.mobile_identity()?,
            }
        }
        MmType::CmReestablishmentRequest => {
            let cksn = r.u8()? & 0x07;
            let _classmark2 = r.lv()?;
            let identity = r.mobile_identity()?;
            let mut lai = None;
            for ie in Ies::new(msg, r.pos(), IeFormat { tv: &[(IEI_LAI, 1 + LAI_LEN)], tlv_e: false }) {
                if ie.iei == IEI_LAI {
                    lai = Some(Lai::parse(ie.value).map_err(|e| e.shifted(ie.offset))?);
                }
            }
            Message::CmReestablishmentRequest { cksn, identity, lai }
        }
        MmType::TmsiReallocationCommand => {
            let lai = r.lai()?;
            Message::TmsiReallocationCommand { lai, identity: r.mobile_identity()? }
        }
        other => Message::Other(MessageType::Mm(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::super::ie::{IdentityDigits, Plmn};
    use super::super::ErrorKind;
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn imsi(s: &str) -> MobileIdentity {
        MobileIdentity::Imsi(IdentityDigits::from_text(s).unwrap())
    }

    /// osmo-msc `tests/msc_vlr` messages (the MS side of its end-to-end tests).
    #[test]
    fn osmo_msc_vectors() {
        let lai_001_868 = Lai { plmn: Plmn { mcc: 1, mnc: 868, three_digit_mnc: true }, lac: 1 };
        let cases = [
            (
                "05 08 02 00 81 68 00 01 30 08 99 10 07 00 00 00 64 02",
                Message::LocationUpdatingRequest {
                    update_type: LocationUpdatingType::ImsiAttach,
                    follow_on: false,
                    cksn: 0,
                    lai: lai_001_868,
                    identity: imsi("901700000004620"),
                },
            ),
            (
                "05 08 70 09 f1 07 00 17 57 08 99 10 07 00 00 10 60 05 33 03 57 58 86",
                Message::LocationUpdatingRequest {
                    update_type: LocationUpdatingType::Normal,
                    follow_on: false,
                    cksn: 7,
                    lai: Lai { plmn: Plmn { mcc: 901, mnc: 70, three_digit_mnc: false }, lac: 23 },
                    identity: imsi("901700000010650"),
                },
            ),
            (
                "05 08 02 00 81 68 00 01 30 05 f4 03 02 01 00",
                Message::LocationUpdatingRequest {
                    update_type: LocationUpdatingType::ImsiAttach,
                    follow_on: false,
                    cksn: 0,
                    lai: lai_001_868,
                    identity: MobileIdentity::Tmsi(0x0302_0100),
                },
            ),
            (
                "05 01 30 08 99 10 07 00 00 00 64 02",
                Message::ImsiDetachIndication { identity: imsi("901700000004620") },
            ),
            (
                "05 01 30 05 f4 07 06 05 04",
                Message::ImsiDetachIndication { identity: MobileIdentity::Tmsi(0x0706_0504) },
            ),
            ("05 18 02", Message::IdentityRequest { identity_type: IdentityType::Imei }),
            (
                "05 59 08 4a 32 24 43 32 24 43 02",
                Message::IdentityResponse {
                    identity: MobileIdentity::Imei(IdentityDigits::from_text("423423423423420").unwrap()),
                },
            ),
            (
                "05 24 71 03 57 58 86 08 99 10 07 00 00 10 60 05",
                Message::CmServiceRequest {
                    service_type: CmServiceType::OriginatingCall,
                    cksn: 7,
                    identity: imsi("901700000010650"),
                },
            ),
            (
                "05 24 78 03 30 58 86 05 f4 03 02 01 00",
                Message::CmServiceRequest {
                    service_type: CmServiceType::SupplementaryService,
                    cksn: 7,
                    identity: MobileIdentity::Tmsi(0x0302_0100),
                },
            ),
        ];
        for (h, want) in cases {
            let msg = hex(h);
            assert_eq!(Message::from_bytes(&msg), Ok(want), "{h}");
            // Every prefix that cuts the mandatory part (all but the trailing
            // classmark 2 IE of the second LU request) is an error.
            let mandatory = if msg.len() == 23 { 18 } else { msg.len() };
            for n in 0..mandatory {
                assert!(Message::from_bytes(&msg[..n]).is_err(), "prefix {n} of {h}");
            }
        }
    }

    #[test]
    fn accept_and_reallocation() {
        // LU Accept (TS 24.008 §9.2.13) for 001-01 LAC 0x0017 with a new TMSI and Follow-On Proceed.
        let m = Message::from_bytes(&hex("05 02 00 f1 10 00 17 17 05 f4 de ad be ef a1")).unwrap();
        let lai = Lai { plmn: Plmn { mcc: 1, mnc: 1, three_digit_mnc: false }, lac: 0x17 };
        assert_eq!(m, Message::LocationUpdatingAccept { lai, identity: Some(MobileIdentity::Tmsi(0xdead_beef)) });
        assert_eq!(
            Message::from_bytes(&hex("05 02 00 f1 10 00 17")),
            Ok(Message::LocationUpdatingAccept { lai, identity: None })
        );
        // TMSI Reallocation Command (§9.2.17).
        let m = Message::from_bytes(&hex("05 1a 00 f1 10 00 17 05 f4 12 34 56 78")).unwrap();
        assert_eq!(m, Message::TmsiReallocationCommand { lai, identity: MobileIdentity::Tmsi(0x1234_5678) });
        // CM Re-establishment Request with a TMSI and its LAI (§9.2.4).
        let m = Message::from_bytes(&hex("05 28 01 03 57 58 86 05 f4 12 34 56 78 13 00 f1 10 00 17")).unwrap();
        assert_eq!(
            m,
            Message::CmReestablishmentRequest { cksn: 1, identity: MobileIdentity::Tmsi(0x1234_5678), lai: Some(lai) }
        );
        // A malformed identity in the optional IE is an error; a cut-off one ends the walk.
        let err = Message::from_bytes(&hex("05 02 00 f1 10 00 17 17 02 19 a1")).unwrap_err();
        assert_eq!(err, Error::new(ErrorKind::BadDigit, 10));
        assert_eq!(
            Message::from_bytes(&hex("05 02 00 f1 10 00 17 17 05 f4")),
            Ok(Message::LocationUpdatingAccept { lai, identity: None })
        );
        assert_eq!(LocationUpdatingType::from(3).name(), "reserved");
    }
}
