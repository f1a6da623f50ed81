//! The process's memory allocator: mimalloc, with freed memory returned to the system soon.
//!
//! Rendering an issue allocates and frees hundreds of thousands of small blocks (html5ever's
//! trees and tendrils in the sanitiser and the CSS inliner, Tera's values, the plain text), and
//! glibc's malloc and free were about a tenth of its instructions. mimalloc (v3) renders the
//! example issue about 20 % faster (figures in `benches/render.rs` and `benches/build.sh`).
//!
//! Its one cost was memory: by default it keeps freed pages for a second before giving them
//! back, which raised the peak RSS of a 1,000-issue `build` from 55 to 73 MiB (the target is
//! 64; mimalloc v2, with its shorter default delay, 65 MiB). [`tune`] sets that delay to
//! [`PURGE_DELAY_MS`], which keeps the peak within a few MiB of glibc's and the speed within a
//! few per cent of mimalloc's default. The crate is built with `no_thp`, so no transparent huge
//! page makes a small heap look large.
//!
//! `MIMALLOC_PURGE_DELAY` and mimalloc's other `MIMALLOC_*` variables still apply when set.
//!
//! The one `unsafe` of the crate is here: setting a mimalloc option is a C call.

#![allow(unsafe_code, reason = "mimalloc's option setter and lookups are C functions")]

use crate::env::Env;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long freed memory stays with the process before it is returned, in milliseconds.
pub const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// The variable that sets mimalloc's purge delay, which [`tune`] leaves alone when set.
const PURGE_DELAY_VAR: &str = "MIMALLOC_PURGE_DELAY";

/// `mi_option_purge_delay` in mimalloc v3's `mimalloc.h` (`libmimalloc-sys` exports no
/// constant for it). The enum is mimalloc's public ABI: retired options keep their places.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Set the allocator's options for this process, unless the environment sets them.
///
/// Call it once, first thing, before any thread starts (mimalloc's option setters are not
/// thread-safe) and before much is freed: mimalloc keeps the purge time it schedules first
/// (one second after a free under the default delay) until that time has passed, so a later
/// call would change nothing for the first second, which is most of a `build`.
pub fn tune(env: &Env) {
    if env.is_set(PURGE_DELAY_VAR) {
        return;
    }
    // SAFETY: a plain store into mimalloc's option table, at start-up on one thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number is `purge_delay`'s: mimalloc's documented defaults of its neighbours in
    /// the table (`eager_commit_delay` 1, `use_numa_nodes` 0, `os_tag` 100, `max_errors` 32)
    /// sit where they should, and `purge_delay` itself reads its default or ours.
    #[test]
    fn the_option_number_is_mimallocs_purge_delay() {
        // SAFETY: reads of mimalloc's option table.
        let get = |option| unsafe { libmimalloc_sys::mi_option_get(option) };
        assert_eq!(get(MI_OPTION_PURGE_DELAY - 1), 1);
        assert_eq!(get(MI_OPTION_PURGE_DELAY + 1), 0);
        assert_eq!(get(MI_OPTION_PURGE_DELAY + 3), 100);
        assert_eq!(get(MI_OPTION_PURGE_DELAY + 4), 32);
        tune(&Env::default());
        assert_eq!(get(MI_OPTION_PURGE_DELAY), PURGE_DELAY_MS);
    }

    #[test]
    fn memory_comes_from_mimalloc() {
        let block: Vec<u8> = (0..100).collect();
        // SAFETY: a lookup of any address in mimalloc's regions.
        assert!(unsafe { libmimalloc_sys::mi_is_in_heap_region(block.as_ptr().cast()) });
    }
}
