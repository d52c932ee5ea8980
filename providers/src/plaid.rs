//! Plaid webhooks.
//!
//! `Plaid-Verification` is a compact JWT signed ES256 (ECDSA P-256, SHA-256; `alg` must be
//! exactly `ES256`) whose claims carry `iat` and `request_body_sha256`, the hex SHA-256 of the
//! raw body. The body is authenticated through that claim (compared in constant time), and
//! `iat` is checked in both directions against the source tolerance (Plaid: 5 minutes).
//!
//! Plaid hands out the verification keys through an authenticated API call
//! (`/webhook_verification_key/get`, by the token's `kid`). hookgate makes no such call: a
//! source's secrets are the JWKs themselves (the `key` object that call returns, as JSON), and
//! the token's `kid` picks one. A JWK that also carries the private `d` lets `hookgate send`
//! sign (test sources only). Plaid documents no event id and most webhooks say "something
//! changed, call /sync": the id is the SHA-256 of the body (a retry repeats it); the type is
//! `{webhook_type}.{webhook_code}`.

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde_json::{json, Value};

use crate::signature;
use crate::{
    BuildError, EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError,
    SignRequest, VerifyError,
};

pub const SIGNATURE_HEADER: &str = "plaid-verification";
/// Retried for up to 24 h with growing delays; a day of margin.
const RETRY_HORIZON: Duration = Duration::from_secs(2 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct Plaid {
    tolerance: Duration,
}

impl Plaid {
    pub fn new(tolerance: Duration) -> Self {
        Plaid { tolerance }
    }
}

struct Jwk {
    kid: String,
    public: VerifyingKey,
    private: Option<SigningKey>,
}

fn b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

fn parse_jwk(secret: &[u8]) -> Option<Jwk> {
    let jwk: Value = serde_json::from_slice(secret).ok()?;
    if jwk.get("kty")?.as_str()? != "EC" || jwk.get("crv")?.as_str()? != "P-256" {
        return None;
    }
    let (x, y) = (
        b64url(jwk.get("x")?.as_str()?)?,
        b64url(jwk.get("y")?.as_str()?)?,
    );
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let mut sec1 = vec![0x04];
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    let public = VerifyingKey::from_sec1_bytes(&sec1).ok()?;
    let private = match jwk.get("d").and_then(Value::as_str) {
        Some(d) => Some(SigningKey::from_slice(&b64url(d)?).ok()?),
        None => None,
    };
    Some(Jwk {
        kid: jwk.get("kid")?.as_str()?.to_string(),
        public,
        private,
    })
}

impl Provider for Plaid {
    fn credential_headers(&self) -> &'static [&'static str] {
        &[SIGNATURE_HEADER]
    }

    fn name(&self) -> &'static str {
        "plaid"
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
        let malformed = VerifyError::MalformedHeader(SIGNATURE_HEADER);
        let token = signature::required_header(req, SIGNATURE_HEADER)?;
        let jws = signature::CompactJws::parse(token).ok_or(malformed.clone())?;
        if jws.alg() != Some("ES256") {
            return Err(malformed);
        }
        let kid = jws
            .header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(malformed)?;
        let signature =
            Signature::from_slice(&jws.signature).map_err(|_| VerifyError::SignatureMismatch)?;
        let verified = secrets
            .iter()
            .filter_map(|s| parse_jwk(s.expose()))
            .filter(|jwk| jwk.kid == kid)
            .any(|jwk| {
                jwk.public
                    .verify(jws.signing_input.as_bytes(), &signature)
                    .is_ok()
            });
        if !verified {
            return Err(VerifyError::SignatureMismatch);
        }
        let claims = &jws.claims;
        let body_hash = claims
            .get("request_body_sha256")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !signature::constant_time_eq(
            body_hash.to_ascii_lowercase().as_bytes(),
            signature::sha256_hex(req.body).as_bytes(),
        ) {
            return Err(VerifyError::SignatureMismatch);
        }
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or(VerifyError::StaleTimestamp)?;
        signature::check_timestamp(iat, now, self.tolerance)
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let body = signature::json_object_body(req.body)?;
        let event_type = match (
            signature::json_path_text(&body, "webhook_type"),
            signature::json_path_text(&body, "webhook_code"),
        ) {
            (Some(kind), Some(code)) => Some(format!("{kind}.{code}")),
            (kind, code) => kind.or(code),
        };
        Ok(vec![EventMeta {
            id: signature::sha256_hex(req.body),
            event_type,
        }])
    }

    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        let (kind, code) = event_type
            .split_once('.')
            .unwrap_or((event_type, "DEFAULT_UPDATE"));
        json!({
            "webhook_type": kind,
            "webhook_code": code,
            "item_id": event_id,
            "environment": "sandbox",
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
        let jwk = parse_jwk(secret.expose()).ok_or(SignError::BadSecret("not a P-256 JWK"))?;
        let private = jwk.private.ok_or(SignError::Unsupported(
            "Plaid signs with its own key; only a test JWK with `d` can sign",
        ))?;
        let header = URL_SAFE_NO_PAD
            .encode(json!({"alg": "ES256", "kid": jwk.kid, "typ": "JWT"}).to_string());
        let claims = URL_SAFE_NO_PAD.encode(
            json!({
                "iat": signature::unix_seconds(now),
                "request_body_sha256": signature::sha256_hex(req.body),
            })
            .to_string(),
        );
        let signed = format!("{header}.{claims}");
        let sig: Signature = private.sign(signed.as_bytes());
        let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()));
        Ok(vec![(SIGNATURE_HEADER.to_string(), token)])
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        parse_jwk(secret.expose()).map(drop).ok_or_else(|| {
            BuildError::Invalid(
                "a plaid secret is a P-256 JWK as /webhook_verification_key/get returns it (JSON with kid, x, y)".into(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, secrets, TestRequest};

    const NOW: u64 = 1_700_000_000;

    /// A test key pair: the private scalar is fixed so the JWKs are stable.
    fn jwk(kid: &str, seed: u8, private: bool) -> String {
        let key = SigningKey::from_slice(&[seed; 32]).expect("key");
        let point = key.verifying_key().to_encoded_point(false);
        let mut value = json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
            "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
        });
        if private {
            value["d"] = Value::from(URL_SAFE_NO_PAD.encode(key.to_bytes()));
        }
        value.to_string()
    }

    fn signed(body: &[u8], kid: &str, seed: u8, now: u64) -> TestRequest {
        TestRequest::signed(
            &Plaid::new(Duration::from_secs(300)),
            body,
            "x",
            &jwk(kid, seed, true),
            at(now),
        )
    }

    fn verify(req: &TestRequest, configured: &[&str], now: u64) -> Result<(), VerifyError> {
        Plaid::new(Duration::from_secs(300)).verify(
            &req.as_request(),
            &secrets(configured),
            at(now),
        )
    }

    const BODY: &[u8] = br#"{"webhook_type":"TRANSACTIONS","webhook_code":"SYNC_UPDATES_AVAILABLE","item_id":"item-1"}"#;

    #[test]
    fn tokens_verify_under_the_jwk_their_kid_names() {
        let public = jwk("kid-1", 7, false);
        let other = jwk("kid-2", 9, false);
        let req = signed(BODY, "kid-1", 7, NOW);
        assert_eq!(verify(&req, &[&public], NOW), Ok(()));
        assert_eq!(verify(&req, &[&other, &public], NOW), Ok(()), "rotation");
        assert_eq!(
            verify(&req, &[&other], NOW),
            Err(VerifyError::SignatureMismatch)
        );
        // The right kid with another key (a forged token naming a real kid).
        let forged = signed(BODY, "kid-1", 9, NOW);
        assert_eq!(
            verify(&forged, &[&public], NOW),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn the_body_hash_iat_and_algorithm_are_enforced() {
        let public = jwk("kid-1", 7, false);
        let req = signed(BODY, "kid-1", 7, NOW);
        assert_eq!(
            verify(&req.clone().body(flip_byte(BODY)), &[&public], NOW),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&req, &[&public], NOW + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&req, &[&public], NOW - 301),
            Err(VerifyError::FutureTimestamp)
        );
        let token = req.value(SIGNATURE_HEADER);
        let (_, rest) = token.split_once('.').unwrap();
        for alg in ["HS256", "none", "ES384"] {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "kid-1"}).to_string());
            let req = req
                .clone()
                .set(SIGNATURE_HEADER, &format!("{header}.{rest}"));
            assert_eq!(
                verify(&req, &[&public], NOW),
                Err(VerifyError::MalformedHeader(SIGNATURE_HEADER)),
                "{alg}"
            );
        }
        let truncated = req.clone().set(SIGNATURE_HEADER, &token[..token.len() - 6]);
        assert_eq!(
            verify(&truncated, &[&public], NOW),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&TestRequest::post(BODY), &[&public], NOW),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(verify(&req, &[], NOW), Err(VerifyError::NoSecret));
    }

    #[test]
    fn secrets_must_be_jwks_and_events_hash_the_body() {
        let p = Plaid::new(Duration::from_secs(300));
        assert!(p.check_secret(&Secret::new("not json")).is_err());
        assert!(p.check_secret(&Secret::new(jwk("k", 7, false))).is_ok());
        let events = p
            .events(&TestRequest::post(BODY).as_request())
            .expect("events");
        assert_eq!(events[0].id, signature::sha256_hex(BODY));
        assert_eq!(
            events[0].event_type.as_deref(),
            Some("TRANSACTIONS.SYNC_UPDATES_AVAILABLE")
        );
    }
}
