//! Mailgun webhooks.
//!
//! Mailgun puts its signature **inside** the JSON body:
//! `{"signature":{"timestamp":…,"token":…,"signature":<hex>},"event-data":{…}}`, where
//! `signature` is the hex HMAC-SHA256 of `{timestamp}{token}` under the account's HTTP webhook
//! signing key (UTF-8 bytes). Three consequences:
//!
//! - The body has to be parsed before it is authenticated (the parse is bounded by the
//!   gateway's body limit and serde_json's depth limit).
//! - The MAC does **not** cover `event-data`: a captured `signature` object could be attached to
//!   another body. Two guards: the timestamp is checked against the source tolerance in both
//!   directions, and [`Provider::replay_token`] hands the gateway the token so it refuses a token
//!   it has already seen with a different body (Mailgun's own advice is to cache tokens).
//! - `hookgate send` must write the signature into the body: [`Provider::sign_request`] does;
//!   [`Provider::sign`] cannot.
//!
//! The legacy form-encoded webhooks (`timestamp`, `token`, `signature` as form fields) are not
//! accepted. The event id is `event-data.id`; the type is `event-data.event`.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::signature::{self, Algorithm, Encoding};
use crate::{
    EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError, SignRequest,
    SignedRequest, VerifyError,
};

/// What [`VerifyError`] names when the in-body signature is missing or unreadable.
pub const SIGNATURE_FIELD: &str = "signature (in the body)";
const TIMESTAMP_FIELD: &str = "signature.timestamp (in the body)";
/// Retried for 8 h (5 m, 10 m, 15 m, 1 h, 2 h, 4 h); the store's one-day floor covers it.
const RETRY_HORIZON: Duration = Duration::from_secs(24 * 3600);
const IN_BODY: &str = "Mailgun signs inside the body; only sign_request can write it there";

#[derive(Debug, Clone)]
pub struct Mailgun {
    tolerance: Duration,
}

impl Mailgun {
    pub fn new(tolerance: Duration) -> Self {
        Mailgun { tolerance }
    }
}

/// The `signature` object's three fields, as text (the timestamp exactly as sent).
struct InBody {
    timestamp: String,
    token: String,
    signature: String,
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn in_body(body: &[u8]) -> Option<InBody> {
    let document: Value = serde_json::from_slice(body).ok()?;
    let object = document.get("signature")?;
    Some(InBody {
        timestamp: text_of(object.get("timestamp")?)?,
        token: object.get("token")?.as_str()?.to_string(),
        signature: object.get("signature")?.as_str()?.to_string(),
    })
}

impl Provider for Mailgun {
    fn credential_headers(&self) -> &'static [&'static str] {
        // The signature, its timestamp and token are form/JSON fields of the body.
        &[]
    }

