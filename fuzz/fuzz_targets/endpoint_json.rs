//! An endpoint as a tenant writes it: any JSON body is read and checked
//! without a panic; one that passes is within the hard ceilings, judged by
//! the default tenant policy without a panic, and survives storage's round
//! trip unchanged.
#![no_main]

use std::sync::LazyLock;

use hookhost::api::{check_request, parse_json};
use hookhost::config::Config;
use hookhost::domain::{EndpointRequest, EndpointSpec, TenantPolicy, config_bytes, hard};
use libfuzzer_sys::fuzz_target;

/// The server-wide default policy, as the built-in configuration states it.
static DEFAULT: LazyLock<TenantPolicy> = LazyLock::new(|| Config::default().tenant);

fuzz_target!(|body: &[u8]| {
    let Ok(request) = parse_json::<EndpointRequest>(body) else {
        return;
    };
    let Ok(allowed_hosts) = check_request(&request, hard::MEMORY_MB) else {
        return;
    };
    assert!(config_bytes(&request) <= hard::CONFIG_BYTES);
    assert!(request.secrets.len() <= hard::SECRETS as usize);
    assert!(allowed_hosts.len() <= hard::ALLOWED_HOSTS);
    assert!(request.allowed_ips.len() <= hard::ALLOWED_IPS);
    assert!(request.event_types.len() <= hard::EVENT_TYPES);
    if let Some(limit) = &request.rate_limit {
        assert!(limit.rate.get() <= hard::RATE_LIMIT && limit.burst().get() <= hard::RATE_LIMIT);
    }
    let spec = EndpointSpec {
        provider: request.provider,
        secrets: request.secrets,
        hmac: request.hmac,
        tolerance_s: request.tolerance_s,
        dedup_header: request.dedup_header,
        allowed_ips: request.allowed_ips,
        rate_limit: request.rate_limit,
        event_types: request.event_types,
        plugin: request.plugin,
        plugin_version: request.plugin_version.unwrap_or(1),
        config: request.config,
        allowed_hosts,
        allow_private_network: request.allow_private_network,
        limits: request.limits,
        retry: request.retry,
        alerts: request.alerts,
    };
    let _ = DEFAULT.check(&spec);
    let stored = serde_json::to_string(&spec).expect("a spec serialises");
    let loaded: EndpointSpec = serde_json::from_str(&stored).expect("a stored spec loads");
    assert_eq!(loaded, spec);
});
