//! `baomi traces`: the traces a secrecy inspection (保密检查) looks for on an office computer —
//! removable media that were attached (移动介质交叉使用) and, on a machine marked classified,
//! internet use (违规外联) — read from a live Linux machine, a mounted image (`--root`), or
//! files an inspector collected from a Windows machine (`--hive`, `--browser-profile`).
//!
//! Every trace is one [`Trace`]: a kind (`trace.usb`, `trace.internet`, `trace.recent`, or
//! `trace.error` for a source that could not be read), where it was read, first and last
//! time seen, and what it is. Reading never stops at a bad source: a garbage hive or a
//! truncated database becomes a `trace.error` and the rest is still read.
//!
//! - `linux.rs`: kernel logs (journal, kern.log/syslog/messages, also rotated and .gz), the
//!   udev database, sysfs, network configuration, recently-used.xbel, browser discovery.
//! - `regf.rs` + `hive.rs`: Windows hives (SYSTEM: USBSTOR, MountedDevices; NTUSER.DAT:
//!   RecentDocs, UserAssist).
//! - `browser.rs`: Chromium `History` and Firefox `places.sqlite`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use serde_json::{Value, json};

pub mod browser;
pub mod hive;
pub mod linux;
pub mod regf;

/// What a trace is evidence of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TraceKind {
    /// A USB storage device was attached.
    Usb,
    /// The machine was on the internet (browser history, network configuration).
    Internet,
    /// A file or program was used recently.
    Recent,
    /// A source could not be read; the inspection is incomplete.
    Error,
}

impl TraceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceKind::Usb => "trace.usb",
            TraceKind::Internet => "trace.internet",
            TraceKind::Recent => "trace.recent",
            TraceKind::Error => "trace.error",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            TraceKind::Usb => "移动存储设备使用痕迹",
            TraceKind::Internet => "违规外联痕迹",
            TraceKind::Recent => "最近使用的文件",
            TraceKind::Error => "无法读取的来源",
        }
    }
}

/// A USB storage device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsbDevice {
    pub vendor: Option<String>,
    pub model: Option<String>,
    /// The device's serial as it reports it. On Windows an instance id whose second
    /// character is `&` was made up by Windows for a device without one (`serial_generated`).
    pub serial: Option<String>,
    pub serial_generated: bool,
    pub vendor_id: Option<String>,
    pub product_id: Option<String>,
    pub revision: Option<String>,
    /// Windows' FriendlyName.
    pub friendly_name: Option<String>,
    /// Drive letters and volumes Windows gave it (MountedDevices).
    pub mounted_as: Vec<String>,
    /// Times the kernel log shows it being plugged in.
    pub connections: u32,
    /// Attached at the time of reading (sysfs).
    pub attached_now: bool,
    /// Its serial is registered in the agent's config (`usb.registered`).
    pub registered: bool,
}

/// Visits to one outside host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVisits {
    pub host: String,
    pub visits: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Internet {
    /// A browser profile's history with visits to hosts outside the internal network.
    BrowserHistory {
        browser: String,
        visits: u64,
        /// The hosts visited most, at most [`MAX_HOSTS`].
        hosts: Vec<HostVisits>,
        hosts_total: usize,
    },
    /// Network configuration or a kernel log line that points outside: a public DNS
    /// server, a default route, a Wi-Fi or mobile connection, USB tethering.
    Network { what: String, detail: String },
}

/// Hosts listed per browser profile; the rest are counted.
pub const MAX_HOSTS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentItem {
    /// A path (Linux, UserAssist) or a file name (RecentDocs).
    pub name: String,
    /// `recently-used.xbel`, `RecentDocs`, `UserAssist`.
    pub via: &'static str,
    pub application: Option<String>,
    /// Times used (xbel's count, UserAssist's run count).
    pub count: Option<u32>,
    /// On a removable medium's mount point (/media, /run/media, /mnt).
    pub on_removable_media: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    Usb(UsbDevice),
    Internet(Internet),
    Recent(RecentItem),
    Error { message: String },
}

/// One trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub kind: TraceKind,
    /// Where it was read (files, keys, databases).
    pub sources: Vec<String>,
    /// Unix milliseconds.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub detail: Detail,
    /// Whether an inspection must look at it: an unregistered medium on a classified
    /// machine, internet use on one. These become incidents when sent with `--report-to`.
    pub alerts: bool,
}

