//! The USB inspector's faults with real parts (as root, like the agent): the real engine
//! with the default policy, tmpfs mounts as the medium and as the agent's data directory.
//! - the agent's disk full: the blocked file is left on the medium (never deleted without a
//!   kept copy), nothing is half-written, and once space returns the rescan blocks it;
//! - the medium removed before the inspection: an `uninspectable` event saying so;
//! - a file gone before its inspection: `Gone`, nothing queued;
//! - an alert-level file stays on the medium, its event queued with the content;
//! - a path that errors (ENOTDIR): an `uninspectable` event without content;
//! - an inspection over `usb.inspect_timeout_secs`: `uninspectable` (`timed_out`), the
//!   file stays, and writes to the medium meanwhile never wait;
//! - the medium unmounted mid-inspection: the copy is judged and kept, the event says
//!   `medium_removed` and `removal_failed`;
//! - the queue's disk full: the block goes ahead (the copy is in the quarantine), the
//!   journal keeps the event and a later rescan queues it once, under the same id.

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

/// `n` bytes of marked text (the marking in the first line).
fn marked_text_of(n: usize) -> String {
    let mut t = String::from("机密★5年\n关于专项工程的通知\n");
    let line = "第二阶段设备采购明细，数量与金额以财务处核定为准，各单位不得擅自调整。\n";
    while t.len() < n {
        t.push_str(line);
    }
    t
}

fn pending_in(data: &Path) -> Vec<baomi_agent::queue::Event> {
    Queue::open(&data.join("queue")).unwrap().pending().unwrap()
}

#[test]
fn a_path_that_errors_is_an_uninspectable_event_without_content() {
    let Some(stick) = Tmpfs::new("16m") else {
        eprintln!("mounting a tmpfs needs root: skipped");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let m = medium(&stick.path);
    let mut inspector = Inspector::new(engine(), config(data.path())).unwrap();
    // A path through a file (what a reader gets from a corrupt directory entry: an error
    // that is not "not found"): ENOTDIR, even for root.
    let plain = stick.path.join("报告.txt");
    std::fs::write(&plain, "周五开会。\n").unwrap();
    let bad = plain.join("附件.docx");
    let outcome = inspector.inspect_file(&m, &bad, None);
    assert!(
        matches!(&outcome, FileOutcome::Uninspectable { why, .. } if why.contains("Not a directory")),
        "{outcome:?}"
    );
    let pending = pending_in(data.path());
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].local_action, "uninspectable");
    assert_eq!(pending[0].name, "附件.docx");
    assert!(pending[0].content.is_none());
    assert!(
        pending[0].details["error"]
            .as_str()
            .unwrap()
            .contains("Not a directory"),
        "{}",
        pending[0].details
    );
}

#[test]
fn an_inspection_over_the_limit_is_uninspectable_and_never_holds_up_the_medium() {
    let Some(stick) = Tmpfs::new("400m") else {
        eprintln!("mounting a tmpfs needs root: skipped");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    // 300 MB of text: far more than one second of the engine's work. Not copied (over
    // quarantine_max_bytes), so the time measured is the inspection's.
    let file = stick.path.join("导出.txt");
    std::fs::write(&file, marked_text_of(300 << 20)).unwrap();
    let mut cfg = config(data.path());
    cfg.usb.inspect_timeout_secs = 1;
    cfg.usb.quarantine_max_bytes = 1 << 20;
    let m = medium(&stick.path);
    let mut inspector = Inspector::new(engine(), cfg).unwrap();
    let stick_path = stick.path.clone();
    // Meanwhile the user goes on writing to the medium: never waits for the agent.
    let writer = std::thread::spawn(move || {
        let mut slowest = std::time::Duration::ZERO;
        for i in 0..20 {
            let t = std::time::Instant::now();
            std::fs::write(stick_path.join(format!("note-{i}.txt")), "周五开会。\n").unwrap();
            slowest = slowest.max(t.elapsed());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        slowest
    });
    let started = std::time::Instant::now();
    let outcome = inspector.inspect_file(&m, &file, None);
    let took = started.elapsed();
    let slowest_write = writer.join().unwrap();
    assert!(
        matches!(&outcome, FileOutcome::Uninspectable { why, .. } if why.contains("longer than 1 s")),
        "{outcome:?}"
    );
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    assert!(
        slowest_write < std::time::Duration::from_millis(500),
        "{slowest_write:?}"
    );
    assert!(file.exists(), "the file stays");
    let pending = pending_in(data.path());
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].local_action, "uninspectable");
    assert_eq!(pending[0].details["timed_out"], true);
    // Remembered as it is: the minute's rescan does not report it again …
    assert_eq!(inspector.scan_medium(&m).uninspectable, 0);
    assert_eq!(pending_in(data.path()).len(), 1);
}

