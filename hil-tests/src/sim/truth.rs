//! The ground truth of a generated capture: which host is what.
//!
//! Serialised to JSON beside the capture (`duanka-sim generate --truth FILE`), it is
//! the labels file detection quality (SPEC §6: precision/recall on labelled captures) is
//! scored against (`duanka-probe eval --labels FILE`). Every host of the scenario is
//! listed, SIM boxes and hard negatives alike, and the control-plane servers too.
//!
//! # Schema (JSON)
//!
//! ```text
//! {
//!   "seed": 1, "start_unix": 1793583000, "duration_s": 600.0,
//!   "scenario": "basic" | "mixed",
//!   "packets": N, "bytes": N, "sip_messages": N, "rtp_packets": N,
//!   "control_messages": N, "simbank_packets": N,
//!   "fragmented_datagrams": N, "tcp_retransmissions": N,
//!   "gateways": [                      // every host (the name is historical)
//!     {
//!       "address": "198.51.100.10",     // the host's IP address (IPv4 or IPv6 text)
//!       "sip_port": 5060,               // its SIP port; 0 if it speaks no SIP
//!       "role": "goip",                 // coarse role, see Role
//!       "kind": "goip_fingerprinted",   // fine class for per-kind scores, see Kind
//!       "label": "simbox" | "clean",    // what a detector should say
//!       "vendor": "dbl" | "openvox" | "dinstar" | "hypermedia" | null,
//!       "user_agent": "dble" | null,
//!       "lines": 8,                     // SIM channels (gateways), else 0
//!       "accounts": ["goip1_1", ...],   // SIP accounts it registers ([] in trunk mode)
//!       "calls": 123,                   // calls it took part in (INVITEs written)
//!       "first_call_at": 1793590212345678 | null, // first INVITE sent or received, unix µs
//!       "imsis": [...], "imeis": [...], "iccids": [...], // identities its control plane showed
//!       "uses_simbank": false,          // talks to a remote SIM bank (UDP 56011)
//!       "cell": { ... } | null          // gateways with `gsmtap`: the one cell its SIMs sit in
//!     }, ...
//!   ],
//!   // With `gsmtap` (the cell side), otherwise 0 / empty:
//!   "gsmtap_packets": N,                // GSMTAP datagrams (UDP 4729)
//!   "cells": [{ "mcc": "460", "mnc": "00", "lac": 9633, "cell_id": 3133, "arfcns": [17, 21] }],
//!   "links": [{                         // one per gateway call with a GSM leg
//!     "gateway": "198.51.100.10", "line": 0, "imsi": "460…", "imei": "…",
//!     "sip_call_id": "…", "called_number": "13812345678",
//!     "sip_invite_at": 1793583001234567, "gsm_setup_at": 1793583003456789  // unix µs
//!   }],
//!   "handsets": [{ "imsi": "460…", "imei": "…" }]   // ordinary phones (clean)
//! }
//! ```
//!
//! With `gsmtap`, a gateway's `imsis` are every IMSI that sat in it during the capture
//! (its location update is in the capture, or its control plane showed it) and `imeis`
//! every module's IMEI (one per line), whether or not an Identity Response shows it.
//!
//! Fields added after the first version (`kind` aside) default when absent, so older
//! files still parse.

use serde::{Deserialize, Serialize};

/// What a host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A DBL/Hybertone GoIP gateway with its factory fingerprints.
    Goip,
    /// A GoIP whose fingerprints were rewritten: only its behaviour gives it away.
    GoipStripped,
    /// The overseas wholesale softswitch that feeds gateways.
    Softswitch,
    /// An enterprise PBX (phones register to it; it has a SIP trunk).
    Pbx,
    /// A softphone or desk phone.
    Phone,
    /// A call-centre predictive dialler.
    Dialler,
    /// A legitimate carrier's SBC terminating the PBX trunk and the dialler.
    Carrier,
    /// A VoIP provider's registrar/SBC that softphones register to (domestic or foreign).
    Provider,
    /// The GoIP SMS server (UDP 44444) gateways keep alive to.
    SmsServer,
    /// A remote SIM bank server (UDP 56011).
    SimbankServer,
}

