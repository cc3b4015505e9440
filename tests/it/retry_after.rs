//! A handler whose receiver said when to come back: `retry-after` in the
//! runtime, the SDK's reading of 429, 503 and 410, and the queue waiting at
//! least as long (at most a week) within the retry policy's attempts.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderName, StatusCode};
use hookhost::domain::{MAX_DELAY_S, RetryPolicy, Timestamp};
use hookhost::runtime::Outcome;
use hookhost::store::DeliveryStatus;
use hookhost_tests::host::{TestHost, spec};
use hookhost_tests::{Sandbox, block_on, event, load, log_text, plugins};

const SOON: Duration = Duration::from_secs(10);
const HOUR_MS: u64 = 3_600_000;

/// A receiver that answers every request with `status` and, if given, `Retry-After`.
async fn answering(status: u16, retry_after: Option<String>) -> SocketAddr {
    let app = axum::Router::new().fallback(move || {
        let retry_after = retry_after.clone();
        async move {
            let status = StatusCode::from_u16(status).unwrap();
            let headers: Vec<(HeaderName, String)> = retry_after
                .map(|v| (HeaderName::from_static("retry-after"), v))
                .into_iter()
                .collect();
            (status, axum::response::AppendHeaders(headers), "busy")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The retry-later plugin posting to a receiver at `addr`.
async fn calling(addr: SocketAddr) -> Sandbox {
    Sandbox::new()
        .await
        .config("url", &format!("http://{addr}/"))
        .allow_host(&addr.to_string())
        .allow_private_network()
}

#[test]
fn a_handler_asking_to_come_back_later_is_a_retry_with_its_wait() {
    block_on(async {
        let plugin = load(plugins::RETRY_LATER).await;
        let sandbox = Sandbox::new().await.config("after_ms", "30000");
        let inv = sandbox.run(&plugin, event("{}", None)).await;
        assert_eq!(
            inv.outcome,
            Outcome::Retry("attempt 1 asks for 30000 ms".into())
        );
        assert_eq!(inv.retry_after_ms, Some(30_000));
    })
}

#[test]
fn a_429_with_retry_after_in_seconds_becomes_the_handlers_wait() {
    block_on(async {
        let plugin = load(plugins::RETRY_LATER).await;
        let receiver = answering(429, Some("120".into())).await;
        let inv = calling(receiver)
            .await
            .run(&plugin, event("{}", None))
            .await;
        assert_eq!(
            inv.outcome,
            Outcome::Retry("HTTP status 429: busy".into()),
            "{}",
            log_text(&inv)
        );
        assert_eq!(inv.retry_after_ms, Some(120_000));
    })
}

#[test]
fn a_503_with_retry_after_as_a_date_waits_until_then() {
    block_on(async {
        let plugin = load(plugins::RETRY_LATER).await;
        let then = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(90));
        let receiver = answering(503, Some(then)).await;
        let inv = calling(receiver)
            .await
            .run(&plugin, event("{}", None))
            .await;
        assert_eq!(inv.outcome, Outcome::Retry("HTTP status 503: busy".into()));
        let wait = inv.retry_after_ms.expect("a wait");
        // Whole seconds, read a moment after they were written.
        assert!((85_000..=90_000).contains(&wait), "{wait}");
    })
}

#[test]
fn a_429_without_retry_after_is_a_plain_retry_and_a_410_a_rejection() {
    block_on(async {
        let plugin = load(plugins::RETRY_LATER).await;
        let busy = calling(answering(429, None).await)
            .await
            .run(&plugin, event("{}", None))
            .await;
        assert_eq!(busy.outcome, Outcome::Retry("HTTP status 429: busy".into()));
        assert_eq!(busy.retry_after_ms, None);

        let gone = calling(answering(410, Some("60".into())).await)
            .await
            .run(&plugin, event("{}", None))
            .await;
        assert_eq!(
            gone.outcome,
            Outcome::Reject("HTTP status 410: busy".into())
        );
        assert_eq!(gone.retry_after_ms, None);
    })
}

/// Runs the retry-later plugin once through a server, asking for `after_ms`,
/// and returns when it started and when the delivery is due again.
async fn scheduled_after(after_ms: u64) -> (Timestamp, Timestamp) {
    let host = TestHost::start().await;
    let acme = host.tenant("acme").await;
    let v = host
        .plugin(&acme, "retry-later", plugins::RETRY_LATER)
        .await;
    let mut spec = spec("retry-later", v, None);
    spec.config.insert("after_ms".into(), after_ms.to_string());
    spec.retry = RetryPolicy {
        max_attempts: 3,
        schedule_s: vec![1],
    };
    host.endpoint(&acme, "later", &spec).await;

    let id = host.accept("acme", "later", "msg_1", "{}").await;
    let delivery = host
        .wait_for(&acme, &id, DeliveryStatus::Retrying, SOON)
        .await;
    let attempts = host.attempts(&id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0].message.as_deref(),
        Some(format!("attempt 1 asks for {after_ms} ms").as_str())
    );
    host.stop().await;
    (attempts[0].started_at, delivery.due_at.expect("due again"))
}

#[test]
fn the_next_attempt_is_due_no_sooner_than_the_handler_asked() {
    block_on(async {
        let (started, due) = scheduled_after(HOUR_MS).await;
        let wait = due.since(started);
        // The attempt itself and its recording take the rest.
        assert!(
            (Duration::from_secs(3_600)..Duration::from_secs(3_610)).contains(&wait),
            "due {wait:?} after the attempt started"
        );
    })
}

#[test]
fn a_wait_asked_beyond_a_week_counts_as_a_week() {
    block_on(async {
        let (started, due) = scheduled_after(30 * 24 * HOUR_MS).await;
        let wait = due.since(started);
        let week = Duration::from_secs(MAX_DELAY_S);
        assert!(
            (week..week + Duration::from_secs(10)).contains(&wait),
            "due {wait:?} after the attempt started"
        );
    })
}

#[test]
fn a_short_wait_is_kept_before_the_attempt_that_succeeds() {
    block_on(async {
        let host = TestHost::start().await;
        let acme = host.tenant("acme").await;
        let v = host
            .plugin(&acme, "retry-later", plugins::RETRY_LATER)
            .await;
        let mut spec = spec("retry-later", v, None);
        spec.config.insert("after_ms".into(), "1500".into());
        spec.config.insert("succeed_on_attempt".into(), "2".into());
        host.endpoint(&acme, "later", &spec).await;

        let id = host.accept("acme", "later", "msg_1", "{}").await;
        host.wait_for(&acme, &id, DeliveryStatus::Succeeded, SOON)
            .await;

        let attempts = host.attempts(&id).await;
        assert_eq!(attempts.len(), 2);
        let gap = attempts[1].started_at.since(attempts[0].started_at);
        assert!(
            gap >= Duration::from_millis(1_500),
            "second attempt {gap:?} after the first, with a retry schedule of 0 s"
        );
        host.stop().await;
    })
}

#[test]
fn a_handler_that_keeps_asking_is_dead_lettered_at_max_attempts() {
    block_on(async {
        let host = TestHost::start().await;
        let acme = host.tenant("acme").await;
        let v = host
            .plugin(&acme, "retry-later", plugins::RETRY_LATER)
            .await;
        let mut spec = spec("retry-later", v, None);
        spec.config.insert("after_ms".into(), "200".into());
        spec.retry = RetryPolicy {
            max_attempts: 2,
            schedule_s: vec![0],
        };
        host.endpoint(&acme, "later", &spec).await;

        let id = host.accept("acme", "later", "msg_1", "{}").await;
        let dead = host.wait_for(&acme, &id, DeliveryStatus::Dead, SOON).await;

        assert_eq!(dead.attempts, 2);
        assert_eq!(dead.due_at, None);
        assert_eq!(
            dead.last_error.as_deref(),
            Some("attempt 2 asks for 200 ms")
        );
        host.stop().await;
    })
}
