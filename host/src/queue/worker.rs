//! The dispatcher: claims due deliveries as workers come free, runs each
//! through its plugin, and records the attempt under the lease it ran with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::QueueError;
use super::Shared;
use crate::domain::{LEASE_MARGIN_MS, RetryPolicy, Timestamp, TraceId};
use crate::ids::TenantId;
use crate::runtime::{Event, Grants, Invocation, KvNamespace, Limits, Outcome};
use crate::store::{
    AttemptOutcome, AttemptRecord, Claim, ClaimRequest, Claimed, Completion, Next, StoreError,
};

/// How long the dispatcher waits after a failed claim (the store is away).
const CLAIM_RETRY: Duration = Duration::from_secs(1);

/// The longest the dispatcher waits when work is due but its tenants are at
/// their share: the end of one of their invocations wakes it sooner.
const SHARE_RECHECK: Duration = Duration::from_millis(50);

/// Attempts per worker that may have finished without their result being
/// committed yet. A worker is free as soon as its plugin returns, so commit
/// latency does not idle the pool (throughput is in-flight work over the
/// time one delivery spends in claim, run and record); but a store that
/// stops committing stops new claims after this many.
const UNRECORDED_PER_WORKER: usize = 4;

/// A delivery's two reservations: a worker for the invocation, and a slot
/// held until its attempt is recorded.
struct Reservation {
    worker: OwnedSemaphorePermit,
    slot: OwnedSemaphorePermit,
}

/// Invocations running on this host per tenant, so that a claim leaves each
/// tenant within its share of the workers (its policy's `max_concurrent`).
#[derive(Default)]
struct Running {
    tenants: Mutex<HashMap<TenantId, u32>>,
    /// Signalled whenever an invocation ends, so a dispatcher that left due
    /// work unclaimed because its tenant was at its share looks again; and
    /// when its attempt is recorded, since until then it counts against its
    /// endpoint's `max_concurrent`.
    ended: Notify,
}

impl Running {
    fn snapshot(&self) -> HashMap<TenantId, u32> {
        self.tenants.lock().expect("poisoned").clone()
    }

    fn start(self: &Arc<Self>, tenant: &TenantId) -> RunningGuard {
        *self
            .tenants
            .lock()
            .expect("poisoned")
            .entry(tenant.clone())
            .or_default() += 1;
        RunningGuard {
            running: self.clone(),
            tenant: tenant.clone(),
        }
    }
}

/// One running invocation, counted against its tenant's share until dropped.
struct RunningGuard {
    running: Arc<Running>,
    tenant: TenantId,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let mut tenants = self.running.tenants.lock().expect("poisoned");
        if let Some(n) = tenants.get_mut(&self.tenant) {
            *n -= 1;
            if *n == 0 {
                tenants.remove(&self.tenant);
            }
        }
        drop(tenants);
        self.running.ended.notify_one();
    }
}

