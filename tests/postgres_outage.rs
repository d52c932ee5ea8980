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

#[tokio::test]
async fn cut_and_stalled_postgres_give_503_and_recovery_needs_no_restart() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
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

    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_on(
        dir,
        via_proxy.as_str(),
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
