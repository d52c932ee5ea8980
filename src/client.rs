//! The admin API client: how the command line talks to a *running* gateway (the
//! `hookgate deliveries …` and `hookgate handlers …` commands), rather than opening its store.
//!
//! The base URL is `--url`, else the config's `server.public_url`, else
//! `http://{server.listen}` (an unspecified address such as `0.0.0.0` becomes `127.0.0.1`);
//! the token is
//! `--token`, else the config's `admin.token` reference. A problem+json answer becomes an error
//! that names its status, `code` and `detail`; the token is never printed.

use crate::config::Config;
use anyhow::{anyhow, bail, Context};
use clap::Args;
use serde_json::Value;

/// Where the gateway's admin API is and how to authenticate (shared by the commands that
/// call it).
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Base URL of the gateway; defaults to server.public_url, else http://{server.listen}.
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// Admin token; defaults to the config's `admin.token`. Prefer the config (or
    /// HOOKGATE_ADMIN_TOKEN): a flag is visible to other users of the machine.
    #[arg(
        long,
        global = true,
        env = "HOOKGATE_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

pub struct AdminClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new(config: &Config, args: &AdminArgs) -> anyhow::Result<AdminClient> {
        let base = match (&args.url, &config.server.public_url) {
            (Some(u), _) | (None, Some(u)) => u.clone(),
            (None, None) => {
                let mut addr = config.server.listen;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{addr}")
            }
        };
        let token = match (&args.token, &config.admin.token) {
            (Some(t), _) => t.clone(),
            (None, Some(r)) => {
                let secret = r.resolve().map_err(|e| anyhow!("admin.token: {e}"))?;
                String::from_utf8(secret.expose().to_vec())
                    .map_err(|_| anyhow!("admin.token is not UTF-8"))?
            }
            (None, None) => bail!("no admin token: set admin.token in the config or pass --token"),
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(AdminClient {
            base: base.trim_end_matches('/').to_string(),
            token,
            http,
        })
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        let req = self.http.get(format!("{}{path}", self.base)).query(query);
        self.send(req).await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let mut req = self.http.post(format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req).await
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("calling the admin API at {}", self.base))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let code = body["code"].as_str().unwrap_or("http_error");
            let detail = body["detail"].as_str().unwrap_or(text.trim());
            bail!("{} {code}: {detail}", status.as_u16());
        }
        Ok(body)
    }
}
