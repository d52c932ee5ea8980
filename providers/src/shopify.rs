//! Shopify webhooks.
//!
//! `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body under the app's client
//! secret (UTF-8 bytes). The newer Events delivery drops the `X-` prefix, so every header is
//! accepted under both names. Nothing timestamped is signed, so there is no replay window here;
//! replays are absorbed by deduplication on `X-Shopify-Event-Id`, which is shared by every
//! webhook of one event. Older deliveries only carry `X-Shopify-Webhook-Id`, used as fallback.
//!
//! Shopify is a preset of the generic verifier ([`crate::catalogue`]): the second spelling of
//! each header is an `extra_signature_headers` / `*_fallbacks` entry. This module keeps
//! Shopify's names and its tests.

/// Header names, the classic `X-` form first.
pub const SIGNATURE_HEADERS: &[&str] = &["x-shopify-hmac-sha256", "shopify-hmac-sha256"];
pub const KEPT_HEADERS: &[&str] = &[
    "x-shopify-topic",
    "x-shopify-shop-domain",
    "x-shopify-api-version",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-triggered-at",
    "shopify-topic",
    "shopify-shop-domain",
    "shopify-api-version",
    "shopify-webhook-id",
    "shopify-event-id",
    "shopify-triggered-at",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;

    use crate::{EventMeta, ExtractError, Provider, VerifyError};

    fn shopify() -> Preset {
        Preset::new(
            crate::catalogue::preset("shopify").expect("row"),
            &Default::default(),
        )
        .expect("preset builds")
    }
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest, NON_UTF8_BODY};

    const SECRET: &str = "shop-secret";
    const BODY: &[u8] = br#"{"id":1}"#;
    const SIG: &str = "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0=";
    const NOW: u64 = 1_700_000_000;

    fn verify(req: &TestRequest, configured: &[&str]) -> Result<(), VerifyError> {
        shopify().verify(&req.as_request(), &secrets(configured), at(NOW))
    }

    fn request(sig: &str) -> TestRequest {
        TestRequest::post(BODY).header("X-Shopify-Hmac-Sha256", sig)
    }

    #[test]
    fn derived_vector_verifies_under_both_header_names() {
        assert_eq!(verify(&request(SIG), &[SECRET]), Ok(()));
        let unprefixed = TestRequest::post(BODY).header("Shopify-Hmac-Sha256", SIG);
        assert_eq!(verify(&unprefixed, &[SECRET]), Ok(()));
    }

    #[test]
    fn second_configured_secret_passes() {
        assert_eq!(verify(&request(SIG), &["old-secret", SECRET]), Ok(()));
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        assert_eq!(
            verify(&request(SIG.trim_end_matches('=')), &[SECRET]),
            Ok(())
        );
    }

    #[test]
    fn tampered_bodies_and_wrong_secrets_fail() {
        let flipped = request(SIG).body(flip_byte(BODY));
        assert_eq!(
            verify(&flipped, &[SECRET]),
            Err(VerifyError::SignatureMismatch)
        );
        let reserialised = request(SIG).body(pretty(BODY));
        assert_eq!(
            verify(&reserialised, &[SECRET]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&request(SIG), &["other"]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(verify(&request(SIG), &[]), Err(VerifyError::NoSecret));
    }

    #[test]
    fn missing_or_blank_header_fails() {
        let missing = TestRequest::post(BODY);
        assert_eq!(
            verify(&missing, &[SECRET]),
            Err(VerifyError::MissingHeader("x-shopify-hmac-sha256"))
        );
        assert_eq!(
            verify(&request(" "), &[SECRET]),
            Err(VerifyError::MissingHeader("x-shopify-hmac-sha256"))
        );
    }

    #[test]
    fn truncated_hex_and_garbage_signatures_fail() {
        for sig in [&SIG[..20], "plW8", "not base64!", &hex::encode(b"x")] {
            assert_eq!(
                verify(&request(sig), &[SECRET]),
                Err(VerifyError::SignatureMismatch),
                "{sig}"
            );
        }
    }

    #[test]
    fn sign_then_verify_round_trips_with_event_id_and_topic() {
        let p = shopify();
        let body = p.example_body("ev-123", "orders/create");
        let req = TestRequest::signed(&p, &body, "ev-123", SECRET, at(NOW));
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&[SECRET]), at(NOW)),
            Ok(())
        );
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "ev-123".into(),
                event_type: Some("orders/create".into())
            }])
        );
        let vector = TestRequest::signed(&p, BODY, "1", SECRET, at(NOW));
        assert_eq!(vector.value("x-shopify-hmac-sha256"), SIG);
    }

    #[test]
    fn non_utf8_bodies_verify_over_raw_bytes() {
        let p = shopify();
        let req = TestRequest::signed(&p, NON_UTF8_BODY, "e", SECRET, at(NOW));
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&[SECRET]), at(NOW)),
            Ok(())
        );
    }

    #[test]
    fn event_id_prefers_event_id_then_webhook_id_under_either_name() {
        let p = shopify();
        let both = TestRequest::post(BODY)
            .header("X-Shopify-Webhook-Id", "wh-1")
            .header("X-Shopify-Event-Id", "ev-1")
            .header("X-Shopify-Topic", "orders/paid");
        assert_eq!(
            p.events(&both.as_request()),
            Ok(vec![EventMeta {
                id: "ev-1".into(),
                event_type: Some("orders/paid".into())
            }])
        );
        let legacy = TestRequest::post(BODY).header("X-Shopify-Webhook-Id", "wh-1");
        assert_eq!(
            p.events(&legacy.as_request()).map(|e| e[0].id.clone()),
            Ok("wh-1".into())
        );
        let events_api = TestRequest::post(BODY)
            .header("Shopify-Event-Id", "ev-2")
            .header("Shopify-Topic", "products/update");
        assert_eq!(
            p.events(&events_api.as_request()),
            Ok(vec![EventMeta {
                id: "ev-2".into(),
                event_type: Some("products/update".into())
            }])
        );
    }

    #[test]
    fn missing_event_id_fails() {
        let req = TestRequest::post(BODY).header("X-Shopify-Event-Id", "");
        assert_eq!(
            shopify().events(&req.as_request()),
            Err(ExtractError::MissingEventId("x-shopify-event-id"))
        );
    }

    #[test]
    fn keeps_no_signature_header() {
        for name in SIGNATURE_HEADERS {
            assert!(!shopify().kept_headers().contains(name));
        }
    }
}
