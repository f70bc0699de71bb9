//! Which mounts are removable media: `/proc/self/mountinfo` (polled every second by the
//! agent — that also catches a mount made by hand with `mount`, which udisks2 never sees)
//! and sysfs for the block device behind each (`/sys/dev/block/MAJ:MIN`: its `removable`
//! flag, and up the device tree the USB device's `idVendor`, `idProduct`, `manufacturer`,
//! `product` and `serial`).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One line of `/proc/self/mountinfo` (proc(5)), the fields the agent uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_id: u32,
    pub major: u32,
    pub minor: u32,
    /// Where it is mounted (octal escapes such as `\040` undone).
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,nosuid,nodev`).
    pub options: String,
    pub fs_type: String,
    /// The mount source (`/dev/sdb1`, `tmpfs`).
    pub source: String,
}

impl Mount {
    pub fn read_only(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }
}

/// Parse mountinfo text; lines that do not have the documented shape are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let mount_id = l.next()?.parse().ok()?;
    let _parent = l.next()?;
    let (major, minor) = l.next()?.split_once(':')?;
    let _root = l.next()?;
    let mount_point = PathBuf::from(unescape(l.next()?));
    let options = l.next()?.to_owned();
    let mut r = right.split(' ');
    let fs_type = r.next()?.to_owned();
    let source = unescape(r.next().unwrap_or(""));
    Some(Mount {
        mount_id,
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        mount_point,
        options,
        fs_type,
        source,
    })
}

/// mountinfo writes space, tab, newline and backslash in paths as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mounts of this process's namespace now.
pub fn current() -> std::io::Result<Vec<Mount>> {
    Ok(parse_mountinfo(&fs::read_to_string(
        "/proc/self/mountinfo",
    )?))
}

/// What sysfs says about the device behind a mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The block device's `removable` flag (or its disk's, for a partition).
    pub removable: bool,
    /// Found under a USB device in the device tree.
    pub usb: bool,
    pub vendor_id: Option<String>,
    pub product_id: Option<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
}

impl Device {
    /// Media the agent watches: flagged removable, or on USB (many USB disks say
    /// `removable 0`).
    pub fn is_removable_media(&self) -> bool {
        self.removable || self.usb
    }
}

/// Look the block device `major:minor` up under `sys` (`/sys` on a real system; a test
/// passes a tree of its own). None when it is no block device (tmpfs, overlay …).
pub fn device(sys: &Path, major: u32, minor: u32) -> Option<Device> {
    if major == 0 {
        return None;
    }
    let link = sys.join(format!("dev/block/{major}:{minor}"));
    let dev = fs::canonicalize(&link).ok()?;
    let read = |p: &Path, f: &str| -> Option<String> {
        fs::read_to_string(p.join(f))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let mut d = Device::default();
    // A partition's `removable` is its disk's, one level up.
    let flag = read(&dev, "removable").or_else(|| dev.parent().and_then(|p| read(p, "removable")));
    d.removable = flag.as_deref() == Some("1");
    let mut at = Some(dev.as_path());
    while let Some(p) = at {
        if p == sys || !p.starts_with(sys) {
            break;
        }
        if let Some(v) = read(p, "idVendor") {
            d.usb = true;
            d.vendor_id = Some(v);
            d.product_id = read(p, "idProduct");
            d.vendor = read(p, "manufacturer");
            d.model = read(p, "product");
            d.serial = read(p, "serial");
            break;
        }
        at = p.parent();
    }
    if d.model.is_none() {
        // SCSI disks name themselves in `device/model` and `device/vendor`.
        let disk = if dev.join("partition").exists() {
            dev.parent().map(Path::to_path_buf)
        } else {
            Some(dev.clone())
        };
        if let Some(disk) = disk {
            d.model = read(&disk, "device/model");
            if d.vendor.is_none() {
                d.vendor = read(&disk, "device/vendor");
            }
        }
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw
36 22 0:31 / /tmp rw,nosuid,nodev shared:12 - tmpfs tmpfs rw,size=1G
120 22 8:17 / /media/zhang/KINGSTON\\040U rw,nosuid,nodev,relatime shared:70 - vfat /dev/sdb1 rw,uid=1000,fmask=0022
121 22 8:33 / /media/ro ro,relatime shared:71 - ext4 /dev/sdc1 ro
garbage line
";

    #[test]
    fn mountinfo_lines_are_parsed_with_escapes() {
        let m = parse_mountinfo(SAMPLE);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].mount_point, PathBuf::from("/"));
        assert_eq!((m[2].major, m[2].minor), (8, 17));
        assert_eq!(m[2].mount_point, PathBuf::from("/media/zhang/KINGSTON U"));
        assert_eq!(m[2].fs_type, "vfat");
        assert_eq!(m[2].source, "/dev/sdb1");
        assert!(!m[2].read_only());
        assert!(m[3].read_only());
        assert_eq!(m[1].fs_type, "tmpfs");
    }

    #[test]
    fn a_usb_partition_is_found_with_its_vendor_and_serial() {
        let sys = tempfile::tempdir().unwrap();
        let s = sys.path();
        let usb = s.join("devices/pci0000:00/0000:00:14.0/usb1/1-2");
        let disk = usb.join("1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb");
        let part = disk.join("sdb1");
        fs::create_dir_all(&part).unwrap();
        for (f, v) in [
            ("idVendor", "0951"),
            ("idProduct", "1666"),
            ("manufacturer", "Kingston"),
            ("product", "DataTraveler 3.0"),
            ("serial", "E0D55EA5741"),
        ] {
            fs::write(usb.join(f), format!("{v}\n")).unwrap();
        }
        fs::write(disk.join("removable"), "1\n").unwrap();
        fs::write(part.join("partition"), "1\n").unwrap();
        fs::create_dir_all(s.join("dev/block")).unwrap();
        std::os::unix::fs::symlink(&part, s.join("dev/block/8:17")).unwrap();
        let d = device(s, 8, 17).unwrap();
        assert!(d.removable && d.usb && d.is_removable_media());
        assert_eq!(d.serial.as_deref(), Some("E0D55EA5741"));
        assert_eq!(d.vendor.as_deref(), Some("Kingston"));
        assert_eq!(d.model.as_deref(), Some("DataTraveler 3.0"));
        assert_eq!(d.vendor_id.as_deref(), Some("0951"));

        // A fixed SATA disk: neither removable nor USB.
        let sda = s.join("devices/pci0000:00/ata1/host0/target0:0:0/0:0:0:0/block/sda");
        fs::create_dir_all(sda.join("device")).unwrap();
        fs::write(sda.join("removable"), "0\n").unwrap();
        fs::write(sda.join("device/model"), "Samsung SSD 870\n").unwrap();
        std::os::unix::fs::symlink(&sda, s.join("dev/block/8:0")).unwrap();
        let d = device(s, 8, 0).unwrap();
        assert!(!d.is_removable_media());
        assert_eq!(d.model.as_deref(), Some("Samsung SSD 870"));
        assert!(device(s, 0, 31).is_none());
        assert!(device(s, 9, 9).is_none());
    }
}
