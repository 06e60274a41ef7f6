//! The hardware-in-the-loop suite (SPEC 4.4): the real `duanka-probe` and
//! `duanka-agent` binaries, sipp traffic across network namespaces
//! ([`duanka_hil::lab`]), GSMTAP over UDP, a board (virtual unless
//! `DUANKA_HIL_*` name a real one, [`duanka_hil::board`]), and faults.
//!
//! One test per scenario:
//! 1. a GoIP gateway found end to end, from its first REGISTER to a case
//!    with its IMSIs through the agent's API, within 60 s;
//! 2. a call centre, a PBX trunk and softphones: no detection, no case (the
//!    probe configured as a carrier would: its own softswitch declared in
//!    `[behaviour] own_servers`, without which the softswitch in front of the
//!    dialler is judged suspect on behaviour alone);
//! 3. the agent stopped during traffic and restarted: every event arrives,
//!    once;
//! 4. the probe killed (SIGKILL) and restarted: no loss, no duplicates;
//! 5. the tamper switch: an alarm at the agent, the alarm pattern on the LED
//!    pin, the token wiped (and the LED's heartbeat and uplink-down patterns);
//! 6. the modem moves to another cell: the probe's own cell follows at the agent;
//! 7. garbage, truncated and oversized packets on the SIP and GSMTAP ports:
//!    counted, and the probe goes on working.
//!
//! Each prints its timings (`HIL …` lines), also collected in
//! `target/hil-report.txt`. Needs root, iproute2, sipp and curl
//! (`scripts/test` installs them); a test that cannot get what it needs
//! fails saying what.
//!
//! The network scenarios run one at a time (a lock): each brings up a probe,
//! an agent and several sipp processes, and scenario 1 has a time limit to
//! meet on a two-core machine.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use duanka_hil::board::{classify, LedRecorder, RealBoard, Seen, VirtualGpio};
use duanka_hil::harness::*;
use duanka_hil::lab::{self, Lab};
use duanka_hil::modem::{Cell, Model, ModemEmulator};
use embedded_hal::digital::OutputPin;

/// One network scenario at a time.
static LAB: Mutex<()> = Mutex::new(());

fn lab() -> (std::sync::MutexGuard<'static, ()>, Lab) {
    let guard = LAB.lock().unwrap_or_else(|p| p.into_inner());
    (guard, Lab::create().unwrap_or_else(|e| panic!("{e}")))
}

/// The probe's config as the carrier running the lab would write it: the
/// default signature database with the carrier's own softswitch declared
/// (`[behaviour] own_servers`), plus `extra`.
fn carrier_probe_config(lab: &Lab, agent: &Agent, token: &str, extra: &str) -> std::path::PathBuf {
    let default = duanka_probe::detect::signatures::DEFAULT_TOML;
    let db = default.replace("own_servers = []", &format!("own_servers = [\"{}/32\"]", lab::SOFTSWITCH));
    assert_ne!(db, default, "the default signature database has an own_servers line");
    std::fs::write(lab.dir().join("signatures.toml"), db).expect("the lab's signature database");
    lab.probe_config(agent, token, &format!("[signatures]\npath = \"signatures.toml\"\n{extra}"))
}

/// `n` IMSIs of China Mobile from `first`.
fn imsis(first: u64, n: u64) -> Vec<String> {
    (first..first + n).map(|k| format!("46000{k:010}")).collect()
}

fn lu(list: &[String]) -> Vec<Vec<u8>> {
    list.iter().map(|i| lu_request(i)).collect()
}

/// The board the environment names; panics on a half-described one.
fn real_board() -> Option<RealBoard> {
    RealBoard::from_env().unwrap_or_else(|e| panic!("{e}"))
}

/// The case (from `GET /api/v1/cases`) holding `gateway` and every one of `imsis`.
fn case_with(cases: &serde_json::Value, gateway: &str, imsis: &[String]) -> Option<serde_json::Value> {
    cases
        .as_array()?
        .iter()
        .find(|c| {
            let gateways = c["gateways"].to_string();
            let held = c["imsis"].to_string();
            gateways.contains(gateway) && imsis.iter().all(|i| held.contains(i.as_str()))
        })
        .cloned()
}

/// Detection events the agent holds for `address`.
fn detections_of(data: &Path, address: &str) -> usize {
    let needle = format!(":gw:{address}:");
    agent_events(data).iter().filter(|(id, kind)| kind == "detection" && id.contains(&needle)).count()
}

