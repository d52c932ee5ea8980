//! Logging setup: human-readable text or one JSON object per line.
//!
//! `RUST_LOG` overrides the configured level. Nothing on the request path logs bodies,
//! signatures or secrets; spans carry the source, the event id and the request id.

use crate::config::{LogConfig, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init(cfg: &LogConfig) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(cfg.level.clone()));
    // Colours only for a person at a terminal, never into files or log collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
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
}