    fn name(&self) -> &'static str {
        "mailgun"
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
        let fields = in_body(req.body).ok_or(VerifyError::MissingHeader(SIGNATURE_FIELD))?;
        if fields.signature.is_empty() || fields.token.is_empty() {
            return Err(VerifyError::MissingHeader(SIGNATURE_FIELD));
        }
        let timestamp = signature::parse_unix_timestamp(&fields.timestamp)
            .ok_or(VerifyError::MalformedHeader(TIMESTAMP_FIELD))?;
        let presented = signature::decode_all(Encoding::Hex, [fields.signature.as_str()]);
        if !signature::any_signature_matches(
            Algorithm::Sha256,
            secrets.iter().map(Secret::expose),
            &[fields.timestamp.as_bytes(), fields.token.as_bytes()],
            &presented,
        ) {
            return Err(VerifyError::SignatureMismatch);
        }
        signature::check_timestamp(timestamp, now, self.tolerance)
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let body = signature::json_object_body(req.body)?;
        let id = signature::json_path_text(&body, "event-data.id")
            .ok_or(ExtractError::MissingEventId("event-data.id"))?;
        Ok(vec![EventMeta {
            id,
            event_type: signature::json_path_text(&body, "event-data.event"),
        }])
    }

    fn replay_token(&self, req: &Request<'_>) -> Option<String> {
        in_body(req.body)
            .map(|fields| fields.token)
            .filter(|token| !token.is_empty())
    }

    /// The signature fields are empty here; [`Provider::sign_request`] fills them.
    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        serde_json::json!({
            "signature": {"timestamp": "0", "token": "", "signature": ""},
            "event-data": {
                "id": event_id,
                "event": event_type,
                "timestamp": 0,
                "recipient": "alice@example.com",
            },
        })
        .to_string()
        .into_bytes()
    }

    fn sign(
        &self,
        _req: &SignRequest<'_>,
        _secret: &Secret,
        _now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        Err(SignError::Unsupported(IN_BODY))
    }

    /// Writes a fresh `signature` object (timestamp `now`, a 50-character token derived from
    /// the event id and `now`) into the JSON object body.
    fn sign_request(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<SignedRequest, SignError> {
        let mut body: Value = serde_json::from_slice(req.body)
            .map_err(|_| SignError::Unsupported("a Mailgun body must be a JSON object"))?;
        let Some(object) = body.as_object_mut() else {
            return Err(SignError::Unsupported(
                "a Mailgun body must be a JSON object",
            ));
        };
        let timestamp = signature::unix_seconds(now).to_string();
        let nanos = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut token = signature::sha256_hex(format!("{}:{nanos}", req.event_id).as_bytes());
        token.truncate(50);
        let mac = Algorithm::Sha256.mac(secret.expose(), &[timestamp.as_bytes(), token.as_bytes()]);
        object.insert(
            "signature".into(),
            serde_json::json!({
                "timestamp": timestamp,
                "token": token,
                "signature": Encoding::Hex.encode(&mac),
            }),
        );
        Ok(SignedRequest {
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(body.to_string().into_bytes()),
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
    use crate::test_support::{at, secrets, TestRequest, TEST_URL};
    use crate::DEFAULT_TOLERANCE;

    // reference/providers.md §5.2 (derived).
    const KEY: &str = "mailgun-signing-key";
    const TS: u64 = 1_700_000_000;
    const TOKEN: &str = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123";
    const SIG: &str = "c79b7b312f6a86cac22c27fc28725cc5e988732b11ba732e65a9df64ad329613";

    fn body(timestamp: &str, token: &str, sig: &str) -> Vec<u8> {
        format!(
            r#"{{"signature":{{"timestamp":"{timestamp}","token":"{token}","signature":"{sig}"}},"event-data":{{"id":"CPgfbmQMTCKtHW6uIWtuVe","event":"delivered","timestamp":1700000000.5}}}}"#
        )
        .into_bytes()
    }

    fn verify(body: &[u8], configured: &[&str], now: u64) -> Result<(), VerifyError> {
        Mailgun::new(DEFAULT_TOLERANCE).verify(
            &TestRequest::post(body).as_request(),
            &secrets(configured),
            at(now),
        )
    }

    #[test]
    fn derived_vector_verifies() {
        assert_eq!(verify(&body("1700000000", TOKEN, SIG), &[KEY], TS), Ok(()));
        assert_eq!(
            verify(&body("1700000000", TOKEN, SIG), &["old", KEY], TS),
            Ok(())
        );
        // A numeric timestamp is signed as its digits.
        let numeric = String::from_utf8(body("1700000000", TOKEN, SIG))
            .unwrap()
            .replace(r#""timestamp":"1700000000""#, r#""timestamp":1700000000"#);
        assert_eq!(verify(numeric.as_bytes(), &[KEY], TS), Ok(()));
    }

    #[test]
    fn negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            verify(&body("1700000000", TOKEN, SIG), &["wrong"], TS),
            mismatch
        );
        assert_eq!(
            verify(&body("1700000001", TOKEN, SIG), &[KEY], TS),
            mismatch
        );
        let other_token = TOKEN.replace('e', "f");
        assert_eq!(
            verify(&body("1700000000", &other_token, SIG), &[KEY], TS),
            mismatch
        );
        assert_eq!(
            verify(&body("1700000000", TOKEN, &SIG[..40]), &[KEY], TS),
            mismatch
        );
        assert_eq!(
            verify(&body("1700000000", TOKEN, ""), &[KEY], TS),
            Err(VerifyError::MissingHeader(SIGNATURE_FIELD))
        );
        assert_eq!(
            verify(br#"{"event-data":{"id":"x"}}"#, &[KEY], TS),
            Err(VerifyError::MissingHeader(SIGNATURE_FIELD))
        );
        assert_eq!(
            verify(b"timestamp=1&token=2&signature=3", &[KEY], TS),
            Err(VerifyError::MissingHeader(SIGNATURE_FIELD))
        );
        assert_eq!(
            verify(&body("soon", TOKEN, SIG), &[KEY], TS),
            Err(VerifyError::MalformedHeader(TIMESTAMP_FIELD))
        );
        assert_eq!(
            verify(&body("1700000000", TOKEN, SIG), &[KEY], TS + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&body("1700000000", TOKEN, SIG), &[KEY], TS - 301),
            Err(VerifyError::FutureTimestamp)
        );
    }

    #[test]
    fn the_body_is_not_covered_so_the_token_is_handed_out() {
        // Known limitation of the scheme: another event-data under a captured signature
        // verifies; the gateway's token cache is what refuses it.
        let forged = String::from_utf8(body("1700000000", TOKEN, SIG))
            .unwrap()
            .replace("CPgfbmQMTCKtHW6uIWtuVe", "forged");
        assert_eq!(verify(forged.as_bytes(), &[KEY], TS), Ok(()));
        let p = Mailgun::new(DEFAULT_TOLERANCE);
        assert_eq!(
            p.replay_token(&TestRequest::post(forged).as_request())
                .as_deref(),
            Some(TOKEN)
        );
        assert_eq!(
            p.replay_token(&TestRequest::post(&b"{}"[..]).as_request()),
            None
        );
    }

    #[test]
    fn events_read_event_data() {
        let p = Mailgun::new(DEFAULT_TOLERANCE);
        assert_eq!(
            p.events(&TestRequest::post(body("1", TOKEN, SIG)).as_request()),
            Ok(vec![EventMeta {
                id: "CPgfbmQMTCKtHW6uIWtuVe".into(),
                event_type: Some("delivered".into())
            }])
        );
        assert_eq!(
            p.events(&TestRequest::post(&br#"{"event-data":{}}"#[..]).as_request()),
            Err(ExtractError::MissingEventId("event-data.id"))
        );
    }

    #[test]
    fn sign_request_writes_the_signature_into_the_body() {
        let p = Mailgun::new(DEFAULT_TOLERANCE);
        let example = p.example_body("evt-1", "opened");
        let sign = SignRequest {
            method: "POST",
            url: TEST_URL,
            body: &example,
            event_id: "evt-1",
        };
        assert_eq!(
            p.sign(&sign, &Secret::new(KEY), at(TS)),
            Err(SignError::Unsupported(IN_BODY))
        );
        let signed = p.sign_request(&sign, &Secret::new(KEY), at(TS)).unwrap();
        let body = signed.body.expect("body");
        assert_eq!(verify(&body, &[KEY], TS), Ok(()));
        assert_eq!(
            p.events(&TestRequest::post(body.clone()).as_request())
                .unwrap()[0]
                .id,
            "evt-1"
        );
        let token = p
            .replay_token(&TestRequest::post(body).as_request())
            .unwrap();
        assert_eq!(token.len(), 50);
    }
}
