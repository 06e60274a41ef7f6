//! The UI's two languages: Chinese (zh-CN, the default: the users are
//! Chinese police and carrier staff) and English. `?lang=en` or `?lang=zh`
//! on any page switches and is remembered in the `duanka_lang` cookie.
//!
//! Texts sit where they are used, as `lang.t("中文", "English")` pairs, so a
//! page can never show a key instead of a text.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::session::cookie;

/// The language cookie.
pub const LANG_COOKIE: &str = "duanka_lang";

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 简体中文.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The text for this language.
    pub fn t(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The `lang` attribute of the page.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The short code used in URLs and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" | "zh-cn" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language asked for in a query string (`lang=…`), if any.
    pub fn from_query(query: Option<&str>) -> Option<Lang> {
        query?.split('&').find_map(|kv| kv.strip_prefix("lang=").and_then(Lang::parse))
    }

    /// The request's language: its query, else its cookie, else Chinese.
    pub fn of(parts: &Parts) -> Lang {
        Lang::from_query(parts.uri.query())
            .or_else(|| cookie(&parts.headers, LANG_COOKIE).and_then(|c| Lang::parse(&c)))
            .unwrap_or_default()
    }

    /// A state's name.
    pub fn state(self, s: &str) -> &'static str {
        match s {
            "new" => self.t("新建", "new"),
            "reviewing" => self.t("审核中", "reviewing"),
            "confirmed" => self.t("已确认", "confirmed"),
            "dismissed" => self.t("已排除", "dismissed"),
            _ => self.t("未知", "unknown"),
        }
    }

    /// A severity's name.
    pub fn severity(self, s: &str) -> &'static str {
        match s {
            "critical" => self.t("严重", "critical"),
            "high" => self.t("高", "high"),
            "medium" => self.t("中", "medium"),
            "low" => self.t("低", "low"),
            _ => self.t("未知", "unknown"),
        }
    }

    /// A role's name.
    pub fn role(self, r: crate::auth::Role) -> &'static str {
        use crate::auth::Role;
        match r {
            Role::Admin => self.t("管理员", "admin"),
            Role::Analyst => self.t("分析员", "analyst"),
            Role::Engineer => self.t("工程师", "engineer"),
            Role::Auditor => self.t("审计员", "auditor"),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::of(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_wins_then_cookie_then_chinese() {
        let parts = |uri: &str, cookie: Option<&str>| {
            let mut b = axum::http::Request::builder().uri(uri);
            if let Some(c) = cookie {
                b = b.header("cookie", c);
            }
            b.body(()).unwrap().into_parts().0
        };
        assert_eq!(Lang::of(&parts("/", None)), Lang::Zh);
        assert_eq!(Lang::of(&parts("/?lang=en", None)), Lang::En);
        assert_eq!(Lang::of(&parts("/", Some("duanka_lang=en"))), Lang::En);
        assert_eq!(Lang::of(&parts("/?page=2&lang=zh", Some("duanka_lang=en"))), Lang::Zh);
        assert_eq!(Lang::of(&parts("/?lang=fr", None)), Lang::Zh);
    }
}
