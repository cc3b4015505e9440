//! Bulk replays run here: each host takes the leases of running jobs and
//! steps each once a second, queuing `replay_rate` deliveries at most, so a
//! bulk replay feeds the queue at a pace live traffic is served beside. A
//! job whose tenant's queue is full is handed back until there is room, so
//! it holds none of the host's job slots meanwhile; one whose host stops
//! goes on from another.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::{QueueDepth, Shared};
use crate::domain::Timestamp;
use crate::store::{LeaseToken, ReplayBudget, ReplayJob, StepNext};

/// How long a host holds a job without stepping it: another host takes
/// over a job of a host that died this long after its last step.
const LEASE: Duration = Duration::from_secs(30);

/// How often a job steps, queuing up to `replay_rate` deliveries each time.
const STEP_EVERY: Duration = Duration::from_secs(1);

/// Fewest and most rows one step reads: a filter that matches few of a
/// tenant's deliveries still moves on by this many per step, and none
/// reads more than the bound, whatever its rate.
const READ_PER_STEP: (u32, u32) = (1_000, 10_000);

/// How often a host looks for jobs no host holds.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Most jobs one host steps at once; more wait for a lease. A tenant runs
/// two at most, and a job waiting for room in its tenant's queue holds none.
const JOBS_PER_HOST: usize = 16;

/// Steps a host gives a job before handing it back, so that jobs waiting
/// for a slot take turns with those holding one.
const STEPS_PER_TURN: u32 = 30;

/// How long a job handed back because its tenant's queue is full waits
/// before a host takes it up again.
const FULL_BACKOFF: Duration = Duration::from_secs(5);

/// Takes and steps jobs until `stop`; `started` rings when one is started
/// through this host's API, so it begins without waiting for the next look.
pub(crate) async fn run(
    shared: Arc<Shared>,
    depth: Arc<QueueDepth>,
    started: Arc<Notify>,
    stop: CancellationToken,
) {
    let mut jobs = JoinSet::new();
    loop {
        while jobs.try_join_next().is_some() {}
        if jobs.len() < JOBS_PER_HOST {
            let lease = LeaseToken::generate();
            match shared
                .store
                .lease_replay(&lease, Timestamp::now(), LEASE)
                .await
            {
                Ok(Some(job)) => {
                    tracing::info!(replay = %job.id, tenant = %job.tenant, "stepping a bulk replay");
                    jobs.spawn(step(
                        shared.clone(),
                        depth.clone(),
                        job,
                        lease,
                        stop.clone(),
                    ));
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not look for bulk replays"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = started.notified() => {}
            _ = tokio::time::sleep(LOOK_EVERY) => {}
        }
    }
    while jobs.join_next().await.is_some() {}
}

/// Steps one job for its turn, until it is over, cancelled, or another
/// host's.
async fn step(
    shared: Arc<Shared>,
    depth: Arc<QueueDepth>,
    job: ReplayJob,
    lease: LeaseToken,
    stop: CancellationToken,
) {
    let rate = shared.config.replay_rate;
    let budget = ReplayBudget {
        read: rate
            .saturating_mul(2)
            .clamp(READ_PER_STEP.0, READ_PER_STEP.1),
        replay: rate,
        lease_for: LEASE,
    };
    let mut ticks = tokio::time::interval(STEP_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for _ in 0..STEPS_PER_TURN {
        tokio::select! {
            _ = stop.cancelled() => {
                hand_back(&shared, &job, &lease, Timestamp::now()).await;
                return;
            }
            _ = ticks.tick() => {}
        }
        // A full queue: hand the job back and let others have the slot; a
        // later look takes it up again, after the jobs stepped since.
        let full = match shared.policies.get(&job.tenant).await {
            Ok(policy) => depth.of(&job.tenant) >= policy.max_queue_depth,
            Err(e) => {
                tracing::warn!(replay = %job.id, error = %e, "could not read the tenant's policy");
                true
            }
        };
        if full {
            hand_back(&shared, &job, &lease, Timestamp::now().after(FULL_BACKOFF)).await;
            return;
        }
        match shared
            .store
            .replay_step(&job, &lease, budget, Timestamp::now())
            .await
        {
            Ok(done) => {
                if done.replayed > 0 {
                    metrics::counter!("hookhost_replays_total", "kind" => "bulk")
                        .increment(done.replayed);
                    shared.work_ready.notify_one();
                }
                match done.next {
                    StepNext::More => {}
                    StepNext::Finished(state) => {
                        metrics::counter!("hookhost_replay_jobs_total", "state" => state.as_str())
                            .increment(1);
                        tracing::info!(replay = %job.id, state = state.as_str(), "bulk replay finished");
                        return;
                    }
                    StepNext::Stopped => return,
                }
            }
            Err(e) => {
                tracing::warn!(replay = %job.id, error = %e, "a bulk replay step failed; trying again")
            }
        }
    }
    hand_back(&shared, &job, &lease, Timestamp::now()).await;
}

/// Gives a job's lease back, so this or another host takes it up again
/// from `from`.
async fn hand_back(shared: &Shared, job: &ReplayJob, lease: &LeaseToken, from: Timestamp) {
    if let Err(e) = shared.store.release_replay(&job.id, lease, from).await {
        tracing::warn!(replay = %job.id, error = %e, "could not hand back a bulk replay; it goes on once its lease runs out");
    }
}
