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

pub mod adyen;
pub mod asana;
pub mod asymmetric;
pub mod braintree;
pub mod calendly;
pub mod catalogue;
pub mod contentful;
pub mod discord;
pub mod ebay;
pub mod generic;
pub mod github;
pub mod gitlab;
pub mod hubspot;
pub mod internal;
pub mod linear;
pub mod mailgun;
pub mod netlify;
pub mod plaid;
pub mod preset;
pub mod segment;
pub mod sender_auth;
pub mod sendgrid;
pub mod shopify;
pub mod signature;
pub mod slack;
pub mod sns;
pub mod standard_webhooks;
pub mod stripe;
pub mod twilio;
pub mod zoom;

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
    /// A credential header ([`Provider::credential_headers`]) appears more than once; raised by
    /// [`check_credential_headers`] before verification.
    #[error("the credential header `{0}` appears more than once")]
    RepeatedHeader(&'static str),
    /// The request's [`Provider::replay_token`] was already seen with a different body (raised
    /// by the gateway, which keeps the tokens; providers never return it).
    #[error("this signature was already used for a different body")]
    ReplayedToken,
}

impl VerifyError {
    /// A stable, bounded label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing_signature",
            VerifyError::MalformedHeader(_) => "malformed_signature",
            VerifyError::SignatureMismatch | VerifyError::NoSecret => "invalid_signature",
            VerifyError::StaleTimestamp | VerifyError::FutureTimestamp => "stale_timestamp",
            VerifyError::ReplayedToken => "replayed_token",
            VerifyError::RepeatedHeader(_) => "repeated_credential_header",
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
    /// Further response headers the provider asks for (Dropbox: `X-Content-Type-Options`).
    pub headers: Vec<(&'static str, String)>,
    /// A URL the gateway GETs after answering, to complete the subscription (AWS SNS
    /// `ConfirmSubscription`). Built by the provider from configuration only, never from a URL
    /// in the request.
    pub confirm_url: Option<String>,
}

/// A handshake as the provider would send it ([`Provider::handshake_request`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeRequest {
    pub method: &'static str,
    /// Query parameters (`name=value&…`, encoded) to append to the source URL.
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The kinds of handshake a provider may perform, for routing (which methods a source answers)
/// and for listings. The preset kinds are answered by [`preset::Preset`]; `Bespoke` ones by the
/// provider's own [`Provider::challenge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    None,
    /// Answered by the provider's own code after verification (Slack `url_verification`, Zoom
    /// `endpoint.url_validation`, Discord `PING`); the text names it.
    Bespoke(&'static str),
    /// `GET ?{param}=C` answered `200 text/plain` with `C` and `X-Content-Type-Options: nosniff`
    /// (Dropbox).
    GetEcho {
        param: &'static str,
    },
    /// `GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`: `C` (as text, or as JSON
    /// `{"hub.challenge":C}` when `json`) when `T` equals the source's `verify_token`
    /// (constant-time); refused otherwise (Meta, Strava).
    HubChallenge {
        json: bool,
    },
    /// `GET ?challenge_code=C` answered `{"challengeResponse": hex(SHA-256(C + verify_token +
    /// endpoint))}` (eBay), by the provider's own code.
    ChallengeCode,
    /// `GET ?crc_token=T` answered `{"response_token":"sha256=<base64 HMAC-SHA256(secret, T)>"}`
    /// (X / Twitter CRC).
    Crc,
    /// `HEAD` answered 200 (Trello checks the callback URL exists).
    Head,
    /// A signed POST whose `header` equals `value` answered `200 text/plain` with the body's
    /// `field` (Twitch EventSub `webhook_callback_verification`).
    SignedEcho {
        header: &'static str,
        value: &'static str,
        field: &'static str,
    },
    /// An unsigned POST carrying header `request` answered 200 with the same value in header
    /// `response` (Smartsheet `Smartsheet-Hook-Challenge` → `Smartsheet-Hook-Response`).
    HeaderEcho {
        request: &'static str,
        response: &'static str,
    },
    /// A signed POST whose events array is present but empty answered 200 with an empty body
    /// (LINE "Verify", Xero "Intent to receive").
    EmptyBatch,
    /// An unsigned form POST of exactly `webhook_id=<digits>` answered 200 (WooCommerce's ping
    /// when a webhook is saved).
    UnsignedPing,
    /// An unsigned POST carrying the signing secret in `header`, answered 200 echoing it in the
    /// same header (Asana `X-Hook-Secret`). The gateway keeps the secret (first hand-over wins)
    /// and verifies later deliveries with it: the provider only builds the answer.
    SecretHandover {
        header: &'static str,
    },
    /// `GET` with header `header: C` answered `200 {"<field>": C}` (Okta's one-time
    /// verification, `X-Okta-Verification-Challenge` → `{"verification": C}`).
    GetHeaderEcho {
        header: &'static str,
        field: &'static str,
    },
    /// `POST ?{param}=V` answered `200 text/plain` with `V` (Microsoft Graph
    /// `validationToken`).
    QueryEcho {
        param: &'static str,
    },
}

impl Handshake {
    /// The HTTP methods other than `POST` a source of this provider must answer.
    pub fn methods(self) -> &'static [&'static str] {
        match self {
            Handshake::GetEcho { .. }
            | Handshake::HubChallenge { .. }
            | Handshake::Crc
            | Handshake::GetHeaderEcho { .. }
            | Handshake::ChallengeCode => &["GET"],
            Handshake::Head => &["HEAD"],
            _ => &[],
        }
    }

