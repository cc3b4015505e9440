//! Bulk replays through a real server: started with the CLI or the API,
//! followed to their end, paced, cancelled, bounded, and scoped to their
//! tenant.

use std::time::{Duration, Instant};

use hookhost::config::Config;
use hookhost::ids::{DeliveryId, TenantId};
use hookhost::store::DeliveryStatus;
use hookhost_tests::host::{OPERATOR_TOKEN, TestHost, spec};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{cli_test, hookhost, plugins};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(20);

/// Tenant `acme` with endpoint `orders` running `echo` to `receiver`, one
/// attempt per run, so a delivery the receiver fails is dead at once.
async fn orders(host: &TestHost, receiver: &Receiver) -> TenantId {
    let acme = host.tenant("acme").await;
    let v = host.plugin(&acme, "echo", plugins::ECHO).await;
    let mut orders = spec("echo", v, Some(receiver));
    orders.retry.max_attempts = 1;
    host.endpoint(&acme, "orders", &orders).await;
    acme
}

/// Sends `count` webhooks of event type `event_type` to `acme/orders` and
/// waits until each is `status`.
async fn sent(
    host: &TestHost,
    acme: &TenantId,
    event_type: &str,
    count: usize,
    status: DeliveryStatus,
) -> Vec<DeliveryId> {
    let mut ids = Vec::new();
    for i in 0..count {
        let body = json!({ "type": event_type, "n": i }).to_string();
        ids.push(
            host.accept("acme", "orders", &format!("{event_type}-{i}"), &body)
                .await,
        );
    }
    for id in &ids {
        host.wait_for(acme, id, status, SOON).await;
    }
    ids
}

/// `GET /v1/tenants/acme/replays/{id}` as the operator, until it is no
/// longer running.
async fn finished(host: &TestHost, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (status, job) = host
            .call(
                "GET",
                &format!("/v1/tenants/acme/replays/{id}"),
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 200, "{job}");
        if job["state"] != "running" {
            return job;
        }
        assert!(started.elapsed() < SOON, "still running: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `POST /v1/tenants/acme/replays` as the operator.
async fn start(host: &TestHost, body: Value) -> (u16, Value) {
    host.call(
        "POST",
        "/v1/tenants/acme/replays",
        Some(OPERATOR_TOKEN),
        Some(body),
    )
    .await
}

#[test]
fn a_bulk_replay_started_from_the_cli_runs_every_matching_dead_delivery_again_and_no_other() {
    cli_test(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = orders(&host, &receiver).await;
        receiver.respond_with(500);
        let charges = sent(&host, &acme, "charge.failed", 3, DeliveryStatus::Dead).await;
        let pushes = sent(&host, &acme, "push", 2, DeliveryStatus::Dead).await;
        receiver.respond_with(200);
        let before = receiver.requests().len();

        let dir = tempfile::tempdir().unwrap();
        let url = host.url("");
        let (code, stdout, stderr) = hookhost(
            dir.path(),
            &[
                "replay",
                "start",
                "--tenant",
                "acme",
                "--endpoint",
                "orders",
                "--status",
                "dead",
                "--event-type",
                "charge.*",
                "--url",
                &url,
                "--token",
                OPERATOR_TOKEN,
            ],
        )
        .await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            stdout.contains("done") && stdout.contains("matched 3, replayed 3, skipped 0"),
            "{stdout}"
        );

        for id in &charges {
            host.wait_for(&acme, id, DeliveryStatus::Succeeded, SOON)
                .await;
        }
        for id in &pushes {
            let d = host.store.delivery(&acme, id).await.unwrap().unwrap();
            assert_eq!(d.status, DeliveryStatus::Dead, "{id} did not match");
        }
        let mut replayed: Vec<String> = receiver.requests()[before..]
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap().to_owned())
            .collect();
        replayed.sort();
        let mut expected: Vec<String> = charges.iter().map(ToString::to_string).collect();
        expected.sort();
        assert_eq!(replayed, expected, "each matching delivery once");

        let metrics = host.metrics().await;
        for needle in [
            r#"hookhost_replays_total{kind="bulk"}"#,
            r#"hookhost_replay_jobs_total{state="done"}"#,
        ] {
            assert!(
                metrics.contains(needle),
                "{needle} missing from:\n{metrics}"
            );
        }

        // The replay is kept, and listed.
        let (_, listed, _) = hookhost(
            dir.path(),
            &[
                "replay",
                "list",
                "--tenant",
                "acme",
                "--url",
                &url,
                "--token",
                OPERATOR_TOKEN,
            ],
        )
        .await;
        assert!(
            listed.contains("orders") && listed.contains("done"),
            "{listed}"
        );
        host.stop().await;
    })
}

#[test]
fn a_bulk_replay_can_run_the_deliveries_on_another_plugin_version() {
    cli_test(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = orders(&host, &receiver).await;
        let ids = sent(&host, &acme, "push", 2, DeliveryStatus::Succeeded).await;
        let v2 = host.plugin(&acme, "echo", plugins::ECHO).await;

        let (status, job) = start(
            &host,
            json!({ "endpoint": "orders", "status": "succeeded", "to_version": v2 }),
        )
        .await;
        assert_eq!(status, 202, "{job}");
        let job = finished(&host, job["id"].as_str().unwrap()).await;
        assert_eq!(
            (job["state"].as_str(), job["replayed"].as_u64()),
            (Some("done"), Some(2))
        );
        for id in &ids {
            host.wait_for(&acme, id, DeliveryStatus::Succeeded, SOON)
                .await;
            let attempts = host.attempts(id).await;
            assert_eq!(attempts.last().unwrap().plugin_version, v2);
        }

        let (status, answer) = start(&host, json!({ "endpoint": "orders", "to_version": 9 })).await;
        assert_eq!(status, 422, "{answer}");
        assert!(answer.to_string().contains("to_version"), "{answer}");
        host.stop().await;
    })
}

