//! `GET /imports` (recent imports) and `POST /imports` (upload a registry or
//! CDR CSV): the upload is streamed to a private file in the data directory,
//! imported with `crate::import` (all or nothing, the same validation as the
//! CLI), then removed; a refused file shows its validation report (the bad
//! rows by line number, with reasons). A good import is followed by a
//! correlation run, as on the command line. Both outcomes are audit-logged.

use std::io::Write as _;
use std::path::PathBuf;

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde_json::json;

use super::i18n::Lang;
use super::layout::{self, csrf_field, local_time};
use super::session::{UiError, WebUser};
use crate::audit::{self, Action};
use crate::import::{self, ImportKind, ImportOptions};
use crate::server::AppState;

/// Largest upload accepted.
pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024 * 1024;
/// Imports listed on the page.
pub const RECENT: i64 = 20;

/// The body limit of `POST /imports`.
pub fn body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_UPLOAD_BYTES)
}

type Recent = Vec<(i64, String, String, String, i64, i64, Option<i64>, String)>;

async fn recent(state: &AppState) -> Result<Recent, UiError> {
    state
        .db("listing imports", |store| -> rusqlite::Result<Recent> {
            store
                .conn()
                .prepare_cached("SELECT id, kind, file, sha256, rows, started_at, finished_at, actor FROM carrier.imports ORDER BY id DESC LIMIT ?1")?
                .query_map([RECENT], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)))?
                .collect()
        })
        .await?
        .map_err(|e| UiError::internal("listing imports", e))
}

fn imports_page(state: &AppState, lang: Lang, user: &WebUser, recent: &Recent, report: Option<Markup>) -> Markup {
    let zone = state.ui().config.zone;
    let body = html! {
        h1 { (lang.t("数据导入", "Imports")) }
        @if let Some(r) = report { section.report id="import-report" { (r) } }
        form.upload method="post" action="/imports" enctype="multipart/form-data" {
            (csrf_field(user))
            label { (lang.t("类型", "Kind"))
                select name="kind" id="import-kind" {
                    option value="registry" { (lang.t("实名登记（registry）", "Subscriber registry")) }
                    option value="cdr" { (lang.t("话单（CDR）", "Call detail records (CDR)")) }
                }
            }
            label { (lang.t("无时区时间的 UTC 偏移", "UTC offset of times without one")) input type="text" name="tz" value="+08:00" size="6"; }
            label { (lang.t("CSV 文件", "CSV file")) input type="file" name="file" id="import-file" accept=".csv,text/csv" required; }
            button type="submit" id="import-submit" { (lang.t("上传并导入", "Upload and import")) }
        }
        p.muted { (lang.t("全部或全不：任何一行有误则不保存任何数据，并列出错误行。", "All or nothing: if any row is bad nothing is stored and the bad rows are listed.")) }
        h2 { (lang.t("最近导入", "Recent imports")) }
        table.imports {
            thead { tr { th { "#" } th { (lang.t("类型", "Kind")) } th { (lang.t("文件", "File")) } th { (lang.t("行数", "Rows")) } th { (lang.t("开始", "Started")) } th { (lang.t("完成", "Finished")) } th { (lang.t("操作者", "By")) } th { "SHA-256" } } }
            tbody {
                @for (id, kind, file, sha, rows, started, finished, actor) in recent {
                    tr { td.num { (id) } td { (kind) } td { (file) } td.num { (rows) } td.time { (local_time(*started, zone)) }
                         td.time { @if let Some(f) = finished { (local_time(*f, zone)) } } td { (actor) } td.mono.hash { (&sha[..12.min(sha.len())]) "…" } }
                }
                @if recent.is_empty() { tr { td colspan="8" { (lang.t("尚无导入", "no imports yet")) } } }
            }
        }
    };
    layout::page(lang, Some(user), lang.t("数据导入", "Imports"), body)
}

/// `GET /imports`.
pub async fn page(State(state): State<AppState>, lang: Lang, user: WebUser) -> Result<Response, UiError> {
    user.require("GET", "/imports")?;
    let recent = recent(&state).await?;
    Ok(imports_page(&state, lang, &user, &recent, None).into_response())
}

