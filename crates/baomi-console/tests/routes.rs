//! Every route of the application (console pages and REST API), called by every subject —
//! nobody, an inspection-only token, and a session of each of the seven roles — must answer
//! exactly as the authorization table says: allowed routes never 401/403 and never 500,
//! refused ones 401 for nobody and 403 (audited) for the others. Routes come from the same
//! [`Routes`] list the router is built from, so none can be missed; a second test fails
//! when a route is added to a router by hand, around that list.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use baomi_engine::{Engine, EngineConfig};
use baomi_server::api::ApiState;
use baomi_server::authz::{Subject, granted};
use baomi_server::{ServerConfig, open_gateway};
use baomi_store::{NewAccount, NewIncident, Role, Store};
use tower::ServiceExt;

async fn account(store: &Store, name: &str, role: Role) -> baomi_store::Account {
    store
        .create_account(
            &NewAccount {
                name: name.into(),
                role,
                display_name: None,
                department: None,
                password: format!("{name}-password-123"),
            },
            true,
            "test",
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn every_route_answers_every_subject_as_the_table_says() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    let accounts = [
        (
            Subject::Sysadmin,
            account(&store, "sys", Role::Sysadmin).await,
        ),
        (
            Subject::Secadmin,
            account(&store, "sec", Role::Secadmin).await,
        ),
        (
            Subject::Auditor,
            account(&store, "aud", Role::Auditor).await,
        ),
        (
            Subject::Drafter,
            account(&store, "drafter", Role::Drafter).await,
        ),
        (
            Subject::Reviewer,
            account(&store, "reviewer", Role::Reviewer).await,
        ),
        (
            Subject::Director,
            account(&store, "director", Role::Director).await,
        ),
        (
            Subject::Approver,
            account(&store, "approver", Role::Approver).await,
        ),
        (Subject::Staff, account(&store, "staff", Role::Staff).await),
    ];
    let (_, scan_token) = store.create_token("agent", None, "test").await.unwrap();
    let inc = store
        .record_incident(
            NewIncident {
                channel: "web".into(),
                action: "block".into(),
                severity: "critical".into(),
                level: Some("secret".into()),
                rules: vec!["state-secret-marking-high".into()],
                findings: serde_json::json!([{"kind": "marking", "level": "secret", "part": "a.docx", "line": 1, "text": "机密★1年", "reason": "★ and period"}]),
                object_name: Some("a.docx".into()),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    let mut config = ServerConfig::default();
    config.listen.icap = "off".into();
    config.listen.milter = "off".into();
    let engine = Arc::new(Engine::new(EngineConfig::default()).unwrap());
    let gateway = open_gateway(config, engine, store.clone()).await.unwrap();
    let state = ApiState {
        gateway,
        mail_queue: None,
    };
    let (app, table) = baomi_console::app_with_table(state);
    assert!(table.len() > 40, "the table lists {} routes", table.len());

    let mut denied = 0;
    for route in &table {
        let path = route
            .path
            .replace("{number}", &inc.number)
            .replace("{id}", "999999")
            .replace("{name}", "nobody-here")
            .replace("{lang}", "en")
            .replace("{run_id}", "no-such-run")
            .replace("{blake3}", &"0".repeat(64))
            .replace("{*path}", "console.css");
        for subject in Subject::ALL {
            let mut req = Request::builder()
                .method(route.method.clone())
                .uri(&path)
                .header("host", "console.test");
            if route.method == Method::POST {
                req = req
                    .header("origin", "http://console.test")
                    .header("content-type", "application/x-www-form-urlencoded");
            }
            match subject {
                Subject::Anonymous => {}
                Subject::Scan => req = req.header("authorization", format!("Bearer {scan_token}")),
                role => {
                    let acc = &accounts.iter().find(|(s, _)| *s == role).unwrap().1;
                    // A fresh session per request: logout ends the one it is sent with.
                    let secret = store.create_session(acc).await.unwrap();
                    req = req.header("cookie", format!("baomi_session={secret}"));
                }
            }
            let resp = app
                .clone()
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            let what = format!("{} {} as {subject:?}: {status}", route.method, route.path);
            assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{what}");
            let page = !baomi_server::authz::is_api_path(route.path);
            if granted(subject, route.permission) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{what}: allowed by the table but refused"
                );
            } else if subject == Subject::Anonymous {
                // Pages send nobody to the login form; the API answers 401.
                let to_login = status == StatusCode::SEE_OTHER
                    && resp
                        .headers()
                        .get("location")
                        .and_then(|l| l.to_str().ok())
                        .is_some_and(|l| l.starts_with("/login"));
                if page && route.method == Method::GET {
                    assert!(to_login, "{what}: expected the login form");
                } else {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                }
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{what}: refused by the table"
                );
                denied += 1;
            }
        }
    }
    // Every refusal of a signed-in subject is in the audit trail.
    let logged = store
        .audit_search(&baomi_store::AuditFilter {
            action: Some("access.denied".into()),
            limit: Some(100_000),
            ..Default::default()
        })
        .await
        .unwrap()
        .total;
    assert_eq!(logged, denied);
    assert!(
        denied > 50,
        "only {denied} refusals: is the table too open?"
    );
}

