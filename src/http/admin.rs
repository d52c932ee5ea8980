//! The admin JSON API under `/api` (bearer token from `admin.token`).
//!
//! The token is compared in constant time; without a configured token the API answers 401
//! to everything. Bodies are returned base64-encoded (they are raw bytes), plus as text when
//! they are UTF-8. Secrets never appear: only kept headers are stored in the first place.
//! Its OpenAPI description (`openapi.json`, beside this file) is served without a token at
//! `GET /api/openapi.json`; a test checks that it names every route.

use super::extract::{ApiPath, ApiQuery, OptionalJson};
use super::AppState;
use crate::error::ApiError;
use crate::replay::{self, ReplayError};
use crate::stats::report::{self, ReportInput, StatsReport, StatsWindow};
use crate::store::{now_ms, DeliveryFilter, DeliveryState, EventFilter, EventStatus, StoreError};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Largest page of events or deliveries one call returns; a larger `limit` is refused.
pub const MAX_PAGE: i64 = 500;

/// The page size when `limit` is not given.
pub const DEFAULT_PAGE: i64 = 50;

/// `limit` as given, or the default; outside `1..=MAX_PAGE` it is a 400 (the description
/// caps it, so the code must too).
fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}, not {n}"
        ))),
    }
}

/// A `handler` parameter: absent, or the name of a configured handler (empty is a 400,
/// an unknown name a 404 `unknown_handler`).
fn known_handler(app: &AppState, handler: Option<String>) -> Result<Option<String>, ApiError> {
    match handler {
        None => Ok(None),
        Some(h) if h.is_empty() => Err(ApiError::BadRequest("handler must not be empty".into())),
        Some(h) if !app.routes.contains(&h) => Err(ApiError::UnknownHandler(h)),
        Some(h) => Ok(Some(h)),
    }
}

/// The OpenAPI 3 description of this API.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/stats", get(stats))
        .route("/events", get(list_events))
        .route("/events/{id}", get(event_detail))
        .route("/events/{id}/replay", post(replay_one))
        .route("/replay", post(replay_filtered))
        .route("/deliveries", get(list_deliveries))
        .route("/deliveries/retry", post(retry_matching))
        .route("/deliveries/retry-dead", post(retry_dead))
        .route("/handlers", get(super::admin_handlers::list))
        .route("/handlers/{name}/pause", post(super::admin_handlers::pause))
        .route(
            "/handlers/{name}/resume",
            post(super::admin_handlers::resume),
        )
        .route("/deliveries/{id}", get(delivery_detail))
        .route("/deliveries/{id}/retry", post(retry_one))
        .layer(axum::middleware::from_fn_with_state(state, require_token))
        // Added after the layer: the description of the API is public, its data is not.
        .route("/openapi.json", get(openapi))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

/// Query strings that do not parse are problem+json 400s like every other client error.
#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    /// `1h` (default), `24h` or `7d`.
    window: Option<String>,
}

async fn stats(
    State(app): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Json<StatsReport>, ApiError> {
    let window = match q.window.as_deref() {
        None => StatsWindow::Hour,
        Some(w) => StatsWindow::parse(w).ok_or_else(|| {
            ApiError::BadRequest(format!("unknown window `{w}`; use 1h, 24h or 7d"))
        })?,
    };
    let now = now_ms();
    let (from, to) = window.range(now);
    let rows = app
        .stats
        .window(app.store.as_ref(), from, to, window.bucket_ms())
        .await
        .map_err(|e| store_error(&app, e))?;
    let health = app
        .store
        .delivery_health()
        .await
        .map_err(|e| store_error(&app, e))?;
    let mut sources: Vec<String> = app.sources.names().map(str::to_string).collect();
    sources.sort_unstable();
    let handlers = app.routes.handler_names();
    Ok(Json(report::build(
        &ReportInput {
            window,
            now_ms: now,
            sources: &sources,
            handlers: &handlers,
            health: Some(&health),
        },
        &rows,
    )))
}

async fn require_token(
    State(app): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::as_bytes);
    match (&app.admin_token, presented) {
        (Some(token), Some(p)) if bool::from(token.expose().ct_eq(p)) => Ok(next.run(req).await),
        _ => Err(ApiError::Unauthorized),
    }
}

