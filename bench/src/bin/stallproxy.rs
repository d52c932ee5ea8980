//! `hookgate-stallproxy`: a TCP proxy for the overload benchmark. It forwards to `--upstream`
//! (Postgres) until it gets SIGUSR1, then stalls every connection — open, but nothing moves,
//! like a database that stopped answering — until SIGUSR2 lets traffic pass again. The proxy
//! itself is the one the integration tests use (`tests/common/proxy.rs`).
//!
//!     hookgate-stallproxy --listen 127.0.0.1:15432 --upstream 127.0.0.1:5432

#[path = "../../../tests/common/proxy.rs"]
#[expect(
    dead_code,
    reason = "the tests' proxy also has a cut mode this binary does not use"
)]
mod proxy;

use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:15432")]
    listen: std::net::SocketAddr,
    #[arg(long, default_value = "127.0.0.1:5432")]
    upstream: std::net::SocketAddr,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let p = proxy::Proxy::start_on(args.listen, args.upstream).await?;
    println!("proxying {} -> {}", p.addr, args.upstream);
    let (mut stall, mut pass) = (
        signal(SignalKind::user_defined1())?,
        signal(SignalKind::user_defined2())?,
    );
    let mut term = signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = stall.recv() => { eprintln!("stalling"); p.set(proxy::Mode::Stall) }
            _ = pass.recv() => { eprintln!("passing"); p.set(proxy::Mode::Pass) }
            _ = term.recv() => return Ok(()),
        }
    }
}
