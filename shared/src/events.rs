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

use crate::report::{CellSeen, DeviceReport, GatewayReport, SubscriberReport};

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
