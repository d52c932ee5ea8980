//! Providers that authenticate the sender but sign nothing: Okta Event Hooks, Microsoft Graph
//! change notifications, Azure Event Grid and Strava.
//!
//! None of them puts a MAC over the body. What they carry is a shared value the operator set
//! when subscribing, and hookgate checks exactly that, in constant time (both sides hashed):
//!
//! | provider | credential checked | handshake |
//! |---|---|---|
//! | `okta` | `Authorization` header equals a secret (the hook's `auth.value`) | `GET` with `X-Okta-Verification-Challenge: C` → `200 {"verification":"C"}` |
//! | `msgraph` | every `value[].clientState` equals a secret | `POST ?validationToken=V` → `200 text/plain` `V` |
//! | `azure-eventgrid` | query parameter `code` of the endpoint URL equals a secret | `aeg-event-type: SubscriptionValidation` → `200 {"validationResponse":"<validationCode>"}` |
//! | `strava` | body `subscription_id` equals the secret (the id Strava returned) | `GET hub.challenge` → `200 {"hub.challenge":"C"}` when `hub.verify_token` matches |
//!
//! Whoever learns the credential (a log, a proxy) can send any body under it, and a captured
//! request can be replayed with another body: [`Provider::authenticates_body`] is `false`, and
//! the gateway warns at start-up for every such source. Strava's credential is not even a
//! secret (an integer id): treat its events as hints and fetch the object from Strava's API.
//!
//! Event ids: Okta per `data.events[]` item `uuid`; Graph per `value[]` item
//! `{subscriptionId}:{SHA-256 of the item in canonical JSON}` (Graph's `id` is optional);
//! Event Grid per array item `id`; Strava `{object_type}:{object_id}:{aspect_type}:{event_time}`
//! (Strava documents none).

use std::time::{Duration, SystemTime};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::signature;
use crate::{
    BuildError, ChallengeResponse, EventMeta, ExtractError, Handshake, HandshakeRequest, Provider,
    Request, Secret, Secrets, SignError, SignRequest, VerifyError,
};

const DAY: u64 = 24 * 3600;
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";
/// The longest challenge echoed (the providers send a few dozen characters).
const MAX_CHALLENGE: usize = 1024;

pub const OKTA_CHALLENGE_HEADER: &str = "x-okta-verification-challenge";
pub const EVENTGRID_TYPE_HEADER: &str = "aeg-event-type";
const EVENTGRID_KEY_PARAM: &str = "code";
const GRAPH_TOKEN_PARAM: &str = "validationToken";

/// Which of the four providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Okta,
    Graph,
    EventGrid,
    Strava,
}

