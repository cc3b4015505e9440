//! The shared harness of hookhost's black-box tests: one tokio runtime and
//! one wasmtime runtime for the whole run, the real plugins built by
//! `build.rs`, a scratch store per test, and a local HTTP receiver.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookhost::domain::{HostPattern, SecretValue};
use hookhost::ids::{DeliveryId, PluginName, TenantId};
use hookhost::runtime::{
    Event, Grants, Invocation, KvNamespace, Limits, Outcome, Plugin, Runtime, RuntimeConfig,
};
use hookhost::store::{Keyring, QueueStore, SqliteStore};

pub mod cluster;
pub mod dashboard;
pub mod host;
pub mod projects;
pub mod receiver;

/// Paths of the built components, one constant per plugin crate.
pub mod plugins {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
}

/// The master key of every store the tests open, and of `hookhost serve`
/// processes sharing a PostgreSQL database (`--master-key`).
pub const TEST_MASTER_KEY: &str =
    "7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e";

/// A keyring of [`TEST_MASTER_KEY`].
pub fn test_keys() -> Arc<Keyring> {
    Arc::new(Keyring::new(TEST_MASTER_KEY, &[]).expect("a valid key"))
}

/// Every await in a test is bounded by this, so a hang fails instead of stalling CI.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a test body on the shared tokio runtime, under [`TEST_TIMEOUT`].
///
/// One executor for the whole run keeps pooled HTTP connections and the
/// shared [`Runtime`] valid across tests.
pub fn block_on<F: Future>(test: F) -> F::Output {
    block_on_within(TEST_TIMEOUT, test)
}

/// [`block_on`] with another bound, for tests that compile a crate.
pub fn block_on_within<F: Future>(limit: Duration, test: F) -> F::Output {
    static EXECUTOR: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let executor = EXECUTOR.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    });
    executor.block_on(async {
        tokio::time::timeout(limit, test)
            .await
            .expect("test timed out")
    })
}

/// The process-wide wasmtime runtime: one engine, shared by every test.
/// One guest CPU, as on the 2-core machine the suite is written for, so
/// that every guest of every test takes turns, wherever it runs.
pub fn runtime() -> &'static Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let config = RuntimeConfig {
            guest_cpus: 1,
            ..RuntimeConfig::default()
        };
        Arc::new(Runtime::new(&config).expect("runtime"))
    })
}

/// Loads a built component into the shared runtime.
pub async fn load(path: &str) -> Arc<Plugin> {
    let wasm = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    runtime().load(&wasm).await.expect("plugin loads")
}

/// An event as a provider would have sent it.
pub fn event(body: impl Into<Vec<u8>>, event_type: Option<&str>) -> Event {
    Event {
        id: DeliveryId::generate().to_string(),
        tenant: "acme".into(),
        endpoint: "payments".into(),
        provider: "none".into(),
        event_type: event_type.map(str::to_owned),
        received_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
        attempt: 1,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.into(),
    }
}

/// A fixture of an example plugin, read from plugins/<plugin>/fixtures/.
pub fn fixture(plugin: &str, file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(plugin)
        .join("fixtures")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A tenant's plugin with its own scratch KV store: invoke, and commit on ok
/// as the queue does.
pub struct Sandbox {
    pub store: Arc<SqliteStore>,
    pub ns: KvNamespace,
    pub limits: Limits,
    config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    allowed_hosts: Vec<HostPattern>,
    allow_private_network: bool,
    _dir: tempfile::TempDir,
}

impl Sandbox {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("kv.db"), test_keys())
                .await
                .unwrap(),
        );
        Sandbox {
            store,
            ns: KvNamespace {
                tenant: TenantId::new("acme").unwrap(),
                plugin: PluginName::new("under-test").unwrap(),
            },
            limits: Limits::default(),
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
            allowed_hosts: Vec::new(),
            allow_private_network: false,
            _dir: dir,
        }
    }

    /// Sets one `config` entry.
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Sets one plugin secret.
    pub fn secret(mut self, name: &str, value: &str) -> Self {
        self.secrets.insert(name.into(), value.into());
        self
    }

    /// Allows calls to `pattern`.
    pub fn allow_host(mut self, pattern: &str) -> Self {
        self.allowed_hosts.push(pattern.parse().unwrap());
        self
    }

    /// Allows loopback and private addresses (for the local receiver).
    pub fn allow_private_network(mut self) -> Self {
        self.allow_private_network = true;
        self
    }

    /// Lets the plugin reach a local receiver.
    pub fn reach(self, receiver: &receiver::Receiver) -> Self {
        self.allow_host(&format!("127.0.0.1:{}", receiver.addr.port()))
            .allow_private_network()
    }

    pub fn grants(&self) -> Grants {
        let mut grants = Grants::new(self.ns.clone(), self.config.clone());
        grants.allowed_hosts = self.allowed_hosts.clone();
        grants.allow_private_network = self.allow_private_network;
        grants.secrets = self
            .secrets
            .iter()
            .map(|(n, v)| (n.clone(), SecretValue::new(v.clone())))
            .collect();
        grants
    }

    /// Invokes once and commits the KV writes when the outcome is ok.
    pub async fn run(&self, plugin: &Plugin, event: Event) -> Invocation {
        let invocation = runtime()
            .invoke(
                plugin,
                event,
                &self.grants(),
                &self.limits,
                self.store.clone(),
            )
            .await;
        if invocation.outcome == Outcome::Ok {
            self.store
                .commit_kv(&self.ns, &invocation.kv_writes)
                .await
                .unwrap();
        }
        invocation
    }

    /// The committed value of a key, as text.
    pub async fn kv(&self, key: &str) -> Option<String> {
        use hookhost::runtime::KvReader;
        self.store
            .get(&self.ns, key)
            .await
            .unwrap()
            .map(|v| String::from_utf8(v).unwrap())
    }
}

/// The log of an invocation as one string, for `contains` assertions.
pub fn log_text(invocation: &Invocation) -> String {
    invocation
        .logs
        .iter()
        .map(|l| format!("{} {}\n", l.level.as_str(), l.message))
        .collect()
}

/// The `hookhost` binary, built once per test run (the tests crate cannot
/// depend on another package's binary, so it asks cargo for it).
pub fn hookhost_bin() -> &'static Path {
    static BIN: OnceLock<std::path::PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--workspace", "--bins"])
            .current_dir(root)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the hookhost binary failed");
        let bin = root.join("target/debug/hookhost");
        assert!(bin.exists(), "{} missing", bin.display());
        bin
    })
}

/// The user cache directory of the CLI runs of the tests (toolchains,
/// compiled components), shared by the run and kept across runs, apart from
/// the user's own.
pub fn cli_cache() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-cache")
}

/// Runs a test of the binary: builds it first, outside the test's time bound.
pub fn cli_test<F: Future>(test: F) -> F::Output {
    hookhost_bin();
    block_on(test)
}

/// Runs `hookhost ARGS…` in `dir` and returns (exit code, stdout, stderr).
pub async fn hookhost(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(hookhost_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env("XDG_CACHE_HOME", cli_cache())
        .output()
        .await
        .expect("run hookhost");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
