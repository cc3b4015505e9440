//! Ingest rates: a token bucket (GCRA) per tenant, sized by its policy's
//! `ingest_rate` and `ingest_burst`, and one per endpoint with a
//! `rate_limit`.
//!
//! Only webhooks that passed verification are charged, so nobody without the
//! signing secret can spend a tenant's allowance. Each host keeps its own
//! buckets, sized at its share of the limit: the limit divided by the live
//! hosts sharing the database (see `Store::heartbeat`). With traffic spread
//! over the hosts, as a load balancer spreads it, the limit holds for all of
//! them together; a host that gets more than its share refuses early; and
//! for the few seconds until every host has heard that one joined, the
//! hosts together may accept up to one host's share more.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::domain::{RateLimit, TenantPolicy};
use crate::ids::{EndpointId, TenantId};

/// Beyond this many buckets of one kind, the idle ones are dropped (a full
/// one forgets nothing it needs), and if all are in use they start over.
const MAX_BUCKETS: usize = 100_000;

/// One bucket and the limit it was made for, at the host count it was made for.
struct Bucket {
    shape: (u32, Duration, u32, u32),
    /// Its burst at this host's share.
    burst: NonZeroU32,
    limiter: DefaultDirectRateLimiter,
}

/// Every ingest bucket of this host.
pub struct IngestRates {
    clock: DefaultClock,
    /// Live hosts sharing the limits, this one included.
    hosts: AtomicU32,
    /// Kept apart, so however many endpoints tenants create, no tenant's
    /// bucket is ever forgotten for them.
    tenants: Mutex<HashMap<TenantId, Bucket>>,
    endpoints: Mutex<HashMap<(TenantId, EndpointId), Bucket>>,
}

impl Default for IngestRates {
    fn default() -> Self {
        Self {
            clock: DefaultClock::default(),
            hosts: AtomicU32::new(1),
            tenants: Mutex::default(),
            endpoints: Mutex::default(),
        }
    }
}

impl IngestRates {
    /// Takes one webhook from the tenant's allowance, or says how long until
    /// the next one fits. A rate of 0 is no limit.
    pub fn take_tenant(&self, tenant: &TenantId, policy: &TenantPolicy) -> Result<(), Duration> {
        let (Some(rate), Some(burst)) = (
            NonZeroU32::new(policy.ingest_rate),
            NonZeroU32::new(policy.ingest_burst),
        ) else {
            return Ok(());
        };
        self.take(&self.tenants, tenant, rate, Duration::from_secs(1), burst)
    }

    /// Takes one webhook from an endpoint's allowance, or says how long
    /// until the next one fits.
    pub fn take_endpoint(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        limit: &RateLimit,
    ) -> Result<(), Duration> {
        self.take(
            &self.endpoints,
            &(tenant.clone(), endpoint.clone()),
            limit.rate,
            limit.period.duration(),
            limit.burst(),
        )
    }

    /// Tells the buckets how many hosts share the limits; each is resized
    /// at its next use.
    pub fn set_hosts(&self, hosts: u32) {
        self.hosts.store(hosts.max(1), Ordering::Relaxed);
    }

