//! Pure webhook verification and event extraction for hookgate.
//!
//! This crate owns everything that depends on *how a provider signs and identifies* a webhook,
//! and nothing else: no I/O, no async, no clock (callers pass `now`), no configuration files.
//! The gateway hands a [`Request`] (method, public URL, headers, raw body bytes) and the
//! source's [`Secrets`] to a [`Provider`]; the provider answers whether the request is
//! authentic and which events (stable id + type) it carries.
//!
//! Invariants every provider keeps:
//! - verification runs over the raw body bytes, before any parsing;
//! - comparisons are constant-time and length-checked (see [`signature`]);
//! - any of N signatures in the request × any of M configured secrets passes (rotation);
//! - timestamped schemes reject both stale and far-future timestamps;
//! - errors never carry secret material or the presented signature.

use std::fmt;
use std::time::{Duration, SystemTime};

pub mod generic;
pub mod github;
pub mod internal;
pub mod shopify;
pub mod signature;
pub mod standard_webhooks;
pub mod stripe;

#[cfg(test)]
mod test_support;

/// Default timestamp tolerance for timestamped schemes (both directions).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The event type [`Provider::sign`] puts in a type header when the body names none.
pub const TEST_EVENT_TYPE: &str = "hookgate.test";

/// The type a signed test request announces in its type header: the body's top-level `type`
/// (what [`Provider::example_body`] writes) or [`TEST_EVENT_TYPE`].
pub(crate) fn test_event_type(body: &[u8]) -> String {
    signature::body_json_text(body, "type").unwrap_or_else(|| TEST_EVENT_TYPE.to_string())
}

/// The parts of an HTTP request a provider may look at.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Upper-case HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The full public URL the provider called (scheme, host, path, query). Only providers that
    /// sign the URL (Square, Twilio, HubSpot) use it.
    pub url: &'a str,
    pub headers: &'a http::HeaderMap,
    /// Raw body bytes exactly as received.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A header's value as text; `None` when absent or not visible ASCII/UTF-8.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One secret's bytes, exactly as configured (providers decode them if their scheme says so,
/// e.g. `whsec_` base64 for Standard Webhooks). `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The secrets configured for one source, in order; the first is used for signing test requests,
/// any of them verifies (zero-downtime rotation).
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<Secret>);

impl Secrets {
    pub fn new(secrets: Vec<Secret>) -> Self {
        Secrets(secrets)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Secret> {
        self.0.iter()
    }
    pub fn first(&self) -> Option<&Secret> {
        self.0.first()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Why a request failed verification. Each variant maps to one bounded `reason` label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing required header `{0}`")]
    MissingHeader(&'static str),
    #[error("malformed signature header `{0}`")]
    MalformedHeader(&'static str),
    #[error("no signature matched any configured secret")]
    SignatureMismatch,
    #[error("timestamp is older than the allowed tolerance")]
    StaleTimestamp,
    #[error("timestamp is too far in the future")]
    FutureTimestamp,
    #[error("no secret configured for this source")]
    NoSecret,
}

impl VerifyError {
    /// A stable, bounded label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing_signature",
            VerifyError::MalformedHeader(_) => "malformed_signature",
            VerifyError::SignatureMismatch | VerifyError::NoSecret => "invalid_signature",
            VerifyError::StaleTimestamp | VerifyError::FutureTimestamp => "stale_timestamp",
        }
    }
}

/// Why a verified request yielded no usable event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The provider's documented id is absent or empty. The `&'static str` names where it was
    /// looked for (a header name or a JSON path), for the error message.
    #[error("no usable event id (expected in {0})")]
    MissingEventId(&'static str),
    #[error("body is not what this provider sends: {0}")]
    MalformedBody(&'static str),
}

/// Metadata of one event carried by a request. Batch bodies yield several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// The provider's stable event id (never a timestamp).
    pub id: String,
    pub event_type: Option<String>,
}

/// A synchronous reply some providers require instead of (or before) normal ingest, such as
/// Slack's `url_verification` or Zoom's `endpoint.url_validation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// What the gateway does when a repeat of a known event id arrives with a different body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MismatchPolicy {
    /// Answer as a duplicate, keep the original, flag and count the mismatch (providers may
    /// legitimately change bodies between retries, e.g. `attemptNumber`).
    Flag,
    /// Reject with 422 `idempotency_key_reused` (IETF Idempotency-Key semantics).
    Reject,
}

/// Input for building a correctly signed test request (`hookgate send`).
#[derive(Debug, Clone, Copy)]
pub struct SignRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub body: &'a [u8],
    /// The event id to use for providers that carry the id in a header.
    pub event_id: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("secret cannot be used for signing: {0}")]
    BadSecret(&'static str),
    #[error("this provider cannot sign test requests: {0}")]
    Unsupported(&'static str),
}

/// Configuration error raised when building a provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("unknown provider `{0}` (known: {known})", known = KNOWN_PROVIDERS.join(", "))]
    UnknownProvider(String),
    #[error("{0}")]
    Invalid(String),
}

