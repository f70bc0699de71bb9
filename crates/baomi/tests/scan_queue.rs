//! Self-inspection through the queue (issue 14 §5), with the real binary: `baomi scan TREE
//! --queue` enqueues batches; two `baomi worker` processes claim them; one is killed with
//! SIGKILL while it holds a batch, which the other takes over once the lease runs out.
//! Every file has exactly one stored result, the marked file exactly one incident; a
//! re-scan of the unchanged tree enqueues nothing; a changed file is inspected again and a
//! touched one (same bytes, new mtime) is recognised by its hash without inspection. On
//! PostgreSQL (FOR UPDATE SKIP LOCKED, the point) and on SQLite (one machine). A worker
//! paused (SIGSTOP) past its lease and continued finds its batch taken and records nothing.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use baomi_store::testing::TempPostgres;
use baomi_store::{IncidentFilter, Store};
use serde_json::Value;

const FILES: usize = 48;
const BATCH: usize = 6;

/// A marking on its own head line: the default policy alerts on it.
const MARKED: &str = "机密★5年\n关于调整某单位值班安排的通知\n各部门：请按附表安排值班。\n";

struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
    tree: PathBuf,
}

impl Env {
    fn new(config_text: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("baomi.toml");
        std::fs::write(&config, config_text).unwrap();
        let data = dir.path().join("data");
        let tree = dir.path().join("share");
        for d in ["a", "b/c", "d"] {
            std::fs::create_dir_all(tree.join(d)).unwrap();
        }
        for i in 0..FILES {
            let sub = ["a", "b/c", "d"][i % 3];
            let text = if i == 7 {
                MARKED.to_owned()
            } else {
                format!("第{i}次例会纪要：讨论了办公用品采购和食堂菜单，无其他事项。\n")
            };
            std::fs::write(tree.join(sub).join(format!("note{i:02}.txt")), text).unwrap();
        }
        Env {
            dir,
            config,
            data,
            tree,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_baomi"));
        c.arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.data)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running baomi")
    }

