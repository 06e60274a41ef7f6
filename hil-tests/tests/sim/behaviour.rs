//! Behaviour (SPEC §3.3): gateways terminate short, rarely answered calls to distinct
//! numbers, back to back, one per line; people and call centres behave otherwise.

use std::collections::HashMap;

use duanka_hil::Role;

use crate::support::{long_sip_only, Case, Sip};

#[derive(Debug, Default)]
struct Call {
    start: u64,
    end: u64,
    caller: String,
    callee: String,
    number: String,
    answered_at: Option<u64>,
    bye_at: Option<u64>,
    final_code: Option<u16>,
    line: Option<String>,
}

fn calls(case: &Case) -> Vec<Call> {
    let mut by_id: HashMap<&str, Call> = HashMap::new();
    let mut order = Vec::new();
    for m in &case.sip {
        let Some(id) = m.header("Call-ID") else { continue };
        let method = m.cseq_method();
        if !by_id.contains_key(id) {
            if !m.is_request("INVITE") {
                continue;
            }
            order.push(id);
            let uri = m.first_line().split(' ').nth(1).unwrap();
            by_id.insert(
                id,
                Call {
                    start: m.ts,
                    caller: m.src.ip().to_string(),
                    callee: m.dst.ip().to_string(),
                    number: Sip::uri_user(uri).to_owned(),
                    ..Call::default()
                },
            );
        }
        let c = by_id.get_mut(id).unwrap();
        c.end = m.ts;
        if let Some(code) = m.status() {
            if method == "INVITE" && (180..200).contains(&code) {
                c.line = m.header("Contact").map(|v| Sip::uri_user(v).to_owned());
            }
            if method == "INVITE" && code >= 200 && code != 401 && code != 407 {
                c.final_code = Some(code);
                if code == 200 {
                    c.answered_at = Some(m.ts);
                }
            }
        } else if m.is_request("BYE") {
            c.bye_at = Some(m.ts);
        }
    }
    order.into_iter().map(|id| by_id.remove(id).unwrap()).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn talk_s(c: &Call) -> Option<f64> {
    Some((c.bye_at? - c.answered_at?) as f64 / 1e6)
}

#[test]
fn gateway_calls_look_like_a_sim_box() {
    let case = long_sip_only();
    let all = calls(case);
    for h in case.truth.simboxes() {
        let mine: Vec<&Call> = all.iter().filter(|c| c.callee == h.address).collect();
        assert!(mine.len() > 100, "{}: {} calls", h.address, mine.len());
        assert!(all.iter().all(|c| c.caller != h.address), "a gateway originated a call");
        let finished: Vec<_> = mine.iter().filter(|c| c.final_code.is_some()).collect();
        let answered = finished.iter().filter(|c| c.final_code == Some(200)).count();
        let ratio = answered as f64 / finished.len() as f64;
        assert!((0.2..0.5).contains(&ratio), "{}: answer ratio {ratio}", h.address);
        let mut numbers: Vec<_> = mine.iter().map(|c| c.number.as_str()).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert!(numbers.len() as f64 >= 0.98 * mine.len() as f64, "repeated callees");
        let talks: Vec<f64> = mine.iter().filter_map(|c| talk_s(c)).collect();
        let m = median(talks.clone());
        assert!((20.0..60.0).contains(&m), "{}: median talk {m}", h.address);
        let short = talks.iter().filter(|t| **t < 30.0).count() as f64 / talks.len() as f64;
        assert!(short > 0.25, "{}: only {short} of calls under 30 s", h.address);
    }
}

#[test]
fn gateway_lines_carry_one_call_at_a_time_back_to_back() {
    let case = long_sip_only();
    let all = calls(case);
    let mut checked = 0;
    for h in case.truth.simboxes().filter(|h| h.accounts.len() as u32 == h.lines) {
        for account in &h.accounts {
            let mut line: Vec<&Call> =
                all.iter().filter(|c| c.callee == h.address && c.line.as_deref() == Some(account)).collect();
            line.sort_by_key(|c| c.start);
            assert!(line.len() > 10, "{account}: {} calls", line.len());
            for w in line.windows(2) {
                assert!(w[1].start > w[0].end, "{account}: calls overlap");
                let gap = (w[1].start - w[0].end) as f64 / 1e6;
                assert!(gap < 5.0, "{account}: idle gap of {gap} s");
            }
            checked += 1;
        }
    }
    assert!(checked >= 8);
}

#[test]
fn people_answer_more_and_talk_longer() {
    let case = long_sip_only();
    let all = calls(case);
    let phones: Vec<&str> =
        case.truth.gateways.iter().filter(|h| h.role == Role::Phone).map(|h| h.address.as_str()).collect();
    let mine: Vec<&Call> = all
        .iter()
        .filter(|c| phones.contains(&c.caller.as_str()) || phones.contains(&c.callee.as_str()))
        .filter(|c| c.final_code.is_some())
        .collect();
    assert!(mine.len() > 30, "{} phone calls", mine.len());
    let answered = mine.iter().filter(|c| c.final_code == Some(200)).count() as f64;
    assert!(answered / mine.len() as f64 > 0.6);
    let m = median(mine.iter().filter_map(|c| talk_s(c)).collect());
    assert!(m > 60.0, "phone median talk {m}");
}

#[test]
fn dialler_only_originates() {
    let case = long_sip_only();
    let all = calls(case);
    let d = case.truth.gateways.iter().find(|h| h.role == Role::Dialler).unwrap();
    let out = all.iter().filter(|c| c.caller == d.address).count();
    let inbound = all.iter().filter(|c| c.callee == d.address).count();
    assert!(out > 300, "{out} dialler calls");
    assert_eq!(inbound, 0);
}

#[test]
fn registrations_refresh_at_the_expiry() {
    let case = long_sip_only();
    let mut by_account: HashMap<&str, Vec<(u64, u32)>> = HashMap::new();
    for m in case.sip.iter().filter(|m| m.is_request("REGISTER") && m.header("Authorization").is_some()) {
        let user = Sip::uri_user(m.header("From").unwrap());
        let expires = m.header("Expires").unwrap().parse().unwrap();
        by_account.entry(user).or_default().push((m.ts, expires));
    }
    let goip = by_account.get("goip1_1").expect("goip1_1 registers");
    for w in goip.windows(2) {
        let gap = (w[1].0 - w[0].0) as f64 / 1e6;
        let e = f64::from(w[0].1);
        assert!(gap <= e && gap > e - 3.0, "refresh after {gap} s with Expires {e}");
    }
    let phone = by_account.get("201").expect("phone 201 registers");
    assert!(phone.iter().all(|(_, e)| *e == 3600));
}
