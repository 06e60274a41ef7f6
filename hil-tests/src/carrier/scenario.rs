//! Carrier records for a simulated scenario, and what correlating them with
//! the probe's findings should reveal.
//!
//! Every IMSI of the [`Truth`] gets a registry row: the SIMs of the SIM-box
//! gateways, the ordinary handsets, and a background population. The story
//! behind the gateways' cards (SPEC 1):
//!
//! - **Card openers.** A gateway's cards belong to people who each opened 1–8
//!   of them; many hold more than 5 cards of one carrier (the 一证多卡 limit):
//!   every gateway with more than 5 of one carrier's cards outside its
//!   insider's share has at least one such owner.
//! - **Recruiter bursts.** Most of a gateway's cards come from groups a
//!   recruiter brought to one outlet: every card of the group opened there
//!   within a window of one to four hours on one day; the group's members
//!   come from one county (their resident IDs share the region code).
//! - **Insiders.** Every other gateway (with at least 6 cards) has an
//!   insider: one outlet that opened 35–50 % of its cards, for many owners
//!   (1–4 cards each), over three to eight weeks.
//! - The remaining cards were opened one owner at a time at scattered
//!   outlets over the past year; and some owners (one per three gateways,
//!   at least one when there are two gateways) have cards in two gateways.
//! - **Background.** Each handset's owner holds 1–3 cards; `background_owners`
//!   more ordinary people hold 1–3 cards each, opened at many outlets over
//!   ten years.
//!
//! CDRs: one per truth link (the gateway SIM's mobile-originated call: its
//! IMSI, the module's IMEI, its MSISDN, the called number as the softswitch
//! wrote it — bare, `86…` or `+86…` — the CC Setup time, a duration, the
//! gateway's cell), plus a few calls of each handset.
//!
//! # Owners truth (JSON)
//!
//! ```text
//! { "seed": 1, "limit_per_carrier": 5,
//!   "gateways": [{
//!     "gateway": "198.51.100.10", "cards": 16,
//!     "owners": [{ "owner_id": "3701…", "cards": 6, "cards_total": 6,
//!                  "over_limit": true, "gateways": ["198.51.100.10"] }],
//!     "owners_over_limit": ["3701…"],
//!     "bursts": [{ "outlet_id": "CMCC-0300", "from": "2026-06-01T10:05:00.000+08:00",
//!                  "to": "2026-06-01T12:40:00.000+08:00", "cards": 9, "owners": 3 }],
//!     "insider_outlets": [{ "outlet_id": "CMCC-0501", "cards": 7, "share": 0.44,
//!                           "owners": 4, "from": "…", "to": "…" }] }],
//!   "owners_over_limit": [{ "owner_id": "3701…", "carrier": "China Mobile", "cards": 6 }],
//!   "owners_in_several_gateways": [{ "owner_id": "…", "gateways": ["…", "…"] }],
//!   "registry_rows": 1234, "cdr_rows": 567, "background_owners": 300 }
//! ```
//!
//! Owners are listed by descending card count in the gateway, then id;
//! `over_limit` means more than `limit_per_carrier` cards of one carrier in
//! the whole registry. Burst and insider windows are the first and last
//! activation among those cards; bursts and insider outlets are listed per
//! outlet id (a group's cards of another carrier were opened at that carrier's
//! outlet of the same number) when they hold at least [`MIN_PATTERN_CARDS`]
//! cards.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::people::{self, Outlet};
use super::{time_string, CdrRow, RegistryRow};
use crate::sim::ids::luhn_digit;
use crate::Truth;

/// Fewest cards a burst or an insider outlet needs to be listed in the truth
/// (fewer are not a pattern anyone could find).
pub const MIN_PATTERN_CARDS: usize = 3;

/// Cards one person may hold per carrier.
pub const LIMIT_PER_CARRIER: usize = 5;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const MIN_MS: i64 = 60_000;
/// China Standard Time offset, ms.
const CST_MS: i64 = 8 * HOUR_MS;

/// Settings of [`from_truth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioConfig {
    /// Seed of the generator (the same seed and truth give the same records).
    pub seed: u64,
    /// Ordinary people besides the handsets' owners.
    pub background_owners: u32,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig { seed: 1, background_owners: 300 }
    }
}

