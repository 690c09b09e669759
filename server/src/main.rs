//! `parchment-server`: parses the command line and runs the subcommand (`cli.rs`).

use clap::Parser;
use tracing_subscriber::EnvFilter;

// glibc's malloc/free took ~17 % of the server's CPU under inbox load (many small, short-lived
// allocations across threads); mimalloc serves them from thread-local pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    no_transparent_huge_pages();
    return_freed_memory();
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

extern "C" {
    /// mimalloc's collection: with `force`, frees what it holds for later reuse back to the OS.
    fn mi_collect(force: bool);
}

/// mimalloc returns freed memory to the OS only while the process keeps allocating; an idle
/// server kept what starting up used and freed (the OpenAPI document is built and the docs
/// page compressed, then dropped): 12 of 38 MB resident at start. A background thread asks
/// for it to be returned now and then, which costs nothing while requests run.
fn return_freed_memory() {
    let _ = std::thread::Builder::new()
        .name("mi-collect".into())
        .spawn(|| loop {
            std::thread::sleep(std::time::Duration::from_secs(5));
            // SAFETY: mi_collect takes a flag and only touches mimalloc's own state, which it
            // locks for other threads.
            unsafe { mi_collect(true) };
        });
}

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