#[test]
fn the_medium_pulled_out_mid_inspection_keeps_the_copy_and_says_so() {
    let Some(mut stick) = Tmpfs::new("256m") else {
        eprintln!("mounting a tmpfs needs root: skipped");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let file = stick.path.join("台账.txt");
    let text = marked_text_of(120 << 20);
    std::fs::write(&file, &text).unwrap();
    let m = medium(&stick.path);
    let spool = data.path().join("spool");
    let mut inspector = Inspector::new(engine(), config(data.path())).unwrap();
    // The user pulls the stick out (umount) once the agent has its copy, while the engine
    // is still reading it.
    let mount = stick.path.clone();
    let len = text.len() as u64;
    let puller = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            let copied = std::fs::read_dir(&spool).ok().is_some_and(|d| {
                d.flatten()
                    .any(|e| e.metadata().is_ok_and(|m| m.len() == len))
            });
            if copied
                && Command::new("umount")
                    .arg(&mount)
                    .status()
                    .is_ok_and(|s| s.success())
            {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    });
    let outcome = inspector.inspect_file(&m, &file, None);
    assert!(puller.join().unwrap(), "the stick could not be unmounted");
    stick.mounted = false;
    assert!(
        matches!(&outcome, FileOutcome::NotActed { why } if why.contains("could not be removed")),
        "{outcome:?}"
    );
    let pending = pending_in(data.path());
    assert_eq!(pending.len(), 1);
    let ev = &pending[0];
    assert_eq!(ev.local_action, "alerted", "{}", ev.details);
    assert_eq!(ev.details["medium_removed"], true, "{}", ev.details);
    assert!(ev.details["removal_failed"].is_string(), "{}", ev.details);
    // What was judged is what is kept: the quarantine and the event hold the whole file.
    let queue = Queue::open(&data.path().join("queue")).unwrap();
    let mut content = Vec::new();
    queue.content(ev, &mut content).unwrap();
    assert!(content == text.as_bytes());
    let q = baomi_agent::quarantine::Quarantine::open(&data.path().join("quarantine")).unwrap();
    let entries = q.entries().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].event_id, ev.id);
}

#[test]
fn the_queues_disk_full_the_block_is_journalled_and_queued_when_space_returns() {
    let Some(stick) = Tmpfs::new("16m") else {
        eprintln!("mounting a tmpfs needs root: skipped");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let queue_dir = data.path().join("queue");
    std::fs::create_dir(&queue_dir).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "baomi-test-queue"])
        .arg(&queue_dir)
        .status()
        .unwrap();
    assert!(st.success());
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _q = Unmount(queue_dir.clone());
    let m = medium(&stick.path);
    let mut inspector = Inspector::new(engine(), config(data.path())).unwrap();
    // The queue's disk fills up (the evidence key is already there).
    let filler = queue_dir.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 4 << 20]);
    let file = stick.path.join("通知.txt");
    let text = marked_text_of(1 << 20);
    std::fs::write(&file, &text).unwrap();
    let outcome = inspector.inspect_file(&m, &file, None);
    // The copy is safe in the quarantine (another disk), so the block goes ahead …
    let FileOutcome::Blocked { event, notice } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(!file.exists());
    assert!(notice.exists());
    // … but the queue could not take the event: the journal keeps it.
    assert!(pending_in(data.path()).is_empty());
    let journal = data.path().join("usb-journal");
    assert_eq!(std::fs::read_dir(&journal).unwrap().count(), 1);
    // A rescan while the disk is still full changes nothing and loses nothing.
    inspector.scan_medium(&m);
    assert!(pending_in(data.path()).is_empty());
    assert_eq!(std::fs::read_dir(&journal).unwrap().count(), 1);
    // Space returns: the next rescan queues it, under the id the notice names, once.
    std::fs::remove_file(&filler).unwrap();
    inspector.scan_medium(&m);
    let pending = pending_in(data.path());
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, event);
    assert_eq!(pending[0].local_action, "blocked");
    assert!(
        std::fs::read_to_string(&notice)
            .unwrap()
            .contains(&format!("事件编号：{event}"))
    );
    let queue = Queue::open(&queue_dir).unwrap();
    let mut content = Vec::new();
    queue.content(&pending[0], &mut content).unwrap();
    assert!(content == text.as_bytes());
    assert_eq!(std::fs::read_dir(&journal).unwrap().count(), 0);
    // A restart finds nothing left to do.
    drop(inspector);
    let mut inspector = Inspector::new(engine(), config(data.path())).unwrap();
    inspector.scan_medium(&m);
    assert_eq!(pending_in(data.path()).len(), 1);
    let q = baomi_agent::quarantine::Quarantine::open(&data.path().join("quarantine")).unwrap();
    assert_eq!(q.entries().unwrap().len(), 1);
}
