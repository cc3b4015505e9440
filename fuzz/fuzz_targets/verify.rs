//! Every provider's verifier and event-id extraction, on what an attacker
//! sends: never a panic, an event key always storable and bounded; and what
//! hookhost signs for a provider, it accepts.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use hookhost::domain::{
    HmacAlgorithm, HmacScheme, MAX_EVENT_ID_BYTES, Provider, SignatureEncoding, clip, event_key,
};
use hookhost::ingress::verify::{VerifyConfig, identify, sign, validate_secret, verify};
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

mod common;

#[derive(Arbitrary, Debug)]
struct Delivery {
    provider: u8,
    secrets: Vec<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    event_id: String,
    event_type: Option<String>,
    signed_at_s: u32,
    tolerance_s: u16,
}

fn scheme() -> HmacScheme {
    HmacScheme {
        header: "x-signature".into(),
        algorithm: HmacAlgorithm::Sha256,
        encoding: SignatureEncoding::Hex,
        prefix: Some("sha256=".into()),
        timestamp_header: Some("x-timestamp".into()),
        payload: None,
        event_id_header: Some("x-event-id".into()),
    }
}

fuzz_target!(|d: Delivery| {
    let provider = Provider::ALL[usize::from(d.provider) % Provider::ALL.len()];
    let scheme = scheme();
    let hmac = (provider == Provider::Hmac).then_some(&scheme);
    let now = UNIX_EPOCH + Duration::from_secs(u64::from(d.signed_at_s));
    // Secrets as an endpoint can hold them: the API refuses the others.
    let secrets: Vec<String> = d
        .secrets
        .into_iter()
        .filter(|s| validate_secret(provider, s).is_ok())
        .take(4)
        .collect();
    let config = VerifyConfig {
        provider,
        secrets: &secrets,
        hmac,
        tolerance: Duration::from_secs(u64::from(d.tolerance_s.max(1))),
    };

    // Whatever arrives is judged without a panic, and its identity kept
    // storable and bounded.
    let forged = common::forged(&d.headers, 32);
    let _ = verify(&config, &forged, &d.body, now);
    check_identity(provider, hmac, &forged, &d.body);

    // What hookhost signs with an endpoint's first secret, it accepts at the
    // moment of signing, and not with another body.
    let Some(secret) = secrets.first() else {
        return;
    };
    let Ok(signed) = sign(
        provider,
        secret,
        hmac,
        &d.body,
        &d.event_id,
        d.event_type.as_deref(),
        now,
    ) else {
        return;
    };
    let headers = common::signed_round_trip(&config, &signed, &d.body, now);
    check_identity(provider, hmac, &headers, &d.body);
});

fn check_identity(provider: Provider, hmac: Option<&HmacScheme>, headers: &HeaderMap, body: &[u8]) {
    let identity = identify(provider, hmac, headers, body);
    if let Some(id) = identity.event_id {
        let key = event_key(id);
        assert!(!key.contains('\0'), "an event key holds NUL");
        assert!(
            key.len() <= MAX_EVENT_ID_BYTES.max(71),
            "event key of {} bytes",
            key.len()
        );
    }
    if let Some(kind) = identity.event_type {
        let kept = clip(kind, 256);
        assert!(kept.len() <= 256 && !kept.contains('\0'));
    }
}
