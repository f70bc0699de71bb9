//! Images: text read by OCR (Tesseract, linked as a library; Apache-2.0). The text becomes
//! the part `<image>#ocr`. Phone photos of notices are the case that matters, so the image
//! is prepared first: grayscale, deskewed, small images upscaled ×2, contrast stretched.
//! Deskew matters for body text: on the 40 photographed A4 pages of `tests/ocr_trials.rs`
//! lines tilted by 3–5° came out as garbage and read cleanly once straightened. Tesseract
//! binarises (Otsu) internally, so the prepared image stays grayscale; upscaling 150-dpi A4
//! pages as well was measured and made nothing better at 1.7× the time.

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
    let image = match decode(&bytes, cx.memory_budget()) {
        Ok(Some(image)) => image,
        Ok(None) => return Ok(()),
        Err(DecodeError::Limit(reason)) => {
            cx.limit_here("", format!("{ty}: {reason}"));
            return Ok(());
        }
        Err(DecodeError::Bad(reason)) => {
            cx.unreadable("", format!("{ty}: {reason}"));
            return Ok(());
        }
    };
    drop(bytes);
    match recognise(&prepare(image)) {
        Ok(text) => cx.text("#ocr", PartRole::Body, text),
        Err(reason) => cx.unreadable("", format!("{ty}: OCR failed: {reason}")),
    }
    Ok(())
}

/// Why an image gave no pixels.
#[derive(Debug)]
pub(crate) enum DecodeError {
    /// Decoding it would take more memory than the object may have (a `limit` finding).
    Limit(String),
    /// It does not decode (an `unreadable` finding).
    Bad(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Limit(reason) | DecodeError::Bad(reason) => f.write_str(reason),
        }
    }
}

/// Memory the OCR path takes for an image, from its header alone: the decoded frame
/// (`total_bytes`, all channels) plus one grayscale copy alive with it while converting;
/// later copies (deskew, Tesseract's own) replace the decoded frame, which is dropped first.
pub(crate) fn memory_needed(width: u32, height: u32, frame_bytes: u64) -> u64 {
    frame_bytes.saturating_add(u64::from(width) * u64::from(height))
}

/// Decode the first frame; `Ok(None)` for an icon-sized image. The header's dimensions
/// are checked first: an image whose pixels would take more than `max_bytes` (see
/// [`memory_needed`]) or more than [`MAX_PIXELS`] is refused without decoding.
pub(crate) fn decode(bytes: &[u8], max_bytes: u64) -> Result<Option<DynamicImage>, DecodeError> {
    let bad = |e: image::ImageError| DecodeError::Bad(format!("image does not decode ({e})"));
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Bad(format!("image does not decode ({e})")))?;
    let decoder = reader.into_decoder().map_err(bad)?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    if width < MIN_WIDTH || height < MIN_HEIGHT {
        return Ok(None);
    }
    let pixels = u64::from(width) * u64::from(height);
    let needed = memory_needed(width, height, image::ImageDecoder::total_bytes(&decoder));
    if pixels > MAX_PIXELS || needed > max_bytes {
        return Err(DecodeError::Limit(format!(
            "image {width}×{height} needs {} MB to decode > {} MB per-object memory budget",
            needed.div_ceil(1 << 20),
            max_bytes >> 20
        )));
    }
    // The size is checked above against our own budget; the decoder's allocation cap is
    // lifted so that it does not refuse what the budget allows.
    let mut limits = image::Limits::no_limits();
    limits.max_alloc = Some(max_bytes);
    let mut decoder = decoder;
    image::ImageDecoder::set_limits(&mut decoder, limits).map_err(bad)?;
    DynamicImage::from_decoder(decoder).map(Some).map_err(bad)
}

