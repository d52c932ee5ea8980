//! Built-in providers that are exactly one [`Generic`] configuration: presets.
//!
//! Most providers sign a plain HMAC the generic verifier already describes; what makes them a
//! provider is only a name, the `[sources.<name>.generic]` table they amount to, the headers
//! worth keeping, a retry horizon, a default tolerance and, for a few, a handshake of one of
//! the simple kinds in [`Handshake`]. A [`PresetRow`] is that data and nothing else; the rows
//! live in [`crate::catalogue::PRESETS`]. Verification, extraction and signing all run through
//! [`Generic`], so adding a provider of this family is a table row, its vectors and its docs row
//! (which is generated from the same row).
//!
//! Invariants:
//! - a row's `generic` text is the TOML an operator would write by hand; it is parsed and
//!   validated by the same code as a hand-written table (a test builds every row);
//! - handshakes never create events: [`Provider::challenge`] and [`Provider::handshake`] answer
//!   them and the gateway counts them as `challenge`;
//! - an unsigned handshake answers only with what the request itself carried (or with an HMAC
//!   of it under the source's own secret), never with anything that would let it stand in for
//!   a verified event.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::generic::{Generic, GenericConfig};
use crate::signature::{self, Algorithm, Encoding};
use crate::{
    BuildError, ChallengeResponse, EventMeta, ExtractError, Handshake, HandshakeRequest, Provider,
    ProviderOptions, Request, Secret, Secrets, SignError, SignRequest, VerifyError,
    DEFAULT_TOLERANCE,
};

/// Writes an example body from an event id and type.
pub type ExampleBody = fn(event_id: &str, event_type: &str) -> Vec<u8>;

/// The parts of a preset that are code, for providers whose scheme is generic but whose event
/// ids or handshake are not (Slack, Zoom, Calendly): the signature still runs through
/// [`Generic`], these only replace extraction and answer the provider's own signed handshake.
#[derive(Debug)]
pub struct Hooks {
    /// The events of a verified request.
    pub events: fn(&Request<'_>) -> Result<Vec<EventMeta>, ExtractError>,
    /// Where the event id comes from, for listings.
    pub id_note: &'static str,
    /// The answer to a verified request that is the provider's handshake, if it is one.
    pub challenge: Option<fn(&Request<'_>, &Secrets) -> Option<ChallengeResponse>>,
    /// The body of that handshake (for `hookgate send --handshake`), from a challenge text.
    pub handshake_body: Option<fn(&str, SystemTime) -> Vec<u8>>,
}

/// One preset: a provider that is exactly one generic configuration (see the module docs).
#[derive(Debug)]
pub struct PresetRow {
    /// The config name (`provider = "…"`).
    pub name: &'static str,
    /// The provider's own name, for listings.
    pub title: &'static str,
    /// The `[sources.<name>.generic]` table this provider is, as TOML.
    pub generic: &'static str,
    /// Request headers worth keeping with the event (lower case; never credentials).
    pub kept_headers: &'static [&'static str],
    /// How long the provider may redeliver one event, with margin: the gateway warns when the
    /// dedupe window is shorter.
    pub retry_horizon: Duration,
    /// Where the horizon comes from (the provider's documented schedule, or why it is a guess).
    pub retry_note: &'static str,
    /// The tolerance for timestamped schemes when the source sets none (the provider's own
    /// recommendation); `None`: [`DEFAULT_TOLERANCE`].
    pub tolerance: Option<Duration>,
    pub handshake: Handshake,
    /// An example body when the one [`Generic`] derives from the id and type paths is not
    /// what the provider sends.
    pub example: Option<ExampleBody>,
    /// Caveats an operator should read (unconfirmed facts, weak points of the scheme).
    pub note: &'static str,
    /// Extraction and handshake code, for the few presets that need some.
    pub hooks: Option<&'static Hooks>,
}

impl PresetRow {
    /// The row's generic configuration; an error is a bug in the table (a test builds all).
    pub fn config(&self) -> Result<GenericConfig, BuildError> {
        toml::from_str(self.generic).map_err(|e| {
            BuildError::Invalid(format!(
                "built-in preset `{}` does not parse: {e}",
                self.name
            ))
        })
    }
}

/// A compiled [`PresetRow`].
pub struct Preset {
    row: &'static PresetRow,
    inner: Generic,
    /// The source's verify token, for handshakes that present one (Meta, Strava).
    verify_token: Option<Secret>,
}

impl fmt::Debug for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preset")
            .field("name", &self.row.name)
            .field("inner", &self.inner)
            .field("verify_token", &self.verify_token)
            .finish()
    }
}

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";
/// The longest X CRC token answered (X sends a few dozen characters).
const MAX_CRC_TOKEN: usize = 256;
/// Meta and Strava subscribe with `hub.mode=subscribe`.
const HUB_SUBSCRIBE: &str = "subscribe";
/// The longest secret a hand-over handshake may carry (Asana's are a few dozen characters).
const MAX_HANDED_OVER_SECRET: usize = 1024;

