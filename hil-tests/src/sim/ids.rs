//! Random identifiers and telephone numbers.
//!
//! Every number is drawn from the seeded generator: none is, or is meant to be, a real
//! subscriber's. Mobile numbers follow the mainland China plan (`1[3-9]` + 9 digits,
//! GB/T 13418 numbering as used by MIIT), landlines a trunk `0` + area code + local number.
//!
//! SIM and handset identities (for the GoIP control plane, SPEC §3.2) are synthetic but
//! well-formed: IMSI = MCC 460 + a Chinese MNC + 10-digit MSIN (3GPP TS 23.003 §2.2),
//! IMEI = 8-digit TAC + 6-digit serial + Luhn check digit (TS 23.003 §6.2.1), ICCID =
//! `89` (telecom) `86` (China) + issuer + serial + Luhn check digit, 20 digits (ITU-T
//! E.118). The TACs are made up; see [`MODEM_TACS`].

use rand::rngs::SmallRng;
use rand::Rng;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

/// `n` random letters and digits.
pub(crate) fn alnum(rng: &mut SmallRng, n: usize) -> String {
    (0..n).map(|_| char::from(ALNUM[rng.gen_range(0..ALNUM.len())])).collect()
}

/// `n` random lowercase hex digits.
pub(crate) fn hex(rng: &mut SmallRng, n: usize) -> String {
    (0..n).map(|_| char::from(HEX[rng.gen_range(0..HEX.len())])).collect()
}

/// A random version-4-shaped UUID.
pub(crate) fn uuid(rng: &mut SmallRng) -> String {
    format!(
        "{}-{}-4{}-{}{}-{}",
        hex(rng, 8),
        hex(rng, 4),
        hex(rng, 3),
        char::from(b"89ab"[rng.gen_range(0..4)]),
        hex(rng, 3),
        hex(rng, 12)
    )
}

/// `n` random decimal digits.
pub(crate) fn digits(rng: &mut SmallRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

/// A mainland mobile number without prefix: `1[3-9]` then 9 digits.
pub(crate) fn cn_mobile(rng: &mut SmallRng) -> String {
    format!("1{}{}", rng.gen_range(3..=9u8), digits(rng, 9))
}

/// A mainland landline number with trunk prefix: `0` + area code + local number.
pub(crate) fn cn_landline(rng: &mut SmallRng) -> String {
    const AREAS: [&str; 8] = ["10", "20", "21", "755", "571", "28", "539", "871"];
    let area = AREAS[rng.gen_range(0..AREAS.len())];
    let local = if area.len() == 2 { 8 } else { 7 };
    format!("0{area}{}", digits(rng, local))
}

/// How a softswitch writes the domestic number in the Request-URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberStyle {
    /// `13812345678`
    Bare,
    /// `8613812345678`
    Cc,
    /// `+8613812345678`
    PlusCc,
}

impl NumberStyle {
    pub(crate) fn pick(rng: &mut SmallRng) -> Self {
        match rng.gen_range(0..3) {
            0 => NumberStyle::Bare,
            1 => NumberStyle::Cc,
            _ => NumberStyle::PlusCc,
        }
    }

    pub(crate) fn apply(self, national: &str) -> String {
        match self {
            NumberStyle::Bare => national.to_owned(),
            NumberStyle::Cc => format!("86{national}"),
            NumberStyle::PlusCc => format!("+86{national}"),
        }
    }
}

/// The caller ID an upstream softswitch puts in From: whatever it likes — a
/// spoofed domestic number, a foreign number, or a bare string of digits.
pub(crate) fn arbitrary_caller(rng: &mut SmallRng) -> String {
    const CCS: [&str; 9] = ["852", "853", "886", "63", "855", "95", "60", "66", "84"];
    match rng.gen_range(0..4) {
        0 => cn_mobile(rng),
        1 => cn_landline(rng),
        2 => {
            let cc = CCS[rng.gen_range(0..CCS.len())];
            let n = rng.gen_range(8..=9);
            format!("+{cc}{}", digits(rng, n))
        }
        _ => {
            let n = rng.gen_range(6..=12);
            digits(rng, n)
        }
    }
}

/// A number abroad in E.164 with `+`: where people using an overseas VoIP service call.
pub(crate) fn foreign_number(rng: &mut SmallRng) -> String {
    const CCS: [(&str, usize); 8] =
        [("1", 10), ("44", 10), ("61", 9), ("65", 8), ("852", 8), ("81", 10), ("49", 11), ("60", 9)];
    let (cc, n) = CCS[rng.gen_range(0..CCS.len())];
    format!("+{cc}{}{}", rng.gen_range(2..=9u8), digits(rng, n - 1))
}

