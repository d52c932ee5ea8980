use clap::Parser;

/// mimalloc instead of the system allocator: on the ingest and delivery paths glibc's malloc
/// and free took 15–18% of the gateway's CPU (many small, short-lived allocations passed
/// between threads); docs/performance-history.md has the figures.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    hookgate::telemetry::ensure_allocator_env();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let cli = hookgate::cli::Cli::parse();
    match runtime.block_on(hookgate::cli::run(cli)) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
