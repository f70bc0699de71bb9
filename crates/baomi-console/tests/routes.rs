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
