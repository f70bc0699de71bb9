//! Which panics are failures.
//!
//! The walker runs each format inside `catch_unwind` and reports a panic as `unreadable`:
//! a net for third-party parsers (zip, pdf_oxide, cfb, …) that may panic on malformed input.
//! Under the fuzzer that net would hide our own bugs as well, so the hook installed here
//! aborts the process — a crash libFuzzer records with its input — when the panic is raised
//! in Baomi's own source, and lets a third-party panic unwind into the net (printing its
//! location once, so a run's log lists the upstream panics it met). With
//! `BAOMI_FUZZ_STRICT=1` every panic aborts.

use std::collections::HashSet;
use std::panic::{self, PanicHookInfo};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

static INSTALL: Once = Once::new();
static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
/// Third-party panics caught so far (all locations).
pub static THIRD_PARTY_PANICS: AtomicU64 = AtomicU64::new(0);

/// Install the hook (once; later calls do nothing). libFuzzer's harness installs its own
/// aborting hook at start-up; this one replaces it on the first input.
pub fn install_panic_hook() {
    INSTALL.call_once(|| {
        let strict = std::env::var_os("BAOMI_FUZZ_STRICT").is_some_and(|v| v != "0");
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if strict || is_ours(info) {
                previous(info);
                eprintln!("baomi-fuzz: panic in Baomi's own code: aborting");
                std::process::abort();
            }
            THIRD_PARTY_PANICS.fetch_add(1, Ordering::Relaxed);
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
            if seen.get_or_insert_with(HashSet::new).insert(at.clone()) {
                eprintln!(
                    "baomi-fuzz: third-party panic at {at} (left to the walker's net): {}",
                    message(info)
                );
            }
        }));
    });
}

/// True when the panic was raised in a file of this repository's crates.
fn is_ours(info: &PanicHookInfo<'_>) -> bool {
    info.location().is_some_and(|l| {
        let f = l.file();
        let f = f.replace('\\', "/");
        !f.contains("/.cargo/") && !f.starts_with("/rustc/") && f.contains("crates/baomi-")
    })
}

fn message(info: &PanicHookInfo<'_>) -> String {
    let p = info.payload();
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}
