//! Stripe webhooks.
//!
//! `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`, where each `v1` is the hex
//! HMAC-SHA256 of `{t}.{raw body}` under an endpoint secret (`whsec_…`, used as UTF-8 bytes,
//! not decoded). Stripe sends one `v1` per active secret while a rolled secret is still valid.
//! Only `v1` counts: `v0` is a fake test-mode signature that must be ignored. The event id is
//! the body's `id` (`evt_…`), identical on every retry; `t` changes per attempt.

use std::time::{Duration, SystemTime};

use crate::signature::{self, Algorithm, Encoding};
use crate::{
    EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError, SignRequest,
    VerifyError,
};

pub const SIGNATURE_HEADER: &str = "stripe-signature";
/// The only signature scheme Stripe documents as real.
const SCHEME: &str = "v1";
const TIMESTAMP_KEY: &str = "t";
/// Live mode retries for up to 3 days; one more day of margin.
const RETRY_HORIZON: Duration = Duration::from_secs(4 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct Stripe {
    tolerance: Duration,
}

impl Stripe {
    pub fn new(tolerance: Duration) -> Self {
        Stripe { tolerance }
    }
}

/// The parts of a `Stripe-Signature` header that matter.
struct ParsedHeader<'a> {
    timestamp_text: &'a str,
    timestamp: i64,
    v1_signatures: Vec<&'a str>,
}

fn parse_header(header: &str) -> Result<ParsedHeader<'_>, VerifyError> {
    let malformed = VerifyError::MalformedHeader(SIGNATURE_HEADER);
    let mut timestamp_text = None;
    let mut v1_signatures = Vec::new();
    for (key, value) in signature::kv_pairs(header, ",", "=") {
        match key {
            // Two timestamps make the signed content ambiguous; refuse rather than pick one.
            TIMESTAMP_KEY if timestamp_text.is_some() => return Err(malformed),
            TIMESTAMP_KEY => timestamp_text = Some(value),
            SCHEME => v1_signatures.push(value),
            _ => {}
        }
    }
    let timestamp_text = timestamp_text.ok_or(malformed.clone())?;
    let timestamp = signature::parse_unix_timestamp(timestamp_text).ok_or(malformed)?;
    Ok(ParsedHeader {
        timestamp_text,
        timestamp,
        v1_signatures,
    })
}

