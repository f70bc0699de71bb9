//! Policy: TOML rules mapping the findings of one object to a verdict.
//!
//! A rule matches when enough of the object's findings pass its filters (kinds, level,
//! confidence, category, channel) and together reach its thresholds (distinct values, summed
//! weight). The verdict is the strongest action among the matching rules. The shipped default
//! is `default-policy.toml`, which doubles as the documentation of the format.
use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::{Action, Channel, Finding, FindingKind, Level, Severity, Verdict};

/// The shipped default policy, documented in place.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../default-policy.toml");

/// A custom regex rule declared in the policy (`[[regex]]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegexRule {
    pub name: String,
    pub pattern: String,
    /// Level given to the findings (for rules that recognise a local marking style).
    #[serde(default)]
    pub level: Option<Level>,
    /// Confidence given to the findings (default 0.8).
    #[serde(default)]
    pub confidence: Option<f32>,
    /// Finding kind, a contract name (default `regex`).
    #[serde(default)]
    pub kind: Option<String>,
}

/// One `[[rule]]` of the policy.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    /// Finding kinds this rule looks at (contract names: `marking`, `pii.resident_id`, …).
    pub kinds: Vec<FindingKind>,
    /// Only findings with a level at or above this one.
    #[serde(default)]
    pub min_level: Option<Level>,
    /// Distinct values (a finding's canonical value, else its text) across the object.
    #[serde(default)]
    pub min_count: Option<usize>,
    /// Sum of the weights of all matching findings (every occurrence counts).
    #[serde(default)]
    pub min_score: Option<f64>,
    /// Share (0–1) of one registered document that the object's `fingerprint` findings
    /// cover together (summed per document, a finding's `value`).
    #[serde(default)]
    pub min_coverage: Option<f64>,
    /// Only findings at least this sure.
    #[serde(default)]
    pub min_confidence: Option<f32>,
    /// Only findings whose `rule` (dictionary category, regex rule name) is one of these.
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    /// Only on these channels (default: all).
    #[serde(default)]
    pub channels: Option<Vec<Channel>>,
    pub action: Action,
    #[serde(default)]
    pub severity: Severity,
}

impl Rule {
    fn accepts(&self, f: &Finding) -> bool {
        self.kinds.contains(&f.kind)
            && self
                .min_level
                .is_none_or(|min| f.level.is_some_and(|l| l >= min))
            && self.min_confidence.is_none_or(|c| f.confidence >= c)
            && self
                .categories
                .as_ref()
                .is_none_or(|cats| f.rule.as_ref().is_some_and(|r| cats.iter().any(|c| c == r)))
    }

    fn matches(&self, findings: &[Finding], channel: Channel) -> bool {
        if self
            .channels
            .as_ref()
            .is_some_and(|chs| !chs.contains(&channel))
        {
            return false;
        }
        let mut distinct: HashSet<(FindingKind, &str)> = HashSet::new();
        let mut score = 0.0;
        let mut coverage: HashMap<&str, f64> = HashMap::new();
        for f in findings.iter().filter(|f| self.accepts(f)) {
            let value = f.value.as_deref().unwrap_or(&f.text);
            distinct.insert((f.kind, value));
            score += f.weight;
            if let Some(c) = f.coverage {
                *coverage.entry(value).or_default() += c as f64;
            }
        }
        !distinct.is_empty()
            && distinct.len() >= self.min_count.unwrap_or(1)
            && self.min_score.is_none_or(|s| score >= s)
            && self
                .min_coverage
                .is_none_or(|min| coverage.values().any(|&c| c.min(1.0) >= min))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    alert_at: Option<Action>,
    #[serde(default)]
    rule: Vec<Rule>,
    #[serde(default)]
    regex: Vec<RegexRule>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub regex: Vec<RegexRule>,
    pub rules: Vec<Rule>,
    /// The weakest action that makes `baomi scan` exit 1.
    pub alert_at: Action,
}

impl Default for Policy {
    /// The shipped default policy (`default-policy.toml`). A test guarantees it parses.
    fn default() -> Policy {
        Policy::from_toml(DEFAULT_POLICY_TOML).expect("the shipped default policy is valid")
    }
}

impl Policy {
    pub fn from_toml(s: &str) -> Result<Policy, String> {
        let file: PolicyFile = toml::from_str(s).map_err(|e| e.to_string())?;
        let mut names = HashSet::new();
        for rule in &file.rule {
            if rule.name.trim().is_empty() {
                return Err("a [[rule]] has an empty name".into());
            }
            if !names.insert(rule.name.as_str()) {
                return Err(format!("rule {:?} is defined twice", rule.name));
            }
            if rule.kinds.is_empty() {
                return Err(format!("rule {:?}: `kinds` is empty", rule.name));
            }
            if let Some(c) = rule.min_confidence
                && !(0.0..=1.0).contains(&c)
            {
                return Err(format!(
                    "rule {:?}: min_confidence {c} is not within 0.0–1.0",
                    rule.name
                ));
            }
            if let Some(c) = rule.min_coverage
                && !(0.0..=1.0).contains(&c)
            {
                return Err(format!(
                    "rule {:?}: min_coverage {c} is not within 0.0–1.0",
                    rule.name
                ));
            }
            if rule.min_score.is_some_and(|s| !s.is_finite()) {
                return Err(format!("rule {:?}: min_score must be a number", rule.name));
            }
        }
        for r in &file.regex {
            crate::detect::regex_rule::compile(r)?;
        }
        Ok(Policy {
            regex: file.regex,
            rules: file.rule,
            alert_at: file.alert_at.unwrap_or(Action::Alert),
        })
    }

    pub fn evaluate(&self, findings: &[Finding], channel: Channel) -> Verdict {
        let mut matched: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.matches(findings, channel))
            .collect();
        // Strongest first; stable, so equal rules keep the order of the file.
        matched.sort_by_key(|r| std::cmp::Reverse((r.action, r.severity)));
        Verdict {
            action: matched.first().map_or(Action::Allow, |r| r.action),
            severity: matched.iter().map(|r| r.severity).max().unwrap_or_default(),
            rules: matched.iter().map(|r| r.name.clone()).collect(),
        }
    }

    /// Names of the policy's rules, in order (for `baomi policy show`-style listings).
    pub fn rule_names(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.name.clone()).collect()
    }

    /// The weakest action that counts as "alert or block" for exit codes.
    pub fn alert_threshold(&self) -> Action {
        self.alert_at
    }
}
