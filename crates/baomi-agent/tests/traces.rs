//! `baomi traces` on real parts: hives written by Debian's hivex tools (`hivexregedit
//! --merge` into a minimal empty hive written here), browser databases made by the sqlite3
//! CLI with Chromium's and Firefox's schemas, and a `--root` tree holding kernel logs in the
//! kernel's own wording (one of them gzipped by gzip), a udev database record, resolv.conf,
//! a NetworkManager connection and a recently-used.xbel.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use baomi_agent::traces::{self, Detail, Internet, TraceKind, TraceOptions, Traces, from_beijing};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// A minimal empty hive: the base block (with its checksum) and one 4 KiB hive bin holding
/// the root key and the security cell hivex needs to add keys under it.
fn empty_hive() -> Vec<u8> {
    let mut bin = Vec::new();
    bin.extend_from_slice(b"hbin");
    bin.extend_from_slice(&0u32.to_le_bytes()); // offset of this bin
    bin.extend_from_slice(&4096u32.to_le_bytes()); // its size
    bin.resize(32, 0);
    let name = b"ROOT";
    let nk_len = (4 + 76 + name.len()).div_ceil(8) * 8;
    let sk_offset = (32 + nk_len) as u32;
    let mut nk = Vec::new();
    nk.extend_from_slice(&(-(nk_len as i32)).to_le_bytes());
    nk.extend_from_slice(b"nk");
    nk.extend_from_slice(&0x2cu16.to_le_bytes()); // hive entry, no delete, ASCII name
    nk.extend_from_slice(&0u64.to_le_bytes()); // last written
    nk.extend_from_slice(&0u32.to_le_bytes()); // access bits
    nk.extend_from_slice(&u32::MAX.to_le_bytes()); // parent
    nk.extend_from_slice(&0u32.to_le_bytes()); // subkeys
    nk.extend_from_slice(&0u32.to_le_bytes()); // volatile subkeys
    nk.extend_from_slice(&u32::MAX.to_le_bytes()); // subkey list
    nk.extend_from_slice(&u32::MAX.to_le_bytes()); // volatile list
    nk.extend_from_slice(&0u32.to_le_bytes()); // values
    nk.extend_from_slice(&u32::MAX.to_le_bytes()); // value list
    nk.extend_from_slice(&sk_offset.to_le_bytes()); // security
    nk.extend_from_slice(&u32::MAX.to_le_bytes()); // class name
    nk.extend_from_slice(&[0u8; 20]); // largest names and data, work var
    nk.extend_from_slice(&(name.len() as u16).to_le_bytes());
    nk.extend_from_slice(&0u16.to_le_bytes());
    nk.extend_from_slice(name);
    nk.resize(nk_len, 0);
    bin.extend_from_slice(&nk);
    // A self-relative security descriptor with a null DACL (everyone), in a one-entry list.
    let sd: [u8; 20] = [
        1, 0, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let sk_len = (4 + 20 + sd.len()).div_ceil(8) * 8;
    let mut sk = Vec::new();
    sk.extend_from_slice(&(-(sk_len as i32)).to_le_bytes());
    sk.extend_from_slice(b"sk");
    sk.extend_from_slice(&0u16.to_le_bytes());
    sk.extend_from_slice(&sk_offset.to_le_bytes()); // flink
    sk.extend_from_slice(&sk_offset.to_le_bytes()); // blink
    sk.extend_from_slice(&1u32.to_le_bytes()); // reference count
    sk.extend_from_slice(&(sd.len() as u32).to_le_bytes());
    sk.extend_from_slice(&sd);
    sk.resize(sk_len, 0);
    bin.extend_from_slice(&sk);
    let free = 4096 - bin.len();
    bin.extend_from_slice(&(free as i32).to_le_bytes());
    bin.resize(4096, 0);

    let mut base = vec![0u8; 4096];
    base[..4].copy_from_slice(b"regf");
    for (at, v) in [
        (4, 1u32), // sequence numbers
        (8, 1),
        (20, 1), // version 1.3
        (24, 3),
        (28, 0),    // primary file
        (32, 1),    // direct memory load
        (36, 0x20), // root key cell
        (40, 4096), // hive bins size
        (44, 1),
    ] {
        base[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    let sum = (0..508).step_by(4).fold(0u32, |x, i| {
        x ^ u32::from_le_bytes(base[i..i + 4].try_into().unwrap())
    });
    base[508..512].copy_from_slice(&sum.to_le_bytes());
    base.extend_from_slice(&bin);
    base
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn filetime(ms: i64) -> [u8; 8] {
    (((ms + 11_644_473_600_000) * 10_000) as u64).to_le_bytes()
}

/// A hive made by `hivexregedit --merge` from `(key, values)` blocks in .reg syntax; every
/// parent key is written before its children, as hivexregedit needs.
fn hive(dir: &Path, name: &str, blocks: &[(&str, Vec<String>)]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, empty_hive()).unwrap();
    let mut reg = String::from("Windows Registry Editor Version 5.00\n\n");
    let mut made: Vec<String> = Vec::new();
    for (key, values) in blocks {
        let parts: Vec<&str> = key.split('\\').collect();
        for i in 1..=parts.len() {
            let k = parts[..i].join("\\");
            if !made.contains(&k) {
                reg.push_str(&format!("[\\{k}]\n"));
                if i == parts.len() {
                    for v in values {
                        reg.push_str(v);
                        reg.push('\n');
                    }
                }
                reg.push('\n');
                made.push(k);
            }
        }
    }
    let reg_path = dir.join(format!("{name}.reg"));
    fs::write(&reg_path, reg).unwrap();
    run(Command::new("hivexregedit")
        .arg("--merge")
        .arg(&path)
        .arg(&reg_path));
    path
}

/// Set a key's last-written time in a hive file (hivex writes 0): found by its name in
/// an `nk` cell.
fn set_key_time(hive: &Path, key_name: &str, ms: i64) {
    let mut b = fs::read(hive).unwrap();
    let mut at = 4096;
    let mut done = false;
    while at + 80 < b.len() {
        if &b[at..at + 2] == b"nk" {
            let len = u16::from_le_bytes([b[at + 72], b[at + 73]]) as usize;
            if b.get(at + 76..at + 76 + len) == Some(key_name.as_bytes()) {
                b[at + 4..at + 12].copy_from_slice(&filetime(ms));
                done = true;
            }
        }
        at += 1;
    }
    assert!(done, "no key {key_name}");
    fs::write(hive, b).unwrap();
}

const SANDISK: &str = "4C530001230101104353";
const KINGSTON: &str = "001A4D5F1A2BB9C1A9870E4B";
const USBSTOR: &str = "ControlSet001\\Enum\\USBSTOR";
const PROPS: &str = "Properties\\{83da6326-97a6-4088-9453-a1923f573b29}";
const EXPLORER: &str = "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer";

fn system_hive(dir: &Path) -> PathBuf {
    let first = from_beijing(2026, 10, 8, 9, 30, 0);
    let last = from_beijing(2026, 11, 28, 16, 45, 10);
    let sandisk = format!("{USBSTOR}\\Disk&Ven_SanDisk&Prod_Ultra&Rev_1.00\\{SANDISK}&0");
    let mounted = |dev: &str, serial: &str| {
        hex(&utf16(&format!(
            "_??_USBSTOR#{dev}#{serial}&0#{{53f56307-b6bf-11d0-94f2-00a0c91efb8b}}"
        )))
    };
    hive(
        dir,
        "SYSTEM",
        &[
            ("Select", vec!["\"Current\"=dword:00000001".into()]),
            (
                &sandisk,
                vec!["\"FriendlyName\"=\"SanDisk Ultra USB Device\"".into()],
            ),
            (
                &format!("{sandisk}\\{PROPS}\\0064"),
                vec![format!("@=hex(ffff0010):{}", hex(&filetime(first)))],
            ),
            (
                &format!("{sandisk}\\{PROPS}\\0066"),
                vec![format!("@=hex(ffff0010):{}", hex(&filetime(last)))],
            ),
            (
                &format!(
                    "{USBSTOR}\\Disk&Ven_Kingston&Prod_DataTraveler_3.0&Rev_PMAP\\{KINGSTON}&0"
                ),
                vec!["\"FriendlyName\"=\"Kingston DataTraveler 3.0 USB Device\"".into()],
            ),
            (
                &format!("{USBSTOR}\\Disk&Ven_Generic&Prod_Flash_Disk&Rev_8.07\\7&2a3b4c5d&0"),
                vec![],
            ),
            (
                &format!("ControlSet001\\Enum\\USB\\VID_0781&PID_5581\\{SANDISK}"),
                vec![],
            ),
            (
                "MountedDevices",
                vec![
                    format!(
                        "\"\\\\DosDevices\\\\E:\"=hex(3):{}",
                        mounted("Disk&Ven_SanDisk&Prod_Ultra&Rev_1.00", SANDISK)
                    ),
                    // A medium whose USBSTOR key was deleted: MountedDevices still names it.
                    format!(
                        "\"\\\\DosDevices\\\\F:\"=hex(3):{}",
                        mounted("Disk&Ven_Netac&Prod_U903&Rev_1.00", "AA00000000011548")
                    ),
                    // A fixed disk: signature and offset, no USB.
                    "\"\\\\DosDevices\\\\C:\"=hex(3):11,22,33,44,00,00,10,00,00,00,00,00".into(),
                ],
            ),
        ],
    )
}

/// A RecentDocs MRU value: the name in UTF-16LE, its NUL, then a shell item Windows appends.
fn mru_value(name: &str) -> Vec<u8> {
    let mut v = utf16(name);
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&[0x14, 0x00, 0x32, 0x00, 0xde, 0xad, 0xbe, 0xef, 0, 0]);
    v
}

fn user_assist(count: u32, last_ms: i64) -> Vec<u8> {
    let mut v = vec![0u8; 72];
    v[4..8].copy_from_slice(&count.to_le_bytes());
    v[60..68].copy_from_slice(&filetime(last_ms));
    v
}

fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            _ => c,
        })
        .collect()
}

