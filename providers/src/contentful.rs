//! Contentful webhooks with request verification.
//!
//! `x-contentful-signature` is the hex HMAC-SHA256, under the space's 64-character signing
//! secret, of the canonical request `METHOD\nPATH\nHEADERS\nBODY` (Contentful's
//! `node-apps-toolkit`):
//! - `PATH` is the request path with its query, normalised the toolkit's way: the query is
//!   percent-escaped as a component and then the whole is `encodeURI`d, so `?q=1&w=2` becomes
//!   `?q%253D1%2526w%253D2`;
//! - `HEADERS` are the headers named by `x-contentful-signed-headers` (which must include
//!   itself and `x-contentful-timestamp`) as `name:value`, names lower-cased, values trimmed,
//!   sorted by name, joined by `;`.
//!
//! `x-contentful-timestamp` (ms) is checked in both directions against the source tolerance,
//! 30 s by default as in the toolkit. The URL signed is the source's public URL (set
//! `public_url` when a proxy rewrites the path). Contentful documents no delivery id: the id is
//! `{X-Contentful-Topic}:{sys.id}:{sys.version}` (`sys.revision`, else the body's SHA-256, when
//! the entity has no version), the type the topic.

use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::signature::{self, Algorithm, Encoding};
use crate::{
    EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError, SignRequest,
    VerifyError,
};

pub const SIGNATURE_HEADER: &str = "x-contentful-signature";
pub const TIMESTAMP_HEADER: &str = "x-contentful-timestamp";
pub const SIGNED_HEADERS_HEADER: &str = "x-contentful-signed-headers";
const TOPIC_HEADER: &str = "x-contentful-topic";
const KEPT_HEADERS: &[&str] = &[TOPIC_HEADER, "x-contentful-webhook-name", TIMESTAMP_HEADER];
/// The toolkit's default time to live.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(30);
/// 429/5xx and timeouts are retried a couple of times with backoff; a day is the floor.
const RETRY_HORIZON: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct Contentful {
    tolerance: Duration,
}

impl Contentful {
    pub fn new(tolerance: Option<Duration>) -> Self {
        Contentful {
            tolerance: tolerance.unwrap_or(DEFAULT_TOLERANCE),
        }
    }
}

/// JavaScript's `encodeURIComponent` (the toolkit's `querystring.escape`).
fn escape_component(text: &str) -> String {
    percent_encode(text, |b| {
        b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b)
    })
}

/// JavaScript's `encodeURI`.
fn encode_uri(text: &str) -> String {
    percent_encode(text, |b| {
        b.is_ascii_alphanumeric() || b"-_.!~*'();/?:@&=+$,#".contains(&b)
    })
}

fn percent_encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if keep(byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The path and query of `url`, normalised as the toolkit's `getNormalizedEncodedURI`.
fn normalized_path(url: &str) -> String {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let path_and_query = match without_fragment.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => without_fragment,
    };
    match path_and_query.split_once('?') {
        Some((path, query)) => encode_uri(&format!("{path}?{}", escape_component(query))),
        None => encode_uri(path_and_query),
    }
}

/// `name:value;…` of the signed headers, sorted by name, or `None` when a required one is
/// missing from the list or from the request.
fn signed_headers(req: &Request<'_>, list: &str) -> Option<String> {
    let mut names: Vec<String> = list
        .split(',')
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    names.sort();
    names.dedup();
    if !names.iter().any(|n| n == TIMESTAMP_HEADER)
        || !names.iter().any(|n| n == SIGNED_HEADERS_HEADER)
    {
        return None;
    }
    let pairs: Option<Vec<String>> = names
        .iter()
        .map(|name| {
            // A signed header given twice could be read either way: refused, like the
            // declared credential headers (the list itself is the request's to choose).
            if req.headers.get_all(name.as_str()).iter().nth(1).is_some() {
                return None;
            }
            req.header(name)
                .map(|value| format!("{name}:{}", value.trim()))
        })
        .collect();
    Some(pairs?.join(";"))
}

