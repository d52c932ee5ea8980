//! Slack (Events API, slash commands, interactivity).
//!
//! `X-Slack-Signature: v0=<hex>` is the HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw
//! body}` under the app's signing secret (UTF-8 bytes); the timestamp is checked in both
//! directions (Slack's SDKs use 5 minutes). Slack is a preset of the generic verifier
//! ([`crate::catalogue`]); this module is what is Slack's own, the handshake and the event id
//! ([`HOOKS`]):
//!
//! - **Handshake.** A verified `{"type":"url_verification","challenge":…}` is answered `200`
//!   with `{"challenge":…}` (Slack accepts the value as plain text, form or JSON) and is not
//!   recorded.
//! - **Event id.** Events API bodies (JSON): `event_id` (`Ev…`), the same on Slack's three
//!   retries. Slash commands and interactivity (form-encoded, never retried) have no event id;
//!   their `trigger_id` is unique per invocation, so it is used: the form's `trigger_id`, or the
//!   one inside an interactivity `payload=` JSON.
//! - **Type.** `event.type` (else the top-level `type`), the slash command's `command`, or the
//!   interactivity payload's `type`.

use std::time::SystemTime;

use serde_json::Value;

use crate::preset::Hooks;
use crate::signature;
use crate::{ChallengeResponse, EventMeta, ExtractError, Request, Secrets};

pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
pub const KEPT_HEADERS: &[&str] = &[
    TIMESTAMP_HEADER,
    "x-slack-retry-num",
    "x-slack-retry-reason",
];

/// Slack's event ids and `url_verification` handshake, for its preset row.
pub static HOOKS: Hooks = Hooks {
    events,
    id_note: "Events API: body `event_id`; slash commands / interactivity: `trigger_id`",
    challenge: Some(challenge),
    handshake_body: Some(handshake_body),
};

