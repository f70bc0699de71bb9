use std::sync::Arc;
use std::time::Duration;

use crate::PasswordBank;

/// Extraction limits (defaults from DESIGN.md). Hitting one is a `limit` finding, never a
/// silent skip.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Containers inside containers: the top-level object is depth 0.
    pub max_depth: u32,
    /// Bytes produced by decompression/extraction for one top-level object.
    pub max_expanded_bytes: u64,
    /// Expanded bytes may be at most this many times the top-level object's size.
    pub max_ratio: u64,
    /// Text parts and nested objects per top-level object.
    pub max_parts: u64,
    /// Wall time per top-level object.
    pub max_time: Duration,
    /// Nested objects larger than this are spooled to a temporary file, not kept in memory.
    pub spool_threshold: u64,
    /// Plain text larger than this is streamed to the detectors in chunks of about this size.
    pub text_chunk: usize,
    /// Memory one parser may take for one object inside this process: one decoded PDF
    /// stream, one image's decoded pixels, one XML part's text. Checked before decoding
    /// where the format says the size up front, else by reading through a bounded reader;
    /// the bytes are charged against the expansion budget as well. Beyond it the object is
    /// refused with a `limit` finding and extraction goes on with the next one.
    pub max_object_memory: u64,
    /// Memory of each helper process (`pdftotext`, `pdftoppm`): `RLIMIT_DATA`, with
    /// `RLIMIT_AS` at this plus 256 MB for shared libraries (see `helper.rs`).
    pub helper_memory: u64,
    /// CPU time of each helper process (`RLIMIT_CPU`); `None`: the wall-time limit
    /// [`Limits::max_time`] (a single-threaded helper cannot use more CPU than wall time
    /// anyway, so the CPU limit only matters when it is set lower).
    pub helper_cpu: Option<Duration>,
    /// Passwords tried on encrypted zip entries, 7z, RAR, PDF and encrypted OOXML, within
    /// [`Limits::max_time`] (see `passwords.rs`). Empty by default: nothing is tried.
    pub passwords: Arc<PasswordBank>,
}

impl Limits {
    /// The CPU-time limit of one helper process.
    pub fn helper_cpu_limit(&self) -> Duration {
        self.helper_cpu.unwrap_or(self.max_time)
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 8,
            max_expanded_bytes: 1 << 30,
            max_ratio: 200,
            max_parts: 100_000,
            max_time: Duration::from_secs(60),
            spool_threshold: 16 << 20,
            text_chunk: 4 << 20,
            max_object_memory: 64 << 20,
            helper_memory: 512 << 20,
            helper_cpu: None,
            passwords: Arc::new(PasswordBank::empty()),
        }
    }
}
