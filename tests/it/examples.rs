use hookhost::runtime::Outcome;
use hookhost_tests::projects::{GITHUB_TO_CHAT_PY, STRIPE_TO_SLACK_TS, loaded};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{Sandbox, block_on, event, fixture, load, log_text, plugins};
use serde_json::{Value, json};

#[test]
fn stripe_to_slack_posts_the_formatted_payment_to_slack_url_in_rust_and_typescript() {
    let typescript = loaded(STRIPE_TO_SLACK_TS);
    block_on(async {
        for plugin in [load(plugins::STRIPE_TO_SLACK).await, typescript] {
            let slack = Receiver::start().await;
            let sandbox = Sandbox::new()
                .await
                .config("slack_url", &slack.url("/services/T0/B0/xyz"))
                .reach(&slack);
            let event = event(
                fixture("stripe-to-slack", "payment_intent.succeeded.json"),
                Some("payment_intent.succeeded"),
            );
            let id = event.id.clone();
            let inv = sandbox.run(&plugin, event).await;
            assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));

            let requests = slack.requests();
            assert_eq!(requests.len(), 1);
            let request = &requests[0];
            assert_eq!(request.method, "POST");
            assert_eq!(request.path, "/services/T0/B0/xyz");
            assert_eq!(request.header("content-type"), Some("application/json"));
            assert_eq!(
                request.header("idempotency-key"),
                Some(format!("{id}:1").as_str())
            );
            assert_eq!(
                request.json(),
                json!({"text": "Payment received: 20.00 USD from cus_NffrFeUfNV2Hib (pi_3MtwBwLkdIwHu7ix28a3tqPa)"})
            );
        }
    })
}

#[test]
fn stripe_to_slack_ignores_other_event_types_without_calling_out_in_rust_and_typescript() {
    let typescript = loaded(STRIPE_TO_SLACK_TS);
    block_on(async {
        for plugin in [load(plugins::STRIPE_TO_SLACK).await, typescript] {
            let slack = Receiver::start().await;
            let sandbox = Sandbox::new()
                .await
                .config("slack_url", &slack.url("/"))
                .reach(&slack);
            let body = json!({"id": "evt_1", "type": "customer.created", "data": {"object": {}}});
            let inv = sandbox
                .run(&plugin, event(body.to_string(), Some("customer.created")))
                .await;
            assert_eq!(inv.outcome, Outcome::Ok);
            assert!(log_text(&inv).contains("ignoring customer.created"));
            assert!(slack.requests().is_empty());
        }
    })
}

/// The summary github-to-chat documents for each event type.
fn github_summary(event_type: &str, e: &Value) -> String {
    let repo = e["repository"]["full_name"].as_str().unwrap();
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    match event_type {
        "issues" => format!(
            "[{repo}] {} {} issue #{}: {} {}",
            s(&e["sender"]["login"]),
            s(&e["action"]),
            e["issue"]["number"],
            s(&e["issue"]["title"]),
            s(&e["issue"]["html_url"])
        ),
        "pull_request" => {
            let pr = &e["pull_request"];
            let verb = if e["action"] == "closed" && pr["merged"] == true {
                "merged".to_owned()
            } else {
                s(&e["action"])
            };
            format!(
                "[{repo}] {} {verb} pull request #{}: {} {}",
                s(&e["sender"]["login"]),
                pr["number"],
                s(&pr["title"]),
                s(&pr["html_url"])
            )
        }
        "push" => {
            let n = e["commits"].as_array().unwrap().len();
            format!(
                "[{repo}] {} pushed {n} {} to {}: {}",
                s(&e["pusher"]["name"]),
                if n == 1 { "commit" } else { "commits" },
                s(&e["ref"]).trim_start_matches("refs/heads/"),
                s(&e["compare"])
            )
        }
        other => panic!("no summary for {other}"),
    }
}