#[test]
fn s1_goip_gateway_found_end_to_end_within_60_s() {
    let (_guard, lab) = lab();
    let agent = lab.start_agent();
    let token = add_probe(&agent.data);
    let analyst = add_api_token(&agent.data, "analyst");
    let _probe = lab.start_probe(&carrier_probe_config(&lab, &agent, &token, ""));
    let sims = imsis(7_100_000, 4);
    let _overseas = lab.overseas_softswitch(400, 2.0, 4, 3_000).unwrap_or_else(|e| panic!("{e}"));

    let first_register = Instant::now();
    let goip = lab.goip(&sims).unwrap_or_else(|e| panic!("{e}"));
    let mut detected = None;
    let case = wait_until(Duration::from_secs(60), "a case with the GoIP and its 4 IMSIs, through the API", || {
        if detected.is_none() && detections_of(&agent.data, lab::GATEWAY) > 0 {
            detected = Some(first_register.elapsed());
        }
        case_with(&lab.api_get(&agent, &analyst, "/api/v1/cases"), lab::GATEWAY, &sims)
    });
    let took = first_register.elapsed();
    let detected = detected.unwrap_or(took);
    report(&format!(
        "HIL 1 GoIP end to end: detection at the agent {:.1} s, case with its {} IMSIs through the API {:.1} s after the first REGISTER (limit 60 s)",
        detected.as_secs_f64(),
        sims.len(),
        took.as_secs_f64()
    ));
    assert!(took <= Duration::from_secs(60), "{took:?}");
    // The case in full: its gateway and SIMs, with the evidence that linked them.
    let id = case["id"].as_i64().expect("a case id");
    let full = lab.api_get(&agent, &analyst, &format!("/api/v1/cases/{id}"));
    assert_eq!(full["state"], "new", "{full}");
    let text = full.to_string();
    for sim in &goip.sims {
        assert!(text.contains(&sim.imsi), "IMSI {} of line {} in the case: {full}", sim.imsi, sim.line);
    }
    assert!(text.contains(lab::GATEWAY), "{full}");
    assert!(goip.keepalives_sent() > 0);
    assert_no_duplicates(&agent_events(&agent.data));
    // Captured through the kernel's ring, with nothing dropped.
    let page = lab.metrics();
    assert!(metric(&page, "duanka_kernel_packets_total") > 0, "{page}");
    assert_eq!(metric(&page, "duanka_kernel_drops_total"), 0, "{page}");
}

