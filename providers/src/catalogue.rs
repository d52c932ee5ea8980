//! The preset table: every built-in provider that is exactly one generic configuration.
//!
//! One [`PresetRow`] per provider, in the order of `reference/providers.md` and
//! `reference/providers-more.md`. A row is data: the `[sources.<name>.generic]` table the
//! provider amounts to (the TOML an operator would write), the headers worth keeping, the retry
//! horizon and where it comes from, a default tolerance, a handshake kind and, where the
//! generated one would not look like the provider's, an example body. `hookgate providers`,
//! `docs/providers.md` and the vector tests (`preset/tests.rs`) all read this table.
//!
//! Retry horizons carry margin over the documented schedule and never go below the store's
//! one-day floor; where a provider publishes no schedule the horizon is a week, the
//! reference's safe default (`reference/providers-more.md` §6).

use std::time::Duration;

use serde_json::json;

use crate::preset::{json_body, PresetRow};
use crate::Handshake;

const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

/// The row named `name`, if it is a preset.
pub fn preset(name: &str) -> Option<&'static PresetRow> {
    PRESETS.iter().find(|row| row.name == name)
}

fn paddle_example(event_id: &str, event_type: &str) -> Vec<u8> {
    json_body(json!({
        "event_id": event_id,
        "event_type": event_type,
        "notification_id": format!("ntf_{event_id}"),
        "data": {},
    }))
}

fn square_example(event_id: &str, event_type: &str) -> Vec<u8> {
    json_body(json!({
        "merchant_id": "MLHOOKGATE",
        "type": event_type,
        "event_id": event_id,
        "data": {"type": "webhooks", "id": event_id},
    }))
}

fn intercom_example(event_id: &str, event_type: &str) -> Vec<u8> {
    json_body(json!({
        "type": "notification_event",
        "id": event_id,
        "topic": event_type,
        "app_id": "hookgate",
        "delivery_attempts": 1,
        "data": {"type": "notification_event_data", "item": {}},
    }))
}

fn typeform_example(event_id: &str, event_type: &str) -> Vec<u8> {
    json_body(json!({
        "event_id": event_id,
        "event_type": event_type,
        "form_response": {"form_id": "hookgate", "token": event_id, "answers": []},
    }))
}

fn meta_example(event_id: &str, event_type: &str) -> Vec<u8> {
    json_body(json!({
        "object": "page",
        "entry": [{
            "id": event_id,
            "time": 1_700_000_000,
            "changes": [{"field": event_type, "value": {}}],
        }],
    }))
}

fn dropbox_example(event_id: &str, _event_type: &str) -> Vec<u8> {
    json_body(json!({
        "list_folder": {"accounts": [format!("dbid:{event_id}")]},
        "delta": {"users": [12345]},
    }))
}

fn airtable_example(event_id: &str, _event_type: &str) -> Vec<u8> {
    json_body(json!({
        "base": {"id": "appHookgate"},
        "webhook": {"id": event_id},
        "timestamp": "2026-01-01T00:00:00.000Z",
    }))
}

