//! The deliveries API against a running gateway and a real HTTP handler: dead letters are
//! found by filter, inspected with every attempt, retried one by one or in bulk, and every
//! bad request is a documented problem+json.

mod common;
#[path = "common/receiver.rs"]
mod receiver;

use common::*;
use receiver::*;
use serde_json::{json, Value};
use std::time::Duration;

const ADMIN_TOKEN: &str = "admin-token-for-deliveries";

/// A gateway with handlers `flaky` (every stripe event, one attempt only) and `steady`
/// (github events), both at `receiver`.
async fn app_with(receiver: &Receiver) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin_token");
    std::fs::write(&token, ADMIN_TOKEN).unwrap();
    let mut extra = format!(
        "{FAST_DISPATCH}\n[admin]\ntoken = \"file:{}\"\n",
        token.display()
    );
    extra.push_str(&handler_section(
        dir.path(),
        "flaky",
        &receiver.url(),
        "[\"stripe\"]",
        "max_attempts = 1",
    ));
    extra.push_str(&handler_section(
        dir.path(),
        "steady",
        &receiver.url(),
        "[\"github\"]",
        "",
    ));
    let url = sqlite_url(dir.path());
    spawn_app_on(dir, &url, "", &extra).await
}

fn event(id: &str) -> String {
    format!(r#"{{"id":"{id}","object":"event","type":"invoice.paid"}}"#)
}

async fn get(app: &TestApp, path: &str, status: u16) -> Value {
    let resp = app
        .client
        .get(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    json_with_status(resp, status).await
}

async fn post(app: &TestApp, path: &str, body: Option<Value>, status: u16) -> Value {
    let mut req = app.client.post(app.url(path)).bearer_auth(ADMIN_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    json_with_status(req.send().await.unwrap(), status).await
}

/// Poll `GET /api/deliveries/{id}` until its state is `state`.
async fn wait_delivery(app: &TestApp, id: &str, state: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let d = get(app, &format!("/api/deliveries/{id}"), 200).await;
        if d["state"] == state {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "delivery {id} never became {state}: {d}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Poll the dead list of `flaky` until it has `n` entries.
async fn wait_dead(app: &TestApp, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let page = get(app, "/api/deliveries?handler=flaky&state=dead", 200).await;
        let list = page["deliveries"].as_array().unwrap().clone();
        if list.len() == n {
            return list;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected {n} dead deliveries: {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn dead_letters_are_found_inspected_and_retried_one_by_one() {
    let receiver = Receiver::start().await;
    receiver.set_default(500);
    let app = app_with(&receiver).await;
    for id in ["evt_dl1", "evt_dl2", "evt_dl3"] {
        json_with_status(app.post_stripe(&event(id)).await, 200).await;
    }
    let dead = wait_dead(&app, 3).await;
    let one = dead
        .iter()
        .find(|d| d["event_id"] == "evt_dl2")
        .expect("evt_dl2 is dead")
        .clone();
    assert_eq!(one["source"], "stripe");
    assert_eq!(one["handler"], "flaky");
    assert_eq!(one["attempts"], 1);
    assert_eq!(one["last_status"], 500);
    let id = one["id"].as_str().unwrap().to_string();

    // One delivery with its attempt.
    let detail = get(&app, &format!("/api/deliveries/{id}"), 200).await;
    assert_eq!(detail["state"], "dead");
    assert_eq!(detail["event_id"], "evt_dl2");
    let log = detail["attempts_log"].as_array().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (&log[0]["attempt"], &log[0]["status"], &log[0]["outcome"]),
        (&json!(1), &json!(500), &json!("dead"))
    );

    // The handler recovers; retrying that one delivers it, and only it.
    receiver.set_default(200);
    let before = receiver.received().len();
    let answer = post(&app, &format!("/api/deliveries/{id}/retry"), None, 200).await;
    assert_eq!(answer["id"], id.as_str());
    assert!(
        answer["state"] == "pending" || answer["state"] == "delivered",
        "{answer}"
    );
    assert_eq!(answer["attempts"], 0, "a fresh attempt budget: {answer}");
    let done = wait_delivery(&app, &id, "delivered").await;
    let log = done["attempts_log"].as_array().unwrap();
    assert_eq!(log.len(), 2, "both attempts are on record: {done}");
    assert_eq!(
        (&log[1]["attempt"], &log[1]["status"], &log[1]["outcome"]),
        (&json!(1), &json!(200), &json!("delivered"))
    );
    let got = receiver.wait_for(before + 1, Duration::from_secs(5)).await;
    assert_eq!(got[before].key, "stripe:evt_dl2");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        receiver.received().len(),
        before + 1,
        "only that one was sent"
    );
    let left: Vec<Value> = wait_dead(&app, 2)
        .await
        .iter()
        .map(|d| d["event_id"].clone())
        .collect();
    assert!(!left.contains(&json!("evt_dl2")), "{left:?}");

    // A delivered one may be retried too: it is sent again with the same idempotency key.
    post(&app, &format!("/api/deliveries/{id}/retry"), None, 200).await;
    let got = receiver.wait_for(before + 2, Duration::from_secs(5)).await;
    assert_eq!(got[before + 1].key, "stripe:evt_dl2");
    wait_delivery(&app, &id, "delivered").await;

    // Bulk: the dead deliveries matching a filter, here one event id.
    let v = post(
        &app,
        "/api/deliveries/retry",
        Some(json!({"handler": "flaky", "event_id": "evt_dl1"})),
        200,
    )
    .await;
    assert_eq!(v["retried"], 1);
    let left = wait_dead(&app, 1).await;
    assert_eq!(left[0]["event_id"], "evt_dl3");
    // Then the rest, with no filter at all; nothing else is dead afterwards.
    let v = post(&app, "/api/deliveries/retry", None, 200).await;
    assert_eq!(v["retried"], 1);
    wait_dead(&app, 0).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let page = get(&app, "/api/deliveries?handler=flaky&state=delivered", 200).await;
        if page["deliveries"].as_array().unwrap().len() == 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deliveries_are_filtered_and_paged_with_a_cursor() {
    let receiver = Receiver::start().await;
    let app = app_with(&receiver).await;
    for id in ["evt_p1", "evt_p2", "evt_p3"] {
        json_with_status(app.post_stripe(&event(id)).await, 200).await;
    }
    receiver.wait_for(3, Duration::from_secs(5)).await;
    let all = get(&app, "/api/deliveries", 200).await;
    let all: Vec<Value> = all["deliveries"].as_array().unwrap().clone();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["event_id"], "evt_p3", "newest first");

    // limit=1 pages through all three, then `next` is null.
    let mut seen = Vec::new();
    let mut path = "/api/deliveries?limit=1".to_string();
    loop {
        let page = get(&app, &path, 200).await;
        for d in page["deliveries"].as_array().unwrap() {
            seen.push(d["id"].clone());
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/api/deliveries?limit=1&cursor={next}"),
            None => break,
        }
    }
    let ids: Vec<Value> = all.iter().map(|d| d["id"].clone()).collect();
    assert_eq!(seen, ids);

    let page = get(&app, "/api/deliveries?source=stripe&event_id=evt_p2", 200).await;
    let list = page["deliveries"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["event_id"], "evt_p2");
    let page = get(&app, "/api/deliveries?source=github", 200).await;
    assert!(page["deliveries"].as_array().unwrap().is_empty());
    let page = get(&app, "/api/deliveries?handler=steady", 200).await;
    assert!(page["deliveries"].as_array().unwrap().is_empty());
    let received = all[0]["received_at_ms"].as_i64().unwrap();
    let page = get(&app, &format!("/api/deliveries?from={received}"), 200).await;
    assert!(page["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["event_id"] == "evt_p3"));
    let page = get(&app, &format!("/api/deliveries?to={received}"), 200).await;
    assert!(page["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["event_id"] != "evt_p3"));
}

#[tokio::test]
async fn bad_delivery_requests_are_documented_problems() {
    let receiver = Receiver::start().await;
    let app = app_with(&receiver).await;
    let code = |v: Value| v["code"].as_str().unwrap_or_default().to_string();
    for (path, status, expected) in [
        ("/api/deliveries?limit=501", 400, "bad_request"),
        ("/api/deliveries?limit=0", 400, "bad_request"),
        ("/api/events?limit=501", 400, "bad_request"),
        ("/api/deliveries?state=lost", 400, "bad_request"),
        ("/api/deliveries?cursor=nope", 400, "bad_request"),
        ("/api/deliveries?from=yesterday", 400, "bad_request"),
        ("/api/deliveries?handler=", 400, "bad_request"),
        ("/api/deliveries?handler=nope", 404, "unknown_handler"),
        ("/api/deliveries/not-a-uuid", 400, "bad_request"),
        (
            "/api/deliveries/0190a7b4-0000-7000-8000-000000000000",
            404,
            "not_found",
        ),
    ] {
        assert_eq!(code(get(&app, path, status).await), expected, "{path}");
    }
    let unknown = "/api/deliveries/0190a7b4-0000-7000-8000-000000000000/retry";
    assert_eq!(code(post(&app, unknown, None, 404).await), "not_found");
    let v = post(
        &app,
        "/api/deliveries/retry",
        Some(json!({"state": "delivered"})),
        400,
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("state"), "{v}");
    let v = post(
        &app,
        "/api/deliveries/retry",
        Some(json!({"handler": "nope"})),
        404,
    )
    .await;
    assert_eq!(code(v), "unknown_handler");
    let v = post(&app, "/api/deliveries/retry-dead?handler=", None, 400).await;
    assert_eq!(code(v), "bad_request");
    let v = post(&app, "/api/deliveries/retry-dead?handler=nope", None, 404).await;
    assert_eq!(code(v), "unknown_handler");
    let v = post(&app, "/api/replay", Some(json!({"handler": ""})), 400).await;
    assert_eq!(code(v), "bad_request");
    // Without the token: 401 before anything else.
    let resp = app
        .client
        .get(app.url("/api/deliveries?limit=501"))
        .send()
        .await
        .unwrap();
    assert_eq!(code(json_with_status(resp, 401).await), "unauthorized");
}
