//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, HMAC-SHA256 over
//! `{t}.{body}` keyed with the whole secret text, `whsec_` included.

use std::time::SystemTime;

use http::HeaderMap;

use super::{
    any_signature_matches, check_tolerance, json_body, json_str, mac, malformed, parse_timestamp,
    required_header, unix_seconds,
};
use crate::domain::HmacAlgorithm;
use crate::ingress::verify::{Identity, VerifyConfig, VerifyError};

const SIGNATURE: &str = "Stripe-Signature";

/// The `t` timestamp and the decoded `v1` signatures; other schemes (`v0`)
/// are skipped.
fn parse(value: &str) -> Result<(&str, Vec<Vec<u8>>), VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        let (key, value) = item.trim().split_once('=').ok_or_else(|| {
            malformed(
                SIGNATURE,
                "expected comma-separated `key=value` items such as `t=…,v1=…`",
            )
        })?;
        match key {
            "t" if timestamp.is_some() => {
                return Err(malformed(SIGNATURE, "more than one `t=` timestamp"));
            }
            "t" => timestamp = Some(value),
            "v1" => signatures.push(
                hex::decode(value)
                    .map_err(|_| malformed(SIGNATURE, "a `v1=` signature is not hex"))?,
            ),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| malformed(SIGNATURE, "no `t=` timestamp"))?;
    if signatures.is_empty() {
        return Err(malformed(SIGNATURE, "no `v1=` signature"));
    }
    Ok((timestamp, signatures))
}

/// Checks the `v1` signatures, then the timestamp.
pub(crate) fn verify(
    cfg: &VerifyConfig<'_>,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), VerifyError> {
    let (timestamp, signatures) = parse(required_header(headers, SIGNATURE)?)?;
    let signed_at = parse_timestamp(SIGNATURE, timestamp)?;
    let keys = cfg.secrets.iter().map(|secret| secret.as_bytes());
    let parts = [timestamp.as_bytes(), b".", body];
    if !any_signature_matches(HmacAlgorithm::Sha256, keys, &parts, &signatures) {
        return Err(VerifyError::NoMatchingSignature);
    }
    check_tolerance(SIGNATURE, signed_at, now, cfg.tolerance)
}

/// The event's `id` and `type`, from the body.
pub(crate) fn identify(body: &[u8]) -> Identity {
    let json = json_body(body);
    Identity {
        event_id: json_str(json.as_ref(), "/id"),
        event_type: json_str(json.as_ref(), "/type"),
    }
}

