//! `GET /probes`: every probe with its last heartbeat — packets, drops,
//! spool depth, uplink, own cell, tamper state (board), version — as the
//! probe reported it (`probes.heartbeat_json`, shared `events::Heartbeat`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use duanka_shared::events::Heartbeat;
use maud::html;

use super::i18n::Lang;
use super::layout::{self, local_rfc3339, local_time};
use super::session::{UiError, WebUser};
use crate::auth;
use crate::server::AppState;

/// `GET /probes`.
pub async fn page(State(state): State<AppState>, lang: Lang, user: WebUser) -> Result<Response, UiError> {
    user.require("GET", "/probes")?;
    let zone = state.ui().config.zone;
    let now = state.ui().config.clock.now_ms();
    let probes = state
        .db("listing probes", |store| auth::list_probes(store.conn()))
        .await?
        .map_err(|e| UiError::internal("listing probes", e))?;
    let body = html! {
        h1 { (lang.t("探针", "Probes")) }
        table.probes {
            thead { tr {
                th { (lang.t("名称", "Name")) } th { (lang.t("状态", "State")) } th { (lang.t("最近心跳", "Last heartbeat")) }
                th { (lang.t("包数", "Packets")) } th { (lang.t("丢包", "Drops")) } th { (lang.t("缓存队列", "Spool")) }
                th { (lang.t("上行", "Uplink")) } th { (lang.t("本机小区", "Own cell")) } th { (lang.t("防拆状态", "Tamper")) } th { (lang.t("版本", "Version")) }
            } }
            tbody {
                @for p in &probes {
                    @let at_ms = p.heartbeat.as_ref().and_then(|h| h.get("at_ms")).and_then(|v| v.as_i64());
                    @let hb: Option<Heartbeat> = p.heartbeat.as_ref().and_then(|h| h.get("heartbeat")).and_then(|h| serde_json::from_value(h.clone()).ok());
                    tr {
                        td { (p.name) }
                        td {
                            @if p.revoked_at.is_some() { span.badge.state-dismissed { (lang.t("已吊销", "revoked")) } }
                            @else if at_ms.is_some_and(|t| now - t < super::dashboard::ONLINE_WITHIN_MS) { span.badge.state-confirmed { (lang.t("在线", "online")) } }
                            @else { span.badge.state-new { (lang.t("离线", "offline")) } }
                        }
                        td.time { @if let Some(t) = at_ms { (local_time(t, zone)) } @else if let Some(s) = &p.last_seen_at { (local_rfc3339(s, zone)) } }
                        @if let Some(h) = &hb {
                            td.num { (h.packets) } td.num { (h.drops) } td.num { (h.spool_depth) } td { (h.uplink.as_deref().unwrap_or("")) }
                            td.mono { @if let Some(c) = &h.own_cell {
                                (c.rat) " " (c.mcc.map(|x| x.to_string()).unwrap_or_default()) "-" (c.mnc.map(|x| x.to_string()).unwrap_or_default())
                                " LAC " (c.lac.map(|x| x.to_string()).unwrap_or_default()) " CI " (c.cell_id.map(|x| x.to_string()).unwrap_or_default())
                                @if let Some(r) = c.rssi_dbm { " " (r) " dBm" }
                            } }
                            td { @match h.board.as_deref() { Some("tamper") => strong.alarm { (lang.t("已触发", "TAMPERED")) }, Some(b) => (b), None => "" } }
                            td { (h.version.as_deref().unwrap_or("")) }
                        } @else {
                            td colspan="7" { (lang.t("尚无心跳", "no heartbeat yet")) }
                        }
                    }
                }
                @if probes.is_empty() { tr { td colspan="10" { (lang.t("尚未注册探针（duanka-agent probe add）。", "No probes enrolled yet (duanka-agent probe add).")) } } }
            }
        }
    };
    Ok(layout::page(lang, Some(&user), lang.t("探针", "Probes"), body).into_response())
}
