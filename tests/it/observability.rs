//! What an operator watches: the server's log as JSON lines for a
//! collector, and each delivery's trace carried to its plugin's calls.

use std::process::Stdio;
use std::time::Duration;

use hookhost::store::DeliveryStatus;
use hookhost_tests::host::{OPERATOR_TOKEN, TestHost, delivery_id, signed_headers, spec};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{block_on, cli_test, hookhost_bin, plugins};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

#[test]
fn with_log_format_json_every_line_the_server_logs_is_one_json_object() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut child = tokio::process::Command::new(hookhost_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--admin-token", "t"])
            .args(["--log-format", "json", "--data-dir"])
            .arg(&data)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = stdout.next_line().await.unwrap().expect("listening");
            if let Some(url) = line.strip_prefix("hookhost listening on ") {
                break url.to_owned();
            }
        };
        // Answering means it serves, its signal handlers installed.
        let ready = reqwest::get(format!("{url}/readyz")).await.unwrap();
        assert_eq!(ready.status(), 200);
        let pid = child.id().unwrap().to_string();
        let kill = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(kill.success());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .await
            .unwrap();
        assert!(child.wait().await.unwrap().success(), "{stderr}");

        let lines: Vec<Value> = stderr
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
            .collect();
        let stopping = lines
            .iter()
            .find(|l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("shutting down"))
            })
            .unwrap_or_else(|| panic!("no shutdown line in {stderr}"));
        assert_eq!(stopping["level"], "INFO");
        assert!(stopping["timestamp"].is_string(), "{stopping}");
        assert!(
            stopping["target"].as_str().unwrap().starts_with("hookhost"),
            "{stopping}"
        );
    })
}

#[test]
fn a_plugins_calls_carry_the_deliverys_trace_and_a_senders_trace_goes_on() {
    block_on(async {
        let host = TestHost::start().await;
        let receiver = Receiver::start().await;
        let acme = host.tenant("acme").await;
        let version = host.plugin(&acme, "echo", plugins::ECHO).await;
        host.endpoint(&acme, "orders", &spec("echo", version, Some(&receiver)))
            .await;
        let sender = "4bf92f3577b34da6a3ce929d0e0e4736";
        let mut traces = Vec::new();
        for (event, traceparent) in [
            ("evt_own", None),
            ("evt_sent", Some(format!("00-{sender}-00f067aa0ba902b7-01"))),
        ] {
            let body = r#"{"type":"t"}"#;
            let mut request = host.client.post(host.url("/hooks/acme/orders")).body(body);
            for (name, value) in signed_headers(event, body.as_bytes()) {
                request = request.header(name, value);
            }
            if let Some(traceparent) = traceparent {
                request = request.header("traceparent", traceparent);
            }
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 202);
            let id = delivery_id(&answer.text().await.unwrap());
            host.wait_for(
                &acme,
                &id,
                DeliveryStatus::Succeeded,
                Duration::from_secs(10),
            )
            .await;
            let (_, view) = host
                .call(
                    "GET",
                    &format!("/v1/tenants/acme/deliveries/{id}"),
                    Some(OPERATOR_TOKEN),
                    None,
                )
                .await;
            traces.push((id, view["trace_id"].as_str().unwrap().to_owned()));
        }
        let calls = receiver.requests();
        assert_eq!(calls.len(), 2);
        let (own, sent) = (&traces[0], &traces[1]);
        assert_eq!(own.1, own.0.as_str().strip_prefix("dlv_").unwrap());
        assert_eq!(sent.1, sender);
        for (call, (_, trace)) in calls.iter().zip(&traces) {
            let traceparent = call.header("traceparent").expect("traceparent");
            let parts: Vec<&str> = traceparent.split('-').collect();
            assert_eq!(parts.len(), 4, "{traceparent}");
            assert_eq!((parts[0], parts[1], parts[3]), ("00", trace.as_str(), "01"));
            assert_eq!(parts[2].len(), 16);
            assert_ne!(
                parts[2], "00f067aa0ba902b7",
                "the call is a span of its own"
            );
        }
        host.stop().await;
    })
}
