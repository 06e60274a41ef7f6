//! The HTTPS API (`duanka-agent serve`, SPEC 4.2).
//!
//! [`app`] builds the router from one `router()` per module: `health`
//! (`GET /api/v1/health`, no auth), `ingest` (`POST /api/v1/reports`, probe
//! token), `operators` (`GET /api/v1/whoami`, `GET /api/v1/probes`,
//! operator token), `cases` (the cases API) and `ui` (the review UI for
//! people, with accounts and sessions). Tests call it in-process; [`Server`]
//! serves it over TLS.
//!
//! [`AppState`] holds the store behind one mutex: SQLite has one writer at a
//! time anyway, and every use runs on the blocking thread pool
//! ([`AppState::db`]) so a slow query never stalls the async workers.
//!
//! Serving: HTTP/1.1 over rustls (ring provider). Each connection gets
//! [`TLS_HANDSHAKE_TIMEOUT`] for its handshake and [`HEADER_READ_TIMEOUT`] for
//! each request head. On shutdown the listener closes first, in-flight
//! requests finish (at most [`SHUTDOWN_GRACE`]), then the store is closed.

pub mod auth;
pub mod cases;
pub mod error;
pub mod health;
pub mod ingest;
pub mod operators;
pub mod tls;
pub mod ui;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use auth::{Operator, Probe};
pub use error::ApiError;

use crate::store::{Checkpointer, Store, StoreError};

/// Time a client has to finish its TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send a request's head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for in-flight requests at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// After an ingest, correlation waits this long for more batches, then
/// runs once for every gateway they touched.
pub const CORRELATION_DEBOUNCE: Duration = Duration::from_millis(500);

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    store: Arc<Mutex<Store>>,
    correlation: Arc<Correlation>,
    ui: Arc<ui::UiState>,
}

/// Gateways waiting for incremental correlation, and the bell that wakes its worker.
#[derive(Debug, Default)]
struct Correlation {
    pending: Mutex<std::collections::BTreeSet<i64>>,
    bell: tokio::sync::Notify,
}

impl AppState {
    /// State over an open store. Inside a tokio runtime this also starts the
    /// incremental-correlation worker, which ends when the state is dropped.
    pub fn new(store: Store) -> Self {
        Self::with_ui(store, ui::UiConfig::default())
    }

    /// State over an open store with these UI settings (session lengths,
    /// login limits, clock, time zone).
    pub fn with_ui(store: Store, config: ui::UiConfig) -> Self {
        let state = AppState {
            store: Arc::new(Mutex::new(store)),
            correlation: Arc::default(),
            ui: Arc::new(ui::UiState::new(config)),
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(correlation_worker(Arc::downgrade(&state.store), Arc::clone(&state.correlation)));
        }
        state
    }

    /// The UI's settings and login counters.
    pub fn ui(&self) -> &ui::UiState {
        &self.ui
    }

    /// Queue gateways for incremental correlation (after an ingest).
    pub fn correlate_later(&self, gateways: &[i64]) {
        if gateways.is_empty() {
            return;
        }
        self.correlation.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(gateways);
        self.correlation.bell.notify_one();
    }

    /// Runs `f` with the store on the blocking thread pool. A panic in `f`
    /// becomes a 500; the store stays usable (an open transaction rolls back
    /// when dropped).
    pub async fn db<T, F>(&self, context: &'static str, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut Store) -> T + Send + 'static,
        T: Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| ApiError::internal(context, e))
    }

    /// Closes the store if this is its last holder; otherwise it closes when
    /// the last one lets go.
    pub fn close(self) -> Result<(), StoreError> {
        match Arc::try_unwrap(self.store) {
            Ok(mutex) => mutex.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).close(),
            Err(_) => {
                tracing::warn!("store still in use at shutdown; it closes when the last request ends");
                Ok(())
            }
        }
    }
}