fn ntuser_hive(dir: &Path) -> PathBuf {
    let mru = |order: &[u32]| {
        let mut b: Vec<u8> = order.iter().flat_map(|n| n.to_le_bytes()).collect();
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        hex(&b)
    };
    let wps = "{7C5A40EF-A0FB-4BFC-874A-C0F2E0B9FA8E}\\Kingsoft\\WPS Office\\wps.exe";
    let ua = format!("{EXPLORER}\\UserAssist\\{{CEBFF5CD-ACE2-4F4F-9178-9926F41749EA}}\\Count");
    let path = hive(
        dir,
        "NTUSER.DAT",
        &[
            (
                &format!("{EXPLORER}\\RecentDocs"),
                vec![
                    format!("\"MRUListEx\"=hex(3):{}", mru(&[1, 0])),
                    format!("\"0\"=hex(3):{}", hex(&mru_value("旧通知.docx"))),
                    format!("\"1\"=hex(3):{}", hex(&mru_value("工作总结（机密）.docx"))),
                ],
            ),
            (
                &format!("{EXPLORER}\\RecentDocs\\.xlsx"),
                vec![
                    format!("\"MRUListEx\"=hex(3):{}", mru(&[0])),
                    format!("\"0\"=hex(3):{}", hex(&mru_value("人员名单.xlsx"))),
                ],
            ),
            (
                &ua,
                vec![
                    format!(
                        "\"{}\"=hex(3):{}",
                        rot13(wps).replace('\\', "\\\\"),
                        hex(&user_assist(7, from_beijing(2026, 11, 27, 8, 55, 0)))
                    ),
                    format!(
                        "\"{}\"=hex(3):{}",
                        rot13("UEME_CTLSESSION"),
                        hex(&user_assist(1, from_beijing(2026, 11, 27, 8, 0, 0)))
                    ),
                ],
            ),
        ],
    );
    set_key_time(&path, "RecentDocs", from_beijing(2026, 11, 29, 10, 0, 0));
    set_key_time(&path, ".xlsx", from_beijing(2026, 11, 20, 15, 30, 0));
    path
}

