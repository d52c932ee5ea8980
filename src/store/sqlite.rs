//! SQLite engine: the embedded default.
//!
//! One file in WAL mode with `synchronous=FULL`, so a commit is on disk before the 2xx.
//! Ingest and delivery attempts are written by one writer connection on a thread of its own
//! ([`GroupCommit::spawn_thread`], through rusqlite on the same SQLite library sqlx links):
//! SQLite serialises writers anyway, a pool of writers only adds lock contention, and an
//! in-process engine gains nothing from async — each statement through sqlx's worker thread
//! cost two thread wake-ups, which on a busy machine made the commit chain, not the disk,
//! the limit. The rarer writes (claims, replays, stats, purges) go through sqlx's own single
//! writer connection, and a pool serves reads. Write transactions start with
//! `BEGIN IMMEDIATE` so a locked database fails fast with `SQLITE_BUSY` after the busy timeout
//! instead of deadlocking a deferred upgrade.

use super::group_commit::{BatchResult, BlockingBatchWriter, GroupCommit};
use super::handoff::{HandOff, HandOffBatch};
use super::{
    AttemptRecord, BatchPlan, ClaimedDelivery, Completion, DeliveryCounts, DeliveryFilter,
    DeliveryInfo, DeliveryState, EventFilter, EventSummary, HandlerHealth, HandlerPause, KeyRow,
    NewEvent, RecordOutcome, StatsRow, Store, StoreError, StoredDelivery, StoredEvent,
};
use crate::config::StoreConfig;
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Stats rows per upsert statement (5 parameters each).
const STATS_ROWS_PER_INSERT: usize = 2000;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    group: GroupCommit,
    health: Arc<WriterHealth>,
    file: PathBuf,
}

/// Whether the group-commit writer's last batch failed (a full disk, a read-only or vanished
/// file, an I/O error…); cleared by the next batch that commits. While it is set `/readyz`
/// probes the file itself ([`probe_file`]), since a read-only check would pass on a full disk.
#[derive(Debug, Default)]
struct WriterHealth {
    failing: AtomicBool,
}

/// The pause between reopening attempts of a failing writer connection.
const REOPEN_BACKOFF: Duration = Duration::from_millis(250);
/// Bytes written (and removed) next to the database to prove the filesystem takes writes.
const PROBE_BYTES: usize = 256 * 1024;

/// The group-commit writer: its own connection (rusqlite, same SQLite library as sqlx) on a
/// thread of its own, so a batch's statements run back to back with no thread hop each.
///
/// After a failed batch the connection is dropped and reopened before the next one (at most
/// once per [`REOPEN_BACKOFF`]; batches in between are answered unavailable), so a fault that
/// is removed — space freed, the file writable again — is recovered from without a restart,
/// whatever state the old connection was left in.
struct SqliteWriter {
    conn: Option<rusqlite::Connection>,
    file: PathBuf,
    busy_timeout: Duration,
    health: Arc<WriterHealth>,
    next_reopen: Instant,
}

