//! The entries of an endpoint's `event_types`: which events run its plugin.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest pattern, in bytes.
pub const MAX_PATTERN_BYTES: usize = 128;

/// An event type, or a pattern of them where `*` stands for any run of
/// characters: `push`, `payment_intent.*`, `*.failed`, `*`.
///
/// A pattern is kept split at its stars, so matching is a prefix, a suffix
/// and a left-to-right search for each part between: linear in the event
/// type whatever the pattern, so no pattern a tenant writes can make
/// matching expensive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventTypePattern {
    text: String,
    /// The literal runs between stars; one more than the stars.
    parts: Vec<String>,
}

/// Why an `event_types` entry was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "event type pattern {0:?} is not valid: use 1 to {MAX_PATTERN_BYTES} printable characters, `*` standing for any run of them"
)]
pub struct InvalidEventTypePattern(String);

impl FromStr for EventTypePattern {
    type Err = InvalidEventTypePattern;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > MAX_PATTERN_BYTES || s.chars().any(char::is_control) {
            return Err(InvalidEventTypePattern(s.to_owned()));
        }
        Ok(Self {
            text: s.to_owned(),
            parts: s.split('*').map(str::to_owned).collect(),
        })
    }
}

impl EventTypePattern {
    /// Whether `event_type` matches.
    pub fn matches(&self, event_type: &str) -> bool {
        let (first, rest) = self.parts.split_first().expect("split yields one part");
        let Some(mut left) = event_type.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return left.is_empty();
        };
        for part in middle {
            match left.find(part.as_str()) {
                Some(at) => left = &left[at + part.len()..],
                None => return false,
            }
        }
        left.ends_with(last.as_str())
    }
}

/// Whether an event of type `event_type` runs the plugin of an endpoint
/// whose `event_types` are `patterns`: every event when there are none; an
/// event without a type only under `*`.
pub fn runs(patterns: &[EventTypePattern], event_type: Option<&str>) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| {
            p.matches(event_type.unwrap_or_default()) && (event_type.is_some() || p.text == "*")
        })
}

impl TryFrom<String> for EventTypePattern {
    type Error = InvalidEventTypePattern;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EventTypePattern> for String {
    fn from(p: EventTypePattern) -> Self {
        p.text
    }
}

impl fmt::Display for EventTypePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> EventTypePattern {
        s.parse().unwrap()
    }

    #[test]
    fn a_pattern_without_a_star_matches_only_itself() {
        assert!(p("push").matches("push"));
        assert!(!p("push").matches("push.x"));
        assert!(!p("push").matches("pus"));
    }

    #[test]
    fn a_star_matches_any_run_of_characters_including_none() {
        assert!(p("payment_intent.*").matches("payment_intent.succeeded"));
        assert!(p("payment_intent.*").matches("payment_intent."));
        assert!(!p("payment_intent.*").matches("payment_intent"));
        assert!(!p("payment_intent.*").matches("charge.succeeded"));
        assert!(p("*.failed").matches("invoice.payment.failed"));
        assert!(!p("*.failed").matches("invoice.failed.retry"));
        assert!(p("a*b*c").matches("abc"));
        assert!(p("a*b*c").matches("a-b-b-c"));
        assert!(!p("a*b*c").matches("a-c-b"));
        assert!(p("a*a").matches("aa"));
        assert!(!p("a*a").matches("a"));
        assert!(p("*").matches(""));
        assert!(p("**").matches("anything"));
    }

    #[test]
    fn no_patterns_run_everything_and_an_untyped_event_runs_only_under_a_lone_star() {
        assert!(runs(&[], None));
        assert!(runs(&[], Some("x")));
        assert!(!runs(&[p("x*")], None));
        assert!(!runs(&[p("*x")], None));
        assert!(runs(&[p("x*"), p("*")], None));
        assert!(runs(&[p("push"), p("issues.*")], Some("issues.opened")));
        assert!(!runs(&[p("push"), p("issues.*")], Some("pull_request")));
    }

    #[test]
    fn empty_overlong_and_control_character_patterns_are_refused() {
        for bad in ["", "a\nb", &"x".repeat(MAX_PATTERN_BYTES + 1)] {
            assert!(bad.parse::<EventTypePattern>().is_err(), "{bad:?}");
        }
        assert!(
            "x".repeat(MAX_PATTERN_BYTES)
                .parse::<EventTypePattern>()
                .is_ok()
        );
    }
}
