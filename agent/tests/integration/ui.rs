//! The review UI in-process (tower `oneshot`): every route with every role,
//! CSRF, login limits, session expiry, reveal, decisions, exports and the
//! audit trail they leave.

use std::time::Duration;

use axum::http::StatusCode;

use duanka_agent::auth::Role;
use duanka_agent::server::ui::routes;

use crate::support::ui::{password, Fixture, OWNER, OWNER_MASKED};

/// Who is asking: nobody, or one of the roles.
fn who(role: Option<Role>) -> &'static str {
    role.map(Role::as_str).unwrap_or("anonymous")
}

/// The form a route gets in the walk (the CSRF token is added for them).
fn body_for(path: &str) -> Vec<(&'static str, &'static str)> {
    match path {
        "/cases/{id}/decision" => vec![("state", "reviewing"), ("reason", "looking into it")],
        "/cases/{id}/notes" => vec![("text", "called the carrier")],
        // A wrong current password: the handler runs and refuses (422).
        "/account/password" => {
            vec![("current", "not-my-password"), ("new", "another passphrase"), ("confirm", "another passphrase")]
        }
        _ => vec![],
    }
}

/// What an allowed request answers on each route of the walk.
fn allowed_status(method: &str, path: &str) -> StatusCode {
    match (method, path) {
        ("POST", "/logout" | "/cases/{id}/decision" | "/cases/{id}/notes") => StatusCode::SEE_OTHER,
        ("POST", "/account/password") => StatusCode::UNPROCESSABLE_ENTITY,
        // A CSV with a bad row: validated and refused (the report is the page).
        ("POST", "/imports") => StatusCode::UNPROCESSABLE_ENTITY,
        // Wrong password on purpose (a good one would log the walker out of its role).
        ("POST", "/login") => StatusCode::UNAUTHORIZED,
        _ => StatusCode::OK,
    }
}

