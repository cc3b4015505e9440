// Test plugin: logs the order it syncs, posts the event's body to config `url`, and logs the answer, for the dashboard's tests (a failure with logs to read).

use hookhost_sdk::http::Request;
use hookhost_sdk::prelude::*;

#[handler]
fn handle(event: Event) -> Result<(), HandlerError> {
    let url = config::get("url").ok_or_else(|| reject("url not set"))?;
    info!("syncing order {}", event.id);
    let sent = Request::post(url)
        .header("content-type", "application/json")
        .body(event.body.clone())
        .send()
        .and_then(|response| response.error_for_status());
    match sent {
        Ok(response) => {
            info!("order service answered {}", response.status);
            Ok(())
        }
        Err(e) => {
            error!("order service failed: {e}");
            Err(e.into())
        }
    }
}
