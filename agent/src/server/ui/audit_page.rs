//! `GET /audit`: the audit log, newest first, with filters by action and
//! actor, paging backwards by id, and the chain's state (verified on every
//! view: the log is small next to cases and a broken chain must be seen).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{self, local_time};
use super::session::{percent_encode, UiError, WebUser};
use crate::audit;
use crate::server::AppState;

/// Records per page.
pub const PER_PAGE: u32 = 100;

/// Query of `GET /audit`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    before: Option<i64>,
    #[allow(dead_code)] // read by the language layer
    lang: Option<String>,
}

/// `GET /audit`.
pub async fn page(
    State(state): State<AppState>,
    lang: Lang,
    user: WebUser,
    Query(q): Query<AuditQuery>,
) -> Result<Response, UiError> {
    user.require("GET", "/audit")?;
    let zone = state.ui().config.zone;
    let filter = audit::ListFilter {
        action: q.action.clone().filter(|s| !s.is_empty()),
        actor: q.actor.clone().filter(|s| !s.is_empty()),
        before_id: q.before,
        limit: PER_PAGE,
    };
    let (records, check) = state
        .db("reading the audit log", move |store| -> Result<_, audit::AuditError> {
            Ok((audit::list(store.conn(), &filter)?, audit::verify(store.conn())?))
        })
        .await?
        .map_err(|e| UiError::internal("reading the audit log", e))?;
    let next = records.last().filter(|_| records.len() == PER_PAGE as usize).map(|r| {
        let mut url = format!("/audit?before={}", r.id);
        for (k, v) in [("action", &q.action), ("actor", &q.actor)] {
            if let Some(v) = v.as_deref().filter(|s| !s.is_empty()) {
                url.push_str(&format!("&{k}={}", percent_encode(v)));
            }
        }
        url
    });
    let body = html! {
        h1 { (lang.t("审计日志", "Audit log")) }
        @match &check.broken {
            None => p.notice.ok id="chain-ok" { (lang.t("哈希链完整：", "Hash chain intact: ")) (check.records) (lang.t(" 条记录，链头 ", " records, head ")) code { (check.head.as_deref().unwrap_or("-")) } },
            Some(b) => p.notice role="alert" id="chain-broken" { (lang.t("哈希链断裂于记录 ", "Hash chain broken at record ")) (b.id) ": " (b.reason) },
        }
        form.filters method="get" action="/audit" {
            label { (lang.t("操作", "Action")) input type="text" name="action" value=(q.action.as_deref().unwrap_or("")) placeholder="case.reveal"; }
            label { (lang.t("操作者", "Actor")) input type="text" name="actor" value=(q.actor.as_deref().unwrap_or("")); }
            button type="submit" { (lang.t("筛选", "Filter")) }
        }
        table.audit {
            thead { tr { th { "#" } th { (lang.t("时间", "When")) } th { (lang.t("操作者", "Who")) } th { (lang.t("操作", "Action")) } th { (lang.t("对象", "Target")) } th { (lang.t("详情", "Detail")) } th { (lang.t("哈希", "Hash")) } } }
            tbody {
                @for r in &records {
                    tr { td.num { (r.id) } td.time { (local_time(r.at, zone)) } td { (r.actor) } td.mono { (r.action) } td.mono { (r.target) } td.mono.detail { (r.detail) } td.mono.hash { (&r.hash[..12.min(r.hash.len())]) "…" } }
                }
                @if records.is_empty() { tr { td colspan="7" { (lang.t("无记录", "no records")) } } }
            }
        }
        @if let Some(n) = next { nav.pager { a href=(n) rel="next" { (lang.t("更早", "older")) " ›" } } }
    };
    Ok(layout::page(lang, Some(&user), lang.t("审计日志", "Audit log"), body).into_response())
}