#[test]
fn s2_call_centre_pbx_trunk_and_softphones_make_no_case() {
    let (_guard, lab) = lab();
    let agent = lab.start_agent();
    let token = add_probe(&agent.data);
    let analyst = add_api_token(&agent.data, "analyst");
    let _probe = lab.start_probe(&carrier_probe_config(&lab, &agent, &token, ""));
    let before = metric(&lab.metrics(), "duanka_packets_total");
    let started = Instant::now();
    let mut traffic = lab.legitimate_traffic(40).unwrap_or_else(|e| panic!("{e}"));
    // The endpoints make their calls; the carrier's softswitch answers until the others are done.
    for sipp in traffic.iter_mut().filter(|s| s.name() != "softswitch") {
        let deadline = Instant::now() + Duration::from_secs(90);
        while sipp.running() {
            assert!(Instant::now() < deadline, "sipp {} still calling after 90 s", sipp.name());
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let ran = started.elapsed();
    // Reports go out every 0.5 s, correlation 0.5 s after an ingest.
    std::thread::sleep(Duration::from_secs(3));
    let page = lab.metrics();
    let seen = metric(&page, "duanka_packets_total") - before;
    let detections = agent_event_bodies(&agent.data, "detection");
    let detected = |address: &str| {
        detections.iter().filter(|d| d.pointer("/gateway/address").and_then(|a| a.as_str()) == Some(address)).count()
    };
    let cases = lab.api_get(&agent, &analyst, "/api/v1/cases");
    report(&format!(
        "HIL 2 legitimate traffic: {:.0} s of PBX trunk, dialler and softphone calls, {seen} packets seen by the probe; \
         {} cases; detections: PBX {}, dialler {}, softphones {}, the carrier's softswitch (declared in own_servers) {}",
        ran.as_secs_f64(),
        cases.as_array().map_or(0, Vec::len),
        detected(lab::PBX),
        detected(lab::DIALLER),
        lab::PHONES.iter().map(|p| detected(p)).sum::<usize>(),
        detected(lab::SOFTSWITCH),
    ));
    assert!(seen >= 5_000, "the probe saw the traffic: {seen} packets\n{page}");
    assert!(detections.is_empty(), "legitimate endpoints detected: {:#}", serde_json::json!(detections));
    assert_eq!(cases, serde_json::json!([]), "no case from legitimate traffic");
    assert!(!heartbeats(&agent.data).is_empty(), "the probe reported all along");
}

#[test]
fn s3_agent_stopped_during_traffic_and_restarted_every_event_once() {
    let (_guard, lab) = lab();
    let agent = lab.start_agent();
    let token = add_probe(&agent.data);
    let _probe = lab.start_probe(&carrier_probe_config(&lab, &agent, &token, ""));
    let _overseas = lab.overseas_softswitch(400, 2.0, 4, 3_000).unwrap_or_else(|e| panic!("{e}"));
    let _goip = lab.goip(&imsis(7_200_000, 4)).unwrap_or_else(|e| panic!("{e}"));
    let data = agent.data.clone();

    let first = imsis(1, 20);
    lab.gsmtap(&lu(&first));
    wait_for_events(&data, Duration::from_secs(30), "the first subscribers and the GoIP", |_| {
        (all_subscribers_once(&data, &first) && detections_of(&data, lab::GATEWAY) > 0).then_some(())
    });

    // The agent goes away for 20 s while calls, keep-alives and the cell side go on.
    agent.stop();
    let outage = Instant::now();
    let second = imsis(1_000, 50);
    lab.gsmtap(&lu(&second));
    std::thread::sleep(Duration::from_secs(2));
    let page = lab.metrics();
    assert!(metric(&page, "duanka_spool_depth") >= 1, "events wait in the spool\n{page}");
    std::thread::sleep(Duration::from_secs(20).saturating_sub(outage.elapsed()));
    let _agent = lab.start_agent();
    let back = Instant::now();
    wait_for_events(&data, Duration::from_secs(60), "the outage's subscribers", |_| {
        all_subscribers_once(&data, &second).then_some(())
    });
    let delivered = back.elapsed();
    // Heartbeats made during the outage arrive too: numbered without a gap.
    let beats = wait_until(Duration::from_secs(20), "contiguous heartbeats covering the outage", || {
        let hb = heartbeats(&data);
        let seqs = hb.values().next().cloned().unwrap_or_default();
        (hb.len() == 1 && seqs.iter().copied().eq(1..=seqs.len() as u64) && seqs.len() >= 25).then_some(seqs.len())
    });
    assert!(all_subscribers_once(&data, &first));
    assert_no_duplicates(&agent_events(&data));
    report(&format!(
        "HIL 3 agent outage: 20 s down during traffic; the {} subscribers seen meanwhile delivered {:.1} s after the restart; {beats} heartbeats, no gap, no duplicate",
        second.len(),
        delivered.as_secs_f64(),
    ));
}

#[test]
fn s4_probe_killed_and_restarted_no_loss_no_duplicates() {
    let (_guard, lab) = lab();
    let agent = lab.start_agent();
    let token = add_probe(&agent.data);
    let config = carrier_probe_config(&lab, &agent, &token, "");
    let mut probe = lab.start_probe(&config);
    let _overseas = lab.overseas_softswitch(400, 2.0, 4, 3_000).unwrap_or_else(|e| panic!("{e}"));
    let _goip = lab.goip(&imsis(7_300_000, 4)).unwrap_or_else(|e| panic!("{e}"));
    let data = agent.data.clone();
    let first = imsis(2_000, 20);
    lab.gsmtap(&lu(&first));
    wait_for_events(&data, Duration::from_secs(30), "the first subscribers", |_| {
        all_subscribers_once(&data, &first).then_some(())
    });

    // Events committed to the spool but not yet delivered (the agent is
    // down) when the probe dies.
    agent.stop();
    let spooled = imsis(3_000, 30);
    lab.gsmtap(&lu(&spooled));
    wait_until(Duration::from_secs(15), "the spooled batch in the spool", || {
        (metric(&lab.metrics(), "duanka_spool_depth") >= spooled.len() as u64).then_some(())
    });
    probe.child.kill().expect("SIGKILL to the probe");
    probe.child.wait().expect("the killed probe");
    let _agent = lab.start_agent();
    let restarted = Instant::now();
    let _probe = lab.start_probe(&config);
    wait_for_events(&data, Duration::from_secs(30), "the spooled subscribers after SIGKILL", |_| {
        all_subscribers_once(&data, &spooled).then_some(())
    });
    let delivered = restarted.elapsed();
    let after = imsis(4_000, 10);
    lab.gsmtap(&lu(&after));
    wait_for_events(&data, Duration::from_secs(30), "subscribers after the restart", |_| {
        all_subscribers_once(&data, &after).then_some(())
    });
    for list in [&first, &spooled, &after] {
        assert!(all_subscribers_once(&data, list));
    }
    assert_no_duplicates(&agent_events(&data));
    // Both boots' heartbeats, each numbered without a gap.
    wait_until(Duration::from_secs(10), "heartbeats of the probe's second boot", || {
        (heartbeats(&data).len() == 2).then_some(())
    });
    assert_heartbeats_contiguous(&data);
    // The gateway's own reports across the restart: once per change, no duplicate rows.
    assert!(detections_of(&data, lab::GATEWAY) >= 1, "the GoIP was reported");
    report(&format!(
        "HIL 4 probe SIGKILL: {} spooled events delivered {:.1} s after the restart, none lost, none twice; 2 boots, heartbeats without a gap",
        spooled.len(),
        delivered.as_secs_f64()
    ));
}

#[test]
fn s5_tamper_switch_raises_an_alarm_and_the_led_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&dir.path().join("agent"));
    let token = add_probe(&agent.data);
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    let real = real_board();
    let gpio = match &real {
        Some(_) => None,
        None => Some(VirtualGpio::create(dir.path()).unwrap_or_else(|e| panic!("{e}"))),
    };
    let (board, describe) = match (&real, &gpio) {
        (Some(r), _) => (r.probe_toml(), r.describe()),
        (None, Some(g)) => (g.probe_toml(), g.describe()),
        (None, None) => unreachable!(),
    };
    let gsmtap = format!("127.0.0.1:{}", free_port_udp());
    let sources = format!("[gsmtap]\nlisten = \"{gsmtap}\"\n[board]\n{board}tamper_clears_token = true\n");
    let config = probe_config(dir.path(), &sources, &agent, &token, &format!("127.0.0.1:{}", free_port()));
    // The token from a file, which the probe may wipe.
    let text =
        std::fs::read_to_string(&config).unwrap().replace(&format!("token = \"{token}\""), "token_file = \"token\"");
    std::fs::write(&config, text).unwrap();
    let mut probe = start_probe(Command::new(probe_bin()), &config);
    report(&format!("HIL 5 board: {describe}"));

    let Some(gpio) = gpio else {
        // A real board: someone (or the rig) opens the enclosure.
        let wait = std::env::var("DUANKA_HIL_TAMPER_WAIT_S").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
        eprintln!("HIL 5: open the enclosure (toggle the tamper switch) within {wait} s");
        let t = Instant::now();
        wait_for_events(&agent.data, Duration::from_secs(wait), "the tamper alarm", |events| {
            events.iter().any(|(_, k)| k == "alarm").then_some(())
        });
        report(&format!(
            "HIL 5 tamper (real board): alarm at the agent {:.1} s after the prompt",
            t.elapsed().as_secs_f64()
        ));
        return;
    };
    let led = LedRecorder::start(gpio.led());
    let calm = led.wait_for(Seen::Heartbeat, Duration::from_millis(4_500), Duration::from_secs(20));
    assert_eq!(
        calm.last(),
        Some(&Seen::Heartbeat),
        "the LED's heartbeat while all is well: {calm:?} ({:?})",
        led.last_error()
    );

    let mut tamper = gpio.tamper();
    let opened = Instant::now();
    let opened_ms = led.now_ms();
    tamper.set_high().expect("the tamper line driven high");
    let event = wait_for_events(&agent.data, Duration::from_secs(15), "the tamper alarm at the agent", |events| {
        events.iter().find(|(_, k)| k == "alarm").cloned()
    });
    let alarm_took = opened.elapsed();
    let body = agent_event_bodies(&agent.data, "alarm");
    assert!(body.iter().any(|b| b.to_string().contains("tamper")), "{event:?} {body:?}");
    // Once the alarm is delivered, the token is wiped.
    wait_until(Duration::from_secs(10), "the token wiped after the tamper alarm", || {
        std::fs::read(&token_file).ok().filter(Vec::is_empty).map(|_| ())
    });
    let wiped = opened.elapsed();
    // The LED: its first change after the switch opened, then two and a half alarm periods.
    std::thread::sleep(Duration::from_millis(2_700).saturating_sub(opened.elapsed()));
    let changes = led.since(opened_ms);
    let led_took = changes.iter().skip(1).find(|(_, lit)| *lit).map(|(t, _)| t - opened_ms);
    let settled = changes.iter().find(|(t, _)| *t > opened_ms + 150).map_or(opened_ms + 150, |(t, _)| t - 1);
    let seen = classify(&led.since(settled), led.now_ms());
    assert_eq!(seen, Seen::Alarm, "the alarm pattern on the LED pin: {changes:?}");
    // Closing the enclosure ends the alarm pattern.
    tamper.set_low().expect("the tamper line driven low");
    let after = led.wait_for(Seen::Heartbeat, Duration::from_millis(4_500), Duration::from_secs(15));
    assert!(
        matches!(after.last(), Some(Seen::Heartbeat | Seen::FastBlink)),
        "the alarm pattern ends with the enclosure closed: {after:?}"
    );
    assert!(probe.running(), "the probe goes on after the tamper alarm");
    // And the uplink down: the agent goes away.
    agent.stop();
    let down = led.wait_for(Seen::FastBlink, Duration::from_millis(1_200), Duration::from_secs(15));
    assert_eq!(down.last(), Some(&Seen::FastBlink), "the LED shows the uplink down: {down:?}");
    report(&format!(
        "HIL 5 tamper: the LED's alarm pattern began {} ms, the alarm reached the agent {:.1} s and the token was wiped {:.1} s after the switch opened; heartbeat pattern before and after, fast blink with the agent gone",
        led_took.map_or("?".into(), |ms| ms.to_string()),
        alarm_took.as_secs_f64(),
        wiped.as_secs_f64()
    ));
}

