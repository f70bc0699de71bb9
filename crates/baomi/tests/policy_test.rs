//! `baomi policy test` as an officer uses it before putting a policy in force: the real
//! binary, a unit policy with rules by destination and department and an exception, a
//! marked notice and a mail (.eml built with Python's email package) with a real ZipCrypto
//! zip (zip -P) attached. The verdict and the rules and exceptions behind it are printed.

#[allow(dead_code)] // each test uses part of the shared support
mod support {
    pub mod serve;
}

use std::path::Path;
use std::process::Command;

use support::serve::Serve;

const POLICY: &str = r#"
[hosts]
internal = ["unit.gov.cn"]
superior = ["bureau.gov.cn"]

[[rule]]
name = "secret-marking"
kinds = ["marking"]
min_level = "confidential"
action = "block"

[[rule]]
name = "internal-marking-to-cloud"
kinds = ["marking"]
min_level = "internal"
destinations = ["cloud_drives", "webmail"]
action = "block"

[[rule]]
name = "encrypted-attachment-outside"
channels = ["mail"]
encrypted_attachment = true
not_destinations = ["internal", "superior"]
action = "alert"

[[exception]]
name = "bmb-to-bureau"
reason = "保密办向上级报送"
departments = ["市局/保密办"]
destinations = ["superior"]
rules = ["secret-marking"]
expires = "2099-12-31"
"#;

