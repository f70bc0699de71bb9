//! Shared XML text helpers (placeholder)
