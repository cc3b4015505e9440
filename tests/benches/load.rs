//! Load on loopback, in one run on one machine, with `wrk` as the load tool:
//!
//! 1. ceiling: a bare axum handler that verifies the same GitHub HMAC over a
//!    1 KiB body and answers 202, nothing else;
//! 2. ingest: the same webhooks into hookhost with no workers, answered 202
//!    once committed to SQLite and its log fsynced: the HTTP-to-durable path.
//!    Ceiling and ingest alternate for three rounds, and the ratio reported
//!    is the median of the rounds' ratios;
//! 3. latency at half of hookhost's median peak rate, open loop (each request's
//!    latency counts from when it was due, so a stall is not hidden);
//! 4. end to end: webhooks through the trivial plugin to `succeeded`, per
//!    second, from the first request until the queue is empty;
//! 5. the same on PostgreSQL (the local server, a schema of its own): ingest
//!    with one host, end to end with one and with two hosts;
//! 6. the plugin matrix: each of the trivial plugin, `event-counter` (KV
//!    increments), `shopify-order-fulfillment` (a KV read, a POST to a
//!    local receiver, a KV write) and `stripe-to-slack-ts` (the TypeScript
//!    example: a POST to a local receiver), on SQLite and on PostgreSQL, under the
//!    same closed-loop load (32 connections, every request signed for its
//!    own event), then the drain. Each phase asserts that every webhook ran
//!    exactly once and succeeded, and prints the CPU time of each thread of
//!    this process (server, receiver and load generator) over the phase.
//!
//! Run: `cargo bench -p hookhost-tests --bench load` (needs `wrk`:
//! `apt-get install wrk`). wrk keeps 64 connections open unless
//! `HOOKHOST_BENCH_CONNECTIONS` says otherwise, for every phase alike;
//! `HOOKHOST_BENCH_MATRIX_ONLY=1` runs the plugin matrix alone.
//! Results go to stdout; BENCHMARKS.md keeps them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hookhost::config::Config;
use hookhost::domain::{Provider, RateLimit, RatePeriod, TenantPolicy};
use hookhost::ids::TenantId;
use hookhost::ingress::verify::{VerifyConfig, sign, verify};
use hookhost::store::{DeliveryFilter, DeliveryStatus, PostgresStore, Store};
use hookhost_tests::host::{PgSchema, TestHost, spec};
use hookhost_tests::{block_on_within, plugins, projects};
use serde_json::json;

/// The allocator of the `hookhost` binary, so the server here is the one shipped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "bench-secret";
const WINDOW: &str = "10s";
const CONNECTIONS: &str = "64";
const CONNECTIONS_VAR: &str = "HOOKHOST_BENCH_CONNECTIONS";
/// Set, the run is the plugin matrix alone (for profiling it).
const MATRIX_ONLY_VAR: &str = "HOOKHOST_BENCH_MATRIX_ONLY";
/// Alternating ceiling and ingest runs; the ratio reported is their median.
const ROUNDS: usize = 3;

