//! What an operator watches: the server's log as JSON lines for a collector.

use std::process::Stdio;

use hookhost_tests::{cli_test, hookhost_bin};
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
            .find(|l| l["message"].as_str().is_some_and(|m| m.starts_with("shutting down")))
            .unwrap_or_else(|| panic!("no shutdown line in {stderr}"));
        assert_eq!(stopping["level"], "INFO");
        assert!(stopping["timestamp"].is_string(), "{stopping}");
        assert!(stopping["target"].as_str().unwrap().starts_with("hookhost"), "{stopping}");
    })
}
