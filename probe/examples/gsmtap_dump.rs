//! Print, as JSON, what the cell-signalling dissectors find in a capture:
//! GSMTAP packets by type, L3/NAS messages counted per protocol and type,
//! filler, payloads that are not L3, errors by kind, and the sorted sets of
//! identities (IMSI, IMEI, IMEISV, TMSI as hex, GUTI) and called numbers.
//!
//! Usage: `cargo run --release -p duanka-probe --example gsmtap_dump -- FILE.pcap[ng]`
//!
//! GSMTAP is taken from UDP datagrams to or from port 4729. Messages are
//! counted from their header even when the body fails to decode (the failure
//! is counted under `errors`), as Wireshark does. Messages nested in others
//! are counted too: the ESM container of an Attach, the SMS CP message of an
//! Uplink/Downlink NAS Transport. `scripts/gsmtap-vs-tshark` compares this
//! output with tshark's.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use duanka_probe::capture::file::CaptureFile;
use duanka_probe::dissect::gsm_l3::{self, Identity, Message, MessageType};
use duanka_probe::dissect::gsmtap::{self, L3Payload};
use duanka_probe::dissect::layers::{decode_frame, decode_transport, Transport};
use duanka_probe::dissect::lte_nas::{self, EmmBody, MessageKey, Nas};
use serde_json::{json, Value};

/// Deepest nesting of NAS containers followed (an Attach's ESM container is one level).
const MAX_NESTING: usize = 2;

/// What a message is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    /// A GSM L3 message type.
    L3(MessageType),
    /// An EPS NAS message.
    Nas(MessageKey),
}

impl Key {
    /// (protocol, type code, name) as the JSON shows them.
    fn parts(self) -> (String, Option<u8>, &'static str) {
        match self {
            Key::L3(t) => (t.pd().name().to_string(), Some(t.code()), t.name()),
            Key::Nas(MessageKey::Emm(t)) => ("emm".into(), Some(t.into()), t.name()),
            Key::Nas(MessageKey::Esm(t)) => ("esm".into(), Some(t.into()), t.name()),
            Key::Nas(MessageKey::Ciphered) => ("emm".into(), None, "ciphered"),
            Key::Nas(MessageKey::ServiceRequest) => ("emm".into(), None, "service_request"),
            Key::Nas(MessageKey::OtherPd(pd)) => (format!("nas_pd_{pd}"), None, "unknown"),
        }
    }
}

/// Counters and sets; keys stay small `Copy` values until the JSON is written.
#[derive(Default)]
struct Stats {
    frames: u64,
    gsmtap: u64,
    ip_fragments: u64,
    types: BTreeMap<(u8, &'static str), u64>,
    messages: BTreeMap<Key, u64>,
    filler: BTreeMap<&'static str, u64>,
    not_l3: BTreeMap<(&'static str, &'static str), u64>,
    errors: BTreeMap<(&'static str, &'static str), u64>,
    identities: BTreeSet<Identity>,
    called: BTreeSet<String>,
    calling: BTreeSet<String>,
}

impl Stats {
    fn error(&mut self, layer: &'static str, kind: &'static str) {
        *self.errors.entry((layer, kind)).or_default() += 1;
    }

    fn message(&mut self, key: Key) {
        *self.messages.entry(key).or_default() += 1;
    }

    fn identity(&mut self, id: Identity) {
        self.identities.insert(id);
    }

    fn gsmtap_packet(&mut self, bytes: &[u8]) {
        let packet = match gsmtap::Packet::new_checked(bytes) {
            Ok(p) => p,
            Err(e) => return self.error("gsmtap", e.kind.name()),
        };
        self.gsmtap += 1;
        let t = packet.payload_type();
        *self.types.entry((t.into(), t.name())).or_default() += 1;
        match gsmtap::l3_of(&packet) {
            Ok(L3Payload::L3(l3) | L3Payload::Echo(l3)) => self.gsm_l3(l3),
            Ok(L3Payload::Nas(nas)) => self.nas(nas, 0),
            Ok(L3Payload::Filler(f)) => *self.filler.entry(f.name()).or_default() += 1,
            Ok(L3Payload::NotL3(n)) => {
                let key = match n {
                    gsmtap::NotL3::OtherType(t) => ("other_type", t.name()),
                    other => (other.name(), ""),
                };
                *self.not_l3.entry(key).or_default() += 1;
            }
            Err(e) => self.error("gsmtap", e.kind.name()),
        }
    }

