//! Accounts whose password the directory checks (`auth = 'ldap'`), against both backends,
//! with the directory's answer scripted (the real bind is tested against slapd in
//! `baomi-server/tests/ldap.rs` and through `baomi serve` in `baomi/tests/ldap_login.rs`):
//! the store keeps no password, the lock and the second factor apply, a directory that is
//! down is told apart, the first login of a person in a role group creates the account, a
//! role follows the group, two role groups give none, and local accounts are untouched.

use baomi_store::accounts::{Auth, DirectoryCheck, DirectoryLogin, DirectoryPerson, DirectoryRole};
use baomi_store::testing::TempPostgres;
use baomi_store::{AccountStatus, Login, NewAccount, Role, Store};

const ADMIN_ROLES: [Role; 3] = [Role::Sysadmin, Role::Secadmin, Role::Auditor];

fn person(account: &str, role: DirectoryRole) -> DirectoryPerson {
    DirectoryPerson {
        dn: format!("uid={account},ou=保密科,dc=unit,dc=cn"),
        display_name: format!("{account} 同志"),
        department: "市局/办公室/保密科".into(),
        role,
    }
}

/// The directory answering `check`, whether unknown names may become accounts.
fn dir(create: bool, check: DirectoryCheck) -> Option<DirectoryLogin<'static>> {
    Some(DirectoryLogin {
        create_accounts: create,
        check: Box::pin(async move { check }),
    })
}

fn ok(account: &str, role: DirectoryRole) -> DirectoryCheck {
    DirectoryCheck::Verified(person(account, role))
}

async fn last_audit(store: &Store) -> baomi_store::AuditEntry {
    store.audit_tail(1).await.unwrap().remove(0)
}

