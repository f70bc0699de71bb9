//! `baomi agent`: the engine on the office computer, for the leak paths no gateway sees —
//! files written to removable media and documents printed — and the traces a secrecy
//! inspection checks (`baomi traces`). The agent inspects locally with the same engine as
//! the server, works offline, and carries its incidents to the server through a durable
//! queue (`queue.rs`) that survives kill -9 and reboots; the server de-duplicates by the
//! event id the agent assigns, so every incident is recorded exactly once.
//!
//! Like every door, the agent holds no detection logic: it turns a written file or a print
//! job into an object for `baomi_engine::Engine`, and acts on the verdict.

pub mod agent;
pub mod carriers;
pub mod config;
pub mod cups;
pub mod deliver;
pub mod fanotify;
pub mod mounts;
pub mod quarantine;
pub mod queue;
pub mod traces;
pub mod usb;

pub use agent::{RunOptions, Summary, run};