/// The records of a scenario and what correlation should find in them.
#[derive(Debug, Clone, PartialEq)]
pub struct CarrierRecords {
    /// One row per IMSI.
    pub registry: Vec<RegistryRow>,
    /// Gateway calls, then handset calls.
    pub cdrs: Vec<CdrRow>,
    /// The expected findings.
    pub owners: OwnersTruth,
}

/// What correlation should find (schema in the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnersTruth {
    pub seed: u64,
    pub limit_per_carrier: usize,
    pub gateways: Vec<GatewayOwners>,
    pub owners_over_limit: Vec<OverLimit>,
    pub owners_in_several_gateways: Vec<SpreadOwner>,
    pub registry_rows: usize,
    pub cdr_rows: usize,
    pub background_owners: u32,
}

/// One gateway's cards and their owners.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayOwners {
    /// The gateway's address, as in the scenario truth.
    pub gateway: String,
    /// Its cards (IMSIs).
    pub cards: usize,
    pub owners: Vec<OwnerCards>,
    /// Owners over the per-carrier limit among them.
    pub owners_over_limit: Vec<String>,
    pub bursts: Vec<Burst>,
    pub insider_outlets: Vec<Insider>,
}

/// An owner's cards in one gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnerCards {
    pub owner_id: String,
    /// Cards of this owner in this gateway.
    pub cards: usize,
    /// Cards of this owner in the whole registry.
    pub cards_total: usize,
    /// More than the limit of one carrier's cards.
    pub over_limit: bool,
    /// Every gateway holding this owner's cards.
    pub gateways: Vec<String>,
}

/// A recruiter burst: a group's cards opened at one outlet within hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Burst {
    pub outlet_id: String,
    /// First activation, RFC 3339.
    pub from: String,
    /// Last activation, RFC 3339.
    pub to: String,
    pub cards: usize,
    pub owners: usize,
}

/// An outlet with a large share of a gateway's cards, opened over weeks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insider {
    pub outlet_id: String,
    pub cards: usize,
    /// `cards` / the gateway's cards.
    pub share: f64,
    pub owners: usize,
    pub from: String,
    pub to: String,
}

/// An owner over the limit with one carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverLimit {
    pub owner_id: String,
    pub carrier: String,
    pub cards: usize,
}

/// An owner whose cards sit in several gateways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpreadOwner {
    pub owner_id: String,
    pub gateways: Vec<String>,
}

/// A gateway's address and its SIMs: IMSI, and the ICCID the truth pairs with it.
type GatewaySims = (String, Vec<(String, Option<String>)>);

#[derive(Debug, Clone)]
struct Owner {
    id: String,
    name: String,
}

#[derive(Debug, Clone)]
struct Card {
    imsi: String,
    iccid: String,
    msisdn: String,
    carrier: &'static str,
    owner: usize,
    outlet: Outlet,
    activated: i64,
    gateway: Option<usize>,
}

/// How a gateway card came to be opened (for the truth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Burst(usize),
    Insider,
    Scattered,
}

/// Uniqueness of generated identities.
#[derive(Debug, Default)]
struct Used {
    imsis: HashSet<String>,
    iccids: HashSet<String>,
    msisdns: HashSet<String>,
}

impl Used {
    fn msisdn(&mut self, rng: &mut SmallRng, carrier: &str) -> String {
        loop {
            let m = people::msisdn(rng, carrier);
            if self.msisdns.insert(m.clone()) {
                return m;
            }
        }
    }

    fn iccid(&mut self, rng: &mut SmallRng, imsi: &str, given: Option<&str>) -> String {
        if let Some(g) = given {
            let ok = g.len() >= 19 && duanka_shared::ids::Iccid::parse(g).is_ok();
            if ok && self.iccids.insert(g.to_owned()) {
                return g.to_owned();
            }
        }
        loop {
            let c = people::iccid(rng, imsi);
            if self.iccids.insert(c.clone()) {
                return c;
            }
        }
    }

    fn imsi(&mut self, rng: &mut SmallRng) -> String {
        const MNCS: [&str; 6] = ["00", "00", "02", "01", "01", "03"];
        loop {
            let i = format!("460{}{:010}", MNCS[rng.gen_range(0..MNCS.len())], rng.gen_range(0..10_000_000_000u64));
            if self.imsis.insert(i.clone()) {
                return i;
            }
        }
    }
}

