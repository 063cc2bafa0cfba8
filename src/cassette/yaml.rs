//! The canonical cassette writer. One way to write each value, fields in a fixed order, so that
//! saving is deterministic and loading then saving gives back the same bytes.

use std::fmt::Write as _;

use super::{Body, Exchange, FORMAT, Meta};
use crate::codec::base64_encode;
use crate::http::Headers;

const COMMENT: &str = "\
# emtape cassette: HTTP exchanges recorded from Veeam Backup Enterprise Manager, replayed by
# `emtape serve`. {{origin}} stands for the server's address, {{token:N}} and {{session-id:N}}
# for logon session N, {{redacted}} for a secret that was never written down.
";

pub(super) fn header(meta: &Meta) -> String {
    let mut out = String::from(COMMENT);
    out.push_str("format: ");
    out.push_str(FORMAT);
    out.push('\n');
    if *meta != Meta::default() {
        out.push_str("meta:\n");
        let fields = [
            ("product", &meta.product),
            ("product_version", &meta.product_version),
            ("api_version", &meta.api_version),
        ];
        for (key, value) in fields {
            optional(&mut out, 2, key, value.as_deref());
        }
        if !meta.supported_versions.is_empty() {
            out.push_str("  supported_versions:\n");
            for v in &meta.supported_versions {
                out.push_str("  - ");
                scalar(&mut out, v);
                out.push('\n');
            }
        }
        for (key, value) in [("recorded_at", &meta.recorded_at), ("recorded_with", &meta.recorded_with)] {
            optional(&mut out, 2, key, value.as_deref());
        }
        if let Some(d) = &meta.description {
            key_text(&mut out, 2, "description", d);
        }
    }
    out.push_str("exchanges:\n");
    out
}

pub(super) fn exchange(e: &Exchange, out: &mut String) {
    let _ = writeln!(out, "- seq: {}", e.seq);
    out.push_str("  request:\n");
    key_scalar(out, 4, "method", &e.request.method);
    key_scalar(out, 4, "uri", &e.request.uri);
    headers(out, &e.request.headers);
    body(out, &e.request.body);
    out.push_str("  response:\n");
    let _ = writeln!(out, "    status: {}", e.response.status);
    optional(out, 4, "reason", e.response.reason.as_deref());
    headers(out, &e.response.headers);
    match e.response.body_same_as {
        Some(seq) => {
            let _ = writeln!(out, "    body_same_as: {seq}");
        }
        None => body(out, &e.response.body),
    }
}

fn headers(out: &mut String, headers: &Headers) {
    if headers.is_empty() {
        return;
    }
    out.push_str("    headers:\n");
    for (name, value) in headers.iter() {
        out.push_str("    - ");
        scalar(out, name);
        out.push_str(": ");
        scalar(out, value);
        out.push('\n');
    }
}

fn body(out: &mut String, body: &Body) {
    match body {
        Body::Empty => {}
        Body::Text { text, bom } => {
            if *bom {
                out.push_str("    body_encoding: utf-8-bom\n");
            }
            key_text(out, 4, "body", text);
        }
        Body::Binary(bytes) => {
            out.push_str("    body_encoding: base64\n    body: |\n");
            let encoded = base64_encode(bytes);
            for chunk in encoded.as_bytes().chunks(76) {
                out.push_str("      ");
                out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
                out.push('\n');
            }
        }
    }
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn optional(out: &mut String, n: usize, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        key_scalar(out, n, key, v);
    }
}

fn key_scalar(out: &mut String, n: usize, key: &str, value: &str) {
    indent(out, n);
    out.push_str(key);
    out.push_str(": ");
    scalar(out, value);
    out.push('\n');
}

/// A key with a text value: a literal block when the text has line breaks and survives one,
/// otherwise a scalar.
fn key_text(out: &mut String, n: usize, key: &str, text: &str) {
    indent(out, n);
    out.push_str(key);
    out.push_str(": ");
    if text.contains('\n') && block_safe(text) {
        block(out, n, text);
    } else {
        scalar(out, text);
        out.push('\n');
    }
}

/// Characters a literal block cannot carry unchanged: YAML folds `\r`, treats NEL and the
/// Unicode separators as line breaks, and forbids other control characters.
fn unsafe_in_block(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}')
}

fn block_safe(text: &str) -> bool {
    !text.trim_end_matches('\n').is_empty() && !text.chars().any(unsafe_in_block)
}

fn block(out: &mut String, n: usize, text: &str) {
    let core = text.trim_end_matches('\n');
    let trailing = text.len() - core.len();
    out.push('|');
    // Auto-detected indentation would misread a first line that starts with white space.
    if core.starts_with([' ', '\t', '\n']) {
        out.push('2');
    }
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    out.push('\n');
    for line in core.split('\n') {
        if !line.is_empty() {
            indent(out, n + 2);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..trailing {
        out.push('\n');
    }
}

/// Writes `s` plain when YAML reads it back as the same string, double-quoted otherwise.
pub(super) fn scalar(out: &mut String, s: &str) {
    if plain_safe(s) {
        out.push_str(s);
    } else {
        quoted(out, s);
    }
}

fn plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    !(s.trim() != s
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control() || unsafe_in_block(c))
        || matches!(s, "~" | "null" | "Null" | "NULL"))
}

fn quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 && c.is_control() => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if unsafe_in_block(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar_text(s: &str) -> String {
        let mut out = String::new();
        scalar(&mut out, s);
        out
    }

    #[test]
    fn scalars_are_plain_when_safe() {
        assert_eq!(scalar_text("application/xml; charset=utf-8"), "application/xml; charset=utf-8");
        assert_eq!(scalar_text("{{date}}"), "\"{{date}}\"");
        assert_eq!(scalar_text("a: b"), "\"a: b\"");
        assert_eq!(scalar_text(""), "\"\"");
        assert_eq!(scalar_text("tab\there\u{85}"), "\"tab\\there\\x85\"");
        assert_eq!(scalar_text("null"), "\"null\"");
    }

    /// Every text, however awkward, must read back exactly as written.
    #[test]
    fn text_round_trips_through_yaml() {
        let samples = [
            "<a/>\n",
            "<a/>",
            "<a/>\n\n\n",
            "  leading spaces\nsecond\n",
            "\tleading tab\n\tand more\n",
            "\n\nleading blank lines\n",
            "trailing spaces   \n   \n\nlast",
            "crlf\r\nline\r\n",
            "bom \u{feff} inside\n",
            "nel\u{85}line\n",
            "{\"Href\": \"x\"}\n",
            "- looks like a list\n- item\n",
            "key: value\n# not a comment\n",
            "\n",
            "x",
            "ünïcödé\nlines\n",
            "   \n",
            "a\n\tb\n",
        ];
        for text in samples {
            let mut out = String::new();
            key_text(&mut out, 4, "body", text);
            let doc = format!("x:\n  y:\n{out}");
            let value: serde_yaml::Value =
                serde_yaml::from_str(&doc).unwrap_or_else(|e| panic!("{text:?}: {e}\n{doc}"));
            assert_eq!(value["x"]["y"]["body"].as_str(), Some(text), "{doc}");
        }
    }
}