    /// A one-line description for listings.
    pub fn describe(self) -> String {
        match self {
            Handshake::None => "none".into(),
            Handshake::Bespoke(what) => what.into(),
            Handshake::GetEcho { param } => format!("GET ?{param}= echoed as text/plain"),
            Handshake::HubChallenge { json: false } => {
                "GET hub.challenge echoed as text when hub.verify_token matches verify_token".into()
            }
            Handshake::HubChallenge { json: true } => {
                "GET hub.challenge echoed as JSON when hub.verify_token matches verify_token".into()
            }
            Handshake::Crc => "GET ?crc_token= answered with its HMAC (response_token)".into(),
            Handshake::ChallengeCode => {
                "GET ?challenge_code= answered with SHA-256(code + verify_token + public_url)"
                    .into()
            }
            Handshake::Head => "HEAD answered 200".into(),
            Handshake::SignedEcho { header, value, .. } => {
                format!("signed POST with {header}: {value} answered with its challenge")
            }
            Handshake::HeaderEcho { request, response } => {
                format!("POST with {request} echoed in {response}")
            }
            Handshake::EmptyBatch => "signed POST with an empty event list answered 200".into(),
            Handshake::UnsignedPing => "unsigned POST webhook_id=N answered 200".into(),
            Handshake::GetHeaderEcho { header, field } => {
                format!("GET with {header}: C answered {{\"{field}\": C}}")
            }
            Handshake::QueryEcho { param } => format!("POST ?{param}=V answered V as text/plain"),
            Handshake::SecretHandover { header } => format!(
                "unsigned POST with {header} answered 200 echoing it; the secret is stored (first wins) and verifies later deliveries"
            ),
        }
    }
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

/// A signed test request ([`Provider::sign_request`]): the headers to send and, for schemes that
/// sign inside the body or the URL, what replaces the body and what is added to the URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignedRequest {
    pub headers: Vec<(String, String)>,
    /// The body to send instead of the one given (Mailgun and Adyen sign inside the body,
    /// Linear carries its timestamp there). `None`: send the given body unchanged.
    pub body: Option<Vec<u8>>,
    /// Query parameters (`name=value&…`, already encoded) to append to the URL the request is
    /// posted to; the signature was computed over `SignRequest::url` with them appended
    /// (Twilio's `bodySHA256`). `None`: the URL is unchanged.
    pub query: Option<String>,
}

impl SignedRequest {
    pub fn headers(headers: Vec<(String, String)>) -> Self {
        SignedRequest {
            headers,
            ..SignedRequest::default()
        }
    }
}

