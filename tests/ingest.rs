//! Ingest behaviour against the running server on the embedded store: accepted → duplicate,
//! every bad input's status and problem code, store outages, and concurrent repeats.

mod common;

use common::*;
use futures::StreamExt;
use std::time::{Duration, SystemTime};

fn stripe_event(id: &str) -> String {
    format!(r#"{{"id":"{id}","object":"event","type":"payment_intent.succeeded"}}"#)
}

#[tokio::test]
async fn first_arrival_is_accepted_and_repeats_are_duplicates_of_it() {
    let app = spawn_app().await;
    let body = stripe_event("evt_1");
    let first = json_with_status(app.post_stripe(&body).await, 200).await;
    assert_eq!(first["status"], "accepted");
    assert_eq!(first["event_id"], "evt_1");
    assert_eq!(first["accepted"], 1);

    // A provider retry: same event, fresh signature and timestamp.
    let again = json_with_status(app.post_stripe(&body).await, 200).await;
    assert_eq!(again["status"], "duplicate");
    assert_eq!(
        again["id"], first["id"],
        "a duplicate answers with the original record's id"
    );
    assert_eq!(again["duplicates"], 1);

    let stored = app
        .server
        .store()
        .find_event("stripe", "evt_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.body, body.as_bytes());
    assert_eq!(
        stored.event_type.as_deref(),
        Some("payment_intent.succeeded")
    );
    assert_eq!(stored.duplicate_count, 1);
    assert_eq!(stored.mismatch_count, 0);
    assert_eq!(app.server.store().count_events().await.unwrap(), 1);
}

#[tokio::test]
async fn a_repeat_with_a_different_body_is_a_flagged_duplicate_and_the_original_is_kept() {
    let app = spawn_app().await;
    let original = stripe_event("evt_m");
    json_with_status(app.post_stripe(&original).await, 200).await;
    let changed =
        r#"{"id":"evt_m","object":"event","type":"payment_intent.succeeded","pending_webhooks":2}"#;
    let answer = json_with_status(app.post_stripe(changed).await, 200).await;
    assert_eq!(answer["status"], "duplicate");
    assert_eq!(answer["events"][0]["body_mismatch"], true);
    let stored = app
        .server
        .store()
        .find_event("stripe", "evt_m")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.body,
        original.as_bytes(),
        "the original body is kept"
    );
    assert_eq!(stored.mismatch_count, 1);
}

#[tokio::test]
async fn the_second_configured_secret_verifies_during_rotation() {
    let app = spawn_app().await;
    let body = stripe_event("evt_rot");
    let h = sign(
        "stripe",
        "whsec_old_secret",
        body.as_bytes(),
        "",
        SystemTime::now(),
    );
    let answer = json_with_status(app.post("stripe", body, &h).await, 200).await;
    assert_eq!(answer["status"], "accepted");
}

#[tokio::test]
async fn unknown_source_is_404() {
    let app = spawn_app().await;
    let p = json_with_status(app.post("nope", "{}", &[]).await, 404).await;
    assert_eq!(p["code"], "unknown_source");
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/webhooks/stripe"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["allow"], "POST");
    let p = json_with_status(resp, 405).await;
    assert_eq!(p["code"], "method_not_allowed");
}

#[tokio::test]
async fn unknown_route_is_a_problem_404() {
    let app = spawn_app().await;
    let p = json_with_status(app.client.get(app.url("/nope")).send().await.unwrap(), 404).await;
    assert_eq!(p["code"], "not_found");
}

#[tokio::test]
async fn declared_oversized_body_is_413() {
    let app = spawn_app().await;
    let big = vec![b'a'; 65537];
    let p = json_with_status(app.post("stripe", big, &[]).await, 413).await;
    assert_eq!(p["code"], "payload_too_large");
}

#[tokio::test]
async fn endless_chunked_body_is_cut_off_at_the_limit() {
    let app = spawn_app().await;
    // A stream that never ends: the server must answer once the limit is passed instead of
    // buffering it (or waiting for it) all.
    let chunks = futures::stream::repeat(())
        .map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 8192])));
    let body = reqwest::Body::wrap_stream(chunks);
    let resp = tokio::time::timeout(Duration::from_secs(5), app.post("stripe", body, &[]))
        .await
        .expect("413 arrives without reading the whole body");
    let p = json_with_status(resp, 413).await;
    assert_eq!(p["code"], "payload_too_large");
}

#[tokio::test]
async fn a_client_that_stalls_mid_body_gets_408() {
    let app = spawn_app().await;
    let chunks = futures::stream::once(async {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"id\":"))
    })
    .chain(futures::stream::once(async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(bytes::Bytes::from_static(b"1}"))
    }));
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        app.post("stripe", reqwest::Body::wrap_stream(chunks), &[]),
    )
    .await
    .expect("the server gives up on a slow client");
    let p = json_with_status(resp, 408).await;
    assert_eq!(p["code"], "request_timeout");
}

