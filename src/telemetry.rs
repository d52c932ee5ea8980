//! Logging setup: human-readable text or one JSON object per line.
//!
//! `RUST_LOG` overrides the configured level. Nothing on the request path logs bodies,
//! signatures or secrets; spans carry the source, the event id and the request id.

use crate::config::{LogConfig, LogFormat};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Keeps the log writer running; dropping it writes out what is still buffered and stops the
/// writer. Hold it for as long as the process logs.
pub struct LogGuard {
    buffer: Arc<LogBuffer>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.buffer.close();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Install the subscriber. Lines are formatted where they are logged, appended to one
/// in-memory buffer, and written to stdout by a thread of their own every
/// [`FLUSH_INTERVAL`] (or sooner, past [`FLUSH_EARLY_BYTES`]): under load that is one `write`
/// per few hundred lines, and the writer thread wakes ~100 times a second instead of once per
/// line. (A queue of lines with a writer that woke for each one cost the gateway a context
/// switch per request: 8% of its CPU at 20k requests/s, docs/performance-history.md.) Nothing is
/// dropped: past [`MAX_BUFFERED_BYTES`] loggers wait for the writer. A crash loses at most
/// the lines of the last interval; a normal exit writes them out when the guard drops.
pub fn init(cfg: &LogConfig) -> LogGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(cfg.level.clone()));
    let buffer = Arc::new(LogBuffer::default());
    // Without its writer the buffer would fill and every logger would wait for good, so a
    // process that cannot start the thread stops here, at start-up.
    let writer = {
        let buffer = buffer.clone();
        std::thread::Builder::new()
            .name("hookgate-log".into())
            .spawn(move || buffer.write_out(std::io::stdout()))
            .expect("start the log writer thread")
    };
    // Colours only for a person at a terminal, never into files or log collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(LogSink(buffer.clone()))
        .with_ansi(std::io::stdout().is_terminal());
    let _ = match cfg.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            // The current span (method, path, request id) is enough; the full list repeats it.
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    LogGuard {
        buffer,
        writer: Some(writer),
    }
}

/// How long lines may wait in the buffer before they are written.
const FLUSH_INTERVAL: Duration = Duration::from_millis(10);
/// Buffered bytes past which the writer is woken before the interval is up.
const FLUSH_EARLY_BYTES: usize = 256 * 1024;
/// Buffered bytes past which loggers wait for the writer (nothing is dropped).
const MAX_BUFFERED_BYTES: usize = 4 * 1024 * 1024;

/// Formatted log lines waiting to be written.
#[derive(Default)]
struct LogBuffer {
    state: Mutex<LogState>,
    /// The writer waits here for lines (or the early-flush mark, or closing).
    lines: Condvar,
    /// Loggers wait here while the buffer is full.
    room: Condvar,
}

#[derive(Default)]
struct LogState {
    bytes: Vec<u8>,
    closed: bool,
}

impl LogBuffer {
    fn state(&self) -> MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Append one formatted line (or several): whole, never interleaved with another's.
    fn append(&self, line: &[u8]) {
        let mut state = self.state();
        while state.bytes.len() >= MAX_BUFFERED_BYTES && !state.closed {
            state = self.room.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        let before = state.bytes.len();
        state.bytes.extend_from_slice(line);
        let after = state.bytes.len();
        drop(state);
        // Wake the writer when lines arrive in an empty buffer (it may be waiting for any),
        // and when the buffer passes the early-flush mark (it may be waiting out the interval).
        if before == 0 || (before < FLUSH_EARLY_BYTES && after >= FLUSH_EARLY_BYTES) {
            self.lines.notify_one();
        }
    }

    fn close(&self) {
        self.state().closed = true;
        self.lines.notify_one();
        self.room.notify_all();
    }

    /// The writer thread: wait for lines, let more gather for [`FLUSH_INTERVAL`], write them
    /// all out; until closed and empty. A failed write (stdout closed) drops those lines
    /// rather than blocking the loggers.
    fn write_out(&self, mut out: impl Write) {
        let mut spare = Vec::new();
        loop {
            let mut state = self.state();
            while state.bytes.is_empty() && !state.closed {
                state = self.lines.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.bytes.is_empty() {
                return; // closed, and everything written
            }
            if !state.closed && state.bytes.len() < FLUSH_EARLY_BYTES {
                state = self
                    .lines
                    .wait_timeout(state, FLUSH_INTERVAL)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            std::mem::swap(&mut state.bytes, &mut spare);
            drop(state);
            self.room.notify_all();
            let _ = out.write_all(&spare).and_then(|()| out.flush());
            spare.clear();
            // A burst's buffer is not kept for the rest of the process's life.
            spare.shrink_to(FLUSH_EARLY_BYTES);
        }
    }
}

/// [`MakeWriter`] for the subscriber: each event's formatted line goes into the buffer.
struct LogSink(Arc<LogBuffer>);

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = &'a LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        &self.0
    }
}

impl Write for &LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// mimalloc's settings for a server that should give memory back promptly: its arenas are
/// committed as they are used rather than up front, and free pages go back to the OS 50 ms
/// after they were freed. With mimalloc's defaults the gateway's peak RSS under the benchmark
/// load was 40–65 MiB; with these it stays near 20–35 MiB. The delay is what the request
/// path can afford: at 0 (pages returned at once) every burst of frees was an `madvise` and
/// the next allocations page faults, TLB shootdowns included, 3–4 µs of CPU per request,
/// for no lower peak (docs/performance-history.md). An operator's own `MIMALLOC_*` values win.
const ALLOCATOR_ENV: &[(&str, &str)] = &[
    ("MIMALLOC_PURGE_DELAY", "50"),
    ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
];

/// mimalloc reads its settings from the environment once, as the process starts, before
/// `main` could set them: when any is missing, the binary runs itself again (same pid,
/// same arguments) with the missing ones set. Call it first thing in `main`; if the exec fails, the
/// process goes on with mimalloc's defaults.
pub fn ensure_allocator_env() {
    use std::os::unix::process::CommandExt;
    const MARK: &str = "HOOKGATE_ALLOCATOR_ENV";
    if std::env::var_os(MARK).is_some() {
        return;
    }
    let missing: Vec<_> = ALLOCATOR_ENV
        .iter()
        .filter(|(k, _)| std::env::var_os(k).is_none())
        .collect();
    if missing.is_empty() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args_os().skip(1)).env(MARK, "1");
    for (k, v) in missing {
        cmd.env(k, v);
    }
    let err = cmd.exec();
    eprintln!("warning: could not apply the allocator settings ({err}); going on without them");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Output shared with the test; `gate`, when set, holds each write until the test lets it go.
    #[derive(Clone, Default)]
    struct Out {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
        gate: Option<Arc<Mutex<mpsc::Receiver<()>>>>,
    }

