//! A throwaway HTTP handler that records what hookgate delivers to it, with a script of
//! answers (e.g. 500, 500, 500, then 200), an optional delay, and signature checking with the
//! handler's Standard Webhooks secret.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hookgate_providers::{Request, Secret, Secrets};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub const HANDLER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Debug, Clone)]
pub struct Received {
    pub key: String,
    pub attempt: u32,
    pub event_type: Option<String>,
    pub body: Vec<u8>,
    /// The Standard Webhooks signature verified with the handler secret.
    pub signature_ok: bool,
    pub at: std::time::Instant,
}

#[derive(Default)]
struct Behaviour {
    script: VecDeque<(u16, Option<&'static str>)>,
    default_status: u16,
    delay: Duration,
    received: Vec<Received>,
    /// Keys of requests that were answered 2xx after the delay (a request whose connection
    /// was cut while the handler worked is received, not completed).
    completed: Vec<String>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<Behaviour>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener).await
    }

    pub async fn start_on(listener: tokio::net::TcpListener) -> Receiver {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(Behaviour {
            default_status: 200,
            ..Default::default()
        }));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(handle))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Answer these statuses first (with an optional Retry-After), then the default.
    pub fn script(&self, answers: &[(u16, Option<&'static str>)]) {
        self.state.lock().unwrap().script = answers.iter().copied().collect();
    }

    pub fn set_default(&self, status: u16) {
        self.state.lock().unwrap().default_status = status;
    }

    pub fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn completed(&self) -> Vec<String> {
        self.state.lock().unwrap().completed.clone()
    }

    /// Wait until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {n} deliveries, got {}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn handle(
    State(state): State<Arc<Mutex<Behaviour>>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let provider = hookgate_providers::build("standard-webhooks", &Default::default()).unwrap();
    let req = Request {
        method: "POST",
        url: "http://x/hook",
        headers: &headers,
        body: &body,
    };
    let secrets = Secrets::new(vec![Secret::new(HANDLER_SECRET.as_bytes().to_vec())]);
    let signature_ok = provider.verify(&req, &secrets, SystemTime::now()).is_ok()
        && header("webhook-id") == header("idempotency-key");
    let key = header("idempotency-key").unwrap_or_default();
    let (status, retry_after, delay) = {
        let mut s = state.lock().unwrap();
        s.received.push(Received {
            key: key.clone(),
            attempt: header("hookgate-attempt")
                .and_then(|a| a.parse().ok())
                .unwrap_or(0),
            event_type: header("hookgate-event-type"),
            body: body.to_vec(),
            signature_ok,
            at: std::time::Instant::now(),
        });
        let (status, ra) = s.script.pop_front().unwrap_or((s.default_status, None));
        (status, ra, s.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if (200..300).contains(&status) {
        state.lock().unwrap().completed.push(key);
    }
    let mut h = HeaderMap::new();
    if let Some(ra) = retry_after {
        h.insert("retry-after", ra.parse().unwrap());
    }
    (StatusCode::from_u16(status).unwrap(), h, "ok")
}

/// A `[handlers.NAME]` section (with a fast retry schedule) plus a fast `[dispatch]`.
pub fn handler_section(
    dir: &std::path::Path,
    name: &str,
    url: &str,
    sources: &str,
    extra: &str,
) -> String {
    let secret = dir.join(format!("handler_{name}"));
    std::fs::write(&secret, HANDLER_SECRET).unwrap();
    // Fast defaults for whatever `extra` does not set itself.
    let mut defaults = String::new();
    for (key, value) in [
        ("timeout", "\"500ms\""),
        ("backoff_base", "\"10ms\""),
        ("backoff_cap", "\"40ms\""),
        ("max_attempts", "5"),
    ] {
        if !extra.contains(&format!("{key} =")) {
            defaults.push_str(&format!("{key} = {value}\n"));
        }
    }
    format!(
        r#"
[handlers.{name}]
kind = "http"
url = "{url}"
sources = {sources}
secret = "file:{secret}"
{defaults}{extra}
"#,
        secret = secret.display()
    )
}

pub const FAST_DISPATCH: &str = "\n[dispatch]\npoll_interval = \"20ms\"\nlease = \"2s\"\n";
