//! Uploads sent in pieces. Cloud drives (网盘) and webmail send a large file as several
//! requests; inspected one by one, no request holds the whole document, so a marked .docx
//! (a zip whose directory is at its end) passes piece by piece. The door keeps the pieces
//! of one upload on its spool and, when the piece that completes the file arrives, hands
//! the whole file to the inspector in that request's exchange: blocking that last request
//! means the upstream never holds the whole file.
//!
//! Three families are recognised, from the request alone:
//! - `Content-Range: bytes a-b/total` on a request with a body (resumable upload sessions:
//!   Google-style upload URLs, WebDAV and many drive clients), keyed by client and URL;
//! - tus (`PATCH` with `Upload-Offset`), keyed by client and URL; the total comes from
//!   `Upload-Length` on the PATCH or from the creation `POST` to the endpoint above the URL;
//! - "slice" uploads: a multipart form (or query) carrying a piece number, usually a count
//!   and an upload id, in the field names of the common uploaders (plupload, WebUploader,
//!   resumable.js, flow.js, Fine Uploader, Dropzone) or generic `uploadId` + `partNumber`
//!   style names; keyed by client, URL path and upload id (or file name).
//!
//! When the total is not known (`bytes a-b/*`, tus without a length, a part number without
//! a count), every piece that extends the contiguous start of the file has that start
//! inspected again, up to [`REINSPECT_MAX`] bytes. Pieces are bounded in bytes, uploads in
//! count and idle age ([`PieceLimits`]); a piece that would pass a bound is decided by the
//! fail mode, so nothing large enough to matter passes uninspected by default. An upload
//! whose pieces never complete (the client gave up, or its first pieces passed before the
//! door started) expires, counted and logged.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use baomi_extract::Blob;
use base64::Engine as _;

use crate::body::Spool;
use crate::proto::HttpHead;
use crate::{BodyObject, IcapConfig, IcapStats, ObjectKind};

/// Above this, the start of a file of unknown total is no longer re-inspected with every
/// new piece (the cost grows with the square of the piece count).
pub const REINSPECT_MAX: u64 = 64 << 20;

/// How many tus creations without a first PATCH yet are remembered per door.
const MAX_PENDING_CREATIONS: usize = 256;

/// Where a piece goes in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// A byte offset (Content-Range, tus).
    Offset(u64),
    /// A piece number (slice uploads); `base` is the number of the first piece when the
    /// convention says so, `None` when it does not (generic part numbers start at 0 or 1).
    Index { n: u64, base: Option<u64> },
}

/// What the request says about the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Total {
    Bytes(u64),
    Count(u64),
}

/// One recognised piece.
#[derive(Debug, Clone)]
struct PieceId {
    pattern: &'static str,
    key: String,
    at: At,
    total: Option<Total>,
    name: Option<String>,
}

/// A uploader's form-field convention for slice uploads.
struct Convention {
    name: &'static str,
    index: &'static [&'static str],
    count: &'static [&'static str],
    id: &'static [&'static str],
    file_name: &'static [&'static str],
    base: Option<u64>,
}

/// Field names are compared without case. The order matters: the specific conventions
/// first, the generic `uploadId` + part number last.
const CONVENTIONS: &[Convention] = &[
    Convention {
        name: "resumable.js",
        index: &["resumableChunkNumber"],
        count: &["resumableTotalChunks"],
        id: &["resumableIdentifier"],
        file_name: &["resumableFilename"],
        base: Some(1),
    },
    Convention {
        name: "flow.js",
        index: &["flowChunkNumber"],
        count: &["flowTotalChunks"],
        id: &["flowIdentifier"],
        file_name: &["flowFilename"],
        base: Some(1),
    },
    Convention {
        name: "Fine Uploader",
        index: &["qqpartindex"],
        count: &["qqtotalparts"],
        id: &["qquuid"],
        file_name: &["qqfilename"],
        base: Some(0),
    },
    Convention {
        name: "Dropzone",
        index: &["dzchunkindex"],
        count: &["dztotalchunkcount"],
        id: &["dzuuid"],
        file_name: &[],
        base: Some(0),
    },
    // plupload and WebUploader (Baidu FEX), the uploaders of most Chinese web systems.
    Convention {
        name: "plupload/WebUploader",
        index: &["chunk"],
        count: &["chunks"],
        id: &["guid", "id", "uuid", "md5", "fileMd5", "identifier"],
        file_name: &["name", "fileName", "filename"],
        base: Some(0),
    },
    Convention {
        name: "upload id + part number",
        index: &[
            "partNumber",
            "part_number",
            "partseq",
            "partIndex",
            "part_index",
            "chunkIndex",
            "chunk_index",
            "chunkNumber",
            "chunk_number",
            "sliceIndex",
            "slice_index",
            "sliceNo",
            "blockIndex",
            "index",
        ],
        count: &[
            "totalParts",
            "total_parts",
            "partCount",
            "part_count",
            "totalChunks",
            "total_chunks",
            "chunkCount",
            "chunk_count",
            "chunkTotal",
            "sliceCount",
            "slice_count",
            "totalSlices",
            "blockCount",
        ],
        id: &[
            "uploadId",
            "upload_id",
            "uploadid",
            "taskId",
            "task_id",
            "fileId",
        ],
        file_name: &["fileName", "filename", "file_name", "name"],
        base: None,
    },
];

