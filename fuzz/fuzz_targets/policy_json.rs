//! A tenant policy as the operator writes it: any JSON body is read, merged
//! and checked without a panic; a merged policy that passes survives
//! storage's round trip unchanged.
#![no_main]

use std::sync::LazyLock;

use hookhost::api::parse_json;
use hookhost::config::Config;
use hookhost::domain::{PolicyOverrides, TenantPolicy, hard};
use libfuzzer_sys::fuzz_target;

/// The server-wide default policy, as the built-in configuration states it.
static DEFAULT: LazyLock<TenantPolicy> = LazyLock::new(|| Config::default().tenant);

fuzz_target!(|body: &[u8]| {
    let Ok(overrides) = parse_json::<PolicyOverrides>(body) else {
        return;
    };
    let Ok(policy) = DEFAULT.with(&overrides) else {
        return;
    };
    if !policy.validate(hard::MEMORY_MB).is_empty() {
        return;
    }
    let stored = serde_json::to_string(&policy).expect("a policy serialises");
    let loaded: TenantPolicy = serde_json::from_str(&stored).expect("a stored policy loads");
    assert_eq!(loaded, policy);
});
