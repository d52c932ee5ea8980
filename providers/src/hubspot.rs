//! HubSpot webhooks, signature v3.
//!
//! `X-HubSpot-Signature-v3` is the base64 HMAC-SHA256, under the app's client secret (UTF-8
//! bytes), of `{METHOD}{URI}{raw body}{X-HubSpot-Request-Timestamp}`; the timestamp is Unix
//! milliseconds, checked in both directions against the source tolerance (HubSpot: 5 min). The
//! URI is the full URL HubSpot called, which the gateway fills from the source's `public_url`.
//! HubSpot's docs ask to percent-decode a few characters (`:/?@!$'()*,;`) in the URI first; its
//! Python client does not, so both forms are accepted. The legacy v1/v2 signatures (a plain
//! SHA-256, not an HMAC) are not accepted.
//!
//! The body is a JSON array of events (a batch): each element is one event with id
//! `{portalId}:{subscriptionId}:{eventId}` (HubSpot's `eventId` is unique per subscription and
//! portal) and type `subscriptionType`. `attemptNumber` changes on every retry, so a retried
//! batch differs from the original while every one of its ids is the same.
//!
//! Verification and signing run through a preset of the generic verifier.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::generic::{Generic, GenericConfig, TimestampUnit};
use crate::signature::{self, Encoding};
use crate::{
    BuildError, EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError,
    SignRequest, VerifyError,
};

pub const SIGNATURE_HEADER: &str = "x-hubspot-signature-v3";
pub const TIMESTAMP_HEADER: &str = "x-hubspot-request-timestamp";
const KEPT_HEADERS: &[&str] = &[TIMESTAMP_HEADER];
/// Up to 10 retries over 24 h; a day of margin.
const RETRY_HORIZON: Duration = Duration::from_secs(2 * 24 * 3600);
/// The escapes HubSpot's docs decode in the URI before signing.
const DECODED_ESCAPES: [(&str, char); 12] = [
    ("3A", ':'),
    ("2F", '/'),
    ("3F", '?'),
    ("40", '@'),
    ("21", '!'),
    ("24", '$'),
    ("27", '\''),
    ("28", '('),
    ("29", ')'),
    ("2A", '*'),
    ("2C", ','),
    ("3B", ';'),
];

#[derive(Debug, Clone)]
pub struct HubSpot {
    inner: Generic,
}

impl HubSpot {
    pub fn new(tolerance: Duration) -> Result<Self, BuildError> {
        let config = GenericConfig {
            signed_content: Some("{method}{url}{body}{ts}".into()),
            timestamp_header: Some(TIMESTAMP_HEADER.into()),
            timestamp_unit: Some(TimestampUnit::Milliseconds),
            id_json_path: Some("[*].eventId".into()),
            type_json_path: Some("[*].subscriptionType".into()),
            ..GenericConfig::new(SIGNATURE_HEADER, Encoding::Base64)
        };
        Ok(HubSpot {
            inner: Generic::new(config, tolerance)?,
        })
    }
}

