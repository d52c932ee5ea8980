//! Asana webhooks: the signing secret is handed over in the handshake, not configured.
//!
//! While `POST /webhooks` is still in flight at Asana, Asana POSTs to the target with an
//! `X-Hook-Secret: S` header and no signature; the target must answer `200` echoing
//! `X-Hook-Secret: S`, and from then on every delivery carries `X-Hook-Signature` = hex
//! HMAC-SHA256 of the raw body under `S`. Verification, signing and the handshake answer run
//! through the generic verifier of Asana's preset row ([`crate::catalogue`]); the gateway keeps
//! `S` (`Handshake::SecretHandover`): this crate stores nothing.
//!
//! This module is Asana's events ([`HOOKS`]): a delivery is `{"events":[…]}`, one record per
//! item. Asana documents no event id, so an item's id is `{resource.gid}:{SHA-256 of the item in
//! canonical JSON}` (sorted keys, no whitespace; the hash alone without a resource): a retry repeats the same item, two different changes
//! differ in `created_at`, `action`, `resource` or `change`. The type is
//! `{resource.resource_type}.{action}` (`task.changed`). An idle webhook gets a signed
//! heartbeat `{"events":[]}`, which must be answered 2xx: it is answered 200 after
//! verification and stores nothing.

use serde_json::Value;

use crate::preset::{json_body, Hooks};
use crate::signature;
use crate::{ChallengeResponse, EventMeta, ExtractError, Request, Secrets};

/// The handshake header that carries the secret (request and answer).
pub const SECRET_HEADER: &str = "x-hook-secret";

/// Asana's event ids and heartbeat, for its preset row.
pub static HOOKS: Hooks = Hooks {
    events,
    id_note: "per `events[]` item: `{resource.gid}:{sha256(item, canonical JSON)}` (Asana documents none)",
    challenge: Some(heartbeat),
    handshake_body: None,
};

pub fn events(req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
    let body = signature::json_object_body(req.body)?;
    let Some(Value::Array(items)) = body.get("events") else {
        return Err(ExtractError::MissingEventId("events[]"));
    };
    items
        .iter()
        .map(|item| {
            if !item.is_object() {
                return Err(ExtractError::MalformedBody(
                    "an events[] item is not an object",
                ));
            }
            let kind = signature::json_path_text(item, "resource.resource_type");
            let action = signature::json_path_text(item, "action");
            let event_type = match (kind, action) {
                (Some(kind), Some(action)) => Some(format!("{kind}.{action}")),
                (None, action) => action,
                (kind, None) => kind,
            };
            let digest = signature::canonical_json_sha256(item);
            let id = match signature::json_path_text(item, "resource.gid") {
                Some(gid) => format!("{gid}:{digest}"),
                None => digest,
            };
            Ok(EventMeta { id, event_type })
        })
        .collect()
}

/// A verified `{"events":[]}` is Asana's heartbeat: 200, nothing stored.
fn heartbeat(req: &Request<'_>, _secrets: &Secrets) -> Option<ChallengeResponse> {
    let body: Value = serde_json::from_slice(req.body).ok()?;
    match body.get("events") {
        Some(Value::Array(items)) if items.is_empty() => Some(ChallengeResponse {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: Vec::new(),
            headers: Vec::new(),
            confirm_url: None,
        }),
        _ => None,
    }
}

