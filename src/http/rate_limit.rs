//! Rate limits at the ingest edge, in memory and per replica (N replicas admit N times the
//! configured rate; they share nothing).
//!
//! - A source's `rate_limit = { per_second, burst }`: requests to that source beyond it are
//!   answered 429 `rate_limited` with `Retry-After` before the body is read.
//! - `[server] failed_auth_per_ip = { per_second, burst }`: each client address (the socket
//!   peer; no forwarding header is trusted) may fail verification that often; past it, every
//!   webhook request from that address is answered 429 before any verification work, until
//!   its allowance refills. Requests that verify do not use the allowance, and other
//!   addresses are unaffected, so a flood of bad signatures from one address does not stop
//!   the provider's genuine deliveries from its own addresses.
//!
//! Both are GCRA token buckets (one atomic per bucket, no lock on the per-source path). The
//! per-address table is sharded, bounded to [`MAX_TRACKED_ADDRESSES`], and drops addresses
//! whose allowance is full again (idle) when a shard fills. Nothing is consulted when no limit
//! is configured.

use crate::config::RateLimitConfig;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Client addresses tracked by the failed-authentication limit, over all shards.
pub const MAX_TRACKED_ADDRESSES: usize = 65_536;
const SHARDS: usize = 16;

/// A generic cell rate: `burst` at once, then one per `interval`.
#[derive(Debug, Clone, Copy)]
struct Rate {
    interval_ns: u64,
    tolerance_ns: u64,
}

impl Rate {
    fn new(cfg: &RateLimitConfig) -> Self {
        let interval_ns = (1e9 / cfg.per_second).max(1.0) as u64;
        Rate {
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(u64::from(cfg.burst.max(1))),
        }
    }

    /// Given the theoretical arrival time `tat` (ns on the limiter's clock) and `now`: the
    /// next `tat` if a request is admitted, else how long until one would be.
    fn admit(&self, tat: u64, now: u64) -> Result<u64, Duration> {
        let next = tat.max(now) + self.interval_ns;
        let ahead = next - now;
        if ahead > self.tolerance_ns {
            Err(Duration::from_nanos(ahead - self.tolerance_ns))
        } else {
            Ok(next)
        }
    }
}

/// Nanoseconds since `epoch`, never 0 (0 marks a fresh bucket).
fn since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64 + 1
}

/// One bucket shared by all requests to one source.
#[derive(Debug)]
pub struct SourceLimit {
    rate: Rate,
    tat: AtomicU64,
    epoch: Instant,
}

impl SourceLimit {
    pub fn new(cfg: &RateLimitConfig) -> Self {
        SourceLimit {
            rate: Rate::new(cfg),
            tat: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Take one request's allowance, or say how long until there is one.
    pub fn check(&self) -> Result<(), Duration> {
        let now = since(self.epoch);
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = self.rate.admit(tat, now)?;
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }
}

/// The failed-authentication allowance of every client address.
#[derive(Debug)]
pub struct FailedAuthLimit {
    rate: Rate,
    epoch: Instant,
    shards: Vec<Mutex<HashMap<IpAddr, u64>>>,
    per_shard: usize,
}

impl FailedAuthLimit {
    pub fn new(cfg: &RateLimitConfig) -> Self {
        Self::with_capacity(cfg, MAX_TRACKED_ADDRESSES)
    }

    fn with_capacity(cfg: &RateLimitConfig, capacity: usize) -> Self {
        FailedAuthLimit {
            rate: Rate::new(cfg),
            epoch: Instant::now(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: (capacity / SHARDS).max(1),
        }
    }

    fn shard(&self, addr: &IpAddr) -> &Mutex<HashMap<IpAddr, u64>> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        addr.hash(&mut h);
        &self.shards[h.finish() as usize % SHARDS]
    }

    /// `Err(wait)` when `addr` has used up its failures: answer 429 without verifying.
    pub fn check(&self, addr: IpAddr) -> Result<(), Duration> {
        let now = since(self.epoch);
        let map = match self.shard(&addr).lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        match map.get(&addr) {
            Some(&tat) => self.rate.admit(tat, now).map(drop),
            None => Ok(()),
        }
    }

    /// `addr` failed verification once more.
    pub fn failed(&self, addr: IpAddr) {
        let now = since(self.epoch);
        let mut map = match self.shard(&addr).lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= self.per_shard && !map.contains_key(&addr) {
            // Idle addresses (allowance full again) carry no state worth keeping.
            map.retain(|_, tat| *tat > now);
            if map.len() >= self.per_shard {
                // Still full of active addresses: forget the one closest to idle.
                if let Some(oldest) = map.iter().min_by_key(|(_, tat)| **tat).map(|(a, _)| *a) {
                    map.remove(&oldest);
                }
            }
        }
        let tat = map.get(&addr).copied().unwrap_or(0);
        // Over the limit already: keep the bucket as is (checked before verification anyway).
        if let Ok(next) = self.rate.admit(tat, now) {
            map.insert(addr, next);
        } else {
            map.insert(addr, tat);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(per_second: f64, burst: u32) -> RateLimitConfig {
        RateLimitConfig { per_second, burst }
    }

    #[test]
    fn a_source_bucket_admits_its_burst_then_refuses_with_the_wait() {
        let limit = SourceLimit::new(&cfg(2.0, 3));
        for _ in 0..3 {
            assert!(limit.check().is_ok());
        }
        let wait = limit.check().unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        std::thread::sleep(wait + Duration::from_millis(20));
        assert!(limit.check().is_ok(), "one more after the wait");
        assert!(limit.check().is_err());
    }

    #[test]
    fn failures_are_counted_per_address_and_the_table_stays_bounded() {
        let limit = FailedAuthLimit::with_capacity(&cfg(1.0, 2), 32);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limit.check(a).is_ok());
        limit.failed(a);
        limit.failed(a);
        assert!(limit.check(a).is_err(), "two failures use up a burst of 2");
        assert!(limit.check(b).is_ok(), "another address is unaffected");
        for i in 0..10_000u32 {
            limit.failed(IpAddr::from(i.to_be_bytes()));
        }
        assert!(limit.tracked() <= 32, "tracked {}", limit.tracked());
    }
}
