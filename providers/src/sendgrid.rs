//! SendGrid (Twilio SendGrid) Event Webhook, signed.
//!
//! `X-Twilio-Email-Event-Webhook-Signature` is a base64 DER ECDSA P-256/SHA-256 signature of
//! `{X-Twilio-Email-Event-Webhook-Timestamp}{raw body}` (the body ends in `\r\n`, which is
//! signed too). The secret is the verification key SendGrid shows when "Signed Event Webhook"
//! is enabled: base64 DER SubjectPublicKeyInfo (PEM is accepted too). A PKCS#8 or SEC1 private
//! key may be configured instead, for a test source: it verifies with its public half and lets
//! `hookgate send` sign (SendGrid's real key never leaves SendGrid, so with only the public key
//! [`Provider::sign`] is unsupported). The timestamp is checked, after the signature, against
//! the source tolerance in both directions.
//!
//! The body is a JSON array of events (a batch); each element is one event with id
//! `sg_event_id` and type `event` (`processed`, `delivered`, `open`, …). SendGrid retries a
//! failed batch for up to 24 h, and duplicates are common: every element dedupes on its own.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::asymmetric;
use crate::signature::{self, Encoding};
use crate::{
    BuildError, EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError,
    SignRequest, VerifyError,
};

pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";
const KEPT_HEADERS: &[&str] = &[TIMESTAMP_HEADER];
/// Retried at increasing intervals for up to 24 h; a day of margin.
const RETRY_HORIZON: Duration = Duration::from_secs(2 * 24 * 3600);
const BAD_KEY: &str = "a SendGrid key must be the base64 DER (or PEM) P-256 public key SendGrid shows, or a PKCS#8/SEC1 P-256 private key";
const NEEDS_PRIVATE: &str = "SendGrid signs with its private key; configure a P-256 private key (PKCS#8, base64 DER or PEM) on a test source to sign";

#[derive(Debug, Clone)]
pub struct SendGrid {
    tolerance: Duration,
}

impl SendGrid {
    pub fn new(tolerance: Duration) -> Self {
        SendGrid { tolerance }
    }
}