#[test]
fn a_bulk_replay_keeps_to_the_replay_rate_and_a_cancel_stops_it_where_it_is() {
    cli_test(async {
        let host = TestHost::start_with(Config {
            replay_rate: 10,
            ..TestHost::config()
        })
        .await;
        let receiver = Receiver::start().await;
        let acme = orders(&host, &receiver).await;
        receiver.respond_with(500);
        let dead = sent(&host, &acme, "charge.failed", 40, DeliveryStatus::Dead).await;
        receiver.respond_with(200);

        let (status, job) = start(&host, json!({ "endpoint": "orders" })).await;
        assert_eq!(status, 202, "{job}");
        assert_eq!(job["state"], "running");
        let id = job["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/tenants/acme/replays/{id}");
        let started = Instant::now();
        loop {
            let (_, job) = host.call("GET", &path, Some(OPERATOR_TOKEN), None).await;
            if job["replayed"].as_u64().unwrap() > 0 {
                break;
            }
            assert!(started.elapsed() < SOON, "{job}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (status, cancelled) = host
            .call(
                "POST",
                &format!("{path}/cancel"),
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 200, "{cancelled}");
        assert_eq!(cancelled["state"], "cancelled");
        let replayed = cancelled["replayed"].as_u64().unwrap();
        // Ten a second, a step a second: 40 take four steps.
        assert!(
            (10..40).contains(&replayed) && replayed % 10 == 0,
            "{replayed} replayed in steps of ten"
        );

        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, later) = host.call("GET", &path, Some(OPERATOR_TOKEN), None).await;
        assert_eq!(later["replayed"].as_u64(), Some(replayed), "{later}");
        let mut still_dead = 0;
        for id in &dead {
            let d = host.store.delivery(&acme, id).await.unwrap().unwrap();
            still_dead += usize::from(d.status == DeliveryStatus::Dead);
        }
        assert_eq!(still_dead as u64, 40 - replayed);

        let (status, again) = host
            .call(
                "POST",
                &format!("{path}/cancel"),
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!((status, again["state"].as_str()), (200, Some("cancelled")));
        host.stop().await;
    })
}

#[test]
fn a_tenant_runs_two_bulk_replays_at_most_and_sees_only_its_own() {
    cli_test(async {
        let host = TestHost::start_with(Config {
            replay_rate: 1,
            ..TestHost::config()
        })
        .await;
        let receiver = Receiver::start().await;
        let acme = orders(&host, &receiver).await;
        sent(&host, &acme, "push", 3, DeliveryStatus::Succeeded).await;
        let other_key = host.create_tenant("globex").await;

        let mut ids = Vec::new();
        for _ in 0..2 {
            let (status, job) = start(&host, json!({ "endpoint": "orders" })).await;
            assert_eq!(status, 202, "{job}");
            ids.push(job["id"].as_str().unwrap().to_owned());
        }
        let (status, answer) = start(&host, json!({ "endpoint": "orders" })).await;
        assert_eq!(status, 409, "{answer}");
        assert!(answer.to_string().contains("2 bulk replays"), "{answer}");

        // Another tenant's key finds nothing of acme's.
        for path in [
            format!("/v1/tenants/acme/replays/{}", ids[0]),
            format!("/v1/tenants/acme/replays/{}/cancel", ids[0]),
        ] {
            let method = if path.ends_with("cancel") {
                "POST"
            } else {
                "GET"
            };
            let (status, _) = host.call(method, &path, Some(&other_key), None).await;
            assert!(matches!(status, 403 | 404), "{path}: {status}");
        }
        let (status, _) = host
            .call(
                "GET",
                &format!("/v1/tenants/globex/replays/{}", ids[0]),
                Some(&other_key),
                None,
            )
            .await;
        assert_eq!(status, 404);

        // Cancelling one makes room for another.
        let (status, _) = host
            .call(
                "POST",
                &format!("/v1/tenants/acme/replays/{}/cancel", ids[0]),
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 200);
        let (status, job) = start(&host, json!({ "endpoint": "orders" })).await;
        assert_eq!(status, 202, "{job}");
        host.stop().await;
    })
}

#[test]
fn a_bulk_replay_with_bad_fields_is_refused_with_each_named() {
    cli_test(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        orders(&host, &receiver).await;
        let (status, answer) = start(
            &host,
            json!({
                "endpoint": "orders",
                "status": "running",
                "event_type": "",
                "since": "yesterday",
                "until": "2026-01-01T00:00:00Z",
            }),
        )
        .await;
        assert_eq!(status, 422, "{answer}");
        let text = answer.to_string();
        for field in ["status", "event_type", "since"] {
            assert!(text.contains(&format!("\"{field}\"")), "{field}: {text}");
        }
        let (status, _) = start(&host, json!({ "endpoint": "nowhere" })).await;
        assert_eq!(status, 404);
        let (status, answer) = host
            .call(
                "GET",
                "/v1/tenants/acme/replays/rpl_nothex",
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 422, "{answer}");
        host.stop().await;
    })
}
