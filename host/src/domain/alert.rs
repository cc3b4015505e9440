//! Alerts: what an endpoint is watched for, the kinds of alert hookhost
//! raises, and where they are sent.

use serde::{Deserialize, Serialize};

/// Longest `expect_every_s`: thirty days.
pub const MAX_EXPECT_EVERY_S: u64 = 30 * 24 * 3600;
/// Longest failure-rate window: a day, which bounds the per-host buckets.
pub const MAX_WINDOW_S: u64 = 24 * 3600;
/// Most consecutive dead deliveries `pause_after_dead` may wait for.
pub const MAX_PAUSE_AFTER_DEAD: u32 = 10_000;

/// What an endpoint raises alerts about besides dead deliveries, which are
/// always reported to the tenant's destinations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointAlerts {
    /// Raise `endpoint.failing` when this share of the attempts in a window
    /// failed; each host judges the attempts it ran.
    pub failure_rate: Option<FailureRate>,
    /// Raise `endpoint.silent` when no webhook arrived for this long.
    #[schema(minimum = 1)]
    pub expect_every_s: Option<u64>,
    /// Pause the endpoint after this many dead deliveries in a row (if the
    /// tenant's policy has `allow_auto_pause`), raising `endpoint.paused`.
    #[schema(minimum = 1)]
    pub pause_after_dead: Option<u32>,
}

impl EndpointAlerts {
    /// Every field at fault, with why.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut wrong = Vec::new();
        if let Some(rate) = &self.failure_rate {
            if !(rate.threshold > 0.0 && rate.threshold <= 1.0) {
                wrong.push((
                    "alerts.failure_rate.threshold".into(),
                    "must be a share above 0 and at most 1 (0.5 is half the attempts)".into(),
                ));
            }
            if !(10..=MAX_WINDOW_S).contains(&rate.window_s) {
                wrong.push((
                    "alerts.failure_rate.window_s".into(),
                    format!("must be between 10 and {MAX_WINDOW_S} seconds"),
                ));
            }
            if rate.min_attempts == 0 {
                wrong.push((
                    "alerts.failure_rate.min_attempts".into(),
                    "must be at least 1".into(),
                ));
            }
        }
        if let Some(every) = self.expect_every_s
            && !(1..=MAX_EXPECT_EVERY_S).contains(&every)
        {
            wrong.push((
                "alerts.expect_every_s".into(),
                format!("must be between 1 and {MAX_EXPECT_EVERY_S} seconds"),
            ));
        }
        if let Some(n) = self.pause_after_dead
            && !(1..=MAX_PAUSE_AFTER_DEAD).contains(&n)
        {
            wrong.push((
                "alerts.pause_after_dead".into(),
                format!("must be between 1 and {MAX_PAUSE_AFTER_DEAD}"),
            ));
        }
        wrong
    }
}

/// A failure-rate rule: over the last `window_s`, once at least
/// `min_attempts` attempts ran, a share of failed ones of `threshold` or
/// more raises an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureRate {
    /// The share of failed attempts, above 0 and at most 1.
    pub threshold: f64,
    /// The window, in seconds.
    pub window_s: u64,
    /// Fewest attempts in the window before the share counts.
    pub min_attempts: u32,
}

/// A validated threshold is a finite number, so equality is an equivalence.
impl Eq for FailureRate {}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum AlertKind {
    /// A delivery ran out of attempts, or its plugin rejected it.
    #[serde(rename = "delivery.dead")]
    DeliveryDead,
    /// An endpoint's failure rate went over its threshold.
    #[serde(rename = "endpoint.failing")]
    EndpointFailing,
    /// An endpoint received nothing for longer than `expect_every_s`.
    #[serde(rename = "endpoint.silent")]
    EndpointSilent,
    /// An endpoint was paused after `pause_after_dead` dead deliveries.
    #[serde(rename = "endpoint.paused")]
    EndpointPaused,
}

impl AlertKind {
    /// The name alerts carry as their `type`, and the store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeliveryDead => "delivery.dead",
            Self::EndpointFailing => "endpoint.failing",
            Self::EndpointSilent => "endpoint.silent",
            Self::EndpointPaused => "endpoint.paused",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::DeliveryDead,
            Self::EndpointFailing,
            Self::EndpointSilent,
            Self::EndpointPaused,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// How an alert destination is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DestinationKind {
    /// A JSON event signed with Standard Webhooks.
    Webhook,
    /// A Slack-compatible incoming webhook: `{"text": "…"}`.
    Slack,
}

impl DestinationKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webhook" => Some(Self::Webhook),
            "slack" => Some(Self::Slack),
            _ => None,
        }
    }
}

/// Longest destination URL.
pub const MAX_DESTINATION_URL_BYTES: usize = 2048;

/// Checks a destination URL's shape: http or https, a host, at most
/// [`MAX_DESTINATION_URL_BYTES`], no credentials (they would be shown).
pub fn check_destination_url(raw: &str) -> Result<url::Url, String> {
    if raw.len() > MAX_DESTINATION_URL_BYTES {
        return Err(format!("at most {MAX_DESTINATION_URL_BYTES} bytes"));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err("must be an http or https URL with a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold credentials".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_out_of_range_are_named_and_sound_ones_pass() {
        let ok = EndpointAlerts {
            failure_rate: Some(FailureRate {
                threshold: 0.5,
                window_s: 300,
                min_attempts: 10,
            }),
            expect_every_s: Some(3600),
            pause_after_dead: Some(5),
        };
        assert!(ok.validate().is_empty());
        let bad = EndpointAlerts {
            failure_rate: Some(FailureRate {
                threshold: 1.5,
                window_s: 1,
                min_attempts: 0,
            }),
            expect_every_s: Some(0),
            pause_after_dead: Some(0),
        };
        let fields: Vec<String> = bad.validate().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields.len(), 5, "{fields:?}");
    }

    #[test]
    fn destination_urls_are_http_with_a_host_and_no_credentials() {
        assert!(check_destination_url("https://hooks.slack.com/services/T/B/x").is_ok());
        for bad in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "not a url",
            &format!("https://example.com/{}", "a".repeat(2048)),
        ] {
            assert!(check_destination_url(bad).is_err(), "{bad}");
        }
    }
}
