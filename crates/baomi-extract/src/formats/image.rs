//! Images: text read by OCR (Tesseract, linked as a library; Apache-2.0). The text becomes
//! the part `<image>#ocr`. Phone photos of notices are the case that matters, so the image
//! is prepared first: grayscale, small images upscaled ×2, contrast stretched. There is no
//! deskew: Tesseract's own page segmentation copes with the few degrees of a hand-held shot.
//! Tesseract binarises (Otsu) internally, so no binarisation is done here.

use std::io::Cursor;

use baomi_core::PartRole;
use image::{DynamicImage, GrayImage, ImageReader, imageops::FilterType};

use crate::{Blob, Ctx, FileType, FormatResult};

/// Below these an image is an icon, a bullet or a spacer: no OCR and no finding.
const MIN_WIDTH: u32 = 64;
const MIN_HEIGHT: u32 = 32;
const MIN_BYTES: u64 = 2 * 1024;
/// Larger images are refused before decoding, to keep memory bounded.
const MAX_PIXELS: u64 = 100_000_000;
/// A short side below this is upscaled ×2: Tesseract wants capital letters ≥ 20 px high.
const UPSCALE_BELOW: u32 = 1000;
/// Below this mean word confidence (0–100) the OCR text is taken for noise.
const MIN_CONFIDENCE: i32 = 40;
/// Languages for Tesseract. `chi_sim` alone: its model reads digits and Latin letters too,
/// and with `+eng` a marking line whose star it cannot read was taken for Latin script
/// (`机密★10年` → `plex 10 年`) on half the test renderings; `chi_tra` adds nothing on
/// simplified-Chinese notices but time.
pub const LANGUAGES: &str = "chi_sim";

/// Open an image (`ty` is one of the image types) and emit its OCR text.
pub fn extract(ty: FileType, blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    // Metadata first: even an icon-sized image can carry a comment.
    super::exif::extract(ty, blob, cx);
    if blob.len() < MIN_BYTES || cx.should_stop() {
        return Ok(());
    }
    let bytes = blob.bytes()?;
    let image = match decode(&bytes) {
        Ok(Some(image)) => image,
        Ok(None) => return Ok(()),
        Err(reason) => {
            cx.unreadable("", format!("{ty}: {reason}"));
            return Ok(());
        }
    };
    match recognise(&prepare(&image)) {
        Ok(text) => cx.text("#ocr", PartRole::Body, text),
        Err(reason) => cx.unreadable("", format!("{ty}: OCR failed: {reason}")),
    }
    Ok(())
}

/// Decode the first frame; `Ok(None)` for an icon-sized image.
pub(crate) fn decode(bytes: &[u8]) -> Result<Option<DynamicImage>, String> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("image does not decode ({e})"))?;
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| format!("image does not decode ({e})"))?;
    if width < MIN_WIDTH || height < MIN_HEIGHT {
        return Ok(None);
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(format!(
            "image too large for OCR ({width}×{height} > {} megapixels)",
            MAX_PIXELS / 1_000_000
        ));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("image does not decode ({e})"))?;
    // The pixel count is checked above; the decoder's own allocation cap would refuse
    // ordinary 30-megapixel phone photos.
    reader.no_limits();
    reader
        .decode()
        .map(Some)
        .map_err(|e| format!("image does not decode ({e})"))
}

/// Grayscale, upscale small images, stretch the contrast between the 1st and 99th
/// percentile of brightness (photos of paper are gray on gray).
pub(crate) fn prepare(image: &DynamicImage) -> GrayImage {
    let mut gray = image.to_luma8();
    let short_side = gray.width().min(gray.height());
    if short_side < UPSCALE_BELOW
        && u64::from(gray.width()) * u64::from(gray.height()) * 4 <= MAX_PIXELS
    {
        gray = image::imageops::resize(
            &gray,
            gray.width() * 2,
            gray.height() * 2,
            FilterType::CatmullRom,
        );
    }
    stretch_contrast(&mut gray);
    gray
}

fn stretch_contrast(gray: &mut GrayImage) {
    let mut histogram = [0u64; 256];
    for pixel in gray.pixels() {
        histogram[usize::from(pixel.0[0])] += 1;
    }
    let total: u64 = histogram.iter().sum();
    let cut = total / 100;
    let percentile = |from_dark: bool| -> u8 {
        let mut seen = 0;
        for step in 0..256usize {
            let level = if from_dark { step } else { 255 - step };
            seen += histogram[level];
            if seen > cut {
                return level as u8;
            }
        }
        if from_dark { 0 } else { 255 }
    };
    let (low, high) = (percentile(true), percentile(false));
    if high <= low.saturating_add(16) {
        // Nearly uniform: stretching would only amplify noise.
        return;
    }
    let range = f32::from(high - low);
    for pixel in gray.pixels_mut() {
        let value = f32::from(pixel.0[0].clamp(low, high) - low) * 255.0 / range;
        pixel.0[0] = value.round() as u8;
    }
}

