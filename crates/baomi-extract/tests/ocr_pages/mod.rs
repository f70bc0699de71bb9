//! Photographed pages for the OCR trials, generated: a notice (marked or not) is written as a
//! flat ODF text, rendered by LibreOffice and poppler at some dpi, then "photographed" with
//! ImageMagick (perspective, rotation, uneven light, noise, JPEG). Everything random comes
//! from a [`SplitMix`] seeded by the caller, so a failure can be made again.
//!
//! Two sets use this, kept apart: `ocr_trials.rs` (the tuning set: its own seed and fonts;
//! the marking repair may be tuned on it) and `ocr_heldout.rs` (the held-out set: other seeds,
//! other fonts, never used to tune anything). [`SetSpec`] is what makes them different.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use baomi_core::detect::marking::MarkingDetector;
use baomi_core::detect::{Detector, PartView};
use baomi_core::model::{FindingKind, Level};
use baomi_core::normalise::Normalizer;
use baomi_extract::{Blob, Limits, extract};

use crate::common::Collect;

/// SplitMix64: a seeded generator small enough not to need a crate.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [low, high].
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        low + unit * (high - low)
    }

    /// Uniform index below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What one trial set is made of.
pub struct SetSpec {
    pub seed: u64,
    /// Fonts for Simplified pages and for Traditional ones (fontconfig family names).
    pub simplified_fonts: &'static [&'static str],
    pub traditional_fonts: &'static [&'static str],
    pub pages: usize,
    /// Every `unmarked_every`-th page (counting from 1) has no marking; 2: half of them.
    pub unmarked_every: usize,
    pub dpi: (u32, u32),
    pub jpeg_quality: (u32, u32),
    pub max_rotation: f64,
    /// Largest corner shift of the perspective, as a fraction of the page's width.
    pub max_perspective: f64,
    /// Darkest corner of the uneven light (1.0: even light).
    pub min_light: f64,
}

/// The marking forms of DOMAIN.md §3 with their period forms, Simplified and Traditional.
const LEVELS: &[(&str, &str, Level)] = &[
    ("绝密", "絕密", Level::TopSecret),
    ("机密", "機密", Level::Secret),
    ("秘密", "秘密", Level::Confidential),
];

/// A period form: Simplified and Traditional text. Numbers are filled in from the generator.
fn period(random: &mut SplitMix, form: usize, traditional: bool) -> String {
    match form % 7 {
        0 => format!("{}年", random.pick(&[1, 2, 3, 5, 8, 10, 15, 20, 30])),
        1 => format!(
            "{}{}",
            random.pick(&[3, 6, 9, 18]),
            if traditional { "個月" } else { "个月" }
        ),
        2 => if traditional { "長期" } else { "长期" }.to_owned(),
        3 => if traditional {
            "啓用前"
        } else {
            "启用前"
        }
        .to_owned(),
        4 => format!(
            "{}年{}月{}日",
            2026 + random.below(12),
            1 + random.below(12),
            1 + random.below(28)
        ),
        // Two-digit periods, the common long ones.
        5 => format!("{}年", random.pick(&[10, 20, 25, 30])),
        _ => {
            let conditions: &[&str] = if traditional {
                &["解密條件：項目驗收後", "解密條件：會議結束後"]
            } else {
                &["解密条件：项目验收后", "解密条件：会议结束后"]
            };
            (*random.pick(conditions)).to_owned()
        }
    }
}

const TITLES: &[&str] = &[
    "关于加强办公网络安全管理的通知",
    "关于做好重要会议安全保卫工作的通知",
    "关于开展保密自查自纠工作的通知",
    "市财政局关于下达专项资金预算指标的通知",
    "关于印发年度保密工作要点的通知",
    "关于做好考试命题和试卷管理工作的通知",
    "关于进一步规范涉密载体管理的意见",
    "关于召开全市安全生产工作会议的通知",
];
const TITLES_TRADITIONAL: &[&str] = &[
    "關於加強辦公網絡安全管理的通知",
    "關於做好重要會議安全保衛工作的通知",
    "關於開展保密自查自糾工作的通知",
    "關於印發年度保密工作要點的通知",
];

