//! The second factor as a security officer meets it in headless Chromium: enrol TOTP under
//! 我的账户 with a code from the shown key, then sign in again — the password alone is not
//! enough, a wrong code is refused, the right one lets the officer in.

#[allow(dead_code)]
mod support {
    pub mod browser;
    pub mod serve;
}

use fantoccini::Locator;
use support::browser::{browser, chromedriver, click_nav, login, logout, shot, text, text_of};
use support::serve::{OFFICER_PASSWORD, Serve};

fn code(key: &str) -> String {
    baomi_store::accounts::totp(key, "officer")
        .expect("the key shown is a TOTP secret")
        .generate_current()
        .expect("the clock")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_is_enrolled_and_then_required() {
    let s = Serve::start("", None);
    let base = format!("http://127.0.0.1:{}", s.http);
    let (_driver, port) = chromedriver();
    let c = browser(port).await;
    login(&c, &base, "officer", OFFICER_PASSWORD).await;

    c.goto(&format!("{base}/me")).await.unwrap();
    click_nav(&c, Locator::Id("totp-begin")).await;
    let key: String = text_of(&c, Locator::Id("totp-key")).await;
    assert!(key.len() >= 16, "{key:?}");
    shot(&c, "23-totp-enrol").await;
    c.find(Locator::Id("totp-code"))
        .await
        .unwrap()
        .send_keys(&code(&key))
        .await
        .unwrap();
    click_nav(&c, Locator::Css("form[action='/me/totp/confirm'] button")).await;
    assert!(text(&c).await.contains("已启用"), "{}", text(&c).await);

    // Signed out: the password alone asks for the code.
    logout(&c).await;
    login(&c, &base, "officer", OFFICER_PASSWORD).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    let page = text(&c).await;
    assert!(page.contains("验证码") || page.contains("动态"), "{page}");

    // A wrong code is refused; the right one signs in.
    for (typed, ok) in [("000000", false), ("", true)] {
        c.goto(&format!("{base}/login")).await.unwrap();
        c.find(Locator::Id("username"))
            .await
            .unwrap()
            .send_keys("officer")
            .await
            .unwrap();
        c.find(Locator::Id("password"))
            .await
            .unwrap()
            .send_keys(OFFICER_PASSWORD)
            .await
            .unwrap();
        let typed = if ok { code(&key) } else { typed.to_owned() };
        c.find(Locator::Id("totp"))
            .await
            .unwrap()
            .send_keys(&typed)
            .await
            .unwrap();
        click_nav(&c, Locator::Id("login-submit")).await;
        let path = c.current_url().await.unwrap().path().to_owned();
        if ok {
            assert_eq!(path, "/dashboard", "{}", text(&c).await);
        } else {
            assert_eq!(path, "/login", "a wrong code signed in");
        }
    }
    shot(&c, "24-totp-signed-in").await;
    c.close().await.unwrap();
}
