//! Legacy Office (.doc/.xls/.ppt, WPS .wps/.et/.dps) and Outlook .msg.
//!
//! The Office files are made at test time by LibreOffice from the flat ODF sources in
//! tests/fixtures/legacy. The .msg is hand-made here with the `cfb` crate following the
//! MS-OXMSG stream names (no tool here writes .msg files).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use baomi_core::{Finding, FindingKind, PartRole};
use baomi_extract::{Blob, Limits, extract};

mod common;
use common::Collect;

impl Collect {
    fn describe(&self) -> String {
        let mut s = String::new();
        for p in &self.parts {
            s.push_str(&format!("part {:?} {} = {:?}\n", p.role, p.path, p.text));
        }
        for f in &self.findings {
            s.push_str(&format!("finding {:?} {} : {}\n", f.kind, f.part, f.reason));
        }
        s
    }

    /// Text of the parts with `role` whose path ends with `suffix`, joined.
    fn text(&self, role: PartRole, suffix: &str) -> String {
        self.parts
            .iter()
            .filter(|p| p.role == role && p.path.ends_with(suffix))
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn of_kind(&self, kind: FindingKind) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.kind == kind).collect()
    }

    fn assert_clean(&self) {
        let dump = self.describe();
        for kind in [
            FindingKind::Unreadable,
            FindingKind::TypeMismatch,
            FindingKind::Encrypted,
        ] {
            assert!(
                self.of_kind(kind).is_empty(),
                "unexpected {kind:?}:\n{dump}"
            );
        }
        assert!(!dump.contains("not supported yet"), "{dump}");
    }
}

fn run(bytes: Vec<u8>, name: &str) -> Collect {
    let mut sink = Collect::default();
    extract(Blob::from_vec(bytes), name, &Limits::default(), &mut sink);
    sink
}

/// LibreOffice conversions of the fixtures, made once per test run with a private profile.
fn office_fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("baomi-legacy-fixtures-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy");
        let profile = format!("-env:UserInstallation=file://{}/profile", dir.display());
        let password = r#"{"Password":{"type":"string","value":"secret"}}"#;
        for (source, filter, out_dir) in [
            ("report.fodt", "doc".to_owned(), "plain"),
            ("staff.fods", "xls".to_owned(), "plain"),
            ("deck.fodp", "ppt".to_owned(), "plain"),
            (
                "report.fodt",
                format!("doc:MS Word 97:{password}"),
                "locked",
            ),
            (
                "staff.fods",
                format!("xls:MS Excel 97:{password}"),
                "locked",
            ),
        ] {
            let out = dir.join(out_dir);
            let output = Command::new("soffice")
                .arg(&profile)
                .args(["--headless", "--convert-to", &filter, "--outdir"])
                .arg(&out)
                .arg(sources.join(source))
                .output()
                .expect("soffice (LibreOffice) must be installed to make the fixtures");
            let stem = source.split('.').next().unwrap_or(source);
            let ext = filter.split(':').next().unwrap_or(&filter);
            let made = out.join(format!("{stem}.{ext}"));
            assert!(
                made.exists(),
                "soffice did not make {}: {}",
                made.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let _ = std::fs::remove_dir_all(dir.join("profile"));
        dir
    })
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(office_fixtures().join(name)).expect("fixture")
}

#[test]
fn doc_body_header_and_summary() {
    let out = run(fixture("plain/report.doc"), "report.doc");
    let dump = out.describe();
    out.assert_clean();
    let body = out.text(PartRole::Body, "report.doc");
    assert!(
        body.contains("第一段：项目预算说明。\n第二段：联系人张三。"),
        "paragraphs split by \\n:\n{dump}"
    );
    assert!(!body.contains('\r'), "{dump}");
    let header = out.text(PartRole::HeaderFooter, "headers-footers");
    assert!(header.contains("机密★10年"), "header role:\n{dump}");
    assert!(!body.contains("机密★10年"), "header not in body:\n{dump}");
    assert_eq!(
        out.text(PartRole::Subject, "SummaryInformation#title"),
        "年度预算报告",
        "{dump}"
    );
    let meta = out.text(PartRole::Metadata, "SummaryInformation");
    assert!(meta.contains("李四"), "{dump}");
}