/// Bounds on what the door holds for uploads in progress.
#[derive(Debug, Clone)]
pub struct PieceLimits {
    /// Bytes held across all uploads in progress.
    pub max_bytes: u64,
    /// Uploads in progress at once.
    pub max_uploads: usize,
    /// An upload with no new piece for this long is dropped (and counted as expired).
    pub max_age: std::time::Duration,
}

impl Default for PieceLimits {
    fn default() -> Self {
        PieceLimits {
            max_bytes: 2 << 30,
            max_uploads: 1024,
            max_age: std::time::Duration::from_secs(3600),
        }
    }
}

/// The pieces held for one upload.
struct Upload {
    pattern: &'static str,
    name: String,
    content_type: Option<String>,
    total: Option<Total>,
    data: Held,
    touched: Instant,
}

enum Held {
    /// Pieces written at their offsets into one sparse file; `covered` is the sorted,
    /// merged list of byte ranges received.
    Offsets {
        file: std::fs::File,
        /// Deletes the file when the upload is done or dropped.
        _path: tempfile::TempPath,
        covered: Vec<(u64, u64)>,
    },
    /// Pieces by number, each its own blob (moved from the request's spool, or written).
    Indexes { pieces: BTreeMap<u64, Blob> },
}

impl Upload {
    fn held_bytes(&self) -> u64 {
        match &self.data {
            Held::Offsets { covered, .. } => covered.iter().map(|(a, b)| b - a).sum(),
            Held::Indexes { pieces } => pieces.values().map(Blob::len).sum(),
        }
    }

    fn pieces(&self) -> usize {
        match &self.data {
            Held::Offsets { covered, .. } => covered.len(),
            Held::Indexes { pieces } => pieces.len(),
        }
    }

    /// Bytes from the start of the file received without a gap, and how many pieces that
    /// is (index uploads) — the part of the file that can be inspected now.
    fn prefix(&self) -> (u64, usize) {
        match &self.data {
            Held::Offsets { covered, .. } => match covered.first() {
                Some(&(0, end)) => (end, 1),
                _ => (0, 0),
            },
            Held::Indexes { pieces } => {
                let Some(base) = self.first_index(pieces) else {
                    return (0, 0);
                };
                let mut bytes = 0;
                let mut n = 0;
                for i in base.. {
                    match pieces.get(&i) {
                        Some(b) => {
                            bytes += b.len();
                            n += 1;
                        }
                        None => break,
                    }
                }
                (bytes, n)
            }
        }
    }

    /// The number of the first piece: the convention's, or 0/1 for generic part numbers
    /// (whichever is held; 0 wins).
    fn first_index(&self, pieces: &BTreeMap<u64, Blob>) -> Option<u64> {
        let base = self.base_hint();
        match base {
            Some(b) => pieces.contains_key(&b).then_some(b),
            None => [0, 1].into_iter().find(|i| pieces.contains_key(i)),
        }
    }

    fn base_hint(&self) -> Option<u64> {
        // Stored with the first piece; see `Uploads::add`.
        match self.pattern {
            "resumable.js" | "flow.js" => Some(1),
            "upload id + part number" => None,
            _ => Some(0),
        }
    }

    fn complete(&self) -> bool {
        match (self.total, &self.data) {
            (Some(Total::Bytes(t)), Held::Offsets { covered, .. }) => {
                t > 0 && covered.first() == Some(&(0, t))
            }
            (Some(Total::Count(c)), Held::Indexes { pieces }) => {
                let (_, n) = self.prefix();
                c > 0 && n as u64 >= c && self.first_index(pieces).is_some()
            }
            _ => false,
        }
    }

