//! `hookhost demo`: a newcomer's first run. Starts the server on SQLite, a
//! local sink standing in for Slack, and sets up through the admin API a
//! tenant `demo` with the `stripe-to-slack` example bound to a Stripe
//! endpoint; then prints the commands to send a signed event and to look at
//! the delivery.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::body::Bytes;
use serde_json::json;

use super::CliError;
use super::config::{SettingFlags, resolve};
use crate::config::{Config, Secret};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::{Keyring, SqliteStore};

/// The demo endpoint's Stripe signing secret.
const DEMO_SECRET: &str = "whsec_hookhost_demo_secret";
/// The demo's operator token, unless HOOKHOST_ADMIN_TOKEN says otherwise.
const DEMO_TOKEN: &str = "hh_op_demo";

/// Run a local demo: server, Slack stand-in, and a configured Stripe endpoint.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Where the server listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the Slack stand-in listens.
    #[arg(long, default_value = "127.0.0.1:9000")]
    sink: SocketAddr,
    /// The demo's data directory.
    #[arg(long, default_value = "./hookhost-data/demo")]
    data_dir: PathBuf,
    /// The built stripe-to-slack component.
    #[arg(
        long,
        default_value = "plugins/target/wasm32-wasip2/release/stripe_to_slack.wasm"
    )]
    plugin: PathBuf,
    /// The operator token [default: HOOKHOST_ADMIN_TOKEN, else hh_op_demo].
    #[arg(long)]
    admin_token: Option<String>,
}

impl DemoArgs {
    pub(crate) async fn run(self) -> Result<ExitCode, CliError> {
        let wasm = std::fs::read(&self.plugin).map_err(|e| {
            CliError::Usage(format!(
                "could not read {}: {e}; build the examples first with `hookhost plugin build plugins`",
                self.plugin.display()
            ))
        })?;
        let sink = tokio::net::TcpListener::bind(self.sink)
            .await
            .map_err(CliError::io(format!(
                "could not listen on {} for the sink",
                self.sink
            )))?;
        tokio::spawn(async move {
            let app = axum::Router::new().fallback(|body: Bytes| async move {
                println!(
                    "\n[slack stand-in] received: {}",
                    String::from_utf8_lossy(&body)
                );
                "ok"
            });
            let _ = axum::serve(sink, app).await;
        });

        let keys = Keyring::from_data_dir(&self.data_dir).map_err(CliError::io(format!(
            "could not read or create the master key in {}",
            self.data_dir.display()
        )))?;
        let store = SqliteStore::open_exclusive(&self.data_dir, Arc::new(keys)).await?;
        let runtime = Runtime::new(&RuntimeConfig {
            cache_dir: Some(self.data_dir.join("compiled")),
            ..RuntimeConfig::default()
        })?;
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(CliError::io(format!("could not listen on {}", self.listen)))?;
        let environment = resolve(None, &SettingFlags::default())?.config;
        let token = self
            .admin_token
            .or_else(|| environment.admin_token.map(|t| t.expose().to_owned()))
            .unwrap_or_else(|| DEMO_TOKEN.to_owned());
        let config = Config {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            admin_token: Some(Secret::from(token.clone())),
            ..Config::default()
        };
        let server = tokio::spawn(crate::server::serve(
            Arc::new(store),
            Arc::new(runtime),
            Arc::new(config),
            listener,
            super::serve::shutdown_signal(),
        ));

        let base = format!("http://{}", self.listen);
        setup(&base, &token, &wasm, self.sink).await?;
        let bin = "cargo run -q -p hookhost --";
        println!(
            "
hookhost demo is running on {base} (data in {data}); Ctrl-C stops it.
Tenant `demo` has the stripe-to-slack plugin bound to a Stripe endpoint, and a
Slack stand-in on http://{sink} prints what the plugin posts.

In another terminal, send a signed Stripe event:

  {bin} send --provider stripe --secret {DEMO_SECRET} \\
      --event plugins/stripe-to-slack/fixtures/payment_intent.succeeded.json \\
      {base}/hooks/demo/stripe

then look at the delivery, its attempt and the plugin's logs:

  export HOOKHOST_URL={base} HOOKHOST_TOKEN={token}
  {bin} delivery list --tenant demo
  {bin} delivery show --tenant demo <delivery id>

or open {base}/ui in a browser and sign in with the operator token
{token}
",
            data = self.data_dir.display(),
            sink = self.sink,
        );
        server
            .await
            .map_err(|e| CliError::Usage(format!("the server task failed: {e}")))??;
        Ok(ExitCode::SUCCESS)
    }
}

/// Creates the demo tenant, uploads the plugin and binds the endpoint,
/// through the admin API like any operator would.
async fn setup(base: &str, token: &str, wasm: &[u8], sink: SocketAddr) -> Result<(), CliError> {
    let client = reqwest::Client::new();
    let call = |request: reqwest::RequestBuilder| async move {
        let response = request
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| CliError::Http(format!("demo setup: {e}")))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Ok::<_, CliError>((status.as_u16(), text))
    };
    let (status, text) = call(
        client
            .post(format!("{base}/v1/tenants"))
            .json(&json!({ "id": "demo" })),
    )
    .await?;
    if status != 201 && status != 409 {
        return Err(CliError::Http(format!("creating the demo tenant: {text}")));
    }
    let (status, text) = call(
        client
            .post(format!(
                "{base}/v1/tenants/demo/plugins/stripe-to-slack/versions"
            ))
            .header("content-type", "application/wasm")
            .body(wasm.to_vec()),
    )
    .await?;
    if status != 201 {
        return Err(CliError::Http(format!("uploading the plugin: {text}")));
    }
    let endpoint = json!({
        "provider": "stripe",
        "secrets": [DEMO_SECRET],
        "plugin": "stripe-to-slack",
        "config": { "slack_url": format!("http://{sink}/slack") },
        "allowed_hosts": [sink.to_string()],
        "allow_private_network": true,
    });
    let (status, text) = call(
        client
            .put(format!("{base}/v1/tenants/demo/endpoints/stripe"))
            .json(&endpoint),
    )
    .await?;
    if status != 200 && status != 201 {
        return Err(CliError::Http(format!("binding the endpoint: {text}")));
    }
    Ok(())
}
