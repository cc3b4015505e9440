//! An endpoint's `limits.max_concurrent`: how many of its deliveries run at
//! once, set through the CLI and the API, held by the queue's claims.

use std::time::Duration;

use hookhost::ids::DeliveryId;
use hookhost::store::DeliveryStatus;
use hookhost_tests::host::{OPERATOR_TOKEN, TestHost, spec};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{cli_test, hookhost, plugins};
use serde_json::json;

/// How long the receiver holds each call: long enough that the deliveries
/// a free pool runs at once overlap there.
const HOLD: Duration = Duration::from_millis(300);

const SOON: Duration = Duration::from_secs(20);

/// Puts `acme`'s endpoint `orders` running `echo` v`version` (to
/// `receiver`), limited to `max_concurrent`, through the API.
async fn put_orders(
    host: &TestHost,
    version: u32,
    receiver: Option<&Receiver>,
    max_concurrent: u32,
) -> (u16, serde_json::Value) {
    let mut body = json!(spec("echo", version, receiver));
    body["limits"]["max_concurrent"] = json!(max_concurrent);
    host.call(
        "PUT",
        "/v1/tenants/acme/endpoints/orders",
        Some(OPERATOR_TOKEN),
        Some(body),
    )
    .await
}

#[test]
fn an_endpoint_limited_to_one_runs_its_deliveries_one_at_a_time_and_its_tenants_other_endpoints_run_beside_it()
 {
    cli_test(async {
        let host = TestHost::with_workers(8).await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        let (serial, open) = (Receiver::start().await, Receiver::start().await);
        serial.hold_for(HOLD);
        open.hold_for(HOLD);

        // The serial endpoint is set through the CLI, from a spec file and a flag.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serial.json");
        std::fs::write(&file, json!(spec("echo", v, Some(&serial))).to_string()).unwrap();
        let url = host.url("");
        let (code, stdout, stderr) = hookhost(
            dir.path(),
            &[
                "endpoint",
                "set",
                "--tenant",
                "acme",
                "serial",
                "--file",
                file.to_str().unwrap(),
                "--max-concurrent",
                "1",
                "--url",
                &url,
                "--token",
                OPERATOR_TOKEN,
            ],
        )
        .await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        let (_, shown, _) = hookhost(
            dir.path(),
            &[
                "endpoint",
                "get",
                "--tenant",
                "acme",
                "serial",
                "--url",
                &url,
                "--token",
                OPERATOR_TOKEN,
            ],
        )
        .await;
        assert!(shown.contains("max_concurrent=1"), "{shown}");
        host.endpoint(&acme, "open", &spec("echo", v, Some(&open)))
            .await;

        let mut sent: Vec<DeliveryId> = Vec::new();
        for i in 0..6 {
            sent.push(host.accept("acme", "serial", &format!("s{i}"), "{}").await);
            sent.push(host.accept("acme", "open", &format!("o{i}"), "{}").await);
        }
        // The last serial one waits behind five, each held 300 ms.
        host.wait_for(&acme, &sent[10], DeliveryStatus::Waiting, SOON)
            .await;
        for id in &sent {
            host.wait_for(&acme, id, DeliveryStatus::Succeeded, SOON)
                .await;
        }

        assert_eq!(serial.requests().len(), 6);
        assert_eq!(
            serial.most_at_once(),
            1,
            "the serial endpoint ran deliveries side by side"
        );
        assert!(
            open.most_at_once() > 1,
            "the open endpoint waited behind the serial one: at most {} at once",
            open.most_at_once()
        );
        host.stop().await;
    })
}

#[test]
fn an_endpoint_limited_to_two_never_runs_a_third_though_every_worker_is_free() {
    cli_test(async {
        let host = TestHost::with_workers(8).await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        let receiver = Receiver::start().await;
        receiver.hold_for(HOLD);
        let (status, answer) = put_orders(&host, v, Some(&receiver), 2).await;
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer["limits"]["max_concurrent"], 2);

        let mut sent = Vec::new();
        for i in 0..10 {
            sent.push(host.accept("acme", "orders", &format!("e{i}"), "{}").await);
        }
        for id in &sent {
            host.wait_for(&acme, id, DeliveryStatus::Succeeded, SOON)
                .await;
        }
        assert_eq!(receiver.most_at_once(), 2);
        host.stop().await;
    })
}