impl Kind {
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "okta" => Kind::Okta,
            "msgraph" => Kind::Graph,
            "azure-eventgrid" => Kind::EventGrid,
            "strava" => Kind::Strava,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct SenderAuth {
    kind: Kind,
    /// Strava's `hub.verify_token`.
    verify_token: Option<Secret>,
}

impl SenderAuth {
    pub fn new(kind: Kind, verify_token: Option<Secret>) -> Result<Self, BuildError> {
        if verify_token.is_some() && kind != Kind::Strava {
            return Err(BuildError::Invalid(
                "`verify_token` is only used by providers with a hub.challenge handshake".into(),
            ));
        }
        Ok(SenderAuth { kind, verify_token })
    }
}

/// Whether `presented` equals any configured secret, in constant time (hashed first, so
/// neither the value nor its length leaks).
fn matches_a_secret(presented: &[u8], secrets: &Secrets) -> bool {
    let presented = Sha256::digest(presented);
    secrets.iter().fold(false, |matched, secret| {
        matched | signature::constant_time_eq(&presented, &Sha256::digest(secret.expose()))
    })
}

fn reply(content_type: &'static str, body: impl Into<Vec<u8>>) -> ChallengeResponse {
    ChallengeResponse {
        status: 200,
        content_type,
        body: body.into(),
        headers: Vec::new(),
        confirm_url: None,
    }
}

fn items<'v>(body: &'v Value, path: &'static str) -> Result<&'v Vec<Value>, ExtractError> {
    let found = if path.is_empty() {
        Some(body)
    } else {
        signature::json_path(body, path)
    };
    match found {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(ExtractError::MissingEventId(path)),
    }
}

fn text(value: &Value, path: &str) -> Option<String> {
    signature::json_path_text(value, path)
}

impl Provider for SenderAuth {
    /// Okta's token header and Event Grid's type header; Graph and Strava carry their value in
    /// the body, and Event Grid its key in the URL.
    fn credential_headers(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Okta => &["authorization"],
            Kind::EventGrid => &[EVENTGRID_TYPE_HEADER],
            Kind::Graph | Kind::Strava => &[],
        }
    }

    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Okta => "okta",
            Kind::Graph => "msgraph",
            Kind::EventGrid => "azure-eventgrid",
            Kind::Strava => "strava",
        }
    }

    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        _now: SystemTime,
    ) -> Result<(), VerifyError> {
        if secrets.is_empty() {
            return Err(VerifyError::NoSecret);
        }
        match self.kind {
            Kind::Okta => {
                let value = signature::required_header(req, "authorization")?;
                if !matches_a_secret(value.as_bytes(), secrets) {
                    return Err(VerifyError::SignatureMismatch);
                }
            }
            Kind::EventGrid => {
                let Some(code) = signature::query_param(req.url, EVENTGRID_KEY_PARAM) else {
                    return Err(VerifyError::MissingHeader("code"));
                };
                if !matches_a_secret(code.as_bytes(), secrets) {
                    return Err(VerifyError::SignatureMismatch);
                }
            }
            Kind::Graph => {
                let body: Value = serde_json::from_slice(req.body)
                    .map_err(|_| VerifyError::MissingHeader("clientState"))?;
                let Some(Value::Array(items)) = body.get("value") else {
                    return Err(VerifyError::MissingHeader("clientState"));
                };
                if items.is_empty() {
                    return Err(VerifyError::MissingHeader("clientState"));
                }
                // Every item must carry the secret: a batch cannot smuggle in one that does not.
                let all = items.iter().fold(true, |all, item| {
                    let state = item.get("clientState").and_then(Value::as_str);
                    all & state.is_some_and(|s| matches_a_secret(s.as_bytes(), secrets))
                });
                if !all {
                    return Err(VerifyError::SignatureMismatch);
                }
            }
            Kind::Strava => {
                let body: Value = serde_json::from_slice(req.body)
                    .map_err(|_| VerifyError::MissingHeader("subscription_id"))?;
                let Some(id) = text(&body, "subscription_id") else {
                    return Err(VerifyError::MissingHeader("subscription_id"));
                };
                if !matches_a_secret(id.as_bytes(), secrets) {
                    return Err(VerifyError::SignatureMismatch);
                }
            }
        }
        Ok(())
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let body: Value = serde_json::from_slice(req.body)
            .map_err(|_| ExtractError::MalformedBody("the body is not JSON"))?;
        match self.kind {
            Kind::Okta => items(&body, "data.events")?
                .iter()
                .map(|item| {
                    Ok(EventMeta {
                        id: text(item, "uuid")
                            .ok_or(ExtractError::MissingEventId("data.events[].uuid"))?,
                        event_type: text(item, "eventType"),
                    })
                })
                .collect(),
            Kind::Graph => items(&body, "value")?
                .iter()
                .map(|item| {
                    let subscription = text(item, "subscriptionId")
                        .ok_or(ExtractError::MissingEventId("value[].subscriptionId"))?;
                    Ok(EventMeta {
                        id: format!("{subscription}:{}", signature::canonical_json_sha256(item)),
                        event_type: text(item, "changeType")
                            .or_else(|| text(item, "lifecycleEvent")),
                    })
                })
                .collect(),
            Kind::EventGrid => items(&body, "")?
                .iter()
                .map(|item| {
                    Ok(EventMeta {
                        id: text(item, "id").ok_or(ExtractError::MissingEventId("[].id"))?,
                        event_type: text(item, "eventType"),
                    })
                })
                .collect(),
            Kind::Strava => {
                let part = |path: &'static str| {
                    text(&body, path).ok_or(ExtractError::MissingEventId(path))
                };
                let (object_type, aspect) = (part("object_type")?, part("aspect_type")?);
                Ok(vec![EventMeta {
                    id: format!(
                        "{object_type}:{}:{aspect}:{}",
                        part("object_id")?,
                        part("event_time")?
                    ),
                    event_type: Some(format!("{object_type}.{aspect}")),
                }])
            }
        }
    }

    /// Event Grid's validation, answered after the endpoint key was checked.
    fn challenge(&self, req: &Request<'_>, _secrets: &Secrets) -> Option<ChallengeResponse> {
        if self.kind != Kind::EventGrid {
            return None;
        }
        let announced = req.header(EVENTGRID_TYPE_HEADER)?.trim();
        if !announced.eq_ignore_ascii_case("SubscriptionValidation") {
            return None;
        }
        let body: Value = serde_json::from_slice(req.body).ok()?;
        let code = text(body.as_array()?.first()?, "data.validationCode")?;
        Some(reply(
            JSON,
            serde_json::json!({ "validationResponse": code }).to_string(),
        ))
    }

    fn handshake(&self) -> Handshake {
        match self.kind {
            Kind::Okta => Handshake::GetHeaderEcho {
                header: OKTA_CHALLENGE_HEADER,
                field: "verification",
            },
            Kind::Graph => Handshake::QueryEcho {
                param: GRAPH_TOKEN_PARAM,
            },
            Kind::EventGrid => Handshake::Bespoke(
                "SubscriptionValidation answered {\"validationResponse\": code} (after the key check)",
            ),
            Kind::Strava => Handshake::HubChallenge { json: true },
        }
    }

    fn answer_handshake(
        &self,
        req: &Request<'_>,
        _secrets: &Secrets,
    ) -> Option<Result<ChallengeResponse, VerifyError>> {
        match (self.kind, req.method) {
            (Kind::Okta, "GET") => {
                let challenge = req.header(OKTA_CHALLENGE_HEADER)?.trim();
                if challenge.is_empty() || challenge.len() > MAX_CHALLENGE {
                    return Some(Err(VerifyError::MalformedHeader(OKTA_CHALLENGE_HEADER)));
                }
                Some(Ok(reply(
                    JSON,
                    serde_json::json!({ "verification": challenge }).to_string(),
                )))
            }
            (Kind::Graph, "POST") => {
                let token = signature::query_param(req.url, GRAPH_TOKEN_PARAM)?;
                if token.len() > MAX_CHALLENGE {
                    return Some(Err(VerifyError::MalformedHeader("validationToken")));
                }
                let mut answer = reply(TEXT_PLAIN, token);
                answer
                    .headers
                    .push(("x-content-type-options", "nosniff".to_string()));
                Some(Ok(answer))
            }
            (Kind::Strava, "GET") => Some(self.hub_challenge(req)),
            _ => None,
        }
    }

    fn handshake_request(
        &self,
        url: &str,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Option<HandshakeRequest>, SignError> {
        let challenge = format!("hookgate-{}", signature::unix_millis(now));
        Ok(Some(match self.kind {
            Kind::Okta => HandshakeRequest {
                method: "GET",
                query: None,
                headers: vec![
                    ("X-Okta-Verification-Challenge".into(), challenge),
                    ("Authorization".into(), secret_text(secret)?),
                ],
                body: Vec::new(),
            },
            Kind::Graph => HandshakeRequest {
                method: "POST",
                query: Some(signature::form_encode([(
                    GRAPH_TOKEN_PARAM,
                    challenge.as_str(),
                )])),
                headers: vec![("content-type".into(), "text/plain".into())],
                body: Vec::new(),
            },
            Kind::EventGrid => {
                let signed = self.sign_request(
                    &SignRequest {
                        method: "POST",
                        url,
                        body: b"",
                        event_id: &challenge,
                    },
                    secret,
                    now,
                )?;
                HandshakeRequest {
                    method: "POST",
                    query: signed.query,
                    headers: vec![("aeg-event-type".into(), "SubscriptionValidation".into())],
                    body: serde_json::json!([{
                        "id": challenge,
                        "topic": "/subscriptions/hookgate",
                        "subject": "",
                        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                        "eventTime": signature::format_rfc3339(now),
                        "data": {"validationCode": challenge},
                        "dataVersion": "1",
                        "metadataVersion": "1",
                    }])
                    .to_string()
                    .into_bytes(),
                }
            }
            Kind::Strava => {
                let token = self
                    .verify_token
                    .as_ref()
                    .and_then(|t| std::str::from_utf8(t.expose()).ok())
                    .ok_or(SignError::BadSecret("the source has no verify_token"))?;
                HandshakeRequest {
                    method: "GET",
                    query: Some(signature::form_encode([
                        ("hub.mode", "subscribe"),
                        ("hub.challenge", challenge.as_str()),
                        ("hub.verify_token", token),
                    ])),
                    headers: Vec::new(),
                    body: Vec::new(),
                }
            }
        }))
    }

    fn authenticates_body(&self) -> bool {
        false
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::EventGrid => &[
                "aeg-event-type",
                "aeg-subscription-name",
                "aeg-delivery-count",
                "aeg-data-version",
                "aeg-metadata-version",
            ],
            _ => &[],
        }
    }

    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        let body = match self.kind {
            Kind::Okta => serde_json::json!({
                "eventType": "com.okta.event_hook", "eventTypeVersion": "1.0",
                "cloudEventsVersion": "0.1", "source": "https://hookgate.okta.com/api/v1/eventHooks/who",
                "eventId": format!("env-{event_id}"), "eventTime": "2026-01-01T00:00:00.000Z",
                "contentType": "application/json",
                "data": {"events": [{"uuid": event_id, "eventType": event_type}]},
            }),
            Kind::Graph => serde_json::json!({"value": [{
                "subscriptionId": event_id, "clientState": "",
                "changeType": event_type, "resource": format!("Users/{event_id}"),
                "resourceData": {"id": event_id},
            }]}),
            Kind::EventGrid => serde_json::json!([{
                "id": event_id, "topic": "/subscriptions/hookgate", "subject": "test",
                "eventType": event_type, "eventTime": "2026-01-01T00:00:00Z",
                "data": {}, "dataVersion": "1", "metadataVersion": "1",
            }]),
            Kind::Strava => serde_json::json!({
                "aspect_type": "create", "event_time": 1_700_000_000, "object_id": event_id,
                "object_type": "activity", "owner_id": 1, "subscription_id": 0, "updates": {},
            }),
        };
        body.to_string().into_bytes()
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        match self.kind {
            Kind::Okta => Ok(vec![("Authorization".into(), secret_text(secret)?)]),
            _ => self.sign_request(req, secret, now).and_then(|signed| {
                match (signed.body, signed.query) {
                    (None, None) => Ok(signed.headers),
                    _ => Err(SignError::Unsupported(
                        "the credential goes into the body or the URL: use sign_request",
                    )),
                }
            }),
        }
    }

    fn sign_request(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<crate::SignedRequest, SignError> {
        let text = secret_text(secret)?;
        match self.kind {
            Kind::Okta => self
                .sign(req, secret, now)
                .map(crate::SignedRequest::headers),
            Kind::EventGrid => Ok(crate::SignedRequest {
                headers: vec![("aeg-event-type".into(), "Notification".into())],
                body: None,
                query: Some(signature::form_encode([(
                    EVENTGRID_KEY_PARAM,
                    text.as_str(),
                )])),
            }),
            Kind::Graph | Kind::Strava => {
                let mut body: Value = serde_json::from_slice(req.body)
                    .map_err(|_| SignError::Unsupported("the credential goes into a JSON body"))?;
                if self.kind == Kind::Graph {
                    let Some(Value::Array(items)) = body.get_mut("value") else {
                        return Err(SignError::Unsupported("a Graph body has a value[] array"));
                    };
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        item.insert("clientState".into(), Value::String(text.clone()));
                    }
                } else {
                    let Some(object) = body.as_object_mut() else {
                        return Err(SignError::Unsupported("a Strava body is an object"));
                    };
                    let id = text
                        .parse::<u64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(text.clone()));
                    object.insert("subscription_id".into(), id);
                }
                Ok(crate::SignedRequest {
                    headers: Vec::new(),
                    body: Some(body.to_string().into_bytes()),
                    query: None,
                })
            }
        }
    }

    fn retry_horizon(&self) -> Duration {
        Duration::from_secs(match self.kind {
            // Okta: at most one retry; Graph: up to 4 h; Strava: up to 3 retries.
            Kind::Okta | Kind::Graph | Kind::Strava => DAY,
            // Event Grid: 24 h event TTL by default.
            Kind::EventGrid => 2 * DAY,
        })
    }
}

impl SenderAuth {
    fn hub_challenge(&self, req: &Request<'_>) -> Result<ChallengeResponse, VerifyError> {
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
        if mode != "subscribe" || !signature::constant_time_eq(token.as_bytes(), expected.expose())
        {
            return Err(VerifyError::SignatureMismatch);
        }
        Ok(reply(
            JSON,
            serde_json::json!({ "hub.challenge": challenge }).to_string(),
        ))
    }
}

fn secret_text(secret: &Secret) -> Result<String, SignError> {
    std::str::from_utf8(secret.expose())
        .map(str::to_string)
        .map_err(|_| SignError::BadSecret("the secret is not text"))
}

#[cfg(test)]
mod tests;
