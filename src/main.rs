use clap::Parser;

/// mimalloc instead of the system allocator: on the ingest and delivery paths glibc's malloc
/// and free took 15–18% of the gateway's CPU (many small, short-lived allocations passed
/// between threads); docs/performance.md has the figures.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = hookgate::cli::Cli::parse();
    match hookgate::cli::run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
