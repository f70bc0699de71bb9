//! Seeds that no file on disk provides: ICAP and milter conversations, policies,
//! dictionaries and detector texts. `cargo run -p baomi-fuzz --example seeds -- fuzz/corpus`
//! writes them into the corpus directories (they are committed; the file seeds are picked
//! from `tests/corpus/make.sh` output by `scripts/fuzz.sh seed`).

/// (target, file name, bytes) for every generated seed.
pub fn generated() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, bytes) in icap() {
        out.push(("icap", name.to_string(), bytes));
    }
    for (name, bytes) in milter() {
        out.push(("milter", name.to_string(), bytes));
    }
    for (i, p) in POLICIES.iter().enumerate() {
        out.push(("policy", format!("policy-{i}.toml"), p.as_bytes().to_vec()));
    }
    for (i, d) in DICTIONARIES.iter().enumerate() {
        out.push(("dictionary", format!("dict-{i}.txt"), d.as_bytes().to_vec()));
    }
    for (i, t) in TEXTS.iter().enumerate() {
        // The first byte is the target's selector (role, first line).
        let mut b = vec![i as u8];
        b.extend_from_slice(t.as_bytes());
        out.push(("detect", format!("text-{i}.bin"), b));
    }
    out
}

fn chunked(body: &[u8], ieof: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if !body.is_empty() {
        out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(if ieof {
        b"0; ieof\r\n\r\n"
    } else {
        b"0\r\n\r\n"
    });
    out
}

fn reqmod(http_head: &str, body: &[u8], preview: Option<usize>) -> Vec<u8> {
    let mut icap = String::from(
        "REQMOD icap://127.0.0.1:1344/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\n\
         X-Client-IP: 10.1.2.3\r\nX-Authenticated-User: TG9jYWw6Ly96aGFuZ3Nhbg==\r\n",
    );
    if let Some(p) = preview {
        icap.push_str(&format!("Preview: {p}\r\n"));
    }
    icap.push_str(&format!(
        "Encapsulated: req-hdr=0, req-body={}\r\n\r\n",
        http_head.len()
    ));
    let mut out = icap.into_bytes();
    out.extend_from_slice(http_head.as_bytes());
    match preview {
        Some(p) if p < body.len() => {
            out.extend_from_slice(&chunked(&body[..p], false));
            out.extend_from_slice(&chunked(&body[p..], false));
        }
        Some(_) => out.extend_from_slice(&chunked(body, true)),
        None => out.extend_from_slice(&chunked(body, false)),
    }
    out
}

fn multipart(file_name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----BaomiFuzzBoundary7MA4YWxk";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n会议纪要\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: pan.example.cn\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    (head, body)
}

fn icap() -> Vec<(&'static str, Vec<u8>)> {
    let options =
        b"OPTIONS icap://127.0.0.1:1344/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n".to_vec();
    let (head, body) = multipart("通知.txt", "机密★5年\n关于secret的通知".as_bytes());
    let upload = reqmod(&head, &body, None);
    let previewed = reqmod(&head, &body, Some(64));
    let small = reqmod(&head, &body, Some(4096));
    let json_head =
        "POST /api/msg HTTP/1.1\r\nHost: im.example.cn\r\nContent-Type: application/json\r\n\r\n";
    let json = reqmod(
        json_head,
        "{\"text\":\"\\u79d8\\u5bc6\\u2605\\uff1a13812345678\",\"to\":[\"张三\"]}".as_bytes(),
        None,
    );
    let form_head = "POST /login HTTP/1.1\r\nHost: a.example\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n";
    let form = reqmod(
        form_head,
        "user=%E5%BC%A0%E4%B8%89&note=secret".as_bytes(),
        None,
    );
    let get_head = "GET / HTTP/1.1\r\nHost: example.cn\r\n\r\n";
    let get = format!(
        "REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: x\r\nAllow: 204\r\nEncapsulated: req-hdr=0, null-body={}\r\n\r\n{get_head}",
        get_head.len()
    )
    .into_bytes();
    let res_head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=gbk\r\nContent-Encoding: identity\r\n\r\n";
    let req_head = "GET /a.txt HTTP/1.1\r\nHost: example.cn\r\n\r\n";
    let mut respmod = format!(
        "RESPMOD icap://127.0.0.1/respmod ICAP/1.0\r\nHost: x\r\nAllow: 204\r\n\
         Encapsulated: req-hdr=0, res-hdr={}, res-body={}\r\n\r\n",
        req_head.len(),
        req_head.len() + res_head.len()
    )
    .into_bytes();
    respmod.extend_from_slice(req_head.as_bytes());
    respmod.extend_from_slice(res_head.as_bytes());
    respmod.extend_from_slice(&chunked(b"plain download, nothing to see", false));
    let mut pipelined = options.clone();
    pipelined.extend_from_slice(&upload);
    pipelined.extend_from_slice(&get);
    vec![
        ("options.icap", options),
        ("upload.icap", upload),
        ("preview.icap", previewed),
        ("preview-ieof.icap", small),
        ("json.icap", json),
        ("form.icap", form),
        ("get.icap", get),
        ("respmod.icap", respmod),
        ("pipelined.icap", pipelined),
    ]
}

fn packet(cmd: u8, data: &[u8]) -> Vec<u8> {
    let mut out = ((data.len() + 1) as u32).to_be_bytes().to_vec();
    out.push(cmd);
    out.extend_from_slice(data);
    out
}

fn zs(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(p);
        out.push(0);
    }
    out
}

