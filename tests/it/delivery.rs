//! The path of a webhook through a real server: verified ingress, durable
//! queue, the plugin run, retries, dead letters, dedup, replay and fairness.

use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use hookhost::config::Config;
use hookhost::domain::Provider;
use hookhost::domain::{RetryPolicy, Timestamp};
use hookhost::runtime::{KvNamespace, KvWrite, Outcome};
use hookhost::store::{
    AttemptOutcome, AttemptRecord, ClaimRequest, Claimed, Completion, DeliveryStatus, Next, Replay,
    WriteBatch,
};
use hookhost_tests::block_on;
use hookhost_tests::host::{SECRET, TestHost, delivery_id, signed_headers, spec};
use hookhost_tests::plugins;
use hookhost_tests::receiver::Receiver;

const SOON: Duration = Duration::from_secs(10);

type Headers = Vec<(String, String)>;

#[test]
fn a_signed_webhook_runs_the_plugin_and_succeeds_with_its_attempt_recorded() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        host.endpoint(&acme, "orders", &spec("echo", v, Some(&receiver)))
            .await;

        let id = host
            .accept(
                "acme",
                "orders",
                "msg_1",
                r#"{"type":"order.created","n":1}"#,
            )
            .await;

        let delivery = host
            .wait_for(&acme, &id, DeliveryStatus::Succeeded, SOON)
            .await;
        assert_eq!(delivery.event_id.as_deref(), Some("msg_1"));
        assert_eq!(delivery.event_type.as_deref(), Some("order.created"));
        let requests = receiver.requests();
        assert_eq!(requests.len(), 1);
        let echoed = requests[0].json();
        assert_eq!(echoed["id"], id.as_str());
        assert_eq!(echoed["attempt"], 1);
        assert_eq!(echoed["event_type"], "order.created");
        assert_eq!(echoed["body"], r#"{"type":"order.created","n":1}"#);
        assert_eq!(
            requests[0].header("idempotency-key"),
            Some(format!("{id}:1").as_str())
        );

        let attempts = host.attempts(&id).await;
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].outcome, AttemptOutcome::Ok);
        assert_eq!(attempts[0].plugin_version, v);
        assert_eq!(attempts[0].http_calls.len(), 1);
        assert_eq!(attempts[0].http_calls[0].status, Some(200));
        host.stop().await;
    });
}

#[test]
fn a_plugin_that_fails_twice_then_succeeds_takes_three_attempts() {
    block_on(async {
        let host = TestHost::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "flaky", plugins::FLAKY).await;
        let mut spec = spec("flaky", v, None);
        spec.config.insert("succeed_on_attempt".into(), "3".into());
        host.endpoint(&acme, "flaky", &spec).await;

        let id = host.accept("acme", "flaky", "msg_1", "{}").await;

        host.wait_for(&acme, &id, DeliveryStatus::Succeeded, SOON)
            .await;
        let outcomes: Vec<_> = host
            .attempts(&id)
            .await
            .into_iter()
            .map(|a| (a.attempt, a.outcome, a.message))
            .collect();
        assert_eq!(
            outcomes,
            [
                (1, AttemptOutcome::Retry, Some("attempt 1 failed".into())),
                (2, AttemptOutcome::Retry, Some("attempt 2 failed".into())),
                (3, AttemptOutcome::Ok, None),
            ]
        );
        host.stop().await;
    });
}

#[test]
fn a_plugin_that_rejects_is_dead_after_one_attempt() {
    block_on(async {
        let host = TestHost::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "flaky", plugins::FLAKY).await;
        let mut spec = spec("flaky", v, None);
        spec.config.insert("reject".into(), "yes".into());
        host.endpoint(&acme, "flaky", &spec).await;

        let id = host.accept("acme", "flaky", "msg_1", "{}").await;

        let dead = host.wait_for(&acme, &id, DeliveryStatus::Dead, SOON).await;
        assert_eq!(dead.last_error.as_deref(), Some("rejected on purpose"));
        assert_eq!(host.attempts(&id).await.len(), 1);
        host.stop().await;
    });
}