/// Body lines of a notice; those with the level words and years are the mentions an unmarked
/// page must not turn into a marking.
const BODY: &[&str] = &[
    "各有关单位：根据上级部署，现就有关工作提出如下要求，请认真抓好落实。",
    "一、严格落实人员出入登记制度，外来人员一律凭证进入。",
    "二、加强值班值守，确保通信畅通，发现异常情况及时报告。",
    "三、会议材料由专人保管，会后统一收回，不得擅自复制。",
    "办公计算机不得连接互联网，移动存储介质实行登记管理。",
    "请各科室于本月底前将自查情况统计表报送局办公室。",
];
const MENTIONS: &[&str] = &[
    "绝密级事项保密期限一般不超过30年，机密级不超过20年，秘密级不超过10年。",
    "机密文件保存10年，到期后按规定程序解密。",
    "属于机密、秘密、绝密的文件一律不得复印，借阅期限最长6个月。",
    "2025年全市共清查秘密载体1200件，机密载体35件。",
    "涉密试卷在启用前按绝密级管理，考试结束后解密。",
    "保密期限届满的，自行解密；需延长的，应在2027年6月30日前报批。",
    "密级标志由密级和保密期限组成，例如“机密★5年”。",
];
const MENTION_HEADS: &[&str] = &[
    "秘密载体管理5年规划",
    "机密级事项保密期限30年",
    "关于2026年度机密载体清查工作的通知",
    "绝密级文件管理办法（2025年修订）",
    "秘密文件借阅登记（6个月）",
];
const BODY_TRADITIONAL: &[&str] = &[
    "各有關單位：根據上級部署，現就有關工作提出如下要求，請認真抓好落實。",
    "一、嚴格落實人員出入登記制度，外來人員一律憑證進入。",
    "二、加強值班值守，確保通信暢通，發現異常情況及時報告。",
];
const MENTIONS_TRADITIONAL: &[&str] = &[
    "絕密級事項保密期限一般不超過30年，機密級不超過20年，秘密級不超過10年。",
    "機密文件保存10年，到期後按規定程序解密。",
];

/// One generated page: its paragraphs, where the marking is, and what must be found.
pub struct PageSpec {
    pub name: String,
    pub lines: Vec<String>,
    pub marking_line: Option<usize>,
    pub marking_right: bool,
    pub font: &'static str,
    pub font_size: u32,
    /// The level the detector must find; `None`: no marking may be found at all.
    pub level: Option<Level>,
    pub marking: String,
}

/// How a page is photographed.
pub struct Photo {
    pub dpi: u32,
    pub angle: f64,
    /// Corner shifts in pixels (top-left, top-right, bottom-left, bottom-right; x, y).
    pub corners: [(f64, f64); 4],
    pub light: f64,
    pub quality: u32,
    pub noise_seed: u64,
}