fn sqlite(db: &Path, sql: &str) {
    fs::create_dir_all(db.parent().unwrap()).unwrap();
    run(Command::new("sqlite3").arg(db).arg(sql));
}

/// Chromium's `History` with its real `urls`/`visits` tables; times in WebKit µs.
fn chromium_history(db: &Path) {
    let webkit = |ms: i64| (ms + 11_644_473_600_000) * 1000;
    let t1 = webkit(from_beijing(2026, 11, 25, 12, 0, 0));
    let t2 = webkit(from_beijing(2026, 11, 26, 12, 30, 0));
    let t3 = webkit(from_beijing(2026, 11, 26, 13, 0, 0));
    sqlite(
        db,
        &format!(
            "CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR);
INSERT INTO meta VALUES('version','69');
CREATE TABLE urls(id INTEGER PRIMARY KEY AUTOINCREMENT,url LONGVARCHAR,title LONGVARCHAR,visit_count INTEGER DEFAULT 0 NOT NULL,typed_count INTEGER DEFAULT 0 NOT NULL,last_visit_time INTEGER NOT NULL,hidden INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE visits(id INTEGER PRIMARY KEY AUTOINCREMENT,url INTEGER NOT NULL,visit_time INTEGER NOT NULL,from_visit INTEGER,transition INTEGER DEFAULT 0 NOT NULL,segment_id INTEGER,visit_duration INTEGER DEFAULT 0 NOT NULL,incremented_omnibox_typed_score BOOLEAN DEFAULT FALSE NOT NULL,opener_visit INTEGER,originator_cache_guid TEXT,originator_visit_id INTEGER,originator_from_visit INTEGER,originator_opener_visit INTEGER,is_known_to_sync BOOLEAN DEFAULT FALSE NOT NULL,consider_for_ntp_most_visited BOOLEAN DEFAULT FALSE NOT NULL,external_referrer_url TEXT,visited_link_id INTEGER DEFAULT 0 NOT NULL,app_id TEXT);
INSERT INTO urls(id,url,title,visit_count,last_visit_time) VALUES
 (1,'https://www.baidu.com/s?wd=%E6%8A%A5%E5%91%8A','百度',2,{t2}),
 (2,'http://oa.unit.gov.cn/flow','OA',1,{t1}),
 (3,'http://192.168.10.5/portal','内网门户',1,{t1}),
 (4,'https://mail.qq.com/','QQ邮箱',0,{t3}),
 (5,'chrome://settings/','设置',1,{t1});
INSERT INTO visits(url,visit_time,transition) VALUES (1,{t1},1),(1,{t2},1),(2,{t1},1),(3,{t1},1),(5,{t1},1);"
        ),
    );
}

/// Firefox's `places.sqlite` (WAL, as Firefox keeps it) with `moz_places`/`moz_historyvisits`;
/// times in PRTime µs.
fn firefox_places(db: &Path) {
    let pr = |ms: i64| ms * 1000;
    let t = pr(from_beijing(2026, 11, 30, 20, 15, 0));
    sqlite(
        db,
        &format!(
            "PRAGMA journal_mode=WAL;
CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url LONGVARCHAR, title LONGVARCHAR, rev_host LONGVARCHAR, visit_count INTEGER DEFAULT 0, hidden INTEGER DEFAULT 0 NOT NULL, typed INTEGER DEFAULT 0 NOT NULL, frecency INTEGER DEFAULT -1 NOT NULL, last_visit_date INTEGER , guid TEXT, foreign_count INTEGER DEFAULT 0 NOT NULL, url_hash INTEGER DEFAULT 0 NOT NULL , description TEXT, preview_image_url TEXT, site_name TEXT, origin_id INTEGER, recalc_frecency INTEGER NOT NULL DEFAULT 0, alt_frecency INTEGER, recalc_alt_frecency INTEGER NOT NULL DEFAULT 0);
CREATE TABLE moz_historyvisits (id INTEGER PRIMARY KEY, from_visit INTEGER, place_id INTEGER, visit_date INTEGER, visit_type INTEGER, session INTEGER, source INTEGER DEFAULT 0 NOT NULL, triggeringPlaceId INTEGER);
INSERT INTO moz_places(id,url,title,rev_host,visit_count,last_visit_date) VALUES
 (1,'https://www.zhihu.com/question/1','知乎','moc.uhihz.www.',1,{t}),
 (2,'http://localhost:8080/','本机','tsohlacol.',1,{t});
INSERT INTO moz_historyvisits(place_id,visit_date,visit_type) VALUES (1,{t},1),(2,{t},1);"
        ),
    );
}

