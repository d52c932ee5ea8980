//! Two real `hookgate` processes on one Postgres database under a concurrent duplicate storm:
//! exactly one first-seen per event id across both replicas.

mod common;
#[path = "common/gateway.rs"]
mod gateway;

use common::*;
use gateway::Gateway;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_under_a_duplicate_storm_accept_each_event_once() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("hookgate.toml");
    std::fs::write(&cfg_path, base_config(dir.path(), &pg.url, "", "")).unwrap();

    // Both start at once: migrations must be safe when replicas race.
    let (a, b) = tokio::join!(
        Gateway::start_anywhere(&cfg_path),
        Gateway::start_anywhere(&cfg_path)
    );
    let replicas = [a.base(), b.base()];

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(200));
    let mut tasks = Vec::new();
    for sender in 0..200 {
        let event = sender % 20;
        let base = replicas[sender % 2].clone();
        let (client, barrier) = (client.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let body = format!(r#"{{"id":"evt_storm_{event}","type":"invoice.paid"}}"#);
            let req = stripe_request(&client, &base, &body);
            barrier.wait().await;
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let v: serde_json::Value = resp.json().await.unwrap();
            (
                event,
                v["status"].as_str().unwrap().to_string(),
                v["id"].as_str().unwrap().to_string(),
            )
        }));
    }
    let mut accepted = 0;
    let mut duplicates = 0;
    let mut ids_per_event: std::collections::HashMap<usize, std::collections::HashSet<String>> =
        Default::default();
    for t in tasks {
        let (event, status, id) = t.await.unwrap();
        match status.as_str() {
            "accepted" => accepted += 1,
            "duplicate" => duplicates += 1,
            other => panic!("unexpected {other}"),
        }
        ids_per_event.entry(event).or_default().insert(id);
    }
    assert_eq!((accepted, duplicates), (20, 180));
    assert!(
        ids_per_event.values().all(|ids| ids.len() == 1),
        "every answer names the one record"
    );

    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&pg.url).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 20);
    let dups: i64 = sqlx::query_scalar("SELECT SUM(duplicate_count)::bigint FROM inbox")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(dups, 180);
}

#[path = "common/receiver.rs"]
mod receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_both_dispatch_and_every_delivery_is_made() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let rx = receiver::Receiver::start().await;
    rx.set_delay(Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "\n[dispatch]\npoll_interval = \"50ms\"\nlease = \"5s\"\n{}",
        receiver::handler_section(
            dir.path(),
            "billing",
            &rx.url(),
            "[\"stripe\"]",
            "concurrency = 4"
        )
    );
    let cfg_path = dir.path().join("hookgate.toml");
    std::fs::write(&cfg_path, base_config(dir.path(), &pg.url, "", &extra)).unwrap();
    let (a, b) = tokio::join!(
        Gateway::start_anywhere(&cfg_path),
        Gateway::start_anywhere(&cfg_path)
    );
    let replicas = [a.base(), b.base()];

    let client = reqwest::Client::new();
    let n = 60;
    let mut tasks = Vec::new();
    for i in 0..n {
        let base = replicas[i % 2].clone();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!(r#"{{"id":"evt_fan_{i}","type":"invoice.paid"}}"#);
            let req = stripe_request(&client, &base, &body);
            assert_eq!(req.send().await.unwrap().status(), 200);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&pg.url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let delivered: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        if delivered == n as i64 {
            break;
        }
        assert!(Instant::now() < deadline, "{delivered} of {n} delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let keys: std::collections::HashSet<String> =
        rx.received().into_iter().map(|r| r.key).collect();
    assert_eq!(keys.len(), n, "every event reached the handler");
    // Both replicas claimed work (SKIP LOCKED lets them share the queue).
    // Every recorded attempt: those a delivery's row holds (its latest) and the earlier ones.
    let attempts: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM delivery_attempts) \
              + (SELECT COUNT(*) FROM deliveries WHERE last_attempt IS NOT NULL)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        attempts, n as i64,
        "no delivery was made twice while leases held"
    );
}
