//! State held in the store and applied by a running `baomi serve` without a restart (the
//! embedded SQLite store: the node polls the versions every second). An officer registers a
//! secret document, imports a term list and sets a new policy version with the command
//! line while the server runs; uploads through the REST door see each change within
//! seconds, the incident names the policy version that decided, and a policy that does not
//! parse is refused before it reaches the store.

#[allow(dead_code)] // each test uses part of the shared support
mod support {
    pub mod serve;
}

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::serve::{Serve, baomi};

/// A secret document (invented for this test).
const SECRET: &str = "机密★10年\n\
关于北方电网调度中心备用指挥所建设方案的批复\n\
国网某分部：\n\
你部报送的备用指挥所建设方案收悉。经研究，同意在北郊山区某处建设地下备用指挥所，\
主体工程埋深四十五米，设计抗毁等级为一级，配置独立供电、供水和通风系统各两套。\
指挥所与主调度中心之间敷设两条物理隔离的专用光缆，路由分别经由东线隧道和西线管廊。\
工程总投资核定为九亿六千万元，分三年安排，首年安排三亿二千万元用于土建和人防设施。\
施工单位须从具备涉密资质的名录中邀请招标，全部施工人员进场前完成背景审查。\
指挥所的具体坐标、出入口位置、通信频点和值守编组属于国家秘密，不得在任何公开文件中出现。\
请你部据此抓紧开展初步设计，并于年底前将设计文件按机密级载体管理规定报送审查。\n";

fn excerpt() -> String {
    // The middle of the document, its marking and heading left out.
    SECRET
        .lines()
        .nth(3)
        .unwrap()
        .chars()
        .skip(20)
        .take(260)
        .collect()
}

