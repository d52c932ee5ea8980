//! Postgres outages seen through a proxy the test controls: cut and stalled connections give
//! 503 + Retry-After within the store timeout (never a 2xx, never a hang), `/readyz` fails,
//! and the gateway recovers on its own when the database comes back.

mod common;
#[path = "common/proxy.rs"]
mod proxy;

use common::*;
use proxy::{Mode, Proxy};
use std::time::{Duration, Instant, SystemTime};

async fn status_of(
    app: &TestApp,
    body: &str,
) -> (u16, Option<String>, serde_json::Value, Duration) {
    let started = Instant::now();
    let h = sign(
        "stripe",
        STRIPE_SECRET,
        body.as_bytes(),
        "",
        SystemTime::now(),
    );
    let resp = app.post("stripe", body.to_string(), &h).await;
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let json = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, retry, json, elapsed)
}

async fn ready(app: &TestApp) -> u16 {
    app.client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn wait_ready(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while ready(app).await != 200 {
        assert!(
            Instant::now() < deadline,
            "the gateway did not recover by itself"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ev(id: &str) -> String {
    format!(r#"{{"id":"{id}","type":"charge.succeeded"}}"#)
}

/// The gateway's database, reached through a proxy the test controls.
async fn behind_proxy(pg: &PgSchema) -> (Proxy, String) {
    let upstream_url = url::Url::parse(&pg.admin_url).unwrap();
    let upstream: std::net::SocketAddr = format!(
        "{}:{}",
        upstream_url
            .host_str()
            .unwrap()
            .replace("localhost", "127.0.0.1"),
        upstream_url.port().unwrap_or(5432)
    )
    .parse()
    .unwrap();
    let proxy = Proxy::start(upstream).await;
    let mut via_proxy = url::Url::parse(&pg.url).unwrap();
    via_proxy.set_host(Some("127.0.0.1")).unwrap();
    via_proxy.set_port(Some(proxy.addr.port())).unwrap();
    (proxy, via_proxy.to_string())
}

#[tokio::test]
async fn cut_and_stalled_postgres_give_503_and_recovery_needs_no_restart() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let (proxy, via_proxy) = behind_proxy(&pg).await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_on(
        dir,
        &via_proxy,
        "timeout = \"1500ms\"\nconnect_timeout = \"700ms\"\nstatement_timeout = \"1s\"\nretry_after = \"3s\"",
        "",
    )
    .await;
    let budget = Duration::from_millis(1500 + 1000);

    let (s, _, a, _) = status_of(&app, &ev("evt_a")).await;
    assert_eq!((s, a["status"].as_str()), (200, Some("accepted")));

    // Cut: every connection closed, new ones refused.
    proxy.set(Mode::Cut);
    let (s, retry, p, took) = status_of(&app, &ev("evt_b")).await;
    assert_eq!(s, 503, "{p}");
    assert_eq!(p["code"], "unavailable");
    assert_eq!(retry.as_deref(), Some("3"));
    assert!(took < budget, "answered in {took:?}");
    assert_eq!(ready(&app).await, 503);

    proxy.set(Mode::Pass);
    wait_ready(&app).await;
    let (s, _, b, _) = status_of(&app, &ev("evt_b")).await;
    assert_eq!(s, 200);
    assert_eq!(
        b["status"], "accepted",
        "the 503'd event was not recorded before"
    );
    let (_, _, a2, _) = status_of(&app, &ev("evt_a")).await;
    assert_eq!(
        a2["status"], "duplicate",
        "what was acknowledged before the outage is still there"
    );

    // Stall: connections stay open but nothing moves.
    proxy.set(Mode::Stall);
    let (s, retry, _, took) = status_of(&app, &ev("evt_c")).await;
    assert_eq!(s, 503);
    assert!(retry.is_some());
    eprintln!("stall answered in {took:?}");
    assert!(
        took < budget,
        "a stalled database must not hang the request ({took:?})"
    );
    let started = Instant::now();
    assert_eq!(ready(&app).await, 503);
    assert!(started.elapsed() < budget);

    proxy.set(Mode::Pass);
    wait_ready(&app).await;
    let (s, _, c, _) = status_of(&app, &ev("evt_c")).await;
    assert_eq!(s, 200);
    assert!(c["status"] == "accepted" || c["status"] == "duplicate");

    // Exactly the three events, each once.
    for id in ["evt_a", "evt_b", "evt_c"] {
        assert!(
            app.server
                .store()
                .find_event("stripe", id)
                .await
                .unwrap()
                .is_some(),
            "{id} is stored"
        );
    }
    assert_eq!(app.server.store().count_events().await.unwrap(), 3);
}

/// A store that stops answering while requests keep coming: once the bounded queue is full,
/// requests get 503 `overloaded` with `Retry-After` at once (never a 2xx, never a pile-up
/// that waits without bound); queued ones get 503 within the store timeout; when the database
/// answers again, the same process accepts events without a restart.
#[tokio::test]
async fn a_stalled_store_sheds_load_past_the_queue_and_recovers() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let (proxy, via_proxy) = behind_proxy(&pg).await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_on(
        dir,
        &via_proxy,
        "timeout = \"1s\"\nconnect_timeout = \"700ms\"\nstatement_timeout = \"1s\"\nretry_after = \"2s\"\nqueue_depth = 4\nmax_batch = 2",
        "",
    )
    .await;
    let (s, _, _, _) = status_of(&app, &ev("evt_before")).await;
    assert_eq!(s, 200);

    proxy.set(Mode::Stall);
    let started = Instant::now();
    let app_ref = &app;
    let answers = futures::future::join_all(
        (0..40).map(|i| async move { status_of(app_ref, &ev(&format!("evt_stalled_{i}"))).await }),
    )
    .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "every request was answered within the store timeout ({took:?})"
    );
    let mut overloaded = 0;
    for (status, retry, problem, _) in &answers {
        assert_eq!(
            *status, 503,
            "nothing is acknowledged while the store is stalled: {problem}"
        );
        assert_eq!(retry.as_deref(), Some("2"));
        match problem["code"].as_str() {
            Some("overloaded") => overloaded += 1,
            Some("unavailable") => {}
            other => panic!("unexpected code {other:?}"),
        }
    }
    // Two writers hold at most 2 × max_batch requests, the queue 4 more: the rest is shed.
    assert!(
        overloaded >= 40 - 2 * 2 - 4,
        "requests past the bounded queue are refused at once ({overloaded} overloaded)"
    );
    let quick = answers
        .iter()
        .filter(|a| a.2["code"] == "overloaded")
        .all(|a| a.3 < Duration::from_millis(500));
    assert!(quick, "an overloaded answer does not wait for the store");

    proxy.set(Mode::Pass);
    wait_ready(&app).await;
    let (s, _, after, _) = status_of(&app, &ev("evt_after")).await;
    assert_eq!(s, 200, "{after}");
    assert_eq!(after["status"], "accepted");
    // A refused event is accepted when the provider retries it.
    let (s, _, again, _) = status_of(&app, &ev("evt_stalled_39")).await;
    assert_eq!(s, 200);
    assert!(again["status"] == "accepted" || again["status"] == "duplicate");
}
