//! The directory from a real OpenLDAP: Debian's `slapd` started here in a temp dir (mdb
//! backend, StartTLS with a CA made by `openssl`), filled with `ldapadd` with a generated
//! organisation — an OU tree of departments, 200 people with Chinese names and mail
//! addresses, groups by member DN and by memberUid, and role groups. Then: the sync reads it
//! all; a person moved and a person added appear after the next (incremental) sync; a wrong
//! service password keeps the last good directory; login binds as the person (right
//! password in, wrong one out, filter input escaped); roles from groups, two role groups
//! refused.

mod slapd;

use std::collections::BTreeMap;
use std::path::Path;

use baomi_server::directory::Directory;
use baomi_server::directory::ldap::{self, AuthError, LdapConfig, RoleFrom, Syncer};
use baomi_store::Role;

use slapd::*;

fn config(s: &Slapd, password_file: &Path) -> LdapConfig {
    let cfg: LdapConfig = toml::from_str(&s.ldap_toml(password_file, None, "")).unwrap();
    cfg.check().unwrap();
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_from_slapd() {
    if !have("slapd") || !have("ldapadd") {
        panic!("slapd and ldap-utils are needed: scripts/deps.sh test");
    }
    let s = Slapd::start();
    let (org, people) = organisation();
    s.tool("ldapadd", &[], &org);
    let pw = s.dir.path().join("service.password");
    std::fs::write(&pw, format!("{SERVICE_PW}\n")).unwrap();
    let cfg = config(&s, &pw);

    // The first sync: everything.
    let mut syncer = Syncer::new(cfg.clone());
    let (dir, r) = syncer.sync().await.expect("the first sync");
    assert!(r.full);
    assert_eq!((r.people, dir.len()), (200, 200), "{r:?}");
    // Person 4 is in the secadmin and the auditor groups: named by the sync (and logged).
    assert_eq!(r.role_conflicts, vec![people[4].account.clone()]);
    let depts = dir.departments();
    for want in [
        "市局",
        "市局/办公室",
        "市局/办公室/保密科",
        "市局/信息中心/网络科",
        "市局/一分局",
    ] {
        assert!(depts.iter().any(|d| d == want), "{want} not in {depts:?}");
    }
    assert!(
        !depts.iter().any(|d| d == "People" || d == "groups"),
        "{depts:?}"
    );
    for (i, p) in people.iter().enumerate() {
        let got = dir
            .account(&p.account)
            .unwrap_or_else(|| panic!("{} missing", p.account));
        assert_eq!(got.name, p.name);
        assert_eq!(got.department, p.department, "{}", p.account);
        assert_eq!(
            dir.mail_user(&format!("{}@UNIT.gov.cn", p.account))
                .map(|x| &x.name),
            Some(&p.name)
        );
        assert_eq!(
            got.groups.contains(&"涉密人员".to_owned()),
            i % 5 == 0,
            "{got:?}"
        );
        assert_eq!(
            got.groups.contains(&"项目组".to_owned()),
            i % 7 == 0,
            "{got:?}"
        );
    }
    assert!(
        dir.mail_user("zhang.wei.20@unit.gov.cn").is_some()
            || dir.mail_user("wang.wei.0@unit.gov.cn").is_some()
    );

    // A person moves to another department, a new one joins: the next sync (incremental)
    // sees both without a restart.
    let moved = &people[10];
    s.tool(
        "ldapmodrdn",
        &["-s", &format!("ou=财务处,ou=市局,{SUFFIX}")],
        &format!("{}\nuid={}\n", moved.dn, moved.account),
    );
    let (e, newcomer) = person_ldif(900, "ou=保密科,ou=办公室,ou=市局", "市局/办公室/保密科");
    s.tool("ldapadd", &[], &e);
    let (dir, r) = syncer.sync().await.expect("the second sync");
    assert!(!r.full, "{r:?}");
    // modifyTimestamp has one-second resolution and LDAP filters have no `>`: the sync asks
    // for `>=` the newest time seen, so every entry written in that same second is read
    // again. A generated load of 200 people often falls in one second, so the count read
    // is bounded by the load plus the two changes, not by the changes alone.
    assert!(r.read <= 202, "an incremental sync read {} entries", r.read);
    assert_eq!(dir.len(), 201);
    assert_eq!(
        dir.account(&moved.account).unwrap().department,
        "市局/财务处"
    );
    assert_eq!(
        dir.account(&newcomer.account).unwrap().department,
        "市局/办公室/保密科"
    );

    // A wrong service password: the sync fails, the last good directory stays.
    std::fs::write(&pw, "wrong-password\n").unwrap();
    let mut current: Directory = dir;
    ldap::run_round(&mut syncer, |d| current = d).await;
    assert_eq!(current.len(), 201);
    {
        let st = syncer.status.lock().unwrap();
        assert_eq!((st.ok, st.failed), (2, 1));
        assert!(
            st.last_error.as_deref().unwrap_or("").contains("bind"),
            "{st:?}"
        );
    }
    // A server that is gone: the same.
    let mut down = cfg.clone();
    down.url = format!("ldap://127.0.0.1:{}", free_port());
    let mut gone = Syncer::new(down);
    let mut kept = Directory::new(current.people().to_vec());
    ldap::run_round(&mut gone, |d| kept = d).await;
    assert_eq!(kept.len(), 201);
    std::fs::write(&pw, SERVICE_PW).unwrap();
    let (dir, _) = syncer.sync().await.expect("the password fixed");
    assert_eq!(dir.len(), 201);

    // Login by bind as the person.
    let p = &people[2];
    let ok = ldap::authenticate(&cfg, &p.account, &format!("pw-{}-密码", p.account))
        .await
        .expect("the right password");
    assert_eq!(ok.dn, p.dn);
    assert_eq!(ok.name, p.name);
    assert_eq!(ok.role, RoleFrom::One(Role::Secadmin));
    for (who, password) in [
        (p.account.as_str(), "wrong"),
        (p.account.as_str(), ""),
        ("*", "anything"),
        ("nobody", "anything"),
        // Filter injection: an always-true clause would match the first person.
        ("*)(uid=*", &format!("pw-{}-密码", people[0].account)),
    ] {
        match ldap::authenticate(&cfg, who, password).await {
            Err(AuthError::Denied) => {}
            other => panic!("{who:?}/{password:?}: {other:?}"),
        }
    }
    let role = |i: usize| {
        let cfg = cfg.clone();
        let account = people[i].account.clone();
        async move {
            ldap::authenticate(&cfg, &account, &format!("pw-{account}-密码"))
                .await
                .unwrap()
                .role
        }
    };
    assert_eq!(role(1).await, RoleFrom::One(Role::Sysadmin));
    assert_eq!(role(3).await, RoleFrom::One(Role::Auditor));
    assert_eq!(
        role(4).await,
        RoleFrom::Conflict(vec![Role::Auditor, Role::Secadmin])
    );
    assert_eq!(role(5).await, RoleFrom::None);
    let mut unmapped = cfg.clone();
    unmapped.roles = BTreeMap::new();
    let a = &people[4].account;
    let u = ldap::authenticate(&unmapped, a, &format!("pw-{a}-密码"))
        .await
        .unwrap();
    assert_eq!(u.role, RoleFrom::NotMapped);
    assert!(
        u.groups.contains(&"涉密人员".to_owned()) || u.groups.contains(&"baomi-auditor".to_owned())
    );
}

/// Console login through the store with the real bind (`ldap::console_login` →
/// `Store::login_with`): the first login of a person in a role group creates the LDAP
/// account, a wrong password is refused and audited, two role groups give no role, a
/// person in no role group gets no account, a dead server is told apart, and the local
/// bootstrap account still signs in with its own password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_login_binds_to_slapd() {
    use baomi_store::accounts::Auth;
    use baomi_store::{Login, NewAccount, Store};
    if !have("slapd") || !have("ldapadd") {
        panic!("slapd and ldap-utils are needed: scripts/deps.sh test");
    }
    let s = Slapd::start();
    let (org, people) = organisation();
    s.tool("ldapadd", &[], &org);
    let pw = s.dir.path().join("service.password");
    std::fs::write(&pw, SERVICE_PW).unwrap();
    let mut cfg = config(&s, &pw);
    cfg.console_login = true;
    cfg.check().unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path(), None).await.unwrap();
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
    let login = |cfg: &LdapConfig, who: &str, password: &str| {
        let (cfg, who, password) = (cfg.clone(), who.to_owned(), password.to_owned());
        let store = store.clone();
        async move {
            let d = ldap::console_login(&cfg, &who, &password);
            store
                .login_with(&who, &password, None, Some(d))
                .await
                .unwrap()
        }
    };

    // Person 2 (secadmin group): the account is made at the first login.
    let officer = &people[2];
    match login(&cfg, &officer.account, &password_of(&officer.account)).await {
        Login::Ok(acc) => {
            assert_eq!((acc.role, acc.auth), (Role::Secadmin, Auth::Ldap));
            assert_eq!(acc.display_name.as_deref(), Some(officer.name.as_str()));
            assert_eq!(acc.department.as_deref(), Some(officer.department));
            assert_eq!(acc.directory_dn.as_deref(), Some(officer.dn.as_str()));
        }
        other => panic!("{other:?}"),
    }
    // A wrong password: refused, audited, counted.
    assert!(matches!(
        login(&cfg, &officer.account, "wrong-password").await,
        Login::Denied
    ));
    let e = store.audit_tail(1).await.unwrap().remove(0);
    assert_eq!(
        (e.action.as_str(), e.detail["reason"].as_str()),
        ("login.failed", Some("directory password"))
    );
    assert_eq!(
        store.account(&officer.account).await.unwrap().failed_logins,
        1
    );
    // The right one again: in, the count reset.
    assert!(matches!(
        login(&cfg, &officer.account, &password_of(&officer.account)).await,
        Login::Ok(_)
    ));
    assert_eq!(
        store.account(&officer.account).await.unwrap().failed_logins,
        0
    );

    // Person 4 is in two role groups: no role, no account, a warning in the audit.
    let both = &people[4];
    match login(&cfg, &both.account, &password_of(&both.account)).await {
        Login::RoleConflict(r) => assert_eq!(r, vec![Role::Auditor, Role::Secadmin]),
        other => panic!("{other:?}"),
    }
    assert!(store.account(&both.account).await.is_err());
    let e = store.audit_tail(1).await.unwrap().remove(0);
    assert_eq!(e.action, "login.role_conflict");
    assert_eq!(e.detail["dn"], both.dn.as_str());
    // Person 5 is in no role group; a stranger is unknown to the directory.
    assert!(matches!(
        login(&cfg, &people[5].account, &password_of(&people[5].account)).await,
        Login::NoRole
    ));
    assert!(matches!(
        login(&cfg, "nobody", "anything-at-all").await,
        Login::Denied
    ));
    assert!(store.account("nobody").await.is_err());

    // An auditor who joins the secadmin group too loses the role at the next login.
    let auditor = &people[3];
    assert!(matches!(
        login(&cfg, &auditor.account, &password_of(&auditor.account)).await,
        Login::Ok(_)
    ));
    s.tool(
        "ldapmodify",
        &[],
        &format!(
            "dn: cn=baomi-secadmin,ou=groups,{SUFFIX}\nchangetype: modify\nadd: member\nmember: {}\n",
            auditor.dn
        ),
    );
    assert!(matches!(
        login(&cfg, &auditor.account, &password_of(&auditor.account)).await,
        Login::RoleConflict(_)
    ));

    // The directory down: a clear outcome, not a denial, not counted.
    let mut down = cfg.clone();
    down.url = format!("ldap://127.0.0.1:{}", free_port());
    down.timeout_secs = 2;
    assert!(matches!(
        login(&down, &officer.account, &password_of(&officer.account)).await,
        Login::Unavailable
    ));
    assert_eq!(
        store.account(&officer.account).await.unwrap().failed_logins,
        0
    );
    // …while the local bootstrap account signs in with its own password.
    assert!(matches!(
        login(&down, "root-sys", "local-password-2026").await,
        Login::Ok(_)
    ));
    assert!(store.verify_audit().await.unwrap().ok());
}
