//! When a failed delivery runs again: the endpoint's retry policy as pure functions.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often and how far apart a delivery is retried before it is dead-lettered.
///
/// `schedule_s[n - 1]` is the wait after the n-th failed attempt of a run; past
/// its end the last entry repeats. The default follows the schedule Svix and
/// Standard Webhooks senders use: immediately, 5 s, 5 min, 30 min, 2 h, 5 h,
/// 10 h, 10 h.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per run, the first included; 1 means never retry.
    pub max_attempts: u32,
    /// Seconds to wait after each failed attempt.
    pub schedule_s: Vec<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            schedule_s: vec![5, 300, 1_800, 7_200, 18_000, 36_000, 36_000],
        }
    }
}

/// Largest accepted `max_attempts`.
pub const MAX_ATTEMPTS: u32 = 100;
/// Longest accepted wait between two attempts: one week.
pub const MAX_DELAY_S: u64 = 7 * 24 * 3600;

/// The fraction by which a wait is randomly stretched or shrunk, so a burst of
/// failures does not come back as a burst.
const JITTER: f64 = 0.1;

impl RetryPolicy {
    /// Checks the policy when an endpoint is configured.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(format!(
                "retry.max_attempts must be between 1 and {MAX_ATTEMPTS}"
            ));
        }
        if self.max_attempts > 1 && self.schedule_s.is_empty() {
            return Err(
                "retry.schedule_s must list at least one delay when max_attempts > 1".into(),
            );
        }
        if let Some(d) = self.schedule_s.iter().find(|d| **d > MAX_DELAY_S) {
            return Err(format!(
                "retry.schedule_s entry {d} exceeds the maximum of {MAX_DELAY_S} s (one week)"
            ));
        }
        Ok(())
    }

    /// The wait before the next attempt after `run_attempt` (1-based, counted
    /// from the start of the current run) failed, or `None` when the run is
    /// over and the delivery is dead. `unit` in [0, 1) supplies the jitter.
    pub fn next_delay(&self, run_attempt: u32, unit: f64) -> Option<Duration> {
        if run_attempt >= self.max_attempts {
            return None;
        }
        let index = (run_attempt as usize).saturating_sub(1);
        let base = *self.schedule_s.get(index).or(self.schedule_s.last())?;
        let factor = 1.0 + JITTER * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Some(Duration::from_secs_f64(base as f64 * factor))
    }

    /// [`next_delay`](Self::next_delay) when the handler's receiver asked for
    /// `requested` (a 429 or 503 with `Retry-After`): the policy's wait or
    /// the request, whichever is longer, a request past [`MAX_DELAY_S`]
    /// counting as that. The policy alone says when the run is over: a
    /// request never buys an attempt.
    pub fn next_delay_at_least(
        &self,
        run_attempt: u32,
        unit: f64,
        requested: Duration,
    ) -> Option<Duration> {
        let policy = self.next_delay(run_attempt, unit)?;
        Some(policy.max(requested.min(Duration::from_secs(MAX_DELAY_S))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_waits_five_seconds_then_five_minutes_then_dead_after_eight() {
        let p = RetryPolicy::default();
        assert_eq!(p.next_delay(1, 0.5), Some(Duration::from_secs(5)));
        assert_eq!(p.next_delay(2, 0.5), Some(Duration::from_secs(300)));
        assert_eq!(p.next_delay(7, 0.5), Some(Duration::from_secs(36_000)));
        assert_eq!(p.next_delay(8, 0.5), None);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let p = RetryPolicy::default();
        let low = p.next_delay(2, 0.0).unwrap().as_secs_f64();
        let high = p.next_delay(2, 0.999_999).unwrap().as_secs_f64();
        assert!((269.9..=270.1).contains(&low), "{low}");
        assert!((329.9..=330.1).contains(&high), "{high}");
    }

    #[test]
    fn the_last_delay_repeats_past_the_end_of_the_schedule() {
        let p = RetryPolicy {
            max_attempts: 10,
            schedule_s: vec![1, 2],
        };
        assert_eq!(p.next_delay(5, 0.5), Some(Duration::from_secs(2)));
    }

    #[test]
    fn one_attempt_means_no_retry() {
        let p = RetryPolicy {
            max_attempts: 1,
            schedule_s: vec![],
        };
        assert!(p.validate().is_ok());
        assert_eq!(p.next_delay(1, 0.5), None);
    }

    #[test]
    fn a_requested_wait_longer_than_the_policys_is_taken() {
        let p = RetryPolicy::default();
        let asked = Duration::from_secs(3_600);
        assert_eq!(p.next_delay_at_least(1, 0.5, asked), Some(asked));
    }

    #[test]
    fn a_requested_wait_shorter_than_the_policys_leaves_the_policys() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.next_delay_at_least(2, 0.5, Duration::from_secs(1)),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            p.next_delay_at_least(2, 0.5, Duration::ZERO),
            p.next_delay(2, 0.5)
        );
    }

    #[test]
    fn a_requested_wait_counts_at_most_one_week() {
        let p = RetryPolicy::default();
        let a_year = Duration::from_secs(365 * 24 * 3600);
        assert_eq!(
            p.next_delay_at_least(1, 0.5, a_year),
            Some(Duration::from_secs(MAX_DELAY_S))
        );
    }

    #[test]
    fn a_requested_wait_never_buys_an_attempt_past_the_policys_last() {
        let p = RetryPolicy {
            max_attempts: 2,
            schedule_s: vec![5],
        };
        let asked = Duration::from_secs(60);
        assert_eq!(p.next_delay_at_least(1, 0.5, asked), Some(asked));
        assert_eq!(p.next_delay_at_least(2, 0.5, asked), None);
    }

    #[test]
    fn validation_refuses_zero_attempts_missing_schedule_and_huge_delays() {
        let zero = RetryPolicy {
            max_attempts: 0,
            schedule_s: vec![1],
        };
        let empty = RetryPolicy {
            max_attempts: 3,
            schedule_s: vec![],
        };
        let huge = RetryPolicy {
            max_attempts: 3,
            schedule_s: vec![MAX_DELAY_S + 1],
        };
        for p in [zero, empty, huge] {
            assert!(p.validate().is_err(), "{p:?}");
        }
    }
}
