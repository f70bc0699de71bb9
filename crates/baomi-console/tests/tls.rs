//! HTTPS: with `[http] tls_cert`/`tls_key` the console is served over TLS and its session
//! cookie becomes `__Host-baomi_session` with `Secure`; plain HTTP on that port gets nothing.

use std::process::Command;
use std::sync::Arc;

use baomi_engine::{Engine, EngineConfig};
use baomi_server::{ServerConfig, open_gateway, serve_app};
use baomi_store::{NewAccount, Role, Store};

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-k", "-D", "-"])
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_over_https_has_secure_host_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl")
        .status
        .success();
    assert!(ok);
    let store = Store::open(dir.path(), None).await.unwrap();
    store
        .create_account(
            &NewAccount {
                name: "officer".into(),
                role: Role::Secadmin,
                display_name: None,
                department: None,
                password: "officer-password-1".into(),
            },
            true,
            "test",
        )
        .await
        .unwrap();
    let mut config = ServerConfig::default();
    config.listen.http = "127.0.0.1:0".parse().unwrap();
    config.listen.icap = "off".into();
    config.listen.milter = "off".into();
    config.http.tls_cert = Some(cert);
    config.http.tls_key = Some(key);
    let engine = Arc::new(Engine::new(EngineConfig::default()).unwrap());
    let gw = open_gateway(config, engine, store).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (btx, brx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(serve_app(
        gw,
        baomi_console::app,
        async move {
            let _ = rx.await;
        },
        move |b| {
            let _ = btx.send(b.http);
        },
    ));
    let addr = brx.await.unwrap();
    let base = format!("https://{addr}");
    let (head, _) = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            curl(&[
                "-H",
                &format!("Origin: {base}"),
                "--data",
                "username=officer&password=officer-password-1",
                &format!("{base}/login"),
            ])
        }
    })
    .await
    .unwrap();
    let cookie_line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(
        cookie_line.contains("__Host-baomi_session="),
        "{cookie_line}"
    );
    assert!(
        cookie_line.contains("Secure")
            && cookie_line.contains("HttpOnly")
            && cookie_line.contains("SameSite=Strict")
    );
    let secret = cookie_line
        .split("__Host-baomi_session=")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap()
        .to_owned();
    let (page, _) = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            curl(&[
                "-H",
                &format!("Cookie: __Host-baomi_session={secret}"),
                &format!("{base}/incidents"),
            ])
        }
    })
    .await
    .unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("事件队列"));
    // Plain HTTP on the TLS port is not answered with a page.
    let (plain, _) =
        tokio::task::spawn_blocking(move || curl(&["-m", "5", &format!("http://{addr}/login")]))
            .await
            .unwrap();
    assert!(!plain.contains("200 OK"), "{plain}");
    let _ = tx.send(());
    task.await.unwrap().unwrap();
}