fn baomi(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["policy", "test", "--policy"])
        .arg(dir.join("policy.toml"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running baomi");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, out, err) = baomi(dir, &all);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("policy.toml"), POLICY).unwrap();
    std::fs::write(
        dir.path().join("通知.txt"),
        "秘密★1年\n关于做好年度保密检查的通知\n各处室：请于月底前完成自查。\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("内部材料.txt"),
        "密级：内部\n关于调整值班安排的说明\n请各处室知悉。\n",
    )
    .unwrap();
    dir
}

#[test]
fn a_marked_notice_by_destination_and_department_with_the_exception_named() {
    let dir = setup();
    let d = dir.path();

    // The secrecy office to the superior bureau: the exception lowers the block.
    let (code, out, err) = baomi(
        d,
        &[
            "通知.txt",
            "--channel",
            "mail",
            "--person",
            "李明",
            "--department",
            "市局/保密办/机要科",
            "--destination",
            "chu@bureau.gov.cn",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("通知.txt: audit"), "{out}");
    assert!(
        out.contains(
            "rule secret-marking: audit — lowered by exception bmb-to-bureau (保密办向上级报送)"
        ),
        "{out}"
    );

    // Someone else, same destination: blocked, no exception.
    let v = json(
        d,
        &[
            "通知.txt",
            "--channel",
            "mail",
            "--department",
            "市局/办公室",
            "--destination",
            "chu@bureau.gov.cn",
        ],
    );
    assert_eq!(v["verdict"], "block");
    assert_eq!(v["exceptions"], serde_json::json!([]));
    assert_eq!(v["rules"][0]["rule"], "secret-marking");

    // 内部 to a cloud drive: blocked; to the unit's own OA: allowed.
    let v = json(
        d,
        &[
            "内部材料.txt",
            "--channel",
            "web",
            "--destination",
            "https://pan.baidu.com/upload",
        ],
    );
    assert_eq!(v["verdict"], "block");
    assert_eq!(v["rules"][0]["rule"], "internal-marking-to-cloud");
    let v = json(
        d,
        &[
            "内部材料.txt",
            "--channel",
            "web",
            "--destination",
            "https://oa.unit.gov.cn/upload",
        ],
    );
    assert_eq!(v["verdict"], "allow");
}

#[test]
fn a_mail_with_an_encrypted_zip_is_judged_by_its_recipients() {
    let dir = setup();
    let d = dir.path();
    std::fs::write(d.join("名单.txt"), "这是一份普通的名单。\n").unwrap();
    let st = Command::new("zip")
        .args(["-q", "-P", "1234", "名单.zip", "名单.txt"])
        .current_dir(d)
        .status()
        .expect("zip");
    assert!(st.success());
    // A real MIME message with the zip attached, as a mail client writes it.
    let py = r#"
import sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "li@unit.gov.cn"
m["To"] = "x@163.com"
m["Subject"] = "材料"
m.set_content("请查收附件。")
m.add_attachment(open("名单.zip", "rb").read(), maintype="application", subtype="zip", filename="名单.zip")
open("mail.eml", "wb").write(bytes(m))
"#;
    let st = Command::new("python3")
        .args(["-c", py])
        .current_dir(d)
        .status()
        .expect("python3");
    assert!(st.success());

    let v = json(
        d,
        &[
            "mail.eml",
            "--channel",
            "mail",
            "--destination",
            "x@163.com",
        ],
    );
    assert_eq!(v["verdict"], "alert", "{v}");
    assert_eq!(v["rules"][0]["rule"], "encrypted-attachment-outside");
    let v = json(
        d,
        &[
            "mail.eml",
            "--channel",
            "mail",
            "--destination",
            "wang@unit.gov.cn",
        ],
    );
    assert_eq!(v["verdict"], "allow", "{v}");
}

#[test]
fn mistakes_in_the_command_are_clear() {
    let dir = setup();
    let d = dir.path();
    let (code, _, err) = baomi(d, &["通知.txt", "--channel", "fax"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown channel \"fax\""), "{err}");
    let (code, _, err) = baomi(d, &["通知.txt", "--at", "tomorrow"]);
    assert_eq!(code, 2);
    assert!(err.contains("2026-12-03 20:30"), "{err}");
    std::fs::write(d.join("policy.toml"), "[[rule]]\nname = \"x\"\nkinds = [\"marking\"]\ndestination = [\"a.cn\"]\naction = \"block\"\n").unwrap();
    let (code, _, err) = baomi(d, &["通知.txt"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown key `destination`"), "{err}");
}

/// The same policy in a running server: the REST door passes the person (from the
/// directory: department and groups) and the destination, the verdict follows them, and the
/// exception's use is on the incident.
#[test]
fn the_gateway_decides_by_department_and_destination_and_records_the_exception() {
    let dir = tempfile::tempdir().unwrap();
    let people = dir.path().join("people.csv");
    std::fs::write(
        &people,
        "name,department,mails,groups\n李明,市局/保密办/机要科,li@unit.gov.cn,涉密人员\n王芳,市局/办公室,wang@unit.gov.cn,\n",
    )
    .unwrap();
    let extra = format!("[directory]\nfile = \"{}\"\n", people.display());
    let s = Serve::start(&extra, Some(POLICY));
    let url = |q: &str| format!("http://127.0.0.1:{}/api/v1/scan?{q}", s.http);
    let notice = dir.path().join("通知.txt");
    std::fs::write(
        &notice,
        "秘密★1年\n关于做好年度保密检查的通知\n各处室：请于月底前完成自查。\n",
    )
    .unwrap();
    let internal = dir.path().join("内部.txt");
    std::fs::write(&internal, "密级：内部\n关于调整值班安排的说明\n").unwrap();
    let post = |file: &Path, q: &str| {
        let (code, body) = s.curl(&["--data-binary", &format!("@{}", file.display()), &url(q)]);
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()
    };

    // 李明 of the secrecy office mails the bureau: the exception applies.
    let v = post(
        &notice,
        "channel=mail&user=li@unit.gov.cn&destination=chu@bureau.gov.cn&name=n.txt",
    );
    assert_eq!(v["action"], "audit", "{v}");
    assert_eq!(
        v["objects"][0]["exceptions"],
        serde_json::json!(["bmb-to-bureau"])
    );
    let number = v["incidents"][0]
        .as_str()
        .expect("an incident is recorded")
        .to_owned();
    let inc = s.api(&format!("/api/v1/incidents/{number}"));
    let rules = inc["rules"].to_string();
    assert!(rules.contains("exception:bmb-to-bureau"), "{inc}");
    assert_eq!(inc["department"], "市局/保密办/机要科");

    // 王芳 of the office, same destination: blocked.
    let v = post(
        &notice,
        "channel=mail&user=wang@unit.gov.cn&destination=chu@bureau.gov.cn&name=n.txt",
    );
    assert_eq!(v["action"], "block", "{v}");

    // 内部 to a cloud drive is blocked, to the unit's OA it passes.
    let v = post(
        &internal,
        "channel=web&user=wang@unit.gov.cn&destination=PUT%20https://d.pcs.baidu.com/file&name=i.txt",
    );
    assert_eq!(v["action"], "block", "{v}");
    let v = post(
        &internal,
        "channel=web&user=wang@unit.gov.cn&destination=https://oa.unit.gov.cn/up&name=i.txt",
    );
    assert_eq!(v["action"], "allow", "{v}");
}