fn connect_options(cfg: &StoreConfig) -> Result<SqliteConnectOptions, StoreError> {
    let opts = SqliteConnectOptions::from_str(&cfg.url)
        .map_err(|e| StoreError::Config(format!("store.url: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(cfg.statement_timeout)
        // Statement journals (an upsert keeps one) stay in memory instead of a temp file.
        .pragma("temp_store", "memory")
        .foreign_keys(true);
    Ok(opts)
}

impl SqliteStore {
    pub async fn open(cfg: &StoreConfig, handoff: Option<HandOff>) -> Result<Self, StoreError> {
        let opts = connect_options(cfg)?;
        let file = opts.get_filename().to_path_buf();
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(cfg.connect_timeout.max(cfg.statement_timeout))
            .connect_with(opts.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(cfg.pool_size)
            .acquire_timeout(cfg.connect_timeout)
            .connect_with(opts)
            .await?;
        let health = Arc::new(WriterHealth::default());
        let writer_conn = SqliteWriter {
            conn: Some(SqliteWriter::connect(&file, cfg.statement_timeout)?),
            file: file.clone(),
            busy_timeout: cfg.statement_timeout,
            health: health.clone(),
            next_reopen: Instant::now(),
        };
        let group = GroupCommit::spawn_thread(
            "hookgate-sqlite-writer",
            writer_conn,
            cfg.max_batch,
            cfg.queue_limits(),
            handoff,
        )
        .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            writer,
            reader,
            group,
            health,
            file,
        })
    }

    /// Apply migrations only (`hookgate migrate`).
    pub async fn migrate(cfg: &StoreConfig) -> Result<(), StoreError> {
        SqliteStore::open(cfg, None).await.map(|_| ())
    }
}

const UPSERT_SQL: &str = "INSERT INTO inbox (id, source, event_id, event_type, body, headers, body_sha256, received_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
     ON CONFLICT (source, event_id) DO UPDATE SET duplicate_count = duplicate_count + 1, \
     mismatch_count = mismatch_count + (body_sha256 <> excluded.body_sha256), \
     last_duplicate_at = excluded.received_at \
     RETURNING id, received_at, body_sha256";
const REPEATS_SQL: &str = "UPDATE inbox SET duplicate_count = duplicate_count + ?1, \
     mismatch_count = mismatch_count + ?2, last_duplicate_at = max(coalesce(last_duplicate_at, 0), ?3) \
     WHERE source = ?4 AND event_id = ?5";
const DELIVERY_SQL: &str = "INSERT INTO deliveries (id, event, handler, state, attempts, next_attempt_at, \
     lease_until, lease_token, created_at, updated_at) VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?5, ?6, ?4, ?4)";
/// Moves the attempt a delivery's row holds into `delivery_attempts`, before the row takes
/// the new one (only for the lease holder, like the update that follows it).
const HISTORY_SQL: &str = concat!(
    "INSERT INTO delivery_attempts (delivery, ",
    super::attempt_columns!(),
    ") \
     SELECT id, ",
    super::held_attempt_columns!(),
    " \
     FROM deliveries WHERE id = ?1 AND lease_token = ?2 AND last_attempt IS NOT NULL"
);
const COMPLETE_SQL: &str =
    "UPDATE deliveries SET state = ?1, attempts = attempts + 1, next_attempt_at = ?2, \
     lease_until = NULL, lease_token = NULL, last_attempt = attempts + 1, last_started_at = ?8, \
     last_duration_ms = ?9, last_outcome = ?10, last_status = ?3, last_error = ?4, updated_at = ?5 \
     WHERE id = ?6 AND lease_token = ?7";

impl SqliteWriter {
    fn connect(file: &Path, busy_timeout: Duration) -> Result<rusqlite::Connection, StoreError> {
        let conn = rusqlite::Connection::open(file)?;
        conn.busy_timeout(busy_timeout)?;
        // The file is in WAL mode already (the migrating connection set it; it persists).
        // Statement journals (an upsert keeps one) stay in memory instead of a temp file.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
        )?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(conn)
    }

    /// The connection, reopened first if the last batch failed.
    fn connection(&mut self) -> Result<&mut rusqlite::Connection, StoreError> {
        if self.conn.is_none() {
            if Instant::now() < self.next_reopen {
                return Err(StoreError::Unavailable(
                    "the store file is failing; reopening shortly".into(),
                ));
            }
            self.next_reopen = Instant::now() + REOPEN_BACKOFF;
            let conn = SqliteWriter::connect(&self.file, self.busy_timeout)?;
            tracing::info!("store writer connection reopened");
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("no writer connection".into()))
    }
}

/// Whether the database's filesystem takes writes now: the database file and its WAL open for
/// writing (an immutable or read-only file does not), and a [`PROBE_BYTES`] file next to them
/// can be written, synced and removed (a full disk cannot).
fn probe_file(file: &Path) -> Result<(), StoreError> {
    use std::io::Write;
    let failed = |what: &str, e: std::io::Error| {
        StoreError::Unavailable(format!("store file not writable ({what}): {e}"))
    };
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    for path in [file, Path::new(&wal)] {
        match std::fs::OpenOptions::new().write(true).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path != file => {}
            Err(e) => return Err(failed("open", e)),
        }
    }
    let mut probe = file.as_os_str().to_owned();
    probe.push(".probe");
    let probe = PathBuf::from(probe);
    let written = std::fs::File::create(&probe).and_then(|mut f| {
        f.write_all(&[0u8; PROBE_BYTES])?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| failed("write", e))
}

/// Statements on an in-process engine cost no round trip: the batch runs one prepared
/// statement per row, in one `BEGIN IMMEDIATE` transaction — the first occurrence of each key
/// through an upsert that inserts it or counts the repeat on the stored row (`RETURNING` the
/// row either way), later occurrences counted per key, then the deliveries of new rows and
/// the attempts whose lease still holds.
impl BlockingBatchWriter for SqliteWriter {
    fn write_batch(
        &mut self,
        events: &[NewEvent],
        completions: &[Completion],
        handoff: &mut HandOffBatch,
    ) -> Result<BatchResult, StoreError> {
        let result = self
            .connection()
            .and_then(|conn| write_in(conn, events, completions, handoff));
        match &result {
            Ok(_) => self.health.failing.store(false, Ordering::Relaxed),
            Err(e) => {
                if !self.health.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "store writer failing; it reopens its connection and retries");
                }
                // Whatever state the failure left it in, the next batch starts on a fresh one.
                self.conn = None;
            }
        }
        result
    }
}

