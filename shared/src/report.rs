//! The analysis report: gateways, their verdicts and the evidence behind them.
//!
//! Produced by `duanka-probe analyze` (as JSON with `--json`) and, later, sent
//! to the agent inside report batches. Every verdict is explained: a gateway's
//! score is the sum of the weights of its counted evidence items, and each
//! item names the signature or feature, the observed value and the frames it
//! came from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of this report's schema; bumped when a field changes meaning.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// The verdict on one address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Score below the suspect threshold.
    #[default]
    Clean,
    /// Score at or above the suspect threshold, below the SIM-box threshold.
    Suspect,
    /// Score at or above the SIM-box threshold.
    Simbox,
}

impl Verdict {
    /// The lowercase name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Suspect => "suspect",
            Verdict::Simbox => "simbox",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of thing produced an evidence item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceKind {
    /// A fingerprint from the signature database matched.
    Signature,
    /// A behaviour feature crossed its threshold.
    Feature,
}

/// One piece of evidence about a gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Signature or feature.
    pub kind: EvidenceKind,
    /// The signature or feature id, e.g. `goip.user_agent.dble`.
    pub id: String,
    /// Log-odds weight this item adds to the score when counted.
    pub weight: f64,
    /// Human-readable explanation.
    pub detail: String,
    /// The value observed on the wire (header value, SDP line, figure).
    pub observed: String,
    /// The rule the value met: a pattern or a threshold.
    pub threshold: String,
    /// Vendor the signature points at, if any.
    pub vendor: Option<String>,
    /// Whether the weight went into the score; false when a stronger item of
    /// the same group already counted.
    pub counted: bool,
    /// How many messages showed this evidence.
    pub occurrences: u64,
    /// Frame numbers (1-based, as Wireshark shows them) of the first messages
    /// that showed it, in `file`.
    pub frames: Vec<u64>,
    /// The capture file the frame numbers refer to.
    pub file: Option<String>,
}

/// Everything known about one address that sent or received a SIP request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GatewayReport {
    /// The IP address (v4 or v6) as text.
    pub address: String,
    /// The verdict from the score and the configured thresholds.
    pub verdict: Verdict,
    /// Sum of the weights of the counted evidence.
    pub score: f64,
    /// Best vendor guess, from the evidence with the most weight.
    pub vendor: Option<String>,
    /// SIP accounts (user@host) registered from or calling from this address.
    pub accounts: Vec<String>,
    /// Calls this address took part in (as caller or callee).
    pub calls: u64,
    /// Calls received (INVITEs sent to this address).
    pub calls_in: u64,
    /// Calls placed (INVITEs sent by this address).
    pub calls_out: u64,
    /// Calls that were answered (2xx to the INVITE).
    pub calls_answered: u64,
    /// REGISTER requests sent.
    pub registrations: u64,
    /// Registration expiry values the address asked for (seconds).
    pub register_expires: Vec<u32>,
    /// OPTIONS requests sent (keep-alives).
    pub options_sent: u64,
    /// SIP requests sent by this address.
    pub requests_sent: u64,
    /// SIP requests received by this address.
    pub requests_received: u64,
    /// Distinct User-Agent / Server values sent.
    pub user_agents: Vec<String>,
    /// Local SIP ports the address used.
    pub sip_ports: Vec<u16>,
    /// First SIP message time, RFC 3339 (capture time).
    pub first_seen: Option<String>,
    /// Last SIP message time, RFC 3339 (capture time).
    pub last_seen: Option<String>,
    /// Capture time its score first reached the SIM-box threshold, RFC 3339
    /// (online detection: as the capture played); null if it never did.
    pub detected_at: Option<String>,
    /// Capture time of its first call (INVITE sent or received), RFC 3339.
    pub first_call_at: Option<String>,
    /// Seconds from its first call to its detection.
    pub detection_latency_s: Option<f64>,
    /// Its call behaviour in figures.
    pub behaviour: BehaviourSummary,
    /// SIM cards (IMSIs) linked to it: announced by its GoIP control plane,
    /// or found by matching its SIP calls with cell-side call set-ups (or
    /// both), most confident first.
    pub imsis: Vec<SimLink>,
    /// Module identities (IMEI) its GoIP control plane announced.
    pub imeis: Vec<IdentityReport>,
    /// SIM card numbers (ICCID) its GoIP control plane announced.
    pub iccids: Vec<IdentityReport>,
    /// Its RTP media as a sender.
    pub rtp: RtpSummary,
    /// Its lines: SIP accounts it registers (`sip:user@host`) and GoIP
    /// channels its control plane reports calls on (`goip:<channel>`).
    pub lines: Vec<LineReport>,
    /// Its SIP calls, one row each (called number, start, direction), for
    /// matching against carrier CDRs at the agent; capped per gateway
    /// (the cap is counted under `limits.call_log`).
    #[serde(default)]
    pub call_log: Vec<crate::events::CallObservation>,
    /// GoIP SMS-server keep-alives it sent.
    pub goip_keepalives: u64,
    /// Remote SIM-bank packets it exchanged.
    pub simbank_packets: u64,
    /// The evidence, strongest first.
    pub evidence: Vec<Evidence>,
}

