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
pub mod handoff;
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

/// A delivery row as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredDelivery {
    pub id: Uuid,
    pub event: Uuid,
    pub handler: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at_ms: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One recorded delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttemptRecord {
    pub attempt: i32,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    pub status: Option<i32>,
    pub error: Option<String>,
    /// `delivered`, `retry` or `dead`.
    pub outcome: String,
}

/// A delivery claimed by a dispatcher, with what the sink needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: Uuid,
    pub handler: String,
    /// Attempts already made (this one is `attempts + 1`).
    pub attempts: i32,
    /// Proof of the lease; completing needs it, so a dispatcher whose lease lapsed cannot
    /// overwrite the outcome of the one that took over.
    pub lease_token: Uuid,
    /// When the lease lapses (Unix ms); an attempt must not start after it.
    pub lease_until_ms: i64,
    pub created_at_ms: i64,
    pub event: EventSummary,
    pub body: Bytes,
    pub headers: serde_json::Value,
    /// When this process's dispatcher got it (handed off or claimed): how long it then waits
    /// in the lane for an attempt is what the handler's concurrency limit follows.
    pub queued_at: std::time::Instant,
}

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextState {
    Delivered,
    RetryAt { at_ms: i64 },
    Dead,
}

impl NextState {
    /// The delivery row's `state` and `next_attempt_at` after this outcome.
    pub fn stored(&self, now_ms: i64) -> (&'static str, i64) {
        match self {
            NextState::Delivered => ("delivered", now_ms),
            NextState::RetryAt { at_ms } => ("pending", *at_ms),
            NextState::Dead => ("dead", now_ms),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            NextState::Delivered => "delivered",
            NextState::RetryAt { .. } => "retry",
            NextState::Dead => "dead",
        }
    }
}

/// The result of one attempt, as the dispatcher records it.
#[derive(Debug, Clone)]
pub struct Completion {
    pub delivery: Uuid,
    pub lease_token: Uuid,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub next: NextState,
}

/// A handler's operator-set state as stored (shared by every replica).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HandlerPause {
    pub handler: String,
    /// When it was paused (Unix ms).
    pub paused_at_ms: i64,
}

/// Live delivery counts of one handler.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HandlerHealth {
    pub handler: String,
    /// Due or waiting, never attempted yet.
    pub pending: i64,
    /// Pending after at least one failed attempt.
    pub retrying: i64,
    pub dead: i64,
    pub delivered: i64,
    /// When the oldest undelivered (pending or retrying) delivery was created (Unix ms).
    pub oldest_pending_created_ms: Option<i64>,
}

/// An inbox row without its body, for listings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventSummary {
    pub id: Uuid,
    pub source: String,
    pub event_id: String,
    pub event_type: Option<String>,
    pub received_at_ms: i64,
    pub duplicate_count: i64,
    pub mismatch_count: i64,
    /// Where the event's deliveries stand (filled by [`Store::list_events`] only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<DeliveryCounts>,
}

/// How many of one event's deliveries are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryCounts {
    /// Pending, never attempted.
    pub pending: i64,
    /// Pending after at least one failed attempt.
    pub retrying: i64,
    pub delivered: i64,
    pub dead: i64,
}

/// The `status` filter of event listings: what happened to an event after it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Repeated at least once.
    Duplicated,
    /// Repeated at least once with a different body.
    Mismatched,
    /// Has a delivery waiting for its first attempt.
    Pending,
    /// Has a delivery waiting for a retry after a failed attempt.
    Retrying,
    /// Has a dead delivery.
    Dead,
    /// Has deliveries, and all of them are delivered.
    Delivered,
}