fn main() {
    // The binary's logger, so that what logging and the spans of every
    // attempt cost a server is in every figure.
    hookhost::cli::init_logging();
    if std::env::var_os(MATRIX_ONLY_VAR).is_some() {
        block_on_within(Duration::from_secs(1800), plugin_matrix());
        return;
    }
    block_on_within(Duration::from_secs(1800), async {
        let body = body_of_1_kib();
        let signature = sign(
            Provider::Github,
            SECRET,
            None,
            body.as_bytes(),
            "x",
            Some("push"),
            SystemTime::now(),
        )
        .expect("sign")
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-hub-signature-256"))
        .expect("signature header")
        .1;
        let script = tempfile::NamedTempFile::new().expect("script");
        std::fs::write(script.path(), lua_script(&body, &signature)).expect("write script");

        println!(
            "wrk: 2 threads, {} connections, {WINDOW} per phase",
            connections()
        );
        let ceiling = start_ceiling().await;
        // Ceiling and ingest take turns, so that a shared host's swings
        // (the ceiling alone moves by a fifth between runs) fall on both
        // alike; each ingest round gets a fresh host and database.
        let mut ratios = Vec::with_capacity(ROUNDS);
        let mut ingests = Vec::with_capacity(ROUNDS);
        let mut host: Option<TestHost> = None;
        for round in 1..=ROUNDS {
            let ceiling_run = wrk(
                &format!("http://{ceiling}/hooks/bench/github"),
                script.path(),
            );
            println!("round {round}: ceiling (bare axum + HMAC): {ceiling_run}");
            if let Some(previous) = host.take() {
                previous.stop().await;
            }
            // Ingest alone: no workers, so the figure is the HTTP-to-durable path.
            let fresh = bench_host(0).await;
            let ingest = wrk(&fresh.url("/hooks/bench/github"), script.path());
            let ratio = 100.0 * ingest.rate / ceiling_run.rate;
            println!(
                "round {round}: hookhost ingest (SQLite, durable 202, no workers): {ingest} = {ratio:.0}% of the ceiling"
            );
            ratios.push(ratio);
            ingests.push(ingest.rate);
            host = Some(fresh);
        }
        let host = host.expect("at least one round");
        println!(
            "ingest / ceiling, median of {ROUNDS} rounds: {:.0}%",
            median(&mut ratios)
        );
        let ingest_rate = median(&mut ingests);
        // Half the median peak, on the host that has just ingested (its
        // database no longer empty).
        let rate = ingest_rate / 2.0;
        let (p50, p99, errors) =
            open_loop(host.addr, &body, &signature, rate, Duration::from_secs(10));
        println!(
            "hookhost at half its peak ({rate:.0}/s, open loop): p50={p50:?} p99={p99:?} errors={errors}"
        );
        host.stop().await;

        // End to end: the same load with the default workers running the trivial plugin.
        let host = bench_host(Config::default().workers).await;
        let started = Instant::now();
        let loaded = wrk(&host.url("/hooks/bench/github"), script.path());
        println!("hookhost ingest while processing: {loaded}");
        drain(&host).await;
        let accepted = loaded.requests - loaded.non_2xx;
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "end to end: {accepted} webhooks to succeeded in {elapsed:.1} s = {:.0}/s",
            accepted as f64 / elapsed
        );
        host.stop().await;

        // A well-behaved tenant beside a hostile one: `bench` under the same
        // load while `mallory`, on the default policy, keeps every worker it
        // may hold spinning to its deadline.
        let host = bench_host(Config::default().workers).await;
        let mallory = host.tenant("mallory").await;
        let default = Config::default().tenant;
        host.set_policy(
            "mallory",
            json!({
                "max_concurrent": default.max_concurrent,
                "ingest_rate": default.ingest_rate,
                "ingest_burst": default.ingest_burst,
            }),
        )
        .await;
        let version = host.plugin(&mallory, "spin", plugins::SPIN_LOOP).await;
        let mut spinning = spec("spin", version, None);
        spinning.limits.timeout_ms = 30_000;
        host.endpoint(&mallory, "spin", &spinning).await;
        for n in 0..200 {
            host.accept("mallory", "spin", &format!("spin_{n}"), "{}")
                .await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let started = Instant::now();
        let beside = wrk(&host.url("/hooks/bench/github"), script.path());
        drain_tenant(&host, "bench").await;
        let accepted = beside.requests - beside.non_2xx;
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "beside a tenant spinning in its 16 workers: ingest {beside}; end to end {accepted} webhooks in {elapsed:.1} s = {:.0}/s",
            accepted as f64 / elapsed
        );
        host.stop().await;

        // The same on PostgreSQL: one host ingesting alone, one host end to
        // end, then two hosts on the one database end to end.
        let schema = PgSchema::create_anyway().await;
        let pg: Arc<dyn Store> = Arc::new(
            PostgresStore::connect(schema.options(), hookhost_tests::test_keys())
                .await
                .expect("PostgreSQL"),
        );
        let host = bench_host_on(pg.clone(), 0).await;
        let ingest_pg = wrk(&host.url("/hooks/bench/github"), script.path());
        println!("PostgreSQL, one host, ingest alone: {ingest_pg}");
        println!(
            "PostgreSQL ingest / SQLite ingest (median): {:.0}%",
            100.0 * ingest_pg.rate / ingest_rate
        );
        host.stop().await;
        let drainer = bench_host_on(pg.clone(), Config::default().workers).await;
        drain(&drainer).await;
        drainer.stop().await;

        for hosts in [1, 2] {
            let mut servers = Vec::new();
            for _ in 0..hosts {
                servers.push(bench_host_on(pg.clone(), Config::default().workers).await);
            }
            let started = Instant::now();
            let runs: Vec<Run> = std::thread::scope(|scope| {
                let handles: Vec<_> = servers
                    .iter()
                    .map(|s| {
                        let url = s.url("/hooks/bench/github");
                        let script = script.path();
                        scope.spawn(move || wrk(&url, script))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            drain(&servers[0]).await;
            let accepted: u64 = runs.iter().map(|r| r.requests - r.non_2xx).sum();
            let elapsed = started.elapsed().as_secs_f64();
            println!(
                "PostgreSQL, {hosts} host(s), end to end: {accepted} webhooks in {elapsed:.1} s = {:.0}/s (ingest {:.0} req/s)",
                accepted as f64 / elapsed,
                runs.iter().map(|r| r.rate).sum::<f64>()
            );
            for server in servers {
                server.stop().await;
            }
        }
        schema.drop().await;

        plugin_matrix().await;
    });
}

/// Connections of the plugin matrix's load generator, as in the issue's
/// measurement of end to end.
const MATRIX_CONNECTIONS: usize = 32;

/// A plugin of the matrix: what it is given and what it is sent.
#[derive(Clone, Copy, PartialEq)]
enum Workload {
    /// `tests/plugins/noop`: returns at once.
    Trivial,
    /// `plugins/event-counter`: three KV increments.
    EventCounter,
    /// `plugins/shopify-order-fulfillment`: a KV read, a POST, a KV write.
    Shopify,
    /// `plugins/stripe-to-slack-ts`, built by the JavaScript SDK: a POST.
    StripeTs,
}

impl Workload {
    const ALL: [Workload; 4] = [
        Self::Trivial,
        Self::EventCounter,
        Self::Shopify,
        Self::StripeTs,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Trivial => "trivial",
            Self::EventCounter => "event-counter",
            Self::Shopify => "shopify-order-fulfillment",
            Self::StripeTs => "stripe-to-slack-ts",
        }
    }

    /// Whether each webhook posts once to the receiver.
    fn posts(self) -> bool {
        matches!(self, Self::Shopify | Self::StripeTs)
    }

    /// Tenant `bench` with this workload's plugin on endpoint `matrix`.
    async fn configure(self, host: &TestHost, receiver: SocketAddr) {
        let tenant = host.tenant("bench").await;
        let built;
        let (name, path, provider) = match self {
            Self::Trivial => ("noop", plugins::NOOP, Provider::Github),
            Self::EventCounter => ("event-counter", plugins::EVENT_COUNTER, Provider::Github),
            Self::Shopify => (
                "shopify-order-fulfillment",
                plugins::SHOPIFY_ORDER_FULFILLMENT,
                Provider::Shopify,
            ),
            Self::StripeTs => {
                built = projects::built(projects::STRIPE_TO_SLACK_TS);
                ("stripe-to-slack-ts", built.as_str(), Provider::Stripe)
            }
        };
        let version = host.plugin(&tenant, name, path).await;
        let mut endpoint = spec(name, version, None);
        endpoint.provider = provider;
        endpoint.secrets = vec![SECRET.into()];
        if self.posts() {
            let (setting, path) = match self {
                Self::Shopify => ("fulfillment_url", "fulfillments"),
                _ => ("slack_url", "slack"),
            };
            endpoint
                .config
                .insert(setting.into(), format!("http://{receiver}/{path}"));
            endpoint.allowed_hosts = vec![
                format!("127.0.0.1:{}", receiver.port())
                    .parse()
                    .expect("valid pattern"),
            ];
            endpoint.allow_private_network = true;
        }
        host.endpoint(&tenant, "matrix", &endpoint).await;
    }

    /// The `n`th webhook, signed: its own event id, and for Shopify its own order.
    fn request(self, addr: SocketAddr, templates: &Templates, n: usize) -> Vec<u8> {
        let (provider, event_type, body) = match self {
            Self::Trivial | Self::EventCounter => {
                (Provider::Github, "push", templates.push.clone())
            }
            Self::Shopify => (
                Provider::Shopify,
                "orders/create",
                templates
                    .order
                    .replacen(ORDER_ID, &format!("\"id\": {}", 1_000_000 + n), 1),
            ),
            Self::StripeTs => (
                Provider::Stripe,
                "payment_intent.succeeded",
                templates.payment.replacen(
                    STRIPE_EVENT_ID,
                    &format!("\"id\": \"evt_bench_{n}\""),
                    1,
                ),
            ),
        };
        let event_id = format!("matrix-{n}");
        let headers = sign(
            provider,
            SECRET,
            None,
            body.as_bytes(),
            &event_id,
            Some(event_type),
            SystemTime::now(),
        )
        .expect("sign");
        let mut request = format!(
            "POST /hooks/bench/matrix HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        request.into_bytes()
    }
}

/// The order id of the Shopify fixture, replaced by each request's own.
const ORDER_ID: &str = "\"id\": 820982911946154508";

/// The event id of the Stripe fixture, replaced by each request's own.
const STRIPE_EVENT_ID: &str = "\"id\": \"evt_3MtwBwLkdIwHu7ix2dXbgSol\"";

/// The bodies the matrix's requests are made from.
struct Templates {
    push: String,
    order: String,
    payment: String,
}

/// Every plugin on SQLite, then on PostgreSQL: end to end under the same
/// load, each phase on a fresh host and database with the default workers.
async fn plugin_matrix() {
    let fixture = |path: &str| {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../plugins")
                .join(path),
        )
        .expect("a fixture")
    };
    let templates = Arc::new(Templates {
        push: body_of_1_kib(),
        order: fixture("shopify-order-fulfillment/fixtures/orders-create.json"),
        payment: fixture("stripe-to-slack/fixtures/payment_intent.succeeded.json"),
    });
    assert!(templates.order.contains(ORDER_ID), "fixture changed");
    assert!(
        templates.payment.contains(STRIPE_EVENT_ID),
        "fixture changed"
    );
    let receiver = start_counting_receiver().await;
    println!(
        "plugin matrix: closed loop, {MATRIX_CONNECTIONS} connections, {WINDOW} per phase, then the drain"
    );
    for postgres in [false, true] {
        let backend = if postgres { "PostgreSQL" } else { "SQLite" };
        let mut trivial_rate = None;
        for workload in Workload::ALL {
            let schema = if postgres {
                Some(PgSchema::create_anyway().await)
            } else {
                None
            };
            let config = single_tenant(Config::default().workers);
            let host = match &schema {
                Some(schema) => {
                    let pg: Arc<dyn Store> = Arc::new(
                        PostgresStore::connect(schema.options(), hookhost_tests::test_keys())
                            .await
                            .expect("PostgreSQL"),
                    );
                    TestHost::start_on(pg, config).await
                }
                None => TestHost::start_with(config).await,
            };
            workload.configure(&host, receiver.addr).await;
            let posts_before = receiver.count();
            let threads_before = thread_cpu();
            let started = Instant::now();
            let addr = host.addr;
            let shared = templates.clone();
            let load = closed_loop(addr, MATRIX_CONNECTIONS, window(), move |n| {
                workload.request(addr, &shared, n)
            });
            drain(&host).await;
            let elapsed = started.elapsed().as_secs_f64();
            let threads = thread_cpu_since(&threads_before);
            let ran = ran_exactly_once(&host, load.accepted).await;
            let rate = load.accepted as f64 / elapsed;
            let ratio = match trivial_rate {
                None => {
                    trivial_rate = Some(rate);
                    String::new()
                }
                Some(trivial) => format!(" = {:.2} × the trivial plugin's", rate / trivial),
            };
            println!(
                "{backend}, {}: ingest while processing {load}; end to end {} webhooks in {elapsed:.1} s = {rate:.0}/s{ratio}; {ran}",
                workload.name(),
                load.accepted,
            );
            if workload.posts() {
                assert_eq!(
                    receiver.count() - posts_before,
                    load.accepted,
                    "every webhook was posted to the receiver exactly once"
                );
            }
            println!("  CPU over the phase ({elapsed:.1} s on 2 cores): {threads}");
            host.stop().await;
            if let Some(schema) = schema {
                schema.drop().await;
            }
        }
    }
}

/// Checks that each of the `accepted` webhooks of tenant `bench` succeeded
/// after exactly one attempt: a healthy host under load runs nothing twice.
async fn ran_exactly_once(host: &TestHost, accepted: u64) -> String {
    let tenant = TenantId::new("bench").expect("valid id");
    let mut filter = DeliveryFilter {
        limit: 10_000,
        ..DeliveryFilter::default()
    };
    let (mut deliveries, mut attempts) = (0u64, 0u64);
    loop {
        let page = host
            .store
            .list_deliveries(&tenant, &filter)
            .await
            .expect("list deliveries");
        for delivery in &page.deliveries {
            assert_eq!(
                delivery.status,
                DeliveryStatus::Succeeded,
                "delivery {} did not succeed",
                delivery.id
            );
            deliveries += 1;
            attempts += u64::from(delivery.attempts);
        }
        match page.next {
            Some(next) => filter.before = Some(next),
            None => break,
        }
    }
    assert_eq!(deliveries, accepted, "every accepted webhook is stored");
    assert_eq!(
        attempts,
        deliveries,
        "{} deliveries ran more than once on a healthy host",
        attempts - deliveries
    );
    format!("{attempts} attempts for {deliveries} deliveries")
}

/// A receiver that answers 200 and counts what it got.
struct CountingReceiver {
    addr: SocketAddr,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl CountingReceiver {
    fn count(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }
}

async fn start_counting_receiver() -> CountingReceiver {
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = count.clone();
    let app = axum::Router::new().fallback(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        async { StatusCode::OK }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    CountingReceiver { addr, count }
}

fn window() -> Duration {
    Duration::from_secs(WINDOW.trim_end_matches('s').parse().expect("seconds"))
}

/// What a closed-loop run did.
struct Load {
    accepted: u64,
    rejected: u64,
    rate: f64,
    p50: Duration,
    p99: Duration,
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} req/s, p50={:?} p99={:?}, non-202={}",
            self.rate, self.p50, self.p99, self.rejected
        )
    }
}

/// `connections` keep-alive connections each sending the next request as
/// soon as the last is answered, for `duration`, on a thread and runtime of
/// their own (as wrk would be), each request made by `request` from its
/// sequence number (so each can be signed for its own body).
fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    request: impl Fn(usize) -> Vec<u8> + Send + Sync + 'static,
) -> Load {
    let request = Arc::new(request);
    std::thread::Builder::new()
        .name("load-generator".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                let started = tokio::time::Instant::now();
                let end = started + duration;
                let mut tasks = tokio::task::JoinSet::new();
                for _ in 0..connections {
                    let (request, next) = (request.clone(), next.clone());
                    tasks.spawn(async move {
                        let mut stream =
                            tokio::net::TcpStream::connect(addr).await.expect("connect");
                        stream.set_nodelay(true).expect("nodelay");
                        let mut buf = Vec::with_capacity(4096);
                        let mut seen = Vec::new();
                        while tokio::time::Instant::now() < end {
                            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let bytes = request(n);
                            let sent = tokio::time::Instant::now();
                            let accepted = exchange(&mut stream, &bytes, &mut buf).await;
                            seen.push((sent.elapsed(), accepted));
                        }
                        seen
                    });
                }
                let mut latencies = Vec::new();
                let mut rejected = 0;
                while let Some(seen) = tasks.join_next().await {
                    for (latency, accepted) in seen.expect("connection task") {
                        latencies.push(latency);
                        rejected += u64::from(!accepted);
                    }
                }
                let elapsed = started.elapsed().as_secs_f64();
                latencies.sort();
                let pct = |p: f64| {
                    latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)]
                };
                Load {
                    accepted: latencies.len() as u64 - rejected,
                    rejected,
                    rate: latencies.len() as f64 / elapsed,
                    p50: pct(0.50),
                    p99: pct(0.99),
                }
            })
        })
        .expect("load generator thread")
        .join()
        .expect("load generator")
}

