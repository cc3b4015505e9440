//! The process's log and traces. The log is standard error, filtered by
//! `RUST_LOG` (`hookhost=info,warn` unless set). It starts as text, since
//! most commands never read the server's configuration; `serve` switches it
//! to the configured `log_format` once it has, and starts exporting traces
//! when `[otlp]` names a collector ([`Export`]).
//!
//! Both are layers installed at start, each behind a reload handle, since
//! the subscriber is set once for the process. The traces' layer is empty
//! until an export starts, and has its own filter: hookhost's spans at info
//! and above, whatever `RUST_LOG` picks for the log.

mod otlp;

use std::sync::OnceLock;

use opentelemetry_sdk::trace::SdkTracer;
use tracing::Level;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::filter::{Filtered, Targets};
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

pub(crate) use otlp::Export;

use crate::config::LogFormat;

type Format = Box<dyn Layer<Registry> + Send + Sync>;

/// The log: its format's layer, filtered by `RUST_LOG` alone.
type Log = Filtered<reload::Layer<Format, Registry>, EnvFilter, Registry>;

/// What the traces' layer sits on.
type Logged = Layered<Log, Registry>;

/// Spans to OpenTelemetry, once an export has started.
type Traces = Option<OpenTelemetryLayer<Logged, SdkTracer>>;

static FORMAT: OnceLock<reload::Handle<Format, Registry>> = OnceLock::new();

static TRACES: OnceLock<reload::Handle<Traces, Logged>> = OnceLock::new();

/// Installs the logger, writing text, and the traces' layer, empty.
pub fn init_logging() {
    let (format, format_handle) = reload::Layer::new(layer(LogFormat::Text));
    let (traces, traces_handle) = reload::Layer::new(None);
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("hookhost=info,warn"));
    let exported = Targets::new().with_target("hookhost", Level::INFO);
    if tracing_subscriber::registry()
        .with(format.with_filter(filter))
        .with(traces.with_filter(exported))
        .try_init()
        .is_ok()
    {
        let _ = FORMAT.set(format_handle);
        let _ = TRACES.set(traces_handle);
    }
}

/// Writes every later line in `format`.
pub(crate) fn set_format(format: LogFormat) {
    if let Some(handle) = FORMAT.get() {
        let _ = handle.reload(layer(format));
    }
}

/// Turns every later span into an OpenTelemetry span of `tracer`. Entering
/// a span makes its context OpenTelemetry's current one, which is how a
/// span created in a context attached beforehand gets it as its parent, and
/// how the spans' ids are read where they are sent on (`TraceId::otel_parent`,
/// `http_out`): through a reload handle, `OpenTelemetrySpanExt` cannot reach
/// the layer. Events logged in an exported span become its span events, as
/// `tracing_opentelemetry` does by default.
fn export_to(tracer: SdkTracer) {
    if let Some(handle) = TRACES.get() {
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false);
        let _ = handle.reload(Some(layer));
    }
}

fn layer(format: LogFormat) -> Format {
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Text => layer.boxed(),
        LogFormat::Json => layer.json().flatten_event(true).boxed(),
    }
}
