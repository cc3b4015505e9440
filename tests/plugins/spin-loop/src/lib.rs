// Test plugin: spins forever without calling the host, for the deadline (epoch interruption) tests.

use hookhost_sdk::prelude::*;

#[handler]
fn handle(_event: Event) -> Result<(), HandlerError> {
    let mut n: u64 = 0;
    loop {
        // black_box keeps the optimiser from proving the loop side-effect free.
        n = std::hint::black_box(n.wrapping_add(1));
    }
}
