//! Synthetic people, numbers and outlets for the carrier records.
//!
//! Everything here is drawn from the seeded generator and made up: names are
//! random pinyin syllables, resident IDs are random digits shaped like
//! GB 11643-1999 numbers (a province code 11–65 as GB/T 2260 lays them out, a
//! city and county part, a real birth date, a sequence, the MOD 11-2 check
//! character), numbers follow the mainland mobile plan. None is taken from a
//! person; a collision with a real number could only be chance.

use rand::rngs::SmallRng;
use rand::Rng;

use crate::sim::ids::luhn_digit;

/// GB/T 2260 province-level prefixes (the first two digits of a region code).
const PROVINCES: [u8; 31] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65,
];

/// GB 11643 weights (2^(17-i) mod 11) and check characters.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The GB 11643 check character of 17 digits.
pub fn resident_check(first17: &[u8]) -> char {
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(&c, w)| u32::from(c - b'0') * w).sum();
    char::from(CHECK[(sum % 11) as usize])
}

/// A made-up six-digit region code: a province prefix, city 01–19, county 01–29.
pub fn region(rng: &mut SmallRng) -> String {
    let province = PROVINCES[rng.gen_range(0..PROVINCES.len())];
    let city = rng.gen_range(1..=19u8);
    let county = rng.gen_range(1..=29u8);
    format!("{province:02}{city:02}{county:02}")
}

/// A made-up resident ID: region, birth date (1950–2005), sequence, check.
pub fn resident_id(rng: &mut SmallRng) -> String {
    let r = region(rng);
    resident_id_in(rng, &r)
}

/// A made-up resident ID of someone from `region` (six digits).
pub fn resident_id_in(rng: &mut SmallRng, region: &str) -> String {
    let year = rng.gen_range(1950..=2005u32);
    let month = rng.gen_range(1..=12u32);
    let day = rng.gen_range(1..=28u32);
    let seq = rng.gen_range(0..1000u32);
    let mut s = format!("{region}{year:04}{month:02}{day:02}{seq:03}");
    s.push(resident_check(s.as_bytes()));
    s
}

const SURNAMES: [&str; 24] = [
    "Bai", "Cao", "Deng", "Fan", "Gao", "Guo", "He", "Hu", "Jiang", "Kong", "Lin", "Lu", "Ma", "Pan", "Qin", "Shen",
    "Tang", "Wei", "Xu", "Yan", "Yao", "Zeng", "Zhou", "Zhu",
];
const SYLLABLES: [&str; 32] = [
    "an", "bo", "chen", "dan", "fei", "gang", "hua", "jia", "jun", "kai", "lan", "lei", "li", "ming", "na", "ning",
    "ping", "qiang", "qing", "rui", "shan", "tao", "ting", "wei", "xia", "xin", "yan", "yi", "yu", "zhen", "zhi", "zi",
];

/// A made-up pinyin-style name: surname and one or two syllables.
pub fn name(rng: &mut SmallRng) -> String {
    let sur = SURNAMES[rng.gen_range(0..SURNAMES.len())];
    let a = SYLLABLES[rng.gen_range(0..SYLLABLES.len())];
    let mut n = format!("{sur} {}{}", a[..1].to_ascii_uppercase(), &a[1..]);
    if rng.gen_bool(0.6) {
        n.push_str(SYLLABLES[rng.gen_range(0..SYLLABLES.len())]);
    }
    n
}

/// Mobile number prefixes by carrier (MIIT allocations, for realism only).
const CMCC_PREFIXES: [&str; 8] = ["134", "135", "136", "138", "139", "150", "182", "187"];
const CU_PREFIXES: [&str; 5] = ["130", "131", "155", "166", "186"];
const CT_PREFIXES: [&str; 5] = ["133", "153", "177", "189", "199"];
const CBN_PREFIXES: [&str; 1] = ["192"];

/// The carrier of an IMSI's MNC (MCC 460).
pub fn carrier_of_imsi(imsi: &str) -> &'static str {
    match imsi.get(3..5) {
        Some("01" | "06" | "09") => "China Unicom",
        Some("03" | "05" | "11") => "China Telecom",
        Some("15") => "China Broadnet",
        _ => "China Mobile",
    }
}

