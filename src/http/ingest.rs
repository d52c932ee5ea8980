//! `POST /webhooks/{source}`: verify → challenge → extract → record (DESIGN §2).
//!
//! Order matters: the source is looked up before the body is read (404 costs nothing), the
//! body is read under a byte limit and a deadline (413 / 408 without buffering more than the
//! limit), the signature is checked over the raw bytes before anything parses them, and only
//! a verified request reaches the store. The 2xx is sent after the store has committed.
//!
//! Every decision (accepted, duplicate, rejected with a reason, challenge) is counted once in
//! [`crate::stats`] and logged once as an `ingest decision` line with the source, the event id
//! when known, the outcome or reason, and the request id of the `x-request-id` header.

use super::{AppState, REQUEST_ID_HEADER};
use crate::error::ApiError;
use crate::stats::UNKNOWN_SOURCE;
use crate::store::{NewEvent, RecordOutcome, StoreError};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hookgate_providers::{MismatchPolicy, Request as ProviderRequest};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::SystemTime;
use uuid::Uuid;

/// Headers kept with every event regardless of provider (never credentials).
const ALWAYS_KEPT_HEADERS: &[&str] = &["content-type", "user-agent"];

#[derive(Serialize)]
struct EventAnswer<'a> {
    status: &'static str,
    id: Uuid,
    event_id: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    body_mismatch: bool,
}

#[derive(Serialize)]
struct IngestAnswer<'a> {
    /// `accepted` if any event of the request was new, else `duplicate`.
    status: &'static str,
    source: &'a str,
    /// Id of the (first) event's record, new or original.
    id: Uuid,
    event_id: &'a str,
    accepted: usize,
    duplicates: usize,
    events: Vec<EventAnswer<'a>>,
}

