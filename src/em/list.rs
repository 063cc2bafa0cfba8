//! EM's lists: a body that lists resources (`EntityReferences` of `Ref`s, JSON `{"Refs": [...]}`,
//! or entities such as `<BackupJobSessions>` / `{"BackupJobSessions": [...]}`), read into its
//! items, each with its identity and its own text, so that an entity listed with
//! `?format=Entity` can be answered alone.

use serde_json::Value as Json;

use super::{NAMESPACE, Repr};

/// One resource a list holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub href: String,
    /// Its `Type`, as written (`BackupJobSessionReference` for a reference).
    pub kind: String,
    /// Whether it is a reference (`Ref`, `...Reference`) rather than an entity.
    pub reference: bool,
    /// Where its text stands in the list's body.
    pub at: std::ops::Range<usize>,
}

/// The items of a list body, in order; `None` when the body is not a list (an entity, a
/// service document, an error). A list with no items is `Some` of nothing.
pub fn items(body: &str, repr: Repr) -> Option<Vec<Item>> {
    match repr {
        Repr::Xml => xml_items(body),
        Repr::Json => json_items(body),
    }
}

fn xml_items(body: &str) -> Option<Vec<Item>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(body);
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut start = 0usize;
    let mut current: Option<(String, String, bool)> = None;
    let mut out = Vec::new();
    let identity = |e: &quick_xml::events::BytesStart<'_>| -> Option<(String, String, bool)> {
        let (mut href, mut kind) = (None, None);
        for a in e.attributes().flatten() {
            match a.key.local_name().as_ref() {
                b"Href" => href = a.unescape_value().ok().map(|v| v.into_owned()),
                b"Type" => kind = a.unescape_value().ok().map(|v| v.into_owned()),
                _ => {}
            }
        }
        let name = e.local_name();
        let reference = matches!(name.as_ref(), b"Ref" | b"EntityRef");
        let kind = kind?;
        let reference = reference || kind.ends_with("Reference");
        Some((href?, kind, reference))
    };
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(0);
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if depth == 0 {
                    if root_seen || e.attributes().flatten().any(|a| a.key.local_name().as_ref() == b"Href") {
                        // A root with an Href is a resource (or a service), not a list.
                        return None;
                    }
                    root_seen = true;
                } else if depth == 1 {
                    start = before;
                    current = Some(identity(&e)?);
                }
                depth += 1;
            }
            Ok(Event::Empty(e)) => {
                if depth == 0 {
                    if e.attributes().flatten().any(|a| a.key.local_name().as_ref() == b"Href") {
                        return None;
                    }
                    return Some(Vec::new());
                }
                if depth == 1 {
                    let end = usize::try_from(reader.buffer_position()).unwrap_or(body.len());
                    let (href, kind, reference) = identity(&e)?;
                    out.push(Item { href, kind, reference, at: trimmed(body, before..end) });
                }
            }
            Ok(Event::End(_)) => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    let end = usize::try_from(reader.buffer_position()).unwrap_or(body.len());
                    let (href, kind, reference) = current.take()?;
                    out.push(Item { href, kind, reference, at: trimmed(body, start..end) });
                }
            }
            Ok(Event::Eof) => break,
            Err(_) => return None,
            Ok(_) => {}
        }
    }
    root_seen.then_some(out)
}

/// Where a list `body` can be cut, `(head, tail)`, so that `body[..head]` and `body[tail..]`
/// joined are the list with its first [`super::links::SAMPLED_ITEMS`] items alone: its
/// [`super::links::hrefs`] with that sample are the whole body's (checked, not assumed: an
/// item a walk does not take for one, such as a `Link`, leaves the body uncut). `None` for a
/// body that is not a list, or lists no more than the sample and one.
pub fn sample_cut(body: &str, repr: Repr) -> Option<(usize, usize)> {
    let sample = super::links::SAMPLED_ITEMS;
    let items = items(body, repr)?;
    let (kept, last) = (items.get(sample.checked_sub(1)?)?, items.last()?);
    if items.len() <= sample + 1 {
        return None;
    }
    let (head, tail) = (kept.at.end, last.at.end);
    let cut = [&body[..head], &body[tail..]].concat();
    let hrefs = |text: &str| super::links::hrefs(text, repr, Some(sample));
    (hrefs(&cut) == hrefs(body)).then_some((head, tail))
}

