//! The rules: what each recorded attempt, and each endpoint's silence,
//! raises.
//!
//! The failure rate is judged per host over the attempts it ran, in a
//! sliding window of buckets per endpoint with the rule; dead deliveries in
//! a row are counted in the store, so every host's count one streak.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;

use super::Alerting;
use crate::domain::{AlertKind, EndpointAlerts, FailureRate, Timestamp};
use crate::ids::{EndpointId, TenantId};
use crate::queue::{Recorded, RecordedResult};

/// How often endpoints watched for silence are looked at.
const SILENCE_EVERY: Duration = Duration::from_secs(2);

/// Buckets of a failure-rate window: its memory per endpoint is fixed, at
/// any rate of attempts.
const BUCKETS: i64 = 60;

/// Most endpoints whose failure rate this host keeps; past it the windows
/// start afresh.
const MAX_WINDOWS: usize = 100_000;

/// Attempts and failures of one endpoint over its window.
#[derive(Debug)]
struct Window {
    rule: FailureRate,
    bucket_ms: i64,
    /// (bucket number, attempts, failures), oldest first.
    buckets: VecDeque<(i64, u32, u32)>,
}

impl Window {
    fn new(rule: &FailureRate) -> Self {
        Self {
            rule: rule.clone(),
            bucket_ms: (rule.window_s as i64 * 1000 / BUCKETS).max(1),
            buckets: VecDeque::new(),
        }
    }

    /// Counts one attempt at `now`; returns (attempts, failures) over the
    /// window.
    fn count(&mut self, now: Timestamp, failed: bool) -> (u32, u32) {
        let at = now.as_ms() / self.bucket_ms;
        while self
            .buckets
            .front()
            .is_some_and(|(b, _, _)| *b <= at - BUCKETS)
        {
            self.buckets.pop_front();
        }
        match self.buckets.back_mut() {
            Some((b, attempts, failures)) if *b == at => {
                *attempts += 1;
                *failures += u32::from(failed);
            }
            _ => self.buckets.push_back((at, 1, u32::from(failed))),
        }
        self.buckets
            .iter()
            .fold((0, 0), |(a, f), (_, ba, bf)| (a + ba, f + bf))
    }

    /// Whether `attempts` with `failures` break the rule.
    fn breaks(&self, attempts: u32, failures: u32) -> bool {
        attempts >= self.rule.min_attempts
            && f64::from(failures) >= self.rule.threshold * f64::from(attempts)
    }
}

/// Applies the rules to every attempt the queue records, until stopped.
pub(super) async fn follow(
    alerting: Arc<Alerting>,
    mut recorded: Receiver<Recorded>,
    stop: CancellationToken,
) {
    let mut windows: HashMap<(TenantId, EndpointId), Window> = HashMap::new();
    loop {
        let r = tokio::select! {
            _ = stop.cancelled() => return,
            r = recorded.recv() => match r {
                Some(r) => r,
                None => return,
            },
        };
        let rules = match alerting.endpoints.get(&r.tenant, &r.endpoint).await {
            Ok(Some(endpoint)) => endpoint.spec.alerts.clone(),
            // A deleted endpoint's deliveries die: nothing to tell.
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(tenant = %r.tenant, endpoint = %r.endpoint, error = %e, "could not read an endpoint's alert rules");
                EndpointAlerts::default()
            }
        };
        if let Some(rule) = &rules.failure_rate {
            failure_rate(&alerting, &mut windows, &r, rule).await;
        }
        if r.result == RecordedResult::Dead {
            let data = Map::from_iter([
                ("delivery_id".to_owned(), Value::from(r.delivery.as_str())),
                (
                    "detail".to_owned(),
                    json!(format!(
                        "delivery {} is dead: its plugin rejected it or it ran out of attempts; `hookhost delivery show --tenant {} {}` has its attempts",
                        r.delivery, r.tenant, r.delivery
                    )),
                ),
            ]);
            alerting
                .raise(&r.tenant, &r.endpoint, AlertKind::DeliveryDead, data)
                .await;
        }
        if let Some(n) = rules.pause_after_dead {
            pause_after_dead(&alerting, &r, n).await;
        }
    }
}

async fn failure_rate(
    alerting: &Alerting,
    windows: &mut HashMap<(TenantId, EndpointId), Window>,
    r: &Recorded,
    rule: &FailureRate,
) {
    if windows.len() >= MAX_WINDOWS {
        windows.clear();
    }
    let window = windows
        .entry((r.tenant.clone(), r.endpoint.clone()))
        .or_insert_with(|| Window::new(rule));
    if window.rule != *rule {
        *window = Window::new(rule);
    }
    let (attempts, failures) =
        window.count(Timestamp::now(), r.result != RecordedResult::Succeeded);
    if window.breaks(attempts, failures) {
        let data = Map::from_iter([
            ("attempts".to_owned(), json!(attempts)),
            ("failures".to_owned(), json!(failures)),
            ("window_s".to_owned(), json!(rule.window_s)),
            ("threshold".to_owned(), json!(rule.threshold)),
            (
                "detail".to_owned(),
                json!(format!(
                    "{failures} of the last {attempts} attempts in {} s failed (threshold {})",
                    rule.window_s, rule.threshold
                )),
            ),
        ]);
        alerting
            .raise(&r.tenant, &r.endpoint, AlertKind::EndpointFailing, data)
            .await;
    }
}

