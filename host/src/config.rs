//! The server's one configuration. Its settings and their defaults are
//! declared once, in `config.default.toml` (embedded): each key with its
//! default and, in the comment above it, what it does. A file given with
//! `--config` overrides the defaults, `HOOKHOST_*` variables override the
//! file and flags override everything; the result is validated once into a
//! [`Config`]. The command line's flags, their help and `hookhost config
//! check` are all generated from the same declaration, so they cannot drift.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use crate::domain::{DestinationKind, TenantPolicy, hard, is_set_name};

/// Named sets of networks, by name.
pub type IpSets = BTreeMap<String, Vec<IpNet>>;

/// The defaults: the one place a setting and its default are stated.
pub const DEFAULTS: &str = include_str!("../config.default.toml");

/// Prefix of the environment variable of every setting.
const ENV_PREFIX: &str = "HOOKHOST_";

/// Everything `hookhost serve` is configured with, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the server listens.
    pub listen: SocketAddr,
    /// Where the SQLite database and the compile cache live.
    pub data_dir: PathBuf,
    /// A PostgreSQL database shared by several hosts; SQLite when unset.
    #[serde(with = "unset_if_empty")]
    pub database_url: Option<Secret>,
    /// The key sealing secrets at rest; `data_dir/master.key` when unset.
    #[serde(with = "unset_if_empty")]
    pub master_key: Option<Secret>,
    /// Keys secrets may still be sealed under, until a start reseals them.
    pub previous_master_keys: Vec<Secret>,
    /// Base URL of endpoints' inbound URLs; the Host header when unset.
    #[serde(with = "unset_if_empty")]
    pub public_url: Option<String>,
    /// The operator token; generated at first start when unset.
    #[serde(with = "unset_if_empty")]
    pub admin_token: Option<Secret>,
    /// Plugin invocations at once; 0 for an ingest-only host.
    pub workers: usize,
    /// Invocations running WebAssembly at once; 0 for all cores but one.
    pub guest_cpus: usize,
    /// Unfinished deliveries beyond which ingress answers 503.
    pub max_queue_depth: u64,
    /// Deliveries per second each bulk replay queues again, so that one
    /// feeds the queue no faster than live traffic can be served beside it.
    pub replay_rate: u32,
    /// How long shutdown waits for running attempts.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How long bodies of succeeded deliveries are kept.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// Longest an idle dispatcher sleeps before looking again.
    #[serde(with = "humantime_serde")]
    pub idle_poll: Duration,
    /// Longest a client may take to send a request's headers, or to start
    /// the next request on a kept-alive connection.
    #[serde(with = "humantime_serde")]
    pub http_header_timeout: Duration,
    /// Longest one request may take, from its headers to its answer.
    #[serde(with = "humantime_serde")]
    pub http_request_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// Proxies believed about the client's address.
    pub trusted_proxies: Vec<IpNet>,
    /// The header trusted proxies write the client's address into.
    pub client_ip_header: ClientIpHeader,
    /// Named sets of networks that endpoints' `allowed_ips` refer to.
    pub ip_sets: IpSets,
    /// HTTPS, when both files are set.
    pub tls: TlsSettings,
    /// Export of traces to an OpenTelemetry collector, when its endpoint is set.
    pub otlp: OtlpSettings,
    /// How alerts are raised and sent, and the operator's destinations.
    pub alerts: AlertSettings,
    /// What a tenant may do unless its own policy says otherwise.
    pub tenant: TenantPolicy,
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// For people: one aligned line per event.
    Text,
    /// For log collectors: one JSON object per line.
    Json,
}

/// Which header trusted proxies write the client's address into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientIpHeader {
    /// `X-Forwarded-For`: comma-separated addresses, one per hop.
    XForwardedFor,
    /// `Forwarded` (RFC 7239): the `for=` of each element.
    Forwarded,
}

/// The `[tls]` table: the PEM files of the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The certificate chain, leaf first.
    #[serde(with = "unset_if_empty")]
    pub cert: Option<String>,
    /// Its private key.
    #[serde(with = "unset_if_empty")]
    pub key: Option<String>,
}

/// The `[otlp]` table: the OpenTelemetry collector traces are exported to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpSettings {
    /// The collector's OTLP/HTTP base URL; nothing is exported when unset.
    #[serde(with = "unset_if_empty")]
    pub endpoint: Option<String>,
    /// The `service.name` of the exported spans.
    pub service_name: String,
    /// Headers of every export, masked when printed: they often hold a key.
    pub headers: BTreeMap<String, Secret>,
}

/// The `[alerts]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Shortest time between two alerts of one kind about one endpoint.
    #[serde(with = "humantime_serde")]
    pub min_interval: Duration,
    /// The wait after an alert's first failed send.
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    /// Destinations receiving every tenant's alerts.
    pub destinations: Vec<OperatorDestination>,
}

