//! Handler operations against the running server: pausing and resuming a handler (stored, so
//! it survives a restart and holds on every replica), the per-handler circuit breaker,
//! isolation of a healthy handler from a broken one, and the concurrency limit rising to meet a
//! slow handler's backlog.

mod common;
#[path = "common/receiver.rs"]
mod receiver;

use common::*;
use receiver::*;
use serde_json::Value;
use std::time::{Duration, Instant};

const ADMIN_TOKEN: &str = "admin-token-for-handler-tests";

/// `[admin]` plus fast dispatch plus the given handler sections (built in `dir`).
fn extra_config(dir: &std::path::Path, dispatch: &str, handlers: &[(&str, &str, &str)]) -> String {
    let token = dir.join("admin_token");
    std::fs::write(&token, ADMIN_TOKEN).unwrap();
    let mut extra = format!(
        "{dispatch}\n[admin]\ntoken = \"file:{}\"\n",
        token.display()
    );
    for (name, url, more) in handlers {
        extra.push_str(&handler_section(dir, name, url, r#"["stripe"]"#, more));
    }
    extra
}

/// Fast polling, and leases long enough that none lapses during a test.
const LONG_LEASE_DISPATCH: &str = "\n[dispatch]\npoll_interval = \"20ms\"\nlease = \"30s\"\n";

/// A gateway on SQLite with one handler `name` (`more`: its extra settings) delivering to a
/// receiver that answers after `delay`.
async fn app_with_a_slow_handler(name: &str, delay: Duration, more: &str) -> (Receiver, TestApp) {
    let rx = Receiver::start().await;
    rx.set_delay(delay);
    let dir = tempfile::tempdir().unwrap();
    let extra = extra_config(dir.path(), LONG_LEASE_DISPATCH, &[(name, &rx.url(), more)]);
    let url = sqlite_url(dir.path());
    let app = spawn_app_on(dir, &url, "", &extra).await;
    (rx, app)
}

fn event(id: &str) -> String {
    format!(r#"{{"id":"{id}","object":"event","type":"invoice.paid"}}"#)
}

async fn admin(app: &TestApp, method: &str, path: &str) -> reqwest::Response {
    let url = app.url(&format!("/api{path}"));
    let req = match method {
        "POST" => app.client.post(url),
        _ => app.client.get(url),
    };
    req.bearer_auth(ADMIN_TOKEN).send().await.unwrap()
}

async fn handler_status(app: &TestApp, name: &str) -> Value {
    let list = json_with_status(admin(app, "GET", "/handlers").await, 200).await;
    list["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not listed: {list}"))
}

/// The value of one series in `/metrics`, e.g. `hookgate_handler_paused{handler="billing"}`.
async fn metric(app: &TestApp, series: &str) -> Option<f64> {
    let text = app.metrics_text().await;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn until<T>(what: &str, within: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Distinct idempotency keys the receiver got.
fn keys(rx: &Receiver) -> std::collections::BTreeSet<String> {
    rx.received().into_iter().map(|r| r.key).collect()
}

/// Pause, post events, see nothing attempted (beyond the retry interval and the lease),
/// restart while paused, still paused and nothing sent, resume: everything arrives.
async fn pause_survives_a_restart_and_resume_drains(dir: tempfile::TempDir, store_url: &str) {
    let rx = Receiver::start().await;
    let extra = extra_config(dir.path(), FAST_DISPATCH, &[("billing", &rx.url(), "")]);
    let app = spawn_app_on(dir, store_url, "", &extra).await;

    let paused = json_with_status(admin(&app, "POST", "/handlers/billing/pause").await, 200).await;
    assert_eq!(paused["paused"], true, "{paused}");
    assert!(paused["paused_at_ms"].as_i64().is_some(), "{paused}");
    let again = json_with_status(admin(&app, "POST", "/handlers/billing/pause").await, 200).await;
    assert_eq!(
        again["paused_at_ms"], paused["paused_at_ms"],
        "pausing twice keeps the first pause time"
    );
    let unknown = json_with_status(admin(&app, "POST", "/handlers/nope/pause").await, 404).await;
    assert_eq!(unknown["code"], "unknown_handler", "{unknown}");

    for i in 0..5 {
        json_with_status(app.post_stripe(&event(&format!("evt_p{i}"))).await, 200).await;
    }
    // Well past the poll interval (20 ms), the retry backoff (≤ 40 ms) and the lease (2 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(rx.received().len(), 0, "nothing is attempted while paused");
    let status = handler_status(&app, "billing").await;
    assert_eq!(
        (
            status["pending"].as_i64(),
            status["retrying"].as_i64(),
            status["dead"].as_i64()
        ),
        (Some(5), Some(0), Some(0)),
        "deliveries wait as pending, unattempted, none dead: {status}"
    );
    assert_eq!(
        metric(&app, r#"hookgate_handler_paused{handler="billing"}"#).await,
        Some(1.0)
    );

    // Restart on the same store: still paused, still nothing sent.
    let TestApp { server, dir, .. } = app;
    server.shutdown().await.unwrap();
    let app = spawn_app_on(dir, store_url, "", &extra).await;
    let status = handler_status(&app, "billing").await;
    assert_eq!(
        status["paused"], true,
        "paused survives a restart: {status}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        rx.received().len(),
        0,
        "nothing is attempted after the restart"
    );

    let resumed =
        json_with_status(admin(&app, "POST", "/handlers/billing/resume").await, 200).await;
    assert_eq!(resumed["paused"], false, "{resumed}");
    rx.wait_for(5, Duration::from_secs(10)).await;
    until(
        "all five to be delivered",
        Duration::from_secs(10),
        async || {
            let s = handler_status(&app, "billing").await;
            (s["delivered"] == 5 && s["pending"] == 0).then_some(())
        },
    )
    .await;
    assert_eq!(keys(&rx).len(), 5);
    assert!(
        rx.received().iter().all(|r| r.attempt == 1),
        "held deliveries kept their attempt budget: {:?}",
        rx.received()
    );
    // New events flow at once after the resume.
    json_with_status(app.post_stripe(&event("evt_after")).await, 200).await;
    rx.wait_for(6, Duration::from_secs(5)).await;
    app.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_pause_survives_a_restart_and_resume_drains() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    pause_survives_a_restart_and_resume_drains(dir, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_pause_survives_a_restart_and_resume_drains() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    pause_survives_a_restart_and_resume_drains(tempfile::tempdir().unwrap(), &pg.url).await;
}

/// Deliveries already handed to the handler's lane when the pause lands are given back
/// unattempted, with their leases released: with a 30 s lease, a resume delivers them at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_gives_back_what_was_already_queued() {
    let (rx, app) =
        app_with_a_slow_handler("billing", Duration::from_millis(400), "concurrency = 1\n").await;
    for i in 0..6 {
        json_with_status(app.post_stripe(&event(&format!("evt_q{i}"))).await, 200).await;
    }
    rx.wait_for(1, Duration::from_secs(5)).await;
    json_with_status(admin(&app, "POST", "/handlers/billing/pause").await, 200).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = rx.received().len();
    assert!(
        sent <= 2,
        "only what was in flight when the pause landed is sent; got {sent}"
    );
    let status = handler_status(&app, "billing").await;
    assert_eq!(
        status["pending"].as_i64(),
        Some(6 - sent as i64),
        "{status}"
    );

    json_with_status(admin(&app, "POST", "/handlers/billing/resume").await, 200).await;
    // Released leases are due at once; unreleased ones would wait out the 30 s lease.
    until("the rest to arrive", Duration::from_secs(8), async || {
        (keys(&rx).len() == 6).then_some(())
    })
    .await;
    assert!(rx.received().iter().all(|r| r.attempt == 1));
    app.server.shutdown().await.unwrap();
}

/// Two gateways on one Postgres: a pause made through A holds B's dispatcher too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pause_through_one_replica_holds_the_other() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let rx = Receiver::start().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let extra_a = extra_config(dir_a.path(), FAST_DISPATCH, &[("billing", &rx.url(), "")]);
    let extra_b = extra_config(dir_b.path(), FAST_DISPATCH, &[("billing", &rx.url(), "")]);
    let a = spawn_app_on(dir_a, &pg.url, "", &extra_a).await;
    let b = spawn_app_on(dir_b, &pg.url, "", &extra_b).await;

    json_with_status(admin(&a, "POST", "/handlers/billing/pause").await, 200).await;
    // B reads the stored pauses every second.
    until("B to see the pause", Duration::from_secs(3), async || {
        (metric(&b, r#"hookgate_handler_paused{handler="billing"}"#).await == Some(1.0))
            .then_some(())
    })
    .await;
    for i in 0..10 {
        json_with_status(b.post_stripe(&event(&format!("evt_r{i}"))).await, 200).await;
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        rx.received().len(),
        0,
        "B sends nothing while A's pause holds"
    );
    assert_eq!(handler_status(&b, "billing").await["paused"], true);

    json_with_status(admin(&a, "POST", "/handlers/billing/resume").await, 200).await;
    until(
        "every event to arrive after the resume",
        Duration::from_secs(10),
        async || (keys(&rx).len() == 10).then_some(()),
    )
    .await;
    a.server.shutdown().await.unwrap();
    b.server.shutdown().await.unwrap();
}

/// N consecutive failures open the breaker: attempts stop (only probes go out, at a growing
/// backoff), nothing goes dead; when the handler answers again a probe closes it and the
/// backlog drains. The state is in `/metrics` and the listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_after_n_failures_probes_and_closes() {
    let rx = Receiver::start().await;
    rx.set_default(503);
    let dir = tempfile::tempdir().unwrap();
    let extra = extra_config(
        dir.path(),
        FAST_DISPATCH,
        &[(
            "billing",
            &rx.url(),
            "max_attempts = 50\nbreaker_threshold = 3\nbreaker_probe_base = \"250ms\"\nbreaker_probe_cap = \"500ms\"\n",
        )],
    );
    let url = sqlite_url(dir.path());
    let app = spawn_app_on(dir, &url, "", &extra).await;
    let series = r#"{handler="billing"}"#;
    assert_eq!(
        metric(&app, &format!("hookgate_handler_breaker_state{series}")).await,
        Some(0.0)
    );

    for i in 0..5 {
        json_with_status(app.post_stripe(&event(&format!("evt_b{i}"))).await, 200).await;
    }
    until("the breaker to open", Duration::from_secs(5), async || {
        (metric(
            &app,
            &format!("hookgate_handler_breaker_opens_total{series}"),
        )
        .await
            >= Some(1.0))
        .then_some(())
    })
    .await;
    let status = handler_status(&app, "billing").await;
    assert_ne!(status["breaker"]["state"], "closed", "{status}");
    assert_eq!(status["breaker"]["threshold"], 3);

    // Open: over 2 s only probes go out (about one per 250–500 ms). Without the breaker the
    // five deliveries would retry every ≤ 40 ms: well over a hundred attempts.
    let before = rx.received().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let probes = rx.received().len() - before;
    assert!(
        (1..=8).contains(&probes),
        "an open breaker sends only probes; got {probes} attempts in 2 s"
    );
    let opens = metric(
        &app,
        &format!("hookgate_handler_breaker_opens_total{series}"),
    )
    .await
    .unwrap();
    assert!(opens >= 2.0, "every failed probe opens it again: {opens}");
    let status = handler_status(&app, "billing").await;
    assert_eq!(status["dead"], 0, "nothing goes dead while open: {status}");
    assert_eq!(status["delivered"], 0);

    rx.set_default(200);
    until(
        "a probe to close the breaker and the backlog to drain",
        Duration::from_secs(10),
        async || {
            let s = handler_status(&app, "billing").await;
            (s["delivered"] == 5 && s["breaker"]["state"] == "closed").then_some(())
        },
    )
    .await;
    assert_eq!(
        metric(&app, &format!("hookgate_handler_breaker_state{series}")).await,
        Some(0.0)
    );
    assert_eq!(handler_status(&app, "billing").await["dead"], 0);
    app.server.shutdown().await.unwrap();
}

/// A handler that accepts connections and never answers, beside a healthy one: the healthy
/// one's deliveries arrive at their normal pace while the broken one's hang until timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_black_holing_handler_does_not_slow_a_healthy_one() {
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole_url = format!("http://{}/hook", hole.local_addr().unwrap());
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = hole.accept().await {
            keep.lock().unwrap().push(sock); // accepted, never read, never answered
        }
    });
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = extra_config(
        dir.path(),
        LONG_LEASE_DISPATCH,
        &[
            ("billing", &rx.url(), ""),
            ("stuck", &hole_url, "timeout = \"10s\"\nconcurrency = 4\n"),
        ],
    );
    let url = sqlite_url(dir.path());
    let app = spawn_app_on(dir, &url, "", &extra).await;

    let n = 200;
    let mut posted = Vec::with_capacity(n);
    for i in 0..n {
        let body = event(&format!("evt_iso{i}"));
        posted.push(Instant::now());
        json_with_status(app.post_stripe(&body).await, 200).await;
    }
    let got = rx.wait_for(n, Duration::from_secs(15)).await;
    let mut worst = Duration::ZERO;
    for r in &got {
        let i: usize = r.key.trim_start_matches("stripe:evt_iso").parse().unwrap();
        worst = worst.max(r.at.saturating_duration_since(posted[i]));
    }
    assert!(
        worst < Duration::from_secs(3),
        "the healthy handler's slowest delivery took {worst:?}, while the broken one's attempts hang for 10 s"
    );
    assert!(
        !held.lock().unwrap().is_empty(),
        "the broken handler was attempted (and hangs) meanwhile"
    );
    let stuck = handler_status(&app, "stuck").await;
    assert_eq!(stuck["delivered"], 0, "{stuck}");
    drop(app);
}

/// A handler that takes 300 ms per request, with a backlog: the dispatcher starts at its
/// steady 8 attempts in flight (`dispatch::limit`, shown in `/metrics`) and must raise that
/// towards the handler's `concurrency` (default 64), or 300 deliveries would take
/// 300 × 0.3 s / 8 = 11 s. Attempts in flight are also read from the handler's side:
/// requests that arrived within one delay of each other overlapped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_with_a_backlog_gets_more_attempts_in_flight() {
    let delay = Duration::from_millis(300);
    let (rx, app) = app_with_a_slow_handler("slow", delay, "timeout = \"5s\"\n").await;
    let series = r#"hookgate_handler_concurrency_limit{handler="slow"}"#;
    until(
        "the dispatcher to start",
        Duration::from_secs(5),
        async || metric(&app, series).await.filter(|&v| v > 0.0),
    )
    .await;
    assert_eq!(metric(&app, series).await, Some(8.0), "the steady limit");

    let n = 300;
    let started = Instant::now();
    for i in 0..n {
        json_with_status(app.post_stripe(&event(&format!("evt_slow{i}"))).await, 200).await;
    }
    let posted = started.elapsed();
    until(
        "the limit to rise with the backlog",
        Duration::from_secs(5),
        async || metric(&app, series).await.filter(|&v| v >= 24.0),
    )
    .await;
    let got = rx.wait_for(n, Duration::from_secs(30)).await;
    let took = started.elapsed();
    let mut at: Vec<Instant> = got.iter().map(|r| r.at).collect();
    at.sort();
    // Most requests that arrived within (a little less than) one delay of each other were
    // being worked on together.
    let window = delay * 9 / 10;
    let mut most = 0;
    let mut first = 0;
    for last in 0..at.len() {
        while at[last].duration_since(at[first]) > window {
            first += 1;
        }
        most = most.max(last - first + 1);
    }
    assert!(
        most >= 24,
        "at most {most} attempts overlapped at the handler (posting took {posted:?}, delivering all {took:?})"
    );
    assert!(
        took < Duration::from_secs(9),
        "300 deliveries to a 300 ms handler took {took:?} (posting took {posted:?}): the limit did not rise"
    );
    drop(app);
}

/// `hookgate handlers pause|list|resume` against the running gateway's admin API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_pauses_lists_and_resumes_a_handler() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = extra_config(dir.path(), FAST_DISPATCH, &[("billing", &rx.url(), "")]);
    let url = sqlite_url(dir.path());
    let cfg_path = dir.path().join("hookgate.toml");
    std::fs::write(&cfg_path, base_config(dir.path(), &url, "", &extra)).unwrap();
    let app = spawn_app_on(dir, &url, "", &extra).await;
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .arg("--config")
            .arg(&cfg_path)
            .args(["handlers"])
            .args(args)
            .args(["--url", &app.base])
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, out, err) = cli(&["pause", "billing"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("billing: paused"), "{out}");
    assert_eq!(handler_status(&app, "billing").await["paused"], true);

    let (code, out, _) = cli(&["list"]);
    assert_eq!(code, Some(0));
    let row = out
        .lines()
        .find(|l| l.starts_with("billing "))
        .unwrap_or_else(|| panic!("{out}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..3], ["billing", "paused", "closed"], "{out}");

    let (code, out, _) = cli(&["list", "--json"]);
    assert_eq!(code, Some(0));
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["handlers"][0]["name"], "billing");
    assert_eq!(list["handlers"][0]["paused"], true);

    let (code, out, _) = cli(&["resume", "billing"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("billing: running"), "{out}");
    assert_eq!(handler_status(&app, "billing").await["paused"], false);

    let (code, _, err) = cli(&["resume", "nope"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("404") && err.contains("unknown_handler"),
        "{err}"
    );
    assert!(!err.contains(ADMIN_TOKEN), "the token never shows: {err}");

    let (code, _, err) = cli(&["list", "--token", "wrong"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("401"), "{err}");
    app.server.shutdown().await.unwrap();
}
