//! HTTPS when `tls.cert` and `tls.key` are set: HTTP/2 and HTTP/1.1 through
//! ALPN, a renewed certificate served without a restart, and a key that does
//! not fit its certificate refused at start.

use std::path::Path;
use std::time::{Duration, Instant};

use hookhost::config::{Config, TlsSettings};
use hookhost_tests::host::TestHost;
use hookhost_tests::{block_on, cli_test, hookhost};

/// A self-signed certificate for `localhost` and its key, as PEM.
fn certificate() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Writes a certificate and key into `dir` (replacing them: the key first,
/// then the certificate, as a renewal tool would).
fn install(dir: &Path, (cert, key): &(String, String)) {
    std::fs::write(dir.join("key.pem"), key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
}

/// A client that trusts `cert` alone and reaches `localhost` at `host`.
fn client_trusting(cert: &str, host: &TestHost) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
        .resolve("localhost", host.addr)
        .build()
        .unwrap()
}

async fn https_host(dir: &Path) -> TestHost {
    TestHost::start_with(Config {
        tls: TlsSettings {
            cert: Some(dir.join("cert.pem").display().to_string()),
            key: Some(dir.join("key.pem").display().to_string()),
        },
        shutdown_grace: Duration::from_secs(2),
        ..Config::default()
    })
    .await
}

#[test]
fn with_a_certificate_the_server_speaks_https_with_http2_and_http1() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let pair = certificate();
        install(dir.path(), &pair);
        let host = https_host(dir.path()).await;
        let url = format!("https://localhost:{}/healthz", host.addr.port());

        let client = client_trusting(&pair.0, &host);
        let answer = client.get(&url).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.version(), reqwest::Version::HTTP_2, "ALPN offers h2");
        let http1 = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pair.0.as_bytes()).unwrap())
            .resolve("localhost", host.addr)
            .http1_only()
            .build()
            .unwrap();
        let answer = http1.get(&url).send().await.unwrap();
        assert_eq!(answer.version(), reqwest::Version::HTTP_11);

        let plain = reqwest::get(host.url("/healthz")).await;
        assert!(
            plain.is_err() || plain.unwrap().status() != 200,
            "no plain HTTP"
        );
        let stranger = client_trusting(&certificate().0, &host);
        assert!(
            stranger.get(&url).send().await.is_err(),
            "only its certificate"
        );
        host.stop().await;
    });
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let old = certificate();
        install(dir.path(), &old);
        let host = https_host(dir.path()).await;
        let url = format!("https://localhost:{}/healthz", host.addr.port());
        assert!(
            client_trusting(&old.0, &host)
                .get(&url)
                .send()
                .await
                .is_ok()
        );

        let new = certificate();
        install(dir.path(), &new);
        let started = Instant::now();
        loop {
            // A client of its own each time: a new connection, a new handshake.
            if client_trusting(&new.0, &host)
                .get(&url)
                .send()
                .await
                .is_ok()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the renewed certificate was not served"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            client_trusting(&old.0, &host)
                .get(&url)
                .send()
                .await
                .is_err()
        );
        host.stop().await;
    });
}

/// Runs `hookhost serve` on a scratch data directory of `dir` with
/// `tls_flags`, expecting it to stop at start; returns its code and stderr.
async fn serve_refused(dir: &Path, tls_flags: &[&str]) -> (i32, String) {
    let data = dir.join("data");
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir"];
    args.push(data.to_str().unwrap());
    args.extend(tls_flags);
    let (code, _, stderr) = hookhost(dir, &args).await;
    (code, stderr)
}

#[test]
fn a_key_that_does_not_fit_the_certificate_stops_the_server_at_start_with_a_clear_error() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = certificate();
        let (_, other_key) = certificate();
        install(dir.path(), &(cert, other_key));
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        let (code, stderr) =
            serve_refused(dir.path(), &["--tls-cert", cert, "--tls-key", key]).await;
        assert_ne!(code, 0);
        assert!(stderr.contains("tls.key does not fit tls.cert"), "{stderr}");

        let (code, stderr) = serve_refused(dir.path(), &["--tls-cert", cert]).await;
        assert_eq!(code, 2, "half a TLS configuration is refused");
        assert!(stderr.contains("tls.cert and tls.key"), "{stderr}");
    })
}
