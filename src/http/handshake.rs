//! Unsigned provider handshakes on `/webhooks/{source}`: `GET`/`HEAD` challenges (Meta,
//! Dropbox, X CRC, Trello) and the unsigned `POST`s answered before verification (WooCommerce's
//! ping, Smartsheet's challenge header).
//!
//! Invariants:
//! - a source answers `GET`/`HEAD` only when its provider's [`Handshake`] needs that method;
//!   every other source answers 405 to anything but `POST`, as before;
//! - a handshake never reaches the store: it creates no inbox row and no delivery, and is
//!   counted as `challenge` in the stats (a refused one as rejected, with its reason);
//! - the answer is built by the provider from the request alone (and, for X's CRC, the source's
//!   own secret), so there is nothing here that could be fetched or stored on a caller's behalf.
//!
//! Signed handshakes (Slack, Zoom, Discord, Twitch, empty LINE/Xero batches) go through
//! verification first and are answered by [`hookgate_providers::Provider::challenge`] in
//! [`super::ingest`].
//!
//! Secret hand-over (Asana `X-Hook-Secret`, [`hand_over`]) is the one handshake that writes:
//! the secret goes to the store's `handshake_secrets` (first hand-over wins, shared by every
//! replica, kept across restarts) and not to the inbox; [`verifying_secrets`] adds it to the
//! source's configured secrets for every later delivery.

use super::{AppState, REQUEST_ID_HEADER};
use crate::error::ApiError;
use crate::sources::Source;
use crate::stats::UNKNOWN_SOURCE;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hookgate_providers::{
    ChallengeResponse, Handshake, Request as ProviderRequest, Secret, Secrets,
};
use std::borrow::Cow;
use std::sync::Arc;

