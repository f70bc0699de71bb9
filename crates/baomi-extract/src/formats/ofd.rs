//! OFD (GB/T 33190-2016), the Chinese fixed-layout format used for official documents.
//!
//! Package layout: `OFD.xml` → `DocBody` (`DocInfo` metadata, `DocRoot` → `Document.xml`) →
//! `Pages/Page` (`BaseLoc` → `Content.xml`) and `CommonData/TemplatePage`. Text sits in
//! `TextObject`/`TextCode` elements placed by coordinates; a change of baseline (Y) starts a
//! new line, so "a level standing alone on a line" survives. Template pages (repeated on
//! every page, like headers) are HeaderFooter; annotations are Annotation.

use baomi_core::PartRole;

use super::ooxml::Package;
use super::text::emit_chunked;
use super::xml::{self, Node, TextBuf, XmlError, attr, local_name};
use crate::{Blob, Ctx, FormatResult};

/// Baselines closer than this (in mm, the OFD unit) are the same line.
const SAME_LINE_MM: f64 = 0.5;

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let mut pkg = Package::open(blob)?;
    // GM/T 0099 (cryptographic protection of OFD) lists encrypted parts in Encryptions.xml.
    if pkg.find("Encryptions.xml").is_some() {
        cx.encrypted("", "encrypted OFD (Encryptions.xml)");
        return Ok(());
    }
    let Some(entry) = pkg.read_xml("OFD.xml", cx) else {
        return Err("OFD package without OFD.xml".into());
    };
    let (bodies, err) = doc_bodies(&entry);
    report(cx, "OFD.xml", err);
    if bodies.is_empty() {
        return Err("OFD.xml names no document (DocBody/DocRoot)".into());
    }
    for (index, body) in bodies.iter().enumerate() {
        let sub = format!(
            "OFD.xml#DocInfo{}",
            if index == 0 {
                String::new()
            } else {
                index.to_string()
            }
        );
        cx.text(
            &format!("{sub}/Title"),
            PartRole::Subject,
            body.title.clone(),
        );
        cx.text(&sub, PartRole::Metadata, body.info.trim_end().to_owned());
        if cx.should_stop() {
            return Ok(());
        }
        document(&mut pkg, &body.root, cx);
    }
    Ok(())
}

fn report(cx: &mut Ctx<'_, '_>, sub: &str, err: Option<XmlError>) {
    if let Some(e) = err {
        xml::report_error(cx, sub, &e);
    }
}

/// One `DocBody` of `OFD.xml`.
#[derive(Default)]
struct DocBody {
    title: String,
    /// Author, subject, abstract, keywords, custom data: one per line.
    info: String,
    /// Path of `Document.xml` in the package.
    root: String,
}

fn doc_bodies(xml_text: &str) -> (Vec<DocBody>, Option<XmlError>) {
    let mut bodies: Vec<DocBody> = Vec::new();
    let mut current = DocBody::default();
    let mut element = String::new();
    let mut custom_name: Option<String> = None;
    let result = xml::walk(xml_text, |node| match node {
        Node::Open(e) => {
            element = local_name(e).to_owned();
            match element.as_str() {
                "DocBody" => current = DocBody::default(),
                "CustomData" => custom_name = attr(e, "Name"),
                _ => {}
            }
        }
        Node::Close(name) => {
            if name == "DocBody" {
                bodies.push(std::mem::take(&mut current));
            }
            element.clear();
        }
        Node::Text(t) => {
            let t = t.trim();
            if t.is_empty() {
                return;
            }
            match element.as_str() {
                "Title" => current.title.push_str(t),
                "Author" | "Subject" | "Abstract" | "Keyword" | "DocUsage" => {
                    current.info.push_str(t);
                    current.info.push('\n');
                }
                "CustomData" => {
                    let name = custom_name.as_deref().unwrap_or("");
                    current.info.push_str(&format!("{name}: {t}\n"));
                }
                "DocRoot" => current.root = t.trim_start_matches('/').to_owned(),
                _ => {}
            }
        }
    });
    bodies.retain(|b| !b.root.is_empty());
    (bodies, result.err())
}

/// Locations listed in a `Document.xml`.
#[derive(Default)]
struct DocumentParts {
    pages: Vec<String>,
    templates: Vec<String>,
    annotations: Option<String>,
    attachments: Option<String>,
}

fn document(pkg: &mut Package<'_>, root: &str, cx: &mut Ctx<'_, '_>) {
    let Some(xml_text) = pkg.read_xml(root, cx) else {
        cx.unreadable(root, "OFD document part missing");
        return;
    };
    let dir = parent_dir(root);
    let mut parts = DocumentParts::default();
    let mut element = String::new();
    let result = xml::walk(&xml_text, |node| match node {
        Node::Open(e) => {
            element = local_name(e).to_owned();
            match element.as_str() {
                "Page" => parts.pages.extend(attr(e, "BaseLoc")),
                "TemplatePage" => parts.templates.extend(attr(e, "BaseLoc")),
                _ => {}
            }
        }
        Node::Close(_) => element.clear(),
        Node::Text(t) => {
            let t = t.trim();
            match element.as_str() {
                "Annotations" if !t.is_empty() => parts.annotations = Some(t.to_owned()),
                "Attachments" if !t.is_empty() => parts.attachments = Some(t.to_owned()),
                _ => {}
            }
        }
    });
    report(cx, root, result.err());
    for (locs, role) in [
        (&parts.pages, PartRole::Body),
        (&parts.templates, PartRole::HeaderFooter),
    ] {
        for loc in locs {
            if cx.should_stop() {
                return;
            }
            let Some(path) = locate(pkg, dir, loc) else {
                cx.unreadable(loc, "OFD page listed in Document.xml is missing");
                continue;
            };
            page(pkg, &path, role, cx);
        }
    }
    if let Some(loc) = &parts.annotations
        && let Some(path) = locate(pkg, dir, loc)
    {
        annotations(pkg, &path, cx);
    }
    if let Some(loc) = &parts.attachments
        && let Some(path) = locate(pkg, dir, loc)
    {
        attachments(pkg, &path, cx);
    }
}

