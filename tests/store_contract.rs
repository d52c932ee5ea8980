//! The store contract: every behaviour here runs against SQLite and against Postgres (a fresh
//! schema per test), so the two engines cannot drift apart.

mod common;

use bytes::Bytes;
use common::PgSchema;
use hookgate::config::StoreConfig;
use hookgate::store::{
    self, Completion, DeliveryCounts, DeliveryFilter, DeliveryInfo, DeliveryState, EventFilter,
    EventStatus, NewEvent, NextState, RecordOutcome, StatsRow, Store,
};
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

/// Record `batch`, all of it first-seen.
async fn record_all_accepted(s: &Arc<dyn Store>, batch: Vec<NewEvent>) {
    let outcomes = s.record(batch).await.unwrap();
    assert!(outcomes.iter().all(|o| o.is_accepted()), "{outcomes:?}");
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
    // Repeats are counted on the original whether it was stored before the batch or in it.
    let b = s.event(ids[0]).await.unwrap().unwrap();
    assert_eq!((b.duplicate_count, b.mismatch_count), (1, 1));
    assert_eq!(&b.body[..], b"1", "the first arrival's body is kept");
    let old = s.find_event("sg", "old").await.unwrap().unwrap();
    assert_eq!((old.duplicate_count, old.mismatch_count), (1, 1));
    // Several repeats of one key in one batch, on a stored row and on one new in the batch.
    let again = vec![
        event("sg", "old", "o", &[]),
        event("sg", "c", "x", &[]),
        event("sg", "old", "5", &[]),
        event("sg", "c", "x", &[]),
        event("sg", "c", "y", &[]),
    ];
    let out = s.record(again).await.unwrap();
    assert!(out[1].is_accepted());
    assert_eq!(out.iter().filter(|o| o.is_accepted()).count(), 1);
    let old = s.find_event("sg", "old").await.unwrap().unwrap();
    assert_eq!((old.duplicate_count, old.mismatch_count), (3, 2));
    let c = s.find_event("sg", "c").await.unwrap().unwrap();
    assert_eq!((c.duplicate_count, c.mismatch_count), (2, 1));
    assert!(c.last_duplicate_at_ms.is_some());
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

async fn purge_takes_an_events_finished_deliveries_and_attempts_with_it(s: Arc<dyn Store>) {
    let mut old = event("p", "old-done", "x", &["h"]);
    old.received_at_ms -= 10_000;
    let event_row = old.id;
    record_one(&s, old).await;
    let now = store::now_ms();
    let claimed = s.claim_due("h", 10, now, now + 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let d = &claimed[0];
    assert!(
        s.complete(&[completion(d, NextState::Delivered)])
            .await
            .unwrap()[0]
    );
    assert_eq!(s.attempts_of(d.id).await.unwrap().len(), 1);
    assert_eq!(s.purge_expired(now - 5_000, 100).await.unwrap(), 1);
    assert!(s.find_event("p", "old-done").await.unwrap().is_none());
    assert!(s.deliveries_of(event_row).await.unwrap().is_empty());
    assert!(s.delivery(d.id).await.unwrap().is_none());
    assert!(
        s.attempts_of(d.id).await.unwrap().is_empty(),
        "attempt rows go with their delivery"
    );
}

async fn ready_when_migrated(s: Arc<dyn Store>) {
    s.ready().await.unwrap();
}

fn completion(d: &hookgate::store::ClaimedDelivery, next: NextState) -> Completion {
    Completion {
        delivery: d.id,
        lease_token: d.lease_token,
        started_at_ms: store::now_ms(),
        duration_ms: 3,
        status: Some(500),
        error: Some("handler answered 500".into()),
        next,
    }
}

async fn claims_are_leased_and_completions_need_the_lease(s: Arc<dyn Store>) {
    let ev = event("stripe", "evt_l", "body", &["h"]);
    let event_row = ev.id;
    record_one(&s, ev).await;
    let now = store::now_ms();
    let claimed = s.claim_due("h", 10, now, now + 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let d = &claimed[0];
    assert_eq!(
        (d.event.id, d.event.event_id.as_str(), d.attempts),
        (event_row, "evt_l", 0)
    );
    assert_eq!(&d.body[..], b"body");
    assert!(
        s.claim_due("h", 10, now, now + 60_000)
            .await
            .unwrap()
            .is_empty(),
        "a leased delivery is not claimed twice"
    );
    assert!(s
        .claim_due("other", 10, now, now + 60_000)
        .await
        .unwrap()
        .is_empty());

    assert!(
        s.complete(&[completion(d, NextState::RetryAt { at_ms: now })])
            .await
            .unwrap()[0]
    );
    assert!(
        !s.complete(&[completion(d, NextState::Delivered)])
            .await
            .unwrap()[0],
        "the lease is gone after completing"
    );
    let again = s
        .claim_due("h", 10, store::now_ms(), store::now_ms() + 60_000)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    let mut ok = completion(&again[0], NextState::Delivered);
    ok.status = Some(200);
    ok.error = None;
    assert!(s.complete(&[ok]).await.unwrap()[0]);
    let log = s.attempts_of(d.id).await.unwrap();
    assert_eq!(
        log.iter()
            .map(|a| (a.attempt, a.outcome.as_str()))
            .collect::<Vec<_>>(),
        [(1, "retry"), (2, "delivered")]
    );
    let health = s.delivery_health().await.unwrap();
    assert_eq!(health[0].delivered, 1);
    assert_eq!(health[0].pending + health[0].retrying + health[0].dead, 0);
}

/// Each attempt is on record once, in order, with what it saw: across retries, a replay that
/// starts a new cycle, and a completion that lost its lease (which records nothing).
async fn the_attempt_log_keeps_every_attempt_across_retries_and_replays(s: Arc<dyn Store>) {
    let stored = record_one(&s, event("p", "log", "x", &["h"])).await;
    let RecordOutcome::Accepted { id: event_row } = stored else {
        panic!("{stored:?}")
    };
    let claim = || async {
        let now = store::now_ms();
        let mut c = s.claim_due("h", 10, now, now + 60_000).await.unwrap();
        assert_eq!(c.len(), 1);
        c.remove(0)
    };
    let attempt = |d: &hookgate::store::ClaimedDelivery, next, status: u16, ms: i64| {
        let mut c = completion(d, next);
        c.status = Some(status);
        c.error = (status >= 300).then(|| format!("handler answered {status}"));
        c.duration_ms = ms;
        c.started_at_ms = 1_000 + ms;
        c
    };
    let log = |s: Arc<dyn Store>, id| async move {
        s.attempts_of(id)
            .await
            .unwrap()
            .into_iter()
            .map(|a| {
                assert_eq!(a.started_at_ms, 1_000 + a.duration_ms);
                (
                    a.attempt,
                    a.outcome,
                    a.status,
                    a.error.is_some(),
                    a.duration_ms,
                )
            })
            .collect::<Vec<_>>()
    };
    let first = claim().await;
    assert!(s.attempts_of(first.id).await.unwrap().is_empty());
    let now = store::now_ms();
    assert!(
        s.complete(&[attempt(&first, NextState::RetryAt { at_ms: now }, 503, 11)])
            .await
            .unwrap()[0]
    );
    let second = claim().await;
    assert!(
        s.complete(&[attempt(&second, NextState::Delivered, 200, 12)])
            .await
            .unwrap()[0]
    );
    let two = vec![
        (1, "retry".to_string(), Some(503), true, 11),
        (2, "delivered".to_string(), Some(200), false, 12),
    ];
    assert_eq!(log(s.clone(), first.id).await, two);
    let d = s.delivery(first.id).await.unwrap().unwrap();
    assert_eq!((d.attempts, d.last_status), (2, Some(200)));

    // A replay starts a new cycle; the earlier attempts stay on record.
    assert_eq!(
        s.requeue(event_row, &["h".to_string()], store::now_ms())
            .await
            .unwrap(),
        1
    );
    assert_eq!(log(s.clone(), first.id).await, two);
    let third = claim().await;
    assert_eq!(third.attempts, 0);
    // Its lease is taken away (a retry by an operator): the late outcome is not recorded.
    assert!(s.retry_delivery(third.id, store::now_ms()).await.unwrap());
    assert!(
        !s.complete(&[attempt(&third, NextState::Dead, 500, 13)])
            .await
            .unwrap()[0]
    );
    assert_eq!(log(s.clone(), first.id).await, two);
    let fourth = claim().await;
    assert!(
        s.complete(&[attempt(&fourth, NextState::Dead, 410, 14)])
            .await
            .unwrap()[0]
    );
    let mut three = two.clone();
    three.push((1, "dead".to_string(), Some(410), true, 14));
    assert_eq!(log(s.clone(), first.id).await, three);
}

async fn an_expired_lease_means_redelivery_and_the_old_holder_loses(s: Arc<dyn Store>) {
    record_one(&s, event("stripe", "evt_x", "b", &["h"])).await;
    let now = store::now_ms();
    let first = s.claim_due("h", 1, now, now + 10).await.unwrap().remove(0);
    // Later than the lease: another dispatcher takes it over.
    let second = s
        .claim_due("h", 1, now + 20, now + 60_000)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(first.id, second.id);
    assert_ne!(first.lease_token, second.lease_token);
    assert!(
        !s.complete(&[completion(&first, NextState::Delivered)])
            .await
            .unwrap()[0]
    );
    assert!(
        s.complete(&[completion(&second, NextState::Delivered)])
            .await
            .unwrap()[0]
    );
}

async fn dead_deliveries_can_be_retried_and_events_requeued(s: Arc<dyn Store>) {
    let ev = event("stripe", "evt_dd", "b", &["h"]);
    let id = ev.id;
    record_one(&s, ev).await;
    let now = store::now_ms();
    let d = s
        .claim_due("h", 1, now, now + 60_000)
        .await
        .unwrap()
        .remove(0);
    assert!(
        s.complete(&[completion(&d, NextState::Dead)])
            .await
            .unwrap()[0]
    );
    let health = s.delivery_health().await.unwrap();
    assert_eq!((health[0].dead, health[0].pending), (1, 0));
    let of = |h: &str| DeliveryFilter {
        handler: Some(h.into()),
        ..Default::default()
    };
    assert_eq!(s.retry_dead(&of("other"), now).await.unwrap(), 0);
    assert_eq!(s.retry_dead(&of("h"), now).await.unwrap(), 1);
    let d = s
        .claim_due("h", 1, store::now_ms(), store::now_ms() + 60_000)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(d.attempts, 0, "a fresh attempt budget");
    let mut ok = completion(&d, NextState::Delivered);
    ok.status = Some(200);
    assert!(s.complete(&[ok]).await.unwrap()[0]);

    // Replay to the same handler and to one added since.
    assert_eq!(
        s.requeue(id, &["h".into(), "h2".into()], store::now_ms())
            .await
            .unwrap(),
        2
    );
    let ds = s.deliveries_of(id).await.unwrap();
    assert!(
        ds.iter().all(|d| d.state == "pending" && d.attempts == 0),
        "{ds:?}"
    );
    assert_eq!(
        s.requeue(Uuid::now_v7(), &["h".into()], store::now_ms())
            .await
            .unwrap(),
        0,
        "unknown events queue nothing"
    );
    let health = s.delivery_health().await.unwrap();
    assert_eq!(
        health
            .iter()
            .map(|h| (h.handler.as_str(), h.pending))
            .collect::<Vec<_>>(),
        [("h", 1), ("h2", 1)]
    );
    assert!(health[0].oldest_pending_created_ms.is_some());
}

async fn events_are_listed_newest_first_with_filters_and_a_cursor(s: Arc<dyn Store>) {
    let mut evs = Vec::new();
    for (i, (src, ty)) in [
        ("a", "invoice.paid"),
        ("a", "invoice.created"),
        ("b", "invoice.paid"),
        ("a", "charge.x"),
        ("a", "invoice_x"),
    ]
    .iter()
    .enumerate()
    {
        let mut e = event(src, &format!("e{i}"), "x", &[]);
        e.event_type = Some(ty.to_string());
        e.received_at_ms = 1_000 + i as i64;
        evs.push(e);
    }
    for e in evs {
        record_one(&s, e).await;
    }
    let all = s
        .list_events(&EventFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
        ["e4", "e3", "e2", "e1", "e0"]
    );
    let f = EventFilter {
        source: Some("a".into()),
        event_type: Some("invoice.*".into()),
        ..Default::default()
    };
    let got = s.list_events(&f, None, 100).await.unwrap();
    assert_eq!(
        got.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
        ["e1", "e0"],
        "`_` is not a wildcard"
    );
    let f = EventFilter {
        from_ms: Some(1_001),
        to_ms: Some(1_003),
        ..Default::default()
    };
    assert_eq!(s.list_events(&f, None, 100).await.unwrap().len(), 2);
    let page1 = s
        .list_events(&EventFilter::default(), None, 2)
        .await
        .unwrap();
    let page2 = s
        .list_events(&EventFilter::default(), Some(page1[1].id), 2)
        .await
        .unwrap();
    assert_eq!(
        page2
            .iter()
            .map(|e| e.event_id.as_str())
            .collect::<Vec<_>>(),
        ["e2", "e1"]
    );
    let f = EventFilter {
        event_id: Some("e3".into()),
        ..Default::default()
    };
    assert_eq!(s.list_events(&f, None, 10).await.unwrap()[0].source, "a");
}

async fn events_can_be_listed_by_status_with_their_delivery_counts(s: Arc<dyn Store>) {
    let quiet = event("st", "quiet", "x", &[]);
    let repeated = event("st", "repeated", "x", &["h"]);
    let dead = event("st", "dead", "x", &["h"]);
    s.record(vec![quiet, repeated, dead]).await.unwrap();
    record_one(&s, event("st", "repeated", "other body", &["h"])).await;
    let now = store::now_ms();
    let claimed = s.claim_due("h", 10, now, now + 60_000).await.unwrap();
    assert_eq!(claimed.len(), 2);
    for d in &claimed {
        let next = if d.event.event_id == "dead" {
            NextState::Dead
        } else {
            NextState::Delivered
        };
        assert!(s.complete(&[completion(d, next)]).await.unwrap()[0]);
    }
    let ids = |status: EventStatus| {
        let s = s.clone();
        async move {
            let f = EventFilter {
                status: Some(status),
                ..Default::default()
            };
            let mut got: Vec<String> = s
                .list_events(&f, None, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.event_id)
                .collect();
            got.sort();
            got
        }
    };
    assert_eq!(ids(EventStatus::Duplicated).await, ["repeated"]);
    assert_eq!(ids(EventStatus::Mismatched).await, ["repeated"]);
    assert_eq!(ids(EventStatus::Dead).await, ["dead"]);
    assert_eq!(ids(EventStatus::Delivered).await, ["repeated"]);
    assert!(ids(EventStatus::Pending).await.is_empty());
    let repeated = s.find_event("st", "repeated").await.unwrap().unwrap();
    s.requeue(repeated.id, &["h".into()], store::now_ms())
        .await
        .unwrap();
    assert_eq!(ids(EventStatus::Pending).await, ["repeated"]);

    let all = s
        .list_events(&EventFilter::default(), None, 100)
        .await
        .unwrap();
    let dead_row = all.iter().find(|e| e.event_id == "dead").unwrap();
    assert_eq!(
        dead_row.deliveries,
        Some(DeliveryCounts {
            dead: 1,
            ..Default::default()
        })
    );
    let quiet_row = all.iter().find(|e| e.event_id == "quiet").unwrap();
    assert_eq!(quiet_row.deliveries, Some(DeliveryCounts::default()));
}

fn stat(minute_ms: i64, scope: &str, name: &str, counter: &str, value: i64) -> StatsRow {
    StatsRow {
        minute_ms,
        scope: scope.into(),
        name: name.into(),
        counter: counter.into(),
        value,
    }
}

async fn stats_add_up_across_flushes_and_are_summed_per_bucket(s: Arc<dyn Store>) {
    // Two minutes of one two-minute bucket, then the next minute.
    let m0 = 14_000_000 * 120_000;
    let flush = |accepted: i64| {
        vec![
            stat(m0, "source", "stripe", "accepted", accepted),
            stat(m0, "source", "stripe", "rejected.stale_timestamp", 1),
            stat(m0 + 60_000, "source", "stripe", "accepted", 1),
            stat(m0 + 120_000, "source", "stripe", "accepted", 5),
            stat(m0, "handler", "billing", "delivered", 2),
        ]
    };
    // Two replicas flush the same minutes: the figures add up.
    s.add_stats(&flush(3)).await.unwrap();
    s.add_stats(&flush(4)).await.unwrap();
    s.add_stats(&[]).await.unwrap();

    let mut per_minute = s.stats_between(m0, m0 + 120_000, 60_000).await.unwrap();
    per_minute.sort();
    assert_eq!(
        per_minute,
        [
            stat(m0, "handler", "billing", "delivered", 4),
            stat(m0, "source", "stripe", "accepted", 7),
            stat(m0, "source", "stripe", "rejected.stale_timestamp", 2),
            stat(m0 + 60_000, "source", "stripe", "accepted", 2),
        ]
    );
    let mut bucketed = s.stats_between(m0, m0 + 240_000, 120_000).await.unwrap();
    bucketed.sort();
    assert_eq!(
        bucketed,
        [
            stat(m0, "handler", "billing", "delivered", 4),
            stat(m0, "source", "stripe", "accepted", 9),
            stat(m0, "source", "stripe", "rejected.stale_timestamp", 2),
            stat(m0 + 120_000, "source", "stripe", "accepted", 10),
        ]
    );

    // Concurrent flushes of the same keys neither deadlock nor lose counts.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let rows: Vec<StatsRow> = (0..50)
                .map(|i| stat(m0, "source", &format!("s{i:02}"), "requests", 1))
                .collect();
            s.add_stats(&rows).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rows = s.stats_between(m0, m0 + 60_000, 60_000).await.unwrap();
    let requests: Vec<i64> = rows
        .iter()
        .filter(|r| r.counter == "requests")
        .map(|r| r.value)
        .collect();
    assert_eq!(requests, vec![8; 50]);

    assert_eq!(s.purge_stats(m0 + 60_000).await.unwrap(), 53);
    let left = s.stats_between(0, i64::MAX, 60_000).await.unwrap();
    assert_eq!(left.len(), 2, "{left:?}");
}

async fn replay_tokens_bind_to_the_first_body(s: Arc<dyn Store>) {
    let (a, b) = ([1u8; 32], [2u8; 32]);
    let now = store::now_ms();
    assert!(
        s.claim_replay_token("mg", "tok", &a, now).await.unwrap(),
        "new token"
    );
    assert!(
        s.claim_replay_token("mg", "tok", &a, now).await.unwrap(),
        "a retry with the same body"
    );
    assert!(
        !s.claim_replay_token("mg", "tok", &b, now).await.unwrap(),
        "the token on another body"
    );
    assert!(
        s.claim_replay_token("other", "tok", &b, now).await.unwrap(),
        "tokens are per source"
    );
    assert_eq!(s.purge_replay_tokens(now + 1).await.unwrap(), 2);
    assert!(
        s.claim_replay_token("mg", "tok", &b, now).await.unwrap(),
        "forgotten after purge"
    );
}

/// Retention with a moved clock: nothing goes before the window has passed; then everything
/// older goes in batches of at most `PURGE_BATCH`, except events with a delivery still pending
/// (a retrying delivery is pending too), which go once their deliveries settle; a repeat of a
/// purged event is first-seen again.
async fn retention_purges_in_batches_only_what_the_moved_clock_expired(s: Arc<dyn Store>) {
    use hookgate::retention::{purge_once, PURGE_BATCH};
    let window = std::time::Duration::from_secs(7 * 24 * 3600);
    let window_ms = window.as_millis() as i64;
    let n = 2 * PURGE_BATCH as usize + 37;
    let batch: Vec<NewEvent> = (0..n)
        .map(|i| event("ret", &format!("e{i}"), "x", &[]))
        .collect();
    s.record(batch).await.unwrap();
    record_one(&s, event("ret", "pending", "x", &["h"])).await;
    record_one(&s, event("ret", "retrying", "x", &["h"])).await;
    let newest = store::now_ms();

    // One minute before the window has passed for the newest rows: those stay.
    let early = purge_once(&*s, newest + window_ms - 60_000, window).await;
    assert_eq!(s.count_events().await.unwrap(), n as i64 + 2);
    assert!(early.inbox_rows < n as u64, "{early:?}");

    let claimed = s.claim_due("h", 10, newest, newest + 60_000).await.unwrap();
    let retrying = claimed
        .iter()
        .find(|d| d.event.event_id == "retrying")
        .unwrap();
    assert!(
        s.complete(&[completion(
            retrying,
            NextState::RetryAt {
                at_ms: newest + 2 * window_ms
            }
        )])
        .await
        .unwrap()[0]
    );

    let later = newest + window_ms + 60_000;
    let pass = purge_once(&*s, later, window).await;
    assert_eq!(pass.inbox_rows + early.inbox_rows, n as u64);
    assert!(
        pass.batches >= (pass.inbox_rows / PURGE_BATCH as u64),
        "at most PURGE_BATCH rows per delete: {pass:?}"
    );
    assert_eq!(
        s.count_events().await.unwrap(),
        2,
        "events with a pending or retrying delivery are kept"
    );
    assert!(s.find_event("ret", "pending").await.unwrap().is_some());
    assert!(s.find_event("ret", "retrying").await.unwrap().is_some());

    // Settle the pending one: the next pass takes it; the retrying one stays.
    let pending = claimed
        .iter()
        .find(|d| d.event.event_id == "pending")
        .unwrap();
    assert!(
        s.complete(&[completion(pending, NextState::Delivered)])
            .await
            .unwrap()[0]
    );
    assert_eq!(purge_once(&*s, later, window).await.inbox_rows, 1);
    assert!(s.find_event("ret", "pending").await.unwrap().is_none());
    assert!(s.find_event("ret", "retrying").await.unwrap().is_some());

    // Past the window an id is forgotten: its repeat is first-seen again (documented).
    assert!(record_one(&s, event("ret", "e0", "x", &[]))
        .await
        .is_accepted());
}

/// A purge of many expired rows runs in short transactions, so ingest keeps going while it
/// runs: no write waits behind the whole purge. (A purge that held its lock throughout would
/// let no write finish before it ends; two or more finishing during it show the interleaving.
/// On a loaded machine a durable write can take tens of milliseconds, so the purge is made
/// long enough, 40 transactions, for a few of them.)
async fn retention_does_not_stall_concurrent_ingest(s: Arc<dyn Store>) {
    use hookgate::retention::purge_once;
    let window = std::time::Duration::from_secs(7 * 24 * 3600);
    let old = store::now_ms() - window.as_millis() as i64 - 60_000;
    for chunk in 0..40 {
        let batch: Vec<NewEvent> = (0..500)
            .map(|i| {
                let mut e = event("old", &format!("o{chunk}_{i}"), "x", &[]);
                e.received_at_ms = old;
                e
            })
            .collect();
        s.record(batch).await.unwrap();
    }
    let purge = {
        let s = s.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let p = purge_once(&*s, store::now_ms(), window).await;
            (p, started.elapsed())
        })
    };
    let mut slowest = std::time::Duration::ZERO;
    let mut during = 0;
    let mut i = 0;
    while !purge.is_finished() || i < 20 {
        let t = std::time::Instant::now();
        assert!(record_one(&s, event("new", &format!("n{i}"), "x", &[]))
            .await
            .is_accepted());
        slowest = slowest.max(t.elapsed());
        if !purge.is_finished() {
            during += 1;
        }
        i += 1;
    }
    let (p, took) = purge.await.unwrap();
    assert_eq!(p.inbox_rows, 20_000);
    assert!(p.batches >= 40, "{p:?}");
    assert!(
        during >= 2,
        "ingest must progress while the purge runs ({during} writes during {took:?})"
    );
    assert!(
        slowest < std::time::Duration::from_secs(1),
        "a write waited {slowest:?} behind the purge (which took {took:?})"
    );
    assert_eq!(s.count_events().await.unwrap(), i as i64);
}

/// Four deliveries in four states: `(e1, h1)` delivered, `(e2, h1)` retrying, `(e1, h2)` dead,
/// `(e3, h2)` pending; e1 (stripe) arrived at `base - 3000`, e2 (github) at `base - 2000`, e3
/// (stripe) at `base - 1000`.
async fn four_deliveries_in_four_states(s: &Arc<dyn Store>, base: i64) -> [NewEvent; 3] {
    let mut e1 = event("stripe", "evt_a", "1", &["h1", "h2"]);
    e1.received_at_ms = base - 3000;
    let mut e2 = event("github", "evt_b", "2", &["h1"]);
    e2.received_at_ms = base - 2000;
    let mut e3 = event("stripe", "evt_c", "3", &["h2"]);
    e3.received_at_ms = base - 1000;
    record_one(s, e1.clone()).await;
    record_one(s, e2.clone()).await;
    let now = store::now_ms();
    let h1 = s.claim_due("h1", 10, now, now + 60_000).await.unwrap();
    assert_eq!(h1.len(), 2);
    let done: Vec<Completion> = h1
        .iter()
        .map(|d| {
            if d.event.id == e1.id {
                let mut c = completion(d, NextState::Delivered);
                c.status = Some(200);
                c.error = None;
                c
            } else {
                completion(
                    d,
                    NextState::RetryAt {
                        at_ms: now + 3_600_000,
                    },
                )
            }
        })
        .collect();
    assert_eq!(s.complete(&done).await.unwrap(), vec![true, true]);
    let h2 = s.claim_due("h2", 10, now, now + 60_000).await.unwrap();
    assert_eq!(h2.len(), 1);
    assert!(
        s.complete(&[completion(&h2[0], NextState::Dead)])
            .await
            .unwrap()[0]
    );
    record_one(s, e3.clone()).await;
    [e1, e2, e3]
}

fn keys(list: &[DeliveryInfo]) -> Vec<(String, String, DeliveryState)> {
    list.iter()
        .map(|d| (d.event_id.clone(), d.handler.clone(), d.state))
        .collect()
}

async fn deliveries_are_listed_with_filters_and_a_stable_cursor(s: Arc<dyn Store>) {
    let base = store::now_ms();
    let [e1, e2, e3] = four_deliveries_in_four_states(&s, base).await;
    let all = s
        .list_deliveries(&DeliveryFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    let ids: Vec<Uuid> = all.iter().map(|d| d.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first");
    assert_eq!(all[0].event, e3.id, "the latest delivery comes first");
    let a_h2 = all
        .iter()
        .find(|d| d.event == e1.id && d.handler == "h2")
        .unwrap();
    assert_eq!(
        (a_h2.source.as_str(), a_h2.event_id.as_str(), a_h2.state),
        ("stripe", "evt_a", DeliveryState::Dead)
    );
    assert_eq!(a_h2.attempts, 1);
    assert_eq!(a_h2.last_status, Some(500));
    assert_eq!(a_h2.last_error.as_deref(), Some("handler answered 500"));
    assert_eq!(a_h2.received_at_ms, e1.received_at_ms);

    let list = |f: DeliveryFilter| {
        let s = s.clone();
        async move { keys(&s.list_deliveries(&f, None, 10).await.unwrap()) }
    };
    let by_state = |state| DeliveryFilter {
        state: Some(state),
        ..Default::default()
    };
    let k = |e: &str, h: &str, st| (e.to_string(), h.to_string(), st);
    use DeliveryState::*;
    assert_eq!(
        list(by_state(Pending)).await,
        vec![k("evt_c", "h2", Pending)]
    );
    assert_eq!(
        list(by_state(Retrying)).await,
        vec![k("evt_b", "h1", Retrying)]
    );
    assert_eq!(
        list(by_state(Delivered)).await,
        vec![k("evt_a", "h1", Delivered)]
    );
    assert_eq!(list(by_state(Dead)).await, vec![k("evt_a", "h2", Dead)]);
    let h1 = list(DeliveryFilter {
        handler: Some("h1".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(h1.len(), 2);
    assert!(h1.iter().all(|(_, h, _)| h == "h1"));
    assert_eq!(
        list(DeliveryFilter {
            source: Some("github".into()),
            ..Default::default()
        })
        .await,
        vec![k("evt_b", "h1", Retrying)]
    );
    let mut a = list(DeliveryFilter {
        event_id: Some("evt_a".into()),
        ..Default::default()
    })
    .await;
    a.sort();
    assert_eq!(a, vec![k("evt_a", "h1", Delivered), k("evt_a", "h2", Dead)]);
    // The time range is on the event's arrival: [from, to).
    let mut recent = list(DeliveryFilter {
        from_ms: Some(e2.received_at_ms),
        ..Default::default()
    })
    .await;
    recent.sort();
    assert_eq!(
        recent,
        vec![k("evt_b", "h1", Retrying), k("evt_c", "h2", Pending)]
    );
    assert_eq!(
        list(DeliveryFilter {
            from_ms: Some(e1.received_at_ms),
            to_ms: Some(e2.received_at_ms),
            handler: Some("h2".into()),
            ..Default::default()
        })
        .await,
        vec![k("evt_a", "h2", Dead)]
    );
    assert!(list(DeliveryFilter {
        handler: Some("h2".into()),
        state: Some(Delivered),
        ..Default::default()
    })
    .await
    .is_empty());

    // Paging one at a time yields every delivery once, in order, even when one of them is
    // retried between pages (its id, and so its place, does not change).
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .list_deliveries(&DeliveryFilter::default(), cursor, 1)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        paged.push(last.id);
        if paged.len() == 1 {
            assert!(s.retry_delivery(ids[2], store::now_ms()).await.unwrap());
        }
    }
    assert_eq!(paged, ids);

    // One delivery by id, as listed.
    let one = s.delivery(ids[3]).await.unwrap().unwrap();
    assert_eq!(one, all[3]);
    assert!(s.delivery(Uuid::now_v7()).await.unwrap().is_none());
}

async fn one_delivery_can_be_retried_whatever_its_state(s: Arc<dyn Store>) {
    let base = store::now_ms();
    four_deliveries_in_four_states(&s, base).await;
    let all = s
        .list_deliveries(&DeliveryFilter::default(), None, 10)
        .await
        .unwrap();
    let find = |st| all.iter().find(|d| d.state == st).unwrap().clone();
    let delivered = find(DeliveryState::Delivered);
    let dead = find(DeliveryState::Dead);
    for d in [&delivered, &dead] {
        let now = store::now_ms();
        assert!(s.retry_delivery(d.id, now).await.unwrap());
        let after = s.delivery(d.id).await.unwrap().unwrap();
        assert_eq!(after.state, DeliveryState::Pending);
        assert_eq!(after.attempts, 0, "a fresh attempt budget");
        assert!(after.next_attempt_at_ms <= now, "due now");
        assert_eq!(
            s.attempts_of(d.id).await.unwrap().len(),
            1,
            "earlier attempts stay on record"
        );
    }
    // Both are claimable again, with a fresh budget.
    let now = store::now_ms();
    let h1 = s.claim_due("h1", 10, now, now + 60_000).await.unwrap();
    assert_eq!(
        h1.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![delivered.id]
    );
    assert_eq!(h1[0].attempts, 0);
    let h2 = s.claim_due("h2", 10, now, now + 60_000).await.unwrap();
    assert_eq!(h2.len(), 2, "the retried dead one and the pending one");
    // Retrying one in flight takes its lease away: the old attempt's outcome is not recorded.
    assert!(s.retry_delivery(h1[0].id, now).await.unwrap());
    assert!(
        !s.complete(&[completion(&h1[0], NextState::Dead)])
            .await
            .unwrap()[0]
    );
    assert_eq!(
        s.delivery(h1[0].id).await.unwrap().unwrap().state,
        DeliveryState::Pending
    );
    assert!(!s.retry_delivery(Uuid::now_v7(), now).await.unwrap());
}

async fn dead_deliveries_are_retried_by_filter_and_nothing_else_is(s: Arc<dyn Store>) {
    let base = store::now_ms();
    let [e1, ..] = four_deliveries_in_four_states(&s, base).await;
    // A second dead delivery, of another source and handler.
    let mut e4 = event("github", "evt_d", "4", &["h3"]);
    e4.received_at_ms = base;
    record_one(&s, e4).await;
    let now = store::now_ms();
    let d = s
        .claim_due("h3", 1, now, now + 60_000)
        .await
        .unwrap()
        .remove(0);
    assert!(
        s.complete(&[completion(&d, NextState::Dead)])
            .await
            .unwrap()[0]
    );

    let dead = |s: Arc<dyn Store>| async move {
        keys(
            &s.list_deliveries(
                &DeliveryFilter {
                    state: Some(DeliveryState::Dead),
                    ..Default::default()
                },
                None,
                10,
            )
            .await
            .unwrap(),
        )
    };
    assert_eq!(dead(s.clone()).await.len(), 2);
    // Filters that match no dead delivery retry nothing (evt_a's h1 delivery is delivered).
    let none = DeliveryFilter {
        handler: Some("h1".into()),
        ..Default::default()
    };
    assert_eq!(s.retry_dead(&none, now).await.unwrap(), 0);
    let before_window = DeliveryFilter {
        to_ms: Some(e1.received_at_ms),
        ..Default::default()
    };
    assert_eq!(s.retry_dead(&before_window, now).await.unwrap(), 0);
    // Source stripe: only evt_a's dead h2 delivery; the state in a filter cannot widen it.
    let stripe = DeliveryFilter {
        source: Some("stripe".into()),
        state: Some(DeliveryState::Delivered),
        ..Default::default()
    };
    assert_eq!(s.retry_dead(&stripe, now).await.unwrap(), 1);
    assert_eq!(
        dead(s.clone()).await,
        vec![("evt_d".to_string(), "h3".to_string(), DeliveryState::Dead)]
    );
    let states: Vec<DeliveryState> = s
        .list_deliveries(&DeliveryFilter::default(), None, 10)
        .await
        .unwrap()
        .iter()
        .filter(|d| d.event == e1.id)
        .map(|d| d.state)
        .collect();
    assert!(states.contains(&DeliveryState::Delivered), "{states:?}");
    assert!(states.contains(&DeliveryState::Pending), "{states:?}");
    // Everything else that is dead.
    assert_eq!(
        s.retry_dead(&DeliveryFilter::default(), now).await.unwrap(),
        1
    );
    assert!(dead(s.clone()).await.is_empty());
}

async fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        url: common::sqlite_url(dir.path()),
        ..StoreConfig::default()
    };
    (store::open(&cfg).await.unwrap(), dir)
}

/// The next delivery in a lane, waiting up to 5 s for it.
async fn lane_recv(
    lane: &mut tokio::sync::mpsc::Receiver<store::ClaimedDelivery>,
    what: &str,
) -> store::ClaimedDelivery {
    tokio::time::timeout(std::time::Duration::from_secs(5), lane.recv())
        .await
        .unwrap_or_else(|_| panic!("{what}: none within 5 s"))
        .unwrap_or_else(|| panic!("{what}: the lane closed"))
}

/// Deliveries of accepted events go leased into the handler's lane while it has room; past
/// that they are written unleased (claimable) and the lane's claimer is woken. Attempts
/// recorded through the group commit need the lease like any completion.
async fn hand_off_leases_what_fits_and_leaves_the_rest_to_claims(url: String) {
    use hookgate::dispatch::breaker::BreakerConfig;
    use hookgate::dispatch::control::HandlerControl;
    use hookgate::store::handoff::{HandOff, Lane};
    let (queue, mut lane_rx) = tokio::sync::mpsc::channel(2);
    let wake = Arc::new(tokio::sync::Notify::new());
    let control = Arc::new(HandlerControl::new(
        "h",
        BreakerConfig {
            threshold: 0,
            probe_base: std::time::Duration::from_secs(1),
            probe_cap: std::time::Duration::from_secs(1),
        },
    ));
    let lanes = [(
        "h".to_string(),
        Lane {
            queue,
            wake: wake.clone(),
            control: control.clone(),
        },
    )]
    .into_iter()
    .collect();
    let handoff = HandOff::new(lanes, std::time::Duration::from_secs(60));
    let cfg = StoreConfig {
        url,
        ..StoreConfig::default()
    };
    let s = store::open_with(&cfg, Some(handoff)).await.unwrap();
    let batch = vec![
        event("ho", "1", "one", &["h"]),
        event("ho", "2", "two", &["h"]),
        event("ho", "3", "three", &["h"]),
    ];
    let ids: Vec<Uuid> = batch.iter().map(|e| e.id).collect();
    record_all_accepted(&s, batch).await;
    // The batch's requests are answered before its deliveries are handed off: wait for them.
    let first = lane_recv(&mut lane_rx, "a delivery in the lane").await;
    let second = lane_recv(&mut lane_rx, "a second delivery in the lane").await;
    assert!(lane_rx.try_recv().is_err(), "the lane holds two");
    assert_eq!(first.attempts, 0);
    assert!(first.lease_until_ms > store::now_ms());
    let in_lane: Vec<Uuid> = vec![first.event.id, second.event.id];
    assert!(in_lane.contains(&ids[0]) && in_lane.contains(&ids[1]));
    assert_eq!(
        &first.body[..],
        if first.event.id == ids[0] {
            b"one" as &[u8]
        } else {
            b"two"
        }
    );
    tokio::time::timeout(std::time::Duration::from_secs(1), wake.notified())
        .await
        .expect("the claimer is woken for the overflow");
    let now = store::now_ms();
    let claimed = s.claim_due("h", 10, now, now + 60_000).await.unwrap();
    assert_eq!(
        claimed.len(),
        1,
        "only the overflow is claimable; the rest is leased"
    );
    assert_eq!(claimed[0].event.id, ids[2]);

    let ok = completion(&first, NextState::Delivered);
    assert!(s.complete_attempt(ok.clone()).await.unwrap());
    assert!(!s.complete_attempt(ok).await.unwrap(), "the lease is spent");
    let d = s.deliveries_of(first.event.id).await.unwrap();
    assert_eq!((d[0].state.as_str(), d[0].attempts), ("delivered", 1));
    assert_eq!(s.attempts_of(first.id).await.unwrap().len(), 1);

    // A paused handler gets nothing in its lane, even with room, and its claimer is not
    // woken: the delivery waits in the store, claimable once the handler is let through.
    drop(second);
    control.set_paused(Some(store::now_ms()));
    let held = event("ho", "4", "four", &["h"]);
    let held_id = held.id;
    assert!(s.record(vec![held]).await.unwrap()[0].is_accepted());
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(200), wake.notified())
            .await
            .is_err(),
        "a held handler's claimer is not woken"
    );
    // Checked after the wait, so a hand-off that came late would be seen.
    assert!(
        lane_rx.try_recv().is_err(),
        "nothing is handed to a paused handler"
    );
    let now = store::now_ms();
    let claimed = s.claim_due("h", 10, now, now + 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].event.id, held_id);
}

