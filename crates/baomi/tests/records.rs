//! The records of secrecy work end to end, with the real binary: a self-inspection campaign
//! over two departments; two computers report with `baomi scan --report-to` (one names its
//! person, the other is known to the directory by its host name), a third never touches the
//! network and its signed report file is imported; the statistics table in CSV, XLSX (read
//! back with calamine) and PDF (pdftotext) agrees with the incident queue; a clue report is
//! drafted from an incident, issued, refused an edit, corrected as version 2. Bad input: a
//! truncated and an edited report file, a second import, an unknown incident.

#[allow(dead_code)]
mod support {
    pub mod browser;
    pub mod office;
    pub mod serve;
}

use support::office::xlsx_from_csv;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use fantoccini::Locator;
use serde_json::{Value, json};
use support::browser::{
    browser, chromedriver, click_nav, fetch_status, login, shot, text, text_of,
};
use support::serve::{OFFICER_PASSWORD, Serve, baomi, out_text, resident_id, soffice_docx};

const DIRECTORY: &str = r#"
[[user]]
name = "张三"
department = "办公室"
machines = ["BGS-PC01"]

[[user]]
name = "李四"
department = "办公室"
machines = ["BGS-PC02"]

[[user]]
name = "王五"
department = "办公室"
machines = ["BGS-PC03"]

[[user]]
name = "赵六"
department = "财务处"
machines = ["CW-PC01"]

[[user]]
name = "钱七"
department = "财务处"
"#;

fn today() -> String {
    let out = Command::new("date")
        .env("TZ", "Asia/Shanghai")
        .arg("+%F")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn pii_table() -> String {
    let mut s = String::from("姓名,身份证号\n");
    for i in 0..12 {
        s.push_str(&format!("人员{i},{}\n", resident_id(i)));
    }
    s
}

fn run_count(s: &Serve) -> usize {
    s.api("/api/v1/scan-runs?from=2000-01-01&to=2099-12-31")["runs"]
        .as_array()
        .unwrap()
        .len()
}

fn scan_incidents(s: &Serve) -> Vec<Value> {
    s.api("/api/v1/incidents?channel=scan&limit=500")["incidents"]
        .as_array()
        .unwrap()
        .clone()
}

fn post_json(s: &Serve, path: &str, body: &Value) -> (u16, Value) {
    let (code, out) = s.curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &body.to_string(),
        &format!("http://127.0.0.1:{}{path}", s.http),
    ]);
    (code, serde_json::from_slice(&out).unwrap_or(Value::Null))
}

