//! eBay Notification API (marketplace account deletion and other topics).
//!
//! `x-ebay-signature` is base64 of a JSON object `{"alg":"ecdsa","kid":…,"signature":<base64
//! DER>,"digest":"SHA1"}`: an ECDSA signature with SHA-1 over the message, under the public key
//! eBay serves for `kid` (`/commerce/notification/v1/public_key/{kid}`, an OAuth-authenticated
//! call). hookgate makes no such call: a source's secrets are those keys as JSON,
//! `{"kid": "…", "key": "-----BEGIN PUBLIC KEY-----…"}` (the fields of that call's answer), and
//! the signature's `kid` picks one. A `key` holding a private key lets `hookgate send` sign
//! (test sources only).
//!
//! eBay's Node SDK verifies over `JSON.stringify` of the parsed body, which is the body as sent
//! when eBay sends compact JSON; hookgate verifies the raw bytes only (a re-serialisation could
//! make two different byte strings verify alike).
//!
//! Handshake: `GET ?challenge_code=C` is answered `{"challengeResponse": hex(SHA-256(C +
//! verify_token + endpoint))}`, where `verify_token` is the source's (the verification token
//! typed in eBay's portal) and `endpoint` the source's `public_url`, exactly as registered.
//! The event id is `notification.notificationId`; the type `metadata.topic`.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::Signature;
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::asymmetric;
use crate::signature::{self, Encoding};
use crate::{
    BuildError, ChallengeResponse, EventMeta, ExtractError, Handshake, Provider, Request, Secret,
    Secrets, SignError, SignRequest, VerifyError,
};

pub const SIGNATURE_HEADER: &str = "x-ebay-signature";
/// Retried with backoff, schedule unpublished: the reference's week.
const RETRY_HORIZON: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug)]
pub struct Ebay {
    verify_token: Option<Secret>,
    endpoint: Option<String>,
}

impl Ebay {
    pub fn new(verify_token: Option<Secret>, endpoint: Option<String>) -> Self {
        Ebay {
            verify_token,
            endpoint,
        }
    }
}

/// `(kid, key)` of a configured `{"kid", "key"}` secret.
fn configured_key(secret: &[u8]) -> Option<(String, asymmetric::P256Key)> {
    let value: Value = serde_json::from_slice(secret).ok()?;
    let kid = value.get("kid")?.as_str()?.to_string();
    let key = asymmetric::p256_key(value.get("key")?.as_str()?.as_bytes())?;
    Some((kid, key))
}

