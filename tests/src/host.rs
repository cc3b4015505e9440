//! A real server on port 0 over a scratch SQLite store, and the steps every
//! delivery test takes: create a tenant, store a plugin, configure an
//! endpoint, send a signed webhook, wait for the outcome.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hookhost::config::{Config, Secret};
use hookhost::domain::{EndpointLimits, EndpointSpec, Provider, RetryPolicy};
use hookhost::ids::{DeliveryId, EndpointId, PluginName, TenantId};
use hookhost::ingress::verify::sign;
use hookhost::server::ServeError;
use hookhost::store::{Attempt, Delivery, DeliveryStatus, SqliteStore, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::receiver::Receiver;
use crate::runtime;

/// The operator token of every test server.
pub const OPERATOR_TOKEN: &str = "test-operator-token";

/// A Standard Webhooks secret for tests.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A running server and its store.
pub struct TestHost {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its store, for setting up and for reading outcomes.
    pub store: Arc<dyn Store>,
    /// HTTP client.
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
    schema: Option<PgSchema>,
    _dir: tempfile::TempDir,
}

impl TestHost {
    /// A server with the default settings, but a short shutdown grace.
    pub async fn start() -> Self {
        Self::start_with(Self::config()).await
    }

    /// A server with the default settings but a short shutdown grace and
    /// `workers` workers.
    pub async fn with_workers(workers: usize) -> Self {
        Self::start_with(Config {
            workers,
            ..Self::config()
        })
        .await
    }

    /// The settings of [`TestHost::start`]: the defaults, but a short
    /// shutdown grace.
    pub fn config() -> Config {
        Config {
            shutdown_grace: Duration::from_secs(2),
            ..Config::default()
        }
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// `Authorization` value of the operator.
    pub fn operator(&self) -> String {
        format!("Bearer {OPERATOR_TOKEN}")
    }

    /// A server with these settings (its operator token is always [`OPERATOR_TOKEN`]).
    pub async fn start_with(config: Config) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, schema) = test_store(dir.path()).await;
        let mut host = Self::start_on(store, config).await;
        host.schema = schema;
        host._dir = dir;
        host
    }

    /// A server on a store of the caller's (several hosts on one database).
    pub async fn start_on(store: Arc<dyn Store>, config: Config) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(hookhost::server::serve(
            store.clone(),
            runtime().clone(),
            Arc::new(Config {
                admin_token: Some(Secret::from(OPERATOR_TOKEN.to_owned())),
                ..config
            }),
            listener,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            store,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
            schema: None,
            _dir: dir,
        }
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Creates a tenant.
    pub async fn tenant(&self, name: &str) -> TenantId {
        let id = TenantId::new(name).expect("valid tenant");
        self.store.create_tenant(&id, None).await.expect("tenant");
        id
    }

    /// Stores a built component as the tenant's plugin `name`; returns its version.
    pub async fn plugin(&self, tenant: &TenantId, name: &str, path: &str) -> u32 {
        let wasm = std::fs::read(path).expect("read plugin");
        let plugin = runtime().load(&wasm).await.expect("valid plugin");
        self.store
            .add_plugin_version(
                tenant,
                &PluginName::new(name).expect("valid name"),
                plugin.digest(),
                plugin.imports(),
                &wasm,
                u64::MAX,
            )
            .await
            .expect("store plugin")
            .version
    }

    /// Creates or replaces an endpoint.
    pub async fn endpoint(&self, tenant: &TenantId, name: &str, spec: &EndpointSpec) {
        self.store
            .put_endpoint(tenant, &EndpointId::new(name).expect("valid name"), spec)
            .await
            .expect("endpoint");
    }

    /// POSTs `body` to an endpoint, signed as `provider` would sign it.
    pub async fn send(
        &self,
        tenant: &str,
        endpoint: &str,
        provider: Provider,
        secret: &str,
        event_id: &str,
        body: &[u8],
    ) -> reqwest::Response {
        self.send_typed(tenant, endpoint, provider, secret, event_id, None, body)
            .await
    }

    /// [`send`](Self::send) with the event type in the provider's header
    /// (GitHub's and Shopify's), where it has one.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_typed(
        &self,
        tenant: &str,
        endpoint: &str,
        provider: Provider,
        secret: &str,
        event_id: &str,
        event_type: Option<&str>,
        body: &[u8],
    ) -> reqwest::Response {
        let headers = sign(
            provider,
            secret,
            None,
            body,
            event_id,
            event_type,
            SystemTime::now(),
        )
        .expect("sign");
        let mut request = self
            .client
            .post(self.url(&format!("/hooks/{tenant}/{endpoint}")))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send().await.expect("send webhook")
    }

    /// Sends a webhook expecting 202 and returns its delivery id.
    pub async fn accept(
        &self,
        tenant: &str,
        endpoint: &str,
        event_id: &str,
        body: &str,
    ) -> DeliveryId {
        let response = self
            .send(
                tenant,
                endpoint,
                Provider::StandardWebhooks,
                SECRET,
                event_id,
                body.as_bytes(),
            )
            .await;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, 202, "webhook not accepted: {text}");
        delivery_id(&text)
    }

    /// Waits until the delivery reaches `status` (panics after `within`).
    pub async fn wait_for(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        status: DeliveryStatus,
        within: Duration,
    ) -> Delivery {
        let started = Instant::now();
        loop {
            let delivery = self
                .store
                .delivery(tenant, id)
                .await
                .expect("read delivery")
                .expect("delivery exists");
            if delivery.status == status {
                return delivery;
            }
            assert!(
                started.elapsed() < within,
                "delivery {id} is {:?}, not {status:?}, after {within:?}",
                delivery.status
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The recorded attempts of a delivery.
    pub async fn attempts(&self, id: &DeliveryId) -> Vec<Attempt> {
        self.store.attempts(id).await.expect("attempts")
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
        if let Some(schema) = self.schema.take() {
            schema.drop().await;
        }
    }
}

/// The environment variable that switches the tests to PostgreSQL.
pub const DATABASE_URL_VAR: &str = "HOOKHOST_TEST_DATABASE_URL";

/// The local PostgreSQL of the machine, for tests that need PostgreSQL
/// whichever backend the rest of the suite runs on.
pub const LOCAL_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A PostgreSQL schema made for one test.
pub struct PgSchema {
    url: String,
    options: sqlx::postgres::PgConnectOptions,
    name: String,
}

impl PgSchema {
    /// A fresh schema in the database of [`DATABASE_URL_VAR`], if it is set.
    pub async fn create() -> Option<Self> {
        let url = std::env::var(DATABASE_URL_VAR).ok()?;
        Some(Self::create_in(&url).await)
    }

    /// A fresh schema in the database of [`DATABASE_URL_VAR`], or else in
    /// [`LOCAL_DATABASE_URL`]: for tests of several hosts on one database.
    pub async fn create_anyway() -> Self {
        let url = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| LOCAL_DATABASE_URL.into());
        Self::create_in(&url).await
    }

    async fn create_in(url: &str) -> Self {
        use sqlx::ConnectOptions;
        let options: sqlx::postgres::PgConnectOptions = url.parse().expect("database url");
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = options.connect().await.expect("connect to PostgreSQL");
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .expect("create schema");
        Self {
            url: url.to_owned(),
            options,
            name,
        }
    }

    /// Options that connect into this schema.
    pub fn options(&self) -> sqlx::postgres::PgConnectOptions {
        self.options
            .clone()
            .options([("search_path", self.name.as_str())])
    }

    /// A URL that connects into this schema, for `hookhost serve --database-url`.
    pub fn url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-csearch_path%3D{}",
            self.url, self.name
        )
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        use sqlx::ConnectOptions;
        if let Ok(mut admin) = self.options.connect().await {
            let _ = sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
                .execute(&mut admin)
                .await;
        }
    }
}