/// Every preset, in reference order.
pub static PRESETS: &[PresetRow] = &[
    PresetRow {
        name: "shopify",
        title: "Shopify",
        generic: r#"
signature_header = "X-Shopify-Hmac-Sha256"
extra_signature_headers = ["Shopify-Hmac-Sha256"]
signature_encoding = "base64"
id_header = "X-Shopify-Event-Id"
id_header_fallbacks = ["Shopify-Event-Id", "X-Shopify-Webhook-Id", "Shopify-Webhook-Id"]
type_header = "X-Shopify-Topic"
type_header_fallbacks = ["Shopify-Topic"]
"#,
        kept_headers: crate::shopify::KEPT_HEADERS,
        retry_horizon: days(2),
        retry_note: "8 tries over 4 h",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Every header is accepted with and without its `X-` prefix (the newer Events delivery drops it); the event id is shared by every webhook of one event, the webhook id is the fallback.",
        hooks: None,
    },
    PresetRow {
        name: "github",
        title: "GitHub",
        generic: r#"
signature_header = "X-Hub-Signature-256"
signature_format = "prefix"
signature_prefix = "sha256="
signature_encoding = "hex"
fallback_signature_header = "X-Hub-Signature"
fallback_signature_prefix = "sha1="
fallback_algorithm = "sha1"
id_header = "X-GitHub-Delivery"
type_header = "X-GitHub-Event"
"#,
        kept_headers: crate::github::KEPT_HEADERS,
        retry_horizon: days(4),
        retry_note: "manual redelivery for 3 days",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "The SHA-1 `X-Hub-Signature` is read only when `X-Hub-Signature-256` is absent, so a request cannot downgrade itself to the weaker MAC.",
        hooks: None,
    },
    PresetRow {
        name: "slack",
        title: "Slack",
        generic: r#"
signature_header = "X-Slack-Signature"
signature_format = "prefix"
signature_prefix = "v0="
signature_encoding = "hex"
signed_content = "v0:{ts}:{body}"
timestamp_header = "X-Slack-Request-Timestamp"
id_json_path = "event_id"
"#,
        kept_headers: crate::slack::KEPT_HEADERS,
        retry_horizon: days(1),
        retry_note: "3 retries in about 6 min",
        tolerance: None,
        handshake: Handshake::Bespoke("url_verification answered with its challenge (signed POST)"),
        example: Some(crate::slack::example_body),
        note: "",
        hooks: Some(&crate::slack::HOOKS),
    },
    PresetRow {
        name: "zoom",
        title: "Zoom",
        generic: r#"
signature_header = "x-zm-signature"
signature_format = "prefix"
signature_prefix = "v0="
signature_encoding = "hex"
signed_content = "v0:{ts}:{body}"
timestamp_header = "x-zm-request-timestamp"
id_from_body_sha256 = true
"#,
        kept_headers: crate::zoom::KEPT_HEADERS,
        retry_horizon: days(1),
        retry_note: "+5, +20, +60 min",
        tolerance: None,
        handshake: Handshake::Bespoke("endpoint.url_validation answered with the encrypted token (signed POST)"),
        example: Some(crate::zoom::example_body),
        note: "",
        hooks: Some(&crate::zoom::HOOKS),
    },
    PresetRow {
        name: "calendly",
        title: "Calendly",
        generic: r#"
signature_header = "Calendly-Webhook-Signature"
signature_format = "kv_list"
signature_encoding = "hex"
signed_content = "{ts}.{body}"
id_from_body_sha256 = true
"#,
        kept_headers: &[],
        retry_horizon: days(2),
        retry_note: "24 h, then disabled",
        tolerance: None,
        handshake: Handshake::None,
        example: Some(crate::calendly::example_body),
        note: "",
        hooks: Some(&crate::calendly::HOOKS),
    },
    PresetRow {
        name: "paddle",
        title: "Paddle Billing",
        generic: r#"
signature_header = "Paddle-Signature"
signature_format = "kv_list"
pair_separator = ";"
signature_key = "h1"
timestamp_key = "ts"
signature_encoding = "hex"
signed_content = "{ts}:{body}"
id_json_path = "event_id"
type_json_path = "event_type"
"#,
        kept_headers: &[],
        retry_horizon: days(4),
        retry_note: "live mode retries up to 60 times over 3 days",
        tolerance: None,
        handshake: Handshake::None,
        example: Some(paddle_example),
        note: "The key is the destination's `pdl_ntfset_…` secret as text. Paddle's SDK allows 5 s of skew; hookgate's default is 5 min.",
        hooks: None,
    },
    PresetRow {
        name: "square",
        title: "Square",
        generic: r#"
signature_header = "x-square-hmacsha256-signature"
signature_encoding = "base64"
signed_content = "{url}{body}"
id_json_path = "event_id"
type_json_path = "type"
"#,
        kept_headers: &["square-retry-number", "square-retry-reason", "square-initial-delivery-timestamp", "square-environment"],
        retry_horizon: days(4),
        retry_note: "retries for up to 72 h",
        tolerance: None,
        handshake: Handshake::None,
        example: Some(square_example),
        note: "Signs the notification URL: set the source's `public_url` to exactly the URL in the subscription.",
        hooks: None,
    },
    PresetRow {
        name: "intercom",
        title: "Intercom",
        generic: r#"
algorithm = "sha1"
signature_header = "X-Hub-Signature"
signature_format = "prefix"
signature_prefix = "sha1="
signature_encoding = "hex"
id_json_path = "id"
type_json_path = "topic"
"#,
        kept_headers: &[],
        retry_horizon: days(2),
        retry_note: "no published schedule; at-least-once over about a day",
        tolerance: None,
        handshake: Handshake::None,
        example: Some(intercom_example),
        note: "Retries change `delivery_attempts`, so the id is the notification `id`, never a body hash.",
        hooks: None,
    },
    PresetRow {
        name: "typeform",
        title: "Typeform",
        generic: r#"
signature_header = "Typeform-Signature"
signature_format = "prefix"
signature_prefix = "sha256="
signature_encoding = "base64"
id_json_path = "event_id"
type_json_path = "event_type"
"#,
        kept_headers: &[],
        retry_horizon: days(1),
        retry_note: "throttled deliveries retried for 10 h, others 5 times over 3.5 h",
        tolerance: None,
        handshake: Handshake::None,
        example: Some(typeform_example),
        note: "",
        hooks: None,
    },
    PresetRow {
        name: "woocommerce",
        title: "WooCommerce",
        generic: r#"
signature_header = "X-WC-Webhook-Signature"
signature_encoding = "base64"
id_from_body_sha256 = true
type_header = "X-WC-Webhook-Topic"
"#,
        kept_headers: &["x-wc-webhook-source", "x-wc-webhook-resource", "x-wc-webhook-event", "x-wc-webhook-id", "x-wc-webhook-delivery-id"],
        retry_horizon: days(1),
        retry_note: "no retries: one attempt, the webhook is disabled after 5 consecutive failures",
        tolerance: None,
        handshake: Handshake::UnsignedPing,
        example: None,
        note: "No stable id (`X-WC-Webhook-Delivery-ID` is fresh per delivery), so the id is the body hash. A secret containing HTML entities is used HTML-decoded by WooCommerce: configure the decoded form.",
        hooks: None,
    },
    PresetRow {
        name: "razorpay",
        title: "Razorpay",
        generic: r#"
signature_header = "X-Razorpay-Signature"
signature_encoding = "hex"
id_header = "x-razorpay-event-id"
type_json_path = "event"
"#,
        kept_headers: &[],
        retry_horizon: days(8),
        retry_note: "exponential backoff for 24 h, then disabled; dashboard replays up to 7 days old",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "",
        hooks: None,
    },
    PresetRow {
        name: "meta",
        title: "Meta (Facebook, Instagram, Messenger, WhatsApp)",
        generic: r#"
signature_header = "X-Hub-Signature-256"
signature_format = "prefix"
signature_prefix = "sha256="
signature_encoding = "hex"
id_json_paths = ["entry[*].id", "entry[*].time"]
"#,
        kept_headers: &[],
        retry_horizon: days(8),
        retry_note: "Graph retries over 36 h; WhatsApp Cloud up to 7 days",
        tolerance: None,
        handshake: Handshake::HubChallenge { json: false },
        example: Some(meta_example),
        note: "Needs `verify_token` for the GET handshake. One event per `entry[]` item, keyed by its object id and time (the whole body is kept with each). The signature is over the escaped-unicode body Meta sends.",
        hooks: None,
    },
    PresetRow {
        name: "twitch",
        title: "Twitch EventSub",
        generic: r#"
signature_header = "Twitch-Eventsub-Message-Signature"
signature_format = "prefix"
signature_prefix = "sha256="
signature_encoding = "hex"
signed_content = "{id}{ts}{body}"
id_header = "Twitch-Eventsub-Message-Id"
timestamp_header = "Twitch-Eventsub-Message-Timestamp"
timestamp_format = "rfc3339"
type_header = "Twitch-Eventsub-Subscription-Type"
"#,
        kept_headers: &["twitch-eventsub-message-type", "twitch-eventsub-message-retry", "twitch-eventsub-subscription-version"],
        retry_horizon: days(7),
        retry_note: "at least once with the same message id; no published horizon, so a week",
        tolerance: Some(Duration::from_secs(600)),
        handshake: Handshake::SignedEcho { header: "twitch-eventsub-message-type", value: "webhook_callback_verification", field: "challenge" },
        example: None,
        note: "Tolerance 10 min, as Twitch recommends.",
        hooks: None,
    },
    PresetRow {
        name: "dropbox",
        title: "Dropbox",
        generic: r#"
signature_header = "X-Dropbox-Signature"
signature_encoding = "hex"
id_from_body_sha256 = true
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "exponential backoff, horizon unpublished",
        tolerance: None,
        handshake: Handshake::GetEcho { param: "challenge" },
        example: Some(dropbox_example),
        note: "The body is a 'something changed' ping without an id; the body hash absorbs retries, and processing is idempotent by cursor anyway.",
        hooks: None,
    },
    PresetRow {
        name: "asana",
        title: "Asana",
        generic: r#"
signature_header = "X-Hook-Signature"
signature_encoding = "hex"
id_json_path = "events[*].resource.gid"
type_json_path = "events[*].action"
"#,
        kept_headers: &[],
        retry_horizon: days(2),
        retry_note: "resent for up to 24 h, then the webhook is deleted",
        tolerance: None,
        handshake: Handshake::SecretHandover { header: crate::asana::SECRET_HEADER },
        example: Some(crate::asana::example_body),
        note: "The signing secret is the one Asana hands over in the `X-Hook-Secret` handshake: the gateway stores it (first hand-over wins, shared by replicas, kept across restarts) and verifies with it and with any configured `secrets`. Heartbeats (`{\"events\":[]}`) are answered 200 and store nothing.",
        hooks: Some(&crate::asana::HOOKS),
    },
    PresetRow {
        name: "trello",
        title: "Trello",
        generic: r#"
algorithm = "sha1"
signature_header = "X-Trello-Webhook"
signature_encoding = "base64"
signed_content = "{body}{url}"
id_json_path = "action.id"
type_json_path = "action.type"
"#,
        kept_headers: &[],
        retry_horizon: days(1),
        retry_note: "3 retries at about 30, 60 and 120 s",
        tolerance: None,
        handshake: Handshake::Head,
        example: None,
        note: "Signs the callback URL: set `public_url` to exactly the `callbackURL` the webhook was created with (query included).",
        hooks: None,
    },
    PresetRow {
        name: "box",
        title: "Box",
        generic: r#"
signature_header = "BOX-SIGNATURE-PRIMARY"
extra_signature_headers = ["BOX-SIGNATURE-SECONDARY"]
signature_encoding = "base64"
signed_content = "{body}{ts}"
timestamp_header = "BOX-DELIVERY-TIMESTAMP"
timestamp_format = "rfc3339"
id_json_path = "id"
type_json_path = "trigger"
"#,
        kept_headers: &["box-delivery-id", "box-delivery-timestamp", "box-signature-version", "box-signature-algorithm"],
        retry_horizon: days(7),
        retry_note: "retries with backoff, count unpublished",
        tolerance: Some(Duration::from_secs(600)),
        handshake: Handshake::None,
        example: None,
        note: "Configure both the primary and the secondary key as secrets; either header under either key passes. Tolerance 10 min, as in Box's SDKs.",
        hooks: None,
    },
    PresetRow {
        name: "x",
        title: "X (Twitter) Account Activity",
        generic: r#"
signature_header = "x-twitter-webhooks-signature"
signature_format = "prefix"
signature_prefix = "sha256="
signature_encoding = "base64"
id_from_body_sha256 = true
"#,
        kept_headers: &[],
        retry_horizon: days(1),
        retry_note: "a few retries within minutes",
        tolerance: None,
        handshake: Handshake::Crc,
        example: None,
        note: "The envelope has no id (inner objects do), so the id is the body hash. The CRC reply uses the first configured secret (the consumer secret).",
        hooks: None,
    },
    PresetRow {
        name: "xero",
        title: "Xero",
        generic: r#"
signature_header = "x-xero-signature"
signature_encoding = "base64"
id_json_paths = ["events[*].tenantId", "events[*].eventCategory", "events[*].resourceId", "events[*].eventType", "events[*].eventDateUtc"]
type_json_path = "events[*].eventType"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retries with backoff, horizon unpublished",
        tolerance: None,
        handshake: Handshake::EmptyBatch,
        example: None,
        note: "The webhook key looks base64 but is used as text. Intent-to-receive: well-signed empty batches get 200, mis-signed ones 401.",
        hooks: None,
    },
    PresetRow {
        name: "coinbase-commerce",
        title: "Coinbase Commerce",
        generic: r#"
signature_header = "X-CC-Webhook-Signature"
signature_encoding = "hex"
id_json_path = "event.id"
type_json_path = "event.type"
"#,
        kept_headers: &[],
        retry_horizon: days(4),
        retry_note: "exponential backoff for up to 3 days",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "`attempt_number` and `scheduled_for` change per retry: the id is `event.id`.",
        hooks: None,
    },
    PresetRow {
        name: "gocardless",
        title: "GoCardless",
        generic: r#"
signature_header = "Webhook-Signature"
signature_encoding = "hex"
id_json_path = "events[*].id"
type_json_path = "events[*].action"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retries with backoff, schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Several events per request: one record per `events[]` item.",
        hooks: None,
    },
    PresetRow {
        name: "easypost",
        title: "EasyPost",
        generic: r#"
signature_header = "X-Hmac-Signature"
signature_format = "prefix"
signature_prefix = "hmac-sha256-hex="
signature_encoding = "hex"
key_encoding = "nfkd"
id_json_path = "id"
type_json_path = "description"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retried several times, schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "The secret is NFKD-normalised before use, as EasyPost's clients do.",
        hooks: None,
    },
    PresetRow {
        name: "mux",
        title: "Mux",
        generic: r#"
signature_header = "Mux-Signature"
signature_format = "kv_list"
signature_encoding = "hex"
signed_content = "{ts}.{body}"
id_json_path = "id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(2),
        retry_note: "retries for about 24 h",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "`attempts[]` grows on every retry: the id is the body `id`.",
        hooks: None,
    },
    PresetRow {
        name: "workos",
        title: "WorkOS",
        generic: r#"
signature_header = "WorkOS-Signature"
signature_format = "kv_list"
signature_encoding = "hex"
signed_content = "{ts}.{body}"
timestamp_unit = "ms"
id_json_path = "id"
type_json_path = "event"
"#,
        kept_headers: &[],
        retry_horizon: days(4),
        retry_note: "exponential backoff, about 3 days",
        tolerance: Some(Duration::from_secs(180)),
        handshake: Handshake::None,
        example: None,
        note: "Timestamp in milliseconds; tolerance 3 min, as WorkOS's SDKs.",
        hooks: None,
    },
    PresetRow {
        name: "onfido",
        title: "Onfido",
        generic: r#"
signature_header = "X-SHA2-Signature"
signature_encoding = "hex"
id_json_paths = ["payload.action", "payload.object.id", "payload.object.status"]
type_json_path = "payload.action"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retried, schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "No event id: the documented tuple (action, object id, status).",
        hooks: None,
    },
    PresetRow {
        name: "sanity",
        title: "Sanity",
        generic: r#"
signature_header = "sanity-webhook-signature"
signature_format = "kv_list"
signature_encoding = "base64url"
signed_content = "{ts}.{body}"
timestamp_unit = "ms"
id_header = "idempotency-key"
type_header = "sanity-operation"
"#,
        kept_headers: &["sanity-transaction-id", "sanity-document-id", "sanity-project-id", "sanity-dataset"],
        retry_horizon: days(1),
        retry_note: "2 retries 30 s apart (manual redelivery later)",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Signatures are unpadded base64url. Sanity's toolkit checks no age; hookgate applies the source tolerance.",
        hooks: None,
    },
    PresetRow {
        name: "docusign",
        title: "DocuSign Connect",
        generic: r#"
signature_header = "X-DocuSign-Signature-1"
extra_signature_headers = ["X-DocuSign-Signature-2", "X-DocuSign-Signature-3", "X-DocuSign-Signature-4", "X-DocuSign-Signature-5"]
signature_encoding = "base64"
id_json_paths = ["data.envelopeId", "event", "generatedDateTime"]
type_json_path = "event"
"#,
        kept_headers: &[],
        retry_horizon: days(16),
        retry_note: "'require acknowledgement' configurations retry for up to about 15 days",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "One signature header per active Connect key (the first five are read); keys are used as text. `retryCount` changes per retry, so the id is the documented tuple.",
        hooks: None,
    },
    PresetRow {
        name: "quickbooks",
        title: "QuickBooks Online (Intuit)",
        generic: r#"
signature_header = "intuit-signature"
signature_encoding = "base64"
id_from_body_sha256 = true
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retried at growing intervals, horizon unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "The legacy payload has no event id: the body hash (a retry repeats it).",
        hooks: None,
    },
    PresetRow {
        name: "paystack",
        title: "Paystack",
        generic: r#"
algorithm = "sha512"
signature_header = "x-paystack-signature"
signature_encoding = "hex"
id_json_paths = ["event", "data.id"]
type_json_path = "event"
"#,
        kept_headers: &[],
        retry_horizon: days(4),
        retry_note: "live: every 3 min 4 times, then hourly for 72 h",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "The key is the account's secret API key (`sk_…`).",
        hooks: None,
    },
    PresetRow {
        name: "lemonsqueezy",
        title: "Lemon Squeezy",
        generic: r#"
signature_header = "X-Signature"
signature_encoding = "hex"
id_json_paths = ["meta.event_name", "data.id", "data.attributes.updated_at"]
type_header = "X-Event-Name"
"#,
        kept_headers: &[],
        retry_horizon: days(1),
        retry_note: "3 retries at about 5, 25 and 125 s",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "No documented event id: the tuple (event name, object id, updated_at).",
        hooks: None,
    },
    PresetRow {
        name: "checkout",
        title: "Checkout.com",
        generic: r#"
signature_header = "Cko-Signature"
signature_encoding = "hex"
id_json_path = "id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retried with backoff, horizon unpublished; dashboard replays",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "",
        hooks: None,
    },
    PresetRow {
        name: "sentry",
        title: "Sentry",
        generic: r#"
signature_header = "Sentry-Hook-Signature"
signature_encoding = "hex"
id_header = "Request-ID"
type_header = "Sentry-Hook-Resource"
"#,
        kept_headers: &["sentry-hook-timestamp"],
        retry_horizon: days(7),
        retry_note: "mostly not retried; no published horizon",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "",
        hooks: None,
    },
    PresetRow {
        name: "pagerduty",
        title: "PagerDuty (Webhooks v3)",
        generic: r#"
signature_header = "X-PagerDuty-Signature"
signature_format = "kv_list"
untimed = true
signature_encoding = "hex"
id_json_path = "event.id"
type_json_path = "event.event_type"
"#,
        kept_headers: &["x-webhook-id", "x-webhook-subscription"],
        retry_horizon: days(7),
        retry_note: "retried with backoff, schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Several `v1=` entries during rotation; any may match.",
        hooks: None,
    },
    PresetRow {
        name: "circleci",
        title: "CircleCI",
        generic: r#"
signature_header = "circleci-signature"
signature_format = "kv_list"
untimed = true
signature_encoding = "hex"
id_json_path = "id"
type_header = "circleci-event-type"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retried, schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "",
        hooks: None,
    },
    PresetRow {
        name: "buildkite",
        title: "Buildkite",
        generic: r#"
signature_header = "X-Buildkite-Signature"
signature_format = "kv_list"
timestamp_key = "timestamp"
signature_key = "signature"
signature_encoding = "hex"
signed_content = "{ts}.{body}"
id_from_body_sha256 = true
type_header = "X-Buildkite-Event"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Use the signature setting, not the legacy `X-Buildkite-Token`. No envelope id: the body hash.",
        hooks: None,
    },
    PresetRow {
        name: "bitbucket",
        title: "Bitbucket Cloud",
        generic: r#"
signature_header = "X-Hub-Signature"
signature_format = "prefix"
signature_prefix = "sha256="
signature_encoding = "hex"
id_header = "X-Request-UUID"
type_header = "X-Event-Key"
"#,
        kept_headers: &["x-hook-uuid", "x-attempt-number"],
        retry_horizon: days(1),
        retry_note: "2 retries on connection failure or 5xx",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Whether `X-Request-UUID` survives retries is not documented.",
        hooks: None,
    },
    PresetRow {
        name: "jira",
        title: "Jira Cloud",
        generic: r#"
signature_header = "X-Hub-Signature"
signature_format = "prefix"
signature_prefix = "sha256="
signature_encoding = "hex"
id_header = "X-Atlassian-Webhook-Identifier"
type_json_path = "webhookEvent"
"#,
        kept_headers: &["x-atlassian-webhook-retry", "x-atlassian-webhook-flow"],
        retry_horizon: days(1),
        retry_note: "up to 5 retries with backoff",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Admin/REST webhooks registered with a secret; Connect/Forge JWTs are not covered.",
        hooks: None,
    },
    PresetRow {
        name: "vercel",
        title: "Vercel",
        generic: r#"
algorithm = "sha1"
signature_header = "x-vercel-signature"
signature_encoding = "hex"
id_json_path = "id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retried with backoff, horizon unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "",
        hooks: None,
    },
    PresetRow {
        name: "heroku",
        title: "Heroku",
        generic: r#"
signature_header = "Heroku-Webhook-Hmac-SHA256"
signature_encoding = "base64"
id_json_path = "id"
type_json_path = "resource"
"#,
        kept_headers: &["heroku-webhook-id"],
        retry_horizon: days(4),
        retry_note: "`sync` webhooks retried for about 72 h",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "",
        hooks: None,
    },
    PresetRow {
        name: "smartsheet",
        title: "Smartsheet",
        generic: r#"
signature_header = "Smartsheet-Hmac-SHA256"
signature_encoding = "hex"
id_json_paths = ["events[*].objectType", "events[*].id", "events[*].eventType", "events[*].timestamp"]
type_json_path = "events[*].eventType"
"#,
        kept_headers: &[],
        retry_horizon: days(2),
        retry_note: "up to 14 retries over about 24 h",
        tolerance: None,
        handshake: Handshake::HeaderEcho { request: "smartsheet-hook-challenge", response: "smartsheet-hook-response" },
        example: None,
        note: "One record per `events[]` item, keyed by the documented tuple.",
        hooks: None,
    },
    PresetRow {
        name: "msteams",
        title: "Microsoft Teams outgoing webhook",
        generic: r#"
signature_header = "Authorization"
signature_format = "prefix"
signature_prefix = "HMAC "
signature_encoding = "base64"
key_encoding = "base64_plain"
id_json_path = "id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(1),
        retry_note: "not retried (answered synchronously within 5 s)",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "The security token is base64 and is decoded before use.",
        hooks: None,
    },
    PresetRow {
        name: "zendesk",
        title: "Zendesk",
        generic: r#"
signature_header = "X-Zendesk-Webhook-Signature"
signature_encoding = "base64"
signed_content = "{ts}{body}"
timestamp_header = "X-Zendesk-Webhook-Signature-Timestamp"
timestamp_format = "rfc3339"
id_json_path = "id"
type_json_path = "type"
"#,
        kept_headers: &["x-zendesk-webhook-id", "x-zendesk-webhook-invocation-id"],
        retry_horizon: days(1),
        retry_note: "3 retries on 409/429/503",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Event-subscribed webhooks carry the event `id`; trigger webhooks need a body with an `id`.",
        hooks: None,
    },
    PresetRow {
        name: "customerio",
        title: "Customer.io",
        generic: r#"
signature_header = "X-CIO-Signature"
signature_encoding = "hex"
signed_content = "v0:{ts}:{body}"
timestamp_header = "X-CIO-Timestamp"
id_json_path = "event_id"
type_json_path = "metric"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retried with backoff, horizon unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "",
        hooks: None,
    },
    PresetRow {
        name: "frameio",
        title: "Frame.io (V2)",
        generic: r#"
signature_header = "X-Frameio-Signature"
signature_format = "prefix"
signature_prefix = "v0="
signature_encoding = "hex"
signed_content = "v0:{ts}:{body}"
timestamp_header = "X-Frameio-Request-Timestamp"
id_from_body_sha256 = true
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "No event id: the body hash.",
        hooks: None,
    },
    PresetRow {
        name: "airtable",
        title: "Airtable",
        generic: r#"
signature_header = "X-Airtable-Content-MAC"
signature_format = "prefix"
signature_prefix = "hmac-sha256="
signature_encoding = "hex"
key_encoding = "base64_plain"
id_json_paths = ["webhook.id", "timestamp"]
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "pings are retried, schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: Some(airtable_example),
        note: "The secret is `macSecretBase64`, decoded. The body is a ping: fetch the payloads by cursor.",
        hooks: None,
    },
    PresetRow {
        name: "webflow",
        title: "Webflow",
        generic: r#"
signature_header = "x-webflow-signature"
signature_encoding = "hex"
signed_content = "{ts}:{body}"
timestamp_header = "x-webflow-timestamp"
timestamp_unit = "ms"
id_from_body_sha256 = true
type_json_path = "triggerType"
"#,
        kept_headers: &[],
        retry_horizon: days(1),
        retry_note: "up to 3 retries 10 min apart",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Only webhooks created through the API or an app are signed. No event id: the body hash.",
        hooks: None,
    },
    PresetRow {
        name: "line",
        title: "LINE Messaging API",
        generic: r#"
signature_header = "x-line-signature"
signature_encoding = "base64"
id_json_path = "events[*].webhookEventId"
type_json_path = "events[*].type"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "redelivery (opt-in) keeps `webhookEventId`; horizon unpublished",
        tolerance: None,
        handshake: Handshake::EmptyBatch,
        example: None,
        note: "The console's Verify button sends a signed empty `events` list: answered 200, nothing stored.",
        hooks: None,
    },
    PresetRow {
        name: "segment",
        title: "Segment (Webhooks destination)",
        generic: r#"
algorithm = "sha1"
signature_header = "X-Signature"
signature_encoding = "hex"
id_json_path = "messageId"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(1),
        retry_note: "5xx/429 retried for about 4 h",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Webhooks (Actions) with batching sends a JSON array: one record per item, each by its `messageId`.",
        hooks: Some(&crate::segment::HOOKS),
    },
    PresetRow {
        name: "clickup",
        title: "ClickUp",
        generic: r#"
signature_header = "X-Signature"
signature_encoding = "hex"
id_from_body_sha256 = true
type_json_path = "event"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retried with backoff, then suspended",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "No single event id: the body hash.",
        hooks: None,
    },
    PresetRow {
        name: "calcom",
        title: "Cal.com",
        generic: r#"
signature_header = "X-Cal-Signature-256"
signature_encoding = "hex"
id_from_body_sha256 = true
type_json_path = "triggerEvent"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "No event id: the body hash.",
        hooks: None,
    },
    PresetRow {
        name: "alchemy",
        title: "Alchemy Notify",
        generic: r#"
signature_header = "X-Alchemy-Signature"
signature_encoding = "hex"
id_json_path = "id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(1),
        retry_note: "up to 6 retries over about 10 h",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "",
        hooks: None,
    },
    PresetRow {
        name: "render",
        title: "Render",
        generic: r#"
signature_header = "webhook-signature"
signature_format = "space_list"
signature_encoding = "base64"
key_encoding = "base64"
signed_content = "{id}.{ts}.{body}"
timestamp_header = "webhook-timestamp"
id_header = "webhook-id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retry schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Standard Webhooks v1 (HMAC); the key is the `whsec_…` secret, base64-decoded.",
        hooks: None,
    },
    PresetRow {
        name: "openai",
        title: "OpenAI",
        generic: r#"
signature_header = "webhook-signature"
signature_format = "space_list"
signature_encoding = "base64"
key_encoding = "base64"
signed_content = "{id}.{ts}.{body}"
timestamp_header = "webhook-timestamp"
id_header = "webhook-id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(4),
        retry_note: "retried with backoff for up to 72 h",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Standard Webhooks v1 (HMAC); the key is the `whsec_…` secret, base64-decoded.",
        hooks: None,
    },
    PresetRow {
        name: "replicate",
        title: "Replicate",
        generic: r#"
signature_header = "webhook-signature"
signature_format = "space_list"
signature_encoding = "base64"
key_encoding = "base64"
signed_content = "{id}.{ts}.{body}"
timestamp_header = "webhook-timestamp"
id_header = "webhook-id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(1),
        retry_note: "retried for a short while",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Standard Webhooks v1 (HMAC); the key is the `whsec_…` secret, base64-decoded.",
        hooks: None,
    },
    PresetRow {
        name: "polar",
        title: "Polar",
        generic: r#"
signature_header = "webhook-signature"
signature_format = "space_list"
signature_encoding = "base64"
key_encoding = "base64"
signed_content = "{id}.{ts}.{body}"
timestamp_header = "webhook-timestamp"
id_header = "webhook-id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retry schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Standard Webhooks v1 (HMAC); the key is the `whsec_…` secret, base64-decoded.",
        hooks: None,
    },
    PresetRow {
        name: "supabase-auth",
        title: "Supabase Auth Hooks",
        generic: r#"
signature_header = "webhook-signature"
signature_format = "space_list"
signature_encoding = "base64"
key_encoding = "base64"
signed_content = "{id}.{ts}.{body}"
timestamp_header = "webhook-timestamp"
id_header = "webhook-id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(1),
        retry_note: "synchronous hook, not retried",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Standard Webhooks v1 (HMAC); the key is the `whsec_…` secret, base64-decoded. Supabase shows `v1,whsec_…`: configure it without `v1,`.",
        hooks: None,
    },
    PresetRow {
        name: "clerk",
        title: "Clerk (Svix)",
        generic: r#"
signature_header = "svix-signature"
signature_format = "space_list"
signature_encoding = "base64"
key_encoding = "base64"
signed_content = "{id}.{ts}.{body}"
timestamp_header = "svix-timestamp"
id_header = "svix-id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(4),
        retry_note: "Svix schedule: about 28 h",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Standard Webhooks v1 (HMAC); the key is the `whsec_…` secret, base64-decoded.",
        hooks: None,
    },
    PresetRow {
        name: "resend",
        title: "Resend (Svix)",
        generic: r#"
signature_header = "svix-signature"
signature_format = "space_list"
signature_encoding = "base64"
key_encoding = "base64"
signed_content = "{id}.{ts}.{body}"
timestamp_header = "svix-timestamp"
id_header = "svix-id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(4),
        retry_note: "Svix schedule: about 28 h",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Standard Webhooks v1 (HMAC); the key is the `whsec_…` secret, base64-decoded.",
        hooks: None,
    },
    PresetRow {
        name: "recurly",
        title: "Recurly",
        generic: r#"
signature_header = "recurly-signature"
signature_format = "timestamp_list"
signature_encoding = "hex"
signed_content = "{ts}.{body}"
timestamp_unit = "ms"
id_json_path = "id"
type_json_path = "event_type"
"#,
        kept_headers: &["recurly-notification-id"],
        retry_horizon: days(7),
        retry_note: "retried with backoff, then the endpoint is disabled; horizon unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "JSON webhooks only (XML ones are unsigned). The header is `<ms timestamp>,<sig>[,<sig>]`; two signatures during a rotation.",
        hooks: None,
    },
    PresetRow {
        name: "mollie",
        title: "Mollie (next-gen webhooks)",
        generic: r#"
signature_header = "X-Mollie-Signature"
signature_format = "prefix"
signature_prefix = "sha256="
signature_encoding = "hex"
id_json_path = "id"
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(2),
        retry_note: "10 retries over about 26 h",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Next-gen event webhooks only; classic webhooks carry just an id, unsigned, and need an API fetch.",
        hooks: None,
    },
    PresetRow {
        name: "persona",
        title: "Persona",
        generic: r#"
signature_header = "Persona-Signature"
signature_format = "kv_list"
group_separator = " "
signature_encoding = "hex"
signed_content = "{ts}.{body}"
id_json_path = "data.id"
type_json_path = "data.attributes.name"
"#,
        kept_headers: &[],
        retry_horizon: days(4),
        retry_note: "up to 8 retries over about 3 days",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "During a secret rotation the header carries one `t=…,v1=…` group per secret, space-separated.",
        hooks: None,
    },
    PresetRow {
        name: "elevenlabs",
        title: "ElevenLabs",
        generic: r#"
signature_header = "ElevenLabs-Signature"
signature_format = "kv_list"
signature_key = "v0"
signature_encoding = "hex"
signed_content = "{ts}.{body}"
id_json_paths = ["type", "data.conversation_id"]
type_json_path = "type"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retry schedule unpublished",
        tolerance: Some(Duration::from_secs(1800)),
        handshake: Handshake::None,
        example: None,
        note: "Not Standard Webhooks: `t=…,v0=…`. No event id: (type, conversation id), one per call and kind. Tolerance 30 min, as in ElevenLabs' own example.",
        hooks: None,
    },
    PresetRow {
        name: "lago",
        title: "Lago (HMAC signature)",
        generic: r#"
signature_header = "X-Lago-Signature"
signature_encoding = "base64"
id_header = "X-Lago-Unique-Key"
type_json_path = "webhook_type"
"#,
        kept_headers: &["x-lago-signature-algorithm"],
        retry_horizon: days(1),
        retry_note: "3 attempts",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Create the endpoint with the HMAC signature (Lago's default is an RS256 JWT, not supported); the key is the HMAC signature token.",
        hooks: None,
    },
    PresetRow {
        name: "etsy",
        title: "Etsy",
        generic: r#"
signature_header = "webhook-signature"
signature_format = "space_list"
signature_encoding = "base64"
key_encoding = "base64"
signed_content = "{id}.{ts}.{body}"
timestamp_header = "webhook-timestamp"
id_header = "webhook-id"
type_json_path = "event_type"
"#,
        kept_headers: &[],
        retry_horizon: days(7),
        retry_note: "retried automatically, schedule unpublished",
        tolerance: None,
        handshake: Handshake::None,
        example: None,
        note: "Standard Webhooks v1 headers, per Etsy's announcement thread; the key is the signing secret, base64 after an optional `whsec_`.",
        hooks: None,
    },
];

/// The facts of a bespoke provider that its code cannot describe about itself.
#[derive(Debug)]
pub struct BespokeRow {
    pub name: &'static str,
    pub title: &'static str,
    /// What is verified.
    pub scheme: &'static str,
    pub event_id: &'static str,
    pub retry_note: &'static str,
}

/// Every bespoke provider, in [`crate::BESPOKE_PROVIDERS`] order.
pub static BESPOKE: &[BespokeRow] = &[
    BespokeRow {
        name: "stripe",
        title: "Stripe",
        scheme: "`Stripe-Signature` `v1` = hex HMAC-SHA256 of `{t}.{body}`; `t` ±tolerance; `v0` ignored",
        event_id: "body `id`",
        retry_note: "3 days",
    },
    BespokeRow {
        name: "standard-webhooks",
        title: "Standard Webhooks (Svix, …)",
        scheme: "`webhook-signature` (or `svix-signature`) `v1,` base64 HMAC-SHA256 of `{id}.{ts}.{body}`; `v1a,` Ed25519 of the same; ts ±tolerance",
        event_id: "header `webhook-id` / `svix-id`",
        retry_note: "Svix about 28 h, spec example 76 h",
    },
    BespokeRow {
        name: "generic",
        title: "Generic HMAC",
        scheme: "configurable HMAC (`[sources.<name>.generic]`, see `providers/src/generic.rs`)",
        event_id: "configured",
        retry_note: "unknown provider: a week",
    },
    BespokeRow {
        name: "internal",
        title: "Internal services",
        scheme: "`Authorization: Bearer <key>`, or Standard Webhooks",
        event_id: "header `Idempotency-Key` (required; reuse with another body → 422)",
        retry_note: "the caller's own retries",
    },
    BespokeRow {
        name: "linear",
        title: "Linear",
        scheme: "`Linear-Signature` = hex HMAC-SHA256 of body; body `webhookTimestamp` (ms) ±tolerance",
        event_id: "header `Linear-Delivery`",
        retry_note: "a few retries over hours",
    },
    BespokeRow {
        name: "hubspot",
        title: "HubSpot",
        scheme: "`X-HubSpot-Signature-v3` = base64 HMAC-SHA256 of `{METHOD}{URL}{body}{X-HubSpot-Request-Timestamp}`; ts (ms) ±tolerance",
        event_id: "per array element `{portalId}:{subscriptionId}:{eventId}`",
        retry_note: "about 24 h",
    },
    BespokeRow {
        name: "gitlab",
        title: "GitLab",
        scheme: "secret token: `X-Gitlab-Token` equals a secret (constant time); signing token: Standard Webhooks `v1`",
        event_id: "`Idempotency-Key` (else `webhook-id`, else `X-Gitlab-Event-UUID`)",
        retry_note: "backoff up to 24 h, then disabled",
    },
    BespokeRow {
        name: "twilio",
        title: "Twilio",
        scheme: "`X-Twilio-Signature` = base64 HMAC-SHA1 of `{URL}` + sorted form parameters; JSON: `bodySHA256` in the URL",
        event_id: "`I-Twilio-Idempotency-Token`, else resource Sids + statuses; JSON: sha256(body)",
        retry_note: "15 s (`#rc`), Event Streams 4 h",
    },
    BespokeRow {
        name: "mailgun",
        title: "Mailgun",
        scheme: "body `signature.signature` = hex HMAC-SHA256 of `{timestamp}{token}`; body not covered → token replay cache",
        event_id: "body `event-data.id`",
        retry_note: "8 h",
    },
    BespokeRow {
        name: "adyen",
        title: "Adyen",
        scheme: "payments: every item's `hmacSignature` over its 8 fields (hex key); platform: `HmacSignature` header over body",
        event_id: "payments: per item `{pspReference}:{eventCode}:{success}`; platform: `{type}:{sha256(canonical body)}`",
        retry_note: "30 days",
    },
    BespokeRow {
        name: "sendgrid",
        title: "SendGrid",
        scheme: "`X-Twilio-Email-Event-Webhook-Signature` = ECDSA P-256/SHA-256 of `{timestamp}{body}`; ts ±tolerance",
        event_id: "per array element `sg_event_id`",
        retry_note: "24 h",
    },
    BespokeRow {
        name: "discord",
        title: "Discord",
        scheme: "`X-Signature-Ed25519` = Ed25519 of `{X-Signature-Timestamp}{body}`; ts ±tolerance",
        event_id: "interaction `id`; Webhook Events: `{event.type}:{sha256(canonical body)}`",
        retry_note: "not retried",
    },
    BespokeRow {
        name: "netlify",
        title: "Netlify",
        scheme: "`X-Webhook-Signature` = HS256 JWS (only `HS256`) whose claims carry `iss: netlify` and `sha256` = hex SHA-256 of body",
        event_id: "`{id}:{state}` (deploy id and state)",
        retry_note: "schedule unpublished",
    },
    BespokeRow {
        name: "aws-sns",
        title: "Amazon SNS (HTTP/S)",
        scheme: "envelope `Signature` = RSA SHA1 (v1) / SHA256 (v2) over the canonical field list, under the PEM certificates configured as secrets (never fetched); `SigningCertURL` must be SNS's; `TopicArn` must be in `topic_arns`",
        event_id: "body `MessageId`",
        retry_note: "default policy: 3 retries 20 s apart",
    },
    BespokeRow {
        name: "braintree",
        title: "Braintree",
        scheme: "form `bt_signature` = `public_key|hex` HMAC-SHA1 of `bt_payload` under SHA1(private key); secret `PUBLIC:PRIVATE`",
        event_id: "`{kind}:{timestamp}:{subject id}` from the notification (Braintree documents none)",
        retry_note: "retried for about 24 h",
    },
    BespokeRow {
        name: "contentful",
        title: "Contentful",
        scheme: "`x-contentful-signature` = hex HMAC-SHA256 of `METHOD\\nPATH\\nsigned headers\\nbody` (toolkit canonical request, URL signed); `x-contentful-timestamp` (ms) ±tolerance (default 30 s)",
        event_id: "`{X-Contentful-Topic}:{sys.id}:{sys.version}`",
        retry_note: "2 retries on 429/5xx",
    },
    BespokeRow {
        name: "plaid",
        title: "Plaid",
        scheme: "`Plaid-Verification` = ES256 JWT (only `ES256`) under the configured JWK its `kid` names; claim `request_body_sha256` = hex SHA-256 of body; `iat` ±tolerance",
        event_id: "SHA-256 of the body (Plaid documents no id)",
        retry_note: "retried for up to 24 h",
    },
    BespokeRow {
        name: "ebay",
        title: "eBay Notification API",
        scheme: "`x-ebay-signature` = base64 JSON {kid, signature}: ECDSA-SHA1 over the raw body under the configured public key its `kid` names (never fetched)",
        event_id: "body `notification.notificationId`",
        retry_note: "retried with backoff, schedule unpublished",
    },
    BespokeRow {
        name: "okta",
        title: "Okta Event Hooks (sender only)",
        scheme: "no MAC: the `Authorization` header equals a secret (the hook's `auth.value`, constant time); the body is not covered",
        event_id: "per `data.events[]` item `uuid`",
        retry_note: "at most one retry (3 s timeout)",
    },
    BespokeRow {
        name: "msgraph",
        title: "Microsoft Graph change notifications (sender only)",
        scheme: "no MAC: every `value[].clientState` equals a secret (constant time); the body is not covered",
        event_id: "per `value[]` item `{subscriptionId}:{sha256(item, canonical JSON)}`",
        retry_note: "backoff for up to 4 h",
    },
    BespokeRow {
        name: "azure-eventgrid",
        title: "Azure Event Grid, Event Grid schema (sender only)",
        scheme: "no MAC: query parameter `code` of the endpoint URL equals a secret (constant time); the body is not covered",
        event_id: "per array item `id`",
        retry_note: "default policy: 24 h event TTL, 30 attempts",
    },
    BespokeRow {
        name: "strava",
        title: "Strava (sender only, weak)",
        scheme: "nothing signed: body `subscription_id` equals the configured one (an id, not a secret); re-fetch objects from Strava's API",
        event_id: "`{object_type}:{object_id}:{aspect_type}:{event_time}` (Strava documents none)",
        retry_note: "up to 3 retries",
    },
];

/// What `hookgate providers` lists for one built-in provider.
#[derive(Debug, Clone)]
pub struct ProviderFacts {
    pub name: &'static str,
    pub title: &'static str,
    /// `preset` (a row of [`PRESETS`]) or `bespoke` (its own module).
    pub family: &'static str,
    pub scheme: String,
    pub event_id: String,
    pub handshake: Handshake,
    pub retry_horizon: Duration,
    pub retry_note: &'static str,
    pub tolerance: Option<Duration>,
    pub timestamped: bool,
    pub signs_url: bool,
    pub kept_headers: &'static [&'static str],
    pub note: &'static str,
    /// The preset's `[sources.<name>.generic]` table.
    pub generic: Option<&'static str>,
}

