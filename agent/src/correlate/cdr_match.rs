//! SIP calls at gateways matched with carrier CDRs (SPEC 3.4: "matching a SIP
//! leg (callee number, time) seen by a probe against the MO call in the CDRs
//! (same called number, start within seconds) names the SIM that carried it").
//!
//! Only calls a gateway *received* are matched (it terminates them onto a SIM,
//! which places the mobile-originated call the CDR records), and only at
//! gateways a probe judged suspect or SIM box. A call that several SIMs' CDRs
//! fit is ambiguous and names none; confidence grows with matched calls and
//! falls with ambiguity, as at the probe: `n/(n+1) · n/(n+a)`.
//!
//! Each run recomputes a gateway's `cdr_match` links from all its calls, so
//! running it again changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Transaction};

use super::Config;

#[derive(Debug, Default)]
struct Tally {
    matched: u64,
    ambiguous: u64,
    first: i64,
    last: i64,
    imeis: BTreeMap<String, u64>,
}

use duanka_shared::report::call_match_confidence as confidence;

/// Match the calls of every suspect or SIM-box gateway. Returns (calls checked, links written).
pub fn match_all(tx: &Transaction<'_>, cfg: &Config) -> rusqlite::Result<(u64, u64)> {
    let ids: Vec<i64> = {
        let mut stmt = tx.prepare("SELECT id FROM gateways WHERE verdict != 'clean' ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    match_gateways(tx, cfg, &ids)
}

/// Match the calls of these gateways (clean ones are skipped).
pub fn match_gateways(tx: &Transaction<'_>, cfg: &Config, ids: &[i64]) -> rusqlite::Result<(u64, u64)> {
    let mut verdict = tx.prepare_cached("SELECT verdict FROM gateways WHERE id = ?1")?;
    let mut calls = tx.prepare_cached(
        "SELECT called, started_at FROM gateway_calls WHERE gateway_id = ?1 AND direction = 'in' ORDER BY started_at",
    )?;
    let mut cdrs = tx.prepare_cached(
        "SELECT imsi, imei FROM cdrs WHERE called = ?1 AND started_at BETWEEN ?2 AND ?3 ORDER BY imsi",
    )?;
    let mut clear = tx.prepare_cached("DELETE FROM gateway_links WHERE gateway_id = ?1 AND source = 'cdr_match'")?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO gateway_links (gateway_id, kind, value, source, confidence, calls_matched, first_seen_at, last_seen_at)
         VALUES (?1, ?2, ?3, 'cdr_match', ?4, ?5, ?6, ?7)",
    )?;
    let (mut checked, mut written) = (0u64, 0u64);
    for &id in ids {
        let v: Option<String> = verdict.query_row([id], |r| r.get(0)).ok();
        if v.as_deref().is_none_or(|v| v == "clean") {
            continue;
        }
        let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
        let list: Vec<(String, i64)> =
            calls.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        for (called, at) in list {
            checked += 1;
            let fits: Vec<(String, String)> = cdrs
                .query_map(params![called, at - cfg.cdr_window_ms, at + cfg.cdr_window_ms], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            let sims: BTreeSet<&str> = fits.iter().map(|(i, _)| i.as_str()).collect();
            let one = sims.len() == 1;
            for (imsi, imei) in &fits {
                let t = tally.entry(imsi.clone()).or_insert_with(|| Tally { first: at, last: at, ..Tally::default() });
                t.first = t.first.min(at);
                t.last = t.last.max(at);
                if one {
                    t.matched += 1;
                    if !imei.is_empty() {
                        *t.imeis.entry(imei.clone()).or_default() += 1;
                    }
                } else {
                    t.ambiguous += 1;
                }
            }
        }
        clear.execute([id])?;
        let mut imei_links: BTreeMap<String, (u64, i64, i64)> = BTreeMap::new();
        for (imsi, t) in &tally {
            if t.matched == 0 {
                continue;
            }
            upsert.execute(params![
                id,
                "imsi",
                imsi,
                confidence(t.matched, t.ambiguous),
                t.matched as i64,
                t.first,
                t.last
            ])?;
            written += 1;
            for (imei, n) in &t.imeis {
                let e = imei_links.entry(imei.clone()).or_insert((0, t.first, t.last));
                e.0 += n;
                e.1 = e.1.min(t.first);
                e.2 = e.2.max(t.last);
            }
        }
        for (imei, (n, first, last)) in imei_links {
            upsert.execute(params![id, "imei", imei, confidence(n, 0), n as i64, first, last])?;
            written += 1;
        }
    }
    Ok((checked, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_grows_with_matches_and_falls_with_ambiguity() {
        assert_eq!(confidence(0, 3), 0.0);
        assert_eq!(confidence(1, 0), 0.5);
        assert!(confidence(9, 0) > confidence(3, 0));
        assert!(confidence(9, 9) < confidence(9, 0));
    }
}