fn reply(content_type: &'static str, body: impl Into<Vec<u8>>) -> ChallengeResponse {
    ChallengeResponse {
        status: 200,
        content_type,
        body: body.into(),
        headers: Vec::new(),
        confirm_url: None,
    }
}

impl Preset {
    pub fn new(row: &'static PresetRow, opts: &ProviderOptions) -> Result<Self, BuildError> {
        let tolerance = opts
            .tolerance
            .or(row.tolerance)
            .unwrap_or(DEFAULT_TOLERANCE);
        let needs_token = matches!(row.handshake, Handshake::HubChallenge { .. });
        if opts.verify_token.is_some() && !needs_token {
            return Err(BuildError::Invalid(format!(
                "`verify_token` is only used by providers with a hub.challenge handshake, not `{}`",
                row.name
            )));
        }
        Ok(Preset {
            row,
            inner: Generic::new(row.config()?, tolerance)?,
            verify_token: opts.verify_token.clone(),
        })
    }

    /// The row this preset was built from.
    pub fn row(&self) -> &'static PresetRow {
        self.row
    }

    /// The compiled generic verifier (for descriptions of the scheme).
    pub fn generic(&self) -> &Generic {
        &self.inner
    }

    fn hub_challenge(
        &self,
        req: &Request<'_>,
        json: bool,
    ) -> Result<ChallengeResponse, VerifyError> {
        let param = |name| signature::query_param(req.url, name);
        let (Some(mode), Some(token), Some(challenge)) = (
            param("hub.mode"),
            param("hub.verify_token"),
            param("hub.challenge"),
        ) else {
            return Err(VerifyError::MissingHeader("hub.verify_token"));
        };
        let Some(expected) = &self.verify_token else {
            return Err(VerifyError::NoSecret);
        };
        let matches = signature::constant_time_eq(token.as_bytes(), expected.expose());
        if mode != HUB_SUBSCRIBE || !matches {
            return Err(VerifyError::SignatureMismatch);
        }
        Ok(if json {
            reply(
                JSON,
                serde_json::json!({ "hub.challenge": challenge }).to_string(),
            )
        } else {
            reply(TEXT_PLAIN, challenge)
        })
    }
}

