//! The block list (for carriers) and the disciplinary list (people behind
//! the cards), as CSV, from confirmed cases.
//!
//! Block list columns: `imsi,msisdn,iccid,imei,carrier,case_id,confirmed_at`
//! — one row per SIM of a confirmed case; `imei` lists the modules the SIM
//! was seen in (`;`-separated, from the case's ties and the cell side),
//! empty if none is known; registry fields are empty for SIMs the registry
//! does not know.
//!
//! Disciplinary list columns: `owner_id,owner_id_kind,owner_name,cards,msisdns,
//! cards_registered,case_ids,measure,measure_from,measure_until` — one row per
//! registered owner of cards in confirmed cases (SPEC 1: people confirmed to
//! rent, lend or sell cards keep only one phone card and get no new phone
//! service for five years). `measure_from` is the latest confirmation of a
//! case holding their cards; `measure_until` five years later.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Months, Utc};
use rusqlite::Connection;
use serde::Serialize;

use super::{safe_cell, ExportError};
use crate::cases::Summary;

/// The measure written into the disciplinary list (Chinese first: the
/// documents it feeds are Chinese).
pub const MEASURE: &str =
    "仅保留一张手机卡，5年内不得新办入网业务 / keep one phone card; no new phone service for 5 years";
/// How long the measure lasts.
pub const MEASURE_MONTHS: u32 = 60;

/// A confirmed case as the lists need it.
#[derive(Debug, Clone)]
struct Confirmed {
    id: i64,
    confirmed_at: i64,
    summary: Summary,
}

fn confirmed_cases(conn: &Connection) -> Result<Vec<Confirmed>, ExportError> {
    let mut stmt = conn.prepare(
        "SELECT c.id, c.summary_json,
                coalesce((SELECT max(h.at) FROM case_history h WHERE h.case_id = c.id AND h.to_state = 'confirmed'),
                         c.updated_at)
         FROM cases c WHERE c.state = 'confirmed' ORDER BY c.id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, json, confirmed_at) = row?;
        out.push(Confirmed { id, confirmed_at, summary: serde_json::from_str(&json)? });
    }
    Ok(out)
}

fn date(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A function that builds one of the lists.
pub type ListBuilder = fn(&Connection) -> Result<CsvExport, ExportError>;

/// A finished CSV export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CsvExport {
    /// The file's bytes (UTF-8, header line first).
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// Data rows.
    pub rows: u64,
    /// Confirmed cases it covers.
    pub cases: Vec<i64>,
}

/// The block list.
pub fn block_list(conn: &Connection) -> Result<CsvExport, ExportError> {
    let cases = confirmed_cases(conn)?;
    let mut cell_imeis = conn.prepare_cached("SELECT imeis_json FROM subscribers WHERE imsi = ?1")?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["imsi", "msisdn", "iccid", "imei", "carrier", "case_id", "confirmed_at"])?;
    let mut rows = 0;
    for c in &cases {
        for sim in &c.summary.findings.sims {
            let mut imeis: BTreeSet<String> = sim
                .ties
                .iter()
                .filter(|t| matches!(t.via.as_str(), "module" | "rotation"))
                .map(|t| t.to.clone())
                .collect();
            let seen: Option<String> =
                rusqlite::OptionalExtension::optional(cell_imeis.query_row([&sim.imsi], |r| r.get(0)))?;
            if let Some(list) = seen.and_then(|j| serde_json::from_str::<Vec<String>>(&j).ok()) {
                imeis.extend(list);
            }
            w.write_record([
                sim.imsi.as_str(),
                sim.msisdn.as_deref().unwrap_or(""),
                sim.iccid.as_deref().unwrap_or(""),
                &imeis.into_iter().collect::<Vec<_>>().join(";"),
                &safe_cell(sim.carrier.as_deref().unwrap_or("")),
                &c.id.to_string(),
                &date(c.confirmed_at),
            ])?;
            rows += 1;
        }
    }
    let bytes = w.into_inner().map_err(|e| ExportError::Csv(e.into_error().into()))?;
    Ok(CsvExport { bytes, rows, cases: cases.iter().map(|c| c.id).collect() })
}

#[derive(Default)]
struct Person {
    kind: String,
    name: String,
    cards: BTreeSet<String>,
    msisdns: BTreeSet<String>,
    registered: u64,
    cases: BTreeSet<i64>,
    latest: i64,
}

/// The disciplinary list.
pub fn disciplinary_list(conn: &Connection) -> Result<CsvExport, ExportError> {
    let cases = confirmed_cases(conn)?;
    let mut people: BTreeMap<String, Person> = BTreeMap::new();
    for c in &cases {
        for o in &c.summary.findings.owners {
            let p = people.entry(o.owner_id.clone()).or_default();
            p.kind.clone_from(&o.owner_id_kind);
            p.name.clone_from(&o.owner_name);
            p.registered = p.registered.max(o.cards_registered);
            p.cases.insert(c.id);
            p.latest = p.latest.max(c.confirmed_at);
        }
        for sim in &c.summary.findings.sims {
            let Some(owner) = &sim.owner_id else { continue };
            if let Some(p) = people.get_mut(owner) {
                p.cards.insert(sim.imsi.clone());
                if let Some(m) = &sim.msisdn {
                    p.msisdns.insert(m.clone());
                }
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "owner_id",
        "owner_id_kind",
        "owner_name",
        "cards",
        "msisdns",
        "cards_registered",
        "case_ids",
        "measure",
        "measure_from",
        "measure_until",
    ])?;
    let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(";");
    for (id, p) in &people {
        let until = DateTime::<Utc>::from_timestamp_millis(p.latest)
            .and_then(|t| t.checked_add_months(Months::new(MEASURE_MONTHS)))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        w.write_record([
            id.as_str(),
            &p.kind,
            &safe_cell(&p.name),
            &join(&p.cards),
            &join(&p.msisdns),
            &p.registered.to_string(),
            &p.cases.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(";"),
            MEASURE,
            &date(p.latest),
            &until,
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| ExportError::Csv(e.into_error().into()))?;
    Ok(CsvExport { bytes, rows: people.len() as u64, cases: cases.iter().map(|c| c.id).collect() })
}
