//! The generic verifier proven against the published and derived vectors of
//! `reference/providers.md` §5, one configuration per provider, plus the §5.3 negatives,
//! configuration validation and event extraction.

use serde_json::json;

use super::*;
use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest, NON_UTF8_BODY, TEST_URL};
use crate::DEFAULT_TOLERANCE;

fn config(value: Value) -> GenericConfig {
    serde_json::from_value(value).expect("test config deserialises")
}

fn build(value: Value) -> Generic {
    Generic::new(config(value), DEFAULT_TOLERANCE).expect("test config is valid")
}

fn build_error(value: Value) -> String {
    match Generic::new(config(value), DEFAULT_TOLERANCE) {
        Err(BuildError::Invalid(message)) => message,
        other => panic!("expected an invalid config, got {other:?}"),
    }
}

// One configuration per provider of the "G" family, as an operator would write it.

fn stripe() -> Generic {
    build(json!({
        "signature_header": "Stripe-Signature",
        "signature_format": "kv_list",
        "signature_encoding": "hex",
        "signed_content": "{ts}.{body}",
        "id_json_path": "id",
        "type_json_path": "type",
    }))
}

fn github() -> Generic {
    build(json!({
        "signature_header": "X-Hub-Signature-256",
        "signature_format": "prefix",
        "signature_prefix": "sha256=",
        "signature_encoding": "hex",
        "id_header": "X-GitHub-Delivery",
        "type_header": "X-GitHub-Event",
    }))
}

fn intercom() -> Generic {
    build(json!({
        "algorithm": "sha1",
        "signature_header": "X-Hub-Signature",
        "signature_format": "prefix",
        "signature_prefix": "sha1=",
        "signature_encoding": "hex",
        "id_json_path": "id",
        "type_json_path": "topic",
    }))
}

fn shopify() -> Generic {
    build(json!({
        "signature_header": "X-Shopify-Hmac-Sha256",
        "signature_encoding": "base64",
        "id_header": "X-Shopify-Event-Id",
        "type_header": "X-Shopify-Topic",
    }))
}

fn typeform() -> Generic {
    build(json!({
        "signature_header": "Typeform-Signature",
        "signature_format": "prefix",
        "signature_prefix": "sha256=",
        "signature_encoding": "base64",
        "id_json_path": "event_id",
        "type_json_path": "event_type",
    }))
}

fn linear() -> Generic {
    build(json!({
        "signature_header": "Linear-Signature",
        "signature_encoding": "hex",
        "timestamp_json_path": "webhookTimestamp",
        "timestamp_unit": "ms",
        "id_header": "Linear-Delivery",
        "type_header": "Linear-Event",
    }))
}

fn calendly() -> Generic {
    build(json!({
        "signature_header": "Calendly-Webhook-Signature",
        "signature_format": "kv_list",
        "signature_encoding": "hex",
        "signed_content": "{ts}.{body}",
        "id_from_body_sha256": true,
        "type_json_path": "event",
    }))
}

fn zoom() -> Generic {
    build(json!({
        "signature_header": "x-zm-signature",
        "signature_format": "prefix",
        "signature_prefix": "v0=",
        "signature_encoding": "hex",
        "signed_content": "v0:{ts}:{body}",
        "timestamp_header": "x-zm-request-timestamp",
        "id_from_body_sha256": true,
        "type_json_path": "event",
    }))
}

fn paddle() -> Generic {
    build(json!({
        "signature_header": "Paddle-Signature",
        "signature_format": "kv_list",
        "pair_separator": ";",
        "timestamp_key": "ts",
        "signature_key": "h1",
        "signature_encoding": "hex",
        "signed_content": "{ts}:{body}",
        "id_json_path": "event_id",
        "type_json_path": "event_type",
    }))
}

fn square() -> Generic {
    build(json!({
        "signature_header": "x-square-hmacsha256-signature",
        "signature_encoding": "base64",
        "signed_content": "{url}{body}",
        "id_json_path": "event_id",
        "type_json_path": "type",
    }))
}

fn slack() -> Generic {
    build(json!({
        "signature_header": "X-Slack-Signature",
        "signature_format": "prefix",
        "signature_prefix": "v0=",
        "signature_encoding": "hex",
        "signed_content": "v0:{ts}:{body}",
        "timestamp_header": "X-Slack-Request-Timestamp",
        "id_json_path": "event_id",
        "type_json_path": "event.type",
    }))
}

fn hubspot() -> Generic {
    build(json!({
        "signature_header": "X-HubSpot-Signature-v3",
        "signature_encoding": "base64",
        "signed_content": "{method}{url}{body}{ts}",
        "timestamp_header": "X-HubSpot-Request-Timestamp",
        "timestamp_unit": "ms",
        "id_json_path": "[*].eventId",
        "type_json_path": "[*].subscriptionType",
    }))
}

