//! The board under `duanka-probe run`: two threads over the parts that
//! [`crate::board::linux::open`] found.
//!
//! - The panel thread ticks every 10 ms: the LED shows what the probe is
//!   doing ([`BoardStatus`]: capturing, uplink down, a detection nobody has
//!   acknowledged — SIGUSR1 acknowledges, see [`BoardShared::acknowledge`]),
//!   and a tamper switch that opens becomes an alarm event in the spool and,
//!   when `tamper_clears_token` is set, wipes the token file once the alarm
//!   has left for the agent.
//! - The modem thread sets the modem up, then reads the probe's own serving
//!   cell every `modem_poll_s`; a slow AT exchange never holds up the LED.
//!
//! Both publish into [`BoardShared`], which heartbeats read (`board`,
//! `own_cell`). A board that fails to open leaves the probe running without
//! one, with `board = "error"` in its heartbeats.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use duanka_shared::events::{Alarm, Event, EventBody, OwnCell};
use tokio::sync::Notify;

use crate::board::linux::{BoardConfig, LinuxBoard};
use crate::board::{Board, BoardHealth, BoardStatus};
use crate::uplink::sender::{SharedState, UplinkState};
use crate::uplink::spool::Spool;

/// How long the token wipe waits for the tamper alarm to reach the agent.
pub const WIPE_AFTER_AT_MOST: Duration = Duration::from_secs(30);

/// What the board threads publish for heartbeats and metrics.
#[derive(Debug, Default)]
pub struct BoardShared {
    health: Mutex<Option<BoardHealth>>,
    modem_failed: AtomicBool,
    own_cell: Mutex<Option<OwnCell>>,
    acknowledged: AtomicU64,
}

impl BoardShared {
    /// The heartbeat's `board` word (`none` for a probe without a board).
    pub fn health(&self) -> Option<String> {
        let h = self.health.lock().ok()?.unwrap_or(BoardHealth::None);
        let h = if self.modem_failed.load(Ordering::Relaxed) && h == BoardHealth::Ok { BoardHealth::Error } else { h };
        Some(h.as_str().to_string())
    }

    /// The probe's own cell, as last read.
    pub fn own_cell(&self) -> Option<OwnCell> {
        self.own_cell.lock().ok()?.clone()
    }

    /// Every detection so far has been seen (the LED stops showing it).
    pub fn acknowledge(&self, detections: u64) {
        self.acknowledged.store(detections, Ordering::Relaxed);
    }

    fn set_health(&self, h: BoardHealth) {
        if let Ok(mut g) = self.health.lock() {
            *g = Some(h);
        }
    }
}

/// What the board threads need from the rest of the probe.
#[derive(Debug, Clone)]
pub struct Context {
    /// Set at shutdown.
    pub stop: Arc<AtomicBool>,
    /// Where alarms go.
    pub spool: Arc<Mutex<Spool>>,
    /// Rung when an alarm is spooled.
    pub wake: Arc<Notify>,
    /// The uplink's state (LED pattern).
    pub uplink: Arc<SharedState>,
    /// Detection events made so far (LED pattern).
    pub detections: Arc<AtomicU64>,
    /// The probe instance and boot number (alarm ids).
    pub instance: String,
    /// Boot number.
    pub boot: u64,
    /// The token file to wipe on tamper, when configured so.
    pub wipe_token: Option<PathBuf>,
    /// Published state.
    pub shared: Arc<BoardShared>,
}

fn rfc3339_now() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

/// Opens the board and starts its threads; none when it cannot be opened
/// (logged, and `board = "error"` in heartbeats).
pub fn start(config: &BoardConfig, ctx: Context) -> Vec<JoinHandle<()>> {
    let board = match crate::board::linux::open(config) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("board: {e}; running without it");
            ctx.shared.set_health(BoardHealth::Error);
            return Vec::new();
        }
    };
    if config.led_line.is_some() || config.tamper_line.is_some() {
        tracing::info!(gpio = config.gpio.as_str(), chip = %config.gpiochip.display(), "board: GPIO lines open");
    }
    let (led, tamper, modem) = board.release();
    let mut threads = Vec::new();
    if led.is_some() || tamper.is_some() {
        let panel = Board::new(led, tamper, None);
        let ctx = ctx.clone();
        ctx.shared.set_health(panel.health());
        let spawned = std::thread::Builder::new().name("board".into()).spawn(move || panel_loop(panel, &ctx));
        threads.extend(spawned.map_err(|e| tracing::error!("board: cannot start its thread: {e}")).ok());
    }
    if let Some(modem) = modem {
        let modem = Board::new(None, None, Some(modem));
        if ctx.shared.health().as_deref() == Some("none") {
            ctx.shared.set_health(BoardHealth::Ok);
        }
        let poll = Duration::from_secs(config.modem_poll_s.max(1));
        let spawned = std::thread::Builder::new().name("modem".into()).spawn(move || modem_loop(modem, poll, &ctx));
        threads.extend(spawned.map_err(|e| tracing::error!("modem: cannot start its thread: {e}")).ok());
    }
    threads
}

