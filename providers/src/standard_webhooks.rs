//! Standard Webhooks (and Svix, which Clerk, Resend and many others use).
//!
//! Three headers: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a
//! space-separated list of `v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{raw body}`. The key
//! is the base64 decoding of the secret after an optional `whsec_`. Svix sends the same headers
//! as `svix-*`; a request uses one family, chosen by which signature header it carries. Only
//! `v1` is understood; other versions (the asymmetric `v1a`) are skipped, as the spec asks, so a
//! header carrying only them fails. The timestamp is checked in both directions.
//!
//! The verify core ([`verify_signed`], [`signature_value`]) is public because `internal` accepts
//! this format as an alternative to a bearer key.

use std::time::{Duration, SystemTime};

use crate::signature::{self, Algorithm, Encoding};
use crate::{
    BuildError, EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError,
    SignRequest, VerifyError,
};

/// The names of the three headers in one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderNames {
    pub id: &'static str,
    pub timestamp: &'static str,
    pub signature: &'static str,
}

pub const WEBHOOK_HEADERS: HeaderNames = HeaderNames {
    id: "webhook-id",
    timestamp: "webhook-timestamp",
    signature: "webhook-signature",
};

pub const SVIX_HEADERS: HeaderNames = HeaderNames {
    id: "svix-id",
    timestamp: "svix-timestamp",
    signature: "svix-signature",
};

const SYMMETRIC_VERSION: &str = "v1";
const KEPT_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "svix-id",
    "svix-timestamp",
];
/// Svix retries for about 28 h, the spec's example schedule for about 76 h, and manual replays
/// can come later still: keep a week.
const RETRY_HORIZON: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why a configured secret is unusable, shared by `check_secret` and `sign`.
const BAD_KEY: &str = "a Standard Webhooks secret must be base64 (optionally prefixed with whsec_)";

/// The header family `req` uses: `webhook-*` if it carries `webhook-signature`, else `svix-*`
/// if it carries `svix-signature`.
pub fn header_names(req: &Request<'_>) -> Option<HeaderNames> {
    [WEBHOOK_HEADERS, SVIX_HEADERS]
        .into_iter()
        .find(|names| req.headers.contains_key(names.signature))
}

/// Verify a Standard Webhooks signature on `req` under any of `secrets` (each decoded as a
/// `whsec_` key; secrets that do not decode never match).
pub fn verify_signed(
    req: &Request<'_>,
    secrets: &Secrets,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let names = header_names(req).ok_or(VerifyError::MissingHeader(WEBHOOK_HEADERS.signature))?;
    let signature_header = signature::required_header(req, names.signature)?;
    let id = signature::required_header(req, names.id)?;
    let timestamp_text = signature::required_header(req, names.timestamp)?.trim();
    let timestamp = signature::parse_unix_timestamp(timestamp_text)
        .ok_or(VerifyError::MalformedHeader(names.timestamp))?;

    let keys: Vec<Vec<u8>> = secrets
        .iter()
        .filter_map(|secret| signature::decode_whsec(secret.expose()))
        .collect();
    let presented = signature::decode_all(
        Encoding::Base64,
        signature::space_list(signature_header, SYMMETRIC_VERSION),
    );
    let signed: [&[u8]; 5] = [
        id.as_bytes(),
        b".",
        timestamp_text.as_bytes(),
        b".",
        req.body,
    ];
    if !signature::any_signature_matches(Algorithm::Sha256, &keys, &signed, &presented) {
        return Err(VerifyError::SignatureMismatch);
    }
    // After the MAC: only authentic requests are ever counted as stale.
    signature::check_timestamp(timestamp, now, tolerance)
}

