//! Discord interactions and Webhook Events (Ed25519).
//!
//! `X-Signature-Ed25519` is the hex Ed25519 signature of `{X-Signature-Timestamp}{raw body}`
//! under the application's key; the secret is the application's public key as the Developer
//! Portal shows it (64 hex digits). Verification is strict (canonical signatures only), and the
//! timestamp is checked, after the signature, against the source tolerance in both directions.
//! Discord deliberately sends invalid signatures to check the endpoint refuses them (401).
//! For a test source the secret may instead be a private key, 128 hex digits
//! (`seed || public key`, the libsodium/tweetnacl form): it verifies with its public half and
//! lets `hookgate send` sign. With only the public key, [`Provider::sign`] is unsupported.
//!
//! - **Handshake.** An interaction `PING` (`{"type":1}`) is answered `{"type":1}` (PONG); a
//!   Webhook Events `PING` (`{"type":0}`) is answered `204`. Neither is recorded.
//! - **Event id.** Interactions: the interaction `id` (a snowflake); the type is the
//!   interaction type (`APPLICATION_COMMAND`, `MESSAGE_COMPONENT`, …). Webhook Events (bodies
//!   with an `event` object) document no id: `{event.type}:{SHA-256 of the body in canonical
//!   JSON}`; the type is `event.type`.
//!
//! Discord expects the interaction's reply in the HTTP response within 3 s; the gateway
//! answers with its own JSON, so a handler has to respond through Discord's callback endpoint.

use std::time::{Duration, SystemTime};

use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use crate::asymmetric;
use crate::signature::{self, Encoding};
use crate::{
    BuildError, ChallengeResponse, EventMeta, ExtractError, Provider, Request, Secret, Secrets,
    SignError, SignRequest, VerifyError,
};

pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
const KEPT_HEADERS: &[&str] = &[TIMESTAMP_HEADER];
/// Interactions are never retried; the store's one-day floor.
const RETRY_HORIZON: Duration = Duration::from_secs(24 * 3600);
const BAD_KEY: &str = "a Discord key must be the application's public key (64 hex digits), or a private key (128 hex digits: seed and public key) for a test source";
const NEEDS_PRIVATE: &str = "Discord signs with its private key; configure a 128-hex-digit private key (seed || public key) on a test source to sign";
/// Interaction types by number (Discord's `InteractionType`).
const INTERACTION_TYPES: [&str; 6] = [
    "",
    "PING",
    "APPLICATION_COMMAND",
    "MESSAGE_COMPONENT",
    "APPLICATION_COMMAND_AUTOCOMPLETE",
    "MODAL_SUBMIT",
];

#[derive(Debug, Clone)]
pub struct Discord {
    tolerance: Duration,
}

impl Discord {
    pub fn new(tolerance: Duration) -> Self {
        Discord { tolerance }
    }
}

/// A configured key: public (64 hex) or private (128 hex); `None` otherwise.
fn key(secret: &Secret) -> Option<(VerifyingKey, Option<ed25519_dalek::SigningKey>)> {
    let text = std::str::from_utf8(secret.expose()).ok()?.trim();
    let bytes = hex::decode(text).ok()?;
    match bytes.len() {
        32 => asymmetric::ed25519_public_key(&bytes).map(|public| (public, None)),
        64 => asymmetric::ed25519_signing_key(&bytes)
            .map(|private| (private.verifying_key(), Some(private))),
        _ => None,
    }
}

fn interaction_type(body: &Value) -> Option<u64> {
    body.get("type")?.as_u64()
}

