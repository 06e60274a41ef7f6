//! The router in-process (`tower::ServiceExt::oneshot`): every answer of
//! `POST /api/v1/reports`, the health check, operator authentication and
//! role checks.

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tower::ServiceExt as _;

use duanka_agent::auth::{self, Role};
use duanka_agent::ingest::{MAX_BODY_BYTES, MAX_EVENTS_PER_BATCH};
use duanka_agent::server::{app, ApiError, AppState, Operator};
use duanka_agent::store::Store;

use crate::support::gen;

struct Fixture {
    state: AppState,
    probe: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let probe = auth::enrol_probe(store.conn(), "site-1").unwrap().token;
    Fixture { state: AppState::new(store), probe, _dir: dir }
}

impl Fixture {
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
        call(app(self.state.clone()), method, path, token, body).await
    }

    async fn post(&self, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
        self.call("POST", "/api/v1/reports", token, body).await
    }

    async fn count(&self, table: &'static str) -> i64 {
        self.state
            .db("test", move |s| s.conn().query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)))
            .await
            .unwrap()
            .unwrap()
    }

    async fn operator(&self, role: Role) -> String {
        self.state.db("test", move |s| auth::add_operator(s.conn(), "op", role).unwrap().token).await.unwrap()
    }
}

async fn call(router: Router, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router.oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let json =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&bytes)));
    (status, json)
}

fn error_of(json: &Value) -> &str {
    json["error"].as_str().unwrap_or_else(|| panic!("no error message in {json}"))
}

