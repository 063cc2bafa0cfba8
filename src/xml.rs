//! XML as a namespace-resolved tree: elements keyed by (namespace URI, local name), attributes
//! without their `xmlns` declarations, text unescaped. Prefixes and attribute order are
//! representation details; this is what bodies are compared and queried as.

use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// An element with everything that matters about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub namespace: Option<String>,
    pub name: String,
    /// The prefix it was written with, if any; not part of its identity.
    pub prefix: Option<String>,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Node>,
    /// Line of the start tag, from 1.
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub namespace: Option<String>,
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

/// XML that does not parse, with where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct XmlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    (line, String::from_utf8_lossy(&before[start..]).chars().count() + 1)
}

/// Elements nest at most this deep (EM's go a few levels down): a body of a hundred thousand
/// nested elements must not exhaust the stack when its tree is dropped.
const MAX_DEPTH: usize = 256;

/// Parses a document and returns its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let fail = |offset: u64, message: String| {
        let (line, column) = position(text, offset as usize);
        XmlError { line, column, message }
    };
    // Line numbers counted as the reader moves on, not from the start for every element: a
    // 10,000-item list would otherwise take quadratic time.
    let (mut counted, mut line) = (0usize, 1usize);
    let mut line_at = |offset: u64| {
        let offset = (offset as usize).min(text.len());
        if offset >= counted {
            line += memchr::memchr_iter(b'\n', &text.as_bytes()[counted..offset]).count();
            counted = offset;
        }
        line
    };
    loop {
        let start_offset = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => return Err(fail(reader.error_position(), e.to_string())),
        };
        match event {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(fail(start_offset, format!("elements nest deeper than {MAX_DEPTH}")));
                }
                let el = element(&reader, &e, line_at(start_offset)).map_err(|m| fail(start_offset, m))?;
                stack.push(el);
            }
            Event::Empty(e) => {
                let el = element(&reader, &e, line_at(start_offset)).map_err(|m| fail(start_offset, m))?;
                attach(&mut stack, &mut root, el).map_err(|m| fail(start_offset, m))?;
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| fail(start_offset, "closing tag without an opening one".into()))?;
                attach(&mut stack, &mut root, el).map_err(|m| fail(start_offset, m))?;
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| fail(start_offset, e.to_string()))?;
                push_text(&mut stack, &s, root.is_some()).map_err(|m| fail(start_offset, m))?;
            }
            Event::CData(c) => {
                let s = String::from_utf8_lossy(&c).into_owned();
                push_text(&mut stack, &s, root.is_some()).map_err(|m| fail(start_offset, m))?;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(fail(text.len() as u64, format!("<{}> is never closed", open.name)));
    }
    root.ok_or_else(|| fail(0, "no root element".into()))
}

/// Whether `text` parses as [`parse`] would take it, without building the tree: a listing of
/// a hundred megabytes is checked at the reader's speed and nothing is kept. [`parse`] says why
/// when it does not.
pub fn well_formed(text: &str) -> bool {
    walk(text, &mut |_| {})
}

/// What [`walk`] shows of a document as it reads it.
pub enum Step<'a> {
    /// An element starts; `true` when it is empty (`<a/>`: no [`Step::Close`] follows).
    Open(&'a BytesStart<'a>, bool),
    /// Text in an element, unescaped (CDATA as it is).
    Text(&'a str),
    /// The element last opened ends.
    Close,
}