/// Grayscale, upscale small images, stretch the contrast between the 1st and 99th
/// percentile of brightness (photos of paper are gray on gray).
pub(crate) fn prepare(image: DynamicImage) -> GrayImage {
    // Consumed, so the decoded frame is freed as soon as the gray copy exists.
    let mut gray = image.into_luma8();
    flatten_lighting(&mut gray);
    if let Some(degrees) = skew_degrees(&gray) {
        gray = rotate_about_centre(&gray, -degrees);
    }
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

/// Skew search range and steps, in degrees: a hand-held shot of a page is rarely more than
/// a few degrees off, and 0.1° is below what moves a text line by a pixel over a column.
const SKEW_MAX_DEGREES: f32 = 6.0;
const SKEW_COARSE_STEP: f32 = 0.5;
const SKEW_FINE_STEP: f32 = 0.1;
/// Smaller skews are left alone: rotating costs a resampling blur for no gain.
const SKEW_MIN_DEGREES: f32 = 0.3;
/// Width of the copy the skew is searched on: enough to keep text lines apart.
const SKEW_SEARCH_WIDTH: u32 = 800;

/// The angle (degrees, positive = clockwise text lines) the page's text lines are tilted by,
/// found by a projection-profile search: ink projected along the right angle falls into
/// sharp peaks (lines) and empty valleys (line gaps). `None` when the image has too little
/// ink or too little skew to be worth a rotation.
pub(crate) fn skew_degrees(gray: &GrayImage) -> Option<f32> {
    let scale = (SKEW_SEARCH_WIDTH as f32 / gray.width() as f32).min(1.0);
    let small_width = ((gray.width() as f32 * scale) as u32).max(1);
    let small_height = ((gray.height() as f32 * scale) as u32).max(1);
    let small = image::imageops::resize(gray, small_width, small_height, FilterType::Triangle);
    let threshold = ink_threshold(&small)?;
    let ink: Vec<(f32, f32)> = small
        .enumerate_pixels()
        .filter(|(_, _, pixel)| pixel.0[0] < threshold)
        .map(|(x, y, _)| (x as f32, y as f32))
        .collect();
    // Less than 0.05 % ink: a blank page or a photo without text. (A sparsely printed page
    // photographed whole has 0.2–0.3 %: a notice's head and a few lines.)
    if ink.len() < 50 || ink.len() * 2000 < (small_width * small_height) as usize {
        return None;
    }
    // Too much ink is a picture or a dark border, not text on paper.
    if ink.len() * 3 > (small_width * small_height) as usize {
        return None;
    }
    let score = |degrees: f32| projection_sharpness(&ink, small_width, small_height, degrees);
    let mut best = (0.0f32, score(0.0));
    let steps = (SKEW_MAX_DEGREES / SKEW_COARSE_STEP) as i32;
    for step in -steps..=steps {
        let degrees = step as f32 * SKEW_COARSE_STEP;
        let value = score(degrees);
        if value > best.1 {
            best = (degrees, value);
        }
    }
    let centre = best.0;
    let fine_steps = (SKEW_COARSE_STEP / SKEW_FINE_STEP) as i32;
    for step in -fine_steps..=fine_steps {
        let degrees = centre + step as f32 * SKEW_FINE_STEP;
        let value = score(degrees);
        if value > best.1 {
            best = (degrees, value);
        }
    }
    (best.0.abs() >= SKEW_MIN_DEGREES).then_some(best.0)
}

/// Sum of squared differences between neighbouring rows of the ink profile taken along
/// lines tilted by `degrees`: large when text lines and gaps alternate sharply.
fn projection_sharpness(ink: &[(f32, f32)], width: u32, height: u32, degrees: f32) -> f64 {
    let slope = degrees.to_radians().tan();
    let margin = (width as f32 * slope.abs()).ceil() as usize + 1;
    let mut rows = vec![0u32; height as usize + 2 * margin];
    for &(x, y) in ink {
        let row = (y - x * slope).round() as isize + margin as isize;
        if let Some(count) = usize::try_from(row).ok().and_then(|r| rows.get_mut(r)) {
            *count += 1;
        }
    }
    rows.windows(2)
        .map(|pair| {
            let step = f64::from(pair[1]) - f64::from(pair[0]);
            step * step
        })
        .sum()
}

/// The gray level below which a pixel is ink: halfway between the paper (the median) and
/// the ink (the 0.05th percentile from the dark end). Otsu's threshold was used before; on a
/// sparsely printed page (ink 0.2 % of the pixels) with a noisy paper it splits the paper's
/// noise, not ink from paper. `None` without contrast between the two.
fn ink_threshold(gray: &GrayImage) -> Option<u8> {
    let mut histogram = [0u64; 256];
    for pixel in gray.pixels() {
        histogram[usize::from(pixel.0[0])] += 1;
    }
    let total: u64 = histogram.iter().sum();
    let level_at = |count: u64| -> u8 {
        let mut seen = 0;
        for (level, &n) in histogram.iter().enumerate() {
            seen += n;
            if seen > count {
                return level as u8;
            }
        }
        255
    };
    let (ink, paper) = (level_at(total / DARK_CUT), level_at(total / 2));
    (paper >= ink.saturating_add(32)).then(|| ink + (paper - ink) / 2)
}

/// The darkest `1 / DARK_CUT` of the pixels stand for the ink's level (0.05 %): a notice's
/// page photographed whole has only 0.2–0.3 % ink, so the 1st percentile taken before was the
/// noise of the paper, and stretching it to black turned the whole page into specks.
const DARK_CUT: u64 = 2000;

/// Rotate by `degrees` (positive = clockwise on screen) about the centre, same size,
/// bilinear, corners filled white like paper.
pub(crate) fn rotate_about_centre(gray: &GrayImage, degrees: f32) -> GrayImage {
    let (width, height) = gray.dimensions();
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cx, cy) = ((width as f32 - 1.0) / 2.0, (height as f32 - 1.0) / 2.0);
    let source = gray.as_raw();
    let stride = width as usize;
    let at = |x: usize, y: usize| f32::from(source[y * stride + x]);
    GrayImage::from_fn(width, height, |x, y| {
        // Inverse map: where in the source this destination pixel comes from.
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let sx = cos * dx + sin * dy + cx;
        let sy = -sin * dx + cos * dy + cy;
        if sx < 0.0 || sy < 0.0 || sx > width as f32 - 1.0 || sy > height as f32 - 1.0 {
            return image::Luma([255]);
        }
        let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
        let (x1, y1) = (
            (x0 + 1).min(width as usize - 1),
            (y0 + 1).min(height as usize - 1),
        );
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
        let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
        image::Luma([(top * (1.0 - fy) + bottom * fy).round() as u8])
    })
}

