//! The work chat-group registry (工作群管理) end to end, with the real binary: a directory of
//! five people (李四 has left, 钱七 leaves on a day still to come, 王五 is known by his mail);
//! through the REST API two groups are registered (one approved and active, one without
//! approval and silent for 60 days), member lists imported from CSV (a garbage list is
//! refused with its line number and adds nothing), the checks run with N = 30 and N = 90 and
//! their exact lists asserted (非实名, 已离岗, 僵尸群, 未审批), then acted on: an approval
//! recorded, a member removed, a group dissolved; the audit chain verifies. A staff and a
//! system administrator account are refused (403). Then once in Chromium: the officer opens
//! 工作群, registers a group, imports a CSV from the form (a bad one first), runs the checks,
//! sees the flagged members and removes one from the list, with screenshots.

#[allow(dead_code)]
mod support {
    pub mod browser;
    pub mod people;
    pub mod serve;
}

use fantoccini::Locator;
use serde_json::{Value, json};
use support::browser::{browser, chromedriver, click_nav, login, shot, text, text_of};
use support::people::{self, json_of, post_json, start_with_directory, url};
use support::serve::{OFFICER_PASSWORD, Serve};

const DIRECTORY: &str = r#"
[[user]]
name = "张三"
department = "办公室"
account = "zhangsan"

[[user]]
name = "李四"
department = "办公室"
left = "2026-11-20"

[[user]]
name = "王五"
department = "财务处"
mails = ["wangwu@unit.example"]

[[user]]
name = "赵六"
department = "财务处"

[[user]]
name = "钱七"
department = "保密科"
left = "2999-01-01"
"#;

/// The office group's members: 张三 (known), 李四 (left), 小明同学 (a nickname only: no real
/// name), 陌生人 (not in the directory), 王老五 (known by his mail as 王五), 钱七 (leaves later).
const OFFICE_MEMBERS: &str = "姓名,群昵称,手机号,账号,邮箱,入群时间\n\
张三,张三-办公室,13812345678,zhangsan,,2026-01-05\n\
李四,老李,13900001111,,,2026/2/1\n\
,小明同学,13700002222,,,2026-03-01\n\
陌生人,路人甲,,,,2026-03-02\n\
王老五,,,,wangwu@unit.example,2026-03-03\n\
钱七,,,,,2026年3月4日\n";

/// Line 3 has a phone that is no number.
const GARBAGE: &str = "姓名,手机号\n赵六,13800000000\n钱七,不是号码\n";

fn start() -> Serve {
    start_with_directory(DIRECTORY, "")
}

/// An account of `role` and a token of it.
fn account_token(s: &Serve, name: &str, role: &str) -> String {
    people::account_token(s, name, &["--role", role], "account-password-2026")
}

fn post_csv(s: &Serve, path: &str, csv: &[u8]) -> (u16, Value) {
    let file = s.dir.path().join("upload.csv");
    std::fs::write(&file, csv).unwrap();
    let (code, out) = s.curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: text/csv",
        "--data-binary",
        &format!("@{}", file.display()),
        &url(s, path),
    ]);
    (code, json_of(&out))
}

fn get(s: &Serve, tok: &str, path: &str) -> (u16, Value) {
    let (code, out) = s.curl_as(tok, &[&url(s, path)]);
    (code, json_of(&out))
}

/// A day in Beijing time, `days` before today.
fn day_before(days: u32) -> String {
    let out = std::process::Command::new("date")
        .env("TZ", "Asia/Shanghai")
        .args(["-d", &format!("{days} days ago"), "+%F"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn labels(members: &Value) -> Vec<String> {
    let mut v: Vec<String> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match (m["name"].as_str(), m["nickname"].as_str()) {
            (Some(n), Some(k)) => format!("{n}（{k}）"),
            (Some(n), None) => n.to_owned(),
            (None, Some(k)) => k.to_owned(),
            (None, None) => String::new(),
        })
        .collect();
    v.sort();
    v
}

fn group_of<'a>(check: &'a Value, id: &Value) -> &'a Value {
    check["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group_id"] == *id)
        .unwrap_or_else(|| panic!("group {id} in {check}"))
}

fn run_checks(s: &Serve, days: i64) -> Value {
    let (code, c) = post_json(
        s,
        &s.token,
        "/api/v1/chat-groups/checks",
        &json!({ "days": days }),
    );
    assert_eq!(code, 200, "{c}");
    c
}

