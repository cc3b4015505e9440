use std::path::Path;

use hookhost_tests::receiver::Receiver;
use std::time::Duration;

use hookhost_tests::host::ServeProcess;
use hookhost_tests::{block_on_within, cli_test, hookhost, hookhost_bin, plugins};
use serde_json::Value;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn plugin_test_exits_zero_and_commits_kv_when_the_handler_succeeds() {
    cli_test(async {
        let (code, stdout, stderr) = hookhost(
            repo(),
            &[
                "plugin",
                "test",
                plugins::EVENT_COUNTER,
                "--event",
                "plugins/event-counter/fixtures/event.json",
                "--event-type",
                "invoice.paid",
                "--json",
            ],
        )
        .await;
        assert_eq!(code, 0, "{stderr}");
        let record: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(record["outcome"]["kind"], "ok");
        assert_eq!(record["kv_writes"].as_array().unwrap().len(), 3);
        assert_eq!(record["logs"][0]["message"], "invoice.paid: 1");
    })
}

#[test]
fn plugin_test_exits_nonzero_and_says_why_when_the_handler_rejects() {
    cli_test(async {
        let (code, stdout, _) = hookhost(
            repo(),
            &[
                "plugin",
                "test",
                plugins::FLAKY,
                "--event",
                "plugins/event-counter/fixtures/event.json",
                "--config",
                "reject=yes",
            ],
        )
        .await;
        assert_eq!(code, 1);
        assert!(
            stdout.contains("outcome: reject: rejected on purpose"),
            "{stdout}"
        );
    })
}

#[test]
fn plugin_test_calls_out_to_an_allowed_local_receiver() {
    cli_test(async {
        let slack = Receiver::start().await;
        let port = slack.addr.port().to_string();
        let (code, stdout, stderr) = hookhost(
            repo(),
            &[
                "plugin",
                "test",
                plugins::STRIPE_TO_SLACK,
                "--event",
                "plugins/stripe-to-slack/fixtures/payment_intent.succeeded.json",
                "--event-type",
                "payment_intent.succeeded",
                "--config",
                &format!("slack_url={}", slack.url("/hook")),
                "--allow-host",
                &format!("127.0.0.1:{port}"),
                "--allow-private-network",
            ],
        )
        .await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains("POST http://127.0.0.1"), "{stdout}");
        assert_eq!(slack.requests().len(), 1);
    })
}

#[test]
fn plugin_test_refuses_a_file_that_is_not_a_component() {
    cli_test(async {
        let (code, _, stderr) = hookhost(
            repo(),
            &[
                "plugin",
                "test",
                "README.md",
                "--event",
                "plugins/event-counter/fixtures/event.json",
            ],
        )
        .await;
        assert_eq!(code, 2);
        assert!(
            stderr.contains("invalid plugin: not a WebAssembly binary"),
            "{stderr}"
        );
    })
}

#[test]
fn plugin_new_scaffolds_a_crate_that_builds_and_runs() {
    // The first run compiles the SDK for the scaffold; later runs reuse it.
    let bin = hookhost_bin();
    block_on_within(Duration::from_secs(900), async {
        let dir = tempfile::tempdir().unwrap();
        let (code, _, stderr) = hookhost(dir.path(), &["plugin", "new", "my-handler"]).await;
        assert_eq!(code, 0, "{stderr}");

        // Build output is kept between runs so the scaffold's dependencies compile once.
        let target = repo().join("target/plugin-builds/scaffold");
        let crate_dir = dir.path().join("my-handler");
        let build = tokio::process::Command::new(bin)
            .args(["plugin", "build", "my-handler"])
            .current_dir(dir.path())
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&build.stdout);
        assert!(
            build.status.success(),
            "{}",
            String::from_utf8_lossy(&build.stderr)
        );
        let wasm = stdout.lines().last().unwrap().trim();
        assert!(wasm.ends_with("my_handler.wasm"), "{stdout}");

        let fixture = crate_dir.join("fixtures/event.json");
        let (code, stdout, stderr) = hookhost(
            dir.path(),
            &[
                "plugin",
                "test",
                wasm,
                "--event",
                fixture.to_str().unwrap(),
                "--event-type",
                "invoice.paid",
            ],
        )
        .await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains("invoice.paid #1"), "{stdout}");
    })
}

#[test]
fn serve_refuses_an_ingest_only_host_without_a_shared_database() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap();
        let (code, _, stderr) = hookhost(
            repo(),
            &[
                "serve",
                "--workers",
                "0",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                data_dir,
            ],
        )
        .await;
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("--database-url"), "{stderr}");
    })
}

#[test]
fn serve_takes_its_settings_from_a_config_file_and_flags_override_the_file() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hookhost.toml");
        std::fs::write(
            &config,
            "# the flag --listen 127.0.0.1:0 overrides this port\n\
             listen = \"127.0.0.1:9\"\n\
             admin_token = \"hh_op_from_the_file\"\n",
        )
        .unwrap();
        let data = dir.path().join("data");
        let server = ServeProcess::start(&data, &["--config", config.to_str().unwrap()]).await;
        assert_ne!(server.addr.port(), 9, "the flag wins over the file");
        let client = reqwest::Client::new();
        let tenants = |token: &str| {
            client
                .get(server.url("/v1/tenants"))
                .bearer_auth(token)
                .send()
        };
        assert_eq!(tenants("hh_op_from_the_file").await.unwrap().status(), 200);
        assert_eq!(tenants("hh_op_demo").await.unwrap().status(), 401);
    })
}

