//! EM's links: what a `<Link Rel Type Href Name/>` (JSON `{"Rel", "Type", "Href", "Name"}`) is,
//! and the one reader that finds them in a body, with every resource's own `Href` (a `Ref`, an
//! entity). The body is streamed (XML) or walked once (JSON); the parsed-tree forms serve those
//! that hold a tree already (the runner's documents, the model's catalog).

use std::ops::ControlFlow;

use serde_json::{Map, Value as Json};

use super::Repr;
use crate::xml::Element;

/// A link as EM writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub rel: String,
    pub kind: Option<String>,
    pub href: String,
    pub name: Option<String>,
}

impl Link {
    /// `Rel Type`, or `Rel` alone when the link has no Type.
    pub fn describe(&self) -> String {
        match &self.kind {
            Some(k) => format!("{} {k}", self.rel),
            None => self.rel.clone(),
        }
    }

    /// The link an element is, when it is a `<Link>` with `Rel` and `Href`.
    pub fn of_element(e: &Element) -> Option<Link> {
        if e.name != "Link" {
            return None;
        }
        Some(Link {
            rel: e.attribute("Rel")?.to_owned(),
            kind: e.attribute("Type").map(str::to_owned),
            href: e.attribute("Href")?.to_owned(),
            name: e.attribute("Name").map(str::to_owned),
        })
    }

    /// The link a JSON object is, when it has `Rel` and `Href`.
    pub fn of_object(m: &Map<String, Json>) -> Option<Link> {
        Some(Link {
            rel: text(m, "Rel")?.to_owned(),
            kind: text(m, "Type").map(str::to_owned),
            href: text(m, "Href")?.to_owned(),
            name: text(m, "Name").map(str::to_owned),
        })
    }
}

/// The string value of a member EM names `key` (PascalCase, as EM before 13 writes JSON) or
/// its camelCase twin (as EM 13 does).
pub fn text<'a>(m: &'a Map<String, Json>, key: &str) -> Option<&'a str> {
    member(m, key).and_then(Json::as_str)
}

/// The member EM names `key`, PascalCase or camelCase.
pub fn member<'a>(m: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    m.get(key).or_else(|| {
        // Spelled on the stack: this runs for every member of every JSON body a model reads.
        let mut camel = [0u8; 64];
        let camel = camel.get_mut(..key.len())?;
        camel.copy_from_slice(key.as_bytes());
        camel.first_mut()?.make_ascii_lowercase();
        m.get(std::str::from_utf8(camel).ok()?)
    })
}

/// The links of `e`'s own `Links` (not those of the resources inside it).
pub fn own_links_of_element(e: &Element) -> Vec<Link> {
    e.child("Links").map(|l| l.elements().filter_map(Link::of_element).collect()).unwrap_or_default()
}

/// The links of an object's own `Links` array.
pub fn own_links_of_object(m: &Map<String, Json>) -> Vec<Link> {
    member(m, "Links")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(|l| l.as_object().and_then(Link::of_object)).collect())
        .unwrap_or_default()
}

/// Every link under `e`, in document order.
pub fn links_under_element(e: &Element, out: &mut Vec<Link>) {
    out.extend(Link::of_element(e));
    for c in e.elements() {
        links_under_element(c, out);
    }
}

/// Every link under `v`, in document order.
pub fn links_under_json(v: &Json, out: &mut Vec<Link>) {
    match v {
        Json::Object(m) => {
            out.extend(Link::of_object(m));
            m.values().for_each(|x| links_under_json(x, out));
        }
        Json::Array(a) => a.iter().for_each(|x| links_under_json(x, out)),
        _ => {}
    }
}

/// An `Href` in a body: a link's (`rel` is its Rel) or a resource's own (`rel` is `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub href: String,
    pub rel: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    /// A link of the body's root resource (its own `Links`), as the logon's `Delete` is.
    pub root: bool,
}

/// Every `Href` of `body`, in document order. Of a list's items (resources inside another
/// one) only the first `sample` are read, with what is inside them; `None` reads them all.
/// A body that stops parsing gives what came before.
pub fn hrefs(body: &str, repr: Repr, sample: Option<usize>) -> Vec<Found> {
    let mut out = Vec::new();
    each_href(body, repr, sample, &mut |found| {
        out.push(found);
        ControlFlow::Continue(())
    });
    out
}

