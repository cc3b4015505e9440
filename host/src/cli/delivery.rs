//! `hookhost delivery list | show | replay | replay-dead`: a tenant's
//! deliveries, through the admin API, and the report `show` prints.

use std::process::ExitCode;
use std::time::SystemTime;

use base64::Engine as _;
use clap::{Args, Subcommand};
use reqwest::Method;

use super::CliError;
use super::client::{ApiArgs, Client, TenantFlag, fields, human_size, table, to_body, truncate};
use crate::api::views::{
    AttemptView, DeliveryList, DeliveryView, ReplayQueued, ReplayRequest, ReplayedDead,
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
    #[arg(long, value_parser = ["pending", "running", "retrying", "succeeded", "dead", "paused", "waiting", "filtered"])]
    status: Option<String>,
    /// Only deliveries of this endpoint.
    #[arg(long)]
    endpoint: Option<EndpointId>,
    /// Only deliveries of this event type, exactly.
    #[arg(long, value_name = "TYPE")]
    event_type: Option<String>,
    /// Only the deliveries of this event id, as the sender gave it.
    #[arg(long, value_name = "ID")]
    event_id: Option<String>,
    /// Only deliveries received since this time: RFC 3339, or a duration ago such as 30m or 2d.
    #[arg(long, value_name = "TIME", value_parser = since_now)]
    since: Option<String>,
    /// Only deliveries received at or before this time: RFC 3339, or a duration ago such as 30m or 2d.
    #[arg(long, value_name = "TIME", value_parser = since_now)]
    until: Option<String>,
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
                client.print(&answer.body, |body| render_list(body, &args))?;
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
                client.print(&answer.body, render_report)?;
            }
            DeliveryCommand::Replay {
                tenant,
                id,
                plugin_version,
            } => {
                let body = to_body(&ReplayRequest { plugin_version });
                let path = [
                    "v1",
                    "tenants",
                    tenant.tenant.as_str(),
                    "deliveries",
                    id.as_str(),
                    "replay",
                ];
                let answer = client.call(Method::POST, &path, Some(&body)).await?;
                client.print(&answer.body, |r: &ReplayQueued| {
                    format!(
                        "replaying delivery {} ({}): follow it with `hookhost delivery show --tenant {} {}`\n",
                        r.delivery_id,
                        r.status.as_str(),
                        tenant.tenant,
                        r.delivery_id,
                    )
                })?;
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
                client.print(&answer.body, |r: &ReplayedDead| {
                    format!(
                        "replaying {} dead deliveries of endpoint {endpoint}\n",
                        r.replayed
                    )
                })?;
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
            ("event_type", self.event_type.clone()),
            ("event_id", self.event_id.clone()),
            ("since", self.since.clone()),
            ("until", self.until.clone()),
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
                let plain = value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@".contains(&b));
                let value = if plain {
                    value
                } else {
                    format!("'{}'", value.replace('\'', r"'\''"))
                };
                command.push_str(&format!(" --{} {value}", key.replace('_', "-")));
            }
        }
        command.push_str(&format!(" --cursor {cursor}"));
        command
    }
}