/// CPU seconds each named group of this process's threads has used
/// (numbered threads of one kind summed), the whole process's, which also
/// counts threads that have exited (the load generator's), and the local
/// PostgreSQL server's processes'.
#[derive(Clone)]
struct ThreadCpu {
    by_name: BTreeMap<String, f64>,
    process: f64,
    postgres: f64,
}

/// Seconds of user and system time in a `/proc/.../stat` line.
fn stat_seconds(stat: &str) -> Option<(String, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    // utime and stime, fields 14 and 15 of proc(5), in USER_HZ (100/s).
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((name.to_owned(), ticks / 100.0))
}

fn thread_cpu() -> ThreadCpu {
    let mut by_name = BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let path = task.expect("task").path().join("stat");
        if let Some((name, seconds)) = std::fs::read_to_string(path)
            .ok()
            .as_deref()
            .and_then(stat_seconds)
        {
            *by_name.entry(name).or_insert(0.0) += seconds;
        }
    }
    let process = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .as_deref()
        .and_then(stat_seconds)
        .map_or(0.0, |(_, s)| s);
    let postgres = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("stat")).ok())
        .filter_map(|stat| stat_seconds(&stat))
        .filter(|(name, _)| name == "postgres")
        .map(|(_, seconds)| seconds)
        .sum();
    ThreadCpu {
        by_name,
        process,
        postgres,
    }
}

