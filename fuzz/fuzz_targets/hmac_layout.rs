//! The generic `hmac` provider's layout: any layout an endpoint may be
//! configured with is checked without a panic, and one that passes the check
//! verifies what hookhost signs with it, and nothing else.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use hookhost::api::parse_json;
use hookhost::domain::{HmacAlgorithm, HmacScheme, Provider, SignatureEncoding};
use hookhost::ingress::verify::{VerifyConfig, sign, verify};
use libfuzzer_sys::fuzz_target;

mod common;

#[derive(Arbitrary, Debug)]
struct Input {
    json: Vec<u8>,
    header: String,
    sha512: bool,
    base64: bool,
    prefix: Option<String>,
    timestamp_header: Option<String>,
    payload: Option<String>,
    event_id_header: Option<String>,
    secret: String,
    body: Vec<u8>,
    event_id: String,
    signed_at_s: u32,
    forged: Vec<(String, Vec<u8>)>,
}

fuzz_target!(|i: Input| {
    if let Ok(scheme) = parse_json::<HmacScheme>(&i.json) {
        let _ = scheme.validate();
    }
    let scheme = HmacScheme {
        header: i.header,
        algorithm: if i.sha512 {
            HmacAlgorithm::Sha512
        } else {
            HmacAlgorithm::Sha256
        },
        encoding: if i.base64 {
            SignatureEncoding::Base64
        } else {
            SignatureEncoding::Hex
        },
        prefix: i.prefix,
        timestamp_header: i.timestamp_header,
        payload: i.payload,
        event_id_header: i.event_id_header,
    };
    if scheme.validate().is_err() {
        return;
    }
    let secrets = vec![i.secret];
    let config = VerifyConfig {
        provider: Provider::Hmac,
        secrets: &secrets,
        hmac: Some(&scheme),
        tolerance: Duration::from_secs(300),
    };
    let now = UNIX_EPOCH + Duration::from_secs(u64::from(i.signed_at_s));

    let forged = common::forged(&i.forged, 16);
    let _ = verify(&config, &forged, &i.body, now);

    let Ok(signed) = sign(
        Provider::Hmac,
        &secrets[0],
        Some(&scheme),
        &i.body,
        &i.event_id,
        None,
        now,
    ) else {
        return;
    };
    common::signed_round_trip(&config, &signed, &i.body, now);
});
