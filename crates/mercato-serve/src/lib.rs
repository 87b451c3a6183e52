//! `mercato-serve`: an HTTP service for mercato models — fraud scoring, recommendations and
//! similar items — with API-key and JWT auth (scopes per route), Prometheus metrics and
//! hot reload. `mercato serve` (the CLI) runs it; it is a library so that a Rust service
//! can mount the same [`router`] inside its own axum application (next to its own routes,
//! behind its own layers) instead of running a second process.
//!
//! Routes (see the README's "Serve" section for the request and response bodies):
//!
//! | route | scope |
//! |---|---|
//! | `GET /healthz`, `GET /readyz`, `GET /metrics` | open (bind them to loopback or a private port) |
//! | `GET /v1/models` | `models:read` |
//! | `POST /v1/models/{name}/score` | `score` |
//! | `POST /v1/models/{name}/recommend`, `/similar` | `recommend` |
//! | `POST /v1/models/{name}/reload` | `models:write` |
//!
//! Models are swapped with [`arc_swap`]: a request holds the version it started with, so a
//! reload (the route, or SIGHUP for the whole folder) never fails a request in flight.
//!
//! ```no_run
//! use mercato_serve::{router, ServeState};
//! # async fn run() -> Result<(), String> {
//! let state = ServeState::open("models".as_ref(), None)?; // default limits; set `state.limits` to change them
//! let app = axum::Router::new().nest("/ml", router(state));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.map_err(|e| e.to_string())?;
//! axum::serve(listener, app).await.map_err(|e| e.to_string())
//! # }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

pub mod auth;
pub mod error;
pub mod metrics;
pub mod model;
pub mod registry;
mod routes;

pub use auth::{hash_key, Auth, Scope};
pub use error::ApiError;
pub use metrics::Metrics;
pub use registry::Registry;
pub use routes::router;

/// Limits applied to the `/v1` routes.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body in bytes (larger: 413). Default 8 MiB.
    pub body_limit: usize,
    /// Requests handled at once; more are refused with 503 and `Retry-After`. Default 256.
    pub max_concurrency: usize,
    /// Longest a request may take (then 504). Default 30 s.
    pub timeout: Duration,
    /// Most users in one batch `recommend` request. Default 1024.
    pub max_batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { body_limit: 8 << 20, max_concurrency: 256, timeout: Duration::from_secs(30), max_batch: 1024 }
    }
}

/// What the routes share: the models, the credentials and the metrics. Cheap to clone.
#[derive(Clone)]
pub struct ServeState {
    /// The models.
    pub registry: Arc<Registry>,
    /// The credentials (`None`: no auth), swapped on SIGHUP like the models.
    pub auth: Arc<ArcSwapOption<Auth>>,
    /// Where the credentials come from.
    pub auth_path: Option<PathBuf>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The limits (for the per-request ones).
    pub limits: Limits,
}

impl ServeState {
    /// Loads every model of `models` and the auth file, if any.
    pub fn open(models: &Path, auth: Option<&Path>) -> Result<ServeState, String> {
        let metrics = Arc::new(Metrics::new());
        let registry = Arc::new(Registry::open(models, &metrics)?);
        let loaded = auth.map(Auth::load).transpose()?.map(Arc::new);
        Ok(ServeState {
            registry,
            auth: Arc::new(ArcSwapOption::new(loaded)),
            auth_path: auth.map(Path::to_path_buf),
            metrics,
            limits: Limits::default(),
        })
    }

    /// Re-reads the model folder and the auth file (what SIGHUP does). Each part is all or
    /// nothing: on an error the previous models (credentials) keep serving.
    pub fn reload(&self) -> Result<Vec<String>, String> {
        if let Some(path) = &self.auth_path {
            self.auth.store(Some(Arc::new(Auth::load(path)?)));
        }
        self.registry.reload_all(&self.metrics)
    }
}

