//! Test helpers shared by the provider modules: owned requests, a pinned clock, and the body
//! mutations every provider's negative tests apply.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::{Provider, Request, Secret, Secrets, SignRequest};

pub const TEST_URL: &str = "https://hooks.example.com/webhooks/test";

/// The instant `secs` after the Unix epoch; tests pin `now` to a vector's timestamp.
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

pub fn secrets(values: &[&str]) -> Secrets {
    Secrets::new(values.iter().map(|v| Secret::new(v.as_bytes())).collect())
}

/// A request whose parts the test owns; [`TestRequest::as_request`] borrows it as a [`Request`].
#[derive(Debug, Clone)]
pub struct TestRequest {
    pub method: String,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestRequest {
    pub fn post(body: impl Into<Vec<u8>>) -> Self {
        TestRequest {
            method: "POST".into(),
            url: TEST_URL.into(),
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    /// A request carrying exactly the headers `provider.sign` produced.
    pub fn signed(
        provider: &dyn Provider,
        body: &[u8],
        event_id: &str,
        secret: &str,
        now: SystemTime,
    ) -> Self {
        let sign = SignRequest {
            method: "POST",
            url: TEST_URL,
            body,
            event_id,
        };
        let headers = provider
            .sign(&sign, &Secret::new(secret.as_bytes()), now)
            .expect("test secret signs");
        headers
            .into_iter()
            .fold(TestRequest::post(body), |req, (name, value)| {
                req.header(&name, &value)
            })
    }

    pub fn url(mut self, url: &str) -> Self {
        self.url = url.into();
        self
    }

    /// Append a header (names are case-insensitive, as on the wire).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
        let value = HeaderValue::from_str(value).expect("valid header value");
        self.headers.append(name, value);
        self
    }

    /// Replace a header's value.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.headers.remove(name);
        self.header(name, value)
    }

    pub fn without(mut self, name: &str) -> Self {
        self.headers.remove(name);
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn value(&self, name: &str) -> String {
        self.headers[name]
            .to_str()
            .expect("ascii header")
            .to_string()
    }

    pub fn as_request(&self) -> Request<'_> {
        Request {
            method: &self.method,
            url: &self.url,
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// The body with one byte in the middle changed.
pub fn flip_byte(body: &[u8]) -> Vec<u8> {
    let mut flipped = body.to_vec();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    flipped
}

/// The same JSON document, pretty-printed: equal as data, different as bytes.
pub fn pretty(body: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(body).expect("JSON body");
    let pretty = serde_json::to_vec_pretty(&value).expect("serialises");
    assert_ne!(pretty, body, "pretty-printing must change the bytes");
    pretty
}

/// Bytes that are not UTF-8 (a Latin-1 `é` and a lone continuation byte).
pub const NON_UTF8_BODY: &[u8] = b"caf\xe9 \x80 raw";
