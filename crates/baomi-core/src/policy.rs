//! Policy: TOML rules mapping the findings of one object to a verdict.
//!
//! A rule matches when the object's facts meet its conditions (door, person, department,
//! group, destination, mail attachments, time: [`context`]) and enough of its findings pass
//! its filters (kinds, level, confidence, category) and together reach its thresholds
//! (distinct values, summed weight). The verdict is the strongest action among the matching
//! rules, lowered where an `[[exception]]` applies (every use named in the verdict). The
//! shipped default is `default-policy.toml`, which doubles as the documentation of the format.
use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::{Action, Channel, Finding, FindingKind, Level, Severity, Verdict};

pub mod context;

pub use context::{Attachment, Conditions, Context, HostLists};
use context::{CONDITION_KEYS, Matcher};

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

/// One `[[rule]]` of the policy. Unknown keys are refused when the policy is loaded
/// (`RULE_KEYS` and the conditions' keys), so a misspelt condition never silently widens a rule.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Rule {
    pub name: String,
    /// Finding kinds this rule looks at (contract names: `marking`, `pii.resident_id`, …).
    /// Empty: the rule is about the object's facts alone (it needs a condition then).
    #[serde(default)]
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
    /// Who, where, when, which attachments (all optional; see [`Conditions`]).
    #[serde(flatten)]
    pub conditions: Conditions,
    pub action: Action,
    #[serde(default)]
    pub severity: Severity,
}

const RULE_KEYS: &[&str] = &[
    "name",
    "kinds",
    "min_level",
    "min_count",
    "min_score",
    "min_coverage",
    "min_confidence",
    "categories",
    "action",
    "severity",
];

/// One `[[exception]]`: where it applies (its conditions), it lowers the action of the rules
/// it names (default: all) to at most `action` (default `audit`: recorded, not stopped).
/// Every use is named in the verdict and on the incident; after `expires` (a Beijing date,
/// the last day it applies) it no longer applies.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Exception {
    pub name: String,
    /// Why it exists (who asked, which approval): required, shown on every use.
    pub reason: String,
    /// `YYYY-MM-DD`, the last day it applies.
    #[serde(default)]
    pub expires: Option<String>,
    /// The rules it lowers (default: every rule).
    #[serde(default)]
    pub rules: Option<Vec<String>>,
    #[serde(default = "Exception::default_action")]
    pub action: Action,
    #[serde(flatten)]
    pub conditions: Conditions,
}

const EXCEPTION_KEYS: &[&str] = &["name", "reason", "expires", "rules", "action"];

impl Exception {
    fn default_action() -> Action {
        Action::Audit
    }

    /// Expired on the context's date?
    pub fn expired(&self, ctx: &Context) -> bool {
        self.expires
            .as_deref()
            .is_some_and(|d| ctx.beijing_date().as_str() > d)
    }
}

