//! `hookhost plugin new | build | test`: the plugin author's loop, on one
//! machine; `plugin upload | list`: a tenant's plugins on a server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;

use super::CliError;
use super::build::{Language, build, cache_home};
use super::client::{ApiArgs, Client, TenantFlag, human_size, table, truncate};
use super::scaffold;
use crate::api::views::{PluginList, PluginVersionView};
use crate::domain::{HostPattern, MIN_SECRET_BYTES, SecretValue};
use crate::ids::{DeliveryId, PluginName, TenantId};
use crate::runtime::{
    Event, Grants, Invocation, KvNamespace, KvWrite, Limits, Outcome, Runtime, RuntimeConfig,
};
use crate::store::{Keyring, QueueStore, SqliteStore, StoreError, generate_master_key};

#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// Scaffold a handler project that builds as it is.
    New {
        /// The project's name; also its folder.
        name: String,
        /// The language to write the handler in.
        #[arg(long, value_enum, default_value_t = Language::Rust)]
        lang: Language,
        /// Where the language's SDK lives (defaults to the SDK beside this
        /// hookhost's sources: plugin-sdk, plugin-sdk/js or plugin-sdk/python).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build a handler project into a component and print its path: a crate
    /// (Cargo.toml) with cargo, an npm package (package.json) with
    /// componentize-js, a Python project (pyproject.toml) with
    /// componentize-py. Missing npm packages and the Python toolchain are
    /// installed from their registries on first use.
    Build {
        /// The project's folder.
        #[arg(default_value = ".")]
        path: PathBuf,
    },
    /// Run a handler once against a sample event, with real capabilities;
    /// exits 0 only when it returned ok.
    Test(TestArgs),
    /// Upload a component as the next version of a tenant's plugin.
    Upload(UploadArgs),
    /// List a tenant's plugins and their versions.
    List {
        #[command(flatten)]
        api: ApiArgs,
        #[command(flatten)]
        tenant: TenantFlag,
    },
}

#[derive(Debug, Args)]
pub(crate) struct UploadArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    tenant: TenantFlag,
    /// The plugin's name; each upload becomes its next version.
    #[arg(long)]
    name: PluginName,
    /// The component, as `hookhost plugin build` printed it.
    file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// The component to run.
    plugin: PathBuf,
    /// The event body, as the provider would send it.
    #[arg(long)]
    event: PathBuf,
    /// The provider name the handler sees.
    #[arg(long, default_value = "none")]
    provider: String,
    /// The provider's event type (X-GitHub-Event, Stripe's `type`, …).
    #[arg(long)]
    event_type: Option<String>,
    /// A setting the handler reads with config::get, as key=value.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = key_value)]
    config: Vec<(String, String)>,
    /// A plugin secret the handler reads with secret::get, as name=value; its
    /// value is replaced by `[secret NAME]` in what the run prints.
    #[arg(long = "secret", value_name = "NAME=VALUE", value_parser = secret)]
    secrets: Vec<(String, SecretValue)>,
    /// A request header the handler sees, as name=value.
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = key_value)]
    headers: Vec<(String, String)>,
    /// A host the handler may call (host, host:port, *.domain).
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<HostPattern>,
    /// Let calls reach loopback and private addresses (a local receiver, say).
    #[arg(long)]
    allow_private_network: bool,
    /// The attempt number the handler sees.
    #[arg(long, default_value_t = 1)]
    attempt: u32,
    /// The invocation's deadline.
    #[arg(long, default_value_t = Limits::default().timeout_ms)]
    timeout_ms: u64,
    /// The invocation's memory limit.
    #[arg(long, default_value_t = Limits::default().memory_mb)]
    memory_mb: u32,
    /// Print the invocation record as JSON.
    #[arg(long)]
    json: bool,
}

/// Parses a `KEY=VALUE` argument.
pub(crate) fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// Parses a `NAME=VALUE` secret, as long as a server accepts one.
fn secret(s: &str) -> Result<(String, SecretValue), String> {
    let (name, value) = key_value(s)?;
    if value.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "the value of secret {name} is {} bytes; a secret is at least {MIN_SECRET_BYTES}, so that replacing it in logs cannot take ordinary text apart",
            value.len()
        ));
    }
    Ok((name, SecretValue::new(value)))
}