impl Trace {
    pub fn error(source: impl Into<String>, message: impl Into<String>) -> Trace {
        Trace {
            kind: TraceKind::Error,
            sources: vec![source.into()],
            first_seen: None,
            last_seen: None,
            detail: Detail::Error {
                message: message.into(),
            },
            alerts: false,
        }
    }

    /// Widen the time span to include `t`.
    pub fn seen(&mut self, t: Option<i64>) {
        if let Some(t) = t {
            self.first_seen = Some(self.first_seen.map_or(t, |f| f.min(t)));
            self.last_seen = Some(self.last_seen.map_or(t, |l| l.max(t)));
        }
    }

    pub fn add_source(&mut self, s: &str) {
        if !self.sources.iter().any(|x| x == s) {
            self.sources.push(s.to_owned());
        }
    }

    /// One line saying what this is, for the human output and the run report.
    pub fn title(&self) -> String {
        match &self.detail {
            Detail::Usb(u) => {
                let mut name = [&u.vendor, &u.model]
                    .iter()
                    .filter_map(|s| s.as_deref())
                    .collect::<Vec<_>>()
                    .join(" ");
                if name.is_empty() {
                    name = u
                        .friendly_name
                        .clone()
                        .unwrap_or_else(|| "USB 存储设备".into());
                }
                match &u.serial {
                    Some(s) => format!("{name} 序列号 {s}"),
                    None => format!("{name}（无序列号）"),
                }
            }
            Detail::Internet(Internet::BrowserHistory {
                browser,
                visits,
                hosts_total,
                ..
            }) => format!("{browser} 浏览记录：访问外部网站 {hosts_total} 个，{visits} 次"),
            Detail::Internet(Internet::Network { what, detail }) => format!("{what}：{detail}"),
            Detail::Recent(r) => r.name.clone(),
            Detail::Error { message } => message.clone(),
        }
    }