#[test]
fn github_to_chat_summarises_issues_pull_requests_and_pushes_in_rust_and_python() {
    let python = loaded(GITHUB_TO_CHAT_PY);
    block_on(async {
        for plugin in [load(plugins::GITHUB_TO_CHAT).await, python] {
            let chat = Receiver::start().await;
            let sandbox = Sandbox::new()
                .await
                .config("chat_url", &chat.url("/chat"))
                .reach(&chat);
            for (event_type, file) in [
                ("issues", "issues.json"),
                ("pull_request", "pull_request.json"),
                ("push", "push.json"),
            ] {
                let body = fixture("github-to-chat", file);
                let payload: Value = serde_json::from_slice(&body).unwrap();
                let inv = sandbox.run(&plugin, event(body, Some(event_type))).await;
                assert_eq!(inv.outcome, Outcome::Ok, "{event_type}: {}", log_text(&inv));
                let text = github_summary(event_type, &payload);
                let last = chat.requests().pop().unwrap();
                assert_eq!(
                    last.json(),
                    json!({"text": text, "content": text}),
                    "{event_type}"
                );
            }
            assert_eq!(chat.requests().len(), 3);
        }
    })
}

#[test]
fn shopify_fulfilment_is_requested_once_even_when_the_order_is_replayed() {
    block_on(async {
        let warehouse = Receiver::start().await;
        let plugin = load(plugins::SHOPIFY_ORDER_FULFILLMENT).await;
        let sandbox = Sandbox::new()
            .await
            .config("fulfillment_url", &warehouse.url("/fulfilments"))
            .reach(&warehouse);
        let body = fixture("shopify-order-fulfillment", "orders-create.json");
        let order: Value = serde_json::from_slice(&body).unwrap();
        let first = event(body, Some("orders/create"));
        let mut replay = first.clone();
        replay.attempt = 2;

        let inv = sandbox.run(&plugin, first).await;
        assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));
        let inv = sandbox.run(&plugin, replay).await;
        assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));
        assert!(inv.http_calls.is_empty(), "the replay must not post again");

        let requests = warehouse.requests();
        assert_eq!(requests.len(), 1);
        let a = &order["shipping_address"];
        let expected = json!({
            "order_id": order["id"],
            "order_number": order["order_number"],
            "email": order["email"],
            "line_items": order["line_items"].as_array().unwrap().iter()
                .map(|l| json!({"sku": l["sku"], "quantity": l["quantity"]}))
                .collect::<Vec<_>>(),
            "shipping_address": {
                "name": a["name"], "address1": a["address1"], "city": a["city"],
                "zip": a["zip"], "country_code": a["country_code"],
            },
        });
        assert_eq!(requests[0].json(), expected);
        let key = format!("order:{}", order["id"]);
        assert!(sandbox.kv(&key).await.is_some(), "{key} remembered");
    })
}

#[test]
fn shopify_fulfilment_is_retried_when_the_warehouse_fails() {
    block_on(async {
        let warehouse = Receiver::start().await;
        warehouse.respond_with(503);
        let plugin = load(plugins::SHOPIFY_ORDER_FULFILLMENT).await;
        let sandbox = Sandbox::new()
            .await
            .config("fulfillment_url", &warehouse.url("/fulfilments"))
            .reach(&warehouse);
        let body = fixture("shopify-order-fulfillment", "orders-create.json");
        let order: Value = serde_json::from_slice(&body).unwrap();
        let inv = sandbox
            .run(&plugin, event(body, Some("orders/create")))
            .await;
        assert!(
            matches!(inv.outcome, Outcome::Retry(_)),
            "{:?}",
            inv.outcome
        );
        let key = format!("order:{}", order["id"]);
        assert_eq!(
            sandbox.kv(&key).await,
            None,
            "a failed post is not remembered"
        );
    })
}

#[test]
fn event_counter_counts_per_type_and_per_day() {
    block_on(async {
        let plugin = load(plugins::EVENT_COUNTER).await;
        let sandbox = Sandbox::new().await;
        let body = fixture("event-counter", "event.json");
        for event_type in ["invoice.paid", "invoice.paid", "invoice.created"] {
            let mut event = event(body.clone(), Some(event_type));
            event.received_at_ms = 1_763_890_000_000; // 2025-11-23T09:26:40Z
            let inv = sandbox.run(&plugin, event).await;
            assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));
            assert!(inv.http_calls.is_empty());
        }
        assert_eq!(sandbox.kv("count:invoice.paid").await.as_deref(), Some("2"));
        assert_eq!(
            sandbox.kv("count:invoice.created").await.as_deref(),
            Some("1")
        );
        assert_eq!(
            sandbox.kv("day:2025-11-23:invoice.paid").await.as_deref(),
            Some("2")
        );
        assert_eq!(sandbox.kv("total").await.as_deref(), Some("3"));
    })
}
