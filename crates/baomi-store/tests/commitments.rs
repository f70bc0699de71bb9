//! Secrecy commitments (保密承诺书) against both backends: a template's new version leaves
//! what was signed on the old one as it was; a person signs the current version once (a
//! second signature of the same version is refused, an older version cannot be signed in
//! the console); a paper signature needs its scan; the audit entry of each signature carries
//! the template's version, the text's SHA-256 and the signature's hash; the chain holds.

use baomi_store::testing::TempPostgres;
use baomi_store::{CommitmentKind, NewSignature, SignMethod, SignatureScan, Store, StoreError};

const V1: &str = "本人自愿遵守国家保密法律法规，不泄露所知悉的国家秘密和工作秘密。";
const V2: &str =
    "本人自愿遵守国家保密法律法规和本单位保密制度，不泄露所知悉的国家秘密、工作秘密和敏感信息。";

fn today() -> String {
    baomi_store::local_date(baomi_store::now_ms())
}

fn console(version_id: i64, person: &str, typed: &str) -> NewSignature {
    NewSignature {
        version_id,
        person: person.into(),
        account: Some("zhang".into()),
        department: Some("办公室".into()),
        method: SignMethod::Console,
        typed_name: Some(typed.into()),
        signed_day: today(),
        scan: None,
    }
}

fn sha(text: &str) -> String {
    baomi_store::commitments::text_sha256(text)
}

