//! The review UI in-process: a store seeded with cases and one account per
//! role, and a cookie-keeping client that logs in and posts forms with the
//! session's CSRF token, as a browser would.

use std::collections::BTreeMap;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt as _;

use duanka_agent::auth::Role;
use duanka_agent::cases::Summary;
use duanka_agent::correlate::cluster::{GatewayInfo, Tie};
use duanka_agent::correlate::findings::{CaseFindings, Finding, OwnerFinding, SimInfo};
use duanka_agent::server::ui::{ClientAddr, Clock, UiConfig};
use duanka_agent::server::{app, AppState};
use duanka_agent::store::Store;
use duanka_agent::users;

/// A synthetic resident id with a valid GB 11643 check character.
pub const OWNER: &str = "11010519491231002X";
/// How it shows masked.
pub const OWNER_MASKED: &str = "1101**********002X";
/// The owner's name.
pub const OWNER_NAME: &str = "李四";
/// Where the manual clock starts: 2026-11-23T00:00:00Z.
pub const START_MS: i64 = 1_795_392_000_000;

/// Each role's password in the fixture.
pub fn password(role: Role) -> String {
    format!("{}-secret-passphrase", role.as_str())
}

/// One case's IMSIs: `4600012345{case:03}{n:02}`.
pub fn imsis(case: i64) -> Vec<String> {
    (0..3).map(|n| format!("4600012345{case:03}{n:02}")).collect()
}

/// Inserts a probe, a gateway with evidence, and a case whose three SIMs
/// belong to [`OWNER`]; returns the case id.
pub fn seed_case(store: &Store, n: i64) -> i64 {
    let conn = store.conn();
    conn.execute("INSERT OR IGNORE INTO probes (id, name, token_hash, created_at) VALUES (1, 'site-1', 'x', 0)", [])
        .unwrap();
    let address = format!("198.51.100.{n}");
    let report = serde_json::json!({ "address": address, "evidence": [{
        "kind": "signature", "id": "goip.user_agent.dble", "weight": 3.5, "detail": "DBL GoIP User-Agent",
        "observed": "User-Agent: dble", "threshold": "User-Agent == dble", "vendor": "dbl", "counted": true,
        "occurrences": 4, "frames": [1, 9], "file": null }] });
    conn.execute(
        "INSERT INTO gateways (probe_id, address, verdict, score, vendor, first_seen_at, last_seen_at, detected_at, report_json, updated_at)
         VALUES (1, ?1, 'simbox', 12.0, 'dbl', ?2, ?2, ?2, ?3, ?2)",
        rusqlite::params![address, START_MS - 3_600_000, report.to_string()],
    )
    .unwrap();
    let gateway_id = conn.last_insert_rowid();
    let gateway = GatewayInfo {
        id: gateway_id,
        probe: "site-1".into(),
        address: address.clone(),
        verdict: "simbox".into(),
        score: 12.0,
        vendor: Some("dbl".into()),
    };
    let sims: Vec<SimInfo> = imsis(n)
        .into_iter()
        .enumerate()
        .map(|(i, imsi)| SimInfo {
            msisdn: Some(format!("1380000{n:02}{i:02}")),
            iccid: Some(format!("8986000000000{n:03}{i:02}0")),
            carrier: Some("CMCC".into()),
            owner_id: Some(OWNER.into()),
            outlet_id: Some("OUT-1".into()),
            activated_at: Some("2026-10-01T02:00:00.000Z".into()),
            ties: vec![
                Tie { via: "control_plane".into(), to: address.clone(), confidence: 1.0, calls_matched: 0 },
                Tie { via: "module".into(), to: format!("8612340000{n:02}{i:02}"), confidence: 1.0, calls_matched: 0 },
            ],
            imsi,
        })
        .collect();
    let summary = Summary {
        cluster_key: format!("k{n}"),
        gateways: vec![gateway],
        imeis: sims.iter().map(|s| s.ties[1].to.clone()).collect(),
        iccids: vec![],
        findings: CaseFindings {
            owners: vec![OwnerFinding {
                owner_id: OWNER.into(),
                owner_id_kind: "resident".into(),
                owner_name: OWNER_NAME.into(),
                cards_in_case: 3,
                cards_registered: 7,
                cards_by_carrier: BTreeMap::from([("CMCC".into(), 7)]),
                over_limit: true,
                other_cases: vec![],
                blocked_cards: 0,
            }],
            findings: vec![Finding {
                kind: "owner_over_limit".into(),
                text: "1101**********002X holds 7 cards at CMCC".into(),
            }],
            severity: "critical".into(),
            sims,
            ..CaseFindings::default()
        },
    };
    conn.execute(
        "INSERT INTO cases (cluster_key, state, severity, title, summary_json, evidence_digest, created_at, updated_at)
         VALUES (?1, 'new', 'critical', ?2, ?3, '', ?4, ?4)",
        rusqlite::params![
            summary.cluster_key,
            format!("dbl at {address}: 3 SIMs, 1 owners"),
            serde_json::to_string(&summary).unwrap(),
            START_MS - 1_000
        ],
    )
    .unwrap();
    let id = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO case_members (case_id, kind, value) VALUES (?1, 'gateway', ?2)",
        rusqlite::params![id, format!("site-1:{address}")],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO case_history (case_id, at, actor, from_state, to_state, reason) VALUES (?1, ?2, 'correlator', NULL, 'new', 'opened by correlation')",
        rusqlite::params![id, START_MS - 1_000],
    )
    .unwrap();
    id
}

