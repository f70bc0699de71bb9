//! Windows hives an inspector collected (`--hive FILE`), told apart by content, not name:
//!
//! - SYSTEM: `ControlSet00N\Enum\USBSTOR\Disk&Ven_…&Prod_…&Rev_…\SERIAL&0` — every USB
//!   storage device Windows ever installed, with its FriendlyName and, under
//!   `Properties\{83da6326-97a6-4088-9453-a1923f573b29}`, the first install (`0064`), install
//!   (`0065`), last arrival (`0066`) and last removal (`0067`) times; `Enum\USB\VID_…&PID_…`
//!   gives the USB ids of the same serial; `MountedDevices` the drive letters and volumes.
//! - NTUSER.DAT: `…\Explorer\RecentDocs` (names of recently opened files, UTF-16LE at the
//!   start of each MRU value, newest first by `MRUListEx`; the key's last-written time is
//!   the time of its newest entry) and `…\Explorer\UserAssist\{GUID}\Count` (programs run:
//!   ROT13 names, run count and last run FILETIME in the 72-byte value of Windows 7 and
//!   later, or the 16-byte value of XP).

use std::collections::BTreeMap;
use std::path::Path;

use super::regf::{Hive, HiveError, Key, filetime_ms, utf16z};
use super::{Detail, RecentItem, Trace, TraceKind, TraceOptions, Traces, UsbDevice};

/// Hives larger than this are refused (real SYSTEM hives are tens of MB).
const MAX_HIVE_BYTES: u64 = 512 << 20;

const DEVICE_PROPERTIES: &str = "{83da6326-97a6-4088-9453-a1923f573b29}";
const EXPLORER: &str = "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer";

pub fn collect(path: &Path, _options: &TraceOptions, out: &mut Traces) {
    let source = path.display().to_string();
    let hive = match read(path) {
        Ok(h) => h,
        Err(e) => {
            out.traces.push(Trace::error(source, e));
            return;
        }
    };
    let before = out.traces.len();
    let result = (|| -> Result<&'static str, HiveError> {
        let root = hive.root()?;
        let control_sets: Vec<Key> = hive
            .subkeys(&root)?
            .into_iter()
            .filter(|k| k.name.to_ascii_lowercase().starts_with("controlset"))
            .collect();
        if !control_sets.is_empty() {
            system(&hive, &source, &control_sets, out)?;
            return Ok("SYSTEM");
        }
        if hive.key(EXPLORER)?.is_some() {
            ntuser(&hive, &source, out)?;
            return Ok("NTUSER.DAT");
        }
        Ok("")
    })();
    match result {
        Ok("") => out.traces.push(Trace::error(
            source,
            "注册表文件既不是 SYSTEM 也不是 NTUSER.DAT（没有 ControlSet 或 Explorer 键）",
        )),
        Ok(kind) => {
            let dirty = if hive.dirty {
                "；事务日志未合并，最后几分钟的改动可能缺失"
            } else {
                ""
            };
            out.notes.push(format!(
                "{source}: {kind}，痕迹 {} 条{dirty}",
                out.traces.len() - before
            ));
        }
        Err(e) => out
            .traces
            .push(Trace::error(source, format!("注册表文件已损坏：{e}"))),
    }
}

fn read(path: &Path) -> Result<Hive, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("无法读取：{e}"))?;
    if meta.len() > MAX_HIVE_BYTES {
        return Err(format!("超过 {} MB，未读", MAX_HIVE_BYTES >> 20));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("无法读取：{e}"))?;
    Hive::parse(bytes).map_err(|e| match e {
        HiveError::NotAHive => "不是 Windows 注册表文件（没有 regf 标志）".to_owned(),
        e => format!("注册表文件已损坏：{e}"),
    })
}

/// `Disk&Ven_SanDisk&Prod_Ultra&Rev_1.00` → (vendor, product, revision). Windows pads the
/// fields with underscores for spaces.
fn split_device_id(id: &str) -> (Option<String>, Option<String>, Option<String>) {
    let mut vendor = None;
    let mut product = None;
    let mut rev = None;
    for part in id.split('&') {
        let clean = |s: &str| Some(s.replace('_', " ").trim().to_owned()).filter(|s| !s.is_empty());
        if let Some(v) = part.strip_prefix("Ven_") {
            vendor = clean(v);
        } else if let Some(p) = part.strip_prefix("Prod_") {
            product = clean(p);
        } else if let Some(r) = part.strip_prefix("Rev_") {
            rev = clean(r);
        }
    }
    (vendor, product, rev)
}