/// Splits `n` cards into owners' shares drawn from `weights` (weight of 1, 2, … cards).
fn shares(rng: &mut SmallRng, n: usize, weights: &[u32]) -> Vec<usize> {
    let total: u32 = weights.iter().sum();
    let mut out = Vec::new();
    let mut left = n;
    while left > 0 {
        let mut x = rng.gen_range(0..total);
        let mut size = weights.len();
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                size = i + 1;
                break;
            }
            x -= w;
        }
        let size = size.min(left);
        out.push(size);
        left -= size;
    }
    out
}

/// Card openers: 1–8 cards, often more than 5.
const OPENER_WEIGHTS: [u32; 8] = [1, 1, 2, 2, 3, 3, 3, 3];
/// Members of a recruiter's group: 1–8 cards, mostly 2–4, so a group has several.
const GROUP_WEIGHTS: [u32; 8] = [2, 3, 3, 2, 2, 1, 1, 1];
/// An insider's victims: 1–4 cards each.
const INSIDER_WEIGHTS: [u32; 4] = [3, 3, 2, 1];
/// Ordinary people: 1–3 cards.
const ORDINARY_WEIGHTS: [u32; 3] = [6, 3, 1];

/// A time of day in business hours (09:00–19:00 China time) on the day of `day_ms`.
fn business_time(rng: &mut SmallRng, day_ms: i64) -> i64 {
    let local_midnight = (day_ms + CST_MS).div_euclid(DAY_MS) * DAY_MS - CST_MS;
    local_midnight + 9 * HOUR_MS + rng.gen_range(0..10 * HOUR_MS)
}

