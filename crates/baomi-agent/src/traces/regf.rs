//! A small read-only reader of Windows registry hive files (`regf`: SYSTEM, NTUSER.DAT),
//! for the traces an inspector reads offline.
//!
//! Why our own: `nt_hive` is GPL (not linkable), and `notatin` 1.0.1 declares every one of
//! its fifteen dependencies as an open-ended `>=` requirement (nom `>= 6` resolves to nom 8,
//! a different API) and links a terminal library (crossterm) into the parser. What the
//! traces need is a small subset of the documented format — the base block, hive bins,
//! key nodes (`nk`), values (`vk`), the subkey lists (`lf`, `lh`, `li`, `ri`) and big data
//! (`db`) — and a reader of outside bytes must be bounded and never panic, which is easier
//! to guarantee in 300 lines than to audit in someone else's 10,000.
//!
//! Every offset read from the file is checked against the file's length; a cell that points
//! outside, a list that loops, a name that is cut off is an [`HiveError`], never a panic. The
//! primary file is read as it is: transaction logs (`.LOG1`/`.LOG2`) are not replayed, so a
//! hive copied from a running system without them may lack its last minutes (the base
//! block's sequence numbers say so: [`Hive::dirty`]).

use std::collections::HashSet;

/// The base block is one 4 KiB page; hive bins start right after it and every cell offset
/// in the file is relative to that start.
const BASE_BLOCK: usize = 4096;
/// Subkeys deeper than this are not followed (real hives stay far below 64 levels).
const MAX_DEPTH: usize = 512;
/// A value's data larger than this is refused rather than assembled.
const MAX_VALUE_BYTES: usize = 16 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HiveError {
    #[error("not a registry hive (no regf signature)")]
    NotAHive,
    #[error("the hive is truncated: {0}")]
    Truncated(String),
    #[error("the hive is damaged: {0}")]
    Damaged(String),
}

type Result<T> = std::result::Result<T, HiveError>;

/// A hive held in memory.
pub struct Hive {
    bytes: Vec<u8>,
    root: u32,
    /// The primary sequence number differs from the secondary: the hive was being written
    /// when it was copied and its transaction logs were not applied.
    pub dirty: bool,
}

/// A key node: its cell offset, name and last-written time.
#[derive(Debug, Clone)]
pub struct Key {
    offset: u32,
    pub name: String,
    /// FILETIME (100 ns ticks since 1601-01-01 UTC) of the key's last change.
    pub last_written: u64,
    subkey_count: u32,
    subkey_list: u32,
    value_count: u32,
    value_list: u32,
}

/// A value: its name (empty for the default value), type and data.
#[derive(Debug, Clone)]
pub struct Value {
    pub name: String,
    pub kind: u32,
    pub data: Vec<u8>,
}

pub const REG_SZ: u32 = 1;
pub const REG_EXPAND_SZ: u32 = 2;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
}

