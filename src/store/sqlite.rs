//! SQLite engine: the embedded default.
//!
//! One file in WAL mode with `synchronous=FULL`, so a commit is on disk before the 2xx.
//! Exactly one writer connection (SQLite serialises writers anyway, and a pool of writers
//! only adds lock contention), fed by [`GroupCommit`]; a separate pool serves reads. Write
//! transactions start with `BEGIN IMMEDIATE` so a locked database fails fast with
//! `SQLITE_BUSY` after the busy timeout instead of deadlocking a deferred upgrade.

use super::group_commit::{BatchWriter, GroupCommit};
use super::{
    duplicate_of, NewEvent, RecordOutcome, Store, StoreError, StoredDelivery, StoredEvent,
};
use crate::config::StoreConfig;
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use uuid::Uuid;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// SQLite binds at most 32766 parameters per statement; 8 per inbox row.
const ROWS_PER_INSERT: usize = 1000;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    group: GroupCommit,
}

struct SqliteWriter {
    pool: SqlitePool,
}

fn connect_options(cfg: &StoreConfig) -> Result<SqliteConnectOptions, StoreError> {
    let opts = SqliteConnectOptions::from_str(&cfg.url)
        .map_err(|e| StoreError::Config(format!("store.url: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(cfg.statement_timeout)
        .foreign_keys(true);
    Ok(opts)
}

impl SqliteStore {
    pub async fn open(cfg: &StoreConfig) -> Result<Self, StoreError> {
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
        let group = GroupCommit::spawn(
            Arc::new(SqliteWriter {
                pool: writer.clone(),
            }),
            1,
            cfg.max_batch,
            cfg.queue_depth,
            cfg.timeout,
        );
        Ok(SqliteStore {
            writer,
            reader,
            group,
        })
    }

    /// Apply migrations only (`hookgate migrate`).
    pub async fn migrate(cfg: &StoreConfig) -> Result<(), StoreError> {
        SqliteStore::open(cfg).await.map(|_| ())
    }
}

#[async_trait]
impl BatchWriter for SqliteWriter {
    async fn write_batch(&self, events: &[NewEvent]) -> Result<Vec<RecordOutcome>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut inserted: HashSet<Uuid> = HashSet::with_capacity(events.len());
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO inbox (id, source, event_id, event_type, body, headers, body_sha256, received_at) ",
            );
            qb.push_values(chunk, |mut b, ev| {
                b.push_bind(ev.id.to_string())
                    .push_bind(ev.source.as_str())
                    .push_bind(ev.event_id.as_str())
                    .push_bind(ev.event_type.as_deref())
                    .push_bind(ev.body.as_ref())
                    .push_bind(ev.headers.to_string())
                    .push_bind(&ev.body_sha256[..])
                    .push_bind(ev.received_at_ms);
            });
            qb.push(" ON CONFLICT (source, event_id) DO NOTHING RETURNING id");
            let ids: Vec<String> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
            for id in ids {
                inserted.insert(parse_uuid(&id)?);
            }
        }

        let mut outcomes = Vec::with_capacity(events.len());
        let mut deliveries: Vec<(&NewEvent, &str)> = Vec::new();
        for ev in events {
            if inserted.contains(&ev.id) {
                outcomes.push(RecordOutcome::Accepted { id: ev.id });
                deliveries.extend(ev.handlers.iter().map(|h| (ev, h.as_str())));
                continue;
            }
            let row = sqlx::query(
                "UPDATE inbox SET duplicate_count = duplicate_count + 1, \
                 mismatch_count = mismatch_count + (body_sha256 <> ?1), last_duplicate_at = ?2 \
                 WHERE source = ?3 AND event_id = ?4 RETURNING id, received_at, body_sha256",
            )
            .bind(&ev.body_sha256[..])
            .bind(ev.received_at_ms)
            .bind(ev.source.as_str())
            .bind(ev.event_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
            let id: String = row.try_get(0)?;
            outcomes.push(duplicate_of(
                ev,
                (parse_uuid(&id)?, row.try_get(1)?, row.try_get(2)?),
            ));
        }

        for chunk in deliveries.chunks(ROWS_PER_INSERT) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO deliveries (id, event, handler, state, attempts, next_attempt_at, created_at, updated_at) ",
            );
            qb.push_values(chunk, |mut b, (ev, handler)| {
                b.push_bind(Uuid::now_v7().to_string())
                    .push_bind(ev.id.to_string())
                    .push_bind(*handler)
                    .push_bind("pending")
                    .push_bind(0_i32)
                    .push_bind(ev.received_at_ms)
                    .push_bind(ev.received_at_ms)
                    .push_bind(ev.received_at_ms);
            });
            qb.build().execute(&mut *tx).await?;
        }

        tx.commit().await?;
        Ok(outcomes)
    }
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
        let rows = sqlx::query(
            "SELECT id, event, handler, state, attempts FROM deliveries WHERE event = ?1 ORDER BY handler",
        )
        .bind(event.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let ev: String = r.try_get(1)?;
                Ok(StoredDelivery {
                    id: parse_uuid(&id)?,
                    event: parse_uuid(&ev)?,
                    handler: r.try_get(2)?,
                    state: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn count_events(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM inbox")
            .fetch_one(&self.reader)
            .await?)
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
}
