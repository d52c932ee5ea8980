//! Linear webhooks.
//!
//! `Linear-Signature` is the hex HMAC-SHA256 of the raw body under the webhook's signing secret
//! (UTF-8 bytes). The replay guard lives in the signed body: `webhookTimestamp`, Unix
//! milliseconds, checked (after the MAC) against the source tolerance in both directions; a
//! verified body without a readable `webhookTimestamp` is refused as stale. Linear's SDK allows
//! 60 s; hookgate uses the source's `tolerance` (default 5 min) so one setting governs every
//! provider; set `tolerance = "60s"` to match the SDK exactly.
//!
//! The event id is the `Linear-Delivery` header (a UUID). Whether Linear keeps it across
//! retries is not documented; if it does not, a retry is recorded as a new event and handlers
//! see it twice, which their idempotency keys absorb (never the reverse: two different events
//! can never share one id). The type is `{type}.{action}` from the body (`Issue.create`), else
//! the `Linear-Event` header.
//!
//! Verification and signing run through a preset of the generic verifier. For `hookgate send`,
//! [`Provider::sign_request`] writes the current time into the body's `webhookTimestamp`.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::generic::{Generic, GenericConfig, TimestampUnit};
use crate::signature::{self, Encoding};
use crate::{
    BuildError, EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError,
    SignRequest, SignedRequest, VerifyError,
};

