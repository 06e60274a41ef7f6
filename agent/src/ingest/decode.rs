//! JSON bytes → [`Batch`], with errors that name the field.
//!
//! The batch is first read with its events left as raw JSON text
//! (`serde_json::value::RawValue`), so the version and the event count are
//! checked before any event is decoded. Each event is then read twice from
//! its text: once for the fields every event has (`id`, `at`, `type`, the
//! rest skipped), once as the fields of its kind. This avoids the wire
//! type's `#[serde(flatten)]` and `type` tag, which buffer every value of the
//! event and lose the path of an error. Only when a read fails is it read
//! again with `serde_path_to_error`, which gives
//! `events[17].gateway.verdict: unknown variant …` rather than `events[17]`.
//! A refused batch stops at its first bad event.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use duanka_shared::events::{
    Alarm, Batch, CallObservation, Event, EventBody, Heartbeat, LinkObservation, EVENTS_SCHEMA_VERSION,
};
use duanka_shared::report::{CellSeen, DeviceReport, GatewayReport, SubscriberReport};

use super::{IngestError, MAX_BODY_BYTES, MAX_EVENTS_PER_BATCH};

/// The event kinds (`type` values) of schema version 1, as in JSON.
const KINDS: &[&str] = &["detection", "calls", "link", "subscriber", "device", "cell", "heartbeat", "alarm"];

/// A batch with its events still as JSON text.
#[derive(Deserialize)]
struct RawBatch<'a> {
    schema: u64,
    probe_version: String,
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// Only the version, to report a version mismatch before any shape error.
#[derive(Deserialize)]
struct OnlySchema {
    schema: u64,
}

/// Decodes a request body into a [`Batch`], refusing anything that does not
/// fit (see the module docs). Never panics.
pub fn decode_batch(body: &[u8]) -> Result<Batch, IngestError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(IngestError::BodyTooLarge { max: MAX_BODY_BYTES });
    }
    // serde would also take a struct from a JSON array; a batch is an object.
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => return Err(IngestError::Malformed("invalid JSON: the body is empty".into())),
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() => {
            return Err(IngestError::Malformed("batch: expected a JSON object".into()))
        }
        Some(_) => {}
    }
    let raw: RawBatch<'_> = match serde_json::from_slice(body) {
        Ok(raw) => raw,
        Err(e) => return Err(batch_error(body, e)),
    };
    if raw.schema != u64::from(EVENTS_SCHEMA_VERSION) {
        return Err(IngestError::UnsupportedVersion { found: raw.schema, expected: EVENTS_SCHEMA_VERSION });
    }
    if raw.events.len() > MAX_EVENTS_PER_BATCH {
        return Err(IngestError::TooManyEvents { count: raw.events.len(), max: MAX_EVENTS_PER_BATCH });
    }
    let mut events = Vec::with_capacity(raw.events.len());
    for (index, text) in raw.events.iter().enumerate() {
        match decode_event(text.get()) {
            Ok(event) => events.push(event),
            Err((path, message)) => {
                let at = if path.is_empty() { String::new() } else { format!(".{path}") };
                return Err(IngestError::Malformed(format!("events[{index}]{at}: {message}")));
            }
        }
    }
    Ok(Batch { schema: EVENTS_SCHEMA_VERSION, probe_version: raw.probe_version, events })
}

