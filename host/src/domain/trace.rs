//! W3C Trace Context: the trace a delivery belongs to, so what a plugin's
//! outbound calls cause can be followed back to the webhook behind them.

use std::fmt;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceState};
use sha2::{Digest, Sha256};

use crate::ids::DeliveryId;

/// A trace id: 16 bytes, never all zero, written as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

impl TraceId {
    /// The trace of a delivery: the one its sender's `traceparent` header
    /// names, so the sender's trace goes on through hookhost; without a valid
    /// one, the delivery's id, a UUIDv7 whose 128 bits every stage carries.
    pub fn of_delivery(id: &DeliveryId, headers: &[(String, String)]) -> Self {
        Self::sent(headers)
            .map(|(trace, _)| trace)
            .or_else(|| Self::from_hex(id.as_str().strip_prefix("dlv_")?))
            .unwrap_or_else(|| {
                let digest = Sha256::digest(id.as_str().as_bytes());
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&digest[..16]);
                bytes[15] |= 1;
                Self(bytes)
            })
    }

    /// The OpenTelemetry context a delivery's exported span starts in: under
    /// its sender's span when `headers` carry the valid `traceparent` this
    /// trace came from, else at the root of this trace. The root is a remote
    /// parent without a span id: the SDK takes a parent's trace id whatever
    /// its span id, and records an invalid one as no parent.
    pub fn otel_parent(&self, headers: &[(String, String)]) -> opentelemetry::Context {
        let sender = Self::sent(headers)
            .filter(|(trace, _)| trace == self)
            .map_or(SpanId::INVALID, |(_, span)| SpanId::from_bytes(span));
        opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
            opentelemetry::trace::TraceId::from_bytes(self.0),
            sender,
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        ))
    }

    /// The trace and the sender's span of the first valid `traceparent`.
    fn sent(headers: &[(String, String)]) -> Option<(Self, [u8; 8])> {
        headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("traceparent"))
            .find_map(|(_, value)| Self::from_traceparent(value))
    }

    /// The trace id and parent span id of a `traceparent` header:
    /// `00-<trace>-<parent>-<flags>`, or a later version's first four fields.
    fn from_traceparent(value: &str) -> Option<(Self, [u8; 8])> {
        let fields: Vec<&str> = value.trim().splitn(5, '-').collect();
        let [version, trace, parent, flags, rest @ ..] = fields.as_slice() else {
            return None;
        };
        let valid = is_hex(version, 2)
            && *version != "ff"
            && (*version != "00" || rest.is_empty())
            && is_hex(parent, 16)
            && parent.bytes().any(|b| b != b'0')
            && is_hex(flags, 2);
        if !valid || !is_hex(trace, 32) {
            return None;
        }
        let span: [u8; 8] = hex::decode(parent).ok()?.try_into().ok()?;
        Some((Self::from_hex(trace)?, span))
    }

    fn from_hex(text: &str) -> Option<Self> {
        let bytes: [u8; 16] = hex::decode(text).ok()?.try_into().ok()?;
        (bytes != [0; 16]).then_some(Self(bytes))
    }

    /// The `traceparent` of a call made in this trace as span `span`, sampled.
    pub fn traceparent(&self, span: [u8; 8]) -> String {
        format!("00-{self}-{}-01", hex::encode(span))
    }
}

/// Whether `text` is `len` lowercase hex digits, as Trace Context writes them.
fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> DeliveryId {
        DeliveryId::from_string("dlv_0193a1b2c3d4e5f60718293a4b5c6d7e".into())
    }

    fn with(traceparent: &str) -> TraceId {
        TraceId::of_delivery(&delivery(), &[("traceparent".into(), traceparent.into())])
    }

    #[test]
    fn a_delivery_without_a_traceparent_is_its_own_trace() {
        let trace = TraceId::of_delivery(&delivery(), &[]);
        assert_eq!(trace.to_string(), "0193a1b2c3d4e5f60718293a4b5c6d7e");
        assert_eq!(
            trace.traceparent([0, 0, 0, 0, 0, 0, 0, 7]),
            "00-0193a1b2c3d4e5f60718293a4b5c6d7e-0000000000000007-01"
        );
    }

    #[test]
    fn a_senders_valid_traceparent_carries_its_trace_through() {
        let sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(with(sent).to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra";
        assert_eq!(with(later).to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn an_exported_delivery_span_continues_its_senders_span_or_roots_its_own_trace() {
        let sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let headers = [("traceparent".to_owned(), sent.to_owned())];
        let parent = TraceId::of_delivery(&delivery(), &headers).otel_parent(&headers);
        let context = parent.span().span_context().clone();
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(context.span_id().to_string(), "00f067aa0ba902b7");
        assert!(context.is_remote() && context.is_sampled());

        let own = TraceId::of_delivery(&delivery(), &[]);
        let parent = own.otel_parent(&[]);
        let context = parent.span().span_context().clone();
        assert_eq!(context.trace_id().to_string(), own.to_string());
        assert_eq!(context.span_id(), SpanId::INVALID);
        assert!(context.is_sampled());
    }

    #[test]
    fn an_invalid_traceparent_is_ignored() {
        let own = TraceId::of_delivery(&delivery(), &[]);
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736",
        ] {
            assert_eq!(with(bad), own, "{bad:?}");
        }
    }
}
