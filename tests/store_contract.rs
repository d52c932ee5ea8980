//! The store contract: every behaviour here runs against SQLite and against Postgres (a fresh
//! schema per test), so the two engines cannot drift apart.

mod common;

use bytes::Bytes;
use common::PgSchema;
use hookgate::config::StoreConfig;
use hookgate::store::{self, NewEvent, RecordOutcome, Store};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

fn event(source: &str, event_id: &str, body: &str, handlers: &[&str]) -> NewEvent {
    NewEvent {
        id: Uuid::now_v7(),
        source: source.into(),
        event_id: event_id.into(),
        event_type: Some("thing.happened".into()),
        body: Bytes::from(body.to_string()),
        headers: serde_json::json!({"content-type": "application/json"}),
        body_sha256: Sha256::digest(body.as_bytes()).into(),
        received_at_ms: store::now_ms(),
        handlers: handlers.iter().map(|h| h.to_string()).collect(),
    }
}

async fn record_one(s: &Arc<dyn Store>, ev: NewEvent) -> RecordOutcome {
    s.record(vec![ev]).await.unwrap().remove(0)
}

async fn first_arrival_is_stored_verbatim(s: Arc<dyn Store>) {
    let ev = event("stripe", "evt_1", "{\"id\":\"evt_1\"}", &[]);
    let id = ev.id;
    assert_eq!(
        record_one(&s, ev.clone()).await,
        RecordOutcome::Accepted { id }
    );
    let stored = s.event(id).await.unwrap().expect("row exists");
    assert_eq!(stored.source, "stripe");
    assert_eq!(stored.event_id, "evt_1");
    assert_eq!(stored.event_type.as_deref(), Some("thing.happened"));
    assert_eq!(stored.body, ev.body.to_vec());
    assert_eq!(stored.body_sha256, ev.body_sha256.to_vec());
    assert_eq!(stored.headers["content-type"], "application/json");
    assert_eq!(stored.received_at_ms, ev.received_at_ms);
    assert_eq!(stored.duplicate_count, 0);
    assert_eq!(
        s.find_event("stripe", "evt_1").await.unwrap().unwrap().id,
        id
    );
    assert!(s.find_event("stripe", "evt_2").await.unwrap().is_none());
    assert!(s.find_event("other", "evt_1").await.unwrap().is_none());
}

async fn repeats_are_duplicates_of_the_original(s: Arc<dyn Store>) {
    let first = event("stripe", "evt_d", "a", &["billing"]);
    let first_id = first.id;
    record_one(&s, first.clone()).await;
    let again = record_one(&s, event("stripe", "evt_d", "a", &["billing"])).await;
    assert_eq!(
        again,
        RecordOutcome::Duplicate {
            id: first_id,
            first_seen_at_ms: first.received_at_ms,
            body_mismatch: false
        }
    );
    let changed = record_one(&s, event("stripe", "evt_d", "b", &["billing"])).await;
    assert!(
        matches!(changed, RecordOutcome::Duplicate { id, body_mismatch: true, .. } if id == first_id)
    );
    let stored = s.event(first_id).await.unwrap().unwrap();
    assert_eq!(stored.body, b"a", "the original body is kept");
    assert_eq!(stored.duplicate_count, 2);
    assert_eq!(stored.mismatch_count, 1);
    assert!(stored.last_duplicate_at_ms.is_some());
    assert_eq!(
        s.deliveries_of(first_id).await.unwrap().len(),
        1,
        "duplicates create no deliveries"
    );
    assert_eq!(s.count_events().await.unwrap(), 1);
}

async fn the_same_id_under_another_source_is_a_different_event(s: Arc<dyn Store>) {
    assert!(record_one(&s, event("shop-a", "1", "x", &[]))
        .await
        .is_accepted());
    assert!(record_one(&s, event("shop-b", "1", "x", &[]))
        .await
        .is_accepted());
    assert_eq!(s.count_events().await.unwrap(), 2);
}

