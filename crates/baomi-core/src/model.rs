//! The shared vocabulary: levels, finding kinds, findings, parts, actions, verdicts.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A classification level. State secrets (绝密, 机密, 秘密) rank above the markings that are
/// not state secrets but still must not leave (商业秘密, 工作秘密, 内部, 敏感).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Sensitive,
    Internal,
    WorkSecret,
    CommercialSecret,
    Confidential,
    Secret,
    TopSecret,
}

impl Level {
    pub const ALL: [Level; 7] = [
        Level::TopSecret,
        Level::Secret,
        Level::Confidential,
        Level::CommercialSecret,
        Level::WorkSecret,
        Level::Internal,
        Level::Sensitive,
    ];

    /// The contract name (`top_secret`, …) used in JSON, TOML and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::TopSecret => "top_secret",
            Level::Secret => "secret",
            Level::Confidential => "confidential",
            Level::CommercialSecret => "commercial_secret",
            Level::WorkSecret => "work_secret",
            Level::Internal => "internal",
            Level::Sensitive => "sensitive",
        }
    }

    /// The Chinese name an officer reads.
    pub fn zh(self) -> &'static str {
        match self {
            Level::TopSecret => "绝密",
            Level::Secret => "机密",
            Level::Confidential => "秘密",
            Level::CommercialSecret => "商业秘密",
            Level::WorkSecret => "工作秘密",
            Level::Internal => "内部",
            Level::Sensitive => "敏感",
        }
    }

    /// True for the three levels of state secrets.
    pub fn is_state_secret(self) -> bool {
        self >= Level::Confidential
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s || l.zh() == s)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about. The serialised names are part of the JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FindingKind {
    #[serde(rename = "marking")]
    Marking,
    #[serde(rename = "pii.resident_id")]
    ResidentId,
    #[serde(rename = "pii.mobile")]
    Mobile,
    #[serde(rename = "pii.phone")]
    Phone,
    #[serde(rename = "pii.bank_card")]
    BankCard,
    #[serde(rename = "pii.uscc")]
    Uscc,
    #[serde(rename = "pii.passport")]
    Passport,
    #[serde(rename = "pii.plate")]
    Plate,
    #[serde(rename = "pii.email")]
    Email,
    #[serde(rename = "keyword")]
    Keyword,
    #[serde(rename = "regex")]
    Regex,
    #[serde(rename = "fingerprint")]
    Fingerprint,
    #[serde(rename = "encrypted")]
    Encrypted,
    #[serde(rename = "type_mismatch")]
    TypeMismatch,
    #[serde(rename = "limit")]
    Limit,
    #[serde(rename = "unreadable")]
    Unreadable,
}

impl FindingKind {
    pub const ALL: [FindingKind; 16] = [
        FindingKind::Marking,
        FindingKind::ResidentId,
        FindingKind::Mobile,
        FindingKind::Phone,
        FindingKind::BankCard,
        FindingKind::Uscc,
        FindingKind::Passport,
        FindingKind::Plate,
        FindingKind::Email,
        FindingKind::Keyword,
        FindingKind::Regex,
        FindingKind::Fingerprint,
        FindingKind::Encrypted,
        FindingKind::TypeMismatch,
        FindingKind::Limit,
        FindingKind::Unreadable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Marking => "marking",
            FindingKind::ResidentId => "pii.resident_id",
            FindingKind::Mobile => "pii.mobile",
            FindingKind::Phone => "pii.phone",
            FindingKind::BankCard => "pii.bank_card",
            FindingKind::Uscc => "pii.uscc",
            FindingKind::Passport => "pii.passport",
            FindingKind::Plate => "pii.plate",
            FindingKind::Email => "pii.email",
            FindingKind::Keyword => "keyword",
            FindingKind::Regex => "regex",
            FindingKind::Fingerprint => "fingerprint",
            FindingKind::Encrypted => "encrypted",
            FindingKind::TypeMismatch => "type_mismatch",
            FindingKind::Limit => "limit",
            FindingKind::Unreadable => "unreadable",
        }
    }

    /// The Chinese label used in human and HTML reports.
    pub fn zh(self) -> &'static str {
        match self {
            FindingKind::Marking => "密级标志",
            FindingKind::ResidentId => "身份证号",
            FindingKind::Mobile => "手机号",
            FindingKind::Phone => "固定电话",
            FindingKind::BankCard => "银行卡号",
            FindingKind::Uscc => "统一社会信用代码",
            FindingKind::Passport => "护照/通行证",
            FindingKind::Plate => "车牌号",
            FindingKind::Email => "电子邮箱",
            FindingKind::Keyword => "关键词",
            FindingKind::Regex => "自定义规则",
            FindingKind::Fingerprint => "登记文件片段",
            FindingKind::Encrypted => "加密内容",
            FindingKind::TypeMismatch => "类型伪装",
            FindingKind::Limit => "超出检查限制",
            FindingKind::Unreadable => "无法读取",
        }
    }

    pub fn parse(s: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Personal data: masked in every output unless the user asks for values.
    pub fn is_personal_data(self) -> bool {
        self.as_str().starts_with("pii.")
    }

    /// Findings about the object itself rather than about its text.
    pub fn is_structural(self) -> bool {
        matches!(
            self,
            FindingKind::Encrypted
                | FindingKind::TypeMismatch
                | FindingKind::Limit
                | FindingKind::Unreadable
        )
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a text part sits in its document. Detectors use it: a level word in a page header
/// or a file name is a marking where the same word in the middle of prose is a mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartRole {
    /// Running text of a document, a mail body, a sheet's cells, a slide.
    Body,
    /// Page headers and footers (docx header/footer parts, ODF styles, PDF is body).
    HeaderFooter,
    /// A file name or archive entry name.
    Name,
    /// A mail subject or a document title.
    Subject,
    /// Document properties and other metadata (author, keywords, PDF Info, HTML meta).
    Metadata,
    /// Comments, footnotes, endnotes, notes pages, tracked deletions, hidden text.
    Annotation,
}

/// A piece of text found inside an object, with its origin.
#[derive(Debug, Clone)]
pub struct Part {
    /// Origin inside the container chain, e.g. `mail.eml/附件.zip/报告.docx/word/header1.xml`.
    pub path: String,
    pub role: PartRole,
    pub text: String,
    /// Line number of the first line of `text` within its source (1 for a whole part; more
    /// for the later chunks of a large plain-text file streamed in pieces).
    pub first_line: u32,
}

/// One thing found. Spans are byte offsets into the *original* text of the part, so evidence
/// highlights what the user actually wrote, not the normalised form.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// 0.0–1.0: how sure the detector is.
    pub confidence: f32,
    /// Origin path of the part (see [`Part::path`]).
    pub part: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The matched text as written in the original (unmasked; outputs mask personal data).
    pub text: String,
    /// Short reason a human understands: "★ and period", "密级 label", "checksum ok".
    pub reason: String,
    /// Byte range of `text` in the original part text.
    #[serde(skip)]
    pub span: Option<(usize, usize)>,
    /// Canonical value used to count distinct items (digits of an ID, a dictionary term).
    #[serde(skip)]
    pub value: Option<String>,
    /// Dictionary category or rule name, where it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Dictionary weight or other score contribution (1.0 when not meaningful); for an
    /// aggregated finding, the sum over its occurrences.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub weight: f64,
    /// Occurrences this finding stands for: dictionary hits are reported once per term and
    /// part, with the count, rather than once per occurrence.
    #[serde(default = "one_u32", skip_serializing_if = "is_one_u32")]
    pub count: u32,
    /// Share (0–1) of a registered document this finding covers (`fingerprint` findings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f32>,
}

