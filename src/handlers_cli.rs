//! `hookgate handlers list | pause NAME | resume NAME`: the handlers of a running gateway,
//! through its admin API ([`crate::client`]). Readable lines by default, the API's JSON
//! with `--json`.

use crate::client::{AdminArgs, AdminClient};
use crate::config::Config;
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct HandlersArgs {
    #[command(subcommand)]
    pub action: HandlersAction,
    #[command(flatten)]
    pub admin: AdminArgs,
    /// Print the API's JSON answer instead of readable lines.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum HandlersAction {
    /// Every handler: paused or not, this replica's circuit breaker, delivery counts.
    List,
    /// Stop attempting deliveries to a handler (on every replica); they wait as pending.
    Pause { name: String },
    /// Resume a paused handler; its waiting deliveries are sent.
    Resume { name: String },
}

pub async fn run(config: &Config, args: HandlersArgs) -> anyhow::Result<i32> {
    let client = AdminClient::new(config, &args.admin)?;
    let answer = match &args.action {
        HandlersAction::List => client.get("/api/handlers", &[]).await?,
        HandlersAction::Pause { name } => {
            client
                .post(&format!("/api/handlers/{}/pause", path_segment(name)), None)
                .await?
        }
        HandlersAction::Resume { name } => {
            client
                .post(
                    &format!("/api/handlers/{}/resume", path_segment(name)),
                    None,
                )
                .await?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(0);
    }
    match &args.action {
        HandlersAction::List => {
            let handlers = answer["handlers"].as_array().cloned().unwrap_or_default();
            let width = handlers
                .iter()
                .filter_map(|h| h["name"].as_str())
                .map(str::len)
                .max()
                .unwrap_or(7)
                .max(7);
            println!(
                "{:width$}  {:7}  {:9}  {:>8}  {:>8}  {:>6}",
                "HANDLER", "STATE", "BREAKER", "PENDING", "RETRYING", "DEAD"
            );
            for h in &handlers {
                println!("{}", line(h, width));
            }
        }
        HandlersAction::Pause { .. } | HandlersAction::Resume { .. } => {
            let name = answer["name"].as_str().unwrap_or("?");
            let state = if answer["paused"] == true {
                "paused: nothing is attempted; deliveries wait as pending"
            } else {
                "running"
            };
            println!(
                "{name}: {state} ({} pending, {} retrying)",
                answer["pending"], answer["retrying"]
            );
        }
    }
    Ok(0)
}

fn line(h: &Value, width: usize) -> String {
    let state = if h["paused"] == true {
        "paused"
    } else {
        "running"
    };
    format!(
        "{:width$}  {:7}  {:9}  {:>8}  {:>8}  {:>6}",
        h["name"].as_str().unwrap_or("?"),
        state,
        h["breaker"]["state"].as_str().unwrap_or("?"),
        h["pending"],
        h["retrying"],
        h["dead"],
    )
}

/// A handler name as one URL path segment.
fn path_segment(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
