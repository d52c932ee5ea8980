//! Typeform webhooks.
//!
//! `Typeform-Signature: sha256=<base64>` is the HMAC-SHA256 of the raw body under the webhook's
//! secret (UTF-8 bytes), base64- not hex-encoded. No timestamp is signed. The event id is the
//! body's `event_id`; the type is `event_type` (`form_response`).
//!
//! This is a preset of the generic verifier (see [`crate::preset`]).

use std::time::Duration;

use crate::generic::{GenericConfig, SignatureFormat};
use crate::preset::Preset;
use crate::signature::Encoding;
use crate::BuildError;

pub const SIGNATURE_HEADER: &str = "typeform-signature";
/// Throttling answers are retried for 10 h, other failures 5 times over about 3.5 h.
const RETRY_HORIZON: Duration = Duration::from_secs(24 * 3600);

fn config() -> GenericConfig {
    GenericConfig {
        signature_format: SignatureFormat::Prefix,
        signature_prefix: Some("sha256=".into()),
        id_json_path: Some("event_id".into()),
        type_json_path: Some("event_type".into()),
        ..GenericConfig::new(SIGNATURE_HEADER, Encoding::Base64)
    }
}

fn example_body(event_id: &str, event_type: &str) -> Vec<u8> {
    serde_json::json!({
        "event_id": event_id,
        "event_type": event_type,
        "form_response": {"form_id": "hookgate", "token": event_id, "answers": []},
    })
    .to_string()
    .into_bytes()
}

/// The `typeform` provider.
pub fn provider(tolerance: Duration) -> Result<Preset, BuildError> {
    Preset::new(
        "typeform",
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
    use crate::{EventMeta, ExtractError, Provider, VerifyError, DEFAULT_TOLERANCE};

    // reference/providers.md §5.2 (derived): body {"id":1}.
    const SECRET: &str = "typeform-secret";
    const BODY: &[u8] = br#"{"id":1}"#;
    const SIG: &str = "sha256=DJu+9U6vGF+zgVNK10vFVcPMW7BpkElSez9XTIYqLcA=";

    fn typeform() -> Preset {
        provider(DEFAULT_TOLERANCE).expect("preset builds")
    }

    fn verify(req: &TestRequest, configured: &[&str]) -> Result<(), VerifyError> {
        typeform().verify(&req.as_request(), &secrets(configured), at(1))
    }

    fn request(sig: &str) -> TestRequest {
        TestRequest::post(BODY).header("Typeform-Signature", sig)
    }

    #[test]
    fn derived_vector_verifies_and_rotation_passes() {
        assert_eq!(verify(&request(SIG), &[SECRET]), Ok(()));
        assert_eq!(verify(&request(SIG), &["old", SECRET]), Ok(()));
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
        assert_eq!(verify(&request("sha256="), &[SECRET]), mismatch);
        assert_eq!(verify(&request(&SIG[..30]), &[SECRET]), mismatch);
        // The same MAC written in hex is not Typeform's encoding.
        let hex = "sha256=0c9bbef54eaf185fb381534ad74bc555c3cc5bb0699049527b3f574c862a2dc0";
        assert_eq!(verify(&request(hex), &[SECRET]), mismatch);
        assert_eq!(
            verify(&TestRequest::post(BODY), &[SECRET]),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn events_and_sign_round_trip() {
        let p = typeform();
        assert_eq!(
            p.events(&request(SIG).as_request()),
            Err(ExtractError::MissingEventId("event_id"))
        );
        let body = p.example_body("01HF", "form_response");
        let req = TestRequest::signed(&p, &body, "x", SECRET, at(1));
        assert_eq!(verify(&req, &[SECRET]), Ok(()));
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "01HF".into(),
                event_type: Some("form_response".into())
            }])
        );
    }
}
