//! Baomi's fuzz targets, as plain functions of one byte slice.
//!
//! Every parser that reads bytes from outside has a target here: sniffing, the walker on
//! arbitrary bytes (which reaches every format), each format directly, image metadata, text
//! encoding detection, the ICAP and milter doors (a whole conversation on an in-memory
//! pipe), the policy and dictionary loaders, the normaliser with every detector. The
//! libFuzzer harness in `fuzz/` is one line per target calling [`run`]; the workspace test
//! `tests/corpus.rs` runs every target over the committed seeds and the minimised inputs
//! of past crashes (`fuzz/regressions/`), so a regression fails `cargo test` without
//! libFuzzer.
//!
//! What counts as a failure, besides the process dying:
//! - a panic **in Baomi's own code**, even where the walker's `catch_unwind` net would have
//!   turned it into an `unreadable` finding in production: that net is for third-party
//!   parsers, our own code must not need it ([`install_panic_hook`]);
//! - a panic of any origin that escapes the net (the target sees it unwind);
//! - a broken invariant the target checks (a finding's span outside its text, an ICAP
//!   answer that is not ICAP, a conversation that does not end).
//!
//! Memory and time are bounded by libFuzzer (`-rss_limit_mb=512 -timeout=10`); the
//! extraction limits the targets use are the defaults with a 5 s wall-time limit, so a
//! slow input shows as a libFuzzer timeout only if the walker's own clock fails.

mod doors;
mod extract;
mod panic;
pub mod seeds;
mod text;

pub use panic::install_panic_hook;

/// One fuzz target: its name (the `fuzz/fuzz_targets/<name>.rs` file and the corpus
/// directory) and its function.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, in the order RELIABILITY.md lists them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "sniff",
        run: extract::sniff,
    },
    Target {
        name: "walk",
        run: extract::walk,
    },
    Target {
        name: "zip",
        run: extract::zip,
    },
    Target {
        name: "tar",
        run: extract::tar,
    },
    Target {
        name: "sevenz",
        run: extract::sevenz,
    },
    Target {
        name: "rar",
        run: extract::rar,
    },
    Target {
        name: "compress",
        run: extract::compress,
    },
    Target {
        name: "ooxml",
        run: extract::ooxml,
    },
    Target {
        name: "odf",
        run: extract::odf,
    },
    Target {
        name: "ofd",
        run: extract::ofd,
    },
    Target {
        name: "rtf",
        run: extract::rtf,
    },
    Target {
        name: "pdf",
        run: extract::pdf,
    },
    Target {
        name: "markup",
        run: extract::markup,
    },
    Target {
        name: "mail",
        run: extract::mail,
    },
    Target {
        name: "mbox",
        run: extract::mbox,
    },
    Target {
        name: "msg",
        run: extract::msg,
    },
    Target {
        name: "legacy",
        run: extract::legacy,
    },
    Target {
        name: "exif",
        run: extract::exif,
    },
    Target {
        name: "image",
        run: extract::image,
    },
    Target {
        name: "encoding",
        run: extract::encoding,
    },
    Target {
        name: "icap",
        run: doors::icap,
    },
    Target {
        name: "milter",
        run: doors::milter,
    },
    Target {
        name: "policy",
        run: text::policy,
    },
    Target {
        name: "dictionary",
        run: text::dictionary,
    },
    Target {
        name: "detect",
        run: text::detect,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Run target `name` on `data` (the libFuzzer entry point). Panics on an unknown name,
/// which is a mistake in `fuzz/`, not an input.
pub fn run(name: &str, data: &[u8]) {
    install_panic_hook();
    let t = target(name).unwrap_or_else(|| panic!("no fuzz target {name}"));
    (t.run)(data);
}
