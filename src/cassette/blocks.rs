//! Body text lifted out of a cassette before its YAML is parsed. A body written as a literal
//! block (`body: |`) is most of a cassette's bytes, and a YAML parser reads it a character at
//! a time; here its lines are cut out by indentation alone, and the parser reads what is left: a
//! skeleton in which each body stands as a quoted marker that the `body` fields turn back into
//! the text.
//!
//! The skeleton is used only when it reads back as exactly what it stands for: every marker
//! taken, once, by a `body` field. Anything else (a block this reader does not take apart, a
//! marker that ended up elsewhere, a parse error) goes back to the YAML parser with the whole
//! text, so errors and odd files are read as before.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Deserializer};

/// Literal blocks taken out of one text, by marker number.
struct Lifted {
    /// What every marker starts with; unique to this parse and absent from the text.
    prefix: String,
    texts: Vec<Option<Arc<str>>>,
    /// A marker was read that names no block, or names one a second time.
    stray: bool,
}

thread_local! {
    static LIFTED: RefCell<Option<Lifted>> = const { RefCell::new(None) };
}

/// A YAML reading: of a whole text, or of a skeleton (its bodies lifted out).
pub(super) type Reading<T> = fn(&str) -> Result<T, serde_yaml::Error>;

/// Parses `text` as YAML into `T`, lifting literal `body:` blocks out first when that reads
/// back exactly (the skeleton read by `skeleton`); otherwise (and for every error) parses the
/// text as it is.
pub(super) fn from_str<T: serde::de::DeserializeOwned>(
    text: &str,
    skeleton: Reading<T>,
) -> Result<T, serde_yaml::Error> {
    if let Some(value) = lifted_parse(text, skeleton) {
        return Ok(value);
    }
    serde_yaml::from_str(text)
}

pub(super) fn lifted_parse<T>(text: &str, read: Reading<T>) -> Option<T> {
    let nonce = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let prefix = format!("emtape-lifted-block-{nonce:016x}-");
    if text.contains(&prefix[..prefix.len() - 1]) {
        return None;
    }
    let (skeleton, texts) = split(text, &prefix)?;
    if texts.is_empty() {
        return None;
    }
    LIFTED.with(|l| *l.borrow_mut() = Some(Lifted { prefix, texts, stray: false }));
    let parsed = read(&skeleton);
    let lifted = LIFTED.with(|l| l.borrow_mut().take())?;
    let complete = !lifted.stray && lifted.texts.iter().all(Option::is_none);
    parsed.ok().filter(|_| complete)
}

/// A `body` field: the text of a lifted block when it holds a marker, else as written.
pub(super) fn body<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<str>>, D::Error> {
    let Some(written) = Option::<String>::deserialize(d)? else { return Ok(None) };
    Ok(Some(LIFTED.with(|l| {
        let mut guard = l.borrow_mut();
        let Some(lifted) = guard.as_mut() else { return written.into() };
        let Some(n) = written.strip_prefix(&lifted.prefix) else { return written.into() };
        match n.parse::<usize>().ok().and_then(|n| lifted.texts.get_mut(n)).and_then(Option::take) {
            Some(text) => text,
            None => {
                lifted.stray = true;
                written.into()
            }
        }
    })))
}

