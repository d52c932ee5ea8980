//! Postgres engine: production, any number of replicas sharing one database.
//!
//! The unique constraint on `(source, event_id)` is the only arbiter of first-seen across
//! replicas. Each batch is one `INSERT … SELECT FROM UNNEST(…) ON CONFLICT DO UPDATE …
//! RETURNING` (a repeat is counted on the stored row), with its deliveries and completed
//! attempts in the same statement; rows are written in `(source, event_id)` order so that two
//! writers (in one replica or several) always take index locks in the same order and cannot
//! deadlock. The batch writer runs on a thread of its own ([`GroupCommit::spawn_runtime_thread`]).
//! Migrations take sqlx's advisory lock, so replicas starting together migrate once.

use super::group_commit::{BatchResult, BatchWriter, GroupCommit};
use super::handoff::{HandOff, HandOffBatch};
use super::{
    AttemptRecord, BatchPlan, ClaimedDelivery, Completion, DeliveryCounts, DeliveryFilter,
    DeliveryInfo, DeliveryState, EventFilter, EventSummary, HandlerHealth, HandlerPause, KeyRow,
    NewEvent, RecordOutcome, StatsRow, Store, StoreError, StoredDelivery, StoredEvent,
};
use crate::config::StoreConfig;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use uuid::Uuid;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub struct PostgresStore {
    /// Reads and the rarer writes (replays, stats, purges).
    pool: PgPool,
    /// Claims and completions outside the group commit, whose every statement has an index
    /// path (the batch writers have their own connections).
    writes: PgPool,
    group: GroupCommit,
}

struct PgWriter {
    pool: PgPool,
    /// Connections kept between batches, at most one per writer. A connection returned to
    /// the pool is pinged by sqlx (a round trip to the server) before another task can take
    /// it: once per batch on the write path. One that failed, or whose batch was cancelled
    /// by the write timeout, is not kept: it goes back to the pool, which checks or closes it.
    held: std::sync::Mutex<Vec<sqlx::pool::PoolConnection<Postgres>>>,
}

impl PgWriter {
    async fn connection(&self) -> Result<sqlx::pool::PoolConnection<Postgres>, StoreError> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match held {
            Some(conn) => Ok(conn),
            None => Ok(self.pool.acquire().await?),
        }
    }

    fn keep(&self, conn: sqlx::pool::PoolConnection<Postgres>) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }
}

impl PostgresStore {
    pub async fn open(cfg: &StoreConfig, handoff: Option<HandOff>) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(&cfg.url)
            .map_err(|e| StoreError::Config(format!("store.url: {e}")))?
            .options([(
                "statement_timeout",
                cfg.statement_timeout.as_millis().to_string(),
            )]);
        let pool = PgPoolOptions::new()
            .max_connections(cfg.pool_size.max(2))
            .acquire_timeout(cfg.connect_timeout)
            .connect_with(opts.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        // The write path (batches, claims) has connections of its own (the batch writers',
        // below, and two for claims), whose every statement has an index path. Sequential scans are ruled
        // out there: a plan cached while a table was young (a fresh database looks empty, so
        // a scan is cheapest) would otherwise stay in use until autovacuum's first ANALYZE,
        // a minute or more away, while the table grows to tens of thousands of rows. (Forcing
        // a fresh plan per execution instead cost more CPU in the planner than the writes.)
        let writers = cfg.writers.max(1);
        let write_opts = opts.options([("enable_seqscan", "off")]);
        let writes = PgPoolOptions::new()
            .max_connections(2)
            .test_before_acquire(false)
            .acquire_timeout(cfg.connect_timeout)
            .connect_with(write_opts.clone())
            .await?;
        // The batch writers have connections of their own, opened on their own thread
        // ([`GroupCommit::spawn_runtime_thread`]). No ping before each checkout: a batch is
        // one statement, and a ping is a round trip (and a wake-up of the server) per batch.
        // A broken connection fails its statement, which answers that batch 503 and is
        // dropped from the pool.
        let batch_pool = PgPoolOptions::new()
            .max_connections(writers as u32)
            .test_before_acquire(false)
            .acquire_timeout(cfg.connect_timeout);
        let group = GroupCommit::spawn_runtime_thread(
            "hookgate-pg-writer",
            move || PgWriter {
                pool: batch_pool.connect_lazy_with(write_opts),
                held: std::sync::Mutex::new(Vec::new()),
            },
            writers,
            cfg.max_batch,
            cfg.queue_limits(),
            cfg.timeout,
            handoff,
        )
        .map_err(|e| StoreError::Unavailable(format!("cannot start the store writer: {e}")))?;
        Ok(PostgresStore {
            pool,
            writes,
            group,
        })
    }
}

