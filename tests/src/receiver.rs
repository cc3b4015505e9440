//! A local HTTP receiver standing in for Slack, a fulfilment service or any
//! webhook target: records every request and answers with a chosen status.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

#[derive(Clone)]
struct Shared {
    requests: Arc<Mutex<Vec<Recorded>>>,
    status: Arc<AtomicU16>,
    /// How long each request is held before it is answered, in ms.
    hold_ms: Arc<AtomicU64>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
}

/// A running receiver on 127.0.0.1 and a random port.
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
}

impl Receiver {
    /// Starts a receiver that answers 200 until told otherwise.
    pub async fn start() -> Receiver {
        let shared = Shared {
            requests: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            hold_ms: Arc::default(),
            in_flight: Arc::default(),
            most_in_flight: Arc::default(),
        };
        let state = shared.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    state.requests.lock().unwrap().push(Recorded {
                        method,
                        path: uri.path().to_owned(),
                        headers,
                        body,
                    });
                    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    state.most_in_flight.fetch_max(now, Ordering::SeqCst);
                    let hold = state.hold_ms.load(Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(hold)).await;
                    state.in_flight.fetch_sub(1, Ordering::SeqCst);
                    StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap()
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, shared }
    }

    /// A URL on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The status later requests get.
    pub fn respond_with(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Holds each later request this long before answering it, so that
    /// requests made at once overlap here.
    pub fn hold_for(&self, hold: Duration) {
        self.shared
            .hold_ms
            .store(hold.as_millis() as u64, Ordering::SeqCst);
    }

    /// The most requests this receiver was answering at once.
    pub fn most_at_once(&self) -> usize {
        self.shared.most_in_flight.load(Ordering::SeqCst)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }
}
