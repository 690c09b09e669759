//! `parchment-server`: parses the command line and runs the subcommand (`cli.rs`).

use clap::Parser;
use tracing_subscriber::EnvFilter;

// glibc's malloc/free took ~17 % of the server's CPU under inbox load (many small, short-lived
// allocations across threads); mimalloc serves them from thread-local pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    no_transparent_huge_pages();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Where the kernel backs anonymous memory with transparent huge pages by default (`always`,
/// as on many distributions), each 2 MiB region of mimalloc's arenas becomes a huge page at
/// its first touched byte: 29 of the 62 MB resident at start, before any request. Opting
/// this process out (before the runtime's threads allocate) keeps RSS near what is used.
/// Failure (an old kernel) only costs memory.
#[cfg(target_os = "linux")]
fn no_transparent_huge_pages() {
    // SAFETY: prctl with PR_SET_THP_DISABLE takes an integer flag and touches no memory of
    // ours.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[cfg(not(target_os = "linux"))]
fn no_transparent_huge_pages() {}

async fn run() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = parchment_server::config::Cli::parse();
    match parchment_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
