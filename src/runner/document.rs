//! A response body as the runner reads it: XML or JSON behind one face, so a scenario's field
//! paths, link lookups and item selection read the same in both representations.

use std::collections::VecDeque;

use serde_json::Value as Json;

use crate::em::links::{links_under_element, links_under_json};
use crate::em::{Link, Repr};
use crate::http::Response;
use crate::scenario::{JsonKeys, Query, json_string};
use crate::xml::{self, Element};

pub(crate) enum Document {
    Xml(Element),
    /// A JSON body, and how field names meet its keys.
    Json(Json, JsonKeys),
    /// Empty, or neither XML nor JSON; `reason` says why when it failed to parse.
    Other {
        reason: Option<String>,
    },
}

/// Link types whose representation is not named after them (EM docs, `mapping_link_types_to_xml_schema`).
const ROOT_EXCEPTIONS: [(&str, &str); 1] = [("QueryService", "QuerySvc")];

/// A place in a document: the whole of it, or one item of a list.
#[derive(Clone, Copy)]
pub(crate) enum Node<'a> {
    Xml(&'a Element),
    Json(&'a Json),
}

impl Document {
    #[cfg(test)]
    pub fn parse(response: &Response) -> Document {
        Document::parse_with(response, JsonKeys::Exact)
    }

    /// Parses a body; `keys` says how field names meet the keys of a JSON body.
    pub fn parse_with(response: &Response, keys: JsonKeys) -> Document {
        let text = match std::str::from_utf8(&response.body) {
            Ok(t) => t.trim_start_matches('\u{feff}'),
            Err(_) => return Document::Other { reason: Some("the body is not UTF-8".into()) },
        };
        if text.trim().is_empty() {
            return Document::Other { reason: None };
        }
        let declared = response.headers.get("content-type").and_then(Repr::from_content_type);
        let looks = match text.trim_start().as_bytes().first() {
            Some(b'<') => Some(Repr::Xml),
            Some(b'{' | b'[') => Some(Repr::Json),
            _ => None,
        };
        match declared.or(looks) {
            Some(Repr::Xml) => match xml::parse(text) {
                Ok(e) => Document::Xml(e),
                Err(e) => Document::Other { reason: Some(format!("the XML body does not parse: {e}")) },
            },
            Some(Repr::Json) => match serde_json::from_str(text) {
                Ok(v) => Document::Json(v, keys),
                Err(e) => Document::Other { reason: Some(format!("the JSON body does not parse: {e}")) },
            },
            None => Document::Other { reason: Some("the body is neither XML nor JSON".into()) },
        }
    }

    fn keys(&self) -> JsonKeys {
        match self {
            Document::Json(_, keys) => *keys,
            _ => JsonKeys::Exact,
        }
    }

    pub fn root(&self) -> Option<Node<'_>> {
        match self {
            Document::Xml(e) => Some(Node::Xml(e)),
            Document::Json(v, _) => Some(Node::Json(v)),
            Document::Other { .. } => None,
        }
    }

    /// What the body is: the root element (XML) or the `Type` value (JSON).
    pub fn root_name(&self) -> Option<String> {
        match self {
            Document::Xml(e) => Some(e.name.clone()),
            Document::Json(v, keys) => get(v, "Type", *keys).and_then(Json::as_str).map(str::to_owned),
            Document::Other { .. } => None,
        }
    }

    /// Whether the body is a `name`: the root element (or its `Type`) in XML; the `Type` in JSON,
    /// where a document without `Type` (EM leaves out absent attributes) cannot say otherwise.
    /// Returns whether it is, and what it is, in words.
    pub fn is_root(&self, name: &str) -> (bool, String) {
        match self {
            Document::Xml(e) => (e.name == name || e.attribute("Type") == Some(name), format!("<{}>", e.name)),
            Document::Json(v, keys) => match get(v, "Type", *keys).and_then(Json::as_str) {
                Some(t) => (t == name, format!("\"Type\": \"{t}\"")),
                None => (true, "a JSON object without \"Type\"".to_owned()),
            },
            Document::Other { reason } => (false, reason.clone().unwrap_or_else(|| "(no body)".to_owned())),
        }
    }

    /// Whether the body is what a link of type `kind` promises (EM's mapping of link types to
    /// representations): `XReferenceList` leads to `EntityReferences` (JSON `Refs`), `XReference` to
    /// `EntityRef` or `Ref` of that Type, `XList` to `Xs`, `X` to `X`. `Err` holds what was expected.
    pub fn honours_link_type(&self, kind: &str) -> Result<(), String> {
        let plural = kind.strip_suffix("List").filter(|_| !kind.ends_with("ReferenceList")).map(|s| format!("{s}s"));
        match self {
            Document::Xml(root) => {
                let (ok, expected) = if kind.ends_with("ReferenceList") {
                    (root.name == "EntityReferences", "<EntityReferences>".to_owned())
                } else if kind.ends_with("Reference") {
                    (
                        (root.name == "EntityRef" || root.name == "Ref") && root.attribute("Type") == Some(kind),
                        format!("<EntityRef Type=\"{kind}\">"),
                    )
                } else {
                    let element = ROOT_EXCEPTIONS
                        .iter()
                        .find(|(t, _)| *t == kind)
                        .map_or_else(|| plural.clone().unwrap_or_else(|| kind.to_owned()), |(_, e)| (*e).to_owned());
                    (root.name == element, format!("<{element}>"))
                };
                if ok { Ok(()) } else { Err(expected) }
            }
            Document::Json(v, keys) => {
                let key = |k: &str| get(v, k, *keys).is_some();
                let ok = get(v, "Type", *keys).and_then(Json::as_str) == Some(kind)
                    || (kind.ends_with("ReferenceList") && key("Refs"))
                    || plural.as_deref().is_some_and(key);
                let expected = if kind.ends_with("ReferenceList") {
                    "an object with \"Refs\"".to_owned()
                } else if let Some(p) = &plural {
                    format!("an object with \"{p}\"")
                } else {
                    format!("\"Type\": \"{kind}\"")
                };
                if ok { Ok(()) } else { Err(expected) }
            }
            Document::Other { .. } => Err(format!("a body of type {kind}")),
        }
    }

    /// Every link under `at` (the whole document when `None`), in document order.
    pub fn links(&self, at: Option<Node<'_>>) -> Vec<Link> {
        let mut out = Vec::new();
        match at.or_else(|| self.root()) {
            Some(Node::Xml(e)) => links_under_element(e, &mut out),
            Some(Node::Json(v)) => links_under_json(v, &mut out),
            None => {}
        }
        out
    }

    /// The items of a list: elements named `name` (XML), members of arrays keyed `name` or
    /// `name` + `s` (JSON, where EM names lists in the plural).
    pub fn items(&self, name: &str) -> Vec<Node<'_>> {
        let mut out = Vec::new();
        match self {
            Document::Xml(e) => xml_items(e, name, &mut out),
            Document::Json(v, keys) => json_items(v, name, &format!("{name}s"), *keys, &mut out),
            Document::Other { .. } => {}
        }
        out
    }

    /// The values `query` finds, as text, under `at` (the whole document when `None`).
    pub fn query(&self, query: &Query, at: Option<Node<'_>>) -> Vec<String> {
        let Some(node) = at.or_else(|| self.root()) else {
            return Vec::new();
        };
        match (query, node) {
            (Query::Field(path), Node::Xml(e)) => xml_field(e, path).into_iter().collect(),
            (Query::Field(path), Node::Json(v)) => {
                json_field(v, path, self.keys()).map(json_string).into_iter().collect()
            }
            (Query::XPath(x), Node::Xml(e)) => {
                let Document::Xml(root) = self else { return Vec::new() };
                let value = if std::ptr::eq(root, e) { x.evaluate(root) } else { x.evaluate_at(root, e) };
                match value {
                    crate::scenario::XPathValue::Nodes(n) => n.iter().map(|f| f.string_value()).collect(),
                    other => other.as_string().into_iter().collect(),
                }
            }
            (Query::JsonPath(j), Node::Json(v)) => j.evaluate(v).into_iter().map(json_string).collect(),
            _ => Vec::new(),
        }
    }

    /// The one value a check or a capture of `query` compares: absent (`Ok(None)`), or why
    /// there is no one value to compare (a JSON path selecting several nodes, an XPath on a
    /// JSON body). XPath keeps its own rule: a node-set's value is its first node's.
    pub fn one(&self, query: &Query) -> Result<Option<String>, String> {
        match (query, self) {
            (Query::XPath(_), Document::Json(..)) => {
                return Err("(an XPath reads XML and this body is JSON: write the query as JSONPath, `$.…`)".into());
            }
            (Query::JsonPath(_), Document::Xml(_)) => {
                return Err("(a JSON path reads JSON and this body is XML: write the query as XPath, `//…`)".into());
            }
            _ => {}
        }
        let mut values = self.query(query, None);
        if values.len() > 1 && matches!(query, Query::JsonPath(_)) {
            let n = values.len();
            let shown: Vec<String> = values.iter().take(3).map(|v| format!("{v:?}")).collect();
            let more = if n > 3 { ", …" } else { "" };
            return Err(format!(
                "({n} nodes: {}{more}; a check or capture compares one: select one with an index or a filter, `[0]`, `[?@.Rel == 'Alternate']`)",
                shown.join(", ")
            ));
        }
        Ok(if values.is_empty() { None } else { Some(values.swap_remove(0)) })
    }

    /// The lines of `body` that show where `query` points, for failure messages.
    pub fn context(&self, body: &str, query: &Query, at: Option<Node<'_>>) -> Option<String> {
        match (self, query) {
            (Document::Xml(root), Query::Field(path)) => {
                let e = match at {
                    Some(Node::Xml(e)) => e,
                    _ => root,
                };
                let line = xml_field_element(e, path).map_or(e.line, |x| x.line);
                Some(excerpt(body, line, 4))
            }
            (Document::Json(v, keys), Query::Field(path)) => {
                let start = match at {
                    Some(Node::Json(x)) => x,
                    _ => v,
                };
                let holder = json_field_holder(start, path, *keys).unwrap_or(start);
                let mut text = serde_json::to_string_pretty(holder).unwrap_or_default();
                if text.lines().count() > 12 {
                    text = text.lines().take(12).collect::<Vec<_>>().join("\n") + "\n...";
                }
                Some(text)
            }
            _ => None,
        }
    }
}

