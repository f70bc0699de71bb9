//! Extraction: find an object's true type by content, open every layer, and hand each text
//! part to a [`Sink`] as soon as it is found (so memory does not grow with the object).
//!
//! Recursion, depth, size, ratio, part-count and time limits live in one place, the
//! [`walker`]; each format module only knows its own format and talks to a [`Ctx`].

mod blob;
mod filetype;
pub mod helper;
mod limits;
mod passwords;
pub mod sniff;
mod walker;

pub mod formats;

pub use blob::Blob;
pub use filetype::FileType;
pub use limits::Limits;
pub use passwords::{Attempt, PasswordBank};
pub use walker::{Ctx, ExtractSummary, FormatResult, Sink, extract, extract_as};
