//! Registered documents end to end, on files made by real tools: a secret .docx is registered
//! with `register::prepare`; an excerpt with the marking removed, pasted into another .docx
//! (python-docx), zipped (`zip`) and attached to a mail (python's `email`), is recognised by
//! `Engine::inspect`; a renamed copy inside a zip is an identical file.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use baomi_core::fingerprint::{AllowSet, FingerprintIndex, RegisteredDoc};
use baomi_core::{Action, Channel, Finding, FindingKind, Level};
use baomi_engine::{Engine, EngineConfig, ObjectReport, register};
use baomi_extract::Blob;

const REGISTERED: &str = include_str!("../../baomi-core/tests/fingerprint/registered.txt");
const ORDINARY: &str = include_str!("../../baomi-core/tests/fingerprint/ordinary.txt");

/// (id, title, text) of the test's secret documents.
fn secret_docs() -> Vec<(String, String, String)> {
    REGISTERED
        .split('@')
        .filter(|s| !s.trim().is_empty())
        .map(|block| {
            let (head, text) = block.split_once('\n').unwrap();
            let f: Vec<&str> = head.split('|').collect();
            (f[0].to_owned(), f[1].to_owned(), text.to_owned())
        })
        .collect()
}

fn ordinary(i: usize) -> String {
    ORDINARY
        .split('@')
        .filter(|s| !s.trim().is_empty())
        .nth(i)
        .unwrap()
        .to_owned()
}

fn tool(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (install the test tools: scripts/deps.sh test)")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a Python script with the system python, which has python-docx (Debian
/// python3-docx, `scripts/deps.sh test`).
fn python(dir: &Path, script: &str) {
    let file = dir.join("make.py");
    std::fs::write(&file, script).unwrap();
    tool(Command::new("/usr/bin/python3").arg(&file).current_dir(dir));
}

/// A .docx with one paragraph per element of `paragraphs`.
fn docx(dir: &Path, name: &str, paragraphs: &[String]) -> PathBuf {
    let list = serde_json::to_string(paragraphs).unwrap();
    python(
        dir,
        &format!(
            "import docx, json\nd = docx.Document()\nfor p in json.loads({list:?}):\n    \
             d.add_paragraph(p)\nd.save({name:?})\n"
        ),
    );
    dir.join(name)
}

fn zip(dir: &Path, archive: &str, files: &[&str]) -> PathBuf {
    tool(
        Command::new("zip")
            .arg("-q")
            .arg(archive)
            .args(files)
            .current_dir(dir),
    );
    dir.join(archive)
}

/// A mail with `body` and `attachment` (a file in `dir`).
fn eml(dir: &Path, name: &str, body: &str, attachment: &str) -> PathBuf {
    python(
        dir,
        &format!(
            "from email.message import EmailMessage\nm = EmailMessage()\n\
             m['Subject'] = '材料汇编'\nm['From'] = 'a@example.cn'\nm['To'] = 'b@example.com'\n\
             m.set_content({body:?})\n\
             m.add_attachment(open({attachment:?}, 'rb').read(), maintype='application', \
             subtype='zip', filename={attachment:?})\n\
             open({name:?}, 'wb').write(bytes(m))\n"
        ),
    );
    dir.join(name)
}

fn fingerprints(r: &ObjectReport) -> Vec<&Finding> {
    r.findings
        .iter()
        .filter(|f| f.kind == FindingKind::Fingerprint)
        .collect()
}

struct Setup {
    dir: tempfile::TempDir,
    engine: Engine,
    doc: RegisteredDoc,
    secret_body: String,
}

/// Registers doc-002 (机密) from a .docx made with python-docx.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (id, title, text) = secret_docs().remove(1);
    let paragraphs: Vec<String> = text.lines().map(str::to_owned).collect();
    let path = docx(dir.path(), "secret.docx", &paragraphs);
    let plain = Engine::new(EngineConfig::default()).unwrap();
    let doc = register::prepare(
        &plain,
        Blob::from_path(&path).unwrap(),
        "关于联合反恐行动的方案.docx",
        &id,
        &title,
        Level::Secret,
    )
    .expect("a readable docx registers");
    let restored = RegisteredDoc::from_bytes(&doc.to_bytes()).unwrap();
    assert_eq!(restored, doc);
    let index = FingerprintIndex::build([restored], &AllowSet::builtin());
    let engine = Engine::new(EngineConfig {
        fingerprints: Some(Arc::new(index)),
        ..EngineConfig::default()
    })
    .unwrap();
    // The body without its marking line.
    let secret_body = paragraphs[1..].join("");
    Setup {
        dir,
        engine,
        doc,
        secret_body,
    }
}

