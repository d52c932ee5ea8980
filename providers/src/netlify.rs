//! Netlify deploy notifications.
//!
//! `X-Webhook-Signature` is a JWS (compact JWT) signed HS256 with the notification's "JWS secret
//! token"; its claims are `iss: "netlify"` and `sha256`, the hex SHA-256 of the raw body. The
//! body is authenticated through that claim: the token's MAC is checked first (constant time,
//! `alg` must be `HS256` — never `none` or an asymmetric algorithm), then `iss`, then the body
//! hash (constant time). Netlify puts no timestamp in the token, so replays are absorbed by
//! deduplication only. The event id is `{id}:{state}` (the deploy id and its state: one
//! notification per deploy state change); the type is `state`.
//!
//! Bespoke rather than a preset because the MAC covers a token that covers the body's hash,
//! not the body itself.

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::signature::{self, Algorithm};
use crate::{
    EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError, SignRequest,
    VerifyError,
};

pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
const ISSUER: &str = "netlify";
/// Netlify publishes no retry schedule: the reference's safe default of a week.
const RETRY_HORIZON: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, Default)]
pub struct Netlify;

impl Netlify {
    pub fn new() -> Self {
        Netlify
    }
}

impl Provider for Netlify {
    fn credential_headers(&self) -> &'static [&'static str] {
        &[SIGNATURE_HEADER]
    }

    fn name(&self) -> &'static str {
        "netlify"
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
        let token = signature::required_header(req, SIGNATURE_HEADER)?;
        let jws = signature::CompactJws::parse(token).ok_or(malformed.clone())?;
        if jws.alg() != Some("HS256") {
            return Err(malformed);
        }
        if !signature::any_signature_matches(
            Algorithm::Sha256,
            secrets.iter().map(Secret::expose),
            &[jws.signing_input.as_bytes()],
            std::slice::from_ref(&jws.signature),
        ) {
            return Err(VerifyError::SignatureMismatch);
        }
        // The token is authentic; now it must be about this body.
        let claims = &jws.claims;
        let issuer = claims.get("iss").and_then(Value::as_str);
        let body_hash = claims.get("sha256").and_then(Value::as_str).unwrap_or("");
        let actual = signature::sha256_hex(req.body);
        if issuer != Some(ISSUER)
            || !signature::constant_time_eq(
                body_hash.to_ascii_lowercase().as_bytes(),
                actual.as_bytes(),
            )
        {
            return Err(VerifyError::SignatureMismatch);
        }
        Ok(())
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let body = signature::json_object_body(req.body)?;
        let id =
            signature::json_path_text(&body, "id").ok_or(ExtractError::MissingEventId("id"))?;
        let state = signature::json_path_text(&body, "state")
            .ok_or(ExtractError::MissingEventId("state"))?;
        Ok(vec![EventMeta {
            id: format!("{id}:{state}"),
            event_type: Some(state),
        }])
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        &[]
    }

    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        json!({
            "id": event_id,
            "site_id": "hookgate-site",
            "state": event_type,
            "name": "hookgate",
            "branch": "main",
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
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            json!({ "iss": ISSUER, "sha256": signature::sha256_hex(req.body) }).to_string(),
        );
        let mac = Algorithm::Sha256.mac(
            secret.expose(),
            &[header.as_bytes(), b".", claims.as_bytes()],
        );
        let token = format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode(mac));
        Ok(vec![(SIGNATURE_HEADER.to_string(), token)])
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, secrets, TestRequest};

    // reference/providers-more.md §5.2 (derived).
    const SECRET: &str = "netlify-jws-secret";
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;
    const TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJuZXRsaWZ5Iiwic2hhMjU2IjoiNDA5OTNjNjM5ZmZiNWYxM2EwYTJlZjVjOTNjOTY1ZjEwYjQwNWYyYjg3YTM3OTI3MjM4MWRhMmRiYzE1OGRmYSJ9.jdeJxrVLrbmvOEtv8EIKzOyUoUGydWDve6NZNUtN__0";

    fn verify(req: &TestRequest, configured: &[&str]) -> Result<(), VerifyError> {
        Netlify::new().verify(&req.as_request(), &secrets(configured), at(1))
    }

    fn request(token: &str) -> TestRequest {
        TestRequest::post(BODY).header("X-Webhook-Signature", token)
    }

    #[test]
    fn derived_vector_verifies_and_rotation_passes() {
        assert_eq!(verify(&request(TOKEN), &[SECRET]), Ok(()));
        assert_eq!(verify(&request(TOKEN), &["old", SECRET]), Ok(()));
    }

    #[test]
    fn negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            verify(&request(TOKEN).body(flip_byte(BODY)), &[SECRET]),
            mismatch
        );
        assert_eq!(verify(&request(TOKEN), &["wrong"]), mismatch);
        assert_eq!(verify(&request(TOKEN), &[]), Err(VerifyError::NoSecret));
        assert_eq!(
            verify(&request(&TOKEN[..TOKEN.len() - 4]), &[SECRET]),
            mismatch
        );
        let malformed = Err(VerifyError::MalformedHeader(SIGNATURE_HEADER));
        assert_eq!(verify(&request("a.b"), &[SECRET]), malformed);
        let (_, rest) = TOKEN.split_once('.').unwrap();
        let none = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#));
        assert_eq!(verify(&request(&none), &[SECRET]), malformed);
        assert_eq!(
            verify(&TestRequest::post(BODY), &[SECRET]),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        // A correctly MACed token with another issuer, or for another body.
        let p = Netlify::new();
        let other = TestRequest::signed(&p, b"{}", "x", SECRET, at(1));
        let lifted = request(&other.value(SIGNATURE_HEADER));
        assert_eq!(verify(&lifted, &[SECRET]), mismatch);
        let claims = URL_SAFE_NO_PAD
            .encode(json!({"iss": "evil", "sha256": signature::sha256_hex(BODY)}).to_string());
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let mac = Algorithm::Sha256.mac(
            SECRET.as_bytes(),
            &[header.as_bytes(), b".", claims.as_bytes()],
        );
        let evil = format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode(mac));
        assert_eq!(verify(&request(&evil), &[SECRET]), mismatch);
    }

    #[test]
    fn sign_reproduces_the_vector_and_events_read_id_and_state() {
        let p = Netlify::new();
        let signed = TestRequest::signed(&p, BODY, "x", SECRET, at(1));
        assert_eq!(signed.value(SIGNATURE_HEADER), TOKEN);
        let body = p.example_body("dep_1", "ready");
        let req = TestRequest::signed(&p, &body, "x", SECRET, at(1));
        assert_eq!(verify(&req, &[SECRET]), Ok(()));
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "dep_1:ready".into(),
                event_type: Some("ready".into())
            }])
        );
    }
}