/// `4C530001230101104353&0` → the serial; a second character `&` means Windows made the id
/// up (the device reports no serial).
fn split_instance(instance: &str) -> (String, bool) {
    let generated = instance.as_bytes().get(1) == Some(&b'&');
    let serial = match instance.rsplit_once('&') {
        Some((s, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => s,
        _ => instance,
    };
    (serial.to_owned(), generated)
}

/// A device property's FILETIME (`Properties\{…}\0066`, Windows 8+: the key's default
/// value; Windows 7: `00000066\00000000`'s value `Data`).
fn property_time(hive: &Hive, props: &Key, id: &str) -> Result<Option<i64>, HiveError> {
    for name in [id.to_owned(), format!("0000{id}")] {
        let Some(k) = hive.subkey(props, &name)? else {
            continue;
        };
        let mut values = hive.values(&k)?;
        if values.is_empty()
            && let Some(sub) = hive.subkey(&k, "00000000")?
        {
            values = hive.values(&sub)?;
        }
        for v in values {
            if v.data.len() == 8 {
                let ft = u64::from_le_bytes(v.data[..8].try_into().unwrap_or([0; 8]));
                if let Some(ms) = filetime_ms(ft) {
                    return Ok(Some(ms));
                }
            }
        }
    }
    Ok(None)
}

fn system(
    hive: &Hive,
    source: &str,
    control_sets: &[Key],
    out: &mut Traces,
) -> Result<(), HiveError> {
    // One trace per instance id; the control sets (current and last known good) repeat them.
    let mut devices: BTreeMap<String, Trace> = BTreeMap::new();
    let mut usb_ids: BTreeMap<String, (String, String)> = BTreeMap::new();
    for cs in control_sets {
        let Some(enum_key) = hive.subkey(cs, "Enum")? else {
            continue;
        };
        if let Some(usb) = hive.subkey(&enum_key, "USB")? {
            for dev in hive.subkeys(&usb)? {
                let up = dev.name.to_ascii_uppercase();
                let (Some(v), Some(p)) = (
                    up.split('&').find_map(|s| s.strip_prefix("VID_")),
                    up.split('&').find_map(|s| s.strip_prefix("PID_")),
                ) else {
                    continue;
                };
                for inst in hive.subkeys(&dev)? {
                    usb_ids.insert(
                        inst.name.to_ascii_uppercase(),
                        (v.to_ascii_lowercase(), p.to_ascii_lowercase()),
                    );
                }
            }
        }
        let Some(usbstor) = hive.subkey(&enum_key, "USBSTOR")? else {
            continue;
        };
        for dev in hive.subkeys(&usbstor)? {
            let (vendor, model, revision) = split_device_id(&dev.name);
            for inst in hive.subkeys(&dev)? {
                let id = format!("{}\\{}", dev.name, inst.name);
                let (serial, generated) = split_instance(&inst.name);
                let friendly = hive
                    .value(&inst, "FriendlyName")?
                    .map(|v| v.text())
                    .filter(|s| !s.is_empty());
                let mut times = BTreeMap::new();
                if let Some(props) = hive.key_path(&inst, &["Properties", DEVICE_PROPERTIES])? {
                    for p in ["0064", "0065", "0066", "0067"] {
                        if let Some(t) = property_time(hive, &props, p)? {
                            times.insert(p, t);
                        }
                    }
                }
                let t = devices
                    .entry(id.to_ascii_uppercase())
                    .or_insert_with(|| Trace {
                        kind: TraceKind::Usb,
                        sources: Vec::new(),
                        first_seen: None,
                        last_seen: None,
                        detail: Detail::Usb(UsbDevice {
                            vendor: vendor.clone(),
                            model: model.clone(),
                            serial: Some(serial.clone()),
                            serial_generated: generated,
                            revision: revision.clone(),
                            friendly_name: friendly.clone(),
                            ..UsbDevice::default()
                        }),
                        alerts: false,
                    });
                t.add_source(&format!("{source}: {}\\Enum\\USBSTOR\\{id}", cs.name));
                // First install is when it was first plugged in; the last arrival (or,
                // without it, the install date) when it was last.
                t.seen(times.get("0064").copied());
                t.seen(times.get("0066").or(times.get("0065")).copied());
                if times.is_empty() {
                    t.seen(filetime_ms(inst.last_written));
                }
            }
        }
    }
    // MountedDevices: `\DosDevices\E:` → `_??_USBSTOR#Disk&Ven_…#SERIAL&0#{GUID}` in UTF-16.
    let mut mounted: Vec<(String, String)> = Vec::new();
    if let Some(md) = hive.key("MountedDevices")? {
        for v in hive.values(&md)? {
            let text = utf16z(&v.data);
            let upper = text.to_ascii_uppercase();
            if let Some(rest) = upper.strip_prefix("_??_USBSTOR#") {
                let mut parts = rest.split('#');
                let (Some(dev), Some(inst)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let name = v
                    .name
                    .strip_prefix("\\DosDevices\\")
                    .or_else(|| v.name.strip_prefix("\\??\\"))
                    .unwrap_or(&v.name)
                    .to_owned();
                mounted.push((format!("{dev}\\{inst}"), name));
            }
        }
    }
    for (id, name) in mounted {
        let t = devices.entry(id.clone()).or_insert_with(|| {
            // Mounted once, but its USBSTOR key is gone (deleted to hide it, or a control
            // set not in this hive): still a trace.
            let (dev, inst) = id.split_once('\\').unwrap_or((&id, ""));
            let (vendor, model, revision) = split_device_id(dev);
            let (serial, generated) = split_instance(inst);
            Trace {
                kind: TraceKind::Usb,
                sources: Vec::new(),
                first_seen: None,
                last_seen: None,
                detail: Detail::Usb(UsbDevice {
                    vendor,
                    model,
                    serial: Some(serial),
                    serial_generated: generated,
                    revision,
                    ..UsbDevice::default()
                }),
                alerts: false,
            }
        });
        t.add_source(&format!("{source}: MountedDevices"));
        if let Detail::Usb(u) = &mut t.detail
            && !u.mounted_as.contains(&name)
        {
            u.mounted_as.push(name);
        }
    }
    for (_, mut t) in devices {
        if let Detail::Usb(u) = &mut t.detail
            && let Some(serial) = &u.serial
            && let Some((v, p)) = usb_ids.get(&serial.to_ascii_uppercase())
        {
            u.vendor_id = Some(v.clone());
            u.product_id = Some(p.clone());
        }
        out.traces.push(t);
    }
    Ok(())
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

/// Known folders UserAssist names programs by.
fn known_folder(name: &str) -> String {
    const FOLDERS: [(&str, &str); 6] = [
        (
            "{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}",
            "C:\\Windows\\System32",
        ),
        (
            "{6D809377-6AF0-444B-8957-A3773F02200E}",
            "C:\\Program Files",
        ),
        (
            "{7C5A40EF-A0FB-4BFC-874A-C0F2E0B9FA8E}",
            "C:\\Program Files (x86)",
        ),
        ("{F38BF404-1D43-42F2-9305-67DE0B28FC23}", "C:\\Windows"),
        (
            "{D65231B0-B2F1-4857-A4CE-A8E7C6EA7D27}",
            "C:\\Windows\\SysWOW64",
        ),
        (
            "{A77F5D77-2E2B-44C3-A6A2-ABA601054A51}",
            "%APPDATA%\\Microsoft\\Windows\\Start Menu\\Programs",
        ),
    ];
    for (guid, path) in FOLDERS {
        if let Some(rest) = name.strip_prefix(guid) {
            return format!("{path}{rest}");
        }
    }
    name.to_owned()
}

fn ntuser(hive: &Hive, source: &str, out: &mut Traces) -> Result<(), HiveError> {
    if let Some(recent) = hive.key(&format!("{EXPLORER}\\RecentDocs"))? {
        // name → newest known time; the extension subkeys give the time of their own
        // newest entry, so more names get a time than the top key alone would give.
        let mut order: Vec<String> = Vec::new();
        let mut times: BTreeMap<String, i64> = BTreeMap::new();
        let mut keys = vec![recent.clone()];
        keys.extend(hive.subkeys(&recent)?);
        for key in &keys {
            let values = hive.values(key)?;
            let mru: Vec<u32> = values
                .iter()
                .find(|v| v.name.eq_ignore_ascii_case("MRUListEx"))
                .map(|v| {
                    v.data
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .take_while(|&n| n != u32::MAX)
                        .collect()
                })
                .unwrap_or_default();
            for (pos, n) in mru.iter().enumerate() {
                let Some(v) = values.iter().find(|v| v.name == n.to_string()) else {
                    continue;
                };
                let name = utf16z(&v.data);
                if name.is_empty() {
                    continue;
                }
                if pos == 0
                    && let Some(t) = filetime_ms(key.last_written)
                {
                    let e = times.entry(name.clone()).or_insert(t);
                    *e = (*e).max(t);
                }
                if !order.contains(&name) {
                    order.push(name);
                }
            }
        }
        for name in order {
            let mut t = Trace {
                kind: TraceKind::Recent,
                sources: vec![format!("{source}: {EXPLORER}\\RecentDocs")],
                first_seen: None,
                last_seen: None,
                detail: Detail::Recent(RecentItem {
                    on_removable_media: false,
                    name: name.clone(),
                    via: "RecentDocs",
                    application: None,
                    count: None,
                }),
                alerts: false,
            };
            t.seen(times.get(&name).copied());
            out.traces.push(t);
        }
    }
    if let Some(ua) = hive.key(&format!("{EXPLORER}\\UserAssist"))? {
        for guid in hive.subkeys(&ua)? {
            let Some(count) = hive.subkey(&guid, "Count")? else {
                continue;
            };
            for v in hive.values(&count)? {
                let name = rot13(&v.name);
                if name.starts_with("UEME_") {
                    continue;
                }
                let (runs, last) = match v.data.len() {
                    72 => (
                        u32::from_le_bytes(v.data[4..8].try_into().unwrap_or([0; 4])),
                        u64::from_le_bytes(v.data[60..68].try_into().unwrap_or([0; 8])),
                    ),
                    16 => (
                        // XP starts the count at 5.
                        u32::from_le_bytes(v.data[4..8].try_into().unwrap_or([0; 4]))
                            .saturating_sub(5),
                        u64::from_le_bytes(v.data[8..16].try_into().unwrap_or([0; 8])),
                    ),
                    _ => continue,
                };
                let last = filetime_ms(last);
                if runs == 0 && last.is_none() {
                    continue;
                }
                let mut t = Trace {
                    kind: TraceKind::Recent,
                    sources: vec![format!(
                        "{source}: {EXPLORER}\\UserAssist\\{}\\Count",
                        guid.name
                    )],
                    first_seen: None,
                    last_seen: None,
                    detail: Detail::Recent(RecentItem {
                        on_removable_media: false,
                        name: known_folder(&name),
                        via: "UserAssist",
                        application: None,
                        count: Some(runs),
                    }),
                    alerts: false,
                };
                t.seen(last);
                out.traces.push(t);
            }
        }
    }
    Ok(())
}

impl Hive {
    /// The key at `path` below `key`.
    pub fn key_path(&self, key: &Key, path: &[&str]) -> Result<Option<Key>, HiveError> {
        let mut k = key.clone();
        for p in path {
            match self.subkey(&k, p)? {
                Some(next) => k = next,
                None => return Ok(None),
            }
        }
        Ok(Some(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(
            split_device_id("Disk&Ven_SanDisk&Prod_Cruzer_Blade&Rev_1.00"),
            (
                Some("SanDisk".into()),
                Some("Cruzer Blade".into()),
                Some("1.00".into())
            )
        );
        assert_eq!(
            split_instance("4C530001230101104353&0"),
            ("4C530001230101104353".into(), false)
        );
        assert_eq!(split_instance("7&2a3b4c5d&0"), ("7&2a3b4c5d".into(), true));
        assert_eq!(rot13("HRZR_PGYFRFFVBA"), "UEME_CTLSESSION");
    }
}
