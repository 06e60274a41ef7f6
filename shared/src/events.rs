//! Events a probe reports to the agent (`POST /api/v1/reports`).
//!
//! A probe sends [`Batch`]es of [`Event`]s. Every event carries an id the
//! probe chose ([`Event::id`]): the agent stores each `(probe, id)` once, so a
//! batch sent again after a lost acknowledgement creates no duplicates. Ids
//! must therefore be stable for the same fact: a live probe numbers its spool
//! rows; an offline upload derives them from the capture's digest and the
//! entity ([`events_from_report`]).
//!
//! # Versioning
//!
//! [`EVENTS_SCHEMA_VERSION`] is sent in every batch. The agent rejects a
//! batch whose version it does not know (422). Within a version, fields are
//! only ever added, with `#[serde(default)]`, so an older agent ignores what
//! it does not know and a newer one fills in what an older probe left out.
//!
//! # JSON
//!
//! ```text
//! { "schema": 1, "probe_version": "0.1.0",
//!   "events": [
//!     { "id": "c0ffee…:gw:198.51.100.10", "at": "2026-11-23T06:00:00Z",
//!       "type": "detection", "gateway": { …GatewayReport… } },
//!     { "id": "…", "at": "…", "type": "calls", "gateway": "198.51.100.10",
//!       "calls": [{ "called": "13812345678", "start": "…", "direction": "in", "answered": true }] },
//!     { "id": "…", "at": "…", "type": "link", "gateway": "198.51.100.10",
//!       "kind": "imsi", "value": "460001234567890", "source": "call_match", "confidence": 0.9 },
//!     { "id": "…", "at": "…", "type": "subscriber", "subscriber": { …SubscriberReport… } },
//!     { "id": "…", "at": "…", "type": "device", "device": { …DeviceReport… } },
//!     { "id": "…", "at": "…", "type": "cell", "cell": { …CellSeen… } },
//!     { "id": "…", "at": "…", "type": "heartbeat", "heartbeat": { … } },
//!     { "id": "…", "at": "…", "type": "alarm", "alarm": { "kind": "tamper", "detail": "…" } }
//!   ] }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::report::{link_source, AnalysisReport, CellSeen, DeviceReport, GatewayReport, SubscriberReport, Verdict};

/// Version of the event schema; see the module docs.
pub const EVENTS_SCHEMA_VERSION: u32 = 1;

/// Longest event id the agent accepts, in bytes.
pub const MAX_EVENT_ID_LEN: usize = 200;

/// What a probe sends in one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// [`EVENTS_SCHEMA_VERSION`] of the sender.
    pub schema: u32,
    /// The sending probe's software version.
    pub probe_version: String,
    /// The events, in the order they happened.
    pub events: Vec<Event>,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Chosen by the probe; stable for the same fact (the idempotency key).
    pub id: String,
    /// When it happened (capture time for offline uploads), RFC 3339.
    pub at: String,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// The payload of an event, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A verdict on a gateway with its evidence.
    Detection {
        /// The gateway as the analyser reports it.
        gateway: Box<GatewayReport>,
    },
    /// Calls a gateway took part in: the SIP legs CDRs are matched against.
    Calls {
        /// The gateway's address.
        gateway: String,
        /// The calls.
        calls: Vec<CallObservation>,
    },
    /// A gateway tied to a SIM card (IMSI, ICCID) or module (IMEI).
    Link(LinkObservation),
    /// A SIM seen on the cell side.
    Subscriber {
        /// The subscriber.
        subscriber: SubscriberReport,
    },
    /// A device (IMEI) seen on the cell side.
    Device {
        /// The device.
        device: DeviceReport,
    },
    /// A cell heard on the air.
    Cell {
        /// The cell.
        cell: CellSeen,
    },
    /// The probe's health.
    Heartbeat {
        /// The figures.
        heartbeat: Heartbeat,
    },
    /// Something the probe's hardware noticed (tamper switch, …).
    Alarm {
        /// The alarm.
        alarm: Alarm,
    },
}