/// The Luhn check digit (ISO/IEC 7812-1 annex B) that completes `body`, a string of
/// ASCII digits.
pub(crate) fn luhn_digit(body: &str) -> char {
    // Doubling starts at the rightmost digit of the body (the check digit will follow it).
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = 2 * d;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// Type Allocation Codes the simulated GSM modules report. SYNTHETIC: invented for the
/// simulator, shaped like those of the GSM/UMTS modem modules gateways are built on
/// (8 digits, reporting-body prefix 86 or 35); not taken from the GSMA database and not
/// meant to match any real device.
pub(crate) const MODEM_TACS: [&str; 4] = ["86190402", "86733105", "86415107", "35896011"];

/// Type Allocation Codes of the ordinary handsets on the cell side. SYNTHETIC like
/// [`MODEM_TACS`] (invented, shaped like handset TACs), and distinct from them.
pub(crate) const HANDSET_TACS: [&str; 6] = ["35298711", "35460210", "86914503", "86027406", "35733308", "86553101"];

/// MNCs whose SIMs use China Mobile's GSM network (MNC 00; China Broadnet's 15 camps
/// on it) and China Unicom's (MNC 01).
pub(crate) const CMCC_MNCS: [&str; 5] = ["00", "02", "07", "08", "15"];
pub(crate) const CU_MNCS: [&str; 3] = ["01", "06", "09"];

/// Mobile network codes of operators under MCC 460 (China): 00/02/04/07/08 China
/// Mobile, 01/06/09 China Unicom, 03/05/11 China Telecom, 15 China Broadnet.
pub(crate) const CN_MNCS: [&str; 11] = ["00", "01", "02", "03", "05", "06", "07", "08", "09", "11", "15"];

/// The operator name a GoIP reports in `pro:` for a SIM of this MNC. China Broadnet
/// (15) SIMs camp on China Mobile's network.
pub(crate) fn operator_name(mnc: &str) -> &'static str {
    match mnc {
        "01" | "06" | "09" => "CHN-UNICOM",
        "03" | "05" | "11" => "CHN-CT",
        _ => "CHINA MOBILE",
    }
}

/// A 15-digit IMEI: a module TAC from [`MODEM_TACS`], a serial, the Luhn digit.
pub(crate) fn imei(rng: &mut SmallRng, tac: &str) -> String {
    let mut s = format!("{tac}{}", digits(rng, 6));
    s.push(luhn_digit(&s));
    s
}

/// A SIM's identities: 15-digit IMSI under MCC 460 and the 20-digit ICCID of the card.
pub(crate) fn sim_identity(rng: &mut SmallRng, mnc: &str) -> (String, String) {
    let imsi = format!("460{mnc}{}", digits(rng, 10));
    let mut iccid = format!("8986{mnc}{}", digits(rng, 13));
    iccid.push(luhn_digit(&iccid));
    (imsi, iccid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn mobile_numbers_follow_the_plan() {
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..1000 {
            let n = cn_mobile(&mut rng);
            assert_eq!(n.len(), 11);
            assert!(n.starts_with('1'));
            assert!((b'3'..=b'9').contains(&n.as_bytes()[1]));
            assert!(n.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn number_styles() {
        assert_eq!(NumberStyle::Bare.apply("13800000000"), "13800000000");
        assert_eq!(NumberStyle::Cc.apply("13800000000"), "8613800000000");
        assert_eq!(NumberStyle::PlusCc.apply("13800000000"), "+8613800000000");
    }

    /// Whether a full number (check digit last) passes the Luhn test.
    fn luhn_ok(n: &str) -> bool {
        luhn_digit(&n[..n.len() - 1]) == n.chars().last().unwrap()
    }

    #[test]
    fn luhn_known_values() {
        // ISO/IEC 7812 worked example and the IMEI example of 3GPP TS 23.003 annex B.
        assert_eq!(luhn_digit("7992739871"), '3');
        assert_eq!(luhn_digit("49015420323751"), '8');
        assert!(luhn_ok("79927398713"));
        assert!(!luhn_ok("79927398710"));
    }

    #[test]
    fn identities_are_well_formed() {
        let mut rng = SmallRng::seed_from_u64(9);
        for tac in MODEM_TACS {
            let i = imei(&mut rng, tac);
            assert_eq!(i.len(), 15);
            assert!(i.starts_with(tac) && luhn_ok(&i), "{i}");
        }
        for mnc in CN_MNCS {
            let (imsi, iccid) = sim_identity(&mut rng, mnc);
            assert_eq!(imsi.len(), 15);
            assert!(imsi.starts_with(&format!("460{mnc}")));
            assert_eq!(iccid.len(), 20);
            assert!(iccid.starts_with("8986") && luhn_ok(&iccid), "{iccid}");
        }
        assert_eq!(operator_name("01"), "CHN-UNICOM");
        assert_eq!(operator_name("11"), "CHN-CT");
        assert_eq!(operator_name("00"), "CHINA MOBILE");
        for tac in HANDSET_TACS {
            assert!(!MODEM_TACS.contains(&tac));
            assert!(luhn_ok(&imei(&mut rng, tac)));
        }
        for mnc in CMCC_MNCS.iter().chain(&CU_MNCS) {
            assert!(CN_MNCS.contains(mnc));
        }
    }

    #[test]
    fn uuid_shape() {
        let mut rng = SmallRng::seed_from_u64(2);
        let u = uuid(&mut rng);
        let parts: Vec<_> = u.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
    }
}
