//! A database made by the previous release (schema 0001–0004: before the publication
//! review's roles, the per-day counts and the trigram search) is upgraded in place when
//! this release opens it, SQLite and PostgreSQL: its incidents are counted by the new
//! counts table and found by the new search (both filled from the existing rows), new
//! incidents join them, its accounts sign in with their role, new roles can be given.

use baomi_store::testing::TempPostgres;
use baomi_store::{IncidentFilter, Login, NewIncident, Role, Store};
use serde_json::json;
use sqlx::Connection;

/// The last schema version of the previous release.
const PREVIOUS: i64 = 4;

fn migrator_dir(backend: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend)
}

/// The previous schema is built with the old migrations only, and rows are written into it
/// as the old code wrote them.
const OLD_ROWS: &[&str] = &[
    "INSERT INTO accounts (name, role, status, password_hash, created_ms, created_by) \
     VALUES ('old-auditor', 'auditor', 'active', 'PASSWORD_HASH', 1, 'test')",
    "INSERT INTO incidents (number, created_ms, channel, user_name, department, object_name, \
     action, severity, level, rules, findings, content_hash, disposition) VALUES \
     ('BM-20261101-000001', 1793000000000, 'web', 'u1', '办公室', '旧的通知.docx', 'block', 'critical', \
      'secret', '[\"state-secret-marking\"]', '[]', 'x', 'open'), \
     ('BM-20261101-000002', 1793000100000, 'mail', 'u2', NULL, '名单.xlsx', 'alert', 'high', \
      NULL, '[\"personal-data\"]', '[]', 'x', 'violation')",
];

async fn check_upgraded(store: &Store) {
    assert!(store.schema_version().await.unwrap() > PREVIOUS);
    let all = store.stats(&IncidentFilter::default()).await.unwrap();
    assert_eq!(all.total, 2);
    assert!(
        all.by_level.contains(&("secret".into(), 1)),
        "{:?}",
        all.by_level
    );
    assert!(
        all.by_level.contains(&("-".into(), 1)),
        "{:?}",
        all.by_level
    );
    assert!(all.by_disposition.contains(&("violation".into(), 1)));
    let found = store
        .incidents(&IncidentFilter {
            text: Some("旧的通知".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(found.incidents[0].number, "BM-20261101-000001");
    // New rows land in the counts next to the migrated ones.
    store
        .record_incident(
            NewIncident {
                channel: "web".into(),
                action: "block".into(),
                severity: "critical".into(),
                level: Some("secret".into()),
                rules: vec!["state-secret-marking".into()],
                findings: json!([]),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    let all = store.stats(&IncidentFilter::default()).await.unwrap();
    assert_eq!(all.total, 3);
    assert!(all.by_level.contains(&("secret".into(), 2)));
    // The old account signs in with its role; a new role can be given.
    match store
        .login("old-auditor", "old-password-123", None)
        .await
        .unwrap()
    {
        Login::Ok(a) => assert_eq!(a.role, Role::Auditor),
        other => panic!("the old account does not sign in: {other:?}"),
    }
    store
        .create_account(
            &baomi_store::NewAccount {
                name: "new-drafter".into(),
                role: Role::Drafter,
                display_name: None,
                department: None,
                password: "new-password-123".into(),
            },
            true,
            "test",
        )
        .await
        .unwrap();
}

fn hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string()
}

fn old_rows() -> Vec<String> {
    let h = hash("old-password-123");
    OLD_ROWS
        .iter()
        .map(|s| s.replace("PASSWORD_HASH", &h))
        .collect()
}

#[tokio::test]
async fn sqlite_from_the_previous_release() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("baomi.db").display()
    );
    {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let old = sqlx::migrate::Migrator::new(migrator_dir("sqlite").as_path())
            .await
            .unwrap();
        old.run_to(PREVIOUS, &mut conn).await.unwrap();
        for sql in old_rows() {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    }
    let store = Store::open(dir.path(), None).await.unwrap();
    check_upgraded(&store).await;
}

#[tokio::test]
async fn postgres_from_the_previous_release() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let mut conn = None;
    for _ in 0..50 {
        match sqlx::PgConnection::connect(&pg.url).await {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    let mut conn = conn.expect("PostgreSQL accepts connections");
    let old = sqlx::migrate::Migrator::new(migrator_dir("postgres").as_path())
        .await
        .unwrap();
    old.run_to(PREVIOUS, &mut conn).await.unwrap();
    for sql in old_rows() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Some(&pg.url)).await.unwrap();
    check_upgraded(&store).await;
}
