//! The directory snapshot held in the store, on both backends: stored with its counts and
//! source, the same snapshot again changes nothing, every change moves the `directory`
//! version (on PostgreSQL through the trigger that also announces it), clearing is audited.

use baomi_store::Store;
use baomi_store::testing::TempPostgres;

async fn exercise(store: &Store) {
    assert!(store.directory_meta().await.unwrap().is_none());
    let v0 = store.state_versions().await.unwrap().directory;
    let snap = r#"{"people":[{"name":"张三","department":"办公室"}],"departments":[]}"#;
    assert!(
        store
            .directory_put(snap, 1, 1, "file:/etc/baomi/directory.toml", "root")
            .await
            .unwrap()
    );
    let v1 = store.state_versions().await.unwrap().directory;
    assert!(v1 > v0);
    let m = store.directory_meta().await.unwrap().unwrap();
    assert_eq!((m.people, m.departments), (1, 1));
    assert_eq!(m.source, "file:/etc/baomi/directory.toml");
    assert_eq!(store.directory_snapshot().await.unwrap().unwrap(), snap);
    assert!(
        !store
            .directory_put(snap, 1, 1, "ldap:ldap://dc", "ldap-sync")
            .await
            .unwrap()
    );
    assert_eq!(store.state_versions().await.unwrap().directory, v1);
    let other = snap.replace("办公室", "保密科");
    assert!(
        store
            .directory_put(&other, 1, 1, "ldap:ldap://dc", "ldap-sync")
            .await
            .unwrap()
    );
    assert!(store.state_versions().await.unwrap().directory > v1);
    assert_eq!(
        store.directory_meta().await.unwrap().unwrap().source,
        "ldap:ldap://dc"
    );
    assert!(store.directory_clear("root").await.unwrap());
    assert!(!store.directory_clear("root").await.unwrap());
    let actions: Vec<String> = store
        .audit_tail(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "directory.set").count(),
        2,
        "{actions:?}"
    );
    assert!(actions.contains(&"directory.clear".to_owned()));
    assert!(store.verify_audit().await.unwrap().ok());
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    exercise(&Store::open(dir.path(), None).await.unwrap()).await;
}

#[tokio::test]
async fn postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    exercise(&pg.open_store(dir.path()).await).await;
}
