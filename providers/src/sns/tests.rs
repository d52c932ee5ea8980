//! The vectors were signed by an independent implementation (Python `cryptography`) with a
//! test key whose self-signed certificate is `test-cert.pem`: SignatureVersion 1 (SHA1withRSA)
//! and 2 (SHA256withRSA) notifications and a SubscriptionConfirmation. No private key of AWS is
//! public, so this is what the reference (§5.3) recommends.

use super::*;
use crate::test_support::{at, secrets, TestRequest};

const CERT: &str = include_str!("test-cert.pem");
const KEY: &str = include_str!("test-key.pem");
const OTHER_CERT: &str = include_str!("other-cert.pem");
const V1: &str = include_str!("sns-v1.json");
const V2: &str = include_str!("sns-v2.json");
const CONFIRM: &str = include_str!("sns-confirm.json");
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:hookgate-orders";

fn sns() -> Sns {
    Sns::new(vec![TOPIC.to_string()]).expect("sns")
}

fn verify(body: &str, configured: &[&str]) -> Result<(), VerifyError> {
    let req = TestRequest::post(body.as_bytes()).header(MESSAGE_TYPE_HEADER, &kind_of(body));
    sns().verify(&req.as_request(), &secrets(configured), at(1))
}

fn kind_of(body: &str) -> String {
    let v: Value = serde_json::from_str(body).expect("json");
    v["Type"].as_str().expect("type").to_string()
}

fn edited(body: &str, key: &str, value: &str) -> String {
    let mut v: Value = serde_json::from_str(body).expect("json");
    v[key] = Value::from(value);
    v.to_string()
}

#[test]
fn both_signature_versions_verify_under_the_configured_certificate() {
    assert_eq!(verify(V1, &[CERT]), Ok(()));
    assert_eq!(verify(V2, &[CERT]), Ok(()));
    assert_eq!(
        verify(V2, &[OTHER_CERT, CERT]),
        Ok(()),
        "rotation: any configured cert"
    );
    assert_eq!(verify(CONFIRM, &[CERT]), Ok(()));
}

#[test]
fn tampering_other_certificates_and_bad_envelopes_fail() {
    let mismatch = Err(VerifyError::SignatureMismatch);
    assert_eq!(verify(V1, &[OTHER_CERT]), mismatch);
    assert_eq!(verify(V1, &[]), Err(VerifyError::NoSecret));
    assert_eq!(
        verify(&edited(V1, "Message", "{\"order\":43}"), &[CERT]),
        mismatch
    );
    assert_eq!(
        verify(&edited(V2, "Subject", "order.deleted"), &[CERT]),
        mismatch
    );
    // The SHA-1 signature presented as version 2 (and vice versa) does not verify.
    assert_eq!(
        verify(&edited(V1, "SignatureVersion", "2"), &[CERT]),
        mismatch
    );
    let malformed = Err(VerifyError::MalformedHeader(SIGNATURE_FIELD));
    assert_eq!(
        verify(&edited(V1, "SignatureVersion", "3"), &[CERT]),
        malformed
    );
    for url in [
        "https://sns.evil.com/cert.pem",
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com/cert.txt",
        "https://sns.us-east-1.amazonaws.com.evil.net/cert.pem",
        "https://sns.us-east-1.amazonaws.com/cert.pem?x=.pem",
    ] {
        assert_eq!(
            verify(&edited(V1, "SigningCertURL", url), &[CERT]),
            malformed,
            "{url}"
        );
    }
    assert_eq!(
        verify(&edited(V1, "Type", "Notificationx"), &[CERT]),
        malformed
    );
    let mut truncated: Value = serde_json::from_str(V1).unwrap();
    let sig = truncated["Signature"].as_str().unwrap().to_string();
    truncated["Signature"] = Value::from(&sig[..sig.len() - 8]);
    assert_eq!(verify(&truncated.to_string(), &[CERT]), mismatch);
    assert_eq!(
        verify(&edited(V1, "Signature", ""), &[CERT]),
        Err(VerifyError::MissingHeader(SIGNATURE_FIELD))
    );
    let not_json = TestRequest::post(&b"not json"[..]);
    assert_eq!(
        sns().verify(&not_json.as_request(), &secrets(&[CERT]), at(1)),
        Err(VerifyError::MissingHeader(SIGNATURE_FIELD))
    );
    // The header must agree with the envelope.
    let req =
        TestRequest::post(V1.as_bytes()).header(MESSAGE_TYPE_HEADER, "SubscriptionConfirmation");
    assert_eq!(
        sns().verify(&req.as_request(), &secrets(&[CERT]), at(1)),
        malformed
    );
}

#[test]
fn messages_of_topics_not_configured_are_refused() {
    let other = Sns::new(vec![
        "arn:aws:sns:us-east-1:123456789012:someone-else".into()
    ])
    .unwrap();
    let req = TestRequest::post(V1.as_bytes());
    assert_eq!(
        other.verify(&req.as_request(), &secrets(&[CERT]), at(1)),
        Err(VerifyError::SignatureMismatch)
    );
    assert!(Sns::new(Vec::new()).is_err());
    assert!(Sns::new(vec!["arn:aws:s3:::bucket".into()]).is_err());
}

#[test]
fn notifications_are_events_and_confirmations_are_handshakes() {
    let p = sns();
    let notification = TestRequest::post(V2.as_bytes());
    assert!(p
        .challenge(&notification.as_request(), &secrets(&[]))
        .is_none());
    assert_eq!(
        p.events(&notification.as_request()),
        Ok(vec![EventMeta {
            id: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324".into(),
            event_type: Some("order.created".into())
        }])
    );
    let confirm = TestRequest::post(CONFIRM.as_bytes());
    let answer = p
        .challenge(&confirm.as_request(), &secrets(&[]))
        .expect("handshake");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.confirm_url.as_deref(),
        Some("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Ahookgate-orders&Token=2336412f37fb687f5d51e6e2425c464de")
    );
    // The confirmation host never comes from the request's SubscribeURL.
    let moved = edited(CONFIRM, "SubscribeURL", "https://attacker.example/confirm");
    let answer = p
        .challenge(
            &TestRequest::post(moved.as_bytes()).as_request(),
            &secrets(&[]),
        )
        .expect("handshake");
    assert!(answer
        .confirm_url
        .unwrap()
        .starts_with("https://sns.us-east-1.amazonaws.com/"));
}

#[test]
fn a_test_secret_with_its_private_key_signs_requests_that_verify() {
    let p = sns();
    let bundle = format!("{CERT}{KEY}");
    let body = p.example_body("msg-1", "order.created");
    let signed = p
        .sign_request(
            &SignRequest {
                method: "POST",
                url: "https://x/",
                body: &body,
                event_id: "msg-1",
            },
            &Secret::new(bundle.as_bytes()),
            at(1),
        )
        .expect("signs");
    let body = String::from_utf8(signed.body.expect("body")).unwrap();
    assert_eq!(verify(&body, &[CERT]), Ok(()));
    assert_eq!(verify(&body, &[&bundle]), Ok(()));
    assert!(p
        .sign_request(
            &SignRequest {
                method: "POST",
                url: "https://x/",
                body: b"{}",
                event_id: "x"
            },
            &Secret::new(CERT.as_bytes()),
            at(1)
        )
        .is_err());
    assert!(p.check_secret(&Secret::new("not a cert")).is_err());
    assert!(p.check_secret(&Secret::new(CERT.as_bytes())).is_ok());
}