/// The message for a body that is not a batch: a version mismatch if the
/// version can be read, else the first error with its path.
fn batch_error(body: &[u8], e: serde_json::Error) -> IngestError {
    if e.is_syntax() || e.is_eof() {
        return IngestError::Malformed(format!("invalid JSON: {e}"));
    }
    if let Ok(OnlySchema { schema }) = serde_json::from_slice::<OnlySchema>(body) {
        if schema != u64::from(EVENTS_SCHEMA_VERSION) {
            return IngestError::UnsupportedVersion { found: schema, expected: EVENTS_SCHEMA_VERSION };
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, RawBatch<'_>>(&mut de) {
        Err(located) => {
            let path = located.path().to_string();
            let inner = located.into_inner();
            if path == "." {
                IngestError::Malformed(format!("batch: {inner}"))
            } else {
                IngestError::Malformed(format!("{path}: {inner}"))
            }
        }
        // Cannot happen (the same input failed above); keep the first error.
        Ok(_) => IngestError::Malformed(format!("batch: {e}")),
    }
}

/// The fields every event has.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    at: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// A failed event: (path inside the event, empty for the event itself;
/// message).
type Located = (String, String);

/// Decodes one event from its JSON text.
fn decode_event(text: &str) -> Result<Event, Located> {
    // serde would also read a struct from an array.
    if !text.starts_with('{') {
        return Err((String::new(), "expected an event object".to_owned()));
    }
    let header: Header<'_> = read(text)?;
    let body = match &*header.kind {
        "detection" => read::<DetectionFields>(text).map(|f| EventBody::Detection { gateway: Box::new(f.gateway) }),
        "calls" => read::<CallsFields>(text).map(|f| EventBody::Calls { gateway: f.gateway, calls: f.calls }),
        "link" => read::<LinkObservation>(text).map(EventBody::Link),
        "subscriber" => read::<SubscriberFields>(text).map(|f| EventBody::Subscriber { subscriber: f.subscriber }),
        "device" => read::<DeviceFields>(text).map(|f| EventBody::Device { device: f.device }),
        "cell" => read::<CellFields>(text).map(|f| EventBody::Cell { cell: f.cell }),
        "heartbeat" => read::<HeartbeatFields>(text).map(|f| EventBody::Heartbeat { heartbeat: f.heartbeat }),
        "alarm" => read::<AlarmFields>(text).map(|f| EventBody::Alarm { alarm: f.alarm }),
        other => {
            let expected = KINDS.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            Err(("type".to_owned(), format!("unknown variant `{other}`, expected one of {expected}")))
        }
    }?;
    Ok(Event { id: header.id.into_owned(), at: header.at.into_owned(), body })
}

/// Reads `T` from `text`; on failure reads it again to find the error's path.
fn read<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, Located> {
    serde_json::from_str(text).map_err(|fast| {
        let mut de = serde_json::Deserializer::from_str(text);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(e) => {
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                (path, without_position(&e.into_inner().to_string()))
            }
            // Cannot happen (same input); keep the first error.
            Ok(_) => (String::new(), without_position(&fast.to_string())),
        }
    })
}

/// A serde_json message without its ` at line 1 column 57`: positions inside
/// one event's text would mislead.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_owned(),
        _ => message.to_owned(),
    }
}

// The fields of each event kind, as `EventBody`'s variants hold them; used
// only to find where an event that failed to decode went wrong.

#[derive(Deserialize)]
struct DetectionFields {
    gateway: GatewayReport,
}

#[derive(Deserialize)]
struct CallsFields {
    gateway: String,
    calls: Vec<CallObservation>,
}

#[derive(Deserialize)]
struct SubscriberFields {
    subscriber: SubscriberReport,
}

#[derive(Deserialize)]
struct DeviceFields {
    device: DeviceReport,
}

#[derive(Deserialize)]
struct CellFields {
    cell: CellSeen,
}

#[derive(Deserialize)]
struct HeartbeatFields {
    heartbeat: Heartbeat,
}

#[derive(Deserialize)]
struct AlarmFields {
    alarm: Alarm,
}

#[cfg(test)]
mod tests {
    use duanka_shared::events::EventBody;

    use super::*;

    fn batch(events: &str) -> String {
        format!(r#"{{"schema":1,"probe_version":"0.1.0","events":[{events}]}}"#)
    }

    const LINK: &str = r#"{"id":"e1","at":"2026-11-23T06:00:00Z","type":"link","gateway":"198.51.100.10",
        "kind":"imsi","value":"460001234567890","source":"call_match","confidence":0.9}"#;

    fn malformed(body: &str) -> String {
        match decode_batch(body.as_bytes()) {
            Err(IngestError::Malformed(m)) => m,
            other => panic!("expected Malformed for {body}, got {other:?}"),
        }
    }

    #[test]
    fn a_good_batch_decodes() {
        let b = decode_batch(batch(LINK).as_bytes()).unwrap();
        assert_eq!(b.events.len(), 1);
        assert!(matches!(b.events[0].body, EventBody::Link(_)));
    }

    #[test]
    fn kinds_list_matches_the_wire_type() {
        // Every EventBody kind must be in KINDS (the unknown-variant message).
        let all = [
            EventBody::Alarm { alarm: Alarm { kind: "t".into(), detail: String::new() } },
            EventBody::Heartbeat { heartbeat: Heartbeat::default() },
            EventBody::Cell { cell: CellSeen { mcc: 1, mnc: 1, lac: 1, cell_id: 1, arfcn: 1 } },
        ];
        for body in &all {
            assert!(KINDS.contains(&body.kind()));
        }
        assert_eq!(KINDS.len(), 8);
    }