impl EventBody {
    /// The `type` tag, as in JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Detection { .. } => "detection",
            EventBody::Calls { .. } => "calls",
            EventBody::Link(_) => "link",
            EventBody::Subscriber { .. } => "subscriber",
            EventBody::Device { .. } => "device",
            EventBody::Cell { .. } => "cell",
            EventBody::Heartbeat { .. } => "heartbeat",
            EventBody::Alarm { .. } => "alarm",
        }
    }
}

/// Which way a call went through the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The gateway received the INVITE (it terminates the call onto a SIM).
    In,
    /// The gateway sent the INVITE.
    Out,
}

/// One SIP call seen at a gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallObservation {
    /// The dialled number, normalised (digits, national form for PRC mobiles).
    pub called: String,
    /// The calling number as sent, if any.
    #[serde(default)]
    pub calling: Option<String>,
    /// INVITE time, RFC 3339.
    pub start: String,
    /// Which way.
    pub direction: Direction,
    /// Whether it was answered.
    #[serde(default)]
    pub answered: bool,
}

/// Which identity a link names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// A SIM's subscriber identity.
    Imsi,
    /// A module's equipment identity.
    Imei,
    /// A SIM card's serial number.
    Iccid,
}

impl LinkKind {
    /// The lowercase name used in JSON and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Imsi => "imsi",
            LinkKind::Imei => "imei",
            LinkKind::Iccid => "iccid",
        }
    }
}

/// How a link was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkSource {
    /// The gateway's own GoIP control plane announced the identity.
    ControlPlane,
    /// SIP calls matched cell-side call set-ups of this SIM.
    CallMatch,
}

/// A gateway ↔ identity link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkObservation {
    /// The gateway's address.
    pub gateway: String,
    /// Which identity.
    pub kind: LinkKind,
    /// Its digits.
    pub value: String,
    /// How it was found.
    pub source: LinkSource,
    /// 0..=1.
    pub confidence: f64,
    /// Matched calls behind a call match.
    #[serde(default)]
    pub calls_matched: u64,
}

/// A probe's health, sent every few seconds by a live probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Frames captured since start.
    pub packets: u64,
    /// Frames the kernel or the pipeline dropped since start.
    pub drops: u64,
    /// Decode errors by kind since start.
    #[serde(default)]
    pub decode_errors: BTreeMap<String, u64>,
    /// Events waiting in the spool.
    #[serde(default)]
    pub spool_depth: u64,
    /// `up`, `down`, `backoff`.
    #[serde(default)]
    pub uplink: Option<String>,
    /// `none`, `ok`, `tamper`, `error`.
    #[serde(default)]
    pub board: Option<String>,
    /// The probe's own serving cell, as its modem reports it.
    #[serde(default)]
    pub own_cell: Option<OwnCell>,
    /// Software version.
    #[serde(default)]
    pub version: Option<String>,
}

/// The serving cell of the probe's own modem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OwnCell {
    /// `gsm`, `wcdma`, `lte`, `nr`.
    pub rat: String,
    /// Mobile country code.
    pub mcc: Option<u16>,
    /// Mobile network code.
    pub mnc: Option<u16>,
    /// Location or tracking area code.
    pub lac: Option<u32>,
    /// Cell identity.
    pub cell_id: Option<u64>,
    /// Signal strength, dBm.
    pub rssi_dbm: Option<i32>,
}

/// An alarm from the probe's hardware.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    /// `tamper`, …
    pub kind: String,
    /// Human-readable detail.
    #[serde(default)]
    pub detail: String,
}

/// Most calls in one [`EventBody::Calls`] event built by [`events_from_report`].
pub const MAX_CALLS_PER_EVENT: usize = 1_000;

/// Most events a probe puts in one [`Batch`].
pub const MAX_BATCH_EVENTS: usize = 1_000;

/// Characters of the caller's `source` digest kept at the front of every id
/// [`events_from_report`] derives (64 bits of a SHA-256: no accidental clash
/// between two captures of one probe).
pub const SOURCE_ID_CHARS: usize = 16;

