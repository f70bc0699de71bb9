//! `baomi scan --passwords FILE` as an officer runs it: the real binary on a ZipCrypto zip
//! (zip -P) and a 7z with encrypted headers (7-Zip), each holding a marked notice. The
//! bank opens them, the marking is found and the `encrypted` finding names the password by
//! its number; DATA_DIR/passwords.txt and `scan.passwords` of the config are used too; and
//! no password ever appears in the report (JSON, human) or on stderr.

use std::path::Path;
use std::process::Command;

const SECRET: &str = "#检查 2024 surrendered";
const WRONG: &str = "unit-standard-1";

fn baomi(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .current_dir(data.parent().expect("data dir has a parent"))
        .output()
        .expect("running baomi");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tool(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `docs/` with `材料.zip` (ZipCrypto) and `卷宗.7z` (headers and content encrypted).
fn samples(dir: &Path) -> std::path::PathBuf {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        dir.join("通知.txt"),
        "机密★5年\n关于加强保密工作的通知\n各单位：请严格执行。\n",
    )
    .unwrap();
    tool(
        Command::new("zip")
            .args(["-q", "-P", SECRET])
            .arg(docs.join("材料.zip"))
            .arg("通知.txt")
            .current_dir(dir),
    );
    let sevenzip = if Command::new("7zz").arg("i").output().is_ok() {
        "7zz"
    } else {
        "7z"
    };
    tool(
        Command::new(sevenzip)
            .args(["a", "-bso0", "-mhe=on"])
            .arg(format!("-p{SECRET}"))
            .arg(docs.join("卷宗.7z"))
            .arg("通知.txt")
            .current_dir(dir),
    );
    docs
}

fn findings(json: &str) -> Vec<serde_json::Value> {
    json.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .flat_map(|o| o["findings"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn reasons(found: &[serde_json::Value], kind: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = found
        .iter()
        .filter(|f| f["kind"] == kind)
        .map(|f| {
            (
                f["part"].as_str().unwrap_or_default().to_owned(),
                f["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn assert_opened(code: i32, out: &str, err: &str) {
    assert!(
        !out.contains(SECRET) && !err.contains(SECRET),
        "{out}\n{err}"
    );
    assert!(!out.contains(WRONG) && !err.contains(WRONG), "{out}\n{err}");
    assert_eq!(code, 1, "{out}\n{err}");
    let found = findings(out);
    assert_eq!(
        reasons(&found, "encrypted"),
        [
            (
                "卷宗.7z".to_owned(),
                "7z archive with encrypted headers, opened with bank password #2".to_owned()
            ),
            (
                "卷宗.7z/通知.txt".to_owned(),
                "7z entry encrypted (AES-256), opened with bank password #2".to_owned()
            ),
            (
                "材料.zip/通知.txt".to_owned(),
                "zip entry encrypted (ZipCrypto), opened with bank password #2".to_owned()
            ),
        ]
    );
    let markings: Vec<&str> = found
        .iter()
        .filter(|f| f["kind"] == "marking" && f["text"] == "机密★5年")
        .map(|f| f["part"].as_str().unwrap_or_default())
        .collect();
    assert!(markings.contains(&"材料.zip/通知.txt"), "{out}");
    assert!(markings.contains(&"卷宗.7z/通知.txt"), "{out}");
}

#[test]
fn scan_with_a_password_bank() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    samples(dir.path());
    // Relative, as the report's paths are: run in `dir`.
    let docs = "docs";
    let bank = dir.path().join("bank.txt");
    // Blank lines do not count: the secret is password #2.
    std::fs::write(&bank, format!("{WRONG}\n\n{SECRET}\r\n")).unwrap();
    let bank_arg = bank.to_str().unwrap();
    let base = ["scan", "--no-progress", "--format", "json"];

    // Without a bank: today's findings, nothing opened.
    let (_, out, err) = baomi(&data, &[&base[..], &[docs]].concat());
    let found = findings(&out);
    assert_eq!(
        reasons(&found, "encrypted"),
        [
            (
                "卷宗.7z".to_owned(),
                "7z archive with encrypted headers".to_owned()
            ),
            (
                "材料.zip/通知.txt".to_owned(),
                "zip entry encrypted (ZipCrypto)".to_owned()
            ),
        ],
        "{err}"
    );
    assert!(!found.iter().any(|f| f["kind"] == "marking"), "{out}");

    // --passwords FILE.
    let (code, out, err) = baomi(
        &data,
        &[&base[..], &["--passwords", bank_arg, docs]].concat(),
    );
    assert_opened(code, &out, &err);

    // The human report says the same without the password.
    let (_, human, err) = baomi(
        &data,
        &["scan", "--no-progress", "--passwords", bank_arg, docs],
    );
    assert!(human.contains("opened with bank password #2"), "{human}");
    assert!(!human.contains(SECRET) && !err.contains(SECRET));

    // A wrong bank: not opened, and the finding says how many were tried.
    let wrong = dir.path().join("wrong.txt");
    std::fs::write(&wrong, format!("{WRONG}\nanother\n")).unwrap();
    let (_, out, _) = baomi(
        &data,
        &[&base[..], &["--passwords", wrong.to_str().unwrap(), docs]].concat(),
    );
    let found = findings(&out);
    assert_eq!(
        reasons(&found, "encrypted")[1].1,
        "zip entry encrypted (ZipCrypto), none of the 2 bank passwords opened it"
    );
    assert!(!found.iter().any(|f| f["kind"] == "marking"), "{out}");

    // `scan.passwords` of the configuration file.
    let config = dir.path().join("baomi.toml");
    std::fs::write(&config, format!("[scan]\npasswords = {:?}\n", bank_arg)).unwrap();
    let (code, out, err) = baomi(
        &data,
        &[
            &["--config", config.to_str().unwrap()][..],
            &base[..],
            &[docs],
        ]
        .concat(),
    );
    assert_opened(code, &out, &err);

    // DATA_DIR/passwords.txt when nothing else is named.
    std::fs::copy(&bank, data.join("passwords.txt")).unwrap();
    let (code, out, err) = baomi(&data, &[&base[..], &[docs]].concat());
    assert_opened(code, &out, &err);

    // A bank that is not UTF-8 is refused with a message, not read as garbage.
    let gbk = dir.path().join("gbk.txt");
    std::fs::write(&gbk, b"\xb1\xa3\xc3\xdc\n").unwrap();
    let (code, out, err) = baomi(
        &data,
        &[&base[..], &["--passwords", gbk.to_str().unwrap(), docs]].concat(),
    );
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("not UTF-8"), "{err}");
}
