//! The runtime registry of configured sources: name → provider, secrets and public URL.
//!
//! Built once from validated config; read-only afterwards, so lookups on the request path are
//! a plain map access with no locking.

use hookgate_providers::{Provider, Secret, Secrets};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// One configured webhook source, served at `POST /webhooks/{name}`.
#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub provider: Box<dyn Provider>,
    pub secrets: Secrets,
    /// The exact public URL the provider signs, when configured.
    pub public_url: Option<String>,
    /// The source's `rate_limit`, when configured.
    pub rate_limit: Option<crate::http::rate_limit::SourceLimit>,
    /// The signing secret the provider handed over in its handshake (Asana), as last read.
    pub handed_over: HandedOver,
}

/// This replica's copy of a source's handed-over signing secret (Asana `X-Hook-Secret`). The
/// store holds the secret (`handshake_secrets`: shared by replicas, kept across restarts); this
/// only saves a store read per delivery, and is read again when a delivery fails to verify and
/// the copy is older than [`HandedOver::RECHECK`] (another replica took a new hand-over after
/// a reset).
#[derive(Debug, Default)]
pub struct HandedOver(RwLock<Option<(Option<Secret>, Instant)>>);

impl HandedOver {
    /// How old a copy must be before a failed verification reads the store again.
    pub const RECHECK: Duration = Duration::from_secs(5);

    /// The copy, if the store was read: `Some(None)` when it held no secret then.
    pub fn get(&self) -> Option<Option<Secret>> {
        let guard = self.0.read().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().map(|(secret, _)| secret.clone())
    }

    /// Whether the copy is missing or older than [`HandedOver::RECHECK`].
    pub fn is_stale(&self) -> bool {
        let guard = self.0.read().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .is_none_or(|(_, read_at)| read_at.elapsed() >= Self::RECHECK)
    }

    pub fn set(&self, secret: Option<Secret>) {
        let mut guard = self.0.write().unwrap_or_else(|e| e.into_inner());
        *guard = Some((secret, Instant::now()));
    }
}

#[derive(Debug, Default)]
pub struct Sources(HashMap<String, Source>);

impl Sources {
    pub fn new(list: Vec<Source>) -> Self {
        Sources(list.into_iter().map(|s| (s.name.clone(), s)).collect())
    }

    pub fn get(&self, name: &str) -> Option<&Source> {
        self.0.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
