//! Probe reports into the store: decoding, validating and storing the
//! batches of `POST /api/v1/reports` (SPEC 4.2 "Ingest"; wire types in
//! `duanka_shared::events`).
//!
//! Three steps, each usable alone (the HTTP route in `server::ingest` runs
//! them in order; the correlation benchmark calls [`store_batch`] directly):
//!
//! 1. [`decode_batch`]: JSON bytes → [`Batch`]. Refuses a schema version
//!    other than [`EVENTS_SCHEMA_VERSION`], more than [`MAX_EVENTS_PER_BATCH`]
//!    events, and any event that does not fit the wire types, naming the
//!    first bad event's index and the field path
//!    (`events[17].gateway.verdict: unknown variant "x", …`).
//! 2. [`check_batch`] (called by [`store_batch`]): what the types cannot say —
//!    event ids non-empty and at most [`MAX_EVENT_ID_LEN`] bytes, times in
//!    RFC 3339, identities of the right form (IMSI, IMEI, ICCID validated with
//!    `duanka_shared::ids`), gateway addresses that are IP addresses,
//!    confidences in 0..=1.
//! 3. [`store_batch`]: the whole batch in one transaction, stored whole or
//!    not at all. Idempotent per `(probe, event id)`: an event already stored
//!    is counted as a duplicate and its effects are not applied again, so a
//!    batch resent after a lost acknowledgement changes nothing.
//!
//! Effects per event kind (times are the event's, Unix ms):
//! - `detection` → `gateways` upsert by `(probe, address)`: the latest report
//!   received wins (verdict, score, vendor, `report_json`); the seen range
//!   only widens; `detected_at` keeps the earliest detection. Its `call_log`
//!   goes to `gateway_calls` as `calls` events do.
//! - `calls` → `gateway_calls` (one row per gateway, called number and start;
//!   `answered` only turns on). A gateway not yet known is created with
//!   verdict `clean`, score 0 and `report_json` `{}` until a detection comes.
//! - `link` → `gateway_links` upsert: highest confidence and matched-call
//!   count, widest seen range (the gateway is created as for `calls`).
//! - `subscriber`, `device` → upsert by IMSI / IMEI: the latest report wins,
//!   the seen range widens, and the lists of IMEIs / IMSIs and flags
//!   accumulate (a SIM box shows itself by rotation over time).
//! - `cell` → upsert by `(probe, mcc, mnc, lac, cell)`, latest ARFCN.
//! - `heartbeat` → `probes.heartbeat_json` as `{"at", "at_ms", "heartbeat"}`,
//!   unless a later heartbeat is already stored.
//! - `alarm` → a row in `alarms`.
//!
//! Every stored batch also moves `probes.last_seen_at` to the time of storing.

mod check;
mod decode;
mod write;

pub use check::{check_batch, BodyTimes, CheckedEvent};
pub use decode::decode_batch;
pub use duanka_shared::events::{Batch, EVENTS_SCHEMA_VERSION, MAX_EVENT_ID_LEN};
pub use write::store_batch;

use crate::store::StoreError;

/// Largest request body `POST /api/v1/reports` reads, in bytes (16 MiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Most events one batch may hold.
pub const MAX_EVENTS_PER_BATCH: usize = 5_000;

/// Longest dialled number accepted in a call, in bytes.
pub const MAX_NUMBER_LEN: usize = 64;

/// Longest alarm kind, in bytes.
pub const MAX_ALARM_KIND_LEN: usize = 64;

/// What storing a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Events stored for the first time.
    pub accepted: usize,
    /// Events already stored before (their effects were not applied again).
    pub duplicates: usize,
    /// `gateways.id` of every gateway a new event created or changed, sorted,
    /// each once: where correlation has to look again.
    pub gateways: Vec<i64>,
}

/// Why a batch was refused or could not be stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("request body is larger than {max} bytes")]
    BodyTooLarge {
        /// The limit.
        max: usize,
    },
    /// The batch holds more than [`MAX_EVENTS_PER_BATCH`] events.
    #[error("batch has {count} events; at most {max} are accepted per batch (send smaller batches)")]
    TooManyEvents {
        /// Events in the batch.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The batch's `schema` is not [`EVENTS_SCHEMA_VERSION`].
    #[error("unsupported event schema version {found}; this agent accepts version {expected}")]
    UnsupportedVersion {
        /// What the batch said.
        found: u64,
        /// What this agent speaks.
        expected: u32,
    },
    /// The body is not JSON of the batch's shape; the message names the path.
    #[error("{0}")]
    Malformed(String),
    /// An event has the right shape but a wrong value.
    #[error("events[{index}].{path}: {message}")]
    Invalid {
        /// The event's position in the batch, from 0.
        index: usize,
        /// The field's path inside the event (`value`, `calls[2].start`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The probe the batch is stored for does not exist.
    #[error("no probe with id {0}")]
    UnknownProbe(i64),
    /// A bug in the agent, caught before anything was stored.
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// The store failed; nothing was stored.
    #[error("storing the batch: {0}")]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for IngestError {
    fn from(e: rusqlite::Error) -> Self {
        IngestError::Store(StoreError::Sqlite(e))
    }
}

impl IngestError {
    /// Whether the sender is at fault (a 4xx), rather than the agent.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, IngestError::Store(_) | IngestError::UnknownProbe(_) | IngestError::Internal(_))
    }
}
