// Test plugin: retries until attempt config `succeed_on_attempt` (default 3), or rejects when config `reject` is set, for the retry and dead-letter tests.

use hookhost_sdk::prelude::*;

#[handler]
fn handle(event: Event) -> Result<(), HandlerError> {
    if config::get("reject").is_some() {
        return Err(reject("rejected on purpose"));
    }
    let succeed_on: u32 = match config::get("succeed_on_attempt") {
        Some(n) => n
            .parse()
            .map_err(|_| reject(format!("succeed_on_attempt is not a number: {n}")))?,
        None => 3,
    };
    if event.attempt < succeed_on {
        return Err(retry(format!("attempt {} failed", event.attempt)));
    }
    Ok(())
}
