//! What the wire types cannot say: ids, times, identities, addresses and
//! ranges, checked before anything is written (see the parent module).

use std::net::IpAddr;

use duanka_shared::events::{Batch, CallObservation, EventBody, LinkKind, EVENTS_SCHEMA_VERSION, MAX_EVENT_ID_LEN};
use duanka_shared::ids::{Iccid, Imei, Imsi};

use super::{IngestError, MAX_ALARM_KIND_LEN, MAX_EVENTS_PER_BATCH, MAX_NUMBER_LEN};
use crate::store::rfc3339_to_ms;

/// An event's times, read once while checking (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEvent {
    /// The event's `at`.
    pub at_ms: i64,
    /// The times inside its body.
    pub times: BodyTimes,
}

/// The times inside an event's body, by kind (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyTimes {
    /// Kinds without times in their body.
    None,
    /// A detection's report.
    Detection {
        /// `first_seen`.
        first_seen: Option<i64>,
        /// `last_seen`.
        last_seen: Option<i64>,
        /// `detected_at`.
        detected_at: Option<i64>,
        /// `call_log[i].start`, in order.
        call_starts: Vec<i64>,
    },
    /// `calls[i].start`, in order.
    Calls(Vec<i64>),
    /// A subscriber's seen range.
    Subscriber {
        /// `first_seen`.
        first_seen: i64,
        /// `last_seen`.
        last_seen: i64,
    },
}

/// A failed check inside one event: (path, message).
type Fail = (String, String);

/// Checks the version, the count and every event of `batch`; returns each
/// event's times, in order, or the first problem.
pub fn check_batch(batch: &Batch) -> Result<Vec<CheckedEvent>, IngestError> {
    if batch.schema != EVENTS_SCHEMA_VERSION {
        return Err(IngestError::UnsupportedVersion {
            found: u64::from(batch.schema),
            expected: EVENTS_SCHEMA_VERSION,
        });
    }
    if batch.events.len() > MAX_EVENTS_PER_BATCH {
        return Err(IngestError::TooManyEvents { count: batch.events.len(), max: MAX_EVENTS_PER_BATCH });
    }
    batch
        .events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            check_event(&event.id, &event.at, &event.body).map_err(|(path, message)| IngestError::Invalid {
                index,
                path,
                message,
            })
        })
        .collect()
}

fn check_event(id: &str, at: &str, body: &EventBody) -> Result<CheckedEvent, Fail> {
    if id.is_empty() {
        return Err(fail("id", "must not be empty"));
    }
    if id.len() > MAX_EVENT_ID_LEN {
        return Err(fail("id", format!("{} bytes, at most {MAX_EVENT_ID_LEN} allowed", id.len())));
    }
    if id.chars().any(char::is_control) {
        return Err(fail("id", "must not contain control characters"));
    }
    let at_ms = time("at", at)?;
    let times = match body {
        EventBody::Detection { gateway } => {
            address("gateway.address", &gateway.address)?;
            let opt = |path: &str, v: &Option<String>| v.as_deref().map(|s| time(path, s)).transpose();
            let first_seen = opt("gateway.first_seen", &gateway.first_seen)?;
            let last_seen = opt("gateway.last_seen", &gateway.last_seen)?;
            let detected_at = opt("gateway.detected_at", &gateway.detected_at)?;
            opt("gateway.first_call_at", &gateway.first_call_at)?;
            if !gateway.score.is_finite() {
                return Err(fail("gateway.score", "must be a finite number"));
            }
            let call_starts = calls("gateway.call_log", &gateway.call_log)?;
            BodyTimes::Detection { first_seen, last_seen, detected_at, call_starts }
        }
        EventBody::Calls { gateway, calls: list } => {
            address("gateway", gateway)?;
            BodyTimes::Calls(calls("calls", list)?)
        }
        EventBody::Link(link) => {
            address("gateway", &link.gateway)?;
            let checked = match link.kind {
                LinkKind::Imsi => Imsi::parse(&link.value).map(drop),
                // Forged IMEIs and odd ICCIDs are evidence: keep a wrong check digit.
                LinkKind::Imei => Imei::parse_lenient(&link.value).map(drop),
                LinkKind::Iccid => Iccid::parse_lenient(&link.value).map(drop),
            };
            checked.map_err(|e| fail("value", e.to_string()))?;
            if !(0.0..=1.0).contains(&link.confidence) {
                return Err(fail("confidence", format!("{} is outside 0..=1", link.confidence)));
            }
            BodyTimes::None
        }
        EventBody::Subscriber { subscriber } => {
            Imsi::parse(&subscriber.imsi).map_err(|e| fail("subscriber.imsi", e.to_string()))?;
            let first_seen = time("subscriber.first_seen", &subscriber.first_seen)?;
            let last_seen = time("subscriber.last_seen", &subscriber.last_seen)?;
            BodyTimes::Subscriber { first_seen, last_seen }
        }
        EventBody::Device { device } => {
            Imei::parse_lenient(&device.imei).map_err(|e| fail("device.imei", e.to_string()))?;
            if device.tac.len() != 8 || !device.tac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(fail("device.tac", "must be 8 digits"));
            }
            BodyTimes::None
        }
        EventBody::Cell { .. } | EventBody::Heartbeat { .. } => BodyTimes::None,
        EventBody::Alarm { alarm } => {
            if alarm.kind.is_empty() || alarm.kind.len() > MAX_ALARM_KIND_LEN {
                return Err(fail("alarm.kind", format!("must be 1 to {MAX_ALARM_KIND_LEN} bytes")));
            }
            BodyTimes::None
        }
    };
    Ok(CheckedEvent { at_ms, times })
}

