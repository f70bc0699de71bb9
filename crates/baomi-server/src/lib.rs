//! `baomi serve`: one process with the REST API, the ICAP door for web proxies and the
//! milter door for mail servers, all handing objects to the same engine through
//! [`gateway::Gateway`], and all recording into the same store.
//!
//! The doors are thin: they turn a protocol exchange into objects and a [`gateway::Who`],
//! and a [`gateway::Outcome`] back into a protocol answer. Detection lives in the engine,
//! records in `baomi-store`.

use std::sync::Arc;
use std::time::Duration;

use baomi_engine::Engine;
use baomi_store::{EvidenceVault, Store};
use tokio::net::TcpListener;

pub mod agent_api;
pub mod api;
pub mod authz;
pub mod chat_groups_api;
pub mod commitments_api;
pub mod config;
pub mod directory;
pub mod gateway;
pub mod icap_door;
pub mod live;
pub mod metrics;
pub mod milter_door;
pub mod quizzes_api;
pub mod records_api;
pub mod reviews_api;
pub mod tls;

pub use config::ServerConfig;
pub use gateway::{Gateway, Outcome, Who};

/// Open what the gateway needs: the store (migrated), the evidence vault and the directory.
pub async fn open_gateway(
    config: ServerConfig,
    engine: Arc<Engine>,
    store: Store,
) -> anyhow::Result<Arc<Gateway>> {
    open_gateway_live(config, live::Live::fixed(engine), store).await
}

/// [`open_gateway`] with an engine built from the stored state ([`live::build`]), which a
/// reload keeps current once [`Gateway::set_recipe`] is called.
pub async fn open_gateway_live(
    config: ServerConfig,
    live: live::Live,
    store: Store,
) -> anyhow::Result<Arc<Gateway>> {
    let store = store.with_evidence_root(config.gateway.evidence_dir.as_deref());
    let vault = EvidenceVault::open(store.evidence_root())?;
    let directory = match &config.directory.file {
        Some(f) => directory::Directory::load(f)?,
        None => directory::Directory::default(),
    };
    Ok(Arc::new(Gateway::new(
        live,
        store,
        Arc::new(vault),
        directory,
        Arc::new(metrics::Metrics::new()),
        Arc::new(config),
    )))
}

/// Where a running server listens (the ports actually bound, for `:0` in tests).
#[derive(Debug, Clone)]
pub struct Bound {
    pub http: std::net::SocketAddr,
    pub icap: Option<std::net::SocketAddr>,
    pub milter: Option<std::net::SocketAddr>,
}

/// Bind every configured listener, then serve until `shutdown` resolves (HTTP: the REST API
/// alone; the binary serves the console too, through [`serve_app`]).
pub async fn serve(
    gateway: Arc<Gateway>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(&Bound),
) -> anyhow::Result<()> {
    serve_app(gateway, api::router, shutdown, on_bound).await
}