/// The fine class of a host, for scores split by kind (SIM-box kinds first, then the
/// fraud infrastructure, then the hard negatives and the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A GSM gateway (any vendor) showing its vendor's SIP fingerprints. Label `simbox`.
    GoipFingerprinted,
    /// A GSM gateway with every fingerprint removed: behaviour only. Label `simbox`.
    GoipStripped,
    /// The overseas wholesale softswitch feeding gateways.
    Softswitch,
    /// The GoIP SMS server gateways' channels keep alive to.
    SmsServer,
    /// A remote SIM bank serving gateways their SIMs.
    SimbankServer,
    /// An enterprise PBX with a carrier trunk, calls both ways, several trunk accounts.
    PbxTrunk,
    /// An enterprise PBX without a trunk (only its phones' calls).
    Pbx,
    /// A desk phone or softphone registered to an enterprise PBX on the LAN.
    PbxPhone,
    /// A call centre's predictive dialler: one trunk, many short outbound calls, few answered.
    CallCentre,
    /// A softphone registered to a domestic hosted-VoIP provider (the bulk of endpoints).
    Softphone,
    /// A lone softphone with its own account at a carrier.
    SingleSoftphone,
    /// A domestic endpoint registered to a foreign SIP provider: a few normal calls to a
    /// few repeated numbers, some calls arriving from abroad.
    OverseasVoip,
    /// A domestic carrier's SBC (trunks, diallers, single accounts).
    Carrier,
    /// A VoIP provider's registrar/SBC (domestic hosted PBX or foreign provider).
    VoipProvider,
}

impl Kind {
    /// Whether hosts of this kind are SIM boxes.
    pub fn is_simbox(self) -> bool {
        matches!(self, Kind::GoipFingerprinted | Kind::GoipStripped)
    }

    /// Whether this kind is part of the fraud set-up without being a SIM box (softswitch,
    /// SMS server, SIM bank): labelled `clean`, but not a benign endpoint either.
    pub fn is_fraud_infrastructure(self) -> bool {
        matches!(self, Kind::Softswitch | Kind::SmsServer | Kind::SimbankServer)
    }
}

impl Role {
    /// Whether this role is a SIM box (the positive class).
    pub fn is_simbox(self) -> bool {
        matches!(self, Role::Goip | Role::GoipStripped)
    }
}

/// The class a detector should put the host in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    Simbox,
    Clean,
}

/// One host of the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthHost {
    /// IP address (the host's SIP source address).
    pub address: String,
    /// Its SIP port; 0 for a host that speaks no SIP (SMS server, SIM bank).
    pub sip_port: u16,
    pub role: Role,
    /// The fine class (scores are split by it).
    pub kind: Kind,
    pub label: Label,
    /// Gateway maker: `dbl` (GoIP, Hybertone; stripped GoIPs too), `openvox`, `dinstar`,
    /// `hypermedia`; `null` for other hosts.
    #[serde(default)]
    pub vendor: Option<String>,
    /// The User-Agent it sends, if any.
    pub user_agent: Option<String>,
    /// SIM lines (gateways only; 0 otherwise).
    pub lines: u32,
    /// SIP accounts it registers.
    pub accounts: Vec<String>,
    /// Calls it took part in that reached the capture (first INVITE written).
    pub calls: u64,
    /// Capture time of the first INVITE it sent or received, Unix microseconds; `None`
    /// if it had no call in the capture.
    #[serde(default)]
    pub first_call_at: Option<u64>,
    /// Every IMSI its GoIP control plane showed in the capture (first appearance order;
    /// more than `lines` when a SIM bank rotated SIMs).
    pub imsis: Vec<String>,
    /// Every IMEI its control plane showed (one per GSM module).
    #[serde(default)]
    pub imeis: Vec<String>,
    /// Every ICCID its control plane showed.
    #[serde(default)]
    pub iccids: Vec<String>,
    /// Whether it takes its SIMs from a remote SIM bank (UDP 56011 in the capture).
    #[serde(default)]
    pub uses_simbank: bool,
    /// With the cell side (`gsmtap`): the cell every SIM of this gateway sits in.
    #[serde(default)]
    pub cell: Option<TruthCell>,
}

