//! Shopify: `X-Shopify-Hmac-Sha256: <base64>`, HMAC-SHA256 over the body,
//! keyed with the app's client secret. No timestamp is signed, so the
//! tolerance does not apply.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;

use super::{any_signature_matches, header_text, mac, malformed, required_header};
use crate::domain::HmacAlgorithm;
use crate::ingress::verify::{Identity, VerifyConfig, VerifyError};

const SIGNATURE: &str = "X-Shopify-Hmac-Sha256";
const WEBHOOK_ID: &str = "X-Shopify-Webhook-Id";
const EVENT_ID: &str = "X-Shopify-Event-Id";
const TOPIC: &str = "X-Shopify-Topic";

/// Checks the signature; `now` is unused as nothing time-bound is signed.
pub(crate) fn verify(
    cfg: &VerifyConfig<'_>,
    headers: &HeaderMap,
    body: &[u8],
    _now: SystemTime,
) -> Result<(), VerifyError> {
    let signature = STANDARD
        .decode(required_header(headers, SIGNATURE)?)
        .map_err(|_| malformed(SIGNATURE, "the signature is not valid base64"))?;
    let keys = cfg.secrets.iter().map(|secret| secret.as_bytes());
    if any_signature_matches(HmacAlgorithm::Sha256, keys, &[body], &[signature]) {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

/// The id from `X-Shopify-Webhook-Id` (else `X-Shopify-Event-Id`), the type
/// from `X-Shopify-Topic`.
pub(crate) fn identify(headers: &HeaderMap) -> Identity {
    Identity {
        event_id: header_text(headers, WEBHOOK_ID).or_else(|| header_text(headers, EVENT_ID)),
        event_type: header_text(headers, TOPIC),
    }
}

/// The signature, `X-Shopify-Webhook-Id` and, when given, `X-Shopify-Topic`.
pub(crate) fn sign(
    secret: &str,
    body: &[u8],
    event_id: &str,
    event_type: Option<&str>,
) -> Vec<(String, String)> {
    let signature = mac(HmacAlgorithm::Sha256, secret.as_bytes(), &[body]);
    let mut headers = vec![
        (SIGNATURE.to_owned(), STANDARD.encode(signature)),
        (WEBHOOK_ID.to_owned(), event_id.to_owned()),
    ];
    if let Some(topic) = event_type {
        headers.push((TOPIC.to_owned(), topic.to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Provider;
    use crate::ingress::providers::testkit::{
        at, config, flip_first_byte, header_map, secrets, set, vectors,
    };

    const SECRET: &str = "test_secret_key";
    const BODY: &[u8] = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;

    fn signed(secret: &str) -> HeaderMap {
        header_map(sign(
            secret,
            BODY,
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            Some("orders/create"),
        ))
    }

    fn check(secret_list: &[&str], headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        let list = secrets(secret_list);
        verify(&config(Provider::Shopify, &list), headers, body, at(0))
    }

    #[test]
    fn shopify_vectors_verify_as_their_valid_field_says() {
        for vector in vectors(Provider::Shopify) {
            let headers = header_map(&vector.headers);
            let result = check(&[&vector.secret], &headers, vector.body.as_bytes());
            assert_eq!(
                result.is_ok(),
                vector.valid,
                "{}: {result:?}",
                vector.source
            );
        }
    }

    #[test]
    fn shopify_signs_the_official_vector_byte_for_byte() {
        for vector in vectors(Provider::Shopify).into_iter().filter(|v| v.valid) {
            let signed = sign(
                &vector.secret,
                vector.body.as_bytes(),
                &vector.headers[WEBHOOK_ID],
                Some(&vector.headers[TOPIC]),
            );
            let expected: Vec<(String, String)> = [SIGNATURE, WEBHOOK_ID, TOPIC]
                .iter()
                .map(|name| ((*name).to_owned(), vector.headers[*name].clone()))
                .collect();
            assert_eq!(signed, expected, "{}", vector.source);
        }
    }

    #[test]
    fn shopify_round_trips_sign_then_verify() {
        assert_eq!(check(&[SECRET], &signed(SECRET), BODY), Ok(()));
    }

    #[test]
    fn shopify_rejects_a_flipped_body_byte() {
        assert_eq!(
            check(&[SECRET], &signed(SECRET), &flip_first_byte(BODY)),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn shopify_rejects_the_wrong_secret() {
        assert_eq!(
            check(&["other_key"], &signed(SECRET), BODY),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn shopify_reports_a_missing_signature_header() {
        let mut headers = signed(SECRET);
        headers.remove(SIGNATURE);
        assert_eq!(
            check(&[SECRET], &headers, BODY),
            Err(VerifyError::MissingHeader(SIGNATURE.to_owned()))
        );
    }

    #[test]
    fn shopify_reports_a_signature_that_is_not_base64_as_malformed() {
        let mut headers = signed(SECRET);
        set(&mut headers, SIGNATURE, "not*base64");
        let result = check(&[SECRET], &headers, BODY);
        assert!(
            matches!(&result, Err(VerifyError::MalformedHeader { header, .. }) if header == SIGNATURE),
            "{result:?}"
        );
    }

    #[test]
    fn shopify_passes_when_only_the_second_secret_matches() {
        assert_eq!(check(&["old_key", SECRET], &signed(SECRET), BODY), Ok(()));
    }

    #[test]
    fn shopify_identifies_the_webhook_id_and_topic() {
        let identity = identify(&signed(SECRET));
        assert_eq!(
            identity.event_id.as_deref(),
            Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
        );
        assert_eq!(identity.event_type.as_deref(), Some("orders/create"));
    }

    #[test]
    fn shopify_falls_back_to_the_event_id_header() {
        let headers = header_map([(EVENT_ID, "e-1"), (TOPIC, "orders/paid")]);
        assert_eq!(identify(&headers).event_id.as_deref(), Some("e-1"));
    }
}
