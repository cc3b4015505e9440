//! An endpoint's ingress controls through a real server: event type
//! filters, pause and resume, allowed addresses behind trusted proxies, and
//! rate limits.

use std::time::Duration;

use hookhost::config::Config;
use hookhost::domain::Timestamp;
use hookhost::ids::{DeliveryId, EndpointId, TenantId};
use hookhost::store::{DeliveryFilter, DeliveryStatus};
use hookhost_tests::block_on;
use hookhost_tests::host::{OPERATOR_TOKEN, TestHost, signed_headers, spec};
use hookhost_tests::plugins;
use hookhost_tests::receiver::Receiver;
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(10);

/// Long enough for a due delivery to have run on an idle host.
const IDLE: Duration = Duration::from_millis(500);

/// The spec of an endpoint running `echo` v`version` to `receiver`, as JSON.
fn echo_spec(version: u32, receiver: &Receiver) -> Value {
    serde_json::to_value(spec("echo", version, Some(receiver))).unwrap()
}

/// Creates or replaces `acme`'s endpoint `id` through the API, as the operator.
async fn put_endpoint(host: &TestHost, id: &str, body: Value) -> (u16, Value) {
    let path = format!("/v1/tenants/acme/endpoints/{id}");
    host.call("PUT", &path, Some(OPERATOR_TOKEN), Some(body))
        .await
}

/// `POST /v1/tenants/acme/endpoints/{id}/{action}` as the operator.
async fn act_on(host: &TestHost, id: &str, action: &str) -> (u16, Value) {
    let path = format!("/v1/tenants/acme/endpoints/{id}/{action}");
    host.call("POST", &path, Some(OPERATOR_TOKEN), None).await
}

/// An endpoint `orders` of tenant `acme` running `echo` to `receiver`, with
/// `extra` laid over its spec; created through the API.
async fn echo_endpoint(host: &TestHost, receiver: &Receiver, extra: Value) -> TenantId {
    let acme = host.tenant("acme").await;
    let v = host.plugin(&acme, "echo", plugins::ECHO).await;
    let mut body = echo_spec(v, receiver);
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, answer) = put_endpoint(host, "orders", body).await;
    assert_eq!(status, 201, "{answer}");
    acme
}

/// POSTs a signed webhook to `acme/{endpoint}`, with `forwarded_for` as its
/// `X-Forwarded-For` if given.
async fn post_signed(
    host: &TestHost,
    endpoint: &str,
    event_id: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let body = r#"{"type":"t"}"#;
    let mut request = host
        .client
        .post(host.url(&format!("/hooks/acme/{endpoint}")))
        .body(body);
    for (name, value) in signed_headers(event_id, body.as_bytes()) {
        request = request.header(name, value);
    }
    if let Some(hops) = forwarded_for {
        request = request.header("x-forwarded-for", hops);
    }
    request.send().await.unwrap()
}

/// The status of [`post_signed`] to `acme/orders`.
async fn send_from(host: &TestHost, event_id: &str, forwarded_for: Option<&str>) -> u16 {
    post_signed(host, "orders", event_id, forwarded_for)
        .await
        .status()
        .as_u16()
}

async fn status_of(host: &TestHost, tenant: &TenantId, id: &DeliveryId) -> DeliveryStatus {
    host.store
        .delivery(tenant, id)
        .await
        .unwrap()
        .expect("stored")
        .status
}

/// The `n` of every webhook the receiver was sent, in the order it got them.
fn received(receiver: &Receiver) -> Vec<u64> {
    receiver
        .requests()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(r.json()["body"].as_str().unwrap()).unwrap();
            body["n"].as_u64().unwrap()
        })
        .collect()
}

