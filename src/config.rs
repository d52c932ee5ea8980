//! Configuration: the TOML file, `HOOKGATE_…` environment overrides, secret references, and
//! validation at start-up.
//!
//! Loading happens once, at the edge: after [`Config::load`] and [`Config::resolve`] succeed,
//! the rest of the gateway only sees typed, validated values. Secrets appear in config files
//! only as references (`env:NAME` or `file:/path`); literal secrets are refused so a committed
//! config can never hold one. Environment overrides use a double underscore between levels,
//! e.g. `HOOKGATE_STORE__URL=postgres://…` or `HOOKGATE_SERVER__LISTEN=0.0.0.0:8080`.

use crate::sources::{Source, Sources};
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use hookgate_providers::{generic::GenericConfig, Handshake, ProviderOptions, Secret, Secrets};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_PATH_ENV: &str = "HOOKGATE_CONFIG";
/// Prefix of environment overrides.
pub const ENV_PREFIX: &str = "HOOKGATE_";
/// The shortest dedupe window the gateway accepts (DESIGN §5).
pub const MIN_DEDUPE_WINDOW: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    #[serde(default)]
    pub dispatch: DispatchConfig,
    #[serde(default)]
    pub handlers: BTreeMap<String, HandlerConfig>,
    #[serde(default)]
    pub stats: StatsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Largest accepted request body; larger ones get 413 without being buffered.
    pub max_body_bytes: usize,
    /// Bytes of request bodies all webhook requests together may be reading at once (a
    /// body's declared `Content-Length`, or `max_body_bytes` when it has none); past it a
    /// request gets 503 `overloaded` with `Retry-After` before its body is read. With
    /// `store.queue_bytes` it bounds the memory bodies take, however many clients connect.
    /// One request is always admitted when no body is being read.
    pub max_inflight_body_bytes: usize,
    /// How long a client may take to send its body.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// The public base URL providers call (e.g. `https://hooks.example.com`), used to build the
    /// URL that URL-signing providers sign. Defaults to `http://{Host header}`.
    pub public_url: Option<String>,
    /// How long in-flight requests may take to finish on shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How long a client may take to send its request line and headers (slowloris guard).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Largest total size of a request's header block (names + values + 4 bytes per line);
    /// larger ones get 431 problem+json. Also bounds the number of header lines (one per
    /// 64 bytes of this limit, at least 64).
    pub max_header_bytes: usize,
    /// Verification failures each client address (socket peer) may cause, per replica; past
    /// it every webhook request from that address is 429 `rate_limited` until it refills.
    /// Off when unset.
    pub failed_auth_per_ip: Option<RateLimitConfig>,
}

/// A token bucket: `burst` at once, refilled at `per_second` (per replica).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub per_second: f64,
    pub burst: u32,
}

