//! True-type sniffing on real files: office documents made with LibreOffice, containers made
//! with zip and python3 zipfile, OLE containers written with the cfb crate; and the
//! `type_mismatch` finding a renamed file gets through `extract`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use baomi_core::{Finding, FindingKind, Part};
use baomi_extract::sniff::{compatible, declared_type, sniff};
use baomi_extract::{Blob, FileType, Limits, Sink, extract};

#[derive(Default)]
struct Collect {
    findings: Vec<Finding>,
}

impl Sink for Collect {
    fn part(&mut self, _part: Part) {}
    fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Convert `source` in `dir` to each format with LibreOffice (own profile, so parallel tests
/// and other users of soffice do not collide) and return the output paths.
fn soffice(dir: &Path, source: &str, formats: &[&str]) -> Vec<PathBuf> {
    let profile = format!("file://{}/lo-profile", dir.display());
    let stem = source.rsplit_once('.').map_or(source, |(s, _)| s);
    formats
        .iter()
        .map(|format| {
            sh(
                dir,
                &format!(
                    "soffice -env:UserInstallation={profile} --headless --convert-to {format} \
                     {source}"
                ),
            );
            let out = dir.join(format!("{stem}.{format}"));
            assert!(out.exists(), "soffice made no {format}");
            out
        })
        .collect()
}

fn sniff_path(path: &Path) -> FileType {
    sniff(&Blob::from_path(path).expect("file exists"))
}

fn mismatches(path: &Path, name: &str) -> Vec<String> {
    let mut sink = Collect::default();
    let blob = Blob::from_path(path).expect("file exists");
    extract(blob, name, &Limits::default(), &mut sink);
    sink.findings
        .into_iter()
        .filter(|f| f.kind == FindingKind::TypeMismatch)
        .map(|f| f.reason)
        .collect()
}

#[test]
fn writer_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.txt"), "机密★5年\n关于某事的通知\n").expect("write");
    let outs = soffice(
        dir.path(),
        "a.txt",
        &["docx", "odt", "doc", "pdf", "rtf", "html", "jpg", "png"],
    );
    let want = [
        FileType::Docx,
        FileType::Odt,
        FileType::Doc,
        FileType::Pdf,
        FileType::Rtf,
        FileType::Html,
        FileType::Jpeg,
        FileType::Png,
    ];
    for (out, want) in outs.iter().zip(want) {
        assert_eq!(sniff_path(out), want, "{}", out.display());
        // The honest name fits the content.
        let name = out.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert_eq!(declared_type(name), Some(want));
        assert!(mismatches(out, name).is_empty(), "{name}");
    }
    assert_eq!(sniff_path(&dir.path().join("a.txt")), FileType::Text);
}

#[test]
fn calc_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("t.csv"),
        "姓名,身份证号\n张三,11010519491231002X\n",
    )
    .expect("write");
    let outs = soffice(dir.path(), "t.csv", &["xlsx", "ods", "xls"]);
    for (out, want) in outs
        .iter()
        .zip([FileType::Xlsx, FileType::Ods, FileType::Xls])
    {
        assert_eq!(sniff_path(out), want, "{}", out.display());
    }
    assert_eq!(sniff_path(&dir.path().join("t.csv")), FileType::Text);
}

#[test]
fn impress_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A minimal flat ODF presentation for LibreOffice to convert from.
    fs::write(
        dir.path().join("p.fodp"),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
 office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.presentation">
<office:body><office:presentation><draw:page draw:name="p1">
<draw:frame svg:x="1cm" svg:y="1cm" svg:width="10cm" svg:height="2cm"><draw:text-box>
<text:p>机密</text:p></draw:text-box></draw:frame></draw:page></office:presentation>
</office:body></office:document>
"#,
    )
    .expect("write");
    let outs = soffice(dir.path(), "p.fodp", &["pptx", "odp", "ppt"]);
    for (out, want) in outs
        .iter()
        .zip([FileType::Pptx, FileType::Odp, FileType::Ppt])
    {
        assert_eq!(sniff_path(out), want, "{}", out.display());
    }
    // A flat ODF file is XML.
    assert_eq!(sniff_path(&dir.path().join("p.fodp")), FileType::Xml);
}

#[test]
fn ofd_jar_and_plain_zip() {
    let dir = tempfile::tempdir().expect("tempdir");
    sh(
        dir.path(),
        r#"python3 - <<'EOF'
import zipfile
with zipfile.ZipFile('doc.ofd', 'w') as z:
    z.writestr('OFD.xml', '<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>')
    z.writestr('Doc_0/Document.xml', '<ofd:Document/>')
with zipfile.ZipFile('app.jar', 'w') as z:
    z.writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\n')
with zipfile.ZipFile('plain.zip', 'w') as z:
    z.writestr('readme.txt', 'hello')
EOF"#,
    );
    assert_eq!(sniff_path(&dir.path().join("doc.ofd")), FileType::Ofd);
    assert_eq!(sniff_path(&dir.path().join("app.jar")), FileType::Zip);
    assert_eq!(sniff_path(&dir.path().join("plain.zip")), FileType::Zip);
    // A jar is a zip under a name of its own: not a renamed archive.
    assert!(mismatches(&dir.path().join("app.jar"), "app.jar").is_empty());
    // A zip with its extension removed is.
    assert_eq!(
        mismatches(&dir.path().join("plain.zip"), "plain"),
        ["no extension, content is zip"]
    );
}

