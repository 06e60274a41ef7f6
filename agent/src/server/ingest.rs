//! `POST /api/v1/reports`: a probe's batch of events (SPEC 4.2 "Ingest";
//! decoding, checks and storage in `crate::ingest`).
//!
//! `Authorization: Bearer <probe token>` (401 missing or unknown, 403
//! revoked), then the body: at most [`MAX_BODY_BYTES`] (413), at most
//! [`MAX_EVENTS_PER_BATCH`] events (413), schema version
//! [`EVENTS_SCHEMA_VERSION`] (422), every event well-formed and valid (422
//! naming `events[i].path`). Stored in one transaction; the answer is
//! `200 {"accepted": n, "duplicates": m}`. After the commit [`after_ingest`]
//! runs with what changed.
//!
//! [`EVENTS_SCHEMA_VERSION`]: duanka_shared::events::EVENTS_SCHEMA_VERSION
//! [`MAX_EVENTS_PER_BATCH`]: crate::ingest::MAX_EVENTS_PER_BATCH

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiError, AppState, Probe};
use crate::ingest::{self, IngestOutcome, MAX_BODY_BYTES};

/// The answer to an accepted batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ack {
    /// Events stored now.
    pub accepted: usize,
    /// Events that were already stored (resent).
    pub duplicates: usize,
}

/// The ingest route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/reports", post(post_reports)).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn post_reports(
    State(state): State<AppState>,
    probe: Probe,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Ack>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!("request body is larger than {MAX_BODY_BYTES} bytes"))
        } else {
            ApiError::BadRequest(format!("could not read the request body: {rejection}"))
        }
    })?;
    // Decoding up to 16 MiB of JSON is CPU work: keep it off the async
    // workers, and outside the store's lock.
    let batch = tokio::task::spawn_blocking(move || ingest::decode_batch(&body))
        .await
        .map_err(|e| ApiError::internal("decoding a batch", e))??;
    let probe_id = probe.id;
    // A task of its own: if the client goes away, this handler is dropped,
    // but a batch that gets committed still gets its `after_ingest`.
    let outcome = tokio::spawn(async move {
        let outcome =
            state.db("storing a batch", move |store| ingest::store_batch(store.conn_mut(), probe_id, &batch)).await??;
        after_ingest(&state, &outcome);
        Ok::<_, ApiError>(outcome)
    })
    .await
    .map_err(|e| ApiError::internal("storing a batch", e))??;
    tracing::debug!(
        probe = %probe.name,
        accepted = outcome.accepted,
        duplicates = outcome.duplicates,
        gateways = outcome.gateways.len(),
        "batch stored"
    );
    Ok(Json(Ack { accepted: outcome.accepted, duplicates: outcome.duplicates }))
}

/// Runs after every committed batch, with the gateways it touched: where
/// correlation will be triggered. It runs on an async worker, before the
/// acknowledgement is sent, even if the client has gone away; it must not
/// fail the request (the batch is stored) and must not block: heavy work
/// belongs in a spawned task or `state.db(…)`.
pub fn after_ingest(state: &AppState, outcome: &IngestOutcome) {
    // Correlation runs in the background a moment later (debounced), so
    // acknowledging the batch never waits for it.
    state.correlate_later(&outcome.gateways);
}