pub async fn ingest(
    State(app): State<Arc<AppState>>,
    Path(source_name): Path<String>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let rid = request_id.as_str();
    let Some(source) = app.sources.get(&source_name) else {
        // The requested name is not logged as a source, nor counted under its own name:
        // anyone can make up names, and stats keys must stay bounded.
        tracing::info!(source = UNKNOWN_SOURCE, requested = ?source_name, request_id = rid, outcome = "rejected", reason = "unknown_source", "ingest decision");
        app.stats.rejected(UNKNOWN_SOURCE, "unknown_source");
        return Err(ApiError::UnknownSource(source_name));
    };
    let span = tracing::Span::current();
    span.record("source", source.name.as_str());
    // Limits before any work: the body is not even read (src/http/rate_limit.rs).
    let client = req
        .extensions()
        .get::<super::serve::ClientAddr>()
        .map(|c| c.0.ip());
    let limited = match (&app.settings.failed_auth, client) {
        (Some(limit), Some(ip)) => limit.check(ip),
        _ => Ok(()),
    }
    .and_then(|()| source.rate_limit.as_ref().map_or(Ok(()), |l| l.check()));
    if let Err(retry_after) = limited {
        let e = ApiError::RateLimited { retry_after };
        return Err(reject(&app, &source.name, rid, None, e));
    }
    let (parts, body) = req.into_parts();
    let declared = declared_length(&parts.headers);
    // Held while the body is read and checked, until the store's queue takes it over.
    let reading = reserve_body(declared, &app.settings)
        .map_err(|e| reject(&app, &source.name, rid, None, e))?;
    let body = read_body(body, declared, &app.settings)
        .await
        .map_err(|e| reject(&app, &source.name, rid, None, e))?;

    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = public_url(
        source.public_url.as_deref(),
        app.settings.public_url.as_deref(),
        &parts.headers,
        path_and_query,
    );
    let preq = ProviderRequest {
        method: parts.method.as_str(),
        url: &url,
        headers: &parts.headers,
        body: &body,
    };

    if let Some(answer) = super::handshake::hand_over(&app, source, &preq).await {
        return answer;
    }
    if let Some(answer) = super::handshake::before_verify(&app, source, &preq) {
        return answer;
    }
    // One rule for every provider: a repeated credential header is refused, never resolved
    // by order (docs/hardening.md).
    let now = SystemTime::now();
    let mut secrets = super::handshake::verifying_secrets(&app, source, false)
        .await
        .map_err(|e| store_failure(&app, &source.name, rid, e))?;
    let check = |secrets: &hookgate_providers::Secrets| {
        hookgate_providers::check_credential_headers(&*source.provider, &parts.headers)
            .and_then(|()| source.provider.verify(&preq, secrets, now))
    };
    let mut verified = check(&secrets);
    if verified.is_err()
        && matches!(secrets, std::borrow::Cow::Owned(_))
        && source.handed_over.is_stale()
    {
        // A handed-over secret may have changed on another replica (reset, new hand-over).
        secrets = super::handshake::verifying_secrets(&app, source, true)
            .await
            .map_err(|e| store_failure(&app, &source.name, rid, e))?;
        verified = check(&secrets);
    }
    if let Err(e) = verified {
        if let (Some(limit), Some(ip)) = (&app.settings.failed_auth, client) {
            limit.failed(ip);
        }
        return Err(reject(&app, &source.name, rid, None, e.into()));
    }
    let body_sha256: [u8; 32] = Sha256::digest(&body).into();
    if let Some(token) = source.provider.replay_token(&preq) {
        // The signature does not cover the body: a token seen before with another body is a
        // lifted signature, not a retry.
        let claim = app.store.claim_replay_token(
            &source.name,
            &token,
            &body_sha256,
            crate::store::now_ms(),
        );
        match tokio::time::timeout(app.settings.store_timeout, claim).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                let e = hookgate_providers::VerifyError::ReplayedToken;
                return Err(reject(&app, &source.name, rid, None, e.into()));
            }
            Ok(Err(e)) => return Err(store_failure(&app, &source.name, rid, e)),
            Err(_) => return Err(store_failure(&app, &source.name, rid, StoreError::Timeout)),
        }
    }
    if let Some(ch) = source.provider.challenge(&preq, &secrets) {
        tracing::info!(source = %source.name, request_id = rid, outcome = "challenge", "ingest decision");
        app.stats.challenge(&source.name);
        return Ok(super::handshake::respond(ch));
    }
    let metas = source
        .provider
        .events(&preq)
        .map_err(|e| reject(&app, &source.name, rid, None, e.into()))?;
    if metas.is_empty() {
        let e = ApiError::MissingEventId("the body carries no events".into());
        return Err(reject(&app, &source.name, rid, None, e));
    }
    // A batch's span names its first event; each event gets its own decision line.
    span.record("event_id", metas[0].id.as_str());

    let received_at_ms = crate::store::now_ms();
    let kept = kept_headers(&parts.headers, source.provider.kept_headers());
    let events: Vec<NewEvent> = metas
        .iter()
        .map(|m| NewEvent {
            id: Uuid::now_v7(),
            source: source.name.clone(),
            event_id: m.id.clone(),
            event_type: m.event_type.clone(),
            // A batch stores the whole request body with each of its events.
            body: body.clone(),
            headers: kept.clone(),
            body_sha256,
            received_at_ms,
            handlers: app
                .routes
                .handlers_for(&source.name, m.event_type.as_deref()),
        })
        .collect();

    drop(reading);
    let outcomes =
        match tokio::time::timeout(app.settings.store_timeout, app.store.record(events)).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => return Err(store_failure(&app, &source.name, rid, e)),
            Err(_) => return Err(store_failure(&app, &source.name, rid, StoreError::Timeout)),
        };

    if source.provider.on_body_mismatch() == MismatchPolicy::Reject {
        let reused = metas.iter().zip(&outcomes).find(|(_, o)| {
            matches!(
                o,
                RecordOutcome::Duplicate {
                    body_mismatch: true,
                    ..
                }
            )
        });
        if let Some((meta, _)) = reused {
            let e = ApiError::IdempotencyKeyReused;
            return Err(reject(&app, &source.name, rid, Some(&meta.id), e));
        }
    }
    app.stats.recorded(&source.name, &outcomes, received_at_ms);

    let mut answers = Vec::with_capacity(outcomes.len());
    for (meta, outcome) in metas.iter().zip(&outcomes) {
        let (status, mismatch) = match outcome {
            RecordOutcome::Accepted { .. } => ("accepted", false),
            RecordOutcome::Duplicate { body_mismatch, .. } => ("duplicate", *body_mismatch),
        };
        tracing::info!(source = %source.name, event_id = %meta.id, request_id = rid, outcome = status, body_mismatch = mismatch, "ingest decision");
        answers.push(EventAnswer {
            status,
            id: outcome.id(),
            event_id: &meta.id,
            body_mismatch: mismatch,
        });
    }

    let accepted = outcomes.iter().filter(|o| o.is_accepted()).count();
    let answer = IngestAnswer {
        status: if accepted > 0 {
            "accepted"
        } else {
            "duplicate"
        },
        source: &source.name,
        id: answers[0].id,
        event_id: answers[0].event_id,
        accepted,
        duplicates: outcomes.len() - accepted,
        events: answers,
    };
    // Serialized into a buffer that holds the answer whole (about 100 bytes plus 160 per
    // event; `Json` starts at 128 bytes and grew twice for a one-event answer).
    let mut buf = Vec::with_capacity(96 + 160 * answer.events.len());
    // Cannot fail: the answer is strings, ids and counts.
    serde_json::to_writer(&mut buf, &answer).map_err(|e| ApiError::Http {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        detail: format!("the answer could not be encoded: {e}"),
    })?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        buf,
    )
        .into_response())
}