fn download(s: &Serve, path: &str) -> Vec<u8> {
    let (code, body) = s.curl(&[&format!("http://127.0.0.1:{}{path}", s.http)]);
    assert_eq!(
        code,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    body
}

#[test]
fn campaign_reports_statistics_table_and_clue_report() {
    let work = tempfile::tempdir().unwrap();
    let dirfile = work.path().join("people.toml");
    std::fs::write(&dirfile, DIRECTORY).unwrap();
    let s = Serve::start(
        &format!(
            "[directory]\nfile = \"{}\"\n[records]\nunit = \"某市某局\"\n",
            dirfile.display()
        ),
        None,
    );
    let cfg = s.config.to_str().unwrap().to_owned();
    let url = format!("http://127.0.0.1:{}", s.http);
    let day = today();

    let out = baomi(&[
        "--config",
        &cfg,
        "campaign",
        "add",
        "2026年第四季度保密自查",
        "--from",
        &day,
        "--to",
        &day,
        "--department",
        "办公室",
        "--department",
        "财务处",
    ]);
    assert!(out.status.success(), "{}", out_text(&out));

    // Computer 1 (张三, 办公室): a 机密 Word document made by LibreOffice, a 秘密 text, a
    // personal-data table, a clean file.
    let pc1 = work.path().join("pc1");
    std::fs::create_dir_all(&pc1).unwrap();
    let secret_docx = soffice_docx(
        &pc1,
        "工程通知",
        "机密★5年\n关于专项工程第二阶段部署的通知\n各参建单位：第二阶段于明年三月启动。\n",
    );
    std::fs::write(
        pc1.join("会议纪要.txt"),
        "秘密★1年\n关于调整值班安排的会议纪要\n会议研究了节日期间值班事宜。\n",
    )
    .unwrap();
    std::fs::write(pc1.join("人员名单.csv"), pii_table()).unwrap();
    std::fs::write(pc1.join("食堂菜单.txt"), "周一：米饭、青菜、红烧肉。\n").unwrap();
    let out = baomi(&[
        "--config",
        &cfg,
        "scan",
        pc1.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        work.path().join("pc1.jsonl").to_str().unwrap(),
        "--report-to",
        &url,
        "--token",
        &s.scan_token,
        "--person",
        "张三",
        "--department",
        "办公室",
        "--machine",
        "BGS-PC01",
        "--with-evidence",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));
    assert!(out_text(&out).contains("已报送"), "{}", out_text(&out));
    // Nothing sensitive on the terminal: the ID numbers stay masked in the local report.
    assert!(!out_text(&out).contains(&resident_id(3)));

    // Computer 2: only its host name; the directory knows it is 李四's in 办公室.
    let pc2 = work.path().join("pc2");
    std::fs::create_dir_all(&pc2).unwrap();
    std::fs::write(
        pc2.join("绝密文件.txt"),
        "绝密★长期\n关于某重大事项的请示\n经研究，拟于近期召开专题会议。\n",
    )
    .unwrap();
    let out = baomi(&[
        "--config",
        &cfg,
        "scan",
        pc2.to_str().unwrap(),
        "--report-to",
        &url,
        "--token",
        &s.scan_token,
        "--machine",
        "BGS-PC02",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));

    // Computer 3 (财务处) never touches the network: a signed report file on a USB stick.
    let pc3 = work.path().join("pc3");
    std::fs::create_dir_all(&pc3).unwrap();
    std::fs::write(
        pc3.join("预算说明.txt"),
        "秘密★10年\n关于年度预算调整的说明\n",
    )
    .unwrap();
    let usb = work.path().join("usb-CW-PC01.jsonl");
    let out = baomi(&[
        "--config",
        &cfg,
        "scan",
        pc3.to_str().unwrap(),
        "--report-file",
        usb.to_str().unwrap(),
        "--token",
        &s.scan_token,
        "--person",
        "赵六",
        "--department",
        "财务处",
        "--machine",
        "CW-PC01",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));
    assert_eq!(run_count(&s), 2);
    let report = std::fs::read(&usb).unwrap();

    // A server that cannot be reached loses nothing: the scan's exit code, a message, the
    // report kept in the data directory, imported later.
    let data = work.path().join("pc4-data");
    let out = baomi(&[
        "--data-dir",
        data.to_str().unwrap(),
        "scan",
        pc3.to_str().unwrap(),
        "--report-to",
        "http://127.0.0.1:9",
        "--token",
        &s.scan_token,
        "--machine",
        "CW-PC09",
        "--person",
        "赵六",
        "--department",
        "财务处",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));
    assert!(out_text(&out).contains("未能报送"), "{}", out_text(&out));
    let kept: Vec<PathBuf> = std::fs::read_dir(data.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let out = baomi(&[
        "--config",
        &cfg,
        "campaign",
        "import",
        kept[0].to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", out_text(&out));
    assert_eq!(run_count(&s), 3);

    // Bad report files: truncated, edited — refused whole, nothing imported.
    let cut = work.path().join("cut.jsonl");
    std::fs::write(&cut, &report[..report.len() * 2 / 3]).unwrap();
    let edited = work.path().join("edited.jsonl");
    let text = String::from_utf8(report.clone()).unwrap();
    assert!(text.contains("预算说明"));
    std::fs::write(&edited, text.replace("预算说明", "预算明细")).unwrap();
    for (file, why) in [(&cut, "truncated"), (&edited, "changed after")] {
        let out = baomi(&[
            "--config",
            &cfg,
            "campaign",
            "import",
            file.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", out_text(&out));
        assert!(out_text(&out).contains(why), "{}", out_text(&out));
    }
    assert_eq!(run_count(&s), 3);

    // The real import, then the same file again: idempotent.
    let before = scan_incidents(&s).len();
    let out = baomi(&[
        "--config",
        &cfg,
        "campaign",
        "import",
        usb.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", out_text(&out));
    assert_eq!(scan_incidents(&s).len(), before + 1);
    let out = baomi(&[
        "--config",
        &cfg,
        "campaign",
        "import",
        usb.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", out_text(&out));
    assert!(out_text(&out).contains("已导入过"), "{}", out_text(&out));
    assert_eq!(scan_incidents(&s).len(), before + 1);
    assert_eq!(run_count(&s), 4);

    // Runs carry who and where; the signed one names its token.
    let runs = s.api("/api/v1/scan-runs?from=2000-01-01&to=2099-12-31")["runs"].clone();
    let by_machine: BTreeMap<String, Value> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["machine"].as_str().unwrap().to_owned(), r.clone()))
        .collect();
    assert_eq!(by_machine["BGS-PC02"]["person"], "李四");
    assert_eq!(by_machine["BGS-PC02"]["department"], "办公室");
    assert_eq!(by_machine["CW-PC01"]["via"], "import");
    assert_eq!(by_machine["CW-PC01"]["signed_by"], "prometheus");
    assert_eq!(by_machine["BGS-PC01"]["files"], 4);

    // Incidents: channel scan, the path on that machine, evidence for the blocking files.
    let incidents = scan_incidents(&s);
    assert_eq!(incidents.len(), 6, "{incidents:#?}");
    let docx_incident = incidents
        .iter()
        .find(|i| {
            i["object_name"]
                .as_str()
                .unwrap()
                .ends_with("工程通知.docx")
        })
        .expect("the docx is an incident");
    assert_eq!(docx_incident["source"], "BGS-PC01");
    assert_eq!(docx_incident["user"], "张三");
    assert_eq!(docx_incident["level"], "secret");
    let number = docx_incident["number"].as_str().unwrap().to_owned();
    assert_eq!(s.evidence(&number), std::fs::read(&secret_docx).unwrap());
    // Masked findings only: no full ID number anywhere in the incidents.
    assert!(
        !serde_json::to_string(&incidents)
            .unwrap()
            .contains(&resident_id(5))
    );

    // Coverage: who reported, who has not.
    let campaign = s.api("/api/v1/campaigns")["campaigns"][0].clone();
    let cid = campaign["id"].as_i64().unwrap();
    let cov = s.api(&format!("/api/v1/campaigns/{cid}"))["coverage"].clone();
    let depts: BTreeMap<String, Value> = cov["departments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["department"].as_str().unwrap().to_owned(), d.clone()))
        .collect();
    assert_eq!(depts["办公室"]["missing"], json!(["王五"]));
    assert_eq!(depts["办公室"]["missing_machines"], json!(["BGS-PC03"]));
    assert_eq!(depts["财务处"]["missing"], json!(["钱七"]));
    assert_eq!(cov["people_reported"], 3);
    assert_eq!(cov["people_expected"], 5);

    // What the officer enters for the table.
    let (code, _) = post_json(
        &s,
        &format!("/api/v1/campaigns/{cid}/entries"),
        &json!({"department": "办公室", "chat_groups": 4, "mini_programs": 2,
                "measures": "删除涉密文件3份，开展警示教育"}),
    );
    assert_eq!(code, 204);

    // A clue report from the docx incident: proposed, issued, frozen, corrected.
    let (code, body) = post_json(
        &s,
        "/api/v1/clue-reports",
        &json!({"incidents": ["BM-20990101-999999"]}),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("unknown incident"));
    let (code, draft) = post_json(&s, "/api/v1/clue-reports", &json!({"incidents": [number]}));
    assert_eq!(code, 201, "{draft}");
    let clue_id = draft["id"].as_i64().unwrap();
    assert_eq!(draft["reporting_unit"], "某市某局");
    assert_eq!(draft["occurring_unit"], "办公室");
    assert_eq!(draft["state"], "draft");
    let facts = draft["facts"].as_str().unwrap();
    assert!(
        facts.contains(&number) && facts.contains("工程通知.docx") && facts.contains("张三"),
        "{facts}"
    );
    let mut fields = draft.clone();
    fields["remedy"] = json!("已删除该文件，对当事人进行提醒谈话。");
    let (code, edited) = post_json(&s, &format!("/api/v1/clue-reports/{clue_id}"), &fields);
    assert_eq!(code, 200, "{edited}");
    let (code, issued) = post_json(
        &s,
        &format!("/api/v1/clue-reports/{clue_id}/issue"),
        &json!({}),
    );
    assert_eq!(code, 200, "{issued}");
    assert_eq!(issued["state"], "issued");
    assert_eq!(issued["content_hash"].as_str().unwrap().len(), 64);
    fields["remedy"] = json!("改过的内容");
    let (code, refused) = post_json(&s, &format!("/api/v1/clue-reports/{clue_id}"), &fields);
    assert_eq!(code, 409, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("frozen"));
    let after = s.api(&format!("/api/v1/clue-reports/{clue_id}"));
    assert_eq!(after["remedy"], "已删除该文件，对当事人进行提醒谈话。");
    let (code, v2) = post_json(
        &s,
        &format!("/api/v1/clue-reports/{clue_id}/correct"),
        &json!({}),
    );
    assert_eq!(code, 201, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["supersedes"], clue_id);
    assert_eq!(v2["number"], issued["number"]);

    // The clue report as Word and PDF.
    let docx = download(&s, &format!("/api/v1/clue-reports/{clue_id}?format=docx"));
    let dir = work.path().join("clue");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("clue.docx"), &docx).unwrap();
    let unzip = Command::new("unzip")
        .args(["-p"])
        .arg(dir.join("clue.docx"))
        .arg("word/document.xml")
        .output()
        .unwrap();
    let xml = String::from_utf8(unzip.stdout).unwrap();
    assert!(
        xml.contains("违规问题线索和存在隐患报告表")
            && xml.contains(&number)
            && xml.contains("某市某局")
    );
    // LibreOffice opens it (and reads the form's text back).
    let out = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            work.path().join("lo-profile").display()
        ))
        .args([
            "--headless",
            "--convert-to",
            "txt:Text (encoded):UTF8",
            "--outdir",
        ])
        .arg(&dir)
        .arg(dir.join("clue.docx"))
        .output()
        .expect("soffice");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lo_text =
        std::fs::read_to_string(dir.join("clue.txt")).expect("LibreOffice converted the DOCX");
    assert!(
        lo_text.contains("违规问题线索和存在隐患报告表")
            && lo_text.contains("基本事实")
            && lo_text.contains(&number),
        "{lo_text}"
    );
    let pdf = download(&s, &format!("/api/v1/clue-reports/{clue_id}?format=pdf"));
    let text = pdftotext(&dir, "clue.pdf", &pdf);
    assert!(
        text.contains("违规问题线索和存在隐患报告表") && text.contains("报送单位"),
        "{text}"
    );
    assert!(text.contains(&number), "{text}");

    // The statistics table agrees with the incident queue.
    let table = s.api(&format!("/api/v1/reports/self-inspection?campaign={cid}"));
    let rows: BTreeMap<String, Value> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["department"].as_str().unwrap().to_owned(), r.clone()))
        .collect();
    assert_eq!(
        rows.keys().cloned().collect::<Vec<_>>(),
        vec!["办公室", "财务处"]
    );
    for (dept, row) in &rows {
        let queue = s.api(&format!(
            "/api/v1/incidents?channel=scan&department={}&limit=500",
            support_encode(dept)
        ));
        let mut by_level: BTreeMap<String, u64> = BTreeMap::new();
        for i in queue["incidents"].as_array().unwrap() {
            let col = match i["level"].as_str() {
                Some("top_secret") => "top_secret",
                Some("secret") => "secret",
                Some("confidential") => "confidential",
                Some("work_secret") => "work_secret",
                _ => "other",
            };
            *by_level.entry(col.into()).or_default() += 1;
        }
        for col in [
            "top_secret",
            "secret",
            "confidential",
            "work_secret",
            "other",
        ] {
            assert_eq!(
                row[col].as_u64().unwrap(),
                by_level.get(col).copied().unwrap_or(0),
                "{dept} {col}: table {row} vs queue {by_level:?}"
            );
        }
    }
    let office = &rows["办公室"];
    assert_eq!(office["people"], 2);
    assert_eq!(office["chat_groups"], 4);
    assert_eq!(office["mini_programs"], 2);
    assert_eq!(office["clues"], 1);
    assert_eq!(office["top_secret"], 1);
    assert_eq!(office["secret"], 1);
    assert_eq!(office["confidential"], 1);
    assert_eq!(office["other"], 1);
    assert_eq!(rows["财务处"]["people"], 1);
    // The same file on 赵六's two computers: two files involved.
    assert_eq!(rows["财务处"]["confidential"], 2);
    assert_eq!(table["total"]["people"], 3);

    // CSV: the header row is exactly the form's columns.
    let csv = download(
        &s,
        &format!("/api/v1/reports/self-inspection?campaign={cid}&format=csv"),
    );
    let csv = String::from_utf8(csv).unwrap();
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next().unwrap(),
        "单位/部门,自查人数,检查工作群数,检查小程序数,上报线索数,绝密,机密,秘密,工作秘密,其他,主要整改措施"
    );
    assert_eq!(
        lines.next().unwrap(),
        "办公室,2,4,2,1,1,1,1,0,1,删除涉密文件3份，开展警示教育"
    );
    assert!(csv.contains("合计,3,4,2,1,1,1,3,0,1,"), "{csv}");
    // The same from the command line on the server.
    let cli_csv = work.path().join("table.csv");
    let out = baomi(&[
        "--config",
        &cfg,
        "report",
        "self-inspection",
        "--campaign",
        "2026年第四季度保密自查",
        "--format",
        "csv",
        "-o",
        cli_csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", out_text(&out));
    assert_eq!(std::fs::read_to_string(&cli_csv).unwrap(), csv);

    // XLSX read back with calamine.
    let xlsx = download(
        &s,
        &format!("/api/v1/reports/self-inspection?campaign={cid}&format=xlsx"),
    );
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let range = wb.worksheet_range("自查自纠情况统计表").unwrap();
    let cell = |r: u32, c: u32| {
        range
            .get_value((r, c))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    assert_eq!(cell(0, 0), "自查自纠情况统计表");
    assert_eq!(cell(2, 5), "涉及文件");
    assert_eq!(cell(3, 5), "国家秘密");
    assert_eq!(cell(4, 5), "绝密");
    assert_eq!(cell(5, 0), "办公室");
    assert_eq!(cell(5, 1), "2");
    assert_eq!(cell(5, 4), "1");
    assert_eq!(cell(7, 0), "合计");
    assert_eq!(cell(7, 7), "3");

    // PDF: the Chinese headings and the numbers extract.
    let pdf = download(
        &s,
        &format!("/api/v1/reports/self-inspection?campaign={cid}&format=pdf"),
    );
    let text = pdftotext(&dir, "table.pdf", &pdf);
    // Headings wrap inside their cells and pdftotext spaces CJK from digits: compare the
    // text in reading order without white space.
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for word in [
        "自查自纠情况统计表",
        "单位/部门",
        "检查工作群数",
        "涉及文件",
        "国家秘密",
        "办公室",
        "财务处",
        "合计",
        "删除涉密文件3份",
    ] {
        assert!(text.contains(word), "{word} not in:\n{text}");
    }

    // Every step is in the chain, and the chain holds.
    let (code, tail) = s.audit_tail();
    assert_eq!(code, 0);
    for action in [
        "scan_run.import",
        "campaign.create",
        "campaign.entry",
        "clue.create",
        "clue.issue",
        "clue.correct",
    ] {
        assert!(
            tail.contains(action) || audit_has(&s, action),
            "{action} missing from the audit trail"
        );
    }
    let (code, out) = s.audit_verify();
    assert_eq!(code, 0, "{out}");
}

fn audit_has(s: &Serve, action: &str) -> bool {
    let out = baomi(&[
        "--config",
        s.config.to_str().unwrap(),
        "audit",
        "tail",
        "-n",
        "200",
    ]);
    String::from_utf8_lossy(&out.stdout).contains(action)
}

fn support_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn pdftotext(dir: &Path, name: &str, pdf: &[u8]) -> String {
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// The same records as the security officer meets them in the console (headless Chromium):
/// start a campaign with the form, enter a department's figures, draft a clue report from
/// the queue's selection, issue it, read the statistics table; screenshots of each page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_pages_in_chromium() {
    let work = tempfile::tempdir().unwrap();
    let dirfile = work.path().join("people.toml");
    std::fs::write(&dirfile, DIRECTORY).unwrap();
    let s = Serve::start(
        &format!(
            "[directory]\nfile = \"{}\"\n[records]\nunit = \"某市某局\"\n",
            dirfile.display()
        ),
        None,
    );
    let cfg = s.config.to_str().unwrap().to_owned();
    let base = format!("http://127.0.0.1:{}", s.http);
    let pc = work.path().join("pc");
    std::fs::create_dir_all(&pc).unwrap();
    std::fs::write(
        pc.join("值班安排.txt"),
        "机密★3年\n关于节日期间值班安排的通知\n",
    )
    .unwrap();
    std::fs::write(pc.join("人员名单.csv"), pii_table()).unwrap();
    let out = baomi(&[
        "--config",
        &cfg,
        "scan",
        pc.to_str().unwrap(),
        "--report-to",
        &base,
        "--token",
        &s.scan_token,
        "--machine",
        "BGS-PC01",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));
    let number = scan_incidents(&s)
        .iter()
        .find(|i| i["object_name"].as_str().unwrap().ends_with("值班安排.txt"))
        .unwrap()["number"]
        .as_str()
        .unwrap()
        .to_owned();

    let (_driver, port) = chromedriver();
    let c = browser(port).await;
    login(&c, &base, "officer", OFFICER_PASSWORD).await;

    // A campaign from the form.
    c.goto(&format!("{base}/campaigns")).await.unwrap();
    c.find(Locator::Css("#campaign-form input[name=name]"))
        .await
        .unwrap()
        .send_keys("十二月保密自查")
        .await
        .unwrap();
    c.find(Locator::Css("#campaign-form input[name=departments]"))
        .await
        .unwrap()
        .send_keys("办公室、财务处")
        .await
        .unwrap();
    click_nav(&c, Locator::Css("#campaign-form button[type=submit]")).await;
    let page = text(&c).await;
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/campaigns/"),
        "{page}"
    );
    assert!(
        page.contains("十二月保密自查") && page.contains("张三") && page.contains("王五"),
        "{page}"
    );
    assert!(page.contains("1 / 5"), "{page}");
    let campaign_path = c.current_url().await.unwrap().path().to_owned();

    // 办公室's figures.
    let entry = c
        .find(Locator::Css("#coverage tr.dept form.entry"))
        .await
        .unwrap();
    let groups = entry
        .find(Locator::Css("input[name=chat_groups]"))
        .await
        .unwrap();
    groups.clear().await.unwrap();
    groups.send_keys("3").await.unwrap();
    entry
        .find(Locator::Css("input[name=measures]"))
        .await
        .unwrap()
        .send_keys("清理工作群2个")
        .await
        .unwrap();
    click_nav(&c, Locator::Css("#coverage tr.dept form.entry button")).await;
    assert!(text(&c).await.contains("已保存"));
    shot(&c, "15-campaign").await;
    c.goto(&format!("{base}/campaigns")).await.unwrap();
    shot(&c, "16-campaigns").await;

    // A clue report from the queue's selection.
    c.goto(&format!("{base}/incidents?channel=scan"))
        .await
        .unwrap();
    c.find(Locator::Css(&format!("input.pick[value='{number}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click_nav(&c, Locator::Id("make-clue")).await;
    let page = text(&c).await;
    assert!(
        c.current_url().await.unwrap().path().starts_with("/clues/"),
        "{page}"
    );
    let facts: String = c
        .find(Locator::Css("textarea[name=facts]"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        facts.contains(&number) && facts.contains("值班安排.txt"),
        "{facts}"
    );
    c.find(Locator::Css("textarea[name=remedy]"))
        .await
        .unwrap()
        .send_keys("已删除该文件并约谈当事人。")
        .await
        .unwrap();
    click_nav(&c, Locator::Id("save")).await;
    shot(&c, "17-clue-draft").await;
    click_nav(&c, Locator::Id("issue")).await;
    let state: String = text_of(&c, Locator::Id("clue-state")).await;
    assert_eq!(state, "已报送");
    let page = text(&c).await;
    assert!(
        page.contains("已删除该文件并约谈当事人。") && page.contains("内容已冻结"),
        "{page}"
    );
    assert!(
        c.find(Locator::Id("clue-form")).await.is_err(),
        "an issued report has no edit form"
    );
    shot(&c, "18-clue-issued").await;
    let clue_path = c.current_url().await.unwrap().path().to_owned();
    let id = clue_path.trim_start_matches("/clues/").to_owned();
    for format in ["docx", "pdf"] {
        let (status, bytes) =
            fetch_status(&c, &format!("/api/v1/clue-reports/{id}?format={format}")).await;
        assert_eq!(status, 200, "{format}");
        assert!(bytes > 1000, "{format}: {bytes} bytes");
    }
    c.goto(&format!("{base}/clues")).await.unwrap();
    assert!(text(&c).await.contains("已报送"));
    shot(&c, "19-clues").await;

    // The statistics table of the campaign.
    let cid = campaign_path.trim_start_matches("/campaigns/");
    c.goto(&format!("{base}/reports/self-inspection?campaign={cid}"))
        .await
        .unwrap();
    let page = text(&c).await;
    assert!(
        page.contains("自查自纠情况统计表") && page.contains("清理工作群2个"),
        "{page}"
    );
    let office: String = text_of(&c, Locator::Css("#statistics tbody tr")).await;
    let office = office.split_whitespace().collect::<Vec<_>>().join(" ");
    // 办公室: 1 person, 3 groups, 0 mini-programs, 1 clue, 机密 1, 其他 1.
    assert!(office.starts_with("办公室 1 3 0 1 0 1 0 0 1"), "{office}");
    for format in ["xlsx", "pdf", "csv"] {
        let (status, bytes) = fetch_status(
            &c,
            &format!("/api/v1/reports/self-inspection?campaign={cid}&format={format}"),
        )
        .await;
        assert_eq!(status, 200, "{format}");
        assert!(bytes > 100, "{format}");
    }
    shot(&c, "20-statistics").await;

    // Casework on the same incident: assigned, commented; the scan queue saved as a view.
    c.goto(&format!("{base}/incidents/{number}")).await.unwrap();
    c.find(Locator::Css("select[name=assignee]"))
        .await
        .unwrap()
        .select_by_value("officer")
        .await
        .unwrap();
    click_nav(&c, Locator::Css("form[action$='/assign'] button")).await;
    c.find(Locator::Css("textarea[name=body]"))
        .await
        .unwrap()
        .send_keys("已通知当事人删除该文件。")
        .await
        .unwrap();
    click_nav(&c, Locator::Css("form[action$='/comment'] button")).await;
    let page = text(&c).await;
    assert!(page.contains("已通知当事人删除该文件。"), "{page}");
    c.goto(&format!("{base}/incidents?channel=scan"))
        .await
        .unwrap();
    let queue = text(&c).await;
    assert!(
        queue.contains("王保密"),
        "the assignee in the queue: {queue}"
    );
    c.find(Locator::Css(
        "form[action='/incidents/views'] input[name=name]",
    ))
    .await
    .unwrap()
    .send_keys("自查事件")
    .await
    .unwrap();
    click_nav(&c, Locator::Css("form[action='/incidents/views'] button")).await;
    c.goto(&format!("{base}/incidents")).await.unwrap();
    click_nav(&c, Locator::LinkText("自查事件")).await;
    let url = c.current_url().await.unwrap();
    assert!(url.query().unwrap_or("").contains("channel=scan"), "{url}");

    // 数据脱敏 in the console: a file in, the masked copy out (fetched from the page itself).
    c.goto(&format!("{base}/redact")).await.unwrap();
    shot(&c, "25-redact").await;
    let v = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; const fd = new FormData(); \
             fd.append('file', new Blob(['联系人：张三\\n联系电话：13812345678\\n'], {type: 'text/plain'}), '名单.txt'); \
             fetch('/redact', {method: 'POST', body: fd}).then(async r => done([r.status, await r.text()]));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(v[0], 200, "{v}");
    let copy = v[1].as_str().unwrap();
    assert!(
        copy.contains("联系电话：138****5678") && !copy.contains("13812345678"),
        "{copy}"
    );

    // The ledger: a USB stick registered with the form, then issued to someone.
    c.goto(&format!("{base}/ledger")).await.unwrap();
    for (field, value) in [
        ("number", "JM-U-007"),
        ("name", "爱国者 U盘 64G"),
        ("serial", "AIGO7788"),
        ("responsible", "张三"),
        ("department", "办公室"),
    ] {
        c.find(Locator::Css(&format!("#carrier-form input[name={field}]")))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    c.find(Locator::Css("#carrier-form select[name=kind]"))
        .await
        .unwrap()
        .select_by_value("removable")
        .await
        .unwrap();
    click_nav(&c, Locator::Css("#carrier-form button[type=submit]")).await;
    assert_eq!(
        c.current_url().await.unwrap().path(),
        "/ledger/JM-U-007",
        "{}",
        text(&c).await
    );
    c.find(Locator::Id("event"))
        .await
        .unwrap()
        .select_by_value("issued")
        .await
        .unwrap();
    c.find(Locator::Css("#event-form input[name=holder]"))
        .await
        .unwrap()
        .send_keys("李四")
        .await
        .unwrap();
    click_nav(&c, Locator::Css("#event-form button[type=submit]")).await;
    let state: String = text_of(&c, Locator::Id("carrier-state")).await;
    assert_eq!(state, "在用");
    assert!(text(&c).await.contains("李四"));
    shot(&c, "21-carrier").await;
    c.goto(&format!("{base}/ledger")).await.unwrap();
    assert!(text(&c).await.contains("AIGO7788"));
    shot(&c, "22-ledger").await;
    c.close().await.unwrap();
}

/// An office's ledger table as LibreOffice saves it (dates as date cells).
const LEDGER_CSV: &str = "序号,编号,类型,名称型号/文件标题,序列号,密级,份数/份号,来源,责任人,使用部门,启用日期,状态\n\
1,JM-2026-001,移动存储介质,金士顿 DT50 32G,SN0042A7,机密,,,张三,办公室,2026-01-05,在用\n\
2,JM-2026-002,纸质文件,关于“北辰”工程选址的请示,,秘密,2/5,市委办公室,李四,办公室,2026-03-01,在册\n\
3,JM-2026-003,计算机,联想 M720,PF1ABCDE,秘密,,,赵六,财务处,2025-11-20,在册\n";

/// The registered document's text (invented content, in the style of the case files).
const REQUEST: &str = "秘密★5年\n关于“北辰”工程选址的请示\n市委：\n\
经前期勘察，“北辰”工程拟选址于城北新区东侧，占地三百二十亩，距现有变电站四公里，\
周边三公里内无居民区。工程分两期建设，一期建设指挥中心和数据机房，二期建设备用电源和地下管廊，\
总投资约十一亿元，其中市级财政承担四成，其余由专项债券解决。选址方案已征求规划、国土、环保部门意见，\
均无原则性异议。为确保工程信息安全，拟对选址坐标、设备清单和承建单位名单按秘密级管理，\
相关会议纪要一律不得上传至互联网办公平台，参与人员须签订保密承诺书。妥否，请批示。\n";

fn post_bytes(s: &Serve, path: &str, file: &Path) -> (u16, Value) {
    let (code, out) = s.curl(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("http://127.0.0.1:{}{path}", s.http),
    ]);
    (code, serde_json::from_slice(&out).unwrap_or(Value::Null))
}

/// The carrier ledger: an office's table made by LibreOffice imported whole (a bad row
/// refuses the whole file), a document issued, returned and destroyed with a second person,
/// registered in the fingerprint registry in one step (an excerpt is then recognised), and
/// exported again.
#[test]
fn carrier_ledger_from_an_office_table() {
    let s = Serve::start("", None);
    let cfg = s.config.to_str().unwrap().to_owned();
    let work = tempfile::tempdir().unwrap();

    let bad = xlsx_from_csv(
        work.path(),
        "bad",
        &LEDGER_CSV.replace("计算机,联想", "飞机,联想"),
    );
    let out = baomi(&["--config", &cfg, "ledger", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", out_text(&out));
    assert!(
        out_text(&out).contains("row 4") && out_text(&out).contains("飞机"),
        "{}",
        out_text(&out)
    );
    assert_eq!(
        s.api("/api/v1/carriers")["carriers"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let good = xlsx_from_csv(work.path(), "ledger", LEDGER_CSV);
    let (code, body) = post_bytes(&s, "/api/v1/carriers/import", &good);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["imported"], 3);
    let (code, body) = post_bytes(&s, "/api/v1/carriers/import", &good);
    assert_eq!(code, 409, "{body}");
    let list = s.api("/api/v1/carriers")["carriers"].clone();
    assert_eq!(list.as_array().unwrap().len(), 3);
    let usb = &list[0];
    assert_eq!(usb["number"], "JM-2026-001");
    assert_eq!(usb["kind"], "removable");
    assert_eq!(usb["serial"], "SN0042A7");
    assert_eq!(usb["state"], "issued");
    assert_eq!(list[1]["since_day"], "2026-03-01");

    // The document's life: out, back, destroyed by two people; nothing after that.
    let ev = |body: Value| post_json(&s, "/api/v1/carriers/JM-2026-002/events", &body);
    assert_eq!(ev(json!({"event": "issued"})).0, 400, "issued to nobody");
    assert_eq!(ev(json!({"event": "issued", "holder": "王五"})).0, 200);
    let (code, body) = ev(json!({"event": "destroyed", "witness": "李四"}));
    assert_eq!(code, 409, "destroyed while out: {body}");
    assert_eq!(ev(json!({"event": "returned", "holder": "王五"})).0, 200);
    assert_eq!(ev(json!({"event": "destroyed"})).0, 400, "no second person");
    assert_eq!(
        ev(json!({"event": "destroyed", "witness": "officer"})).0,
        400,
        "the same person"
    );
    let (code, body) = ev(json!({"event": "destroyed", "witness": "李四", "note": "碎纸机销毁"}));
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        ev(json!({"event": "archived"})).0,
        409,
        "destroyed is final"
    );
    let detail = s.api("/api/v1/carriers/JM-2026-002");
    let events: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["registered", "issued", "returned", "destroyed"]);
    assert_eq!(detail["events"][3]["witness"], "李四");

    // One step into the fingerprint registry; an excerpt without its marking is then known.
    let doc = work.path().join("请示.txt");
    std::fs::write(&doc, REQUEST).unwrap();
    let (code, body) = post_bytes(
        &s,
        "/api/v1/carriers/JM-2026-002/fingerprint?name=%E8%AF%B7%E7%A4%BA.txt",
        &doc,
    );
    assert_eq!(code, 200, "{body}");
    let fp = body["fingerprint_id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.api("/api/v1/carriers/JM-2026-002")["carrier"]["fingerprint_id"],
        fp.as_str()
    );
    let excerpt = work.path().join("汇编.txt");
    let middle: String = REQUEST.lines().nth(3).unwrap().chars().take(240).collect();
    std::fs::write(&excerpt, format!("工作信息汇编\n{middle}\n")).unwrap();
    let out = baomi(&[
        "--config",
        &cfg,
        "scan",
        excerpt.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "fingerprint"),
        "{report}"
    );

    // Export, read back.
    let xlsx = download(&s, "/api/v1/carriers?format=xlsx");
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let range = wb.worksheet_range("涉密载体台账").unwrap();
    let cell = |r: u32, c: u32| {
        range
            .get_value((r, c))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    assert_eq!(cell(1, 1), "编号");
    assert_eq!(cell(3, 1), "JM-2026-002");
    assert_eq!(cell(3, 5), "秘密");
    assert_eq!(cell(3, 11), "销毁");
    let (code, out) = s.audit_verify();
    assert_eq!(code, 0, "{out}");
}
