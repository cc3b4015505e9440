//! The admin API over HTTP: tenant isolation on every route, validation
//! errors, uploads, deliveries, KV, metrics and the OpenAPI document.

use std::collections::BTreeSet;
use std::time::Duration;

use hookhost::ids::{DeliveryId, TenantId};
use hookhost::store::DeliveryStatus;
use hookhost_tests::host::{OPERATOR_TOKEN, SECRET, TestHost};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{block_on, plugins};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(10);

fn endpoint_body(plugin: &str, receiver: Option<&Receiver>) -> Value {
    let mut body = json!({
        "provider": "standard-webhooks",
        "secrets": [SECRET],
        "plugin": plugin,
        "retry": { "max_attempts": 2, "schedule_s": [1] },
    });
    if let Some(r) = receiver {
        body["config"] = json!({ "url": r.url("/hook") });
        body["allowed_hosts"] = json!([format!("127.0.0.1:{}", r.addr.port())]);
        body["allow_private_network"] = json!(true);
    }
    body
}

/// A tenant set up through the API: key, plugin `echo` v1, endpoint
/// `orders`, a spare endpoint, and one succeeded delivery.
struct Fixture {
    key: String,
    delivery: DeliveryId,
}

async fn fixture(host: &TestHost, tenant: &str, receiver: &Receiver) -> Fixture {
    let key = host.create_tenant(tenant).await;
    // The receiver is on loopback, which only the operator can open up.
    host.set_policy(tenant, json!({ "allow_private_network": true }))
        .await;
    let (status, body) = host
        .upload(&key, tenant, "echo", std::fs::read(plugins::ECHO).unwrap())
        .await;
    assert_eq!(status, 201, "{body}");
    for endpoint in ["orders", "spare"] {
        let (status, body) = host
            .call(
                "PUT",
                &format!("/v1/tenants/{tenant}/endpoints/{endpoint}"),
                Some(&key),
                Some(endpoint_body("echo", Some(receiver))),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let delivery = host.accept(tenant, "orders", "evt_1", "{}").await;
    host.wait_for(
        &TenantId::new(tenant).unwrap(),
        &delivery,
        DeliveryStatus::Succeeded,
        SOON,
    )
    .await;
    Fixture { key, delivery }
}

/// Every tenant-scoped route, with the status the tenant itself (or the
/// operator) gets.
fn routes(tenant: &str, delivery: &DeliveryId) -> Vec<(&'static str, String, Option<Value>, u16)> {
    let t = format!("/v1/tenants/{tenant}");
    vec![
        ("GET", t.clone(), None, 200),
        ("GET", format!("{t}/plugins"), None, 200),
        ("GET", format!("{t}/plugins/echo/versions"), None, 200),
        ("GET", format!("{t}/plugins/echo/versions/1"), None, 200),
        ("DELETE", format!("{t}/plugins/echo/versions/1"), None, 409),
        ("GET", format!("{t}/endpoints"), None, 200),
        ("GET", format!("{t}/endpoints/orders"), None, 200),
        (
            "PUT",
            format!("{t}/endpoints/orders"),
            Some(endpoint_body("echo", None)),
            200,
        ),
        (
            "POST",
            format!("{t}/endpoints/orders/replay-dead"),
            None,
            200,
        ),
        ("GET", format!("{t}/deliveries"), None, 200),
        ("GET", format!("{t}/deliveries/{delivery}"), None, 200),
        (
            "POST",
            format!("{t}/deliveries/{delivery}/replay"),
            None,
            202,
        ),
        ("GET", format!("{t}/kv/echo/keys"), None, 200),
        ("DELETE", format!("{t}/endpoints/spare"), None, 204),
        ("POST", format!("{t}/api-key"), None, 200),
    ]
}

#[test]
fn every_route_is_isolated_per_tenant_and_needs_a_valid_token() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = fixture(&host, "acme", &receiver).await;
        let rival = fixture(&host, "rival", &receiver).await;

        // Without a token, or with a wrong one: 401 everywhere.
        let mut all = routes("acme", &acme.delivery);
        all.push(("GET", "/v1/tenants".into(), None, 200));
        all.push(("POST", "/v1/tenants".into(), Some(json!({"id": "x"})), 201));
        for (method, path, body, _) in &all {
            for token in [None, Some("hh_key_wrong")] {
                let (status, answer) = host.call(method, path, token, body.clone()).await;
                assert_eq!(status, 401, "{method} {path} with {token:?}: {answer}");
                assert!(answer["detail"].as_str().unwrap().contains("Bearer"));
            }
        }

        // Another tenant's key: 404, worded exactly as for a tenant that does not exist.
        for (method, path, body, _) in routes("acme", &acme.delivery) {
            let (status, answer) = host.call(method, &path, Some(&rival.key), body).await;
            assert_eq!(status, 404, "{method} {path} with rival's key: {answer}");
            assert_eq!(answer["detail"], "no tenant acme", "{method} {path}");
        }
        // Even rival's own delivery id under acme's path is 404.
        let (status, _) = host
            .call(
                "GET",
                &format!("/v1/tenants/acme/deliveries/{}", rival.delivery),
                Some(&acme.key),
                None,
            )
            .await;
        assert_eq!(status, 404);

        // The tenant's own key reaches all of its own routes.
        for (method, path, body, expected) in routes("acme", &acme.delivery) {
            let (status, answer) = host.call(method, &path, Some(&acme.key), body).await;
            assert_eq!(
                status, expected,
                "{method} {path} with acme's key: {answer}"
            );
        }
        // ...and the key it just rotated no longer works.
        let (status, _) = host
            .call("GET", "/v1/tenants/acme", Some(&acme.key), None)
            .await;
        assert_eq!(status, 401, "the rotated-away key is dead");

        // The operator reaches every tenant's routes.
        for (method, path, body, expected) in routes("rival", &rival.delivery) {
            let (status, answer) = host.call(method, &path, Some(OPERATOR_TOKEN), body).await;
            assert_eq!(status, expected, "{method} {path} as operator: {answer}");
        }

        // Operator-only routes refuse a tenant key with 403, listing shows only itself.
        let (status, answer) = host
            .call("GET", "/v1/tenants", Some(&rival.key), None)
            .await;
        assert_eq!(
            status, 401,
            "rival's key was rotated by the operator: {answer}"
        );
        let fresh = host
            .call(
                "POST",
                "/v1/tenants/rival/api-key",
                Some(OPERATOR_TOKEN),
                None,
            )
            .await
            .1["api_key"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, listed) = host.call("GET", "/v1/tenants", Some(&fresh), None).await;
        assert_eq!(listed["tenants"].as_array().unwrap().len(), 1);
        assert_eq!(listed["tenants"][0]["id"], "rival");
        let (_, all_tenants) = host
            .call("GET", "/v1/tenants", Some(OPERATOR_TOKEN), None)
            .await;
        assert_eq!(all_tenants["tenants"].as_array().unwrap().len(), 2);
        for (method, path, body) in [
            ("POST", "/v1/tenants", Some(json!({"id": "new"}))),
            ("DELETE", "/v1/tenants/rival", None),
        ] {
            let (status, answer) = host.call(method, path, Some(&fresh), body).await;
            assert_eq!(status, 403, "{method} {path}: {answer}");
        }
        let (status, _) = host
            .call("DELETE", "/v1/tenants/rival", Some(OPERATOR_TOKEN), None)
            .await;
        assert_eq!(status, 204);
        let (status, _) = host
            .call("GET", "/v1/tenants/rival", Some(OPERATOR_TOKEN), None)
            .await;
        assert_eq!(status, 404);
        host.stop().await;
    });
}