pub(super) fn store_error(app: &AppState, e: StoreError) -> ApiError {
    tracing::warn!(error = %e, "admin API store failure");
    ApiError::Unavailable {
        retry_after: app.settings.retry_after,
    }
}

fn replay_error(app: &AppState, e: ReplayError) -> ApiError {
    match e {
        ReplayError::UnknownEvent(_) => ApiError::NotFound,
        ReplayError::UnknownHandler(h) => ApiError::UnknownHandler(h),
        ReplayError::Store(e) => store_error(app, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    source: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    event_id: Option<String>,
    /// Unix ms, inclusive.
    from: Option<i64>,
    /// Unix ms, exclusive.
    to: Option<i64>,
    status: Option<EventStatus>,
    /// Cursor: the `next` of the previous page.
    before: Option<Uuid>,
    limit: Option<i64>,
}

async fn list_events(
    State(app): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = page_limit(q.limit)?;
    let filter = EventFilter {
        source: q.source,
        event_type: q.event_type,
        event_id: q.event_id,
        from_ms: q.from,
        to_ms: q.to,
        status: q.status,
    };
    let events = app
        .store
        .list_events(&filter, q.before, limit)
        .await
        .map_err(|e| store_error(&app, e))?;
    let next = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({ "events": events, "next": next })))
}

async fn event_detail(
    State(app): State<Arc<AppState>>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let ev = app
        .store
        .event(id)
        .await
        .map_err(|e| store_error(&app, e))?
        .ok_or(ApiError::NotFound)?;
    let deliveries = app
        .store
        .deliveries_of(id)
        .await
        .map_err(|e| store_error(&app, e))?;
    let mut with_attempts = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let attempts = app
            .store
            .attempts_of(d.id)
            .await
            .map_err(|e| store_error(&app, e))?;
        let mut v = serde_json::to_value(&d).unwrap_or(Value::Null);
        v["attempts_log"] = serde_json::to_value(attempts).unwrap_or(Value::Null);
        with_attempts.push(v);
    }
    Ok(Json(json!({
        "id": ev.id,
        "source": ev.source,
        "event_id": ev.event_id,
        "event_type": ev.event_type,
        "received_at_ms": ev.received_at_ms,
        "duplicate_count": ev.duplicate_count,
        "mismatch_count": ev.mismatch_count,
        "last_duplicate_at_ms": ev.last_duplicate_at_ms,
        "headers": ev.headers,
        "body_sha256": hex::encode(&ev.body_sha256),
        "body_base64": base64::engine::general_purpose::STANDARD.encode(&ev.body),
        "body_text": std::str::from_utf8(&ev.body).ok(),
        "deliveries": with_attempts,
    })))
}

#[derive(Debug, Deserialize)]
pub struct HandlerQuery {
    handler: Option<String>,
}

async fn replay_one(
    State(app): State<Arc<AppState>>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<HandlerQuery>,
) -> Result<Json<Value>, ApiError> {
    let handler = known_handler(&app, q.handler)?;
    let queued = replay::replay_event(&app.store, &app.routes, id, handler.as_deref())
        .await
        .map_err(|e| replay_error(&app, e))?;
    app.dispatch_wake.notify_waiters();
    Ok(Json(json!({ "queued": queued })))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    source: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    event_id: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    status: Option<EventStatus>,
    handler: Option<String>,
}

