//! A case's timeline: everything that happened to it and to what it holds,
//! oldest first — its cards' activations (registry), its gateways' first and
//! last sightings and detection (probes), its state changes and notes (people
//! and correlation), and the audit records about it (reveals, exports).
//! The review page and the evidence bundle show the same list.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::{CaseDetail, CaseError};
use crate::store::{ms_to_rfc3339, rfc3339_to_ms};

/// Most notes a case may have (a bound on what a page and a bundle carry).
pub const MAX_NOTES: i64 = 1_000;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 4_000;

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// When, Unix ms (for sorting and local display).
    pub at_ms: i64,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// `activation`, `gateway`, `state`, `note`, `audit`.
    pub kind: &'static str,
    /// Who (a person, `correlator`, a probe), if anyone.
    pub actor: String,
    /// What, in words.
    pub what: String,
}

/// A case's notes and audit records, and its detail's dated facts, oldest first.
pub fn timeline(conn: &Connection, d: &CaseDetail) -> Result<Vec<TimelineEntry>, CaseError> {
    let mut out = Vec::new();
    let mut push = |at_ms: i64, kind, actor: String, what: String| {
        out.push(TimelineEntry { at_ms, at: ms_to_rfc3339(at_ms), kind, actor, what });
    };
    for s in &d.sims {
        if let Some(at) = s.activated_at.as_deref().and_then(rfc3339_to_ms) {
            let outlet = s.outlet_id.as_deref().unwrap_or("?");
            push(at, "activation", String::new(), format!("SIM {} activated at outlet {outlet}", s.imsi));
        }
    }
    let mut gw = conn.prepare_cached("SELECT first_seen_at, last_seen_at, detected_at FROM gateways WHERE id = ?1")?;
    for g in &d.gateways {
        let times: Option<(Option<i64>, Option<i64>, Option<i64>)> =
            gw.query_row([g.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?;
        let Some((first, last, detected)) = times else { continue };
        let probe = format!("probe:{}", g.probe);
        if let Some(at) = first {
            push(at, "gateway", probe.clone(), format!("gateway {} first seen", g.address));
        }
        if let Some(at) = detected {
            push(
                at,
                "gateway",
                probe.clone(),
                format!("gateway {} detected as {} (score {:.1})", g.address, g.verdict, g.score),
            );
        }
        if let Some(at) = last {
            push(at, "gateway", probe, format!("gateway {} last seen", g.address));
        }
    }
    for h in &d.history {
        let Some(at) = rfc3339_to_ms(&h.at) else { continue };
        let what = match h.from_state.as_deref() {
            Some(from) if from != h.to_state => format!("{from} → {}: {}", h.to_state, h.reason),
            Some(_) => h.reason.clone(),
            None => format!("→ {}: {}", h.to_state, h.reason),
        };
        push(at, "state", h.actor.clone(), what);
    }
    let mut notes = conn.prepare_cached("SELECT at, actor, text FROM case_notes WHERE case_id = ?1 ORDER BY id")?;
    for n in notes.query_map([d.id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))? {
        let (at, actor, text) = n?;
        push(at, "note", actor, text);
    }
    let mut audit = conn.prepare_cached("SELECT at, actor, action FROM audit_log WHERE target = ?1 ORDER BY id")?;
    let target = format!("case:{}", d.id);
    for a in
        audit.query_map([&target], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
    {
        let (at, actor, action) = a?;
        // Decisions and notes are already there from their own tables.
        if matches!(action.as_str(), "case.decision" | "case.note") {
            continue;
        }
        push(at, "audit", actor, action);
    }
    out.sort_by_key(|e| e.at_ms);
    Ok(out)
}
