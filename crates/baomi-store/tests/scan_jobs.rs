//! The scan queue's rules on both backends: concurrent claims never hand one batch to two
//! workers; a lease that ran out goes to the next claim, and the first holder can neither
//! renew nor complete it any more (nothing of its results is written); one result per
//! file and job even when a path is handed in twice; the job finishes with its last batch;
//! the index keeps what the next scan compares with.

use std::collections::BTreeSet;
use std::time::Duration;

use baomi_store::testing::TempPostgres;
use baomi_store::{
    FileOutcome, IncidentFilter, NewScanJob, QueuedFile, ScanFileResult, Store, StoreError,
};
use serde_json::json;

fn file(i: usize) -> QueuedFile {
    QueuedFile {
        path: format!("/srv/share/f{i:03}.txt"),
        size: 10 + i as i64,
        mtime_ms: 1_796_000_000_000 + i as i64,
        prev_blake3: None,
    }
}

fn result(f: &QueuedFile, alerts: bool) -> ScanFileResult {
    ScanFileResult {
        path: f.path.clone(),
        size: f.size,
        mtime_ms: f.mtime_ms,
        blake3: Some(format!("{:064x}", f.size)),
        outcome: FileOutcome::Inspected,
        file_type: Some("text".into()),
        verdict: Some(if alerts { "block" } else { "allow" }.into()),
        severity: if alerts { "critical" } else { "none" }.into(),
        rules: if alerts {
            vec!["state-secret-marking-high".into()]
        } else {
            Vec::new()
        },
        level: alerts.then(|| "secret".into()),
        findings: json!([]),
        errors: Vec::new(),
        alerts,
        evidence: None,
    }
}

async fn job(store: &Store, files: usize, per_batch: usize) -> i64 {
    let id = store
        .scan_job_create(
            &NewScanJob {
                paths: vec!["/srv/share".into()],
                machine: "fs01".into(),
                person: Some("李四".into()),
                department: Some("办公室".into()),
            },
            "test",
        )
        .await
        .unwrap();
    let all: Vec<QueuedFile> = (0..files).map(file).collect();
    for chunk in all.chunks(per_batch) {
        store.scan_job_add_batch(id, chunk, 0).await.unwrap();
    }
    assert!(!store.scan_job_enqueued(id, 0).await.unwrap() || files == 0);
    id
}

async fn exercise(store: &Store) {
    // 1. Twenty batches, eight workers claiming at once: each batch goes to one of them.
    let id = job(store, 100, 5).await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(b) = store
                .scan_batch_claim(&format!("w{w}"), 60_000)
                .await
                .unwrap()
            {
                got.push(b);
            }
            got
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    let ids: BTreeSet<i64> = claimed.iter().map(|b| b.id).collect();
    assert_eq!(claimed.len(), 20, "every batch claimed once");
    assert_eq!(ids.len(), 20);
    // Complete them all at once, one file of the job alerting: the job finishes once.
    let mut tasks = Vec::new();
    for b in claimed {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let results: Vec<_> = b
                .files
                .iter()
                .map(|f| result(f, f.path.ends_with("f042.txt")))
                .collect();
            let worker = "w";
            store
                .scan_batch_complete(&b, &results, worker, "1.2.3", Some(3))
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().results, 5);
    }
    let p = store.scan_job_progress(id).await.unwrap();
    assert!(p.finished_ms.is_some(), "{p:?}");
    assert_eq!(
        (p.files_done, p.total_files, p.batches_done),
        (100, 100, 20)
    );
    assert_eq!((p.alerting, p.incidents), (1, 1), "{p:?}");
    let results = store.scan_results(id).await.unwrap();
    assert_eq!(results.len(), 100);
    let flagged: Vec<_> = results.iter().filter(|r| r.incident.is_some()).collect();
    assert_eq!(flagged.len(), 1);
    let inc = store
        .incident(flagged[0].incident.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(inc.channel, "scan");
    assert_eq!(inc.object_name.as_deref(), Some("/srv/share/f042.txt"));
    assert_eq!(inc.user.as_deref(), Some("李四"));
    assert_eq!(inc.source.as_deref(), Some("fs01"));
    assert_eq!(inc.policy_version, Some(3));
    // The index has every file, with the versions that judged it.
    let paths: Vec<String> = (0..100).map(|i| file(i).path).collect();
    let index = store.scan_index_get(&paths).await.unwrap();
    assert_eq!(index.len(), 100);
    assert_eq!(index[&file(7).path].state_tag, "1.2.3");
    assert_eq!(index[&file(7).path].size, file(7).size);
    assert_eq!(store.scan_batches_open().await.unwrap(), 0);

    // 2. A lease that runs out: the next claim takes the batch; the first holder is fenced.
    let id = job(store, 4, 4).await;
    let a = store.scan_batch_claim("A", 1).await.unwrap().unwrap();
    assert_eq!(a.attempts, 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let b = store.scan_batch_claim("B", 60_000).await.unwrap().unwrap();
    assert_eq!(b.id, a.id);
    assert_eq!(b.attempts, 2);
    assert_eq!(b.reclaimed_from.as_deref(), Some("A"));
    assert!(!store.scan_batch_heartbeat(&a, 60_000).await.unwrap());
    assert!(store.scan_batch_heartbeat(&b, 60_000).await.unwrap());
    let all: Vec<_> = a.files.iter().map(|f| result(f, true)).collect();
    match store.scan_batch_complete(&a, &all, "A", "t", None).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("A's lease is gone: {other:?}"),
    }
    assert!(store.scan_results(id).await.unwrap().is_empty());
    let before = store
        .incidents(&IncidentFilter::default())
        .await
        .unwrap()
        .total;
    // B hands one path in twice: one result (and one incident) for it.
    let mut twice: Vec<_> = b.files.iter().map(|f| result(f, false)).collect();
    twice.push(result(&b.files[0], true));
    let done = store
        .scan_batch_complete(&b, &twice, "B", "t", None)
        .await
        .unwrap();
    assert_eq!(done.results, 4);
    assert!(done.incidents.is_empty());
    assert!(done.job_finished);
    let results = store.scan_results(id).await.unwrap();
    assert_eq!(results.len(), 4);
    assert!(results.iter().all(|r| r.worker == "B"));
    let after = store
        .incidents(&IncidentFilter::default())
        .await
        .unwrap()
        .total;
    assert_eq!(before, after);
    // Completing twice is refused too.
    assert!(matches!(
        store.scan_batch_complete(&b, &twice, "B", "t", None).await,
        Err(StoreError::Conflict(_))
    ));

    // 3. Released (a worker asked to stop): queued again at once, no lease to wait for.
    let _id = job(store, 2, 2).await;
    let c = store.scan_batch_claim("C", 60_000).await.unwrap().unwrap();
    assert!(store.scan_batch_release(&c).await.unwrap());
    let d = store.scan_batch_claim("D", 60_000).await.unwrap().unwrap();
    assert_eq!(d.id, c.id);
    assert_eq!(d.reclaimed_from, None);

    // 4. A job with nothing to inspect is finished when its walk ends.
    let id = store
        .scan_job_create(&NewScanJob::default(), "test")
        .await
        .unwrap();
    store.scan_job_add_batch(id, &[], 7).await.unwrap();
    assert!(store.scan_job_enqueued(id, 0).await.unwrap());
    let p = store.scan_job_progress(id).await.unwrap();
    assert_eq!((p.unchanged, p.total_files), (7, 0));
    // A finished walk takes no more batches.
    assert!(matches!(
        store.scan_job_add_batch(id, &[file(1)], 0).await,
        Err(StoreError::Conflict(_))
    ));

    walks_that_stop(store).await;
    let report = store.verify_audit().await.unwrap();
    assert!(report.ok(), "{report:?}");
}