/// One batch in one statement, so a batch costs one round trip and no `BEGIN`/`COMMIT`
/// (a single statement is atomic): `ins` upserts the first occurrence of each key — new keys
/// are inserted, a repeat of a stored row is counted on it, and `RETURNING` answers the row
/// either way; `dlv` inserts the deliveries of exactly the rows this batch inserted (a
/// returned id equal to the one we generated); `upd` records each attempt whose lease still
/// holds on its delivery's row, and `att` moves the attempt that row held before into
/// `delivery_attempts` (none for a first attempt: most deliveries never write an attempt
/// row). The result lists the upserted rows (`kind` = 'e') and applied attempts ('c').
///
/// A statement holds only the parts its batch needs ([`batch_sql`]): Postgres's cost is
/// mostly per statement part (executor start-up of each array scan and join), so a batch of
/// completions alone, or of events without handlers, does not pay for the other parts.
/// Positions of the columns of [`build_batch_sql`]'s result rows, in the order its selects list
/// them: an event's row (`kind` = 'e') fills all but `TOKEN`; an applied attempt's ('c') only
/// `ID` and `TOKEN`. Read by position: which select comes first depends on the batch's shape,
/// and with it the column names.
mod result_col {
    pub const KIND: usize = 0;
    pub const ID: usize = 1;
    pub const SOURCE: usize = 2;
    pub const EVENT_ID: usize = 3;
    pub const RECEIVED_AT: usize = 4;
    pub const BODY_SHA256: usize = 5;
    pub const TOKEN: usize = 6;
}

fn build_batch_sql(events: bool, deliveries: bool, completions: bool) -> String {
    let mut ctes = Vec::new();
    let mut selects = Vec::new();
    let mut n = 1;
    let mut params = |count: usize| {
        let first = n;
        n += count;
        move |i: usize| format!("${}", first + i)
    };
    if events {
        let p = params(8);
        ctes.push(format!(
            "ins AS ( \
             INSERT INTO inbox (id, source, event_id, event_type, body, headers, body_sha256, received_at) \
             SELECT id, source, event_id, event_type, body, headers::jsonb, body_sha256, received_at \
             FROM UNNEST({}::uuid[], {}::text[], {}::text[], {}::text[], {}::bytea[], {}::text[], {}::bytea[], {}::bigint[]) \
               AS t(id, source, event_id, event_type, body, headers, body_sha256, received_at) \
             ON CONFLICT (source, event_id) DO UPDATE SET \
               duplicate_count = inbox.duplicate_count + 1, \
               mismatch_count = inbox.mismatch_count + (inbox.body_sha256 <> excluded.body_sha256)::int, \
               last_duplicate_at = excluded.received_at \
             RETURNING id, source, event_id, received_at, body_sha256)",
            p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7)
        ));
        selects.push(
            "SELECT 'e' AS kind, id, source, event_id, received_at, body_sha256, NULL::uuid AS token FROM ins",
        );
    }
    if events && deliveries {
        let p = params(6);
        ctes.push(format!(
            "dlv AS ( \
             INSERT INTO deliveries (id, event, handler, state, attempts, next_attempt_at, \
               lease_until, lease_token, created_at, updated_at) \
             SELECT d.id, d.event, d.handler, 'pending', 0, d.at, d.lease_until, d.lease_token, d.at, d.at \
             FROM UNNEST({}::uuid[], {}::uuid[], {}::text[], {}::bigint[], {}::bigint[], {}::uuid[]) \
               AS d(id, event, handler, at, lease_until, lease_token) \
             JOIN ins ON ins.id = d.event)",
            p(0), p(1), p(2), p(3), p(4), p(5)
        ));
    }
    if completions {
        let p = params(10);
        ctes.push(format!(
            "input AS ( \
             SELECT * FROM UNNEST({}::uuid[], {}::uuid[], {}::text[], {}::bigint[], {}::int[], \
               {}::text[], {}::bigint[], {}::bigint[], {}::text[]) \
             AS t(delivery, token, state, next_at, status, error, started_at, duration_ms, outcome)), \
             upd AS ( \
             UPDATE deliveries d SET state = i.state, attempts = d.attempts + 1, \
               next_attempt_at = i.next_at, lease_until = NULL, lease_token = NULL, \
               last_attempt = d.attempts + 1, last_started_at = i.started_at, \
               last_duration_ms = i.duration_ms, last_outcome = i.outcome, \
               last_status = i.status, last_error = i.error, updated_at = {} \
             FROM input i JOIN deliveries held ON held.id = i.delivery \
             WHERE d.id = i.delivery AND d.lease_token = i.token \
             RETURNING d.id, i.token, held.last_attempt, held.last_started_at, held.last_duration_ms, \
               held.last_status, held.last_error, held.last_outcome), \
             att AS ( \
             INSERT INTO delivery_attempts (delivery, {}) \
             SELECT id, {} FROM upd WHERE last_attempt IS NOT NULL)",
            p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8), p(9),
            super::attempt_columns!(),
            super::held_attempt_columns!(),
        ));
        selects.push("SELECT 'c', id, NULL, NULL, NULL, NULL, token FROM upd");
    }
    format!("WITH {} {}", ctes.join(", "), selects.join(" UNION ALL "))
}

