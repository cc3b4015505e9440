//! `hookhost delivery list | show | replay | replay-dead`: a tenant's
//! deliveries, through the admin API, and the report `show` prints.

use std::process::ExitCode;
use std::time::SystemTime;

use base64::Engine as _;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::CliError;
use super::client::{
    ApiArgs, Client, TenantFlag, field, fields, human_size, list, table, truncate,
};
use crate::ids::EndpointId;

/// Characters of a delivery's last error shown in the list.
const LIST_ERROR_CHARS: usize = 60;

/// Inspect and replay deliveries.
#[derive(Debug, Args)]
pub(crate) struct DeliveryArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: DeliveryCommand,
}

#[derive(Debug, Subcommand)]
enum DeliveryCommand {
    /// List deliveries, newest first, a page at a time.
    List(ListArgs),
    /// Show a delivery: its attempts with their logs and outbound calls, and its body.
    Show {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The delivery's id.
        id: String,
    },
    /// Run a delivery again.
    Replay {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The delivery's id.
        id: String,
        /// Run this version of the delivery's plugin instead of the one it had.
        #[arg(long, value_name = "N")]
        plugin_version: Option<u32>,
    },
    /// Run every dead delivery of an endpoint again.
    ReplayDead {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The endpoint.
        #[arg(long)]
        endpoint: EndpointId,
    },
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    tenant: TenantFlag,
    /// Only deliveries in this status.
    #[arg(long, value_parser = ["pending", "running", "retrying", "succeeded", "dead"])]
    status: Option<String>,
    /// Only deliveries of this endpoint.
    #[arg(long)]
    endpoint: Option<EndpointId>,
    /// Only deliveries received since this time: RFC 3339, or a duration ago such as 30m or 2d.
    #[arg(long, value_name = "TIME", value_parser = since_now)]
    since: Option<String>,
    /// At most this many deliveries.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// Where to continue, as a previous page printed it.
    #[arg(long)]
    cursor: Option<String>,
}