fn adyen_platform() -> Generic {
    build(json!({
        "signature_header": "HmacSignature",
        "key_encoding": "hex",
        "signature_encoding": "base64",
        "id_json_path": "data.sweep.id",
        "type_json_path": "type",
    }))
}

fn svix() -> Generic {
    build(json!({
        "signature_header": "webhook-signature",
        "signature_format": "space_list",
        "key_encoding": "base64",
        "signature_encoding": "base64",
        "signed_content": "{id}.{ts}.{body}",
        "timestamp_header": "webhook-timestamp",
        "id_header": "webhook-id",
        "type_json_path": "type",
    }))
}

/// A valid request for one provider configuration, at the instant it is valid.
struct Vector {
    name: &'static str,
    provider: Generic,
    request: TestRequest,
    secret: &'static str,
    now: u64,
}

impl Vector {
    fn verify(&self, request: &TestRequest, configured: &[&str]) -> Result<(), VerifyError> {
        self.provider
            .verify(&request.as_request(), &secrets(configured), at(self.now))
    }
}

/// The secret with its last character changed, still valid in its encoding (hex and base64
/// both accept `0` and `1`), so "wrong secret" means a wrong key, not an undecodable one.
fn other_secret(secret: &str) -> String {
    let (head, last) = secret.split_at(secret.len() - 1);
    format!("{head}{}", if last == "0" { "1" } else { "0" })
}

const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SQUARE_URL: &str = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9";
const SQUARE_BODY: &str = r#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#;
const ADYEN_BODY: &str = r#"{"data":{"balancePlatform":"Integration_tools_test","accountId":"BA32272223222H5HVKTBK4MLB","sweep":{"id":"SWPC42272223222H5HVKV6H8C64DP5","schedule":{"type":"balance"},"status":"active","targetAmount":{"currency":"EUR","value":0},"triggerAmount":{"currency":"EUR","value":0},"type":"pull","counterparty":{"balanceAccountId":"BA3227C223222H5HVKT3H9WLC"},"currency":"EUR"}},"environment":"test","type":"balancePlatform.balanceAccountSweep.updated"}"#;
const STRIPE_BODY: &str = r#"{"id":"evt_test_webhook","object":"event"}"#;
const STRIPE_SIG: &str = "88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a";
const STRIPE_ROLLED_SIG: &str = "9e010fbc4cc8f6c5dc44a6824569d0ab0d471b5fd81ab229d222117f0a69c435";
const PADDLE_SIG: &str = "d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02";
const ID_1: &str = r#"{"id":1}"#;

