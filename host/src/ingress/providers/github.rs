//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 over the body.
//! No timestamp is signed, so the tolerance does not apply. The legacy SHA-1
//! `X-Hub-Signature` is not accepted.

use std::time::SystemTime;

use http::HeaderMap;

use super::{any_signature_matches, header_text, mac, malformed, required_header};
use crate::domain::HmacAlgorithm;
use crate::ingress::verify::{Identity, VerifyConfig, VerifyError};

const SIGNATURE: &str = "X-Hub-Signature-256";
const DELIVERY: &str = "X-GitHub-Delivery";
const EVENT: &str = "X-GitHub-Event";

/// Checks the signature; `now` is unused as nothing time-bound is signed.
pub(crate) fn verify(
    cfg: &VerifyConfig<'_>,
    headers: &HeaderMap,
    body: &[u8],
    _now: SystemTime,
) -> Result<(), VerifyError> {
    let value = required_header(headers, SIGNATURE)?;
    let encoded = value
        .strip_prefix("sha256=")
        .ok_or_else(|| malformed(SIGNATURE, "expected `sha256=<hex>`"))?;
    let signature = hex::decode(encoded)
        .map_err(|_| malformed(SIGNATURE, "the signature after `sha256=` is not hex"))?;
    let keys = cfg.secrets.iter().map(|secret| secret.as_bytes());
    if any_signature_matches(HmacAlgorithm::Sha256, keys, &[body], &[signature]) {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

/// The id from `X-GitHub-Delivery`, the type from `X-GitHub-Event`.
pub(crate) fn identify(headers: &HeaderMap) -> Identity {
    Identity {
        event_id: header_text(headers, DELIVERY),
        event_type: header_text(headers, EVENT),
    }
}

/// The signature, `X-GitHub-Delivery` and `X-GitHub-Event` (`ping` unless given).
pub(crate) fn sign(
    secret: &str,
    body: &[u8],
    event_id: &str,
    event_type: Option<&str>,
) -> Vec<(String, String)> {
    let signature = mac(HmacAlgorithm::Sha256, secret.as_bytes(), &[body]);
    vec![
        (
            SIGNATURE.to_owned(),
            format!("sha256={}", hex::encode(signature)),
        ),
        (DELIVERY.to_owned(), event_id.to_owned()),
        (EVENT.to_owned(), event_type.unwrap_or("ping").to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Provider;
    use crate::ingress::providers::testkit::{
        at, config, flip_first_byte, header_map, secrets, set, vectors,
    };

    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] = br#"{"zen":"Design for failure."}"#;

    fn signed(secret: &str) -> HeaderMap {
        header_map(sign(
            secret,
            BODY,
            "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            Some("push"),
        ))
    }

    fn check(secret_list: &[&str], headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        let list = secrets(secret_list);
        verify(&config(Provider::Github, &list), headers, body, at(0))
    }

    #[test]
    fn github_vectors_verify_as_their_valid_field_says() {
        for vector in vectors(Provider::Github) {
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
    fn github_signs_the_official_vector_byte_for_byte() {
        for vector in vectors(Provider::Github).into_iter().filter(|v| v.valid) {
            let signed = sign(
                &vector.secret,
                vector.body.as_bytes(),
                &vector.headers[DELIVERY],
                Some(&vector.headers[EVENT]),
            );
            let expected: Vec<(String, String)> = [SIGNATURE, DELIVERY, EVENT]
                .iter()
                .map(|name| ((*name).to_owned(), vector.headers[*name].clone()))
                .collect();
            assert_eq!(signed, expected, "{}", vector.source);
        }
    }

    #[test]
    fn github_round_trips_sign_then_verify() {
        assert_eq!(check(&[SECRET], &signed(SECRET), BODY), Ok(()));
    }

    #[test]
    fn github_verifies_regardless_of_the_clock() {
        let list = secrets(&[SECRET]);
        let result = verify(
            &config(Provider::Github, &list),
            &signed(SECRET),
            BODY,
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn github_rejects_a_flipped_body_byte() {
        assert_eq!(
            check(&[SECRET], &signed(SECRET), &flip_first_byte(BODY)),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn github_rejects_the_wrong_secret() {
        assert_eq!(
            check(&["not it"], &signed(SECRET), BODY),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn github_reports_a_missing_signature_header() {
        let mut headers = signed(SECRET);
        headers.remove(SIGNATURE);
        assert_eq!(
            check(&[SECRET], &headers, BODY),
            Err(VerifyError::MissingHeader(SIGNATURE.to_owned()))
        );
    }

    #[test]
    fn github_reports_a_signature_without_the_sha256_prefix_as_malformed() {
        let mut headers = signed(SECRET);
        let bare = headers[SIGNATURE].to_str().unwrap().replace("sha256=", "");
        set(&mut headers, SIGNATURE, &bare);
        let result = check(&[SECRET], &headers, BODY);
        assert!(
            matches!(&result, Err(VerifyError::MalformedHeader { header, .. }) if header == SIGNATURE),
            "{result:?}"
        );
    }

    #[test]
    fn github_reports_a_signature_that_is_not_hex_as_malformed() {
        let mut headers = signed(SECRET);
        set(&mut headers, SIGNATURE, "sha256=not-hex");
        let result = check(&[SECRET], &headers, BODY);
        assert!(
            matches!(result, Err(VerifyError::MalformedHeader { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn github_passes_when_only_the_second_secret_matches() {
        assert_eq!(
            check(&["old secret", SECRET], &signed(SECRET), BODY),
            Ok(())
        );
    }

    #[test]
    fn github_identifies_the_delivery_and_event_headers() {
        let identity = identify(&signed(SECRET));
        assert_eq!(
            identity.event_id.as_deref(),
            Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
        );
        assert_eq!(identity.event_type.as_deref(), Some("push"));
    }

    #[test]
    fn github_signs_a_ping_when_no_event_type_is_given() {
        let signed = sign(SECRET, BODY, "d1", None);
        assert!(
            signed.contains(&(EVENT.to_owned(), "ping".to_owned())),
            "{signed:?}"
        );
    }
}
