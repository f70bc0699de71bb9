//! The file-system door: self-inspection (保密自查) of computers and shares.
//!
//! [`scan`] walks the given paths (no symlink following by default, hidden files included,
//! `.gitignore` ignored: a secrecy check must see everything), inspects files on a pool of
//! worker threads and streams each [`ObjectReport`] to the caller as soon as it is ready,
//! so a scan of a large share keeps memory flat. [`Summary`] adds up what a
//! self-inspection statistics table needs; [`output`] renders reports.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use baomi_core::Channel;
use baomi_engine::{Engine, ObjectReport};

pub mod output;
pub mod run;
mod summary;

pub use summary::Summary;

/// What to scan and how.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    pub paths: Vec<PathBuf>,
    /// Glob patterns (gitignore syntax) of paths to leave out.
    pub excludes: Vec<String>,
    pub follow_symlinks: bool,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
}

/// Something the walk itself could not do (unreadable directory, bad exclude pattern).
#[derive(Debug, Clone)]
pub struct WalkError {
    pub path: String,
    pub message: String,
}

/// Walk and inspect. `on_item` runs on the calling thread for every file's report, in
/// completion order, and for every walk error. Returns when everything is inspected.
pub fn scan(
    engine: &Engine,
    options: &ScanOptions,
    mut on_item: impl FnMut(Result<ObjectReport, WalkError>),
) {
    let threads = if options.threads == 0 {
        thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        options.threads
    };
    // Bounded queues: the walk runs ahead of the workers by at most a few hundred paths.
    let (path_tx, path_rx) = mpsc::sync_channel::<PathBuf>(256);
    let path_rx = std::sync::Mutex::new(path_rx);
    let (out_tx, out_rx) = mpsc::sync_channel::<Result<ObjectReport, WalkError>>(64);

    thread::scope(|s| {
        let walk_out = out_tx.clone();
        s.spawn(move || walk(options, &path_tx, &walk_out));
        for _ in 0..threads {
            let out = out_tx.clone();
            let rx = &path_rx;
            s.spawn(move || {
                loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok(path)) = next else { break };
                    let report = engine.inspect_path(&path, Channel::Scan);
                    if out.send(Ok(report)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(out_tx);
        for item in out_rx {
            on_item(item);
        }
    });
}

/// Scan and render: every report goes to `writer`, totals to the returned [`Summary`];
/// `progress` sees the running summary after each file. A write error stops the output
/// (the scan still finishes so the exit code is right) and is returned.
pub fn scan_to(
    engine: &Engine,
    options: &ScanOptions,
    writer: &mut dyn output::ReportWriter,
    mut progress: impl FnMut(&Summary),
) -> (Summary, std::io::Result<()>) {
    let mut summary = Summary::default();
    let mut result = Ok(());
    scan(engine, options, |item| {
        let written = match item {
            Ok(report) => {
                let alerts = engine.alerts(&report.verdict);
                summary.add(&report, alerts);
                writer.report(&report, alerts)
            }
            Err(e) => {
                summary.walk_error();
                writer.walk_error(&e)
            }
        };
        if result.is_ok() {
            result = written;
        }
        progress(&summary);
    });
    if result.is_ok() {
        result = writer.finish(&summary);
    }
    (summary, result)
}

fn walk(
    options: &ScanOptions,
    paths: &mpsc::SyncSender<PathBuf>,
    errors: &mpsc::SyncSender<Result<ObjectReport, WalkError>>,
) {
    let Some((first, rest)) = options.paths.split_first() else {
        return;
    };
    let mut builder = ignore::WalkBuilder::new(first);
    for p in rest {
        builder.add(p);
    }
    builder
        .standard_filters(false)
        .follow_links(options.follow_symlinks);
    if !options.excludes.is_empty() {
        let mut ov = ignore::overrides::OverrideBuilder::new(common_root(&options.paths));
        for pattern in &options.excludes {
            if let Err(e) = ov.add(&format!("!{pattern}")) {
                let _ = errors.send(Err(WalkError {
                    path: pattern.clone(),
                    message: e.to_string(),
                }));
                return;
            }
        }
        match ov.build() {
            Ok(ov) => {
                builder.overrides(ov);
            }
            Err(e) => {
                let _ = errors.send(Err(WalkError {
                    path: String::new(),
                    message: e.to_string(),
                }));
                return;
            }
        }
    }
    for entry in builder.build() {
        match entry {
            Ok(entry) => {
                let is_file = entry.file_type().is_some_and(|t| t.is_file());
                if is_file && paths.send(entry.into_path()).is_err() {
                    return;
                }
            }
            Err(e) => {
                let (path, message) = match &e {
                    ignore::Error::WithPath { path, err } => {
                        (path.display().to_string(), err.to_string())
                    }
                    _ => (String::new(), e.to_string()),
                };
                let _ = errors.send(Err(WalkError { path, message }));
            }
        }
    }
}

/// Anchored excludes (`sub/tmp.txt`) are relative to the scanned directory when there is one,
/// else to the current directory; unanchored ones (`*.iso`) match anywhere.
fn common_root(paths: &[PathBuf]) -> &Path {
    match paths {
        [one] if one.is_dir() => one,
        _ => Path::new("."),
    }
}