    fn path(&self, rel: &str) -> String {
        self.tree
            .canonicalize()
            .unwrap()
            .join(rel)
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Enqueue the tree; the JSON line `scan --queue --format json` prints.
    fn enqueue(&self) -> Value {
        let out = self.run(&[
            "scan",
            self.tree.to_str().unwrap(),
            "--queue",
            "--batch-files",
            &BATCH.to_string(),
            "--format",
            "json",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
    }

    fn worker(&self, id: &str, pace_ms: u64) -> Child {
        self.worker_with(id, pace_ms, &[])
    }

    fn worker_with(&self, id: &str, pace_ms: u64, extra: &[&str]) -> Child {
        let log = std::fs::File::create(self.dir.path().join(format!("worker-{id}.log"))).unwrap();
        self.cmd(&[
            "worker",
            "--id",
            id,
            "--lease",
            "2",
            "--heartbeat",
            "0.4",
            "--poll",
            "0.2",
            "--threads",
            "1",
            "--pace",
            &pace_ms.to_string(),
            "--exit-when-idle",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting baomi worker")
    }

    fn log(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("worker-{id}.log")))
            .unwrap_or_default()
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Wait for a child to exit on its own, at most `limit`.
fn wait_exit(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn lease_until(rt: &tokio::runtime::Runtime, store: &Store, job: i64, batch: i64) -> Option<i64> {
    let batches = rt.block_on(store.scan_batches(job)).unwrap();
    let b = batches.iter().find(|x| x.id == batch).unwrap();
    assert_eq!(b.lease_owner.as_deref(), Some("A"), "{b:?}");
    b.lease_until_ms
}

fn scenario(env: &Env, url: Option<&str>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let expected: BTreeSet<String> = (0..FILES)
        .map(|i| env.path(&format!("{}/note{i:02}.txt", ["a", "b/c", "d"][i % 3])))
        .collect();
    let marked = env.path("b/c/note07.txt");

    // 1. The queue.
    let q = env.enqueue();
    let job = q["job"].as_i64().expect("a job id");
    assert_eq!(q["files"], FILES as u64, "{q}");
    assert_eq!(q["batches"], FILES.div_ceil(BATCH) as u64, "{q}");
    assert_eq!(q["unchanged"], 0, "{q}");
    let store = rt.block_on(Store::open(&env.data, url)).unwrap();

    // 2. Two workers; A is slow (0.5 s a file), so it is mid-batch when it is killed.
    let mut a = env.worker("A", 500);
    let mut b = env.worker_with("B", 30, &["--with-evidence"]);
    let start = Instant::now();
    let held = loop {
        let batches = rt.block_on(store.scan_batches(job)).unwrap();
        if let Some(x) = batches
            .iter()
            .find(|x| x.state == "leased" && x.lease_owner.as_deref() == Some("A"))
        {
            break x.id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "worker A claimed no batch: {batches:?}\n{}",
            env.log("A")
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let A work into the batch (it takes 3 s) and renew its lease at least once.
    let first_until = lease_until(&rt, &store, job, held);
    let renewed = Instant::now();
    while lease_until(&rt, &store, job, held) == first_until {
        assert!(
            renewed.elapsed() < Duration::from_secs(5),
            "A's heartbeat did not renew the lease\n{}",
            env.log("A")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(600));
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    let batches = rt.block_on(store.scan_batches(job)).unwrap();
    let at_kill = batches.iter().find(|x| x.id == held).unwrap();
    assert_eq!(
        at_kill.state, "leased",
        "A's batch was still A's: {at_kill:?}"
    );
    assert_eq!(at_kill.lease_owner.as_deref(), Some("A"));
    assert!(
        env.log("A").contains("started") && !env.log("A").contains(" batch "),
        "A completed nothing of its batch: {}",
        env.log("A")
    );

    // 3. B finishes everything, A's batch included, and exits when nothing is left.
    let status = wait_exit(&mut b, Duration::from_secs(120), "worker B");
    assert!(status.success(), "worker B: {status:?}\n{}", env.log("B"));
    let batches = rt.block_on(store.scan_batches(job)).unwrap();
    assert!(
        batches.iter().all(|x| x.state == "done"),
        "{batches:#?}\n{}",
        env.log("B")
    );
    let taken = batches.iter().find(|x| x.id == held).unwrap();
    assert_eq!(taken.done_by.as_deref(), Some("B"), "{taken:?}");
    assert_eq!(taken.reclaimed_from.as_deref(), Some("A"), "{taken:?}");
    assert!(taken.attempts >= 2, "{taken:?}");
    assert!(
        env.log("B").contains("the lease of A ran out"),
        "{}",
        env.log("B")
    );

    eprintln!("worker A:\n{}worker B:\n{}", env.log("A"), env.log("B"));
    // Every file exactly once, the marked one with the only incident.
    let results = rt.block_on(store.scan_results(job)).unwrap();
    let paths: BTreeSet<String> = results.iter().map(|r| r.path.clone()).collect();
    assert_eq!(results.len(), FILES, "one result per file");
    assert_eq!(paths, expected);
    assert!(
        results.iter().all(|r| r.outcome == "inspected"),
        "{results:#?}"
    );
    let flagged: Vec<_> = results.iter().filter(|r| r.incident.is_some()).collect();
    assert_eq!(flagged.len(), 1, "{flagged:#?}");
    assert_eq!(flagged[0].path, marked);
    assert_eq!(
        flagged[0].level.as_deref(),
        Some("secret"),
        "{:?}",
        flagged[0]
    );
    let incidents = rt
        .block_on(store.incidents(&IncidentFilter {
            channel: Some("scan".into()),
            ..Default::default()
        }))
        .unwrap();
    assert_eq!(incidents.total, 1, "{:#?}", incidents.incidents);
    let incident = &incidents.incidents[0];
    assert_eq!(Some(&incident.number), flagged[0].incident.as_ref());
    assert_eq!(incident.object_name.as_deref(), Some(marked.as_str()));
    assert_eq!(incident.action, "block", "{incident:?}");
    // B keeps what blocks: the file's bytes, encrypted in the vault, for the incident.
    let evidence = incident
        .evidence
        .as_ref()
        .expect("evidence kept by --with-evidence");
    let vault = baomi_store::EvidenceVault::open(&env.data).unwrap();
    let mut bytes = Vec::new();
    vault.get(&evidence.hash, &mut bytes).unwrap();
    assert_eq!(bytes, MARKED.as_bytes());

    // Progress on the command line.
    let out = env.run(&["scan", "--queue-status", &job.to_string()]);
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        shown.contains(&format!("{FILES}/{FILES} done (100.0 %)")),
        "{}",
        text(&out)
    );
    assert!(shown.contains("1 incidents"), "{shown}");
    assert!(shown.contains("files/s"), "{shown}");
    let out = env.run(&["scan", "--queue-status", "--format", "json"]);
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["id"], job);
    assert_eq!(p["files_done"], FILES as u64);
    assert_eq!(p["batches_reclaimed"], 1, "{p}");
    assert!(p["finished_ms"].is_i64(), "{p}");
    assert!(p["files_per_second"].as_f64().unwrap() > 0.0, "{p}");

    // 4. Nothing changed: nothing enqueued, the job is finished at once.
    let q = env.enqueue();
    assert_eq!(q["files"], 0, "{q}");
    assert_eq!(q["unchanged"], FILES as u64, "{q}");
    assert_eq!(q["finished"], true, "{q}");
    let p = rt
        .block_on(store.scan_job_progress(q["job"].as_i64().unwrap()))
        .unwrap();
    assert_eq!((p.total_files, p.batches), (0, 0), "{p:?}");

    // 5. One file changed (now marked), one only touched (same bytes, new mtime).
    let changed = env.path("a/note03.txt");
    std::fs::write(&changed, format!("{MARKED}补充：另附名单一份。\n")).unwrap();
    let touched = env.path("b/c/note04.txt");
    let f = std::fs::File::options().write(true).open(&touched).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(f);
    let q = env.enqueue();
    assert_eq!(q["files"], 2, "{q}");
    assert_eq!(q["unchanged"], FILES as u64 - 2, "{q}");
    let job3 = q["job"].as_i64().unwrap();
    let mut c = env.worker("C", 0);
    // Followed on the command line until it is finished: exits as `baomi scan` would (1:
    // the changed file alerts).
    let out = env.run(&["scan", "--queue-status", &job3.to_string(), "--wait"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = lines.lines().last().unwrap_or_default();
    assert!(
        last.contains("2/2 files (100.0 %)") && last.contains("finished"),
        "{lines}"
    );
    let status = wait_exit(&mut c, Duration::from_secs(60), "worker C");
    assert!(status.success(), "{}", env.log("C"));
    let results = rt.block_on(store.scan_results(job3)).unwrap();
    assert_eq!(results.len(), 2, "{results:#?}");
    let by_path = |p: &str| results.iter().find(|r| r.path == p).unwrap();
    assert_eq!(by_path(&changed).outcome, "inspected");
    assert!(by_path(&changed).incident.is_some(), "{results:#?}");
    assert_eq!(by_path(&touched).outcome, "unchanged", "{results:#?}");
    assert!(by_path(&touched).incident.is_none());
    let incidents = rt
        .block_on(store.incidents(&IncidentFilter {
            channel: Some("scan".into()),
            ..Default::default()
        }))
        .unwrap();
    assert_eq!(incidents.total, 2);
    // Touched and re-hashed: the next scan leaves it out again.
    assert_eq!(env.enqueue()["files"], 0);
    rt.block_on(store.close());

    // The incidents' audit entries form one intact chain.
    let out = env.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    // Every kept file belongs to an incident and every incident's evidence is there.
    let out = env.run(&["store", "check"]);
    assert!(out.status.success(), "{}", text(&out));
    // Personal data and file content never reach the worker's log.
    assert!(!env.log("B").contains("值班"), "{}", env.log("B"));
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// A worker stopped (SIGSTOP) while it holds a batch loses it to another when the lease
/// runs out; continued, it finds the lease gone and records nothing of the batch.
fn paused_worker(env: &Env, url: Option<&str>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let job = env.enqueue()["job"].as_i64().unwrap();
    let store = rt.block_on(Store::open(&env.data, url)).unwrap();
    let mut a = env.worker("A", 500);
    let start = Instant::now();
    let held = loop {
        let batches = rt.block_on(store.scan_batches(job)).unwrap();
        if let Some(x) = batches
            .iter()
            .find(|x| x.state == "leased" && x.lease_owner.as_deref() == Some("A"))
        {
            break x.id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{}",
            env.log("A")
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    signal(&a, "-STOP");
    let mut b = env.worker("B", 30);
    // B takes the batch over once A's lease ran out.
    let start = Instant::now();
    loop {
        let batches = rt.block_on(store.scan_batches(job)).unwrap();
        let x = batches.iter().find(|x| x.id == held).unwrap();
        if x.reclaimed_from.as_deref() == Some("A") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{x:?}\n{}",
            env.log("B")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&a, "-CONT");
    let sb = wait_exit(&mut b, Duration::from_secs(120), "worker B");
    let sa = wait_exit(&mut a, Duration::from_secs(120), "worker A");
    assert!(
        sa.success() && sb.success(),
        "{}\n{}",
        env.log("A"),
        env.log("B")
    );
    eprintln!("worker A:\n{}worker B:\n{}", env.log("A"), env.log("B"));
    assert!(env.log("A").contains("lost"), "{}", env.log("A"));
    let results = rt.block_on(store.scan_results(job)).unwrap();
    assert_eq!(results.len(), FILES);
    let of_held: Vec<_> = results.iter().filter(|r| r.batch_id == held).collect();
    assert_eq!(of_held.len(), BATCH);
    assert!(of_held.iter().all(|r| r.worker == "B"), "{of_held:#?}");
    let incidents = rt
        .block_on(store.incidents(&IncidentFilter {
            channel: Some("scan".into()),
            ..Default::default()
        }))
        .unwrap();
    assert_eq!(incidents.total, 1, "{:#?}", incidents.incidents);
    rt.block_on(store.close());
}

#[test]
fn queue_on_postgres_with_a_worker_paused_past_its_lease() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let env = Env::new(&format!("[database]\nurl = \"{}\"\n", pg.url));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async { pg.open_store(&env.data).await.close().await });
    drop(rt);
    paused_worker(&env, Some(&pg.url));
}

#[test]
fn queue_on_postgres_with_a_worker_killed_mid_batch() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let env = Env::new(&format!("[database]\nurl = \"{}\"\n", pg.url));
    // The server accepts logins a moment after its port opens.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async { pg.open_store(&env.data).await.close().await });
    drop(rt);
    scenario(&env, Some(&pg.url));
}

#[test]
fn queue_on_sqlite_with_a_worker_killed_mid_batch() {
    let env = Env::new("");
    scenario(&env, None);
}

/// `baomi scan --queue` interrupted mid-walk (SIGINT, as Ctrl-C sends it) leaves a job that
/// says so and keeps what was enqueued: a worker inspects those files and the job ends as
/// partial, not open for ever; the same command again enqueues only the rest.
#[test]
fn an_interrupted_walk_leaves_a_partial_job_and_a_rerun_enqueues_the_rest() {
    const MANY: usize = 3000;
    let env = Env::new("");
    let many = env.tree.join("many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..MANY {
        std::fs::write(many.join(format!("f{i:05}.txt")), format!("第{i}号通知\n")).unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(Store::open(&env.data, None)).unwrap();
    // One file a batch: one transaction each, so the walk takes a while.
    let mut walk = env
        .cmd(&[
            "scan",
            env.tree.to_str().unwrap(),
            "--queue",
            "--batch-files",
            "1",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let job = loop {
        if let Some(&job) = rt.block_on(store.scan_job_ids(1)).unwrap().first()
            && rt.block_on(store.scan_job_progress(job)).unwrap().batches >= 20
        {
            break job;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no batches");
        assert!(
            walk.try_wait().unwrap().is_none(),
            "the walk ended too soon"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    signal(&walk, "-INT");
    let out = walk.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let said: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(said["job"], job, "{said}");
    assert_eq!(said["interrupted"], "signal", "{said}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("interrupted (Ctrl-C or SIGTERM)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("run `baomi scan --queue` on the same paths again"),
        "{stderr}"
    );
    let p = rt.block_on(store.scan_job_progress(job)).unwrap();
    let enqueued = p.total_files;
    assert!(
        enqueued >= 20 && (enqueued as usize) < MANY + FILES,
        "{p:?}"
    );
    assert_eq!(enqueued, said["files"].as_i64().unwrap());
    assert_eq!(p.walk_interrupted.as_deref(), Some("signal"));
    assert!(p.enqueued_ms.is_some() && p.finished_ms.is_none(), "{p:?}");

    // A worker inspects what was enqueued; the job is then finished (partial).
    let mut w = env.worker("W", 0);
    let status = wait_exit(&mut w, Duration::from_secs(300), "worker W");
    assert!(status.success(), "{}", env.log("W"));
    let p = rt.block_on(store.scan_job_progress(job)).unwrap();
    assert!(p.finished_ms.is_some(), "{p:?}");
    assert_eq!(p.files_done, enqueued);
    let out = env.run(&["scan", "--queue-status", &job.to_string()]);
    let status_text = String::from_utf8_lossy(&out.stdout);
    assert!(
        status_text.contains("partial: the walk stopped early"),
        "{status_text}"
    );

    // Again: only the files the first walk did not reach.
    let q = env.enqueue();
    assert_eq!(
        q["files"].as_i64().unwrap() + q["unchanged"].as_i64().unwrap(),
        (MANY + FILES) as i64,
        "{q}"
    );
    assert_eq!(q["unchanged"].as_i64().unwrap(), enqueued, "{q}");
    rt.block_on(store.close());
    let out = env.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
}