async fn pause_after_dead(alerting: &Alerting, r: &Recorded, n: u32) {
    let dead = match r.result {
        RecordedResult::Dead => true,
        RecordedResult::Succeeded => false,
        RecordedResult::Retrying => return,
    };
    let store = &alerting.store;
    let streak = match store.dead_streak(&r.tenant, &r.endpoint, dead).await {
        Ok(streak) => streak,
        Err(e) => {
            tracing::warn!(tenant = %r.tenant, endpoint = %r.endpoint, error = %e, "could not count dead deliveries in a row");
            return;
        }
    };
    if streak < n {
        return;
    }
    match alerting.policies.get(&r.tenant).await {
        Ok(policy) if policy.allow_auto_pause => {}
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(tenant = %r.tenant, error = %e, "could not read the tenant's policy to pause an endpoint");
            return;
        }
    }
    match store
        .pause_endpoint(&r.tenant, &r.endpoint, Timestamp::now())
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(tenant = %r.tenant, endpoint = %r.endpoint, error = %e, "could not pause an endpoint after dead deliveries");
            return;
        }
    }
    alerting.endpoints.invalidate(&r.tenant, &r.endpoint);
    metrics::counter!("hookhost_endpoint_pauses_total", "action" => "auto").increment(1);
    tracing::warn!(tenant = %r.tenant, endpoint = %r.endpoint, dead = streak, "paused an endpoint after dead deliveries in a row");
    if let Err(e) = store.dead_streak(&r.tenant, &r.endpoint, false).await {
        tracing::warn!(tenant = %r.tenant, endpoint = %r.endpoint, error = %e, "could not reset the dead deliveries in a row");
    }
    let data = Map::from_iter([
        ("dead_in_a_row".to_owned(), json!(streak)),
        (
            "detail".to_owned(),
            json!(format!(
                "paused after {streak} dead deliveries in a row; it keeps accepting webhooks; `hookhost endpoint resume --tenant {} {}` runs them",
                r.tenant, r.endpoint
            )),
        ),
    ]);
    alerting
        .raise(&r.tenant, &r.endpoint, AlertKind::EndpointPaused, data)
        .await;
}

/// Raises `endpoint.silent` for every watched endpoint that received
/// nothing for longer than its `expect_every_s`, until stopped.
pub(super) async fn watch_silence(alerting: Arc<Alerting>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(SILENCE_EVERY) => {}
        }
        let watched = match alerting.store.watched_endpoints().await {
            Ok(watched) => watched,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the endpoints watched for silence");
                continue;
            }
        };
        let now = Timestamp::now();
        for w in watched {
            let every = Duration::from_secs(w.expect_every_s);
            if now.since(w.last_seen) <= every {
                continue;
            }
            let data = Map::from_iter([
                ("expect_every_s".to_owned(), json!(w.expect_every_s)),
                ("last_seen".to_owned(), json!(w.last_seen.rfc3339())),
                (
                    "detail".to_owned(),
                    json!(format!(
                        "no webhook since {}, and one is expected every {} s",
                        w.last_seen.rfc3339(),
                        w.expect_every_s
                    )),
                ),
            ]);
            alerting
                .raise(&w.tenant, &w.endpoint, AlertKind::EndpointSilent, data)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> FailureRate {
        FailureRate {
            threshold: 0.5,
            window_s: 60,
            min_attempts: 4,
        }
    }

    #[test]
    fn a_failure_rate_counts_only_once_enough_attempts_ran() {
        let mut w = Window::new(&rule());
        let t = Timestamp::from_ms(1_000_000);
        let (a, f) = w.count(t, true);
        assert!(!w.breaks(a, f), "one attempt is under min_attempts");
        w.count(t, false);
        w.count(t, true);
        let (a, f) = w.count(t, false);
        assert_eq!((a, f), (4, 2));
        assert!(w.breaks(a, f));
    }

    #[test]
    fn attempts_older_than_the_window_are_forgotten() {
        let mut w = Window::new(&rule());
        for _ in 0..10 {
            w.count(Timestamp::from_ms(0), true);
        }
        let (a, f) = w.count(Timestamp::from_ms(61_000), false);
        assert_eq!((a, f), (1, 0));
        assert!(w.buckets.len() <= BUCKETS as usize);
    }
}