/// The batch statement with exactly the parts a batch needs (built once per shape).
fn batch_sql(events: bool, deliveries: bool, completions: bool) -> &'static str {
    static SHAPES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        (0..8)
            .map(|bits| build_batch_sql(bits & 1 != 0, bits & 2 != 0, bits & 4 != 0))
            .collect()
    });
    let bits = usize::from(events)
        | usize::from(events && deliveries) << 1
        | usize::from(completions) << 2;
    &SHAPES[bits]
}

#[async_trait]
impl BatchWriter for PgWriter {
    async fn write_batch(
        &self,
        events: &[NewEvent],
        completions: &[Completion],
        handoff: &mut HandOffBatch,
    ) -> Result<BatchResult, StoreError> {
        if events.is_empty() && completions.is_empty() {
            return Ok(BatchResult {
                outcomes: Vec::new(),
                applied: Vec::new(),
            });
        }
        let plan = BatchPlan::new(events);
        // Lock order: by key (each key once in `firsts`), so concurrent writers in one
        // replica or several always take index locks in the same order.
        let mut order: Vec<usize> = plan.firsts.clone();
        order.sort_by(|&a, &b| {
            (&events[a].source, &events[a].event_id).cmp(&(&events[b].source, &events[b].event_id))
        });
        let ids: Vec<Uuid> = order.iter().map(|&i| events[i].id).collect();
        let sources: Vec<&str> = order.iter().map(|&i| events[i].source.as_str()).collect();
        let event_ids: Vec<&str> = order.iter().map(|&i| events[i].event_id.as_str()).collect();
        let types: Vec<Option<&str>> = order
            .iter()
            .map(|&i| events[i].event_type.as_deref())
            .collect();
        let bodies: Vec<&[u8]> = order.iter().map(|&i| events[i].body.as_ref()).collect();
        let headers: Vec<String> = order
            .iter()
            .map(|&i| super::headers_json(&events[i].headers))
            .collect();
        let hashes: Vec<&[u8]> = order.iter().map(|&i| &events[i].body_sha256[..]).collect();
        let received: Vec<i64> = order.iter().map(|&i| events[i].received_at_ms).collect();

        // Deliveries are planned for every first occurrence before the statement decides
        // which are new; the statement inserts only those of new rows, and the hand-off
        // keeps only their reservations afterwards.
        let is_first: Vec<bool> = {
            let mut f = vec![false; events.len()];
            for &i in &plan.firsts {
                f[i] = true;
            }
            f
        };
        let deliveries = handoff.plan(events, |i| is_first[i]);
        let d_ids: Vec<Uuid> = deliveries.iter().map(|d| d.id).collect();
        let d_event: Vec<Uuid> = deliveries.iter().map(|d| d.event.id).collect();
        let d_handler: Vec<&str> = deliveries.iter().map(|d| d.handler).collect();
        let d_at: Vec<i64> = deliveries.iter().map(|d| d.event.received_at_ms).collect();
        let d_lease: Vec<Option<i64>> = deliveries.iter().map(|d| d.lease.map(|l| l.1)).collect();
        let d_token: Vec<Option<Uuid>> = deliveries.iter().map(|d| d.lease.map(|l| l.0)).collect();
        let c = CompletionArrays::new(completions);

        let has_events = !ids.is_empty();
        let has_deliveries = !d_ids.is_empty();
        let has_completions = !completions.is_empty();
        let mut query = sqlx::query(batch_sql(has_events, has_deliveries, has_completions));
        if has_events {
            query = query
                .bind(&ids)
                .bind(&sources)
                .bind(&event_ids)
                .bind(&types)
                .bind(&bodies)
                .bind(&headers)
                .bind(&hashes)
                .bind(&received);
        }
        if has_events && has_deliveries {
            query = query
                .bind(&d_ids)
                .bind(&d_event)
                .bind(&d_handler)
                .bind(&d_at)
                .bind(&d_lease)
                .bind(&d_token);
        }
        if has_completions {
            query = c.bind(query);
        }
        // In-batch repeats need a second statement in the same transaction; without them
        // the one statement is the transaction.
        let mut conn = self.connection().await?;
        // Whatever ends this batch early (an error, or the write timeout dropping it) closes
        // the connection rather than handing a half-used one back: a failed transaction's
        // connection is never reused.
        conn.close_on_drop();
        let in_tx = !plan.extras.is_empty();
        if in_tx {
            sqlx::query("BEGIN").execute(&mut *conn).await?;
        }
        let returned = query.fetch_all(&mut *conn).await?;
        // Read in place: the keys borrow the rows' text, no string is copied out of them.
        let mut rows: HashMap<(&str, &str), KeyRow> = HashMap::with_capacity(order.len());
        let mut applied_set: HashSet<(Uuid, Uuid)> = HashSet::with_capacity(completions.len());
        for row in &returned {
            let id: Uuid = row.try_get(result_col::ID)?;
            match row.try_get::<&str, _>(result_col::KIND)? {
                "e" => {
                    let key = (
                        row.try_get::<&str, _>(result_col::SOURCE)?,
                        row.try_get::<&str, _>(result_col::EVENT_ID)?,
                    );
                    let hash: &[u8] = row.try_get(result_col::BODY_SHA256)?;
                    let body_sha256 = hash.try_into().map_err(|_| {
                        StoreError::Unavailable("a stored body hash is not 32 bytes".into())
                    })?;
                    rows.insert(
                        key,
                        KeyRow {
                            id,
                            received_at_ms: row.try_get(result_col::RECEIVED_AT)?,
                            body_sha256,
                        },
                    );
                }
                "c" => {
                    applied_set.insert((id, row.try_get(result_col::TOKEN)?));
                }
                _ => {
                    return Err(StoreError::Unavailable(
                        "unexpected batch result row".into(),
                    ))
                }
            }
        }
        let (outcomes, mut repeats) = plan.resolve(events, &rows)?;
        if in_tx {
            repeats.sort_by(|a, b| (a.source, a.event_id).cmp(&(b.source, b.event_id)));
            let sources: Vec<&str> = repeats.iter().map(|c| c.source).collect();
            let event_ids: Vec<&str> = repeats.iter().map(|c| c.event_id).collect();
            let ns: Vec<i64> = repeats.iter().map(|c| c.n).collect();
            let mismatches: Vec<i64> = repeats.iter().map(|c| c.mismatches).collect();
            let lasts: Vec<i64> = repeats.iter().map(|c| c.last_at_ms).collect();
            sqlx::query(
                "UPDATE inbox i SET duplicate_count = i.duplicate_count + t.n, \
                 mismatch_count = i.mismatch_count + t.mismatches, \
                 last_duplicate_at = GREATEST(COALESCE(i.last_duplicate_at, 0), t.last_at) \
                 FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) \
                   AS t(source, event_id, n, mismatches, last_at) \
                 WHERE i.source = t.source AND i.event_id = t.event_id",
            )
            .bind(&sources)
            .bind(&event_ids)
            .bind(&ns)
            .bind(&mismatches)
            .bind(&lasts)
            .execute(&mut *conn)
            .await?;
            sqlx::query("COMMIT").execute(&mut *conn).await?;
        }
        self.keep(conn);
        handoff.keep(|i| outcomes[i].is_accepted());
        let applied = completions
            .iter()
            .map(|c| applied_set.contains(&(c.delivery, c.lease_token)))
            .collect();
        Ok(BatchResult { outcomes, applied })
    }
}

