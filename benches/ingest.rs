//! Ingest throughput: signed 1 KiB webhooks from 64 concurrent connections to a running
//! gateway, every one recorded durably before its 200. Compares group commit (the default)
//! against one transaction per request (`store.max_batch = 1`) in the same run.
//!
//!     cargo bench --bench ingest
//!     HOOKGATE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench ingest
//!
//! Options (env): BENCH_REQUESTS (default 20000), BENCH_CONNECTIONS (default 64).

use futures::StreamExt;
use hookgate::config::Config;
use hookgate::server::Server;
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

async fn run(
    store_url: &str,
    max_batch: usize,
    n: usize,
    conns: usize,
    dir: &std::path::Path,
) -> Figures {
    std::fs::write(dir.join("key"), "bench-key").unwrap();
    let cfg = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[store]\nurl = \"{store_url}\"\nmax_batch = {max_batch}\n[log]\nlevel = \"warn\"\n\
         [sources.svc]\nprovider = \"internal\"\nsecrets = [\"file:{}\"]\n",
        dir.join("key").display()
    );
    let server = Server::start(Config::from_toml(&cfg).unwrap())
        .await
        .unwrap();
    let url = format!("http://{}/webhooks/svc", server.addr());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .build()
        .unwrap();
    let body = bytes::Bytes::from(vec![b'x'; 1024]);
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let start = Instant::now();
    let mut latencies: Vec<Duration> = futures::stream::iter(0..n)
        .map(|i| {
            let (client, url, body, run_id) =
                (client.clone(), url.clone(), body.clone(), run_id.clone());
            async move {
                let t = Instant::now();
                let r = client
                    .post(url)
                    .bearer_auth("bench-key")
                    .header("idempotency-key", format!("{run_id}-{i}"))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                t.elapsed()
            }
        })
        .buffer_unordered(conns)
        .collect()
        .await;
    let rate = n as f64 / start.elapsed().as_secs_f64();
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let figures = Figures {
        rate,
        p50: pick(0.50),
        p99: pick(0.99),
    };
    server.shutdown().await.unwrap();
    figures
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let n = env_usize("BENCH_REQUESTS", 20_000);
        let conns = env_usize("BENCH_CONNECTIONS", 64);
        println!(
            "ingest benchmark: {n} signed 1 KiB webhooks, {conns} connections, durable commits"
        );
        println!(
            "{:<46} {:>9} {:>9} {:>9}",
            "case", "req/s", "p50 ms", "p99 ms"
        );
        let mut engines = vec![("sqlite", None)];
        if let Ok(pg) = std::env::var("HOOKGATE_BENCH_POSTGRES_URL") {
            engines.push(("postgres", Some(pg)));
        }
        for (engine, pg) in engines {
            for (label, max_batch) in [
                ("baseline: one transaction per request", 1),
                ("group commit (default)", 256),
            ] {
                let dir = tempfile::tempdir().unwrap();
                let url = pg
                    .clone()
                    .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("b.db").display()));
                let f = run(&url, max_batch, n, conns, dir.path()).await;
                println!(
                    "{:<46} {:>9.0} {:>9.2} {:>9.2}",
                    format!("{engine}: {label}"),
                    f.rate,
                    f.p50.as_secs_f64() * 1e3,
                    f.p99.as_secs_f64() * 1e3
                );
            }
        }
    });
}