    #[test]
    fn errors_name_the_event_and_the_field() {
        let bad_verdict = LINK.replace(r#""source":"call_match""#, r#""source":"x""#);
        let m = malformed(&batch(&format!("{LINK},{bad_verdict}")));
        assert!(m.starts_with("events[1].source: unknown variant `x`"), "{m}");

        let bad_call = r#"{"id":"c","at":"2026-11-23T06:00:00Z","type":"calls","gateway":"1.2.3.4",
            "calls":[{"called":"1","start":"2026-11-23T06:00:00Z","direction":"in"},
                     {"called":"1","start":"2026-11-23T06:00:00Z","direction":"sideways"}]}"#;
        let m = malformed(&batch(bad_call));
        assert!(m.starts_with("events[0].calls[1].direction: unknown variant `sideways`"), "{m}");

        let m = malformed(&batch(r#"{"id":"d","at":"x","type":"detection","gateway":{"address":"1.2.3.4"}}"#));
        assert!(m.starts_with("events[0].gateway"), "{m}");
        assert!(m.contains("missing field"), "{m}");

        let m = malformed(&batch(r#"{"id":"d","at":"x","type":"teleport"}"#));
        assert!(m.starts_with("events[0].type: unknown variant `teleport`, expected one of `detection`"), "{m}");

        let m = malformed(&batch(r#"{"at":"x","type":"alarm","alarm":{"kind":"tamper"}}"#));
        assert_eq!(m, "events[0]: missing field `id`");

        let m = malformed(&batch(r#"{"id":7,"at":"x","type":"alarm","alarm":{"kind":"tamper"}}"#));
        assert!(m.starts_with("events[0].id: invalid type: integer `7`"), "{m}");
        assert!(!m.contains("line 1"), "no positions inside an event: {m}");

        let m = malformed(&batch(r#"["a","b","alarm"]"#));
        assert_eq!(m, "events[0]: expected an event object");
    }

    #[test]
    fn batch_level_errors() {
        assert!(malformed("{").starts_with("invalid JSON:"));
        assert!(malformed("").starts_with("invalid JSON:"));
        assert_eq!(malformed("[]"), "batch: expected a JSON object");
        assert_eq!(malformed(r#"[1, "x", []]"#), "batch: expected a JSON object");
        assert_eq!(malformed(" \n"), "invalid JSON: the body is empty");
        assert!(malformed(r#"{"schema":1,"probe_version":"x"}"#).contains("missing field `events`"));
        let m = malformed(r#"{"schema":1,"probe_version":"x","events":{}}"#);
        assert!(m.starts_with("events: invalid type"), "{m}");
        let m = malformed(r#"{"schema":"1","probe_version":"x","events":[]}"#);
        assert!(m.starts_with("schema: invalid type"), "{m}");
    }

    #[test]
    fn version_is_checked_first() {
        for body in [r#"{"schema":2,"probe_version":"x","events":[]}"#, r#"{"schema":2,"events":"whatever"}"#] {
            match decode_batch(body.as_bytes()) {
                Err(IngestError::UnsupportedVersion { found: 2, expected: 1 }) => {}
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn too_many_events_are_refused_before_decoding_them() {
        // Garbage events: the count is checked first.
        let events = vec!["0"; MAX_EVENTS_PER_BATCH + 1].join(",");
        match decode_batch(batch(&events).as_bytes()) {
            Err(IngestError::TooManyEvents { count, max }) => assert_eq!((count, max), (5001, 5000)),
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode_batch(&bytes);
        }

        #[test]
        fn random_events_never_panic(event in "\\{[ -~]{0,200}\\}") {
            let _ = decode_batch(batch(&event).as_bytes());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: every prefix of a good batch, and bytes flipped.
        let good = batch(&format!("{LINK},{LINK}"));
        for n in 0..good.len() {
            let _ = decode_batch(&good.as_bytes()[..n]);
        }
        let mut bytes = good.into_bytes();
        for i in 0..bytes.len() {
            let saved = bytes[i];
            bytes[i] = bytes[i].wrapping_add(1 + (i % 7) as u8);
            let _ = decode_batch(&bytes);
            bytes[i] = saved;
        }
    }
}