/// Up to `n` lines of `text` from line `line` (1-based).
pub(crate) fn excerpt(text: &str, line: usize, n: usize) -> String {
    text.lines().skip(line.saturating_sub(1)).take(n).collect::<Vec<_>>().join("\n")
}

fn xml_items<'a>(e: &'a Element, name: &str, out: &mut Vec<Node<'a>>) {
    for c in e.elements() {
        if c.name == name {
            out.push(Node::Xml(c));
        }
        xml_items(c, name, out);
    }
}

fn json_items<'a>(v: &'a Json, name: &str, plural: &str, keys: JsonKeys, out: &mut Vec<Node<'a>>) {
    match v {
        Json::Object(m) => {
            for (k, x) in m {
                match x {
                    Json::Array(a) if same(k, name, keys) || same(k, plural, keys) => {
                        out.extend(a.iter().map(Node::Json))
                    }
                    _ => json_items(x, name, plural, keys, out),
                }
            }
        }
        Json::Array(a) => a.iter().for_each(|x| json_items(x, name, plural, keys, out)),
        _ => {}
    }
}

/// Whether a JSON key is the field name `name`.
fn same(key: &str, name: &str, keys: JsonKeys) -> bool {
    key == name || (keys == JsonKeys::AnyCase && key.eq_ignore_ascii_case(name))
}