#[tokio::test]
async fn missing_and_malformed_signatures_are_401_and_store_nothing() {
    let app = spawn_app().await;
    let body = stripe_event("evt_bad");

    let p = json_with_status(app.post("stripe", body.clone(), &[]).await, 401).await;
    assert_eq!(p["code"], "invalid_signature");
    assert_eq!(p["reason"], "missing_signature");

    let garbage = vec![("stripe-signature".to_string(), "garbage".to_string())];
    let p = json_with_status(app.post("stripe", body.clone(), &garbage).await, 401).await;
    assert_eq!(p["code"], "invalid_signature");

    // Signed correctly, then one body byte flipped.
    let h = sign(
        "stripe",
        STRIPE_SECRET,
        body.as_bytes(),
        "",
        SystemTime::now(),
    );
    let tampered = body.replace("evt_bad", "evt_bae");
    let p = json_with_status(app.post("stripe", tampered, &h).await, 401).await;
    assert_eq!(p["reason"], "invalid_signature");

    // Signed with a secret the source does not have.
    let h = sign(
        "stripe",
        "whsec_wrong",
        body.as_bytes(),
        "",
        SystemTime::now(),
    );
    json_with_status(app.post("stripe", body.clone(), &h).await, 401).await;

    assert_eq!(
        app.server.store().count_events().await.unwrap(),
        0,
        "unverified requests store nothing"
    );
}

#[tokio::test]
async fn stale_and_future_timestamps_are_401() {
    let app = spawn_app().await;
    let body = stripe_event("evt_old");
    for t in [
        SystemTime::now() - Duration::from_secs(600),
        SystemTime::now() + Duration::from_secs(600),
    ] {
        let h = sign("stripe", STRIPE_SECRET, body.as_bytes(), "", t);
        let p = json_with_status(app.post("stripe", body.clone(), &h).await, 401).await;
        assert_eq!(p["reason"], "stale_timestamp");
    }
    assert_eq!(app.server.store().count_events().await.unwrap(), 0);
}