/// A store in a temporary directory with one account per role (named after
/// the role) and `cases` seeded cases, served with a manual clock.
pub struct Fixture {
    /// The app's state.
    pub state: AppState,
    /// The clock the UI reads.
    pub clock: Clock,
    /// The seeded case ids.
    pub cases: Vec<i64>,
    /// The data directory.
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// The fixture with the default UI settings but a manual clock.
    pub fn new(cases: i64) -> Fixture {
        Self::with(cases, |_| {})
    }

    /// The fixture with UI settings changed by `tweak`.
    pub fn with(cases: i64, tweak: impl FnOnce(&mut UiConfig)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for role in Role::ALL {
            users::add_user(store.conn(), role.as_str(), role, &password(role), START_MS).unwrap();
        }
        let ids = (1..=cases).map(|n| seed_case(&store, n)).collect();
        let clock = Clock::manual(START_MS);
        let mut config = UiConfig { clock: clock.clone(), ..UiConfig::default() };
        tweak(&mut config);
        Fixture { state: AppState::with_ui(store, config), clock, cases: ids, dir }
    }

    /// A client with no cookies.
    pub fn client(&self) -> Client {
        Client { state: self.state.clone(), cookies: BTreeMap::new(), addr: None, csrf: None }
    }

    /// A client logged in as the account named after `role`.
    pub async fn logged_in(&self, role: Role) -> Client {
        let mut c = self.client();
        let r = c.login(role.as_str(), &password(role)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "login as {role}: {}", r.text);
        c
    }

    /// Runs `f` on the store.
    pub async fn db<T: Send + 'static>(&self, f: impl FnOnce(&rusqlite::Connection) -> T + Send + 'static) -> T {
        self.state.db("test", move |s| f(s.conn())).await.unwrap()
    }
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// `Location`, if any.
    pub location: Option<String>,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Body bytes.
    pub bytes: Vec<u8>,
    /// Body as text (lossy).
    pub text: String,
}

/// A cookie-keeping client of the router.
#[derive(Debug)]
pub struct Client {
    state: AppState,
    /// Cookies by name.
    pub cookies: BTreeMap<String, String>,
    /// The client address the server sees (none: unknown).
    pub addr: Option<std::net::IpAddr>,
    csrf: Option<String>,
}

/// The value of the first `name="csrf" value="…"` in a page.
pub fn csrf_in(page: &str) -> Option<String> {
    let at = page.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    Some(page[at..].split('"').next()?.to_owned())
}

/// Form-encodes pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

impl Client {
    /// Sends a request with the cookies; keeps the cookies the answer sets.
    pub async fn send(&mut self, method: &str, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Answer {
        let mut b = Request::builder().method(method).uri(path).header(header::HOST, "agent.test");
        if !self.cookies.is_empty() {
            let c = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            b = b.header(header::COOKIE, c);
        }
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        let mut request = b.body(Body::from(body)).unwrap();
        if let Some(ip) = self.addr {
            request.extensions_mut().insert(ClientAddr(ip));
        }
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        for v in response.headers().get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
        let status = response.status();
        let location = response.headers().get(header::LOCATION).map(|l| l.to_str().unwrap().to_owned());
        let content_type = response.headers().get(header::CONTENT_TYPE).map(|l| l.to_str().unwrap().to_owned());
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Answer { status, location, content_type, bytes, text }
    }

    /// GET.
    pub async fn get(&mut self, path: &str) -> Answer {
        self.send("GET", path, None, Vec::new()).await
    }

    /// POST a form as is.
    pub async fn post_raw(&mut self, path: &str, pairs: &[(&str, &str)]) -> Answer {
        self.send("POST", path, Some("application/x-www-form-urlencoded"), form(pairs).into_bytes()).await
    }

    /// The session's CSRF token (read once from the account page).
    pub async fn csrf(&mut self) -> String {
        if self.csrf.is_none() {
            let page = self.get("/account").await;
            assert_eq!(page.status, StatusCode::OK, "the account page: {}", page.text);
            self.csrf = Some(csrf_in(&page.text).expect("a CSRF field on the account page"));
        }
        self.csrf.clone().unwrap()
    }

    /// POST a form with the session's CSRF token added.
    pub async fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Answer {
        let csrf = self.csrf().await;
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(pairs);
        self.post_raw(path, &all).await
    }

    /// Logs in through the form (GET /login for its CSRF cookie, then POST).
    pub async fn login(&mut self, name: &str, password: &str) -> Answer {
        let page = self.get("/login").await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = csrf_in(&page.text).expect("a CSRF field on the login page");
        self.csrf = None;
        self.post_raw("/login", &[("csrf", &csrf), ("name", name), ("password", password), ("next", "/")]).await
    }
}
