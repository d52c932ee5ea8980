//! The HTTP edge: routes, shared state, middleware, and the server lifecycle.
//!
//! Routes: `POST /webhooks/{source}` (ingest, see [`ingest`]); `GET`/`HEAD` on the same path
//! only for sources whose provider has such a handshake ([`handshake`]; 405 otherwise); `GET /healthz`, `GET /readyz`,
//! `GET /metrics` (Prometheus, [`metrics`]), the bearer-protected admin API under `/api`
//! ([`admin`]) and the ops page `GET /dashboard` ([`dashboard`]).
//! Everything a client can get wrong is answered with problem+json ([`crate::error::ApiError`]),
//! including unknown routes (404), wrong methods (405), every rejection axum or tower-http
//! makes itself (rewritten by [`crate::error::problem_for_framework_errors`]) and oversized
//! header blocks (431, [`edge_refusal`]); request heads with ambiguous framing (both
//! `Content-Length` and `Transfer-Encoding`, …) are refused with 400 `ambiguous_framing` before
//! hyper parses them ([`framing`]). Every response carries an
//! `x-request-id` (taken from the request when present), which is also on the request's span
//! (a debug-level span; info lines that concern a request name its id themselves).

pub mod admin;
pub mod admin_handlers;
pub mod dashboard;
pub mod extract;
pub mod framing;
pub mod handshake;
pub mod health;
pub mod ingest;
pub mod metrics;
pub mod rate_limit;
pub mod serve;

use crate::dispatch::routing::Routes;
use crate::error::ApiError;
use crate::sources::Sources;
use crate::stats::Stats;
use crate::store::Store;
use axum::body::Body;
use axum::http::{HeaderName, Request};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use futures::FutureExt;
use hookgate_providers::Secret;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Limits and settings the request path needs.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    pub max_body_bytes: usize,
    /// Bodies being read, all requests together (`server.max_inflight_body_bytes`).
    pub body_budget: Arc<crate::budget::ByteBudget>,
    /// Largest header block (`server.max_header_bytes`), enforced by [`edge_refusal`].
    pub max_header_bytes: usize,
    pub request_timeout: Duration,
    pub store_timeout: Duration,
    pub retry_after: Duration,
    pub public_url: Option<String>,
    /// `server.failed_auth_per_ip`, when configured.
    pub failed_auth: Option<Arc<rate_limit::FailedAuthLimit>>,
}

/// State shared by every request.
pub struct AppState {
    pub sources: Sources,
    pub store: Arc<dyn Store>,
    pub settings: EdgeSettings,
    /// Which handlers get a delivery for an event.
    pub routes: Routes,
    /// Wakes the dispatcher's claimers when deliveries were made due outside ingest (replay,
    /// retry); ingest's own deliveries reach the dispatcher through the store's hand-off.
    pub dispatch_wake: Arc<Notify>,
    /// Bearer token of the admin API; `None` disables it.
    pub admin_token: Option<Secret>,
    /// Ingest and delivery counters (per-minute stats and Prometheus).
    pub stats: Arc<Stats>,
    /// Each handler's pause flag and this replica's circuit breaker.
    pub controls: crate::dispatch::control::Controls,
}

/// What [`serve::serve`] runs for every request: the [`router`] inside the layers every
/// request passes.
pub type App = BoxCloneSyncService<Request<Incoming>, Response, Infallible>;

/// The routes, inside the layers every request passes: framework errors to problem+json
/// (outermost), the request id (set, then copied to the answer), the debug span, then
/// [`EdgeGuard`] ([`edge_refusal`]).
///
/// The layers wrap the router once, not each route: `Router::layer` wraps every route and
/// the fallback, and each of its layers then boxes its future and clones its service on every
/// request. Around the router the whole stack costs one box per request; with the five
/// layers on the router it cost 25 of the 83 allocations of an ingest request
/// (docs/performance.md, Inside the gateway).
pub fn app(state: Arc<AppState>) -> App {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let stack = ServiceBuilder::new()
        .map_request(|req: Request<Incoming>| req.map(Body::new))
        .and_then(|resp| crate::error::problem_for_framework_errors(resp).map(Ok))
        .map_response(|resp: Response<_>| resp.map(Body::new))
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(REQUEST_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                // Debug, not info: at the default level every request would pay for a span
                // (allocated, its fields formatted, entered on every poll) that adds nothing
                // to the one `ingest decision` line, which carries source, event id and
                // request id itself. With `RUST_LOG=debug` every line of a request names it.
                tracing::debug_span!(
                    "http",
                    method = %req.method(),
                    path = %req.uri().path(),
                    request_id = %id,
                    // Filled in by ingest once known.
                    source = tracing::field::Empty,
                    event_id = tracing::field::Empty,
                )
            }),
        )
        .layer(EdgeGuardLayer(state.settings.max_header_bytes))
        .service(router(state));
    BoxCloneSyncService::new(stack)
}

/// The routes and their handlers, without the layers [`app`] puts around them.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/webhooks/{source}",
            post(ingest::ingest)
                .get(handshake::answer)
                .head(handshake::answer)
                .fallback(|| async { ApiError::MethodNotAllowed { allow: "POST" } }),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/dashboard", get(dashboard::page))
        .nest("/api", admin::routes(state.clone()))
        .fallback(|| async { ApiError::NotFound })
        .with_state(state)
}

/// Checks every request before routing: a header block over `server.max_header_bytes` (names
/// and values plus 4 bytes per line), or with more lines than it allows (one per 64 bytes of
/// the limit, at least 64), is 431 problem+json and closes the connection; so is a request
/// [`framing`] refused (400 `ambiguous_framing`, or `bad_request` for a malformed head).
/// `None`: the request goes on.
fn edge_refusal<B>(max_header_bytes: usize, req: &Request<B>) -> Option<Response> {
    use axum::response::IntoResponse;
    if let Some(refused) = req.extensions().get::<framing::FramingError>() {
        let e = match refused {
            framing::FramingError::HeadTooLarge => ApiError::HeadersTooLarge {
                limit: max_header_bytes,
            },
            framing::FramingError::MalformedHead => ApiError::BadRequest(refused.detail().into()),
            other => ApiError::AmbiguousFraming(other.detail()),
        };
        let mut resp = e.into_response();
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        return Some(resp);
    }
    let limit = max_header_bytes;
    let max_lines = (limit / 64).max(64);
    let headers = req.headers();
    if headers.len() > max_lines {
        return Some(ApiError::HeadersTooLarge { limit }.into_response());
    }
    let size: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if size > limit {
        return Some(ApiError::HeadersTooLarge { limit }.into_response());
    }
    None
}

/// [`edge_refusal`] as a layer, with `server.max_header_bytes`: a refused request is
/// answered here, any other goes on.
#[derive(Clone)]
struct EdgeGuardLayer(usize);

impl<S> tower::Layer<S> for EdgeGuardLayer {
    type Service = EdgeGuard<S>;
    fn layer(&self, inner: S) -> EdgeGuard<S> {
        EdgeGuard {
            max_header_bytes: self.0,
            inner,
        }
    }
}

#[derive(Clone)]
struct EdgeGuard<S> {
    max_header_bytes: usize,
    inner: S,
}

impl<S, B> tower::Service<Request<B>> for EdgeGuard<S>
where
    S: tower::Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future =
        futures::future::Either<std::future::Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match edge_refusal(self.max_header_bytes, &req) {
            Some(resp) => futures::future::Either::Left(std::future::ready(Ok(resp))),
            None => futures::future::Either::Right(self.inner.call(req)),
        }
    }
}