#[test]
fn xls_one_part_per_sheet_and_long_digits_intact() {
    let out = run(fixture("plain/staff.xls"), "staff.xls");
    let dump = out.describe();
    out.assert_clean();
    let staff = out.text(PartRole::Body, "staff.xls/人员名单");
    assert!(
        staff.contains("王五\t110101199003077777\t123456789012"),
        "{dump}"
    );
    assert!(!staff.contains("E+"), "{dump}");
    assert!(
        out.text(PartRole::Body, "staff.xls/汇总")
            .contains("合计三人"),
        "{dump}"
    );
}

#[test]
fn ppt_slide_text() {
    let out = run(fixture("plain/deck.ppt"), "deck.ppt");
    let dump = out.describe();
    out.assert_clean();
    assert!(
        out.text(PartRole::Body, "deck.ppt/slide 1")
            .contains("第一张幻灯片：保密工作会议"),
        "{dump}"
    );
    assert!(
        out.text(PartRole::Body, "deck.ppt/slide 2")
            .contains("第二张：涉密载体管理"),
        "{dump}"
    );
}

#[test]
fn wps_names_read_as_their_office_twins() {
    for (source, name, expected) in [
        ("plain/report.doc", "报告.wps", "第二段：联系人张三。"),
        ("plain/staff.xls", "名单.et", "110101199003077777"),
        ("plain/deck.ppt", "会议.dps", "涉密载体管理"),
    ] {
        let out = run(fixture(source), name);
        let dump = out.describe();
        out.assert_clean();
        assert!(
            out.parts
                .iter()
                .any(|p| p.role == PartRole::Body && p.text.contains(expected)),
            "{name}:\n{dump}"
        );
    }
}

#[test]
fn truncated_files_are_unreadable_not_panics() {
    for (source, name) in [
        ("plain/report.doc", "report.doc"),
        ("plain/staff.xls", "staff.xls"),
        ("plain/deck.ppt", "deck.ppt"),
    ] {
        let whole = fixture(source);
        for keep in [600, whole.len() / 2] {
            let out = run(whole[..keep].to_vec(), name);
            let dump = out.describe();
            assert!(
                !out.of_kind(FindingKind::Unreadable).is_empty(),
                "{name} cut at {keep}:\n{dump}"
            );
            assert!(!dump.contains("panicked"), "{dump}");
        }
    }
}

/// An OLE compound file with the given streams (paths like `/WordDocument`), made with `cfb`.
fn compound_file(streams: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut file = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).expect("cfb");
    for (path, data) in streams {
        if let Some((dir, _)) = path.rsplit_once('/')
            && !dir.is_empty()
        {
            file.create_storage_all(dir).expect("storage");
        }
        let mut stream = file.create_stream(path).expect("stream");
        stream.write_all(data).expect("write");
    }
    file.flush().expect("flush");
    file.into_inner().into_inner()
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

// LibreOffice 7.4 headless ignores a "Password" filter option for the binary filters (the
// output is not encrypted) and macros could not be run headless here, so the encrypted
// files are hand-made to the specs: the FIB and FILEPASS bits are what Word and Excel write.

#[test]
fn encrypted_doc_fib_flag_is_an_encrypted_finding() {
    let mut fib = fixture("plain/report.doc");
    // Take the real FIB of the LibreOffice .doc and set fEncrypted, as Word does.
    let word = {
        let mut file = cfb::CompoundFile::open(std::io::Cursor::new(std::mem::take(&mut fib)))
            .expect("real doc opens");
        let mut stream = file.open_stream("/WordDocument").expect("WordDocument");
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut data).expect("read");
        data
    };
    let mut word = word;
    word[0x0B] |= 0x01; // fEncrypted (bit 8 of the flags word at 0x0A)
    word[0x0B] |= 0x02; // fWhichTblStm: the header is in 1Table
    // EncryptionVersionInfo 4.2 = RC4 CryptoAPI, then junk the reader never decrypts.
    let mut table = vec![4, 0, 2, 0];
    table.extend_from_slice(&[0u8; 64]);
    let bytes = compound_file(&[("/WordDocument", word), ("/1Table", table)]);
    let out = run(bytes, "locked.doc");
    let dump = out.describe();
    let encrypted = out.of_kind(FindingKind::Encrypted);
    assert_eq!(encrypted.len(), 1, "{dump}");
    assert_eq!(
        encrypted[0].reason, "password-protected Word 97-2003 document (RC4 CryptoAPI)",
        "{dump}"
    );
    assert!(!out.parts.iter().any(|p| p.text.contains("张三")), "{dump}");
}

