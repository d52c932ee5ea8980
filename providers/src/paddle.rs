//! Paddle Billing webhooks.
//!
//! `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>…]`, each `h1` the hex HMAC-SHA256 of
//! `{ts}:{raw body}` under the notification destination's secret key (`pdl_ntfset_…`, used as
//! UTF-8 bytes, not decoded). Several `h1` may appear (the official SDK's own test header is
//! `ts=…;h1=dummy;h1=<valid>`); any one matching any configured secret passes. The timestamp is
//! checked against the source's tolerance in both directions (Paddle's SDK defaults to 5 s,
//! which real clocks and queues do not keep; hookgate's default is 5 min, `tolerance` narrows
//! it). The event id is the body's `event_id` (`evt_…`), the same for every destination and
//! every retry; `notification_id` differs per destination and is not used.
//!
//! This is a preset of the generic verifier (see [`crate::preset`]).

use std::time::Duration;

use crate::generic::{GenericConfig, SignatureFormat};
use crate::preset::Preset;
use crate::signature::Encoding;
use crate::BuildError;

pub const SIGNATURE_HEADER: &str = "paddle-signature";
/// Live mode retries up to 60 times over 3 days; one more day of margin.
const RETRY_HORIZON: Duration = Duration::from_secs(4 * 24 * 3600);

fn config() -> GenericConfig {
    GenericConfig {
        signature_format: SignatureFormat::KvList,
        pair_separator: Some(";".into()),
        signature_key: Some("h1".into()),
        timestamp_key: Some("ts".into()),
        signed_content: Some("{ts}:{body}".into()),
        id_json_path: Some("event_id".into()),
        type_json_path: Some("event_type".into()),
        ..GenericConfig::new("Paddle-Signature", Encoding::Hex)
    }
}

fn example_body(event_id: &str, event_type: &str) -> Vec<u8> {
    serde_json::json!({
        "event_id": event_id,
        "event_type": event_type,
        "notification_id": format!("ntf_{event_id}"),
        "data": {},
    })
    .to_string()
    .into_bytes()
}

/// The `paddle` provider.
pub fn provider(tolerance: Duration) -> Result<Preset, BuildError> {
    Preset::new(
        "paddle",
        config(),
        tolerance,
        &[],
        RETRY_HORIZON,
        example_body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest};
    use crate::{EventMeta, Provider, VerifyError, DEFAULT_TOLERANCE};

    // PaddleHQ/paddle-python-sdk tests/Unit/Notification/test_Verifier.py
    const SECRET: &str = "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh";
    const WRONG_SECRETS: [&str; 2] = [
        "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4",
        "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_vB/yIOnTOCWIvpBadM5jzBZPHc7OmdSo",
    ];
    const TS: u64 = 1_696_195_954;
    const SIG: &str = "d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02";
    const BODY: &[u8] = b"hello-world";

    fn paddle() -> Preset {
        provider(DEFAULT_TOLERANCE).expect("preset builds")
    }

    fn request(header: &str) -> TestRequest {
        TestRequest::post(BODY).header("Paddle-Signature", header)
    }

    fn verify(req: &TestRequest, configured: &[&str], now: u64) -> Result<(), VerifyError> {
        paddle().verify(&req.as_request(), &secrets(configured), at(now))
    }

    #[test]
    fn sdk_vector_with_a_dummy_first_signature_verifies() {
        let req = request(&format!("ts={TS};h1=dummy;h1={SIG}"));
        assert_eq!(verify(&req, &[SECRET], TS), Ok(()));
    }

    #[test]
    fn sdk_invalid_secrets_fail_and_rotation_passes() {
        let req = request(&format!("ts={TS};h1=dummy;h1={SIG}"));
        for wrong in WRONG_SECRETS {
            assert_eq!(
                verify(&req, &[wrong], TS),
                Err(VerifyError::SignatureMismatch)
            );
        }
        assert_eq!(verify(&req, &[WRONG_SECRETS[0], SECRET], TS), Ok(()));
    }

    #[test]
    fn tampering_and_malformed_headers_fail() {
        let header = format!("ts={TS};h1={SIG}");
        assert_eq!(
            verify(&request(&header).body(flip_byte(BODY)), &[SECRET], TS),
            Err(VerifyError::SignatureMismatch)
        );
        for bad in [
            format!("ts={TS};h1="),
            format!("ts={TS};h1={}", &SIG[..40]),
            format!("ts={TS}"),
            format!("ts={TS};h2={SIG}"),
        ] {
            assert_eq!(
                verify(&request(&bad), &[SECRET], TS),
                Err(VerifyError::SignatureMismatch),
                "{bad}"
            );
        }
        assert_eq!(
            verify(&request(&format!("h1={SIG}")), &[SECRET], TS),
            Err(VerifyError::MalformedHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(&TestRequest::post(BODY), &[SECRET], TS),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn timestamps_past_tolerance_fail_in_both_directions() {
        let req = request(&format!("ts={TS};h1={SIG}"));
        assert_eq!(verify(&req, &[SECRET], TS + 300), Ok(()));
        assert_eq!(
            verify(&req, &[SECRET], TS + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&req, &[SECRET], TS - 301),
            Err(VerifyError::FutureTimestamp)
        );
    }

    #[test]
    fn sign_round_trips_and_events_read_event_id() {
        let p = paddle();
        let body = p.example_body("evt_01h", "transaction.completed");
        let req = TestRequest::signed(&p, &body, "ignored", SECRET, at(TS));
        assert!(req
            .value("paddle-signature")
            .starts_with(&format!("ts={TS};h1=")));
        assert_eq!(verify(&req, &[SECRET], TS), Ok(()));
        assert_eq!(
            verify(&req.clone().body(pretty(&body)), &[SECRET], TS),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "evt_01h".into(),
                event_type: Some("transaction.completed".into())
            }])
        );
    }
}
