//! Several hosts on one PostgreSQL database: any host ingests, any host works
//! the queue, a change made through one reaches the others within a second,
//! one can die without loss, and the database itself can restart under load.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hookhost::config::Config;
use hookhost::domain::Provider;
use hookhost::ids::{PluginName, TenantId};
use hookhost::store::{DeliveryStatus, HOST_ALIVE, PostgresStore, Store};
use hookhost_tests::cluster::Cluster;
use hookhost_tests::host::{
    OPERATOR_TOKEN, PgSchema, SECRET, ServeProcess, TestHost, delivery_id, send_many,
    send_numbered, spec, wait_all_succeeded,
};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{block_on, block_on_within, hookhost_bin, plugins, runtime};

#[test]
fn three_hosts_on_one_database_run_every_accepted_webhook_once_though_one_is_killed() {
    hookhost_bin();
    block_on_within(Duration::from_secs(240), async {
        let schema = PgSchema::create_anyway().await;
        let store: Arc<dyn Store> = Arc::new(
            PostgresStore::connect(schema.options(), hookhost_tests::test_keys())
                .await
                .unwrap(),
        );
        let receiver = Receiver::start().await;
        let acme = echo_to(&*store, &receiver).await;

        let url = schema.url();
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut hosts = Vec::new();
        for dir in &dirs {
            hosts.push(
                ServeProcess::start(
                    dir.path(),
                    &[
                        "--database-url",
                        &url,
                        "--admin-token",
                        "t",
                        "--master-key",
                        hookhost_tests::TEST_MASTER_KEY,
                    ],
                )
                .await,
            );
        }
        let targets: Vec<String> = hosts.iter().map(|h| h.url("/hooks/acme/orders")).collect();

        // 3,000 signed webhooks spread over the hosts; host 0 is killed after 1,000 answers.
        let client = reqwest::Client::new();
        let answered = AtomicUsize::new(0);
        let sending = send_many(&client, &targets, 3_000, 48, &answered);
        let victim = &mut hosts[0];
        let killer = async {
            while answered.load(Ordering::SeqCst) < 1_000 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            victim.child.start_kill().unwrap();
            victim.child.wait().await.unwrap();
        };
        let (accepted, ()) = tokio::join!(sending, killer);
        assert!(accepted.len() >= 1_900, "only {} accepted", accepted.len());

        // Every accepted delivery succeeds; the dead host's leases expire and others take over.
        wait_all_succeeded(&*store, &acme, &accepted, Duration::from_secs(120)).await;

        // Through the receiver's dedup (the Idempotency-Key), each delivery's
        // one outbound call happened exactly once.
        let mut keys: HashMap<String, HashSet<String>> = HashMap::new();
        for r in receiver.requests() {
            let id = r.json()["id"].as_str().unwrap().to_owned();
            keys.entry(id)
                .or_default()
                .insert(r.header("idempotency-key").unwrap().to_owned());
        }
        for id in &accepted {
            let seen = keys
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{id} never ran"));
            assert_eq!(
                seen,
                &HashSet::from([format!("{id}:1")]),
                "{id}: one call, whatever the re-runs"
            );
        }
        drop(hosts);
        schema.drop().await;
    });
}

#[test]
fn an_idle_host_runs_a_webhook_another_host_accepted_without_waiting_for_its_poll() {
    block_on(async {
        let schema = PgSchema::create_anyway().await;
        let ingesting = TestHost::start_on(
            connect(&schema).await,
            Config {
                workers: 0,
                ..Config::default()
            },
        )
        .await;
        let working = TestHost::start_on(
            connect(&schema).await,
            Config {
                idle_poll: Duration::from_secs(600),
                ..Config::default()
            },
        )
        .await;
        let receiver = Receiver::start().await;
        let acme = echo_to(&*ingesting.store, &receiver).await;
        // The working host's first claim finds nothing: it sleeps, and only a
        // notification through the database can wake it before 600 s.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for i in 0..3 {
            let id = ingesting
                .accept("acme", "orders", &format!("evt_{i}"), "{}")
                .await;
            working
                .wait_for(
                    &acme,
                    &id,
                    DeliveryStatus::Succeeded,
                    Duration::from_secs(20),
                )
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        ingesting.stop().await;
        working.stop().await;
        schema.drop().await;
    });
}

