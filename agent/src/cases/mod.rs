//! Cases: one per cluster (SPEC 4.2), with a review state and its history.
//!
//! States: `new` → `reviewing` → `confirmed` | `dismissed` (a reason is always
//! required). Correlation opens cases, keeps their findings current, folds
//! cases together when their clusters join, and reopens a confirmed or
//! dismissed case (back to `reviewing`) when new evidence arrives: a gateway,
//! SIM or module it did not hold before. Every change is a `case_history` row
//! saying who, when and why. Confirming a case puts its cards on the block
//! list (`blocked_cards`), so a card that comes back is noticed.

mod timeline;
mod view;

use std::collections::BTreeSet;

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::correlate::cluster::{Cluster, GatewayInfo};
use crate::correlate::findings::{self, CaseFindings};
use crate::correlate::{Config, Outcome};
use crate::store::now_ms;

pub use timeline::{timeline, TimelineEntry, MAX_NOTES, MAX_NOTE_CHARS};
pub use view::{list, page, show, CaseDetail, CaseListItem, ListFilter, Page, PageQuery, Sort};

/// The actor name correlation writes into case history.
pub const CORRELATOR: &str = "correlator";

/// A case's review state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Not yet looked at.
    New,
    /// Someone is on it (or new evidence reopened it).
    Reviewing,
    /// The cards are confirmed as used for fraud.
    Confirmed,
    /// Not fraud.
    Dismissed,
}

impl State {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Reviewing => "reviewing",
            State::Confirmed => "confirmed",
            State::Dismissed => "dismissed",
        }
    }

    /// Parse a stored or typed name.
    pub fn parse(s: &str) -> Option<State> {
        match s {
            "new" => Some(State::New),
            "reviewing" => Some(State::Reviewing),
            "confirmed" => Some(State::Confirmed),
            "dismissed" => Some(State::Dismissed),
            _ => None,
        }
    }

    /// Whether a person may move a case from `self` to `to`.
    pub fn can_move_to(self, to: State) -> bool {
        use State::*;
        matches!(
            (self, to),
            (New, Reviewing | Confirmed | Dismissed)
                | (Reviewing, Confirmed | Dismissed)
                | (Confirmed, Reviewing)
                | (Dismissed, Reviewing)
        )
    }
}

/// A case problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    /// No case with that id.
    #[error("no case {0}")]
    NotFound(i64),
    /// The state change is not allowed.
    #[error("case {id} is {from}; it cannot move to {to} (allowed: new→reviewing|confirmed|dismissed, reviewing→confirmed|dismissed, confirmed|dismissed→reviewing)")]
    BadTransition {
        /// The case.
        id: i64,
        /// Its state.
        from: &'static str,
        /// The asked-for state.
        to: &'static str,
    },
    /// No reason was given.
    #[error("a reason is required")]
    NoReason,
    /// A note that cannot be kept (empty, too long, too many).
    #[error("note refused: {0}")]
    BadNote(String),
    /// The store failed.
    #[error("database: {0}")]
    Store(#[from] rusqlite::Error),
}

/// What a case stores about its cluster (`cases.summary_json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The cluster's key.
    pub cluster_key: String,
    /// Its gateways.
    pub gateways: Vec<GatewayInfo>,
    /// Its modules (14 digits).
    pub imeis: Vec<String>,
    /// ICCIDs its gateways announced.
    pub iccids: Vec<String>,
    /// What the registry and the other cases say.
    pub findings: CaseFindings,
}

/// The members a case is matched by: (kind, value).
fn members(c: &Cluster, f: &CaseFindings) -> BTreeSet<(&'static str, String)> {
    let mut m = BTreeSet::new();
    for g in &c.gateways {
        m.insert(("gateway", format!("{}:{}", g.probe, g.address)));
    }
    m.extend(c.imsis.keys().map(|i| ("imsi", i.clone())));
    m.extend(c.imeis.keys().map(|i| ("imei", i.clone())));
    m.extend(c.iccids.iter().map(|i| ("iccid", i.clone())));
    m.extend(f.owners.iter().map(|o| ("owner", o.owner_id.clone())));
    m.extend(f.outlets.iter().map(|o| ("outlet", o.outlet_id.clone())));
    m
}