async fn replay_filtered(
    State(app): State<Arc<AppState>>,
    OptionalJson(r): OptionalJson<ReplayRequest>,
) -> Result<Json<Value>, ApiError> {
    let filter = EventFilter {
        source: r.source,
        event_type: r.event_type,
        event_id: r.event_id,
        from_ms: r.from,
        to_ms: r.to,
        status: r.status,
    };
    let handler = known_handler(&app, r.handler)?;
    let (events, queued) =
        replay::replay_matching(&app.store, &app.routes, &filter, handler.as_deref())
            .await
            .map_err(|e| replay_error(&app, e))?;
    app.dispatch_wake.notify_waiters();
    Ok(Json(json!({ "events": events, "queued": queued })))
}

async fn retry_dead(
    State(app): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<HandlerQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = DeliveryFilter {
        handler: known_handler(&app, q.handler)?,
        ..Default::default()
    };
    let retried = replay::retry_dead(&app.store, &app.routes, &filter)
        .await
        .map_err(|e| replay_error(&app, e))?;
    app.dispatch_wake.notify_waiters();
    Ok(Json(json!({ "retried": retried })))
}

#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    handler: Option<String>,
    state: Option<DeliveryState>,
    source: Option<String>,
    event_id: Option<String>,
    /// The event was received at or after (Unix ms).
    from: Option<i64>,
    /// The event was received before (Unix ms).
    to: Option<i64>,
    /// The `next` of the previous page.
    cursor: Option<Uuid>,
    limit: Option<i64>,
}

async fn list_deliveries(
    State(app): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = page_limit(q.limit)?;
    let filter = DeliveryFilter {
        handler: known_handler(&app, q.handler)?,
        state: q.state,
        source: q.source,
        event_id: q.event_id,
        from_ms: q.from,
        to_ms: q.to,
    };
    let deliveries = app
        .store
        .list_deliveries(&filter, q.cursor, limit)
        .await
        .map_err(|e| store_error(&app, e))?;
    let next = (deliveries.len() as i64 == limit)
        .then(|| deliveries.last().map(|d| d.id))
        .flatten();
    Ok(Json(json!({ "deliveries": deliveries, "next": next })))
}

async fn delivery_detail(
    State(app): State<Arc<AppState>>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let d = app
        .store
        .delivery(id)
        .await
        .map_err(|e| store_error(&app, e))?
        .ok_or(ApiError::NotFound)?;
    let attempts = app
        .store
        .attempts_of(id)
        .await
        .map_err(|e| store_error(&app, e))?;
    let mut v = serde_json::to_value(&d).unwrap_or(Value::Null);
    v["attempts_log"] = serde_json::to_value(attempts).unwrap_or(Value::Null);
    Ok(Json(v))
}

async fn retry_one(
    State(app): State<Arc<AppState>>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let found = app
        .store
        .retry_delivery(id, now_ms())
        .await
        .map_err(|e| store_error(&app, e))?;
    if !found {
        return Err(ApiError::NotFound);
    }
    app.dispatch_wake.notify_waiters();
    let d = app
        .store
        .delivery(id)
        .await
        .map_err(|e| store_error(&app, e))?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(serde_json::to_value(d).unwrap_or(Value::Null)))
}

/// The body of a bulk retry: which dead deliveries to make due again.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    handler: Option<String>,
    source: Option<String>,
    event_id: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
}

async fn retry_matching(
    State(app): State<Arc<AppState>>,
    OptionalJson(r): OptionalJson<RetryRequest>,
) -> Result<Json<Value>, ApiError> {
    let filter = DeliveryFilter {
        handler: known_handler(&app, r.handler)?,
        state: Some(DeliveryState::Dead),
        source: r.source,
        event_id: r.event_id,
        from_ms: r.from,
        to_ms: r.to,
    };
    let retried = replay::retry_dead(&app.store, &app.routes, &filter)
        .await
        .map_err(|e| replay_error(&app, e))?;
    app.dispatch_wake.notify_waiters();
    Ok(Json(json!({ "retried": retried })))
}
