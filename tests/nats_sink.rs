//! The `nats_jetstream` sink against the machine's NATS (JetStream on): every accepted event is
//! read back once by a pull consumer with the right headers, repeats add nothing, a cut of the
//! gateway's connection (through a proxy) loses nothing and counts nothing as delivered
//! before the stream acknowledged it, and a missing stream stops start-up.

mod common;
#[path = "common/proxy.rs"]
mod proxy;

use async_nats::jetstream::{self, consumer::pull, stream};
use common::*;
use futures::StreamExt;
use proxy::{Mode, Proxy};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const NATS_URL_ENV: &str = "HOOKGATE_TEST_NATS_URL";

async fn nats() -> Option<(SocketAddr, jetstream::Context)> {
    let url = std::env::var(NATS_URL_ENV).unwrap_or_else(|_| "127.0.0.1:4222".into());
    let url = url.trim_start_matches("nats://").trim_end_matches('/');
    let addr: SocketAddr = url.parse().expect("HOOKGATE_TEST_NATS_URL is host:port");
    match async_nats::connect(addr.to_string()).await {
        Ok(c) => Some((addr, jetstream::new(c))),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but NATS at {addr} is unreachable: {e}");
            }
            eprintln!("SKIPPED: NATS at {addr} is unreachable ({e}); set {NATS_URL_ENV}");
            None
        }
    }
}

fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