impl PluginCommand {
    pub(crate) async fn run(self) -> Result<ExitCode, CliError> {
        match self {
            PluginCommand::New { name, lang, sdk } => {
                scaffold::new(&name, lang, sdk).map(|()| ExitCode::SUCCESS)
            }
            PluginCommand::Build { path } => {
                for wasm in build(&path)? {
                    println!("{}", wasm.display());
                }
                Ok(ExitCode::SUCCESS)
            }
            PluginCommand::Test(args) => test(args).await,
            PluginCommand::Upload(args) => upload(args).await,
            PluginCommand::List { api, tenant } => {
                let client = Client::new(&api)?;
                let answer = client
                    .call(
                        Method::GET,
                        &["v1", "tenants", tenant.tenant.as_str(), "plugins"],
                        None,
                    )
                    .await?;
                client.print(&answer.body, render_list)?;
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

async fn upload(args: UploadArgs) -> Result<ExitCode, CliError> {
    let wasm = std::fs::read(&args.file)
        .map_err(CliError::io(format!("reading {}", args.file.display())))?;
    let client = Client::new(&args.api)?;
    let url = client.url(&[
        "v1",
        "tenants",
        args.tenant.tenant.as_str(),
        "plugins",
        args.name.as_str(),
        "versions",
    ]);
    let request = client
        .request(Method::POST, url)
        .header(CONTENT_TYPE, "application/wasm")
        .body(wasm);
    let answer = client.send(request).await?;
    client.print(&answer.body, |v: &PluginVersionView| {
        format!(
            "uploaded {} version {} ({})\n",
            v.plugin, v.version, v.digest
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Characters of a `sha256:…` digest shown in tables; `--json` has them all.
const SHORT_DIGEST_CHARS: usize = "sha256:".len() + 12;

fn render_list(answer: &PluginList) -> String {
    let rows: Vec<[String; 5]> = answer
        .plugins
        .iter()
        .flat_map(|plugin| &plugin.versions)
        .map(|v| {
            [
                v.plugin.clone(),
                v.version.to_string(),
                truncate(&v.digest, SHORT_DIGEST_CHARS),
                human_size(v.size),
                v.uploaded_at.clone(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "no plugins: upload one with `hookhost plugin upload --tenant T --name NAME FILE.wasm`\n"
            .to_owned();
    }
    table(["PLUGIN", "VERSION", "DIGEST", "SIZE", "UPLOADED"], &rows)
}

async fn test(args: TestArgs) -> Result<ExitCode, CliError> {
    let wasm = std::fs::read(&args.plugin)
        .map_err(CliError::io(format!("reading {}", args.plugin.display())))?;
    let body = std::fs::read(&args.event)
        .map_err(CliError::io(format!("reading {}", args.event.display())))?;
    // Compiled code is kept in the user's cache, so running a component
    // again loads it, and a new build compiles only what changed; only
    // what was compiled in the last few minutes is kept besides.
    let runtime = Runtime::new(&RuntimeConfig {
        cache_dir: cache_home().map(|home| home.join("compiled")),
        ..RuntimeConfig::default()
    })?;
    let plugin = runtime.load(&wasm).await?;
    runtime.sweep_cache(&[plugin.digest().to_owned()]);

    let scratch = tempfile::tempdir().map_err(CliError::io("creating a scratch directory"))?;
    // A scratch store holds no secret worth keeping: a key of its own.
    let keys = Keyring::new(&generate_master_key(), &[]).map_err(StoreError::from)?;
    let store = Arc::new(SqliteStore::open(&scratch.path().join("kv.db"), Arc::new(keys)).await?);
    let ns = KvNamespace {
        tenant: TenantId::new("local").expect("valid"),
        plugin: plugin_name_from(&args.plugin),
    };
    let mut grants = Grants::new(
        ns.clone(),
        args.config.into_iter().collect::<BTreeMap<_, _>>(),
    );
    grants.allowed_hosts = args.allow_hosts;
    grants.allow_private_network = args.allow_private_network;
    grants.secrets = args.secrets.into_iter().collect();
    let limits = Limits {
        timeout_ms: args.timeout_ms,
        memory_mb: args.memory_mb,
        ..Limits::default()
    };
    let mut headers: Vec<(String, String)> = args
        .headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    if !headers.iter().any(|(k, _)| k == "content-type") {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let event = Event {
        id: DeliveryId::generate().to_string(),
        tenant: ns.tenant.to_string(),
        endpoint: "local".into(),
        provider: args.provider,
        event_type: args.event_type,
        received_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default(),
        attempt: args.attempt,
        headers,
        body,
    };
    let invocation = runtime
        .invoke(&plugin, event, &grants, &limits, store.clone())
        .await;
    if invocation.outcome == Outcome::Ok {
        store.commit_kv(&ns, &invocation.kv_writes).await?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&invocation).expect("invocations serialize")
        );
    } else {
        print_report(&invocation);
    }
    Ok(if invocation.outcome == Outcome::Ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A KV namespace name from the component's file name (`event_counter.wasm` → `event_counter`).
fn plugin_name_from(path: &Path) -> PluginName {
    let stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    PluginName::new(stem.trim_start_matches(['-', '_']))
        .unwrap_or_else(|_| PluginName::new("plugin").expect("valid"))
}

fn print_report(inv: &Invocation) {
    println!("outcome: {} ({} ms)", inv.outcome, inv.duration.as_millis());
    if let Some(ms) = inv.retry_after_ms {
        println!("retry after: {ms} ms, as the handler asked");
    }
    if !inv.logs.is_empty() {
        println!("logs:");
        for line in &inv.logs {
            println!(
                "  +{:>4}ms {:<6} {}",
                line.at_ms,
                line.level.as_str(),
                line.message
            );
        }
    }
    if !inv.kv_writes.is_empty() {
        let committed = if inv.outcome == Outcome::Ok {
            "committed"
        } else {
            "discarded"
        };
        println!("kv writes ({committed}):");
        for write in &inv.kv_writes {
            match write {
                KvWrite::Set { key, value } => {
                    println!("  set {key} = {}", String::from_utf8_lossy(value))
                }
                KvWrite::Delete { key } => println!("  delete {key}"),
                KvWrite::Increment { key, delta } => println!("  increment {key} by {delta}"),
            }
        }
    }
    if !inv.http_calls.is_empty() {
        println!("outbound calls:");
        for call in &inv.http_calls {
            let result = match (&call.status, &call.error) {
                (Some(status), _) => status.to_string(),
                (None, Some(error)) => error.clone(),
                (None, None) => "-".into(),
            };
            println!(
                "  {} {} -> {} ({} ms)",
                call.method, call.url, result, call.duration_ms
            );
        }
    }
}
