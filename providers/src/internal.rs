//! The entry point for our own services.
//!
//! Authentication is either `Authorization: Bearer <key>`, where the key equals one of the
//! source's secrets, or, when the request carries a `webhook-signature` (or `svix-signature`)
//! header, a valid Standard Webhooks signature under one of them (which, unlike a bearer key,
//! also covers the body and a timestamp). Either one passing is enough.
//!
//! The event id is the `Idempotency-Key` header with the semantics of
//! draft-ietf-httpapi-idempotency-key-header: the client chooses it, it is required, and reusing
//! it with a different payload is an error (hence [`MismatchPolicy::Reject`]). The draft defines
//! the value as a structured-field string, so a quoted `"abc"` is accepted and unquoted; a bare
//! token is accepted as well because most clients send one.

use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::signature;
use crate::standard_webhooks;
use crate::{
    test_event_type, BuildError, EventMeta, ExtractError, MismatchPolicy, Provider, Request,
    Secret, Secrets, SignError, SignRequest, VerifyError,
};

pub const AUTHORIZATION_HEADER: &str = "authorization";
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
pub const EVENT_TYPE_HEADER: &str = "event-type";
/// Longest accepted `Idempotency-Key`, in bytes; the id becomes a database key.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// The bearer key and the Standard Webhooks headers, whichever the request uses.
const CREDENTIAL_HEADERS: &[&str] = &[
    AUTHORIZATION_HEADER,
    standard_webhooks::WEBHOOK_HEADERS.id,
    standard_webhooks::WEBHOOK_HEADERS.timestamp,
    standard_webhooks::WEBHOOK_HEADERS.signature,
    standard_webhooks::SVIX_HEADERS.id,
    standard_webhooks::SVIX_HEADERS.timestamp,
    standard_webhooks::SVIX_HEADERS.signature,
];
const KEPT_HEADERS: &[&str] = &[IDEMPOTENCY_KEY_HEADER, EVENT_TYPE_HEADER];
/// Our services retry on their own schedule; a day covers it (the store's floor anyway).
const RETRY_HORIZON: Duration = Duration::from_secs(24 * 3600);
const BAD_KEY: &str = "an internal bearer key must be visible ASCII without spaces";

#[derive(Debug, Clone)]
pub struct Internal {
    tolerance: Duration,
}

impl Internal {
    pub fn new(tolerance: Duration) -> Self {
        Internal { tolerance }
    }
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether `token` equals any secret, in constant time. Both sides are hashed first so the
/// comparison also hides the key's length.
fn bearer_matches(token: &str, secrets: &Secrets) -> bool {
    let presented = Sha256::digest(token.as_bytes());
    secrets.iter().fold(false, |matched, secret| {
        matched | signature::constant_time_eq(&presented, &Sha256::digest(secret.expose()))
    })
}

/// The event id carried by an `Idempotency-Key` value: the unquoted structured-field string,
/// or the bare value. `None` when empty, longer than [`MAX_IDEMPOTENCY_KEY_LEN`] bytes, or
/// containing control characters.
pub fn parse_idempotency_key(value: &str) -> Option<String> {
    let value = value.trim_matches([' ', '\t']);
    let key = match value.strip_prefix('"') {
        Some(quoted) => unquote_sf_string(quoted)?,
        None => value.to_string(),
    };
    let usable = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && !key.chars().any(char::is_control);
    usable.then_some(key)
}

/// The rest of an RFC 8941 string after its opening quote: `\"` and `\\` are the only escapes,
/// and the closing quote must end the value.
fn unquote_sf_string(rest: &str) -> Option<String> {
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                escaped @ ('"' | '\\') => out.push(escaped),
                _ => return None,
            },
            '"' => return chars.as_str().is_empty().then_some(out),
            other => out.push(other),
        }
    }
    None // unterminated
}