fn event(id: &str) -> String {
    format!(r#"{{"id":"{id}","object":"event","type":"invoice.paid"}}"#)
}

fn handler(url: &str, prefix: &str, extra: &str) -> String {
    format!(
        "\n[dispatch]\npoll_interval = \"50ms\"\n\n[handlers.bus]\nkind = \"nats_jetstream\"\nurl = \"nats://{url}\"\nsubject = \"{prefix}.{{source}}.{{type}}\"\nsources = [\"stripe\"]\ntimeout = \"2s\"\nbackoff_base = \"100ms\"\nbackoff_cap = \"500ms\"\nmax_attempts = 1000\n{extra}\n"
    )
}

async fn states(app: &TestApp, ids: &[String]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for id in ids {
        let ev = app
            .server
            .store()
            .find_event("stripe", id)
            .await
            .unwrap()
            .unwrap();
        for d in app.server.store().deliveries_of(ev.id).await.unwrap() {
            *out.entry(d.state).or_insert(0) += 1;
        }
    }
    out
}

async fn wait_all_delivered(app: &TestApp, ids: &[String], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let s = states(app, ids).await;
        if s.get("delivered").copied().unwrap_or(0) == ids.len() {
            return;
        }
        assert!(Instant::now() < deadline, "not all delivered: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn messages_in(js: &jetstream::Context, name: &str) -> u64 {
    js.get_stream(name)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages
}

#[tokio::test]
async fn every_event_is_published_once_with_its_key_through_a_connection_cut() {
    let Some((addr, js)) = nats().await else {
        return;
    };
    let sfx = suffix();
    let prefix = format!("hgtest_{sfx}");
    let name = format!("HGTEST_{sfx}");
    js.create_stream(stream::Config {
        name: name.clone(),
        subjects: vec![format!("{prefix}.>")],
        ..Default::default()
    })
    .await
    .unwrap();

    let proxy = Proxy::start(addr).await;
    let app = spawn_app_with("", &handler(&proxy.addr.to_string(), &prefix, "")).await;

    // 200 events while the connection is up, and a repeat of each of the first 50.
    let mut ids: Vec<String> = (0..200).map(|i| format!("evt_nats_{sfx}_{i}")).collect();
    for id in &ids {
        json_with_status(app.post_stripe(&event(id)).await, 200).await;
    }
    for id in &ids[..50] {
        let v = json_with_status(app.post_stripe(&event(id)).await, 200).await;
        assert_eq!(v["status"], "duplicate", "{v}");
    }
    wait_all_delivered(&app, &ids, Duration::from_secs(30)).await;
    assert_eq!(messages_in(&js, &name).await, 200);

    // Cut: 100 more events are accepted, their deliveries fail and stay pending, and the
    // stream holds nothing new.
    proxy.set(Mode::Cut);
    let cut_ids: Vec<String> = (200..300).map(|i| format!("evt_nats_{sfx}_{i}")).collect();
    for id in &cut_ids {
        json_with_status(app.post_stripe(&event(id)).await, 200).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during = states(&app, &cut_ids).await;
    assert_eq!(
        during.get("delivered"),
        None,
        "delivered while cut: {during:?}"
    );
    assert_eq!(during.get("pending"), Some(&100), "{during:?}");
    assert_eq!(messages_in(&js, &name).await, 200);
    let ev = app
        .server
        .store()
        .find_event("stripe", &cut_ids[0])
        .await
        .unwrap()
        .unwrap();
    let d = &app.server.store().deliveries_of(ev.id).await.unwrap()[0];
    assert!(d.attempts >= 1, "attempted while cut: {d:?}");
    assert!(d.last_error.is_some(), "{d:?}");

    // Restore: everything arrives, and copies that landed late are dropped by Nats-Msg-Id.
    proxy.set(Mode::Pass);
    wait_all_delivered(&app, &cut_ids, Duration::from_secs(60)).await;
    ids.extend(cut_ids);

    // A pull consumer reads back exactly one message per event.
    let consumer = js
        .get_stream(&name)
        .await
        .unwrap()
        .create_consumer(pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut seen: HashMap<String, async_nats::Message> = HashMap::new();
    let mut total = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < ids.len() && Instant::now() < deadline {
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap();
        while let Some(m) = batch.next().await {
            let m = m.unwrap();
            m.ack().await.unwrap();
            total += 1;
            let key = m
                .headers
                .as_ref()
                .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                .unwrap_or_else(|| panic!("no Nats-Msg-Id: {:?} {:?}", m.subject, m.headers))
                .to_string();
            seen.insert(key, m.message.clone());
        }
    }
    assert_eq!(total, ids.len(), "one message per accepted event");
    for id in &ids {
        assert!(seen.contains_key(&format!("stripe:{id}")), "{id} missing");
    }

    let m = &seen[&format!("stripe:{}", ids[0])];
    assert_eq!(m.subject.as_str(), format!("{prefix}.stripe.invoice_paid"));
    assert_eq!(m.payload.as_ref(), event(&ids[0]).as_bytes());
    let h = m.headers.as_ref().unwrap();
    let stored = app
        .server
        .store()
        .find_event("stripe", &ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        h.get("idempotency-key").unwrap().as_str(),
        format!("stripe:{}", ids[0])
    );
    assert_eq!(h.get("hookgate-source").unwrap().as_str(), "stripe");
    assert_eq!(
        h.get("hookgate-event-type").unwrap().as_str(),
        "invoice.paid"
    );
    assert_eq!(h.get("hookgate-attempt").unwrap().as_str(), "1");
    assert_eq!(
        h.get("hookgate-record-id").unwrap().as_str(),
        stored.id.to_string()
    );

    js.delete_stream(&name).await.unwrap();
}

#[tokio::test]
async fn a_missing_stream_is_a_startup_error_unless_it_is_created() {
    let Some((addr, js)) = nats().await else {
        return;
    };
    let sfx = suffix();
    let prefix = format!("hgtest_{sfx}");
    let name = format!("HGTEST_{sfx}");
    let start = |extra: String| async move {
        let dir = tempfile::tempdir().unwrap();
        let text = base_config(dir.path(), &sqlite_url(dir.path()), "", &extra);
        let config = hookgate::config::Config::from_toml(&text).unwrap();
        hookgate::server::Server::start(config)
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    };

    // No stream covers the subjects.
    let err = start(handler(&addr.to_string(), &prefix, ""))
        .await
        .unwrap_err();
    assert!(
        err.contains("handlers.bus") && err.contains("no JetStream stream covers"),
        "{err}"
    );
    // A named stream that does not exist.
    let err = start(handler(
        &addr.to_string(),
        &prefix,
        &format!("stream = \"{name}\""),
    ))
    .await
    .unwrap_err();
    assert!(err.contains("does not exist"), "{err}");

    // create_stream = true creates it with the template's subjects, and it is then used.
    let extra = handler(
        &addr.to_string(),
        &prefix,
        &format!("stream = \"{name}\"\ncreate_stream = true"),
    );
    let app = spawn_app_with("", &extra).await;
    let info = js
        .get_stream(&name)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.config.subjects, vec![format!("{prefix}.*.*")]);
    let id = format!("evt_nats_create_{sfx}");
    json_with_status(app.post_stripe(&event(&id)).await, 200).await;
    wait_all_delivered(&app, std::slice::from_ref(&id), Duration::from_secs(15)).await;
    assert_eq!(messages_in(&js, &name).await, 1);

    // A stream whose subjects do not cover the template.
    let narrow = format!("HGTEST_{}", suffix());
    js.create_stream(stream::Config {
        name: narrow.clone(),
        subjects: vec![format!("{prefix}_n.stripe.only")],
        ..Default::default()
    })
    .await
    .unwrap();
    let err = start(handler(
        &addr.to_string(),
        &format!("{prefix}_n"),
        &format!("stream = \"{narrow}\""),
    ))
    .await
    .unwrap_err();
    assert!(err.contains("do not cover"), "{err}");

    js.delete_stream(&name).await.unwrap();
    js.delete_stream(&narrow).await.unwrap();
}

/// A private `nats-server -js` on a free port with its own store directory, so the test can
/// stop and restart it (the machine's shared server is never restarted).
struct PrivateNats {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl PrivateNats {
    fn start() -> Option<PrivateNats> {
        let bin =
            std::env::var("HOOKGATE_TEST_NATS_SERVER").unwrap_or("/usr/sbin/nats-server".into());
        if !std::path::Path::new(&bin).exists() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but {bin} does not exist");
            }
            eprintln!("SKIPPED: {bin} does not exist; set HOOKGATE_TEST_NATS_SERVER");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut n = PrivateNats {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        n.run();
        Some(n)
    }

    fn run(&mut self) {
        let child = std::process::Command::new(
            std::env::var("HOOKGATE_TEST_NATS_SERVER").unwrap_or("/usr/sbin/nats-server".into()),
        )
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-js",
            "-sd",
        ])
        .arg(self.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "private nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Graceful stop (SIGTERM), so the stream's file store is complete on restart.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test]
async fn a_broker_restart_mid_flight_loses_nothing() {
    let Some(mut server) = PrivateNats::start() else {
        return;
    };
    let url = format!("127.0.0.1:{}", server.port);
    let js = jetstream::new(async_nats::connect(url.as_str()).await.unwrap());
    js.create_stream(stream::Config {
        name: "EVENTS".into(),
        subjects: vec!["hookgate.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let app = spawn_app_with("", &handler(&url, "hookgate", "stream = \"EVENTS\"")).await;
    let sfx = suffix();
    let before: Vec<String> = (0..100).map(|i| format!("evt_rst_{sfx}_{i}")).collect();
    for id in &before {
        json_with_status(app.post_stripe(&event(id)).await, 200).await;
    }
    wait_all_delivered(&app, &before, Duration::from_secs(30)).await;

    // The broker goes away; events keep being accepted and their deliveries wait.
    server.stop();
    let during: Vec<String> = (100..200).map(|i| format!("evt_rst_{sfx}_{i}")).collect();
    for id in &during {
        json_with_status(app.post_stripe(&event(id)).await, 200).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = states(&app, &during).await;
    assert_eq!(
        s.get("delivered"),
        None,
        "delivered while the broker was down: {s:?}"
    );

    // Back on the same port and store: everything arrives, once.
    server.run();
    wait_all_delivered(&app, &during, Duration::from_secs(60)).await;
    let js = jetstream::new(async_nats::connect(url.as_str()).await.unwrap());
    assert_eq!(messages_in(&js, "EVENTS").await, 200);
    let consumer = js
        .get_stream("EVENTS")
        .await
        .unwrap()
        .create_consumer(pull::Config::default())
        .await
        .unwrap();
    let mut keys = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while keys.len() < 200 && Instant::now() < deadline {
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap();
        while let Some(m) = batch.next().await {
            let m = m.unwrap();
            m.ack().await.unwrap();
            keys.insert(
                m.headers
                    .as_ref()
                    .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                    .unwrap()
                    .to_string(),
            );
        }
    }
    for id in before.iter().chain(&during) {
        assert!(keys.contains(&format!("stripe:{id}")), "{id} missing");
    }
}
