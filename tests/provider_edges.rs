//! Gateway behaviour that depends on a provider's scheme: Mailgun's body-less signature needs
//! the replay-token cache in the store, and Twilio signs the public URL including its query.

mod common;

use common::*;
use hookgate_providers::{ProviderOptions, Secret, SignRequest};
use std::time::SystemTime;

const MAILGUN_KEY: &str = "mailgun-signing-key";
const TWILIO_TOKEN: &str = "twilio-auth-token";
const TWILIO_PUBLIC_URL: &str = "https://hooks.example.com/webhooks/twilio";

fn extra(dir: &std::path::Path) -> String {
    std::fs::write(dir.join("mailgun"), MAILGUN_KEY).unwrap();
    std::fs::write(dir.join("twilio"), TWILIO_TOKEN).unwrap();
    format!(
        "\n[sources.mailgun]\nprovider = \"mailgun\"\nsecrets = [\"file:{}\"]\n\n[sources.twilio]\nprovider = \"twilio\"\nsecrets = [\"file:{}\"]\npublic_url = \"{TWILIO_PUBLIC_URL}\"\n",
        dir.join("mailgun").display(),
        dir.join("twilio").display()
    )
}

async fn app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let extra = extra(dir.path());
    spawn_app_on(dir, &url, "", &extra).await
}

