//! Masking of personal data in logs and reports: enough stays visible for an officer to
//! recognise the item (`110105********002X`), not enough to use it.
use crate::FindingKind;

/// The text of a finding as it may be shown without `--show-values`.
pub fn mask(kind: FindingKind, text: &str) -> String {
    match kind {
        FindingKind::ResidentId => keep_ends(text, 6, 4),
        FindingKind::Mobile => {
            // Keep a +86/0086 prefix visible: the 11 national digits are what is masked.
            let n = significant(text);
            keep_ends(text, n.saturating_sub(11) + 3, 4)
        }
        FindingKind::BankCard => keep_ends(text, 6, 4),
        FindingKind::Uscc => keep_ends(text, 4, 4),
        FindingKind::Passport => keep_ends(text, 2, 2),
        // Province character (not ASCII, kept) and the city letter.
        FindingKind::Plate => keep_ends(text, 1, 0),
        FindingKind::Email => mask_email(text),
        FindingKind::Phone => {
            let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_digit).collect();
            let area = match digits.as_slice() {
                [b'0', b'1' | b'2', ..] => 3,
                [b'0', ..] => 4,
                _ => 0,
            };
            keep_ends(text, area, 2)
        }
        _ => text.to_owned(),
    }
}

/// ASCII letters and digits: the characters that carry the value. Separators and CJK
/// characters are shown as they are.
fn is_significant(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn significant(text: &str) -> usize {
    text.chars().filter(|&c| is_significant(c)).count()
}

/// Keep the first `first` and last `last` significant characters, star the others. A value
/// too short to keep both ends is starred completely.
fn keep_ends(text: &str, first: usize, last: usize) -> String {
    let n = significant(text);
    let (first, last) = if first + last >= n {
        (0, 0)
    } else {
        (first, last)
    };
    let mut seen = 0;
    text.chars()
        .map(|c| {
            if !is_significant(c) {
                return c;
            }
            seen += 1;
            if seen <= first || seen > n - last {
                c
            } else {
                '*'
            }
        })
        .collect()
}

fn mask_email(text: &str) -> String {
    match text.split_once('@') {
        Some((local, domain)) if !local.is_empty() => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        _ => "*".repeat(text.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id() {
        assert_eq!(
            mask(FindingKind::ResidentId, "11010519491231002X"),
            "110105********002X"
        );
        assert_eq!(
            mask(FindingKind::ResidentId, "110105 19491231 002X"),
            "110105 ******** 002X"
        );
    }

    #[test]
    fn mobile() {
        assert_eq!(mask(FindingKind::Mobile, "13812345678"), "138****5678");
        assert_eq!(
            mask(FindingKind::Mobile, "+86 138-1234-5678"),
            "+86 138-****-5678"
        );
    }

    #[test]
    fn bank_card_uscc_passport() {
        assert_eq!(
            mask(FindingKind::BankCard, "6222021234567890123"),
            "622202*********0123"
        );
        assert_eq!(
            mask(FindingKind::BankCard, "6222 0212 3456 7890"),
            "6222 02** **** 7890"
        );
        assert_eq!(
            mask(FindingKind::Uscc, "91350100M000100Y43"),
            "9135**********0Y43"
        );
        assert_eq!(mask(FindingKind::Passport, "E12345678"), "E1*****78");
    }

    #[test]
    fn plate_email_phone() {
        assert_eq!(mask(FindingKind::Plate, "京A12345"), "京A*****");
        assert_eq!(mask(FindingKind::Plate, "京AD12345"), "京A******");
        assert_eq!(
            mask(FindingKind::Email, "zhangsan@example.com"),
            "z***@example.com"
        );
        assert_eq!(mask(FindingKind::Phone, "010-12345678"), "010-******78");
        assert_eq!(mask(FindingKind::Phone, "0371-6512345"), "0371-*****45");
    }

    #[test]
    fn non_personal_kinds_unchanged() {
        assert_eq!(mask(FindingKind::Marking, "机密★10年"), "机密★10年");
        assert_eq!(mask(FindingKind::Keyword, "导弹"), "导弹");
    }

    #[test]
    fn too_short_is_fully_masked() {
        assert_eq!(mask(FindingKind::Passport, "E12"), "***");
    }
}
