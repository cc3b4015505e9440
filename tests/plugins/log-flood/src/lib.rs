// Test plugin: logs 10 MiB in 1 KiB lines and prints 1 MiB to stdout, for the log budget tests.

use hookhost_sdk::prelude::*;

const KIB: usize = 1024;
const LOG_BYTES: usize = 10 * 1024 * KIB;
const STDOUT_BYTES: usize = 1024 * KIB;

#[handler]
fn handle(_event: Event) -> Result<(), HandlerError> {
    // "000001 xxxx...": 1024 bytes per log line.
    let filler = "x".repeat(KIB - 7);
    for i in 0..LOG_BYTES / KIB {
        info!("{i:06} {filler}");
    }
    // 1023 characters and a newline per stdout line.
    let line = "y".repeat(KIB - 1);
    for _ in 0..STDOUT_BYTES / KIB {
        println!("{line}");
    }
    Ok(())
}
