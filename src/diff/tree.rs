//! Bodies as compact trees for comparison: every element (XML) or object (JSON) is a node in
//! one arena, its strings are spans into the source text where they can be, so an 83 MB list
//! costs little more than the 83 MB itself.
//!
//! An XML body can also be read as a skeleton: an element with a `UID` below the root (an item
//! of a list, an entity inside another) is kept with its attributes and its place, but what it
//! holds is parsed only when it is compared ([`Tree::item`]). The two 560 MB listings of half a
//! million task sessions are then two small skeletons, and a pair of items that are byte for byte
//! the same is never parsed at all.

use std::sync::{Arc, OnceLock};

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::xml::XmlError;

/// A string of the tree: a span of the source, or (with `start` = `OWNED`) the `len`-th
/// string the tree owns. Eight bytes, so the arena of an 83 MB body stays small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Str {
    start: u32,
    len: u32,
}

const OWNED: u32 = u32::MAX;

pub(crate) const NONE: u32 = u32::MAX;

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub name: Str,
    /// Index into `Tree::namespaces`; 0 is no namespace.
    pub ns: u32,
    pub prefix: Option<Str>,
    pub attrs: (u32, u32),
    pub first_child: u32,
    pub next_sibling: u32,
    pub text: Option<Str>,
    /// Byte offsets of the node's source text (0, 0 for JSON).
    pub offset: u32,
    pub end: u32,
    /// The JSON type of the value it stands for ([`json_type`]); 0 in XML.
    pub json: u8,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Attr {
    pub name: Str,
    pub value: Str,
    /// The JSON type of the value ([`json_type`]); 0 in XML.
    pub json: u8,
}

/// Set on the JSON type of a value that is an item of an array.
pub(crate) const IN_ARRAY: u8 = 0x80;

/// A JSON value's type as the tree keeps it: 1 string, 2 number, 3 boolean, 4 null, 5 object,
/// 6 array (of arrays).
pub(crate) fn json_type(v: &serde_json::Value) -> u8 {
    use serde_json::Value;
    match v {
        Value::String(_) => 1,
        Value::Number(_) => 2,
        Value::Bool(_) => 3,
        Value::Null => 4,
        Value::Object(_) => 5,
        Value::Array(_) => 6,
    }
}

/// A JSON type in words, for reports.
pub(crate) fn json_type_name(t: u8) -> String {
    let base = match t & !IN_ARRAY {
        1 => "string",
        2 => "number",
        3 => "boolean",
        4 => "null",
        5 => "object",
        6 => "array",
        _ => "value",
    };
    if t & IN_ARRAY != 0 { format!("array of {base}") } else { base.to_owned() }
}

/// One parsed body.
pub(crate) struct Tree<'a> {
    src: &'a str,
    own: Vec<String>,
    pub nodes: Vec<Node>,
    pub attrs: Vec<Attr>,
    pub namespaces: Vec<String>,
    /// XML or JSON.
    pub json: bool,
    /// A skeleton's items left unparsed, in the order of their nodes: each with the namespace
    /// scope it is in (an index into `scopes`).
    lazy: Vec<(u32, u32)>,
    scopes: Vec<Scope>,
    /// Offsets of the source's line breaks, found the first time a line number is asked for
    /// (and shared with the trees of the items).
    line_breaks: Arc<OnceLock<Vec<u32>>>,
}

/// The namespace prefixes in force: each with its index into `Tree::namespaces`.
type Scope = Vec<(String, u32)>;

impl<'a> Tree<'a> {
    pub fn s(&self, s: Str) -> &str {
        if s.start == OWNED {
            &self.own[s.len as usize]
        } else {
            &self.src[s.start as usize..(s.start + s.len) as usize]
        }
    }

    pub fn root(&self) -> u32 {
        0
    }

    pub fn name(&self, n: u32) -> &str {
        self.s(self.nodes[n as usize].name)
    }