/// `Stripe-Signature` with one `v1`; Stripe sends the id and type in the body.
pub(crate) fn sign(secret: &str, body: &[u8], now: SystemTime) -> Vec<(String, String)> {
    let timestamp = unix_seconds(now).to_string();
    let signature = mac(
        HmacAlgorithm::Sha256,
        secret.as_bytes(),
        &[timestamp.as_bytes(), b".", body],
    );
    vec![(
        SIGNATURE.to_owned(),
        format!("t={timestamp},v1={}", hex::encode(signature)),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Provider;
    use crate::ingress::providers::testkit::{
        at, config, flip_first_byte, header_map, secrets, set, vectors,
    };

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"invoice.paid"}"#;
    const SIGNED_AT: u64 = 1_700_000_000;

    fn signed(secret: &str) -> HeaderMap {
        header_map(sign(secret, BODY, at(SIGNED_AT)))
    }

    fn signature_of(headers: &HeaderMap) -> String {
        headers[SIGNATURE].to_str().unwrap().to_owned()
    }

    fn check(
        secret_list: &[&str],
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<(), VerifyError> {
        let list = secrets(secret_list);
        verify(&config(Provider::Stripe, &list), headers, body, at(now))
    }

    #[test]
    fn stripe_vectors_verify_as_their_valid_field_says() {
        for vector in vectors(Provider::Stripe) {
            let headers = header_map(&vector.headers);
            let (t, _) = parse(&vector.headers[SIGNATURE]).unwrap();
            let result = check(
                &[&vector.secret],
                &headers,
                vector.body.as_bytes(),
                t.parse().unwrap(),
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
    fn stripe_signs_the_vector_byte_for_byte() {
        for vector in vectors(Provider::Stripe).into_iter().filter(|v| v.valid) {
            let (t, _) = parse(&vector.headers[SIGNATURE]).unwrap();
            let signed = sign(
                &vector.secret,
                vector.body.as_bytes(),
                at(t.parse().unwrap()),
            );
            assert_eq!(signed[0].1, vector.headers[SIGNATURE], "{}", vector.source);
        }
    }

    #[test]
    fn stripe_round_trips_sign_then_verify() {
        assert_eq!(
            check(&[SECRET], &signed(SECRET), BODY, SIGNED_AT + 10),
            Ok(())
        );
    }

    #[test]
    fn stripe_keys_with_the_whole_secret_including_whsec() {
        let without_prefix = signed("test_secret");
        assert_eq!(
            check(&[SECRET], &without_prefix, BODY, SIGNED_AT),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn stripe_rejects_a_flipped_body_byte() {
        let result = check(
            &[SECRET],
            &signed(SECRET),
            &flip_first_byte(BODY),
            SIGNED_AT,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn stripe_rejects_the_wrong_secret() {
        let result = check(&["whsec_other"], &signed(SECRET), BODY, SIGNED_AT);
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn stripe_rejects_a_stale_timestamp() {
        let result = check(&[SECRET], &signed(SECRET), BODY, SIGNED_AT + 301);
        assert_eq!(
            result,
            Err(VerifyError::TimestampOutsideTolerance {
                header: SIGNATURE.to_owned(),
                skew_s: 301,
                tolerance_s: 300,
            })
        );
    }

    #[test]
    fn stripe_rejects_a_timestamp_too_far_in_the_future() {
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
    fn stripe_reports_a_missing_signature_header() {
        let result = check(&[SECRET], &HeaderMap::new(), BODY, SIGNED_AT);
        assert_eq!(
            result,
            Err(VerifyError::MissingHeader(SIGNATURE.to_owned()))
        );
    }

    #[test]
    fn stripe_reports_a_header_without_a_timestamp_as_malformed() {
        let mut headers = signed(SECRET);
        let v1_only = signature_of(&headers).split_once(',').unwrap().1.to_owned();
        set(&mut headers, SIGNATURE, &v1_only);
        let result = check(&[SECRET], &headers, BODY, SIGNED_AT);
        assert!(
            matches!(result, Err(VerifyError::MalformedHeader { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn stripe_reports_a_header_with_only_v0_as_malformed() {
        let mut headers = signed(SECRET);
        let v0_only = signature_of(&headers).replace("v1=", "v0=");
        set(&mut headers, SIGNATURE, &v0_only);
        let result = check(&[SECRET], &headers, BODY, SIGNED_AT);
        assert!(
            matches!(result, Err(VerifyError::MalformedHeader { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn stripe_accepts_any_matching_v1_among_several() {
        let mut headers = signed(SECRET);
        let valid = signature_of(&headers);
        let (t, v1) = valid.split_once(',').unwrap();
        let decoy = "v1=".to_owned() + &"ab".repeat(32);
        set(
            &mut headers,
            SIGNATURE,
            &format!("{t},{decoy},{v1},v0={}", "cd".repeat(32)),
        );
        assert_eq!(check(&[SECRET], &headers, BODY, SIGNED_AT), Ok(()));
    }

    #[test]
    fn stripe_passes_when_only_the_second_secret_matches() {
        assert_eq!(
            check(&["whsec_old", SECRET], &signed(SECRET), BODY, SIGNED_AT),
            Ok(())
        );
    }

    #[test]
    fn stripe_identifies_the_body_id_and_type() {
        let identity = identify(BODY);
        assert_eq!(identity.event_id.as_deref(), Some("evt_1"));
        assert_eq!(identity.event_type.as_deref(), Some("invoice.paid"));
        assert_eq!(identify(b"not json"), Identity::default());
    }
}
