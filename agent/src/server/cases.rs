//! The cases API: `GET /api/v1/cases`, `GET /api/v1/cases/{id}`,
//! `POST /api/v1/cases/{id}/state`, and `POST /api/v1/correlate`.
//!
//! Every operator role may read cases; owners' identities (id number, name)
//! are masked except for analysts and admins, and each unmasked read is an
//! audit record (`case.reveal`, `via: api`), as are decisions. Only analysts and admins decide
//! (change a case's state); only admins run a full correlation.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::Operator;
use super::{ApiError, AppState};
use crate::audit::{self, Action};
use crate::auth::Role;
use crate::cases::{self, CaseDetail, CaseError, CaseListItem, ListFilter};
use crate::correlate::{self, Config, Outcome};

/// Longest page of the case list.
pub const MAX_PAGE: u64 = 1_000;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases", get(list))
        .route("/api/v1/cases/{id}", get(show))
        .route("/api/v1/cases/{id}/state", post(set_state))
        .route("/api/v1/correlate", post(correlate_all))
}

/// Query of `GET /api/v1/cases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `new`, `reviewing`, `confirmed`, `dismissed`.
    state: Option<String>,
    /// `low`, `medium`, `high`, `critical`.
    severity: Option<String>,
    /// A probe's name.
    probe: Option<String>,
    /// RFC 3339: only cases changed since.
    since: Option<String>,
    /// Page size (default 100, at most [`MAX_PAGE`]).
    limit: Option<u64>,
    /// Skip this many.
    offset: Option<u64>,
}

fn reveal(op: &Operator) -> bool {
    matches!(op.role, Role::Admin | Role::Analyst)
}

fn case_error(e: CaseError) -> ApiError {
    match e {
        CaseError::NotFound(id) => ApiError::NotFound(format!("no case {id}")),
        e @ (CaseError::BadTransition { .. } | CaseError::NoReason) => ApiError::Unprocessable(e.to_string()),
        e => ApiError::internal("reading or writing a case", e),
    }
}

async fn list(
    State(state): State<AppState>,
    _op: Operator,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<CaseListItem>>, ApiError> {
    let state_filter = match q.state.as_deref() {
        None => None,
        Some(s) => Some(cases::State::parse(s).ok_or_else(|| {
            ApiError::BadRequest(format!("state {s:?}: expected new, reviewing, confirmed or dismissed"))
        })?),
    };
    if let Some(s) = q.severity.as_deref() {
        if !matches!(s, "low" | "medium" | "high" | "critical") {
            return Err(ApiError::BadRequest(format!("severity {s:?}: expected low, medium, high or critical")));
        }
    }
    let updated_since = match q.since.as_deref() {
        None => None,
        Some(t) => Some(
            crate::store::rfc3339_to_ms(t)
                .ok_or_else(|| ApiError::BadRequest(format!("since {t:?}: expected an RFC 3339 time")))?,
        ),
    };
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadRequest(format!("limit must be 1..={MAX_PAGE}")));
    }
    let filter = ListFilter {
        state: state_filter,
        severity: q.severity,
        probe: q.probe,
        updated_since,
        limit,
        offset: q.offset.unwrap_or(0),
    };
    let list = state.db("listing cases", move |store| cases::list(store.conn(), &filter)).await?.map_err(case_error)?;
    Ok(Json(list))
}

async fn show(State(state): State<AppState>, op: Operator, Path(id): Path<i64>) -> Result<Json<CaseDetail>, ApiError> {
    let reveal = reveal(&op);
    let actor = format!("token:{}:{}", op.id, op.name);
    let d = state
        .db("reading a case", move |store| {
            let d = cases::show(store.conn(), id, reveal)?;
            if d.revealed && !d.owners.is_empty() {
                // Identities leave the agent unmasked: who saw whose is logged.
                let owners: Vec<&str> = d.owners.iter().map(|o| o.owner_id.as_str()).collect();
                let detail = serde_json::json!({ "owners": owners, "via": "api" });
                audit::append(store.conn(), &actor, Action::Reveal, &format!("case:{id}"), &detail)
                    .map_err(|audit::AuditError::Sqlite(e)| CaseError::Store(e))?;
            }
            Ok(d)
        })
        .await?
        .map_err(case_error)?;
    Ok(Json(d))
}

/// Body of `POST /api/v1/cases/{id}/state`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// The new state.
    state: String,
    /// Why.
    reason: String,
}

async fn set_state(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<i64>,
    Json(body): Json<StateChange>,
) -> Result<Json<CaseDetail>, ApiError> {
    op.require(&[Role::Analyst])?;
    let to = cases::State::parse(&body.state).ok_or_else(|| {
        ApiError::Unprocessable(format!("state {:?}: expected new, reviewing, confirmed or dismissed", body.state))
    })?;
    let actor = format!("token:{}:{}", op.id, op.name);
    let d = state
        .db("deciding a case", move |store| {
            cases::decide(store.conn_mut(), id, to, &actor, &body.reason, Some("api"))?;
            cases::show(store.conn(), id, true)
        })
        .await?
        .map_err(case_error)?;
    Ok(Json(d))
}

async fn correlate_all(State(state): State<AppState>, op: Operator) -> Result<Json<Outcome>, ApiError> {
    op.require(&[])?;
    let out = state
        .db("correlating", |store| correlate::full(store.conn_mut(), &Config::default()))
        .await?
        .map_err(|e| ApiError::internal("correlating", e))?;
    Ok(Json(out))
}
