//! Traces on a Linux machine (UOS, Kylin, Debian…), live (`/`) or a mounted image.
//!
//! USB storage devices ever attached come from the kernel's own words — the journal's
//! kernel messages, `kern.log`/`syslog`/`messages` and their rotated and gzipped copies —
//! where the kernel announces a device (`usb 1-1: New USB device found, idVendor=…`), its
//! strings (`Product:`, `Manufacturer:`, `SerialNumber:`) and, for storage,
//! `usb-storage 1-1:1.0: USB Mass Storage device detected` (or the UAS driver). The udev
//! database (`/run/udev/data/b*`) and sysfs add the devices of the current boot and the
//! ones attached now. Non-storage USB devices (keyboards, mice) are not traces.
//!
//! On a classified machine, internet use: browser history databases under the homes,
//! a public DNS server in resolv.conf, a default route, Wi-Fi and mobile connections
//! NetworkManager keeps, USB tethering and Wi-Fi associations in the kernel log; and the
//! recently used files of every home (`recently-used.xbel`).
//!
//! Traditional syslog lines (`Dec  1 09:12:33`) carry no year and no zone: they are read as
//! Beijing time, in the year of the file's modification time (the year before for months
//! after it). RFC 3339 lines (`2026-12-01T09:12:33.123456+08:00`) carry both.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::{
    Detail, Internet, RecentItem, Trace, TraceKind, TraceOptions, Traces, UsbDevice, from_beijing,
    on_removable_media,
};

/// Bytes read from one log file (after decompression).
const MAX_LOG_BYTES: u64 = 1 << 30;
/// Kernel journal entries read, newest first.
const MAX_JOURNAL_ENTRIES: usize = 500_000;
/// Directory entries visited under one home when looking for browser databases.
const MAX_HOME_ENTRIES: usize = 50_000;

pub fn collect(root: &Path, options: &TraceOptions, out: &mut Traces) {
    let mut usb = UsbLedger::default();
    let mut net = NetLedger::default();
    if options.journal {
        journal(root, &mut usb, &mut net, out);
    }
    logs(root, &mut usb, &mut net, out);
    udev(root, &mut usb, out);
    sysfs(root, &mut usb, out);
    out.traces.extend(usb.into_traces());
    if options.classified {
        out.traces.extend(net.into_traces());
        network_config(root, out);
    }
    for home in homes(root) {
        if options.classified {
            for (db, browser) in browser_databases(&home) {
                super::browser::collect_database(&db, Some(browser), options, out);
            }
        }
        recent_files(&home, options.classified, out);
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// Devices seen, merged by serial (else by vendor/product ids and names).
#[derive(Default)]
struct UsbLedger {
    devices: Vec<Trace>,
}

impl UsbLedger {
    fn add(&mut self, device: UsbDevice, source: &str, seen: Option<i64>) {
        let same = |t: &Trace| match &t.detail {
            Detail::Usb(u) => match (&u.serial, &device.serial) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => {
                    u.vendor_id == device.vendor_id
                        && u.product_id == device.product_id
                        && u.model == device.model
                }
                _ => false,
            },
            _ => false,
        };
        let t = match self.devices.iter().position(same) {
            Some(i) => &mut self.devices[i],
            None => {
                self.devices.push(Trace {
                    kind: TraceKind::Usb,
                    sources: Vec::new(),
                    first_seen: None,
                    last_seen: None,
                    detail: Detail::Usb(UsbDevice::default()),
                    alerts: false,
                });
                self.devices.last_mut().expect("just pushed")
            }
        };
        t.add_source(source);
        t.seen(seen);
        if let Detail::Usb(u) = &mut t.detail {
            let fill = |a: &mut Option<String>, b: Option<String>| {
                if a.is_none() {
                    *a = b.filter(|s| !s.trim().is_empty());
                }
            };
            fill(&mut u.vendor, device.vendor);
            fill(&mut u.model, device.model);
            fill(&mut u.serial, device.serial);
            fill(&mut u.vendor_id, device.vendor_id);
            fill(&mut u.product_id, device.product_id);
            fill(&mut u.revision, device.revision);
            u.connections += device.connections;
            u.attached_now |= device.attached_now;
        }
    }

    fn into_traces(self) -> Vec<Trace> {
        self.devices
    }
}

/// Network traces from the kernel log: USB tethering, Wi-Fi associations; one per
/// interface and kind.
#[derive(Default)]
struct NetLedger {
    seen: BTreeMap<(String, String), Trace>,
}

impl NetLedger {
    fn add(&mut self, what: &str, detail: String, source: &str, t: Option<i64>) {
        let trace = self
            .seen
            .entry((what.to_owned(), detail.clone()))
            .or_insert_with(|| Trace {
                kind: TraceKind::Internet,
                sources: Vec::new(),
                first_seen: None,
                last_seen: None,
                detail: Detail::Internet(Internet::Network {
                    what: what.to_owned(),
                    detail,
                }),
                alerts: true,
            });
        trace.add_source(source);
        trace.seen(t);
    }

    fn into_traces(self) -> Vec<Trace> {
        self.seen.into_values().collect()
    }
}

/// What the kernel said about one USB port since the last `New USB device found` there.
#[derive(Default, Clone)]
struct Announced {
    device: UsbDevice,
    time: Option<i64>,
    storage: bool,
}

/// Follows kernel messages in order and turns announcements into storage devices.
struct KernelReader<'a> {
    source: String,
    usb: &'a mut UsbLedger,
    net: &'a mut NetLedger,
    ports: HashMap<String, Announced>,
    last_port: Option<String>,
}