    /// The first `bytes` of the file (the whole of it when complete) as one blob.
    fn assemble(&mut self, bytes: u64, cfg: &IcapConfig) -> io::Result<Blob> {
        let mut spool = Spool::new(cfg.spool_threshold, &cfg.spool_dir);
        let hint = self.base_hint();
        match &mut self.data {
            Held::Offsets { file, .. } => {
                file.flush()?;
                file.seek(SeekFrom::Start(0))?;
                io::copy(&mut (&*file).take(bytes), &mut spool)?;
            }
            Held::Indexes { pieces } => {
                let base = match hint {
                    Some(b) => pieces.contains_key(&b).then_some(b),
                    None => [0, 1].into_iter().find(|i| pieces.contains_key(i)),
                };
                let mut left = bytes;
                for i in base.into_iter().flat_map(|b| b..) {
                    let Some(b) = pieces.get(&i) else { break };
                    if left == 0 {
                        break;
                    }
                    let mut r = b.open()?;
                    left -= io::copy(&mut (&mut r).take(left), &mut spool)?;
                }
            }
        }
        spool.finish()
    }
}

/// Merge `[a, b)` into a sorted list of disjoint ranges.
fn cover(covered: &mut Vec<(u64, u64)>, a: u64, b: u64) {
    if a >= b {
        return;
    }
    covered.push((a, b));
    covered.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(covered.len());
    for &(s, e) in covered.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *covered = merged;
}

/// A tus upload announced by its creation `POST` and not yet seen in a `PATCH`.
struct Creation {
    client: String,
    endpoint: String,
    length: Option<u64>,
    name: Option<String>,
    at: Instant,
}

/// The uploads in progress at one door.
/// One lock for the table: pieces are rare beside whole uploads, and the lock is held only
/// on a blocking thread.
#[derive(Default)]
pub(crate) struct Uploads {
    table: Mutex<Table>,
}

impl std::fmt::Debug for Uploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (uploads, bytes) = self.held();
        f.debug_struct("Uploads")
            .field("uploads", &uploads)
            .field("bytes", &bytes)
            .finish()
    }
}

#[derive(Default)]
struct Table {
    uploads: HashMap<String, Upload>,
    creations: Vec<Creation>,
}

/// What the door does with a request's objects after looking for pieces.
pub(crate) enum Outcome {
    /// Inspect these objects (the request's own, with the whole or the start of the file
    /// when this piece completed or extended it).
    Inspect(Vec<BodyObject>),
    /// A bound was passed: decide by the fail mode, with this reason.
    Limit(String),
}

/// The request's facts the recognition needs.
pub(crate) struct PieceRequest<'a> {
    pub req: &'a HttpHead,
    pub url: &'a str,
    /// Who sent it: user, or client address, or `-`.
    pub client: String,
    /// The HTTP body, Content-Encoding undone (Content-Range and tus pieces).
    pub body: Option<&'a Blob>,
    pub content_type: Option<&'a str>,
}

impl Uploads {
    /// Uploads in progress, and bytes held for them.
    pub fn held(&self) -> (usize, u64) {
        let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = t.uploads.values().map(Upload::held_bytes).sum();
        (t.uploads.len(), bytes)
    }

    /// Look at one request: when it is a piece of an upload, keep the piece and return the
    /// objects to inspect; otherwise return the objects unchanged. Blocking file I/O: call
    /// from a blocking thread.
    pub fn handle(
        &self,
        r: &PieceRequest<'_>,
        mut objects: Vec<BodyObject>,
        cfg: &IcapConfig,
        stats: &IcapStats,
    ) -> Outcome {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.expire(cfg, stats);
        if let Some(c) = tus_creation(r) {
            if t.creations.len() >= MAX_PENDING_CREATIONS {
                t.creations.remove(0);
            }
            t.creations.push(c);
        }
        let Some((piece, data)) = recognise(r, &objects) else {
            return Outcome::Inspect(objects);
        };
        let data_blob = match data {
            PieceData::Body => match r.body {
                Some(b) => b.clone(),
                None => return Outcome::Inspect(objects),
            },
            PieceData::Object(i) => objects[i].blob.clone(),
        };
        if data_blob.is_empty() {
            return Outcome::Inspect(objects);
        }
        match t.add(piece.clone(), data_blob, r, cfg, stats) {
            Err(reason) => Outcome::Limit(reason),
            Ok(None) => Outcome::Inspect(objects),
            Ok(Some((blob, name, content_type, complete))) => {
                let obj = BodyObject {
                    name,
                    kind: match data {
                        PieceData::Body => ObjectKind::Raw,
                        PieceData::Object(_) => ObjectKind::FormFile,
                    },
                    content_type,
                    blob,
                };
                match data {
                    // The whole (or the start) contains this piece: inspect it instead.
                    PieceData::Object(i) => objects[i] = obj,
                    PieceData::Body => {
                        objects.retain(|o| o.kind == ObjectKind::FormFields);
                        objects.insert(0, obj);
                    }
                }
                tracing::info!(
                    pattern = piece.pattern,
                    "upload in pieces: inspecting {} of {}",
                    if complete { "the whole" } else { "the start" },
                    r.url
                );
                Outcome::Inspect(objects)
            }
        }
    }
}