/// One provider's scheme. Implementations are pure and cheap to call concurrently.
pub trait Provider: Send + Sync + fmt::Debug {
    /// The provider's config name, e.g. `stripe`.
    fn name(&self) -> &'static str;

    /// Verify authenticity over the raw request. `Ok` means the body may be trusted.
    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        now: SystemTime,
    ) -> Result<(), VerifyError>;

    /// Extract the events (stable id and type) of an already verified request.
    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError>;

    /// A handshake reply for a verified request, if this request is one.
    fn challenge(&self, _req: &Request<'_>, _secrets: &Secrets) -> Option<ChallengeResponse> {
        None
    }

    /// How a repeat with a different body is treated.
    fn on_body_mismatch(&self) -> MismatchPolicy {
        MismatchPolicy::Flag
    }

    /// Request headers worth keeping with the event (lower-case names). Never signatures,
    /// tokens or other credentials.
    fn kept_headers(&self) -> &'static [&'static str] {
        &[]
    }

    /// An example body for a test event of this provider (used by `hookgate send` when the user
    /// gives no body). It must carry `event_id` where the provider reads the id from the body.
    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        serde_json::json!({ "id": event_id, "type": event_type })
            .to_string()
            .into_bytes()
    }

    /// The headers that make `req` verify under `secret` at `now`.
    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError>;

    /// How long this provider may redeliver an event (its retry horizon plus margin); the
    /// gateway warns when the dedupe window is shorter.
    fn retry_horizon(&self) -> Duration;

    /// Whether `secret` can be used by this provider at all (e.g. a Standard Webhooks key must
    /// be base64). The gateway calls this at start-up so a mistyped secret fails loudly there,
    /// instead of silently never matching. The message never contains the secret.
    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        if secret.expose().is_empty() {
            return Err(BuildError::Invalid("secret is empty".into()));
        }
        Ok(())
    }
}

/// Per-source options the gateway passes when building a provider.
#[derive(Debug, Clone, Default)]
pub struct ProviderOptions {
    /// Timestamp tolerance; [`DEFAULT_TOLERANCE`] when `None`.
    pub tolerance: Option<Duration>,
    /// Settings of the `generic` provider (required for it, rejected for others).
    pub generic: Option<generic::GenericConfig>,
}

/// Every provider name [`build`] accepts.
pub const KNOWN_PROVIDERS: &[&str] = &[
    "stripe",
    "shopify",
    "github",
    "standard-webhooks",
    "generic",
    "internal",
];

/// Build the provider named `name` (the `provider` key of a source in the config).
pub fn build(name: &str, opts: &ProviderOptions) -> Result<Box<dyn Provider>, BuildError> {
    if name != "generic" && opts.generic.is_some() {
        return Err(BuildError::Invalid(format!(
            "`generic` settings are only valid with provider = \"generic\", not \"{name}\""
        )));
    }
    let tolerance = opts.tolerance.unwrap_or(DEFAULT_TOLERANCE);
    Ok(match name {
        "stripe" => Box::new(stripe::Stripe::new(tolerance)),
        "shopify" => Box::new(shopify::Shopify::new()),
        "github" => Box::new(github::GitHub::new()),
        "standard-webhooks" => Box::new(standard_webhooks::StandardWebhooks::new(tolerance)),
        "internal" => Box::new(internal::Internal::new(tolerance)),
        "generic" => {
            let cfg = opts.generic.clone().ok_or_else(|| {
                BuildError::Invalid(
                    "provider \"generic\" needs a [sources.<name>.generic] table".into(),
                )
            })?;
            Box::new(generic::Generic::new(cfg, tolerance)?)
        }
        other => return Err(BuildError::UnknownProvider(other.to_string())),
    })
}
