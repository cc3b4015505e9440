//! `hookhost send`: sign a sample event as its provider would and post it to
//! an inbound URL, to try an endpoint end to end.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::Args;
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;

use super::CliError;
use super::client::{http_client, pretty, unreachable};
use crate::domain::{HmacScheme, Provider};
use crate::ingress::verify::sign;

/// Sign and post one event.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Whose signature scheme to sign with: standard-webhooks, stripe, github,
    /// shopify, slack, hmac or none.
    #[arg(long)]
    provider: Provider,
    /// The signing secret, as the endpoint has it; not needed for provider none.
    #[arg(long)]
    secret: Option<String>,
    /// The event body, as the provider would send it.
    #[arg(long, value_name = "FILE")]
    event: PathBuf,
    /// The event type, for providers that send it in a header (GitHub, Shopify).
    #[arg(long)]
    event_type: Option<String>,
    /// The event id, for providers that send it in a header; a fresh evt_… by default.
    #[arg(long)]
    event_id: Option<String>,
    /// The header layout of the generic hmac provider, as JSON (the endpoint's `hmac`).
    #[arg(long, value_name = "SCHEME.json")]
    hmac_file: Option<PathBuf>,
    /// Print only the answer body, pretty-printed when it is JSON.
    #[arg(long)]
    json: bool,
    /// Where to post it: the endpoint's inbound URL.
    url: Url,
}

impl SendArgs {
    pub(crate) async fn run(self) -> Result<ExitCode, CliError> {
        let body = std::fs::read(&self.event)
            .map_err(CliError::io(format!("reading {}", self.event.display())))?;
        let hmac = match &self.hmac_file {
            Some(path) => Some(read_scheme(path)?),
            None => None,
        };
        let secret = match (&self.secret, self.provider) {
            (Some(secret), _) => secret.as_str(),
            (None, Provider::None) => "",
            (None, provider) => {
                return Err(CliError::Usage(format!(
                    "provider {provider} signs its deliveries: pass --secret with the endpoint's signing secret"
                )));
            }
        };
        let event_id = self
            .event_id
            .clone()
            .unwrap_or_else(|| format!("evt_{}", uuid::Uuid::new_v4().simple()));
        let headers = sign(
            self.provider,
            secret,
            hmac.as_ref(),
            &body,
            &event_id,
            self.event_type.as_deref(),
            SystemTime::now(),
        )
        .map_err(|e| CliError::Usage(e.to_string()))?;

        let mut request = http_client()?
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(self.url.as_str(), &e))?;
        let status = response.status();
        let answer = response
            .bytes()
            .await
            .map_err(|e| unreachable(self.url.as_str(), &e))?;
        let answer = match serde_json::from_slice(&answer) {
            Ok(json) => pretty(&json),
            Err(_) => String::from_utf8_lossy(&answer).trim_end().to_owned(),
        };
        if !self.json {
            println!("{status}");
        }
        if !answer.is_empty() {
            println!("{answer}");
        }
        Ok(if status.is_success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

fn read_scheme(path: &std::path::Path) -> Result<HmacScheme, CliError> {
    let text = std::fs::read(path).map_err(CliError::io(format!("reading {}", path.display())))?;
    serde_json::from_slice(&text).map_err(|e| {
        CliError::Usage(format!(
            "{} is not an hmac scheme ({{\"header\", \"algorithm\", \"encoding\", …}}): {e}",
            path.display()
        ))
    })
}
