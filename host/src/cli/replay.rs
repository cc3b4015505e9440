//! `hookhost replay start | show | list | cancel`: bulk replays through the
//! admin API. `start` follows its replay with a progress bar and ends with a
//! summary; the replay itself runs on the server, whatever the CLI does.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;

use super::CliError;
use super::client::{ApiArgs, Client, TenantFlag, fields, table, to_body};
use super::delivery::since_now;
use crate::api::views::{BulkReplayRequest, ReplayJobList, ReplayJobView};
use crate::domain::EventTypePattern;
use crate::ids::{EndpointId, ReplayId};
use crate::store::ReplayState;

/// How often `start` asks the server how far its replay is.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// The progress bar's length: the replay's time range, in thousandths.
const BAR_STEPS: u64 = 1_000;

/// Run an endpoint's deliveries again in bulk, in the background.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: ReplayCommand,
}

#[derive(Debug, Subcommand)]
enum ReplayCommand {
    /// Run again every finished delivery of an endpoint that matches, oldest
    /// first, at the server's replay_rate; follow it with a progress bar.
    Start(StartArgs),
    /// Show a bulk replay and its progress.
    Show {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The replay's id.
        id: ReplayId,
    },
    /// List a tenant's bulk replays, newest first.
    List {
        #[command(flatten)]
        tenant: TenantFlag,
    },
    /// Cancel a running bulk replay: it queues nothing more, and what it
    /// queued already runs.
    Cancel {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The replay's id.
        id: ReplayId,
    },
}

#[derive(Debug, Args)]
struct StartArgs {
    #[command(flatten)]
    tenant: TenantFlag,
    /// The endpoint whose deliveries run again.
    #[arg(long)]
    endpoint: EndpointId,
    /// Only deliveries in this state; any finished one by default.
    #[arg(long, value_parser = ["succeeded", "dead", "filtered"])]
    status: Option<String>,
    /// Only deliveries whose event type matches, `*` standing for any run
    /// of characters (payment_intent.*).
    #[arg(long, value_name = "PATTERN")]
    event_type: Option<EventTypePattern>,
    /// Only deliveries received since this time: RFC 3339, or a duration
    /// ago such as 30m or 2d.
    #[arg(long, value_name = "TIME", value_parser = since_now)]
    since: Option<String>,
    /// Only deliveries received until this time (RFC 3339, or a duration
    /// ago); now by default.
    #[arg(long, value_name = "TIME", value_parser = since_now)]
    until: Option<String>,
    /// Only deliveries bound to this version of the plugin.
    #[arg(long, value_name = "N")]
    plugin_version: Option<u32>,
    /// Run this version of the endpoint's plugin instead of each delivery's own.
    #[arg(long, value_name = "N")]
    to_version: Option<u32>,
    /// Start the replay and return at once, without following it.
    #[arg(long)]
    detach: bool,
}

