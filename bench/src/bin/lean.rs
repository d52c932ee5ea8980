//! `hookgate-lean`: the floor on Postgres. Only what an idempotent webhook inbox cannot skip,
//! on the same HTTP stack as hookgate and the baseline server: verify the Stripe signature
//! (hookgate's own verifier), read the event id from the body, queue the event for one
//! group-commit writer that inserts each batch with one `INSERT … SELECT FROM UNNEST … ON
//! CONFLICT DO NOTHING` (no batching wait) into a table with a unique `(source, event_id)`, and
//! answer `accepted` or `duplicate` after the commit. No headers kept, no counters, no logs, no
//! metrics, no limits, no deliveries: what the issue's prototype did, measured in the same run
//! as hookgate by `CASES=lean` in `bench/run.sh`, so the gateway's own extra work has a figure.
//!
//!     hookgate-lean --listen 127.0.0.1:18080 --postgres postgres://postgres@127.0.0.1:5432/lean \
//!         --secret whsec_…
//!
//! It creates its tables (`lean_inbox`, `lean_inbox_full`) if missing. Not a product: no error
//! handling beyond a 500 when the database fails — including, with `--full-row`, a batch that
//! holds the same event twice (`DO UPDATE` cannot touch a row twice in one statement; hookgate
//! counts such repeats in a second statement). `hookgate-load` repeats requests that were
//! already answered, so its batches never do.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use clap::Parser;
use hookgate::http::serve::{serve, ConnectionLimits};
use hookgate_providers::{Provider, ProviderOptions, Request, Secret, Secrets};
use sha2::Digest;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "hookgate-lean",
    about = "The floor: verify, id, group-commit insert, answer"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:18080")]
    listen: String,
    #[arg(long)]
    postgres: String,
    /// The Stripe signing secret (`whsec_…`).
    #[arg(long)]
    secret: String,
    /// The most events in one statement.
    #[arg(long, default_value_t = 256)]
    max_batch: usize,
    /// Write hookgate's whole inbox row instead (its table, indexes and statement: event type,
    /// kept headers as `jsonb`, the body's SHA-256, a `received_at` index, repeats counted on
    /// the stored row by `ON CONFLICT DO UPDATE`): the database's share of the difference.
    #[arg(long)]
    full_row: bool,
}

struct Pending {
    source: String,
    event_id: String,
    event_type: Option<String>,
    body: Bytes,
    answer: oneshot::Sender<Result<bool, ()>>,
}

struct App {
    provider: Box<dyn Provider>,
    secrets: Secrets,
    queue: mpsc::UnboundedSender<Pending>,
}

const CREATE: &str = "CREATE TABLE IF NOT EXISTS lean_inbox (
    id uuid PRIMARY KEY,
    source text NOT NULL,
    event_id text NOT NULL,
    body bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, event_id))";

const INSERT: &str = "INSERT INTO lean_inbox (id, source, event_id, body)
    SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bytea[])
    ON CONFLICT (source, event_id) DO NOTHING
    RETURNING source, event_id";

/// hookgate's inbox (migrations/postgres 0001 and 0008) and its ingest statement's shape.
const CREATE_FULL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS lean_inbox_full (
        id uuid PRIMARY KEY,
        source text COLLATE \"C\" NOT NULL,
        event_id text COLLATE \"C\" NOT NULL,
        event_type text,
        body bytea NOT NULL,
        headers jsonb NOT NULL DEFAULT '{}',
        body_sha256 bytea NOT NULL,
        received_at bigint NOT NULL,
        duplicate_count bigint NOT NULL DEFAULT 0,
        mismatch_count bigint NOT NULL DEFAULT 0,
        last_duplicate_at bigint,
        UNIQUE (source, event_id))",
    "CREATE INDEX IF NOT EXISTS lean_inbox_full_received_at ON lean_inbox_full (received_at)",
];

const INSERT_FULL: &str = "WITH ins AS (
    INSERT INTO lean_inbox_full (id, source, event_id, event_type, body, headers, body_sha256, received_at)
    SELECT id, source, event_id, event_type, body, headers::jsonb, body_sha256, received_at
    FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::bytea[], $8::bigint[])
      AS t(id, source, event_id, event_type, body, headers, body_sha256, received_at)
    ON CONFLICT (source, event_id) DO UPDATE SET
      duplicate_count = lean_inbox_full.duplicate_count + 1,
      mismatch_count = lean_inbox_full.mismatch_count + (lean_inbox_full.body_sha256 <> excluded.body_sha256)::int,
      last_duplicate_at = excluded.received_at
    RETURNING id, source, event_id, received_at, body_sha256)
  SELECT id, source, event_id, received_at, body_sha256 FROM ins";

