//! Normalisation: full-width → ASCII (NFKC), Traditional → Simplified, spacing tricks, with an
//! offset map back to the original text. (Placeholder: identity; replaced by the real one.)

/// Normalised text plus the map back to the original.
pub struct Normalized {
    pub text: String,
}

impl Normalized {
    /// Map a byte range of the normalised text to the byte range of the original it came from.
    pub fn original_range(&self, start: usize, end: usize) -> (usize, usize) {
        (start, end)
    }
}

#[derive(Default)]
pub struct Normalizer {}

impl Normalizer {
    pub fn new() -> Normalizer {
        Normalizer {}
    }
    pub fn normalize(&self, text: &str) -> Normalized {
        Normalized {
            text: text.to_owned(),
        }
    }
}
