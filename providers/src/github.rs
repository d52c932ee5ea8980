//! GitHub webhooks.
//!
//! `X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body under the webhook
//! secret. Only when it is absent do we fall back to the legacy `X-Hub-Signature: sha1=<hex>`:
//! GitHub sends both, and accepting SHA-1 next to a failing SHA-256 would let a request
//! downgrade itself to the weaker MAC. No timestamp is signed; the delivery GUID
//! (`X-GitHub-Delivery`, unchanged on redelivery) is the event id.

use std::time::{Duration, SystemTime};

use crate::signature::{self, Algorithm, Encoding};
use crate::{
    test_event_type, EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError,
    SignRequest, VerifyError,
};

pub const SIGNATURE_256_HEADER: &str = "x-hub-signature-256";
pub const SIGNATURE_SHA1_HEADER: &str = "x-hub-signature";
const SHA256_PREFIX: &str = "sha256=";
const SHA1_PREFIX: &str = "sha1=";
const DELIVERY_HEADER: &str = "x-github-delivery";
const EVENT_HEADER: &str = "x-github-event";
const KEPT_HEADERS: &[&str] = &[EVENT_HEADER, DELIVERY_HEADER, "x-github-hook-id"];
/// GitHub never retries on its own; manual or API redelivery works for 3 days. One day margin.
const RETRY_HORIZON: Duration = Duration::from_secs(4 * 24 * 3600);

#[derive(Debug, Clone, Default)]
pub struct GitHub;

impl GitHub {
    pub fn new() -> Self {
        GitHub
    }
}

