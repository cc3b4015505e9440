// Test plugin: posts the event it was given to config `url` as JSON, for the end-to-end delivery tests.

use hookhost_sdk::prelude::*;
use serde::Serialize;

/// `{"id":…,"attempt":…,"event_type":…,"body":…}`, in this order.
#[derive(Serialize)]
struct Echo<'a> {
    id: &'a str,
    attempt: u32,
    event_type: Option<&'a str>,
    body: String,
}

#[handler]
fn handle(event: Event) -> Result<(), HandlerError> {
    let url = config::get("url").ok_or_else(|| reject("url not set"))?;
    let echo = Echo {
        id: &event.id,
        attempt: event.attempt,
        event_type: event.event_type(),
        body: String::from_utf8_lossy(&event.body).into_owned(),
    };
    http::post_json(&url, &echo)?;
    Ok(())
}