/// One batch in one `BEGIN IMMEDIATE` transaction on `conn` (see [`SqliteWriter`]).
fn write_in(
    conn: &mut rusqlite::Connection,
    events: &[NewEvent],
    completions: &[Completion],
    handoff: &mut HandOffBatch,
) -> Result<BatchResult, StoreError> {
    {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let plan = BatchPlan::new(events);
        let mut rows: HashMap<(&str, &str), KeyRow> = HashMap::with_capacity(plan.firsts.len());
        if !plan.firsts.is_empty() {
            let mut upsert = tx.prepare_cached(UPSERT_SQL)?;
            for &i in &plan.firsts {
                let ev = &events[i];
                let (id, received_at_ms, body_sha256) = upsert.query_row(
                    rusqlite::params![
                        ev.id.to_string(),
                        ev.source,
                        ev.event_id,
                        ev.event_type,
                        &ev.body[..],
                        super::headers_json(&ev.headers),
                        &ev.body_sha256[..],
                        ev.received_at_ms
                    ],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, [u8; 32]>(2)?,
                        ))
                    },
                )?;
                rows.insert(
                    (ev.source.as_str(), ev.event_id.as_str()),
                    KeyRow {
                        id: parse_uuid(&id)?,
                        received_at_ms,
                        body_sha256,
                    },
                );
            }
        }
        let (outcomes, repeats) = plan.resolve(events, &rows)?;
        if !repeats.is_empty() {
            let mut st = tx.prepare_cached(REPEATS_SQL)?;
            for c in &repeats {
                st.execute(rusqlite::params![
                    c.n,
                    c.mismatches,
                    c.last_at_ms,
                    c.source,
                    c.event_id
                ])?;
            }
        }
        let deliveries = handoff.plan(events, |i| outcomes[i].is_accepted());
        if !deliveries.is_empty() {
            let mut st = tx.prepare_cached(DELIVERY_SQL)?;
            for d in &deliveries {
                st.execute(rusqlite::params![
                    d.id.to_string(),
                    d.event.id.to_string(),
                    d.handler,
                    d.event.received_at_ms,
                    d.lease.map(|(_, until)| until),
                    d.lease.map(|(token, _)| token.to_string())
                ])?;
            }
        }
        let applied = complete_in(&tx, completions)?;
        tx.commit()?;
        Ok(BatchResult { outcomes, applied })
    }
}

