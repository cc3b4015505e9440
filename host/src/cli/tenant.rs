//! `hookhost tenant create | list | get | delete | rotate-key | policy`:
//! tenants and their policies, through the admin API.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;

use super::CliError;
use super::client::{ApiArgs, Client, fields, table, to_body};
use crate::api::views::{ApiKey, CreateTenant, PolicyView, TenantCreated, TenantList, TenantView};
use crate::domain::PolicyOverrides;
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
    /// Show a tenant's policy (operator only): what its endpoints may set and
    /// its share of the host; with --set or --unset, change it first.
    Policy {
        /// The tenant's id.
        id: TenantId,
        /// A policy field and its value as JSON: `max_concurrent=4`,
        /// `allowed_hosts=["*.stripe.com"]`, `allow_private_network=true`.
        #[arg(long = "set", value_name = "FIELD=JSON", value_parser = super::plugin::key_value)]
        set: Vec<(String, String)>,
        /// A policy field to return to the server's default.
        #[arg(long, value_name = "FIELD")]
        unset: Vec<String>,
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
            TenantCommand::Policy { id, set, unset } => {
                let path = ["v1", "tenants", id.as_str(), "policy"];
                let mut answer = client.call(Method::GET, &path, None).await?;
                if !set.is_empty() || !unset.is_empty() {
                    let current: PolicyView = serde_json::from_value(answer.body.clone())
                        .map_err(|e| CliError::Http(format!("unexpected policy answer: {e}")))?;
                    let overrides = changed(current.overrides, &set, &unset)?;
                    answer = client
                        .call(Method::PUT, &path, Some(&to_body(&overrides)))
                        .await?;
                }
                client.print(&answer.body, render_policy)?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// The overrides with `set` put over them and `unset` taken out.
fn changed(
    mut overrides: PolicyOverrides,
    set: &[(String, String)],
    unset: &[String],
) -> Result<PolicyOverrides, CliError> {
    for field in unset {
        overrides.0.remove(field);
    }
    for (field, raw) in set {
        let field = field.strip_suffix(':').unwrap_or(field);
        let value = serde_json::from_str(raw).map_err(|e| {
            CliError::Usage(format!(
                "--set {field}={raw}: the value is not JSON ({e}); numbers and true/false as they are, lists as [\"a\", \"b\"]"
            ))
        })?;
        overrides.0.insert(field.to_owned(), value);
    }
    Ok(overrides)
}

/// Each field of the policy with its value and where it comes from, then
/// the endpoints configured beyond it.
fn render_policy(view: &PolicyView) -> String {
    let values = serde_json::to_value(&view.policy).expect("a policy serialises");
    let rows: Vec<[String; 3]> = values
        .as_object()
        .expect("a policy is an object")
        .iter()
        .map(|(field, value)| {
            let from = if view.overrides.0.contains_key(field) {
                "this tenant"
            } else {
                "server default"
            };
            [field.clone(), value.to_string(), from.to_owned()]
        })
        .collect();
    let mut out = format!("policy of tenant {}\n", view.tenant);
    out.push_str(&table(["FIELD", "VALUE", "FROM"], &rows));
    for endpoint in &view.endpoints_over_policy {
        out.push_str(&format!(
            "endpoint {} is configured beyond this policy (it keeps running as configured):\n",
            endpoint.endpoint
        ));
        for v in &endpoint.violations {
            out.push_str(&format!("  {}: {}\n", v.field, v.message));
        }
    }
    out
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