impl DeliveryArgs {
    pub(crate) async fn run(self) -> Result<ExitCode, CliError> {
        let client = Client::new(&self.api)?;
        match self.command {
            DeliveryCommand::List(args) => {
                let mut url =
                    client.url(&["v1", "tenants", args.tenant.tenant.as_str(), "deliveries"]);
                let query = args.query();
                if !query.is_empty() {
                    url.query_pairs_mut().extend_pairs(query);
                }
                let answer = client.send(client.request(Method::GET, url)).await?;
                client.print(&answer.body, |body| render_list(body, &args));
            }
            DeliveryCommand::Show { tenant, id } => {
                let answer = client
                    .call(
                        Method::GET,
                        &[
                            "v1",
                            "tenants",
                            tenant.tenant.as_str(),
                            "deliveries",
                            id.as_str(),
                        ],
                        None,
                    )
                    .await?;
                client.print(&answer.body, render_report);
            }
            DeliveryCommand::Replay {
                tenant,
                id,
                plugin_version,
            } => {
                let body = match plugin_version {
                    Some(version) => json!({ "plugin_version": version }),
                    None => json!({}),
                };
                let path = [
                    "v1",
                    "tenants",
                    tenant.tenant.as_str(),
                    "deliveries",
                    id.as_str(),
                    "replay",
                ];
                let answer = client.call(Method::POST, &path, Some(&body)).await?;
                client.print(&answer.body, |r| {
                    format!(
                        "replaying delivery {} ({}): follow it with `hookhost delivery show --tenant {} {}`\n",
                        field(r, "delivery_id"),
                        field(r, "status"),
                        tenant.tenant,
                        field(r, "delivery_id"),
                    )
                });
            }
            DeliveryCommand::ReplayDead { tenant, endpoint } => {
                let path = [
                    "v1",
                    "tenants",
                    tenant.tenant.as_str(),
                    "endpoints",
                    endpoint.as_str(),
                    "replay-dead",
                ];
                let answer = client.call(Method::POST, &path, None).await?;
                client.print(&answer.body, |r| {
                    format!(
                        "replaying {} dead deliveries of endpoint {endpoint}\n",
                        field(r, "replayed")
                    )
                });
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl ListArgs {
    /// The query parameters of the filters given.
    fn query(&self) -> Vec<(&'static str, String)> {
        [
            ("status", self.status.clone()),
            (
                "endpoint",
                self.endpoint.as_ref().map(EndpointId::to_string),
            ),
            ("since", self.since.clone()),
            ("limit", self.limit.map(|n| n.to_string())),
            ("cursor", self.cursor.clone()),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| (key, v)))
        .collect()
    }

    /// The command that prints the page after this one.
    fn next_page(&self, cursor: &str) -> String {
        let mut command = format!("hookhost delivery list --tenant {}", self.tenant.tenant);
        for (key, value) in self.query() {
            if key != "cursor" {
                command.push_str(&format!(" --{key} {value}"));
            }
        }
        command.push_str(&format!(" --cursor {cursor}"));
        command
    }
}

/// `--since`: an RFC 3339 time as it is (the server checks it), or a duration
/// ago turned into one.
fn since_now(value: &str) -> Result<String, String> {
    since(value, SystemTime::now())
}

fn since(value: &str, now: SystemTime) -> Result<String, String> {
    match humantime::parse_duration(value) {
        Ok(ago) => now
            .checked_sub(ago)
            .map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .ok_or_else(|| format!("{value} ago is before the clock's beginning")),
        Err(_) => Ok(value.to_owned()),
    }
}

fn render_list(answer: &Value, args: &ListArgs) -> String {
    let rows: Vec<[String; 7]> = list(answer, "deliveries")
        .iter()
        .map(|d| {
            [
                field(d, "id"),
                field(d, "endpoint"),
                field(d, "event_type"),
                field(d, "status"),
                field(d, "attempts"),
                field(d, "received_at"),
                d["last_error"]
                    .as_str()
                    .map_or_else(String::new, |e| truncate(e, LIST_ERROR_CHARS)),
            ]
        })
        .collect();
    let mut out = if rows.is_empty() {
        "no deliveries\n".to_owned()
    } else {
        table(
            [
                "ID",
                "ENDPOINT",
                "EVENT TYPE",
                "STATUS",
                "ATTEMPTS",
                "RECEIVED",
                "LAST ERROR",
            ],
            &rows,
        )
    };
    if let Some(cursor) = answer["next_cursor"].as_str() {
        out.push_str(&format!("next page: {}\n", args.next_page(cursor)));
    }
    out
}

/// The report of `delivery show`: the delivery, its attempts, its headers and its body.
fn render_report(d: &Value) -> String {
    let attempts = list(d, "attempts");
    let event = match d["event_type"].as_str() {
        Some(kind) => format!("{} ({kind})", field(d, "event_id")),
        None => field(d, "event_id"),
    };
    let mut out = format!("delivery {}\n", field(d, "id"));
    out.push_str(&fields(&[
        ("endpoint", field(d, "endpoint")),
        ("event", event),
        ("status", field(d, "status")),
        (
            "plugin",
            format!(
                "{} version {}",
                field(d, "plugin"),
                field(d, "plugin_version")
            ),
        ),
        ("received", field(d, "received_at")),
        ("finished", field(d, "finished_at")),
        ("last error", field(d, "last_error")),
    ]));
    if attempts.is_empty() {
        out.push_str("\nno attempts yet\n");
    }
    for attempt in attempts {
        out.push('\n');
        render_attempt(&mut out, attempt);
    }
    let headers = list(d, "headers");
    if !headers.is_empty() {
        out.push_str("\nheaders:\n");
        for header in headers {
            let name = header[0].as_str().unwrap_or_default();
            let value = header[1].as_str().unwrap_or_default();
            out.push_str(&format!("  {name}: {value}\n"));
        }
    }
    out.push('\n');
    out.push_str(&render_body(d));
    out
}

fn render_attempt(out: &mut String, a: &Value) {
    let outcome = match &a["outcome"] {
        Value::Object(o) => o
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned(),
        _ => field(a, "outcome"),
    };
    out.push_str(&format!(
        "attempt {} (version {}) at {}: {outcome} in {} ms\n",
        field(a, "attempt"),
        field(a, "plugin_version"),
        field(a, "started_at"),
        field(a, "duration_ms"),
    ));
    if let Some(message) = a["message"].as_str().filter(|m| !m.is_empty()) {
        out.push_str(&format!("  message: {message}\n"));
    }
    let logs = list(a, "logs");
    if !logs.is_empty() {
        out.push_str("  logs:\n");
        for line in logs {
            out.push_str(&format!(
                "    +{:>4}ms {:<6} {}\n",
                field(line, "at_ms"),
                field(line, "level"),
                field(line, "message")
            ));
        }
    }
    if a["logs_truncated"].as_bool() == Some(true) {
        out.push_str("    (more log lines were cut: the log budget ran out)\n");
    }
    let calls = list(a, "http_calls");
    if !calls.is_empty() {
        out.push_str("  outbound calls:\n");
        for call in calls {
            let result = match (call["status"].as_u64(), call["error"].as_str()) {
                (Some(status), _) => status.to_string(),
                (None, Some(error)) => error.to_owned(),
                (None, None) => "-".to_owned(),
            };
            out.push_str(&format!(
                "    {} {} -> {result} ({} ms)\n",
                field(call, "method"),
                field(call, "url"),
                field(call, "duration_ms")
            ));
        }
    }
}

fn render_body(d: &Value) -> String {
    let Some(body) = d["body"].as_str() else {
        return "body: pruned by retention\n".to_owned();
    };
    match d["body_encoding"].as_str() {
        Some("base64") => {
            let size = base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_or(body.len() as u64, |bytes| bytes.len() as u64);
            format!(
                "body: {}, not text (--json has it in base64)\n",
                human_size(size)
            )
        }
        _ => {
            let mut out = format!("body ({}):\n{body}", human_size(body.len() as u64));
            if !body.ends_with('\n') {
                out.push('\n');
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const NOW_S: u64 = 1_750_000_000;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_S)
    }

    #[test]
    fn since_accepts_a_duration_ago_and_passes_times_through() {
        assert_eq!(since("1h", now()).unwrap(), "2025-06-15T14:06:40Z");
        assert_eq!(
            since("2025-06-01T00:00:00Z", now()).unwrap(),
            "2025-06-01T00:00:00Z"
        );
    }

    #[test]
    fn the_next_page_hint_repeats_the_filters_with_the_new_cursor() {
        let args = ListArgs {
            tenant: TenantFlag {
                tenant: "acme".parse().unwrap(),
            },
            status: Some("dead".into()),
            endpoint: None,
            since: None,
            limit: Some(50),
            cursor: Some("old".into()),
        };
        assert_eq!(
            args.next_page("c2"),
            "hookhost delivery list --tenant acme --status dead --limit 50 --cursor c2"
        );
    }

    #[test]
    fn the_report_shows_attempts_logs_calls_and_a_text_body() {
        let delivery = json!({
            "id": "dlv_1",
            "endpoint": "orders",
            "event_id": "evt_1",
            "event_type": "invoice.paid",
            "status": "retrying",
            "plugin": "billing",
            "plugin_version": 2,
            "received_at": "2025-06-15T15:00:00Z",
            "finished_at": null,
            "last_error": "upstream 503",
            "headers": [["content-type", "application/json"]],
            "body": "{\"ok\":true}",
            "body_encoding": "utf8",
            "attempts": [{
                "attempt": 1,
                "plugin_version": 2,
                "started_at": "2025-06-15T15:00:01Z",
                "duration_ms": 12,
                "outcome": "retry",
                "message": "upstream 503",
                "logs": [{"at_ms": 3, "level": "info", "message": "posting"}],
                "logs_truncated": false,
                "http_calls": [
                    {"method": "POST", "url": "https://api.test/x", "status": 503, "duration_ms": 9, "error": null}
                ]
            }]
        });
        let report = render_report(&delivery);
        for expected in [
            "delivery dlv_1\n",
            "event       evt_1 (invoice.paid)\n",
            "finished    -\n",
            "attempt 1 (version 2) at 2025-06-15T15:00:01Z: retry in 12 ms\n",
            "  message: upstream 503\n",
            "    +   3ms info   posting\n",
            "    POST https://api.test/x -> 503 (9 ms)\n",
            "  content-type: application/json\n",
            "body (11 B):\n{\"ok\":true}\n",
        ] {
            assert!(report.contains(expected), "{expected:?} not in\n{report}");
        }
    }

    #[test]
    fn a_binary_body_is_shown_by_its_size() {
        let delivery = json!({"body": "AAEC", "body_encoding": "base64"});
        assert_eq!(
            render_body(&delivery),
            "body: 3 B, not text (--json has it in base64)\n"
        );
    }
}
