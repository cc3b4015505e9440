use std::sync::Arc;
use std::time::Duration;

use hookhost::domain::{Provider, Timestamp};
use hookhost::ids::{DeliveryId, EndpointId, PluginName, TenantId};
use hookhost::runtime::{KvNamespace, KvWrite, Outcome, WRITE_OVERHEAD_BYTES};
use hookhost::store::{
    Arrival, AttemptRecord, ClaimRequest, Completion, NewDelivery, Next, WriteBatch,
};
use hookhost_tests::host::{TestHost, spec, test_store, wait_all_succeeded};
use hookhost_tests::{Sandbox, block_on, event, load, log_text, plugins};

#[test]
fn writes_of_a_failing_invocation_are_not_visible_afterwards() {
    block_on(async {
        let plugin = load(plugins::KV_WRITER).await;
        let failing = Sandbox::new().await.config("mode", "fail-after-write");
        let inv = failing.run(&plugin, event("{}", None)).await;
        assert!(
            matches!(inv.outcome, Outcome::Retry(_)),
            "{:?}",
            inv.outcome
        );
        assert_eq!(inv.kv_writes.len(), 1, "the write was made, then discarded");
        assert_eq!(failing.kv("leak").await, None);

        let trapping = Sandbox::new().await.config("mode", "trap-after-write");
        let inv = trapping.run(&plugin, event("{}", None)).await;
        assert!(matches!(inv.outcome, Outcome::Trap(_)), "{:?}", inv.outcome);
        assert_eq!(trapping.kv("leak").await, None);
    })
}

#[test]
fn an_invocation_reads_its_own_writes_before_they_commit() {
    block_on(async {
        let plugin = load(plugins::KV_WRITER).await;
        let sandbox = Sandbox::new().await.config("mode", "read-your-writes");
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));
        assert_eq!(sandbox.kv("a").await, None);
        assert_eq!(sandbox.kv("c").await.as_deref(), Some("10"));
    })
}

#[test]
fn a_hundred_concurrent_increments_add_up_to_exactly_a_hundred() {
    block_on(async {
        let plugin = load(plugins::KV_WRITER).await;
        let sandbox = Arc::new(Sandbox::new().await.config("mode", "count"));
        let mut runs = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let (sandbox, plugin) = (sandbox.clone(), plugin.clone());
            runs.spawn(async move { sandbox.run(&plugin, event("{}", None)).await.outcome });
        }
        while let Some(outcome) = runs.join_next().await {
            assert_eq!(outcome.unwrap(), Outcome::Ok);
        }
        assert_eq!(sandbox.kv("n").await.as_deref(), Some("100"));
    })
}

#[test]
fn a_tenants_kv_usage_is_exactly_what_it_stores_after_sets_increments_and_deletes() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (store, schema) = test_store(dir.path()).await;
        let tenant = TenantId::new("acme").unwrap();
        store.create_tenant(&tenant, None).await.unwrap();
        let ns = |plugin: &str| KvNamespace {
            tenant: tenant.clone(),
            plugin: PluginName::new(plugin).unwrap(),
        };
        // Each stored key costs its bytes, its value's and the overhead.
        let cost = |key: &str, value: &str| (key.len() + value.len()) as u64 + WRITE_OVERHEAD_BYTES;
        let set = |key: &str, value: &str| KvWrite::Set {
            key: key.into(),
            value: value.as_bytes().to_vec(),
        };
        let increment = |key: &str, delta| KvWrite::Increment {
            key: key.into(),
            delta,
        };
        assert_eq!(store.tenant_usage_bytes(&tenant).await.unwrap(), 0);

        store
            .commit_kv(&ns("a"), &[set("ключ", "value"), increment("n", 9)])
            .await
            .unwrap();
        store
            .commit_kv(&ns("b"), &[set("x", &"v".repeat(1000))])
            .await
            .unwrap();
        assert_eq!(
            store.tenant_usage_bytes(&tenant).await.unwrap(),
            cost("ключ", "value") + cost("n", "9") + cost("x", &"v".repeat(1000))
        );

        // Values that grow and shrink in place, and a key deleted.
        store
            .commit_kv(
                &ns("a"),
                &[
                    set("ключ", "v"),
                    increment("n", 1),
                    KvWrite::Delete { key: "gone".into() },
                ],
            )
            .await
            .unwrap();
        store
            .commit_kv(&ns("b"), &[KvWrite::Delete { key: "x".into() }])
            .await
            .unwrap();
        assert_eq!(
            store.tenant_usage_bytes(&tenant).await.unwrap(),
            cost("ключ", "v") + cost("n", "10")
        );

        // Another tenant's keys are its own.
        let other = TenantId::new("other").unwrap();
        store.create_tenant(&other, None).await.unwrap();
        assert_eq!(store.tenant_usage_bytes(&other).await.unwrap(), 0);
        if let Some(schema) = schema {
            schema.drop().await;
        }
    })
}