/// The value of `name` in a form-encoded body (first occurrence, non-empty).
fn form_value(body: &[u8], name: &str) -> Option<String> {
    signature::form_pairs(body)?
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

pub fn challenge(req: &Request<'_>, _secrets: &Secrets) -> Option<ChallengeResponse> {
    let body: Value = serde_json::from_slice(req.body).ok()?;
    if body.get("type")?.as_str()? != "url_verification" {
        return None;
    }
    let challenge = body.get("challenge")?.as_str()?;
    Some(ChallengeResponse {
        status: 200,
        content_type: "application/json",
        body: serde_json::json!({ "challenge": challenge })
            .to_string()
            .into_bytes(),
        headers: Vec::new(),
        confirm_url: None,
    })
}

/// The `url_verification` request Slack sends when a request URL is saved.
pub fn handshake_body(challenge: &str, _now: SystemTime) -> Vec<u8> {
    serde_json::json!({"token": "hookgate", "challenge": challenge, "type": "url_verification"})
        .to_string()
        .into_bytes()
}

pub fn events(req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
    if let Ok(body) = serde_json::from_slice::<Value>(req.body) {
        if !body.is_object() {
            return Err(ExtractError::MalformedBody("expected a JSON object"));
        }
        let id = signature::json_path_text(&body, "event_id")
            .ok_or(ExtractError::MissingEventId("event_id"))?;
        let event_type = signature::json_path_text(&body, "event.type")
            .or_else(|| signature::json_path_text(&body, "type"));
        return Ok(vec![EventMeta { id, event_type }]);
    }
    // Form bodies: a slash command, or interactivity with its JSON in `payload`.
    if let Some(payload) = form_value(req.body, "payload") {
        let payload: Value = serde_json::from_str(&payload)
            .map_err(|_| ExtractError::MalformedBody("interactivity payload is not JSON"))?;
        let id = signature::json_path_text(&payload, "trigger_id")
            .ok_or(ExtractError::MissingEventId("payload.trigger_id"))?;
        let event_type = signature::json_path_text(&payload, "type");
        return Ok(vec![EventMeta { id, event_type }]);
    }
    let id = form_value(req.body, "trigger_id")
        .ok_or(ExtractError::MissingEventId("event_id or trigger_id"))?;
    Ok(vec![EventMeta {
        id,
        event_type: form_value(req.body, "command"),
    }])
}

pub fn example_body(event_id: &str, event_type: &str) -> Vec<u8> {
    serde_json::json!({
        "token": "hookgate",
        "team_id": "T0HOOKGATE",
        "api_app_id": "A0HOOKGATE",
        "type": "event_callback",
        "event_id": event_id,
        "event": {"type": event_type},
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

    // Slack docs and slackapi/python-slack-sdk tests/slack_sdk/signature.
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: u64 = 1_531_420_618;
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn slack() -> Preset {
        Preset::new(
            crate::catalogue::preset("slack").expect("row"),
            &Default::default(),
        )
        .expect("preset builds")
    }

    fn request(sig: &str) -> TestRequest {
        TestRequest::post(BODY)
            .header("X-Slack-Request-Timestamp", &TS.to_string())
            .header("X-Slack-Signature", sig)
    }

    fn verify(req: &TestRequest, configured: &[&str], now: u64) -> Result<(), VerifyError> {
        slack().verify(&req.as_request(), &secrets(configured), at(now))
    }

    #[test]
    fn published_vector_verifies_at_its_time_only() {
        assert_eq!(verify(&request(SIG), &[SECRET], TS), Ok(()));
        assert_eq!(verify(&request(SIG), &["rotated-out", SECRET], TS), Ok(()));
        // With a real clock the same request is long expired.
        assert_eq!(
            verify(&request(SIG), &[SECRET], 1_700_000_000),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&request(SIG), &[SECRET], TS + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&request(SIG), &[SECRET], TS - 301),
            Err(VerifyError::FutureTimestamp)
        );
    }

    #[test]
    fn negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            verify(&request(SIG).body(flip_byte(BODY)), &[SECRET], TS),
            mismatch
        );
        assert_eq!(verify(&request(SIG), &["wrong"], TS), mismatch);
        assert_eq!(verify(&request("v0="), &[SECRET], TS), mismatch);
        assert_eq!(verify(&request(&SIG[..40]), &[SECRET], TS), mismatch);
        assert_eq!(
            verify(&request(&SIG.replace("v0=", "v1=")), &[SECRET], TS),
            Err(VerifyError::MalformedHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(
                &request(SIG).without("x-slack-request-timestamp"),
                &[SECRET],
                TS
            ),
            Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(&request(SIG).without("x-slack-signature"), &[SECRET], TS),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        // The timestamp is signed: moving it breaks the MAC before any age check.
        let moved = request(SIG).set("x-slack-request-timestamp", &(TS + 1).to_string());
        assert_eq!(verify(&moved, &[SECRET], TS), mismatch);
    }

    #[test]
    fn slash_command_id_is_the_trigger_id() {
        assert_eq!(
            slack().events(&request(SIG).as_request()),
            Ok(vec![EventMeta {
                id: "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c".into(),
                event_type: Some("/webhook-collect".into())
            }])
        );
    }

    #[test]
    fn interactivity_payload_id_is_its_trigger_id() {
        let body =
            b"payload=%7B%22type%22%3A%22block_actions%22%2C%22trigger_id%22%3A%2212.34.ab%22%7D";
        assert_eq!(
            slack().events(&TestRequest::post(&body[..]).as_request()),
            Ok(vec![EventMeta {
                id: "12.34.ab".into(),
                event_type: Some("block_actions".into())
            }])
        );
    }

    #[test]
    fn events_api_bodies_use_event_id() {
        let p = slack();
        let body = p.example_body("Ev123", "app_mention");
        let req = TestRequest::signed(&p, &body, "ignored", SECRET, at(TS));
        assert_eq!(verify(&req, &[SECRET], TS), Ok(()));
        assert_eq!(
            verify(&req.clone().body(pretty(&body)), &[SECRET], TS),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "Ev123".into(),
                event_type: Some("app_mention".into())
            }])
        );
        let no_id = TestRequest::post(&br#"{"type":"app_rate_limited"}"#[..]);
        assert_eq!(
            p.events(&no_id.as_request()),
            Err(ExtractError::MissingEventId("event_id"))
        );
    }

    #[test]
    fn url_verification_is_answered_with_the_challenge() {
        let p = slack();
        let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        let req = TestRequest::signed(&p, body, "x", SECRET, at(TS));
        assert_eq!(verify(&req, &[SECRET], TS), Ok(()));
        let answer = p
            .challenge(&req.as_request(), &secrets(&[SECRET]))
            .expect("a challenge");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.content_type, "application/json");
        assert_eq!(
            answer.body,
            br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#
        );
        // Ordinary events and slash commands are not challenges.
        assert_eq!(
            p.challenge(&request(SIG).as_request(), &secrets(&[SECRET])),
            None
        );
        let event = TestRequest::post(p.example_body("Ev1", "message"));
        assert_eq!(p.challenge(&event.as_request(), &secrets(&[SECRET])), None);
    }

    #[test]
    fn keeps_no_signature_header() {
        assert!(!slack().kept_headers().contains(&SIGNATURE_HEADER));
    }
}
