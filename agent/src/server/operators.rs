//! Endpoints for people (operators), behind an operator token:
//! `GET /api/v1/whoami` (the token's id, name and role) and
//! `GET /api/v1/probes` (enrolled probes with last seen and last heartbeat;
//! any role: no personal data in it).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiError, AppState, Operator};
use crate::auth::{self, ProbeInfo, Role};

/// Who a token belongs to.
#[derive(Debug, Serialize)]
pub struct WhoAmI {
    /// `api_tokens.id`.
    pub id: i64,
    /// The token's label.
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// The operator routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/whoami", get(whoami)).route("/api/v1/probes", get(probes))
}

async fn whoami(operator: Operator) -> Json<WhoAmI> {
    Json(WhoAmI { id: operator.id, name: operator.name, role: operator.role })
}

async fn probes(State(state): State<AppState>, operator: Operator) -> Result<Json<Vec<ProbeInfo>>, ApiError> {
    operator.require(&[Role::Analyst, Role::Engineer])?;
    let list = state
        .db("listing probes", |store| auth::list_probes(store.conn()))
        .await?
        .map_err(|e| ApiError::internal("listing probes", e))?;
    Ok(Json(list))
}
