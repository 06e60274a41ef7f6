//! `GET /`: detections per day (an SVG bar chart), open cases by severity,
//! probes online and offline (by their last heartbeat), and tamper alarms.
//! Nothing on it names a person, so every role sees it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{Duration as Days, NaiveDate, TimeZone as _};
use maud::html;

use super::i18n::Lang;
use super::layout::{self, local_time};
use super::session::{UiError, WebUser};
use crate::server::AppState;

/// Days the detections chart covers, today included.
pub const CHART_DAYS: i64 = 14;
/// A probe is online if its last heartbeat is younger than this.
pub const ONLINE_WITHIN_MS: i64 = 5 * 60 * 1000;
/// Alarms listed.
pub const ALARMS_SHOWN: i64 = 20;

struct Data {
    detections: Vec<(NaiveDate, u64)>,
    open_by_severity: Vec<(String, i64)>,
    probes: Vec<(String, Option<i64>, Option<i64>)>,
    alarms: Vec<(String, String, String, i64, Option<i64>)>,
}

/// `GET /`.
pub async fn page(State(state): State<AppState>, lang: Lang, user: WebUser) -> Result<Response, UiError> {
    user.require("GET", "/")?;
    let zone = state.ui().config.zone;
    let now = state.ui().config.clock.now_ms();
    let today = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default().with_timezone(&zone).date_naive();
    let first = today - Days::days(CHART_DAYS - 1);
    let start_ms = zone
        .from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map(|t| t.timestamp_millis())
        .unwrap_or(0);
    let data = state
        .db("reading the dashboard", move |store| -> rusqlite::Result<Data> {
            let conn = store.conn();
            let mut detections: Vec<(NaiveDate, u64)> = (0..CHART_DAYS).map(|i| (first + Days::days(i), 0)).collect();
            let mut stmt = conn.prepare_cached(
                "SELECT detected_at FROM gateways WHERE detected_at >= ?1 AND verdict IN ('suspect', 'simbox')",
            )?;
            for at in stmt.query_map([start_ms], |r| r.get::<_, i64>(0))? {
                let day = chrono::DateTime::from_timestamp_millis(at?).unwrap_or_default().with_timezone(&zone).date_naive();
                if let Some(slot) = detections.iter_mut().find(|d| d.0 == day) {
                    slot.1 += 1;
                }
            }
            let open_by_severity = conn
                .prepare_cached(
                    "SELECT severity, count(*) FROM cases WHERE state IN ('new', 'reviewing') GROUP BY severity",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let probes = conn
                .prepare_cached("SELECT name, last_seen_at, json_extract(heartbeat_json, '$.at_ms') FROM probes WHERE revoked_at IS NULL ORDER BY name")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            let alarms = conn
                .prepare_cached(
                    "SELECT p.name, a.kind, a.detail, a.occurred_at, a.acknowledged_at FROM alarms a JOIN probes p ON p.id = a.probe_id
                     ORDER BY a.occurred_at DESC LIMIT ?1",
                )?
                .query_map([ALARMS_SHOWN], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<Result<_, _>>()?;
            Ok(Data { detections, open_by_severity, probes, alarms })
        })
        .await?
        .map_err(|e| UiError::internal("reading the dashboard", e))?;
    let count = |sev: &str| data.open_by_severity.iter().find(|(s, _)| s == sev).map(|x| x.1).unwrap_or(0);
    let online = |hb: Option<i64>| hb.is_some_and(|t| now - t < ONLINE_WITHIN_MS);
    let n_online = data.probes.iter().filter(|p| online(p.2)).count();
    let chart_label = lang.t("每日检测到的网关（按首次检测日期）", "Gateways detected per day (by first detection)");
    let body = html! {
        h1 { (lang.t("概览", "Dashboard")) }
        section.cards {
            div.card {
                h2 { (lang.t("待处理案件", "Open cases")) }
                table.kv { @for sev in ["critical", "high", "medium", "low"] {
                    tr { th { (lang.severity(sev)) } td.num id=(format!("open-{sev}")) { (count(sev)) } }
                } }
            }
            div.card {
                h2 { (lang.t("探针", "Probes")) }
                p { strong id="probes-online" { (n_online) } " " (lang.t("在线", "online")) " · "
                    strong id="probes-offline" { (data.probes.len() - n_online) } " " (lang.t("离线", "offline")) }
                ul.plain { @for (name, _, hb) in &data.probes {
                    li { span class=(if online(*hb) { "dot on" } else { "dot off" }) {} " " (name) " "
                        span.muted { @match hb { Some(t) => (local_time(*t, zone)), None => (lang.t("从未上报心跳", "no heartbeat yet")) } } }
                } }
            }
        }
        section {
            h2 { (chart_label) }
            (super::svg::per_day_chart(&data.detections, chart_label))
        }
        section {
            h2 { (lang.t("防拆告警", "Tamper alarms")) }
            table.alarms {
                thead { tr { th { (lang.t("时间", "When")) } th { (lang.t("探针", "Probe")) } th { (lang.t("类型", "Kind")) } th { (lang.t("详情", "Detail")) } th { (lang.t("已确认", "Acknowledged")) } } }
                tbody {
                    @for (probe, kind, detail, at, ack) in &data.alarms {
                        tr class=(if ack.is_none() { "alarm-open" } else { "" }) {
                            td.time { (local_time(*at, zone)) } td { (probe) } td { (kind) } td { (detail) }
                            td { @if let Some(t) = ack { (local_time(*t, zone)) } @else { (lang.t("否", "no")) } }
                        }
                    }
                    @if data.alarms.is_empty() { tr { td colspan="5" { (lang.t("无告警", "no alarms")) } } }
                }
            }
        }
    };
    Ok(layout::page(lang, Some(&user), lang.t("概览", "Dashboard"), body).into_response())
}
