use std::time::{Duration, Instant};

use hookhost::runtime::Outcome;
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{Sandbox, block_on, event, load, log_text, plugins};

#[test]
fn a_spin_loop_is_stopped_within_100ms_of_its_deadline() {
    block_on(async {
        let plugin = load(plugins::SPIN_LOOP).await;
        let mut sandbox = Sandbox::new().await;
        sandbox.limits.timeout_ms = 300;
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        assert_eq!(inv.outcome, Outcome::Timeout);
        assert!(
            inv.duration >= Duration::from_millis(300),
            "{:?}",
            inv.duration
        );
        assert!(
            inv.duration <= Duration::from_millis(400),
            "{:?}",
            inv.duration
        );
    })
}

#[test]
fn a_spinning_plugin_does_not_stall_another_invocation() {
    block_on(async {
        let spin = load(plugins::SPIN_LOOP).await;
        let noop = load(plugins::NOOP).await;
        let mut spinning = Sandbox::new().await;
        spinning.limits.timeout_ms = 2_000;
        let quick = Sandbox::new().await;
        let started = Instant::now();
        let spin_run = spinning.run(&spin, event("{}", None));
        let noop_run = async {
            // Let the spinner get going first.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let inv = quick.run(&noop, event("{}", None)).await;
            (inv, started.elapsed())
        };
        let (spun, (quick_inv, quick_done)) = tokio::join!(spin_run, noop_run);
        assert_eq!(spun.outcome, Outcome::Timeout);
        assert_eq!(quick_inv.outcome, Outcome::Ok);
        assert!(
            quick_done < Duration::from_millis(1_000),
            "the quick invocation finished after {quick_done:?}, behind the spinning one"
        );
    })
}

#[test]
fn a_guest_asleep_in_the_host_leaves_the_guest_cpu_to_another_tenant() {
    block_on(async {
        let hostile = load(plugins::HOSTILE).await;
        let noop = load(plugins::NOOP).await;
        let mut sleeping = Sandbox::new().await.config("attack", "sleep");
        sleeping.limits.timeout_ms = 3_000;
        let quick = Sandbox::new().await;
        let mut asleep = event("{}", None);
        asleep.tenant = "mallory".into();
        // The test runtime has one guest CPU, which a sleeper holding it
        // would keep until its deadline.
        let started = Instant::now();
        let sleep_run = sleeping.run(&hostile, asleep);
        let quick_run = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let inv = quick.run(&noop, event("{}", None)).await;
            (inv, started.elapsed())
        };
        let (slept, (quick_inv, quick_done)) = tokio::join!(sleep_run, quick_run);
        assert_eq!(slept.outcome, Outcome::Timeout, "{}", log_text(&slept));
        assert_eq!(quick_inv.outcome, Outcome::Ok);
        assert!(
            quick_done < Duration::from_millis(1_500),
            "the quick invocation finished after {quick_done:?}, behind the sleeping one"
        );
    })
}