impl Table {
    fn expire(&mut self, cfg: &IcapConfig, stats: &IcapStats) {
        let max_age = cfg.pieces.max_age;
        self.uploads.retain(|key, u| {
            let keep = u.touched.elapsed() < max_age;
            if !keep {
                IcapStats::bump(&stats.pieces_expired);
                tracing::warn!(
                    "upload in pieces expired unfinished after {}s idle: {} ({} pieces, {} \
                     bytes held; the whole file was never inspected)",
                    max_age.as_secs(),
                    key,
                    u.pieces(),
                    u.held_bytes()
                );
            }
            keep
        });
        self.creations.retain(|c| c.at.elapsed() < max_age);
    }

    /// Keep one piece. `Ok(Some(..))` when there is a whole file (complete) or a longer
    /// start of one (unknown total) to inspect now.
    #[allow(clippy::type_complexity)]
    fn add(
        &mut self,
        piece: PieceId,
        data: Blob,
        r: &PieceRequest<'_>,
        cfg: &IcapConfig,
        stats: &IcapStats,
    ) -> Result<Option<(Blob, String, Option<String>, bool)>, String> {
        let limits = &cfg.pieces;
        if let Some(Total::Bytes(t)) = piece.total
            && t > cfg.max_body
        {
            return Err(format!(
                "upload in pieces of {t} bytes, over the {} byte limit / 分片上传的文件超过 {} \
                 字节，未能检查",
                cfg.max_body, cfg.max_body
            ));
        }
        let held_total: u64 = self.uploads.values().map(Upload::held_bytes).sum();
        if held_total + data.len() > limits.max_bytes {
            return Err(format!(
                "too many bytes of uploads in pieces held ({} limit) / 分片上传暂存已满，未能检查",
                limits.max_bytes
            ));
        }
        if !self.uploads.contains_key(&piece.key) {
            if self.uploads.len() >= limits.max_uploads {
                return Err(format!(
                    "too many uploads in pieces at once ({} limit) / 同时进行的分片上传过多，未能检查",
                    limits.max_uploads
                ));
            }
            let adopted = self.adopt(&piece, r);
            let total = piece
                .total
                .or(adopted.as_ref().and_then(|c| c.length.map(Total::Bytes)));
            let name = piece
                .name
                .clone()
                .or(adopted.and_then(|c| c.name))
                .unwrap_or_else(|| last_segment(r.url));
            let held = match piece.at {
                At::Offset(_) => {
                    let (file, path) = tempfile::Builder::new()
                        .prefix("baomi-icap-pieces-")
                        .tempfile_in(&cfg.spool_dir)
                        .map_err(|e| format!("cannot spool upload pieces: {e}"))?
                        .into_parts();
                    Held::Offsets {
                        file,
                        _path: path,
                        covered: Vec::new(),
                    }
                }
                At::Index { .. } => Held::Indexes {
                    pieces: BTreeMap::new(),
                },
            };
            self.uploads.insert(
                piece.key.clone(),
                Upload {
                    pattern: piece.pattern,
                    name,
                    content_type: r.content_type.map(str::to_owned),
                    total,
                    data: held,
                    touched: Instant::now(),
                },
            );
        }
        let u = self.uploads.get_mut(&piece.key).expect("inserted above");
        u.touched = Instant::now();
        if u.total.is_none() {
            u.total = piece.total;
        }
        if piece.name.is_some() && u.name != *piece.name.as_ref().unwrap() {
            u.name = piece.name.clone().unwrap();
        }
        let before = u.prefix().0;
        let this_len = data.len();
        match (&mut u.data, piece.at) {
            (Held::Offsets { file, covered, .. }, At::Offset(off)) => {
                if off.saturating_add(this_len) > cfg.max_body {
                    self.uploads.remove(&piece.key);
                    return Err(format!(
                        "upload in pieces over the {} byte limit / 分片上传的文件超过限制，未能检查",
                        cfg.max_body
                    ));
                }
                write_at(file, off, &data, &cfg.spool_dir)
                    .map_err(|e| format!("cannot spool upload pieces: {e}"))?;
                cover(covered, off, off + this_len);
            }
            (Held::Indexes { pieces }, At::Index { n, .. }) => {
                let blob = on_disk(data, &cfg.spool_dir)
                    .map_err(|e| format!("cannot spool upload pieces: {e}"))?;
                pieces.insert(n, blob);
                let sum: u64 = pieces.values().map(Blob::len).sum();
                if sum > cfg.max_body {
                    self.uploads.remove(&piece.key);
                    return Err(format!(
                        "upload in pieces over the {} byte limit / 分片上传的文件超过限制，未能检查",
                        cfg.max_body
                    ));
                }
            }
            // The same key used with another kind of position: start over with this piece.
            _ => {
                self.uploads.remove(&piece.key);
                return self.add(piece, data, r, cfg, stats);
            }
        }
        IcapStats::bump(&stats.pieces);
        let u = self.uploads.get_mut(&piece.key).expect("present");
        if u.complete() {
            let (bytes, _) = u.prefix();
            let blob = u
                .assemble(bytes, cfg)
                .map_err(|e| format!("cannot assemble upload pieces: {e}"))?;
            let u = self.uploads.remove(&piece.key).expect("present");
            IcapStats::bump(&stats.pieces_assembled);
            return Ok(Some((blob, u.name, u.content_type, true)));
        }
        let (after, n) = u.prefix();
        // Unknown total: the start grew past this piece alone, so look at it again.
        if u.total.is_none() && after > before && after > this_len && n >= 1 {
            if after > REINSPECT_MAX {
                return Ok(None);
            }
            let blob = u
                .assemble(after, cfg)
                .map_err(|e| format!("cannot assemble upload pieces: {e}"))?;
            return Ok(Some((blob, u.name.clone(), u.content_type.clone(), false)));
        }
        Ok(None)
    }