/// [`hrefs`] one at a time, until `f` breaks: an XML body is read no further than that.
pub fn each_href(body: &str, repr: Repr, sample: Option<usize>, f: &mut dyn FnMut(Found) -> ControlFlow<()>) {
    let sample = sample.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    match repr {
        Repr::Xml => return xml_hrefs(body, sample, f),
        Repr::Json => match super::node::parse_sampled(body, sample) {
            Ok(Some(node)) => node_hrefs(&node, sample, Place::Root, &mut out),
            Ok(None) => {
                if let Ok(v) = serde_json::from_str::<Json>(body) {
                    json_hrefs(&v, sample, Place::Root, &mut out);
                }
            }
            Err(_) => {}
        },
    }
    for found in out {
        if f(found).is_break() {
            break;
        }
    }
}

/// How many of a list's items a walk of the links reads (`emtape lint`'s): the others have
/// their shapes. A pack keeps where each large listing can be cut to those items
/// ([`super::list::sample_cut`]), so that a walk reads no more of it.
pub const SAMPLED_ITEMS: usize = 3;

/// The method EM expects for a link's Rel: `Delete` is DELETE, `Edit` is PUT, actions
/// (`Create`, `Restore`, `Start`, ...) are POST, everything else is GET.
pub fn method_for_rel(rel: &str) -> &'static str {
    match rel {
        "Delete" => "DELETE",
        "Edit" => "PUT",
        "Create"
        | "Restore"
        | "Start"
        | "Stop"
        | "Retry"
        | "Test"
        | "Clone"
        | "Failover"
        | "Download"
        | "VeeamZip"
        | "QuickBackup"
        | "ToggleScheduleEnabled"
        | "ToggleRestoreScopesEnabled" => "POST",
        _ => "GET",
    }
}

/// The Rels of the links a client may follow with a GET (not `Edit`, `Delete`, actions).
pub const GET_RELS: [&str; 8] = ["Down", "Up", "Alternate", "Related", "First", "Next", "Previous", "Last"];

impl Found {
    /// Whether a client may GET it: a resource's own Href, or a link of a [`GET_RELS`] Rel.
    pub fn may_get(&self) -> bool {
        self.rel.as_deref().is_none_or(|r| GET_RELS.contains(&r))
    }
}

/// The `Href`s of `body` a client may GET (see [`hrefs`] for `sample`).
pub fn gettable(body: &str, repr: Repr, sample: Option<usize>) -> Vec<Found> {
    hrefs(body, repr, sample).into_iter().filter(Found::may_get).collect()
}

/// [`gettable`] one at a time, until `f` breaks.
pub fn each_gettable(body: &str, repr: Repr, sample: Option<usize>, f: &mut dyn FnMut(Found) -> ControlFlow<()>) {
    each_href(body, repr, sample, &mut |found| if found.may_get() { f(found) } else { ControlFlow::Continue(()) });
}

/// The links of the body's root resource.
pub fn root_links(body: &str, repr: Repr) -> Vec<Link> {
    hrefs(body, repr, Some(0))
        .into_iter()
        .filter(|f| f.root)
        .filter_map(|f| Some(Link { rel: f.rel?, kind: f.kind, href: f.href, name: f.name }))
        .collect()
}

/// Where a JSON value sits: the root object, its own `Links` array, or anywhere else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Root,
    RootLinks,
    Inside,
}

fn json_hrefs(v: &Json, sample: usize, place: Place, out: &mut Vec<Found>) {
    match v {
        Json::Object(m) => {
            if let Some(href) = text(m, "Href") {
                out.push(Found {
                    href: href.to_owned(),
                    rel: text(m, "Rel").map(str::to_owned),
                    kind: text(m, "Type").map(str::to_owned),
                    name: text(m, "Name").map(str::to_owned),
                    root: place == Place::RootLinks && text(m, "Rel").is_some(),
                });
            }
            for (key, x) in m {
                let links = place == Place::Root && key.eq_ignore_ascii_case("Links") && x.is_array();
                json_hrefs(x, sample, if links { Place::RootLinks } else { Place::Inside }, out);
            }
        }
        Json::Array(a) => {
            let mut items = 0;
            for x in a {
                let item = x.as_object().is_some_and(|m| text(m, "Href").is_some() && text(m, "Rel").is_none());
                if item {
                    items += 1;
                    if items > sample {
                        continue;
                    }
                }
                json_hrefs(x, sample, if place == Place::RootLinks { place } else { Place::Inside }, out);
            }
        }
        _ => {}
    }
}

