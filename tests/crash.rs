//! Crash safety of fanout: the gateway is killed with SIGKILL while deliveries are in flight,
//! restarted, and every accepted event still reaches the handler at least once.

mod common;
#[path = "common/gateway.rs"]
mod gateway;
#[path = "common/receiver.rs"]
mod receiver;

use common::*;
use gateway::Gateway;
use receiver::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_flight_loses_no_accepted_event() {
    let rx = Receiver::start().await;
    rx.set_delay(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "\n[dispatch]\npoll_interval = \"50ms\"\nlease = \"1s\"\n{}",
        handler_section(
            dir.path(),
            "billing",
            &rx.url(),
            "[\"stripe\"]",
            "concurrency = 4\ntimeout = \"900ms\""
        )
    );
    let cfg = dir.path().join("hookgate.toml");
    std::fs::write(
        &cfg,
        base_config(dir.path(), &sqlite_url(dir.path()), "", &extra),
    )
    .unwrap();
    let addr = gateway::free_addr();

    let mut gw = Gateway::start(&cfg, &addr).await;
    let client = reqwest::Client::new();
    let n = 30;
    for i in 0..n {
        let body = format!(r#"{{"id":"evt_k{i}","type":"x"}}"#);
        let req = stripe_request(&client, &format!("http://{addr}"), &body);
        assert_eq!(
            req.send().await.unwrap().status(),
            200,
            "accepted before the crash"
        );
    }
    // Some deliveries are now in flight (the handler takes 300 ms each, 4 at a time).
    rx.wait_for(2, Duration::from_secs(5)).await;
    gw.kill(); // SIGKILL
    let in_flight: Vec<String> = {
        let done = rx.completed();
        rx.received()
            .into_iter()
            .map(|r| r.key)
            .filter(|k| !done.contains(k))
            .collect()
    };
    let before_restart = rx.completed().len();
    assert!(
        before_restart < n,
        "the crash must interrupt the fanout (got {before_restart})"
    );
    assert!(!in_flight.is_empty(), "some deliveries were cut mid-flight");

    rx.set_delay(Duration::ZERO);
    let _gw = Gateway::start(&cfg, &addr).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let keys: std::collections::HashSet<String> = rx.completed().into_iter().collect();
        if keys.len() == n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} events were delivered after restart",
            keys.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The ones cut mid-flight were redelivered once their leases lapsed.
    let done = rx.completed();
    for k in &in_flight {
        assert!(
            done.contains(k),
            "{k} was in flight at the crash and never completed"
        );
    }
}