/// Side of the blocks the paper's brightness is estimated on: larger than a character at
/// 100–300 dpi, so every block holds some bare paper.
const LIGHT_BLOCK: u32 = 48;

/// Undo uneven light (a photo lit from one side, a shadow across the page): estimate the
/// paper's brightness per block (the brightest pixels of the block: paper, not ink),
/// smooth it, and divide each pixel by it, so the paper is white everywhere and ink stays
/// dark. Without this, the contrast stretch below turned the dark corner of a sparsely
/// printed page black (its 1st percentile was paper in the shadow, not ink) and Tesseract
/// read nothing.
pub(crate) fn flatten_lighting(gray: &mut GrayImage) {
    let (width, height) = gray.dimensions();
    if width < LIGHT_BLOCK * 2 || height < LIGHT_BLOCK * 2 {
        return;
    }
    let (columns, rows) = (width.div_ceil(LIGHT_BLOCK), height.div_ceil(LIGHT_BLOCK));
    // The 95th percentile of each block: its paper, robust to a few bright noise pixels.
    let mut paper = vec![0f32; (columns * rows) as usize];
    for row in 0..rows {
        for column in 0..columns {
            let mut histogram = [0u32; 256];
            let mut count = 0u32;
            for y in row * LIGHT_BLOCK..((row + 1) * LIGHT_BLOCK).min(height) {
                for x in column * LIGHT_BLOCK..((column + 1) * LIGHT_BLOCK).min(width) {
                    histogram[usize::from(gray.get_pixel(x, y).0[0])] += 1;
                    count += 1;
                }
            }
            let mut seen = 0;
            let mut level = 255;
            for (value, &n) in histogram.iter().enumerate().rev() {
                seen += n;
                if seen * 20 >= count {
                    level = value;
                    break;
                }
            }
            paper[(row * columns + column) as usize] = level as f32;
        }
    }
    // A block inside a large dark area (a photo, a thick rule) is not paper: take the
    // brightest neighbour of each block, which also smooths the estimate.
    let at = |c: i64, r: i64| {
        let c = c.clamp(0, i64::from(columns) - 1) as u32;
        let r = r.clamp(0, i64::from(rows) - 1) as u32;
        paper[(r * columns + c) as usize]
    };
    let smooth: Vec<f32> = (0..rows)
        .flat_map(|r| (0..columns).map(move |c| (c, r)))
        .map(|(c, r)| {
            let (c, r) = (i64::from(c), i64::from(r));
            let brightest = (-1..=1)
                .flat_map(|dr| (-1..=1).map(move |dc| (dc, dr)))
                .map(|(dc, dr)| at(c + dc, r + dr))
                .fold(0f32, f32::max);
            brightest.max(32.0)
        })
        .collect();
    let block = LIGHT_BLOCK as f32;
    for (x, y, pixel) in gray.enumerate_pixels_mut() {
        // Bilinear between the centres of the four nearest blocks.
        let fx = ((x as f32 + 0.5) / block - 0.5).clamp(0.0, (columns - 1) as f32);
        let fy = ((y as f32 + 0.5) / block - 0.5).clamp(0.0, (rows - 1) as f32);
        let (c0, r0) = (fx.floor() as u32, fy.floor() as u32);
        let (c1, r1) = ((c0 + 1).min(columns - 1), (r0 + 1).min(rows - 1));
        let (tx, ty) = (fx - c0 as f32, fy - r0 as f32);
        let value = |c: u32, r: u32| smooth[(r * columns + c) as usize];
        let top = value(c0, r0) * (1.0 - tx) + value(c1, r0) * tx;
        let bottom = value(c0, r1) * (1.0 - tx) + value(c1, r1) * tx;
        let paper = top * (1.0 - ty) + bottom * ty;
        let flat = f32::from(pixel.0[0]) * 255.0 / paper;
        pixel.0[0] = flat.min(255.0).round() as u8;
    }
}

