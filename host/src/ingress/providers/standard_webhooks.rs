//! [Standard Webhooks](https://www.standardwebhooks.com/), also sent by Svix
//! under `svix-*` names: HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed
//! with the base64-decoded part of a `whsec_` secret, sent as a
//! space-separated list of `v1,<base64>`.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;

use super::{
    any_signature_matches, check_tolerance, header_text, json_body, json_str, mac, malformed,
    optional_header, parse_timestamp, unix_seconds,
};
use crate::domain::{HmacAlgorithm, Provider};
use crate::ingress::verify::{Identity, SignError, VerifyConfig, VerifyError};

/// Each header under its standard name, then its Svix name.
const ID: [&str; 2] = ["webhook-id", "svix-id"];
const TIMESTAMP: [&str; 2] = ["webhook-timestamp", "svix-timestamp"];
const SIGNATURE: [&str; 2] = ["webhook-signature", "svix-signature"];

/// The HMAC key of a secret: the base64 after `whsec_`, or the whole secret
/// when it has no prefix. Not the secret's bytes, unlike Stripe's `whsec_`.
pub(crate) fn key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    match STANDARD.decode(encoded) {
        Ok(key) if !key.is_empty() => Ok(key),
        Ok(_) => Err("the secret is empty: use `whsec_` followed by the base64 key the sender shows".to_owned()),
        Err(_) => Err("use `whsec_` followed by base64, as the sender shows it: the key part is not valid base64".to_owned()),
    }
}

/// The header under its standard name, else its Svix name, with the name found.
fn header<'h>(
    headers: &'h HeaderMap,
    [standard, svix]: [&'static str; 2],
) -> Result<(&'static str, &'h str), VerifyError> {
    if let Some(value) = optional_header(headers, standard)? {
        return Ok((standard, value));
    }
    optional_header(headers, svix)?
        .map(|value| (svix, value))
        .ok_or_else(|| VerifyError::MissingHeader(standard.to_owned()))
}

/// The decoded `v1` signatures of the list; other versions are skipped.
fn v1_signatures(header: &str, value: &str) -> Result<Vec<Vec<u8>>, VerifyError> {
    let mut signatures = Vec::new();
    for entry in value.split_ascii_whitespace() {
        let (version, signature) = entry
            .split_once(',')
            .ok_or_else(|| malformed(header, "expected space-separated `v1,<base64>` entries"))?;
        if version == "v1" {
            let decoded = STANDARD
                .decode(signature)
                .map_err(|_| malformed(header, "a v1 signature is not valid base64"))?;
            signatures.push(decoded);
        }
    }
    if signatures.is_empty() {
        return Err(malformed(
            header,
            "no v1 signature: only v1 (HMAC-SHA256) signatures are supported",
        ));
    }
    Ok(signatures)
}

/// Checks the signature list, then the timestamp.
pub(crate) fn verify(
    cfg: &VerifyConfig<'_>,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), VerifyError> {
    let keys = cfg
        .secrets
        .iter()
        .map(|secret| key(secret))
        .collect::<Result<Vec<_>, _>>()
        .map_err(VerifyError::Misconfigured)?;
    let (_, id) = header(headers, ID)?;
    let (timestamp_header, timestamp) = header(headers, TIMESTAMP)?;
    let signed_at = parse_timestamp(timestamp_header, timestamp)?;
    let (signature_header, signatures) = header(headers, SIGNATURE)?;
    let signatures = v1_signatures(signature_header, signatures)?;
    let parts = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
    if !any_signature_matches(
        HmacAlgorithm::Sha256,
        keys.iter().map(Vec::as_slice),
        &parts,
        &signatures,
    ) {
        return Err(VerifyError::NoMatchingSignature);
    }
    check_tolerance(timestamp_header, signed_at, now, cfg.tolerance)
}

/// The id from `webhook-id`, the type from the body's top-level `type`.
pub(crate) fn identify(headers: &HeaderMap, body: &[u8]) -> Identity {
    Identity {
        event_id: ID.iter().find_map(|name| header_text(headers, name)),
        event_type: json_str(json_body(body).as_ref(), "/type"),
    }
}

