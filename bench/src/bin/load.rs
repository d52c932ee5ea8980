//! `hookgate-load`: a load generator that signs webhooks on the fly, the way a provider does.
//!
//! Every connection is one keep-alive HTTP/1.1 connection sending requests back to back. A
//! request is either a new event (a fresh event id, signed now), a byte-identical repeat of a
//! request this connection sent earlier (same body, same signature headers: what a provider's
//! retry looks like), or a repeat with a changed body (same event id, another body, signed
//! again). Latencies go into an HDR histogram; requests that complete during the warm-up are
//! not counted. It prints throughput, p50/p99/p99.9/max, and counts by status and by answer
//! (`accepted` / `duplicate` from hookgate's JSON answer), as text or as one JSON object.
//!
//!     hookgate-load --url http://127.0.0.1:8080/webhooks/stripe --provider stripe \
//!         --secret whsec_... --connections 64 --duration 10 --repeat 0.1

use anyhow::{bail, Context};
use base64::Engine;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// mimalloc, as in the gateway and the baseline server: with glibc's malloc the ring of kept
/// requests (for repeats) fragmented the heap, and at 10% repeats the generator spent a third
/// more CPU per request (`unlink_chunk`, `malloc_consolidate`) on the cores it shares with the
/// server under test.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum SignAs {
    /// `Stripe-Signature: t=…,v1=hex(HMAC-SHA256(secret, "t.body"))`; id in the body.
    Stripe,
    /// `webhook-id` / `webhook-timestamp` / `webhook-signature` (Svix, Standard Webhooks).
    StandardWebhooks,
    /// No signature (for a baseline server that checks nothing).
    None,
}

#[derive(Parser, Debug)]
#[command(name = "hookgate-load", about = "Signed webhook load generator")]
struct Args {
    /// Target URL (http only), e.g. http://127.0.0.1:8080/webhooks/stripe.
    #[arg(long)]
    url: String,
    /// How to sign each request.
    #[arg(long, value_enum, default_value = "stripe")]
    provider: SignAs,
    /// The signing secret as configured for the source (`whsec_…` for both schemes).
    #[arg(long, default_value = "whsec_bench")]
    secret: String,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Runtime worker threads of the load generator.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Measured seconds (after the warm-up). Ignored when --requests is given.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Send exactly this many requests in all (warm-up included), then stop.
    #[arg(long)]
    requests: Option<usize>,
    /// Seconds at the start whose requests are not counted.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Share of requests that are byte-identical repeats of an earlier request.
    #[arg(long, default_value_t = 0.10)]
    repeat: f64,
    /// Share of requests that repeat an earlier event id with a changed body.
    #[arg(long, default_value_t = 0.0)]
    changed_repeat: f64,
    /// Body size in bytes (padded JSON).
    #[arg(long, default_value_t = 1024)]
    body_size: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also print answers per second of the run (2xx / 503 / other), warm-up included.
    #[arg(long)]
    timeline: bool,
    /// A label printed with the figures.
    #[arg(long, default_value = "")]
    label: String,
}

/// One request as sent: repeats resend exactly these bytes.
struct Prepared {
    event_id: Arc<str>,
    body: Bytes,
    headers: Vec<(&'static str, String)>,
}

struct Signer {
    scheme: SignAs,
    key: Vec<u8>,
    body_size: usize,
    /// `body_size` bytes of padding, sliced for each body.
    pad: String,
}

impl Signer {
    fn new(scheme: SignAs, secret: &str, body_size: usize) -> anyhow::Result<Self> {
        let key = match scheme {
            // Stripe signs with the whole secret string as the key.
            SignAs::Stripe | SignAs::None => secret.as_bytes().to_vec(),
            SignAs::StandardWebhooks => {
                let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .context("a standard-webhooks secret is whsec_ + base64")?
            }
        };
        Ok(Signer {
            scheme,
            key,
            body_size,
            pad: "x".repeat(body_size),
        })
    }

