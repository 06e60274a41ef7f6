//! The review UI's case list at scale: seeds a fresh store with N synthetic
//! cases (default 100,000: 1 gateway and 3-8 SIMs each, spread over 20
//! probes, every state and severity), logs in, then times `GET /cases`
//! in-process through the whole router (session check, query, HTML) for
//! several filters and orders, and prints the median and worst of each.
//! Exit status 3 if a median is over `--max-ms` (issue: 200 ms).
//!
//! ```text
//! cargo run --release -p duanka-agent --example ui_bench -- --cases 100000
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use clap::Parser;
use tower::ServiceExt as _;

use duanka_agent::auth::Role;
use duanka_agent::cases::Summary;
use duanka_agent::correlate::cluster::{GatewayInfo, Tie};
use duanka_agent::correlate::findings::{CaseFindings, OwnerFinding, SimInfo};
use duanka_agent::server::{app, AppState};
use duanka_agent::store::Store;

/// UI benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Cases to seed.
    #[arg(long, default_value_t = 100_000)]
    cases: u32,
    /// Timed requests per query (after one untimed warm-up).
    #[arg(long, default_value_t = 15)]
    requests: usize,
    /// Where to put the store (default: a new temporary directory, removed after).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The budget for each query's median, ms.
    #[arg(long, default_value_t = 200.0)]
    max_ms: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

const PASSWORD: &str = "benchmark-passphrase";
const STATES: [&str; 4] = ["new", "reviewing", "confirmed", "dismissed"];
const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];
const PROBES: u32 = 20;

fn seed(store: &mut Store, n: u32) -> anyhow::Result<()> {
    let tx = store.conn_mut().transaction()?;
    for p in 0..PROBES {
        tx.execute(
            "INSERT INTO probes (name, token_hash, created_at) VALUES (?1, ?2, 0)",
            rusqlite::params![format!("site-{p}"), format!("h{p}")],
        )?;
    }
    let base = 1_790_000_000_000i64;
    {
        let mut case = tx.prepare(
            "INSERT INTO cases (id, cluster_key, state, severity, title, summary_json, evidence_digest, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', ?7, ?8)",
        )?;
        let mut member = tx.prepare("INSERT INTO case_members (case_id, kind, value) VALUES (?1, ?2, ?3)")?;
        for i in 1..=i64::from(n) {
            // A cheap deterministic spread (no RNG needed).
            let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let probe = format!("site-{}", h % u64::from(PROBES));
            let address = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            let sims: Vec<SimInfo> = (0..3 + (h >> 8) % 6)
                .map(|k| SimInfo {
                    imsi: format!("460{:010}{k:02}", i),
                    msisdn: Some(format!("138{:08}", (i * 10 + k as i64) % 100_000_000)),
                    iccid: Some(format!("898600{:012}{k:02}", i)),
                    carrier: Some("CMCC".into()),
                    owner_id: Some(format!("1101051949{:07}X", i % 10_000_000)),
                    outlet_id: Some(format!("OUT-{}", i % 500)),
                    activated_at: Some("2026-10-01T02:00:00.000Z".into()),
                    ties: vec![Tie {
                        via: "control_plane".into(),
                        to: address.clone(),
                        confidence: 1.0,
                        calls_matched: 0,
                    }],
                })
                .collect();
            let summary = Summary {
                cluster_key: format!("bench-{i}"),
                gateways: vec![GatewayInfo {
                    id: i,
                    probe: probe.clone(),
                    address: address.clone(),
                    verdict: "simbox".into(),
                    score: 9.5,
                    vendor: Some("dbl".into()),
                }],
                imeis: vec![],
                iccids: vec![],
                findings: CaseFindings {
                    owners: vec![OwnerFinding {
                        owner_id: sims[0].owner_id.clone().unwrap_or_default(),
                        owner_id_kind: "resident".into(),
                        owner_name: "张三".into(),
                        cards_in_case: sims.len() as u64,
                        cards_registered: sims.len() as u64,
                        cards_by_carrier: BTreeMap::from([("CMCC".into(), sims.len() as u64)]),
                        over_limit: sims.len() > 5,
                        other_cases: vec![],
                        blocked_cards: 0,
                    }],
                    sims,
                    ..CaseFindings::default()
                },
            };
            let created = base + i * 60_000;
            let updated = created + ((h >> 20) % 86_400_000) as i64;
            case.execute(rusqlite::params![
                i,
                summary.cluster_key,
                STATES[((h >> 4) % 4) as usize],
                SEVERITIES[((h >> 12) % 4) as usize],
                format!("dbl at {address}: {} SIMs, 1 owners", summary.findings.sims.len()),
                serde_json::to_string(&summary)?,
                created,
                updated
            ])?;
            member.execute(rusqlite::params![i, "gateway", format!("{probe}:{address}")])?;
            for s in &summary.findings.sims {
                member.execute(rusqlite::params![i, "imsi", s.imsi])?;
            }
        }
    }
    tx.commit()?;
    store.conn().execute_batch("ANALYZE")?;
    Ok(())
}