/// An OLE compound file holding the named (empty-ish) streams, written with the cfb crate.
fn write_cfb(path: &Path, streams: &[&str]) {
    let mut file = cfb::create(path).expect("create cfb");
    for name in streams {
        let mut stream = file.create_stream(format!("/{name}")).expect("stream");
        stream.write_all(&[0u8; 64]).expect("write stream");
    }
    file.flush().expect("flush");
}

#[test]
fn ole_subtypes_from_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &[&str], FileType); 5] = [
        (
            "enc.docx",
            &["EncryptionInfo", "EncryptedPackage"],
            FileType::EncryptedOoxml,
        ),
        ("w.doc", &["WordDocument", "1Table"], FileType::Doc),
        ("b.xls", &["Workbook"], FileType::Xls),
        ("m.msg", &["__substg1.0_0037001F"], FileType::Msg),
        ("o.bin", &["SomethingElse"], FileType::Ole),
    ];
    for (name, streams, want) in cases {
        let path = dir.path().join(name);
        write_cfb(&path, streams);
        assert_eq!(sniff_path(&path), want, "{name}");
    }
    // A password-protected .docx is honestly named.
    assert!(mismatches(&dir.path().join("enc.docx"), "enc.docx").is_empty());
    // A WPS name on a Word binary is fine too.
    assert!(mismatches(&dir.path().join("w.doc"), "报告.wps").is_empty());
}

#[test]
fn renamed_files_are_type_mismatches() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.txt"), "机密\n").expect("write");
    let outs = soffice(dir.path(), "a.txt", &["docx", "jpg"]);
    let (docx, jpg) = (&outs[0], &outs[1]);
    assert_eq!(
        mismatches(docx, "holiday.jpg"),
        ["name says jpeg, content is docx"]
    );
    assert_eq!(
        mismatches(jpg, "report.docx"),
        ["name says docx, content is jpeg"]
    );
    assert!(!compatible(FileType::Jpeg, FileType::Docx));
    assert!(!compatible(FileType::Docx, FileType::Jpeg));
}

/// A generic extension (`.dat`, `.tmp`, a number) on an archive or a document is the same
/// disguise as `.jpg`; Office's own save copies (`~WRL0001.tmp`) and text under `.dat` are not.
#[test]
fn generic_extensions_hide_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("b.txt"), "机密\n").expect("write");
    fs::write(dir.path().join("t.csv"), "名称,数量\n甲,1\n").expect("write");
    let docx = soffice(dir.path(), "b.txt", &["docx"]).remove(0);
    let xlsx = soffice(dir.path(), "t.csv", &["xlsx"]).remove(0);
    sh(dir.path(), "zip -q arch.zip b.txt");
    let zip = dir.path().join("arch.zip");
    assert_eq!(
        mismatches(&zip, "temp_0042.dat"),
        ["name says .dat (no type), content is zip"]
    );
    assert_eq!(
        mismatches(&xlsx, "备份_0815.tmp"),
        ["name says .tmp (no type), content is xlsx"]
    );
    assert_eq!(
        mismatches(&docx, "报告.001"),
        ["name says .001 (no type), content is docx"]
    );
    assert_eq!(
        mismatches(&docx, "cache.BIN"),
        ["name says .BIN (no type), content is docx"]
    );
    // Normal: Word's save copy, text under a generic name, a zip-based format of its own.
    assert!(mismatches(&docx, "~WRL0001.tmp").is_empty());
    assert!(mismatches(&dir.path().join("b.txt"), "notes.dat").is_empty());
    assert!(mismatches(&zip, "plugin.jar").is_empty());
}

#[test]
fn text_family_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs::write(d.join("u8.txt"), "秘密资料 ".repeat(5000)).expect("write");
    sh(
        d,
        "iconv -f UTF-8 -t GB18030 u8.txt > gb.txt && iconv -f UTF-8 -t UTF-16LE u8.txt > u16.txt",
    );
    fs::write(
        d.join("m.eml"),
        "Return-Path: <a@b.cn>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=GBK\r\n\
         \r\nbody\r\n",
    )
    .expect("write");
    fs::write(d.join("empty.txt"), "").expect("write");
    for (file, want) in [
        ("u8.txt", FileType::Text),
        ("gb.txt", FileType::Text),
        ("u16.txt", FileType::Text),
        ("m.eml", FileType::Eml),
        ("empty.txt", FileType::Empty),
    ] {
        assert_eq!(sniff_path(&d.join(file)), want, "{file}");
    }
    // Mail saved as .txt is still honestly named.
    assert!(mismatches(&d.join("m.eml"), "mail.txt").is_empty());
}
