//! The command line: `hookgate serve | migrate | check-config | send`.
//!
//! Each subcommand loads and validates the config the same way, then calls into the library.

use crate::config::{config_path, Config};
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
}

pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let path = config_path(cli.config);
    let config = Config::load(path.as_deref())?;
    crate::telemetry::init(&config.log);
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
    }
}