async fn exercise(store: &Store) {
    // A local bootstrap account, untouched by anything below.
    store
        .create_account(
            &NewAccount {
                name: "root-sys".into(),
                role: Role::Sysadmin,
                display_name: None,
                department: None,
                password: "local-password-2026".into(),
            },
            true,
            "cli:root",
        )
        .await
        .unwrap();
    assert_eq!(store.account("root-sys").await.unwrap().auth, Auth::Local);

    // An unknown name, the directory not allowed to create accounts: refused as before, and
    // the directory is not even asked (a check that would let anyone in is never awaited).
    let any = || ok("zhangsan", DirectoryRole::One(Role::Secadmin));
    assert!(matches!(
        store
            .login_with("zhangsan", "dir-password", None, dir(false, any()))
            .await
            .unwrap(),
        Login::Denied
    ));
    assert!(store.account("zhangsan").await.is_err());

    // The first login of a person in one role group creates the account: LDAP, active, the
    // role, name and department from the directory; audited as created by the directory.
    let Login::Ok(acc) = store
        .login_with("zhangsan", "dir-password", None, dir(true, any()))
        .await
        .unwrap()
    else {
        panic!("the first LDAP login creates the account");
    };
    assert_eq!(acc.auth, Auth::Ldap);
    assert_eq!(acc.role, Role::Secadmin);
    assert_eq!(acc.status, AccountStatus::Active);
    assert_eq!(acc.display_name.as_deref(), Some("zhangsan 同志"));
    assert_eq!(acc.department.as_deref(), Some("市局/办公室/保密科"));
    assert_eq!(
        acc.directory_dn.as_deref(),
        Some("uid=zhangsan,ou=保密科,dc=unit,dc=cn")
    );
    assert!(!acc.must_change_password);
    let tail = store.audit_tail(2).await.unwrap();
    assert_eq!(
        (tail[0].action.as_str(), tail[0].actor.as_str()),
        ("login", "user:zhangsan")
    );
    assert_eq!(tail[0].detail["auth"], "ldap");
    assert_eq!(
        (tail[1].action.as_str(), tail[1].actor.as_str()),
        ("account.create_from_directory", "directory")
    );
    assert_eq!(tail[1].detail["role"], "secadmin");

    // No password is kept: whatever was typed, the store's own check refuses, and the
    // directory's password cannot be set here.
    for pw in ["dir-password", "!", ""] {
        assert!(matches!(
            store.login("zhangsan", pw, None).await.unwrap(),
            Login::Unavailable
        ));
    }
    assert!(
        store
            .set_password("zhangsan", "a-new-local-password", "cli:root")
            .await
            .is_err()
    );
    assert!(
        store
            .propose_password("zhangsan", "a-new-local-password", "user:root-sys")
            .await
            .is_err()
    );

    // The directory down: told apart, audited, and not counted toward the lock.
    for _ in 0..6 {
        assert!(matches!(
            store
                .login_with(
                    "zhangsan",
                    "dir-password",
                    None,
                    dir(
                        true,
                        DirectoryCheck::Unavailable("connection refused".into())
                    ),
                )
                .await
                .unwrap(),
            Login::Unavailable
        ));
    }
    let e = last_audit(store).await;
    assert_eq!(e.action, "login.failed");
    assert_eq!(e.detail["reason"], "directory unavailable");
    assert!(
        e.detail["error"]
            .as_str()
            .unwrap()
            .contains("connection refused")
    );
    assert_eq!(store.account("zhangsan").await.unwrap().failed_logins, 0);

    // A wrong directory password counts toward the lock like a local one; locked, the
    // directory is not asked, even with the right password.
    for i in 1..=5 {
        assert!(matches!(
            store
                .login_with("zhangsan", "wrong", None, dir(true, DirectoryCheck::Wrong))
                .await
                .unwrap(),
            Login::Denied
        ));
        if i < 5 {
            let e = last_audit(store).await;
            assert_eq!(
                (e.action.as_str(), e.detail["reason"].as_str()),
                ("login.failed", Some("directory password"))
            );
        }
    }
    assert_eq!(last_audit(store).await.action, "account.locked");
    assert!(matches!(
        store
            .login_with("zhangsan", "dir-password", None, dir(true, any()))
            .await
            .unwrap(),
        Login::Locked(_)
    ));
    store
        .set_auth(
            "zhangsan",
            Auth::Local,
            Some("temporary-password-1"),
            "cli:root",
        )
        .await
        .unwrap();
    store
        .set_auth("zhangsan", Auth::Ldap, None, "cli:root")
        .await
        .unwrap();
    let e = last_audit(store).await;
    assert_eq!(
        (
            e.action.as_str(),
            e.detail["from"].as_str(),
            e.detail["to"].as_str()
        ),
        ("account.auth", Some("local"), Some("ldap"))
    );
    // Back to LDAP, the local password of the meantime is gone again.
    assert!(matches!(
        store
            .login("zhangsan", "temporary-password-1", None)
            .await
            .unwrap(),
        Login::Unavailable
    ));

    // The second factor still applies to an LDAP account.
    let secret = store.begin_totp("zhangsan").await.unwrap();
    let code = baomi_store::accounts::totp(&secret, "zhangsan")
        .unwrap()
        .generate_current()
        .unwrap();
    assert!(store.confirm_totp("zhangsan", &code).await.unwrap());
    assert!(matches!(
        store
            .login_with("zhangsan", "dir-password", None, dir(true, any()))
            .await
            .unwrap(),
        Login::NeedsCode
    ));
    assert!(matches!(
        store
            .login_with("zhangsan", "dir-password", Some("000000"), dir(true, any()))
            .await
            .unwrap(),
        Login::Denied
    ));
    assert!(matches!(
        store
            .login_with("zhangsan", "dir-password", Some(&code), dir(true, any()))
            .await
            .unwrap(),
        Login::Ok(_)
    ));

    // The role follows the directory's group; the old sessions end with the old role.
    let acc = store.account("zhangsan").await.unwrap();
    let old_session = store.create_session(&acc).await.unwrap();
    assert!(store.session(&old_session).await.unwrap().is_some());
    let Login::Ok(acc) = store
        .login_with(
            "zhangsan",
            "dir-password",
            Some(&code),
            dir(true, ok("zhangsan", DirectoryRole::One(Role::Auditor))),
        )
        .await
        .unwrap()
    else {
        panic!("a new role group is a login with the new role");
    };
    assert_eq!(acc.role, Role::Auditor);
    assert!(store.session(&old_session).await.unwrap().is_none());
    let moved = store
        .audit_tail(3)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.action == "account.role_from_directory")
        .expect("the role change is audited");
    assert_eq!(
        (moved.detail["from"].as_str(), moved.detail["to"].as_str()),
        (Some("secadmin"), Some("auditor"))
    );

    // In two role groups: no role — refused with a warning in the audit, sessions ended,
    // the account's role column untouched (it needs exactly one value).
    let acc = store.account("zhangsan").await.unwrap();
    let session = store.create_session(&acc).await.unwrap();
    let both = DirectoryRole::Conflict(vec![Role::Auditor, Role::Secadmin]);
    match store
        .login_with(
            "zhangsan",
            "dir-password",
            Some(&code),
            dir(true, ok("zhangsan", both.clone())),
        )
        .await
        .unwrap()
    {
        Login::RoleConflict(r) => assert_eq!(r, vec![Role::Auditor, Role::Secadmin]),
        other => panic!("{other:?}"),
    }
    assert!(store.session(&session).await.unwrap().is_none());
    let e = last_audit(store).await;
    assert_eq!(e.action, "login.role_conflict");
    assert_eq!(
        e.detail["roles"],
        serde_json::json!(["auditor", "secadmin"])
    );

    // A newcomer in two role groups gets no account at all.
    match store
        .login_with("lisi", "pw", None, dir(true, ok("lisi", both)))
        .await
        .unwrap()
    {
        Login::RoleConflict(_) => {}
        other => panic!("{other:?}"),
    }
    assert!(store.account("lisi").await.is_err());
    assert_eq!(last_audit(store).await.action, "login.role_conflict");
    // Nor does one in no role group.
    let none = DirectoryRole::None {
        mapped: ADMIN_ROLES.to_vec(),
    };
    assert!(matches!(
        store
            .login_with("wangwu", "pw", None, dir(true, ok("wangwu", none.clone())))
            .await
            .unwrap(),
        Login::NoRole
    ));
    assert!(store.account("wangwu").await.is_err());

    // Left the group of the account's role: refused.
    assert!(matches!(
        store
            .login_with(
                "zhangsan",
                "dir-password",
                Some(&code),
                dir(true, ok("zhangsan", none))
            )
            .await
            .unwrap(),
        Login::NoRole
    ));
    assert_eq!(
        last_audit(store).await.detail["reason"],
        "no longer in the role group"
    );

    // An LDAP account made one by one (no role groups configured): its own role stands.
    store
        .create_account(
            &NewAccount {
                name: "drafter1".into(),
                role: Role::Drafter,
                display_name: None,
                department: None,
                password: "first-password-2026".into(),
            },
            true,
            "cli:root",
        )
        .await
        .unwrap();
    store
        .set_auth("drafter1", Auth::Ldap, None, "cli:root")
        .await
        .unwrap();
    let Login::Ok(acc) = store
        .login_with(
            "drafter1",
            "dir-password",
            None,
            dir(false, ok("drafter1", DirectoryRole::NotMapped)),
        )
        .await
        .unwrap()
    else {
        panic!("an LDAP account without role groups");
    };
    assert_eq!((acc.role, acc.auth), (Role::Drafter, Auth::Ldap));
    // Not configured at all: told apart from a wrong password.
    assert!(matches!(
        store
            .login_with("drafter1", "dir-password", None, None)
            .await
            .unwrap(),
        Login::Unavailable
    ));
    // An empty password never reaches the directory.
    assert!(matches!(
        store
            .login_with(
                "drafter1",
                "",
                None,
                dir(false, ok("drafter1", DirectoryRole::NotMapped))
            )
            .await
            .unwrap(),
        Login::Denied
    ));

    // Made LDAP from the start: no password is kept at all.
    let acc = store
        .create_account_with_auth(
            &NewAccount {
                name: "aud1".into(),
                role: Role::Auditor,
                display_name: None,
                department: None,
                password: String::new(),
            },
            true,
            Auth::Ldap,
            "cli:root",
        )
        .await
        .unwrap();
    assert_eq!((acc.auth, acc.must_change_password), (Auth::Ldap, false));
    assert_eq!(last_audit(store).await.detail["auth"], "ldap");
    assert!(matches!(
        store.login("aud1", "", None).await.unwrap(),
        Login::Unavailable
    ));
    assert!(matches!(
        store
            .login_with(
                "aud1",
                "dir-password",
                None,
                dir(false, ok("aud1", DirectoryRole::One(Role::Auditor)))
            )
            .await
            .unwrap(),
        Login::Ok(_)
    ));

    // The local account still signs in with its own password, whatever the directory says.
    assert!(matches!(
        store
            .login_with(
                "root-sys",
                "local-password-2026",
                None,
                dir(true, DirectoryCheck::Wrong)
            )
            .await
            .unwrap(),
        Login::Ok(_)
    ));
    assert!(matches!(
        store
            .login_with(
                "root-sys",
                "dir-password",
                None,
                dir(true, ok("root-sys", DirectoryRole::One(Role::Sysadmin)))
            )
            .await
            .unwrap(),
        Login::Denied
    ));
    // Making it local again needs a password.
    assert!(
        store
            .set_auth("drafter1", Auth::Local, None, "cli:root")
            .await
            .is_err()
    );
    assert!(
        store
            .set_auth(
                "root-sys",
                Auth::Local,
                Some("whatever-password"),
                "cli:root"
            )
            .await
            .is_err()
    );
    assert!(store.verify_audit().await.unwrap().ok());
}

#[tokio::test]
async fn directory_login_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    exercise(&store).await;
}

#[tokio::test]
async fn directory_login_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    exercise(&pg.open_store(dir.path()).await).await;
}