#[tokio::test]
async fn verified_body_without_event_id_is_400() {
    let app = spawn_app().await;
    let p = json_with_status(app.post_stripe(r#"{"object":"event"}"#).await, 400).await;
    assert_eq!(p["code"], "missing_event_id");
    let p = json_with_status(app.post_stripe("not json at all").await, 400).await;
    assert!(
        p["code"] == "missing_event_id" || p["code"] == "malformed_body",
        "{p}"
    );
    assert_eq!(app.server.store().count_events().await.unwrap(), 0);
}

#[tokio::test]
async fn non_utf8_body_is_verified_over_raw_bytes_and_stored_verbatim() {
    let app = spawn_app().await;
    let body: Vec<u8> = vec![0xff, 0xfe, 0x00, 0x80, b'{', b'}', 0xc3, 0x28];
    let h = sign(
        "github",
        GITHUB_SECRET,
        &body,
        "delivery-raw-1",
        SystemTime::now(),
    );
    let answer = json_with_status(app.post("github", body.clone(), &h).await, 200).await;
    assert_eq!(answer["status"], "accepted");
    let stored = app
        .server
        .store()
        .find_event("github", "delivery-raw-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.body, body);
}

#[tokio::test]
async fn internal_source_needs_an_idempotency_key_and_refuses_reuse_with_another_body() {
    let app = spawn_app().await;
    let auth = (
        "authorization".to_string(),
        format!("Bearer {INTERNAL_KEY}"),
    );
    let key = ("idempotency-key".to_string(), "\"order-42\"".to_string());

    let p = json_with_status(
        app.post("orders", r#"{"a":1}"#, std::slice::from_ref(&auth))
            .await,
        400,
    )
    .await;
    assert_eq!(p["code"], "missing_event_id");

    let wrong = ("authorization".to_string(), "Bearer nope".to_string());
    json_with_status(
        app.post("orders", r#"{"a":1}"#, &[wrong, key.clone()])
            .await,
        401,
    )
    .await;

    let ok = json_with_status(
        app.post("orders", r#"{"a":1}"#, &[auth.clone(), key.clone()])
            .await,
        200,
    )
    .await;
    assert_eq!(ok["status"], "accepted");
    assert_eq!(ok["event_id"], "order-42");
    let dup = json_with_status(
        app.post("orders", r#"{"a":1}"#, &[auth.clone(), key.clone()])
            .await,
        200,
    )
    .await;
    assert_eq!(dup["status"], "duplicate");
    let p = json_with_status(app.post("orders", r#"{"a":2}"#, &[auth, key]).await, 422).await;
    assert_eq!(p["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let h = json_with_status(
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(h["status"], "ok");
    let r = json_with_status(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(r["status"], "ready");
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(!resp.headers()["x-request-id"].is_empty());
}

#[tokio::test]
async fn a_locked_store_answers_503_with_retry_after_and_recovers() {
    let app = spawn_app_with(
        "timeout = \"1500ms\"\nstatement_timeout = \"300ms\"\nretry_after = \"7s\"",
        "",
    )
    .await;
    // Another process holds SQLite's write lock: the store is not writable.
    use sqlx::Connection;
    let mut locker = sqlx::SqliteConnection::connect(&sqlite_url(app.dir.path()))
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    sqlx::query("INSERT INTO inbox (id, source, event_id, body, body_sha256, received_at) VALUES ('x','s','e',x'',x'',0)")
        .execute(&mut locker)
        .await
        .unwrap();

    let resp = app.post_stripe(&stripe_event("evt_locked")).await;
    assert_eq!(resp.headers()["retry-after"], "7");
    let p = json_with_status(resp, 503).await;
    assert_eq!(p["code"], "unavailable");
    assert!(
        !p["detail"].as_str().unwrap().contains("lock"),
        "no internals in 5xx bodies: {p}"
    );
    let r = json_with_status(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        503,
    )
    .await;
    assert_eq!(r["code"], "unavailable");

    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    drop(locker);
    json_with_status(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        200,
    )
    .await;
    // The provider's retry now lands, once.
    let ok = json_with_status(app.post_stripe(&stripe_event("evt_locked")).await, 200).await;
    assert_eq!(ok["status"], "accepted");
}

#[tokio::test]
async fn fifty_concurrent_identical_requests_yield_one_first_seen() {
    let app = spawn_app().await;
    let body = stripe_event("evt_race");
    let h = sign(
        "stripe",
        STRIPE_SECRET,
        body.as_bytes(),
        "",
        SystemTime::now(),
    );
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = app.client.clone();
        let url = app.url("/webhooks/stripe");
        let (body, h) = (body.clone(), h.clone());
        tasks.push(tokio::spawn(async move {
            let mut req = client.post(url).body(body);
            for (k, v) in &h {
                req = req.header(k.as_str(), v.as_str());
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<serde_json::Value>().await.unwrap()
        }));
    }
    let mut accepted = 0;
    let mut duplicate = 0;
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let v = t.await.unwrap();
        match v["status"].as_str().unwrap() {
            "accepted" => accepted += 1,
            "duplicate" => duplicate += 1,
            other => panic!("unexpected status {other}"),
        }
        ids.insert(v["id"].as_str().unwrap().to_string());
    }
    assert_eq!((accepted, duplicate), (1, 49));
    assert_eq!(ids.len(), 1, "every answer names the same record");
    assert_eq!(app.server.store().count_events().await.unwrap(), 1);
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let mut conn = tokio::net::TcpStream::connect(app.server.addr())
        .await
        .unwrap();
    conn.write_all(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // ...and never finishes the headers (slowloris).
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the server kept a header-trickling connection open"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
    // Other clients were served meanwhile and still are.
    json_with_status(
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        200,
    )
    .await;
}

#[tokio::test]
async fn an_oversized_header_block_is_431_and_stores_nothing() {
    let app = spawn_app().await;
    let body = stripe_event("evt_big_header");
    // Validly signed, but one header of 64 KiB: over the default 32 KiB header limit.
    let resp = app
        .post_stripe_with(&body, vec![("x-padding".into(), "a".repeat(64 * 1024))])
        .await;
    assert_eq!(resp.headers()["connection"], "close");
    let p = json_with_status(resp, 431).await;
    assert_eq!(p["code"], "headers_too_large");
    // Many small headers that add up past the limit are refused the same way.
    let many = (0..600)
        .map(|i| (format!("x-pad-{i}"), "b".repeat(60)))
        .collect();
    let p = json_with_status(app.post_stripe_with(&body, many).await, 431).await;
    assert_eq!(p["code"], "headers_too_large");
    assert_eq!(app.server.store().count_events().await.unwrap(), 0);
    // Headers under the limit still pass, so the limit is not set absurdly low.
    let small = vec![("x-padding".into(), "a".repeat(8 * 1024))];
    json_with_status(app.post_stripe_with(&body, small).await, 200).await;
    assert_eq!(app.server.store().count_events().await.unwrap(), 1);
}

#[tokio::test]
async fn framework_rejections_are_problem_json_with_a_code() {
    let app = spawn_app().await;
    // Percent-encoded invalid UTF-8 in the source name: axum's own path rejection.
    for path in ["/webhooks/%ff", "/webhooks/%c0%af"] {
        let resp = app
            .client
            .post(app.url(path))
            .body("{}")
            .send()
            .await
            .unwrap();
        let p = json_with_status(resp, 400).await;
        assert_eq!(p["code"], "bad_request", "{path}");
        // The framework's own message survives as the detail.
        let detail = p["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("Invalid URL"), "{path}: {detail}");
    }
    // A wrong method on a route that only has GET: axum's own 405, keeping `Allow`.
    let resp = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert!(resp.headers().contains_key("allow"));
    let p = json_with_status(resp, 405).await;
    assert_eq!(p["code"], "method_not_allowed");
    assert_eq!(app.server.store().count_events().await.unwrap(), 0);
}