/// Claims and runs deliveries until `stop` fires, then waits up to `grace`
/// for the running ones and hands back the leases of any still running.
pub(crate) async fn dispatch(shared: Arc<Shared>, stop: CancellationToken, grace: Duration) {
    let workers = Arc::new(Semaphore::new(shared.config.workers));
    let slots = Arc::new(Semaphore::new(
        shared.config.workers * UNRECORDED_PER_WORKER,
    ));
    let abandon = CancellationToken::new();
    let shares = Arc::new(Running::default());
    let mut running = JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        let first = tokio::select! {
            _ = stop.cancelled() => break,
            r = async {
                let slot = slots.clone().acquire_owned().await;
                let worker = workers.clone().acquire_owned().await;
                Reservation {
                    worker: worker.expect("never closed"),
                    slot: slot.expect("never closed"),
                }
            } => r,
        };
        let mut held = vec![first];
        while held.len() < super::CLAIM_BATCH {
            match (
                slots.clone().try_acquire_owned(),
                workers.clone().try_acquire_owned(),
            ) {
                (Ok(slot), Ok(worker)) => held.push(Reservation { worker, slot }),
                _ => break,
            }
        }
        let wanted = held.len();
        let request = ClaimRequest {
            now: Timestamp::now(),
            max: wanted,
            running: shares.snapshot(),
            default_share: shared.config.tenant.max_concurrent,
        };
        let Claim {
            claimed,
            next_due_at: next_due,
            waiting,
        } = match shared.committer.claim(request).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim deliveries; retrying in a second");
                drop(held);
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(CLAIM_RETRY) => continue,
                }
            }
        };
        let all_taken = claimed.len() == wanted;
        for delivery in claimed {
            let reserved = held.pop().expect("claimed no more than reserved");
            let share = shares.start(&delivery.tenant);
            let trace = TraceId::of_delivery(&delivery.id, &delivery.headers);
            // Every line logged for the attempt names its delivery and trace.
            // When traces are exported, the span is created in the trace's
            // OpenTelemetry context, which the exporting layer takes as its
            // parent, so the exported span carries the delivery's trace id.
            let span = {
                let _parent = shared
                    .config
                    .otlp
                    .endpoint
                    .is_some()
                    .then(|| trace.otel_parent(&delivery.headers).attach());
                tracing::info_span!("delivery", id = %delivery.id, tenant = %delivery.tenant,
                    endpoint = %delivery.endpoint, trace_id = %trace)
            };
            running.spawn(
                work(
                    shared.clone(),
                    delivery,
                    reserved,
                    share,
                    abandon.clone(),
                    trace,
                )
                .instrument(span),
            );
        }
        drop(held);
        if !all_taken {
            let wait = next_due
                .map(|at| at.since(Timestamp::now()))
                .unwrap_or(shared.config.idle_poll)
                .min(shared.config.idle_poll);
            // Work due now that was left unclaimed belongs to tenants at
            // their share (or, on PostgreSQL, is another host's), and
            // waiting work to endpoints at their limit: look again when an
            // invocation ends or an attempt is recorded, not at once.
            let held_back = wait.is_zero() || waiting;
            let share_ended = async {
                if held_back {
                    shares.ended.notified().await
                } else {
                    std::future::pending().await
                }
            };
            let wait = match (held_back, wait.is_zero()) {
                (false, _) => wait,
                (true, true) => SHARE_RECHECK,
                (true, false) => wait.min(SHARE_RECHECK),
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = shared.work_ready.notified() => {}
                _ = share_ended => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    if tokio::time::timeout(grace, async {
        while running.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(
            still_running = running.len(),
            "shutdown grace period over; handing back the leases of unfinished attempts"
        );
        abandon.cancel();
        while running.join_next().await.is_some() {}
    }
}

/// Runs one claimed delivery and records the attempt.
async fn work(
    shared: Arc<Shared>,
    delivery: Claimed,
    reserved: Reservation,
    share: RunningGuard,
    abandon: CancellationToken,
    trace: TraceId,
) {
    let completion = tokio::select! {
        c = attempt(&shared, &delivery, trace) => c,
        _ = abandon.cancelled() => {
            if let Err(e) = shared.committer.release(delivery.id.clone(), delivery.lease.clone()).await {
                tracing::warn!(delivery = %delivery.id, error = %e, "could not hand back a lease; it will expire");
            }
            return;
        }
    };
    let running = share.running.clone();
    drop(share);
    drop(reserved.worker);
    let _slot = reserved.slot;
    // The attempt is done; keep trying to record it while the lease lasts
    // (it runs out at most LEASE_MARGIN_MS after the deadline, which the
    // attempt ended before). Past that, or if the database refuses the
    // record itself, the delivery runs again once its lease expires.
    let lease_over = Instant::now() + Duration::from_millis(LEASE_MARGIN_MS);
    let mut backoff = Duration::from_millis(100);
    loop {
        match shared.committer.complete(completion.clone()).await {
            Ok(true) => {
                running.ended.notify_one();
                shared.recorded(&delivery, &completion.next);
                return;
            }
            Ok(false) => {
                tracing::warn!(delivery = %delivery.id, "lease lost before the attempt was recorded; a newer attempt owns it");
                return;
            }
            Err(QueueError::Store(e)) if matches!(*e, StoreError::Refused(_)) => {
                tracing::error!(delivery = %delivery.id, error = %e, "the database refused even the short record of this attempt; the delivery runs again when its lease expires");
                return;
            }
            Err(e) if Instant::now() >= lease_over => {
                tracing::warn!(delivery = %delivery.id, error = %e, "gave up recording an attempt: its lease is over, and the delivery runs again");
                return;
            }
            Err(e) if !abandon.is_cancelled() => {
                tracing::warn!(delivery = %delivery.id, error = %e, "could not record an attempt; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::warn!(delivery = %delivery.id, error = %e, "gave up recording an attempt at shutdown");
                return;
            }
        }
    }
}

async fn attempt(shared: &Shared, d: &Claimed, trace: TraceId) -> Completion {
    let started = std::time::Instant::now();
    let (invocation, policy) = match run(shared, d, trace).await {
        Ok(found) => found,
        // The host could not get as far as the plugin (store away, plugin
        // unloadable): retry on the default schedule, or die if rejected.
        Err(outcome) => (
            Invocation {
                outcome,
                retry_after_ms: None,
                duration: started.elapsed(),
                logs: Vec::new(),
                logs_truncated: false,
                kv_writes: Vec::new(),
                http_calls: Vec::new(),
            },
            RetryPolicy::default(),
        ),
    };
    record_metrics(&invocation);
    let next = match &invocation.outcome {
        Outcome::Ok => Next::Succeeded {
            namespace: KvNamespace {
                tenant: d.tenant.clone(),
                plugin: d.plugin.clone(),
            },
            writes: invocation.kv_writes,
        },
        Outcome::Reject(_) => Next::Dead,
        _ => {
            let requested = Duration::from_millis(invocation.retry_after_ms.unwrap_or(0));
            match policy.next_delay_at_least(d.run_attempt, rand::random(), requested) {
                Some(delay) => Next::Retry {
                    due_at: Timestamp::now().after(delay),
                },
                None => Next::Dead,
            }
        }
    };
    tracing::debug!(delivery = %d.id, attempt = d.attempt, outcome = AttemptOutcome::from(&invocation.outcome).as_str(), "attempt finished");
    Completion {
        id: d.id.clone(),
        lease: d.lease.clone(),
        record: AttemptRecord {
            attempt: d.attempt,
            plugin_version: d.plugin_version,
            started_at: d.started_at,
            duration_ms: invocation.duration.as_millis() as u64,
            outcome: invocation.outcome,
            logs: invocation.logs,
            logs_truncated: invocation.logs_truncated,
            http_calls: invocation.http_calls,
        },
        next,
    }
}

fn record_metrics(invocation: &Invocation) {
    metrics::counter!("hookhost_invocations_total", "outcome" => AttemptOutcome::from(&invocation.outcome).as_str())
        .increment(1);
    metrics::histogram!("hookhost_invocation_duration_seconds")
        .record(invocation.duration.as_secs_f64());
    for call in &invocation.http_calls {
        let outcome = match call.status {
            Some(s) if s < 300 => "2xx",
            Some(s) if s < 400 => "3xx",
            Some(s) if s < 500 => "4xx",
            Some(_) => "5xx",
            None => "error",
        };
        metrics::counter!("hookhost_outbound_calls_total", "outcome" => outcome).increment(1);
    }
}

/// Looks up what the attempt needs and invokes the plugin. A missing endpoint
/// or plugin is an outcome of the attempt, not an error of the host.
async fn run(
    shared: &Shared,
    d: &Claimed,
    trace: TraceId,
) -> Result<(Invocation, RetryPolicy), Outcome> {
    let endpoint = match shared.endpoints.get(&d.tenant, &d.endpoint).await {
        Ok(Some(endpoint)) => endpoint,
        Ok(None) => {
            return Err(Outcome::Reject(format!(
                "endpoint {} was deleted",
                d.endpoint
            )));
        }
        Err(e) => return Err(Outcome::Retry(format!("could not read the endpoint: {e}"))),
    };
    let plugin = shared
        .plugins
        .get(
            &d.tenant,
            &d.plugin,
            d.plugin_version,
            d.plugin_digest.as_deref(),
        )
        .await
        .map_err(Outcome::Retry)?;
    let policy = shared
        .policies
        .get(&d.tenant)
        .await
        .map_err(|e| Outcome::Retry(format!("could not read the tenant's policy: {e}")))?;
    let spec = &endpoint.spec;
    let grants = Grants {
        config: spec.config.clone(),
        allowed_hosts: spec.allowed_hosts.clone(),
        allow_private_network: spec.allow_private_network,
        kv_quota_bytes: policy.kv_quota_bytes,
        secrets: endpoint.plugin_secrets.clone(),
        trace: Some(trace),
        ..Grants::new(
            KvNamespace {
                tenant: d.tenant.clone(),
                plugin: d.plugin.clone(),
            },
            Default::default(),
        )
    };
    let event = Event {
        id: d.id.to_string(),
        tenant: d.tenant.to_string(),
        endpoint: d.endpoint.to_string(),
        provider: d.provider.as_str().to_owned(),
        event_type: d.event_type.clone(),
        received_at_ms: d.received_at.as_ms() as u64,
        attempt: d.attempt,
        headers: d.headers.clone(),
        body: d.body.clone(),
    };
    let invocation = shared
        .runtime
        .invoke(
            &plugin,
            event,
            &grants,
            &Limits::for_endpoint(spec),
            shared.store.clone(),
        )
        .await;
    Ok((invocation, spec.retry.clone()))
}
