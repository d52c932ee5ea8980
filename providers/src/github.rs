//! GitHub webhooks.
//!
//! `X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body under the webhook
//! secret. Only when it is absent do we fall back to the legacy `X-Hub-Signature: sha1=<hex>`:
//! GitHub sends both, and accepting SHA-1 next to a failing SHA-256 would let a request
//! downgrade itself to the weaker MAC. No timestamp is signed; the delivery GUID
//! (`X-GitHub-Delivery`, unchanged on redelivery) is the event id.
//!
//! GitHub is a preset of the generic verifier ([`crate::catalogue`]): the legacy header is its
//! `fallback_signature_header`. This module keeps GitHub's names and its tests.

pub const SIGNATURE_256_HEADER: &str = "x-hub-signature-256";
pub const SIGNATURE_SHA1_HEADER: &str = "x-hub-signature";
pub const KEPT_HEADERS: &[&str] = &["x-github-event", "x-github-delivery", "x-github-hook-id"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;

    use crate::{EventMeta, ExtractError, Provider, VerifyError};

    fn github() -> Preset {
        Preset::new(
            crate::catalogue::preset("github").expect("row"),
            &Default::default(),
        )
        .expect("preset builds")
    }
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
        github().verify(&req.as_request(), &secrets(configured), at(NOW))
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
        let p = github();
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
        let p = github();
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
            github().events(&req.as_request()),
            Err(ExtractError::MissingEventId("x-github-delivery"))
        );
    }

    #[test]
    fn keeps_no_signature_header() {
        let kept = github().kept_headers();
        assert!(!kept.contains(&SIGNATURE_256_HEADER) && !kept.contains(&SIGNATURE_SHA1_HEADER));
    }
}
