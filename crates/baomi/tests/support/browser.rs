//! Debian's chromium through chromedriver, for the console's browser tests: start the
//! driver, open a headless session, sign in, click and wait for the next page, screenshots
//! into `target/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use super::serve::free_port;

pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn chromedriver() -> (Driver, u16) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian package chromium-driver; scripts/deps.sh test)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Driver(child), port)
}

pub async fn browser(port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                     "--window-size=1440,1000", "--lang=zh-CN"]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session")
}

pub fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

pub async fn text(c: &Client) -> String {
    text_of(c, Locator::Css("body")).await
}

/// The text of the first element `what` finds (the test fails if there is none).
pub async fn text_of(c: &Client, what: Locator<'_>) -> String {
    c.find(what).await.unwrap().text().await.unwrap()
}

pub async fn login(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    click_nav(c, Locator::Id("login-submit")).await;
}

/// Click something that loads a new page, and wait until the new page is there.
pub async fn click_nav(c: &Client, what: Locator<'_>) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    c.find(what).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // The old document's element goes stale once the browser has navigated.
    while old.tag_name().await.is_ok() {
        assert!(Instant::now() < deadline, "no navigation after the click");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    loop {
        let ready = c.execute("return document.readyState", vec![]).await;
        if ready
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .as_deref()
            == Some("complete")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the page did not load");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn logout(c: &Client) {
    c.delete_all_cookies().await.unwrap();
}

/// Select an option of a `<select>` by its value.
pub async fn select(c: &Client, id: &str, value: &str) {
    let el = c.find(Locator::Id(id)).await.unwrap();
    el.select_by_value(value).await.unwrap();
}

/// The status of a request made from the page itself (same cookies, same origin).
pub async fn fetch_status(c: &Client, path: &str) -> (u64, u64) {
    let v = c
        .execute_async(
            "const [path, done] = arguments; fetch(path).then(async r => { const b = await r.arrayBuffer(); done([r.status, b.byteLength]); });",
            vec![serde_json::json!(path)],
        )
        .await
        .unwrap();
    (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
}
