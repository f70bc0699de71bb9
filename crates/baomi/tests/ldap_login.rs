//! Console login against a real OpenLDAP through a real `baomi serve`: Debian's `slapd`
//! with the generated organisation (`baomi-server/tests/slapd`), `[directory.ldap]` with
//! `console_login = true` and role groups. Through the HTTP login form: a person of the
//! secadmin group signs in with the directory password and gets an LDAP account (and the
//! officer's pages), a wrong password is refused and audited, a person in two role groups
//! gets no role and a clear message, one in no role group none either; an account made
//! on the server is switched with `baomi user auth NAME ldap|local`; the local bootstrap
//! account still signs in; with the directory down the form says so and the local account
//! still works. The same pages in Chromium, screenshots `40-login-ldap*`.

#[allow(dead_code)]
mod support {
    pub mod browser;
    pub mod serve;
}
#[path = "../../baomi-server/tests/slapd/mod.rs"]
mod slapd;

use std::process::Command;

use fantoccini::Locator;
use slapd::{SERVICE_PW, Slapd, organisation, password_of};
use support::browser::{browser, chromedriver, login, logout, shot, text, text_of};
use support::serve::{OFFICER_PASSWORD, Serve, baomi, baomi_stdin};

/// What the login form answered.
struct Answer {
    status: u16,
    /// `baomi_session=…` when a session was given.
    cookie: Option<String>,
    location: Option<String>,
    body: String,
}

/// POST the login form as a browser would (same origin), without following the redirect.
fn form_login(s: &Serve, user: &str, password: &str) -> Answer {
    let base = format!("http://127.0.0.1:{}", s.http);
    let out = Command::new("curl")
        .args(["-s", "-i", "-X", "POST", "-H"])
        .arg(format!("Origin: {base}"))
        .args(["--data-urlencode"])
        .arg(format!("username={user}"))
        .args(["--data-urlencode"])
        .arg(format!("password={password}"))
        .args(["--data-urlencode", "next=/"])
        .arg(format!("{base}/login"))
        .output()
        .expect("curl");
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    Answer {
        status,
        cookie: header("set-cookie")
            .and_then(|c| c.split(';').next().map(str::to_owned))
            .filter(|c| c.starts_with("baomi_session=") && c.len() > "baomi_session=".len()),
        location: header("location"),
        body: body.to_owned(),
    }
}