/// One of the operator's alert destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorDestination {
    /// Its name, shown in the alerts sent to it.
    pub name: String,
    /// How it is sent to.
    pub kind: DestinationKind,
    /// Where.
    pub url: String,
    /// The Standard Webhooks secret of a `webhook` destination.
    #[serde(default, with = "unset_if_empty")]
    pub secret: Option<Secret>,
}

impl AlertSettings {
    /// What is wrong with the table, by key within it.
    fn validate(&self) -> Vec<(String, String)> {
        let mut wrong = Vec::new();
        for (key, d) in [
            ("min_interval", self.min_interval),
            ("retry_base", self.retry_base),
        ] {
            if d.is_zero() {
                wrong.push((key.to_owned(), "must be longer than 0s".to_owned()));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, d) in self.destinations.iter().enumerate() {
            let at = format!("destinations[{i}]");
            if !is_set_name(&d.name) || !names.insert(&d.name) {
                wrong.push((
                    format!("{at}.name"),
                    "a unique name of 1 to 64 of a-z, 0-9, - and _".to_owned(),
                ));
            }
            if let Err(message) = crate::domain::check_destination_url(&d.url) {
                wrong.push((format!("{at}.url"), message));
            }
            let secret_ok = match (d.kind, &d.secret) {
                (DestinationKind::Webhook, Some(s)) => is_whsec(s.expose()),
                (DestinationKind::Slack, None) => true,
                _ => false,
            };
            if !secret_ok {
                wrong.push((
                    format!("{at}.secret"),
                    "a webhook destination needs a Standard Webhooks secret (whsec_ and base64); a slack one takes none".to_owned(),
                ));
            }
        }
        wrong
    }
}

/// Whether `text` is a Standard Webhooks secret: `whsec_` and base64.
fn is_whsec(text: &str) -> bool {
    use base64::Engine as _;
    text.strip_prefix("whsec_").is_some_and(|b64| {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .is_ok_and(|key| !key.is_empty())
    })
}

impl Default for Config {
    /// The built-in defaults, as `config.default.toml` states them.
    fn default() -> Self {
        Settings::builtin()
            .load(&Sources::default())
            .expect("the embedded defaults are valid (tested)")
            .config
    }
}

impl Config {
    /// Checks what no single setting's type can: how settings fit together.
    fn validate(&self) -> Vec<(String, String)> {
        let mut wrong: Vec<(String, String)> = Vec::new();
        if self.workers == 0 && self.database_url.is_none() {
            wrong.push((
                "workers".into(),
                "0 leaves every delivery to other hosts, and only hosts sharing a PostgreSQL \
                 database (database_url, --database-url) have others; give SQLite at least one \
                 worker"
                    .to_owned(),
            ));
        }
        if let Some(url) = &self.database_url
            && !["postgres://", "postgresql://"]
                .iter()
                .any(|scheme| url.expose().starts_with(scheme))
        {
            wrong.push((
                "database_url".into(),
                "must be a PostgreSQL URL, postgres://user@host/db; leave it empty for SQLite"
                    .to_owned(),
            ));
        }
        if self.master_key.is_none() && self.database_url.is_some() {
            wrong.push((
                "master_key".into(),
                "hosts sharing a PostgreSQL database must seal secrets under one key: set \
                 master_key (or HOOKHOST_MASTER_KEY) to the same 64 hex digits on every host \
                 (openssl rand -hex 32)"
                    .to_owned(),
            ));
        }
        let keys = self.master_key.iter().map(|k| ("master_key".to_owned(), k));
        let previous = self
            .previous_master_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("previous_master_keys[{i}]"), k));
        for (key, value) in keys.chain(previous) {
            if !value.is_masked() && !is_master_key(value.expose()) {
                wrong.push((
                    key,
                    "a master key is 32 bytes written as 64 hex digits (openssl rand -hex 32)"
                        .to_owned(),
                ));
            }
        }
        if let Some(raw) = &self.public_url {
            match url::Url::parse(raw) {
                Ok(url) if ["http", "https"].contains(&url.scheme()) && url.query().is_none() => {}
                _ => wrong.push((
                    "public_url".into(),
                    format!("{raw:?} is not an http(s) base URL such as https://hooks.example.com"),
                )),
            }
        }
        wrong.extend(
            self.otlp
                .validate()
                .into_iter()
                .map(|(key, message)| (format!("otlp.{key}"), message)),
        );
        let secrets = [
            ("admin_token".to_owned(), self.admin_token.as_ref()),
            ("database_url".to_owned(), self.database_url.as_ref()),
            ("master_key".to_owned(), self.master_key.as_ref()),
        ]
        .into_iter()
        .chain(
            self.previous_master_keys
                .iter()
                .enumerate()
                .map(|(i, k)| (format!("previous_master_keys[{i}]"), Some(k))),
        );
        for (key, secret) in secrets {
            if secret.is_some_and(Secret::is_masked) {
                wrong.push((
                    key,
                    "holds the masked form `config check` prints, not the secret itself; \
                     write the real value, or set it in its HOOKHOST_ variable"
                        .to_owned(),
                ));
            }
        }
        for (key, duration) in [
            ("idle_poll", self.idle_poll),
            ("http_header_timeout", self.http_header_timeout),
            ("http_request_timeout", self.http_request_timeout),
        ] {
            if duration.is_zero() {
                wrong.push((key.into(), "must be longer than 0s".to_owned()));
            }
        }
        if self.replay_rate == 0 {
            wrong.push(("replay_rate".into(), "must be at least 1".to_owned()));
        }
        if self.max_connections == 0 {
            wrong.push(("max_connections".into(), "must be at least 1".to_owned()));
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            wrong.push((
                "tls".into(),
                "set both tls.cert and tls.key for HTTPS, or neither for plain HTTP".into(),
            ));
        }
        for name in self.ip_sets.keys().filter(|name| !is_set_name(name)) {
            wrong.push((
                format!("ip_sets.{name}"),
                "a set's name is 1 to 64 of a-z, 0-9, - and _".into(),
            ));
        }
        wrong.extend(
            self.alerts
                .validate()
                .into_iter()
                .map(|(key, message)| (format!("alerts.{key}"), message)),
        );
        for v in self.tenant.validate(hard::MEMORY_MB) {
            wrong.push((format!("tenant.{}", v.field), v.message));
        }
        wrong
    }
}

