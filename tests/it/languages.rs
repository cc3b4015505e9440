//! Handlers in TypeScript, JavaScript and Python, built from source by
//! `hookhost plugin build` as their authors would: the same outcomes and
//! the same outbound requests as Rust's, through the runtime, the CLI and
//! the server.

use std::path::Path;
use std::time::Duration;

use hookhost::domain::Provider;
use hookhost::ids::TenantId;
use hookhost::runtime::Outcome;
use hookhost::store::DeliveryStatus;
use hookhost_tests::host::{OPERATOR_TOKEN, TestHost, delivery_id};
use hookhost_tests::projects::{
    GITHUB_TO_CHAT_PY, HOSTILE_JS, HOSTILE_PY, STRIPE_TO_SLACK_TS, built, loaded,
};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{
    Sandbox, block_on, block_on_within, cli_test, event, fixture, hookhost, hookhost_bin, log_text,
};
use serde_json::json;

/// Each language's hostile plugin, with how its uncaught exception starts
/// and a frame of the author's own file in its stack.
const THROWERS: [(&str, &str, &str); 2] = [
    (
        HOSTILE_JS,
        "Uncaught Error: boom from js",
        "src/handler.js:",
    ),
    (
        HOSTILE_PY,
        "Uncaught ValueError: boom from python",
        "handler.py\", line ",
    ),
];

#[test]
fn an_uncaught_exception_is_a_trap_carrying_the_authors_message_and_source_position() {
    for (project, message, frame) in THROWERS {
        let plugin = loaded(project);
        block_on(async {
            let sandbox = Sandbox::new().await.config("attack", "throw");
            let inv = sandbox.run(&plugin, event("{}", None)).await;
            let Outcome::Trap(text) = &inv.outcome else {
                panic!("{project}: {:?}\n{}", inv.outcome, log_text(&inv));
            };
            assert!(text.starts_with(message), "{project}: {text}");
            assert!(text.contains(frame), "{project}: {text}");
        });
    }
}

#[test]
fn retry_and_reject_thrown_in_javascript_or_python_decide_the_outcome_as_in_rust() {
    for (project, lang) in [(HOSTILE_JS, "js"), (HOSTILE_PY, "python")] {
        let plugin = loaded(project);
        block_on(async {
            for (attack, expected) in [
                ("retry", Outcome::Retry(format!("retry from {lang}"))),
                ("reject", Outcome::Reject(format!("reject from {lang}"))),
            ] {
                let sandbox = Sandbox::new().await.config("attack", attack);
                let inv = sandbox.run(&plugin, event("{}", None)).await;
                assert_eq!(inv.outcome, expected, "{project}: {}", log_text(&inv));
            }
        });
    }
}

/// A handler project of `lang` made by `plugin new` in `dir`, built and run
/// once against its own fixture.
async fn new_project_runs(dir: &Path, lang: &str) -> String {
    let name = format!("my-{lang}-handler");
    let (code, out, err) = hookhost(dir, &["plugin", "new", &name, "--lang", lang]).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = hookhost(dir, &["plugin", "build", &name]).await;
    assert_eq!(code, 0, "{lang}: {out}{err}");
    let wasm = out.lines().last().unwrap().trim().to_owned();
    assert!(
        wasm.ends_with(&format!("{name}/dist/{name}.wasm")),
        "{wasm}"
    );
    let fixture = format!("{name}/fixtures/event.json");
    let (code, out, err) = hookhost(
        dir,
        &[
            "plugin",
            "test",
            &wasm,
            "--event",
            &fixture,
            "--event-type",
            "invoice.paid",
        ],
    )
    .await;
    assert_eq!(code, 0, "{lang}: {out}{err}");
    assert!(out.contains("outcome: ok"), "{out}");
    assert!(
        out.contains("increment seen:invoice.paid by 1"),
        "{lang}: {out}"
    );
    name
}

