//! The `redis_stream` sink against the machine's Redis: events land in the stream with their
//! idempotency key and body, and a consumer group reads them back with XREADGROUP.

mod common;

use common::*;
use redis::AsyncCommands;
use std::time::Duration;

const REDIS_URL_ENV: &str = "HOOKGATE_TEST_REDIS_URL";

async fn redis() -> Option<(String, redis::aio::MultiplexedConnection)> {
    let url = std::env::var(REDIS_URL_ENV).unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let conn = match redis::Client::open(url.as_str()) {
        Ok(c) => c.get_multiplexed_async_connection().await,
        Err(e) => Err(e),
    };
    match conn {
        Ok(c) => Some((url, c)),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but Redis at {url} is unreachable: {e}");
            }
            eprintln!("SKIPPED: Redis at {url} is unreachable ({e}); set {REDIS_URL_ENV}");
            None
        }
    }
}

type Entry = (String, Vec<(String, redis::Value)>);

fn field(entry: &Entry, name: &str) -> Vec<u8> {
    entry
        .1
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| match v {
            redis::Value::BulkString(b) => b.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn events_are_appended_to_the_stream_and_read_back_by_a_consumer_group() {
    let Some((url, mut conn)) = redis().await else {
        return;
    };
    let stream = format!("hookgate-test:{}", uuid::Uuid::now_v7());
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg("workers")
        .arg("$")
        .arg("MKSTREAM")
        .query_async(&mut conn)
        .await
        .unwrap();

    let extra = format!(
        "\n[dispatch]\npoll_interval = \"20ms\"\n\n[handlers.bus]\nkind = \"redis_stream\"\nurl = \"{url}\"\nstream = \"{stream}\"\nmaxlen = 1000\nsources = [\"stripe\", \"github\"]\n"
    );
    let app = spawn_app_with("", &extra).await;
    for i in 0..3 {
        let body = format!(r#"{{"id":"evt_rs_{i}","type":"invoice.paid"}}"#);
        json_with_status(app.post_stripe(&body).await, 200).await;
    }
    json_with_status(
        app.post_stripe(r#"{"id":"evt_rs_0","type":"invoice.paid"}"#)
            .await,
        200,
    )
    .await; // duplicate

    let mut entries: Vec<Entry> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while entries.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} entries arrived",
            entries.len()
        );
        let reply: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("workers")
            .arg("c1")
            .arg("COUNT")
            .arg(10)
            .arg("BLOCK")
            .arg(500)
            .arg("STREAMS")
            .arg(&stream)
            .arg(">")
            .query_async(&mut conn)
            .await
            .unwrap();
        if let redis::Value::Nil = reply {
            continue;
        }
        let read: redis::streams::StreamReadReply = redis::from_redis_value(reply).unwrap();
        for key in read.keys {
            for id in key.ids {
                let _: i64 = conn.xack(&stream, "workers", &[&id.id]).await.unwrap();
                let mut fields: Vec<(String, redis::Value)> = id.map.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                entries.push((id.id, fields));
            }
        }
    }
    let mut keys: Vec<String> = entries
        .iter()
        .map(|e| String::from_utf8(field(e, "key")).unwrap())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["stripe:evt_rs_0", "stripe:evt_rs_1", "stripe:evt_rs_2"]
    );
    let e0 = entries
        .iter()
        .find(|e| field(e, "key") == b"stripe:evt_rs_0")
        .unwrap();
    assert_eq!(
        field(e0, "body"),
        br#"{"id":"evt_rs_0","type":"invoice.paid"}"#
    );
    assert_eq!(field(e0, "source"), b"stripe");
    assert_eq!(field(e0, "type"), b"invoice.paid");
    assert_eq!(field(e0, "attempt"), b"1");
    let stored = app
        .server
        .store()
        .find_event("stripe", "evt_rs_0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(field(e0, "id"), stored.id.to_string().as_bytes());

    tokio::time::sleep(Duration::from_millis(200)).await;
    let len: i64 = conn.xlen(&stream).await.unwrap();
    assert_eq!(len, 3, "the duplicate was not appended");
    let _: () = conn.del(&stream).await.unwrap();
}