/// Run Tesseract on a prepared grayscale image and return its text.
pub(crate) fn recognise(gray: &GrayImage) -> Result<String, String> {
    let width = i32::try_from(gray.width()).map_err(|_| "image too wide".to_owned())?;
    let height = i32::try_from(gray.height()).map_err(|_| "image too high".to_owned())?;
    // One instance per image: it is neither Send nor cheap to share, and initialisation
    // (loading the language data) is small next to recognition.
    let tess = tesseract::Tesseract::new(None, Some(LANGUAGES))
        .map_err(|e| format!("Tesseract with {LANGUAGES} is not available ({e})"))?;
    let mut tess = tess
        .set_frame(gray.as_raw(), width, height, 1, width)
        .map_err(|e| e.to_string())?
        // The true resolution is unknown; 300 dpi is what Tesseract is tuned for and
        // silences its "invalid resolution" guess.
        .set_source_resolution(300)
        .recognize()
        .map_err(|e| e.to_string())?;
    let text = tess.get_text().map_err(|e| e.to_string())?;
    let confidence = tess.mean_text_conf();
    if confidence < MIN_CONFIDENCE {
        // A pattern image came out as runs of Latin capitals at 25 %; the rendered notice
        // reads at 90 %, its noisy rotated JPEG "photo" at 63 %.
        tracing::debug!(confidence, "OCR text dropped as noise: {text:?}");
        return Ok(String::new());
    }
    Ok(repair_stars(&text))
}

/// Glyphs Tesseract's Chinese model reads a `★` as (it has no star in its character set):
/// seen on rendered and photographed notices, plus the shape-alikes the detector does not
/// already accept as stars.
const STAR_MISREADS: &[char] = &[
    '广', '友', '太', '大', '女', '妇', '妈', '雪', '文', '犬', '火', '食', '贪', 'x', 'X', '※',
];

/// Put back the `★` of a marking whose star was misread: a level word (`绝密`, `机密`,
/// `秘密`), one misread glyph, then a period (`10年`, `6个月`, `长期`). Only this exact shape is
/// rewritten, so prose such as `机密大事` is left alone.
pub(crate) fn repair_stars(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        out.push(c);
        index += 1;
        let after_level = c == '密' && index >= 2 && matches!(chars[index - 2], '绝' | '机' | '秘');
        if !after_level {
            continue;
        }
        let mut glyph = index;
        while chars.get(glyph) == Some(&' ') {
            glyph += 1;
        }
        let Some(&misread) = chars.get(glyph) else {
            continue;
        };
        let mut period = glyph + 1;
        while chars.get(period) == Some(&' ') {
            period += 1;
        }
        let period_follows = if chars.get(period) == Some(&'长') {
            chars.get(period + 1) == Some(&'期')
        } else {
            // Digits (Tesseract spaces them out), then 年 or 月 (`6个月`).
            let mut end = period;
            while chars
                .get(end)
                .is_some_and(|c| c.is_ascii_digit() || *c == ' ')
            {
                end += 1;
            }
            end > period && matches!(chars.get(end), Some('年' | '月' | '个'))
        };
        if STAR_MISREADS.contains(&misread) && period_follows {
            out.push('★');
            index = glyph + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_stretch_spreads_gray_on_gray() {
        let mut gray = GrayImage::from_fn(100, 100, |x, _| {
            image::Luma([if x < 50 { 100 } else { 160 }])
        });
        stretch_contrast(&mut gray);
        assert_eq!(gray.get_pixel(0, 0).0[0], 0);
        assert_eq!(gray.get_pixel(99, 0).0[0], 255);
    }

    #[test]
    fn misread_stars_after_a_level_word_are_repaired() {
        assert_eq!(repair_stars("机密广1 0 年"), "机密★1 0 年");
        assert_eq!(repair_stars("绝密 太 长期"), "绝密★ 长期");
        assert_eq!(repair_stars("秘密x5年\n"), "秘密★5年\n");
        // A whole A4 page of the corpus notice rendered at 150 dpi reads the star as 友.
        assert_eq!(repair_stars("机密友10 年"), "机密★10 年");
        // A table of secrecy periods is prose, not a marking: 级 is no misread star.
        assert_eq!(repair_stars("绝密级30年"), "绝密级30年");
        // Prose and other glyphs stay as they are.
        assert_eq!(repair_stars("机密大事"), "机密大事");
        assert_eq!(repair_stars("机密的3年"), "机密的3年");
        assert_eq!(repair_stars("机密文3份"), "机密文3份");
        assert_eq!(repair_stars("秘书大10岁"), "秘书大10岁");
    }

    #[test]
    fn small_images_are_upscaled_twice() {
        let image = DynamicImage::ImageLuma8(GrayImage::new(300, 200));
        let gray = prepare(&image);
        assert_eq!((gray.width(), gray.height()), (600, 400));
    }

    #[test]
    fn icons_are_skipped_and_garbage_is_an_error() {
        let mut png = Vec::new();
        DynamicImage::ImageLuma8(GrayImage::new(16, 16))
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encode png");
        assert!(matches!(decode(&png), Ok(None)));
        assert!(decode(b"\x89PNG\r\n\x1a\nnot really").is_err());
    }
}
