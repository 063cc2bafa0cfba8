//! A JSON body reduced to what names resources: every object's `Href`, `Rel`, `Type`, `Name`,
//! `UID` (PascalCase or camelCase, as [`super::links::member`] reads them) and `Links`, and the
//! objects and arrays under it; every other value is read past without being kept. The model
//! reads large listings so, where a whole `serde_json::Value` would cost ten times the body.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::links::Link;

/// The names an object is read for, PascalCase (their camelCase twins read the same).
const NAMES: [&str; 6] = ["Href", "Rel", "Type", "Name", "UID", "Links"];
const LINKS: usize = 5;

/// A JSON value as the catalog reads it.
#[derive(Debug)]
pub enum Node {
    Object(Box<Object>),
    Array(Vec<Node>),
    /// A string kept because its member is one of [`NAMES`].
    Text(String),
    /// Anything else: a number, a boolean, null, or a string no one reads.
    Other,
}

#[derive(Debug, Default)]
pub struct Object {
    /// Per name of [`NAMES`]: its PascalCase member and its camelCase one, when present (the
    /// index in `children` of their value when it is not a scalar, else the value).
    named: [[Option<Member>; 2]; 6],
    /// The object's and array's values of its members, in order.
    pub children: Vec<Node>,
    /// Which of `children` are under a name that is `Links` in any case.
    pub links_children: Vec<usize>,
    /// How many members it has.
    pub len: usize,
    /// The name of its first member, kept for the root only (a list's one member names it).
    pub first: Option<String>,
}

#[derive(Debug)]
enum Member {
    Text(String),
    Child(usize),
    Other,
}

/// `body` read as a [`Node`]; `Ok(None)` for a body this reading does not keep faithfully (an
/// object with a name twice: `serde_json::Value` keeps the last, here both would count), which
/// is then read whole.
pub fn parse(body: &str) -> Result<Option<Node>, serde_json::Error> {
    parse_sampled(body, usize::MAX)
}

/// [`parse`], but of each array only the first `sample` items are kept (an item: an object
/// with an `Href` and no `Rel`, as [`super::links::hrefs`] counts them, which passes over the
/// rest). The rest are read past without being built, unless one proves not to be an item.
pub fn parse_sampled(body: &str, sample: usize) -> Result<Option<Node>, serde_json::Error> {
    let mut irregular = false;
    let mut de = serde_json::Deserializer::from_str(body);
    let node = Seed { keep: false, root: true, sample, irregular: &mut irregular }.deserialize(&mut de)?;
    de.end()?;
    Ok((!irregular).then_some(node))
}

/// Which of [`NAMES`] `key` is, and in which case (0: PascalCase, 1: camelCase).
fn named(key: &str) -> Option<(usize, usize)> {
    // Every member of every object is named so: no text is made to compare.
    NAMES.iter().enumerate().find_map(|(i, n)| {
        if key == *n {
            return Some((i, 0));
        }
        let (k, n) = (key.as_bytes(), n.as_bytes());
        let camel = k.len() == n.len() && k[0] == n[0].to_ascii_lowercase() && k[1..] == n[1..];
        camel.then_some((i, 1))
    })
}

/// Whether `key` names a member `seen` (hashes of the names before it) already holds, which
/// it then holds too: an object with a name twice is rare enough to be read whole.
fn named_twice(seen: &mut Vec<u64>, key: &str) -> bool {
    let hash = std::hash::BuildHasher::hash_one(&foldhash::fast::FixedState::default(), key);
    let twice = seen.contains(&hash);
    seen.push(hash);
    twice
}

/// What an array's value past its sample is: an item (passed over), a value read whole, or an
/// object that names a member twice (left to the whole reading, as [`parse`] leaves it).
enum Probed {
    Item,
    Other,
    Irregular,
}

/// Reads an object for whether it is an item, its members' values passed over unbuilt.
struct Probe;

impl<'de> Visitor<'de> for Probe {
    type Value = Probed;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probed, A::Error> {
        const HREF: usize = 0;
        const REL: usize = 1;
        let mut seen: Vec<u64> = Vec::new();
        // Per name, Href then Rel, per case: whether its value is a string.
        let mut text = [[None::<bool>; 2]; 2];
        let mut irregular = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            irregular |= named_twice(&mut seen, &key);
            match named(&key).filter(|(i, _)| [HREF, REL].contains(i)) {
                Some((i, case)) => text[i][case] = Some(map.next_value::<serde_json::Value>()?.is_string()),
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        // As `Object::text` reads a name: its PascalCase member, else its camelCase one.
        let is_text = |[pascal, camel]: [Option<bool>; 2]| pascal.or(camel) == Some(true);
        Ok(match () {
            _ if irregular => Probed::Irregular,
            _ if is_text(text[HREF]) && !is_text(text[REL]) => Probed::Item,
            _ => Probed::Other,
        })
    }
}

impl Node {
    /// Whether it is an item of a list (an object with an `Href` and no `Rel`), as
    /// [`super::links::hrefs`] counts them.
    pub fn is_item(&self) -> bool {
        matches!(self, Node::Object(o) if o.text("Href").is_some() && o.text("Rel").is_none())
    }
}

impl Object {
    fn member(&self, name: usize) -> Option<&Member> {
        let [pascal, camel] = &self.named[name];
        pascal.as_ref().or(camel.as_ref())
    }

