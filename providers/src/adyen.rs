//! Adyen webhooks: payment notifications (HMAC per item) and platform webhooks (header).
//!
//! The HMAC key is configured as Adyen shows it: hex (64 hex digits); it is hex-decoded.
//!
//! - **Payment notifications** (`{"live":…,"notificationItems":[{"NotificationRequestItem":
//!   {…}}]}`): every item carries `additionalData.hmacSignature`, the base64 HMAC-SHA256 of
//!   `pspReference:originalReference:merchantAccountCode:merchantReference:amount.value:
//!   amount.currency:eventCode:success` (missing values empty, `:` inside values not escaped).
//!   **Every** item must verify under some configured key, or the whole request is refused:
//!   one bad item means the batch did not come from Adyen as a whole. Only those eight fields
//!   are signed; the rest of an item (the rest of `additionalData`, `reason`, …) is not
//!   covered by Adyen's scheme and is stored as received. The body is parsed before it is
//!   authenticated (bounded by the gateway's body limit and serde_json's depth limit).
//!   Each item is one event, id `{pspReference}:{eventCode}:{success}` (Adyen's own
//!   deduplication key: a refund has its own `pspReference`, and an event reported first as
//!   `success=false` and later `true` is two events), type `eventCode`.
//! - **Platform, Management and Balance Platform webhooks** carry an `HmacSignature` header:
//!   the base64 HMAC-SHA256 of the raw body (a preset of the generic verifier). These bodies
//!   have no event id, so the id is `{type}:{SHA-256 of the body in canonical JSON}`; Adyen
//!   resends the same notification on retry.
//!
//! A request with an `HmacSignature` header is verified as a platform webhook, any other as a
//! payment notification. Neither is timestamped. Adyen retries for up to 30 days, so a source
//! needs a dedupe window of at least 31 days (the gateway warns otherwise).

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::generic::{Generic, GenericConfig, KeyEncoding};
use crate::signature::{self, Algorithm, Encoding};
use crate::{
    BuildError, EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError,
    SignRequest, SignedRequest, VerifyError,
};

pub const PLATFORM_SIGNATURE_HEADER: &str = "hmacsignature";
/// What [`VerifyError`] names when an item carries no signature.
pub const ITEM_SIGNATURE: &str = "additionalData.hmacSignature (in each item)";
/// Adyen retries for up to 30 days; one more day.
const RETRY_HORIZON: Duration = Duration::from_secs(31 * 24 * 3600);
const BAD_KEY: &str = "an Adyen HMAC key must be hex (as the Customer Area shows it)";
/// The signed item fields, in order (`amount.*` are dotted paths).
const SIGNED_FIELDS: [&str; 8] = [
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
    "amount.value",
    "amount.currency",
    "eventCode",
    "success",
];

#[derive(Debug, Clone)]
pub struct Adyen {
    platform: Generic,
}

impl Adyen {
    pub fn new(tolerance: Duration) -> Result<Self, BuildError> {
        let config = GenericConfig {
            key_encoding: KeyEncoding::Hex,
            // Events are extracted here, not by the generic verifier.
            id_from_body_sha256: true,
            ..GenericConfig::new(PLATFORM_SIGNATURE_HEADER, Encoding::Base64)
        };
        Ok(Adyen {
            platform: Generic::new(config, tolerance)?,
        })
    }
}

fn hex_key(secret: &Secret) -> Option<Vec<u8>> {
    std::str::from_utf8(secret.expose())
        .ok()
        .and_then(|text| hex::decode(text.trim()).ok())
        .filter(|key| !key.is_empty())
}

/// A signed field's text: strings as they are, numbers and booleans written out, anything
/// else (absent, null) empty.
fn field_text(item: &Value, path: &str) -> String {
    match signature::json_path(item, path) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(flag)) => flag.to_string(),
        _ => String::new(),
    }
}

/// The string an item's `hmacSignature` signs.
pub fn signing_string(item: &Value) -> String {
    SIGNED_FIELDS
        .iter()
        .map(|path| field_text(item, path))
        .collect::<Vec<_>>()
        .join(":")
}

/// The `NotificationRequestItem` objects of a payment notification body; `None` when the body
/// is not one (no non-empty `notificationItems` array of such objects).
fn items(body: &Value) -> Option<Vec<&Value>> {
    let list = body.get("notificationItems")?.as_array()?;
    if list.is_empty() {
        return None;
    }
    list.iter()
        .map(|entry| {
            entry
                .get("NotificationRequestItem")
                .filter(|item| item.is_object())
        })
        .collect()
}

