//! Each tenant's ingest rate: a token bucket (GCRA) per tenant on this host,
//! sized by its policy's `ingest_rate` and `ingest_burst`.
//!
//! Only webhooks that passed verification are charged, so nobody without the
//! signing secret can spend a tenant's allowance. The bucket is per host:
//! across several hosts a tenant gets up to the rate on each.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::domain::TenantPolicy;
use crate::ids::TenantId;

/// Beyond this many tenants the buckets start over rather than grow.
const MAX_TENANTS: usize = 100_000;

/// One tenant's bucket and the policy figures it was made for.
struct Bucket {
    rate: u32,
    burst: u32,
    limiter: DefaultDirectRateLimiter,
}

/// Every tenant's ingest bucket.
#[derive(Default)]
pub struct IngestRates {
    clock: DefaultClock,
    tenants: Mutex<HashMap<TenantId, Bucket>>,
}

impl IngestRates {
    /// Takes one webhook from the tenant's allowance, or says how long until
    /// the next one fits. A changed policy starts the bucket afresh.
    pub fn take(&self, tenant: &TenantId, policy: &TenantPolicy) -> Result<(), Duration> {
        let (Some(rate), Some(burst)) = (
            NonZeroU32::new(policy.ingest_rate),
            NonZeroU32::new(policy.ingest_burst),
        ) else {
            return Ok(());
        };
        let mut tenants = self.tenants.lock().expect("poisoned");
        let current = tenants
            .get(tenant)
            .is_some_and(|b| b.rate == rate.get() && b.burst == burst.get());
        if !current {
            if tenants.len() >= MAX_TENANTS {
                tenants.clear();
            }
            tenants.insert(
                tenant.clone(),
                Bucket {
                    rate: rate.get(),
                    burst: burst.get(),
                    limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
                },
            );
        }
        let bucket = tenants.get(tenant).expect("inserted above");
        bucket
            .limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn policy(rate: u32, burst: u32) -> TenantPolicy {
        TenantPolicy {
            ingest_rate: rate,
            ingest_burst: burst,
            ..Config::default().tenant
        }
    }

    #[test]
    fn a_tenant_gets_its_burst_then_waits_while_another_is_untouched() {
        let rates = IngestRates::default();
        let (a, b) = (TenantId::new("a").unwrap(), TenantId::new("b").unwrap());
        let tight = policy(1, 3);
        for _ in 0..3 {
            assert!(rates.take(&a, &tight).is_ok());
        }
        let wait = rates.take(&a, &tight).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(rates.take(&b, &tight).is_ok());
    }

    #[test]
    fn a_rate_of_zero_is_no_limit_and_a_new_policy_takes_effect_at_once() {
        let rates = IngestRates::default();
        let a = TenantId::new("a").unwrap();
        for _ in 0..10_000 {
            assert!(rates.take(&a, &policy(0, 1)).is_ok());
        }
        assert!(rates.take(&a, &policy(1, 1)).is_ok());
        assert!(rates.take(&a, &policy(1, 1)).is_err());
        assert!(rates.take(&a, &policy(1, 2)).is_ok());
    }
}
