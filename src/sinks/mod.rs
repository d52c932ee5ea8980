//! Sinks: where a claimed delivery goes. One file per kind; each is built from its handler's
//! config and knows nothing about leases or retries (the dispatcher owns those).
//!
//! The trait is deliberately small so broker sinks (NATS JetStream, RabbitMQ, Kafka) fit it:
//! send one delivery, report how it went, and say whether the destination is reachable.

pub mod http;
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
    })
}