#[test]
fn endpoint_requests_are_validated_with_one_error_per_field() {
    block_on(async {
        let host = TestHost::start().await;
        let key = host.create_tenant("acme").await;
        host.upload(&key, "acme", "echo", std::fs::read(plugins::ECHO).unwrap())
            .await;
        let put = |body: Value| {
            let key = key.clone();
            let host = &host;
            async move {
                host.call(
                    "PUT",
                    "/v1/tenants/acme/endpoints/e",
                    Some(&key),
                    Some(body),
                )
                .await
            }
        };

        let (status, answer) = put(json!({"provider": "svix", "plugin": "echo"})).await;
        assert_eq!(status, 422);
        assert_eq!(answer["errors"][0]["field"], "provider");
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("stripe")
        );

        let (status, answer) =
            put(json!({"provider": "github", "secrets": ["s"], "plugin": "echo", "colour": 1}))
                .await;
        assert_eq!(status, 422);
        assert!(
            answer["detail"].as_str().unwrap().contains("colour"),
            "{answer}"
        );

        let (status, answer) = put(json!({
            "provider": "github", "secrets": ["s"], "plugin": "echo",
            "limits": {"timeout_ms": -5}
        }))
        .await;
        assert_eq!(status, 422);
        assert_eq!(
            answer["errors"][0]["field"], "limits.timeout_ms",
            "{answer}"
        );

        let (status, answer) = put(json!({
            "provider": "standard-webhooks",
            "secrets": ["not-base64!"],
            "plugin": "echo",
            "plugin_version": 7,
            "allowed_hosts": ["api.example.com", "http://evil/path"],
            "limits": {"memory_mb": 0},
            "retry": {"max_attempts": 0},
        }))
        .await;
        assert_eq!(status, 422);
        let fields: BTreeSet<&str> = answer["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            BTreeSet::from([
                "secrets[0]",
                "allowed_hosts[1]",
                "limits.memory_mb",
                "retry",
                "plugin_version"
            ]),
            "{answer}"
        );
        assert!(
            !answer.to_string().contains("not-base64!"),
            "secret echoed: {answer}"
        );

        let (status, answer) =
            put(json!({"provider": "stripe", "plugin": "nothing", "secrets": ["whsec_x"]})).await;
        assert_eq!(status, 422);
        assert_eq!(answer["errors"][0]["field"], "plugin");
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("upload")
        );
        host.stop().await;
    });
}

