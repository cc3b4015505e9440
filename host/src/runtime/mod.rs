//! The sandbox: one wasmtime [`Engine`] per process, plugins compiled once and
//! cached on disk, and a fresh [`Store`] per invocation under a deadline, a
//! memory limit and budgets for HTTP, KV and logs.
//!
//! **Architecture invariant:** nothing here knows about HTTP ingress, the
//! queue or SQL. The runtime reads KV through [`KvReader`] and hands writes
//! back in the [`Invocation`]; whoever called it decides whether to commit.

mod bindings;
mod cache;
pub mod capabilities;
mod compat;
mod cpu;
mod limits;
mod outcome;
mod redact;
mod state;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::domain::PluginSecrets;
use tokio::sync::Semaphore;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};
use wasmtime_wasi::WasiCtx;

use bindings::types::{HandlerError, RetryLater};
use bindings::{AnyHandlerPre, Handler, v0_1};
use cache::{CompileCache, FunctionCache};
use capabilities::config::ConfigState;
use capabilities::http_out::{HttpClients, HttpState};
use capabilities::kv::{KvBudget, KvState, UsageCache};
use capabilities::log::LogBuffer;
use capabilities::secret::SecretState;
use capabilities::stdio::CapturedStream;
pub use cpu::GuestCpu;
use cpu::{CpuGate, Turn};
use redact::Redactor;
use state::{MemoryLimiter, State};

pub use bindings::World;
pub use capabilities::kv::{
    KvNamespace, KvReadError, KvReader, KvWrite, MAX_LIST_KEYS, WRITE_OVERHEAD_BYTES,
};
pub use capabilities::log::{Level, LogLine};
pub use limits::{Grants, Limits};
pub use outcome::{
    Invocation, MAX_CALL_ERROR_BYTES, MAX_MESSAGE_BYTES, MAX_METHOD_BYTES, MAX_URL_BYTES,
    OutboundCall, Outcome,
};

/// How often the epoch advances: the granularity of deadlines and of the
/// cooperative yields that keep a spinning guest from starving others.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Slack past the deadline for the host-side timeout, which only matters when
/// the guest is blocked in a host call rather than running.
const DEADLINE_GRACE: Duration = Duration::from_millis(50);

/// Core instances, memories and tables one component may hold. A Rust or
/// JavaScript component instantiates three or four core modules; a Python
/// one fourteen (CPython, libc and their shims, linked dynamically).
pub const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
/// See [`CORE_INSTANCES_PER_COMPONENT`].
pub const MEMORIES_PER_COMPONENT: u32 = 2;
/// Host memory one core instance may take for its own records.
const CORE_INSTANCE_BYTES: usize = 512 * 1024;
/// See [`CORE_INSTANCES_PER_COMPONENT`].
pub const TABLES_PER_COMPONENT: u32 = 8;

/// Longest a load waits for its compilation.
const COMPILE_TIMEOUT: Duration = Duration::from_secs(60);

/// One webhook as handed to a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The delivery id, stable across attempts.
    pub id: String,
    /// The tenant.
    pub tenant: String,
    /// The endpoint.
    pub endpoint: String,
    /// The provider's name.
    pub provider: String,
    /// The provider's event type, when it has one.
    pub event_type: Option<String>,
    /// When it was accepted, in ms since the epoch.
    pub received_at_ms: u64,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

/// Process-wide runtime settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components are kept; `None` compiles in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Invocations that may run at once; also the size of the instance pool.
    pub max_concurrent: u32,
    /// The largest per-endpoint memory limit that may be configured.
    pub max_memory_mb: u32,
    /// Guests running WebAssembly at once, shared fairly between tenants
    /// (see `cpu`); 0 for all cores but one, left to the host's own work.
    pub guest_cpus: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_concurrent: 64,
            max_memory_mb: crate::domain::hard::MEMORY_MB,
            guest_cpus: 0,
        }
    }
}

/// Errors of loading a plugin or of the runtime itself; a guest's failure is
/// an [`Outcome`], not an error.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The bytes are not a valid handler component; the message says why.
    #[error("invalid plugin: {0}")]
    InvalidPlugin(String),
    /// The engine could not be configured.
    #[error("runtime setup failed: {0}")]
    Setup(String),
    /// The compile cache could not be written.
    #[error("compile cache: {0}")]
    Cache(#[from] std::io::Error),
}