/// One identity seen on the wire, with where it was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityReport {
    /// The digits as sent.
    pub value: String,
    /// Whether it passed validation (length, digits, check digit).
    pub valid: bool,
    /// The gateway channel (line) that announced it, if known.
    pub channel: Option<String>,
    /// Messages that carried it.
    pub occurrences: u64,
    /// First frames that carried it, in `file`.
    pub frames: Vec<u64>,
    /// The capture file of those frames.
    pub file: Option<String>,
}

/// An address's call behaviour in figures (calls it received, unless named otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BehaviourSummary {
    /// Ended calls it received.
    pub calls_terminated: u64,
    /// Ended calls it placed.
    pub calls_originated: u64,
    /// Answered share of received calls.
    pub answer_ratio: Option<f64>,
    /// Median talk time of answered received calls, seconds.
    pub median_talk_s: Option<f64>,
    /// Mean talk time of answered received calls, seconds.
    pub mean_talk_s: Option<f64>,
    /// Distinct numbers dialled through it, per received call.
    pub distinct_callees_per_call: Option<f64>,
    /// Share of dialled numbers that are domestic mobiles.
    pub domestic_mobile_share: Option<f64>,
    /// Share of received calls from outside the home networks (when configured).
    pub foreign_peer_share: Option<f64>,
    /// Most calls in progress at once.
    pub peak_concurrent_calls: u32,
    /// Mean registration refresh interval, seconds.
    pub mean_refresh_s: Option<f64>,
    /// Mean interval between OPTIONS keep-alives it sent, seconds.
    pub options_interval_s: Option<f64>,
    /// Mean idle time between consecutive calls on one of its lines, seconds.
    pub mean_line_idle_gap_s: Option<f64>,
}

/// How a SIM was tied to a gateway.
pub mod link_source {
    /// The gateway's GoIP control plane announced it (keep-alive).
    pub const CONTROL_PLANE: &str = "control_plane";
    /// Its SIP calls matched the SIM's GSM call set-ups.
    pub const CALL_MATCH: &str = "call_match";
}

/// Confidence of a link from `matched` calls matched one to one and
/// `ambiguous` calls another SIM fitted as well: the share of clean matches,
/// damped for few calls, `n/(n+a) · n/(n+1)`, rounded to 3 places. The probe
/// (SIP ↔ GSM) and the agent (SIP ↔ CDR) both use it.
pub fn call_match_confidence(matched: u64, ambiguous: u64) -> f64 {
    if matched == 0 {
        return 0.0;
    }
    let (n, a) = (matched as f64, ambiguous as f64);
    (n / (n + a) * n / (n + 1.0) * 1000.0).round() / 1000.0
}

/// A SIM (IMSI) tied to a gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimLink {
    /// The SIM's IMSI.
    pub imsi: String,
    /// How sure the link is, 0..=1: 1 for a valid IMSI the gateway announced
    /// itself; for call matching, matched / (matched + ambiguous) damped for
    /// few calls (n / (n + 1)); the larger when both apply.
    pub confidence: f64,
    /// `control_plane`, `call_match` (see [`link_source`]).
    pub sources: Vec<String>,
    /// Whether the IMSI is well formed (15 digits).
    pub valid: bool,
    /// The gateway channel (line) that announced it, if known.
    pub channel: Option<String>,
    /// The device (IMEI) seen with it on the cell side, if any.
    pub imei: Option<String>,
    /// Calls matched one to one (SIP INVITE ↔ GSM CC Setup).
    pub calls_matched: u64,
    /// Calls where another SIM fitted as well (not counted as matches).
    pub calls_ambiguous: u64,
    /// Control-plane messages that carried it.
    pub occurrences: u64,
    /// First control-plane frames that carried it.
    pub frames: Vec<u64>,
    /// Frames of the first matched SIP INVITEs.
    pub sip_frames: Vec<u64>,
    /// Frames of the GSM CC Setups they matched.
    pub gsm_frames: Vec<u64>,
    /// The capture file of those frames.
    pub file: Option<String>,
}

