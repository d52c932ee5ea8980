//! Segment's Webhooks destinations: one event per request (classic), or a JSON array of events
//! (Webhooks (Actions) with batching on).
//!
//! The signature is the preset's (`X-Signature` = hex HMAC-SHA1 of the raw body,
//! [`crate::catalogue`]); this module is its events ([`HOOKS`]): each event's `messageId`
//! (Segment's own dedupe key), one record per array item, type `type` (`track`, `identify`, …)
//! or the track call's `event`.

use serde_json::Value;

use crate::preset::Hooks;
use crate::signature;
use crate::{EventMeta, ExtractError, Request};

pub static HOOKS: Hooks = Hooks {
    events,
    id_note: "body `messageId`; a batch (JSON array) one event per item, by its `messageId`",
    challenge: None,
    handshake_body: None,
};

fn event(item: &Value) -> Result<EventMeta, ExtractError> {
    if !item.is_object() {
        return Err(ExtractError::MalformedBody(
            "a Segment event is a JSON object",
        ));
    }
    Ok(EventMeta {
        id: signature::json_path_text(item, "messageId")
            .filter(|id| !id.is_empty())
            .ok_or(ExtractError::MissingEventId("messageId"))?,
        event_type: signature::json_path_text(item, "type")
            .or_else(|| signature::json_path_text(item, "event")),
    })
}

pub fn events(req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
    let body: Value = serde_json::from_slice(req.body)
        .map_err(|_| ExtractError::MalformedBody("the body is not JSON"))?;
    match &body {
        Value::Array(items) => items.iter().map(event).collect(),
        single => Ok(vec![event(single)?]),
    }
}

#[cfg(test)]
mod tests {
    use crate::preset::Preset;
    use crate::test_support::{at, secrets, TestRequest};
    use crate::{Provider, VerifyError};

    fn segment() -> Preset {
        Preset::new(
            crate::catalogue::preset("segment").expect("row"),
            &Default::default(),
        )
        .expect("builds")
    }

    #[test]
    fn single_events_and_batches_yield_one_event_per_message() {
        let p = segment();
        let single =
            TestRequest::post(&br#"{"type":"track","event":"Signed Up","messageId":"m-1"}"#[..]);
        let ids: Vec<_> = p
            .events(&single.as_request())
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["m-1"]);
        let body = br#"[{"type":"track","messageId":"m-1"},{"type":"identify","messageId":"m-2"}]"#;
        let batch = TestRequest::signed(&p, body, "x", "seg-secret", at(1));
        assert_eq!(
            p.verify(&batch.as_request(), &secrets(&["seg-secret"]), at(1)),
            Ok(())
        );
        let events = p.events(&batch.as_request()).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            (events[1].id.as_str(), events[1].event_type.as_deref()),
            ("m-2", Some("identify"))
        );
        let mut tampered = batch.clone();
        tampered.body[10] ^= 1;
        assert_eq!(
            p.verify(&tampered.as_request(), &secrets(&["seg-secret"]), at(1)),
            Err(VerifyError::SignatureMismatch)
        );
        for bad in [
            &br#"[{"type":"track"}]"#[..],
            br#"[1]"#,
            br#"{"messageId":""}"#,
        ] {
            assert!(p.events(&TestRequest::post(bad).as_request()).is_err());
        }
    }
}
