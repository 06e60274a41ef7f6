//! The case pages: `GET /cases` (filter, sort, page), `GET /cases/{id}`
//! (graph, findings, owners, SIMs, evidence, timeline, decision form),
//! `POST /cases/{id}/reveal` (owners unmasked, audit-logged),
//! `POST /cases/{id}/decision` and `POST /cases/{id}/notes`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use chrono::{NaiveDate, TimeZone as _};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;

use super::i18n::Lang;
use super::layout::{self, csrf_field, local_rfc3339, local_time, see_other};
use super::session::{percent_encode, UiError, WebUser};
use crate::audit::{self, Action};
use crate::cases::{self, CaseDetail, CaseError, PageQuery, Sort, State as CaseState, TimelineEntry};
use crate::server::AppState;

/// Rows per page of the case list.
pub const PER_PAGE: u32 = 50;
/// Highest page number accepted (50 × 10,000 = half a million cases).
pub const MAX_PAGE_NUMBER: u32 = 10_000;

/// Query of `GET /cases` (every field optional; empty means no filter).
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    state: Option<String>,
    severity: Option<String>,
    probe: Option<String>,
    /// First day (YYYY-MM-DD, display zone), inclusive.
    from: Option<String>,
    /// Last day (YYYY-MM-DD, display zone), inclusive.
    to: Option<String>,
    sort: Option<String>,
    page: Option<u32>,
    #[allow(dead_code)] // read by the language layer
    lang: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn day_start(day: &str, zone: chrono::FixedOffset, field: &str) -> Result<i64, UiError> {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|_| UiError::BadRequest(format!("{field} {day:?}: expected a date like 2026-11-23")))?;
    let t = d.and_hms_opt(0, 0, 0).ok_or_else(|| UiError::BadRequest(format!("{field} {day:?}: no such day")))?;
    zone.from_local_datetime(&t)
        .single()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| UiError::BadRequest(format!("{field} {day:?}: no such day")))
}

impl ListParams {
    fn query(&self, zone: chrono::FixedOffset) -> Result<PageQuery, UiError> {
        let state = match nonempty(&self.state) {
            None => None,
            Some(s) => Some(CaseState::parse(s).ok_or_else(|| {
                UiError::BadRequest(format!("state {s:?}: expected new, reviewing, confirmed or dismissed"))
            })?),
        };
        let severity = match nonempty(&self.severity) {
            None => None,
            Some(s @ ("low" | "medium" | "high" | "critical")) => Some(s.to_owned()),
            Some(s) => {
                return Err(UiError::BadRequest(format!("severity {s:?}: expected low, medium, high or critical")))
            }
        };
        let sort = match nonempty(&self.sort) {
            None => Sort::default(),
            Some(s) => Sort::parse(s).ok_or_else(|| {
                UiError::BadRequest(format!("sort {s:?}: expected severity, updated, updated_asc, created or id"))
            })?,
        };
        let updated_from = nonempty(&self.from).map(|d| day_start(d, zone, "from")).transpose()?;
        let updated_to = nonempty(&self.to).map(|d| day_start(d, zone, "to").map(|t| t + 86_400_000)).transpose()?;
        let page = self.page.unwrap_or(1);
        if page == 0 || page > MAX_PAGE_NUMBER {
            return Err(UiError::BadRequest(format!("page must be 1..={MAX_PAGE_NUMBER}")));
        }
        Ok(PageQuery {
            state,
            severity,
            probe: nonempty(&self.probe).map(str::to_owned),
            updated_from,
            updated_to,
            sort,
            per_page: PER_PAGE,
            page,
        })
    }

    /// This query string with another page.
    fn with_page(&self, page: u32) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("state", &self.state),
            ("severity", &self.severity),
            ("probe", &self.probe),
            ("from", &self.from),
            ("to", &self.to),
            ("sort", &self.sort),
        ] {
            if let Some(v) = nonempty(v) {
                parts.push(format!("{k}={}", percent_encode(v)));
            }
        }
        parts.push(format!("page={page}"));
        format!("/cases?{}", parts.join("&"))
    }
}

fn badge(kind: &str, value: &str, text: &str) -> Markup {
    html! { span class=(format!("badge {kind}-{value}")) { (text) } }
}

