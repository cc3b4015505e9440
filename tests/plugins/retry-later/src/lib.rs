// Test plugin: returns `retry_after` with config `after_ms`, or, given config
// `url` instead, posts the event there and lets `?` turn the answer into the
// handler's result (a 429 or 503 with Retry-After becomes `retry_after`).
// Succeeds from attempt config `succeed_on_attempt` on, if set.

use std::time::Duration;

use hookhost_sdk::prelude::*;

#[handler]
fn handle(event: Event) -> Result<(), HandlerError> {
    let succeeds_from = config::get("succeed_on_attempt").and_then(|n| n.parse().ok());
    if succeeds_from.is_some_and(|n: u32| event.attempt >= n) {
        return Ok(());
    }
    if let Some(url) = config::get("url") {
        http::post_json(&url, &json!({ "attempt": event.attempt }))?;
        return Ok(());
    }
    let after_ms = config::get("after_ms")
        .and_then(|ms| ms.parse().ok())
        .ok_or_else(|| reject("after_ms not set"))?;
    Err(retry_after(
        format!("attempt {} asks for {after_ms} ms", event.attempt),
        Duration::from_millis(after_ms),
    ))
}