#[test]
fn registration_covers_the_text_the_file_and_its_parts() {
    let s = setup();
    assert_eq!(s.doc.id, "doc-002");
    assert_eq!(s.doc.level, Level::Secret);
    assert!(s.doc.chars > 250, "{} characters", s.doc.chars);
    assert!(s.doc.file.is_some());
    // word/document.xml's text is an exact part; styles.xml and the like carry no text.
    assert!(!s.doc.exact.is_empty());
    assert!(s.doc.prints.len() as u32 > s.doc.chars / 10);

    // Nothing readable: a clear error, not an empty registration.
    let err = register::prepare(
        &s.engine,
        Blob::from_vec(b"\x89PNG\r\n\x1a\n not really".to_vec()),
        "x.png",
        "1",
        "t",
        Level::Secret,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("characters of readable text"),
        "{err}"
    );
}

#[test]
fn an_excerpt_in_a_docx_in_a_zip_in_a_mail_names_the_document() {
    let s = setup();
    let dir = s.dir.path();
    let excerpt: String = s.secret_body.chars().skip(20).take(300).collect();
    // Pasted as three paragraphs between unrelated text, marking removed.
    let thirds: Vec<String> = excerpt
        .chars()
        .collect::<Vec<_>>()
        .chunks(100)
        .map(|c| c.iter().collect())
        .collect();
    let mut paragraphs = vec!["二〇二五年工作资料汇编".to_owned(), ordinary(0)];
    paragraphs.extend(thirds);
    paragraphs.push(ordinary(1));
    docx(dir, "汇编.docx", &paragraphs);
    zip(dir, "附件.zip", &["汇编.docx"]);
    let mail = eml(dir, "send.eml", "请查收附件。", "附件.zip");

    let r = s
        .engine
        .inspect(Blob::from_path(&mail).unwrap(), "send.eml", Channel::Mail);
    let found = fingerprints(&r);
    assert_eq!(found.len(), 1, "{:#?}", r.findings);
    let f = found[0];
    assert_eq!(f.value.as_deref(), Some("doc-002"));
    assert_eq!(f.level, Some(Level::Secret));
    assert!(
        f.part.contains("附件.zip/汇编.docx/word/document.xml"),
        "{}",
        f.part
    );
    assert!(
        f.reason.contains("边境地区联合反恐行动实施方案"),
        "{}",
        f.reason
    );
    assert!(f.weight >= 250.0, "matched {}", f.weight);
    assert!(r.findings.iter().all(|f| f.kind != FindingKind::Marking));
    assert_eq!(r.verdict.action, Action::Block);
    assert!(r.verdict.rules.contains(&"registered-document".to_owned()));
    let json = r.to_json(false).to_string();
    assert!(json.contains("\"kind\":\"fingerprint\""), "{json}");
}

#[test]
fn an_excerpt_split_between_mail_body_and_attachment_adds_up() {
    let s = setup();
    let dir = s.dir.path();
    let excerpt: Vec<char> = s.secret_body.chars().skip(150).take(140).collect();
    let first: String = excerpt[..70].iter().collect();
    let second: String = excerpt[70..].iter().collect();
    docx(dir, "b.docx", &[ordinary(2), second]);
    zip(dir, "b.zip", &["b.docx"]);
    let mail = eml(
        dir,
        "split.eml",
        &format!("{}\n{first}", ordinary(3)),
        "b.zip",
    );
    let r = s
        .engine
        .inspect(Blob::from_path(&mail).unwrap(), "split.eml", Channel::Mail);
    let found = fingerprints(&r);
    assert_eq!(found.len(), 2, "{:#?}", r.findings);
    assert!(found.iter().all(|f| f.weight < 100.0), "{found:#?}");
    // Neither part alone reaches 100 characters; together they do.
    assert_eq!(r.verdict.action, Action::Block, "{:?}", r.verdict);
}

#[test]
fn a_renamed_copy_inside_a_zip_is_the_identical_file() {
    let s = setup();
    let dir = s.dir.path();
    std::fs::copy(dir.join("secret.docx"), dir.join("notes.dat")).unwrap();
    zip(dir, "材料.zip", &["notes.dat"]);
    let r = s.engine.inspect(
        Blob::from_path(dir.join("材料.zip")).unwrap(),
        "材料.zip",
        Channel::Web,
    );
    let found = fingerprints(&r);
    let file = found
        .iter()
        .find(|f| f.reason.starts_with("identical file"))
        .unwrap_or_else(|| panic!("{:#?}", r.findings));
    assert_eq!(file.part, "材料.zip/notes.dat");
    assert_eq!(file.coverage, Some(1.0));
    assert_eq!(file.value.as_deref(), Some("doc-002"));
    assert_eq!(r.verdict.action, Action::Block);
}

#[test]
fn unrelated_documents_do_not_match() {
    let s = setup();
    let dir = s.dir.path();
    let paragraphs: Vec<String> = (0..6).map(ordinary).collect();
    let path = docx(dir, "ordinary.docx", &paragraphs);
    let r = s.engine.inspect(
        Blob::from_path(&path).unwrap(),
        "ordinary.docx",
        Channel::Scan,
    );
    assert!(fingerprints(&r).is_empty(), "{:#?}", r.findings);
    // The allow corpus helper gives the text AllowSet::learn counts.
    let text = register::corpus_text(&s.engine, Blob::from_path(&path).unwrap(), "o.docx");
    assert!(text.contains("全民健身"), "{text}");
}
