//! The `hookhost` command line: argument parsing and one module per command group.

mod plugin;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::runtime::RuntimeError;
use crate::store::StoreError;

/// Self-hosted webhook runtime: verify, store and run sandboxed WebAssembly handlers.
#[derive(Debug, Parser)]
#[command(name = "hookhost", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Receive, verify, store and process webhooks.
    Serve(serve::ServeArgs),
    /// Write, build and try handlers.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

/// A command failed; the message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments or input files.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The plugin could not be loaded.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server stopped with an error.
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
    /// `cargo build` of a plugin failed.
    #[error("build failed: {0}")]
    Build(String),
}

impl CliError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }
}

impl Cli {
    /// Runs the chosen command; the exit code carries its verdict.
    pub async fn run(self) -> Result<ExitCode, CliError> {
        match self.command {
            Command::Serve(args) => args.run().await,
            Command::Plugin(command) => command.run().await,
        }
    }
}
