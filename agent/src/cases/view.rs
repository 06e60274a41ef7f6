//! Reading cases: the list and one case in full, as the CLI and the API show
//! them. Owners' identities (id number, name) are masked unless the caller
//! may see them (`reveal`: analysts, admins and the local CLI).

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{CaseError, State, Summary};
use crate::correlate::cluster::GatewayInfo;
use crate::correlate::findings::{mask_owner, Finding, OutletFinding, Reappeared, SimInfo};
use crate::store::ms_to_rfc3339;

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this state.
    pub state: Option<State>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only cases with a gateway seen by this probe.
    pub probe: Option<String>,
    /// Only cases updated at or after this (Unix ms).
    pub updated_since: Option<i64>,
    /// At most this many (0: no limit).
    pub limit: u64,
    /// Skip this many.
    pub offset: u64,
}

/// One line of the case list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CaseListItem {
    /// Case id.
    pub id: i64,
    /// Review state.
    pub state: String,
    /// `low`, `medium`, `high`, `critical`.
    pub severity: String,
    /// One line.
    pub title: String,
    /// Gateway addresses.
    pub gateways: Vec<String>,
    /// Probes that saw them.
    pub probes: Vec<String>,
    /// SIMs (IMSI).
    pub imsis: Vec<String>,
    /// Registered owners of its cards.
    pub owners: u64,
    /// Opened, RFC 3339.
    pub created_at: String,
    /// Last changed, RFC 3339.
    pub updated_at: String,
}

/// An owner as shown.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OwnerView {
    /// Id number, masked unless revealed.
    pub owner_id: String,
    /// `resident` or `passport`.
    pub owner_id_kind: String,
    /// Name, masked unless revealed.
    pub owner_name: String,
    /// Their cards in this case.
    pub cards_in_case: u64,
    /// Their cards in the whole registry.
    pub cards_registered: u64,
    /// Per carrier.
    pub cards_by_carrier: std::collections::BTreeMap<String, u64>,
    /// Over the per-carrier limit.
    pub over_limit: bool,
    /// Other cases with their cards.
    pub other_cases: Vec<i64>,
    /// Their cards already blocked in other cases.
    pub blocked_cards: u64,
}

/// An outlet as shown.
pub type OutletView = OutletFinding;

/// A burst as shown.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BurstView {
    /// Outlet.
    pub outlet_id: String,
    /// Cards of this case opened in it.
    pub cards: u64,
    /// First activation.
    pub start: String,
    /// Last activation.
    pub end: String,
    /// Who opened them (masked unless revealed).
    pub owners: Vec<String>,
    /// Other cards the outlet opened in that span.
    pub other_cards: u64,
}

/// A piece of probe evidence on one of the case's gateways.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvidenceView {
    /// The gateway it is about.
    pub gateway: String,
    /// `signature` or `feature`.
    pub kind: String,
    /// Signature or feature id.
    pub id: String,
    /// Its weight.
    pub weight: f64,
    /// Whether it counted in the score.
    pub counted: bool,
    /// What was seen.
    pub observed: String,
    /// The rule it met.
    pub threshold: String,
    /// What it means.
    pub detail: String,
}

/// One change of the case.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistoryView {
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// From.
    pub from_state: Option<String>,
    /// To.
    pub to_state: String,
    /// Why.
    pub reason: String,
}

/// One case in full.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CaseDetail {
    /// Case id.
    pub id: i64,
    /// Review state.
    pub state: String,
    /// Severity.
    pub severity: String,
    /// One line.
    pub title: String,
    /// The cluster's stable key.
    pub cluster_key: String,
    /// Opened.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Whether owners' identities are shown unmasked.
    pub revealed: bool,
    /// Gateways.
    pub gateways: Vec<GatewayInfo>,
    /// SIM IMSIs (as in the case list).
    pub imsis: Vec<String>,
    /// SIMs with registry rows and what tied them in.
    pub sims: Vec<SimInfo>,
    /// Modules.
    pub imeis: Vec<String>,
    /// ICCIDs announced by its gateways.
    pub iccids: Vec<String>,
    /// Owners.
    pub owners: Vec<OwnerView>,
    /// Outlets.
    pub outlets: Vec<OutletView>,
    /// Activation bursts.
    pub bursts: Vec<BurstView>,
    /// Cards back after a block.
    pub reappeared: Vec<Reappeared>,
    /// Findings in words.
    pub findings: Vec<Finding>,
    /// SIMs the registry does not know.
    pub unregistered_sims: u64,
    /// Probe evidence on its gateways.
    pub evidence: Vec<EvidenceView>,
    /// Its changes, oldest first.
    pub history: Vec<HistoryView>,
}