fn panel_loop(mut board: LinuxBoard, ctx: &Context) {
    let start = Instant::now();
    let mut alarms = 0u64;
    let mut wipe_after: Option<(String, Instant)> = None;
    while !ctx.stop.load(Ordering::Relaxed) {
        let now_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        board.set_status(BoardStatus {
            capturing: true,
            uplink_up: ctx.uplink.get() == UplinkState::Up,
            unacknowledged_detection: ctx.detections.load(Ordering::Relaxed)
                > ctx.shared.acknowledged.load(Ordering::Relaxed),
            tamper_open: false,
        });
        if let Some(t) = board.tick(now_ms) {
            alarms += 1;
            let id = format!("{}:alarm:{}:{alarms}", ctx.instance, ctx.boot);
            tracing::warn!(kind = %t.alarm.kind, detail = %t.alarm.detail, "tamper switch");
            let event = Event {
                id: id.clone(),
                at: rfc3339_now(),
                body: EventBody::Alarm { alarm: Alarm { kind: t.alarm.kind.clone(), detail: t.alarm.detail.clone() } },
            };
            match ctx.spool.lock().map(|mut s| s.push(&[event])) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!("cannot spool the tamper alarm: {e}"),
                Err(_) => tracing::error!("spool lock poisoned"),
            }
            ctx.wake.notify_one();
            if ctx.wipe_token.is_some() && board.tamper_mut().is_some_and(|t| t.is_open()) && wipe_after.is_none() {
                wipe_after = Some((id, Instant::now()));
            }
        }
        ctx.shared.set_health(board.health());
        if let Some((id, since)) = &wipe_after {
            let delivered = ctx.spool.lock().ok().and_then(|s| s.pending(id).ok()).is_some_and(|p| !p);
            if delivered || since.elapsed() >= WIPE_AFTER_AT_MOST {
                if let Some(path) = &ctx.wipe_token {
                    wipe(path, delivered);
                }
                wipe_after = None;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Overwrites the token file with zeros, then empties it.
fn wipe(path: &std::path::Path, delivered: bool) {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let result = std::fs::write(path, vec![0u8; len as usize]).and_then(|()| std::fs::write(path, b""));
    match result {
        Ok(()) => tracing::warn!(
            file = %path.display(),
            alarm_delivered = delivered,
            "tamper: token wiped; the probe will not start again until it is enrolled anew"
        ),
        Err(e) => tracing::error!(file = %path.display(), "tamper: cannot wipe the token: {e}"),
    }
}

fn modem_loop(mut board: LinuxBoard, every: Duration, ctx: &Context) {
    let start = Instant::now();
    let now_ms = || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut ready = false;
    let mut next = Instant::now();
    while !ctx.stop.load(Ordering::Relaxed) {
        if Instant::now() >= next {
            next = Instant::now() + every;
            if !ready {
                match board.init_modem(now_ms()) {
                    Some(id) => {
                        tracing::info!(vendor = ?id.vendor, "modem ready");
                        ready = true;
                    }
                    None => tracing::warn!("modem: no answer to set-up; trying again in {every:?}"),
                }
            }
            if ready {
                let cell = board.own_cell(now_ms());
                // A fault stays until the modem answers again.
                ctx.shared.modem_failed.store(board.faults().next().is_some(), Ordering::Relaxed);
                if let Ok(mut g) = ctx.shared.own_cell.lock() {
                    if *g != cell {
                        tracing::info!(cell = ?cell, "own cell");
                    }
                    *g = cell;
                }
            } else {
                ctx.shared.modem_failed.store(true, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