/// The pages of a set, with their photo settings.
pub fn pages(spec: &SetSpec) -> Vec<(PageSpec, Photo)> {
    let mut random = SplitMix(spec.seed);
    (0..spec.pages)
        .map(|index| {
            let traditional = random.below(4) == 0;
            let font = if traditional {
                *random.pick(spec.traditional_fonts)
            } else {
                *random.pick(spec.simplified_fonts)
            };
            let unmarked = (index + 1) % spec.unmarked_every == 0;
            let (titles, body, mentions) = if traditional {
                (TITLES_TRADITIONAL, BODY_TRADITIONAL, MENTIONS_TRADITIONAL)
            } else {
                (TITLES, BODY, MENTIONS)
            };
            let mut lines = Vec::new();
            let mut marking_line = None;
            let mut marking_right = false;
            let mut level = None;
            let mut marking = String::new();
            if unmarked {
                if !traditional && random.below(2) == 0 {
                    lines.push((*random.pick(MENTION_HEADS)).to_owned());
                }
                lines.push((*random.pick(titles)).to_owned());
                lines.push((*random.pick(mentions)).to_owned());
            } else {
                let (simplified, traditional_word, found) = *random.pick(LEVELS);
                let word = if traditional {
                    traditional_word
                } else {
                    simplified
                };
                // Each period form in turn, so every one is in every set.
                marking = format!("{word}★{}", period(&mut random, index / 2, traditional));
                level = Some(found);
                match random.below(3) {
                    // GB/T 9704: copy number, marking, sometimes urgency, top left.
                    0 => {
                        lines.push(format!("{:06}", random.below(1_000_000)));
                        marking_line = Some(1);
                        lines.push(marking.clone());
                        if random.below(2) == 0 {
                            lines.push("特急".to_owned());
                        }
                    }
                    // Top right, as some units print it.
                    1 => {
                        marking_line = Some(0);
                        marking_right = true;
                        lines.push(marking.clone());
                    }
                    _ => {
                        marking_line = Some(0);
                        lines.push(marking.clone());
                    }
                }
                lines.push((*random.pick(titles)).to_owned());
            }
            for _ in 0..2 + random.below(3) {
                lines.push((*random.pick(body)).to_owned());
            }
            if random.below(2) == 0 {
                lines.push((*random.pick(mentions)).to_owned());
            }
            let dpi = spec.dpi.0 + random.below((spec.dpi.1 - spec.dpi.0 + 1) as usize) as u32;
            let width = 8.27 * f64::from(dpi);
            let shift = spec.max_perspective * width;
            let mut corner = || (random.uniform(0.0, shift), random.uniform(0.0, shift));
            let corners = [corner(), corner(), corner(), corner()];
            let photo = Photo {
                dpi,
                angle: random.uniform(-spec.max_rotation, spec.max_rotation),
                corners,
                light: random.uniform(spec.min_light, 1.0),
                quality: spec.jpeg_quality.0
                    + random.below((spec.jpeg_quality.1 - spec.jpeg_quality.0 + 1) as usize) as u32,
                noise_seed: random.next() % 1_000_000,
            };
            let page = PageSpec {
                name: format!("page-{index:03}"),
                lines,
                marking_line,
                marking_right,
                font,
                font_size: 14 + random.below(5) as u32,
                level,
                marking,
            };
            (page, photo)
        })
        .collect()
}

fn fodt(page: &PageSpec) -> String {
    let mut body = String::new();
    for (index, line) in page.lines.iter().enumerate() {
        let style = if Some(index) == page.marking_line && page.marking_right {
            "Right"
        } else {
            "Body"
        };
        body.push_str(&format!(
            "<text:p text:style-name=\"{style}\">{line}</text:p>\n"
        ));
    }
    let (font, size) = (page.font, page.font_size);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.text">
<office:automatic-styles>
<style:style style:name="Body" style:family="paragraph">
<style:text-properties fo:font-size="{size}pt" style:font-name-asian="{font}"/>
</style:style>
<style:style style:name="Right" style:family="paragraph">
<style:paragraph-properties fo:text-align="end"/>
<style:text-properties fo:font-size="{size}pt" style:font-name-asian="{font}"/>
</style:style>
</office:automatic-styles>
<office:body><office:text>
{body}</office:text></office:body></office:document>
"#
    )
}

pub fn run(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("{command:?} does not run ({e}); see scripts/deps.sh test"));
    assert!(status.success(), "{command:?} failed: {status}");
}

/// A page ready to be read: its spec and the photo's path.
pub struct Trial {
    pub page: PageSpec,
    pub photo: Photo,
    pub path: PathBuf,
}

