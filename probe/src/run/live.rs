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
//!
//! Memory: what the reporter remembers is pruned, once it holds more than
//! its cap ([`MAX_REMEMBERED`] by default), to what the latest snapshot
//! still shows. An entity the analyzer has let go of and that comes back is
//! then reported again under the same id (or, for calls, as rows the agent
//! already has): bandwidth, never a duplicate at the agent.

use std::collections::HashMap;

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

/// Entries (versions, calls, ids) the reporter keeps before pruning.
pub const MAX_REMEMBERED: usize = 2_000_000;

/// Per-entity versions already reported; each entry with the report round
/// in which the snapshot last showed it.
#[derive(Debug)]
pub struct Live {
    instance: String,
    versions: HashMap<String, (String, u64)>,
    calls_sent: HashMap<(String, String, String), u64>,
    emitted: HashMap<String, u64>,
    round: u64,
    cap: usize,
    forgotten: u64,
}

impl Live {
    /// A reporter for probe instance `instance` (16 hex digits).
    pub fn new(instance: &str) -> Live {
        Live::with_cap(instance, MAX_REMEMBERED)
    }

    /// A reporter that prunes past `cap` remembered entries.
    pub fn with_cap(instance: &str, cap: usize) -> Live {
        Live {
            instance: instance.to_string(),
            versions: HashMap::new(),
            calls_sent: HashMap::new(),
            emitted: HashMap::new(),
            round: 0,
            cap,
            forgotten: 0,
        }
    }

    /// Entries remembered now.
    pub fn remembered(&self) -> usize {
        self.versions.len() + self.calls_sent.len() + self.emitted.len()
    }

    /// Entries pruned so far.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// The events for what changed in `snapshot` since the last call.
    pub fn changes(&mut self, snapshot: &AnalysisReport, now: &str) -> Vec<Event> {
        self.round += 1;
        let round = self.round;
        let mut out = Vec::new();
        for mut event in events_from_report(snapshot, &self.instance, now) {
            if let EventBody::Calls { gateway, calls } = &mut event.body {
                let gw = gateway.clone();
                calls.retain(|c| {
                    self.calls_sent.insert((gw.clone(), c.start.clone(), c.called.clone()), round).is_none()
                });
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
            let entity = event.id.clone();
            event.id = versioned(&entity, &hash);
            // A version that comes back (A → B → A) was sent already, under this id.
            let new_id = self.emitted.insert(event.id.clone(), round).is_none();
            let old = self.versions.insert(entity, (hash.clone(), round));
            if old.is_some_and(|(h, _)| h == hash) {
                continue;
            }
            if new_id {
                out.push(event);
            }
        }
        if self.remembered() > self.cap {
            let before = self.remembered();
            self.versions.retain(|_, (_, seen)| *seen == round);
            self.calls_sent.retain(|_, seen| *seen == round);
            self.emitted.retain(|_, seen| *seen == round);
            self.forgotten += (before - self.remembered()) as u64;
            tracing::debug!(forgotten = before - self.remembered(), kept = self.remembered(), "live reporter pruned");
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
    use std::collections::HashSet;

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

    #[test]
    fn past_its_cap_the_reporter_forgets_what_is_gone_and_resends_it_under_the_same_id() {
        use crate::track::cell::fixtures::{abis, lu_request};
        let db = SignatureDb::builtin();
        let mut a = Analyzer::new(&db);
        a.begin_file("live", "live", 0);
        let (src, local) = ("192.0.2.1:40000".parse().unwrap(), "127.0.0.1:4729".parse().unwrap());
        for (n, imsi) in ["460001111111111", "460002222222222", "460003333333333"].iter().enumerate() {
            a.gsmtap_datagram(1_000_000 + n as u64, n as u64 + 1, src, local, &abis(0, &lu_request(imsi)));
        }
        let full = a.snapshot();
        assert_eq!(full.subscribers.len(), 3);
        let subscriber_ids = |events: &[Event]| -> Vec<String> {
            let mut v: Vec<String> =
                events.iter().filter(|e| e.body.kind() == "subscriber").map(|e| e.id.clone()).collect();
            v.sort();
            v
        };
        let now = "2026-01-01T00:00:00Z";
        let mut live = Live::with_cap("0123456789abcdef", 1);
        let first = subscriber_ids(&live.changes(&full, now));
        assert_eq!(first.len(), 3);
        // Two subscribers leave the snapshot: the reporter, over its cap, forgets them.
        let mut one = full.clone();
        one.subscribers.retain(|s| s.imsi == "460001111111111");
        assert!(subscriber_ids(&live.changes(&one, now)).is_empty());
        assert!(live.forgotten() >= 4, "forgot {}", live.forgotten());
        // They come back: sent again, under the ids the agent already has.
        let again = subscriber_ids(&live.changes(&full, now));
        assert_eq!(again.len(), 2);
        assert!(again.iter().all(|id| first.contains(id)), "{again:?} not in {first:?}");
        assert!(!again.iter().any(|id| id.contains("460001111111111")), "the one still shown is not resent");
        // Without a cap nothing is forgotten and nothing resent.
        let mut roomy = Live::new("0123456789abcdef");
        roomy.changes(&full, now);
        roomy.changes(&one, now);
        assert!(subscriber_ids(&roomy.changes(&full, now)).is_empty());
        assert_eq!(roomy.forgotten(), 0);
    }
}
