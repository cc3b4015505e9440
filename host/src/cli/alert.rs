//! `hookhost alert destination set | list | delete` and `hookhost alert
//! list`: where a tenant's alerts go, and what was sent, through the admin
//! API.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;

use super::CliError;
use super::client::{ApiArgs, Client, TenantFlag, table, to_body, truncate};
use crate::api::views::{AlertList, DestinationList, DestinationRequest, DestinationView};
use crate::domain::DestinationKind;
use crate::ids::DestinationName;

/// Configure where a tenant's alerts go, and see what was sent.
#[derive(Debug, Args)]
pub(crate) struct AlertArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: AlertCommand,
}

#[derive(Debug, Subcommand)]
enum AlertCommand {
    /// Set, list and delete a tenant's alert destinations.
    #[command(subcommand)]
    Destination(DestinationCommand),
    /// A tenant's newest alerts, with how their sending went.
    List {
        #[command(flatten)]
        tenant: TenantFlag,
    },
}

#[derive(Debug, Subcommand)]
enum DestinationCommand {
    /// Set a destination: a URL signed with Standard Webhooks, or a Slack
    /// incoming webhook.
    Set {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The destination's name.
        name: DestinationName,
        /// Where alerts are posted (`--url` names the server).
        #[arg(value_name = "URL")]
        destination: String,
        /// How alerts are sent to it.
        #[arg(long, value_enum)]
        kind: Kind,
        /// A webhook destination's secret (whsec_…); omitted, one is
        /// generated and printed once.
        #[arg(long)]
        secret: Option<String>,
    },
    /// List a tenant's destinations, secrets masked.
    List {
        #[command(flatten)]
        tenant: TenantFlag,
    },
    /// Delete a destination.
    Delete {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The destination's name.
        name: DestinationName,
    },
}

/// How alerts are sent to a destination.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    /// A JSON event signed with Standard Webhooks.
    Webhook,
    /// `{"text": …}`, as Slack's incoming webhooks take.
    Slack,
}

impl From<Kind> for DestinationKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Webhook => Self::Webhook,
            Kind::Slack => Self::Slack,
        }
    }
}

impl AlertArgs {
    pub(crate) async fn run(self) -> Result<ExitCode, CliError> {
        let client = Client::new(&self.api)?;
        match self.command {
            AlertCommand::List { tenant } => {
                let path = ["v1", "tenants", tenant.tenant.as_str(), "alerts"];
                let answer = client.call(Method::GET, &path, None).await?;
                client.print(&answer.body, render_alerts)?;
            }
            AlertCommand::Destination(DestinationCommand::Set {
                tenant,
                name,
                destination,
                kind,
                secret,
            }) => {
                let request = DestinationRequest {
                    kind: kind.into(),
                    url: destination,
                    secret,
                };
                let path = destination_path(&tenant, &name);
                let answer = client
                    .call(Method::PUT, &path, Some(&to_body(&request)))
                    .await?;
                client.print(&answer.body, |d: &DestinationView| {
                    let mut text = format!("set alert destination {} ({})\n", d.name, d.url);
                    if let Some(secret) = d.secret.as_deref().filter(|s| !s.starts_with('…')) {
                        text.push_str(&format!(
                            "its signing secret, shown once; verify alerts with it: {secret}\n"
                        ));
                    }
                    text
                })?;
            }
            AlertCommand::Destination(DestinationCommand::List { tenant }) => {
                let path = [
                    "v1",
                    "tenants",
                    tenant.tenant.as_str(),
                    "alert-destinations",
                ];
                let answer = client.call(Method::GET, &path, None).await?;
                client.print(&answer.body, render_destinations)?;
            }
            AlertCommand::Destination(DestinationCommand::Delete { tenant, name }) => {
                let path = destination_path(&tenant, &name);
                client.call(Method::DELETE, &path, None).await?;
                println!("deleted alert destination {name}");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn destination_path<'a>(tenant: &'a TenantFlag, name: &'a DestinationName) -> [&'a str; 5] {
    [
        "v1",
        "tenants",
        tenant.tenant.as_str(),
        "alert-destinations",
        name.as_str(),
    ]
}

fn render_destinations(list: &DestinationList) -> String {
    let rows: Vec<[String; 4]> = list
        .destinations
        .iter()
        .map(|d| {
            [
                d.name.clone(),
                d.kind.as_str().to_owned(),
                d.url.clone(),
                d.secret.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    table(["NAME", "KIND", "URL", "SECRET"], &rows)
}

fn render_alerts(list: &AlertList) -> String {
    let rows: Vec<[String; 7]> = list
        .alerts
        .iter()
        .map(|a| {
            [
                a.id.clone(),
                a.kind.as_str().to_owned(),
                a.payload["data"]["endpoint"]
                    .as_str()
                    .unwrap_or("-")
                    .to_owned(),
                a.destination.clone(),
                a.state.as_str().to_owned(),
                a.attempts.to_string(),
                truncate(a.last_error.as_deref().unwrap_or("-"), 60),
            ]
        })
        .collect();
    table(
        [
            "ID",
            "KIND",
            "ENDPOINT",
            "DESTINATION",
            "STATE",
            "ATTEMPTS",
            "LAST ERROR",
        ],
        &rows,
    )
}
