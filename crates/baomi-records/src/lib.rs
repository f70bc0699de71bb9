//! The records secrecy work demands (DOMAIN.md §5), computed from what Baomi already holds
//! and rendered as the forms offices file:
//!
//! - [`statistics`]: 自查自纠情况统计表 — per department, from self-inspection runs, scan
//!   incidents, issued clue reports and the figures entered for a campaign; CSV here, XLSX in
//!   [`xlsx`], PDF in [`pdf`];
//! - [`coverage`]: a campaign's 不漏一人、一机 view — who and which machines reported, who has
//!   not (against the directory), what was found;
//! - [`clue`]: 违规问题线索和存在隐患报告表 — a draft proposed from incidents (category from
//!   the channel and the object), rendered as DOCX ([`docx`]) and PDF.
//!
//! - [`ledger`]: the carrier ledger (台账) imported from and exported to XLSX;
//! - [`review`]: 信息发布保密审查表, the publication review's signed form.
//! - [`commitments`]: 保密承诺书签署情况, the commitments' overview as XLSX and CSV.
//! - [`quiz`]: 保密知识测试 — a question bank read from XLSX, a quiz's results (per person,
//!   per department, who has not taken it) exported as XLSX.
//!
//! The store keeps the rows and the freeze-on-issue rule; this crate only reads and renders.

pub mod chat_members;
pub mod clue;
pub mod commitments;
pub mod coverage;
pub mod docx;
pub mod ledger;
pub mod pdf;
pub mod quiz;
pub mod review;
pub mod statistics;
pub mod xlsx;

pub use statistics::{COLUMNS, Scope, SelfInspectionTable, StatsRow, self_inspection};

/// A person of the directory, as the records need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub department: String,
    /// Machines registered to the person (`machines` in the directory), so a machine that
    /// never reported shows up as missing.
    pub machines: Vec<String>,
}

/// The row for runs and incidents that name no department.
pub const UNREGISTERED: &str = "（未登记部门）";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] baomi_store::StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("writing the document: {0}")]
    Io(#[from] std::io::Error),
    #[error("PDF: {0}")]
    Pdf(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// An output format of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    Pdf,
    Docx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "csv" => Format::Csv,
            "xlsx" => Format::Xlsx,
            "pdf" => Format::Pdf,
            "docx" => Format::Docx,
            _ => return None,
        })
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Pdf => "application/pdf",
            Format::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
        }
    }
}

/// The self-inspection table in one of its formats.
pub fn render_table(table: &SelfInspectionTable, format: Format) -> Result<Vec<u8>> {
    match format {
        Format::Csv => table.to_csv(),
        Format::Xlsx => xlsx::self_inspection(table),
        Format::Pdf => pdf::self_inspection(table),
        Format::Docx => Err(Error::Invalid(
            "the statistics table is made as csv, xlsx or pdf".into(),
        )),
    }
}
