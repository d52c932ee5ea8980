//! `hookgate deliveries list | show | retry`: find, inspect and retry deliveries through a
//! running gateway's admin API ([`crate::client`]). Tables for people by default, the API's
//! JSON with `--json`.

use crate::client::{AdminArgs, AdminClient};
use crate::config::Config;
use crate::store::DeliveryState;
use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::time::{Duration, UNIX_EPOCH};

#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(subcommand)]
    pub command: DeliveriesCommand,
}

#[derive(Debug, Args, Default)]
pub struct FilterArgs {
    /// Only this handler's deliveries.
    #[arg(long)]
    pub handler: Option<String>,
    /// Events of this source.
    #[arg(long)]
    pub source: Option<String>,
    /// The provider's event id.
    #[arg(long)]
    pub event_id: Option<String>,
    /// Events received within this long before now, e.g. `2h`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub since: Option<Duration>,
    /// Events received more than this long before now.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub until: Option<Duration>,
}

impl FilterArgs {
    fn members(&self) -> Vec<(&'static str, Value)> {
        let now = crate::store::now_ms();
        let mut m = Vec::new();
        let mut text = |k, v: &Option<String>| {
            if let Some(v) = v {
                m.push((k, json!(v)));
            }
        };
        text("handler", &self.handler);
        text("source", &self.source);
        text("event_id", &self.event_id);
        if let Some(d) = self.since {
            m.push(("from", json!(now - d.as_millis() as i64)));
        }
        if let Some(d) = self.until {
            m.push(("to", json!(now - d.as_millis() as i64)));
        }
        m
    }
}

#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// List deliveries, newest first.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// pending, retrying, delivered or dead.
        #[arg(long, value_parser = parse_state)]
        state: Option<DeliveryState>,
        /// Page size (1–500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue after this cursor (the `next` a previous page printed).
        #[arg(long)]
        cursor: Option<String>,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// One delivery with every attempt.
    Show {
        /// The delivery's id (as `list` prints it).
        id: uuid::Uuid,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Retry one delivery now (any state), or with `--dead` every dead one matching the filter.
    Retry {
        /// The delivery's id (as `list` prints it).
        #[arg(required_unless_present = "dead", conflicts_with = "dead")]
        id: Option<uuid::Uuid>,
        /// Retry the dead deliveries matching the filter (all of them without one).
        #[arg(long)]
        dead: bool,
        #[command(flatten)]
        filter: FilterArgs,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_state(s: &str) -> Result<DeliveryState, String> {
    serde_json::from_value(json!(s))
        .map_err(|_| format!("`{s}` is not a state; use pending, retrying, delivered or dead"))
}

pub async fn run(config: &Config, args: DeliveriesArgs) -> anyhow::Result<i32> {
    let client = AdminClient::new(config, &args.admin)?;
    match args.command {
        DeliveriesCommand::List {
            filter,
            state,
            limit,
            cursor,
            json,
        } => {
            let mut query: Vec<(&str, String)> = filter
                .members()
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect();
            if let Some(s) = state {
                query.push(("state", s.as_str().to_string()));
            }
            if let Some(c) = cursor {
                query.push(("cursor", c));
            }
            query.push(("limit", limit.to_string()));
            let page = client.get("/api/deliveries", &query).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                print_list(&page);
            }
        }
        DeliveriesCommand::Show { id, json } => {
            let d = client.get(&format!("/api/deliveries/{id}"), &[]).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print_one(&d);
            }
        }
        DeliveriesCommand::Retry {
            id,
            dead,
            filter,
            json,
        } => {
            let answer = match (id, dead) {
                (Some(id), false) => {
                    if !filter.members().is_empty() {
                        bail!("filters go with --dead; a delivery id names one delivery");
                    }
                    client
                        .post(&format!("/api/deliveries/{id}/retry"), None)
                        .await?
                }
                (None, true) => {
                    let body: serde_json::Map<String, Value> = filter
                        .members()
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect();
                    client
                        .post("/api/deliveries/retry", Some(&Value::Object(body)))
                        .await?
                }
                _ => bail!("give a delivery ID, or --dead with an optional filter"),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else if dead {
                println!(
                    "{} dead deliveries queued for retry",
                    answer["retried"].as_u64().unwrap_or(0)
                );
            } else {
                println!(
                    "delivery {} queued for retry ({}, handler {}, event {})",
                    text(&answer["id"]),
                    text(&answer["state"]),
                    text(&answer["handler"]),
                    text(&answer["event_id"])
                );
            }
        }
    }
    Ok(0)
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Unix ms as an RFC 3339 UTC time (seconds).
fn when(v: &Value) -> String {
    match v.as_i64() {
        Some(ms) if ms >= 0 => {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms as u64))
                .to_string()
        }
        _ => "-".into(),
    }
}

/// The last outcome in a few words: the status and/or the error, cut to fit a table.
fn last(d: &Value) -> String {
    let s = match (d["last_status"].as_i64(), d["last_error"].as_str()) {
        (Some(st), Some(e)) => format!("{st} {e}"),
        (Some(st), None) => st.to_string(),
        (None, Some(e)) => e.to_string(),
        (None, None) => "-".into(),
    };
    let s = s.replace(['\n', '\r'], " ");
    if s.chars().count() > 48 {
        format!("{}…", s.chars().take(47).collect::<String>())
    } else {
        s
    }
}

fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

fn print_list(page: &Value) {
    let empty = Vec::new();
    let list = page["deliveries"].as_array().unwrap_or(&empty);
    if list.is_empty() {
        println!("no deliveries match");
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            vec![
                text(&d["id"]),
                text(&d["handler"]),
                text(&d["state"]),
                text(&d["attempts"]),
                text(&d["source"]),
                text(&d["event_id"]),
                last(d),
                when(&d["updated_at_ms"]),
            ]
        })
        .collect();
    table(
        &[
            "ID", "HANDLER", "STATE", "ATTEMPTS", "SOURCE", "EVENT ID", "LAST", "UPDATED",
        ],
        &rows,
    );
    match page["next"].as_str() {
        Some(next) => println!("{} shown; more with --cursor {next}", list.len()),
        None => println!("{} shown", list.len()),
    }
}

fn print_one(d: &Value) {
    for (label, v) in [
        ("delivery", text(&d["id"])),
        ("handler", text(&d["handler"])),
        ("state", text(&d["state"])),
        ("attempts", text(&d["attempts"])),
        ("next attempt", when(&d["next_attempt_at_ms"])),
        ("event", text(&d["event"])),
        ("source", text(&d["source"])),
        ("event id", text(&d["event_id"])),
        ("event type", text(&d["event_type"])),
        ("received", when(&d["received_at_ms"])),
        ("last status", text(&d["last_status"])),
        ("last error", text(&d["last_error"])),
    ] {
        println!("{label:<13} {v}");
    }
    let empty = Vec::new();
    let log = d["attempts_log"].as_array().unwrap_or(&empty);
    println!();
    if log.is_empty() {
        println!("no attempts yet");
        return;
    }
    let rows: Vec<Vec<String>> = log
        .iter()
        .map(|a| {
            vec![
                text(&a["attempt"]),
                when(&a["started_at_ms"]),
                format!("{} ms", text(&a["duration_ms"])),
                text(&a["status"]),
                text(&a["outcome"]),
                text(&a["error"]),
            ]
        })
        .collect();
    table(
        &[
            "ATTEMPT", "STARTED", "DURATION", "STATUS", "OUTCOME", "ERROR",
        ],
        &rows,
    );
}
