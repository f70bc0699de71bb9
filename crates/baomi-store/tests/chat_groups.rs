//! The work chat-group registry on both backends: a group registered (a second one with the
//! same room refused), members imported whole (a bad row adds nothing), the checks against a
//! directory with a departed person and a stranger, a zombie and an unapproved group, acting
//! on them (a member removed, an approval, a dissolution), the checks recorded per group and
//! counted per department, the chat door's message time noted; the audit chain holds.

use baomi_store::testing::TempPostgres;
use baomi_store::{
    ChatGroupFilter, ChatGroupUpdate, ChatPlatform, KnownPerson, NewChatGroup, NewMember, Store,
    StoreError, local_date, now_ms,
};

fn member(name: Option<&str>, nickname: Option<&str>, phone: Option<&str>) -> NewMember {
    NewMember {
        name: name.map(Into::into),
        nickname: nickname.map(Into::into),
        phone: phone.map(Into::into),
        ..Default::default()
    }
}

fn people() -> Vec<KnownPerson> {
    vec![
        KnownPerson {
            name: "张三".into(),
            department: "办公室".into(),
            ..Default::default()
        },
        KnownPerson {
            name: "李四".into(),
            department: "办公室".into(),
            account: Some("lisi".into()),
            left: Some("2026-10-31".into()),
            ..Default::default()
        },
        KnownPerson {
            name: "王五".into(),
            department: "财务科".into(),
            // Leaves in the future: still a member of the unit.
            left: Some("2999-01-01".into()),
            ..Default::default()
        },
    ]
}

