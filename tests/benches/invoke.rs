//! Invocation overhead of a trivial handler: fresh store + instantiate from
//! the pre-instantiated component + call + drop, sequentially (latency) and
//! with every core busy (throughput).
//!
//! Run: `cargo bench -p hookhost-tests --bench invoke`

use std::sync::Arc;
use std::time::{Duration, Instant};

use hookhost_tests::{Sandbox, block_on, event, load, plugins, runtime};

const SEQUENTIAL: usize = 5_000;
const THROUGHPUT_WINDOW: Duration = Duration::from_secs(5);

fn main() {
    block_on(async {
        let plugin = load(plugins::NOOP).await;
        let sandbox = Arc::new(Sandbox::new().await);
        let grants = sandbox.grants();
        let kv = sandbox.store.clone();

        for _ in 0..500 {
            runtime()
                .invoke(
                    &plugin,
                    event("{}", None),
                    &grants,
                    &sandbox.limits,
                    kv.clone(),
                )
                .await;
        }

        let mut samples = Vec::with_capacity(SEQUENTIAL);
        for _ in 0..SEQUENTIAL {
            let event = event("{}", None);
            let started = Instant::now();
            let inv = runtime()
                .invoke(&plugin, event, &grants, &sandbox.limits, kv.clone())
                .await;
            samples.push(started.elapsed());
            assert!(inv.outcome == hookhost::runtime::Outcome::Ok);
        }
        samples.sort();
        let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
        println!(
            "sequential: n={SEQUENTIAL} p50={:?} p90={:?} p99={:?} max={:?}",
            pct(0.50),
            pct(0.90),
            pct(0.99),
            samples.last().unwrap()
        );

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
            "throughput: {workers} concurrent tasks, {:.0} invocations/s",
            total as f64 / THROUGHPUT_WINDOW.as_secs_f64()
        );
    })
}