#[test]
fn encrypted_xls_filepass_is_an_encrypted_finding() {
    let mut workbook = Vec::new();
    let mut record = |kind: u16, body: &[u8]| {
        workbook.extend_from_slice(&kind.to_le_bytes());
        workbook.extend_from_slice(&(body.len() as u16).to_le_bytes());
        workbook.extend_from_slice(body);
    };
    record(0x0809, &[0, 6, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // BOF, globals
    let mut filepass = vec![1, 0, 1, 0, 1, 0]; // RC4, EncryptionVersionInfo 1.1
    filepass.extend_from_slice(&[0u8; 48]);
    record(0x002F, &filepass);
    record(0x000A, &[]); // EOF
    let out = run(compound_file(&[("/Workbook", workbook)]), "locked.et");
    let dump = out.describe();
    let encrypted = out.of_kind(FindingKind::Encrypted);
    assert_eq!(encrypted.len(), 1, "{dump}");
    assert_eq!(
        encrypted[0].reason, "password-protected Excel 97-2003 workbook (RC4)",
        "{dump}"
    );
    assert!(out.of_kind(FindingKind::TypeMismatch).is_empty(), "{dump}");
}

#[test]
fn unknown_ole_lists_its_streams() {
    let bytes = compound_file(&[("/VisioDocument", vec![1, 2, 3]), ("/Other", vec![4])]);
    let out = run(bytes, "drawing.bin");
    let dump = out.describe();
    let unreadable = out.of_kind(FindingKind::Unreadable);
    assert_eq!(unreadable.len(), 1, "{dump}");
    assert!(
        unreadable[0]
            .reason
            .starts_with("OLE document of unknown kind (streams: "),
        "{dump}"
    );
    assert!(unreadable[0].reason.contains("VisioDocument"), "{dump}");
}

/// A .msg hand-made to MS-OXMSG: subject, body and sender in Unicode streams, a recipient,
/// an 8-bit (code page 936) property, a file attachment and an attached message.
fn hand_made_msg() -> Vec<u8> {
    let mut props = vec![0u8; 32];
    // PR_MESSAGE_CODEPAGE (0x3FFD, PT_LONG) = 936
    props.extend_from_slice(&0x3FFD_0003u32.to_le_bytes());
    props.extend_from_slice(&6u32.to_le_bytes());
    props.extend_from_slice(&936u32.to_le_bytes());
    props.extend_from_slice(&0u32.to_le_bytes());
    let (gbk, _, _) = encoding_rs::GBK.encode("抄送：保密办公室");
    let inner_props = vec![0u8; 24];
    let attach = "/__attach_version1.0_#00000000";
    let forwarded = "/__attach_version1.0_#00000001";
    let inner = format!("{forwarded}/__substg1.0_3701000D");
    compound_file(&[
        ("/__properties_version1.0", props),
        ("/__substg1.0_0037001F", utf16("关于机密★10年文件的通知")),
        (
            "/__substg1.0_1000001F",
            utf16("各位同事：\r\n请查收附件。\r\n身份证号110101199003077777"),
        ),
        ("/__substg1.0_0C1A001F", utf16("张三")),
        ("/__substg1.0_0E04001E", gbk.into_owned()),
        (
            "/__recip_version1.0_#00000000/__substg1.0_3001001F",
            utf16("李四"),
        ),
        (
            "/__recip_version1.0_#00000000/__substg1.0_39FE001F",
            utf16("lisi@example.cn"),
        ),
        (
            &format!("{attach}/__substg1.0_3707001F"),
            utf16("附件说明.txt"),
        ),
        (
            &format!("{attach}/__substg1.0_37010102"),
            "附件正文：涉密载体清单".as_bytes().to_vec(),
        ),
        (
            &format!("{forwarded}/__substg1.0_3707001F"),
            utf16("转发的邮件"),
        ),
        (&format!("{inner}/__properties_version1.0"), inner_props),
        (&format!("{inner}/__substg1.0_0037001F"), utf16("内层主题")),
        (&format!("{inner}/__substg1.0_1000001F"), utf16("内层正文")),
    ])
}

#[test]
fn msg_subject_body_people_and_attachments() {
    let out = run(hand_made_msg(), "通知.msg");
    let dump = out.describe();
    out.assert_clean();
    assert_eq!(
        out.text(PartRole::Subject, "通知.msg/subject"),
        "关于机密★10年文件的通知",
        "{dump}"
    );
    assert_eq!(
        out.text(PartRole::Body, "通知.msg/body"),
        "各位同事：\n请查收附件。\n身份证号110101199003077777",
        "{dump}"
    );
    let people = out.text(PartRole::Metadata, "通知.msg/headers");
    for who in ["张三", "抄送：保密办公室", "李四", "lisi@example.cn"] {
        assert!(people.contains(who), "{who}:\n{dump}");
    }
    assert!(
        out.text(PartRole::Body, "通知.msg/附件说明.txt")
            .contains("附件正文：涉密载体清单"),
        "attachment opened as a child:\n{dump}"
    );
    assert_eq!(
        out.text(PartRole::Subject, "通知.msg/转发的邮件/subject"),
        "内层主题",
        "{dump}"
    );
    assert_eq!(
        out.text(PartRole::Body, "通知.msg/转发的邮件/body"),
        "内层正文",
        "{dump}"
    );
}

#[test]
fn truncated_msg_is_unreadable_not_a_panic() {
    let whole = hand_made_msg();
    let out = run(whole[..whole.len() / 2].to_vec(), "cut.msg");
    let dump = out.describe();
    assert!(!out.of_kind(FindingKind::Unreadable).is_empty(), "{dump}");
}

/// PR_RTF_COMPRESSED in the LZFu form: the first token is a reference to `{\rtf1\ansi` at the
/// start of the MS-OXRTFCP dictionary, the rest literals, then the end marker.
fn lzfu(rest: &[u8]) -> Vec<u8> {
    const PREBUF_LEN: u16 = 207;
    let mut body = Vec::new();
    let mut tokens: Vec<Option<u8>> = vec![None]; // None = the reference token
    tokens.extend(rest.iter().copied().map(Some));
    let mut write = PREBUF_LEN + 11;
    let mut chunks = tokens.chunks(8).peekable();
    let mut ended = false;
    while let Some(chunk) = chunks.next() {
        let mut control = 0u8;
        let mut payload = Vec::new();
        for (bit, token) in chunk.iter().enumerate() {
            match token {
                None => {
                    control |= 1 << bit;
                    payload.extend_from_slice(&((11 - 2) as u16).to_be_bytes()); // offset 0
                }
                Some(byte) => payload.push(*byte),
            }
        }
        if chunk.len() < 8 {
            control |= 1 << chunk.len();
            payload.extend_from_slice(&(write << 4).to_be_bytes());
            ended = true;
        }
        write += chunk.iter().filter(|t| t.is_some()).count() as u16;
        body.push(control);
        body.extend_from_slice(&payload);
        if chunks.peek().is_none() && !ended {
            body.push(1);
            body.extend_from_slice(&(write << 4).to_be_bytes());
        }
    }
    let raw_size = (11 + rest.len()) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&((body.len() + 12) as u32).to_le_bytes());
    out.extend_from_slice(&raw_size.to_le_bytes());
    out.extend_from_slice(b"LZFu");
    out.extend_from_slice(&0u32.to_le_bytes()); // CRC, not checked
    out.extend_from_slice(&body);
    out
}

#[test]
fn msg_with_only_a_compressed_rtf_body() {
    let rtf_rest = br"\deff0{\fonttbl{\f0 SimSun;}}\f0 \u26426?\u23494?\u9733?10\u24180? \par}";
    let bytes = compound_file(&[
        ("/__properties_version1.0", vec![0u8; 32]),
        ("/__substg1.0_0037001F", utf16("RTF 邮件")),
        ("/__substg1.0_10090102", lzfu(rtf_rest)),
    ]);
    let out = run(bytes, "rtf.msg");
    let dump = out.describe();
    out.assert_clean();
    assert!(
        out.text(PartRole::Body, "rtf.msg/body.rtf")
            .contains("机密★10年"),
        "{dump}"
    );
}

/// The hand-made .msg is the fuzz seed of the `msg` target:
/// `cargo test -p baomi-extract --test legacy -- --ignored write_fuzz_seed`.
#[test]
#[ignore = "writes fuzz/corpus/msg/hand-made.msg"]
fn write_fuzz_seed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/msg");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hand-made.msg"), hand_made_msg()).unwrap();
}
