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
//! (there are at most as many as deliveries in flight). The queue is bounded twice
//! ([`QueueLimits`]): by requests, and by the bytes of their bodies ([`crate::budget`]),
//! counted from the moment a request is queued until its batch has been written, so large
//! bodies cannot fill memory when the store stalls.

use super::handoff::{HandOff, HandOffBatch};
use super::{Completion, NewEvent, RecordOutcome, StoreError};
use crate::budget::ByteBudget;
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
        /// What the request holds against [`ByteBudget`], given back once it is written.
        bytes: usize,
        reply: RecordReply,
    },
    Complete {
        completion: Completion,
        reply: CompleteReply,
    },
}

/// How much may wait for the writer before ingest is refused with `Overloaded`
/// (`store.queue_depth`, `store.queue_bytes`).
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    /// Requests and completions in the queue.
    pub depth: usize,
    /// Bytes of request bodies queued or in the batch being written.
    pub bytes: usize,
}

/// What one request's events hold while they wait: the body once (a batch request's events
/// share it) and each event's own id and headers.
fn queued_bytes(events: &[NewEvent]) -> usize {
    let shared = events.first().map_or(0, |e| e.body.len());
    events.iter().fold(shared, |n, e| {
        n + e.event_id.len() + e.source.len() + EVENT_OVERHEAD_BYTES
    })
}

/// Rough per-event cost beyond the body (struct, kept headers, handler list).
const EVENT_OVERHEAD_BYTES: usize = 256;

/// The queue in front of the writer task(s). Cloning shares the queue.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Job>,
    budget: Arc<ByteBudget>,
}

impl GroupCommit {
    /// The queue (bounded by `limits.depth`) with its byte budget (`limits.bytes`), and the
    /// receiving end for the writer.
    fn queue(limits: QueueLimits) -> (Self, mpsc::Receiver<Job>) {
        let (queue, rx) = mpsc::channel(limits.depth.max(1));
        let budget = ByteBudget::new(limits.bytes);
        (GroupCommit { queue, budget }, rx)
    }

