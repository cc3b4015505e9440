// Test plugin: allocates and fills 1 MiB blocks, keeping them all, until an allocation fails (and aborts), for the memory limit tests.

use hookhost_sdk::prelude::*;

const MIB: usize = 1 << 20;

#[handler]
fn handle(_event: Event) -> Result<(), HandlerError> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Non-zero bytes so every page is really written.
        let block = vec![0xa5u8; MIB];
        hoard.push(std::hint::black_box(block));
    }
}