fn one_u32() -> u32 {
    1
}
fn is_one_u32(n: &u32) -> bool {
    *n == 1
}

fn one() -> f64 {
    1.0
}
fn is_one(w: &f64) -> bool {
    *w == 1.0
}

impl Finding {
    /// A finding about the object rather than a span of text (encrypted, limit, …).
    pub fn structural(
        kind: FindingKind,
        part: impl Into<String>,
        reason: impl Into<String>,
    ) -> Finding {
        Finding {
            kind,
            level: None,
            confidence: 1.0,
            part: part.into(),
            line: None,
            text: String::new(),
            reason: reason.into(),
            span: None,
            value: None,
            rule: None,
            weight: 1.0,
            count: 1,
            coverage: None,
        }
    }

    /// A finding on a span of a part's original text.
    pub fn at(
        kind: FindingKind,
        part: &str,
        original: &str,
        span: (usize, usize),
        confidence: f32,
        reason: impl Into<String>,
    ) -> Finding {
        Finding {
            kind,
            level: None,
            confidence,
            part: part.to_owned(),
            line: None,
            text: original[span.0..span.1].to_owned(),
            reason: reason.into(),
            span: Some(span),
            value: None,
            rule: None,
            weight: 1.0,
            count: 1,
            coverage: None,
        }
    }

    pub fn with_level(mut self, level: Level) -> Finding {
        self.level = Some(level);
        self
    }

    pub fn with_value(mut self, value: impl Into<String>) -> Finding {
        self.value = Some(value.into());
        self
    }
}

/// What to do with an object. Ordered from weakest to strongest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    #[default]
    Allow,
    Audit,
    Alert,
    Quarantine,
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Audit => "audit",
            Action::Alert => "alert",
            Action::Quarantine => "quarantine",
            Action::Block => "block",
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            Action::Allow => "放行",
            Action::Audit => "审计",
            Action::Alert => "告警",
            Action::Quarantine => "隔离",
            Action::Block => "阻断",
        }
    }
    pub fn parse(s: &str) -> Option<Action> {
        [
            Action::Allow,
            Action::Audit,
            Action::Alert,
            Action::Quarantine,
            Action::Block,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    None,
    Low,
    Medium,
    High,
    Critical,
}

/// Where an object came from: policies can differ per door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Scan,
    Web,
    Mail,
    Api,
    /// The publication secrecy review: a text or file before it is published.
    Publish,
    /// A chat server's messages and uploads (the Matrix Synapse module calls the REST API
    /// with `channel=chat`).
    Chat,
    /// Files written to removable media on an office computer (`baomi agent`).
    Usb,
    /// Documents printed on an office computer (the CUPS backend of `baomi agent`).
    Print,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Scan => "scan",
            Channel::Web => "web",
            Channel::Mail => "mail",
            Channel::Api => "api",
            Channel::Publish => "publish",
            Channel::Chat => "chat",
            Channel::Usb => "usb",
            Channel::Print => "print",
        }
    }
}

/// The decision on one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Verdict {
    pub action: Action,
    pub severity: Severity,
    /// Names of the policy rules that matched, strongest first.
    pub rules: Vec<String>,
    /// Names of the policy's exceptions that lowered the action (every use is recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<String>,
}
