// Test plugin: a handler of hookhost:plugin/handler@0.1.0, built from the
// frozen copy of that world's WIT as a plugin released before 0.2.0 was: it
// logs, counts its runs in KV, and posts the body to config `url`, then
// returns what config `outcome` says ("ok" by default, "retry" or "reject").

wit_bindgen::generate!({
    world: "handler",
    path: "../../../wit/0.1.0",
});

use hookhost::plugin::{config, http_out, kv, log};

struct Component;

impl Guest for Component {
    fn handle(event: Event) -> Result<(), HandlerError> {
        let runs = kv::increment("runs", 1).map_err(|e| HandlerError::Retry(format!("{e:?}")))?;
        log::log(
            log::Level::Info,
            &format!("0.1.0 handler, run {runs}, {} bytes", event.body.len()),
        );
        let url = config::get("url").ok_or_else(|| HandlerError::Reject("url not set".into()))?;
        let response = http_out::send(&http_out::Request {
            method: "POST".into(),
            url,
            headers: vec![("x-world".into(), "hookhost:plugin@0.1.0".into())],
            body: event.body,
            timeout_ms: None,
        })
        .map_err(|e| HandlerError::Retry(format!("{e:?}")))?;
        match config::get("outcome").as_deref() {
            Some("retry") => Err(HandlerError::Retry(format!("status {}", response.status))),
            Some("reject") => Err(HandlerError::Reject(format!("status {}", response.status))),
            _ => Ok(()),
        }
    }
}

export!(Component);