impl OtlpSettings {
    /// What is wrong with the table, by key within it.
    fn validate(&self) -> Vec<(&'static str, String)> {
        let mut wrong = Vec::new();
        if let Some(raw) = &self.endpoint {
            match url::Url::parse(raw) {
                // Never quoted: the password would be printed with it.
                Ok(url) if !url.username().is_empty() || url.password().is_some() => wrong.push((
                    "endpoint",
                    "holds credentials; give them as a header in otlp.headers instead".to_owned(),
                )),
                Ok(url)
                    if ["http", "https"].contains(&url.scheme())
                        && url.has_host()
                        && url.query().is_none()
                        && url.fragment().is_none() => {}
                _ => wrong.push((
                    "endpoint",
                    format!(
                        "{raw:?} is not the http(s) base URL of an OTLP/HTTP collector, \
                         such as http://127.0.0.1:4318"
                    ),
                )),
            }
        }
        if self.service_name.trim().is_empty() {
            wrong.push(("service_name", "must not be empty".to_owned()));
        }
        for (name, value) in &self.headers {
            let problem = if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                format!("{name:?} is not a header name")
            } else if value.is_masked() {
                format!(
                    "{name} holds the masked form `config check` prints, not the value itself; \
                     write the real value, or set the table in HOOKHOST_OTLP_HEADERS"
                )
            } else if http::HeaderValue::from_str(value.expose()).is_err() {
                // Never quoted: the value is likely a key.
                format!(
                    "the value of {name} is not a header value: one line, no control characters"
                )
            } else {
                continue;
            };
            wrong.push(("headers", problem));
        }
        wrong
    }
}

/// Whether `text` is a master key: 32 bytes as 64 hex digits.
fn is_master_key(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A secret setting: shown masked wherever the configuration is printed.
/// A URL keeps its scheme, user and host, so an operator can tell which
/// database it names; anything else shows its last four characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether this is what [`Display`](fmt::Display) shows of a secret
    /// rather than a secret: a printed configuration loaded back.
    fn is_masked(&self) -> bool {
        self.0.starts_with('…') || self.0.contains(":****@")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// In a list, as alone: masked when written, the value when read.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({self})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) if url.has_host() => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("****"));
                }
                if url.query().is_some() {
                    url.set_query(Some("…"));
                }
                f.write_str(url.as_str())
            }
            _ => f.write_str(&crate::domain::masked(&self.0)),
        }
    }
}

/// Optional settings are an empty string when unset (TOML has no null);
/// secrets serialise masked, so a printed configuration never shows them.
mod unset_if_empty {
    use super::*;

    pub fn serialize<S: Serializer, T: fmt::Display>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => s.collect_str(value),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: From<String>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        let raw = String::deserialize(d)?;
        Ok((!raw.is_empty()).then(|| T::from(raw)))
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `config.default.toml`.
    Default,
    /// A line of the `--config` file.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based.
        line: usize,
    },
    /// An environment variable.
    Env(String),
    /// A command-line flag, without its dashes.
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the defaults"),
            Origin::File { path, line } => write!(f, "{} line {line}", path.display()),
            Origin::Env(name) => f.write_str(name),
            Origin::Flag(name) => write!(f, "--{name}"),
        }
    }
}