    /// Start `writers` writer tasks on a thread of their own, with a runtime of their own,
    /// for an engine reached over the network (Postgres). `make_writer` runs on that thread,
    /// so the connections the writer opens belong to its runtime: a batch's answer from the
    /// server wakes the writer at once, instead of queueing behind every request task on
    /// the server's runtime. The commit chain is the gateway's one serial path; a writer
    /// task that waited its turn on a busy runtime left the server idle between batches
    /// (docs/performance-history.md). The thread ends when the last handle to the queue is dropped.
    pub fn spawn_runtime_thread<W: BatchWriter>(
        name: &str,
        make_writer: impl FnOnce() -> W + Send + 'static,
        writers: usize,
        max_batch: usize,
        limits: QueueLimits,
        write_timeout: Duration,
        handoff: Option<HandOff>,
    ) -> std::io::Result<Self> {
        let (front, rx) = Self::queue(limits);
        let writer_budget = front.budget.clone();
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
                            writer_budget.clone(),
                        )
                    });
                    futures::future::join_all(loops).await;
                    // The writer (and its connections) goes while its runtime still runs.
                    drop(writer);
                });
            })?;
        Ok(front)
    }

    /// Start one writer on a dedicated thread. There is no write timeout there (a thread
    /// cannot be cancelled): the engine's busy timeout bounds lock waits, and each request
    /// still stops waiting after `store.timeout`.
    pub fn spawn_thread(
        name: &str,
        mut writer: impl BlockingBatchWriter,
        max_batch: usize,
        limits: QueueLimits,
        handoff: Option<HandOff>,
    ) -> std::io::Result<Self> {
        let (front, mut rx) = Self::queue(limits);
        let writer_budget = front.budget.clone();
        let handoff = handoff.map(Arc::new);
        let max_batch = max_batch.max(1);
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut jobs = Vec::with_capacity(max_batch);
                let mut carried = None;
                while let Some(first) = carried.take().or_else(|| rx.blocking_recv()) {
                    carried = fill_batch(&mut jobs, first, &mut rx, max_batch);
                    let mut batch = Drained::new(jobs.drain(..), handoff.as_ref());
                    let result =
                        writer.write_batch(&batch.events, &batch.completions, &mut batch.handoff);
                    batch.answer(result, &writer_budget);
                }
            })?;
        Ok(front)
    }

    /// Record one request's events; resolves when they are committed (or failed).
    pub async fn record(&self, events: Vec<NewEvent>) -> Result<Vec<RecordOutcome>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let bytes = queued_bytes(&events);
        if !self.budget.take(bytes) {
            return Err(StoreError::Overloaded);
        }
        let (reply, answer) = oneshot::channel();
        if let Err(e) = self.queue.try_send(Job::Record {
            events,
            bytes,
            reply,
        }) {
            self.budget.give_back(bytes);
            return Err(match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => stopped(),
            });
        }
        answer.await.map_err(|_| stopped())?
    }

    /// Bytes of bodies held against `store.queue_bytes` now.
    pub fn queued_body_bytes(&self) -> usize {
        self.budget.held()
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

/// Most bytes of request bodies in one batch: a stalled store's backlog is written in
/// statements that finish well within `store.timeout` (a 64 MiB statement took over a second
/// here, and one that times out fails every request in it), and the statement the writer
/// encodes stays small.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

impl Job {
    fn bytes(&self) -> usize {
        match self {
            Job::Record { bytes, .. } => *bytes,
            Job::Complete { .. } => 0,
        }
    }
}

/// Start a batch with `first` and add whatever is queued now, without waiting for more, up to
/// `max_batch` jobs and [`MAX_BATCH_BYTES`] (the first job always goes in). A job that would
/// pass the byte bound is returned, to start the next batch.
fn fill_batch(
    jobs: &mut Vec<Job>,
    first: Job,
    rx: &mut mpsc::Receiver<Job>,
    max_batch: usize,
) -> Option<Job> {
    let mut bytes = first.bytes();
    jobs.push(first);
    while jobs.len() < max_batch {
        let Ok(job) = rx.try_recv() else {
            return None;
        };
        bytes += job.bytes();
        if bytes > MAX_BATCH_BYTES {
            return Some(job);
        }
        jobs.push(job);
    }
    None
}

/// The jobs of one batch, split into what the writer writes and whom to answer.
struct Drained {
    events: Vec<NewEvent>,
    /// Held against the [`ByteBudget`] until the batch is answered.
    bytes: usize,
    record_replies: Vec<(RecordReply, usize)>,
    completions: Vec<Completion>,
    complete_replies: Vec<CompleteReply>,
    handoff: HandOffBatch,
}

impl Drained {
    fn new(jobs: impl Iterator<Item = Job>, handoff: Option<&Arc<HandOff>>) -> Self {
        let mut d = Drained {
            events: Vec::new(),
            bytes: 0,
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
                Job::Record {
                    events,
                    bytes,
                    reply,
                } => {
                    d.bytes += bytes;
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
    /// The batch's bytes go back to `budget` once every request has its answer.
    fn answer(self, result: Result<BatchResult, StoreError>, budget: &ByteBudget) {
        let bytes = self.bytes;
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
        budget.give_back(bytes);
    }
}

async fn writer_loop(
    writer: Arc<dyn BatchWriter>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_batch: usize,
    write_timeout: Duration,
    handoff: Option<Arc<HandOff>>,
    budget: Arc<ByteBudget>,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    let mut carried = None;
    loop {
        {
            let mut rx = queue.lock().await;
            let first = match carried.take() {
                Some(job) => job,
                None => match rx.recv().await {
                    Some(job) => job,
                    None => return, // every sender is gone: the store was dropped
                },
            };
            carried = fill_batch(&mut jobs, first, &mut rx, max_batch);
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
        batch.answer(result, &budget);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc as std_mpsc;

    /// A writer that holds each batch until the test lets it go: a stalled store.
    struct GatedWriter {
        gate: std_mpsc::Receiver<()>,
        /// Events per batch, in the order written.
        batches: Arc<std::sync::Mutex<Vec<usize>>>,
    }

    fn gated() -> (
        std_mpsc::Sender<()>,
        GatedWriter,
        Arc<std::sync::Mutex<Vec<usize>>>,
    ) {
        let (open, gate) = std_mpsc::channel();
        let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = GatedWriter {
            gate,
            batches: batches.clone(),
        };
        (open, writer, batches)
    }

    impl BlockingBatchWriter for GatedWriter {
        fn write_batch(
            &mut self,
            events: &[NewEvent],
            _completions: &[Completion],
            _handoff: &mut HandOffBatch,
        ) -> Result<BatchResult, StoreError> {
            let _ = self.gate.recv();
            self.batches.lock().unwrap().push(events.len());
            Ok(BatchResult {
                outcomes: events
                    .iter()
                    .map(|e| RecordOutcome::Accepted { id: e.id })
                    .collect(),
                applied: Vec::new(),
            })
        }
    }

    fn event(id: &str, body_len: usize) -> Vec<NewEvent> {
        vec![NewEvent {
            id: uuid::Uuid::now_v7(),
            source: "s".into(),
            event_id: id.into(),
            event_type: None,
            body: bytes::Bytes::from(vec![b'x'; body_len]),
            headers: serde_json::json!({}),
            body_sha256: [0; 32],
            received_at_ms: 0,
            handlers: Vec::new(),
        }]
    }

    #[tokio::test]
    async fn the_queue_refuses_requests_past_its_byte_bound_until_the_writer_catches_up() {
        let (open, writer, _) = gated();
        let limits = QueueLimits {
            depth: 1000,
            bytes: 100_000,
        };
        let group = GroupCommit::spawn_thread("test-writer", writer, 1, limits, None).unwrap();
        // The first request is in the (stalled) batch, the next two wait in the queue: 90 kB.
        let held: Vec<_> = (0..3)
            .map(|i| {
                let g = group.clone();
                tokio::spawn(async move { g.record(event(&format!("big{i}"), 30_000)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Far below the depth bound, but another 30 kB body would pass 100 kB.
        let refused =
            tokio::time::timeout(Duration::from_secs(1), group.record(event("big3", 30_000)))
                .await
                .expect("refused at once, not queued behind the stalled writer");
        assert!(
            matches!(refused, Err(StoreError::Overloaded)),
            "{refused:?}"
        );
        // A small request still fits.
        let small = {
            let g = group.clone();
            tokio::spawn(async move { g.record(event("small", 1_000)).await })
        };
        for _ in 0..5 {
            open.send(()).unwrap();
        }
        for h in held {
            assert!(h.await.unwrap().is_ok());
        }
        assert!(small.await.unwrap().is_ok());
        // Written batches give their bytes back: the refused request now gets in.
        let again = {
            let g = group.clone();
            tokio::spawn(async move { g.record(event("big3", 30_000)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        open.send(()).unwrap();
        assert!(again.await.unwrap().is_ok());
        assert_eq!(group.budget.held(), 0);
    }

    #[tokio::test]
    async fn a_backlog_of_large_bodies_is_written_in_batches_of_bounded_size() {
        let (open, writer, batches) = gated();
        let limits = QueueLimits {
            depth: 1000,
            bytes: 64 * 1024 * 1024,
        };
        let group = GroupCommit::spawn_thread("test-writer", writer, 256, limits, None).unwrap();
        // One request holds the stalled writer; ten of 3 MiB queue up behind it.
        let first = {
            let g = group.clone();
            tokio::spawn(async move { g.record(event("first", 10)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let queued: Vec<_> = (0..10)
            .map(|i| {
                let g = group.clone();
                tokio::spawn(async move { g.record(event(&format!("big{i}"), 3 << 20)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..20 {
            let _ = open.send(());
        }
        assert!(first.await.unwrap().is_ok());
        for h in queued {
            assert!(h.await.unwrap().is_ok());
        }
        // 8 MiB per batch: two 3 MiB bodies each, not all ten in one statement.
        assert_eq!(*batches.lock().unwrap(), vec![1, 2, 2, 2, 2, 2]);
    }
}
