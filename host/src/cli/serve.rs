//! `hookhost serve`: open the store, start the runtime, and serve until
//! SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::CliError;
use super::config::{SettingFlags, resolve};
use crate::config::{Config, Secret};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::{Keyring, PostgresStore, SqliteStore, Store};

/// Run the server.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A configuration file (TOML) with any of the settings below, by their
    /// snake_case names; `hookhost config check` prints the whole set.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: SettingFlags,
}

impl ServeArgs {
    pub(crate) async fn run(self) -> Result<ExitCode, CliError> {
        let config = Arc::new(resolve(self.config.as_deref(), &self.settings)?.config);
        super::logging::set_format(config.log_format);
        let keys = Arc::new(keyring(&config)?);
        let store: Arc<dyn Store> = match &config.database_url {
            Some(url) => Arc::new(PostgresStore::open(url.expose(), keys).await?),
            None => Arc::new(SqliteStore::open_exclusive(&config.data_dir, keys).await?),
        };
        let runtime = Runtime::new(&RuntimeConfig {
            cache_dir: Some(config.data_dir.join("compiled")),
            max_concurrent: config.workers.max(1) as u32,
            guest_cpus: config.guest_cpus,
            ..RuntimeConfig::default()
        })?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(CliError::io(format!(
                "could not listen on {}",
                config.listen
            )))?;
        let addr = listener
            .local_addr()
            .map_err(CliError::io("could not read the listening address"))?;
        let scheme = if config.tls.cert.is_some() {
            "https"
        } else {
            "http"
        };
        let export = super::logging::Export::start(&config.otlp)?;
        println!("hookhost listening on {scheme}://{addr}");
        println!("data directory: {}", config.data_dir.display());
        let served = crate::server::serve(
            store,
            Arc::new(runtime),
            config,
            listener,
            shutdown_signal(),
        )
        .await;
        // After the last attempt has ended, so its spans are among those sent.
        if let Some(export) = export {
            export.shutdown().await;
        }
        served?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    }
}

/// The master keys the configuration names, or else the data directory's.
pub(crate) fn keyring(config: &Config) -> Result<Keyring, CliError> {
    match &config.master_key {
        Some(key) => {
            let previous: Vec<&str> = config
                .previous_master_keys
                .iter()
                .map(Secret::expose)
                .collect();
            Keyring::new(key.expose(), &previous).map_err(|e| CliError::Usage(e.to_string()))
        }
        None => Keyring::from_data_dir(&config.data_dir).map_err(CliError::io(format!(
            "could not read or create the master key in {}",
            config.data_dir.display()
        ))),
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