/// `url` with HubSpot's listed escapes decoded (any hex case); borrowed when there are none.
pub fn decode_uri(url: &str) -> Cow<'_, str> {
    if !url.contains('%') {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let escape = rest.get(pos + 1..pos + 3);
        let decoded = escape.and_then(|hex| {
            DECODED_ESCAPES
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(hex))
                .map(|(_, c)| *c)
        });
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[pos + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

impl Provider for HubSpot {
    fn credential_headers(&self) -> &'static [&'static str] {
        self.inner.credential_headers()
    }

    fn name(&self) -> &'static str {
        "hubspot"
    }

    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        match self.inner.verify(req, secrets, now) {
            Err(VerifyError::SignatureMismatch) => {
                let decoded = decode_uri(req.url);
                if decoded == req.url {
                    return Err(VerifyError::SignatureMismatch);
                }
                self.inner.verify(
                    &Request {
                        url: &decoded,
                        ..*req
                    },
                    secrets,
                    now,
                )
            }
            other => other,
        }
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
            return Err(ExtractError::MissingEventId("[*].eventId"));
        }
        items
            .iter()
            .map(|item| {
                let event_id = signature::json_path_text(item, "eventId")
                    .ok_or(ExtractError::MissingEventId("[*].eventId"))?;
                let portal = signature::json_path_text(item, "portalId").unwrap_or_default();
                let subscription =
                    signature::json_path_text(item, "subscriptionId").unwrap_or_default();
                Ok(EventMeta {
                    id: format!("{portal}:{subscription}:{event_id}"),
                    event_type: signature::json_path_text(item, "subscriptionType"),
                })
            })
            .collect()
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        KEPT_HEADERS
    }

    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        // HubSpot's ids are numbers; keep the id as text unless it reads back the same.
        let id = match event_id.parse::<u64>() {
            Ok(n) if n.to_string() == event_id => Value::from(n),
            _ => Value::from(event_id),
        };
        serde_json::json!([{
            "eventId": id,
            "subscriptionId": 1,
            "portalId": 1,
            "appId": 1,
            "occurredAt": 0,
            "subscriptionType": event_type,
            "attemptNumber": 0,
            "objectId": 1,
        }])
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

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{flip_byte, pretty, secrets, TestRequest};
    use crate::DEFAULT_TOLERANCE;

    // reference/providers.md §5.2, checked with hubspot-api-client's Signature.get_signature.
    const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    const URL: &str = "https://www.example.com/webhook_uri";
    const BODY: &[u8] = br#"{"example_field":"example_value"}"#;
    const TS_MS: u64 = 1_564_113_600_000;
    const SIG: &str = "eT0ip2TKVpsIi1vb5C2Uu42eNdHL+oTE3NRZOF67O2U=";

    fn hubspot() -> HubSpot {
        HubSpot::new(DEFAULT_TOLERANCE).expect("preset builds")
    }

    fn request(sig: &str) -> TestRequest {
        TestRequest::post(BODY)
            .url(URL)
            .header("X-HubSpot-Request-Timestamp", &TS_MS.to_string())
            .header("X-HubSpot-Signature-v3", sig)
    }

    fn verify(req: &TestRequest, configured: &[&str], now_ms: u64) -> Result<(), VerifyError> {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(now_ms);
        hubspot().verify(&req.as_request(), &secrets(configured), now)
    }

    #[test]
    fn derived_v3_vector_verifies() {
        assert_eq!(verify(&request(SIG), &[SECRET], TS_MS), Ok(()));
        assert_eq!(verify(&request(SIG), &["old", SECRET], TS_MS), Ok(()));
    }

    #[test]
    fn negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            verify(&request(SIG).body(flip_byte(BODY)), &[SECRET], TS_MS),
            mismatch
        );
        assert_eq!(
            verify(&request(SIG).body(pretty(BODY)), &[SECRET], TS_MS),
            mismatch
        );
        assert_eq!(verify(&request(SIG), &["wrong"], TS_MS), mismatch);
        assert_eq!(
            verify(&request(""), &[SECRET], TS_MS),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(verify(&request("="), &[SECRET], TS_MS), mismatch);
        assert_eq!(verify(&request(&SIG[..20]), &[SECRET], TS_MS), mismatch);
        assert_eq!(
            verify(
                &request(SIG).url("https://www.example.com/other"),
                &[SECRET],
                TS_MS
            ),
            mismatch
        );
        let mut get = request(SIG);
        get.method = "GET".into();
        assert_eq!(verify(&get, &[SECRET], TS_MS), mismatch);
        assert_eq!(
            verify(
                &request(SIG).without("x-hubspot-request-timestamp"),
                &[SECRET],
                TS_MS
            ),
            Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(&request(SIG), &[SECRET], TS_MS + 300_001),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&request(SIG), &[SECRET], TS_MS - 300_001),
            Err(VerifyError::FutureTimestamp)
        );
        // A timestamp in seconds is not fresh.
        let seconds = request(SIG).set("x-hubspot-request-timestamp", &(TS_MS / 1000).to_string());
        assert_eq!(verify(&seconds, &[SECRET], TS_MS), mismatch);
    }

    #[test]
    fn both_uri_forms_verify() {
        let p = hubspot();
        let encoded = "https://hooks.example.com/webhooks/hubspot%3Fa%3Db?x=%2A%7E";
        assert_eq!(
            decode_uri(encoded),
            "https://hooks.example.com/webhooks/hubspot?a%3Db?x=*%7E"
        );
        for signed_url in [encoded, &*decode_uri(encoded)] {
            let sign = SignRequest {
                method: "POST",
                url: signed_url,
                body: BODY,
                event_id: "x",
            };
            let now = SystemTime::UNIX_EPOCH + Duration::from_millis(TS_MS);
            let headers = p.sign(&sign, &Secret::new(SECRET), now).unwrap();
            let req = headers
                .iter()
                .fold(TestRequest::post(BODY).url(encoded), |r, (k, v)| {
                    r.header(k, v)
                });
            assert_eq!(
                verify(&req, &[SECRET], TS_MS),
                Ok(()),
                "signed over {signed_url}"
            );
        }
    }

    #[test]
    fn batches_yield_one_event_per_element() {
        let body = br#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123},{"eventId":2,"subscriptionId":12345,"portalId":62515,"subscriptionType":"contact.deletion","attemptNumber":3}]"#;
        assert_eq!(
            hubspot().events(&TestRequest::post(&body[..]).as_request()),
            Ok(vec![
                EventMeta {
                    id: "62515:12345:1".into(),
                    event_type: Some("contact.creation".into())
                },
                EventMeta {
                    id: "62515:12345:2".into(),
                    event_type: Some("contact.deletion".into())
                },
            ])
        );
        for (body, expected) in [
            (&b"[]"[..], ExtractError::MissingEventId("[*].eventId")),
            (
                br#"[{"eventId":1},{"portalId":2}]"#,
                ExtractError::MissingEventId("[*].eventId"),
            ),
            (
                br#"{"eventId":1}"#,
                ExtractError::MalformedBody("expected a JSON array of events"),
            ),
        ] {
            assert_eq!(
                hubspot().events(&TestRequest::post(body).as_request()),
                Err(expected)
            );
        }
    }

    #[test]
    fn sign_round_trips() {
        let p = hubspot();
        let body = p.example_body("77", "deal.propertyChange");
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(TS_MS);
        let req = TestRequest::signed(&p, &body, "x", SECRET, now);
        assert_eq!(verify(&req, &[SECRET], TS_MS), Ok(()));
        assert_eq!(p.events(&req.as_request()).unwrap()[0].id, "1:1:77");
    }
}
