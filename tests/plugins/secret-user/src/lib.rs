// Test plugin: reads secret `api_key` and sends it to config `url` as
// `Authorization: Bearer <value>` and in the query, then puts it in every text
// the attempt records: a log line, stdout, stderr, a call whose error quotes
// its URL, and, with config `fail` set, a retry message. Whether secret
// `other` exists is logged, so tests see what `secret::get` answers.

use hookhost_sdk::prelude::*;

#[handler]
fn handle(_event: Event) -> Result<(), HandlerError> {
    let key = secret::get("api_key").ok_or_else(|| reject("secret api_key not set"))?;
    info!("other secret present: {}", secret::get("other").is_some());
    let url = config::get("url").ok_or_else(|| reject("url not set"))?;
    http::Request::post(format!("{url}?key={key}"))
        .header("authorization", format!("Bearer {key}"))
        .send()?;
    // A space in the host: the call fails, and its error quotes the URL.
    let _ = http::send(http::Request::get(format!("http://bad host/{key}")));
    info!("sent with {key}");
    println!("stdout has {key}");
    eprintln!("stderr has {key}");
    if config::get("fail").is_some() {
        return Err(retry(format!("failed with {key}")));
    }
    Ok(())
}
