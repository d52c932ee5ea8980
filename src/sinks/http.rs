//! `http` sink: POST the original body to the handler's URL.
//!
//! Each request carries `Idempotency-Key: {source}:{event_id}` (stable across attempts and
//! replays, so the handler can dedupe), the event type, the source, the attempt number, and a
//! Standard Webhooks signature (`webhook-id` = the idempotency key) made with the handler's
//! secret, so the handler can verify the request came from hookgate with any Standard
//! Webhooks library. Redirects are not followed: a 3xx is an answer, not a success.

use super::{
    idempotency_key, Sink, SinkOutcome, ATTEMPT_HEADER, EVENT_TYPE_HEADER, IDEMPOTENCY_KEY_HEADER,
    RECORD_ID_HEADER, SOURCE_HEADER,
};
use crate::config::HandlerConfig;
use crate::dispatch::retry::{parse_retry_after, RetryPolicy};
use crate::store::ClaimedDelivery;
use async_trait::async_trait;
use hookgate_providers::Secret;
use std::time::SystemTime;

pub struct HttpSink {
    client: reqwest::Client,
    /// Parsed once: every delivery goes to the same URL.
    url: reqwest::Url,
    /// How long an answer's body may take to arrive after its status.
    timeout: std::time::Duration,
    secret: Secret,
    policy: RetryPolicy,
}

impl HttpSink {
    pub fn new(cfg: &HandlerConfig, secret: Secret, policy: RetryPolicy) -> anyhow::Result<Self> {
        // No client timeout: the dispatcher bounds each attempt (headers and body) by the
        // handler's `timeout` already, and a second timer per request costs for nothing.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hookgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpSink {
            client,
            url: reqwest::Url::parse(&cfg.url)?,
            timeout: cfg.timeout,
            secret,
            policy,
        })
    }
}

#[async_trait]
impl Sink for HttpSink {
    async fn deliver(&self, d: &ClaimedDelivery, attempt: u32) -> SinkOutcome {
        let key = idempotency_key(d);
        let signed = match hookgate_providers::standard_webhooks::sign_headers(
            &self.secret,
            &key,
            SystemTime::now(),
            &d.body,
        ) {
            Ok(h) => h,
            Err(e) => return SinkOutcome::retryable(format!("cannot sign: {e}")),
        };
        let content_type = d
            .headers
            .get("content-type")
            .and_then(|v| v.as_str())
            .unwrap_or("application/octet-stream");
        let mut req = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(IDEMPOTENCY_KEY_HEADER, &key)
            .header(SOURCE_HEADER, &d.event.source)
            .header(ATTEMPT_HEADER, attempt.to_string())
            .header(RECORD_ID_HEADER, d.event.id.to_string())
            .body(d.body.clone());
        if let Some(t) = &d.event.event_type {
            req = req.header(EVENT_TYPE_HEADER, t);
        }
        for (k, v) in signed {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let result = self.policy.classify_status(status, retry_after);
                // The status decides; the body is read apart from the attempt, so a slow one
                // cannot turn an answer into a timeout.
                tokio::spawn(tokio::time::timeout(self.timeout, drain_body(resp)));
                let error =
                    (!(200..300).contains(&status)).then(|| format!("handler answered {status}"));
                SinkOutcome {
                    result,
                    status: Some(status),
                    error,
                }
            }
            Err(e) if e.is_timeout() => SinkOutcome::retryable("timed out"),
            Err(e) if e.is_connect() => SinkOutcome::retryable("connection failed"),
            Err(e) => SinkOutcome::retryable(format!("request failed: {}", without_url(&e))),
        }
    }

    async fn healthcheck(&self) -> Result<(), String> {
        // Any answer (even 404/405 to HEAD) proves the endpoint is reachable.
        self.client
            .head(self.url.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| without_url(&e))
    }
}

/// Read (and discard) the answer's body, up to [`DRAIN_LIMIT`], so the connection goes back
/// to the pool: one dropped before its end is closed, and the next delivery would pay for a
/// new connection. A handler that answers with more than that gets its connection closed.
async fn drain_body(mut resp: reqwest::Response) {
    let mut read = 0usize;
    while let Ok(Some(chunk)) = resp.chunk().await {
        read += chunk.len();
        if read > DRAIN_LIMIT {
            break;
        }
    }
}

/// The most of an answer's body read to keep its connection.
const DRAIN_LIMIT: usize = 64 * 1024;

/// reqwest errors print the URL, which may carry credentials in userinfo or the query.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "<handler url>");
    }
    s
}
