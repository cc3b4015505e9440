//! `hookhost tenant create | list | get | delete | rotate-key`: tenants, through
//! the admin API.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;

use super::CliError;
use super::client::{ApiArgs, Client, fields, table, to_body};
use crate::api::views::{ApiKey, CreateTenant, TenantCreated, TenantList, TenantView};
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
                    .call(
                        Method::POST,
                        &["v1", "tenants"],
                        Some(&to_body(&CreateTenant { id: id.to_string() })),
                    )
                    .await?;
                client.print(&answer.body, |t: &TenantCreated| {
                    format!(
                        "created tenant {}\n{}",
                        t.id,
                        api_key_notice(&t.id, &t.api_key)
                    )
                })?;
            }
            TenantCommand::List => {
                let answer = client.call(Method::GET, &["v1", "tenants"], None).await?;
                client.print(&answer.body, render_list)?;
            }
            TenantCommand::Get { id } => {
                let answer = client
                    .call(Method::GET, &["v1", "tenants", id.as_str()], None)
                    .await?;
                client.print(&answer.body, |t: &TenantView| {
                    fields(&[("id", t.id.clone()), ("created", t.created_at.clone())])
                })?;
            }
            TenantCommand::Delete { id } => {
                let answer = client
                    .call(Method::DELETE, &["v1", "tenants", id.as_str()], None)
                    .await?;
                client.print(&answer.body, |_: &serde::de::IgnoredAny| {
                    format!("deleted tenant {id}\n")
                })?;
            }
            TenantCommand::RotateKey { id } => {
                let answer = client
                    .call(
                        Method::POST,
                        &["v1", "tenants", id.as_str(), "api-key"],
                        None,
                    )
                    .await?;
                client.print(&answer.body, |k: &ApiKey| {
                    format!(
                        "new API key for tenant {}; the previous one no longer works\n{}",
                        k.id,
                        api_key_notice(&k.id, &k.api_key)
                    )
                })?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// A tenant's API key, with the warning that it will not be shown again.
fn api_key_notice(tenant: &str, key: &str) -> String {
    format!(
        "api key: {key}\nThis key is shown only once: store it now (a new one needs `hookhost tenant rotate-key {tenant}`).\n"
    )
}

fn render_list(answer: &TenantList) -> String {
    if answer.tenants.is_empty() {
        return "no tenants: create one with `hookhost tenant create ID`\n".to_owned();
    }
    let rows: Vec<[String; 2]> = answer
        .tenants
        .iter()
        .map(|t| [t.id.clone(), t.created_at.clone()])
        .collect();
    table(["ID", "CREATED"], &rows)
}
