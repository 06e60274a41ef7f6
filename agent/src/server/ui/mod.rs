//! The review UI: server-rendered pages (maud) for anti-fraud analysts,
//! engineers, auditors and admins, over the same store as the API.
//!
//! Security model:
//! * people log in with an account (`users`); a session is a random cookie
//!   (`__Host-duanka_session`: HttpOnly, Secure, SameSite=Strict, Path=/),
//!   ending after [`UiConfig::idle`] without requests or
//!   [`UiConfig::absolute`] after login, whichever comes first;
//! * every form carries the session's CSRF token (the login form a
//!   double-submit cookie), and a POST whose `Origin` is another site is
//!   refused before that;
//! * failed logins are limited per account and per client address
//!   ([`LoginLimits`]);
//! * every page checks the role ([`routes`] is the table) and every reveal,
//!   decision, export, import, login and logout is written to the audit log.
//!
//! Time comes from [`Clock`], which tests move by hand instead of sleeping.

mod account;
mod audit_page;
mod cases;
mod dashboard;
mod exports;
mod i18n;
mod imports;
mod layout;
mod login;
mod probes;
mod session;
mod svg;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use chrono::FixedOffset;

pub use i18n::Lang;
pub use session::{ClientAddr, WebUser, SESSION_COOKIE};

use super::AppState;
use crate::auth::Role;

/// Where time comes from: the system clock, or a hand-moved one for tests.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `ms` until moved.
    pub fn manual(ms: i64) -> Clock {
        Clock(Some(Arc::new(AtomicI64::new(ms))))
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.0 {
            t.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        }
    }

    /// Now, Unix ms.
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            Some(t) => t.load(Ordering::SeqCst),
            None => crate::store::now_ms(),
        }
    }
}

/// How many failed logins are allowed before further attempts are refused.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failures per account name within [`LoginLimits::window`].
    pub per_account: usize,
    /// Failures per client address within the window.
    pub per_address: usize,
    /// The sliding window.
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits { per_account: 5, per_address: 20, window: Duration::from_secs(15 * 60) }
    }
}

/// The UI's settings.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// A session ends after this long without a request.
    pub idle: Duration,
    /// A session ends this long after login, however busy.
    pub absolute: Duration,
    /// Failed-login limits.
    pub limits: LoginLimits,
    /// The zone times are shown in (China Standard Time by default).
    pub zone: FixedOffset,
    /// Where time comes from.
    pub clock: Clock,
}

/// China Standard Time, UTC+08:00.
pub fn china_standard_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            limits: LoginLimits::default(),
            zone: china_standard_time(),
            clock: Clock::system(),
        }
    }
}

/// The UI's shared state: its settings and the failed-login counters.
#[derive(Debug, Default)]
pub struct UiState {
    /// Settings.
    pub config: UiConfig,
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl UiState {
    /// State with these settings.
    pub fn new(config: UiConfig) -> Self {
        UiState { config, failures: Mutex::default() }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<i64>>> {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Failures of `key` in the window ending now (old ones are dropped).
    fn recent(&self, key: &str, now: i64) -> usize {
        let window = self.config.limits.window.as_millis() as i64;
        let mut all = self.failures();
        let Some(q) = all.get_mut(key) else { return 0 };
        while q.front().is_some_and(|&t| t <= now - window) {
            q.pop_front();
        }
        let n = q.len();
        if n == 0 {
            all.remove(key);
        }
        n
    }

    /// Whether a login for `account` from `address` must be refused now.
    pub fn login_blocked(&self, account: &str, address: &str) -> bool {
        let now = self.config.clock.now_ms();
        self.recent(&format!("account:{account}"), now) >= self.config.limits.per_account
            || self.recent(&format!("address:{address}"), now) >= self.config.limits.per_address
    }

    /// Counts a failed login.
    pub fn login_failed(&self, account: &str, address: &str) {
        let now = self.config.clock.now_ms();
        let mut all = self.failures();
        for key in [format!("account:{account}"), format!("address:{address}")] {
            let q = all.entry(key).or_default();
            q.push_back(now);
            // Never more than the largest limit is needed to decide.
            while q.len() > self.config.limits.per_account.max(self.config.limits.per_address) {
                q.pop_front();
            }
        }
    }

    /// Clears an account's failures after a good login.
    pub fn login_succeeded(&self, account: &str) {
        self.failures().remove(&format!("account:{account}"));
    }
}

/// Who may use what: (method, path pattern, roles). `None` means anyone,
/// logged in or not; an empty slice means any logged-in user. Admins may
/// use everything. The route × role test walks this table.
pub fn routes() -> &'static [(&'static str, &'static str, Option<&'static [Role]>)] {
    const ANALYSTS: &[Role] = &[Role::Analyst];
    const ENGINEERS: &[Role] = &[Role::Engineer];
    const AUDITORS: &[Role] = &[Role::Auditor];
    const PROBE_READERS: &[Role] = &[Role::Engineer, Role::Analyst];
    &[
        ("GET", "/login", None),
        ("POST", "/login", None),
        ("GET", "/static/app.css", None),
        ("POST", "/logout", Some(&[])),
        ("GET", "/", Some(&[])),
        ("GET", "/account", Some(&[])),
        ("POST", "/account/password", Some(&[])),
        ("GET", "/cases", Some(ANALYSTS)),
        ("GET", "/cases/{id}", Some(ANALYSTS)),
        ("POST", "/cases/{id}/reveal", Some(ANALYSTS)),
        ("POST", "/cases/{id}/decision", Some(ANALYSTS)),
        ("POST", "/cases/{id}/notes", Some(ANALYSTS)),
        ("POST", "/cases/{id}/bundle", Some(ANALYSTS)),
        ("GET", "/exports", Some(ANALYSTS)),
        ("POST", "/exports/blocklist", Some(ANALYSTS)),
        ("POST", "/exports/disciplinary", Some(ANALYSTS)),
        ("GET", "/probes", Some(PROBE_READERS)),
        ("GET", "/imports", Some(ENGINEERS)),
        ("POST", "/imports", Some(ENGINEERS)),
        ("GET", "/audit", Some(AUDITORS)),
    ]
}

/// The roles allowed on a route of [`routes`] (panics on a route not in
/// the table: a programming error caught by the tests).
pub(crate) fn allowed(method: &str, path: &str) -> &'static [Role] {
    routes()
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .and_then(|(_, _, roles)| *roles)
        .unwrap_or_else(|| panic!("{method} {path} is not in ui::routes()"))
}

/// The UI routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/static/app.css", get(layout::stylesheet))
        .route("/", get(dashboard::page))
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route("/cases", get(cases::list))
        .route("/cases/{id}", get(cases::show))
        .route("/cases/{id}/reveal", post(cases::reveal))
        .route("/cases/{id}/decision", post(cases::decide))
        .route("/cases/{id}/notes", post(cases::note))
        .route("/cases/{id}/bundle", post(exports::bundle))
        .route("/exports", get(exports::page))
        .route("/exports/blocklist", post(exports::block_list))
        .route("/exports/disciplinary", post(exports::disciplinary_list))
        .route("/probes", get(probes::page))
        .route("/imports", get(imports::page).post(imports::upload).layer(imports::body_limit()))
        .route("/audit", get(audit_page::page))
        .layer(axum::middleware::from_fn(layout::headers))
}
