//! A client of a running gateway's admin API, for CLI commands that act on live state
//! (`hookgate handlers …`).
//!
//! The gateway's URL comes from `--url`, else from the config's `server.public_url`, else
//! from `server.listen` (an unspecified address such as `0.0.0.0` becomes `127.0.0.1`). The
//! bearer token comes from `--token`, else from the config's `admin.token` reference. Error
//! answers (problem+json) become errors carrying their `code` and `detail`; the token never
//! appears in a message.

use crate::config::Config;
use anyhow::Context;
use hookgate_providers::Secret;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};

/// Flags every admin-calling command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// Base URL of the running gateway (default: from server.public_url or server.listen).
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// Admin bearer token (default: the config's admin.token).
    #[arg(long, global = true)]
    pub token: Option<String>,
}

pub struct AdminClient {
    base: String,
    token: Secret,
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new(config: &Config, args: &AdminArgs) -> anyhow::Result<Self> {
        let base = match (&args.url, &config.server.public_url) {
            (Some(u), _) | (None, Some(u)) => u.trim_end_matches('/').to_string(),
            (None, None) => {
                let mut addr = config.server.listen;
                if addr.ip().is_unspecified() {
                    addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
                }
                format!("http://{addr}")
            }
        };
        let token = match &args.token {
            Some(t) => Secret::new(t.as_bytes().to_vec()),
            None => config
                .admin
                .token
                .as_ref()
                .context("no admin token: set admin.token in the config or pass --token")?
                .resolve()
                .map_err(|e| anyhow::anyhow!("admin.token: {e}"))?,
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(AdminClient { base, token, http })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path))).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let token = String::from_utf8_lossy(self.token.expose()).into_owned();
        let resp = req
            .bearer_auth(token)
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {}", self.base))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let code = body["code"].as_str().unwrap_or("error");
        let detail = body["detail"].as_str().unwrap_or("");
        anyhow::bail!("the gateway answered {status}: {code}: {detail}")
    }
}