#[test]
fn hosts_answer_503_while_postgresql_is_down_and_recover_by_themselves_losing_nothing() {
    hookhost_bin();
    block_on_within(Duration::from_secs(240), async {
        let cluster = Arc::new(tokio::task::spawn_blocking(Cluster::start).await.unwrap());
        let store: Arc<dyn Store> = Arc::new(
            PostgresStore::open(&cluster.url(), hookhost_tests::test_keys())
                .await
                .unwrap(),
        );
        let receiver = Receiver::start().await;
        let acme = echo_to(&*store, &receiver).await;
        let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut hosts = Vec::new();
        for dir in &dirs {
            let args = [
                "--database-url",
                &cluster.url(),
                "--admin-token",
                "t",
                "--master-key",
                hookhost_tests::TEST_MASTER_KEY,
            ];
            hosts.push(ServeProcess::start(dir.path(), &args).await);
        }
        let targets: Vec<String> = hosts.iter().map(|h| h.url("/hooks/acme/orders")).collect();

        // Senders keep going until the database has crashed, come back and
        // the hosts have accepted 300 more webhooks.
        let client = reqwest::Client::new();
        let next = Arc::new(AtomicUsize::new(0));
        let accepted_after = Arc::new(AtomicUsize::new(0));
        let back = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..16)
            .map(|_| {
                let (client, targets, next, accepted_after, back, stop) = (
                    client.clone(),
                    targets.clone(),
                    next.clone(),
                    accepted_after.clone(),
                    back.clone(),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let was_back = back.load(Ordering::SeqCst);
                        let response = send_numbered(&client, &targets[i % 2], i)
                            .await
                            .unwrap_or_else(|e| panic!("webhook {i}: no answer: {e}"));
                        let status = response.status().as_u16();
                        let retry_after = response.headers().contains_key("retry-after");
                        let text = response.text().await.unwrap();
                        if status == 202 && was_back {
                            accepted_after.fetch_add(1, Ordering::SeqCst);
                        }
                        answers.push((status, retry_after, text));
                    }
                    answers
                })
            })
            .collect();
        while next.load(Ordering::SeqCst) < 300 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let c = cluster.clone();
        tokio::task::spawn_blocking(move || c.crash())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(4)).await;
        let c = cluster.clone();
        tokio::task::spawn_blocking(move || c.resume())
            .await
            .unwrap();
        back.store(true, Ordering::SeqCst);
        while accepted_after.load(Ordering::SeqCst) < 300 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.store(true, Ordering::SeqCst);
        let mut accepted = Vec::new();
        let mut refused = 0;
        for sender in senders {
            for (status, retry_after, text) in sender.await.unwrap() {
                match status {
                    202 => accepted.push(delivery_id(&text)),
                    503 => {
                        assert!(retry_after, "a 503 without Retry-After: {text}");
                        refused += 1;
                    }
                    other => panic!("answered {other} while the database restarted: {text}"),
                }
            }
        }
        assert!(refused > 0, "no 503 while the database was down");
        for host in &mut hosts {
            assert!(
                host.child.try_wait().unwrap().is_none(),
                "a host exited with the database"
            );
        }

        // Every webhook answered 202, before, during or after, runs to success.
        wait_all_succeeded(&*store, &acme, &accepted, Duration::from_secs(120)).await;
        let ran: HashSet<String> = receiver
            .requests()
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap().to_owned())
            .collect();
        for id in &accepted {
            assert!(ran.contains(id.as_str()), "{id} never reached the receiver");
        }
    });
}

/// Tenant `acme` with endpoint `orders` running the echo plugin, which posts
/// each event to `receiver`.
async fn echo_to(store: &dyn Store, receiver: &Receiver) -> TenantId {
    let acme = TenantId::new("acme").unwrap();
    store.create_tenant(&acme, None).await.unwrap();
    let wasm = std::fs::read(plugins::ECHO).unwrap();
    let loaded = runtime().load(&wasm).await.unwrap();
    let name = PluginName::new("echo").unwrap();
    let v = store
        .add_plugin_version(
            &acme,
            &name,
            loaded.digest(),
            loaded.imports(),
            &wasm,
            u64::MAX,
        )
        .await
        .unwrap()
        .version;
    store
        .put_endpoint(
            &acme,
            &"orders".parse().unwrap(),
            &spec("echo", v, Some(receiver)),
        )
        .await
        .unwrap();
    acme
}

