use crate::BlockNotice;

/// The HTML page a blocked user sees, in Chinese and English: what kind of content, what
/// level, the incident number and whom to contact. It never repeats the content itself, so
/// the page cannot become a leak of its own.
pub fn render_block_page(notice: &BlockNotice, contact: &str) -> String {
    let contact = notice.contact.as_deref().unwrap_or(contact);
    let mut reasons = String::new();
    for r in &notice.reasons {
        reasons.push_str("      <li>");
        reasons.push_str(&escape(r));
        reasons.push_str("</li>\n");
    }
    if reasons.is_empty() {
        reasons.push_str("      <li>违反保密策略 / Violates the confidentiality policy</li>\n");
    }
    let level = match &notice.level {
        Some(l) => format!("    <p>密级 / Level: <strong>{}</strong></p>\n", escape(l)),
        None => String::new(),
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <title>上传已被拦截 / Upload blocked</title>
  <style>
    body {{ font-family: sans-serif; max-width: 42em; margin: 3em auto; color: #222; }}
    h1 {{ color: #b00020; font-size: 1.4em; }}
    .box {{ border: 1px solid #ddd; padding: 1em 1.5em; border-radius: 6px; }}
  </style>
</head>
<body>
  <h1>上传已被拦截 / Upload blocked</h1>
  <div class="box">
    <p>您发送的内容可能含有涉密或敏感信息，依据保密规定未予发送。<br>
       The content you sent may contain classified or sensitive information and was not sent.</p>
    <p>发现的内容 / What was found:</p>
    <ul>
{reasons}    </ul>
{level}    <p>事件编号 / Incident: <strong>{incident}</strong></p>
    <p>如有疑问，请联系 / If you have questions, contact: {contact}</p>
  </div>
  <p><small>涉密信息不上网，上网信息不涉密。</small></p>
</body>
</html>
"#,
        incident = escape(&notice.incident),
        contact = escape(contact),
    )
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_names_incident_level_and_contact_and_escapes() {
        let n = BlockNotice {
            incident: "INC-42".into(),
            reasons: vec!["机密 marking <script>".into()],
            level: Some("机密".into()),
            contact: None,
        };
        let p = render_block_page(&n, "保密办 8888");
        assert!(p.contains("INC-42"));
        assert!(p.contains("机密"));
        assert!(p.contains("保密办 8888"));
        assert!(p.contains("&lt;script&gt;"));
        assert!(!p.contains("<script>"));
    }
}
