//! The console end to end, as the three people who run secrecy work use it: the real
//! `baomi serve` binary, incidents made by a real Squid (ICAP) block and a real Postfix
//! (milter) hold, and Debian's chromium driven through chromedriver. Each role signs in and
//! sees only its pages; the security officer disposes of an incident, closes a whole filter
//! in bulk, opens the evidence with the match highlighted and releases the held mail; the
//! auditor verifies the chain after all that; the system administrator proposes an account
//! that cannot sign in until a security officer approves it. Screenshots of every page go
//! to `target/console-screenshots/`.

#[path = "../../baomi-icap/tests/common/mod.rs"]
mod icap;
#[path = "../../baomi-milter/tests/common/mod.rs"]
mod postfix;
#[allow(dead_code)]
mod support {
    pub mod browser;
    pub mod serve;
}

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fantoccini::{Client, Locator};
use icap::{Squid, make_docx, upstream};
use postfix::{Postfix, queued_id};
use support::browser::{
    browser, chromedriver, click_nav, fetch_status, login, logout, select, shot, text, text_of,
};
use support::serve::{OFFICER_PASSWORD, Serve, baomi, baomi_stdin, free_port, incident_number};

const SYS_PASSWORD: &str = "sysadmin-密码-2026";
const AUD_PASSWORD: &str = "auditor-密码-2026";
const CLERK_PASSWORD: &str = "clerk-password-2026";

fn add_user(cfg: &str, name: &str, role: &str, display: &str, password: &str) {
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
            "--password-stdin",
        ],
        password,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn marked_mail(dir: &Path) -> PathBuf {
    let p = dir.join("marked.eml");
    std::fs::write(
        &p,
        "From: zhang@example.test\r\nTo: marked-1@example.test\r\nSubject: =?UTF-8?B?5YWz5LqO5Lya6K6u55qE6YCa55+l?=\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         秘密★6个月\r\n关于召开专题会议的通知\r\n各科室：定于下周召开专题会议。\r\n",
    )
    .unwrap();
    p
}

