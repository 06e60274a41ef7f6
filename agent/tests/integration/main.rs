//! duanka-agent integration tests, one binary with themed modules:
//! `api` (the router in-process), `cli` (probe and token commands through
//! the real binary), `serve` (the real server over TLS: fingerprint,
//! pinning, revocation, signals) and `reliability` (SIGKILL mid-ingest,
//! restart, resend: every event exactly once) and `ui` (the review UI
//! in-process: routes × roles, CSRF, login limits, sessions, exports) and
//! `browser` (the UI in a real chromium through chromedriver).

mod api;
mod browser;
mod cases;
mod cli;
mod reliability;
mod serve;
mod support;
mod ui;
