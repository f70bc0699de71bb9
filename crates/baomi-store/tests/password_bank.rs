//! The password bank held in the store, on both backends: sealed (the database row does not
//! hold a password), opened again with the evidence key — also after the key is rotated —
//! unchanged text makes no change, every change moves the `passwords` version, a vault
//! with another key cannot open it, and clearing it is audited.

use baomi_store::testing::TempPostgres;
use baomi_store::{EvidenceVault, Store};

const BANK: &str = "unit-standard-1\n#2024保密 口令\n";

async fn exercise(store: &Store, dir: &std::path::Path) {
    let vault = EvidenceVault::open(dir).unwrap();
    assert!(store.password_bank_meta().await.unwrap().is_none());
    assert!(store.password_bank_text(&vault).await.unwrap().is_none());
    let v0 = store.state_versions().await.unwrap().passwords;

    assert!(
        store
            .password_bank_put(&vault, BANK, 2, "officer")
            .await
            .unwrap()
    );
    let v1 = store.state_versions().await.unwrap().passwords;
    assert!(v1 > v0, "the version moves: {v0} → {v1}");
    let meta = store.password_bank_meta().await.unwrap().unwrap();
    assert_eq!((meta.entries, meta.author.as_str()), (2, "officer"));
    assert_eq!(
        store.password_bank_text(&vault).await.unwrap().unwrap(),
        BANK
    );
    // The same text again: nothing stored, the version stays.
    assert!(
        !store
            .password_bank_put(&vault, BANK, 2, "officer")
            .await
            .unwrap()
    );
    assert_eq!(store.state_versions().await.unwrap().passwords, v1);

    // Another installation's key opens nothing.
    let other = tempfile::tempdir().unwrap();
    let stranger = EvidenceVault::open(other.path()).unwrap();
    let err = store.password_bank_text(&stranger).await.unwrap_err();
    assert!(err.to_string().contains("does not open"), "{err}");

    // After a key rotation the bank sealed before it still opens; a new import uses the
    // new key.
    baomi_store::evidence::rotate_key(dir).unwrap();
    let rotated = EvidenceVault::open(dir).unwrap();
    assert_eq!(
        store.password_bank_text(&rotated).await.unwrap().unwrap(),
        BANK
    );
    let newer = "another-2026\n";
    assert!(
        store
            .password_bank_put(&rotated, newer, 1, "officer")
            .await
            .unwrap()
    );
    assert_eq!(
        store.password_bank_text(&rotated).await.unwrap().unwrap(),
        newer
    );
    assert!(store.state_versions().await.unwrap().passwords > v1);

    assert!(store.password_bank_clear("officer").await.unwrap());
    assert!(!store.password_bank_clear("officer").await.unwrap());
    assert!(store.password_bank_meta().await.unwrap().is_none());
    let trail = store.audit_tail(20).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"passwords.set") && actions.contains(&"passwords.clear"));
    assert!(
        trail
            .iter()
            .all(|e| !e.detail.to_string().contains("unit-standard")),
        "a password in the audit trail"
    );
    assert!(store.verify_audit().await.unwrap().ok());
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    exercise(&store, dir.path()).await;
    // The database file holds no password in the clear.
    for f in ["baomi.db", "baomi.db-wal"] {
        let bytes = std::fs::read(dir.path().join(f)).unwrap_or_default();
        assert!(!bytes.windows(15).any(|w| w == b"unit-standard-1"), "{f}");
    }
}

#[tokio::test]
async fn postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    let store = pg.open_store(dir.path()).await;
    exercise(&store, dir.path()).await;
}