/// The skeleton and the lifted texts; `None` when a block is written in a way this reader
/// leaves to the YAML parser (a comment or folding on its header, tabs or carriage returns,
/// blank lines longer than its indentation before its text, a file ending inside one).
fn split(text: &str, prefix: &str) -> Option<(String, Vec<Option<Arc<str>>>)> {
    if text.contains('\r') || !text.ends_with('\n') {
        return None;
    }
    let mut lines = text.split_inclusive('\n').peekable();
    let mut skeleton = String::with_capacity(text.len() / 8);
    let mut texts = Vec::new();
    // Reused from block to block: the lines of one, and its text before it is shared.
    let (mut block, mut buffer) = (Vec::new(), String::new());
    while let Some(line) = lines.next() {
        let Some((key_indent, header_at, key)) = block_header(line) else {
            skeleton.push_str(line);
            continue;
        };
        let header = line[header_at..].trim_end();
        // The block's text ends at the first non-blank line indented no deeper than its key.
        block.clear();
        while let Some(next) = lines.next_if(|l| is_blank(l) || indent(l) > key_indent) {
            block.push(next);
        }
        if key != "body" {
            // Another key's block (a description) is kept whole; its text is not scanned for keys.
            skeleton.push_str(line);
            block.iter().for_each(|l| skeleton.push_str(l));
            continue;
        }
        literal(&block, header, key_indent, &mut buffer)?;
        // Only the marker stands for it: an error is always the parser's, on the whole text.
        skeleton.push_str(&line[..header_at]);
        skeleton.push('"');
        skeleton.push_str(prefix);
        skeleton.push_str(&texts.len().to_string());
        skeleton.push_str("\"\n");
        texts.push(Some(Arc::from(buffer.as_str())));
    }
    Some((skeleton, texts))
}

/// A line that opens a block scalar (`key: |…` or `key: >…`, after an optional `- `): the
/// key's indentation, where the header starts, and the key.
fn block_header(line: &str) -> Option<(usize, usize, &str)> {
    let trimmed = line.trim_start_matches(' ');
    let mut at = line.len() - trimmed.len();
    let mut rest = trimmed;
    if let Some(after) = rest.strip_prefix("- ") {
        let item = after.trim_start_matches(' ');
        at += rest.len() - item.len();
        rest = item;
    }
    let colon = rest.find(": ")?;
    let key = &rest[..colon];
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let value = rest[colon + 1..].trim_start_matches(' ');
    value.starts_with(['|', '>']).then(|| (at, line.len() - value.len(), key))
}

/// The text of a literal block whose lines are `lines`, under a key indented `key_indent`, by
/// YAML's rules: the indentation of its first non-blank line (or the header's indicator) cut
/// from every line, and its line breaks at the end clipped to one, stripped (`-`) or kept (`+`).
fn literal(lines: &[&str], header: &str, key_indent: usize, out: &mut String) -> Option<()> {
    let mut indicators = header.strip_prefix('|')?.chars();
    let (mut chomp, mut explicit) = (None, None);
    for _ in 0..2 {
        match indicators.clone().next() {
            Some(c @ ('-' | '+')) if chomp.is_none() => chomp = Some(c),
            Some(c @ '1'..='9') if explicit.is_none() => explicit = c.to_digit(10).map(|d| key_indent + d as usize),
            _ => break,
        }
        indicators.next();
    }
    if indicators.next().is_some() || lines.iter().any(|l| l.contains('\t')) {
        return None;
    }
    let first = lines.iter().position(|l| !is_blank(l));
    let width = match (explicit, first) {
        (Some(w), _) => w,
        (None, Some(f)) => indent(lines[f]),
        (None, None) => key_indent + 1,
    };
    if width <= key_indent || lines[..first.unwrap_or(lines.len())].iter().any(|l| content(l).len() > width) {
        return None;
    }
    out.clear();
    // Lines after the last with text: blank, and only line breaks unless kept.
    let holds_text = |l: &&str| !is_blank(l) || content(l).len() > width;
    let last = lines.iter().rposition(holds_text);
    for line in &lines[..last.map_or(0, |n| n + 1)] {
        if holds_text(line) {
            if indent(line) < width.min(content(line).len()) {
                return None;
            }
            out.push_str(&content(line)[width..]);
        }
        out.push('\n');
    }
    match chomp {
        Some('-') => {
            out.pop();
        }
        Some('+') => (last.map_or(0, |n| n + 1)..lines.len()).for_each(|_| out.push('\n')),
        _ => {}
    }
    Some(())
}

/// A line without its line break.
fn content(line: &str) -> &str {
    line.strip_suffix('\n').unwrap_or(line)
}