    /// The trace as one JSON object (`baomi traces --json` prints one per line).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "kind": self.kind.as_str(),
            "title": self.title(),
            "sources": self.sources,
            "first_seen": self.first_seen.map(rfc3339),
            "last_seen": self.last_seen.map(rfc3339),
            "alerts": self.alerts,
        });
        match &self.detail {
            Detail::Usb(u) => {
                v["vendor"] = json!(u.vendor);
                v["model"] = json!(u.model);
                v["serial"] = json!(u.serial);
                v["serial_generated"] = json!(u.serial_generated);
                v["vendor_id"] = json!(u.vendor_id);
                v["product_id"] = json!(u.product_id);
                v["revision"] = json!(u.revision);
                v["friendly_name"] = json!(u.friendly_name);
                v["mounted_as"] = json!(u.mounted_as);
                v["connections"] = json!(u.connections);
                v["attached_now"] = json!(u.attached_now);
                v["registered"] = json!(u.registered);
            }
            Detail::Internet(Internet::BrowserHistory {
                browser,
                visits,
                hosts,
                hosts_total,
            }) => {
                v["what"] = json!("browser-history");
                v["browser"] = json!(browser);
                v["visits"] = json!(visits);
                v["hosts_total"] = json!(hosts_total);
                v["hosts"] = hosts
                    .iter()
                    .map(|h| {
                        json!({"host": h.host, "visits": h.visits,
                               "first": h.first.map(rfc3339), "last": h.last.map(rfc3339)})
                    })
                    .collect();
            }
            Detail::Internet(Internet::Network { what, detail }) => {
                v["what"] = json!(what);
                v["detail"] = json!(detail);
            }
            Detail::Recent(r) => {
                v["name"] = json!(r.name);
                v["via"] = json!(r.via);
                v["application"] = json!(r.application);
                v["count"] = json!(r.count);
                v["on_removable_media"] = json!(r.on_removable_media);
            }
            Detail::Error { message } => v["message"] = json!(message),
        }
        v
    }

    /// The trace as a run report's `file` entry (the shape `baomi scan --report-to` sends,
    /// so the server records it as it records a scanned file): `type` is the trace's kind,
    /// its one finding carries the kind, where it was read and what it is; alerting traces
    /// have the verdict `alert` and become incidents.
    pub fn to_run_entry(&self) -> Value {
        let (verdict, severity) = match (self.kind, self.alerts) {
            (TraceKind::Error, _) => ("allow", "none"),
            (_, true) => ("alert", "high"),
            (_, false) => ("audit", "low"),
        };
        let mut finding = json!({
            "kind": self.kind.as_str(),
            "confidence": 1.0,
            "part": self.sources.join("; "),
            "line": null,
            "text": self.title(),
            "reason": self.reason(),
        });
        if let Some(t) = self.last_seen.or(self.first_seen) {
            finding["seen"] = json!(rfc3339(t));
        }
        let errors: Vec<String> = match &self.detail {
            Detail::Error { message } => vec![message.clone()],
            _ => Vec::new(),
        };
        json!({
            "path": format!("{}: {}", self.kind.as_str(), self.title()),
            "type": self.kind.as_str(),
            "declared_type": null,
            "size": 0,
            "verdict": verdict,
            "severity": severity,
            "rules": if self.alerts { vec![self.kind.as_str()] } else { Vec::new() },
            "findings": if self.kind == TraceKind::Error { Vec::new() } else { vec![finding] },
            "errors": errors,
            "trace": self.to_json(),
        })
    }

    fn reason(&self) -> String {
        let span = match (self.first_seen, self.last_seen) {
            (Some(f), Some(l)) if f != l => format!("，{} 至 {}", beijing(f), beijing(l)),
            (_, Some(l)) | (Some(l), None) => format!("，{}", beijing(l)),
            _ => String::new(),
        };
        match &self.detail {
            Detail::Usb(u) if u.registered => format!("已登记的移动存储介质{span}"),
            Detail::Usb(_) => format!("接入过未登记的移动存储介质{span}"),
            Detail::Internet(_) => format!("涉密计算机有连接互联网的痕迹{span}"),
            Detail::Recent(_) => format!("最近使用{span}"),
            Detail::Error { .. } => String::new(),
        }
    }
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    /// Read this Linux system: `/` for the live machine, or a mounted image. `None` with
    /// hives or browser profiles: read only those; `None` without them: the live machine.
    pub root: Option<PathBuf>,
    /// Windows hives (SYSTEM, NTUSER.DAT), told apart by their content.
    pub hives: Vec<PathBuf>,
    /// Browser profile directories (or the History / places.sqlite files themselves).
    pub browser_profiles: Vec<PathBuf>,
    /// The machine is classified (涉密计算机): internet use is looked for and alerts,
    /// unregistered media alert.
    pub classified: bool,
    /// Serials of registered media (the agent config's `usb.registered`).
    pub registered_serials: Vec<String>,
    /// Host suffixes that are the internal network (`unit.gov.cn`); private addresses,
    /// single-label names and `.local`/`.lan`/`.internal`/`.intranet`/`.home.arpa` always are.
    pub internal_domains: Vec<String>,
    /// Whether to ask `journalctl` (the live machine; for `--root`, its `var/log/journal`).
    pub journal: bool,
}

/// Everything read: the traces, and notes on what was and was not there to read.
#[derive(Debug, Clone, Default)]
pub struct Traces {
    pub traces: Vec<Trace>,
    /// The sources read, and the ones that were not there ("no kern.log").
    pub notes: Vec<String>,
}

impl Traces {
    /// 0 nothing found, 1 traces found, 2 a source could not be read (as `baomi scan`: errors
    /// first, because an incomplete inspection must not pass as clean).
    pub fn exit_code(&self) -> i32 {
        if self.traces.iter().any(|t| t.kind == TraceKind::Error) {
            2
        } else if self.traces.is_empty() {
            0
        } else {
            1
        }
    }