/// Removes the upload when dropped, however the handler ends.
struct Upload(PathBuf);

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `POST /imports`.
pub async fn upload(
    State(state): State<AppState>,
    lang: Lang,
    user: WebUser,
    mut form: Multipart,
) -> Result<Response, UiError> {
    user.require("POST", "/imports")?;
    let dir = state.db("finding the data directory", |store| store.dir().to_path_buf()).await?;
    let dir = if dir.as_os_str().is_empty() { std::env::temp_dir() } else { dir.join("uploads") };
    let bad = |m: String| UiError::BadRequest(m);
    let (mut csrf, mut kind, mut tz, mut upload, mut file_name) = (None, None, None, None, String::new());
    while let Some(mut field) = form.next_field().await.map_err(|e| bad(format!("reading the upload: {e}")))? {
        match field.name().unwrap_or("") {
            "csrf" => csrf = Some(field.text().await.map_err(|e| bad(e.to_string()))?),
            "kind" => kind = Some(field.text().await.map_err(|e| bad(e.to_string()))?),
            "tz" => tz = Some(field.text().await.map_err(|e| bad(e.to_string()))?),
            "file" => {
                // The token comes before the file in the form: refuse before storing anything.
                user.check_csrf(csrf.as_deref().unwrap_or(""))?;
                file_name =
                    field.file_name().unwrap_or("upload.csv").chars().filter(|c| !c.is_control()).take(200).collect();
                std::fs::create_dir_all(&dir).map_err(|e| UiError::internal("making the upload directory", e))?;
                let path = dir.join(format!("upload-{}.csv", crate::users::random_token()));
                let guard = Upload(path.clone());
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(|e| UiError::internal("storing an upload", e))?;
                while let Some(chunk) = field.chunk().await.map_err(|e| bad(format!("reading the upload: {e}")))? {
                    out.write_all(&chunk).map_err(|e| UiError::internal("storing an upload", e))?;
                }
                out.sync_all().map_err(|e| UiError::internal("storing an upload", e))?;
                upload = Some(guard);
            }
            _ => {}
        }
    }
    user.check_csrf(csrf.as_deref().unwrap_or(""))?;
    let kind = match kind.as_deref() {
        Some("registry") => ImportKind::Registry,
        Some("cdr") => ImportKind::Cdr,
        other => return Err(bad(format!("kind {other:?}: expected registry or cdr"))),
    };
    let tz_offset_s = match tz.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => import::validate::DEFAULT_TZ_OFFSET_S,
        Some(t) => {
            import::validate::parse_offset(t).ok_or_else(|| bad(format!("tz {t:?}: expected an offset like +08:00")))?
        }
    };
    let upload = upload.ok_or_else(|| bad("no file in the upload (field `file`)".into()))?;
    let actor = user.actor();
    let path = upload.0.clone();
    let name = file_name.clone();
    let outcome = state
        .db("importing an upload", move |store| {
            let file = std::fs::File::open(&path).map_err(|e| anyhow::anyhow!("opening the upload: {e}"))?;
            let size = file.metadata().ok().map(|m| m.len());
            let options = ImportOptions { tz_offset_s, actor: actor.clone(), size, ..ImportOptions::default() };
            let result = match kind {
                ImportKind::Registry => import::registry::import_reader(store, file, &name, options),
                ImportKind::Cdr => import::cdr::import_reader(store, file, &name, options),
            };
            let (detail, out) = match result {
                Ok(o) => {
                    let c = crate::correlate::full(store.conn_mut(), &crate::correlate::Config::default())?;
                    (
                        json!({"kind": kind.as_str(), "file": name, "status": "imported", "rows": o.rows, "import_id": o.import_id, "sha256": o.sha256}),
                        Ok((o, c)),
                    )
                }
                Err(e) if e.kind().is_refusal() => {
                    let (rows, bad_rows) = e.rejection().map(|r| (r.rows, r.bad_rows)).unwrap_or((0, 0));
                    (json!({"kind": kind.as_str(), "file": name, "status": "refused", "rows": rows, "bad_rows": bad_rows}), Err(e))
                }
                Err(e) => return Err(anyhow::Error::new(e)),
            };
            audit::append(store.conn(), &actor, Action::Import, &format!("import:{}", kind.as_str()), &detail)?;
            anyhow::Ok(out)
        })
        .await?
        .map_err(|e| UiError::internal("importing an upload", e))?;
    drop(upload);
    let (status, report) = match outcome {
        Ok((o, c)) => (
            StatusCode::OK,
            html! {
                p.notice.ok id="import-ok" {
                    (lang.t("已导入 ", "Imported ")) (o.rows) (lang.t(" 行（新增 ", " rows (")) (o.inserted) (lang.t("，更新 ", " new, ")) (o.updated)
                    (lang.t("）。", " updated).")) " SHA-256 " code { (o.sha256) }
                }
                p { (lang.t("关联分析：", "Correlation: ")) (c.clusters) (lang.t(" 个聚类；新建案件 ", " clusters; cases opened ")) (c.cases_opened)
                    (lang.t("，更新 ", ", updated ")) (c.cases_updated) (lang.t("，重新打开 ", ", reopened ")) (c.cases_reopened) }
            },
        ),
        Err(e) => {
            let rejection = e.rejection();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                html! {
                    p.notice id="import-refused" { (lang.t("文件被拒绝，未保存任何数据：", "File refused; nothing was stored: ")) (e) }
                    @if let Some(r) = rejection {
                        p { (r.bad_rows) (lang.t(" 行有误，共 ", " bad rows of ")) (r.rows) }
                        table.errors {
                            thead { tr { th { (lang.t("行号", "Line")) } th { (lang.t("原因", "Reason")) } } }
                            tbody { @for err in &r.errors { tr { td.num { (err.line) } td { (err.reason) } } } }
                        }
                    }
                },
            )
        }
    };
    let recent = recent(&state).await?;
    Ok((status, imports_page(&state, lang, &user, &recent, Some(report))).into_response())
}