/// A fresh, empty store: SQLite in `dir`, or, when [`DATABASE_URL_VAR`] is
/// set, a schema of its own in that PostgreSQL database, so tests and runs
/// never see each other's rows.
pub async fn test_store(dir: &std::path::Path) -> (Arc<dyn Store>, Option<PgSchema>) {
    match PgSchema::create().await {
        Some(schema) => {
            let store =
                hookhost::store::PostgresStore::connect(schema.options(), crate::test_keys())
                    .await
                    .expect("open PostgreSQL store");
            (Arc::new(store), Some(schema))
        }
        None => {
            let store = SqliteStore::open(&dir.join("hookhost.db"), crate::test_keys())
                .await
                .expect("open store");
            (Arc::new(store), None)
        }
    }
}

/// The `delivery_id` of a 200/202 answer.
pub fn delivery_id(answer: &str) -> DeliveryId {
    let value: serde_json::Value = serde_json::from_str(answer).expect("json answer");
    DeliveryId::from_string(
        value["delivery_id"]
            .as_str()
            .expect("delivery_id")
            .to_owned(),
    )
}

/// A Standard Webhooks endpoint running `plugin` v`version` with [`SECRET`],
/// allowed to reach `receiver` (when given), with a fast retry schedule.
pub fn spec(plugin: &str, version: u32, receiver: Option<&Receiver>) -> EndpointSpec {
    let mut spec = EndpointSpec {
        provider: Provider::StandardWebhooks,
        secrets: vec![SECRET.to_owned()],
        hmac: None,
        tolerance_s: 300,
        dedup_header: None,
        allowed_ips: Vec::new(),
        rate_limit: None,
        event_types: Vec::new(),
        plugin: PluginName::new(plugin).expect("valid name"),
        plugin_version: version,
        config: Default::default(),
        allowed_hosts: Vec::new(),
        allow_private_network: false,
        limits: EndpointLimits::default(),
        retry: RetryPolicy {
            max_attempts: 5,
            schedule_s: vec![0],
        },
        alerts: Default::default(),
    };
    if let Some(receiver) = receiver {
        spec.config.insert("url".into(), receiver.url("/hook"));
        spec.allowed_hosts = vec![
            format!("127.0.0.1:{}", receiver.addr.port())
                .parse()
                .expect("valid pattern"),
        ];
        spec.allow_private_network = true;
    }
    spec
}