/// Render every page (one LibreOffice start for all) and photograph each.
pub fn make_trials(dir: &Path, spec: &SetSpec) -> Vec<Trial> {
    let pages = pages(spec);
    let mut sources = Vec::new();
    for (page, _) in &pages {
        let path = dir.join(format!("{}.fodt", page.name));
        std::fs::write(&path, fodt(page)).expect("write fodt");
        sources.push(path);
    }
    for chunk in sources.chunks(50) {
        run(Command::new("soffice")
            .args(["--headless", "--convert-to", "pdf", "--outdir"])
            .arg(dir)
            .args(chunk)
            .env("HOME", dir));
    }
    pages
        .into_iter()
        .map(|(page, photo)| {
            let stem = dir.join(&page.name);
            run(Command::new("pdftoppm")
                .args(["-r", &photo.dpi.to_string(), "-png", "-singlefile"])
                .args(["-f", "1", "-l", "1"])
                .arg(stem.with_extension("pdf"))
                .arg(&stem));
            let rendered = stem.with_extension("png");
            let (width, height) = image::image_dimensions(&rendered).expect("rendered page");
            let (w, h) = (f64::from(width - 1), f64::from(height - 1));
            let [tl, tr, bl, br] = photo.corners;
            let perspective = format!(
                "0,0 {:.1},{:.1}  {w},0 {:.1},{:.1}  0,{h} {:.1},{:.1}  {w},{h} {:.1},{:.1}",
                tl.0,
                tl.1,
                w - tr.0,
                tr.1,
                bl.0,
                h - bl.1,
                w - br.0,
                h - br.1
            );
            // Light falls off from one corner to the opposite one.
            let gray = (photo.light * 100.0).round();
            let light = if photo.noise_seed % 2 == 0 {
                format!("0,0 gray(100%) {w},{h} gray({gray}%)")
            } else {
                format!("{w},0 gray(100%) 0,{h} gray({gray}%)")
            };
            let path = stem.with_extension("jpg");
            run(Command::new("convert")
                .arg(&rendered)
                .args(["-seed", &photo.noise_seed.to_string()])
                .args(["-background", "white", "-virtual-pixel", "white"])
                .args(["-distort", "Perspective", &perspective])
                .args(["-rotate", &format!("{:.2}", photo.angle)])
                .args(["(", "+clone", "-sparse-color", "Barycentric", &light, ")"])
                .args(["-compose", "Multiply", "-composite"])
                .args(["-attenuate", "0.3", "+noise", "Gaussian"])
                .args([
                    "-density",
                    &photo.dpi.to_string(),
                    "-units",
                    "PixelsPerInch",
                ])
                .args(["-quality", &photo.quality.to_string()])
                .arg(&path));
            std::fs::remove_file(&rendered).ok();
            Trial { page, photo, path }
        })
        .collect()
}

/// Marking levels the real detector finds in the OCR parts of one file, and the OCR text.
pub fn ocr_levels(path: &Path) -> (Vec<Level>, String) {
    let name = path.file_name().and_then(|n| n.to_str()).expect("name");
    let mut sink = Collect::default();
    extract(
        Blob::from_path(path).expect("open trial"),
        name,
        &Limits::default(),
        &mut sink,
    );
    let mut levels = Vec::new();
    let mut text = String::new();
    for part in sink.parts.iter().filter(|p| p.path.ends_with("#ocr")) {
        let norm = Normalizer::new().normalize(&part.text);
        let view = PartView {
            path: &part.path,
            role: part.role,
            original: &part.text,
            norm: &norm,
            first_line: part.first_line,
        };
        let mut found = Vec::new();
        MarkingDetector::new().detect(&view, &mut found);
        levels.extend(
            found
                .into_iter()
                .filter(|f| f.kind == FindingKind::Marking)
                .filter_map(|f| f.level),
        );
        text.push_str(&part.text);
    }
    (levels, text)
}

/// What reading a set gave.
pub struct Outcome {
    pub marked: usize,
    pub found: usize,
    pub unmarked: usize,
    pub false_markings: usize,
    pub failures: Vec<String>,
    pub ocr_seconds: f64,
    pub workers: usize,
}

impl Outcome {
    pub fn recall(&self) -> f64 {
        self.found as f64 / self.marked.max(1) as f64
    }