/// `webhook-id`, `webhook-timestamp` and a single `v1` `webhook-signature`.
pub(crate) fn sign(
    secret: &str,
    body: &[u8],
    event_id: &str,
    now: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    let key = key(secret).map_err(|reason| SignError::InvalidSecret {
        provider: Provider::StandardWebhooks,
        reason,
    })?;
    let timestamp = unix_seconds(now).to_string();
    let signature = mac(
        HmacAlgorithm::Sha256,
        &key,
        &[event_id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    Ok(vec![
        (ID[0].to_owned(), event_id.to_owned()),
        (TIMESTAMP[0].to_owned(), timestamp),
        (
            SIGNATURE[0].to_owned(),
            format!("v1,{}", STANDARD.encode(signature)),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingress::providers::testkit::{
        at, config, flip_first_byte, header_map, secrets, set, vectors,
    };

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const OTHER_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const BODY: &[u8] = br#"{"type":"invoice.paid","data":{}}"#;
    const SIGNED_AT: u64 = 1_700_000_000;

    fn signed(secret: &str) -> HeaderMap {
        header_map(sign(secret, BODY, "msg_1", at(SIGNED_AT)).unwrap())
    }

    fn check(
        secret_list: &[&str],
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<(), VerifyError> {
        let list = secrets(secret_list);
        verify(
            &config(Provider::StandardWebhooks, &list),
            headers,
            body,
            at(now),
        )
    }

    #[test]
    fn standard_webhooks_vectors_verify_as_their_valid_field_says() {
        for vector in vectors(Provider::StandardWebhooks) {
            let headers = header_map(&vector.headers);
            let now = vector.headers["webhook-timestamp"].parse().unwrap();
            let result = check(&[&vector.secret], &headers, vector.body.as_bytes(), now);
            if vector.valid {
                assert_eq!(result, Ok(()), "{}", vector.source);
            } else {
                assert_eq!(
                    result,
                    Err(VerifyError::NoMatchingSignature),
                    "{}",
                    vector.source
                );
            }
        }
    }

    #[test]
    fn standard_webhooks_signs_the_official_vectors_byte_for_byte() {
        for vector in vectors(Provider::StandardWebhooks)
            .into_iter()
            .filter(|v| v.valid)
        {
            let id = &vector.headers["webhook-id"];
            let now = at(vector.headers["webhook-timestamp"].parse().unwrap());
            let signed = sign(&vector.secret, vector.body.as_bytes(), id, now).unwrap();
            let signature = &signed[2].1;
            let received: Vec<&str> = vector.headers["webhook-signature"].split(' ').collect();
            assert!(received.contains(&signature.as_str()), "{}", vector.source);
        }
    }

    #[test]
    fn standard_webhooks_round_trips_sign_then_verify() {
        assert_eq!(
            check(&[SECRET], &signed(SECRET), BODY, SIGNED_AT + 10),
            Ok(())
        );
    }

    #[test]
    fn standard_webhooks_rejects_a_flipped_body_byte() {
        let result = check(
            &[SECRET],
            &signed(SECRET),
            &flip_first_byte(BODY),
            SIGNED_AT,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn standard_webhooks_rejects_the_wrong_secret() {
        let result = check(&[OTHER_SECRET], &signed(SECRET), BODY, SIGNED_AT);
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn standard_webhooks_rejects_a_stale_timestamp() {
        let result = check(&[SECRET], &signed(SECRET), BODY, SIGNED_AT + 301);
        assert_eq!(
            result,
            Err(VerifyError::TimestampOutsideTolerance {
                header: "webhook-timestamp".to_owned(),
                skew_s: 301,
                tolerance_s: 300,
            })
        );
    }

    #[test]
    fn standard_webhooks_rejects_a_timestamp_too_far_in_the_future() {
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
    fn standard_webhooks_reports_a_missing_signature_header() {
        let mut headers = signed(SECRET);
        headers.remove("webhook-signature");
        let result = check(&[SECRET], &headers, BODY, SIGNED_AT);
        assert_eq!(
            result,
            Err(VerifyError::MissingHeader("webhook-signature".to_owned()))
        );
    }

    #[test]
    fn standard_webhooks_reports_a_signature_entry_without_a_version_as_malformed() {
        let mut headers = signed(SECRET);
        set(
            &mut headers,
            "webhook-signature",
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
        let result = check(&[SECRET], &headers, BODY, SIGNED_AT);
        assert!(
            matches!(&result, Err(VerifyError::MalformedHeader { header, .. }) if header == "webhook-signature"),
            "{result:?}"
        );
    }

    #[test]
    fn standard_webhooks_reports_a_non_numeric_timestamp_as_malformed() {
        let mut headers = signed(SECRET);
        set(&mut headers, "webhook-timestamp", "2024-01-01T00:00:00Z");
        let result = check(&[SECRET], &headers, BODY, SIGNED_AT);
        assert!(
            matches!(&result, Err(VerifyError::MalformedHeader { header, .. }) if header == "webhook-timestamp"),
            "{result:?}"
        );
    }

    #[test]
    fn standard_webhooks_skips_an_unknown_v2_entry_next_to_a_valid_v1() {
        let mut headers = signed(SECRET);
        let v1 = headers["webhook-signature"].to_str().unwrap().to_owned();
        set(
            &mut headers,
            "webhook-signature",
            &format!("v2,c2lnbmVk v1a,AAAA {v1}"),
        );
        assert_eq!(check(&[SECRET], &headers, BODY, SIGNED_AT), Ok(()));
    }

    #[test]
    fn standard_webhooks_with_only_unknown_versions_is_malformed() {
        let mut headers = signed(SECRET);
        set(&mut headers, "webhook-signature", "v2,c2lnbmVk v1a,AAAA");
        let result = check(&[SECRET], &headers, BODY, SIGNED_AT);
        assert!(
            matches!(result, Err(VerifyError::MalformedHeader { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn standard_webhooks_passes_when_only_the_second_secret_matches() {
        assert_eq!(
            check(&[OTHER_SECRET, SECRET], &signed(SECRET), BODY, SIGNED_AT),
            Ok(())
        );
    }

    #[test]
    fn standard_webhooks_accepts_svix_headers_when_webhook_headers_are_absent() {
        let svix = sign(SECRET, BODY, "msg_1", at(SIGNED_AT))
            .unwrap()
            .into_iter()
            .map(|(name, value)| (name.replace("webhook-", "svix-"), value));
        let headers = header_map(svix);
        assert_eq!(check(&[SECRET], &headers, BODY, SIGNED_AT), Ok(()));
        assert_eq!(identify(&headers, BODY).event_id.as_deref(), Some("msg_1"));
    }

    #[test]
    fn standard_webhooks_accepts_a_secret_without_the_whsec_prefix() {
        let bare = SECRET.strip_prefix("whsec_").unwrap();
        assert_eq!(check(&[bare], &signed(SECRET), BODY, SIGNED_AT), Ok(()));
    }

    #[test]
    fn standard_webhooks_keys_with_the_decoded_secret_not_its_text() {
        let text_keyed = mac(
            HmacAlgorithm::Sha256,
            SECRET.as_bytes(),
            &[
                "msg_1.".as_bytes(),
                SIGNED_AT.to_string().as_bytes(),
                b".",
                BODY,
            ],
        );
        let mut headers = signed(SECRET);
        set(
            &mut headers,
            "webhook-signature",
            &format!("v1,{}", STANDARD.encode(text_keyed)),
        );
        assert_eq!(
            check(&[SECRET], &headers, BODY, SIGNED_AT),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn standard_webhooks_refuses_a_secret_that_is_not_base64_as_misconfiguration() {
        let result = check(&["whsec_not base64!"], &signed(SECRET), BODY, SIGNED_AT);
        assert!(
            matches!(result, Err(VerifyError::Misconfigured(_))),
            "{result:?}"
        );
    }

    #[test]
    fn standard_webhooks_identifies_the_id_header_and_the_body_type() {
        let identity = identify(&signed(SECRET), BODY);
        assert_eq!(identity.event_id.as_deref(), Some("msg_1"));
        assert_eq!(identity.event_type.as_deref(), Some("invoice.paid"));
    }
}
