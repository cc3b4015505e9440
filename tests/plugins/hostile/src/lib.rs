// Test plugin: one attack on the host's bounds, chosen by config `attack`,
// for the hostile-tenant suite. Each ignores the host's refusals and goes
// on, as an attacker would, then says what it got.

use hookhost_sdk::prelude::*;

const MIB: usize = 1024 * 1024;

#[handler]
fn handle(event: Event) -> Result<(), HandlerError> {
    let attack = config::get("attack").ok_or_else(|| reject("attack not set"))?;
    match attack.as_str() {
        // Ten thousand tiny writes and deletes: only the write cap's worth may
        // commit, as one write per key.
        "kv-flood" => {
            let mut refused = 0u32;
            for i in 0..10_000u32 {
                let key = format!("{}-{i:07}", event.id);
                let done = if i % 2 == 0 {
                    kv::set(&key, "x")
                } else {
                    kv::delete(&key)
                };
                if done.is_err() {
                    refused += 1;
                }
            }
            info!("refused {refused}");
            Ok(())
        }
        // Lists a prefix with more keys than one list may return.
        "kv-list" => match kv::list("") {
            Ok(keys) => Err(reject(format!("listed {} keys", keys.len()))),
            Err(e) => Err(reject(format!("list refused: {e}"))),
        },
        // A key with NUL, which PostgreSQL's text cannot hold.
        "kv-nul" => match kv::set("a\0b", "x") {
            Ok(()) => Err(reject("a NUL key was taken")),
            Err(e) => Err(reject(format!("NUL key refused: {e}"))),
        },
        // Pushes a counter to i64::MAX, then past it.
        "kv-overflow" => {
            kv::increment("n", i64::MAX)?;
            kv::increment("n", i64::MAX)?;
            Ok(())
        }
        // Asks for a secret by a 1 MiB name.
        "huge-secret-name" => {
            let found = secret::get(&"n".repeat(MIB));
            Err(reject(format!(
                "a 1 MiB secret name found: {}",
                found.is_some()
            )))
        }
        // A 10 MiB rejection message with NUL in it.
        "huge-message" => Err(reject(format!("\0{}", "m".repeat(10 * MIB)))),
        // An outbound call to a 1 MiB URL with a 1 MiB method.
        "huge-url" => {
            let url = format!("https://example.com/{}", "u".repeat(MIB));
            let _ = http::send(http::Request::new("X".repeat(MIB), url));
            Ok(())
        }
        // One raw 1 MiB write to stdout, past the 64 KiB the stream permits.
        "raw-stdout" => {
            let out = wasi::cli::stdout::get_stdout();
            let written = out.write(&vec![b'\n'; MIB]);
            Err(reject(format!("the oversized write returned {written:?}")))
        }
        // Blocks in the host for a minute, past any deadline.
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(60));
            Err(reject("woke up"))
        }
        // Asks the host for a megabyte of randomness at a time, which the host
        // would fill in a call no deadline interrupts.
        "random-flood" => {
            for _ in 0..1000 {
                std::hint::black_box(wasi::random::random::get_random_bytes(MIB as u64));
            }
            Err(reject("got every megabyte"))
        }
        // Makes the host hold pollables, never dropping one, saying how many
        // it has every thousand.
        "resource-flood" => {
            let mut held = Vec::new();
            for i in 1..=2_000_000u32 {
                held.push(wasi::clocks::monotonic_clock::subscribe_duration(
                    1_000_000_000,
                ));
                if i % 1000 == 0 {
                    info!("holding {i}");
                }
            }
            Err(reject(format!("held {} pollables", held.len())))
        }
        other => Err(reject(format!("unknown attack: {other}"))),
    }
}
