//! Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 over
//! `v0:{timestamp}:{body}` with the timestamp from `X-Slack-Request-Timestamp`,
//! keyed with the app's signing secret.

use std::time::SystemTime;

use http::HeaderMap;

use super::{
    any_signature_matches, check_tolerance, json_body, json_str, mac, malformed, parse_timestamp,
    required_header, unix_seconds,
};
use crate::domain::HmacAlgorithm;
use crate::ingress::verify::{Identity, VerifyConfig, VerifyError};

const SIGNATURE: &str = "X-Slack-Signature";
const TIMESTAMP: &str = "X-Slack-Request-Timestamp";

/// Checks the signature, then the timestamp.
pub(crate) fn verify(
    cfg: &VerifyConfig<'_>,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), VerifyError> {
    let timestamp = required_header(headers, TIMESTAMP)?;
    let signed_at = parse_timestamp(TIMESTAMP, timestamp)?;
    let encoded = required_header(headers, SIGNATURE)?
        .strip_prefix("v0=")
        .ok_or_else(|| malformed(SIGNATURE, "expected `v0=<hex>`"))?;
    let signature = hex::decode(encoded)
        .map_err(|_| malformed(SIGNATURE, "the signature after `v0=` is not hex"))?;
    let keys = cfg.secrets.iter().map(|secret| secret.as_bytes());
    let parts: [&[u8]; 4] = [b"v0:", timestamp.as_bytes(), b":", body];
    if !any_signature_matches(HmacAlgorithm::Sha256, keys, &parts, &[signature]) {
        return Err(VerifyError::NoMatchingSignature);
    }
    check_tolerance(TIMESTAMP, signed_at, now, cfg.tolerance)
}

/// The Events API's `event_id`; the type from `event.type`, else the
/// top-level `type` (`url_verification`). Slash commands and interactivity
/// carry neither.
pub(crate) fn identify(body: &[u8]) -> Identity {
    let json = json_body(body);
    Identity {
        event_id: json_str(json.as_ref(), "/event_id"),
        event_type: json_str(json.as_ref(), "/event/type")
            .or_else(|| json_str(json.as_ref(), "/type")),
    }
}

