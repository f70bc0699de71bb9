//! The chat door end to end, as an operator runs it: a real Matrix homeserver (Synapse from
//! PyPI, in the venv `scripts/deps.sh test` makes at /opt/baomi-synapse-venv) on loopback
//! with SQLite, our module (`integrations/matrix-synapse`, on its PYTHONPATH) pointing at
//! `baomi serve` (the real binary), two users registered with `register_new_matrix_user`,
//! and curl as their Matrix client speaking the client-server API.

#[allow(dead_code)]
mod support {
    pub mod serve;
}

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::serve::{Serve, free_port, incident_number, resident_id, stop_child};

const VENV: &str = "/opt/baomi-synapse-venv";
const SERVER_NAME: &str = "baomi.test";
const SHARED_SECRET: &str = "baomi-chat-test-shared-secret";
/// The module's `timeout_s` for messages in this test.
const TIMEOUT_S: u64 = 3;

/// A file of the Synapse venv, or a failure that says how to make it.
fn venv_tool(name: &str) -> PathBuf {
    let p = Path::new(VENV).join("bin").join(name);
    assert!(
        p.exists(),
        "`{}` is missing: Synapse (PyPI matrix-synapse) is installed into {VENV} by \
         `scripts/deps.sh test`",
        p.display()
    );
    p
}

/// The path of a system tool, or a failure that says which package provides it.
fn require_tool(tool: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("`{tool}` is missing: install the Debian package `{package}` (scripts/deps.sh test)");
}

/// A Synapse homeserver in a temporary directory, stopped on drop.
struct Synapse {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Synapse {
    fn start(baomi_http: u16, token: &str) -> Synapse {
        let python = venv_tool("python");
        let dir = tempfile::Builder::new()
            .prefix("baomi-synapse-")
            .tempdir()
            .unwrap();
        let d = dir.path().display().to_string();
        let port = free_port();
        let module =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../integrations/matrix-synapse");
        let module = module.canonicalize().expect("integrations/matrix-synapse");
        std::fs::write(
            dir.path().join("log.yaml"),
            format!(
                "version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: {d}/homeserver.log
    encoding: utf8
loggers:
  synapse.storage.SQL:
    level: WARNING
root:
  level: INFO
  handlers: [file]
disable_existing_loggers: false
"
            ),
        )
        .unwrap();
        // What an operator writes: the listener on loopback, SQLite, no open registration,
        // and the module's lines as the README gives them.
        std::fs::write(
            dir.path().join("homeserver.yaml"),
            format!(
                "server_name: \"{SERVER_NAME}\"
pid_file: {d}/homeserver.pid
listeners:
  - port: {port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {d}/homeserver.db
log_config: {d}/log.yaml
media_store_path: {d}/media
signing_key_path: {d}/signing.key
registration_shared_secret: \"{SHARED_SECRET}\"
enable_registration: false
report_stats: false
macaroon_secret_key: \"baomi-chat-test-macaroon\"
form_secret: \"baomi-chat-test-form\"
trusted_key_servers: []
suppress_key_server_warning: true
rc_message: {{per_second: 1000, burst_count: 1000}}
rc_registration: {{per_second: 1000, burst_count: 1000}}
rc_login:
  address: {{per_second: 1000, burst_count: 1000}}
  account: {{per_second: 1000, burst_count: 1000}}
  failed_attempts: {{per_second: 1000, burst_count: 1000}}
modules:
  - module: baomi_synapse.BaomiSpamChecker
    config:
      url: \"http://127.0.0.1:{baomi_http}\"
      token: \"{token}\"
      timeout_s: {TIMEOUT_S}
      media_timeout_s: 120
      fail_open: false
      forbid_encryption: true
"
            ),
        )
        .unwrap();
        let config = dir.path().join("homeserver.yaml");
        let out = Command::new(&python)
            .args(["-m", "synapse.app.homeserver", "--generate-keys", "-c"])
            .arg(&config)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("synapse --generate-keys");
        assert!(
            out.status.success(),
            "synapse --generate-keys: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out_log = std::fs::File::create(dir.path().join("stdout.log")).unwrap();
        let child = Command::new(&python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(&config)
            .env("PYTHONPATH", &module)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdout(out_log.try_clone().unwrap())
            .stderr(out_log)
            .spawn()
            .expect("start synapse");
        let s = Synapse { dir, port, child };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (code, _) = s.client("GET", "/_matrix/client/versions", None, None);
            if code == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Synapse did not come up:\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        assert!(
            s.log()
                .contains("Loaded module <baomi_synapse.BaomiSpamChecker"),
            "{}",
            s.log()
        );
        s
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        let log = read("homeserver.log");
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        format!(
            "{}\n{}",
            read("stdout.log"),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    /// `register_new_matrix_user` with the shared secret, then a password login: the access
    /// token.
    fn user(&self, name: &str) -> String {
        let password = format!("{name}-口令-2026");
        let out = Command::new(venv_tool("register_new_matrix_user"))
            .args([
                "-u",
                name,
                "-p",
                &password,
                "--no-admin",
                "-k",
                SHARED_SECRET,
            ])
            .arg(self.url())
            .output()
            .expect("register_new_matrix_user");
        assert!(
            out.status.success(),
            "register_new_matrix_user {name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let body = json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": name},
            "password": password,
        });
        let (code, v) = self.client("POST", "/_matrix/client/v3/login", None, Some(&body));
        assert_eq!(code, 200, "login {name}: {v}");
        v["access_token"].as_str().unwrap().to_owned()
    }

    /// A client-server API call with curl: (status, JSON body).
    fn client(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method]);
        if let Some(t) = token {
            cmd.arg("-H").arg(format!("Authorization: Bearer {t}"));
        }
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary"])
                .arg(b.to_string());
        }
        curl_json(cmd.arg(format!("{}{path}", self.url())))
    }