impl RateLimitConfig {
    fn check(&self, at: &str) -> Option<String> {
        (!(self.per_second.is_finite() && self.per_second > 0.0 && self.burst >= 1))
            .then(|| format!("{at}: per_second must be > 0 and burst at least 1"))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1024 * 1024,
            max_inflight_body_bytes: 64 * 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            public_url: None,
            shutdown_grace: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 32 * 1024,
            failed_auth_per_ip: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://path/to/file.db` (embedded default) or `postgres://…`.
    pub url: String,
    /// How long an event id is remembered for deduplication (≥ 24 h).
    #[serde(with = "humantime_serde")]
    pub dedupe_window: Duration,
    /// Upper bound on one store operation seen by a request; past it the answer is 503.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The `Retry-After` sent with 503 answers.
    #[serde(with = "humantime_serde")]
    pub retry_after: Duration,
    /// Connections in the pool (reads; Postgres writes too).
    pub pool_size: u32,
    /// How long to wait for a new connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Server-side statement timeout (Postgres) / busy timeout (SQLite).
    #[serde(with = "humantime_serde")]
    pub statement_timeout: Duration,
    /// Most requests merged into one group-commit transaction (a batch also stops at 8 MiB of
    /// bodies, `group_commit::MAX_BATCH_BYTES`).
    pub max_batch: usize,
    /// Postgres: concurrent group-commit writers (each holds one connection while it
    /// writes). Default 1: one writer makes the largest batches, and a second was slower on
    /// two shared cores (docs/performance.md, What limits each figure); more writers trade
    /// CPU for latency when the database is remote. SQLite always has exactly one writer.
    pub writers: usize,
    /// Requests that may wait for the writer before new ones get 503 `overloaded`.
    pub queue_depth: usize,
    /// Bytes of request bodies that may wait for the writer (queued, or in the batch being
    /// written) before new requests get 503 `overloaded`: with large bodies this bound is
    /// reached long before `queue_depth`, and it keeps a stalled store from filling memory.
    /// A request is always admitted when nothing waits, whatever its size.
    pub queue_bytes: usize,
    /// How often expired inbox rows are purged.
    #[serde(with = "humantime_serde")]
    pub purge_interval: Duration,
}

impl StoreConfig {
    /// The group-commit queue's two bounds.
    pub fn queue_limits(&self) -> crate::store::group_commit::QueueLimits {
        crate::store::group_commit::QueueLimits {
            depth: self.queue_depth,
            bytes: self.queue_bytes,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite://data/hookgate.db".into(),
            dedupe_window: Duration::from_secs(7 * 24 * 3600),
            timeout: Duration::from_secs(5),
            retry_after: Duration::from_secs(5),
            pool_size: 8,
            connect_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
            max_batch: 256,
            writers: 1,
            queue_depth: 8192,
            queue_bytes: 64 * 1024 * 1024,
            purge_interval: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Bearer token for `/api/…`; the admin API is disabled when absent.
    pub token: Option<SecretRef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsConfig {
    /// How often this replica's in-memory counters are added to the store's per-minute
    /// stats. Counts not yet flushed are shown by this replica's API but lost on a crash.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            flush_interval: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter directive; `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// A built-in provider name (`hookgate providers` lists them).
    pub provider: String,
    /// Secret references; any of them verifies, the first signs test requests.
    #[serde(default)]
    pub secrets: Vec<SecretRef>,
    /// Timestamp tolerance for timestamped schemes (default 5 min).
    #[serde(default, with = "humantime_serde")]
    pub tolerance: Option<Duration>,
    /// The exact public URL the provider calls for this source, for URL-signing providers.
    pub public_url: Option<String>,
    /// Settings of the `generic` HMAC verifier.
    pub generic: Option<GenericConfig>,
    /// The verify token a `hub.challenge` handshake must present (Meta, Strava), as a secret
    /// reference; rejected for providers without that handshake.
    pub verify_token: Option<SecretRef>,
    /// The SNS topic ARNs an `aws-sns` source accepts.
    #[serde(default)]
    pub topic_arns: Vec<String>,
    /// Requests this source accepts per second (and in a burst), per replica; beyond it 429
    /// `rate_limited`. Off when unset.
    pub rate_limit: Option<RateLimitConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchConfig {
    /// Run the dispatcher in this process. `false` makes an ingest-only replica: events and
    /// their pending deliveries are recorded, and dispatchers elsewhere deliver them.
    pub enabled: bool,
    /// Fallback poll for due deliveries (new events wake the dispatcher at once; retries and
    /// other replicas' events are found by this poll).
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long a claimed delivery is reserved; past it another dispatcher may redeliver.
    /// Keep it above the longest handler timeout.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Most deliveries claimed per handler per round.
    pub claim_batch: usize,
    /// Threads of the dispatcher's own runtime. Deliveries run apart from the HTTP server's
    /// requests, so a commit that hands dozens of deliveries to the dispatcher does not put
    /// them ahead of the requests it answered (docs/performance-history.md). One thread delivers
    /// tens of thousands of events a second; raise it on a machine with many cores whose
    /// dispatch is CPU-bound.
    pub threads: usize,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            enabled: true,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            claim_batch: 256,
            threads: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HandlerKind {
    Http,
    RedisStream,
    NatsJetstream,
    Rabbitmq,
}

/// One internal destination of events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandlerConfig {
    pub kind: HandlerKind,
    /// `http`: the endpoint; `redis_stream`: the Redis URL; `nats_jetstream`: `nats://…`;
    /// `rabbitmq`: `amqp://user:pass@host:5672/vhost`.
    pub url: String,
    /// Sources whose events this handler receives.
    pub sources: Vec<String>,
    /// Event-type patterns (`payment_intent.*`, `*`, or exact names); empty means all.
    #[serde(default)]
    pub events: Vec<String>,
    /// `http`: Standard Webhooks signing secret (`whsec_…` base64), as a reference.
    pub secret: Option<SecretRef>,
    /// `redis_stream`: the stream key; `nats_jetstream`: the JetStream stream that must cover
    /// the subjects (found by subject when absent).
    pub stream: Option<String>,
    /// `nats_jetstream`: the subject template (default `hookgate.{source}.{type}`).
    pub subject: Option<String>,
    /// `nats_jetstream`: create `stream` at start, with the template's subjects, if missing.
    #[serde(default)]
    pub create_stream: bool,
    /// `rabbitmq`: the exchange to publish to (`""` is the default exchange).
    pub exchange: Option<String>,
    /// `rabbitmq`: the routing-key template (default `{source}.{type}`).
    pub routing_key: Option<String>,
    /// `redis_stream`: approximate `MAXLEN` trimming.
    pub maxlen: Option<usize>,
    /// Per-attempt timeout.
    #[serde(default = "defaults::handler_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Most deliveries in flight to this handler at once (per replica); below it the
    /// dispatcher keeps as few as carry the traffic (`dispatch::limit`).
    #[serde(default = "defaults::concurrency")]
    pub concurrency: usize,
    /// Attempts before a delivery is dead.
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// Age after which a failing delivery is dead.
    #[serde(default = "defaults::max_age", with = "humantime_serde")]
    pub max_age: Duration,
    /// First retry delay (full jitter: uniform in [0, base·2^(n-1)], capped).
    #[serde(default = "defaults::backoff_base", with = "humantime_serde")]
    pub backoff_base: Duration,
    /// Longest retry delay, also the bound on an honoured `Retry-After`.
    #[serde(default = "defaults::backoff_cap", with = "humantime_serde")]
    pub backoff_cap: Duration,
    /// HTTP statuses that make a delivery dead at once. Default: every status that is not
    /// 2xx, 408, 429 or 5xx. When set, only these are permanent; others are retried.
    pub permanent_statuses: Option<Vec<u16>>,
    /// Consecutive failed attempts (across deliveries) that open this handler's circuit
    /// breaker in a replica; 0 turns the breaker off.
    #[serde(default = "defaults::breaker_threshold")]
    pub breaker_threshold: u32,
    /// Delay before the first probe of an open breaker; doubles after each failed probe.
    #[serde(default = "defaults::breaker_probe_base", with = "humantime_serde")]
    pub breaker_probe_base: Duration,
    /// Longest delay between probes of an open breaker.
    #[serde(default = "defaults::breaker_probe_cap", with = "humantime_serde")]
    pub breaker_probe_cap: Duration,
}

mod defaults {
    use std::time::Duration;
    pub fn handler_timeout() -> Duration {
        Duration::from_secs(10)
    }
    pub fn concurrency() -> usize {
        64
    }
    pub fn max_attempts() -> u32 {
        12
    }
    pub fn max_age() -> Duration {
        Duration::from_secs(3 * 24 * 3600)
    }
    pub fn backoff_base() -> Duration {
        Duration::from_secs(1)
    }
    pub fn backoff_cap() -> Duration {
        Duration::from_secs(3600)
    }
    pub fn breaker_threshold() -> u32 {
        10
    }
    pub fn breaker_probe_base() -> Duration {
        Duration::from_secs(1)
    }
    pub fn breaker_probe_cap() -> Duration {
        Duration::from_secs(30)
    }
}

/// A reference to a secret: `env:NAME` or `file:/path`. `Debug` shows the reference, which is
/// not secret; the resolved value is never printed.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretRef(String);

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A literal (refused at validation) must not be printed either.
        if self.0.starts_with("env:") || self.0.starts_with("file:") {
            write!(f, "SecretRef({})", self.0)
        } else {
            f.write_str("SecretRef(<literal, redacted>)")
        }
    }
}

impl SecretRef {
    pub fn new(reference: impl Into<String>) -> Self {
        SecretRef(reference.into())
    }

    /// Read the secret this reference points at.
    pub fn resolve(&self) -> Result<Secret, String> {
        if let Some(name) = self.0.strip_prefix("env:") {
            match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Secret::new(v.into_bytes())),
                Ok(_) => Err(format!("environment variable {name} is empty")),
                Err(_) => Err(format!("environment variable {name} is not set")),
            }
        } else if let Some(path) = self.0.strip_prefix("file:") {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            let trimmed = trim_trailing_newline(&bytes);
            if trimmed.is_empty() {
                return Err(format!("secret file {path} is empty"));
            }
            Ok(Secret::new(trimmed.to_vec()))
        } else {
            Err(
                "secrets must be references (\"env:NAME\" or \"file:/path\"), not literal values"
                    .into(),
            )
        }
    }
}

fn trim_trailing_newline(bytes: &[u8]) -> &[u8] {
    let mut end = bytes.len();
    while end > 0 && (bytes[end - 1] == b'\n' || bytes[end - 1] == b'\r') {
        end -= 1;
    }
    &bytes[..end]
}

/// Every problem found while validating, printed together so an operator fixes them in one go.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for p in &self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// What validation produced: the runtime sources and the admin token.
#[derive(Debug)]
pub struct Resolved {
    pub sources: Sources,
    /// Handler name → its resolved signing secret (http handlers).
    pub handler_secrets: BTreeMap<String, Secret>,
    pub admin_token: Option<Secret>,
    /// Non-fatal findings (e.g. a dedupe window shorter than a provider's retry horizon).
    pub warnings: Vec<String>,
}

impl Config {
    /// Load the TOML file at `path` (if given) and apply `HOOKGATE_…` overrides.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = path {
            if !path.exists() {
                return Err(ConfigError(vec![format!(
                    "config file {} does not exist",
                    path.display()
                )]));
            }
            figment = figment.merge(Toml::file(path));
        }
        // Only variables with a `__` level separator are overrides; the others (such as
        // HOOKGATE_CONFIG or HOOKGATE_ADMIN_TOKEN, used as secret references) are left alone.
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        figment
            .extract()
            .map_err(|e| ConfigError(e.into_iter().map(|e| e.to_string()).collect()))
    }

    /// Parse a config from TOML text (tests, `check-config` of inline text).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Figment::new()
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError(e.into_iter().map(|e| e.to_string()).collect()))
    }

    /// Validate everything and resolve secrets and providers.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();

        if self.store.dedupe_window < MIN_DEDUPE_WINDOW {
            problems.push(format!(
                "store.dedupe_window is {}; it must be at least 24h",
                humantime::format_duration(self.store.dedupe_window)
            ));
        }
        if !(self.store.url.starts_with("sqlite:")
            || self.store.url.starts_with("postgres:")
            || self.store.url.starts_with("postgresql:"))
        {
            problems.push("store.url must start with sqlite:// or postgres://".to_string());
        }
        if self.server.max_header_bytes < 1024 {
            problems.push("server.max_header_bytes must be at least 1024".into());
        }
        if self.server.max_inflight_body_bytes == 0 {
            problems.push("server.max_inflight_body_bytes must be greater than 0".into());
        }
        if self.server.max_body_bytes == 0 {
            problems.push("server.max_body_bytes must be greater than 0".into());
        }
        if self.dispatch.threads == 0 {
            problems.push("dispatch.threads must be greater than 0".into());
        }
        if self.store.max_batch == 0
            || self.store.queue_depth == 0
            || self.store.queue_bytes == 0
            || self.store.pool_size == 0
        {
            problems.push(
                "store.max_batch, store.queue_depth, store.queue_bytes and store.pool_size must be greater than 0"
                    .into(),
            );
        }
        if self.stats.flush_interval < Duration::from_millis(100) {
            problems.push("stats.flush_interval must be at least 100ms".into());
        }
        if let Some(p) = self
            .server
            .failed_auth_per_ip
            .and_then(|r| r.check("server.failed_auth_per_ip"))
        {
            problems.push(p);
        }
        if self.sources.is_empty() {
            warnings.push("no sources are configured: every webhook will get 404".into());
        }

        let mut sources = Vec::new();
        for (name, sc) in &self.sources {
            if !valid_source_name(name) {
                problems.push(format!(
                    "sources.{name}: a source name may contain only a-z, 0-9, '-' and '_'"
                ));
                continue;
            }
            let verify_token = match sc.verify_token.as_ref().map(SecretRef::resolve) {
                None => None,
                Some(Ok(token)) => Some(token),
                Some(Err(e)) => {
                    problems.push(format!("sources.{name}.verify_token: {e}"));
                    continue;
                }
            };
            let opts = ProviderOptions {
                tolerance: sc.tolerance,
                generic: sc.generic.clone(),
                verify_token,
                topic_arns: sc.topic_arns.clone(),
                public_url: sc.public_url.clone(),
            };
            let provider = match hookgate_providers::build(&sc.provider, &opts) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!("sources.{name}: {e}"));
                    continue;
                }
            };
            if let Some(p) = sc
                .rate_limit
                .and_then(|r| r.check(&format!("sources.{name}.rate_limit")))
            {
                problems.push(p);
            }
            let hands_over = matches!(provider.handshake(), Handshake::SecretHandover { .. });
            if sc.secrets.is_empty() && !hands_over {
                problems.push(format!("sources.{name}: at least one secret is required"));
            }
            let mut secrets = Vec::new();
            for (i, r) in sc.secrets.iter().enumerate() {
                match r.resolve() {
                    Ok(s) => match provider.check_secret(&s) {
                        Ok(()) => secrets.push(s),
                        Err(e) => problems.push(format!("sources.{name}.secrets[{i}]: {e}")),
                    },
                    Err(e) => problems.push(format!("sources.{name}.secrets[{i}]: {e}")),
                }
            }
            if matches!(
                provider.handshake(),
                Handshake::HubChallenge { .. } | Handshake::ChallengeCode
            ) && sc.verify_token.is_none()
            {
                warnings.push(format!(
                    "sources.{name}: {} subscribes with a hub.verify_token, but no verify_token is configured; every subscription attempt will be refused",
                    sc.provider
                ));
            }
            if !provider.authenticates_body() {
                warnings.push(format!(
                    "sources.{name}: {} authenticates only the sender (a shared value, no signature over the body): anyone who learns it can send any body; see docs/providers.md",
                    sc.provider
                ));
            }
            if provider.retry_horizon() > self.store.dedupe_window {
                warnings.push(format!(
                    "sources.{name}: store.dedupe_window ({}) is shorter than {}'s retry horizon ({}); late retries would be accepted again",
                    humantime::format_duration(self.store.dedupe_window),
                    sc.provider,
                    humantime::format_duration(provider.retry_horizon()),
                ));
            }
            sources.push(Source {
                name: name.clone(),
                provider,
                secrets: Secrets::new(secrets),
                public_url: sc.public_url.clone(),
                rate_limit: sc
                    .rate_limit
                    .map(|r| crate::http::rate_limit::SourceLimit::new(&r)),
                handed_over: Default::default(),
            });
        }

        let mut handler_secrets = BTreeMap::new();
        for (name, h) in &self.handlers {
            let at = format!("handlers.{name}");
            if !valid_source_name(name) {
                problems.push(format!(
                    "{at}: a handler name may contain only a-z, 0-9, '-' and '_'"
                ));
            }
            if h.sources.is_empty() {
                problems.push(format!("{at}: `sources` must name at least one source"));
            }
            for s in &h.sources {
                if !self.sources.contains_key(s) {
                    problems.push(format!("{at}: source `{s}` is not configured"));
                }
            }
            if h.concurrency == 0 || h.max_attempts == 0 {
                problems.push(format!(
                    "{at}: concurrency and max_attempts must be greater than 0"
                ));
            }
            if h.timeout >= self.dispatch.lease {
                problems.push(format!(
                    "{at}: timeout ({}) must be shorter than dispatch.lease ({}), or deliveries would be repeated while in flight",
                    humantime::format_duration(h.timeout),
                    humantime::format_duration(self.dispatch.lease)
                ));
            }
            match h.kind {
                HandlerKind::Http => {
                    if url::Url::parse(&h.url)
                        .map(|u| u.scheme() != "http" && u.scheme() != "https")
                        .unwrap_or(true)
                    {
                        problems.push(format!("{at}: url must be an http:// or https:// URL"));
                    }
                    match &h.secret {
                        None => problems.push(format!(
                            "{at}: an http handler needs a signing `secret` (whsec_… base64)"
                        )),
                        Some(r) => match r.resolve() {
                            Ok(sec)
                                if hookgate_providers::signature::decode_whsec(sec.expose())
                                    .is_some() =>
                            {
                                handler_secrets.insert(name.clone(), sec);
                            }
                            Ok(_) => problems.push(format!(
                                "{at}.secret: must be a Standard Webhooks key (`whsec_` + base64)"
                            )),
                            Err(e) => problems.push(format!("{at}.secret: {e}")),
                        },
                    }
                }
                HandlerKind::RedisStream => {
                    if !(h.url.starts_with("redis://") || h.url.starts_with("rediss://")) {
                        problems.push(format!("{at}: url must be a redis:// URL"));
                    }
                    if h.stream.as_deref().is_none_or(str::is_empty) {
                        problems.push(format!("{at}: a redis_stream handler needs `stream`"));
                    }
                }
                HandlerKind::NatsJetstream => {
                    if !(h.url.starts_with("nats://") || h.url.starts_with("tls://")) {
                        problems.push(format!("{at}: url must be a nats:// or tls:// URL"));
                    }
                    if let Err(e) = crate::sinks::nats_jetstream::subject_template(h) {
                        problems.push(format!("{at}.subject: {e}"));
                    }
                    match h.stream.as_deref() {
                        Some(s) if !crate::sinks::nats_jetstream::valid_stream_name(s) => problems.push(
                            format!("{at}.stream: a stream name may not be empty or contain spaces, `.`, `*`, `>`, `/` or `\\`"),
                        ),
                        None if h.create_stream => problems.push(format!(
                            "{at}: create_stream = true needs the `stream` name to create"
                        )),
                        _ => {}
                    }
                }
                HandlerKind::Rabbitmq => {
                    if !(h.url.starts_with("amqp://") || h.url.starts_with("amqps://")) {
                        problems.push(format!("{at}: url must be an amqp:// or amqps:// URL"));
                    }
                    if h.exchange.is_none() {
                        problems.push(format!(
                            "{at}: a rabbitmq handler needs `exchange` (\"\" for the default exchange)"
                        ));
                    }
                    if let Err(e) = crate::sinks::rabbitmq::routing_key_template(h) {
                        problems.push(format!("{at}.routing_key: {e}"));
                    }
                }
            }
        }

        let admin_token = match &self.admin.token {
            None => None,
            Some(r) => match r.resolve() {
                Ok(s) => Some(s),
                Err(e) => {
                    problems.push(format!("admin.token: {e}"));
                    None
                }
            },
        };

        if problems.is_empty() {
            Ok(Resolved {
                sources: Sources::new(sources),
                handler_secrets,
                admin_token,
                warnings,
            })
        } else {
            Err(ConfigError(problems))
        }
    }
}

