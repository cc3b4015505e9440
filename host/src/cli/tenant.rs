//! `hookhost tenant create | list | get | delete | rotate-key`: tenants, through
//! the admin API.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::CliError;
use super::client::{ApiArgs, Client, field, fields, list, table};
use crate::ids::TenantId;

/// Manage tenants.
#[derive(Debug, Args)]
pub(crate) struct TenantArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: TenantCommand,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant and print its API key, which is shown only once.
    Create {
        /// The new tenant's id.
        id: TenantId,
    },
    /// List the tenants.
    List,
    /// Show a tenant.
    Get {
        /// The tenant's id.
        id: TenantId,
    },
    /// Delete a tenant.
    Delete {
        /// The tenant's id.
        id: TenantId,
    },
    /// Replace a tenant's API key and print the new one, which is shown only once.
    RotateKey {
        /// The tenant's id.
        id: TenantId,
    },
}

impl TenantArgs {
    pub(crate) async fn run(self) -> Result<ExitCode, CliError> {
        let client = Client::new(&self.api)?;
        match self.command {
            TenantCommand::Create { id } => {
                let answer = client
                    .call(Method::POST, &["v1", "tenants"], Some(&json!({ "id": id })))
                    .await?;
                client.print(&answer.body, |t| {
                    format!("created tenant {}\n{}", field(t, "id"), api_key_notice(t))
                });
            }
            TenantCommand::List => {
                let answer = client.call(Method::GET, &["v1", "tenants"], None).await?;
                client.print(&answer.body, render_list);
            }
            TenantCommand::Get { id } => {
                let answer = client
                    .call(Method::GET, &["v1", "tenants", id.as_str()], None)
                    .await?;
                client.print(&answer.body, |t| {
                    fields(&[("id", field(t, "id")), ("created", field(t, "created_at"))])
                });
            }
            TenantCommand::Delete { id } => {
                let answer = client
                    .call(Method::DELETE, &["v1", "tenants", id.as_str()], None)
                    .await?;
                client.print(&answer.body, |_| format!("deleted tenant {id}\n"));
            }
            TenantCommand::RotateKey { id } => {
                let answer = client
                    .call(
                        Method::POST,
                        &["v1", "tenants", id.as_str(), "api-key"],
                        None,
                    )
                    .await?;
                client.print(&answer.body, |t| {
                    format!(
                        "new API key for tenant {}; the previous one no longer works\n{}",
                        field(t, "id"),
                        api_key_notice(t)
                    )
                });
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// The API key of an answer, with the warning that it will not be shown again.
fn api_key_notice(answer: &Value) -> String {
    format!(
        "api key: {}\nThis key is shown only once: store it now (a new one needs `hookhost tenant rotate-key {}`).\n",
        field(answer, "api_key"),
        field(answer, "id")
    )
}

fn render_list(answer: &Value) -> String {
    let tenants = list(answer, "tenants");
    if tenants.is_empty() {
        return "no tenants: create one with `hookhost tenant create ID`\n".to_owned();
    }
    let rows: Vec<[String; 2]> = tenants
        .iter()
        .map(|t| [field(t, "id"), field(t, "created_at")])
        .collect();
    table(["ID", "CREATED"], &rows)
}
