//! An endpoint's `rate_limit`: how many webhooks it accepts per period.

use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// At most `rate` webhooks per `period`, in bursts of up to `burst` after a
/// quiet spell (a token bucket). Past it a sender gets 429 with
/// `Retry-After`, and nothing is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Webhooks per period, at least 1.
    #[schema(value_type = u32, minimum = 1)]
    pub rate: NonZeroU32,
    /// `second`, `minute` or `hour`.
    #[serde(default)]
    pub period: RatePeriod,
    /// Webhooks accepted at once after a quiet spell; the rate when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u32>, minimum = 1)]
    pub burst: Option<NonZeroU32>,
}

/// The period of a [`RateLimit`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RatePeriod {
    /// Per second.
    #[default]
    Second,
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
}

impl RatePeriod {
    /// Its length.
    pub fn duration(self) -> Duration {
        Duration::from_secs(match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3600,
        })
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
        }
    }
}

impl RateLimit {
    /// The burst, the rate when none was given.
    pub fn burst(&self) -> NonZeroU32 {
        self.burst.unwrap_or(self.rate)
    }
}