#[test]
fn a_limit_of_zero_is_refused_with_the_field_named() {
    cli_test(async {
        let host = TestHost::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        let (status, answer) = put_orders(&host, v, None, 0).await;
        assert_eq!(status, 422, "{answer}");
        assert!(
            answer.to_string().contains("limits.max_concurrent"),
            "{answer}"
        );
        host.stop().await;
    })
}

/// How many of `ids` are in `status` now.
async fn count_in(
    host: &TestHost,
    acme: &hookhost::ids::TenantId,
    ids: &[DeliveryId],
    status: DeliveryStatus,
) -> usize {
    let mut n = 0;
    for id in ids {
        let d = host.store.delivery(acme, id).await.unwrap().unwrap();
        n += usize::from(d.status == status);
    }
    n
}

#[test]
fn a_burst_into_a_serial_endpoint_does_not_hold_up_its_tenants_other_endpoints() {
    cli_test(async {
        let host = TestHost::with_workers(8).await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        let (serial, open) = (Receiver::start().await, Receiver::start().await);
        serial.hold_for(Duration::from_millis(500));
        let mut limited = spec("echo", v, Some(&serial));
        limited.limits.max_concurrent = Some(1);
        host.endpoint(&acme, "serial", &limited).await;
        host.endpoint(&acme, "open", &spec("echo", v, Some(&open)))
            .await;

        let mut burst = Vec::new();
        for i in 0..30 {
            burst.push(host.accept("acme", "serial", &format!("s{i}"), "{}").await);
        }
        let mut others = Vec::new();
        for i in 0..3 {
            others.push(host.accept("acme", "open", &format!("o{i}"), "{}").await);
        }
        for id in &others {
            host.wait_for(&acme, id, DeliveryStatus::Succeeded, SOON)
                .await;
        }
        // Thirty at 500 ms each take fifteen seconds; the others did not wait for them.
        let waiting = count_in(&host, &acme, &burst, DeliveryStatus::Waiting).await;
        assert!(waiting >= 20, "only {waiting} of the burst still waiting");
        host.stop().await;
    })
}

#[test]
fn raising_an_endpoints_limit_lets_more_of_its_waiting_deliveries_run_at_once() {
    cli_test(async {
        let host = TestHost::with_workers(8).await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        let receiver = Receiver::start().await;
        receiver.hold_for(Duration::from_millis(300));
        let (status, _) = put_orders(&host, v, Some(&receiver), 1).await;
        assert_eq!(status, 201);
        let mut sent = Vec::new();
        for i in 0..12 {
            sent.push(host.accept("acme", "orders", &format!("e{i}"), "{}").await);
        }
        host.wait_for(&acme, &sent[11], DeliveryStatus::Waiting, SOON)
            .await;

        // At one at a time the twelve would take 3.6 s; three at once is
        // what only the new limit allows.
        let (status, answer) = put_orders(&host, v, Some(&receiver), 3).await;
        assert_eq!(status, 200, "{answer}");
        for id in &sent {
            host.wait_for(&acme, id, DeliveryStatus::Succeeded, SOON)
                .await;
        }
        assert_eq!(receiver.most_at_once(), 3);
        host.stop().await;
    })
}

#[test]
fn deleting_an_endpoint_ends_its_waiting_deliveries_rather_than_leaving_them_queued() {
    cli_test(async {
        let host = TestHost::with_workers(8).await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        let receiver = Receiver::start().await;
        receiver.hold_for(Duration::from_millis(500));
        let (status, _) = put_orders(&host, v, Some(&receiver), 1).await;
        assert_eq!(status, 201);
        let mut sent = Vec::new();
        for i in 0..5 {
            sent.push(host.accept("acme", "orders", &format!("e{i}"), "{}").await);
        }
        host.wait_for(&acme, &sent[4], DeliveryStatus::Waiting, SOON)
            .await;

        let (status, _) = host
            .call(
                "DELETE",
                "/v1/tenants/acme/endpoints/orders",
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 204);
        let dead = host
            .wait_for(&acme, &sent[4], DeliveryStatus::Dead, SOON)
            .await;
        assert!(
            dead.last_error.unwrap_or_default().contains("deleted"),
            "it ends as a delivery of a deleted endpoint"
        );
        assert_eq!(
            count_in(&host, &acme, &sent, DeliveryStatus::Waiting).await,
            0
        );
        host.stop().await;
    })
}
