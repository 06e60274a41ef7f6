//! The ground truth of a generated capture: which host is what.
//!
//! Serialised to JSON beside the capture (`duanka-sim generate --truth FILE`), it is
//! what detection quality (SPEC §6: precision/recall on labelled captures) is scored
//! against. Every host that sends SIP is listed, SIM boxes and hard negatives alike.

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
    /// Its SIP port.
    pub sip_port: u16,
    pub role: Role,
    pub label: Label,
    /// The User-Agent it sends, if any.
    pub user_agent: Option<String>,
    /// SIM lines (gateways only; 0 otherwise).
    pub lines: u32,
    /// SIP accounts it registers.
    pub accounts: Vec<String>,
    /// Calls it took part in that reached the capture (first INVITE written).
    pub calls: u64,
    /// IMSIs of its SIMs (reserved: the simulator does not emit cellular data yet).
    pub imsis: Vec<String>,
}

/// Ground truth of one generated capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    /// Unix time of the scenario start, seconds.
    pub start_unix: u64,
    /// Time from the start to the last frame, seconds.
    pub duration_s: f64,
    /// Every host, gateways first (the name is kept from the first version).
    pub gateways: Vec<TruthHost>,
    /// Frames in the file.
    pub packets: u64,
    /// Bytes in the file.
    pub bytes: u64,
    /// SIP messages; one split over TCP segments or IP fragments counts once, a TCP
    /// retransmission not again.
    pub sip_messages: u64,
    pub rtp_packets: u64,
    /// UDP datagrams written as IPv4 fragments.
    pub fragmented_datagrams: u64,
    pub tcp_retransmissions: u64,
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
}
