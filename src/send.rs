//! `hookgate send`: craft a correctly signed webhook for a configured source, send it, and
//! print the answer — the local equivalent of a provider's "send test event" button.
//!
//! Signing goes through the source's own provider, with its first configured secret, so what
//! `send` produces is exactly what the gateway verifies. `--tamper` flips one body byte after
//! signing and `--age` back-dates the signature, to see rejections. `--handshake` performs the
//! provider's handshake instead (Meta's GET hub.challenge, Trello's HEAD, Twitch's signed
//! verification, …) and checks that the answer is byte for byte what the provider expects.

use crate::config::Config;
use anyhow::{anyhow, bail, Context};
use clap::Args;
use hookgate_providers::SignRequest;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The configured source to send to (e.g. `stripe`).
    pub source: String,
    /// Body text; defaults to the provider's example event.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the body from a file.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// Event id (for providers that carry it in a header, and for the example body).
    #[arg(long)]
    pub event_id: Option<String>,
    /// Event type for the example body.
    #[arg(long, default_value = "hookgate.test")]
    pub event_type: String,
    /// Base URL of the gateway; defaults to http://{server.listen}.
    #[arg(long)]
    pub to: Option<String>,
    /// Flip one byte of the body after signing (expect 401 invalid_signature).
    #[arg(long)]
    pub tamper: bool,
    /// Sign as if it were this long ago, e.g. `10m` (expect 401 for timestamped schemes).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub age: Option<Duration>,
    /// Perform the provider's handshake (subscription challenge) instead of sending an event.
    #[arg(long, conflicts_with_all = ["body", "body_file", "tamper"])]
    pub handshake: bool,
}

pub async fn run(config: &Config, args: SendArgs) -> anyhow::Result<i32> {
    let resolved = config.resolve()?;
    let source = resolved
        .sources
        .get(&args.source)
        .ok_or_else(|| anyhow!("no source named `{}` in the config", args.source))?;
    // A provider that hands its secret over (Asana) may have none configured: its handshake
    // then hands over a fresh one (sign later events with a configured secret).
    let fresh =
        hookgate_providers::Secret::new(format!("hookgate-{}", uuid::Uuid::new_v4().simple()));
    let secret = match source.secrets.first() {
        Some(secret) => secret,
        None if args.handshake
            && matches!(
                source.provider.handshake(),
                hookgate_providers::Handshake::SecretHandover { .. }
            ) =>
        {
            &fresh
        }
        None => bail!(
            "source `{}` has no configured secret to sign with{}",
            args.source,
            if matches!(
                source.provider.handshake(),
                hookgate_providers::Handshake::SecretHandover { .. }
            ) {
                " (its provider hands the secret over in the handshake: configure the one you hand over with `send --handshake` to sign test events)"
            } else {
                ""
            }
        ),
    };
    let event_id = args
        .event_id
        .clone()
        .unwrap_or_else(|| format!("evt_{}", uuid::Uuid::now_v7().simple()));
    let mut body = match (&args.body, &args.body_file) {
        (Some(b), _) => b.clone().into_bytes(),
        (None, Some(p)) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        (None, None) => source.provider.example_body(&event_id, &args.event_type),
    };
    let base = args
        .to
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.server.listen));
    let url = format!("{}/webhooks/{}", base.trim_end_matches('/'), args.source);
    let signed_url = source.public_url.clone().unwrap_or_else(|| url.clone());
    let now = SystemTime::now() - args.age.unwrap_or_default();
    if args.handshake {
        return handshake(source, secret, &url, &signed_url, now).await;
    }
    let signed = source
        .provider
        .sign_request(
            &SignRequest {
                method: "POST",
                url: &signed_url,
                body: &body,
                event_id: &event_id,
            },
            secret,
            now,
        )
        .map_err(|e| anyhow!("cannot sign for `{}`: {e}", args.source))?;
    // Some schemes sign inside the body (Mailgun, Adyen) or sign extra query parameters
    // (Twilio's bodySHA256): send exactly what was signed.
    if let Some(b) = signed.body {
        body = b;
    }
    let url = match &signed.query {
        Some(q) => hookgate_providers::append_query(&url, q),
        None => url,
    };
    let headers = signed.headers;
    if args.tamper {
        match body.first_mut() {
            Some(b) => *b ^= 0x01,
            None => bail!("--tamper needs a non-empty body"),
        }
    }

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut req = client.post(&url).body(body);
    let has_content_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if !has_content_type {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in &headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.send().await.with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    println!("POST {url} -> {status}");
    println!("{text}");
    Ok(if status.is_success() { 0 } else { 1 })
}

/// `send --handshake`: send what the provider sends when subscribing, and compare the answer
/// with the one the provider expects (computed by the same provider code, offline).
async fn handshake(
    source: &crate::sources::Source,
    secret: &hookgate_providers::Secret,
    url: &str,
    signed_url: &str,
    now: SystemTime,
) -> anyhow::Result<i32> {
    let request = source
        .provider
        .handshake_request(signed_url, secret, now)
        .map_err(|e| anyhow!("cannot build the handshake for `{}`: {e}", source.name))?
        .ok_or_else(|| {
            anyhow!(
                "provider `{}` performs no handshake",
                source.provider.name()
            )
        })?;
    let url = match &request.query {
        Some(q) => hookgate_providers::append_query(url, q),
        None => url.to_string(),
    };
    let mut headers = http::HeaderMap::new();
    for (k, v) in &request.headers {
        headers.append(
            http::HeaderName::from_bytes(k.as_bytes())?,
            http::HeaderValue::from_str(v)?,
        );
    }
    let local = hookgate_providers::Request {
        method: request.method,
        url: &url,
        headers: &headers,
        body: &request.body,
    };
    let expected = match source.provider.answer_handshake(&local, &source.secrets) {
        Some(Ok(answer)) => Some(answer),
        Some(Err(e)) => bail!("the handshake would be refused: {e}"),
        None => source.provider.challenge(&local, &source.secrets),
    };

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let method = reqwest::Method::from_bytes(request.method.as_bytes())?;
    let resp = client
        .request(method, &url)
        .headers(headers)
        .body(request.body.clone())
        .send()
        .await
        .with_context(|| format!("{} {url}", request.method))?;
    let status = resp.status();
    let answered_headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap_or_default();
    println!("{} {url} -> {status}", request.method);
    println!("{}", String::from_utf8_lossy(&body));
    let ok = match &expected {
        Some(answer) => {
            // The status, the body byte for byte, and every header the provider checks
            // (Asana's echoed X-Hook-Secret, Smartsheet's response header, …).
            status.as_u16() == answer.status
                && body.as_ref() == answer.body.as_slice()
                && answer.headers.iter().all(|(name, value)| {
                    answered_headers
                        .get(*name)
                        .is_some_and(|v| v.as_bytes() == value.as_bytes())
                })
        }
        None => status.is_success(),
    };
    if ok {
        println!("handshake answered as {} expects", source.provider.name());
        Ok(0)
    } else {
        println!(
            "handshake answer differs from what {} expects",
            source.provider.name()
        );
        Ok(1)
    }
}
