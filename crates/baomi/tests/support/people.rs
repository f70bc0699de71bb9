//! What the records' end-to-end tests share: a `baomi serve` with a directory of people,
//! their accounts and tokens, and JSON over the REST API.

use serde_json::Value;

use super::serve::{Serve, baomi, baomi_stdin};

pub fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

pub fn url(s: &Serve, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", s.http)
}

pub fn post_json(s: &Serve, tok: &str, path: &str, body: &Value) -> (u16, Value) {
    let (code, out) = s.curl_as(
        tok,
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body.to_string(),
            &url(s, path),
        ],
    );
    (code, json_of(&out))
}

pub fn get(s: &Serve, tok: &str, path: &str) -> (u16, Vec<u8>) {
    s.curl_as(tok, &[&url(s, path)])
}

/// `baomi serve` with the people of `directory` (TOML) and `extra` config lines.
pub fn start_with_directory(directory: &str, extra: &str) -> Serve {
    let dir = tempfile::tempdir().unwrap().keep();
    let dirfile = dir.join("people.toml");
    std::fs::write(&dirfile, directory).unwrap();
    Serve::start(
        &format!("[directory]\nfile = \"{}\"\n{extra}", dirfile.display()),
        None,
    )
}

/// An account made with `baomi user add NAME` and `extra` options, and a token of it.
pub fn account_token(s: &Serve, name: &str, extra: &[&str], password: &str) -> String {
    let cfg = s.config.to_str().unwrap();
    let mut args = vec!["--config", cfg, "user", "add", name];
    args.extend_from_slice(extra);
    args.push("--password-stdin");
    let out = baomi_stdin(&args, password);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = baomi(&["--config", cfg, "token", "create", name, "--user", name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A staff account (工作人员) with its display name and department, and its token.
pub fn staff_token(s: &Serve, name: &str, display: &str, dept: &str, password: &str) -> String {
    account_token(
        s,
        name,
        &[
            "--role",
            "staff",
            "--display-name",
            display,
            "--department",
            dept,
        ],
        password,
    )
}
