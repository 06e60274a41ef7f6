//! Sessions, roles and CSRF for the UI: the [`WebUser`] extractor, the
//! cookies, and [`UiError`] (errors as pages).

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::super::{ApiError, AppState};
use crate::auth::Role;
use crate::users::{self, User};

/// The session cookie. `__Host-` makes browsers insist on Secure, Path=/
/// and no Domain, so no other site or subdomain can set or read it.
pub const SESSION_COOKIE: &str = "__Host-duanka_session";

/// The client's address, put on each request by the server (absent in
/// in-process tests, where every client counts as one unknown address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The value of cookie `name`, if the request has it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, Secure, SameSite=Strict, Path=/ always.
pub fn set_cookie(name: &str, value: &str, max_age_s: Option<i64>) -> HeaderValue {
    let age = max_age_s.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite=Strict{age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// Equal strings, compared in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A logged-in person.
#[derive(Debug, Clone)]
pub struct WebUser {
    /// The account.
    pub user: User,
    /// The session's CSRF token (every form carries it).
    pub csrf: String,
    /// SHA-256 of the session cookie.
    pub session_hash: String,
}

impl WebUser {
    /// Ok if this user's role may use `method path` (see `ui::routes`).
    pub fn may(&self, method: &str, path: &str) -> bool {
        let roles = super::allowed(method, path);
        self.user.role == Role::Admin || roles.is_empty() || roles.contains(&self.user.role)
    }

    /// Like [`WebUser::may`], as a 403 page when not.
    pub fn require(&self, method: &str, path: &str) -> Result<(), UiError> {
        if self.may(method, path) {
            return Ok(());
        }
        tracing::info!(user = %self.user.name, role = %self.user.role, method, path, "refused: role");
        Err(UiError::Forbidden(format!("{} {path}: role {} may not use this", method, self.user.role)))
    }

    /// Ok if a form's CSRF token is this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), UiError> {
        if constant_time_eq(token, &self.csrf) {
            Ok(())
        } else {
            Err(UiError::Csrf)
        }
    }

    /// How the audit log and case history name this user.
    pub fn actor(&self) -> String {
        format!("user:{}", self.user.name)
    }
}

/// What a session cookie turned out to be.
enum Found {
    Live(WebUser),
    Expired,
    Gone,
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let next = if parts.method == axum::http::Method::GET {
            parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into())
        } else {
            "/".into()
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(UiError::Login { next, expired: false });
        };
        let cfg = &state.ui().config;
        let now = cfg.clock.now_ms();
        let idle = cfg.idle.as_millis() as i64;
        let absolute = cfg.absolute.as_millis() as i64;
        let found = state
            .db("checking a session", move |store| -> Result<Found, users::UserError> {
                let conn = store.conn();
                let Some(s) = users::session_by_token(conn, &token)? else { return Ok(Found::Gone) };
                if s.ended_at.is_some() || s.user_disabled {
                    return Ok(Found::Gone);
                }
                if now - s.last_seen_at > idle || now - s.created_at > absolute {
                    users::end_session(conn, &s.token_hash, now)?;
                    return Ok(Found::Expired);
                }
                users::touch_session(conn, &s.token_hash, now)?;
                Ok(Found::Live(WebUser { user: s.user, csrf: s.csrf, session_hash: s.token_hash }))
            })
            .await?
            .map_err(|e| UiError::Internal(ApiError::internal("checking a session", e)))?;
        match found {
            Found::Live(u) => Ok(u),
            Found::Expired => Err(UiError::Login { next, expired: true }),
            Found::Gone => Err(UiError::Login { next, expired: false }),
        }
    }
}

/// A UI request that failed, answered with a page (or a redirect to login).
#[derive(Debug)]
pub enum UiError {
    /// Not logged in (or the session ended): 303 to the login page.
    Login {
        /// Where to go after logging in.
        next: String,
        /// The session expired (the login page says so).
        expired: bool,
    },
    /// 403: the role may not do this.
    Forbidden(String),
    /// 403: the form's CSRF token is missing or wrong.
    Csrf,
    /// 403: a POST from another site.
    CrossSite,
    /// 400: bad input, with what is wrong.
    BadRequest(String),
    /// 404.
    NotFound(String),
    /// 422: refused content (bad state change, bad note).
    Unprocessable(String),
    /// 429: too many failed logins.
    TooManyAttempts,
    /// 500 (or whatever the API error says).
    Internal(ApiError),
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::Internal(e)
    }
}

impl UiError {
    /// A 500 with context.
    pub fn internal(context: &'static str, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        UiError::Internal(ApiError::internal(context, e))
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, zh, en, detail) = match self {
            UiError::Login { next, expired } => {
                let next = if next.starts_with('/') && !next.starts_with("//") { next } else { "/".into() };
                let mut url = format!("/login?next={}", percent_encode(&next));
                if expired {
                    url.push_str("&expired=1");
                }
                return Redirect::to(&url).into_response();
            }
            UiError::Forbidden(m) => (StatusCode::FORBIDDEN, "无权访问", "Not allowed", m),
            UiError::Csrf => (
                StatusCode::FORBIDDEN,
                "表单已失效",
                "Form expired",
                "the form's CSRF token is missing or does not belong to this session; reload the page and try again"
                    .into(),
            ),
            UiError::CrossSite => (
                StatusCode::FORBIDDEN,
                "跨站请求被拒绝",
                "Cross-site request refused",
                "the request came from another site (Origin does not match)".into(),
            ),
            UiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "请求有误", "Bad request", m),
            UiError::NotFound(m) => (StatusCode::NOT_FOUND, "未找到", "Not found", m),
            UiError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, "无法执行", "Refused", m),
            UiError::TooManyAttempts => (
                StatusCode::TOO_MANY_REQUESTS,
                "尝试次数过多",
                "Too many attempts",
                "too many failed logins for this account or address; wait and try again later".into(),
            ),
            UiError::Internal(e) => {
                let status = e.status();
                // Logs a 5xx with its cause; the page says only that it failed.
                let text = if status.is_server_error() {
                    let _ = e.into_response();
                    "internal error; the agent's log has the details".to_owned()
                } else {
                    e.to_string()
                };
                (status, "出错了", "Something went wrong", text)
            }
        };
        let page = html! {
            (maud::DOCTYPE)
            html lang="zh-CN" {
                head { meta charset="utf-8"; title { (zh) " / " (en) } link rel="stylesheet" href="/static/app.css"; }
                body.error-page {
                    main {
                        h1 { (zh) " / " (en) }
                        p.error-detail { (detail) }
                        p { a href="/" { "返回首页 / Home" } }
                    }
                }
            }
        };
        (status, page).into_response()
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; __Host-duanka_session=abc; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn set_cookie_has_every_protection() {
        let v = set_cookie(SESSION_COOKIE, "x", None);
        let v = v.to_str().unwrap();
        for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(v.contains(part), "{v}");
        }
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(!constant_time_eq("", "a"));
    }
}
