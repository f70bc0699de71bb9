use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the mail door, for `/metrics` and for tests. Relaxed atomics: statistics,
/// not synchronisation.
#[derive(Debug, Default)]
pub struct MilterStats {
    /// MTA connections accepted since start.
    pub connections: AtomicU64,
    /// Connections open now.
    pub active_connections: AtomicU64,
    /// The most connections open at once since start.
    pub peak_connections: AtomicU64,
    /// Connections closed at once because `max_connections` were already open (the MTA
    /// applies its `milter_default_action`).
    pub refused_connections: AtomicU64,
    /// Body chunks received (at most 64 KiB each).
    pub body_chunks: AtomicU64,
    /// Messages that reached their end and were answered.
    pub messages: AtomicU64,
    /// Messages answered with the fail mode (tempfail, or accept when `fail_open`).
    pub failures: AtomicU64,
}

impl MilterStats {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A counter's current value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn opened(&self) {
        Self::bump(&self.connections);
        let open = self.active_connections.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_connections.fetch_max(open, Ordering::Relaxed);
    }

    pub(crate) fn closed(&self) {
        self.active_connections.fetch_sub(1, Ordering::Relaxed);
    }
}