    /// A media upload (`POST /_matrix/media/v3/upload?filename=…`).
    fn upload(&self, token: &str, file: &Path, content_type: &str) -> (u16, Value) {
        let name = file.file_name().unwrap().to_str().unwrap();
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", "-H"])
            .arg(format!("Authorization: Bearer {token}"))
            .arg("-H")
            .arg(format!("Content-Type: {content_type}"))
            .arg("--data-binary")
            .arg(format!("@{}", file.display()))
            .arg(format!(
                "{}/_matrix/media/v3/upload?filename={}",
                self.url(),
                encode(name)
            ));
        curl_json(&mut cmd)
    }

    /// Send an `m.room.message`: (status, answer, how long the homeserver took).
    fn send(&self, token: &str, room: &str, txn: &str, content: &Value) -> (u16, Value, Duration) {
        let started = Instant::now();
        let (code, v) = self.client(
            "PUT",
            &format!(
                "/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}",
                encode(room)
            ),
            Some(token),
            Some(content),
        );
        (code, v, started.elapsed())
    }

    /// The bodies of the room's messages as `token`'s user reads them.
    fn bodies(&self, token: &str, room: &str) -> Vec<String> {
        let (code, v) = self.client(
            "GET",
            &format!(
                "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=100",
                encode(room)
            ),
            Some(token),
            None,
        );
        assert_eq!(code, 200, "{v}");
        v["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.message")
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

fn curl_json(cmd: &mut Command) -> (u16, Value) {
    let out = cmd.output().expect("curl");
    let mut body = out.stdout;
    let nl = body.iter().rposition(|&b| b == b'\n').unwrap_or(0);
    let code = String::from_utf8_lossy(&body[nl..])
        .trim()
        .parse()
        .unwrap_or(0);
    body.truncate(nl);
    (code, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Percent-encoding of a path segment or query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A page with `机密★5年` on its first line, rendered with ImageMagick in a CJK font, then
/// "photographed": turned 3°, noise, JPEG — what a cadre posts to the work group.
fn photographed_page(dir: &Path) -> PathBuf {
    let convert = require_tool("convert", "imagemagick");
    let font = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
    assert!(
        Path::new(font).exists(),
        "{font} is missing: install the Debian package `fonts-noto-cjk` (scripts/deps.sh test)"
    );
    let photo = dir.join("通知.jpg");
    let status = Command::new(convert)
        .args([
            "-size", "1240x700", "xc:white", "-font", font, "-fill", "black",
        ])
        .args(["-pointsize", "40", "-annotate", "+90+110", "机密★5年"])
        .args([
            "-pointsize",
            "44",
            "-annotate",
            "+220+210",
            "关于加强项目保密管理的通知",
        ])
        .args(["-pointsize", "34", "-annotate", "+90+300"])
        .arg("各部门：为进一步加强项目保密管理，现将有关事项通知如下。")
        .args(["-annotate", "+90+360", "请各单位认真贯彻执行。"])
        .args(["-seed", "7", "-background", "white", "-rotate", "3"])
        .args(["-attenuate", "0.3", "+noise", "Gaussian", "-quality", "70"])
        .arg(&photo)
        .status()
        .expect("convert");
    assert!(status.success(), "convert failed: {status}");
    photo
}

#[test]
fn synapse_refuses_secret_messages_and_photos_with_the_incident_and_fails_closed() {
    require_tool("curl", "curl");
    let mut serve = Serve::start("", None);
    // The module calls Baomi with an inspection-only (`scan`) token, as the README says.
    let synapse = Synapse::start(serve.http, &serve.scan_token);
    let alice = synapse.user("alice");
    let bob = synapse.user("bob");
    let (code, room) = synapse.client(
        "POST",
        "/_matrix/client/v3/createRoom",
        Some(&alice),
        Some(&json!({"name": "项目组", "preset": "private_chat",
                     "invite": [format!("@bob:{SERVER_NAME}")]})),
    );
    assert_eq!(code, 200, "{room}\n{}", synapse.log());
    let room = room["room_id"].as_str().unwrap().to_owned();
    let (code, v) = synapse.client(
        "POST",
        &format!("/_matrix/client/v3/join/{}", encode(&room)),
        Some(&bob),
        Some(&json!({})),
    );
    assert_eq!(code, 200, "{v}");

    // A clean message goes through, and Bob reads it.
    let menu = "本周食堂菜单：周一米饭，周二面条。";
    let (code, v, _) = synapse.send(
        &alice,
        &room,
        "clean",
        &json!({"msgtype": "m.text", "body": menu}),
    );
    assert_eq!(code, 200, "{v}\n{}\n{}", synapse.log(), serve.log());
    assert!(v["event_id"].is_string());
    assert!(synapse.bodies(&bob, &room).iter().any(|b| b == menu));

    // A marked notice: 403 M_FORBIDDEN, the sender told in Chinese with the incident number.
    let notice = "机密★5年\n关于加强项目保密管理的通知\n各部门：现将有关事项通知如下。";
    let (code, v, _) = synapse.send(
        &alice,
        &room,
        "marked",
        &json!({"msgtype": "m.text", "body": notice}),
    );
    assert_eq!(code, 403, "{v}\n{}", synapse.log());
    assert_eq!(v["errcode"], "M_FORBIDDEN", "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.starts_with("消息含涉密内容，已拦截 (BM-"), "{v}");
    let marked = incident_number(error).expect("incident number in the error");
    assert_eq!(v["baomi_incident"], marked.as_str());
    let inc = serve.api(&format!("/api/v1/incidents/{marked}"));
    assert_eq!(inc["channel"], "chat", "{inc}");
    assert_eq!(inc["action"], "block");
    assert_eq!(inc["level"], "secret");
    assert_eq!(inc["user"], format!("@alice:{SERVER_NAME}"));
    assert_eq!(inc["destination"], format!("matrix:{room}"));
    assert_eq!(inc["source"], format!("matrix:{SERVER_NAME}"));
    assert_eq!(
        serve.evidence(&marked),
        notice.as_bytes(),
        "the evidence is the message"
    );

    // Ten resident ID numbers: refused too (bulk personal data), masked in the incident.
    let ids: Vec<String> = (0..10).map(resident_id).collect();
    let list: String = ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!("人员{i} {id}\n"))
        .collect();
    let (code, v, _) = synapse.send(
        &alice,
        &room,
        "ids",
        &json!({"msgtype": "m.text", "body": format!("名单如下：\n{list}")}),
    );
    assert_eq!(code, 403, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("已拦截 (BM-"), "{v}");
    let bulk = incident_number(error).unwrap();
    let inc = serve.api(&format!("/api/v1/incidents/{bulk}"));
    assert_eq!(inc["channel"], "chat");
    assert!(
        inc["rules"].to_string().contains("bulk-personal-data"),
        "{inc}"
    );
    assert!(
        !inc.to_string().contains(&ids[3]),
        "an ID number is shown unmasked: {inc}"
    );

    // A harmless plain body with the marked notice in its formatted body (what the client
    // shows): the formatted body is read too.
    let (code, v, _) = synapse.send(
        &alice,
        &room,
        "formatted",
        &json!({"msgtype": "m.text", "body": "通知见下",
                "format": "org.matrix.custom.html",
                "formatted_body": "<h1>机密★5年</h1><p>关于加强项目保密管理的通知</p>"}),
    );
    assert_eq!(code, 403, "{v}");
    assert!(
        incident_number(v["error"].as_str().unwrap()).is_some(),
        "{v}"
    );

    // Nothing refused reached Bob.
    let seen = synapse.bodies(&bob, &room);
    assert!(
        seen.iter()
            .all(|b| !b.contains("机密") && !b.contains(&ids[0]) && b != "通知见下"),
        "{seen:?}"
    );

    // End-to-end encryption would hide every later message from any server: refused, both
    // on an existing room and at a room's creation.
    let (code, v) = synapse.client(
        "PUT",
        &format!(
            "/_matrix/client/v3/rooms/{}/state/m.room.encryption/",
            encode(&room)
        ),
        Some(&alice),
        Some(&json!({"algorithm": "m.megolm.v1.aes-sha2"})),
    );
    assert_eq!(code, 403, "{v}");
    assert_eq!(v["errcode"], "M_FORBIDDEN");
    assert!(v["error"].as_str().unwrap().contains("端到端加密"), "{v}");
    let (code, v) = synapse.client(
        "POST",
        "/_matrix/client/v3/createRoom",
        Some(&alice),
        Some(
            &json!({"initial_state": [{"type": "m.room.encryption", "state_key": "",
                      "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]}),
        ),
    );
    assert_eq!(code, 403, "{v}");

    // A photographed marked page uploaded as media: refused (Synapse answers an upload its
    // spam checker refuses with 400 "Bad content"), the incident is in the queue.
    let work = tempfile::tempdir().unwrap();
    let photo = photographed_page(work.path());
    let (code, v) = synapse.upload(&alice, &photo, "image/jpeg");
    assert_eq!(code, 400, "{v}\n{}\n{}", synapse.log(), serve.log());
    let queue = serve.api("/api/v1/incidents?channel=chat&limit=100");
    let incidents = queue["incidents"].as_array().unwrap().clone();
    let photo_inc = incidents
        .iter()
        .find(|i| i["object_name"] == "通知.jpg")
        .unwrap_or_else(|| panic!("no incident for the photo: {queue}\n{}", serve.log()));
    assert_eq!(photo_inc["channel"], "chat");
    assert_eq!(photo_inc["action"], "block");
    assert_eq!(photo_inc["level"], "secret", "{photo_inc}");
    assert_eq!(photo_inc["user"], format!("@alice:{SERVER_NAME}"));
    assert!(
        photo_inc["destination"]
            .as_str()
            .unwrap()
            .starts_with(&format!("mxc://{SERVER_NAME}/")),
        "{photo_inc}"
    );
    // A clean file uploads.
    let notes = work.path().join("notes.txt");
    std::fs::write(&notes, "周五下午三点开会，地点三楼会议室。\n").unwrap();
    let (code, v) = synapse.upload(&alice, &notes, "text/plain");
    assert_eq!(code, 200, "{v}");
    assert!(v["content_uri"].as_str().unwrap().starts_with("mxc://"));

    // The queue: every refusal above, all of channel `chat`.
    assert!(incidents.len() >= 4, "{queue}");
    assert!(incidents.iter().all(|i| i["channel"] == "chat"), "{queue}");
    for n in [&marked, &bulk] {
        assert!(
            incidents.iter().any(|i| i["number"] == n.as_str()),
            "{n}: {queue}"
        );
    }
    let (code, out) = serve.audit_verify();
    assert_eq!(code, 0, "{out}");

    // Baomi stopped (SIGSTOP: the kernel still accepts the connection, nothing answers):
    // the message is refused when the module's timeout runs out, not later, and the
    // homeserver keeps serving.
    let pid = serve.pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (code, v, took) = synapse.send(
        &alice,
        &room,
        "frozen",
        &json!({"msgtype": "m.text", "body": "明天的会改到下午"}),
    );
    let (versions, _) = synapse.client("GET", "/_matrix/client/versions", None, None);
    assert!(
        Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(code, 403, "{v}");
    assert_eq!(v["errcode"], "M_FORBIDDEN");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("保密检查服务暂不可用"),
        "{v}"
    );
    let timeout = Duration::from_secs(TIMEOUT_S);
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(3),
        "refused after {took:?} (timeout_s {TIMEOUT_S})"
    );
    assert_eq!(versions, 200);

    // Baomi gone (killed): refused at once.
    serve.kill();
    let (code, v, took) = synapse.send(
        &alice,
        &room,
        "down",
        &json!({"msgtype": "m.text", "body": "明天的会改到下午"}),
    );
    assert_eq!(code, 403, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("保密检查服务暂不可用"),
        "{v}"
    );
    assert!(
        took < timeout + Duration::from_secs(3),
        "refused after {took:?}"
    );
    assert!(
        !synapse
            .bodies(&bob, &room)
            .iter()
            .any(|b| b == "明天的会改到下午"),
        "a message went through while Baomi was down"
    );
}