/// Reads `text` as [`parse`] would take it, without building the tree, showing `visit` each
/// step; false (where `parse` fails) as soon as the text is not a document `parse` takes.
pub fn walk(text: &str, visit: &mut dyn FnMut(Step<'_>)) -> bool {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(false);
    let (mut depth, mut roots) = (0usize, 0usize);
    let valid = |reader: &NsReader<&[u8]>, e: &BytesStart| {
        let known = |ns: ResolveResult| !matches!(ns, ResolveResult::Unknown(_));
        known(reader.resolve_element(e.name()).0)
            && e.attributes().all(|a| {
                a.is_ok_and(|a| {
                    // As `element` reads them: declarations skipped, the rest resolved and unescaped.
                    a.key.as_namespace_binding().is_some()
                        || ((a.key.prefix().is_none() || known(reader.resolve_attribute(a.key).0))
                            && a.unescape_value().is_ok())
                })
            })
    };
    loop {
        match reader.read_event() {
            Err(_) => return false,
            Ok(Event::Start(e)) => {
                if depth >= MAX_DEPTH || (depth == 0 && roots > 0) || !valid(&reader, &e) {
                    return false;
                }
                roots += usize::from(depth == 0);
                depth += 1;
                visit(Step::Open(&e, false));
            }
            Ok(Event::Empty(e)) => {
                if (depth == 0 && roots > 0) || !valid(&reader, &e) {
                    return false;
                }
                roots += usize::from(depth == 0);
                visit(Step::Open(&e, true));
            }
            Ok(Event::End(_)) => match depth.checked_sub(1) {
                Some(d) => {
                    depth = d;
                    visit(Step::Close);
                }
                None => return false,
            },
            Ok(Event::Text(t)) => match t.unescape() {
                Ok(s) if depth == 0 && !s.trim().is_empty() => return false,
                Ok(s) if depth > 0 => visit(Step::Text(&s)),
                Ok(_) => {}
                Err(_) => return false,
            },
            Ok(Event::CData(c)) if depth > 0 => visit(Step::Text(&String::from_utf8_lossy(&c))),
            Ok(Event::Eof) => return depth == 0 && roots == 1,
            Ok(_) => {}
        }
    }
}

fn element(reader: &NsReader<&[u8]>, e: &BytesStart, line: usize) -> Result<Element, String> {
    let (ns, _) = reader.resolve_element(e.name());
    let namespace = resolved(ns, e.name().as_ref())?;
    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let prefix = e.name().prefix().map(|p| String::from_utf8_lossy(p.as_ref()).into_owned());
    let mut attributes = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|err| err.to_string())?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let (ns, local) = reader.resolve_attribute(attr.key);
        // Unprefixed attributes are in no namespace, whatever the default namespace is.
        let namespace = if attr.key.prefix().is_some() { resolved(ns, attr.key.as_ref())? } else { None };
        let value = attr.unescape_value().map_err(|err| err.to_string())?.into_owned();
        attributes.push(Attribute { namespace, name: String::from_utf8_lossy(local.as_ref()).into_owned(), value });
    }
    Ok(Element { namespace, name, prefix, attributes, children: Vec::new(), line })
}

fn resolved(ns: ResolveResult, qname: &[u8]) -> Result<Option<String>, String> {
    match ns {
        ResolveResult::Bound(n) => Ok(Some(String::from_utf8_lossy(n.as_ref()).into_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(p) => Err(format!(
            "prefix `{}` of `{}` is not declared",
            String::from_utf8_lossy(&p),
            String::from_utf8_lossy(qname)
        )),
    }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None if root.is_none() => *root = Some(el),
        None => return Err(format!("a second root element <{}>", el.name)),
    }
    Ok(())
}

fn push_text(stack: &mut [Element], s: &str, after_root: bool) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => match parent.children.last_mut() {
            Some(Node::Text(t)) => t.push_str(s),
            _ => parent.children.push(Node::Text(s.to_owned())),
        },
        None if s.trim().is_empty() => {}
        None => {
            let what = if after_root { "after the root element" } else { "before the root element" };
            return Err(format!("text {what}: `{}`", s.trim()));
        }
    }
    Ok(())
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|a| a.namespace.is_none() && a.name == name).map(|a| a.value.as_str())
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The element's text, its children's text included, trimmed.
    pub fn text(&self) -> String {
        let mut out = String::new();
        fn collect(e: &Element, out: &mut String) {
            for n in &e.children {
                match n {
                    Node::Text(t) => out.push_str(t),
                    Node::Element(c) => collect(c, out),
                }
            }
        }
        collect(self, &mut out);
        out.trim().to_owned()
    }

    /// Its own text (not its children's), trimmed; `None` when it is only white space.
    pub fn own_text(&self) -> Option<String> {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        let t = out.trim();
        (!t.is_empty()).then(|| t.to_owned())
    }
}

/// Where two trees first differ, ignoring prefixes, attribute order and white-space-only text.
/// Values in `expected` equal to `wildcard` match anything. `None` when they are the same.
pub fn first_difference(expected: &Element, actual: &Element, wildcard: &str) -> Option<String> {
    fn same(e: &str, a: &str, wildcard: &str) -> bool {
        e == a || e == wildcard
    }
    fn walk(e: &Element, a: &Element, path: &str, wildcard: &str) -> Option<String> {
        let here = format!("{path}/{}", e.name);
        if e.name != a.name || e.namespace != a.namespace {
            return Some(format!("{path}: expected <{}>, got <{}>", qualified(e), qualified(a)));
        }
        for attr in &e.attributes {
            match a.attributes.iter().find(|x| x.name == attr.name && x.namespace == attr.namespace) {
                None => return Some(format!("{here}/@{}: missing", attr.name)),
                Some(x) if !same(&attr.value, &x.value, wildcard) => {
                    return Some(format!("{here}/@{}: expected {:?}, got {:?}", attr.name, attr.value, x.value));
                }
                _ => {}
            }
        }
        if let Some(x) =
            a.attributes.iter().find(|x| !e.attributes.iter().any(|y| y.name == x.name && y.namespace == x.namespace))
        {
            return Some(format!("{here}/@{}: not expected", x.name));
        }
        let (et, at) = (e.own_text(), a.own_text());
        if et != at && !(et.as_deref() == Some(wildcard) && at.is_some()) {
            return Some(format!(
                "{here}: expected text {:?}, got {:?}",
                et.unwrap_or_default(),
                at.unwrap_or_default()
            ));
        }
        let ec: Vec<_> = e.elements().collect();
        let ac: Vec<_> = a.elements().collect();
        for (x, y) in ec.iter().zip(&ac) {
            if let Some(d) = walk(x, y, &here, wildcard) {
                return Some(d);
            }
        }
        match ec.len().cmp(&ac.len()) {
            std::cmp::Ordering::Greater => Some(format!("{here}: missing <{}>", ec[ac.len()].name)),
            std::cmp::Ordering::Less => Some(format!("{here}: unexpected <{}>", ac[ec.len()].name)),
            std::cmp::Ordering::Equal => None,
        }
    }
    walk(expected, actual, "", wildcard)
}

