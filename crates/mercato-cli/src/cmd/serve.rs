//! `mercato serve`: the HTTP service of the `mercato-serve` crate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mercato_serve::{check_bind, Limits, ServeConfig};

use crate::exit::{CliError, CliResult};

/// `mercato serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Folder of `*.mercato` model files; each is served under its file stem.
    #[arg(long)]
    pub models: PathBuf,
    /// Address to listen on (port 0: any free port, printed as `listening on ...`).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Credentials file (TOML: `[[api_keys]]` hashes and scopes, `[jwt]`); see the README.
    #[arg(long)]
    pub auth: Option<PathBuf>,
    /// Allow serving without --auth on a non-loopback address.
    #[arg(long)]
    pub insecure: bool,
    /// TLS certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Worker threads for requests and model computations (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Largest request body in bytes (larger: 413).
    #[arg(long, default_value_t = 8 << 20)]
    pub body_limit: usize,
    /// Requests handled at once; more get 503 with Retry-After.
    #[arg(long, default_value_t = 256)]
    pub max_concurrency: usize,
    /// Seconds a request may take (then 504).
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(a: ServeArgs) -> CliResult<()> {
    if a.threads == Some(0) || a.max_concurrency == 0 || a.body_limit == 0 || a.timeout == 0 {
        return Err(CliError::usage("--threads, --max-concurrency, --body-limit and --timeout must be positive"));
    }
    check_bind(&a.addr, a.auth.is_some(), a.insecure).map_err(CliError::usage)?;
    if !a.models.is_dir() {
        return Err(CliError::data(format!("--models {}: not a folder", a.models.display())));
    }
    if let Some(t) = a.threads {
        // before any rayon pool exists, so batch scoring uses the same number of threads
        std::env::set_var("RAYON_NUM_THREADS", t.to_string());
    }
    let cfg = ServeConfig {
        models: a.models,
        addr: a.addr,
        auth: a.auth,
        insecure: a.insecure,
        tls: a.tls_cert.zip(a.tls_key),
        threads: a.threads,
        limits: Limits {
            body_limit: a.body_limit,
            max_concurrency: a.max_concurrency,
            timeout: Duration::from_secs(a.timeout),
            ..Limits::default()
        },
    };
    mercato_serve::serve_blocking(cfg).map_err(CliError::runtime)
}
