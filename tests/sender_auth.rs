//! Okta, Microsoft Graph, Azure Event Grid and Strava end to end: their handshakes answered
//! byte for byte on the methods they use (and only for their sources), nothing stored by a
//! handshake, their credential checked, batches one event per item, and a start-up warning
//! that they authenticate the sender only.

mod common;

use common::*;

fn extra(dir: &std::path::Path) -> String {
    let secret = |name: &str, value: &str| {
        let path = dir.join(name);
        std::fs::write(&path, value).unwrap();
        format!("file:{}", path.display())
    };
    format!(
        "\n[sources.okta]\nprovider = \"okta\"\nsecrets = [\"{}\"]\n\
         \n[sources.graph]\nprovider = \"msgraph\"\nsecrets = [\"{}\"]\n\
         \n[sources.grid]\nprovider = \"azure-eventgrid\"\nsecrets = [\"{}\"]\n\
         \n[sources.strava]\nprovider = \"strava\"\nsecrets = [\"{}\"]\nverify_token = \"{}\"\n",
        secret("okta", "okta-hook-secret"),
        secret("graph", "graph-state"),
        secret("grid", "eg-key"),
        secret("strava", "120475"),
        secret("strava_token", "strava-verify"),
    )
}

async fn app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let extra = extra(dir.path());
    spawn_app_on(dir, &url, "", &extra).await
}

#[tokio::test]
async fn the_config_warns_for_every_sender_only_source() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path(), &sqlite_url(dir.path()), "", &extra(dir.path()));
    let resolved = hookgate::config::Config::from_toml(&text)
        .unwrap()
        .resolve()
        .unwrap();
    for source in ["okta", "graph", "grid", "strava"] {
        assert!(
            resolved
                .warnings
                .iter()
                .any(|w| w.starts_with(&format!("sources.{source}:"))
                    && w.contains("only the sender")),
            "{source}: {:?}",
            resolved.warnings
        );
    }
    assert!(!resolved
        .warnings
        .iter()
        .any(|w| w.starts_with("sources.stripe:") && w.contains("only the sender")));
}

#[tokio::test]
async fn handshakes_are_answered_as_each_provider_expects_and_store_nothing() {
    let app = app().await;
    let c = &app.client;
    // Okta: GET with the challenge header.
    let okta = c
        .get(app.url("/webhooks/okta"))
        .header("X-Okta-Verification-Challenge", "cH4ll3ng3")
        .send()
        .await
        .unwrap();
    assert_eq!(okta.status(), 200);
    assert_eq!(okta.headers()["content-type"], "application/json");
    assert_eq!(
        okta.bytes().await.unwrap().as_ref(),
        br#"{"verification":"cH4ll3ng3"}"#
    );
    // Graph: POST with validationToken, answered URL-decoded as text/plain.
    let graph = c
        .post(app.url("/webhooks/graph?validationToken=Validation%3A%20Testing"))
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(graph.status(), 200);
    assert!(graph.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(
        graph.bytes().await.unwrap().as_ref(),
        b"Validation: Testing"
    );
    // Event Grid: the validation event, only with the endpoint key.
    let validation = r#"[{"id":"v-1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"512d38b6"}}]"#;
    let grid = c
        .post(app.url("/webhooks/grid?code=eg-key"))
        .header("aeg-event-type", "SubscriptionValidation")
        .body(validation)
        .send()
        .await
        .unwrap();
    assert_eq!(grid.status(), 200);
    assert_eq!(
        grid.bytes().await.unwrap().as_ref(),
        br#"{"validationResponse":"512d38b6"}"#
    );
    let keyless = c
        .post(app.url("/webhooks/grid"))
        .header("aeg-event-type", "SubscriptionValidation")
        .body(validation)
        .send()
        .await
        .unwrap();
    assert_eq!(keyless.status(), 401);
    // Strava: GET hub.challenge answered as JSON when the verify token matches.
    let strava = c.get(app.url("/webhooks/strava?hub.verify_token=strava-verify&hub.challenge=15f7d1a9&hub.mode=subscribe")).send().await.unwrap();
    assert_eq!(strava.status(), 200);
    assert_eq!(
        strava.bytes().await.unwrap().as_ref(),
        br#"{"hub.challenge":"15f7d1a9"}"#
    );
    let guessed = c
        .get(app.url("/webhooks/strava?hub.verify_token=guess&hub.challenge=1&hub.mode=subscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(guessed, 401).await["code"],
        "invalid_signature"
    );
    // Only the methods each provider uses.
    for (method, source) in [
        ("GET", "graph"),
        ("GET", "grid"),
        ("HEAD", "okta"),
        ("GET", "stripe"),
    ] {
        let resp = c
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(&format!("/webhooks/{source}")),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method} {source}");
    }
    assert_eq!(
        app.server.store().count_events().await.unwrap(),
        0,
        "handshakes store nothing"
    );
}

#[tokio::test]
async fn deliveries_need_the_credential_and_batches_count_per_item() {
    let app = app().await;
    let c = &app.client;
    let okta_body = r#"{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"u-1","eventType":"a"},{"uuid":"u-2","eventType":"b"}]}}"#;
    let post = |path: &str, auth: Option<&str>, body: &str| {
        let mut req = c
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        req.send()
    };
    let first = json_with_status(
        post("/webhooks/okta", Some("okta-hook-secret"), okta_body)
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        (first["accepted"].as_u64(), first["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    let again = json_with_status(
        post("/webhooks/okta", Some("okta-hook-secret"), okta_body)
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(again["duplicates"].as_u64(), Some(2));
    let wrong = post("/webhooks/okta", Some("guess"), okta_body)
        .await
        .unwrap();
    assert_eq!(
        json_with_status(wrong, 401).await["code"],
        "invalid_signature"
    );

    let graph_body = r#"{"value":[{"subscriptionId":"s-1","clientState":"graph-state","changeType":"created","resource":"Users/1"}]}"#;
    assert_eq!(
        post("/webhooks/graph", None, graph_body)
            .await
            .unwrap()
            .status(),
        200
    );
    let forged = graph_body.replace("graph-state", "guess");
    assert_eq!(
        post("/webhooks/graph", None, &forged)
            .await
            .unwrap()
            .status(),
        401
    );

    let grid_body = r#"[{"id":"e-1","eventType":"x"},{"id":"e-2","eventType":"y"}]"#;
    let grid = json_with_status(
        post("/webhooks/grid?code=eg-key", None, grid_body)
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(grid["accepted"].as_u64(), Some(2));
    assert_eq!(
        post("/webhooks/grid?code=nope", None, grid_body)
            .await
            .unwrap()
            .status(),
        401
    );

    let strava_body = r#"{"aspect_type":"create","event_time":1516126040,"object_id":1360128428,"object_type":"activity","owner_id":134815,"subscription_id":120475}"#;
    assert_eq!(
        post("/webhooks/strava", None, strava_body)
            .await
            .unwrap()
            .status(),
        200
    );
    let other = strava_body.replace("120475", "1");
    assert_eq!(
        post("/webhooks/strava", None, &other)
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(app.server.store().count_events().await.unwrap(), 6);
}