    fn body(&self, event_id: &str, variant: u32) -> Bytes {
        let head = format!(
            "{{\"id\":\"{event_id}\",\"object\":\"event\",\"type\":\"payment_intent.succeeded\",\
             \"attempt\":{variant},\"data\":{{\"object\":{{\"amount\":2000,\"currency\":\"usd\",\"pad\":\""
        );
        let tail = "\"}}}";
        let pad = self.body_size.saturating_sub(head.len() + tail.len());
        let mut b = String::with_capacity(head.len() + pad + tail.len());
        b.push_str(&head);
        b.push_str(&self.pad[..pad]);
        b.push_str(tail);
        Bytes::from(b)
    }

    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }

    fn prepare(&self, event_id: Arc<str>, variant: u32) -> Prepared {
        let body = self.body(&event_id, variant);
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .to_string();
        let mut headers = vec![("content-type", "application/json".to_string())];
        match self.scheme {
            SignAs::Stripe => {
                let sig = hex::encode(self.mac(&[ts.as_bytes(), b".", &body]));
                headers.push(("stripe-signature", format!("t={ts},v1={sig}")));
            }
            SignAs::StandardWebhooks => {
                let sig = base64::engine::general_purpose::STANDARD.encode(self.mac(&[
                    event_id.as_bytes(),
                    b".",
                    ts.as_bytes(),
                    b".",
                    &body,
                ]));
                headers.push(("webhook-id", event_id.to_string()));
                headers.push(("webhook-timestamp", ts));
                headers.push(("webhook-signature", format!("v1,{sig}")));
            }
            SignAs::None => {}
        }
        Prepared {
            event_id,
            body,
            headers,
        }
    }
}

#[derive(Default)]
struct Tally {
    hist: Option<Histogram<u64>>,
    statuses: BTreeMap<u16, u64>,
    /// Non-2xx answers by their problem+json `code`.
    codes: BTreeMap<String, u64>,
    accepted: u64,
    duplicate: u64,
    other_answer: u64,
    /// `accepted` answers including the warm-up's (what a handler should eventually receive).
    accepted_all: u64,
    errors: u64,
    sent_new: u64,
    sent_repeat: u64,
    sent_changed: u64,
    first_measured: Option<Instant>,
    last_done: Option<Instant>,
    /// Per second since the start: [2xx, 503, other status or connection error].
    timeline: Vec<[u64; 3]>,
}

impl Tally {
    fn tick(&mut self, second: usize, column: usize) {
        if self.timeline.len() <= second {
            self.timeline.resize(second + 1, [0; 3]);
        }
        self.timeline[second][column] += 1;
    }
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        match (&mut self.hist, o.hist) {
            (Some(a), Some(b)) => a.add(b).expect("same histogram bounds"),
            (a @ None, b) => *a = b,
            _ => {}
        }
        for (s, n) in o.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        for (c, n) in o.codes {
            *self.codes.entry(c).or_default() += n;
        }
        self.accepted += o.accepted;
        self.duplicate += o.duplicate;
        self.other_answer += o.other_answer;
        self.accepted_all += o.accepted_all;
        self.errors += o.errors;
        self.sent_new += o.sent_new;
        self.sent_repeat += o.sent_repeat;
        self.sent_changed += o.sent_changed;
        self.last_done = self.last_done.max(o.last_done);
        if self.timeline.len() < o.timeline.len() {
            self.timeline.resize(o.timeline.len(), [0; 3]);
        }
        for (mine, theirs) in self.timeline.iter_mut().zip(o.timeline) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
    }
}

struct Plan {
    authority: String,
    path: String,
    addr: String,
    signer: Signer,
    repeat: f64,
    changed_repeat: f64,
    run_id: String,
    start: Instant,
    warm_end: Instant,
    deadline: Option<Instant>,
    remaining: Option<AtomicUsize>,
}