/// A completion batch as the arrays the statements bind.
struct CompletionArrays<'a> {
    now: i64,
    ids: Vec<Uuid>,
    tokens: Vec<Uuid>,
    states: Vec<&'static str>,
    next_ats: Vec<i64>,
    statuses: Vec<Option<i32>>,
    errors: Vec<Option<&'a str>>,
    started: Vec<i64>,
    durations: Vec<i64>,
    outcomes: Vec<&'static str>,
}

impl<'a> CompletionArrays<'a> {
    /// Bind the arrays in the order the completion part of [`batch_sql`] numbers them.
    fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(&self.ids)
            .bind(&self.tokens)
            .bind(&self.states)
            .bind(&self.next_ats)
            .bind(&self.statuses)
            .bind(&self.errors)
            .bind(&self.started)
            .bind(&self.durations)
            .bind(&self.outcomes)
            .bind(self.now)
    }

    fn new(batch: &'a [Completion]) -> Self {
        let now = super::now_ms();
        let mut a = CompletionArrays {
            now,
            ids: Vec::with_capacity(batch.len()),
            tokens: Vec::with_capacity(batch.len()),
            states: Vec::with_capacity(batch.len()),
            next_ats: Vec::with_capacity(batch.len()),
            statuses: Vec::with_capacity(batch.len()),
            errors: Vec::with_capacity(batch.len()),
            started: Vec::with_capacity(batch.len()),
            durations: Vec::with_capacity(batch.len()),
            outcomes: Vec::with_capacity(batch.len()),
        };
        for c in batch {
            let (state, next_at) = c.next.stored(now);
            a.ids.push(c.delivery);
            a.tokens.push(c.lease_token);
            a.states.push(state);
            a.next_ats.push(next_at);
            a.statuses.push(c.status.map(i32::from));
            a.errors.push(c.error.as_deref());
            a.started.push(c.started_at_ms);
            a.durations.push(c.duration_ms);
            a.outcomes.push(c.next.label());
        }
        a
    }
}

