//! The `hookhost` binary: parse the command line, set up logging, run.

use std::process::ExitCode;

use clap::Parser;
use hookhost::cli::Cli;

/// Under load glibc's malloc and free, with buffers allocated on one thread
/// and freed on another, were among the largest costs of the request path in
/// `perf`; mimalloc is built for that pattern (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "hookhost=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
