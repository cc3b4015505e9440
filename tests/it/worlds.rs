//! Both versions of the handler world: components built against the released
//! `hookhost:plugin@0.1.0` load and run beside those of the current 0.2.0.

use hookhost::runtime::{Outcome, RuntimeError, World};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{Sandbox, block_on, event, load, log_text, plugins, runtime};

#[test]
fn a_handler_built_against_the_released_0_1_0_world_loads_and_runs() {
    block_on(async {
        let receiver = Receiver::start().await;
        let plugin = load(plugins::WORLD_V0_1).await;
        assert_eq!(plugin.world(), World::V0_1);
        assert!(
            plugin
                .imports()
                .contains(&"hookhost:plugin/http-out@0.1.0".to_owned()),
            "{:?}",
            plugin.imports()
        );
        let sandbox = Sandbox::new()
            .await
            .config("url", &receiver.url("/old"))
            .reach(&receiver);

        let inv = sandbox.run(&plugin, event(r#"{"n":1}"#, None)).await;

        assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));
        assert!(
            log_text(&inv).contains("info 0.1.0 handler, run 1, 7 bytes"),
            "{}",
            log_text(&inv)
        );
        assert_eq!(sandbox.kv("runs").await.as_deref(), Some("1"));
        let requests = receiver.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(&requests[0].body[..], br#"{"n":1}"#);
        assert_eq!(requests[0].header("x-world"), Some("hookhost:plugin@0.1.0"));
        assert!(requests[0].header("idempotency-key").is_some());
        assert_eq!(inv.http_calls.len(), 1);
        assert_eq!(inv.http_calls[0].status, Some(200));
    })
}

#[test]
fn a_0_1_0_handlers_retry_and_reject_are_its_outcome() {
    block_on(async {
        let receiver = Receiver::start().await;
        let plugin = load(plugins::WORLD_V0_1).await;
        for (asked, outcome) in [
            ("retry", Outcome::Retry("status 200".into())),
            ("reject", Outcome::Reject("status 200".into())),
        ] {
            let sandbox = Sandbox::new()
                .await
                .config("url", &receiver.url("/old"))
                .config("outcome", asked)
                .reach(&receiver);
            let inv = sandbox.run(&plugin, event("{}", None)).await;
            assert_eq!(inv.outcome, outcome);
            assert_eq!(inv.retry_after_ms, None);
        }
    })
}

#[test]
fn a_0_1_0_handler_denied_a_call_gets_the_0_1_0_error() {
    block_on(async {
        let plugin = load(plugins::WORLD_V0_1).await;
        let sandbox = Sandbox::new()
            .await
            .config("url", "http://127.0.0.1:9/not-allowed");
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        match &inv.outcome {
            Outcome::Retry(m) => assert!(m.starts_with("Error::AccessDenied("), "{m}"),
            other => panic!("expected a retry, got {other:?}"),
        }
        assert_eq!(
            inv.http_calls[0].error.as_deref(),
            Some("access denied: 127.0.0.1:9 is not in this endpoint's allowed_hosts")
        );
    })
}

#[test]
fn handlers_built_with_the_sdk_are_of_the_current_world() {
    block_on(async {
        for path in [plugins::NOOP, plugins::SECRET_USER, plugins::EVENT_COUNTER] {
            assert_eq!(load(path).await.world(), World::V0_2, "{path}");
        }
    })
}

#[test]
fn a_handle_export_of_neither_world_is_refused_naming_both() {
    block_on(async {
        let wasm = std::fs::read(plugins::MISFIT_HANDLE).unwrap();
        let reason = match runtime().load(&wasm).await {
            Err(RuntimeError::InvalidPlugin(reason)) => reason,
            other => panic!("expected InvalidPlugin, got {other:?}"),
        };
        assert!(
            reason.contains("the export `handle` has the type of no handler world"),
            "{reason}"
        );
        assert!(reason.contains("hookhost:plugin/handler@0.2.0"), "{reason}");
        assert!(reason.contains("hookhost:plugin/handler@0.1.0"), "{reason}");
    })
}
