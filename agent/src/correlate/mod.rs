//! Correlation (SPEC 4.2): from gateways and the SIM cards in them to the
//! people the cards are registered to.
//!
//! 1. **CDR matching** ([`cdr_match`]): a SIP call a probe saw at a gateway
//!    (called number, start) and a carrier CDR of a mobile-originated call
//!    (same called number, start within [`Config::cdr_window_ms`]) name the
//!    SIM that carried it; matches become `cdr_match` links.
//! 2. **Clusters** ([`cluster`]): SIMs proven to work in the same box — tied
//!    to the same gateway (control plane, call matching, CDR matching), or
//!    through a module IMEI that carried several of them (rotation) — are
//!    joined into one cluster, found by walking the link graph from each
//!    non-clean gateway and each rotating module.
//! 3. **Findings** ([`findings`]): per cluster, the registered owners and how
//!    many of their cards are in it, owners over the 5-cards-per-carrier
//!    limit, owners in several clusters, outlets holding a large share of the
//!    cluster's cards (possible insiders), activation bursts (a recruiter
//!    bringing a group to one outlet), cards that come back after a block.
//! 4. **Cases** ([`crate::cases`]): one per cluster, opened, updated and
//!    reopened from the findings.
//!
//! [`full`] redoes everything; [`incremental`] starts from the gateways an
//! ingest touched. Both are idempotent: running them twice changes nothing.

pub mod cdr_match;
pub mod cluster;
pub mod findings;

use std::time::Instant;

use rusqlite::Connection;
use serde::Serialize;

pub use cluster::Cluster;

/// Tunables, with the defaults the issue and SPEC name.
#[derive(Debug, Clone)]
pub struct Config {
    /// A CDR matches a SIP call when their starts are this close (ms).
    pub cdr_window_ms: i64,
    /// Links below this confidence do not join a SIM to a gateway's cluster.
    pub min_link_confidence: f64,
    /// A module (IMEI) that carried this many SIMs joins them (rotation).
    pub rotation_min_sims: usize,
    /// Cards one owner may hold per carrier (一证多卡 limit).
    pub cards_per_carrier_limit: u64,
    /// An outlet holding at least this share of a cluster's registered cards…
    pub insider_share: f64,
    /// …and at least this many of them is a possible insider.
    pub insider_min_cards: u64,
    /// Cards opened at one outlet within this window (ms)…
    pub burst_window_ms: i64,
    /// …at least this many, form an activation burst.
    pub burst_min_cards: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cdr_window_ms: 10_000,
            min_link_confidence: 0.5,
            rotation_min_sims: 3,
            cards_per_carrier_limit: 5,
            insider_share: 0.3,
            insider_min_cards: 5,
            burst_window_ms: 6 * 3600 * 1000,
            burst_min_cards: 5,
        }
    }
}

/// A correlation problem (the store failed; nothing else can).
#[derive(Debug, thiserror::Error)]
#[error("correlation: {0}")]
pub struct CorrelateError(#[from] rusqlite::Error);

/// What a run did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Outcome {
    /// Gateway calls compared with CDRs.
    pub calls_checked: u64,
    /// Gateway↔SIM links from CDR matching written or strengthened.
    pub cdr_links: u64,
    /// Clusters found.
    pub clusters: u64,
    /// Cases opened.
    pub cases_opened: u64,
    /// Cases whose findings changed.
    pub cases_updated: u64,
    /// Confirmed or dismissed cases reopened by new evidence.
    pub cases_reopened: u64,
    /// Cases folded into another because their clusters joined.
    pub cases_merged: u64,
    /// Wall time, seconds.
    pub elapsed_s: f64,
}

/// Correlate everything in the store.
pub fn full(conn: &mut Connection, cfg: &Config) -> Result<Outcome, CorrelateError> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let tx = conn.transaction()?;
    let (checked, links) = cdr_match::match_all(&tx, cfg)?;
    out.calls_checked = checked;
    out.cdr_links = links;
    let seeds = cluster::all_seeds(&tx, cfg)?;
    let clusters = cluster::build(&tx, cfg, &seeds)?;
    out.clusters = clusters.len() as u64;
    crate::cases::apply(&tx, cfg, &clusters, &mut out)?;
    tx.commit()?;
    out.elapsed_s = start.elapsed().as_secs_f64();
    tracing::info!(
        clusters = out.clusters,
        opened = out.cases_opened,
        updated = out.cases_updated,
        reopened = out.cases_reopened,
        elapsed_s = out.elapsed_s,
        "correlation done"
    );
    Ok(out)
}

/// Correlate from the gateways an ingest touched: their calls against the
/// CDRs, then the clusters they belong to.
pub fn incremental(conn: &mut Connection, cfg: &Config, gateway_ids: &[i64]) -> Result<Outcome, CorrelateError> {
    let start = Instant::now();
    let mut out = Outcome::default();
    if gateway_ids.is_empty() {
        return Ok(out);
    }
    let tx = conn.transaction()?;
    let (checked, links) = cdr_match::match_gateways(&tx, cfg, gateway_ids)?;
    out.calls_checked = checked;
    out.cdr_links = links;
    let seeds = cluster::gateway_seeds(&tx, gateway_ids)?;
    let clusters = cluster::build(&tx, cfg, &seeds)?;
    out.clusters = clusters.len() as u64;
    crate::cases::apply(&tx, cfg, &clusters, &mut out)?;
    tx.commit()?;
    out.elapsed_s = start.elapsed().as_secs_f64();
    tracing::debug!(gateways = gateway_ids.len(), clusters = out.clusters, "incremental correlation done");
    Ok(out)
}
