//! `hookhost endpoint set | get | list | pause | resume | delete | secret`: a
//! tenant's endpoints, through the admin API, and the request body `set`
//! builds from a spec file and flags.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::CliError;
use super::client::{ApiArgs, Client, TenantFlag, field, fields, list, table};
use super::plugin::key_value;
use crate::api::views::{EndpointList, EndpointView, PauseChange, SecretRequest, SecretView};
use crate::domain::{EndpointRequest, EventTypePattern, HostPattern, IpAllow, Provider, RateLimit};
use crate::ids::{EndpointId, PluginName, SecretName};

/// Manage endpoints.
#[derive(Debug, Args)]
pub(crate) struct EndpointArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: EndpointCommand,
}

#[derive(Debug, Subcommand)]
enum EndpointCommand {
    /// Create or replace an endpoint, from a JSON spec file, flags, or both
    /// (the flags given override the file's fields).
    Set(Box<SetArgs>),
    /// Show an endpoint.
    Get {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The endpoint's id.
        id: EndpointId,
    },
    /// List a tenant's endpoints.
    List {
        #[command(flatten)]
        tenant: TenantFlag,
    },
    /// Pause an endpoint: it goes on accepting and storing webhooks, and
    /// runs none until resumed.
    Pause {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The endpoint's id.
        id: EndpointId,
    },
    /// Resume a paused endpoint: what waited runs, oldest first.
    Resume {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The endpoint's id.
        id: EndpointId,
    },
    /// Delete an endpoint.
    Delete {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The endpoint's id.
        id: EndpointId,
    },
    /// Set or delete a secret of the endpoint's plugin, which it reads with
    /// `secret::get`. Write-only: `endpoint get` shows its last four characters.
    #[command(subcommand)]
    Secret(SecretCommand),
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Set a secret. Its value is read from standard input (all of it, less
    /// one final newline), so it stays out of the shell's history and the
    /// process list; at a terminal, one line is asked for.
    Set {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The endpoint's id.
        id: EndpointId,
        /// The secret's name, as the plugin asks for it.
        name: SecretName,
    },
    /// Delete a secret.
    Delete {
        #[command(flatten)]
        tenant: TenantFlag,
        /// The endpoint's id.
        id: EndpointId,
        /// The secret's name.
        name: SecretName,
    },
}

#[derive(Debug, Args)]
struct SetArgs {
    #[command(flatten)]
    tenant: TenantFlag,
    /// The endpoint's id: the last segment of its inbound URL.
    id: EndpointId,
    /// A JSON endpoint spec to start from.
    #[arg(long, value_name = "SPEC.json")]
    file: Option<PathBuf>,
    #[command(flatten)]
    spec: SpecFlags,
}

/// The fields of an endpoint spec that can be given as flags.
#[derive(Debug, Default, Args)]
struct SpecFlags {
    /// How inbound requests are verified: standard-webhooks, stripe, github,
    /// shopify, slack, hmac or none.
    #[arg(long)]
    provider: Option<Provider>,
    /// A signing secret; repeat it while rotating (any one verifies). Replaces
    /// the file's secrets.
    #[arg(long = "secret", value_name = "SECRET")]
    secrets: Vec<String>,
    /// The plugin run for each delivery.
    #[arg(long)]
    plugin: Option<PluginName>,
    /// The plugin version to bind; the latest uploaded one when omitted.
    #[arg(long, value_name = "N")]
    plugin_version: Option<u32>,
    /// An address, a network (203.0.113.0/24) or @name of an IP set in the
    /// server's config that webhooks may come from; repeat it for several.
    /// Replaces the file's allowed IPs.
    #[arg(long = "allow-ip", value_name = "ADDRESS|CIDR|@SET")]
    allowed_ips: Vec<IpAllow>,
    /// Webhooks the endpoint accepts per second, minute or hour: 100/second,
    /// 5000/hour. Its burst is the rate unless `--set rate_limit.burst:=N`.
    #[arg(long, value_name = "N/PERIOD", value_parser = rate_limit)]
    rate_limit: Option<RateLimit>,
    /// An event type that runs the plugin, `*` standing for any run of
    /// characters (payment_intent.*); repeat it for several. Others are
    /// stored as filtered. Replaces the file's event types.
    #[arg(long = "event-type", value_name = "PATTERN")]
    event_types: Vec<EventTypePattern>,
    /// A setting the plugin reads with config::get; added to the file's config.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = key_value)]
    config: Vec<(String, String)>,
    /// A host the plugin may call (host, host:port, *.domain). Replaces the
    /// file's allowed hosts.
    #[arg(long = "allow-host", value_name = "HOST")]
    allowed_hosts: Vec<HostPattern>,
    /// Let the plugin reach loopback and private addresses.
    #[arg(long)]
    allow_private_network: bool,
    /// Deadline of one invocation.
    #[arg(long, value_name = "N")]
    timeout_ms: Option<u64>,
    /// Memory one invocation may grow to.
    #[arg(long, value_name = "N")]
    memory_mb: Option<u32>,
    /// Outbound HTTP calls per invocation.
    #[arg(long, value_name = "N")]
    max_http_calls: Option<u32>,
    /// Largest inbound body accepted; larger ones are answered 413.
    #[arg(long, value_name = "N")]
    body_limit_bytes: Option<u64>,
    /// Invocations of the endpoint running at once, across every host; 1
    /// runs its deliveries one after another.
    #[arg(long, value_name = "N")]
    max_concurrent: Option<u32>,
    /// Attempts per run, the first included; 1 means never retry.
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,
    /// Seconds to wait after each failed attempt, e.g. 5,300,1800.
    #[arg(long, value_delimiter = ',', value_name = "SECONDS,...")]
    retry_schedule: Vec<u64>,
    /// Any setting of the spec by its path: `PATH=TEXT` sets text
    /// (`dedup_header=X-Event-Id`), `PATH:=JSON` any other value
    /// (`limits.timeout_ms:=2000`, `retry:={"max_attempts":3}`). Applied last.
    #[arg(long = "set", value_name = "PATH=TEXT|PATH:=JSON", value_parser = key_value)]
    set: Vec<(String, String)>,
}

impl EndpointArgs {
    pub(crate) async fn run(self) -> Result<ExitCode, CliError> {
        let client = Client::new(&self.api)?;
        match self.command {
            EndpointCommand::Set(args) => {
                let base = match &args.file {
                    Some(path) => Some(read_spec(path)?),
                    None => None,
                };
                let body = request_body(base, &args.spec)?;
                check_spec(&body)?;
                let path = endpoint_path(&args.tenant, Some(&args.id));
                let answer = client.call(Method::PUT, &path, Some(&body)).await?;
                let verb = if answer.status == StatusCode::CREATED {
                    "created"
                } else {
                    "updated"
                };
                client.print(&answer.body, |e: &EndpointView| {
                    let summary = fields(&[
                        ("inbound url", e.inbound_url.clone()),
                        ("plugin", plugin_binding(e, " version ")),
                    ]);
                    format!("{verb} endpoint {}\n{summary}", e.id)
                })?;
            }
            EndpointCommand::Get { tenant, id } => {
                let path = endpoint_path(&tenant, Some(&id));
                let answer = client.call(Method::GET, &path, None).await?;
                client.print(&answer.body, render_view)?;
            }
            EndpointCommand::List { tenant } => {
                let path = endpoint_path(&tenant, None);
                let answer = client.call(Method::GET, &path, None).await?;
                client.print(&answer.body, |body| render_list(body, &tenant))?;
            }
            EndpointCommand::Pause { tenant, id } => {
                let mut path = endpoint_path(&tenant, Some(&id));
                path.push("pause");
                let answer = client.call(Method::POST, &path, None).await?;
                client.print(&answer.body, |c: &PauseChange| {
                    format!(
                        "paused endpoint {id}: it stores what arrives and runs nothing; {} waiting deliveries set aside\n",
                        c.deliveries
                    )
                })?;
            }
            EndpointCommand::Resume { tenant, id } => {
                let mut path = endpoint_path(&tenant, Some(&id));
                path.push("resume");
                let answer = client.call(Method::POST, &path, None).await?;
                client.print(&answer.body, |c: &PauseChange| {
                    format!(
                        "resumed endpoint {id}: {} deliveries due again, oldest first\n",
                        c.deliveries
                    )
                })?;
            }
            EndpointCommand::Delete { tenant, id } => {
                let path = endpoint_path(&tenant, Some(&id));
                let answer = client.call(Method::DELETE, &path, None).await?;
                client.print(&answer.body, |_: &serde::de::IgnoredAny| {
                    format!("deleted endpoint {id}\n")
                })?;
            }
            EndpointCommand::Secret(SecretCommand::Set { tenant, id, name }) => {
                let value = read_secret(&name)?;
                let mut path = endpoint_path(&tenant, Some(&id));
                path.extend(["secrets", name.as_str()]);
                let body = serde_json::to_value(SecretRequest { value }).expect("serialises");
                let answer = client.call(Method::PUT, &path, Some(&body)).await?;
                let verb = if answer.status == StatusCode::CREATED {
                    "set"
                } else {
                    "replaced"
                };
                client.print(&answer.body, |s: &SecretView| {
                    format!("{verb} secret {} of endpoint {id}: {}\n", s.name, s.value)
                })?;
            }
            EndpointCommand::Secret(SecretCommand::Delete { tenant, id, name }) => {
                let mut path = endpoint_path(&tenant, Some(&id));
                path.extend(["secrets", name.as_str()]);
                let answer = client.call(Method::DELETE, &path, None).await?;
                client.print(&answer.body, |_: &serde::de::IgnoredAny| {
                    format!("deleted secret {name} of endpoint {id}\n")
                })?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// A secret's value from standard input: all of it less one final newline,
/// or one line asked for at a terminal.
fn read_secret(name: &SecretName) -> Result<String, CliError> {
    use std::io::{BufRead, IsTerminal, Read, Write};
    let stdin = std::io::stdin();
    let mut value = String::new();
    let read = if stdin.is_terminal() {
        eprint!("value of secret {name}: ");
        let _ = std::io::stderr().flush();
        stdin.lock().read_line(&mut value)
    } else {
        stdin.lock().read_to_string(&mut value)
    };
    read.map_err(CliError::io("reading the secret from standard input"))?;
    let value = value
        .strip_suffix('\n')
        .map(|v| v.strip_suffix('\r').unwrap_or(v))
        .unwrap_or(&value);
    Ok(value.to_owned())
}

/// `N/PERIOD` of `--rate-limit`: `100/second`, `5000/hour`.
fn rate_limit(s: &str) -> Result<RateLimit, String> {
    let (rate, period) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not N/PERIOD, e.g. 100/second"))?;
    let rate: u32 = rate
        .trim()
        .parse()
        .map_err(|_| format!("{rate:?} is not a whole number"))?;
    serde_json::from_value(json!({ "rate": rate, "period": period.trim() }))
        .map_err(|e| format!("{s:?}: {e}"))
}

/// `v1/tenants/{t}/endpoints[/{id}]`.
fn endpoint_path<'a>(tenant: &'a TenantFlag, id: Option<&'a EndpointId>) -> Vec<&'a str> {
    let mut path = vec!["v1", "tenants", tenant.tenant.as_str(), "endpoints"];
    path.extend(id.map(EndpointId::as_str));
    path
}

fn read_spec(path: &std::path::Path) -> Result<Value, CliError> {
    let text = std::fs::read(path).map_err(CliError::io(format!("reading {}", path.display())))?;
    serde_json::from_slice(&text)
        .map_err(|e| CliError::Usage(format!("{} is not JSON: {e}", path.display())))
}

/// The body of `PUT …/endpoints/{id}`: the spec file's object (or an empty
/// spec), with the flags given laid over it. Lists given as flags replace the
/// file's; `--config`, limits and retry settings are added key by key, and
/// `limits` and `retry` are sent only when the file or a flag sets some key,
/// so the server fills in the rest.
fn request_body(base: Option<Value>, flags: &SpecFlags) -> Result<Value, CliError> {
    let mut body = Map::new();
    body.insert("secrets".into(), json!([]));
    body.insert("config".into(), json!({}));
    body.insert("allowed_hosts".into(), json!([]));
    body.insert("allow_private_network".into(), json!(false));
    match base {
        Some(Value::Object(base)) => body.extend(base),
        Some(_) => {
            return Err(CliError::Usage(
                "--file must hold a JSON object: an endpoint spec".to_owned(),
            ));
        }
        None => {}
    }
    if let Some(provider) = flags.provider {
        body.insert("provider".into(), json!(provider.as_str()));
    }
    if !flags.secrets.is_empty() {
        body.insert("secrets".into(), json!(flags.secrets));
    }
    if let Some(plugin) = &flags.plugin {
        body.insert("plugin".into(), json!(plugin.as_str()));
    }
    if let Some(version) = flags.plugin_version {
        body.insert("plugin_version".into(), json!(version));
    }
    if !flags.allowed_ips.is_empty() {
        let entries: Vec<String> = flags.allowed_ips.iter().map(|e| e.to_string()).collect();
        body.insert("allowed_ips".into(), json!(entries));
    }
    if let Some(limit) = &flags.rate_limit {
        body.insert("rate_limit".into(), json!(limit));
    }
    if !flags.event_types.is_empty() {
        let patterns: Vec<String> = flags.event_types.iter().map(|p| p.to_string()).collect();
        body.insert("event_types".into(), json!(patterns));
    }
    merge(
        &mut body,
        "config",
        flags.config.iter().map(|(k, v)| (k.clone(), json!(v))),
    );
    if !flags.allowed_hosts.is_empty() {
        let hosts: Vec<String> = flags.allowed_hosts.iter().map(|h| h.to_string()).collect();
        body.insert("allowed_hosts".into(), json!(hosts));
    }
    if flags.allow_private_network {
        body.insert("allow_private_network".into(), json!(true));
    }
    let limits = [
        ("timeout_ms", flags.timeout_ms.map(Value::from)),
        ("memory_mb", flags.memory_mb.map(Value::from)),
        ("max_http_calls", flags.max_http_calls.map(Value::from)),
        ("body_limit_bytes", flags.body_limit_bytes.map(Value::from)),
        ("max_concurrent", flags.max_concurrent.map(Value::from)),
    ];
    merge(&mut body, "limits", given(limits));
    let schedule = (!flags.retry_schedule.is_empty()).then(|| json!(flags.retry_schedule));
    let retry = [
        ("max_attempts", flags.max_attempts.map(Value::from)),
        ("schedule_s", schedule),
    ];
    merge(&mut body, "retry", given(retry));
    for (path, raw) in &flags.set {
        let (path, value) = match path.strip_suffix(':') {
            Some(path) => {
                let value = serde_json::from_str(raw).map_err(|e| {
                    CliError::Usage(format!("--set {path}:={raw}: the value is not JSON ({e})"))
                })?;
                (path, value)
            }
            None => (path.as_str(), Value::String(raw.clone())),
        };
        set_path(&mut body, path, value)?;
    }
    for (key, flag) in [("provider", "--provider"), ("plugin", "--plugin")] {
        if body.get(key).is_none_or(Value::is_null) {
            return Err(CliError::Usage(format!(
                "endpoint set needs {flag}, or a --file that sets \"{key}\": it replaces the whole endpoint"
            )));
        }
    }
    Ok(Value::Object(body))
}

/// Reads the body as the API will, so a mistyped field is named here, before
/// anything is sent; what only the server knows (plugin versions, this
/// host's memory ceiling) it still checks.
fn check_spec(body: &Value) -> Result<(), CliError> {
    serde_path_to_error::deserialize::<_, EndpointRequest>(body)
        .map(drop)
        .map_err(|e| {
            CliError::Usage(format!(
                "the endpoint spec is not valid at {}: {}",
                e.path(),
                e.inner()
            ))
        })
}

/// Sets `body[a][b]…` for the path `a.b…`, creating objects on the way.
fn set_path(body: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), CliError> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts
        .pop()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| CliError::Usage(format!("--set {path}=…: the path names no setting")))?;
    let mut object = body;
    for part in parts {
        let entry = object.entry(part).or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        object = entry.as_object_mut().expect("made an object");
    }
    object.insert(last.to_owned(), value);
    Ok(())
}

/// The settings of `pairs` that have a value.
fn given<const N: usize>(
    pairs: [(&str, Option<Value>); N],
) -> impl Iterator<Item = (String, Value)> {
    pairs
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| (key.to_owned(), v)))
}

/// Sets `entries` in the object `body[key]`, which is created when there are
/// entries and it is not an object yet.
fn merge(body: &mut Map<String, Value>, key: &str, entries: impl Iterator<Item = (String, Value)>) {
    let mut entries = entries.peekable();
    if entries.peek().is_none() {
        return;
    }
    let target = body.entry(key).or_insert_with(|| json!({}));
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(object) = target {
        object.extend(entries);
    }
}

/// `plugin<sep>version` of an endpoint view.
fn plugin_binding(view: &EndpointView, sep: &str) -> String {
    format!("{}{sep}{}", view.spec.plugin, view.spec.plugin_version)
}

/// The entries of the object `view[key]` as `k=v, k=v`, or `-`.
fn entries(view: &Value, key: &str) -> String {
    let Some(object) = view[key].as_object().filter(|o| !o.is_empty()) else {
        return "-".to_owned();
    };
    let pairs: Vec<String> = object
        .keys()
        .map(|k| format!("{k}={}", field(&view[key], k)))
        .collect();
    pairs.join(", ")
}

/// The items of the list `view[key]` joined by `, `, or `-`.
fn items(view: &Value, key: &str) -> String {
    let items: Vec<String> = list(view, key)
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect();
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

/// An endpoint view: where it is, then every setting of its spec by name,
/// so a setting added to the spec shows up here without a change.
fn render_view(e: &EndpointView) -> String {
    let spec = serde_json::to_value(&e.spec).expect("a spec serialises");
    let mut rows = vec![
        ("tenant".to_owned(), e.tenant.clone()),
        ("id".to_owned(), e.id.clone()),
        ("inbound url".to_owned(), e.inbound_url.clone()),
    ];
    if let Some(settings) = spec.as_object() {
        rows.extend(settings.iter().map(|(key, value)| {
            let text = match value {
                Value::Object(_) => entries(&spec, key),
                Value::Array(_) => items(&spec, key),
                _ => field(&spec, key),
            };
            (key.replace('_', " "), text)
        }));
    }
    let paused = match &e.paused_at {
        Some(at) => format!("since {at}"),
        None => "no".to_owned(),
    };
    rows.push(("paused".to_owned(), paused));
    let secrets: Vec<String> = e
        .plugin_secrets
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    rows.push((
        "plugin secrets".to_owned(),
        if secrets.is_empty() {
            "-".to_owned()
        } else {
            secrets.join(", ")
        },
    ));
    rows.push(("created".to_owned(), e.created_at.clone()));
    rows.push(("updated".to_owned(), e.updated_at.clone()));
    let pairs: Vec<(&str, String)> = rows.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    fields(&pairs)
}

fn render_list(answer: &EndpointList, tenant: &TenantFlag) -> String {
    let rows: Vec<[String; 5]> = answer
        .endpoints
        .iter()
        .map(|e| {
            [
                e.id.clone(),
                e.spec.provider.to_string(),
                plugin_binding(e, "@"),
                if e.paused_at.is_some() {
                    "paused"
                } else {
                    "running"
                }
                .to_owned(),
                e.inbound_url.clone(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return format!(
            "no endpoints: create one with `hookhost endpoint set --tenant {} ID --provider P --plugin NAME`\n",
            tenant.tenant
        );
    }
    table(["ID", "PROVIDER", "PLUGIN", "STATE", "INBOUND URL"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RatePeriod;

    fn minimal() -> SpecFlags {
        SpecFlags {
            provider: Some(Provider::Stripe),
            plugin: Some(PluginName::new("billing").unwrap()),
            ..SpecFlags::default()
        }
    }

    #[test]
    fn flags_alone_make_a_body_with_empty_lists_and_no_limits_or_retry() {
        let body = request_body(None, &minimal()).unwrap();
        assert_eq!(
            body,
            json!({
                "provider": "stripe",
                "secrets": [],
                "plugin": "billing",
                "config": {},
                "allowed_hosts": [],
                "allow_private_network": false
            })
        );
    }

    #[test]
    fn every_flag_lands_in_its_field() {
        let flags = SpecFlags {
            provider: Some(Provider::StandardWebhooks),
            secrets: vec!["whsec_a".into(), "whsec_b".into()],
            plugin: Some(PluginName::new("billing").unwrap()),
            plugin_version: Some(3),
            config: vec![("channel".into(), "#ops".into())],
            allowed_hosts: vec!["hooks.slack.com".parse().unwrap()],
            allowed_ips: vec![
                "203.0.113.0/24".parse().unwrap(),
                "@stripe".parse().unwrap(),
            ],
            rate_limit: Some(rate_limit("100/minute").unwrap()),
            event_types: vec![
                "invoice.*".parse().unwrap(),
                "charge.failed".parse().unwrap(),
            ],
            allow_private_network: true,
            timeout_ms: Some(2_000),
            memory_mb: Some(32),
            max_http_calls: Some(4),
            body_limit_bytes: Some(65_536),
            max_concurrent: Some(1),
            max_attempts: Some(3),
            retry_schedule: vec![5, 300],
            set: vec![],
        };
        let body = request_body(None, &flags).unwrap();
        assert_eq!(
            body,
            json!({
                "provider": "standard-webhooks",
                "secrets": ["whsec_a", "whsec_b"],
                "plugin": "billing",
                "plugin_version": 3,
                "config": {"channel": "#ops"},
                "allowed_hosts": ["hooks.slack.com"],
                "allowed_ips": ["203.0.113.0/24", "@stripe"],
                "rate_limit": {"rate": 100, "period": "minute"},
                "event_types": ["invoice.*", "charge.failed"],
                "allow_private_network": true,
                "limits": {
                    "timeout_ms": 2000,
                    "memory_mb": 32,
                    "max_http_calls": 4,
                    "body_limit_bytes": 65536,
                    "max_concurrent": 1
                },
                "retry": {"max_attempts": 3, "schedule_s": [5, 300]}
            })
        );
    }

    #[test]
    fn any_setting_can_be_set_by_its_path_as_text_or_json() {
        let flags = SpecFlags {
            set: vec![
                ("limits.timeout_ms:".into(), "2000".into()),
                ("dedup_header".into(), "X-Event-Id".into()),
                ("config.retries".into(), "3".into()),
                ("retry:".into(), r#"{"max_attempts": 2}"#.into()),
            ],
            ..minimal()
        };
        let body = request_body(None, &flags).unwrap();
        assert_eq!(body["limits"], json!({"timeout_ms": 2000}));
        assert_eq!(body["dedup_header"], "X-Event-Id");
        assert_eq!(body["config"], json!({"retries": "3"}));
        assert_eq!(body["retry"], json!({"max_attempts": 2}));
        assert!(check_spec(&body).is_ok());
        let flags = SpecFlags {
            set: vec![("limits.timeout_ms:".into(), "soon".into())],
            ..minimal()
        };
        assert!(request_body(None, &flags).is_err());
    }

    #[test]
    fn an_endpoint_shows_every_setting_of_its_spec() {
        let view: EndpointView = serde_json::from_value(json!({
            "tenant": "acme",
            "id": "stripe",
            "inbound_url": "http://h/hooks/acme/stripe",
            "provider": "stripe",
            "secrets": ["…abcd"],
            "plugin": "billing",
            "plugin_version": 2,
            "limits": {"timeout_ms": 5000},
            "event_types": ["invoice.*"],
            "created_at": "2026-12-04T00:00:00Z",
            "updated_at": "2026-12-04T00:00:00Z",
            "paused_at": "2026-12-05T00:00:00Z",
            "plugin_secrets": {"stripe_key": "…4f2a"}
        }))
        .unwrap();
        let text = render_view(&view);
        for line in [
            "stripe_key=…4f2a",
            "inbound url",
            "provider",
            "…abcd",
            "timeout_ms=5000",
            "tolerance s",
            "allowed hosts",
            "retry",
            "max_attempts=8",
            "event types",
            "invoice.*",
            "since 2026-12-05T00:00:00Z",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }

    #[test]
    fn a_rate_limit_is_a_whole_number_per_second_minute_or_hour() {
        let limit = rate_limit("5000/hour").unwrap();
        assert_eq!((limit.rate.get(), limit.period), (5000, RatePeriod::Hour));
        for bad in ["100", "0/second", "x/second", "10/day", "-1/minute"] {
            assert!(rate_limit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_mistyped_field_is_refused_before_anything_is_sent() {
        let flags = SpecFlags {
            set: vec![("limits.timeout_ms".into(), "2000".into())],
            ..minimal()
        };
        let body = request_body(None, &flags).unwrap();
        let error = check_spec(&body).unwrap_err().to_string();
        assert!(error.contains("limits.timeout_ms"), "{error}");
        assert!(check_spec(&request_body(None, &minimal()).unwrap()).is_ok());
    }

    #[test]
    fn only_the_limit_and_retry_keys_given_are_sent() {
        let flags = SpecFlags {
            memory_mb: Some(64),
            retry_schedule: vec![10],
            ..minimal()
        };
        let body = request_body(None, &flags).unwrap();
        assert_eq!(body["limits"], json!({"memory_mb": 64}));
        assert_eq!(body["retry"], json!({"schedule_s": [10]}));
    }

    #[test]
    fn the_file_is_the_base_and_flags_given_override_its_fields() {
        let file = json!({
            "provider": "github",
            "secrets": ["old"],
            "tolerance_s": 60,
            "plugin": "deploys",
            "plugin_version": 1,
            "allowed_hosts": ["api.github.com"],
            "allow_private_network": true
        });
        let flags = SpecFlags {
            secrets: vec!["new".into()],
            plugin_version: Some(2),
            ..SpecFlags::default()
        };
        let body = request_body(Some(file), &flags).unwrap();
        assert_eq!(
            body,
            json!({
                "provider": "github",
                "secrets": ["new"],
                "tolerance_s": 60,
                "plugin": "deploys",
                "plugin_version": 2,
                "config": {},
                "allowed_hosts": ["api.github.com"],
                "allow_private_network": true
            })
        );
    }

    #[test]
    fn config_limits_and_retry_flags_are_added_to_the_files_key_by_key() {
        let file = json!({
            "provider": "none",
            "plugin": "echo",
            "config": {"a": "1", "b": "2"},
            "limits": {"timeout_ms": 1000, "memory_mb": 16},
            "retry": {"max_attempts": 2}
        });
        let flags = SpecFlags {
            config: vec![("b".into(), "20".into()), ("c".into(), "3".into())],
            memory_mb: Some(64),
            retry_schedule: vec![1, 2],
            ..SpecFlags::default()
        };
        let body = request_body(Some(file), &flags).unwrap();
        assert_eq!(body["config"], json!({"a": "1", "b": "20", "c": "3"}));
        assert_eq!(body["limits"], json!({"timeout_ms": 1000, "memory_mb": 64}));
        assert_eq!(
            body["retry"],
            json!({"max_attempts": 2, "schedule_s": [1, 2]})
        );
    }

    #[test]
    fn a_body_without_provider_or_plugin_is_refused_before_sending() {
        let no_provider = SpecFlags {
            provider: None,
            ..minimal()
        };
        let no_plugin = SpecFlags {
            plugin: None,
            ..minimal()
        };
        for (flags, missing) in [(no_provider, "--provider"), (no_plugin, "--plugin")] {
            match request_body(None, &flags) {
                Err(CliError::Usage(message)) => assert!(message.contains(missing), "{message}"),
                other => panic!("expected a usage error, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_file_that_is_not_a_json_object_is_refused() {
        let result = request_body(Some(json!(["provider", "stripe"])), &minimal());
        assert!(matches!(result, Err(CliError::Usage(_))));
    }
}