/// Why a configuration was refused; the message names the setting, where
/// its value came from, and what is accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("{} is not valid TOML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's account, with line and column.
        message: String,
    },
    /// A key no setting has.
    #[error("{origin}: unknown setting `{key}`{hint}")]
    Unknown {
        /// Where it was written.
        origin: Origin,
        /// The key as written.
        key: String,
        /// The nearest known setting, or the list of them.
        hint: String,
    },
    /// A value the setting does not accept.
    #[error("{origin}: {key}: {message}")]
    Invalid {
        /// Where the value came from.
        origin: Origin,
        /// The setting.
        key: String,
        /// What is wrong and what is accepted.
        message: String,
    },
}

/// Every reason a configuration was refused, one per line.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// One setting, as the defaults declare it.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The key in a file, dotted for a key inside a table: `workers`.
    pub key: String,
    /// What it does: the comment above it in the defaults.
    pub doc: String,
    default: Json,
}

impl Setting {
    /// Its environment variable: `HOOKHOST_MAX_QUEUE_DEPTH`.
    pub fn env(&self) -> String {
        format!("{ENV_PREFIX}{}", self.key.replace('.', "_").to_uppercase())
    }

    /// Its flag, without the dashes: `max-queue-depth`.
    pub fn flag(&self) -> String {
        self.key.replace(['.', '_'], "-")
    }

    /// Its default as a person would type it; `None` when it is unset.
    pub fn default_text(&self) -> Option<String> {
        match &self.default {
            Json::String(s) if s.is_empty() => None,
            Json::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

/// Looks up an environment variable by name.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What overrides the defaults, in rising order of precedence.
#[derive(Default)]
pub struct Sources<'a> {
    /// The `--config` file.
    pub file: Option<&'a Path>,
    /// Looks up an environment variable; none are read without it.
    pub env: Option<EnvLookup<'a>>,
    /// Flags given, as (key, value as typed).
    pub flags: &'a [(String, String)],
}

/// Reads the process's environment: the one place hookhost does.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A validated configuration with where each setting came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The configuration.
    pub config: Config,
    origins: BTreeMap<String, Origin>,
}

impl Resolved {
    /// Where a setting's value came from.
    pub fn origin(&self, key: &str) -> &Origin {
        self.origins.get(key).unwrap_or(&Origin::Default)
    }
}

/// The settings a defaults file declares.
#[derive(Debug, Clone)]
pub struct Settings {
    settings: Vec<Setting>,
    defaults: toml_edit::DocumentMut,
}

static BUILTIN: LazyLock<Settings> =
    LazyLock::new(|| Settings::parse(DEFAULTS).expect("the embedded defaults parse (tested)"));

impl Settings {
    /// hookhost's own settings, from the embedded `config.default.toml`.
    pub fn builtin() -> &'static Settings {
        &BUILTIN
    }

    /// Reads a defaults file: every key a setting, the comment above it its doc.
    pub fn parse(defaults: &str) -> Result<Self, ConfigError> {
        let defaults: toml_edit::DocumentMut =
            defaults
                .parse()
                .map_err(|e: toml_edit::TomlError| ConfigError::Syntax {
                    path: "config.default.toml".into(),
                    message: e.to_string(),
                })?;
        let mut settings = Vec::new();
        collect(defaults.as_table(), "", &mut settings);
        Ok(Self { settings, defaults })
    }

    /// Every setting, in the order the defaults list them.
    pub fn iter(&self) -> impl Iterator<Item = &Setting> {
        self.settings.iter()
    }

    fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.key == key)
    }

    /// The defaults, overridden by `sources`, validated.
    pub fn load(&self, sources: &Sources<'_>) -> Result<Resolved, ConfigErrors> {
        let mut values: BTreeMap<String, (Json, Origin)> = self
            .settings
            .iter()
            .map(|s| (s.key.clone(), (s.default.clone(), Origin::Default)))
            .collect();
        let mut errors = Vec::new();
        if let Some(path) = sources.file {
            match self.read_file(path) {
                Ok(found) => self.overlay(found, &mut values, &mut errors),
                Err(e) => errors.push(e),
            }
        }
        if let Some(env) = sources.env {
            let found = self
                .settings
                .iter()
                .filter_map(|s| {
                    env(&s.env())
                        .filter(|raw| !raw.is_empty())
                        .map(|raw| (s.key.clone(), Raw::Text(raw), Origin::Env(s.env())))
                })
                .collect();
            self.overlay(found, &mut values, &mut errors);
        }
        let found = sources
            .flags
            .iter()
            .map(|(key, raw)| {
                let flag = self.get(key).map_or_else(|| key.clone(), Setting::flag);
                (key.clone(), Raw::Text(raw.clone()), Origin::Flag(flag))
            })
            .collect();
        self.overlay(found, &mut values, &mut errors);
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }

        let origins: BTreeMap<String, Origin> = values
            .iter()
            .filter(|(_, (_, origin))| *origin != Origin::Default)
            .map(|(key, (_, origin))| (key.clone(), origin.clone()))
            .collect();
        let origin_of = |key: &str| origins.get(key).cloned().unwrap_or(Origin::Default);
        let mut tree = Json::Object(Default::default());
        for (key, (value, _)) in values {
            insert(&mut tree, &key, value);
        }
        let config: Config = serde_path_to_error::deserialize(tree).map_err(|e| {
            let key = e.path().to_string();
            ConfigErrors(vec![ConfigError::Invalid {
                origin: origin_of(&key),
                message: e.into_inner().to_string(),
                key,
            }])
        })?;
        let wrong = config.validate();
        if !wrong.is_empty() {
            return Err(ConfigErrors(
                wrong
                    .into_iter()
                    .map(|(key, message)| ConfigError::Invalid {
                        origin: origin_of(&key),
                        key,
                        message,
                    })
                    .collect(),
            ));
        }
        Ok(Resolved { config, origins })
    }

    /// The keys a file sets, each with its value and line. A table is
    /// descended into unless its key is a setting of its own.
    fn read_file(&self, path: &Path) -> Result<Vec<(String, Raw, Origin)>, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let line_of = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
        let doc = toml_edit::Document::parse(text.as_str()).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            // The parser's own account quotes the line, which may hold a secret.
            message: match e.span() {
                Some(span) => format!("line {}: {}", line_of(span.start), e.message()),
                None => e.message().to_owned(),
            },
        })?;
        let mut found = Vec::new();
        let mut pending: Vec<(String, toml_edit::Item, usize)> = doc
            .as_table()
            .iter()
            .map(|(key, item)| {
                let at = doc
                    .as_table()
                    .key(key)
                    .and_then(|k| k.span())
                    .map_or(0, |s| s.start);
                (key.to_owned(), item.clone(), line_of(at))
            })
            .collect();
        while let Some((key, item, line)) = pending.pop() {
            let table = match &item {
                toml_edit::Item::Table(t) => Some(t.clone()),
                toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
                    Some(t.clone().into_table())
                }
                _ => None,
            };
            match table {
                Some(table) if self.get(&key).is_none() => {
                    for (inner, value) in table.iter() {
                        let at = table
                            .key(inner)
                            .and_then(|k| k.span())
                            .map(|s| line_of(s.start));
                        pending.push((format!("{key}.{inner}"), value.clone(), at.unwrap_or(line)));
                    }
                }
                _ => {
                    let value = match &item {
                        toml_edit::Item::Value(value) => to_json(value),
                        toml_edit::Item::ArrayOfTables(tables) => {
                            to_json(&toml_edit::Value::Array(tables.clone().into_array()))
                        }
                        toml_edit::Item::Table(t) => to_json(&toml_edit::Value::InlineTable(
                            t.clone().into_inline_table(),
                        )),
                        _ => Json::Null,
                    };
                    let origin = Origin::File {
                        path: path.to_owned(),
                        line,
                    };
                    found.push((key, Raw::Toml(value), origin));
                }
            }
        }
        found.sort_by_key(|(_, _, origin)| match origin {
            Origin::File { line, .. } => *line,
            _ => 0,
        });
        Ok(found)
    }

    /// Puts each found value over the one before it, checking its key and type.
    fn overlay(
        &self,
        found: Vec<(String, Raw, Origin)>,
        values: &mut BTreeMap<String, (Json, Origin)>,
        errors: &mut Vec<ConfigError>,
    ) {
        for (key, raw, origin) in found {
            let Some(setting) = self.get(&key) else {
                errors.push(ConfigError::Unknown {
                    hint: self.hint(&key),
                    origin,
                    key,
                });
                continue;
            };
            match raw.typed_like(&setting.default) {
                Ok(value) => {
                    values.insert(key, (value, origin));
                }
                Err(message) => errors.push(ConfigError::Invalid {
                    origin,
                    key,
                    message,
                }),
            }
        }
    }

    /// The known setting nearest to a mistyped one, else the list of all.
    fn hint(&self, key: &str) -> String {
        let nearest = self
            .settings
            .iter()
            .map(|s| (strsim::levenshtein(key, &s.key), &s.key))
            .min();
        match nearest {
            Some((distance, near)) if distance <= 3 => format!("; did you mean `{near}`?"),
            _ => {
                let all: Vec<&str> = self.settings.iter().map(|s| s.key.as_str()).collect();
                format!("; the settings are {}", all.join(", "))
            }
        }
    }

    /// The defaults file with each value replaced by the resolved one
    /// (secrets masked), marked with where it came from when not a default:
    /// what `hookhost config check` prints, and a valid `--config` file.
    pub fn render(&self, resolved: &Resolved) -> String {
        let mut doc = self.defaults.clone();
        let values = serde_json::to_value(&resolved.config).expect("a config serialises");
        for setting in &self.settings {
            let Some(value) = lookup(&values, &setting.key) else {
                continue;
            };
            let mut path = setting.key.split('.');
            let first = path.next().expect("a key has a name");
            let mut item = &mut doc[first];
            for part in path {
                item = &mut item[part];
            }
            let mut rendered = to_toml(value);
            if let Origin::Default = resolved.origin(&setting.key) {
            } else {
                rendered
                    .decor_mut()
                    .set_suffix(format!("  # from {}", resolved.origin(&setting.key)));
            }
            *item = toml_edit::Item::Value(rendered);
        }
        doc.to_string()
    }
}