/// `--since`: an RFC 3339 time as it is (the server checks it), or a duration
/// ago turned into one.
pub(super) fn since_now(value: &str) -> Result<String, String> {
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

fn render_list(answer: &DeliveryList, args: &ListArgs) -> String {
    let rows: Vec<[String; 7]> = answer
        .deliveries
        .iter()
        .map(|summary| {
            let d = &summary.delivery;
            [
                d.id.clone(),
                d.endpoint.clone(),
                or_dash(d.event_type.as_deref()),
                d.status.as_str().to_owned(),
                summary.attempts.to_string(),
                d.received_at.clone(),
                d.last_error
                    .as_deref()
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
    if let Some(cursor) = &answer.next_cursor {
        out.push_str(&format!("next page: {}\n", args.next_page(cursor)));
    }
    out
}

/// The text, or `-` when there is none.
fn or_dash(text: Option<&str>) -> String {
    text.unwrap_or("-").to_owned()
}

/// The report of `delivery show`: the delivery, its attempts, its headers and its body.
fn render_report(d: &DeliveryView) -> String {
    let summary = &d.delivery;
    let event_id = or_dash(summary.event_id.as_deref());
    let event = match &summary.event_type {
        Some(kind) => format!("{event_id} ({kind})"),
        None => event_id,
    };
    let mut out = format!("delivery {}\n", summary.id);
    out.push_str(&fields(&[
        ("endpoint", summary.endpoint.clone()),
        ("event", event),
        ("status", summary.status.as_str().to_owned()),
        (
            "plugin",
            format!("{} version {}", summary.plugin, summary.plugin_version),
        ),
        ("received", summary.received_at.clone()),
        ("finished", or_dash(summary.finished_at.as_deref())),
        ("last error", or_dash(summary.last_error.as_deref())),
        ("trace", d.trace_id.clone()),
    ]));
    if d.attempts.is_empty() {
        out.push_str("\nno attempts yet\n");
    }
    for attempt in &d.attempts {
        out.push('\n');
        render_attempt(&mut out, attempt);
    }
    if !d.headers.is_empty() {
        out.push_str("\nheaders:\n");
        for (name, value) in &d.headers {
            out.push_str(&format!("  {name}: {value}\n"));
        }
    }
    out.push('\n');
    out.push_str(&render_body(d.body.as_deref(), d.body_encoding.as_deref()));
    out
}

fn render_attempt(out: &mut String, a: &AttemptView) {
    out.push_str(&format!(
        "attempt {} (version {}) at {}: {} in {} ms\n",
        a.attempt, a.plugin_version, a.started_at, a.outcome, a.duration_ms,
    ));
    if let Some(message) = a.message.as_deref().filter(|m| !m.is_empty()) {
        out.push_str(&format!("  message: {message}\n"));
    }
    if !a.logs.is_empty() {
        out.push_str("  logs:\n");
        for line in &a.logs {
            out.push_str(&format!(
                "    +{:>4}ms {:<6} {}\n",
                line.at_ms,
                line.level.as_str(),
                line.message
            ));
        }
    }
    if a.logs_truncated {
        out.push_str("    (more log lines were cut: the log budget ran out)\n");
    }
    if !a.http_calls.is_empty() {
        out.push_str("  outbound calls:\n");
        for call in &a.http_calls {
            let result = match (call.status, &call.error) {
                (Some(status), _) => status.to_string(),
                (None, Some(error)) => error.clone(),
                (None, None) => "-".to_owned(),
            };
            out.push_str(&format!(
                "    {} {} -> {result} ({} ms)\n",
                call.method, call.url, call.duration_ms
            ));
        }
    }
}

fn render_body(body: Option<&str>, encoding: Option<&str>) -> String {
    let Some(body) = body else {
        return "body: pruned by retention\n".to_owned();
    };
    match encoding {
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

    use serde::Deserialize;
    use serde_json::json;

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
            event_type: Some("invoice.paid".into()),
            event_id: Some("it's 1".into()),
            since: None,
            until: None,
            limit: Some(50),
            cursor: Some("old".into()),
        };
        assert_eq!(
            args.next_page("c2"),
            r"hookhost delivery list --tenant acme --status dead --event-type invoice.paid --event-id 'it'\''s 1' --limit 50 --cursor c2"
        );
    }

    #[test]
    fn the_report_shows_attempts_logs_calls_and_a_text_body() {
        let delivery = json!({
            "id": "dlv_1",
            "provider": "stripe",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
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
        let report = render_report(&DeliveryView::deserialize(&delivery).unwrap());
        for expected in [
            "delivery dlv_1\n",
            "event       evt_1 (invoice.paid)\n",
            "finished    -\n",
            "trace       4bf92f3577b34da6a3ce929d0e0e4736\n",
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
        assert_eq!(
            render_body(Some("AAEC"), Some("base64")),
            "body: 3 B, not text (--json has it in base64)\n"
        );
    }
}
