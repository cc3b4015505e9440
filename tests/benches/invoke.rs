//! Invocation overhead of a trivial handler: fresh store + instantiate from
//! the pre-instantiated component + call + drop, sequentially (latency) and
//! with every core busy (throughput); in Rust, then the same handler built
//! by the JavaScript and the Python SDK.
//!
//! Then what a new plugin version in JavaScript or Python costs before its
//! first event (upload to first run): compiling the first component of a
//! language on a host, compiling a second one of the same SDK version (whose
//! language engine the function cache already holds) with its first
//! invocation, and loading it again after a restart.
//!
//! Run: `cargo bench -p hookhost-tests --bench invoke`

use std::sync::Arc;
use std::time::{Duration, Instant};

use hookhost::runtime::{Outcome, Plugin, Runtime, RuntimeConfig};
use hookhost_tests::projects::{
    GITHUB_TO_CHAT_PY, NOOP_JS, NOOP_PY, STRIPE_TO_SLACK_TS, built, loaded,
};
use hookhost_tests::{Sandbox, block_on, block_on_within, event, load, plugins, runtime};

const SEQUENTIAL: usize = 5_000;
/// Fewer for the language runtimes, whose invocations take milliseconds.
const SEQUENTIAL_LANGUAGES: usize = 1_000;
const THROUGHPUT_WINDOW: Duration = Duration::from_secs(5);

fn main() {
    let javascript = loaded(NOOP_JS);
    let python = loaded(NOOP_PY);
    block_on(async {
        let rust = load(plugins::NOOP).await;
        let sandbox = Arc::new(Sandbox::new().await);
        for (language, plugin, n) in [
            ("rust", rust, SEQUENTIAL),
            ("javascript", javascript, SEQUENTIAL_LANGUAGES),
            ("python", python, SEQUENTIAL_LANGUAGES),
        ] {
            sequential(language, &plugin, &sandbox, n).await;
            throughput(language, &plugin, &sandbox).await;
        }
    });
    for (language, first, second) in [
        ("javascript", NOOP_JS, STRIPE_TO_SLACK_TS),
        ("python", NOOP_PY, GITHUB_TO_CHAT_PY),
    ] {
        first_run(language, first, second);
    }
}

/// Latency of one invocation after another.
async fn sequential(language: &str, plugin: &Plugin, sandbox: &Sandbox, n: usize) {
    let grants = sandbox.grants();
    let kv = sandbox.store.clone();
    for _ in 0..n / 10 {
        runtime()
            .invoke(
                plugin,
                event("{}", None),
                &grants,
                &sandbox.limits,
                kv.clone(),
            )
            .await;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let event = event("{}", None);
        let started = Instant::now();
        let inv = runtime()
            .invoke(plugin, event, &grants, &sandbox.limits, kv.clone())
            .await;
        samples.push(started.elapsed());
        assert!(inv.outcome == Outcome::Ok, "{language}: {:?}", inv.outcome);
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "{language} sequential: n={n} p50={:?} p90={:?} p99={:?} max={:?}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        samples.last().unwrap()
    );
}

/// Invocations per second with twice as many tasks as cores.
async fn throughput(language: &str, plugin: &Arc<Plugin>, sandbox: &Arc<Sandbox>) {
    let grants = sandbox.grants();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let deadline = Instant::now() + THROUGHPUT_WINDOW;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (plugin, sandbox, grants) = (plugin.clone(), sandbox.clone(), grants.clone());
        tasks.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                runtime()
                    .invoke(
                        &plugin,
                        event("{}", None),
                        &grants,
                        &sandbox.limits,
                        sandbox.store.clone(),
                    )
                    .await;
                done += 1;
            }
            done
        });
    }
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        total += done.unwrap();
    }
    println!(
        "{language} throughput: {workers} concurrent tasks, {:.0} invocations/s",
        total as f64 / THROUGHPUT_WINDOW.as_secs_f64()
    );
}

/// Upload to first run on a host with an empty cache directory: the first
/// component of the language, then a second one of the same SDK with its
/// first invocation, then the second loaded by a restarted host.
fn first_run(language: &str, first: &str, second: &str) {
    let first = std::fs::read(built(first)).unwrap();
    let second = std::fs::read(built(second)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..RuntimeConfig::default()
    };
    let limit = Duration::from_secs(600);
    block_on_within(limit, async {
        let host = Runtime::new(&config).unwrap();
        let started = Instant::now();
        host.load(&first).await.unwrap();
        let cold = started.elapsed();

        let sandbox = Sandbox::new().await;
        let started = Instant::now();
        let plugin = host.load(&second).await.unwrap();
        let compiled = started.elapsed();
        let inv = host
            .invoke(
                &plugin,
                event("{}", Some("ping")),
                &sandbox.grants(),
                &sandbox.limits,
                sandbox.store.clone(),
            )
            .await;
        let first_run = started.elapsed();
        drop((plugin, host));

        let restarted = Runtime::new(&config).unwrap();
        let started = Instant::now();
        restarted.load(&second).await.unwrap();
        let reloaded = started.elapsed();
        assert_eq!(restarted.compilations(), 0, "a restart compiled again");
        println!(
            "{language} upload to first run: first component of the language {cold:.1?}; \
             another of the same SDK {compiled:.1?} to compile, {first_run:.1?} to its first \
             outcome ({}); after a restart {reloaded:.1?} to load",
            inv.outcome
        );
    });
}
