//! The USB inspector's faults with real parts (as root, like the agent): the real engine
//! with the default policy, tmpfs mounts as the medium and as the agent's data directory.
//! - the agent's disk full: the blocked file is left on the medium (never deleted without a
//!   kept copy), nothing is half-written, and once space returns the rescan blocks it;
//! - the medium removed before the inspection: an `uninspectable` event saying so;
//! - a file gone before its inspection: `Gone`, nothing queued;
//! - an alert-level file stays on the medium, its event queued with the content.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use baomi_agent::config::AgentConfig;
use baomi_agent::queue::Queue;
use baomi_agent::usb::{FileOutcome, Inspector, Medium};
use baomi_core::policy::Policy;
use baomi_engine::{Engine, EngineConfig, Limits};

struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
    mounted: bool,
}

impl Tmpfs {
    fn new(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        std::fs::create_dir(&path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "baomi-test"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs {
            _dir: dir,
            path,
            mounted: true,
        })
    }

    fn unmount(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        self.mounted = false;
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if self.mounted {
            self.unmount();
        }
    }
}

fn engine() -> Arc<Engine> {
    Arc::new(
        Engine::new(EngineConfig {
            policy: Policy::default(),
            dictionaries: Vec::new(),
            limits: Limits::default(),
            fingerprints: None,
        })
        .unwrap(),
    )
}

fn medium(at: &Path) -> Medium {
    Medium {
        mount_point: at.to_owned(),
        device: None,
        source: "baomi-test".into(),
        explicit: true,
        is_mount: true,
    }
}

fn config(data: &Path) -> AgentConfig {
    AgentConfig {
        data_dir: data.to_owned(),
        machine: Some("pc-test".into()),
        person: Some("zhangsan".into()),
        ..Default::default()
    }
}

/// 2 MB of a marked document's text.
fn marked_text() -> String {
    let mut t = String::from("机密★5年\n关于专项工程的通知\n");
    let mut i = 0u64;
    while t.len() < 2 << 20 {
        t.push_str(&format!(
            "第{i}项：设备编号 {:x}，按计划实施。\n",
            i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ));
        i += 1;
    }
    t
}

#[test]
fn the_agents_disk_full_leaves_the_file_and_the_rescan_blocks_it_later() {
    let Some(stick) = Tmpfs::new("64m") else {
        eprintln!("mounting a tmpfs needs root: skipped");
        return;
    };
    let data = Tmpfs::new("1m").unwrap();
    let file = stick.path.join("通知.txt");
    let text = marked_text();
    std::fs::write(&file, &text).unwrap();
    let m = medium(&stick.path);
    let mut inspector = Inspector::new(engine(), config(&data.path)).unwrap();
    let outcome = inspector.inspect_file(&m, &file, None);
    assert!(
        matches!(&outcome, FileOutcome::NotActed { why } if why.contains("disk full")),
        "{outcome:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "left as it was"
    );
    assert!(!stick.path.join("通知.txt.baomi-blocked.txt").exists());

    // Space returns: the next rescan blocks it.
    let st = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&data.path)
        .status()
        .unwrap();
    assert!(st.success());
    let count = inspector.scan_medium(&m);
    assert_eq!(count.blocked, 1, "{count:?}");
    assert!(!file.exists());
    assert!(stick.path.join("通知.txt.baomi-blocked.txt").exists());
    let queue = Queue::open(&data.path.join("queue")).unwrap();
    let pending = queue.pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].local_action, "blocked");
    assert_eq!(pending[0].person.as_deref(), Some("zhangsan"));
    let mut content = Vec::new();
    queue.content(&pending[0], &mut content).unwrap();
    assert_eq!(content, text.as_bytes());
}

#[test]
fn a_medium_removed_before_inspection_is_an_uninspectable_event() {
    let Some(mut stick) = Tmpfs::new("16m") else {
        eprintln!("mounting a tmpfs needs root: skipped");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let file = stick.path.join("报告.docx");
    std::fs::write(&file, b"PK\x03\x04 not really").unwrap();
    let m = medium(&stick.path);
    let mut inspector = Inspector::new(engine(), config(data.path())).unwrap();
    stick.unmount();
    let outcome = inspector.inspect_file(&m, &file, None);
    assert!(
        matches!(outcome, FileOutcome::Uninspectable { .. }),
        "{outcome:?}"
    );
    let queue = Queue::open(&data.path().join("queue")).unwrap();
    let pending = queue.pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].local_action, "uninspectable");
    assert_eq!(pending[0].name, "报告.docx");
    assert_eq!(pending[0].details["medium_removed"], true);
    assert!(pending[0].content.is_none());
}

#[test]
fn gone_files_and_alert_files() {
    let Some(stick) = Tmpfs::new("16m") else {
        eprintln!("mounting a tmpfs needs root: skipped");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let m = medium(&stick.path);
    let mut inspector = Inspector::new(engine(), config(data.path())).unwrap();
    // Deleted (or renamed) before the agent got to it.
    assert_eq!(
        inspector.inspect_file(&m, &stick.path.join("gone.txt"), None),
        FileOutcome::Gone
    );
    // A list of 60 mobile numbers is an alert (bulk-phone-numbers): the file stays, the
    // event carries it.
    let file = stick.path.join("通讯录.txt");
    let list: String = (0..60)
        .map(|i| format!("联系人{i}：手机 {}\n", 13_800_138_000u64 + i * 7))
        .collect();
    std::fs::write(&file, list).unwrap();
    let outcome = inspector.inspect_file(&m, &file, None);
    assert!(
        matches!(outcome, FileOutcome::Alerted { .. }),
        "{outcome:?}"
    );
    assert!(file.exists());
    // Inspected once: the same file again is unchanged.
    assert_eq!(inspector.scan_medium(&m).inspected, 0);
    let queue = Queue::open(&data.path().join("queue")).unwrap();
    let pending = queue.pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].local_action, "alerted");
    // A clean file: nothing queued.
    let clean = stick.path.join("会议.txt");
    std::fs::write(&clean, "周五下午三点开会。\n").unwrap();
    assert_eq!(inspector.inspect_file(&m, &clean, None), FileOutcome::Clean);
    assert_eq!(queue.pending().unwrap().len(), 1);
}