#[test]
fn config_check_prints_what_serve_would_run_with_secrets_masked() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hookhost.toml");
        std::fs::write(
            &config,
            "workers = 9\nadmin_token = \"hh_op_0123456789secret\"\n",
        )
        .unwrap();
        let (code, stdout, stderr) =
            hookhost(repo(), &["config", "check", config.to_str().unwrap()]).await;
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("workers = 9  # from "), "{stdout}");
        assert!(stdout.contains("admin_token = \"…cret\""), "{stdout}");
        assert!(!stdout.contains("0123456789"), "secret printed: {stdout}");
        assert!(stdout.contains("\nretention = \"7days\""), "{stdout}");
    })
}

#[test]
fn config_check_names_the_line_of_an_unknown_setting_and_the_setting_meant() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hookhost.toml");
        std::fs::write(&config, "workers = 9\nretension = \"1d\"\n").unwrap();
        let (code, stdout, stderr) =
            hookhost(repo(), &["config", "check", config.to_str().unwrap()]).await;
        assert_eq!(code, 2, "{stdout}");
        assert!(
            stderr.contains("hookhost.toml line 2: unknown setting `retension`"),
            "{stderr}"
        );
        assert!(stderr.contains("did you mean `retention`?"), "{stderr}");
    })
}

#[test]
fn tenant_policy_shows_the_configured_defaults_and_sets_and_unsets_overrides() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hookhost.toml");
        std::fs::write(
            &config,
            "admin_token = \"hh_op_policy_test\"\n[tenant]\nmax_concurrent = 6\n",
        )
        .unwrap();
        let server = ServeProcess::start(
            &dir.path().join("data"),
            &["--config", config.to_str().unwrap()],
        )
        .await;
        let url = server.url("");
        let admin = |args: &[&str]| {
            let mut all = args.to_vec();
            all.extend(["--url", &url, "--token", "hh_op_policy_test"]);
            let all: Vec<String> = all.into_iter().map(String::from).collect();
            async move {
                let all: Vec<&str> = all.iter().map(String::as_str).collect();
                hookhost(repo(), &all).await
            }
        };
        let (code, _, stderr) = admin(&["tenant", "create", "acme"]).await;
        assert_eq!(code, 0, "{stderr}");

        let (code, stdout, stderr) = admin(&["tenant", "policy", "acme", "--json"]).await;
        assert_eq!(code, 0, "{stderr}");
        let shown: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(shown["policy"]["max_concurrent"], 6, "the file's default");

        let (code, stdout, stderr) = admin(&[
            "tenant",
            "policy",
            "acme",
            "--set",
            "max_concurrent=2",
            "--set",
            "allowed_hosts=[\"*.stripe.com\"]",
        ])
        .await;
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("max_concurrent"), "{stdout}");
        assert!(stdout.contains("this tenant"), "{stdout}");
        assert!(stdout.contains("*.stripe.com"), "{stdout}");

        let (code, stdout, stderr) = admin(&[
            "tenant",
            "policy",
            "acme",
            "--unset",
            "max_concurrent",
            "--json",
        ])
        .await;
        assert_eq!(code, 0, "{stderr}");
        let after: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(after["policy"]["max_concurrent"], 6);
        assert_eq!(
            after["overrides"],
            serde_json::json!({ "allowed_hosts": ["*.stripe.com"] })
        );

        let (code, _, stderr) = admin(&[
            "tenant",
            "policy",
            "acme",
            "--set",
            "max_timeout_ms=9999999",
        ])
        .await;
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("max_timeout_ms"), "{stderr}");
    })
}

/// Creates tenant `acme` and uploads the noop plugin as its `noop` version 1.
async fn acme_with_noop(client: &reqwest::Client, server: &ServeProcess, token: &str) {
    let created = client
        .post(server.url("/v1/tenants"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "id": "acme" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let uploaded = client
        .post(server.url("/v1/tenants/acme/plugins/noop/versions"))
        .bearer_auth(token)
        .body(std::fs::read(plugins::NOOP).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
}

#[test]
fn a_deleted_plugin_version_leaves_no_compiled_artifact_behind() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let server = ServeProcess::start(&data, &["--admin-token", "hh_op_evict"]).await;
        let client = reqwest::Client::new();
        acme_with_noop(&client, &server, "hh_op_evict").await;
        let compiled = || cwasm_files(&data.join("compiled")).len();
        assert_eq!(compiled(), 1, "the upload was compiled into the cache");

        let deleted = client
            .delete(server.url("/v1/tenants/acme/plugins/noop/versions/1"))
            .bearer_auth("hh_op_evict")
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
        assert_eq!(compiled(), 0, "the deleted version's artifact is gone");
    })
}

