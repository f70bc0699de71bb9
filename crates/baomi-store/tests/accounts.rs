//! Accounts of the three roles (三员分立) against both backends: the database refuses a
//! fourth role, console proposals wait for a second person, five failures lock, idle
//! sessions end, tokens act as their account or only inspect.

use baomi_store::testing::TempPostgres;
use baomi_store::{AccountStatus, Login, NewAccount, Role, Store, TokenScope};

fn new(name: &str, role: Role) -> NewAccount {
    NewAccount {
        name: name.into(),
        role,
        display_name: Some(format!("{name} 同志")),
        department: Some("办公室".into()),
        password: format!("{name}-密码-0123456789"),
    }
}

fn password(name: &str) -> String {
    format!("{name}-密码-0123456789")
}

async fn exercise(store: &Store, url: &str) {
    // Bootstrap: active at once.
    let sys = store
        .create_account(&new("sys", Role::Sysadmin), true, "cli:root")
        .await
        .unwrap();
    let sec = store
        .create_account(&new("sec", Role::Secadmin), true, "cli:root")
        .await
        .unwrap();
    let sec2 = store
        .create_account(&new("sec2", Role::Secadmin), true, "cli:root")
        .await
        .unwrap();
    store
        .create_account(&new("aud", Role::Auditor), true, "cli:root")
        .await
        .unwrap();
    assert_eq!(store.account_count().await.unwrap(), 4);

    // Short passwords and odd names are refused.
    let mut short = new("short", Role::Auditor);
    short.password = "123456789".into();
    assert!(
        store
            .create_account(&short, true, "cli:root")
            .await
            .is_err()
    );
    assert!(
        store
            .create_account(&new("bad name", Role::Auditor), true, "cli:root")
            .await
            .is_err()
    );
    assert!(
        store
            .create_account(&new("sys", Role::Auditor), true, "cli:root")
            .await
            .is_err()
    );

    // The database itself refuses a role outside the three, and a second role column does not
    // exist to hold one.
    let raw = raw_exec(
        url,
        "INSERT INTO accounts (name, role, status, password_hash, created_ms, created_by) \
         VALUES ('root', 'superuser', 'active', 'x', 0, 'x')",
    )
    .await;
    assert!(
        raw.is_err(),
        "a superuser role must be refused by the database"
    );

    // A console proposal cannot log in until a security officer approves it.
    let proposed = store
        .create_account(&new("clerk", Role::Auditor), false, &sys.actor())
        .await
        .unwrap();
    assert_eq!(proposed.status, AccountStatus::Pending);
    assert!(matches!(
        store
            .login("clerk", &password("clerk"), None)
            .await
            .unwrap(),
        Login::Inactive(AccountStatus::Pending)
    ));
    // Not by the proposer's role, not by the subject itself.
    assert!(store.approve_account("clerk", &sys).await.is_err());
    let clerk = store.account("clerk").await.unwrap();
    assert!(store.approve_account("clerk", &clerk).await.is_err());
    let approved = store.approve_account("clerk", &sec).await.unwrap();
    assert_eq!(approved.status, AccountStatus::Active);
    assert!(matches!(
        store
            .login("clerk", &password("clerk"), None)
            .await
            .unwrap(),
        Login::Ok(_)
    ));

    // A role change waits too, and a security officer cannot approve a change of their own.
    store
        .propose_role("sec2", Role::Auditor, &sys.actor())
        .await
        .unwrap();
    assert_eq!(store.account("sec2").await.unwrap().role, Role::Secadmin);
    assert!(store.approve_account("sec2", &sec2).await.is_err());
    store.approve_account("sec2", &sec).await.unwrap();
    assert_eq!(store.account("sec2").await.unwrap().role, Role::Auditor);

    // Five wrong passwords lock the account, even against the right one; all audited.
    for _ in 0..5 {
        assert!(matches!(
            store.login("aud", "wrong-password-xx", None).await.unwrap(),
            Login::Denied
        ));
    }
    assert!(matches!(
        store.login("aud", &password("aud"), None).await.unwrap(),
        Login::Locked(_)
    ));
    let log = store.audit_tail(50).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "account.locked" && e.subject == "aud")
    );
    assert_eq!(
        log.iter()
            .filter(|e| e.action == "login.failed" && e.subject == "aud")
            .count(),
        5
    );
    // Root on the server unlocks by setting the password.
    store
        .set_password("aud", &password("aud"), "cli:root")
        .await
        .unwrap();
    assert!(matches!(
        store.login("aud", &password("aud"), None).await.unwrap(),
        Login::Ok(_)
    ));
    // Unknown accounts are denied like wrong passwords.
    assert!(matches!(
        store
            .login("nobody", "whatever-password", None)
            .await
            .unwrap(),
        Login::Denied
    ));

    // Sessions: live, then idle for 31 minutes and gone.
    let secret = store.create_session(&sec).await.unwrap();
    assert_eq!(store.session(&secret).await.unwrap().unwrap().name, "sec");
    assert!(store.session("not-a-session").await.unwrap().is_none());
    store.age_sessions(31 * 60 * 1000).await.unwrap();
    assert!(store.session(&secret).await.unwrap().is_none());

    // Tokens: bound to an account, or inspection-only; disabling the account revokes.
    let (_, bound) = store
        .create_token("officer-cli", Some(&sec), "cli:root")
        .await
        .unwrap();
    let info = store.check_token(&bound).await.unwrap().unwrap();
    assert_eq!(info.scope, TokenScope::Account);
    assert_eq!(info.account.as_deref(), Some("sec"));
    let (_, scan) = store.create_token("agent", None, "cli:root").await.unwrap();
    assert_eq!(
        store.check_token(&scan).await.unwrap().unwrap().scope,
        TokenScope::Scan
    );
    let live = store.create_session(&sec).await.unwrap();
    store.disable_account("sec", &sys.actor()).await.unwrap();
    assert!(store.check_token(&bound).await.unwrap().is_none());
    assert!(store.session(&live).await.unwrap().is_none());
    assert!(matches!(
        store.login("sec", &password("sec"), None).await.unwrap(),
        Login::Inactive(AccountStatus::Disabled)
    ));

    // TOTP: enrolment needs a right code; then the password alone is not enough.
    let secret = store.begin_totp("clerk").await.unwrap();
    assert!(!store.confirm_totp("clerk", "000000x").await.unwrap());
    let code = baomi_store::accounts::totp(&secret, "clerk")
        .unwrap()
        .generate_current()
        .unwrap();
    assert!(store.confirm_totp("clerk", &code).await.unwrap());
    assert!(matches!(
        store
            .login("clerk", &password("clerk"), None)
            .await
            .unwrap(),
        Login::NeedsCode
    ));
    assert!(matches!(
        store
            .login("clerk", &password("clerk"), Some(&code))
            .await
            .unwrap(),
        Login::Ok(_)
    ));

    // Every step is in one intact chain.
    let report = store.verify_audit().await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

async fn raw_exec(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await?;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut c)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn accounts_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    let url = format!("sqlite://{}", dir.path().join("baomi.db").display());
    exercise(&store, &url).await;
}

#[tokio::test]
async fn accounts_postgres() {
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
    exercise(&store.expect("PostgreSQL accepts connections"), &pg.url).await;
}
