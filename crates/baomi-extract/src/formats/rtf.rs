//! rtf (placeholder)
use crate::{Blob, Ctx, FormatResult};

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let _ = (blob, cx);
    Err("not implemented".into())
}
