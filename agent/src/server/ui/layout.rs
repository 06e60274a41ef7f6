//! The page shell (header, navigation by role, language switch, logout),
//! the stylesheet, response headers for every UI answer, and time display.

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset};
use maud::{html, Markup, DOCTYPE};

use super::i18n::{Lang, LANG_COOKIE};
use super::session::{set_cookie, UiError, WebUser};

/// The stylesheet, compiled in.
const CSS: &str = include_str!("../../../static/app.css");

/// `GET /static/app.css`.
pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], CSS)
        .into_response()
}

/// Around every UI request: refuses cross-site POSTs (an `Origin` whose
/// host is not this `Host`), remembers `?lang=`, and adds security headers
/// (no framing, no sniffing, no referrer to other sites, a strict content
/// security policy;
/// pages are not cached since they hold personal data).
pub async fn headers(request: Request, next: Next) -> Response {
    if request.method() == Method::POST {
        let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned);
        if let Some(origin) = request.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
            if host.as_deref() != Some(origin_host) {
                tracing::info!(origin, host = host.as_deref().unwrap_or("-"), "refused a cross-site POST");
                return UiError::CrossSite.into_response();
            }
        }
    }
    let lang = Lang::from_query(request.uri().query());
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if let Some(lang) = lang {
        h.append(header::SET_COOKIE, set_cookie(LANG_COOKIE, lang.code(), Some(365 * 24 * 3600)));
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: under it browsers send `Origin: null` on form
    // posts, which the cross-site check above would refuse.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !is_static && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(user: &WebUser) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.csrf); }
}

/// A time in the display zone, with the zone: `2026-11-01 08:10:00 UTC+08:00`.
pub fn local_time(ms: i64, zone: FixedOffset) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => format!("{} UTC{}", t.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S"), zone),
        None => ms.to_string(),
    }
}

/// An RFC 3339 time in the display zone (as [`local_time`]); unreadable text as is.
pub fn local_rfc3339(s: &str, zone: FixedOffset) -> String {
    match crate::store::rfc3339_to_ms(s) {
        Some(ms) => local_time(ms, zone),
        None => s.to_owned(),
    }
}

/// A whole page: header with the navigation `user` may use, then `body`.
pub fn page(lang: Lang, user: Option<&WebUser>, title: &str, body: Markup) -> Markup {
    let nav: &[(&str, &str, &str)] = &[
        ("/", "概览", "Dashboard"),
        ("/cases", "案件", "Cases"),
        ("/exports", "导出", "Exports"),
        ("/probes", "探针", "Probes"),
        ("/imports", "数据导入", "Imports"),
        ("/audit", "审计日志", "Audit log"),
    ];
    html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · duanka 断卡" }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                header.top {
                    span.brand { "duanka 断卡" }
                    @if let Some(u) = user {
                        nav {
                            @for (href, zh, en) in nav {
                                @if u.may("GET", href) { a href=(href) { (lang.t(zh, en)) } }
                            }
                        }
                        span.who {
                            a href="/account" { (u.user.name) } " (" (lang.role(u.user.role)) ")"
                            form.inline method="post" action="/logout" {
                                (csrf_field(u))
                                button.link type="submit" id="logout" { (lang.t("退出", "Log out")) }
                            }
                        }
                    }
                    span.lang {
                        @if lang == Lang::Zh { a href="?lang=en" { "English" } } @else { a href="?lang=zh" { "中文" } }
                    }
                }
                main { (body) }
                footer { "duanka-agent " (env!("CARGO_PKG_VERSION")) }
            }
        }
    }
}

/// A 303 after a POST, to show the page again (POST-redirect-GET).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_the_zone_with_the_zone() {
        let cst = super::super::china_standard_time();
        assert_eq!(local_time(0, cst), "1970-01-01 08:00:00 UTC+08:00");
        assert_eq!(local_rfc3339("2026-11-01T00:10:00.000Z", cst), "2026-11-01 08:10:00 UTC+08:00");
        assert_eq!(local_rfc3339("garbage", cst), "garbage");
    }
}
