//! Hostile input at the edge, against the running server (issue 10): request smuggling on raw
//! TCP, repeated credential headers for every built-in provider, and rate limits.

mod common;

use common::*;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn stripe_event(id: &str) -> String {
    format!(r#"{{"id":"{id}","object":"event","type":"payment_intent.succeeded"}}"#)
}

/// A correctly signed Stripe request head (without the framing headers) and its body.
fn stripe_head(body: &str) -> String {
    let mut head = String::from("POST /webhooks/stripe HTTP/1.1\r\nhost: hookgate\r\n");
    for (k, v) in sign(
        "stripe",
        STRIPE_SECRET,
        body.as_bytes(),
        "",
        SystemTime::now(),
    ) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("content-type: application/json\r\n");
    head
}

fn chunked(body: &str) -> String {
    format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len())
}

/// Read one HTTP/1.1 response (head and Content-Length body) off `conn`.
async fn read_response(conn: &mut TcpStream) -> (u16, String, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut byte))
            .await
            .expect("a response within 5 s")
            .unwrap();
        assert!(n > 0, "connection closed before a response: {buf:?}");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head[9..12].parse().unwrap();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).await.unwrap();
    (
        status,
        head.to_ascii_lowercase(),
        String::from_utf8(body).unwrap(),
    )
}

/// The peer closes: EOF (or a reset) within 5 s, nothing more answered.
async fn assert_closed(conn: &mut TcpStream) {
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut rest)).await;
    match read {
        Ok(Ok(_)) => assert!(
            rest.is_empty(),
            "nothing follows the 400: {}",
            String::from_utf8_lossy(&rest)
        ),
        Ok(Err(_)) => {} // reset: closed as well
        Err(_) => panic!("the connection stayed open after the 400"),
    }
}

#[tokio::test]
async fn length_and_transfer_encoding_together_are_400_and_close_in_either_order() {
    let app = spawn_app().await;
    let body = stripe_event("evt_smuggle");
    let orders = [
        format!(
            "content-length: {}\r\ntransfer-encoding: chunked\r\n",
            chunked(&body).len()
        ),
        format!(
            "transfer-encoding: chunked\r\ncontent-length: {}\r\n",
            chunked(&body).len()
        ),
    ];
    for framing in &orders {
        let mut conn = TcpStream::connect(app.server.addr()).await.unwrap();
        // A second, smuggled request rides behind: it must never be answered.
        let wire = format!(
            "{}{framing}\r\n{}GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n",
            stripe_head(&body),
            chunked(&body)
        );
        conn.write_all(wire.as_bytes()).await.unwrap();
        let (status, head, problem) = read_response(&mut conn).await;
        assert_eq!(status, 400, "{framing}: {problem}");
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        assert!(head.contains("connection: close"), "{head}");
        let p: serde_json::Value = serde_json::from_str(&problem).unwrap();
        assert_eq!(p["code"], "ambiguous_framing", "{framing}");
        assert_closed(&mut conn).await;
    }
    assert_eq!(app.server.store().count_events().await.unwrap(), 0);
}

#[tokio::test]
async fn other_ambiguous_framings_are_problem_json_and_close() {
    let app = spawn_app().await;
    let body = stripe_event("evt_framing");
    let n = body.len();
    let cases = [
        (
            format!("transfer-encoding: gzip, chunked\r\n\r\n{}", chunked(&body)),
            "ambiguous_framing",
        ),
        (
            format!(
                "transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n{}",
                chunked(&body)
            ),
            "ambiguous_framing",
        ),
        (
            format!("transfer-encoding: identity\r\n\r\n{body}"),
            "ambiguous_framing",
        ),
        (
            format!(
                "content-length: {n}\r\ncontent-length: {}\r\n\r\n{body}",
                n + 1
            ),
            "ambiguous_framing",
        ),
        (
            format!("content-length: +{n}\r\n\r\n{body}"),
            "ambiguous_framing",
        ),
        (
            format!("bad header name: 1\r\ncontent-length: {n}\r\n\r\n{body}"),
            "bad_request",
        ),
    ];
    for (rest, code) in &cases {
        let mut conn = TcpStream::connect(app.server.addr()).await.unwrap();
        let wire = format!("{}{rest}", stripe_head(&body));
        conn.write_all(wire.as_bytes()).await.unwrap();
        let (status, head, problem) = read_response(&mut conn).await;
        assert_eq!(status, 400, "{rest}: {problem}");
        assert!(head.contains("application/problem+json"), "{rest}: {head}");
        let p: serde_json::Value = serde_json::from_str(&problem).unwrap();
        assert_eq!(p["code"], *code, "{rest}");
        assert_closed(&mut conn).await;
    }
    // HTTP/1.0 cannot be chunked at all.
    let mut conn = TcpStream::connect(app.server.addr()).await.unwrap();
    let head = stripe_head(&body).replace("HTTP/1.1", "HTTP/1.0");
    let wire = format!("{head}transfer-encoding: chunked\r\n\r\n{}", chunked(&body));
    conn.write_all(wire.as_bytes()).await.unwrap();
    let (status, _, problem) = read_response(&mut conn).await;
    assert_eq!(status, 400, "{problem}");
    assert!(problem.contains("ambiguous_framing"), "{problem}");
    assert_eq!(app.server.store().count_events().await.unwrap(), 0);
}