fn main() -> anyhow::Result<()> {
    hookgate::telemetry::ensure_allocator_env();
    let args = Args::parse();
    let provider = hookgate_providers::build("stripe", &ProviderOptions::default())?;
    let secrets = Secrets::new(vec![Secret::new(args.secret.clone().into_bytes())]);
    let (tx, rx) = mpsc::unbounded_channel();
    let opts = PgConnectOptions::from_str(&args.postgres)?.disable_statement_logging();

    // The writer on a thread and runtime of its own, as hookgate's group commit runs.
    let writer_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut conn = writer_rt.block_on(async {
        let mut conn = opts.connect().await?;
        sqlx::query(CREATE).execute(&mut conn).await?;
        for sql in CREATE_FULL {
            sqlx::query(sql).execute(&mut conn).await?;
        }
        anyhow::Ok(conn)
    })?;
    let max_batch = args.max_batch.max(1);
    let full_row = args.full_row;
    std::thread::Builder::new()
        .name("lean-writer".into())
        .spawn(move || writer_rt.block_on(write_loop(&mut conn, rx, max_batch, full_row)))?;

    let app = Arc::new(App {
        provider,
        secrets,
        queue: tx,
    });
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let router = Router::new()
                .route("/webhooks/{source}", post(ingest))
                .with_state(app);
            let listener = tokio::net::TcpListener::bind(&args.listen).await?;
            // Stops with the process; the baseline server's connection settings.
            let (_stop_tx, mut stop) = tokio::sync::watch::channel(false);
            let limits = ConnectionLimits {
                shutdown_grace: Duration::from_secs(1),
                ..ConnectionLimits::from_config(&hookgate::config::ServerConfig::default())
            };
            serve(listener, router, &mut stop, limits).await?;
            anyhow::Ok(())
        })
}

async fn ingest(
    State(app): State<Arc<App>>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = Request {
        method: "POST",
        url: "",
        headers: &headers,
        body: &body,
    };
    if app
        .provider
        .verify(&req, &app.secrets, SystemTime::now())
        .is_err()
    {
        return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
    }
    let Some(event) = app
        .provider
        .events(&req)
        .ok()
        .and_then(|e| e.into_iter().next())
    else {
        return (StatusCode::BAD_REQUEST, "no event id").into_response();
    };
    let (answer, rx) = oneshot::channel();
    let pending = Pending {
        source,
        event_id: event.id,
        event_type: event.event_type,
        body,
        answer,
    };
    if app.queue.send(pending).is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let json = |s: &'static str| {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], s).into_response()
    };
    match rx.await {
        Ok(Ok(true)) => json(r#"{"status":"accepted"}"#),
        Ok(Ok(false)) => json(r#"{"status":"duplicate"}"#),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn write_loop(
    conn: &mut PgConnection,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    max_batch: usize,
    full_row: bool,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let ids: Vec<uuid::Uuid> = batch.iter().map(|_| uuid::Uuid::now_v7()).collect();
        let sources: Vec<&str> = batch.iter().map(|p| p.source.as_str()).collect();
        let event_ids: Vec<&str> = batch.iter().map(|p| p.event_id.as_str()).collect();
        let bodies: Vec<&[u8]> = batch.iter().map(|p| p.body.as_ref()).collect();
        // One statement, its own transaction: one round trip per batch.
        let result: Result<Vec<(String, String)>, _> = if full_row {
            let types: Vec<Option<&str>> = batch.iter().map(|p| p.event_type.as_deref()).collect();
            let headers: Vec<&str> = batch
                .iter()
                .map(|_| r#"{"content-type":"application/json","user-agent":"hookgate-load"}"#)
                .collect();
            let shas: Vec<Vec<u8>> = batch
                .iter()
                .map(|p| sha2::Sha256::digest(&p.body).to_vec())
                .collect();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let at: Vec<i64> = batch.iter().map(|_| now).collect();
            sqlx::query_as::<_, (uuid::Uuid, String, String, i64, Vec<u8>)>(INSERT_FULL)
                .bind(&ids)
                .bind(&sources)
                .bind(&event_ids)
                .bind(&types)
                .bind(&bodies)
                .bind(&headers)
                .bind(&shas)
                .bind(&at)
                .fetch_all(&mut *conn)
                .await
                .map(|rows| {
                    // A row whose id is not the one sent is a repeat's stored row.
                    let sent: HashSet<uuid::Uuid> = ids.iter().copied().collect();
                    rows.into_iter()
                        .filter(|r| sent.contains(&r.0))
                        .map(|r| (r.1, r.2))
                        .collect()
                })
        } else {
            sqlx::query_as(INSERT)
                .bind(&ids)
                .bind(&sources)
                .bind(&event_ids)
                .bind(&bodies)
                .fetch_all(&mut *conn)
                .await
        };
        match result {
            Ok(rows) => {
                // Each inserted key is the first of its requests in the batch; the rest repeat.
                let mut first: HashSet<(String, String)> = rows.into_iter().collect();
                for p in batch.drain(..) {
                    let is_first = first.remove(&(p.source, p.event_id));
                    let _ = p.answer.send(Ok(is_first));
                }
            }
            Err(_) => {
                for p in batch.drain(..) {
                    let _ = p.answer.send(Err(()));
                }
            }
        }
    }
}
