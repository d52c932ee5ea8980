//! Crash safety of fanout: the gateway is killed with SIGKILL while deliveries are in flight,
//! restarted, and every accepted event still reaches the handler at least once.

mod common;
#[path = "common/receiver.rs"]
mod receiver;

use common::*;
use receiver::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(config: &std::path::Path, addr: &str) -> Gateway {
    let child = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["serve", "--config"])
        .arg(config)
        .env("HOOKGATE_SERVER__LISTEN", addr)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "gateway never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Gateway(child)
}

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
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();

    let mut gw = start(&cfg, &addr).await;
    let client = reqwest::Client::new();
    let n = 30;
    for i in 0..n {
        let body = format!(r#"{{"id":"evt_k{i}","type":"x"}}"#);
        let h = sign(
            "stripe",
            STRIPE_SECRET,
            body.as_bytes(),
            "",
            SystemTime::now(),
        );
        let mut req = client
            .post(format!("http://{addr}/webhooks/stripe"))
            .body(body);
        for (k, v) in &h {
            req = req.header(k.as_str(), v.as_str());
        }
        assert_eq!(
            req.send().await.unwrap().status(),
            200,
            "accepted before the crash"
        );
    }
    // Some deliveries are now in flight (the handler takes 300 ms each, 4 at a time).
    rx.wait_for(2, Duration::from_secs(5)).await;
    gw.0.kill().unwrap(); // SIGKILL
    gw.0.wait().unwrap();
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
    let _gw = start(&cfg, &addr).await;
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
