// Test plugin: key-value writes selected by config `mode`, for the commit, discard and read-your-writes tests.

use hookhost_sdk::prelude::*;

#[handler]
fn handle(_event: Event) -> Result<(), HandlerError> {
    let mode = config::get("mode").ok_or_else(|| reject("mode not set"))?;
    match mode.as_str() {
        "count" => {
            kv::increment("n", 1)?;
            Ok(())
        }
        "fail-after-write" => {
            kv::set("leak", "x")?;
            Err(retry("failing on purpose"))
        }
        "trap-after-write" => {
            kv::set("leak", "x")?;
            panic!("trapping on purpose after a write");
        }
        "read-your-writes" => {
            kv::set("a", "1")?;
            assert_eq!(kv::get("a")?.as_deref(), Some(&b"1"[..]));
            kv::increment("c", 5)?;
            assert_eq!(kv::increment("c", 5)?, 10);
            kv::delete("a")?;
            assert_eq!(kv::get("a")?, None);
            Ok(())
        }
        other => Err(reject(format!("unknown mode: {other}"))),
    }
}
