//! A database made by an earlier hookhost, opened by this one: the migrations
//! carry its deliveries and their attempts over (headers and bodies moved to
//! `payloads`, and on SQLite the tables rebuilt around an integer key), on
//! both backends.

use std::path::Path;

use hookhost::domain::Timestamp;
use hookhost::ids::{DeliveryId, TenantId};
use hookhost::store::{DeliveryStatus, PostgresStore, Replay, SqliteStore, Store};
use hookhost_tests::block_on;
use hookhost_tests::host::PgSchema;
use sqlx::migrate::{Migrate, Migrator};

/// The schema before the payloads split: every migration older than these.
const SQLITE_PAYLOADS: i64 = 20261123000006;
const POSTGRES_PAYLOADS: i64 = 20261123000002;

/// Two succeeded deliveries in the old shape, one with its body and its
/// attempt, one pruned.
const OLD_ROWS: [&str; 4] = [
    "INSERT INTO tenants (id, created_at) VALUES ('acme', 1)",
    "INSERT INTO deliveries (id, tenant, endpoint, event_id, provider, headers, body, received_at,
                             plugin, plugin_version, lease_ms, status, attempts, finished_at)
     VALUES ('dlv_kept', 'acme', 'orders', 'e1', 'github', '[[\"x-github-event\",\"push\"]]',
             '{\"n\":1}', 1, 'echo', 1, 15000, 'succeeded', 1, 2)",
    "INSERT INTO deliveries (id, tenant, endpoint, event_id, provider, headers, body, received_at,
                             plugin, plugin_version, lease_ms, status, attempts, finished_at)
     VALUES ('dlv_pruned', 'acme', 'orders', 'e2', 'github', '[]', NULL, 1, 'echo', 1, 15000,
             'succeeded', 1, 2)",
    "INSERT INTO attempts (delivery_id, attempt, plugin_version, started_at, duration_ms, outcome,
                           logs, logs_truncated, http_calls)
     VALUES ('dlv_kept', 1, 1, 1, 5, 'ok', '[]', false, '[]')",
];

#[test]
fn a_sqlite_database_from_before_the_payloads_split_keeps_its_deliveries() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hookhost.db");
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true);
        let mut conn = sqlx::ConnectOptions::connect(&options).await.unwrap();
        make_old(&mut conn, "sqlite", SQLITE_PAYLOADS).await;
        drop(conn);
        let store = SqliteStore::open(&file, hookhost_tests::test_keys())
            .await
            .expect("migrates");
        assert_carried_over(&store).await;
    })
}

#[test]
fn a_postgresql_database_from_before_the_payloads_split_keeps_its_deliveries() {
    block_on(async {
        let schema = PgSchema::create_anyway().await;
        let mut conn = sqlx::ConnectOptions::connect(&schema.options())
            .await
            .unwrap();
        make_old(&mut conn, "postgres", POSTGRES_PAYLOADS).await;
        drop(conn);
        let store = PostgresStore::connect(schema.options(), hookhost_tests::test_keys())
            .await
            .expect("migrates");
        assert_carried_over(&store).await;
        schema.drop().await;
    })
}

/// Applies the backend's migrations older than `before`, then the old rows.
async fn make_old<C>(conn: &mut C, backend: &str, before: i64)
where
    C: Migrate + Send,
    for<'c> &'c mut C: sqlx::Executor<'c>,
{
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../host/migrations")
        .join(backend);
    let mut earlier = Migrator::new(dir).await.unwrap();
    earlier.migrations = earlier
        .migrations
        .iter()
        .filter(|m| m.version < before)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    earlier.run_direct(conn).await.unwrap();
    for statement in OLD_ROWS {
        sqlx::Executor::execute(&mut *conn, statement)
            .await
            .unwrap();
    }
}

async fn assert_carried_over(store: &dyn Store) {
    let acme = TenantId::new("acme").unwrap();
    let kept = DeliveryId::from_string("dlv_kept".into());
    let d = store.delivery(&acme, &kept).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Succeeded);
    assert_eq!(d.headers, vec![("x-github-event".into(), "push".into())]);
    assert_eq!(d.body.as_deref(), Some(&b"{\"n\":1}"[..]));
    let attempts = store.attempts(&kept).await.unwrap();
    assert_eq!(attempts.len(), 1, "the attempt survives the migrations");
    assert_eq!(attempts[0].duration_ms, 5);
    let pruned = DeliveryId::from_string("dlv_pruned".into());
    let p = store.delivery(&acme, &pruned).await.unwrap().unwrap();
    assert_eq!(p.body, None);
    assert_eq!(
        store
            .replay(&acme, &pruned, None, Timestamp::from_ms(3))
            .await
            .unwrap(),
        Replay::BodyPruned
    );
    assert_eq!(
        store
            .replay(&acme, &kept, None, Timestamp::from_ms(3))
            .await
            .unwrap(),
        Replay::Queued
    );
}
