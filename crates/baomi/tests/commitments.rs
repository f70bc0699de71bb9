//! Secrecy commitments (保密承诺书) end to end, with the real binary: the security officer
//! makes templates of the three kinds (上岗, 涉密岗位 limited to the group 涉密人员, 离岗);
//! two staff accounts (`baomi user add --role staff`) sign as themselves through the API —
//! a typed name that is not theirs is refused, a second signature of the same version is
//! refused (409), a new version asks for a new signature and the old one cannot be signed
//! any more; a third person of the directory has not signed and shows in the overview; a
//! departure without a leaving commitment is listed, another is cleared by a paper
//! signature recorded with its scan (read back decrypted); the XLSX and CSV exports read
//! back; the audit trail carries each signature's hashes and verifies. Then once in
//! Chromium: a staff member reads and signs (a wrong name first), the officer's overview and
//! a paper signature uploaded from the form, with screenshots.

#[allow(dead_code)]
mod support {
    pub mod browser;
    pub mod people;
    pub mod serve;
}

use fantoccini::Locator;
use serde_json::{Value, json};
use support::browser::{browser, chromedriver, click_nav, login, logout, shot, text};
use support::people::{get, json_of, post_json, staff_token, start_with_directory, url};
use support::serve::{OFFICER_PASSWORD, Serve, baomi};

const PASSWORD: &str = "staff-password-2026";

const DIRECTORY: &str = r#"
[[user]]
name = "张三"
department = "办公室"
account = "zhangsan"
groups = ["涉密人员"]

[[user]]
name = "李四"
department = "办公室"

[[user]]
name = "王五"
department = "财务处"

[[user]]
name = "赵六"
department = "财务处"
left = "2026-11-20"

[[user]]
name = "钱七"
department = "保密科"
left = "2026-11-25"
"#;

const ONBOARDING_V1: &str = "本人自愿遵守《中华人民共和国保守国家秘密法》和本单位保密制度，\n不泄露所知悉的国家秘密和工作秘密。\n";
const ONBOARDING_V2: &str = "本人自愿遵守《中华人民共和国保守国家秘密法》和本单位保密制度，\n不泄露所知悉的国家秘密、工作秘密和敏感信息；\n不在互联网和工作群中处理涉密信息。\n";
const CLASSIFIED: &str =
    "本人在涉密岗位工作期间，严格遵守涉密人员管理规定，按规定报告出国（境）等事项。\n";
const LEAVING: &str =
    "本人离岗后，继续履行保密义务，不以任何方式泄露所知悉的国家秘密，脱密期内遵守有关规定。\n";

fn start() -> Serve {
    start_with_directory(DIRECTORY, "[records]\nunit = \"某市某局\"\n")
}

/// A staff account (工作人员) and its token.
fn staff(s: &Serve, name: &str, display: &str, dept: &str) -> String {
    staff_token(s, name, display, dept, PASSWORD)
}

/// The three templates; returns (onboarding, classified, leaving) as created.
fn templates(s: &Serve) -> (Value, Value, Value) {
    let mk = |kind: &str, title: &str, text: &str, group: Option<&str>| {
        let mut b = json!({"kind": kind, "title": title, "text": text});
        if let Some(g) = group {
            b["group"] = json!(g);
        }
        let (code, t) = post_json(s, &s.token, "/api/v1/commitments/templates", &b);
        assert_eq!(code, 201, "{t}");
        t
    };
    (
        mk("onboarding", "上岗保密承诺书", ONBOARDING_V1, None),
        mk(
            "classified",
            "涉密岗位保密承诺书",
            CLASSIFIED,
            Some("涉密人员"),
        ),
        mk("leaving", "离岗保密承诺书", LEAVING, None),
    )
}

fn sha256(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

fn today() -> String {
    let out = std::process::Command::new("date")
        .env("TZ", "Asia/Shanghai")
        .arg("+%F")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["person"].as_str().unwrap().to_owned())
        .collect()
}

fn paper(s: &Serve, fields: &[(&str, &str)], file: Option<&std::path::Path>) -> (u16, Value) {
    let mut args: Vec<String> = Vec::new();
    for (k, v) in fields {
        args.push("--form-string".into());
        args.push(format!("{k}={v}"));
    }
    if let Some(f) = file {
        args.push("-F".into());
        args.push(format!("file=@{};filename=钱七离岗承诺书.pdf", f.display()));
    }
    args.push(url(s, "/api/v1/commitments/paper"));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out) = s.curl(&refs);
    (code, json_of(&out))
}