async fn a_batch_is_recorded_in_order_and_first_wins_inside_it(s: Arc<dyn Store>) {
    record_one(&s, event("sg", "old", "o", &[])).await;
    let batch = vec![
        event("sg", "b", "1", &["h"]),
        event("sg", "a", "2", &["h"]),
        event("sg", "b", "3", &["h"]),
        event("sg", "old", "4", &["h"]),
    ];
    let ids: Vec<Uuid> = batch.iter().map(|e| e.id).collect();
    let out = s.record(batch).await.unwrap();
    assert_eq!(out.len(), 4);
    assert_eq!(out[0], RecordOutcome::Accepted { id: ids[0] });
    assert_eq!(out[1], RecordOutcome::Accepted { id: ids[1] });
    assert!(
        matches!(out[2], RecordOutcome::Duplicate { id, body_mismatch: true, .. } if id == ids[0])
    );
    assert!(matches!(out[3], RecordOutcome::Duplicate { .. }));
    assert_eq!(s.count_events().await.unwrap(), 3);
    assert_eq!(s.deliveries_of(ids[0]).await.unwrap().len(), 1);
    assert_eq!(
        s.deliveries_of(ids[2]).await.unwrap().len(),
        0,
        "the in-batch repeat was not stored"
    );
}

async fn first_seen_events_get_one_pending_delivery_per_handler(s: Arc<dyn Store>) {
    let ev = event("stripe", "evt_h", "x", &["billing", "audit"]);
    let id = ev.id;
    record_one(&s, ev).await;
    let ds = s.deliveries_of(id).await.unwrap();
    let handlers: Vec<&str> = ds.iter().map(|d| d.handler.as_str()).collect();
    assert_eq!(handlers, ["audit", "billing"]);
    assert!(ds
        .iter()
        .all(|d| d.state == "pending" && d.attempts == 0 && d.event == id));
}

async fn concurrent_repeats_yield_exactly_one_first_seen(s: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            // Mix single calls and small batches so they land in shared transactions.
            let evs = vec![
                event("race", "same", "x", &["h"]),
                event("race", &format!("u{i}"), "y", &[]),
            ];
            s.record(evs).await.unwrap()
        }));
    }
    let mut accepted = 0;
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let out = t.await.unwrap();
        assert!(out[1].is_accepted(), "unique ids are always new");
        if out[0].is_accepted() {
            accepted += 1;
        }
        ids.insert(out[0].id());
    }
    assert_eq!(accepted, 1);
    assert_eq!(ids.len(), 1);
    assert_eq!(s.count_events().await.unwrap(), 65);
    let original = s.find_event("race", "same").await.unwrap().unwrap();
    assert_eq!(original.duplicate_count, 63);
    assert_eq!(s.deliveries_of(original.id).await.unwrap().len(), 1);
}

async fn purge_removes_expired_rows_but_keeps_pending_deliveries(s: Arc<dyn Store>) {
    let mut old = event("p", "old", "x", &[]);
    old.received_at_ms -= 10_000;
    let mut old_pending = event("p", "old-pending", "x", &["h"]);
    old_pending.received_at_ms -= 10_000;
    let fresh = event("p", "fresh", "x", &[]);
    s.record(vec![old, old_pending, fresh]).await.unwrap();
    let cutoff = store::now_ms() - 5_000;
    assert_eq!(s.purge_expired(cutoff, 100).await.unwrap(), 1);
    assert!(s.find_event("p", "old").await.unwrap().is_none());
    assert!(
        s.find_event("p", "old-pending").await.unwrap().is_some(),
        "pending deliveries keep their event"
    );
    assert!(s.find_event("p", "fresh").await.unwrap().is_some());
    // Past the window the id is forgotten: it is first-seen again.
    assert!(record_one(&s, event("p", "old", "x", &[]))
        .await
        .is_accepted());
}

async fn ready_when_migrated(s: Arc<dyn Store>) {
    s.ready().await.unwrap();
}

async fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        url: common::sqlite_url(dir.path()),
        ..StoreConfig::default()
    };
    (store::open(&cfg).await.unwrap(), dir)
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (s, _dir) = super::sqlite_store().await;
                    super::$name(s).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(pg) = super::PgSchema::create().await else { return };
                    let cfg = hookgate::config::StoreConfig { url: pg.url.clone(), ..Default::default() };
                    let s = hookgate::store::open(&cfg).await.unwrap();
                    assert_eq!(s.engine(), "postgres");
                    super::$name(s).await;
                }
            )*
        }
    };
}

contract!(
    first_arrival_is_stored_verbatim,
    repeats_are_duplicates_of_the_original,
    the_same_id_under_another_source_is_a_different_event,
    a_batch_is_recorded_in_order_and_first_wins_inside_it,
    first_seen_events_get_one_pending_delivery_per_handler,
    concurrent_repeats_yield_exactly_one_first_seen,
    purge_removes_expired_rows_but_keeps_pending_deliveries,
    ready_when_migrated,
);
