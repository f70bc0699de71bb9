//! The ICAP door with the engine and the shipped default policy, for benchmarks and manual
//! tries with Squid: `cargo run --release -p baomi-icap --example icap_serve -- 127.0.0.1:1344`.
//! `baomi serve` is the real wiring (incidents, store); this has none of that.

use std::sync::Arc;

use baomi_core::{Action, Channel};
use baomi_engine::{Engine, EngineConfig};
use baomi_icap::{BlockNotice, Decision, Exchange, IcapConfig, Inspector};

struct EngineInspector(Arc<Engine>);

impl Inspector for EngineInspector {
    async fn inspect(&self, ex: Exchange) -> anyhow::Result<Decision> {
        let mut reasons = Vec::new();
        for o in ex.objects {
            let engine = self.0.clone();
            let report =
                tokio::task::spawn_blocking(move || engine.inspect(o.blob, &o.name, Channel::Web))
                    .await?;
            if report.verdict.action >= Action::Block {
                reasons.extend(report.verdict.rules);
            }
        }
        Ok(if reasons.is_empty() {
            Decision::Allow
        } else {
            Decision::Block(BlockNotice {
                incident: "EXAMPLE".into(),
                reasons,
                level: None,
                contact: None,
            })
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:1344".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("ICAP on icap://{addr}/reqmod");
    let engine = Arc::new(Engine::new(EngineConfig::default())?);
    baomi_icap::serve(
        listener,
        Arc::new(IcapConfig::default()),
        Arc::new(EngineInspector(engine)),
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await?;
    Ok(())
}
