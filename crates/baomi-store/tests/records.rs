//! The records against both backends: a self-inspection run imported twice is recorded once
//! (its alerting files as scan incidents dated at the scan), campaigns check their dates,
//! a clue report is editable as a draft, frozen once issued, corrected as a new version
//! that supersedes the old one when issued; a carrier of the ledger moves only along its
//! life and is destroyed by two people; the audit chain holds throughout.

use baomi_store::testing::TempPostgres;
use baomi_store::{
    CampaignEntry, CarrierKind, CarrierState, ClueCategory, ClueFields, ClueState, NewCampaign,
    NewCarrier, NewIncident, NewRunFile, NewScanRun, Store, StoreError,
};
use serde_json::json;

fn run(id: &str, finished_ms: i64) -> NewScanRun {
    NewScanRun {
        run_id: id.into(),
        person: Some("张三".into()),
        department: Some("办公室".into()),
        machine: "BGS-PC01".into(),
        started_ms: finished_ms - 1000,
        finished_ms,
        paths: vec!["/home/zhang".into()],
        files: 3,
        errors: 0,
        summary: json!({}),
        exit_code: 1,
        signed_by: None,
        via: "import".into(),
        digest: "d".repeat(64),
        flagged: vec![
            NewRunFile {
                seq: 1,
                path: "/home/zhang/通知.docx".into(),
                file_type: "docx".into(),
                size: 100,
                verdict: "block".into(),
                severity: "critical".into(),
                rules: vec!["state-secret-marking-high".into()],
                level: Some("secret".into()),
                findings: json!([{"kind": "marking", "level": "secret", "text": "机密★5年"}]),
                errors: vec![],
                alerts: true,
                blake3: None,
            },
            NewRunFile {
                seq: 2,
                path: "/home/zhang/说明.txt".into(),
                file_type: "text".into(),
                size: 10,
                verdict: "audit".into(),
                findings: json!([{"kind": "pii.mobile", "text": "138****5678"}]),
                ..Default::default()
            },
        ],
    }
}

fn fields(incidents: Vec<String>) -> ClueFields {
    ClueFields {
        reporting_unit: "某市某局".into(),
        occurring_unit: "办公室".into(),
        category: ClueCategory::Other,
        documents: "《通知》（机密）".into(),
        facts: "2026年12月1日自查发现。".into(),
        remedy: String::new(),
        incidents,
    }
}