    /// A changed limit, or a changed host count, starts the bucket afresh.
    fn take<K: Clone + Eq + std::hash::Hash>(
        &self,
        buckets: &Mutex<HashMap<K, Bucket>>,
        owner: &K,
        rate: NonZeroU32,
        period: Duration,
        burst: NonZeroU32,
    ) -> Result<(), Duration> {
        let hosts = self.hosts.load(Ordering::Relaxed);
        let shape = (rate.get(), period, burst.get(), hosts);
        let mut buckets = buckets.lock().expect("poisoned");
        let current = buckets.get(owner).is_some_and(|b| b.shape == shape);
        if !current {
            if buckets.len() >= MAX_BUCKETS {
                buckets.retain(|_, b| !matches!(b.limiter.check_n(b.burst), Ok(Ok(()))));
                if buckets.len() >= MAX_BUCKETS {
                    buckets.clear();
                }
            }
            buckets.insert(
                owner.clone(),
                Bucket {
                    shape,
                    burst: NonZeroU32::new(burst.get() / hosts).unwrap_or(NonZeroU32::MIN),
                    limiter: RateLimiter::direct(share(rate, period, burst, hosts)),
                },
            );
        }
        let bucket = buckets.get(owner).expect("inserted above");
        bucket
            .limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// One host's share of `rate` per `period` in bursts of `burst`, among
/// `hosts`: a webhook every `period × hosts / rate`, and the burst divided
/// likewise (at least one).
fn share(rate: NonZeroU32, period: Duration, burst: NonZeroU32, hosts: u32) -> Quota {
    let every = (period * hosts / rate.get()).max(Duration::from_nanos(1));
    let burst = NonZeroU32::new(burst.get() / hosts).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every)
        .expect("a period of at least 1 ns")
        .allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::RatePeriod;

    fn policy(rate: u32, burst: u32) -> TenantPolicy {
        TenantPolicy {
            ingest_rate: rate,
            ingest_burst: burst,
            ..Config::default().tenant
        }
    }

    fn limit(rate: u32, period: RatePeriod, burst: Option<u32>) -> RateLimit {
        RateLimit {
            rate: NonZeroU32::new(rate).unwrap(),
            period,
            burst: burst.and_then(NonZeroU32::new),
        }
    }

    #[test]
    fn a_tenant_gets_its_burst_then_waits_while_another_is_untouched() {
        let rates = IngestRates::default();
        let (a, b) = (TenantId::new("a").unwrap(), TenantId::new("b").unwrap());
        let tight = policy(1, 3);
        for _ in 0..3 {
            assert!(rates.take_tenant(&a, &tight).is_ok());
        }
        let wait = rates.take_tenant(&a, &tight).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(rates.take_tenant(&b, &tight).is_ok());
    }

    #[test]
    fn a_rate_of_zero_is_no_limit_and_a_new_policy_takes_effect_at_once() {
        let rates = IngestRates::default();
        let a = TenantId::new("a").unwrap();
        for _ in 0..10_000 {
            assert!(rates.take_tenant(&a, &policy(0, 1)).is_ok());
        }
        assert!(rates.take_tenant(&a, &policy(1, 1)).is_ok());
        assert!(rates.take_tenant(&a, &policy(1, 1)).is_err());
        assert!(rates.take_tenant(&a, &policy(1, 2)).is_ok());
    }

    #[test]
    fn an_endpoint_gets_its_burst_per_period_and_its_tenants_other_endpoints_are_untouched() {
        let rates = IngestRates::default();
        let acme = TenantId::new("acme").unwrap();
        let (a, b) = (EndpointId::new("a").unwrap(), EndpointId::new("b").unwrap());
        let per_minute = limit(2, RatePeriod::Minute, None);
        assert!(rates.take_endpoint(&acme, &a, &per_minute).is_ok());
        assert!(rates.take_endpoint(&acme, &a, &per_minute).is_ok());
        let wait = rates.take_endpoint(&acme, &a, &per_minute).unwrap_err();
        assert!(
            wait > Duration::from_secs(20) && wait <= Duration::from_secs(30),
            "the next of 2 a minute fits 30 s after the first: {wait:?}"
        );
        assert!(rates.take_endpoint(&acme, &b, &per_minute).is_ok());
    }

    #[test]
    fn among_several_hosts_each_takes_its_share_of_the_rate_and_burst() {
        let rates = IngestRates::default();
        let acme = TenantId::new("acme").unwrap();
        let a = EndpointId::new("a").unwrap();
        let ten = limit(10, RatePeriod::Second, Some(10));
        rates.set_hosts(2);
        for _ in 0..5 {
            assert!(rates.take_endpoint(&acme, &a, &ten).is_ok());
        }
        let wait = rates.take_endpoint(&acme, &a, &ten).unwrap_err();
        assert!(
            wait > Duration::from_millis(100) && wait <= Duration::from_millis(200),
            "5 a second on each of two hosts: {wait:?}"
        );
        rates.set_hosts(1);
        assert!(
            rates.take_endpoint(&acme, &a, &ten).is_ok(),
            "resized afresh"
        );
    }
}