fn free_port_udp() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The probe's latest heartbeat as the agent stored it.
fn last_heartbeat(data: &Path) -> Option<serde_json::Value> {
    agent_event_bodies(data, "heartbeat").pop()
}

fn own_cell_id(hb: &serde_json::Value) -> Option<u64> {
    hb.pointer("/heartbeat/own_cell/cell_id").or_else(|| hb.pointer("/own_cell/cell_id"))?.as_u64()
}

#[test]
fn s6_modem_moves_to_another_cell_and_the_agent_follows() {
    if let Some(real) = real_board() {
        let dir = tempfile::tempdir().unwrap();
        let agent = start_agent(&dir.path().join("agent"));
        let token = add_probe(&agent.data);
        let sources = format!(
            "[gsmtap]\nlisten = \"127.0.0.1:{}\"\n[board]\nmodem_path = \"{}\"\nmodem_poll_s = 2\n",
            free_port_udp(),
            real.modem.display()
        );
        let config = probe_config(dir.path(), &sources, &agent, &token, &format!("127.0.0.1:{}", free_port()));
        let _probe = start_probe(Command::new(probe_bin()), &config);
        let t = Instant::now();
        let hb = wait_until(Duration::from_secs(90), "the real modem's own cell at the agent", || {
            last_heartbeat(&agent.data).filter(|hb| own_cell_id(hb).is_some())
        });
        report(&format!(
            "HIL 6 own cell (real board {}): {} after {:.1} s",
            real.modem.display(),
            hb,
            t.elapsed().as_secs_f64()
        ));
        return;
    }
    for (model, first, second) in [
        (Model::QuectelEc25, Cell::china_mobile(0x2A3B, 0x1A2_D001), Cell::china_mobile(0x2A3C, 0x1A2_D002)),
        (Model::SimcomSim800, Cell::china_mobile(0x1234, 0x5A01), Cell::china_mobile(0x1235, 0x5A02)),
    ] {
        let modem = ModemEmulator::start(model, Some(first.clone())).expect("a pty for the modem emulator");
        let dir = tempfile::tempdir().unwrap();
        let agent = start_agent(&dir.path().join("agent"));
        let token = add_probe(&agent.data);
        let sources = format!(
            "[gsmtap]\nlisten = \"127.0.0.1:{}\"\n[board]\nmodem_path = \"{}\"\nmodem_poll_s = 1\n",
            free_port_udp(),
            modem.path().display()
        );
        let config = probe_config(dir.path(), &sources, &agent, &token, &format!("127.0.0.1:{}", free_port()));
        let _probe = start_probe(Command::new(probe_bin()), &config);
        let wait_cell = |cell: u32| {
            wait_until(Duration::from_secs(20), &format!("own cell {cell:#x} at the agent ({model:?})"), || {
                last_heartbeat(&agent.data).filter(|hb| own_cell_id(hb) == Some(u64::from(cell)))
            })
        };
        let hb = wait_cell(first.cell_id);
        assert!(hb.to_string().contains("\"board\":\"ok\""), "{hb}");
        let moved = Instant::now();
        modem.set_cell(Some(second.clone()));
        let hb = wait_cell(second.cell_id);
        let took = moved.elapsed();
        let area = hb.pointer("/heartbeat/own_cell/lac").or_else(|| hb.pointer("/own_cell/lac")).cloned();
        assert_eq!(area, Some(serde_json::json!(second.area)), "{hb}");
        assert!(
            modem.commands().iter().any(|c| c == "AT+CREG=2"),
            "location reports asked for: {:?}",
            modem.commands()
        );
        assert!(modem.unsolicited() >= 1, "the move was announced with an unsolicited +CREG line");
        report(&format!(
            "HIL 6 modem {model:?}: cell {:#x} → {:#x} (with an unsolicited +CREG) at the agent {:.1} s after the move (modem polled every 1 s, heartbeats every 1 s)",
            first.cell_id,
            second.cell_id,
            took.as_secs_f64()
        ));
    }
}

