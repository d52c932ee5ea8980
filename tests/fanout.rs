//! At-least-once fanout against a real HTTP handler: outages, retries, dead letters, replay,
//! routing, signatures and idempotency keys.

mod common;
#[path = "common/receiver.rs"]
mod receiver;

use common::*;
use receiver::*;
use std::time::Duration;

const ADMIN_TOKEN: &str = "admin-token-for-tests";

async fn app_with_handlers(handlers: &[(&str, &str, &str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin_token");
    std::fs::write(&token, ADMIN_TOKEN).unwrap();
    let mut extra = format!(
        "{FAST_DISPATCH}\n[admin]\ntoken = \"file:{}\"\n",
        token.display()
    );
    for (name, url, sources, more) in handlers {
        extra.push_str(&handler_section(dir.path(), name, url, sources, more));
    }
    let url = sqlite_url(dir.path());
    spawn_app_on(dir, &url, "", &extra).await
}

fn event(id: &str, kind: &str) -> String {
    format!(r#"{{"id":"{id}","object":"event","type":"{kind}"}}"#)
}

async fn delivery_state(app: &TestApp, event_id: &str) -> Vec<hookgate::store::StoredDelivery> {
    let ev = app
        .server
        .store()
        .find_event("stripe", event_id)
        .await
        .unwrap()
        .unwrap();
    app.server.store().deliveries_of(ev.id).await.unwrap()
}

async fn wait_state(
    app: &TestApp,
    event_id: &str,
    state: &str,
) -> Vec<hookgate::store::StoredDelivery> {
    wait_handler_state(app, event_id, None, state).await
}

/// Wait until the deliveries of `event_id` (of one handler, or all) are in `state`.
async fn wait_handler_state(
    app: &TestApp,
    event_id: &str,
    handler: Option<&str>,
    state: &str,
) -> Vec<hookgate::store::StoredDelivery> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut ds = delivery_state(app, event_id).await;
        ds.retain(|d| handler.is_none_or(|h| d.handler == h));
        if !ds.is_empty() && ds.iter().all(|d| d.state == state) {
            return ds;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "deliveries never became {state}: {ds:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_delivery_is_signed_keyed_and_made_once() {
    let rx = Receiver::start().await;
    let app = app_with_handlers(&[("billing", &rx.url(), "[\"stripe\"]", "")]).await;
    let body = event("evt_f1", "payment_intent.succeeded");
    json_with_status(app.post_stripe(&body).await, 200).await;
    json_with_status(app.post_stripe(&body).await, 200).await; // a duplicate: no second delivery
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    let d = &got[0];
    assert_eq!(d.key, "stripe:evt_f1");
    assert_eq!(d.attempt, 1);
    assert_eq!(d.event_type.as_deref(), Some("payment_intent.succeeded"));
    assert_eq!(d.body, body.as_bytes(), "the original body, byte for byte");
    assert!(
        d.signature_ok,
        "the Standard Webhooks signature verifies with the handler secret"
    );
    let ds = wait_state(&app, "evt_f1", "delivered").await;
    assert_eq!(ds[0].attempts, 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.received().len(), 1, "duplicates create no deliveries");
}

#[tokio::test]
async fn a_handler_that_is_down_gets_the_event_once_it_is_up() {
    // Reserve an address with nothing listening on it yet.
    let spare = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = spare.local_addr().unwrap();
    drop(spare);
    let url = format!("http://{addr}/hook");
    let app = app_with_handlers(&[(
        "billing",
        &url,
        "[\"stripe\"]",
        "max_attempts = 1000\nbackoff_cap = \"30ms\"",
    )])
    .await;
    json_with_status(app.post_stripe(&event("evt_down", "x")).await, 200).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let failed = delivery_state(&app, "evt_down").await;
    assert_eq!(failed[0].state, "pending");
    assert!(
        failed[0].attempts >= 2,
        "connection failures are retried: {failed:?}"
    );
    assert_eq!(failed[0].last_error.as_deref(), Some("connection failed"));

    let rx = Receiver::start_on(tokio::net::TcpListener::bind(addr).await.unwrap()).await;
    rx.wait_for(1, Duration::from_secs(5)).await;
    wait_state(&app, "evt_down", "delivered").await;
}

#[tokio::test]
async fn three_failures_then_success_is_four_attempts() {
    let rx = Receiver::start().await;
    rx.script(&[(500, None), (500, None), (500, None)]);
    let app = app_with_handlers(&[("billing", &rx.url(), "[\"stripe\"]", "")]).await;
    json_with_status(app.post_stripe(&event("evt_4", "x")).await, 200).await;
    let got = rx.wait_for(4, Duration::from_secs(5)).await;
    assert_eq!(
        got.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(
        got.iter().all(|r| r.key == "stripe:evt_4"),
        "the key is stable across attempts"
    );
    let ds = wait_state(&app, "evt_4", "delivered").await;
    assert_eq!(ds[0].attempts, 4);
    let log = app.server.store().attempts_of(ds[0].id).await.unwrap();
    let outcomes: Vec<(Option<i32>, &str)> =
        log.iter().map(|a| (a.status, a.outcome.as_str())).collect();
    assert_eq!(
        outcomes,
        [
            (Some(500), "retry"),
            (Some(500), "retry"),
            (Some(500), "retry"),
            (Some(200), "delivered")
        ]
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(rx.received().len(), 4, "nothing more after success");
}

#[tokio::test]
async fn an_always_failing_handler_goes_dead_and_an_admin_retry_delivers() {
    let rx = Receiver::start().await;
    rx.set_default(503);
    let app =
        app_with_handlers(&[("billing", &rx.url(), "[\"stripe\"]", "max_attempts = 3")]).await;
    json_with_status(app.post_stripe(&event("evt_dead", "x")).await, 200).await;
    let ds = wait_state(&app, "evt_dead", "dead").await;
    assert_eq!(ds[0].attempts, 3);
    assert_eq!(rx.received().len(), 3);

    // Without the token the admin API refuses.
    let resp = app
        .client
        .post(app.url("/api/deliveries/retry-dead"))
        .send()
        .await
        .unwrap();
    json_with_status(resp, 401).await;

    rx.set_default(200);
    let resp = app
        .client
        .post(app.url("/api/deliveries/retry-dead"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let v = json_with_status(resp, 200).await;
    assert_eq!(v["retried"], 1);
    wait_state(&app, "evt_dead", "delivered").await;
    let got = rx.received();
    assert_eq!(got.len(), 4);
    assert_eq!(
        got[3].attempt, 1,
        "a retried dead letter starts a fresh attempt budget"
    );
}

#[tokio::test]
async fn a_permanent_status_is_dead_at_once_and_retry_after_is_honoured() {
    let rx = Receiver::start().await;
    rx.script(&[(429, Some("1"))]);
    let gone = Receiver::start().await;
    gone.set_default(410);
    let app = app_with_handlers(&[
        ("billing", &rx.url(), "[\"stripe\"]", "backoff_cap = \"5s\""),
        ("legacy", &gone.url(), "[\"stripe\"]", ""),
    ])
    .await;
    json_with_status(app.post_stripe(&event("evt_ra", "x")).await, 200).await;
    let got = rx.wait_for(2, Duration::from_secs(5)).await;
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured (retried after {gap:?})"
    );
    wait_handler_state(&app, "evt_ra", Some("billing"), "delivered").await;
    let all = delivery_state(&app, "evt_ra").await;
    let legacy = all.iter().find(|d| d.handler == "legacy").unwrap();
    assert_eq!(
        (legacy.state.as_str(), legacy.attempts, legacy.last_status),
        ("dead", 1, Some(410))
    );
}

#[tokio::test]
async fn a_stalled_handler_times_out_and_is_retried() {
    let rx = Receiver::start().await;
    rx.set_delay(Duration::from_millis(800)); // longer than the 500ms handler timeout
    let app = app_with_handlers(&[("billing", &rx.url(), "[\"stripe\"]", "")]).await;
    json_with_status(app.post_stripe(&event("evt_slow", "x")).await, 200).await;
    rx.wait_for(2, Duration::from_secs(5)).await;
    rx.set_delay(Duration::ZERO);
    let ds = wait_state(&app, "evt_slow", "delivered").await;
    assert!(ds[0].attempts >= 2);
    let log = app.server.store().attempts_of(ds[0].id).await.unwrap();
    assert_eq!(log[0].error.as_deref(), Some("timed out"));
}

#[tokio::test]
async fn handlers_receive_only_the_event_types_they_subscribe_to() {
    let all = Receiver::start().await;
    let payments = Receiver::start().await;
    let app = app_with_handlers(&[
        ("audit", &all.url(), "[\"stripe\", \"github\"]", ""),
        (
            "payments",
            &payments.url(),
            "[\"stripe\"]",
            "events = [\"payment_intent.*\"]",
        ),
    ])
    .await;
    json_with_status(
        app.post_stripe(&event("evt_c", "charge.succeeded")).await,
        200,
    )
    .await;
    json_with_status(
        app.post_stripe(&event("evt_p", "payment_intent.created"))
            .await,
        200,
    )
    .await;
    let got = all.wait_for(2, Duration::from_secs(5)).await;
    let mut keys: Vec<_> = got.iter().map(|r| r.key.clone()).collect();
    keys.sort();
    assert_eq!(keys, ["stripe:evt_c", "stripe:evt_p"]);
    let got = payments.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].key, "stripe:evt_p");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        payments.received().len(),
        1,
        "charge.succeeded is not routed to payments"
    );
}

#[tokio::test]
async fn replay_redelivers_through_the_normal_path() {
    let a = Receiver::start().await;
    let b = Receiver::start().await;
    let app = app_with_handlers(&[
        ("a", &a.url(), "[\"stripe\"]", ""),
        ("b", &b.url(), "[\"stripe\"]", ""),
    ])
    .await;
    let accepted =
        json_with_status(app.post_stripe(&event("evt_rp", "invoice.paid")).await, 200).await;
    let id = accepted["id"].as_str().unwrap().to_string();
    a.wait_for(1, Duration::from_secs(5)).await;
    b.wait_for(1, Duration::from_secs(5)).await;
    wait_state(&app, "evt_rp", "delivered").await;

    // One handler only.
    let resp = app
        .client
        .post(app.url(&format!("/api/events/{id}/replay?handler=a")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(resp, 200).await["queued"], 1);
    let got = a.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(
        got[1].key, "stripe:evt_rp",
        "replays keep the idempotency key"
    );
    assert_eq!(b.received().len(), 1);

    // By filter: every invoice.* event to every handler.
    let resp = app
        .client
        .post(app.url("/api/replay"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"source": "stripe", "type": "invoice.*"}))
        .send()
        .await
        .unwrap();
    let v = json_with_status(resp, 200).await;
    assert_eq!(
        (v["events"].as_u64(), v["queued"].as_u64()),
        (Some(1), Some(2))
    );
    a.wait_for(3, Duration::from_secs(5)).await;
    b.wait_for(2, Duration::from_secs(5)).await;

    // Unknown handler / event are clear errors.
    let resp = app
        .client
        .post(app.url(&format!("/api/events/{id}/replay?handler=nope")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let problem = json_with_status(resp, 404).await;
    assert_eq!(problem["code"], "unknown_handler");
    let resp = app
        .client
        .post(app.url("/api/events/0190a7b4-0000-7000-8000-000000000000/replay"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    json_with_status(resp, 404).await;

    // The event detail shows deliveries and every attempt.
    let resp = app
        .client
        .get(app.url(&format!("/api/events/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let v = json_with_status(resp, 200).await;
    assert_eq!(v["event_id"], "evt_rp");
    assert_eq!(v["deliveries"].as_array().unwrap().len(), 2);
    assert!(v["deliveries"][0]["attempts_log"].as_array().unwrap().len() >= 2);
}

#[tokio::test]
async fn shutdown_stops_claiming_and_lets_in_flight_deliveries_finish() {
    let rx = Receiver::start().await;
    rx.set_delay(Duration::from_millis(300));
    // A timeout well above the handler's delay (but inside the 2 s lease), so a loaded
    // machine does not turn the slow attempt into a timed-out one.
    let app = app_with_handlers(&[(
        "billing",
        &rx.url(),
        "[\"stripe\"]",
        "timeout = \"1500ms\"\n",
    )])
    .await;
    json_with_status(app.post_stripe(&event("evt_sd", "x")).await, 200).await;
    rx.wait_for(1, Duration::from_secs(5)).await; // the delivery is now in flight
    let store = app.server.store().clone();
    let TestApp {
        server, dir: _dir, ..
    } = app;
    server.shutdown().await.unwrap();
    assert_eq!(
        rx.completed(),
        ["stripe:evt_sd"],
        "the in-flight delivery finished"
    );
    let ev = store.find_event("stripe", "evt_sd").await.unwrap().unwrap();
    let ds = store.deliveries_of(ev.id).await.unwrap();
    assert_eq!(
        (ds[0].state.as_str(), ds[0].attempts),
        ("delivered", 1),
        "and was recorded before exit"
    );
}

#[tokio::test]
async fn malformed_admin_requests_get_problem_json() {
    let app = app_with_handlers(&[]).await;
    let get = |path: &str| {
        app.client
            .get(app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    let p = json_with_status(get("/api/events/not-a-uuid").await.unwrap(), 400).await;
    assert_eq!(p["code"], "bad_request");
    let p = json_with_status(get("/api/events?limit=lots").await.unwrap(), 400).await;
    assert_eq!(p["code"], "bad_request");
    let post = |body: &'static str| {
        app.client
            .post(app.url("/api/replay"))
            .bearer_auth(ADMIN_TOKEN)
            .body(body)
            .send()
    };
    let p = json_with_status(post("{not json").await.unwrap(), 400).await;
    assert_eq!(p["code"], "bad_request");
    let p = json_with_status(post(r#"{"sorce":"stripe"}"#).await.unwrap(), 400).await;
    assert!(p["detail"].as_str().unwrap().contains("sorce"), "{p}");
    // An empty body means "no filter".
    let v = json_with_status(post("").await.unwrap(), 200).await;
    assert_eq!(v["events"], 0);
    // A wrong token is 401 whatever else is wrong.
    let resp = app
        .client
        .get(app.url("/api/events/not-a-uuid"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    json_with_status(resp, 401).await;
}
