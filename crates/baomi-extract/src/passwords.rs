//! The password bank: passwords the officers hold (the unit's standard ones, those
//! surrendered during an inspection), tried on encrypted containers and documents.
//!
//! A bank is a value in the extraction options ([`crate::Limits::passwords`]), shared by
//! every worker through an `Arc`. Its passwords are never logged, never put in a finding
//! and never shown by `Debug`: a finding names the password by its number in the bank
//! ("opened with bank password #3"), which only the holder of the file can map back.
//!
//! The file format (`baomi scan --passwords FILE`, `DATA_DIR/passwords.txt`,
//! `scan.passwords` of `baomi.toml`): UTF-8, one password per line, taken verbatim (spaces
//! included; only the line ending, `\n` or `\r\n`, and a leading byte-order mark are
//! removed). Lines that are empty or only white space are skipped. There is no comment
//! syntax: `#` is a common password character, so a line `#2024保密` is a password. Password
//! number N is the N-th password line of the file; a repeated line is tried once, under its
//! first number.

use std::fmt;
use std::io;
use std::path::Path;

use crate::Ctx;

/// Passwords to try, in file order.
#[derive(Clone, Default)]
pub struct PasswordBank {
    passwords: Vec<String>,
}

impl fmt::Debug for PasswordBank {
    // The passwords themselves never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordBank({} passwords)", self.passwords.len())
    }
}

impl PasswordBank {
    /// An empty bank: nothing is tried, findings read as they always did.
    pub fn empty() -> PasswordBank {
        PasswordBank::default()
    }

    /// The file's text as described in the module documentation.
    pub fn parse(text: &str) -> PasswordBank {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut passwords: Vec<String> = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            passwords.push(line.to_owned());
        }
        PasswordBank { passwords }
    }

    /// Read a bank file. Not UTF-8 is an error (a GBK file would give wrong passwords).
    pub fn load(path: &Path) -> io::Result<PasswordBank> {
        let bytes = std::fs::read(path)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "password file is not UTF-8 (save it as UTF-8)",
            )
        })?;
        Ok(PasswordBank::parse(&text))
    }

    /// Number of password lines.
    pub fn len(&self) -> usize {
        self.passwords.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passwords.is_empty()
    }

    /// `(number from 1, password)`, in file order, each distinct password once.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &str)> {
        self.passwords
            .iter()
            .enumerate()
            .filter(|(i, p)| !self.passwords[..*i].contains(p))
            .map(|(i, p)| (i + 1, p.as_str()))
    }
}

/// What trying the bank on one encrypted thing gave.
#[derive(Debug)]
pub enum Attempt<T> {
    /// The bank is empty: nothing was tried.
    NoBank,
    /// Password number `index` opened it.
    Opened { index: usize, value: T },
    /// None did: `tried` of the bank's `total` were tried (fewer when the time ran out).
    Failed { tried: usize, total: usize },
}

impl<T> Attempt<T> {
    /// What to add to the `encrypted` finding's reason: `, opened with bank password #3`,
    /// `, none of the 4 bank passwords opened it`, or nothing without a bank (a clause of
    /// its own, so `reason::zh` translates it).
    pub fn note(&self) -> String {
        match self {
            Attempt::NoBank => String::new(),
            Attempt::Opened { index, .. } => format!(", opened with bank password #{index}"),
            Attempt::Failed { tried, total } => failed_note(*tried, *total),
        }
    }

    pub fn opened(&self) -> Option<usize> {
        match self {
            Attempt::Opened { index, .. } => Some(*index),
            _ => None,
        }
    }
}

/// `, none of the N bank passwords opened it` (or how many were tried before the time
/// limit).
pub fn failed_note(tried: usize, total: usize) -> String {
    if tried < total {
        format!(
            ", none of the {tried} bank passwords tried (of {total}) opened it before the time limit"
        )
    } else if total == 1 {
        ", the one bank password did not open it".to_owned()
    } else {
        format!(", none of the {total} bank passwords opened it")
    }
}

impl Ctx<'_, '_> {
    /// The bank of this extraction.
    pub fn passwords(&self) -> &PasswordBank {
        &self.limits().passwords
    }

    /// Try each password of the bank with `open` until one gives `Some`, within the
    /// object's time limit (each try is checked against it before it starts; a slow key
    /// derivation is one try). `open` gets `cx` back so it may read through it.
    pub fn try_passwords<T>(
        &mut self,
        mut open: impl FnMut(&mut Ctx<'_, '_>, &str) -> Option<T>,
    ) -> Attempt<T> {
        let bank = std::sync::Arc::clone(&self.limits().passwords);
        if bank.is_empty() {
            return Attempt::NoBank;
        }
        let total = bank.iter().count();
        let mut tried = 0;
        for (index, password) in bank.iter() {
            if self.should_stop() {
                break;
            }
            tried += 1;
            if let Some(value) = open(self, password) {
                return Attempt::Opened { index, value };
            }
        }
        Attempt::Failed { tried, total }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_verbatim_blank_skipped_no_comments() {
        let bank =
            PasswordBank::parse("\u{feff}first\r\n\n   \n#2024保密\n with space \nfirst\nlast");
        let got: Vec<(usize, &str)> = bank.iter().collect();
        assert_eq!(
            got,
            [
                (1, "first"),
                (2, "#2024保密"),
                (3, " with space "),
                (5, "last")
            ]
        );
        assert_eq!(bank.len(), 5);
        assert_eq!(format!("{bank:?}"), "PasswordBank(5 passwords)");
    }

    #[test]
    fn notes() {
        let opened: Attempt<()> = Attempt::Opened {
            index: 3,
            value: (),
        };
        assert_eq!(opened.note(), ", opened with bank password #3");
        let failed: Attempt<()> = Attempt::Failed { tried: 4, total: 4 };
        assert_eq!(failed.note(), ", none of the 4 bank passwords opened it");
        assert_eq!(Attempt::<()>::NoBank.note(), "");
    }
}