#[tokio::test]
async fn sound_requests_keep_their_connection_alive_chunked_or_not() {
    let app = spawn_app().await;
    let mut conn = TcpStream::connect(app.server.addr()).await.unwrap();
    // Sequential requests on one connection, then two pipelined in one write.
    for i in 0..3 {
        let body = stripe_event(&format!("evt_keepalive_{i}"));
        let wire = if i % 2 == 0 {
            format!(
                "{}content-length: {}\r\n\r\n{body}",
                stripe_head(&body),
                body.len()
            )
        } else {
            format!(
                "{}transfer-encoding: chunked\r\n\r\n{}",
                stripe_head(&body),
                chunked(&body)
            )
        };
        conn.write_all(wire.as_bytes()).await.unwrap();
        let (status, head, answer) = read_response(&mut conn).await;
        assert_eq!(status, 200, "{answer}");
        assert!(!head.contains("connection: close"), "{head}");
    }
    let (a, b) = (stripe_event("evt_pipe_a"), stripe_event("evt_pipe_b"));
    let wire = format!(
        "{}transfer-encoding: chunked\r\n\r\n{}{}content-length: {}\r\n\r\n{b}",
        stripe_head(&a),
        chunked(&a),
        stripe_head(&b),
        b.len()
    );
    conn.write_all(wire.as_bytes()).await.unwrap();
    for _ in 0..2 {
        let (status, _, answer) = read_response(&mut conn).await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(app.server.store().count_events().await.unwrap(), 5);
}

// ---------------------------------------------------------------------------------------------
// Repeated credential headers

const SYMMETRIC_SECRET: &str = "edge-test-secret-value";
/// For schemes whose key must be a `whsec_` base64 key.
const WHSEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// For schemes whose key is hex (Adyen).
const HEX_SECRET: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";

/// A signed request for `provider` at `url`, with the secret it verifies under; `None` when no
/// symmetric test secret works for it (asymmetric schemes), or it needs options a plain source
/// cannot have.
fn signed_for(
    provider: &dyn hookgate_providers::Provider,
    url: &str,
    event_id: &str,
) -> Option<(&'static str, hookgate_providers::SignedRequest, Vec<u8>)> {
    use hookgate_providers::{Secret, SignRequest};
    for secret in [SYMMETRIC_SECRET, WHSEC_SECRET, HEX_SECRET] {
        let key = Secret::new(secret.as_bytes());
        if provider.check_secret(&key).is_err() {
            continue;
        }
        let body = provider.example_body(event_id, "edge.test");
        let req = SignRequest {
            method: "POST",
            url,
            body: &body,
            event_id,
        };
        if let Ok(signed) = provider.sign_request(&req, &key, SystemTime::now()) {
            let body = signed.body.clone().unwrap_or(body);
            return Some((secret, signed, body));
        }
    }
    None
}

/// Every signed header verification depends on (dropping it fails verification) is declared
/// as a credential header, so the repeat rule cannot miss one.
fn assert_only_declared_headers_matter(
    provider: &dyn hookgate_providers::Provider,
    secret: &str,
    url: &str,
    signed: &hookgate_providers::SignedRequest,
    body: &[u8],
) {
    use hookgate_providers::{Request, Secret, Secrets};
    let url = match &signed.query {
        Some(q) => hookgate_providers::append_query(url, q),
        None => url.to_string(),
    };
    let secrets = Secrets::new(vec![Secret::new(secret.as_bytes())]);
    let verifies = |skip: Option<&str>| {
        let mut map = http::HeaderMap::new();
        for (k, v) in &signed.headers {
            if Some(k.as_str()) != skip {
                map.append(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    http::HeaderValue::from_str(v).unwrap(),
                );
            }
        }
        let req = Request {
            method: "POST",
            url: &url,
            headers: &map,
            body,
        };
        provider.verify(&req, &secrets, SystemTime::now()).is_ok()
    };
    let name = provider.name();
    assert!(verifies(None), "{name}: the signed request verifies");
    for (k, _) in &signed.headers {
        let declared = provider
            .credential_headers()
            .iter()
            .any(|c| c.eq_ignore_ascii_case(k));
        assert!(
            declared || verifies(Some(k)),
            "{name}: verification reads `{k}`, which is not a declared credential header"
        );
    }
}

#[tokio::test]
async fn a_repeated_credential_header_is_refused_for_every_provider_in_either_order() {
    use hookgate_providers::{build, catalogue, known_providers};
    let secrets = tempfile::tempdir().unwrap();
    let mut extra = String::new();
    let mut covered = Vec::new();
    let mut not_covered = Vec::new();
    // Build each provider as its source will be, to sign its requests.
    let mut plans = Vec::new();
    for name in known_providers() {
        let opts = catalogue::example_options(name);
        let provider = build(name, &opts).unwrap();
        if provider.credential_headers().is_empty() {
            not_covered.push(format!("{name} (signs inside the body)"));
            continue;
        }
        // Options a source cannot express in this plain table are left to the unit tests.
        if opts.generic.is_some() || !opts.topic_arns.is_empty() {
            not_covered.push(format!("{name} (needs extra options)"));
            continue;
        }
        plans.push((name, provider));
    }
    // The URL the gateway reconstructs is `http://{Host}/webhooks/{source}`: sign for a fixed
    // Host header so signatures over the URL verify.
    let host = "edge.test";
    let mut requests = Vec::new();
    for (name, provider) in &plans {
        let source = format!("p_{}", name.replace('-', "_"));
        let url = format!("http://{host}/webhooks/{source}");
        let Some((secret, signed, body)) = signed_for(provider.as_ref(), &url, "evt-edge-1") else {
            not_covered.push(format!("{name} (no symmetric test secret)"));
            continue;
        };
        assert_only_declared_headers_matter(provider.as_ref(), secret, &url, &signed, &body);
        let path = secrets.path().join(&source);
        std::fs::write(&path, secret).unwrap();
        extra.push_str(&format!(
            "\n[sources.{source}]\nprovider = \"{name}\"\nsecrets = [\"file:{}\"]\n",
            path.display()
        ));
        requests.push((*name, source, signed, body));
    }
    let app = spawn_app_with("", &extra).await;
    let mut stored = 0;
    for (name, source, signed, body) in &requests {
        let provider = build(name, &catalogue::example_options(name)).unwrap();
        let mut url = app.url(&format!("/webhooks/{source}"));
        if let Some(q) = &signed.query {
            url = hookgate_providers::append_query(&url, q);
        }
        let post = |headers: Vec<(String, String)>| {
            let mut req = app
                .client
                .post(&url)
                .header("host", host)
                .body(body.clone());
            for (k, v) in headers {
                req = req.header(k, v);
            }
            req.send()
        };
        let credential = |k: &str| {
            provider
                .credential_headers()
                .iter()
                .any(|c| c.eq_ignore_ascii_case(k))
        };
        let repeatable: Vec<&(String, String)> = signed
            .headers
            .iter()
            .filter(|(k, _)| credential(k))
            .collect();
        if repeatable.is_empty() {
            // Adyen's payment notifications carry their HMAC inside the body.
            not_covered.push(format!("{name} (this request is signed inside the body)"));
            json_with_status(post(signed.headers.clone()).await.unwrap(), 200).await;
            stored += 1;
            continue;
        }
        for (k, v) in &repeatable {
            let garbage = "0".repeat(v.len().max(8));
            for valid_first in [true, false] {
                let mut headers: Vec<(String, String)> = Vec::new();
                for (hk, hv) in &signed.headers {
                    if hk == k {
                        let pair = [(hk.clone(), hv.clone()), (hk.clone(), garbage.clone())];
                        let [a, b] = pair;
                        if valid_first {
                            headers.extend([a, b]);
                        } else {
                            headers.extend([b, a]);
                        }
                    } else {
                        headers.push((hk.clone(), hv.clone()));
                    }
                }
                let resp = post(headers).await.unwrap();
                let p = json_with_status(resp, 401).await;
                assert_eq!(
                    (p["code"].as_str(), p["reason"].as_str()),
                    (
                        Some("invalid_signature"),
                        Some("repeated_credential_header")
                    ),
                    "{name}: {k} repeated, valid first: {valid_first}"
                );
            }
        }
        // The same request with each header once is accepted.
        let resp = post(signed.headers.clone()).await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 200, "{name}: the single valid request: {text}");
        stored += 1;
        covered.push(*name);
    }
    assert_eq!(
        app.server.store().count_events().await.unwrap(),
        stored,
        "only the single-header requests were stored"
    );
    eprintln!(
        "repeated credential headers: {} providers covered end to end; not here: {}",
        covered.len(),
        not_covered.join(", ")
    );
    assert!(covered.len() >= 40, "covered only {covered:?}");
}