/// Runs incremental correlation for queued gateways, a little after each
/// ingest (batches arriving together are correlated together). Holds only a
/// weak handle on the store, so shutting down is not delayed by it.
async fn correlation_worker(store: std::sync::Weak<Mutex<Store>>, correlation: Arc<Correlation>) {
    loop {
        correlation.bell.notified().await;
        tokio::time::sleep(CORRELATION_DEBOUNCE).await;
        let ids: Vec<i64> =
            std::mem::take(&mut *correlation.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
                .into_iter()
                .collect();
        let Some(store) = store.upgrade() else { return };
        let done = tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            crate::correlate::incremental(guard.conn_mut(), &crate::correlate::Config::default(), &ids)
        })
        .await;
        match done {
            Ok(Ok(out)) if out.cases_opened + out.cases_updated + out.cases_reopened > 0 => tracing::info!(
                opened = out.cases_opened,
                updated = out.cases_updated,
                reopened = out.cases_reopened,
                "cases changed"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "incremental correlation failed"),
            Err(e) => tracing::error!(error = %e, "incremental correlation panicked"),
        }
    }
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(cases::router())
        .merge(ingest::router())
        .merge(operators::router())
        .merge(ui::router())
        .fallback(error::not_found)
        .with_state(state)
}

/// Where `serve` gets its certificate.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// A self-signed certificate made in `DATA/tls/` on first start and kept.
    SelfSigned,
    /// PEM files given by the operator.
    Files {
        /// Certificate chain, leaf first.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
}

/// Validated settings for `serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory (store, `tls/`).
    pub data: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The certificate.
    pub tls: TlsSource,
    /// The review UI's settings.
    pub ui: ui::UiConfig,
}

/// Why `serve` could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The store could not be opened or closed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The certificate or key could not be made or loaded.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A bound, ready server: the store is open, the certificate loaded and the
/// socket listening, so its address and fingerprint can be announced before
/// [`Server::run`].
pub struct Server {
    checkpointer: Checkpointer,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: AppState,
    fingerprint: String,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.local_addr).field("fingerprint", &self.fingerprint).finish()
    }
}

impl Server {
    /// Opens the store, loads or makes the certificate and binds.
    pub async fn bind(config: ServeConfig) -> Result<Server, ServeError> {
        let store = Store::open(&config.data)?;
        let checkpointer = Checkpointer::start(&config.data)?;
        let material = match &config.tls {
            TlsSource::SelfSigned => tls::load_or_create_self_signed(&config.data.join(tls::TLS_DIR), config.listen)?,
            TlsSource::Files { cert, key } => tls::load_pem_files(cert, key)?,
        };
        let fingerprint = material.fingerprint();
        let acceptor = TlsAcceptor::from(tls::server_config(material)?);
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Bind { addr: config.listen, source })?;
        let local_addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: config.listen, source })?;
        Ok(Server {
            checkpointer,
            listener,
            acceptor,
            state: AppState::with_ui(store, config.ui),
            fingerprint,
            local_addr,
        })
    }

    /// SHA-256 of the served certificate (DER), 64 lowercase hex digits.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The address actually bound (the port is known even if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting, lets
    /// in-flight requests finish and closes the store.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Server { checkpointer, listener, acceptor, state, local_addr, .. } = self;
        let router = app(state.clone());
        let graceful = GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
        tokio::pin!(shutdown);
        tracing::info!(%local_addr, "serving");
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off
                        // rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let acceptor = acceptor.clone();
            // The UI's per-address login limit needs the peer.
            let service = TowerToHyperService::new(tower::ServiceExt::map_request(
                router.clone(),
                move |mut request: axum::http::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ui::ClientAddr(peer.ip()));
                    request
                },
            ));
            let http = http.clone();
            // Taken now, so that shutdown also waits for handshakes under way.
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                let conn = http.serve_connection(TokioIo::new(tls), service);
                if let Err(e) = watcher.watch(conn).await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            });
        }
        drop(listener);
        tracing::info!("shutting down: no new connections; waiting for requests in flight");
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("all connections closed"),
            () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("some connections did not finish in time"),
        }
        drop(router);
        checkpointer.stop();
        state.close()?;
        tracing::info!("store closed");
        Ok(())
    }
}