    pub fn children(&self, n: u32) -> impl Iterator<Item = u32> + '_ {
        let mut next = self.nodes[n as usize].first_child;
        std::iter::from_fn(move || {
            (next != NONE).then(|| {
                let current = next;
                next = self.nodes[current as usize].next_sibling;
                current
            })
        })
    }

    pub fn attributes(&self, n: u32) -> impl Iterator<Item = (&str, &str)> + '_ {
        let (start, len) = self.nodes[n as usize].attrs;
        self.attrs[start as usize..(start + len) as usize].iter().map(|a| (self.s(a.name), self.s(a.value)))
    }

    /// Attributes with their JSON types.
    pub fn typed_attributes(&self, n: u32) -> impl Iterator<Item = (&str, u8)> + '_ {
        let (start, len) = self.nodes[n as usize].attrs;
        self.attrs[start as usize..(start + len) as usize].iter().map(|a| (self.s(a.name), a.json))
    }

    pub fn attribute(&self, n: u32, name: &str) -> Option<&str> {
        self.attributes(n).find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    pub fn text(&self, n: u32) -> Option<&str> {
        self.nodes[n as usize].text.map(|t| self.s(t))
    }

    #[cfg(test)]
    pub fn namespace(&self, n: u32) -> &str {
        &self.namespaces[self.nodes[n as usize].ns as usize]
    }

    pub fn prefix(&self, n: u32) -> Option<&str> {
        self.nodes[n as usize].prefix.map(|p| self.s(p))
    }

    /// Whether node `n` and node `m` of `other` have byte-identical source text.
    pub fn same_source(&self, n: u32, other: &Tree<'_>, m: u32) -> bool {
        let (a, b) = (&self.nodes[n as usize], &other.nodes[m as usize]);
        a.end > a.offset
            && b.end > b.offset
            && self.src.as_bytes()[a.offset as usize..a.end as usize]
                == other.src.as_bytes()[b.offset as usize..b.end as usize]
    }

    /// Line of node `n` in the source (1-based).
    pub fn line(&self, n: u32) -> usize {
        let at = self.nodes[n as usize].offset;
        let breaks = self
            .line_breaks
            .get_or_init(|| memchr::memchr_iter(b'\n', self.src.as_bytes()).map(|i| i as u32).collect());
        breaks.partition_point(|b| *b < at) + 1
    }

    fn has_uid(&self, node: &Node) -> bool {
        let (start, len) = node.attrs;
        self.attrs[start as usize..(start + len) as usize].iter().any(|a| self.s(a.name) == "UID")
    }

    fn intern(&mut self, s: &str) -> Str {
        // A slice of the source is kept as a span; anything else is owned.
        match start_in(self.src, s.as_bytes()) {
            Some(start) if self.src.len() < OWNED as usize => Str { start: start as u32, len: s.len() as u32 },
            _ => {
                self.own.push(s.to_owned());
                Str { start: OWNED, len: self.own.len() as u32 - 1 }
            }
        }
    }

    fn new(src: &'a str, json: bool) -> Tree<'a> {
        Tree {
            src,
            own: Vec::new(),
            nodes: Vec::new(),
            attrs: Vec::new(),
            namespaces: vec![String::new()],
            json,
            lazy: Vec::new(),
            scopes: Vec::new(),
            line_breaks: Default::default(),
        }
    }

    /// Whether node `n` is an item of a skeleton, its content not yet parsed.
    pub fn is_lazy(&self, n: u32) -> bool {
        self.lazy.binary_search_by_key(&n, |(id, _)| *id).is_ok()
    }

    /// Node `n` parsed whole, as a tree of its own (its root is node 0) over the same source:
    /// its offsets, lines and namespace indices are those of this tree. `None` when `n` is not
    /// lazy (it is parsed already).
    pub fn item(&self, n: u32) -> Option<Result<Tree<'a>, XmlError>> {
        let at = self.lazy.binary_search_by_key(&n, |(id, _)| *id).ok()?;
        let scope = self.scopes[self.lazy[at].1 as usize].clone();
        let node = &self.nodes[n as usize];
        let mut tree = Tree::new(self.src, false);
        tree.namespaces = self.namespaces.clone();
        tree.line_breaks = Arc::clone(&self.line_breaks);
        Some(read_xml(&mut tree, node.offset as usize..node.end as usize, scope, false).map(|()| tree))
    }

    /// Appends `node` as the last child of `parent`: its id, and where its last child so far
    /// is kept (only the open elements need one, not every node).
    fn push(&mut self, node: Node, parent: Option<(u32, &mut u32)>) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(node);
        if let Some((p, last)) = parent {
            if *last == NONE {
                self.nodes[p as usize].first_child = id;
            } else {
                self.nodes[*last as usize].next_sibling = id;
            }
            *last = id;
        }
        id
    }
}

fn position(src: &str, offset: usize) -> (usize, usize) {
    let before = &src.as_bytes()[..offset.min(src.len())];
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    (line, String::from_utf8_lossy(&before[start..]).chars().count() + 1)
}

