//! hookgate: a webhook ingestion gateway.
//!
//! Request flow (DESIGN §2): [`http`] receives `POST /webhooks/{source}`, the source's
//! provider (crate `hookgate_providers`) verifies and extracts event ids, and the [`store`]
//! records each event exactly once per (source, event id), answering accepted or duplicate.
//!
//! First-seen events get one delivery per matching handler in the same transaction; the
//! [`dispatch`]er delivers them at least once through [`sinks`].
//!
//! Module map: [`config`] (TOML + env, validation), [`sources`] (runtime registry),
//! [`error`] (problem+json), [`http`] (routes, admin API), [`store`] (inbox/outbox, SQLite and
//! Postgres), [`dispatch`] (leases, retries, routing), [`sinks`] (http, redis_stream),
//! [`replay`] (re-delivery), [`retention`] (purging past the dedupe window), [`stats`]
//! (per-minute counters and Prometheus metrics), [`server`] (lifecycle), [`cli`] and [`send`]
//! (the command line), [`client`] (calls a running gateway's admin API) with the commands that
//! use it, [`deliveries`] and [`handlers_cli`], [`telemetry`] (logging), [`budget`] (bounds
//! on the bytes of request bodies held in memory).

pub mod budget;
pub mod cli;
pub mod client;
pub mod config;
pub mod deliveries;
pub mod dispatch;
pub mod error;
pub mod handlers_cli;
pub mod http;
pub mod replay;
pub mod retention;
pub mod send;
pub mod server;
pub mod sinks;
pub mod sources;
pub mod stats;
pub mod store;
pub mod telemetry;
