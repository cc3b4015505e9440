//! The process's log: standard error, filtered by `RUST_LOG`
//! (`hookhost=info,warn` unless set). It starts as text, since most commands
//! never read the server's configuration; `serve` switches it to the
//! configured `log_format` once it has.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::LogFormat;

type Format = Box<dyn Layer<Registry> + Send + Sync>;

static FORMAT: OnceLock<reload::Handle<Format, Registry>> = OnceLock::new();

/// Installs the logger, writing text.
pub fn init_logging() {
    let (format, handle) = reload::Layer::new(layer(LogFormat::Text));
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("hookhost=info,warn"));
    if tracing_subscriber::registry()
        .with(format)
        .with(filter)
        .try_init()
        .is_ok()
    {
        let _ = FORMAT.set(handle);
    }
}

/// Writes every later line in `format`.
pub(crate) fn set_format(format: LogFormat) {
    if let Some(handle) = FORMAT.get() {
        let _ = handle.reload(layer(format));
    }
}

fn layer(format: LogFormat) -> Format {
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Text => layer.boxed(),
        LogFormat::Json => layer.json().flatten_event(true).boxed(),
    }
}
