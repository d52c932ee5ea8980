//! Dispatch throughput: deliveries per second to a local no-op HTTP handler and to a Redis
//! stream, each next to a baseline that does the same sends without hookgate (the ceiling
//! for this machine), in one run.
//!
//!     cargo bench --bench dispatch                      # SQLite store
//!     HOOKGATE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench dispatch
//!
//! Options (env): BENCH_EVENTS (default 5000), BENCH_CONCURRENCY (default 32),
//! HOOKGATE_TEST_REDIS_URL (default redis://127.0.0.1:6379/).

use futures::StreamExt;
use hookgate::config::Config;
use hookgate::dispatch::Dispatcher;
use hookgate::store::{self, NewEvent, Store};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn noop_handler() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

fn body() -> bytes::Bytes {
    let mut b = br#"{"id":"evt","type":"bench.event","data":""#.to_vec();
    b.extend(std::iter::repeat_n(b'x', 1024 - b.len() - 3));
    b.extend_from_slice(br#""}"#);
    bytes::Bytes::from(b)
}

async fn baseline_http(url: &str, n: usize, c: usize) -> f64 {
    let client = reqwest::Client::new();
    let body = body();
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let (client, body) = (client.clone(), body.clone());
            async move {
                let r = client
                    .post(url)
                    .header("idempotency-key", format!("k{i}"))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
            }
        })
        .buffer_unordered(c)
        .collect::<Vec<_>>()
        .await;
    n as f64 / start.elapsed().as_secs_f64()
}

async fn baseline_redis(url: &str, stream: &str, n: usize, c: usize) -> f64 {
    let client = redis::Client::open(url).unwrap();
    let conn = redis::aio::ConnectionManager::new(client).await.unwrap();
    let body = body();
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let (mut conn, body) = (conn.clone(), body.clone());
            async move {
                let _: String = redis::cmd("XADD")
                    .arg(stream)
                    .arg("*")
                    .arg("key")
                    .arg(format!("k{i}"))
                    .arg("body")
                    .arg(body.as_ref())
                    .query_async(&mut conn)
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(c)
        .collect::<Vec<_>>()
        .await;
    n as f64 / start.elapsed().as_secs_f64()
}

/// Fill the outbox with `n` events for `handler`, then time the dispatcher delivering them.
async fn hookgate_rate(
    store_url: &str,
    handler_toml: &str,
    handler: &str,
    n: usize,
    dir: &std::path::Path,
) -> f64 {
    let cfg_text = format!(
        "[store]\nurl = \"{store_url}\"\n[dispatch]\npoll_interval = \"100ms\"\nclaim_batch = 256\n[sources.bench]\nprovider = \"github\"\nsecrets = [\"file:{secret}\"]\n{handler_toml}",
        secret = dir.join("secret").display()
    );
    std::fs::write(dir.join("secret"), "bench-secret").unwrap();
    std::fs::write(
        dir.join("handler_secret"),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    .unwrap();
    let config = Config::from_toml(&cfg_text).unwrap();
    let resolved = config.resolve().unwrap();
    let store: Arc<dyn Store> = store::open(&config.store).await.unwrap();
    let body = body();
    let hash: [u8; 32] = Sha256::digest(&body).into();
    let run = uuid::Uuid::now_v7().simple().to_string();
    for chunk in (0..n).collect::<Vec<_>>().chunks(256) {
        let events = chunk
            .iter()
            .map(|i| NewEvent {
                id: uuid::Uuid::now_v7(),
                source: "bench".into(),
                event_id: format!("{run}-{i}"),
                event_type: Some("bench.event".into()),
                body: body.clone(),
                headers: serde_json::json!({"content-type": "application/json"}),
                body_sha256: hash,
                received_at_ms: store::now_ms(),
                handlers: vec![handler.to_string()],
            })
            .collect();
        store.record(events).await.unwrap();
    }
    let wake = Arc::new(Notify::new());
    let stats = Arc::new(hookgate::stats::Stats::new());
    let dispatcher =
        Dispatcher::from_config(&config, &resolved.handler_secrets, wake, stats).unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let start = Instant::now();
    let task = tokio::spawn(dispatcher.run(store.clone(), stop_rx, Duration::from_secs(5)));
    loop {
        let h = store.delivery_health().await.unwrap();
        let delivered = h
            .iter()
            .find(|x| x.handler == handler)
            .map(|x| x.delivered)
            .unwrap_or(0);
        if delivered as usize >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = task.await;
    rate
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let n = env_usize("BENCH_EVENTS", 5000);
        let c = env_usize("BENCH_CONCURRENCY", 32);
        let redis_url = std::env::var("HOOKGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
        let pg = std::env::var("HOOKGATE_BENCH_POSTGRES_URL").ok();
        let url = noop_handler().await;
        println!("dispatch benchmark: {n} events of 1 KiB, concurrency {c}, {} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        println!("{:<44} {:>14}", "case", "deliveries/s");

        let base = baseline_http(&url, n, c).await;
        println!("{:<44} {:>14.0}", "baseline: reqwest POST loop -> no-op handler", base);

        let stream = format!("hookgate-bench:{}", uuid::Uuid::now_v7());
        let redis_ok = redis::Client::open(redis_url.as_str()).unwrap().get_multiplexed_async_connection().await.is_ok();
        if redis_ok {
            let r = baseline_redis(&redis_url, &stream, n, c).await;
            println!("{:<44} {:>14.0}", "baseline: XADD loop -> redis stream", r);
        }

        let mut stores = vec![("sqlite".to_string(), None)];
        if let Some(pg) = pg {
            stores.push(("postgres".to_string(), Some(pg)));
        }
        for (engine, pg_url) in stores {
            let dir = tempfile::tempdir().unwrap();
            let store_url = pg_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
            // Handler names are unique per run: a Postgres database may hold earlier runs' rows.
            let suffix = &uuid::Uuid::now_v7().simple().to_string()[20..];
            let noop = format!("noop_{suffix}");
            let bus = format!("bus_{suffix}");
            let http = format!(
                "[handlers.{noop}]\nkind = \"http\"\nurl = \"{url}\"\nsources = [\"bench\"]\nsecret = \"file:{}\"\nconcurrency = {c}\n",
                dir.path().join("handler_secret").display()
            );
            let r = hookgate_rate(&store_url, &http, &noop, n, dir.path()).await;
            println!("{:<44} {:>14.0}", format!("hookgate ({engine}) -> no-op http handler"), r);
            if redis_ok {
                let dir = tempfile::tempdir().unwrap();
                let store_url = pg_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
                let rs = format!(
                    "[handlers.{bus}]\nkind = \"redis_stream\"\nurl = \"{redis_url}\"\nstream = \"{stream}\"\nmaxlen = 100000\nsources = [\"bench\"]\nconcurrency = {c}\n"
                );
                let r = hookgate_rate(&store_url, &rs, &bus, n, dir.path()).await;
                println!("{:<44} {:>14.0}", format!("hookgate ({engine}) -> redis stream"), r);
            }
        }
        if redis_ok {
            let mut conn = redis::Client::open(redis_url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
            let _: () = redis::cmd("DEL").arg(&stream).query_async(&mut conn).await.unwrap();
        }
    });
}
