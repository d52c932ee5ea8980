//! Shared test harness: start the real gateway on 127.0.0.1:0 with a throwaway store, and
//! sign requests through the providers' own `sign` (official-SDK conformance lives in
//! `conformance/`).
#![allow(dead_code)]

use hookgate::config::Config;
use hookgate::server::Server;
use hookgate_providers::{ProviderOptions, Secret, SignRequest};
use std::path::PathBuf;
use std::time::SystemTime;

pub const STRIPE_SECRET: &str = "whsec_test_secret";
pub const GITHUB_SECRET: &str = "It's a Secret to Everybody";
pub const INTERNAL_KEY: &str = "internal-key-123";

pub struct TestApp {
    pub server: Server,
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// Where the store for a test lives: a fresh SQLite file unless `HOOKGATE_TEST_STORE_URL`
/// names another engine (the Postgres suite sets a fresh schema per test itself).
pub fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("hookgate.db").display())
}

fn write_secret(dir: &std::path::Path, name: &str, value: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, value).unwrap();
    p
}

/// The base config every ingest test uses: stripe, github and internal sources, secrets in
/// files. `extra` is appended (it may add sections or override with `[store]` keys via
/// `store_extra`).
pub fn base_config(
    dir: &std::path::Path,
    store_url: &str,
    store_extra: &str,
    extra: &str,
) -> String {
    let stripe = write_secret(dir, "stripe", STRIPE_SECRET);
    let stripe_old = write_secret(dir, "stripe_old", "whsec_old_secret");
    let github = write_secret(dir, "github", GITHUB_SECRET);
    let internal = write_secret(dir, "internal", INTERNAL_KEY);
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
max_body_bytes = 65536
request_timeout = "2s"
header_read_timeout = "1s"

[store]
url = "{store_url}"
{store_extra}

[sources.stripe]
provider = "stripe"
secrets = ["file:{stripe}", "file:{stripe_old}"]

[sources.github]
provider = "github"
secrets = ["file:{github}"]

[sources.orders]
provider = "internal"
secrets = ["file:{internal}"]
{extra}
"#,
        stripe = stripe.display(),
        stripe_old = stripe_old.display(),
        github = github.display(),
        internal = internal.display(),
    )
}

pub async fn spawn_app_with(store_extra: &str, extra: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    spawn_app_on(dir, &url, store_extra, extra).await
}

/// A gateway on a fresh SQLite store whose `[server]` table also gets `server_extra` (lines
/// of TOML) and whose `[store]` table gets `store_extra`.
pub async fn spawn_app_with_server(server_extra: &str, store_extra: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let text = base_config(dir.path(), &url, store_extra, "").replacen(
        "[server]\n",
        &format!("[server]\n{server_extra}\n"),
        1,
    );
    start(dir, &text).await
}

/// Start the gateway from config `text`; `dir` holds its store and secrets.
async fn start(dir: tempfile::TempDir, text: &str) -> TestApp {
    let config = Config::from_toml(text).expect("test config parses");
    let server = Server::start(config).await.expect("server starts");
    let base = format!("http://{}", server.addr());
    TestApp {
        server,
        base,
        client: reqwest::Client::new(),
        dir,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with("", "").await
}

pub async fn spawn_app_on(
    dir: tempfile::TempDir,
    store_url: &str,
    store_extra: &str,
    extra: &str,
) -> TestApp {
    let text = base_config(dir.path(), store_url, store_extra, extra);
    start(dir, &text).await
}

/// Headers that make `body` verify for `provider` under `secret`, at `now`.
pub fn sign(
    provider: &str,
    secret: &str,
    body: &[u8],
    event_id: &str,
    now: SystemTime,
) -> Vec<(String, String)> {
    let p = hookgate_providers::build(provider, &ProviderOptions::default()).unwrap();
    p.sign(
        &SignRequest {
            method: "POST",
            url: "http://localhost/",
            body,
            event_id,
        },
        &Secret::new(secret.as_bytes().to_vec()),
        now,
    )
    .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POST `body` to a source with the given headers.
    pub async fn post(
        &self,
        source: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(String, String)],
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(&format!("/webhooks/{source}")))
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req.send().await.unwrap()
    }

    /// The Prometheus text `/metrics` serves now.
    pub async fn metrics_text(&self) -> String {
        let resp = self.client.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    /// A Stripe event signed now with the current secret.
    pub async fn post_stripe(&self, body: &str) -> reqwest::Response {
        self.post_stripe_with(body, Vec::new()).await
    }

    /// A Stripe event signed now with the current secret, with `extra` headers after the
    /// signature.
    pub async fn post_stripe_with(
        &self,
        body: &str,
        extra: Vec<(String, String)>,
    ) -> reqwest::Response {
        let mut h = sign(
            "stripe",
            STRIPE_SECRET,
            body.as_bytes(),
            "",
            SystemTime::now(),
        );
        h.extend(extra);
        self.post("stripe", body.to_string(), &h).await
    }
}

/// A Stripe event signed now with the current secret, as a request to the gateway at `base`
/// (for gateways running as processes of their own; `TestApp::post_stripe` for in-process).
pub fn stripe_request(client: &reqwest::Client, base: &str, body: &str) -> reqwest::RequestBuilder {
    let h = sign(
        "stripe",
        STRIPE_SECRET,
        body.as_bytes(),
        "",
        SystemTime::now(),
    );
    let mut req = client
        .post(format!("{base}/webhooks/stripe"))
        .body(body.to_string());
    for (k, v) in &h {
        req = req.header(k.as_str(), v.as_str());
    }
    req
}

/// Parse a response as JSON, asserting the status.
pub async fn json_with_status(resp: reqwest::Response, status: u16) -> serde_json::Value {
    let got = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {text}");
    if status >= 400 {
        assert_eq!(
            ct, "application/problem+json",
            "errors are problem+json; body: {text}"
        );
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Environment variable with the Postgres server tests use.
pub const POSTGRES_URL_ENV: &str = "HOOKGATE_TEST_POSTGRES_URL";
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh, empty schema on the test Postgres, dropped when this value is dropped, so tests
/// run in parallel and leave nothing behind.
pub struct PgSchema {
    pub admin_url: String,
    pub schema: String,
    /// A store URL whose connections use only this schema.
    pub url: String,
}

impl PgSchema {
    /// `None` (with a printed notice) when Postgres is unreachable outside CI; under
    /// `CI=true` an unreachable Postgres fails the test instead of skipping it.
    pub async fn create() -> Option<PgSchema> {
        use sqlx::Connection;
        let admin_url =
            std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
        let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("CI=true but Postgres at {admin_url} is unreachable: {e}");
                }
                eprintln!(
                    "SKIPPED: Postgres at {admin_url} is unreachable ({e}); set {POSTGRES_URL_ENV}"
                );
                return None;
            }
        };
        let schema = format!("hg_test_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options=-c%20search_path%3D{schema}");
        Some(PgSchema {
            admin_url,
            schema,
            url,
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.admin_url.clone(), self.schema.clone());
        // Drop may run inside a runtime; do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}
