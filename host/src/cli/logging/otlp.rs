//! Export of traces over OTLP/HTTP (protobuf) when `[otlp] endpoint` is set.
//!
//! Finished spans wait in a bounded queue and are sent in batches from a
//! task on the tokio runtime, so a delivery never waits on the collector: a
//! collector that is down, slow or failing costs dropped spans and an error
//! line per failed batch, nothing more. `serve` ends with [`Export::shutdown`],
//! which sends what the last seconds left in the queue.
//!
//! Everything the SDK would otherwise take from `OTEL_*` variables (the
//! endpoint, timeouts, batching, sampler, resource) is set here from the
//! configuration; it still adds `OTEL_EXPORTER_OTLP_HEADERS` to the headers.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{
    ExporterBuildError, Protocol, SpanExporter, WithExportConfig, WithHttpConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{BatchConfigBuilder, Sampler, SdkTracerProvider, SpanLimits};

use crate::cli::CliError;
use crate::config::OtlpSettings;

/// Longest one export may take; so also how long shutdown waits, per batch
/// left, for a collector that does not answer.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the queued spans are sent.
const EXPORT_EVERY: Duration = Duration::from_secs(5);

/// Spans queued at most; past it new spans are dropped, so a collector that
/// is away holds a bounded amount of memory.
const MAX_QUEUED: usize = 8192;

/// Spans in one export.
const MAX_BATCH: usize = 512;

/// Why the export could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExportError {
    /// The exporter refused the endpoint.
    #[error("otlp.endpoint: {0}")]
    Endpoint(#[from] ExporterBuildError),
    /// The HTTP client could not be built.
    #[error("otlp: could not build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// A refused export is a refused configuration: the server does not start.
impl From<ExportError> for CliError {
    fn from(e: ExportError) -> Self {
        CliError::Usage(e.to_string())
    }
}

/// A running export of every later span.
#[derive(Debug)]
pub(crate) struct Export {
    provider: SdkTracerProvider,
}

impl Export {
    /// Starts exporting to the configured collector, or does nothing when no
    /// endpoint is set. Runs on the tokio runtime, which the batches are
    /// sent from.
    pub(crate) fn start(settings: &OtlpSettings) -> Result<Option<Self>, ExportError> {
        let Some(endpoint) = &settings.endpoint else {
            return Ok(None);
        };
        // The same client stack as plugins' calls (reqwest, rustls); the
        // collector is reached directly, never through a proxy variable.
        let client = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .no_proxy()
            .build()?;
        let headers = settings
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.expose().to_owned()))
            .collect();
        let exporter = SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(traces_url(endpoint))
            .with_timeout(EXPORT_TIMEOUT)
            .with_headers(headers)
            .build()?;
        let batches = BatchConfigBuilder::default()
            .with_max_queue_size(MAX_QUEUED)
            .with_max_export_batch_size(MAX_BATCH)
            .with_scheduled_delay(EXPORT_EVERY)
            .with_max_export_timeout(EXPORT_TIMEOUT)
            .with_max_concurrent_exports(1)
            .build();
        let resource = Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(
                BatchSpanProcessor::builder(exporter, Tokio)
                    .with_batch_config(batches)
                    .build(),
            )
            // Every delivery is traced; its trace is already decided, by its
            // sender or by its id, and its calls always send it sampled.
            .with_sampler(Sampler::AlwaysOn)
            .with_span_limits(SpanLimits::default())
            .with_resource(resource)
            .build();
        super::export_to(provider.tracer("hookhost"));
        tracing::info!(endpoint = %endpoint, "exporting traces over OTLP/HTTP");
        Ok(Some(Self { provider }))
    }

    /// Sends the spans still queued and stops exporting; waits at most
    /// [`EXPORT_TIMEOUT`] for each export it makes.
    pub(crate) async fn shutdown(self) {
        let provider = self.provider;
        // The SDK blocks its caller until the batch task, which runs on this
        // runtime's workers, has sent the rest: so not on a worker.
        let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        match stopped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the last spans may not have been exported"),
            Err(e) => tracing::warn!(error = %e, "stopping the export of traces failed"),
        }
    }
}

/// Where spans go: `/v1/traces` under the collector's base URL, as the OTLP
/// specification builds it from `OTEL_EXPORTER_OTLP_ENDPOINT`.
fn traces_url(endpoint: &str) -> String {
    format!("{}/v1/traces", endpoint.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_go_to_v1_traces_under_the_base_url() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example.com/otlp/"),
            "https://otel.example.com/otlp/v1/traces"
        );
    }
}
