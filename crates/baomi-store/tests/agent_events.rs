//! Agent events are recorded exactly once, on both backends: a second delivery of the same
//! id writes nothing and returns the first result; ten deliveries of one id racing each
//! other leave one incident and one row; the incident is dated when the event happened;
//! an event not worth an incident is remembered too; a bad id is refused.

use baomi_store::testing::TempPostgres;
use baomi_store::{IncidentFilter, NewAgentEvent, NewIncident, Store, StoreError};
use serde_json::json;

fn incident(name: &str) -> NewIncident {
    NewIncident {
        channel: "usb".into(),
        user: Some("zhangsan".into()),
        department: None,
        source: Some("agent:pc-01".into()),
        destination: Some("usb:E0D55EA5741".into()),
        object_name: Some(name.into()),
        object_size: Some(10),
        object_type: Some("docx".into()),
        action: "block".into(),
        severity: "critical".into(),
        level: Some("secret".into()),
        rules: vec!["state-secret-marking-high".into()],
        findings: json!([]),
        evidence: None,
        quarantine_id: None,
        policy_version: None,
    }
}

fn event(id: &str, at_ms: i64) -> NewAgentEvent {
    NewAgentEvent {
        event_id: id.into(),
        action: "block".into(),
        report: json!({"path": "a.docx", "verdict": {"action": "block"}}),
        local_action: Some("blocked".into()),
        source: Some("agent:pc-01".into()),
        happened_ms: at_ms,
    }
}

async fn usb_count(store: &Store) -> i64 {
    store
        .incidents(&IncidentFilter {
            channel: Some("usb".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .total
}

async fn exercise(store: &Store) {
    let at = 1_796_092_200_000; // 2026-12-01T02:30:00Z
    let first = store
        .record_agent_event(event("e-1", at), Some(incident("a.docx")), "usb")
        .await
        .unwrap();
    assert!(!first.already);
    let inc = first.incident.clone().unwrap();
    assert_eq!(inc.created_ms, at);
    assert!(inc.number.starts_with("BM-20261201-"), "{}", inc.number);
    assert_eq!(
        first.record.incident_number.as_deref(),
        Some(inc.number.as_str())
    );

    let again = store
        .record_agent_event(event("e-1", at + 5), Some(incident("other.docx")), "usb")
        .await
        .unwrap();
    assert!(again.already);
    assert!(again.incident.is_none());
    assert_eq!(again.record, first.record);
    assert_eq!(usb_count(store).await, 1);
    assert_eq!(
        store.agent_event("e-1").await.unwrap(),
        Some(first.record.clone())
    );
    assert_eq!(store.agent_event("e-2").await.unwrap(), None);

    // Ten deliveries of one event at once: one incident.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.record_agent_event(
                event("e-race", at),
                Some(incident(&format!("r{i}.docx"))),
                "usb",
            )
            .await
            .unwrap()
        }));
    }
    let mut fresh = 0;
    let mut numbers = std::collections::BTreeSet::new();
    for t in tasks {
        let o = t.await.unwrap();
        fresh += usize::from(!o.already);
        numbers.insert(o.record.incident_number.clone().unwrap());
    }
    assert_eq!(fresh, 1);
    assert_eq!(numbers.len(), 1);
    assert_eq!(usb_count(store).await, 2);

    // Not worth an incident: remembered all the same.
    let clean = store
        .record_agent_event(event("e-clean", at), None, "usb")
        .await
        .unwrap();
    assert!(!clean.already && clean.record.incident_number.is_none());
    assert!(
        store
            .record_agent_event(event("e-clean", at), None, "usb")
            .await
            .unwrap()
            .already
    );

    match store
        .record_agent_event(event("../x", at), None, "usb")
        .await
    {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("a bad id must be refused: {other:?}"),
    }
    // Each incident is in the audit chain once.
    let report = store.verify_audit().await.unwrap();
    assert!(report.ok(), "{report:?}");
}

#[tokio::test]
async fn agent_events_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    exercise(&store).await;
}

#[tokio::test]
async fn agent_events_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    exercise(&pg.open_store(dir.path()).await).await;
}