impl Provider for Discord {
    fn credential_headers(&self) -> &'static [&'static str] {
        &[SIGNATURE_HEADER, TIMESTAMP_HEADER]
    }

    fn name(&self) -> &'static str {
        "discord"
    }

    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        if secrets.is_empty() {
            return Err(VerifyError::NoSecret);
        }
        let header = signature::required_header(req, SIGNATURE_HEADER)?;
        let timestamp_text = signature::required_header(req, TIMESTAMP_HEADER)?.trim();
        let timestamp = signature::parse_unix_timestamp(timestamp_text)
            .ok_or(VerifyError::MalformedHeader(TIMESTAMP_HEADER))?;
        let presented = Encoding::Hex.decode(header).unwrap_or_default();
        let signed: [&[u8]; 2] = [timestamp_text.as_bytes(), req.body];
        let matched = secrets
            .iter()
            .filter_map(key)
            .any(|(public, _)| asymmetric::ed25519_verify(&public, &signed, &presented));
        if !matched {
            return Err(VerifyError::SignatureMismatch);
        }
        signature::check_timestamp(timestamp, now, self.tolerance)
    }

    fn handshake(&self) -> crate::Handshake {
        crate::Handshake::Bespoke("PING (type 1) answered with PONG (signed POST)")
    }

    fn handshake_request(
        &self,
        url: &str,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Option<crate::HandshakeRequest>, SignError> {
        let challenge = format!("hookgate-{}", crate::signature::unix_millis(now));
        let body = serde_json::json!({"type": 1, "id": challenge, "application_id": "hookgate"})
            .to_string()
            .into_bytes();
        let headers = self.sign(
            &SignRequest {
                method: "POST",
                url,
                body: &body,
                event_id: &challenge,
            },
            secret,
            now,
        )?;
        Ok(Some(crate::HandshakeRequest {
            method: "POST",
            query: None,
            headers,
            body,
        }))
    }

    fn challenge(&self, req: &Request<'_>, _secrets: &Secrets) -> Option<ChallengeResponse> {
        let body: Value = serde_json::from_slice(req.body).ok()?;
        match (interaction_type(&body)?, body.get("event")) {
            (1, None) => Some(ChallengeResponse {
                status: 200,
                content_type: "application/json",
                body: br#"{"type":1}"#.to_vec(),
                headers: Vec::new(),
                confirm_url: None,
            }),
            (0, _) => Some(ChallengeResponse {
                status: 204,
                content_type: "text/plain",
                body: Vec::new(),
                headers: Vec::new(),
                confirm_url: None,
            }),
            _ => None,
        }
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let body = signature::json_object_body(req.body)?;
        if let Some(event) = body.get("event").filter(|e| e.is_object()) {
            let kind = signature::json_path_text(event, "type")
                .ok_or(ExtractError::MissingEventId("event.type"))?;
            return Ok(vec![EventMeta {
                id: format!("{kind}:{}", signature::canonical_json_sha256(&body)),
                event_type: Some(kind),
            }]);
        }
        let id =
            signature::json_path_text(&body, "id").ok_or(ExtractError::MissingEventId("id"))?;
        let event_type = interaction_type(&body).map(|n| {
            usize::try_from(n)
                .ok()
                .and_then(|i| INTERACTION_TYPES.get(i))
                .filter(|name| !name.is_empty())
                .map_or_else(|| format!("interaction.{n}"), |name| (*name).to_string())
        });
        Ok(vec![EventMeta { id, event_type }])
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        KEPT_HEADERS
    }

    /// An `APPLICATION_COMMAND` interaction whose command name is `event_type`.
    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        serde_json::json!({
            "id": event_id,
            "application_id": "1",
            "type": 2,
            "token": "hookgate-test",
            "version": 1,
            "data": {"id": "1", "name": event_type, "type": 1},
        })
        .to_string()
        .into_bytes()
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let (_, private) = key(secret).ok_or(SignError::BadSecret(BAD_KEY))?;
        let private = private.ok_or(SignError::Unsupported(NEEDS_PRIVATE))?;
        let timestamp = signature::unix_seconds(now).to_string();
        let sig = asymmetric::ed25519_sign(&private, &[timestamp.as_bytes(), req.body]);
        Ok(vec![
            ("X-Signature-Ed25519".into(), Encoding::Hex.encode(&sig)),
            ("X-Signature-Timestamp".into(), timestamp),
            ("Content-Type".into(), "application/json".into()),
        ])
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        key(secret)
            .map(drop)
            .ok_or_else(|| BuildError::Invalid(BAD_KEY.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest};
    use crate::DEFAULT_TOLERANCE;

    // reference/providers.md §5.2: Discord-shaped Ed25519 with the Std-Webhooks v1a test seed.
    const PUBLIC: &str = "6653787a0edd492aa2d26a17f61414937a2bacea2e2b74154129496b6e3c73f8";
    const SEED_HEX: &str = "544553545349474e494e474b4559444f4e4f5455534554484953464f52414e59";
    const TS: u64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"type":1}"#;
    const SIG: &str = "e2716117d0d687f6276b96e5c7dd61de18698e45007213954271bdb889e74319bedafa9ee949a1ad932785a9e6ff4301fc7ee46afdbf543204ab965bab76aa0a";

    fn private() -> String {
        format!("{SEED_HEX}{PUBLIC}")
    }

    fn discord() -> Discord {
        Discord::new(DEFAULT_TOLERANCE)
    }

    fn request(body: &[u8], sig: &str) -> TestRequest {
        TestRequest::post(body)
            .header("X-Signature-Ed25519", sig)
            .header("X-Signature-Timestamp", &TS.to_string())
    }

    fn verify(req: &TestRequest, configured: &[&str], now: u64) -> Result<(), VerifyError> {
        discord().verify(&req.as_request(), &secrets(configured), at(now))
    }

    #[test]
    fn derived_vector_verifies() {
        assert_eq!(verify(&request(BODY, SIG), &[PUBLIC], TS), Ok(()));
        assert_eq!(
            verify(&request(BODY, &SIG.to_uppercase()), &[PUBLIC], TS),
            Ok(())
        );
        let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        assert_eq!(
            verify(&request(BODY, SIG), &[other, PUBLIC], TS),
            Ok(()),
            "second key"
        );
        assert_eq!(verify(&request(BODY, SIG), &[&private()], TS), Ok(()));
    }

    #[test]
    fn negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            verify(&request(&flip_byte(BODY), SIG), &[PUBLIC], TS),
            mismatch
        );
        assert_eq!(
            verify(&request(&pretty(BODY), SIG), &[PUBLIC], TS),
            mismatch
        );
        let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        assert_eq!(verify(&request(BODY, SIG), &[other], TS), mismatch);
        assert_eq!(verify(&request(BODY, &SIG[..126]), &[PUBLIC], TS), mismatch);
        assert_eq!(verify(&request(BODY, "00"), &[PUBLIC], TS), mismatch);
        assert_eq!(
            verify(&request(BODY, &"0".repeat(128)), &[PUBLIC], TS),
            mismatch
        );
        let moved = request(BODY, SIG).set("x-signature-timestamp", &(TS + 1).to_string());
        assert_eq!(verify(&moved, &[PUBLIC], TS), mismatch);
        assert_eq!(
            verify(
                &request(BODY, SIG).without("x-signature-ed25519"),
                &[PUBLIC],
                TS
            ),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(
                &request(BODY, SIG).without("x-signature-timestamp"),
                &[PUBLIC],
                TS
            ),
            Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(&request(BODY, SIG), &[PUBLIC], TS + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&request(BODY, SIG), &[PUBLIC], TS - 301),
            Err(VerifyError::FutureTimestamp)
        );
        assert_eq!(verify(&request(BODY, SIG), &["not hex"], TS), mismatch);
    }

    #[test]
    fn pings_are_answered() {
        let p = discord();
        let answer = p
            .challenge(&request(BODY, SIG).as_request(), &secrets(&[PUBLIC]))
            .unwrap();
        assert_eq!(
            (answer.status, answer.body.as_slice()),
            (200, &br#"{"type":1}"#[..])
        );
        let webhook_ping =
            TestRequest::post(&br#"{"version":1,"application_id":"1","type":0}"#[..]);
        assert_eq!(
            p.challenge(&webhook_ping.as_request(), &secrets(&[PUBLIC]))
                .unwrap()
                .status,
            204
        );
        let command = TestRequest::post(p.example_body("1", "ping"));
        assert_eq!(
            p.challenge(&command.as_request(), &secrets(&[PUBLIC])),
            None
        );
        let event = TestRequest::post(&br#"{"version":1,"application_id":"1","type":1,"event":{"type":"APPLICATION_AUTHORIZED","timestamp":"2024-10-18T14:42:53.064834"}}"#[..]);
        assert_eq!(p.challenge(&event.as_request(), &secrets(&[PUBLIC])), None);
        let meta = &p.events(&event.as_request()).unwrap()[0];
        assert!(meta.id.starts_with("APPLICATION_AUTHORIZED:"));
        assert_eq!(meta.event_type.as_deref(), Some("APPLICATION_AUTHORIZED"));
    }

    #[test]
    fn interactions_use_their_id_and_signing_round_trips() {
        let p = discord();
        let body = p.example_body("1296588226367852544", "deploy");
        let req = TestRequest::signed(&p, &body, "x", &private(), at(TS));
        assert_eq!(verify(&req, &[PUBLIC], TS), Ok(()));
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "1296588226367852544".into(),
                event_type: Some("APPLICATION_COMMAND".into())
            }])
        );
        // The derived vector is what signing {"type":1} at TS produces.
        let vector = TestRequest::signed(&p, BODY, "x", &private(), at(TS));
        assert_eq!(vector.value("x-signature-ed25519"), SIG);
        let sign = SignRequest {
            method: "POST",
            url: "u",
            body: BODY,
            event_id: "x",
        };
        assert_eq!(
            p.sign(&sign, &Secret::new(PUBLIC), at(TS)),
            Err(SignError::Unsupported(NEEDS_PRIVATE))
        );
        assert_eq!(p.check_secret(&Secret::new(PUBLIC)), Ok(()));
        assert!(p.check_secret(&Secret::new(&PUBLIC[..62])).is_err());
    }
}
