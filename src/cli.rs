//! The command line: `hookgate serve | migrate | check-config | send | replay | retry-dead |
//! handlers | deliveries | providers`.
//!
//! Each subcommand loads and validates the config the same way, then calls into the library;
//! `providers` needs no config (it describes the built-ins).

use crate::config::{config_path, Config};
use crate::dispatch::routing::Routes;
use crate::server::{redact_url, shutdown_signal, Server};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "hookgate",
    version,
    about = "Webhook ingestion gateway: verify, deduplicate, record durably, fan out."
)]
pub struct Cli {
    /// Config file (TOML). Defaults to $HOOKGATE_CONFIG; HOOKGATE_SECTION__KEY variables override it.
    #[arg(long, short, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Validate the config (secrets, providers, store URL) without serving.
    CheckConfig,
    /// Send a correctly signed test webhook for a configured source and print the answer.
    Send(crate::send::SendArgs),
    /// Re-deliver one event (`--event`) or every event matching a filter.
    Replay(ReplayArgs),
    /// Make dead deliveries due again, with a fresh attempt budget.
    RetryDead {
        /// Only this handler's dead deliveries.
        #[arg(long)]
        handler: Option<String>,
    },
    /// Pause, resume and list the handlers of a running gateway (through its admin API).
    Handlers(crate::handlers_cli::HandlersArgs),
    /// Find, inspect and retry deliveries through a running gateway's admin API.
    Deliveries(crate::deliveries::DeliveriesArgs),
    /// List the built-in providers with their facts, or print a config snippet for one.
    Providers {
        /// A provider name: print a ready `[sources.NAME]` snippet.
        name: Option<String>,
        /// Print the Markdown table of docs/providers.md.
        #[arg(long, conflicts_with = "name")]
        markdown: bool,
    },
    /// Show or reset a source's handed-over signing secret (Asana `X-Hook-Secret`).
    HandshakeSecret {
        #[command(subcommand)]
        action: HandshakeSecretAction,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum HandshakeSecretAction {
    /// Whether the store holds a handed-over secret for SOURCE (never prints it).
    Show { source: String },
    /// Forget SOURCE's handed-over secret, so the next hand-over is taken: do this before
    /// creating the provider's webhook again, then restart the replicas (or let them re-read
    /// the store on the first delivery that fails to verify).
    Reset { source: String },
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The hookgate record id of one event (as returned at ingest).
    #[arg(long, conflicts_with_all = ["source", "event_type", "since", "until", "all"])]
    pub event: Option<uuid::Uuid>,
    /// Only this handler (default: every handler the event routes to).
    #[arg(long)]
    pub handler: Option<String>,
    /// Events of this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Events of this type (exact, or `prefix.*`).
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Received within this long before now, e.g. `2h`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub since: Option<std::time::Duration>,
    /// Received more than this long before now.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub until: Option<std::time::Duration>,
    /// Replay every stored event (required when no other filter is given).
    #[arg(long)]
    pub all: bool,
}

pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    if let Command::Providers { name, markdown } = &cli.command {
        return providers(name.as_deref(), *markdown);
    }
    let path = config_path(cli.config);
    let config = Config::load(path.as_deref())?;
    let _log = crate::telemetry::init(&config.log);
    match cli.command {
        Command::Serve => {
            let server = Server::start(config).await?;
            server.run_until(shutdown_signal()).await?;
            Ok(0)
        }
        Command::Migrate => {
            config.resolve()?;
            crate::store::open(&config.store)
                .await
                .with_context(|| format!("migrating {}", redact_url(&config.store.url)))?;
            println!("migrations applied to {}", redact_url(&config.store.url));
            Ok(0)
        }
        Command::CheckConfig => {
            let resolved = config.resolve()?;
            for w in &resolved.warnings {
                println!("warning: {w}");
            }
            let mut names: Vec<&str> = resolved.sources.names().collect();
            names.sort_unstable();
            println!(
                "config ok: {} source(s) [{}], store {}",
                names.len(),
                names.join(", "),
                redact_url(&config.store.url)
            );
            Ok(0)
        }
        Command::Send(args) => crate::send::run(&config, args).await,
        Command::Replay(args) => replay(&config, args).await,
        Command::Providers { name, markdown } => providers(name.as_deref(), markdown),
        Command::HandshakeSecret { action } => handshake_secret(&config, action).await,
        Command::Handlers(args) => crate::handlers_cli::run(&config, args).await,
        Command::Deliveries(args) => crate::deliveries::run(&config, args).await,
        Command::RetryDead { handler } => {
            config.resolve()?;
            let store = crate::store::open(&config.store).await?;
            let routes = Routes::from_config(&config.handlers);
            let filter = crate::store::DeliveryFilter {
                handler,
                ..Default::default()
            };
            let n = crate::replay::retry_dead(&store, &routes, &filter).await?;
            println!("{n} dead deliveries queued for retry");
            Ok(0)
        }
    }
}

/// `hookgate handshake-secret show|reset SOURCE`.
async fn handshake_secret(config: &Config, action: HandshakeSecretAction) -> anyhow::Result<i32> {
    let resolved = config.resolve()?;
    let source = match &action {
        HandshakeSecretAction::Show { source } | HandshakeSecretAction::Reset { source } => source,
    };
    let configured = resolved
        .sources
        .get(source)
        .ok_or_else(|| anyhow::anyhow!("no source named `{source}` in the config"))?;
    if !matches!(
        configured.provider.handshake(),
        hookgate_providers::Handshake::SecretHandover { .. }
    ) {
        anyhow::bail!(
            "source `{source}` ({}) does not hand its secret over in a handshake",
            configured.provider.name()
        );
    }
    let store = crate::store::open(&config.store).await?;
    match action {
        HandshakeSecretAction::Show { .. } => {
            let held = store.handed_over_secret(source).await?.is_some();
            println!(
                "{source}: {}",
                if held {
                    "a handed-over secret is stored"
                } else {
                    "no handed-over secret (the next hand-over is taken)"
                }
            );
        }
        HandshakeSecretAction::Reset { .. } => {
            let forgot = store.forget_handed_over_secret(source).await?;
            println!(
                "{source}: {}",
                if forgot {
                    "handed-over secret forgotten; the next hand-over is taken"
                } else {
                    "no handed-over secret was stored"
                }
            );
        }
    }
    Ok(0)
}

async fn replay(config: &Config, args: ReplayArgs) -> anyhow::Result<i32> {
    config.resolve()?;
    let store = crate::store::open(&config.store).await?;
    let routes = Routes::from_config(&config.handlers);
    if let Some(id) = args.event {
        let n = crate::replay::replay_event(&store, &routes, id, args.handler.as_deref()).await?;
        println!("event {id}: {n} deliveries queued");
        return Ok(0);
    }
    let filtered = args.source.is_some()
        || args.event_type.is_some()
        || args.since.is_some()
        || args.until.is_some();
    if !filtered && !args.all {
        anyhow::bail!("give --event ID, a filter (--source, --type, --since, --until), or --all");
    }
    let now = crate::store::now_ms();
    let filter = crate::store::EventFilter {
        source: args.source,
        event_type: args.event_type,
        event_id: None,
        from_ms: args.since.map(|d| now - d.as_millis() as i64),
        to_ms: args.until.map(|d| now - d.as_millis() as i64),
        status: None,
    };
    let (events, queued) =
        crate::replay::replay_matching(&store, &routes, &filter, args.handler.as_deref()).await?;
    println!("{events} events matched, {queued} deliveries queued");
    Ok(0)
}

/// `hookgate providers [NAME] [--markdown]`.
fn providers(name: Option<&str>, markdown: bool) -> anyhow::Result<i32> {
    use hookgate_providers::catalogue;
    if markdown {
        print!("{}", catalogue::markdown_table());
        return Ok(0);
    }
    if let Some(name) = name {
        let snippet = catalogue::config_snippet(name).ok_or_else(|| {
            anyhow::anyhow!("no built-in provider `{name}` (`hookgate providers` lists them)")
        })?;
        print!("{snippet}");
        return Ok(0);
    }
    let facts = catalogue::facts();
    let width = facts.iter().map(|f| f.name.len()).max().unwrap_or(0);
    for f in &facts {
        let window = f.recommended_dedupe_window().as_secs() / (24 * 3600);
        println!(
            "{:width$}  {:7}  {}\n{:width$}  id: {}; handshake: {}; retries: {} -> dedupe window >= {window}d",
            f.name,
            f.family,
            f.scheme,
            "",
            f.event_id,
            f.handshake.describe(),
            f.retry_note,
        );
    }
    println!(
        "{} built-in providers; `hookgate providers NAME` prints a config snippet",
        facts.len()
    );
    Ok(0)
}