/// `Attachments.xml` lists files carried inside the document (`FileLoc`, relative to its
/// folder): each is a nested object.
fn attachments(pkg: &mut Package<'_>, index: &str, cx: &mut Ctx<'_, '_>) {
    let Some(xml_text) = pkg.read_xml(index, cx) else {
        return;
    };
    let dir = parent_dir(index);
    let files = file_locs(&xml_text, cx, index);
    for loc in files {
        if cx.should_stop() {
            return;
        }
        match locate(pkg, dir, &loc) {
            Some(path) => pkg.open_child(&path, cx),
            None => cx.unreadable(&loc, "OFD attachment listed in Attachments.xml is missing"),
        }
    }
}

/// The `FileLoc` entries of an OFD index file.
fn file_locs(xml_text: &str, cx: &mut Ctx<'_, '_>, index: &str) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    let mut in_file_loc = false;
    let result = xml::walk(xml_text, |node| match node {
        Node::Open(e) => in_file_loc = local_name(e) == "FileLoc",
        Node::Close(_) => in_file_loc = false,
        Node::Text(t) => {
            if in_file_loc && !t.trim().is_empty() {
                files.push(t.trim().to_owned());
            }
        }
    });
    report(cx, index, result.err());
    files
}

/// Resolve an OFD location: absolute from the package root when it starts with `/`, else
/// relative to `dir`; producers differ, so a root-relative reading is tried too.
fn locate(pkg: &Package<'_>, dir: &str, loc: &str) -> Option<String> {
    if let Some(absolute) = loc.strip_prefix('/') {
        return pkg.find(absolute);
    }
    pkg.find(&format!("{dir}{loc}")).or_else(|| pkg.find(loc))
}

fn parent_dir(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i + 1])
}

/// One page (or template page) content: its text, a line per baseline.
fn page(pkg: &mut Package<'_>, path: &str, role: PartRole, cx: &mut Ctx<'_, '_>) {
    let Some(xml_text) = pkg.read_xml(path, cx) else {
        return;
    };
    let (text, err) = page_text(&xml_text);
    emit_chunked(cx, path, role, text);
    report(cx, path, err);
}

/// Text of a page description: `TextCode` contents, ordered as written, a new line whenever
/// the baseline (TextObject boundary Y + TextCode Y) moves.
fn page_text(xml_text: &str) -> (String, Option<XmlError>) {
    let mut out = TextBuf::default();
    let mut object_y = 0.0f64;
    let mut code_y: Option<f64> = None;
    let mut last_y: Option<f64> = None;
    let mut in_code = 0u32;
    let result = xml::walk(xml_text, |node| match node {
        Node::Open(e) => match local_name(e) {
            "TextObject" => {
                object_y = attr(e, "Boundary")
                    .and_then(|b| b.split_whitespace().nth(1).and_then(|y| y.parse().ok()))
                    .unwrap_or(0.0);
            }
            "TextCode" => {
                in_code += 1;
                let y = attr(e, "Y").and_then(|y| y.trim().parse::<f64>().ok());
                code_y = Some(object_y + y.unwrap_or(0.0));
            }
            _ => {}
        },
        Node::Close(name) => {
            if name == "TextCode" {
                in_code = in_code.saturating_sub(1);
            }
        }
        Node::Text(t) => {
            if in_code == 0 || t.is_empty() {
                return;
            }
            let y = code_y.unwrap_or(object_y);
            if let Some(prev) = last_y
                && (y - prev).abs() > SAME_LINE_MM
            {
                out.end_line_if_open();
            }
            last_y = Some(y);
            out.push(t);
        }
    });
    (out.into_text(), result.err())
}

/// `Annotations.xml` lists per-page annotation files (`FileLoc`, relative to its folder);
/// their appearance holds TextObjects like a page.
fn annotations(pkg: &mut Package<'_>, index: &str, cx: &mut Ctx<'_, '_>) {
    let Some(xml_text) = pkg.read_xml(index, cx) else {
        return;
    };
    let dir = parent_dir(index);
    let files = file_locs(&xml_text, cx, index);
    for loc in files {
        if cx.should_stop() {
            return;
        }
        if let Some(path) = locate(pkg, dir, &loc) {
            page(pkg, &path, PartRole::Annotation, cx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_changes_start_new_lines() {
        let xml = r#"<ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Content><ofd:Layer>
<ofd:TextObject ID="1" Boundary="20 30 10 5" Font="3" Size="4"><ofd:TextCode X="0" Y="4">机</ofd:TextCode></ofd:TextObject>
<ofd:TextObject ID="2" Boundary="25 30 10 5" Font="3" Size="4"><ofd:TextCode X="0" Y="4">密</ofd:TextCode></ofd:TextObject>
<ofd:TextObject ID="3" Boundary="20 40 100 5" Font="3" Size="4"><ofd:TextCode X="0" Y="4">正文第一行</ofd:TextCode><ofd:TextCode X="0" Y="10">正文第二行</ofd:TextCode></ofd:TextObject>
</ofd:Layer></ofd:Content></ofd:Page>"#;
        let (text, err) = page_text(xml);
        assert!(err.is_none());
        assert_eq!(text, "机密\n正文第一行\n正文第二行");
    }
}