/// [`json_hrefs`] of a body read as a [`super::node::Node`] (only the members it reads kept).
fn node_hrefs(v: &super::node::Node, sample: usize, place: Place, out: &mut Vec<Found>) {
    use super::node::Node;
    match v {
        Node::Object(m) => {
            if let Some(href) = m.text("Href") {
                out.push(Found {
                    href: href.to_owned(),
                    rel: m.text("Rel").map(str::to_owned),
                    kind: m.text("Type").map(str::to_owned),
                    name: m.text("Name").map(str::to_owned),
                    root: place == Place::RootLinks && m.text("Rel").is_some(),
                });
            }
            for (i, x) in m.children.iter().enumerate() {
                let links = place == Place::Root && matches!(x, Node::Array(_)) && m.links_children.contains(&i);
                node_hrefs(x, sample, if links { Place::RootLinks } else { Place::Inside }, out);
            }
        }
        Node::Array(a) => {
            let mut items = 0;
            for x in a {
                if x.is_item() {
                    items += 1;
                    if items > sample {
                        continue;
                    }
                }
                node_hrefs(x, sample, if place == Place::RootLinks { place } else { Place::Inside }, out);
            }
        }
        Node::Text(_) | Node::Other => {}
    }
}

/// The XML side of [`hrefs`], streamed: a 10,000-item list is read once, without building its
/// tree, and the items past `sample` are skipped whole.
fn xml_hrefs(body: &str, sample: usize, f: &mut dyn FnMut(Found) -> ControlFlow<()>) {
    use quick_xml::events::{BytesStart, Event};
    /// Per open element: how many items it holds so far, whether it is skipped, and whether
    /// it is the root's `Links`.
    struct Frame {
        items: usize,
        skipped: bool,
        root_links: bool,
    }
    let mut reader = quick_xml::Reader::from_str(body);
    let mut stack: Vec<Frame> = Vec::new();
    let mut stop = false;
    let mut visit = |e: &BytesStart<'_>, stack: &mut Vec<Frame>, stop: &mut bool| -> bool {
        if stack.last().is_some_and(|f| f.skipped) {
            return true;
        }
        // An item past the sample is skipped before any of its attributes is read.
        let link = e.local_name().as_ref() == b"Link";
        if !link && stack.last().is_some_and(|f| f.items >= sample) {
            let has_href = e.attributes().flatten().any(|a| a.key.local_name().as_ref() == b"Href");
            if let (true, Some(parent)) = (has_href, stack.last_mut()) {
                parent.items += 1;
                return true;
            }
            return false;
        }
        let (mut href, mut rel, mut kind, mut name) = (None, None, None, None);
        for a in e.attributes().flatten() {
            let value = || a.unescape_value().map(|v| v.into_owned()).ok();
            match a.key.local_name().as_ref() {
                b"Href" => href = value(),
                b"Rel" => rel = value(),
                b"Type" => kind = value(),
                b"Name" => name = value(),
                _ => {}
            }
        }
        let Some(href) = href else { return false };
        if !link {
            if let Some(parent) = stack.last_mut() {
                parent.items += 1;
                if parent.items > sample {
                    return true;
                }
            }
        }
        let root = link && stack.last().is_some_and(|f| f.root_links);
        let rel = if link { Some(rel.unwrap_or_default()) } else { None };
        *stop = f(Found { href, rel, kind, name, root }).is_break();
        false
    };
    while !stop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let skipped = visit(&e, &mut stack, &mut stop);
                let root_links = stack.len() == 1 && e.local_name().as_ref() == b"Links";
                stack.push(Frame { items: 0, skipped, root_links });
            }
            Ok(Event::Empty(e)) => {
                visit(&e, &mut stack, &mut stop);
            }
            Ok(Event::End(_)) => {
                stack.pop();
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// A resource a body names: an element with `Href` and `Type` that is not a `Link`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub href: String,
    pub kind: String,
    pub name: Option<String>,
    pub uid: Option<String>,
    /// The links of its own `Links` element, when it has one.
    pub links: Option<Vec<Link>>,
    /// Written as a reference element (`Ref`, `EntityRef`).
    pub reference: bool,
    /// The body's root element.
    pub root: bool,
}

/// What an XML body names, in document order: every link and every resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    Link(Link),
    Resource(Named),
}

/// Every link and resource of an XML body in document order, each resource with its own links.
/// `None` for a body that is not well-formed (its unbalanced tags, a bad escape), which names
/// nothing.
pub fn xml_seen(body: &str) -> Option<Vec<Seen>> {
    let mut out = Vec::new();
    xml_seen_each(body, &mut |seen| out.push(seen))?;
    Some(out)
}