impl Provider for Stripe {
    fn credential_headers(&self) -> &'static [&'static str] {
        &[SIGNATURE_HEADER]
    }

    fn name(&self) -> &'static str {
        "stripe"
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
        let parsed = parse_header(header)?;
        let presented = signature::decode_all(Encoding::Hex, parsed.v1_signatures);
        let signed: [&[u8]; 3] = [parsed.timestamp_text.as_bytes(), b".", req.body];
        if !signature::any_signature_matches(
            Algorithm::Sha256,
            secrets.iter().map(Secret::expose),
            &signed,
            &presented,
        ) {
            return Err(VerifyError::SignatureMismatch);
        }
        // Checked after the MAC so that `stale_timestamp` only ever counts authentic requests.
        signature::check_timestamp(parsed.timestamp, now, self.tolerance)
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let [id, event_type] = signature::json_object_fields(req.body, ["id", "type"])?;
        let id = id.ok_or(ExtractError::MissingEventId("id"))?;
        Ok(vec![EventMeta { id, event_type }])
    }

    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        serde_json::json!({ "id": event_id, "object": "event", "type": event_type })
            .to_string()
            .into_bytes()
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let t = signature::unix_seconds(now).to_string();
        let mac = Algorithm::Sha256.mac(secret.expose(), &[t.as_bytes(), b".", req.body]);
        Ok(vec![(
            "Stripe-Signature".into(),
            format!("t={t},{SCHEME}={}", Encoding::Hex.encode(&mac)),
        )])
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest, NON_UTF8_BODY};
    use crate::DEFAULT_TOLERANCE;

    const SECRET: &str = "whsec_test_secret";
    const ROLLED_SECRET: &str = "whsec_test_secret_rolled_key";
    const BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;
    const T: u64 = 1_492_774_577;
    const SIG: &str = "88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a";
    const ROLLED_SIG: &str = "9e010fbc4cc8f6c5dc44a6824569d0ab0d471b5fd81ab229d222117f0a69c435";

    fn stripe() -> Stripe {
        Stripe::new(DEFAULT_TOLERANCE)
    }

    fn request(header: &str) -> TestRequest {
        TestRequest::post(BODY).header("Stripe-Signature", header)
    }

    fn verify(req: &TestRequest, configured: &[&str], now: u64) -> Result<(), VerifyError> {
        stripe().verify(&req.as_request(), &secrets(configured), at(now))
    }

    #[test]
    fn derived_vector_verifies() {
        let req = request(&format!("t={T},v1={SIG}"));
        assert_eq!(verify(&req, &[SECRET], T), Ok(()));
    }

    #[test]
    fn rotation_header_verifies_under_either_secret() {
        let req = request(&format!("t={T},v1={ROLLED_SIG},v1={SIG},v0=deadbeef"));
        assert_eq!(verify(&req, &[SECRET], T), Ok(()));
        assert_eq!(verify(&req, &[ROLLED_SECRET], T), Ok(()));
        assert_eq!(
            verify(&req, &["whsec_other"], T),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn only_the_last_signature_valid_passes() {
        let req = request(&format!("t={T},v1={},v1={SIG}", "0".repeat(64)));
        assert_eq!(verify(&req, &[SECRET], T), Ok(()));
    }

    #[test]
    fn second_configured_secret_passes() {
        let req = request(&format!("t={T},v1={SIG}"));
        assert_eq!(verify(&req, &["whsec_old", SECRET], T), Ok(()));
    }

    #[test]
    fn v0_alone_fails_even_when_it_is_a_correct_mac() {
        let req = request(&format!("t={T},v0={SIG}"));
        assert_eq!(
            verify(&req, &[SECRET], T),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn tampered_bodies_fail() {
        let header = format!("t={T},v1={SIG}");
        let flipped = request(&header).body(flip_byte(BODY));
        assert_eq!(
            verify(&flipped, &[SECRET], T),
            Err(VerifyError::SignatureMismatch)
        );
        let reserialised = request(&header).body(pretty(BODY));
        assert_eq!(
            verify(&reserialised, &[SECRET], T),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn wrong_secret_fails() {
        let req = request(&format!("t={T},v1={SIG}"));
        assert_eq!(
            verify(&req, &["whsec_wrong"], T),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn no_configured_secret_fails() {
        let req = request(&format!("t={T},v1={SIG}"));
        assert_eq!(verify(&req, &[], T), Err(VerifyError::NoSecret));
    }

    #[test]
    fn missing_header_fails() {
        let req = TestRequest::post(BODY);
        assert_eq!(
            verify(&req, &[SECRET], T),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn empty_and_truncated_signatures_fail() {
        for header in [
            format!("t={T},v1="),
            format!("t={T},v1={}", &SIG[..32]),
            format!("t={T},v1={}", &SIG[..63]),
            format!("t={T}"),
        ] {
            assert_eq!(
                verify(&request(&header), &[SECRET], T),
                Err(VerifyError::SignatureMismatch),
                "{header}"
            );
        }
    }

    #[test]
    fn missing_duplicate_or_unreadable_timestamp_is_malformed() {
        for header in [
            format!("v1={SIG}"),
            format!("t=abc,v1={SIG}"),
            format!("t={T},t={T},v1={SIG}"),
        ] {
            assert_eq!(
                verify(&request(&header), &[SECRET], T),
                Err(VerifyError::MalformedHeader(SIGNATURE_HEADER)),
                "{header}"
            );
        }
    }

    #[test]
    fn timestamps_past_tolerance_fail_in_both_directions() {
        let req = request(&format!("t={T},v1={SIG}"));
        assert_eq!(verify(&req, &[SECRET], T + 300), Ok(()));
        assert_eq!(
            verify(&req, &[SECRET], T + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&req, &[SECRET], T - 301),
            Err(VerifyError::FutureTimestamp)
        );
    }

    #[test]
    fn configured_tolerance_is_used() {
        let req = request(&format!("t={T},v1={SIG}"));
        let strict = Stripe::new(Duration::from_secs(10));
        assert_eq!(
            strict.verify(&req.as_request(), &secrets(&[SECRET]), at(T + 11)),
            Err(VerifyError::StaleTimestamp)
        );
    }

    #[test]
    fn sign_then_verify_round_trips_and_matches_the_vector() {
        let p = stripe();
        let req = TestRequest::signed(&p, BODY, "ignored", SECRET, at(T));
        assert_eq!(req.value("stripe-signature"), format!("t={T},v1={SIG}"));
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&[SECRET]), at(T)),
            Ok(())
        );
        let example = p.example_body("evt_1", "payment_intent.succeeded");
        let req = TestRequest::signed(&p, &example, "evt_1", SECRET, at(T));
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&[SECRET]), at(T)),
            Ok(())
        );
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "evt_1".into(),
                event_type: Some("payment_intent.succeeded".into())
            }])
        );
    }

    #[test]
    fn non_utf8_bodies_verify_over_raw_bytes() {
        let p = stripe();
        let req = TestRequest::signed(&p, NON_UTF8_BODY, "x", SECRET, at(T));
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&[SECRET]), at(T)),
            Ok(())
        );
        let flipped = req.clone().body(flip_byte(NON_UTF8_BODY));
        assert_eq!(
            p.verify(&flipped.as_request(), &secrets(&[SECRET]), at(T)),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn events_read_id_and_type_from_the_body() {
        let req = TestRequest::post(BODY);
        assert_eq!(
            stripe().events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "evt_test_webhook".into(),
                event_type: None
            }])
        );
    }

    #[test]
    fn events_without_a_usable_id_fail() {
        for body in [&br#"{"type":"x"}"#[..], br#"{"id":""}"#, br#"{"id":null}"#] {
            assert_eq!(
                stripe().events(&TestRequest::post(body).as_request()),
                Err(ExtractError::MissingEventId("id"))
            );
        }
        for body in [&b"id=evt_1"[..], b"[]"] {
            assert!(matches!(
                stripe().events(&TestRequest::post(body).as_request()),
                Err(ExtractError::MalformedBody(_))
            ));
        }
    }

    #[test]
    fn keeps_no_signature_header() {
        assert!(!stripe().kept_headers().contains(&SIGNATURE_HEADER));
    }
}