impl Provider for Ebay {
    fn credential_headers(&self) -> &'static [&'static str] {
        &[SIGNATURE_HEADER]
    }

    fn name(&self) -> &'static str {
        "ebay"
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
        let malformed = VerifyError::MalformedHeader(SIGNATURE_HEADER);
        let header = signature::required_header(req, SIGNATURE_HEADER)?;
        let envelope: Value = Encoding::Base64
            .decode(header)
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(malformed.clone())?;
        let field = |name: &str| envelope.get(name).and_then(Value::as_str);
        if !field("alg").is_some_and(|a| a.eq_ignore_ascii_case("ecdsa"))
            || !field("digest").is_some_and(|d| d.eq_ignore_ascii_case("sha1"))
        {
            return Err(malformed);
        }
        let kid = field("kid").ok_or(malformed)?;
        let signature = field("signature")
            .and_then(|s| Encoding::Base64.decode(s))
            .and_then(|der| Signature::from_der(&der).ok())
            .ok_or(VerifyError::SignatureMismatch)?;
        let digest = Sha1::digest(req.body);
        let verified = secrets
            .iter()
            .filter_map(|s| configured_key(s.expose()))
            .filter(|(configured_kid, _)| configured_kid == kid)
            .any(|(_, key)| key.public.verify_prehash(&digest, &signature).is_ok());
        if verified {
            Ok(())
        } else {
            Err(VerifyError::SignatureMismatch)
        }
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let body = signature::json_object_body(req.body)?;
        let id = signature::json_path_text(&body, "notification.notificationId")
            .ok_or(ExtractError::MissingEventId("notification.notificationId"))?;
        Ok(vec![EventMeta {
            id,
            event_type: signature::json_path_text(&body, "metadata.topic"),
        }])
    }

    fn handshake(&self) -> Handshake {
        Handshake::ChallengeCode
    }

    fn answer_handshake(
        &self,
        req: &Request<'_>,
        _secrets: &Secrets,
    ) -> Option<Result<ChallengeResponse, VerifyError>> {
        if req.method != "GET" {
            return None;
        }
        let code = signature::query_param(req.url, "challenge_code")?;
        let (Some(token), Some(endpoint)) = (&self.verify_token, &self.endpoint) else {
            return Some(Err(VerifyError::NoSecret));
        };
        let mut hash = Sha256::new();
        hash.update(code.as_bytes());
        hash.update(token.expose());
        hash.update(endpoint.as_bytes());
        let body = json!({ "challengeResponse": hex::encode(hash.finalize()) });
        Some(Ok(ChallengeResponse {
            status: 200,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
            headers: Vec::new(),
            confirm_url: None,
        }))
    }

    fn handshake_request(
        &self,
        _url: &str,
        _secret: &Secret,
        now: SystemTime,
    ) -> Result<Option<crate::HandshakeRequest>, SignError> {
        let code = format!("hookgate{}", signature::unix_millis(now));
        Ok(Some(crate::HandshakeRequest {
            method: "GET",
            query: Some(signature::form_encode([("challenge_code", code.as_str())])),
            headers: Vec::new(),
            body: Vec::new(),
        }))
    }

    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        json!({
            "metadata": {"topic": event_type, "schemaVersion": "1.0", "deprecated": false},
            "notification": {
                "notificationId": event_id,
                "eventDate": "2026-01-01T00:00:00.000Z",
                "publishDate": "2026-01-01T00:00:00.000Z",
                "publishAttemptCount": 1,
                "data": {"username": "hookgate", "userId": "u1", "eiasToken": "t1"},
            },
        })
        .to_string()
        .into_bytes()
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        _now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let (kid, key) = configured_key(secret.expose()).ok_or(SignError::BadSecret(
            "expected {\"kid\", \"key\"} JSON with a P-256 key",
        ))?;
        let private = key.private.ok_or(SignError::Unsupported(
            "eBay signs with its own key; only a test key with its private half can sign",
        ))?;
        let signature: Signature = private
            .sign_prehash(&Sha1::digest(req.body))
            .map_err(|_| SignError::BadSecret("the key cannot sign"))?;
        let envelope = json!({
            "alg": "ecdsa",
            "kid": kid,
            "signature": Encoding::Base64.encode(signature.to_der().as_bytes()),
            "digest": "SHA1",
        });
        let header = base64::engine::general_purpose::STANDARD.encode(envelope.to_string());
        Ok(vec![(SIGNATURE_HEADER.to_string(), header)])
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        configured_key(secret.expose()).map(drop).ok_or_else(|| {
            BuildError::Invalid(
                "an ebay secret is {\"kid\": …, \"key\": \"-----BEGIN PUBLIC KEY-----…\"} (eBay's public_key answer)".into(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, secrets, TestRequest};
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    fn key(kid: &str, seed: u8, private: bool) -> String {
        let signing = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).expect("key");
        let pem = if private {
            signing
                .to_pkcs8_pem(LineEnding::LF)
                .expect("pem")
                .to_string()
        } else {
            signing
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("pem")
        };
        json!({"kid": kid, "key": pem}).to_string()
    }

    fn ebay() -> Ebay {
        Ebay::new(
            Some(Secret::new("verification-token-0123456789-abcdefghij")),
            Some("https://example.com/ebay/deletion".into()),
        )
    }

    fn signed(body: &[u8], kid: &str, seed: u8) -> TestRequest {
        TestRequest::signed(&ebay(), body, "x", &key(kid, seed, true), at(1))
    }

    fn verify(req: &TestRequest, configured: &[&str]) -> Result<(), VerifyError> {
        ebay().verify(&req.as_request(), &secrets(configured), at(1))
    }

    #[test]
    fn the_challenge_answer_matches_the_reference_vector() {
        let mut req = TestRequest::post(Vec::new())
            .url("https://example.com/ebay/deletion?challenge_code=abc123");
        req.method = "GET".into();
        let answer = ebay()
            .answer_handshake(&req.as_request(), &secrets(&[]))
            .expect("handshake")
            .expect("answered");
        assert_eq!(
            String::from_utf8(answer.body).unwrap(),
            r#"{"challengeResponse":"2b1667b4202e808330e79d3e345d9d4b528430e913fc03e57bab482156d571d2"}"#
        );
        assert_eq!(answer.content_type, "application/json");
        let unconfigured = Ebay::new(None, None);
        assert_eq!(
            unconfigured.answer_handshake(&req.as_request(), &secrets(&[])),
            Some(Err(VerifyError::NoSecret))
        );
        assert_eq!(ebay().handshake().methods(), ["GET"]);
    }

    #[test]
    fn signatures_verify_under_the_key_their_kid_names() {
        let p = ebay();
        let body = p.example_body("n-1", "MARKETPLACE_ACCOUNT_DELETION");
        let req = signed(&body, "k1", 7);
        let public = key("k1", 7, false);
        let other = key("k2", 9, false);
        assert_eq!(verify(&req, &[&public]), Ok(()));
        assert_eq!(verify(&req, &[&other, &public]), Ok(()));
        assert_eq!(verify(&req, &[&other]), Err(VerifyError::SignatureMismatch));
        assert_eq!(
            verify(&signed(&body, "k1", 9), &[&public]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&req.clone().body(flip_byte(&body)), &[&public]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(
                &req.clone().set(SIGNATURE_HEADER, "bm90IGpzb24="),
                &[&public]
            ),
            Err(VerifyError::MalformedHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(&TestRequest::post(body.clone()), &[&public]),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(verify(&req, &[]), Err(VerifyError::NoSecret));
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "n-1".into(),
                event_type: Some("MARKETPLACE_ACCOUNT_DELETION".into())
            }])
        );
        assert!(p.check_secret(&Secret::new(public)).is_ok());
        assert!(p.check_secret(&Secret::new("{}")).is_err());
    }
}