#[test]
fn an_endpoint_change_made_through_one_host_reaches_another_within_a_second() {
    block_on(async {
        let schema = PgSchema::create_anyway().await;
        let a = TestHost::start_on(connect(&schema).await, Config::default()).await;
        let b = TestHost::start_on(connect(&schema).await, Config::default()).await;
        a.create_tenant("acme").await;
        let wasm = std::fs::read(plugins::NOOP).unwrap();
        let (status, _) = a.upload(OPERATOR_TOKEN, "acme", "noop", wasm.clone()).await;
        assert_eq!(status, 201);
        let endpoint = |secret: &str, version: u32| {
            serde_json::json!({
                "provider": "standard-webhooks",
                "secrets": [secret],
                "plugin": "noop",
                "plugin_version": version,
            })
        };
        let put = |body| {
            a.call(
                "PUT",
                "/v1/tenants/acme/endpoints/orders",
                Some(OPERATOR_TOKEN),
                Some(body),
            )
        };
        assert_eq!(put(endpoint(SECRET, 1)).await.0, 201);
        // Host b serves the endpoint, and so has it cached.
        b.accept("acme", "orders", "evt_0", "{}").await;

        // Through host a: a second plugin version, bound with a new secret.
        let (status, _) = a.upload(OPERATOR_TOKEN, "acme", "noop", wasm).await;
        assert_eq!(status, 201);
        const ROTATED: &str = "whsec_cm90YXRlZC1zZWNyZXQtZm9yLWhvc3RzLXRlc3Q=";
        assert_eq!(put(endpoint(ROTATED, 2)).await.0, 200);
        let changed = Instant::now();
        let id = loop {
            let response = b
                .send(
                    "acme",
                    "orders",
                    Provider::StandardWebhooks,
                    ROTATED,
                    "evt_1",
                    b"{}",
                )
                .await;
            if response.status() == 202 {
                break delivery_id(&response.text().await.unwrap());
            }
            assert_eq!(response.status(), 401);
            // One second of cache, and a second of slack for a busy machine.
            assert!(
                changed.elapsed() < Duration::from_secs(2),
                "host b still has the old endpoint"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let acme = TenantId::new("acme").unwrap();
        let done = b
            .wait_for(
                &acme,
                &id,
                DeliveryStatus::Succeeded,
                Duration::from_secs(10),
            )
            .await;
        assert_eq!(done.plugin_version, 2, "host b ran the newly bound version");
        let old = b
            .send(
                "acme",
                "orders",
                Provider::StandardWebhooks,
                SECRET,
                "evt_2",
                b"{}",
            )
            .await;
        assert_eq!(old.status(), 401, "the replaced secret no longer passes");
        a.stop().await;
        b.stop().await;
        schema.drop().await;
    });
}

/// A store of its own on `schema`, as a separate host process would have.
/// The spec of `acme`'s endpoint `orders`, as stored.
async fn orders_spec(store: &dyn Store, acme: &TenantId) -> hookhost::domain::EndpointSpec {
    store
        .endpoint(acme, &"orders".parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .spec
}

async fn connect(schema: &PgSchema) -> Arc<dyn Store> {
    Arc::new(
        PostgresStore::connect(schema.options(), hookhost_tests::test_keys())
            .await
            .unwrap(),
    )
}

#[test]
fn hosts_on_one_database_share_an_endpoints_rate_limit_between_them() {
    block_on(async {
        let schema = PgSchema::create_anyway().await;
        let a = TestHost::start_on(connect(&schema).await, Config::default()).await;
        let b = TestHost::start_on(connect(&schema).await, Config::default()).await;
        let receiver = Receiver::start().await;
        let acme = echo_to(&*a.store, &receiver).await;
        let mut limited = orders_spec(&*a.store, &acme).await;
        limited.rate_limit = Some(
            serde_json::from_value(serde_json::json!({ "rate": 4, "period": "minute" })).unwrap(),
        );
        a.endpoint(&acme, "orders", &limited).await;
        // Past a heartbeat of each host after both started, so each counts two.
        tokio::time::sleep(HOST_ALIVE / 3 + Duration::from_secs(1)).await;

        for (name, host) in [("a", &a), ("b", &b)] {
            let mut statuses = Vec::new();
            for i in 0..3 {
                let response = host
                    .send(
                        "acme",
                        "orders",
                        Provider::StandardWebhooks,
                        SECRET,
                        &format!("{name}{i}"),
                        b"{}",
                    )
                    .await;
                statuses.push(response.status().as_u16());
            }
            assert_eq!(
                statuses,
                [202, 202, 429],
                "host {name} takes half of 4 a minute"
            );
        }
        a.stop().await;
        b.stop().await;
        schema.drop().await;
    });
}

#[test]
fn an_endpoint_limited_to_one_runs_one_delivery_at_a_time_across_every_host() {
    block_on(async {
        let schema = PgSchema::create_anyway().await;
        let config = || Config {
            workers: 8,
            ..Config::default()
        };
        let a = TestHost::start_on(connect(&schema).await, config()).await;
        let b = TestHost::start_on(connect(&schema).await, config()).await;
        let receiver = Receiver::start().await;
        receiver.hold_for(Duration::from_millis(100));
        let acme = echo_to(&*a.store, &receiver).await;
        let mut serial = orders_spec(&*a.store, &acme).await;
        serial.limits.max_concurrent = Some(1);
        a.endpoint(&acme, "orders", &serial).await;

        // Both hosts take webhooks, and both claim: each could run them all at once.
        let mut sent = Vec::new();
        for i in 0..12 {
            let host = if i % 2 == 0 { &a } else { &b };
            sent.push(host.accept("acme", "orders", &format!("e{i}"), "{}").await);
        }
        wait_all_succeeded(&*a.store, &acme, &sent, Duration::from_secs(30)).await;
        assert_eq!(receiver.requests().len(), 12);
        assert_eq!(
            receiver.most_at_once(),
            1,
            "two hosts ran the serial endpoint's deliveries side by side"
        );
        a.stop().await;
        b.stop().await;
        schema.drop().await;
    });
}