/// A value as found: typed already (a file's TOML), or text (a variable or
/// a flag) to be read as the setting's type.
enum Raw {
    Toml(Json),
    Text(String),
}

impl Raw {
    fn typed_like(self, default: &Json) -> Result<Json, String> {
        let kind = |v: &Json| match v {
            Json::Null => "a table",
            Json::Bool(_) => "a boolean",
            Json::Number(n) if n.is_i64() || n.is_u64() => "an integer",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "a list",
            Json::Object(_) => "a table",
        };
        let value = match self {
            Raw::Toml(value) => value,
            Raw::Text(text) => match default {
                Json::String(_) => Json::String(text),
                _ => text
                    .parse::<toml_edit::Value>()
                    .map(|v| to_json(&v))
                    // Never quoted: the text may be a secret given in the
                    // wrong shape, such as a bare key for a list of keys.
                    .map_err(|_| format!("expected {}, written as in TOML", kind(default)))?,
            },
        };
        if kind(&value) == kind(default) {
            Ok(value)
        } else {
            Err(format!(
                "expected {}, like the default {}, got {}",
                kind(default),
                default,
                kind(&value)
            ))
        }
    }
}

/// Every leaf of a defaults table, with the comment above it.
fn collect(table: &toml_edit::Table, prefix: &str, out: &mut Vec<Setting>) {
    for (key, item) in table.iter() {
        let full = format!("{prefix}{key}");
        match item {
            toml_edit::Item::Table(inner) => collect(inner, &format!("{full}."), out),
            toml_edit::Item::Value(value) => {
                let decor = table.key(key).map(|k| k.leaf_decor());
                let doc = decor
                    .and_then(|d| d.prefix())
                    .and_then(|p| p.as_str())
                    .map(doc_comment)
                    .unwrap_or_default();
                out.push(Setting {
                    key: full,
                    doc,
                    default: to_json(value),
                });
            }
            _ => {}
        }
    }
}

/// The last comment paragraph before a key, without its `#`s.
fn doc_comment(prefix: &str) -> String {
    let paragraph = prefix.trim_end().rsplit("\n\n").next().unwrap_or_default();
    paragraph
        .lines()
        .filter_map(|l| l.trim().strip_prefix('#'))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

fn to_json(value: &toml_edit::Value) -> Json {
    match value {
        toml_edit::Value::String(s) => Json::String(s.value().clone()),
        toml_edit::Value::Integer(i) => Json::from(*i.value()),
        toml_edit::Value::Float(f) => Json::from(*f.value()),
        toml_edit::Value::Boolean(b) => Json::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => Json::String(d.value().to_string()),
        toml_edit::Value::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        toml_edit::Value::InlineTable(t) => {
            Json::Object(t.iter().map(|(k, v)| (k.to_owned(), to_json(v))).collect())
        }
    }
}

fn to_toml(value: &Json) -> toml_edit::Value {
    match value {
        Json::Bool(b) => (*b).into(),
        Json::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or_default().into(),
        },
        Json::String(s) => s.as_str().into(),
        Json::Array(items) => toml_edit::Value::Array(items.iter().map(to_toml).collect()),
        Json::Object(map) => toml_edit::Value::InlineTable(
            map.iter().map(|(k, v)| (k.as_str(), to_toml(v))).collect(),
        ),
        Json::Null => "".into(),
    }
}

fn insert(tree: &mut Json, key: &str, value: Json) {
    let mut node = tree;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let map = node.as_object_mut().expect("settings nest in tables");
        if parts.peek().is_none() {
            map.insert(part.to_owned(), value);
            return;
        }
        node = map
            .entry(part.to_owned())
            .or_insert_with(|| Json::Object(Default::default()));
    }
}