async fn exercise(store: &Store) {
    // A run: one alerting file becomes an incident dated at the scan; again: nothing new.
    let at = 1_796_000_000_000;
    let first = store
        .import_scan_run(run("r-1", at), "cli:root")
        .await
        .unwrap();
    assert!(!first.already);
    assert_eq!(first.incidents.len(), 1);
    let inc = store.incident(&first.incidents[0]).await.unwrap();
    assert_eq!(inc.channel, "scan");
    assert_eq!(inc.created_ms, at);
    assert_eq!(inc.source.as_deref(), Some("BGS-PC01"));
    assert_eq!(inc.object_name.as_deref(), Some("/home/zhang/通知.docx"));
    let again = store
        .import_scan_run(run("r-1", at), "cli:root")
        .await
        .unwrap();
    assert!(again.already);
    assert_eq!(again.incidents, first.incidents);
    assert_eq!(store.scan_runs(0, i64::MAX).await.unwrap().len(), 1);
    let (r, files) = store.scan_run("r-1").await.unwrap();
    assert_eq!((r.files, r.flagged, r.alerting), (3, 2, 1));
    assert_eq!(
        files[0].incident.as_deref(),
        Some(first.incidents[0].as_str())
    );
    assert_eq!(files[1].incident, None);
    assert_eq!(
        store.scan_incident_files(0, i64::MAX).await.unwrap().len(),
        1
    );

    // Campaigns.
    let bad = NewCampaign {
        name: "倒置".into(),
        from_day: "2026-12-31".into(),
        to_day: "2026-12-01".into(),
        departments: vec![],
        note: None,
    };
    assert!(matches!(
        store.create_campaign(&bad, "u").await,
        Err(StoreError::Invalid(_))
    ));
    let good = NewCampaign {
        name: "第四季度".into(),
        from_day: "2026-10-01".into(),
        to_day: "2026-12-31".into(),
        departments: vec!["办公室".into(), " ".into()],
        note: None,
    };
    let c = store.create_campaign(&good, "u").await.unwrap();
    assert_eq!(c.departments, vec!["办公室"]);
    assert!(
        store.create_campaign(&good, "u").await.is_err(),
        "a second one of the name"
    );
    assert_eq!(
        store.campaign(&c.id.to_string()).await.unwrap().name,
        "第四季度"
    );
    let entry = CampaignEntry {
        department: "办公室".into(),
        chat_groups: 3,
        mini_programs: 1,
        measures: Some("清理群成员".into()),
    };
    store.set_campaign_entry(c.id, &entry, "u").await.unwrap();
    let mut changed = entry.clone();
    changed.chat_groups = 5;
    store.set_campaign_entry(c.id, &changed, "u").await.unwrap();
    assert_eq!(store.campaign_entries(c.id).await.unwrap(), vec![changed]);
    let mut negative = entry.clone();
    negative.mini_programs = -1;
    assert!(
        store
            .set_campaign_entry(c.id, &negative, "u")
            .await
            .is_err()
    );

    // Clue reports: unknown incidents refused; draft → issued (frozen) → correction.
    assert!(matches!(
        store
            .create_clue_report(&fields(vec!["BM-20990101-999999".into()]), "u")
            .await,
        Err(StoreError::Invalid(m)) if m.contains("unknown incident")
    ));
    let draft = store
        .create_clue_report(&fields(first.incidents.clone()), "u")
        .await
        .unwrap();
    assert!(draft.number.starts_with("XS-"));
    assert_eq!(draft.state, ClueState::Draft);
    let mut f = draft.fields.clone();
    f.remedy = "删除并约谈".into();
    store.update_clue_report(draft.id, &f, "u").await.unwrap();
    let issued = store.issue_clue_report(draft.id, "u").await.unwrap();
    assert_eq!(issued.state, ClueState::Issued);
    assert_eq!(issued.content_hash, Some(issued.compute_hash()));
    assert!(matches!(
        store
            .update_clue_report(draft.id, &fields(vec![]), "u")
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.issue_clue_report(draft.id, "u").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.issued_clue_reports(0, i64::MAX).await.unwrap().len(),
        1
    );
    let v2 = store.correct_clue_report(draft.id, "u").await.unwrap();
    assert_eq!((v2.version, v2.supersedes), (2, Some(draft.id)));
    assert_eq!(v2.number, draft.number);
    assert_eq!(v2.fields.remedy, "删除并约谈");
    // Asking again gives the same open correction, not a third version.
    assert_eq!(
        store.correct_clue_report(draft.id, "u").await.unwrap().id,
        v2.id
    );
    let mut f2 = v2.fields.clone();
    f2.facts.push_str("更正：时间为上午。");
    store.update_clue_report(v2.id, &f2, "u").await.unwrap();
    store.issue_clue_report(v2.id, "u").await.unwrap();
    assert_eq!(
        store.clue_report(draft.id).await.unwrap().state,
        ClueState::Superseded
    );
    let current = store.issued_clue_reports(0, i64::MAX).await.unwrap();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].version, 2);
    let mut empty = fields(vec![]);
    empty.facts = " ".into();
    let blank = store.create_clue_report(&empty, "u").await.unwrap();
    assert!(matches!(
        store.issue_clue_report(blank.id, "u").await,
        Err(StoreError::Conflict(_))
    ));

    // Other incidents are not scan files.
    store
        .record_incident(
            NewIncident {
                channel: "web".into(),
                action: "block".into(),
                severity: "high".into(),
                findings: json!([]),
                ..Default::default()
            },
            "gw",
        )
        .await
        .unwrap();
    assert_eq!(
        store.scan_incident_files(0, i64::MAX).await.unwrap().len(),
        1
    );

    // The ledger: states move only along the carrier's life; a destruction needs two people.
    let usb = NewCarrier {
        number: "JM-001".into(),
        kind: CarrierKind::Removable,
        name: "U盘 32G".into(),
        serial: Some("SN-1".into()),
        level: "机密".into(),
        copies: None,
        source: None,
        responsible: "张三".into(),
        department: Some("办公室".into()),
        since_day: None,
    };
    store
        .register_carrier(&usb, CarrierState::Registered, "u")
        .await
        .unwrap();
    assert!(matches!(
        store
            .register_carrier(&usb, CarrierState::Registered, "u")
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .carrier_by_serial("SN-1")
            .await
            .unwrap()
            .unwrap()
            .fields
            .number,
        "JM-001"
    );
    let event = |to, holder, witness| {
        let store = store.clone();
        async move {
            store
                .carrier_event(
                    "JM-001",
                    to,
                    holder,
                    witness,
                    None,
                    &["sec", "王保密"],
                    "user:sec",
                )
                .await
        }
    };
    assert!(event(CarrierState::Returned, None, None).await.is_err());
    event(CarrierState::Issued, Some("李四"), None)
        .await
        .unwrap();
    assert!(
        event(CarrierState::Destroyed, None, Some("赵六"))
            .await
            .is_err()
    );
    event(CarrierState::Returned, Some("李四"), None)
        .await
        .unwrap();
    for same in [None, Some("sec"), Some("王保密")] {
        assert!(matches!(
            event(CarrierState::Destroyed, None, same).await,
            Err(StoreError::Invalid(_))
        ));
    }
    let done = event(CarrierState::Destroyed, None, Some("赵六"))
        .await
        .unwrap();
    assert_eq!(done.state, CarrierState::Destroyed);
    assert!(event(CarrierState::Archived, None, None).await.is_err());
    assert_eq!(store.carrier("JM-001").await.unwrap().1.len(), 4);

    let report = store.verify_audit().await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

#[tokio::test]
async fn records_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    exercise(&store).await;
}

#[tokio::test]
async fn records_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    exercise(&pg.open_store(dir.path()).await).await;
}