fn multipart(csrf: &str) -> (String, Vec<u8>) {
    let boundary = "duankaBoundary7MA4YWxkTrZu0gW";
    let mut body = String::new();
    for (name, value) in [("csrf", csrf), ("kind", "registry"), ("tz", "+08:00")] {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"reg.csv\"\r\nContent-Type: text/csv\r\n\r\n\
         imsi,msisdn,iccid,carrier,owner_id,owner_name,outlet_id,outlet_name,channel,activated_at\r\n\
         12345,13800000000,89860000000000000000,CMCC,{OWNER},x,O,o,outlet,2024-03-01T10:00:00+08:00\r\n--{boundary}--\r\n"
    ));
    (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_table_says() {
    // One case per role, so that each role's decision starts from `new`.
    let fx = Fixture::new(Role::ALL.len() as i64);
    let mut checked = 0;
    for (i, role) in std::iter::once(None).chain(Role::ALL.into_iter().map(Some)).enumerate() {
        let case = fx.cases[i.saturating_sub(1)];
        for &(method, path, roles) in routes() {
            // A fresh session per request: logging out or a refused form must
            // not change what the next row sees.
            let mut c = match role {
                Some(r) => fx.logged_in(r).await,
                None => fx.client(),
            };
            let url = path.replace("{id}", &case.to_string());
            let csrf = if role.is_some() { c.csrf().await } else { String::new() };
            let answer = match (method, path) {
                ("GET", _) => c.get(&url).await,
                ("POST", "/imports") => {
                    let (ct, body) = multipart(&csrf);
                    c.send("POST", &url, Some(&ct), body).await
                }
                ("POST", "/login") => c.login("analyst", "wrong password here").await,
                _ => {
                    let mut pairs = vec![("csrf", csrf.as_str())];
                    pairs.extend(body_for(path));
                    c.post_raw(&url, &pairs).await
                }
            };
            let expected = match (roles, role) {
                (None, _) => allowed_status(method, path),
                (Some(_), None) => StatusCode::SEE_OTHER,
                (Some(allowed), Some(r)) if r == Role::Admin || allowed.is_empty() || allowed.contains(&r) => {
                    allowed_status(method, path)
                }
                (Some(_), Some(_)) => StatusCode::FORBIDDEN,
            };
            assert_eq!(
                answer.status,
                expected,
                "{method} {path} as {}: {}",
                who(role),
                &answer.text[..answer.text.len().min(400)]
            );
            if role.is_none() && roles.is_some() {
                let to = answer.location.as_deref().unwrap_or("");
                assert!(to.starts_with("/login?next="), "{method} {path} anonymous: redirected to {to:?}");
            }
            if expected == StatusCode::FORBIDDEN {
                // A refusal shows nothing of the case.
                assert!(
                    !answer.text.contains(OWNER_MASKED) && !answer.text.contains(OWNER),
                    "{method} {path} as {}",
                    who(role)
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes().len() * (Role::ALL.len() + 1));
}

#[tokio::test]
async fn the_navigation_offers_only_what_the_role_may_open() {
    let fx = Fixture::new(1);
    let mut engineer = fx.logged_in(Role::Engineer).await;
    let home = engineer.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.text.contains(r#"href="/probes""#) && home.text.contains(r#"href="/imports""#), "{}", home.text);
    assert!(!home.text.contains(r#"href="/cases""#) && !home.text.contains(r#"href="/audit""#), "{}", home.text);
    let mut auditor = fx.logged_in(Role::Auditor).await;
    let home = auditor.get("/").await;
    assert!(home.text.contains(r#"href="/audit""#) && !home.text.contains(r#"href="/exports""#));
}

#[tokio::test]
async fn forms_without_the_session_csrf_token_are_refused_and_change_nothing() {
    let fx = Fixture::new(1);
    let case = fx.cases[0];
    let mut analyst = fx.logged_in(Role::Analyst).await;
    let url = format!("/cases/{case}/decision");
    let fields = [("state", "confirmed"), ("reason", "forged")];
    // No token, a wrong token, and another session's token.
    let mut other = fx.logged_in(Role::Analyst).await;
    let others = other.csrf().await;
    for token in [None, Some("AAAA"), Some(others.as_str())] {
        let mut pairs: Vec<(&str, &str)> = fields.to_vec();
        if let Some(t) = token {
            pairs.push(("csrf", t));
        }
        let r = analyst.post_raw(&url, &pairs).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "token {token:?}: {}", r.text);
        assert!(r.text.contains("CSRF"), "{}", r.text);
    }
    for path in ["/exports/blocklist", &format!("/cases/{case}/reveal"), "/logout"] {
        assert_eq!(analyst.post_raw(path, &[("csrf", "nope")]).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let state: String =
        fx.db(move |c| c.query_row("SELECT state FROM cases WHERE id = ?1", [case], |r| r.get(0)).unwrap()).await;
    assert_eq!(state, "new");
    let exports: i64 = fx
        .db(|c| {
            c.query_row("SELECT count(*) FROM audit_log WHERE action IN ('export', 'case.reveal')", [], |r| r.get(0))
                .unwrap()
        })
        .await;
    assert_eq!(exports, 0);
    // With the right token it goes through.
    assert_eq!(analyst.post(&url, &fields).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_cross_site_post_is_refused_even_with_a_token() {
    let fx = Fixture::new(1);
    let mut analyst = fx.logged_in(Role::Analyst).await;
    let csrf = analyst.csrf().await;
    let body = crate::support::ui::form(&[("csrf", &csrf)]);
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/exports/blocklist")
        .header("host", "agent.test")
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", analyst.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
        .body(axum::body::Body::from(body))
        .unwrap();
    let r = tower::ServiceExt::oneshot(duanka_agent::server::app(fx.state.clone()), request).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_login_form_needs_its_double_submit_token() {
    let fx = Fixture::new(0);
    let mut c = fx.client();
    let r = c.post_raw("/login", &[("csrf", "x"), ("name", "admin"), ("password", &password(Role::Admin))]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no login cookie: {}", r.text);
    c.get("/login").await;
    let r = c
        .post_raw("/login", &[("csrf", "not-the-cookie"), ("name", "admin"), ("password", &password(Role::Admin))])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!c.cookies.contains_key(duanka_agent::server::ui::SESSION_COOKIE));
}

#[tokio::test]
async fn session_cookies_are_httponly_secure_and_strict() {
    let fx = Fixture::new(0);
    let mut c = fx.client();
    let page = c.get("/login").await;
    let csrf = crate::support::ui::csrf_in(&page.text).unwrap();
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/login")
        .header("host", "agent.test")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("__Host-duanka_login={}", c.cookies["__Host-duanka_login"]))
        .body(axum::body::Body::from(crate::support::ui::form(&[
            ("csrf", &csrf),
            ("name", "analyst"),
            ("password", &password(Role::Analyst)),
        ])))
        .unwrap();
    let r = tower::ServiceExt::oneshot(duanka_agent::server::app(fx.state.clone()), request).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("__Host-duanka_session="))
        .expect("a session cookie");
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(part), "{session}");
    }
    let csp = r.headers().get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_and_audited() {
    let fx = Fixture::new(0);
    let mut c = fx.client();
    for _ in 0..5 {
        assert_eq!(c.login("analyst", "wrong password!").await.status, StatusCode::UNAUTHORIZED);
    }
    // The sixth try is refused before the password is looked at, even the right one.
    let r = c.login("analyst", &password(Role::Analyst)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    // Other accounts are not locked by it.
    assert_eq!(c.login("admin", &password(Role::Admin)).await.status, StatusCode::SEE_OTHER);
    // After the window the account logs in again.
    fx.clock.advance(Duration::from_secs(15 * 60 + 1));
    let mut c = fx.client();
    assert_eq!(c.login("analyst", &password(Role::Analyst)).await.status, StatusCode::SEE_OTHER);
    let (failed, limited): (i64, i64) = fx
        .db(|c| {
            c.query_row(
                "SELECT count(*), sum(detail LIKE '%rate_limited%') FROM audit_log WHERE action = 'login.failed' AND target = 'user:analyst'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
        })
        .await;
    assert_eq!((failed, limited), (6, 1));
}

#[tokio::test]
async fn failed_logins_are_limited_per_address() {
    let fx = Fixture::with(0, |c| c.limits.per_address = 4);
    let attacker: std::net::IpAddr = "203.0.113.9".parse().unwrap();
    let mut c = fx.client();
    c.addr = Some(attacker);
    // Spread over names (each under its own limit), from one address.
    for name in ["a1", "a2", "a3", "a4"] {
        assert_eq!(c.login(name, "guess-guess-guess").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(c.login("admin", &password(Role::Admin)).await.status, StatusCode::TOO_MANY_REQUESTS);
    let mut elsewhere = fx.client();
    elsewhere.addr = Some("198.51.100.7".parse().unwrap());
    assert_eq!(elsewhere.login("admin", &password(Role::Admin)).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_their_absolute_limit() {
    let fx = Fixture::with(0, |c| {
        c.idle = Duration::from_secs(30 * 60);
        c.absolute = Duration::from_secs(2 * 3600);
    });
    // Idle: 29 minutes is fine (and resets the idle clock), 31 is not.
    let mut c = fx.logged_in(Role::Analyst).await;
    fx.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    fx.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    fx.clock.advance(Duration::from_secs(31 * 60));
    let r = c.get("/cases").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some("/login?next=/cases&expired=1"));
    let page = c.get("/login?next=/cases&expired=1").await;
    assert!(page.text.contains("会话已过期"), "{}", page.text);
    // The expired session stays dead even if the clock were to go back.
    assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);

    // Absolute: busy every 20 minutes, still out after 2 hours.
    let mut c = fx.logged_in(Role::Analyst).await;
    for _ in 0..6 {
        fx.clock.advance(Duration::from_secs(20 * 60));
        assert_eq!(c.get("/").await.status, StatusCode::OK);
    }
    fx.clock.advance(Duration::from_secs(60));
    assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let fx = Fixture::new(0);
    let mut c = fx.logged_in(Role::Analyst).await;
    let stolen = c.cookies.clone();
    assert_eq!(c.post("/logout", &[]).await.status, StatusCode::SEE_OTHER);
    // A copy of the cookie taken before logout no longer works.
    c.cookies = stolen;
    assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_disabled_account_is_logged_out_and_cannot_log_in() {
    let fx = Fixture::new(0);
    let mut c = fx.logged_in(Role::Analyst).await;
    fx.db(|c| duanka_agent::users::disable_user(c, "analyst", 0).unwrap()).await;
    assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(fx.client().login("analyst", &password(Role::Analyst)).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn owners_are_masked_until_an_analyst_reveals_them_and_the_reveal_is_audited() {
    let fx = Fixture::new(1);
    let case = fx.cases[0];
    let mut analyst = fx.logged_in(Role::Analyst).await;
    let page = analyst.get(&format!("/cases/{case}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(OWNER_MASKED), "masked id on the page");
    assert!(!page.text.contains(OWNER), "no full id before reveal");
    assert!(!page.text.contains("李四") && page.text.contains("李*"), "masked name");
    // Evidence with value, threshold and weight; the graph; the timeline.
    for needle in [
        "goip.user_agent.dble",
        "User-Agent: dble",
        "User-Agent == dble",
        "+3.5",
        "<svg",
        "opened by correlation",
        "UTC+08:00",
    ] {
        assert!(page.text.contains(needle), "{needle} on the case page");
    }
    let revealed = analyst.post(&format!("/cases/{case}/reveal"), &[]).await;
    assert_eq!(revealed.status, StatusCode::OK);
    assert!(revealed.text.contains(OWNER) && revealed.text.contains("李四"));
    let (actor, target): (String, String) = fx
        .db(|c| {
            c.query_row("SELECT actor, target FROM audit_log WHERE action = 'case.reveal'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
        })
        .await;
    assert_eq!((actor.as_str(), target), ("user:analyst", format!("case:{case}")));
    // The reveal shows in the case's timeline.
    let page = analyst.get(&format!("/cases/{case}")).await;
    assert!(page.text.contains("case.reveal"), "the reveal is on the timeline");
}

#[tokio::test]
async fn a_decision_needs_a_reason_and_records_who_when_and_why() {
    let fx = Fixture::new(1);
    let case = fx.cases[0];
    let mut analyst = fx.logged_in(Role::Analyst).await;
    let url = format!("/cases/{case}/decision");
    let r = analyst.post(&url, &[("state", "dismissed"), ("reason", "   ")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("a reason is required"), "{}", r.text);
    let r = analyst.post(&url, &[("state", "confirmed"), ("reason", "7 cards on one id; GoIP control plane")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // confirmed → dismissed is not a move the state machine allows.
    let r = analyst.post(&url, &[("state", "dismissed"), ("reason", "changed my mind")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("cannot move"), "{}", r.text);
    let (actor, reason, to): (String, String, String) = fx
        .db(move |c| {
            c.query_row(
                "SELECT actor, reason, to_state FROM case_history WHERE case_id = ?1 ORDER BY id DESC LIMIT 1",
                [case],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
        })
        .await;
    assert_eq!(
        (actor.as_str(), reason.as_str(), to.as_str()),
        ("user:analyst", "7 cards on one id; GoIP control plane", "confirmed")
    );
    let detail: String = fx
        .db(|c| c.query_row("SELECT detail FROM audit_log WHERE action = 'case.decision'", [], |r| r.get(0)).unwrap())
        .await;
    assert!(detail.contains(r#""from":"new""#) && detail.contains(r#""to":"confirmed""#), "{detail}");
}

#[tokio::test]
async fn exports_carry_confirmed_cases_and_are_audited() {
    let fx = Fixture::new(2);
    let (confirmed, open) = (fx.cases[0], fx.cases[1]);
    let mut analyst = fx.logged_in(Role::Analyst).await;
    analyst.post(&format!("/cases/{confirmed}/decision"), &[("state", "confirmed"), ("reason", "fraud")]).await;
    let csv = analyst.post("/exports/blocklist", &[]).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type.as_deref().unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines[0], "imsi,msisdn,iccid,imei,carrier,case_id,confirmed_at");
    assert_eq!(lines.len(), 4, "three SIMs of the confirmed case only: {}", csv.text);
    for imsi in crate::support::ui::imsis(confirmed) {
        assert!(csv.text.contains(&imsi));
    }
    assert!(!csv.text.contains(&crate::support::ui::imsis(open)[0]));
    assert!(lines[1].contains(&format!(",CMCC,{confirmed},")), "{}", lines[1]);
    let list = analyst.post("/exports/disciplinary", &[]).await;
    assert!(list.text.lines().nth(1).unwrap().starts_with(&format!("{OWNER},resident,李四,")), "{}", list.text);
    assert!(list.text.contains("5年内不得新办"), "{}", list.text);
    let bundle = analyst.post(&format!("/cases/{confirmed}/bundle"), &[]).await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert_eq!(bundle.content_type.as_deref(), Some("application/zip"));
    let key = duanka_agent::export::keys::load_public(fx.dir.path()).unwrap().expect("the key was made on first use");
    let v = duanka_agent::export::bundle::verify(&bundle.bytes, &key);
    assert!(v.ok(), "{:?}", v.failures);
    let exports: Vec<String> = fx
        .db(|c| {
            c.prepare("SELECT target FROM audit_log WHERE action = 'export' ORDER BY id")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        })
        .await;
    assert_eq!(exports, vec!["export:blocklist".to_owned(), "export:disciplinary".into(), format!("case:{confirmed}")]);
}

#[tokio::test]
async fn the_case_list_filters_sorts_and_pages() {
    let fx = Fixture::new(3);
    let mut analyst = fx.logged_in(Role::Analyst).await;
    analyst.post(&format!("/cases/{}/decision", fx.cases[1]), &[("state", "confirmed"), ("reason", "fraud")]).await;
    let all = analyst.get("/cases").await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.text.contains("共 3 个案件"), "{}", all.text);
    let confirmed = analyst.get("/cases?state=confirmed&lang=en").await;
    assert!(!confirmed.text.contains("3 cases") && confirmed.text.contains("1 cases"), "{}", confirmed.text);
    assert!(confirmed.text.contains(&format!(r#"href="/cases/{}""#, fx.cases[1])));
    let none = analyst.get("/cases?probe=elsewhere&lang=zh").await;
    assert!(none.text.contains("共 0 个案件"), "{}", none.text);
    let by_probe = analyst.get("/cases?probe=site-1&sort=id").await;
    assert!(by_probe.text.contains("共 3 个案件"));
    for bad in ["/cases?state=open", "/cases?sort=worst", "/cases?from=yesterday", "/cases?page=0"] {
        let r = analyst.get(bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // Days are China Standard Time: the seeded cases changed at 2026-11-22T23:59:59Z,
    // which is 07:59:59 on the 23rd there.
    assert!(analyst.get("/cases?to=2026-11-22").await.text.contains("共 0 个案件"));
    assert!(analyst.get("/cases?from=2026-11-23&to=2026-11-23&state=new").await.text.contains("共 2 个案件"));
}

#[tokio::test]
async fn english_is_one_click_away_and_remembered() {
    let fx = Fixture::new(0);
    let mut c = fx.logged_in(Role::Admin).await;
    assert!(c.get("/").await.text.contains("概览"));
    let en = c.get("/?lang=en").await;
    assert!(en.text.contains("Dashboard") && en.text.contains(r#"lang="en""#));
    assert!(c.get("/audit").await.text.contains("Audit log"), "the cookie keeps English");
}

#[tokio::test]
async fn a_password_change_checks_the_current_one_and_ends_other_sessions() {
    let fx = Fixture::new(0);
    let mut a = fx.logged_in(Role::Analyst).await;
    let mut b = fx.logged_in(Role::Analyst).await;
    let new = "an entirely new passphrase";
    let r =
        a.post("/account/password", &[("current", &password(Role::Analyst)), ("new", new), ("confirm", "typo")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = a.post("/account/password", &[("current", &password(Role::Analyst)), ("new", new), ("confirm", new)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(a.get("/").await.status, StatusCode::OK, "this session stays");
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER, "the other one ends");
    assert_eq!(fx.client().login("analyst", new).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_audit_page_shows_the_chain_and_notices_tampering() {
    let fx = Fixture::new(1);
    let mut admin = fx.logged_in(Role::Admin).await;
    let page = admin.get("/audit").await;
    assert!(page.text.contains(r#"id="chain-ok""#), "{}", page.text);
    assert!(page.text.contains("user:admin"));
    fx.db(|c| {
        c.execute_batch("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'user:nobody' WHERE id = 1")
            .unwrap()
    })
    .await;
    let page = admin.get("/audit").await;
    assert!(page.text.contains(r#"id="chain-broken""#) && page.text.contains("断裂于记录 1"), "{}", page.text);
}

#[tokio::test]
async fn the_dashboard_counts_detections_open_cases_and_alarms() {
    let fx = Fixture::new(2);
    fx.db(|c| {
        c.execute("INSERT INTO alarms (probe_id, kind, detail, occurred_at) VALUES (1, 'tamper', 'lid opened', ?1)", [crate::support::ui::START_MS - 5_000]).unwrap();
        c.execute(
            "UPDATE probes SET heartbeat_json = ?1",
            [serde_json::json!({"at": "x", "at_ms": crate::support::ui::START_MS - 60_000, "heartbeat": {"packets": 1234, "drops": 5, "spool_depth": 7, "board": "tamper", "version": "0.1.0"}}).to_string()],
        )
        .unwrap();
    })
    .await;
    let mut engineer = fx.logged_in(Role::Engineer).await;
    let page = engineer.get("/").await;
    assert!(page.text.contains(r#"id="open-critical">2<"#), "{}", page.text);
    assert!(page.text.contains(r#"id="probes-online">1<"#));
    assert!(page.text.contains("lid opened"));
    assert!(
        page.text.contains("<svg") && page.text.contains("2026-11-23: 2"),
        "both gateways detected that morning: {}",
        page.text
    );
    let probes = engineer.get("/probes").await;
    for needle in ["1234", ">5<", ">7<", "0.1.0", "已触发"] {
        assert!(probes.text.contains(needle), "{needle} on the probes page");
    }
}

/// The Luhn check digit of `digits`.
fn luhn(digits: &str) -> u32 {
    let sum: u32 = digits
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap();
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

#[tokio::test]
async fn an_engineer_uploads_a_registry_file_and_the_import_is_audited() {
    let fx = Fixture::new(0);
    let mut engineer = fx.logged_in(Role::Engineer).await;
    let csrf = engineer.csrf().await;
    let iccid = format!("898600000000000001{}", luhn("898600000000000001"));
    let boundary = "b0undary";
    let mut body = String::new();
    for (name, value) in [("csrf", csrf.as_str()), ("kind", "registry"), ("tz", "+08:00")] {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"subscribers.csv\"\r\n\r\n\
         imsi,msisdn,iccid,carrier,owner_id,owner_name,outlet_id,outlet_name,channel,activated_at\r\n\
         460001234567890,13800000000,{iccid},CMCC,{OWNER},王五,OUT-1,Outlet 1,outlet,2024-03-01 10:00:00\r\n--{boundary}--\r\n"
    ));
    let r = engineer
        .send("POST", "/imports", Some(&format!("multipart/form-data; boundary={boundary}")), body.into_bytes())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains(r#"id="import-ok""#) && r.text.contains("subscribers.csv"), "{}", r.text);
    // The engineer's page shows the file, never the owner in it.
    assert!(!r.text.contains(OWNER) && !r.text.contains("王五"));
    let detail: String =
        fx.db(|c| c.query_row("SELECT detail FROM audit_log WHERE action = 'import'", [], |r| r.get(0)).unwrap()).await;
    assert!(detail.contains(r#""status":"imported""#) && detail.contains(r#""rows":1"#), "{detail}");
    let stored: i64 = fx.db(|c| c.query_row("SELECT count(*) FROM registry", [], |r| r.get(0)).unwrap()).await;
    assert_eq!(stored, 1);
    // The upload is not left behind in the data directory.
    let left = std::fs::read_dir(fx.dir.path().join("uploads")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0);
}
