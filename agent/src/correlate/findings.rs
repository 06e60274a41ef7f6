//! What a cluster says about people (SPEC 1, 4.2): its cards' registered
//! owners and outlets, owners over the 一证多卡 limit (5 cards per carrier),
//! owners in several cases, outlets holding a large share of the cards
//! (possible insiders), activation bursts (a recruiter bringing a group to one
//! outlet within hours), and cards that come back after a block.
//!
//! Everything here is read from the registry, the block list and the other
//! cases; nothing is written.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::cluster::{Cluster, Tie};
use super::Config;
use crate::import::registry::imsi_key;
use crate::store::ms_to_rfc3339;

/// A SIM of the cluster with its registry row, if the registry knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimInfo {
    /// IMSI.
    pub imsi: String,
    /// From the registry.
    pub msisdn: Option<String>,
    /// From the registry.
    pub iccid: Option<String>,
    /// From the registry.
    pub carrier: Option<String>,
    /// The registered owner's id (unmasked; masking happens on output).
    pub owner_id: Option<String>,
    /// The outlet that opened it.
    pub outlet_id: Option<String>,
    /// Activation time, RFC 3339.
    pub activated_at: Option<String>,
    /// What tied it to the cluster.
    pub ties: Vec<Tie>,
}

/// An owner of cards in the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnerFinding {
    /// Resident id or `passport:…` (unmasked here).
    pub owner_id: String,
    /// `resident` or `passport`.
    pub owner_id_kind: String,
    /// Registered name.
    pub owner_name: String,
    /// Their cards in this cluster.
    pub cards_in_case: u64,
    /// Their cards in the whole registry.
    pub cards_registered: u64,
    /// Their cards per carrier.
    pub cards_by_carrier: BTreeMap<String, u64>,
    /// More than the limit at one carrier.
    pub over_limit: bool,
    /// Other cases holding their cards.
    pub other_cases: Vec<i64>,
    /// Cards of theirs on a block list (from confirmed cases).
    pub blocked_cards: u64,
}

/// An outlet that opened cards of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutletFinding {
    /// Outlet id.
    pub outlet_id: String,
    /// Outlet name.
    pub outlet_name: String,
    /// Cluster cards it opened.
    pub cards_in_case: u64,
    /// Share of the cluster's registered cards it opened.
    pub share: f64,
    /// Large share and count: a possible insider.
    pub possible_insider: bool,
}

/// Many cluster cards opened at one outlet within hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Burst {
    /// Outlet id.
    pub outlet_id: String,
    /// Cluster cards opened in the burst.
    pub cards: u64,
    /// First activation, RFC 3339.
    pub start: String,
    /// Last activation, RFC 3339.
    pub end: String,
    /// Owners who opened them (unmasked here).
    pub owners: Vec<String>,
    /// Other cards the outlet opened in the same span: not (yet) seen in a gateway.
    pub other_cards: u64,
}

/// A cluster card already blocked in another case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reappeared {
    /// The SIM.
    pub imsi: String,
    /// The case that blocked it.
    pub blocked_in_case: i64,
    /// When, RFC 3339.
    pub blocked_at: String,
}

/// One finding in words, for the case list and the analyst.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// `simbox_gateway`, `owner_over_limit`, `owner_in_other_cases`, `possible_insider`,
    /// `activation_burst`, `reappeared_card`, `rotating_module`, `unregistered_cards`.
    pub kind: String,
    /// What it says (identities masked).
    pub text: String,
}

/// Everything a case shows about its cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseFindings {
    /// The SIMs.
    pub sims: Vec<SimInfo>,
    /// Owners, most cards in the case first.
    pub owners: Vec<OwnerFinding>,
    /// Outlets, most cards first.
    pub outlets: Vec<OutletFinding>,
    /// Activation bursts.
    pub bursts: Vec<Burst>,
    /// Cards back after a block.
    pub reappeared: Vec<Reappeared>,
    /// The findings in words.
    pub findings: Vec<Finding>,
    /// `low`, `medium`, `high`, `critical`.
    pub severity: String,
    /// SIMs the registry does not know.
    pub unregistered_sims: u64,
}

