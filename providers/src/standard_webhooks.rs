//! Standard Webhooks (and Svix, which Clerk, Resend and many others use).
//!
//! Three headers: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a
//! space-separated list of `version,signature` over `{id}.{timestamp}.{raw body}`. Svix sends
//! the same headers as `svix-*`; a request uses one family, chosen by which signature header it
//! carries. The timestamp is checked in both directions. Two versions exist, and each
//! configured secret says which one it checks:
//!
//! - `v1,<base64 HMAC-SHA256>`: symmetric. The secret is `whsec_<base64 key>` (the prefix is
//!   optional); the key is its base64 decoding.
//! - `v1a,<base64 Ed25519 signature>`: asymmetric. The secret is the sender's public key,
//!   `whpk_<base64 32 bytes>`. A private key, `whsk_<base64 32-byte seed>` (or the 64-byte
//!   `seed || public key` form), is accepted as well: it verifies with its public half and is
//!   what [`Provider::sign`] needs to sign `v1a` test requests.
//!
//! Unknown versions are skipped, as the spec asks, so a header carrying only them fails; so
//! does a `v1a` signature when only `whsec_` secrets are configured, and the reverse.
//!
//! The verify core ([`verify_signed`], [`signature_value`]) is public because `internal` accepts
//! this format as an alternative to a bearer key.

use std::time::{Duration, SystemTime};

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::asymmetric;
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
const ASYMMETRIC_VERSION: &str = "v1a";
/// The prefix of a `v1a` public (verifying) key.
pub const WHPK_PREFIX: &str = "whpk_";
/// The prefix of a `v1a` private (signing) key.
pub const WHSK_PREFIX: &str = "whsk_";
/// Both header families, all read by verification (the id is signed too).
pub const CREDENTIAL_HEADERS: &[&str] = &[
    WEBHOOK_HEADERS.id,
    WEBHOOK_HEADERS.timestamp,
    WEBHOOK_HEADERS.signature,
    SVIX_HEADERS.id,
    SVIX_HEADERS.timestamp,
    SVIX_HEADERS.signature,
];
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
const BAD_KEY: &str = "a Standard Webhooks secret must be whsec_<base64> (or plain base64), whpk_<base64 Ed25519 public key> or whsk_<base64 Ed25519 seed>";
const PUBLIC_KEY_CANNOT_SIGN: &str =
    "a whpk_ public key only verifies; configure the whsk_ private key to sign v1a test requests";

/// A configured secret, decoded.
pub enum Key {
    /// `whsec_` (or unprefixed base64): checks `v1` HMAC signatures.
    Symmetric(Vec<u8>),
    /// `whpk_`: checks `v1a` Ed25519 signatures.
    Public(VerifyingKey),
    /// `whsk_`: signs `v1a`, and checks with its public half.
    Private(Box<SigningKey>),
}

impl Key {
    /// Decode one configured secret; `None` when it is none of the accepted forms.
    pub fn decode(secret: &[u8]) -> Option<Key> {
        let text = std::str::from_utf8(secret).ok()?.trim();
        if let Some(encoded) = text.strip_prefix(WHPK_PREFIX) {
            let bytes = Encoding::Base64.decode(encoded)?;
            return asymmetric::ed25519_public_key(&bytes).map(Key::Public);
        }
        if let Some(encoded) = text.strip_prefix(WHSK_PREFIX) {
            let bytes = Encoding::Base64.decode(encoded)?;
            return asymmetric::ed25519_signing_key(&bytes).map(|key| Key::Private(Box::new(key)));
        }
        signature::decode_whsec(secret).map(Key::Symmetric)
    }

    fn verifying_key(&self) -> Option<VerifyingKey> {
        match self {
            Key::Symmetric(_) => None,
            Key::Public(key) => Some(*key),
            Key::Private(key) => Some(key.verifying_key()),
        }
    }
}

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

    let keys: Vec<Key> = secrets
        .iter()
        .filter_map(|secret| Key::decode(secret.expose()))
        .collect();
    let signed: [&[u8]; 5] = [
        id.as_bytes(),
        b".",
        timestamp_text.as_bytes(),
        b".",
        req.body,
    ];
    let symmetric: Vec<&[u8]> = keys
        .iter()
        .filter_map(|key| match key {
            Key::Symmetric(bytes) => Some(bytes.as_slice()),
            _ => None,
        })
        .collect();
    let mut matched = !symmetric.is_empty() && {
        let presented = signature::decode_all(
            Encoding::Base64,
            signature::space_list(signature_header, SYMMETRIC_VERSION),
        );
        signature::any_signature_matches(Algorithm::Sha256, &symmetric, &signed, &presented)
    };
    let public: Vec<VerifyingKey> = keys.iter().filter_map(Key::verifying_key).collect();
    if !matched && !public.is_empty() {
        let presented = signature::decode_all(
            Encoding::Base64,
            signature::space_list(signature_header, ASYMMETRIC_VERSION),
        );
        matched = public.iter().any(|key| {
            presented
                .iter()
                .any(|sig| asymmetric::ed25519_verify(key, &signed, sig))
        });
    }
    if !matched {
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
    let timestamp = signature::unix_seconds(now);
    let value = Key::for_signing(secret)?.sign(id, timestamp, body)?;
    Ok(vec![
        (WEBHOOK_HEADERS.id.into(), id.into()),
        (WEBHOOK_HEADERS.timestamp.into(), timestamp.to_string()),
        (WEBHOOK_HEADERS.signature.into(), value),
    ])
}