/// A plugin version ready to instantiate.
pub struct Plugin {
    digest: String,
    imports: Vec<String>,
    pre: AnyHandlerPre,
}

impl Plugin {
    /// `sha256:<hex>` of the component bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The interfaces the component imports.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// The version of the handler world the component was built against.
    pub fn world(&self) -> World {
        self.pre.world()
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("digest", &self.digest)
            .field("world", &self.world())
            .finish()
    }
}

/// The sandbox. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<State>,
    cache: Option<CompileCache>,
    functions: Arc<FunctionCache>,
    /// Plugins loaded and still in use somewhere, by digest: concurrent loads
    /// of one component share it, and one nobody holds is freed (the disk
    /// cache makes loading it again cheap).
    loaded: Mutex<HashMap<String, Weak<Plugin>>>,
    /// Compilations at once: one, so uploads never take both cores from
    /// the webhooks being served.
    compiling: Arc<Semaphore>,
    permits: Semaphore,
    cpu: Arc<CpuGate>,
    clients: HttpClients,
    max_memory_bytes: usize,
    compilations: AtomicU64,
    kv_usage: Arc<UsageCache>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Runtime {
    /// Builds the engine, the linker and the epoch ticker.
    pub fn new(config: &RuntimeConfig) -> Result<Self, RuntimeError> {
        let setup = |e: wasmtime::Error| RuntimeError::Setup(format!("{e:#}"));
        let max_memory_bytes = config.max_memory_mb as usize * 1024 * 1024;
        let mut engine_config = engine_config(config.max_concurrent, max_memory_bytes);
        // The function cache's directory is named by this configuration's
        // compatibility hash, read off an engine without the instance pool
        // (which reserves the pool's address space).
        let unpooled = Engine::new(
            engine_config
                .clone()
                .allocation_strategy(InstanceAllocationStrategy::OnDemand),
        )
        .map_err(setup)?;
        let engine_key = cache::engine_key(&unpooled);
        let functions = Arc::new(FunctionCache::new(
            config.cache_dir.as_deref(),
            &engine_key,
            cache::FUNCTION_CACHE_BYTES,
        )?);
        engine_config
            .enable_incremental_compilation(functions.clone())
            .map_err(setup)?;
        let engine = Engine::new(&engine_config).map_err(setup)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(setup)?;
        Handler::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).map_err(setup)?;
        v0_1::Handler::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).map_err(setup)?;
        let cache = match &config.cache_dir {
            Some(dir) => Some(CompileCache::new(dir, &engine_key)?),
            None => None,
        };
        let clients = HttpClients::new().map_err(|e| RuntimeError::Setup(e.to_string()))?;
        let cpu = CpuGate::new(
            match config.guest_cpus {
                0 => all_cores_but_one(),
                n => n,
            },
            engine.clone(),
        );
        let inner = Arc::new(Inner {
            engine,
            linker,
            cache,
            functions,
            loaded: Mutex::new(HashMap::new()),
            compiling: Arc::new(Semaphore::new(1)),
            permits: Semaphore::new(config.max_concurrent as usize),
            cpu,
            clients,
            max_memory_bytes,
            compilations: AtomicU64::new(0),
            kv_usage: Arc::default(),
        });
        spawn_epoch_ticker(Arc::downgrade(&inner));
        Ok(Self { inner })
    }

    /// The largest memory limit an invocation may be given, in MiB.
    pub fn max_memory_mb(&self) -> u32 {
        (self.inner.max_memory_bytes / (1024 * 1024)) as u32
    }

    /// Guests waiting for CPU, and preemptions so far.
    pub fn guest_cpu(&self) -> GuestCpu {
        self.inner.cpu.stats()
    }

    /// How many components this runtime compiled (rather than loaded from
    /// the cache); for tests of the cache.
    pub fn compilations(&self) -> u64 {
        self.inner.compilations.load(Ordering::Relaxed)
    }

    /// How many functions compilations found already compiled in the
    /// function cache; for tests of the cache.
    pub fn function_cache_hits(&self) -> u64 {
        self.inner.functions.hits()
    }

    /// Validates and prepares a component, compiling it only when neither
    /// memory nor the disk cache has it. Compilation runs off the async
    /// executor: it is CPU-bound and, for hostile input, slow.
    pub async fn load(&self, wasm: &[u8]) -> Result<Arc<Plugin>, RuntimeError> {
        let digest_hex = hex::encode(Sha256::digest(wasm));
        if let Some(plugin) = self.loaded(&digest_hex) {
            return Ok(plugin);
        }
        validate::check_preamble(wasm).map_err(RuntimeError::InvalidPlugin)?;
        let permit = self
            .inner
            .compiling
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        // Another load of the same component may have finished meanwhile.
        if let Some(plugin) = self.loaded(&digest_hex) {
            return Ok(plugin);
        }
        let inner = self.inner.clone();
        let wasm = wasm.to_vec();
        let key = digest_hex.clone();
        // The permit goes with the compiler thread, which cannot be stopped:
        // a load that gives up waiting leaves it to finish within the bound.
        let compile = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            inner.prepare(&key, &wasm)
        });
        let plugin = tokio::time::timeout(COMPILE_TIMEOUT, compile)
            .await
            .map_err(|_| {
                RuntimeError::InvalidPlugin(format!(
                    "compiling the component took longer than {} s; make it smaller",
                    COMPILE_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| RuntimeError::Setup(format!("compiler task failed: {e}")))??;
        let plugin = Arc::new(plugin);
        let mut loaded = self.inner.loaded.lock().expect("plugins lock");
        loaded.retain(|_, weak| weak.strong_count() > 0);
        loaded.insert(digest_hex, Arc::downgrade(&plugin));
        Ok(plugin)
    }

    /// Forgets a component that was deleted: its compiled artifact leaves
    /// the disk cache, and it is freed once the invocations running it end.
    /// Another version with the same component only compiles it again.
    pub fn evict(&self, digest: &str) {
        let digest_hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.inner
            .loaded
            .lock()
            .expect("plugins lock")
            .remove(digest_hex);
        if let Some(cache) = &self.inner.cache {
            cache.remove(digest_hex);
        }
    }

    /// Deletes compiled artifacts of components no version has any more, on
    /// any host, and those of other engine configurations; returns how many.
    pub fn sweep_cache(&self, live_digests: &[String]) -> usize {
        let live: std::collections::HashSet<&str> = live_digests
            .iter()
            .map(|d| d.strip_prefix("sha256:").unwrap_or(d))
            .collect();
        self.inner
            .cache
            .as_ref()
            .map_or(0, |cache| cache.sweep(&live))
    }

    fn loaded(&self, digest_hex: &str) -> Option<Arc<Plugin>> {
        self.inner
            .loaded
            .lock()
            .expect("plugins lock")
            .get(digest_hex)
            .and_then(Weak::upgrade)
    }

    /// Runs `handle(event)` once in a fresh store. Never fails: every way a
    /// guest can end is an [`Outcome`].
    pub async fn invoke(
        &self,
        plugin: &Plugin,
        event: Event,
        grants: &Grants,
        limits: &Limits,
        kv: Arc<dyn KvReader>,
    ) -> Invocation {
        let _permit = self.inner.permits.acquire().await.expect("never closed");
        let started = Instant::now();
        let deadline = started + limits.timeout();
        let secrets = Arc::new(grants.secrets.clone());
        let redactor = Arc::new(Redactor::new(secrets.clone()));
        let log = LogBuffer::shared(limits.max_log_bytes, redactor.clone());
        let state = State {
            wasi: sandbox_wasi(&log),
            table: resource_table(),
            limiter: MemoryLimiter {
                max_bytes: limits.memory_bytes().min(self.inner.max_memory_bytes),
                hit: false,
            },
            log: log.clone(),
            http: HttpState {
                clients: self.inner.clients.clone(),
                allowed_hosts: Arc::new(grants.allowed_hosts.clone()),
                allow_private_network: grants.allow_private_network,
                event_id: event.id.clone(),
                trace: grants.trace,
                max_calls: limits.max_http_calls,
                call_timeout: Duration::from_millis(limits.http_timeout_ms),
                response_max_bytes: limits.http_response_max_bytes,
                deadline,
                calls: Vec::new(),
            },
            kv: KvState::new(
                kv,
                self.inner.kv_usage.clone(),
                grants.kv.clone(),
                KvBudget {
                    write_bytes: limits.max_kv_write_bytes,
                    writes: limits.max_kv_writes,
                    reads: limits.max_kv_reads,
                    quota_bytes: grants.kv_quota_bytes,
                },
            ),
            config: ConfigState::new(Arc::new(grants.config.clone())),
            secret: SecretState::new(secrets),
            redactor: redactor.clone(),
        };
        let turn = Turn::new(self.inner.cpu.clone(), &event.tenant);
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_max_component_handles(MAX_HANDLES);
        let hook_turn = turn.clone();
        store.call_hook(move |mut store, hook| {
            if hook_turn.on_call(hook) {
                store.set_epoch_deadline(0);
            }
            Ok(())
        });
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline {
                UpdateDeadline::Interrupt
            } else {
                turn.on_epoch()
            })
        });

        let run = plugin.pre.handle(&mut store, event);
        let result = tokio::time::timeout(limits.timeout() + DEADLINE_GRACE, run).await;
        let duration = started.elapsed();

        let state = store.into_data();
        let message = |m: String| redactor.clip(m, MAX_MESSAGE_BYTES);
        let mut retry_after_ms = None;
        let outcome = match result {
            Err(_elapsed) => Outcome::Timeout,
            Ok(Ok(Ok(()))) => Outcome::Ok,
            Ok(Ok(Err(HandlerError::Retry(m)))) => Outcome::Retry(message(m)),
            Ok(Ok(Err(HandlerError::Reject(m)))) => Outcome::Reject(message(m)),
            Ok(Ok(Err(HandlerError::RetryAfter(RetryLater {
                message: m,
                after_ms,
            })))) => {
                retry_after_ms = Some(after_ms);
                Outcome::Retry(message(m))
            }
            Ok(Err(e)) if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => Outcome::Timeout,
            Ok(Err(_)) if state.limiter.hit => Outcome::OutOfMemory,
            Ok(Err(e)) => {
                let trap = match e.downcast_ref::<Trap>() {
                    Some(trap) => trap.to_string(),
                    None => format!("{e:#}"),
                };
                let text = match log.lock().expect("log lock").failure_message() {
                    Some(said) => format!("{said} ({trap})"),
                    None => trap,
                };
                Outcome::Trap(message(text))
            }
        };
        let (logs, logs_truncated) = log.lock().expect("log lock").finish();
        Invocation {
            outcome,
            retry_after_ms,
            duration,
            logs,
            logs_truncated,
            kv_writes: state.kv.into_writes(),
            http_calls: state.http.calls,
        }
    }
}

