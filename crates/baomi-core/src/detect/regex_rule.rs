//! Custom regex rules from the policy (`[[regex]]` tables), run on the normalised text.
use regex::{Regex, RegexBuilder};

use super::{Detector, PartView};
use crate::policy::RegexRule;
use crate::{Finding, FindingKind, Level};

/// Compiled program size limit per rule: generous for hand-written rules, small enough that
/// a pathological pattern in a policy cannot eat the server's memory.
const REGEX_SIZE_LIMIT: usize = 8 * 1024 * 1024;
const DFA_SIZE_LIMIT: usize = 8 * 1024 * 1024;

struct CompiledRule {
    name: String,
    regex: Regex,
    kind: FindingKind,
    level: Option<Level>,
    confidence: f32,
}

pub struct RegexDetector {
    rules: Vec<CompiledRule>,
}

/// Compile one rule; shared with the policy loader so a bad pattern fails at load time.
pub(crate) fn compile(rule: &RegexRule) -> Result<(Regex, FindingKind), String> {
    let kind = match rule.kind.as_deref() {
        None => FindingKind::Regex,
        Some(k) => FindingKind::parse(k)
            .ok_or_else(|| format!("regex rule {:?}: unknown kind {k:?}", rule.name))?,
    };
    if let Some(c) = rule.confidence
        && !(0.0..=1.0).contains(&c)
    {
        return Err(format!(
            "regex rule {:?}: confidence {c} is not within 0.0–1.0",
            rule.name
        ));
    }
    let regex = RegexBuilder::new(&rule.pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("regex rule {:?}: {e}", rule.name))?;
    Ok((regex, kind))
}

impl RegexDetector {
    pub fn new(rules: &[RegexRule]) -> Result<RegexDetector, String> {
        let rules = rules
            .iter()
            .map(|rule| {
                let (regex, kind) = compile(rule)?;
                Ok(CompiledRule {
                    name: rule.name.clone(),
                    regex,
                    kind,
                    level: rule.level,
                    confidence: rule.confidence.unwrap_or(0.8),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(RegexDetector { rules })
    }
}

impl Detector for RegexDetector {
    fn name(&self) -> &'static str {
        "regex"
    }

    fn detect(&self, part: &PartView<'_>, out: &mut Vec<Finding>) {
        let text = part.norm.text.as_str();
        for rule in &self.rules {
            for m in rule.regex.find_iter(text) {
                if m.is_empty() {
                    continue;
                }
                let (start, end) = part.norm.original_range(m.start(), m.end());
                if part.original.get(start..end).is_none() {
                    continue;
                }
                let mut finding = Finding::at(
                    rule.kind,
                    part.path,
                    part.original,
                    (start, end),
                    rule.confidence,
                    format!("rule {}", rule.name),
                )
                .with_value(m.as_str());
                finding.level = rule.level;
                finding.rule = Some(rule.name.clone());
                out.push(finding);
            }
        }
    }
}