#[test]
fn an_attempt_whose_lease_expired_records_nothing_over_the_attempt_that_took_it_over() {
    block_on(async {
        let host = TestHost::start_with(Config {
            workers: 0,
            ..Config::default()
        })
        .await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        host.endpoint(&acme, "orders", &spec("echo", v, None)).await;
        let id = host.accept("acme", "orders", "msg_1", "{}").await;

        let now = Timestamp::now();
        let claim = |now| {
            let store = host.store.clone();
            async move {
                let (mut claim, durable) = store
                    .claim(ClaimRequest {
                        now,
                        max: 10,
                        running: Default::default(),
                        default_share: u32::MAX,
                    })
                    .await
                    .unwrap();
                durable.wait().await.unwrap();
                claim.claimed.remove(0)
            }
        };
        let first = claim(now).await;
        let lease = Duration::from_millis(spec("echo", v, None).lease_ms() + 1);
        let second = claim(now.after(lease)).await;
        assert_eq!((first.attempt, second.attempt), (1, 2));

        let ns = KvNamespace {
            tenant: acme.clone(),
            plugin: first.plugin.clone(),
        };
        let finish = |claimed: &Claimed, value: &str| Completion {
            id: claimed.id.clone(),
            lease: claimed.lease.clone(),
            record: AttemptRecord {
                attempt: claimed.attempt,
                plugin_version: v,
                started_at: claimed.started_at,
                duration_ms: 1,
                outcome: Outcome::Ok,
                logs: Vec::new(),
                logs_truncated: false,
                http_calls: Vec::new(),
            },
            next: Next::Succeeded {
                namespace: ns.clone(),
                writes: vec![KvWrite::Set {
                    key: "who".into(),
                    value: value.into(),
                }],
            },
        };
        let write = |c: Completion| {
            let store = host.store.clone();
            async move {
                let batch = WriteBatch {
                    completions: vec![c],
                    ..WriteBatch::default()
                };
                let (results, durable) = store.write(batch.into()).await.unwrap();
                durable.wait().await.unwrap();
                results.completed
            }
        };
        let stale = write(finish(&first, "first")).await;
        let current = write(finish(&second, "second")).await;
        let late = write(finish(&first, "first, late")).await;

        assert_eq!(
            (stale, current, late),
            (vec![false], vec![true], vec![false])
        );
        let attempts = host.attempts(&id).await;
        let outcomes: Vec<_> = attempts.iter().map(|a| (a.attempt, a.outcome)).collect();
        assert_eq!(
            outcomes,
            [(1, AttemptOutcome::Lost), (2, AttemptOutcome::Ok)]
        );
        assert_eq!(
            host.store.get(&ns, "who").await.unwrap().as_deref(),
            Some(&b"second"[..])
        );
        let delivery = host.store.delivery(&acme, &id).await.unwrap().unwrap();
        assert_eq!(delivery.status, DeliveryStatus::Succeeded);
        host.stop().await;
    });
}

#[test]
fn retries_stop_at_max_attempts_and_the_delivery_is_dead_lettered() {
    block_on(async {
        let host = TestHost::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "flaky", plugins::FLAKY).await;
        let mut spec = spec("flaky", v, None);
        spec.config.insert("succeed_on_attempt".into(), "10".into());
        spec.retry = RetryPolicy {
            max_attempts: 2,
            schedule_s: vec![0],
        };
        host.endpoint(&acme, "flaky", &spec).await;

        let id = host.accept("acme", "flaky", "msg_1", "{}").await;

        let dead = host.wait_for(&acme, &id, DeliveryStatus::Dead, SOON).await;
        assert_eq!(dead.attempts, 2);
        assert_eq!(host.attempts(&id).await.len(), 2);
        host.stop().await;
    });
}

#[test]
fn a_retry_waits_for_its_scheduled_delay() {
    block_on(async {
        let host = TestHost::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "flaky", plugins::FLAKY).await;
        let mut spec = spec("flaky", v, None);
        spec.config.insert("succeed_on_attempt".into(), "2".into());
        spec.retry = RetryPolicy {
            max_attempts: 3,
            schedule_s: vec![2],
        };
        host.endpoint(&acme, "flaky", &spec).await;

        let id = host.accept("acme", "flaky", "msg_1", "{}").await;
        host.wait_for(&acme, &id, DeliveryStatus::Succeeded, SOON)
            .await;

        let attempts = host.attempts(&id).await;
        let gap = attempts[1]
            .started_at
            .since(attempts[0].started_at)
            .as_millis();
        // 2 s with ±10% jitter.
        assert!(
            (1_800..=3_000).contains(&gap),
            "second attempt {gap} ms after the first"
        );
        host.stop().await;
    });
}

