//! The per-day counts (`incident_counts`, kept by triggers) answer the dashboard and the
//! queue's totals exactly as counting the incidents would — after new incidents of several
//! days and dimensions (NULL level and department included), single and bulk dispositions,
//! and a retention purge — on both backends. The reference is the same filter with a free
//! text every incident number matches (`BM-`), which the counts cannot answer, so it is
//! counted from the incidents themselves. Also the free-text search (a trigram index on
//! SQLite, pg_trgm on PostgreSQL) finds what LIKE would, before and after a purge.

use baomi_store::testing::TempPostgres;
use baomi_store::{
    Disposition, IncidentFilter, NewIncident, NewRunFile, NewScanRun, Stats, Store, day_start_ms,
    local_date, now_ms,
};
use serde_json::json;

const DAY: i64 = 86_400_000;

fn incident(i: usize) -> NewIncident {
    NewIncident {
        channel: ["web", "mail", "api"][i % 3].into(),
        user: Some(format!("user{}", i % 4)),
        department: (!i.is_multiple_of(5)).then(|| format!("科室{}", i % 3)),
        action: ["block", "alert"][i % 2].into(),
        severity: "high".into(),
        level: (!i.is_multiple_of(4))
            .then(|| ["secret", "confidential", "top_secret"][i % 3].into()),
        rules: if i.is_multiple_of(2) {
            vec!["state-secret-marking".into()]
        } else {
            vec!["state-secret-marking-high".into(), "personal-data".into()]
        },
        findings: json!([]),
        object_name: Some(format!("f{i}.docx")),
        ..Default::default()
    }
}

fn run(id: &str, finished_ms: i64, files: usize) -> NewScanRun {
    NewScanRun {
        run_id: id.into(),
        person: Some("张三".into()),
        department: Some("科室1".into()),
        machine: "PC-1".into(),
        started_ms: finished_ms - 1000,
        finished_ms,
        paths: vec!["/home".into()],
        files: files as i64,
        errors: 0,
        summary: json!({}),
        exit_code: 1,
        signed_by: None,
        via: "import".into(),
        digest: "d".repeat(64),
        flagged: (0..files)
            .map(|i| NewRunFile {
                seq: i as i64 + 1,
                path: format!("/home/{id}/{i}.docx"),
                file_type: "docx".into(),
                size: 100,
                verdict: "block".into(),
                severity: "critical".into(),
                rules: vec!["state-secret-marking-high".into()],
                level: Some("secret".into()),
                findings: json!([]),
                errors: vec![],
                alerts: true,
                blake3: None,
            })
            .collect(),
    }
}

/// The same filter, answered by counting the incidents.
fn counted(f: &IncidentFilter) -> IncidentFilter {
    IncidentFilter {
        text: Some("BM-".into()),
        ..f.clone()
    }
}

fn sorted(mut s: Stats) -> Stats {
    for v in [
        &mut s.by_level,
        &mut s.by_channel,
        &mut s.by_department,
        &mut s.by_action,
        &mut s.by_disposition,
        &mut s.by_rule,
    ] {
        v.sort();
    }
    s
}

async fn agree(store: &Store, filters: &[IncidentFilter], when: &str) {
    for f in filters {
        let fast = sorted(store.stats(f).await.unwrap());
        let slow = sorted(store.stats(&counted(f)).await.unwrap());
        let what = format!("{when}: {f:?}");
        assert_eq!(fast.total, slow.total, "{what}");
        assert_eq!(fast.by_day, slow.by_day, "{what}");
        assert_eq!(fast.by_level, slow.by_level, "{what}");
        assert_eq!(fast.by_channel, slow.by_channel, "{what}");
        assert_eq!(fast.by_department, slow.by_department, "{what}");
        assert_eq!(fast.by_action, slow.by_action, "{what}");
        assert_eq!(fast.by_disposition, slow.by_disposition, "{what}");
        assert_eq!(fast.by_rule, slow.by_rule, "{what}");
        let page = store.incidents(f).await.unwrap();
        let reference = store.incidents(&counted(f)).await.unwrap();
        assert_eq!(page.total, reference.total, "{what}");
        assert_eq!(page.total, slow.total, "{what}");
    }
}