fn qualified(e: &Element) -> String {
    match &e.namespace {
        Some(ns) => format!("{{{ns}}}{}", e.name),
        None => e.name.clone(),
    }
}

/// Escapes element content: `&`, `<` and `>` only, so line breaks stay line breaks.
pub fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Escapes text for an attribute value (or element content); text with nothing to escape, as
/// most ids, names and links are, is borrowed as it is.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    let plain = |b: &u8| *b >= 0x20 && !matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'');
    if s.bytes().all(|b| plain(&b)) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_parser_never_panics(text in "(<[a-zA-Z:]{0,4}( [a-z]{1,3}=\"[^\"]{0,4}\")?/?>|</[a-zA-Z:]{0,4}>|[^<]{0,6}|&[a-z#0-9]{0,4};){0,12}") {
            let _ = parse(&text);
        }

        #[test]
        fn the_check_without_a_tree_agrees_with_the_parser(text in "(<[ab]{1,2}(:[ab])?( (xmlns(:[ab])?|[ab]:?[ab]?)=\"[a&;]{0,3}\")?/?>|</[ab]{1,2}(:[ab])?>|[ a&;<]{0,3}|&[a-z#0-9]{0,4};|<!-- x -->|<\\?xml version=\"1.0\"\\?>){0,10}") {
            proptest::prop_assert_eq!(well_formed(&text), parse(&text).is_ok(), "{}", text);
        }
    }

    #[test]
    fn resolves_namespaces_and_drops_declarations() {
        let root =
            parse(r#"<?xml version="1.0"?><e:Task xmlns:e="urn:x" Type="Task"><e:State>Running</e:State></e:Task>"#)
                .unwrap();
        assert_eq!(root.namespace.as_deref(), Some("urn:x"));
        assert_eq!(root.prefix.as_deref(), Some("e"));
        assert_eq!(root.attributes.len(), 1);
        assert_eq!(root.child("State").map(Element::text).as_deref(), Some("Running"));
    }

    #[test]
    fn prefixes_and_attribute_order_do_not_count() {
        let a = parse(r#"<Spec xmlns="urn:v" A="1" B="2"><X>true</X></Spec>"#).unwrap();
        let b = parse("<p:Spec xmlns:p=\"urn:v\" B=\"2\" A=\"1\">\n  <p:X>true</p:X>\n</p:Spec>").unwrap();
        assert_eq!(first_difference(&a, &b, "{{redacted}}"), None);
        let c = parse(r#"<Spec xmlns="urn:v" A="1" B="2"><X>false</X></Spec>"#).unwrap();
        assert_eq!(first_difference(&a, &c, "*").as_deref(), Some("/Spec/X: expected text \"true\", got \"false\""));
        let d = parse(r#"<Spec xmlns="urn:other" A="1" B="2"><X>true</X></Spec>"#).unwrap();
        assert!(first_difference(&a, &d, "*").unwrap().contains("{urn:v}Spec"));
    }

    #[test]
    fn wildcards_match_any_value() {
        let a = parse("<L><Password>{{redacted}}</Password></L>").unwrap();
        let b = parse("<L><Password>hunter2</Password></L>").unwrap();
        assert_eq!(first_difference(&a, &b, "{{redacted}}"), None);
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("<a>\n  <b></c>\n</a>").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("b"), "{e}");
        assert!(parse("<a/><b/>").unwrap_err().message.contains("second root"));
        assert!(parse("<a>").unwrap_err().message.contains("never closed"));
        assert!(parse("<x:a/>").unwrap_err().message.contains("not declared"));
    }

    #[test]
    fn escapes_attribute_values() {
        assert_eq!(escape("a<b & \"c\"\nd"), "a&lt;b &amp; &quot;c&quot;&#10;d");
    }
}