/// How `mercato serve` runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The folder of `*.mercato` files.
    pub models: PathBuf,
    /// Where to listen (port 0: any free port, printed at start).
    pub addr: SocketAddr,
    /// The auth file (TOML, see [`auth`]); without one only loopback addresses are allowed.
    pub auth: Option<PathBuf>,
    /// Serve without auth on a non-loopback address.
    pub insecure: bool,
    /// TLS certificate chain and private key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Worker threads (all cores when `None`).
    pub threads: Option<usize>,
    /// Request limits.
    pub limits: Limits,
}

/// Refuses an unauthenticated server on a non-loopback address unless `insecure`.
pub fn check_bind(addr: &SocketAddr, auth: bool, insecure: bool) -> Result<(), String> {
    if !auth && !insecure && !addr.ip().is_loopback() {
        return Err(format!(
            "refusing to serve {addr} without --auth: anyone who can reach it could use and reload the models. \
             Give --auth FILE, bind a loopback address, or pass --insecure"
        ));
    }
    Ok(())
}

/// Runs the server on a runtime of its own until SIGTERM or Ctrl-C.
pub fn serve_blocking(cfg: ServeConfig) -> Result<(), String> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(t) = cfg.threads {
        rt.worker_threads(t.max(1));
    }
    rt.enable_all().build().map_err(|e| format!("cannot start the runtime: {e}"))?.block_on(serve(cfg))
}

/// Loads the models and serves them until SIGTERM or Ctrl-C; SIGHUP reloads the folder and
/// the auth file. Prints `listening on <url>` once the socket is bound.
pub async fn serve(cfg: ServeConfig) -> Result<(), String> {
    check_bind(&cfg.addr, cfg.auth.is_some(), cfg.insecure)?;
    let (models, auth) = (cfg.models.clone(), cfg.auth.clone());
    let mut state = tokio::task::spawn_blocking(move || ServeState::open(&models, auth.as_deref()))
        .await
        .map_err(|e| e.to_string())??;
    state.limits = cfg.limits.clone();
    let names: Vec<String> = state.registry.all().iter().map(|m| format!("{} ({})", m.name, m.kind)).collect();
    eprintln!("mercato serve: {} model(s) from {}: {}", names.len(), cfg.models.display(), names.join(", "));
    match &cfg.auth {
        Some(p) => eprintln!("mercato serve: auth from {}", p.display()),
        None if cfg.insecure && !cfg.addr.ip().is_loopback() => {
            eprintln!("mercato serve: WARNING: no auth on {} (--insecure): anyone who reaches it can call it", cfg.addr)
        }
        None => eprintln!("mercato serve: no auth (loopback only)"),
    }
    spawn_sighup(state.clone());
    let app = router(state);
    let listener = std::net::TcpListener::bind(cfg.addr).map_err(|e| format!("cannot bind {}: {e}", cfg.addr))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        eprintln!("mercato serve: shutting down (finishing requests in flight)");
        h.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let service = app.into_make_service();
    match &cfg.tls {
        Some((cert, key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| format!("TLS certificate/key: {e}"))?;
            println!("listening on https://{local}");
            axum_server::from_tcp_rustls(listener, tls).handle(handle).serve(service).await
        }
        None => {
            println!("listening on http://{local}");
            axum_server::from_tcp(listener).handle(handle).serve(service).await
        }
    }
    .map_err(|e| format!("server error: {e}"))
}

fn spawn_sighup(state: ServeState) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
        while hup.recv().await.is_some() {
            let s = state.clone();
            match tokio::task::spawn_blocking(move || s.reload()).await {
                Ok(Ok(names)) => eprintln!("mercato serve: SIGHUP: reloaded {}", names.join(", ")),
                Ok(Err(e)) => eprintln!("mercato serve: SIGHUP: reload failed, still serving the previous models: {e}"),
                Err(e) => eprintln!("mercato serve: SIGHUP: reload failed: {e}"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = state;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