/// Pauses are stored per handler (a second pause keeps the first time; resume clears it),
/// and a lease can be given back unattempted: due again at once, attempts unchanged, but only
/// by the holder of the lease.
async fn pauses_are_stored_and_leases_can_be_given_back(s: Arc<dyn Store>) {
    assert!(s.paused_handlers().await.unwrap().is_empty());
    s.set_handler_paused("h", true, 1_000).await.unwrap();
    s.set_handler_paused("h", true, 2_000).await.unwrap();
    s.set_handler_paused("other", false, 2_000).await.unwrap();
    let paused = s.paused_handlers().await.unwrap();
    assert_eq!(paused.len(), 1, "{paused:?}");
    assert_eq!(
        (paused[0].handler.as_str(), paused[0].paused_at_ms),
        ("h", 1_000)
    );
    s.set_handler_paused("h", false, 3_000).await.unwrap();
    assert!(s.paused_handlers().await.unwrap().is_empty());
    s.set_handler_paused("h", true, 4_000).await.unwrap();
    assert_eq!(s.paused_handlers().await.unwrap()[0].paused_at_ms, 4_000);

    record_one(&s, event("stripe", "evt_gb", "body", &["h"])).await;
    let now = store::now_ms();
    let claimed = s.claim_due("h", 10, now, now + 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let d = &claimed[0];
    assert_eq!(
        s.release_leases(&[(d.id, Uuid::now_v7())]).await.unwrap(),
        0,
        "a wrong lease token releases nothing"
    );
    assert_eq!(s.release_leases(&[(d.id, d.lease_token)]).await.unwrap(), 1);
    let again = s.claim_due("h", 10, now, now + 60_000).await.unwrap();
    assert_eq!(again.len(), 1, "released: due again at once");
    assert_eq!((again[0].id, again[0].attempts), (d.id, 0));
    assert!(
        !s.complete(&[completion(d, NextState::Delivered)])
            .await
            .unwrap()[0],
        "the old lease is void"
    );
    assert_eq!(s.release_leases(&[]).await.unwrap(), 0);
}

/// The group-commit writer leaves WAL checkpoints to a thread of its own: the WAL is still
/// checkpointed (and reused from its start) while ingest writes, so it does not grow with
/// everything written since the store opened.
#[tokio::test]
async fn sqlite_wal_is_checkpointed_while_ingest_writes() {
    let (s, dir) = sqlite_store().await;
    let wal = dir.path().join("hookgate.db-wal");
    let body = "x".repeat(4096);
    let mut largest = 0;
    // 40 batches of 100 events of 4 KiB: about 20 MB of WAL if nothing checkpointed it.
    for round in 0..40 {
        let batch: Vec<NewEvent> = (0..100)
            .map(|i| event("wal", &format!("w{round}_{i}"), &body, &[]))
            .collect();
        record_all_accepted(&s, batch).await;
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    assert_eq!(s.count_events().await.unwrap(), 4000);
    assert!(
        largest < 8 << 20,
        "the WAL grew to {largest} bytes: checkpoints did not keep up with ingest"
    );
}

#[tokio::test]
async fn hand_off_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    hand_off_leases_what_fits_and_leaves_the_rest_to_claims(common::sqlite_url(dir.path())).await;
}

#[tokio::test]
async fn hand_off_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    hand_off_leases_what_fits_and_leaves_the_rest_to_claims(pg.url.clone()).await;
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
    purge_takes_an_events_finished_deliveries_and_attempts_with_it,
    ready_when_migrated,
    claims_are_leased_and_completions_need_the_lease,
    an_expired_lease_means_redelivery_and_the_old_holder_loses,
    the_attempt_log_keeps_every_attempt_across_retries_and_replays,
    dead_deliveries_can_be_retried_and_events_requeued,
    events_are_listed_newest_first_with_filters_and_a_cursor,
    replay_tokens_bind_to_the_first_body,
    events_can_be_listed_by_status_with_their_delivery_counts,
    stats_add_up_across_flushes_and_are_summed_per_bucket,
    retention_purges_in_batches_only_what_the_moved_clock_expired,
    retention_does_not_stall_concurrent_ingest,
    pauses_are_stored_and_leases_can_be_given_back,
    deliveries_are_listed_with_filters_and_a_stable_cursor,
    one_delivery_can_be_retried_whatever_its_state,
    dead_deliveries_are_retried_by_filter_and_nothing_else_is,
);