impl Provider for Internal {
    fn credential_headers(&self) -> &'static [&'static str] {
        CREDENTIAL_HEADERS
    }

    fn name(&self) -> &'static str {
        "internal"
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
        let signed = standard_webhooks::header_names(req).is_some();
        if req.headers.contains_key(AUTHORIZATION_HEADER) {
            let outcome =
                match signature::required_header(req, AUTHORIZATION_HEADER).map(bearer_token) {
                    Ok(Some(token)) if bearer_matches(token, secrets) => return Ok(()),
                    Ok(Some(_)) => VerifyError::SignatureMismatch,
                    Ok(None) => VerifyError::MalformedHeader(AUTHORIZATION_HEADER),
                    Err(err) => err,
                };
            // A failed bearer is final unless a signature offers the other way in.
            if !signed {
                return Err(outcome);
            }
        } else if !signed {
            return Err(VerifyError::MissingHeader(AUTHORIZATION_HEADER));
        }
        standard_webhooks::verify_signed(req, secrets, now, self.tolerance)
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let id = req
            .header(IDEMPOTENCY_KEY_HEADER)
            .and_then(parse_idempotency_key)
            .ok_or(ExtractError::MissingEventId("Idempotency-Key"))?;
        let event_type = req
            .header(EVENT_TYPE_HEADER)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .or_else(|| signature::body_json_text(req.body, "type"));
        Ok(vec![EventMeta { id, event_type }])
    }

    fn on_body_mismatch(&self) -> MismatchPolicy {
        MismatchPolicy::Reject
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        KEPT_HEADERS
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        _now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let key = std::str::from_utf8(secret.expose())
            .ok()
            .filter(|key| is_bearer_safe(key))
            .ok_or(SignError::BadSecret(BAD_KEY))?;
        Ok(vec![
            ("Authorization".into(), format!("Bearer {key}")),
            ("Idempotency-Key".into(), req.event_id.into()),
            ("Event-Type".into(), test_event_type(req.body)),
        ])
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        let usable = std::str::from_utf8(secret.expose()).is_ok_and(is_bearer_safe);
        usable
            .then_some(())
            .ok_or_else(|| BuildError::Invalid(BAD_KEY.into()))
    }
}