impl Provider for Preset {
    fn credential_headers(&self) -> &'static [&'static str] {
        self.inner.credential_headers()
    }

    fn name(&self) -> &'static str {
        self.row.name
    }

    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        self.inner.verify(req, secrets, now)
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        match self.row.hooks {
            Some(hooks) => (hooks.events)(req),
            None => self.inner.events(req),
        }
    }

    fn challenge(&self, req: &Request<'_>, secrets: &Secrets) -> Option<ChallengeResponse> {
        if let Some(challenge) = self.row.hooks.and_then(|hooks| hooks.challenge) {
            return challenge(req, secrets);
        }
        match self.row.handshake {
            Handshake::SignedEcho {
                header,
                value,
                field,
            } => {
                let announced = req.header(header)?.trim();
                if !announced.eq_ignore_ascii_case(value) {
                    return None;
                }
                let challenge = signature::body_json_text(req.body, field)?;
                Some(reply(TEXT_PLAIN, challenge))
            }
            Handshake::EmptyBatch => self
                .inner
                .is_empty_batch(req.body)
                .then(|| reply(TEXT_PLAIN, Vec::new())),
            _ => None,
        }
    }

    fn handshake(&self) -> Handshake {
        self.row.handshake
    }

    fn handshake_request(
        &self,
        url: &str,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Option<HandshakeRequest>, SignError> {
        let challenge = format!("hookgate-{}", signature::unix_millis(now));
        let get = |query: String| HandshakeRequest {
            method: "GET",
            query: Some(query),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let signed = |body: Vec<u8>, extra: Vec<(String, String)>| {
            let sign = SignRequest {
                method: "POST",
                url,
                body: &body,
                event_id: &challenge,
            };
            let mut headers = self.inner.sign(&sign, secret, now)?;
            headers.extend(extra);
            Ok::<_, SignError>(HandshakeRequest {
                method: "POST",
                query: None,
                headers,
                body,
            })
        };
        Ok(Some(match self.row.handshake {
            Handshake::Bespoke(_) => match self.row.hooks.and_then(|hooks| hooks.handshake_body) {
                Some(body) => signed(body(&challenge, now), Vec::new())?,
                None => return Ok(None),
            },
            Handshake::None
            | Handshake::ChallengeCode
            | Handshake::GetHeaderEcho { .. }
            | Handshake::QueryEcho { .. } => return Ok(None),
            Handshake::GetEcho { param } => {
                get(signature::form_encode([(param, challenge.as_str())]))
            }
            Handshake::HubChallenge { .. } => {
                let token = self
                    .verify_token
                    .as_ref()
                    .and_then(|t| std::str::from_utf8(t.expose()).ok())
                    .ok_or(SignError::BadSecret("the source has no verify_token"))?;
                get(signature::form_encode([
                    ("hub.mode", HUB_SUBSCRIBE),
                    ("hub.challenge", challenge.as_str()),
                    ("hub.verify_token", token),
                ]))
            }
            Handshake::Crc => get(signature::form_encode([("crc_token", challenge.as_str())])),
            Handshake::Head => HandshakeRequest {
                method: "HEAD",
                query: None,
                headers: Vec::new(),
                body: Vec::new(),
            },
            Handshake::SignedEcho {
                header,
                value,
                field,
            } => {
                let body = json_body(serde_json::json!({
                    field: challenge,
                    "subscription": {"type": crate::TEST_EVENT_TYPE},
                }));
                signed(body, vec![(header.to_string(), value.to_string())])?
            }
            Handshake::EmptyBatch => signed(self.inner.empty_batch_body(), Vec::new())?,
            Handshake::HeaderEcho { request, .. } => HandshakeRequest {
                method: "POST",
                query: None,
                headers: vec![(request.to_string(), challenge.clone())],
                body: json_body(serde_json::json!({ "challenge": challenge })),
            },
            Handshake::SecretHandover { .. } => HandshakeRequest {
                method: "POST",
                query: None,
                headers: vec![(
                    "X-Hook-Secret".to_string(),
                    std::str::from_utf8(secret.expose())
                        .map_err(|_| SignError::BadSecret("the secret is not text"))?
                        .to_string(),
                )],
                body: Vec::new(),
            },
            Handshake::UnsignedPing => HandshakeRequest {
                method: "POST",
                query: None,
                headers: vec![(
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                )],
                body: b"webhook_id=1".to_vec(),
            },
        }))
    }

    fn answer_handshake(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
    ) -> Option<Result<ChallengeResponse, VerifyError>> {
        match (self.row.handshake, req.method) {
            (Handshake::GetEcho { param }, "GET") => {
                let challenge = signature::query_param(req.url, param)?;
                let mut answer = reply(TEXT_PLAIN, challenge);
                answer
                    .headers
                    .push(("x-content-type-options", "nosniff".to_string()));
                Some(Ok(answer))
            }
            (Handshake::HubChallenge { json }, "GET") => Some(self.hub_challenge(req, json)),
            (Handshake::Crc, "GET") => {
                let token = signature::query_param(req.url, "crc_token")?;
                // The answer is an HMAC under the same key that signs event bodies: answering
                // for arbitrary text would sign any body an attacker asks for. X's tokens are
                // short base64-like strings; nothing of that alphabet is a JSON event body.
                if token.len() > MAX_CRC_TOKEN
                    || !token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_+/=.".contains(&b))
                {
                    return Some(Err(VerifyError::MalformedHeader("crc_token")));
                }
                let Some(secret) = secrets.first() else {
                    return Some(Err(VerifyError::NoSecret));
                };
                let mac = Algorithm::Sha256.mac(secret.expose(), &[token.as_bytes()]);
                let response = format!("sha256={}", Encoding::Base64.encode(&mac));
                Some(Ok(reply(
                    JSON,
                    serde_json::json!({ "response_token": response }).to_string(),
                )))
            }
            (Handshake::Head, "HEAD") => Some(Ok(reply(TEXT_PLAIN, Vec::new()))),
            (Handshake::HeaderEcho { request, response }, "POST") => {
                let value = req.header(request)?.trim();
                if value.is_empty() {
                    return None;
                }
                let mut answer = reply(
                    JSON,
                    serde_json::json!({ "smartsheetHookResponse": value }).to_string(),
                );
                answer.headers.push((response, value.to_string()));
                Some(Ok(answer))
            }
            (Handshake::SecretHandover { header }, "POST") => {
                if req.headers.contains_key(self.inner.signature_header()) {
                    return None;
                }
                let value = req.header(header).or_else(|| {
                    // Present but not visible ASCII: a handshake, refused below.
                    req.headers.get(header).map(|_| "")
                })?;
                let value = value.trim();
                if value.is_empty() || value.len() > MAX_HANDED_OVER_SECRET {
                    return Some(Err(VerifyError::MalformedHeader(
                        crate::asana::SECRET_HEADER,
                    )));
                }
                let mut answer = reply(TEXT_PLAIN, Vec::new());
                answer.headers.push((header, value.to_string()));
                Some(Ok(answer))
            }
            (Handshake::UnsignedPing, "POST") => {
                if req.headers.contains_key(self.inner.signature_header()) {
                    return None;
                }
                let pairs = signature::form_pairs(req.body)?;
                match pairs.as_slice() {
                    [(name, id)]
                        if name == "webhook_id"
                            && !id.is_empty()
                            && id.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        Some(Ok(reply(TEXT_PLAIN, Vec::new())))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        self.row.kept_headers
    }

    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        match self.row.example {
            Some(example) => example(event_id, event_type),
            None => self.inner.example_body(event_id, event_type),
        }
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        self.inner.sign(req, secret, now)
    }

    fn retry_horizon(&self) -> Duration {
        self.row.retry_horizon
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        self.inner.check_secret(secret)
    }
}

/// The JSON text at `path` of an example body, for rows whose examples need more than the id.
pub(crate) fn json_body(value: Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

#[cfg(test)]
mod tests;
