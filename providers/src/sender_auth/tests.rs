//! The four sender-authenticated providers: credential checks (right, wrong, missing,
//! rotation, every batch item), handshakes answered byte for byte, per-item events.

use super::*;
use crate::test_support::{at, secrets, TestRequest};
use crate::{build, ProviderOptions};

fn provider(name: &str) -> Box<dyn Provider> {
    let opts = ProviderOptions {
        verify_token: (name == "strava").then(|| Secret::new("strava-verify")),
        ..ProviderOptions::default()
    };
    build(name, &opts).expect("builds")
}

fn verify(name: &str, req: &TestRequest, keys: &[&str]) -> Result<(), VerifyError> {
    provider(name).verify(&req.as_request(), &secrets(keys), at(1))
}

const OKTA_BODY: &str = r#"{"eventType":"com.okta.event_hook","eventId":"env-1","data":{"events":[{"uuid":"u-1","eventType":"user.session.start"},{"uuid":"u-2","eventType":"user.session.end"}]}}"#;

#[test]
fn okta_checks_the_authorization_header_and_splits_its_batch() {
    let req = TestRequest::post(OKTA_BODY).header("Authorization", "okta-hook-secret");
    assert_eq!(verify("okta", &req, &["okta-hook-secret"]), Ok(()));
    assert_eq!(
        verify("okta", &req, &["old", "okta-hook-secret"]),
        Ok(()),
        "rotation"
    );
    assert_eq!(
        verify("okta", &req, &["wrong"]),
        Err(VerifyError::SignatureMismatch)
    );
    assert_eq!(verify("okta", &req, &[]), Err(VerifyError::NoSecret));
    for bad in ["", "okta-hook-secre", "okta-hook-secret "] {
        let r = req.clone().set("Authorization", bad);
        assert!(
            verify("okta", &r, &["okta-hook-secret"]).is_err(),
            "{bad:?}"
        );
    }
    assert!(verify(
        "okta",
        &req.clone().without("Authorization"),
        &["okta-hook-secret"]
    )
    .is_err());
    let events = provider("okta").events(&req.as_request()).unwrap();
    let ids: Vec<_> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["u-1", "u-2"]);
    assert_eq!(events[1].event_type.as_deref(), Some("user.session.end"));
    assert!(!provider("okta").authenticates_body());
}