pub const SIGNATURE_HEADER: &str = "linear-signature";
pub const DELIVERY_HEADER: &str = "linear-delivery";
pub const EVENT_HEADER: &str = "linear-event";
const TIMESTAMP_FIELD: &str = "webhookTimestamp";
const KEPT_HEADERS: &[&str] = &[DELIVERY_HEADER, EVENT_HEADER];
/// Linear retries a few times with backoff over hours (its current schedule is not
/// published); two days.
const RETRY_HORIZON: Duration = Duration::from_secs(2 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct Linear {
    inner: Generic,
}

impl Linear {
    pub fn new(tolerance: Duration) -> Result<Self, BuildError> {
        let config = GenericConfig {
            timestamp_json_path: Some(TIMESTAMP_FIELD.into()),
            timestamp_unit: Some(TimestampUnit::Milliseconds),
            id_header: Some(DELIVERY_HEADER.into()),
            ..GenericConfig::new(SIGNATURE_HEADER, Encoding::Hex)
        };
        Ok(Linear {
            inner: Generic::new(config, tolerance)?,
        })
    }
}

impl Provider for Linear {
    fn credential_headers(&self) -> &'static [&'static str] {
        self.inner.credential_headers()
    }

    fn name(&self) -> &'static str {
        "linear"
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
        let id = req
            .header(DELIVERY_HEADER)
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or(ExtractError::MissingEventId("Linear-Delivery"))?;
        let body: Option<Value> = serde_json::from_slice(req.body).ok();
        let from_body = body.as_ref().and_then(|body| {
            let kind = signature::json_path_text(body, "type")?;
            Some(match signature::json_path_text(body, "action") {
                Some(action) => format!("{kind}.{action}"),
                None => kind,
            })
        });
        let event_type = from_body.or_else(|| {
            req.header(EVENT_HEADER)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        });
        Ok(vec![EventMeta {
            id: id.to_string(),
            event_type,
        }])
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        KEPT_HEADERS
    }

    /// `webhookTimestamp` is 0 here; [`Provider::sign_request`] sets it when signing.
    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        serde_json::json!({
            "action": "create",
            "type": event_type,
            "data": {"id": event_id},
            "url": "https://linear.app/hookgate",
            "webhookId": "hookgate",
            TIMESTAMP_FIELD: 0,
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
        self.inner.sign(req, secret, now)
    }

    /// Sets the body's `webhookTimestamp` to `now` (a JSON object body is required), then
    /// signs the rewritten body.
    fn sign_request(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<SignedRequest, SignError> {
        let mut body: Value = serde_json::from_slice(req.body).map_err(|_| {
            SignError::Unsupported(
                "a Linear body must be a JSON object (it carries webhookTimestamp)",
            )
        })?;
        let Some(object) = body.as_object_mut() else {
            return Err(SignError::Unsupported(
                "a Linear body must be a JSON object (it carries webhookTimestamp)",
            ));
        };
        let millis = u64::try_from(signature::unix_millis(now)).unwrap_or(u64::MAX);
        object.insert(TIMESTAMP_FIELD.into(), Value::from(millis));
        let body = body.to_string().into_bytes();
        let headers = self.inner.sign(
            &SignRequest {
                body: &body,
                ..*req
            },
            secret,
            now,
        )?;
        Ok(SignedRequest {
            headers,
            body: Some(body),
            query: None,
        })
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest, TEST_URL};
    use crate::DEFAULT_TOLERANCE;

    // reference/providers.md §5.2 (derived): body {"id":1}.
    const SECRET: &str = "linear-secret";
    const VECTOR_BODY: &[u8] = br#"{"id":1}"#;
    const VECTOR_SIG: &str = "83ef3b979d2b53e2206db9499f40a4e6a252d8026abd4317bd4ab9227b006cf6";
    const NOW: u64 = 1_700_000_000;

    fn linear() -> Linear {
        Linear::new(DEFAULT_TOLERANCE).expect("preset builds")
    }

    fn verify(req: &TestRequest, configured: &[&str], now_ms: u64) -> Result<(), VerifyError> {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(now_ms);
        linear().verify(&req.as_request(), &secrets(configured), now)
    }

    fn signed_at(ts_ms: u64) -> TestRequest {
        let body = format!(
            r#"{{"action":"create","type":"Issue","data":{{"id":"iss_1"}},"webhookTimestamp":{ts_ms}}}"#
        );
        TestRequest::signed(&linear(), body.as_bytes(), "dlv-1", SECRET, at(NOW))
    }

    #[test]
    fn derived_vector_mac_verifies_but_needs_a_timestamp() {
        let req = TestRequest::post(VECTOR_BODY).header("Linear-Signature", VECTOR_SIG);
        // The MAC is right (not a mismatch) but the body carries no webhookTimestamp.
        assert_eq!(
            verify(&req, &[SECRET], NOW * 1000),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&req, &["wrong"], NOW * 1000),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn body_timestamp_is_checked_in_milliseconds_both_ways() {
        let ts = NOW * 1000;
        let req = signed_at(ts);
        assert_eq!(verify(&req, &[SECRET], ts), Ok(()));
        assert_eq!(verify(&req, &["old", SECRET], ts + 300_000), Ok(()));
        assert_eq!(
            verify(&req, &[SECRET], ts + 300_001),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&req, &[SECRET], ts - 300_001),
            Err(VerifyError::FutureTimestamp)
        );
    }

    #[test]
    fn negatives_fail() {
        let ts = NOW * 1000;
        let req = signed_at(ts);
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            verify(&req.clone().body(flip_byte(&req.body)), &[SECRET], ts),
            mismatch
        );
        assert_eq!(
            verify(&req.clone().body(pretty(&req.body)), &[SECRET], ts),
            mismatch
        );
        assert_eq!(verify(&req, &["wrong"], ts), mismatch);
        assert_eq!(
            verify(&req.clone().set("linear-signature", "00"), &[SECRET], ts),
            mismatch
        );
        let sig = req.value("linear-signature");
        assert_eq!(
            verify(
                &req.clone().set("linear-signature", &sig[..32]),
                &[SECRET],
                ts
            ),
            mismatch
        );
        assert_eq!(
            verify(&req.clone().without("linear-signature"), &[SECRET], ts),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn events_use_the_delivery_header() {
        let req = signed_at(NOW * 1000);
        assert_eq!(
            linear().events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "dlv-1".into(),
                event_type: Some("Issue.create".into())
            }])
        );
        assert_eq!(
            linear().events(&req.clone().without("linear-delivery").as_request()),
            Err(ExtractError::MissingEventId("Linear-Delivery"))
        );
    }

    #[test]
    fn sign_request_stamps_the_body() {
        let p = linear();
        let example = p.example_body("iss_9", "Issue");
        let sign = SignRequest {
            method: "POST",
            url: TEST_URL,
            body: &example,
            event_id: "dlv-9",
        };
        let signed = p
            .sign_request(&sign, &Secret::new(SECRET), at(NOW))
            .expect("signs");
        let body = signed.body.expect("rewritten body");
        let req = signed
            .headers
            .iter()
            .fold(TestRequest::post(body.clone()), |r, (k, v)| r.header(k, v));
        assert_eq!(verify(&req, &[SECRET], NOW * 1000 + 5), Ok(()));
        let doc: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["webhookTimestamp"], NOW * 1000);
        // The example as given (timestamp 0) is stale.
        let stale = TestRequest::signed(&p, &example, "dlv-9", SECRET, at(NOW));
        assert_eq!(
            verify(&stale, &[SECRET], NOW * 1000),
            Err(VerifyError::StaleTimestamp)
        );
        assert!(p
            .sign_request(
                &SignRequest {
                    body: b"[]",
                    ..sign
                },
                &Secret::new(SECRET),
                at(NOW)
            )
            .is_err());
    }
}