/// `hookhost serve` as a child process on a data directory, for crash and
/// signal tests.
pub struct ServeProcess {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The process.
    pub child: tokio::process::Child,
}

impl ServeProcess {
    /// Starts `hookhost serve --listen 127.0.0.1:0 --data-dir DIR ARGS…` and
    /// waits for it to print its address.
    pub async fn start(data_dir: &std::path::Path, args: &[&str]) -> Self {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(crate::hookhost_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start hookhost serve");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = loop {
            let line = lines
                .next_line()
                .await
                .expect("read stdout")
                .expect("hookhost serve exited before listening");
            if let Some(url) = line.strip_prefix("hookhost listening on http://") {
                break url.parse().expect("address");
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { addr, child }
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Tenant `acme` with `echo` uploaded as version 1 and endpoint `orders`
    /// set to `orders`, through the API of a server whose operator token is
    /// `t`.
    pub async fn acme_orders(&self, client: &reqwest::Client, orders: &EndpointSpec) {
        let created = client
            .post(self.url("/v1/tenants"))
            .bearer_auth("t")
            .json(&serde_json::json!({ "id": "acme" }))
            .send()
            .await
            .expect("create tenant");
        assert_eq!(created.status(), 201);
        let uploaded = client
            .post(self.url("/v1/tenants/acme/plugins/echo/versions"))
            .bearer_auth("t")
            .body(std::fs::read(crate::plugins::ECHO).expect("read echo"))
            .send()
            .await
            .expect("upload echo");
        assert_eq!(uploaded.status(), 201);
        let put = client
            .put(self.url("/v1/tenants/acme/endpoints/orders"))
            .bearer_auth("t")
            .json(orders)
            .send()
            .await
            .expect("put endpoint");
        assert_eq!(put.status(), 201);
    }
}

/// POSTs webhook number `i` (`{"n":i}`, event id `evt_i`) to `url`, signed
/// with [`SECRET`].
pub async fn send_numbered(
    client: &reqwest::Client,
    url: &str,
    i: usize,
) -> reqwest::Result<reqwest::Response> {
    let body = format!(r#"{{"n":{i}}}"#);
    let mut request = client.post(url).body(body.clone());
    for (name, value) in signed_headers(&format!("evt_{i}"), body.as_bytes()) {
        request = request.header(name, value);
    }
    request.send().await
}

/// Sends webhooks `0..count` (see [`send_numbered`]), `concurrency` at a
/// time, round-robin over `targets`; counts every answer in `answered` (so a
/// test can act mid-stream) and returns the ids of those answered 202.
pub async fn send_many(
    client: &reqwest::Client,
    targets: &[String],
    count: usize,
    concurrency: usize,
    answered: &std::sync::atomic::AtomicUsize,
) -> Vec<DeliveryId> {
    use futures::StreamExt;
    futures::stream::iter(0..count)
        .map(|i| async move {
            let response = send_numbered(client, &targets[i % targets.len()], i)
                .await
                .ok()?;
            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if response.status() != 202 {
                return None;
            }
            Some(delivery_id(&response.text().await.ok()?))
        })
        .buffer_unordered(concurrency)
        .filter_map(std::future::ready)
        .collect()
        .await
}

/// Waits until every one of `ids` has succeeded; panics if one is missing
/// or still unfinished after `within`.
pub async fn wait_all_succeeded(
    store: &dyn Store,
    tenant: &TenantId,
    ids: &[DeliveryId],
    within: Duration,
) {
    let started = Instant::now();
    for id in ids {
        loop {
            let d = store
                .delivery(tenant, id)
                .await
                .expect("read delivery")
                .unwrap_or_else(|| panic!("accepted delivery {id} was lost"));
            if d.status == DeliveryStatus::Succeeded {
                break;
            }
            assert!(
                started.elapsed() < within,
                "{id} is still {:?} after {within:?}",
                d.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Signed Standard Webhooks headers for `body` with event id `event_id`.
pub fn signed_headers(event_id: &str, body: &[u8]) -> Vec<(String, String)> {
    sign(
        Provider::StandardWebhooks,
        SECRET,
        None,
        body,
        event_id,
        None,
        SystemTime::now(),
    )
    .expect("sign")
}

impl TestHost {
    /// What a copy of the database would show: every byte of SQLite's
    /// files, or on PostgreSQL every row of the endpoints and their secrets
    /// as text.
    pub async fn at_rest(&self) -> Vec<u8> {
        match &self.schema {
            Some(schema) => {
                use sqlx::ConnectOptions;
                let mut db = schema.options().connect().await.expect("connect");
                let rows: Vec<String> = sqlx::query_scalar(
                    "SELECT CAST(e AS TEXT) FROM endpoints e
                     UNION ALL SELECT CAST(s AS TEXT) FROM endpoint_secrets s",
                )
                .fetch_all(&mut db)
                .await
                .expect("read rows");
                rows.join("\n").into_bytes()
            }
            None => std::fs::read_dir(self._dir.path())
                .expect("data directory")
                .map(|entry| entry.expect("entry").path())
                .filter(|path| path.is_file())
                .flat_map(|path| std::fs::read(path).expect("read"))
                .collect(),
        }
    }

    /// Calls the admin API; returns the status and the JSON answer (`null`
    /// when the answer is empty or not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request).await
    }

    /// Uploads a built component as a new version of `tenant`'s plugin `name`.
    pub async fn upload(
        &self,
        token: &str,
        tenant: &str,
        name: &str,
        wasm: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        let request = self
            .client
            .post(self.url(&format!("/v1/tenants/{tenant}/plugins/{name}/versions")))
            .bearer_auth(token)
            .header("content-type", "application/wasm")
            .body(wasm);
        answer(request).await
    }

    /// Creates a tenant through the API; returns its API key.
    pub async fn create_tenant(&self, id: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/v1/tenants",
                Some(OPERATOR_TOKEN),
                Some(serde_json::json!({ "id": id })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["api_key"].as_str().expect("api_key").to_owned()
    }

    /// Replaces a tenant's policy overrides as the operator; returns the
    /// policy view the API answers with.
    pub async fn set_policy(
        &self,
        tenant: &str,
        overrides: serde_json::Value,
    ) -> serde_json::Value {
        let (status, body) = self
            .call(
                "PUT",
                &format!("/v1/tenants/{tenant}/policy"),
                Some(OPERATOR_TOKEN),
                Some(overrides),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}
