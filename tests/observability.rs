//! What an operator sees: known traffic (with known duplicate and rejection counts) driven
//! through the real server, then the stats API, `/metrics`, the JSON decision log, and the
//! figures of two replicas sharing one Postgres — all checked to the exact number.

mod common;
#[path = "common/receiver.rs"]
mod receiver;

use common::*;
use receiver::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

const ADMIN_TOKEN: &str = "admin-token-for-observability";

fn admin_section(dir: &std::path::Path) -> String {
    let token = dir.join("admin_token");
    std::fs::write(&token, ADMIN_TOKEN).unwrap();
    format!("\n[admin]\ntoken = \"file:{}\"\n", token.display())
}

async fn app_on(store_url: Option<&str>, handler_url: Option<&str>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut extra = admin_section(dir.path());
    if let Some(url) = handler_url {
        extra.push_str(FAST_DISPATCH);
        extra.push_str(&handler_section(
            dir.path(),
            "billing",
            url,
            "[\"stripe\"]",
            "",
        ));
    }
    let url = store_url
        .map(str::to_string)
        .unwrap_or_else(|| sqlite_url(dir.path()));
    spawn_app_on(dir, &url, "", &extra).await
}

fn stripe_event(id: &str, amount: u32) -> String {
    format!(r#"{{"id":"{id}","object":"event","type":"invoice.paid","amount":{amount}}}"#)
}

/// Send Stripe events with a valid signature (fresh timestamp) and expect 200 `status`.
async fn send_stripe(app: &TestApp, id: &str, amount: u32, status: &str) {
    let v = json_with_status(app.post_stripe(&stripe_event(id, amount)).await, 200).await;
    assert_eq!(v["status"], status, "{v}");
}

async fn send_github(app: &TestApp, delivery: &str, status: &str) {
    let body = r#"{"action":"opened"}"#;
    let h = sign(
        "github",
        GITHUB_SECRET,
        body.as_bytes(),
        delivery,
        SystemTime::now(),
    );
    let v = json_with_status(app.post("github", body, &h).await, 200).await;
    assert_eq!(v["status"], status, "{v}");
}

/// Send a request expected to be refused with `reason`.
async fn send_rejected(app: &TestApp, reason: &str) {
    let body = stripe_event("evt_rejected", 1);
    let (source, body, headers, status) = match reason {
        "invalid_signature" => {
            let h = sign(
                "stripe",
                STRIPE_SECRET,
                body.as_bytes(),
                "",
                SystemTime::now(),
            );
            ("stripe", body.replace("evt_", "evt-"), h, 401)
        }
        "stale_timestamp" => {
            let then = SystemTime::now() - Duration::from_secs(3600);
            let h = sign("stripe", STRIPE_SECRET, body.as_bytes(), "", then);
            ("stripe", body, h, 401)
        }
        "missing_signature" => ("stripe", body, vec![], 401),
        "unknown_source" => ("no-such-source", body, vec![], 404),
        "payload_too_large" => ("stripe", "x".repeat(70_000), vec![], 413),
        "idempotency_key_reused" => {
            let h = vec![
                (
                    "authorization".to_string(),
                    format!("Bearer {INTERNAL_KEY}"),
                ),
                ("idempotency-key".to_string(), "\"order-1\"".to_string()),
            ];
            ("orders", r#"{"changed":true}"#.to_string(), h, 422)
        }
        other => panic!("no recipe for {other}"),
    };
    let p = json_with_status(app.post(source, body, &headers).await, status).await;
    assert_eq!(p.get("reason").unwrap_or(&p["code"]), reason, "{p}");
}

async fn admin_get(app: &TestApp, path: &str) -> Value {
    let resp = app
        .client
        .get(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    json_with_status(resp, 200).await
}

async fn stats_of(app: &TestApp) -> Value {
    admin_get(app, "/api/stats?window=1h").await
}

fn source<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == name)
        .unwrap_or_else(|| panic!("no source {name} in {stats}"))
}

/// The figures of one source: (requests, accepted, duplicates, body_mismatches, rejected).
fn figures(stats: &Value, name: &str) -> (i64, i64, i64, i64, i64) {
    let s = source(stats, name);
    let n = |k: &str| s[k].as_i64().unwrap();
    (
        n("requests"),
        n("accepted"),
        n("duplicates"),
        n("body_mismatches"),
        n("rejected"),
    )
}

fn rejections(stats: &Value, name: &str) -> BTreeMap<String, i64> {
    serde_json::from_value(source(stats, name)["rejections"].clone()).unwrap()
}

/// Parse the Prometheus text format into `name{k="v",…}` (labels sorted) → value.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let mut ls: Vec<&str> = rest.trim_end_matches('}').split(',').collect();
                ls.sort_unstable();
                (n, ls.join(","))
            }
            None => (series, String::new()),
        };
        out.insert(format!("{name}{{{labels}}}"), value.parse().unwrap());
    }
    out
}