#[test]
fn the_same_event_sent_five_times_concurrently_is_one_delivery_run_once() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "echo", plugins::ECHO).await;
        host.endpoint(&acme, "orders", &spec("echo", v, Some(&receiver)))
            .await;

        let sends = (0..5).map(|_| {
            host.send(
                "acme",
                "orders",
                Provider::StandardWebhooks,
                SECRET,
                "msg_dup",
                b"{}",
            )
        });
        let mut ids = Vec::new();
        let mut statuses = Vec::new();
        for response in futures::future::join_all(sends).await {
            statuses.push(response.status().as_u16());
            ids.push(delivery_id(&response.text().await.unwrap()));
        }
        statuses.sort();
        assert_eq!(statuses, [200, 200, 200, 200, 202]);
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");

        host.wait_for(&acme, &ids[0], DeliveryStatus::Succeeded, SOON)
            .await;
        let late = host
            .send(
                "acme",
                "orders",
                Provider::StandardWebhooks,
                SECRET,
                "msg_dup",
                b"{}",
            )
            .await;
        assert_eq!(
            late.status(),
            200,
            "a repeat after success is still a duplicate"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.requests().len(), 1, "the plugin ran once");
        assert_eq!(host.attempts(&ids[0]).await.len(), 1);
        host.stop().await;
    });
}

#[test]
fn replay_runs_a_delivery_again_as_a_new_attempt_optionally_on_another_version() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = host.tenant("acme").await;
        let v1 = host.plugin(&acme, "handler", plugins::ECHO).await;
        let v2 = host.plugin(&acme, "handler", plugins::NOOP).await;
        host.endpoint(&acme, "orders", &spec("handler", v1, Some(&receiver)))
            .await;
        let id = host.accept("acme", "orders", "msg_1", "{}").await;
        host.wait_for(&acme, &id, DeliveryStatus::Succeeded, SOON)
            .await;

        let replay = host
            .store
            .replay(&acme, &id, None, Timestamp::now())
            .await
            .unwrap();
        assert_eq!(replay, Replay::Queued);
        wait_for_attempts(&host, &id, 2).await;
        let requests = receiver.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].json()["id"], id.as_str());
        assert_eq!(requests[1].json()["attempt"], 2);

        let replay = host
            .store
            .replay(&acme, &id, Some(v2), Timestamp::now())
            .await
            .unwrap();
        assert_eq!(replay, Replay::Queued);
        let attempts = wait_for_attempts(&host, &id, 3).await;
        assert_eq!(attempts[2].plugin_version, v2);
        assert_eq!(attempts[2].outcome, AttemptOutcome::Ok);
        assert_eq!(receiver.requests().len(), 2, "v2 (noop) made no call");
        host.stop().await;
    });
}