struct Row {
    msisdn: String,
    iccid: String,
    carrier: String,
    owner_id: String,
    owner_kind: String,
    owner_name: String,
    outlet_id: String,
    outlet_name: String,
    activated_at: i64,
}

/// A resident id shown as its first 4 and last 4 characters; a passport-style
/// id as its kind and last 4. Used wherever a role may not see identities.
pub fn mask_owner(id: &str) -> String {
    if let Some(rest) = id.strip_prefix("passport:") {
        let keep = rest.len().saturating_sub(4);
        return format!("passport:{}{}", "*".repeat(keep), &rest[keep..]);
    }
    let n = id.chars().count();
    if n <= 8 {
        return "*".repeat(n);
    }
    let chars: Vec<char> = id.chars().collect();
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[n - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(n - 8))
}

/// Work out the findings of one cluster; `case_id` is its case, if it has one.
pub fn analyse(
    tx: &Transaction<'_>,
    cfg: &Config,
    cluster: &Cluster,
    case_id: Option<i64>,
) -> rusqlite::Result<CaseFindings> {
    let mut reg = tx.prepare_cached(
        "SELECT msisdn, iccid, carrier, owner_id, owner_id_kind, owner_name, outlet_id, outlet_name, activated_at
         FROM registry WHERE imsi = ?1",
    )?;
    let mut f = CaseFindings::default();
    let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
    for (imsi, ties) in &cluster.imsis {
        // An IMSI the registry cannot hold (not 15 digits) is not in it.
        let row = match imsi_key(imsi) {
            Some(key) => reg
                .query_row([key], |r| {
                    Ok(Row {
                        msisdn: r.get(0)?,
                        iccid: r.get(1)?,
                        carrier: r.get(2)?,
                        owner_id: r.get(3)?,
                        owner_kind: r.get(4)?,
                        owner_name: r.get(5)?,
                        outlet_id: r.get(6)?,
                        outlet_name: r.get(7)?,
                        activated_at: r.get(8)?,
                    })
                })
                .optional()?,
            None => None,
        };
        f.sims.push(SimInfo {
            imsi: imsi.clone(),
            msisdn: row.as_ref().map(|r| r.msisdn.clone()),
            iccid: row.as_ref().map(|r| r.iccid.clone()),
            carrier: row.as_ref().map(|r| r.carrier.clone()),
            owner_id: row.as_ref().map(|r| r.owner_id.clone()),
            outlet_id: row.as_ref().map(|r| r.outlet_id.clone()),
            activated_at: row.as_ref().map(|r| ms_to_rfc3339(r.activated_at)),
            ties: ties.clone(),
        });
        match row {
            Some(r) => {
                rows.insert(imsi.as_str(), r);
            }
            None => f.unregistered_sims += 1,
        }
    }

    // Owners.
    let mut per_owner: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows.values() {
        per_owner.entry(r.owner_id.as_str()).or_default().push(r);
    }
    let mut by_carrier =
        tx.prepare_cached("SELECT carrier, count(*) FROM registry WHERE owner_id = ?1 GROUP BY carrier")?;
    let mut other_cases = tx.prepare_cached(
        "SELECT DISTINCT case_id FROM case_members WHERE kind = 'owner' AND value = ?1 AND case_id != ?2 ORDER BY case_id",
    )?;
    let mut blocked_of_owner =
        tx.prepare_cached("SELECT count(*) FROM blocked_cards WHERE owner_id = ?1 AND case_id != ?2")?;
    for (owner, cards) in &per_owner {
        let counts: BTreeMap<String, u64> = by_carrier
            .query_map([owner], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<Result<_, _>>()?;
        let others: Vec<i64> =
            other_cases.query_map(params![owner, case_id.unwrap_or(-1)], |r| r.get(0))?.collect::<Result<_, _>>()?;
        let blocked: i64 = blocked_of_owner.query_row(params![owner, case_id.unwrap_or(-1)], |r| r.get(0))?;
        f.owners.push(OwnerFinding {
            owner_id: owner.to_string(),
            owner_id_kind: cards[0].owner_kind.clone(),
            owner_name: cards[0].owner_name.clone(),
            cards_in_case: cards.len() as u64,
            cards_registered: counts.values().sum(),
            over_limit: counts.values().any(|&n| n > cfg.cards_per_carrier_limit),
            cards_by_carrier: counts,
            other_cases: others,
            blocked_cards: blocked as u64,
        });
    }
    f.owners.sort_by(|a, b| b.cards_in_case.cmp(&a.cards_in_case).then_with(|| a.owner_id.cmp(&b.owner_id)));

    // Outlets and bursts.
    let registered = rows.len() as u64;
    let mut per_outlet: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows.values() {
        per_outlet.entry(r.outlet_id.as_str()).or_default().push(r);
    }
    let mut opened_between =
        tx.prepare_cached("SELECT count(*) FROM registry WHERE outlet_id = ?1 AND activated_at BETWEEN ?2 AND ?3")?;
    for (outlet, cards) in &per_outlet {
        let n = cards.len() as u64;
        let share = if registered > 0 { n as f64 / registered as f64 } else { 0.0 };
        f.outlets.push(OutletFinding {
            outlet_id: outlet.to_string(),
            outlet_name: cards[0].outlet_name.clone(),
            cards_in_case: n,
            share: (share * 1000.0).round() / 1000.0,
            possible_insider: share >= cfg.insider_share && n >= cfg.insider_min_cards,
        });
        let mut times: Vec<&Row> = cards.clone();
        times.sort_by_key(|r| r.activated_at);
        let mut i = 0;
        while i < times.len() {
            let mut j = i;
            while j + 1 < times.len() && times[j + 1].activated_at - times[i].activated_at <= cfg.burst_window_ms {
                j += 1;
            }
            let count = (j - i + 1) as u64;
            if count >= cfg.burst_min_cards {
                let (start, end) = (times[i].activated_at, times[j].activated_at);
                let all: i64 = opened_between.query_row(params![outlet, start, end], |r| r.get(0))?;
                let owners: BTreeSet<String> = times[i..=j].iter().map(|r| r.owner_id.clone()).collect();
                f.bursts.push(Burst {
                    outlet_id: outlet.to_string(),
                    cards: count,
                    start: ms_to_rfc3339(start),
                    end: ms_to_rfc3339(end),
                    owners: owners.into_iter().collect(),
                    other_cards: (all as u64).saturating_sub(count),
                });
                i = j + 1;
            } else {
                i += 1;
            }
        }
    }
    f.outlets.sort_by(|a, b| b.cards_in_case.cmp(&a.cards_in_case).then_with(|| a.outlet_id.cmp(&b.outlet_id)));

    // Cards back after a block.
    let mut blocked = tx.prepare_cached(
        "SELECT case_id, blocked_at FROM blocked_cards WHERE imsi = ?1 AND case_id != ?2 ORDER BY blocked_at LIMIT 1",
    )?;
    for imsi in cluster.imsis.keys() {
        if let Some((case, at)) =
            blocked.query_row(params![imsi, case_id.unwrap_or(-1)], |r| Ok((r.get(0)?, r.get(1)?))).optional()?
        {
            f.reappeared.push(Reappeared { imsi: imsi.clone(), blocked_in_case: case, blocked_at: ms_to_rfc3339(at) });
        }
    }

    describe(cfg, cluster, &mut f);
    Ok(f)
}

/// Bring the owners' other cases up to date (every case of the run now has
/// its members) and redo the words and severity.
pub fn refresh_other_cases(
    tx: &Transaction<'_>,
    cfg: &Config,
    cluster: &Cluster,
    case_id: i64,
    f: &mut CaseFindings,
) -> rusqlite::Result<()> {
    let mut other_cases = tx.prepare_cached(
        "SELECT DISTINCT case_id FROM case_members WHERE kind = 'owner' AND value = ?1 AND case_id != ?2 ORDER BY case_id",
    )?;
    for o in &mut f.owners {
        o.other_cases = other_cases.query_map(params![o.owner_id, case_id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    }
    f.findings.clear();
    describe(cfg, cluster, f);
    Ok(())
}

/// The findings in words and the severity.
fn describe(cfg: &Config, c: &Cluster, f: &mut CaseFindings) {
    let mut say = |kind: &str, text: String| f.findings.push(Finding { kind: kind.into(), text });
    let simboxes = c.gateways.iter().filter(|g| g.verdict == "simbox").count();
    for g in &c.gateways {
        say(
            "simbox_gateway",
            format!("gateway {} (probe {}) judged {} with score {}", g.address, g.probe, g.verdict, g.score),
        );
    }
    // A module whose ties name several SIMs carried them in turn (rotation).
    let rotating: Vec<(&String, usize)> = c
        .imeis
        .iter()
        .map(|(m, ties)| {
            let sims: BTreeSet<&str> = ties.iter().filter(|t| t.via == "module").map(|t| t.to.as_str()).collect();
            (m, sims.len())
        })
        .filter(|(_, n)| *n >= cfg.rotation_min_sims)
        .collect();
    for (m, n) in &rotating {
        say("rotating_module", format!("module {m} carried {n} of its SIMs in turn"));
    }
    let over: Vec<&OwnerFinding> = f.owners.iter().filter(|o| o.over_limit).collect();
    for o in &over {
        say(
            "owner_over_limit",
            format!(
                "owner {} holds {} cards ({} in this case), over {} at one carrier",
                mask_owner(&o.owner_id),
                o.cards_registered,
                o.cards_in_case,
                cfg.cards_per_carrier_limit
            ),
        );
    }
    for o in f.owners.iter().filter(|o| !o.other_cases.is_empty()) {
        say(
            "owner_in_other_cases",
            format!("owner {} also has cards in case(s) {:?}", mask_owner(&o.owner_id), o.other_cases),
        );
    }
    for o in f.outlets.iter().filter(|o| o.possible_insider) {
        say(
            "possible_insider",
            format!(
                "outlet {} opened {} of its cards ({:.0}%): a possible insider",
                o.outlet_id,
                o.cards_in_case,
                o.share * 100.0
            ),
        );
    }
    for b in &f.bursts {
        say(
            "activation_burst",
            format!(
                "{} of its cards opened at outlet {} between {} and {} by {} owner(s) ({} more cards opened there then)",
                b.cards,
                b.outlet_id,
                b.start,
                b.end,
                b.owners.len(),
                b.other_cards
            ),
        );
    }
    for r in &f.reappeared {
        say("reappeared_card", format!("SIM {} was blocked in case {} on {}", r.imsi, r.blocked_in_case, r.blocked_at));
    }
    if f.unregistered_sims > 0 {
        say("unregistered_cards", format!("{} of its SIMs are not in the registry", f.unregistered_sims));
    }
    let people = !over.is_empty()
        || f.outlets.iter().any(|o| o.possible_insider)
        || !f.bursts.is_empty()
        || !f.reappeared.is_empty();
    f.severity = match (simboxes > 0, people) {
        (true, true) => "critical",
        (true, false) => "high",
        (false, true) => "high",
        (false, false) if c.imsis.len() >= 3 => "medium",
        (false, false) => "low",
    }
    .to_string();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_ids_are_masked_to_their_ends() {
        assert_eq!(mask_owner("370102199001011234"), "3701**********1234");
        assert_eq!(mask_owner("passport:E12345678"), "passport:*****5678");
        assert_eq!(mask_owner("1234"), "****");
    }
}