impl EventStatus {
    /// The SQL condition on an `inbox` row (aliased `inbox`), the same in both dialects.
    pub(crate) fn sql_condition(self) -> String {
        let any = |state: DeliveryState| {
            format!(
                "EXISTS (SELECT 1 FROM deliveries d WHERE d.event = inbox.id AND {})",
                state.sql_condition()
            )
        };
        match self {
            EventStatus::Duplicated => "inbox.duplicate_count > 0".into(),
            EventStatus::Mismatched => "inbox.mismatch_count > 0".into(),
            EventStatus::Pending => any(DeliveryState::Pending),
            EventStatus::Retrying => any(DeliveryState::Retrying),
            EventStatus::Dead => any(DeliveryState::Dead),
            EventStatus::Delivered => format!(
                "EXISTS (SELECT 1 FROM deliveries d WHERE d.event = inbox.id) \
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event = inbox.id AND NOT ({}))",
                DeliveryState::Delivered.sql_condition()
            ),
        }
    }
}

/// Where one delivery stands, as operators see it. The store keeps `state` (`pending`,
/// `delivered`, `dead`) and `attempts`; a pending delivery with failed attempts behind it is
/// *retrying*. This is the one place that derives it, in Rust ([`DeliveryState::of`]) and in
/// SQL ([`DeliveryState::sql_condition`]); listings, counts and filters all go through it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first attempt.
    Pending,
    /// Waiting for a retry after at least one failed attempt.
    Retrying,
    Delivered,
    /// Out of attempts (or past its age limit); waits for an operator's retry.
    Dead,
}

impl DeliveryState {
    /// From the stored columns.
    pub fn of(state: &str, attempts: i32) -> DeliveryState {
        match state {
            "delivered" => DeliveryState::Delivered,
            "dead" => DeliveryState::Dead,
            _ if attempts > 0 => DeliveryState::Retrying,
            _ => DeliveryState::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    /// The SQL condition on a `deliveries` row aliased `d`, the same in both dialects.
    pub(crate) fn sql_condition(self) -> &'static str {
        match self {
            DeliveryState::Pending => "d.state = 'pending' AND d.attempts = 0",
            DeliveryState::Retrying => "d.state = 'pending' AND d.attempts > 0",
            DeliveryState::Delivered => "d.state = 'delivered'",
            DeliveryState::Dead => "d.state = 'dead'",
        }
    }
}

/// The columns of an event listing: the summary plus per-state delivery counts (both dialects).
pub(crate) fn list_columns() -> String {
    let count = |state: DeliveryState| {
        format!(
            "(SELECT COUNT(*) FROM deliveries d WHERE d.event = inbox.id AND {}) AS d_{}",
            state.sql_condition(),
            state.as_str()
        )
    };
    format!(
        "inbox.id, inbox.source, inbox.event_id, inbox.event_type, inbox.received_at, \
         inbox.duplicate_count, inbox.mismatch_count, {}, {}, {}, {}",
        count(DeliveryState::Pending),
        count(DeliveryState::Retrying),
        count(DeliveryState::Delivered),
        count(DeliveryState::Dead)
    )
}

/// The per-handler live counts of [`Store::delivery_health`], the same in both dialects.
pub(crate) fn delivery_health_sql() -> String {
    let sum = |state: DeliveryState| {
        format!(
            "CAST(SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS BIGINT) AS {}",
            state.sql_condition(),
            state.as_str()
        )
    };
    format!(
        "SELECT d.handler AS handler, {}, {}, {}, {}, \
         MIN(CASE WHEN d.state = 'pending' THEN d.created_at END) AS oldest \
         FROM deliveries d GROUP BY d.handler ORDER BY d.handler",
        sum(DeliveryState::Pending),
        sum(DeliveryState::Retrying),
        sum(DeliveryState::Dead),
        sum(DeliveryState::Delivered)
    )
}

/// Filters for listing deliveries or retrying dead ones; unset fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub handler: Option<String>,
    pub state: Option<DeliveryState>,
    /// The event's source.
    pub source: Option<String>,
    /// The provider's event id.
    pub event_id: Option<String>,
    /// The event was received at or after (Unix ms).
    pub from_ms: Option<i64>,
    /// The event was received before (Unix ms).
    pub to_ms: Option<i64>,
}

/// The columns of a delivery listing: the delivery (aliased `d`) and its event (`i`).
pub(crate) const DELIVERY_INFO_COLUMNS: &str = "d.id, d.event, d.handler, d.state, d.attempts, \
     d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.updated_at, \
     i.source, i.event_id, i.event_type, i.received_at";

