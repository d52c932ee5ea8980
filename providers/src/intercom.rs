//! Intercom webhooks.
//!
//! `X-Hub-Signature: sha1=<hex>` is the HMAC-SHA1 of the raw body under the app's
//! `client_secret` (used as UTF-8 bytes). No timestamp is signed. The event id is the
//! notification's `id` in the body; a retry carries the same `id` but a different
//! `delivery_attempts`, which is why dedupe never hashes Intercom bodies. The type is `topic`.
//!
//! This is a preset of the generic verifier (see [`crate::preset`]).

use std::time::Duration;

use crate::generic::{GenericConfig, SignatureFormat};
use crate::preset::Preset;
use crate::signature::{Algorithm, Encoding};
use crate::BuildError;

pub const SIGNATURE_HEADER: &str = "x-hub-signature";
/// Intercom does not publish its retry schedule; treat it as at-least-once over two days.
const RETRY_HORIZON: Duration = Duration::from_secs(2 * 24 * 3600);

fn config() -> GenericConfig {
    GenericConfig {
        algorithm: Algorithm::Sha1,
        signature_format: SignatureFormat::Prefix,
        signature_prefix: Some("sha1=".into()),
        id_json_path: Some("id".into()),
        type_json_path: Some("topic".into()),
        ..GenericConfig::new(SIGNATURE_HEADER, Encoding::Hex)
    }
}

fn example_body(event_id: &str, event_type: &str) -> Vec<u8> {
    serde_json::json!({
        "type": "notification_event",
        "id": event_id,
        "topic": event_type,
        "app_id": "hookgate",
        "delivery_attempts": 1,
        "data": {"type": "notification_event_data", "item": {}},
    })
    .to_string()
    .into_bytes()
}

/// The `intercom` provider.
pub fn provider(tolerance: Duration) -> Result<Preset, BuildError> {
    Preset::new(
        "intercom",
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

    // reference/providers.md §5.2 (derived): body {"id":1}.
    const SECRET: &str = "intercom-client-secret";
    const BODY: &[u8] = br#"{"id":1}"#;
    const SIG: &str = "sha1=9895ca0dac336600c9e133bf0df76fe9fedd8a2f";

    fn intercom() -> Preset {
        provider(DEFAULT_TOLERANCE).expect("preset builds")
    }

    fn verify(req: &TestRequest, configured: &[&str]) -> Result<(), VerifyError> {
        intercom().verify(&req.as_request(), &secrets(configured), at(1))
    }

    fn request(sig: &str) -> TestRequest {
        TestRequest::post(BODY).header("X-Hub-Signature", sig)
    }

    #[test]
    fn derived_vector_verifies_and_rotation_passes() {
        assert_eq!(verify(&request(SIG), &[SECRET]), Ok(()));
        assert_eq!(verify(&request(SIG), &["old", SECRET]), Ok(()));
        assert_eq!(
            verify(
                &request(&SIG.to_uppercase().replace("SHA1=", "sha1=")),
                &[SECRET]
            ),
            Ok(()),
            "hex case does not matter"
        );
    }

    #[test]
    fn negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            verify(&request(SIG).body(flip_byte(BODY)), &[SECRET]),
            mismatch
        );
        assert_eq!(
            verify(&request(SIG).body(pretty(BODY)), &[SECRET]),
            mismatch
        );
        assert_eq!(verify(&request(SIG), &["wrong"]), mismatch);
        assert_eq!(verify(&request("sha1="), &[SECRET]), mismatch);
        assert_eq!(verify(&request(&SIG[..20]), &[SECRET]), mismatch);
        assert_eq!(
            verify(&request(&SIG.replace("sha1=", "sha256=")), &[SECRET]),
            Err(VerifyError::MalformedHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(&TestRequest::post(BODY), &[SECRET]),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn events_and_sign_round_trip() {
        let p = intercom();
        assert_eq!(
            p.events(&request(SIG).as_request()),
            Ok(vec![EventMeta {
                id: "1".into(),
                event_type: None
            }])
        );
        let body = p.example_body("notif_1", "conversation.user.created");
        let req = TestRequest::signed(&p, &body, "x", SECRET, at(1));
        assert_eq!(verify(&req, &[SECRET]), Ok(()));
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "notif_1".into(),
                event_type: Some("conversation.user.created".into())
            }])
        );
    }
}
