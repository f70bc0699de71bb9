//! The publication secrecy review end to end, with the real binary: accounts of the four
//! business roles made with `baomi user add --role …`; a drafter submits a notice whose
//! first line is a marking, with a LibreOffice-made attachment; the scan's block-level
//! finding is shown, and approving without a comment is refused; a role out of turn, the
//! security officer and a reviewer of another department are refused; the office rejects,
//! the drafter submits a new version, three people approve it in turn; a portal asks by
//! SHA-256 whether the text and the file were approved (the first version's text was not);
//! the signed 保密审查表 PDF reads back with every step; the masked copy of the attachment
//! re-scans clean. The same workflow in headless Chromium, with screenshots.

#[allow(dead_code)]
mod support {
    pub mod browser;
    pub mod serve;
}

use std::path::Path;
use std::process::Command;

use fantoccini::Locator;
use serde_json::{Value, json};
use support::browser::{
    browser, chromedriver, click_nav, fetch_status, login, logout, shot, text, text_of,
};
use support::serve::{Serve, baomi, baomi_stdin, resident_id, soffice_docx};

const PASSWORD: &str = "review-password-2026";

const FIRST_TEXT: &str = "秘密★1年\n关于做好年度安全生产检查工作的通知\n各科室：\n根据上级部署，定于12月开展安全生产检查。联系人：刘洋，电话13912345678。\n";
const SECOND_TEXT: &str = "关于做好年度安全生产检查工作的通知\n各科室：\n根据上级部署，定于12月开展安全生产检查，请各科室做好自查。\n";

/// People of the review: (account, role, display name, department).
const PEOPLE: &[(&str, &str, &str, &str)] = &[
    ("li", "drafter", "李拟稿", "宣传科"),
    ("wang", "reviewer", "王自审", "宣传科"),
    ("qian", "reviewer", "钱财务", "财务科"),
    ("zhao", "director", "赵主任", "办公室"),
    ("sun", "approver", "孙局长", "局领导"),
];

fn add_people(s: &Serve) -> Vec<(String, String)> {
    let cfg = s.config.to_str().unwrap();
    let mut tokens = Vec::new();
    for (name, role, display, dept) in PEOPLE {
        let out = baomi_stdin(
            &[
                "--config",
                cfg,
                "user",
                "add",
                name,
                "--role",
                role,
                "--display-name",
                display,
                "--department",
                dept,
                "--password-stdin",
            ],
            PASSWORD,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = baomi(&["--config", cfg, "token", "create", name, "--user", name]);
        assert!(out.status.success());
        tokens.push((
            name.to_string(),
            String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        ));
    }
    tokens
}

fn token<'a>(tokens: &'a [(String, String)], name: &str) -> &'a str {
    &tokens.iter().find(|(n, _)| n == name).unwrap().1
}

fn sha256(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

fn submit(s: &Serve, tok: &str, path: &str, title: &str, text: &str, file: &Path) -> (u16, Value) {
    let (code, body) = s.curl_as(
        tok,
        &[
            "--form-string",
            &format!("title={title}"),
            "--form-string",
            &format!("text={text}"),
            "-F",
            &format!("file=@{}", file.display()),
            &format!("http://127.0.0.1:{}{path}", s.http),
        ],
    );
    (code, json_of(&body))
}

fn decide(s: &Serve, tok: &str, id: i64, decision: &str, comment: Option<&str>) -> (u16, Value) {
    let mut body = json!({ "decision": decision });
    if let Some(c) = comment {
        body["comment"] = json!(c);
    }
    let (code, out) = s.curl_as(
        tok,
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body.to_string(),
            &format!("http://127.0.0.1:{}/api/v1/reviews/{id}/decision", s.http),
        ],
    );
    (code, json_of(&out))
}

fn get(s: &Serve, tok: &str, path: &str) -> (u16, Vec<u8>) {
    s.curl_as(tok, &[&format!("http://127.0.0.1:{}{path}", s.http)])
}

