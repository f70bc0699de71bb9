use std::time::Duration;

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
        }
    }
}