fn is_platform(req: &Request<'_>) -> bool {
    req.headers.contains_key(PLATFORM_SIGNATURE_HEADER)
}

impl Provider for Adyen {
    fn credential_headers(&self) -> &'static [&'static str] {
        &[PLATFORM_SIGNATURE_HEADER]
    }

    fn name(&self) -> &'static str {
        "adyen"
    }

    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        if secrets.is_empty() {
            return Err(VerifyError::NoSecret);
        }
        if is_platform(req) {
            return self.platform.verify(req, secrets, now);
        }
        let body: Value = serde_json::from_slice(req.body)
            .map_err(|_| VerifyError::MissingHeader(ITEM_SIGNATURE))?;
        let items = items(&body).ok_or(VerifyError::MissingHeader(ITEM_SIGNATURE))?;
        let keys: Vec<Vec<u8>> = secrets.iter().filter_map(hex_key).collect();
        // Every item is checked (no early exit), and every one must pass.
        let mut all_valid = true;
        for item in items {
            let presented = signature::json_path(item, "additionalData.hmacSignature")
                .and_then(Value::as_str)
                .filter(|sig| !sig.trim().is_empty())
                .ok_or(VerifyError::MissingHeader(ITEM_SIGNATURE))?;
            let presented = signature::decode_all(Encoding::Base64, [presented]);
            let signed = signing_string(item);
            all_valid &= signature::any_signature_matches(
                Algorithm::Sha256,
                &keys,
                &[signed.as_bytes()],
                &presented,
            );
        }
        if all_valid {
            Ok(())
        } else {
            Err(VerifyError::SignatureMismatch)
        }
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let body = signature::json_object_body(req.body)?;
        if is_platform(req) {
            let kind = signature::json_path_text(&body, "type")
                .ok_or(ExtractError::MissingEventId("type"))?;
            return Ok(vec![EventMeta {
                id: format!("{kind}:{}", signature::canonical_json_sha256(&body)),
                event_type: Some(kind),
            }]);
        }
        let items = items(&body).ok_or(ExtractError::MalformedBody(
            "expected notificationItems[].NotificationRequestItem",
        ))?;
        items
            .into_iter()
            .map(|item| {
                let psp = signature::json_path_text(item, "pspReference")
                    .ok_or(ExtractError::MissingEventId("pspReference"))?;
                let code = signature::json_path_text(item, "eventCode")
                    .ok_or(ExtractError::MissingEventId("eventCode"))?;
                let success = field_text(item, "success");
                Ok(EventMeta {
                    id: format!("{psp}:{code}:{success}"),
                    event_type: Some(code),
                })
            })
            .collect()
    }

    /// A payment notification with one item: `pspReference` is the event id, `eventCode` the
    /// type, and the signature is left empty ([`Provider::sign_request`] computes it).
    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        serde_json::json!({
            "live": "false",
            "notificationItems": [{"NotificationRequestItem": {
                "pspReference": event_id,
                "merchantAccountCode": "HookgateTest",
                "merchantReference": "hookgate-test",
                "amount": {"value": 1130, "currency": "EUR"},
                "eventCode": event_type,
                "success": "true",
                "eventDate": "2024-01-01T00:00:00+01:00",
                "additionalData": {"hmacSignature": ""},
            }}],
        })
        .to_string()
        .into_bytes()
    }

    /// Platform bodies (no `notificationItems`) get the `HmacSignature` header; payment
    /// notifications are signed inside the body, which only [`Provider::sign_request`] can do.
    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let is_payment = serde_json::from_slice::<Value>(req.body)
            .ok()
            .is_some_and(|body| body.get("notificationItems").is_some());
        if is_payment {
            return Err(SignError::Unsupported(
                "Adyen payment notifications are signed per item inside the body; only sign_request can write the signatures",
            ));
        }
        let mut headers = self.platform.sign(req, secret, now)?;
        for (name, _) in &mut headers {
            if name == PLATFORM_SIGNATURE_HEADER {
                *name = "HmacSignature".into();
            }
        }
        Ok(headers)
    }

    /// Payment notifications: every item's `additionalData.hmacSignature` is computed and
    /// written into the body. Other bodies: as [`Provider::sign`].
    fn sign_request(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<SignedRequest, SignError> {
        let mut body: Value = match serde_json::from_slice(req.body) {
            Ok(body @ Value::Object(_)) if body.get("notificationItems").is_some() => body,
            _ => return self.sign(req, secret, now).map(SignedRequest::headers),
        };
        let key = hex_key(secret).ok_or(SignError::BadSecret(BAD_KEY))?;
        let Some(list) = body
            .get_mut("notificationItems")
            .and_then(Value::as_array_mut)
        else {
            return Err(SignError::Unsupported("notificationItems must be an array"));
        };
        for entry in list {
            let Some(item) = entry
                .get_mut("NotificationRequestItem")
                .and_then(Value::as_object_mut)
            else {
                return Err(SignError::Unsupported(
                    "each notificationItems entry must hold a NotificationRequestItem object",
                ));
            };
            let mac = Algorithm::Sha256.mac(
                &key,
                &[signing_string(&Value::Object(item.clone())).as_bytes()],
            );
            let additional = item
                .entry("additionalData")
                .or_insert_with(|| Value::Object(Default::default()));
            if !additional.is_object() {
                *additional = Value::Object(Default::default());
            }
            if let Value::Object(additional) = additional {
                additional.insert(
                    "hmacSignature".into(),
                    Value::from(Encoding::Base64.encode(&mac)),
                );
            }
        }
        Ok(SignedRequest {
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(body.to_string().into_bytes()),
            query: None,
        })
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        hex_key(secret)
            .map(drop)
            .ok_or_else(|| BuildError::Invalid(BAD_KEY.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest, TEST_URL};
    use crate::DEFAULT_TOLERANCE;
    use serde_json::json;

    // Adyen docs example and Adyen/adyen-php-api-library tests/Unit/Util/HmacSignatureTest.php.
    const DOCS_KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
    const PHP_KEY: &str = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00";

    fn item(psp: &str, reference: &str, value: u64, code: &str, sig: &str) -> Value {
        json!({
            "pspReference": psp,
            "merchantAccountCode": "TestMerchant",
            "merchantReference": reference,
            "amount": {"value": value, "currency": "EUR"},
            "eventCode": code,
            "success": "true",
            "eventDate": "2019-05-06T17:15:34.121+02:00",
            "reason": "not signed",
            "additionalData": {"hmacSignature": sig},
        })
    }

    fn notification(items: &[Value]) -> Vec<u8> {
        let wrapped: Vec<Value> = items
            .iter()
            .map(|item| json!({ "NotificationRequestItem": item }))
            .collect();
        json!({"live": "false", "notificationItems": wrapped})
            .to_string()
            .into_bytes()
    }

    fn authorisation(sig: &str) -> Value {
        item(
            "7914073381342284",
            "TestPayment-1407325143704",
            1130,
            "AUTHORISATION",
            sig,
        )
    }

    fn verify(body: &[u8], configured: &[&str]) -> Result<(), VerifyError> {
        adyen().verify(
            &TestRequest::post(body).as_request(),
            &secrets(configured),
            at(1),
        )
    }

    fn adyen() -> Adyen {
        Adyen::new(DEFAULT_TOLERANCE).expect("preset builds")
    }

    #[test]
    fn published_item_vectors_verify() {
        let docs = authorisation("coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=");
        assert_eq!(
            signing_string(&docs),
            "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true"
        );
        assert_eq!(verify(&notification(&[docs]), &[DOCS_KEY]), Ok(()));
        let php = authorisation("Ny9gS2veKo5E4w8/OL6xz1/wvT/hYkAXy1xNc/QvO4I=");
        assert_eq!(
            verify(&notification(std::slice::from_ref(&php)), &[PHP_KEY]),
            Ok(())
        );
        assert_eq!(
            verify(&notification(&[php]), &[DOCS_KEY, PHP_KEY]),
            Ok(()),
            "second key"
        );
        let spaced = item(
            "7914073381342284",
            " TestPayment-1407325143704",
            1130,
            "AUTHORISATION",
            "kLZtgnXU86m/yjnpBD4aqESFgnoDcy1fGOP1Db/L3+4=",
        );
        assert_eq!(verify(&notification(&[spaced]), &[PHP_KEY]), Ok(()));
        let refund = item(
            "7914073381342284",
            "TestPayment-1407325143704",
            0,
            "REFUND",
            "J7HhsgZo5KwqdB7LFZJV6rfQgp+RqC2kuYyw/3x3w+8=",
        );
        assert_eq!(verify(&notification(&[refund]), &[DOCS_KEY]), Ok(()));
        let custom = json!({
            "pspReference": "TEST_CUSTOM_7914073381342284",
            "merchantAccountCode": "PHPApiLibrary",
            "merchantReference": "auth:123",
            "amount": {"value": 113000, "currency": "EUR"},
            "eventCode": "AUTHORISATION",
            "success": "true",
            "additionalData": {"hmacSignature": "ovT21mqdbQToGbWssIhnBXAlnkhgKuehtGwvYFf5h2Q="},
        });
        assert_eq!(
            verify(
                &notification(&[custom]),
                &["C56F00E99723D90F65254B00746844BED11BCDD0DD42B26EC980DC1301C6CD20"]
            ),
            Ok(())
        );
    }

    #[test]
    fn one_bad_item_rejects_the_batch() {
        let good = authorisation("coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=");
        let refund = item(
            "7914073381342284",
            "TestPayment-1407325143704",
            0,
            "REFUND",
            "J7HhsgZo5KwqdB7LFZJV6rfQgp+RqC2kuYyw/3x3w+8=",
        );
        assert_eq!(
            verify(&notification(&[good.clone(), refund.clone()]), &[DOCS_KEY]),
            Ok(())
        );
        let mut bad = refund.clone();
        bad["amount"]["value"] = json!(1);
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            verify(&notification(&[good.clone(), bad.clone()]), &[DOCS_KEY]),
            mismatch
        );
        assert_eq!(
            verify(&notification(&[bad, good.clone()]), &[DOCS_KEY]),
            mismatch
        );
        let mut unsigned = refund;
        unsigned["additionalData"] = json!({});
        assert_eq!(
            verify(&notification(&[good, unsigned]), &[DOCS_KEY]),
            Err(VerifyError::MissingHeader(ITEM_SIGNATURE))
        );
    }

    #[test]
    fn negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        let sig = "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=";
        assert_eq!(
            verify(&notification(&[authorisation(sig)]), &[PHP_KEY]),
            mismatch
        );
        assert_eq!(
            verify(&notification(&[authorisation(&sig[..20])]), &[DOCS_KEY]),
            mismatch
        );
        assert_eq!(
            verify(&notification(&[authorisation("=")]), &[DOCS_KEY]),
            mismatch
        );
        // A changed signed field (one byte of merchantReference).
        let mut changed = authorisation(sig);
        changed["merchantReference"] = json!("TestPayment-1407325143705");
        assert_eq!(verify(&notification(&[changed]), &[DOCS_KEY]), mismatch);
        // Key order and spacing are not signed, the fields are.
        assert_eq!(
            verify(&pretty(&notification(&[authorisation(sig)])), &[DOCS_KEY]),
            Ok(())
        );
        for body in [
            &b"{}"[..],
            b"not json",
            br#"{"notificationItems":[]}"#,
            br#"{"notificationItems":[{"x":{}}]}"#,
        ] {
            assert_eq!(
                verify(body, &[DOCS_KEY]),
                Err(VerifyError::MissingHeader(ITEM_SIGNATURE))
            );
        }
    }

    const PLATFORM_KEY: &str = "D7DD5BA6146493707BF0BE7496F6404EC7A63616B7158EC927B9F54BB436765F";
    const PLATFORM_BODY: &[u8] = br#"{"data":{"balancePlatform":"Integration_tools_test","accountId":"BA32272223222H5HVKTBK4MLB","sweep":{"id":"SWPC42272223222H5HVKV6H8C64DP5","schedule":{"type":"balance"},"status":"active","targetAmount":{"currency":"EUR","value":0},"triggerAmount":{"currency":"EUR","value":0},"type":"pull","counterparty":{"balanceAccountId":"BA3227C223222H5HVKT3H9WLC"},"currency":"EUR"}},"environment":"test","type":"balancePlatform.balanceAccountSweep.updated"}"#;
    const PLATFORM_SIG: &str = "9Qz9S/0xpar1klkniKdshxpAhRKbiSAewPpWoxKefQA=";

    fn platform(body: &[u8], sig: &str) -> TestRequest {
        TestRequest::post(body).header("HmacSignature", sig)
    }

    #[test]
    fn platform_header_vector_verifies() {
        let p = adyen();
        let check =
            |req: &TestRequest, keys: &[&str]| p.verify(&req.as_request(), &secrets(keys), at(1));
        assert_eq!(
            check(&platform(PLATFORM_BODY, PLATFORM_SIG), &[PLATFORM_KEY]),
            Ok(())
        );
        assert_eq!(
            check(
                &platform(PLATFORM_BODY, PLATFORM_SIG),
                &[DOCS_KEY, PLATFORM_KEY]
            ),
            Ok(())
        );
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            check(
                &platform(&flip_byte(PLATFORM_BODY), PLATFORM_SIG),
                &[PLATFORM_KEY]
            ),
            mismatch
        );
        assert_eq!(
            check(
                &platform(&pretty(PLATFORM_BODY), PLATFORM_SIG),
                &[PLATFORM_KEY]
            ),
            mismatch
        );
        assert_eq!(
            check(&platform(PLATFORM_BODY, PLATFORM_SIG), &[DOCS_KEY]),
            mismatch
        );
        assert_eq!(
            check(
                &platform(PLATFORM_BODY, &PLATFORM_SIG[..30]),
                &[PLATFORM_KEY]
            ),
            mismatch
        );
        assert_eq!(
            check(&platform(PLATFORM_BODY, ""), &[PLATFORM_KEY]),
            Err(VerifyError::MissingHeader(PLATFORM_SIGNATURE_HEADER))
        );
        let meta = &p
            .events(&platform(PLATFORM_BODY, PLATFORM_SIG).as_request())
            .unwrap()[0];
        assert!(meta
            .id
            .starts_with("balancePlatform.balanceAccountSweep.updated:"));
        assert_eq!(
            meta.event_type.as_deref(),
            Some("balancePlatform.balanceAccountSweep.updated")
        );
        let again = &p
            .events(&platform(&pretty(PLATFORM_BODY), PLATFORM_SIG).as_request())
            .unwrap()[0];
        assert_eq!(
            meta.id, again.id,
            "the same notification resent has the same id"
        );
    }

    #[test]
    fn one_event_per_item() {
        let sig = "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=";
        let mut failed = authorisation(sig);
        failed["success"] = json!("false");
        let body = notification(&[authorisation(sig), failed]);
        assert_eq!(
            adyen().events(&TestRequest::post(body).as_request()),
            Ok(vec![
                EventMeta {
                    id: "7914073381342284:AUTHORISATION:true".into(),
                    event_type: Some("AUTHORISATION".into())
                },
                EventMeta {
                    id: "7914073381342284:AUTHORISATION:false".into(),
                    event_type: Some("AUTHORISATION".into())
                },
            ])
        );
        let mut anonymous = authorisation(sig);
        anonymous.as_object_mut().unwrap().remove("pspReference");
        assert_eq!(
            adyen().events(&TestRequest::post(notification(&[anonymous])).as_request()),
            Err(ExtractError::MissingEventId("pspReference"))
        );
    }

    #[test]
    fn sign_request_signs_every_item_and_the_platform_header() {
        let p = adyen();
        let mut body: Value = serde_json::from_slice(&p.example_body("PSP1", "CAPTURE")).unwrap();
        let second = body["notificationItems"][0].clone();
        body["notificationItems"]
            .as_array_mut()
            .unwrap()
            .push(second);
        body["notificationItems"][1]["NotificationRequestItem"]["pspReference"] = json!("PSP2");
        let body = body.to_string().into_bytes();
        let sign = SignRequest {
            method: "POST",
            url: TEST_URL,
            body: &body,
            event_id: "PSP1",
        };
        assert!(matches!(
            p.sign(&sign, &Secret::new(DOCS_KEY), at(1)),
            Err(SignError::Unsupported(_))
        ));
        let signed = p
            .sign_request(&sign, &Secret::new(DOCS_KEY), at(1))
            .unwrap();
        let signed_body = signed.body.unwrap();
        assert_eq!(verify(&signed_body, &[DOCS_KEY]), Ok(()));
        let ids: Vec<String> = p
            .events(&TestRequest::post(signed_body).as_request())
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, ["PSP1:CAPTURE:true", "PSP2:CAPTURE:true"]);

        let req = TestRequest::signed(&p, PLATFORM_BODY, "x", PLATFORM_KEY, at(1));
        assert_eq!(req.value("hmacsignature"), PLATFORM_SIG);
        assert_eq!(p.check_secret(&Secret::new(DOCS_KEY)), Ok(()));
        assert!(p.check_secret(&Secret::new("not-hex")).is_err());
    }
}
