//! `baomi agent` and removable media end to end, with the real binary as root: a tmpfs
//! mounted under a temporary directory is the "USB stick" (`--watch` names it: a tmpfs has
//! no USB device in sysfs), a real `baomi serve` the server. `cp` of a marked DOCX made by
//! LibreOffice → within 5 s the file is gone from the stick, the notice is in its place, the
//! quarantined copy decrypts to the original, the server holds the incident (channel usb,
//! the evidence is the file); a clean file stays untouched; with the server down the
//! incident waits in the queue and arrives once it is back; the same event delivered twice
//! through the API is one incident; kill -9 of the agent mid-inspection → on restart the
//! file is inspected; `usb.mode = "read-only-unless-registered"` remounts the stick
//! read-only. With a sysfs tree of the test's own (`--sys`) placing loop-mounted ext4 images
//! under USB devices with serials: a stick issued in the server's carrier ledger is
//! remounted writable, an unknown one read-only, offline the kept answers decide, a stick
//! handed back is read-only the next time.

#[allow(dead_code)]
mod support {
    pub mod serve;
}

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::serve::{Serve, soffice_docx, stop_child};

/// A tmpfs mounted at a temporary directory, unmounted on drop.
struct Stick {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Stick {
    fn new() -> Stick {
        let dir = tempfile::Builder::new()
            .prefix("baomi-stick-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("KINGSTON");
        std::fs::create_dir(&path).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256m", "baomi-test-stick"])
            .arg(&path)
            .status()
            .expect("mount");
        assert!(st.success(), "mounting a tmpfs needs root");
        Stick { _dir: dir, path }
    }
}

impl Drop for Stick {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// The agent as a child process, its log in a file.
struct Agent {
    child: Child,
    log: PathBuf,
}

impl Agent {
    fn start(config: &Path, stick: &Path, log: &Path) -> Agent {
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_baomi"))
            .args(["agent", "--config"])
            .arg(config)
            .arg("--watch")
            .arg(stick)
            .env("BAOMI_LOG", "baomi_agent=debug,info")
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .unwrap();
        Agent {
            child,
            log: log.to_owned(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

fn agent_config(dir: &Path, server: Option<(&Serve, &str)>, extra: &str) -> PathBuf {
    let data = dir.join("agent-data");
    let mut text = format!(
        "data_dir = \"{}\"\nmachine = \"pc-test-01\"\nperson = \"zhangsan\"\ncontact = \"保密办 王某 分机 8001\"\n",
        data.display()
    );
    if let Some((serve, token)) = server {
        text.push_str(&format!(
            "server = \"http://127.0.0.1:{}\"\ntoken = \"{token}\"\n",
            serve.http
        ));
    }
    text.push_str(extra);
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool, log: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {secs} s\n{}", log());
}

fn usb_incidents(serve: &Serve) -> Vec<Value> {
    serve.api("/api/v1/incidents?channel=usb&limit=100")["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Decrypt the quarantined copy of the file that was at `original` on the stick.
fn quarantined(quarantine: &Path, original: &Path) -> Vec<u8> {
    let index = std::fs::read_to_string(quarantine.join("index.jsonl")).unwrap();
    let entry: Value = index
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["path"] == original.to_str().unwrap())
        .unwrap_or_else(|| panic!("{original:?} not in the quarantine index:\n{index}"));
    let vault = baomi_store::evidence::EvidenceVault::open(quarantine).unwrap();
    let mut out = Vec::new();
    vault
        .get(entry["hash"].as_str().unwrap(), &mut out)
        .unwrap();
    out
}

fn pending(data: &Path) -> usize {
    std::fs::read_dir(data.join("queue/pending"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_marked_docx_copied_to_the_stick_is_moved_off_kept_and_reported_once() {
    let stick = Stick::new();
    let mut serve = Serve::start("", None);
    let work = tempfile::tempdir().unwrap();
    let docs = work.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    let secret = soffice_docx(
        &docs,
        "工程通知",
        "机密★5年\n关于专项工程第二阶段部署的通知\n各参建单位：第二阶段于明年三月启动。\n",
    );
    let clean = soffice_docx(&docs, "会议安排", "周五下午三点开会，地点三楼会议室。\n");
    let token = serve.scan_token.clone();
    let config = agent_config(work.path(), Some((&serve, &token)), "");
    let data = work.path().join("agent-data");
    let agent = Agent::start(&config, &stick.path, &work.path().join("agent.log"));
    wait_for(
        "the agent watches the stick",
        30,
        || agent.log().contains("removable medium"),
        &|| agent.log(),
    );

    // The clean file first, then the marked one, with cp as a person would.
    let st = Command::new("cp")
        .arg(&clean)
        .arg(&stick.path)
        .status()
        .unwrap();
    assert!(st.success());
    let started = Instant::now();
    let st = Command::new("cp")
        .arg(&secret)
        .arg(&stick.path)
        .status()
        .unwrap();
    assert!(st.success());
    let on_stick = stick.path.join("工程通知.docx");
    let notice = stick.path.join("工程通知.docx.baomi-blocked.txt");
    wait_for(
        "the marked file is moved off the stick",
        5,
        || !on_stick.exists() && notice.exists(),
        &|| agent.log(),
    );
    eprintln!("moved off the stick after {:?}", started.elapsed());
    let text = std::fs::read_to_string(&notice).unwrap();
    assert!(text.contains("工程通知.docx"), "{text}");
    assert!(
        text.contains("密级标志") || text.contains("原因："),
        "{text}"
    );
    assert!(text.contains("保密办 王某 分机 8001"), "{text}");
    assert!(
        !text.contains("第二阶段"),
        "the notice must not quote the content: {text}"
    );
    // Kept, encrypted, decrypting to the original.
    assert_eq!(
        quarantined(&data.join("quarantine"), &on_stick),
        std::fs::read(&secret).unwrap()
    );
    // The clean file is untouched, and has no notice.
    assert_eq!(
        std::fs::read(stick.path.join("会议安排.docx")).unwrap(),
        std::fs::read(&clean).unwrap()
    );
    assert!(!stick.path.join("会议安排.docx.baomi-blocked.txt").exists());

    // The server holds the incident: channel usb, the person, the machine, the evidence.
    wait_for(
        "the incident reaches the server",
        20,
        || usb_incidents(&serve).len() == 1,
        &|| format!("{}\n{}", agent.log(), serve.log()),
    );
    let inc = usb_incidents(&serve).remove(0);
    assert_eq!(inc["channel"], "usb", "{inc}");
    assert_eq!(inc["action"], "block", "{inc}");
    assert_eq!(inc["object_name"], "工程通知.docx", "{inc}");
    assert_eq!(inc["user"], "zhangsan", "{inc}");
    assert_eq!(inc["source"], "agent:pc-test-01", "{inc}");
    assert_eq!(inc["level"], "secret", "{inc}");
    let number = inc["number"].as_str().unwrap().to_owned();
    assert_eq!(serve.evidence(&number), std::fs::read(&secret).unwrap());
    assert_eq!(pending(&data), 0, "delivered events leave the queue");

    // The same event delivered twice (an answer lost on the way) is one incident: the
    // second answer is the first one again, without inspecting.
    let url = format!(
        "http://127.0.0.1:{}/api/v1/scan?channel=usb&name=x.docx&event_id=0b6f1c1e-8a43-4f6e-9f0e-2d6f3f0e9a11&at=2026-12-01T02:30:00Z&local_action=blocked&source=agent:pc-test-02",
        serve.http
    );
    let post = |body: &Path| {
        let (code, body) = serve.curl_as(
            &token,
            &[
                "-X",
                "POST",
                "--data-binary",
                &format!("@{}", body.display()),
                &url,
            ],
        );
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice::<Value>(&body).unwrap()
    };
    let first = post(&secret);
    assert_eq!(first["already"], false, "{first}");
    // Even with other content, the id decides: the first answer comes back.
    let second = post(&clean);
    assert_eq!(second["already"], true, "{second}");
    assert_eq!(first["incidents"], second["incidents"]);
    assert_eq!(first["action"], second["action"]);
    assert_eq!(usb_incidents(&serve).len(), 2);
    let dated = usb_incidents(&serve)
        .into_iter()
        .find(|i| i["source"] == "agent:pc-test-02")
        .unwrap();
    // Dated when it happened on the computer, not when it arrived.
    assert_eq!(dated["created_ms"], 1_796_092_200_000i64, "{dated}");
    // Bad event parameters are a clear 400.
    for bad in [
        "event_id=../x",
        "event_id=e1&at=yesterday",
        "event_id=e1&local_action=shredded",
        "at=2026-12-01T02:30:00Z",
    ] {
        let (code, body) = serve.curl_as(
            &token,
            &[
                "-X",
                "POST",
                "--data-binary",
                "x",
                &format!(
                    "http://127.0.0.1:{}/api/v1/scan?channel=usb&{bad}",
                    serve.http
                ),
            ],
        );
        assert_eq!(code, 400, "{bad}: {}", String::from_utf8_lossy(&body));
    }

    // The server goes down: the agent still blocks, and the incident waits in its queue …
    serve.kill();
    let secret2 = docs.join("工程通知-副本.docx");
    std::fs::copy(&secret, &secret2).unwrap();
    let st = Command::new("cp")
        .arg(&secret2)
        .arg(&stick.path)
        .status()
        .unwrap();
    assert!(st.success());
    let on_stick2 = stick.path.join("工程通知-副本.docx");
    wait_for(
        "blocked with the server down",
        5,
        || !on_stick2.exists(),
        &|| agent.log(),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(pending(&data), 1, "the event waits in the queue");
    // … and arrives once the server is back (the agent backs off, 1 s doubling).
    serve.restart();
    wait_for(
        "the waiting incident arrives after the server is back",
        40,
        || usb_incidents(&serve).len() == 3,
        &|| format!("{}\n{}", agent.log(), serve.log()),
    );
    assert!(
        usb_incidents(&serve)
            .iter()
            .any(|i| i["object_name"] == "工程通知-副本.docx")
    );
    wait_for("the queue empties", 10, || pending(&data) == 0, &|| {
        agent.log()
    });
    drop(agent);
}

#[test]
fn killed_mid_inspection_the_file_is_inspected_on_restart() {
    let stick = Stick::new();
    let work = tempfile::tempdir().unwrap();
    // No server: the agent works alone and keeps its incidents in the queue.
    let config = agent_config(work.path(), None, "[usb]\ninspect_timeout_secs = 300\n");
    let data = work.path().join("agent-data");
    let log = work.path().join("agent.log");
    let mut agent = Agent::start(&config, &stick.path, &log);
    wait_for(
        "the agent watches the stick",
        30,
        || agent.log().contains("removable medium"),
        &|| agent.log(),
    );
    // A large marked text: its inspection takes a while, long enough to kill the agent in.
    let big = work.path().join("台账导出.txt");
    let mut text = String::from("秘密★1年\n项目经费台账\n");
    let line = "第二阶段设备采购明细，数量与金额以财务处核定为准，各单位不得擅自调整。\n";
    while text.len() < 40 << 20 {
        text.push_str(line);
    }
    std::fs::write(&big, &text).unwrap();
    let st = Command::new("cp")
        .arg(&big)
        .arg(&stick.path)
        .status()
        .unwrap();
    assert!(st.success());
    let on_stick = stick.path.join("台账导出.txt");
    wait_for(
        "the agent starts inspecting",
        10,
        || agent.log().contains("inspecting"),
        &|| agent.log(),
    );
    agent.kill9();
    assert!(
        on_stick.exists(),
        "the agent finished before it was killed; the file is too small for this test:\n{}",
        agent.log()
    );
    assert_eq!(pending(&data), 0);

    // On restart (here --once, as cron would), the startup scan inspects it.
    let out = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .args(["agent", "--once", "--config"])
        .arg(&config)
        .arg("--watch")
        .arg(&stick.path)
        .env("BAOMI_LOG", "info")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(!on_stick.exists(), "{said}");
    assert!(stick.path.join("台账导出.txt.baomi-blocked.txt").exists());
    assert!(said.contains("1 blocked"), "{said}");
    assert_eq!(
        pending(&data),
        1,
        "kept in the queue without a server: {said}"
    );
    assert_eq!(
        quarantined(&data.join("quarantine"), &on_stick),
        text.as_bytes()
    );

    // A second start finds nothing new: the scan is incremental.
    std::fs::write(stick.path.join("notes.txt"), "周五开会。\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .args(["agent", "--once", "--config"])
        .arg(&config)
        .arg("--watch")
        .arg(&stick.path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(said.contains("1 inspected, 0 blocked"), "{said}");
    let out = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .args(["agent", "--once", "--config"])
        .arg(&config)
        .arg("--watch")
        .arg(&stick.path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(said.contains("0 inspected"), "{said}");
}

#[test]
fn an_unregistered_stick_is_made_read_only() {
    let stick = Stick::new();
    let work = tempfile::tempdir().unwrap();
    let config = agent_config(
        work.path(),
        None,
        "[usb]\nmode = \"read-only-unless-registered\"\nregistered = [\"E0D55EA5741\"]\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .args(["agent", "--once", "--config"])
        .arg(&config)
        .arg("--watch")
        .arg(&stick.path)
        .env("BAOMI_LOG", "info")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = std::fs::write(stick.path.join("a.txt"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(30), "EROFS expected: {err}");
}

/// A sysfs tree of the test's own (`baomi agent --sys`): each stick added is a real block
/// device (an ext4 image mounted with `mount -o loop`, major 7) that this tree places under
/// a USB device with a serial, as the kernel's sysfs does for a USB stick. The agent finds
/// it from mountinfo and sysfs alone, without `--watch`.
struct FakeSys {
    dir: tempfile::TempDir,
    mounts: Vec<PathBuf>,
}

impl FakeSys {
    fn new() -> FakeSys {
        FakeSys {
            dir: tempfile::Builder::new()
                .prefix("baomi-sys-")
                .tempdir()
                .unwrap(),
            mounts: Vec::new(),
        }
    }

    fn sys(&self) -> PathBuf {
        self.dir.path().join("sys")
    }

    /// A 16 MB ext4 stick with `serial`, mounted read-write; its mount point.
    fn stick(&mut self, name: &str, serial: &str) -> PathBuf {
        let root = self.dir.path();
        let img = root.join(format!("{name}.img"));
        std::fs::File::create(&img)
            .unwrap()
            .set_len(16 << 20)
            .unwrap();
        let st = Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(&img)
            .status()
            .expect("mkfs.ext4 (e2fsprogs)");
        assert!(st.success());
        let at = root.join(name);
        std::fs::create_dir(&at).unwrap();
        let st = Command::new("mount")
            .args(["-o", "loop"])
            .arg(&img)
            .arg(&at)
            .status()
            .unwrap();
        assert!(
            st.success(),
            "mount -o loop needs root and a free loop device"
        );
        self.mounts.push(at.clone());
        // Anyone may write to it (the test writes as root anyway).
        let _ = Command::new("chmod").arg("1777").arg(&at).status();
        let line = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(at.to_str().unwrap()))
            .map(str::to_owned)
            .expect("the stick in mountinfo");
        let dev = line.split(' ').nth(2).unwrap().to_owned();
        let (_, minor) = dev.split_once(':').unwrap();
        let usb = self
            .sys()
            .join(format!("devices/pci0000:00/0000:00:14.0/usb1/1-{minor}"));
        let block = usb.join(format!(
            "1-{minor}:1.0/host{minor}/target{minor}:0:0/{minor}:0:0:0/block/loop{minor}"
        ));
        std::fs::create_dir_all(&block).unwrap();
        for (f, v) in [
            ("idVendor", "0951"),
            ("idProduct", "1666"),
            ("manufacturer", "Kingston"),
            ("product", "DataTraveler 3.0"),
            ("serial", serial),
        ] {
            std::fs::write(usb.join(f), format!("{v}\n")).unwrap();
        }
        std::fs::write(block.join("removable"), "1\n").unwrap();
        std::fs::create_dir_all(self.sys().join("dev/block")).unwrap();
        std::os::unix::fs::symlink(&block, self.sys().join(format!("dev/block/{dev}"))).unwrap();
        at
    }
}

impl Drop for FakeSys {
    fn drop(&mut self) {
        for m in &self.mounts {
            // The loop device is freed with the last unmount (autoclear).
            let _ = Command::new("umount").arg(m).status();
        }
    }
}

fn writable(dir: &Path) -> bool {
    match std::fs::write(dir.join("probe.txt"), "x") {
        Ok(()) => {
            let _ = std::fs::remove_file(dir.join("probe.txt"));
            true
        }
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(30), "EROFS expected: {e}");
            false
        }
    }
}

fn remount(dir: &Path, opt: &str) {
    let st = Command::new("mount")
        .args(["-o", &format!("remount,{opt}")])
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn a_stick_issued_in_the_ledger_stays_writable_and_an_unknown_one_is_made_read_only() {
    let mut sys = FakeSys::new();
    let issued = sys.stick("LEDGER", "E0D55EA5741");
    let unknown = sys.stick("STRANGER", "AA00112233FF");
    let mut serve = Serve::start("", None);
    let port = serve.http;
    let api = |path: &str| format!("http://127.0.0.1:{port}{path}");
    // The security officer registers the stick in the carrier ledger and issues it.
    let (code, body) = serve.curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data",
        r#"{"number":"YD-2026-007","kind":"removable","name":"金士顿 U盘 32G","serial":"e0d55ea5741","level":"机密","responsible":"王某","department":"办公室"}"#,
        &api("/api/v1/carriers"),
    ]);
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&body));
    let (code, body) = serve.curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data",
        r#"{"event":"issued","holder":"张三"}"#,
        &api("/api/v1/carriers/YD-2026-007/events"),
    ]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));

    // What the agent's token is told (case does not matter, unknown is an answer).
    let token = serve.scan_token.clone();
    let ask = |serial: &str| {
        let (code, body) = serve.curl_as(
            &token,
            &[&api(&format!("/api/v1/agent/carrier?serial={serial}"))],
        );
        (
            code,
            serde_json::from_slice::<Value>(&body).unwrap_or_default(),
        )
    };
    let (code, a) = ask("E0D55EA5741");
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["registered"], true, "{a}");
    assert_eq!(a["writable"], true, "{a}");
    assert_eq!(a["number"], "YD-2026-007", "{a}");
    assert_eq!(a["holder"], "张三", "{a}");
    assert_eq!(a["state"], "issued", "{a}");
    let (code, a) = ask("AA00112233FF");
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["registered"], false, "{a}");
    assert_eq!(a["writable"], false, "{a}");
    assert_eq!(ask("a%20b").0, 400);

    let work = tempfile::tempdir().unwrap();
    let config = agent_config(
        work.path(),
        Some((&serve, &token)),
        "[usb]\nmode = \"read-only-unless-registered\"\n",
    );
    let once = || {
        let out = Command::new(env!("CARGO_BIN_EXE_baomi"))
            .args(["agent", "--once", "--config"])
            .arg(&config)
            .arg("--sys")
            .arg(sys.sys())
            .env("BAOMI_LOG", "baomi_agent=info")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{said}");
        said
    };
    // The issued stick was mounted read-only (udisks2's `defaults=ro`): remounted writable.
    remount(&issued, "ro");
    assert!(!writable(&issued));
    let said = once();
    assert!(
        said.contains("2 media"),
        "both sticks found by sysfs: {said}"
    );
    assert!(writable(&issued), "the issued stick is writable: {said}");
    assert!(
        !writable(&unknown),
        "the unknown stick is read-only: {said}"
    );
    assert!(said.contains("\"server\""), "decided by the server: {said}");
    assert!(said.contains("YD-2026-007"), "{said}");
    let kept: Value = serde_json::from_slice(
        &std::fs::read(work.path().join("agent-data/carriers.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(kept["E0D55EA5741"]["writable"], true, "{kept}");
    assert_eq!(kept["AA00112233FF"]["registered"], false, "{kept}");

    // Offline: the server is down; the kept answers decide.
    serve.kill();
    remount(&issued, "ro");
    remount(&unknown, "rw");
    let said = once();
    assert!(writable(&issued), "offline, by the kept answer: {said}");
    assert!(!writable(&unknown), "{said}");
    assert!(
        said.contains("\"cache\""),
        "decided by the kept answer: {said}"
    );

    // The stick is handed back (清退): the next time it appears it is read-only.
    serve.restart();
    let (code, body) = serve.curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data",
        r#"{"event":"returned","holder":"张三"}"#,
        &api("/api/v1/carriers/YD-2026-007/events"),
    ]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let said = once();
    assert!(!writable(&issued), "a returned stick is read-only: {said}");
    let kept: Value = serde_json::from_slice(
        &std::fs::read(work.path().join("agent-data/carriers.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(kept["E0D55EA5741"]["state"], "returned", "{kept}");
    drop(serve);
}