fn fail(path: &str, message: impl Into<String>) -> Fail {
    (path.to_owned(), message.into())
}

fn time(path: &str, s: &str) -> Result<i64, Fail> {
    rfc3339_to_ms(s).ok_or_else(|| fail(path, format!("{s:?} is not an RFC 3339 time")))
}

fn address(path: &str, s: &str) -> Result<(), Fail> {
    s.parse::<IpAddr>().map(drop).map_err(|_| fail(path, format!("{s:?} is not an IP address")))
}

fn calls(path: &str, list: &[CallObservation]) -> Result<Vec<i64>, Fail> {
    list.iter()
        .enumerate()
        .map(|(i, call)| {
            if call.called.is_empty() || call.called.len() > MAX_NUMBER_LEN {
                return Err(fail(&format!("{path}[{i}].called"), format!("must be 1 to {MAX_NUMBER_LEN} bytes")));
            }
            time(&format!("{path}[{i}].start"), &call.start)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use duanka_shared::events::{Event, LinkObservation, LinkSource};

    use super::*;

    fn link(value: &str, kind: LinkKind, confidence: f64) -> Event {
        Event {
            id: "e".into(),
            at: "2026-11-23T06:00:00Z".into(),
            body: EventBody::Link(LinkObservation {
                gateway: "198.51.100.10".into(),
                kind,
                value: value.into(),
                source: LinkSource::ControlPlane,
                confidence,
                calls_matched: 0,
            }),
        }
    }

    fn invalid(events: Vec<Event>) -> String {
        let batch = Batch { schema: 1, probe_version: "t".into(), events };
        match check_batch(&batch) {
            Err(e @ IngestError::Invalid { .. }) => e.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn table_of_bad_values() {
        let good = link("460001234567890", LinkKind::Imsi, 0.5);
        let mut cases: Vec<(Event, &str)> = Vec::new();
        let mut e = good.clone();
        e.id = String::new();
        cases.push((e, "events[1].id: must not be empty"));
        let mut e = good.clone();
        e.id = "x".repeat(MAX_EVENT_ID_LEN + 1);
        cases.push((e, "events[1].id: 201 bytes"));
        let mut e = good.clone();
        e.at = "yesterday".into();
        cases.push((e, "events[1].at: \"yesterday\" is not an RFC 3339 time"));
        cases.push((link("46000123456789X", LinkKind::Imsi, 0.5), "events[1].value: invalid IMSI"));
        cases.push((link("12345", LinkKind::Imei, 0.5), "events[1].value: invalid IMEI"));
        cases.push((link("1234567890123456789", LinkKind::Iccid, 0.5), "events[1].value: invalid ICCID"));
        cases.push((link("460001234567890", LinkKind::Imsi, 1.5), "events[1].confidence: 1.5 is outside 0..=1"));
        cases.push((link("460001234567890", LinkKind::Imsi, -0.1), "events[1].confidence"));
        let mut e = good.clone();
        if let EventBody::Link(l) = &mut e.body {
            l.gateway = "not-an-ip".into();
        }
        cases.push((e, "events[1].gateway: \"not-an-ip\" is not an IP address"));
        for (bad, want) in cases {
            let got = invalid(vec![good.clone(), bad]);
            assert!(got.starts_with(want), "want {want:?}, got {got:?}");
        }
    }

    #[test]
    fn forged_imei_check_digit_is_kept() {
        // 490154203237518 is valid; …519 has a wrong Luhn digit, still accepted.
        let batch =
            Batch { schema: 1, probe_version: "t".into(), events: vec![link("490154203237519", LinkKind::Imei, 1.0)] };
        assert!(check_batch(&batch).is_ok());
    }

    #[test]
    fn times_are_returned() {
        let batch =
            Batch { schema: 1, probe_version: "t".into(), events: vec![link("460001234567890", LinkKind::Imsi, 1.0)] };
        let c = check_batch(&batch).unwrap();
        assert_eq!(c[0].at_ms, rfc3339_to_ms("2026-11-23T06:00:00Z").unwrap());
    }
}