/// Record attempts and next states inside `tx`: per completion, the delivery moves on only
/// if its lease token still matches, and only then is the attempt logged.
fn complete_in(
    tx: &rusqlite::Transaction<'_>,
    batch: &[Completion],
) -> Result<Vec<bool>, StoreError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let now = super::now_ms();
    let mut history = tx.prepare_cached(HISTORY_SQL)?;
    let mut update = tx.prepare_cached(COMPLETE_SQL)?;
    let mut applied = Vec::with_capacity(batch.len());
    for c in batch {
        let (state, next_at) = c.next.stored(now);
        let id = c.delivery.to_string();
        let token = c.lease_token.to_string();
        // One writer, one transaction: nothing changes the row between the two statements,
        // and both apply only while this completion's lease holds.
        history.execute(rusqlite::params![id, token])?;
        let changed = update.execute(rusqlite::params![
            state,
            next_at,
            c.status.map(i32::from),
            c.error.as_deref(),
            now,
            id,
            token,
            c.started_at_ms,
            c.duration_ms,
            c.next.label()
        ])?;
        applied.push(changed == 1);
    }
    Ok(applied)
}

fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Unavailable(format!("corrupt id {s:?}: {e}")))
}

fn event_from_row(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    let id: String = row.try_get("id")?;
    let headers: String = row.try_get("headers")?;
    Ok(StoredEvent {
        id: parse_uuid(&id)?,
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

const EVENT_COLUMNS: &str = "id, source, event_id, event_type, body, headers, body_sha256, \
     received_at, duplicate_count, mismatch_count, last_duplicate_at";

#[async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn record(&self, events: Vec<NewEvent>) -> Result<Vec<RecordOutcome>, StoreError> {
        self.group.record(events).await
    }

    fn queued_body_bytes(&self) -> usize {
        self.group.queued_body_bytes()
    }

    async fn complete_attempt(&self, completion: Completion) -> Result<bool, StoreError> {
        self.group.complete(completion).await
    }

    async fn ready(&self) -> Result<(), StoreError> {
        // A write lock proves the file is writable and not locked by someone else.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&mut *tx)
                .await?;
        tx.rollback().await?;
        if applied < MIGRATOR.iter().count() as i64 {
            return Err(StoreError::Unavailable("migrations are not applied".into()));
        }
        if self.health.failing.load(Ordering::Relaxed) {
            // The writer's last batch failed: ready only once the file takes writes again
            // (the writer itself reopens with the next batch).
            let file = self.file.clone();
            tokio::task::spawn_blocking(move || probe_file(&file))
                .await
                .map_err(|e| StoreError::Unavailable(format!("probe failed: {e}")))??;
        }
        Ok(())
    }

    async fn event(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM inbox WHERE id = ?1"))
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn find_event(
        &self,
        source: &str,
        event_id: &str,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM inbox WHERE source = ?1 AND event_id = ?2"
        ))
        .bind(source)
        .bind(event_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn deliveries_of(&self, event: Uuid) -> Result<Vec<StoredDelivery>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event = ?1 ORDER BY handler"
        ))
        .bind(event.to_string())
        .fetch_all(&self.reader)
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // The claimed rows are read back by primary key (the lease token has no index, and
        // a scan per claim made draining a backlog quadratic in its size).
        let claimed: Vec<String> = sqlx::query_scalar(
            "UPDATE deliveries SET lease_until = ?1, lease_token = ?2, updated_at = ?3 \
             WHERE id IN (SELECT id FROM deliveries WHERE handler = ?4 AND state = 'pending' \
               AND next_attempt_at <= ?3 AND (lease_until IS NULL OR lease_until <= ?3) \
               ORDER BY next_attempt_at LIMIT ?5) RETURNING id",
        )
        .bind(lease_until_ms)
        .bind(token.to_string())
        .bind(now_ms)
        .bind(handler)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if claimed.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        // One statement text whatever the count (a list of placeholders per count would
        // fill the statement cache with one prepared statement per claim size).
        let ids =
            serde_json::to_string(&claimed).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let rows = sqlx::query(
            "SELECT d.id AS delivery, d.handler, d.attempts, d.created_at, i.id, i.source, i.event_id, \
             i.event_type, i.received_at, i.duplicate_count, i.mismatch_count, i.body, i.headers \
             FROM deliveries d JOIN inbox i ON i.id = d.event \
             WHERE d.id IN (SELECT value FROM json_each(?1)) ORDER BY d.next_attempt_at",
        )
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let queued_at = std::time::Instant::now();
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("delivery")?;
                let headers: String = r.try_get("headers")?;
                Ok(ClaimedDelivery {
                    id: parse_uuid(&id)?,
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
        // Queued together, they are written together (one transaction, unless the queue
        // splits them across batches; each completion is atomic on its own either way).
        futures::future::try_join_all(batch.iter().map(|c| self.group.complete(c.clone()))).await
    }

    async fn requeue(
        &self,
        event: Uuid,
        handlers: &[String],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut n = 0;
        for h in handlers {
            n += sqlx::query(
                "INSERT INTO deliveries (id, event, handler, state, attempts, next_attempt_at, created_at, updated_at) \
                 SELECT ?1, ?2, ?3, 'pending', 0, ?4, ?4, ?4 WHERE EXISTS (SELECT 1 FROM inbox WHERE id = ?2) \
                 ON CONFLICT (event, handler) DO UPDATE SET state = 'pending', attempts = 0, \
                 next_attempt_at = excluded.next_attempt_at, created_at = excluded.created_at, \
                 updated_at = excluded.updated_at, lease_until = NULL, lease_token = NULL",
            )
            .bind(Uuid::now_v7().to_string())
            .bind(event.to_string())
            .bind(h.as_str())
            .bind(now_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    async fn retry_dead(&self, filter: &DeliveryFilter, now_ms: i64) -> Result<u64, StoreError> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ",
        );
        qb.push_bind(now_ms)
            .push(", created_at = ")
            .push_bind(now_ms)
            .push(", updated_at = ")
            .push_bind(now_ms)
            .push(
                ", lease_until = NULL, lease_token = NULL WHERE state = 'dead' AND id IN \
                 (SELECT d.id FROM deliveries d JOIN inbox i ON i.id = d.event WHERE 1 = 1",
            );
        let only_dead = DeliveryFilter {
            state: Some(DeliveryState::Dead),
            ..filter.clone()
        };
        super::push_delivery_filter(&mut qb, &only_dead);
        qb.push(")");
        let done = qb.build().execute(&self.writer).await?;
        Ok(done.rows_affected())
    }

    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<DeliveryInfo>, StoreError> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {} FROM deliveries d JOIN inbox i ON i.id = d.event WHERE 1 = 1",
            super::DELIVERY_INFO_COLUMNS
        ));
        super::push_delivery_filter(&mut qb, filter);
        if let Some(b) = before {
            qb.push(" AND d.id < ").push_bind(b.to_string());
        }
        qb.push(" ORDER BY d.id DESC LIMIT ").push_bind(limit);
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(delivery_info_from_row).collect()
    }

    async fn delivery(&self, id: Uuid) -> Result<Option<DeliveryInfo>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM deliveries d JOIN inbox i ON i.id = d.event WHERE d.id = ?1",
            super::DELIVERY_INFO_COLUMNS
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(delivery_info_from_row).transpose()
    }

    async fn retry_delivery(&self, id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?1, created_at = ?1, \
             updated_at = ?1, lease_until = NULL, lease_token = NULL WHERE id = ?2",
        )
        .bind(now_ms)
        .bind(id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_events(
        &self,
        filter: &EventFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<EventSummary>, StoreError> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {} FROM inbox WHERE 1 = 1",
            super::list_columns()
        ));
        super::push_event_filter(&mut qb, filter);
        if let Some(b) = before {
            qb.push(" AND id < ").push_bind(b.to_string());
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(listed_from_row).collect()
    }

    async fn delivery_health(&self) -> Result<Vec<HandlerHealth>, StoreError> {
        let rows = sqlx::query(&super::delivery_health_sql())
            .fetch_all(&self.reader)
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
            .bind(delivery.to_string())
            .fetch_all(&self.reader)
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
            .fetch_one(&self.reader)
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
            "INSERT INTO replay_tokens (source, token, body_sha256, seen_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (source, token) DO UPDATE SET source = excluded.source RETURNING body_sha256",
        )
        .bind(source)
        .bind(token)
        .bind(&body_sha256[..])
        .bind(now_ms)
        .fetch_one(&self.writer)
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
            "INSERT INTO handshake_secrets (source, secret, stored_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (source) DO UPDATE SET source = excluded.source RETURNING secret",
        )
        .bind(source)
        .bind(secret)
        .bind(now_ms)
        .fetch_one(&self.writer)
        .await?)
    }

    async fn handed_over_secret(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT secret FROM handshake_secrets WHERE source = ?1")
                .bind(source)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn forget_handed_over_secret(&self, source: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM handshake_secrets WHERE source = ?1")
            .bind(source)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_replay_tokens(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM replay_tokens WHERE seen_at < ?1")
            .bind(cutoff_ms)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn purge_expired(&self, cutoff_ms: i64, limit: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM inbox WHERE id IN (SELECT i.id FROM inbox i WHERE i.received_at < ?1 \
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event = i.id AND d.state = 'pending') \
             LIMIT ?2)",
        )
        .bind(cutoff_ms)
        .bind(limit)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn add_stats(&self, rows: &[StatsRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for chunk in rows.chunks(STATS_ROWS_PER_INSERT) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO stats_minute (minute, scope, name, counter, value) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.minute_ms)
                    .push_bind(r.scope.as_str())
                    .push_bind(r.name.as_str())
                    .push_bind(r.counter.as_str())
                    .push_bind(r.value);
            });
            qb.push(
                " ON CONFLICT (minute, scope, name, counter) \
                 DO UPDATE SET value = stats_minute.value + excluded.value",
            );
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn stats_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT (minute / ?1) * ?1 AS bucket, scope, name, counter, SUM(value) AS value \
             FROM stats_minute WHERE minute >= ?2 AND minute < ?3 \
             GROUP BY bucket, scope, name, counter ORDER BY bucket",
        )
        .bind(bucket_ms.max(1))
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.reader)
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
        let done = sqlx::query("DELETE FROM stats_minute WHERE minute < ?1")
            .bind(cutoff_ms)
            .execute(&self.writer)
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
             VALUES (?1, CASE WHEN ?2 THEN ?3 END, ?3) \
             ON CONFLICT (handler) DO UPDATE SET updated_at = excluded.updated_at, \
             paused_at = CASE WHEN ?2 THEN coalesce(handler_state.paused_at, excluded.paused_at) END",
        )
        .bind(handler)
        .bind(paused)
        .bind(now_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn paused_handlers(&self) -> Result<Vec<HandlerPause>, StoreError> {
        let rows = sqlx::query(
            "SELECT handler, paused_at FROM handler_state WHERE paused_at IS NOT NULL ORDER BY handler",
        )
        .fetch_all(&self.reader)
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut n = 0;
        for (id, token) in leases {
            n += sqlx::query(
                "UPDATE deliveries SET lease_until = NULL, lease_token = NULL \
                 WHERE id = ?1 AND lease_token = ?2 AND state = 'pending'",
            )
            .bind(id.to_string())
            .bind(token.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }
}

const DELIVERY_COLUMNS: &str =
    "id, event, handler, state, attempts, next_attempt_at, last_status, \
     last_error, created_at, updated_at";

fn delivery_from_row(r: &SqliteRow) -> Result<StoredDelivery, StoreError> {
    let id: String = r.try_get("id")?;
    let ev: String = r.try_get("event")?;
    Ok(StoredDelivery {
        id: parse_uuid(&id)?,
        event: parse_uuid(&ev)?,
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

fn summary_from_row(r: &SqliteRow) -> Result<EventSummary, StoreError> {
    let id: String = r.try_get("id")?;
    Ok(EventSummary {
        id: parse_uuid(&id)?,
        source: r.try_get("source")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        received_at_ms: r.try_get("received_at")?,
        duplicate_count: r.try_get("duplicate_count")?,
        mismatch_count: r.try_get("mismatch_count")?,
        deliveries: None,
    })
}

fn listed_from_row(r: &SqliteRow) -> Result<EventSummary, StoreError> {
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

fn delivery_info_from_row(r: &SqliteRow) -> Result<DeliveryInfo, StoreError> {
    let id: String = r.try_get("id")?;
    let ev: String = r.try_get("event")?;
    let state: String = r.try_get("state")?;
    let attempts: i32 = r.try_get("attempts")?;
    Ok(DeliveryInfo {
        id: parse_uuid(&id)?,
        event: parse_uuid(&ev)?,
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
