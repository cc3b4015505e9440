//! Alerts through a real server: dead deliveries, failing, silent and
//! auto-paused endpoints, sent signed to a webhook destination and as text
//! to a Slack one, at most once per interval, retried until delivered; and
//! a tenant's destinations held to its policy, its limit and itself.

use std::time::{Duration, Instant, UNIX_EPOCH};

use hookhost::config::{AlertSettings, Config};
use hookhost::domain::{FailureRate, Provider};
use hookhost::ids::TenantId;
use hookhost::ingress::verify::sign;
use hookhost::store::DeliveryStatus;
use hookhost_tests::host::{OPERATOR_TOKEN, TestHost, spec};
use hookhost_tests::receiver::{Receiver, Recorded};
use hookhost_tests::{cli_test, hookhost, plugins};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(20);

/// A server whose alerts are retried after 200 ms, 1.2 s, … and raised at
/// most once a minute per endpoint and kind.
async fn host() -> TestHost {
    TestHost::start_with(Config {
        alerts: AlertSettings {
            min_interval: Duration::from_secs(60),
            retry_base: Duration::from_millis(200),
            destinations: Vec::new(),
        },
        ..TestHost::config()
    })
    .await
}

/// Tenant `acme` (created through the API; its key returned) with endpoint
/// `orders` running `echo` to `target`, one attempt per run, so a delivery
/// `target` fails is dead at once. Its policy lets it reach this machine.
async fn acme(host: &TestHost, target: &Receiver, alerts: Value) -> (TenantId, String) {
    let key = host.create_tenant("acme").await;
    host.set_policy("acme", json!({ "allow_private_network": true }))
        .await;
    let acme = TenantId::new("acme").unwrap();
    let v = host.plugin(&acme, "echo", plugins::ECHO).await;
    let mut orders = spec("echo", v, Some(target));
    orders.retry.max_attempts = 1;
    orders.alerts = serde_json::from_value(alerts).unwrap();
    host.endpoint(&acme, "orders", &orders).await;
    (acme, key)
}

/// `PUT …/alert-destinations/{name}` with `token`.
async fn destination(host: &TestHost, token: &str, name: &str, body: Value) -> (u16, Value) {
    host.call(
        "PUT",
        &format!("/v1/tenants/acme/alert-destinations/{name}"),
        Some(token),
        Some(body),
    )
    .await
}