/// Builds the registry, the CDRs and the owners truth for `truth`.
pub fn from_truth(truth: &Truth, cfg: &ScenarioConfig) -> CarrierRecords {
    let mut rng = SmallRng::seed_from_u64(cfg.seed ^ 0xca11_0000_5eed_0001);
    let start = truth.start_unix as i64 * 1000;
    let mut used = Used::default();
    let mut owners: Vec<Owner> = Vec::new();
    let mut cards: Vec<Card> = Vec::new();
    let mut origin: Vec<Option<Origin>> = Vec::new();

    // The gateways' SIMs: (address, [(imsi, iccid from the truth if paired)]).
    let mut gateways: Vec<GatewaySims> = Vec::new();
    let mut gw_index: HashMap<String, usize> = HashMap::new();
    for h in truth.simboxes() {
        let paired = h.iccids.len() == h.imsis.len();
        let mut sims = Vec::new();
        for (i, imsi) in h.imsis.iter().enumerate() {
            if used.imsis.insert(imsi.clone()) {
                sims.push((imsi.clone(), if paired { h.iccids.get(i).cloned() } else { None }));
            }
        }
        gw_index.insert(h.address.clone(), gateways.len());
        gateways.push((h.address.clone(), sims));
    }
    for l in &truth.links {
        if used.imsis.insert(l.imsi.clone()) {
            let gi = *gw_index.entry(l.gateway.clone()).or_insert_with(|| {
                gateways.push((l.gateway.clone(), Vec::new()));
                gateways.len() - 1
            });
            gateways[gi].1.push((l.imsi.clone(), None));
        }
    }

    let n_gw = gateways.len();
    // Per gateway: owners by how their cards were opened, for the cross-gateway owners.
    let mut merge_pool: Vec<Vec<usize>> = vec![Vec::new(); n_gw];
    let mut bursts_outlets: Vec<Vec<String>> = vec![Vec::new(); n_gw];
    let mut insider_outlet: Vec<Option<String>> = vec![None; n_gw];
    for (gi, (_, sims)) in gateways.iter().enumerate() {
        let mut sims = sims.clone();
        sims.shuffle(&mut rng);
        // One owner's cards are mostly of one carrier: slice them from runs of a carrier.
        sims.sort_by_key(|(imsi, _)| people::carrier_of_imsi(imsi));
        let n = sims.len();
        if n == 0 {
            continue;
        }
        let dominant = people::carrier_of_imsi(&sims[0].0);
        // Insider: every other gateway with at least 6 cards (the only one, if alone).
        let insider_n = if n >= 6 && (gi % 2 == 1 || n_gw == 1) {
            ((n as f64) * rng.gen_range(0.35..0.5)).ceil() as usize
        } else {
            0
        };
        // One card opener well over the limit per gateway that has the cards for it:
        // the longest run of one carrier's cards after the insider's goes first, to
        // the first member of the first burst.
        let mut big = 0;
        {
            let tail = &mut sims[insider_n..];
            let mut best = (0, 0);
            let mut i = 0;
            while i < tail.len() {
                let c = people::carrier_of_imsi(&tail[i].0);
                let len = tail[i..].iter().take_while(|(imsi, _)| people::carrier_of_imsi(imsi) == c).count();
                if len > best.1 {
                    best = (i, len);
                }
                i += len;
            }
            if best.1 > LIMIT_PER_CARRIER {
                tail[..best.0 + best.1].rotate_right(best.1);
                big = best.1.min(rng.gen_range(6..=8));
            }
        }
        let mut next = 0usize;
        let mut add_owner_cards = |rng: &mut SmallRng,
                                   used: &mut Used,
                                   owners: &mut Vec<Owner>,
                                   cards: &mut Vec<Card>,
                                   origin: &mut Vec<Option<Origin>>,
                                   count: usize,
                                   region: Option<&str>,
                                   outlet_n: u32,
                                   times: &mut dyn FnMut(&mut SmallRng) -> i64,
                                   how: Origin|
         -> usize {
            let id = match region {
                Some(r) => people::resident_id_in(rng, r),
                None => people::resident_id(rng),
            };
            owners.push(Owner { id, name: people::name(rng) });
            let owner = owners.len() - 1;
            for (imsi, iccid) in sims.iter().skip(next).take(count) {
                let carrier = people::carrier_of_imsi(imsi);
                let iccid = used.iccid(rng, imsi, iccid.as_deref());
                let msisdn = used.msisdn(rng, carrier);
                let activated = times(rng);
                cards.push(Card {
                    imsi: imsi.clone(),
                    iccid,
                    msisdn,
                    carrier,
                    owner,
                    outlet: people::outlet(carrier, outlet_n),
                    activated,
                    gateway: Some(gi),
                });
                origin.push(Some(how));
            }
            next += count;
            owner
        };

        if insider_n > 0 {
            let outlet_n = 500 + gi as u32;
            insider_outlet[gi] = Some(people::outlet(dominant, outlet_n).id);
            let from = start - rng.gen_range(30..120) * DAY_MS;
            let span_days = rng.gen_range(21..56);
            for share in shares(&mut rng, insider_n, &INSIDER_WEIGHTS) {
                let mut t = |r: &mut SmallRng| {
                    let d = from + r.gen_range(0..span_days) * DAY_MS;
                    business_time(r, d)
                };
                add_owner_cards(
                    &mut rng,
                    &mut used,
                    &mut owners,
                    &mut cards,
                    &mut origin,
                    share,
                    None,
                    outlet_n,
                    &mut t,
                    Origin::Insider,
                );
            }
        }
        // Bursts: about two thirds of the rest, one to three groups.
        let rest = n - insider_n;
        let burst_cards = (rest * 2 / 3).max(big);
        let n_bursts =
            if burst_cards == 0 { 0 } else { 1 + usize::from(burst_cards >= 16) + usize::from(burst_cards >= 32) };
        for b in 0..n_bursts {
            let in_this = burst_cards / n_bursts + usize::from(b < burst_cards % n_bursts);
            let outlet_n = 300 + (gi * 4 + b) as u32;
            bursts_outlets[gi].push(people::outlet(dominant, outlet_n).id);
            let day = start - rng.gen_range(20..200) * DAY_MS;
            let local_midnight = (day + CST_MS).div_euclid(DAY_MS) * DAY_MS - CST_MS;
            let w_from = local_midnight + rng.gen_range(9..16) * HOUR_MS + rng.gen_range(0..60) * MIN_MS;
            let w_len = rng.gen_range(1..=4) * HOUR_MS;
            let region = people::region(&mut rng);
            let mut group = Vec::new();
            if b == 0 && big > 0 {
                group.push(big);
            }
            let first = group.first().copied().unwrap_or(0);
            group.extend(shares(&mut rng, in_this.saturating_sub(first), &GROUP_WEIGHTS));
            for share in group {
                let arrive = w_from + rng.gen_range(0..w_len - 30 * MIN_MS);
                let mut k = 0;
                let mut t = |r: &mut SmallRng| {
                    k += 1;
                    arrive + k * r.gen_range(1..5) * MIN_MS
                };
                let o = add_owner_cards(
                    &mut rng,
                    &mut used,
                    &mut owners,
                    &mut cards,
                    &mut origin,
                    share,
                    Some(&region),
                    outlet_n,
                    &mut t,
                    Origin::Burst(b),
                );
                merge_pool[gi].push(o);
            }
        }
        // Scattered openers.
        for share in shares(&mut rng, rest - burst_cards, &OPENER_WEIGHTS) {
            let day = start - rng.gen_range(10..365) * DAY_MS;
            let outlet_n = rng.gen_range(1..=200);
            let mut t = |r: &mut SmallRng| {
                let d = day + r.gen_range(0..2) * DAY_MS;
                business_time(r, d)
            };
            let o = add_owner_cards(
                &mut rng,
                &mut used,
                &mut owners,
                &mut cards,
                &mut origin,
                share,
                None,
                outlet_n,
                &mut t,
                Origin::Scattered,
            );
            merge_pool[gi].push(o);
        }
    }

    // Owners with cards in two gateways: owner B's cards become owner A's.
    if n_gw >= 2 {
        let n_cross = (n_gw / 3).max(1);
        for c in 0..n_cross {
            let (g1, g2) = (c % n_gw, (c + 1) % n_gw);
            let (Some(&a), Some(&b)) = (merge_pool[g1].first(), merge_pool[g2].last()) else { continue };
            if a == b {
                continue;
            }
            for card in cards.iter_mut().filter(|card| card.owner == b) {
                card.owner = a;
            }
            merge_pool[g1].retain(|o| *o != a);
            merge_pool[g2].retain(|o| *o != b);
        }
    }

    // Handsets and the background population: ordinary people.
    let handset_imsis: Vec<String> =
        truth.handsets.iter().map(|h| h.imsi.clone()).filter(|i| used.imsis.insert(i.clone())).collect();
    let ten_years = 3650 * DAY_MS;
    let ordinary = |rng: &mut SmallRng,
                    used: &mut Used,
                    owners: &mut Vec<Owner>,
                    cards: &mut Vec<Card>,
                    origin: &mut Vec<Option<Origin>>,
                    first: Option<String>| {
        owners.push(Owner { id: people::resident_id(rng), name: people::name(rng) });
        let owner = owners.len() - 1;
        let count = shares(rng, 3, &ORDINARY_WEIGHTS)[0];
        for k in 0..count {
            let imsi = match (&first, k) {
                (Some(i), 0) => i.clone(),
                _ => used.imsi(rng),
            };
            let carrier = people::carrier_of_imsi(&imsi);
            let outlet_n = if rng.gen_bool(0.2) { 0 } else { rng.gen_range(1..=200) };
            let day = start - rng.gen_range(DAY_MS..ten_years);
            cards.push(Card {
                iccid: used.iccid(rng, &imsi, None),
                msisdn: used.msisdn(rng, carrier),
                carrier,
                owner,
                outlet: people::outlet(carrier, outlet_n),
                activated: business_time(rng, day),
                gateway: None,
                imsi,
            });
            origin.push(None);
        }
    };
    for imsi in handset_imsis {
        ordinary(&mut rng, &mut used, &mut owners, &mut cards, &mut origin, Some(imsi));
    }
    for _ in 0..cfg.background_owners {
        ordinary(&mut rng, &mut used, &mut owners, &mut cards, &mut origin, None);
    }

    let registry: Vec<RegistryRow> = cards
        .iter()
        .map(|c| RegistryRow {
            imsi: c.imsi.clone(),
            msisdn: c.msisdn.clone(),
            iccid: c.iccid.clone(),
            carrier: c.carrier,
            owner_id: owners[c.owner].id.clone(),
            owner_name: owners[c.owner].name.clone(),
            outlet_id: c.outlet.id.clone(),
            outlet_name: c.outlet.name.clone(),
            channel: c.outlet.channel,
            activated_at_ms: c.activated,
        })
        .collect();
    let cdrs = make_cdrs(truth, &cards, &gateways, &mut rng);
    let owners_truth =
        owners_truth(cfg, &gateways, &cards, &origin, &owners, &bursts_outlets, &insider_outlet, &registry, cdrs.len());
    CarrierRecords { registry, cdrs, owners: owners_truth }
}

