//! GitLab webhooks: the plain secret token, and the signing token.
//!
//! - **Secret token** (classic): GitLab sends the configured token itself in `X-Gitlab-Token`.
//!   It is compared with every configured secret in constant time (both sides hashed first, so
//!   neither the value nor its length leaks). It proves who sent the request, not that the body
//!   is intact: a token has no MAC over anything.
//! - **Signing token** (GitLab 18/19, `webhook_signing_token`): the request carries Standard
//!   Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`), an
//!   HMAC-SHA256 of `{id}.{timestamp}.{body}` under the `whsec_…` token. When a request carries
//!   `webhook-signature` this is what is verified (see [`crate::standard_webhooks`]), with the
//!   source's tolerance in both directions, and a token header is not a way around it.
//!
//! The event id is `Idempotency-Key` ("unique ID that remains consistent across webhook
//! retries"); instances older than that header send none, and then `webhook-id` (equal to it
//! when signed) and finally `X-Gitlab-Event-UUID` are used. The type is `X-Gitlab-Event`
//! (`Push Hook`, …), else the body's `object_kind`.

use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::signature;
use crate::standard_webhooks::{self, Key};
use crate::{
    test_event_type, EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError,
    SignRequest, VerifyError,
};

pub const TOKEN_HEADER: &str = "x-gitlab-token";
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
pub const EVENT_HEADER: &str = "x-gitlab-event";
pub const EVENT_UUID_HEADER: &str = "x-gitlab-event-uuid";
/// Where the id is looked for, in order.
const ID_HEADERS: [&str; 3] = [IDEMPOTENCY_KEY_HEADER, "webhook-id", EVENT_UUID_HEADER];
/// The secret token and the Standard Webhooks headers GitLab may sign with instead.
const CREDENTIAL_HEADERS: &[&str] = &[
    TOKEN_HEADER,
    standard_webhooks::WEBHOOK_HEADERS.id,
    standard_webhooks::WEBHOOK_HEADERS.timestamp,
    standard_webhooks::WEBHOOK_HEADERS.signature,
    standard_webhooks::SVIX_HEADERS.id,
    standard_webhooks::SVIX_HEADERS.timestamp,
    standard_webhooks::SVIX_HEADERS.signature,
];
const KEPT_HEADERS: &[&str] = &[
    EVENT_HEADER,
    "x-gitlab-instance",
    "x-gitlab-webhook-uuid",
    EVENT_UUID_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    "webhook-id",
    "webhook-timestamp",
];
/// GitLab publishes no retry schedule; failing hooks back off for up to 24 h before they are
/// disabled. Two days.
const RETRY_HORIZON: Duration = Duration::from_secs(2 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct GitLab {
    tolerance: Duration,
}

impl GitLab {
    pub fn new(tolerance: Duration) -> Self {
        GitLab { tolerance }
    }
}

/// Whether `token` equals any configured secret, in constant time.
fn token_matches(token: &str, secrets: &Secrets) -> bool {
    let presented = Sha256::digest(token.as_bytes());
    secrets.iter().fold(false, |matched, secret| {
        matched | signature::constant_time_eq(&presented, &Sha256::digest(secret.expose()))
    })
}

impl Provider for GitLab {
    fn credential_headers(&self) -> &'static [&'static str] {
        CREDENTIAL_HEADERS
    }

    fn name(&self) -> &'static str {
        "gitlab"
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
        if standard_webhooks::header_names(req).is_some() {
            return standard_webhooks::verify_signed(req, secrets, now, self.tolerance);
        }
        let token = signature::required_header(req, TOKEN_HEADER)?;
        if token_matches(token, secrets) {
            Ok(())
        } else {
            Err(VerifyError::SignatureMismatch)
        }
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let (_, id) = signature::first_header(req, &ID_HEADERS)
            .ok_or(ExtractError::MissingEventId("Idempotency-Key"))?;
        let event_type = req
            .header(EVENT_HEADER)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .or_else(|| signature::body_json_text(req.body, "object_kind"));
        Ok(vec![EventMeta {
            id: id.trim().to_string(),
            event_type,
        }])
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        KEPT_HEADERS
    }

    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        serde_json::json!({
            "object_kind": event_type,
            "event_name": event_type,
            "checkout_sha": event_id,
            "project": {"id": 1, "path_with_namespace": "hookgate/test"},
        })
        .to_string()
        .into_bytes()
    }

    /// A `whsec_` secret signs with the signing-token scheme; any other secret is sent as
    /// `X-Gitlab-Token`, as GitLab does.
    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let signing_token = secret
            .expose()
            .starts_with(signature::WHSEC_PREFIX.as_bytes())
            && matches!(Key::decode(secret.expose()), Some(Key::Symmetric(_)));
        let mut headers = if signing_token {
            standard_webhooks::sign_headers(secret, req.event_id, now, req.body)?
        } else {
            let token = std::str::from_utf8(secret.expose())
                .ok()
                .filter(|t| http::HeaderValue::from_str(t).is_ok())
                .ok_or(SignError::BadSecret(
                    "a GitLab secret token must be text that fits in a header",
                ))?;
            vec![("X-Gitlab-Token".to_string(), token.to_string())]
        };
        headers.push(("Idempotency-Key".into(), req.event_id.into()));
        headers.push(("X-Gitlab-Event".into(), test_event_type(req.body)));
        Ok(headers)
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest};
    use crate::DEFAULT_TOLERANCE;

    const TOKEN: &str = "gitlab-secret-token";
    const SIGNING: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"object_kind":"push","ref":"refs/heads/main"}"#;
    const TS: u64 = 1_614_265_330;

    fn gitlab() -> GitLab {
        GitLab::new(DEFAULT_TOLERANCE)
    }

    fn verify(req: &TestRequest, configured: &[&str], now: u64) -> Result<(), VerifyError> {
        gitlab().verify(&req.as_request(), &secrets(configured), at(now))
    }

    fn token_request(token: &str) -> TestRequest {
        TestRequest::post(BODY)
            .header("X-Gitlab-Token", token)
            .header("X-Gitlab-Event", "Push Hook")
            .header("Idempotency-Key", "f0e1d2c3")
    }

    #[test]
    fn plain_token_is_compared_exactly() {
        assert_eq!(verify(&token_request(TOKEN), &[TOKEN], TS), Ok(()));
        assert_eq!(verify(&token_request(TOKEN), &["old", TOKEN], TS), Ok(()));
        let mismatch = Err(VerifyError::SignatureMismatch);
        for wrong in [
            "gitlab-secret-toke",
            "gitlab-secret-token2",
            "GITLAB-SECRET-TOKEN",
            "x",
        ] {
            assert_eq!(
                verify(&token_request(wrong), &[TOKEN], TS),
                mismatch,
                "{wrong}"
            );
        }
        assert_eq!(verify(&token_request(TOKEN), &["other"], TS), mismatch);
        assert_eq!(
            verify(&token_request(""), &[TOKEN], TS),
            Err(VerifyError::MissingHeader(TOKEN_HEADER))
        );
        assert_eq!(
            verify(&TestRequest::post(BODY), &[TOKEN], TS),
            Err(VerifyError::MissingHeader(TOKEN_HEADER))
        );
    }

    #[test]
    fn signing_token_uses_standard_webhooks() {
        // The Standard Webhooks published vector, as GitLab would send it.
        let req = TestRequest::post(&br#"{"test": 2432232314}"#[..])
            .header("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
            .header("webhook-timestamp", &TS.to_string())
            .header(
                "webhook-signature",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            )
            .header("Idempotency-Key", "msg_p5jXN8AQM9LWM0D4loKWxJek");
        assert_eq!(verify(&req, &[SIGNING], TS), Ok(()));
        assert_eq!(verify(&req, &[TOKEN, SIGNING], TS), Ok(()));
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            verify(&req.clone().body(flip_byte(&req.body)), &[SIGNING], TS),
            mismatch
        );
        assert_eq!(
            verify(&req.clone().body(pretty(&req.body)), &[SIGNING], TS),
            mismatch
        );
        assert_eq!(
            verify(&req.clone().set("webhook-signature", "v1,"), &[SIGNING], TS),
            mismatch
        );
        assert_eq!(
            verify(&req, &[SIGNING], TS + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&req, &[SIGNING], TS - 301),
            Err(VerifyError::FutureTimestamp)
        );
        // A correct plain token does not rescue a bad signature.
        let both = req
            .clone()
            .set("webhook-signature", "v1,AAAA")
            .header("X-Gitlab-Token", TOKEN);
        assert_eq!(verify(&both, &[TOKEN, SIGNING], TS), mismatch);
    }

    #[test]
    fn events_prefer_the_idempotency_key() {
        let p = gitlab();
        assert_eq!(
            p.events(&token_request(TOKEN).as_request()),
            Ok(vec![EventMeta {
                id: "f0e1d2c3".into(),
                event_type: Some("Push Hook".into())
            }])
        );
        let old = TestRequest::post(BODY).header("X-Gitlab-Event-UUID", "uuid-1");
        assert_eq!(
            p.events(&old.as_request()),
            Ok(vec![EventMeta {
                id: "uuid-1".into(),
                event_type: Some("push".into())
            }])
        );
        assert_eq!(
            p.events(&TestRequest::post(BODY).as_request()),
            Err(ExtractError::MissingEventId("Idempotency-Key"))
        );
    }

    #[test]
    fn sign_round_trips_in_both_modes() {
        let p = gitlab();
        for secret in [TOKEN, SIGNING] {
            let req = TestRequest::signed(&p, BODY, "evt-9", secret, at(TS));
            assert_eq!(verify(&req, &[secret], TS), Ok(()), "{secret}");
            assert_eq!(p.events(&req.as_request()).unwrap()[0].id, "evt-9");
        }
        let signed = TestRequest::signed(&p, BODY, "evt-9", SIGNING, at(TS));
        assert!(
            !signed.headers.contains_key(TOKEN_HEADER),
            "the signing token is never sent"
        );
        assert!(!p.kept_headers().contains(&TOKEN_HEADER));
        assert!(!p.kept_headers().contains(&"webhook-signature"));
    }
}
