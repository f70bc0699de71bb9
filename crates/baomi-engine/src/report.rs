use baomi_core::mask::mask;
use baomi_core::{Finding, Verdict};
use serde::Serialize;
use serde_json::{Value, json};

/// The result of inspecting one top-level object: the `baomi scan --format json` contract
/// (one JSON object per line) and the REST API's scan answer.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    pub path: String,
    #[serde(rename = "type")]
    pub true_type: String,
    pub declared_type: Option<String>,
    pub size: u64,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    /// Findings beyond [`crate::MAX_FINDINGS_PER_OBJECT`], counted but not listed.
    pub findings_omitted: usize,
    /// Errors that kept the object from being inspected (I/O), not findings about it.
    pub errors: Vec<String>,
    /// False when a limit stopped extraction early (there is a `limit` finding).
    pub complete: bool,
    /// Bytes of text the detectors read.
    pub text_bytes: u64,
}

impl ObjectReport {
    /// An object that could not be inspected at all.
    pub fn failed(path: String, error: String) -> ObjectReport {
        ObjectReport {
            path,
            true_type: "unknown".into(),
            declared_type: None,
            size: 0,
            verdict: Verdict::default(),
            findings: Vec::new(),
            findings_omitted: 0,
            errors: vec![error],
            complete: false,
            text_bytes: 0,
        }
    }

    /// The contract JSON: personal data masked unless `show_values`.
    pub fn to_json(&self, show_values: bool) -> Value {
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                let text = if show_values {
                    f.text.clone()
                } else {
                    mask(f.kind, &f.text)
                };
                let mut v = json!({
                    "kind": f.kind,
                    "confidence": (f64::from(f.confidence) * 100.0).round() / 100.0,
                    "part": f.part,
                    "line": f.line,
                    "text": text,
                    "reason": f.reason,
                });
                if let Some(level) = f.level {
                    v["level"] = json!(level);
                }
                if let Some(rule) = &f.rule {
                    v["rule"] = json!(rule);
                }
                if f.count != 1 {
                    v["count"] = json!(f.count);
                }
                if f.weight != 1.0 {
                    v["weight"] = json!(f.weight);
                }
                v
            })
            .collect();
        let mut out = json!({
            "path": self.path,
            "type": self.true_type,
            "declared_type": self.declared_type,
            "size": self.size,
            "verdict": self.verdict.action,
            "severity": self.verdict.severity,
            "rules": self.verdict.rules,
            "findings": findings,
            "errors": self.errors,
        });
        if self.findings_omitted > 0 {
            out["findings_omitted"] = json!(self.findings_omitted);
        }
        // The policy's exceptions that lowered the verdict, only when one did.
        if !self.verdict.exceptions.is_empty() {
            out["exceptions"] = json!(self.verdict.exceptions);
        }
        out
    }
}