impl Item {
    /// The item alone, as a document of its own: XML with EM's namespace declared (where the
    /// list declared it for all), or a JSON object as written. `body` is the list's.
    pub fn text<'a>(&self, body: &'a str, repr: Repr) -> std::borrow::Cow<'a, str> {
        standalone(body, self.at.clone(), repr)
    }
}

/// The item of a list `body` written at `at`, as a document of its own (see [`Item::text`]).
pub fn standalone(body: &str, at: std::ops::Range<usize>, repr: Repr) -> std::borrow::Cow<'_, str> {
    let item = body.get(at).unwrap_or_default();
    if repr == Repr::Json || item.contains("xmlns=") {
        return item.into();
    }
    let name_end = item.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(item.len());
    format!("{} xmlns=\"{NAMESPACE}\"{}", &item[..name_end], &item[name_end..]).into()
}

/// `range` of `body` without the white space it starts with.
fn trimmed(body: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let text = &body[range.clone()];
    range.start + text.len() - text.trim_start().len()..range.end
}

fn json_items(body: &str) -> Option<Vec<Item>> {
    json_items_of(body, &serde_json::from_str(body).ok()?)
}

/// The items of a JSON list body already parsed as `value`.
pub fn json_items_of(body: &str, value: &Json) -> Option<Vec<Item>> {
    let map = value.as_object()?;
    // A list is an object whose one member is an array of resources (`Refs` or a plural).
    if map.len() != 1 {
        return None;
    }
    let (key, array) = map.iter().next()?;
    let array = array.as_array()?;
    let texts = array_texts(body, key)?;
    if texts.len() != array.len() {
        return None;
    }
    let mut out = Vec::with_capacity(array.len());
    for (x, text) in array.iter().zip(texts) {
        let m = x.as_object()?;
        let href = super::links::text(m, "Href")?.to_owned();
        let kind = super::links::text(m, "Type")?.to_owned();
        let reference = key.eq_ignore_ascii_case("Refs") || kind.ends_with("Reference");
        out.push(Item { href, kind, reference, at: text });
    }
    Some(out)
}

/// The items of a JSON list body already read as `node` (see [`json_items_of`]).
pub fn json_items_of_node(body: &str, node: &super::node::Node) -> Option<Vec<Item>> {
    use super::node::Node;
    let Node::Object(root) = node else { return None };
    // A list is an object whose one member is an array of resources (`Refs` or a plural).
    if root.len != 1 {
        return None;
    }
    let key = root.first.as_deref()?;
    let [Node::Array(array)] = root.children.as_slice() else { return None };
    let texts = array_texts(body, key)?;
    if texts.len() != array.len() {
        return None;
    }
    let mut out = Vec::with_capacity(array.len());
    for (x, at) in array.iter().zip(texts) {
        let Node::Object(m) = x else { return None };
        let href = m.text("Href")?.to_owned();
        let kind = m.text("Type")?.to_owned();
        let reference = key.eq_ignore_ascii_case("Refs") || kind.ends_with("Reference");
        out.push(Item { href, kind, reference, at });
    }
    Some(out)
}