async fn send(
    state: &AppState,
    method: &str,
    uri: &str,
    cookies: &str,
    body: String,
) -> (StatusCode, Vec<String>, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "bench")
        .header(header::COOKIE, cookies)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("request");
    let response = app(state.clone()).oneshot(request).await.expect("infallible");
    let status = response.status();
    let set: Vec<String> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .collect();
    let text = String::from_utf8_lossy(&to_bytes(response.into_body(), usize::MAX).await.expect("body")).into_owned();
    (status, set, text)
}

fn csrf_in(page: &str) -> String {
    let key = r#"name="csrf" value=""#;
    page.find(key).map(|at| page[at + key.len()..].split('"').next().unwrap_or("").to_owned()).unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let tmp;
    let dir = match &args.data {
        Some(d) => d.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!("duanka-ui-bench-{}", std::process::id()));
            tmp
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = Store::open(&dir)?;
    let t = Instant::now();
    seed(&mut store, args.cases)?;
    duanka_agent::users::add_user(store.conn(), "bench", Role::Analyst, PASSWORD, 0)?;
    let seeded = t.elapsed();
    let state = AppState::new(store);

    // Log in like a browser.
    let (_, set, page) = send(&state, "GET", "/login", "", String::new()).await;
    let login_cookie = set.join("; ");
    let form = format!("csrf={}&name=bench&password={PASSWORD}&next=%2F", csrf_in(&page));
    let (status, set, _) = send(&state, "POST", "/login", &login_cookie, form).await;
    anyhow::ensure!(status == StatusCode::SEE_OTHER, "login failed: {status}");
    let cookies = set.into_iter().find(|c| c.starts_with("__Host-duanka_session=")).unwrap_or_default();

    let last_page = args.cases.div_ceil(50).max(1);
    let queries = [
        ("default order (severity, then last change), page 1".to_owned(), "/cases".to_owned()),
        ("state=reviewing & severity=high".into(), "/cases?state=reviewing&severity=high".into()),
        ("probe=site-7, newest first".into(), "/cases?probe=site-7&sort=created".into()),
        (
            "changed in a 10-day window, least recent first".into(),
            "/cases?from=2026-09-25&to=2026-10-04&sort=updated_asc".into(),
        ),
        (format!("last page ({last_page}), default order"), format!("/cases?page={last_page}")),
    ];
    let mut results = Vec::new();
    let mut over = false;
    for (name, uri) in &queries {
        let (status, _, text) = send(&state, "GET", uri, &cookies, String::new()).await;
        anyhow::ensure!(status == StatusCode::OK, "{uri}: {status}");
        anyhow::ensure!(text.contains("case-link") || uri.contains("from="), "{uri}: no cases on the page");
        let mut times: Vec<Duration> = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            let t = Instant::now();
            let (status, _, _) = send(&state, "GET", uri, &cookies, String::new()).await;
            times.push(t.elapsed());
            anyhow::ensure!(status == StatusCode::OK, "{uri}: {status}");
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let median = ms(times[times.len() / 2]);
        let worst = ms(*times.last().unwrap_or(&Duration::ZERO));
        over |= median > args.max_ms;
        results.push(serde_json::json!({ "query": name, "uri": uri, "median_ms": median, "max_ms": worst, "requests": times.len() }));
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "cases": args.cases, "seed_s": seeded.as_secs_f64(), "results": results })
            )?
        );
    } else {
        println!(
            "{} cases seeded in {:.1} s; {} timed requests per query",
            args.cases,
            seeded.as_secs_f64(),
            args.requests
        );
        println!("{:>10} {:>10}  query", "median ms", "max ms");
        for r in &results {
            println!(
                "{:>10.1} {:>10.1}  {}",
                r["median_ms"].as_f64().unwrap_or(0.0),
                r["max_ms"].as_f64().unwrap_or(0.0),
                r["query"].as_str().unwrap_or("")
            );
        }
    }
    drop(state);
    if args.data.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(if over { ExitCode::from(3) } else { ExitCode::SUCCESS })
}
