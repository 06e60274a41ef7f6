//! GPRS mobility management messages (TS 24.008 §9.4), decoded only for the
//! identities they carry (IMSI, P-TMSI, TMSI); everything else is counted.

use super::ie::{IeFormat, Ies, MobileIdentity, Reader};
use super::{Error, GmmType, Message, MessageType};

/// Allocated P-TMSI (Attach/RAU Accept) or P-TMSI (RAU Request, Detach Request), a Mobile Identity.
const IEI_PTMSI: u8 = 0x18;
/// MS identity (Attach/RAU Accept), a Mobile Identity.
const IEI_MS_IDENTITY: u8 = 0x23;
/// Additional mobile identity (RAU Request), a Mobile Identity.
const IEI_ADDITIONAL_IDENTITY: u8 = 0x1a;

/// Routing area identification (§10.5.5.15): LAI and RAC.
const RAI_LEN: usize = 6;

/// TV IEs below 0x80 in Attach Accept and RAU Accept: P-TMSI signature (4),
/// negotiated READY timer (2), GMM cause (2).
const ACCEPT_IES: IeFormat = IeFormat { tv: &[(0x19, 4), (0x17, 2), (0x25, 2)], tlv_e: false };
/// TV IEs below 0x80 in RAU Request: old P-TMSI signature (4), requested
/// READY timer (2), DRX parameter (3).
const RAU_REQUEST_IES: IeFormat = IeFormat { tv: &[(0x19, 4), (0x17, 2), (0x27, 3)], tlv_e: false };

pub(super) fn parse(t: GmmType, msg: &[u8]) -> Result<Message, Error> {
    let mut r = Reader::new(msg, super::HEADER_LEN);
    Ok(match t {
        GmmType::AttachRequest => {
            let _ms_network_capability = r.lv()?;
            let _attach_type_and_cksn = r.u8()?;
            let _drx = r.take(2)?;
            Message::GprsAttachRequest { identity: r.mobile_identity()? }
        }
        GmmType::AttachAccept => {
            // Attach result, periodic RA update timer, radio priority, RAI.
            r.take(3 + RAI_LEN)?;
            let [ptmsi, ms_identity] = identities(msg, r.pos(), ACCEPT_IES, [IEI_PTMSI, IEI_MS_IDENTITY])?;
            Message::GprsAttachAccept { ptmsi, ms_identity }
        }
        GmmType::DetachRequest => {
            let _detach_type = r.u8()?;
            // Phone-originated: P-TMSI (0x18) and P-TMSI signature 2 (0x19), both TLV here.
            let [ptmsi, _] = identities(msg, r.pos(), IeFormat::TLV, [IEI_PTMSI, 0])?;
            Message::GprsDetachRequest { ptmsi }
        }
        GmmType::RoutingAreaUpdateRequest => {
            let _update_type_and_cksn = r.u8()?;
            r.take(RAI_LEN)?;
            let _radio_access_capability = r.lv()?;
            let [ptmsi, additional] = identities(msg, r.pos(), RAU_REQUEST_IES, [IEI_PTMSI, IEI_ADDITIONAL_IDENTITY])?;
            Message::RoutingAreaUpdateRequest { ptmsi, additional }
        }
        GmmType::RoutingAreaUpdateAccept => {
            // Update result, periodic RA update timer, RAI.
            r.take(2 + RAI_LEN)?;
            let [ptmsi, ms_identity] = identities(msg, r.pos(), ACCEPT_IES, [IEI_PTMSI, IEI_MS_IDENTITY])?;
            Message::RoutingAreaUpdateAccept { ptmsi, ms_identity }
        }
        GmmType::PtmsiReallocationCommand => Message::PtmsiReallocationCommand { ptmsi: r.mobile_identity()? },
        GmmType::IdentityResponse => Message::GprsIdentityResponse { identity: r.mobile_identity()? },
        other => Message::Other(MessageType::Gmm(other)),
    })
}

/// The Mobile Identity IEs with the two given IEIs (0 matches nothing).
fn identities(msg: &[u8], start: usize, format: IeFormat, ieis: [u8; 2]) -> Result<[Option<MobileIdentity>; 2], Error> {
    let mut found = [None, None];
    for ie in Ies::new(msg, start, format) {
        if let Some(slot) = ieis.iter().position(|&i| i != 0 && i == ie.iei) {
            found[slot] = Some(MobileIdentity::parse(ie.value).map_err(|e| e.shifted(ie.offset))?);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::super::ie::IdentityDigits;
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn identities_in_gmm_messages() {
        let imsi = MobileIdentity::Imsi(IdentityDigits::from_text("901700000004620").unwrap());
        // Attach Request (§9.4.1): MS network capability, attach type, DRX, IMSI, old RAI, …
        let m =
            Message::from_bytes(&hex("08 01 02 e5 e0 01 0a 00 08 99 10 07 00 00 00 64 02 00 f1 10 00 17 01")).unwrap();
        assert_eq!(m, Message::GprsAttachRequest { identity: imsi });
        // Attach Accept with P-TMSI signature (TV 4), allocated P-TMSI and MS identity.
        let m = Message::from_bytes(&hex(
            "08 02 01 49 04 00 f1 10 00 17 01 19 aa bb cc 18 05 f4 c0 00 00 01 23 05 f4 00 00 00 02",
        ))
        .unwrap();
        assert_eq!(
            m,
            Message::GprsAttachAccept {
                ptmsi: Some(MobileIdentity::Tmsi(0xc000_0001)),
                ms_identity: Some(MobileIdentity::Tmsi(2))
            }
        );
        // RAU Accept with only a P-TMSI.
        let m = Message::from_bytes(&hex("08 09 00 49 00 f1 10 00 17 01 18 05 f4 c0 00 00 07")).unwrap();
        assert_eq!(
            m,
            Message::RoutingAreaUpdateAccept { ptmsi: Some(MobileIdentity::Tmsi(0xc000_0007)), ms_identity: None }
        );
        // RAU Request with DRX (TV 3) before the P-TMSI.
        let m = Message::from_bytes(&hex("08 08 00 00 f1 10 00 17 01 02 01 02 27 0a 00 18 05 f4 c0 00 00 07")).unwrap();
        assert_eq!(
            m,
            Message::RoutingAreaUpdateRequest { ptmsi: Some(MobileIdentity::Tmsi(0xc000_0007)), additional: None }
        );
        assert_eq!(
            Message::from_bytes(&hex("08 05 01 18 05 f4 c0 00 00 07 19 03 01 02 03")),
            Ok(Message::GprsDetachRequest { ptmsi: Some(MobileIdentity::Tmsi(0xc000_0007)) })
        );
        assert_eq!(
            Message::from_bytes(&hex("08 16 08 99 10 07 00 00 00 64 02")),
            Ok(Message::GprsIdentityResponse { identity: imsi })
        );
        assert!(Message::from_bytes(&hex("08 09 00 49 00 f1")).is_err());
    }
}