    /// A first tus PATCH (offset 0) under an endpoint this client announced a creation to.
    fn adopt(&mut self, piece: &PieceId, r: &PieceRequest<'_>) -> Option<Creation> {
        if piece.pattern != "tus" || piece.at != At::Offset(0) {
            return None;
        }
        let url = strip_query(r.url);
        let i = self
            .creations
            .iter()
            .position(|c| c.client == r.client && url.starts_with(&c.endpoint))?;
        Some(self.creations.remove(i))
    }
}

/// Where a piece's bytes are in the request.
#[derive(Debug, Clone, Copy)]
enum PieceData {
    /// The HTTP body (Content-Range, tus).
    Body,
    /// The file part at this position among the objects (slice uploads).
    Object(usize),
}

fn recognise(r: &PieceRequest<'_>, objects: &[BodyObject]) -> Option<(PieceId, PieceData)> {
    let req = r.req;
    if let Some(cr) = req.header("Content-Range")
        && let Some((a, total)) = parse_content_range(&cr)
    {
        return Some((
            PieceId {
                pattern: "Content-Range",
                key: format!("{} {}", r.client, r.url),
                at: At::Offset(a),
                total: total.map(Total::Bytes),
                name: req
                    .header_bytes("Content-Disposition")
                    .and_then(crate::objects::disposition_filename),
            },
            PieceData::Body,
        ));
    }
    let method = req
        .header("X-HTTP-Method-Override")
        .unwrap_or_else(|| req.method.clone());
    if method.eq_ignore_ascii_case("PATCH")
        && let Some(off) = req.header("Upload-Offset").and_then(|v| v.parse().ok())
    {
        return Some((
            PieceId {
                pattern: "tus",
                key: format!("{} {}", r.client, r.url),
                at: At::Offset(off),
                total: req
                    .header("Upload-Length")
                    .and_then(|v| v.parse().ok())
                    .map(Total::Bytes),
                name: req.header("Upload-Metadata").and_then(|m| tus_filename(&m)),
            },
            PieceData::Body,
        ));
    }
    // Slice uploads: exactly one file part, and the fields of a convention.
    let files: Vec<usize> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == ObjectKind::FormFile)
        .map(|(i, _)| i)
        .collect();
    let &[file] = files.as_slice() else {
        return None;
    };
    let mut fields = query_fields(r.url);
    if let Some(f) = objects.iter().find(|o| o.kind == ObjectKind::FormFields) {
        fields.extend(form_fields(&f.blob));
    }
    let get = |names: &[&str]| {
        names.iter().find_map(|n| {
            fields
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.trim().to_owned())
        })
    };
    for c in CONVENTIONS {
        let Some(n) = get(c.index).and_then(|v| v.parse::<u64>().ok()) else {
            continue;
        };
        let count = get(c.count).and_then(|v| v.parse::<u64>().ok());
        let id = get(c.id).filter(|v| !v.is_empty());
        let file_name = get(c.file_name)
            .filter(|v| !v.is_empty())
            .or_else(|| Some(objects[file].name.clone()).filter(|n| n != "blob" && n != "upload"));
        // The generic convention needs an upload id: a lone `index` field means nothing.
        if c.base.is_none() && id.is_none() {
            continue;
        }
        let ident = id.clone().or(file_name.clone())?;
        return Some((
            PieceId {
                pattern: c.name,
                key: format!("{} {} {}", r.client, strip_query(r.url), ident),
                at: At::Index { n, base: c.base },
                total: count.map(Total::Count),
                name: file_name,
            },
            PieceData::Object(file),
        ));
    }
    None
}

