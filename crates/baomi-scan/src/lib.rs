//! File-system scanning door (placeholder).