/// What each group used since `before`, largest first, and the process total.
fn thread_cpu_since(before: &ThreadCpu) -> String {
    let now = thread_cpu();
    let mut used: Vec<(String, f64)> = now
        .by_name
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                s - before.by_name.get(name).copied().unwrap_or(0.0),
            )
        })
        .filter(|(_, s)| *s >= 0.01)
        .collect();
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut text: Vec<String> = used
        .iter()
        .map(|(name, s)| format!("{name} {s:.2} s"))
        .collect();
    let process = now.process - before.process;
    let threads: f64 = used.iter().map(|(_, s)| s).sum();
    text.push(format!(
        "exited threads (the load generator) {:.2} s",
        process - threads
    ));
    text.push(format!("this process {process:.2} s"));
    let postgres = now.postgres - before.postgres;
    if postgres >= 0.01 {
        text.push(format!("PostgreSQL's processes {postgres:.2} s"));
    }
    text.join(", ")
}

/// A server with a GitHub endpoint running the trivial plugin.
async fn bench_host(workers: usize) -> TestHost {
    let host = TestHost::start_with(single_tenant(workers)).await;
    configure(&host).await;
    host
}

/// A server on `store` (PostgreSQL, shared by several hosts).
async fn bench_host_on(store: Arc<dyn Store>, workers: usize) -> TestHost {
    let host = TestHost::start_on(store, single_tenant(workers)).await;
    configure(&host).await;
    host
}