/// Bound of a test that builds projects, npm installs included.
const BUILDS: Duration = Duration::from_secs(600);

#[test]
fn a_new_project_in_each_language_builds_and_runs_as_it_is() {
    hookhost_bin();
    block_on_within(BUILDS, async {
        let dir = tempfile::tempdir().unwrap();
        for lang in ["ts", "js", "python"] {
            new_project_runs(dir.path(), lang).await;
        }
    })
}

#[test]
fn npm_and_pypi_dependencies_are_bundled_into_the_component() {
    hookhost_bin();
    block_on_within(BUILDS, async {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (lang, manifest, edit, source, code) in [
            (
                "js",
                "package.json",
                (
                    "\"dependencies\": {",
                    "\"dependencies\": {\n    \"is-number\": \"7.0.0\",",
                ),
                "src/handler.js",
                "import isNumber from 'is-number';\nimport { log } from '@hookhost/sdk';\n\
                 export function handle() { log.info(`is-number says ${isNumber('5')}`); }\n",
            ),
            (
                "python",
                "pyproject.toml",
                ("dependencies = []", "dependencies = [\"six==1.16.0\"]"),
                "handler.py",
                "import six\nfrom hookhost_sdk import log\n\n\
                 def handle(event):\n    log.info(f\"six says {six.PY3}\")\n",
            ),
        ] {
            let name = format!("with-deps-{lang}");
            let (code_, out, err) = hookhost(root, &["plugin", "new", &name, "--lang", lang]).await;
            assert_eq!(code_, 0, "{out}{err}");
            let project = root.join(&name);
            let text = std::fs::read_to_string(project.join(manifest)).unwrap();
            assert!(text.contains(edit.0), "{text}");
            std::fs::write(project.join(manifest), text.replacen(edit.0, edit.1, 1)).unwrap();
            std::fs::write(project.join(source), code).unwrap();
            let (status, out, err) = hookhost(root, &["plugin", "build", &name]).await;
            assert_eq!(status, 0, "{lang}: {out}{err}");
            let wasm = out.lines().last().unwrap().trim().to_owned();
            let fixture = format!("{name}/fixtures/event.json");
            let (status, out, err) =
                hookhost(root, &["plugin", "test", &wasm, "--event", &fixture]).await;
            assert_eq!(status, 0, "{lang}: {out}{err}");
            let said = if lang == "js" {
                "is-number says true"
            } else {
                "six says True"
            };
            assert!(out.contains(said), "{lang}: {out}");
        }
    })
}

#[test]
fn a_build_error_names_the_file_and_line_it_is_in() {
    hookhost_bin();
    block_on_within(BUILDS, async {
        let dir = tempfile::tempdir().unwrap();
        for (lang, file, broken, position) in [
            (
                "ts",
                "src/handler.ts",
                "export function handle(event: Event) {\n  let x = ;\n}\n",
                "src/handler.ts:2:",
            ),
            (
                "python",
                "handler.py",
                "def handle(event):\n    x = = 1\n",
                "handler.py:2:",
            ),
        ] {
            let name = format!("broken-{lang}");
            let (code, out, err) =
                hookhost(dir.path(), &["plugin", "new", &name, "--lang", lang]).await;
            assert_eq!(code, 0, "{out}{err}");
            std::fs::write(dir.path().join(&name).join(file), broken).unwrap();
            let (code, out, err) = hookhost(dir.path(), &["plugin", "build", &name]).await;
            assert_ne!(code, 0, "{lang}: {out}{err}");
            assert!(err.contains(position), "{lang}: {err}");
        }
    })
}

/// A ported example: its project, the provider it is bound to, a fixture,
/// the fixture's event type and the setting naming its receiver.
struct Port {
    project: &'static str,
    provider: Provider,
    secret: &'static str,
    body: Vec<u8>,
    event_type: &'static str,
    url_setting: &'static str,
}

