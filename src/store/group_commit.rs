//! Group commit: many concurrent writes, few transactions.
//!
//! Requests put their events on a bounded queue and wait for their own answer; the dispatcher
//! puts the results of its delivery attempts (completions) on the same queue. A writer task
//! takes the first waiting job, drains whatever else is already queued (up to `max_batch`
//! jobs, without waiting for more: waiting costs more throughput than it gains), writes it all
//! in one transaction through a [`BatchWriter`] — inbox rows, their deliveries, and the
//! attempts — and answers each job with its own outcome. One commit (one fsync on SQLite)
//! serves ingest and dispatch alike. The writer runs on a thread of its own, apart from the
//! server's runtime, on both engines ([`GroupCommit::spawn_thread`] for SQLite,
//! [`GroupCommit::spawn_runtime_thread`] for Postgres).
//!
//! If the transaction fails, every job in it gets the error and nothing of it is committed: no
//! request is ever acknowledged for a write that did not commit, and a completion that was not
//! written only means its lease lapses and the delivery is made again. A full queue answers
//! ingest `Overloaded` at once instead of queueing without bound; completions wait for room
//! (there are at most as many as deliveries in flight).

use super::handoff::{HandOff, HandOffBatch};
use super::{Completion, NewEvent, RecordOutcome, StoreError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex};

/// What one batch transaction decided: per event (input order) its outcome, per completion
/// whether it was applied (`false`: the lease was lost to another dispatcher).
pub struct BatchResult {
    pub outcomes: Vec<RecordOutcome>,
    pub applied: Vec<bool>,
}

/// Writes one batch in a single transaction. Outcomes are in input order, and a repeat inside
/// the batch resolves as it would in sequence (the first wins). Delivery rows for accepted
/// events are planned through `handoff` (leased to this process where it has room).
#[async_trait]
pub trait BatchWriter: Send + Sync + 'static {
    async fn write_batch(
        &self,
        events: &[NewEvent],
        completions: &[Completion],
        handoff: &mut HandOffBatch,
    ) -> Result<BatchResult, StoreError>;
}

/// [`BatchWriter`] for an engine that runs in-process (SQLite): it owns its connection and
/// runs on a thread of its own, so a batch costs no hop between threads per statement.
pub trait BlockingBatchWriter: Send + 'static {
    fn write_batch(
        &mut self,
        events: &[NewEvent],
        completions: &[Completion],
        handoff: &mut HandOffBatch,
    ) -> Result<BatchResult, StoreError>;
}

type RecordReply = oneshot::Sender<Result<Vec<RecordOutcome>, StoreError>>;
type CompleteReply = oneshot::Sender<Result<bool, StoreError>>;

enum Job {
    Record {
        events: Vec<NewEvent>,
        reply: RecordReply,
    },
    Complete {
        completion: Completion,
        reply: CompleteReply,
    },
}

/// The queue in front of the writer task(s). Cloning shares the queue.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Start `writers` writer tasks on a thread of their own, with a runtime of their own,
    /// for an engine reached over the network (Postgres). `make_writer` runs on that thread,
    /// so the connections the writer opens belong to its runtime: a batch's answer from the
    /// server wakes the writer at once, instead of queueing behind every request task on
    /// the server's runtime. The commit chain is the gateway's one serial path; a writer
    /// task that waited its turn on a busy runtime left the server idle between batches
    /// (docs/performance.md). The thread ends when the last handle to the queue is dropped.
    pub fn spawn_runtime_thread<W: BatchWriter>(
        name: &str,
        make_writer: impl FnOnce() -> W + Send + 'static,
        writers: usize,
        max_batch: usize,
        queue_depth: usize,
        write_timeout: Duration,
        handoff: Option<HandOff>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(queue_depth.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let handoff = handoff.map(Arc::new);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                runtime.block_on(async move {
                    let writer: Arc<dyn BatchWriter> = Arc::new(make_writer());
                    let loops = (0..writers.max(1)).map(|_| {
                        writer_loop(
                            writer.clone(),
                            rx.clone(),
                            max_batch.max(1),
                            write_timeout,
                            handoff.clone(),
                        )
                    });
                    futures::future::join_all(loops).await;
                    // The writer (and its connections) goes while its runtime still runs.
                    drop(writer);
                });
            })?;
        Ok(GroupCommit { queue: tx })
    }

    /// Start one writer on a dedicated thread. There is no write timeout there (a thread
    /// cannot be cancelled): the engine's busy timeout bounds lock waits, and each request
    /// still stops waiting after `store.timeout`.
    pub fn spawn_thread(
        name: &str,
        mut writer: impl BlockingBatchWriter,
        max_batch: usize,
        queue_depth: usize,
        handoff: Option<HandOff>,
    ) -> std::io::Result<Self> {
        let (tx, mut rx) = mpsc::channel::<Job>(queue_depth.max(1));
        let handoff = handoff.map(Arc::new);
        let max_batch = max_batch.max(1);
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut jobs = Vec::with_capacity(max_batch);
                while let Some(first) = rx.blocking_recv() {
                    jobs.push(first);
                    while jobs.len() < max_batch {
                        match rx.try_recv() {
                            Ok(job) => jobs.push(job),
                            Err(_) => break,
                        }
                    }
                    let mut batch = Drained::new(jobs.drain(..), handoff.as_ref());
                    let result =
                        writer.write_batch(&batch.events, &batch.completions, &mut batch.handoff);
                    batch.answer(result);
                }
            })?;
        Ok(GroupCommit { queue: tx })
    }

    /// Record one request's events; resolves when they are committed (or failed).
    pub async fn record(&self, events: Vec<NewEvent>) -> Result<Vec<RecordOutcome>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job::Record { events, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => stopped(),
            })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Record one delivery attempt with the next batch; resolves when it is committed.
    pub async fn complete(&self, completion: Completion) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job::Complete { completion, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("store writer has stopped".into())
}