/// The columns of `delivery_attempts` that record an attempt.
macro_rules! attempt_columns {
    () => {
        "attempt, started_at, duration_ms, status, error, outcome"
    };
}
/// The columns of a delivery's row that hold its latest attempt, in the order of
/// [`attempt_columns`]: moving the held attempt into `delivery_attempts` inserts these into
/// those.
macro_rules! held_attempt_columns {
    () => {
        "last_attempt, last_started_at, last_duration_ms, last_status, last_error, last_outcome"
    };
}
pub(crate) use {attempt_columns, held_attempt_columns};

/// Every attempt of one delivery (bound as the first parameter), in order: the attempts in
/// `delivery_attempts`, then the latest one, which the delivery's row holds (a completion
/// moves the attempt the row held into `delivery_attempts` before the row takes the new
/// one). Shared by both engines.
pub(crate) const ATTEMPTS_OF_SQL: &str = concat!(
    "SELECT ",
    attempt_columns!(),
    " FROM ( \
     SELECT 0 AS held, id AS seq, ",
    attempt_columns!(),
    " FROM delivery_attempts WHERE delivery = $1 \
     UNION ALL \
     SELECT 1, 0, ",
    held_attempt_columns!(),
    " FROM deliveries WHERE id = $1 AND last_attempt IS NOT NULL) AS a \
     ORDER BY held, seq"
);

/// Append the conditions of `filter` to a query over `deliveries d JOIN inbox i` that already
/// has a `WHERE` clause. Shared by both engines so they filter identically.
pub(crate) fn push_delivery_filter<'a, DB>(
    qb: &mut sqlx::QueryBuilder<'a, DB>,
    filter: &DeliveryFilter,
) where
    DB: sqlx::Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    if let Some(h) = &filter.handler {
        qb.push(" AND d.handler = ").push_bind(h.clone());
    }
    if let Some(state) = filter.state {
        qb.push(" AND ").push(state.sql_condition());
    }
    if let Some(s) = &filter.source {
        qb.push(" AND i.source = ").push_bind(s.clone());
    }
    if let Some(e) = &filter.event_id {
        qb.push(" AND i.event_id = ").push_bind(e.clone());
    }
    if let Some(f) = filter.from_ms {
        qb.push(" AND i.received_at >= ").push_bind(f);
    }
    if let Some(t) = filter.to_ms {
        qb.push(" AND i.received_at < ").push_bind(t);
    }
}

/// A delivery with where it stands and which event it carries, for the deliveries API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryInfo {
    pub id: Uuid,
    pub event: Uuid,
    pub handler: String,
    pub state: DeliveryState,
    /// Attempts in the current cycle (a retry or replay restarts it at 0).
    pub attempts: i32,
    pub next_attempt_at_ms: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// Start of the current delivery cycle.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub source: String,
    pub event_id: String,
    pub event_type: Option<String>,
    pub received_at_ms: i64,
}

/// One per-minute counter row of the stats table: `value` is added to what is stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatsRow {
    /// Unix ms of the minute's start (or of the bucket's start, in query results).
    pub minute_ms: i64,
    /// `source` or `handler` (see [`crate::stats`]).
    pub scope: String,
    pub name: String,
    pub counter: String,
    pub value: i64,
}

/// Filters for listing or replaying events; unset fields match everything.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct EventFilter {
    pub source: Option<String>,
    /// Exact type, or a `prefix.*` pattern.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    /// Received at or after (Unix ms).
    pub from_ms: Option<i64>,
    /// Received before (Unix ms).
    pub to_ms: Option<i64>,
    pub status: Option<EventStatus>,
}

impl EventFilter {
    /// The `LIKE`/equality form of the type filter: (`exact`, `prefix`).
    pub(crate) fn type_match(&self) -> (Option<&str>, Option<String>) {
        match self.event_type.as_deref() {
            None | Some("*") => (None, None),
            Some(t) => match t.strip_suffix('*') {
                Some(prefix) => (
                    None,
                    Some(
                        prefix
                            .replace('\\', "\\\\")
                            .replace('%', "\\%")
                            .replace('_', "\\_")
                            + "%",
                    ),
                ),
                None => (Some(t), None),
            },
        }
    }
}