/// A tus creation request: `POST` with `Upload-Length` (or `Upload-Defer-Length`) and
/// `Tus-Resumable`, usually with no body.
fn tus_creation(r: &PieceRequest<'_>) -> Option<Creation> {
    let req = r.req;
    if !req.method.eq_ignore_ascii_case("POST") || req.header("Tus-Resumable").is_none() {
        return None;
    }
    let length = req.header("Upload-Length").and_then(|v| v.parse().ok());
    if length.is_none() && req.header("Upload-Defer-Length").is_none() {
        return None;
    }
    let mut endpoint = strip_query(r.url).to_owned();
    if !endpoint.ends_with('/') {
        endpoint.push('/');
    }
    Some(Creation {
        client: r.client.clone(),
        endpoint,
        length,
        name: req.header("Upload-Metadata").and_then(|m| tus_filename(&m)),
        at: Instant::now(),
    })
}

/// `bytes a-b/total` or `bytes a-b/*` → (a, total). `bytes */total` (a status query) and
/// malformed values are not pieces.
fn parse_content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.trim().split_once('-')?;
    let a: u64 = a.trim().parse().ok()?;
    let b: u64 = b.trim().parse().ok()?;
    if b < a {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => {
            let t: u64 = t.parse().ok()?;
            if b >= t {
                return None;
            }
            Some(t)
        }
    };
    Some((a, total))
}

/// `filename` (or `name`) from tus `Upload-Metadata: key base64, key base64`.
fn tus_filename(meta: &str) -> Option<String> {
    meta.split(',').find_map(|kv| {
        let (k, v) = kv.trim().split_once(' ')?;
        if !(k.eq_ignore_ascii_case("filename") || k.eq_ignore_ascii_case("name")) {
            return None;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .ok()?;
        String::from_utf8(bytes).ok().filter(|s| !s.is_empty())
    })
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn last_segment(url: &str) -> String {
    let path = strip_query(url);
    let seg = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let seg = percent_encoding::percent_decode_str(seg).decode_utf8_lossy();
    if seg.is_empty() {
        "upload".into()
    } else {
        seg.into_owned()
    }
}

fn query_fields(url: &str) -> Vec<(String, String)> {
    let Some((_, q)) = url.split_once('?') else {
        return Vec::new();
    };
    let q = q.split('#').next().unwrap_or("");
    q.split('&')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            Some((dec(k), dec(v)))
        })
        .collect()
}

