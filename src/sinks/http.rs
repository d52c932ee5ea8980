//! `http` sink: POST the original body to the handler's URL.
//!
//! Each request carries `Idempotency-Key: {source}:{event_id}` (stable across attempts and
//! replays, so the handler can dedupe), the event type, the source, the attempt number, and a
//! Standard Webhooks signature (`webhook-id` = the idempotency key) made with the handler's
//! secret, so the handler can verify the request came from hookgate with any Standard
//! Webhooks library. Redirects are not followed: a 3xx is an answer, not a success.
//! Credentials in the URL's userinfo are sent as `Authorization: Basic`, never in the URL.
//!
//! The client is hyper's pooled HTTP/1.1 client (TLS through rustls with the Web PKI roots)
//! with keep-alive connections reused across deliveries. Per delivery it builds one request
//! head; there is no redirect or retry machinery (the dispatcher owns retries and the attempt
//! timeout), and an answer without a body costs no task to drain it.

use super::{
    idempotency_key, Sink, SinkOutcome, ATTEMPT_HEADER, EVENT_TYPE_HEADER, IDEMPOTENCY_KEY_HEADER,
    RECORD_ID_HEADER, SOURCE_HEADER,
};
use crate::config::HandlerConfig;
use crate::dispatch::retry::{parse_retry_after, RetryPolicy};
use crate::store::ClaimedDelivery;
use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use hookgate_providers::standard_webhooks::{Key, WEBHOOK_HEADERS};
use hookgate_providers::{Secret, SignError};
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, SystemTime};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

pub struct HttpSink {
    client: Client<Connector, Full<Bytes>>,
    /// The handler's URL without userinfo; every delivery goes there.
    uri: Uri,
    /// `Basic` credentials from the URL's userinfo, marked sensitive.
    authorization: Option<HeaderValue>,
    /// How long an answer's body may take to arrive after its status.
    timeout: Duration,
    /// The handler's secret decoded once (not per delivery); a secret that cannot sign fails
    /// each attempt with the reason, as a retryable error an operator sees and can fix.
    key: Result<Key, SignError>,
    policy: RetryPolicy,
}

/// Header names of every delivery, parsed once.
const H_IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static(IDEMPOTENCY_KEY_HEADER);
const H_SOURCE: HeaderName = HeaderName::from_static(SOURCE_HEADER);
const H_ATTEMPT: HeaderName = HeaderName::from_static(ATTEMPT_HEADER);
const H_RECORD_ID: HeaderName = HeaderName::from_static(RECORD_ID_HEADER);
const H_EVENT_TYPE: HeaderName = HeaderName::from_static(EVENT_TYPE_HEADER);
const H_WEBHOOK_ID: HeaderName = HeaderName::from_static(WEBHOOK_HEADERS.id);
const H_WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static(WEBHOOK_HEADERS.timestamp);
const H_WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static(WEBHOOK_HEADERS.signature);

impl HttpSink {
    pub fn new(cfg: &HandlerConfig, secret: Secret, policy: RetryPolicy) -> anyhow::Result<Self> {
        let (uri, authorization) = split_userinfo(&cfg.url)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        // No client timeout: the dispatcher bounds each attempt by the handler's `timeout`.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(HttpSink {
            client,
            uri,
            authorization,
            timeout: cfg.timeout,
            key: Key::for_signing(&secret),
            policy,
        })
    }

    /// A request to the handler's URL with the headers every request carries.
    fn request(&self, method: Method) -> http::request::Builder {
        let req = Request::builder()
            .method(method)
            .uri(self.uri.clone())
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        match &self.authorization {
            Some(auth) => req.header(AUTHORIZATION, auth.clone()),
            None => req,
        }
    }
}

const USER_AGENT_VALUE: &str = concat!("hookgate/", env!("CARGO_PKG_VERSION"));