impl Provider for GitHub {
    fn name(&self) -> &'static str {
        "github"
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
        let (algorithm, header_name, prefix) = if req.headers.contains_key(SIGNATURE_256_HEADER) {
            (Algorithm::Sha256, SIGNATURE_256_HEADER, SHA256_PREFIX)
        } else if req.headers.contains_key(SIGNATURE_SHA1_HEADER) {
            (Algorithm::Sha1, SIGNATURE_SHA1_HEADER, SHA1_PREFIX)
        } else {
            return Err(VerifyError::MissingHeader(SIGNATURE_256_HEADER));
        };
        let header = signature::required_header(req, header_name)?;
        let hex = signature::strip_prefix(header, prefix)
            .ok_or(VerifyError::MalformedHeader(header_name))?;
        let presented = signature::decode_all(Encoding::Hex, [hex]);
        if signature::any_signature_matches(
            algorithm,
            secrets.iter().map(Secret::expose),
            &[req.body],
            &presented,
        ) {
            Ok(())
        } else {
            Err(VerifyError::SignatureMismatch)
        }
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let id = req
            .header(DELIVERY_HEADER)
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or(ExtractError::MissingEventId("X-GitHub-Delivery"))?;
        let event_type = req
            .header(EVENT_HEADER)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
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
        _now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let mac = Algorithm::Sha256.mac(secret.expose(), &[req.body]);
        Ok(vec![
            (
                "X-Hub-Signature-256".into(),
                format!("{SHA256_PREFIX}{}", Encoding::Hex.encode(&mac)),
            ),
            ("X-GitHub-Delivery".into(), req.event_id.into()),
            ("X-GitHub-Event".into(), test_event_type(req.body)),
        ])
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest, NON_UTF8_BODY};

    const DOCS_SECRET: &str = "It's a Secret to Everybody";
    const DOCS_BODY: &[u8] = b"Hello, World!";
    const DOCS_SIG: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    const DOCS_SHA1: &str = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";
    const OCTOKIT_SECRET: &str = "mysecret";
    const OCTOKIT_BODY: &[u8] = br#"{"foo":"bar"}"#;
    const OCTOKIT_SIG: &str =
        "sha256=4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3";
    const OCTOKIT_PRETTY_BODY: &[u8] = b"{\n  \"foo\": \"bar\"\n}\n";
    const OCTOKIT_PRETTY_SIG: &str =
        "sha256=e3eccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023f";
    const NOW: u64 = 1_700_000_000;

    fn verify(req: &TestRequest, configured: &[&str]) -> Result<(), VerifyError> {
        GitHub::new().verify(&req.as_request(), &secrets(configured), at(NOW))
    }

    fn docs_request(sig: &str) -> TestRequest {
        TestRequest::post(DOCS_BODY).header("X-Hub-Signature-256", sig)
    }

    #[test]
    fn docs_vector_verifies() {
        assert_eq!(verify(&docs_request(DOCS_SIG), &[DOCS_SECRET]), Ok(()));
    }

    #[test]
    fn octokit_vectors_verify_and_differ_by_serialisation() {
        let compact = TestRequest::post(OCTOKIT_BODY).header("X-Hub-Signature-256", OCTOKIT_SIG);
        assert_eq!(verify(&compact, &[OCTOKIT_SECRET]), Ok(()));
        let pretty_req = TestRequest::post(OCTOKIT_PRETTY_BODY)
            .header("X-Hub-Signature-256", OCTOKIT_PRETTY_SIG);
        assert_eq!(verify(&pretty_req, &[OCTOKIT_SECRET]), Ok(()));
        // The same data re-serialised is different bytes: the compact signature must not
        // verify the pretty body (GitHub sends the pretty form with a trailing newline).
        let crossed =
            TestRequest::post(OCTOKIT_PRETTY_BODY).header("X-Hub-Signature-256", OCTOKIT_SIG);
        assert_eq!(
            verify(&crossed, &[OCTOKIT_SECRET]),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn legacy_sha1_is_used_only_without_sha256() {
        let legacy = TestRequest::post(DOCS_BODY).header("X-Hub-Signature", DOCS_SHA1);
        assert_eq!(verify(&legacy, &[DOCS_SECRET]), Ok(()));
        // A valid SHA-1 next to an invalid SHA-256 must not pass (no downgrade).
        let downgrade = docs_request(&format!("sha256={}", "0".repeat(64)))
            .header("X-Hub-Signature", DOCS_SHA1);
        assert_eq!(
            verify(&downgrade, &[DOCS_SECRET]),
            Err(VerifyError::SignatureMismatch)
        );
        let wrong_prefix = TestRequest::post(DOCS_BODY)
            .header("X-Hub-Signature", &DOCS_SIG.replace("sha256=", "sha1="));
        assert_eq!(
            verify(&wrong_prefix, &[DOCS_SECRET]),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn second_configured_secret_passes() {
        assert_eq!(
            verify(&docs_request(DOCS_SIG), &["old", DOCS_SECRET]),
            Ok(())
        );
    }

    #[test]
    fn tampered_bodies_and_wrong_secret_fail() {
        let flipped = docs_request(DOCS_SIG).body(flip_byte(DOCS_BODY));
        assert_eq!(
            verify(&flipped, &[DOCS_SECRET]),
            Err(VerifyError::SignatureMismatch)
        );
        let reserialised =
            TestRequest::post(pretty(OCTOKIT_BODY)).header("X-Hub-Signature-256", OCTOKIT_SIG);
        assert_eq!(
            verify(&reserialised, &[OCTOKIT_SECRET]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&docs_request(DOCS_SIG), &["wrong"]),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn missing_header_fails() {
        assert_eq!(
            verify(&TestRequest::post(DOCS_BODY), &[DOCS_SECRET]),
            Err(VerifyError::MissingHeader(SIGNATURE_256_HEADER))
        );
    }

    #[test]
    fn empty_truncated_and_unprefixed_signatures_fail() {
        assert_eq!(
            verify(&docs_request("sha256="), &[DOCS_SECRET]),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(
                &docs_request(&DOCS_SIG[..DOCS_SIG.len() - 2]),
                &[DOCS_SECRET]
            ),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&docs_request(&DOCS_SIG["sha256=".len()..]), &[DOCS_SECRET]),
            Err(VerifyError::MalformedHeader(SIGNATURE_256_HEADER))
        );
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let p = GitHub::new();
        let body = p.example_body("ignored", "push");
        let req = TestRequest::signed(
            &p,
            &body,
            "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "s3cret",
            at(NOW),
        );
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&["s3cret"]), at(NOW)),
            Ok(())
        );
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
                event_type: Some("push".into())
            }])
        );
        let vector = TestRequest::signed(&p, DOCS_BODY, "d", DOCS_SECRET, at(NOW));
        assert_eq!(vector.value("x-hub-signature-256"), DOCS_SIG);
    }

    #[test]
    fn non_utf8_bodies_verify_over_raw_bytes() {
        let p = GitHub::new();
        let req = TestRequest::signed(&p, NON_UTF8_BODY, "d", "s3cret", at(NOW));
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&["s3cret"]), at(NOW)),
            Ok(())
        );
    }

    #[test]
    fn missing_delivery_id_fails() {
        let req = TestRequest::post(DOCS_BODY).header("X-GitHub-Event", "ping");
        assert_eq!(
            GitHub::new().events(&req.as_request()),
            Err(ExtractError::MissingEventId("X-GitHub-Delivery"))
        );
    }

    #[test]
    fn keeps_no_signature_header() {
        let kept = GitHub::new().kept_headers();
        assert!(!kept.contains(&SIGNATURE_256_HEADER) && !kept.contains(&SIGNATURE_SHA1_HEADER));
    }
}