/// Count and log a refused request (once, here, where the decision is made).
fn reject(
    app: &AppState,
    source: &str,
    request_id: &str,
    event_id: Option<&str>,
    e: ApiError,
) -> ApiError {
    let reason = e.reason();
    match event_id {
        Some(event_id) => {
            tracing::info!(
                source,
                event_id,
                request_id,
                outcome = "rejected",
                reason,
                "ingest decision"
            )
        }
        None => tracing::info!(
            source,
            request_id,
            outcome = "rejected",
            reason,
            "ingest decision"
        ),
    }
    app.stats.rejected(source, reason);
    e
}

fn store_failure(app: &AppState, source: &str, request_id: &str, e: StoreError) -> ApiError {
    tracing::warn!(source, request_id, error = %e, "store failure; answering 503");
    let retry_after = app.settings.retry_after;
    let e = match e {
        StoreError::Overloaded => ApiError::Overloaded { retry_after },
        _ => ApiError::Unavailable { retry_after },
    };
    reject(app, source, request_id, None, e)
}

/// Take the body's bytes from the edge's budget before reading it: its declared
/// `Content-Length`, or the most a body may be when it declares none. Refused with 503
/// `overloaded` when the bodies already being read hold the budget.
fn reserve_body(
    declared: Option<u64>,
    settings: &super::EdgeSettings,
) -> Result<crate::budget::BudgetGuard, ApiError> {
    let bytes = declared.map_or(settings.max_body_bytes, |len| {
        usize::try_from(len).map_or(settings.max_body_bytes, |l| l.min(settings.max_body_bytes))
    });
    settings
        .body_budget
        .take_guard(bytes)
        .ok_or(ApiError::Overloaded {
            retry_after: settings.retry_after,
        })
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Read the body under the byte limit and the request deadline. A declared `Content-Length`
/// over the limit is refused before reading anything; a chunked body is cut off as soon as
/// it passes the limit.
async fn read_body(
    body: Body,
    declared: Option<u64>,
    settings: &super::EdgeSettings,
) -> Result<Bytes, ApiError> {
    let limit = settings.max_body_bytes;
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match tokio::time::timeout(
        settings.request_timeout,
        Limited::new(body, limit).collect(),
    )
    .await
    {
        Err(_) => Err(ApiError::RequestTimeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Ok(Err(_)) => Err(ApiError::BadRequest(
            "the request body could not be read".into(),
        )),
    }
}

/// The URL the provider called: the source's configured public URL, else the server's public
/// base URL plus the request path, else `http://{Host}{path}`.
fn public_url(
    source_url: Option<&str>,
    base: Option<&str>,
    headers: &HeaderMap,
    path_and_query: &str,
) -> String {
    if let Some(url) = source_url {
        // The configured URL replaces scheme, host and path; the query the provider called
        // with is kept (Twilio signs its `bodySHA256` parameter).
        return match path_and_query.split_once('?') {
            Some((_, q)) if !q.is_empty() => {
                format!("{}?{q}", url.split(['?', '#']).next().unwrap_or(url))
            }
            _ => url.to_string(),
        };
    }
    if let Some(base) = base {
        return format!("{}{}", base.trim_end_matches('/'), path_and_query);
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}{path_and_query}")
}

fn kept_headers(headers: &HeaderMap, provider_kept: &[&str]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for name in ALWAYS_KEPT_HEADERS.iter().chain(provider_kept) {
        if let Some(v) = headers.get(*name).and_then(|v| v.to_str().ok()) {
            map.insert(
                (*name).to_string(),
                serde_json::Value::String(v.to_string()),
            );
        }
    }
    serde_json::Value::Object(map)
}