pub fn example_body(event_id: &str, event_type: &str) -> Vec<u8> {
    let (kind, action) = event_type.split_once('.').unwrap_or(("task", event_type));
    json_body(serde_json::json!({
        "events": [{
            "user": {"gid": "1", "resource_type": "user"},
            "created_at": "2026-01-01T00:00:00.000Z",
            "action": action,
            "resource": {"gid": event_id, "resource_type": kind},
            "parent": null,
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest};
    use crate::{Handshake, Provider, VerifyError};

    // reference/providers-more.md §5.2 (derived): body {"id":"evt_1"}, secret as handed over.
    const SECRET: &str = "asana-hook-secret";
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;
    const SIG: &str = "8d281c227c700b59e29fd199511a02f8da589e66e4241d9f205ee748dcabc25f";

    fn asana() -> Preset {
        Preset::new(
            crate::catalogue::preset("asana").expect("row"),
            &Default::default(),
        )
        .expect("preset builds")
    }

    fn verify(req: &TestRequest, keys: &[&str]) -> Result<(), VerifyError> {
        asana().verify(&req.as_request(), &secrets(keys), at(1))
    }

    #[test]
    fn the_derived_vector_verifies_and_its_negatives_fail() {
        let req = TestRequest::post(BODY).header("X-Hook-Signature", SIG);
        assert_eq!(verify(&req, &[SECRET]), Ok(()));
        assert_eq!(verify(&req, &["old-secret", SECRET]), Ok(()), "rotation");
        assert_eq!(
            verify(&req, &["wrong"]),
            Err(VerifyError::SignatureMismatch)
        );
        assert!(verify(&req, &[]).is_err(), "no secret handed over yet");
        let tampered = req.clone().body(flip_byte(BODY));
        assert_eq!(
            verify(&tampered, &[SECRET]),
            Err(VerifyError::SignatureMismatch)
        );
        assert!(verify(&req.clone().body(pretty(BODY)), &[SECRET]).is_err());
        for bad in [&SIG[..63], "", "00"] {
            let r = req.clone().set("X-Hook-Signature", bad);
            assert!(verify(&r, &[SECRET]).is_err(), "{bad:?}");
        }
        assert!(verify(&req.without("X-Hook-Signature"), &[SECRET]).is_err());
    }

    #[test]
    fn the_handshake_echoes_the_secret_header_and_only_unsigned() {
        let p = asana();
        assert_eq!(
            p.handshake(),
            Handshake::SecretHandover {
                header: SECRET_HEADER
            }
        );
        assert!(p.handshake().methods().is_empty(), "a POST handshake");
        let req = TestRequest::post(Vec::new()).header("X-Hook-Secret", "s3cr3t-from-asana");
        let ok = p
            .answer_handshake(&req.as_request(), &secrets(&[]))
            .expect("a handshake")
            .expect("answered");
        assert_eq!((ok.status, ok.body.len()), (200, 0));
        assert_eq!(
            ok.headers,
            vec![(SECRET_HEADER, "s3cr3t-from-asana".to_string())]
        );
        // A delivery is never taken for a handshake, even with the header added.
        let delivery = req.clone().header("X-Hook-Signature", SIG);
        assert!(p
            .answer_handshake(&delivery.as_request(), &secrets(&[]))
            .is_none());
        for bad in ["", " "] {
            let r = TestRequest::post(Vec::new()).header("X-Hook-Secret", bad);
            assert!(matches!(
                p.answer_handshake(&r.as_request(), &secrets(&[])),
                Some(Err(_))
            ));
        }
        let long = "a".repeat(1025);
        let r = TestRequest::post(Vec::new()).header("X-Hook-Secret", &long);
        assert!(matches!(
            p.answer_handshake(&r.as_request(), &secrets(&[])),
            Some(Err(_))
        ));
        assert!(p
            .answer_handshake(&TestRequest::post(BODY).as_request(), &secrets(&[]))
            .is_none());
        let built = p
            .handshake_request("https://x/w", &crate::Secret::new("s3cr3t"), at(1))
            .unwrap()
            .expect("a handshake request");
        assert_eq!(built.method, "POST");
        assert_eq!(
            built.headers,
            vec![("X-Hook-Secret".to_string(), "s3cr3t".to_string())]
        );
    }

    #[test]
    fn a_batch_is_one_event_per_item_and_a_heartbeat_is_answered() {
        let p = asana();
        let item = |gid: &str, at: &str| {
            serde_json::json!({"user": {"gid": "1"}, "created_at": at, "action": "changed",
                "resource": {"gid": gid, "resource_type": "task"}, "change": {"field": "name"}})
        };
        let body =
            serde_json::json!({"events": [item("11", "t1"), item("12", "t1"), item("11", "t2")]})
                .to_string();
        let req = TestRequest::signed(&p, body.as_bytes(), "x", SECRET, at(1));
        assert_eq!(verify(&req, &[SECRET]), Ok(()));
        let events = p.events(&req.as_request()).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].event_type.as_deref(), Some("task.changed"));
        let mut ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 3, "distinct items, distinct ids");
        // A retry re-serialised with other key order is the same event.
        let reordered = TestRequest::post(
            br#"{"events":[{"change":{"field":"name"},"resource":{"resource_type":"task","gid":"11"},"action":"changed","created_at":"t1","user":{"gid":"1"}}]}"#.to_vec(),
        );
        assert_eq!(
            p.events(&reordered.as_request()).unwrap()[0].id,
            events[0].id
        );
        assert!(p
            .challenge(&req.as_request(), &secrets(&[SECRET]))
            .is_none());

        let heartbeat = TestRequest::signed(&p, br#"{"events":[]}"#, "x", SECRET, at(1));
        assert_eq!(verify(&heartbeat, &[SECRET]), Ok(()));
        let ok = p
            .challenge(&heartbeat.as_request(), &secrets(&[SECRET]))
            .expect("heartbeat answered");
        assert_eq!((ok.status, ok.body.len()), (200, 0));
        assert!(p
            .events(&TestRequest::post(&br#"{"events":[1]}"#[..]).as_request())
            .is_err());
    }
}
