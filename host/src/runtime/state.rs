//! The data of one `Store`: everything an invocation owns, dropped with it.

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::capabilities::config::ConfigState;
use super::capabilities::http_out::HttpState;
use super::capabilities::kv::KvState;
use super::capabilities::log::SharedLog;
use super::capabilities::secret::SecretState;
use super::redact::Redactor;

/// Per-invocation store data. Nothing in it outlives the invocation.
pub(crate) struct State {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) log: SharedLog,
    pub(crate) http: HttpState,
    pub(crate) kv: KvState,
    pub(crate) config: ConfigState,
    pub(crate) secret: SecretState,
    /// Keeps the secrets' values out of what the attempt records.
    pub(crate) redactor: Arc<Redactor>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory and remembers whether the guest hit the cap, so that
/// the trap that follows (Rust aborts on allocation failure) is reported as
/// out-of-memory rather than as an unexplained trap.
pub(crate) struct MemoryLimiter {
    pub(crate) max_bytes: usize,
    pub(crate) hit: bool,
}

/// Table elements a guest may grow to; far above what real handlers use.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
