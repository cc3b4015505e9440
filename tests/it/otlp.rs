//! Traces exported to an OpenTelemetry collector (`[otlp]`) by the real
//! binary: each delivery's span in its trace, each outbound call a span of
//! its own that the call's `traceparent` names; a collector that fails,
//! hangs or is away slows no delivery, and a bad endpoint stops the start.

use std::time::{Duration, Instant};

use hookhost_tests::host::{PgSchema, ServeProcess, delivery_id, signed_headers, spec};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{TEST_MASTER_KEY, cli_test, hookhost};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Attribute;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::Value;

/// The sender's span in the `traceparent` of the second webhook.
const SENDER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SENDER_SPAN: &str = "00f067aa0ba902b7";

#[test]
fn a_deliverys_spans_reach_the_collector_in_its_trace_and_a_calls_span_is_the_one_it_names() {
    cli_test(async {
        let collector = Receiver::start().await;
        let receiver = Receiver::start().await;
        let mut host = Exporting::start(&collector.url(""), &receiver).await;
        let own = host.deliver("evt_own", None).await;
        let sent = host
            .deliver(
                "evt_sent",
                Some(format!("00-{SENDER_TRACE}-{SENDER_SPAN}-01")),
            )
            .await;
        assert_eq!(own.trace_id, own.id.strip_prefix("dlv_").unwrap());
        assert_eq!(sent.trace_id, SENDER_TRACE);
        // The batch is sent every 5 s; a shutdown sends what is left.
        host.stop_within(Duration::from_secs(15)).await;

        let exports: Vec<_> = collector
            .requests()
            .into_iter()
            .filter(|r| r.path == "/v1/traces")
            .collect();
        assert!(!exports.is_empty(), "nothing exported");
        let mut spans: Vec<Span> = Vec::new();
        for export in &exports {
            assert_eq!(export.method, "POST");
            assert_eq!(
                export.header("content-type"),
                Some("application/x-protobuf")
            );
            let request = ExportTraceServiceRequest::decode(export.body.clone()).unwrap();
            for resource in request.resource_spans {
                let service = resource
                    .resource
                    .as_ref()
                    .and_then(|r| attribute(&r.attributes, "service.name"));
                assert_eq!(service, Some(Attribute::StringValue("hookhost".into())));
                spans.extend(resource.scope_spans.into_iter().flat_map(|s| s.spans));
            }
        }

        let calls = receiver.requests();
        assert_eq!(calls.len(), 2, "one call per delivery");
        for (delivery, parent, call) in [
            (&own, String::new(), &calls[0]),
            (&sent, SENDER_SPAN.to_owned(), &calls[1]),
        ] {
            let span = spans
                .iter()
                .find(|s| s.name == "delivery" && hex(&s.trace_id) == delivery.trace_id)
                .unwrap_or_else(|| panic!("no span in trace {}: {spans:#?}", delivery.trace_id));
            assert_eq!(hex(&span.parent_span_id), parent, "{span:#?}");
            assert_eq!(
                attribute(&span.attributes, "id"),
                Some(Attribute::StringValue(delivery.id.clone()))
            );

            let traceparent = call.header("traceparent").expect("traceparent");
            let [_, trace, span_id, _] = traceparent.split('-').collect::<Vec<_>>()[..] else {
                panic!("{traceparent}")
            };
            assert_eq!(trace, delivery.trace_id);
            let out = spans
                .iter()
                .find(|s| hex(&s.span_id) == span_id)
                .unwrap_or_else(|| panic!("no span {span_id} exported: {spans:#?}"));
            assert_eq!(out.name, "http-out");
            assert_eq!(hex(&out.trace_id), delivery.trace_id);
            assert_eq!(out.parent_span_id, span.span_id, "under the attempt's span");
            for (key, value) in [
                ("http.request.method", Attribute::StringValue("POST".into())),
                ("server.address", Attribute::StringValue("127.0.0.1".into())),
                (
                    "server.port",
                    Attribute::IntValue(receiver.addr.port().into()),
                ),
                ("http.response.status_code", Attribute::IntValue(200)),
            ] {
                assert_eq!(attribute(&out.attributes, key), Some(value), "{out:#?}");
            }
        }
    })
}