/// The configuration of a host whose one tenant may use all of it, as its
/// operator would set it: every worker, and a rate and depth it never
/// reaches (the bucket and the depth check still run for each webhook).
fn single_tenant(workers: usize) -> Config {
    let defaults = Config::default();
    Config {
        workers,
        tenant: TenantPolicy {
            max_concurrent: workers.max(1) as u32,
            max_queue_depth: defaults.max_queue_depth,
            ingest_rate: 10_000_000,
            ingest_burst: 10_000_000,
            ..defaults.tenant.clone()
        },
        ..defaults
    }
}

/// Tenant `bench` with the trivial plugin on a GitHub endpoint (idempotent,
/// so several hosts on one database can each run it). The endpoint has a
/// rate limit and event type filters that every webhook passes, so their
/// cost is measured on every request.
async fn configure(host: &TestHost) {
    let tenant = host.tenant("bench").await;
    let version = host.plugin(&tenant, "noop", plugins::NOOP).await;
    let mut endpoint = spec("noop", version, None);
    endpoint.provider = Provider::Github;
    endpoint.secrets = vec![SECRET.into()];
    endpoint.rate_limit = Some(RateLimit {
        rate: NonZeroU32::new(1_000_000).expect("not zero"),
        period: RatePeriod::Second,
        burst: None,
    });
    endpoint.event_types = ["issues.*", "pull_request.*", "push"]
        .iter()
        .map(|p| p.parse().expect("valid pattern"))
        .collect();
    host.endpoint(&tenant, "github", &endpoint).await;
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn body_of_1_kib() -> String {
    let mut body = String::from(r#"{"ref":"refs/heads/main","commits":[{"message":""#);
    while body.len() < 1024 - 4 {
        body.push('x');
    }
    body.push_str(r#""}]}"#);
    body
}

/// One wrk run's figures.
struct Run {
    requests: u64,
    rate: f64,
    p50: String,
    p99: String,
    non_2xx: u64,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} req/s, p50={} p99={}, non-2xx={}",
            self.rate, self.p50, self.p99, self.non_2xx
        )
    }
}