fn series_key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut ls: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    ls.sort_unstable();
    format!("{name}{{{}}}", ls.join(","))
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    parse_metrics(&resp.text().await.unwrap())
}

#[tokio::test]
async fn known_traffic_is_counted_exactly_by_the_stats_api_and_metrics() {
    let rx = Receiver::start().await;
    let app = app_on(None, Some(&rx.url())).await;

    // Stripe: 6 first arrivals, 4 repeats (one with a changed body), 7 refusals.
    for i in 1..=6 {
        send_stripe(&app, &format!("evt_{i}"), i, "accepted").await;
    }
    send_stripe(&app, "evt_1", 1, "duplicate").await;
    send_stripe(&app, "evt_1", 1, "duplicate").await;
    send_stripe(&app, "evt_2", 2, "duplicate").await;
    send_stripe(&app, "evt_3", 999, "duplicate").await; // body mismatch
    for reason in [
        "invalid_signature",
        "invalid_signature",
        "stale_timestamp",
        "stale_timestamp",
        "stale_timestamp",
        "missing_signature",
        "payload_too_large",
    ] {
        send_rejected(&app, reason).await;
    }
    // GitHub: 2 first arrivals, 1 repeat. Unknown sources: 2. Internal: 1 + a reused key.
    send_github(&app, "gh-1", "accepted").await;
    send_github(&app, "gh-2", "accepted").await;
    send_github(&app, "gh-1", "duplicate").await;
    send_rejected(&app, "unknown_source").await;
    send_rejected(&app, "unknown_source").await;
    let orders = [
        (
            "authorization".to_string(),
            format!("Bearer {INTERNAL_KEY}"),
        ),
        ("idempotency-key".to_string(), "\"order-1\"".to_string()),
    ];
    json_with_status(app.post("orders", r#"{"a":1}"#, &orders).await, 200).await;
    send_rejected(&app, "idempotency_key_reused").await;

    rx.wait_for(6, Duration::from_secs(10)).await;
    // Wait until all six deliveries are both recorded in the store and counted.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = stats_of(&app).await;
        let billing = &stats["handlers"][0];
        if billing["live"]["delivered"] == 6 && billing["attempts"] == 6 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{billing}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Nothing flushed yet: the API shows this replica's in-memory counts.
    let before_flush = stats_of(&app).await;
    assert!(app.server.flush_stats().await.unwrap() > 0);
    let stats = stats_of(&app).await;
    assert_eq!(
        stats["sources"], before_flush["sources"],
        "a flush neither loses nor doubles counts"
    );

    assert_eq!(stats["window"], "1h");
    assert_eq!(stats["bucket_ms"], 60_000);
    assert_eq!(figures(&stats, "stripe"), (17, 6, 4, 1, 7));
    assert_eq!(
        rejections(&stats, "stripe"),
        BTreeMap::from([
            ("invalid_signature".into(), 2),
            ("missing_signature".into(), 1),
            ("payload_too_large".into(), 1),
            ("stale_timestamp".into(), 3),
        ])
    );
    let stripe = source(&stats, "stripe");
    assert_eq!(stripe["duplicate_rate"], 0.4);
    let ttd: Vec<(String, i64)> = stripe["time_to_duplicate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["bucket"].as_str().unwrap().to_string(),
                b["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ttd.len(), 7);
    assert_eq!(ttd[0].0, "lt_1s");
    assert_eq!(
        ttd[0].1 + ttd[1].1,
        4,
        "repeats seconds after the original: {ttd:?}"
    );
    let series = stripe["series"].as_array().unwrap();
    assert_eq!(series.len(), 60);
    let summed: i64 = series
        .iter()
        .map(|p| p["duplicates"].as_i64().unwrap())
        .sum();
    assert_eq!(summed, 4, "the chart's points add up to the total");

    assert_eq!(figures(&stats, "github"), (3, 2, 1, 0, 0));
    assert_eq!(figures(&stats, "orders"), (2, 1, 0, 0, 1));
    assert_eq!(rejections(&stats, "orders")["idempotency_key_reused"], 1);
    assert_eq!(figures(&stats, "(unknown)"), (2, 0, 0, 0, 2));
    assert_eq!(rejections(&stats, "(unknown)")["unknown_source"], 2);
    let totals = &stats["totals"];
    assert_eq!(
        (
            totals["requests"].as_i64(),
            totals["accepted"].as_i64(),
            totals["duplicates"].as_i64(),
            totals["rejected"].as_i64()
        ),
        (Some(24), Some(9), Some(5), Some(10))
    );

    let billing = &stats["handlers"][0];
    assert_eq!(billing["handler"], "billing");
    assert_eq!(
        (
            billing["attempts"].as_i64(),
            billing["delivered"].as_i64(),
            billing["failed_attempts"].as_i64(),
            billing["dead"].as_i64()
        ),
        (Some(6), Some(6), Some(0), Some(0))
    );
    assert_eq!(billing["attempt_duration"]["count"], 6);
    assert_eq!(billing["live"]["delivered"], 6);
    assert_eq!(billing["live"]["pending"], 0);
    assert_eq!(billing["live"]["oldest_pending_age_ms"], Value::Null);

    // The same figures in Prometheus.
    let m = scrape(&app).await;
    let get = |name: &str, labels: &[(&str, &str)]| {
        m.get(&series_key(name, labels))
            .copied()
            .unwrap_or_else(|| panic!("no {} in {m:#?}", series_key(name, labels)))
    };
    let req = "hookgate_ingest_requests_total";
    assert_eq!(
        get(req, &[("source", "stripe"), ("outcome", "accepted")]),
        6.0
    );
    assert_eq!(
        get(req, &[("source", "stripe"), ("outcome", "duplicate")]),
        4.0
    );
    assert_eq!(
        get(req, &[("source", "stripe"), ("outcome", "rejected")]),
        7.0
    );
    let ev = "hookgate_ingest_events_total";
    assert_eq!(
        get(ev, &[("source", "stripe"), ("outcome", "accepted")]),
        6.0
    );
    assert_eq!(
        get(ev, &[("source", "stripe"), ("outcome", "duplicate")]),
        4.0
    );
    assert_eq!(
        get(ev, &[("source", "github"), ("outcome", "duplicate")]),
        1.0
    );
    assert_eq!(
        get(
            "hookgate_ingest_body_mismatches_total",
            &[("source", "stripe")]
        ),
        1.0
    );
    let rej = "hookgate_ingest_rejections_total";
    assert_eq!(
        get(rej, &[("source", "stripe"), ("reason", "stale_timestamp")]),
        3.0
    );
    assert_eq!(
        get(
            rej,
            &[("source", "stripe"), ("reason", "invalid_signature")]
        ),
        2.0
    );
    assert_eq!(
        get(
            rej,
            &[("source", "(unknown)"), ("reason", "unknown_source")]
        ),
        2.0
    );
    assert_eq!(
        get(
            rej,
            &[("source", "orders"), ("reason", "idempotency_key_reused")]
        ),
        1.0
    );
    assert_eq!(
        get(
            "hookgate_duplicate_age_seconds_count",
            &[("source", "stripe")]
        ),
        4.0
    );
    assert_eq!(
        get(
            "hookgate_duplicate_age_seconds_bucket",
            &[("source", "stripe"), ("le", "+Inf")]
        ),
        4.0
    );
    assert_eq!(
        get(
            "hookgate_delivery_attempts_total",
            &[("handler", "billing"), ("outcome", "delivered")]
        ),
        6.0
    );
    assert_eq!(
        get(
            "hookgate_deliveries_total",
            &[("handler", "billing"), ("outcome", "delivered")]
        ),
        6.0
    );
    assert_eq!(
        get(
            "hookgate_delivery_attempt_duration_seconds_count",
            &[("handler", "billing")]
        ),
        6.0
    );
    assert_eq!(
        get(
            "hookgate_delivery_lag_seconds_count",
            &[("handler", "billing")]
        ),
        6.0
    );
    assert_eq!(
        get("hookgate_deliveries_pending", &[("handler", "billing")]),
        0.0
    );
    assert_eq!(
        get(
            "hookgate_oldest_pending_age_seconds",
            &[("handler", "billing")]
        ),
        0.0
    );
    assert_eq!(get("hookgate_store_up", &[]), 1.0);
    assert!(
        m.keys().all(|k| !k.contains("evt_") && !k.contains("gh-")),
        "event ids never become labels"
    );
}

#[tokio::test]
async fn stats_windows_filters_and_the_api_description() {
    let app = app_on(None, None).await;
    send_stripe(&app, "evt_a", 1, "accepted").await;
    send_stripe(&app, "evt_a", 2, "duplicate").await;
    send_stripe(&app, "evt_b", 1, "accepted").await;

    for (window, bucket, points) in [("24h", 900_000, 96), ("7d", 3_600_000, 168)] {
        let s = admin_get(&app, &format!("/api/stats?window={window}")).await;
        assert_eq!(s["bucket_ms"], bucket);
        assert_eq!(
            source(&s, "stripe")["series"].as_array().unwrap().len(),
            points
        );
        assert_eq!(figures(&s, "stripe"), (3, 2, 1, 1, 0));
    }
    let resp = app
        .client
        .get(app.url("/api/stats?window=2h"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let p = json_with_status(resp, 400).await;
    assert_eq!(p["code"], "bad_request");
    let resp = app.client.get(app.url("/api/stats")).send().await.unwrap();
    json_with_status(resp, 401).await;

    // The status filter of the events list.
    let dup = admin_get(&app, "/api/events?status=duplicated").await;
    let ids: Vec<&str> = dup["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["evt_a"]);
    assert_eq!(dup["events"][0]["mismatch_count"], 1);
    let resp = app
        .client
        .get(app.url("/api/events?status=bogus"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    json_with_status(resp, 400).await;

    // The OpenAPI description is public and names every admin route.
    let resp = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    let spec = json_with_status(resp, 200).await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths: Vec<&String> = spec["paths"].as_object().unwrap().keys().collect();
    for route in [
        "/api/stats",
        "/api/events",
        "/api/events/{id}",
        "/api/events/{id}/replay",
        "/api/replay",
        "/api/deliveries/retry-dead",
        "/api/handlers",
        "/api/handlers/{name}/pause",
        "/api/handlers/{name}/resume",
        "/api/deliveries",
        "/api/deliveries/retry",
        "/api/deliveries/{id}",
        "/api/deliveries/{id}/retry",
        "/metrics",
    ] {
        assert!(paths.iter().any(|p| *p == route), "{route} in {paths:?}");
    }

    // The dashboard is served to anyone (it asks for the token) under a strict policy.
    let resp = app.client.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    let html = resp.text().await.unwrap();
    assert!(!html.contains(ADMIN_TOKEN));
}

#[tokio::test]
async fn counts_are_flushed_on_shutdown() {
    let app = app_on(None, None).await;
    send_stripe(&app, "evt_s1", 1, "accepted").await;
    send_stripe(&app, "evt_s1", 1, "duplicate").await;
    let store = app.server.store().clone();
    app.server.shutdown().await.unwrap();
    let rows = store.stats_between(0, i64::MAX, 60_000).await.unwrap();
    let count = |c: &str| {
        rows.iter()
            .filter(|r| r.name == "stripe" && r.counter == c)
            .map(|r| r.value)
            .sum::<i64>()
    };
    assert_eq!((count("accepted"), count("duplicates")), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_add_up() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let a = app_on(Some(&pg.url), None).await;
    let b = app_on(Some(&pg.url), None).await;

    // 5 distinct events; each replica sees some first and repeats of the other's.
    for i in 1..=3 {
        send_stripe(&a, &format!("evt_r{i}"), i, "accepted").await;
    }
    send_stripe(&a, "evt_r1", 1, "duplicate").await;
    for i in 4..=5 {
        send_stripe(&b, &format!("evt_r{i}"), i, "accepted").await;
    }
    send_stripe(&b, "evt_r1", 1, "duplicate").await;
    send_stripe(&b, "evt_r2", 7, "duplicate").await; // mismatch
    send_rejected(&b, "stale_timestamp").await;
    send_rejected(&a, "unknown_source").await;

    // Before B flushes, A sees only its own counts.
    a.server.flush_stats().await.unwrap();
    assert_eq!(figures(&stats_of(&a).await, "stripe"), (4, 3, 1, 0, 0));
    b.server.flush_stats().await.unwrap();
    for app in [&a, &b] {
        let stats = stats_of(app).await;
        assert_eq!(figures(&stats, "stripe"), (9, 5, 3, 1, 1));
        assert_eq!(rejections(&stats, "stripe")["stale_timestamp"], 1);
        assert_eq!(figures(&stats, "(unknown)"), (1, 0, 0, 0, 1));
    }
}

/// One `ingest decision` line per request in the JSON log of the real binary, with the
/// source, event id, outcome or reason, and the request id the client sees.
#[tokio::test]
async fn each_ingest_decision_is_one_json_log_line_with_the_request_id() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = sqlite_url(dir.path());
    let config = base_config(dir.path(), &url, "", "\n[log]\nformat = \"json\"\n")
        .replace("listen = \"127.0.0.1:0\"", &format!("listen = \"{addr}\""));
    let cfg_path = dir.path().join("hookgate.toml");
    std::fs::write(&cfg_path, config).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["serve", "--config"])
        .arg(&cfg_path)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });

    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = stripe_event("evt_log", 1);
    let post = |body: String, headers: Vec<(String, String)>, rid: &'static str| {
        let mut req = client
            .post(format!("{base}/webhooks/stripe"))
            .header("x-request-id", rid)
            .body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let signed = || {
        sign(
            "stripe",
            STRIPE_SECRET,
            body.as_bytes(),
            "",
            SystemTime::now(),
        )
    };
    let r = post(body.clone(), signed(), "req-accepted").await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-accepted");
    post(body.clone(), signed(), "req-duplicate").await.unwrap();
    let r = post(body.clone(), vec![], "req-rejected").await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["x-request-id"], "req-rejected");

    let mut decisions: BTreeMap<String, Value> = BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while decisions.len() < 3 && std::time::Instant::now() < deadline {
        let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        if v["message"] == "ingest decision" {
            let rid = v["request_id"].as_str().unwrap().to_string();
            assert!(
                decisions.insert(rid, v).is_none(),
                "one line per decision: {line}"
            );
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let field = |rid: &str, k: &str| decisions[rid][k].as_str().map(str::to_string);
    assert_eq!(decisions.len(), 3, "{decisions:#?}");
    for rid in ["req-accepted", "req-duplicate", "req-rejected"] {
        assert_eq!(field(rid, "source").as_deref(), Some("stripe"));
    }
    assert_eq!(
        field("req-accepted", "outcome").as_deref(),
        Some("accepted")
    );
    assert_eq!(
        field("req-accepted", "event_id").as_deref(),
        Some("evt_log")
    );
    assert_eq!(
        field("req-duplicate", "outcome").as_deref(),
        Some("duplicate")
    );
    assert_eq!(
        field("req-duplicate", "event_id").as_deref(),
        Some("evt_log")
    );
    assert_eq!(
        field("req-rejected", "outcome").as_deref(),
        Some("rejected")
    );
    assert_eq!(
        field("req-rejected", "reason").as_deref(),
        Some("missing_signature")
    );
    assert!(
        !decisions
            .values()
            .any(|v| v.to_string().contains(STRIPE_SECRET)),
        "no secret in the log"
    );
}
