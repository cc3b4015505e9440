//! Several `hookhost serve` processes on one PostgreSQL database: any host
//! ingests, any host works the queue, and one can die without loss.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hookhost::ids::{DeliveryId, PluginName, TenantId};
use hookhost::store::{DeliveryStatus, PostgresStore, Store};
use hookhost_tests::host::{PgSchema, ServeProcess, delivery_id, signed_headers, spec};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{block_on_within, hookhost_bin, plugins, runtime};

#[test]
fn three_hosts_on_one_database_run_every_accepted_webhook_once_though_one_is_killed() {
    hookhost_bin();
    block_on_within(Duration::from_secs(240), async {
        let schema = PgSchema::create_anyway().await;
        let store: Arc<dyn Store> =
            Arc::new(PostgresStore::connect(schema.options()).await.unwrap());
        let receiver = Receiver::start().await;
        let acme = TenantId::new("acme").unwrap();
        store.create_tenant(&acme, None).await.unwrap();
        let wasm = std::fs::read(plugins::ECHO).unwrap();
        let loaded = runtime().load(&wasm).await.unwrap();
        let name = PluginName::new("echo").unwrap();
        let v = store
            .add_plugin_version(&acme, &name, loaded.digest(), loaded.imports(), &wasm)
            .await
            .unwrap()
            .version;
        store
            .put_endpoint(
                &acme,
                &"orders".parse().unwrap(),
                &spec("echo", v, Some(&receiver)),
            )
            .await
            .unwrap();

        let url = schema.url();
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut hosts = Vec::new();
        for dir in &dirs {
            hosts.push(
                ServeProcess::start(dir.path(), &["--database-url", &url, "--admin-token", "t"])
                    .await,
            );
        }
        let targets: Vec<String> = hosts.iter().map(|h| h.url("/hooks/acme/orders")).collect();

        // 3,000 signed webhooks spread over the hosts; host 0 is killed after 1,000 answers.
        let client = reqwest::Client::new();
        let answered = Arc::new(AtomicUsize::new(0));
        let sending = futures::stream::iter(0..3_000)
            .map(|i| {
                let (client, url, answered) =
                    (client.clone(), targets[i % 3].clone(), answered.clone());
                async move {
                    let body = format!(r#"{{"n":{i}}}"#);
                    let mut request = client.post(&url).body(body.clone());
                    for (name, value) in signed_headers(&format!("evt_{i}"), body.as_bytes()) {
                        request = request.header(name, value);
                    }
                    let response = request.send().await.ok()?;
                    answered.fetch_add(1, Ordering::SeqCst);
                    if response.status() != 202 {
                        return None;
                    }
                    Some(delivery_id(&response.text().await.ok()?))
                }
            })
            .buffer_unordered(48)
            .collect::<Vec<_>>();
        let victim = &mut hosts[0];
        let killer = async {
            while answered.load(Ordering::SeqCst) < 1_000 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            victim.child.start_kill().unwrap();
            victim.child.wait().await.unwrap();
        };
        let (results, ()) = tokio::join!(sending, killer);
        let accepted: Vec<DeliveryId> = results.into_iter().flatten().collect();
        assert!(accepted.len() >= 1_900, "only {} accepted", accepted.len());

        // Every accepted delivery succeeds; the dead host's leases expire and others take over.
        let started = Instant::now();
        for id in &accepted {
            loop {
                let d = store
                    .delivery(&acme, id)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("{id} lost"));
                if d.status == DeliveryStatus::Succeeded {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "{id} still {:?}",
                    d.status
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }

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
