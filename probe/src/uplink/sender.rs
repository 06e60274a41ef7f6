//! The sender task: drains the [`Spool`] into the agent through an [`Uplink`].
//!
//! One batch at a time (≤ [`MAX_BATCH_EVENTS`] events, ≤ [`MAX_BATCH_BYTES`]),
//! oldest first; a batch leaves the spool only when the agent acknowledged it.
//! - Retryable failures (connect, timeout, 5xx, 429): exponential backoff with
//!   jitter and a cap ([`RetryPolicy`]), for as long as it takes — the spool
//!   keeps everything meanwhile. A `Retry-After` is honoured.
//! - 401/403, TLS and pinning failures: logged as errors and retried at the
//!   longest backoff (the operator may re-enable the token or fix the agent);
//!   nothing is dropped.
//! - Other permanent refusals (413, 422, other 4xx, a nonsense answer): the
//!   batch is "poison"; it is parked in the spool's `dead` table so the rest
//!   can flow.
//!
//! The state ([`UplinkState`]) is published for heartbeats, metrics and the LED.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use duanka_shared::events::{Batch, EVENTS_SCHEMA_VERSION, MAX_BATCH_EVENTS};
use tokio::sync::{watch, Notify};

use super::spool::Spool;
use super::{ErrorKind, RetryPolicy, Uplink, MAX_BATCH_BYTES};

/// How the link to the agent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UplinkState {
    /// The last batch was delivered (or nothing was sent yet).
    Up,
    /// A send failed; waiting to try again.
    Backoff,
    /// Several sends in a row failed, or the agent refuses the probe.
    Down,
}

impl UplinkState {
    /// `up`, `backoff`, `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            UplinkState::Up => "up",
            UplinkState::Backoff => "backoff",
            UplinkState::Down => "down",
        }
    }
}

/// Failed attempts in a row after which the uplink counts as down.
const DOWN_AFTER_FAILURES: u32 = 3;

/// The published [`UplinkState`], shared between threads.
#[derive(Debug, Default)]
pub struct SharedState(AtomicU8);

impl SharedState {
    /// The current state.
    pub fn get(&self) -> UplinkState {
        match self.0.load(Ordering::Relaxed) {
            0 => UplinkState::Up,
            1 => UplinkState::Backoff,
            _ => UplinkState::Down,
        }
    }

    fn set(&self, s: UplinkState) {
        self.0.store(s as u8, Ordering::Relaxed);
    }
}

/// Counters the sender keeps.
#[derive(Debug, Default)]
pub struct SenderStats {
    /// Events the agent acknowledged.
    pub delivered: std::sync::atomic::AtomicU64,
    /// Events parked as refused.
    pub parked: std::sync::atomic::AtomicU64,
    /// Failed attempts.
    pub failures: std::sync::atomic::AtomicU64,
}

/// The sender and what it shares.
#[derive(Debug)]
pub struct Sender {
    /// The client.
    pub uplink: Arc<Uplink>,
    /// The spool it drains.
    pub spool: Arc<Mutex<Spool>>,
    /// Woken when events were pushed.
    pub wake: Arc<Notify>,
    /// Published state.
    pub state: Arc<SharedState>,
    /// Counters.
    pub stats: Arc<SenderStats>,
    /// The probe's software version, sent in every batch.
    pub probe_version: String,
}

/// What one attempt on the head of the spool did.
enum Step {
    /// Nothing to send.
    Empty,
    /// Delivered or parked: go on at once.
    Progress,
    /// Failed: wait this long.
    Wait(Duration),
}