#[async_trait]
impl Sink for HttpSink {
    async fn deliver(&self, d: &ClaimedDelivery, attempt: u32) -> SinkOutcome {
        let key = idempotency_key(d);
        let timestamp = hookgate_providers::signature::unix_seconds(SystemTime::now());
        let signature = match self.key.as_ref() {
            Ok(k) => k.sign(&key, timestamp, &d.body),
            Err(e) => Err(e.clone()),
        };
        let signature = match signature {
            Ok(s) => s,
            Err(e) => return SinkOutcome::retryable(format!("cannot sign: {e}")),
        };
        let content_type = d
            .headers
            .get("content-type")
            .and_then(|v| v.as_str())
            .unwrap_or("application/octet-stream");
        let mut req = self
            .request(Method::POST)
            .header(CONTENT_TYPE, content_type)
            .header(H_IDEMPOTENCY_KEY, &key)
            .header(H_SOURCE, &d.event.source)
            .header(H_ATTEMPT, attempt)
            .header(H_RECORD_ID, d.event.id.to_string());
        if let Some(t) = &d.event.event_type {
            req = req.header(H_EVENT_TYPE, t);
        }
        let req = req
            .header(H_WEBHOOK_ID, key)
            .header(H_WEBHOOK_TIMESTAMP, timestamp)
            .header(H_WEBHOOK_SIGNATURE, signature);
        let req = match req.body(Full::new(d.body.clone())) {
            Ok(req) => req,
            // A value a header cannot carry (a control character in an event id or type).
            Err(e) => return SinkOutcome::retryable(format!("cannot build the request: {e}")),
        };
        match self.client.request(req).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let result = self.policy.classify_status(status, retry_after);
                // The status decides; a body is read apart from the attempt, so a slow one
                // cannot turn an answer into a timeout.
                let body = resp.into_body();
                if !body.is_end_stream() {
                    tokio::spawn(tokio::time::timeout(self.timeout, drain_body(body)));
                }
                let error =
                    (!(200..300).contains(&status)).then(|| format!("handler answered {status}"));
                SinkOutcome {
                    result,
                    status: Some(status),
                    error,
                }
            }
            Err(e) if e.is_connect() => SinkOutcome::retryable("connection failed"),
            Err(e) => SinkOutcome::retryable(format!("request failed: {}", error_chain(&e))),
        }
    }

    async fn healthcheck(&self) -> Result<(), String> {
        // Any answer (even 404/405 to HEAD) proves the endpoint is reachable.
        let req = self
            .request(Method::HEAD)
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        match self.client.request(req).await {
            Ok(resp) => {
                let body = resp.into_body();
                if !body.is_end_stream() {
                    tokio::spawn(tokio::time::timeout(self.timeout, drain_body(body)));
                }
                Ok(())
            }
            Err(e) => Err(error_chain(&e)),
        }
    }
}

/// Read (and discard) the answer's body, up to [`DRAIN_LIMIT`], so the connection goes back
/// to the pool: one dropped before its end is closed, and the next delivery would pay for a
/// new connection. A handler that answers with more than that gets its connection closed.
async fn drain_body(mut body: Incoming) {
    let mut read = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        read += frame.data_ref().map_or(0, Bytes::len);
        if read > DRAIN_LIMIT {
            break;
        }
    }
}

/// The most of an answer's body read to keep its connection.
const DRAIN_LIMIT: usize = 64 * 1024;

/// The error and its causes, one line. hyper's errors name neither the URL nor its
/// credentials.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// Parse the handler URL and take its credentials out: `http://user:pass@host/…` is called
/// as `http://host/…` with `Authorization: Basic base64(user:pass)` (percent-decoded).
fn split_userinfo(raw: &str) -> anyhow::Result<(Uri, Option<HeaderValue>)> {
    let mut url = url::Url::parse(raw)?;
    if url.username().is_empty() && url.password().is_none() {
        return Ok((url.as_str().parse()?, None));
    }
    let decode = |s: &str| -> anyhow::Result<String> {
        Ok(percent_encoding::percent_decode_str(s)
            .decode_utf8()?
            .into_owned())
    };
    let user = decode(url.username())?;
    let pass = decode(url.password().unwrap_or(""))?;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let mut value = HeaderValue::from_str(&format!("Basic {token}"))?;
    value.set_sensitive(true);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok((url.as_str().parse()?, Some(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_becomes_basic_auth_and_leaves_the_url() {
        let (uri, auth) = split_userinfo("http://us%40er:p%3Ass@127.0.0.1:9000/hook?x=1").unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:9000/hook?x=1");
        let auth = auth.unwrap();
        assert!(auth.is_sensitive());
        let expected = base64::engine::general_purpose::STANDARD.encode("us@er:p:ss");
        assert_eq!(auth.to_str().unwrap(), format!("Basic {expected}"));
    }

    #[test]
    fn a_plain_url_has_no_credentials() {
        let (uri, auth) = split_userinfo("https://example.com/events").unwrap();
        assert_eq!(uri.to_string(), "https://example.com/events");
        assert!(auth.is_none());
    }
}