#[test]
fn only_events_matching_the_endpoints_event_types_run_and_the_rest_are_stored_as_filtered() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = echo_endpoint(
            &host,
            &receiver,
            json!({ "event_types": ["order.*", "refund.created"] }),
        )
        .await;

        let created = host
            .accept("acme", "orders", "e1", r#"{"type":"order.created","n":1}"#)
            .await;
        let refunded = host
            .accept("acme", "orders", "e2", r#"{"type":"refund.created","n":2}"#)
            .await;
        let customer = host
            .accept(
                "acme",
                "orders",
                "e3",
                r#"{"type":"customer.created","n":3}"#,
            )
            .await;
        let untyped = host.accept("acme", "orders", "e4", r#"{"n":4}"#).await;

        for id in [&created, &refunded] {
            host.wait_for(&acme, id, DeliveryStatus::Succeeded, SOON)
                .await;
        }
        for id in [&customer, &untyped] {
            let d = host
                .wait_for(&acme, id, DeliveryStatus::Filtered, SOON)
                .await;
            assert_eq!(d.attempts, 0);
            assert!(d.due_at.is_none() && d.finished_at.is_some(), "{d:?}");
            assert!(host.attempts(id).await.is_empty());
        }
        let mut sent = received(&receiver);
        sent.sort();
        assert_eq!(sent, [1, 2], "filtered events never reached the plugin");

        let (status, listed) = host
            .call(
                "GET",
                "/v1/tenants/acme/deliveries?status=filtered",
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 200, "{listed}");
        assert_eq!(listed["deliveries"].as_array().unwrap().len(), 2);

        // A filtered delivery is stored whole, so a replay runs it.
        let (status, answer) = host
            .call(
                "POST",
                &format!("/v1/tenants/acme/deliveries/{customer}/replay"),
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 202, "{answer}");
        host.wait_for(&acme, &customer, DeliveryStatus::Succeeded, SOON)
            .await;
        assert!(received(&receiver).contains(&3));
        host.stop().await;
    });
}

#[test]
fn event_type_patterns_are_checked_each_with_its_own_message() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        let mut body = echo_spec(v, &receiver);
        body["event_types"] = json!(["push", ""]);
        let (status, answer) = put_endpoint(&host, "orders", body.clone()).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["errors"][0]["field"], "event_types[1]", "{answer}");

        body["event_types"] = json!(vec!["push"; 33]);
        let (status, answer) = put_endpoint(&host, "orders", body).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["errors"][0]["field"], "event_types", "{answer}");
        host.stop().await;
    });
}

