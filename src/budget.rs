//! Byte budgets: how many bytes of request bodies may be held at once in one place, so that
//! memory stays bounded by configuration, not by how many clients connect or how large their
//! bodies are. Two places hold bodies: the edge while it reads them
//! (`server.max_inflight_body_bytes`, [`crate::http::ingest`]) and the group-commit queue
//! until their batch is written (`store.queue_bytes`, [`crate::store::group_commit`]). Past
//! either, ingest answers 503 `overloaded` with `Retry-After` at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A limit and what is held against it.
#[derive(Debug)]
pub struct ByteBudget {
    limit: usize,
    held: AtomicUsize,
}

impl ByteBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(ByteBudget {
            limit: limit.max(1),
            held: AtomicUsize::new(0),
        })
    }

    /// Take `bytes`, or refuse when that would pass the limit. Something is always admitted
    /// when nothing is held, so one body of any accepted size (`server.max_body_bytes`) gets
    /// through an idle gateway even with a limit below it.
    pub fn take(&self, bytes: usize) -> bool {
        let before = self.held.fetch_add(bytes, Ordering::AcqRel);
        if before > 0 && before + bytes > self.limit {
            self.held.fetch_sub(bytes, Ordering::AcqRel);
            return false;
        }
        true
    }

    pub fn give_back(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// [`take`](Self::take), held until the returned guard drops.
    pub fn take_guard(self: &Arc<Self>, bytes: usize) -> Option<BudgetGuard> {
        self.take(bytes).then(|| BudgetGuard {
            budget: self.clone(),
            bytes,
        })
    }
}

/// Bytes taken from a [`ByteBudget`], given back on drop.
#[derive(Debug)]
pub struct BudgetGuard {
    budget: Arc<ByteBudget>,
    bytes: usize,
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_larger_than_the_bound_is_admitted_when_nothing_waits() {
        let budget = ByteBudget::new(1_000);
        assert!(budget.take(5_000));
        assert!(!budget.take(1), "nothing more while it is held");
        budget.give_back(5_000);
        assert!(budget.take(600));
        assert!(!budget.take(600), "600 + 600 passes 1,000");
        assert!(budget.take(400));
    }

    #[test]
    fn a_guard_gives_its_bytes_back_when_it_drops() {
        let budget = ByteBudget::new(1_000);
        let guard = budget.take_guard(800).unwrap();
        assert!(budget.take_guard(300).is_none());
        drop(guard);
        assert_eq!(budget.held(), 0);
        assert!(budget.take_guard(300).is_some());
    }
}
