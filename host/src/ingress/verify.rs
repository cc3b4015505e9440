//! The verification contract every endpoint shares: which providers exist,
//! what verifying a delivery needs, how it fails, and the dispatch to the
//! per-provider code in [`super::providers`].

use std::fmt;
use std::time::{Duration, SystemTime};

use http::HeaderMap;

use super::providers::{github, hmac as generic, shopify, slack, standard_webhooks, stripe};
use crate::domain::{HmacScheme, Provider};

/// What verifying an endpoint's deliveries needs, borrowed from its configuration.
#[derive(Clone, Copy)]
pub struct VerifyConfig<'a> {
    /// The endpoint's provider.
    pub provider: Provider,
    /// The active secrets; a signature valid for any of them passes, so a
    /// secret can be rotated without losing deliveries.
    pub secrets: &'a [String],
    /// The layout, for [`Provider::Hmac`] only.
    pub hmac: Option<&'a HmacScheme>,
    /// How far a signed timestamp may be from now, in either direction.
    pub tolerance: Duration,
}

impl fmt::Debug for VerifyConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyConfig")
            .field("provider", &self.provider)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("hmac", &self.hmac)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// Provider-specific identity of a delivery: the event id deduplicates
/// redeliveries, the event type is shown to people and handlers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The sender's id for the event, stable across its redeliveries.
    pub event_id: Option<String>,
    /// The sender's name for the kind of event, e.g. `invoice.paid`.
    pub event_type: Option<String>,
}

/// Why a delivery was not accepted as coming from the endpoint's sender.
/// Messages are meant for the person configuring the endpoint and never
/// contain a secret or an expected signature.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// A header the provider always sends is absent.
    #[error(
        "missing header {0}: check that the endpoint's provider matches the sender and that no proxy strips headers"
    )]
    MissingHeader(String),
    /// A header is present but cannot be read as the provider writes it.
    #[error("header {header} is malformed: {reason}")]
    MalformedHeader {
        /// The header.
        header: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The signature is valid but its timestamp is too old or too far ahead:
    /// a replay, or a clock that is off.
    #[error(
        "header {header} is {}, outside the tolerance of {tolerance_s} s: the delivery is a replay or a clock is off",
        describe_skew(*.skew_s)
    )]
    TimestampOutsideTolerance {
        /// The header holding the timestamp.
        header: String,
        /// Now minus the timestamp, in seconds: positive when it is in the past.
        skew_s: i64,
        /// The endpoint's tolerance, in seconds.
        tolerance_s: u64,
    },
    /// No signature in the request is valid for any of the endpoint's secrets.
    #[error(
        "no signature matches any of the endpoint's secrets: check the secret, and that nothing between the sender and hookhost changes the body"
    )]
    NoMatchingSignature,
    /// The endpoint has a provider that signs but no secret to check with.
    #[error(
        "the endpoint has no secrets: add the sender's signing secret, or choose provider none to accept unsigned deliveries"
    )]
    NoSecrets,
    /// The endpoint's verification settings are unusable: an `hmac` endpoint
    /// without a valid [`HmacScheme`], or a secret in the wrong format.
    #[error("the endpoint's verification is misconfigured: {0}")]
    Misconfigured(String),
}

fn describe_skew(skew_s: i64) -> String {
    if skew_s >= 0 {
        format!("{skew_s} s old")
    } else {
        format!("{} s in the future", skew_s.unsigned_abs())
    }
}

impl VerifyError {
    /// A stable machine name for the failed check, for metrics and API answers.
    pub fn check(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing-header",
            VerifyError::MalformedHeader { .. } => "malformed-header",
            VerifyError::TimestampOutsideTolerance { .. } => "timestamp",
            VerifyError::NoMatchingSignature => "signature",
            VerifyError::NoSecrets => "no-secrets",
            VerifyError::Misconfigured(_) => "configuration",
        }
    }
}

/// Why headers for a delivery could not be produced.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    /// The secret is not in the provider's format.
    #[error("the secret is not usable for provider {provider}: {reason}")]
    InvalidSecret {
        /// The provider.
        provider: Provider,
        /// What is wrong with the secret.
        reason: String,
    },
    /// `hmac` without a valid [`HmacScheme`].
    #[error("signing is misconfigured: {0}")]
    Misconfigured(String),
    /// The event id or type cannot be sent in a header.
    #[error("the value for header {header} is not a valid header value: use visible ASCII only")]
    InvalidHeaderValue {
        /// The header.
        header: String,
    },
}