impl Inner {
    /// Compiles (or loads) and checks a component; what its compilation
    /// added to the function cache is kept only if it passed.
    fn prepare(&self, digest_hex: &str, wasm: &[u8]) -> Result<Plugin, RuntimeError> {
        let prepared = self.prepare_checked(digest_hex, wasm);
        match &prepared {
            Ok(_) => self.functions.keep(),
            Err(_) => self.functions.discard(),
        }
        prepared
    }

    fn prepare_checked(&self, digest_hex: &str, wasm: &[u8]) -> Result<Plugin, RuntimeError> {
        let invalid = |e: wasmtime::Error| RuntimeError::InvalidPlugin(format!("{e:#}"));
        let cached = self
            .cache
            .as_ref()
            .and_then(|c| c.load(&self.engine, digest_hex));
        let fresh = cached.is_none();
        let component = match cached {
            Some(component) => component,
            None => {
                self.compilations.fetch_add(1, Ordering::Relaxed);
                // Compiling also checks the component against the instance
                // pool's per-component limits.
                Component::new(&self.engine, wasm).map_err(invalid)?
            }
        };
        let checked =
            validate::check_world(&self.engine, &component).map_err(RuntimeError::InvalidPlugin)?;
        let pre = self.linker.instantiate_pre(&component).map_err(invalid)?;
        let pre = validate::handler(pre, checked.world).map_err(RuntimeError::InvalidPlugin)?;
        // Only a component that passed every check reaches the disk.
        if fresh && let Some(cache) = &self.cache {
            let artifact = component.serialize().map_err(|e| {
                RuntimeError::Setup(format!("serialising a compiled component: {e}"))
            })?;
            cache.store(digest_hex, &artifact)?;
        }
        Ok(Plugin {
            digest: format!("sha256:{digest_hex}"),
            imports: checked.imports,
            pre,
        })
    }
}

