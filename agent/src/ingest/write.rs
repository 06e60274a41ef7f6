//! Storing a checked batch: one transaction, one cached statement per kind
//! of write (see the parent module for what each event kind does).

use std::collections::BTreeSet;

use rusqlite::{params, CachedStatement, Connection, Transaction, TransactionBehavior};

use duanka_shared::events::{Batch, CallObservation, Direction, Event, EventBody};

use super::check::{check_batch, BodyTimes, CheckedEvent};
use super::{IngestError, IngestOutcome};
use crate::store::{ms_to_rfc3339, now_ms, StoreError};

/// Checks `batch` and stores it for probe `probe_id` in one transaction:
/// all of it or, on any error, none of it. Events already stored for this
/// probe are counted in [`IngestOutcome::duplicates`] and change nothing.
pub fn store_batch(conn: &mut Connection, probe_id: i64, batch: &Batch) -> Result<IngestOutcome, IngestError> {
    let checked = check_batch(batch)?;
    let now = now_ms();
    // IMMEDIATE: take the write lock up front rather than fail to upgrade a
    // read transaction when another connection (the CLI) writes meanwhile.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let probes = tx
        .prepare_cached("UPDATE probes SET last_seen_at = max(coalesce(last_seen_at, 0), ?1) WHERE id = ?2")?
        .execute(params![now, probe_id])?;
    if probes == 0 {
        return Err(IngestError::UnknownProbe(probe_id));
    }
    let outcome = {
        let mut writer = Writer::new(&tx, probe_id, now)?;
        for (event, times) in batch.events.iter().zip(&checked) {
            writer.event(event, times)?;
        }
        writer.outcome()
    };
    tx.commit()?;
    Ok(outcome)
}

/// The statements of one batch, prepared (or taken from the connection's
/// cache) once per batch.
struct Writer<'t> {
    probe_id: i64,
    now: i64,
    event: CachedStatement<'t>,
    gateway_report: CachedStatement<'t>,
    gateway_seen: CachedStatement<'t>,
    call: CachedStatement<'t>,
    link: CachedStatement<'t>,
    subscriber: CachedStatement<'t>,
    device: CachedStatement<'t>,
    cell: CachedStatement<'t>,
    heartbeat: CachedStatement<'t>,
    alarm: CachedStatement<'t>,
    outcome: IngestOutcome,
    gateways: BTreeSet<i64>,
}

/// `min` and `max` over nullable columns: SQLite's return NULL if any
/// argument is NULL, these take the other value.
macro_rules! widen {
    ($col:literal) => {
        concat!(
            "first_seen_at = min(coalesce(first_seen_at, excluded.first_seen_at), coalesce(excluded.first_seen_at, first_seen_at)), ",
            "last_seen_at = max(coalesce(last_seen_at, excluded.last_seen_at), coalesce(excluded.last_seen_at, last_seen_at))",
            $col
        )
    };
}

/// The union of two JSON arrays of strings held in `tbl.col` and
/// `excluded.col`, as a JSON array.
macro_rules! union {
    ($tbl:literal, $col:literal) => {
        concat!(
            $col,
            " = (SELECT json_group_array(value) FROM (SELECT value FROM json_each(",
            $tbl,
            ".",
            $col,
            ") UNION SELECT value FROM json_each(excluded.",
            $col,
            ")))"
        )
    };
}

