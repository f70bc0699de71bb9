//! `baomi serve`: the gateway process (REST API, ICAP, milter) on the embedded SQLite store
//! or PostgreSQL.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use baomi_server::ServerConfig;
use baomi_store::Store;
use clap::Args;

#[derive(Args)]
pub struct ServeArgs {
    /// Address for the REST API, /healthz and /metrics (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
    /// Address for ICAP (default 127.0.0.1:1344); `off` disables it.
    #[arg(long, value_name = "ADDR")]
    pub icap_listen: Option<String>,
    /// Address for the milter (default 127.0.0.1:8899); `off` disables it.
    #[arg(long, value_name = "ADDR")]
    pub milter_listen: Option<String>,
    /// Policy file (TOML) to store as a new version when it differs from the active one.
    /// Without it, DATA_DIR/policy.toml is imported when it is newer than the stored policy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

pub fn serve(args: ServeArgs, mut config: ServerConfig, data_dir: &Path) -> Result<i32> {
    if let Some(a) = args.http_listen {
        config.listen.http = a;
    }
    if let Some(a) = args.icap_listen {
        config.listen.icap = a;
    }
    if let Some(a) = args.milter_listen {
        config.listen.milter = a;
    }
    config.check()?;
    let internal = config.milter.internal_domains.clone();
    let mut recipe = baomi_server::live::Recipe {
        limits: baomi_engine::Limits {
            passwords: crate::setup::passwords(config.scan.passwords.as_deref(), data_dir)?,
            ..baomi_engine::Limits::default()
        },
        internal_domains: internal.clone(),
        vault: None,
    };
    crate::admin::runtime()?.block_on(async move {
        let store = Store::open(data_dir, config.database.url.as_deref())
            .await?
            .with_evidence_root(config.gateway.evidence_dir.as_deref());
        // The password bank is sealed in the store with the evidence key; the file is an
        // import path like the policy's.
        let vault = Arc::new(baomi_store::EvidenceVault::open(store.evidence_root())?);
        crate::setup::import_passwords(&store, &vault, config.scan.passwords.as_deref(), data_dir)
            .await?;
        recipe.vault = Some(vault);
        crate::setup::import_directory(&store, config.directory.file.as_deref()).await?;
        // The policy, the term lists and the registry live in the store; files are an
        // import path. Every change is applied by the running node within seconds.
        crate::setup::import_files(&store, args.policy.as_deref(), data_dir, &internal).await?;
        let live = baomi_server::live::build(&store, &recipe).await?;
        eprintln!(
            "baomi serve: policy v{}, {} term lists, registry #{}, {}",
            live.versions.policy,
            store.dictionary_list().await?.len(),
            live.versions.registry,
            match store.password_bank_meta().await? {
                Some(m) => format!("password bank of {} passwords", m.entries),
                None => "no password bank".to_owned(),
            }
        );
        if store.account_count().await? == 0 {
            eprintln!(
                "baomi serve: no console accounts yet. Create the three roles (三员) on this machine:\n  \
                 baomi user add NAME --role sysadmin --password-stdin\n  \
                 baomi user add NAME --role secadmin --password-stdin\n  \
                 baomi user add NAME --role auditor --password-stdin"
            );
        }
        if store.last_backup_ms().await?.is_none() {
            eprintln!(
                "baomi serve: the evidence key {} has never been backed up. Without it no \
                 piece of evidence can be decrypted: run `baomi backup /media/backup/baomi-DATE` \
                 and keep the copy offline.",
                config
                    .gateway
                    .evidence_dir
                    .as_deref()
                    .unwrap_or(data_dir)
                    .join("evidence.key")
                    .display()
            );
        }
        let gateway =
            baomi_server::open_gateway_live(config, live, store).await?;
        gateway.set_recipe(recipe);
        baomi_server::serve_app(gateway, baomi_console::app, shutdown_signal(), |b| {
            eprintln!(
                "baomi serve: console and API http://{}/{}{}, data in {}",
                b.http,
                b.icap
                    .map(|a| format!(", ICAP icap://{a}/reqmod"))
                    .unwrap_or_default(),
                b.milter
                    .map(|a| format!(", milter inet:{a}"))
                    .unwrap_or_default(),
                data_dir.display()
            );
        })
        .await?;
        Ok(0)
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
