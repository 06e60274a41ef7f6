//! `GET /account` (who am I, session limits) and `POST /account/password`.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::i18n::Lang;
use super::layout::{self, csrf_field, see_other};
use super::session::{UiError, WebUser};
use crate::audit::{self, Action};
use crate::server::AppState;
use crate::users::{self, UserError};

/// Query of `GET /account`.
#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    changed: Option<String>,
}

fn account_page(state: &AppState, lang: Lang, user: &WebUser, message: Option<(&str, bool)>) -> maud::Markup {
    let cfg = &state.ui().config;
    layout::page(
        lang,
        Some(user),
        lang.t("账户", "Account"),
        html! {
            h1 { (lang.t("账户", "Account")) }
            p { (lang.t("用户：", "User: ")) strong { (user.user.name) } " · " (lang.t("角色：", "Role: ")) (lang.role(user.user.role)) }
            p.muted {
                (lang.t("会话在闲置 ", "Sessions end after ")) (cfg.idle.as_secs() / 60)
                (lang.t(" 分钟后或登录 ", " minutes idle or ")) (cfg.absolute.as_secs() / 60)
                (lang.t(" 分钟后结束。", " minutes after login."))
            }
            h2 { (lang.t("修改密码", "Change password")) }
            @if let Some((m, ok)) = message { p class=(if ok { "notice ok" } else { "notice" }) role="status" { (m) } }
            form method="post" action="/account/password" {
                (csrf_field(user))
                label { (lang.t("当前密码", "Current password")) input type="password" name="current" autocomplete="current-password" required; }
                label { (lang.t("新密码（至少 10 个字符）", "New password (at least 10 characters)")) input type="password" name="new" autocomplete="new-password" required minlength="10"; }
                label { (lang.t("再次输入新密码", "New password again")) input type="password" name="confirm" autocomplete="new-password" required minlength="10"; }
                button type="submit" { (lang.t("修改", "Change")) }
            }
        },
    )
}

/// `GET /account`.
pub async fn page(
    State(state): State<AppState>,
    lang: Lang,
    user: WebUser,
    Query(q): Query<AccountQuery>,
) -> Result<Response, UiError> {
    user.require("GET", "/account")?;
    let message = q.changed.is_some().then_some((lang.t("密码已修改。", "Password changed."), true));
    Ok(account_page(&state, lang, &user, message).into_response())
}

/// Body of `POST /account/password`.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    /// The CSRF token (missing counts as wrong: 403, not 422).
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
    confirm: String,
}

/// `POST /account/password`.
pub async fn change_password(
    State(state): State<AppState>,
    lang: Lang,
    user: WebUser,
    Form(f): Form<PasswordForm>,
) -> Result<Response, UiError> {
    user.require("POST", "/account/password")?;
    user.check_csrf(&f.csrf)?;
    if f.new != f.confirm {
        let m = lang.t("两次输入的新密码不一致。", "The two new passwords differ.");
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, account_page(&state, lang, &user, Some((m, false))))
            .into_response());
    }
    let now = state.ui().config.clock.now_ms();
    let (u, keep, actor) = (user.user.clone(), user.session_hash.clone(), user.actor());
    // argon2 twice (check, hash) while holding the store: password changes are rare.
    let outcome = state
        .db("changing a password", move |store| -> Result<(), UserError> {
            let tx = store.conn_mut().transaction()?;
            users::change_password(&tx, &u, &f.current, &f.new, &keep, now)?;
            audit::append(&tx, &actor, Action::PasswordChanged, &actor, &json!({}))
                .map_err(|audit::AuditError::Sqlite(e)| UserError::Sqlite(e))?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    match outcome {
        Ok(()) => Ok(see_other("/account?changed=1")),
        Err(e @ (UserError::WrongPassword | UserError::WeakPassword(_))) => {
            let m = e.to_string();
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, account_page(&state, lang, &user, Some((&m, false))))
                .into_response())
        }
        Err(e) => Err(UiError::internal("changing a password", e)),
    }
}