impl Provider for SendGrid {
    fn credential_headers(&self) -> &'static [&'static str] {
        &[SIGNATURE_HEADER, TIMESTAMP_HEADER]
    }

    fn name(&self) -> &'static str {
        "sendgrid"
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
        let presented = Encoding::Base64.decode(header).unwrap_or_default();
        let signed: [&[u8]; 2] = [timestamp_text.as_bytes(), req.body];
        let matched = secrets
            .iter()
            .filter_map(|secret| asymmetric::p256_key(secret.expose()))
            .any(|key| asymmetric::p256_verify(&key.public, &signed, &presented));
        if !matched {
            return Err(VerifyError::SignatureMismatch);
        }
        signature::check_timestamp(timestamp, now, self.tolerance)
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let body: Value = serde_json::from_slice(req.body)
            .map_err(|_| ExtractError::MalformedBody("body is not JSON"))?;
        let Value::Array(items) = body else {
            return Err(ExtractError::MalformedBody(
                "expected a JSON array of events",
            ));
        };
        if items.is_empty() {
            return Err(ExtractError::MissingEventId("[*].sg_event_id"));
        }
        items
            .iter()
            .map(|item| {
                Ok(EventMeta {
                    id: signature::json_path_text(item, "sg_event_id")
                        .ok_or(ExtractError::MissingEventId("[*].sg_event_id"))?,
                    event_type: signature::json_path_text(item, "event"),
                })
            })
            .collect()
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        KEPT_HEADERS
    }

    /// A one-event batch, ending in `\r\n` as SendGrid's bodies do.
    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        let batch = serde_json::json!([{
            "email": "alice@example.com",
            "event": event_type,
            "sg_event_id": event_id,
            "sg_message_id": "hookgate.test",
            "timestamp": 0,
        }]);
        format!("{batch}\r\n").into_bytes()
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let key = asymmetric::p256_key(secret.expose()).ok_or(SignError::BadSecret(BAD_KEY))?;
        let private = key.private.ok_or(SignError::Unsupported(NEEDS_PRIVATE))?;
        let timestamp = signature::unix_seconds(now).to_string();
        let der = asymmetric::p256_sign(&private, &[timestamp.as_bytes(), req.body]);
        Ok(vec![
            (
                "X-Twilio-Email-Event-Webhook-Signature".into(),
                Encoding::Base64.encode(&der),
            ),
            ("X-Twilio-Email-Event-Webhook-Timestamp".into(), timestamp),
            ("Content-Type".into(), "application/json".into()),
        ])
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        asymmetric::p256_key(secret.expose())
            .map(drop)
            .ok_or_else(|| BuildError::Invalid(BAD_KEY.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest};
    use crate::DEFAULT_TOLERANCE;
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};

    // sendgrid/sendgrid-python test/unit/test_eventwebhook.py
    const PUBLIC_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    const TS: u64 = 1_600_112_502;
    const SIG: &str = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=";
    const BODY: &[u8] = b"[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";

    fn request(sig: &str) -> TestRequest {
        TestRequest::post(BODY)
            .header("X-Twilio-Email-Event-Webhook-Signature", sig)
            .header("X-Twilio-Email-Event-Webhook-Timestamp", &TS.to_string())
    }

    fn verify(req: &TestRequest, configured: &[&str], now: u64) -> Result<(), VerifyError> {
        SendGrid::new(DEFAULT_TOLERANCE).verify(&req.as_request(), &secrets(configured), at(now))
    }

    /// A fixed test key pair: (PKCS#8 private, SPKI public), both base64 DER.
    fn test_key_pair() -> (String, String) {
        let private = p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
        let pkcs8 = private.to_pkcs8_der().unwrap();
        let spki = private.verifying_key().to_public_key_der().unwrap();
        (
            Encoding::Base64.encode(pkcs8.as_bytes()),
            Encoding::Base64.encode(spki.as_bytes()),
        )
    }

    #[test]
    fn sdk_vector_verifies() {
        assert_eq!(verify(&request(SIG), &[PUBLIC_KEY], TS), Ok(()));
        let (_, other_public) = test_key_pair();
        assert_eq!(
            verify(&request(SIG), &[&other_public, PUBLIC_KEY], TS),
            Ok(()),
            "second key"
        );
    }

    #[test]
    fn negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            verify(&request(SIG).body(flip_byte(BODY)), &[PUBLIC_KEY], TS),
            mismatch
        );
        // Without the trailing CR LF, or re-serialised.
        assert_eq!(
            verify(
                &request(SIG).body(&BODY[..BODY.len() - 2]),
                &[PUBLIC_KEY],
                TS
            ),
            mismatch
        );
        assert_eq!(
            verify(&request(SIG).body(pretty(BODY)), &[PUBLIC_KEY], TS),
            mismatch
        );
        let (_, other_public) = test_key_pair();
        assert_eq!(verify(&request(SIG), &[&other_public], TS), mismatch);
        assert_eq!(verify(&request("="), &[PUBLIC_KEY], TS), mismatch);
        assert_eq!(verify(&request(&SIG[..40]), &[PUBLIC_KEY], TS), mismatch);
        assert_eq!(verify(&request("not base64!"), &[PUBLIC_KEY], TS), mismatch);
        let moved = request(SIG).set(
            "x-twilio-email-event-webhook-timestamp",
            &(TS + 1).to_string(),
        );
        assert_eq!(verify(&moved, &[PUBLIC_KEY], TS), mismatch);
        assert_eq!(
            verify(
                &request(SIG).without("x-twilio-email-event-webhook-signature"),
                &[PUBLIC_KEY],
                TS
            ),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(
                &request(SIG).without("x-twilio-email-event-webhook-timestamp"),
                &[PUBLIC_KEY],
                TS
            ),
            Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(&request(SIG), &[PUBLIC_KEY], TS + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&request(SIG), &[PUBLIC_KEY], TS - 301),
            Err(VerifyError::FutureTimestamp)
        );
        assert_eq!(verify(&request(SIG), &["garbage"], TS), mismatch);
    }

    #[test]
    fn batches_yield_one_event_per_element() {
        let p = SendGrid::new(DEFAULT_TOLERANCE);
        assert_eq!(
            p.events(&request(SIG).as_request()),
            Ok(vec![EventMeta {
                id: "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA".into(),
                event_type: Some("dropped".into())
            }])
        );
        let two = br#"[{"sg_event_id":"a","event":"open"},{"sg_event_id":"b","event":"click"}]"#;
        let ids: Vec<String> = p
            .events(&TestRequest::post(&two[..]).as_request())
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
        let missing = br#"[{"sg_event_id":"a"},{"event":"click"}]"#;
        assert_eq!(
            p.events(&TestRequest::post(&missing[..]).as_request()),
            Err(ExtractError::MissingEventId("[*].sg_event_id"))
        );
    }

    #[test]
    fn signing_needs_a_private_key_and_round_trips() {
        let p = SendGrid::new(DEFAULT_TOLERANCE);
        let (private, public) = test_key_pair();
        let body = p.example_body("sg1", "delivered");
        let req = TestRequest::signed(&p, &body, "x", &private, at(TS));
        assert_eq!(verify(&req, &[&public], TS), Ok(()));
        assert_eq!(
            verify(&req, &[&private], TS),
            Ok(()),
            "a private key verifies with its public half"
        );
        assert_eq!(p.events(&req.as_request()).unwrap()[0].id, "sg1");
        let sign = SignRequest {
            method: "POST",
            url: "u",
            body: &body,
            event_id: "x",
        };
        assert_eq!(
            p.sign(&sign, &Secret::new(PUBLIC_KEY), at(TS)),
            Err(SignError::Unsupported(NEEDS_PRIVATE))
        );
        assert_eq!(p.check_secret(&Secret::new(PUBLIC_KEY)), Ok(()));
        assert_eq!(p.check_secret(&Secret::new(private)), Ok(()));
        assert!(p.check_secret(&Secret::new("whsec_abc")).is_err());
    }
}
