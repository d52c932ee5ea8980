//! Group commit: many concurrent `record` calls, few transactions.
//!
//! Requests put their events on a bounded queue and wait for their own answer. A writer task
//! takes the first waiting request, drains whatever else is already queued (up to
//! `max_batch` requests, without waiting for more: waiting costs more throughput than it
//! gains), writes them all in one transaction through a [`BatchWriter`], and answers each
//! request with its own outcomes. If the transaction fails, every request in it gets the
//! error and nothing of it is committed: no request is ever acknowledged for a write that
//! did not commit. A full queue answers `Overloaded` at once instead of queueing unboundedly.

use super::{NewEvent, RecordOutcome, StoreError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Writes one batch of events in a single transaction. Outcomes are in input order, and a
/// repeat inside the batch resolves as it would in sequence (the first wins).
#[async_trait]
pub trait BatchWriter: Send + Sync + 'static {
    async fn write_batch(&self, events: &[NewEvent]) -> Result<Vec<RecordOutcome>, StoreError>;
}

type Reply = oneshot::Sender<Result<Vec<RecordOutcome>, StoreError>>;

struct Job {
    events: Vec<NewEvent>,
    reply: Reply,
}

/// The queue in front of the writer task(s). Cloning shares the queue.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Start `writers` writer tasks (one for SQLite; one or two for Postgres).
    pub fn spawn(
        writer: Arc<dyn BatchWriter>,
        writers: usize,
        max_batch: usize,
        queue_depth: usize,
        write_timeout: Duration,
    ) -> Self {
        let (tx, rx) = mpsc::channel(queue_depth.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            tokio::spawn(writer_loop(
                writer.clone(),
                rx.clone(),
                max_batch.max(1),
                write_timeout,
            ));
        }
        GroupCommit { queue: tx }
    }

    /// Record one request's events; resolves when they are committed (or failed).
    pub async fn record(&self, events: Vec<NewEvent>) -> Result<Vec<RecordOutcome>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job { events, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => {
                    StoreError::Unavailable("store writer has stopped".into())
                }
            })?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("store writer has stopped".into()))?
    }
}

async fn writer_loop(
    writer: Arc<dyn BatchWriter>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_batch: usize,
    write_timeout: Duration,
) {
    loop {
        let jobs = {
            let mut rx = queue.lock().await;
            let Some(first) = rx.recv().await else {
                return; // every sender is gone: the store was dropped
            };
            let mut jobs = vec![first];
            while jobs.len() < max_batch {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            jobs
        };
        // A request that gave up (timeout, client gone) still gets its events written: the
        // provider will retry and be answered as a duplicate, so nothing is lost either way.
        let mut events = Vec::new();
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            replies.push((job.reply, job.events.len()));
            events.extend(job.events);
        }
        // A stalled connection must not wedge the writer: past the timeout the transaction is
        // dropped (rolled back, connection discarded) and its requests get 503.
        let result = tokio::time::timeout(write_timeout, writer.write_batch(&events))
            .await
            .unwrap_or(Err(StoreError::Timeout));
        match result {
            Ok(outcomes) => {
                let mut rest = outcomes.into_iter();
                for (reply, len) in replies {
                    let mine: Vec<RecordOutcome> = rest.by_ref().take(len).collect();
                    let _ = reply.send(Ok(mine));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = replies.len(), "group commit failed; answering 503");
                for (reply, _) in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