async fn exercise(store: &Store) {
    let today = day_start_ms(&local_date(now_ms())).unwrap();
    let mut numbers = Vec::new();
    for i in 0..40 {
        numbers.push(
            store
                .record_incident(incident(i), "test")
                .await
                .unwrap()
                .number,
        );
    }
    // Incidents of earlier days, through a self-inspection run dated then.
    store
        .import_scan_run(run("r-3", today - 3 * DAY + 5_000, 4), "test")
        .await
        .unwrap();
    store
        .import_scan_run(run("r-10", today - 10 * DAY + 5_000, 3), "test")
        .await
        .unwrap();
    let filters = [
        IncidentFilter::default(),
        IncidentFilter {
            from_ms: Some(today),
            to_ms: Some(today + DAY),
            ..Default::default()
        },
        IncidentFilter {
            from_ms: Some(today - 5 * DAY),
            to_ms: Some(today),
            ..Default::default()
        },
        IncidentFilter {
            level: Some("secret".into()),
            ..Default::default()
        },
        IncidentFilter {
            department: Some("科室1".into()),
            disposition: Some("open".into()),
            ..Default::default()
        },
        IncidentFilter {
            rule: Some("personal-data".into()),
            channel: Some("mail".into()),
            ..Default::default()
        },
        IncidentFilter {
            channel: Some("scan".into()),
            action: Some("block".into()),
            ..Default::default()
        },
    ];
    agree(store, &filters, "after recording").await;
    // Free text: a name's part, a number, short text (LIKE) and quotes (no syntax error).
    let found = |t: &str| {
        let f = IncidentFilter {
            text: Some(t.into()),
            limit: Some(1000),
            ..Default::default()
        };
        async move { store.incidents(&f).await.unwrap() }
    };
    let page = found("f12.doc").await;
    assert_eq!(page.total, 1);
    assert_eq!(page.incidents[0].object_name.as_deref(), Some("f12.docx"));
    assert_eq!(found("home/r-3/").await.total, 4);
    assert_eq!(found(&numbers[7]).await.total, 1);
    assert_eq!(found("f1").await.total, 11, "f1, f10…f19");
    assert_eq!(found("a\"b OR c").await.total, 0);
    let total = store.stats(&IncidentFilter::default()).await.unwrap().total;
    assert_eq!(total, 47);

    store
        .set_disposition(&numbers[1], Disposition::Violation, None, "test")
        .await
        .unwrap();
    store
        .bulk_disposition(
            &numbers[10..30],
            20,
            Disposition::FalsePositive,
            Some("误报"),
            "test",
        )
        .await
        .unwrap();
    // Setting what is already set changes nothing.
    store
        .set_disposition(&numbers[1], Disposition::Violation, None, "test")
        .await
        .unwrap();
    agree(store, &filters, "after dispositions").await;
    let by_disposition = store
        .stats(&IncidentFilter::default())
        .await
        .unwrap()
        .by_disposition;
    assert!(
        by_disposition.contains(&("false_positive".into(), 20)),
        "{by_disposition:?}"
    );

    // Retention removes the ten-day-old run's incidents, and the counts follow.
    let (deleted, _) = store.purge_before(today - 5 * DAY, "test").await.unwrap();
    assert_eq!(deleted, 3);
    agree(store, &filters, "after the purge").await;
    assert_eq!(found("home/r-10/").await.total, 0);
    assert_eq!(found("home/r-3/").await.total, 4);
    assert_eq!(
        store.stats(&IncidentFilter::default()).await.unwrap().total,
        44
    );
}

#[tokio::test]
async fn counts_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    exercise(&store).await;
}

#[tokio::test]
async fn counts_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    exercise(&pg.open_store(dir.path()).await).await;
}
