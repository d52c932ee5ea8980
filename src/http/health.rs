//! Liveness and readiness probes.
//!
//! `/healthz` says the process serves HTTP; `/readyz` says it can take webhooks: the store is
//! reachable, writable and migrated. A load balancer should route on `/readyz`.

use super::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(app): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(app.settings.store_timeout, app.store.ready()).await {
        Ok(Ok(())) => Ok(Json(
            json!({ "status": "ready", "store": app.store.engine() }),
        )),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: store check failed");
            Err(ApiError::Unavailable {
                retry_after: app.settings.retry_after,
            })
        }
        Err(_) => {
            tracing::warn!("not ready: store check timed out");
            Err(ApiError::Unavailable {
                retry_after: app.settings.retry_after,
            })
        }
    }
}