/// Parses XML, resolving namespaces, keeping strings as spans of `src`.
#[cfg(test)]
pub(crate) fn parse_xml(src: &str) -> Result<Tree<'_>, XmlError> {
    parse_xml_in(room_for_xml(src))
}

/// An empty tree of `src` with room for every element and attribute it can have (a tag each,
/// an `=` each), so that a listing's arena of millions of nodes is not copied as it grows
/// (what is not used is never touched). Made on the thread that will free it, it is parsed
/// into on another without leaving memory behind there.
pub(crate) fn room_for_xml(src: &str) -> Tree<'_> {
    let mut tree = Tree::new(src, false);
    tree.nodes.reserve(memchr::memchr_iter(b'<', src.as_bytes()).count());
    tree.attrs.reserve(memchr::memchr_iter(b'=', src.as_bytes()).count());
    tree
}

/// Parses the XML of `tree`'s source into it.
pub(crate) fn parse_xml_in(mut tree: Tree<'_>) -> Result<Tree<'_>, XmlError> {
    let whole = 0..tree.src.len();
    read_xml(&mut tree, whole, Vec::new(), false)?;
    Ok(tree)
}

/// Parses XML as a skeleton: the elements with a `UID` below the root are kept unparsed (see
/// the module's documentation). What an item holds is checked only when it is parsed: tags that
/// do not nest are found now, an undeclared prefix or a bad attribute in an item never compared
/// (the same on both sides, or only on one) is not.
pub(crate) fn skeleton_xml(src: &str) -> Result<Tree<'_>, XmlError> {
    let mut tree = Tree::new(src, false);
    // Offsets are 32 bits: a body of 4 GiB or more is parsed whole, its items' spans unused.
    let skeleton = src.len() < OWNED as usize;
    read_xml(&mut tree, 0..src.len(), Vec::new(), skeleton)?;
    Ok(tree)
}

