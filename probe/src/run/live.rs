//! The live report: what changed since the last one, as events.
//!
//! Every report interval the pipeline takes an [`Analyzer::snapshot`](crate::analyze::Analyzer::snapshot)
//! and runs it through [`events_from_report`] with the probe instance's id as
//! the source, so entity keys are those of the offline upload
//! (`<instance>:gw:<address>`, `…:sub:<imsi>`, …). [`Live::changes`] keeps,
//! per entity, a hash of its *material* content and emits an event only when
//! that hash changed; the event id is `<entity key>:<hash>`. So:
//! - a gateway is reported when it first reaches a non-clean verdict and
//!   again when its verdict, vendor, counted evidence or linked identities
//!   change — not when only its counters tick;
//! - calls are sent once each, in chunks of the calls new since the last report;
//! - ids are deterministic per (instance, entity, version): after a restart,
//!   the same facts give the same ids and the agent stores them once.

use std::collections::{HashMap, HashSet};

use duanka_shared::events::{events_from_report, Event, EventBody, MAX_EVENT_ID_LEN};
use duanka_shared::report::AnalysisReport;
use sha2::{Digest, Sha256};

/// Fields that change with every packet and do not make a new version.
const VOLATILE: [&str; 12] = [
    "last_seen",
    "first_seen",
    "packets",
    "bytes",
    "frames",
    "sip_frames",
    "gsm_frames",
    "messages",
    "occurrences",
    "paging",
    "seen",
    "observed",
];

/// Per-entity versions already reported.
#[derive(Debug)]
pub struct Live {
    instance: String,
    versions: HashMap<String, String>,
    calls_sent: HashSet<(String, String, String)>,
    emitted: HashSet<String>,
}

impl Live {
    /// A reporter for probe instance `instance` (16 hex digits).
    pub fn new(instance: &str) -> Live {
        Live {
            instance: instance.to_string(),
            versions: HashMap::new(),
            calls_sent: HashSet::new(),
            emitted: HashSet::new(),
        }
    }

    /// The events for what changed in `snapshot` since the last call.
    pub fn changes(&mut self, snapshot: &AnalysisReport, now: &str) -> Vec<Event> {
        let mut out = Vec::new();
        for mut event in events_from_report(snapshot, &self.instance, now) {
            if let EventBody::Calls { gateway, calls } = &mut event.body {
                let gw = gateway.clone();
                calls.retain(|c| self.calls_sent.insert((gw.clone(), c.start.clone(), c.called.clone())));
                if calls.is_empty() {
                    continue;
                }
                // The chunk index in the entity key means nothing live: name the chunk by its calls.
                let key = event.id.rsplit_once(':').map_or(event.id.as_str(), |(k, _)| k).to_string();
                let hash = short_hash(&serde_json::to_vec(&event.body).unwrap_or_default());
                event.id = versioned(&key, &hash);
                out.push(event);
                continue;
            }
            let hash = short_hash(&material(&event.body));
            if self.versions.get(&event.id) == Some(&hash) {
                continue;
            }
            self.versions.insert(event.id.clone(), hash.clone());
            event.id = versioned(&event.id, &hash);
            // A version that comes back (A → B → A) was sent already, under this id.
            if self.emitted.insert(event.id.clone()) {
                out.push(event);
            }
        }
        out
    }
}

/// `<key>:<hash>`, or, if that is too long for the agent, a hash of it.
fn versioned(key: &str, hash: &str) -> String {
    let id = format!("{key}:{hash}");
    if id.len() <= MAX_EVENT_ID_LEN {
        id
    } else {
        format!("{}:h:{}", &key[..16.min(key.len())], short_hash(id.as_bytes()))
    }
}

fn short_hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

/// What makes a new version of an entity.
fn material(body: &EventBody) -> Vec<u8> {
    if let EventBody::Detection { gateway } = body {
        let mut evidence: Vec<&str> = gateway.evidence.iter().filter(|e| e.counted).map(|e| e.id.as_str()).collect();
        evidence.sort_unstable();
        let mut idents: Vec<&str> = gateway
            .imsis
            .iter()
            .map(|l| l.imsi.as_str())
            .chain(gateway.imeis.iter().map(|i| i.value.as_str()))
            .chain(gateway.iccids.iter().map(|i| i.value.as_str()))
            .collect();
        idents.sort_unstable();
        let key = (format!("{:?}", gateway.verdict), &gateway.vendor, evidence, idents);
        return serde_json::to_vec(&key).unwrap_or_default();
    }
    let mut value = serde_json::to_value(body).unwrap_or_default();
    strip(&mut value);
    serde_json::to_vec(&value).unwrap_or_default()
}

fn strip(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for k in VOLATILE {
                map.remove(k);
            }
            map.values_mut().for_each(strip);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Analyzer;
    use crate::capture::Frame;
    use crate::detect::SignatureDb;
    use crate::dissect::layers::LinkType;

    #[test]
    fn a_replayed_goip_is_reported_once_and_counters_alone_do_not_resend_it() {
        let dir = tempfile::tempdir().unwrap();
        let pcap = dir.path().join("s.pcap");
        let cfg = duanka_hil::sim::SimConfig { rtp: false, ..duanka_hil::sim::SimConfig::default() };
        duanka_hil::sim::write_scenario(&cfg, std::fs::File::create(&pcap).unwrap()).unwrap();
        let db = SignatureDb::builtin();
        let mut a = Analyzer::new(&db);
        a.begin_file("live", "live", 0);
        let mut live = Live::new("0123456789abcdef");
        let file = crate::capture::file::CaptureFile::open(&pcap).unwrap();
        let mut frames: Vec<(u64, Vec<u8>)> = Vec::new();
        file.read(|f: &Frame<'_>| frames.push((f.ts, f.data.to_vec())), |_| {}).unwrap();
        let mut all = Vec::new();
        for (n, (ts, data)) in frames.iter().enumerate() {
            a.frame(&Frame {
                number: n as u64 + 1,
                ts: *ts,
                link: LinkType::Ethernet,
                data,
                orig_len: data.len() as u32,
            });
            if n % 200 == 0 {
                all.extend(live.changes(&a.snapshot(), "2026-01-01T00:00:00Z"));
            }
        }
        all.extend(live.changes(&a.snapshot(), "2026-01-01T00:00:00Z"));
        assert!(live.changes(&a.snapshot(), "2026-01-01T00:00:00Z").is_empty(), "nothing changed, nothing sent");
        let detections: Vec<&Event> = all.iter().filter(|e| e.body.kind() == "detection").collect();
        assert!(!detections.is_empty(), "the GoIP is reported");
        let ids: HashSet<&str> = all.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), all.len(), "ids are unique");
        assert!(all.iter().all(|e| e.id.starts_with("0123456789abcdef:")));
        // A second run over the same facts gives the same ids (no duplicates after a restart).
        let mut again = Live::new("0123456789abcdef");
        let second: HashSet<String> =
            again.changes(&a.snapshot(), "2026-01-01T00:00:00Z").into_iter().map(|e| e.id).collect();
        let last_detection = detections.last().unwrap();
        assert!(second.contains(&last_detection.id), "{second:?}");
    }
}
