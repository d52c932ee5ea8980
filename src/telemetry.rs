//! Logging setup: human-readable text or one JSON object per line.
//!
//! `RUST_LOG` overrides the configured level. Nothing on the request path logs bodies,
//! signatures or secrets; spans carry the source, the event id and the request id.

use crate::config::{LogConfig, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Keeps the log writer running; dropping it writes out what is still queued. Hold it for as
/// long as the process logs.
pub struct LogGuard(#[allow(dead_code)] tracing_appender::non_blocking::WorkerGuard);

/// Install the subscriber. Lines are formatted where they are logged and written by a thread
/// of their own through a buffer that is flushed whenever the queue runs dry: under load that
/// is one `write` per batch of lines instead of one per line (the per-request `ingest decision`
/// line cost 10–15% of ingest throughput when each was its own syscall). Nothing is dropped:
/// when the queue (`LOG_QUEUE_LINES`) is full, loggers wait. A crash loses at most the lines
/// still queued; a normal exit writes them out when the guard drops.
pub fn init(cfg: &LogConfig) -> LogGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(cfg.level.clone()));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("hookgate-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ));
    // Colours only for a person at a terminal, never into files or log collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer)
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
    LogGuard(guard)
}

/// Lines that may wait for the log writer before loggers block.
const LOG_QUEUE_LINES: usize = 64 * 1024;

/// mimalloc's settings for a server that should give memory back promptly: its arenas are
/// committed as they are used rather than up front, and free pages go back to the OS 50 ms
/// after they were freed. With mimalloc's defaults the gateway's peak RSS under the benchmark
/// load was 40–65 MiB; with these it stays near 20–35 MiB. The delay is what the request
/// path can afford: at 0 (pages returned at once) every burst of frees was an `madvise` and
/// the next allocations page faults, TLB shootdowns included, 3–4 µs of CPU per request,
/// for no lower peak (docs/performance.md). An operator's own `MIMALLOC_*` values win.
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
