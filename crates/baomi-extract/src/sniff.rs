//! True type by content, and declared type by name. (Placeholder.)
use crate::{Blob, FileType};

/// The true type of a blob, from its content only.
pub fn sniff(blob: &Blob) -> FileType {
    let _ = blob;
    FileType::Text
}

/// The type a name claims through its extension, if it has a known one.
pub fn declared_type(name: &str) -> Option<FileType> {
    let _ = name;
    None
}

/// Whether content of type `actual` may honestly carry a name declaring `declared`
/// (a .csv is text, a .wps is an OLE document, a .jar is a zip …).
pub fn compatible(declared: FileType, actual: FileType) -> bool {
    declared == actual
}

/// Types that a file without a known extension should not have: a document or archive with
/// its extension removed is a classic way to slip past filters.
pub fn needs_extension(actual: FileType) -> bool {
    !matches!(actual, FileType::Empty | FileType::Text | FileType::Binary)
}