#[test]
fn a_paused_endpoint_stores_what_arrives_runs_nothing_and_on_resume_runs_the_backlog_oldest_first()
{
    block_on(async {
        // One worker, so the order the receiver sees is the order of claims.
        let host = TestHost::start_with(Config {
            workers: 1,
            shutdown_grace: Duration::from_secs(2),
            ..Config::default()
        })
        .await;
        let receiver = Receiver::start().await;
        let acme = echo_endpoint(&host, &receiver, json!({})).await;
        let first = host
            .accept("acme", "orders", "e0", r#"{"type":"t","n":0}"#)
            .await;
        host.wait_for(&acme, &first, DeliveryStatus::Succeeded, SOON)
            .await;

        let (status, paused) = act_on(&host, "orders", "pause").await;
        assert_eq!(status, 200, "{paused}");
        assert_eq!(paused["deliveries"], 0);
        let paused_at = paused["paused_at"].as_str().unwrap().to_owned();

        let mut waiting = Vec::new();
        for n in 1..=5 {
            let body = format!(r#"{{"type":"t","n":{n}}}"#);
            waiting.push(host.accept("acme", "orders", &format!("e{n}"), &body).await);
        }
        tokio::time::sleep(IDLE).await;
        for id in &waiting {
            assert_eq!(status_of(&host, &acme, id).await, DeliveryStatus::Paused);
        }
        assert_eq!(received(&receiver), [0], "nothing ran while paused");

        let (_, shown) = host
            .call(
                "GET",
                "/v1/tenants/acme/endpoints/orders",
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(shown["paused_at"], paused_at.as_str());
        let (_, again) = act_on(&host, "orders", "pause").await;
        assert_eq!(
            again["paused_at"],
            paused_at.as_str(),
            "pausing twice keeps the first time"
        );

        let (status, resumed) = act_on(&host, "orders", "resume").await;
        assert_eq!(status, 200, "{resumed}");
        assert_eq!(resumed["deliveries"], 5);
        assert_eq!(resumed["paused_at"], Value::Null);
        for id in &waiting {
            host.wait_for(&acme, id, DeliveryStatus::Succeeded, SOON)
                .await;
        }
        assert_eq!(received(&receiver), [0, 1, 2, 3, 4, 5]);

        let (status, _) = act_on(&host, "nope", "pause").await;
        assert_eq!(status, 404);
        host.stop().await;
    });
}

#[test]
fn pausing_sets_aside_what_was_waiting_and_what_a_host_accepts_before_it_hears_of_the_pause() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = echo_endpoint(&host, &receiver, json!({})).await;
        let orders = EndpointId::new("orders").unwrap();
        let first = host
            .accept("acme", "orders", "e0", r#"{"type":"t","n":0}"#)
            .await;
        host.wait_for(&acme, &first, DeliveryStatus::Succeeded, SOON)
            .await;

        // Paused in the store behind the server's back, as another host
        // would: this host's endpoint cache still says it runs, so it
        // accepts the next webhook as due, and its claim must set it aside.
        host.store
            .pause_endpoint(&acme, &orders, Timestamp::now())
            .await
            .unwrap()
            .expect("the endpoint exists");
        let raced = host
            .accept("acme", "orders", "e1", r#"{"type":"t","n":1}"#)
            .await;
        host.wait_for(&acme, &raced, DeliveryStatus::Paused, SOON)
            .await;
        assert!(host.attempts(&raced).await.is_empty());
        assert_eq!(received(&receiver), [0]);

        assert_eq!(
            host.store.resume_endpoint(&acme, &orders).await.unwrap(),
            Some(1)
        );
        host.wait_for(&acme, &raced, DeliveryStatus::Succeeded, SOON)
            .await;
        host.stop().await;
    });
}

#[test]
fn a_paused_endpoints_backlog_counts_against_the_tenants_queue_depth() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        echo_endpoint(&host, &receiver, json!({})).await;
        host.set_policy("acme", json!({ "max_queue_depth": 3 }))
            .await;
        let (status, _) = act_on(&host, "orders", "pause").await;
        assert_eq!(status, 200);
        for n in 0..3 {
            host.accept("acme", "orders", &format!("e{n}"), r#"{"type":"t"}"#)
                .await;
        }
        // Past the depth's refresh from the store, which must count the
        // paused deliveries: a paused endpoint is no way to store without
        // bound.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let refused = host
            .send(
                "acme",
                "orders",
                hookhost::domain::Provider::StandardWebhooks,
                hookhost_tests::host::SECRET,
                "e3",
                br#"{"type":"t"}"#,
            )
            .await;
        assert_eq!(refused.status(), 429);
        let problem: Value = refused.json().await.unwrap();
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("max_queue_depth"),
            "refused for its queue depth: {problem}"
        );

        // Deleting the paused endpoint lets its backlog go rather than hold
        // the tenant's depth for a resume that cannot come.
        let (status, _) = host
            .call(
                "DELETE",
                "/v1/tenants/acme/endpoints/orders",
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 204);
        let acme = TenantId::new("acme").unwrap();
        let all = DeliveryFilter {
            limit: 10,
            ..DeliveryFilter::default()
        };
        for d in host
            .store
            .list_deliveries(&acme, &all)
            .await
            .unwrap()
            .deliveries
        {
            let dead = host
                .wait_for(&acme, &d.id, DeliveryStatus::Dead, SOON)
                .await;
            assert!(dead.last_error.unwrap().contains("deleted"));
        }
        host.stop().await;
    });
}

async fn stored(host: &TestHost, tenant: &TenantId) -> usize {
    let all = DeliveryFilter {
        limit: 1_000,
        ..DeliveryFilter::default()
    };
    host.store
        .list_deliveries(tenant, &all)
        .await
        .unwrap()
        .deliveries
        .len()
}

