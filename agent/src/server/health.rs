//! `GET /api/v1/health`: whether the agent is up, for load balancers and
//! probes. No authentication, no store access, nothing private.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::AppState;

/// The health answer.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `ok` when the agent answers.
    pub status: &'static str,
    /// The agent's version.
    pub version: &'static str,
}

/// The health route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/health", get(health))
}

async fn health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}
