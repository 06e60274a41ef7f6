//! `duanka-probe run --config FILE`: the live probe (SPEC 4.1).
//!
//! Threads: one per captured interface and one for the GSMTAP listener
//! ([`crate::capture::live`]) feed a bounded channel; the pipeline thread
//! owns the [`Analyzer`] and, every report interval, spools what changed
//! ([`live`]); a Tokio runtime runs the sender ([`crate::uplink::sender`]),
//! heartbeats, the metrics endpoint ([`metrics`]) and the board.
//!
//! Shutdown (SIGTERM/SIGINT): sources stop (≤ 200 ms), the pipeline spools
//! its last changes, the sender tries for up to [`FLUSH_FOR`] to deliver
//! what is spooled, and the process exits 0 — within 5 s in all.

pub mod board;
pub mod config;
pub mod live;
pub mod metrics;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duanka_shared::events::{Event, EventBody, Heartbeat};
use tokio::sync::{watch, Notify};

use crate::analyze::Analyzer;
use crate::capture::live::{self as sources, Input, SourceStats};
use crate::capture::Frame;
use crate::detect::SignatureDb;
use crate::dissect::layers::LinkType;
use crate::uplink::sender::{Sender, SenderStats, SharedState};
use crate::uplink::spool::Spool;
use crate::uplink::{Uplink, UplinkConfig};
pub use config::Config;

/// How long the shutdown flush may try to reach the agent.
pub const FLUSH_FOR: Duration = Duration::from_secs(4);
/// Inputs (frame batches, GSMTAP datagrams) waiting for the pipeline before
/// sources drop: up to 512 × 256 frames, about 200 MB of full-size frames.
const QUEUE: usize = 512;

fn rfc3339(micros: u64) -> String {
    humantime::format_rfc3339_micros(std::time::UNIX_EPOCH + Duration::from_micros(micros)).to_string()
}