/// The events an offline analysis reports to the agent, with deterministic ids.
///
/// `source` names the input: the probe passes the SHA-256 hex of the capture's
/// contents (see `duanka-probe analyze --agent`); its first
/// [`SOURCE_ID_CHARS`] characters start every id, followed by the entity:
///
/// | event | id |
/// |---|---|
/// | detection | `<source>:gw:<address>` |
/// | link | `<source>:link:<address>:<imsi\|imei\|iccid>:<value>:<control_plane\|call_match>` |
/// | calls | `<source>:calls:<address>:<chunk, from 0>` |
/// | cell | `<source>:cell:<mcc>-<mnc>-<lac>-<cell_id>-<arfcn>` |
/// | subscriber | `<source>:sub:<imsi>` |
/// | device | `<source>:dev:<imei>` |
///
/// The same report and `source` always give the same events (the agent keeps
/// each `(probe, id)` once, so uploading a capture twice stores it once), and
/// ids are unique within the result: an entity listed twice is sent once.
/// An id longer than [`MAX_EVENT_ID_LEN`] (only possible with absurd input)
/// is cut and ends in a hash of the whole id, keeping it unique.
///
/// Which gateways are sent: every gateway whose verdict is not clean, and a
/// clean one only when it is tied to a SIM card or module — a valid identity
/// its GoIP control plane announced, or a SIM matched to its calls — because
/// such a host is a GSM gateway whatever its score. Ordinary clean hosts
/// (phones, PBXs, carriers) are never sent: most of a capture's addresses are
/// those. For each gateway sent: one `detection` event (the report with its
/// `call_log` emptied), one `link` event per valid control-plane identity
/// (confidence 1) and per SIM matched to its calls (`call_match`, with the
/// match's confidence and calls; plus an IMEI link when the match names the
/// SIM's device, merged over SIMs: summed calls, highest confidence), and its
/// `call_log` in `calls` events of at most [`MAX_CALLS_PER_EVENT`] calls.
/// Then the cell side: every cell, subscriber and device heard.
///
/// `at` is the entity's own capture time: a gateway's `detected_at`, else its
/// `last_seen` (links: `last_seen` first), a call chunk's last call, a
/// subscriber's `last_seen`, a device's latest subscriber; `fallback_at`
/// where there is none (cells). Times compare as text, which holds for the
/// fixed-width UTC form the probe writes; [`capture_end`] gives a fitting
/// `fallback_at`.
///
/// Events come in a canonical order that does not depend on the report's:
/// gateways by address, each with its detection first (so the gateway is
/// known before what refers to it), then its links by kind, value and source,
/// then its calls; then cells, subscribers by IMSI, devices by IMEI. So the
/// same capture also gives the same batches.
pub fn events_from_report(report: &AnalysisReport, source: &str, fallback_at: &str) -> Vec<Event> {
    let mut out = EventList::new(source);
    let mut gateways: Vec<&GatewayReport> = report.gateways.iter().filter(|g| gateway_is_sent(g)).collect();
    gateways.sort_by(|a, b| a.address.cmp(&b.address));
    for gw in gateways {
        gateway_events(&mut out, gw, fallback_at);
    }
    let mut cells: Vec<&CellSeen> = report.cells.iter().collect();
    cells.sort_by_key(|c| (c.mcc, c.mnc, c.lac, c.cell_id, c.arfcn));
    for cell in cells {
        let id = format!("cell:{}-{}-{}-{}-{}", cell.mcc, cell.mnc, cell.lac, cell.cell_id, cell.arfcn);
        out.push(&id, fallback_at, EventBody::Cell { cell: cell.clone() });
    }
    let mut subscribers: Vec<&SubscriberReport> = report.subscribers.iter().collect();
    subscribers.sort_by(|a, b| a.imsi.cmp(&b.imsi));
    let mut devices: Vec<&DeviceReport> = report.devices.iter().collect();
    devices.sort_by(|a, b| a.imei.cmp(&b.imei));
    for sub in subscribers {
        let at = if sub.last_seen.is_empty() { fallback_at } else { sub.last_seen.as_str() };
        out.push(&format!("sub:{}", sub.imsi), at, EventBody::Subscriber { subscriber: sub.clone() });
    }
    // A device was last seen when the latest of its SIMs was.
    let mut device_seen: BTreeMap<&str, &str> = BTreeMap::new();
    for sub in report.subscribers.iter().filter(|s| !s.last_seen.is_empty()) {
        for imei in &sub.imeis {
            let seen = device_seen.entry(imei.as_str()).or_insert(sub.last_seen.as_str());
            *seen = (*seen).max(sub.last_seen.as_str());
        }
    }
    for dev in devices {
        let at = device_seen.get(dev.imei.as_str()).copied().unwrap_or(fallback_at);
        out.push(&format!("dev:{}", dev.imei), at, EventBody::Device { device: dev.clone() });
    }
    out.events
}

