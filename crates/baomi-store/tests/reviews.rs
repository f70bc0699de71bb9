//! The publication review's rules against both backends: each step is decided by its role
//! only, nobody decides their own item or two steps of one item, the department review
//! stays in the drafter's department, block-level findings need a comment to approve, a
//! rejection goes back to the drafter, who submits a new version that starts again; an
//! approved version's hashes are found, others not; every step is in the audit chain.
//! Also: a database made before the business roles existed is migrated with its accounts,
//! sessions and tokens intact (SQLite rebuilds the accounts table for the new CHECK).

use baomi_store::testing::TempPostgres;
use baomi_store::{
    Account, Decision, NewAccount, NewReviewVersion, ReviewFile, ReviewFilter, ReviewState, Role,
    Store, StoreError,
};
use serde_json::json;

async fn person(store: &Store, name: &str, role: Role, department: Option<&str>) -> Account {
    store
        .create_account(
            &NewAccount {
                name: name.into(),
                role,
                display_name: Some(format!("{name}（显示名）")),
                department: department.map(str::to_owned),
                password: format!("{name}-password-123"),
            },
            true,
            "test",
        )
        .await
        .unwrap()
}

fn version(title: &str, text_sha: &str, blocking: bool) -> NewReviewVersion {
    NewReviewVersion {
        title: title.into(),
        text_blake3: Some("b".repeat(64)),
        text_sha256: Some(text_sha.into()),
        text_norm_sha256: Some(text_sha.replace('a', "9").replace('d', "8")),
        text_chars: 120,
        content_sha256: format!("{:0>64}", text_sha.len() + usize::from(blocking)),
        action: if blocking { "block" } else { "allow" }.into(),
        blocking,
        scan: json!({"objects": []}),
        files: vec![ReviewFile {
            seq: 0,
            name: "附件一.docx".into(),
            size: 2048,
            sha256: "f".repeat(64),
            blake3: "c".repeat(64),
            true_type: "docx".into(),
            action: "allow".into(),
        }],
    }
}

fn refused(r: Result<impl std::fmt::Debug, StoreError>, says: &str) {
    match r {
        Err(StoreError::Refused(m)) => assert!(m.contains(says), "{m}"),
        other => panic!("expected a refusal saying {says:?}, got {other:?}"),
    }
}

