//! Storing a checked batch: one transaction, one cached statement per kind
//! of write (see the parent module for what each event kind does).

use std::collections::{BTreeSet, HashMap};

use rusqlite::{params, CachedStatement, Connection, OptionalExtension as _, Transaction, TransactionBehavior};

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
        writer.finish()?
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
    gateway_find: CachedStatement<'t>,
    gateway_new: CachedStatement<'t>,
    gateway_widen: CachedStatement<'t>,
    call: CachedStatement<'t>,
    link: CachedStatement<'t>,
    subscriber: CachedStatement<'t>,
    device: CachedStatement<'t>,
    cell: CachedStatement<'t>,
    heartbeat: CachedStatement<'t>,
    alarm: CachedStatement<'t>,
    outcome: IngestOutcome,
    gateways: BTreeSet<i64>,
    /// Gateway ids by address, for this batch.
    gateway_ids: HashMap<String, i64>,
    /// The seen range (min, max) of each gateway's `calls` and `link` events
    /// in this batch, applied once per gateway at the end: updating a column
    /// rewrites the whole row, report included, so once per event would be
    /// slow.
    seen: HashMap<i64, (i64, i64)>,
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
            gateway_find: tx.prepare_cached("SELECT id FROM gateways WHERE probe_id = ?1 AND address = ?2")?,
            gateway_new: tx.prepare_cached(
                "INSERT INTO gateways (probe_id, address, verdict, score, first_seen_at, last_seen_at,
                                       report_json, updated_at)
                 VALUES (?1, ?2, 'clean', 0, ?3, ?3, '{}', ?4) RETURNING id",
            )?,
            gateway_widen: tx.prepare_cached(
                "UPDATE gateways SET updated_at = ?4,
                   first_seen_at = min(coalesce(first_seen_at, ?2), ?2),
                   last_seen_at = max(coalesce(last_seen_at, ?3), ?3)
                 WHERE id = ?1 AND (first_seen_at IS NULL OR first_seen_at > ?2
                                    OR last_seen_at IS NULL OR last_seen_at < ?3)",
            )?,
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
            alarm: tx
                .prepare_cached("INSERT INTO alarms (probe_id, kind, detail, occurred_at) VALUES (?1, ?2, ?3, ?4)")?,
            outcome: IngestOutcome::default(),
            gateways: BTreeSet::new(),
            gateway_ids: HashMap::new(),
            seen: HashMap::new(),
        })
    }

    fn event(&mut self, event: &Event, checked: &CheckedEvent) -> Result<(), IngestError> {
        // The report of a detection, subscriber or device goes into its own
        // table as well as into the event's body: serialise it once.
        let inner = match &event.body {
            EventBody::Detection { gateway } => Some(("gateway", to_json(gateway)?)),
            EventBody::Subscriber { subscriber } => Some(("subscriber", to_json(subscriber)?)),
            EventBody::Device { device } => Some(("device", to_json(device)?)),
            _ => None,
        };
        let body_json = match &inner {
            // As serde writes the internally tagged `EventBody`.
            Some((field, json)) => format!(r#"{{"type":"{}","{field}":{json}}}"#, event.body.kind()),
            None => to_json(&event.body)?,
        };
        let report_json = inner.map(|(_, json)| json).unwrap_or_default();
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
            (
                EventBody::Detection { gateway },
                BodyTimes::Detection { first_seen, last_seen, detected_at, call_starts },
            ) => {
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
                        report_json,
                        self.now
                    ],
                    |r| r.get(0),
                )?;
                self.gateways.insert(id);
                self.gateway_ids.insert(gateway.address.clone(), id);
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
                    report_json
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
                    report_json
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

    /// The id of the gateway at `address` for this probe, created if new;
    /// its seen range is widened to `at` when the batch ends.
    fn gateway_seen(&mut self, address: &str, at: i64) -> Result<i64, IngestError> {
        let id = match self.gateway_ids.get(address) {
            Some(&id) => id,
            None => {
                let found: Option<i64> =
                    self.gateway_find.query_row(params![self.probe_id, address], |r| r.get(0)).optional()?;
                let id = match found {
                    Some(id) => id,
                    None => self.gateway_new.query_row(params![self.probe_id, address, at, self.now], |r| r.get(0))?,
                };
                self.gateway_ids.insert(address.to_owned(), id);
                id
            }
        };
        let range = self.seen.entry(id).or_insert((at, at));
        *range = (range.0.min(at), range.1.max(at));
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

    /// Applies the seen ranges and returns what the batch did.
    fn finish(mut self) -> Result<IngestOutcome, IngestError> {
        for (id, (first, last)) in std::mem::take(&mut self.seen) {
            self.gateway_widen.execute(params![id, first, last, self.now])?;
        }
        Ok(IngestOutcome { gateways: self.gateways.into_iter().collect(), ..self.outcome })
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
    serde_json::to_string(value).map_err(|e| IngestError::Store(StoreError::Encode(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{rfc3339_to_ms, Store};
    use duanka_shared::events::{Alarm, Heartbeat, LinkKind, LinkObservation, LinkSource};
    use duanka_shared::report::{DeviceReport, GatewayReport, SubscriberReport, Verdict};

    fn setup() -> (Store, i64) {
        let store = Store::open_in_memory().unwrap();
        let probe = crate::auth::enrol_probe(store.conn(), "p").unwrap().id;
        (store, probe)
    }

    fn ev(id: &str, at: &str, body: EventBody) -> Event {
        Event { id: id.into(), at: at.into(), body }
    }

    fn batch(events: Vec<Event>) -> Batch {
        Batch { schema: 1, probe_version: "t".into(), events }
    }

    fn report(verdict: Verdict, score: f64, detected_at: Option<&str>) -> Box<GatewayReport> {
        // The smallest report: every required field, as JSON.
        let json = serde_json::json!({
            "address": "198.51.100.7", "verdict": verdict, "score": score, "vendor": "DBL",
            "accounts": [], "calls": 0, "calls_in": 0, "calls_out": 0, "calls_answered": 0,
            "registrations": 0, "register_expires": [], "options_sent": 0, "requests_sent": 0,
            "requests_received": 0, "user_agents": [], "sip_ports": [],
            "first_seen": "2026-11-23T06:00:00Z", "last_seen": "2026-11-23T06:10:00Z",
            "detected_at": detected_at, "first_call_at": null, "detection_latency_s": null,
            "behaviour": {"calls_terminated": 0, "calls_originated": 0, "peak_concurrent_calls": 0},
            "imsis": [], "imeis": [], "iccids": [], "rtp": {"streams": 0, "linked_to_calls": 0, "packets": 0,
            "lost": 0, "ptimes_ms": [], "codecs": [], "streams_with_rtcp": 0, "dtmf_events": 0, "silence_gaps": 0},
            "lines": [], "goip_keepalives": 0, "simbank_packets": 0, "evidence": [],
            "call_log": [{"called": "13800000001", "start": "2026-11-23T06:01:00Z", "direction": "in"}]
        });
        Box::new(serde_json::from_value(json).unwrap())
    }

    fn link(confidence: f64, calls: u64) -> EventBody {
        EventBody::Link(LinkObservation {
            gateway: "198.51.100.7".into(),
            kind: LinkKind::Imsi,
            value: "460001234567890".into(),
            source: LinkSource::CallMatch,
            confidence,
            calls_matched: calls,
        })
    }

    fn one<T: rusqlite::types::FromSql>(store: &Store, sql: &str) -> T {
        store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn calls_before_a_detection_create_a_clean_gateway_that_the_detection_then_fills() {
        let (mut store, probe) = setup();
        let calls = EventBody::Calls {
            gateway: "198.51.100.7".into(),
            calls: vec![CallObservation {
                called: "13800000001".into(),
                calling: None,
                start: "2026-11-23T06:01:00Z".into(),
                direction: Direction::In,
                answered: false,
            }],
        };
        let out = store_batch(store.conn_mut(), probe, &batch(vec![ev("c1", "2026-11-23T06:01:00Z", calls)])).unwrap();
        assert_eq!(out.gateways.len(), 1);
        let (verdict, score, report_json): (String, f64, String) = store
            .conn()
            .query_row("SELECT verdict, score, report_json FROM gateways", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((verdict.as_str(), score, report_json.as_str()), ("clean", 0.0, "{}"));

        let det = EventBody::Detection { gateway: report(Verdict::Simbox, 7.5, Some("2026-11-23T06:05:00Z")) };
        let out2 = store_batch(store.conn_mut(), probe, &batch(vec![ev("d1", "2026-11-23T06:10:00Z", det)])).unwrap();
        assert_eq!(out2.gateways, out.gateways, "same gateway row");
        assert_eq!(one::<String>(&store, "SELECT verdict FROM gateways"), "simbox");
        assert_eq!(one::<f64>(&store, "SELECT score FROM gateways"), 7.5);
        assert!(one::<String>(&store, "SELECT report_json FROM gateways").contains("\"vendor\":\"DBL\""));
        // The detection's call log is the same call: still one row, now from both.
        assert_eq!(one::<i64>(&store, "SELECT count(*) FROM gateway_calls"), 1);
        assert_eq!(
            one::<i64>(&store, "SELECT first_seen_at FROM gateways"),
            rfc3339_to_ms("2026-11-23T06:00:00Z").unwrap()
        );
    }

    #[test]
    fn the_latest_detection_wins_but_the_first_detection_time_stays() {
        let (mut store, probe) = setup();
        let first = EventBody::Detection { gateway: report(Verdict::Simbox, 9.0, Some("2026-11-23T06:05:00Z")) };
        let later = EventBody::Detection { gateway: report(Verdict::Suspect, 3.0, Some("2026-11-23T07:00:00Z")) };
        store_batch(store.conn_mut(), probe, &batch(vec![ev("d1", "2026-11-23T06:10:00Z", first)])).unwrap();
        store_batch(store.conn_mut(), probe, &batch(vec![ev("d2", "2026-11-23T07:10:00Z", later)])).unwrap();
        assert_eq!(one::<String>(&store, "SELECT verdict FROM gateways"), "suspect");
        assert_eq!(
            one::<i64>(&store, "SELECT detected_at FROM gateways"),
            rfc3339_to_ms("2026-11-23T06:05:00Z").unwrap()
        );
    }

    #[test]
    fn links_keep_the_highest_confidence_and_the_widest_range() {
        let (mut store, probe) = setup();
        let events = vec![
            ev("l1", "2026-11-23T06:00:00Z", link(0.9, 3)),
            ev("l2", "2026-11-23T05:00:00Z", link(0.4, 5)),
            ev("l3", "2026-11-23T08:00:00Z", link(0.5, 1)),
        ];
        store_batch(store.conn_mut(), probe, &batch(events)).unwrap();
        let row: (f64, i64, i64, i64) = store
            .conn()
            .query_row("SELECT confidence, calls_matched, first_seen_at, last_seen_at FROM gateway_links", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!(row.0, 0.9);
        assert_eq!(row.1, 5);
        assert_eq!(row.2, rfc3339_to_ms("2026-11-23T05:00:00Z").unwrap());
        assert_eq!(row.3, rfc3339_to_ms("2026-11-23T08:00:00Z").unwrap());
    }

    #[test]
    fn subscribers_and_devices_accumulate_their_lists() {
        let (mut store, probe) = setup();
        let sub = |imeis: &[&str], flags: &[&str], first: &str, last: &str| EventBody::Subscriber {
            subscriber: SubscriberReport {
                imsi: "460001234567890".into(),
                tmsis: vec![],
                location_areas: vec![],
                imeis: imeis.iter().map(|s| s.to_string()).collect(),
                attaches: 1,
                location_updates: 0,
                detaches: 0,
                setups: 0,
                distinct_called: 0,
                paging_responses: 0,
                flags: flags.iter().map(|s| s.to_string()).collect(),
                first_seen: first.into(),
                last_seen: last.into(),
            },
        };
        let dev = |imsis: &[&str]| EventBody::Device {
            device: DeviceReport {
                imei: "86123456000001".into(),
                tac: "86123456".into(),
                imsis: imsis.iter().map(|s| s.to_string()).collect(),
                luhn_valid: None,
                flags: vec![],
            },
        };
        let at = "2026-11-23T06:00:00Z";
        let events = vec![
            ev("s1", at, sub(&["111", "222"], &["stationary"], "2026-11-23T06:00:00Z", "2026-11-23T06:30:00Z")),
            ev("s2", at, sub(&["222", "333"], &["attach_cohort"], "2026-11-23T05:00:00Z", "2026-11-23T06:10:00Z")),
            ev("v1", at, dev(&["460001234567890"])),
            ev("v2", at, dev(&["460001234567891"])),
        ];
        store_batch(store.conn_mut(), probe, &batch(events)).unwrap();
        let imeis: Vec<String> =
            serde_json::from_str(&one::<String>(&store, "SELECT imeis_json FROM subscribers")).unwrap();
        assert_eq!(imeis, ["111", "222", "333"]);
        let flags: Vec<String> =
            serde_json::from_str(&one::<String>(&store, "SELECT flags_json FROM subscribers")).unwrap();
        assert_eq!(flags, ["attach_cohort", "stationary"]);
        assert_eq!(
            one::<i64>(&store, "SELECT first_seen_at FROM subscribers"),
            rfc3339_to_ms("2026-11-23T05:00:00Z").unwrap()
        );
        assert_eq!(
            one::<i64>(&store, "SELECT last_seen_at FROM subscribers"),
            rfc3339_to_ms("2026-11-23T06:30:00Z").unwrap()
        );
        let imsis: Vec<String> =
            serde_json::from_str(&one::<String>(&store, "SELECT imsis_json FROM devices")).unwrap();
        assert_eq!(imsis, ["460001234567890", "460001234567891"]);
    }

    #[test]
    fn heartbeats_keep_the_latest_and_alarms_are_rows() {
        let (mut store, probe) = setup();
        let hb = |packets| EventBody::Heartbeat { heartbeat: Heartbeat { packets, ..Default::default() } };
        let events = vec![
            ev("h2", "2026-11-23T06:00:10Z", hb(20)),
            ev("h1", "2026-11-23T06:00:00Z", hb(10)),
            ev(
                "a1",
                "2026-11-23T06:00:05Z",
                EventBody::Alarm { alarm: Alarm { kind: "tamper".into(), detail: "lid".into() } },
            ),
        ];
        let out = store_batch(store.conn_mut(), probe, &batch(events)).unwrap();
        assert!(out.gateways.is_empty());
        let stored: serde_json::Value =
            serde_json::from_str(&one::<String>(&store, "SELECT heartbeat_json FROM probes")).unwrap();
        assert_eq!(stored["heartbeat"]["packets"], 20, "an older heartbeat arriving later does not win");
        assert_eq!(stored["at"], "2026-11-23T06:00:10.000Z");
        assert_eq!(one::<String>(&store, "SELECT kind FROM alarms"), "tamper");
        assert!(one::<Option<i64>>(&store, "SELECT last_seen_at FROM probes").is_some());
    }

    #[test]
    fn duplicates_are_counted_and_not_reapplied() {
        let (mut store, probe) = setup();
        let first = batch(vec![ev("l1", "2026-11-23T06:00:00Z", link(0.2, 1))]);
        store_batch(store.conn_mut(), probe, &first).unwrap();
        // Same id, different content: it is the same fact resent, so ignored.
        let again =
            batch(vec![ev("l1", "2026-11-23T06:00:00Z", link(0.9, 9)), ev("l1", "2026-11-23T06:00:00Z", link(0.9, 9))]);
        let out = store_batch(store.conn_mut(), probe, &again).unwrap();
        assert_eq!((out.accepted, out.duplicates), (0, 2));
        assert!(out.gateways.is_empty());
        assert_eq!(one::<f64>(&store, "SELECT confidence FROM gateway_links"), 0.2);
    }

    #[test]
    fn an_unknown_probe_stores_nothing() {
        let (mut store, _) = setup();
        let err = store_batch(store.conn_mut(), 99, &batch(vec![ev("l1", "2026-11-23T06:00:00Z", link(0.2, 1))]));
        assert!(matches!(err, Err(IngestError::UnknownProbe(99))), "{err:?}");
        assert_eq!(one::<i64>(&store, "SELECT count(*) FROM events"), 0);
    }

    #[test]
    fn a_failure_inside_the_transaction_rolls_everything_back() {
        let (mut store, probe) = setup();
        // Make the last write fail (cells refuse inserts), after others succeeded.
        store
            .conn()
            .execute_batch("CREATE TRIGGER no_cells BEFORE INSERT ON cells BEGIN SELECT RAISE(ABORT, 'no'); END")
            .unwrap();
        let cell = EventBody::Cell {
            cell: duanka_shared::report::CellSeen { mcc: 460, mnc: 0, lac: 1, cell_id: 2, arfcn: 3 },
        };
        let events = vec![ev("l1", "2026-11-23T06:00:00Z", link(0.2, 1)), ev("c1", "2026-11-23T06:00:00Z", cell)];
        assert!(matches!(store_batch(store.conn_mut(), probe, &batch(events)), Err(IngestError::Store(_))));
        for table in ["events", "gateways", "gateway_links"] {
            assert_eq!(one::<i64>(&store, &format!("SELECT count(*) FROM {table}")), 0, "{table}");
        }
        let seen: Option<i64> =
            store.conn().query_row("SELECT last_seen_at FROM probes", [], |r| r.get(0)).optional().unwrap().flatten();
        assert_eq!(seen, None);
    }
}