fn title(c: &Cluster, f: &CaseFindings) -> String {
    let what = match c.gateways.first() {
        Some(g) if c.gateways.len() == 1 => {
            format!("{} at {}", g.vendor.as_deref().unwrap_or("gateway"), g.address)
        }
        Some(_) => format!("{} gateways", c.gateways.len()),
        None => format!("{} rotating module(s)", c.imeis.len()),
    };
    format!("{what}: {} SIMs, {} owners", c.imsis.len(), f.owners.len())
}

fn history(
    tx: &Transaction<'_>,
    case: i64,
    actor: &str,
    from: Option<&str>,
    to: &str,
    reason: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO case_history (case_id, at, actor, from_state, to_state, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![case, now_ms(), actor, from, to, reason])?;
    Ok(())
}

fn describe_new(new: &[&(&str, String)]) -> String {
    let mut by_kind: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for (k, _) in new {
        *by_kind.entry(k).or_default() += 1;
    }
    by_kind.iter().map(|(k, n)| format!("{n} new {k}(s)")).collect::<Vec<_>>().join(", ")
}

/// A cluster's case during a run: its id, whether it was opened now, its
/// findings and the members it had before.
struct Staged<'c> {
    id: i64,
    opened: bool,
    cluster: &'c Cluster,
    findings: CaseFindings,
    old_members: BTreeSet<(String, String)>,
}