/// A walk that stops early: by a signal it says itself; killed, it is found silent and
/// closed by a worker. Either way the job keeps what was enqueued and finishes with it.
async fn walks_that_stop(store: &Store) {
    let new = || NewScanJob {
        paths: vec!["/srv/other".into()],
        machine: "fs02".into(),
        person: None,
        department: None,
    };
    let files: Vec<QueuedFile> = (500..504).map(file).collect();
    // Interrupted by a signal after one batch.
    let a = store.scan_job_create(&new(), "cli:root").await.unwrap();
    store.scan_job_add_batch(a, &files[..2], 0).await.unwrap();
    assert!(
        store
            .scan_job_walk_interrupted(a, Some(1), baomi_store::WALK_SIGNAL, "cli:root")
            .await
            .unwrap()
    );
    // Said once: a second call (or a late stale check) changes nothing.
    assert!(
        !store
            .scan_job_walk_interrupted(a, None, baomi_store::WALK_LOST, "worker:x")
            .await
            .unwrap()
    );
    let p = store.scan_job_progress(a).await.unwrap();
    assert_eq!(p.walk_interrupted.as_deref(), Some("signal"));
    assert_eq!((p.total_files, p.walk_errors), (2, 1));
    assert!(p.enqueued_ms.is_some() && !p.walk_lost());
    // No more batches once the walk is closed.
    assert!(store.scan_job_add_batch(a, &files[2..], 0).await.is_err());

    // Killed: silent. A fresh walk is not taken for dead.
    let b = store.scan_job_create(&new(), "cli:root").await.unwrap();
    store.scan_job_add_batch(b, &files[2..], 0).await.unwrap();
    assert!(
        store
            .scan_jobs_close_stale_walks(baomi_store::WALK_STALE_MS, "worker:x")
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    store.scan_job_walk_alive(b).await.unwrap();
    assert!(
        store
            .scan_jobs_close_stale_walks(50, "worker:x")
            .await
            .unwrap()
            .is_empty(),
        "alive just now"
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(
        store
            .scan_jobs_close_stale_walks(50, "worker:x")
            .await
            .unwrap(),
        vec![b]
    );
    let p = store.scan_job_progress(b).await.unwrap();
    assert_eq!(p.walk_interrupted.as_deref(), Some("lost"));
    assert!(p.finished_ms.is_none(), "its batch is still to do");
    // Its batch is inspected as usual and the job finishes.
    loop {
        let Some(batch) = store.scan_batch_claim("w", 60_000).await.unwrap() else {
            break;
        };
        let results: Vec<ScanFileResult> = batch.files.iter().map(|f| result(f, false)).collect();
        store
            .scan_batch_complete(&batch, &results, "w", "t", None)
            .await
            .unwrap();
    }
    for job in [a, b] {
        assert!(
            store
                .scan_job_progress(job)
                .await
                .unwrap()
                .finished_ms
                .is_some()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scan_jobs_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    exercise(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scan_jobs_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    exercise(&pg.open_store(dir.path()).await).await;
}
