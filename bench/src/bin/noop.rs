//! `hookgate-noop`: the baseline server. The same HTTP stack and connection loop as hookgate
//! (`hookgate::http::serve`, axum on hyper, `TCP_NODELAY`), and a handler that reads the whole
//! body and answers 200 — what "the HTTP stack can do" on this machine. It doubles as the no-op
//! handler hookgate delivers to in the dispatch benchmark: `GET /count` tells how many POSTs it
//! has answered and `GET /last` when the latest one arrived (seconds since the Unix epoch), so a
//! script can measure deliveries per second from outside without polling finely.
//!
//!     hookgate-noop --listen 127.0.0.1:9100

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use clap::Parser;
use hookgate::http::serve::{serve, ConnectionLimits};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The same allocator as the `hookgate` binary: the baseline is the same stack.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// POSTs answered, and when the latest arrived (nanoseconds since the Unix epoch).
#[derive(Default)]
struct Counts {
    posts: AtomicU64,
    last_ns: AtomicU64,
}

#[derive(Parser, Debug)]
#[command(
    name = "hookgate-noop",
    about = "No-op POST server on hookgate's HTTP stack"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: String,
    /// Runtime worker threads (default: one per core, like hookgate).
    #[arg(long)]
    threads: Option<usize>,
    /// Answer POSTs with this body (as JSON) instead of an empty one, as many real handlers
    /// do (`{"received":true}`).
    #[arg(long)]
    answer: Option<String>,
}

fn main() -> anyhow::Result<()> {
    hookgate::telemetry::ensure_allocator_env();
    let args = Args::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let answer: &'static str = Box::leak(args.answer.unwrap_or_default().into_boxed_str());
    rt.enable_all().build()?.block_on(async move {
        let count = Arc::new(Counts::default());
        let app = Router::new()
            .route(
                "/count",
                get(|State(c): State<Arc<Counts>>| async move {
                    c.posts.load(Ordering::Relaxed).to_string()
                }),
            )
            .route(
                "/last",
                get(|State(c): State<Arc<Counts>>| async move {
                    let ns = c.last_ns.load(Ordering::Relaxed);
                    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
                }),
            )
            .fallback(
                move |State(c): State<Arc<Counts>>, method: axum::http::Method, body: Bytes| async move {
                    std::hint::black_box(body.len());
                    // Only POSTs are deliveries (hookgate's health check is a HEAD).
                    if method == axum::http::Method::POST {
                        let now = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .unwrap_or_default();
                        c.last_ns
                            .fetch_max(now.as_nanos() as u64, Ordering::Relaxed);
                        c.posts.fetch_add(1, Ordering::Relaxed);
                    }
                    if answer.is_empty() {
                        axum::http::StatusCode::OK.into_response()
                    } else {
                        ([(axum::http::header::CONTENT_TYPE, "application/json")], answer)
                            .into_response()
                    }
                },
            )
            .with_state(count);
        let listener = tokio::net::TcpListener::bind(&args.listen).await?;
        println!("listening on {}", listener.local_addr()?);
        let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop_tx.send(true);
        });
        // The gateway's default connection limits, with a short shutdown.
        let limits = ConnectionLimits {
            shutdown_grace: Duration::from_secs(1),
            ..ConnectionLimits::from_config(&hookgate::config::ServerConfig::default())
        };
        serve(listener, app, &mut stop, limits).await?;
        Ok(())
    })
}
