//! No data loss and no duplicates across agent crashes (SPEC 6): a client
//! streams batches, the agent is SIGKILLed mid-ingest (twice), restarted on
//! the same data directory, and the client resends every batch it did not
//! get an acknowledgement for, plus some it did. In the end every event is
//! stored exactly once, every acknowledged batch is whole, and no batch is
//! ever half stored.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::agent::{enrol, Agent};
use crate::support::client::Client;
use crate::support::gen;

const BATCHES: usize = 40;
const EVENTS: usize = 500;
/// Acknowledgements per round before the agent is killed.
const ACKS_BEFORE_KILL: usize = 8;

#[test]
fn sigkill_mid_ingest_then_resend_stores_every_event_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let token = enrol(dir.path(), "site-1");
    let bodies: Vec<Vec<u8>> = (0..BATCHES).map(|b| gen::batch_json(b, EVENTS)).collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut acked = [false; BATCHES];
    let mut next = 0;
    let mut agent = Agent::start(dir.path());
    let fingerprint = agent.fingerprint.clone();
    let mut kills = 0;

    for _round in 0..2 {
        let acks = Arc::new(AtomicUsize::new(0));
        let killer = {
            let acks = Arc::clone(&acks);
            let pid = rustix::process::Pid::from_raw(agent.pid() as i32).unwrap();
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(120);
                while acks.load(Ordering::SeqCst) < ACKS_BEFORE_KILL {
                    assert!(Instant::now() < deadline, "the client stalled before {ACKS_BEFORE_KILL} acknowledgements");
                    std::thread::sleep(Duration::from_millis(1));
                }
                // The next batch is on its way by now.
                std::thread::sleep(Duration::from_millis(3));
                rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("SIGKILL");
            })
        };
        runtime.block_on(async {
            let mut client = Client::new(agent.addr, &fingerprint).unwrap();
            while next < BATCHES {
                match client.post_batch(&token, bodies[next].clone()).await {
                    Ok(reply) => {
                        assert_eq!(reply.status, 200, "batch {next}: {:?}", reply.json());
                        acked[next] = true;
                        next += 1;
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                    // The agent died under this request: not acknowledged.
                    Err(_) => break,
                }
            }
        });
        killer.join().expect("killer thread");
        kills += 1;
        assert!(next < BATCHES, "the agent was killed only after the last batch; nothing was in flight");
        agent.wait(Duration::from_secs(10));
        agent = Agent::start(dir.path());
        assert_eq!(agent.fingerprint, fingerprint, "the restarted agent must keep its certificate");
    }

    // Resend what was not acknowledged, and every third acknowledged batch.
    runtime.block_on(async {
        let mut client = Client::new(agent.addr, &fingerprint).unwrap();
        for b in 0..BATCHES {
            if acked[b] && b % 3 != 0 {
                continue;
            }
            let reply = client.post_batch(&token, bodies[b].clone()).await.expect("resend after restart");
            assert_eq!(reply.status, 200, "batch {b}: {:?}", reply.json());
            let json = reply.json();
            let (accepted, duplicates) = (json["accepted"].as_u64().unwrap(), json["duplicates"].as_u64().unwrap());
            assert_eq!(accepted + duplicates, EVENTS as u64);
            if acked[b] {
                assert_eq!(accepted, 0, "acknowledged batch {b} was not all stored");
            } else {
                assert!(accepted == 0 || accepted == EVENTS as u64, "batch {b} was half stored: {json}");
            }
        }
    });
    agent.terminate();
    assert_eq!(agent.wait(Duration::from_secs(20)), Some(0));
    assert_eq!(kills, 2);

    let conn = rusqlite::Connection::open(dir.path().join("agent.db")).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let total: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(total, (BATCHES * EVENTS) as i64, "every distinct event id exactly once");
    let mut per_batch =
        conn.prepare("SELECT substr(event_id, 1, instr(event_id, '-') - 1), count(*) FROM events GROUP BY 1").unwrap();
    let counts: Vec<(String, i64)> =
        per_batch.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(counts.len(), BATCHES);
    for (batch, n) in counts {
        assert_eq!(n, EVENTS as i64, "batch {batch}");
    }
}
