//! Random identifiers and telephone numbers.
//!
//! Every number is drawn from the seeded generator: none is, or is meant to be, a real
//! subscriber's. Mobile numbers follow the mainland China plan (`1[3-9]` + 9 digits,
//! GB/T 13418 numbering as used by MIIT), landlines a trunk `0` + area code + local number.

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

    #[test]
    fn uuid_shape() {
        let mut rng = SmallRng::seed_from_u64(2);
        let u = uuid(&mut rng);
        let parts: Vec<_> = u.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
    }
}