#[tokio::test]
async fn commitments_through_the_api() {
    let s = start();
    let zhang = staff(&s, "zhangsan", "张三", "办公室");
    let li = staff(&s, "lisi", "李四", "办公室");
    let (onboarding, classified, leaving) = templates(&s);
    assert_eq!(onboarding["current"]["version"], 1);
    assert_eq!(classified["group"], "涉密人员");
    assert_eq!(
        onboarding["current"]["text_sha256"],
        sha256(ONBOARDING_V1.as_bytes())
    );
    let onb_id = onboarding["id"].as_i64().unwrap();
    let onb_v1 = onboarding["current"]["id"].as_i64().unwrap();

    // Bad input for templates: an unknown kind, an empty text, a title taken.
    let (code, _) = post_json(
        &s,
        &s.token,
        "/api/v1/commitments/templates",
        &json!({"kind": "weekly", "title": "周承诺", "text": "x"}),
    );
    assert_eq!(code, 400);
    let (code, _) = post_json(
        &s,
        &s.token,
        "/api/v1/commitments/templates",
        &json!({"kind": "leaving", "title": "空承诺", "text": "  "}),
    );
    assert_eq!(code, 400);
    let (code, e) = post_json(
        &s,
        &s.token,
        "/api/v1/commitments/templates",
        &json!({"kind": "leaving", "title": "上岗保密承诺书", "text": "x"}),
    );
    assert_eq!(code, 409, "{e}");

    // A staff account may not see the officer's side.
    assert_eq!(get(&s, &zhang, "/api/v1/commitments/overview").0, 403);
    assert_eq!(get(&s, &zhang, "/api/v1/commitments/templates").0, 403);

    // 张三 (in 涉密人员) has the onboarding and the classified commitment to sign, not the
    // leaving one; 李四 only the onboarding one.
    let (code, mine) = get(&s, &zhang, "/api/v1/commitments/mine");
    assert_eq!(code, 200);
    let mine = json_of(&mine);
    assert_eq!(mine["person"], "张三");
    assert_eq!(mine["department"], "办公室");
    assert_eq!(mine["today"], today());
    let pending: Vec<&str> = mine["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(pending, ["上岗保密承诺书", "涉密岗位保密承诺书"]);
    assert_eq!(mine["pending"][0]["text"], ONBOARDING_V1);
    let (_, li_mine) = get(&s, &li, "/api/v1/commitments/mine");
    assert_eq!(json_of(&li_mine)["pending"].as_array().unwrap().len(), 1);

    // A typed name that is not one's own is refused; one's own name signs.
    let (code, e) = post_json(
        &s,
        &zhang,
        "/api/v1/commitments/mine",
        &json!({"version_id": onb_v1, "typed_name": "张叁"}),
    );
    assert_eq!(code, 422, "{e}");
    assert!(e["error"].as_str().unwrap().contains("张三"), "{e}");
    let (code, sig1) = post_json(
        &s,
        &zhang,
        "/api/v1/commitments/mine",
        &json!({"version_id": onb_v1, "typed_name": "张三"}),
    );
    assert_eq!(code, 201, "{sig1}");
    assert_eq!(sig1["signed_day"], today());
    assert_eq!(sig1["text_sha256"], sha256(ONBOARDING_V1.as_bytes()));
    assert_eq!(sig1["method"], "console");
    // The same version a second time: refused, not duplicated.
    let (code, e) = post_json(
        &s,
        &zhang,
        "/api/v1/commitments/mine",
        &json!({"version_id": onb_v1, "typed_name": "张三"}),
    );
    assert_eq!(code, 409, "{e}");
    assert!(e["error"].as_str().unwrap().contains("不能重复签署"), "{e}");
    // Bad input: an unknown version, a leaving commitment that does not concern him.
    let (code, _) = post_json(
        &s,
        &zhang,
        "/api/v1/commitments/mine",
        &json!({"version_id": 987654, "typed_name": "张三"}),
    );
    assert_eq!(code, 404);
    let (code, _) = post_json(
        &s,
        &zhang,
        "/api/v1/commitments/mine",
        &json!({"version_id": leaving["current"]["id"], "typed_name": "张三"}),
    );
    assert_eq!(code, 422);

    // Version 2 of the onboarding commitment: the first signature keeps version 1's hash,
    // 张三 must sign again, version 1 cannot be signed any more.
    let (code, v2) = post_json(
        &s,
        &s.token,
        &format!("/api/v1/commitments/templates/{onb_id}/versions"),
        &json!({"text": ONBOARDING_V2, "note": "增加敏感信息和工作群的要求"}),
    );
    assert_eq!(code, 201, "{v2}");
    assert_eq!(v2["version"], 2);
    let onb_v2 = v2["id"].as_i64().unwrap();
    let (code, same) = post_json(
        &s,
        &s.token,
        &format!("/api/v1/commitments/templates/{onb_id}/versions"),
        &json!({"text": ONBOARDING_V2}),
    );
    assert_eq!(code, 409, "{same}");
    let (_, t) = get(
        &s,
        &s.token,
        &format!("/api/v1/commitments/templates/{onb_id}"),
    );
    let t = json_of(&t);
    assert_eq!(t["versions"].as_array().unwrap().len(), 2);
    assert_eq!(t["versions"][1]["text"], ONBOARDING_V1);
    let (_, mine) = get(&s, &zhang, "/api/v1/commitments/mine");
    let mine = json_of(&mine);
    assert_eq!(mine["pending"][0]["version"], 2);
    assert_eq!(mine["pending"][0]["signed_version"], 1);
    assert_eq!(mine["signed"][0]["version"], 1);
    assert_eq!(
        mine["signed"][0]["text_sha256"],
        sha256(ONBOARDING_V1.as_bytes())
    );
    let (code, _) = post_json(
        &s,
        &li,
        "/api/v1/commitments/mine",
        &json!({"version_id": onb_v1, "typed_name": "李四"}),
    );
    assert_eq!(code, 409, "version 1 is no longer current");
    for (tok, name) in [(&zhang, "张三"), (&li, "李四")] {
        let (code, sig) = post_json(
            &s,
            tok,
            "/api/v1/commitments/mine",
            &json!({"version_id": onb_v2, "typed_name": name}),
        );
        assert_eq!(code, 201, "{sig}");
        assert_eq!(sig["version"], 2);
        assert_eq!(sig["text_sha256"], sha256(ONBOARDING_V2.as_bytes()));
    }

    // A paper signature of the leaving commitment for 钱七, with its scan.
    let scan_bytes = "%PDF-1.4\n% 钱七 signed the leaving commitment on paper\n%%EOF\n"
        .as_bytes()
        .to_vec();
    let scan_file = s.dir.path().join("scan.pdf");
    std::fs::write(&scan_file, &scan_bytes).unwrap();
    let leave_v = leaving["current"]["id"].as_i64().unwrap().to_string();
    let fields = [
        ("version_id", leave_v.as_str()),
        ("person", "钱七"),
        ("signed_day", "2026-11-25"),
    ];
    // Bad input: no scan, a day to come, a garbage version.
    assert_eq!(paper(&s, &fields, None).0, 400);
    let future = [
        ("version_id", leave_v.as_str()),
        ("person", "钱七"),
        ("signed_day", "2999-01-01"),
    ];
    assert_eq!(paper(&s, &future, Some(&scan_file)).0, 400);
    let garbage = [
        ("version_id", "abc"),
        ("person", "钱七"),
        ("signed_day", "2026-11-25"),
    ];
    assert_eq!(paper(&s, &garbage, Some(&scan_file)).0, 400);
    let (code, p) = paper(&s, &fields, Some(&scan_file));
    assert_eq!(code, 201, "{p}");
    assert_eq!(p["method"], "paper");
    assert_eq!(p["department"], "保密科", "from the directory");
    assert_eq!(p["recorded_by"], "token:e2e(officer)");
    assert_eq!(p["scan"]["sha256"], sha256(&scan_bytes));
    assert_eq!(p["scan"]["name"], "钱七离岗承诺书.pdf");
    let (code, e) = paper(&s, &fields, Some(&scan_file));
    assert_eq!(code, 409, "{e}");
    let (code, back) = get(
        &s,
        &s.token,
        &format!("/api/v1/commitments/signatures/{}/scan", p["id"]),
    );
    assert_eq!(code, 200);
    assert_eq!(back, scan_bytes, "the scan decrypts to what was uploaded");
    // The vault holds it encrypted: its bytes are nowhere in plain.
    let check = baomi(&["--config", s.config.to_str().unwrap(), "store", "check"]);
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let (code, _) = get(
        &s,
        &s.token,
        &format!("/api/v1/commitments/signatures/{}/scan", sig1["id"]),
    );
    assert_eq!(code, 404, "a console signature has no scan");

    // The overview against the directory.
    let o = s.api("/api/v1/commitments/overview");
    let onb = &o["templates"][0];
    assert_eq!(onb["title"], "上岗保密承诺书");
    assert_eq!(onb["version"], 2);
    assert_eq!(onb["required"], 3, "those still in post: {onb}");
    assert_eq!(names(&onb["signed"]), ["张三", "李四"]);
    assert_eq!(names(&onb["unsigned"]), ["王五"], "{onb}");
    let cls = &o["templates"][1];
    assert_eq!(cls["title"], "涉密岗位保密承诺书");
    assert_eq!(names(&cls["unsigned"]), ["张三"], "only the group 涉密人员");
    let lv = &o["templates"][2];
    assert_eq!(names(&lv["signed"]), ["钱七"]);
    assert_eq!(names(&lv["unsigned"]), ["赵六"]);
    assert_eq!(names(&o["departures_without_leaving"]), ["赵六"]);
    assert_eq!(o["departures_without_leaving"][0]["left"], "2026-11-20");
    assert_eq!(o["signatures"].as_array().unwrap().len(), 4);
    assert_eq!(
        get(&s, &s.token, "/api/v1/commitments/overview?format=docx").0,
        400
    );

    // The export, read back.
    let (code, xlsx) = get(&s, &s.token, "/api/v1/commitments/overview?format=xlsx");
    assert_eq!(code, 200);
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let range = wb.worksheet_range("签署情况").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows[0][0], "某市某局保密承诺书签署情况");
    assert_eq!(
        rows[1][..7],
        ["序号", "部门", "姓名", "承诺书", "类别", "当前版本", "状态"]
    );
    let row = |person: &str, title: &str| {
        rows.iter()
            .find(|r| r[2] == person && r[3] == title)
            .unwrap_or_else(|| panic!("{person} {title} in {rows:?}"))
            .clone()
    };
    let r = row("张三", "上岗保密承诺书");
    assert_eq!(
        (r[1].as_str(), r[5].as_str(), r[6].as_str()),
        ("办公室", "第 2 版", "已签署")
    );
    assert_eq!(
        (r[7].as_str(), r[8].as_str()),
        (today().as_str(), "在线签署")
    );
    assert_eq!(row("王五", "上岗保密承诺书")[6], "未签署");
    assert_eq!(row("钱七", "离岗保密承诺书")[8], "纸质签署");
    assert_eq!(row("张三", "涉密岗位保密承诺书")[6], "未签署");
    let departures = wb.worksheet_range("离岗未签承诺").unwrap();
    assert_eq!(departures.get_value((2, 2)).unwrap().to_string(), "赵六");
    assert_eq!(
        departures.get_value((2, 3)).unwrap().to_string(),
        "2026-11-20"
    );
    assert!(
        departures
            .get_value((3, 2))
            .is_none_or(|v| v.to_string().is_empty())
    );
    let (code, csv) = get(&s, &s.token, "/api/v1/commitments/overview?format=csv");
    assert_eq!(code, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with('\u{feff}'));
    assert!(
        csv.contains("财务处,王五,上岗保密承诺书,上岗,第 2 版,未签署"),
        "{csv}"
    );

    // The audit trail: each signature with its version and hashes; the chain holds.
    let (code, trail) = s.audit_tail();
    assert_eq!(code, 0);
    assert!(
        trail.contains("commitment.sign") && trail.contains("commitment.paper"),
        "{trail}"
    );
    let (code, out) = s.audit_verify();
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn commitments_in_chromium() {
    let s = start();
    let base = format!("http://127.0.0.1:{}", s.http);
    staff(&s, "wangwu", "王五", "财务处");
    let (onboarding, _, leaving) = templates(&s);
    let v1 = onboarding["current"]["id"].as_i64().unwrap();

    let (_driver, port) = chromedriver();
    let c = browser(port).await;

    // 王五 lands on his commitments, reads the text, types a wrong name first.
    login(&c, &base, "wangwu", PASSWORD).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/my/commitments");
    let page = text(&c).await;
    assert!(
        page.contains("待签署的承诺书") && page.contains("上岗保密承诺书"),
        "{page}"
    );
    assert!(page.contains("不泄露所知悉的国家秘密和工作秘密"), "{page}");
    assert!(!page.contains("离岗保密承诺书"), "not his to sign: {page}");
    assert!(page.contains(&today()), "{page}");
    shot(&c, "commitments-01-to-sign").await;
    c.find(Locator::Id(&format!("typed-{v1}")))
        .await
        .unwrap()
        .send_keys("王武")
        .await
        .unwrap();
    click_nav(&c, Locator::Id(&format!("sign-{v1}"))).await;
    let page = text(&c).await;
    assert!(
        page.contains("与本人姓名不符") && page.contains("王五"),
        "{page}"
    );
    shot(&c, "commitments-02-wrong-name").await;
    c.find(Locator::Id(&format!("typed-{v1}")))
        .await
        .unwrap()
        .send_keys("王五")
        .await
        .unwrap();
    click_nav(&c, Locator::Id(&format!("sign-{v1}"))).await;
    let page = text(&c).await;
    assert!(page.contains("签署成功"), "{page}");
    assert!(page.contains("目前没有需要您签署的承诺书"), "{page}");
    let signed = text(&c).await;
    assert!(
        signed.contains("第 1 版") && signed.contains("在线签署"),
        "{signed}"
    );
    shot(&c, "commitments-03-signed").await;
    // The officer's page is not his.
    c.goto(&format!("{base}/commitments")).await.unwrap();
    assert!(text(&c).await.contains("403"));
    logout(&c).await;

    // The officer: the overview, then a paper signature for 赵六 uploaded from the form.
    login(&c, &base, "officer", OFFICER_PASSWORD).await;
    c.goto(&format!("{base}/commitments")).await.unwrap();
    let page = text(&c).await;
    assert!(page.contains("已离岗但未签署离岗承诺书"), "{page}");
    let departures = text_of_id(&c, "cm-departures").await;
    assert!(
        departures.contains("赵六") && departures.contains("钱七"),
        "{departures}"
    );
    let overview = text_of_id(&c, "cm-overview").await;
    assert!(overview.contains("王五"), "{overview}");
    assert!(
        overview.contains("张三") && overview.contains("李四"),
        "{overview}"
    );
    shot(&c, "commitments-04-overview").await;

    let scan = s.dir.path().join("赵六离岗承诺书.pdf");
    std::fs::write(&scan, b"%PDF-1.4\n% paper\n%%EOF\n").unwrap();
    let lv = leaving["current"]["id"].as_i64().unwrap().to_string();
    c.find(Locator::Id("paper-version"))
        .await
        .unwrap()
        .select_by_value(&lv)
        .await
        .unwrap();
    c.find(Locator::Id("paper-person"))
        .await
        .unwrap()
        .send_keys("赵六")
        .await
        .unwrap();
    c.find(Locator::Id("paper-file"))
        .await
        .unwrap()
        .send_keys(scan.to_str().unwrap())
        .await
        .unwrap();
    click_nav(&c, Locator::Id("paper-submit")).await;
    let page = text(&c).await;
    assert!(page.contains("纸质签署已登记"), "{page}");
    let departures = text_of_id(&c, "cm-departures").await;
    assert!(
        !departures.contains("赵六") && departures.contains("钱七"),
        "{departures}"
    );
    let sigs = text_of_id(&c, "cm-signatures").await;
    assert!(
        sigs.contains("赵六") && sigs.contains("纸质签署") && sigs.contains("查看扫描件"),
        "{sigs}"
    );
    shot(&c, "commitments-05-paper").await;

    // The template's page: a new version from the form.
    c.goto(&format!("{base}/commitments/{}", onboarding["id"]))
        .await
        .unwrap();
    let area = c.find(Locator::Id("version-text")).await.unwrap();
    area.clear().await.unwrap();
    area.send_keys(ONBOARDING_V2).await.unwrap();
    c.find(Locator::Id("version-note"))
        .await
        .unwrap()
        .send_keys("增加敏感信息和工作群的要求")
        .await
        .unwrap();
    click_nav(&c, Locator::Id("version-submit")).await;
    let page = text(&c).await;
    assert!(
        page.contains("新版本已发布") && page.contains("第 2 版"),
        "{page}"
    );
    shot(&c, "commitments-06-versions").await;
    logout(&c).await;

    // 王五 sees the new version to sign.
    login(&c, &base, "wangwu", PASSWORD).await;
    let page = text(&c).await;
    assert!(page.contains("有新版本，需重新签署"), "{page}");
    shot(&c, "commitments-07-new-version").await;
    let _ = c.close().await;
    let (code, out) = s.audit_verify();
    assert_eq!(code, 0, "{out}");
}

async fn text_of_id(c: &fantoccini::Client, id: &str) -> String {
    support::browser::text_of(c, Locator::Id(id)).await
}
