//! The `hookhost` command line: argument parsing and one module per command group.

mod alert;
mod build;
mod client;
mod config;
mod delivery;
mod demo;
mod endpoint;
mod logging;
mod plugin;
mod replay;
mod scaffold;
mod send;
mod serve;
mod tenant;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::runtime::RuntimeError;
use crate::store::StoreError;

pub use logging::init_logging;

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
    /// Write, build and try handlers; upload and list them on a server.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Create, inspect and delete tenants on a server.
    Tenant(tenant::TenantArgs),
    /// Configure a tenant's endpoints on a server.
    Endpoint(endpoint::EndpointArgs),
    /// Inspect and replay a tenant's deliveries on a server.
    Delivery(delivery::DeliveryArgs),
    /// Run an endpoint's deliveries again in bulk, in the background.
    Replay(replay::ReplayArgs),
    /// Configure where a tenant's alerts go, and see what was sent.
    Alert(alert::AlertArgs),
    /// Sign a sample event as its provider would and post it to an inbound URL.
    Send(send::SendArgs),
    /// Run a local demo: the server, a Slack stand-in, a configured Stripe endpoint.
    Demo(demo::DemoArgs),
    /// Check a configuration file and print what the server would run with.
    #[command(subcommand)]
    Config(config::ConfigCommand),
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
    /// The configuration was refused; every reason is listed.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigErrors),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server stopped with an error.
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
    /// `cargo build` of a plugin failed.
    #[error("build failed: {0}")]
    Build(String),
    /// The server could not be reached, or the exchange broke off.
    #[error(
        "could not reach {url}: {reason}; is hookhost running there? Start it with `hookhost serve`"
    )]
    Unreachable {
        /// The server's URL.
        url: String,
        /// Why, as the network stack put it.
        reason: String,
    },
    /// The admin API answered with an error; the command exits 1.
    #[error("{0}")]
    Api(client::ApiError),
    /// An HTTP exchange failed in some other way.
    #[error("{0}")]
    Http(String),
}

impl CliError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }
}

impl Cli {
    /// Runs the chosen command; the exit code carries its verdict. An error
    /// answer of the admin API is printed here and exits 1, like any other
    /// refusal; errors returned stop the program with 2.
    pub async fn run(self) -> Result<ExitCode, CliError> {
        let result = match self.command {
            Command::Serve(args) => args.run().await,
            Command::Plugin(command) => command.run().await,
            Command::Tenant(args) => args.run().await,
            Command::Endpoint(args) => args.run().await,
            Command::Delivery(args) => args.run().await,
            Command::Replay(args) => args.run().await,
            Command::Alert(args) => args.run().await,
            Command::Send(args) => args.run().await,
            Command::Demo(args) => args.run().await,
            Command::Config(command) => command.run().await,
        };
        match result {
            Err(CliError::Api(error)) => {
                eprintln!("error: {error}");
                Ok(ExitCode::FAILURE)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn connection_options_may_follow_the_subcommand() {
        let cli = Cli::try_parse_from([
            "hookhost",
            "tenant",
            "list",
            "--url",
            "http://example.test",
            "--json",
        ]);
        assert!(cli.is_ok(), "{cli:?}");
    }
}
