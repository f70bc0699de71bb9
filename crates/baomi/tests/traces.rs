//! `baomi traces` as an inspector runs it: the real binary on a `--root` tree with a kernel
//! log in the kernel's wording and a Chromium History made by sqlite3; JSON Lines out, exit
//! codes 0/1/2, and `--report-file` giving a run report the server imports
//! (`baomi campaign import`) as it imports a scan's, an incident per alerting trace.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn baomi(args: &[&str], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baomi"))
        .args(args)
        .env("BAOMI_DATA_DIR", data)
        // No agent config on the test machine's /etc decides for the test.
        .env("BAOMI_AGENT_CONFIG", data.join("agent.toml"))
        .env_remove("BAOMI_TOKEN")
        .output()
        .unwrap()
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

const KERN_LOG: &str = "2026-12-01T09:12:33.000000+08:00 pc kernel: [   12.345678] usb 1-1: New USB device found, idVendor=0781, idProduct=5581, bcdDevice= 1.00
2026-12-01T09:12:33.000100+08:00 pc kernel: [   12.345700] usb 1-1: Product: Ultra
2026-12-01T09:12:33.000200+08:00 pc kernel: [   12.345800] usb 1-1: Manufacturer: SanDisk
2026-12-01T09:12:33.000300+08:00 pc kernel: [   12.345900] usb 1-1: SerialNumber: 4C530001230101104353
2026-12-01T09:12:33.100000+08:00 pc kernel: [   12.400000] usb-storage 1-1:1.0: USB Mass Storage device detected
";

#[test]
fn traces_json_exit_codes_and_the_run_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    write(&data.join("agent.toml"), "classified = true\n");

    // Nothing there: exit 0, nothing printed.
    let empty = dir.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = baomi(
        &["traces", "--json", "--root", empty.to_str().unwrap()],
        &data,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    let root = dir.path().join("root");
    write(&root.join("var/log/kern.log"), KERN_LOG);
    let history = root.join("home/li/.config/chromium/Default/History");
    fs::create_dir_all(history.parent().unwrap()).unwrap();
    let webkit = (1_796_087_553_000i64 + 11_644_473_600_000) * 1000;
    let made = Command::new("sqlite3")
        .arg(&history)
        .arg(format!(
            "CREATE TABLE urls(id INTEGER PRIMARY KEY AUTOINCREMENT,url LONGVARCHAR,title LONGVARCHAR,visit_count INTEGER DEFAULT 0 NOT NULL,typed_count INTEGER DEFAULT 0 NOT NULL,last_visit_time INTEGER NOT NULL,hidden INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE visits(id INTEGER PRIMARY KEY AUTOINCREMENT,url INTEGER NOT NULL,visit_time INTEGER NOT NULL,from_visit INTEGER,transition INTEGER DEFAULT 0 NOT NULL,segment_id INTEGER,visit_duration INTEGER DEFAULT 0 NOT NULL);
INSERT INTO urls VALUES(1,'https://www.baidu.com/','百度',1,0,{webkit},0);
INSERT INTO visits(url,visit_time) VALUES(1,{webkit});"
        ))
        .status()
        .unwrap();
    assert!(made.success());

    let report = dir.path().join("traces-run.jsonl");
    let out = baomi(
        &[
            "traces",
            "--json",
            "--root",
            root.to_str().unwrap(),
            "--machine",
            "JMJ-PC07",
            "--person",
            "李四",
            "--report-file",
            report.to_str().unwrap(),
        ],
        &data,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let usb = lines.iter().find(|l| l["kind"] == "trace.usb").unwrap();
    assert_eq!(usb["serial"], "4C530001230101104353");
    assert_eq!(usb["vendor"], "SanDisk");
    assert_eq!(usb["vendor_id"], "0781");
    assert_eq!(usb["first_seen"], "2026-12-01T09:12:33+08:00");
    assert_eq!(usb["alerts"], true, "the agent config says classified");
    let web = lines
        .iter()
        .find(|l| l["kind"] == "trace.internet")
        .unwrap();
    assert_eq!(web["hosts"][0]["host"], "www.baidu.com");
    assert_eq!(web["last_seen"], "2026-12-01T09:12:33+08:00");

    // The run report is what `baomi scan --report-file` writes, so the server imports it.
    let out = baomi(&["campaign", "import", report.to_str().unwrap()], &data);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("计算机 JMJ-PC07，李四"), "{said}");
    assert!(said.contains("事件 2 件"), "{said}");

    // A garbage hive: exit 2, an error line, no panic.
    let bad = dir.path().join("SYSTEM");
    fs::write(&bad, b"regf\0\0\0\0garbage").unwrap();
    let out = baomi(
        &["traces", "--json", "--hive", bad.to_str().unwrap()],
        &data,
    );
    assert_eq!(out.status.code(), Some(2));
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["kind"], "trace.error");
    assert!(
        line["message"].as_str().unwrap().contains("已损坏"),
        "{line}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));

    // The human output has the inspection's headings and Beijing time.
    let out = baomi(&["traces", "--root", root.to_str().unwrap()], &data);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("移动存储设备使用痕迹（1 条）"), "{text}");
    assert!(text.contains("违规外联痕迹"), "{text}");
    assert!(text.contains("2026-12-01 09:12:33"), "{text}");
}
