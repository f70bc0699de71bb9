//! JSON and JSON Lines, recognised by content (chat-tool exports, API dumps, logs), decoded
//! into their string values before anything is detected: an export that writes Chinese as
//! `\uXXXX` escapes otherwise hides what it says — an escaped full-width colon (`\uff1a`)
//! right before a mobile number made the number invisible to the boundary checks.
//!
//! Each string (and number: phone numbers are often stored as numbers) becomes a part named
//! by its JSON pointer (`export.json#/messages/31/content`); the keys go into one `#keys`
//! part. A document with more values than [`MAX_VALUE_PARTS`] gets its values in batches,
//! each named by its first pointer. [`walk`] is shared with the ICAP door, which reads JSON
//! request bodies the same way.

use baomi_core::PartRole;
use serde_json::{Map, Value};

use crate::Ctx;

/// Larger texts stay plain text: the parsed tree takes several times the text's size, and
/// the per-object memory budget is 64 MB.
pub const MAX_JSON_BYTES: usize = 8 << 20;
/// Values emitted as parts of their own; beyond this they are batched.
pub const MAX_VALUE_PARTS: usize = 10_000;

/// One string or number of a JSON document, where it is, and what stands beside it.
pub struct JsonValue<'a> {
    /// RFC 6901 pointer: `/messages/31/content`.
    pub pointer: &'a str,
    /// The member name it is the value of (the nearest, for values inside arrays).
    pub key: Option<&'a str>,
    pub text: &'a str,
    /// The object it is a member of, for a sibling `filename` and the like.
    pub siblings: Option<&'a Map<String, Value>>,
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Visit every string and number of `v`, in document order, with its pointer.
pub fn walk(v: &Value, visit: &mut dyn FnMut(&JsonValue<'_>)) {
    let mut pointer = String::new();
    walk_at(v, &mut pointer, None, None, visit);
}

fn walk_at(
    v: &Value,
    pointer: &mut String,
    key: Option<&str>,
    siblings: Option<&Map<String, Value>>,
    visit: &mut dyn FnMut(&JsonValue<'_>),
) {
    match v {
        Value::String(s) => visit(&JsonValue {
            pointer,
            key,
            text: s,
            siblings,
        }),
        Value::Number(n) => visit(&JsonValue {
            pointer,
            key,
            text: &n.to_string(),
            siblings,
        }),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                walk_at(x, pointer, key, siblings, visit);
                pointer.truncate(len);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape(k));
                walk_at(x, pointer, Some(k), Some(m), visit);
                pointer.truncate(len);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

/// A JSON document, or JSON Lines (at least two lines, every non-empty one an object or an
/// array), or `None` for any other text.
pub fn parse(text: &str) -> Option<Vec<Value>> {
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.len() > MAX_JSON_BYTES || !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        return matches!(v, Value::Object(_) | Value::Array(_)).then(|| vec![v]);
    }
    let mut lines = Vec::new();
    for line in t.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => lines.push(v),
            _ => return None,
        }
    }
    (lines.len() >= 2).then_some(lines)
}

/// Emit the values of a parsed document (or of each line: pointers start with the line's
/// index) as parts. Returns false when there was nothing in it, so the caller can fall
/// back to the plain text.
pub fn emit(docs: &[Value], cx: &mut Ctx<'_, '_>) -> bool {
    let lines = docs.len() > 1;
    let mut values: Vec<(String, String)> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        walk(doc, &mut |v| {
            let pointer = if lines {
                format!("/{i}{}", v.pointer)
            } else {
                v.pointer.to_owned()
            };
            if let Some(k) = v.key
                && !keys.iter().any(|x| x == k)
            {
                keys.push(k.to_owned());
            }
            values.push((pointer, v.text.to_owned()));
        });
    }
    if values.is_empty() {
        return false;
    }
    let batch = values.len().div_ceil(MAX_VALUE_PARTS);
    for group in values.chunks(batch) {
        let first = &group[0].0;
        let text = group
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        cx.text(&format!("#{first}"), PartRole::Body, text);
        if cx.should_stop() {
            return true;
        }
    }
    if !keys.is_empty() {
        cx.text("#keys", PartRole::Name, keys.join("\n"));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_and_keys() {
        let v: Value =
            serde_json::from_str(r#"{"a/b":[{"x":"\uff1a1"},2],"t~":"s","n":null}"#).unwrap();
        let mut seen = Vec::new();
        walk(&v, &mut |j| {
            seen.push((
                j.pointer.to_owned(),
                j.key.map(str::to_owned),
                j.text.to_owned(),
            ))
        });
        assert_eq!(
            seen,
            vec![
                ("/a~1b/0/x".into(), Some("x".into()), "：1".into()),
                ("/a~1b/1".into(), Some("a/b".into()), "2".into()),
                ("/t~0".into(), Some("t~".into()), "s".into()),
            ]
        );
    }

    #[test]
    fn documents_lines_and_other_text() {
        assert_eq!(parse("{\"a\": 1}").unwrap().len(), 1);
        assert_eq!(parse("{\"a\": 1}\n\n{\"a\": 2}\n").unwrap().len(), 2);
        assert!(parse("{\"a\": 1}\nnot json\n").is_none());
        assert!(parse("\"just a string\"").is_none());
        assert!(parse("[1, 2").is_none());
        assert!(parse("会议纪要 {不是} JSON").is_none());
    }
}