/// Source names appear in URLs and metric labels, so they are kept to a safe alphabet.
fn valid_source_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The config path from `--config`, else `HOOKGATE_CONFIG`, else none (defaults + env only).
pub fn config_path(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| std::env::var_os(CONFIG_PATH_ENV).map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_secrets_are_refused_and_never_printed() {
        let cfg = Config::from_toml(
            r#"
            [sources.stripe]
            provider = "stripe"
            secrets = ["whsec_literal_value"]
            "#,
        )
        .unwrap();
        let err = cfg.resolve().unwrap_err().to_string();
        assert!(err.contains("must be references"), "{err}");
        assert!(!err.contains("whsec_literal_value"));
        assert!(!format!("{cfg:?}").contains("whsec_literal_value"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let cfg = Config::from_toml(
            r#"
            [store]
            dedupe_window = "1h"
            [dispatch]
            threads = 0
            [sources.a]
            provider = "nope"
            [sources.b]
            provider = "github"
            secrets = ["env:HOOKGATE_TEST_SURELY_UNSET_VAR"]
            "#,
        )
        .unwrap();
        let err = cfg.resolve().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("at least 24h"), "{text}");
        assert!(
            text.contains("dispatch.threads must be greater than 0"),
            "{text}"
        );
        assert!(text.contains("unknown provider `nope`"), "{text}");
        assert!(
            text.contains("HOOKGATE_TEST_SURELY_UNSET_VAR is not set"),
            "{text}"
        );
    }

    #[test]
    fn broker_handlers_are_validated_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let cfg = Config::from_toml(&format!(
            r#"
            [sources.stripe]
            provider = "stripe"
            secrets = ["file:{p}"]
            [handlers.a]
            kind = "nats_jetstream"
            url = "http://127.0.0.1:4222"
            subject = "events.{{source}}..{{kind}}"
            create_stream = true
            sources = ["stripe"]
            [handlers.b]
            kind = "nats_jetstream"
            url = "nats://127.0.0.1:4222"
            subject = "events.>"
            stream = "bad.name"
            sources = ["stripe"]
            [handlers.c]
            kind = "rabbitmq"
            url = "nats://127.0.0.1:5672"
            routing_key = "{{source"
            sources = ["stripe"]
            [handlers.ok_nats]
            kind = "nats_jetstream"
            url = "nats://127.0.0.1:4222"
            sources = ["stripe"]
            [handlers.ok_amqp]
            kind = "rabbitmq"
            url = "amqp://guest:guest@127.0.0.1:5672/%2f"
            exchange = ""
            sources = ["stripe"]
            "#,
            p = p.display()
        ))
        .unwrap();
        let text = cfg.resolve().unwrap_err().to_string();
        for expected in [
            "handlers.a: url must be a nats:// or tls:// URL",
            "handlers.a.subject: unknown placeholder `{kind}`",
            "handlers.a: create_stream = true needs the `stream` name",
            "handlers.b.subject: `events.>` is not a valid subject",
            "handlers.b.stream: a stream name may not",
            "handlers.c: url must be an amqp:// or amqps:// URL",
            "handlers.c: a rabbitmq handler needs `exchange`",
            "handlers.c.routing_key: unclosed `{`",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in {text}");
        }
        assert!(
            !text.contains("ok_nats") && !text.contains("ok_amqp"),
            "{text}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::from_toml("[server]\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");
    }

    #[test]
    fn file_secrets_resolve_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "topsecret\n").unwrap();
        let r = SecretRef::new(format!("file:{}", p.display()));
        assert_eq!(r.resolve().unwrap().expose(), b"topsecret");
    }
}