/// The jobs of one batch, split into what the writer writes and whom to answer.
struct Drained {
    events: Vec<NewEvent>,
    record_replies: Vec<(RecordReply, usize)>,
    completions: Vec<Completion>,
    complete_replies: Vec<CompleteReply>,
    handoff: HandOffBatch,
}

impl Drained {
    fn new(jobs: impl Iterator<Item = Job>, handoff: Option<&Arc<HandOff>>) -> Self {
        let mut d = Drained {
            events: Vec::new(),
            record_replies: Vec::new(),
            completions: Vec::new(),
            complete_replies: Vec::new(),
            handoff: match handoff {
                Some(h) => h.batch(),
                None => HandOffBatch::none(),
            },
        };
        // A request that gave up (timeout, client gone) still gets its events written: the
        // provider will retry and be answered as a duplicate, so nothing is lost either way.
        for job in jobs {
            match job {
                Job::Record { events, reply } => {
                    d.record_replies.push((reply, events.len()));
                    d.events.extend(events);
                }
                Job::Complete { completion, reply } => {
                    d.completions.push(completion);
                    d.complete_replies.push(reply);
                }
            }
        }
        d
    }

    /// Answer every job with its own part of `result`, then hand off what was committed. The
    /// requests go first: their answers are what the clients wait for, while the deliveries
    /// are the dispatcher's to start, and building them costs the writer more than answering.
    fn answer(self, result: Result<BatchResult, StoreError>) {
        match result {
            Ok(BatchResult { outcomes, applied }) => {
                let mut rest = outcomes.into_iter();
                for (reply, len) in self.record_replies {
                    let mine: Vec<RecordOutcome> = rest.by_ref().take(len).collect();
                    let _ = reply.send(Ok(mine));
                }
                for (reply, ok) in self.complete_replies.into_iter().zip(applied) {
                    let _ = reply.send(Ok(ok));
                }
                self.handoff.send(self.events);
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = self.record_replies.len(), attempts = self.complete_replies.len(), "group commit failed; answering 503");
                for (reply, _) in self.record_replies {
                    let _ = reply.send(Err(e.clone()));
                }
                for reply in self.complete_replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

async fn writer_loop(
    writer: Arc<dyn BatchWriter>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_batch: usize,
    write_timeout: Duration,
    handoff: Option<Arc<HandOff>>,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    loop {
        {
            let mut rx = queue.lock().await;
            // Whatever is queued now, up to the limit, without waiting for more.
            if rx.recv_many(&mut jobs, max_batch).await == 0 {
                return; // every sender is gone: the store was dropped
            }
        }
        let mut batch = Drained::new(jobs.drain(..), handoff.as_ref());
        // A stalled connection must not wedge the writer: past the timeout the transaction is
        // dropped (rolled back, connection discarded) and its requests get 503.
        let result = tokio::time::timeout(
            write_timeout,
            writer.write_batch(&batch.events, &batch.completions, &mut batch.handoff),
        )
        .await
        .unwrap_or(Err(StoreError::Timeout));
        batch.answer(result);
    }
}