/// Every API route is in the OpenAPI document, with its method.
#[test]
fn every_api_route_is_documented() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../baomi-server/src/openapi.json")).unwrap();
    let mut missing = Vec::new();
    for route in baomi_server::api::routes().entries() {
        if !route.path.starts_with("/api/") {
            continue;
        }
        let method = route.method.as_str().to_ascii_lowercase();
        if !doc["paths"][route.path][&method].is_object() {
            missing.push(format!("{} {}", route.method, route.path));
        }
    }
    assert!(missing.is_empty(), "not in openapi.json: {missing:?}");
}

/// Routes are added only through `Routes` (which takes each route's permission); a plain
/// `.route(` in a router would bypass the table.
#[test]
fn no_route_is_added_around_the_table() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut offenders = Vec::new();
    for dir in ["baomi-server/src", "baomi-console/src"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap().chain(
            std::fs::read_dir(root.join(dir).join("pages"))
                .into_iter()
                .flatten(),
        ) {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("authz.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for needle in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                if text.contains(needle) {
                    offenders.push(format!("{}: {needle}", path.display()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "routes added around the authorization table: {offenders:?}"
    );
}

/// Every word the templates ask for exists in both languages.
#[test]
fn every_word_of_the_templates_is_in_both_languages() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let keys: std::collections::HashSet<&str> = baomi_console::i18n::WORDS
        .iter()
        .map(|(k, _, _)| *k)
        .collect();
    let re = regex_lite(r#"t\.t\("([a-z0-9_.]+)"\)"#);
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for key in re(&text) {
            if !keys.contains(key.as_str()) {
                missing.push(format!("{}: {key}", path.display()));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:?}");
    for (k, zh, en) in baomi_console::i18n::WORDS {
        assert!(!zh.is_empty() && !en.is_empty(), "{k}");
    }
}

/// The keys in `t.t("…")` calls (a tiny matcher, to keep regex out of the dev-dependencies).
fn regex_lite(_pattern: &str) -> impl Fn(&str) -> Vec<String> {
    |text: &str| {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("t.t(\"") {
            rest = &rest[i + 5..];
            if let Some(end) = rest.find('"') {
                out.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
        out
    }
}

/// What one request answered: status, `Location`, body.
async fn call(
    app: &axum::Router,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> (StatusCode, String, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "console.test")
        .header("origin", "http://console.test");
    if let Some(c) = cookie {
        req = req.header("cookie", format!("baomi_session={c}; baomi_lang=zh"));
    }
    let body = match form {
        Some(pairs) => {
            req = req.header("content-type", "application/x-www-form-urlencoded");
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        }
        None => String::new(),
    };
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    (
        status,
        location,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

const POLICY_V1: &str = "alert_at = \"alert\"\n\n[[rule]]\nname = \"marking-block\"\nkinds = [\"marking\"]\nmin_level = \"confidential\"\naction = \"block\"\nseverity = \"critical\"\n";

/// The policy pages do what the table lets them: the security officer stores a version
/// (checked first: a bad one is refused with the parser's words and nothing stored; one
/// based on an outdated version is refused too), the auditor reads the versions and their
/// difference but cannot change anything, the system administrator sees none of it; the
/// page shows the store's policy, not a file in the data directory; the health page lists
/// this node as up.
#[tokio::test]
async fn the_officer_edits_the_policy_and_the_auditor_reads_its_versions() {
    let dir = tempfile::tempdir().unwrap();
    // A file the console must no longer read.
    std::fs::write(
        dir.path().join("policy.toml"),
        "# FILE-NOT-THE-STORE\n[[rule]]\nname = \"from-file\"\nkinds = [\"marking\"]\naction = \"alert\"\n",
    )
    .unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    let sec = account(&store, "sec", Role::Secadmin).await;
    let aud = account(&store, "aud", Role::Auditor).await;
    let sys = account(&store, "sys", Role::Sysadmin).await;
    let mut config = ServerConfig::default();
    config.listen.icap = "off".into();
    config.listen.milter = "off".into();
    let engine = Arc::new(Engine::new(EngineConfig::default()).unwrap());
    let gateway = open_gateway(config, engine, store.clone()).await.unwrap();
    gateway.set_node_id("node-a:8080");
    store
        .node_beat(&baomi_store::NodeBeat {
            id: "node-a:8080".into(),
            address: "http://127.0.0.1:8080".into(),
            started_ms: baomi_store::now_ms() - 60_000,
            versions: Default::default(),
        })
        .await
        .unwrap();
    let app = baomi_console::app(ApiState {
        gateway,
        mail_queue: None,
    });
    let s = store.create_session(&sec).await.unwrap();
    let a = store.create_session(&aud).await.unwrap();
    let y = store.create_session(&sys).await.unwrap();

    // The page shows the store's policy (none yet: the shipped default), not the file.
    let (st, _, page) = call(&app, Method::GET, "/policy", Some(&s), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        !page.contains("FILE-NOT-THE-STORE"),
        "the page read DATA_DIR/policy.toml"
    );
    assert!(page.contains("内置默认策略"));
    let (_, _, editor) = call(&app, Method::GET, "/policy/edit", Some(&s), None).await;
    assert!(editor.contains("name=\"base\" value=\"0\""));

    // A policy that does not parse: refused with the parser's message, nothing stored.
    let bad = "[[rule]]\nname = \"broken\"\nkinds = [\"marking\"]\naction = \"explode\"\n";
    let (st, _, page) = call(
        &app,
        Method::POST,
        "/policy/edit",
        Some(&s),
        Some(&[("toml", bad), ("comment", "试一试"), ("base", "0")]),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("策略有误，未保存"), "{page}");
    assert!(
        page.contains("explode"),
        "the parser's message is shown: {page}"
    );
    assert!(
        page.contains("规则“broken”（第 2 行）：`action` 的取值“explode”无效"),
        "{page}"
    );
    assert!(
        page.contains("action = &#34;explode&#34;")
            || page.contains("action = &quot;explode&quot;"),
        "the text is kept"
    );
    assert!(store.policy_history().await.unwrap().is_empty());
    // No comment: refused.
    let (st, _, page) = call(
        &app,
        Method::POST,
        "/policy/edit",
        Some(&s),
        Some(&[("toml", POLICY_V1), ("comment", " "), ("base", "0")]),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("请填写变更说明"));
    assert!(store.policy_history().await.unwrap().is_empty());

    // A good one: version 1, by the officer, audited.
    let (st, to, _) = call(
        &app,
        Method::POST,
        "/policy/edit",
        Some(&s),
        Some(&[
            ("toml", &POLICY_V1.replace('\n', "\r\n")),
            ("comment", "拦截机密以上"),
            ("base", "0"),
        ]),
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(to, "/policy/versions?done=pv.saved&v=1");
    let history = store.policy_history().await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].author, "user:sec");
    assert_eq!(history[0].comment.as_deref(), Some("拦截机密以上"));
    assert_eq!(
        store.policy_current().await.unwrap().unwrap().toml,
        POLICY_V1,
        "CRLF stored as LF"
    );
    let audit = store
        .audit_search(&baomi_store::AuditFilter {
            action: Some("policy.set".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.total, 1);
    assert_eq!(audit.entries[0].actor, "user:sec");
    // The term lists: name, count, the lists' version.
    store
        .dictionary_put(
            "项目代号",
            "红星一号\n蓝天工程\t5\n# 注释\n长城计划\n",
            "cli:root",
        )
        .await
        .unwrap();
    let (_, _, page) = call(&app, Method::GET, "/policy", Some(&s), None).await;
    assert!(page.contains("marking-block") && page.contains("拦截机密以上"));
    let lists = &page[page.find("id=\"dictionaries\"").unwrap()..];
    assert!(lists.contains("词库版本 #1"), "{lists}");
    assert!(
        lists.contains("<strong>项目代号</strong></td><td class=\"num\">3</td>"),
        "{lists}"
    );
    assert!(lists.contains("命令行（root）"), "{lists}");

    // Saving from the old base (someone saved meanwhile): refused, nothing stored.
    let v2 = POLICY_V1.replace("severity = \"critical\"", "severity = \"high\"");
    let (st, _, page) = call(
        &app,
        Method::POST,
        "/policy/edit",
        Some(&s),
        Some(&[("toml", &v2), ("comment", "降低严重程度"), ("base", "0")]),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("保存为 v1"), "{page}");
    assert_eq!(store.policy_history().await.unwrap().len(), 1);
    let (st, to, _) = call(
        &app,
        Method::POST,
        "/policy/edit",
        Some(&s),
        Some(&[("toml", &v2), ("comment", "降低严重程度"), ("base", "1")]),
    )
    .await;
    assert_eq!(
        (st, to.as_str()),
        (StatusCode::SEE_OTHER, "/policy/versions?done=pv.saved&v=2")
    );
    // The same text again: nothing new.
    let (_, to, _) = call(
        &app,
        Method::POST,
        "/policy/edit",
        Some(&s),
        Some(&[("toml", &v2), ("comment", "再存一次"), ("base", "2")]),
    )
    .await;
    assert!(to.contains("unchanged"), "{to}");
    assert_eq!(store.policy_history().await.unwrap().len(), 2);

    // The auditor reads the versions and the difference...
    let (st, _, page) = call(&app, Method::GET, "/policy/versions", Some(&a), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("v2") && page.contains("降低严重程度") && page.contains("拦截机密以上"));
    assert!(
        !page.contains("href=\"/policy/edit\""),
        "no edit tab for the auditor"
    );
    let (st, _, page) = call(
        &app,
        Method::GET,
        "/policy/diff?from=1&to=2",
        Some(&a),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        page.contains("severity = &#34;critical&#34;")
            || page.contains("severity = &quot;critical&quot;")
    );
    assert!(page.contains("+1 行") && page.contains("−1 行"), "{page}");
    let (st, _, page) = call(&app, Method::GET, "/policy/versions/1", Some(&a), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("marking-block"));
    let (st, _, _) = call(&app, Method::GET, "/policy/versions/7", Some(&a), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // ...but cannot change the policy, nor see the officer's pages.
    for (who, cookie) in [("auditor", &a), ("sysadmin", &y)] {
        let (st, _, _) = call(
            &app,
            Method::POST,
            "/policy/edit",
            Some(cookie),
            Some(&[("toml", POLICY_V1), ("comment", "x"), ("base", "2")]),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}");
        let (st, _, _) = call(&app, Method::GET, "/policy/edit", Some(cookie), None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}");
        let (st, _, _) = call(&app, Method::GET, "/policy", Some(cookie), None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}");
    }
    let (st, _, _) = call(&app, Method::GET, "/policy/versions", Some(&y), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(store.policy_history().await.unwrap().len(), 2);

    // A save from another site with the officer's cookie: refused (CSRF).
    let req = Request::builder()
        .method(Method::POST)
        .uri("/policy/edit")
        .header("host", "console.test")
        .header("origin", "http://evil.example")
        .header("cookie", format!("baomi_session={s}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("toml=x&comment=y&base=2"))
        .unwrap();
    assert_eq!(
        app.clone().oneshot(req).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(store.policy_history().await.unwrap().len(), 2);

    // The health page: this node, up, with its versions.
    let (st, _, page) = call(&app, Method::GET, "/health", Some(&y), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        page.contains("node-a:8080") && page.contains("本节点") && page.contains("在线"),
        "{page}"
    );
    assert!(page.contains("this-node"));
}