fn lookup<'v>(tree: &'v Json, key: &str) -> Option<&'v Json> {
    key.split('.').try_fold(tree, |node, part| node.get(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(
        file: Option<&str>,
        env: &[(&str, &str)],
        flags: &[(&str, &str)],
    ) -> Result<Resolved, ConfigErrors> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookhost.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let flags: Vec<(String, String)> = flags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::builtin().load(&Sources {
            file: file.map(|_| path.as_path()),
            env: Some(&lookup),
            flags: &flags,
        })
    }

    fn message(result: Result<Resolved, ConfigErrors>) -> String {
        result.expect_err("refused").to_string()
    }

    #[test]
    fn the_embedded_defaults_load_and_every_setting_says_what_it_does() {
        let resolved = load(None, &[], &[]).expect("defaults are valid");
        assert_eq!(resolved.config, Config::default());
        for setting in Settings::builtin().iter() {
            assert!(
                !setting.doc.is_empty(),
                "{} has no comment above it",
                setting.key
            );
        }
    }

    #[test]
    fn a_variable_overrides_the_file_and_a_flag_overrides_both() {
        let file = Some("workers = 3\n");
        assert_eq!(load(file, &[], &[]).unwrap().config.workers, 3);
        let env = [("HOOKHOST_WORKERS", "5")];
        assert_eq!(load(file, &env, &[]).unwrap().config.workers, 5);
        let resolved = load(file, &env, &[("workers", "7")]).unwrap();
        assert_eq!(resolved.config.workers, 7);
        assert_eq!(resolved.origin("workers"), &Origin::Flag("workers".into()));
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_line_and_the_nearest_setting() {
        let text = message(load(
            Some("listen = \"127.0.0.1:0\"\n\nwrokers = 3\n"),
            &[],
            &[],
        ));
        assert!(
            text.contains("hookhost.toml line 3: unknown setting `wrokers`"),
            "{text}"
        );
        assert!(text.contains("did you mean `workers`?"), "{text}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_origin_and_what_is_expected() {
        let text = message(load(None, &[("HOOKHOST_WORKERS", "lots")], &[]));
        assert!(
            text.contains("HOOKHOST_WORKERS: workers: expected an integer"),
            "{text}"
        );
        let text = message(load(Some("\nshutdown_grace = \"soon\"\n"), &[], &[]));
        assert!(text.contains("line 2: shutdown_grace"), "{text}");
    }

    #[test]
    fn every_error_is_reported_not_just_the_first() {
        let text = message(load(Some("a = 1\nb = 2\nworkers = \"x\"\n"), &[], &[]));
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn settings_that_do_not_fit_together_are_refused() {
        let text = message(load(None, &[], &[("workers", "0")]));
        assert!(
            text.contains("--workers: workers: 0 leaves every delivery"),
            "{text}"
        );
        let text = message(load(Some("database_url = \"mysql://db\"\n"), &[], &[]));
        assert!(
            text.contains("line 1: database_url: must be a PostgreSQL URL"),
            "{text}"
        );
    }

    #[test]
    fn a_rendered_configuration_masks_secrets_and_a_masked_secret_is_refused_back() {
        let resolved = load(
            Some(&format!(
                "admin_token = \"hh_op_0123456789abcdef\"\ndatabase_url = \"postgres://u:pw@db/x\"\n\
                 workers = 9\nmaster_key = \"{KEY}\"\nprevious_master_keys = [\"{OLD_KEY}\"]\n"
            )),
            &[],
            &[],
        )
        .unwrap();
        let text = Settings::builtin().render(&resolved);
        assert!(
            !text.contains("0123456789ab") && !text.contains(":pw@"),
            "{text}"
        );
        assert!(
            !text.contains(&KEY[..60]) && !text.contains(&OLD_KEY[..60]),
            "{text}"
        );
        assert!(text.contains("admin_token = \"…cdef\""), "{text}");
        assert!(text.contains("workers = 9  # from "), "{text}");
        let refused = message(load(Some(&text), &[], &[]));
        assert!(
            refused.contains("admin_token: holds the masked form"),
            "{refused}"
        );
        assert!(
            refused.contains("database_url: holds the masked form"),
            "{refused}"
        );
        assert!(
            refused.contains("master_key: holds the masked form")
                && refused.contains("previous_master_keys[0]: holds the masked form"),
            "{refused}"
        );

        let plain = load(Some("workers = 9\n"), &[], &[]).unwrap();
        let again = load(Some(&Settings::builtin().render(&plain)), &[], &[]).unwrap();
        assert_eq!(again.config, plain.config);
    }

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const OLD_KEY: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    #[test]
    fn a_master_key_is_64_hex_digits_and_several_hosts_must_be_given_one() {
        let text = message(load(
            Some("master_key = \"0123\"\nprevious_master_keys = [\"xyz\"]\n"),
            &[],
            &[],
        ));
        assert!(
            text.contains("master_key: a master key is 32 bytes"),
            "{text}"
        );
        assert!(
            text.contains("previous_master_keys[0]: a master key"),
            "{text}"
        );
        assert!(!text.contains("xyz"), "a key is never quoted: {text}");
        for (env, flags) in [
            (&[("HOOKHOST_PREVIOUS_MASTER_KEYS", KEY)][..], &[][..]),
            (&[][..], &[("previous_master_keys", KEY)][..]),
        ] {
            let text = message(load(None, env, flags));
            assert!(text.contains("expected a list"), "{text}");
            assert!(
                !text.contains(&KEY[..16]),
                "a bare key is never quoted: {text}"
            );
        }
        let text = message(load(
            Some("database_url = \"postgres://db/hookhost\"\n"),
            &[],
            &[],
        ));
        assert!(
            text.contains("master_key: hosts sharing a PostgreSQL database"),
            "{text}"
        );
        load(
            Some(&format!(
                "database_url = \"postgres://db/hookhost\"\nmaster_key = \"{KEY}\"\n"
            )),
            &[],
            &[],
        )
        .unwrap();
    }

    #[test]
    fn otlp_export_is_off_by_default_and_its_endpoint_must_be_an_http_url() {
        let config = load(None, &[], &[]).unwrap().config;
        assert_eq!(config.otlp.endpoint, None);
        assert_eq!(config.otlp.service_name, "hookhost");
        let text = message(load(
            Some("[otlp]\nendpoint = \"localhost:4318\"\n"),
            &[],
            &[],
        ));
        assert!(
            text.contains("line 2: otlp.endpoint: \"localhost:4318\" is not the http(s) base URL"),
            "{text}"
        );
        let env = [("HOOKHOST_OTLP_ENDPOINT", "http://user:pw-1234@otel:4318")];
        let text = message(load(None, &env, &[]));
        assert!(
            text.contains("HOOKHOST_OTLP_ENDPOINT: otlp.endpoint: holds credentials"),
            "{text}"
        );
        assert!(!text.contains("pw-1234"), "credentials quoted: {text}");
        let flags = [("otlp.endpoint", "https://otel.example.com/otlp")];
        let config = load(None, &[], &flags).unwrap().config;
        assert_eq!(
            config.otlp.endpoint.as_deref(),
            Some("https://otel.example.com/otlp")
        );
    }

    #[test]
    fn otlp_headers_are_masked_when_printed_and_refused_back_masked() {
        let file = "[otlp]\nendpoint = \"http://127.0.0.1:4318\"\n\
                    [otlp.headers]\nauthorization = \"Bearer key-0123456789\"\n";
        let resolved = load(Some(file), &[], &[]).unwrap();
        assert_eq!(
            resolved.config.otlp.headers["authorization"].expose(),
            "Bearer key-0123456789"
        );
        let text = Settings::builtin().render(&resolved);
        assert!(!text.contains("key-012345"), "{text}");
        let refused = message(load(Some(&text), &[], &[]));
        assert!(
            refused.contains("otlp.headers: authorization holds the masked form"),
            "{refused}"
        );
        let env = [("HOOKHOST_OTLP_HEADERS", "{ x-api-key = \"k\\nv\" }")];
        let refused = message(load(None, &env, &[]));
        assert!(
            refused.contains("HOOKHOST_OTLP_HEADERS: otlp.headers: the value of x-api-key"),
            "{refused}"
        );
        let env = [("HOOKHOST_OTLP_HEADERS", "{ \"bad name\" = \"v\" }")];
        let refused = message(load(None, &env, &[]));
        assert!(
            refused.contains("\"bad name\" is not a header name"),
            "{refused}"
        );
    }

    #[test]
    fn a_syntax_error_names_its_line_without_quoting_it() {
        let text = message(load(
            Some("workers = 1\nadmin_token = \"hh_op_secret\n"),
            &[],
            &[],
        ));
        assert!(text.contains("line 2"), "{text}");
        assert!(!text.contains("hh_op_secret"), "secret quoted: {text}");
    }

    #[test]
    fn an_empty_variable_leaves_the_file_as_it_is() {
        let file = Some("workers = 3\n");
        let env = [("HOOKHOST_WORKERS", ""), ("HOOKHOST_DATABASE_URL", "")];
        assert_eq!(load(file, &env, &[]).unwrap().config.workers, 3);
    }

    #[test]
    fn a_table_where_a_value_belongs_is_refused_and_unknown_tables_name_their_keys() {
        let text = message(load(Some("[workers]\n"), &[], &[]));
        assert!(
            text.contains("line 1: workers: expected an integer"),
            "{text}"
        );
        let text = message(load(Some("[server]\nlisten = \"127.0.0.1:0\"\n"), &[], &[]));
        assert!(
            text.contains("line 2: unknown setting `server.listen`"),
            "{text}"
        );
        let text = message(load(Some("server = { workers = 2 }\n"), &[], &[]));
        assert!(text.contains("unknown setting `server.workers`"), "{text}");
    }

    #[test]
    fn a_default_changed_in_the_defaults_file_is_the_default_everywhere() {
        let settings = Settings::parse(&DEFAULTS.replace("workers = 64", "workers = 7")).unwrap();
        let resolved = settings.load(&Sources::default()).unwrap();
        assert_eq!(resolved.config.workers, 7);
        assert!(settings.render(&resolved).contains("\nworkers = 7\n"));
        let workers = settings.iter().find(|s| s.key == "workers").unwrap();
        assert_eq!(workers.default_text().as_deref(), Some("7"));
    }
}
