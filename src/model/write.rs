//! EM's representations written from the catalog: references, thin entities, lists, service
//! documents, in XML (namespace `http://www.veeam.com/ent/v1.0`) and in JSON as EM writes it
//! (child values first, then `Name`, `UID`, `Links`, `Href`, `Type`; missing attributes left out).

use std::fmt::Write as _;

use super::catalog::{Link, Resource};
use crate::em::{NAMESPACE, Repr};
use crate::xml::escape;

/// A JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Plural of a type name as EM's lists name it: `Repository` → `Repositories`.
pub(crate) fn plural(kind: &str) -> String {
    match kind.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{kind}s"),
    }
}

fn xml_links(links: &[Link], out: &mut String, indent: &str) {
    let _ = writeln!(out, "{indent}<Links>");
    for l in links {
        let _ = write!(out, "{indent}  <Link Rel=\"{}\"", escape(&l.rel));
        if let Some(k) = &l.kind {
            let _ = write!(out, " Type=\"{}\"", escape(k));
        }
        let _ = write!(out, " Href=\"{}\"", escape(&l.href));
        if let Some(n) = &l.name {
            let _ = write!(out, " Name=\"{}\"", escape(n));
        }
        out.push_str(" />\n");
    }
    let _ = writeln!(out, "{indent}</Links>");
}

