//! The one time type of records, the queue and the API.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A moment, in milliseconds since the Unix epoch: how both backends store
/// time, and precise enough for every deadline the host keeps.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The wall clock.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// The moment `ms` milliseconds after the epoch, as stored.
    pub const fn from_ms(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the epoch, as stored.
    pub const fn as_ms(self) -> i64 {
        self.0
    }

    /// `d` later, saturating.
    pub fn after(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(d.as_millis().min(i64::MAX as u128) as i64),
        )
    }

    /// `d` earlier, saturating.
    pub fn before(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(d.as_millis().min(i64::MAX as u128) as i64),
        )
    }

    /// How long after `earlier` this is; zero if it is not later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// As RFC 3339 with milliseconds, in UTC: how the API shows time.
    pub fn rfc3339(self) -> String {
        let at = UNIX_EPOCH + Duration::from_millis(self.0.max(0) as u64);
        humantime::format_rfc3339_millis(at).to_string()
    }

    /// Reads an RFC 3339 time such as `2026-11-23T12:00:00Z`.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        humantime::parse_rfc3339_weak(text).ok().map(Self::from)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(at: SystemTime) -> Self {
        let ms = at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
            .unwrap_or_default();
        Self(ms)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_never_goes_negative() {
        let t = Timestamp::from_ms(1_000);
        assert_eq!(t.after(Duration::from_secs(1)).as_ms(), 2_000);
        assert_eq!(t.before(Duration::from_secs(2)).as_ms(), -1_000);
        assert_eq!(t.since(t.after(Duration::from_secs(5))), Duration::ZERO);
        assert_eq!(
            Timestamp::from_ms(i64::MAX).after(Duration::MAX).as_ms(),
            i64::MAX
        );
    }

    #[test]
    fn rfc3339_round_trips_to_the_millisecond() {
        let t = Timestamp::from_ms(1_795_000_000_123);
        assert_eq!(Timestamp::parse_rfc3339(&t.rfc3339()), Some(t));
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
    }
}