#[test]
fn a_host_sweeps_compiled_artifacts_no_version_needs_at_start() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut server = ServeProcess::start(&data, &["--admin-token", "hh_op_sweep"]).await;
        let client = reqwest::Client::new();
        acme_with_noop(&client, &server, "hh_op_sweep").await;
        // Gone before the next one starts: the data directory is locked.
        server.child.kill().await.unwrap();

        // What a version deleted on another host, an older wasmtime and a
        // crash mid-write leave behind, all written an hour ago, beside the
        // live version's artifact, also an hour old.
        let compiled = data.join("compiled");
        let live = cwasm_files(&compiled).pop().unwrap();
        let engine_key = live
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .split('-')
            .nth(1)
            .unwrap()
            .trim_end_matches(".cwasm")
            .to_owned();
        let functions = compiled.join(format!("functions-{engine_key}"));
        assert!(
            functions.is_dir(),
            "the function cache is beside the artifacts"
        );
        let other_functions = compiled.join("functions-0123456789abcdef");
        std::fs::create_dir(&other_functions).unwrap();
        std::fs::File::open(&other_functions)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        let stale = [
            compiled.join(format!("{}-{engine_key}", "ab".repeat(32))),
            compiled.join(format!("{}-0123456789abcdef.cwasm", "cd".repeat(32))),
            compiled.join(".tmpAbCdEf"),
        ];
        let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        for path in stale.iter().chain([&live]) {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
            file.set_modified(an_hour_ago).unwrap();
        }

        let _server = ServeProcess::start(&data, &["--admin-token", "hh_op_sweep"]).await;
        let swept = || stale.iter().all(|path| !path.exists()) && !other_functions.exists();
        let started = std::time::Instant::now();
        while !swept() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the stale files stayed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(live.exists(), "the live version's artifact was kept");
        assert!(
            functions.is_dir(),
            "this configuration's function cache was kept"
        );
    })
}

/// The compiled components in a compile cache directory.
fn cwasm_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "cwasm"))
        .collect()
}

#[test]
fn endpoint_controls_are_set_shown_paused_and_resumed_through_the_cli() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hookhost.toml");
        std::fs::write(
            &config,
            "admin_token = \"hh_op_controls\"\n[ip_sets]\npartner = [\"203.0.113.0/24\"]\n",
        )
        .unwrap();
        let server = ServeProcess::start(
            &dir.path().join("data"),
            &["--config", config.to_str().unwrap()],
        )
        .await;
        acme_with_noop(&reqwest::Client::new(), &server, "hh_op_controls").await;
        let url = server.url("");
        let admin = |args: &[&str]| {
            let mut all = args.to_vec();
            all.extend(["--url", &url, "--token", "hh_op_controls"]);
            let all: Vec<String> = all.into_iter().map(String::from).collect();
            async move {
                let all: Vec<&str> = all.iter().map(String::as_str).collect();
                hookhost(repo(), &all).await
            }
        };
        let (code, _, stderr) = admin(&[
            "endpoint",
            "set",
            "--tenant",
            "acme",
            "orders",
            "--provider",
            "none",
            "--plugin",
            "noop",
            "--allow-ip",
            "@partner",
            "--allow-ip",
            "198.51.100.7",
            "--rate-limit",
            "100/minute",
            "--event-type",
            "order.*",
        ])
        .await;
        assert_eq!(code, 0, "{stderr}");
        let (code, stdout, stderr) =
            admin(&["endpoint", "get", "--tenant", "acme", "orders"]).await;
        assert_eq!(code, 0, "{stderr}");
        for shown in [
            "@partner, 198.51.100.7",
            "rate=100",
            "period=minute",
            "order.*",
        ] {
            assert!(stdout.contains(shown), "{shown} missing from:\n{stdout}");
        }
        let paused = stdout.lines().find(|l| l.starts_with("paused ")).unwrap();
        assert_eq!(paused.split_whitespace().last(), Some("no"), "{stdout}");

        let (code, stdout, stderr) =
            admin(&["endpoint", "pause", "--tenant", "acme", "orders"]).await;
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("paused endpoint orders"), "{stdout}");
        let (_, stdout, _) = admin(&["endpoint", "list", "--tenant", "acme"]).await;
        assert!(stdout.contains("paused"), "{stdout}");
        let (code, stdout, stderr) =
            admin(&["endpoint", "resume", "--tenant", "acme", "orders"]).await;
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("resumed endpoint orders"), "{stdout}");
        let (_, stdout, _) =
            admin(&["endpoint", "get", "--tenant", "acme", "orders", "--json"]).await;
        let view: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(view["paused_at"], Value::Null);

        let (code, _, stderr) = admin(&[
            "endpoint",
            "set",
            "--tenant",
            "acme",
            "other",
            "--provider",
            "none",
            "--plugin",
            "noop",
            "--allow-ip",
            "@nowhere",
        ])
        .await;
        assert_eq!(code, 1);
        assert!(
            stderr.contains("allowed_ips[0]") && stderr.contains("ip_sets"),
            "{stderr}"
        );
    })
}