/// Random bytes (xorshift), reproducible.
fn noise(seed: &mut u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed as u8
        })
        .collect()
}

#[test]
fn s7_garbage_truncated_and_oversized_packets_are_counted() {
    let (_guard, lab) = lab();
    let agent = lab.start_agent();
    let token = add_probe(&agent.data);
    let mut probe = lab.start_probe(&carrier_probe_config(&lab, &agent, &token, ""));
    let _overseas = lab.overseas_softswitch(400, 2.0, 4, 3_000).unwrap_or_else(|e| panic!("{e}"));
    let _goip = lab.goip(&imsis(7_400_000, 4)).unwrap_or_else(|e| panic!("{e}"));
    let before = lab.metrics();

    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut sip: Vec<Vec<u8>> = (0..30).map(|k| noise(&mut seed, 20 + 45 * k)).collect();
    sip.push(b"INVITE sip:13800138000@10.77.0.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.1".to_vec());
    sip.push(b"SIP/2.0 200\r\n\r\n".to_vec());
    let mut big =
        b"INVITE sip:13800138000@10.77.0.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.10;branch=z9hG4bK1\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'X', 8_000));
    sip.push(big);
    // From the overseas side to the gateway's SIP port, across the captured link.
    lab.udp(&lab.up, lab::OVERSEAS, &format!("{}:5060", lab::GATEWAY), &sip);
    let mut gsmtap: Vec<Vec<u8>> = (0..20).map(|k| noise(&mut seed, 3 + 30 * k)).collect();
    gsmtap.push(vec![2, 4, 0x02, 0, 0, 1, 0, 0]); // a header cut short
    gsmtap.push(vec![0x02; 9_000]); // larger than any GSMTAP frame
    let good = imsis(6_000, 1);
    gsmtap.extend(lu(&good));
    lab.gsmtap(&gsmtap);

    let counted = wait_until(Duration::from_secs(15), "the garbage counted in /metrics", || {
        let page = lab.metrics();
        let errors =
            metric_sum(&page, "duanka_decode_errors_total") - metric_sum(&before, "duanka_decode_errors_total");
        (errors >= 20 && metric(&page, "duanka_gsmtap_oversized_total") == 1).then_some((errors, page))
    });
    assert!(probe.running(), "the probe goes on after garbage");
    // And still works: the good datagram among the bad arrives, and the GoIP is found.
    wait_for_events(&agent.data, Duration::from_secs(30), "the good subscriber and the GoIP after the garbage", |_| {
        (all_subscribers_once(&agent.data, &good) && detections_of(&agent.data, lab::GATEWAY) > 0).then_some(())
    });
    let kinds: Vec<&str> =
        counted.1.lines().filter(|l| l.starts_with("duanka_decode_errors_total{") && !l.ends_with(" 0")).collect();
    report(&format!(
        "HIL 7 garbage: {} SIP-port and {} GSMTAP-port datagrams (random, truncated, 8 KB and 9 KB); {} decode errors counted ({}), 1 oversized GSMTAP; the probe kept running and still found the GoIP",
        sip.len(),
        gsmtap.len() - 1,
        counted.0,
        kinds.join(", ")
    ));
}
