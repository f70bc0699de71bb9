//! The store against both backends: SQLite in a temporary data directory, and a real
//! PostgreSQL server started for the test.

use baomi_store::testing::TempPostgres;
use baomi_store::{
    Disposition, EvidenceVault, IncidentFilter, NewIncident, RegistryEntry, RegistryMeta, Store,
};
use serde_json::json;

fn incident(channel: &str, department: &str, action: &str, level: Option<&str>) -> NewIncident {
    NewIncident {
        channel: channel.into(),
        user: Some("张三".into()),
        department: Some(department.into()),
        source: Some("10.1.2.3".into()),
        destination: Some("http://pan.example.com/upload".into()),
        object_name: Some("通知.docx".into()),
        object_size: Some(12345),
        object_type: Some("docx".into()),
        action: action.into(),
        severity: "high".into(),
        level: level.map(str::to_owned),
        rules: vec!["marking-state-secret".into()],
        findings: json!([{"kind": "marking", "level": "secret", "text": "机密★1年"}]),
        evidence: None,
        quarantine_id: None,
        policy_version: None,
    }
}

async fn exercise(store: &Store, data_dir: &std::path::Path) {
    // Evidence, encrypted, attached to the incident.
    let vault = EvidenceVault::open(data_dir).unwrap();
    let original = "机密★1年\n关于某项目的通知".as_bytes().to_vec();
    let ev = vault.put(&mut &original[..]).unwrap();

    let mut first = incident("web", "办公室", "block", Some("secret"));
    first.evidence = Some(ev.clone());
    let a = store.record_incident(first, "icap").await.unwrap();
    assert!(a.number.starts_with("BM-"), "{}", a.number);
    let b = store
        .record_incident(incident("mail", "财务处", "alert", None), "milter")
        .await
        .unwrap();
    let c = store
        .record_incident(
            incident("web", "财务处", "block", Some("confidential")),
            "icap",
        )
        .await
        .unwrap();
    assert_ne!(a.number, b.number);

    // Filters and paging.
    let page = store.incidents(&IncidentFilter::default()).await.unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(page.incidents[0].number, c.number, "newest first");
    let f = IncidentFilter {
        department: Some("财务处".into()),
        channel: Some("web".into()),
        ..Default::default()
    };
    let page = store.incidents(&f).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.incidents[0].number, c.number);
    let page = store
        .incidents(&IncidentFilter {
            limit: Some(1),
            offset: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, page.incidents.len()), (3, 1));
    assert_eq!(page.incidents[0].number, b.number);

    let got = store.incident(&a.number).await.unwrap();
    assert_eq!(got.evidence, Some(ev.clone()));
    assert_eq!(got.findings[0]["text"], "机密★1年");
    let mut back = Vec::new();
    vault.get(&ev.hash, &mut back).unwrap();
    assert_eq!(back, original);

    // Statistics.
    let stats = store.stats(&IncidentFilter::default()).await.unwrap();
    assert_eq!(stats.total, 3);
    assert_eq!(stats.by_channel[0], ("web".to_string(), 2));
    assert!(stats.by_department.contains(&("财务处".to_string(), 2)));
    assert_eq!(stats.by_day.len(), 1);
    assert_eq!(stats.by_day[0].1, 3);
    assert_eq!(stats.by_rule, vec![("marking-state-secret".to_owned(), 3)]);

    // Disposition is logged; the chain verifies.
    let d = store
        .set_disposition(
            &b.number,
            Disposition::FalsePositive,
            Some("培训材料"),
            "officer",
        )
        .await
        .unwrap();
    assert_eq!(d.disposition, Disposition::FalsePositive);
    let report = store.verify_audit().await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.incidents_checked, 3);
    assert_eq!(report.entries, 4);

    // Tokens are stored hashed.
    let (info, secret) = store
        .create_token("chat-gateway", None, "admin")
        .await
        .unwrap();
    let live = store.check_token(&secret).await.unwrap().unwrap();
    assert_eq!(live.name, "chat-gateway");
    assert_eq!(live.scope, baomi_store::TokenScope::Scan);
    assert!(store.check_token("bm_wrong").await.unwrap().is_none());
    store.revoke_token(info.id, "admin").await.unwrap();
    assert!(store.check_token(&secret).await.unwrap().is_none());

    // Registry.
    let entry = RegistryEntry {
        meta: RegistryMeta {
            id: "2026-001".into(),
            title: "某项目实施方案".into(),
            level: "secret".into(),
            source_name: "方案.docx".into(),
            chars: 4000,
            added_ms: 1,
        },
        data: vec![0, 1, 2, 255],
    };
    store.registry_put(&entry, "officer").await.unwrap();
    let all = store.registry_all().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].data, vec![0, 1, 2, 255]);
    assert_eq!(
        store.registry_list().await.unwrap()[0].title,
        "某项目实施方案"
    );
    store.registry_remove("2026-001", "officer").await.unwrap();
    assert!(store.registry_remove("2026-001", "officer").await.is_err());
    // Many at once: one commit, each audited; a duplicate id replaces, as one put does.
    let many: Vec<RegistryEntry> = (0..250)
        .map(|i| RegistryEntry {
            meta: RegistryMeta {
                id: format!("batch-{}", i % 200),
                title: format!("文件{i}"),
                ..entry.meta.clone()
            },
            data: vec![i as u8],
        })
        .collect();
    let audited = store.audit_tail(100_000).await.unwrap().len();
    store.registry_put_many(&many, "officer").await.unwrap();
    let all = store.registry_all().await.unwrap();
    assert_eq!(all.len(), 200);
    let last = all.iter().find(|e| e.meta.id == "batch-10").unwrap();
    assert_eq!(last.meta.title, "文件210", "the later entry of an id wins");
    assert_eq!(
        store.audit_tail(100_000).await.unwrap().len(),
        audited + 250
    );
    store.registry_put_many(&[], "officer").await.unwrap();
    for i in 0..200 {
        store
            .registry_remove(&format!("batch-{i}"), "officer")
            .await
            .unwrap();
    }
    store.allow_set_put(&[9, 9], 12, "officer").await.unwrap();
    assert_eq!(store.allow_set().await.unwrap(), Some(vec![9, 9]));
    assert!(store.verify_audit().await.unwrap().ok());
}