/// A GSM cell of the scenario's cell side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthCell {
    /// Mobile country code, 3 digits (`460`).
    pub mcc: String,
    /// Mobile network code, 2 digits (`00` China Mobile, `01` China Unicom).
    pub mnc: String,
    /// Location area code.
    pub lac: u16,
    /// Cell identity.
    pub cell_id: u16,
    /// Its carriers: the BCCH carrier (System Information) first, then the others its
    /// dedicated channels use.
    pub arfcns: Vec<u16>,
}

/// A gateway call with a GSM leg: the SIP INVITE the gateway received and the CC Setup
/// its SIM sent for it. The ground truth for SIP↔SIM link precision and recall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthLink {
    /// The gateway's address (as in `gateways[].address`).
    pub gateway: String,
    /// The gateway channel (0-based) that carried it.
    pub line: u32,
    /// The SIM that placed the GSM call.
    pub imsi: String,
    /// The module (IMEI, 15 digits with the check digit) it sat in.
    pub imei: String,
    /// Call-ID of the SIP call.
    pub sip_call_id: String,
    /// The number the SIM dialled: the Request-URI user without `86`/`+86`.
    pub called_number: String,
    /// Capture time of the call's first INVITE, Unix microseconds.
    pub sip_invite_at: u64,
    /// Capture time of the CC Setup, Unix microseconds (1–5 s after the INVITE).
    pub gsm_setup_at: u64,
}

/// An ordinary phone of the cell side (label `clean`: one IMSI in one handset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthHandset {
    pub imsi: String,
    pub imei: String,
}

/// Ground truth of one generated capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    /// The preset the configuration came from: `basic` or `mixed`.
    #[serde(default)]
    pub scenario: String,
    /// Unix time of the scenario start, seconds.
    pub start_unix: u64,
    /// Time from the start to the last frame, seconds.
    pub duration_s: f64,
    /// Every host, in creation order (the name is kept from the first version).
    pub gateways: Vec<TruthHost>,
    /// Frames in the file.
    pub packets: u64,
    /// Bytes in the file.
    pub bytes: u64,
    /// SIP messages; one split over TCP segments or IP fragments counts once, a TCP
    /// retransmission not again.
    pub sip_messages: u64,
    pub rtp_packets: u64,
    /// GoIP SMS-server protocol datagrams (UDP 44444, both directions).
    #[serde(default)]
    pub control_messages: u64,
    /// SIM-bank datagrams (UDP 56011, both directions).
    #[serde(default)]
    pub simbank_packets: u64,
    /// UDP datagrams written as IPv4 fragments.
    pub fragmented_datagrams: u64,
    pub tcp_retransmissions: u64,
    /// GSMTAP datagrams (UDP 4729), with the cell side on.
    #[serde(default)]
    pub gsmtap_packets: u64,
    /// The cells of the cell side.
    #[serde(default)]
    pub cells: Vec<TruthCell>,
    /// Gateway calls with a GSM leg, in order of their CC Setup.
    #[serde(default)]
    pub links: Vec<TruthLink>,
    /// Ordinary phones on the cell side.
    #[serde(default)]
    pub handsets: Vec<TruthHandset>,
}

impl Truth {
    /// The hosts labelled `simbox`.
    pub fn simboxes(&self) -> impl Iterator<Item = &TruthHost> {
        self.gateways.iter().filter(|h| h.label == Label::Simbox)
    }

    /// The host with this address.
    pub fn host(&self, address: &str) -> Option<&TruthHost> {
        self.gateways.iter().find(|h| h.address == address)
    }

    /// The hosts of this kind.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &TruthHost> {
        self.gateways.iter().filter(move |h| h.kind == kind)
    }
}