/// The `name=value` lines of a form's fields object (short values only: the piece fields
/// are numbers and ids).
fn form_fields(blob: &Blob) -> Vec<(String, String)> {
    if blob.len() > 64 << 10 {
        return Vec::new();
    }
    let Ok(bytes) = blob.bytes() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            (v.len() <= 512).then(|| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Write a piece at its offset into the upload's file.
fn write_at(file: &mut std::fs::File, off: u64, data: &Blob, _dir: &Path) -> io::Result<()> {
    file.seek(SeekFrom::Start(off))?;
    let mut r = data.open()?;
    io::copy(&mut r, file)?;
    Ok(())
}

/// The piece as a blob on disk: held pieces must not grow memory.
fn on_disk(data: Blob, dir: &Path) -> io::Result<Blob> {
    if data.path().is_some() {
        return Ok(data);
    }
    let (mut f, path) = tempfile::Builder::new()
        .prefix("baomi-icap-pieces-")
        .tempfile_in(dir)?
        .into_parts();
    let len = data.len();
    io::copy(&mut data.open()?, &mut f)?;
    f.flush()?;
    Ok(Blob::from_temp(path, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, headers: &[(&str, &str)]) -> HttpHead {
        HttpHead {
            method: method.into(),
            target: String::new(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
        }
    }

    fn cfg(dir: &Path) -> IcapConfig {
        IcapConfig {
            spool_threshold: 16,
            spool_dir: dir.to_owned(),
            ..IcapConfig::default()
        }
    }

    fn text(b: &Blob) -> String {
        String::from_utf8(b.bytes().unwrap().into_owned()).unwrap()
    }

    fn send(
        up: &Uploads,
        cfg: &IcapConfig,
        stats: &IcapStats,
        url: &str,
        req: &HttpHead,
        body: &[u8],
    ) -> Option<String> {
        let body = Blob::from_vec(body.to_vec());
        let r = PieceRequest {
            req,
            url,
            client: "10.0.0.7".into(),
            body: Some(&body),
            content_type: Some("application/octet-stream"),
        };
        let objects = vec![BodyObject {
            name: "piece".into(),
            kind: ObjectKind::Raw,
            content_type: None,
            blob: body.clone(),
        }];
        match up.handle(&r, objects, cfg, stats) {
            Outcome::Inspect(objs) => {
                assert_eq!(objs.len(), 1);
                let t = text(&objs[0].blob);
                (objs[0].name != "piece").then_some(t)
            }
            Outcome::Limit(reason) => Some(format!("LIMIT {reason}")),
        }
    }

    #[test]
    fn content_range_pieces_out_of_order_and_retransmitted_make_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = cfg(dir.path());
        let stats = IcapStats::default();
        let up = Uploads::default();
        let url = "https://pan.example.cn/upload?upload_id=abc";
        let h = |r: &str| head("PUT", &[("Content-Range", r)]);
        assert_eq!(
            send(&up, &cfg, &stats, url, &h("bytes 5-9/15"), b"56789"),
            None
        );
        assert_eq!(
            send(&up, &cfg, &stats, url, &h("bytes 0-4/15"), b"01234"),
            None
        );
        // The same piece again (a retry) changes nothing.
        assert_eq!(
            send(&up, &cfg, &stats, url, &h("bytes 5-9/15"), b"56789"),
            None
        );
        assert_eq!(up.held(), (1, 10));
        let whole = send(&up, &cfg, &stats, url, &h("bytes 10-14/15"), b"abcde");
        assert_eq!(whole.as_deref(), Some("0123456789abcde"));
        assert_eq!(up.held(), (0, 0), "a finished upload is not kept");
        assert_eq!(IcapStats::get(&stats.pieces_assembled), 1);
        // No piece file left on the spool.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn pieces_of_different_clients_or_urls_are_not_mixed() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = cfg(dir.path());
        let stats = IcapStats::default();
        let up = Uploads::default();
        let h = |r: &str| head("PUT", &[("Content-Range", r)]);
        send(
            &up,
            &cfg,
            &stats,
            "http://a/u?id=1",
            &h("bytes 0-1/4"),
            b"ab",
        );
        assert_eq!(
            send(
                &up,
                &cfg,
                &stats,
                "http://a/u?id=2",
                &h("bytes 2-3/4"),
                b"cd"
            ),
            None
        );
        assert_eq!(up.held(), (2, 4));
    }

    #[test]
    fn unknown_total_reinspects_the_start_as_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = cfg(dir.path());
        let stats = IcapStats::default();
        let up = Uploads::default();
        let url = "http://a/files/x";
        let h = |o: &str| head("PATCH", &[("Upload-Offset", o), ("Tus-Resumable", "1.0.0")]);
        assert_eq!(send(&up, &cfg, &stats, url, &h("0"), b"abc"), None);
        assert_eq!(
            send(&up, &cfg, &stats, url, &h("3"), b"def").as_deref(),
            Some("abcdef")
        );
    }

    #[test]
    fn tus_creation_gives_the_length_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = cfg(dir.path());
        let stats = IcapStats::default();
        let up = Uploads::default();
        let name = base64::engine::general_purpose::STANDARD.encode("报告.docx");
        let create = head(
            "POST",
            &[
                ("Tus-Resumable", "1.0.0"),
                ("Upload-Length", "6"),
                ("Upload-Metadata", &format!("filename {name},filetype YQ==")),
            ],
        );
        let r = PieceRequest {
            req: &create,
            url: "http://a/files",
            client: "10.0.0.7".into(),
            body: None,
            content_type: None,
        };
        assert!(matches!(up.handle(&r, vec![], &cfg, &stats), Outcome::Inspect(v) if v.is_empty()));
        let h = |o: &str| head("PATCH", &[("Upload-Offset", o), ("Tus-Resumable", "1.0.0")]);
        let url = "http://a/files/24e533e0";
        assert_eq!(send(&up, &cfg, &stats, url, &h("0"), b"abc"), None);
        let body = Blob::from_vec(b"def".to_vec());
        let patch = h("3");
        let r = PieceRequest {
            req: &patch,
            url,
            client: "10.0.0.7".into(),
            body: Some(&body),
            content_type: None,
        };
        let Outcome::Inspect(objs) = up.handle(&r, vec![], &cfg, &stats) else {
            panic!("limit")
        };
        assert_eq!(objs[0].name, "报告.docx");
        assert_eq!(text(&objs[0].blob), "abcdef");
    }

    fn slice(
        up: &Uploads,
        cfg: &IcapConfig,
        stats: &IcapStats,
        url: &str,
        fields: &str,
        data: &[u8],
    ) -> Option<String> {
        let req = head("POST", &[]);
        let r = PieceRequest {
            req: &req,
            url,
            client: "alice".into(),
            body: None,
            content_type: Some("multipart/form-data; boundary=x"),
        };
        let objects = vec![
            BodyObject {
                name: "blob".into(),
                kind: ObjectKind::FormFile,
                content_type: None,
                blob: Blob::from_vec(data.to_vec()),
            },
            BodyObject {
                name: "form.txt".into(),
                kind: ObjectKind::FormFields,
                content_type: None,
                blob: Blob::from_vec(fields.as_bytes().to_vec()),
            },
        ];
        match up.handle(&r, objects, cfg, stats) {
            Outcome::Inspect(objs) => {
                assert_eq!(objs.len(), 2, "the fields stay an object of their own");
                let f = &objs[0];
                (f.name != "blob").then(|| format!("{}: {}", f.name, text(&f.blob)))
            }
            Outcome::Limit(r) => Some(format!("LIMIT {r}")),
        }
    }

    #[test]
    fn webuploader_slices_in_parallel_make_the_whole_on_the_last_to_arrive() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = cfg(dir.path());
        let stats = IcapStats::default();
        let up = Uploads::default();
        let f = |i: u32| format!("id=WU_FILE_0\nname=报告.docx\nchunks=3\nchunk={i}\n");
        let u = "http://oa.example.cn/fileupload.do";
        assert_eq!(slice(&up, &cfg, &stats, u, &f(2), b"CC"), None);
        assert_eq!(slice(&up, &cfg, &stats, u, &f(0), b"AA"), None);
        assert_eq!(
            slice(&up, &cfg, &stats, u, &f(1), b"BB").as_deref(),
            Some("报告.docx: AABBCC")
        );
    }

    #[test]
    fn resumable_js_numbers_from_one_and_generic_part_numbers_need_an_upload_id() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = cfg(dir.path());
        let stats = IcapStats::default();
        let up = Uploads::default();
        let f = |i: u32| {
            format!(
                "resumableChunkNumber={i}\nresumableTotalChunks=2\nresumableIdentifier=77-a\n\
                 resumableFilename=a.txt\n"
            )
        };
        assert_eq!(slice(&up, &cfg, &stats, "http://x/up", &f(1), b"12"), None);
        assert_eq!(
            slice(&up, &cfg, &stats, "http://x/up", &f(2), b"34").as_deref(),
            Some("a.txt: 1234")
        );
        // S3/Baidu style: part numbers in the query, no count: the start is re-inspected.
        let u = |n: u32| format!("http://pan.example.cn/superfile2?partseq={n}&uploadid=N1");
        assert_eq!(slice(&up, &cfg, &stats, &u(0), "", b"ab"), None);
        assert_eq!(
            slice(&up, &cfg, &stats, &u(1), "", b"cd").as_deref(),
            Some("superfile2: abcd")
        );
        // A bare `index` field with no upload id is not a piece.
        assert_eq!(
            slice(&up, &cfg, &stats, "http://x/y", "index=1\n", b"zz"),
            None
        );
        assert_eq!(
            up.held().0,
            1,
            "only the upload of unknown total is still held"
        );
    }

    #[test]
    fn bounds_give_a_limit_and_idle_uploads_expire() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = cfg(dir.path());
        cfg.pieces.max_uploads = 1;
        cfg.pieces.max_bytes = 8;
        let stats = IcapStats::default();
        let up = Uploads::default();
        let h = |r: &str| head("PUT", &[("Content-Range", r)]);
        assert_eq!(
            send(&up, &cfg, &stats, "http://a/1", &h("bytes 0-3/10"), b"0123"),
            None
        );
        let r = send(&up, &cfg, &stats, "http://a/2", &h("bytes 0-1/10"), b"01").unwrap();
        assert!(r.starts_with("LIMIT too many uploads"), "{r}");
        let r = send(
            &up,
            &cfg,
            &stats,
            "http://a/1",
            &h("bytes 4-8/10"),
            b"45678",
        )
        .unwrap();
        assert!(r.starts_with("LIMIT too many bytes"), "{r}");
        let r = send(
            &up,
            &cfg,
            &stats,
            "http://a/3",
            &h("bytes 0-1/99999999999"),
            b"01",
        );
        assert!(r.unwrap().starts_with("LIMIT upload in pieces of"));
        cfg.pieces.max_age = std::time::Duration::ZERO;
        assert_eq!(
            send(&up, &cfg, &stats, "http://b/1", &h("bytes 0-0/5"), b"0"),
            None
        );
        assert_eq!(IcapStats::get(&stats.pieces_expired), 1);
    }

    #[test]
    fn content_range_forms() {
        assert_eq!(parse_content_range("bytes 0-99/200"), Some((0, Some(200))));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, None)));
        assert_eq!(parse_content_range("bytes */200"), None);
        assert_eq!(parse_content_range("bytes 5-3/200"), None);
        assert_eq!(parse_content_range("bytes 0-200/200"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
