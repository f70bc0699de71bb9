//! `baomi fingerprint …`: the registry of secret documents (登记的涉密文件) that scans and the
//! gateway recognise in whole or in excerpt, and the corpus of ordinary documents whose
//! shared phrases never count as a match.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use baomi_core::Level;
use baomi_core::fingerprint::{AllowSet, FingerprintIndex};
use baomi_engine::{Engine, EngineConfig, register};
use baomi_extract::Blob;
use baomi_store::{RegistryEntry, RegistryMeta, Store};
use clap::Subcommand;

use crate::admin::{console_actor, runtime};

#[derive(Subcommand)]
pub enum FingerprintCommand {
    /// Register secret documents (any format Baomi reads: docx, pdf, eml, zip, …).
    Add {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Classification level (top_secret|secret|confidential|… or 绝密|机密|秘密…).
        /// Default: the highest marking found in the document.
        #[arg(long)]
        level: Option<String>,
        /// Title shown in findings (default: the file name without extension).
        #[arg(long)]
        title: Option<String>,
        /// Registry id (default: derived from the file's content); only with one file.
        #[arg(long)]
        id: Option<String>,
    },
    /// Register every file under a directory, titled by file name.
    Import {
        dir: PathBuf,
        #[arg(long)]
        level: Option<String>,
    },
    /// List registered documents.
    List,
    /// Remove a registered document by id.
    Remove { id: String },
    /// Learn boilerplate from a directory of ordinary (unclassified) documents: phrases
    /// they share never count as a match. Replaces the previously learnt corpus.
    AllowCorpus { dir: PathBuf },
}

fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in ignore::WalkBuilder::new(dir)
        .hidden(false)
        .git_ignore(false)
        .ignore(false)
        .build()
    {
        let entry = entry?;
        if entry.file_type().is_some_and(|t| t.is_file()) {
            out.push(entry.into_path());
        }
    }
    out.sort();
    Ok(out)
}

fn parse_level(s: &str) -> Result<Level> {
    Level::parse(s).with_context(|| {
        format!("unknown level {s:?} (top_secret, secret, confidential, commercial_secret, work_secret, internal, sensitive)")
    })
}

/// Documents stored [`Batch::SIZE`] at a time, each chunk in one transaction: a directory
/// of thousands of documents is a few commits, and a few changes for the running nodes to
/// apply, instead of one of each per document; memory stays bounded by the chunk.
struct Batch<'a> {
    store: &'a Store,
    actor: &'a str,
    entries: Vec<RegistryEntry>,
}

impl<'a> Batch<'a> {
    const SIZE: usize = 1000;

    fn new(store: &'a Store, actor: &'a str) -> Self {
        Batch {
            store,
            actor,
            entries: Vec::new(),
        }
    }

    async fn push(&mut self, entry: RegistryEntry) -> Result<()> {
        self.entries.push(entry);
        if self.entries.len() >= Self::SIZE {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        self.store
            .registry_put_many(&self.entries, self.actor)
            .await?;
        self.entries.clear();
        Ok(())
    }

    async fn finish(mut self) -> Result<()> {
        self.flush().await
    }
}

fn register_one(
    engine: &Engine,
    path: &Path,
    level: Option<Level>,
    title: Option<&str>,
    id: Option<&str>,
) -> Result<RegistryEntry> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let blob = Blob::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let r = register::register(engine, blob, &name, level, title, id)
        .map_err(|e| anyhow::anyhow!("{}: {e} (--level)", path.display()))?;
    Ok(RegistryEntry {
        meta: RegistryMeta {
            id: r.id,
            title: r.title,
            level: r.level.as_str().into(),
            source_name: path.display().to_string(),
            chars: i64::from(r.doc.chars),
            added_ms: baomi_store::now_ms(),
        },
        data: r.doc.to_bytes(),
    })
}

pub fn run(cmd: FingerprintCommand, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    let engine = Engine::new(EngineConfig::default())?;
    let actor = console_actor();
    runtime()?.block_on(async {
        let store = Store::open(data_dir, url).await?;
        match cmd {
            FingerprintCommand::Add {
                files,
                level,
                title,
                id,
            } => {
                if id.is_some() && files.len() > 1 {
                    bail!("--id names one document; give one file");
                }
                let level = level.as_deref().map(parse_level).transpose()?;
                // Every file is read before anything is stored: one that cannot be
                // registered stops the command with nothing stored from this chunk.
                let mut batch = Batch::new(&store, &actor);
                for f in &files {
                    let e = register_one(&engine, f, level, title.as_deref(), id.as_deref())?;
                    println!(
                        "{}  {}  {}  {} characters  ({})",
                        e.meta.id,
                        Level::parse(&e.meta.level).map(Level::zh).unwrap_or(""),
                        e.meta.title,
                        e.meta.chars,
                        f.display()
                    );
                    batch.push(e).await?;
                }
                batch.finish().await?;
                Ok(0)
            }
            FingerprintCommand::Import { dir, level } => {
                let level = level.as_deref().map(parse_level).transpose()?;
                let (mut ok, mut failed) = (0, 0);
                let mut batch = Batch::new(&store, &actor);
                for f in files_under(&dir)? {
                    match register_one(&engine, &f, level, None, None) {
                        Ok(e) => {
                            batch.push(e).await?;
                            ok += 1;
                        }
                        Err(e) => {
                            eprintln!("baomi: {e:#}");
                            failed += 1;
                        }
                    }
                }
                batch.finish().await?;
                println!("{ok} documents registered, {failed} not");
                Ok(if failed > 0 { 2 } else { 0 })
            }
            FingerprintCommand::List => {
                let list = store.registry_list().await?;
                for m in &list {
                    println!(
                        "{:<16} {:<6} {:>8} chars  {}  {}  ({})",
                        m.id,
                        Level::parse(&m.level).map(Level::zh).unwrap_or(&m.level),
                        m.chars,
                        baomi_store::local_date(m.added_ms),
                        m.title,
                        m.source_name
                    );
                }
                eprintln!("{} registered documents", list.len());
                Ok(0)
            }
            FingerprintCommand::Remove { id } => {
                store.registry_remove(&id, &actor).await?;
                println!("{id} removed");
                Ok(0)
            }
            FingerprintCommand::AllowCorpus { dir } => {
                let files = files_under(&dir)?;
                let texts: Vec<String> = files
                    .iter()
                    .filter_map(|f| {
                        let name = f.file_name()?.to_string_lossy().into_owned();
                        let blob = Blob::from_path(f).ok()?;
                        Some(register::corpus_text(&engine, blob, &name))
                    })
                    .collect();
                let set = AllowSet::learn(texts.iter());
                store
                    .allow_set_put(&set.to_bytes(), texts.len() as i64, &actor)
                    .await?;
                println!(
                    "learnt {} boilerplate fingerprints from {} documents",
                    set.len(),
                    texts.len()
                );
                Ok(0)
            }
        }
    })
}

/// The registry as an index, or `None` when nothing is registered. A missing embedded
/// database means nothing was ever registered: `scan` does not create one.
pub fn load_index(data_dir: &Path, url: Option<&str>) -> Result<Option<Arc<FingerprintIndex>>> {
    if url.is_none() && !data_dir.join("baomi.db").exists() {
        return Ok(None);
    }
    runtime()?.block_on(async {
        let store = Store::open(data_dir, url).await?;
        let index = index_from_store(&store).await;
        store.close().await;
        index
    })
}

pub async fn index_from_store(store: &Store) -> Result<Option<Arc<FingerprintIndex>>> {
    baomi_server::live::fingerprint_index(store).await
}
