//! Server lifecycle: build the state from validated config, bind, serve, shut down gracefully.
//!
//! [`Server::start`] is what `hookgate serve` and the integration tests both use, so tests run
//! the same wiring as production (on `127.0.0.1:0`).

use crate::config::{Config, Resolved};
use crate::dispatch::{routing::Routes, Dispatcher};
use crate::http::{AppState, EdgeSettings};
use crate::stats::Stats;
use crate::store::{self, Store};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub struct Server {
    addr: SocketAddr,
    store: Arc<dyn Store>,
    stats: Arc<Stats>,
    shutdown: watch::Sender<bool>,
    serve: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Validate `config`, open (and migrate) the store, bind the listener and start serving.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        let Resolved {
            sources,
            handler_secrets,
            admin_token,
            warnings,
        } = config.resolve()?;
        for w in &warnings {
            tracing::warn!("{w}");
        }
        let dispatch_wake = Arc::new(Notify::new());
        let stats = Arc::new(Stats::new());
        let dispatcher = Dispatcher::from_config(
            &config,
            &handler_secrets,
            dispatch_wake.clone(),
            stats.clone(),
        )?;
        // Start-up checks of the sinks this process delivers to (e.g. a JetStream stream that
        // must exist): a failure is a configuration error.
        if config.dispatch.enabled {
            for h in dispatcher.handlers() {
                h.sink
                    .prepare()
                    .await
                    .with_context(|| format!("handlers.{}", h.name))?;
            }
        }
        // Deliveries go straight from the commit to this process's dispatcher only if it runs.
        let handoff = config.dispatch.enabled.then(|| dispatcher.handoff());
        let store = store::open_with(&config.store, handoff)
            .await
            .with_context(|| {
                format!("cannot open the store at {}", redact_url(&config.store.url))
            })?;
        let state = Arc::new(AppState {
            sources,
            routes: Routes::from_config(&config.handlers),
            dispatch_wake,
            admin_token,
            stats: stats.clone(),
            store: store.clone(),
            controls: dispatcher.controls(),
            settings: EdgeSettings {
                max_body_bytes: config.server.max_body_bytes,
                body_budget: crate::budget::ByteBudget::new(config.server.max_inflight_body_bytes),
                max_header_bytes: config.server.max_header_bytes,
                request_timeout: config.server.request_timeout,
                store_timeout: config.store.timeout,
                retry_after: config.store.retry_after,
                public_url: config.server.public_url.clone(),
                failed_auth: config.server.failed_auth_per_ip.map(|r| {
                    std::sync::Arc::new(crate::http::rate_limit::FailedAuthLimit::new(&r))
                }),
            },
        });
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        let (shutdown, mut shutdown_rx) = watch::channel(false);

        crate::retention::spawn(
            store.clone(),
            config.store.dedupe_window,
            config.store.purge_interval,
            shutdown.subscribe(),
        );

        // The dispatcher runs on a runtime of its own (`dispatch.threads`).
        let (dispatch, dispatch_runtime) = if config.dispatch.enabled {
            crate::dispatch::check_handlers(&dispatcher.handlers());
            let runtime = crate::dispatch::DispatchRuntime::new(config.dispatch.threads)?;
            let run = runtime.spawn(dispatcher.run(
                store.clone(),
                shutdown.subscribe(),
                config.server.shutdown_grace,
            ));
            (run, Some(runtime))
        } else {
            tracing::info!("dispatch is disabled here (dispatch.enabled = false): ingest only");
            (tokio::spawn(async {}), None)
        };
        let flusher = crate::stats::spawn_flusher(
            stats.clone(),
            store.clone(),
            config.stats.flush_interval,
            shutdown.subscribe(),
        );

        let app = crate::http::app(state);
        let (final_stats, final_store) = (stats.clone(), store.clone());
        let limits = crate::http::serve::ConnectionLimits::from_config(&config.server);
        let serve = tokio::spawn(async move {
            let served = crate::http::serve::serve(listener, app, &mut shutdown_rx, limits).await;
            let _ = dispatch.await;
            let _ = flusher.await;
            // Last flush, after the last request and the last delivery were counted.
            if let Err(e) = final_stats.flush(final_store.as_ref()).await {
                tracing::warn!(error = %e, "could not flush stats on shutdown; the last counts are lost");
            }
            // The dispatcher's runtime goes last: a pooled store connection opened by one of its
            // tasks lives on its I/O driver, and the flush above may have used it.
            drop(dispatch_runtime);
            served
        });
        tracing::info!(%addr, store = store.engine(), "hookgate listening");
        Ok(Server {
            addr,
            store,
            stats,
            shutdown,
            serve,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Move this server's counted stats to the store now (tests; the server also flushes
    /// every `stats.flush_interval` and on shutdown).
    pub async fn flush_stats(&self) -> anyhow::Result<usize> {
        Ok(self.stats.flush(self.store.as_ref()).await?)
    }

    /// Stop accepting connections and wait for in-flight requests to finish.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.serve.await??;
        Ok(())
    }

    /// Serve until `signal` resolves, then shut down gracefully.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        signal.await;
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

/// A store URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