/// Record attempts and next states of `batch` inside `tx`: the attempt part of
/// [`batch_sql`] on its own (no events).
async fn complete_in(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    batch: &[Completion],
) -> Result<Vec<bool>, StoreError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let c = CompletionArrays::new(batch);
    let returned = c
        .bind(sqlx::query(batch_sql(false, false, true)))
        .fetch_all(&mut **tx)
        .await?;
    let mut applied: HashSet<(Uuid, Uuid)> = HashSet::with_capacity(returned.len());
    for row in &returned {
        if let Some(token) = row.try_get::<Option<Uuid>, _>(result_col::TOKEN)? {
            applied.insert((row.try_get(result_col::ID)?, token));
        }
    }
    Ok(batch
        .iter()
        .map(|c| applied.contains(&(c.delivery, c.lease_token)))
        .collect())
}

fn event_from_row(row: &PgRow) -> Result<StoredEvent, StoreError> {
    let headers: String = row.try_get("headers")?;
    Ok(StoredEvent {
        id: row.try_get("id")?,
        source: row.try_get("source")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        body: row.try_get("body")?,
        headers: serde_json::from_str(&headers).unwrap_or(serde_json::Value::Null),
        body_sha256: row.try_get("body_sha256")?,
        received_at_ms: row.try_get("received_at")?,
        duplicate_count: row.try_get("duplicate_count")?,
        mismatch_count: row.try_get("mismatch_count")?,
        last_duplicate_at_ms: row.try_get("last_duplicate_at")?,
    })
}

const DELIVERY_COLUMNS: &str =
    "id, event, handler, state, attempts, next_attempt_at, last_status, \
     last_error, created_at, updated_at";

fn delivery_from_row(r: &PgRow) -> Result<StoredDelivery, StoreError> {
    Ok(StoredDelivery {
        id: r.try_get("id")?,
        event: r.try_get("event")?,
        handler: r.try_get("handler")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at_ms: r.try_get("next_attempt_at")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        created_at_ms: r.try_get("created_at")?,
        updated_at_ms: r.try_get("updated_at")?,
    })
}

fn summary_from_row(r: &PgRow) -> Result<EventSummary, StoreError> {
    Ok(EventSummary {
        id: r.try_get("id")?,
        source: r.try_get("source")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        received_at_ms: r.try_get("received_at")?,
        duplicate_count: r.try_get("duplicate_count")?,
        mismatch_count: r.try_get("mismatch_count")?,
        deliveries: None,
    })
}

fn listed_from_row(r: &PgRow) -> Result<EventSummary, StoreError> {
    Ok(EventSummary {
        deliveries: Some(DeliveryCounts {
            pending: r.try_get("d_pending")?,
            retrying: r.try_get("d_retrying")?,
            delivered: r.try_get("d_delivered")?,
            dead: r.try_get("d_dead")?,
        }),
        ..summary_from_row(r)?
    })
}

const EVENT_COLUMNS: &str = "id, source, event_id, event_type, body, headers::text AS headers, \
     body_sha256, received_at, duplicate_count, mismatch_count, last_duplicate_at";

