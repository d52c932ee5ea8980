//! Replay and repair: put events back through the normal delivery path.
//!
//! Shared by the admin API and the CLI. Replaying routes with the *current* handler config
//! (a handler added since the event arrived gets it too) and re-opens deliveries as pending
//! with a fresh attempt budget; the dispatcher then delivers them like any other, with the
//! same idempotency key, so handlers can still dedupe.

use crate::dispatch::routing::Routes;
use crate::store::{now_ms, DeliveryFilter, EventFilter, Store, StoreError};
use std::sync::Arc;
use uuid::Uuid;

/// Most events one filtered replay touches per page.
const PAGE: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no event with id {0}")]
    UnknownEvent(Uuid),
    #[error("no handler named `{0}` is configured")]
    UnknownHandler(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Re-deliver one event to every matching handler, or to `handler` only.
pub async fn replay_event(
    store: &Arc<dyn Store>,
    routes: &Routes,
    id: Uuid,
    handler: Option<&str>,
) -> Result<u64, ReplayError> {
    if let Some(h) = handler {
        if !routes.contains(h) {
            return Err(ReplayError::UnknownHandler(h.to_string()));
        }
    }
    let ev = store
        .event(id)
        .await?
        .ok_or(ReplayError::UnknownEvent(id))?;
    let mut handlers = routes.handlers_for(&ev.source, ev.event_type.as_deref());
    if let Some(h) = handler {
        handlers.retain(|x| x == h);
    }
    Ok(store.requeue(id, &handlers, now_ms()).await?)
}

/// Re-deliver every event matching `filter`. Returns (events matched, deliveries queued).
pub async fn replay_matching(
    store: &Arc<dyn Store>,
    routes: &Routes,
    filter: &EventFilter,
    handler: Option<&str>,
) -> Result<(u64, u64), ReplayError> {
    if let Some(h) = handler {
        if !routes.contains(h) {
            return Err(ReplayError::UnknownHandler(h.to_string()));
        }
    }
    let (mut events, mut queued) = (0, 0);
    let mut before = None;
    loop {
        let page = store.list_events(filter, before, PAGE).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for ev in &page {
            let mut handlers = routes.handlers_for(&ev.source, ev.event_type.as_deref());
            if let Some(h) = handler {
                handlers.retain(|x| x == h);
            }
            events += 1;
            queued += store.requeue(ev.id, &handlers, now_ms()).await?;
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    Ok((events, queued))
}

/// Retry the dead deliveries matching `filter` (its handler, if any, must be configured).
pub async fn retry_dead(
    store: &Arc<dyn Store>,
    routes: &Routes,
    filter: &DeliveryFilter,
) -> Result<u64, ReplayError> {
    if let Some(h) = &filter.handler {
        if !routes.contains(h) {
            return Err(ReplayError::UnknownHandler(h.to_string()));
        }
    }
    Ok(store.retry_dead(filter, now_ms()).await?)
}