/// The cell side of the input (GSMTAP) in totals; what it showed is in the
/// report's top-level `cell_messages`, `cells`, `subscribers` and `devices`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CellReport {
    /// GSMTAP datagrams read.
    pub gsmtap_packets: u64,
    /// Filler blocks (padding, dummy paging, LAPDm fill).
    pub filler: u64,
    /// Problems by kind.
    pub errors: BTreeMap<String, u64>,
    /// Calls set up on the cell side.
    pub setups: u64,
}

/// A cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSeen {
    /// Mobile country code.
    pub mcc: u16,
    /// Mobile network code.
    pub mnc: u16,
    /// Location area code.
    pub lac: u16,
    /// Cell identity.
    pub cell_id: u16,
    /// ARFCN it was heard on.
    pub arfcn: u16,
}

/// One SIM on the cell side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriberReport {
    /// IMSI.
    pub imsi: String,
    /// TMSIs that stood for it, hex.
    pub tmsis: Vec<String>,
    /// Location areas it updated in (`mcc-mnc-lac`).
    pub location_areas: Vec<String>,
    /// IMEIs seen with it.
    pub imeis: Vec<String>,
    /// IMSI attaches.
    pub attaches: u64,
    /// Location updates of any type.
    pub location_updates: u64,
    /// IMSI detaches.
    pub detaches: u64,
    /// Calls it set up.
    pub setups: u64,
    /// Distinct numbers it called.
    pub distinct_called: u64,
    /// Pages it answered.
    #[serde(default)]
    pub paging_responses: u64,
    /// Signs of a SIM box: `attach_cohort`, `detach_cohort`, `stationary`,
    /// `originating_only_many_callees`, `many_imeis`.
    #[serde(default)]
    pub flags: Vec<String>,
    /// First seen, RFC 3339.
    pub first_seen: String,
    /// Last seen, RFC 3339.
    pub last_seen: String,
}

/// One device on the cell side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceReport {
    /// IMEI (14 digits as sent over the air, without check digit, or 15).
    pub imei: String,
    /// Type allocation code (first 8 digits).
    pub tac: String,
    /// IMSIs seen with it.
    pub imsis: Vec<String>,
    /// Luhn check of a 15-digit IMEI (None when the check digit was not sent).
    #[serde(default)]
    pub luhn_valid: Option<bool>,
    /// Signs of a SIM box: `sim_rotation` (many IMSIs in one device), `luhn_invalid`.
    #[serde(default)]
    pub flags: Vec<String>,
}

/// One line of a gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineReport {
    /// `sip:user@host` for a registered account, `goip:<channel>` for a GoIP channel.
    pub id: String,
    /// REGISTER requests.
    pub registrations: u64,
    /// Expiry asked for, seconds.
    pub expires: Option<u32>,
    /// Mean registration refresh interval, seconds.
    pub mean_refresh_s: Option<f64>,
    /// Calls the control plane reported on it.
    pub calls: u64,
    /// Mean idle time between its calls, seconds.
    pub mean_idle_gap_s: Option<f64>,
}

/// One input file's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSummary {
    /// The path as given.
    pub path: String,
    /// `pcap` or `pcapng`.
    pub format: String,
    /// Frames read from this file.
    pub frames: u64,
    /// Bytes of the file.
    pub bytes: u64,
    /// Set when the read ended early (cut off or corrupt); results so far kept.
    pub warning: Option<String>,
}