impl Key {
    /// Decode a secret that is to sign (a sender decodes it once, then signs many messages).
    pub fn for_signing(secret: &Secret) -> Result<Key, SignError> {
        Key::decode(secret.expose()).ok_or(SignError::BadSecret(BAD_KEY))
    }

    /// The `webhook-signature` value that makes `body` verify as message `id` sent at
    /// `timestamp` (Unix seconds): `v1,` HMAC for a `whsec_` key, `v1a,` Ed25519 for `whsk_`.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> Result<String, SignError> {
        match self {
            Key::Symmetric(key) => Ok(signature_value(key, id, timestamp, body)),
            Key::Private(key) => Ok(asymmetric_signature_value(key, id, timestamp, body)),
            Key::Public(_) => Err(SignError::Unsupported(PUBLIC_KEY_CANNOT_SIGN)),
        }
    }
}

/// The `webhook-signature` value (`v1a,<base64>`) for `body` sent as message `id` at
/// `timestamp`, signed with the Ed25519 `key`.
pub fn asymmetric_signature_value(
    key: &SigningKey,
    id: &str,
    timestamp: u64,
    body: &[u8],
) -> String {
    let timestamp = timestamp.to_string();
    let sig = asymmetric::ed25519_sign(
        key,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    format!("{ASYMMETRIC_VERSION},{}", Encoding::Base64.encode(&sig))
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
    fn credential_headers(&self) -> &'static [&'static str] {
        CREDENTIAL_HEADERS
    }

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
        Key::decode(secret.expose())
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

    // standard-webhooks libraries/go webhook_asymmetric_test.go::TestAsymmetricWebhookSign.
    const V1A_PRIVATE: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    const V1A_PUBLIC: &str = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";
    const V1A_SIG: &str = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

    #[test]
    fn v1a_vector_verifies_with_the_public_or_the_private_key() {
        assert_eq!(verify(&request(V1A_SIG), &[V1A_PUBLIC], TS), Ok(()));
        assert_eq!(verify(&request(V1A_SIG), &[V1A_PRIVATE], TS), Ok(()));
        // Rotation and mixed configurations: any matching key passes.
        assert_eq!(verify(&request(V1A_SIG), &[SECRET, V1A_PUBLIC], TS), Ok(()));
        let both = format!("{SIG} {V1A_SIG}");
        assert_eq!(verify(&request(&both), &[V1A_PUBLIC], TS), Ok(()));
        assert_eq!(verify(&request(&both), &[SECRET], TS), Ok(()));
        let last_valid = format!("v1a,{} v1,{} {V1A_SIG}", "A".repeat(88), "A".repeat(44));
        assert_eq!(verify(&request(&last_valid), &[V1A_PUBLIC], TS), Ok(()));
    }

    #[test]
    fn v1a_negatives_fail() {
        let mismatch = Err(VerifyError::SignatureMismatch);
        // A symmetric secret never accepts v1a, a public key never accepts v1.
        assert_eq!(verify(&request(V1A_SIG), &[SECRET], TS), mismatch);
        assert_eq!(verify(&request(SIG), &[V1A_PUBLIC], TS), mismatch);
        // Another key pair (the Go library's other test seed).
        let other = "whsk_V0VCSE9PS0FTWU1NRVRSSUNURVNUUFJJVkFURUtFWTE=";
        assert_eq!(verify(&request(V1A_SIG), &[other], TS), mismatch);
        assert_eq!(
            verify(&request(V1A_SIG).body(flip_byte(BODY)), &[V1A_PUBLIC], TS),
            mismatch
        );
        assert_eq!(
            verify(&request(V1A_SIG).body(pretty(BODY)), &[V1A_PUBLIC], TS),
            mismatch
        );
        for sig in [
            "v1a,",
            &V1A_SIG[..V1A_SIG.len() - 8],
            &V1A_SIG.replace("v1a,", "v1,"),
            "v1a,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        ] {
            assert_eq!(verify(&request(sig), &[V1A_PUBLIC], TS), mismatch, "{sig}");
        }
        let moved = request(V1A_SIG).set("webhook-id", "msg_other");
        assert_eq!(verify(&moved, &[V1A_PUBLIC], TS), mismatch);
        assert_eq!(
            verify(&request(V1A_SIG), &[V1A_PUBLIC], TS + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&request(V1A_SIG), &[V1A_PUBLIC], TS - 301),
            Err(VerifyError::FutureTimestamp)
        );
    }

    #[test]
    fn v1a_signing_needs_the_private_key() {
        let p = provider();
        let vector = TestRequest::signed(&p, BODY, ID, V1A_PRIVATE, at(TS));
        assert_eq!(vector.value("webhook-signature"), V1A_SIG);
        assert_eq!(verify(&vector, &[V1A_PUBLIC], TS), Ok(()));
        let sign = SignRequest {
            method: "POST",
            url: "u",
            body: BODY,
            event_id: ID,
        };
        assert_eq!(
            p.sign(&sign, &Secret::new(V1A_PUBLIC), at(TS)),
            Err(SignError::Unsupported(PUBLIC_KEY_CANNOT_SIGN))
        );
    }

    #[test]
    fn asymmetric_secrets_are_checked_at_start_up() {
        let p = provider();
        for good in [V1A_PUBLIC, V1A_PRIVATE, SECRET] {
            assert_eq!(p.check_secret(&Secret::new(good)), Ok(()), "{good}");
        }
        for bad in ["whpk_AAAA", "whpk_not base64", "whsk_AAAA", "whpk_"] {
            assert!(p.check_secret(&Secret::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn keeps_no_signature_header() {
        let kept = provider().kept_headers();
        assert!(!kept.contains(&"webhook-signature") && !kept.contains(&"svix-signature"));
    }
}
