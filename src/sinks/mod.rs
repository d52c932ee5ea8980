//! Sinks: where a claimed delivery goes. One file per kind; each is built from its handler's
//! config and knows nothing about leases or retries (the dispatcher owns those).
//!
//! The trait is deliberately small so broker sinks (NATS JetStream, RabbitMQ, Kafka) fit it:
//! send one delivery, report how it went, and say whether the destination is reachable.

pub mod http;
pub mod nats_jetstream;
pub mod rabbitmq;
pub mod redis_stream;

use crate::config::{HandlerConfig, HandlerKind};
use crate::dispatch::retry::{AttemptResult, RetryPolicy};
use crate::store::ClaimedDelivery;
use async_trait::async_trait;
use hookgate_providers::Secret;
use std::sync::Arc;

/// `{source}:{event_id}`: the stable key every sink gives handlers to dedupe on.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
pub const EVENT_TYPE_HEADER: &str = "hookgate-event-type";
pub const SOURCE_HEADER: &str = "hookgate-source";
pub const ATTEMPT_HEADER: &str = "hookgate-attempt";
pub const RECORD_ID_HEADER: &str = "hookgate-record-id";

/// The idempotency key of a delivery's event.
pub fn idempotency_key(d: &ClaimedDelivery) -> String {
    format!("{}:{}", d.event.source, d.event.event_id)
}

/// How one attempt went.
#[derive(Debug, Clone)]
pub struct SinkOutcome {
    pub result: AttemptResult,
    /// The HTTP status, for sinks that have one.
    pub status: Option<u16>,
    /// What went wrong, for operators (never secrets).
    pub error: Option<String>,
}

impl SinkOutcome {
    pub fn delivered(status: Option<u16>) -> Self {
        SinkOutcome {
            result: AttemptResult::Delivered,
            status,
            error: None,
        }
    }
    pub fn retryable(error: impl Into<String>) -> Self {
        SinkOutcome {
            result: AttemptResult::Retryable { retry_after: None },
            status: None,
            error: Some(error.into()),
        }
    }
}

#[async_trait]
pub trait Sink: Send + Sync {
    /// Send attempt number `attempt` (1-based) of `delivery`.
    async fn deliver(&self, delivery: &ClaimedDelivery, attempt: u32) -> SinkOutcome;
    /// Whether the destination is reachable (for readiness and the dashboard).
    async fn healthcheck(&self) -> Result<(), String>;
    /// Checks made once at start, before the gateway listens: an error is a configuration
    /// error and start-up fails (e.g. a NATS subject no JetStream stream covers). A
    /// destination that is merely unreachable is not an error here; deliveries retry.
    async fn prepare(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A subject or routing-key template: literal text with `{source}` and `{type}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Source,
    Type,
}

impl Template {
    /// Parse `text`; unknown placeholders and unbalanced braces are errors.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.to_string()));
                    break;
                }
                Some(i) if rest.as_bytes()[i] == b'}' => {
                    return Err(format!("unbalanced `}}` in template `{text}`"))
                }
                Some(i) => {
                    if i > 0 {
                        parts.push(Part::Literal(rest[..i].to_string()));
                    }
                    let end = rest[i..]
                        .find('}')
                        .ok_or_else(|| format!("unclosed `{{` in template `{text}`"))?;
                    parts.push(match &rest[i + 1..i + end] {
                        "source" => Part::Source,
                        "type" => Part::Type,
                        other => {
                            return Err(format!(
                                "unknown placeholder `{{{other}}}` in template `{text}` (use {{source}} and {{type}})"
                            ))
                        }
                    });
                    rest = &rest[i + end + 1..];
                }
            }
        }
        Ok(Template { parts })
    }

    /// The template with each placeholder replaced by `value(placeholder value)`; an event
    /// without a type has the empty string as its type.
    pub fn render(&self, d: &ClaimedDelivery, value: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Source => out.push_str(&value(&d.event.source)),
                Part::Type => out.push_str(&value(d.event.event_type.as_deref().unwrap_or(""))),
            }
        }
        out
    }

    /// The template with every placeholder replaced by `with` (validation, wildcards).
    pub fn fill(&self, with: &str) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Source | Part::Type => out.push_str(with),
            }
        }
        out
    }
}

/// Build the sink of one handler.
pub fn build(
    cfg: &HandlerConfig,
    secret: Option<&Secret>,
    policy: &RetryPolicy,
) -> anyhow::Result<Arc<dyn Sink>> {
    Ok(match cfg.kind {
        HandlerKind::Http => {
            let secret = secret
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("http handler without a signing secret"))?;
            Arc::new(http::HttpSink::new(cfg, secret, policy.clone())?)
        }
        HandlerKind::RedisStream => Arc::new(redis_stream::RedisStreamSink::new(cfg)?),
        HandlerKind::NatsJetstream => Arc::new(nats_jetstream::NatsJetStreamSink::new(cfg)?),
        HandlerKind::Rabbitmq => Arc::new(rabbitmq::RabbitMqSink::new(cfg)?),
    })
}
