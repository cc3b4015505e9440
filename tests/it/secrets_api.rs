//! Secrets through the API and the CLI: plugin secrets are write-only and
//! bounded; no secret is readable from the database at rest; the master key
//! rotates without losing one, and a start without the key the database is
//! sealed under refuses, naming it; the data directory is the owner's alone.

use std::path::Path;
use std::sync::Arc;

use hookhost::store::{AdminStore, Keyring, PostgresStore, SqliteStore, StoreError};
use hookhost_tests::host::{OPERATOR_TOKEN, SECRET, ServeProcess, TestHost, signed_headers, spec};
use hookhost_tests::{block_on, cli_test, hookhost, hookhost_bin, plugins};
use serde_json::{Value, json};

const API_KEY: &str = "sk_live_0123456789abcdef";

/// `PUT …/endpoints/orders/secrets/{name}` of tenant `acme` with `token`.
async fn put_secret(host: &TestHost, token: &str, name: &str, value: &str) -> (u16, Value) {
    let path = format!("/v1/tenants/acme/endpoints/orders/secrets/{name}");
    host.call("PUT", &path, Some(token), Some(json!({ "value": value })))
        .await
}

/// `GET` of `acme`'s endpoint `orders` with `token`.
async fn orders(host: &TestHost, token: &str) -> Value {
    let (status, endpoint) = host
        .call(
            "GET",
            "/v1/tenants/acme/endpoints/orders",
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{endpoint}");
    endpoint
}

/// Tenant `acme` with an endpoint `orders` running `echo`, made through the API.
async fn acme_orders(host: &TestHost) {
    let acme = host.tenant("acme").await;
    let version = host.plugin(&acme, "echo", plugins::ECHO).await;
    let body = serde_json::to_value(spec("echo", version, None)).unwrap();
    let (status, answer) = host
        .call(
            "PUT",
            "/v1/tenants/acme/endpoints/orders",
            Some(OPERATOR_TOKEN),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
}

#[test]
fn a_plugin_secret_is_write_only_and_shown_by_its_last_four_characters() {
    block_on(async {
        let host = TestHost::start().await;
        acme_orders(&host).await;

        let (status, answer) = put_secret(&host, OPERATOR_TOKEN, "api_key", API_KEY).await;
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer, json!({ "name": "api_key", "value": "…cdef" }));
        let (status, _) = put_secret(&host, OPERATOR_TOKEN, "api_key", API_KEY).await;
        assert_eq!(status, 200, "setting it again replaces it");

        let endpoint = orders(&host, OPERATOR_TOKEN).await;
        assert_eq!(endpoint["plugin_secrets"], json!({ "api_key": "…cdef" }));
        let (_, list) = host
            .call(
                "GET",
                "/v1/tenants/acme/endpoints",
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(
            list["endpoints"][0]["plugin_secrets"],
            json!({ "api_key": "…cdef" })
        );
        for answer in [&endpoint, &list] {
            assert!(!answer.to_string().contains(API_KEY), "{answer}");
        }

        let path = "/v1/tenants/acme/endpoints/orders/secrets/api_key";
        let (status, _) = host.call("DELETE", path, Some(OPERATOR_TOKEN), None).await;
        assert_eq!(status, 204);
        let (status, answer) = host.call("DELETE", path, Some(OPERATOR_TOKEN), None).await;
        assert_eq!(status, 404, "{answer}");
        let endpoint = orders(&host, OPERATOR_TOKEN).await;
        assert_eq!(endpoint["plugin_secrets"], json!({}));
        host.stop().await;
    })
}

#[test]
fn a_hostile_tenant_can_neither_overfill_an_endpoint_with_secrets_nor_reach_another_tenants() {
    block_on(async {
        let host = TestHost::start().await;
        acme_orders(&host).await;
        let evil = host.create_tenant("evil").await;
        let (status, key) = host
            .call(
                "POST",
                "/v1/tenants/acme/api-key",
                Some(OPERATOR_TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 200, "{key}");
        let acme = key["api_key"].as_str().expect("api_key").to_owned();

        let long = "x".repeat(4097);
        for (name, value, field, words) in [
            ("api_key", "short", "value", "8 to 4096 bytes"),
            ("api_key", long.as_str(), "value", "8 to 4096 bytes"),
            (
                "api_key",
                "-----BEGIN KEY-----\nMIIE\n",
                "value",
                "one line",
            ),
            ("API_KEY", API_KEY, "name", "secret name"),
        ] {
            let (status, answer) = put_secret(&host, &acme, name, value).await;
            assert_eq!(status, 422, "{answer}");
            let errors = answer.to_string();
            assert!(errors.contains(field) && errors.contains(words), "{answer}");
        }
        let (status, answer) = host
            .call(
                "PUT",
                "/v1/tenants/acme/endpoints/nowhere/secrets/api_key",
                Some(&acme),
                Some(json!({ "value": API_KEY })),
            )
            .await;
        assert_eq!(status, 404, "{answer}");

        for n in 0..16 {
            let (status, answer) = put_secret(&host, &acme, &format!("key_{n}"), API_KEY).await;
            assert_eq!(status, 201, "{answer}");
        }
        let (status, answer) = put_secret(&host, &acme, "one_more", API_KEY).await;
        assert_eq!(status, 409, "{answer}");
        assert!(
            answer["detail"].as_str().unwrap().contains("16 secrets"),
            "{answer}"
        );
        let (status, _) = put_secret(&host, &acme, "key_0", "a-replaced-secret-value").await;
        assert_eq!(status, 200, "a full endpoint may still replace a secret");

        let (status, _) = put_secret(&host, &evil, "key_1", "stolen-by-evil").await;
        assert_eq!(
            status, 404,
            "another tenant's endpoint does not exist for evil"
        );
        let path = "/v1/tenants/acme/endpoints/orders/secrets/key_1";
        let (status, _) = host.call("DELETE", path, Some(&evil), None).await;
        assert_eq!(status, 404);
        let endpoint = orders(&host, &acme).await;
        assert_eq!(endpoint["plugin_secrets"]["key_1"], "…cdef");
        assert_eq!(endpoint["plugin_secrets"]["key_0"], "…alue");
        host.stop().await;
    })
}

#[test]
fn no_secret_can_be_read_from_the_database_at_rest() {
    block_on(async {
        let host = TestHost::start().await;
        acme_orders(&host).await;
        let (status, _) = put_secret(&host, OPERATOR_TOKEN, "api_key", API_KEY).await;
        assert_eq!(status, 201);
        // Accepted: the signing secret opens for ingress.
        host.accept("acme", "orders", "evt_1", r#"{"type":"t"}"#)
            .await;

        let stored = host.at_rest().await;
        assert!(!stored.is_empty());
        for secret in [SECRET, API_KEY] {
            let found = stored.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{secret} is readable at rest");
        }
        host.stop().await;
    })
}

/// `hookhost serve` on `data` with `args`, expected to stop at start;
/// returns its exit code and standard error.
async fn serve_refused(dir: &Path, data: &Path, args: &[&str]) -> (i32, String) {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir"];
    all.push(data.to_str().unwrap());
    all.extend(args);
    let (code, _, stderr) = hookhost(dir, &all).await;
    (code, stderr)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_master_key_rotates_without_losing_a_secret_and_a_start_without_its_key_names_it() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (old, new, stranger) = ("a1".repeat(32), "b2".repeat(32), "c3".repeat(32));
        let client = reqwest::Client::new();
        let with_key = |key: &str| {
            vec!["--admin-token", "t", "--master-key"]
                .into_iter()
                .map(String::from)
                .chain([key.to_owned()])
                .collect::<Vec<String>>()
        };

        let mut server = ServeProcess::start(&data, &strs(&with_key(&old))).await;
        server.acme_orders(&client, &spec("echo", 1, None)).await;
        let put = client
            .put(server.url("/v1/tenants/acme/endpoints/orders/secrets/api_key"))
            .bearer_auth("t")
            .json(&json!({ "value": API_KEY }))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201);
        server.child.kill().await.unwrap();

        let mut rotating = with_key(&new);
        rotating.extend(["--previous-master-keys".to_owned(), format!("[\"{old}\"]")]);
        let mut server = ServeProcess::start(&data, &strs(&rotating)).await;
        // Answering at all means its start, which seals again, is over.
        let ready = client.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        server.child.kill().await.unwrap();

        let mut server = ServeProcess::start(&data, &strs(&with_key(&new))).await;
        let body = br#"{"type":"t"}"#;
        let mut request = client
            .post(server.url("/hooks/acme/orders"))
            .body(&body[..]);
        for (name, value) in signed_headers("evt_1", body) {
            request = request.header(name, value);
        }
        assert_eq!(
            request.send().await.unwrap().status(),
            202,
            "the signing secret opens under the new key alone"
        );
        let endpoint: Value = client
            .get(server.url("/v1/tenants/acme/endpoints/orders"))
            .bearer_auth("t")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(endpoint["plugin_secrets"], json!({ "api_key": "…cdef" }));
        server.child.kill().await.unwrap();

        let (code, stderr) = serve_refused(dir.path(), &data, &strs(&with_key(&stranger))).await;
        assert_ne!(code, 0);
        let id = Keyring::new(&new, &[]).unwrap().current_id().to_owned();
        assert!(
            stderr.contains(&format!("sealed under master key {id}")),
            "{stderr}"
        );
        let (code, stderr) = serve_refused(dir.path(), &data, &strs(&with_key("0123"))).await;
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("64 hex digits"), "{stderr}");
    })
}

