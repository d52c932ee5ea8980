//! Routing: which handlers receive an event, decided once at ingest (the outbox rows are
//! written with the event) and again when an operator replays.
//!
//! A handler subscribes to sources and, optionally, to event-type patterns: `*` (everything),
//! `prefix.*` (the type starts with `prefix.`), or an exact type. No patterns means all
//! events of its sources. An event without a type matches only `*` or no patterns.

use crate::config::HandlerConfig;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct Routes(Vec<Route>);

#[derive(Debug, Clone)]
struct Route {
    handler: String,
    sources: Vec<String>,
    patterns: Vec<String>,
}

impl Routes {
    pub fn from_config(handlers: &BTreeMap<String, HandlerConfig>) -> Self {
        Routes(
            handlers
                .iter()
                .map(|(name, h)| Route {
                    handler: name.clone(),
                    sources: h.sources.clone(),
                    patterns: h.events.clone(),
                })
                .collect(),
        )
    }

    /// Handlers (in name order) that receive an event of `source` with `event_type`.
    pub fn handlers_for(&self, source: &str, event_type: Option<&str>) -> Vec<String> {
        self.0
            .iter()
            .filter(|r| r.sources.iter().any(|s| s == source))
            .filter(|r| {
                r.patterns.is_empty() || r.patterns.iter().any(|p| pattern_matches(p, event_type))
            })
            .map(|r| r.handler.clone())
            .collect()
    }

    /// Every configured handler's name, in name order.
    pub fn handler_names(&self) -> Vec<String> {
        self.0.iter().map(|r| r.handler.clone()).collect()
    }

    pub fn contains(&self, handler: &str) -> bool {
        self.0.iter().any(|r| r.handler == handler)
    }
}

pub fn pattern_matches(pattern: &str, event_type: Option<&str>) -> bool {
    if pattern == "*" {
        return true;
    }
    let Some(t) = event_type else { return false };
    match pattern.strip_suffix('*') {
        Some(prefix) => t.starts_with(prefix),
        None => t == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(pattern_matches("*", None));
        assert!(pattern_matches(
            "payment_intent.*",
            Some("payment_intent.succeeded")
        ));
        assert!(!pattern_matches(
            "payment_intent.*",
            Some("payment_intentional")
        ));
        assert!(!pattern_matches(
            "payment_intent.*",
            Some("charge.succeeded")
        ));
        assert!(!pattern_matches("payment_intent.*", None));
        assert!(pattern_matches(
            "charge.succeeded",
            Some("charge.succeeded")
        ));
        assert!(!pattern_matches(
            "charge.succeeded",
            Some("charge.succeeded.x")
        ));
    }
}