impl ProviderFacts {
    /// The dedupe window to configure: the retry horizon rounded up to whole days, at least
    /// the store's one-day floor.
    pub fn recommended_dedupe_window(&self) -> Duration {
        days(self.retry_horizon.as_secs().div_ceil(24 * 3600).max(1))
    }
}

/// Options that build provider `name` with placeholder settings where it requires some (a
/// `generic` table, an SNS topic), for listings and tests.
pub fn example_options(name: &str) -> crate::ProviderOptions {
    crate::ProviderOptions {
        generic: (name == "generic").then(|| crate::generic::GenericConfig {
            id_json_path: Some("id".into()),
            ..crate::generic::GenericConfig::new("X-Signature", crate::signature::Encoding::Hex)
        }),
        topic_arns: if name == "aws-sns" {
            vec![EXAMPLE_TOPIC.to_string()]
        } else {
            Vec::new()
        },
        ..crate::ProviderOptions::default()
    }
}

const EXAMPLE_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:example";

/// The facts of every built-in provider: bespoke first, then presets.
pub fn facts() -> Vec<ProviderFacts> {
    let bespoke = BESPOKE.iter().filter_map(|row| {
        let opts = example_options(row.name);
        let provider = crate::build(row.name, &opts).ok()?;
        Some(ProviderFacts {
            name: row.name,
            title: row.title,
            family: "bespoke",
            scheme: row.scheme.to_string(),
            event_id: row.event_id.to_string(),
            handshake: provider.handshake(),
            retry_horizon: provider.retry_horizon(),
            retry_note: row.retry_note,
            tolerance: None,
            timestamped: row.scheme.contains("tolerance"),
            signs_url: row.scheme.contains("URL"),
            kept_headers: provider.kept_headers(),
            note: "",
            generic: None,
        })
    });
    let presets = PRESETS.iter().filter_map(|row| {
        let preset = crate::preset::Preset::new(row, &crate::ProviderOptions::default()).ok()?;
        let generic = preset.generic();
        Some(ProviderFacts {
            name: row.name,
            title: row.title,
            family: "preset",
            scheme: generic.describe_scheme(),
            event_id: match row.hooks {
                Some(hooks) => hooks.id_note.to_string(),
                None => generic.describe_id(),
            },
            handshake: row.handshake,
            retry_horizon: row.retry_horizon,
            retry_note: row.retry_note,
            tolerance: row.tolerance,
            timestamped: generic.is_timestamped(),
            signs_url: generic.signs_url(),
            kept_headers: row.kept_headers,
            note: row.note,
            generic: Some(row.generic.trim()),
        })
    });
    bespoke.chain(presets).collect()
}