impl<'t> Writer<'t> {
    fn new(tx: &'t Transaction<'_>, probe_id: i64, now: i64) -> Result<Self, IngestError> {
        Ok(Writer {
            probe_id,
            now,
            event: tx.prepare_cached(
                "INSERT INTO events (probe_id, event_id, kind, occurred_at, received_at, body_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (probe_id, event_id) DO NOTHING",
            )?,
            gateway_report: tx.prepare_cached(concat!(
                "INSERT INTO gateways (probe_id, address, verdict, score, vendor, first_seen_at, last_seen_at,
                                       detected_at, report_json, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (probe_id, address) DO UPDATE SET
                   verdict = excluded.verdict, score = excluded.score, vendor = excluded.vendor,
                   report_json = excluded.report_json, updated_at = excluded.updated_at,
                   detected_at = min(coalesce(detected_at, excluded.detected_at),
                                     coalesce(excluded.detected_at, detected_at)), ",
                widen!(""),
                " RETURNING id"
            ))?,
            gateway_seen: tx.prepare_cached(concat!(
                "INSERT INTO gateways (probe_id, address, verdict, score, first_seen_at, last_seen_at,
                                       report_json, updated_at)
                 VALUES (?1, ?2, 'clean', 0, ?3, ?3, '{}', ?4)
                 ON CONFLICT (probe_id, address) DO UPDATE SET updated_at = excluded.updated_at, ",
                widen!(""),
                " RETURNING id"
            ))?,
            call: tx.prepare_cached(
                "INSERT INTO gateway_calls (gateway_id, called, started_at, direction, answered)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (gateway_id, called, started_at) DO UPDATE SET
                   answered = max(answered, excluded.answered)",
            )?,
            link: tx.prepare_cached(concat!(
                "INSERT INTO gateway_links (gateway_id, kind, value, source, confidence, calls_matched,
                                            first_seen_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 ON CONFLICT (gateway_id, kind, value, source) DO UPDATE SET
                   confidence = max(confidence, excluded.confidence),
                   calls_matched = max(calls_matched, excluded.calls_matched), ",
                widen!("")
            ))?,
            subscriber: tx.prepare_cached(concat!(
                "INSERT INTO subscribers (imsi, probe_id, flags_json, imeis_json, first_seen_at, last_seen_at,
                                          report_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (imsi) DO UPDATE SET
                   probe_id = excluded.probe_id, report_json = excluded.report_json, ",
                union!("subscribers", "flags_json"),
                ", ",
                union!("subscribers", "imeis_json"),
                ", ",
                widen!("")
            ))?,
            device: tx.prepare_cached(concat!(
                "INSERT INTO devices (imei, probe_id, tac, luhn_valid, flags_json, imsis_json, report_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (imei) DO UPDATE SET
                   probe_id = excluded.probe_id, tac = excluded.tac, luhn_valid = excluded.luhn_valid,
                   report_json = excluded.report_json, ",
                union!("devices", "flags_json"),
                ", ",
                union!("devices", "imsis_json")
            ))?,
            cell: tx.prepare_cached(
                "INSERT INTO cells (probe_id, mcc, mnc, lac, cell_id, arfcn, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (probe_id, mcc, mnc, lac, cell_id) DO UPDATE SET
                   arfcn = excluded.arfcn, last_seen_at = max(last_seen_at, excluded.last_seen_at)",
            )?,
            heartbeat: tx.prepare_cached(
                "UPDATE probes SET heartbeat_json = ?1
                 WHERE id = ?2 AND (heartbeat_json IS NULL
                                    OR coalesce(json_extract(heartbeat_json, '$.at_ms'), 0) <= ?3)",
            )?,
            alarm: tx.prepare_cached(
                "INSERT INTO alarms (probe_id, kind, detail, occurred_at) VALUES (?1, ?2, ?3, ?4)",
            )?,
            outcome: IngestOutcome::default(),
            gateways: BTreeSet::new(),
        })
    }

    fn event(&mut self, event: &Event, checked: &CheckedEvent) -> Result<(), IngestError> {
        let body_json = to_json(&event.body)?;
        let inserted = self.event.execute(params![
            self.probe_id,
            event.id,
            event.body.kind(),
            checked.at_ms,
            self.now,
            body_json
        ])?;
        if inserted == 0 {
            self.outcome.duplicates += 1;
            return Ok(());
        }
        self.outcome.accepted += 1;
        let at = checked.at_ms;
        match (&event.body, &checked.times) {
            (EventBody::Detection { gateway }, BodyTimes::Detection { first_seen, last_seen, detected_at, call_starts }) => {
                let id: i64 = self.gateway_report.query_row(
                    params![
                        self.probe_id,
                        gateway.address,
                        gateway.verdict.as_str(),
                        gateway.score,
                        gateway.vendor,
                        first_seen.unwrap_or(at),
                        last_seen.unwrap_or(at),
                        detected_at,
                        to_json(gateway)?,
                        self.now
                    ],
                    |r| r.get(0),
                )?;
                self.gateways.insert(id);
                self.calls(id, &gateway.call_log, call_starts)?;
            }
            (EventBody::Calls { gateway, calls }, BodyTimes::Calls(starts)) => {
                let id = self.gateway_seen(gateway, at)?;
                self.calls(id, calls, starts)?;
            }
            (EventBody::Link(link), _) => {
                let id = self.gateway_seen(&link.gateway, at)?;
                self.link.execute(params![
                    id,
                    link.kind.as_str(),
                    link.value,
                    source_name(link.source),
                    link.confidence,
                    i64::try_from(link.calls_matched).unwrap_or(i64::MAX),
                    at
                ])?;
            }
            (EventBody::Subscriber { subscriber: s }, BodyTimes::Subscriber { first_seen, last_seen }) => {
                self.subscriber.execute(params![
                    s.imsi,
                    self.probe_id,
                    to_json(&s.flags)?,
                    to_json(&s.imeis)?,
                    first_seen,
                    last_seen,
                    to_json(s)?
                ])?;
            }
            (EventBody::Device { device: d }, _) => {
                self.device.execute(params![
                    d.imei,
                    self.probe_id,
                    d.tac,
                    d.luhn_valid,
                    to_json(&d.flags)?,
                    to_json(&d.imsis)?,
                    to_json(d)?
                ])?;
            }
            (EventBody::Cell { cell: c }, _) => {
                self.cell.execute(params![self.probe_id, c.mcc, c.mnc, c.lac, c.cell_id, c.arfcn, at])?;
            }
            (EventBody::Heartbeat { heartbeat }, _) => {
                let json = serde_json::json!({ "at": ms_to_rfc3339(at), "at_ms": at, "heartbeat": heartbeat });
                self.heartbeat.execute(params![to_json(&json)?, self.probe_id, at])?;
            }
            (EventBody::Alarm { alarm }, _) => {
                // The kind only: details may name places or people.
                tracing::warn!(probe_id = self.probe_id, kind = %alarm.kind, "probe alarm");
                self.alarm.execute(params![self.probe_id, alarm.kind, alarm.detail, at])?;
            }
            // check_batch returns the times of the event's own kind, so no
            // other pairing exists; refuse rather than store half an event.
            _ => return Err(IngestError::Internal("checked times do not match the event kind")),
        }
        Ok(())
    }

    /// The id of the gateway at `address` for this probe, created if new,
    /// with its seen range widened to `at`.
    fn gateway_seen(&mut self, address: &str, at: i64) -> Result<i64, IngestError> {
        let id: i64 = self.gateway_seen.query_row(params![self.probe_id, address, at, self.now], |r| r.get(0))?;
        self.gateways.insert(id);
        Ok(id)
    }

    fn calls(&mut self, gateway_id: i64, calls: &[CallObservation], starts: &[i64]) -> Result<(), IngestError> {
        for (call, start) in calls.iter().zip(starts) {
            let direction = match call.direction {
                Direction::In => "in",
                Direction::Out => "out",
            };
            self.call.execute(params![gateway_id, call.called, start, direction, call.answered])?;
        }
        Ok(())
    }

    fn outcome(self) -> IngestOutcome {
        IngestOutcome { gateways: self.gateways.into_iter().collect(), ..self.outcome }
    }
}

fn source_name(source: duanka_shared::events::LinkSource) -> &'static str {
    match source {
        duanka_shared::events::LinkSource::ControlPlane => "control_plane",
        duanka_shared::events::LinkSource::CallMatch => "call_match",
    }
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, IngestError> {
    // Serialising these plain data types cannot fail (no maps with non-string
    // keys); report it as an internal error should it ever.
    serde_json::to_string(value)
        .map_err(|e| IngestError::Store(StoreError::Encode(e.to_string())))
}