/// `url` with `query` (`name=value&…`) appended after `?` or `&`.
pub fn append_query(url: &str, query: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let separator = match base.split_once('?') {
        None => "?",
        Some((_, existing)) if existing.is_empty() || existing.ends_with('&') => "",
        Some(_) => "&",
    };
    match fragment {
        Some(fragment) => format!("{base}{separator}{query}#{fragment}"),
        None => format!("{base}{separator}{query}"),
    }
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
    #[error("unknown provider `{0}` (see `hookgate providers` for the {count} built in)", count = known_providers().len())]
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

    /// Every request header verification reads: signatures, timestamps, key ids, tokens, and
    /// headers the signature covers (lower case). A request in which any of them appears more
    /// than once is refused before verification ([`check_credential_headers`]), so that which
    /// of two values a verifier happens to read never decides the verdict. Schemes that sign
    /// inside the body declare none.
    fn credential_headers(&self) -> &'static [&'static str];

    /// Extract the events (stable id and type) of an already verified request.
    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError>;

    /// A handshake reply for a verified request, if this request is one.
    fn challenge(&self, _req: &Request<'_>, _secrets: &Secrets) -> Option<ChallengeResponse> {
        None
    }

    /// The request this provider's handshake would send (`hookgate send --handshake`), signed
    /// under `secret` at `now` where the handshake is signed. `None`: no handshake.
    fn handshake_request(
        &self,
        _url: &str,
        _secret: &Secret,
        _now: SystemTime,
    ) -> Result<Option<HandshakeRequest>, SignError> {
        Ok(None)
    }

    /// The handshake this provider performs (for routing and listings).
    fn handshake(&self) -> Handshake {
        Handshake::None
    }

    /// Answer an *unsigned* handshake, called before verification: `None` when `req` is not
    /// one (it then goes through verification as usual), `Some(Err)` when it is one but must be
    /// refused (a wrong verify token). Only GET/HEAD challenges and WooCommerce's ping are
    /// answered here; signed handshakes go through [`Provider::challenge`].
    fn answer_handshake(
        &self,
        _req: &Request<'_>,
        _secrets: &Secrets,
    ) -> Option<Result<ChallengeResponse, VerifyError>> {
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

    /// The headers that make `req` verify under `secret` at `now`. Schemes that sign inside the
    /// body or the URL cannot express that here and answer [`SignError::Unsupported`] (pointing
    /// at [`Provider::sign_request`]) for the bodies they cannot sign with headers alone.
    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError>;

    /// The complete signed test request: headers, and the body and query additions of schemes
    /// that sign there (Mailgun, Adyen payments, Linear, Twilio JSON). `hookgate send` should
    /// use this rather than [`Provider::sign`]. The default is [`Provider::sign`]'s headers.
    fn sign_request(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<SignedRequest, SignError> {
        self.sign(req, secret, now).map(SignedRequest::headers)
    }

    /// A single-use token of a verified request, for schemes whose signature does not cover
    /// the body and can therefore be lifted onto another body (Mailgun: `signature.token`).
    /// The gateway keeps these in the store and refuses a token seen before with a different
    /// body. `None` for every scheme that signs the body.
    fn replay_token(&self, _req: &Request<'_>) -> Option<String> {
        None
    }

    /// How long this provider may redeliver an event (its retry horizon plus margin); the
    /// gateway warns when the dedupe window is shorter.
    fn retry_horizon(&self) -> Duration;

    /// Whether `secret` can be used by this provider at all (e.g. a Standard Webhooks key must
    /// be base64). The gateway calls this at start-up so a mistyped secret fails loudly there,
    /// instead of silently never matching. The message never contains the secret.
    /// Whether a verified request's body is authentic (covered by a MAC or signature).
    /// `false` for schemes that only authenticate the sender with a shared value (Okta,
    /// Microsoft Graph, Azure Event Grid, Strava): the gateway warns at start-up.
    fn authenticates_body(&self) -> bool {
        true
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        if secret.expose().is_empty() {
            return Err(BuildError::Invalid("secret is empty".into()));
        }
        Ok(())
    }
}

/// The one rule for repeated credential headers, for every provider: a request carrying any of
/// `provider`'s [`Provider::credential_headers`] more than once is refused
/// ([`VerifyError::RepeatedHeader`]), whatever the order of the values. The gateway calls this
/// before [`Provider::verify`].
pub fn check_credential_headers(
    provider: &dyn Provider,
    headers: &http::HeaderMap,
) -> Result<(), VerifyError> {
    for &name in provider.credential_headers() {
        let mut values = headers.get_all(name).iter();
        if values.next().is_some() && values.next().is_some() {
            return Err(VerifyError::RepeatedHeader(name));
        }
    }
    Ok(())
}

/// Per-source options the gateway passes when building a provider.
#[derive(Debug, Clone, Default)]
pub struct ProviderOptions {
    /// Timestamp tolerance; [`DEFAULT_TOLERANCE`] when `None`.
    pub tolerance: Option<Duration>,
    /// Settings of the `generic` provider (required for it, rejected for others).
    pub generic: Option<generic::GenericConfig>,
    /// The token a hub.challenge handshake must present (Meta, Strava; rejected for others).
    pub verify_token: Option<Secret>,
    /// The SNS topics an `aws-sns` source accepts (required for it, rejected for others).
    pub topic_arns: Vec<String>,
    /// The exact public URL of the source (eBay's challenge hashes it).
    pub public_url: Option<String>,
}

/// The bespoke providers: their own module of code, for a real difference of scheme.
pub const BESPOKE_PROVIDERS: &[&str] = &[
    "stripe",
    "standard-webhooks",
    "generic",
    "internal",
    "linear",
    "hubspot",
    "gitlab",
    "twilio",
    "mailgun",
    "adyen",
    "sendgrid",
    "discord",
    "netlify",
    "aws-sns",
    "braintree",
    "contentful",
    "plaid",
    "ebay",
    "okta",
    "msgraph",
    "azure-eventgrid",
    "strava",
];

/// Every provider name [`build`] accepts: the bespoke ones, then the presets.
pub fn known_providers() -> Vec<&'static str> {
    BESPOKE_PROVIDERS
        .iter()
        .copied()
        .chain(catalogue::PRESETS.iter().map(|row| row.name))
        .collect()
}

