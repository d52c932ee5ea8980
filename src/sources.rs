//! The runtime registry of configured sources: name → provider, secrets and public URL.
//!
//! Built once from validated config; read-only afterwards, so lookups on the request path are
//! a plain map access with no locking.

use hookgate_providers::{Provider, Secrets};
use std::collections::HashMap;

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
