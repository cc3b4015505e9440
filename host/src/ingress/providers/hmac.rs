//! The generic `hmac` provider, for senders without a scheme of their own:
//! an HMAC in one header, laid out as the endpoint's [`HmacScheme`] says.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;

use super::{
    any_signature_matches, check_tolerance, header_text, mac, malformed, parse_timestamp,
    required_header, unix_seconds,
};
use crate::domain::{HmacScheme, SignatureEncoding};
use crate::ingress::verify::{Identity, SignError, VerifyConfig, VerifyError};

/// A validated scheme with its payload template split around `{body}`.
struct Configured<'s> {
    scheme: &'s HmacScheme,
    before_body: &'s str,
    after_body: &'s str,
}

impl<'s> Configured<'s> {
    fn new(scheme: Option<&'s HmacScheme>) -> Result<Self, String> {
        let scheme = scheme.ok_or(
            "provider hmac needs an `hmac` section saying which header holds the signature, the algorithm and the encoding",
        )?;
        scheme.validate()?;
        let (before_body, after_body) = scheme
            .payload_template()
            .split_once("{body}")
            .ok_or("the payload template has no {body}")?;
        Ok(Self {
            scheme,
            before_body,
            after_body,
        })
    }

    /// The signed text around the body, with the timestamp filled in.
    fn around_body(&self, timestamp: Option<&str>) -> (String, String) {
        let fill = |text: &str| match timestamp {
            Some(timestamp) => text.replace("{timestamp}", timestamp),
            None => text.to_owned(),
        };
        (fill(self.before_body), fill(self.after_body))
    }
}

/// Checks the signature, then the timestamp when the scheme signs one.
pub(crate) fn verify(
    cfg: &VerifyConfig<'_>,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), VerifyError> {
    let configured = Configured::new(cfg.hmac).map_err(VerifyError::Misconfigured)?;
    let scheme = configured.scheme;
    let value = required_header(headers, &scheme.header)?;
    let encoded = match &scheme.prefix {
        Some(prefix) => value.strip_prefix(prefix.as_str()).ok_or_else(|| {
            malformed(
                &scheme.header,
                format!("expected the signature after {prefix:?}"),
            )
        })?,
        None => value,
    };
    let signature = match scheme.encoding {
        SignatureEncoding::Hex => hex::decode(encoded)
            .map_err(|_| malformed(&scheme.header, "the signature is not hex"))?,
        SignatureEncoding::Base64 => STANDARD
            .decode(encoded)
            .map_err(|_| malformed(&scheme.header, "the signature is not valid base64"))?,
    };
    let timestamp = match &scheme.timestamp_header {
        Some(name) => {
            let value = required_header(headers, name)?;
            Some((name, value, parse_timestamp(name, value)?))
        }
        None => None,
    };
    let (before, after) = configured.around_body(timestamp.map(|(_, value, _)| value));
    let keys = cfg.secrets.iter().map(|secret| secret.as_bytes());
    let parts = [before.as_bytes(), body, after.as_bytes()];
    if !any_signature_matches(scheme.algorithm, keys, &parts, &[signature]) {
        return Err(VerifyError::NoMatchingSignature);
    }
    match timestamp {
        Some((name, _, signed_at)) => check_tolerance(name, signed_at, now, cfg.tolerance),
        None => Ok(()),
    }
}

/// The id from the scheme's `event_id_header`; the scheme has no event type.
pub(crate) fn identify(scheme: Option<&HmacScheme>, headers: &HeaderMap) -> Identity {
    Identity {
        event_id: scheme
            .and_then(|scheme| scheme.event_id_header.as_deref())
            .and_then(|name| header_text(headers, name)),
        event_type: None,
    }
}