impl<'a> KernelReader<'a> {
    fn new(source: String, usb: &'a mut UsbLedger, net: &'a mut NetLedger) -> Self {
        KernelReader {
            source,
            usb,
            net,
            ports: HashMap::new(),
            last_port: None,
        }
    }

    fn flush(&mut self, port: &str) {
        if let Some(a) = self.ports.remove(port)
            && a.storage
        {
            let mut d = a.device;
            d.connections = 1;
            self.usb.add(d, &self.source, a.time);
        }
    }

    /// One kernel message (without the syslog prefix and the `[ 123.456]` stamp).
    fn message(&mut self, msg: &str, time: Option<i64>) {
        if let Some(rest) = msg.strip_prefix("usb ") {
            let Some((port, what)) = rest.split_once(": ") else {
                return;
            };
            if let Some(ids) = what.strip_prefix("New USB device found, ") {
                self.flush(port);
                let field = |k: &str| {
                    ids.split(", ")
                        .find_map(|kv| kv.strip_prefix(k))
                        .map(|v| v.trim().to_ascii_lowercase())
                };
                let device = UsbDevice {
                    vendor_id: field("idVendor="),
                    product_id: field("idProduct="),
                    ..UsbDevice::default()
                };
                self.ports.insert(
                    port.to_owned(),
                    Announced {
                        device,
                        time,
                        storage: false,
                    },
                );
                self.last_port = Some(port.to_owned());
            } else if let Some(a) = self.ports.get_mut(port) {
                let value = |p: &str| what.strip_prefix(p).map(|v| v.trim().to_owned());
                if let Some(v) = value("Product:") {
                    a.device.model = Some(v);
                } else if let Some(v) = value("Manufacturer:") {
                    a.device.vendor = Some(v);
                } else if let Some(v) = value("SerialNumber:") {
                    a.device.serial = Some(v);
                } else if what.starts_with("USB disconnect") {
                    self.flush(port);
                }
            }
        } else if let Some(rest) = msg.strip_prefix("usb-storage ") {
            // `usb-storage 1-1:1.0: USB Mass Storage device detected`: the port is the
            // interface's name before its `:config.interface`.
            if rest.contains("USB Mass Storage device detected") {
                let port = rest.split(':').next().unwrap_or_default();
                if let Some(a) = self.ports.get_mut(port) {
                    a.storage = true;
                }
            }
        } else if msg.starts_with("scsi host") && msg.trim_end().ends_with(": uas") {
            // The UAS driver names no port; it follows the device just announced.
            if let Some(p) = &self.last_port
                && let Some(a) = self.ports.get_mut(p)
            {
                a.storage = true;
            }
        } else if let Some(tether) = tethering(msg) {
            let source = self.source.clone();
            self.net
                .add("USB 共享网络（手机热点）", tether, &source, time);
        } else if let Some(iface) = msg.strip_suffix(": associated") {
            let source = self.source.clone();
            if !iface.contains(' ') {
                self.net
                    .add("无线网络连接", format!("网卡 {iface}"), &source, time);
            }
        }
    }