/// What Postfix sends for one message, up to (not including) end of body.
fn milter_session(subject: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut opt = 6u32.to_be_bytes().to_vec();
    opt.extend_from_slice(&0x1ffu32.to_be_bytes());
    opt.extend_from_slice(&0x1f_ffffu32.to_be_bytes());
    out.extend(packet(b'O', &opt));
    let mut mac = vec![b'C'];
    mac.extend(zs(&[b"j", b"mail.example.cn", b"{daemon_name}", b"smtpd"]));
    out.extend(packet(b'D', &mac));
    let mut conn = zs(&[b"client.example.cn"]);
    conn.push(b'4');
    conn.extend_from_slice(&25000u16.to_be_bytes());
    conn.extend(zs(&[b"10.1.2.3"]));
    out.extend(packet(b'C', &conn));
    out.extend(packet(b'H', &zs(&[b"client.example.cn"])));
    let mut mac = vec![b'M'];
    mac.extend(zs(&[b"i", b"4ABCDEF123", b"{auth_authen}", b"zhangsan"]));
    out.extend(packet(b'D', &mac));
    out.extend(packet(b'M', &zs(&[b"<zhangsan@example.cn>", b"SIZE=1000"])));
    out.extend(packet(b'R', &zs(&[b"<lisi@example.com>"])));
    out.extend(packet(
        b'L',
        &zs(&[b"From", b" =?UTF-8?B?5byg5LiJ?= <zhangsan@example.cn>"]),
    ));
    out.extend(packet(b'L', &zs(&[b"Subject", subject.as_bytes()])));
    out.extend(packet(
        b'L',
        &zs(&[b"Content-Type", b" text/plain; charset=utf-8"]),
    ));
    out.extend(packet(b'N', b""));
    for chunk in body.chunks(512) {
        out.extend(packet(b'B', chunk));
    }
    out
}

fn milter() -> Vec<(&'static str, Vec<u8>)> {
    let mut one = milter_session(
        " 会议通知",
        "机密★5年\r\n请各单位于本周五前报送。\r\n".as_bytes(),
    );
    one.extend(packet(b'E', b""));
    one.extend(packet(b'Q', b""));
    let mut two = milter_session(" =?UTF-8?B?5L+d5a+G?=", &[b'x'; 6000]);
    two.extend(packet(b'E', b""));
    let mut again = milter_session(" second", b"hello\r\n");
    // The second message on the same connection starts at MAIL.
    let at = again
        .windows(5)
        .position(|w| w[4] == b'M' && w[..4] == [0, 0, 0, 21])
        .unwrap_or(0);
    two.extend_from_slice(&again.split_off(at));
    two.extend(packet(b'E', b""));
    two.extend(packet(b'Q', b""));
    let mut aborted = milter_session(" aborted", b"partial body");
    aborted.extend(packet(b'A', b""));
    aborted.extend(packet(b'Q', b""));
    let cut = milter_session(" cut", b"the MTA goes away mid-body");
    vec![
        ("one.milter", one),
        ("two-on-one-connection.milter", two),
        ("aborted.milter", aborted),
        ("cut-mid-body.milter", cut),
    ]
}

const POLICIES: &[&str] = &[
    r#"alert_threshold = "alert"

[[rule]]
name = "国家秘密标志"
kinds = ["marking"]
min_level = "confidential"
action = "block"

[[rule]]
name = "批量个人信息"
kinds = ["pii.resident_id", "pii.mobile"]
min_count = 10
channels = ["web", "mail"]
action = "alert"

[[regex]]
name = "项目代号"
pattern = "[A-Z]{2}-\\d{4}"
level = "internal"
confidence = 0.9
"#,
    "[[rule]]\nname = \"登记文件\"\nkinds = [\"fingerprint\"]\nmin_coverage = 0.3\naction = \"block\"\n",
    "",
];

const DICTIONARIES: &[&str] = &[
    "# term<TAB>weight<TAB>category\n涉密人员\t2\t人员\n核心技术\t1.5\t技术\n作战 计划\t3\n",
    "\u{feff}单一词条\n\n   \n# 注释\nＡＢＣ全角\t0\n",
];

const TEXTS: &[&str] = &[
    "机密★5年\n关于加强涉密载体管理的通知\n各单位：",
    "例如\"秘密★3年\"，首页应标注\"机密★8年\"等字样。",
    "密级：机密\n保密期限：10年",
    "联系人：张三，电话：13812345678，身份证号：11010519491231002X，银行卡 6222 0212 3456 7890 128",
    "絕密★長期\n國家秘密",
    "机 密 ★ 5 年",
    "项目代号 AB-1234，涉密人员名单见附件，核心技术",
    "关于加强涉密载体管理的通知\n各单位要严格执行涉密载体登记、签收、清退制度，不得将涉密载体带出办公场所",
];
