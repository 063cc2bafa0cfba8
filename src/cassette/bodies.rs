//! A cassette's bodies parsed as their Content-Type says, and those that do not parse located
//! where the file has them: the one check that `lint` reports and `serve` warns of.

use super::Body;
use super::load::{LoadedCassette, Side};
use crate::diagnostic::Diagnostic;
use crate::em::Repr;

/// A body, parsed.
pub enum Parsed {
    Xml(Box<crate::xml::Element>),
    Json(serde_json::Value),
}

impl LoadedCassette {
    /// Body `side` of exchange `index` parsed as its Content-Type says (without one, as its
    /// text begins): `None` for no text body, a body that is neither XML nor JSON, or a response
    /// stored once and referred to (`body_same_as`), which is parsed where it is stored.
    pub fn parse_body(&self, index: usize, side: Side) -> Option<Result<Parsed, Diagnostic>> {
        let (text, _) = self.body_as(index, side)?;
        self.parse_text(index, side, text)
    }

    /// `text`, body `side` of exchange `index` (read from its pack, when it is placed), parsed
    /// as [`parse_body`](Self::parse_body) parses a body in memory.
    pub fn parse_text(&self, index: usize, side: Side, text: &str) -> Option<Result<Parsed, Diagnostic>> {
        let x = &self.cassette.exchanges[index];
        let declared = self.declared(index, side);
        let repr = declared.or_else(|| Repr::sniff(text))?;
        let (line, column, reason) = match repr {
            Repr::Xml => match crate::xml::parse(text) {
                Ok(root) => return Some(Ok(Parsed::Xml(Box::new(root)))),
                Err(e) => (e.line, e.column, e.message),
            },
            Repr::Json => match serde_json::from_str(text) {
                Ok(value) => return Some(Ok(Parsed::Json(value))),
                Err(e) => {
                    let full = e.to_string();
                    let suffix = format!(" at line {} column {}", e.line(), e.column());
                    (e.line(), e.column(), full.strip_suffix(&suffix).unwrap_or(&full).to_owned())
                }
            },
        };
        let says = if declared.is_some() { "as its Content-Type says" } else { "as its text begins" };
        let message = format!("exchange {}: the {} body is not {} {says}: {reason}", x.seq, side.name(), repr.name());
        Some(Err(self.body_diagnostic(index, side, text, line, column, message)))
    }

    /// Every body that does not parse as its Content-Type says, located in the file. Bodies are
    /// checked without building their trees; only one that fails is parsed, to say where.
    pub fn unparsable_bodies(&self) -> Vec<Diagnostic> {
        let sides = (0..self.cassette.exchanges.len()).flat_map(|i| [(i, Side::Request), (i, Side::Response)]);
        sides
            .filter(|(i, side)| !self.body_parses(*i, *side))
            .filter_map(|(i, side)| self.parse_body(i, side)?.err())
            .collect()
    }

    /// Whether body `side` of exchange `index` parses as [`parse_body`](Self::parse_body) would
    /// take it (a body it does not read parses).
    fn body_parses(&self, index: usize, side: Side) -> bool {
        match self.body_as(index, side) {
            Some((text, Repr::Xml)) => crate::xml::well_formed(text),
            Some((text, Repr::Json)) => serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
            None => true,
        }
    }

    /// Body `side` of exchange `index` and what [`parse_body`](Self::parse_body) reads it as;
    /// `None` where it reads nothing.
    /// A body placed in a pack reads nothing (see [`text_as`](Self::text_as)).
    pub fn body_as(&self, index: usize, side: Side) -> Option<(&str, Repr)> {
        let x = &self.cassette.exchanges[index];
        let body = match side {
            Side::Request => &x.request.body,
            Side::Response if x.response.body_same_as.is_some() => return None,
            Side::Response => &x.response.body,
        };
        let Body::Text { text, .. } = body else { return None };
        Some((text, self.text_as(index, side, text)?))
    }

    /// What [`parse_body`](Self::parse_body) reads `text`, body `side` of exchange `index`, as.
    pub fn text_as(&self, index: usize, side: Side, text: &str) -> Option<Repr> {
        self.declared(index, side).or_else(|| Repr::sniff(text))
    }

    /// What the Content-Type of body `side` of exchange `index` says it is.
    fn declared(&self, index: usize, side: Side) -> Option<Repr> {
        let x = &self.cassette.exchanges[index];
        let headers = match side {
            Side::Request => &x.request.headers,
            Side::Response => &x.response.headers,
        };
        headers.get("content-type").and_then(Repr::from_content_type)
    }

    /// A problem at `line:column` of the text of a body of exchange `index`, placed where the
    /// file has it (the exchange's first line when that is not known).
    pub fn body_diagnostic(
        &self,
        index: usize,
        side: Side,
        text: &str,
        line: usize,
        column: usize,
        message: String,
    ) -> Diagnostic {
        let holder = match side {
            Side::Request => index,
            Side::Response => self.cassette.response_body_index(index),
        };
        // The end of the text (an element never closed) is the end of its last line, not the
        // line after the block.
        let (line, column) = match text.lines().last() {
            Some(last) if line > text.lines().count() => (text.lines().count(), last.chars().count() + 1),
            _ => (line, column),
        };
        let block = self.bodies.get(holder).and_then(|b| b[side as usize]).filter(|at| at.block);
        let (file_line, file_column) = self
            .body_position(index, side, line, column)
            .unwrap_or_else(|| (self.lines.get(index).copied().unwrap_or(1).max(1), 1));
        // A literal block's line is the body's line, indented.
        let source_line = block.and_then(|at| {
            let quoted = text.lines().nth(line.checked_sub(1)?)?;
            Some(format!("{}{quoted}", " ".repeat(at.indent)))
        });
        Diagnostic {
            message,
            file: self.name.clone(),
            line: file_line,
            column: file_column.max(1),
            source_line,
            hint: None,
        }
    }
}