fn mask_name(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(first) => format!("{first}{}", "*".repeat(c.count())),
        None => String::new(),
    }
}

fn summary_of(json: &str) -> Summary {
    // Written by this agent; an unreadable one (never expected) shows as empty.
    serde_json::from_str(json).unwrap_or_default()
}

/// Severity as a sortable number. Migration 0003 indexes this very
/// expression (`cases_rank_updated`); change both or neither.
const SEVERITY_RANK: &str = "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END";

/// List cases, most severe and most recently changed first.
pub fn list(conn: &Connection, f: &ListFilter) -> Result<Vec<CaseListItem>, CaseError> {
    let sql = format!(
        "SELECT id, state, severity, title, summary_json, created_at, updated_at FROM cases
         WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR severity = ?2) AND (?3 IS NULL OR updated_at >= ?3)
           AND (?4 IS NULL OR EXISTS (SELECT 1 FROM case_members m WHERE m.case_id = cases.id
                                      AND m.kind = 'gateway' AND m.value LIKE ?4 || ':%'))
         ORDER BY {SEVERITY_RANK}, updated_at DESC, id LIMIT ?5 OFFSET ?6"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let limit = if f.limit == 0 { -1 } else { f.limit as i64 };
    let rows = stmt.query_map(
        params![f.state.map(State::as_str), f.severity, f.updated_since, f.probe, limit, f.offset as i64],
        list_item,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The orders the review UI's case list offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Most severe first, then most recently changed (the default).
    #[default]
    Severity,
    /// Most recently changed first.
    Updated,
    /// Least recently changed first (the oldest untouched work).
    UpdatedAsc,
    /// Most recently opened first.
    Created,
    /// By id, newest first.
    Id,
}

impl Sort {
    /// The name used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Severity => "severity",
            Sort::Updated => "updated",
            Sort::UpdatedAsc => "updated_asc",
            Sort::Created => "created",
            Sort::Id => "id",
        }
    }

    /// The sort with this URL name.
    pub fn parse(s: &str) -> Option<Sort> {
        [Sort::Severity, Sort::Updated, Sort::UpdatedAsc, Sort::Created, Sort::Id].into_iter().find(|x| x.as_str() == s)
    }

    fn order_by(self) -> String {
        match self {
            // Matches the index cases_rank_updated column for column.
            Sort::Severity => format!("{SEVERITY_RANK}, updated_at DESC, id"),
            Sort::Updated => "updated_at DESC, id DESC".into(),
            Sort::UpdatedAsc => "updated_at, id".into(),
            Sort::Created => "created_at DESC, id DESC".into(),
            Sort::Id => "id DESC".into(),
        }
    }
}

/// A page of the case list: filters, order and position.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    /// Only this state.
    pub state: Option<State>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only cases with a gateway seen by this probe (its exact name).
    pub probe: Option<String>,
    /// Only cases changed at or after this (Unix ms).
    pub updated_from: Option<i64>,
    /// Only cases changed before this (Unix ms).
    pub updated_to: Option<i64>,
    /// The order.
    pub sort: Sort,
    /// Rows per page (at least 1).
    pub per_page: u32,
    /// Page number, from 1.
    pub page: u32,
}

/// One page of cases and how many match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The rows of this page.
    pub items: Vec<CaseListItem>,
    /// Cases matching the filters.
    pub total: u64,
}

/// A page of the case list. Only the filters given appear in the SQL, so
/// SQLite can pick an index for them (see migration 0003); the probe filter
/// is a range scan of `case_members (kind, value)` over `PROBE:…`.
pub fn page(conn: &Connection, q: &PageQuery) -> Result<Page, CaseError> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(s) = q.state {
        clauses.push("state = ?");
        values.push(s.as_str().to_owned().into());
    }
    if let Some(s) = &q.severity {
        clauses.push("severity = ?");
        values.push(s.clone().into());
    }
    if let Some(t) = q.updated_from {
        clauses.push("updated_at >= ?");
        values.push(t.into());
    }
    if let Some(t) = q.updated_to {
        clauses.push("updated_at < ?");
        values.push(t.into());
    }
    if let Some(p) = &q.probe {
        // Gateway members are `PROBE:ADDRESS`; ';' is the byte after ':'.
        clauses.push("id IN (SELECT case_id FROM case_members WHERE kind = 'gateway' AND value >= ? AND value < ?)");
        values.push(format!("{p}:").into());
        values.push(format!("{p};").into());
    }
    let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM cases {filter}"))?
        .query_row(rusqlite::params_from_iter(values.iter()), |r| r.get(0))?;
    let per_page = q.per_page.max(1);
    let offset = u64::from(q.page.max(1) - 1) * u64::from(per_page);
    let sql = format!(
        "SELECT id, state, severity, title, summary_json, created_at, updated_at FROM cases {filter}
         ORDER BY {} LIMIT {per_page} OFFSET {offset}",
        q.sort.order_by()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt.query_map(rusqlite::params_from_iter(values.iter()), list_item)?.collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, total: total as u64 })
}

