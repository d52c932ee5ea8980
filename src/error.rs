//! The one API error type and its HTTP mapping.
//!
//! Every error a client can see is an RFC 9457 `application/problem+json` document with a
//! stable `code` member; the codes are the contract operators and providers' dashboards see
//! (DESIGN §7). 5xx bodies never carry internals: the cause is logged once, where it is handled.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::Duration;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// A client-visible error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no source named `{0}` is configured")]
    UnknownSource(String),
    #[error("the request could not be verified: {detail}")]
    InvalidSignature {
        reason: &'static str,
        detail: String,
    },
    #[error("the body exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    MissingEventId(String),
    #[error("{0}")]
    MalformedBody(String),
    #[error("this idempotency key was already used with a different payload")]
    IdempotencyKeyReused,
    #[error("the store is unavailable; retry later")]
    Unavailable { retry_after: Duration },
    #[error("the gateway is overloaded; retry later")]
    Overloaded { retry_after: Duration },
    #[error("the client did not send the body in time")]
    RequestTimeout,
    #[error("method not allowed; use {allow}")]
    MethodNotAllowed { allow: &'static str },
    #[error("no such route")]
    NotFound,
    #[error("no handler named `{0}` is configured")]
    UnknownHandler(String),
    #[error("a valid admin bearer token is required")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("the request headers exceed the limit of {limit} bytes")]
    HeadersTooLarge { limit: usize },
    /// A hand-over handshake (Asana `X-Hook-Secret`) brought a secret other than the one
    /// stored for the source: the first hand-over wins until an operator resets it.
    #[error("this source already holds a handed-over signing secret; reset it with `hookgate handshake-secret reset SOURCE` before creating the webhook again")]
    HandshakeSecretConflict,
    #[error("too many requests; retry later")]
    RateLimited { retry_after: Duration },
    /// A request head whose body framing two parsers could read differently (smuggling).
    #[error("{0}")]
    AmbiguousFraming(&'static str),
    /// A rejection the framework made itself; `detail` is its own message.
    #[error("{detail}")]
    Http { status: StatusCode, detail: String },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::UnknownSource(_) | ApiError::NotFound | ApiError::UnknownHandler(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::InvalidSignature { .. } | ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MissingEventId(_)
            | ApiError::MalformedBody(_)
            | ApiError::BadRequest(_)
            | ApiError::AmbiguousFraming(_) => StatusCode::BAD_REQUEST,
            ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::HandshakeSecretConflict => StatusCode::CONFLICT,
            ApiError::Unavailable { .. } | ApiError::Overloaded { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Http { status, .. } => *status,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::UnknownSource(_) => "unknown_source",
            ApiError::InvalidSignature { .. } => "invalid_signature",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::MissingEventId(_) => "missing_event_id",
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Overloaded { .. } => "overloaded",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::NotFound => "not_found",
            ApiError::UnknownHandler(_) => "unknown_handler",
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::HeadersTooLarge { .. } => "headers_too_large",
            ApiError::HandshakeSecretConflict => "handshake_secret_conflict",
            ApiError::AmbiguousFraming(_) => "ambiguous_framing",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Http { status, .. } => http_code(*status),
        }
    }

    /// The bounded rejection reason used for counting (finer than `code` for signatures).
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::InvalidSignature { reason, .. } => reason,
            other => other.code(),
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::UnknownSource(_) => "Unknown source",
            ApiError::InvalidSignature { .. } => "Invalid signature",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::MissingEventId(_) => "Missing event id",
            ApiError::MalformedBody(_) => "Malformed body",
            ApiError::IdempotencyKeyReused => "Idempotency key reused",
            ApiError::Unavailable { .. } => "Store unavailable",
            ApiError::Overloaded { .. } => "Overloaded",
            ApiError::RequestTimeout => "Request timeout",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
            ApiError::NotFound => "Not found",
            ApiError::UnknownHandler(_) => "Unknown handler",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::BadRequest(_) => "Bad request",
            ApiError::HeadersTooLarge { .. } => "Request headers too large",
            ApiError::HandshakeSecretConflict => "Handshake secret already stored",
            ApiError::AmbiguousFraming(_) => "Ambiguous message framing",
            ApiError::RateLimited { .. } => "Rate limited",
            ApiError::Http { status, .. } => status.canonical_reason().unwrap_or("HTTP error"),
        }
    }
}

/// The stable code of a rejection the HTTP layer itself made (hyper, axum, tower-http), by
/// status; see [`problem_for_framework_errors`].
fn http_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        431 => "headers_too_large",
        500..=599 => "internal",
        _ => "http_error",
    }
}

/// The outermost response layer: a 4xx/5xx that is not problem+json already came from the
/// framework (axum's extractor and routing rejections, tower-http's timeout and panic
/// answers) and is rewritten into the one error format, keeping its status and headers
/// (`Allow`, `Connection`, …) and its message (the first KiB of its text body) as `detail`.
/// Handler errors are [`ApiError`] already and pass unchanged.
pub async fn problem_for_framework_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_CONTENT_TYPE.as_bytes()));
    if is_problem {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 1024).await.unwrap_or_default();
    let detail = match std::str::from_utf8(&text).map(str::trim) {
        Ok(t) if !t.is_empty() => t.to_string(),
        _ => "the request was refused by the HTTP layer".to_string(),
    };
    let mut fresh = ApiError::Http { status, detail }.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().append(name, value.clone());
        }
    }
    fresh
}

impl From<hookgate_providers::VerifyError> for ApiError {
    fn from(e: hookgate_providers::VerifyError) -> Self {
        ApiError::InvalidSignature {
            reason: e.reason(),
            detail: e.to_string(),
        }
    }
}

impl From<hookgate_providers::ExtractError> for ApiError {
    fn from(e: hookgate_providers::ExtractError) -> Self {
        match e {
            hookgate_providers::ExtractError::MissingEventId(_) => {
                ApiError::MissingEventId(e.to_string())
            }
            hookgate_providers::ExtractError::MalformedBody(_) => {
                ApiError::MalformedBody(e.to_string())
            }
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let reason = match &self {
            ApiError::InvalidSignature { reason, .. } => Some(*reason),
            _ => None,
        };
        let problem = Problem {
            kind: format!("urn:hookgate:problem:{code}"),
            title: self.title(),
            status: status.as_u16(),
            detail: self.to_string(),
            code,
            reason,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        match &self {
            ApiError::Unavailable { retry_after }
            | ApiError::Overloaded { retry_after }
            | ApiError::RateLimited { retry_after } => {
                headers.insert(
                    header::RETRY_AFTER,
                    // Whole seconds, rounded up, at least 1.
                    HeaderValue::from(retry_after.as_secs_f64().ceil().max(1.0) as u64),
                );
            }
            ApiError::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::HeadersTooLarge { .. } | ApiError::AmbiguousFraming(_) => {
                // Whatever the client sends next on this connection is not worth reading.
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        resp
    }
}