fn kinds(t: &Traces, kind: TraceKind) -> Vec<&traces::Trace> {
    t.traces.iter().filter(|x| x.kind == kind).collect()
}

fn usb<'a>(t: &'a Traces, serial: &str) -> (&'a traces::Trace, &'a traces::UsbDevice) {
    t.traces
        .iter()
        .find_map(|x| match &x.detail {
            Detail::Usb(u) if u.serial.as_deref() == Some(serial) => Some((x, u)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no device {serial} in {:#?}", t.traces))
}

#[test]
fn system_hive_usbstor_devices_times_and_drive_letters() {
    let dir = tempfile::tempdir().unwrap();
    let system = system_hive(dir.path());
    let found = traces::collect(&TraceOptions {
        hives: vec![system],
        classified: true,
        registered_serials: vec![KINGSTON.to_ascii_lowercase()],
        ..Default::default()
    });
    assert_eq!(found.exit_code(), 1, "{:#?}", found.traces);
    let (t, u) = usb(&found, SANDISK);
    assert_eq!(u.vendor.as_deref(), Some("SanDisk"));
    assert_eq!(u.model.as_deref(), Some("Ultra"));
    assert_eq!(u.revision.as_deref(), Some("1.00"));
    assert_eq!(u.friendly_name.as_deref(), Some("SanDisk Ultra USB Device"));
    assert_eq!(u.mounted_as, vec!["E:"]);
    assert_eq!(
        (u.vendor_id.as_deref(), u.product_id.as_deref()),
        (Some("0781"), Some("5581"))
    );
    assert_eq!(t.first_seen, Some(from_beijing(2026, 10, 8, 9, 30, 0)));
    assert_eq!(t.last_seen, Some(from_beijing(2026, 11, 28, 16, 45, 10)));
    assert!(t.alerts, "unregistered on a classified machine");
    let (k, ku) = usb(&found, KINGSTON);
    assert!(ku.registered && !k.alerts);
    assert_eq!(ku.model.as_deref(), Some("DataTraveler 3.0"));
    let (_, g) = usb(&found, "7&2a3b4c5d");
    assert!(g.serial_generated);
    // Only MountedDevices remembers the Netac stick.
    let (n, nu) = usb(&found, "AA00000000011548");
    assert_eq!(nu.mounted_as, vec!["F:"]);
    assert!(n.sources.iter().any(|s| s.ends_with("MountedDevices")));
    assert_eq!(kinds(&found, TraceKind::Usb).len(), 4);

    let json = found
        .traces
        .iter()
        .map(|t| t.to_json())
        .find(|j| j["serial"] == SANDISK)
        .unwrap();
    assert_eq!(json["kind"], "trace.usb");
    assert_eq!(json["first_seen"], "2026-10-08T09:30:00+08:00");
    assert_eq!(json["last_seen"], "2026-11-28T16:45:10+08:00");
    let mut human = Vec::new();
    found.write_human(&mut human).unwrap();
    let human = String::from_utf8(human).unwrap();
    assert!(human.contains("移动存储设备使用痕迹（4 条）"), "{human}");
    assert!(human.contains("首次 2026-10-08 09:30:00"), "{human}");
}

#[test]
fn ntuser_recent_docs_and_user_assist() {
    let dir = tempfile::tempdir().unwrap();
    let ntuser = ntuser_hive(dir.path());
    let found = traces::collect(&TraceOptions {
        hives: vec![ntuser],
        ..Default::default()
    });
    let recent = kinds(&found, TraceKind::Recent);
    let names: Vec<(&str, &str, Option<i64>, Option<u32>)> = recent
        .iter()
        .map(|t| match &t.detail {
            Detail::Recent(r) => (r.via, r.name.as_str(), t.last_seen, r.count),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        names,
        vec![
            // MRUListEx order: value 1 is the newest, dated by the key's last-written time.
            (
                "RecentDocs",
                "工作总结（机密）.docx",
                Some(from_beijing(2026, 11, 29, 10, 0, 0)),
                None
            ),
            ("RecentDocs", "旧通知.docx", None, None),
            (
                "RecentDocs",
                "人员名单.xlsx",
                Some(from_beijing(2026, 11, 20, 15, 30, 0)),
                None
            ),
            (
                "UserAssist",
                "C:\\Program Files (x86)\\Kingsoft\\WPS Office\\wps.exe",
                Some(from_beijing(2026, 11, 27, 8, 55, 0)),
                Some(7)
            ),
        ]
    );
    assert_eq!(found.exit_code(), 1);
}

#[test]
fn browser_profiles_chromium_and_firefox() {
    let dir = tempfile::tempdir().unwrap();
    let chrome = dir.path().join("chrome/Default");
    chromium_history(&chrome.join("History"));
    let firefox = dir.path().join("firefox/abcd.default-release");
    firefox_places(&firefox.join("places.sqlite"));
    let found = traces::collect(&TraceOptions {
        browser_profiles: vec![chrome, firefox],
        internal_domains: vec!["unit.gov.cn".into()],
        ..Default::default()
    });
    assert_eq!(found.exit_code(), 1, "{:#?}", found.traces);
    let internet = kinds(&found, TraceKind::Internet);
    assert_eq!(internet.len(), 2);
    let Detail::Internet(Internet::BrowserHistory {
        browser,
        visits,
        hosts,
        hosts_total,
    }) = &internet[0].detail
    else {
        panic!("{:?}", internet[0]);
    };
    assert_eq!(browser, "Chromium (Default)");
    // baidu twice, mail.qq.com once from `urls` alone (its visits pruned); the OA server,
    // the private address and chrome:// are not internet use.
    assert_eq!((*visits, *hosts_total), (3, 2));
    assert_eq!(hosts[0].host, "www.baidu.com");
    assert_eq!(hosts[0].visits, 2);
    assert_eq!(hosts[0].last, Some(from_beijing(2026, 11, 26, 12, 30, 0)));
    assert_eq!(hosts[1].host, "mail.qq.com");
    assert_eq!(
        internet[0].first_seen,
        Some(from_beijing(2026, 11, 25, 12, 0, 0))
    );
    assert_eq!(
        internet[0].last_seen,
        Some(from_beijing(2026, 11, 26, 13, 0, 0))
    );
    let j = internet[1].to_json();
    assert_eq!(j["browser"], "Firefox (abcd.default-release)");
    assert_eq!(j["hosts"][0]["host"], "www.zhihu.com");
    assert_eq!(j["hosts_total"], 1, "localhost is not outside");
    assert_eq!(j["last_seen"], "2026-11-30T20:15:00+08:00");
    // No full address leaves the reading: the query string had a search in it.
    assert!(!serde_json::to_string(&j).unwrap().contains("wd="));
    assert!(
        !serde_json::to_string(&internet[0].to_json())
            .unwrap()
            .contains("wd=")
    );
}

#[test]
fn bad_input_is_an_error_trace_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let garbage = d.join("garbage.dat");
    fs::write(&garbage, b"MZ\x90\x00 this is no hive").unwrap();
    let system = system_hive(d);
    let truncated = d.join("SYSTEM.cut");
    fs::write(&truncated, &fs::read(&system).unwrap()[..4096 + 3000]).unwrap();
    // An empty hive is a hive, but neither SYSTEM nor NTUSER.DAT.
    let empty = d.join("empty.hive");
    fs::write(&empty, empty_hive()).unwrap();
    let history = d.join("full/History");
    chromium_history(&history);
    let cut = d.join("cut");
    let whole = fs::read(&history).unwrap();
    // The schema page whole, the tables' pages cut off.
    write(&cut.join("History"), &whole[..whole.len() / 2]);
    let other = d.join("other");
    sqlite(
        &other.join("places.sqlite"),
        "CREATE TABLE t(x); INSERT INTO t VALUES(1);",
    );
    let nothing = d.join("nothing");
    fs::create_dir_all(&nothing).unwrap();
    let found = traces::collect(&TraceOptions {
        hives: vec![garbage, truncated, empty],
        browser_profiles: vec![cut, other, nothing],
        ..Default::default()
    });
    let errors: Vec<String> = kinds(&found, TraceKind::Error)
        .iter()
        .map(|t| format!("{}: {}", t.sources[0], t.title()))
        .collect();
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert!(
        errors[0].contains("garbage.dat: 不是 Windows 注册表文件"),
        "{errors:#?}"
    );
    assert!(
        errors[1].contains("SYSTEM.cut: 注册表文件已损坏"),
        "{errors:#?}"
    );
    assert!(
        errors[2].contains("既不是 SYSTEM 也不是 NTUSER.DAT"),
        "{errors:#?}"
    );
    assert!(
        errors[3].contains("cut/History: SQLite 无法读取"),
        "{errors:#?}"
    );
    assert!(
        errors[4].contains("不是 Chromium 或 Firefox 的浏览记录"),
        "{errors:#?}"
    );
    assert!(errors[5].contains("没有浏览记录数据库"), "{errors:#?}");
    assert_eq!(found.exit_code(), 2);
    let j = kinds(&found, TraceKind::Error)[0].to_json();
    assert_eq!(j["kind"], "trace.error");
}

fn kern_log_lines() -> String {
    // The kernel's own words for a SanDisk stick plugged in twice, a keyboard (not storage),
    // and an Android phone sharing its network over USB.
    let stick = |t: &str, mono: &str| {
        format!(
            "Dec  1 {t} pc kernel: [{mono}] usb 1-1: new high-speed USB device number 5 using xhci_hcd
Dec  1 {t} pc kernel: [{mono}] usb 1-1: New USB device found, idVendor=0781, idProduct=5581, bcdDevice= 1.00
Dec  1 {t} pc kernel: [{mono}] usb 1-1: New USB device strings: Mfr=1, Product=2, SerialNumber=3
Dec  1 {t} pc kernel: [{mono}] usb 1-1: Product: Ultra
Dec  1 {t} pc kernel: [{mono}] usb 1-1: Manufacturer: SanDisk
Dec  1 {t} pc kernel: [{mono}] usb 1-1: SerialNumber: {SANDISK}
Dec  1 {t} pc kernel: [{mono}] usb-storage 1-1:1.0: USB Mass Storage device detected
Dec  1 {t} pc kernel: [{mono}] scsi host6: usb-storage 1-1:1.0
"
        )
    };
    format!(
        "{}Dec  1 09:20:00 pc kernel: [ 500.100000] usb 1-1: USB disconnect, device number 5
Dec  1 09:30:00 pc kernel: [ 900.000000] usb 1-2: New USB device found, idVendor=046d, idProduct=c31c, bcdDevice=64.02
Dec  1 09:30:00 pc kernel: [ 900.000100] usb 1-2: Product: USB Keyboard
Dec  1 09:30:00 pc kernel: [ 900.000200] usb 1-2: SerialNumber: KBD0001
Dec  1 09:30:01 pc kernel: [ 900.100000] input: Logitech USB Keyboard as /devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/input/input9
{}Dec  1 11:00:00 pc kernel: [ 6000.000000] usb 1-3: New USB device found, idVendor=2717, idProduct=ff88, bcdDevice= 4.14
Dec  1 11:00:00 pc kernel: [ 6000.100000] rndis_host 1-3:1.0 usb0: register 'rndis_host' at usb-0000:00:14.0-3, RNDIS device, 2a:8e:4c:11:22:33
",
        stick("09:12:33", "  12.345678"),
        stick("10:40:05", " 5000.000000"),
    )
}

fn linux_root(d: &Path) -> PathBuf {
    let root = d.join("root");
    let kern = root.join("var/log/kern.log");
    write(&kern, kern_log_lines());
    // Traditional lines carry no year: the file's modification time gives it.
    let mtime =
        SystemTime::UNIX_EPOCH + Duration::from_millis(from_beijing(2026, 12, 2, 8, 0, 0) as u64);
    fs::File::options()
        .write(true)
        .open(&kern)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    // An older, rotated and gzipped syslog in RFC 3339 format with a UAS disk.
    let old = root.join("var/log/syslog.2");
    write(
        &old,
        format!(
            "2026-11-03T14:05:09.123456+08:00 pc kernel: [  77.000000] usb 2-1: New USB device found, idVendor=0951, idProduct=1666, bcdDevice= 1.10
2026-11-03T14:05:09.123500+08:00 pc kernel: [  77.000100] usb 2-1: Product: DataTraveler 3.0
2026-11-03T14:05:09.123600+08:00 pc kernel: [  77.000200] usb 2-1: Manufacturer: Kingston
2026-11-03T14:05:09.123700+08:00 pc kernel: [  77.000300] usb 2-1: SerialNumber: {KINGSTON}
2026-11-03T14:05:09.200000+08:00 pc kernel: [  77.100000] scsi host7: uas
2026-11-03T14:05:10.000000+08:00 pc systemd[1]: Started Session 3 of User u.
"
        ),
    );
    run(Command::new("gzip").arg(&old));
    write(
        &root.join("run/udev/data/b8:16"),
        format!(
            "S:disk/by-id/usb-SanDisk_Ultra_{SANDISK}-0:0\nW:12\nI:6000100\nE:ID_BUS=usb\nE:ID_MODEL=Ultra\nE:ID_MODEL_ENC=Ultra\\x20\\x20\\x20\\x20\nE:ID_MODEL_ID=5581\nE:ID_SERIAL=SanDisk_Ultra_{SANDISK}-0:0\nE:ID_SERIAL_SHORT={SANDISK}\nE:ID_VENDOR=SanDisk\nE:ID_VENDOR_ENC=SanDisk\\x20\nE:ID_VENDOR_ID=0781\nE:ID_REVISION=1.00\nE:ID_TYPE=disk\nE:ID_USB_DRIVER=usb-storage\nG:systemd\n"
        ),
    );
    // A SATA disk in the udev database is no USB trace.
    write(
        &root.join("run/udev/data/b8:0"),
        "E:ID_BUS=ata\nE:ID_MODEL=WDC_WD10EZEX\nE:ID_SERIAL_SHORT=WD-1234\n",
    );
    write(
        &root.join("etc/resolv.conf"),
        "# Generated by NetworkManager\nnameserver 192.168.1.1\nnameserver 114.114.114.114\n",
    );
    write(
        &root.join("etc/NetworkManager/system-connections/ChinaNet.nmconnection"),
        "[connection]\nid=ChinaNet-5G\nuuid=0d2f\ntype=wifi\ntimestamp=1796090400\n\n[wifi]\nmode=infrastructure\nssid=ChinaNet-5G\n",
    );
    write(
        &root.join("etc/NetworkManager/system-connections/Wired.nmconnection"),
        "[connection]\nid=Wired\ntype=ethernet\n",
    );
    let home = root.join("home/zhang");
    chromium_history(&home.join(".config/google-chrome/Default/History"));
    write(
        &home.join(".local/share/recently-used.xbel"),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<xbel version="1.0" xmlns:bookmark="http://www.freedesktop.org/standards/desktop-bookmarks" xmlns:mime="http://www.freedesktop.org/standards/shared-mime-info">
  <bookmark href="file:///media/zhang/KINGSTON/%E5%B7%A5%E4%BD%9C%E6%80%BB%E7%BB%93.docx" added="2026-11-30T02:00:00.000000Z" modified="2026-11-30T02:00:00.000000Z" visited="2026-11-30T02:10:00.000000Z">
    <info><metadata owner="http://freedesktop.org"><mime:mime-type type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"/>
      <bookmark:applications><bookmark:application name="WPS Office" exec="&apos;wps %u&apos;" modified="2026-11-30T02:10:00.000000Z" count="2"/></bookmark:applications>
    </metadata></info>
  </bookmark>
  <bookmark href="file:///home/zhang/%E6%96%87%E6%A1%A3/a.txt" added="2026-11-29T01:00:00Z" modified="2026-11-29T01:00:00Z" visited="2026-11-29T01:00:00Z">
  </bookmark>
</xbel>
"#,
    );
    root
}

#[test]
fn linux_root_usb_from_logs_and_udev_and_classified_internet() {
    let dir = tempfile::tempdir().unwrap();
    let root = linux_root(dir.path());
    // An ordinary machine: the media, and only the recent files that were on them.
    let plain = traces::collect(&TraceOptions {
        root: Some(root.clone()),
        ..Default::default()
    });
    let usb_traces = kinds(&plain, TraceKind::Usb);
    assert_eq!(usb_traces.len(), 2, "{usb_traces:#?}");
    let (s, su) = usb(&plain, SANDISK);
    assert_eq!(su.connections, 2);
    assert_eq!(
        (su.vendor.as_deref(), su.model.as_deref()),
        (Some("SanDisk"), Some("Ultra"))
    );
    assert_eq!(
        (su.vendor_id.as_deref(), su.product_id.as_deref()),
        (Some("0781"), Some("5581"))
    );
    assert_eq!(su.revision.as_deref(), Some("1.00"), "from udev");
    assert_eq!(s.first_seen, Some(from_beijing(2026, 12, 1, 9, 12, 33)));
    assert!(s.sources.iter().any(|x| x.ends_with("var/log/kern.log")));
    assert!(s.sources.iter().any(|x| x.ends_with("run/udev/data/b8:16")));
    assert!(!s.alerts, "not a classified machine");
    let (k, ku) = usb(&plain, KINGSTON);
    assert_eq!(ku.model.as_deref(), Some("DataTraveler 3.0"));
    assert_eq!(
        k.first_seen,
        Some(from_beijing(2026, 11, 3, 14, 5, 9) + 123)
    );
    assert!(k.sources[0].ends_with("syslog.2.gz"));
    assert!(kinds(&plain, TraceKind::Internet).is_empty());
    let recent = kinds(&plain, TraceKind::Recent);
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].title(), "/media/zhang/KINGSTON/工作总结.docx");
    assert_eq!(
        recent[0].last_seen,
        Some(from_beijing(2026, 11, 30, 10, 10, 0))
    );
    assert_eq!(plain.exit_code(), 1);

    // Classified: internet use is looked for, and unregistered media alert.
    let classified = traces::collect(&TraceOptions {
        root: Some(root),
        classified: true,
        registered_serials: vec![SANDISK.into()],
        ..Default::default()
    });
    assert!(!usb(&classified, SANDISK).0.alerts, "registered");
    assert!(usb(&classified, KINGSTON).0.alerts);
    let internet: Vec<String> = kinds(&classified, TraceKind::Internet)
        .iter()
        .map(|t| t.title())
        .collect();
    assert!(
        internet.contains(&"USB 共享网络（手机热点）：RNDIS 网卡 usb0".to_owned()),
        "{internet:#?}"
    );
    assert!(
        internet.contains(&"互联网 DNS 服务器：114.114.114.114".to_owned()),
        "{internet:#?}"
    );
    assert!(
        internet.contains(&"无线网络（Wi-Fi）连接：ChinaNet-5G".to_owned()),
        "{internet:#?}"
    );
    assert!(
        internet
            .iter()
            .any(|t| t.starts_with("google-chrome (Default) 浏览记录：访问外部网站 3 个")),
        "oa.unit.gov.cn is outside without --internal-domain: {internet:#?}"
    );
    assert_eq!(internet.len(), 4, "{internet:#?}");
    assert_eq!(kinds(&classified, TraceKind::Recent).len(), 2);
    let mut human = Vec::new();
    classified.write_human(&mut human).unwrap();
    let human = String::from_utf8(human).unwrap();
    for heading in ["移动存储设备使用痕迹", "违规外联痕迹", "最近使用的文件"]
    {
        assert!(human.contains(heading), "{human}");
    }
}