fn ports() -> [Port; 2] {
    [
        Port {
            project: STRIPE_TO_SLACK_TS,
            provider: Provider::Stripe,
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            body: fixture("stripe-to-slack", "payment_intent.succeeded.json"),
            event_type: "payment_intent.succeeded",
            url_setting: "slack_url",
        },
        Port {
            project: GITHUB_TO_CHAT_PY,
            provider: Provider::Github,
            secret: "s3cret-for-github-hooks",
            body: fixture("github-to-chat", "issues.json"),
            event_type: "issues",
            url_setting: "chat_url",
        },
    ]
}

#[test]
fn the_ported_examples_run_through_plugin_test_and_post_to_their_receiver() {
    let ports = ports();
    let components: Vec<String> = ports.iter().map(|p| built(p.project)).collect();
    cli_test(async {
        let receiver = Receiver::start().await;
        let dir = tempfile::tempdir().unwrap();
        for (port, wasm) in ports.iter().zip(&components) {
            let event = dir.path().join("event.json");
            std::fs::write(&event, &port.body).unwrap();
            let (code, out, err) = hookhost(
                dir.path(),
                &[
                    "plugin",
                    "test",
                    wasm,
                    "--event",
                    event.to_str().unwrap(),
                    "--event-type",
                    port.event_type,
                    "--config",
                    &format!("{}={}", port.url_setting, receiver.url("/chat")),
                    "--allow-host",
                    &format!("127.0.0.1:{}", receiver.addr.port()),
                    "--allow-private-network",
                ],
            )
            .await;
            assert_eq!(code, 0, "{wasm}: {out}{err}");
            assert!(out.contains("outcome: ok"), "{out}");
            assert!(out.contains("/chat -> 200"), "{out}");
        }
        assert_eq!(receiver.requests().len(), 2);
    })
}

#[test]
fn typescript_and_python_handlers_run_webhooks_end_to_end_through_the_server() {
    let ports = ports();
    for port in &ports {
        loaded(port.project);
    }
    block_on(async {
        let host = TestHost::start().await;
        let chat = Receiver::start().await;
        let key = host.create_tenant("acme").await;
        let acme = TenantId::new("acme").unwrap();
        for port in &ports {
            let name = port.project.rsplit('/').next().unwrap();
            let wasm = std::fs::read(built(port.project)).unwrap();
            let (status, answer) = host.upload(&key, "acme", name, wasm).await;
            assert_eq!(status, 201, "{answer}");
            let spec = json!({
                "provider": port.provider,
                "secrets": [port.secret],
                "plugin": name,
                "config": { port.url_setting: chat.url("/chat") },
                "allowed_hosts": [format!("127.0.0.1:{}", chat.addr.port())],
                "allow_private_network": true,
            });
            let path = format!("/v1/tenants/acme/endpoints/{name}");
            // Reaching the local receiver takes the operator's grant.
            let (status, answer) = host
                .call("PUT", &path, Some(OPERATOR_TOKEN), Some(spec))
                .await;
            assert_eq!(status, 201, "{answer}");
            let response = host
                .send_typed(
                    "acme",
                    name,
                    port.provider,
                    port.secret,
                    &format!("evt_{name}"),
                    Some(port.event_type),
                    &port.body,
                )
                .await;
            assert_eq!(response.status(), 202);
            let id = delivery_id(&response.text().await.unwrap());
            host.wait_for(
                &acme,
                &id,
                DeliveryStatus::Succeeded,
                Duration::from_secs(30),
            )
            .await;
        }
        let posted = chat.requests();
        assert_eq!(posted.len(), 2);
        assert!(
            posted[0].json()["text"]
                .as_str()
                .unwrap()
                .starts_with("Payment received: 20.00 USD")
        );
        assert!(
            posted[1].json()["text"]
                .as_str()
                .unwrap()
                .contains("issue #")
        );
        host.stop().await;
    })
}