impl Sender {
    /// Runs until `stop` turns true, then keeps draining until the spool is
    /// empty or `flush_for` has passed (the shutdown flush).
    pub async fn run(self, mut stop: watch::Receiver<bool>, flush_for: Duration) {
        let policy = *self.uplink.retry_policy();
        let mut failures: u32 = 0;
        loop {
            if *stop.borrow() {
                break;
            }
            match self.step(&policy, &mut failures).await {
                Step::Progress => continue,
                Step::Empty => {
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => {}
                    }
                }
                Step::Wait(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
        // Shutdown: one more pass over the spool, bounded in time.
        let flush = async {
            loop {
                match self.step(&policy, &mut failures).await {
                    Step::Progress => continue,
                    Step::Empty => break,
                    Step::Wait(d) => tokio::time::sleep(d.min(Duration::from_millis(500))).await,
                }
            }
        };
        if tokio::time::timeout(flush_for, flush).await.is_err() {
            let left = self.spool.lock().map(|s| s.depth().unwrap_or(0)).unwrap_or(0);
            tracing::warn!(left, "shutdown: agent not reached in time; events stay in the spool for the next start");
        }
    }

    async fn step(&self, policy: &RetryPolicy, failures: &mut u32) -> Step {
        let head = match self.spool.lock() {
            Ok(s) => s.next_batch(MAX_BATCH_EVENTS, MAX_BATCH_BYTES),
            Err(_) => return Step::Wait(Duration::from_secs(1)),
        };
        let head = match head {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("cannot read the spool: {e}");
                return Step::Wait(Duration::from_secs(1));
            }
        };
        if head.is_empty() {
            return Step::Empty;
        }
        let rowids: Vec<i64> = head.iter().map(|(r, _)| *r).collect();
        let batch = Batch {
            schema: EVENTS_SCHEMA_VERSION,
            probe_version: self.probe_version.clone(),
            events: head.into_iter().map(|(_, e)| e).collect(),
        };
        match self.uplink.send(&batch).await {
            Ok(outcome) => {
                if let Ok(mut s) = self.spool.lock() {
                    if let Err(e) = s.ack(&rowids) {
                        tracing::error!("cannot remove delivered events from the spool: {e}");
                    }
                }
                if self.state.get() != UplinkState::Up {
                    tracing::info!("uplink up again");
                }
                *failures = 0;
                self.state.set(UplinkState::Up);
                self.stats.delivered.fetch_add(rowids.len() as u64, Ordering::Relaxed);
                tracing::debug!(
                    events = rowids.len(),
                    new = outcome.accepted,
                    known = outcome.duplicates,
                    "batch delivered"
                );
                Step::Progress
            }
            Err(e) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                *failures = failures.saturating_add(1);
                let kind = e.kind();
                let poison = matches!(kind, ErrorKind::TooLarge | ErrorKind::Rejected | ErrorKind::Protocol);
                if poison {
                    tracing::error!(
                        events = rowids.len(),
                        "agent refused a batch, parked in the spool's dead table: {e}"
                    );
                    if let Ok(mut s) = self.spool.lock() {
                        if let Err(e2) = s.park(&rowids, &e.to_string()) {
                            tracing::error!("cannot park the refused batch: {e2}");
                            return Step::Wait(policy.max_backoff);
                        }
                    }
                    self.stats.parked.fetch_add(rowids.len() as u64, Ordering::Relaxed);
                    return Step::Progress;
                }
                let state = if e.is_retryable() && *failures < DOWN_AFTER_FAILURES {
                    UplinkState::Backoff
                } else {
                    UplinkState::Down
                };
                self.state.set(state);
                let wait = if e.is_retryable() {
                    let d = policy.random_delay(failures.saturating_sub(1));
                    e.retry_after().map_or(d, |r| r.min(super::retry::MAX_RETRY_AFTER).max(d))
                } else {
                    policy.max_backoff
                };
                if e.is_retryable() {
                    tracing::warn!(retry_in_ms = wait.as_millis() as u64, "uplink: {e}");
                } else {
                    tracing::error!(retry_in_ms = wait.as_millis() as u64, "uplink refused: {e}");
                }
                Step::Wait(wait)
            }
        }
    }
}
