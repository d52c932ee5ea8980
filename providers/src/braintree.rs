//! Braintree webhooks.
//!
//! A form POST with two fields: `bt_payload`, base64 of an XML `<notification>`, and
//! `bt_signature`, `public_key|hex` pairs joined by `&` (one per key Braintree signs with). Each
//! hex is HMAC-SHA1 of `bt_payload` exactly as received (or with a trailing newline, which the
//! official SDKs also accept) under the key SHA1(private key): not the private key itself. The
//! pair whose public key is the configured one is checked; a payload with characters outside
//! base64 and newlines is refused before anything else, as the SDKs do.
//!
//! A source's secret is `PUBLIC_KEY:PRIVATE_KEY` (the API key pair of the merchant and
//! environment). Braintree documents no event id: the id is `{kind}:{timestamp}:{subject id}`
//! read from the notification (the first `<id>` in it), or `{kind}:{timestamp}:sha256(xml)`
//! when the subject has no id. No timestamp is signed. The legacy `bt_challenge` GET handshake
//! of old destinations is not supported.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::signature::{self, Algorithm, Encoding};
use crate::{
    BuildError, EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError,
    SignRequest, SignedRequest, VerifyError,
};

const SIGNATURE_FIELD: &str = "bt_signature";
const PAYLOAD_FIELD: &str = "bt_payload";
/// Failed notifications are retried for up to 24 h (recall); a day of margin.
const RETRY_HORIZON: Duration = Duration::from_secs(2 * 24 * 3600);

#[derive(Debug, Clone, Default)]
pub struct Braintree;

impl Braintree {
    pub fn new() -> Self {
        Braintree
    }
}

/// `(public key, MAC key)` of a configured `PUBLIC:PRIVATE` secret.
fn key_pair(secret: &Secret) -> Option<(&str, [u8; 20])> {
    let text = std::str::from_utf8(secret.expose()).ok()?.trim();
    let (public, private) = text.split_once(':')?;
    if public.is_empty() || private.is_empty() {
        return None;
    }
    Some((public, Sha1::digest(private.as_bytes()).into()))
}

fn fields(body: &[u8]) -> Option<(String, String)> {
    let pairs = signature::form_pairs(body)?;
    let find = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    Some((find(SIGNATURE_FIELD)?, find(PAYLOAD_FIELD)?))
}

fn payload_is_base64(payload: &str) -> bool {
    payload
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\n'))
}

/// The text of the first `<tag …>text</tag>` in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}"))?;
    let after_open = start + xml[start..].find('>')? + 1;
    let end = after_open + xml[after_open..].find(&format!("</{tag}>"))?;
    Some(xml[after_open..end].trim()).filter(|text| !text.is_empty())
}