/// The one member's name and the places of the items of a JSON body that is exactly a list of
/// objects (`{"Refs": [{...}, ...]}`), found without reading it into a tree, so that a large
/// listing can be read an item at a time; `None` for any other body.
pub fn json_listing(body: &str) -> Option<(&str, Vec<std::ops::Range<usize>>)> {
    let ws = |s: &str| s.trim_start_matches([' ', '\t', '\n', '\r']).len();
    let skip = |at: usize| body.len() - ws(&body[at..]);
    let after = |at: usize, c: u8| (body.as_bytes().get(skip(at)) == Some(&c)).then(|| skip(at) + 1);
    let key_at = after(0, b'{').and_then(|at| after(at, b'"'))?;
    let key = &body[key_at..key_at + body[key_at..].find('"')?];
    if key.bytes().any(|b| b == b'\\' || b < 0x20) {
        return None;
    }
    let open = after(key_at + key.len() + 1, b':').and_then(|at| after(at, b'['))?;
    let items = array_texts(body, key)?;
    let mut at = open;
    for (n, item) in items.iter().enumerate() {
        let gap = if n == 0 { Some(at) } else { after(at, b',') }?;
        if skip(gap) != item.start || body.as_bytes()[item.start] != b'{' {
            return None;
        }
        at = item.end;
    }
    let end = after(at, b']').and_then(|at| after(at, b'}'))?;
    (skip(end) == body.len()).then_some((key, items))
}

