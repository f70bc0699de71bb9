//! The scan queue seen from the console (issue 14 §5), in Chromium against the real binary:
//! a share enqueued with `baomi scan --queue` shows on 自查任务进度 as waiting for a worker;
//! while a slow `baomi worker` runs, the page says 进行中 and refreshes itself (the Refresh
//! header: nobody reloads it here) until it says 已完成 with every file counted and the one
//! marked file's incident; the job's page lists that file with a link to the incident, and
//! the batches and the worker that did them. The system administrator, who holds no
//! records permission, is refused the pages.

#[allow(dead_code)]
mod support {
    pub mod browser;
    pub mod serve;
}

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::Value;
use support::browser::{
    browser, chromedriver, click_nav, fetch_status, login, shot, text, text_of,
};
use support::serve::{OFFICER_PASSWORD, Serve, baomi_stdin, out_text};

const FILES: usize = 12;
const BATCH: &str = "3";
const MARKED: usize = 5;

fn share(root: &Path) {
    for d in ["办公室", "财务处/2026"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for i in 0..FILES {
        let dir = if i % 2 == 0 {
            "办公室"
        } else {
            "财务处/2026"
        };
        let text = if i == MARKED {
            "秘密★1年\n关于某项目经费安排的请示\n财务处：经研究，拟调整下列经费安排。\n".to_owned()
        } else {
            format!("第{i}期工作简报：本周完成了档案整理和设备巡检，无其他事项。\n")
        };
        std::fs::write(root.join(dir).join(format!("简报{i:02}.txt")), text).unwrap();
    }
}

fn baomi(s: &Serve, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baomi"));
    c.arg("--config").arg(&s.config).args(args);
    c
}

fn worker(s: &Serve, pace_ms: u64) -> Child {
    baomi(
        s,
        &[
            "worker",
            "--id",
            "自查机-01",
            "--lease",
            "5",
            "--heartbeat",
            "1",
            "--poll",
            "0.2",
            "--threads",
            "1",
            "--pace",
            &pace_ms.to_string(),
            "--exit-when-idle",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("starting baomi worker")
}

/// Wait until the body's text satisfies `ok`, without reloading: the page must do it.
async fn until_text(c: &Client, limit: Duration, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    let mut last = String::new();
    loop {
        // The page may be between documents while it refreshes itself.
        if let Ok(body) = c.find(Locator::Css("body")).await
            && let Ok(t) = body.text().await
        {
            if ok(&t) {
                return t;
            }
            last = t;
        }
        assert!(
            start.elapsed() < limit,
            "{what} within {limit:?}; the page says:\n{last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_jobs_in_chromium() {
    let s = Serve::start("", None);
    let tree = s.dir.path().join("share");
    share(&tree);
    let out = baomi(
        &s,
        &[
            "scan",
            tree.to_str().unwrap(),
            "--queue",
            "--batch-files",
            BATCH,
            "--person",
            "张三",
            "--department",
            "办公室",
            "--format",
            "json",
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", out_text(&out));
    let q: Value = serde_json::from_slice(&out.stdout).unwrap();
    let job = q["job"].as_i64().expect("a job id");
    assert_eq!(q["files"], FILES as u64, "{q}");

    let (_driver, port) = chromedriver();
    let c = browser(port).await;
    let base = format!("http://127.0.0.1:{}", s.http);
    login(&c, &base, "officer", OFFICER_PASSWORD).await;

    // Enqueued, no worker yet: the officer sees it waiting, from the campaigns' tab.
    c.goto(&format!("{base}/campaigns")).await.unwrap();
    click_nav(&c, Locator::Id("tab-scan-jobs")).await;
    let row = format!("#job-{job}");
    let waiting = text_of(&c, Locator::Css(&row)).await;
    assert!(waiting.contains("等待处理程序"), "{waiting}");
    assert!(
        waiting.contains(&format!("0 / {FILES} 个文件")),
        "{waiting}"
    );
    assert!(
        waiting.contains("张三") && waiting.contains("办公室"),
        "{waiting}"
    );
    assert!(waiting.contains("share"), "the path: {waiting}");
    shot(&c, "scan-jobs-waiting").await;

    // A slow worker: 12 files at 0.5 s each, so the page meets it mid-job.
    let mut w = worker(&s, 500);
    let mut seen_running = String::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        c.refresh().await.unwrap();
        let t = text_of(&c, Locator::Css(&row)).await;
        if t.contains("进行中") {
            seen_running = t;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!seen_running.is_empty(), "the job never showed as running");
    assert!(
        !seen_running.contains(&format!("{FILES} / {FILES}")),
        "{seen_running}"
    );
    let body = text(&c).await;
    assert!(body.contains("本页每 5 秒自动刷新"), "{body}");
    shot(&c, "scan-jobs-running").await;

    // Nobody reloads from here on: the Refresh header brings the finished state.
    let done = until_text(&c, Duration::from_secs(90), "已完成 by itself", |t| {
        t.contains("已完成") && t.contains(&format!("{FILES} / {FILES} 个文件"))
    })
    .await;
    assert!(!done.contains("进行中"), "{done}");
    let status = w.wait().unwrap();
    assert!(status.success(), "worker: {status:?}");
    let r = text_of(&c, Locator::Css(&row)).await;
    assert!(r.contains("100%"), "{r}");
    let incidents = text_of(&c, Locator::Css(&format!("{row} .job-incidents"))).await;
    assert_eq!(incidents.trim(), "1", "{r}");
    shot(&c, "scan-jobs-done").await;

    // The job's page: the marked file with its incident, the batches and who did them.
    click_nav(&c, Locator::Css(&format!("{row} a"))).await;
    assert_eq!(text_of(&c, Locator::Id("job-state")).await, "已完成");
    let flagged = text_of(&c, Locator::Id("flagged")).await;
    assert!(
        flagged.contains(&format!("简报{MARKED:02}.txt")),
        "{flagged}"
    );
    assert!(
        !flagged.contains("简报04.txt"),
        "clean files are not listed: {flagged}"
    );
    assert!(flagged.contains("秘密"), "the level: {flagged}");
    let batches = text_of(&c, Locator::Id("batches")).await;
    assert_eq!(
        batches
            .lines()
            .filter(|l| l.contains("已完成") && l.trim_end().contains("1 自查机-01 20"))
            .count(),
        FILES / 3,
        "every batch done by the one worker: {batches}"
    );
    let page = text(&c).await;
    assert!(page.contains("\n1（自查机-01）"), "who did it: {page}");
    assert!(!page.contains("unknown"), "who started it: {page}");
    let errors = text_of(&c, Locator::Id("job-errors")).await;
    assert!(errors.starts_with('0'), "{errors}");
    shot(&c, "scan-job").await;
    let number = text_of(&c, Locator::Css("#flagged .incident-link")).await;
    assert!(number.starts_with("BM-"), "{number}");
    click_nav(&c, Locator::Css("#flagged .incident-link")).await;
    let incident = text(&c).await;
    assert!(incident.contains(&number), "{incident}");
    assert!(
        incident.contains(&format!("简报{MARKED:02}.txt")),
        "{incident}"
    );

    // A walk stopped with Ctrl-C: the job says why and what to do, in the officer's words.
    let big = s.dir.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    for i in 0..2000 {
        std::fs::write(big.join(format!("f{i:04}.txt")), "会议通知\n").unwrap();
    }
    let mut walk = baomi(
        &s,
        &[
            "scan",
            big.to_str().unwrap(),
            "--queue",
            "--batch-files",
            "1",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let start = Instant::now();
    loop {
        let out = baomi(&s, &["scan", "--queue-status", "--format", "json"])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if v["id"].as_i64() == Some(job + 1) && v["batches"].as_i64().unwrap_or(0) >= 5 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no batches: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ok = Command::new("kill")
        .args(["-INT", &walk.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(walk.wait().unwrap().code(), Some(130));
    c.goto(&format!("{base}/scan-jobs/{}", job + 1))
        .await
        .unwrap();
    let note = text_of(&c, Locator::Id("job-interrupted")).await;
    assert!(note.contains("文件登记被人为中止"), "{note}");
    assert!(note.contains("再次运行 baomi scan --queue"), "{note}");
    assert_eq!(text_of(&c, Locator::Id("job-state")).await, "等待处理程序");
    shot(&c, "scan-job-interrupted").await;

    // An unknown job is a clear 404; the system administrator may not see the queue.
    assert_eq!(fetch_status(&c, "/scan-jobs/999999").await.0, 404);
    let out = baomi_stdin(
        &[
            "--config",
            s.config.to_str().unwrap(),
            "user",
            "add",
            "admin",
            "--role",
            "sysadmin",
            "--password-stdin",
        ],
        "admin-密码-2026\n",
    );
    assert!(out.status.success(), "{}", out_text(&out));
    c.delete_all_cookies().await.unwrap();
    login(&c, &base, "admin", "admin-密码-2026").await;
    assert_eq!(fetch_status(&c, "/scan-jobs").await.0, 403);
    assert_eq!(fetch_status(&c, &format!("/scan-jobs/{job}")).await.0, 403);
    c.close().await.unwrap();
}