    /// The string value of a member, as [`super::links::text`] reads it.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.member(NAMES.iter().position(|n| *n == name)?)? {
            Member::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Its own `Links` array, when it has one, as [`super::links::own_links_of_object`] reads it.
    pub fn links(&self) -> Option<Vec<Link>> {
        let Member::Child(i) = self.member(LINKS)? else { return None };
        let Node::Array(items) = &self.children[*i] else { return None };
        Some(
            items
                .iter()
                .filter_map(|n| match n {
                    Node::Object(o) => o.link(),
                    _ => None,
                })
                .collect(),
        )
    }

    /// The link it is, as [`Link::of_object`] reads it.
    pub fn link(&self) -> Option<Link> {
        Some(Link {
            rel: self.text("Rel")?.to_owned(),
            kind: self.text("Type").map(str::to_owned),
            href: self.text("Href")?.to_owned(),
            name: self.text("Name").map(str::to_owned),
        })
    }
}

struct Seed<'a> {
    /// Keep a string value (the member is one of [`NAMES`]).
    keep: bool,
    root: bool,
    /// How many items of an array are kept (see [`parse_sampled`]).
    sample: usize,
    irregular: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(if self.keep { Node::Text(v.to_owned()) } else { Node::Other })
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        use serde::de::Error as _;
        let sample = self.sample;
        let mut items = Vec::new();
        let mut kept = 0;
        while kept < sample {
            let seed = Seed { keep: false, root: false, sample, irregular: &mut *self.irregular };
            let Some(item) = seq.next_element_seed(seed)? else { return Ok(Node::Array(items)) };
            kept += usize::from(item.is_item());
            items.push(item);
        }
        // Past the sample: each value is taken as written, and built only if it is no item.
        while let Some(raw) = seq.next_element::<&'de serde_json::value::RawValue>()? {
            let text = raw.get();
            // Only an object may be an item.
            let probed = match text.trim_start().starts_with('{') {
                true => {
                    (&mut serde_json::Deserializer::from_str(text)).deserialize_map(Probe).map_err(A::Error::custom)?
                }
                false => Probed::Other,
            };
            match probed {
                Probed::Item => {}
                Probed::Irregular => *self.irregular = true,
                Probed::Other => {
                    let mut de = serde_json::Deserializer::from_str(text);
                    let seed = Seed { keep: false, root: false, sample, irregular: &mut *self.irregular };
                    items.push(seed.deserialize(&mut de).map_err(A::Error::custom)?);
                }
            }
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut object = Object::default();
        let mut seen: Vec<u64> = Vec::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if named_twice(&mut seen, &key) {
                *self.irregular = true;
            }
            if self.root && object.len == 0 {
                object.first = Some(key.to_string());
            }
            object.len += 1;
            let which = named(&key);
            let seed =
                Seed { keep: which.is_some(), root: false, sample: self.sample, irregular: &mut *self.irregular };
            let value = map.next_value_seed(seed)?;
            let member = match value {
                Node::Text(t) => Member::Text(t),
                Node::Other => Member::Other,
                child => {
                    if key.eq_ignore_ascii_case("links") {
                        object.links_children.push(object.children.len());
                    }
                    object.children.push(child);
                    Member::Child(object.children.len() - 1)
                }
            };
            if let Some((i, case)) = which {
                object.named[i][case] = Some(member);
            }
        }
        Ok(Node::Object(Box::new(object)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_read_for_its_names_in_either_case_and_the_rest_is_passed_over() {
        let body = r#"{"Href": "h", "type": "T", "Name": 3, "name": "n", "Other": "x",
                        "links": [{"rel": "Up", "href": "u"}, {"Rel": "Down"}], "n": {"Href": "c"}}"#;
        let Some(Node::Object(o)) = parse(body).unwrap() else { panic!() };
        assert_eq!((o.text("Href"), o.text("Type"), o.text("Name"), o.text("UID")), (Some("h"), Some("T"), None, None));
        let links = o.links().unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!((links[0].rel.as_str(), links[0].href.as_str()), ("Up", "u"));
        assert_eq!((o.len, o.children.len()), (7, 2));
        assert_eq!(o.first.as_deref(), Some("Href"));
    }

    #[test]
    fn a_name_is_read_in_pascal_or_camel_case_only() {
        let body = r#"{"": "e", "é": "x", "uID": "u", "hREF": "no", "Ty": "no", "name": "n"}"#;
        let Some(Node::Object(o)) = parse(body).unwrap() else { panic!() };
        assert_eq!((o.text("UID"), o.text("Href"), o.text("Type"), o.text("Name")), (Some("u"), None, None, Some("n")));
    }

    #[test]
    fn a_name_written_twice_is_left_to_the_whole_reading_and_broken_json_is_an_error() {
        assert!(parse(r#"{"a": {"Href": "x"}, "a": 1}"#).unwrap().is_none());
        assert!(parse(r#"{"a": 1"#).is_err());
        assert!(parse(r#"{"a": 1} x"#).is_err());
    }
}