/// A mobile number of the carrier: its prefix then 8 digits.
pub fn msisdn(rng: &mut SmallRng, carrier: &str) -> String {
    let prefixes: &[&str] = match carrier {
        "China Unicom" => &CU_PREFIXES,
        "China Telecom" => &CT_PREFIXES,
        "China Broadnet" => &CBN_PREFIXES,
        _ => &CMCC_PREFIXES,
    };
    format!("{}{:08}", prefixes[rng.gen_range(0..prefixes.len())], rng.gen_range(0..100_000_000u32))
}

/// A 20-digit ICCID of the carrier's issuer code, Luhn-completed.
pub fn iccid(rng: &mut SmallRng, imsi: &str) -> String {
    let mnc = imsi.get(3..5).unwrap_or("00");
    let mut s = format!("8986{mnc}{:013}", rng.gen_range(0..10_000_000_000_000u64));
    s.push(luhn_digit(&s));
    s
}

/// Short carrier names for outlet names and ids.
pub fn carrier_code(carrier: &str) -> &'static str {
    match carrier {
        "China Unicom" => "CU",
        "China Telecom" => "CT",
        "China Broadnet" => "CBN",
        _ => "CMCC",
    }
}

const CITIES: [&str; 12] = [
    "Linyi", "Maoming", "Dongguan", "Jieyang", "Xinyu", "Danzhou", "Zhaoqing", "Yulin", "Fuyang", "Ganzhou", "Qujing",
    "Handan",
];
const STREETS: [&str; 10] =
    ["Jiefang", "Renmin", "Zhongshan", "Xinhua", "Heping", "Jianshe", "Wenhua", "Binhe", "Huancheng", "Chaoyang"];

/// A sales point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlet {
    /// E.g. `CMCC-0421`.
    pub id: String,
    /// E.g. `CMCC Linyi Jiefang Rd outlet 21`.
    pub name: String,
    /// `outlet` (a carrier's own shop), `agent` (a dealer) or `online`.
    pub channel: &'static str,
}

/// Outlet number `n` of a carrier (deterministic: the same `n` gives the same outlet).
pub fn outlet(carrier: &str, n: u32) -> Outlet {
    let code = carrier_code(carrier);
    if n == 0 {
        return Outlet { id: format!("{code}-ONLINE"), name: format!("{code} online shop"), channel: "online" };
    }
    let city = CITIES[(n as usize * 7) % CITIES.len()];
    let street = STREETS[(n as usize * 3 + n as usize / 7) % STREETS.len()];
    let (kind, channel) = if n % 3 == 0 { ("dealer", "agent") } else { ("outlet", "outlet") };
    Outlet { id: format!("{code}-{n:04}"), name: format!("{code} {city} {street} Rd {kind} {n}"), channel }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn resident_ids_validate() {
        let mut rng = SmallRng::seed_from_u64(5);
        for _ in 0..2000 {
            let id = resident_id(&mut rng);
            duanka_shared::ids::ResidentId::parse(&id).unwrap_or_else(|e| panic!("{id}: {e}"));
        }
    }

    #[test]
    fn numbers_and_cards_validate() {
        let mut rng = SmallRng::seed_from_u64(6);
        for imsi in ["460001234567890", "460011234567890", "460031234567890", "460151234567890"] {
            let carrier = carrier_of_imsi(imsi);
            let m = msisdn(&mut rng, carrier);
            assert!(m.len() == 11 && m.starts_with('1'), "{m}");
            let c = iccid(&mut rng, imsi);
            duanka_shared::ids::Iccid::parse(&c).unwrap_or_else(|e| panic!("{c}: {e}"));
            assert_eq!(c.len(), 20);
        }
        assert_eq!(carrier_of_imsi("460011234567890"), "China Unicom");
        assert_eq!(outlet("China Mobile", 0).channel, "online");
        assert_eq!(outlet("China Mobile", 12), outlet("China Mobile", 12));
        assert_ne!(outlet("China Mobile", 12).id, outlet("China Unicom", 12).id);
    }
}