/// The member of `v` a field name names: its exact key first, then, with `AnyCase`, a key that
/// differs only in case.
fn get<'a>(v: &'a Json, name: &str, keys: JsonKeys) -> Option<&'a Json> {
    let m = v.as_object()?;
    m.get(name).or_else(|| match keys {
        JsonKeys::Exact => None,
        JsonKeys::AnyCase => m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, x)| x),
    })
}

/// Where a field path ends: an attribute of an element, or an element.
enum Hit<'a> {
    Attribute(&'a Element, &'a str),
    Element(&'a Element),
}

/// Follows a field path: the first segment is an attribute of `e` or the nearest element of that
/// name below it; later segments are attributes or children.
fn xml_hit<'a>(e: &'a Element, path: &[String]) -> Option<Hit<'a>> {
    let (first, rest) = path.split_first()?;
    if let Some(value) = e.attribute(first) {
        return rest.is_empty().then_some(Hit::Attribute(e, value));
    }
    let mut current = breadth_first(e, first)?;
    for (i, seg) in rest.iter().enumerate() {
        if i + 1 == rest.len() {
            if let Some(value) = current.attribute(seg) {
                return Some(Hit::Attribute(current, value));
            }
        }
        current = current.child(seg)?;
    }
    Some(Hit::Element(current))
}

fn xml_field_element<'a>(e: &'a Element, path: &[String]) -> Option<&'a Element> {
    match xml_hit(e, path)? {
        Hit::Attribute(holder, _) | Hit::Element(holder) => Some(holder),
    }
}

fn xml_field(e: &Element, path: &[String]) -> Option<String> {
    match xml_hit(e, path)? {
        Hit::Attribute(_, value) => Some(value.to_owned()),
        Hit::Element(x) => Some(x.text()),
    }
}

