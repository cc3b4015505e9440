//! `hookhost:plugin@0.1.0` on top of the current version, so that every
//! capability is implemented once, in `capabilities/`: each 0.1.0 import
//! converts its arguments, calls the current capability and converts its
//! answer back, and a 0.1.0 handler's error becomes the current one.
//!
//! 0.1.0 differs from 0.2.0 only by what it lacks (`secret`, `retry-after`),
//! so every conversion is total.

use super::Event;
use super::bindings::{config, http_out, kv, log, types, v0_1};
use super::state::State;

impl v0_1::types::Host for State {}

impl v0_1::config::Host for State {
    async fn get(&mut self, key: String) -> Option<String> {
        config::Host::get(self, key).await
    }

    async fn get_all(&mut self) -> Vec<(String, String)> {
        config::Host::get_all(self).await
    }
}

impl v0_1::log::Host for State {
    async fn log(&mut self, level: v0_1::log::Level, message: String) {
        use v0_1::log::Level as Old;
        let level = match level {
            Old::Trace => log::Level::Trace,
            Old::Debug => log::Level::Debug,
            Old::Info => log::Level::Info,
            Old::Warn => log::Level::Warn,
            Old::Error => log::Level::Error,
        };
        log::Host::log(self, level, message).await
    }
}

impl v0_1::kv::Host for State {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, v0_1::kv::Error> {
        kv::Host::get(self, key).await.map_err(kv_error)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), v0_1::kv::Error> {
        kv::Host::set(self, key, value).await.map_err(kv_error)
    }

    async fn delete(&mut self, key: String) -> Result<(), v0_1::kv::Error> {
        kv::Host::delete(self, key).await.map_err(kv_error)
    }

    async fn increment(&mut self, key: String, delta: i64) -> Result<i64, v0_1::kv::Error> {
        kv::Host::increment(self, key, delta)
            .await
            .map_err(kv_error)
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, v0_1::kv::Error> {
        kv::Host::list_keys(self, prefix).await.map_err(kv_error)
    }
}

fn kv_error(e: kv::Error) -> v0_1::kv::Error {
    use v0_1::kv::Error as Old;
    match e {
        kv::Error::InvalidKey(m) => Old::InvalidKey(m),
        kv::Error::TooLarge(m) => Old::TooLarge(m),
        kv::Error::QuotaExceeded(m) => Old::QuotaExceeded(m),
        kv::Error::NotANumber(m) => Old::NotANumber(m),
        kv::Error::Other(m) => Old::Other(m),
    }
}

impl v0_1::http_out::Host for State {
    async fn send(
        &mut self,
        request: v0_1::http_out::Request,
    ) -> Result<v0_1::http_out::Response, v0_1::http_out::Error> {
        use v0_1::http_out::Error as Old;
        let request = http_out::Request {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            timeout_ms: request.timeout_ms,
        };
        match http_out::Host::send(self, request).await {
            Ok(r) => Ok(v0_1::http_out::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(match e {
                http_out::Error::AccessDenied(m) => Old::AccessDenied(m),
                http_out::Error::InvalidRequest(m) => Old::InvalidRequest(m),
                http_out::Error::Timeout => Old::Timeout,
                http_out::Error::TooLarge => Old::TooLarge,
                http_out::Error::BudgetExhausted => Old::BudgetExhausted,
                http_out::Error::Other(m) => Old::Other(m),
            }),
        }
    }
}

impl From<Event> for v0_1::types::Event {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            tenant: e.tenant,
            endpoint: e.endpoint,
            provider: e.provider,
            event_type: e.event_type,
            received_at_ms: e.received_at_ms,
            attempt: e.attempt,
            headers: e.headers,
            body: e.body,
        }
    }
}

impl From<v0_1::types::HandlerError> for types::HandlerError {
    fn from(e: v0_1::types::HandlerError) -> Self {
        match e {
            v0_1::types::HandlerError::Retry(m) => Self::Retry(m),
            v0_1::types::HandlerError::Reject(m) => Self::Reject(m),
        }
    }
}
