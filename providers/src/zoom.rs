//! Zoom webhooks.
//!
//! `x-zm-signature: v0=<hex>` is the HMAC-SHA256 of `v0:{x-zm-request-timestamp}:{raw body}`
//! under the app's webhook secret token (UTF-8 bytes); the timestamp is checked in both
//! directions. Zoom is a preset of the generic verifier
//! ([`crate::catalogue`]); this module is its handshake and event id ([`HOOKS`]).
//!
//! - **Handshake.** Zoom validates the endpoint (on setup and every 72 h) with a signed
//!   `{"event":"endpoint.url_validation","payload":{"plainToken":…}}`, answered `200` with
//!   `{"plainToken":…,"encryptedToken": hex HMAC-SHA256(secret token, plainToken)}`. The
//!   secret is the one that verified the request, so the answer stays right during rotation.
//! - **Event id.** Zoom documents none (`x-zm-trackingid` is per request). The id is
//!   `{event}:{event_ts}:{object}` where `object` is `payload.object.uuid`, else
//!   `payload.object.id`, else the SHA-256 of the `payload` in canonical JSON (sorted keys).
//!   All three are properties of the event, not of the delivery, so Zoom's retries of it
//!   (+5, +20, +60 min) dedupe, while two events never share `event_ts` and object.
//! - **Type.** `event`.

use std::time::SystemTime;

use serde_json::Value;

use crate::preset::Hooks;
use crate::signature::{self, Algorithm, Encoding};
use crate::{ChallengeResponse, EventMeta, ExtractError, Request, Secret, Secrets};

pub const SIGNATURE_HEADER: &str = "x-zm-signature";
pub const TIMESTAMP_HEADER: &str = "x-zm-request-timestamp";
const PREFIX: &str = "v0=";
const VALIDATION_EVENT: &str = "endpoint.url_validation";
pub const KEPT_HEADERS: &[&str] = &[TIMESTAMP_HEADER, "x-zm-trackingid"];

/// Zoom's event ids and `endpoint.url_validation` handshake, for its preset row.
pub static HOOKS: Hooks = Hooks {
    events,
    id_note:
        "`{event}:{event_ts}:{payload.object.uuid | .id | sha256(payload)}` (Zoom documents none)",
    challenge: Some(challenge),
    handshake_body: Some(handshake_body),
};

/// The configured secret whose MAC the request carries (the request is already verified).
fn verifying_secret<'s>(req: &Request<'_>, secrets: &'s Secrets) -> Option<&'s Secret> {
    let hex = signature::strip_prefix(req.header(SIGNATURE_HEADER)?, PREFIX)?;
    let presented = Encoding::Hex.decode(hex)?;
    let timestamp = req.header(TIMESTAMP_HEADER)?.trim();
    secrets.iter().find(|secret| {
        let expected = Algorithm::Sha256.mac(
            secret.expose(),
            &[b"v0:", timestamp.as_bytes(), b":", req.body],
        );
        signature::constant_time_eq(&expected, &presented)
    })
}

/// `hex(HMAC-SHA256(secret, plain_token))`, Zoom's `encryptedToken`.
pub fn encrypted_token(secret: &[u8], plain_token: &str) -> String {
    Encoding::Hex.encode(&Algorithm::Sha256.mac(secret, &[plain_token.as_bytes()]))
}

pub fn challenge(req: &Request<'_>, secrets: &Secrets) -> Option<ChallengeResponse> {
    let body: Value = serde_json::from_slice(req.body).ok()?;
    if body.get("event")?.as_str()? != VALIDATION_EVENT {
        return None;
    }
    let plain_token = signature::json_path(&body, "payload.plainToken")?.as_str()?;
    let secret = verifying_secret(req, secrets)?;
    Some(ChallengeResponse {
        status: 200,
        content_type: "application/json",
        body: serde_json::json!({
            "plainToken": plain_token,
            "encryptedToken": encrypted_token(secret.expose(), plain_token),
        })
        .to_string()
        .into_bytes(),
        headers: Vec::new(),
        confirm_url: None,
    })
}

/// The `endpoint.url_validation` request Zoom sends on setup and every 72 h.
pub fn handshake_body(challenge: &str, now: SystemTime) -> Vec<u8> {
    serde_json::json!({
        "event": VALIDATION_EVENT,
        "payload": {"plainToken": challenge},
        "event_ts": signature::unix_millis(now),
    })
    .to_string()
    .into_bytes()
}

pub fn events(req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
    let body = signature::json_object_body(req.body)?;
    let event =
        signature::json_path_text(&body, "event").ok_or(ExtractError::MissingEventId("event"))?;
    let event_ts = signature::json_path_text(&body, "event_ts").unwrap_or_default();
    let object = signature::json_path_text(&body, "payload.object.uuid")
        .or_else(|| signature::json_path_text(&body, "payload.object.id"))
        .unwrap_or_else(|| {
            signature::canonical_json_sha256(body.get("payload").unwrap_or(&Value::Null))
        });
    Ok(vec![EventMeta {
        id: format!("{event}:{event_ts}:{object}"),
        event_type: Some(event),
    }])
}