fn canonical(method: &str, url: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{}\n{}\n{headers}\n",
        method.to_ascii_uppercase(),
        normalized_path(url)
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

impl Provider for Contentful {
    fn credential_headers(&self) -> &'static [&'static str] {
        &[
            SIGNATURE_HEADER,
            TIMESTAMP_HEADER,
            SIGNED_HEADERS_HEADER,
            TOPIC_HEADER,
        ]
    }

    fn name(&self) -> &'static str {
        "contentful"
    }

    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        if secrets.is_empty() {
            return Err(VerifyError::NoSecret);
        }
        let presented = signature::required_header(req, SIGNATURE_HEADER)?;
        let list = signature::required_header(req, SIGNED_HEADERS_HEADER)?;
        let timestamp = signature::required_header(req, TIMESTAMP_HEADER)?;
        let timestamp = signature::parse_unix_timestamp(timestamp)
            .ok_or(VerifyError::MalformedHeader(TIMESTAMP_HEADER))?;
        let headers =
            signed_headers(req, list).ok_or(VerifyError::MalformedHeader(SIGNED_HEADERS_HEADER))?;
        let signed = canonical(req.method, req.url, &headers, req.body);
        let presented = signature::decode_all(Encoding::Hex, [presented]);
        if !signature::any_signature_matches(
            Algorithm::Sha256,
            secrets.iter().map(Secret::expose),
            &[&signed],
            &presented,
        ) {
            return Err(VerifyError::SignatureMismatch);
        }
        signature::check_timestamp_millis(timestamp, now, self.tolerance)
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let body = signature::json_object_body(req.body)?;
        let topic = req
            .header(TOPIC_HEADER)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ExtractError::MissingEventId("X-Contentful-Topic"))?;
        let id = signature::json_path_text(&body, "sys.id")
            .ok_or(ExtractError::MissingEventId("sys.id"))?;
        let version = signature::json_path_text(&body, "sys.version")
            .or_else(|| signature::json_path_text(&body, "sys.revision"))
            .unwrap_or_else(|| signature::sha256_hex(req.body));
        Ok(vec![EventMeta {
            id: format!("{topic}:{id}:{version}"),
            event_type: Some(topic.to_string()),
        }])
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        KEPT_HEADERS
    }

    fn example_body(&self, event_id: &str, _event_type: &str) -> Vec<u8> {
        json!({
            "sys": {"type": "Entry", "id": event_id, "version": 1, "space": {"sys": {"id": "hookgate"}}},
            "fields": {},
        })
        .to_string()
        .into_bytes()
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let timestamp = signature::unix_millis(now).to_string();
        let topic = signature::body_json_text(req.body, "sys.type")
            .map(|kind| format!("ContentManagement.{kind}.publish"))
            .unwrap_or_else(|| "ContentManagement.Entry.publish".into());
        let list = format!("{SIGNED_HEADERS_HEADER},{TIMESTAMP_HEADER},{TOPIC_HEADER}");
        let headers = format!(
            "{SIGNED_HEADERS_HEADER}:{list};{TIMESTAMP_HEADER}:{timestamp};{TOPIC_HEADER}:{topic}"
        );
        let signed = canonical(req.method, req.url, &headers, req.body);
        let mac = Encoding::Hex.encode(&Algorithm::Sha256.mac(secret.expose(), &[&signed]));
        Ok(vec![
            (SIGNATURE_HEADER.into(), mac),
            (SIGNED_HEADERS_HEADER.into(), list),
            (TIMESTAMP_HEADER.into(), timestamp),
            (TOPIC_HEADER.into(), topic),
        ])
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }
}