/// UTF-16LE up to the first NUL (or the end), lossy.
pub fn utf16z(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// A name stored either as Latin-1 ("compressed", one byte a character) or UTF-16LE.
fn name_of(bytes: &[u8], compressed: bool) -> String {
    if compressed {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        utf16z(bytes)
    }
}

impl Hive {
    /// Parse the base block; cells are read on demand.
    pub fn parse(bytes: Vec<u8>) -> Result<Hive> {
        if bytes.len() < 4 || &bytes[..4] != b"regf" {
            return Err(HiveError::NotAHive);
        }
        if bytes.len() < BASE_BLOCK + 32 {
            return Err(HiveError::Truncated(format!(
                "{} bytes, less than a base block and one hive bin",
                bytes.len()
            )));
        }
        let seq1 = u32_at(&bytes, 4).unwrap_or(0);
        let seq2 = u32_at(&bytes, 8).unwrap_or(0);
        let root = u32_at(&bytes, 36).unwrap_or(u32::MAX);
        if &bytes[BASE_BLOCK..BASE_BLOCK + 4] != b"hbin" {
            return Err(HiveError::Damaged(
                "no hive bin after the base block".into(),
            ));
        }
        let hive = Hive {
            bytes,
            root,
            dirty: seq1 != seq2,
        };
        // The root must be a key, or nothing else can be trusted.
        hive.key_at(root)?;
        Ok(hive)
    }

    /// The data of the cell at `offset` (relative to the first hive bin), without its size.
    fn cell(&self, offset: u32) -> Result<&[u8]> {
        let start = BASE_BLOCK
            .checked_add(offset as usize)
            .ok_or_else(|| HiveError::Damaged(format!("cell offset {offset:#x}")))?;
        let size = u32_at(&self.bytes, start).ok_or_else(|| {
            HiveError::Truncated(format!("cell {offset:#x} is past the end of the file"))
        })? as i32;
        // Allocated cells have a negative size; a free one referenced from a key is damage,
        // but its bytes are still what was there, so it is read all the same.
        let len = size.unsigned_abs() as usize;
        if len < 4 {
            return Err(HiveError::Damaged(format!(
                "cell {offset:#x} of size {size}"
            )));
        }
        self.bytes
            .get(start + 4..start + len)
            .ok_or_else(|| HiveError::Truncated(format!("cell {offset:#x} runs past the end")))
    }

    fn key_at(&self, offset: u32) -> Result<Key> {
        let c = self.cell(offset)?;
        if c.get(..2) != Some(b"nk") {
            return Err(HiveError::Damaged(format!("cell {offset:#x} is not a key")));
        }
        let short = || HiveError::Truncated(format!("key {offset:#x} is cut off"));
        let flags = u16_at(c, 2).ok_or_else(short)?;
        let name_len = u16_at(c, 72).ok_or_else(short)? as usize;
        let name = c.get(76..76 + name_len).ok_or_else(short)?;
        Ok(Key {
            offset,
            name: name_of(name, flags & 0x0020 != 0),
            last_written: u64_at(c, 4).ok_or_else(short)?,
            subkey_count: u32_at(c, 20).ok_or_else(short)?,
            subkey_list: u32_at(c, 28).ok_or_else(short)?,
            value_count: u32_at(c, 36).ok_or_else(short)?,
            value_list: u32_at(c, 40).ok_or_else(short)?,
        })
    }

    pub fn root(&self) -> Result<Key> {
        self.key_at(self.root)
    }

    /// The subkeys of `key`, in the order the lists hold them.
    pub fn subkeys(&self, key: &Key) -> Result<Vec<Key>> {
        if key.subkey_count == 0 || key.subkey_list == u32::MAX {
            return Ok(Vec::new());
        }
        let mut offsets = Vec::new();
        let mut seen = HashSet::new();
        self.list(key.subkey_list, &mut offsets, &mut seen, 0)?;
        offsets.into_iter().map(|o| self.key_at(o)).collect()
    }

    /// Collect the key offsets of a subkey list; `ri` lists hold other lists.
    fn list(
        &self,
        offset: u32,
        out: &mut Vec<u32>,
        seen: &mut HashSet<u32>,
        depth: usize,
    ) -> Result<()> {
        if depth > 8 || !seen.insert(offset) {
            return Err(HiveError::Damaged(format!(
                "subkey list {offset:#x} loops or nests too deep"
            )));
        }
        let c = self.cell(offset)?;
        let short = || HiveError::Truncated(format!("subkey list {offset:#x} is cut off"));
        let count = u16_at(c, 2).ok_or_else(short)? as usize;
        match c.get(..2) {
            Some(b"lf") | Some(b"lh") => {
                for i in 0..count {
                    out.push(u32_at(c, 4 + i * 8).ok_or_else(short)?);
                }
            }
            Some(b"li") => {
                for i in 0..count {
                    out.push(u32_at(c, 4 + i * 4).ok_or_else(short)?);
                }
            }
            Some(b"ri") => {
                for i in 0..count {
                    let sub = u32_at(c, 4 + i * 4).ok_or_else(short)?;
                    self.list(sub, out, seen, depth + 1)?;
                }
            }
            _ => {
                return Err(HiveError::Damaged(format!(
                    "cell {offset:#x} is not a subkey list"
                )));
            }
        }
        Ok(())
    }

    /// The subkey of `key` named `name` (case-insensitive, as Windows compares).
    pub fn subkey(&self, key: &Key, name: &str) -> Result<Option<Key>> {
        Ok(self
            .subkeys(key)?
            .into_iter()
            .find(|k| k.name.eq_ignore_ascii_case(name)))
    }

    /// The key at a backslash-separated path below the root (`ControlSet001\Enum\USBSTOR`).
    pub fn key(&self, path: &str) -> Result<Option<Key>> {
        let mut key = self.root()?;
        for (depth, part) in path.split('\\').filter(|p| !p.is_empty()).enumerate() {
            if depth > MAX_DEPTH {
                return Ok(None);
            }
            match self.subkey(&key, part)? {
                Some(k) => key = k,
                None => return Ok(None),
            }
        }
        Ok(Some(key))
    }

    /// The values of `key`.
    pub fn values(&self, key: &Key) -> Result<Vec<Value>> {
        if key.value_count == 0 || key.value_list == u32::MAX {
            return Ok(Vec::new());
        }
        let list = self.cell(key.value_list)?;
        let count = key.value_count as usize;
        if count * 4 > list.len() {
            return Err(HiveError::Damaged(format!(
                "key {:#x} claims {count} values, its list holds {}",
                key.offset,
                list.len() / 4
            )));
        }
        (0..count)
            .map(|i| self.value_at(u32_at(list, i * 4).unwrap_or(u32::MAX)))
            .collect()
    }

    /// The value of `key` named `name` (case-insensitive; "" is the default value).
    pub fn value(&self, key: &Key, name: &str) -> Result<Option<Value>> {
        Ok(self
            .values(key)?
            .into_iter()
            .find(|v| v.name.eq_ignore_ascii_case(name)))
    }

    fn value_at(&self, offset: u32) -> Result<Value> {
        let c = self.cell(offset)?;
        if c.get(..2) != Some(b"vk") {
            return Err(HiveError::Damaged(format!(
                "cell {offset:#x} is not a value"
            )));
        }
        let short = || HiveError::Truncated(format!("value {offset:#x} is cut off"));
        let name_len = u16_at(c, 2).ok_or_else(short)? as usize;
        let size = u32_at(c, 4).ok_or_else(short)?;
        let data_offset = u32_at(c, 8).ok_or_else(short)?;
        let kind = u32_at(c, 12).ok_or_else(short)?;
        let flags = u16_at(c, 16).ok_or_else(short)?;
        let name = name_of(c.get(20..20 + name_len).ok_or_else(short)?, flags & 1 != 0);
        let data = if size & 0x8000_0000 != 0 {
            // Up to four bytes live in the offset field itself.
            let len = (size & 0x7fff_ffff).min(4) as usize;
            c[8..8 + len].to_vec()
        } else {
            let len = size as usize;
            if len > MAX_VALUE_BYTES {
                return Err(HiveError::Damaged(format!(
                    "value {name:?} claims {len} bytes"
                )));
            }
            self.data(data_offset, len)?
        };
        Ok(Value { name, kind, data })
    }

    /// `len` bytes of value data at `offset`: one cell, or a `db` cell's segments.
    fn data(&self, offset: u32, len: usize) -> Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let c = self.cell(offset)?;
        if c.get(..2) == Some(b"db") && len > c.len() {
            let short = || HiveError::Truncated(format!("big data {offset:#x} is cut off"));
            let segments = u16_at(c, 2).ok_or_else(short)? as usize;
            let list = self.cell(u32_at(c, 4).ok_or_else(short)?)?;
            let mut out = Vec::with_capacity(len);
            for i in 0..segments {
                let seg = self.cell(u32_at(list, i * 4).ok_or_else(short)?)?;
                // Each segment holds up to 16344 bytes; the cell may be padded beyond.
                let want = (len - out.len()).min(16344).min(seg.len());
                out.extend_from_slice(&seg[..want]);
                if out.len() >= len {
                    break;
                }
            }
            if out.len() < len {
                return Err(short());
            }
            return Ok(out);
        }
        c.get(..len).map(<[u8]>::to_vec).ok_or_else(|| {
            HiveError::Truncated(format!(
                "value data {offset:#x} is shorter than {len} bytes"
            ))
        })
    }
}

