//! Plugin secrets: what `secret::get` answers, and their values kept out of
//! everything an attempt records while the receiver gets them as they are.

use std::time::{Duration, Instant};

use hookhost::domain::RetryPolicy;
use hookhost::runtime::Outcome;
use hookhost::store::DeliveryStatus;
use hookhost_tests::host::{OPERATOR_TOKEN, TestHost, spec};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{Sandbox, block_on, cli_test, event, hookhost, load, log_text, plugins};
use serde_json::json;

/// The value of secret `api_key` in these tests.
const KEY: &str = "sk_live_51HqLyjWDarjtT1zdp7dc";

async fn granted(receiver: &Receiver) -> Sandbox {
    Sandbox::new()
        .await
        .config("url", &receiver.url("/hook"))
        .reach(receiver)
        .secret("api_key", KEY)
}

#[test]
fn a_granted_secret_reaches_the_receiver_and_another_name_finds_nothing() {
    block_on(async {
        let receiver = Receiver::start().await;
        let plugin = load(plugins::SECRET_USER).await;
        let inv = granted(&receiver)
            .await
            .run(&plugin, event("{}", None))
            .await;

        assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));
        let requests = receiver.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(
            requests[0].header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert!(
            log_text(&inv).contains("info other secret present: false"),
            "{}",
            log_text(&inv)
        );
    })
}

#[test]
fn an_endpoint_without_secrets_gives_the_plugin_none() {
    block_on(async {
        let plugin = load(plugins::SECRET_USER).await;
        let inv = Sandbox::new().await.run(&plugin, event("{}", None)).await;
        assert_eq!(
            inv.outcome,
            Outcome::Reject("secret api_key not set".into())
        );
    })
}

#[test]
fn the_record_names_the_secret_wherever_the_plugin_put_its_value() {
    block_on(async {
        let receiver = Receiver::start().await;
        let plugin = load(plugins::SECRET_USER).await;
        let inv = granted(&receiver)
            .await
            .config("fail", "yes")
            .run(&plugin, event("{}", None))
            .await;

        assert_eq!(
            inv.outcome,
            Outcome::Retry("failed with [secret api_key]".into())
        );
        let logs = log_text(&inv);
        for line in [
            "info sent with [secret api_key]\n",
            "stdout stdout has [secret api_key]\n",
            "stderr stderr has [secret api_key]\n",
        ] {
            assert!(logs.contains(line), "{line:?} not in {logs}");
        }
        assert_eq!(
            inv.http_calls[0].url,
            format!("{}?key=[secret api_key]", receiver.url("/hook"))
        );
        assert_eq!(inv.http_calls[1].url, "http://bad host/[secret api_key]");
        let error = inv.http_calls[1].error.as_deref().unwrap();
        assert!(
            error.starts_with("invalid request: the url is invalid") && !error.contains("bad host"),
            "the URL is recorded beside the error, not quoted in it: {error}"
        );
        let record = serde_json::to_string(&inv).unwrap();
        assert!(!record.contains(KEY), "{record}");
        assert_eq!(
            receiver.requests()[0].header("authorization"),
            Some(format!("Bearer {KEY}").as_str()),
            "the receiver still gets the value"
        );
    })
}

#[test]
fn a_delivery_sends_the_value_set_through_the_api_and_its_record_shows_only_the_name() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = host.tenant("acme").await;
        let v = host
            .plugin(&acme, "secret-user", plugins::SECRET_USER)
            .await;
        let mut spec = spec("secret-user", v, Some(&receiver));
        spec.config.insert("fail".into(), "yes".into());
        spec.retry = RetryPolicy {
            max_attempts: 1,
            schedule_s: Vec::new(),
        };
        host.endpoint(&acme, "orders", &spec).await;
        let (status, answer) = host
            .call(
                "PUT",
                "/v1/tenants/acme/endpoints/orders/secrets/api_key",
                Some(OPERATOR_TOKEN),
                Some(json!({ "value": KEY })),
            )
            .await;
        assert_eq!(status, 201, "{answer}");

        let id = host.accept("acme", "orders", "msg_1", "{}").await;
        let dead = host
            .wait_for(&acme, &id, DeliveryStatus::Dead, Duration::from_secs(10))
            .await;

        assert_eq!(
            receiver.requests()[0].header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(
            dead.last_error.as_deref(),
            Some("failed with [secret api_key]")
        );
        let (status, shown) = host
            .call(
                "GET",
                &format!("/v1/tenants/acme/deliveries/{id}"),
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 200, "{shown}");
        let shown = shown.to_string();
        assert!(!shown.contains(KEY), "{shown}");
        for named in [
            "sent with [secret api_key]",
            "stdout has [secret api_key]",
            "?key=[secret api_key]",
        ] {
            assert!(shown.contains(named), "{named:?} not in {shown}");
        }
        host.stop().await;
    })
}

