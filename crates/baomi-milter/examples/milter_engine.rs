//! The mail door with Baomi's engine behind it, for benchmarks and trying it with a local
//! Postfix: `milter_engine 127.0.0.1:10025` (Ctrl-C stops it).
//!
//! Rejects what the shipped default policy blocks (550 5.7.1, with the rules), tags
//! everything else with `X-Baomi-Verdict`.

use std::sync::Arc;

use baomi_core::{Action, Channel};
use baomi_engine::{Engine, EngineConfig};
use baomi_milter::{Mail, MailDecision, MailInspector, MilterConfig, serve};

struct EngineInspector(Arc<Engine>);

impl MailInspector for EngineInspector {
    async fn inspect(&self, mail: Mail) -> anyhow::Result<MailDecision> {
        let engine = self.0.clone();
        let report = tokio::task::spawn_blocking(move || {
            engine.inspect(mail.message, "message.eml", Channel::Mail)
        })
        .await?;
        let action = report.verdict.action;
        Ok(if action >= Action::Block {
            MailDecision::Reject {
                text: format!("blocked by Baomi ({})", report.verdict.rules.join(", ")),
            }
        } else {
            MailDecision::AcceptWithHeaders(vec![(
                "X-Baomi-Verdict".into(),
                action.as_str().into(),
            )])
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:10025".into());
    let engine = Arc::new(Engine::new(EngineConfig::default())?);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("milter_engine: listening on {addr}");
    serve(
        listener,
        Arc::new(MilterConfig::default()),
        Arc::new(EngineInspector(engine)),
        async {
            tokio::signal::ctrl_c().await.ok();
        },
    )
    .await?;
    Ok(())
}