/// The facts of one provider.
pub fn facts_of(name: &str) -> Option<ProviderFacts> {
    facts().into_iter().find(|f| f.name == name)
}

fn human_days(d: Duration) -> String {
    let hours = d.as_secs() / 3600;
    if hours % 24 == 0 {
        format!("{} d", hours / 24)
    } else {
        format!("{hours} h")
    }
}

/// `|` would end a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The provider table of `docs/providers.md`, generated from [`facts`]
/// (`hookgate providers --markdown`; a test fails when the document differs).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| Provider (`provider =`) | Kind | What is verified | Event id | Handshake | Retries → dedupe window | Notes |\n|---|---|---|---|---|---|---|\n",
    );
    for f in facts() {
        let handshake = match f.handshake {
            Handshake::None => "–".to_string(),
            other => other.describe(),
        };
        let mut notes = Vec::new();
        if let Some(t) = f.tolerance {
            notes.push(format!("default tolerance {} s.", t.as_secs()));
        }
        if !f.note.is_empty() {
            notes.push(f.note.to_string());
        }
        out.push_str(&format!(
            "| `{}` ({}) | {} | {} | {} | {} | {} → **{}** | {} |\n",
            f.name,
            cell(f.title),
            f.family,
            cell(&f.scheme),
            cell(&f.event_id),
            cell(&handshake),
            cell(f.retry_note),
            human_days(f.recommended_dedupe_window()),
            cell(&notes.join(" "))
        ));
    }
    out
}