/// Every request gets its own X-GitHub-Delivery (the dedup key), per thread.
fn lua_script(body: &str, signature: &str) -> String {
    format!(
        r#"
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("prefix", tostring(os.time()) .. "-" .. threads .. "-")
end
function request()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = prefix .. counter
  return wrk.format("POST", nil, nil, nil)
end
wrk.method = "POST"
wrk.body = {body:?}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "push"
wrk.headers["X-Hub-Signature-256"] = "{signature}"
"#
    )
}

fn connections() -> String {
    std::env::var(CONNECTIONS_VAR).unwrap_or_else(|_| CONNECTIONS.to_owned())
}

fn wrk(url: &str, script: &std::path::Path) -> Run {
    let out = Command::new("wrk")
        .args(["-t2", "-c", &connections(), "-d", WINDOW, "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("run wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.split_whitespace().next().unwrap_or_default().to_owned())
    };
    Run {
        requests: text
            .lines()
            .find_map(|l| l.trim().split_once(" requests in "))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or_else(|| panic!("wrk output without a count:\n{text}")),
        rate: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("wrk output without a rate:\n{text}")),
        p50: field("50%").unwrap_or_default(),
        p99: field("99%").unwrap_or_default(),
        non_2xx: field("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    }
}

async fn start_ceiling() -> std::net::SocketAddr {
    let secrets = Arc::new(vec![SECRET.to_owned()]);
    let app = axum::Router::new().route(
        "/hooks/bench/github",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let secrets = secrets.clone();
            async move {
                let config = VerifyConfig {
                    provider: Provider::Github,
                    secrets: &secrets,
                    hmac: None,
                    tolerance: Duration::from_secs(300),
                };
                match verify(&config, &headers, &body, SystemTime::now()) {
                    Ok(()) => (StatusCode::ACCEPTED, r#"{"delivery_id":"dlv_0"}"#),
                    Err(_) => (StatusCode::UNAUTHORIZED, "{}"),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Waits until every accepted delivery of `tenant` has finished.
async fn drain_tenant(host: &TestHost, tenant: &str) {
    loop {
        let depths = host.store.queue_depth_by_tenant().await.expect("depth");
        if !depths.iter().any(|(t, n)| t.as_str() == tenant && *n > 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every accepted delivery has finished.
async fn drain(host: &TestHost) {
    while host.store.queue_depth().await.expect("depth") > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends at a fixed rate regardless of answers, in the manner of wrk2: on
/// its own thread and runtime (so it does not compete with the server for
/// the server's scheduler), over keep-alive connections with hand-written
/// HTTP/1.1, each request due at its slot and its latency counted from
/// then, so a stall is charged to every request it delays.
fn open_loop(
    addr: std::net::SocketAddr,
    body: &str,
    signature: &str,
    rate: f64,
    duration: Duration,
) -> (Duration, Duration, usize) {
    const CONNECTIONS: usize = 128;
    let total = (duration.as_secs_f64() * rate) as usize;
    let head = format!(
        "POST /hooks/bench/github HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         x-github-event: push\r\nx-hub-signature-256: {signature}\r\ncontent-length: {}\r\n",
        body.len()
    );
    let shared = Arc::new((
        head,
        body.to_owned(),
        std::sync::atomic::AtomicUsize::new(0),
    ));
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    let start = tokio::time::Instant::now() + Duration::from_millis(100);
                    let interval = Duration::from_secs_f64(1.0 / rate);
                    let mut connections = tokio::task::JoinSet::new();
                    for _ in 0..CONNECTIONS {
                        let shared = shared.clone();
                        connections.spawn(async move {
                            let (head, body, next) = &*shared;
                            let mut stream =
                                tokio::net::TcpStream::connect(addr).await.expect("connect");
                            stream.set_nodelay(true).expect("nodelay");
                            let mut buf = Vec::with_capacity(4096);
                            let mut seen = Vec::new();
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                if i >= total {
                                    return seen;
                                }
                                let due = start + interval * i as u32;
                                tokio::time::sleep_until(due).await;
                                let request =
                                    format!("{head}x-github-delivery: open-{i}\r\n\r\n{body}");
                                let accepted =
                                    exchange(&mut stream, request.as_bytes(), &mut buf).await;
                                seen.push((due.elapsed(), accepted));
                            }
                        });
                    }
                    let mut latencies = Vec::with_capacity(total);
                    let mut errors = 0;
                    while let Some(seen) = connections.join_next().await {
                        for (latency, accepted) in seen.expect("connection task") {
                            latencies.push(latency);
                            errors += usize::from(!accepted);
                        }
                    }
                    latencies.sort();
                    let pct = |p: f64| {
                        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)]
                    };
                    (pct(0.50), pct(0.99), errors)
                })
            })
            .join()
            .expect("open-loop thread")
    })
}

/// Sends one request and reads its answer; whether it was a 202.
async fn exchange(stream: &mut tokio::net::TcpStream, request: &[u8], buf: &mut Vec<u8>) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request).await.expect("send");
    buf.clear();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                assert!(
                    stream.read_buf(buf).await.expect("read") > 0,
                    "server closed"
                );
            }
            return head.starts_with("http/1.1 202");
        }
        assert!(
            stream.read_buf(buf).await.expect("read") > 0,
            "server closed"
        );
    }
}