    impl Write for Out {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Some(gate) = &self.gate {
                let _ = gate.lock().unwrap().recv();
            }
            *self.writes.lock().unwrap() += 1;
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn start(out: Out) -> (Arc<LogBuffer>, std::thread::JoinHandle<()>) {
        let buffer = Arc::new(LogBuffer::default());
        let b = buffer.clone();
        (buffer, std::thread::spawn(move || b.write_out(out)))
    }

    #[test]
    fn lines_from_many_threads_come_out_whole_in_few_writes() {
        let out = Out::default();
        let (buffer, writer) = start(out.clone());
        let loggers: Vec<_> = (0..4)
            .map(|t| {
                let buffer = buffer.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        (&*buffer)
                            .write_all(
                                format!("thread {t} line {i:05} {}\n", "x".repeat(100)).as_bytes(),
                            )
                            .unwrap();
                    }
                })
            })
            .collect();
        for l in loggers {
            l.join().unwrap();
        }
        buffer.close();
        writer.join().unwrap();
        let text = String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000, "every line is written once");
        for t in 0..4 {
            let mine: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            assert_eq!(mine.len(), 5000);
            for (i, l) in mine.iter().enumerate() {
                assert_eq!(
                    *l,
                    format!("thread {t} line {i:05} {}", "x".repeat(100)),
                    "whole and in order"
                );
            }
        }
        let writes = *out.writes.lock().unwrap();
        assert!(
            writes < 2_000,
            "lines are written in batches, not one by one: {writes} writes"
        );
    }

    #[test]
    fn a_trickle_of_lines_is_written_at_most_once_per_interval() {
        // One line a millisecond: without the interval the writer would wake and write for
        // each of them.
        let out = Out::default();
        let (buffer, writer) = start(out.clone());
        let started = std::time::Instant::now();
        for i in 0..200 {
            (&*buffer)
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        let elapsed = started.elapsed();
        buffer.close();
        writer.join().unwrap();
        let writes = *out.writes.lock().unwrap();
        let intervals = (elapsed.as_millis() / FLUSH_INTERVAL.as_millis()) as usize;
        assert!(
            writes <= intervals + 2,
            "{writes} writes in {elapsed:?}: more than one per {FLUSH_INTERVAL:?}"
        );
        assert_eq!(
            String::from_utf8(out.bytes.lock().unwrap().clone())
                .unwrap()
                .lines()
                .count(),
            200
        );
    }

    #[test]
    fn a_line_is_written_within_the_interval_without_closing() {
        let out = Out::default();
        let (buffer, _writer) = start(out.clone());
        (&*buffer).write_all(b"one line\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while out.bytes.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*out.bytes.lock().unwrap(), b"one line\n");
        buffer.close();
    }

    #[test]
    fn loggers_wait_when_the_output_stalls_and_nothing_is_dropped() {
        let (release, gate) = mpsc::sync_channel(0);
        let out = Out {
            gate: Some(Arc::new(Mutex::new(gate))),
            ..Out::default()
        };
        let (buffer, writer) = start(out.clone());
        let line = vec![b'y'; 64 * 1024];
        let total = MAX_BUFFERED_BYTES * 3;
        let (done_tx, done) = mpsc::channel();
        let logger = {
            let buffer = buffer.clone();
            let line = line.clone();
            std::thread::spawn(move || {
                for _ in 0..total / line.len() {
                    (&*buffer).write_all(&line).unwrap();
                }
                done_tx.send(()).unwrap();
            })
        };
        // The output is stalled: the logger fills the buffer and then waits.
        assert!(
            done.recv_timeout(Duration::from_millis(300)).is_err(),
            "the logger waits"
        );
        let held = buffer.state().bytes.len();
        assert!(
            held <= MAX_BUFFERED_BYTES + line.len(),
            "the buffer stays bounded: {held} bytes"
        );
        // Let the output go: every byte arrives.
        std::thread::spawn(move || while release.send(()).is_ok() {});
        done.recv_timeout(Duration::from_secs(10))
            .expect("the logger goes on");
        logger.join().unwrap();
        buffer.close();
        writer.join().unwrap();
        assert_eq!(out.bytes.lock().unwrap().len(), total);
    }
}