/// The latest capture time a report names (gateways' `last_seen`,
/// subscribers' `last_seen`): the `fallback_at` to give
/// [`events_from_report`] so that its output depends on the capture alone.
/// `None` when the report names no time.
pub fn capture_end(report: &AnalysisReport) -> Option<&str> {
    let gateways = report.gateways.iter().filter_map(|g| g.last_seen.as_deref());
    let subscribers = report.subscribers.iter().map(|s| s.last_seen.as_str());
    gateways.chain(subscribers).filter(|t| !t.is_empty()).max()
}

/// Whether [`events_from_report`] sends a gateway: see its docs.
fn gateway_is_sent(gw: &GatewayReport) -> bool {
    gw.verdict != Verdict::Clean
        || gw.imeis.iter().chain(&gw.iccids).any(|i| i.valid)
        || gw
            .imsis
            .iter()
            .any(|l| l.valid && (l.sources.iter().any(|s| s == link_source::CONTROL_PLANE) || l.calls_matched > 0))
}

fn gateway_events(out: &mut EventList, gw: &GatewayReport, fallback_at: &str) {
    let addr = gw.address.as_str();
    let detected_at =
        gw.detected_at.as_deref().or(gw.last_seen.as_deref()).or(gw.first_seen.as_deref()).unwrap_or(fallback_at);
    let linked_at =
        gw.last_seen.as_deref().or(gw.detected_at.as_deref()).or(gw.first_seen.as_deref()).unwrap_or(fallback_at);
    let mut detection = gw.clone();
    detection.call_log = Vec::new();
    out.push(&format!("gw:{addr}"), detected_at, EventBody::Detection { gateway: Box::new(detection) });

    let mut links: Vec<LinkObservation> = Vec::new();
    let control_plane = [(LinkKind::Imei, &gw.imeis), (LinkKind::Iccid, &gw.iccids)];
    for (kind, list) in control_plane {
        for ident in list.iter().filter(|i| i.valid) {
            links.push(LinkObservation {
                gateway: gw.address.clone(),
                kind,
                value: ident.value.clone(),
                source: LinkSource::ControlPlane,
                confidence: 1.0,
                calls_matched: 0,
            });
        }
    }
    // A SIM can be both announced and call-matched: one link per source.
    // One IMEI link per device, however many of its SIMs were matched (a
    // module rotating SIMs): its calls add up, its confidence is the best.
    let mut imei_links: BTreeMap<&str, LinkObservation> = BTreeMap::new();
    for l in gw.imsis.iter().filter(|l| l.valid) {
        if l.sources.iter().any(|s| s == link_source::CONTROL_PLANE) {
            links.push(LinkObservation {
                gateway: gw.address.clone(),
                kind: LinkKind::Imsi,
                value: l.imsi.clone(),
                source: LinkSource::ControlPlane,
                confidence: 1.0,
                calls_matched: 0,
            });
        }
        if l.calls_matched == 0 {
            continue;
        }
        let call_confidence = crate::report::call_match_confidence(l.calls_matched, l.calls_ambiguous);
        links.push(LinkObservation {
            gateway: gw.address.clone(),
            kind: LinkKind::Imsi,
            value: l.imsi.clone(),
            source: LinkSource::CallMatch,
            confidence: call_confidence,
            calls_matched: l.calls_matched,
        });
        if let Some(imei) = l.imei.as_deref().filter(|i| !i.is_empty()) {
            let entry = imei_links.entry(imei).or_insert_with(|| LinkObservation {
                gateway: gw.address.clone(),
                kind: LinkKind::Imei,
                value: imei.to_string(),
                source: LinkSource::CallMatch,
                confidence: 0.0,
                calls_matched: 0,
            });
            entry.confidence = entry.confidence.max(call_confidence);
            entry.calls_matched += l.calls_matched;
        }
    }
    links.extend(imei_links.into_values());
    links.sort_by(|a, b| (a.kind, &a.value, a.source).cmp(&(b.kind, &b.value, b.source)));
    for link in links {
        let source = match link.source {
            LinkSource::ControlPlane => "control_plane",
            LinkSource::CallMatch => "call_match",
        };
        let id = format!("link:{addr}:{}:{}:{source}", link.kind.as_str(), link.value);
        out.push(&id, linked_at, EventBody::Link(link));
    }

    for (n, chunk) in gw.call_log.chunks(MAX_CALLS_PER_EVENT).enumerate() {
        let at = chunk.last().map(|c| c.start.as_str()).filter(|s| !s.is_empty()).unwrap_or(linked_at);
        let body = EventBody::Calls { gateway: gw.address.clone(), calls: chunk.to_vec() };
        out.push(&format!("calls:{addr}:{n}"), at, body);
    }
}

