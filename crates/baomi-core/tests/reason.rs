//! Every reason the text detectors give reads in Chinese once translated: no English words
//! are left over (values such as codes and context words stay as they are).

use baomi_core::detect::marking::MarkingDetector;
use baomi_core::detect::pii::PiiDetector;
use baomi_core::detect::{Detector, PartView};
use baomi_core::normalise::Normalizer;
use baomi_core::{Finding, PartRole};

fn detect(text: &str, role: PartRole) -> Vec<Finding> {
    let norm = Normalizer::new().normalize(text);
    let part = PartView {
        path: "t.txt",
        role,
        original: text,
        norm: &norm,
        first_line: 1,
    };
    let mut out = Vec::new();
    MarkingDetector::new().detect(&part, &mut out);
    PiiDetector::new().detect(&part, &mut out);
    out
}

/// Latin words of three letters or more (what an untranslated clause looks like).
fn english_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 3)
        .map(str::to_owned)
        .collect()
}

#[test]
fn detector_reasons_translate_completely() {
    let body = "000123\n机密★10年\n关于做好保密工作的通知\n各科室：\n\
        联系人：张三，身份证号11010519491231002X，手机 138-0013-8000，电话 010-62345678，\
        银行卡 6222 0202 0000 0000 003，统一社会信用代码 91110000100000000X，\
        护照号 E12345678，车牌 京A12345，邮箱 zhang@example.gov.cn。\n\
        密级：秘密\n工作秘密\n";
    let mut findings = detect(body, PartRole::Body);
    findings.extend(detect("关于……的通知（机密）.docx", PartRole::Name));
    findings.extend(detect("【秘密】会议纪要", PartRole::Subject));
    findings.extend(detect("绝密", PartRole::HeaderFooter));
    // Mentions are findings too (weightless keywords) and read in Chinese as well.
    findings.extend(detect(
        "培训要点：首页应标注\"机密★8年\"等字样。\n例如：标注为绝密★长期的文件。\n样例：\n秘密★2年\n",
        PartRole::Body,
    ));
    assert!(findings.len() >= 8, "{findings:?}");
    let mut left = Vec::new();
    for f in &findings {
        let zh = baomi_core::reason::zh(&f.reason);
        let words = english_words(&zh);
        if !words.is_empty() {
            left.push(format!("{:?} → {zh}", f.reason));
        }
    }
    assert!(left.is_empty(), "reasons left in English: {left:#?}");
}

#[test]
fn extraction_reasons_translate() {
    for reason in [
        "nesting depth 9 > 8",
        "expanded bytes 2000000000 > 1073741824",
        "expansion ratio 500:1 > 200:1",
        "wall time > 60 s",
        "name says docx, content is zip",
        "no extension, content is pdf",
        "zip entry encrypted (AES)",
        "PDF encrypted (password required, no text extracted)",
        "image-only page, OCR found no text",
        // The password bank.
        "zip entry encrypted (ZipCrypto), opened with bank password #3",
        "7z archive with encrypted headers, none of the 4 bank passwords opened it",
        "RAR archive with encrypted headers, the one bank password did not open it",
        "RAR entry encrypted, none of the 3 bank passwords tried (of 200) opened it before the time limit",
        "PDF encrypted, opened with bank password #1, text extracted",
        "PDF encrypted (password required, no text extracted), none of the 2 bank passwords opened it",
        "password-protected Office document (EncryptionInfo), agile encryption, opened with bank password #2",
        "password-protected PowerPoint 97-2003 presentation (RC4 CryptoAPI), bank passwords are not tried on PowerPoint 97-2003 encryption",
        "password-protected Word 97-2003 document (RC4), opened with bank password #3",
    ] {
        let zh = baomi_core::reason::zh(reason);
        let words: Vec<String> = english_words(&zh)
            .into_iter()
            .filter(|w| {
                ![
                    "docx",
                    "zip",
                    "pdf",
                    "AES",
                    "PDF",
                    "OCR",
                    "ZipCrypto",
                    "RAR",
                    "Office",
                    "EncryptionInfo",
                    "Agile",
                    "Word",
                    "CryptoAPI",
                    "PowerPoint",
                    "Excel",
                ]
                .contains(&w.as_str())
            })
            .collect();
        assert!(words.is_empty(), "{reason} → {zh}");
    }
}