pub fn example_body(event_id: &str, event_type: &str) -> Vec<u8> {
    serde_json::json!({
        "event": event_type,
        "event_ts": 0,
        "payload": {"account_id": "hookgate", "object": {"id": event_id}},
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
    const SECRET: &str = "zoom-secret";
    const TS: u64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":1}"#;
    const SIG: &str = "v0=f7a5e93e8e2abbfb1a7ae0daba120e585bb96931fba79e0d0284fd3e802831d7";

    fn zoom() -> Preset {
        Preset::new(
            crate::catalogue::preset("zoom").expect("row"),
            &Default::default(),
        )
        .expect("preset builds")
    }

    fn request(body: &[u8], sig: &str) -> TestRequest {
        TestRequest::post(body)
            .header("x-zm-request-timestamp", &TS.to_string())
            .header("x-zm-signature", sig)
    }

    fn verify(req: &TestRequest, configured: &[&str], now: u64) -> Result<(), VerifyError> {
        zoom().verify(&req.as_request(), &secrets(configured), at(now))
    }

    #[test]
    fn derived_vector_verifies_and_rotation_passes() {
        assert_eq!(verify(&request(BODY, SIG), &[SECRET], TS), Ok(()));
        assert_eq!(verify(&request(BODY, SIG), &["old", SECRET], TS), Ok(()));
    }

    #[test]
    fn negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        let req = request(BODY, SIG);
        assert_eq!(
            verify(&req.clone().body(flip_byte(BODY)), &[SECRET], TS),
            mismatch
        );
        assert_eq!(
            verify(&req.clone().body(pretty(BODY)), &[SECRET], TS),
            mismatch
        );
        assert_eq!(verify(&req, &["wrong"], TS), mismatch);
        assert_eq!(verify(&request(BODY, "v0="), &[SECRET], TS), mismatch);
        assert_eq!(verify(&request(BODY, &SIG[..50]), &[SECRET], TS), mismatch);
        assert_eq!(
            verify(&req.clone().without("x-zm-signature"), &[SECRET], TS),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(
                &req.clone().without("x-zm-request-timestamp"),
                &[SECRET],
                TS
            ),
            Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
        );
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
    fn url_validation_answers_with_the_derived_encrypted_token() {
        let p = zoom();
        let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1700000000000}"#;
        let req = TestRequest::signed(&p, body, "x", SECRET, at(TS));
        assert_eq!(verify(&req, &["other", SECRET], TS), Ok(()));
        // Signed with the second configured secret: the answer must use that one.
        let answer = p
            .challenge(&req.as_request(), &secrets(&["other", SECRET]))
            .expect("a challenge");
        assert_eq!(answer.status, 200);
        let doc: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(doc["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
        assert_eq!(
            doc["encryptedToken"],
            "b17f0320a1322a509340a1a835b3d9edbc491f0b0790ed2d20d0604d39dfe922"
        );
        assert_eq!(
            p.challenge(&request(BODY, SIG).as_request(), &secrets(&[SECRET])),
            None
        );
    }

    #[test]
    fn event_ids_come_from_event_time_and_object() {
        let p = zoom();
        let meeting = br#"{"event":"meeting.started","event_ts":1626230691572,"payload":{"account_id":"A","object":{"id":"123","uuid":"4444AAA=="}}}"#;
        assert_eq!(
            p.events(&TestRequest::post(&meeting[..]).as_request()),
            Ok(vec![EventMeta {
                id: "meeting.started:1626230691572:4444AAA==".into(),
                event_type: Some("meeting.started".into())
            }])
        );
        let by_id = br#"{"event":"user.created","event_ts":5,"payload":{"object":{"id":"u1"}}}"#;
        assert_eq!(
            p.events(&TestRequest::post(&by_id[..]).as_request())
                .unwrap()[0]
                .id,
            "user.created:5:u1"
        );
        // Without an object id: a hash of the payload, independent of key order and spacing.
        let a = br#"{"event":"x.y","event_ts":7,"payload":{"a":1,"b":[true,null]}}"#;
        let b =
            br#"{ "payload" : { "b" : [ true , null ], "a" : 1 }, "event_ts":7, "event":"x.y"}"#;
        let c = br#"{"event":"x.y","event_ts":7,"payload":{"a":2,"b":[true,null]}}"#;
        let id = |body: &[u8]| {
            p.events(&TestRequest::post(body).as_request()).unwrap()[0]
                .id
                .clone()
        };
        assert_eq!(id(a), id(b));
        assert_ne!(id(a), id(c));
        assert!(id(a).starts_with("x.y:7:"));
        assert_eq!(
            p.events(&TestRequest::post(&b"{}"[..]).as_request()),
            Err(ExtractError::MissingEventId("event"))
        );
    }

    #[test]
    fn sign_round_trips() {
        let p = zoom();
        let body = p.example_body("m1", "meeting.ended");
        let req = TestRequest::signed(&p, &body, "x", SECRET, at(TS));
        assert_eq!(verify(&req, &[SECRET], TS), Ok(()));
        assert_eq!(
            p.events(&req.as_request()).unwrap()[0].id,
            "meeting.ended:0:m1"
        );
    }
}
