//! `hookhost serve` as a child process: killed with SIGKILL mid-stream, and
//! stopped with SIGTERM while attempts run.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hookhost::ids::TenantId;
use hookhost::store::{DeliveryStatus, Keyring, SqliteStore, Store};
use hookhost_tests::host::{
    ServeProcess, delivery_id, send_many, send_numbered, spec, wait_all_succeeded,
};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{block_on_within, hookhost_bin, plugins, runtime};

/// A data directory with tenant `acme`, and endpoint `orders` running `plugin`.
async fn data_dir_with(
    plugin_path: &str,
    edit: impl FnOnce(&mut hookhost::domain::EndpointSpec),
    receiver: Option<&Receiver>,
) -> (tempfile::TempDir, Arc<dyn Store>, TenantId) {
    let dir = tempfile::tempdir().unwrap();
    // The master key `hookhost serve` will find there, as it made it.
    let keys = Keyring::from_data_dir(dir.path()).unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("hookhost.db"), Arc::new(keys))
            .await
            .unwrap(),
    );
    let acme = TenantId::new("acme").unwrap();
    store.create_tenant(&acme, None).await.unwrap();
    let wasm = std::fs::read(plugin_path).unwrap();
    let loaded = runtime().load(&wasm).await.unwrap();
    let name = hookhost::ids::PluginName::new("handler").unwrap();
    let version = store
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
    let mut spec = spec("handler", version, receiver);
    edit(&mut spec);
    store
        .put_endpoint(&acme, &"orders".parse().unwrap(), &spec)
        .await
        .unwrap();
    (dir, store, acme)
}

fn hits_per_delivery(receiver: &Receiver) -> HashMap<String, usize> {
    let mut hits = HashMap::new();
    for r in receiver.requests() {
        *hits
            .entry(r.json()["id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    hits
}

#[test]
fn after_kill_9_every_accepted_webhook_completes_and_no_completed_one_runs_again() {
    hookhost_bin();
    block_on_within(Duration::from_secs(180), async {
        let receiver = Receiver::start().await;
        let (dir, store, acme) = data_dir_with(plugins::ECHO, |_| {}, Some(&receiver)).await;
        let mut server = ServeProcess::start(dir.path(), &[]).await;
        let url = server.url("/hooks/acme/orders");
        let client = reqwest::Client::new();

        // 1,000 signed webhooks, 64 at a time; the server dies after ~300 answers.
        let answered = AtomicUsize::new(0);
        let targets = [url.clone()];
        let sending = send_many(&client, &targets, 1_000, 64, &answered);
        let killer = async {
            while answered.load(Ordering::SeqCst) < 300 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            server.child.start_kill().unwrap();
            server.child.wait().await.unwrap();
        };
        let (accepted, ()) = tokio::join!(sending, killer);
        assert!(
            (300..1_000).contains(&accepted.len()),
            "the kill landed mid-stream ({} accepted)",
            accepted.len()
        );

        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut completed_before = HashSet::new();
        for id in &accepted {
            let d = store.delivery(&acme, id).await.unwrap();
            let d = d.unwrap_or_else(|| panic!("accepted delivery {id} was lost"));
            if d.status == DeliveryStatus::Succeeded {
                completed_before.insert(id.clone());
            }
        }
        let hits_before = hits_per_delivery(&receiver);

        let _restarted = ServeProcess::start(dir.path(), &[]).await;
        wait_all_succeeded(&*store, &acme, &accepted, Duration::from_secs(60)).await;

        let hits_after = hits_per_delivery(&receiver);
        for id in &accepted {
            assert!(hits_after.contains_key(id.as_str()), "{id} never ran");
        }
        for id in &completed_before {
            assert_eq!(
                hits_after.get(id.as_str()),
                hits_before.get(id.as_str()),
                "{id} had completed before the kill but ran again"
            );
        }
    });
}

#[test]
fn sigterm_hands_back_running_attempts_within_the_grace_period_and_exits_zero() {
    hookhost_bin();
    block_on_within(Duration::from_secs(60), async {
        // Each attempt spins until its 10 s deadline; the grace period is 300 ms.
        let (dir, store, acme) = data_dir_with(
            plugins::SPIN_LOOP,
            |spec| spec.limits.timeout_ms = 10_000,
            None,
        )
        .await;
        let mut server = ServeProcess::start(dir.path(), &["--shutdown-grace", "300ms"]).await;
        let client = reqwest::Client::new();
        let mut ids = Vec::new();
        for i in 0..3 {
            let response = send_numbered(&client, &server.url("/hooks/acme/orders"), i)
                .await
                .unwrap();
            assert_eq!(response.status(), 202);
            ids.push(delivery_id(&response.text().await.unwrap()));
        }
        for id in &ids {
            while store.delivery(&acme, id).await.unwrap().unwrap().status
                != DeliveryStatus::Running
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }

        let signalled = Instant::now();
        let pid = server.child.id().unwrap().to_string();
        let kill = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(kill.success());
        let status = server.child.wait().await.unwrap();
        assert!(status.success(), "exit status {status}");
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "took {:?} to stop",
            signalled.elapsed()
        );
        for id in &ids {
            let d = store.delivery(&acme, id).await.unwrap().unwrap();
            assert_eq!(d.status, DeliveryStatus::Pending, "{id} was handed back");
            assert_eq!(d.attempts, 0);
            assert!(store.attempts(id).await.unwrap().is_empty());
        }
    });
}