#[test]
fn a_new_data_directory_and_its_database_and_key_are_readable_by_their_owner_only() {
    cli_test(async {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut server = ServeProcess::start(&data, &["--admin-token", "t"]).await;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        for file in ["hookhost.db", "hookhost.db-wal", "master.key"] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
        server.child.kill().await.unwrap();
    })
}

#[test]
fn a_secret_is_set_from_standard_input_through_the_cli_and_never_printed() {
    cli_test(async {
        use tokio::io::AsyncWriteExt;
        let dir = tempfile::tempdir().unwrap();
        let mut server =
            ServeProcess::start(&dir.path().join("data"), &["--admin-token", "t"]).await;
        server
            .acme_orders(&reqwest::Client::new(), &spec("echo", 1, None))
            .await;
        let url = server.url("");
        let api = ["--url", url.as_str(), "--token", "t"];

        let mut child = tokio::process::Command::new(hookhost_bin())
            .args([
                "endpoint", "secret", "set", "--tenant", "acme", "orders", "api_key",
            ])
            .args(api)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{API_KEY}\n").as_bytes())
            .await
            .unwrap();
        drop(stdin);
        let out = child.wait_with_output().await.unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{stderr}");
        assert!(
            stdout.contains("set secret api_key of endpoint orders: …cdef"),
            "{stdout}"
        );
        assert!(!stdout.contains(API_KEY) && !stderr.contains(API_KEY));

        let get = [&["endpoint", "get", "--tenant", "acme", "orders"][..], &api].concat();
        let (code, stdout, stderr) = hookhost(dir.path(), &get).await;
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("api_key=…cdef"), "{stdout}");
        let delete = [
            &[
                "endpoint", "secret", "delete", "--tenant", "acme", "orders", "api_key",
            ][..],
            &api,
        ]
        .concat();
        let (code, stdout, stderr) = hookhost(dir.path(), &delete).await;
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("deleted secret api_key"), "{stdout}");
        let (_, stdout, _) = hookhost(dir.path(), &get).await;
        assert!(
            stdout.contains("plugin secrets") && !stdout.contains("api_key="),
            "{stdout}"
        );
        server.child.kill().await.unwrap();
    })
}