/// `GET /cases`.
pub async fn list(
    State(state): State<AppState>,
    lang: Lang,
    user: WebUser,
    Query(params): Query<ListParams>,
) -> Result<Response, UiError> {
    user.require("GET", "/cases")?;
    let zone = state.ui().config.zone;
    let q = params.query(zone)?;
    let page_no = q.page;
    let (result, probes) = state
        .db("listing cases", move |store| -> Result<_, CaseError> {
            let page = cases::page(store.conn(), &q)?;
            let mut stmt = store.conn().prepare_cached("SELECT name FROM probes ORDER BY name")?;
            let probes = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok((page, probes))
        })
        .await?
        .map_err(|e| UiError::internal("listing cases", e))?;
    let pages = result.total.div_ceil(u64::from(PER_PAGE)).max(1);
    let sel = |v: &Option<String>, x: &str| nonempty(v) == Some(x);
    let body = html! {
        h1 { (lang.t("案件", "Cases")) }
        form.filters method="get" action="/cases" {
            label { (lang.t("状态", "State"))
                select name="state" id="f-state" {
                    option value="" { (lang.t("全部", "all")) }
                    @for s in ["new", "reviewing", "confirmed", "dismissed"] { option value=(s) selected[sel(&params.state, s)] { (lang.state(s)) } }
                }
            }
            label { (lang.t("严重程度", "Severity"))
                select name="severity" {
                    option value="" { (lang.t("全部", "all")) }
                    @for s in ["critical", "high", "medium", "low"] { option value=(s) selected[sel(&params.severity, s)] { (lang.severity(s)) } }
                }
            }
            label { (lang.t("探针", "Probe"))
                select name="probe" {
                    option value="" { (lang.t("全部", "all")) }
                    @for p in &probes { option value=(p) selected[sel(&params.probe, p)] { (p) } }
                }
            }
            label { (lang.t("更新自", "Changed from")) input type="date" name="from" value=(params.from.as_deref().unwrap_or("")); }
            label { (lang.t("至", "to")) input type="date" name="to" value=(params.to.as_deref().unwrap_or("")); }
            label { (lang.t("排序", "Sort"))
                select name="sort" {
                    @for (s, zh, en) in [("severity", "严重程度", "severity"), ("updated", "最近更新", "recently changed"), ("updated_asc", "最久未更新", "least recently changed"), ("created", "最新创建", "newest"), ("id", "编号", "id")] {
                        option value=(s) selected[sel(&params.sort, s)] { (lang.t(zh, en)) }
                    }
                }
            }
            button type="submit" { (lang.t("筛选", "Filter")) }
        }
        p.muted { (lang.t("共 ", "")) (result.total) (lang.t(" 个案件", " cases")) " · " (lang.t("第 ", "page ")) (page_no) " / " (pages) }
        table.cases {
            thead { tr {
                th { "#" } th { (lang.t("状态", "State")) } th { (lang.t("严重程度", "Severity")) } th { (lang.t("标题", "Title")) }
                th { (lang.t("网关", "Gateways")) } th { (lang.t("探针", "Probes")) } th { "SIM" } th { (lang.t("机主", "Owners")) } th { (lang.t("更新时间", "Changed")) }
            } }
            tbody {
                @for c in &result.items {
                    tr {
                        td { a href=(format!("/cases/{}", c.id)) class="case-link" { (c.id) } }
                        td { (badge("state", &c.state, lang.state(&c.state))) }
                        td { (badge("sev", &c.severity, lang.severity(&c.severity))) }
                        td { a href=(format!("/cases/{}", c.id)) { (c.title) } }
                        td.mono { (c.gateways.join(" ")) }
                        td { (c.probes.join(" ")) }
                        td.num { (c.imsis.len()) }
                        td.num { (c.owners) }
                        td.time { (local_rfc3339(&c.updated_at, zone)) }
                    }
                }
                @if result.items.is_empty() { tr { td colspan="9" { (lang.t("没有符合条件的案件。", "No cases match.")) } } }
            }
        }
        nav.pager {
            @if page_no > 1 { a href=(params.with_page(page_no - 1)) rel="prev" { "‹ " (lang.t("上一页", "previous")) } }
            @if u64::from(page_no) < pages { a href=(params.with_page(page_no + 1)) rel="next" { (lang.t("下一页", "next")) " ›" } }
        }
    };
    Ok(layout::page(lang, Some(&user), lang.t("案件", "Cases"), body).into_response())
}

