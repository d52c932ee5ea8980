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
        let mut req = app
            .client
            .post(url.clone())
            .header("content-type", "application/json")
            .body(body);
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
