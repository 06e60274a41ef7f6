//! Errors → HTTP responses, in one place (STYLE "Errors").
//!
//! Every handler and extractor returns [`ApiError`]. A 4xx carries a clear
//! message for the client as `{"error": "…"}`; a 5xx tells the client only
//! that the agent failed and logs the cause with its context through
//! `tracing`, so internal details (paths, SQL) never leave the agent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::ingest::IngestError;

/// A failed request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the request is wrong in a way no other kind says.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no credentials, or unknown ones.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: known credentials that may not do this (revoked, wrong role).
    #[error("{0}")]
    Forbidden(String),
    /// 404: nothing here.
    #[error("{0}")]
    NotFound(String),
    /// 413: the request is over a size limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 422: well-formed HTTP whose content is refused.
    #[error("{0}")]
    Unprocessable(String),
    /// 500: the agent failed; `context` says at what.
    #[error("{context}: {source}")]
    Internal {
        /// What the agent was doing.
        context: &'static str,
        /// Why it failed.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ApiError {
    /// A 500 with the context it happened in.
    pub fn internal(context: &'static str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal { context, source: source.into() }
    }

    /// The response status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal { context, source } => {
                tracing::error!(context, error = %ErrorChain(source.as_ref()), "request failed");
                "internal error; the agent's log has the details".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::BodyTooLarge { .. } | IngestError::TooManyEvents { .. } => {
                ApiError::PayloadTooLarge(e.to_string())
            }
            IngestError::UnsupportedVersion { .. } | IngestError::Malformed(_) | IngestError::Invalid { .. } => {
                ApiError::Unprocessable(e.to_string())
            }
            other => ApiError::internal("storing a batch", other),
        }
    }
}

/// An error with its sources, `a: b: c`.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// The answer for a path no route serves.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint; the API lives under /api/v1/".to_owned())
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    async fn body(e: ApiError) -> (StatusCode, serde_json::Value) {
        let r = e.into_response();
        let status = r.status();
        let bytes = to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn client_errors_carry_their_message() {
        let (status, json) = body(ApiError::Unprocessable("events[3].id: must not be empty".into())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json["error"], "events[3].id: must not be empty");
    }

    #[tokio::test]
    async fn server_errors_are_opaque() {
        let e = ApiError::internal("storing a batch", "disk I/O error at /secret/path/agent.db");
        let (status, json) = body(e).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let text = json["error"].as_str().unwrap();
        assert!(!text.contains("/secret"), "{text}");
    }

    #[tokio::test]
    async fn unauthorized_asks_for_a_bearer_token() {
        let r = ApiError::Unauthorized("no token".into()).into_response();
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
