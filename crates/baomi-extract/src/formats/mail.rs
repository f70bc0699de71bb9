//! mail (placeholder)
use crate::{Blob, Ctx, FormatResult};

pub fn extract_eml(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let _ = (blob, cx);
    Err("not implemented".into())
}

pub fn extract_mbox(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let _ = (blob, cx);
    Err("not implemented".into())
}
