//! What the server process keeps resident: process-wide memory settings, made before any
//! other thread exists (issue 18: RSS after load).
//!
//! Measured with the inbox benchmark (SQLite, 6 s after the GET and inbox loads): 35–36 MB,
//! of which ~15 MB are the binary's own file pages (its 12.9 MB of code is mapped in 64 KiB
//! runs around each page touched), ~11 MB mimalloc's pages and ~9 MB SQLite's (7.9 MB live:
//! page caches and statements, in glibc's heap); 29 MB on PostgreSQL. A thread calling
//! `mi_collect` every 5 s, kept before `purge_delay` was 0, no longer changed any figure (in
//! mimalloc 3 it collects only its own thread's heap): removed. Arenas committed on demand
//! (`arena_eager_commit` 0) saved 3 MB but, with `purge_delay` 0, cost 30 % of the reads'
//! throughput in page faults: not kept (server/README.md, third round).

use std::ffi::{c_int, c_long};

extern "C" {
    /// Sets one of mimalloc's options (`mi_option_t` is a C enum, an int).
    fn mi_option_set(option: c_int, value: c_long);
}

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (libmimalloc-sys 0.1.49 builds v3).
const MI_OPTION_PURGE_DELAY: c_int = 15;

/// Call first in `main`, before any other thread exists (mimalloc's options and `prctl` are
/// process-wide; `mi_option_set` is not thread-safe).
pub fn configure() {
    no_transparent_huge_pages();
    // Freed pages go back to the OS at once instead of after 1 s: 11 MB less at start, 4 MB
    // less after load, and no slower in the benchmark (mimalloc keeps reusing pages that are
    // still in use by other blocks). An operator's MIMALLOC_PURGE_DELAY wins.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: no other thread runs yet; the call only writes mimalloc's option table.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
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
