//! Deterministic batches of realistic probe events, for tests and the
//! ingest benchmark (which includes this file with `#[path]`).
//!
//! The mix per 100 events: 5 detections (a full gateway report with
//! evidence, identities and a call log, about 3 KB of JSON), 35 `calls`
//! (two calls each), 30 `link`, 25 `subscriber`, 4 `device`, 1 `cell`.
//! Ids are `b<batch>-e<index>`, so the same arguments give the same batch.

#![allow(dead_code)]

use duanka_shared::events::{
    Batch, CallObservation, Direction, Event, EventBody, LinkKind, LinkObservation, LinkSource, EVENTS_SCHEMA_VERSION,
};
use duanka_shared::report::{
    BehaviourSummary, CellSeen, DeviceReport, Evidence, EvidenceKind, GatewayReport, IdentityReport, LineReport,
    RtpSummary, SimLink, SubscriberReport, Verdict,
};

/// Gateways the generated events spread over.
pub const GATEWAYS: u32 = 50;

/// Batch number `batch` with `n` events.
pub fn batch(batch: usize, n: usize) -> Batch {
    Batch {
        schema: EVENTS_SCHEMA_VERSION,
        probe_version: "0.1.0-test".into(),
        events: (0..n).map(|i| event(format!("b{batch}-e{i}"), batch * n + i)).collect(),
    }
}

/// The JSON of [`batch`].
pub fn batch_json(batch_no: usize, n: usize) -> Vec<u8> {
    serde_json::to_vec(&batch(batch_no, n)).expect("generated batches serialise")
}

/// The `k`-th event of the stream, with this id.
pub fn event(id: String, k: usize) -> Event {
    let body = match k % 100 {
        0..=4 => EventBody::Detection { gateway: Box::new(report(k)) },
        5..=39 => EventBody::Calls { gateway: gateway(k), calls: vec![call(k, 0), call(k, 1)] },
        40..=69 => EventBody::Link(LinkObservation {
            gateway: gateway(k),
            kind: [LinkKind::Imsi, LinkKind::Imei, LinkKind::Iccid][k % 3],
            value: match k % 3 {
                0 => imsi(k),
                1 => imei(k),
                _ => format!("898600{:014}", k % 100_000),
            },
            source: if k % 2 == 0 { LinkSource::ControlPlane } else { LinkSource::CallMatch },
            confidence: (k % 10) as f64 / 10.0,
            calls_matched: (k % 7) as u64,
        }),
        70..=94 => EventBody::Subscriber {
            subscriber: SubscriberReport {
                imsi: imsi(k),
                tmsis: vec![format!("{:08x}", k)],
                location_areas: vec!["460-00-4660".into()],
                imeis: vec![imei(k), imei(k + 1)],
                attaches: 1,
                location_updates: 3,
                detaches: 0,
                setups: (k % 13) as u64,
                distinct_called: (k % 11) as u64,
                paging_responses: 2,
                flags: if k % 4 == 0 { vec!["attach_cohort".into()] } else { vec![] },
                first_seen: time(k),
                last_seen: time(k + 60),
            },
        },
        95..=98 => EventBody::Device {
            device: DeviceReport {
                imei: imei(k),
                tac: "86123456".into(),
                imsis: vec![imsi(k), imsi(k + 1)],
                luhn_valid: Some(k % 5 != 0),
                flags: vec!["sim_rotation".into()],
            },
        },
        _ => {
            EventBody::Cell { cell: CellSeen { mcc: 460, mnc: 0, lac: 4660, cell_id: (k % 60_000) as u16, arfcn: 62 } }
        }
    };
    Event { id, at: time(k), body }
}

fn gateway(k: usize) -> String {
    format!("198.51.100.{}", 1 + k as u32 % GATEWAYS)
}

fn imsi(k: usize) -> String {
    format!("46000{:010}", k % 1_000_000)
}

fn imei(k: usize) -> String {
    format!("86123456{:07}", k % 1_000_000)
}

fn time(k: usize) -> String {
    let s = k % 86_400;
    format!("2026-11-23T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

fn call(k: usize, j: usize) -> CallObservation {
    CallObservation {
        called: format!("138{:08}", (k * 2 + j) % 100_000_000),
        calling: Some(format!("+4420{:07}", k % 10_000_000)),
        start: time(k + j),
        direction: if j == 0 { Direction::In } else { Direction::Out },
        answered: (k + j) % 3 != 0,
    }
}

fn identity(value: String) -> IdentityReport {
    IdentityReport {
        value,
        valid: true,
        channel: Some("1".into()),
        occurrences: 12,
        frames: vec![10, 20, 30],
        file: None,
    }
}

/// A full gateway report, as `duanka-probe analyze` makes one.
pub fn report(k: usize) -> GatewayReport {
    let evidence = |id: &str, weight: f64| Evidence {
        kind: EvidenceKind::Signature,
        id: id.into(),
        weight,
        detail: format!("{id} matched"),
        observed: "DBL GoIP/GS 1.0".into(),
        threshold: "^DBL".into(),
        vendor: Some("DBL".into()),
        counted: true,
        occurrences: 40,
        frames: vec![1, 5, 9, 13],
        file: Some("capture.pcap".into()),
    };
    let sim = |value: String| {
        let id = identity(value);
        SimLink {
            imsi: id.value,
            confidence: 1.0,
            sources: vec!["control_plane".into()],
            valid: id.valid,
            channel: id.channel,
            imei: None,
            calls_matched: 0,
            calls_ambiguous: 0,
            occurrences: id.occurrences,
            frames: id.frames,
            sip_frames: vec![],
            gsm_frames: vec![],
            file: id.file,
        }
    };
    GatewayReport {
        address: gateway(k),
        verdict: [Verdict::Simbox, Verdict::Suspect, Verdict::Clean][k % 3],
        score: (k % 20) as f64 / 2.0,
        vendor: Some("DBL".into()),
        accounts: (0..4).map(|l| format!("sip:100{l}@pbx.example")).collect(),
        calls: 40,
        calls_in: 38,
        calls_out: 2,
        calls_answered: 30,
        registrations: 16,
        register_expires: vec![60],
        options_sent: 100,
        requests_sent: 200,
        requests_received: 60,
        user_agents: vec!["DBL GoIP/GS 1.0".into()],
        sip_ports: vec![5060],
        first_seen: Some(time(k)),
        last_seen: Some(time(k + 600)),
        detected_at: Some(time(k + 120)),
        first_call_at: Some(time(k + 30)),
        detection_latency_s: Some(90.0),
        behaviour: BehaviourSummary { calls_terminated: 38, answer_ratio: Some(0.8), ..Default::default() },
        imsis: (0..4).map(|l| sim(imsi(k + l))).collect(),
        imeis: (0..4).map(|l| identity(imei(k + l))).collect(),
        iccids: vec![],
        rtp: RtpSummary { streams: 30, packets: 30_000, ..Default::default() },
        lines: (0..4)
            .map(|l| LineReport {
                id: format!("goip:{l}"),
                registrations: 4,
                expires: Some(60),
                mean_refresh_s: Some(55.0),
                calls: 10,
                mean_idle_gap_s: Some(12.0),
            })
            .collect(),
        call_log: (0..8).map(|j| call(k, j)).collect(),
        goip_keepalives: 20,
        simbank_packets: 0,
        evidence: vec![
            evidence("goip.user_agent.dble", 4.0),
            evidence("goip.sdp.session", 2.0),
            evidence("behaviour.short_calls", 1.5),
        ],
    }
}