#[test]
fn a_host_given_another_master_key_than_its_database_refuses_to_start_even_with_no_secret_stored() {
    block_on(async {
        let (first, other) = ("d4".repeat(32), "e5".repeat(32));
        let keys = |key: &str| Arc::new(Keyring::new(key, &[]).unwrap());
        let refused = |result: Result<u64, StoreError>| match result {
            Err(e) => e.to_string(),
            Ok(n) => panic!("started, resealing {n} rows"),
        };
        let id = Keyring::new(&first, &[]).unwrap().current_id().to_owned();

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hookhost.db");
        let store = SqliteStore::open(&file, keys(&first)).await.unwrap();
        assert_eq!(store.reseal().await.unwrap(), 0);
        drop(store);
        let store = SqliteStore::open(&file, keys(&other)).await.unwrap();
        let error = refused(store.reseal().await);
        assert!(
            error.contains(&format!("sealed under master key {id}")),
            "{error}"
        );

        let schema = hookhost_tests::host::PgSchema::create_anyway().await;
        let one = PostgresStore::connect(schema.options(), keys(&first))
            .await
            .unwrap();
        let two = PostgresStore::connect(schema.options(), keys(&other))
            .await
            .unwrap();
        assert_eq!(one.reseal().await.unwrap(), 0);
        let error = refused(two.reseal().await);
        assert!(
            error.contains(&format!("sealed under master key {id}")),
            "{error}"
        );
        drop((one, two));
        schema.drop().await;
    })
}