/// Parses the element (or document) at `span` of `tree`'s source into it, in the namespace
/// scope `scopes`; with `skeleton`, its items are left unparsed.
fn read_xml(
    tree: &mut Tree<'_>,
    span: std::ops::Range<usize>,
    mut scopes: Scope,
    skeleton: bool,
) -> Result<(), XmlError> {
    let src = tree.src;
    let (base, end) = (span.start, span.end);
    let mut reader = Reader::from_str(&src[span]);
    reader.config_mut().trim_text(false);
    // Open elements, with how many namespace declarations each made and their last child.
    let mut stack: Vec<(u32, usize, u32)> = Vec::new();
    let mut root_done = false;
    let fail = |offset: usize, message: String| {
        let (line, column) = position(src, offset);
        XmlError { line, column, message }
    };
    loop {
        let offset = base + reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => return Err(fail(base + reader.error_position() as usize, e.to_string())),
        };
        match event {
            Event::Start(e) | Event::Empty(e) if root_done && stack.is_empty() => {
                let _ = e;
                return Err(fail(offset, "a second root element".into()));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let (node, declared) = element(tree, e, offset, &mut scopes).map_err(|m| fail(offset, m))?;
                let lazy = skeleton && !empty && !stack.is_empty() && tree.has_uid(&node);
                let id = tree.push(node, stack.last_mut().map(|(id, _, last)| (*id, last)));
                if lazy {
                    // Kept for later, in the scope it opened in (its own declarations are read
                    // again then).
                    let outer = &scopes[..scopes.len() - declared];
                    if tree.scopes.last().map(Vec::as_slice) != Some(outer) {
                        tree.scopes.push(outer.to_vec());
                    }
                    tree.lazy.push((id, tree.scopes.len() as u32 - 1));
                    reader
                        .read_to_end(e.name())
                        .map_err(|err| fail(base + reader.error_position() as usize, err.to_string()))?;
                }
                if empty || lazy {
                    tree.nodes[id as usize].end = (base + reader.buffer_position() as usize) as u32;
                    scopes.truncate(scopes.len() - declared);
                    if stack.is_empty() {
                        root_done = true;
                    }
                } else {
                    stack.push((id, declared, NONE));
                }
            }
            Event::End(_) => {
                let Some((id, declared, _)) = stack.pop() else {
                    return Err(fail(offset, "closing tag without an opening one".into()));
                };
                tree.nodes[id as usize].end = (base + reader.buffer_position() as usize) as u32;
                scopes.truncate(scopes.len() - declared);
                if stack.is_empty() {
                    root_done = true;
                }
            }
            Event::Text(t) => {
                let raw = std::str::from_utf8(t.as_ref()).unwrap_or("");
                let trimmed = raw.trim();
                if trimmed.is_empty() {
                    continue;
                }
                match stack.last() {
                    Some((id, _, _)) => {
                        let id = *id;
                        let value = if trimmed.contains('&') {
                            let unescaped = quick_xml::escape::unescape(trimmed)
                                .map_err(|e| fail(offset, e.to_string()))?
                                .into_owned();
                            tree.intern(&unescaped)
                        } else {
                            tree.intern(trimmed)
                        };
                        if tree.nodes[id as usize].text.is_none() {
                            tree.nodes[id as usize].text = Some(value);
                        }
                    }
                    None => return Err(fail(offset, format!("text outside the root element: `{trimmed}`"))),
                }
            }
            Event::CData(c) => {
                if let Some((id, _, _)) = stack.last() {
                    let id = *id;
                    let text = String::from_utf8_lossy(&c).into_owned();
                    let s = tree.intern(&text);
                    tree.nodes[id as usize].text.get_or_insert(s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some((id, _, _)) = stack.last() {
        return Err(fail(end, format!("<{}> is never closed", tree.name(*id))));
    }
    if tree.nodes.is_empty() {
        return Err(fail(0, "no root element".into()));
    }
    Ok(())
}

/// Where `bytes` start in `src`, when they are a slice of it.
fn start_in(src: &str, bytes: &[u8]) -> Option<usize> {
    let start = (bytes.as_ptr() as usize).checked_sub(src.as_ptr() as usize)?;
    (start + bytes.len() <= src.len()).then_some(start)
}

/// `bytes` as text: the span of `src` they are (found without reading them again: a listing's
/// millions of attributes), or else checked as UTF-8.
fn spanned<'s>(src: &'s str, bytes: &'s [u8]) -> Option<&'s str> {
    start_in(src, bytes)
        .and_then(|start| src.get(start..start + bytes.len()))
        .or_else(|| std::str::from_utf8(bytes).ok())
}

/// The node for a start tag (not yet linked), and how many namespaces it declared.
fn element(
    tree: &mut Tree<'_>,
    e: &BytesStart<'_>,
    offset: usize,
    scopes: &mut Scope,
) -> Result<(Node, usize), String> {
    let attr_start = tree.attrs.len() as u32;
    let mut declared = 0;
    for attr in e.attributes().with_checks(false) {
        let attr = attr.map_err(|err| err.to_string())?;
        let (src, key, value) = (tree.src, attr.key.as_ref(), attr.value.as_ref());
        let key = spanned(src, key).ok_or_else(|| "an attribute name is not UTF-8".to_owned())?;
        let value = spanned(src, value).ok_or_else(|| "an attribute value is not UTF-8".to_owned())?;
        // The first byte first: most attributes are not declarations (and a comparison of
        // strings is a call).
        if key.starts_with('x') && (key == "xmlns" || key.starts_with("xmlns:")) {
            let prefix = key.strip_prefix("xmlns:").unwrap_or("").to_owned();
            let uri = quick_xml::escape::unescape(value).map_err(|e| e.to_string())?;
            let index = match tree.namespaces.iter().position(|n| *n == uri) {
                Some(i) => i as u32,
                None => {
                    tree.namespaces.push(uri.into_owned());
                    tree.namespaces.len() as u32 - 1
                }
            };
            scopes.push((prefix, index));
            declared += 1;
            continue;
        }
        let value = if value.contains('&') {
            let unescaped = quick_xml::escape::unescape(value).map_err(|e| e.to_string())?.into_owned();
            tree.intern(&unescaped)
        } else {
            tree.intern(value)
        };
        let name = tree.intern(key.rsplit(':').next().unwrap_or(key));
        tree.attrs.push(Attr { name, value, json: 0 });
    }
    let qname = spanned(tree.src, e.name().into_inner()).ok_or_else(|| "an element name is not UTF-8".to_owned())?;
    let (prefix, local) = match qname.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, qname),
    };
    let wanted = prefix.unwrap_or("");
    let ns = match scopes.iter().rev().find(|(p, _)| p.len() == wanted.len() && (p.is_empty() || p == wanted)) {
        Some((_, i)) => *i,
        None if prefix.is_none() => 0,
        None => return Err(format!("prefix `{wanted}` of `{qname}` is not declared")),
    };
    let name = tree.intern(local);
    let prefix = prefix.map(|p| tree.intern(p));
    let attrs = (attr_start, tree.attrs.len() as u32 - attr_start);
    Ok((
        Node {
            name,
            ns,
            prefix,
            attrs,
            first_child: NONE,
            next_sibling: NONE,
            text: None,
            offset: offset as u32,
            end: 0,
            json: 0,
        },
        declared,
    ))
}

/// Builds a tree from JSON: an object is a node whose scalar members are its attributes and
/// whose object members are children; an array's items are children of the array's name.
pub(crate) fn parse_json(src: &str) -> Result<Tree<'_>, XmlError> {
    let value: serde_json::Value = serde_json::from_str(src.trim_start_matches('\u{feff}')).map_err(|e| XmlError {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let mut tree = Tree::new(src, true);
    let name = tree.intern("$");
    build_json(&mut tree, &value, name, json_type(&value), None);
    Ok(tree)
}

fn build_json(tree: &mut Tree<'_>, v: &serde_json::Value, name: Str, json: u8, parent: Option<(u32, &mut u32)>) {
    use serde_json::Value;
    let node = Node {
        name,
        ns: 0,
        prefix: None,
        attrs: (0, 0),
        first_child: NONE,
        next_sibling: NONE,
        text: None,
        offset: 0,
        end: 0,
        json,
    };
    let id = tree.push(node, parent);
    let mut last = NONE;
    match v {
        Value::Object(map) => {
            let mut attrs = Vec::new();
            let mut nested = Vec::new();
            for (k, x) in map {
                match x {
                    Value::Object(_) => nested.push((k, x, json_type(x))),
                    Value::Array(items) => {
                        for item in items {
                            nested.push((k, item, json_type(item) | IN_ARRAY));
                        }
                    }
                    scalar => attrs.push((k, scalar)),
                }
            }
            let start = tree.attrs.len() as u32;
            for (k, x) in attrs {
                let name = tree.intern(k);
                let text = match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let value = tree.intern(&text);
                tree.attrs.push(Attr { name, value, json: json_type(x) });
            }
            tree.nodes[id as usize].attrs = (start, tree.attrs.len() as u32 - start);
            for (k, x, json) in nested {
                let name = tree.intern(k);
                build_json(tree, x, name, json, Some((id, &mut last)));
            }
        }
        Value::Array(items) => {
            for item in items {
                build_json(tree, item, name, json_type(item) | IN_ARRAY, Some((id, &mut last)));
            }
        }
        scalar => {
            let text = match scalar {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let t = tree.intern(&text);
            tree.nodes[id as usize].text = Some(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_trees_keep_spans_and_resolve_namespaces() {
        let src = r#"<?xml version="1.0"?><E xmlns="urn:a"><Ref UID="u1" Name="a &amp; b"><Links><Link Rel="Up"/></Links></Ref><x:Ref xmlns:x="urn:b" UID="u2">t</x:Ref></E>"#;
        let t = parse_xml(src).unwrap();
        let refs: Vec<u32> = t.children(0).collect();
        assert_eq!(refs.len(), 2);
        assert_eq!(t.attribute(refs[0], "Name"), Some("a & b"));
        assert_eq!(t.namespace(refs[0]), "urn:a");
        assert_eq!(t.namespace(refs[1]), "urn:b");
        assert_eq!(t.prefix(refs[1]), Some("x"));
        assert_eq!(t.text(refs[1]), Some("t"));
        assert_ne!(t.nodes[refs[0] as usize].name.start, OWNED, "names are spans of the source");
    }

    #[test]
    fn xml_errors_have_positions() {
        let e = parse_xml("<a>\n<b></c>").err().unwrap();
        assert_eq!(e.line, 2);
        assert!(parse_xml("<a/><b/>").err().unwrap().message.contains("second root"));
        assert!(parse_xml("<a>").err().unwrap().message.contains("never closed"));
    }

    #[test]
    fn json_trees_read_like_xml() {
        let t = parse_json(r#"{"Refs":[{"UID":"u1","Links":[{"Rel":"Up","Href":"h"}]},{"UID":"u2"}],"N":1}"#).unwrap();
        let kids: Vec<&str> = t.children(0).map(|c| t.name(c)).collect();
        assert_eq!(kids, ["Refs", "Refs"]);
        assert_eq!(t.attribute(0, "N"), Some("1"));
        let first = t.children(0).next().unwrap();
        assert_eq!(t.attribute(first, "UID"), Some("u1"));
        let link = t.children(first).next().unwrap();
        assert_eq!((t.name(link), t.attribute(link, "Rel")), ("Links", Some("Up")));
    }
}
