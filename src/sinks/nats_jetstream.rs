//! `nats_jetstream` sink: publish each delivery to a JetStream subject and count it only after
//! the stream's publish acknowledgement.
//!
//! The subject comes from a template (default `hookgate.{source}.{type}`); placeholder values
//! have every character that is not valid inside a subject token (space, `.`, `*`, `>`,
//! control characters) replaced by `_`, and an empty value (an event without a type) becomes
//! `_`. Headers: `Nats-Msg-Id` = the idempotency key (so JetStream's duplicate window drops a
//! redelivered copy), plus the shared `idempotency-key`, `hookgate-event-type`,
//! `hookgate-source`, `hookgate-attempt` and `hookgate-record-id` headers.
//!
//! At start ([`Sink::prepare`]) the stream that must hold the subjects is checked: the
//! handler's `stream` (created with the template's subjects when `create_stream = true`), or
//! else any stream whose subjects cover the template. No such stream is a configuration error.
//! A NATS server that cannot be reached at start only delays deliveries; the same check then
//! runs on the first connection, and fails deliveries (retryably) until it passes.

use super::{
    idempotency_key, Sink, SinkOutcome, Template, ATTEMPT_HEADER, EVENT_TYPE_HEADER,
    IDEMPOTENCY_KEY_HEADER, RECORD_ID_HEADER, SOURCE_HEADER,
};
use crate::config::HandlerConfig;
use crate::store::ClaimedDelivery;
use async_nats::jetstream::{self, stream};
use async_trait::async_trait;
use futures::TryStreamExt;
use std::time::Duration;
use tokio::sync::Mutex;

pub const DEFAULT_SUBJECT: &str = "hookgate.{source}.{type}";
/// JetStream's own message-id header, deduplicated within the stream's duplicate window.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// The handler's subject template, checked: it must render to a valid subject.
pub fn subject_template(cfg: &HandlerConfig) -> Result<Template, String> {
    let text = cfg.subject.as_deref().unwrap_or(DEFAULT_SUBJECT);
    let t = Template::parse(text)?;
    let sample = t.fill("x");
    if !sample
        .split('.')
        .all(|tok| !tok.is_empty() && tok.chars().all(valid_token_char))
    {
        return Err(format!(
            "`{text}` is not a valid subject: tokens are separated by single dots and may not be empty or contain spaces, `*` or `>`"
        ));
    }
    Ok(t)
}

/// Stream names: no spaces, `.`, `*`, `>`, path separators or control characters.
pub fn valid_stream_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| valid_token_char(c) && c != '/' && c != '\\' && c != '.' && !c.is_whitespace())
}

fn valid_token_char(c: char) -> bool {
    !(c == '.' || c == '*' || c == '>' || c.is_whitespace() || c.is_control())
}

/// A placeholder value made safe as (part of) one subject token.
pub fn token(value: &str) -> String {
    if value.is_empty() {
        return "_".into();
    }
    value
        .chars()
        .map(|c| if valid_token_char(c) { c } else { '_' })
        .collect()
}