/// The `webhook-signature` value (`v1,<base64>`) for `body` sent as message `id` at
/// `timestamp`, under the already decoded `key`.
pub fn signature_value(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let mac = Algorithm::Sha256.mac(
        key,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    format!("{SYMMETRIC_VERSION},{}", Encoding::Base64.encode(&mac))
}

/// The three headers that make `body` verify as message `id` under `secret` at `now`.
pub fn sign_headers(
    secret: &Secret,
    id: &str,
    now: SystemTime,
    body: &[u8],
) -> Result<Vec<(String, String)>, SignError> {
    let key = signature::decode_whsec(secret.expose()).ok_or(SignError::BadSecret(BAD_KEY))?;
    let timestamp = signature::unix_seconds(now);
    Ok(vec![
        (WEBHOOK_HEADERS.id.into(), id.into()),
        (WEBHOOK_HEADERS.timestamp.into(), timestamp.to_string()),
        (
            WEBHOOK_HEADERS.signature.into(),
            signature_value(&key, id, timestamp, body),
        ),
    ])
}

#[derive(Debug, Clone)]
pub struct StandardWebhooks {
    tolerance: Duration,
}

impl StandardWebhooks {
    pub fn new(tolerance: Duration) -> Self {
        StandardWebhooks { tolerance }
    }
}

impl Provider for StandardWebhooks {
    fn name(&self) -> &'static str {
        "standard-webhooks"
    }

    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        verify_signed(req, secrets, now, self.tolerance)
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let names = header_names(req).unwrap_or(WEBHOOK_HEADERS);
        let id = req
            .header(names.id)
            .filter(|id| !id.trim().is_empty())
            .ok_or(ExtractError::MissingEventId("webhook-id"))?;
        // The type is a convention of the payload, not of the spec: optional, and a body that
        // is not JSON is still a valid message.
        let event_type = signature::body_json_text(req.body, "type");
        Ok(vec![EventMeta {
            id: id.to_string(),
            event_type,
        }])
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        KEPT_HEADERS
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        sign_headers(secret, req.event_id, now, req.body)
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        signature::decode_whsec(secret.expose())
            .map(drop)
            .ok_or_else(|| BuildError::Invalid(BAD_KEY.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest, NON_UTF8_BODY};
    use crate::DEFAULT_TOLERANCE;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: u64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const NEGATIVE_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";

    fn provider() -> StandardWebhooks {
        StandardWebhooks::new(DEFAULT_TOLERANCE)
    }

    fn request(sig: &str) -> TestRequest {
        TestRequest::post(BODY)
            .header("webhook-id", ID)
            .header("webhook-timestamp", &TS.to_string())
            .header("webhook-signature", sig)
    }

    fn verify(req: &TestRequest, configured: &[&str], now: u64) -> Result<(), VerifyError> {
        provider().verify(&req.as_request(), &secrets(configured), at(now))
    }

    #[test]
    fn published_vector_verifies_and_its_negative_fails() {
        assert_eq!(verify(&request(SIG), &[SECRET], TS), Ok(()));
        assert_eq!(
            verify(&request(NEGATIVE_SIG), &[SECRET], TS),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn rust_library_vector_verifies() {
        let req = TestRequest::post(&br#"{"email":"test@example.com","username":"test_user"}"#[..])
            .header("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk")
            .header("webhook-timestamp", "1649367553")
            .header(
                "webhook-signature",
                "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
            );
        assert_eq!(
            verify(
                &req,
                &["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"],
                1_649_367_553
            ),
            Ok(())
        );
    }

    #[test]
    fn svix_header_names_are_accepted() {
        let req = TestRequest::post(BODY)
            .header("svix-id", ID)
            .header("svix-timestamp", &TS.to_string())
            .header("svix-signature", SIG);
        assert_eq!(verify(&req, &[SECRET], TS), Ok(()));
        assert_eq!(
            provider()
                .events(&req.as_request())
                .map(|e| e[0].id.clone()),
            Ok(ID.into())
        );
    }

    #[test]
    fn secret_without_prefix_or_padding_works() {
        assert_eq!(
            verify(&request(SIG), &["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], TS),
            Ok(())
        );
    }

    #[test]
    fn multi_signature_header_with_only_the_last_valid_passes() {
        let header = format!("v1a,AAAA v1,{} {SIG}", "A".repeat(44));
        assert_eq!(verify(&request(&header), &[SECRET], TS), Ok(()));
    }

    #[test]
    fn second_configured_secret_passes() {
        assert_eq!(
            verify(
                &request(SIG),
                &["whsec_AAAAAAAAAAAAAAAAAAAAAAAA", SECRET],
                TS
            ),
            Ok(())
        );
    }

    #[test]
    fn undecodable_secrets_are_skipped_not_fatal() {
        assert_eq!(verify(&request(SIG), &["not base64!", SECRET], TS), Ok(()));
        assert_eq!(
            verify(&request(SIG), &["not base64!"], TS),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn tampered_bodies_and_wrong_secret_fail() {
        assert_eq!(
            verify(&request(SIG).body(flip_byte(BODY)), &[SECRET], TS),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&request(SIG).body(pretty(BODY)), &[SECRET], TS),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(
                &request(SIG),
                &["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"],
                TS
            ),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn signed_id_and_timestamp_cannot_be_swapped() {
        let other_id = request(SIG).set("webhook-id", "msg_other");
        assert_eq!(
            verify(&other_id, &[SECRET], TS),
            Err(VerifyError::SignatureMismatch)
        );
        let other_ts = request(SIG).set("webhook-timestamp", &(TS + 1).to_string());
        assert_eq!(
            verify(&other_ts, &[SECRET], TS),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn missing_headers_fail() {
        assert_eq!(
            verify(&request(SIG).without("webhook-signature"), &[SECRET], TS),
            Err(VerifyError::MissingHeader("webhook-signature"))
        );
        assert_eq!(
            verify(&request(SIG).without("webhook-id"), &[SECRET], TS),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        assert_eq!(
            verify(&request(SIG).without("webhook-timestamp"), &[SECRET], TS),
            Err(VerifyError::MissingHeader("webhook-timestamp"))
        );
        assert_eq!(
            verify(
                &request(SIG).set("webhook-timestamp", "soon"),
                &[SECRET],
                TS
            ),
            Err(VerifyError::MalformedHeader("webhook-timestamp"))
        );
    }

    #[test]
    fn empty_truncated_and_unknown_version_signatures_fail() {
        for sig in [
            "v1,",
            "v1,g0hM",
            "v1,AAAA",
            &SIG[..SIG.len() - 4],
            &SIG.replace("v1,", "v1a,"),
            &SIG.replace("v1,", ""),
        ] {
            assert_eq!(
                verify(&request(sig), &[SECRET], TS),
                Err(VerifyError::SignatureMismatch),
                "{sig}"
            );
        }
    }

    #[test]
    fn timestamps_past_tolerance_fail_in_both_directions() {
        assert_eq!(verify(&request(SIG), &[SECRET], TS + 300), Ok(()));
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
    fn sign_reproduces_the_vector_and_round_trips() {
        let p = provider();
        let vector = TestRequest::signed(&p, BODY, ID, SECRET, at(TS));
        assert_eq!(vector.value("webhook-signature"), SIG);
        assert_eq!(verify(&vector, &[SECRET], TS), Ok(()));

        let body = p.example_body("evt_9", "user.created");
        let req = TestRequest::signed(&p, &body, "msg_9", SECRET, at(TS));
        assert_eq!(verify(&req, &[SECRET], TS), Ok(()));
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "msg_9".into(),
                event_type: Some("user.created".into())
            }])
        );
    }

    #[test]
    fn non_utf8_bodies_verify_over_raw_bytes() {
        let p = provider();
        let req = TestRequest::signed(&p, NON_UTF8_BODY, ID, SECRET, at(TS));
        assert_eq!(verify(&req, &[SECRET], TS), Ok(()));
        assert_eq!(
            p.events(&req.as_request()).map(|e| e[0].event_type.clone()),
            Ok(None)
        );
    }

    #[test]
    fn missing_id_fails_extraction() {
        let req = TestRequest::post(BODY).header("webhook-id", "");
        assert_eq!(
            provider().events(&req.as_request()),
            Err(ExtractError::MissingEventId("webhook-id"))
        );
    }

    #[test]
    fn undecodable_secrets_are_caught_at_start_up_and_when_signing() {
        let p = provider();
        assert_eq!(p.check_secret(&Secret::new(SECRET)), Ok(()));
        assert!(p.check_secret(&Secret::new("whsec_???")).is_err());
        let sign = SignRequest {
            method: "POST",
            url: "u",
            body: BODY,
            event_id: ID,
        };
        assert_eq!(
            p.sign(&sign, &Secret::new("whsec_???"), at(TS)),
            Err(SignError::BadSecret(BAD_KEY))
        );
    }

    #[test]
    fn keeps_no_signature_header() {
        let kept = provider().kept_headers();
        assert!(!kept.contains(&"webhook-signature") && !kept.contains(&"svix-signature"));
    }
}
