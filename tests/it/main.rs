//! hookhost's black-box tests: one binary, one module per area.

/// The sandbox's limits against hostile plugins.
mod adversarial;
/// Alerts: dead, failing, silent and auto-paused endpoints, sent signed or to Slack, retried, bounded.
mod alerts;
/// The admin API: isolation, validation, uploads, deliveries, KV, metrics, OpenAPI.
mod api;
/// `hookhost plugin new | build | test` through the real binary.
mod cli;
/// An endpoint's delivery concurrency, on one host and across several.
mod concurrency;
/// An endpoint's ingress controls: event type filters, pause and resume.
mod controls;
/// `hookhost serve` killed with SIGKILL, stopped with SIGTERM.
mod crash;
/// The dashboard at /ui: in a real browser, and what a hostile tenant or site could try.
mod dashboard;
/// Webhooks through a real server: ingress, queue, retries, dedup, replay, fairness.
mod delivery;
/// The example plugins against their fixtures and a local receiver.
mod examples;
/// A hostile tenant: its own policy's ceilings, its share of workers,
/// queue and ingest rate, and what it may not grant itself.
mod hostile;
/// Several hosts on one PostgreSQL database: one killed mid-stream, the
/// database restarted under load, an idle host woken by another's webhook,
/// endpoint changes reaching every host.
mod hosts;
/// The HTTP server against clients that hold connections: slow headers,
/// idle keep-alives, slow bodies, more connections than allowed.
mod http;
/// KV semantics: atomic commit on ok, read-your-writes, lossless increments.
mod kv;
/// Handlers in TypeScript, JavaScript and Python: built, run, trapped and served.
mod languages;
/// Loading components: validation messages and the compile cache.
mod loading;
/// What an operator watches: JSON log lines.
mod observability;
mod otlp;
/// Bulk replays: filtered, paced, cancelled, bounded, scoped to a tenant.
mod replays;
/// Handlers asking to come back later: retry-after in the runtime, the SDK
/// and the queue.
mod retry_after;
/// Plugin secrets: what the guest reads, and their values kept out of the record.
mod secrets;
/// Secrets through the API and the CLI: write-only and bounded, sealed at
/// rest under a master key that rotates, in owner-only files.
mod secrets_api;
/// HTTPS: ALPN, certificate reload, a mismatched key.
mod tls;
/// A database from an earlier hookhost, migrated.
mod upgrade;
/// The README walk-through through the real binary.
mod walkthrough;
/// Both versions of the handler world, 0.1.0 and 0.2.0, side by side.
mod worlds;