/// SIP totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SipSummary {
    /// SIP messages parsed and tracked (valid ones and `invalid_tracked`).
    pub messages: u64,
    /// Of which requests.
    pub requests: u64,
    /// Of which responses.
    pub responses: u64,
    /// Messages that looked like SIP but failed to parse or validate
    /// (RFC 3261 grammar).
    pub invalid: u64,
    /// Of the invalid ones, those understood well enough to be tracked and
    /// counted in `messages` (e.g. an unbracketed IPv6 host in a URI).
    #[serde(default)]
    pub invalid_tracked: u64,
    /// `invalid` broken down by error kind.
    pub invalid_by_kind: BTreeMap<String, u64>,
    /// Messages carried over TCP.
    pub over_tcp: u64,
    /// Requests by method.
    pub methods: BTreeMap<String, u64>,
    /// Registrations (REGISTER transactions) seen.
    pub registrations: u64,
    /// Calls (INVITE dialogs) seen.
    pub calls: u64,
    /// Calls answered.
    pub calls_answered: u64,
}

/// RTP totals over the input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RtpReport {
    /// Streams (sender, receiver, SSRC).
    pub streams: u64,
    /// Of which announced by SDP.
    pub from_sdp: u64,
    /// Of which linked to a SIP call.
    pub linked_to_calls: u64,
    /// RTP packets.
    pub packets: u64,
    /// Packets lost (RFC 3550 A.3; negative with duplicates).
    pub lost: i64,
    /// Streams with RTCP reports.
    pub streams_with_rtcp: u64,
    /// RFC 4733 events.
    pub dtmf_events: u64,
    /// Streams by codec.
    pub codecs: BTreeMap<String, u64>,
}

/// An address's media as a sender.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RtpSummary {
    /// Streams it sent.
    pub streams: u64,
    /// Of which linked to a SIP call.
    pub linked_to_calls: u64,
    /// RTP packets it sent.
    pub packets: u64,
    /// Packets lost on its streams.
    pub lost: i64,
    /// Mean of its streams' final interarrival jitter, ms.
    pub mean_jitter_ms: Option<f64>,
    /// Largest jitter on any of its streams, ms.
    pub max_jitter_ms: Option<f64>,
    /// Packetisation times used, ms.
    pub ptimes_ms: Vec<f64>,
    /// Codecs used.
    pub codecs: Vec<String>,
    /// Streams that had RTCP reports.
    pub streams_with_rtcp: u64,
    /// RFC 4733 events it sent.
    pub dtmf_events: u64,
    /// Arrival gaps over the silence threshold.
    pub silence_gaps: u64,
}

/// The result of analysing one or more captures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisReport {
    /// Report schema version ([`REPORT_SCHEMA_VERSION`]).
    pub schema: u32,
    /// The probe version that produced it.
    pub probe_version: String,
    /// The signature database version used.
    pub signatures_version: String,
    /// Input files in the order read.
    pub files: Vec<FileSummary>,
    /// Frames read, over all files.
    pub packets: u64,
    /// Bytes of frame data read.
    pub bytes: u64,
    /// Frames or datagrams that could not be decoded, by kind.
    pub decode_errors: BTreeMap<String, u64>,
    /// Times a table hit its size cap, by table.
    pub limits: BTreeMap<String, u64>,
    /// SIP totals.
    pub sip: SipSummary,
    /// RTP totals.
    #[serde(default)]
    pub rtp: RtpReport,
    /// The cell side (GSMTAP) in totals.
    #[serde(default)]
    pub cell: CellReport,
    /// Decoded cell-side messages by type, keyed `<protocol>.<TS 44.018/24.008
    /// name>` in snake case (`rr.paging_request_1`, `mm.location_updating_request`,
    /// `cc.setup`, `nas_eps.attach_request`, …).
    #[serde(default)]
    pub cell_messages: BTreeMap<String, u64>,
    /// Cells heard (System Information).
    #[serde(default)]
    pub cells: Vec<CellSeen>,
    /// SIMs seen on the cell side.
    #[serde(default)]
    pub subscribers: Vec<SubscriberReport>,
    /// Devices (IMEI) seen on the cell side.
    #[serde(default)]
    pub devices: Vec<DeviceReport>,
    /// Every address that sent or received a SIP request, highest score first.
    pub gateways: Vec<GatewayReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_serialises_lowercase() {
        let s = serde_json::to_string(&Verdict::Simbox).unwrap();
        assert_eq!(s, "\"simbox\"");
        let v: Verdict = serde_json::from_str("\"suspect\"").unwrap();
        assert_eq!(v, Verdict::Suspect);
    }

    #[test]
    fn verdicts_order_by_severity() {
        assert!(Verdict::Clean < Verdict::Suspect);
        assert!(Verdict::Suspect < Verdict::Simbox);
    }
}