/// Check a table's keys before serde sees it (flatten cannot deny unknown fields).
fn known_keys(what: &str, table: &toml::Table, own: &[&str]) -> Result<(), String> {
    for key in table.keys() {
        if !own.contains(&key.as_str()) && !CONDITION_KEYS.contains(&key.as_str()) {
            let name = table.get("name").and_then(|v| v.as_str()).unwrap_or("?");
            return Err(format!(
                "{what} {name:?}: unknown key `{key}` (known: {}, {})",
                own.join(", "),
                CONDITION_KEYS.join(", ")
            ));
        }
    }
    Ok(())
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s[..4].parse::<u32>().is_ok()
        && s[5..7].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && s[8..].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

impl Exception {
    fn covers(&self, rule: &str) -> bool {
        self.rules
            .as_ref()
            .is_none_or(|rs| rs.iter().any(|r| r == rule))
    }
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

    fn matches_findings(&self, findings: &[Finding]) -> bool {
        if self.kinds.is_empty() {
            return true;
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
    rule: Vec<toml::Table>,
    #[serde(default)]
    exception: Vec<toml::Table>,
    #[serde(default)]
    regex: Vec<RegexRule>,
    /// Named host lists: new ones, or replacements of the shipped `cloud_drives`, `webmail`,
    /// `forums`; `internal` is also extended by the server's configuration.
    #[serde(default)]
    hosts: HashMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub regex: Vec<RegexRule>,
    pub rules: Vec<Rule>,
    pub exceptions: Vec<Exception>,
    /// The weakest action that makes `baomi scan` exit 1.
    pub alert_at: Action,
    hosts: HostLists,
    /// Own `[hosts]` as written, to recompile after `extend_internal`.
    own_hosts: HashMap<String, Vec<String>>,
    rule_matchers: Vec<Matcher>,
    exception_matchers: Vec<Matcher>,
}

/// One matching rule in an [`Explanation`]: its action after any exception, and the
/// exception that lowered it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome {
    pub rule: String,
    pub action: Action,
    pub lowered_by: Option<String>,
}

/// What the policy concluded and why, for `baomi policy test`.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub verdict: Verdict,
    /// Each matching rule, strongest first.
    pub rules: Vec<RuleOutcome>,
    /// Exceptions whose conditions held but that had expired.
    pub expired: Vec<String>,
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
        let hosts = HostLists::new(&file.hosts)?;
        let mut rules = Vec::new();
        for table in file.rule {
            known_keys("rule", &table, RULE_KEYS)?;
            let name = table
                .get("name")
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_owned();
            let rule: Rule = table
                .try_into()
                .map_err(|e| format!("rule {name:?}: {}", e.to_string().trim()))?;
            rules.push(rule);
        }
        let mut names = HashSet::new();
        for rule in &rules {
            if rule.name.trim().is_empty() {
                return Err("a [[rule]] has an empty name".into());
            }
            if !names.insert(rule.name.as_str()) {
                return Err(format!("rule {:?} is defined twice", rule.name));
            }
            if rule.kinds.is_empty() {
                if !rule.conditions.about_context() {
                    return Err(format!(
                        "rule {:?}: `kinds` is empty and the rule has no condition on the \
                         person, destination, attachments or time",
                        rule.name
                    ));
                }
                let thresholds = rule.min_level.is_some()
                    || rule.min_count.is_some()
                    || rule.min_score.is_some()
                    || rule.min_coverage.is_some()
                    || rule.min_confidence.is_some()
                    || rule.categories.is_some();
                if thresholds {
                    return Err(format!(
                        "rule {:?}: thresholds on findings need `kinds`",
                        rule.name
                    ));
                }
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
        let mut exceptions = Vec::new();
        let mut exception_names = HashSet::new();
        for table in file.exception {
            known_keys("exception", &table, EXCEPTION_KEYS)?;
            let name = table
                .get("name")
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_owned();
            let ex: Exception = table
                .try_into()
                .map_err(|e| format!("exception {name:?}: {}", e.to_string().trim()))?;
            if ex.name.trim().is_empty() {
                return Err("an [[exception]] has an empty name".into());
            }
            if !exception_names.insert(ex.name.clone()) {
                return Err(format!("exception {:?} is defined twice", ex.name));
            }
            if ex.reason.trim().is_empty() {
                return Err(format!(
                    "exception {:?}: `reason` is empty (say who asked and who approved)",
                    ex.name
                ));
            }
            if let Some(d) = &ex.expires
                && !valid_date(d)
            {
                return Err(format!(
                    "exception {:?}: expires {d:?} is not a date (YYYY-MM-DD)",
                    ex.name
                ));
            }
            for r in ex.rules.iter().flatten() {
                if !names.contains(r.as_str()) {
                    return Err(format!("exception {:?}: no rule named {r:?}", ex.name));
                }
            }
            if !ex.conditions.about_context() && ex.conditions.channels.is_none() {
                return Err(format!(
                    "exception {:?}: say where it applies (people, departments, groups, \
                     destinations, channels, …); an exception for everything is no exception",
                    ex.name
                ));
            }
            exceptions.push(ex);
        }
        for r in &file.regex {
            crate::detect::regex_rule::compile(r)?;
        }
        let mut policy = Policy {
            regex: file.regex,
            rules,
            exceptions,
            alert_at: file.alert_at.unwrap_or(Action::Alert),
            hosts,
            own_hosts: file.hosts,
            rule_matchers: Vec::new(),
            exception_matchers: Vec::new(),
        };
        policy.compile()?;
        Ok(policy)
    }

    fn compile(&mut self) -> Result<(), String> {
        self.rule_matchers = self
            .rules
            .iter()
            .map(|r| {
                Matcher::compile(&r.conditions, &self.hosts)
                    .map_err(|e| format!("rule {:?}: {e}", r.name))
            })
            .collect::<Result<_, _>>()?;
        self.exception_matchers = self
            .exceptions
            .iter()
            .map(|x| {
                Matcher::compile(&x.conditions, &self.hosts)
                    .map_err(|e| format!("exception {:?}: {e}", x.name))
            })
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Add the unit's own domains and networks to the `internal` host list (the server's
    /// configuration: `milter.internal_domains`, `policy.internal`).
    pub fn extend_internal(&mut self, values: &[String]) -> Result<(), String> {
        let mut hosts = HostLists::new(&self.own_hosts)?;
        hosts.extend_internal(values)?;
        self.hosts = hosts;
        self.compile()
    }

    /// The verdict for an object known only by its door (as before conditions existed).
    pub fn evaluate(&self, findings: &[Finding], channel: Channel) -> Verdict {
        self.evaluate_in(findings, &Context::channel(channel))
    }

    /// The verdict for an object with everything the door knows about it.
    pub fn evaluate_in(&self, findings: &[Finding], ctx: &Context) -> Verdict {
        self.explain(findings, ctx).verdict
    }

    /// The verdict with the rules and exceptions behind it.
    pub fn explain(&self, findings: &[Finding], ctx: &Context) -> Explanation {
        // (rule, its action after exceptions, the exception that lowered it)
        let mut matched: Vec<(&Rule, Action, Option<&str>)> = self
            .rules
            .iter()
            .zip(&self.rule_matchers)
            .filter(|(r, m)| m.matches(ctx, &self.hosts) && r.matches_findings(findings))
            .map(|(r, _)| (r, r.action, None))
            .collect();
        let mut expired = Vec::new();
        for (ex, m) in self.exceptions.iter().zip(&self.exception_matchers) {
            if !m.matches(ctx, &self.hosts) {
                continue;
            }
            if ex.expired(ctx) {
                if matched.iter().any(|(r, _, _)| ex.covers(&r.name)) {
                    expired.push(ex.name.clone());
                }
                continue;
            }
            for (rule, action, lowered) in &mut matched {
                if ex.covers(&rule.name) && *action > ex.action {
                    *action = ex.action;
                    *lowered = Some(ex.name.as_str());
                }
            }
        }
        // Strongest first; stable, so equal rules keep the order of the file.
        matched.sort_by_key(|(r, a, _)| std::cmp::Reverse((*a, r.severity)));
        let mut used: Vec<String> = Vec::new();
        for (_, _, lowered) in &matched {
            if let Some(name) = lowered
                && !used.iter().any(|u| u == name)
            {
                used.push((*name).to_owned());
            }
        }
        let verdict = Verdict {
            action: matched.first().map_or(Action::Allow, |(_, a, _)| *a),
            severity: matched
                .iter()
                .map(|(r, _, _)| r.severity)
                .max()
                .unwrap_or_default(),
            rules: matched.iter().map(|(r, _, _)| r.name.clone()).collect(),
            exceptions: used,
        };
        Explanation {
            verdict,
            rules: matched
                .into_iter()
                .map(|(r, action, lowered)| RuleOutcome {
                    rule: r.name.clone(),
                    action,
                    lowered_by: lowered.map(str::to_owned),
                })
                .collect(),
            expired,
        }
    }

    /// The named host lists in force (shipped, the policy's own, `internal`).
    pub fn host_lists(&self) -> &HostLists {
        &self.hosts
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