impl ReplayArgs {
    pub(crate) async fn run(self) -> Result<ExitCode, CliError> {
        let client = Client::new(&self.api)?;
        match self.command {
            ReplayCommand::Start(args) => return start(&client, args).await,
            ReplayCommand::Show { tenant, id } => {
                let job = fetch(&client, &tenant, &id).await?;
                client.print(&job, render_view)?;
            }
            ReplayCommand::List { tenant } => {
                let path = ["v1", "tenants", tenant.tenant.as_str(), "replays"];
                let answer = client.call(Method::GET, &path, None).await?;
                client.print(&answer.body, render_list)?;
            }
            ReplayCommand::Cancel { tenant, id } => {
                let path = [
                    "v1",
                    "tenants",
                    tenant.tenant.as_str(),
                    "replays",
                    id.as_str(),
                    "cancel",
                ];
                let answer = client.call(Method::POST, &path, None).await?;
                client.print(&answer.body, |job: &ReplayJobView| {
                    format!(
                        "cancelled replay {}: it replayed {} of the {} deliveries that matched so far\n",
                        job.id, job.replayed, job.matched
                    )
                })?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Starts a replay and, unless detached, follows it to its end.
async fn start(client: &Client, args: StartArgs) -> Result<ExitCode, CliError> {
    let request = BulkReplayRequest {
        endpoint: args.endpoint.to_string(),
        status: args.status,
        event_type: args.event_type.map(|p| p.to_string()),
        since: args.since,
        until: args.until,
        plugin_version: args.plugin_version,
        to_version: args.to_version,
    };
    let path = ["v1", "tenants", args.tenant.tenant.as_str(), "replays"];
    let answer = client
        .call(Method::POST, &path, Some(&to_body(&request)))
        .await?;
    if args.detach {
        client.print(&answer.body, |job: &ReplayJobView| {
            format!(
                "started replay {}; follow it with `hookhost replay show --tenant {} {}`\n",
                job.id, job.tenant, job.id
            )
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let started: ReplayJobView = view(&answer.body)?;
    let id: ReplayId = started.id.parse().map_err(|e| {
        CliError::Http(format!(
            "the server answered a replay id it cannot have: {e}"
        ))
    })?;
    eprintln!(
        "replay {id} started; Ctrl-C stops following it, not the replay (`hookhost replay cancel --tenant {} {id}` does)",
        started.tenant
    );
    let bar = ProgressBar::new(BAR_STEPS);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {percent}% {msg} ({elapsed})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let began = Instant::now();
    let mut ticks = tokio::time::interval(POLL_EVERY);
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let end = loop {
        tokio::select! {
            _ = &mut interrupted => {
                bar.abandon();
                eprintln!("stopped following replay {id}; it goes on");
                return Ok(ExitCode::from(130));
            }
            _ = ticks.tick() => {}
        }
        let body = fetch(client, &args.tenant, &id).await?;
        let job: ReplayJobView = view(&body)?;
        bar.set_position((job.progress * BAR_STEPS as f64) as u64);
        bar.set_message(format!(
            "{} matched, {} replayed, {} skipped",
            job.matched, job.replayed, job.skipped
        ));
        if job.state != ReplayState::Running {
            bar.finish_and_clear();
            break (body, job);
        }
    };
    let (body, job) = end;
    client.print(&body, |job: &ReplayJobView| summary(job, began.elapsed()))?;
    Ok(if job.state == ReplayState::Done {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `GET /v1/tenants/{t}/replays/{id}` as JSON.
async fn fetch(
    client: &Client,
    tenant: &TenantFlag,
    id: &ReplayId,
) -> Result<serde_json::Value, CliError> {
    let path = [
        "v1",
        "tenants",
        tenant.tenant.as_str(),
        "replays",
        id.as_str(),
    ];
    Ok(client.call(Method::GET, &path, None).await?.body)
}

fn view(body: &serde_json::Value) -> Result<ReplayJobView, CliError> {
    serde_json::from_value(body.clone()).map_err(|e| {
        CliError::Http(format!(
            "the server's answer is not what this hookhost reads ({e}); are the server and the CLI the same version?"
        ))
    })
}

/// What a replay came to, in a sentence or two.
fn summary(job: &ReplayJobView, took: Duration) -> String {
    let mut text = format!(
        "replay {} {} in {:.1} s: matched {}, replayed {}, skipped {}",
        job.id,
        job.state.as_str(),
        took.as_secs_f64(),
        job.matched,
        job.replayed,
        job.skipped
    );
    if job.skipped > 0 {
        text.push_str(" (their bodies were pruned by retention, or they were running)");
    }
    if let Some(error) = &job.error {
        text.push_str(&format!(": {error}"));
    }
    text.push('\n');
    if job.replayed > 0 {
        text.push_str(&format!(
            "follow them with `hookhost delivery list --tenant {} --endpoint {}`\n",
            job.tenant, job.endpoint
        ));
    }
    text
}

fn render_view(job: &ReplayJobView) -> String {
    let or_any = |v: Option<String>| v.unwrap_or_else(|| "any".to_owned());
    fields(&[
        ("id", job.id.clone()),
        ("endpoint", job.endpoint.clone()),
        ("state", job.state.as_str().to_owned()),
        ("status", or_any(job.status.map(|s| s.as_str().to_owned()))),
        ("event type", or_any(job.event_type.clone())),
        ("since", or_any(job.since.clone())),
        ("until", job.until.clone()),
        (
            "plugin version",
            or_any(job.plugin_version.map(|v| v.to_string())),
        ),
        (
            "runs version",
            job.to_version
                .map_or_else(|| "its own".to_owned(), |v| v.to_string()),
        ),
        ("progress", format!("{:.0} %", job.progress * 100.0)),
        ("matched", job.matched.to_string()),
        ("replayed", job.replayed.to_string()),
        ("skipped", job.skipped.to_string()),
        ("started", job.created_at.clone()),
        (
            "finished",
            job.finished_at.clone().unwrap_or_else(|| "-".to_owned()),
        ),
        ("error", job.error.clone().unwrap_or_else(|| "-".to_owned())),
    ])
}

fn render_list(list: &ReplayJobList) -> String {
    let rows: Vec<[String; 6]> = list
        .replays
        .iter()
        .map(|job| {
            [
                job.id.clone(),
                job.endpoint.clone(),
                job.state.as_str().to_owned(),
                format!("{:.0} %", job.progress * 100.0),
                job.replayed.to_string(),
                job.created_at.clone(),
            ]
        })
        .collect();
    table(
        ["ID", "ENDPOINT", "STATE", "PROGRESS", "REPLAYED", "STARTED"],
        &rows,
    )
}
