//! The heart of Baomi: what an inspected object is made of and what is found in it.
//!
//! Data flows one way through the crates of the workspace:
//! channel → extract → **normalise → detect → decide** → act/record.
//! This crate holds the three middle stages and the model they share. It knows nothing of
//! file formats (`baomi-extract`) or of protocols (the doors); it sees text parts only.

pub mod civil;
pub mod detect;
pub mod fingerprint;
pub mod mask;
pub mod model;
pub mod normalise;
pub mod policy;
pub mod reason;

pub use model::*;