impl Provider for Braintree {
    fn credential_headers(&self) -> &'static [&'static str] {
        // The signature is the `bt_signature` form field of the body.
        &[]
    }

    fn name(&self) -> &'static str {
        "braintree"
    }

    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        _now: SystemTime,
    ) -> Result<(), VerifyError> {
        if secrets.is_empty() {
            return Err(VerifyError::NoSecret);
        }
        let (signatures, payload) =
            fields(req.body).ok_or(VerifyError::MissingHeader(SIGNATURE_FIELD))?;
        if signatures.trim().is_empty() {
            return Err(VerifyError::MissingHeader(SIGNATURE_FIELD));
        }
        if !payload_is_base64(&payload) {
            return Err(VerifyError::MalformedHeader(PAYLOAD_FIELD));
        }
        let mut matched = false;
        for (public, key) in secrets.iter().filter_map(key_pair) {
            let presented: Vec<&str> = signatures
                .split('&')
                .filter_map(|pair| pair.split_once('|'))
                .filter(|(pk, _)| *pk == public)
                .map(|(_, hex)| hex)
                .collect();
            let presented = signature::decode_all(Encoding::Hex, presented);
            matched |= signature::any_signature_matches(
                Algorithm::Sha1,
                [key],
                &[payload.as_bytes()],
                &presented,
            ) || signature::any_signature_matches(
                Algorithm::Sha1,
                [key],
                &[payload.as_bytes(), b"\n"],
                &presented,
            );
        }
        if matched {
            Ok(())
        } else {
            Err(VerifyError::SignatureMismatch)
        }
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let (_, payload) = fields(req.body).ok_or(ExtractError::MalformedBody(
            "expected bt_signature and bt_payload form fields",
        ))?;
        let compact: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
        let xml = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(ExtractError::MalformedBody(
                "bt_payload is not base64 UTF-8",
            ))?;
        let kind = element(&xml, "kind").ok_or(ExtractError::MissingEventId("kind"))?;
        let timestamp =
            element(&xml, "timestamp").ok_or(ExtractError::MissingEventId("timestamp"))?;
        let subject = element(&xml, "id")
            .map(str::to_string)
            .unwrap_or_else(|| signature::sha256_hex(xml.as_bytes()));
        Ok(vec![EventMeta {
            id: format!("{kind}:{timestamp}:{subject}"),
            event_type: Some(kind.to_string()),
        }])
    }

    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        let xml = format!(
            "<notification><kind>{event_type}</kind><timestamp type=\"datetime\">2026-01-01T00:00:00Z</timestamp><subject><subscription><id>{event_id}</id></subscription></subject></notification>"
        );
        let payload = base64::engine::general_purpose::STANDARD.encode(xml);
        signature::form_encode([(PAYLOAD_FIELD, payload.as_str())]).into_bytes()
    }

    fn sign_request(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        _now: SystemTime,
    ) -> Result<SignedRequest, SignError> {
        let (public, key) =
            key_pair(secret).ok_or(SignError::BadSecret("expected PUBLIC_KEY:PRIVATE_KEY"))?;
        let payload = signature::form_pairs(req.body)
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == PAYLOAD_FIELD))
            .map(|(_, v)| v)
            .ok_or(SignError::Unsupported(
                "the body must be a form with bt_payload (as example_body writes it)",
            ))?;
        let mac = Encoding::Hex.encode(&Algorithm::Sha1.mac(&key, &[payload.as_bytes()]));
        let signature = format!("{public}|{mac}");
        let body = signature::form_encode([
            (SIGNATURE_FIELD, signature.as_str()),
            (PAYLOAD_FIELD, payload.as_str()),
        ]);
        Ok(SignedRequest {
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: Some(body.into_bytes()),
            query: None,
        })
    }

    fn sign(
        &self,
        _req: &SignRequest<'_>,
        _secret: &Secret,
        _now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        Err(SignError::Unsupported(
            "Braintree signs inside the form body: use sign_request",
        ))
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        key_pair(secret).map(drop).ok_or_else(|| {
            BuildError::Invalid(
                "a braintree secret is PUBLIC_KEY:PRIVATE_KEY (the API key pair)".into(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, secrets, TestRequest};

    // reference/providers-more.md §5.2, cross-checked there with braintree 4.48.0.
    const SECRET: &str = "pub_key_1:priv_key_1";
    const PAYLOAD: &str = "PG5vdGlmaWNhdGlvbj48a2luZD5jaGVjazwva2luZD48dGltZXN0YW1wIHR5cGU9ImRhdGV0aW1lIj4yMDI2LTAxLTAxVDAwOjAwOjAwWjwvdGltZXN0YW1wPjxzdWJqZWN0PjxjaGVjayB0eXBlPSJib29sZWFuIj50cnVlPC9jaGVjaz48L3N1YmplY3Q+PC9ub3RpZmljYXRpb24+";
    const SIG: &str = "pub_key_1|ed1f9a31880932698273a277524bd67f423b0066";

    fn form(signature: &str, payload: &str) -> TestRequest {
        let body = signature::form_encode([(SIGNATURE_FIELD, signature), (PAYLOAD_FIELD, payload)]);
        TestRequest::post(body.into_bytes())
    }

    fn verify(req: &TestRequest, configured: &[&str]) -> Result<(), VerifyError> {
        Braintree::new().verify(&req.as_request(), &secrets(configured), at(1))
    }

    #[test]
    fn the_cross_checked_vector_verifies_with_rotation_and_extra_pairs() {
        assert_eq!(verify(&form(SIG, PAYLOAD), &[SECRET]), Ok(()));
        assert_eq!(verify(&form(SIG, PAYLOAD), &["other:key", SECRET]), Ok(()));
        let several = format!("pub_other|00ff&{SIG}");
        assert_eq!(verify(&form(&several, PAYLOAD), &[SECRET]), Ok(()));
    }

    #[test]
    fn negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        let mut tampered = PAYLOAD.to_string();
        tampered.replace_range(10..11, "Z");
        assert_eq!(verify(&form(SIG, &tampered), &[SECRET]), mismatch);
        assert_eq!(verify(&form(SIG, PAYLOAD), &["pub_key_1:wrong"]), mismatch);
        assert_eq!(
            verify(&form(SIG, PAYLOAD), &["pub_key_2:priv_key_1"]),
            mismatch
        );
        assert_eq!(
            verify(&form(&SIG[..SIG.len() - 2], PAYLOAD), &[SECRET]),
            mismatch
        );
        assert_eq!(
            verify(&form("", PAYLOAD), &[SECRET]),
            Err(VerifyError::MissingHeader(SIGNATURE_FIELD))
        );
        assert_eq!(
            verify(&form(SIG, "PG5v<script>"), &[SECRET]),
            Err(VerifyError::MalformedHeader(PAYLOAD_FIELD))
        );
        assert_eq!(verify(&form(SIG, PAYLOAD), &[]), Err(VerifyError::NoSecret));
        assert!(Braintree::new()
            .check_secret(&Secret::new("no-colon"))
            .is_err());
    }

    #[test]
    fn events_read_kind_timestamp_and_subject_and_sign_round_trips() {
        let p = Braintree::new();
        let events = p.events(&form(SIG, PAYLOAD).as_request()).expect("events");
        assert_eq!(events[0].event_type.as_deref(), Some("check"));
        assert!(
            events[0].id.starts_with("check:2026-01-01T00:00:00Z:"),
            "{events:?}"
        );
        let body = p.example_body("sub_1", "subscription_canceled");
        let signed = p
            .sign_request(
                &SignRequest {
                    method: "POST",
                    url: "https://x/",
                    body: &body,
                    event_id: "sub_1",
                },
                &Secret::new(SECRET),
                at(1),
            )
            .expect("signs");
        let req = TestRequest::post(signed.body.expect("body"));
        assert_eq!(verify(&req, &[SECRET]), Ok(()));
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "subscription_canceled:2026-01-01T00:00:00Z:sub_1".into(),
                event_type: Some("subscription_canceled".into())
            }])
        );
    }
}