#[tokio::test]
async fn chat_groups_through_the_api() {
    let s = start();
    let today = day_before(0);
    let silent_since = day_before(60);

    // Neither a staff member nor the system administrator may see the registry.
    let staff = account_token(&s, "xiaowang", "staff");
    let sysadmin = account_token(&s, "sysop", "sysadmin");
    for tok in [&staff, &sysadmin] {
        assert_eq!(get(&s, tok, "/api/v1/chat-groups").0, 403);
        let (code, _) = post_json(
            &s,
            tok,
            "/api/v1/chat-groups",
            &json!({"platform": "wechat", "name": "x", "owner": "张三", "department": "办公室"}),
        );
        assert_eq!(code, 403);
        assert_eq!(
            post_json(&s, tok, "/api/v1/chat-groups/checks", &json!({})).0,
            403
        );
    }

    // Two groups: the office's, approved and in use; finance's, without approval, silent.
    let (code, office) = post_json(
        &s,
        &s.token,
        "/api/v1/chat-groups",
        &json!({"platform": "wechat", "name": "办公室工作群", "purpose": "日常工作通知",
                "owner": "张三", "department": "办公室", "approved_by": "局长甲",
                "approved_day": "2026-11-01", "last_message_day": today}),
    );
    assert_eq!(code, 201, "{office}");
    assert_eq!(office["state"], "active");
    assert_eq!(office["approved_by"], "局长甲");
    assert_eq!(office["members"], 0);
    let (code, finance) = post_json(
        &s,
        &s.token,
        "/api/v1/chat-groups",
        &json!({"platform": "dingtalk", "name": "财务报销群", "platform_id": "dd-cw-001",
                "owner": "王五", "department": "财务处", "last_message_day": silent_since}),
    );
    assert_eq!(code, 201, "{finance}");
    assert_eq!(finance["platform"], "dingtalk");
    assert_eq!(finance["approved_by"], Value::Null);
    let (oid, fid) = (office["id"].clone(), finance["id"].clone());

    // Bad registrations: no owner (谁建群谁负责), a platform id taken, an approval day alone.
    let (code, e) = post_json(
        &s,
        &s.token,
        "/api/v1/chat-groups",
        &json!({"platform": "wechat", "name": "无主群", "owner": " ", "department": "办公室"}),
    );
    assert_eq!(code, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("群主"), "{e}");
    let (code, e) = post_json(
        &s,
        &s.token,
        "/api/v1/chat-groups",
        &json!({"platform": "dingtalk", "name": "重复群", "platform_id": "dd-cw-001",
                "owner": "赵六", "department": "财务处"}),
    );
    assert_eq!(code, 409, "{e}");
    let (code, _) = post_json(
        &s,
        &s.token,
        "/api/v1/chat-groups",
        &json!({"platform": "wechat", "name": "半审批群", "owner": "赵六",
                "department": "财务处", "approved_day": "2026-11-01"}),
    );
    assert_eq!(code, 400);

    // The office's member list; the same list again adds nobody.
    let members = format!("/api/v1/chat-groups/{oid}/members");
    let (code, r) = post_csv(&s, &members, OFFICE_MEMBERS.as_bytes());
    assert_eq!(code, 200, "{r}");
    assert_eq!(r, json!({"added": 6, "already": 0}));
    let (code, r) = post_csv(&s, &members, OFFICE_MEMBERS.as_bytes());
    assert_eq!(code, 200, "{r}");
    assert_eq!(r, json!({"added": 0, "already": 6}));

    // A garbage list: refused with its line number, nothing imported into either group.
    for id in [&oid, &fid] {
        let (code, e) = post_csv(
            &s,
            &format!("/api/v1/chat-groups/{id}/members"),
            GARBAGE.as_bytes(),
        );
        assert_eq!(code, 422, "{e}");
        let msg = e["error"].as_str().unwrap();
        assert!(
            msg.contains("第 3 行") && msg.contains("nothing was imported"),
            "{msg}"
        );
    }
    let (code, e) = post_csv(&s, &members, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
    assert_eq!(code, 422, "{e}");
    let (_, d) = get(&s, &s.token, &format!("/api/v1/chat-groups/{fid}"));
    assert_eq!(d["members"], json!([]), "nothing imported: {d}");
    let (_, d) = get(&s, &s.token, &format!("/api/v1/chat-groups/{oid}"));
    assert_eq!(d["group"]["members"], 6);
    let m = d["members"].as_array().unwrap();
    assert_eq!(m[0]["name"], "张三");
    assert_eq!(m[0]["phone"], "138****5678", "phones are masked");
    assert_eq!(m[1]["joined_day"], "2026-02-01");
    assert_eq!(m[5]["joined_day"], "2026-03-04");
    let id_of = |name: &str| {
        m.iter()
            .find(|x| x["name"] == name || x["nickname"] == name)
            .unwrap_or_else(|| panic!("{name} in {m:?}"))["id"]
            .as_i64()
            .unwrap()
    };
    let stranger = id_of("陌生人");
    let li = id_of("李四");
    let (code, r) = post_csv(
        &s,
        &format!("/api/v1/chat-groups/{fid}/members"),
        "姓名,邮箱\n王五,wangwu@unit.example\n赵六,\n".as_bytes(),
    );
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["added"], 2);

    // The checks with N = 30: exactly these lists.
    let c = run_checks(&s, 30);
    assert_eq!(c["zombie_days"], 30);
    assert_eq!(c["groups"].as_array().unwrap().len(), 2);
    let o = group_of(&c, &oid);
    assert_eq!(
        labels(&o["not_real_name"]),
        ["小明同学", "陌生人（路人甲）"],
        "{o}"
    );
    let departed: Vec<(&str, &str, &str)> = o["departed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["person"].as_str().unwrap(),
                d["department"].as_str().unwrap(),
                d["left"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        departed,
        [("李四", "办公室", "2026-11-20")],
        "钱七 leaves later"
    );
    assert_eq!(o["zombie"], false);
    assert_eq!(o["idle_days"], 0);
    assert_eq!(o["unapproved"], false);
    assert_eq!(o["members"], 6);
    let f = group_of(&c, &fid);
    assert_eq!(f["not_real_name"], json!([]));
    assert_eq!(f["departed"], json!([]));
    assert_eq!(f["zombie"], true);
    assert_eq!(f["idle_days"], 60);
    assert_eq!(f["unapproved"], true);
    assert_eq!(
        (
            &c["not_real_name"],
            &c["departed"],
            &c["zombie"],
            &c["unapproved"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!(1))
    );
    // N = 90: sixty silent days are not a zombie group yet; N must make sense.
    let c90 = run_checks(&s, 90);
    assert_eq!(group_of(&c90, &fid)["zombie"], false);
    assert_eq!(c90["zombie"], 0);
    for bad in [0, 5000] {
        let (code, _) = post_json(
            &s,
            &s.token,
            "/api/v1/chat-groups/checks",
            &json!({ "days": bad }),
        );
        assert_eq!(code, 400);
    }
    // Each group checked is recorded: two runs of two groups.
    let (_, recs) = get(&s, &s.token, "/api/v1/chat-groups/checks");
    let recs = recs["checks"].as_array().unwrap();
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[0]["zombie_days"], 90);
    let rec = recs
        .iter()
        .find(|r| r["group_id"] == oid && r["zombie_days"] == 30)
        .unwrap();
    assert_eq!(
        (
            &rec["members"],
            &rec["not_real_name"],
            &rec["departed"],
            &rec["zombie"],
            &rec["unapproved"]
        ),
        (
            &json!(6),
            &json!(2),
            &json!(1),
            &json!(false),
            &json!(false)
        )
    );

    // Acting on them: the approval recorded, a member removed (with the reason), the silent
    // group dissolved.
    let (code, g) = post_json(
        &s,
        &s.token,
        &format!("/api/v1/chat-groups/{fid}/approve"),
        &json!({"approved_by": "分管副局长", "approved_day": today, "note": "补登"}),
    );
    assert_eq!(code, 200, "{g}");
    assert_eq!(
        (&g["approved_by"], &g["approved_day"]),
        (&json!("分管副局长"), &json!(today))
    );
    let remove = format!("/api/v1/chat-groups/{oid}/members/{stranger}/remove");
    let (code, _) = post_json(&s, &s.token, &remove, &json!({"reason": " "}));
    assert_eq!(code, 400, "a reason is required");
    let (code, m) = post_json(
        &s,
        &s.token,
        &remove,
        &json!({"reason": "非实名，核实不是本单位人员"}),
    );
    assert_eq!(code, 200, "{m}");
    assert_eq!(m["removed_reason"], "非实名，核实不是本单位人员");
    assert_eq!(m["removed_by"], "token:e2e(officer)");
    let (code, _) = post_json(&s, &s.token, &remove, &json!({"reason": "再次"}));
    assert_eq!(code, 409);
    let (code, _) = post_json(
        &s,
        &s.token,
        &format!("/api/v1/chat-groups/{fid}/members/{li}/remove"),
        &json!({"reason": "不是本群成员"}),
    );
    assert_eq!(code, 404, "李四 is a member of the office's group only");

    let c = run_checks(&s, 30);
    assert_eq!(labels(&group_of(&c, &oid)["not_real_name"]), ["小明同学"]);
    assert_eq!(group_of(&c, &oid)["members"], 5);
    let f = group_of(&c, &fid);
    assert_eq!(
        (&f["zombie"], &f["unapproved"]),
        (&json!(true), &json!(false))
    );

    let dissolve = format!("/api/v1/chat-groups/{fid}/dissolve");
    let (code, _) = post_json(&s, &s.token, &dissolve, &json!({"reason": ""}));
    assert_eq!(code, 400);
    let (code, g) = post_json(
        &s,
        &s.token,
        &dissolve,
        &json!({"reason": "僵尸群，60 天无消息，已在钉钉解散"}),
    );
    assert_eq!(code, 200, "{g}");
    assert_eq!(g["state"], "dissolved");
    assert_eq!(g["dissolved_reason"], "僵尸群，60 天无消息，已在钉钉解散");
    assert_eq!(
        post_json(&s, &s.token, &dissolve, &json!({"reason": "again"})).0,
        409
    );
    let (code, _) = post_csv(
        &s,
        &format!("/api/v1/chat-groups/{fid}/members"),
        "姓名\n赵六\n".as_bytes(),
    );
    assert_eq!(code, 409, "no members join a dissolved group");
    let c = run_checks(&s, 30);
    assert_eq!(
        c["groups"].as_array().unwrap().len(),
        1,
        "a dissolved group is not checked"
    );
    let names = |q: &str| -> Vec<String> {
        let (code, l) = get(&s, &s.token, &format!("/api/v1/chat-groups{q}"));
        assert_eq!(code, 200, "{l}");
        l["chat_groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(""), ["办公室工作群"]);
    assert_eq!(names("?state=dissolved"), ["财务报销群"]);
    assert_eq!(names("?state=all").len(), 2);
    assert_eq!(get(&s, &s.token, "/api/v1/chat-groups?state=gone").0, 400);
    assert_eq!(get(&s, &s.token, "/api/v1/chat-groups/987654").0, 404);

    // The office group's page: the removed member is still listed, with the reason.
    let (_, d) = get(&s, &s.token, &format!("/api/v1/chat-groups/{oid}"));
    let gone = d["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == stranger)
        .unwrap();
    assert_eq!(gone["removed_reason"], "非实名，核实不是本单位人员");
    assert_eq!(d["checks"].as_array().unwrap().len(), 4, "four runs");
    assert_eq!(d["incidents"], json!([]));

    // Every change is in the audit trail, and the chain holds.
    let (code, trail) = s.audit_tail();
    assert_eq!(code, 0);
    for action in [
        "chat_group.check",
        "chat_group.dissolve",
        "chat_group.member_remove",
        "chat_group.approve",
    ] {
        assert!(trail.contains(action), "{action} in {trail}");
    }
    let (code, out) = s.audit_verify();
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn chat_groups_in_chromium() {
    let s = start();
    let base = format!("http://127.0.0.1:{}", s.http);
    let (_driver, port) = chromedriver();
    let c = browser(port).await;
    login(&c, &base, "officer", OFFICER_PASSWORD).await;

    // 日常管理 opens the registry on its tab 工作群.
    click_nav(&c, Locator::LinkText("日常管理")).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/chat-groups");
    let tab = text_of(&c, Locator::Css("nav.tabs a.active")).await;
    assert_eq!(tab, "工作群");
    assert!(text(&c).await.contains("没有符合条件的工作群"));

    // Register a group from the form: no approval given.
    c.find(Locator::Id("reg-platform"))
        .await
        .unwrap()
        .select_by_value("wecom")
        .await
        .unwrap();
    for (id, v) in [
        ("reg-name", "项目协调群"),
        ("reg-purpose", "项目进度沟通"),
        ("reg-owner", "张三"),
        ("reg-department", "办公室"),
    ] {
        c.find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(v)
            .await
            .unwrap();
    }
    shot(&c, "chat-groups-01-register").await;
    click_nav(&c, Locator::Id("reg-submit")).await;
    let path = c.current_url().await.unwrap().path().to_owned();
    assert!(path.starts_with("/chat-groups/"), "{path}");
    let gid = path.trim_start_matches("/chat-groups/").to_owned();
    let page = text(&c).await;
    assert!(page.contains("工作群已登记"), "{page}");
    assert!(
        page.contains("项目协调群") && page.contains("企业微信") && page.contains("未审批"),
        "{page}"
    );

    // A bad member list first: the line is named, nothing is imported.
    let bad = s.dir.path().join("坏名单.csv");
    std::fs::write(&bad, GARBAGE).unwrap();
    c.find(Locator::Id("members-file"))
        .await
        .unwrap()
        .send_keys(bad.to_str().unwrap())
        .await
        .unwrap();
    click_nav(&c, Locator::Id("import-submit")).await;
    let flash = text_of(&c, Locator::Css(".flash.error")).await;
    assert!(
        flash.contains("导入失败，未导入任何成员") && flash.contains("第 3 行"),
        "{flash}"
    );
    assert!(text(&c).await.contains("还没有成员"));
    shot(&c, "chat-groups-02-bad-list").await;

    // The real list.
    let good = s.dir.path().join("成员名单.csv");
    std::fs::write(&good, OFFICE_MEMBERS).unwrap();
    c.find(Locator::Id("members-file"))
        .await
        .unwrap()
        .send_keys(good.to_str().unwrap())
        .await
        .unwrap();
    click_nav(&c, Locator::Id("import-submit")).await;
    let flash = text_of(&c, Locator::Css(".flash")).await;
    assert!(
        flash.contains("已从「成员名单.csv」导入成员 6 人"),
        "{flash}"
    );
    let table = text_of(&c, Locator::Id("cg-members")).await;
    assert!(
        table.contains("陌生人") && table.contains("138****5678"),
        "{table}"
    );
    shot(&c, "chat-groups-03-members").await;

    // Back to the registry: run the checks, see the flagged members.
    click_nav(&c, Locator::Id("back-to-registry")).await;
    let days = c.find(Locator::Id("check-days")).await.unwrap();
    assert_eq!(days.prop("value").await.unwrap().as_deref(), Some("30"));
    click_nav(&c, Locator::Id("check-run")).await;
    let flash = text_of(&c, Locator::Css(".flash")).await;
    assert!(
        flash.contains(
            "共检查 1 个工作群，非实名成员 2 人，已离岗成员 1 人，僵尸群（30 天无消息）0 个，未审批 1 个"
        ),
        "{flash}"
    );
    let not_real = text_of(&c, Locator::Id("list-not-real-name")).await;
    assert!(
        not_real.contains("陌生人（路人甲）") && not_real.contains("小明同学"),
        "{not_real}"
    );
    assert!(
        !not_real.contains("张三") && !not_real.contains("王老五"),
        "{not_real}"
    );
    let departed = text_of(&c, Locator::Id("list-departed")).await;
    assert!(
        departed.contains("李四") && departed.contains("2026-11-20"),
        "{departed}"
    );
    assert!(!departed.contains("钱七"), "{departed}");
    let unapproved = text_of(&c, Locator::Id("list-unapproved")).await;
    assert!(unapproved.contains("项目协调群"), "{unapproved}");
    let row = text_of(&c, Locator::Id(&format!("group-{gid}"))).await;
    assert!(
        row.contains("非实名 2") && row.contains("已离岗 1") && row.contains("未审批"),
        "{row}"
    );
    shot(&c, "chat-groups-04-checks").await;

    // Act on the list: remove the stranger, the reason prefilled.
    let d = s.api(&format!("/api/v1/chat-groups/{gid}"));
    let stranger = d["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "陌生人")
        .unwrap()["id"]
        .clone();
    // The destructive button asks once more (console.js): the officer says yes.
    c.execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    click_nav(&c, Locator::Id(&format!("remove-{stranger}"))).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/chat-groups");
    let flash = text_of(&c, Locator::Css(".flash")).await;
    let at = c.current_url().await.unwrap();
    assert!(flash.contains("已移出该成员"), "{flash} at {at}");
    let not_real = text_of(&c, Locator::Id("list-not-real-name")).await;
    assert!(
        !not_real.contains("陌生人") && not_real.contains("小明同学"),
        "{not_real}"
    );
    shot(&c, "chat-groups-05-removed").await;

    // The group's page: its flags, history and recorded check.
    c.goto(&format!("{base}/chat-groups/{gid}")).await.unwrap();
    let page = text(&c).await;
    assert!(
        page.contains("非实名，核实后移出") && page.contains("定期检查"),
        "{page}"
    );
    shot(&c, "chat-groups-06-group").await;
    let _ = c.close().await;

    let d = s.api(&format!("/api/v1/chat-groups/{gid}"));
    assert_eq!(d["group"]["members"], 5);
    assert_eq!(d["group"]["platform"], "wecom");
    assert_eq!(d["checks"].as_array().unwrap().len(), 1);
    let (code, out) = s.audit_verify();
    assert_eq!(code, 0, "{out}");
}
