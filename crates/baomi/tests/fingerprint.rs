//! Registered documents, as an officer uses them: `baomi fingerprint add` a secret notice,
//! then a 300-character excerpt with its marking removed, pasted into a Word document,
//! zipped and mailed as an attachment, is named by `baomi scan` on the .eml. Unrelated
//! official prose gives nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A secret notice in the style of the case files (invented content).
const SECRET: &str = "机密★5年\n\
关于“天枢”专项工程第二阶段部署的通知\n\
各参建单位：\n\
经研究决定，“天枢”专项工程第二阶段于明年三月启动，总投资调整为四十七亿元，其中中央财政承担六成。\
第二阶段共建设西北、华东、西南三个节点，西北节点选址于甘肃省某县戈壁滩东侧十二公里处，\
占地一千二百亩，配套建设专用变电站两座和地下光缆干线三百四十公里。\
华东节点依托现有数据中心改造，机房面积扩大至一万八千平方米，年底前完成设备进场。\
西南节点因地质勘察结论尚未确定，暂缓开工，待专家组复核后另行通知。\
各节点安全防护按照核心级要求设计，出入口设置三道门禁，值守人员须经政审并签订保密承诺书。\
工程代号、选址坐标、设备型号及供货单位名单一律不得在公开场合提及，不得通过互联网传输。\
项目资金拨付采取分批方式，第一批十二亿元已于上月下达，第二批将在节点主体结构验收后下达。\
各单位要严格落实保密责任制，发现失泄密隐患立即报告工程指挥部保密办公室。\n";

/// Ordinary official prose on other subjects, sharing the usual boilerplate.
const UNRELATED: &str = "关于做好今冬明春安全生产工作的通知\n\
各区县人民政府，市政府各部门：\n\
为认真贯彻落实党中央、国务院关于安全生产的决策部署，切实做好今冬明春安全生产工作，\
现将有关事项通知如下。一、高度重视，加强组织领导。各级各部门要充分认识做好安全生产工作的重要性，\
切实增强责任感和紧迫感。二、突出重点，深入开展隐患排查。要重点检查道路交通、消防、燃气和建筑施工领域，\
对排查出的隐患建立台账，明确整改时限。三、强化值班值守，确保信息畅通。\n";

fn baomi(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("running baomi");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// docx with `text` as its paragraphs (python-docx, Debian's python3-docx).
fn docx(path: &Path, text: &str) {
    let script = "import sys\nfrom docx import Document\nd = Document()\n\
        for line in sys.argv[2].split('\\n'):\n    d.add_paragraph(line)\nd.save(sys.argv[1])\n";
    run(Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(path)
        .arg(text));
}

/// An .eml from a colleague with `attachment` attached (Python's email package).
fn eml(path: &Path, attachment: &Path) {
    let script = "import sys, email.message, email.policy, pathlib\n\
        m = email.message.EmailMessage(policy=email.policy.SMTP)\n\
        m['From'] = 'zhangsan@example.gov.cn'\nm['To'] = 'friend@example.com'\n\
        m['Subject'] = '学习资料汇编'\nm.set_content('资料见附件。')\n\
        p = pathlib.Path(sys.argv[2])\n\
        m.add_attachment(p.read_bytes(), maintype='application', subtype='zip', filename=p.name)\n\
        pathlib.Path(sys.argv[1]).write_bytes(bytes(m))\n";
    run(Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(path)
        .arg(attachment));
}

fn scan_json(data: &Path, target: &Path) -> (i32, Value) {
    let (code, out, err) = baomi(
        data,
        &[
            "scan",
            target.to_str().unwrap(),
            "--format",
            "json",
            "--no-progress",
        ],
    );
    let line = out
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no output: {err}"));
    (code, serde_json::from_str(line).unwrap())
}

fn fingerprint_findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "fingerprint")
        .collect()
}

#[test]
fn excerpt_in_a_docx_in_a_zip_in_a_mail_names_the_registered_document() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();

    // Register the notice (its level read from its own marking).
    let original = work.join("天枢二阶段通知.docx");
    docx(&original, SECRET);
    let (code, out, err) = baomi(
        &data,
        &[
            "fingerprint",
            "add",
            original.to_str().unwrap(),
            "--title",
            "天枢专项第二阶段部署通知",
            "--id",
            "TS-2026-02",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (_, list, _) = baomi(&data, &["fingerprint", "list"]);
    assert!(
        list.contains("TS-2026-02") && list.contains("机密"),
        "{list}"
    );

    // A 300-character excerpt, marking and title dropped, re-wrapped, in another docx.
    let body: String = SECRET.lines().skip(3).collect::<Vec<_>>().join("");
    let chars: Vec<char> = body.chars().collect();
    let excerpt: String = chars[40..340].iter().collect();
    let rewrapped: String = excerpt
        .chars()
        .collect::<Vec<_>>()
        .chunks(37)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("\n");
    let compiled = work.join("学习资料汇编.docx");
    docx(
        &compiled,
        &format!("学习资料汇编（第三辑）\n{rewrapped}\n以上供学习参考。"),
    );
    let zip = work.join("资料.zip");
    run(Command::new("zip").arg("-jq").arg(&zip).arg(&compiled));
    let mail = work.join("leak.eml");
    eml(&mail, &zip);

    let (code, report) = scan_json(&data, &mail);
    let found = fingerprint_findings(&report);
    assert!(!found.is_empty(), "no fingerprint finding: {report:#}");
    let f = found[0];
    assert_eq!(f["level"], "secret");
    let text = format!("{} {}", f["text"], f["reason"]);
    assert!(
        text.contains("TS-2026-02") || text.contains("天枢专项第二阶段部署通知"),
        "{f}"
    );
    assert!(
        f["part"]
            .as_str()
            .unwrap()
            .contains("资料.zip/学习资料汇编.docx"),
        "{f}"
    );
    assert_eq!(report["verdict"], "block", "{report:#}");
    assert_eq!(code, 1);

    // The registered file itself, renamed, in a zip: recognised as identical.
    let renamed = work.join("照片.jpg");
    std::fs::copy(&original, &renamed).unwrap();
    let zip2 = work.join("备份.zip");
    run(Command::new("zip").arg("-jq").arg(&zip2).arg(&renamed));
    let (_, report) = scan_json(&data, &zip2);
    let found = fingerprint_findings(&report);
    assert!(
        found
            .iter()
            .any(|f| f["reason"].as_str().unwrap_or("").contains("identical")),
        "{report:#}"
    );

    // Unrelated official prose: nothing.
    let other = work.join("安全生产通知.docx");
    docx(&other, UNRELATED);
    let (code, report) = scan_json(&data, &other);
    assert!(fingerprint_findings(&report).is_empty(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");

    // Removing the document ends the matches.
    let (code, _, _) = baomi(&data, &["fingerprint", "remove", "TS-2026-02"]);
    assert_eq!(code, 0);
    let (_, report) = scan_json(&data, &mail);
    assert!(fingerprint_findings(&report).is_empty());
}

#[test]
fn scan_without_a_registry_creates_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    let f = dir.path().join("a.txt");
    std::fs::write(&f, "普通文本").unwrap();
    let (code, _, err) = baomi(&data, &["scan", f.to_str().unwrap(), "--no-progress"]);
    assert_eq!(code, 0, "{err}");
    assert!(!data.join("baomi.db").exists());
}