    /// JSON Lines: one object per trace.
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        for t in &self.traces {
            serde_json::to_writer(&mut *out, &t.to_json())?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// The human report, headed by kind, times in Beijing time.
    pub fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut by_kind: BTreeMap<TraceKind, Vec<&Trace>> = BTreeMap::new();
        for t in &self.traces {
            by_kind.entry(t.kind).or_default().push(t);
        }
        if by_kind.is_empty() {
            writeln!(out, "未发现痕迹。")?;
        }
        for (kind, traces) in &by_kind {
            writeln!(out, "{}（{} 条）", kind.heading(), traces.len())?;
            for t in traces {
                let mark = if t.alerts { "！" } else { " " };
                writeln!(out, " {mark} {}", t.title())?;
                let mut facts = Vec::new();
                match (t.first_seen, t.last_seen) {
                    (Some(f), Some(l)) if f != l => {
                        facts.push(format!("首次 {}", beijing(f)));
                        facts.push(format!("最近 {}", beijing(l)));
                    }
                    (_, Some(l)) | (Some(l), None) => facts.push(format!("时间 {}", beijing(l))),
                    _ => {}
                }
                match &t.detail {
                    Detail::Usb(u) => {
                        if let (Some(v), Some(p)) = (&u.vendor_id, &u.product_id) {
                            facts.push(format!("VID:PID {v}:{p}"));
                        }
                        if let Some(f) = &u.friendly_name {
                            facts.push(format!("名称 {f}"));
                        }
                        if !u.mounted_as.is_empty() {
                            facts.push(format!("盘符/卷 {}", u.mounted_as.join(" ")));
                        }
                        if u.connections > 0 {
                            facts.push(format!("接入 {} 次", u.connections));
                        }
                        if u.attached_now {
                            facts.push("当前已接入".into());
                        }
                        if u.registered {
                            facts.push("已登记".into());
                        }
                    }
                    Detail::Internet(Internet::BrowserHistory { hosts, .. }) => {
                        for h in hosts.iter().take(10) {
                            let last = h.last.map(beijing).unwrap_or_default();
                            facts.push(format!("{} {} 次 {last}", h.host, h.visits));
                        }
                    }
                    Detail::Recent(r) => {
                        facts.push(r.via.to_owned());
                        if let Some(a) = &r.application {
                            facts.push(format!("程序 {a}"));
                        }
                        if let Some(c) = r.count {
                            facts.push(format!("{c} 次"));
                        }
                        if r.on_removable_media {
                            facts.push("在移动介质上".into());
                        }
                    }
                    _ => {}
                }
                if !facts.is_empty() {
                    writeln!(out, "      {}", facts.join("  "))?;
                }
                writeln!(out, "      来源 {}", t.sources.join("; "))?;
            }
            writeln!(out)?;
        }
        if !self.notes.is_empty() {
            writeln!(out, "已检查：")?;
            for n in &self.notes {
                writeln!(out, "  {n}")?;
            }
        }
        out.flush()
    }
}

/// Read every source the options name.
pub fn collect(options: &TraceOptions) -> Traces {
    let mut out = Traces::default();
    let live =
        options.root.is_none() && options.hives.is_empty() && options.browser_profiles.is_empty();
    let root = options
        .root
        .clone()
        .or_else(|| live.then(|| PathBuf::from("/")));
    if let Some(root) = &root {
        linux::collect(root, options, &mut out);
    }
    for h in &options.hives {
        hive::collect(h, options, &mut out);
    }
    for p in &options.browser_profiles {
        browser::collect_profile(p, options, &mut out);
    }
    for t in &mut out.traces {
        if let Detail::Usb(u) = &mut t.detail {
            u.registered = u.serial.as_deref().is_some_and(|s| {
                options
                    .registered_serials
                    .iter()
                    .any(|r| r.trim().eq_ignore_ascii_case(s))
            });
            t.alerts = options.classified && !u.registered;
        }
    }
    out
}

/// Beijing time, `2026-12-01 09:12:33`.
pub fn beijing(ms: i64) -> String {
    let (date, time) = civil(ms);
    format!("{date} {time}")
}

/// RFC 3339 in Beijing time, `2026-12-01T09:12:33+08:00`.
pub fn rfc3339(ms: i64) -> String {
    let (date, time) = civil(ms);
    format!("{date}T{time}+08:00")
}

fn civil(ms: i64) -> (String, String) {
    let local = ms + baomi_store::LOCAL_OFFSET_MS;
    let (y, m, d) = baomi_store::civil_from_days(local.div_euclid(86_400_000));
    let secs = local.rem_euclid(86_400_000) / 1000;
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
    )
}

/// Unix milliseconds of a civil time given in Beijing time.
pub fn from_beijing(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    let days = baomi_store::days_from_civil(y, i64::from(mo), i64::from(d));
    (days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)) * 1000
        - baomi_store::LOCAL_OFFSET_MS
}

/// Whether a path lies where removable media are mounted.
pub fn on_removable_media(path: &str) -> bool {
    ["/media/", "/run/media/", "/mnt/"]
        .iter()
        .any(|p| path.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_beijing_and_rfc3339() {
        // 2026-12-01T01:12:33Z
        let ms = 1_796_087_553_000;
        assert_eq!(beijing(ms), "2026-12-01 09:12:33");
        assert_eq!(rfc3339(ms), "2026-12-01T09:12:33+08:00");
        assert_eq!(from_beijing(2026, 12, 1, 9, 12, 33), ms);
    }
}
