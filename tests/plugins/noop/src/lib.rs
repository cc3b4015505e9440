// Test plugin: succeeds at once, for the invocation overhead benchmarks.

use hookhost_sdk::prelude::*;

#[handler]
fn handle(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}