/// `X-Slack-Request-Timestamp` and `X-Slack-Signature`; Slack sends the id
/// and type in the body.
pub(crate) fn sign(secret: &str, body: &[u8], now: SystemTime) -> Vec<(String, String)> {
    let timestamp = unix_seconds(now).to_string();
    let signature = mac(
        HmacAlgorithm::Sha256,
        secret.as_bytes(),
        &[b"v0:", timestamp.as_bytes(), b":", body],
    );
    vec![
        (TIMESTAMP.to_owned(), timestamp),
        (
            SIGNATURE.to_owned(),
            format!("v0={}", hex::encode(signature)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Provider;
    use crate::ingress::providers::testkit::{
        at, config, flip_first_byte, header_map, secrets, set, vectors,
    };

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const BODY: &[u8] =
        br#"{"event_id":"Ev1","type":"event_callback","event":{"type":"app_mention"}}"#;
    const SIGNED_AT: u64 = 1_700_000_000;

    fn signed(secret: &str) -> HeaderMap {
        header_map(sign(secret, BODY, at(SIGNED_AT)))
    }

    fn check(
        secret_list: &[&str],
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<(), VerifyError> {
        let list = secrets(secret_list);
        verify(&config(Provider::Slack, &list), headers, body, at(now))
    }

    #[test]
    fn slack_vectors_verify_as_their_valid_field_says() {
        for vector in vectors(Provider::Slack) {
            let headers = header_map(&vector.headers);
            let now = vector.headers[TIMESTAMP].parse().unwrap();
            let result = check(&[&vector.secret], &headers, vector.body.as_bytes(), now);
            assert_eq!(
                result.is_ok(),
                vector.valid,
                "{}: {result:?}",
                vector.source
            );
        }
    }

    #[test]
    fn slack_signs_the_official_vector_byte_for_byte() {
        for vector in vectors(Provider::Slack).into_iter().filter(|v| v.valid) {
            let now = at(vector.headers[TIMESTAMP].parse().unwrap());
            let signed = sign(&vector.secret, vector.body.as_bytes(), now);
            let expected: Vec<(String, String)> = [TIMESTAMP, SIGNATURE]
                .iter()
                .map(|name| ((*name).to_owned(), vector.headers[*name].clone()))
                .collect();
            assert_eq!(signed, expected, "{}", vector.source);
        }
    }

    #[test]
    fn slack_round_trips_sign_then_verify() {
        assert_eq!(
            check(&[SECRET], &signed(SECRET), BODY, SIGNED_AT + 10),
            Ok(())
        );
    }

    #[test]
    fn slack_rejects_a_flipped_body_byte() {
        let result = check(
            &[SECRET],
            &signed(SECRET),
            &flip_first_byte(BODY),
            SIGNED_AT,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn slack_rejects_the_wrong_secret() {
        let result = check(
            &["another signing secret"],
            &signed(SECRET),
            BODY,
            SIGNED_AT,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn slack_rejects_a_stale_timestamp() {
        let result = check(&[SECRET], &signed(SECRET), BODY, SIGNED_AT + 301);
        assert_eq!(
            result,
            Err(VerifyError::TimestampOutsideTolerance {
                header: TIMESTAMP.to_owned(),
                skew_s: 301,
                tolerance_s: 300,
            })
        );
    }

    #[test]
    fn slack_rejects_a_timestamp_too_far_in_the_future() {
        let result = check(&[SECRET], &signed(SECRET), BODY, SIGNED_AT - 301);
        assert!(
            matches!(
                result,
                Err(VerifyError::TimestampOutsideTolerance { skew_s: -301, .. })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn slack_rejects_a_replayed_signature_with_a_fresh_timestamp() {
        let mut headers = signed(SECRET);
        set(&mut headers, TIMESTAMP, &(SIGNED_AT + 200).to_string());
        let result = check(&[SECRET], &headers, BODY, SIGNED_AT + 200);
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn slack_reports_a_missing_timestamp_header() {
        let mut headers = signed(SECRET);
        headers.remove(TIMESTAMP);
        let result = check(&[SECRET], &headers, BODY, SIGNED_AT);
        assert_eq!(
            result,
            Err(VerifyError::MissingHeader(TIMESTAMP.to_owned()))
        );
    }

    #[test]
    fn slack_reports_a_signature_without_the_v0_prefix_as_malformed() {
        let mut headers = signed(SECRET);
        let bare = headers[SIGNATURE].to_str().unwrap().replace("v0=", "");
        set(&mut headers, SIGNATURE, &bare);
        let result = check(&[SECRET], &headers, BODY, SIGNED_AT);
        assert!(
            matches!(&result, Err(VerifyError::MalformedHeader { header, .. }) if header == SIGNATURE),
            "{result:?}"
        );
    }

    #[test]
    fn slack_passes_when_only_the_second_secret_matches() {
        assert_eq!(
            check(&["old secret", SECRET], &signed(SECRET), BODY, SIGNED_AT),
            Ok(())
        );
    }

    #[test]
    fn slack_identifies_the_event_id_and_the_inner_event_type() {
        let identity = identify(BODY);
        assert_eq!(identity.event_id.as_deref(), Some("Ev1"));
        assert_eq!(identity.event_type.as_deref(), Some("app_mention"));
    }

    #[test]
    fn slack_falls_back_to_the_top_level_type_for_url_verification() {
        let identity = identify(br#"{"token":"t","challenge":"c","type":"url_verification"}"#);
        assert_eq!(
            identity,
            Identity {
                event_id: None,
                event_type: Some("url_verification".to_owned())
            }
        );
    }
}