    fn gsm_l3(&mut self, bytes: &[u8]) {
        let packet = match gsm_l3::Packet::new_checked(bytes) {
            Ok(p) => p,
            Err(e) => return self.error("l3", e.kind.name()),
        };
        self.message(Key::L3(packet.message_type()));
        match Message::parse(&packet) {
            Ok(m) => {
                for id in m.identities() {
                    self.identity(id);
                }
                if let Message::Setup(s) = m {
                    if let Some(n) = s.called {
                        self.called.insert(n.digits.to_string());
                    }
                    if let Some(n) = s.calling {
                        self.calling.insert(n.digits.to_string());
                    }
                }
            }
            Err(e) => self.error("l3", e.kind.name()),
        }
    }

    fn nas(&mut self, bytes: &[u8], depth: usize) {
        match lte_nas::message_key(bytes) {
            Ok(key) => self.message(Key::Nas(key)),
            Err(e) => return self.error("nas", e.kind.name()),
        }
        let nas = match lte_nas::parse(bytes) {
            Ok(n) => n,
            Err(e) => return self.error("nas", e.kind.name()),
        };
        for id in nas.identities() {
            self.identity(id);
        }
        let Nas::Emm(m) = nas else { return };
        match m.body {
            EmmBody::AttachRequest { esm, .. } | EmmBody::AttachAccept { esm, .. } if depth < MAX_NESTING => {
                if let Some(inner) = bytes.get(esm).filter(|b| !b.is_empty()) {
                    self.nas(inner, depth + 1);
                }
            }
            EmmBody::NasTransport { container } => {
                if let Some(inner) = bytes.get(container).filter(|b| !b.is_empty()) {
                    self.gsm_l3(inner);
                }
            }
            _ => {}
        }
    }

    fn to_json(&self, path: &str) -> Value {
        let mut messages: Vec<(String, Option<u8>, &str, u64)> = self
            .messages
            .iter()
            .map(|(key, n)| {
                let (protocol, code, name) = key.parts();
                (protocol, code, name, *n)
            })
            .collect();
        messages.sort();
        let messages: Vec<Value> = messages
            .into_iter()
            .map(|(protocol, code, name, count)| json!({"protocol": protocol, "type": code, "name": name, "count": count}))
            .collect();
        let errors: BTreeMap<String, u64> =
            self.errors.iter().map(|((layer, kind), n)| (format!("{layer}.{kind}"), *n)).collect();
        let not_l3: BTreeMap<String, u64> = self
            .not_l3
            .iter()
            .map(|((what, detail), n)| {
                (if detail.is_empty() { what.to_string() } else { format!("{what}.{detail}") }, *n)
            })
            .collect();
        let types: BTreeMap<String, u64> =
            self.types.iter().map(|((code, name), n)| (format!("{name}(0x{code:02x})"), *n)).collect();
        // Sorted as text within each kind (TMSIs as hex, GUTIs as MCC-MNC-…).
        let identity = |kind: &str| -> BTreeSet<String> {
            self.identities.iter().filter(|id| id.kind() == kind).map(Identity::to_string).collect()
        };
        json!({
            "file": path,
            "frames": self.frames,
            "gsmtap_packets": self.gsmtap,
            "ip_fragments_skipped": self.ip_fragments,
            "gsmtap_types": types,
            "messages": messages,
            "filler": self.filler,
            "not_l3": not_l3,
            "errors": errors,
            "identities": {
                "imsi": identity("imsi"),
                "imei": identity("imei"),
                "imeisv": identity("imeisv"),
                "tmsi": identity("tmsi"),
                "guti": identity("guti"),
            },
            "called_numbers": self.called,
            "calling_numbers": self.calling,
        })
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path] = args.as_slice() else {
        eprintln!("usage: gsmtap_dump FILE.pcap|FILE.pcapng");
        return ExitCode::from(2);
    };
    let file = match CaptureFile::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("gsmtap_dump: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stats = Stats::default();
    let outcome = file.read(
        |frame| {
            stats.frames += 1;
            let ip = match decode_frame(frame.link, frame.data) {
                Ok(Some(ip)) => ip,
                Ok(None) => return,
                Err(e) => return stats.error("link", e.name()),
            };
            if ip.fragment.is_some() {
                stats.ip_fragments += 1;
                return;
            }
            match decode_transport(ip.protocol, ip.payload) {
                Ok(Transport::Udp { src_port, dst_port, payload })
                    if src_port == gsmtap::UDP_PORT || dst_port == gsmtap::UDP_PORT =>
                {
                    stats.gsmtap_packet(payload)
                }
                Ok(_) => {}
                Err(e) => stats.error("transport", e.name()),
            }
        },
        |_| {},
    );
    match outcome {
        Ok(o) => {
            if let Some(w) = o.warning {
                eprintln!("gsmtap_dump: {w}");
            }
        }
        Err(e) => {
            eprintln!("gsmtap_dump: {e}");
            return ExitCode::FAILURE;
        }
    }
    match serde_json::to_string_pretty(&stats.to_json(path)) {
        Ok(s) => println!("{s}"),
        Err(e) => {
            eprintln!("gsmtap_dump: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
