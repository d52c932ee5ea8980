//! Calendly webhooks.
//!
//! `Calendly-Webhook-Signature: t=<unix>,v1=<hex>` where `v1` is the HMAC-SHA256 of
//! `{t}.{raw body}` under the subscription's signing key (UTF-8 bytes); `t` is checked in both
//! directions against the source tolerance (Calendly's own example uses 3 minutes).
//! Calendly is a preset of the generic verifier ([`crate::catalogue`]); this module is its
//! event id ([`HOOKS`]).
//!
//! Calendly documents no delivery or event id. The id is `{event}:{payload.uri}`: the event
//! name (`invitee.created`, `invitee.canceled`, …) and the URI of the resource it is about,
//! both unchanged on retries, and unique per event because an invitee is created and canceled
//! once each (a reschedule creates a new invitee). A body without `payload.uri` falls back to
//! the SHA-256 of its `payload` in canonical JSON. The type is `event`.

use serde_json::Value;

use crate::preset::Hooks;
use crate::signature;
use crate::{EventMeta, ExtractError, Request};

pub const SIGNATURE_HEADER: &str = "calendly-webhook-signature";

/// Calendly's event ids, for its preset row.
pub static HOOKS: Hooks = Hooks {
    events,
    id_note: "`{event}:{payload.uri}` (Calendly documents none)",
    challenge: None,
    handshake_body: None,
};

pub fn events(req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
    let body = signature::json_object_body(req.body)?;
    let event =
        signature::json_path_text(&body, "event").ok_or(ExtractError::MissingEventId("event"))?;
    let subject = signature::json_path_text(&body, "payload.uri").unwrap_or_else(|| {
        signature::canonical_json_sha256(body.get("payload").unwrap_or(&Value::Null))
    });
    Ok(vec![EventMeta {
        id: format!("{event}:{subject}"),
        event_type: Some(event),
    }])
}

pub fn example_body(event_id: &str, event_type: &str) -> Vec<u8> {
    serde_json::json!({
        "event": event_type,
        "created_by": "https://api.calendly.com/users/HOOKGATE",
        "payload": {
            "uri": format!("https://api.calendly.com/scheduled_events/HOOKGATE/invitees/{event_id}"),
            "status": "active",
        },
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest};
    use crate::{Provider, VerifyError};

    // reference/providers.md §5.2 (derived): body {"id":1}.
    const KEY: &str = "calendly-signing-key";
    const T: u64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":1}"#;
    const V1: &str = "b15f428ac73a515ae072d3b743f76211ed3c4cc6c11a77223768add631bfd9bc";

    fn calendly() -> Preset {
        Preset::new(
            crate::catalogue::preset("calendly").expect("row"),
            &Default::default(),
        )
        .expect("preset builds")
    }

    fn request(header: &str) -> TestRequest {
        TestRequest::post(BODY).header("Calendly-Webhook-Signature", header)
    }

    fn verify(req: &TestRequest, configured: &[&str], now: u64) -> Result<(), VerifyError> {
        calendly().verify(&req.as_request(), &secrets(configured), at(now))
    }

    #[test]
    fn derived_vector_verifies_with_rotation_and_multiple_signatures() {
        let header = format!("t={T},v1={V1}");
        assert_eq!(verify(&request(&header), &[KEY], T), Ok(()));
        assert_eq!(verify(&request(&header), &["old", KEY], T), Ok(()));
        let multi = format!("t={T},v1={},v1={V1}", "0".repeat(64));
        assert_eq!(verify(&request(&multi), &[KEY], T), Ok(()));
    }

    #[test]
    fn negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        let header = format!("t={T},v1={V1}");
        assert_eq!(
            verify(&request(&header).body(flip_byte(BODY)), &[KEY], T),
            mismatch
        );
        assert_eq!(
            verify(&request(&header).body(pretty(BODY)), &[KEY], T),
            mismatch
        );
        assert_eq!(verify(&request(&header), &["wrong"], T), mismatch);
        assert_eq!(verify(&request(&format!("t={T},v1=")), &[KEY], T), mismatch);
        assert_eq!(
            verify(&request(&format!("t={T},v1={}", &V1[..10])), &[KEY], T),
            mismatch
        );
        assert_eq!(
            verify(&request(&format!("t={T},v0={V1}")), &[KEY], T),
            mismatch
        );
        assert_eq!(
            verify(&request(&format!("v1={V1}")), &[KEY], T),
            Err(VerifyError::MalformedHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(&TestRequest::post(BODY), &[KEY], T),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(&request(&header), &[KEY], T + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&request(&header), &[KEY], T - 301),
            Err(VerifyError::FutureTimestamp)
        );
    }

    #[test]
    fn event_id_is_event_and_payload_uri() {
        let p = calendly();
        let body = p.example_body("INV1", "invitee.created");
        let req = TestRequest::signed(&p, &body, "x", KEY, at(T));
        assert_eq!(verify(&req, &[KEY], T), Ok(()));
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "invitee.created:https://api.calendly.com/scheduled_events/HOOKGATE/invitees/INV1"
                    .into(),
                event_type: Some("invitee.created".into())
            }])
        );
        let canceled = String::from_utf8(body)
            .unwrap()
            .replace("invitee.created", "invitee.canceled");
        let other = p.events(&TestRequest::post(canceled).as_request()).unwrap();
        assert!(other[0].id.starts_with("invitee.canceled:"));
        assert_eq!(
            p.events(&request("x").as_request()),
            Err(ExtractError::MissingEventId("event"))
        );
    }
}