/// Append the conditions of `filter` to a query that already has a `WHERE` clause. Shared by
/// both engines so they filter identically; only the cursor's type differs between them.
pub(crate) fn push_event_filter<'a, DB>(qb: &mut sqlx::QueryBuilder<'a, DB>, filter: &EventFilter)
where
    DB: sqlx::Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    if let Some(s) = &filter.source {
        qb.push(" AND source = ").push_bind(s.clone());
    }
    let (exact, prefix) = filter.type_match();
    if let Some(t) = exact {
        qb.push(" AND event_type = ").push_bind(t.to_string());
    }
    if let Some(p) = prefix {
        qb.push(" AND event_type LIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\'");
    }
    if let Some(e) = &filter.event_id {
        qb.push(" AND event_id = ").push_bind(e.clone());
    }
    if let Some(f) = filter.from_ms {
        qb.push(" AND received_at >= ").push_bind(f);
    }
    if let Some(t) = filter.to_ms {
        qb.push(" AND received_at < ").push_bind(t);
    }
    if let Some(status) = filter.status {
        qb.push(" AND ").push(status.sql_condition());
    }
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

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
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

    /// Bytes of request bodies waiting for the writer or in the batch being written, against
    /// `store.queue_bytes` ([`group_commit`]).
    fn queued_body_bytes(&self) -> usize;

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

    /// Claim up to `limit` due deliveries of `handler` under a lease until `lease_until_ms`.
    /// Claims never hold a transaction open beyond the claim itself.
    async fn claim_due(
        &self,
        handler: &str,
        limit: i64,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Record attempts and move their deliveries to their next states, all in one
    /// transaction. Per completion, `false` when the lease was lost (another dispatcher owns
    /// the delivery now); nothing is changed for that one then.
    async fn complete(&self, batch: &[Completion]) -> Result<Vec<bool>, StoreError>;

    /// Record one attempt with the next group commit (sharing its transaction with ingest and
    /// other attempts). `false` when the lease was lost.
    async fn complete_attempt(&self, completion: Completion) -> Result<bool, StoreError>;

    /// Make `event` due again for each of `handlers` (re-opening delivered or dead
    /// deliveries, creating missing ones). Returns how many deliveries were queued.
    async fn requeue(
        &self,
        event: Uuid,
        handlers: &[String],
        now_ms: i64,
    ) -> Result<u64, StoreError>;

    /// Make the dead deliveries matching `filter` (whose `state` is ignored: only dead ones
    /// are touched) due again with a fresh attempt budget. Returns how many.
    async fn retry_dead(&self, filter: &DeliveryFilter, now_ms: i64) -> Result<u64, StoreError>;

    /// Deliveries matching `filter`, newest first (by delivery id, which never changes),
    /// strictly older than the `before` cursor.
    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<DeliveryInfo>, StoreError>;

    /// One delivery by id.
    async fn delivery(&self, id: Uuid) -> Result<Option<DeliveryInfo>, StoreError>;

    /// Make one delivery, whatever its state, due now with a fresh attempt budget (a
    /// delivered one is sent again, with the same idempotency key; an attempt in flight loses
    /// its lease, so its outcome is not recorded). `false` when there is no such delivery.
    async fn retry_delivery(&self, id: Uuid, now_ms: i64) -> Result<bool, StoreError>;

    /// Events matching `filter`, newest first, strictly older than the `before` cursor.
    async fn list_events(
        &self,
        filter: &EventFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<EventSummary>, StoreError>;

    /// Live counts per handler (handlers with no deliveries are absent).
    async fn delivery_health(&self) -> Result<Vec<HandlerHealth>, StoreError>;

    /// Every recorded attempt of one delivery, in order ([`ATTEMPTS_OF_SQL`]).
    async fn attempts_of(&self, delivery: Uuid) -> Result<Vec<AttemptRecord>, StoreError>;

    /// Number of inbox rows (for tests and stats).
    async fn count_events(&self) -> Result<i64, StoreError>;

    /// Delete up to `limit` inbox rows received before `cutoff_ms` that have no pending
    /// delivery. Returns how many were deleted.
    async fn purge_expired(&self, cutoff_ms: i64, limit: i64) -> Result<u64, StoreError>;

    /// Remember a single-use token of `source` seen with a body of `body_sha256`. `true` when
    /// the token is new or comes again with the same body (a retry); `false` when it was seen
    /// with a different body (a signature lifted onto another body).
    async fn claim_replay_token(
        &self,
        source: &str,
        token: &str,
        body_sha256: &[u8; 32],
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Forget replay tokens seen before `cutoff_ms`.
    async fn purge_replay_tokens(&self, cutoff_ms: i64) -> Result<u64, StoreError>;

    /// Keep `secret` as the signing secret `source`'s provider handed over in its handshake
    /// (Asana `X-Hook-Secret`) unless one is stored already: the first hand-over wins. Returns
    /// the stored secret (this one, or the earlier one).
    async fn hand_over_secret(
        &self,
        source: &str,
        secret: &[u8],
        now_ms: i64,
    ) -> Result<Vec<u8>, StoreError>;

    /// The handed-over signing secret of `source`, if one is stored.
    async fn handed_over_secret(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Forget `source`'s handed-over secret (an operator's reset, before the webhook is
    /// created again). `true` when there was one.
    async fn forget_handed_over_secret(&self, source: &str) -> Result<bool, StoreError>;

    /// Add each row's value to the stored counter of its (minute, scope, name, counter),
    /// creating it if needed, in one transaction. Additive, so every replica flushes its own
    /// counts and the figures add up.
    async fn add_stats(&self, rows: &[StatsRow]) -> Result<(), StoreError>;

    /// Counters of the minutes in `[from_ms, to_ms)`, summed per bucket of `bucket_ms` (a
    /// multiple of a minute): `minute_ms` of each result row is its bucket's start.
    async fn stats_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<StatsRow>, StoreError>;

    /// Delete the counters of minutes before `cutoff_ms`. Returns how many rows were deleted.
    async fn purge_stats(&self, cutoff_ms: i64) -> Result<u64, StoreError>;

    /// Pause (`true`) or resume (`false`) a handler for every replica. Pausing a paused
    /// handler keeps its original `paused_at`.
    async fn set_handler_paused(
        &self,
        handler: &str,
        paused: bool,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// The handlers paused right now.
    async fn paused_handlers(&self) -> Result<Vec<HandlerPause>, StoreError>;

    /// Give back leases unattempted: each (delivery, lease token) whose token still matches
    /// is due again at once for any dispatcher, with its attempt count unchanged. Returns how
    /// many were released.
    async fn release_leases(&self, leases: &[(Uuid, Uuid)]) -> Result<u64, StoreError>;
}

/// Open the store named by `cfg.url`, apply migrations, and start its writer.
pub async fn open(cfg: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    open_with(cfg, None).await
}

/// [`open`], handing newly committed deliveries to this process's dispatcher lanes.
pub async fn open_with(
    cfg: &StoreConfig,
    handoff: Option<handoff::HandOff>,
) -> Result<Arc<dyn Store>, StoreError> {
    if cfg.url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(cfg, handoff).await?))
    } else if cfg.url.starts_with("postgres:") || cfg.url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PostgresStore::open(cfg, handoff).await?))
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

