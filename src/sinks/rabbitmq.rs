//! `rabbitmq` sink: publish each delivery to an AMQP 0-9-1 exchange and count it only after
//! the broker's publisher confirm.
//!
//! The channel is in confirm mode; every message is published `mandatory`, persistent
//! (delivery mode 2), with `message_id` = the idempotency key, the original content type, and
//! the shared `idempotency-key`, `hookgate-event-type`, `hookgate-source`, `hookgate-attempt`
//! and `hookgate-record-id` headers. The routing key comes from a template (default
//! `{source}.{type}`, placeholder values as they are, cut to AMQP's 255 bytes).
//!
//! Outcomes: an ack is delivered; a nack, a returned message (no queue is bound for the
//! routing key), a closed channel or a lost connection is a failed, retryable attempt. The
//! connection is made lazily and made again on the next delivery after it was lost.

use super::{
    idempotency_key, Sink, SinkOutcome, Template, ATTEMPT_HEADER, EVENT_TYPE_HEADER,
    IDEMPOTENCY_KEY_HEADER, RECORD_ID_HEADER, SOURCE_HEADER,
};
use crate::config::HandlerConfig;
use crate::store::ClaimedDelivery;
use async_trait::async_trait;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;

pub const DEFAULT_ROUTING_KEY: &str = "{source}.{type}";
/// AMQP's limit on a routing key (a short string).
const MAX_ROUTING_KEY: usize = 255;

/// The handler's routing-key template, checked.
pub fn routing_key_template(cfg: &HandlerConfig) -> Result<Template, String> {
    let text = cfg.routing_key.as_deref().unwrap_or(DEFAULT_ROUTING_KEY);
    let t = Template::parse(text)?;
    if t.fill("").len() > MAX_ROUTING_KEY {
        return Err(format!(
            "the literal part of `{text}` is longer than {MAX_ROUTING_KEY} bytes"
        ));
    }
    Ok(t)
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

struct Link {
    /// Kept so the connection lives as long as its channel.
    _connection: Connection,
    channel: Channel,
}

pub struct RabbitMqSink {
    url: String,
    exchange: String,
    routing_key: Template,
    link: Mutex<Option<Link>>,
}

impl RabbitMqSink {
    pub fn new(cfg: &HandlerConfig) -> anyhow::Result<Self> {
        Ok(RabbitMqSink {
            url: cfg.url.clone(),
            exchange: cfg.exchange.clone().unwrap_or_default(),
            routing_key: routing_key_template(cfg).map_err(|e| anyhow::anyhow!(e))?,
            link: Mutex::new(None),
        })
    }

    /// The routing key of a delivery.
    pub fn routing_key_of(&self, d: &ClaimedDelivery) -> String {
        truncate(self.routing_key.render(d, str::to_string), MAX_ROUTING_KEY)
    }

    /// A channel in confirm mode, connecting (again) when there is none or it was lost.
    async fn channel(&self) -> Result<Channel, String> {
        let mut guard = self.link.lock().await;
        if let Some(link) = guard.as_ref() {
            if link.channel.status().connected() {
                return Ok(link.channel.clone());
            }
            tracing::info!(
                "RabbitMQ channel lost ({:?}); reconnecting",
                link.channel.status().state()
            );
            *guard = None;
        }
        let props = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio::current())
            // One TCP attempt per delivery: the dispatcher's retries are the backoff.
            .configure_backoff(|b| *b = b.with_max_times(0));
        // lapin errors name what failed, never the URL (which may hold the password).
        let connection = Connection::connect(&self.url, props)
            .await
            .map_err(|e| format!("RabbitMQ connection failed: {e}"))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| format!("cannot open a RabbitMQ channel: {e}"))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| format!("cannot enable publisher confirms: {e}"))?;
        *guard = Some(Link {
            _connection: connection,
            channel: channel.clone(),
        });
        Ok(channel)
    }

    fn properties(&self, d: &ClaimedDelivery, attempt: u32) -> BasicProperties {
        let key = idempotency_key(d);
        let mut headers = FieldTable::default();
        let mut put = |name: &str, value: String| {
            headers.insert(
                ShortString::from(name),
                AMQPValue::LongString(LongString::from(value)),
            );
        };
        put(IDEMPOTENCY_KEY_HEADER, key.clone());
        put(SOURCE_HEADER, d.event.source.clone());
        put(ATTEMPT_HEADER, attempt.to_string());
        put(RECORD_ID_HEADER, d.event.id.to_string());
        if let Some(t) = &d.event.event_type {
            put(EVENT_TYPE_HEADER, t.clone());
        }
        let mut props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(ShortString::from(truncate(key, 255)))
            .with_timestamp((d.event.received_at_ms / 1000).max(0) as u64)
            .with_headers(headers);
        if let Some(ct) = d.headers.get("content-type").and_then(|v| v.as_str()) {
            props = props.with_content_type(ShortString::from(truncate(ct.to_string(), 255)));
        }
        props
    }
}

#[async_trait]
impl Sink for RabbitMqSink {
    async fn deliver(&self, d: &ClaimedDelivery, attempt: u32) -> SinkOutcome {
        let channel = match self.channel().await {
            Ok(c) => c,
            Err(e) => return SinkOutcome::retryable(e),
        };
        let confirm = match channel
            .basic_publish(
                &self.exchange,
                &self.routing_key_of(d),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                &d.body,
                self.properties(d, attempt),
            )
            .await
        {
            Ok(c) => c,
            Err(e) => return SinkOutcome::retryable(format!("publish failed: {e}")),
        };
        // Only the broker's ack makes it delivered; a lost connection fails the confirm.
        match confirm.await {
            Ok(Confirmation::Ack(None)) => SinkOutcome::delivered(None),
            Ok(Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned))) => {
                SinkOutcome::retryable(format!(
                    "returned by the broker: {} {} (no queue bound for routing key `{}` on exchange `{}`?)",
                    returned.reply_code,
                    returned.reply_text.as_str(),
                    self.routing_key_of(d),
                    self.exchange
                ))
            }
            Ok(Confirmation::Nack(None)) => SinkOutcome::retryable("nacked by the broker"),
            Ok(Confirmation::NotRequested) => {
                SinkOutcome::retryable("the channel is not in confirm mode")
            }
            Err(e) => SinkOutcome::retryable(format!("no publisher confirm: {e}")),
        }
    }

    async fn healthcheck(&self) -> Result<(), String> {
        self.channel().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("abc".into(), 5), "abc");
        assert_eq!(truncate("aéb".into(), 2), "a");
        assert_eq!(truncate("x".repeat(300), 255).len(), 255);
    }
}
