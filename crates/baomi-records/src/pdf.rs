//! PDF through Typst as a library: a template per record in `templates/`, the data handed
//! over as one JSON string (`sys.inputs.data`), Chinese fonts from the system. No browser,
//! no outside process; the text extracts (pdftotext reads the headings and numbers back).
//!
//! Fonts: every file under `$BAOMI_REPORT_FONTS` (colon-separated files or directories)
//! and the CJK fonts under /usr/share/fonts (Noto CJK, WenQuanYi, AR PL, SimSun/FangSong
//! when an office installed them). They are read once per process.

use baomi_store::ClueReport;
use serde_json::{Value, json};

use crate::{Result, SelfInspectionTable};

#[cfg(feature = "pdf")]
mod engine {
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    use typst::foundations::{Bytes, Dict, IntoValue};
    use typst::text::Font;
    use typst_as_lib::TypstEngine;

    use crate::{Error, Result};

    const COMMON: &str = include_str!("../templates/common.typ");

    /// Font file names worth loading: CJK faces, regular and bold only (the heavier and
    /// lighter weights of the Noto families add 100 MB and nothing the forms use).
    fn wanted(name: &str) -> bool {
        let n = name.to_ascii_lowercase();
        let font = n.ends_with(".ttc") || n.ends_with(".ttf") || n.ends_with(".otf");
        let cjk = [
            "cjk", "wqy", "uming", "ukai", "simsun", "simhei", "simfang", "fangsong",
        ]
        .iter()
        .any(|k| n.contains(k));
        let weight = ![
            "light",
            "thin",
            "black",
            "medium",
            "semibold",
            "demilight",
            "mono",
        ]
        .iter()
        .any(|k| n.contains(k));
        font && cjk && weight
    }

    fn collect(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && depth < 4 {
                collect(&p, depth + 1, out);
            } else if p.file_name().is_some_and(|n| wanted(&n.to_string_lossy())) {
                out.push(p);
            }
        }
    }

    fn load() -> Vec<Font> {
        let mut files = Vec::new();
        if let Some(extra) = std::env::var_os("BAOMI_REPORT_FONTS") {
            for p in std::env::split_paths(&extra) {
                if p.is_dir() {
                    collect(&p, 0, &mut files);
                } else {
                    files.push(p);
                }
            }
        }
        for dir in ["/usr/share/fonts", "/usr/local/share/fonts"] {
            collect(Path::new(dir), 0, &mut files);
        }
        files.sort();
        files.dedup();
        let mut fonts = Vec::new();
        for f in files {
            if let Ok(data) = std::fs::read(&f) {
                fonts.extend(Font::iter(Bytes::new(data)));
            }
        }
        fonts
    }

    fn fonts() -> &'static [Font] {
        static FONTS: OnceLock<Vec<Font>> = OnceLock::new();
        FONTS.get_or_init(load)
    }

    pub fn render(template: &'static str, data: String) -> Result<Vec<u8>> {
        let fonts = fonts();
        if fonts.is_empty() {
            return Err(Error::Pdf(
                "no Chinese font found: install fonts-noto-cjk (Debian) or set BAOMI_REPORT_FONTS"
                    .into(),
            ));
        }
        let engine = TypstEngine::builder()
            .main_file(template)
            .with_static_source_file_resolver([("common.typ", COMMON)])
            .fonts(fonts.iter().cloned())
            .build();
        let mut inputs = Dict::new();
        inputs.insert("data".into(), data.into_value());
        let doc = engine
            .compile_with_input(inputs)
            .output
            .map_err(|e| Error::Pdf(format!("layout: {e:?}")))?;
        typst_pdf::pdf(&doc, &Default::default()).map_err(|e| Error::Pdf(format!("{e:?}")))
    }
}

/// Render one of this crate's templates with `data` (for the record modules).
pub(crate) fn render_template(template: &'static str, data: Value) -> Result<Vec<u8>> {
    render(template, data)
}

#[cfg(feature = "pdf")]
fn render(template: &'static str, data: Value) -> Result<Vec<u8>> {
    engine::render(template, data.to_string())
}

#[cfg(not(feature = "pdf"))]
fn render(_template: &'static str, _data: Value) -> Result<Vec<u8>> {
    Err(crate::Error::Pdf(
        "this build of Baomi has no PDF support (cargo feature `pdf` of baomi-records)".into(),
    ))
}

pub fn self_inspection(table: &SelfInspectionTable) -> Result<Vec<u8>> {
    let rows: Vec<Vec<String>> = table.rows.iter().map(|r| r.cells().to_vec()).collect();
    let data = json!({
        "title": table.title(),
        "subtitle": table.subtitle(),
        "rows": rows,
        "total": table.total.cells().to_vec(),
        "generated": format!("制表：Baomi，{}。", baomi_store::local_date(baomi_store::now_ms())),
    });
    render(include_str!("../templates/self_inspection.typ"), data)
}

pub fn clue_report(r: &ClueReport) -> Result<Vec<u8>> {
    let f = &r.fields;
    let data = json!({
        "reporting_unit": f.reporting_unit,
        "occurring_unit": f.occurring_unit,
        "category_line": crate::docx::category_line(f.category),
        "documents": f.documents,
        "facts": f.facts,
        "remedy": f.remedy,
        "incidents": f.incidents,
        "footer": crate::docx::footer_lines(r),
    });
    render(include_str!("../templates/clue_report.typ"), data)
}
