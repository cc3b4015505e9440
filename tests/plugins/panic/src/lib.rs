// Test plugin: panics with a message naming the event, for the trap tests.

use hookhost_sdk::prelude::*;

#[handler]
fn handle(event: Event) -> Result<(), HandlerError> {
    panic!("handler exploded: {}", event.id)
}
