//! Dictionaries (placeholder).
use super::{Detector, PartView};
use crate::Finding;
use crate::normalise::Normalizer;

/// One term list: `term[<TAB>weight[<TAB>category]]` per line.
pub struct Dictionary {
    pub name: String,
}

impl Dictionary {
    pub fn parse(name: &str, content: &str, normalizer: &Normalizer) -> Result<Dictionary, String> {
        let _ = (content, normalizer);
        Ok(Dictionary {
            name: name.to_owned(),
        })
    }
}

pub struct DictionaryDetector {}

impl DictionaryDetector {
    pub fn new(dictionaries: Vec<Dictionary>) -> DictionaryDetector {
        let _ = dictionaries;
        DictionaryDetector {}
    }
}

impl Detector for DictionaryDetector {
    fn name(&self) -> &'static str {
        "dictionary"
    }
    fn detect(&self, _part: &PartView<'_>, _out: &mut Vec<Finding>) {}
}
