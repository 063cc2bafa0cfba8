//! The query service, `GET /api/query?type=T[&format=Entities|References][&filter=…]
//! [&sortAsc|sortDesc=F][&pageSize=N&page=M]`, answered from every resource the model knows.

use std::cmp::Ordering;
use std::sync::Arc;

use super::catalog::{Resource, repr_index};
use super::query;
use super::write::{self, Paging};
use super::{Answer, Created, Fields, Link, Model, QUERY_TYPES, query_value};
use crate::em::Repr;

/// What a page holds when the client names no page size.
const DEFAULT_PAGE_SIZE: usize = 100;

/// Characters a paging link leaves as they are in its `filter`, as EM's own links do.
fn encode_filter(filter: &str) -> String {
    let mut out = String::new();
    for b in filter.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b';' | b',' | b'(' | b')' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A sort key computed once per item.
#[derive(PartialEq)]
enum Key {
    Missing,
    Value(String),
}

impl Model {
    /// The query fields of a resource: its entity's attributes and simple elements, its
    /// identity, and `<X>Name`/`<X>Id`/`<X>Uid` of the `X` its reference links `Up` to.
    fn fields_of(&self, path: &str, r: &Resource, cache: bool) -> Fields {
        if let Some(hit) = self.fields.read().ok().and_then(|f| f.get(path).cloned()) {
            return hit;
        }
        let mut fields: Vec<(String, String)> = Vec::new();
        let sampled = self.catalog.samples.get(&r.kind);
        let has =
            |repr: Repr| r.entity[repr_index(repr)].is_some() || sampled.is_some_and(|s| s[repr_index(repr)].is_some());
        if has(Repr::Xml) {
            if let Ok(root) = crate::xml::parse(&self.entity(path, r, Repr::Xml).0) {
                fields.extend(
                    root.attributes
                        .iter()
                        .filter(|a| a.namespace.is_none())
                        .map(|a| (a.name.to_ascii_lowercase(), a.value.clone())),
                );
                fields.extend(
                    root.elements()
                        .filter(|e| e.elements().next().is_none())
                        .map(|e| (e.name.to_ascii_lowercase(), e.text())),
                );
            }
        } else if has(Repr::Json) {
            if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&self.entity(path, r, Repr::Json).0) {
                for (k, v) in map {
                    let text = match v {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Bool(b) => b.to_string(),
                        _ => continue,
                    };
                    fields.push((k.to_ascii_lowercase(), text));
                }
            }
        }
        let mut identity = vec![("id".to_owned(), r.id().to_owned())];
        identity.extend(r.name.iter().map(|n| ("name".to_owned(), n.clone())));
        identity.extend(r.uid.iter().map(|u| ("uid".to_owned(), u.clone())));
        for link in r.reference_links().iter().filter(|l| l.rel == "Up") {
            let Some(kind) = link.kind.as_deref().and_then(|k| k.strip_suffix("Reference")) else { continue };
            let id = link.href.rsplit('/').next().unwrap_or_default().to_owned();
            let lower = kind.to_ascii_lowercase();
            identity.extend(link.name.iter().map(|n| (format!("{lower}name"), n.clone())));
            identity.push((format!("{lower}uid"), format!("urn:veeam:{kind}:{id}")));
            identity.push((format!("{lower}id"), id));
        }
        for (k, v) in identity {
            if !fields.iter().any(|(f, _)| *f == k) {
                fields.push((k, v));
            }
        }
        let fields = Arc::new(fields);
        if cache {
            if let Ok(mut f) = self.fields.write() {
                f.insert(path.to_owned(), fields.clone());
            }
        }
        fields
    }

    pub(super) fn query(&self, q: &[(String, String)], repr: Repr, created: &[Created]) -> Answer {
        let bad = |message: String| Answer::error(repr, 400, message);
        let Some(asked) = query_value(q, "type") else {
            return bad("The query needs a type: /api/query?type=VmRestorePoint".into());
        };
        let known = self.catalog.resources.values().map(|r| r.kind.as_str()).chain(QUERY_TYPES);
        let Some(kind) = known.into_iter().find(|k| k.eq_ignore_ascii_case(asked)).map(str::to_owned) else {
            return bad(format!("Unknown query type {asked}."));
        };
        let entities = match query_value(q, "format") {
            None | Some("references" | "reference" | "refs") => false,
            Some("entities" | "entity") => true,
            Some(other) => return bad(format!("Unknown format {other}: use Entities or References.")),
        };
        let filter = match query_value(q, "filter").filter(|f| !f.trim().is_empty()) {
            Some(text) => match query::parse(text) {
                Ok(f) => Some(f),
                Err(e) => return bad(format!("Failed to parse the filter: {e}")),
            },
            None => None,
        };
        let number = |key: &str, shown: &str| -> Result<Option<usize>, Answer> {
            match query_value(q, key) {
                None => Ok(None),
                Some(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Some)
                    .ok_or_else(|| bad(format!("{shown} must be a positive whole number, not {v}."))),
            }
        };
        let (page_size, page) = match (number("pagesize", "pageSize"), number("page", "page")) {
            (Ok(s), Ok(p)) => (s, p.unwrap_or(1)),
            (Err(e), _) | (_, Err(e)) => return e,
        };

        let mut items: Vec<(&str, &Resource, Fields)> = Vec::new();
        for path in &self.catalog.order {
            let r = &self.catalog.resources[path];
            if r.kind == kind {
                items.push((path, r, self.fields_of(path, r, true)));
            }
        }
        for c in created.iter().filter(|c| c.resource.kind == kind) {
            items.push((&c.path, &c.resource, self.fields_of(&c.path, &c.resource, false)));
        }
        if let Some(filter) = &filter {
            for field in filter.fields() {
                if !items.is_empty() && !items.iter().any(|(_, _, f)| lookup(f, field).is_some()) {
                    return bad(format!("Unknown field {field} for type {kind}."));
                }
            }
            items.retain(|(_, _, f)| filter.matches(&|name| lookup(f, name)));
        }
        let sort = query_value(q, "sortasc").map(|f| (f, false)).or(query_value(q, "sortdesc").map(|f| (f, true)));
        if let Some((field, descending)) = sort {
            let mut keyed: Vec<(Key, _)> =
                items.into_iter().map(|item| (lookup(&item.2, field).map_or(Key::Missing, Key::Value), item)).collect();
            keyed.sort_by(|(a, _), (b, _)| {
                let ord = match (a, b) {
                    (Key::Value(x), Key::Value(y)) => query::compare(x, y),
                    (Key::Missing, Key::Missing) => Ordering::Equal,
                    (Key::Missing, _) => Ordering::Greater,
                    (_, Key::Missing) => Ordering::Less,
                };
                if descending { ord.reverse() } else { ord }
            });
            items = keyed.into_iter().map(|(_, item)| item).collect();
        }

        let total = items.len();
        let size = page_size.unwrap_or(total.max(DEFAULT_PAGE_SIZE));
        let pages = total.div_ceil(size).max(1);
        let shown: Vec<String> = items
            .iter()
            .skip((page - 1).saturating_mul(size))
            .take(size)
            .map(|(path, r, _)| {
                if entities {
                    write::as_item(&self.entity(path, r, repr).0, repr)
                } else {
                    write::reference(r, repr, false)
                }
            })
            .collect();
        let href = |n: usize| {
            let mut h = format!("{{{{origin}}}}/api/query?type={kind}");
            if entities {
                h.push_str("&format=Entities");
            }
            if let Some(f) = query_value(q, "filter") {
                h.push_str(&format!("&filter={}", encode_filter(f)));
            }
            if let Some((field, descending)) = sort {
                h.push_str(&format!("&{}={field}", if descending { "sortDesc" } else { "sortAsc" }));
            }
            h.push_str(&format!("&pageSize={size}&page={n}"));
            h
        };
        let link = |rel: &str, n: usize| Link { rel: rel.into(), kind: None, href: href(n), name: None };
        let mut links = vec![link("First", 1)];
        if page > 1 && page <= pages {
            links.push(link("Previous", page - 1));
        }
        if page < pages {
            links.push(link("Next", page + 1));
        }
        links.push(link("Last", pages));
        let paging = Paging { page, page_size: size, pages, links };
        let body = write::query_result(&shown, &kind, entities, &paging, repr);
        Answer::ok(repr, body, format!("the query service: {total} {kind} matched, page {page} of {pages}"))
    }
}

/// A field by lower-case name, with EM's aliases: `CreationTime` is `CreationTimeUTC`, and a
/// restore point's `VmDisplayName` is its `VmName` or the part of its Name before `@`.
fn lookup(fields: &[(String, String)], name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let get = |n: &str| fields.iter().find(|(f, _)| f == n).map(|(_, v)| v.clone());
    get(&name).or_else(|| get(&format!("{name}utc"))).or_else(|| {
        (name == "vmdisplayname")
            .then(|| get("vmname").or_else(|| get("name").and_then(|n| n.split_once('@').map(|(vm, _)| vm.to_owned()))))
            .flatten()
    })
}