#[test]
fn only_allowed_addresses_reach_an_endpoint_and_forwarded_ones_only_through_trusted_proxies() {
    block_on(async {
        let host = TestHost::start_with(Config {
            trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
            ip_sets: [(
                "partner".to_owned(),
                vec!["203.0.113.0/24".parse().unwrap()],
            )]
            .into(),
            shutdown_grace: Duration::from_secs(2),
            ..Config::default()
        })
        .await;
        let receiver = Receiver::start().await;
        let acme = echo_endpoint(
            &host,
            &receiver,
            json!({ "allowed_ips": ["@partner", "198.51.100.7"] }),
        )
        .await;

        assert_eq!(
            send_from(&host, "e1", None).await,
            403,
            "loopback is not allowed"
        );
        let spoofed = host
            .client
            .post(host.url("/hooks/acme/orders"))
            .header("forwarded", "for=203.0.113.9")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            spoofed.status(),
            403,
            "a Forwarded header is not what these proxies write (client_ip_header)"
        );
        assert_eq!(
            send_from(&host, "e1b", Some("203.0.113.9, garbage")).await,
            403
        );
        assert_eq!(send_from(&host, "e2", Some("203.0.113.9")).await, 202);
        assert_eq!(
            send_from(&host, "e3", Some("6.6.6.6, 198.51.100.7")).await,
            202
        );
        assert_eq!(
            send_from(&host, "e4", Some("203.0.113.9, 6.6.6.6")).await,
            403,
            "the hop the proxy added is the client; what the client wrote before it is not believed"
        );
        assert_eq!(
            stored(&host, &acme).await,
            2,
            "refused webhooks are not stored"
        );

        let mut request = host.client.post(host.url("/hooks/acme/orders")).body("{}");
        request = request.header("x-forwarded-for", "6.6.6.6");
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 403);
        let problem: Value = answer.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains("6.6.6.6"),
            "the refusal names the address it saw: {problem}"
        );
        host.stop().await;
    });
}

#[test]
fn forwarded_addresses_are_not_believed_from_a_peer_that_is_no_trusted_proxy() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        echo_endpoint(
            &host,
            &receiver,
            json!({ "allowed_ips": ["203.0.113.0/24"] }),
        )
        .await;
        assert_eq!(send_from(&host, "e1", Some("203.0.113.9")).await, 403);
        host.stop().await;
    });
}

#[test]
fn a_malformed_address_or_an_unknown_ip_set_is_refused_with_the_entry_named() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        let mut body = echo_spec(v, &receiver);
        body["allowed_ips"] = json!(["10.0.0.0/8", "example.com"]);
        let (status, answer) = put_endpoint(&host, "orders", body.clone()).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["errors"][0]["field"], "allowed_ips[1]", "{answer}");
        body["allowed_ips"] = json!(["10.0.0.0/8", "@nowhere"]);
        let (status, answer) = put_endpoint(&host, "orders", body).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["errors"][0]["field"], "allowed_ips[1]", "{answer}");
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("ip_sets")
        );
        host.stop().await;
    });
}

#[test]
fn an_endpoint_over_its_rate_limit_is_answered_429_and_its_tenants_other_endpoints_are_not() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = echo_endpoint(
            &host,
            &receiver,
            json!({ "rate_limit": { "rate": 2, "period": "minute" } }),
        )
        .await;
        let mut other = echo_spec(1, &receiver);
        other["rate_limit"] = json!({ "rate": 2, "period": "minute" });
        let (status, _) = put_endpoint(&host, "other", other).await;
        assert_eq!(status, 201);

        assert_eq!(send_from(&host, "e1", None).await, 202);
        assert_eq!(send_from(&host, "e2", None).await, 202);
        let refused = post_signed(&host, "orders", "e3", None).await;
        assert_eq!(refused.status(), 429);
        let retry_after: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (20..=30).contains(&retry_after),
            "2 a minute: {retry_after}"
        );
        let problem: Value = refused.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains("rate_limit"),
            "{problem}"
        );
        assert_eq!(
            stored(&host, &acme).await,
            2,
            "the refused webhook is not stored"
        );

        for n in 0..2 {
            let sent = post_signed(&host, "other", &format!("o{n}"), None).await;
            assert_eq!(sent.status(), 202, "each endpoint has a bucket of its own");
        }
        let metrics = reqwest::get(host.url("/metrics")).await.unwrap();
        let metrics = metrics.text().await.unwrap();
        assert!(
            metrics.contains(r#"outcome="endpoint_rate_limited""#),
            "counted in /metrics"
        );
        host.stop().await;
    });
}