/// Build the provider named `name` (the `provider` key of a source in the config).
pub fn build(name: &str, opts: &ProviderOptions) -> Result<Box<dyn Provider>, BuildError> {
    if name != "generic" && opts.generic.is_some() {
        return Err(BuildError::Invalid(format!(
            "`generic` settings are only valid with provider = \"generic\", not \"{name}\""
        )));
    }
    if let Some(row) = catalogue::preset(name) {
        return Ok(Box::new(preset::Preset::new(row, opts)?));
    }
    if name != "aws-sns" && !opts.topic_arns.is_empty() {
        return Err(BuildError::Invalid(format!(
            "`topic_arns` is only used by provider \"aws-sns\", not `{name}`"
        )));
    }
    if opts.verify_token.is_some() && name != "ebay" && name != "strava" {
        return Err(BuildError::Invalid(format!(
            "`verify_token` is only used by providers with a hub.challenge handshake, not `{name}`"
        )));
    }
    let tolerance = opts.tolerance.unwrap_or(DEFAULT_TOLERANCE);
    Ok(match name {
        "stripe" => Box::new(stripe::Stripe::new(tolerance)),
        "standard-webhooks" => Box::new(standard_webhooks::StandardWebhooks::new(tolerance)),
        "internal" => Box::new(internal::Internal::new(tolerance)),
        "linear" => Box::new(linear::Linear::new(tolerance)?),
        "hubspot" => Box::new(hubspot::HubSpot::new(tolerance)?),
        "gitlab" => Box::new(gitlab::GitLab::new(tolerance)),
        "twilio" => Box::new(twilio::Twilio::new()),
        "mailgun" => Box::new(mailgun::Mailgun::new(tolerance)),
        "adyen" => Box::new(adyen::Adyen::new(tolerance)?),
        "sendgrid" => Box::new(sendgrid::SendGrid::new(tolerance)),
        "discord" => Box::new(discord::Discord::new(tolerance)),
        "netlify" => Box::new(netlify::Netlify::new()),
        "braintree" => Box::new(braintree::Braintree::new()),
        "contentful" => Box::new(contentful::Contentful::new(opts.tolerance)),
        "plaid" => Box::new(plaid::Plaid::new(tolerance)),
        "ebay" => Box::new(ebay::Ebay::new(
            opts.verify_token.clone(),
            opts.public_url.clone(),
        )),
        "aws-sns" => Box::new(sns::Sns::new(opts.topic_arns.clone())?),
        "okta" | "msgraph" | "azure-eventgrid" | "strava" => {
            let kind = sender_auth::Kind::from_name(name).expect("listed above");
            Box::new(sender_auth::SenderAuth::new(
                kind,
                opts.verify_token.clone(),
            )?)
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::at;

    /// Headers that carry a signature, token or key: never kept with an event.
    const CREDENTIAL_HEADERS: &[&str] = &[
        "authorization",
        "stripe-signature",
        "x-hub-signature-256",
        "x-hub-signature",
        "x-shopify-hmac-sha256",
        "shopify-hmac-sha256",
        "webhook-signature",
        "svix-signature",
        "x-slack-signature",
        "x-zm-signature",
        "paddle-signature",
        "x-square-hmacsha256-signature",
        "linear-signature",
        "typeform-signature",
        "calendly-webhook-signature",
        "x-hubspot-signature-v3",
        "x-gitlab-token",
        "x-twilio-signature",
        "hmacsignature",
        "x-twilio-email-event-webhook-signature",
        "x-signature-ed25519",
    ];

    fn options(name: &str) -> ProviderOptions {
        catalogue::example_options(name)
    }

    #[test]
    fn every_known_provider_builds_under_its_own_name() {
        for name in known_providers() {
            let provider = build(name, &options(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(provider.name(), name);
            assert!(
                provider.retry_horizon() >= Duration::from_secs(24 * 3600),
                "{name}: the retry horizon is never below the store's one-day floor"
            );
            for kept in provider.kept_headers() {
                assert!(
                    !CREDENTIAL_HEADERS.contains(kept),
                    "{name} keeps the credential header {kept}"
                );
                assert_eq!(
                    kept.to_ascii_lowercase(),
                    *kept,
                    "{name}: kept names are lower case"
                );
            }
        }
        assert!(matches!(
            build("paypal", &ProviderOptions::default()),
            Err(BuildError::UnknownProvider(_))
        ));
        assert!(matches!(
            build("slack", &options("generic")),
            Err(BuildError::Invalid(_))
        ));
    }

    #[test]
    fn every_declared_credential_header_is_refused_when_repeated_in_either_order() {
        for name in known_providers() {
            let provider = build(name, &options(name)).unwrap();
            for &header in provider.credential_headers() {
                let parsed = http::HeaderName::from_bytes(header.as_bytes())
                    .unwrap_or_else(|_| panic!("{name}: `{header}` is a header name"));
                assert_eq!(parsed.as_str(), header, "{name}: names are lower case");
                for values in [["v1=valid", "garbage"], ["garbage", "v1=valid"]] {
                    let mut headers = http::HeaderMap::new();
                    for v in values {
                        headers.append(parsed.clone(), http::HeaderValue::from_static(v));
                    }
                    assert_eq!(
                        check_credential_headers(provider.as_ref(), &headers),
                        Err(VerifyError::RepeatedHeader(header)),
                        "{name}: {header}"
                    );
                    assert_eq!(
                        VerifyError::RepeatedHeader(header).reason(),
                        "repeated_credential_header"
                    );
                }
                let mut once = http::HeaderMap::new();
                once.insert(parsed, http::HeaderValue::from_static("v1=valid"));
                assert_eq!(check_credential_headers(provider.as_ref(), &once), Ok(()));
            }
        }
        let generic = build("generic", &options("generic")).unwrap();
        assert_eq!(generic.credential_headers(), ["x-signature"]);
    }

    #[test]
    fn retry_horizons_follow_the_reference() {
        let horizon = |name: &str| build(name, &options(name)).unwrap().retry_horizon();
        let days = |n: u64| Duration::from_secs(n * 24 * 3600);
        assert_eq!(horizon("adyen"), days(31), "Adyen retries for 30 days");
        for name in ["paddle", "square", "stripe", "github"] {
            assert_eq!(horizon(name), days(4), "{name}: 3 days of retries");
        }
        for name in [
            "sendgrid", "hubspot", "calendly", "intercom", "gitlab", "linear",
        ] {
            assert_eq!(horizon(name), days(2), "{name}: about a day of retries");
        }
        for name in ["slack", "zoom", "typeform", "mailgun", "twilio", "discord"] {
            assert_eq!(horizon(name), days(1), "{name}: hours of retries at most");
        }
    }

    #[test]
    fn only_mailgun_hands_out_replay_tokens() {
        let body = br#"{"signature":{"timestamp":"1","token":"tok","signature":"00"}}"#;
        let headers = http::HeaderMap::new();
        let req = Request {
            method: "POST",
            url: "https://x/",
            headers: &headers,
            body,
        };
        for name in known_providers() {
            let token = build(name, &options(name)).unwrap().replay_token(&req);
            assert_eq!(token.is_some(), name == "mailgun", "{name}");
        }
    }

    #[test]
    fn sign_request_defaults_to_the_sign_headers() {
        let provider = build("stripe", &options("stripe")).unwrap();
        let req = SignRequest {
            method: "POST",
            url: "https://x/",
            body: b"{}",
            event_id: "evt",
        };
        let secret = Secret::new("whsec_x");
        let signed = provider.sign_request(&req, &secret, at(1)).unwrap();
        assert_eq!(signed.headers, provider.sign(&req, &secret, at(1)).unwrap());
        assert_eq!((signed.body, signed.query), (None, None));
    }

    #[test]
    fn queries_are_appended_before_the_fragment() {
        assert_eq!(append_query("https://x/p", "a=1"), "https://x/p?a=1");
        assert_eq!(
            append_query("https://x/p?b=2", "a=1"),
            "https://x/p?b=2&a=1"
        );
        assert_eq!(append_query("https://x/p?", "a=1"), "https://x/p?a=1");
        assert_eq!(
            append_query("https://x/p#rc=1", "a=1"),
            "https://x/p?a=1#rc=1"
        );
    }
}
