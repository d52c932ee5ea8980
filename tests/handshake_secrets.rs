//! Asana's secret hand-over on both engines: the `X-Hook-Secret` handshake is echoed, its
//! secret stored once (first hand-over wins) and used to verify later deliveries, across a
//! restart and by another replica on the same store, until an operator resets it.

mod common;

use common::*;
use hookgate::config::Config;
use hookgate::server::Server;
use hookgate_providers::{ProviderOptions, Secret, SignRequest};
use std::time::{Duration, SystemTime};

const ASANA: &str = "\n[sources.asana]\nprovider = \"asana\"\n";
const HANDED_OVER: &str = "b6b9c5d3e1f04a7e9d2c8b1a0f3e5d7c";

struct App {
    server: Server,
    base: String,
    client: reqwest::Client,
}

async fn start(dir: &std::path::Path, store_url: &str) -> App {
    let config = Config::from_toml(&base_config(dir, store_url, "", ASANA)).expect("config");
    let server = Server::start(config).await.expect("server starts");
    App {
        base: format!("http://{}/webhooks/asana", server.addr()),
        server,
        client: reqwest::Client::new(),
    }
}

impl App {
    async fn hand_over(&self, secret: &str) -> reqwest::Response {
        self.client
            .post(&self.base)
            .header("X-Hook-Secret", secret)
            .send()
            .await
            .unwrap()
    }

    async fn deliver(&self, body: &[u8], secret: &str) -> reqwest::Response {
        let asana = hookgate_providers::build("asana", &ProviderOptions::default()).unwrap();
        let headers = asana
            .sign(
                &SignRequest {
                    method: "POST",
                    url: &self.base,
                    body,
                    event_id: "",
                },
                &Secret::new(secret),
                SystemTime::now(),
            )
            .unwrap();
        let mut req = self
            .client
            .post(&self.base)
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            req = req.header(name, value);
        }
        req.send().await.unwrap()
    }
}

fn batch(gids: &[&str]) -> Vec<u8> {
    let events: Vec<_> = gids
        .iter()
        .map(|gid| {
            serde_json::json!({"user": {"gid": "1", "resource_type": "user"},
                "created_at": "2026-01-02T03:04:05.678Z", "action": "changed",
                "resource": {"gid": gid, "resource_type": "task"}, "change": {"field": "name"}})
        })
        .collect();
    serde_json::json!({ "events": events })
        .to_string()
        .into_bytes()
}

async fn hand_over_story(store_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), store_url).await;

    // Nothing handed over yet: no delivery verifies, whoever signs it.
    let early = a.deliver(&batch(&["1"]), HANDED_OVER).await;
    assert_eq!(
        json_with_status(early, 401).await["code"],
        "invalid_signature"
    );

    // The handshake: 200, the same header echoed, an empty body, nothing in the inbox.
    let ok = a.hand_over(HANDED_OVER).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-hook-secret"], HANDED_OVER);
    assert!(ok.bytes().await.unwrap().is_empty());
    assert_eq!(a.server.store().count_events().await.unwrap(), 0);
    // Asana retrying the same hand-over is answered again; another secret is refused.
    assert_eq!(a.hand_over(HANDED_OVER).await.status(), 200);
    let other = a.hand_over("someone-else-first").await;
    assert!(other.headers().get("x-hook-secret").is_none());
    let problem = json_with_status(other, 409).await;
    assert_eq!(problem["code"], "handshake_secret_conflict");
    assert!(!problem.to_string().contains("someone-else-first"));
    // Only POST: a GET is not a handshake of Asana's.
    let get = a.client.get(&a.base).send().await.unwrap();
    assert_eq!(get.status(), 405);

    // Deliveries verify under the handed-over secret, one event per item.
    let body = batch(&["11", "12"]);
    let first = json_with_status(a.deliver(&body, HANDED_OVER).await, 200).await;
    assert_eq!(
        (first["accepted"].as_u64(), first["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    let again = json_with_status(a.deliver(&body, HANDED_OVER).await, 200).await;
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    let wrong = a.deliver(&batch(&["13"]), "someone-else-first").await;
    assert_eq!(
        json_with_status(wrong, 401).await["code"],
        "invalid_signature"
    );
    let mut tampered_body = batch(&["14"]);
    let signed = a.deliver(&tampered_body, HANDED_OVER).await;
    assert_eq!(signed.status(), 200);
    // Re-send the same signature over a changed body.
    let asana = hookgate_providers::build("asana", &ProviderOptions::default()).unwrap();
    let sig = asana
        .sign(
            &SignRequest {
                method: "POST",
                url: &a.base,
                body: &tampered_body,
                event_id: "",
            },
            &Secret::new(HANDED_OVER),
            SystemTime::now(),
        )
        .unwrap();
    tampered_body[20] ^= 0x01;
    let mut req = a.client.post(&a.base).body(tampered_body);
    for (name, value) in sig {
        req = req.header(name, value);
    }
    let tampered = req.send().await.unwrap();
    assert_eq!(
        json_with_status(tampered, 401).await["code"],
        "invalid_signature"
    );

    // A heartbeat is answered and stores nothing.
    let events_before = a.server.store().count_events().await.unwrap();
    let heartbeat = a.deliver(br#"{"events":[]}"#, HANDED_OVER).await;
    assert_eq!(heartbeat.status(), 200);
    assert_eq!(
        a.server.store().count_events().await.unwrap(),
        events_before
    );
    assert_eq!(events_before, 3);

    // Another replica on the same store verifies with the same secret, and so does this one
    // after a restart.
    let dir_b = tempfile::tempdir().unwrap();
    let b = start(dir_b.path(), store_url).await;
    let on_b = json_with_status(b.deliver(&batch(&["21"]), HANDED_OVER).await, 200).await;
    assert_eq!(on_b["accepted"].as_u64(), Some(1));
    let conflict = b.hand_over("someone-else-first").await;
    assert_eq!(
        conflict.status(),
        409,
        "first hand-over wins on every replica"
    );
    a.server.shutdown().await.unwrap();
    let a = start(dir.path(), store_url).await;
    let restarted = json_with_status(a.deliver(&batch(&["11"]), HANDED_OVER).await, 200).await;
    assert_eq!(restarted["duplicates"].as_u64(), Some(1));

    // An operator reset, then the webhook created again through replica A: B picks the new
    // secret up from the store on the first delivery that fails under its copy.
    assert!(a
        .server
        .store()
        .forget_handed_over_secret("asana")
        .await
        .unwrap());
    assert_eq!(a.hand_over("the-new-secret").await.status(), 200);
    let on_a = json_with_status(a.deliver(&batch(&["31"]), "the-new-secret").await, 200).await;
    assert_eq!(on_a["accepted"].as_u64(), Some(1));
    let old = a.deliver(&batch(&["32"]), HANDED_OVER).await;
    assert_eq!(old.status(), 401, "the old secret no longer verifies");
    tokio::time::sleep(hookgate::sources::HandedOver::RECHECK + Duration::from_millis(200)).await;
    let on_b = json_with_status(b.deliver(&batch(&["33"]), "the-new-secret").await, 200).await;
    assert_eq!(on_b["accepted"].as_u64(), Some(1));
    b.server.shutdown().await.unwrap();
    a.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asana_hand_over_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    hand_over_story(&sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asana_hand_over_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    hand_over_story(&pg.url).await;
}