/// Events under construction, each id prefixed with the source and kept once.
struct EventList {
    prefix: String,
    seen: std::collections::HashSet<String>,
    events: Vec<Event>,
}

impl EventList {
    fn new(source: &str) -> EventList {
        let prefix: String = source.chars().take(SOURCE_ID_CHARS).collect();
        EventList { prefix, seen: std::collections::HashSet::new(), events: Vec::new() }
    }

    /// Adds an event unless one with the same id is already there.
    fn push(&mut self, entity: &str, at: &str, body: EventBody) {
        let id = bounded_id(format!("{}:{entity}", self.prefix));
        if self.seen.insert(id.clone()) {
            self.events.push(Event { id, at: at.to_string(), body });
        }
    }
}

/// `id` itself when it fits [`MAX_EVENT_ID_LEN`]; else its head and `~` and
/// the FNV-1a hash of the whole (a hash keeps no-I/O `shared` free of a
/// crypto dependency; clashes would need two absurd ids sharing a head).
fn bounded_id(id: String) -> String {
    if id.len() <= MAX_EVENT_ID_LEN {
        return id;
    }
    let hash =
        id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    let tail = format!("~{hash:016x}");
    let mut cut = MAX_EVENT_ID_LEN - tail.len();
    while !id.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{tail}", &id[..cut])
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::report::{IdentityReport, SimLink};

    const SOURCE: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const FALLBACK: &str = "2026-11-01T00:10:00.000000Z";

    fn gateway(address: &str, verdict: Verdict) -> GatewayReport {
        GatewayReport {
            address: address.into(),
            verdict,
            first_seen: Some("2026-11-01T00:00:01.000000Z".into()),
            last_seen: Some("2026-11-01T00:05:00.000000Z".into()),
            ..GatewayReport::default()
        }
    }

    fn identity(value: &str, valid: bool) -> IdentityReport {
        IdentityReport {
            value: value.into(),
            valid,
            channel: Some("1".into()),
            occurrences: 1,
            frames: vec![],
            file: None,
        }
    }

    /// A SIM the control plane announced.
    fn announced(imsi: &str, valid: bool) -> SimLink {
        SimLink {
            imsi: imsi.into(),
            confidence: if valid { 1.0 } else { 0.0 },
            sources: vec![link_source::CONTROL_PLANE.into()],
            valid,
            channel: Some("1".into()),
            imei: None,
            calls_matched: 0,
            calls_ambiguous: 0,
            occurrences: 1,
            frames: vec![],
            sip_frames: vec![],
            gsm_frames: vec![],
            file: None,
        }
    }

    /// A SIM tied by `matched` calls.
    fn link(imsi: &str, imei: Option<&str>, matched: u64) -> SimLink {
        SimLink {
            confidence: call_match_confidence_for_test(matched),
            sources: vec![link_source::CALL_MATCH.into()],
            imei: imei.map(Into::into),
            calls_matched: matched,
            channel: None,
            ..announced(imsi, true)
        }
    }

    fn call_match_confidence_for_test(matched: u64) -> f64 {
        crate::report::call_match_confidence(matched, 0)
    }

    fn calls(n: usize) -> Vec<CallObservation> {
        (0..n)
            .map(|i| CallObservation {
                called: format!("138{i:08}"),
                calling: None,
                start: format!("2026-11-01T00:{:02}:{:02}.000000Z", i / 60 % 60, i % 60),
                direction: Direction::In,
                answered: i % 2 == 0,
            })
            .collect()
    }

    fn subscriber(imsi: &str, imeis: &[&str], last_seen: &str) -> SubscriberReport {
        SubscriberReport {
            imsi: imsi.into(),
            tmsis: vec![],
            location_areas: vec![],
            imeis: imeis.iter().map(|s| s.to_string()).collect(),
            attaches: 1,
            location_updates: 1,
            detaches: 0,
            setups: 0,
            distinct_called: 0,
            paging_responses: 0,
            flags: vec![],
            first_seen: "2026-11-01T00:00:00.000000Z".into(),
            last_seen: last_seen.into(),
        }
    }

    fn report(gateways: Vec<GatewayReport>) -> AnalysisReport {
        AnalysisReport {
            schema: 1,
            probe_version: "0.1.0".into(),
            signatures_version: "1".into(),
            files: vec![],
            packets: 0,
            bytes: 0,
            decode_errors: BTreeMap::new(),
            limits: BTreeMap::new(),
            sip: Default::default(),
            rtp: Default::default(),
            cell: Default::default(),
            cell_messages: BTreeMap::new(),
            cells: vec![],
            subscribers: vec![],
            devices: vec![],
            gateways,
        }
    }

    /// A report with one of everything: a SIM box with identities, links and
    /// calls, a suspect, clean hosts (one tied to a SIM), and the cell side.
    fn full_report() -> AnalysisReport {
        let mut simbox = gateway("192.0.2.10", Verdict::Simbox);
        simbox.detected_at = Some("2026-11-01T00:02:00.000000Z".into());
        // One SIM both announced and call-matched, one call-matched, one linked by no call.
        let mut both = link("460001234567890", Some("49015420323751"), 3);
        both.sources.insert(0, link_source::CONTROL_PLANE.into());
        both.confidence = 1.0;
        simbox.imsis = vec![
            both,
            announced("46000BAD", false),
            link("460001234567891", Some("49015420323751"), 2),
            link("460001234567892", None, 0),
        ];
        simbox.imeis = vec![identity("490154203237518", true)];
        simbox.iccids = vec![identity("89860012345678901234", true)];
        simbox.call_log = calls(2_500);
        let mut suspect = gateway("2001:db8::7", Verdict::Suspect);
        suspect.call_log = calls(3);
        let mut tied = gateway("198.51.100.9", Verdict::Clean);
        tied.imsis = vec![link("460009999999999", None, 1)];
        let mut phone = gateway("198.51.100.77", Verdict::Clean);
        phone.call_log = calls(10);
        phone.imsis = vec![announced("46000BAD", false)];
        let mut r = report(vec![simbox, suspect, tied, phone]);
        r.cells = vec![CellSeen { mcc: 460, mnc: 0, lac: 0x1234, cell_id: 42, arfcn: 17 }];
        r.subscribers = vec![
            subscriber("460001234567890", &["49015420323751"], "2026-11-01T00:04:00.000000Z"),
            subscriber("460001234567891", &["49015420323751"], "2026-11-01T00:06:00.000000Z"),
        ];
        r.devices = vec![DeviceReport {
            imei: "49015420323751".into(),
            tac: "49015420".into(),
            imsis: vec!["460001234567890".into(), "460001234567891".into()],
            luhn_valid: None,
            flags: vec!["sim_rotation".into()],
        }];
        r
    }

    fn ids(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn same_report_and_source_give_the_same_events() {
        let r = full_report();
        let a = events_from_report(&r, SOURCE, FALLBACK);
        let b = events_from_report(&r.clone(), SOURCE, FALLBACK);
        assert_eq!(a, b);
        let other = events_from_report(&r, "fedcba9876543210ffff", FALLBACK);
        assert_eq!(a.len(), other.len());
        for (x, y) in a.iter().zip(&other) {
            assert!(x.id.starts_with("0123456789abcdef:"), "{}", x.id);
            assert!(y.id.starts_with("fedcba9876543210:"), "{}", y.id);
            assert_eq!(x.id[SOURCE_ID_CHARS..], y.id[SOURCE_ID_CHARS..]);
        }
    }

    #[test]
    fn the_reports_order_does_not_matter() {
        // Regression: the analyser's gateway order (by score) varied between
        // runs on the same capture, and with it the events' order and batches.
        let r = full_report();
        let expected = events_from_report(&r, SOURCE, FALLBACK);
        let mut shuffled = r.clone();
        shuffled.gateways.reverse();
        shuffled.subscribers.reverse();
        let events = events_from_report(&shuffled, SOURCE, FALLBACK);
        assert!(events == expected, "{:#?}", ids(&events));
        // Within a gateway, links come in one order too (the detection body
        // is the report's own and keeps its order).
        shuffled.gateways[3].imsis.reverse();
        shuffled.gateways[3].imeis.reverse();
        assert_eq!(shuffled.gateways[3].address, "192.0.2.10");
        assert_eq!(ids(&events_from_report(&shuffled, SOURCE, FALLBACK)), ids(&expected));
    }

    #[test]
    fn ids_are_unique_and_bounded() {
        let mut r = full_report();
        // The same entities listed twice are still sent once.
        let dup = r.gateways[0].clone();
        r.gateways.push(dup);
        let sub = r.subscribers[0].clone();
        r.subscribers.push(sub);
        let events = events_from_report(&r, SOURCE, FALLBACK);
        let unique: HashSet<&str> = ids(&events).into_iter().collect();
        assert_eq!(unique.len(), events.len(), "{:#?}", ids(&events));
        assert!(events.iter().all(|e| e.id.len() <= MAX_EVENT_ID_LEN));
        assert_eq!(
            events_from_report(&r, SOURCE, FALLBACK).len(),
            events_from_report(&full_report(), SOURCE, FALLBACK).len()
        );
    }

    #[test]
    fn expected_ids_in_order() {
        let events = events_from_report(&full_report(), SOURCE, FALLBACK);
        let p = "0123456789abcdef";
        let expected: Vec<String> = [
            "gw:192.0.2.10",
            "link:192.0.2.10:imsi:460001234567890:control_plane",
            "link:192.0.2.10:imsi:460001234567890:call_match",
            "link:192.0.2.10:imsi:460001234567891:call_match",
            "link:192.0.2.10:imei:49015420323751:call_match",
            "link:192.0.2.10:imei:490154203237518:control_plane",
            "link:192.0.2.10:iccid:89860012345678901234:control_plane",
            "calls:192.0.2.10:0",
            "calls:192.0.2.10:1",
            "calls:192.0.2.10:2",
            "gw:198.51.100.9",
            "link:198.51.100.9:imsi:460009999999999:call_match",
            "gw:2001:db8::7",
            "calls:2001:db8::7:0",
            "cell:460-0-4660-42-17",
            "sub:460001234567890",
            "sub:460001234567891",
            "dev:49015420323751",
        ]
        .iter()
        .map(|e| format!("{p}:{e}"))
        .collect();
        assert_eq!(ids(&events), expected);
    }

    #[test]
    fn clean_hosts_without_sims_are_not_sent() {
        let mut gateways: Vec<GatewayReport> =
            (0..500).map(|i| gateway(&format!("10.0.{}.{}", i / 250, i % 250), Verdict::Clean)).collect();
        for g in &mut gateways {
            g.call_log = calls(5);
            g.imsis = vec![announced("123", false), link("460001234567890", None, 0)];
        }
        gateways.push(gateway("192.0.2.10", Verdict::Simbox));
        let events = events_from_report(&report(gateways), SOURCE, FALLBACK);
        assert_eq!(ids(&events), vec!["0123456789abcdef:gw:192.0.2.10"]);
    }

    #[test]
    fn calls_are_chunked_and_left_out_of_the_detection() {
        let events = events_from_report(&full_report(), SOURCE, FALLBACK);
        let EventBody::Detection { gateway } = &events[0].body else { panic!("{:?}", events[0]) };
        assert!(gateway.call_log.is_empty());
        assert_eq!(gateway.imsis.len(), 4, "the detection keeps the rest of the report");
        let chunks: Vec<&Vec<CallObservation>> = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Calls { gateway, calls } if gateway == "192.0.2.10" => Some(calls),
                _ => None,
            })
            .collect();
        assert_eq!(chunks.iter().map(|c| c.len()).collect::<Vec<_>>(), vec![1_000, 1_000, 500]);
        let all: Vec<CallObservation> = chunks.into_iter().flatten().cloned().collect();
        assert_eq!(all, full_report().gateways[0].call_log, "every call once, in order");
        // A chunk happened when its last call started.
        let last = events.iter().find(|e| e.id.ends_with(":calls:192.0.2.10:0")).unwrap();
        assert_eq!(last.at, calls(1_000)[999].start);
    }

    #[test]
    fn links_carry_their_source_and_confidence() {
        let events = events_from_report(&full_report(), SOURCE, FALLBACK);
        let links: Vec<&LinkObservation> = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Link(l) => Some(l),
                _ => None,
            })
            .collect();
        // Invalid identities and a match with no matched call are left out.
        assert!(links.iter().all(|l| l.value != "46000BAD" && l.value != "460001234567892"));
        let cp: Vec<_> = links.iter().filter(|l| l.source == LinkSource::ControlPlane).collect();
        assert_eq!(cp.len(), 3);
        assert!(cp.iter().all(|l| l.confidence == 1.0 && l.calls_matched == 0));
        let imsi = links.iter().find(|l| l.source == LinkSource::CallMatch && l.value == "460001234567890").unwrap();
        assert_eq!((imsi.kind, imsi.confidence, imsi.calls_matched), (LinkKind::Imsi, 0.75, 3));
        let imei = links.iter().find(|l| l.kind == LinkKind::Imei && l.source == LinkSource::CallMatch).unwrap();
        assert_eq!((imei.value.as_str(), imei.confidence, imei.calls_matched), ("49015420323751", 0.75, 5));
    }

    #[test]
    fn times_come_from_the_entities() {
        let events = events_from_report(&full_report(), SOURCE, FALLBACK);
        let at = |suffix: &str| events.iter().find(|e| e.id.ends_with(suffix)).unwrap().at.as_str();
        assert_eq!(at(":gw:192.0.2.10"), "2026-11-01T00:02:00.000000Z", "detected_at");
        assert_eq!(at(":gw:2001:db8::7"), "2026-11-01T00:05:00.000000Z", "last_seen when never detected");
        assert_eq!(at(":link:192.0.2.10:imsi:460001234567890:control_plane"), "2026-11-01T00:05:00.000000Z");
        assert_eq!(at(":cell:460-0-4660-42-17"), FALLBACK);
        assert_eq!(at(":sub:460001234567890"), "2026-11-01T00:04:00.000000Z");
        assert_eq!(at(":dev:49015420323751"), "2026-11-01T00:06:00.000000Z", "its latest subscriber");
        let mut bare = gateway("192.0.2.1", Verdict::Simbox);
        bare.first_seen = None;
        bare.last_seen = None;
        let events = events_from_report(&report(vec![bare]), SOURCE, FALLBACK);
        assert_eq!(events[0].at, FALLBACK);
        assert_eq!(capture_end(&full_report()), Some("2026-11-01T00:06:00.000000Z"));
        assert_eq!(capture_end(&report(vec![])), None);
    }

    #[test]
    fn overlong_ids_are_cut_and_stay_unique() {
        let a = bounded_id(format!("{}a", "x".repeat(300)));
        let b = bounded_id(format!("{}b", "x".repeat(300)));
        assert!(a.len() <= MAX_EVENT_ID_LEN && b.len() <= MAX_EVENT_ID_LEN);
        assert_ne!(a, b);
        assert_eq!(a, bounded_id(format!("{}a", "x".repeat(300))));
        let short = "abc:gw:1.2.3.4".to_string();
        assert_eq!(bounded_id(short.clone()), short);
        // Multi-byte characters are never split.
        let wide = bounded_id("é".repeat(150));
        assert!(wide.len() <= MAX_EVENT_ID_LEN);
    }

    #[test]
    fn events_round_trip_through_json() {
        let events = events_from_report(&full_report(), SOURCE, FALLBACK);
        let batch = Batch { schema: EVENTS_SCHEMA_VERSION, probe_version: "0.1.0".into(), events };
        let json = serde_json::to_string(&batch).unwrap();
        let back: Batch = serde_json::from_str(&json).unwrap();
        assert_eq!(back, batch);
    }
}