/// All cores but one, at least one: whatever tenants' guests do, receiving
/// and recording webhooks keeps a core.
fn all_cores_but_one() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

/// Engine settings for untrusted code (see ARCHITECTURE.md, "Sandbox").
fn engine_config(max_concurrent: u32, max_memory_bytes: usize) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(max_concurrent)
        // A component holds a handful of core instances and tables (the
        // program, its libraries, wit-component's shims) but one memory.
        .total_core_instances(max_concurrent * CORE_INSTANCES_PER_COMPONENT)
        .total_memories(max_concurrent * MEMORIES_PER_COMPONENT)
        .total_tables(max_concurrent * TABLES_PER_COMPONENT)
        .total_stacks(max_concurrent)
        // The same ratios per component: no component can take more than
        // its share of the pool, so a permit always finds room to
        // instantiate. A component beyond them is refused when compiled,
        // naming the count and the limit.
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        // Each core instance's own host memory (its vmctx: imports, globals,
        // tables' and memories' records), reserved per pool slot and zeroed
        // on every instantiation, uncharged to the guest: half wasmtime's
        // default, so sixteen instances hold what eight did.
        .max_core_instance_size(CORE_INSTANCE_BYTES)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memory_size(max_memory_bytes)
        // Keeping the first pages resident between instances saves a
        // page-fault storm per invocation; slots are reset on reuse either
        // way. PAGEMAP_SCAN (Linux 6.7+, else the plain memset) resets only
        // the pages the guest dirtied instead of the whole resident part, and
        // stacks are zeroed with memset up to 64 KiB instead of madvise: both
        // spare the cross-core TLB flushes that bounded throughput (invoke
        // benchmark: p50 63 -> 17 us, 20k -> 73k invocations/s).
        .linear_memory_keep_resident(1024 * 1024)
        .table_keep_resident(64 * 1024)
        .pagemap_scan(wasmtime::Enabled::Auto)
        .async_stack_keep_resident(64 * 1024);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .async_stack_zeroing(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// WASI with nothing to reach: no preopened directories, no environment, no
/// arguments, no sockets or name lookup, empty stdin; stdout and stderr go to
/// the invocation's log.
fn sandbox_wasi(log: &capabilities::log::SharedLog) -> WasiCtx {
    WasiCtx::builder()
        .stdout(CapturedStream::stdout(log.clone()))
        .stderr(CapturedStream::stderr(log.clone()))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .max_random_size(MAX_RANDOM_BYTES)
        .build()
}

/// Host-side resources (WASI streams, pollables, outgoing requests) one
/// invocation may hold at once: far above what a handler uses, and each
/// entry is host memory the guest makes the host allocate.
const MAX_RESOURCES: usize = 10_000;

/// Handles one invocation's component instances may hold at once, by the
/// same reasoning (wasmtime's default is 100,000).
const MAX_HANDLES: usize = 10_000;

/// Largest buffer `wasi:random` fills in one call (wasmtime's default is
/// 64 MiB, filled on the host while no deadline can interrupt it).
const MAX_RANDOM_BYTES: u64 = 64 * 1024;

fn resource_table() -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_RESOURCES);
    table
}

/// Advances the engine's epoch until the runtime is dropped.
fn spawn_epoch_ticker(inner: Weak<Inner>) {
    std::thread::Builder::new()
        .name("hookhost-epoch".into())
        .spawn(move || {
            while let Some(inner) = inner.upgrade() {
                inner.engine.increment_epoch();
                drop(inner);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawn epoch thread");
}

/// Grants for local runs and tests: no hosts, no private network, no secrets.
impl Grants {
    /// A namespace with no hosts allowed and the given settings.
    pub fn new(kv: KvNamespace, config: BTreeMap<String, String>) -> Self {
        Self {
            config,
            allowed_hosts: Vec::new(),
            allow_private_network: false,
            kv,
            kv_quota_bytes: 64 * 1024 * 1024,
            secrets: PluginSecrets::default(),
            trace: None,
        }
    }
}
