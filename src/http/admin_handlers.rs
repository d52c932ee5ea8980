//! The handlers part of the admin API: `GET /api/handlers` (every configured handler with its
//! pause, this replica's circuit breaker and its delivery counts) and
//! `POST /api/handlers/{name}/pause|resume`.
//!
//! A pause is written to the store (so every replica and every restart sees it) and put in
//! force in this replica at once; other replicas pick it up within
//! [`crate::dispatch::control::PAUSE_POLL`]. The paused state listed is the stored one; the
//! breaker is this replica's own.

use super::admin::store_error;
use super::extract::ApiPath;
use super::AppState;
use crate::dispatch::breaker::BreakerView;
use crate::error::ApiError;
use crate::store::{now_ms, HandlerHealth, HandlerPause};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use std::sync::Arc;

/// One handler as the API, the CLI and the dashboard show it.
#[derive(Debug, Serialize)]
pub struct HandlerStatus {
    pub name: String,
    pub paused: bool,
    /// When it was paused (Unix ms), while paused.
    pub paused_at_ms: Option<i64>,
    /// This replica's circuit breaker.
    pub breaker: BreakerView,
    pub pending: i64,
    pub retrying: i64,
    pub dead: i64,
    pub delivered: i64,
    pub oldest_pending_created_ms: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct HandlerList {
    pub handlers: Vec<HandlerStatus>,
}

async fn statuses(app: &AppState, only: Option<&str>) -> Result<Vec<HandlerStatus>, ApiError> {
    let paused = app
        .store
        .paused_handlers()
        .await
        .map_err(|e| store_error(app, e))?;
    let health = app
        .store
        .delivery_health()
        .await
        .map_err(|e| store_error(app, e))?;
    Ok(app
        .controls
        .iter()
        .filter(|c| only.is_none_or(|n| n == c.name))
        .map(|c| status_of(&c.name, c.breaker.view(), &paused, &health))
        .collect())
}

fn status_of(
    name: &str,
    breaker: BreakerView,
    paused: &[HandlerPause],
    health: &[HandlerHealth],
) -> HandlerStatus {
    let pause = paused.iter().find(|p| p.handler == name);
    let h = health
        .iter()
        .find(|h| h.handler == name)
        .cloned()
        .unwrap_or_default();
    HandlerStatus {
        name: name.to_string(),
        paused: pause.is_some(),
        paused_at_ms: pause.map(|p| p.paused_at_ms),
        breaker,
        pending: h.pending,
        retrying: h.retrying,
        dead: h.dead,
        delivered: h.delivered,
        oldest_pending_created_ms: h.oldest_pending_created_ms,
    }
}

pub async fn list(State(app): State<Arc<AppState>>) -> Result<Json<HandlerList>, ApiError> {
    Ok(Json(HandlerList {
        handlers: statuses(&app, None).await?,
    }))
}

pub async fn pause(
    State(app): State<Arc<AppState>>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<HandlerStatus>, ApiError> {
    set_paused(&app, &name, true).await
}

pub async fn resume(
    State(app): State<Arc<AppState>>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<HandlerStatus>, ApiError> {
    set_paused(&app, &name, false).await
}

async fn set_paused(
    app: &AppState,
    name: &str,
    paused: bool,
) -> Result<Json<HandlerStatus>, ApiError> {
    let control = app
        .controls
        .get(name)
        .ok_or_else(|| ApiError::UnknownHandler(name.to_string()))?;
    app.store
        .set_handler_paused(name, paused, now_ms())
        .await
        .map_err(|e| store_error(app, e))?;
    let status = statuses(app, Some(name))
        .await?
        .pop()
        .ok_or_else(|| ApiError::UnknownHandler(name.to_string()))?;
    // In force here at once; the other replicas read it from the store.
    control.set_paused_locally(status.paused_at_ms);
    Ok(Json(status))
}