fn case_error(e: CaseError) -> UiError {
    match e {
        CaseError::NotFound(id) => UiError::NotFound(format!("no case {id}")),
        e @ (CaseError::BadTransition { .. } | CaseError::NoReason | CaseError::BadNote(_)) => {
            UiError::Unprocessable(e.to_string())
        }
        e => UiError::internal("reading or writing a case", e),
    }
}

async fn load(state: &AppState, id: i64, reveal: bool) -> Result<(CaseDetail, Vec<TimelineEntry>), UiError> {
    state
        .db("reading a case", move |store| {
            let d = cases::show(store.conn(), id, reveal)?;
            let t = cases::timeline(store.conn(), &d)?;
            Ok((d, t))
        })
        .await?
        .map_err(case_error)
}

/// `GET /cases/{id}`.
pub async fn show(
    State(state): State<AppState>,
    lang: Lang,
    user: WebUser,
    Path(id): Path<i64>,
) -> Result<Response, UiError> {
    user.require("GET", "/cases/{id}")?;
    let (d, t) = load(&state, id, false).await?;
    Ok(detail_page(&state, lang, &user, &d, &t, None).into_response())
}

/// `POST /cases/{id}/reveal`: the same page with identities unmasked.
pub async fn reveal(
    State(state): State<AppState>,
    lang: Lang,
    user: WebUser,
    Path(id): Path<i64>,
    Form(f): Form<super::login::CsrfOnly>,
) -> Result<Response, UiError> {
    user.require("POST", "/cases/{id}/reveal")?;
    user.check_csrf(&f.csrf)?;
    let actor = user.actor();
    let (d, t) = state
        .db("revealing a case", move |store| {
            let d = cases::show(store.conn(), id, true)?;
            let owners: Vec<&str> = d.owners.iter().map(|o| o.owner_id.as_str()).collect();
            // Who saw whose identity, in the log before the page leaves.
            audit::append(store.conn(), &actor, Action::Reveal, &format!("case:{id}"), &json!({ "owners": owners }))
                .map_err(|audit::AuditError::Sqlite(e)| CaseError::Store(e))?;
            let t = cases::timeline(store.conn(), &d)?;
            Ok((d, t))
        })
        .await?
        .map_err(case_error)?;
    tracing::info!(user = %user.user.name, case = id, "owners revealed");
    Ok(detail_page(&state, lang, &user, &d, &t, None).into_response())
}

/// Body of `POST /cases/{id}/decision`.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    /// The CSRF token (missing counts as wrong: 403, not 422).
    #[serde(default)]
    csrf: String,
    state: String,
    reason: String,
}