#[test]
fn a_secret_in_a_panic_message_is_named_in_the_trap() {
    block_on(async {
        let plugin = load(plugins::PANIC).await;
        let sandbox = Sandbox::new().await.secret("api_key", KEY);
        let mut event = event("{}", None);
        // The plugin panics with the event's id.
        event.id = KEY.into();
        let inv = sandbox.run(&plugin, event).await;
        match &inv.outcome {
            Outcome::Trap(m) => {
                assert!(m.contains("handler exploded: [secret api_key]"), "{m}");
                assert!(!m.contains(KEY), "{m}");
            }
            other => panic!("expected a trap, got {other:?}"),
        }
        assert!(!log_text(&inv).contains(KEY), "{}", log_text(&inv));
    })
}

#[test]
fn a_secret_name_of_a_mebibyte_is_looked_up_like_any_other_and_found_absent() {
    block_on(async {
        let plugin = load(plugins::HOSTILE).await;
        let sandbox = Sandbox::new()
            .await
            .config("attack", "huge-secret-name")
            .secret("api_key", KEY);
        let started = Instant::now();
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        assert_eq!(
            inv.outcome,
            Outcome::Reject("a 1 MiB secret name found: false".into())
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    })
}

#[test]
fn plugin_test_takes_secrets_and_prints_their_names_only() {
    cli_test(async {
        let receiver = Receiver::start().await;
        let dir = tempfile::tempdir().unwrap();
        let event_file = dir.path().join("event.json");
        std::fs::write(&event_file, "{}").unwrap();
        let (code, stdout, stderr) = hookhost(
            dir.path(),
            &[
                "plugin",
                "test",
                plugins::SECRET_USER,
                "--event",
                event_file.to_str().unwrap(),
                "--config",
                &format!("url={}", receiver.url("/hook")),
                "--secret",
                &format!("api_key={KEY}"),
                "--allow-host",
                &format!("127.0.0.1:{}", receiver.addr.port()),
                "--allow-private-network",
            ],
        )
        .await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains("sent with [secret api_key]"), "{stdout}");
        assert!(!stdout.contains(KEY), "{stdout}");
        assert_eq!(
            receiver.requests()[0].header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    })
}

#[test]
fn plugin_test_refuses_a_secret_shorter_than_a_server_accepts() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let (code, _, stderr) = hookhost(
            dir.path(),
            &[
                "plugin",
                "test",
                plugins::SECRET_USER,
                "--event",
                "event.json",
                "--secret",
                "api_key=short",
            ],
        )
        .await;
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("at least 8"), "{stderr}");
    })
}

#[test]
fn the_most_and_longest_secrets_a_tenant_may_set_cost_an_invocation_little() {
    block_on(async {
        let receiver = Receiver::start().await;
        let plugin = load(plugins::SECRET_USER).await;
        // As many values as an endpoint may hold, each as long as it may be,
        // sharing all but their last byte: the shape that makes a DFA of
        // them explode, and the plugin logs and prints one of them.
        let shared = "a".repeat(hookhost::domain::hard::PLUGIN_SECRET_BYTES - 1);
        let mut sandbox = granted(&receiver).await;
        for n in 0..hookhost::domain::hard::PLUGIN_SECRETS - 1 {
            sandbox = sandbox.secret(
                &format!("s{n}"),
                &format!("{shared}{}", char::from(b'A' + n as u8)),
            );
        }
        let key = format!("{shared}z");
        let sandbox = sandbox.secret("api_key", &key);
        let started = Instant::now();
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        assert!(!log_text(&inv).contains(&key));
        assert!(log_text(&inv).contains("[secret api_key]"));
    })
}
