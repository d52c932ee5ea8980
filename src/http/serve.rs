//! The connection loop: accept, serve HTTP/1.1 and HTTP/2 on each connection, shut down
//! gracefully.
//!
//! It exists instead of `axum::serve` for one reason: a deadline on reading the request line
//! and headers. Without it a client that trickles header bytes (slowloris) holds a connection
//! and a task forever; the body has its own deadline in ingest. On shutdown the listener closes
//! at once, connections finish their in-flight requests, and whatever is still open after the
//! grace period is dropped. Each connection's bytes pass through [`super::framing`] first
//! (request-smuggling checks), and each request carries the peer address ([`ClientAddr`]).

use super::framing::{ConnectionTag, Guarded};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Header lines hyper parses before giving up (its default is 100, answered with a bare 431).
const HYPER_MAX_HEADERS: usize = 4096;
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Request line and headers must arrive within this.
    pub header_read: Duration,
    /// How long open connections may take to finish after shutdown begins.
    pub shutdown_grace: Duration,
    /// Largest request head a connection buffers ([`ConnectionLimits::max_head_for`]).
    pub max_head: usize,
}

impl ConnectionLimits {
    /// The limits `[server]` configures.
    pub fn from_config(server: &crate::config::ServerConfig) -> Self {
        ConnectionLimits {
            header_read: server.header_read_timeout,
            shutdown_grace: server.shutdown_grace,
            max_head: Self::max_head_for(server.max_header_bytes),
        }
    }

    /// The read buffer of a connection, and so the largest request head it holds: twice
    /// `server.max_header_bytes` plus 64 KiB (128 KiB by default). Every head the edge guard
    /// would accept fits, and a larger one is answered 431 by the framing guard. It also caps
    /// how much of a body hyper reads ahead per connection: at 1 MiB, 512 clients pushing
    /// 256 KiB bodies at a stalled store took the gateway to 360 MiB, at 128 KiB to 252 MiB
    /// (docs/performance-history.md, Overload runs).
    pub fn max_head_for(max_header_bytes: usize) -> usize {
        max_header_bytes.saturating_mul(2).saturating_add(64 * 1024)
    }
}

/// Serve `app` on `listener` until `shutdown` turns true. `app` is hookgate's
/// ([`super::app`]) or, in the benchmark's servers, a bare [`axum::Router`].
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    shutdown: &mut watch::Receiver<bool>,
    limits: ConnectionLimits,
) -> std::io::Result<()>
where
    S: tower::Service<
            http::Request<Incoming>,
            Response = http::Response<axum::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        // hyper's own header limits answer with an empty body, so they sit far above
        // `server.max_header_bytes`, which [`super::edge_refusal`] enforces with problem+json.
        .max_headers(HYPER_MAX_HEADERS)
        .max_buf_size(limits.max_head);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Typically out of file descriptors: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let tag = Arc::new(ConnectionTag::default());
                let stream = Guarded::new(
                    stream,
                    tag.clone(),
                    limits.max_head,
                    HYPER_MAX_HEADERS,
                    limits.header_read,
                );
                let service = TowerToHyperService::new(PerConnection {
                    inner: app.clone(),
                    tag,
                    peer: ClientAddr(peer),
                });
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            // The guard `wait_for` returns must not live across the other branch's awaits.
            _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period were dropped");
    }
    Ok(())
}

/// The socket peer of a request's connection (a request extension). hookgate trusts no
/// forwarding header: behind a proxy this is the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// The app as one connection serves it: each request gets the connection's [`ClientAddr`] and
/// its framing verdict ([`ConnectionTag`]).
#[derive(Clone)]
struct PerConnection<S> {
    inner: S,
    tag: Arc<ConnectionTag>,
    peer: ClientAddr,
}

impl<S, B> tower::Service<http::Request<B>> for PerConnection<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        self.tag.tag(&mut req);
        req.extensions_mut().insert(self.peer);
        self.inner.call(req)
    }
}