/// What [`xml_seen`] gives, handed to `each` as soon as it is whole (a resource once its
/// element has closed, with its links): a list of a hundred thousand items is read at the speed
/// of the reader, holding one item's at a time. Streamed, no tree is built. `None` when the
/// body turns out not to be well-formed, after what came before was handed over: a caller that
/// must learn nothing from such a body keeps what it is handed apart until then.
pub fn xml_seen_each(body: &str, each: &mut impl FnMut(Seen)) -> Option<()> {
    use quick_xml::events::Event;
    /// Per open element: the resource it is (its index in the output), or the resource whose
    /// own `Links` it is.
    struct Frame {
        resource: Option<usize>,
        links_of: Option<usize>,
    }
    let mut reader = quick_xml::Reader::from_str(body);
    let mut stack: Vec<Frame> = Vec::new();
    // What is seen and not yet handed over, and how many open elements point into it.
    let mut out: Vec<Seen> = Vec::new();
    let mut pointing = 0usize;
    let mut roots = 0usize;
    loop {
        if pointing == 0 {
            out.drain(..).for_each(&mut *each);
        }
        let (e, open) = match reader.read_event() {
            Ok(Event::Start(e)) => (e, true),
            Ok(Event::Empty(e)) => (e, false),
            Ok(Event::End(_)) => {
                let frame = stack.pop()?;
                pointing -= usize::from(frame.resource.is_some() || frame.links_of.is_some());
                continue;
            }
            Ok(Event::Eof) => break,
            Ok(Event::Text(t)) => {
                t.unescape().ok()?;
                continue;
            }
            Ok(_) => continue,
            Err(_) => return None,
        };
        if stack.is_empty() {
            roots += 1;
        }
        let (mut href, mut rel, mut kind, mut name, mut uid) = (None, None, None, None, None);
        for a in e.attributes() {
            let a = a.ok()?;
            if a.key.prefix().is_some() {
                continue;
            }
            let slot = match a.key.local_name().as_ref() {
                b"Href" => &mut href,
                b"Rel" => &mut rel,
                b"Type" => &mut kind,
                b"Name" => &mut name,
                b"UID" => &mut uid,
                _ => continue,
            };
            *slot = Some(a.unescape_value().ok()?.into_owned());
        }
        let local = e.local_name();
        let mut frame = Frame { resource: None, links_of: None };
        if local.as_ref() == b"Link" {
            if let (Some(rel), Some(href)) = (rel, href) {
                let link = Link { rel, kind, href, name };
                if let Some(Seen::Resource(r)) = stack.last().and_then(|f| f.links_of).map(|i| &mut out[i]) {
                    r.links.get_or_insert_with(Vec::new).push(link.clone());
                }
                out.push(Seen::Link(link));
            }
        } else if let (Some(href), Some(kind)) = (href, kind) {
            let reference = matches!(local.as_ref(), b"Ref" | b"EntityRef");
            let root = stack.is_empty();
            frame.resource = Some(out.len());
            out.push(Seen::Resource(Named { href, kind, name, uid, links: None, reference, root }));
        } else if local.as_ref() == b"Links" {
            // Only the first `Links` of a resource is its own.
            if let Some(i) = stack.last().and_then(|f| f.resource) {
                if let Seen::Resource(r) = &mut out[i] {
                    if r.links.is_none() {
                        r.links = Some(Vec::new());
                        frame.links_of = Some(i);
                    }
                }
            }
        }
        if open {
            pointing += usize::from(frame.resource.is_some() || frame.links_of.is_some());
            stack.push(frame);
        }
    }
    (stack.is_empty() && roots == 1).then_some(())?;
    out.into_iter().for_each(each);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_is_handed_over_an_item_at_a_time_before_its_end_is_read() {
        let body = r#"<EntityReferences>
  <Ref Type="VmReference" Href="h/vms/1"><Links><Link Rel="Up" Href="h/x"/></Links></Ref>
  <Ref Type="VmReference" Href="h/vms/2"/>
  <broken"#;
        let mut handed = Vec::new();
        assert_eq!(xml_seen_each(body, &mut |s| handed.push(s)), None);
        let hrefs: Vec<_> = handed
            .iter()
            .map(|s| match s {
                Seen::Link(l) => format!("link {}", l.href),
                Seen::Resource(r) => format!("{} with {} links", r.href, r.links.as_ref().map_or(0, Vec::len)),
            })
            .collect();
        assert_eq!(hrefs, ["h/vms/1 with 1 links", "link h/x", "h/vms/2 with 0 links"]);
    }

    const XML: &str = r#"<EntityReferences xmlns="http://www.veeam.com/ent/v1.0">
  <Links><Link Rel="Delete" Href="h/logonSessions/1" /></Links>
  <Ref Type="VmRestorePointReference" Href="h/vmRestorePoints/1" Name="a">
    <Links><Link Rel="Alternate" Type="VmRestorePoint" Href="h/vmRestorePoints/1?format=Entity&amp;x=1" /></Links>
  </Ref>
  <Ref Type="VmRestorePointReference" Href="h/vmRestorePoints/2" Name="b">
    <Links><Link Rel="Alternate" Type="VmRestorePoint" Href="h/vmRestorePoints/2?format=Entity" /></Links>
  </Ref>
</EntityReferences>"#;

    const JSON: &str = r#"{"Links":[{"Rel":"Delete","Href":"h/logonSessions/1"}],
  "Refs":[{"Type":"VmRestorePointReference","Href":"h/vmRestorePoints/1","Name":"a",
           "Links":[{"Rel":"Alternate","Type":"VmRestorePoint","Href":"h/vmRestorePoints/1?format=Entity&x=1"}]},
          {"Type":"VmRestorePointReference","Href":"h/vmRestorePoints/2","Name":"b",
           "Links":[{"Rel":"Alternate","Type":"VmRestorePoint","Href":"h/vmRestorePoints/2?format=Entity"}]}]}"#;

    fn shown(found: &[Found]) -> Vec<String> {
        found
            .iter()
            .map(|f| format!("{}{} {}", if f.root { "root " } else { "" }, f.rel.as_deref().unwrap_or("-"), f.href))
            .collect()
    }

    #[test]
    fn xml_and_json_give_the_same_hrefs_in_document_order() {
        let want = [
            "root Delete h/logonSessions/1",
            "- h/vmRestorePoints/1",
            "Alternate h/vmRestorePoints/1?format=Entity&x=1",
            "- h/vmRestorePoints/2",
            "Alternate h/vmRestorePoints/2?format=Entity",
        ];
        assert_eq!(shown(&hrefs(XML, Repr::Xml, None)), want);
        assert_eq!(shown(&hrefs(JSON, Repr::Json, None)), want);
    }

    #[test]
    fn a_sample_reads_only_the_first_items_of_a_list_with_what_is_inside_them() {
        let want = [
            "root Delete h/logonSessions/1",
            "- h/vmRestorePoints/1",
            "Alternate h/vmRestorePoints/1?format=Entity&x=1",
        ];
        assert_eq!(shown(&hrefs(XML, Repr::Xml, Some(1))), want);
        assert_eq!(shown(&hrefs(JSON, Repr::Json, Some(1))), want);
    }

    /// A small JSON document of objects that are items, links or neither (some naming a member
    /// twice), in arrays and under other members.
    fn json_document() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key =
            prop::sample::select(vec!["Href", "href", "Rel", "rel", "Type", "Name", "Links", "links", "Refs", "X"]);
        let leaf = prop::sample::select(vec![r#""h/1""#, r#""h/2?format=Entity""#, r#""Alternate""#, "3", "null"])
            .prop_map(str::to_owned);
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((key.clone(), inner), 0..5).prop_map(|m| {
                    let members: Vec<String> = m.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn a_sampled_json_reading_gives_the_links_the_whole_value_gives(
            body in json_document(),
            sample in 0usize..4,
        ) {
            let whole: Json = serde_json::from_str(&body).unwrap();
            let mut want = Vec::new();
            json_hrefs(&whole, sample, Place::Root, &mut want);
            proptest::prop_assert_eq!(shown(&hrefs(&body, Repr::Json, Some(sample))), shown(&want));
        }
    }

    #[test]
    fn root_links_are_the_root_resources_own() {
        for (body, repr) in [(XML, Repr::Xml), (JSON, Repr::Json)] {
            let links = root_links(body, repr);
            assert_eq!(links.len(), 1, "{repr:?}");
            assert_eq!((links[0].rel.as_str(), links[0].href.as_str()), ("Delete", "h/logonSessions/1"));
        }
    }

    #[test]
    fn camel_case_json_as_em_13_writes_it_gives_the_same_links() {
        let camel = r#"{"links":[{"rel":"Delete","href":"h/logonSessions/1"}],"refs":[{"type":"T","href":"h/x/1","links":[{"rel":"Alternate","href":"h/x/1?format=Entity"}]}]}"#;
        assert_eq!(
            shown(&hrefs(camel, Repr::Json, None)),
            ["root Delete h/logonSessions/1", "- h/x/1", "Alternate h/x/1?format=Entity"]
        );
    }

    #[test]
    fn a_body_cut_short_gives_the_links_before_the_cut() {
        let cut = &XML[..XML.find("<Ref Type=\"VmRestorePointReference\" Href=\"h/vmRestorePoints/2\"").unwrap() + 10];
        assert_eq!(hrefs(cut, Repr::Xml, None).len(), 3);
    }

    /// The tree walk the model's catalog did before it streamed: every `Link`, and every other
    /// element with `Href` and `Type` with the links of its own `Links`.
    fn seen_by_tree(e: &Element, root: bool, out: &mut Vec<Seen>) {
        if let Some(href) = e.attribute("Href") {
            if e.name == "Link" {
                out.extend(Link::of_element(e).map(Seen::Link));
            } else if let Some(kind) = e.attribute("Type") {
                out.push(Seen::Resource(Named {
                    href: href.to_owned(),
                    kind: kind.to_owned(),
                    name: e.attribute("Name").map(str::to_owned),
                    uid: e.attribute("UID").map(str::to_owned),
                    links: e.child("Links").map(|_| own_links_of_element(e)),
                    reference: matches!(e.name.as_str(), "Ref" | "EntityRef"),
                    root,
                }));
            }
        }
        for c in e.elements() {
            seen_by_tree(c, false, out);
        }
    }

    /// Every response body of the EM releases on tape: (where, text).
    fn shipped_bodies() -> Vec<(String, std::sync::Arc<str>)> {
        let mut out = Vec::new();
        for (release, _) in crate::cassette::RELEASES {
            for loaded in crate::cassette::release(release).unwrap().unwrap() {
                for x in &loaded.cassette.exchanges {
                    if let crate::cassette::Body::Text { text, .. } = &x.response.body {
                        out.push((format!("{} exchange {}", loaded.name, x.seq), text.clone()));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn streaming_a_body_sees_what_its_tree_holds_in_every_shipped_xml_body() {
        let mut bodies = 0;
        for (place, text) in shipped_bodies() {
            let Ok(root) = crate::xml::parse(&text) else { continue };
            let mut want = Vec::new();
            seen_by_tree(&root, true, &mut want);
            assert_eq!(xml_seen(&text).as_ref(), Some(&want), "{place}");
            bodies += 1;
        }
        assert!(bodies > 500, "{bodies} XML bodies");
    }

    #[test]
    fn a_json_body_read_for_its_names_gives_the_hrefs_of_its_whole_value_in_every_shipped_json_body() {
        let mut bodies = 0;
        for (place, text) in shipped_bodies() {
            let Ok(value) = serde_json::from_str::<Json>(&text) else { continue };
            for sample in [0, 1, 3, usize::MAX] {
                let mut want = Vec::new();
                json_hrefs(&value, sample, Place::Root, &mut want);
                assert_eq!(hrefs(&text, Repr::Json, Some(sample)), want, "{place} sample {sample}");
            }
            bodies += 1;
        }
        assert!(bodies > 500, "{bodies} JSON bodies");
    }

    #[test]
    fn only_the_roots_own_links_are_root_links_in_json_of_any_spelling() {
        let body = r#"{"href": "r", "type": "T", "LINKS": [{"rel": "Up", "href": "a"}], "other": [{"rel": "X", "href": "b"}],
                       "inner": {"links": [{"rel": "Y", "href": "c"}]}}"#;
        let rels: Vec<String> = root_links(body, Repr::Json).into_iter().map(|l| l.rel).collect();
        assert_eq!(rels, ["Up"]);
        let mut whole = Vec::new();
        json_hrefs(&serde_json::from_str(body).unwrap(), usize::MAX, Place::Root, &mut whole);
        assert_eq!(hrefs(body, Repr::Json, None), whole);
    }

    #[test]
    fn a_body_that_is_not_well_formed_names_nothing() {
        for broken in ["<a><b></a>", "<a/><b/>", "<a Href=\"x&bogus;\" Type=\"T\"/>", "<a>", "<a>x &nope; y</a>"] {
            assert_eq!(xml_seen(broken), None, "{broken}");
        }
    }
}