/// GET a page with a session cookie: (status, body).
fn page(s: &Serve, cookie: &str, path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Cookie: {cookie}"))
        .arg(format!("http://127.0.0.1:{}{path}", s.http))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn user_cmd(s: &Serve, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut full = vec!["--config", s.config.to_str().unwrap(), "user"];
    full.extend_from_slice(args);
    match stdin {
        Some(input) => baomi_stdin(&full, input),
        None => baomi(&full),
    }
}

/// The newest audit entries as `baomi audit tail` prints them.
fn audit_tail(s: &Serve) -> String {
    let out = baomi(&[
        "--config",
        s.config.to_str().unwrap(),
        "audit",
        "tail",
        "-n",
        "8",
    ]);
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_login_by_ldap_bind() {
    if !slapd::have("slapd") || !slapd::have("ldapadd") {
        panic!("slapd and ldap-utils are needed: scripts/deps.sh test");
    }
    let mut ldap = Slapd::start();
    let (org, people) = organisation();
    ldap.tool("ldapadd", &[], &org);
    let pw = ldap.dir.path().join("service.password");
    std::fs::write(&pw, SERVICE_PW).unwrap();
    let s = Serve::start(
        &ldap.ldap_toml(
            &pw,
            Some("directory.ldap"),
            "console_login = true\ntimeout_secs = 5",
        ),
        None,
    );

    // Person 2 is in the secadmin group: the first login creates the account.
    let officer = &people[2];
    let a = form_login(&s, &officer.account, &password_of(&officer.account));
    assert_eq!(a.status, 303, "{}\n{}", a.body, s.log());
    assert_eq!(a.location.as_deref(), Some("/"));
    let cookie = a.cookie.expect("a session");
    let (code, body) = page(&s, &cookie, "/me");
    assert_eq!(code, 200);
    assert!(body.contains(&officer.name), "{body}");
    assert!(body.contains("安全保密管理员"), "{body}");
    assert!(
        body.contains("本账户使用单位目录（LDAP）密码登录") && !body.contains("password-form"),
        "an LDAP account has no password form: {body}"
    );
    // The officer's pages, not the auditor's.
    assert_eq!(page(&s, &cookie, "/incidents").0, 200);
    assert_eq!(page(&s, &cookie, "/audit").0, 403);
    let list = user_cmd(&s, &["list"], None);
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    let line = list
        .lines()
        .find(|l| l.starts_with(&officer.account))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains("secadmin") && line.contains("LDAP"), "{line}");
    let trail = audit_tail(&s);
    assert!(
        trail.contains("account.create_from_directory") && trail.contains(&officer.dn),
        "{trail}"
    );

    // A wrong password: the form again (401), audited as a failure of the directory password.
    let a = form_login(&s, &officer.account, "not-the-password");
    assert_eq!(a.status, 401);
    assert!(a.cookie.is_none());
    assert!(a.body.contains("用户名、密码或验证码不正确"), "{}", a.body);
    let trail = audit_tail(&s);
    let failed = trail
        .lines()
        .rev()
        .find(|l| l.contains("login.failed"))
        .unwrap_or_else(|| panic!("{trail}"));
    assert!(
        failed.contains(&officer.account) && failed.contains("directory password"),
        "{failed}"
    );

    // Person 4 is in the secadmin and the auditor groups: no role, a clear message, no
    // account, a warning in the trail and in the log.
    let both = &people[4];
    let a = form_login(&s, &both.account, &password_of(&both.account));
    assert_eq!(a.status, 401);
    assert!(a.cookie.is_none());
    assert!(a.body.contains("同时属于多个管理角色组"), "{}", a.body);
    assert!(audit_tail(&s).contains("login.role_conflict"));
    assert!(
        !String::from_utf8_lossy(&user_cmd(&s, &["list"], None).stdout).contains(&both.account)
    );
    assert!(
        s.log().contains("several role groups"),
        "the log warns: {}",
        s.log()
    );
    // Person 5 is in no role group.
    let a = form_login(&s, &people[5].account, &password_of(&people[5].account));
    assert_eq!(a.status, 401);
    assert!(a.body.contains("不在任何系统角色组中"), "{}", a.body);

    // An account made on the server, switched to the directory and back.
    let auditor = &people[3];
    let out = user_cmd(
        &s,
        &[
            "add",
            &auditor.account,
            "--role",
            "auditor",
            "--password-stdin",
        ],
        Some("local-password-2026"),
    );
    assert!(out.status.success());
    assert_eq!(
        form_login(&s, &auditor.account, "local-password-2026").status,
        303
    );
    assert_eq!(
        form_login(&s, &auditor.account, &password_of(&auditor.account)).status,
        401
    );
    let out = user_cmd(&s, &["auth", &auditor.account, "ldap"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        form_login(&s, &auditor.account, "local-password-2026").status,
        401
    );
    let a = form_login(&s, &auditor.account, &password_of(&auditor.account));
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(page(&s, a.cookie.as_deref().unwrap(), "/audit").0, 200);
    // The password of an LDAP account is not set here.
    let out = user_cmd(
        &s,
        &["passwd", &auditor.account, "--password-stdin"],
        Some("another-password-1"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("auth = ldap"));
    // Back to local: a password is needed.
    assert!(
        !user_cmd(&s, &["auth", &auditor.account, "local"], None)
            .status
            .success()
    );
    let out = user_cmd(
        &s,
        &["auth", &auditor.account, "local", "--password-stdin"],
        Some("new-local-password-2026"),
    );
    assert!(out.status.success());
    assert_eq!(
        form_login(&s, &auditor.account, "new-local-password-2026").status,
        303
    );
    assert_eq!(
        form_login(&s, &auditor.account, &password_of(&auditor.account)).status,
        401
    );

    // An LDAP account made on the server without any password (person 1: sysadmin group).
    let sys = &people[1];
    assert!(
        !user_cmd(
            &s,
            &[
                "add",
                &sys.account,
                "--role",
                "sysadmin",
                "--ldap",
                "--password-stdin"
            ],
            Some("some-password-2026"),
        )
        .status
        .success(),
        "--ldap takes no password"
    );
    let out = user_cmd(
        &s,
        &["add", &sys.account, "--role", "sysadmin", "--ldap"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = form_login(&s, &sys.account, &password_of(&sys.account));
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(page(&s, a.cookie.as_deref().unwrap(), "/accounts").0, 200);

    // The local bootstrap account is untouched.
    assert_eq!(form_login(&s, "officer", OFFICER_PASSWORD).status, 303);

    // The same in Chromium: the form says directory passwords are welcome, the officer
    // signs in and sees the account's page.
    let base = format!("http://127.0.0.1:{}", s.http);
    let (_driver, port) = chromedriver();
    let c = browser(port).await;
    c.goto(&format!("{base}/login")).await.unwrap();
    assert!(
        text(&c)
            .await
            .contains("可使用单位目录（LDAP）账号和密码登录")
    );
    shot(&c, "40-login-ldap").await;
    login(&c, &base, &officer.account, &password_of(&officer.account)).await;
    c.goto(&format!("{base}/me")).await.unwrap();
    c.find(Locator::Id("password-ldap")).await.unwrap();
    shot(&c, "40-login-ldap-me").await;
    logout(&c).await;

    // The directory down: the form says so (503), nothing is counted toward the lock, the
    // local account still signs in.
    ldap.stop();
    let a = form_login(&s, &officer.account, &password_of(&officer.account));
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(
        a.body.contains("目录服务器（LDAP）暂时无法连接"),
        "{}",
        a.body
    );
    assert!(audit_tail(&s).contains("directory unavailable"));
    assert_eq!(form_login(&s, "officer", OFFICER_PASSWORD).status, 303);
    login(&c, &base, &officer.account, &password_of(&officer.account)).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    let msg = text_of(&c, Locator::Id("login-message")).await;
    assert!(msg.contains("目录服务器（LDAP）暂时无法连接"), "{msg}");
    shot(&c, "40-login-ldap-down").await;
    c.close().await.unwrap();

    let (code, out) = s.audit_verify();
    assert_eq!(code, 0, "{out}");
}