/// The stored row an engine's batch upsert answered for one (source, event id): the new row
/// if the batch inserted it, else the original.
#[derive(Debug, Clone)]
pub(crate) struct KeyRow {
    pub id: Uuid,
    pub received_at_ms: i64,
    pub body_sha256: [u8; 32],
}

/// Counters that later occurrences of a key inside one batch add to its row (the engine's
/// upsert already counted a first occurrence that hit an existing row).
#[derive(Debug)]
pub(crate) struct RepeatCount<'a> {
    pub source: &'a str,
    pub event_id: &'a str,
    pub n: i64,
    pub mismatches: i64,
    pub last_at_ms: i64,
}

/// A delivery row to insert with a newly accepted event; `leased` when it is handed straight
/// to this process's dispatcher.
pub(crate) struct NewDelivery<'a> {
    pub id: Uuid,
    pub event: &'a NewEvent,
    pub handler: &'a str,
    pub lease: Option<(Uuid, i64)>,
}

/// How an engine writes one group-commit batch, in both dialects alike: the first occurrence
/// of each key goes into one multi-row upsert (`ON CONFLICT … DO UPDATE` counting the repeat,
/// `RETURNING` the row); every later occurrence in the batch is a repeat of whatever that
/// decided — the first wins, as in sequence — and is counted with one more statement. No
/// statement per event, and a repeat costs no write of its own.
pub(crate) struct BatchPlan {
    /// Indexes of each key's first occurrence, in input order.
    pub firsts: Vec<usize>,
    /// Indexes of later occurrences.
    pub extras: Vec<usize>,
}

