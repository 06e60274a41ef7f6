//! Correlation and cases on a small hand-made store.

use rusqlite::{params, Connection};

use super::*;
use crate::correlate::{self, Config};
use crate::store::Store;

const T0: i64 = 1_793_583_000_000;
const HOUR: i64 = 3_600_000;

/// A valid GB 11643 resident id: 17 digits and the check character.
fn resident(n: u32) -> String {
    let body = format!("37010219900101{n:03}");
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.chars().zip(W).map(|(c, w)| c.to_digit(10).unwrap() * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

fn imsi(n: u32) -> String {
    format!("4600012{n:08}")
}

struct Fixture {
    store: Store,
}

impl Fixture {
    fn new() -> Fixture {
        let store = Store::open_in_memory().unwrap();
        store
            .conn()
            .execute_batch(
                "INSERT INTO probes (id, name, token_hash, created_at) VALUES (1, 'site-a', 'h', 0);
                 INSERT INTO imports (id, kind, file, sha256, rows, started_at, actor) VALUES (1, 'registry', 'r.csv', 'x', 0, 0, 't');",
            )
            .unwrap();
        Fixture { store }
    }

    fn conn(&self) -> &Connection {
        self.store.conn()
    }

    fn gateway(&self, id: i64, address: &str, verdict: &str) {
        self.conn()
            .execute(
                "INSERT INTO gateways (id, probe_id, address, verdict, score, vendor, report_json, updated_at)
                 VALUES (?1, 1, ?2, ?3, 9.5, 'dbl', ?4, 0)",
                params![
                    id,
                    address,
                    verdict,
                    r#"{"address":"x","verdict":"simbox","score":9.5,"evidence":[{"kind":"signature","id":"dbl.user_agent.dble","weight":6.0,"detail":"GoIP UA","observed":"dble","threshold":"user_agent ~ ^dble$","vendor":"dbl","counted":true,"occurrences":3,"frames":[1],"file":null}]}"#
                ],
            )
            .unwrap();
    }

    fn link(&self, gw: i64, kind: &str, value: &str, source: &str, confidence: f64) {
        self.conn()
            .execute(
                "INSERT INTO gateway_links (gateway_id, kind, value, source, confidence, first_seen_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, 0)",
                params![gw, kind, value, source, confidence],
            )
            .unwrap();
    }

    #[allow(clippy::too_many_arguments)]
    fn card(&self, imsi: &str, owner: &str, carrier: &str, outlet: &str, at: i64) {
        self.conn()
            .execute(
                "INSERT INTO registry (imsi, msisdn, iccid, carrier, owner_id, owner_id_kind, owner_name, outlet_id,
                                       outlet_name, channel, activated_at, import_id)
                 VALUES (?1, '13800000000', ?2, ?3, ?4, 'resident', '张三', ?5, ?5, 'outlet', ?6, 1)",
                params![imsi, format!("8986{}", &imsi[5..]), carrier, owner, outlet, at],
            )
            .unwrap();
    }

    fn cdr(&self, imsi: &str, imei: &str, called: &str, at: i64) {
        self.conn()
            .execute(
                "INSERT INTO cdrs (imsi, imei, msisdn, called, started_at, duration_s, cell, import_id)
                 VALUES (?1, ?2, '13800000000', ?3, ?4, 30, '460-00-1-1', 1)",
                params![imsi, imei, called, at],
            )
            .unwrap();
    }

    fn call(&self, gw: i64, called: &str, at: i64) {
        self.conn()
            .execute(
                "INSERT INTO gateway_calls (gateway_id, called, started_at, direction) VALUES (?1, ?2, ?3, 'in')",
                params![gw, called, at],
            )
            .unwrap();
    }

    fn correlate(&mut self) -> correlate::Outcome {
        correlate::full(self.store.conn_mut(), &Config::default()).unwrap()
    }
}

#[test]
fn a_gateway_becomes_one_case_with_its_owners_outlets_and_bursts() {
    let mut f = Fixture::new();
    f.gateway(1, "198.51.100.10", "simbox");
    f.gateway(2, "198.51.100.99", "clean");
    // Eight SIMs announced by the gateway; one owner holds six cards at one carrier.
    let recruiter_owner = resident(1);
    for n in 0..8 {
        f.link(1, "imsi", &imsi(n), "control_plane", 1.0);
        let owner = if n < 6 { recruiter_owner.clone() } else { resident(10 + n) };
        // Opened at outlet A within two hours, except the last one a month later elsewhere.
        let (outlet, at) = if n < 7 { ("A", T0 + i64::from(n) * 15 * 60_000) } else { ("B", T0 + 720 * HOUR) };
        f.card(&imsi(n), &owner, "CMCC", outlet, at);
    }
    // Another card of the same owner, not in the gateway, opened in the same burst.
    f.card(&imsi(50), &recruiter_owner, "CMCC", "A", T0 + 20 * 60_000);
    // A clean gateway's link makes no case.
    f.link(2, "imsi", &imsi(99), "call_match", 0.9);

    let out = f.correlate();
    assert_eq!((out.clusters, out.cases_opened), (1, 1), "{out:?}");
    let cases = list(f.conn(), &ListFilter::default()).unwrap();
    assert_eq!(cases.len(), 1);
    let c = &cases[0];
    assert_eq!(c.gateways, vec!["198.51.100.10"]);
    assert_eq!(c.imsis.len(), 8);
    assert_eq!(c.state, "new");
    assert_eq!(c.severity, "critical", "simbox + over-limit owner + burst");

    let d = show(f.conn(), c.id, false).unwrap();
    let top = &d.owners[0];
    assert_eq!((top.cards_in_case, top.cards_registered, top.over_limit), (6, 7, true));
    assert_eq!(top.owner_id, "3701**********".to_string() + &recruiter_owner[14..], "masked");
    assert_eq!(top.owner_name, "张*");
    let a = d.outlets.iter().find(|o| o.outlet_id == "A").unwrap();
    assert_eq!(a.cards_in_case, 7);
    assert!(a.possible_insider);
    assert_eq!(d.bursts.len(), 1, "{:?}", d.bursts);
    assert_eq!((d.bursts[0].cards, d.bursts[0].other_cards), (7, 1));
    assert!(d.findings.iter().any(|x| x.kind == "owner_over_limit"));
    assert_eq!(d.evidence[0].id, "dbl.user_agent.dble");
    assert_eq!(d.history[0].to_state, "new");
    let revealed = show(f.conn(), c.id, true).unwrap();
    assert_eq!(revealed.owners[0].owner_id, recruiter_owner);

    // Idempotent: a second run changes nothing.
    let again = f.correlate();
    assert_eq!((again.cases_opened, again.cases_updated, again.cases_reopened), (0, 0, 0), "{again:?}");
}

#[test]
fn cdrs_name_the_sims_of_a_gateway_without_a_control_plane() {
    let mut f = Fixture::new();
    f.gateway(1, "198.51.100.10", "suspect");
    // Three calls through the gateway; each matches one CDR of SIM 1 or 2 a few seconds later.
    for (i, sim) in [(0, 1), (1, 1), (2, 2)] {
        let called = format!("1390000000{i}");
        f.call(1, &called, T0 + i * 60_000);
        f.cdr(&imsi(sim), "861904020000010", &called, T0 + i * 60_000 + 3_000);
    }
    // A call both SIM 3 and SIM 4 fit: ambiguous, names neither.
    f.call(1, "13900000009", T0 + 10 * 60_000);
    f.cdr(&imsi(3), "355555550001011", "13900000009", T0 + 10 * 60_000 + 2_000);
    f.cdr(&imsi(4), "355555550002021", "13900000009", T0 + 10 * 60_000 + 4_000);
    // A CDR outside the window names nothing.
    f.call(1, "13900000008", T0 + 20 * 60_000);
    f.cdr(&imsi(5), "355555550003031", "13900000008", T0 + 20 * 60_000 + 30_000);

    let out = f.correlate();
    assert_eq!(out.calls_checked, 5);
    let cases = list(f.conn(), &ListFilter::default()).unwrap();
    assert_eq!(cases.len(), 1, "{cases:#?}");
    let d = show(f.conn(), cases[0].id, true).unwrap();
    // SIM 1 (2 calls, confidence 0.667) and SIM 2 (1 call, 0.5); the shared module ties them too.
    assert_eq!(d.imsis, vec![imsi(1), imsi(2)], "{d:#?}");
    assert_eq!(d.imeis, vec!["86190402000001".to_string()]);
    assert!(d.sims[0].ties.iter().any(|t| t.via == "cdr_match" && t.calls_matched == 2));
    // Two SIMs in one gateway module is not rotation.
    assert!(!d.findings.iter().any(|x| x.kind == "rotating_module"), "{:?}", d.findings);
    assert_eq!(d.unregistered_sims, 2);
}

#[test]
fn a_rotating_module_without_a_gateway_is_a_case_and_phones_are_not() {
    let mut f = Fixture::new();
    for n in 0..4 {
        f.cdr(&imsi(n), "861904020000024", &format!("1380000000{n}"), T0 + i64::from(n) * 1000);
    }
    // A dual-SIM phone: two SIMs in one IMEI is not rotation.
    f.cdr(&imsi(20), "355555550000099", "13811111111", T0);
    f.cdr(&imsi(21), "355555550000099", "13811111112", T0);
    f.correlate();
    let cases = list(f.conn(), &ListFilter::default()).unwrap();
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(cases[0].imsis.len(), 4);
    assert!(cases[0].gateways.is_empty());
    assert_eq!(cases[0].severity, "medium");
    let d = show(f.conn(), cases[0].id, false).unwrap();
    let rotation: Vec<&str> =
        d.findings.iter().filter(|x| x.kind == "rotating_module").map(|x| x.text.as_str()).collect();
    assert_eq!(rotation, vec!["module 86190402000002 carried 4 of its SIMs in turn"]);
}

#[test]
fn decisions_are_checked_recorded_and_new_evidence_reopens() {
    let mut f = Fixture::new();
    f.gateway(1, "198.51.100.10", "simbox");
    for n in 0..3 {
        f.link(1, "imsi", &imsi(n), "control_plane", 1.0);
        f.card(&imsi(n), &resident(n), "CMCC", "A", T0 + i64::from(n) * 40 * 24 * HOUR);
    }
    f.correlate();
    let id = list(f.conn(), &ListFilter::default()).unwrap()[0].id;
    let conn = f.store.conn_mut();
    assert!(matches!(set_state(conn, id, State::Confirmed, "ana", " "), Err(CaseError::NoReason)));
    assert!(matches!(set_state(conn, 99, State::Confirmed, "ana", "x"), Err(CaseError::NotFound(99))));
    set_state(conn, id, State::Reviewing, "ana", "looking").unwrap();
    assert!(matches!(set_state(conn, id, State::New, "ana", "x"), Err(CaseError::BadTransition { .. })));
    set_state(conn, id, State::Confirmed, "ana", "UA and 3 SIMs confirmed with the carrier").unwrap();
    let blocked: i64 =
        conn.query_row("SELECT count(*) FROM blocked_cards WHERE case_id = ?1", [id], |r| r.get(0)).unwrap();
    assert_eq!(blocked, 3);

    // Re-running correlation with nothing new leaves the decision alone.
    let out = f.correlate();
    assert_eq!(out.cases_reopened, 0);
    assert_eq!(show(f.conn(), id, false).unwrap().state, "confirmed");

    // A new SIM in the gateway reopens it, and the history says why.
    f.link(1, "imsi", &imsi(7), "call_match", 0.9);
    let out = f.correlate();
    assert_eq!(out.cases_reopened, 1, "{out:?}");
    let d = show(f.conn(), id, false).unwrap();
    assert_eq!(d.state, "reviewing");
    let last = d.history.last().unwrap();
    assert_eq!((last.actor.as_str(), last.to_state.as_str()), ("correlator", "reviewing"));
    assert!(last.reason.contains("1 new imsi"), "{}", last.reason);
    let actors: Vec<&str> = d.history.iter().map(|h| h.actor.as_str()).collect();
    assert_eq!(actors, vec!["correlator", "ana", "ana", "correlator"]);
}

#[test]
fn a_blocked_card_coming_back_is_found_and_two_joined_clusters_become_one_case() {
    let mut f = Fixture::new();
    f.gateway(1, "198.51.100.10", "simbox");
    f.link(1, "imsi", &imsi(1), "control_plane", 1.0);
    f.card(&imsi(1), &resident(1), "CMCC", "A", T0);
    f.correlate();
    let first = list(f.conn(), &ListFilter::default()).unwrap()[0].id;
    set_state(f.store.conn_mut(), first, State::Confirmed, "ana", "confirmed").unwrap();

    // A second gateway elsewhere, with its own SIM: a second case.
    f.gateway(2, "203.0.113.20", "simbox");
    f.link(2, "imsi", &imsi(2), "control_plane", 1.0);
    f.correlate();
    let cases = list(f.conn(), &ListFilter::default()).unwrap();
    assert_eq!(cases.len(), 2);
    let second = cases.iter().find(|c| c.id != first).unwrap().id;

    // The blocked SIM turns up in the second gateway: the clusters join into the older case.
    f.link(2, "imsi", &imsi(1), "call_match", 0.8);
    let out = f.correlate();
    assert_eq!(out.cases_merged, 1, "{out:?}");
    let d = show(f.conn(), first, false).unwrap();
    assert_eq!(d.gateways.len(), 2);
    assert_eq!(d.state, "reviewing", "new gateway reopened it");
    let gone = show(f.conn(), second, false).unwrap();
    assert_eq!(gone.state, "dismissed");
    assert!(gone.history.last().unwrap().reason.contains(&format!("merged into case {first}")));
}

#[test]
fn an_owner_in_two_cases_is_named_in_both_and_a_second_run_changes_nothing() {
    let mut f = Fixture::new();
    let shared_owner = resident(5);
    for (gw, address) in [(1, "198.51.100.10"), (2, "203.0.113.20")] {
        f.gateway(gw, address, "simbox");
        for n in 0..2 {
            let sim = imsi(gw as u32 * 10 + n);
            f.link(gw, "imsi", &sim, "control_plane", 1.0);
            f.card(&sim, &shared_owner, "CMCC", "A", T0 + i64::from(n) * 40 * 24 * HOUR + gw * 90 * 24 * HOUR);
        }
    }
    let first = f.correlate();
    assert_eq!(first.cases_opened, 2);
    let cases = list(f.conn(), &ListFilter::default()).unwrap();
    for c in &cases {
        let d = show(f.conn(), c.id, true).unwrap();
        let other = cases.iter().find(|x| x.id != c.id).unwrap().id;
        assert_eq!(d.owners[0].other_cases, vec![other], "case {}", c.id);
        assert!(d.findings.iter().any(|x| x.kind == "owner_in_other_cases"));
    }
    let second = f.correlate();
    assert_eq!((second.cases_opened, second.cases_updated, second.cases_reopened), (0, 0, 0), "{second:?}");
}

/// The registry keeps an IMSI as a number (its rowid): a test network's IMSI
/// with leading zeros finds its card and comes back whole, from a lookup by
/// IMSI, by ICCID and when a case is confirmed; a shorter string of the same
/// digits is another IMSI, which the registry does not hold.
#[test]
fn imsis_with_leading_zeros_find_their_cards_and_shorter_digits_do_not() {
    let mut f = Fixture::new();
    f.gateway(1, "198.51.100.10", "simbox");
    let (zero, by_iccid, short) = ("001010000000001", "001010000000003", "1010000000001");
    f.card(zero, &resident(1), "Test", "A", T0);
    f.card(by_iccid, &resident(3), "Test", "A", T0);
    f.link(1, "imsi", zero, "control_plane", 1.0);
    f.link(1, "imsi", short, "control_plane", 1.0);
    f.link(1, "iccid", &format!("8986{}", &by_iccid[5..]), "control_plane", 1.0);
    f.correlate();
    let id = list(f.conn(), &ListFilter::default()).unwrap()[0].id;
    let d = show(f.conn(), id, true).unwrap();
    assert_eq!(d.imsis, [zero, by_iccid, short]);
    let owner_of = |imsi: &str| d.sims.iter().find(|s| s.imsi == imsi).and_then(|s| s.owner_id.clone());
    assert_eq!(owner_of(zero), Some(resident(1)));
    assert_eq!(owner_of(by_iccid), Some(resident(3)));
    assert_eq!(owner_of(short), None);
    let mut owners: Vec<(String, u64)> = d.owners.iter().map(|o| (o.owner_id.clone(), o.cards_in_case)).collect();
    owners.sort();
    assert_eq!(owners, [(resident(1), 1), (resident(3), 1)]);

    set_state(f.store.conn_mut(), id, State::Confirmed, "ana", "confirmed").unwrap();
    let blocked: Vec<(String, Option<String>)> = f
        .conn()
        .prepare("SELECT imsi, owner_id FROM blocked_cards ORDER BY imsi")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        blocked,
        [(zero.to_owned(), Some(resident(1))), (by_iccid.to_owned(), Some(resident(3))), (short.to_owned(), None)]
    );
}
