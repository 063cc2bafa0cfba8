//! Deserialization helpers shared by the cassette and scenario readers: scalars read as text,
//! and mappings that keep their order.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// A YAML scalar as text: `125`, `true` and `v1_7` all arrive as strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }
        }
        d.deserialize_any(ScalarVisitor)
    }
}

/// A mapping as an ordered list of entries; `null` reads as empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of `name: value` entries")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Ordered<V>, E> {
                Ok(Ordered::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<V>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<Scalar, V>()? {
                    out.push((k.0, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_any(MapVisitor(PhantomData))
    }
}

/// One step of a path into a YAML document: a mapping's key or a sequence's index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Where a node of a YAML document starts (line and column from 1), and where the key that
/// names it does when it is a mapping's value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Place {
    pub line: usize,
    pub column: usize,
    pub key: Option<(usize, usize)>,
}

/// The place of every node of a YAML document by its path, read once through a parser that
/// keeps positions (serde_yaml gives them for its own errors only): what a file *says* keeps
/// where it says it, so an error or a failed check points at the value itself, not at the
/// first line that happens to hold the same text.
#[derive(Clone, Debug, Default)]
pub struct Places {
    nodes: std::collections::HashMap<Vec<Seg>, Place>,
}

impl Places {
    /// Reads `text`; a document the position parser cannot read gives no places (serde_yaml
    /// reports the error itself).
    pub fn read(text: &str) -> Places {
        use saphyr_parser::{Event, Parser, Span, SpannedEventReceiver};
        enum Kind {
            Map { key: Option<(String, (usize, usize))> },
            Seq { next: usize },
        }
        /// An open mapping or sequence, and whether it put a step on the path (not as a key).
        struct Frame {
            kind: Kind,
            pushed: bool,
        }
        struct Receiver {
            places: Places,
            path: Vec<Seg>,
            stack: Vec<Frame>,
        }
        impl Receiver {
            /// A node begins: where it sits, given its container. `true` when it is a key.
            fn begin(&mut self, at: (usize, usize), scalar: Option<&str>) -> bool {
                let (seg, key) = match self.stack.last_mut().map(|f| &mut f.kind) {
                    None => return false,
                    Some(Kind::Map { key }) => match key.take() {
                        None => {
                            *key = Some((scalar.unwrap_or_default().to_owned(), at));
                            return true;
                        }
                        Some((name, key_at)) => (Seg::Key(name), Some(key_at)),
                    },
                    Some(Kind::Seq { next }) => {
                        *next += 1;
                        (Seg::Index(*next - 1), None)
                    }
                };
                self.path.push(seg);
                self.places.nodes.insert(self.path.clone(), Place { line: at.0, column: at.1, key });
                false
            }

            /// A scalar or an alias: a node with nothing inside.
            fn leaf(&mut self, at: (usize, usize), scalar: Option<&str>) {
                if !self.begin(at, scalar) && !self.stack.is_empty() {
                    self.path.pop();
                }
            }

            fn end(&mut self) {
                if self.stack.pop().is_some_and(|f| f.pushed) {
                    self.path.pop();
                }
            }
        }
        impl<'input> SpannedEventReceiver<'input> for Receiver {
            fn on_event(&mut self, event: Event<'input>, span: Span) {
                let at = (span.start.line(), span.start.col() + 1);
                match event {
                    Event::Scalar(value, ..) => self.leaf(at, Some(&value)),
                    Event::Alias(_) => self.leaf(at, None),
                    Event::MappingStart(..) | Event::SequenceStart(..) => {
                        let pushed = if self.stack.is_empty() {
                            self.places.nodes.insert(Vec::new(), Place { line: at.0, column: at.1, key: None });
                            false
                        } else {
                            // A mapping or sequence used as a key names nothing.
                            !self.begin(at, None)
                        };
                        let kind = match event {
                            Event::MappingStart(..) => Kind::Map { key: None },
                            _ => Kind::Seq { next: 0 },
                        };
                        self.stack.push(Frame { kind, pushed });
                    }
                    Event::MappingEnd | Event::SequenceEnd => self.end(),
                    _ => {}
                }
            }
        }
        let mut receiver = Receiver { places: Places::default(), path: Vec::new(), stack: Vec::new() };
        if Parser::new_from_str(text).load(&mut receiver, false).is_err() {
            return Places::default();
        }
        receiver.places
    }

    /// The place of the node at `path`.
    pub fn get(&self, path: &[Seg]) -> Option<Place> {
        self.nodes.get(path).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Seg {
        Seg::Key(k.to_owned())
    }

    #[test]
    fn every_node_has_its_place_and_a_value_its_key_s() {
        let text = "name: t\nsteps:\n- name: a\n  expect: {status: 201, body: {State: Finished}}\n- name: b\n  request: GET /api/\n";
        let p = Places::read(text);
        let at = |path: &[Seg]| p.get(path).map(|p| (p.line, p.column, p.key));
        assert_eq!(at(&[key("name")]), Some((1, 7, Some((1, 1)))));
        assert_eq!(at(&[key("steps"), Seg::Index(0)]), Some((3, 3, None)));
        assert_eq!(
            at(&[key("steps"), Seg::Index(0), key("expect"), key("body"), key("State")]),
            Some((4, 39, Some((4, 32))))
        );
        assert_eq!(at(&[key("steps"), Seg::Index(1), key("request")]), Some((6, 12, Some((6, 3)))));
        assert_eq!(at(&[key("nothing")]), None);
        assert!(Places::read("a: [").get(&[]).is_none(), "a broken document has no places");
    }
}