/// `GET` / `HEAD /webhooks/{source}`.
pub async fn answer(
    State(app): State<Arc<AppState>>,
    Path(source_name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(source) = app.sources.get(&source_name) else {
        app.stats.rejected(UNKNOWN_SOURCE, "unknown_source");
        return Err(ApiError::UnknownSource(source_name));
    };
    if !source
        .provider
        .handshake()
        .methods()
        .contains(&method.as_str())
    {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let url = request_url(&headers, &uri);
    let req = ProviderRequest {
        method: method.as_str(),
        url: &url,
        headers: &headers,
        body: &[],
    };
    match before_verify(&app, source, &req) {
        Some(answer) => answer,
        None => Err(ApiError::BadRequest(format!(
            "not a {} handshake: {}",
            source.provider.name(),
            source.provider.handshake().describe()
        ))),
    }
}

/// Answer `req` if it is an unsigned handshake of `source`'s provider; `None` lets it go on to
/// verification. Called by [`answer`] and, for `POST`, by ingest before it verifies.
pub fn before_verify(
    app: &AppState,
    source: &Source,
    req: &ProviderRequest<'_>,
) -> Option<Result<Response, ApiError>> {
    if matches!(
        source.provider.handshake(),
        Handshake::None | Handshake::SecretHandover { .. }
    ) {
        // A hand-over writes to the store: [`hand_over`] answers it.
        return None;
    }
    let request_id = req.header(REQUEST_ID_HEADER).unwrap_or_default();
    match source.provider.answer_handshake(req, &source.secrets)? {
        Ok(challenge) => {
            tracing::info!(source = %source.name, request_id, outcome = "challenge", "ingest decision");
            app.stats.challenge(&source.name);
            Some(Ok(respond(challenge)))
        }
        Err(e) => {
            let e = ApiError::from(e);
            let reason = e.reason();
            tracing::info!(source = %source.name, request_id, outcome = "rejected", reason, "ingest decision");
            app.stats.rejected(&source.name, reason);
            Some(Err(e))
        }
    }
}

/// Answer `req` if it is a secret hand-over of `source`'s provider (Asana `X-Hook-Secret`):
/// keep the secret unless one is stored already, then echo it when it is the stored one. A
/// different secret is refused with 409 `handshake_secret_conflict` (someone else handed one
/// over first, or the webhook is being created again without a reset). `None` lets `req` go
/// on to verification.
pub async fn hand_over(
    app: &AppState,
    source: &Source,
    req: &ProviderRequest<'_>,
) -> Option<Result<Response, ApiError>> {
    let Handshake::SecretHandover { header } = source.provider.handshake() else {
        return None;
    };
    let request_id = req.header(REQUEST_ID_HEADER).unwrap_or_default();
    let refuse = |e: ApiError| {
        let reason = e.reason();
        tracing::info!(source = %source.name, request_id, outcome = "rejected", reason, "ingest decision");
        app.stats.rejected(&source.name, reason);
        Err(e)
    };
    let challenge = match source.provider.answer_handshake(req, &source.secrets)? {
        Ok(challenge) => challenge,
        Err(e) => return Some(refuse(e.into())),
    };
    let presented = challenge
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(header))
        .map(|(_, value)| value.clone())?;
    let write =
        app.store
            .hand_over_secret(&source.name, presented.as_bytes(), crate::store::now_ms());
    let stored = match tokio::time::timeout(app.settings.store_timeout, write).await {
        Ok(Ok(stored)) => stored,
        Ok(Err(e)) => {
            tracing::warn!(source = %source.name, request_id, error = %e, "store failure; answering 503");
            let retry_after = app.settings.retry_after;
            return Some(refuse(ApiError::Unavailable { retry_after }));
        }
        Err(_) => {
            tracing::warn!(source = %source.name, request_id, "store timeout; answering 503");
            let retry_after = app.settings.retry_after;
            return Some(refuse(ApiError::Unavailable { retry_after }));
        }
    };
    if !hookgate_providers::signature::constant_time_eq(&stored, presented.as_bytes()) {
        return Some(refuse(ApiError::HandshakeSecretConflict));
    }
    source.handed_over.set(Some(Secret::new(stored)));
    tracing::info!(source = %source.name, request_id, outcome = "challenge", "ingest decision");
    app.stats.challenge(&source.name);
    Some(Ok(respond(challenge)))
}

/// The secrets a delivery of `source` is verified with: the configured ones and, for a
/// provider that hands its secret over (Asana), the stored one. The store is read when this
/// replica has no copy yet, or when `recheck` is set and the copy is older than
/// [`crate::sources::HandedOver::RECHECK`] (a failed verification may mean another replica
/// took a new hand-over after a reset).
pub async fn verifying_secrets<'s>(
    app: &AppState,
    source: &'s Source,
    recheck: bool,
) -> Result<Cow<'s, Secrets>, crate::store::StoreError> {
    if !matches!(
        source.provider.handshake(),
        Handshake::SecretHandover { .. }
    ) {
        return Ok(Cow::Borrowed(&source.secrets));
    }
    let copy = match source.handed_over.get() {
        Some(copy) if !(recheck && source.handed_over.is_stale()) => copy,
        _ => {
            let read = app.store.handed_over_secret(&source.name);
            let stored = tokio::time::timeout(app.settings.store_timeout, read)
                .await
                .map_err(|_| crate::store::StoreError::Timeout)??
                .map(Secret::new);
            source.handed_over.set(stored.clone());
            stored
        }
    };
    let mut all: Vec<Secret> = source.secrets.iter().cloned().collect();
    all.extend(copy);
    Ok(Cow::Owned(Secrets::new(all)))
}

/// How long the confirmation call of a handshake may take (AWS SNS `ConfirmSubscription`).
const CONFIRM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The HTTP response for a provider's handshake answer, byte for byte. When the provider asks
/// for a confirmation call (SNS), it is made in the background after the answer: the URL was
/// built by the provider from the source's configuration, never taken from the request.
pub fn respond(challenge: ChallengeResponse) -> Response {
    if let Some(url) = challenge.confirm_url.clone() {
        tokio::spawn(confirm(url));
    }
    let status = StatusCode::from_u16(challenge.status).unwrap_or(StatusCode::OK);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, challenge.content_type)],
        challenge.body,
    )
        .into_response();
    for (name, value) in challenge.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Handshakes read only the query, so the URL is the request's own path and query.
fn request_url(headers: &HeaderMap, uri: &Uri) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    format!("http://{host}{path_and_query}")
}

async fn confirm(url: String) {
    // The query carries the subscription token: log the host only.
    let host = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let client = match reqwest::Client::builder()
        .timeout(CONFIRM_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(%host, error = %e, "subscription confirmation not sent");
            return;
        }
    };
    match client.get(&url).send().await {
        Ok(resp) if resp.status().is_success() => {
            tracing::info!(%host, "subscription confirmed")
        }
        Ok(resp) => {
            tracing::warn!(%host, status = %resp.status(), "subscription confirmation refused")
        }
        Err(e) => {
            tracing::warn!(%host, error = %e.without_url(), "subscription confirmation failed")
        }
    }
}
