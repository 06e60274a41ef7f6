//! `GET/POST /login` and `POST /logout`.
//!
//! The login form has no session yet, so its CSRF token is a double-submit
//! cookie (`__Host-duanka_login`, set with the form) that the form must
//! repeat. Failed logins are counted per account name and per client
//! address; past either limit the agent refuses to check passwords at all
//! (429) until the window has passed. Every attempt is audit-logged.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::i18n::Lang;
use super::layout::{page, see_other};
use super::session::{constant_time_eq, cookie, set_cookie, ClientAddr, UiError, WebUser, SESSION_COOKIE};
use crate::audit::{self, Action};
use crate::server::AppState;
use crate::users::{self, LoginCheck};

/// The login form's double-submit CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "__Host-duanka_login";

/// Query of `GET /login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
    #[allow(dead_code)] // read by the language layer
    lang: Option<String>,
}

fn safe_next(next: Option<&str>) -> String {
    match next {
        // Only paths of this site: no scheme, no `//host`.
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn login_page(lang: Lang, csrf: &str, next: &str, message: Option<&str>, name: &str) -> maud::Markup {
    page(
        lang,
        None,
        lang.t("登录", "Log in"),
        html! {
            section.login {
                h1 { (lang.t("断卡 审核系统登录", "duanka review — log in")) }
                @if let Some(m) = message { p.notice role="alert" { (m) } }
                form method="post" action="/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    label { (lang.t("用户名", "User name")) input type="text" name="name" id="name" value=(name) autocomplete="username" required; }
                    label { (lang.t("密码", "Password")) input type="password" name="password" id="password" autocomplete="current-password" required; }
                    button type="submit" id="login" { (lang.t("登录", "Log in")) }
                }
            }
        },
    )
}

/// `GET /login`.
pub async fn form(lang: Lang, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let csrf = cookie(&headers, LOGIN_CSRF_COOKIE).filter(|c| c.len() >= 32).unwrap_or_else(users::random_token);
    let message =
        q.expired.is_some().then(|| lang.t("会话已过期，请重新登录。", "Your session expired; log in again."));
    let body = login_page(lang, &csrf, &safe_next(q.next.as_deref()), message, "");
    ([(header::SET_COOKIE, set_cookie(LOGIN_CSRF_COOKIE, &csrf, None))], body).into_response()
}

/// Body of `POST /login`.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// The CSRF token (missing counts as wrong: 403, not 422).
    #[serde(default)]
    csrf: String,
    name: String,
    password: String,
    next: Option<String>,
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    addr: Option<Extension<ClientAddr>>,
    Form(f): Form<LoginForm>,
) -> Result<Response, UiError> {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(&f.csrf, &expected) {
        return Err(UiError::Csrf);
    }
    let address = addr.map(|Extension(ClientAddr(ip))| ip.to_string()).unwrap_or_else(|| "unknown".into());
    let name = f.name.trim().to_owned();
    let ui = state.ui();
    let now = ui.config.clock.now_ms();
    let audit_failure = |reason: &'static str| {
        let (name, address) = (name.clone(), address.clone());
        state.db("auditing a failed login", move |store| {
            let actor = format!("login:{name}");
            audit::append(
                store.conn(),
                &actor,
                Action::LoginFailed,
                &format!("user:{name}"),
                &json!({"reason": reason, "address": address}),
            )
        })
    };
    if ui.login_blocked(&name, &address) {
        tracing::warn!(user = %name, %address, "login refused: too many failures");
        audit_failure("rate_limited").await?.map_err(|e| UiError::internal("auditing a login", e))?;
        return Err(UiError::TooManyAttempts);
    }
    let lookup = name.clone();
    let record = state
        .db("looking up a login", move |store| users::login_record(store.conn(), &lookup))
        .await?
        .map_err(|e| UiError::internal("looking up a login", e))?;
    let password = f.password;
    // argon2 is slow on purpose: off the async workers, without the store.
    let check = tokio::task::spawn_blocking(move || users::decide_login(record, &password))
        .await
        .map_err(|e| UiError::internal("checking a password", e))?;
    let user = match check {
        LoginCheck::Ok(user) => user,
        other => {
            let reason = match other {
                LoginCheck::Disabled => "disabled",
                LoginCheck::Unknown => "unknown_user",
                _ => "wrong_password",
            };
            ui.login_failed(&name, &address);
            tracing::info!(user = %name, %address, reason, "login failed");
            audit_failure(reason).await?.map_err(|e| UiError::internal("auditing a login", e))?;
            let csrf = users::random_token();
            // One message for every failure: it must not tell which names exist.
            let body =
                login_page(
                    lang,
                    &csrf,
                    &safe_next(f.next.as_deref()),
                    Some(lang.t(
                        "用户名或密码错误，或账户已停用。",
                        "Wrong user name or password, or the account is disabled.",
                    )),
                    &name,
                );
            return Ok((
                axum::http::StatusCode::UNAUTHORIZED,
                [(header::SET_COOKIE, set_cookie(LOGIN_CSRF_COOKIE, &csrf, None))],
                body,
            )
                .into_response());
        }
    };
    ui.login_succeeded(&name);
    let (token, _) = state
        .db("starting a session", move |store| {
            let conn = store.conn();
            let session = users::create_session(conn, user.id, now)?;
            let actor = format!("user:{}", user.name);
            audit::append(conn, &actor, Action::Login, &actor, &json!({"address": address}))?;
            anyhow::Ok(session)
        })
        .await?
        .map_err(|e| UiError::internal("starting a session", e))?;
    tracing::info!(user = %name, "logged in");
    let mut response = see_other(&safe_next(f.next.as_deref()));
    let h = response.headers_mut();
    h.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &token, None));
    h.append(header::SET_COOKIE, set_cookie(LOGIN_CSRF_COOKIE, "", Some(0)));
    Ok(response)
}

/// Body of forms that carry only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    /// The CSRF token (missing counts as wrong: 403, not 422).
    #[serde(default)]
    pub csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, UiError> {
    user.require("POST", "/logout")?;
    user.check_csrf(&f.csrf)?;
    let now = state.ui().config.clock.now_ms();
    let (hash, actor) = (user.session_hash.clone(), user.actor());
    state
        .db("ending a session", move |store| {
            users::end_session(store.conn(), &hash, now)?;
            audit::append(store.conn(), &actor, Action::Logout, &actor, &json!({}))?;
            anyhow::Ok(())
        })
        .await?
        .map_err(|e| UiError::internal("ending a session", e))?;
    let mut response = see_other("/login");
    response.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0)));
    Ok(response)
}
