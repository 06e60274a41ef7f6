//! Extractors that authenticate a request by its `Authorization: Bearer`
//! token: [`Probe`] for probe endpoints, [`Operator`] for everything people
//! use (with [`Operator::require`] for role checks).
//!
//! Missing, malformed or unknown token → 401; a token of the other kind →
//! 401 saying which kind is needed; a revoked token → 403; an operator whose
//! role is not allowed → 403. Look-ups run on the blocking pool (the store),
//! before the request body is read.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};

use super::{ApiError, AppState};
use crate::auth::{self, Role, TokenCheck, OPERATOR_TOKEN_PREFIX, PROBE_TOKEN_PREFIX};
use crate::store::ms_to_rfc3339;

/// An authenticated probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `probes.id`.
    pub id: i64,
    /// Its name.
    pub name: String,
}

/// An authenticated operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// `api_tokens.id`.
    pub id: i64,
    /// The token's label.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

impl Operator {
    /// Ok if the operator's role is one of `allowed`, else a 403 naming them.
    /// [`Role::Admin`] is always allowed.
    pub fn require(&self, allowed: &[Role]) -> Result<(), ApiError> {
        if self.role == Role::Admin || allowed.contains(&self.role) {
            return Ok(());
        }
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        Err(ApiError::Forbidden(format!(
            "this needs the role {}; token {} has role {}",
            if names.is_empty() { "admin".to_owned() } else { names.join(" or ") },
            self.id,
            self.role
        )))
    }
}

/// The bearer token of a request.
fn bearer(parts: &Parts) -> Result<String, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("missing `Authorization: Bearer <token>` header".into()))?;
    let value =
        value.to_str().map_err(|_| ApiError::Unauthorized("the Authorization header is not readable text".into()))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into()));
    }
    Ok(token.trim().to_owned())
}

impl FromRequestParts<AppState> for Probe {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        if token.starts_with(OPERATOR_TOKEN_PREFIX) {
            return Err(ApiError::Unauthorized(format!(
                "this is an operator token; probes send their own token ({PROBE_TOKEN_PREFIX}…) from `duanka-agent probe add`"
            )));
        }
        let check = state
            .db("checking a probe token", move |store| auth::probe_by_token(store.conn(), &token))
            .await?
            .map_err(|e| ApiError::internal("checking a probe token", e))?;
        match check {
            TokenCheck::Valid(p) => Ok(Probe { id: p.id, name: p.name }),
            TokenCheck::Revoked(p, at) => Err(ApiError::Forbidden(format!(
                "probe {:?} was revoked at {}; enrol it again under a new name",
                p.name,
                ms_to_rfc3339(at)
            ))),
            TokenCheck::Unknown => Err(ApiError::Unauthorized("unknown probe token".into())),
        }
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        if token.starts_with(PROBE_TOKEN_PREFIX) {
            return Err(ApiError::Unauthorized(format!(
                "this is a probe token; operators use a token ({OPERATOR_TOKEN_PREFIX}…) from `duanka-agent token add`"
            )));
        }
        let check = state
            .db("checking an operator token", move |store| auth::operator_by_token(store.conn(), &token))
            .await?
            .map_err(|e| ApiError::internal("checking an operator token", e))?;
        match check {
            TokenCheck::Valid(o) => Ok(Operator { id: o.id, name: o.name, role: o.role }),
            TokenCheck::Revoked(o, at) => {
                Err(ApiError::Forbidden(format!("operator token {} was revoked at {}", o.id, ms_to_rfc3339(at))))
            }
            TokenCheck::Unknown => Err(ApiError::Unauthorized("unknown operator token".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_checked_and_admin_passes_everything() {
        let op = |role| Operator { id: 1, name: "x".into(), role };
        assert!(op(Role::Analyst).require(&[Role::Analyst]).is_ok());
        assert!(op(Role::Admin).require(&[Role::Analyst]).is_ok());
        assert!(op(Role::Admin).require(&[]).is_ok());
        let err = op(Role::Engineer).require(&[Role::Analyst]).unwrap_err();
        assert!(matches!(err, ApiError::Forbidden(_)));
        assert!(err.to_string().contains("analyst"), "{err}");
        assert!(op(Role::Analyst).require(&[]).is_err());
    }
}