async fn wait_for_attempts(
    host: &TestHost,
    id: &hookhost::ids::DeliveryId,
    n: usize,
) -> Vec<hookhost::store::Attempt> {
    let started = Instant::now();
    loop {
        let attempts = host.attempts(id).await;
        if attempts.len() >= n {
            return attempts;
        }
        assert!(started.elapsed() < SOON, "only {} attempts", attempts.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_tenant_with_a_backlog_does_not_hold_back_another_tenants_single_event() {
    block_on(async {
        // Four workers; tenant A's 2,000 events each spin for 100 ms (to their
        // deadline), so A's backlog takes ~50 s. B's one event must finish
        // within one slow invocation plus a claim: we allow 1.5 s.
        let host = TestHost::start_with(Config {
            workers: 4,
            shutdown_grace: Duration::from_millis(200),
            ..Config::default()
        })
        .await;
        let receiver = Receiver::start().await;
        let a = host.tenant("a").await;
        let b = host.tenant("b").await;
        let spin = host.plugin(&a, "spin", plugins::SPIN_LOOP).await;
        let echo = host.plugin(&b, "echo", plugins::ECHO).await;
        let mut slow = spec("spin", spin, None);
        slow.limits.timeout_ms = 100;
        slow.retry = RetryPolicy {
            max_attempts: 1,
            schedule_s: vec![],
        };
        host.endpoint(&a, "slow", &slow).await;
        host.endpoint(&b, "fast", &spec("echo", echo, Some(&receiver)))
            .await;

        let backlog = futures::stream::iter(0..2_000)
            .map(|i| {
                let host = &host;
                async move { host.accept("a", "slow", &format!("a_{i}"), "{}").await }
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await;
        assert_eq!(backlog.len(), 2_000);

        let sent = Instant::now();
        let id = host.accept("b", "fast", "b_1", "{}").await;
        host.wait_for(
            &b,
            &id,
            DeliveryStatus::Succeeded,
            Duration::from_secs(1) + Duration::from_millis(500),
        )
        .await;
        let waited = sent.elapsed();
        let a_done =
            futures::future::join_all(backlog.iter().map(|id| host.store.delivery(&a, id)))
                .await
                .into_iter()
                .filter(|d| d.as_ref().unwrap().as_ref().unwrap().status == DeliveryStatus::Dead)
                .count();
        assert!(
            a_done < 1_000,
            "A's backlog was mostly still queued ({a_done} done)"
        );
        assert!(waited < Duration::from_millis(1_500), "B waited {waited:?}");
        host.stop().await;
    });
}

#[test]
fn bodies_of_succeeded_deliveries_are_pruned_after_retention_and_attempts_stay() {
    block_on(async {
        let host = TestHost::start_with(Config {
            retention: Duration::from_secs(1),
            ..Config::default()
        })
        .await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "noop", plugins::NOOP).await;
        host.endpoint(&acme, "orders", &spec("noop", v, None)).await;
        let id = host.accept("acme", "orders", "msg_1", "{\"big\":1}").await;
        let delivery = host
            .wait_for(&acme, &id, DeliveryStatus::Succeeded, SOON)
            .await;
        assert!(delivery.body.is_some());

        let started = Instant::now();
        loop {
            let delivery = host.store.delivery(&acme, &id).await.unwrap().unwrap();
            if delivery.body.is_none() {
                break;
            }
            assert!(started.elapsed() < SOON, "body never pruned");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(host.attempts(&id).await.len(), 1, "attempts stay");
        let replay = host
            .store
            .replay(&acme, &id, None, Timestamp::now())
            .await
            .unwrap();
        assert_eq!(replay, Replay::BodyPruned);
        host.stop().await;
    });
}

#[test]
fn unknown_tenants_and_endpoints_answer_404() {
    block_on(async {
        let host = TestHost::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "noop", plugins::NOOP).await;
        host.endpoint(&acme, "orders", &spec("noop", v, None)).await;
        for (tenant, endpoint) in [("nobody", "orders"), ("acme", "nothing"), ("ACME", "x y")] {
            let response = host
                .send(
                    tenant,
                    endpoint,
                    Provider::StandardWebhooks,
                    SECRET,
                    "m",
                    b"{}",
                )
                .await;
            assert_eq!(response.status(), 404, "{tenant}/{endpoint}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
        }
        host.stop().await;
    });
}

#[test]
fn a_body_over_the_endpoint_limit_answers_413_and_stores_nothing() {
    block_on(async {
        let host = TestHost::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "noop", plugins::NOOP).await;
        let mut spec = spec("noop", v, None);
        spec.limits.body_limit_bytes = 1024;
        host.endpoint(&acme, "orders", &spec).await;

        let big = vec![b'x'; 2048];
        let response = host
            .send(
                "acme",
                "orders",
                Provider::StandardWebhooks,
                SECRET,
                "m",
                &big,
            )
            .await;
        assert_eq!(response.status(), 413);
        let problem: serde_json::Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("1024"));
        assert_eq!(host.store.queue_depth().await.unwrap(), 0);
        host.stop().await;
    });
}

#[test]
fn bad_signatures_answer_401_naming_the_failed_check_without_the_secret() {
    block_on(async {
        let host = TestHost::start().await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "noop", plugins::NOOP).await;
        host.endpoint(&acme, "orders", &spec("noop", v, None)).await;
        let url = host.url("/hooks/acme/orders");
        let body = b"{\"n\":1}";
        let good = signed_headers("msg_1", body);
        let stale = hookhost::ingress::verify::sign(
            Provider::StandardWebhooks,
            SECRET,
            None,
            body,
            "msg_1",
            None,
            SystemTime::now() - Duration::from_secs(3600),
        )
        .unwrap();
        let wrong_secret = hookhost::ingress::verify::sign(
            Provider::StandardWebhooks,
            "whsec_c2VjcmV0LW9mLXNvbWVvbmUtZWxzZQ==",
            None,
            body,
            "msg_1",
            None,
            SystemTime::now(),
        )
        .unwrap();
        let without = |name: &str| -> Vec<(String, String)> {
            good.iter().filter(|(n, _)| n != name).cloned().collect()
        };
        let with = |name: &str, value: &str| -> Vec<(String, String)> {
            good.iter()
                .map(|(n, v)| {
                    (
                        n.clone(),
                        if n == name {
                            value.to_owned()
                        } else {
                            v.clone()
                        },
                    )
                })
                .collect()
        };
        let cases: [(&str, Headers, &[u8]); 5] = [
            ("signature", good.clone(), b"{\"n\":2}"),
            ("signature", wrong_secret, body),
            ("timestamp", stale, body),
            ("missing-header", without("webhook-signature"), body),
            (
                "malformed-header",
                with("webhook-timestamp", "yesterday"),
                body,
            ),
        ];
        for (check, headers, body) in cases {
            let mut request = host.client.post(&url).body(body.to_vec());
            for (n, v) in &headers {
                request = request.header(n, v);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{check}");
            let text = response.text().await.unwrap();
            let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(problem["check"], check, "{text}");
            assert!(!text.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "{text}");
        }
        assert_eq!(host.store.queue_depth().await.unwrap(), 0, "nothing stored");
        host.stop().await;
    });
}

#[test]
fn a_queue_over_its_depth_answers_503_with_retry_after() {
    block_on(async {
        let host = TestHost::start_with(Config {
            max_queue_depth: 0,
            ..Config::default()
        })
        .await;
        let acme = host.tenant("acme").await;
        let v = host.plugin(&acme, "noop", plugins::NOOP).await;
        host.endpoint(&acme, "orders", &spec("noop", v, None)).await;
        let response = host
            .send(
                "acme",
                "orders",
                Provider::StandardWebhooks,
                SECRET,
                "m",
                b"{}",
            )
            .await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "5");
        assert_eq!(host.store.queue_depth().await.unwrap(), 0);
        host.stop().await;
    });
}

#[test]
fn a_tenant_created_again_under_a_deleted_ones_id_never_runs_the_deleted_ones_code() {
    block_on(async {
        let host = TestHost::start().await;
        let acme = host.tenant("acme").await;
        let before = host.plugin(&acme, "handler", plugins::NOOP).await;
        host.endpoint(&acme, "orders", &spec("handler", before, None))
            .await;
        let id = host.accept("acme", "orders", "evt_1", "{}").await;
        // Loaded, and so cached, by this host.
        host.wait_for(&acme, &id, DeliveryStatus::Succeeded, SOON)
            .await;

        assert!(host.store.delete_tenant(&acme).await.unwrap());
        let acme = host.tenant("acme").await;
        let after = host.plugin(&acme, "handler", plugins::PANIC).await;
        assert!(
            after > before,
            "version {after} of the new tenant reuses a number"
        );
        host.endpoint(&acme, "orders", &spec("handler", after, None))
            .await;
        // Within the endpoint cache's second the new webhook may still be
        // pinned to the old version number; either way only the new
        // tenant's own code, or none, may run: never the noop that succeeds.
        let id = host.accept("acme", "orders", "evt_1", "{}").await;
        let delivery = host
            .wait_for(&acme, &id, DeliveryStatus::Retrying, SOON)
            .await;
        let attempts = host.attempts(&id).await;
        assert_ne!(attempts[0].outcome, AttemptOutcome::Ok, "{attempts:?}");
        if delivery.plugin_version == after {
            assert_eq!(attempts[0].outcome, AttemptOutcome::Trap, "{attempts:?}");
        } else {
            let error = delivery.last_error.unwrap_or_default();
            assert!(error.contains("no longer exists"), "{error}");
        }
    })
}
