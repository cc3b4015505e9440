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
    hookhost::cli::init_logging();
    match Cli::parse().run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
