//! `redis_stream` sink: `XADD` each delivery to a Redis stream.
//!
//! Entry fields: `id` (the hookgate record id), `key` (`{source}:{event_id}`, the idempotency
//! key), `source`, `type`, `received_at` (Unix ms), `attempt`, `body` (raw bytes). An optional
//! approximate `MAXLEN ~ n` trims the stream. Consumers should read with consumer groups
//! (`XREADGROUP`, `XACK`) and dedupe on `key`: a retried or replayed delivery appends again.

use super::{idempotency_key, Sink, SinkOutcome};
use crate::config::HandlerConfig;
use crate::store::ClaimedDelivery;
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use tokio::sync::Mutex;

pub struct RedisStreamSink {
    client: redis::Client,
    stream: String,
    maxlen: Option<usize>,
    /// Connected lazily, so a Redis that is down at start delays deliveries, not start-up.
    conn: Mutex<Option<ConnectionManager>>,
}

impl RedisStreamSink {
    pub fn new(cfg: &HandlerConfig) -> anyhow::Result<Self> {
        Ok(RedisStreamSink {
            client: redis::Client::open(cfg.url.as_str())?,
            stream: cfg.stream.clone().unwrap_or_default(),
            maxlen: cfg.maxlen,
            conn: Mutex::new(None),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, String> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let c = ConnectionManager::new(self.client.clone())
            .await
            .map_err(|e| format!("redis connection failed: {}", e.kind_description()))?;
        *guard = Some(c.clone());
        Ok(c)
    }
}

trait KindDescription {
    fn kind_description(&self) -> String;
}

impl KindDescription for redis::RedisError {
    /// The error category only: Redis errors may echo the URL (and its password).
    fn kind_description(&self) -> String {
        format!("{:?}", self.kind())
    }
}

#[async_trait]
impl Sink for RedisStreamSink {
    async fn deliver(&self, d: &ClaimedDelivery, attempt: u32) -> SinkOutcome {
        let mut conn = match self.connection().await {
            Ok(c) => c,
            Err(e) => return SinkOutcome::retryable(e),
        };
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&self.stream);
        if let Some(n) = self.maxlen {
            cmd.arg("MAXLEN").arg("~").arg(n);
        }
        cmd.arg("*")
            .arg("id")
            .arg(d.event.id.to_string())
            .arg("key")
            .arg(idempotency_key(d))
            .arg("source")
            .arg(&d.event.source)
            .arg("type")
            .arg(d.event.event_type.as_deref().unwrap_or(""))
            .arg("received_at")
            .arg(d.event.received_at_ms)
            .arg("attempt")
            .arg(attempt)
            .arg("body")
            .arg(d.body.as_ref());
        match cmd.query_async::<String>(&mut conn).await {
            Ok(_) => SinkOutcome::delivered(None),
            Err(e) => SinkOutcome::retryable(format!("XADD failed: {}", e.kind_description())),
        }
    }

    async fn healthcheck(&self) -> Result<(), String> {
        let mut conn = self.connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.kind_description())
    }
}
