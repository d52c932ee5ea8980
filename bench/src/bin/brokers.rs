//! `hookgate-brokers`: what `bench/run.sh` needs of the brokers for its sink drain cases, with
//! the same clients the sinks use: declare a RabbitMQ exchange with a bound queue (so the
//! sink's messages are routable) and delete it afterwards, and delete the JetStream stream a
//! drain created. Names carry the bench run's suffix; the shared brokers are never touched
//! otherwise.

use clap::{Parser, Subcommand};
use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Declare a topic exchange and a queue bound to it for every routing key (`#`).
    RabbitSetup {
        #[arg(long)]
        url: String,
        #[arg(long)]
        exchange: String,
        #[arg(long)]
        queue: String,
    },
    /// Delete the exchange and the queue.
    RabbitTeardown {
        #[arg(long)]
        url: String,
        #[arg(long)]
        exchange: String,
        #[arg(long)]
        queue: String,
    },
    /// Delete a JetStream stream (missing is fine).
    NatsDeleteStream {
        #[arg(long)]
        url: String,
        #[arg(long)]
        stream: String,
    },
}

async fn channel(url: &str) -> anyhow::Result<(Connection, Channel)> {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    let conn = Connection::connect(url, props).await?;
    let ch = conn.create_channel().await?;
    Ok((conn, ch))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    match Args::parse().cmd {
        Cmd::RabbitSetup {
            url,
            exchange,
            queue,
        } => {
            let (_conn, ch) = channel(&url).await?;
            ch.exchange_declare(
                &exchange,
                ExchangeKind::Topic,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await?;
            ch.queue_declare(
                &queue,
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await?;
            ch.queue_bind(
                &queue,
                &exchange,
                "#",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
        Cmd::RabbitTeardown {
            url,
            exchange,
            queue,
        } => {
            let (_conn, ch) = channel(&url).await?;
            ch.queue_delete(&queue, QueueDeleteOptions::default())
                .await?;
            ch.exchange_delete(&exchange, ExchangeDeleteOptions::default())
                .await?;
        }
        Cmd::NatsDeleteStream { url, stream } => {
            let js = async_nats::jetstream::new(async_nats::connect(url).await?);
            let _ = js.delete_stream(&stream).await;
        }
    }
    Ok(())
}