async fn exercise(store: &Store) {
    let t = store
        .create_commitment_template(
            CommitmentKind::Onboarding,
            "上岗保密承诺书",
            None,
            V1,
            "user:officer",
        )
        .await
        .unwrap();
    assert_eq!(t.current.version, 1);
    assert_eq!(t.current.text_sha256, sha(V1));
    assert_eq!(t.kind, CommitmentKind::Onboarding);
    // Bad input: an empty text, a title taken.
    assert!(matches!(
        store
            .create_commitment_template(CommitmentKind::Leaving, "离岗", None, "  ", "user:officer")
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .create_commitment_template(
                CommitmentKind::Leaving,
                "上岗保密承诺书",
                None,
                V1,
                "user:officer"
            )
            .await,
        Err(StoreError::Conflict(_))
    ));

    // 张三 signs version 1.
    let v1_id = t.current.id;
    let s1 = store
        .sign_commitment(&console(v1_id, "张三", "张三"), "user:zhang")
        .await
        .unwrap();
    assert_eq!((s1.version, s1.text_sha256.as_str()), (1, sha(V1).as_str()));
    assert_eq!(s1.signature_sha256.len(), 64);
    // A second signature of the same version: refused, not duplicated.
    let again = store
        .sign_commitment(&console(v1_id, "张三", "张三"), "user:zhang")
        .await;
    match again {
        Err(StoreError::Conflict(m)) => assert!(m.contains("不能重复签署"), "{m}"),
        other => panic!("a second signature: {other:?}"),
    }
    assert_eq!(store.commitment_signatures().await.unwrap().len(), 1);

    // The audit entry of the signature carries the version and the hashes.
    let tail = store.audit_tail(1).await.unwrap();
    let e = &tail[0];
    assert_eq!(e.action, "commitment.sign");
    assert_eq!(e.subject, format!("commitment:{}", t.id));
    assert_eq!(e.detail["version"], 1);
    assert_eq!(e.detail["text_sha256"], sha(V1));
    assert_eq!(e.detail["signature_sha256"], s1.signature_sha256);

    // Version 2: the old text and the old signature stay as they were.
    let unchanged = store
        .new_commitment_version(t.id, V1, Some("无变化"), "user:officer")
        .await;
    assert!(
        matches!(unchanged, Err(StoreError::Conflict(_))),
        "{unchanged:?}"
    );
    let v2 = store
        .new_commitment_version(
            t.id,
            V2,
            Some("增加本单位保密制度和敏感信息"),
            "user:officer",
        )
        .await
        .unwrap();
    assert_eq!((v2.version, v2.text_sha256.as_str()), (2, sha(V2).as_str()));
    let (t2, versions) = store.commitment_template(t.id).await.unwrap();
    assert_eq!(t2.current.version, 2);
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].text, V1, "version 1's text is kept");
    assert_eq!(versions[1].text_sha256, sha(V1));
    let old = store.commitment_signature(s1.id).await.unwrap();
    assert_eq!(
        (old.version, old.text_sha256.as_str()),
        (1, sha(V1).as_str())
    );
    let audit = store.audit_tail(1).await.unwrap();
    assert_eq!(audit[0].action, "commitment.version");
    assert_eq!(audit[0].detail["text_sha256"], sha(V2));

    // The old version can no longer be signed in the console; the new one can, once.
    let stale = store
        .sign_commitment(&console(v1_id, "李四", "李四"), "user:li")
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    store
        .sign_commitment(&console(v2.id, "张三", "张三"), "user:zhang")
        .await
        .unwrap();
    assert!(matches!(
        store
            .sign_commitment(&console(v2.id, "张三", "张三"), "user:zhang")
            .await,
        Err(StoreError::Conflict(_))
    ));
    // Bad input: no typed name, a date not today, an unknown version.
    assert!(matches!(
        store
            .sign_commitment(&console(v2.id, "李四", " "), "user:li")
            .await,
        Err(StoreError::Invalid(_))
    ));
    let mut yesterday = console(v2.id, "李四", "李四");
    yesterday.signed_day = "2020-01-01".into();
    assert!(matches!(
        store.sign_commitment(&yesterday, "user:li").await,
        Err(StoreError::Invalid(_))
    ));
    let mut garbage = console(v2.id, "李四", "李四");
    garbage.signed_day = "2026-02-31".into();
    assert!(matches!(
        store.sign_commitment(&garbage, "user:li").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .sign_commitment(&console(99_999, "李四", "李四"), "user:li")
            .await,
        Err(StoreError::NotFound(_))
    ));

    // A paper signature: needs its scan, may be of an earlier day, never of a day to come.
    let leaving = store
        .create_commitment_template(
            CommitmentKind::Leaving,
            "离岗保密承诺书",
            None,
            V1,
            "user:officer",
        )
        .await
        .unwrap();
    let mut paper = NewSignature {
        version_id: leaving.current.id,
        person: "王五".into(),
        account: None,
        department: Some("财务处".into()),
        method: SignMethod::Paper,
        typed_name: Some("王五".into()),
        signed_day: "2026-11-30".into(),
        scan: None,
    };
    assert!(matches!(
        store.sign_commitment(&paper, "user:officer").await,
        Err(StoreError::Invalid(_))
    ));
    paper.scan = Some(SignatureScan {
        blake3: "b".repeat(64),
        name: "王五离岗承诺书.pdf".into(),
        size: 1234,
        sha256: "c".repeat(64),
    });
    paper.signed_day = "2999-01-01".into();
    assert!(matches!(
        store.sign_commitment(&paper, "user:officer").await,
        Err(StoreError::Invalid(_))
    ));
    paper.signed_day = "2026-11-30".into();
    let p = store.sign_commitment(&paper, "user:officer").await.unwrap();
    assert_eq!(p.method, SignMethod::Paper);
    assert_eq!(p.recorded_by, "user:officer");
    assert_eq!(p.scan.as_ref().unwrap().name, "王五离岗承诺书.pdf");
    let audit = store.audit_tail(1).await.unwrap();
    assert_eq!(audit[0].action, "commitment.paper");
    assert_eq!(audit[0].detail["scan_sha256"], "c".repeat(64));
    assert!(matches!(
        store.sign_commitment(&paper, "user:officer").await,
        Err(StoreError::Conflict(_))
    ));
    // The scan is a reference the store check knows.
    let refs = store.evidence_references().await.unwrap();
    assert!(refs.contains_key(&"b".repeat(64)));

    let mine = store.commitment_signatures_of("张三").await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].version, 2, "newest first");
    let all = store.commitment_templates().await.unwrap();
    assert_eq!(
        all.iter().map(|t| t.kind).collect::<Vec<_>>(),
        [CommitmentKind::Onboarding, CommitmentKind::Leaving]
    );

    let report = store.verify_audit().await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

#[tokio::test]
async fn commitments_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    exercise(&store).await;
}

#[tokio::test]
async fn commitments_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    exercise(&pg.open_store(dir.path()).await).await;
}