fn breadth_first<'a>(e: &'a Element, name: &str) -> Option<&'a Element> {
    let mut queue: VecDeque<&Element> = e.elements().collect();
    while let Some(x) = queue.pop_front() {
        if x.name == name {
            return Some(x);
        }
        queue.extend(x.elements());
    }
    None
}

fn json_field<'a>(v: &'a Json, path: &[String], keys: JsonKeys) -> Option<&'a Json> {
    let (first, rest) = path.split_first()?;
    let mut current = json_breadth_first(v, first, keys)?;
    for seg in rest {
        current = match current {
            Json::Array(a) => a.iter().find_map(|x| get(x, seg, keys))?,
            other => get(other, seg, keys)?,
        };
    }
    Some(current)
}

fn json_field_holder<'a>(v: &'a Json, path: &[String], keys: JsonKeys) -> Option<&'a Json> {
    let first = path.first()?;
    let mut queue: VecDeque<&Json> = VecDeque::from([v]);
    while let Some(x) = queue.pop_front() {
        match x {
            Json::Object(_) if get(x, first, keys).is_some() => return Some(x),
            Json::Object(m) => queue.extend(m.values()),
            Json::Array(a) => queue.extend(a.iter()),
            _ => {}
        }
    }
    None
}

fn json_breadth_first<'a>(v: &'a Json, key: &str, keys: JsonKeys) -> Option<&'a Json> {
    json_field_holder(v, &[key.to_owned()], keys).and_then(|h| get(h, key, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(body: &str) -> Document {
        Document::parse(&Response::new(200).body(body.to_owned()))
    }

    fn field(d: &Document, path: &str) -> Option<String> {
        d.query(&Query::Field(path.split('/').map(str::to_owned).collect()), None).into_iter().next()
    }

    #[test]
    fn field_paths_read_the_same_in_xml_and_json() {
        let x = doc(
            r#"<Task xmlns="urn:x" Href="h"><Links><Link Rel="Delete" Href="d"/></Links><State>Finished</State><Result Success="true"><Message>Ok</Message></Result></Task>"#,
        );
        let j = doc(
            r#"{"State":"Finished","Result":{"Message":"Ok","Success":true},"Links":[{"Rel":"Delete","Href":"d"}],"Href":"h","Type":"Task"}"#,
        );
        for d in [&x, &j] {
            assert_eq!(field(d, "State").as_deref(), Some("Finished"));
            assert_eq!(field(d, "Result/Success").as_deref(), Some("true"));
            assert_eq!(field(d, "Result/Message").as_deref(), Some("Ok"));
            assert_eq!(field(d, "Href").as_deref(), Some("h"));
            assert_eq!(field(d, "Nope"), None);
            assert_eq!(d.links(None), vec![Link { rel: "Delete".into(), kind: None, href: "d".into(), name: None }]);
        }
    }

    #[test]
    fn items_are_singular_in_xml_and_plural_in_json() {
        let x = doc(r#"<EntityReferences><Ref Name="a"/><Ref Name="b"/></EntityReferences>"#);
        let j = doc(r#"{"Refs":[{"Name":"a"},{"Name":"b"}]}"#);
        assert_eq!(x.items("Ref").len(), 2);
        assert_eq!(j.items("Ref").len(), 2);
        let name = Query::Field(vec!["Name".into()]);
        assert_eq!(j.query(&name, Some(j.items("Ref")[1])), ["b"]);
        assert_eq!(x.query(&name, Some(x.items("Ref")[1])), ["b"]);
    }

    #[test]
    fn link_types_promise_representations() {
        assert!(doc("<EntityReferences/>").honours_link_type("VmRestorePointReferenceList").is_ok());
        assert!(
            doc(r#"<EntityRef Type="VmRestorePointReference"/>"#).honours_link_type("VmRestorePointReference").is_ok()
        );
        assert!(doc("<VmRestorePoints/>").honours_link_type("VmRestorePointList").is_ok());
        assert!(doc(r#"<QuerySvc Type="QueryService"/>"#).honours_link_type("QueryService").is_ok());
        assert_eq!(doc("<Task/>").honours_link_type("RestoreSession"), Err("<RestoreSession>".into()));
        assert!(doc(r#"{"Refs":[]}"#).honours_link_type("VmRestorePointReferenceList").is_ok());
        assert!(doc(r#"{"Type":"VmRestorePoint"}"#).honours_link_type("VmRestorePoint").is_ok());
        assert!(doc(r#"{"Type":"Task"}"#).honours_link_type("VmRestorePoint").is_err());
    }
}