impl BatchPlan {
    pub fn new(events: &[NewEvent]) -> Self {
        let mut seen: std::collections::HashSet<(&str, &str)> =
            std::collections::HashSet::with_capacity(events.len());
        let (mut firsts, mut extras) = (Vec::with_capacity(events.len()), Vec::new());
        for (i, ev) in events.iter().enumerate() {
            if seen.insert((ev.source.as_str(), ev.event_id.as_str())) {
                firsts.push(i);
            } else {
                extras.push(i);
            }
        }
        BatchPlan { firsts, extras }
    }

    /// Outcomes in input order from the rows the upsert returned (keyed by source and event
    /// id), and the counters the in-batch repeats add.
    pub fn resolve<'a>(
        &self,
        events: &'a [NewEvent],
        rows: &std::collections::HashMap<(&'a str, &'a str), KeyRow>,
    ) -> Result<(Vec<RecordOutcome>, Vec<RepeatCount<'a>>), StoreError> {
        let row_of = |ev: &'a NewEvent| {
            rows.get(&(ev.source.as_str(), ev.event_id.as_str()))
                .ok_or_else(|| StoreError::Unavailable("batch upsert returned no row".into()))
        };
        let mut outcomes: Vec<Option<RecordOutcome>> = vec![None; events.len()];
        for &i in &self.firsts {
            let ev = &events[i];
            let row = row_of(ev)?;
            outcomes[i] = Some(if row.id == ev.id {
                RecordOutcome::Accepted { id: ev.id }
            } else {
                duplicate_of(ev, row)
            });
        }
        let mut counts: Vec<RepeatCount<'a>> = Vec::new();
        for &i in &self.extras {
            let ev = &events[i];
            let row = row_of(ev)?;
            let outcome = duplicate_of(ev, row);
            let mismatch = matches!(
                outcome,
                RecordOutcome::Duplicate {
                    body_mismatch: true,
                    ..
                }
            );
            outcomes[i] = Some(outcome);
            match counts
                .iter_mut()
                .find(|c| c.source == ev.source && c.event_id == ev.event_id)
            {
                Some(c) => {
                    c.n += 1;
                    c.mismatches += i64::from(mismatch);
                    c.last_at_ms = c.last_at_ms.max(ev.received_at_ms);
                }
                None => counts.push(RepeatCount {
                    source: &ev.source,
                    event_id: &ev.event_id,
                    n: 1,
                    mismatches: i64::from(mismatch),
                    last_at_ms: ev.received_at_ms,
                }),
            }
        }
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| StoreError::Unavailable("batch outcome missing".into())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((outcomes, counts))
    }
}

/// An event's kept headers as the JSON text both engines store, written into one buffer
/// (`Value`'s `Display` grows a string from empty, a reallocation every few bytes).
pub(crate) fn headers_json(headers: &serde_json::Value) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "{}".into())
}

/// The outcome for an event that lost the unique-constraint race to the stored `row`.
pub(crate) fn duplicate_of(ev: &NewEvent, row: &KeyRow) -> RecordOutcome {
    RecordOutcome::Duplicate {
        id: row.id,
        first_seen_at_ms: row.received_at_ms,
        body_mismatch: row.body_sha256 != ev.body_sha256,
    }
}