#[test]
fn a_collector_that_fails_hangs_or_is_away_slows_no_delivery_and_holds_no_shutdown() {
    cli_test(async {
        let failing = Receiver::start().await;
        failing.respond_with(500);
        let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hanging_url = format!("http://{}", hanging.local_addr().unwrap());
        // Accepts every connection and never answers.
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = hanging.accept().await {
                held.push(socket);
            }
        });
        let away = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", listener.local_addr().unwrap())
        };
        for (collector, endpoint) in [
            ("answers 500", failing.url("")),
            ("never answers", hanging_url),
            ("is away", away),
        ] {
            let receiver = Receiver::start().await;
            let mut host = Exporting::start(&endpoint, &receiver).await;
            for event in ["evt_1", "evt_2", "evt_3"] {
                let started = Instant::now();
                host.deliver(event, None).await;
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "a delivery took {:?} while the collector {collector}",
                    started.elapsed()
                );
            }
            // Shutdown waits at most 5 s per export for the collector.
            host.stop_within(Duration::from_secs(20)).await;
        }
        assert!(
            failing.requests().iter().any(|r| r.path == "/v1/traces"),
            "the failing collector was never tried"
        );
    })
}

#[test]
fn a_bad_otlp_endpoint_stops_the_start_naming_the_setting() {
    cli_test(async {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (code, stderr) = serve_with(&data, "--otlp-endpoint", "localhost:4318").await;
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains(
                "--otlp-endpoint: otlp.endpoint: \"localhost:4318\" is not the http(s) base URL"
            ),
            "{stderr}"
        );

        let config = dir.path().join("hookhost.toml");
        std::fs::write(
            &config,
            "[otlp]\nendpoint = \"https://key:s3cret-pw@otel.example.com\"\n",
        )
        .unwrap();
        let (code, stderr) = serve_with(&data, "--config", config.to_str().unwrap()).await;
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("hookhost.toml line 2: otlp.endpoint: holds credentials"),
            "{stderr}"
        );
        assert!(!stderr.contains("s3cret-pw"), "{stderr}");
        assert!(
            !data.join("hookhost.db").exists(),
            "refused before the store opened"
        );
    })
}

/// Runs `hookhost serve` on `data` with one more setting, expecting it to
/// stop at once; returns its exit code and standard error.
async fn serve_with(data: &std::path::Path, setting: &str, value: &str) -> (i32, String) {
    let data = data.to_str().unwrap();
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        setting,
        value,
    ];
    let (code, _, stderr) = hookhost(std::path::Path::new(data).parent().unwrap(), &args).await;
    (code, stderr)
}

/// `hookhost serve` on the suite's backend, exporting to a collector, with
/// tenant `acme`'s endpoint `orders` running the echo plugin, which calls
/// the receiver.
struct Exporting {
    server: ServeProcess,
    schema: Option<PgSchema>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A delivery as the API shows it.
struct Delivered {
    id: String,
    trace_id: String,
}

impl Exporting {
    async fn start(collector: &str, receiver: &Receiver) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let schema = PgSchema::create().await;
        let mut args = vec![
            "--admin-token".to_owned(),
            "t".to_owned(),
            "--otlp-endpoint".to_owned(),
            collector.to_owned(),
        ];
        if let Some(schema) = &schema {
            args.extend(["--database-url".to_owned(), schema.url()]);
            args.extend(["--master-key".to_owned(), TEST_MASTER_KEY.to_owned()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = ServeProcess::start(&dir.path().join("data"), &args).await;
        let client = reqwest::Client::new();
        server
            .acme_orders(&client, &spec("echo", 1, Some(receiver)))
            .await;
        Self {
            server,
            schema,
            client,
            _dir: dir,
        }
    }

    /// Sends a signed webhook (with `traceparent`, if given) and waits for
    /// its delivery to succeed.
    async fn deliver(&self, event: &str, traceparent: Option<String>) -> Delivered {
        let body = r#"{"type":"t"}"#;
        let mut request = self
            .client
            .post(self.server.url("/hooks/acme/orders"))
            .body(body);
        for (name, value) in signed_headers(event, body.as_bytes()) {
            request = request.header(name, value);
        }
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 202);
        let id = delivery_id(&answer.text().await.unwrap());
        let started = Instant::now();
        loop {
            let view: Value = self
                .client
                .get(
                    self.server
                        .url(&format!("/v1/tenants/acme/deliveries/{id}")),
                )
                .bearer_auth("t")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if view["status"] == "succeeded" {
                return Delivered {
                    id: id.as_str().to_owned(),
                    trace_id: view["trace_id"].as_str().unwrap().to_owned(),
                };
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{view}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM; the server must exit 0 within `limit`.
    async fn stop_within(&mut self, limit: Duration) {
        let pid = self.server.child.id().unwrap().to_string();
        let kill = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(kill.success());
        let exited = tokio::time::timeout(limit, self.server.child.wait())
            .await
            .unwrap_or_else(|_| panic!("still running {limit:?} after SIGTERM"))
            .unwrap();
        assert!(exited.success(), "{exited}");
        if let Some(schema) = self.schema.take() {
            schema.drop().await;
        }
    }
}

/// Bytes as lowercase hex digits, as Trace Context writes ids.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of the attribute `key`, if there is one.
fn attribute(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<Attribute> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.clone())
}
