//! Square webhooks.
//!
//! `x-square-hmacsha256-signature` is the base64 HMAC-SHA256 of `{notification URL}{raw body}`
//! under the subscription's signature key (used as UTF-8 bytes). The URL must be exactly the
//! one configured in the subscription, so the gateway fills [`crate::Request::url`] from the
//! source's `public_url`. No timestamp is signed (Square sends none). The event id is the
//! body's `event_id`, which Square documents as the idempotency value; retries carry the same.
//!
//! This is a preset of the generic verifier (see [`crate::preset`]).

use std::time::Duration;

use crate::generic::GenericConfig;
use crate::preset::Preset;
use crate::signature::Encoding;
use crate::BuildError;

pub const SIGNATURE_HEADER: &str = "x-square-hmacsha256-signature";
const KEPT_HEADERS: &[&str] = &[
    "square-retry-number",
    "square-retry-reason",
    "square-initial-delivery-timestamp",
    "square-environment",
];
/// Retries for up to 72 h; one more day of margin.
const RETRY_HORIZON: Duration = Duration::from_secs(4 * 24 * 3600);

fn config() -> GenericConfig {
    GenericConfig {
        signed_content: Some("{url}{body}".into()),
        id_json_path: Some("event_id".into()),
        type_json_path: Some("type".into()),
        ..GenericConfig::new(SIGNATURE_HEADER, Encoding::Base64)
    }
}

fn example_body(event_id: &str, event_type: &str) -> Vec<u8> {
    serde_json::json!({
        "merchant_id": "MLHOOKGATE",
        "type": event_type,
        "event_id": event_id,
        "data": {"type": "webhooks", "id": event_id},
    })
    .to_string()
    .into_bytes()
}

/// The `square` provider.
pub fn provider(tolerance: Duration) -> Result<Preset, BuildError> {
    Preset::new(
        "square",
        config(),
        tolerance,
        KEPT_HEADERS,
        RETRY_HORIZON,
        example_body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest, TEST_URL};
    use crate::{EventMeta, Provider, VerifyError, DEFAULT_TOLERANCE};

    // square/square-nodejs-sdk test/utilities/webhooksHelper.test.ts and the Python SDK's test.
    const KEY: &str = "Ibxx_5AKakO-3qeNVR61Dw";
    const URL: &str = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9";
    const BODY: &[u8] = br#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#;
    const SIG: &str = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=";
    const NOW: u64 = 1_700_000_000;

    fn square() -> Preset {
        provider(DEFAULT_TOLERANCE).expect("preset builds")
    }

    fn verify(req: &TestRequest, configured: &[&str]) -> Result<(), VerifyError> {
        square().verify(&req.as_request(), &secrets(configured), at(NOW))
    }

    fn request(url: &str, body: &[u8], sig: &str) -> TestRequest {
        TestRequest::post(body)
            .url(url)
            .header("x-square-hmacsha256-signature", sig)
    }

    #[test]
    fn sdk_vectors_verify() {
        assert_eq!(verify(&request(URL, BODY, SIG), &[KEY]), Ok(()));
        let url = "https://webhook.site/webhooks";
        for (body, sig) in [
            (
                &br#"{"data":{"type":"webhooks","id":"fake_id"}}"#[..],
                "W3FlCNk5IA3ZQ2LHTWoajvzfaDu/OwY2tNHIHC3IUOA=",
            ),
            (
                br#"{"data":{"type":"webhooks","id":">id<"}}"#,
                "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=",
            ),
        ] {
            assert_eq!(verify(&request(url, body, sig), &["signature-key"]), Ok(()));
        }
    }

    #[test]
    fn sdk_negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        // A different notification URL (one character dropped).
        let other_url = "https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9";
        assert_eq!(verify(&request(other_url, BODY, SIG), &[KEY]), mismatch);
        // A different signature key.
        assert_eq!(
            verify(&request(URL, BODY, SIG), &["MCmhFRxGX82xMwg5FsaoQA"]),
            mismatch
        );
        // A changed field and a pretty-printed body.
        let changed = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("2022-07-13", "2022-06-13");
        assert_eq!(
            verify(&request(URL, changed.as_bytes(), SIG), &[KEY]),
            mismatch
        );
        assert_eq!(verify(&request(URL, &pretty(BODY), SIG), &[KEY]), mismatch);
        assert_eq!(
            verify(&request(URL, &flip_byte(BODY), SIG), &[KEY]),
            mismatch
        );
        // Empty and truncated signatures, a missing header.
        assert_eq!(verify(&request(URL, BODY, "="), &[KEY]), mismatch);
        assert_eq!(verify(&request(URL, BODY, &SIG[..20]), &[KEY]), mismatch);
        assert_eq!(
            verify(&TestRequest::post(BODY).url(URL), &[KEY]),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn second_secret_passes() {
        assert_eq!(verify(&request(URL, BODY, SIG), &["old-key", KEY]), Ok(()));
    }

    #[test]
    fn events_and_sign_round_trip() {
        let p = square();
        assert_eq!(
            p.events(&request(URL, BODY, SIG).as_request()),
            Ok(vec![EventMeta {
                id: "ac3ac95b-f97d-458c-a6e6-18981597e05f".into(),
                event_type: Some("webhooks.test_notification".into())
            }])
        );
        let body = p.example_body("evt-1", "payment.updated");
        let req = TestRequest::signed(&p, &body, "evt-1", KEY, at(NOW));
        assert_eq!(verify(&req, &[KEY]), Ok(()));
        // The signature binds the URL the request was signed for.
        assert_eq!(
            verify(&req.clone().url(&format!("{TEST_URL}/other")), &[KEY]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(p.events(&req.as_request()).unwrap()[0].id, "evt-1");
    }
}
