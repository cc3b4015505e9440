//! Who signs an endpoint's deliveries and, for the generic `hmac` provider,
//! how: the verification settings an endpoint is configured with. The code
//! that checks signatures lives in `ingress`.

use std::fmt;
use std::str::FromStr;

use http::HeaderName;
use serde::{Deserialize, Serialize};

/// Who signs an endpoint's deliveries. Chosen per endpoint, never guessed from
/// the request: the schemes differ in headers, key and signed content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// [Standard Webhooks](https://www.standardwebhooks.com/), also sent by Svix.
    StandardWebhooks,
    /// Stripe's `Stripe-Signature`.
    Stripe,
    /// GitHub's `X-Hub-Signature-256`.
    Github,
    /// Shopify's `X-Shopify-Hmac-Sha256`.
    Shopify,
    /// Slack's `X-Slack-Signature`.
    Slack,
    /// Any other sender that puts an HMAC in a header, described by an [`HmacScheme`].
    Hmac,
    /// No verification: the endpoint accepts unsigned deliveries, by explicit choice.
    None,
}

impl Provider {
    /// Every provider, in the order they are listed to people.
    pub const ALL: &'static [Provider] = &[
        Provider::StandardWebhooks,
        Provider::Stripe,
        Provider::Github,
        Provider::Shopify,
        Provider::Slack,
        Provider::Hmac,
        Provider::None,
    ];

    /// The name used in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::StandardWebhooks => "standard-webhooks",
            Provider::Stripe => "stripe",
            Provider::Github => "github",
            Provider::Shopify => "shopify",
            Provider::Slack => "slack",
            Provider::Hmac => "hmac",
            Provider::None => "none",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider name that is not one of [`Provider::ALL`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown provider {0:?}: use one of {names}", names = provider_names())]
pub struct UnknownProvider(String);

fn provider_names() -> String {
    let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
    names.join(", ")
}

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// The hash of the generic `hmac` provider. `sha1` only for senders that
/// still use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// How the generic `hmac` provider's signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    /// Hexadecimal, either case.
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// The layout of the generic `hmac` provider, for senders without a scheme of
/// their own here: which header holds the signature, how it is computed and
/// written, and what is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HmacScheme {
    /// The header holding the signature, e.g. `X-Signature`.
    pub header: String,
    /// The HMAC hash.
    pub algorithm: HmacAlgorithm,
    /// How the signature is written.
    pub encoding: SignatureEncoding,
    /// Text before the signature in the header, e.g. `sha256=`; required when set.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The header holding the Unix time in seconds of signing. When set, the
    /// timestamp is signed and the endpoint's tolerance applies.
    #[serde(default)]
    pub timestamp_header: Option<String>,
    /// What is signed: a template with `{body}` once and, when
    /// `timestamp_header` is set, `{timestamp}`. Defaults to
    /// `{timestamp}.{body}` with a timestamp header, `{body}` without.
    #[serde(default)]
    pub payload: Option<String>,
    /// The header where the sender puts its event id, for deduplication.
    #[serde(default)]
    pub event_id_header: Option<String>,
}

impl HmacScheme {
    /// Checks the scheme when an endpoint is configured, so a mistake shows up
    /// then rather than as every delivery failing verification.
    pub fn validate(&self) -> Result<(), String> {
        let mut headers = vec![("header", self.header.as_str())];
        if let Some(name) = &self.timestamp_header {
            headers.push(("timestamp_header", name));
        }
        if let Some(name) = &self.event_id_header {
            headers.push(("event_id_header", name));
        }
        for (i, (field, name)) in headers.iter().enumerate() {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(format!("{field} {name:?} is not a valid HTTP header name"));
            }
            if let Some((other, _)) = headers[..i]
                .iter()
                .find(|(_, earlier)| earlier.eq_ignore_ascii_case(name))
            {
                return Err(format!(
                    "{other} and {field} both name the header {name:?}: each needs its own header"
                ));
            }
        }
        // What a header value can hold and still be read back: visible ASCII
        // and inner spaces (a leading one is trimmed away in transit).
        if let Some(prefix) = &self.prefix
            && (prefix.is_empty()
                || prefix.starts_with(' ')
                || !prefix.bytes().all(|b| b == b' ' || b.is_ascii_graphic()))
        {
            return Err("prefix must be non-empty visible ASCII; omit it when the header holds only the signature".to_owned());
        }
        let payload = self.payload_template();
        if payload.matches("{body}").count() != 1 {
            return Err(format!(
                "payload {payload:?} must contain {{body}} exactly once"
            ));
        }
        match (
            self.timestamp_header.is_some(),
            payload.contains("{timestamp}"),
        ) {
            (false, true) => {
                return Err(format!(
                    "payload {payload:?} uses {{timestamp}} but timestamp_header is not set"
                ));
            }
            (true, false) => {
                return Err(format!(
                    "payload {payload:?} must contain {{timestamp}} when timestamp_header is set: an unsigned timestamp protects against nothing"
                ));
            }
            _ => {}
        }
        if payload
            .replace("{body}", "")
            .replace("{timestamp}", "")
            .contains(['{', '}'])
        {
            return Err(format!(
                "payload {payload:?} may use only the placeholders {{body}} and {{timestamp}}"
            ));
        }
        Ok(())
    }

    /// The signed-payload template, with the default applied.
    pub(crate) fn payload_template(&self) -> &str {
        match (&self.payload, &self.timestamp_header) {
            (Some(payload), _) => payload,
            (None, Some(_)) => "{timestamp}.{body}",
            (None, None) => "{body}",
        }
    }
}