/// Like [`serve`], with the HTTP application built by `app` from the API's state.
pub async fn serve_app(
    gateway: Arc<Gateway>,
    app: fn(api::ApiState) -> axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(&Bound),
) -> anyhow::Result<()> {
    let config = gateway.config.clone();
    // A bad certificate stops the start, before anything listens.
    let tls = match (&config.http.tls_cert, &config.http.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let http = TcpListener::bind(config.listen.http)
        .await
        .map_err(|e| anyhow::anyhow!("HTTP {}: {e}", config.listen.http))?;
    let icap = match config.icap_addr()? {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .map_err(|e| anyhow::anyhow!("ICAP {a}: {e}"))?,
        ),
        None => None,
    };
    let milter = match config.milter_addr()? {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .map_err(|e| anyhow::anyhow!("milter {a}: {e}"))?,
        ),
        None => None,
    };
    let bound = Bound {
        http: http.local_addr()?,
        icap: icap.as_ref().map(|l| l.local_addr()).transpose()?,
        milter: milter.as_ref().map(|l| l.local_addr()).transpose()?,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut doors = tokio::task::JoinSet::new();
    if let Some(listener) = icap {
        let icap_config = Arc::new(icap_door::icap_config(&gateway));
        let inspector = Arc::new(icap_door::IcapInspector {
            gateway: gateway.clone(),
        });
        let state = Arc::new(baomi_icap::IcapState::new(&icap_config));
        let _ = gateway.metrics.icap.set(state.clone());
        let mut stop = stop_rx.clone();
        doors.spawn(async move {
            baomi_icap::serve_with_state(listener, icap_config, inspector, state, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            .map_err(|e| anyhow::anyhow!("ICAP: {e}"))
        });
    }
    let mut mail_queue: Option<Arc<dyn api::MailQueue>> = None;
    if let Some(listener) = milter {
        let milter_config = Arc::new(milter_door::milter_config(&gateway));
        let inspector = Arc::new(milter_door::MilterInspector {
            gateway: gateway.clone(),
        });
        mail_queue = Some(Arc::new(milter_door::PostfixHold(
            baomi_milter::HoldQueue::new(
                config.milter.postsuper.clone(),
                config.milter.postfix_config_dir.clone(),
            ),
        )));
        let stats = Arc::new(baomi_milter::MilterStats::default());
        let _ = gateway.metrics.milter.set(stats.clone());
        let mut stop = stop_rx.clone();
        doors.spawn(async move {
            baomi_milter::serve_with_stats(listener, milter_config, inspector, stats, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            .map_err(|e| anyhow::anyhow!("milter: {e}"))
        });
    }
    let state = api::ApiState {
        gateway: gateway.clone(),
        mail_queue,
    };
    on_bound(&bound);
    tracing::info!(http = %bound.http, icap = ?bound.icap, milter = ?bound.milter, "baomi serve: listening");
    let retention = tokio::spawn(retention_loop(gateway.clone(), stop_rx.clone()));
    let state_task = live::spawn(gateway.clone(), node_identity(&config, &bound));
    let _directory_sync = directory::ldap::spawn_sync(
        &gateway.config,
        {
            // Applied here at once, and stored so every node applies the same people (a
            // sync that found nothing new stores nothing).
            let g = gateway.clone();
            let source = gateway
                .config
                .directory
                .ldap
                .as_ref()
                .map(|l| format!("ldap:{}", l.url))
                .unwrap_or_default();
            move |d: directory::Directory| {
                let snapshot = d.to_snapshot();
                let counts = (d.len() as i64, d.departments().len() as i64);
                g.set_directory(d);
                let (g, source) = (g.clone(), source.clone());
                tokio::spawn(async move {
                    if let Err(e) = g
                        .store
                        .directory_put(&snapshot, counts.0, counts.1, &source, "ldap-sync")
                        .await
                    {
                        tracing::warn!("storing the synced directory: {e}");
                    }
                });
            }
        },
        stop_rx.clone(),
    );
    let mut http_stop = stop_rx.clone();
    let app = app(state);
    let http_task = tokio::spawn(async move {
        let stop = async move {
            let _ = http_stop.wait_for(|s| *s).await;
        };
        match tls {
            Some(acceptor) => {
                axum::serve(tls::TlsListener::new(http, acceptor)?, app)
                    .with_graceful_shutdown(stop)
                    .await
            }
            None => axum::serve(http, app).with_graceful_shutdown(stop).await,
        }
    });
    shutdown.await;
    tracing::info!("baomi serve: shutting down");
    let _ = stop_tx.send(true);
    http_task.await??;
    while let Some(done) = doors.join_next().await {
        done??;
    }
    retention.abort();
    state_task.abort();
    Ok(())
}

/// `node.id` or the host name with the HTTP port, and where this node listens.
fn node_identity(config: &ServerConfig, bound: &Bound) -> live::NodeIdentity {
    let id = config.node.id.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        format!("{host}:{}", bound.http.port())
    });
    let mut address = format!("http://{}", bound.http);
    if let Some(a) = bound.icap {
        address.push_str(&format!(" icap://{a}"));
    }
    if let Some(a) = bound.milter {
        address.push_str(&format!(" milter inet:{a}"));
    }
    live::NodeIdentity { id, address }
}

/// Once an hour, delete incidents and evidence older than the retention period.
async fn retention_loop(gateway: Arc<Gateway>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let days = gateway.config.gateway.retention_days;
    if days == 0 {
        return;
    }
    loop {
        let before = baomi_store::now_ms() - i64::from(days) * 86_400_000;
        match gateway.store.purge_before(before, "retention").await {
            Ok((0, _)) => {}
            Ok((n, orphans)) => {
                for h in &orphans {
                    if let Err(e) = gateway.vault.remove(h) {
                        tracing::warn!("retention: evidence {h}: {e}");
                    }
                }
                tracing::info!("retention: deleted {n} incidents older than {days} days");
            }
            Err(e) => tracing::warn!("retention: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
