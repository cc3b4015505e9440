//! The README's walk-through, through the real binary: `hookhost serve`,
//! then `tenant create`, `plugin upload`, `endpoint set`, `send`,
//! `delivery list | show | replay`.

use std::path::Path;
use std::time::{Duration, Instant};

use hookhost_tests::host::ServeProcess;
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{block_on_within, hookhost, hookhost_bin, plugins};
use serde_json::Value;

const TOKEN: &str = "walkthrough-operator-token";

/// Runs an admin command against `url` and returns its stdout; panics with
/// its stderr when it fails.
async fn admin(dir: &Path, url: &str, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--url", url, "--token", TOKEN]);
    let (code, stdout, stderr) = hookhost(dir, &all).await;
    assert_eq!(code, 0, "hookhost {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

async fn admin_json(dir: &Path, url: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = admin(dir, url, &all).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}):\n{out}"))
}

#[test]
fn the_walkthrough_from_tenant_to_replayed_delivery_works_through_the_binary() {
    hookhost_bin();
    block_on_within(Duration::from_secs(120), async {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        let chat = Receiver::start().await;
        let server = ServeProcess::start(&dir.join("data"), &["--admin-token", TOKEN]).await;
        let url = server.url("");

        let created = admin_json(dir, &url, &["tenant", "create", "acme"]).await;
        assert!(created["api_key"].as_str().unwrap().starts_with("hh_key_"));
        let listed = admin(dir, &url, &["tenant", "list"]).await;
        assert!(listed.contains("acme"), "{listed}");

        let uploaded = admin(
            dir,
            &url,
            &[
                "plugin",
                "upload",
                "--tenant",
                "acme",
                "--name",
                "chat",
                plugins::GITHUB_TO_CHAT,
            ],
        )
        .await;
        assert!(uploaded.contains("version 1"), "{uploaded}");

        let sink = format!("127.0.0.1:{}", chat.addr.port());
        let endpoint = admin_json(
            dir,
            &url,
            &[
                "endpoint",
                "set",
                "--tenant",
                "acme",
                "github",
                "--provider",
                "github",
                "--secret",
                "gh-secret",
                "--plugin",
                "chat",
                "--config",
                &format!("chat_url={}", chat.url("/chat")),
                "--allow-host",
                &sink,
                "--allow-private-network",
            ],
        )
        .await;
        let inbound = endpoint["inbound_url"].as_str().unwrap().to_owned();
        assert_eq!(inbound, server.url("/hooks/acme/github"));
        assert_eq!(
            endpoint["secrets"][0], "…",
            "a short secret shows none of itself"
        );

        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../plugins/github-to-chat/fixtures/issues.json");
        let (code, stdout, stderr) = hookhost(
            dir,
            &[
                "send",
                "--provider",
                "github",
                "--secret",
                "gh-secret",
                "--event",
                fixture.to_str().unwrap(),
                "--event-type",
                "issues",
                &inbound,
            ],
        )
        .await;
        assert_eq!(code, 0, "send failed:\n{stdout}\n{stderr}");
        assert!(stdout.contains("202"), "{stdout}");

        let (code, _, stderr) = hookhost(
            dir,
            &[
                "send",
                "--provider",
                "github",
                "--secret",
                "wrong",
                "--event",
                fixture.to_str().unwrap(),
                &inbound,
            ],
        )
        .await;
        assert_eq!(code, 1, "a wrong secret is refused");
        let _ = stderr;

        let started = Instant::now();
        let delivery = loop {
            let list = admin_json(dir, &url, &["delivery", "list", "--tenant", "acme"]).await;
            let first = list["deliveries"][0].clone();
            if first["status"] == "succeeded" {
                break first;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "{list}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let id = delivery["id"].as_str().unwrap().to_owned();
        assert_eq!(delivery["event_type"], "issues");
        let posted = chat.requests();
        assert_eq!(posted.len(), 1);
        assert!(
            posted[0].json()["text"].as_str().unwrap().contains("issue"),
            "{:?}",
            posted[0].json()
        );

        let shown = admin(dir, &url, &["delivery", "show", "--tenant", "acme", &id]).await;
        assert!(shown.contains("succeeded"), "{shown}");
        assert!(shown.contains("ok"), "{shown}");

        admin(dir, &url, &["delivery", "replay", "--tenant", "acme", &id]).await;
        let started = Instant::now();
        loop {
            let shown = admin_json(dir, &url, &["delivery", "show", "--tenant", "acme", &id]).await;
            let attempts = shown["attempts"].as_array().unwrap();
            if attempts.len() == 2 && shown["status"] == "succeeded" {
                assert_eq!(attempts[1]["attempt"], 2);
                assert_eq!(attempts[1]["outcome"], "ok");
                assert!(
                    !attempts[0]["logs"].as_array().unwrap().is_empty(),
                    "{shown}"
                );
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "{shown}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(chat.requests().len(), 2, "the replay posted again");
    });
}