// ---------------------------------------------------------------------------------------------
// Rate limits

/// A client whose connections come from `ip` (any 127.0.0.0/8 address reaches the server).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn rate_limited_count(app: &TestApp, source: &str) -> u64 {
    let text = app.metrics_text().await;
    text.lines()
        .filter(|l| {
            l.starts_with("hookgate_ingest_rejections_total")
                && l.contains(&format!("source=\"{source}\""))
                && l.contains("reason=\"rate_limited\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test]
async fn a_source_over_its_rate_limit_gets_429_with_retry_after_then_recovers() {
    let extra = "\n[sources.limited]\nprovider = \"stripe\"\nsecrets = [\"env:HOOKGATE_EDGE_TEST_STRIPE\"]\nrate_limit = { per_second = 2, burst = 3 }\n";
    std::env::set_var("HOOKGATE_EDGE_TEST_STRIPE", STRIPE_SECRET);
    let app = spawn_app_with("", extra).await;
    let post = |id: &str| {
        let body = stripe_event(id);
        let h = sign(
            "stripe",
            STRIPE_SECRET,
            body.as_bytes(),
            "",
            SystemTime::now(),
        );
        let app = &app;
        async move { app.post("limited", body, &h).await }
    };
    for i in 0..3 {
        json_with_status(post(&format!("evt_rl_{i}")).await, 200).await;
    }
    let resp = post("evt_rl_over").await;
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    let p = json_with_status(resp, 429).await;
    assert_eq!(p["code"], "rate_limited");
    // Other sources are not limited by it.
    json_with_status(app.post_stripe(&stripe_event("evt_rl_other")).await, 200).await;
    assert_eq!(rate_limited_count(&app, "limited").await, 1);
    // After the window, the refused event is accepted when retried.
    tokio::time::sleep(Duration::from_millis(600)).await;
    json_with_status(post("evt_rl_over").await, 200).await;
    assert_eq!(app.server.store().count_events().await.unwrap(), 5);
}

#[tokio::test]
async fn a_bad_signature_flood_from_one_address_is_429_before_verification() {
    let app = spawn_app_with_server("failed_auth_per_ip = { per_second = 1, burst = 5 }", "").await;
    let base = app.base.clone();
    let attacker = client_from("127.0.0.2");
    let provider = client_from("127.0.0.3");
    let bad = |client: &reqwest::Client, id: &str| {
        client
            .post(format!("{base}/webhooks/stripe"))
            .header("stripe-signature", "t=1,v1=00")
            .body(stripe_event(id))
            .send()
    };
    let good = |client: &reqwest::Client, id: &str| {
        let body = stripe_event(id);
        let mut req = client
            .post(format!("{base}/webhooks/stripe"))
            .body(body.clone());
        for (k, v) in sign(
            "stripe",
            STRIPE_SECRET,
            body.as_bytes(),
            "",
            SystemTime::now(),
        ) {
            req = req.header(k, v);
        }
        req.send()
    };
    let mut answers = std::collections::BTreeMap::new();
    for i in 0..20 {
        let resp = bad(&attacker, &format!("evt_flood_{i}")).await.unwrap();
        let status = resp.status().as_u16();
        if status == 429 {
            assert!(resp.headers().contains_key("retry-after"));
            let p: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(p["code"], "rate_limited");
        }
        *answers.entry(status).or_insert(0) += 1;
    }
    assert_eq!(
        answers.get(&401),
        Some(&5),
        "the burst is verified: {answers:?}"
    );
    assert_eq!(
        answers.get(&429),
        Some(&15),
        "then refused unverified: {answers:?}"
    );
    // Genuine deliveries from another address of the same source still pass…
    for i in 0..3 {
        let resp = good(&provider, &format!("evt_genuine_{i}")).await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    // …while the flooding address is refused even with a valid signature, until it refills.
    assert_eq!(
        good(&attacker, "evt_attacker_valid")
            .await
            .unwrap()
            .status(),
        429
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        good(&attacker, "evt_attacker_valid")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(app.server.store().count_events().await.unwrap(), 4);
}

/// A Stripe event padded to `len` bytes.
fn padded_event(id: &str, len: usize) -> String {
    let head =
        format!(r#"{{"id":"{id}","object":"event","type":"payment_intent.succeeded","pad":""#);
    let pad = len - head.len() - 2;
    format!("{head}{}\"}}", "x".repeat(pad))
}

/// Bodies being read hold the edge's byte budget (`server.max_inflight_body_bytes`): while
/// slow clients hold it, another request is refused at once with 503 `overloaded` and
/// `Retry-After`, without its body being read; once they finish, it gets in. Memory for
/// bodies stays bounded by configuration however many clients send at once.
#[tokio::test]
async fn bodies_past_the_in_flight_budget_are_refused_at_once_until_the_budget_frees() {
    let app =
        spawn_app_with_server("max_inflight_body_bytes = 50000", "retry_after = \"3s\"").await;
    let server = &app.server;
    let request = |body: &str| {
        format!(
            "{}content-length: {}\r\n\r\n{body}",
            stripe_head(body),
            body.len()
        )
    };

    // Two slow clients have declared 20,000-byte bodies and sent 100 bytes of each.
    let mut slow = Vec::new();
    for i in 0..2 {
        let wire = request(&padded_event(&format!("evt_slow_{i}"), 20_000));
        let mut conn = TcpStream::connect(server.addr()).await.unwrap();
        let cut = wire.len() - 20_000 + 100;
        conn.write_all(&wire.as_bytes()[..cut]).await.unwrap();
        slow.push((conn, wire[cut..].to_string()));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // 40,000 held, as /metrics shows: another 20,000 would pass 50,000.
    let metrics = || async {
        reqwest::get(format!("http://{}/metrics", server.addr()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let text = metrics().await;
    assert!(
        text.contains("hookgate_body_bytes_held{stage=\"reading\"} 40000"),
        "{text}"
    );
    let third = request(&padded_event("evt_third", 20_000));
    let mut conn = TcpStream::connect(server.addr()).await.unwrap();
    let started = std::time::Instant::now();
    conn.write_all(third.as_bytes()).await.unwrap();
    let (status, head, body) = read_response(&mut conn).await;
    assert_eq!(status, 503, "{body}");
    assert!(head.contains("retry-after: 3"), "{head}");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "overloaded");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused at once, not after the slow clients"
    );

    // The slow clients finish: both accepted, and the budget is free again.
    for (mut conn, rest) in slow {
        conn.write_all(rest.as_bytes()).await.unwrap();
        let (status, _, body) = read_response(&mut conn).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"accepted\""), "{body}");
    }
    let mut conn = TcpStream::connect(server.addr()).await.unwrap();
    conn.write_all(third.as_bytes()).await.unwrap();
    let (status, _, body) = read_response(&mut conn).await;
    assert_eq!(
        status, 200,
        "the refused event gets in when retried: {body}"
    );
    let text = metrics().await;
    for stage in ["reading", "queued"] {
        let line = format!("hookgate_body_bytes_held{{stage=\"{stage}\"}} 0");
        assert!(text.contains(&line), "{line} in {text}");
    }
}

/// A connection buffers as much of a request head as `server.max_header_bytes` allows (the
/// read buffer follows it): with the limit raised to 200,000 bytes, a request carrying a
/// 150,000-byte header is served, and one past the limit is 431 problem+json.
#[tokio::test]
async fn a_raised_header_limit_is_honoured_by_the_connection_buffer() {
    let app = spawn_app_with_server("max_header_bytes = 200000", "").await;
    let server = &app.server;
    for (len, expected) in [(150_000, 200), (260_000, 431)] {
        let body = stripe_event(&format!("evt_big_head_{len}"));
        let wire = format!(
            "{}x-padding: {}\r\ncontent-length: {}\r\n\r\n{body}",
            stripe_head(&body),
            "a".repeat(len),
            body.len()
        );
        let mut conn = TcpStream::connect(server.addr()).await.unwrap();
        conn.write_all(wire.as_bytes()).await.unwrap();
        let (status, head, answer) = read_response(&mut conn).await;
        assert_eq!(status, expected, "{len}-byte header: {answer}");
        if expected == 431 {
            assert!(head.contains("application/problem+json"), "{head}");
            assert!(answer.contains("headers_too_large"), "{answer}");
        }
    }
}