/// The canonical-request building blocks, for tests of the normalisation.
#[cfg(test)]
pub(crate) fn normalized(url: &str) -> String {
    normalized_path(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{flip_byte, secrets, TestRequest};
    use std::time::UNIX_EPOCH;

    // reference/providers-more.md §5.2, derived by re-implementing the toolkit.
    const URL: &str = "https://hooks.example.com/hooks/contentful?q=1&w=2";
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;
    const TS_MS: u64 = 1_700_000_000_000;
    const SIG: &str = "5c81b2285089a95227d9649a144c474010cc79accc98f81f125eab72f57091fe";

    fn secret() -> String {
        "a".repeat(64)
    }

    fn at_ms(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn request() -> TestRequest {
        TestRequest::post(BODY)
            .url(URL)
            .header("content-type", "application/vnd.contentful.management.v1+json")
            .header(TOPIC_HEADER, "ContentManagement.Entry.publish")
            .header(TIMESTAMP_HEADER, "1700000000000")
            .header(
                SIGNED_HEADERS_HEADER,
                "content-type,x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic",
            )
            .header(SIGNATURE_HEADER, SIG)
    }

    fn verify(req: &TestRequest, configured: &[&str], now_ms: u64) -> Result<(), VerifyError> {
        Contentful::new(None).verify(&req.as_request(), &secrets(configured), at_ms(now_ms))
    }

    #[test]
    fn the_path_is_normalised_like_the_toolkit() {
        assert_eq!(normalized(URL), "/hooks/contentful?q%253D1%2526w%253D2");
        assert_eq!(normalized("https://x/a b/c"), "/a%20b/c");
        assert_eq!(normalized("https://x"), "/");
    }

    #[test]
    fn the_derived_vector_verifies_within_its_ttl_only() {
        let s = secret();
        assert_eq!(verify(&request(), &[&s], TS_MS), Ok(()));
        assert_eq!(
            verify(&request(), &["b".repeat(64).as_str(), &s], TS_MS + 30_000),
            Ok(())
        );
        assert_eq!(
            verify(&request(), &[&s], TS_MS + 30_001),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&request(), &[&s], TS_MS - 30_001),
            Err(VerifyError::FutureTimestamp)
        );
    }

    #[test]
    fn negatives_fail() {
        let s = secret();
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(
            verify(&request().body(flip_byte(BODY)), &[&s], TS_MS),
            mismatch
        );
        assert_eq!(
            verify(&request(), &["b".repeat(64).as_str()], TS_MS),
            mismatch
        );
        assert_eq!(
            verify(
                &request().url("https://hooks.example.com/hooks/contentful?q=1&w=3"),
                &[&s],
                TS_MS
            ),
            mismatch
        );
        assert_eq!(
            verify(
                &request().set(TOPIC_HEADER, "ContentManagement.Entry.delete"),
                &[&s],
                TS_MS
            ),
            mismatch
        );
        assert_eq!(
            verify(&request().set(SIGNATURE_HEADER, &SIG[..60]), &[&s], TS_MS),
            mismatch
        );
        let unlisted = request().set(SIGNED_HEADERS_HEADER, "content-type,x-contentful-topic");
        assert_eq!(
            verify(&unlisted, &[&s], TS_MS),
            Err(VerifyError::MalformedHeader(SIGNED_HEADERS_HEADER))
        );
        assert_eq!(
            verify(&request().without(SIGNATURE_HEADER), &[&s], TS_MS),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(verify(&request(), &[], TS_MS), Err(VerifyError::NoSecret));
    }

    #[test]
    fn events_and_sign_round_trip() {
        let p = Contentful::new(None);
        let body = p.example_body("entry-1", "x");
        let req = TestRequest::signed(&p, &body, "x", &secret(), at_ms(TS_MS));
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&[&secret()]), at_ms(TS_MS)),
            Ok(())
        );
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "ContentManagement.Entry.publish:entry-1:1".into(),
                event_type: Some("ContentManagement.Entry.publish".into())
            }])
        );
    }
}