    /// Pages per second and core: the OCR time only (not rendering), per worker.
    pub fn pages_per_core_second(&self) -> f64 {
        (self.marked + self.unmarked) as f64 / (self.ocr_seconds * self.workers as f64)
    }
}

/// Read every trial with `workers` threads (`OCR_TRIALS_WORKERS`, default 2: the machine
/// has two cores) and check each against its spec.
pub fn read_trials(trials: &[Trial]) -> Outcome {
    let workers: usize = std::env::var("OCR_TRIALS_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    let failures = Mutex::new(Vec::new());
    let tallies = Mutex::new((0usize, 0usize));
    let next = Mutex::new(0usize);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = {
                        let mut next = next.lock().expect("lock");
                        *next += 1;
                        *next - 1
                    };
                    let Some(trial) = trials.get(index) else {
                        break;
                    };
                    let (levels, text) = ocr_levels(&trial.path);
                    let head: String = text
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .take(4)
                        .collect::<Vec<_>>()
                        .join(" / ");
                    let ok = match trial.page.level {
                        Some(level) => levels.contains(&level),
                        None => levels.is_empty(),
                    };
                    let mut tallies = tallies.lock().expect("lock");
                    if ok && trial.page.level.is_some() {
                        tallies.0 += 1;
                    } else if !ok && trial.page.level.is_none() {
                        tallies.1 += 1;
                    }
                    if !ok {
                        let p = &trial.photo;
                        failures.lock().expect("lock").push(format!(
                            "{} [{}, {}pt, {} dpi, {:+.2}°, light {:.2}, q{}] {}: expected {:?}, found {:?}; text: {}",
                            trial.page.name,
                            trial.page.font,
                            trial.page.font_size,
                            p.dpi,
                            p.angle,
                            p.light,
                            p.quality,
                            if trial.page.marking.is_empty() { "unmarked" } else { &trial.page.marking },
                            trial.page.level,
                            levels,
                            head
                        ));
                    }
                }
            });
        }
    });
    let ocr_seconds = started.elapsed().as_secs_f64();
    let (found, false_markings) = tallies.into_inner().expect("lock");
    let marked = trials.iter().filter(|t| t.page.level.is_some()).count();
    let mut failures = failures.into_inner().expect("lock");
    failures.sort();
    Outcome {
        marked,
        found,
        unmarked: trials.len() - marked,
        false_markings,
        failures,
        ocr_seconds,
        workers,
    }
}

/// Make the set in `OCR_TRIALS_KEEP` (kept for a look at the failures) or a temporary
/// directory, read it, print the failures and the figures.
pub fn run_set(label: &str, spec: &SetSpec) -> Outcome {
    if std::env::var_os("OMP_THREAD_LIMIT").is_none() {
        // libgomp reads it when loaded: only the command line can set it. Without it each
        // Tesseract call spawns threads that fight the workers and the pages/s mean nothing.
        eprintln!("{label}: OMP_THREAD_LIMIT is not set; run with OMP_THREAD_LIMIT=1");
    }
    let temp = tempfile::tempdir().expect("tempdir");
    let dir =
        std::env::var_os("OCR_TRIALS_KEEP").map_or_else(|| temp.path().to_owned(), PathBuf::from);
    std::fs::create_dir_all(&dir).expect("trial dir");
    let started = Instant::now();
    let trials = make_trials(&dir, spec);
    eprintln!(
        "{label}: {} pages made in {:.1} s",
        trials.len(),
        started.elapsed().as_secs_f64()
    );
    let outcome = read_trials(&trials);
    for failure in &outcome.failures {
        eprintln!("FAILED {failure}");
    }
    eprintln!(
        "{label}: marking found on {}/{} marked pages ({:.1} %), false markings on {}/{} unmarked pages; OCR {:.1} s with {} workers, {:.2} pages/s per core",
        outcome.found,
        outcome.marked,
        outcome.recall() * 100.0,
        outcome.false_markings,
        outcome.unmarked,
        outcome.ocr_seconds,
        outcome.workers,
        outcome.pages_per_core_second()
    );
    outcome
}
