// Test plugin: tries files, directories, environment variables and a socket, for the sandbox tests; Ok only when all are out of reach.

use hookhost_sdk::prelude::*;

#[handler]
fn handle(_event: Event) -> Result<(), HandlerError> {
    let mut leaks = Vec::new();

    let passwd = std::fs::read_to_string("/etc/passwd");
    info!(
        "fs read /etc/passwd: {:?}",
        passwd.as_ref().map(|s| s.len())
    );
    if passwd.is_ok() {
        leaks.push("read /etc/passwd");
    }

    let root = std::fs::read_dir("/").map(|entries| entries.count());
    info!("fs list /: {root:?}");
    if matches!(root, Ok(n) if n > 0) {
        leaks.push("listed /");
    }

    let vars = std::env::vars().count();
    info!("env: {vars}");
    if vars > 0 {
        leaks.push("environment variables");
    }

    let home = std::env::var("HOME");
    info!("env HOME: {home:?}");
    if home.is_ok() {
        leaks.push("HOME");
    }

    let socket = std::net::TcpStream::connect("127.0.0.1:80");
    info!("net connect 127.0.0.1:80: {socket:?}");
    if socket.is_ok() {
        leaks.push("TCP connect");
    }

    if leaks.is_empty() {
        Ok(())
    } else {
        Err(reject(format!("sandbox leak: {}", leaks.join(", "))))
    }
}
