//! `GET /metrics`: Prometheus text exposition of this replica's counters and histograms, plus
//! delivery gauges read from the store at scrape time (see [`crate::stats::prometheus`]).
//!
//! Unauthenticated, like most exporters: it carries only bounded names (sources, handlers,
//! outcomes, reasons) and numbers, never event ids or secrets. Restrict it at the network
//! edge if it must not be public.

use super::AppState;
use crate::store::now_ms;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The content type of the Prometheus text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    let health =
        match tokio::time::timeout(app.settings.store_timeout, app.store.delivery_health()).await {
            Ok(Ok(h)) => Some(h),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: delivery health unavailable");
                None
            }
            Err(_) => {
                tracing::warn!("metrics: delivery health timed out");
                None
            }
        };
    app.stats.metrics().handler_controls(&app.controls);
    app.stats.metrics().body_bytes_held(
        app.settings.body_budget.held(),
        app.store.queued_body_bytes(),
    );
    let body = app
        .stats
        .metrics()
        .render(health.as_deref(), &app.routes.handler_names(), now_ms());
    ([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], body).into_response()
}