/// Every published or derived vector that the generic verifier covers.
fn vectors() -> Vec<Vector> {
    vec![
        Vector {
            name: "stripe",
            provider: stripe(),
            request: TestRequest::post(STRIPE_BODY)
                .header("Stripe-Signature", &format!("t=1492774577,v1={STRIPE_SIG}")),
            secret: "whsec_test_secret",
            now: 1_492_774_577,
        },
        Vector {
            name: "github docs",
            provider: github(),
            request: TestRequest::post("Hello, World!").header(
                "X-Hub-Signature-256",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            ),
            secret: "It's a Secret to Everybody",
            now: 1_700_000_000,
        },
        Vector {
            name: "github octokit",
            provider: github(),
            request: TestRequest::post(r#"{"foo":"bar"}"#).header(
                "X-Hub-Signature-256",
                "sha256=4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3",
            ),
            secret: "mysecret",
            now: 1_700_000_000,
        },
        Vector {
            name: "intercom",
            provider: intercom(),
            request: TestRequest::post(ID_1).header(
                "X-Hub-Signature",
                "sha1=9895ca0dac336600c9e133bf0df76fe9fedd8a2f",
            ),
            secret: "intercom-client-secret",
            now: 1_700_000_000,
        },
        Vector {
            name: "shopify",
            provider: shopify(),
            request: TestRequest::post(ID_1).header(
                "X-Shopify-Hmac-Sha256",
                "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0=",
            ),
            secret: "shop-secret",
            now: 1_700_000_000,
        },
        Vector {
            name: "typeform",
            provider: typeform(),
            request: TestRequest::post(ID_1).header(
                "Typeform-Signature",
                "sha256=DJu+9U6vGF+zgVNK10vFVcPMW7BpkElSez9XTIYqLcA=",
            ),
            secret: "typeform-secret",
            now: 1_700_000_000,
        },
        Vector {
            name: "calendly",
            provider: calendly(),
            request: TestRequest::post(ID_1).header(
                "Calendly-Webhook-Signature",
                "t=1700000000,v1=b15f428ac73a515ae072d3b743f76211ed3c4cc6c11a77223768add631bfd9bc",
            ),
            secret: "calendly-signing-key",
            now: 1_700_000_000,
        },
        Vector {
            name: "zoom",
            provider: zoom(),
            request: TestRequest::post(ID_1)
                .header("x-zm-request-timestamp", "1700000000")
                .header(
                    "x-zm-signature",
                    "v0=f7a5e93e8e2abbfb1a7ae0daba120e585bb96931fba79e0d0284fd3e802831d7",
                ),
            secret: "zoom-secret",
            now: 1_700_000_000,
        },
        Vector {
            name: "paddle (dummy h1 first, valid h1 last)",
            provider: paddle(),
            request: TestRequest::post("hello-world").header(
                "Paddle-Signature",
                &format!("ts=1696195954;h1=dummy;h1={PADDLE_SIG}"),
            ),
            secret: "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh",
            now: 1_696_195_954,
        },
        Vector {
            name: "square",
            provider: square(),
            request: TestRequest::post(SQUARE_BODY).url(SQUARE_URL).header(
                "x-square-hmacsha256-signature",
                "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=",
            ),
            secret: "Ibxx_5AKakO-3qeNVR61Dw",
            now: 1_700_000_000,
        },
        Vector {
            name: "square fake_id",
            provider: square(),
            request: TestRequest::post(r#"{"data":{"type":"webhooks","id":"fake_id"}}"#)
                .url("https://webhook.site/webhooks")
                .header(
                    "x-square-hmacsha256-signature",
                    "W3FlCNk5IA3ZQ2LHTWoajvzfaDu/OwY2tNHIHC3IUOA=",
                ),
            secret: "signature-key",
            now: 1_700_000_000,
        },
        Vector {
            name: "square >id<",
            provider: square(),
            request: TestRequest::post(r#"{"data":{"type":"webhooks","id":">id<"}}"#)
                .url("https://webhook.site/webhooks")
                .header(
                    "x-square-hmacsha256-signature",
                    "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=",
                ),
            secret: "signature-key",
            now: 1_700_000_000,
        },
        Vector {
            name: "slack",
            provider: slack(),
            request: TestRequest::post(SLACK_BODY)
                .header("X-Slack-Request-Timestamp", "1531420618")
                .header(
                    "X-Slack-Signature",
                    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
                ),
            secret: "8f742231b10e8888abcd99yyyzzz85a5",
            now: 1_531_420_618,
        },
        Vector {
            name: "hubspot v3 (milliseconds, method and url signed)",
            provider: hubspot(),
            request: TestRequest::post(r#"{"example_field":"example_value"}"#)
                .url("https://www.example.com/webhook_uri")
                .header("X-HubSpot-Request-Timestamp", "1564113600000")
                .header(
                    "X-HubSpot-Signature-v3",
                    "eT0ip2TKVpsIi1vb5C2Uu42eNdHL+oTE3NRZOF67O2U=",
                ),
            secret: "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
            now: 1_564_113_600,
        },
        Vector {
            name: "adyen platform (hex key)",
            provider: adyen_platform(),
            request: TestRequest::post(ADYEN_BODY).header(
                "HmacSignature",
                "9Qz9S/0xpar1klkniKdshxpAhRKbiSAewPpWoxKefQA=",
            ),
            secret: "D7DD5BA6146493707BF0BE7496F6404EC7A63616B7158EC927B9F54BB436765F",
            now: 1_700_000_000,
        },
        Vector {
            name: "standard webhooks (base64 key, id and ts signed)",
            provider: svix(),
            request: TestRequest::post(r#"{"test": 2432232314}"#)
                .header("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
                .header("webhook-timestamp", "1614265330")
                .header(
                    "webhook-signature",
                    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                ),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            now: 1_614_265_330,
        },
    ]
}

#[test]
fn every_vector_verifies_with_its_config() {
    for v in vectors() {
        assert_eq!(v.verify(&v.request, &[v.secret]), Ok(()), "{}", v.name);
    }
}

#[test]
fn every_vector_passes_under_the_second_configured_secret() {
    for v in vectors() {
        let wrong = other_secret(v.secret);
        assert_eq!(
            v.verify(&v.request, &[&wrong, v.secret]),
            Ok(()),
            "{}",
            v.name
        );
    }
}

#[test]
fn every_vector_fails_under_a_wrong_secret_or_none() {
    for v in vectors() {
        let wrong = other_secret(v.secret);
        assert_eq!(
            v.verify(&v.request, &[&wrong]),
            Err(VerifyError::SignatureMismatch),
            "{}",
            v.name
        );
        assert_eq!(
            v.verify(&v.request, &[]),
            Err(VerifyError::NoSecret),
            "{}",
            v.name
        );
    }
}

#[test]
fn every_vector_fails_with_one_flipped_body_byte() {
    for v in vectors() {
        let flipped = v.request.clone().body(flip_byte(&v.request.body));
        assert_eq!(
            v.verify(&flipped, &[v.secret]),
            Err(VerifyError::SignatureMismatch),
            "{}",
            v.name
        );
    }
}

#[test]
fn every_json_vector_fails_when_re_serialised() {
    for v in vectors() {
        if serde_json::from_slice::<Value>(&v.request.body).is_err() {
            continue; // form-encoded (Slack) and plain-text (Paddle, GitHub docs) bodies
        }
        let reserialised = v.request.clone().body(pretty(&v.request.body));
        assert_eq!(
            v.verify(&reserialised, &[v.secret]),
            Err(VerifyError::SignatureMismatch),
            "{}",
            v.name
        );
    }
}

#[test]
fn every_vector_fails_without_its_signature_header() {
    for v in vectors() {
        let name = v.provider.signature_header;
        let stripped = v.request.clone().without(name);
        assert_eq!(
            v.verify(&stripped, &[v.secret]),
            Err(VerifyError::MissingHeader(name)),
            "{}",
            v.name
        );
    }
}

#[test]
fn every_vector_fails_with_a_truncated_signature() {
    for v in vectors() {
        let name = v.provider.signature_header;
        let value = v.request.value(name);
        let truncated = v.request.clone().set(name, &value[..value.len() - 4]);
        assert_eq!(
            v.verify(&truncated, &[v.secret]),
            Err(VerifyError::SignatureMismatch),
            "{}",
            v.name
        );
    }
}

#[test]
fn signed_url_and_body_fields_matter_for_square() {
    let v = &vectors()[9];
    assert_eq!(v.name, "square");
    let other_url = v
        .request
        .clone()
        .url("https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9");
    assert_eq!(
        v.verify(&other_url, &[v.secret]),
        Err(VerifyError::SignatureMismatch)
    );
    assert_eq!(
        v.verify(&v.request, &["MCmhFRxGX82xMwg5FsaoQA"]),
        Err(VerifyError::SignatureMismatch)
    );
    let other_date = v
        .request
        .clone()
        .body(SQUARE_BODY.replace("2022-07-13", "2022-06-13"));
    assert_eq!(
        v.verify(&other_date, &[v.secret]),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn paddle_sdk_invalid_secrets_fail() {
    let v = &vectors()[8];
    for secret in [
        "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4",
        "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_vB/yIOnTOCWIvpBadM5jzBZPHc7OmdSo",
    ] {
        assert_eq!(
            v.verify(&v.request, &[secret]),
            Err(VerifyError::SignatureMismatch)
        );
    }
}

#[test]
fn stripe_rotation_header_verifies_under_either_secret_and_v0_alone_fails() {
    let p = stripe();
    let rotated = TestRequest::post(STRIPE_BODY).header(
        "Stripe-Signature",
        &format!("t=1492774577,v1={STRIPE_ROLLED_SIG},v1={STRIPE_SIG},v0=deadbeef"),
    );
    for secret in ["whsec_test_secret", "whsec_test_secret_rolled_key"] {
        assert_eq!(
            p.verify(
                &rotated.as_request(),
                &secrets(&[secret]),
                at(1_492_774_577)
            ),
            Ok(())
        );
    }
    let v0_only = TestRequest::post(STRIPE_BODY)
        .header("Stripe-Signature", &format!("t=1492774577,v0={STRIPE_SIG}"));
    assert_eq!(
        p.verify(
            &v0_only.as_request(),
            &secrets(&["whsec_test_secret"]),
            at(1_492_774_577)
        ),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn empty_signatures_fail_in_every_layout() {
    let cases = [
        (stripe(), "stripe-signature", "t=1492774577,v1="),
        (github(), "x-hub-signature-256", "sha256="),
        (svix(), "webhook-signature", "v1,"),
    ];
    for (p, name, value) in cases {
        let req = vectors()
            .into_iter()
            .find(|v| v.provider.signature_header == name)
            .expect("vector for this header");
        let emptied = req.request.clone().set(name, value);
        assert_eq!(
            p.verify(&emptied.as_request(), &secrets(&[req.secret]), at(req.now)),
            Err(VerifyError::SignatureMismatch),
            "{value}"
        );
    }
    let blank = TestRequest::post(ID_1).header("X-Shopify-Hmac-Sha256", "");
    assert_eq!(
        shopify().verify(&blank.as_request(), &secrets(&["shop-secret"]), at(0)),
        Err(VerifyError::MissingHeader("x-shopify-hmac-sha256"))
    );
}

#[test]
fn unprefixed_and_timestampless_headers_are_malformed() {
    let github_vector = TestRequest::post("Hello, World!").header(
        "X-Hub-Signature-256",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    );
    assert_eq!(
        github().verify(&github_vector.as_request(), &secrets(&["x"]), at(0)),
        Err(VerifyError::MalformedHeader("x-hub-signature-256"))
    );
    let no_ts =
        TestRequest::post(STRIPE_BODY).header("Stripe-Signature", &format!("v1={STRIPE_SIG}"));
    assert_eq!(
        stripe().verify(
            &no_ts.as_request(),
            &secrets(&["whsec_test_secret"]),
            at(1_492_774_577)
        ),
        Err(VerifyError::MalformedHeader("stripe-signature"))
    );
    let zoom_no_ts = TestRequest::post(ID_1).header(
        "x-zm-signature",
        "v0=f7a5e93e8e2abbfb1a7ae0daba120e585bb96931fba79e0d0284fd3e802831d7",
    );
    assert_eq!(
        zoom().verify(
            &zoom_no_ts.as_request(),
            &secrets(&["zoom-secret"]),
            at(1_700_000_000)
        ),
        Err(VerifyError::MissingHeader("x-zm-request-timestamp"))
    );
}

#[test]
fn timestamped_vectors_fail_past_tolerance_in_both_directions() {
    let tolerance = DEFAULT_TOLERANCE.as_secs();
    for v in vectors()
        .into_iter()
        .filter(|v| v.provider.timestamp.is_some())
    {
        let p = &v.provider;
        let req = v.request.as_request();
        let ok = secrets(&[v.secret]);
        assert_eq!(
            p.verify(&req, &ok, at(v.now + tolerance)),
            Ok(()),
            "{}",
            v.name
        );
        assert_eq!(
            p.verify(&req, &ok, at(v.now + tolerance + 1)),
            Err(VerifyError::StaleTimestamp),
            "{}",
            v.name
        );
        assert_eq!(
            p.verify(&req, &ok, at(v.now - tolerance - 1)),
            Err(VerifyError::FutureTimestamp),
            "{}",
            v.name
        );
    }
}

#[test]
fn slack_vector_fails_against_a_real_clock() {
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "slack")
        .expect("slack vector");
    let now = SystemTime::now();
    assert_eq!(
        v.provider
            .verify(&v.request.as_request(), &secrets(&[v.secret]), now),
        Err(VerifyError::StaleTimestamp)
    );
}

#[test]
fn a_tolerance_narrower_than_the_default_is_applied() {
    let calendly_docs = Generic::new(
        config(json!({
            "signature_header": "Calendly-Webhook-Signature",
            "signature_format": "kv_list",
            "signature_encoding": "hex",
            "signed_content": "{ts}.{body}",
            "id_from_body_sha256": true,
        })),
        Duration::from_secs(180),
    )
    .unwrap();
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "calendly")
        .unwrap();
    let ok = secrets(&[v.secret]);
    assert_eq!(
        calendly_docs.verify(&v.request.as_request(), &ok, at(v.now + 180)),
        Ok(())
    );
    assert_eq!(
        calendly_docs.verify(&v.request.as_request(), &ok, at(v.now + 181)),
        Err(VerifyError::StaleTimestamp)
    );
}

#[test]
fn linear_checks_the_body_timestamp_in_milliseconds_after_the_signature() {
    let p = linear();
    let sig = "83ef3b979d2b53e2206db9499f40a4e6a252d8026abd4317bd4ab9227b006cf6";
    let vector = TestRequest::post(ID_1).header("Linear-Signature", sig);
    // The derived vector's body has no webhookTimestamp: authentic, but not provably fresh.
    assert_eq!(
        p.verify(
            &vector.as_request(),
            &secrets(&["linear-secret"]),
            at(1_700_000_000)
        ),
        Err(VerifyError::StaleTimestamp)
    );
    assert_eq!(
        p.verify(
            &vector.as_request(),
            &secrets(&["wrong"]),
            at(1_700_000_000)
        ),
        Err(VerifyError::SignatureMismatch)
    );

    let body = br#"{"action":"create","type":"Issue","webhookTimestamp":1700000000123}"#;
    let now = at(1_700_000_000);
    let req = TestRequest::signed(&p, body, "d-1", "linear-secret", now);
    let ok = secrets(&["linear-secret"]);
    assert_eq!(p.verify(&req.as_request(), &ok, now), Ok(()));
    assert_eq!(
        p.verify(&req.as_request(), &ok, at(1_700_000_301)),
        Err(VerifyError::StaleTimestamp)
    );
    assert_eq!(
        p.verify(&req.as_request(), &ok, at(1_699_999_699)),
        Err(VerifyError::FutureTimestamp)
    );
    assert_eq!(
        p.events(&req.as_request()),
        Ok(vec![EventMeta {
            id: "d-1".into(),
            event_type: Some("Issue".into())
        }])
    );

    let example = p.example_body("d-2", "Issue");
    let sign = SignRequest {
        method: "POST",
        url: TEST_URL,
        body: &example,
        event_id: "d-2",
    };
    assert!(matches!(
        p.sign(&sign, &Secret::new("linear-secret"), now),
        Err(SignError::Unsupported(_))
    ));
}

#[test]
fn sign_then_verify_round_trips_for_every_config() {
    let configs: Vec<(Generic, &str)> = vec![
        (stripe(), "whsec_x"),
        (github(), "gh"),
        (intercom(), "ic"),
        (shopify(), "shop"),
        (typeform(), "tf"),
        (calendly(), "cal"),
        (zoom(), "zoom"),
        (paddle(), "pdl"),
        (square(), "sq"),
        (slack(), "slack"),
        (hubspot(), "hs"),
        (adyen_platform(), "0011aabb"),
        (svix(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ];
    let now = at(1_700_000_000);
    for (p, secret) in configs {
        let body = p.example_body("evt_42", "thing.happened");
        let req = TestRequest::signed(&p, &body, "evt_42", secret, now);
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&[secret]), now),
            Ok(()),
            "{p:?}"
        );
        let events = p.events(&req.as_request()).expect("events");
        assert_eq!(events.len(), 1, "{p:?}");
        let expected_id = match p.id {
            IdSource::BodySha256 => hex::encode(Sha256::digest(&body)),
            _ => "evt_42".into(),
        };
        assert_eq!(events[0].id, expected_id, "{p:?}");
        assert_eq!(
            events[0].event_type.as_deref(),
            Some("thing.happened"),
            "{p:?}"
        );
    }
}

#[test]
fn sign_reproduces_published_vectors() {
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "standard webhooks (base64 key, id and ts signed)")
        .unwrap();
    let signed = TestRequest::signed(
        &v.provider,
        &v.request.body,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        v.secret,
        at(v.now),
    );
    assert_eq!(
        signed.value("webhook-signature"),
        v.request.value("webhook-signature")
    );
    let v = vectors().into_iter().find(|v| v.name == "stripe").unwrap();
    let signed = TestRequest::signed(&v.provider, &v.request.body, "x", v.secret, at(v.now));
    assert_eq!(
        signed.value("stripe-signature"),
        v.request.value("stripe-signature")
    );
}

#[test]
fn non_utf8_bodies_verify_over_raw_bytes() {
    let now = at(1_700_000_000);
    for (p, secret) in [
        (shopify(), "shop"),
        (zoom(), "zoom"),
        (svix(), "whsec_AAECAwQ="),
    ] {
        let req = TestRequest::signed(&p, NON_UTF8_BODY, "evt_1", secret, now);
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&[secret]), now),
            Ok(()),
            "{p:?}"
        );
    }
    let events = zoom()
        .events(&TestRequest::post(NON_UTF8_BODY).as_request())
        .expect("body hash needs no JSON");
    assert_eq!(events[0].id, hex::encode(Sha256::digest(NON_UTF8_BODY)));
}

#[test]
fn batch_bodies_yield_one_event_per_element() {
    let body = br#"[
        {"eventId":1,"subscriptionId":12345,"portalId":62515,"subscriptionType":"contact.creation","attemptNumber":0},
        {"eventId":"2","subscriptionType":"contact.deletion"}
    ]"#;
    let events = hubspot().events(&TestRequest::post(&body[..]).as_request());
    assert_eq!(
        events,
        Ok(vec![
            EventMeta {
                id: "1".into(),
                event_type: Some("contact.creation".into())
            },
            EventMeta {
                id: "2".into(),
                event_type: Some("contact.deletion".into())
            },
        ])
    );
}

#[test]
fn batch_extraction_rejects_missing_ids_and_non_arrays() {
    let p = hubspot();
    let events = |body: &str| p.events(&TestRequest::post(body).as_request());
    assert_eq!(
        events(r#"[{"eventId":1},{"other":2}]"#),
        Err(ExtractError::MissingEventId("[*].eventId"))
    );
    assert_eq!(
        events("[]"),
        Err(ExtractError::MissingEventId("[*].eventId"))
    );
    assert!(matches!(
        events(r#"{"eventId":1}"#),
        Err(ExtractError::MalformedBody(_))
    ));
    assert!(matches!(
        events("not json"),
        Err(ExtractError::MalformedBody(_))
    ));
}

#[test]
fn body_id_extraction_needs_json_and_the_id() {
    let p = paddle();
    let events = |body: &[u8]| p.events(&TestRequest::post(body).as_request());
    assert_eq!(
        events(
            br#"{"event_id":"evt_01","notification_id":"ntf_01","event_type":"transaction.paid"}"#
        ),
        Ok(vec![EventMeta {
            id: "evt_01".into(),
            event_type: Some("transaction.paid".into())
        }])
    );
    assert_eq!(
        events(br#"{"notification_id":"ntf_01"}"#),
        Err(ExtractError::MissingEventId("event_id"))
    );
    assert_eq!(
        events(br#"{"event_id":""}"#),
        Err(ExtractError::MissingEventId("event_id"))
    );
    assert!(matches!(
        events(b"hello-world"),
        Err(ExtractError::MalformedBody(_))
    ));
    assert!(matches!(
        events(NON_UTF8_BODY),
        Err(ExtractError::MalformedBody(_))
    ));
    let nested = adyen_platform().events(&TestRequest::post(ADYEN_BODY).as_request());
    assert_eq!(
        nested,
        Ok(vec![EventMeta {
            id: "SWPC42272223222H5HVKV6H8C64DP5".into(),
            event_type: Some("balancePlatform.balanceAccountSweep.updated".into())
        }])
    );
}

#[test]
fn header_id_extraction_needs_the_header() {
    let req = TestRequest::post(ID_1).header("X-GitHub-Event", "push");
    assert_eq!(
        github().events(&req.as_request()),
        Err(ExtractError::MissingEventId("x-github-delivery"))
    );
    let req = req.header("X-GitHub-Delivery", "guid-1");
    assert_eq!(
        github().events(&req.as_request()),
        Ok(vec![EventMeta {
            id: "guid-1".into(),
            event_type: Some("push".into())
        }])
    );
}

#[test]
fn example_bodies_nest_the_id_at_its_path() {
    let p = build(json!({
        "signature_header": "sig",
        "signature_encoding": "hex",
        "id_json_path": "data.object.id",
        "type_json_path": "data.kind",
    }));
    let body: Value = serde_json::from_slice(&p.example_body("e1", "t1")).unwrap();
    assert_eq!(
        body,
        json!({"data": {"object": {"id": "e1"}, "kind": "t1"}})
    );
    let body: Value = serde_json::from_slice(&hubspot().example_body("e1", "t1")).unwrap();
    assert_eq!(body, json!([{"eventId": "e1", "subscriptionType": "t1"}]));
}

#[test]
fn kept_headers_are_the_id_and_type_headers_never_the_signature() {
    assert_eq!(
        github().kept_headers(),
        ["x-github-delivery", "x-github-event"]
    );
    assert!(stripe().kept_headers().is_empty());
    for v in vectors() {
        assert!(
            !v.provider
                .kept_headers()
                .contains(&v.provider.signature_header),
            "{}",
            v.name
        );
    }
}

#[test]
fn secrets_must_decode_with_the_key_encoding() {
    assert_eq!(adyen_platform().check_secret(&Secret::new("0a0B")), Ok(()));
    assert!(adyen_platform().check_secret(&Secret::new("0a0")).is_err());
    assert!(svix().check_secret(&Secret::new("whsec_***")).is_err());
    assert!(github().check_secret(&Secret::new("")).is_err());
    let sign = SignRequest {
        method: "POST",
        url: TEST_URL,
        body: ID_1.as_bytes(),
        event_id: "e",
    };
    assert_eq!(
        adyen_platform().sign(&sign, &Secret::new("xyz"), at(0)),
        Err(SignError::BadSecret(BAD_KEY))
    );
}

#[test]
fn config_deserialisation_rejects_unknown_fields_and_values() {
    let typo = serde_json::from_value::<GenericConfig>(json!({
        "signature_header": "sig", "signature_encoding": "hex", "id_header": "id", "signature_prefx": "x"
    }));
    assert!(typo.unwrap_err().to_string().contains("signature_prefx"));
    let bad_enum = serde_json::from_value::<GenericConfig>(json!({
        "signature_header": "sig", "signature_encoding": "base32", "id_header": "id"
    }));
    assert!(bad_enum.is_err());
    let missing_encoding = serde_json::from_value::<GenericConfig>(
        json!({"signature_header": "sig", "id_header": "id"}),
    );
    assert!(missing_encoding.is_err());
}

#[test]
fn invalid_configs_are_refused_with_the_reason() {
    let base = json!({"signature_header": "sig", "signature_encoding": "hex", "id_header": "x-id"});
    let with = |extra: Value| {
        let mut cfg = base.clone();
        cfg.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        cfg
    };
    let cases = [
        (
            with(json!({"signed_content": "{ts}.{body}"})),
            "no timestamp source",
        ),
        (
            with(json!({"signed_content": "{ts}.{body}", "timestamp_json_path": "ts"})),
            "cannot use {ts}",
        ),
        (
            with(json!({"signed_content": "{nonce}{body}"})),
            "unknown placeholder `{nonce}`",
        ),
        (with(json!({"signed_content": "{body"})), "unmatched brace"),
        (with(json!({"signed_content": "body}"})), "unmatched brace"),
        (
            with(json!({"signed_content": "{ts}"})),
            "must contain {body}",
        ),
        (
            with(json!({"signature_format": "prefix"})),
            "needs signature_prefix",
        ),
        (
            with(json!({"signature_format": "prefix", "signature_prefix": ""})),
            "needs signature_prefix",
        ),
        (
            with(json!({"signature_prefix": "sha256="})),
            "signature_prefix does not apply",
        ),
        (
            with(json!({"signature_key": "v1"})),
            "signature_key does not apply",
        ),
        (with(json!({"version": "v1"})), "version does not apply"),
        (
            with(json!({"signature_format": "kv_list", "signature_key": ""})),
            "signature_key must not be empty",
        ),
        (
            with(json!({"signature_format": "kv_list", "pair_separator": "="})),
            "must differ",
        ),
        (
            with(json!({"signature_format": "kv_list", "timestamp_key": "v1"})),
            "must differ",
        ),
        (
            with(json!({"signature_format": "space_list", "version": "v1,"})),
            "version must not contain",
        ),
        (
            with(json!({"timestamp_header": "ts", "timestamp_json_path": "ts"})),
            "at most one of timestamp",
        ),
        (
            with(
                json!({"signature_format": "kv_list", "timestamp_key": "t", "timestamp_header": "ts"}),
            ),
            "at most one of timestamp",
        ),
        (with(json!({"timestamp_unit": "ms"})), "no timestamp source"),
        (
            with(json!({"id_json_path": "id"})),
            "exactly one of id_header",
        ),
        (
            with(json!({"id_from_body_sha256": true})),
            "exactly one of id_header",
        ),
        (
            with(json!({"type_header": "t", "type_json_path": "type"})),
            "at most one of type_header",
        ),
        (
            with(json!({"type_json_path": "[*].type"})),
            "the same [*]. array as the id",
        ),
        (
            with(json!({"signature_header": "bad header"})),
            "not a valid header name",
        ),
        (
            with(json!({"id_header": "bad:header"})),
            "not a valid header name",
        ),
    ];
    for (cfg, expected) in cases {
        let message = build_error(cfg.clone());
        assert!(
            message.contains(expected),
            "{cfg}: got `{message}`, wanted `{expected}`"
        );
    }

    let no_id = json!({"signature_header": "sig", "signature_encoding": "hex"});
    assert!(build_error(no_id).contains("needs an event id source"));
    let id_in_template = json!({
        "signature_header": "sig", "signature_encoding": "hex", "signed_content": "{id}.{body}", "id_json_path": "id"
    });
    assert!(build_error(id_in_template).contains("{id}, which needs id_header"));
    let batch_type = json!({
        "signature_header": "sig", "signature_encoding": "hex", "id_json_path": "[*].id", "type_json_path": "type"
    });
    assert!(build_error(batch_type).contains("the same [*]. array as the id"));
    let mixed_arrays = json!({
        "signature_header": "sig", "signature_encoding": "hex", "id_json_paths": ["events[*].id", "other[*].id"]
    });
    assert!(build_error(mixed_arrays).contains("the same [*]. array"));
    let untimed_raw = json!({
        "signature_header": "sig", "signature_encoding": "hex", "untimed": true, "id_json_path": "id"
    });
    assert!(build_error(untimed_raw).contains("untimed applies to"));
    let empty_path =
        json!({"signature_header": "sig", "signature_encoding": "hex", "id_json_path": "data..id"});
    assert!(build_error(empty_path).contains("not a dotted path"));
    let empty_batch =
        json!({"signature_header": "sig", "signature_encoding": "hex", "id_json_path": "[*]."});
    assert!(build_error(empty_batch).contains("not a dotted path"));
}

#[test]
fn build_accepts_generic_settings_only_for_generic() {
    let cfg = config(
        json!({"signature_header": "sig", "signature_encoding": "hex", "id_header": "x-id"}),
    );
    let opts = crate::ProviderOptions {
        generic: Some(cfg),
        ..crate::ProviderOptions::default()
    };
    assert_eq!(
        crate::build("generic", &opts).map(|p| p.name()).ok(),
        Some("generic")
    );
    assert!(matches!(
        crate::build("stripe", &opts),
        Err(BuildError::Invalid(_))
    ));
    let empty = crate::ProviderOptions::default();
    assert!(matches!(
        crate::build("generic", &empty),
        Err(BuildError::Invalid(_))
    ));
}
