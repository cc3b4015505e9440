//! The dashboard's pages over a store of 1,000,000 deliveries of one tenant
//! received over the last day (4 endpoints, 5 event types; about 1 % dead,
//! 0.4 % retrying, 5 % filtered, the rest succeeded), on SQLite and on the
//! local PostgreSQL server: each page is fetched as a signed-in browser
//! fetches it, one request at a time, and its time to the last byte is
//! reported (p50, p95, max over the runs).
//!
//! Run: `cargo bench -p hookhost-tests --bench dashboard`. Results go to
//! stdout; BENCHMARKS.md keeps them. `HOOKHOST_BENCH_DELIVERIES` sets how
//! many deliveries are stored (default 1,000,000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hookhost::config::Config;
use hookhost::domain::{Provider, Timestamp};
use hookhost::ids::{DeliveryId, EndpointId, PluginName, TenantId};
use hookhost::store::{Arrival, NewDelivery, PostgresStore, SqliteStore, Store, WriteBatch};
use hookhost_tests::dashboard::sign_in;
use hookhost_tests::host::{PgSchema, TestHost, spec};
use hookhost_tests::{block_on_within, plugins, test_keys};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ENDPOINTS: [&str; 4] = ["stripe", "github", "shopify", "orders"];
const EVENT_TYPES: [&str; 5] = [
    "invoice.paid",
    "charge.failed",
    "customer.created",
    "payment_intent.succeeded",
    "order.created",
];
const RUNS: usize = 30;

fn main() {
    let total: usize = std::env::var("HOOKHOST_BENCH_DELIVERIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    block_on_within(Duration::from_secs(3600), async {
        let dir = tempfile::tempdir().expect("tempdir");
        let sqlite: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("hookhost.db"), test_keys())
                .await
                .expect("open SQLite"),
        );
        let file = dir.path().join("hookhost.db");
        bench("SQLite", sqlite, total, Backend::Sqlite(file)).await;
        let schema = PgSchema::create_anyway().await;
        let postgres: Arc<dyn Store> = Arc::new(
            PostgresStore::connect(schema.options(), test_keys())
                .await
                .expect("open PostgreSQL"),
        );
        bench(
            "PostgreSQL",
            postgres,
            total,
            Backend::Postgres(Box::new(schema.options())),
        )
        .await;
        schema.drop().await;
    });
}

/// Where to reach the database behind the store, for the statements that
/// settle what was stored.
enum Backend {
    Sqlite(std::path::PathBuf),
    Postgres(Box<sqlx::postgres::PgConnectOptions>),
}

async fn bench(name: &str, store: Arc<dyn Store>, total: usize, backend: Backend) {
    let host = TestHost::start_on(
        store.clone(),
        Config {
            workers: 0,
            ..TestHost::config()
        },
    )
    .await;
    let key = host.create_tenant("bench").await;
    let tenant = TenantId::new("bench").unwrap();
    let version = host.plugin(&tenant, "noop", plugins::NOOP).await;
    for endpoint in ENDPOINTS {
        host.endpoint(&tenant, endpoint, &spec("noop", version, None))
            .await;
    }
    let started = Instant::now();
    let (middle, event) = fill(&store, &tenant, total).await;
    settle(&backend).await;
    println!(
        "{name}: stored {total} deliveries in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let session = sign_in(&host.url(""), &key).await;
    let base = "/ui/t/bench/deliveries";
    let hour_ago = Timestamp::now()
        .before(Duration::from_secs(12 * 3600))
        .rfc3339();
    let hour_end = Timestamp::now()
        .before(Duration::from_secs(11 * 3600))
        .rfc3339();
    let pages = [
        ("newest 50", base.to_owned()),
        ("500 pages back (cursor)", format!("{base}?cursor={middle}")),
        ("status=dead", format!("{base}?status=dead")),
        ("status=retrying", format!("{base}?status=retrying")),
        ("status=succeeded", format!("{base}?status=succeeded")),
        ("endpoint=github", format!("{base}?endpoint=github")),
        (
            "event_type=invoice.paid",
            format!("{base}?event_type=invoice.paid"),
        ),
        (
            "event_type matching none",
            format!("{base}?event_type=nothing.matches"),
        ),
        ("event id search", format!("{base}?event_id={event}")),
        (
            "an hour, 12 h ago",
            format!("{base}?since={}&until={}", &hour_ago[..19], &hour_end[..19]),
        ),
        ("live rows (fragment)", format!("{base}?fragment=rows")),
        ("overview, cached", "/ui/t/bench".to_owned()),
        ("endpoints", "/ui/t/bench/endpoints".to_owned()),
    ];
    println!("{name}: page                         p50 ms   p95 ms   max ms   rows");
    for (label, path) in pages {
        let mut times = Vec::with_capacity(RUNS);
        let mut rows = 0;
        for _ in 0..RUNS {
            let at = Instant::now();
            let answer = session.get(&path).await;
            times.push(at.elapsed());
            assert_eq!(answer.status, 200, "{path}: {}", answer.text);
            rows = answer.text.matches("<tr><td><a class=\"mono\"").count();
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{name}: {label:<28} {:>6.1}   {:>6.1}   {:>6.1}   {rows}",
            ms(times[RUNS / 2]),
            ms(times[RUNS * 95 / 100]),
            ms(times[RUNS - 1]),
        );
    }
    // The overview's figures are computed at most every 5 s per tenant;
    // these are the looks that compute them.
    let mut computed = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(5_100)).await;
        let at = Instant::now();
        let answer = session.get("/ui/t/bench").await;
        computed.push(at.elapsed());
        assert_eq!(answer.status, 200);
    }
    computed.sort();
    println!(
        "{name}: overview, computed: {:.1} ms median of 3 (min {:.1}, max {:.1})",
        computed[1].as_secs_f64() * 1e3,
        computed[0].as_secs_f64() * 1e3,
        computed[2].as_secs_f64() * 1e3
    );
    host.stop().await;
}

