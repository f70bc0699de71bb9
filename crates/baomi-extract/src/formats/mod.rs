//! One small module per format. Each exposes `extract(blob, cx) -> FormatResult` and uses
//! the [`Ctx`] for everything that crosses layers (text, nested objects, findings, limits).

use crate::{Blob, Ctx, FileType, FormatResult};

// Documents and text.
pub mod encrypted_ooxml;
pub mod exif;
pub mod html;
#[cfg(feature = "ocr")]
pub mod image;
pub mod json;
pub mod legacy;
pub mod legacy_crypto;
pub mod mail;
pub mod msg;
#[cfg(feature = "ocr")]
pub(crate) mod ocr_marking;
pub mod odf;
pub mod ofd;
pub mod ooxml;
pub mod pdf;
pub mod rtf;
pub mod text;
pub mod xml;

// Archives and compression.
pub mod compress;
pub mod rar;
pub mod sevenz;
pub mod tar;
pub mod zip;

/// Open `blob` as `ty`.
pub fn dispatch(ty: FileType, blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    use FileType::*;
    match ty {
        Empty => Ok(()),
        Text => text::extract(blob, cx),
        Html | Xml => html::extract(blob, cx),
        Rtf => rtf::extract(blob, cx),
        Pdf => pdf::extract(blob, cx),
        Docx | Xlsx | Pptx => ooxml::extract(ty, blob, cx),
        Odt | Ods | Odp => odf::extract(blob, cx),
        Ofd => ofd::extract(blob, cx),
        Eml => mail::extract_eml(blob, cx),
        Mbox => mail::extract_mbox(blob, cx),
        Zip => zip::extract(blob, cx),
        Tar => tar::extract(blob, cx),
        Gzip | Bzip2 | Xz | Zstd => compress::extract(ty, blob, cx),
        SevenZ => sevenz::extract(blob, cx),
        Rar => rar::extract(blob, cx),
        EncryptedOoxml => encrypted_ooxml::extract(blob, cx),
        Doc | Xls | Ppt => legacy::extract(ty, blob, cx),
        Ole => legacy::extract_ole(blob, cx),
        Msg => msg::extract(blob, cx),
        #[cfg(feature = "ocr")]
        Png | Jpeg | Gif | Bmp | Tiff | Webp => image::extract(ty, blob, cx),
        #[cfg(not(feature = "ocr"))]
        Png | Jpeg | Gif | Bmp | Tiff | Webp => {
            exif::extract(ty, blob, cx);
            cx.unreadable("", format!("{ty}: image, not read (built without OCR)"));
            Ok(())
        }
        Binary => {
            cx.unreadable("", "unknown binary format");
            Ok(())
        }
    }
}