#[async_trait]
impl Store for PostgresStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn record(&self, events: Vec<NewEvent>) -> Result<Vec<RecordOutcome>, StoreError> {
        self.group.record(events).await
    }

    fn queued_body_bytes(&self) -> usize {
        self.group.queued_body_bytes()
    }

    async fn ready(&self) -> Result<(), StoreError> {
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        if applied < MIGRATOR.iter().count() as i64 {
            return Err(StoreError::Unavailable("migrations are not applied".into()));
        }
        Ok(())
    }

    async fn event(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM inbox WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn find_event(
        &self,
        source: &str,
        event_id: &str,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM inbox WHERE source = $1 AND event_id = $2"
        ))
        .bind(source)
        .bind(event_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn deliveries_of(&self, event: Uuid) -> Result<Vec<StoredDelivery>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event = $1 ORDER BY handler"
        ))
        .bind(event)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn claim_due(
        &self,
        handler: &str,
        limit: i64,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let token = Uuid::now_v7();
        // One statement: SKIP LOCKED lets several dispatchers (and replicas) claim disjoint
        // rows without waiting on each other; the transaction ends before any network call.
        let rows = sqlx::query(
            "WITH claimed AS ( \
               UPDATE deliveries SET lease_until = $1, lease_token = $2, updated_at = $3 \
               WHERE id IN (SELECT id FROM deliveries WHERE handler = $4 AND state = 'pending' \
                 AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
                 ORDER BY next_attempt_at LIMIT $5 FOR UPDATE SKIP LOCKED) \
               RETURNING id, event, handler, attempts, created_at, next_attempt_at) \
             SELECT c.id AS delivery, c.handler, c.attempts, c.created_at, i.id, i.source, i.event_id, \
               i.event_type, i.received_at, i.duplicate_count, i.mismatch_count, i.body, i.headers::text AS headers \
             FROM claimed c JOIN inbox i ON i.id = c.event ORDER BY c.next_attempt_at",
        )
        .bind(lease_until_ms)
        .bind(token)
        .bind(now_ms)
        .bind(handler)
        .bind(limit)
        .fetch_all(&self.writes)
        .await?;
        let queued_at = std::time::Instant::now();
        rows.iter()
            .map(|r| {
                let headers: String = r.try_get("headers")?;
                Ok(ClaimedDelivery {
                    id: r.try_get("delivery")?,
                    handler: r.try_get("handler")?,
                    attempts: r.try_get("attempts")?,
                    lease_token: token,
                    lease_until_ms,
                    created_at_ms: r.try_get("created_at")?,
                    event: summary_from_row(r)?,
                    body: r.try_get::<Vec<u8>, _>("body")?.into(),
                    headers: serde_json::from_str(&headers).unwrap_or(serde_json::Value::Null),
                    queued_at,
                })
            })
            .collect()
    }

    async fn complete(&self, batch: &[Completion]) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.writes.begin().await?;
        let applied = complete_in(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(applied)
    }

    async fn complete_attempt(&self, completion: Completion) -> Result<bool, StoreError> {
        self.group.complete(completion).await
    }

    async fn requeue(
        &self,
        event: Uuid,
        handlers: &[String],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = handlers.iter().map(|_| Uuid::now_v7()).collect();
        let done = sqlx::query(
            "INSERT INTO deliveries (id, event, handler, state, attempts, next_attempt_at, created_at, updated_at) \
             SELECT t.id, $2, t.handler, 'pending', 0, $3, $3, $3 \
             FROM UNNEST($1::uuid[], $4::text[]) AS t(id, handler) \
             WHERE EXISTS (SELECT 1 FROM inbox WHERE id = $2 FOR KEY SHARE) \
             ON CONFLICT (event, handler) DO UPDATE SET state = 'pending', attempts = 0, \
             next_attempt_at = excluded.next_attempt_at, created_at = excluded.created_at, \
             updated_at = excluded.updated_at, lease_until = NULL, lease_token = NULL",
        )
        .bind(&ids)
        .bind(event)
        .bind(now_ms)
        .bind(handlers)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn retry_dead(&self, filter: &DeliveryFilter, now_ms: i64) -> Result<u64, StoreError> {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ",
        );
        qb.push_bind(now_ms)
            .push(", created_at = ")
            .push_bind(now_ms)
            .push(", updated_at = ")
            .push_bind(now_ms)
            .push(
                ", lease_until = NULL, lease_token = NULL WHERE state = 'dead' AND id IN \
                 (SELECT d.id FROM deliveries d JOIN inbox i ON i.id = d.event WHERE TRUE",
            );
        let only_dead = DeliveryFilter {
            state: Some(DeliveryState::Dead),
            ..filter.clone()
        };
        super::push_delivery_filter(&mut qb, &only_dead);
        qb.push(")");
        let done = qb.build().execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<DeliveryInfo>, StoreError> {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
            "SELECT {} FROM deliveries d JOIN inbox i ON i.id = d.event WHERE TRUE",
            super::DELIVERY_INFO_COLUMNS
        ));
        super::push_delivery_filter(&mut qb, filter);
        if let Some(b) = before {
            qb.push(" AND d.id < ").push_bind(b);
        }
        qb.push(" ORDER BY d.id DESC LIMIT ").push_bind(limit);
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(delivery_info_from_row).collect()
    }

    async fn delivery(&self, id: Uuid) -> Result<Option<DeliveryInfo>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM deliveries d JOIN inbox i ON i.id = d.event WHERE d.id = $1",
            super::DELIVERY_INFO_COLUMNS
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(delivery_info_from_row).transpose()
    }

    async fn retry_delivery(&self, id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1, created_at = $1, \
             updated_at = $1, lease_until = NULL, lease_token = NULL WHERE id = $2",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_events(
        &self,
        filter: &EventFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<EventSummary>, StoreError> {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
            "SELECT {} FROM inbox WHERE TRUE",
            super::list_columns()
        ));
        super::push_event_filter(&mut qb, filter);
        if let Some(b) = before {
            qb.push(" AND id < ").push_bind(b);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(listed_from_row).collect()
    }

    async fn delivery_health(&self) -> Result<Vec<HandlerHealth>, StoreError> {
        let rows = sqlx::query(&super::delivery_health_sql())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(HandlerHealth {
                    handler: r.try_get("handler")?,
                    pending: r.try_get("pending")?,
                    retrying: r.try_get("retrying")?,
                    dead: r.try_get("dead")?,
                    delivered: r.try_get("delivered")?,
                    oldest_pending_created_ms: r.try_get("oldest")?,
                })
            })
            .collect()
    }

    async fn attempts_of(&self, delivery: Uuid) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows = sqlx::query(super::ATTEMPTS_OF_SQL)
            .bind(delivery)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AttemptRecord {
                    attempt: r.try_get(0)?,
                    started_at_ms: r.try_get(1)?,
                    duration_ms: r.try_get(2)?,
                    status: r.try_get(3)?,
                    error: r.try_get(4)?,
                    outcome: r.try_get(5)?,
                })
            })
            .collect()
    }

    async fn count_events(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM inbox")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn claim_replay_token(
        &self,
        source: &str,
        token: &str,
        body_sha256: &[u8; 32],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        // Insert-or-keep, then compare: the first body a token was seen with wins.
        let stored: Vec<u8> = sqlx::query_scalar(
            "INSERT INTO replay_tokens (source, token, body_sha256, seen_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (source, token) DO UPDATE SET source = excluded.source RETURNING body_sha256",
        )
        .bind(source)
        .bind(token)
        .bind(&body_sha256[..])
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(stored.as_slice() == body_sha256.as_slice())
    }

    async fn hand_over_secret(
        &self,
        source: &str,
        secret: &[u8],
        now_ms: i64,
    ) -> Result<Vec<u8>, StoreError> {
        // Insert-or-keep, then read back: the first hand-over wins, on every replica.
        Ok(sqlx::query_scalar(
            "INSERT INTO handshake_secrets (source, secret, stored_at) VALUES ($1, $2, $3) \
             ON CONFLICT (source) DO UPDATE SET source = excluded.source RETURNING secret",
        )
        .bind(source)
        .bind(secret)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn handed_over_secret(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT secret FROM handshake_secrets WHERE source = $1")
                .bind(source)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn forget_handed_over_secret(&self, source: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM handshake_secrets WHERE source = $1")
            .bind(source)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_replay_tokens(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM replay_tokens WHERE seen_at < $1")
            .bind(cutoff_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn purge_expired(&self, cutoff_ms: i64, limit: i64) -> Result<u64, StoreError> {
        // No foreign keys (migration 0008): an event's deliveries and their attempts go in the
        // same statement, and a replay locks the inbox row it requeues (`FOR KEY SHARE`), so
        // it either waits for this purge and finds nothing, or makes it skip the row.
        let done = sqlx::query(
            "WITH victims AS (SELECT i.id FROM inbox i WHERE i.received_at < $1 \
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event = i.id AND d.state = 'pending') \
               LIMIT $2 FOR UPDATE SKIP LOCKED), \
             gone AS (DELETE FROM deliveries d USING victims v WHERE d.event = v.id RETURNING d.id), \
             _attempts AS (DELETE FROM delivery_attempts a USING gone g WHERE a.delivery = g.id) \
             DELETE FROM inbox i USING victims v WHERE i.id = v.id",
        )
        .bind(cutoff_ms)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn add_stats(&self, rows: &[StatsRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        // Rows in key order, so two replicas flushing the same minute lock rows in the same
        // order and cannot deadlock.
        let mut sorted: Vec<&StatsRow> = rows.iter().collect();
        sorted.sort();
        let minutes: Vec<i64> = sorted.iter().map(|r| r.minute_ms).collect();
        let scopes: Vec<&str> = sorted.iter().map(|r| r.scope.as_str()).collect();
        let names: Vec<&str> = sorted.iter().map(|r| r.name.as_str()).collect();
        let counters: Vec<&str> = sorted.iter().map(|r| r.counter.as_str()).collect();
        let values: Vec<i64> = sorted.iter().map(|r| r.value).collect();
        sqlx::query(
            "INSERT INTO stats_minute (minute, scope, name, counter, value) \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[]) \
             ON CONFLICT (minute, scope, name, counter) \
             DO UPDATE SET value = stats_minute.value + excluded.value",
        )
        .bind(&minutes)
        .bind(&scopes)
        .bind(&names)
        .bind(&counters)
        .bind(&values)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn stats_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT (minute / $1) * $1 AS bucket, scope, name, counter, SUM(value)::bigint AS value \
             FROM stats_minute WHERE minute >= $2 AND minute < $3 \
             GROUP BY bucket, scope, name, counter ORDER BY bucket",
        )
        .bind(bucket_ms.max(1))
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StatsRow {
                    minute_ms: r.try_get("bucket")?,
                    scope: r.try_get("scope")?,
                    name: r.try_get("name")?,
                    counter: r.try_get("counter")?,
                    value: r.try_get("value")?,
                })
            })
            .collect()
    }

    async fn purge_stats(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM stats_minute WHERE minute < $1")
            .bind(cutoff_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn set_handler_paused(
        &self,
        handler: &str,
        paused: bool,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO handler_state (handler, paused_at, updated_at) \
             VALUES ($1, CASE WHEN $2 THEN $3::bigint END, $3) \
             ON CONFLICT (handler) DO UPDATE SET updated_at = excluded.updated_at, \
             paused_at = CASE WHEN $2 THEN coalesce(handler_state.paused_at, excluded.paused_at) END",
        )
        .bind(handler)
        .bind(paused)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn paused_handlers(&self) -> Result<Vec<HandlerPause>, StoreError> {
        let rows = sqlx::query(
            "SELECT handler, paused_at FROM handler_state WHERE paused_at IS NOT NULL ORDER BY handler",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HandlerPause {
                    handler: r.try_get("handler")?,
                    paused_at_ms: r.try_get("paused_at")?,
                })
            })
            .collect()
    }

    async fn release_leases(&self, leases: &[(Uuid, Uuid)]) -> Result<u64, StoreError> {
        if leases.is_empty() {
            return Ok(0);
        }
        let (ids, tokens): (Vec<Uuid>, Vec<Uuid>) = leases.iter().copied().unzip();
        let done = sqlx::query(
            "UPDATE deliveries d SET lease_until = NULL, lease_token = NULL \
             FROM UNNEST($1::uuid[], $2::uuid[]) AS r(id, token) \
             WHERE d.id = r.id AND d.lease_token = r.token AND d.state = 'pending'",
        )
        .bind(&ids)
        .bind(&tokens)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

fn delivery_info_from_row(r: &PgRow) -> Result<DeliveryInfo, StoreError> {
    let state: String = r.try_get("state")?;
    let attempts: i32 = r.try_get("attempts")?;
    Ok(DeliveryInfo {
        id: r.try_get("id")?,
        event: r.try_get("event")?,
        handler: r.try_get("handler")?,
        state: DeliveryState::of(&state, attempts),
        attempts,
        next_attempt_at_ms: r.try_get("next_attempt_at")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        created_at_ms: r.try_get("created_at")?,
        updated_at_ms: r.try_get("updated_at")?,
        source: r.try_get("source")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        received_at_ms: r.try_get("received_at")?,
    })
}
