//! The domain floor: what an endpoint is configured with, and the one time
//! type, in types every stage shares. It depends on nothing in the crate but
//! `ids`, and every stage above may depend on it (ARCHITECTURE.md, "Layers").

mod alert;
mod endpoint;
mod event_filter;
mod host_pattern;
mod ip_allow;
mod policy;
mod provider;
mod rate_limit;
mod retry;
mod secret;
mod text;
mod time;
mod trace;

pub use alert::{
    AlertKind, DestinationKind, EndpointAlerts, FailureRate, MAX_DESTINATION_URL_BYTES,
    check_destination_url,
};
pub use endpoint::{
    DEFAULT_TOLERANCE_S, EndpointLimits, EndpointRequest, EndpointSpec, LEASE_MARGIN_MS, masked,
};
pub use event_filter::{EventTypePattern, InvalidEventTypePattern, runs};
pub use host_pattern::{HostPattern, InvalidHostPattern};
pub use ip_allow::{InvalidIpAllow, IpAllow, admits, is_set_name};
pub use policy::{PolicyOverrides, TenantPolicy, Violation, config_bytes, hard};
pub use provider::{HmacAlgorithm, HmacScheme, Provider, SignatureEncoding, UnknownProvider};
pub use rate_limit::{RateLimit, RatePeriod};
pub use retry::{MAX_ATTEMPTS, MAX_DELAY_S, RetryPolicy};
pub use secret::{MIN_SECRET_BYTES, PluginSecrets, SecretValue};
pub use text::{MAX_EVENT_ID_BYTES, MAX_EVENT_TYPE_BYTES, clip, event_key};
pub use time::Timestamp;
pub use trace::TraceId;