fn pdftotext(dir: &Path, pdf: &[u8]) -> String {
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    let path = dir.join("form.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    String::from_utf8(out.stdout)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

#[test]
fn publication_review_through_the_api() {
    let s = Serve::start("[records]\nunit = \"某县应急管理局\"\n", None);
    let tokens = add_people(&s);
    let work = tempfile::tempdir().unwrap();
    let docs = work.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let docx = soffice_docx(
        &docs,
        "检查安排",
        &format!(
            "检查安排\n检查组成员：刘洋，身份证号 {}，手机 13812345678。\n",
            resident_id(7)
        ),
    );
    let docx_sha = sha256(&std::fs::read(&docx).unwrap());

    // A scan token cannot submit; a drafter can, and the scan result comes back at once.
    let (code, _) = submit(&s, &s.scan_token, "/api/v1/reviews", "x", FIRST_TEXT, &docx);
    assert_eq!(code, 403);
    let (code, item) = submit(
        &s,
        token(&tokens, "li"),
        "/api/v1/reviews",
        "关于做好年度安全生产检查工作的通知",
        FIRST_TEXT,
        &docx,
    );
    assert_eq!(code, 201, "{item}");
    let id = item["id"].as_i64().unwrap();
    assert_eq!(item["state"], "self_review");
    assert_eq!(item["department"], "宣传科");
    assert_eq!(item["blocking"], true, "{item}");
    assert_eq!(item["awaiting"], "reviewer");
    assert!(
        item["scan_summary"]
            .as_str()
            .unwrap()
            .contains("阻断级：密级标志 1 处"),
        "{}",
        item["scan_summary"]
    );
    let first_sha = item["versions"][0]["text_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        first_sha,
        sha256(FIRST_TEXT.as_bytes()),
        "{:?}",
        item["text"]
    );
    // Findings are masked in what the API returns (the text itself is the content under
    // review, shown to its reviewers).
    let scan = item["versions"][0]["scan"].to_string();
    assert!(
        scan.contains("pii.mobile") && !scan.contains("13912345678"),
        "{scan}"
    );
    assert_eq!(item["text"], FIRST_TEXT);

    // Out of turn: the security officer (not in the table), the office (not its step), a
    // reviewer of another department (cannot even see it), the drafter (cannot decide).
    assert_eq!(decide(&s, &s.token, id, "approve", Some("同意")).0, 403);
    let (code, body) = decide(&s, token(&tokens, "zhao"), id, "approve", Some("同意"));
    assert_eq!(code, 403);
    assert!(
        body["error"].as_str().unwrap().contains("reviewer"),
        "{body}"
    );
    assert_eq!(
        decide(&s, token(&tokens, "qian"), id, "approve", Some("同意")).0,
        404
    );
    assert_eq!(decide(&s, token(&tokens, "li"), id, "approve", None).0, 403);
    // Block-level findings: approving needs a comment.
    let (code, body) = decide(&s, token(&tokens, "wang"), id, "approve", None);
    assert_eq!(code, 400);
    assert!(
        body["error"].as_str().unwrap().contains("block-level"),
        "{body}"
    );
    let (code, body) = decide(
        &s,
        token(&tokens, "wang"),
        id,
        "approve",
        Some("已核实检测发现，密级标志系误加，同意报办公室"),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["state"], "office_review");
    // One person, one step: the department reviewer cannot also take the office's.
    assert_eq!(
        decide(&s, token(&tokens, "wang"), id, "approve", Some("同意")).0,
        403
    );
    let (code, body) = decide(
        &s,
        token(&tokens, "zhao"),
        id,
        "reject",
        Some("正文首行有密级标志，附件含个人信息，请删除后重报"),
    );
    assert_eq!(code, 200);
    assert_eq!(body["state"], "rejected");

    // The drafter's new version starts again at the department.
    let (code, body) = submit(
        &s,
        token(&tokens, "li"),
        &format!("/api/v1/reviews/{id}/versions"),
        "关于做好年度安全生产检查工作的通知",
        SECOND_TEXT,
        &docx,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (body["state"].as_str(), body["version"].as_i64()),
        (Some("self_review"), Some(2))
    );
    for who in ["wang", "zhao", "sun"] {
        let (code, body) = decide(
            &s,
            token(&tokens, who),
            id,
            "approve",
            Some("附件个人信息已知悉，发布时使用脱敏副本，同意"),
        );
        assert_eq!(code, 200, "{who}: {body}");
    }
    let (code, item) = get(&s, token(&tokens, "li"), &format!("/api/v1/reviews/{id}"));
    assert_eq!(code, 200);
    let item = json_of(&item);
    assert_eq!(item["state"], "approved");
    assert_eq!(item["history"].as_array().unwrap().len(), 7);

    // A portal asks with a scan token: the approved text and file are; the first text is not.
    let ask = |sha: &str| {
        let (code, body) = get(
            &s,
            &s.scan_token,
            &format!("/api/v1/reviews/approved?sha256={sha}"),
        );
        assert_eq!(code, 200);
        json_of(&body)
    };
    let yes = ask(&sha256(SECOND_TEXT.as_bytes()));
    assert_eq!(yes["approved"], true, "{yes}");
    assert_eq!(yes["reviews"][0]["id"], id);
    assert_eq!(ask(&docx_sha)["reviews"][0]["matched"], "file");
    assert_eq!(ask(&first_sha)["approved"], false);
    assert_eq!(
        get(&s, &s.scan_token, "/api/v1/reviews/approved?sha256=xyz").0,
        400
    );

    // The signed form.
    let (code, pdf) = get(
        &s,
        token(&tokens, "sun"),
        &format!("/api/v1/reviews/{id}/form.pdf"),
    );
    assert_eq!(code, 200);
    let form = pdftotext(work.path(), &pdf);
    // Kept beside the screenshots, to be looked at.
    std::fs::write(support::browser::shots().join("review-form.pdf"), &pdf).unwrap();
    for word in [
        "信息发布保密审查表",
        "某县应急管理局",
        "关于做好年度安全生产检查工作的通知",
        "李拟稿",
        "王自审",
        "赵主任",
        "孙局长",
        "部门自审",
        "办公室审核",
        "分管领导审批",
        "审批通过",
        "第2稿",
        "第1稿于办公室审核被退回",
        "发布时使用脱敏副本",
    ] {
        assert!(form.contains(word), "{word} not in the form:\n{form}");
    }
    let content_sha = item["content_sha256"].as_str().unwrap();
    assert!(form.contains(content_sha), "{form}");

    // The masked copy of the attachment re-scans without personal data.
    let (code, masked) = get(
        &s,
        token(&tokens, "li"),
        &format!("/api/v1/reviews/{id}/content?file=0&redacted=1"),
    );
    assert_eq!(code, 200);
    let masked_path = work.path().join("masked.docx");
    std::fs::write(&masked_path, &masked).unwrap();
    let out = baomi(&["scan", masked_path.to_str().unwrap(), "--format", "json"]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        !report.contains("pii.resident_id") && !report.contains("pii.mobile"),
        "{report}"
    );
    let (code, original) = get(
        &s,
        token(&tokens, "li"),
        &format!("/api/v1/reviews/{id}/content?file=0"),
    );
    assert_eq!(code, 200);
    assert_eq!(sha256(&original), docx_sha);
    // Another drafter does not see the item.
    assert_eq!(
        get(&s, &s.token, &format!("/api/v1/reviews/{id}")).0,
        200,
        "the security officer sees every item"
    );

    // Every step is in the chain, and the chain holds.
    let out = baomi(&[
        "--config",
        s.config.to_str().unwrap(),
        "audit",
        "tail",
        "-n",
        "60",
    ]);
    let tail = String::from_utf8_lossy(&out.stdout);
    for action in [
        "review.submit",
        "review.approve",
        "review.reject",
        "review.resubmit",
        "review.redact",
    ] {
        assert!(tail.contains(action), "{action} not in:\n{tail}");
    }
    let (code, out) = s.audit_verify();
    assert_eq!(code, 0, "{out}");
}

/// The same workflow as its people meet it in the console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publication_review_in_chromium() {
    let s = Serve::start("[records]\nunit = \"某县应急管理局\"\n", None);
    add_people(&s);
    let base = format!("http://127.0.0.1:{}", s.http);
    let work = tempfile::tempdir().unwrap();
    let docs = work.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let docx = soffice_docx(
        &docs,
        "检查安排",
        &format!("检查安排\n联系人：刘洋，身份证号 {}。\n", resident_id(3)),
    );
    let (_driver, port) = chromedriver();
    let c = browser(port).await;

    // The drafter submits from the form and sees the scan's warning.
    login(&c, &base, "li", PASSWORD).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/reviews");
    let nav = text(&c).await;
    assert!(
        nav.contains("发布审查") && !nav.contains("事件队列"),
        "{nav}"
    );
    c.find(Locator::Id("review-title"))
        .await
        .unwrap()
        .send_keys("关于做好年度安全生产检查工作的通知")
        .await
        .unwrap();
    c.find(Locator::Id("review-text"))
        .await
        .unwrap()
        .send_keys(FIRST_TEXT)
        .await
        .unwrap();
    c.find(Locator::Id("review-files"))
        .await
        .unwrap()
        .send_keys(docx.to_str().unwrap())
        .await
        .unwrap();
    shot(&c, "26-review-new").await;
    click_nav(&c, Locator::Id("review-submit")).await;
    let path = c.current_url().await.unwrap().path().to_owned();
    assert!(path.starts_with("/reviews/"), "{path}");
    let id = path.trim_start_matches("/reviews/").to_owned();
    let page = text(&c).await;
    assert!(
        page.contains("已提交") && page.contains("部门自审"),
        "{page}"
    );
    assert!(c.find(Locator::Id("scan-warning")).await.is_ok(), "{page}");
    // The text's own verdict is shown beside its findings.
    let badge = text_of(&c, Locator::Css("#scan h3 .badge")).await;
    assert_eq!(badge, "拦截", "{page}");
    assert!(page.contains("检查安排.docx"), "{page}");
    assert!(c.find(Locator::Id("decision-form")).await.is_err());
    shot(&c, "27-review-submitted").await;
    logout(&c).await;

    // The department reviewer: waiting for me; approving needs the acknowledgement.
    login(&c, &base, "wang", PASSWORD).await;
    let page = text(&c).await;
    assert!(
        page.contains("待我审核") && page.contains("关于做好年度安全生产检查工作的通知"),
        "{page}"
    );
    let row = text_of(&c, Locator::Css("#reviews tbody tr")).await;
    assert!(row.contains("李拟稿") && row.contains("宣传科"), "{row}");
    shot(&c, "28-reviews-waiting").await;
    c.goto(&format!("{base}/reviews/{id}")).await.unwrap();
    c.find(Locator::Id("decision-approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click_nav(&c, Locator::Id("decision-submit")).await;
    let page = text(&c).await;
    assert!(page.contains("同意前须勾选确认"), "{page}");
    c.find(Locator::Id("decision-approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("acknowledge"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("decision-comment"))
        .await
        .unwrap()
        .send_keys("已逐条核实，首行密级标志系模板残留，同意报办公室")
        .await
        .unwrap();
    shot(&c, "29-review-decide").await;
    click_nav(&c, Locator::Id("decision-submit")).await;
    assert!(text(&c).await.contains("已签署同意"));
    logout(&c).await;

    // The office and the leader approve in turn.
    for who in ["zhao", "sun"] {
        login(&c, &base, who, PASSWORD).await;
        c.goto(&format!("{base}/reviews/{id}")).await.unwrap();
        c.find(Locator::Id("decision-approve"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Id("acknowledge"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Id("decision-comment"))
            .await
            .unwrap()
            .send_keys("同意，发布前删去首行标志")
            .await
            .unwrap();
        click_nav(&c, Locator::Id("decision-submit")).await;
        assert!(text(&c).await.contains("已签署同意"), "{who}");
        if who == "zhao" {
            logout(&c).await;
        }
    }
    c.goto(&format!("{base}/reviews/{id}")).await.unwrap();
    let state = text_of(&c, Locator::Id("review-state")).await;
    assert_eq!(state, "审批通过");
    let history = text_of(&c, Locator::Id("history")).await;
    for name in ["李拟稿", "王自审", "赵主任", "孙局长", "已确认检测发现"] {
        assert!(history.contains(name), "{name} not in {history}");
    }
    assert!(c.find(Locator::Id("decision-form")).await.is_err());
    shot(&c, "30-review-approved").await;
    let (status, bytes) = fetch_status(&c, &format!("/api/v1/reviews/{id}/form.pdf")).await;
    assert_eq!(status, 200);
    assert!(bytes > 5000, "{bytes}");
    let (status, _) = fetch_status(&c, &format!("/reviews/{id}/content?file=0&redacted=1")).await;
    assert_eq!(status, 200);
    // The leader sees no other area of the console.
    c.goto(&format!("{base}/incidents")).await.unwrap();
    assert!(text(&c).await.contains("403"));
    logout(&c).await;

    // The security officer oversees every item, and decides none.
    login(&c, &base, "officer", support::serve::OFFICER_PASSWORD).await;
    c.goto(&format!("{base}/reviews")).await.unwrap();
    let page = text(&c).await;
    assert!(page.contains("审批通过"), "{page}");
    c.goto(&format!("{base}/reviews/{id}")).await.unwrap();
    assert!(c.find(Locator::Id("decision-form")).await.is_err());
    c.close().await.unwrap();
}