#[test]
fn concurrent_deliveries_increments_of_one_counter_add_up_exactly() {
    block_on(async {
        let host = Arc::new(TestHost::start().await);
        let tenant = host.tenant("acme").await;
        let version = host
            .plugin(&tenant, "event-counter", plugins::EVENT_COUNTER)
            .await;
        host.endpoint(&tenant, "count", &spec("event-counter", version, None))
            .await;
        // Enough at once that completions share the store's batches.
        let mut sends = tokio::task::JoinSet::new();
        for n in 0..200 {
            let host = host.clone();
            sends.spawn(async move {
                host.accept("acme", "count", &format!("evt_{n}"), "{}")
                    .await
            });
        }
        let ids: Vec<_> = sends.join_all().await;
        wait_all_succeeded(host.store.as_ref(), &tenant, &ids, Duration::from_secs(30)).await;

        let ns = KvNamespace {
            tenant,
            plugin: PluginName::new("event-counter").unwrap(),
        };
        let total = host.store.get(&ns, "total").await.unwrap();
        assert_eq!(total.as_deref(), Some(&b"200"[..]));
        let typed = host.store.get(&ns, "count:unknown").await.unwrap();
        assert_eq!(typed.as_deref(), Some(&b"200"[..]));
    })
}

/// One batch finishing many successful deliveries, each with as many KV
/// writes as an invocation may make, commits whole on either backend (on
/// PostgreSQL its locks must not outgrow the server's lock table).
#[test]
fn a_batch_of_successes_each_at_the_write_cap_commits_whole() {
    block_on(async {
        const DELIVERIES: usize = 20;
        const WRITES: usize = 1_000;
        let dir = tempfile::tempdir().unwrap();
        let (store, schema) = test_store(dir.path()).await;
        let tenant = TenantId::new("acme").unwrap();
        let plugin = PluginName::new("flood").unwrap();
        store.create_tenant(&tenant, None).await.unwrap();
        store
            .add_plugin_version(&tenant, &plugin, "sha256:00", &[], b"\0asm", u64::MAX)
            .await
            .unwrap();
        let ingests = (0..DELIVERIES)
            .map(|_| NewDelivery {
                id: DeliveryId::generate(),
                tenant: tenant.clone(),
                endpoint: EndpointId::new("hook").unwrap(),
                event_id: None,
                provider: Provider::None,
                event_type: None,
                headers: vec![],
                body: axum::body::Bytes::from_static(b"{}"),
                received_at: Timestamp::now(),
                plugin: plugin.clone(),
                plugin_version: 1,
                lease_ms: 30_000,
                arrival: Arrival::Due,
            })
            .collect();
        let batch = WriteBatch {
            ingests,
            ..WriteBatch::default()
        };
        store
            .write(Arc::new(batch))
            .await
            .unwrap()
            .1
            .wait()
            .await
            .unwrap();
        let (claim, durable) = store
            .claim(ClaimRequest {
                now: Timestamp::now(),
                max: DELIVERIES,
                running: Default::default(),
                default_share: u32::MAX,
            })
            .await
            .unwrap();
        durable.wait().await.unwrap();
        assert_eq!(claim.claimed.len(), DELIVERIES);

        let namespace = KvNamespace {
            tenant: tenant.clone(),
            plugin,
        };
        let completions = claim
            .claimed
            .iter()
            .enumerate()
            .map(|(n, d)| Completion {
                id: d.id.clone(),
                lease: d.lease.clone(),
                record: AttemptRecord {
                    attempt: d.attempt,
                    plugin_version: d.plugin_version,
                    started_at: d.started_at,
                    duration_ms: 1,
                    outcome: Outcome::Ok,
                    logs: vec![],
                    logs_truncated: false,
                    http_calls: vec![],
                },
                next: Next::Succeeded {
                    namespace: namespace.clone(),
                    writes: (0..WRITES)
                        .map(|k| KvWrite::Set {
                            key: format!("{n}-{k}"),
                            value: b"x".to_vec(),
                        })
                        .collect(),
                },
            })
            .collect();
        let batch = WriteBatch {
            completions,
            ..WriteBatch::default()
        };
        let (results, durable) = store.write(Arc::new(batch)).await.unwrap();
        durable.wait().await.unwrap();
        assert_eq!(results.completed, vec![true; DELIVERIES]);
        let keys = store.list_keys(&namespace, "", 100_000).await.unwrap();
        assert_eq!(keys.len(), DELIVERIES * WRITES);
        if let Some(schema) = schema {
            schema.drop().await;
        }
    })
}
