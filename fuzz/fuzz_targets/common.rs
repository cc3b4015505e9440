//! What the verifier targets share: headers as an attacker sends them, and
//! the round trip every verifier must pass.

use std::time::SystemTime;

use hookhost::ingress::verify::{VerifyConfig, verify};
use http::{HeaderMap, HeaderName, HeaderValue};

/// The pairs that are valid HTTP headers, at most `max` of them.
pub fn forged(pairs: &[(String, Vec<u8>)], max: usize) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs.iter().take(max) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

/// What `sign` produced for `body` verifies at the moment of signing, and
/// the same headers with another body do not (unless nothing is verified).
pub fn signed_round_trip(
    config: &VerifyConfig<'_>,
    signed: &[(String, String)],
    body: &[u8],
    now: SystemTime,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in signed {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("a signed header name"),
            HeaderValue::from_str(value).expect("sign checks its values"),
        );
    }
    if let Err(e) = verify(config, &headers, body, now) {
        panic!("{config:?} refused what it signed: {e}");
    }
    if config.provider != hookhost::domain::Provider::None {
        let mut other = body.to_vec();
        other.push(b'!');
        assert!(
            verify(config, &headers, &other, now).is_err(),
            "{config:?} accepted a changed body"
        );
    }
    headers
}
