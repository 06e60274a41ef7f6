//! `GET /exports` and the downloads: `POST /exports/blocklist`,
//! `POST /exports/disciplinary`, `POST /cases/{id}/bundle`. Downloads are
//! POSTs with the CSRF token (they name people and are audit-logged, so no
//! link on another site may trigger one); each writes an `export` audit
//! record with who, what, how many rows and the file's SHA-256.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::html;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::i18n::Lang;
use super::layout::{self, csrf_field};
use super::login::CsrfOnly;
use super::session::{UiError, WebUser};
use crate::audit::{self, Action};
use crate::export::{bundle, keys, lists, ExportError};
use crate::server::AppState;

/// `GET /exports`.
pub async fn page(State(state): State<AppState>, lang: Lang, user: WebUser) -> Result<Response, UiError> {
    user.require("GET", "/exports")?;
    let confirmed: i64 = state
        .db("counting confirmed cases", |store| {
            store.conn().query_row("SELECT count(*) FROM cases WHERE state = 'confirmed'", [], |r| r.get(0))
        })
        .await?
        .map_err(|e| UiError::internal("counting confirmed cases", e))?;
    let body = html! {
        h1 { (lang.t("导出", "Exports")) }
        p { (lang.t("已确认案件：", "Confirmed cases: ")) strong id="confirmed-count" { (confirmed) } }
        p.muted { (lang.t("每次导出都会记入审计日志（导出人、内容、行数、SHA-256）。", "Every export is audit-logged (who, what, rows, SHA-256).")) }
        section.export {
            h2 { (lang.t("运营商停机名单", "Block list for carriers")) }
            p { (lang.t("已确认案件中的每张卡：IMSI、MSISDN、ICCID、IMEI、案件编号。", "Every card of the confirmed cases: IMSI, MSISDN, ICCID, IMEI, case id.")) }
            form method="post" action="/exports/blocklist" { (csrf_field(&user)) button type="submit" id="export-blocklist" { (lang.t("下载 CSV", "Download CSV")) } }
        }
        section.export {
            h2 { (lang.t("惩戒名单", "Disciplinary list")) }
            p { (lang.t("已确认案件中的机主、所持卡号及惩戒措施（仅保留一张卡，5 年内不得新办）。", "Owners in confirmed cases, the cards each holds, and the measure (keep one card; no new cards for 5 years).")) }
            form method="post" action="/exports/disciplinary" { (csrf_field(&user)) button type="submit" id="export-disciplinary" { (lang.t("下载 CSV", "Download CSV")) } }
        }
        section.export {
            h2 { (lang.t("证据包", "Evidence bundles")) }
            p { (lang.t("在案件页面导出：签名的 zip，可用 duanka-agent bundle verify 校验。", "From a case's page: a signed zip, checked with duanka-agent bundle verify.")) }
        }
    };
    Ok(layout::page(lang, Some(&user), lang.t("导出", "Exports"), body).into_response())
}

fn download(bytes: Vec<u8>, name: &str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response()
}

async fn list_export(
    state: &AppState,
    user: &WebUser,
    what: &'static str,
    build: lists::ListBuilder,
) -> Result<Response, UiError> {
    let actor = user.actor();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let name = format!("{what}-{stamp}.csv");
    let file = name.clone();
    let export = state
        .db("exporting a list", move |store| -> Result<lists::CsvExport, ExportError> {
            let e = build(store.conn())?;
            let detail = json!({ "kind": what, "file": file, "rows": e.rows, "cases": e.cases, "sha256": hex::encode(Sha256::digest(&e.bytes)) });
            audit::append(store.conn(), &actor, Action::Export, &format!("export:{what}"), &detail)
                .map_err(|audit::AuditError::Sqlite(e)| ExportError::Sqlite(e))?;
            Ok(e)
        })
        .await?
        .map_err(|e| UiError::internal("exporting a list", e))?;
    tracing::info!(user = %user.user.name, what, rows = export.rows, "exported");
    Ok(download(export.bytes, &name, "text/csv; charset=utf-8"))
}

/// `POST /exports/blocklist`.
pub async fn block_list(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, UiError> {
    user.require("POST", "/exports/blocklist")?;
    user.check_csrf(&f.csrf)?;
    list_export(&state, &user, "blocklist", lists::block_list).await
}

/// `POST /exports/disciplinary`.
pub async fn disciplinary_list(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, UiError> {
    user.require("POST", "/exports/disciplinary")?;
    user.check_csrf(&f.csrf)?;
    list_export(&state, &user, "disciplinary", lists::disciplinary_list).await
}

/// `POST /cases/{id}/bundle`.
pub async fn bundle(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, UiError> {
    user.require("POST", "/cases/{id}/bundle")?;
    user.check_csrf(&f.csrf)?;
    let actor = user.actor();
    let made = state
        .db("making an evidence bundle", move |store| -> Result<Option<bundle::Bundle>, ExportError> {
            if store.dir().as_os_str().is_empty() {
                // An in-memory store has no data directory to keep a key in.
                return Ok(None);
            }
            let key = keys::load_or_create(store.dir())?;
            let b = bundle::create(store.conn(), id, &key, &actor)?;
            let detail = json!({
                "kind": "bundle", "case": id, "files": b.manifest.files.len(),
                "sha256": hex::encode(Sha256::digest(&b.bytes)), "key": b.manifest.public_key,
            });
            audit::append(store.conn(), &actor, Action::Export, &format!("case:{id}"), &detail)
                .map_err(|audit::AuditError::Sqlite(e)| ExportError::Sqlite(e))?;
            Ok(Some(b))
        })
        .await?;
    let b = match made {
        Ok(Some(b)) => b,
        Ok(None) => {
            return Err(UiError::internal(
                "making an evidence bundle",
                "the store has no data directory for the signing key",
            ))
        }
        Err(ExportError::Case(crate::cases::CaseError::NotFound(id))) => {
            return Err(UiError::NotFound(format!("no case {id}")))
        }
        Err(e) => return Err(UiError::internal("making an evidence bundle", e)),
    };
    tracing::info!(user = %user.user.name, case = id, "evidence bundle exported");
    Ok(download(b.bytes, &format!("case-{id}-bundle.zip"), "application/zip"))
}