impl Value {
    /// REG_SZ / REG_EXPAND_SZ as text; other types as UTF-16 all the same (hives often hold
    /// strings in binary values).
    pub fn text(&self) -> String {
        utf16z(&self.data)
    }
}

/// FILETIME (100 ns since 1601-01-01 UTC) to Unix milliseconds; `None` for 0 and for
/// values outside 1980–2200, which are no real time of a device or a file.
pub fn filetime_ms(ft: u64) -> Option<i64> {
    const EPOCH_DIFF_MS: i64 = 11_644_473_600_000;
    let ms = (ft / 10_000) as i64 - EPOCH_DIFF_MS;
    (315_532_800_000..7_258_118_400_000)
        .contains(&ms)
        .then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(
            Hive::parse(b"MZ\x90\x00".to_vec()).err(),
            Some(HiveError::NotAHive)
        );
        assert!(matches!(
            Hive::parse(b"regf\0\0\0\0".to_vec()).err(),
            Some(HiveError::Truncated(_))
        ));
        let mut bytes = vec![0u8; 8192];
        bytes[..4].copy_from_slice(b"regf");
        bytes[4096..4100].copy_from_slice(b"hbin");
        // The root offset points far past the end.
        bytes[36..40].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
        assert!(Hive::parse(bytes).is_err());
    }

    #[test]
    fn filetimes() {
        // 2026-12-01T00:00:00Z
        assert_eq!(
            filetime_ms(134_405_568_000_000_000),
            Some(1_796_083_200_000)
        );
        assert_eq!(filetime_ms(0), None);
    }
}