fn list_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseListItem> {
    let s = summary_of(&r.get::<_, String>(4)?);
    let mut probes: Vec<String> = s.gateways.iter().map(|g| g.probe.clone()).collect();
    probes.sort();
    probes.dedup();
    Ok(CaseListItem {
        id: r.get(0)?,
        state: r.get(1)?,
        severity: r.get(2)?,
        title: r.get(3)?,
        gateways: s.gateways.iter().map(|g| g.address.clone()).collect(),
        probes,
        imsis: s.findings.sims.iter().map(|x| x.imsi.clone()).collect(),
        owners: s.findings.owners.len() as u64,
        created_at: ms_to_rfc3339(r.get(5)?),
        updated_at: ms_to_rfc3339(r.get(6)?),
    })
}

/// One case in full; `reveal` shows owners' identities unmasked.
pub fn show(conn: &Connection, id: i64, reveal: bool) -> Result<CaseDetail, CaseError> {
    let row = conn
        .query_row(
            "SELECT state, severity, title, cluster_key, summary_json, created_at, updated_at FROM cases WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            },
        )
        .optional()?
        .ok_or(CaseError::NotFound(id))?;
    let (state, severity, title, cluster_key, json, created, updated) = row;
    let s = summary_of(&json);
    let f = s.findings;
    let owner = |id: &str| if reveal { id.to_string() } else { mask_owner(id) };
    let sims: Vec<SimInfo> = f
        .sims
        .into_iter()
        .map(|mut x| {
            x.owner_id = x.owner_id.map(|o| owner(&o));
            x
        })
        .collect();
    let owners = f
        .owners
        .into_iter()
        .map(|o| OwnerView {
            owner_id: owner(&o.owner_id),
            owner_id_kind: o.owner_id_kind,
            owner_name: if reveal { o.owner_name } else { mask_name(&o.owner_name) },
            cards_in_case: o.cards_in_case,
            cards_registered: o.cards_registered,
            cards_by_carrier: o.cards_by_carrier,
            over_limit: o.over_limit,
            other_cases: o.other_cases,
            blocked_cards: o.blocked_cards,
        })
        .collect();
    let bursts = f
        .bursts
        .into_iter()
        .map(|b| BurstView {
            outlet_id: b.outlet_id,
            cards: b.cards,
            start: b.start,
            end: b.end,
            owners: b.owners.iter().map(|o| owner(o)).collect(),
            other_cards: b.other_cards,
        })
        .collect();
    let mut evidence = Vec::new();
    let mut report = conn.prepare_cached("SELECT report_json FROM gateways WHERE id = ?1")?;
    for g in &s.gateways {
        let Some(json) = report.query_row([g.id], |r| r.get::<_, String>(0)).optional()? else { continue };
        // Only the evidence is needed; older or newer reports parse all the same.
        #[derive(serde::Deserialize)]
        struct EvidenceOnly {
            #[serde(default)]
            evidence: Vec<duanka_shared::Evidence>,
        }
        let Ok(rep) = serde_json::from_str::<EvidenceOnly>(&json) else { continue };
        evidence.extend(rep.evidence.into_iter().map(|e| EvidenceView {
            gateway: g.address.clone(),
            kind: format!("{:?}", e.kind).to_lowercase(),
            id: e.id,
            weight: e.weight,
            counted: e.counted,
            observed: e.observed,
            threshold: e.threshold,
            detail: e.detail,
        }));
    }
    let history = conn
        .prepare_cached(
            "SELECT at, actor, from_state, to_state, reason FROM case_history WHERE case_id = ?1 ORDER BY id",
        )?
        .query_map([id], |r| {
            Ok(HistoryView {
                at: ms_to_rfc3339(r.get(0)?),
                actor: r.get(1)?,
                from_state: r.get(2)?,
                to_state: r.get(3)?,
                reason: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(CaseDetail {
        id,
        state,
        severity,
        title,
        cluster_key,
        created_at: ms_to_rfc3339(created),
        updated_at: ms_to_rfc3339(updated),
        revealed: reveal,
        gateways: s.gateways,
        imsis: sims.iter().map(|x| x.imsi.clone()).collect(),
        sims,
        imeis: s.imeis,
        iccids: s.iccids,
        owners,
        outlets: f.outlets,
        bursts,
        reappeared: f.reappeared,
        findings: f.findings,
        unregistered_sims: f.unregistered_sims,
        evidence,
        history,
    })
}