/// A key that can travel in an `Authorization` header unchanged.
fn is_bearer_safe(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest, NON_UTF8_BODY};
    use crate::DEFAULT_TOLERANCE;
    use http::HeaderValue;

    const KEY: &str = "internal-key-1";
    const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"order":42,"type":"order.paid"}"#;
    const NOW: u64 = 1_700_000_000;

    fn internal() -> Internal {
        Internal::new(DEFAULT_TOLERANCE)
    }

    fn verify(req: &TestRequest, configured: &[&str]) -> Result<(), VerifyError> {
        internal().verify(&req.as_request(), &secrets(configured), at(NOW))
    }

    fn bearer(value: &str) -> TestRequest {
        TestRequest::post(BODY).header("Authorization", value)
    }

    fn std_signed(body: &[u8], secret: &str, signed_at: u64) -> TestRequest {
        let headers =
            standard_webhooks::sign_headers(&Secret::new(secret), "msg_1", at(signed_at), body)
                .unwrap();
        headers
            .into_iter()
            .fold(TestRequest::post(body), |req, (name, value)| {
                req.header(&name, &value)
            })
            .header("Idempotency-Key", "msg_1")
    }

    fn event_id(req: &TestRequest) -> Result<String, ExtractError> {
        internal()
            .events(&req.as_request())
            .map(|events| events[0].id.clone())
    }

    #[test]
    fn bearer_key_equal_to_any_secret_passes() {
        assert_eq!(verify(&bearer("Bearer internal-key-1"), &[KEY]), Ok(()));
        assert_eq!(verify(&bearer("bearer   internal-key-1"), &[KEY]), Ok(()));
        assert_eq!(
            verify(&bearer("Bearer internal-key-1"), &["old-key", KEY]),
            Ok(())
        );
    }

    #[test]
    fn wrong_partial_or_malformed_bearer_fails() {
        assert_eq!(
            verify(&bearer("Bearer internal-key-2"), &[KEY]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&bearer("Bearer internal-key-"), &[KEY]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&bearer("Bearer internal-key-1x"), &[KEY]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&bearer("Bearer internal-key-1"), &[]),
            Err(VerifyError::NoSecret)
        );
        for value in ["Bearer", "Bearer ", "Basic aW50ZXJuYWw=", "internal-key-1"] {
            assert_eq!(
                verify(&bearer(value), &[KEY]),
                Err(VerifyError::MalformedHeader(AUTHORIZATION_HEADER)),
                "{value}"
            );
        }
    }

    #[test]
    fn missing_both_credentials_fails() {
        assert_eq!(
            verify(&TestRequest::post(BODY), &[KEY]),
            Err(VerifyError::MissingHeader(AUTHORIZATION_HEADER))
        );
    }

    #[test]
    fn standard_webhooks_signature_passes_with_or_without_a_bearer() {
        assert_eq!(verify(&std_signed(BODY, WHSEC, NOW), &[WHSEC]), Ok(()));
        assert_eq!(verify(&std_signed(BODY, WHSEC, NOW), &[KEY, WHSEC]), Ok(()));
        let wrong_bearer = std_signed(BODY, WHSEC, NOW).header("Authorization", "Bearer nope");
        assert_eq!(verify(&wrong_bearer, &[WHSEC]), Ok(()));
        let good_bearer_bad_sig = std_signed(BODY, "whsec_AAAAAAAAAAAAAAAAAAAAAAAA", NOW)
            .header("Authorization", "Bearer internal-key-1");
        assert_eq!(verify(&good_bearer_bad_sig, &[KEY, WHSEC]), Ok(()));
    }

    #[test]
    fn standard_webhooks_path_covers_the_body_and_the_clock() {
        let signed = std_signed(BODY, WHSEC, NOW);
        assert_eq!(
            verify(&signed.clone().body(flip_byte(BODY)), &[WHSEC]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&signed.clone().body(pretty(BODY)), &[WHSEC]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&signed, &["whsec_AAAAAAAAAAAAAAAAAAAAAAAA"]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&signed.clone().set("webhook-signature", "v1,"), &[WHSEC]),
            Err(VerifyError::SignatureMismatch)
        );
        let truncated = &signed.value("webhook-signature")[..20];
        assert_eq!(
            verify(
                &signed.clone().set("webhook-signature", truncated),
                &[WHSEC]
            ),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&std_signed(BODY, WHSEC, NOW - 301), &[WHSEC]),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&std_signed(BODY, WHSEC, NOW + 301), &[WHSEC]),
            Err(VerifyError::FutureTimestamp)
        );
        let bad_bearer_only = std_signed(BODY, WHSEC, NOW)
            .without("webhook-signature")
            .header("Authorization", "Bearer nope");
        assert_eq!(
            verify(&bad_bearer_only, &[WHSEC]),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn non_utf8_bodies_verify_over_raw_bytes() {
        assert_eq!(
            verify(&std_signed(NON_UTF8_BODY, WHSEC, NOW), &[WHSEC]),
            Ok(())
        );
    }

    #[test]
    fn idempotency_key_is_the_event_id_bare_or_quoted() {
        let req = |v: &str| TestRequest::post(BODY).header("Idempotency-Key", v);
        assert_eq!(
            event_id(&req("8e03978e-40d5-43e8-bc93-6894a57f9324")),
            Ok("8e03978e-40d5-43e8-bc93-6894a57f9324".into())
        );
        assert_eq!(event_id(&req("\"abc\"")), Ok("abc".into()));
        assert_eq!(event_id(&req(r#""a\"b\\c""#)), Ok(r#"a"b\c"#.into()));
        assert_eq!(event_id(&req(&"k".repeat(255))), Ok("k".repeat(255)));
    }

    #[test]
    fn unusable_idempotency_keys_are_missing_event_ids() {
        let missing = Err(ExtractError::MissingEventId("Idempotency-Key"));
        assert_eq!(event_id(&TestRequest::post(BODY)), missing);
        for value in [
            "",
            " ",
            "\"\"",
            "\"abc",
            "\"a\\x\"",
            "\"abc\"tail",
            "a\tb",
            &"k".repeat(256),
        ] {
            let mut req = TestRequest::post(BODY);
            req.headers
                .insert("idempotency-key", HeaderValue::from_str(value).unwrap());
            assert_eq!(event_id(&req), missing, "{value:?}");
        }
        let mut non_ascii = TestRequest::post(BODY);
        non_ascii.headers.insert(
            "idempotency-key",
            HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        assert_eq!(event_id(&non_ascii), missing);
    }

    #[test]
    fn event_type_prefers_the_header_then_the_body() {
        let p = internal();
        let with_header = TestRequest::post(BODY)
            .header("Idempotency-Key", "k")
            .header("Event-Type", "order.shipped");
        assert_eq!(
            p.events(&with_header.as_request()).unwrap()[0]
                .event_type
                .as_deref(),
            Some("order.shipped")
        );
        let body_only = TestRequest::post(BODY).header("Idempotency-Key", "k");
        assert_eq!(
            p.events(&body_only.as_request()).unwrap()[0]
                .event_type
                .as_deref(),
            Some("order.paid")
        );
        let neither = TestRequest::post(NON_UTF8_BODY).header("Idempotency-Key", "k");
        assert_eq!(p.events(&neither.as_request()).unwrap()[0].event_type, None);
    }

    #[test]
    fn a_reused_key_with_another_payload_is_rejected() {
        assert_eq!(internal().on_body_mismatch(), MismatchPolicy::Reject);
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let p = internal();
        let body = p.example_body("ignored", "invoice.created");
        let req = TestRequest::signed(&p, &body, "inv-7", KEY, at(NOW));
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&[KEY]), at(NOW)),
            Ok(())
        );
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "inv-7".into(),
                event_type: Some("invoice.created".into())
            }])
        );
    }

    #[test]
    fn keys_that_cannot_travel_as_bearer_are_refused() {
        let p = internal();
        assert_eq!(p.check_secret(&Secret::new(KEY)), Ok(()));
        for bad in [&b""[..], b"has space", b"caf\xe9"] {
            assert!(p.check_secret(&Secret::new(bad)).is_err());
            let sign = SignRequest {
                method: "POST",
                url: "u",
                body: BODY,
                event_id: "e",
            };
            assert_eq!(
                p.sign(&sign, &Secret::new(bad), at(NOW)),
                Err(SignError::BadSecret(BAD_KEY))
            );
        }
    }

    #[test]
    fn keeps_no_credentials() {
        let kept = internal().kept_headers();
        assert!(!kept.contains(&AUTHORIZATION_HEADER) && !kept.contains(&"webhook-signature"));
    }
}