/// Runs the probe until SIGTERM/SIGINT. `Err` is a start-up failure, for
/// people (names the config key where there is one).
pub fn run(config: Config) -> Result<(), String> {
    let db = match &config.signatures {
        Some(p) => SignatureDb::load(p).map_err(|e| format!("signatures.path: {e}"))?,
        None => SignatureDb::builtin(),
    };
    if let Some(dir) = config.spool_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("spool.path: cannot create {}: {e}", dir.display()))?;
    }
    let mut spool = Spool::open(&config.spool_path, config.max_events).map_err(|e| format!("spool.path: {e}"))?;
    // The instance id names every event of this probe's spool; the boot
    // number keeps heartbeat ids of different runs apart.
    let instance = spool
        .meta_or_insert("instance", || hex::encode(rand::random::<[u8; 8]>()))
        .map_err(|e| format!("spool.path: {e}"))?;
    let boot: u64 = {
        let n = spool.meta_or_insert("boots", || "0".into()).map_err(|e| format!("spool.path: {e}"))?;
        let n = n.parse::<u64>().unwrap_or(0) + 1;
        spool.set_meta("boots", &n.to_string()).map_err(|e| format!("spool.path: {e}"))?;
        n
    };
    let depth = spool.depth().unwrap_or(0);
    tracing::info!(instance = %instance, boot, spooled = depth, "spool open");
    let spool = Arc::new(Mutex::new(spool));

    let mut uplink_config = UplinkConfig::new(config.agent_url.clone(), config.token.clone(), config.trust.clone());
    uplink_config.request_timeout = Duration::from_secs(20);
    uplink_config.connect_timeout = Duration::from_secs(5);
    let uplink = Arc::new(Uplink::new(uplink_config).map_err(|e| format!("agent: {e}"))?);

    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(SourceStats::default());
    let (tx, rx) = sync_channel::<Input>(QUEUE);
    let mut threads = Vec::new();
    for name in &config.interfaces {
        let run = sources::open_interface(
            name,
            config.capture_method,
            config.socket_buffer,
            tx.clone(),
            stop.clone(),
            stats.clone(),
        )
        .map_err(|e| e.to_string())?;
        threads.push(std::thread::Builder::new().name(format!("cap-{name}")).spawn(run).map_err(|e| e.to_string())?);
    }
    if let Some(addr) = config.gsmtap {
        let (local, run) =
            sources::open_gsmtap(addr, tx.clone(), stop.clone(), stats.clone()).map_err(|e| e.to_string())?;
        tracing::info!("GSMTAP listening on udp://{local}");
        println!("gsmtap listening on {local}");
        threads.push(std::thread::Builder::new().name("gsmtap".into()).spawn(run).map_err(|e| e.to_string())?);
    }
    drop(tx);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let wake = Arc::new(Notify::new());
    let uplink_state = Arc::new(SharedState::default());
    let sender_stats = Arc::new(SenderStats::default());
    let decode_errors = Arc::new(Mutex::new(BTreeMap::new()));
    let detections = Arc::new(AtomicU64::new(0));
    let board_shared = Arc::new(board::BoardShared::default());
    let health = metrics::Health {
        sources: stats.clone(),
        decode_errors: decode_errors.clone(),
        detections: detections.clone(),
        spool: spool.clone(),
        uplink: uplink_state.clone(),
        sender: sender_stats.clone(),
    };
    let metrics_listener = match config.metrics {
        Some(addr) => {
            let l = runtime
                .block_on(tokio::net::TcpListener::bind(addr))
                .map_err(|e| format!("metrics.listen: cannot bind {addr}: {e}"))?;
            let local = l.local_addr().map_err(|e| e.to_string())?;
            println!("metrics on http://{local}/metrics");
            Some(l)
        }
        None => None,
    };

    // The pipeline thread.
    let pipeline = {
        let spool = spool.clone();
        let wake = wake.clone();
        let stop = stop.clone();
        let decode_errors = decode_errors.clone();
        let detections = detections.clone();
        let instance = instance.clone();
        let every = config.report_interval;
        std::thread::Builder::new()
            .name("pipeline".into())
            .spawn(move || {
                let mut analyzer = Analyzer::new(&db);
                analyzer.begin_file("live", "live", 0);
                let mut live = live::Live::new(&instance);
                let mut number = 0u64;
                let mut last_report = Instant::now();
                let report = |analyzer: &Analyzer<'_>, live: &mut live::Live| {
                    let now = rfc3339(sources::now_micros());
                    let events = live.changes(&analyzer.snapshot(), &now);
                    let found = events.iter().filter(|e| matches!(e.body, EventBody::Detection { .. })).count();
                    detections.fetch_add(found as u64, Ordering::Relaxed);
                    if let Ok(mut d) = decode_errors.lock() {
                        *d = analyzer.decode_errors();
                    }
                    if !events.is_empty() {
                        match spool.lock().map(|mut s| s.push(&events)) {
                            Ok(Ok(_)) => wake.notify_one(),
                            Ok(Err(e)) => tracing::error!("cannot spool {} events: {e}", events.len()),
                            Err(_) => tracing::error!("spool lock poisoned"),
                        }
                        for e in events.iter().filter(|e| matches!(e.body, EventBody::Detection { .. })) {
                            tracing::warn!(event = %e.id, "detection");
                        }
                    }
                };
                loop {
                    match rx.recv_timeout(Duration::from_millis(100)) {
                        Ok(Input::Frames(batch)) => {
                            for (ts, data) in batch.iter() {
                                number += 1;
                                let frame =
                                    Frame { number, ts, link: LinkType::Ethernet, data, orig_len: data.len() as u32 };
                                analyzer.frame(&frame);
                            }
                        }
                        Ok(Input::Gsmtap { ts, src, local, data }) => {
                            number += 1;
                            analyzer.gsmtap_datagram(ts, number, src, local, &data);
                        }
                        Err(RecvTimeoutError::Timeout) => analyzer.tick(sources::now_micros()),
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    if last_report.elapsed() >= every {
                        report(&analyzer, &mut live);
                        last_report = Instant::now();
                    }
                    if stop.load(Ordering::Relaxed) && rx.try_recv().is_err() {
                        break;
                    }
                }
                // Flush: what the pipeline knows goes into the spool.
                report(&analyzer, &mut live);
            })
            .map_err(|e| e.to_string())?
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    let outcome = runtime.block_on(async {
        let sender = Sender {
            uplink: uplink.clone(),
            spool: spool.clone(),
            wake: wake.clone(),
            state: uplink_state.clone(),
            stats: sender_stats.clone(),
            probe_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let sender = tokio::spawn(sender.run(stop_rx.clone(), FLUSH_FOR));
        let metrics_task = metrics_listener.map(|l| tokio::spawn(metrics::serve(l, health.clone())));
        let board_threads = match &config.board {
            Some(b) => board::start(
                b,
                board::Context {
                    stop: stop.clone(),
                    spool: spool.clone(),
                    wake: wake.clone(),
                    uplink: uplink_state.clone(),
                    detections: detections.clone(),
                    instance: instance.clone(),
                    boot,
                    wipe_token: config.token_file.clone().filter(|_| b.tamper_clears_token),
                    shared: board_shared.clone(),
                },
            ),
            None => Vec::new(),
        };
        // SIGUSR1: the detections on show have been seen (the LED stops showing them).
        let ack_task = {
            let shared = board_shared.clone();
            let detections = detections.clone();
            tokio::spawn(async move {
                let Ok(mut usr1) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()) else {
                    return;
                };
                while usr1.recv().await.is_some() {
                    let n = detections.load(Ordering::Relaxed);
                    shared.acknowledge(n);
                    tracing::info!(detections = n, "detections acknowledged");
                }
            })
        };
        let hb_task = {
            let spool = spool.clone();
            let stats = stats.clone();
            let state = uplink_state.clone();
            let decode_errors = decode_errors.clone();
            let wake = wake.clone();
            let instance = instance.clone();
            let board = board_shared.clone();
            let every = config.heartbeat;
            let mut stop_rx = stop_rx.clone();
            tokio::spawn(async move {
                let mut seq = 0u64;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = stop_rx.changed() => break,
                    }
                    seq += 1;
                    let hb = Heartbeat {
                        packets: stats.received.load(Ordering::Relaxed),
                        drops: stats.drops(),
                        decode_errors: decode_errors.lock().map(|d| d.clone()).unwrap_or_default(),
                        spool_depth: spool.lock().map(|s| s.depth().unwrap_or(0)).unwrap_or(0),
                        uplink: Some(state.get().as_str().to_string()),
                        board: board.health(),
                        own_cell: board.own_cell(),
                        version: Some(env!("CARGO_PKG_VERSION").to_string()),
                    };
                    let event = Event {
                        id: format!("{instance}:hb:{boot}:{seq}"),
                        at: rfc3339(sources::now_micros()),
                        body: EventBody::Heartbeat { heartbeat: hb },
                    };
                    if let Ok(mut s) = spool.lock() {
                        if let Err(e) = s.push(&[event]) {
                            tracing::error!("cannot spool a heartbeat: {e}");
                        }
                    }
                    wake.notify_one();
                }
            })
        };
        wait_for_signal().await;
        tracing::info!("stopping: flushing the pipeline into the spool");
        let started = Instant::now();
        stop.store(true, Ordering::Relaxed);
        hb_task.abort();
        // The pipeline and sources stop within their poll interval.
        let joined = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
            let _ = pipeline.join();
        });
        let _ = tokio::time::timeout(Duration::from_millis(800), joined).await;
        wake.notify_one();
        let _ = stop_tx.send(true);
        let left = FLUSH_FOR.saturating_sub(started.elapsed().saturating_sub(Duration::from_millis(300)));
        let _ = tokio::time::timeout(left + Duration::from_millis(200), sender).await;
        if let Some(t) = metrics_task {
            t.abort();
        }
        ack_task.abort();
        let _ = tokio::time::timeout(
            Duration::from_millis(300),
            tokio::task::spawn_blocking(move || {
                for t in board_threads {
                    let _ = t.join();
                }
            }),
        )
        .await;
        let depth = spool.lock().map(|s| s.depth().unwrap_or(0)).unwrap_or(0);
        tracing::info!(spooled = depth, "stopped");
        Ok(())
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
    outcome
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