fn is_blank(line: &str) -> bool {
    content(line).bytes().all(|b| b == b' ')
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Doc {
        #[serde(default, deserialize_with = "body")]
        body: Option<Arc<str>>,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Item {
        #[serde(default, deserialize_with = "body")]
        body: Option<Arc<str>>,
        #[serde(default)]
        uri: Option<String>,
    }

    fn yaml(text: &str) -> Result<Doc, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }

    fn both(text: &str) -> (Option<Doc>, Result<Doc, String>) {
        (lifted_parse::<Doc>(text, yaml), serde_yaml::from_str::<Doc>(text).map_err(|e| e.to_string()))
    }

    #[test]
    fn literal_blocks_read_as_the_yaml_parser_reads_them() {
        let texts = [
            "body: |\n  <a/>\n",
            "body: |-\n  a\n  b\n",
            "body: |+\n  a\n\n\n",
            "body: |\n  a\n\n   \n",
            "body: |\n\n  a\n\n  b\n\n",
            "body: |2\n    indented more\n  b\n",
            "body: |-2\n   x\n",
            "body: |\n  a  \n     \n  b\ndescription: |\n  body: |\n    not a body\n",
            "items:\n- uri: /a\n  body: |\n    one\n    body: |\n      inside\n- body: |\n    two\n",
            "items:\n  - body: |\n      three\n    uri: /c\n",
            "body: |\n  {{origin}} \"quoted\" 'single' # not a comment\n  : colon\n",
            "body: |\n",
            "body: |+\n\n\n",
            "body: |\ndescription: x\n",
        ];
        for text in texts {
            let (fast, slow) = both(text);
            assert_eq!(fast, Some(slow.unwrap_or_else(|e| panic!("{text:?}: {e}"))), "{text:?}");
        }
    }

    #[test]
    fn blocks_this_reader_does_not_take_apart_are_left_to_the_yaml_parser() {
        for text in [
            "body: | # a comment\n  a\n",
            "body: >\n  folded\n  lines\n",
            "body: |\n\ta\n",
            "body: |\r\n  a\r\n",
            "body: |\n      \n  a\n",
            "body: |\n  a",
        ] {
            assert_eq!(lifted_parse::<Doc>(text, yaml), None, "{text:?}");
            assert_eq!(from_str::<Doc>(text, yaml).ok(), serde_yaml::from_str::<Doc>(text).ok(), "{text:?}");
        }
    }

    proptest::proptest! {
        /// Whatever the lines, a lifted reading is the YAML parser's reading or none at all.
        #[test]
        fn a_lifted_reading_is_never_other_than_the_parsers(
            header in proptest::sample::select(vec!["|", "|-", "|+", "|2", "|-1", "|1+", "| #c", ">"]),
            indent in 0usize..5,
            lines in proptest::collection::vec(proptest::sample::select(
                vec!["", " ", "  ", "    ", "a", " a", "  a", "body: |", "- x", "#c", "a  ", "\tb", "x: y"]), 0..8),
            tail in proptest::sample::select(vec!["", "description: d\n", "items:\n- body: |\n    i\n"]),
        ) {
            let pad = " ".repeat(indent);
            let text: String = std::iter::once(format!("body: {header}\n"))
                .chain(lines.iter().map(|l| format!("{pad}{l}\n")))
                .chain(std::iter::once(tail.to_owned()))
                .collect();
            if let Some(fast) = lifted_parse::<Doc>(&text, yaml) {
                proptest::prop_assert_eq!(Ok(fast), serde_yaml::from_str::<Doc>(&text).map_err(|e| e.to_string()), "{:?}", text);
            }
        }
    }

    #[test]
    fn a_skeleton_holds_a_marker_for_each_body_and_errors_are_the_parsers_on_the_whole_text() {
        let text = "body: |\n  a\n  b\nitems: [\n";
        let skeleton = split(text, "p-").unwrap().0;
        assert_eq!(skeleton, "body: \"p-0\"\nitems: [\n");
        let (fast, slow) = (from_str::<Doc>(text, yaml).unwrap_err(), serde_yaml::from_str::<Doc>(text).unwrap_err());
        assert_eq!(fast.to_string(), slow.to_string());
    }
}