#[test]
fn okta_answers_its_one_time_verification_exactly() {
    let okta = provider("okta");
    let mut get =
        TestRequest::post(Vec::new()).header("X-Okta-Verification-Challenge", "cH4ll3ng3-xyz");
    get.method = "GET".into();
    let ok = okta
        .answer_handshake(&get.as_request(), &secrets(&[]))
        .unwrap()
        .unwrap();
    assert_eq!((ok.status, ok.content_type), (200, "application/json"));
    assert_eq!(ok.body, br#"{"verification":"cH4ll3ng3-xyz"}"#);
    assert_eq!(okta.handshake().methods(), ["GET"]);
    let mut plain = TestRequest::post(Vec::new());
    plain.method = "GET".into();
    assert!(okta
        .answer_handshake(&plain.as_request(), &secrets(&[]))
        .is_none());
}

#[test]
fn graph_checks_every_client_state_and_echoes_its_validation_token() {
    let body = r#"{"value":[{"subscriptionId":"s-1","clientState":"graph-state","changeType":"created","resource":"Users/1"},{"subscriptionId":"s-1","clientState":"graph-state","changeType":"updated","resource":"Users/1"}]}"#;
    let req = TestRequest::post(body);
    assert_eq!(verify("msgraph", &req, &["graph-state"]), Ok(()));
    assert_eq!(verify("msgraph", &req, &["x", "graph-state"]), Ok(()));
    assert_eq!(
        verify("msgraph", &req, &["wrong"]),
        Err(VerifyError::SignatureMismatch)
    );
    let smuggled = body.replacen(
        r#""clientState":"graph-state","changeType":"updated""#,
        r#""changeType":"updated""#,
        1,
    );
    assert_ne!(smuggled, body);
    assert_eq!(
        verify("msgraph", &TestRequest::post(smuggled), &["graph-state"]),
        Err(VerifyError::SignatureMismatch),
        "one item without the secret fails the whole batch"
    );
    assert!(verify(
        "msgraph",
        &TestRequest::post(r#"{"value":[]}"#),
        &["graph-state"]
    )
    .is_err());
    assert!(verify("msgraph", &TestRequest::post("not json"), &["graph-state"]).is_err());
    let events = provider("msgraph").events(&req.as_request()).unwrap();
    assert_eq!(events.len(), 2);
    assert_ne!(events[0].id, events[1].id);
    assert!(events[0].id.starts_with("s-1:"));
    assert_eq!(events[0].event_type.as_deref(), Some("created"));

    let graph = provider("msgraph");
    let handshake = TestRequest::post(Vec::new())
        .url("https://hooks.example.com/webhooks/graph?validationToken=Validation%3A%20Testing%20client%20application");
    let ok = graph
        .answer_handshake(&handshake.as_request(), &secrets(&[]))
        .unwrap()
        .unwrap();
    assert_eq!(
        ok.body, b"Validation: Testing client application",
        "URL-decoded"
    );
    assert!(ok.content_type.starts_with("text/plain"));
    assert!(graph
        .answer_handshake(&req.as_request(), &secrets(&[]))
        .is_none());
    assert!(graph.handshake().methods().is_empty(), "a POST handshake");
}

#[test]
fn event_grid_checks_the_endpoint_key_and_answers_its_validation_after_it() {
    let grid = provider("azure-eventgrid");
    let url = "https://hooks.example.com/webhooks/grid?code=eg-key";
    let body = r#"[{"id":"e-1","eventType":"Microsoft.Storage.BlobCreated","data":{}},{"id":"e-2","eventType":"Microsoft.Storage.BlobDeleted","data":{}}]"#;
    let req = TestRequest::post(body)
        .url(url)
        .header("aeg-event-type", "Notification");
    assert_eq!(verify("azure-eventgrid", &req, &["eg-key"]), Ok(()));
    assert_eq!(verify("azure-eventgrid", &req, &["old", "eg-key"]), Ok(()));
    assert_eq!(
        verify("azure-eventgrid", &req, &["wrong"]),
        Err(VerifyError::SignatureMismatch)
    );
    let no_key = req.clone().url("https://hooks.example.com/webhooks/grid");
    assert!(verify("azure-eventgrid", &no_key, &["eg-key"]).is_err());
    let ids: Vec<_> = grid
        .events(&req.as_request())
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["e-1", "e-2"]);
    assert!(grid
        .challenge(&req.as_request(), &secrets(&["eg-key"]))
        .is_none());

    let validation = TestRequest::post(r#"[{"id":"v-1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://rp-eastus2.eventgrid.azure.net/x"}}]"#)
        .url(url)
        .header("aeg-event-type", "SubscriptionValidation");
    assert_eq!(verify("azure-eventgrid", &validation, &["eg-key"]), Ok(()));
    let ok = grid
        .challenge(&validation.as_request(), &secrets(&["eg-key"]))
        .unwrap();
    assert_eq!(
        ok.body,
        br#"{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}"#
    );
    assert!(
        ok.confirm_url.is_none(),
        "validationUrl from the request is never fetched"
    );
}

#[test]
fn strava_answers_its_hub_challenge_as_json_and_checks_the_subscription_id() {
    let strava = provider("strava");
    let mut get = TestRequest::post(Vec::new()).url(
        "https://x/webhooks/strava?hub.verify_token=strava-verify&hub.challenge=15f7d1a91c1f40f8a748fd134752feb3&hub.mode=subscribe",
    );
    get.method = "GET".into();
    let ok = strava
        .answer_handshake(&get.as_request(), &secrets(&["120475"]))
        .unwrap()
        .unwrap();
    assert_eq!(
        ok.body,
        br#"{"hub.challenge":"15f7d1a91c1f40f8a748fd134752feb3"}"#
    );
    assert_eq!(ok.content_type, "application/json");
    let wrong = get
        .clone()
        .url("https://x/webhooks/strava?hub.verify_token=guess&hub.challenge=c&hub.mode=subscribe");
    assert!(matches!(
        strava.answer_handshake(&wrong.as_request(), &secrets(&[])),
        Some(Err(_))
    ));

    let body = r#"{"aspect_type":"update","event_time":1516126040,"object_id":1360128428,"object_type":"activity","owner_id":134815,"subscription_id":120475,"updates":{"title":"Messy"}}"#;
    let req = TestRequest::post(body);
    assert_eq!(verify("strava", &req, &["120475"]), Ok(()));
    assert_eq!(
        verify("strava", &req, &["999"]),
        Err(VerifyError::SignatureMismatch)
    );
    let events = strava.events(&req.as_request()).unwrap();
    assert_eq!(events[0].id, "activity:1360128428:update:1516126040");
}

#[test]
fn every_sender_auth_provider_signs_its_example_and_performs_its_handshake() {
    for name in ["okta", "msgraph", "azure-eventgrid", "strava"] {
        let p = provider(name);
        let secret = Secret::new(if name == "strava" {
            "120475"
        } else {
            "the-secret"
        });
        let body = p.example_body("evt_9", "thing.happened");
        let url = "https://hooks.example.com/webhooks/s";
        let signed = p
            .sign_request(
                &SignRequest {
                    method: "POST",
                    url,
                    body: &body,
                    event_id: "evt_9",
                },
                &secret,
                at(1),
            )
            .unwrap();
        let body = signed.body.unwrap_or(body);
        let url = match &signed.query {
            Some(q) => crate::append_query(url, q),
            None => url.to_string(),
        };
        let req = signed
            .headers
            .iter()
            .fold(TestRequest::post(body.clone()).url(&url), |r, (k, v)| {
                r.header(k, v)
            });
        let keys = Secrets::new(vec![secret.clone()]);
        assert_eq!(p.verify(&req.as_request(), &keys, at(1)), Ok(()), "{name}");
        let events = p.events(&req.as_request()).unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.id.contains("evt_9") || e.id.contains(':')),
            "{name}: {events:?}"
        );
        let hs = p
            .handshake_request(url.split('?').next().unwrap(), &secret, at(1))
            .unwrap()
            .expect("a handshake");
        let hs_url = match &hs.query {
            Some(q) => crate::append_query("https://hooks.example.com/webhooks/s", q),
            None => "https://hooks.example.com/webhooks/s".to_string(),
        };
        let mut hreq = hs.headers.iter().fold(
            TestRequest::post(hs.body.clone()).url(&hs_url),
            |r, (k, v)| r.header(k, v),
        );
        hreq.method = hs.method.into();
        let answered = match p.answer_handshake(&hreq.as_request(), &keys) {
            Some(answer) => answer.is_ok(),
            None => {
                p.verify(&hreq.as_request(), &keys, at(1)).is_ok()
                    && p.challenge(&hreq.as_request(), &keys).is_some()
            }
        };
        assert!(answered, "{name}: its own handshake is answered");
    }
}
