//! The cases API in-process: a probe's batch is ingested, correlation runs
//! by itself in the background, and operators read and decide the case —
//! with owners' identities masked for engineers, and decisions kept to
//! analysts and admins.

use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt as _;

use duanka_agent::auth::{self, Role};
use duanka_agent::server::{app, AppState};
use duanka_agent::store::Store;
use duanka_shared::events::{Batch, Event, EventBody, LinkKind, LinkObservation, LinkSource, EVENTS_SCHEMA_VERSION};
use duanka_shared::report::{GatewayReport, SimLink, Verdict};

const GATEWAY: &str = "198.51.100.10";
/// A synthetic resident id with a valid GB 11643 check digit.
const OWNER: &str = "11010519491231002X";

fn sim(imsi: &str) -> SimLink {
    SimLink {
        imsi: imsi.into(),
        confidence: 1.0,
        sources: vec!["control_plane".into()],
        valid: true,
        channel: None,
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

fn imsis() -> Vec<String> {
    (0..6).map(|i| format!("46000123456780{i}")).collect()
}

fn detection() -> Vec<u8> {
    let gateway = GatewayReport {
        address: GATEWAY.into(),
        verdict: Verdict::Simbox,
        score: 12.0,
        vendor: Some("dbl".into()),
        first_seen: Some("2026-11-01T00:00:00Z".into()),
        last_seen: Some("2026-11-01T00:10:00Z".into()),
        imsis: imsis().iter().map(|i| sim(i)).collect(),
        ..GatewayReport::default()
    };
    // As a probe sends it: the detection, then one link per SIM.
    let mut events = vec![Event {
        id: "capture-1:gw".into(),
        at: "2026-11-01T00:10:00Z".into(),
        body: EventBody::Detection { gateway: Box::new(gateway) },
    }];
    events.extend(imsis().into_iter().map(|imsi| Event {
        id: format!("capture-1:link:{imsi}"),
        at: "2026-11-01T00:10:00Z".into(),
        body: EventBody::Link(LinkObservation {
            gateway: GATEWAY.into(),
            kind: LinkKind::Imsi,
            value: imsi,
            source: LinkSource::ControlPlane,
            confidence: 1.0,
            calls_matched: 0,
        }),
    }));
    let batch = Batch { schema: EVENTS_SCHEMA_VERSION, probe_version: "test".into(), events };
    serde_json::to_vec(&batch).unwrap()
}

async fn call(state: &AppState, method: &str, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = if body.is_null() { Body::empty() } else { Body::from(body.to_string()) };
    let response = app(state.clone()).oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_detection_becomes_a_case_that_operators_read_and_decide() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let probe = auth::enrol_probe(store.conn(), "site-1").unwrap().token;
    let analyst = auth::add_operator(store.conn(), "ana", Role::Analyst).unwrap().token;
    let engineer = auth::add_operator(store.conn(), "eng", Role::Engineer).unwrap().token;
    // The registry: one person holds all six cards at one carrier.
    store
        .conn()
        .execute("INSERT INTO imports (id, kind, file, sha256, rows, started_at, actor) VALUES (1, 'registry', 'r', 'x', 6, 0, 't')", [])
        .unwrap();
    for (n, imsi) in imsis().iter().enumerate() {
        store
            .conn()
            .execute(
                "INSERT INTO registry VALUES (?1, '13800000000', ?2, 'CMCC', ?3, 'resident', '李四', 'OUT-1', 'Outlet 1', 'outlet', ?4, 1)",
                rusqlite::params![imsi, format!("898600000000000000{n}"), OWNER, 1_700_000_000_000i64 + n as i64 * 60_000],
            )
            .unwrap();
    }
    let state = AppState::new(store);

    let (status, ack) =
        call(&state, "POST", "/api/v1/reports", Some(&probe), serde_json::from_slice(&detection()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{ack}");

    // Correlation runs by itself shortly after the ingest.
    let deadline = Instant::now() + Duration::from_secs(10);
    let list = loop {
        let (status, list) = call(&state, "GET", "/api/v1/cases", Some(&engineer), Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        if !list.as_array().unwrap().is_empty() {
            break list;
        }
        assert!(Instant::now() < deadline, "no case 10 s after the ingest");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let case = &list[0];
    assert_eq!(case["gateways"], json!([GATEWAY]));
    assert_eq!(case["imsis"].as_array().unwrap().len(), 6);
    assert_eq!(case["state"], "new");
    assert_eq!(case["severity"], "critical", "{case}");
    let id = case["id"].as_i64().unwrap();
    let path = format!("/api/v1/cases/{id}");

    // Engineers see owners masked; analysts see them whole.
    let (_, seen) = call(&state, "GET", &path, Some(&engineer), Value::Null).await;
    let owner = &seen["owners"][0];
    assert_eq!(owner["owner_id"], "1101**********002X");
    assert_eq!((owner["cards_in_case"].as_u64(), owner["over_limit"].as_bool()), (Some(6), Some(true)));
    assert_eq!(seen["outlets"][0]["outlet_id"], "OUT-1");
    assert_eq!(seen["bursts"][0]["cards"], 6);
    assert!(!seen.to_string().contains(OWNER), "an engineer saw the id");
    let (_, revealed) = call(&state, "GET", &path, Some(&analyst), Value::Null).await;
    assert_eq!(revealed["owners"][0]["owner_id"], OWNER);
    assert_eq!(revealed["bursts"][0]["owners"], json!([OWNER]));

    // Decisions: analysts only, valid states, a reason.
    let state_path = format!("{path}/state");
    let confirm = json!({"state": "confirmed", "reason": "six cards of one person in a GoIP"});
    let (status, _) = call(&state, "POST", &state_path, Some(&engineer), confirm.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, err) =
        call(&state, "POST", &state_path, Some(&analyst), json!({"state": "sure", "reason": "x"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, err) =
        call(&state, "POST", &state_path, Some(&analyst), json!({"state": "confirmed", "reason": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, decided) = call(&state, "POST", &state_path, Some(&analyst), confirm).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["state"], "confirmed");
    let last = decided["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["actor"], "token:1:ana");
    let (status, err) =
        call(&state, "POST", &state_path, Some(&analyst), json!({"state": "new", "reason": "oops"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");

    // Filters, paging and bad queries.
    let (_, confirmed) =
        call(&state, "GET", "/api/v1/cases?state=confirmed&probe=site-1", Some(&analyst), Value::Null).await;
    assert_eq!(confirmed.as_array().unwrap().len(), 1);
    let (_, none) = call(&state, "GET", "/api/v1/cases?state=new", Some(&analyst), Value::Null).await;
    assert_eq!(none, json!([]));
    let (_, other_probe) = call(&state, "GET", "/api/v1/cases?probe=site-2", Some(&analyst), Value::Null).await;
    assert_eq!(other_probe, json!([]));
    for bad in ["state=bogus", "severity=huge", "limit=0", "since=yesterday", "colour=red"] {
        let (status, _) = call(&state, "GET", &format!("/api/v1/cases?{bad}"), Some(&analyst), Value::Null).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (status, _) = call(&state, "GET", "/api/v1/cases/999", Some(&analyst), Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&state, "GET", "/api/v1/cases", None, Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&state, "GET", "/api/v1/cases", Some(&probe), Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a probe token is not an operator");

    // A full correlation is for admins; it changes nothing here.
    let (status, _) = call(&state, "POST", "/api/v1/correlate", Some(&analyst), Value::Null).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
