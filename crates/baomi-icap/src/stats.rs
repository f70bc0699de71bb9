use std::sync::atomic::{AtomicU64, Ordering};

/// Counters for the console and for tests. Relaxed atomics: these are statistics, not
/// synchronisation.
#[derive(Debug, Default)]
pub struct IcapStats {
    /// Connections accepted since start.
    pub connections: AtomicU64,
    /// Connections open now.
    pub active_connections: AtomicU64,
    /// The most connections open at once since start (never above `Max-Connections`).
    pub peak_connections: AtomicU64,
    pub options: AtomicU64,
    pub reqmod: AtomicU64,
    pub respmod: AtomicU64,
    /// Answers `204 No Content` (in or after preview).
    pub no_content: AtomicU64,
    /// Messages echoed back unmodified (allowed, but the client did not offer `Allow: 204`).
    pub echoed: AtomicU64,
    /// Block pages sent.
    pub blocks: AtomicU64,
    /// Malformed requests, I/O errors, inspector errors and timeouts.
    pub errors: AtomicU64,
    /// Inspector errors or timeouts decided by the fail mode.
    pub inspector_failures: AtomicU64,
    /// Bodies over `max_body` decided by the fail mode.
    pub over_limit: AtomicU64,
    /// HTTP body bytes received.
    pub body_bytes: AtomicU64,
    /// Pieces of uploads sent in several requests, kept on the spool.
    pub pieces: AtomicU64,
    /// Uploads in pieces put together whole and inspected.
    pub pieces_assembled: AtomicU64,
    /// Uploads in pieces dropped unfinished after their idle age.
    pub pieces_expired: AtomicU64,
}

impl IcapStats {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A counter's current value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// All counters at once, for the console and the REST API.
    pub fn snapshot(&self) -> IcapStatsSnapshot {
        let g = Self::get;
        IcapStatsSnapshot {
            connections: g(&self.connections),
            active_connections: g(&self.active_connections),
            peak_connections: g(&self.peak_connections),
            options: g(&self.options),
            reqmod: g(&self.reqmod),
            respmod: g(&self.respmod),
            no_content: g(&self.no_content),
            echoed: g(&self.echoed),
            blocks: g(&self.blocks),
            errors: g(&self.errors),
            inspector_failures: g(&self.inspector_failures),
            over_limit: g(&self.over_limit),
            body_bytes: g(&self.body_bytes),
            pieces: g(&self.pieces),
            pieces_assembled: g(&self.pieces_assembled),
            pieces_expired: g(&self.pieces_expired),
        }
    }
}

/// Plain copy of [`IcapStats`] (each counter read separately: not one atomic instant).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IcapStatsSnapshot {
    pub connections: u64,
    pub active_connections: u64,
    pub peak_connections: u64,
    pub options: u64,
    pub reqmod: u64,
    pub respmod: u64,
    pub no_content: u64,
    pub echoed: u64,
    pub blocks: u64,
    pub errors: u64,
    pub inspector_failures: u64,
    pub over_limit: u64,
    pub body_bytes: u64,
    pub pieces: u64,
    pub pieces_assembled: u64,
    pub pieces_expired: u64,
}
