//! What the server process keeps resident: settings and a background thread that hand back
//! memory the process no longer uses (issue 18: RSS after load).
//!
//! Measured with the inbox benchmark (SQLite, after the GET and inbox loads, 6 s idle):
//! 48 MB, of which 14 MB are the binary's own file pages (most of its 12.9 MB of code: the
//! kernel maps it in 64 KiB runs around each page touched), 19 MB mimalloc's pages and
//! 11 MB SQLite's (five connections' page caches, in glibc's heap).

use std::ffi::{c_int, c_long};
use std::time::Duration;

extern "C" {
    /// mimalloc's collection: with `force`, frees what it holds for later reuse back to the OS.
    fn mi_collect(force: bool);
    /// Sets one of mimalloc's options (`mi_option_t` is a C enum, an int).
    fn mi_option_set(option: c_int, value: c_long);
}

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (libmimalloc-sys 0.1.49 builds v3).
const MI_OPTION_PURGE_DELAY: c_int = 15;

/// How often freed memory is handed back while idle.
const COLLECT_EVERY: Duration = Duration::from_secs(5);

/// Call first in `main`, before any other thread exists (mimalloc's options and `prctl` are
/// process-wide; `mi_option_set` is not thread-safe).
pub fn configure() {
    no_transparent_huge_pages();
    // Freed pages go back to the OS at once instead of after 1 s: 11 MB less at start, 4 MB
    // less after load, and no slower in the benchmark (mimalloc keeps reusing pages that are
    // still in use by other blocks).
    // SAFETY: no other thread runs yet; the call only writes mimalloc's option table.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    return_freed_memory();
}

/// Where the kernel backs anonymous memory with transparent huge pages by default (`always`,
/// as on many distributions), each 2 MiB region of mimalloc's arenas becomes a huge page at
/// its first touched byte: 29 of the 62 MB resident at start, before any request. Opting
/// this process out keeps RSS near what is used. Failure (an old kernel) only costs memory.
#[cfg(target_os = "linux")]
fn no_transparent_huge_pages() {
    // SAFETY: prctl with PR_SET_THP_DISABLE takes an integer flag and touches no memory of
    // ours.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[cfg(not(target_os = "linux"))]
fn no_transparent_huge_pages() {}

/// mimalloc returns freed memory to the OS only while the process keeps allocating; an idle
/// server kept what starting up used and freed (the OpenAPI document is built and the docs
/// page compressed, then dropped). A background thread asks for it to be returned now and
/// then, which costs nothing while requests run.
fn return_freed_memory() {
    let _ = std::thread::Builder::new()
        .name("mi-collect".into())
        .spawn(|| loop {
            std::thread::sleep(COLLECT_EVERY);
            // SAFETY: mi_collect takes a flag and only touches mimalloc's own state, which
            // it locks for other threads.
            unsafe { mi_collect(true) };
        });
}
