//! What one client can hold of the HTTP server is bounded: a connection
//! that never finishes its headers, sits idle or drips its body is cut off,
//! and connections beyond the limit wait without taking a task.

use std::time::{Duration, Instant};

use hookhost::config::Config;
use hookhost_tests::block_on;
use hookhost_tests::host::TestHost;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Waits up to `limit` for the server to answer on `stream` or close it;
/// returns what it sent (empty once closed) and when.
async fn read_some(stream: &mut TcpStream, limit: Duration) -> Option<(String, Instant)> {
    let mut buf = vec![0; 4096];
    match tokio::time::timeout(limit, stream.read(&mut buf)).await {
        Ok(Ok(n)) => Some((
            String::from_utf8_lossy(&buf[..n]).into_owned(),
            Instant::now(),
        )),
        Ok(Err(_)) => Some((String::new(), Instant::now())),
        Err(_) => None,
    }
}

async fn host_with(config: Config) -> TestHost {
    TestHost::start_with(Config {
        shutdown_grace: Duration::from_secs(1),
        ..config
    })
    .await
}

#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected_after_the_header_timeout() {
    block_on(async {
        let host = host_with(Config {
            http_header_timeout: Duration::from_millis(300),
            ..Config::default()
        })
        .await;
        let mut slow = TcpStream::connect(host.addr).await.unwrap();
        let started = Instant::now();
        slow.write_all(b"POST /hooks/acme/orders HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let (_, closed) = read_some(&mut slow, Duration::from_secs(5))
            .await
            .expect("the server kept a connection without headers open");
        let held = closed - started;
        assert!(
            (Duration::from_millis(250)..Duration::from_secs(3)).contains(&held),
            "closed after {held:?}"
        );
    })
}

#[test]
fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    block_on(async {
        let host = host_with(Config {
            http_header_timeout: Duration::from_millis(300),
            ..Config::default()
        })
        .await;
        let mut idle = TcpStream::connect(host.addr).await.unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (answer, answered) = read_some(&mut idle, Duration::from_secs(5))
            .await
            .expect("an answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let (rest, closed) = read_some(&mut idle, Duration::from_secs(5))
            .await
            .expect("the server kept an idle connection open");
        assert_eq!(rest, "", "nothing more is sent before it closes");
        assert!(closed - answered >= Duration::from_millis(250));
    })
}

#[test]
fn a_request_whose_body_drips_is_answered_408_after_the_request_timeout() {
    block_on(async {
        let host = host_with(Config {
            http_request_timeout: Duration::from_millis(400),
            ..Config::default()
        })
        .await;
        let mut dripping = TcpStream::connect(host.addr).await.unwrap();
        let started = Instant::now();
        dripping
            .write_all(
                format!(
                    "POST /v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
                     Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"id\":",
                    host.operator()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let (answer, at) = read_some(&mut dripping, Duration::from_secs(5))
            .await
            .expect("no answer to a dripping body");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(at - started >= Duration::from_millis(350));
    })
}

#[test]
fn connections_beyond_the_limit_wait_until_one_closes() {
    block_on(async {
        let host = host_with(Config {
            max_connections: 2,
            ..Config::default()
        })
        .await;
        let first = TcpStream::connect(host.addr).await.unwrap();
        let _second = TcpStream::connect(host.addr).await.unwrap();
        // Let the server take both before the third arrives.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut third = TcpStream::connect(host.addr).await.unwrap();
        third
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert!(
            read_some(&mut third, Duration::from_millis(500))
                .await
                .is_none(),
            "a third connection was served while two were open"
        );
        drop(first);
        let (answer, _) = read_some(&mut third, Duration::from_secs(5))
            .await
            .expect("the waiting connection was never served");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    })
}
