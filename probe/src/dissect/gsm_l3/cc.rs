//! Call control messages (TS 24.008 §9.3): call set-up with the called and
//! calling numbers, and call clearing with its cause.
//!
//! The same walk serves both directions: a mobile-originated Setup carries the
//! called party (IEI 0x5e), a mobile-terminated one the calling party (0x5c)
//! and often the called party too. The only TV IE below 0x80 in these
//! messages is Signal (0x34, 2 octets).

use super::ie::{BcdNumber, Cause, IeFormat, Ies, Reader};
use super::{CcType, Error, Message, MessageType};

/// Called party BCD number (§10.5.4.7).
const IEI_CALLED_PARTY: u8 = 0x5e;
/// Calling party BCD number (§10.5.4.9).
const IEI_CALLING_PARTY: u8 = 0x5c;
/// Cause (§10.5.4.11).
const IEI_CAUSE: u8 = 0x08;
/// Signal (§10.5.4.23), TV of 2 octets.
const IEI_SIGNAL: u8 = 0x34;

/// How CC optional IEs are coded.
const CC_IES: IeFormat = IeFormat { tv: &[(IEI_SIGNAL, 2)], tlv_e: false };

/// A CC Setup (§9.3.23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Setup {
    /// The number dialled (mobile-originated set-ups always carry it).
    pub called: Option<BcdNumber>,
    /// The caller (mobile-terminated set-ups, when presentation allows).
    pub calling: Option<BcdNumber>,
}

pub(super) fn parse(t: CcType, msg: &[u8]) -> Result<Message, Error> {
    let start = super::HEADER_LEN;
    Ok(match t {
        CcType::Setup => {
            let mut setup = Setup::default();
            for ie in Ies::new(msg, start, CC_IES) {
                let number = || BcdNumber::parse(ie.value).map_err(|e| e.shifted(ie.offset));
                match ie.iei {
                    IEI_CALLED_PARTY => setup.called = Some(number()?),
                    IEI_CALLING_PARTY => setup.calling = Some(number()?),
                    _ => {}
                }
            }
            Message::Setup(setup)
        }
        CcType::Connect => Message::Connect,
        CcType::Disconnect => {
            let mut r = Reader::new(msg, start);
            let (value, at) = r.lv()?;
            Message::Disconnect { cause: Cause::parse(value).map_err(|e| e.shifted(at))? }
        }
        CcType::Release => Message::Release { cause: optional_cause(msg, start)? },
        CcType::ReleaseComplete => Message::ReleaseComplete { cause: optional_cause(msg, start)? },
        other => Message::Other(MessageType::Cc(other)),
    })
}

/// The first Cause IE among the optional IEs.
fn optional_cause(msg: &[u8], start: usize) -> Result<Option<Cause>, Error> {
    match Ies::new(msg, start, CC_IES).find(|ie| ie.iei == IEI_CAUSE) {
        Some(ie) => Ok(Some(Cause::parse(ie.value).map_err(|e| e.shifted(ie.offset))?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ie::TypeOfNumber;
    use super::super::ErrorKind;
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn osmo_msc_call_vectors() {
        // MO Setup: bearer capability, called "123", CC capabilities, supported codecs.
        let setup = hex("03 85 04 06 60 04 02 00 05 81 5e 03 81 21 f3 15 02 01 00 40 08 04 02 60 00 00 02 1f 00");
        let Message::Setup(s) = Message::from_bytes(&setup).unwrap() else { panic!() };
        let called = s.called.unwrap();
        assert_eq!(
            (called.type_of_number, called.numbering_plan, called.digits.as_str()),
            (TypeOfNumber::Unspecified, 1, "123")
        );
        assert_eq!(s.calling, None);
        assert_eq!(Message::from_bytes(&hex("83 c7")), Ok(Message::Connect));
        let cause = Cause { coding: 3, location: 0, value: 16 };
        assert_eq!(Message::from_bytes(&hex("03 25 02 e0 90")), Ok(Message::Disconnect { cause }));
        assert_eq!(Message::from_bytes(&hex("83 2d")), Ok(Message::Release { cause: None }));
        assert_eq!(Message::from_bytes(&hex("03 6a")), Ok(Message::ReleaseComplete { cause: None }));
        for n in 0..5 {
            assert!(Message::from_bytes(&hex("03 25 02 e0 90")[..n]).is_err());
        }
    }

    #[test]
    fn mt_setup_and_causes() {
        // MT Setup (§9.3.23.1): signal (TV 2), calling +447785016005, called 12345.
        let setup = hex("03 05 04 01 a0 34 01 5c 07 91 44 77 58 10 06 50 5e 04 81 21 43 f5");
        let Message::Setup(s) = Message::from_bytes(&setup).unwrap() else { panic!() };
        assert_eq!(s.calling.unwrap().to_e164_string(), "+447785016005");
        assert_eq!(s.called.unwrap().digits.as_str(), "12345");
        // Release with cause 17 (user busy), from the network.
        let cause = Some(Cause { coding: 3, location: 2, value: 17 });
        assert_eq!(Message::from_bytes(&hex("03 2d 08 02 e2 91")), Ok(Message::Release { cause }));
        // A called number with a stray end mark is a bad digit at its place in the message.
        let err = Message::from_bytes(&hex("03 05 5e 03 81 f1 21")).unwrap_err();
        assert_eq!(err, Error::new(ErrorKind::BadDigit, 5));
    }
}
