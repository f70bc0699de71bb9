//! ooxml (placeholder)
use crate::{Blob, Ctx, FileType, FormatResult};

pub fn extract(ty: FileType, blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let _ = (ty, blob, cx);
    Err("not implemented".into())
}