async fn tamper(store: &Store, pool_url: &str) {
    // Turn a block into an allow behind the server's back: verify must notice.
    let n = store
        .incidents(&IncidentFilter::default())
        .await
        .unwrap()
        .incidents[0]
        .number
        .clone();
    raw_exec(
        pool_url,
        &format!("UPDATE incidents SET action = 'allow' WHERE number = '{n}'"),
    )
    .await;
    let report = store.verify_audit().await.unwrap();
    assert!(!report.ok());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&n) && p.contains("changed")),
        "{:?}",
        report.problems
    );
    raw_exec(
        pool_url,
        &format!("UPDATE incidents SET action = 'block' WHERE number = '{n}'"),
    )
    .await;
    assert!(store.verify_audit().await.unwrap().ok());
    // Edit an audit entry's detail.
    raw_exec(
        pool_url,
        "UPDATE audit_log SET actor = 'nobody' WHERE seq = 2",
    )
    .await;
    let report = store.verify_audit().await.unwrap();
    assert!(
        report.problems.iter().any(|p| p.contains("entry 2")),
        "{:?}",
        report.problems
    );
    // Delete an entry from the middle.
    raw_exec(pool_url, "DELETE FROM audit_log WHERE seq = 3").await;
    let report = store.verify_audit().await.unwrap();
    assert!(
        report.problems.iter().any(|p| p.contains("missing")),
        "{:?}",
        report.problems
    );
}

async fn raw_exec(url: &str, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut c)
        .await
        .unwrap();
}

#[tokio::test]
async fn sqlite_backend() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    exercise(&store, dir.path()).await;
    let url = format!("sqlite://{}", dir.path().join("baomi.db").display());
    tamper(&store, &url).await;
    // Reopening runs no migration twice.
    store.close().await;
    let again = Store::open(dir.path(), None).await.unwrap();
    assert_eq!(
        again
            .incidents(&IncidentFilter::default())
            .await
            .unwrap()
            .total,
        3
    );
}

#[tokio::test]
async fn postgres_backend() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    let mut store = None;
    for _ in 0..50 {
        match Store::open(dir.path(), Some(&pg.url)).await {
            Ok(s) => {
                store = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    let store = store.expect("PostgreSQL accepts connections");
    assert_eq!(store.backend(), baomi_store::Backend::Postgres);
    exercise(&store, dir.path()).await;
    tamper(&store, &pg.url).await;
    store.close().await;
}

#[tokio::test]
async fn retention_is_not_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    let a = store
        .record_incident(incident("web", "办公室", "block", None), "icap")
        .await
        .unwrap();
    let (deleted, _) = store
        .purge_before(a.created_ms + 1, "retention")
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let report = store.verify_audit().await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    // Deleting by hand is.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let b = store
        .record_incident(incident("web", "办公室", "block", None), "icap")
        .await
        .unwrap();
    let url = format!("sqlite://{}", dir.path().join("baomi.db").display());
    raw_exec(
        &url,
        &format!("DELETE FROM incidents WHERE number = '{}'", b.number),
    )
    .await;
    let report = store.verify_audit().await.unwrap();
    assert!(
        report.problems.iter().any(|p| p.contains(&b.number)),
        "{:?}",
        report.problems
    );
}