/// Where the items of the array under the root object's `key` are written.
fn array_texts(body: &str, key: &str) -> Option<Vec<std::ops::Range<usize>>> {
    let bytes = body.as_bytes();
    let quoted = format!("\"{key}\"");
    let at = body.find(&quoted)? + quoted.len();
    let open = at + body[at..].find('[')?;
    let mut out = Vec::new();
    let (mut depth, mut i, mut item_start) = (0usize, open + 1, None);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' => {
                if depth == 0 {
                    item_start = Some(i);
                }
                depth += 1;
            }
            b'}' | b']' if depth == 0 => return Some(out),
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    out.push(item_start.take()?..i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entity_list_gives_each_entity_as_a_document_of_its_own() {
        let xml = r#"<BackupJobSessions xmlns="http://www.veeam.com/ent/v1.0">
  <BackupJobSession Href="h/1?format=Entity" Type="BackupJobSession" Name="a"><State>Stopped</State></BackupJobSession>
  <BackupJobSession Href="h/2?format=Entity" Type="BackupJobSession" Name="b" />
</BackupJobSessions>"#;
        let found = items(xml, Repr::Xml).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].text(xml, Repr::Xml),
            r#"<BackupJobSession xmlns="http://www.veeam.com/ent/v1.0" Href="h/1?format=Entity" Type="BackupJobSession" Name="a"><State>Stopped</State></BackupJobSession>"#
        );
        assert!(!found[0].reference && found[1].href == "h/2?format=Entity");
        assert!(crate::xml::parse(&found[0].text(xml, Repr::Xml)).is_ok());

        let json = r#"{"backupJobSessions": [{"state": "Stopped", "links": [{"rel": "Up", "href": "x]"}], "href": "h/1", "type": "BackupJobSession"}, {"href": "h/2", "type": "BackupJobSession"}]}"#;
        let found = items(json, Repr::Json).unwrap();
        assert_eq!(found.len(), 2);
        let text = found[0].text(json, Repr::Json);
        assert!(text.starts_with(r#"{"state""#) && text.ends_with(r#""BackupJobSession"}"#));
        assert_eq!(found[1].text(json, Repr::Json), r#"{"href": "h/2", "type": "BackupJobSession"}"#);
    }

    #[test]
    fn a_listing_is_found_in_place_only_when_it_is_exactly_one_array_of_objects() {
        let body = " {\n \"Refs\" : [ {\"Href\": \"a\", \"Type\": \"T\"},\n{\"Href\": \"]\"} ] }\n";
        let (key, places) = json_listing(body).unwrap();
        assert_eq!(key, "Refs");
        let texts: Vec<&str> = places.iter().map(|at| &body[at.clone()]).collect();
        assert_eq!(texts, [r#"{"Href": "a", "Type": "T"}"#, r#"{"Href": "]"}"#]);
        assert_eq!(json_listing(r#"{"Refs": []}"#), Some(("Refs", vec![])));
        for not_one in [
            r#"{"Refs": [{}], "More": 1}"#,
            r#"{"Refs": [{}] } x"#,
            r#"{"Refs": [{} {}]}"#,
            r#"{"Refs": [{},, {}]}"#,
            r#"{"Refs": [, {}]}"#,
            r#"{"Refs": [{}, ]}"#,
            r#"{"Refs": ["a", {}]}"#,
            r#"{"Refs": [[{}]]}"#,
            r#"{"Re\u0066s": [{}]}"#,
            r#"{"Refs": {"a": [{}]}}"#,
            r#"[{"Refs": [{}]}]"#,
            r#"{"Refs": [{}]"#,
        ] {
            assert_eq!(json_listing(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn references_empty_lists_and_entities_are_told_apart() {
        let refs =
            r#"<EntityReferences xmlns="urn:x"><Ref Type="JobReference" Href="h/1" Name="j" /></EntityReferences>"#;
        assert!(items(refs, Repr::Xml).unwrap()[0].reference);
        assert_eq!(items(r#"<EntityReferences xmlns="urn:x" />"#, Repr::Xml), Some(vec![]));
        assert_eq!(items(r#"{"Refs": []}"#, Repr::Json), Some(vec![]));
        assert_eq!(items(r#"<Job Href="h/1" Type="Job"><Links /></Job>"#, Repr::Xml), None);
        assert_eq!(items(r#"{"Name": "j", "Href": "h/1", "Type": "Job"}"#, Repr::Json), None);
    }

    #[test]
    fn a_list_cut_to_its_sample_names_the_links_the_whole_list_names_or_is_left_whole() {
        let xml = |items: &[&str]| {
            let each: String = items.iter().map(|i| format!("  {i}\n")).collect();
            format!("<EntityReferences xmlns=\"{NAMESPACE}\">\n{each}</EntityReferences>\n")
        };
        let item = |n: usize| {
            format!(
                r#"<Ref Href="{{{{origin}}}}/api/jobs/{n}" Type="JobReference"><Links><Link Rel="Up" Href="{{{{origin}}}}/api/x/{n}" Type="X" /></Links></Ref>"#
            )
        };
        let items: Vec<String> = (0..6).map(item).collect();
        let refs: Vec<&str> = items.iter().map(String::as_str).collect();
        let body = xml(&refs);
        let (head, tail) = sample_cut(&body, Repr::Xml).unwrap();
        let cut = [&body[..head], &body[tail..]].concat();
        assert_eq!(cut, xml(&refs[..3]));
        let hrefs = |text: &str| crate::em::links::hrefs(text, Repr::Xml, Some(3));
        assert_eq!(hrefs(&cut), hrefs(&body));
        // No more than the sample and one: nothing to leave out.
        assert_eq!(sample_cut(&xml(&refs[..4]), Repr::Xml), None);
        // A `Link` listed among the items is one a walk takes whatever its place: left whole.
        let link = r#"<Link Rel="Down" Href="{{origin}}/api/y" Type="Y" />"#;
        assert_eq!(sample_cut(&xml(&[refs[0], refs[1], refs[2], refs[3], link, refs[5]]), Repr::Xml), None);

        let json = |items: &[String]| format!("{{\"Refs\": [{}]}}", items.join(", "));
        let item = |n: usize, rel: &str| {
            format!(
                r#"{{"Href": "{{{{origin}}}}/api/jobs/{n}", "Type": "JobReference"{rel}, "Links": [{{"Rel": "Up", "Href": "{{{{origin}}}}/api/x/{n}"}}]}}"#
            )
        };
        let items: Vec<String> = (0..6).map(|n| item(n, "")).collect();
        let body = json(&items);
        let (head, tail) = sample_cut(&body, Repr::Json).unwrap();
        assert_eq!([&body[..head], &body[tail..]].concat(), json(&items[..3]));
        // An item with a Rel is a link to a walk: left whole.
        let mut with_rel = items.clone();
        with_rel[4] = item(4, r#", "Rel": "Down""#);
        assert_eq!(sample_cut(&json(&with_rel), Repr::Json), None);
        assert_eq!(sample_cut(r#"{"Name": "j", "Href": "h/1", "Type": "Job"}"#, Repr::Json), None);
    }
}
