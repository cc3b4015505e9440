use std::sync::Arc;

use hookhost::runtime::Outcome;
use hookhost_tests::{Sandbox, block_on, event, load, log_text, plugins};

#[test]
fn writes_of_a_failing_invocation_are_not_visible_afterwards() {
    block_on(async {
        let plugin = load(plugins::KV_WRITER).await;
        let failing = Sandbox::new().await.config("mode", "fail-after-write");
        let inv = failing.run(&plugin, event("{}", None)).await;
        assert!(
            matches!(inv.outcome, Outcome::Retry(_)),
            "{:?}",
            inv.outcome
        );
        assert_eq!(inv.kv_writes.len(), 1, "the write was made, then discarded");
        assert_eq!(failing.kv("leak").await, None);

        let trapping = Sandbox::new().await.config("mode", "trap-after-write");
        let inv = trapping.run(&plugin, event("{}", None)).await;
        assert!(matches!(inv.outcome, Outcome::Trap(_)), "{:?}", inv.outcome);
        assert_eq!(trapping.kv("leak").await, None);
    })
}

#[test]
fn an_invocation_reads_its_own_writes_before_they_commit() {
    block_on(async {
        let plugin = load(plugins::KV_WRITER).await;
        let sandbox = Sandbox::new().await.config("mode", "read-your-writes");
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));
        assert_eq!(sandbox.kv("a").await, None);
        assert_eq!(sandbox.kv("c").await.as_deref(), Some("10"));
    })
}

#[test]
fn a_hundred_concurrent_increments_add_up_to_exactly_a_hundred() {
    block_on(async {
        let plugin = load(plugins::KV_WRITER).await;
        let sandbox = Arc::new(Sandbox::new().await.config("mode", "count"));
        let mut runs = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let (sandbox, plugin) = (sandbox.clone(), plugin.clone());
            runs.spawn(async move { sandbox.run(&plugin, event("{}", None)).await.outcome });
        }
        while let Some(outcome) = runs.join_next().await {
            assert_eq!(outcome.unwrap(), Outcome::Ok);
        }
        assert_eq!(sandbox.kv("n").await.as_deref(), Some("100"));
    })
}