/// Open, update, merge and reopen cases from a correlation run's clusters.
///
/// Two passes: the first gives every cluster its case and members, the second
/// writes each case's findings — so that "owner also in case N" sees every
/// case of the run, and a second run over the same data changes nothing.
pub fn apply(tx: &Transaction<'_>, cfg: &Config, clusters: &[Cluster], out: &mut Outcome) -> rusqlite::Result<()> {
    let mut staged = Vec::with_capacity(clusters.len());
    for c in clusters {
        // The cases that share a gateway or SIM with this cluster: the oldest
        // carries on, the others fold into it.
        let mut overlapping: BTreeSet<i64> = BTreeSet::new();
        {
            let mut by_key = tx.prepare_cached("SELECT id FROM cases WHERE cluster_key = ?1")?;
            if let Some(id) = by_key.query_row([&c.key], |r| r.get::<_, i64>(0)).optional()? {
                overlapping.insert(id);
            }
            let mut by_member =
                tx.prepare_cached("SELECT DISTINCT case_id FROM case_members WHERE kind = ?1 AND value = ?2")?;
            let probes = c.gateways.iter().map(|g| ("gateway", format!("{}:{}", g.probe, g.address)));
            for (kind, value) in probes.chain(c.imsis.keys().map(|i| ("imsi", i.clone()))) {
                for id in by_member.query_map(params![kind, value], |r| r.get::<_, i64>(0))? {
                    overlapping.insert(id?);
                }
            }
        }
        let (id, opened) = match overlapping.first().copied() {
            Some(id) => {
                for &other in overlapping.iter().skip(1) {
                    merge(tx, other, id)?;
                    out.cases_merged += 1;
                }
                (id, false)
            }
            None => {
                // Filled in by the second pass.
                tx.prepare_cached(
                    "INSERT INTO cases (cluster_key, state, severity, title, summary_json, evidence_digest, created_at, updated_at)
                     VALUES (?1, 'new', 'low', '', '{}', '', ?2, ?2)",
                )?
                .execute(params![c.key, now_ms()])?;
                (tx.last_insert_rowid(), true)
            }
        };
        let findings = findings::analyse(tx, cfg, c, Some(id))?;
        let old_members: BTreeSet<(String, String)> = tx
            .prepare_cached("SELECT kind, value FROM case_members WHERE case_id = ?1")?
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        tx.prepare_cached("DELETE FROM case_members WHERE case_id = ?1")?.execute([id])?;
        let mut add = tx.prepare_cached("INSERT INTO case_members (case_id, kind, value) VALUES (?1, ?2, ?3)")?;
        for (kind, value) in &members(c, &findings) {
            add.execute(params![id, kind, value])?;
        }
        staged.push(Staged { id, opened, cluster: c, findings, old_members });
    }
    for mut s in staged {
        let c = s.cluster;
        findings::refresh_other_cases(tx, cfg, c, s.id, &mut s.findings)?;
        let f = &s.findings;
        let summary = Summary {
            cluster_key: c.key.clone(),
            gateways: c.gateways.clone(),
            imeis: c.imeis.keys().cloned().collect(),
            iccids: c.iccids.iter().cloned().collect(),
            findings: f.clone(),
        };
        let json = serde_json::to_string(&summary).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        let digest = hex::encode(Sha256::digest(json.as_bytes()));
        let (state, old_digest): (String, String) = tx
            .prepare_cached("SELECT state, evidence_digest FROM cases WHERE id = ?1")?
            .query_row([s.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if old_digest == digest {
            continue;
        }
        tx.prepare_cached(
            "UPDATE cases SET cluster_key = ?2, severity = ?3, title = ?4, summary_json = ?5,
             evidence_digest = ?6, updated_at = ?7 WHERE id = ?1",
        )?
        .execute(params![s.id, c.key, f.severity, title(c, f), json, digest, now_ms()])?;
        if s.opened {
            let reason = format!(
                "opened by correlation: {} gateway(s), {} SIM(s), {} owner(s)",
                c.gateways.len(),
                c.imsis.len(),
                f.owners.len()
            );
            history(tx, s.id, CORRELATOR, None, "new", &reason)?;
            out.cases_opened += 1;
            continue;
        }
        out.cases_updated += 1;
        let new_members = members(c, f);
        let added: Vec<&(&str, String)> = new_members
            .iter()
            .filter(|(k, v)| {
                matches!(*k, "gateway" | "imsi" | "imei") && !s.old_members.contains(&(k.to_string(), v.clone()))
            })
            .collect();
        if added.is_empty() {
            continue;
        }
        let what = describe_new(&added);
        if matches!(state.as_str(), "confirmed" | "dismissed") {
            tx.prepare_cached("UPDATE cases SET state = 'reviewing' WHERE id = ?1")?.execute([s.id])?;
            history(tx, s.id, CORRELATOR, Some(&state), "reviewing", &format!("reopened: {what}"))?;
            out.cases_reopened += 1;
        } else {
            history(tx, s.id, CORRELATOR, Some(&state), &state, &format!("new evidence: {what}"))?;
        }
    }
    Ok(())
}

/// Fold case `from` into `into`: it keeps its history, loses its members and
/// is dismissed with a pointer to the case that carries on.
fn merge(tx: &Transaction<'_>, from: i64, into: i64) -> rusqlite::Result<()> {
    let state: String = tx.query_row("SELECT state FROM cases WHERE id = ?1", [from], |r| r.get(0))?;
    tx.execute("DELETE FROM case_members WHERE case_id = ?1", [from])?;
    tx.execute(
        "UPDATE cases SET state = 'dismissed', cluster_key = 'merged:' || id, updated_at = ?2 WHERE id = ?1",
        params![from, now_ms()],
    )?;
    history(tx, from, CORRELATOR, Some(&state), "dismissed", &format!("merged into case {into}: the clusters joined"))?;
    let kept: String = tx.query_row("SELECT state FROM cases WHERE id = ?1", [into], |r| r.get(0))?;
    history(tx, into, CORRELATOR, Some(&kept), &kept, &format!("case {from} merged into this one"))
}

/// Move a case to another state on someone's decision. Confirming puts its
/// cards on the block list.
pub fn set_state(
    conn: &mut rusqlite::Connection,
    id: i64,
    to: State,
    actor: &str,
    reason: &str,
) -> Result<(), CaseError> {
    let tx = conn.transaction()?;
    set_state_in(&tx, id, to, actor, reason)?;
    tx.commit()?;
    Ok(())
}

/// A reviewer's decision: [`set_state_in`] and its audit record
/// (`from`, `to`, `reason`, and `via` when given), committed together.
pub fn decide(
    conn: &mut rusqlite::Connection,
    id: i64,
    to: State,
    actor: &str,
    reason: &str,
    via: Option<&str>,
) -> Result<(), CaseError> {
    let tx = conn.transaction()?;
    let from: Option<String> = tx.query_row("SELECT state FROM cases WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    set_state_in(&tx, id, to, actor, reason)?;
    let mut detail = serde_json::json!({ "from": from, "to": to.as_str(), "reason": reason.trim() });
    if let Some(via) = via {
        detail["via"] = serde_json::Value::from(via);
    }
    crate::audit::append(&tx, actor, crate::audit::Action::Decision, &format!("case:{id}"), &detail)
        .map_err(|crate::audit::AuditError::Sqlite(e)| CaseError::Store(e))?;
    tx.commit()?;
    Ok(())
}

/// [`set_state`] inside the caller's transaction (so that an audit record
/// can commit with the decision).
pub fn set_state_in(tx: &Transaction<'_>, id: i64, to: State, actor: &str, reason: &str) -> Result<(), CaseError> {
    if reason.trim().is_empty() {
        return Err(CaseError::NoReason);
    }
    let from: Option<String> = tx.query_row("SELECT state FROM cases WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    let from = from.and_then(|s| State::parse(&s)).ok_or(CaseError::NotFound(id))?;
    if !from.can_move_to(to) {
        return Err(CaseError::BadTransition { id, from: from.as_str(), to: to.as_str() });
    }
    tx.execute("UPDATE cases SET state = ?2, updated_at = ?3 WHERE id = ?1", params![id, to.as_str(), now_ms()])?;
    history(tx, id, actor, Some(from.as_str()), to.as_str(), reason.trim())?;
    if to == State::Confirmed {
        // The registry's IMSI is a number (its rowid): found by it, then
        // its 15 digits compared, so that no shorter string of digits matches.
        tx.execute(
            "INSERT OR IGNORE INTO blocked_cards (imsi, iccid, msisdn, owner_id, case_id, blocked_at)
             SELECT m.value, r.iccid, r.msisdn, r.owner_id, m.case_id, ?2
             FROM case_members m LEFT JOIN registry r
               ON r.imsi = m.value AND printf('%015d', r.imsi) = m.value
             WHERE m.case_id = ?1 AND m.kind = 'imsi'",
            params![id, now_ms()],
        )?;
    }
    Ok(())
}

/// Adds a note to a case.
pub fn add_note(conn: &rusqlite::Connection, id: i64, actor: &str, text: &str) -> Result<(), CaseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CaseError::BadNote("it is empty".into()));
    }
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(CaseError::BadNote(format!("longer than {MAX_NOTE_CHARS} characters")));
    }
    let exists: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM cases WHERE id = ?1)", [id], |r| r.get(0))?;
    if !exists {
        return Err(CaseError::NotFound(id));
    }
    let n: i64 = conn.query_row("SELECT count(*) FROM case_notes WHERE case_id = ?1", [id], |r| r.get(0))?;
    if n >= MAX_NOTES {
        return Err(CaseError::BadNote(format!("case {id} already has {MAX_NOTES} notes")));
    }
    conn.execute(
        "INSERT INTO case_notes (case_id, at, actor, text) VALUES (?1, ?2, ?3, ?4)",
        params![id, now_ms(), actor, text],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
