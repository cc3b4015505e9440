//! One file per signing scheme, each owning its headers, signed content and
//! key handling; here, what they share: reading headers, checking
//! timestamps, computing and comparing HMACs.

pub(crate) mod github;
pub(crate) mod hmac;
pub(crate) mod shopify;
pub(crate) mod slack;
pub(crate) mod standard_webhooks;
pub(crate) mod stripe;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::hmac::digest::KeyInit;
use ::hmac::{Hmac, Mac};
use http::HeaderMap;
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::verify::VerifyError;
use crate::domain::HmacAlgorithm;

/// A header's value as text; `None` when absent.
pub(crate) fn optional_header<'h>(
    headers: &'h HeaderMap,
    name: &str,
) -> Result<Option<&'h str>, VerifyError> {
    headers
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| malformed(name, "the value is not visible ASCII"))
        })
        .transpose()
}

/// A header's value as text, which the provider always sends.
pub(crate) fn required_header<'h>(
    headers: &'h HeaderMap,
    name: &str,
) -> Result<&'h str, VerifyError> {
    optional_header(headers, name)?.ok_or_else(|| VerifyError::MissingHeader(name.to_owned()))
}

/// A [`VerifyError::MalformedHeader`].
pub(crate) fn malformed(header: &str, reason: impl Into<String>) -> VerifyError {
    VerifyError::MalformedHeader {
        header: header.to_owned(),
        reason: reason.into(),
    }
}

/// A non-empty header value for [`super::verify::identify`], which never fails.
pub(crate) fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    (!value.is_empty()).then(|| value.to_owned())
}

/// The body as JSON, for providers that put the event id and type there.
pub(crate) fn json_body(body: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(body).ok()
}

/// The string at `pointer` (RFC 6901) in `json`.
pub(crate) fn json_str(json: Option<&serde_json::Value>, pointer: &str) -> Option<String> {
    json?.pointer(pointer)?.as_str().map(str::to_owned)
}

/// A signed timestamp: Unix time in whole seconds.
pub(crate) fn parse_timestamp(header: &str, value: &str) -> Result<i64, VerifyError> {
    let invalid = || malformed(header, "expected a Unix timestamp in whole seconds");
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    value.parse().map_err(|_| invalid())
}

/// `time` as Unix seconds, negative before 1970.
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Refuses a signed timestamp more than `tolerance` before or after `now`.
pub(crate) fn check_tolerance(
    header: &str,
    timestamp: i64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let skew_s = unix_seconds(now).saturating_sub(timestamp);
    if skew_s.unsigned_abs() > tolerance.as_secs() {
        return Err(VerifyError::TimestampOutsideTolerance {
            header: header.to_owned(),
            skew_s,
            tolerance_s: tolerance.as_secs(),
        });
    }
    Ok(())
}

/// The HMAC of the concatenated `parts`, for signing.
pub(crate) fn mac(algorithm: HmacAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match algorithm {
        HmacAlgorithm::Sha1 => keyed::<Hmac<Sha1>>(key, parts)
            .finalize()
            .into_bytes()
            .to_vec(),
        HmacAlgorithm::Sha256 => keyed::<Hmac<Sha256>>(key, parts)
            .finalize()
            .into_bytes()
            .to_vec(),
        HmacAlgorithm::Sha512 => keyed::<Hmac<Sha512>>(key, parts)
            .finalize()
            .into_bytes()
            .to_vec(),
    }
}

/// Whether any received signature is the HMAC of the concatenated `parts`
/// under any key, compared in constant time.
pub(crate) fn any_signature_matches<'k>(
    algorithm: HmacAlgorithm,
    keys: impl IntoIterator<Item = &'k [u8]>,
    parts: &[&[u8]],
    signatures: &[Vec<u8>],
) -> bool {
    match algorithm {
        HmacAlgorithm::Sha1 => matches::<Hmac<Sha1>>(keys, parts, signatures),
        HmacAlgorithm::Sha256 => matches::<Hmac<Sha256>>(keys, parts, signatures),
        HmacAlgorithm::Sha512 => matches::<Hmac<Sha512>>(keys, parts, signatures),
    }
}

fn matches<'k, M: Mac + KeyInit + Clone>(
    keys: impl IntoIterator<Item = &'k [u8]>,
    parts: &[&[u8]],
    signatures: &[Vec<u8>],
) -> bool {
    keys.into_iter().any(|key| {
        let mac = keyed::<M>(key, parts);
        signatures
            .iter()
            .any(|signature| mac.clone().verify_slice(signature).is_ok())
    })
}

fn keyed<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> M {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// The inputs of every provider's tests: the shared signature vectors and
/// small builders.
#[cfg(test)]
pub(crate) mod testkit {
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use http::{HeaderMap, HeaderName, HeaderValue};
    use serde::Deserialize;

    use crate::domain::Provider;
    use crate::ingress::verify::VerifyConfig;

    /// The default tolerance.
    pub(crate) const TOLERANCE: Duration = Duration::from_secs(300);

    /// One entry of `testdata/signatures.json`.
    #[derive(Debug, Deserialize)]
    pub(crate) struct Vector {
        pub(crate) provider: Provider,
        pub(crate) source: String,
        pub(crate) secret: String,
        pub(crate) headers: BTreeMap<String, String>,
        pub(crate) body: String,
        pub(crate) valid: bool,
    }

    #[derive(Deserialize)]
    struct VectorFile {
        vectors: Vec<Vector>,
    }

    /// Every vector in the file.
    pub(crate) fn all_vectors() -> Vec<Vector> {
        let file: VectorFile = serde_json::from_str(include_str!("testdata/signatures.json"))
            .expect("testdata/signatures.json parses");
        file.vectors
    }

    /// The vectors of one provider; there is at least one.
    pub(crate) fn vectors(provider: Provider) -> Vec<Vector> {
        let vectors: Vec<Vector> = all_vectors()
            .into_iter()
            .filter(|v| v.provider == provider)
            .collect();
        assert!(!vectors.is_empty(), "no vectors for {provider}");
        vectors
    }

    /// A header map from name-value pairs, names in any case.
    pub(crate) fn header_map<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            set(&mut headers, name.as_ref(), value.as_ref());
        }
        headers
    }

    /// Replaces a header's value.
    pub(crate) fn set(headers: &mut HeaderMap, name: &str, value: &str) {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }

    /// The instant `unix` seconds after 1970.
    pub(crate) fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    /// Owned secrets, as an endpoint holds them.
    pub(crate) fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A configuration with the default tolerance and no `hmac` scheme.
    pub(crate) fn config(provider: Provider, secrets: &[String]) -> VerifyConfig<'_> {
        VerifyConfig {
            provider,
            secrets,
            hmac: None,
            tolerance: TOLERANCE,
        }
    }

    /// `body` with its first byte changed.
    pub(crate) fn flip_first_byte(body: &[u8]) -> Vec<u8> {
        let mut flipped = body.to_vec();
        flipped[0] ^= 0x01;
        flipped
    }
}