/// A ready `[sources.NAME]` snippet for provider `name`, with its facts as comments.
pub fn config_snippet(name: &str) -> Option<String> {
    let f = facts_of(name)?;
    let env = format!(
        "{}_WEBHOOK_SECRET",
        f.name.to_ascii_uppercase().replace('-', "_")
    );
    let mut out = format!(
        "# {} ({})\n# verifies: {}\n# event id: {}\n# handshake: {}\n# retries: {}; keep store.dedupe_window >= \"{}\"\n",
        f.title,
        f.family,
        f.scheme,
        f.event_id,
        f.handshake.describe(),
        f.retry_note,
        human_days(f.recommended_dedupe_window()).replace(' ', "")
    );
    if !f.note.is_empty() {
        out.push_str(&format!("# note: {}\n", f.note));
    }
    if matches!(f.handshake, Handshake::SecretHandover { .. }) {
        // The secret arrives in the handshake and is kept in the store.
        out.push_str(&format!(
            "[sources.{name}]\nprovider = \"{name}\"\n# secrets = [\"env:{env}\"]  # optional: the handed-over secret is stored; a configured one lets `hookgate send` sign\n"
        ));
    } else {
        out.push_str(&format!(
            "[sources.{name}]\nprovider = \"{name}\"\nsecrets = [\"env:{env}\"]\n"
        ));
    }
    if f.timestamped {
        let tolerance = f.tolerance.unwrap_or(crate::DEFAULT_TOLERANCE).as_secs();
        out.push_str(&format!("# tolerance = \"{tolerance}s\"\n"));
    }
    if f.signs_url {
        out.push_str(&format!(
            "public_url = \"https://hooks.example.com/webhooks/{name}\"  # exactly the URL the provider calls\n"
        ));
    }
    if f.name == "ebay" {
        out.push_str("public_url = \"https://hooks.example.com/webhooks/ebay\"  # exactly the endpoint registered with eBay\n");
    }
    if matches!(
        f.handshake,
        Handshake::HubChallenge { .. } | Handshake::ChallengeCode
    ) {
        let token = format!(
            "{}_VERIFY_TOKEN",
            f.name.to_ascii_uppercase().replace('-', "_")
        );
        out.push_str(&format!("verify_token = \"env:{token}\"\n"));
    }
    if f.name == "aws-sns" {
        out.push_str(&format!(
            "topic_arns = [\"{EXAMPLE_TOPIC}\"]  # the topics this source accepts\n# secrets: the PEM certificate(s) at SigningCertURL for the region, e.g. [\"file:/etc/hookgate/sns-us-east-1.pem\"]\n"
        ));
    }
    if let Some(generic) = f.generic {
        out.push_str(
            "\n# The same scheme as a `generic` source (provider = \"generic\"), to adapt:\n",
        );
        out.push_str(&format!("# [sources.{name}.generic]\n"));
        for line in generic.lines() {
            out.push_str(&format!("# {line}\n"));
        }
    }
    Some(out)
}