/// curl with a session cookie and extra arguments; returns (status, body).
fn curl_cookie(cookie: &str, args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Cookie: baomi_session={cookie}"))
        .args(args)
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = body.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

async fn session_cookie(c: &Client) -> String {
    c.get_named_cookie("baomi_session")
        .await
        .unwrap()
        .value()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_roles_work_in_the_console() {
    icap::require_tool("chromium", "chromium");
    icap::require_tool("chromedriver", "chromium-driver");
    // Marked web uploads are blocked; marked mail is held for the officer.
    let policy = r#"
alert_at = "alert"
[[rule]]
name = "state-secret-marking"
kinds = ["marking"]
min_level = "confidential"
action = "block"
severity = "critical"
channels = ["web", "api", "scan"]
[[rule]]
name = "hold-marked-mail"
kinds = ["marking"]
min_level = "confidential"
action = "quarantine"
severity = "high"
channels = ["mail"]
[[rule]]
name = "personal-data"
kinds = ["pii.resident_id"]
action = "audit"
severity = "low"
[[rule]]
name = "marking-to-cloud-drive"
kinds = ["marking"]
min_level = "internal"
destinations = ["cloud_drives", "webmail"]
action = "block"
severity = "high"
[[exception]]
name = "bmb-to-bureau"
reason = "保密办向上级机关报送，王局长批准"
departments = ["市局/保密办"]
destinations = ["@bureau.gov.cn"]
channels = ["mail"]
rules = ["hold-marked-mail"]
action = "audit"
expires = "2099-12-31"
"#
    .to_owned();
    let milter_port = free_port();
    let pf = Postfix::start(milter_port);
    let extra = format!("[milter]\npostfix_config_dir = \"{}\"\n", pf.conf.display());
    let serve = Serve::start_with_milter_port(&extra, Some(&policy), milter_port);
    let cfg = serve.config.to_str().unwrap().to_owned();
    add_user(&cfg, "sys", "sysadmin", "李系统", SYS_PASSWORD);
    add_user(&cfg, "aud", "auditor", "赵审计", AUD_PASSWORD);
    let base = format!("http://127.0.0.1:{}", serve.http);

    // Incidents made by the real doors: a marked .docx blocked by Squid, three url-encoded
    // posts with a marking (for the bulk close), a marked mail held by Postfix.
    let squid = Squid::start(serve.icap);
    let (up, _) = upstream();
    let proxy = format!("http://127.0.0.1:{}", squid.port);
    let work = tempfile::tempdir().unwrap();
    let secret = work.path().join("项目进展.docx");
    make_docx(
        &secret,
        &[
            "机密★1年",
            "关于某项目进展情况的报告",
            "联系人身份证号 11010519491231002X",
        ],
    );
    let (code, page) = icap::curl(&[
        "-x",
        &proxy,
        "-F",
        &format!("file=@{}", secret.display()),
        &format!("http://127.0.0.1:{up}/upload"),
    ]);
    assert_eq!(code, 403, "{page}\n{}", serve.log());
    let blocked = incident_number(&page).expect("incident number on the block page");
    for i in 0..3 {
        let (code, _) = icap::curl(&[
            "-x",
            &proxy,
            "--data-urlencode",
            &format!("text=秘密★{}年\n第{i}号工作通报", i + 1),
            &format!("http://127.0.0.1:{up}/post/{i}"),
        ]);
        assert_eq!(code, 403);
    }
    let (ok, transcript) = pf.swaks("marked-1@example.test", &marked_mail(work.path()));
    assert!(ok, "{transcript}\n{}", serve.log());
    let queue_id = queued_id(&transcript).expect("queue id");

    let (_driver, port) = chromedriver();
    let c = browser(port).await;

    // Not signed in: every page leads to the login form.
    c.goto(&format!("{base}/incidents")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().starts_with("/login"));
    shot(&c, "01-login").await;

    // Wrong password five times, then the right one: locked, with a message that says so.
    for _ in 0..5 {
        login(&c, &base, "aud", "not-the-password").await;
        let t = text(&c).await;
        assert!(t.contains("用户名、密码或验证码不正确"), "{t}");
    }
    login(&c, &base, "aud", AUD_PASSWORD).await;
    assert!(text(&c).await.contains("账户已锁定"));
    shot(&c, "02-locked").await;
    let out = baomi_stdin(
        &[
            "--config",
            &cfg,
            "user",
            "passwd",
            "aud",
            "--password-stdin",
        ],
        AUD_PASSWORD,
    );
    assert!(out.status.success());

    // ── The security officer ──
    login(&c, &base, "officer", OFFICER_PASSWORD).await;
    assert_eq!(
        c.current_url().await.unwrap().path(),
        "/dashboard",
        "{}",
        text(&c).await
    );
    let dash = text(&c).await;
    assert!(
        dash.contains("工作台") && dash.contains("事件队列") && dash.contains("王保密"),
        "{dash}"
    );
    assert!(
        !dash.contains("账户管理") && !dash.contains("审计日志"),
        "officer sees other roles' pages: {dash}"
    );
    // Let ECharts draw before the picture.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let total: String = text_of(&c, Locator::Id("tile-total")).await;
    assert_eq!(total, "5");
    shot(&c, "03-dashboard").await;

    c.goto(&format!("{base}/incidents")).await.unwrap();
    let q = text(&c).await;
    assert!(
        q.contains(&blocked) && q.contains("项目进展.docx") && q.contains("拦截"),
        "{q}"
    );
    shot(&c, "04-queue").await;

    // The blocked upload: findings with context and the match highlighted, personal data masked.
    c.goto(&format!("{base}/incidents/{blocked}"))
        .await
        .unwrap();
    let marks = c.find_all(Locator::Css("#findings mark")).await.unwrap();
    let mut marked = Vec::new();
    for m in &marks {
        marked.push(m.text().await.unwrap());
    }
    assert!(marked.iter().any(|m| m == "机密★1年"), "{marked:?}");
    assert!(
        marked.iter().any(|m| m.contains("********")),
        "ID masked in context: {marked:?}"
    );
    let detail = text(&c).await;
    assert!(
        !detail.contains("11010519491231002X"),
        "unmasked ID on the page"
    );
    assert!(
        detail.contains("★及保密期限"),
        "reason in Chinese: {detail}"
    );
    assert!(
        detail.contains("word/document.xml"),
        "object tree: {detail}"
    );
    shot(&c, "05-incident").await;
    // Evidence download (audited) answers with the original bytes.
    let (status, len) = fetch_status(&c, &format!("/incidents/{blocked}/evidence")).await;
    assert_eq!(status, 200);
    assert_eq!(len, std::fs::metadata(&secret).unwrap().len());
    // Unmasking needs a typed reason, and is audited.
    c.find(Locator::Id("unmask-reason"))
        .await
        .unwrap()
        .send_keys("核实当事人身份")
        .await
        .unwrap();
    click_nav(&c, Locator::Css("#unmask-form button")).await;
    assert!(text(&c).await.contains("11010519491231002X"));
    // Disposition.
    c.goto(&format!("{base}/incidents/{blocked}"))
        .await
        .unwrap();
    select(&c, "set-disposition", "violation").await;
    c.find(Locator::Id("disposition-note"))
        .await
        .unwrap()
        .send_keys("已约谈当事人")
        .await
        .unwrap();
    click_nav(&c, Locator::Id("disposition-submit")).await;
    let badge = text_of(&c, Locator::Id("disposition")).await;
    assert_eq!(badge, "确认违规");

    // Bulk: everything the filter (web, open) matches, with the exact count confirmed.
    c.goto(&format!("{base}/incidents?channel=web&disposition=open"))
        .await
        .unwrap();
    let open_web = text_of(&c, Locator::Id("total")).await;
    assert_eq!(open_web, "3");
    c.find(Locator::Id("scope-filter"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    select(&c, "bulk-disposition", "false_positive").await;
    click_nav(&c, Locator::Id("bulk-submit")).await;
    let count = text_of(&c, Locator::Id("confirm-count")).await;
    assert_eq!(count, "3");
    shot(&c, "06-bulk-confirm").await;
    click_nav(&c, Locator::Id("confirm-bulk")).await;
    assert!(text(&c).await.contains("批量处理完成"));
    let api = serve.api("/api/v1/incidents?channel=web&disposition=false_positive");
    assert_eq!(api["total"], 3);

    // The held mail, released from its incident page; Postfix delivers it.
    let page = serve.api("/api/v1/incidents?channel=mail");
    let mail_incident = page["incidents"][0]["number"].as_str().unwrap().to_owned();
    assert_eq!(page["incidents"][0]["quarantine_id"], queue_id.as_str());
    c.goto(&format!("{base}/incidents/{mail_incident}"))
        .await
        .unwrap();
    shot(&c, "07-held-mail").await;
    click_nav(&c, Locator::Id("release")).await;
    // The confirm() dialog of destructive buttons does not apply to release.
    pf.wait_delivered("marked-1@example.test");
    assert_eq!(
        serve.api(&format!("/api/v1/incidents/{mail_incident}"))["quarantine_state"],
        "released"
    );

    // A term list imported on the server (CLI), listed on the policy page.
    let terms = work.path().join("codes.txt");
    std::fs::write(&terms, "# 项目代号\n红星一号\n蓝天工程\t5\n长城计划\n").unwrap();
    let out = baomi(&[
        "--config",
        &cfg,
        "dict",
        "import",
        terms.to_str().unwrap(),
        "--name",
        "项目代号",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The rules with their conditions and the exceptions, as the officer reads them.
    c.goto(&format!("{base}/policy")).await.unwrap();
    let page = text(&c).await;
    for expected in [
        "发往: 网盘、网页邮箱",
        "例外",
        "bmb-to-bureau",
        "保密办向上级机关报送，王局长批准",
        "部门: 市局/保密办",
        "2099-12-31",
    ] {
        assert!(
            page.contains(expected),
            "{expected:?} not on the policy page"
        );
    }
    let lists = text_of(&c, Locator::Id("dictionary-list")).await;
    assert!(
        lists.contains("项目代号") && lists.contains(" 3 "),
        "{lists}"
    );
    assert!(
        text(&c).await.contains("词库版本 #1"),
        "the lists' counter moved"
    );
    shot(&c, "08a-policy-rules").await;

    // Test a file: findings and verdict, no incident.
    c.goto(&format!("{base}/policy")).await.unwrap();
    c.find(Locator::Id("test-file"))
        .await
        .unwrap()
        .send_keys(secret.to_str().unwrap())
        .await
        .unwrap();
    click_nav(&c, Locator::Id("test-submit")).await;
    let verdict = text_of(&c, Locator::Id("test-verdict")).await;
    assert_eq!(verdict, "拦截");
    shot(&c, "08-policy-test").await;
    assert_eq!(
        serve.api("/api/v1/incidents")["total"],
        5,
        "a test made an incident"
    );

    // ── The officer changes the policy in the browser ──
    let store = baomi_store::Store::open(&serve.data, None).await.unwrap();
    let before = store.policy_history().await.unwrap().len() as i64;
    assert_eq!(before, 1, "the test's policy.toml imported at start as v1");
    c.goto(&format!("{base}/policy/edit")).await.unwrap();
    let editor = c.find(Locator::Id("policy-toml")).await.unwrap();
    let original = editor.prop("value").await.unwrap().unwrap_or_default();
    assert!(
        original.contains("bmb-to-bureau"),
        "the editor holds the stored policy"
    );
    // A rule with an action that does not exist: refused with the parser's words, the text
    // kept in the editor, nothing stored.
    editor
        .send_keys("\n[[rule]]\nname = \"typo\"\nkinds = [\"marking\"]\naction = \"blok\"\n")
        .await
        .unwrap();
    c.find(Locator::Id("policy-comment"))
        .await
        .unwrap()
        .send_keys("试一下")
        .await
        .unwrap();
    click_nav(&c, Locator::Id("policy-save")).await;
    let problem = text_of(&c, Locator::Id("policy-problem")).await;
    assert!(
        problem.contains("策略有误，未保存") && problem.contains("blok"),
        "{problem}"
    );
    let kept = c
        .find(Locator::Id("policy-toml"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        kept.contains("action = \"blok\""),
        "the officer's text is kept"
    );
    // Said in Chinese too, with the line of the rule.
    let line = kept.lines().position(|l| l == "name = \"typo\"").unwrap() + 1;
    let zh = text_of(&c, Locator::Id("policy-problem-zh")).await;
    assert!(
        zh.contains(&format!("规则“typo”（第 {line} 行）")) && zh.contains("取值“blok”无效"),
        "{zh}"
    );
    shot(&c, "15-policy-invalid").await;
    assert_eq!(store.policy_history().await.unwrap().len() as i64, before);
    // Corrected: a new rule, stored as the next version by the officer.
    c.goto(&format!("{base}/policy/edit")).await.unwrap();
    c.find(Locator::Id("policy-toml"))
        .await
        .unwrap()
        .send_keys(
            "\n[[rule]]\nname = \"id-card-to-webmail\"\nkinds = [\"pii.resident_id\"]\ndestinations = [\"webmail\"]\naction = \"block\"\nseverity = \"high\"\n",
        )
        .await
        .unwrap();
    c.find(Locator::Id("policy-comment"))
        .await
        .unwrap()
        .send_keys("身份证号发往网页邮箱时拦截")
        .await
        .unwrap();
    click_nav(&c, Locator::Id("policy-save")).await;
    let v = before + 1;
    assert_eq!(c.current_url().await.unwrap().path(), "/policy/versions");
    let page = text(&c).await;
    assert!(page.contains(&format!("已保存为 v{v}")), "{page}");
    let row = text_of(&c, Locator::Id(&format!("v{v}"))).await;
    assert!(
        row.contains("当前生效")
            && row.contains("身份证号发往网页邮箱时拦截")
            && row.contains("officer"),
        "{row}"
    );
    let stored = store.policy_current().await.unwrap().unwrap();
    assert_eq!(stored.meta.version, v);
    assert_eq!(stored.meta.author, "user:officer");
    shot(&c, "16-policy-versions").await;
    // The difference to the version before: the rule's lines added, nothing removed.
    click_nav(&c, Locator::Css(&format!("#v{v} a.diff-prev"))).await;
    let mut added = Vec::new();
    for el in c
        .find_all(Locator::Css("#diff tr.add td.code"))
        .await
        .unwrap()
    {
        added.push(el.text().await.unwrap());
    }
    assert!(
        added.iter().any(|l| l == "name = \"id-card-to-webmail\""),
        "{added:?}"
    );
    assert!(
        c.find_all(Locator::Css("#diff tr.del"))
            .await
            .unwrap()
            .is_empty()
    );
    let stat = text_of(&c, Locator::Id("diff-stat")).await;
    assert!(
        stat.contains(&format!("+{} 行", added.len())) && stat.contains("−0 行"),
        "{stat}"
    );
    shot(&c, "17-policy-diff").await;
    // This node applies it within seconds: the rule is among the active ones.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        c.goto(&format!("{base}/policy")).await.unwrap();
        let page = text(&c).await;
        if page.contains("本节点已生效") && page.contains("id-card-to-webmail") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not applied: {page}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    shot(&c, "18-policy-current").await;

    // Another role's page: refused, in words, and audited.
    c.goto(&format!("{base}/accounts")).await.unwrap();
    let refused = text(&c).await;
    assert!(
        refused.contains("无权") && refused.contains("403"),
        "{refused}"
    );
    shot(&c, "09-forbidden").await;

    // Cross-site POST with the officer's cookie: refused.
    let cookie = session_cookie(&c).await;
    let (code, _) = curl_cookie(
        &cookie,
        &[
            "-X",
            "POST",
            "-H",
            "Origin: http://evil.example",
            "-d",
            "disposition=open",
            &format!("{base}/incidents/{blocked}/disposition"),
        ],
    );
    assert_eq!(code, 403);
    // A 200 MB "test a file": a clear limit message, not a crash.
    let big = work.path().join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    let (code, body) = curl_cookie(
        &cookie,
        &[
            "-H",
            &format!("Origin: {base}"),
            "-F",
            &format!("file=@{}", big.display()),
            &format!("{base}/policy/test"),
        ],
    );
    assert_eq!(code, 413, "{body}");
    assert!(body.contains("文件超过测试上限"), "{body}");
    // An unknown incident: a page that says so.
    c.goto(&format!("{base}/incidents/BM-20000101-999999"))
        .await
        .unwrap();
    assert!(text(&c).await.contains("未找到"));

    // An expired session leads back to the login form, which says why.
    store.age_sessions(31 * 60 * 1000).await.unwrap();
    c.goto(&format!("{base}/incidents")).await.unwrap();
    assert!(text(&c).await.contains("会话已过期"));
    logout(&c).await;

    // ── The system administrator proposes an account ──
    login(&c, &base, "sys", SYS_PASSWORD).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/accounts");
    assert!(!text(&c).await.contains("事件队列"));
    c.find(Locator::Id("new-name"))
        .await
        .unwrap()
        .send_keys("clerk")
        .await
        .unwrap();
    c.find(Locator::Id("new-display"))
        .await
        .unwrap()
        .send_keys("孙文书")
        .await
        .unwrap();
    select(&c, "new-role", "auditor").await;
    c.find(Locator::Id("new-password"))
        .await
        .unwrap()
        .send_keys(CLERK_PASSWORD)
        .await
        .unwrap();
    click_nav(&c, Locator::Id("propose-submit")).await;
    assert!(text(&c).await.contains("等待安全保密管理员审批"));
    shot(&c, "10-accounts").await;
    c.goto(&format!("{base}/health")).await.unwrap();
    assert!(text(&c).await.contains("SQLite"));
    // The nodes: this one, up, on the policy version and term lists just stored (its
    // heartbeat tells a swap at once).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let this = loop {
        let row = text_of(&c, Locator::Css("#nodes tr.this-node")).await;
        if row.contains(&format!("v{v} #1")) || std::time::Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.goto(&format!("{base}/health")).await.unwrap();
    };
    assert!(
        this.contains("本节点") && this.contains("在线") && this.contains(&format!("v{v} #1")),
        "{this}"
    );
    assert!(!this.contains('⚠'), "not behind: {this}");
    assert!(text(&c).await.contains("在线节点均已使用最新版本"));
    assert!(
        this.contains(&format!("127.0.0.1:{}", serve.http)),
        "{this}"
    );
    shot(&c, "11-health").await;
    c.goto(&format!("{base}/incidents/{blocked}"))
        .await
        .unwrap();
    assert!(text(&c).await.contains("403"));
    logout(&c).await;

    // The proposed account cannot sign in yet.
    login(&c, &base, "clerk", CLERK_PASSWORD).await;
    assert!(text(&c).await.contains("用户名、密码或验证码不正确"));

    // The security officer approves it.
    login(&c, &base, "officer", OFFICER_PASSWORD).await;
    c.goto(&format!("{base}/approvals")).await.unwrap();
    assert!(text(&c).await.contains("孙文书"));
    shot(&c, "12-approvals").await;
    click_nav(&c, Locator::Css("#pending-clerk button.approve")).await;
    assert!(text(&c).await.contains("没有待审批的变更"));
    logout(&c).await;
    login(&c, &base, "clerk", CLERK_PASSWORD).await;
    // A proposed account's password was chosen by someone else: change it first.
    assert_eq!(c.current_url().await.unwrap().path(), "/me");
    logout(&c).await;

    // ── The auditor verifies the chain after all of it ──
    login(&c, &base, "aud", AUD_PASSWORD).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/audit");
    let nav = text(&c).await;
    assert!(!nav.contains("事件队列") && !nav.contains("账户管理"));
    click_nav(&c, Locator::Id("verify")).await;
    let result = text_of(&c, Locator::Id("verify-result")).await;
    assert!(result.contains("审计链完整"), "{result}");
    let trail = text(&c).await;
    for action in [
        "incident.disposition",
        "quarantine.release",
        "evidence.download",
        "evidence.unmask",
        "account.propose",
        "account.approve",
        "access.denied",
        "access.cross_site",
        "account.locked",
        "policy.set",
    ] {
        assert!(
            trail.contains(action),
            "{action} not in the trail:\n{trail}"
        );
    }
    // The auditor sees no business data: no findings, no object names.
    assert!(!trail.contains("项目进展.docx") && !trail.contains("机密★1年"));
    shot(&c, "13-audit").await;
    // The auditor reads the policy's versions and what changed, but cannot edit it.
    c.goto(&format!("{base}/policy/versions")).await.unwrap();
    let versions = text(&c).await;
    assert!(
        versions.contains("身份证号发往网页邮箱时拦截"),
        "{versions}"
    );
    assert!(
        c.find_all(Locator::Css("a[href='/policy/edit']"))
            .await
            .unwrap()
            .is_empty()
    );
    click_nav(&c, Locator::Css(&format!("#v{v} a.diff-prev"))).await;
    assert!(text(&c).await.contains("id-card-to-webmail"));
    shot(&c, "19-auditor-policy-diff").await;
    c.goto(&format!("{base}/policy/edit")).await.unwrap();
    assert!(text(&c).await.contains("403"));
    let (status, len) = fetch_status(&c, "/audit/export.csv").await;
    assert_eq!(status, 200);
    assert!(len > 100);
    c.goto(&format!("{base}/incidents")).await.unwrap();
    assert!(text(&c).await.contains("403"));

    // English is complete too.
    c.goto(&format!("{base}/lang/en?back=/audit"))
        .await
        .unwrap();
    let en = text(&c).await;
    assert!(
        en.contains("Audit trail") && en.contains("Verify the chain"),
        "{en}"
    );
    shot(&c, "14-audit-en").await;

    c.close().await.unwrap();
    let (code, out) = serve.audit_verify();
    assert_eq!(code, 0, "{out}");
    let _ = baomi(&["--version"]);
}