#[test]
fn randomness_and_host_resources_a_guest_asks_for_are_bounded() {
    block_on(async {
        let hostile = load(plugins::HOSTILE).await;
        let sandbox = Sandbox::new().await.config("attack", "random-flood");
        let inv = sandbox.run(&hostile, event("{}", None)).await;
        match &inv.outcome {
            Outcome::Trap(message) => assert!(message.contains("exceeds limit 65536"), "{message}"),
            other => panic!("a megabyte of randomness was given: {other:?}"),
        }

        let sandbox = Sandbox::new().await.config("attack", "resource-flood");
        let inv = sandbox.run(&hostile, event("{}", None)).await;
        assert!(matches!(inv.outcome, Outcome::Trap(_)), "{:?}", inv.outcome);
        let held = inv
            .logs
            .iter()
            .filter_map(|l| l.message.strip_prefix("holding ")?.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        // ARCHITECTURE.md, "The sandbox": 10,000 host resources at once (a
        // pollable takes two), not wasmtime's default million.
        assert!(
            (4_000..=10_000).contains(&held),
            "the host held {held} pollables"
        );
    })
}

#[test]
fn a_memory_hog_ends_out_of_memory_and_the_host_carries_on() {
    block_on(async {
        let hog = load(plugins::MEMORY_HOG).await;
        let mut sandbox = Sandbox::new().await;
        sandbox.limits.memory_mb = 32;
        let inv = sandbox.run(&hog, event("{}", None)).await;
        assert_eq!(inv.outcome, Outcome::OutOfMemory, "{}", log_text(&inv));

        let noop = load(plugins::NOOP).await;
        let after = sandbox.run(&noop, event("{}", None)).await;
        assert_eq!(after.outcome, Outcome::Ok);
    })
}

#[test]
fn a_panic_is_a_trap_carrying_the_panic_message() {
    block_on(async {
        let plugin = load(plugins::PANIC).await;
        let sandbox = Sandbox::new().await;
        let event = event("{}", None);
        let id = event.id.clone();
        let inv = sandbox.run(&plugin, event).await;
        match inv.outcome {
            Outcome::Trap(message) => assert!(
                message.contains(&format!("handler exploded: {id}")),
                "{message}"
            ),
            other => panic!("expected a trap, got {other:?}"),
        }
    })
}

#[test]
fn ten_mib_of_logs_are_truncated_to_the_budget_with_a_marker() {
    block_on(async {
        let plugin = load(plugins::LOG_FLOOD).await;
        let sandbox = Sandbox::new().await;
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        assert_eq!(inv.outcome, Outcome::Ok);
        assert!(inv.logs_truncated);
        let kept: u64 = inv.logs.iter().map(|l| l.message.len() as u64).sum();
        let marker = inv.logs.last().unwrap();
        assert!(marker.message.starts_with("[log truncated"), "{marker:?}");
        assert!(kept - marker.message.len() as u64 <= sandbox.limits.max_log_bytes);
    })
}

#[test]
fn files_environment_and_sockets_are_not_there() {
    block_on(async {
        let plugin = load(plugins::SANDBOX_PROBE).await;
        let sandbox = Sandbox::new().await;
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));
    })
}

#[test]
fn a_host_not_on_the_allow_list_is_denied() {
    block_on(async {
        let receiver = Receiver::start().await;
        let plugin = load(plugins::HTTP_PROBE).await;
        let sandbox = Sandbox::new()
            .await
            .config("url", &receiver.url("/"))
            .allow_host("hooks.slack.com")
            .allow_private_network();
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        assert!(
            matches!(&inv.outcome, Outcome::Reject(m) if m.contains("AccessDenied")),
            "{:?}",
            inv.outcome
        );
        assert!(
            inv.http_calls[0]
                .error
                .as_deref()
                .unwrap()
                .contains("allowed_hosts")
        );
        assert!(receiver.requests().is_empty());
    })
}

#[test]
fn loopback_private_and_metadata_addresses_are_denied_without_allow_private_network() {
    block_on(async {
        let receiver = Receiver::start().await;
        let port = receiver.addr.port();
        let plugin = load(plugins::HTTP_PROBE).await;
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://[::1]:{port}/"),
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            format!("http://2130706433:{port}/"),
            format!("http://0x7f.1:{port}/"),
            format!("http://localhost:{port}/"),
        ] {
            let sandbox = Sandbox::new().await.config("url", &url).allow_host("*");
            let inv = sandbox.run(&plugin, event("{}", None)).await;
            assert!(
                matches!(&inv.outcome, Outcome::Reject(m) if m.contains("AccessDenied")),
                "{url}: {:?}",
                inv.outcome
            );
        }
        assert!(receiver.requests().is_empty());

        // The same call goes through once the operator allows private networks.
        let allowed = Sandbox::new()
            .await
            .config("url", &format!("http://localhost:{port}/"))
            .allow_host("*")
            .allow_private_network();
        let inv = allowed.run(&plugin, event("{}", None)).await;
        assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));
        assert_eq!(receiver.requests().len(), 1);
    })
}