/// Checks that `body` with `headers` was signed by the endpoint's sender, at a
/// time within the tolerance of `now`. The signature is checked before the
/// timestamp, so a timestamp error means an authentic but stale delivery.
pub fn verify(
    cfg: &VerifyConfig<'_>,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), VerifyError> {
    type Check = fn(&VerifyConfig<'_>, &HeaderMap, &[u8], SystemTime) -> Result<(), VerifyError>;
    let check: Check = match cfg.provider {
        Provider::None => return Ok(()),
        Provider::StandardWebhooks => standard_webhooks::verify,
        Provider::Stripe => stripe::verify,
        Provider::Github => github::verify,
        Provider::Shopify => shopify::verify,
        Provider::Slack => slack::verify,
        Provider::Hmac => generic::verify,
    };
    if cfg.secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    for (i, secret) in cfg.secrets.iter().enumerate() {
        validate_secret(cfg.provider, secret).map_err(|reason| {
            VerifyError::Misconfigured(format!(
                "secret {} of {}: {reason}",
                i + 1,
                cfg.secrets.len()
            ))
        })?;
    }
    check(cfg, headers, body, now)
}

/// The event id and type of a delivery, as its provider conveys them. Call it
/// after [`verify`]: GitHub's and Shopify's id and type headers are not
/// covered by their signatures.
pub fn identify(
    provider: Provider,
    hmac: Option<&HmacScheme>,
    headers: &HeaderMap,
    body: &[u8],
) -> Identity {
    match provider {
        Provider::StandardWebhooks => standard_webhooks::identify(headers, body),
        Provider::Stripe => stripe::identify(body),
        Provider::Github => github::identify(headers),
        Provider::Shopify => shopify::identify(headers),
        Provider::Slack => slack::identify(body),
        Provider::Hmac => generic::identify(hmac, headers),
        Provider::None => Identity::default(),
    }
}

/// Headers a provider would send for `body`: the signature headers plus the
/// id, timestamp and event-type headers the provider sends. `event_id` and
/// `event_type` are used only by providers that carry them in headers; the
/// others carry them in the body. [`Provider::None`] sends no headers.
pub fn sign(
    provider: Provider,
    secret: &str,
    hmac: Option<&HmacScheme>,
    body: &[u8],
    event_id: &str,
    event_type: Option<&str>,
    now: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    if provider != Provider::None {
        validate_secret(provider, secret)
            .map_err(|reason| SignError::InvalidSecret { provider, reason })?;
    }
    let headers = match provider {
        Provider::StandardWebhooks => standard_webhooks::sign(secret, body, event_id, now)?,
        Provider::Stripe => stripe::sign(secret, body, now),
        Provider::Github => github::sign(secret, body, event_id, event_type),
        Provider::Shopify => shopify::sign(secret, body, event_id, event_type),
        Provider::Slack => slack::sign(secret, body, now),
        Provider::Hmac => generic::sign(hmac, secret, body, event_id, now)?,
        Provider::None => Vec::new(),
    };
    // Only what a verifier reads back: visible ASCII, spaces and tabs
    // (`HeaderValue` itself would take other bytes too).
    let readable = |value: &str| {
        value
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    };
    if let Some((header, _)) = headers.iter().find(|(_, value)| !readable(value)) {
        return Err(SignError::InvalidHeaderValue {
            header: header.clone(),
        });
    }
    Ok(headers)
}

/// Checks a secret's format for the provider when an endpoint is configured:
/// standard-webhooks takes `whsec_` followed by base64 (or the bare base64);
/// the others take any non-empty text, used as it is.
pub fn validate_secret(provider: Provider, secret: &str) -> Result<(), String> {
    match provider {
        Provider::StandardWebhooks => standard_webhooks::key(secret).map(drop),
        _ if secret.is_empty() => {
            Err("the secret is empty: use the signing secret the sender shows".to_owned())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{HmacAlgorithm, SignatureEncoding};
    use crate::ingress::providers::testkit::{all_vectors, at, config, header_map, secrets};

    fn signed_timestamp(provider: Provider, headers: &HeaderMap) -> Option<u64> {
        let value = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        let text = match provider {
            Provider::StandardWebhooks => value("webhook-timestamp"),
            Provider::Slack => value("x-slack-request-timestamp"),
            Provider::Stripe => value("stripe-signature").and_then(|v| {
                v.split(',')
                    .find_map(|item| item.strip_prefix("t=").map(str::to_owned))
            }),
            _ => None,
        }?;
        Some(text.parse().unwrap())
    }

    #[test]
    fn every_vector_verifies_through_dispatch_as_its_valid_field_says() {
        for vector in all_vectors() {
            let headers = header_map(&vector.headers);
            let now = at(signed_timestamp(vector.provider, &headers).unwrap_or(1_700_000_000));
            let secrets = [vector.secret.clone()];
            let result = verify(
                &config(vector.provider, &secrets),
                &headers,
                vector.body.as_bytes(),
                now,
            );
            assert_eq!(
                result.is_ok(),
                vector.valid,
                "{}: {result:?}",
                vector.source
            );
        }
    }

    #[test]
    fn timestamped_vectors_fail_tolerance_at_the_real_clock() {
        let mut checked = 0;
        for vector in all_vectors().into_iter().filter(|v| v.valid) {
            let headers = header_map(&vector.headers);
            if signed_timestamp(vector.provider, &headers).is_none() {
                continue;
            }
            let secrets = [vector.secret.clone()];
            let result = verify(
                &config(vector.provider, &secrets),
                &headers,
                vector.body.as_bytes(),
                SystemTime::now(),
            );
            assert!(
                matches!(result, Err(VerifyError::TimestampOutsideTolerance { skew_s, .. }) if skew_s > 0),
                "{}: {result:?}",
                vector.source
            );
            checked += 1;
        }
        assert!(checked >= 3);
    }

    #[test]
    fn provider_none_verifies_nothing_even_without_secrets_or_headers() {
        let cfg = config(Provider::None, &[]);
        assert_eq!(verify(&cfg, &HeaderMap::new(), b"anything", at(0)), Ok(()));
    }

    #[test]
    fn every_signing_provider_without_secrets_is_no_secrets() {
        for &provider in Provider::ALL.iter().filter(|&&p| p != Provider::None) {
            let cfg = config(provider, &[]);
            let err = verify(&cfg, &HeaderMap::new(), b"{}", at(0)).unwrap_err();
            assert_eq!(err, VerifyError::NoSecrets, "{provider}");
            assert_eq!(err.check(), "no-secrets");
        }
    }

    #[test]
    fn an_empty_secret_is_a_configuration_error_naming_its_position() {
        let list = secrets(&["good", ""]);
        let err = verify(
            &config(Provider::Github, &list),
            &HeaderMap::new(),
            b"",
            at(0),
        )
        .unwrap_err();
        assert_eq!(err.check(), "configuration");
        assert!(err.to_string().contains("secret 2 of 2"), "{err}");
    }

    #[test]
    fn hmac_without_a_scheme_is_a_configuration_error() {
        let list = secrets(&["s"]);
        let err = verify(
            &config(Provider::Hmac, &list),
            &HeaderMap::new(),
            b"",
            at(0),
        )
        .unwrap_err();
        assert_eq!(err.check(), "configuration");
        assert!(err.to_string().contains("hmac"), "{err}");
    }

    #[test]
    fn every_signing_provider_round_trips_through_sign_and_verify() {
        let scheme = HmacScheme {
            header: "X-Signature".to_owned(),
            algorithm: HmacAlgorithm::Sha256,
            encoding: SignatureEncoding::Hex,
            prefix: None,
            timestamp_header: Some("X-Timestamp".to_owned()),
            payload: None,
            event_id_header: Some("X-Event-Id".to_owned()),
        };
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"id":"evt_1","type":"thing.happened"}"#;
        for &provider in Provider::ALL {
            let signed = sign(
                provider,
                secret,
                Some(&scheme),
                body,
                "evt_1",
                Some("thing.happened"),
                at(1_700_000_000),
            )
            .unwrap();
            let list = [secret.to_owned()];
            let cfg = VerifyConfig {
                hmac: Some(&scheme),
                ..config(provider, &list)
            };
            let headers = header_map(signed.clone());
            assert_eq!(
                verify(&cfg, &headers, body, at(1_700_000_100)),
                Ok(()),
                "{provider}"
            );
            let identity = identify(provider, Some(&scheme), &headers, body);
            if provider != Provider::Slack && provider != Provider::None {
                assert_eq!(identity.event_id.as_deref(), Some("evt_1"), "{provider}");
            }
        }
    }

    #[test]
    fn sign_refuses_an_event_id_that_cannot_be_a_header_value() {
        // Non-ASCII found by the verify fuzz target: a header may carry it,
        // but no verifier reads it back.
        for id in ["evt\n1", "evt_\u{e9}"] {
            let err = sign(Provider::Github, "s", None, b"", id, None, at(0)).unwrap_err();
            assert_eq!(
                err,
                SignError::InvalidHeaderValue {
                    header: "X-GitHub-Delivery".to_owned()
                }
            );
        }
    }

    #[test]
    fn sign_refuses_a_secret_in_the_wrong_format() {
        let err = sign(
            Provider::StandardWebhooks,
            "whsec_!!",
            None,
            b"",
            "msg_1",
            None,
            at(0),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                SignError::InvalidSecret {
                    provider: Provider::StandardWebhooks,
                    ..
                }
            ),
            "{err}"
        );
        assert!(!err.to_string().contains("whsec_!!"), "{err}");
    }

    #[test]
    fn provider_names_round_trip_through_from_str_display_and_serde() {
        for &provider in Provider::ALL {
            assert_eq!(provider.as_str().parse::<Provider>(), Ok(provider));
            assert_eq!(provider.to_string(), provider.as_str());
            let json = serde_json::to_string(&provider).unwrap();
            assert_eq!(json, format!("\"{}\"", provider.as_str()));
            assert_eq!(serde_json::from_str::<Provider>(&json).unwrap(), provider);
        }
    }

    #[test]
    fn an_unknown_provider_name_lists_the_valid_ones() {
        let err = "svix".parse::<Provider>().unwrap_err().to_string();
        assert!(err.contains("\"svix\""), "{err}");
        for provider in Provider::ALL {
            assert!(err.contains(provider.as_str()), "{err}");
        }
    }

    #[test]
    fn secrets_are_validated_per_provider() {
        assert_eq!(
            validate_secret(
                Provider::StandardWebhooks,
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            ),
            Ok(())
        );
        assert_eq!(
            validate_secret(
                Provider::StandardWebhooks,
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            ),
            Ok(())
        );
        assert!(validate_secret(Provider::StandardWebhooks, "whsec_").is_err());
        assert!(validate_secret(Provider::StandardWebhooks, "whsec_not base64!").is_err());
        for &provider in Provider::ALL
            .iter()
            .filter(|&&p| p != Provider::StandardWebhooks)
        {
            assert_eq!(validate_secret(provider, "any text"), Ok(()), "{provider}");
            assert!(validate_secret(provider, "").is_err(), "{provider}");
        }
    }

    #[test]
    fn a_secret_is_never_echoed_in_a_validation_message() {
        let secret = "whsec_secret-with-dashes";
        let reason = validate_secret(Provider::StandardWebhooks, secret).unwrap_err();
        assert!(!reason.contains("secret-with-dashes"), "{reason}");
    }

    #[test]
    fn errors_have_stable_check_names_and_no_secret_or_expected_signature() {
        let secret = "whsec_test_secret";
        let body = br#"{"id":"evt_1"}"#;
        let signed = sign(
            Provider::Stripe,
            secret,
            None,
            body,
            "evt_1",
            None,
            at(1_700_000_000),
        )
        .unwrap();
        let expected = signed[0].1.split("v1=").nth(1).unwrap().to_owned();
        let list = [secret.to_owned()];
        let cfg = config(Provider::Stripe, &list);
        let headers = header_map(signed.clone());
        let cases = [
            (
                verify(&cfg, &headers, b"{}", at(1_700_000_000)),
                "signature",
            ),
            (verify(&cfg, &headers, body, at(1_700_001_000)), "timestamp"),
            (
                verify(&cfg, &HeaderMap::new(), body, at(0)),
                "missing-header",
            ),
            (
                verify(
                    &cfg,
                    &header_map([("Stripe-Signature", "nonsense")]),
                    body,
                    at(0),
                ),
                "malformed-header",
            ),
        ];
        for (result, check) in cases {
            let err = result.unwrap_err();
            assert_eq!(err.check(), check);
            let message = err.to_string();
            assert!(
                !message.contains("test_secret") && !message.contains(&expected),
                "{message}"
            );
        }
    }

    #[test]
    fn timestamp_messages_say_whether_the_delivery_is_old_or_ahead() {
        let old = VerifyError::TimestampOutsideTolerance {
            header: "webhook-timestamp".to_owned(),
            skew_s: 900,
            tolerance_s: 300,
        };
        assert!(old.to_string().contains("900 s old"), "{old}");
        let ahead = VerifyError::TimestampOutsideTolerance {
            header: "webhook-timestamp".to_owned(),
            skew_s: -900,
            tolerance_s: 300,
        };
        assert!(ahead.to_string().contains("900 s in the future"), "{ahead}");
    }

    #[test]
    fn config_debug_output_redacts_the_secrets() {
        let list = secrets(&["hunter2", "swordfish"]);
        let debug = format!("{:?}", config(Provider::Github, &list));
        assert!(
            !debug.contains("hunter2") && !debug.contains("swordfish"),
            "{debug}"
        );
        assert!(debug.contains("2 redacted"), "{debug}");
    }

    fn scheme() -> HmacScheme {
        HmacScheme {
            header: "X-Signature".to_owned(),
            algorithm: HmacAlgorithm::Sha256,
            encoding: SignatureEncoding::Base64,
            prefix: None,
            timestamp_header: None,
            payload: None,
            event_id_header: None,
        }
    }

    #[test]
    fn hmac_scheme_defaults_its_payload_to_the_body_or_timestamp_dot_body() {
        assert_eq!(scheme().payload_template(), "{body}");
        let timed = HmacScheme {
            timestamp_header: Some("X-Timestamp".to_owned()),
            ..scheme()
        };
        assert_eq!(timed.payload_template(), "{timestamp}.{body}");
        assert_eq!(scheme().validate(), Ok(()));
        assert_eq!(timed.validate(), Ok(()));
    }

    #[test]
    fn hmac_scheme_validation_refuses_each_mistake() {
        let with_ts = |s: HmacScheme| HmacScheme {
            timestamp_header: Some("X-Timestamp".to_owned()),
            ..s
        };
        let bad = [
            HmacScheme {
                header: "X Signature".to_owned(),
                ..scheme()
            },
            HmacScheme {
                header: String::new(),
                ..scheme()
            },
            with_ts(HmacScheme {
                timestamp_header: None,
                event_id_header: Some("bad header".to_owned()),
                ..scheme()
            }),
            HmacScheme {
                event_id_header: Some("x-signature".to_owned()),
                ..scheme()
            },
            HmacScheme {
                prefix: Some(String::new()),
                ..scheme()
            },
            HmacScheme {
                payload: Some("{timestamp}.{body}".to_owned()),
                ..scheme()
            },
            with_ts(HmacScheme {
                payload: Some("{body}".to_owned()),
                ..scheme()
            }),
            HmacScheme {
                payload: Some("prefix".to_owned()),
                ..scheme()
            },
            HmacScheme {
                payload: Some("{body}{body}".to_owned()),
                ..scheme()
            },
            HmacScheme {
                payload: Some("{id}.{body}".to_owned()),
                ..scheme()
            },
        ];
        for scheme in bad {
            assert!(scheme.validate().is_err(), "{scheme:?}");
        }
    }

    #[test]
    fn hmac_scheme_reads_from_json_with_lowercase_names_and_refuses_unknown_fields() {
        let parsed: HmacScheme = serde_json::from_str(
            r#"{"header":"X-Signature","algorithm":"sha512","encoding":"hex","prefix":"sha512="}"#,
        )
        .unwrap();
        assert_eq!(parsed.algorithm, HmacAlgorithm::Sha512);
        assert_eq!(parsed.encoding, SignatureEncoding::Hex);
        assert_eq!(parsed.prefix.as_deref(), Some("sha512="));
        let unknown =
            r#"{"header":"X-Signature","algorithm":"sha256","encoding":"hex","secret":"x"}"#;
        assert!(serde_json::from_str::<HmacScheme>(unknown).is_err());
    }
}