    fn finish(mut self) {
        let ports: Vec<String> = self.ports.keys().cloned().collect();
        for p in ports {
            self.flush(&p);
        }
    }
}

/// `rndis_host 1-2:1.0 usb0: register 'rndis_host' at usb-…, RNDIS device` (Android USB
/// tethering) and `ipheth 1-2:4.2: Apple iPhone USB Ethernet device attached`.
fn tethering(msg: &str) -> Option<String> {
    if msg.starts_with("rndis_host ") && msg.contains("register 'rndis_host'") {
        let iface = msg
            .split_whitespace()
            .nth(2)
            .unwrap_or("")
            .trim_end_matches(':');
        return Some(format!("RNDIS 网卡 {iface}"));
    }
    if msg.starts_with("ipheth ") && msg.contains("attached") {
        return Some("iPhone USB 网卡".into());
    }
    None
}

/// Strip a syslog line down to the kernel message and its time.
fn syslog_line(line: &str, year: i64, mtime_month: u32) -> Option<(Option<i64>, &str)> {
    let (head, msg) = line.split_once(" kernel: ")?;
    let msg = strip_stamp(msg);
    let time = rfc3339_prefix(head).or_else(|| traditional_prefix(head, year, mtime_month));
    Some((time, msg))
}

/// Drop the kernel's `[ 1234.567890] ` monotonic stamp.
fn strip_stamp(msg: &str) -> &str {
    let m = msg.trim_start();
    if m.starts_with('[')
        && let Some(end) = m.find("] ")
    {
        return &m[end + 2..];
    }
    m
}

/// `2026-12-01T09:12:33.123456+08:00 host` → Unix ms.
fn rfc3339_prefix(head: &str) -> Option<i64> {
    let stamp = head.split_whitespace().next()?;
    parse_rfc3339(stamp)
}

pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
        millis = format!("{digits:0<3}")[..3].parse().unwrap_or(0);
        rest = &frac[digits.len()..];
    }
    let offset_min: i64 = match rest {
        "" => 8 * 60,
        "Z" | "z" => 0,
        _ => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let hm = rest.get(1..)?.replace(':', "");
            let h: i64 = hm.get(0..2)?.parse().ok()?;
            let m: i64 = hm.get(2..4).unwrap_or("0").parse().ok()?;
            sign * (h * 60 + m)
        }
    };
    let days = baomi_store::days_from_civil(i64::from(y), i64::from(mo), i64::from(d));
    let utc =
        days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(sec) - offset_min * 60;
    Some(utc * 1000 + millis)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Dec  1 09:12:33 host` → Unix ms, read as Beijing time.
fn traditional_prefix(head: &str, year: i64, mtime_month: u32) -> Option<i64> {
    let mut it = head.split_whitespace();
    let name = it.next()?;
    let month = MONTHS.iter().position(|m| *m == name)? as u32 + 1;
    let day: u32 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|p| p.parse::<u32>().ok());
    let (h, mi, s) = (hms.next()??, hms.next()??, hms.next()??);
    let year = if month > mtime_month { year - 1 } else { year };
    Some(from_beijing(year, month, day, h, mi, s))
}

fn mtime(path: &Path) -> Option<i64> {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
}

/// Year and month (Beijing time) of a Unix ms.
fn year_month(ms: i64) -> (i64, u32) {
    let local = ms + baomi_store::LOCAL_OFFSET_MS;
    let (y, m, _) = baomi_store::civil_from_days(local.div_euclid(86_400_000));
    (y, m)
}

/// kern.log*, syslog*, messages* under `var/log`, oldest rotation first so that a port's
/// announcements are read in order within each file.
fn logs(root: &Path, usb: &mut UsbLedger, net: &mut NetLedger, out: &mut Traces) {
    let dir = root.join("var/log");
    let Ok(entries) = fs::read_dir(&dir) else {
        out.notes.push(format!("{}: 不存在", display(&dir)));
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            ["kern.log", "syslog", "messages"].iter().any(|b| {
                name == *b
                    || name.starts_with(&format!("{b}."))
                    || name.starts_with(&format!("{b}-"))
            }) && p.is_file()
        })
        .collect();
    files.sort();
    if files.is_empty() {
        out.notes.push(format!(
            "{}: 没有 kern.log、syslog 或 messages",
            display(&dir)
        ));
    }
    for f in files {
        let source = display(&f);
        let reader: Box<dyn Read> = match fs::File::open(&f) {
            Ok(file) if source.ends_with(".gz") => {
                Box::new(flate2::read::MultiGzDecoder::new(file))
            }
            Ok(file) => Box::new(file),
            Err(e) => {
                out.traces
                    .push(Trace::error(&source, format!("无法读取：{e}")));
                continue;
            }
        };
        let (year, month) = year_month(mtime(&f).unwrap_or_else(baomi_store::now_ms));
        let mut reader = BufReader::new(reader.take(MAX_LOG_BYTES));
        let mut kernel = KernelReader::new(source.clone(), usb, net);
        let mut line = Vec::new();
        let mut failed = None;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    if let Some((t, msg)) = syslog_line(text.trim_end(), year, month) {
                        kernel.message(msg, t);
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        kernel.finish();
        match failed {
            Some(e) => out
                .traces
                .push(Trace::error(&source, format!("读到中途出错：{e}"))),
            None => out.notes.push(format!("{source}: 已读")),
        }
    }
}

/// The kernel's messages in the journal (every boot it keeps), newest
/// [`MAX_JOURNAL_ENTRIES`], read oldest first.
fn journal(root: &Path, usb: &mut UsbLedger, net: &mut NetLedger, out: &mut Traces) {
    let live = root == Path::new("/");
    let dir = root.join("var/log/journal");
    if !live && !dir.is_dir() {
        return;
    }
    let lines = MAX_JOURNAL_ENTRIES.to_string();
    let dir_arg = format!("--directory={}", display(&dir));
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "_TRANSPORT=kernel".as_ref(),
        "--output=json".as_ref(),
        "--output-fields=MESSAGE,__REALTIME_TIMESTAMP".as_ref(),
        "--no-pager".as_ref(),
        "--lines".as_ref(),
        lines.as_ref(),
    ];
    if !live {
        args.push(dir_arg.as_ref());
    }
    let limits = baomi_extract::helper::HelperLimits {
        memory: 512 << 20,
        cpu: Duration::from_secs(120),
        wall: Duration::from_secs(180),
        max_output: 512 << 20,
    };
    let bytes = match baomi_extract::helper::run("journalctl", "journalctl", &args, &limits) {
        Ok(b) => b,
        Err(baomi_extract::helper::HelperError::Spawn { .. }) => {
            out.notes.push("journalctl: 未安装".into());
            return;
        }
        Err(e) => {
            out.notes.push(format!("journalctl: 无法读取日志（{e}）"));
            return;
        }
    };
    let source = if live {
        "journal".to_owned()
    } else {
        format!("journal {}", display(&dir))
    };
    let mut kernel = KernelReader::new(source.clone(), usb, net);
    let mut count = 0usize;
    for line in bytes.split(|&b| b == b'\n') {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        count += 1;
        // MESSAGE is a string, or an array of bytes when it is not valid UTF-8.
        let msg = match &v["MESSAGE"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(a) => String::from_utf8_lossy(
                &a.iter()
                    .filter_map(|b| b.as_u64().map(|b| b as u8))
                    .collect::<Vec<u8>>(),
            )
            .into_owned(),
            _ => continue,
        };
        let t = v["__REALTIME_TIMESTAMP"]
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .map(|us| us / 1000);
        kernel.message(&msg, t);
    }
    kernel.finish();
    let more = if count >= MAX_JOURNAL_ENTRIES {
        "，更早的条目未读"
    } else {
        ""
    };
    out.notes
        .push(format!("{source}: 已读内核消息 {count} 条{more}"));
}

/// `/run/udev/data/b*`: the block devices of the current boot, with udev's USB ids.
fn udev(root: &Path, usb: &mut UsbLedger, out: &mut Traces) {
    let dir = root.join("run/udev/data");
    let Ok(entries) = fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('b'))
        })
        .collect();
    files.sort();
    let mut read = 0;
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        read += 1;
        let env: HashMap<&str, &str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("E:"))
            .filter_map(|kv| kv.split_once('='))
            .collect();
        if env.get("ID_BUS") != Some(&"usb") {
            continue;
        }
        let get = |k: &str| env.get(k).map(|v| unescape_udev(v));
        let device = UsbDevice {
            vendor: get("ID_VENDOR_ENC").or_else(|| get("ID_VENDOR")),
            model: get("ID_MODEL_ENC").or_else(|| get("ID_MODEL")),
            serial: get("ID_SERIAL_SHORT").or_else(|| get("ID_SERIAL")),
            vendor_id: get("ID_VENDOR_ID").map(|s| s.to_ascii_lowercase()),
            product_id: get("ID_MODEL_ID").map(|s| s.to_ascii_lowercase()),
            revision: get("ID_REVISION"),
            ..UsbDevice::default()
        };
        usb.add(device, &display(&f), mtime(&f));
    }
    out.notes
        .push(format!("{}: 已读 {read} 个块设备记录", display(&dir)));
}

/// udev's `\x20` escapes in the `_ENC` values; names are trimmed of the padding.
fn unescape_udev(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'x')
            && let Some(v) = s
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).trim().to_owned()
}

/// `/sys/bus/usb/devices/*`: devices attached now with a mass-storage interface (class 08).
fn sysfs(root: &Path, usb: &mut UsbLedger, _out: &mut Traces) {
    let dir = root.join("sys/bus/usb/devices");
    let Ok(entries) = fs::read_dir(&dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let dev = e.path();
        let read = |name: &str| {
            fs::read_to_string(dev.join(name))
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        if read("idVendor").is_none() {
            continue;
        }
        let Ok(children) = fs::read_dir(&dev) else {
            continue;
        };
        let storage = children.filter_map(|c| c.ok()).any(|c| {
            c.file_name().to_string_lossy().contains(':')
                && fs::read_to_string(c.path().join("bInterfaceClass"))
                    .is_ok_and(|s| s.trim() == "08")
        });
        if !storage {
            continue;
        }
        let device = UsbDevice {
            vendor: read("manufacturer"),
            model: read("product"),
            serial: read("serial"),
            vendor_id: read("idVendor"),
            product_id: read("idProduct"),
            attached_now: true,
            ..UsbDevice::default()
        };
        usb.add(device, &display(&dev), None);
    }
}

/// The homes under `root`: `home/*` and `root`.
fn homes(root: &Path) -> Vec<PathBuf> {
    let mut homes: Vec<PathBuf> = fs::read_dir(root.join("home"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    homes.sort();
    let r = root.join("root");
    if r.is_dir() {
        homes.push(r);
    }
    homes
}

/// Browser history databases under a home: every `History` (Chromium and its kin: Chrome,
/// Edge, 360, QQ, UOS and Kylin browsers) and `places.sqlite` (Firefox) under `.config`,
/// `.mozilla`, `snap` and `.var/app` (Flatpak), named by the directory they are in.
pub(crate) fn browser_databases(home: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut budget = MAX_HOME_ENTRIES;
    for top in [".config", ".mozilla", "snap", ".var/app"] {
        walk(&home.join(top), 0, &mut budget, &mut found);
    }
    found
        .into_iter()
        .map(|p| {
            let browser = browser_name(home, &p);
            (p, browser)
        })
        .collect()
}

fn walk(dir: &Path, depth: usize, budget: &mut usize, found: &mut Vec<PathBuf>) {
    if depth > 7 || *budget == 0 {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let Ok(ft) = e.file_type() else { continue };
        let p = e.path();
        if ft.is_dir() {
            walk(&p, depth + 1, budget, found);
        } else if ft.is_file() {
            let name = e.file_name();
            if (name == "History" || name == "places.sqlite") && super::browser::is_sqlite(&p) {
                found.push(p);
            }
        }
    }
}

/// `~/.config/google-chrome/Default/History` → `google-chrome (Default)`.
fn browser_name(home: &Path, db: &Path) -> String {
    let rel = db.strip_prefix(home).unwrap_or(db);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let profile = parts
        .len()
        .checked_sub(2)
        .map(|i| parts[i].clone())
        .unwrap_or_default();
    let app = if parts.first().map(String::as_str) == Some(".mozilla") {
        "firefox".to_owned()
    } else {
        parts.get(1).cloned().unwrap_or_default()
    };
    format!("{app} ({profile})")
}

/// DNS servers, default routes and NetworkManager's Wi-Fi and mobile connections.
fn network_config(root: &Path, out: &mut Traces) {
    let resolv = root.join("etc/resolv.conf");
    if let Ok(text) = fs::read_to_string(&resolv) {
        for line in text.lines() {
            let mut it = line.split_whitespace();
            if it.next() == Some("nameserver")
                && let Some(addr) = it.next()
                && let Ok(ip) = addr.parse::<std::net::IpAddr>()
                && !super::browser::internal_ip(&ip)
            {
                out.traces.push(Trace {
                    kind: TraceKind::Internet,
                    sources: vec![display(&resolv)],
                    first_seen: None,
                    last_seen: mtime(&resolv),
                    detail: Detail::Internet(Internet::Network {
                        what: "互联网 DNS 服务器".into(),
                        detail: addr.to_owned(),
                    }),
                    alerts: true,
                });
            }
        }
    }
    let route = root.join("proc/net/route");
    if let Ok(text) = fs::read_to_string(&route) {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 2 && f[1] == "00000000" {
                let gw = u32::from_str_radix(f[2], 16)
                    .map(|g| std::net::Ipv4Addr::from(g.swap_bytes()))
                    .ok();
                let outside = gw.is_some_and(|g| !super::browser::internal_ip(&g.into()));
                let wireless = ["wl", "ww", "usb", "ppp"]
                    .iter()
                    .any(|p| f[0].starts_with(p));
                let gw = gw.map(|g| g.to_string()).unwrap_or_default();
                out.traces.push(Trace {
                    kind: TraceKind::Internet,
                    sources: vec![display(&route)],
                    first_seen: None,
                    last_seen: None,
                    detail: Detail::Internet(Internet::Network {
                        what: "默认路由".into(),
                        detail: format!("经 {gw}，网卡 {}", f[0]),
                    }),
                    // A default route through a private gateway on a wired card is how an
                    // internal network is built too: listed for the inspector, no alert.
                    alerts: outside || wireless,
                });
            }
        }
    }
    let nm = root.join("etc/NetworkManager/system-connections");
    let Ok(entries) = fs::read_dir(&nm) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            out.traces
                .push(Trace::error(display(&f), "无法读取（需要 root 权限）"));
            continue;
        };
        let key = |section: &str, key: &str| ini_value(&text, section, key);
        let kind = key("connection", "type").unwrap_or_default();
        let what = match kind.as_str() {
            "wifi" | "802-11-wireless" => "无线网络（Wi-Fi）连接",
            "gsm" | "cdma" => "移动网络（4G/5G）连接",
            "bluetooth" => "蓝牙网络连接",
            _ => continue,
        };
        let name = key("wifi", "ssid")
            .or_else(|| key("802-11-wireless", "ssid"))
            .or_else(|| key("connection", "id"))
            .unwrap_or_default();
        let last = key("connection", "timestamp")
            .and_then(|t| t.parse::<i64>().ok())
            .map(|s| s * 1000);
        out.traces.push(Trace {
            kind: TraceKind::Internet,
            sources: vec![display(&f)],
            first_seen: None,
            last_seen: last,
            detail: Detail::Internet(Internet::Network {
                what: what.into(),
                detail: name,
            }),
            alerts: true,
        });
    }
}

fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = "";
    for line in text.lines() {
        let l = line.trim();
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            current = s;
        } else if current == section
            && let Some((k, v)) = l.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_owned());
        }
    }
    None
}

/// `~/.local/share/recently-used.xbel`: every file on a classified machine, else those on
/// removable media (the trace of a medium used on this computer).
fn recent_files(home: &Path, classified: bool, out: &mut Traces) {
    let path = home.join(".local/share/recently-used.xbel");
    let Ok(meta) = fs::metadata(&path) else {
        return;
    };
    if meta.len() > 64 << 20 {
        out.traces
            .push(Trace::error(display(&path), "超过 64 MB，未读"));
        return;
    }
    let text = match fs::read(&path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            out.traces
                .push(Trace::error(display(&path), format!("无法读取：{e}")));
            return;
        }
    };
    if !text.contains("<xbel") {
        out.traces.push(Trace::error(
            display(&path),
            "不是 XBEL 文件（最近使用的文件列表已损坏）",
        ));
        return;
    }
    for item in parse_xbel(&text) {
        if !classified && !item.0.on_removable_media {
            continue;
        }
        let (recent, added, used) = item;
        let mut t = Trace {
            kind: TraceKind::Recent,
            sources: vec![display(&path)],
            first_seen: None,
            last_seen: None,
            detail: Detail::Recent(recent),
            alerts: false,
        };
        t.seen(added);
        t.seen(used);
        out.traces.push(t);
    }
}

/// The bookmarks of an XBEL file: (item, added, last used).
pub(crate) fn parse_xbel(text: &str) -> Vec<(RecentItem, Option<i64>, Option<i64>)> {
    let mut items = Vec::new();
    for chunk in text.split("<bookmark ").skip(1) {
        let tag_end = chunk.find('>').unwrap_or(chunk.len());
        let tag = &chunk[..tag_end];
        let Some(href) = attr(tag, "href") else {
            continue;
        };
        let name = match href.strip_prefix("file://") {
            Some(p) => percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned(),
            None => href.clone(),
        };
        let used = ["visited", "modified"]
            .iter()
            .filter_map(|k| attr(tag, k).and_then(|v| parse_rfc3339(&v)))
            .max();
        let added = attr(tag, "added").and_then(|v| parse_rfc3339(&v));
        let body_end = chunk.find("</bookmark>").unwrap_or(chunk.len());
        let body = &chunk[tag_end.min(body_end)..body_end];
        let app_tag = body
            .split("<bookmark:application ")
            .nth(1)
            .map(|s| &s[..s.find('>').unwrap_or(s.len())]);
        let application = app_tag.and_then(|t| attr(t, "name"));
        let count = app_tag
            .and_then(|t| attr(t, "count"))
            .and_then(|c| c.parse().ok());
        items.push((
            RecentItem {
                on_removable_media: on_removable_media(&name),
                name,
                via: "recently-used.xbel",
                application,
                count,
            },
            added,
            used,
        ));
    }
    items
}

/// An attribute's value in a tag, with XML's five entities undone.
fn attr(tag: &str, name: &str) -> Option<String> {
    let pat = format!(" {name}=\"");
    let start = format!(" {tag}").find(&pat)? + pat.len() - 1;
    let rest = tag.get(start..)?;
    let end = rest.find('"')?;
    Some(
        rest[..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_stamps() {
        let (t, m) = syslog_line(
            "Dec  1 09:12:33 pc kernel: [ 12.345678] usb 1-1: SerialNumber: X1",
            2026,
            12,
        )
        .unwrap();
        assert_eq!(m, "usb 1-1: SerialNumber: X1");
        assert_eq!(t, Some(from_beijing(2026, 12, 1, 9, 12, 33)));
        // A December line in a file last written in January is from the year before.
        let (t, _) = syslog_line("Dec 31 23:59:59 pc kernel: x", 2027, 1).unwrap();
        assert_eq!(t, Some(from_beijing(2026, 12, 31, 23, 59, 59)));
        let (t, _) = syslog_line(
            "2026-12-01T01:12:33.5+00:00 pc kernel: usb 1-1: x",
            2026,
            12,
        )
        .unwrap();
        assert_eq!(t, Some(from_beijing(2026, 12, 1, 9, 12, 33) + 500));
    }

    #[test]
    fn xbel_items() {
        let x = r#"<?xml version="1.0"?><xbel version="1.0">
<bookmark href="file:///media/u/KINGSTON/%E6%8A%A5%E5%91%8A.docx" added="2026-11-30T01:00:00.000000Z" modified="2026-11-30T02:00:00Z" visited="2026-12-01T03:00:00.123Z">
<info><metadata owner="http://freedesktop.org"><bookmark:applications>
<bookmark:application name="WPS Writer" exec="&apos;wps %u&apos;" modified="2026-12-01T03:00:00Z" count="3"/>
</bookmark:applications></metadata></info></bookmark></xbel>"#;
        let items = parse_xbel(x);
        assert_eq!(items.len(), 1);
        let (r, added, used) = &items[0];
        assert_eq!(r.name, "/media/u/KINGSTON/报告.docx");
        assert!(r.on_removable_media);
        assert_eq!(r.application.as_deref(), Some("WPS Writer"));
        assert_eq!(r.count, Some(3));
        assert_eq!(*added, Some(from_beijing(2026, 11, 30, 9, 0, 0)));
        assert_eq!(*used, Some(from_beijing(2026, 12, 1, 11, 0, 0) + 123));
    }
}
