//! The REST API end to end: a real server on a loopback port, real detection, a real store
//! (SQLite, and PostgreSQL started for the test), and curl as the client.

use std::process::Command;
use std::sync::Arc;

use baomi_engine::{Engine, EngineConfig};
use baomi_server::{ServerConfig, open_gateway, serve};
use baomi_store::Store;
use baomi_store::testing::TempPostgres;
use serde_json::Value;

struct Server {
    base: String,
    /// The security officer's token.
    token: String,
    /// An inspection-only token (agents, chat gateways, Prometheus).
    scan_token: String,
    /// The auditor's token.
    auditor_token: String,
    store: Store,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

async fn start(database_url: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::default();
    config.listen.http = "127.0.0.1:0".parse().unwrap();
    config.listen.icap = "off".into();
    config.listen.milter = "off".into();
    let mut store = None;
    for _ in 0..50 {
        match Store::open(dir.path(), database_url).await {
            Ok(s) => {
                store = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    let store = store.expect("store opens");
    // The security officer's token (incidents, evidence); tokens without an account only
    // inspect.
    let officer = store
        .create_account(
            &baomi_store::NewAccount {
                name: "officer".into(),
                role: baomi_store::Role::Secadmin,
                display_name: None,
                department: None,
                password: "officer-password-1".into(),
            },
            true,
            "test",
        )
        .await
        .unwrap();
    let (_, token) = store
        .create_token("test", Some(&officer), "test")
        .await
        .unwrap();
    let auditor = store
        .create_account(
            &baomi_store::NewAccount {
                name: "auditor".into(),
                role: baomi_store::Role::Auditor,
                display_name: None,
                department: None,
                password: "auditor-password-1".into(),
            },
            true,
            "test",
        )
        .await
        .unwrap();
    let (_, auditor_token) = store
        .create_token("audit", Some(&auditor), "test")
        .await
        .unwrap();
    let (_, scan_token) = store.create_token("agent", None, "test").await.unwrap();
    let engine = Arc::new(Engine::new(EngineConfig::default()).unwrap());
    let gw = open_gateway(config, engine, store.clone()).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (btx, brx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(serve(
        gw,
        async move {
            let _ = rx.await;
        },
        move |b| {
            let _ = btx.send(b.http);
        },
    ));
    let addr = brx.await.unwrap();
    Server {
        base: format!("http://{addr}"),
        token,
        scan_token,
        auditor_token,
        store,
        stop: Some(tx),
        task: Some(task),
        _dir: dir,
    }
}

impl Server {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

/// curl, returning (status, body bytes).
async fn curl(args: Vec<String>) -> (u16, Vec<u8>) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
            .args(&args)
            .output()
            .expect("curl is installed (scripts/deps.sh test)");
        let mut body = out.stdout;
        let nl = body.iter().rposition(|&b| b == b'\n').unwrap();
        let status = String::from_utf8_lossy(&body[nl + 1..]).parse().unwrap();
        body.truncate(nl);
        (status, body)
    })
    .await
    .unwrap()
}

fn auth(s: &Server) -> Vec<String> {
    vec!["-H".into(), format!("Authorization: Bearer {}", s.token)]
}

async fn get_json(s: &Server, path: &str) -> Value {
    get_json_as(s, &s.token, path).await
}

async fn get_json_as(s: &Server, token: &str, path: &str) -> Value {
    let mut a = vec!["-H".into(), format!("Authorization: Bearer {token}")];
    a.push(format!("{}{path}", s.base));
    let (status, body) = curl(a).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

async fn exercise(s: &Server) {
    // Health needs no token; everything else does.
    let (status, _) = curl(vec![format!("{}/healthz", s.base)]).await;
    assert_eq!(status, 200);
    let (status, _) = curl(vec![format!("{}/api/v1/incidents", s.base)]).await;
    assert_eq!(status, 401);
    let (status, _) = curl(vec![
        "-H".into(),
        "Authorization: Bearer bm_nope".into(),
        format!("{}/metrics", s.base),
    ])
    .await;
    assert_eq!(status, 401);

    // A marked notice posted raw is blocked and recorded with its evidence.
    let notice = "机密★1年\n关于调整某单位编制的通知\n各处室：现将有关事项通知如下。\n".repeat(3);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notice.txt");
    std::fs::write(&f, &notice).unwrap();
    let mut a = auth(s);
    a.extend([
        "--data-binary".into(),
        format!("@{}", f.display()),
        format!(
            "{}/api/v1/scan?name=%E9%80%9A%E7%9F%A5.txt&user=zhangsan&channel=api",
            s.base
        ),
    ]);
    let (status, body) = curl(a).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["action"], "block", "{v}");
    let number = v["incidents"][0].as_str().unwrap().to_owned();
    let obj = &v["objects"][0];
    assert_eq!(obj["path"], "通知.txt");
    assert!(
        obj["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "marking" && f["level"] == "secret")
    );

    // A clean multipart upload passes and records nothing; its form fields are inspected.
    let clean = dir.path().join("menu.txt");
    std::fs::write(&clean, "本周食堂菜单：周一米饭，周二面条。").unwrap();
    let mut a = auth(s);
    a.extend([
        "-F".into(),
        format!("file=@{};filename=menu.txt", clean.display()),
        "-F".into(),
        "comment=午餐".into(),
        format!("{}/api/v1/scan", s.base),
    ]);
    let (status, body) = curl(a).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["action"], "allow", "{v}");
    assert_eq!(v["objects"].as_array().unwrap().len(), 2);
    assert!(v["incidents"].as_array().unwrap().is_empty());

    // Personal data in a multipart field: masked in the answer and in the incident.
    let ids = dir.path().join("ids.csv");
    let mut rows = String::from("姓名,身份证号\n");
    for i in 0..10 {
        rows.push_str(&format!("人员{i},{}\n", resident_id(i)));
    }
    std::fs::write(&ids, &rows).unwrap();
    let mut a = auth(s);
    a.extend([
        "-F".into(),
        format!("upload=@{};filename=名单.csv", ids.display()),
        format!("{}/api/v1/scan", s.base),
    ]);
    let (_, body) = curl(a).await;
    let text = String::from_utf8_lossy(&body).into_owned();
    assert!(
        !text.contains(&resident_id(3)),
        "an ID number leaked into the answer"
    );
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["objects"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "pii.resident_id")
    );

    // Incidents: list, filters, detail.
    let page = get_json(s, "/api/v1/incidents?channel=api&limit=10").await;
    assert!(page["total"].as_i64().unwrap() >= 1);
    let page = get_json(s, "/api/v1/incidents?level=secret").await;
    assert_eq!(page["incidents"][0]["number"], number.as_str());
    let page = get_json(s, "/api/v1/incidents?channel=mail").await;
    assert_eq!(page["total"], 0);
    let detail = get_json(s, &format!("/api/v1/incidents/{number}")).await;
    assert_eq!(detail["object_name"], "通知.txt");
    assert_eq!(detail["disposition"], "open");
    let (status, _) = curl({
        let mut a = auth(s);
        a.push(format!("{}/api/v1/incidents/BM-19700101-999999", s.base));
        a
    })
    .await;
    assert_eq!(status, 404);

    // Evidence downloads byte-identical.
    let mut a = auth(s);
    a.push(format!("{}/api/v1/incidents/{number}/evidence", s.base));
    let (status, body) = curl(a).await;
    assert_eq!(status, 200);
    assert_eq!(body, notice.as_bytes());

    // Disposition, with a bad value refused.
    let mut a = auth(s);
    a.extend([
        "-H".into(),
        "Content-Type: application/json".into(),
        "-d".into(),
        r#"{"disposition":"violation","comment":"已约谈"}"#.into(),
        format!("{}/api/v1/incidents/{number}/disposition", s.base),
    ]);
    let (status, body) = curl(a).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["disposition"], "violation");
    assert_eq!(v["disposition_by"], "token:test(officer)");
    let mut a = auth(s);
    a.extend([
        "-H".into(),
        "Content-Type: application/json".into(),
        "-d".into(),
        r#"{"disposition":"maybe"}"#.into(),
        format!("{}/api/v1/incidents/{number}/disposition", s.base),
    ]);
    assert_eq!(curl(a).await.0, 400);

    // Statistics and metrics.
    let stats = get_json(s, "/api/v1/stats").await;
    assert!(stats["total"].as_i64().unwrap() >= 1);
    assert!(
        stats["by_channel"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p[0] == "api")
    );
    // Prometheus scrapes with an inspection-only token; the officer's role has no business
    // with node counters, nor the scan token with incidents, nor the officer with the trail.
    let as_token = |t: &str, path: &str| {
        vec![
            "-H".into(),
            format!("Authorization: Bearer {t}"),
            format!("{}{path}", s.base),
        ]
    };
    assert_eq!(curl(as_token(&s.token, "/metrics")).await.0, 403);
    assert_eq!(
        curl(as_token(&s.scan_token, "/api/v1/incidents")).await.0,
        403
    );
    assert_eq!(curl(as_token(&s.token, "/api/v1/audit")).await.0, 403);
    let (status, body) = curl(as_token(&s.scan_token, "/metrics")).await;
    assert_eq!(status, 200);
    let m = String::from_utf8_lossy(&body);
    assert!(
        m.contains("baomi_verdicts_total{channel=\"api\",action=\"block\"}"),
        "{m}"
    );
    assert!(m.contains("baomi_scan_seconds_bucket"), "{m}");
    let doc = get_json(s, "/api/v1/openapi.json").await;
    assert!(doc["paths"]["/api/v1/scan"].is_object());

    // The audit log has the verdict, the download and the disposition, and verifies.
    let tail = get_json_as(s, &s.auditor_token, "/api/v1/audit?limit=50").await;
    let actions: Vec<&str> = tail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "incident.create",
        "evidence.download",
        "incident.disposition",
    ] {
        assert!(actions.contains(&a), "{actions:?}");
    }
    let report = s.store.verify_audit().await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

/// A valid resident ID number (GB 11643 check digit) for test person `i`.
fn resident_id(i: u32) -> String {
    let body = format!("11010519900307{:03}", 100 + i);
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(w)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_sqlite() {
    let s = start(None).await;
    exercise(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let s = start(Some(&pg.url)).await;
    exercise(&s).await;
    s.stop().await;
}
