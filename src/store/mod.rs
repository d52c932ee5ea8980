//! The durable inbox (and its outbox of deliveries): one [`Store`] trait, two engines.
//!
//! The store owns the guarantees of DESIGN §1.1–1.3: an event is acknowledged only after its
//! row (and its pending deliveries) are committed; the database's `UNIQUE (source, event_id)`
//! decides first-seen versus duplicate, never a read-then-write here; duplicates insert no
//! deliveries. Writes from concurrent requests share transactions through [`group_commit`],
//! so callers see one `record` call per request while the engine commits many at once.
//!
//! Engines: [`sqlite`] (embedded default, one file, WAL, `synchronous=FULL`) and [`postgres`]
//! (many replicas). They share the schema shape (`migrations/{sqlite,postgres}`), the
//! representation (times as Unix milliseconds), and one contract test suite.

pub mod group_commit;
pub mod postgres;
pub mod sqlite;

use crate::config::StoreConfig;
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// An event that passed verification and is about to be recorded.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Internal id (UUIDv7), assigned before recording; kept only if this is first-seen.
    pub id: Uuid,
    pub source: String,
    pub event_id: String,
    pub event_type: Option<String>,
    pub body: Bytes,
    /// JSON object of the headers worth keeping (never signatures or credentials).
    pub headers: serde_json::Value,
    pub body_sha256: [u8; 32],
    pub received_at_ms: i64,
    /// Handlers that get a pending delivery if this event is first-seen.
    pub handlers: Vec<String>,
}

/// What recording one event decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// First arrival: the row (and its deliveries) are committed.
    Accepted { id: Uuid },
    /// A repeat of a known (source, event id): nothing new was stored except counters.
    Duplicate {
        /// The original record's id.
        id: Uuid,
        first_seen_at_ms: i64,
        /// The repeat's body hash differs from the stored one.
        body_mismatch: bool,
    },
}

impl RecordOutcome {
    pub fn id(&self) -> Uuid {
        match self {
            RecordOutcome::Accepted { id } | RecordOutcome::Duplicate { id, .. } => *id,
        }
    }
    pub fn is_accepted(&self) -> bool {
        matches!(self, RecordOutcome::Accepted { .. })
    }
}

/// An inbox row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: Uuid,
    pub source: String,
    pub event_id: String,
    pub event_type: Option<String>,
    pub body: Vec<u8>,
    pub headers: serde_json::Value,
    pub body_sha256: Vec<u8>,
    pub received_at_ms: i64,
    pub duplicate_count: i64,
    pub mismatch_count: i64,
    pub last_duplicate_at_ms: Option<i64>,
}

/// A delivery row as stored (the dispatcher's view comes with fanout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDelivery {
    pub id: Uuid,
    pub event: Uuid,
    pub handler: String,
    pub state: String,
    pub attempts: i32,
}

/// Store failures. All are transient from a client's point of view: the answer is 503 and the
/// provider retries; nothing is recorded as an outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store did not answer in time")]
    Timeout,
    #[error("too many requests are waiting for the store")]
    Overloaded,
    #[error("invalid store configuration: {0}")]
    Config(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Unavailable(format!("migration failed: {e}"))
    }
}

/// The inbox and outbox, independent of the engine.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;

    /// Record the events of one request atomically: all of them are committed (each accepted
    /// or duplicate) or none is (error). Outcomes are in input order; a repeat within the same
    /// call resolves as it would in sequence (the first wins).
    async fn record(&self, events: Vec<NewEvent>) -> Result<Vec<RecordOutcome>, StoreError>;

    /// Ok when the store is reachable, writable and migrated.
    async fn ready(&self) -> Result<(), StoreError>;

    /// One inbox row by internal id.
    async fn event(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError>;

    /// One inbox row by (source, provider event id).
    async fn find_event(
        &self,
        source: &str,
        event_id: &str,
    ) -> Result<Option<StoredEvent>, StoreError>;

    /// Deliveries of one event.
    async fn deliveries_of(&self, event: Uuid) -> Result<Vec<StoredDelivery>, StoreError>;

    /// Number of inbox rows (for tests and stats).
    async fn count_events(&self) -> Result<i64, StoreError>;

    /// Delete up to `limit` inbox rows received before `cutoff_ms` that have no pending
    /// delivery. Returns how many were deleted.
    async fn purge_expired(&self, cutoff_ms: i64, limit: i64) -> Result<u64, StoreError>;
}

/// Open the store named by `cfg.url`, apply migrations, and start its writer.
pub async fn open(cfg: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    if cfg.url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(cfg).await?))
    } else if cfg.url.starts_with("postgres:") || cfg.url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PostgresStore::open(cfg).await?))
    } else {
        Err(StoreError::Config(
            "store.url must start with sqlite:// or postgres://".into(),
        ))
    }
}

/// Current time as Unix milliseconds, the store's time representation.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The outcome for an event that lost the unique-constraint race to the stored row
/// `(id, received_at_ms, body_sha256)`.
pub(crate) fn duplicate_of(ev: &NewEvent, row: (Uuid, i64, Vec<u8>)) -> RecordOutcome {
    let (id, first_seen_at_ms, stored_hash) = row;
    RecordOutcome::Duplicate {
        id,
        first_seen_at_ms,
        body_mismatch: stored_hash.as_slice() != ev.body_sha256.as_slice(),
    }
}