fn signed(
    provider: &str,
    secret: &str,
    url: &str,
    body: &[u8],
    event_id: &str,
) -> hookgate_providers::SignedRequest {
    let p = hookgate_providers::build(provider, &ProviderOptions::default()).unwrap();
    p.sign_request(
        &SignRequest {
            method: "POST",
            url,
            body,
            event_id,
        },
        &Secret::new(secret.as_bytes().to_vec()),
        SystemTime::now(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_mailgun_signature_lifted_onto_another_body_is_refused() {
    let app = app().await;
    let p = hookgate_providers::build("mailgun", &ProviderOptions::default()).unwrap();
    let example = p.example_body("mg-evt-1", "delivered");
    let s = signed("mailgun", MAILGUN_KEY, "http://x/", &example, "mg-evt-1");
    let body = s.body.clone().unwrap();
    let ok = json_with_status(app.post("mailgun", body.clone(), &s.headers).await, 200).await;
    assert_eq!(
        (ok["status"].as_str(), ok["event_id"].as_str()),
        (Some("accepted"), Some("mg-evt-1"))
    );

    // Mailgun retrying the very same request: a duplicate, not an attack.
    let again = json_with_status(app.post("mailgun", body.clone(), &s.headers).await, 200).await;
    assert_eq!(again["status"], "duplicate");

    // The same (timestamp, token, signature) attached to a forged event: the MAC still
    // verifies, so only the token cache can tell.
    let mut forged: serde_json::Value = serde_json::from_slice(&body).unwrap();
    forged["event-data"]["id"] = "mg-forged".into();
    forged["event-data"]["event"] = "unsubscribed".into();
    let p = json_with_status(
        app.post("mailgun", forged.to_string(), &s.headers).await,
        401,
    )
    .await;
    assert_eq!(
        (p["code"].as_str(), p["reason"].as_str()),
        (Some("invalid_signature"), Some("replayed_token"))
    );
    assert!(app
        .server
        .store()
        .find_event("mailgun", "mg-forged")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn twilio_json_is_verified_against_the_public_url_with_its_query() {
    let app = app().await;
    let body = br#"{"MessageSid":"SM123","MessageStatus":"delivered"}"#;
    let s = signed("twilio", TWILIO_TOKEN, TWILIO_PUBLIC_URL, body, "SM123");
    let query = s
        .query
        .clone()
        .expect("Twilio signs bodySHA256 in the query");
    let url = app.url(&format!("/webhooks/twilio?{query}"));
    let send = |body: Vec<u8>| {
        let mut req = app.client.post(url.clone()).body(body);
        // The signed headers carry the JSON content type (once: Twilio's scheme depends on it,
        // so a repeat is refused).
        for (k, v) in &s.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req.send()
    };
    let ok = json_with_status(send(body.to_vec()).await.unwrap(), 200).await;
    assert_eq!(ok["status"], "accepted");
    let mut tampered = body.to_vec();
    tampered[5] ^= 1;
    json_with_status(send(tampered).await.unwrap(), 401).await;
}

// --- Handshakes and batches of the preset providers ------------------------------------------

const META_SECRET: &str = "meta-app-secret";
const META_VERIFY_TOKEN: &str = "meta-verify-token";

async fn preset_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let secret = |name: &str, value: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, value).unwrap();
        format!("file:{}", path.display())
    };
    let mut extra = String::new();
    for (source, value) in [
        ("meta", META_SECRET),
        ("dropbox", "dbx-app-secret"),
        ("trello", "trello-secret"),
        ("x", "x-consumer-secret"),
        ("twitch", "twitch-secret-123"),
        ("line", "line-channel-secret"),
        ("gocardless", "gc-secret"),
        ("woocommerce", "woo-secret"),
        ("razorpay", "rzp-secret"),
        ("smartsheet", "ss-secret"),
    ] {
        extra.push_str(&format!(
            "\n[sources.{source}]\nprovider = \"{source}\"\nsecrets = [\"{}\"]\n",
            secret(source, value)
        ));
        if source == "meta" {
            extra.push_str(&format!(
                "verify_token = \"{}\"\n",
                secret("meta_token", META_VERIFY_TOKEN)
            ));
        }
    }
    spawn_app_on(dir, &url, "", &extra).await
}

fn preset_signed(provider: &str, secret: &str, body: &[u8]) -> Vec<(String, String)> {
    signed(provider, secret, "http://x/", body, "unused").headers
}

async fn challenges_counted(app: &TestApp, source: &str) -> u64 {
    let text = app.metrics_text().await;
    text.lines()
        .filter(|line| {
            line.starts_with("hookgate_ingest_requests_total")
                && line.contains("outcome=\"challenge\"")
                && line.contains(&format!("source=\"{source}\""))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn meta_hub_challenge_is_echoed_byte_exactly_and_stores_nothing() {
    let app = preset_app().await;
    let url = |token: &str| {
        app.url(&format!(
            "/webhooks/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}"
        ))
    };
    let ok = app.client.get(url(META_VERIFY_TOKEN)).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(ok.bytes().await.unwrap().as_ref(), b"1158201444");

    let wrong = app.client.get(url("guess")).send().await.unwrap();
    let problem = json_with_status(wrong, 401).await;
    assert_eq!(problem["code"], "invalid_signature");

    assert_eq!(app.server.store().count_events().await.unwrap(), 0);
    assert_eq!(challenges_counted(&app, "meta").await, 1);
}

#[tokio::test]
async fn only_sources_with_a_get_or_head_handshake_answer_those_methods() {
    let app = preset_app().await;
    for source in ["razorpay", "stripe", "github", "line"] {
        let got = app
            .client
            .get(app.url(&format!("/webhooks/{source}?challenge=1")))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 405, "{source}");
        assert_eq!(got.headers()["allow"], "POST", "{source}");
    }
    // Trello answers HEAD, not GET; Dropbox GET, not HEAD.
    let head = app
        .client
        .head(app.url("/webhooks/trello"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let trello_get = app
        .client
        .get(app.url("/webhooks/trello"))
        .send()
        .await
        .unwrap();
    assert_eq!(trello_get.status(), 405);
    let dropbox_head = app
        .client
        .head(app.url("/webhooks/dropbox?challenge=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(dropbox_head.status(), 405);
    let put = app
        .client
        .put(app.url("/webhooks/meta"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    let unknown = app
        .client
        .get(app.url("/webhooks/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn dropbox_and_x_challenges_are_answered_as_the_providers_expect() {
    let app = preset_app().await;
    let dropbox = app
        .client
        .get(app.url("/webhooks/dropbox?challenge=Zm9vYmFy%3C"))
        .send()
        .await
        .unwrap();
    assert_eq!(dropbox.status(), 200);
    assert_eq!(dropbox.headers()["x-content-type-options"], "nosniff");
    assert_eq!(dropbox.bytes().await.unwrap().as_ref(), b"Zm9vYmFy<");

    let x = app
        .client
        .get(app.url("/webhooks/x?crc_token=crc-token-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(x.status(), 200);
    assert_eq!(
        x.text().await.unwrap(),
        r#"{"response_token":"sha256=YUsT0aLbF0VtFGcLCND1EU/aQP0sjPL19cPulVY7Wes="}"#
    );
    let missing = app.client.get(app.url("/webhooks/x")).send().await.unwrap();
    assert_eq!(missing.status(), 400);
    assert_eq!(app.server.store().count_events().await.unwrap(), 0);
    assert_eq!(challenges_counted(&app, "dropbox").await, 1);
    assert_eq!(challenges_counted(&app, "x").await, 1);
}

#[tokio::test]
async fn twitch_verification_is_verified_then_echoed_and_never_stored() {
    let app = preset_app().await;
    let body = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387","type":"channel.follow"}}"#;
    let mut headers = preset_signed("twitch", "twitch-secret-123", body);
    headers.push((
        "Twitch-Eventsub-Message-Type".into(),
        "webhook_callback_verification".into(),
    ));
    let ok = app.post("twitch", body.to_vec(), &headers).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "pogchamp-kappa-360noscope-vohiyo");

    let mut forged = body.to_vec();
    forged[20] ^= 1;
    let refused = app.post("twitch", forged, &headers).await;
    assert_eq!(
        json_with_status(refused, 401).await["code"],
        "invalid_signature"
    );
    assert_eq!(app.server.store().count_events().await.unwrap(), 0);
}

#[tokio::test]
async fn woocommerce_ping_and_smartsheet_challenge_are_answered_unsigned() {
    let app = preset_app().await;
    let ping = app
        .client
        .post(app.url("/webhooks/woocommerce"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("webhook_id=17")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 200);
    let not_a_ping = app
        .client
        .post(app.url("/webhooks/woocommerce"))
        .body(r#"{"id":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(not_a_ping, 401).await["code"],
        "invalid_signature"
    );

    let challenge = app
        .client
        .post(app.url("/webhooks/smartsheet"))
        .header("Smartsheet-Hook-Challenge", "d1a5-challenge")
        .body(r#"{"challenge":"d1a5-challenge","webhookId":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(challenge.status(), 200);
    assert_eq!(
        challenge.headers()["smartsheet-hook-response"],
        "d1a5-challenge"
    );
    assert_eq!(app.server.store().count_events().await.unwrap(), 0);
}

#[tokio::test]
async fn batches_are_deduplicated_per_item() {
    let app = preset_app().await;
    let first =
        br#"{"events":[{"id":"EV001","action":"created"},{"id":"EV002","action":"paid_out"}]}"#;
    let answer = json_with_status(
        app.post(
            "gocardless",
            first.to_vec(),
            &preset_signed("gocardless", "gc-secret", first),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
        (Some(2), Some(0))
    );

    // A later request repeating one event and adding another.
    let second =
        br#"{"events":[{"id":"EV002","action":"paid_out"},{"id":"EV003","action":"confirmed"}]}"#;
    let answer = json_with_status(
        app.post(
            "gocardless",
            second.to_vec(),
            &preset_signed("gocardless", "gc-secret", second),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(app.server.store().count_events().await.unwrap(), 3);

    // LINE's console "Verify" is a signed empty batch: 200, nothing stored.
    let verify = br#"{"destination":"U1","events":[]}"#;
    let ok = app
        .post(
            "line",
            verify.to_vec(),
            &preset_signed("line", "line-channel-secret", verify),
        )
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(app.server.store().count_events().await.unwrap(), 3);

    // Meta: one event per entry.
    let meta = br#"{"object":"page","entry":[{"id":"p1","time":1700000000,"changes":[]},{"id":"p2","time":1700000001,"changes":[]}]}"#;
    let answer = json_with_status(
        app.post(
            "meta",
            meta.to_vec(),
            &preset_signed("meta", META_SECRET, meta),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(answer["accepted"].as_u64(), Some(2));
    let again = json_with_status(
        app.post(
            "meta",
            meta.to_vec(),
            &preset_signed("meta", META_SECRET, meta),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (again["status"].as_str(), again["duplicates"].as_u64()),
        (Some("duplicate"), Some(2))
    );
}

#[tokio::test]
async fn sns_notifications_verify_under_configured_certificates_and_confirmations_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let cert = dir.path().join("sns.pem");
    std::fs::write(&cert, include_str!("../providers/src/sns/test-cert.pem")).unwrap();
    let extra = format!(
        "\n[sources.sns]\nprovider = \"aws-sns\"\nsecrets = [\"file:{}\"]\ntopic_arns = [\"arn:aws:sns:us-east-1:123456789012:hookgate-orders\"]\n",
        cert.display()
    );
    let app = spawn_app_on(dir, &url, "", &extra).await;
    let notification = include_str!("../providers/src/sns/sns-v2.json");
    let headers = vec![(
        "x-amz-sns-message-type".to_string(),
        "Notification".to_string(),
    )];
    let ok = json_with_status(app.post("sns", notification, &headers).await, 200).await;
    assert_eq!(
        (ok["status"].as_str(), ok["event_id"].as_str()),
        (
            Some("accepted"),
            Some("22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324")
        )
    );
    let again = json_with_status(app.post("sns", notification, &headers).await, 200).await;
    assert_eq!(again["status"], "duplicate");

    let forged = notification.replace("{\\\"order\\\":42}", "{\\\"order\\\":43}");
    assert_ne!(forged, notification);
    let refused = json_with_status(app.post("sns", forged, &headers).await, 401).await;
    assert_eq!(refused["code"], "invalid_signature");

    let confirmation = include_str!("../providers/src/sns/sns-confirm.json");
    let confirm_headers = vec![(
        "x-amz-sns-message-type".to_string(),
        "SubscriptionConfirmation".to_string(),
    )];
    let answered = app.post("sns", confirmation, &confirm_headers).await;
    assert_eq!(answered.status(), 200);
    assert_eq!(app.server.store().count_events().await.unwrap(), 1);
}

#[tokio::test]
async fn ebay_challenge_code_is_answered_from_the_configured_token_and_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let key = dir.path().join("ebay.json");
    let token = dir.path().join("ebay_token");
    std::fs::write(&token, "verification-token-0123456789-abcdefghij").unwrap();
    std::fs::write(
        &key,
        r#"{"kid":"k1","key":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==\n-----END PUBLIC KEY-----\n"}"#,
    )
    .unwrap();
    let extra = format!(
        "\n[sources.ebay]\nprovider = \"ebay\"\nsecrets = [\"file:{}\"]\nverify_token = \"file:{}\"\npublic_url = \"https://example.com/ebay/deletion\"\n",
        key.display(),
        token.display()
    );
    let app = spawn_app_on(dir, &url, "", &extra).await;
    let answer = app
        .client
        .get(app.url("/webhooks/ebay?challenge_code=abc123"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json");
    assert_eq!(
        answer.text().await.unwrap(),
        r#"{"challengeResponse":"2b1667b4202e808330e79d3e345d9d4b528430e913fc03e57bab482156d571d2"}"#
    );
    assert_eq!(app.server.store().count_events().await.unwrap(), 0);
}