/// Stores `total` deliveries received over the last day, oldest first,
/// through the queue's own batched writes; returns a delivery id half way
/// (a deep cursor) and an event id to search for.
async fn fill(store: &Arc<dyn Store>, tenant: &TenantId, total: usize) -> (DeliveryId, String) {
    let now = Timestamp::now().as_ms();
    let step = 86_400_000 / total as i64;
    let plugin = PluginName::new("noop").unwrap();
    let endpoints: Vec<EndpointId> = ENDPOINTS
        .iter()
        .map(|e| EndpointId::new(*e).unwrap())
        .collect();
    let body = axum::body::Bytes::from(format!(r#"{{"data":"{}"}}"#, "x".repeat(180)));
    let mut middle = None;
    let mut batch = Vec::with_capacity(5_000);
    for i in 0..total {
        let at = now - 86_400_000 + i as i64 * step;
        let id = DeliveryId::from_string(format!(
            "dlv_{at:012x}{}",
            &uuid::Uuid::new_v4().simple().to_string()[..20]
        ));
        if i == total / 2 {
            middle = Some(id.clone());
        }
        batch.push(NewDelivery {
            id,
            tenant: tenant.clone(),
            endpoint: endpoints[i % endpoints.len()].clone(),
            event_id: Some(format!("evt_{i}")),
            provider: Provider::StandardWebhooks,
            event_type: Some(EVENT_TYPES[i % EVENT_TYPES.len()].to_owned()),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.clone(),
            received_at: Timestamp::from_ms(at),
            plugin: plugin.clone(),
            plugin_version: 1,
            lease_ms: 15_000,
            arrival: if i % 20 == 7 {
                Arrival::Filtered
            } else {
                Arrival::Due
            },
        });
        if batch.len() == 5_000 || i + 1 == total {
            let (_, durable) = store
                .write(Arc::new(WriteBatch {
                    ingests: std::mem::take(&mut batch),
                    ..WriteBatch::default()
                }))
                .await
                .expect("write batch");
            durable.wait().await.expect("durable");
        }
    }
    (middle.expect("a middle"), format!("evt_{}", total / 3))
}

/// Finishes what was stored as the claims and completions would have: most
/// succeeded, about 1 % dead and 0.4 % retrying (by the last hex digits of
/// their random ids), then refreshes the planner's statistics.
async fn settle(backend: &Backend) {
    use sqlx::{ConnectOptions, Connection};
    let (suffix, analyze) = match backend {
        Backend::Sqlite(_) => ("substr(id, -2)", "ANALYZE"),
        Backend::Postgres(_) => ("right(id, 2)", "ANALYZE deliveries"),
    };
    let statements = [
        format!(
            "UPDATE deliveries SET status = 'dead', due_at = NULL, attempts = 3,
                    finished_at = received_at + 60000, last_error = 'HTTP status 500'
             WHERE status = 'pending' AND {suffix} IN ('00', '01', '02')"
        ),
        format!(
            "UPDATE deliveries SET status = 'retrying', attempts = 1, last_error = 'HTTP status 503',
                    due_at = received_at + 86400000
             WHERE status = 'pending' AND {suffix} = '03'"
        ),
        "UPDATE deliveries SET status = 'succeeded', due_at = NULL, attempts = 1,
                finished_at = received_at + 40
         WHERE status = 'pending'"
            .to_owned(),
        analyze.to_owned(),
    ];
    match backend {
        Backend::Sqlite(file) => {
            let mut db = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(file)
                .busy_timeout(Duration::from_secs(60))
                .connect()
                .await
                .expect("open the SQLite file");
            for sql in statements {
                sqlx::query(&sql).execute(&mut db).await.expect(&sql);
            }
            db.close().await.expect("close");
        }
        Backend::Postgres(options) => {
            let mut db = options.connect().await.expect("connect");
            for sql in statements {
                sqlx::query(&sql).execute(&mut db).await.expect(&sql);
            }
        }
    }
}