/// The IMEI as a CDR would carry it: 14 digits when the check digit is wrong
/// (the network never receives it; the agent completes 14 digits).
fn cdr_imei(imei: &str) -> String {
    if imei.len() == 15
        && imei.bytes().all(|b| b.is_ascii_digit())
        && luhn_digit(&imei[..14]) != imei.as_bytes()[14] as char
    {
        imei[..14].to_owned()
    } else {
        imei.to_owned()
    }
}

fn make_cdrs(truth: &Truth, cards: &[Card], gateways: &[GatewaySims], rng: &mut SmallRng) -> Vec<CdrRow> {
    let msisdn: HashMap<&str, &str> = cards.iter().map(|c| (c.imsi.as_str(), c.msisdn.as_str())).collect();
    let cell_of = |c: &crate::TruthCell| format!("{}-{}-{}-{}", c.mcc, c.mnc, c.lac, c.cell_id);
    let mut seen: HashSet<(String, i64, String)> = HashSet::new();
    let mut out = Vec::new();
    for l in &truth.links {
        let Some(m) = msisdn.get(l.imsi.as_str()) else { continue };
        let start_ms = (l.gsm_setup_at / 1000) as i64;
        if !seen.insert((l.imsi.clone(), start_ms, l.called_number.clone())) {
            continue;
        }
        let cell = match truth.host(&l.gateway).and_then(|h| h.cell.as_ref()) {
            Some(c) => cell_of(c),
            None => {
                let gi = gateways.iter().position(|g| g.0 == l.gateway).unwrap_or(0);
                format!("460-00-{}-{}", 9000 + gi, 3000 + gi)
            }
        };
        let called = match rng.gen_range(0..20) {
            0..=13 => l.called_number.clone(),
            14..=16 => format!("86{}", l.called_number),
            _ => format!("+86{}", l.called_number),
        };
        let duration_s = if rng.gen_bool(0.6) { 0 } else { rng.gen_range(5..90) };
        out.push(CdrRow {
            imsi: l.imsi.clone(),
            imei: cdr_imei(&l.imei),
            msisdn: (*m).to_owned(),
            called,
            start_ms,
            duration_s,
            cell,
        });
    }
    // Handsets: a few calls each, mostly to a few favourite numbers.
    let start = truth.start_unix as i64 * 1000;
    let span = ((truth.duration_s.max(60.0)) * 1000.0) as i64;
    for h in &truth.handsets {
        let Some(m) = msisdn.get(h.imsi.as_str()) else { continue };
        let favourites: Vec<String> = (0..3).map(|_| crate::sim::ids::cn_mobile(rng)).collect();
        let cell = match truth.cells.get(rng.gen_range(0..truth.cells.len().max(1))) {
            Some(c) => cell_of(c),
            None => "460-00-9633-3133".to_owned(),
        };
        for _ in 0..rng.gen_range(2..=8) {
            let called = if rng.gen_bool(0.8) {
                favourites[rng.gen_range(0..3)].clone()
            } else {
                crate::sim::ids::cn_mobile(rng)
            };
            let start_ms = start - 7 * DAY_MS + rng.gen_range(0..7 * DAY_MS + span);
            if !seen.insert((h.imsi.clone(), start_ms, called.clone())) {
                continue;
            }
            out.push(CdrRow {
                imsi: h.imsi.clone(),
                imei: cdr_imei(&h.imei),
                msisdn: (*m).to_owned(),
                called,
                start_ms,
                duration_s: rng.gen_range(20..600),
                cell: cell.clone(),
            });
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn owners_truth(
    cfg: &ScenarioConfig,
    gateways: &[GatewaySims],
    cards: &[Card],
    origin: &[Option<Origin>],
    owners: &[Owner],
    bursts_outlets: &[Vec<String>],
    insider_outlet: &[Option<String>],
    registry: &[RegistryRow],
    cdr_rows: usize,
) -> OwnersTruth {
    // Whole-registry counts per owner and per (owner, carrier).
    let mut total: HashMap<usize, usize> = HashMap::new();
    let mut per_carrier: BTreeMap<(String, &str), usize> = BTreeMap::new();
    let mut owner_gateways: HashMap<usize, BTreeSet<usize>> = HashMap::new();
    for c in cards {
        *total.entry(c.owner).or_default() += 1;
        *per_carrier.entry((owners[c.owner].id.clone(), c.carrier)).or_default() += 1;
        if let Some(g) = c.gateway {
            owner_gateways.entry(c.owner).or_default().insert(g);
        }
    }
    let over: BTreeSet<&str> =
        per_carrier.iter().filter(|(_, n)| **n > LIMIT_PER_CARRIER).map(|((o, _), _)| o.as_str()).collect();
    let names = |set: &BTreeSet<usize>| set.iter().map(|g| gateways[*g].0.clone()).collect::<Vec<_>>();

    let mut out_gateways = Vec::new();
    for (gi, (address, _)) in gateways.iter().enumerate() {
        let mine: Vec<(usize, &Card)> = cards.iter().enumerate().filter(|(_, c)| c.gateway == Some(gi)).collect();
        let mut per_owner: BTreeMap<usize, usize> = BTreeMap::new();
        for (_, c) in &mine {
            *per_owner.entry(c.owner).or_default() += 1;
        }
        let mut list: Vec<OwnerCards> = per_owner
            .iter()
            .map(|(o, n)| OwnerCards {
                owner_id: owners[*o].id.clone(),
                cards: *n,
                cards_total: total[o],
                over_limit: over.contains(owners[*o].id.as_str()),
                gateways: names(&owner_gateways[o]),
            })
            .collect();
        list.sort_by(|a, b| b.cards.cmp(&a.cards).then_with(|| a.owner_id.cmp(&b.owner_id)));
        let owners_over_limit = list.iter().filter(|o| o.over_limit).map(|o| o.owner_id.clone()).collect();
        // Per outlet id: a group's cards of another carrier went to that carrier's
        // outlet of the same number, which is a burst (or insider) of its own.
        let by_outlet = |sel: &dyn Fn(Option<Origin>) -> bool| {
            let mut m: BTreeMap<&str, Vec<&Card>> = BTreeMap::new();
            for (i, c) in &mine {
                if sel(origin[*i]) {
                    m.entry(c.outlet.id.as_str()).or_default().push(c);
                }
            }
            m.into_iter()
                .filter(|(_, cs)| cs.len() >= MIN_PATTERN_CARDS)
                .map(|(id, cs)| {
                    let from = cs.iter().map(|c| c.activated).min().unwrap_or(0);
                    let to = cs.iter().map(|c| c.activated).max().unwrap_or(0);
                    let n_owners = cs.iter().map(|c| c.owner).collect::<BTreeSet<_>>().len();
                    (id.to_owned(), cs.len(), n_owners, time_string(from), time_string(to))
                })
                .collect::<Vec<_>>()
        };
        let bursts = (0..bursts_outlets[gi].len())
            .flat_map(|b| by_outlet(&|o| o == Some(Origin::Burst(b))))
            .map(|(outlet_id, cards, owners, from, to)| Burst { outlet_id, from, to, cards, owners })
            .collect();
        let insider_outlets = if insider_outlet[gi].is_some() {
            by_outlet(&|o| o == Some(Origin::Insider))
                .into_iter()
                .map(|(outlet_id, n, owners, from, to)| {
                    let share = (n as f64 / mine.len().max(1) as f64 * 1000.0).round() / 1000.0;
                    Insider { outlet_id, cards: n, share, owners, from, to }
                })
                .collect()
        } else {
            Vec::new()
        };
        out_gateways.push(GatewayOwners {
            gateway: address.clone(),
            cards: mine.len(),
            owners: list,
            owners_over_limit,
            bursts,
            insider_outlets,
        });
    }
    let owners_over_limit = per_carrier
        .iter()
        .filter(|(_, n)| **n > LIMIT_PER_CARRIER)
        .map(|((o, c), n)| OverLimit { owner_id: o.clone(), carrier: (*c).to_owned(), cards: *n })
        .collect();
    let mut spread: Vec<SpreadOwner> = owner_gateways
        .iter()
        .filter(|(_, g)| g.len() > 1)
        .map(|(o, g)| SpreadOwner { owner_id: owners[*o].id.clone(), gateways: names(g) })
        .collect();
    spread.sort_by(|a, b| a.owner_id.cmp(&b.owner_id));
    OwnersTruth {
        seed: cfg.seed,
        limit_per_carrier: LIMIT_PER_CARRIER,
        gateways: out_gateways,
        owners_over_limit,
        owners_in_several_gateways: spread,
        registry_rows: registry.len(),
        cdr_rows,
        background_owners: cfg.background_owners,
    }
}