async fn exercise(store: &Store) {
    let new = NewChatGroup {
        platform: Some(ChatPlatform::Matrix),
        name: "办公室工作群".into(),
        platform_id: Some("!office:chat.example".into()),
        purpose: Some("日常工作通知".into()),
        owner: "张三".into(),
        department: "办公室".into(),
        ..Default::default()
    };
    let g = store.register_chat_group(&new, "secadmin").await.unwrap();
    assert!(g.is_active());
    assert_eq!(g.approved_by, None);
    // The same room twice: refused.
    assert!(matches!(
        store.register_chat_group(&new, "secadmin").await,
        Err(StoreError::Conflict(_))
    ));
    // Missing owner, bad dates: refused.
    let bad = NewChatGroup {
        owner: " ".into(),
        platform_id: None,
        ..new.clone()
    };
    assert!(matches!(
        store.register_chat_group(&bad, "secadmin").await,
        Err(StoreError::Invalid(_))
    ));
    let bad = NewChatGroup {
        platform_id: None,
        last_message_day: Some("2026-13-01".into()),
        ..new.clone()
    };
    assert!(matches!(
        store.register_chat_group(&bad, "secadmin").await,
        Err(StoreError::Invalid(_))
    ));

    // A second group, approved, whose last message was long ago: a zombie.
    let old = store
        .register_chat_group(
            &NewChatGroup {
                platform: Some(ChatPlatform::Wechat),
                name: "财务科临时群".into(),
                owner: "王五".into(),
                department: "财务科".into(),
                approved_by: Some("赵局长".into()),
                approved_day: Some("2026-01-05".into()),
                last_message_day: Some("2026-01-10".into()),
                ..Default::default()
            },
            "secadmin",
        )
        .await
        .unwrap();
    assert_eq!(old.last_message_source.as_deref(), Some("entered"));

    // A list with a bad row adds nothing.
    let bad_list = vec![
        member(Some("张三"), None, Some("13812345678")),
        member(None, None, Some("13900000000")),
    ];
    let e = store
        .import_chat_members(g.id, &bad_list, "secadmin")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("member 2"), "{e}");
    assert!(store.chat_members(g.id, true).await.unwrap().is_empty());

    let list = vec![
        member(Some("张三"), Some("老张"), Some("13812345678")),
        member(Some("李四"), None, None),
        member(None, Some("陌生人"), None),
        member(Some("王五"), None, None),
    ];
    let r = store
        .import_chat_members(g.id, &list, "secadmin")
        .await
        .unwrap();
    assert_eq!((r.added, r.already), (4, 0));
    // Again: all already there.
    let r = store
        .import_chat_members(g.id, &list, "secadmin")
        .await
        .unwrap();
    assert_eq!((r.added, r.already), (0, 4));
    let members = store.chat_members(g.id, false).await.unwrap();
    assert_eq!(members.len(), 4);
    assert_eq!(members[0].phone.as_deref(), Some("138****5678"));
    store
        .import_chat_members(old.id, &[member(Some("王五"), None, None)], "secadmin")
        .await
        .unwrap();

    // The checks.
    assert!(matches!(
        store.run_chat_checks(None, 0, &people(), "secadmin").await,
        Err(StoreError::Invalid(_))
    ));
    let check = store
        .run_chat_checks(None, 90, &people(), "secadmin")
        .await
        .unwrap();
    assert_eq!(check.groups.len(), 2);
    let office = check.groups.iter().find(|c| c.group_id == g.id).unwrap();
    assert_eq!(office.members, 4);
    assert_eq!(office.not_real_name.len(), 1);
    assert_eq!(office.not_real_name[0].nickname.as_deref(), Some("陌生人"));
    assert_eq!(office.departed.len(), 1);
    assert_eq!(office.departed[0].person, "李四");
    assert_eq!(office.departed[0].left, "2026-10-31");
    assert!(!office.zombie, "registered today");
    assert!(office.unapproved);
    let finance = check.groups.iter().find(|c| c.group_id == old.id).unwrap();
    assert!(finance.zombie && !finance.unapproved);
    assert!(finance.not_real_name.is_empty() && finance.departed.is_empty());
    assert_eq!(
        (
            check.not_real_name,
            check.departed,
            check.zombie,
            check.unapproved
        ),
        (1, 1, 1, 1)
    );
    let records = store.chat_group_checks(None, 100).await.unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.run == check.run));

    // Acting: remove the departed member and the stranger, approve, dissolve the zombie.
    let lisi = members
        .iter()
        .find(|m| m.name.as_deref() == Some("李四"))
        .unwrap();
    let removed = store
        .remove_chat_member(g.id, lisi.id, "已离岗", "secadmin")
        .await
        .unwrap();
    assert!(removed.removed_ms.is_some());
    assert!(matches!(
        store
            .remove_chat_member(g.id, lisi.id, "again", "secadmin")
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .remove_chat_member(g.id, 999_999, "x", "secadmin")
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .remove_chat_member(g.id, members[2].id, " ", "secadmin")
            .await,
        Err(StoreError::Invalid(_))
    ));
    store
        .remove_chat_member(g.id, members[2].id, "非实名", "secadmin")
        .await
        .unwrap();
    assert!(matches!(
        store
            .approve_chat_group(g.id, "赵局长", "2026-99-01", None, "secadmin")
            .await,
        Err(StoreError::Invalid(_))
    ));
    let g2 = store
        .approve_chat_group(g.id, "赵局长", "2026-11-02", Some("同意"), "secadmin")
        .await
        .unwrap();
    assert_eq!(g2.approved_by.as_deref(), Some("赵局长"));
    assert_eq!(g2.members, 2);
    let gone = store
        .dissolve_chat_group(old.id, "僵尸群，超过 90 天无消息", "secadmin")
        .await
        .unwrap();
    assert_eq!(gone.state, "dissolved");
    assert!(matches!(
        store.dissolve_chat_group(old.id, "again", "secadmin").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .import_chat_members(old.id, &[member(Some("王五"), None, None)], "secadmin")
            .await,
        Err(StoreError::Conflict(_))
    ));

    // The registry lists active groups by default.
    assert_eq!(
        store
            .chat_groups(&ChatGroupFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    let all = ChatGroupFilter {
        state: Some("all".into()),
        ..Default::default()
    };
    assert_eq!(store.chat_groups(&all).await.unwrap().len(), 2);
    let by_dept = ChatGroupFilter {
        state: Some("all".into()),
        department: Some("财务科".into()),
        ..Default::default()
    };
    assert_eq!(store.chat_groups(&by_dept).await.unwrap()[0].id, old.id);

    // Checked again: nothing left to act on in the office group.
    let check = store
        .run_chat_checks(Some(g.id), 90, &people(), "secadmin")
        .await
        .unwrap();
    assert_eq!(check.groups.len(), 1);
    assert_eq!(
        (
            check.not_real_name,
            check.departed,
            check.zombie,
            check.unapproved
        ),
        (0, 0, 0, 0)
    );
    assert!(matches!(
        store
            .run_chat_checks(Some(old.id), 90, &people(), "secadmin")
            .await,
        Err(StoreError::Conflict(_))
    ));

    // Counted per department: registered and checked in the period.
    let now = now_ms();
    let counts = store
        .chat_groups_by_department(now - 86_400_000, now + 86_400_000)
        .await
        .unwrap();
    assert_eq!(counts["办公室"].registered, 1);
    assert_eq!(counts["办公室"].checked, 1);
    assert_eq!(counts["财务科"].checked, 1);
    let later = store
        .chat_groups_by_department(now + 86_400_000, now + 2 * 86_400_000)
        .await
        .unwrap();
    assert_eq!(later["办公室"].checked, 0);
    assert!(
        !later.contains_key("财务科"),
        "dissolved before that period"
    );

    // The chat door's message time, and the group of an incident's destination.
    assert!(
        store
            .note_chat_message("matrix:!office:chat.example", now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .note_chat_message("matrix:!office:chat.example", now + 1000)
            .await
            .unwrap(),
        "at most once a minute"
    );
    let found = store
        .chat_group_by_destination("matrix:!office:chat.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, g.id);
    assert_eq!(found.last_message_source.as_deref(), Some("reported"));
    assert!(
        store
            .chat_group_by_destination("matrix:!other:chat.example")
            .await
            .unwrap()
            .is_none()
    );
    let upd = store
        .update_chat_group(
            g.id,
            &ChatGroupUpdate {
                last_message_day: Some(local_date(now)),
                purpose: Some(String::new()),
                ..Default::default()
            },
            "secadmin",
        )
        .await
        .unwrap();
    assert_eq!(upd.last_message_source.as_deref(), Some("entered"));
    assert_eq!(upd.purpose, None);
    assert!(
        store
            .chat_group_incidents(&upd, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let audit = store.audit_tail(100).await.unwrap();
    for action in [
        "chat_group.register",
        "chat_group.members_import",
        "chat_group.check",
        "chat_group.member_remove",
        "chat_group.approve",
        "chat_group.dissolve",
        "chat_group.update",
    ] {
        assert!(audit.iter().any(|a| a.action == action), "{action}");
    }
    let report = store.verify_audit().await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

#[tokio::test]
async fn chat_groups_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    exercise(&store).await;
}

#[tokio::test]
async fn chat_groups_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    exercise(&pg.open_store(dir.path()).await).await;
}