fn stretch_contrast(gray: &mut GrayImage) {
    let mut histogram = [0u64; 256];
    for pixel in gray.pixels() {
        histogram[usize::from(pixel.0[0])] += 1;
    }
    let total: u64 = histogram.iter().sum();
    let percentile = |from_dark: bool| -> u8 {
        // The ink's end from the darkest pixels (see DARK_CUT), the paper's from the 99th
        // percentile.
        let cut = if from_dark {
            total / DARK_CUT
        } else {
            total / 100
        };
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

/// Run Tesseract on a prepared grayscale image and return its text, with the marking lines
/// among its head lines put back in their canonical form (see [`super::ocr_marking`]).
pub(crate) fn recognise(gray: &GrayImage) -> Result<String, String> {
    // One engine per image: it is neither Send nor cheap to share, and initialisation
    // (loading the language data) is small next to recognition.
    let mut engine = super::ocr_marking::Engine::new(LANGUAGES)?;
    let mut page = engine.read(gray)?;
    if page.mean_confidence < MIN_CONFIDENCE {
        // A pattern image came out as runs of Latin capitals at 25 %; the rendered notice
        // reads at 90 %, its noisy rotated JPEG "photo" at 63 %.
        let text = page.text();
        tracing::debug!(
            confidence = page.mean_confidence,
            "OCR text dropped as noise: {text:?}"
        );
        return Ok(String::new());
    }
    page.repair_markings(&mut engine, gray)?;
    Ok(page.text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uneven_light_is_flattened_and_ink_stays_dark() {
        // Paper from 250 (left) to 140 (right), with dark "ink" marks every 100 px.
        let mut gray = GrayImage::from_fn(800, 400, |x, y| {
            let paper = 250.0 - 110.0 * x as f32 / 799.0;
            let ink = x % 100 < 6 && (100..300).contains(&y);
            image::Luma([if ink {
                (paper * 0.2) as u8
            } else {
                paper as u8
            }])
        });
        flatten_lighting(&mut gray);
        for x in [20, 400, 780] {
            // Within a few levels of white: each block is divided by its brightest neighbour.
            assert!(gray.get_pixel(x, 50).0[0] >= 235, "paper at x={x} is white");
        }
        for x in [2, 402, 702] {
            assert!(gray.get_pixel(x, 200).0[0] <= 70, "ink at x={x} stays dark");
        }
    }

    #[test]
    fn contrast_stretch_spreads_gray_on_gray() {
        let mut gray = GrayImage::from_fn(100, 100, |x, _| {
            image::Luma([if x < 50 { 100 } else { 160 }])
        });
        stretch_contrast(&mut gray);
        assert_eq!(gray.get_pixel(0, 0).0[0], 0);
        assert_eq!(gray.get_pixel(99, 0).0[0], 255);
    }

    /// A page of dark text-like bars on white: lines of "words" with gaps between.
    fn striped_page() -> GrayImage {
        GrayImage::from_fn(1200, 1600, |x, y| {
            let in_line = (200..1400).contains(&y) && y % 60 < 24;
            let in_word = (100..1100).contains(&x) && x % 90 < 70;
            image::Luma([if in_line && in_word { 20 } else { 235 }])
        })
    }

    #[test]
    fn skew_of_a_rotated_page_is_found_and_undone() {
        let page = striped_page();
        assert_eq!(skew_degrees(&page), None, "a straight page is left alone");
        for degrees in [-4.6f32, -2.0, 1.3, 3.0, 5.5] {
            let tilted = rotate_about_centre(&page, degrees);
            let found = skew_degrees(&tilted).expect("skew found");
            assert!(
                (found - degrees).abs() <= 0.2,
                "{degrees}° found as {found}°"
            );
            let straightened = rotate_about_centre(&tilted, -found);
            assert!(
                skew_degrees(&straightened).is_none(),
                "{degrees}° still skewed after correction"
            );
        }
    }

    #[test]
    fn blank_and_dark_images_have_no_skew() {
        assert_eq!(
            skew_degrees(&GrayImage::from_pixel(800, 600, image::Luma([240]))),
            None
        );
        assert_eq!(
            skew_degrees(&GrayImage::from_pixel(800, 600, image::Luma([10]))),
            None
        );
    }

    #[test]
    fn rotation_turns_clockwise_and_fills_white() {
        // A dark dot right of centre goes below centre after 90° clockwise.
        let mut gray = GrayImage::from_pixel(101, 101, image::Luma([255]));
        gray.put_pixel(80, 50, image::Luma([0]));
        let turned = rotate_about_centre(&gray, 90.0);
        assert!(turned.get_pixel(50, 80).0[0] < 50);
        assert_eq!(rotate_about_centre(&gray, 45.0).get_pixel(0, 0).0[0], 255);
    }

    #[test]
    fn small_images_are_upscaled_twice() {
        let image = DynamicImage::ImageLuma8(GrayImage::new(300, 200));
        let gray = prepare(image);
        assert_eq!((gray.width(), gray.height()), (600, 400));
    }

    #[test]
    fn icons_are_skipped_and_garbage_is_an_error() {
        let mut png = Vec::new();
        DynamicImage::ImageLuma8(GrayImage::new(16, 16))
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encode png");
        assert!(matches!(decode(&png, 64 << 20), Ok(None)));
        assert!(matches!(
            decode(b"\x89PNG\r\n\x1a\nnot really", 64 << 20),
            Err(DecodeError::Bad(_))
        ));
    }
}
