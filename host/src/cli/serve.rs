//! `hookhost serve`: open the store, start the runtime, and serve until
//! SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::CliError;
use crate::queue::QueueConfig;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::server::ServerConfig;
use crate::store::{PostgresStore, SqliteStore, Store};

/// Run the server.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "HOOKHOST_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the SQLite database (unless --database-url) and the compile cache live.
    #[arg(long, env = "HOOKHOST_DATA_DIR", default_value = "./hookhost-data")]
    data_dir: PathBuf,
    /// A PostgreSQL URL (`postgres://user@host/db`): several hosts may serve
    /// one database. Without it, SQLite in the data directory.
    #[arg(long, env = "HOOKHOST_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Plugin invocations run at once. 0 makes an ingest-only host, which
    /// leaves the work to the other hosts on the same PostgreSQL database.
    #[arg(long, env = "HOOKHOST_WORKERS", default_value_t = 64)]
    workers: usize,
    /// Unfinished deliveries beyond which new webhooks are refused with 503.
    #[arg(long, env = "HOOKHOST_MAX_QUEUE_DEPTH", default_value_t = 1_000_000)]
    max_queue_depth: u64,
    /// How long shutdown waits for running attempts before handing them back.
    #[arg(long, env = "HOOKHOST_SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    shutdown_grace: Duration,
    /// The operator token of the admin API; without it one is generated at
    /// first start and printed once.
    #[arg(long, env = "HOOKHOST_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Base URL the outside world reaches this server at, for endpoints'
    /// inbound URLs (default: the Host header of each admin request).
    #[arg(long, env = "HOOKHOST_PUBLIC_URL")]
    public_url: Option<String>,
    /// How long bodies of succeeded deliveries are kept (their metadata stays).
    #[arg(long, env = "HOOKHOST_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    retention: Duration,
}

impl ServeArgs {
    pub(crate) async fn run(self) -> Result<ExitCode, CliError> {
        if self.workers == 0 && self.database_url.is_none() {
            return Err(CliError::Usage(
                "--workers 0 leaves every delivery to other hosts, and only hosts sharing a \
                 PostgreSQL database (--database-url) have others; give SQLite at least one worker"
                    .into(),
            ));
        }
        let store: Arc<dyn Store> = match &self.database_url {
            Some(url) => Arc::new(PostgresStore::open(url).await?),
            None => Arc::new(SqliteStore::open_exclusive(&self.data_dir).await?),
        };
        let runtime = Runtime::new(&RuntimeConfig {
            cache_dir: Some(self.data_dir.join("compiled")),
            max_concurrent: self.workers.max(1) as u32,
            ..RuntimeConfig::default()
        })?;
        let config = ServerConfig {
            queue: QueueConfig {
                workers: self.workers,
                max_depth: self.max_queue_depth,
                shutdown_grace: self.shutdown_grace,
                retention: self.retention,
                ..QueueConfig::default()
            },
            admin_token: self.admin_token,
            public_url: self.public_url,
        };
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(CliError::io(format!("could not listen on {}", self.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(CliError::io("could not read the listening address"))?;
        println!("hookhost listening on http://{addr}");
        println!("data directory: {}", self.data_dir.display());
        crate::server::serve(
            store,
            Arc::new(runtime),
            config,
            listener,
            shutdown_signal(),
        )
        .await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: no new webhooks; finishing running attempts");
}