fn scan(s: &Serve, file: &Path) -> Value {
    let url = format!(
        "http://127.0.0.1:{}/api/v1/scan?channel=web&user=zhangsan&name=note.txt",
        s.http
    );
    let (code, body) = s.curl(&["--data-binary", &format!("@{}", file.display()), &url]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn kinds(v: &Value) -> Vec<String> {
    v["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|o| o["findings"].as_array().into_iter().flatten())
        .map(|f| f["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Upload `file` until `done` holds (at most `limit`); the time it took.
fn until(s: &Serve, file: &Path, limit: Duration, done: impl Fn(&Value) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let v = scan(s, file);
        if done(&v) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "not applied after {limit:?}: {v:#}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn cli(s: &Serve, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--config", s.config.to_str().unwrap()];
    all.extend_from_slice(args);
    baomi(&all)
}

#[test]
fn registry_terms_and_policy_change_under_a_running_server() {
    let s = Serve::start("", None);
    let dir = tempfile::tempdir().unwrap();
    // The applied limit is generous for a loaded CI machine; the node polls every second.
    let limit = Duration::from_secs(15);

    // Before registration an excerpt is ordinary prose.
    let note = dir.path().join("note.txt");
    std::fs::write(&note, excerpt()).unwrap();
    let v = scan(&s, &note);
    assert!(!kinds(&v).contains(&"fingerprint".to_owned()), "{v:#}");
    assert_eq!(v["action"], "allow", "{v:#}");

    // Registered while the server runs: found without a restart.
    let doc = dir.path().join("批复.txt");
    std::fs::write(&doc, SECRET).unwrap();
    let out = cli(&s, &["fingerprint", "add", doc.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = until(&s, &note, limit, |v| {
        kinds(v).contains(&"fingerprint".to_owned())
    });
    eprintln!("registry applied after {took:?}");

    // A term list imported while it runs.
    let terms = dir.path().join("工程代号.txt");
    std::fs::write(&terms, "# 工程代号\n长庚计划\t5\tproject\n").unwrap();
    let memo = dir.path().join("memo.txt");
    std::fs::write(&memo, "请把长庚计划的会议纪要发我一份。").unwrap();
    assert!(!kinds(&scan(&s, &memo)).contains(&"keyword".to_owned()));
    let out = cli(&s, &["dict", "import", terms.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&s, &["dict", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("工程代号\t1 terms"));
    until(&s, &memo, limit, |v| {
        kinds(v).contains(&"keyword".to_owned())
    });

    // A policy that does not parse is refused; nothing is stored.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nname = \"x\"\nkinds = [\"marking\"]\nacton = \"block\"\n",
    )
    .unwrap();
    let out = cli(&s, &["policy", "set", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("acton"), "{err}");
    let out = cli(&s, &["policy", "history"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no policy stored"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The default blocks the term list's hit? Whatever it does, a new version that blocks
    // dictionary findings on the web applies, and the incident names that version.
    let policy = format!(
        "{}\n[[rule]]\nname = \"工程代号外发\"\nkinds = [\"keyword\"]\nchannels = [\"web\"]\naction = \"block\"\n",
        baomi_core_default()
    );
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, &policy).unwrap();
    let out = cli(
        &s,
        &[
            "policy",
            "set",
            file.to_str().unwrap(),
            "--comment",
            "工程代号不得外发",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("version 1"));
    until(&s, &memo, limit, |v| v["action"] == "block");
    let v = scan(&s, &memo);
    let number = v["incidents"][0].as_str().expect("an incident").to_owned();
    let inc = s.api(&format!("/api/v1/incidents/{number}"));
    assert_eq!(inc["policy_version"], 1, "{inc}");
    assert!(inc["rules"].to_string().contains("工程代号外发"), "{inc}");

    // The versions are kept and compared.
    let out = cli(&s, &["policy", "history"]);
    let history = String::from_utf8_lossy(&out.stdout);
    assert!(history.starts_with("v1\t"), "{history}");
    assert!(history.contains("工程代号不得外发"), "{history}");
    std::fs::write(&file, policy.replace("工程代号外发", "工程代号外发-2")).unwrap();
    let out = cli(&s, &["policy", "set", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("version 2"));
    let out = cli(&s, &["policy", "diff", "1", "2"]);
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(diff.contains("-name = \"工程代号外发\""), "{diff}");
    assert!(diff.contains("+name = \"工程代号外发-2\""), "{diff}");
    // Setting the same text again makes no version.
    let out = cli(&s, &["policy", "set", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("unchanged"));
    // The trail has every change.
    let out = cli(&s, &["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn baomi_core_default() -> String {
    let out = baomi(&["policy", "default"]);
    String::from_utf8(out.stdout).unwrap()
}

/// The password bank held in the store, sealed: imported while the server runs, it opens an
/// encrypted archive without a restart; the database holds no password in the clear; only
/// counts are shown; a newer DATA_DIR/passwords.txt is imported at the next start.
#[test]
fn password_bank_in_the_store_opens_archives_without_a_restart() {
    let mut s = Serve::start("", None);
    let dir = tempfile::tempdir().unwrap();
    let limit = Duration::from_secs(15);
    let (first, second) = ("Zb#档案-2026-甲", "Qx!卷宗-2026-乙");
    let notice = dir.path().join("通知.txt");
    std::fs::write(
        &notice,
        "机密★5年\n关于加强保密工作的通知\n各单位：请严格执行。\n",
    )
    .unwrap();
    let zip = |name: &str, password: &str| {
        let path = dir.path().join(name);
        let out = std::process::Command::new("zip")
            .args(["-q", "-P", password])
            .arg(&path)
            .arg("通知.txt")
            .current_dir(dir.path())
            .output()
            .expect("zip");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    };
    let (a, b) = (zip("材料.zip", first), zip("卷宗.zip", second));
    let opened = |v: &Value| kinds(v).contains(&"marking".to_owned());
    assert!(!opened(&scan(&s, &a)), "opened without a password");

    let bank = dir.path().join("bank.txt");
    std::fs::write(&bank, format!("unit-standard-1\n{first}\n")).unwrap();
    let out = cli(&s, &["passwords", "import", bank.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("2 passwords stored"),
        "{text}"
    );
    assert!(!text.contains(first));
    let took = until(&s, &a, limit, |v| opened(v) && v["action"] == "block");
    eprintln!("password bank applied after {took:?}");
    assert!(
        !opened(&scan(&s, &b)),
        "the second archive's password is not in the bank"
    );
    // `baomi scan` on the same store uses the stored bank too.
    let out = cli(&s, &["scan", a.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("opened with bank password #2"), "{report}");

    // Sealed: neither the database nor its journal holds a password; status shows a count.
    for file in ["baomi.db", "baomi.db-wal"] {
        let bytes = std::fs::read(s.data().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(first.len()).any(|w| w == first.as_bytes()),
            "{file} holds a password in the clear"
        );
    }
    let out = cli(&s, &["passwords", "status"]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.starts_with("2 passwords\t"), "{status}");
    let out = cli(&s, &["passwords", "import", bank.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("unchanged"));
    let out = cli(&s, &["passwords", "export"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(first));
    let (_, trail) = s.audit_tail();
    assert!(
        trail.contains("passwords.set") && trail.contains("passwords.export"),
        "{trail}"
    );
    assert!(!trail.contains(first) && !s.log().contains(first));

    // The file stays an import path: a newer DATA_DIR/passwords.txt is stored at start.
    std::fs::write(
        s.data().join("passwords.txt"),
        format!("{first}\n{second}\n"),
    )
    .unwrap();
    s.restart();
    assert!(s.log().contains("password bank"), "{}", s.log());
    until(&s, &b, limit, |v| opened(v) && v["action"] == "block");
    let out = cli(&s, &["passwords", "status"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("2 passwords\t"));
    let out = cli(&s, &["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The directory held in the store: the directory file is imported at start, a new one
/// imported while the server runs applies without a restart (incidents name the new
/// department), and after a restart the store's newer directory wins over the older file.
#[test]
fn directory_in_the_store_applies_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let person = |department: &str| {
        format!(
            "[[user]]\nname = \"张三\"\ndepartment = \"{department}\"\nproxy_users = [\"zhangsan\"]\ngroups = [\"涉密人员\"]\n"
        )
    };
    let file = dir.path().join("directory.toml");
    std::fs::write(&file, person("市局/办公室")).unwrap();
    let mut s = Serve::start(
        &format!("[directory]\nfile = \"{}\"\n", file.display()),
        None,
    );
    let marked = dir.path().join("note.txt");
    std::fs::write(&marked, "机密★1年\n关于调整值班安排的通知\n").unwrap();
    let department = |s: &Serve| {
        let v = scan(s, &marked);
        let number = v["incidents"][0].as_str().expect("an incident").to_owned();
        s.api(&format!("/api/v1/incidents/{number}"))["department"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(department(&s), "市局/办公室");
    let out = cli(&s, &["directory", "status"]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.starts_with("1 people\t1 departments"), "{status}");

    let moved = dir.path().join("moved.toml");
    std::fs::write(&moved, person("市局/保密科")).unwrap();
    let out = cli(&s, &["directory", "import", moved.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = Instant::now();
    while department(&s) != "市局/保密科" {
        assert!(start.elapsed() < Duration::from_secs(15), "{}", s.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    // The same file again changes nothing; the export reads back as a directory file.
    let out = cli(&s, &["directory", "import", moved.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("unchanged"));
    let out = cli(&s, &["directory", "export"]);
    let exported = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        exported.contains("市局/保密科") && exported.contains("涉密人员"),
        "{exported}"
    );
    let again = dir.path().join("exported.toml");
    std::fs::write(&again, &exported).unwrap();
    let out = cli(&s, &["directory", "import", again.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("unchanged"),
        "{exported}"
    );

    // Restarted with the older file configured: the store's directory stays.
    s.restart();
    assert_eq!(department(&s), "市局/保密科");
    let out = cli(&s, &["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