#[tokio::test]
async fn health_needs_no_token() {
    let f = fixture().await;
    let (status, json) = f.call("GET", "/api/v1/health", None, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["status"], "ok");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn a_batch_is_stored_and_resending_it_adds_nothing() {
    let f = fixture().await;
    let body = gen::batch_json(0, 200);
    let (status, json) = f.post(Some(&f.probe), body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json, serde_json::json!({"accepted": 200, "duplicates": 0}));
    let before = [
        f.count("events").await,
        f.count("gateways").await,
        f.count("gateway_calls").await,
        f.count("gateway_links").await,
        f.count("subscribers").await,
    ];
    assert_eq!(before[0], 200);
    assert!(before[1..].iter().all(|&n| n > 0), "{before:?}");

    let (status, json) = f.post(Some(&f.probe), body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, serde_json::json!({"accepted": 0, "duplicates": 200}));
    let after = [
        f.count("events").await,
        f.count("gateways").await,
        f.count("gateway_calls").await,
        f.count("gateway_links").await,
        f.count("subscribers").await,
    ];
    assert_eq!(before, after);
}

#[tokio::test]
async fn missing_or_unknown_tokens_are_401() {
    let f = fixture().await;
    let body = gen::batch_json(0, 1);
    let (status, json) = f.post(None, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(error_of(&json).contains("Authorization"), "{json}");
    let (status, json) = f.post(Some("dkp_not-a-real-token"), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&json), "unknown probe token");
    let operator = f.operator(Role::Admin).await;
    let (status, json) = f.post(Some(&operator), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(error_of(&json).contains("operator token"), "{json}");
    // A malformed header.
    let request = Request::post("/api/v1/reports").header("authorization", "Basic abc").body(Body::from(body)).unwrap();
    let response = app(f.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(f.count("events").await, 0);
}

#[tokio::test]
async fn a_revoked_probe_is_403() {
    let f = fixture().await;
    f.state.db("test", |s| auth::revoke_probe(s.conn(), "site-1").unwrap()).await.unwrap();
    let (status, json) = f.post(Some(&f.probe), gen::batch_json(0, 1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_of(&json).contains("revoked"), "{json}");
    assert_eq!(f.count("events").await, 0);
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_413() {
    let f = fixture().await;
    let (status, json) = f.post(Some(&f.probe), vec![b' '; MAX_BODY_BYTES + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error_of(&json).contains(&MAX_BODY_BYTES.to_string()), "{json}");
}

#[tokio::test]
async fn a_batch_over_the_event_limit_is_413() {
    let f = fixture().await;
    let (status, json) = f.post(Some(&f.probe), gen::batch_json(0, MAX_EVENTS_PER_BATCH + 1)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error_of(&json).contains("5001 events"), "{json}");
    assert_eq!(f.count("events").await, 0);
    // Exactly the limit is fine.
    let (status, json) = f.post(Some(&f.probe), gen::batch_json(1, MAX_EVENTS_PER_BATCH)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

#[tokio::test]
async fn bad_json_is_422() {
    let f = fixture().await;
    for body in [&b"{\"schema\": 1,"[..], b"not json", b"", b"[]"] {
        let (status, json) = f.post(Some(&f.probe), body.to_vec()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body:?}");
        assert!(!error_of(&json).is_empty());
    }
}

#[tokio::test]
async fn a_bad_field_is_422_with_its_path() {
    let f = fixture().await;
    let mut batch: Value = serde_json::from_slice(&gen::batch_json(0, 20)).unwrap();
    // Event 0 is a detection (see gen's mix); break its verdict.
    batch["events"][0]["gateway"]["verdict"] = "x".into();
    let (status, json) = f.post(Some(&f.probe), serde_json::to_vec(&batch).unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&json).starts_with("events[0].gateway.verdict: unknown variant `x`"), "{json}");
}

#[tokio::test]
async fn a_wrong_schema_version_is_422() {
    let f = fixture().await;
    let mut batch: Value = serde_json::from_slice(&gen::batch_json(0, 3)).unwrap();
    batch["schema"] = 2.into();
    let (status, json) = f.post(Some(&f.probe), serde_json::to_vec(&batch).unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_of(&json), "unsupported event schema version 2; this agent accepts version 1");
}

#[tokio::test]
async fn a_bad_event_id_is_422() {
    let f = fixture().await;
    for (id, want) in [("", "events[2].id: must not be empty"), (&"x".repeat(201)[..], "events[2].id: 201 bytes")] {
        let mut batch: Value = serde_json::from_slice(&gen::batch_json(0, 5)).unwrap();
        batch["events"][2]["id"] = id.into();
        let (status, json) = f.post(Some(&f.probe), serde_json::to_vec(&batch).unwrap()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error_of(&json).starts_with(want), "{json}");
    }
}

#[tokio::test]
async fn a_bad_event_in_the_middle_stores_nothing() {
    let f = fixture().await;
    let mut batch: Value = serde_json::from_slice(&gen::batch_json(0, 100)).unwrap();
    // Well-formed but invalid: an IMSI with a letter in a link (events 40..70 are links).
    batch["events"][42]["kind"] = "imsi".into();
    batch["events"][42]["value"] = "46000123456789X".into();
    let (status, json) = f.post(Some(&f.probe), serde_json::to_vec(&batch).unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&json).starts_with("events[42].value: invalid IMSI"), "{json}");
    for table in ["events", "gateways", "gateway_calls", "gateway_links", "subscribers", "devices", "cells"] {
        assert_eq!(f.count(table).await, 0, "{table}");
    }
    let last_seen: Option<i64> = f
        .state
        .db("test", |s| s.conn().query_row("SELECT last_seen_at FROM probes", [], |r| r.get(0)).unwrap())
        .await
        .unwrap();
    assert_eq!(last_seen, None, "a refused batch must not count as contact");
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let f = fixture().await;
    let (status, json) = f.call("GET", "/nope", None, vec![]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&json).contains("/api/v1/"));
}

#[tokio::test]
async fn operators_authenticate_with_their_own_tokens() {
    let f = fixture().await;
    let analyst = f.operator(Role::Analyst).await;
    let (status, json) = f.call("GET", "/api/v1/whoami", Some(&analyst), vec![]).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["role"], "analyst");
    let (status, json) = f.call("GET", "/api/v1/probes", Some(&analyst), vec![]).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json[0]["name"], "site-1");
    // A probe token is not an operator token.
    let (status, json) = f.call("GET", "/api/v1/whoami", Some(&f.probe), vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(error_of(&json).contains("probe token"), "{json}");
    let (status, _) = f.call("GET", "/api/v1/whoami", None, vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    f.state.db("test", |s| auth::revoke_operator(s.conn(), 1).unwrap()).await.unwrap();
    let (status, json) = f.call("GET", "/api/v1/whoami", Some(&analyst), vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_of(&json).contains("revoked"), "{json}");
}

#[tokio::test]
async fn routes_can_require_roles() {
    // How the cases API will use the extractor.
    async fn admin_only(operator: Operator) -> Result<&'static str, ApiError> {
        operator.require(&[Role::Admin])?;
        Ok("{}")
    }
    let f = fixture().await;
    let router = Router::new().route("/admin", get(admin_only)).with_state(f.state.clone());
    let analyst = f.operator(Role::Analyst).await;
    let admin = f.operator(Role::Admin).await;
    let (status, json) = call(router.clone(), "GET", "/admin", Some(&analyst), vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_of(&json).contains("role admin"), "{json}");
    let (status, _) = call(router, "GET", "/admin", Some(&admin), vec![]).await;
    assert_eq!(status, StatusCode::OK);
}