impl Plan {
    /// Claim the right to send one more request.
    fn take(&self) -> bool {
        if let Some(d) = self.deadline {
            if Instant::now() >= d {
                return false;
            }
        }
        match &self.remaining {
            None => true,
            Some(r) => r
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

/// A connection's memory of what it sent, for repeats.
const RING: usize = 256;

async fn connection(plan: Arc<Plan>, conn_no: usize) -> Tally {
    let mut tally = Tally {
        hist: Some(Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")),
        ..Tally::default()
    };
    // Repeats share the kept request (no copy of its body or headers).
    let mut ring: Vec<Arc<Prepared>> = Vec::with_capacity(RING);
    let mut seq: u64 = 0;
    let mut rng = rand::rngs::SmallRng::from_rng(&mut rand::rng());
    'reconnect: loop {
        let stream = match tokio::net::TcpStream::connect(&plan.addr).await {
            Ok(s) => s,
            Err(_) => {
                tally.errors += 1;
                if !plan.take() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await
        else {
            tally.errors += 1;
            continue;
        };
        tokio::spawn(conn);
        loop {
            if !plan.take() {
                break 'reconnect;
            }
            let roll: f64 = rng.random();
            let prepared = if !ring.is_empty() && roll < plan.repeat {
                tally.sent_repeat += 1;
                ring[rng.random_range(0..ring.len())].clone()
            } else if !ring.is_empty() && roll < plan.repeat + plan.changed_repeat {
                tally.sent_changed += 1;
                let of = ring[rng.random_range(0..ring.len())].event_id.clone();
                Arc::new(plan.signer.prepare(of, rng.random_range(1..1_000_000)))
            } else {
                tally.sent_new += 1;
                seq += 1;
                let id: Arc<str> = format!("evt_{}_{conn_no}_{seq}", plan.run_id).into();
                let p = Arc::new(plan.signer.prepare(id, 0));
                // Kept only when repeats are asked for: with large bodies and many
                // connections the ring would hold gigabytes.
                if plan.repeat + plan.changed_repeat > 0.0 {
                    if ring.len() < RING {
                        ring.push(p.clone());
                    } else {
                        ring[(seq as usize) % RING] = p.clone();
                    }
                }
                p
            };
            let mut req = hyper::Request::post(plan.path.as_str())
                .header("host", plan.authority.as_str())
                .header("user-agent", "hookgate-load");
            for (k, v) in &prepared.headers {
                req = req.header(*k, v.as_str());
            }
            let req = req
                .body(Full::new(prepared.body.clone()))
                .expect("valid request");
            let started = Instant::now();
            let answer = async {
                let resp = sender.send_request(req).await?;
                let status = resp.status().as_u16();
                let body = resp.into_body().collect().await?.to_bytes();
                Ok::<_, hyper::Error>((status, body))
            }
            .await;
            let done = Instant::now();
            let second = (done - plan.start).as_secs() as usize;
            let (status, body) = match answer {
                Ok(a) => a,
                Err(_) => {
                    tally.errors += 1;
                    tally.tick(second, 2);
                    continue 'reconnect;
                }
            };
            tally.tick(
                second,
                match status {
                    200..=299 => 0,
                    503 => 1,
                    _ => 2,
                },
            );
            let accepted = contains(&body, br#""status":"accepted""#);
            tally.accepted_all += u64::from(accepted);
            if done < plan.warm_end {
                continue;
            }
            tally
                .first_measured
                .get_or_insert(started.max(plan.warm_end));
            tally.last_done = Some(done);
            let us = (done - started).as_micros().max(1) as u64;
            if let Some(h) = tally.hist.as_mut() {
                h.saturating_record(us);
            }
            *tally.statuses.entry(status).or_default() += 1;
            if !(200..300).contains(&status) {
                *tally.codes.entry(problem_code(&body)).or_default() += 1;
            }
            if accepted {
                tally.accepted += 1;
            } else if contains(&body, br#""status":"duplicate""#) {
                tally.duplicate += 1;
            } else {
                tally.other_answer += 1;
            }
        }
    }
    tally
}

/// The `code` member of a problem+json answer, or `-`.
fn problem_code(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_string))
        .unwrap_or_else(|| "-".into())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let Some(rest) = args.url.strip_prefix("http://") else {
        bail!("--url must be http://host:port/path");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    if args.repeat + args.changed_repeat >= 1.0 {
        bail!("--repeat plus --changed-repeat must stay below 1");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    let run_id = format!(
        "{:x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros()
    );
    let start = Instant::now();
    let warmup = Duration::from_secs_f64(args.warmup.max(0.0));
    let plan = Arc::new(Plan {
        authority: authority.to_string(),
        path: path.to_string(),
        addr,
        signer: Signer::new(args.provider, &args.secret, args.body_size)?,
        repeat: args.repeat,
        changed_repeat: args.changed_repeat,
        run_id,
        start,
        warm_end: start + warmup,
        deadline: args
            .requests
            .is_none()
            .then(|| start + warmup + Duration::from_secs_f64(args.duration)),
        remaining: args.requests.map(AtomicUsize::new),
    });
    let tally = rt.block_on(async {
        let tasks: Vec<_> = (0..args.connections.max(1))
            .map(|i| tokio::spawn(connection(plan.clone(), i)))
            .collect();
        let mut all = Tally::default();
        let mut first: Option<Instant> = None;
        for t in tasks {
            let t = t.await.expect("connection task");
            first = match (first, t.first_measured) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            all.merge(t);
        }
        all.first_measured = first;
        all
    });
    report(&args, &tally);
    Ok(())
}

fn report(args: &Args, t: &Tally) {
    let hist = t.hist.as_ref();
    let n = hist.map(|h| h.len()).unwrap_or(0);
    let secs = match (t.first_measured, t.last_done) {
        (Some(a), Some(b)) if b > a => (b - a).as_secs_f64(),
        _ => 0.0,
    };
    let rate = if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let q = |x: f64| {
        hist.map(|h| h.value_at_quantile(x) as f64 / 1000.0)
            .unwrap_or(0.0)
    };
    let max = hist.map(|h| h.max() as f64 / 1000.0).unwrap_or(0.0);
    let non_2xx: u64 = t
        .statuses
        .iter()
        .filter(|(s, _)| !(200..300).contains(*s))
        .map(|(_, n)| n)
        .sum();
    if args.json {
        let statuses: serde_json::Map<String, serde_json::Value> = t
            .statuses
            .iter()
            .map(|(s, n)| (s.to_string(), (*n).into()))
            .collect();
        let v = serde_json::json!({
            "label": args.label,
            "requests": n,
            "seconds": secs,
            "rps": rate,
            "p50_ms": q(0.50), "p99_ms": q(0.99), "p999_ms": q(0.999), "max_ms": max,
            "statuses": statuses,
            "codes": t.codes,
            "non_2xx": non_2xx,
            "errors": t.errors,
            "accepted": t.accepted, "duplicate": t.duplicate, "other_answer": t.other_answer,
            "accepted_all": t.accepted_all,
            "sent": {"new": t.sent_new, "repeat": t.sent_repeat, "changed_repeat": t.sent_changed},
        });
        let mut v = v;
        if args.timeline {
            v["timeline"] = serde_json::json!(t.timeline);
        }
        println!("{v}");
        return;
    }
    println!(
        "{} {n} requests in {secs:.2} s: {rate:.0} req/s; latency ms p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
        args.label,
        q(0.50),
        q(0.99),
        q(0.999),
        max
    );
    let statuses: Vec<String> = t
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    println!(
        "  statuses {{{}}}; answers accepted {} duplicate {} other {}; connection errors {}",
        statuses.join(", "),
        t.accepted,
        t.duplicate,
        t.other_answer,
        t.errors
    );
    println!(
        "  sent (all, warm-up included): new {} byte-identical repeats {} changed-body repeats {}",
        t.sent_new, t.sent_repeat, t.sent_changed
    );
    if args.timeline {
        for (i, [ok, unavailable, other]) in t.timeline.iter().enumerate() {
            println!("  second {i:>3}: 2xx {ok:>7}  503 {unavailable:>7}  other {other:>5}");
        }
    }
}