/// Whether every subject matched by `subject` (which may hold `*` tokens) is matched by the
/// stream subject `filter` (which may hold `*` and a final `>`).
pub fn covers(filter: &str, subject: &str) -> bool {
    let mut f = filter.split('.');
    let mut s = subject.split('.');
    loop {
        match (f.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(t)) if t != ">" => {}
            (Some(a), Some(b)) if a == b && a != ">" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Header values may not hold line breaks.
fn header_value(v: &str) -> String {
    v.chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect()
}

pub struct NatsJetStreamSink {
    url: String,
    subject: Template,
    /// `subject` with every placeholder as `*`: what the stream must cover.
    pattern: String,
    stream: Option<String>,
    create_stream: bool,
    timeout: Duration,
    /// Connected lazily; once connected, async-nats reconnects by itself.
    conn: Mutex<Option<jetstream::Context>>,
    /// Set once the stream check passed on some connection.
    checked: tokio::sync::OnceCell<()>,
}

impl NatsJetStreamSink {
    pub fn new(cfg: &HandlerConfig) -> anyhow::Result<Self> {
        let subject = subject_template(cfg).map_err(|e| anyhow::anyhow!(e))?;
        let pattern = subject
            .fill("\u{0}")
            .split('.')
            .map(|t| if t.contains('\u{0}') { "*" } else { t })
            .collect::<Vec<_>>()
            .join(".");
        Ok(NatsJetStreamSink {
            url: cfg.url.clone(),
            subject,
            pattern,
            stream: cfg.stream.clone(),
            create_stream: cfg.create_stream,
            timeout: cfg.timeout,
            conn: Mutex::new(None),
            checked: tokio::sync::OnceCell::new(),
        })
    }

    /// The subject a delivery is published to.
    pub fn subject_of(&self, d: &ClaimedDelivery) -> String {
        self.subject.render(d, token)
    }

    async fn context(&self) -> Result<jetstream::Context, String> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(self.timeout)
            .connect(self.url.as_str())
            .await
            // The kind only: the error may carry the URL and its credentials.
            .map_err(|e| format!("NATS connection failed: {}", e.kind()))?;
        let mut js = jetstream::new(client);
        js.set_timeout(self.timeout);
        *guard = Some(js.clone());
        Ok(js)
    }

    /// The stream check: `Ok` when a stream covers the subjects (created if asked).
    async fn check_stream(&self, js: &jetstream::Context) -> Result<(), String> {
        self.checked
            .get_or_try_init(|| async {
                match &self.stream {
                    Some(name) => self.check_named(js, name).await,
                    None => self.find_covering(js).await,
                }
            })
            .await
            .map(|_| ())
    }

    async fn check_named(&self, js: &jetstream::Context, name: &str) -> Result<(), String> {
        let info = match js.get_stream(name).await {
            Ok(mut s) => s
                .info()
                .await
                .map_err(|e| format!("cannot read stream `{name}`: {}", e.kind()))?
                .clone(),
            Err(e) if is_not_found(&e) && self.create_stream => {
                let created = js
                    .create_stream(stream::Config {
                        name: name.to_string(),
                        subjects: vec![self.pattern.clone()],
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| format!("cannot create stream `{name}`: {}", e.kind()))?;
                tracing::info!(stream = name, subjects = %self.pattern, "created JetStream stream");
                created.cached_info().clone()
            }
            Err(e) if is_not_found(&e) => {
                return Err(format!(
                    "JetStream stream `{name}` does not exist (create it with subjects `{}`, or set create_stream = true)",
                    self.pattern
                ))
            }
            Err(e) => return Err(format!("cannot look up stream `{name}`: {}", e.kind())),
        };
        if info
            .config
            .subjects
            .iter()
            .any(|f| covers(f, &self.pattern))
        {
            Ok(())
        } else {
            Err(format!(
                "JetStream stream `{name}` has subjects {:?}, which do not cover `{}`",
                info.config.subjects, self.pattern
            ))
        }
    }

    async fn find_covering(&self, js: &jetstream::Context) -> Result<(), String> {
        let mut streams = js.streams();
        while let Some(info) = streams
            .try_next()
            .await
            .map_err(|e| format!("cannot list JetStream streams: {}", e.kind()))?
        {
            if info
                .config
                .subjects
                .iter()
                .any(|f| covers(f, &self.pattern))
            {
                return Ok(());
            }
        }
        Err(format!(
            "no JetStream stream covers the subjects `{}` (create one, or set `stream` and create_stream = true)",
            self.pattern
        ))
    }
}

fn is_not_found(e: &jetstream::context::GetStreamError) -> bool {
    matches!(
        e.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(j)
            if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
    )
}

#[async_trait]
impl Sink for NatsJetStreamSink {
    async fn deliver(&self, d: &ClaimedDelivery, attempt: u32) -> SinkOutcome {
        let js = match self.context().await {
            Ok(c) => c,
            Err(e) => return SinkOutcome::retryable(e),
        };
        if let Err(e) = self.check_stream(&js).await {
            return SinkOutcome::retryable(e);
        }
        let key = idempotency_key(d);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(MSG_ID_HEADER, header_value(&key));
        headers.insert(IDEMPOTENCY_KEY_HEADER, header_value(&key));
        headers.insert(SOURCE_HEADER, header_value(&d.event.source));
        headers.insert(ATTEMPT_HEADER, attempt.to_string());
        headers.insert(RECORD_ID_HEADER, d.event.id.to_string());
        if let Some(t) = &d.event.event_type {
            headers.insert(EVENT_TYPE_HEADER, header_value(t));
        }
        if let Some(ct) = d.headers.get("content-type").and_then(|v| v.as_str()) {
            headers.insert("content-type", header_value(ct));
        }
        let ack = match js
            .publish_with_headers(self.subject_of(d), headers, d.body.clone())
            .await
        {
            Ok(ack) => ack,
            Err(e) => return SinkOutcome::retryable(format!("publish failed: {}", e.kind())),
        };
        // Only the stream's acknowledgement makes it delivered; a timeout or a lost
        // connection is retried (a copy that did land is dropped by `Nats-Msg-Id`).
        match ack.await {
            Ok(_) => SinkOutcome::delivered(None),
            Err(e) => SinkOutcome::retryable(format!("no JetStream acknowledgement: {}", e.kind())),
        }
    }

    async fn healthcheck(&self) -> Result<(), String> {
        let js = self.context().await?;
        js.query_account()
            .await
            .map(|_| ())
            .map_err(|e| format!("JetStream account info failed: {}", e.kind()))
    }

    async fn prepare(&self) -> anyhow::Result<()> {
        match self.context().await {
            Ok(js) => self.check_stream(&js).await.map_err(anyhow::Error::msg),
            Err(e) => {
                tracing::warn!(error = %e, "NATS unreachable at start; the stream is checked on the first connection");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_replace_what_a_subject_token_cannot_hold() {
        assert_eq!(token("invoice.paid"), "invoice_paid");
        assert_eq!(token("a b*c>d\te\u{7f}"), "a_b_c_d_e_");
        assert_eq!(token(""), "_");
        assert_eq!(token("ok-Ü_1"), "ok-Ü_1");
    }

    #[test]
    fn coverage_is_a_subset_match() {
        assert!(covers("hookgate.>", "hookgate.*.*"));
        assert!(covers("hookgate.*.*", "hookgate.*.*"));
        assert!(covers("*.*.*", "hookgate.*.*"));
        assert!(!covers("hookgate.stripe.*", "hookgate.*.*"));
        assert!(!covers("hookgate.*", "hookgate.*.*"));
        assert!(!covers("hookgate.*.*.*", "hookgate.*.*"));
        assert!(!covers("other.>", "hookgate.*.*"));
        assert!(!covers("hookgate.>", "hookgate"));
    }
}