/// The signature header, plus the timestamp and event id headers when the
/// scheme names them.
pub(crate) fn sign(
    scheme: Option<&HmacScheme>,
    secret: &str,
    body: &[u8],
    event_id: &str,
    now: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    let configured = Configured::new(scheme).map_err(SignError::Misconfigured)?;
    let scheme = configured.scheme;
    let timestamp = scheme
        .timestamp_header
        .as_ref()
        .map(|_| unix_seconds(now).to_string());
    let (before, after) = configured.around_body(timestamp.as_deref());
    let signature = mac(
        scheme.algorithm,
        secret.as_bytes(),
        &[before.as_bytes(), body, after.as_bytes()],
    );
    let encoded = match scheme.encoding {
        SignatureEncoding::Hex => hex::encode(signature),
        SignatureEncoding::Base64 => STANDARD.encode(signature),
    };
    let prefix = scheme.prefix.as_deref().unwrap_or_default();
    let mut headers = vec![(scheme.header.clone(), format!("{prefix}{encoded}"))];
    if let (Some(name), Some(timestamp)) = (&scheme.timestamp_header, timestamp) {
        headers.push((name.clone(), timestamp));
    }
    if let Some(name) = &scheme.event_id_header {
        headers.push((name.clone(), event_id.to_owned()));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{HmacAlgorithm, Provider};
    use crate::ingress::providers::testkit::{
        TOLERANCE, at, flip_first_byte, header_map, secrets, set, vectors,
    };

    const SECRET: &str = "generic secret";
    const BODY: &[u8] = br#"{"event":"order.created","id":42}"#;
    const SIGNED_AT: u64 = 1_700_000_000;

    fn scheme() -> HmacScheme {
        HmacScheme {
            header: "X-Signature".to_owned(),
            algorithm: HmacAlgorithm::Sha256,
            encoding: SignatureEncoding::Hex,
            prefix: Some("sha256=".to_owned()),
            timestamp_header: Some("X-Timestamp".to_owned()),
            payload: None,
            event_id_header: Some("X-Event-Id".to_owned()),
        }
    }

    fn check(
        scheme: Option<&HmacScheme>,
        secret_list: &[&str],
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<(), VerifyError> {
        let list = secrets(secret_list);
        let cfg = VerifyConfig {
            provider: Provider::Hmac,
            secrets: &list,
            hmac: scheme,
            tolerance: TOLERANCE,
        };
        verify(&cfg, headers, body, at(now))
    }

    fn signed(scheme: &HmacScheme, secret: &str) -> HeaderMap {
        header_map(sign(Some(scheme), secret, BODY, "evt_42", at(SIGNED_AT)).unwrap())
    }

    #[test]
    fn hmac_round_trips_every_algorithm_encoding_prefix_and_timestamp_combination() {
        for algorithm in [
            HmacAlgorithm::Sha1,
            HmacAlgorithm::Sha256,
            HmacAlgorithm::Sha512,
        ] {
            for encoding in [SignatureEncoding::Hex, SignatureEncoding::Base64] {
                for prefix in [None, Some("sig=".to_owned())] {
                    for timestamp_header in [None, Some("X-Timestamp".to_owned())] {
                        let scheme = HmacScheme {
                            algorithm,
                            encoding,
                            prefix: prefix.clone(),
                            timestamp_header,
                            ..scheme()
                        };
                        let headers = signed(&scheme, SECRET);
                        assert_eq!(
                            check(Some(&scheme), &[SECRET], &headers, BODY, SIGNED_AT + 10),
                            Ok(()),
                            "{scheme:?}"
                        );
                        assert_eq!(
                            check(
                                Some(&scheme),
                                &[SECRET],
                                &headers,
                                &flip_first_byte(BODY),
                                SIGNED_AT
                            ),
                            Err(VerifyError::NoMatchingSignature),
                            "{scheme:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_prefix_no_header_could_carry_back_is_refused_when_configured() {
        // Found by the hmac_layout fuzz target: a non-ASCII prefix was
        // accepted, and every delivery then failed as malformed.
        for prefix in ["\u{63f}", " sha256=", "sig\t", ""] {
            let layout = HmacScheme {
                prefix: Some(prefix.to_owned()),
                ..scheme()
            };
            assert!(layout.validate().is_err(), "{prefix:?} was accepted");
        }
        let spaced = HmacScheme {
            prefix: Some("v1 sig=".to_owned()),
            ..scheme()
        };
        assert_eq!(spaced.validate(), Ok(()));
    }

    #[test]
    fn hmac_configured_like_github_verifies_the_github_vector() {
        let github = HmacScheme {
            header: "X-Hub-Signature-256".to_owned(),
            prefix: Some("sha256=".to_owned()),
            timestamp_header: None,
            event_id_header: Some("X-GitHub-Delivery".to_owned()),
            ..scheme()
        };
        for vector in vectors(Provider::Github) {
            let result = check(
                Some(&github),
                &[&vector.secret],
                &header_map(&vector.headers),
                vector.body.as_bytes(),
                0,
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
    fn hmac_configured_like_shopify_verifies_the_shopify_vector() {
        let shopify = HmacScheme {
            header: "X-Shopify-Hmac-Sha256".to_owned(),
            encoding: SignatureEncoding::Base64,
            prefix: None,
            timestamp_header: None,
            event_id_header: None,
            ..scheme()
        };
        for vector in vectors(Provider::Shopify) {
            let result = check(
                Some(&shopify),
                &[&vector.secret],
                &header_map(&vector.headers),
                vector.body.as_bytes(),
                0,
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
    fn hmac_with_a_payload_template_verifies_the_slack_vector() {
        let slack = HmacScheme {
            header: "X-Slack-Signature".to_owned(),
            prefix: Some("v0=".to_owned()),
            timestamp_header: Some("X-Slack-Request-Timestamp".to_owned()),
            payload: Some("v0:{timestamp}:{body}".to_owned()),
            event_id_header: None,
            ..scheme()
        };
        for vector in vectors(Provider::Slack) {
            let now = vector.headers["X-Slack-Request-Timestamp"].parse().unwrap();
            let result = check(
                Some(&slack),
                &[&vector.secret],
                &header_map(&vector.headers),
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
    fn hmac_signs_the_timestamp_so_changing_it_breaks_the_signature() {
        let mut headers = signed(&scheme(), SECRET);
        set(&mut headers, "X-Timestamp", &(SIGNED_AT + 1).to_string());
        let result = check(Some(&scheme()), &[SECRET], &headers, BODY, SIGNED_AT);
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn hmac_rejects_the_wrong_secret() {
        let result = check(
            Some(&scheme()),
            &["other"],
            &signed(&scheme(), SECRET),
            BODY,
            SIGNED_AT,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn hmac_rejects_a_stale_timestamp() {
        let result = check(
            Some(&scheme()),
            &[SECRET],
            &signed(&scheme(), SECRET),
            BODY,
            SIGNED_AT + 301,
        );
        assert_eq!(
            result,
            Err(VerifyError::TimestampOutsideTolerance {
                header: "X-Timestamp".to_owned(),
                skew_s: 301,
                tolerance_s: 300,
            })
        );
    }

    #[test]
    fn hmac_reports_a_missing_signature_header() {
        let mut headers = signed(&scheme(), SECRET);
        headers.remove("X-Signature");
        let result = check(Some(&scheme()), &[SECRET], &headers, BODY, SIGNED_AT);
        assert_eq!(
            result,
            Err(VerifyError::MissingHeader("X-Signature".to_owned()))
        );
    }

    #[test]
    fn hmac_reports_a_missing_timestamp_header() {
        let mut headers = signed(&scheme(), SECRET);
        headers.remove("X-Timestamp");
        let result = check(Some(&scheme()), &[SECRET], &headers, BODY, SIGNED_AT);
        assert_eq!(
            result,
            Err(VerifyError::MissingHeader("X-Timestamp".to_owned()))
        );
    }

    #[test]
    fn hmac_reports_a_signature_without_the_configured_prefix_as_malformed() {
        let mut headers = signed(&scheme(), SECRET);
        let bare = headers["X-Signature"]
            .to_str()
            .unwrap()
            .replace("sha256=", "");
        set(&mut headers, "X-Signature", &bare);
        let result = check(Some(&scheme()), &[SECRET], &headers, BODY, SIGNED_AT);
        assert!(
            matches!(&result, Err(VerifyError::MalformedHeader { header, .. }) if header == "X-Signature"),
            "{result:?}"
        );
    }

    #[test]
    fn hmac_reports_a_signature_in_the_wrong_encoding_as_malformed() {
        let mut headers = signed(&scheme(), SECRET);
        set(&mut headers, "X-Signature", "sha256=q83vEjRWeJA=");
        let result = check(Some(&scheme()), &[SECRET], &headers, BODY, SIGNED_AT);
        assert!(
            matches!(result, Err(VerifyError::MalformedHeader { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn hmac_passes_when_only_the_second_secret_matches() {
        let result = check(
            Some(&scheme()),
            &["old", SECRET],
            &signed(&scheme(), SECRET),
            BODY,
            SIGNED_AT,
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn hmac_without_a_scheme_is_misconfigured_for_verifying_and_signing() {
        let result = check(None, &[SECRET], &HeaderMap::new(), BODY, SIGNED_AT);
        assert!(
            matches!(result, Err(VerifyError::Misconfigured(_))),
            "{result:?}"
        );
        let signed = sign(None, SECRET, BODY, "evt_42", at(SIGNED_AT));
        assert!(
            matches!(signed, Err(SignError::Misconfigured(_))),
            "{signed:?}"
        );
    }

    #[test]
    fn hmac_with_an_invalid_scheme_is_misconfigured() {
        let invalid = HmacScheme {
            payload: Some("{body}".to_owned()),
            ..scheme()
        };
        let result = check(
            Some(&invalid),
            &[SECRET],
            &signed(&scheme(), SECRET),
            BODY,
            SIGNED_AT,
        );
        assert!(
            matches!(result, Err(VerifyError::Misconfigured(_))),
            "{result:?}"
        );
    }

    #[test]
    fn hmac_identifies_the_event_id_from_the_configured_header() {
        let identity = identify(Some(&scheme()), &signed(&scheme(), SECRET));
        assert_eq!(
            identity,
            Identity {
                event_id: Some("evt_42".to_owned()),
                event_type: None
            }
        );
        assert_eq!(
            identify(None, &signed(&scheme(), SECRET)),
            Identity::default()
        );
    }
}