/// A receiver set as `acme`'s webhook destination `ops`, with `key`.
async fn ops_hook(host: &TestHost, key: &str) -> Receiver {
    let hook = Receiver::start().await;
    let (status, answer) = destination(
        host,
        key,
        "ops",
        json!({ "kind": "webhook", "url": hook.url("/a") }),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    hook
}

/// Sends webhooks numbered `from..to` to `acme/orders` and waits until each is dead.
async fn dead(host: &TestHost, acme: &TenantId, from: usize, to: usize) {
    for i in from..to {
        let body = json!({ "type": "charge.failed", "n": i }).to_string();
        let id = host
            .accept("acme", "orders", &format!("evt-{i}"), &body)
            .await;
        host.wait_for(acme, &id, DeliveryStatus::Dead, SOON).await;
    }
}

/// Waits until `receiver` has at least `count` requests.
async fn requests(receiver: &Receiver, count: usize) -> Vec<Recorded> {
    let started = Instant::now();
    loop {
        let got = receiver.requests();
        if got.len() >= count {
            return got;
        }
        assert!(
            started.elapsed() < SOON,
            "{} of {count} requests",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /v1/tenants/acme/alerts` as the operator, until `done` holds.
async fn alerts_until(host: &TestHost, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let (status, body) = host
            .call("GET", "/v1/tenants/acme/alerts", Some(OPERATOR_TOKEN), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let alerts = body["alerts"].as_array().cloned().unwrap_or_default();
        if done(&alerts) {
            return alerts;
        }
        assert!(started.elapsed() < SOON, "alerts: {alerts:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn of_kind<'a>(alerts: &'a [Value], kind: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["kind"] == kind).collect()
}

#[test]
fn a_dead_delivery_is_sent_signed_to_a_webhook_destination_and_as_text_to_a_slack_one_once_per_interval()
 {
    hookhost_tests::block_on(async {
        let host = host().await;
        let target = Receiver::start().await;
        target.respond_with(500);
        let (acme, key) = acme(&host, &target, json!({})).await;
        let webhook = Receiver::start().await;
        let slack = Receiver::start().await;
        let (status, set) = destination(
            &host,
            &key,
            "ops",
            json!({ "kind": "webhook", "url": webhook.url("/alerts") }),
        )
        .await;
        assert_eq!(status, 201, "{set}");
        let secret = set["secret"]
            .as_str()
            .expect("a generated secret")
            .to_owned();
        assert!(secret.starts_with("whsec_"), "{secret}");
        let (status, _) = destination(
            &host,
            &key,
            "chat",
            json!({ "kind": "slack", "url": slack.url("/services/T/B/x") }),
        )
        .await;
        assert_eq!(status, 201);
        let (_, shown) = host
            .call(
                "GET",
                "/v1/tenants/acme/alert-destinations/ops",
                Some(&key),
                None,
            )
            .await;
        assert_eq!(shown["secret"], format!("…{}", &secret[secret.len() - 4..]));

        dead(&host, &acme, 0, 2).await;
        let signed = requests(&webhook, 1).await.remove(0);
        let event = signed.json();
        assert_eq!(event["type"], "delivery.dead");
        assert_eq!(event["data"]["tenant"], "acme");
        assert_eq!(event["data"]["endpoint"], "orders");
        assert!(
            event["data"]["delivery_id"]
                .as_str()
                .unwrap()
                .starts_with("dlv_")
        );
        let id = signed.header("webhook-id").expect("webhook-id");
        let at: u64 = signed.header("webhook-timestamp").unwrap().parse().unwrap();
        let expected = sign(
            Provider::StandardWebhooks,
            &secret,
            None,
            &signed.body,
            id,
            None,
            UNIX_EPOCH + Duration::from_secs(at),
        )
        .unwrap();
        let signature = expected
            .iter()
            .find(|(h, _)| h == "webhook-signature")
            .unwrap();
        assert_eq!(
            signed.header("webhook-signature"),
            Some(signature.1.as_str())
        );

        let text = requests(&slack, 1).await.remove(0).json();
        let line = text["text"].as_str().expect("text");
        assert!(
            line.contains("acme/orders") && line.contains("dead"),
            "{line}"
        );

        // The second dead delivery is within the interval: nothing more.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(webhook.requests().len(), 1);
        assert_eq!(slack.requests().len(), 1);
        let alerts = alerts_until(&host, |a| a.len() == 2).await;
        assert!(alerts.iter().all(|a| a["state"] == "sent"), "{alerts:#?}");
        assert!(
            host.metrics()
                .await
                .contains(r#"hookhost_alerts_raised_total{kind="delivery.dead"}"#)
        );
        host.stop().await;
    })
}

#[test]
fn an_alert_its_destination_fails_is_retried_and_recorded_as_sent_once_it_answers() {
    hookhost_tests::block_on(async {
        let host = host().await;
        let target = Receiver::start().await;
        target.respond_with(500);
        let (acme, key) = acme(&host, &target, json!({})).await;
        let flaky = Receiver::start().await;
        flaky.respond_with(500);
        let (status, _) = destination(
            &host,
            &key,
            "chat",
            json!({ "kind": "slack", "url": flaky.url("/x") }),
        )
        .await;
        assert_eq!(status, 201);
        dead(&host, &acme, 0, 1).await;
        requests(&flaky, 2).await;
        let failing = alerts_until(&host, |a| a.first().is_some_and(|a| a["attempts"] == 2)).await;
        assert_eq!(failing[0]["state"], "pending");
        assert_eq!(failing[0]["last_status"], 500);
        assert!(failing[0]["last_error"].as_str().unwrap().contains("500"));

        flaky.respond_with(200);
        let sent = alerts_until(&host, |a| a.first().is_some_and(|a| a["state"] == "sent")).await;
        assert!(sent[0]["attempts"].as_u64().unwrap() >= 3, "{sent:#?}");
        assert_eq!(sent[0]["last_status"], 200);
        assert!(sent[0]["sent_at"].is_string());
        assert!(
            host.metrics()
                .await
                .contains(r#"hookhost_alerts_sent_total{outcome="retry"}"#)
        );
        host.stop().await;
    })
}

#[test]
fn an_endpoint_pauses_itself_after_its_dead_deliveries_in_a_row_and_says_so() {
    hookhost_tests::block_on(async {
        let host = host().await;
        let target = Receiver::start().await;
        target.respond_with(500);
        let (acme, key) = acme(&host, &target, json!({ "pause_after_dead": 2 })).await;
        let _hook = ops_hook(&host, &key).await;
        dead(&host, &acme, 0, 2).await;
        let paused = alerts_until(&host, |a| !of_kind(a, "endpoint.paused").is_empty()).await;
        let alert = of_kind(&paused, "endpoint.paused")[0];
        assert_eq!(alert["payload"]["data"]["dead_in_a_row"], 2);
        let (_, endpoint) = host
            .call("GET", "/v1/tenants/acme/endpoints/orders", Some(&key), None)
            .await;
        assert!(endpoint["paused_at"].is_string(), "{endpoint}");
        host.stop().await;
    })
}

#[test]
fn an_endpoint_the_policy_forbids_to_pause_itself_is_refused_the_rule() {
    hookhost_tests::block_on(async {
        let host = host().await;
        let target = Receiver::start().await;
        let (_, key) = acme(&host, &target, json!({})).await;
        host.set_policy("acme", json!({ "allow_auto_pause": false }))
            .await;
        let (_, current) = host
            .call("GET", "/v1/tenants/acme/endpoints/orders", Some(&key), None)
            .await;
        let mut spec = current.clone();
        for view_only in [
            "tenant",
            "id",
            "inbound_url",
            "created_at",
            "updated_at",
            "paused_at",
            "plugin_secrets",
        ] {
            spec.as_object_mut().unwrap().remove(view_only);
        }
        spec["secrets"] = json!([hookhost_tests::host::SECRET]);
        spec["alerts"] = json!({ "pause_after_dead": 3 });
        let (status, body) = host
            .call(
                "PUT",
                "/v1/tenants/acme/endpoints/orders",
                Some(&key),
                Some(spec),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("allow_auto_pause"),
            "{body}"
        );
        host.stop().await;
    })
}

#[test]
fn an_endpoint_that_receives_nothing_for_longer_than_it_expects_raises_a_silence_alert() {
    hookhost_tests::block_on(async {
        let host = host().await;
        let target = Receiver::start().await;
        let (_, key) = acme(&host, &target, json!({ "expect_every_s": 2 })).await;
        let hook = ops_hook(&host, &key).await;
        // Arrivals keep it quiet while they come.
        for i in 0..3 {
            let body = json!({ "n": i }).to_string();
            host.accept("acme", "orders", &format!("evt-{i}"), &body)
                .await;
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        assert!(hook.requests().is_empty(), "no silence yet");
        let event = requests(&hook, 1).await.remove(0).json();
        assert_eq!(event["type"], "endpoint.silent");
        assert_eq!(event["data"]["expect_every_s"], 2);
        host.stop().await;
    })
}

#[test]
fn an_endpoint_whose_attempts_fail_past_its_threshold_raises_a_failure_rate_alert() {
    hookhost_tests::block_on(async {
        let host = host().await;
        let target = Receiver::start().await;
        target.respond_with(500);
        let rule = FailureRate {
            threshold: 0.5,
            window_s: 60,
            min_attempts: 3,
        };
        let (acme, key) = acme(&host, &target, json!({ "failure_rate": rule })).await;
        let _hook = ops_hook(&host, &key).await;
        dead(&host, &acme, 0, 2).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = alerts_until(&host, |a| !a.is_empty()).await;
        assert!(
            of_kind(&before, "endpoint.failing").is_empty(),
            "two attempts are under min_attempts"
        );
        dead(&host, &acme, 2, 3).await;
        let after = alerts_until(&host, |a| !of_kind(a, "endpoint.failing").is_empty()).await;
        let failing = of_kind(&after, "endpoint.failing")[0];
        assert_eq!(failing["payload"]["data"]["failures"], 3);
        host.stop().await;
    })
}

#[test]
fn a_tenant_cannot_point_a_destination_at_a_host_its_policy_does_not_allow_nor_at_a_private_address()
 {
    hookhost_tests::block_on(async {
        let host = host().await;
        let key = host.create_tenant("acme").await;
        host.set_policy(
            "acme",
            json!({ "allowed_hosts": ["*.slack.com", "localhost"] }),
        )
        .await;
        let (status, body) = destination(
            &host,
            &key,
            "out",
            json!({ "kind": "slack", "url": "https://evil.example/steal" }),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("allowed_hosts"),
            "{body}"
        );

        host.set_policy("acme", json!({ "allowed_hosts": ["*"] }))
            .await;
        for url in [
            "http://127.0.0.1:9/x",
            "http://169.254.169.254/latest",
            "http://[::1]/",
        ] {
            let (status, body) =
                destination(&host, &key, "out", json!({ "kind": "slack", "url": url })).await;
            assert_eq!(status, 422, "{url}: {body}");
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("allow_private_network"),
                "{body}"
            );
        }
        for bad in [
            json!({ "kind": "slack", "url": "file:///etc/passwd" }),
            json!({ "kind": "slack", "url": format!("https://hooks.slack.com/{}", "a".repeat(2100)) }),
            json!({ "kind": "webhook", "url": "https://hooks.slack.com/x", "secret": "not-a-secret" }),
        ] {
            let (status, body) = destination(&host, &key, "out", bad).await;
            assert_eq!(status, 422, "{body}");
        }

        // A name that resolves to loopback passes the write and is refused
        // when connecting.
        let target = Receiver::start().await;
        target.respond_with(500);
        let acme = TenantId::new("acme").unwrap();
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        let mut orders = spec("echo", v, Some(&target));
        orders.retry.max_attempts = 1;
        host.endpoint(&acme, "orders", &orders).await;
        let inside = Receiver::start().await;
        let sneaky = format!("http://localhost:{}/x", inside.addr.port());
        let (status, body) = destination(
            &host,
            &key,
            "sneaky",
            json!({ "kind": "slack", "url": sneaky }),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        dead(&host, &acme, 0, 1).await;
        let refused = alerts_until(&host, |a| {
            a.first().is_some_and(|a| a["last_error"].is_string())
        })
        .await;
        let error = refused[0]["last_error"].as_str().unwrap();
        assert!(error.contains("not a public address"), "{error}");
        assert!(inside.requests().is_empty());
        host.stop().await;
    })
}

#[test]
fn a_tenant_sees_only_its_own_alerts_and_destinations_and_has_at_most_eight() {
    hookhost_tests::block_on(async {
        let host = host().await;
        let acme = host.create_tenant("acme").await;
        let globex = host.create_tenant("globex").await;
        for i in 0..8 {
            let (status, body) = destination(
                &host,
                &acme,
                &format!("d{i}"),
                json!({ "kind": "slack", "url": "https://hooks.slack.com/services/x" }),
            )
            .await;
            assert_eq!(status, 201, "{body}");
        }
        let (status, body) = destination(
            &host,
            &acme,
            "d8",
            json!({ "kind": "slack", "url": "https://hooks.slack.com/services/x" }),
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert!(body["detail"].as_str().unwrap().contains('8'), "{body}");
        let (status, _) = destination(
            &host,
            &acme,
            "d0",
            json!({ "kind": "slack", "url": "https://hooks.slack.com/services/y" }),
        )
        .await;
        assert_eq!(status, 200, "replacing one is always allowed");

        for path in [
            "/v1/tenants/acme/alerts",
            "/v1/tenants/acme/alert-destinations",
            "/v1/tenants/acme/alert-destinations/d0",
        ] {
            let (status, _) = host.call("GET", path, Some(&globex), None).await;
            assert_eq!(status, 404, "{path}");
        }
        let (status, _) = host
            .call(
                "DELETE",
                "/v1/tenants/acme/alert-destinations/d0",
                Some(&globex),
                None,
            )
            .await;
        assert_eq!(status, 404);
        let (status, _) = host
            .call(
                "DELETE",
                "/v1/tenants/acme/alert-destinations/d0",
                Some(&acme),
                None,
            )
            .await;
        assert_eq!(status, 204);
        host.stop().await;
    })
}

#[test]
fn alert_destinations_are_set_and_alerts_listed_with_the_cli() {
    cli_test(async {
        let host = host().await;
        let target = Receiver::start().await;
        target.respond_with(500);
        let (acme, _) = acme(&host, &target, json!({})).await;
        let slack = Receiver::start().await;
        let dir = tempfile::tempdir().unwrap();
        let url = host.url("");
        let api = ["--url", url.as_str(), "--token", OPERATOR_TOKEN];
        let slack_url = slack.url("/services/x");
        let mut args = vec![
            "alert",
            "destination",
            "set",
            "--tenant",
            "acme",
            "chat",
            slack_url.as_str(),
            "--kind",
            "slack",
        ];
        args.extend(api);
        let (code, stdout, stderr) = hookhost(dir.path(), &args).await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        let mut args = vec![
            "alert",
            "destination",
            "set",
            "--tenant",
            "acme",
            "ops",
            slack_url.as_str(),
            "--kind",
            "webhook",
        ];
        args.extend(api);
        let (code, stdout, stderr) = hookhost(dir.path(), &args).await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            stdout.contains("whsec_"),
            "the generated secret is shown once: {stdout}"
        );

        dead(&host, &acme, 0, 1).await;
        requests(&slack, 2).await;
        alerts_until(&host, |a| {
            a.len() == 2 && a.iter().all(|a| a["state"] == "sent")
        })
        .await;
        let mut args = vec!["alert", "list", "--tenant", "acme"];
        args.extend(api);
        let (code, stdout, stderr) = hookhost(dir.path(), &args).await;
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.contains("delivery.dead") && stdout.contains("sent"),
            "{stdout}"
        );
        let mut args = vec!["alert", "destination", "list", "--tenant", "acme"];
        args.extend(api);
        let (_, stdout, _) = hookhost(dir.path(), &args).await;
        assert!(
            stdout.contains("chat") && stdout.contains("ops") && !stdout.contains("whsec_"),
            "{stdout}"
        );
        host.stop().await;
    })
}

#[test]
fn the_operators_destinations_in_the_config_file_get_every_tenants_alerts() {
    cli_test(async {
        let (target, ops) = (Receiver::start().await, Receiver::start().await);
        target.respond_with(500);
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hookhost.toml");
        std::fs::write(
            &config,
            format!(
                "[alerts]\nretry_base = \"200ms\"\n\n[[alerts.destinations]]\nname = \"ops\"\nkind = \"slack\"\nurl = \"{}\"\n",
                ops.url("/ops")
            ),
        )
        .unwrap();
        let server = hookhost_tests::host::ServeProcess::start(
            &dir.path().join("data"),
            &["--admin-token", "t", "--config", config.to_str().unwrap()],
        )
        .await;
        let client = reqwest::Client::new();
        let mut orders = spec("echo", 1, Some(&target));
        orders.retry.max_attempts = 1;
        server.acme_orders(&client, &orders).await;

        // The tenant has no destination of its own; the operator's gets its dead delivery.
        let body = br#"{"type":"charge.failed"}"#;
        let mut webhook = client
            .post(server.url("/hooks/acme/orders"))
            .body(&body[..]);
        for (name, value) in hookhost_tests::host::signed_headers("evt-1", body) {
            webhook = webhook.header(name, value);
        }
        assert_eq!(webhook.send().await.unwrap().status(), 202);
        let sent = requests(&ops, 1).await;
        assert_eq!(sent[0].path, "/ops");
        let text = sent[0].json()["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(text.contains("acme") && text.contains("orders"), "{text}");
    })
}