/// The lines around the generated table in `docs/providers.md`.
pub const DOC_TABLE_BEGIN: &str =
    "<!-- BEGIN provider table: generated by `hookgate providers --markdown`, do not edit -->";
pub const DOC_TABLE_END: &str = "<!-- END provider table -->";

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/providers.md");

    #[test]
    fn every_bespoke_provider_has_facts_and_every_name_is_listed_once() {
        let names: Vec<&str> = BESPOKE.iter().map(|row| row.name).collect();
        assert_eq!(names, crate::BESPOKE_PROVIDERS);
        let all = facts();
        assert_eq!(all.len(), crate::known_providers().len());
        for f in &all {
            assert!(
                f.recommended_dedupe_window() >= f.retry_horizon,
                "{}",
                f.name
            );
            assert!(f.recommended_dedupe_window() >= days(1), "{}", f.name);
        }
    }

    #[test]
    fn every_snippet_is_a_source_table_naming_its_provider() {
        for name in crate::known_providers() {
            let snippet = config_snippet(name).unwrap_or_else(|| panic!("{name}"));
            let value: toml::Value = toml::from_str(&snippet)
                .unwrap_or_else(|e| panic!("{name}: snippet is not TOML: {e}\n{snippet}"));
            let source = &value["sources"][name];
            assert_eq!(source["provider"].as_str(), Some(name), "{snippet}");
            let hands_over = matches!(
                crate::build(name, &example_options(name)).map(|p| p.handshake()),
                Ok(Handshake::SecretHandover { .. })
            );
            // A provider that hands its secret over needs none configured (Asana).
            assert_eq!(
                source
                    .get("secrets")
                    .and_then(|s| s.as_array())
                    .is_some_and(|s| !s.is_empty()),
                !hands_over,
                "{snippet}"
            );
            if let Some(row) = preset(name) {
                // The commented generic table is the row's own configuration.
                let generic: String = snippet
                    .lines()
                    .skip_while(|line| !line.starts_with("# [sources."))
                    .skip(1)
                    .map(|line| format!("{}\n", line.trim_start_matches("# ")))
                    .collect();
                let parsed: crate::generic::GenericConfig =
                    toml::from_str(&generic).expect("generic table");
                assert_eq!(parsed, row.config().expect("row"), "{name}");
            }
        }
        assert!(config_snippet("meta")
            .unwrap()
            .contains("verify_token = \"env:META_VERIFY_TOKEN\""));
        assert!(config_snippet("trello").unwrap().contains("public_url = "));
        assert!(config_snippet("nope").is_none());
    }

    /// `docs/providers.md` carries the generated table; regenerate it with
    /// `HOOKGATE_UPDATE_DOCS=1 cargo test -p hookgate-providers catalogue` (or paste the output
    /// of `hookgate providers --markdown`).
    #[test]
    fn the_provider_table_in_the_docs_is_generated_from_the_catalogue() {
        let doc = std::fs::read_to_string(DOC).expect("docs/providers.md");
        let (before, rest) = doc.split_once(DOC_TABLE_BEGIN).expect("begin marker");
        let (_, after) = rest.split_once(DOC_TABLE_END).expect("end marker");
        let expected = format!(
            "{before}{DOC_TABLE_BEGIN}\n{}{DOC_TABLE_END}{after}",
            markdown_table()
        );
        if std::env::var_os("HOOKGATE_UPDATE_DOCS").is_some() {
            std::fs::write(DOC, &expected).expect("write docs/providers.md");
            return;
        }
        assert!(
            doc == expected,
            "docs/providers.md differs from the catalogue: run HOOKGATE_UPDATE_DOCS=1 cargo test -p hookgate-providers catalogue"
        );
    }
}