#[test]
fn redirects_are_handed_to_the_plugin_not_followed() {
    block_on(async {
        let receiver = Receiver::start().await;
        receiver.respond_with(302);
        let plugin = load(plugins::HTTP_PROBE).await;
        let sandbox = Sandbox::new()
            .await
            .config("url", &receiver.url("/moved"))
            .reach(&receiver);
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        assert_eq!(inv.outcome, Outcome::Ok);
        assert!(log_text(&inv).contains("status 302"), "{}", log_text(&inv));
        assert_eq!(inv.http_calls[0].status, Some(302));
        assert_eq!(receiver.requests().len(), 1);
    })
}

#[test]
fn outbound_calls_stop_at_the_invocation_budget() {
    block_on(async {
        let receiver = Receiver::start().await;
        let plugin = load(plugins::HTTP_PROBE).await;
        let mut sandbox = Sandbox::new()
            .await
            .config("url", &receiver.url("/"))
            .config("count", "10")
            .reach(&receiver);
        sandbox.limits.max_http_calls = 3;
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        assert!(
            matches!(&inv.outcome, Outcome::Reject(m) if m.contains("BudgetExhausted")),
            "{:?}",
            inv.outcome
        );
        assert_eq!(receiver.requests().len(), 3);
        let keys: Vec<_> = receiver
            .requests()
            .iter()
            .map(|r| r.header("idempotency-key").unwrap().to_owned())
            .collect();
        assert!(
            keys[0].ends_with(":1") && keys[2].ends_with(":3"),
            "{keys:?}"
        );
    })
}

#[test]
fn an_invocation_finds_nothing_an_earlier_one_left_in_linear_memory() {
    block_on(async {
        let plugin = load(plugins::RESIDUE).await;
        let sandbox = Sandbox::new().await;
        // Sequential runs reuse the same pooled slots, memory and stack.
        for run in 0..20 {
            let inv = sandbox.run(&plugin, event("{}", None)).await;
            assert_eq!(inv.outcome, Outcome::Ok, "run {run}: {}", log_text(&inv));
            let logs = log_text(&inv);
            assert!(logs.starts_with("info clean\n"), "run {run}: {logs}");
            assert!(logs.contains("info planted, first at"), "run {run}: {logs}");
        }
    })
}

/// What an invocation's record holds in host memory: every text and byte
/// the guest made the host keep, with each record's own size.
fn retained_bytes(inv: &hookhost::runtime::Invocation) -> usize {
    use hookhost::runtime::{KvWrite, LogLine, OutboundCall};
    let logs: usize = inv
        .logs
        .iter()
        .map(|l| std::mem::size_of::<LogLine>() + l.message.len())
        .sum();
    let kv: usize = inv
        .kv_writes
        .iter()
        .map(|w| {
            std::mem::size_of::<KvWrite>()
                + match w {
                    KvWrite::Set { key, value } => key.len() + value.len(),
                    KvWrite::Delete { key } | KvWrite::Increment { key, .. } => key.len(),
                }
        })
        .sum();
    let calls: usize = inv
        .http_calls
        .iter()
        .map(|c| {
            std::mem::size_of::<OutboundCall>()
                + c.method.len()
                + c.url.len()
                + c.error.as_ref().map_or(0, String::len)
        })
        .sum();
    logs + kv + calls + inv.outcome.to_string().len()
}

#[test]
fn whatever_a_guest_does_its_record_stays_within_the_stated_host_memory() {
    block_on(async {
        let hostile = load(plugins::HOSTILE).await;
        let flood = load(plugins::LOG_FLOOD).await;
        let mut worst = 0;
        for attack in ["kv-flood", "huge-message", "huge-url", "raw-stdout"] {
            let mut sandbox = Sandbox::new().await.config("attack", attack);
            sandbox.limits.timeout_ms = 30_000;
            let inv = sandbox.run(&hostile, event("{}", None)).await;
            worst = worst.max(retained_bytes(&inv));
        }
        let inv = Sandbox::new().await.run(&flood, event("{}", None)).await;
        worst = worst.max(retained_bytes(&inv));
        // ARCHITECTURE.md: under 6 MiB by the default policy.
        assert!(worst < 6 * 1024 * 1024, "{worst} bytes retained");
    })
}