#[test]
fn uploads_are_numbered_validated_and_bound_versions_cannot_be_deleted() {
    block_on(async {
        let host = TestHost::start().await;
        let key = host.create_tenant("acme").await;
        let (status, answer) = host
            .upload(&key, "acme", "h", b"not a component".to_vec())
            .await;
        assert_eq!(status, 422);
        assert!(
            answer["detail"]
                .as_str()
                .unwrap()
                .contains("not a WebAssembly binary"),
            "{answer}"
        );
        let (status, answer) = host
            .upload(
                &key,
                "acme",
                "h",
                std::fs::read(plugins::NO_HANDLER).unwrap(),
            )
            .await;
        assert_eq!(status, 422);
        assert!(
            answer["detail"].as_str().unwrap().contains("handle"),
            "{answer}"
        );

        for expected in [1, 2] {
            let (status, answer) = host
                .upload(&key, "acme", "h", std::fs::read(plugins::NOOP).unwrap())
                .await;
            assert_eq!(status, 201);
            assert_eq!(answer["version"], expected);
            assert!(answer["digest"].as_str().unwrap().starts_with("sha256:"));
            assert!(answer["size"].as_u64().unwrap() > 0);
        }
        let mut body = endpoint_body("h", None);
        body["plugin_version"] = json!(1);
        let (status, answer) = host
            .call(
                "PUT",
                "/v1/tenants/acme/endpoints/e",
                Some(&key),
                Some(body),
            )
            .await;
        assert_eq!(status, 201);
        assert_eq!(answer["plugin_version"], 1);
        assert_eq!(
            answer["secrets"][0], "…LaSw",
            "only the last four characters"
        );
        assert_eq!(
            answer["inbound_url"],
            host.url("/hooks/acme/e"),
            "the endpoint says where to send"
        );

        let (status, answer) = host
            .call(
                "DELETE",
                "/v1/tenants/acme/plugins/h/versions/1",
                Some(&key),
                None,
            )
            .await;
        assert_eq!(status, 409);
        assert!(answer["detail"].as_str().unwrap().contains("endpoint(s) e"));
        let (status, _) = host
            .call(
                "DELETE",
                "/v1/tenants/acme/plugins/h/versions/2",
                Some(&key),
                None,
            )
            .await;
        assert_eq!(status, 204);

        // Omitting plugin_version binds the latest at the time of the PUT.
        host.upload(&key, "acme", "h", std::fs::read(plugins::NOOP).unwrap())
            .await;
        let (status, answer) = host
            .call(
                "PUT",
                "/v1/tenants/acme/endpoints/e",
                Some(&key),
                Some(endpoint_body("h", None)),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(answer["plugin_version"], 3);
        host.stop().await;
    });
}

#[test]
fn deliveries_are_listed_filtered_paged_inspected_and_replayed() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let key = host.create_tenant("acme").await;
        host.set_policy("acme", json!({ "allow_private_network": true }))
            .await;
        host.upload(&key, "acme", "echo", std::fs::read(plugins::ECHO).unwrap())
            .await;
        host.upload(
            &key,
            "acme",
            "flaky",
            std::fs::read(plugins::FLAKY).unwrap(),
        )
        .await;
        host.call(
            "PUT",
            "/v1/tenants/acme/endpoints/orders",
            Some(&key),
            Some(endpoint_body("echo", Some(&receiver))),
        )
        .await;
        let mut dead = endpoint_body("flaky", None);
        dead["config"] = json!({"reject": "yes"});
        host.call(
            "PUT",
            "/v1/tenants/acme/endpoints/dead",
            Some(&key),
            Some(dead),
        )
        .await;
        let acme = TenantId::new("acme").unwrap();
        let mut ids = Vec::new();
        for i in 0..5 {
            let id = host
                .accept(
                    "acme",
                    "orders",
                    &format!("o{i}"),
                    &format!("{{\"n\":{i}}}"),
                )
                .await;
            host.wait_for(&acme, &id, DeliveryStatus::Succeeded, SOON)
                .await;
            ids.push(id);
        }
        let binary = host
            .send(
                "acme",
                "orders",
                hookhost::domain::Provider::StandardWebhooks,
                SECRET,
                "bin",
                &[0xff, 0x00, 0xfe],
            )
            .await;
        let binary = hookhost_tests::host::delivery_id(&binary.text().await.unwrap());
        host.wait_for(&acme, &binary, DeliveryStatus::Succeeded, SOON)
            .await;
        let gone = host.accept("acme", "dead", "d1", "{}").await;
        host.wait_for(&acme, &gone, DeliveryStatus::Dead, SOON)
            .await;

        // Paging: 2 at a time, newest first, all seven seen once.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/tenants/acme/deliveries?limit=2&cursor={c}"),
                None => "/v1/tenants/acme/deliveries?limit=2".into(),
            };
            let (status, page) = host.call("GET", &path, Some(&key), None).await;
            assert_eq!(status, 200, "{page}");
            for d in page["deliveries"].as_array().unwrap() {
                seen.push(d["id"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 7);
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted, "newest first");

        let (_, dead_only) = host
            .call(
                "GET",
                "/v1/tenants/acme/deliveries?status=dead",
                Some(&key),
                None,
            )
            .await;
        assert_eq!(dead_only["deliveries"].as_array().unwrap().len(), 1);
        assert_eq!(dead_only["deliveries"][0]["id"], gone.as_str());
        let (_, by_endpoint) = host
            .call(
                "GET",
                "/v1/tenants/acme/deliveries?endpoint=orders",
                Some(&key),
                None,
            )
            .await;
        assert_eq!(by_endpoint["deliveries"].as_array().unwrap().len(), 6);
        let (_, future) = host
            .call(
                "GET",
                "/v1/tenants/acme/deliveries?since=2999-01-01T00:00:00Z",
                Some(&key),
                None,
            )
            .await;
        assert!(future["deliveries"].as_array().unwrap().is_empty());
        let (status, bad) = host
            .call(
                "GET",
                "/v1/tenants/acme/deliveries?status=lost&since=yesterday&limit=0",
                Some(&key),
                None,
            )
            .await;
        assert_eq!(status, 422);
        assert_eq!(bad["errors"].as_array().unwrap().len(), 3, "{bad}");
        let (status, bad) = host
            .call(
                "GET",
                "/v1/tenants/acme/deliveries/..%2F..%2Fsettings?cursor=%00",
                Some(&key),
                None,
            )
            .await;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(bad["errors"][0]["field"], "id", "{bad}");
        let (status, bad) = host
            .call(
                "GET",
                "/v1/tenants/acme/deliveries?cursor=not-a-delivery",
                Some(&key),
                None,
            )
            .await;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(bad["errors"][0]["field"], "cursor", "{bad}");

        let (_, one) = host
            .call(
                "GET",
                &format!("/v1/tenants/acme/deliveries/{}", ids[0]),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(one["body"], "{\"n\":0}");
        assert_eq!(one["body_encoding"], "utf8");
        assert_eq!(one["event_id"], "o0");
        assert_eq!(one["attempts"][0]["outcome"], "ok");
        assert_eq!(one["attempts"][0]["http_calls"][0]["status"], 200);
        assert!(
            one["headers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h[0] == "webhook-id")
        );
        let (_, bin) = host
            .call(
                "GET",
                &format!("/v1/tenants/acme/deliveries/{binary}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(bin["body_encoding"], "base64");
        assert_eq!(bin["body"], "/wD+");

        let (status, _) = host
            .call(
                "POST",
                &format!("/v1/tenants/acme/deliveries/{}/replay", ids[0]),
                Some(&key),
                Some(json!({"plugin_version": 9})),
            )
            .await;
        assert_eq!(status, 422, "no such version");
        let (status, _) = host
            .call(
                "POST",
                &format!("/v1/tenants/acme/deliveries/{}/replay", ids[0]),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(status, 202);
        host.wait_for(&acme, &ids[0], DeliveryStatus::Succeeded, SOON)
            .await;
        let started = std::time::Instant::now();
        while host.attempts(&ids[0]).await.len() < 2 {
            assert!(started.elapsed() < SOON);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let (status, replayed) = host
            .call(
                "POST",
                "/v1/tenants/acme/endpoints/dead/replay-dead",
                Some(&key),
                None,
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(replayed["replayed"], 1);
        let started = std::time::Instant::now();
        while host.attempts(&gone).await.len() < 2 {
            assert!(started.elapsed() < SOON);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        host.stop().await;
    });
}

#[test]
fn kv_written_by_a_delivery_is_readable_through_the_api() {
    block_on(async {
        let host = TestHost::start().await;
        let key = host.create_tenant("acme").await;
        host.upload(
            &key,
            "acme",
            "counter",
            std::fs::read(plugins::EVENT_COUNTER).unwrap(),
        )
        .await;
        host.call(
            "PUT",
            "/v1/tenants/acme/endpoints/e",
            Some(&key),
            Some(endpoint_body("counter", None)),
        )
        .await;
        let acme = TenantId::new("acme").unwrap();
        for i in 0..3 {
            let id = host
                .accept("acme", "e", &format!("k{i}"), r#"{"type":"invoice.paid"}"#)
                .await;
            host.wait_for(&acme, &id, DeliveryStatus::Succeeded, SOON)
                .await;
        }
        let (status, keys) = host
            .call("GET", "/v1/tenants/acme/kv/counter/keys", Some(&key), None)
            .await;
        assert_eq!(status, 200);
        let keys: Vec<&str> = keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        let by_type = keys
            .iter()
            .find(|k| k.contains("invoice.paid"))
            .expect("a counter per type");
        let (status, value) = host
            .call(
                "GET",
                &format!("/v1/tenants/acme/kv/counter/keys/{by_type}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(status, 200, "{value}");
        assert_eq!(value["value"], "3");
        host.stop().await;
    });
}

#[test]
fn probes_and_metrics_report_the_server_state() {
    block_on(async {
        let host = TestHost::start().await;
        let key = host.create_tenant("acme").await;
        host.upload(&key, "acme", "noop", std::fs::read(plugins::NOOP).unwrap())
            .await;
        host.call(
            "PUT",
            "/v1/tenants/acme/endpoints/e",
            Some(&key),
            Some(endpoint_body("noop", None)),
        )
        .await;
        let id = host.accept("acme", "e", "m1", "{}").await;
        host.wait_for(
            &TenantId::new("acme").unwrap(),
            &id,
            DeliveryStatus::Succeeded,
            SOON,
        )
        .await;
        host.send(
            "acme",
            "e",
            hookhost::domain::Provider::StandardWebhooks,
            "whsec_d3Jvbmc=",
            "m2",
            b"{}",
        )
        .await;

        for action in ["pause", "resume"] {
            let path = format!("/v1/tenants/acme/endpoints/e/{action}");
            let (status, _) = host.call("POST", &path, Some(&key), None).await;
            assert_eq!(status, 200, "{action}");
        }
        let path = format!("/v1/tenants/acme/deliveries/{id}/replay");
        let (status, answer) = host.call("POST", &path, Some(&key), None).await;
        assert_eq!(status, 202, "{answer}");

        for probe in ["/healthz", "/readyz"] {
            let response = host.client.get(host.url(probe)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{probe}");
        }
        let text = host.metrics().await;
        for needle in [
            r#"hookhost_ingress_total{provider="standard-webhooks",outcome="accepted"}"#,
            r#"hookhost_ingress_total{provider="standard-webhooks",outcome="unauthorized"}"#,
            r#"hookhost_invocations_total{outcome="ok"}"#,
            "hookhost_invocation_duration_seconds_bucket",
            "hookhost_queue_depth",
            r#"hookhost_endpoint_pauses_total{action="pause"}"#,
            r#"hookhost_endpoint_pauses_total{action="resume"}"#,
            r#"hookhost_replays_total{kind="one"}"#,
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        host.stop().await;
    });
}

#[test]
fn every_schema_the_openapi_document_refers_to_is_in_it() {
    block_on(async {
        let host = TestHost::start().await;
        let (_, doc) = host.call("GET", "/openapi.json", None, None).await;
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut refs = Vec::new();
        let mut stack = vec![&doc];
        while let Some(value) = stack.pop() {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                        refs.push(target.clone());
                    }
                    stack.extend(map.values());
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        assert!(!refs.is_empty());
        let dangling: Vec<&String> = refs
            .iter()
            .filter(|r| {
                r.strip_prefix("#/components/schemas/")
                    .is_none_or(|name| !schemas.contains_key(name))
            })
            .collect();
        assert!(dangling.is_empty(), "unresolved: {dangling:?}");
        let spec = &schemas["EndpointSpec"]["properties"];
        assert_eq!(spec["allowed_hosts"]["items"]["type"], "string", "{spec}");
    })
}

#[test]
fn the_openapi_document_lists_every_route_the_router_serves() {
    block_on(async {
        let host = TestHost::start().await;
        let (status, doc) = host.call("GET", "/openapi.json", None, None).await;
        assert_eq!(status, 200);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut listed = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    listed.insert(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
        let expected: BTreeSet<String> = [
            "POST /hooks/{tenant}/{endpoint}",
            "GET /v1/tenants",
            "POST /v1/tenants",
            "GET /v1/tenants/{tenant}",
            "DELETE /v1/tenants/{tenant}",
            "POST /v1/tenants/{tenant}/api-key",
            "GET /v1/tenants/{tenant}/plugins",
            "GET /v1/tenants/{tenant}/plugins/{name}/versions",
            "POST /v1/tenants/{tenant}/plugins/{name}/versions",
            "GET /v1/tenants/{tenant}/plugins/{name}/versions/{version}",
            "DELETE /v1/tenants/{tenant}/plugins/{name}/versions/{version}",
            "GET /v1/tenants/{tenant}/endpoints",
            "GET /v1/tenants/{tenant}/endpoints/{endpoint}",
            "PUT /v1/tenants/{tenant}/endpoints/{endpoint}",
            "GET /v1/tenants/{tenant}/policy",
            "PUT /v1/tenants/{tenant}/policy",
            "DELETE /v1/tenants/{tenant}/endpoints/{endpoint}",
            "POST /v1/tenants/{tenant}/endpoints/{endpoint}/replay-dead",
            "POST /v1/tenants/{tenant}/endpoints/{endpoint}/pause",
            "POST /v1/tenants/{tenant}/endpoints/{endpoint}/resume",
            "GET /v1/tenants/{tenant}/deliveries",
            "GET /v1/tenants/{tenant}/deliveries/{id}",
            "POST /v1/tenants/{tenant}/deliveries/{id}/replay",
            "GET /v1/tenants/{tenant}/replays",
            "POST /v1/tenants/{tenant}/replays",
            "GET /v1/tenants/{tenant}/replays/{id}",
            "POST /v1/tenants/{tenant}/replays/{id}/cancel",
            "GET /v1/tenants/{tenant}/alert-destinations",
            "GET /v1/tenants/{tenant}/alert-destinations/{name}",
            "PUT /v1/tenants/{tenant}/alert-destinations/{name}",
            "DELETE /v1/tenants/{tenant}/alert-destinations/{name}",
            "GET /v1/tenants/{tenant}/alerts",
            "PUT /v1/tenants/{tenant}/endpoints/{endpoint}/secrets/{name}",
            "DELETE /v1/tenants/{tenant}/endpoints/{endpoint}/secrets/{name}",
            "GET /v1/tenants/{tenant}/kv/{plugin}/keys",
            "GET /v1/tenants/{tenant}/kv/{plugin}/keys/{key}",
            "GET /healthz",
            "GET /readyz",
            "GET /metrics",
            "GET /openapi.json",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(listed, expected);

        // Each listed route is really served: none answers the router's 404/405.
        for route in &listed {
            let (method, path) = route.split_once(' ').unwrap();
            let path = path
                .replace("{tenant}", "acme")
                .replace("{endpoint}", "e")
                .replace("{name}", "p")
                .replace("{version}", "1")
                .replace("{id}", "d")
                .replace("{plugin}", "p")
                .replace("{key}", "k");
            let response = host
                .client
                .request(method.parse().unwrap(), host.url(&path))
                .send()
                .await
                .unwrap();
            let unrouted = response.status() == 405
                || (response.status() == 404 && response.headers().get("content-type").is_none());
            assert!(
                !unrouted,
                "{route} is listed but not served ({})",
                response.status()
            );
        }
        host.stop().await;
    });
}