async fn exercise(store: &Store) {
    let drafter = person(store, "li", Role::Drafter, Some("宣传科")).await;
    let other_drafter = person(store, "zhou", Role::Drafter, Some("财务科")).await;
    let reviewer = person(store, "wang", Role::Reviewer, Some("宣传科")).await;
    let reviewer_elsewhere = person(store, "qian", Role::Reviewer, Some("财务科")).await;
    let director = person(store, "zhao", Role::Director, Some("办公室")).await;
    let approver = person(store, "sun", Role::Approver, None).await;
    let secadmin = person(store, "sec", Role::Secadmin, None).await;

    // Only a drafter submits; a title and something to review are needed.
    refused(
        store
            .submit_review(
                &version("x", &"1".repeat(64), false),
                &reviewer,
                "user:wang",
            )
            .await,
        "drafter",
    );
    let mut empty = version("", &"1".repeat(64), false);
    assert!(matches!(
        store.submit_review(&empty, &drafter, "user:li").await,
        Err(StoreError::Invalid(_))
    ));
    empty.title = "空".into();
    empty.text_chars = 0;
    empty.files.clear();
    assert!(matches!(
        store.submit_review(&empty, &drafter, "user:li").await,
        Err(StoreError::Invalid(_))
    ));

    let text_sha = "a".repeat(64);
    let item = store
        .submit_review(
            &version("关于开展节能宣传周活动的通知", &text_sha, true),
            &drafter,
            "user:li",
        )
        .await
        .unwrap();
    assert_eq!(item.state, ReviewState::SelfReview);
    assert_eq!(item.department.as_deref(), Some("宣传科"));
    let id = item.id;

    // The wrong role, the drafter, another department: refused with the reason.
    refused(
        store
            .decide_review(id, Decision::Approve, Some("同意"), &director, "user:zhao")
            .await,
        "reviewer",
    );
    refused(
        store
            .decide_review(id, Decision::Approve, Some("同意"), &secadmin, "user:sec")
            .await,
        "reviewer",
    );
    refused(
        store
            .decide_review(
                id,
                Decision::Approve,
                Some("同意"),
                &reviewer_elsewhere,
                "user:qian",
            )
            .await,
        "宣传科",
    );
    // Block-level findings: approving without a comment is refused; a rejection says why.
    assert!(matches!(
        store
            .decide_review(id, Decision::Approve, None, &reviewer, "user:wang")
            .await,
        Err(StoreError::Invalid(m)) if m.contains("block-level")
    ));
    assert!(matches!(
        store
            .decide_review(id, Decision::Reject, Some("  "), &reviewer, "user:wang")
            .await,
        Err(StoreError::Invalid(_))
    ));
    let d = store
        .decide_review(
            id,
            Decision::Approve,
            Some("检测到的“秘密★”为培训示例，经核实不涉密，同意"),
            &reviewer,
            "user:wang",
        )
        .await
        .unwrap();
    assert_eq!(d.review.state, ReviewState::OfficeReview);
    assert!(d.history.last().unwrap().acknowledged);
    // Not approved yet: the hash is not found.
    assert!(store.approved_with(&text_sha).await.unwrap().is_empty());

    // The office rejects; the drafter alone may send a new version.
    let d = store
        .decide_review(
            id,
            Decision::Reject,
            Some("附件含内部数据，删除后再报"),
            &director,
            "user:zhao",
        )
        .await
        .unwrap();
    assert_eq!(d.review.state, ReviewState::Rejected);
    assert!(matches!(
        store
            .decide_review(id, Decision::Approve, Some("同意"), &approver, "user:sun")
            .await,
        Err(StoreError::Conflict(_))
    ));
    refused(
        store
            .resubmit_review(
                id,
                &version("改", &"e".repeat(64), false),
                &other_drafter,
                "user:zhou",
            )
            .await,
        "drafter",
    );
    let new_text = "d".repeat(64);
    let r = store
        .resubmit_review(
            id,
            &version("关于开展节能宣传周活动的通知（修改稿）", &new_text, false),
            &drafter,
            "user:li",
        )
        .await
        .unwrap();
    assert_eq!((r.state, r.version), (ReviewState::SelfReview, 2));
    assert!(matches!(
        store
            .resubmit_review(id, &version("再改", &new_text, false), &drafter, "user:li")
            .await,
        Err(StoreError::Conflict(_))
    ));

    // The reviewer may decide the same step again on the new version, but the director,
    // who decided the office step, may not now take another step, whatever their role.
    store
        .decide_review(id, Decision::Approve, None, &reviewer, "user:wang")
        .await
        .unwrap();
    store
        .decide_review(id, Decision::Approve, None, &director, "user:zhao")
        .await
        .unwrap();
    refused(
        store
            .decide_review(id, Decision::Approve, None, &reviewer, "user:wang")
            .await,
        "approver",
    );
    let d = store
        .decide_review(
            id,
            Decision::Approve,
            Some("同意发布"),
            &approver,
            "user:sun",
        )
        .await
        .unwrap();
    assert_eq!(d.review.state, ReviewState::Approved);
    assert_eq!(d.versions.len(), 2);
    assert_eq!(d.current().version, 2);
    let decisions: Vec<(i64, &str, &str)> = d
        .history
        .iter()
        .map(|s| (s.version, s.step.as_str(), s.decision.as_str()))
        .collect();
    assert_eq!(
        decisions,
        [
            (1, "self_review", "submit"),
            (1, "self_review", "approve"),
            (1, "office_review", "reject"),
            (2, "self_review", "submit"),
            (2, "self_review", "approve"),
            (2, "office_review", "approve"),
            (2, "leader_approval", "approve"),
        ]
    );
    assert_eq!(d.history.last().unwrap().signer(), "sun（显示名）");
    // Decided: nothing left to do.
    assert!(matches!(
        store
            .decide_review(id, Decision::Reject, Some("x"), &approver, "user:sun")
            .await,
        Err(StoreError::Conflict(_))
    ));

    // The approved version's text and file are found; the first version's text is not.
    let found = store.approved_with(&new_text.to_uppercase()).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].id, found[0].matched.as_str()), (id, "text"));
    assert!(found[0].approved_ms > 0);
    // The normalised text's hash matches too (a portal that re-flowed the line ends).
    let by_norm = store.approved_with(&"8".repeat(64)).await.unwrap();
    assert_eq!((by_norm[0].id, by_norm[0].matched.as_str()), (id, "text"));
    let by_file = store.approved_with(&"f".repeat(64)).await.unwrap();
    assert_eq!(by_file[0].matched, "file");
    assert_eq!(by_file[0].file.as_deref(), Some("附件一.docx"));
    assert!(store.approved_with(&text_sha).await.unwrap().is_empty());

    // A drafter who later becomes a reviewer (role change, approved by the security
    // officer) still may not review their own item.
    let own = store
        .submit_review(
            &version("本科室工作动态", &"7".repeat(64), false),
            &other_drafter,
            "user:zhou",
        )
        .await
        .unwrap();
    store
        .propose_role("zhou", Role::Reviewer, "user:sys")
        .await
        .unwrap();
    let zhou = store.approve_account("zhou", &secadmin).await.unwrap();
    assert_eq!(zhou.role, Role::Reviewer);
    refused(
        store
            .decide_review(own.id, Decision::Approve, None, &zhou, "user:zhou")
            .await,
        "own item",
    );

    // Lists: by state, by drafter, by who took part.
    let approved = store
        .reviews(&ReviewFilter {
            state: Some(ReviewState::Approved),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(approved.len(), 1);
    let zhous = store
        .reviews(&ReviewFilter {
            drafter: Some("zhou".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(zhous.len(), 1);
    let wangs = store
        .reviews(&ReviewFilter {
            involving: Some("wang".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(wangs.len(), 1);

    // Every submission and decision is in the audit chain, which holds.
    let trail = store
        .audit_search(&baomi_store::AuditFilter {
            subject: Some(format!("review:{id}")),
            limit: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = trail.entries.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "review.submit",
        "review.approve",
        "review.reject",
        "review.resubmit",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    assert_eq!(trail.total, 7);
    assert!(store.verify_audit().await.unwrap().ok());
}

#[test]
fn the_normalised_text_ignores_line_ends_and_trailing_space() {
    let n = baomi_store::normalised_text;
    assert_eq!(n("通知\r\n正文  \r\n\r\n"), "通知\n正文");
    assert_eq!(n("通知\n正文"), n("通知 \r\n正文\n\n\n"));
    assert_ne!(
        n("通知\n 正文"),
        n("通知\n正文"),
        "leading space is content"
    );
}

#[tokio::test]
async fn reviews_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    exercise(&store).await;
}

#[tokio::test]
async fn reviews_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    exercise(&pg.open_store(dir.path()).await).await;
}

/// A SQLite database from before the business roles (migrations 0001–0004 only) keeps its
/// accounts, sessions and tokens through the rebuild of the accounts table, and the foreign
/// keys still hold afterwards.
#[tokio::test]
async fn sqlite_accounts_survive_the_role_migration() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baomi.db");
    {
        let url = format!("sqlite://{}?mode=rwc", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        // Only the migrations an older Baomi had.
        let old = sqlx::migrate::Migrator::new(migrations.as_path())
            .await
            .unwrap();
        old.run_to(4, &mut conn).await.unwrap();
        sqlx::query(
            "INSERT INTO accounts (name, role, status, password_hash, created_ms, created_by) \
             VALUES ('old-sec', 'secadmin', 'active', 'x', 1, 'test')",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO sessions (id_hash, account_id, created_ms, last_seen_ms) \
             VALUES ('h', (SELECT id FROM accounts WHERE name = 'old-sec'), 1, 1)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let store = Store::open(dir.path(), None).await.unwrap();
    let old = store.account("old-sec").await.unwrap();
    assert_eq!(old.role, Role::Secadmin);
    // The new roles are accepted; an unknown one is still refused by the database.
    person(&store, "new-drafter", Role::Drafter, None).await;
    person(&store, "new-staff", Role::Staff, None).await;
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut conn)
        .await
        .unwrap();
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(sessions, 1);
    assert!(
        sqlx::query(
            "INSERT INTO accounts (name, role, status, password_hash, created_ms, created_by) \
             VALUES ('bad', 'superuser', 'active', 'x', 1, 'test')",
        )
        .execute(&mut conn)
        .await
        .is_err()
    );
    // The sessions' foreign key now points at the new accounts table.
    assert!(
        sqlx::query(
            "INSERT INTO sessions (id_hash, account_id, created_ms, last_seen_ms) VALUES ('z', 99999, 1, 1)"
        )
        .execute(&mut conn)
        .await
        .is_err()
    );
    let violations: Vec<(String,)> = sqlx::query_as("PRAGMA foreign_key_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert!(violations.is_empty());
}
