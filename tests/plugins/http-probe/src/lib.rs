// Test plugin: sends config `method` (default GET) to config `url`, `count` times (default 1), and reports the result, for the outbound HTTP tests.

use hookhost_sdk::http::Request;
use hookhost_sdk::prelude::*;

#[handler]
fn handle(_event: Event) -> Result<(), HandlerError> {
    let url = config::get("url").ok_or_else(|| reject("url not set"))?;
    let method = config::get("method").unwrap_or_else(|| "GET".to_string());
    let count: u32 = match config::get("count") {
        Some(n) => n
            .parse()
            .map_err(|_| reject(format!("count is not a number: {n}")))?,
        None => 1,
    };
    for _ in 0..count {
        match http::send(Request::new(method.as_str(), url.as_str())) {
            Ok(resp) => info!("status {}", resp.status),
            Err(e) => {
                error!("{e:?}");
                return Err(reject(format!("{e:?}")));
            }
        }
    }
    Ok(())
}