/// `POST /cases/{id}/decision`.
pub async fn decide(
    State(state): State<AppState>,
    lang: Lang,
    user: WebUser,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, UiError> {
    user.require("POST", "/cases/{id}/decision")?;
    user.check_csrf(&f.csrf)?;
    let to = CaseState::parse(&f.state).ok_or_else(|| {
        UiError::BadRequest(format!("state {:?}: expected reviewing, confirmed or dismissed", f.state))
    })?;
    let actor = user.actor();
    let outcome = state
        .db("deciding a case", move |store| cases::decide(store.conn_mut(), id, to, &actor, &f.reason, None))
        .await?;
    match outcome {
        Ok(()) => {
            tracing::info!(user = %user.user.name, case = id, to = to.as_str(), "case decided");
            Ok(see_other(&format!("/cases/{id}")))
        }
        Err(e @ (CaseError::BadTransition { .. } | CaseError::NoReason)) => {
            let (d, t) = load(&state, id, false).await?;
            let m = e.to_string();
            Ok((StatusCode::UNPROCESSABLE_ENTITY, detail_page(&state, lang, &user, &d, &t, Some(&m))).into_response())
        }
        Err(e) => Err(case_error(e)),
    }
}

/// Body of `POST /cases/{id}/notes`.
#[derive(Debug, Deserialize)]
pub struct NoteForm {
    /// The CSRF token (missing counts as wrong: 403, not 422).
    #[serde(default)]
    csrf: String,
    text: String,
}

/// `POST /cases/{id}/notes`.
pub async fn note(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<i64>,
    Form(f): Form<NoteForm>,
) -> Result<Response, UiError> {
    user.require("POST", "/cases/{id}/notes")?;
    user.check_csrf(&f.csrf)?;
    let actor = user.actor();
    state
        .db("adding a note", move |store| -> Result<(), CaseError> {
            let tx = store.conn_mut().transaction()?;
            cases::add_note(&tx, id, &actor, &f.text)?;
            audit::append(
                &tx,
                &actor,
                Action::Note,
                &format!("case:{id}"),
                &json!({ "chars": f.text.trim().chars().count() }),
            )
            .map_err(|audit::AuditError::Sqlite(e)| CaseError::Store(e))?;
            tx.commit()?;
            Ok(())
        })
        .await?
        .map_err(case_error)?;
    Ok(see_other(&format!("/cases/{id}#timeline")))
}

fn detail_page(
    state: &AppState,
    lang: Lang,
    user: &WebUser,
    d: &CaseDetail,
    timeline: &[TimelineEntry],
    error: Option<&str>,
) -> Markup {
    let zone = state.ui().config.zone;
    let current = CaseState::parse(&d.state);
    let moves: Vec<CaseState> = [CaseState::Reviewing, CaseState::Confirmed, CaseState::Dismissed]
        .into_iter()
        .filter(|to| current.is_some_and(|c| c.can_move_to(*to)))
        .collect();
    let titles = [lang.t("网关", "Gateways"), "IMSI", "IMEI", lang.t("机主", "Owners"), lang.t("营业厅", "Outlets")];
    let body = html! {
        h1 { (lang.t("案件 ", "Case ")) (d.id) ": " (d.title) }
        p {
            (badge("state", &d.state, lang.state(&d.state))) " " (badge("sev", &d.severity, lang.severity(&d.severity)))
            span.muted { " " (lang.t("创建 ", "opened ")) (local_rfc3339(&d.created_at, zone)) " · " (lang.t("更新 ", "changed ")) (local_rfc3339(&d.updated_at, zone)) }
        }
        @if let Some(e) = error { p.notice role="alert" id="error" { (e) } }
        div.actions {
            @if user.may("POST", "/cases/{id}/reveal") && !d.revealed {
                form.inline method="post" action=(format!("/cases/{}/reveal", d.id)) {
                    (csrf_field(user))
                    button type="submit" id="reveal" { (lang.t("显示身份信息（将记入审计日志）", "Reveal identities (audit-logged)")) }
                }
            }
            @if d.revealed { span.revealed id="revealed" { (lang.t("身份信息已显示，已记入审计日志", "Identities shown; this was audit-logged")) } }
            @if user.may("POST", "/cases/{id}/bundle") {
                form.inline method="post" action=(format!("/cases/{}/bundle", d.id)) {
                    (csrf_field(user))
                    button type="submit" id="bundle" { (lang.t("导出证据包（签名 zip）", "Export evidence bundle (signed zip)")) }
                }
            }
        }
        h2 { (lang.t("关系图", "Graph")) }
        (super::svg::case_graph(d, titles))
        h2 { (lang.t("结论", "Findings")) }
        ul.findings { @for f in &d.findings { li { (f.text) } } @if d.findings.is_empty() { li { (lang.t("无", "none")) } } }
        h2 { (lang.t("机主", "Owners")) }
        table.owners {
            thead { tr {
                th { (lang.t("证件号码", "ID number")) } th { (lang.t("姓名", "Name")) } th { (lang.t("本案卡数", "Cards in case")) }
                th { (lang.t("登记卡数", "Cards registered")) } th { (lang.t("超出一证多卡限制", "Over the per-carrier limit")) } th { (lang.t("其他案件", "Other cases")) }
            } }
            tbody {
                @for o in &d.owners {
                    tr {
                        td.mono.owner-id { (o.owner_id) } td { (o.owner_name) } td.num { (o.cards_in_case) } td.num { (o.cards_registered) }
                        td { @if o.over_limit { strong { (lang.t("是", "yes")) } } }
                        td { @for c in &o.other_cases { a href=(format!("/cases/{c}")) { (c) } " " } }
                    }
                }
            }
        }
        h2 { "SIM" }
        table.sims {
            thead { tr { th { "IMSI" } th { "MSISDN" } th { "ICCID" } th { (lang.t("运营商", "Carrier")) } th { (lang.t("机主", "Owner")) } th { (lang.t("营业厅", "Outlet")) } th { (lang.t("开卡时间", "Activated")) } th { (lang.t("关联依据", "Tied by")) } } }
            tbody {
                @for s in &d.sims {
                    tr {
                        td.mono { (s.imsi) } td.mono { (s.msisdn.as_deref().unwrap_or("")) } td.mono { (s.iccid.as_deref().unwrap_or("")) }
                        td { (s.carrier.as_deref().unwrap_or("")) } td.mono { (s.owner_id.as_deref().unwrap_or("")) } td { (s.outlet_id.as_deref().unwrap_or("")) }
                        td.time { (s.activated_at.as_deref().map(|a| local_rfc3339(a, zone)).unwrap_or_default()) }
                        td { @for t in &s.ties { span.tie { (t.via) " → " (t.to) " (" (format!("{:.2}", t.confidence)) ")" } " " } }
                    }
                }
            }
        }
        h2 { (lang.t("证据", "Evidence")) }
        table.evidence {
            thead { tr { th { (lang.t("网关", "Gateway")) } th { (lang.t("类型", "Kind")) } th { (lang.t("规则", "Rule")) } th { (lang.t("观测值", "Observed")) } th { (lang.t("阈值", "Threshold")) } th { (lang.t("权重", "Weight")) } th { (lang.t("计入评分", "Counted")) } th { (lang.t("说明", "Meaning")) } } }
            tbody {
                @for e in &d.evidence {
                    tr class=(if e.counted { "" } else { "uncounted" }) {
                        td.mono { (e.gateway) } td { (e.kind) } td.mono { (e.id) } td { (e.observed) } td { (e.threshold) }
                        td.num { (format!("{:+.1}", e.weight)) } td { (if e.counted { lang.t("是", "yes") } else { lang.t("否", "no") }) } td { (e.detail) }
                    }
                }
                @if d.evidence.is_empty() { tr { td colspan="8" { (lang.t("无探针证据", "no probe evidence")) } } }
            }
        }
        h2 id="timeline" { (lang.t("时间线", "Timeline")) }
        table.timeline {
            thead { tr { th { (lang.t("时间", "When")) } th { (lang.t("类型", "Kind")) } th { (lang.t("操作者", "Who")) } th { (lang.t("内容", "What")) } } }
            tbody { @for e in timeline { tr { td.time { (local_time(e.at_ms, zone)) } td { (e.kind) } td { (e.actor) } td { (e.what) } } } }
        }
        @if user.may("POST", "/cases/{id}/decision") {
            h2 { (lang.t("审核决定", "Decision")) }
            @if moves.is_empty() {
                p.muted { (lang.t("当前状态下无可用操作。", "No move is possible from this state.")) }
            } @else {
                form.decision method="post" action=(format!("/cases/{}/decision", d.id)) {
                    (csrf_field(user))
                    fieldset {
                        legend { (lang.t("新状态", "New state")) }
                        @for (i, m) in moves.iter().enumerate() {
                            label.radio { input type="radio" name="state" value=(m.as_str()) id=(format!("state-{}", m.as_str())) required checked[i == 0]; " " (lang.state(m.as_str())) }
                        }
                    }
                    label { (lang.t("理由（必填，记入案件历史与审计日志）", "Reason (required; kept in the case history and the audit log)"))
                        textarea name="reason" id="reason" rows="3" required maxlength="4000" {} }
                    button type="submit" id="decide" { (lang.t("提交决定", "Record decision")) }
                }
            }
            h2 { (lang.t("备注", "Notes")) }
            form.note method="post" action=(format!("/cases/{}/notes", d.id)) {
                (csrf_field(user))
                textarea name="text" id="note" rows="2" required maxlength="4000" {}
                button type="submit" id="add-note" { (lang.t("添加备注", "Add note")) }
            }
        }
    };
    layout::page(lang, Some(user), &format!("{} {}", lang.t("案件", "Case"), d.id), body)
}