fn json_links(links: &[Link]) -> String {
    let items: Vec<String> = links
        .iter()
        .map(|l| {
            let mut o = format!("{{\"Rel\": {}, \"Href\": {}", json_str(&l.rel), json_str(&l.href));
            if let Some(n) = &l.name {
                let _ = write!(o, ", \"Name\": {}", json_str(n));
            }
            if let Some(k) = &l.kind {
                let _ = write!(o, ", \"Type\": {}", json_str(k));
            }
            o.push('}');
            o
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// An element or object with the usual identity attributes.
struct Head<'a> {
    element: &'a str,
    kind: &'a str,
    href: &'a str,
    name: Option<&'a str>,
    uid: Option<&'a str>,
    links: &'a [Link],
    /// Child elements / values, (name, text).
    fields: &'a [(String, String)],
}

fn write_xml(head: &Head<'_>, top: bool, indent: &str) -> String {
    let mut out = String::new();
    let _ = write!(out, "{indent}<{} Type=\"{}\" Href=\"{}\"", head.element, escape(head.kind), escape(head.href));
    if let Some(n) = head.name {
        let _ = write!(out, " Name=\"{}\"", escape(n));
    }
    if let Some(u) = head.uid {
        let _ = write!(out, " UID=\"{}\"", escape(u));
    }
    if top {
        let _ = write!(out, " xmlns=\"{NAMESPACE}\"");
    }
    out.push_str(">\n");
    let inner = format!("{indent}  ");
    xml_links(head.links, &mut out, &inner);
    for (name, value) in head.fields {
        let _ = writeln!(out, "{inner}<{name}>{}</{name}>", escape(value));
    }
    let _ = writeln!(out, "{indent}</{}>", head.element);
    out
}

fn write_json(head: &Head<'_>) -> String {
    let mut out = String::from("{");
    for (name, value) in head.fields {
        let _ = write!(out, "{}: {}, ", json_str(name), json_str(value));
    }
    if let Some(n) = head.name {
        let _ = write!(out, "\"Name\": {}, ", json_str(n));
    }
    if let Some(u) = head.uid {
        let _ = write!(out, "\"UID\": {}, ", json_str(u));
    }
    let _ = write!(
        out,
        "\"Links\": {}, \"Href\": {}, \"Type\": {}}}",
        json_links(head.links),
        json_str(head.href),
        json_str(head.kind)
    );
    out
}

/// A reference to `r`: a listing's `Ref` (`top` false) or an `EntityRef` document.
pub(crate) fn reference(r: &Resource, repr: Repr, top: bool) -> String {
    let links = r.reference_links();
    let kind = format!("{}Reference", r.kind);
    let uid = r.uid();
    let head = Head {
        element: if top { "EntityRef" } else { "Ref" },
        kind: &kind,
        href: &r.href,
        name: r.name.as_deref(),
        uid: uid.as_deref(),
        links: &links,
        fields: &[],
    };
    match repr {
        Repr::Xml => write_xml(&head, top, if top { "" } else { "  " }),
        Repr::Json => write_json(&head),
    }
}

/// An entity of `r` written from what the catalog knows: identity, the links its reference
/// carries and an `Alternate` back to the reference.
pub(crate) fn thin_entity(r: &Resource, repr: Repr) -> String {
    let mut links: Vec<Link> = r.reference_links().into_iter().filter(|l| l.rel != "Alternate").collect();
    links.push(Link {
        rel: "Alternate".into(),
        kind: Some(format!("{}Reference", r.kind)),
        href: r.href.clone(),
        name: r.name.clone(),
    });
    let href = format!("{}?format=Entity", r.href);
    let uid = r.uid();
    let head = Head {
        element: &r.kind,
        kind: &r.kind,
        href: &href,
        name: r.name.as_deref(),
        uid: uid.as_deref(),
        links: &links,
        fields: &[],
    };
    match repr {
        Repr::Xml => write_xml(&head, true, ""),
        Repr::Json => write_json(&head),
    }
}

/// An entity body as an item of a list: without its XML declaration.
pub(crate) fn as_item(body: &str, repr: Repr) -> String {
    match repr {
        Repr::Xml => {
            let trimmed = body.trim_start_matches('\u{feff}').trim_start();
            let without_decl = match trimmed.strip_prefix("<?xml") {
                Some(rest) => rest.split_once("?>").map_or(trimmed, |(_, r)| r),
                None => trimmed,
            };
            let mut item = String::new();
            for line in without_decl.trim().lines() {
                let _ = writeln!(item, "  {line}");
            }
            item
        }
        Repr::Json => body.trim().to_owned(),
    }
}

/// `EntityReferences` of the given `Ref`s, or `<Plurals>` of the given entities.
pub(crate) fn list(items: &[String], member: &str, entities: bool, repr: Repr) -> String {
    let element = if entities { plural(member) } else { "EntityReferences".to_owned() };
    match repr {
        Repr::Xml if items.is_empty() => format!("<{element} xmlns=\"{NAMESPACE}\" />\n"),
        Repr::Xml => format!("<{element} xmlns=\"{NAMESPACE}\">\n{}</{element}>\n", items.concat()),
        Repr::Json => {
            let key = if entities { element } else { "Refs".to_owned() };
            format!("{{\"{key}\": [{}]}}\n", items.join(",\n"))
        }
    }
}

/// The element name EM gives a service document of this `Type`.
fn service_element(kind: &str) -> &str {
    match kind {
        "QueryService" => "QuerySvc",
        "LookupService" => "LookupSvc",
        "Report" => "SummaryReport",
        other => other,
    }
}

/// A service document: its identity and the links it offers.
pub(crate) fn service(kind: &str, href: &str, name: Option<&str>, links: &[Link], repr: Repr) -> String {
    let head = Head { element: service_element(kind), kind, href, name, uid: None, links, fields: &[] };
    match repr {
        Repr::Xml => write_xml(&head, true, ""),
        Repr::Json => write_json(&head),
    }
}

/// The query service's result: `Refs` or `Entities` and `PagingInfo`.
pub(crate) struct Paging {
    pub page: usize,
    pub page_size: usize,
    pub pages: usize,
    pub links: Vec<Link>,
}

/// Every line of `items` indented by `indent`, each with its line break.
fn indented(items: &[String], indent: &str, out: &mut String) {
    out.reserve(items.iter().map(|i| i.len() + indent.len() * 8).sum());
    for line in items.iter().flat_map(|i| i.lines()) {
        out.push_str(indent);
        out.push_str(line);
        out.push('\n');
    }
}

pub(crate) fn query_result(items: &[String], member: &str, entities: bool, paging: &Paging, repr: Repr) -> String {
    match repr {
        Repr::Xml => {
            let mut out = format!("<QueryResult xmlns=\"{NAMESPACE}\">\n");
            if entities {
                let p = plural(member);
                let _ = writeln!(out, "  <Entities>\n    <{p}>");
                indented(items, "    ", &mut out);
                let _ = writeln!(out, "    </{p}>\n  </Entities>");
            } else {
                out.push_str("  <Refs>\n");
                indented(items, "  ", &mut out);
                out.push_str("  </Refs>\n");
            }
            let _ = writeln!(
                out,
                "  <PagingInfo PageNum=\"{}\" PageSize=\"{}\" PagesCount=\"{}\">",
                paging.page, paging.page_size, paging.pages
            );
            xml_links(&paging.links, &mut out, "    ");
            out.push_str("  </PagingInfo>\n</QueryResult>\n");
            out
        }
        Repr::Json => {
            // Written once into one buffer: the answer can be tens of megabytes.
            let mut out = String::with_capacity(items.iter().map(|i| i.len() + 2).sum::<usize>() + 256);
            let p = plural(member);
            let (open, close) = if entities {
                (format!("{{\"Entities\": {{\"{p}\": {{\"{p}\": ["), "]}}")
            } else {
                ("{\"Refs\": {\"Refs\": [".to_owned(), "]}")
            };
            out.push_str(&open);
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push_str(",\n");
                }
                out.push_str(item);
            }
            out.push_str(close);
            let _ = writeln!(
                out,
                ", \"PagingInfo\": {{\"Links\": {}, \"PageNum\": {}, \"PageSize\": {}, \"PagesCount\": {}}}}}",
                json_links(&paging.links),
                paging.page,
                paging.page_size,
                paging.pages
            );
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_follow_em_list_names() {
        assert_eq!(plural("Repository"), "Repositories");
        assert_eq!(plural("VmRestorePoint"), "VmRestorePoints");
        assert_eq!(plural("Day"), "Days");
    }
}
