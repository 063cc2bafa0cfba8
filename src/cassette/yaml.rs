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

const VBR_COMMENT: &str = "\
# emtape cassette: HTTP exchanges recorded from Veeam Backup & Replication REST, replayed by
# `emtape serve`. {{origin}} stands for the server's address, {{token:N}} and {{refresh-token:N}}
# for the tokens of OAuth2 session N, {{redacted}} for a secret that was never written down.
";

pub(super) fn header(meta: &Meta) -> String {
    let vbr = meta.api.as_deref().and_then(crate::vbr::Api::parse) == Some(crate::vbr::Api::Vbr);
    let mut out = String::from(if vbr { VBR_COMMENT } else { COMMENT });
    out.push_str("format: ");
    out.push_str(FORMAT);
    out.push('\n');
    if *meta != Meta::default() {
        out.push_str("meta:\n");
        let fields = [
            ("api", &meta.api),
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
        for (key, value) in [
            ("recorded_at", &meta.recorded_at),
            ("recorded_with", &meta.recorded_with),
            ("session_tokens", &meta.session_tokens),
        ] {
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
    exchange_with(e, out, |out| body(out, &e.response.body));
}

/// An exchange, its response body (unless it is `body_same_as` another's) written by `response_body`.
pub(super) fn exchange_with(e: &Exchange, out: &mut String, response_body: impl FnOnce(&mut String)) {
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
        None => response_body(out),
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

pub(super) fn body(out: &mut String, body: &Body) {
    match body {
        Body::Empty => {}
        Body::Placed(p) => body_at(out, p.at(), p.len() as u64, p.bom()),
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

/// A response body in a pack, named by where it is.
pub(super) fn body_at(out: &mut String, at: u64, len: u64, bom: bool) {
    if bom {
        out.push_str("    body_encoding: utf-8-bom\n");
    }
    let _ = writeln!(out, "    body_at: [{at}, {len}]");
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
    !text.trim_end_matches('\n').is_empty() && !any_unsafe_in_block(text)
}

/// Whether `text` has a character [`unsafe_in_block`]: what a large body's survey asks of
/// every byte, so runs of plain ASCII are passed over 32 bytes at a time.
fn any_unsafe_in_block(text: &str) -> bool {
    let plain = |b: u8| (b' '..0x7f).contains(&b) || b == b'\n' || b == b'\t';
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes.len() - i >= 32 && bytes[i..i + 32].iter().fold(true, |all, &b| all & plain(b)) {
            i += 32;
        } else if plain(bytes[i]) {
            i += 1;
        } else {
            // Past plain ASCII, `i` starts a character.
            let Some(c) = text[i..].chars().next() else { return false };
            if unsafe_in_block(c) {
                return true;
            }
            i += c.len_utf8();
        }
    }
    false
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
        || matches!(s, "~" | "null" | "Null" | "NULL")
        || !reads_back(s))
}

/// Whether YAML reads `s`, written plain, back as the same text: `+0`, `0x1A` or `1.50` would
/// come back as numbers written otherwise.
fn reads_back(s: &str) -> bool {
    let maybe_not_text = s.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '.') || s.len() <= 5;
    if !maybe_not_text {
        return true;
    }
    match serde_yaml::from_str::<serde_yaml::Value>(s) {
        Ok(serde_yaml::Value::String(t)) => t == s,
        Ok(serde_yaml::Value::Number(n)) => n.to_string() == s,
        Ok(serde_yaml::Value::Bool(b)) => b.to_string() == s,
        _ => false,
    }
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
    use crate::cassette::{Body, Cassette, Exchange, RecordedRequest, RecordedResponse};
    use proptest::prelude::*;

    fn exchange() -> impl Strategy<Value = Exchange> {
        (
            prop_oneof![Just("GET"), Just("POST"), Just("DELETE")],
            "/api/[a-zA-Z0-9/?=&%-]{0,24}",
            proptest::collection::vec(("[A-Z][a-zA-Z-]{0,10}", "[ -~]{0,20}"), 0..3),
            "(.|\n){0,60}",
            prop_oneof![Just(200u16), Just(202), Just(204), Just(401), Just(404)],
        )
            .prop_map(|(method, uri, headers, body, status)| Exchange {
                seq: 0,
                request: RecordedRequest {
                    method: method.into(),
                    uri,
                    headers: headers.into_iter().collect(),
                    body: Body::Empty,
                },
                response: RecordedResponse {
                    status,
                    reason: None,
                    headers: Default::default(),
                    body: Body::text(body),
                    body_same_as: None,
                },
            })
    }

    proptest! {
        #[test]
        fn a_written_cassette_loads_back_the_same_and_formats_to_itself(mut exchanges in proptest::collection::vec(exchange(), 1..5)) {
            for (i, e) in exchanges.iter_mut().enumerate() {
                e.seq = i as u64 + 1;
            }
            let cassette = Cassette { meta: Default::default(), exchanges };
            let text = cassette.to_yaml();
            let loaded = Cassette::parse("prop", &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&loaded.cassette.exchanges, &cassette.exchanges);
            prop_assert_eq!(loaded.cassette.to_yaml(), text);
        }

        /// The fast survey of a body's characters agrees with the plain one, ASCII runs or not.
        #[test]
        fn the_fast_block_check_agrees_with_the_character_one(
            parts in proptest::collection::vec(prop_oneof!["[ -~\n\t]{0,70}", "\\PC{0,5}", ".{0,3}"], 0..6)
        ) {
            let text = parts.concat();
            prop_assert_eq!(any_unsafe_in_block(&text), text.chars().any(unsafe_in_block), "{:?}", text);
        }
    }

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
        assert_eq!(scalar_text("+0"), "\"+0\"");
        assert_eq!(scalar_text("0x1A"), "\"0x1A\"");
        assert_eq!(scalar_text("1.50"), "\"1.50\"");
        assert_eq!(scalar_text("200"), "200");
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

/// What a first pass over a large body found, so the second can write it in one go.
#[derive(Clone, Debug)]
pub struct Survey {
    len: u64,
    bom: bool,
    utf8: bool,
    block_safe: bool,
    leading_space: bool,
    trailing_newlines: u64,
    multiline: bool,
}

/// A [`Survey`] made as a body's bytes come, in pieces of any size: one who spools a large
/// body surveys it on the way, and its writer reads it once instead of twice.
#[derive(Debug)]
pub struct Surveyor {
    s: Survey,
    /// Bytes not yet read as text: the first few, then a character split between two pieces.
    pending: Vec<u8>,
    /// Whether the first bytes (a whole BOM and the byte after it) have been read.
    begun: bool,
}

impl Default for Surveyor {
    fn default() -> Surveyor {
        let s = Survey {
            len: 0,
            bom: false,
            utf8: true,
            block_safe: true,
            leading_space: false,
            trailing_newlines: 0,
            multiline: false,
        };
        Surveyor { s, pending: Vec::new(), begun: false }
    }
}

impl Surveyor {
    /// Takes in the body's next piece.
    pub fn feed(&mut self, mut piece: &[u8]) {
        self.s.len += piece.len() as u64;
        if !self.s.utf8 {
            return;
        }
        if !self.begun {
            let n = piece.len().min(4 - self.pending.len());
            self.pending.extend_from_slice(&piece[..n]);
            piece = &piece[n..];
            if self.pending.len() < 4 || !self.begin() {
                return;
            }
        }
        while !self.pending.is_empty() && !piece.is_empty() {
            self.pending.push(piece[0]);
            piece = &piece[1..];
            if !settle(&mut self.s, &mut self.pending) {
                return;
            }
        }
        self.pending.extend_from_slice(match std::str::from_utf8(piece) {
            Ok(text) => {
                self.s.read(text);
                &[]
            }
            Err(e) if e.error_len().is_none() => {
                let (valid, split) = piece.split_at(e.valid_up_to());
                self.s.read(std::str::from_utf8(valid).unwrap_or_default());
                split
            }
            Err(_) => {
                self.s.utf8 = false;
                &[]
            }
        });
    }

    /// Reads the first bytes; false when they are not UTF-8.
    fn begin(&mut self) -> bool {
        self.begun = true;
        if self.pending.starts_with("\u{feff}".as_bytes()) {
            self.s.bom = true;
            self.pending.drain(..3);
        }
        self.s.leading_space = self.pending.first().is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n'));
        settle(&mut self.s, &mut self.pending)
    }

    /// Whether what came so far is UTF-8 (once not, the rest need not be surveyed).
    fn utf8(&self) -> bool {
        self.s.utf8
    }

    /// The survey of the whole body.
    pub fn finish(mut self) -> Survey {
        if !self.begun {
            self.begin();
        }
        // A character cut short at the end.
        if !self.pending.is_empty() {
            self.s.utf8 = false;
        }
        let body = self.s.len - if self.s.bom { 3 } else { 0 };
        if body == self.s.trailing_newlines {
            self.s.block_safe = false;
        }
        self.s
    }
}

/// Reads the body once, in the reader's own buffers (a body held in memory is not copied).
fn survey(mut file: impl std::io::BufRead) -> std::io::Result<Survey> {
    let mut surveyor = Surveyor::default();
    while surveyor.utf8() {
        let buf = file.fill_buf()?;
        let n = buf.len();
        if n == 0 {
            break;
        }
        surveyor.feed(buf);
        file.consume(n);
    }
    Ok(surveyor.finish())
}

/// Reads what `pending` has of whole characters, keeping a character not yet complete; false
/// (and the survey says so) when it is not UTF-8.
fn settle(s: &mut Survey, pending: &mut Vec<u8>) -> bool {
    match std::str::from_utf8(pending) {
        Ok(text) => {
            s.read(text);
            pending.clear();
        }
        Err(e) if e.error_len().is_none() => {
            let valid = e.valid_up_to();
            s.read(std::str::from_utf8(&pending[..valid]).unwrap_or_default());
            pending.drain(..valid);
        }
        Err(_) => s.utf8 = false,
    }
    s.utf8
}

impl Survey {
    /// Takes in the next piece of the body's text.
    fn read(&mut self, text: &str) {
        self.multiline |= text.contains('\n');
        if self.block_safe && any_unsafe_in_block(text) {
            self.block_safe = false;
        }
        let trailing = text.len() - text.trim_end_matches('\n').len();
        self.trailing_newlines =
            if trailing == text.len() { self.trailing_newlines + trailing as u64 } else { trailing as u64 };
    }
}

/// Lines of a large body transformed at once: redaction sees whole lines, a few thousand at a
/// time, and memory stays flat.
const LINES_AT_ONCE: usize = 1 << 16;

/// Writes the `body` of a response too large to hold twice, whose bytes `open` reads (it is
/// called twice unless the body was `surveyed` as it came: a first pass surveys them), in the
/// form [`super::Cassette::to_yaml`] gives the same body, with `transform` applied to its text a
/// run of whole lines at a time. Memory stays flat whatever the size.
pub(crate) fn large_body<R: std::io::BufRead>(
    out: &mut impl std::io::Write,
    open: impl Fn() -> std::io::Result<R>,
    surveyed: Option<Survey>,
    transform: &dyn Fn(&str) -> std::borrow::Cow<'_, str>,
) -> std::io::Result<()> {
    let s = match surveyed {
        Some(s) => s,
        None => survey(open()?)?,
    };
    if s.len == 0 {
        return Ok(());
    }
    let mut file = open()?;
    if !s.utf8 {
        out.write_all(b"    body_encoding: base64\n    body: |\n")?;
        let mut buf = vec![0u8; 57 * 1024];
        loop {
            let mut filled = 0;
            while filled < buf.len() {
                let n = file.read(&mut buf[filled..])?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            let encoded = base64_encode(&buf[..filled]);
            for chunk in encoded.as_bytes().chunks(76) {
                out.write_all(b"      ")?;
                out.write_all(chunk)?;
                out.write_all(b"\n")?;
            }
            if filled < buf.len() {
                break;
            }
        }
        return Ok(());
    }
    if s.bom {
        file.read_exact(&mut [0u8; 3])?;
        out.write_all(b"    body_encoding: utf-8-bom\n")?;
    }
    let core = s.len - if s.bom { 3 } else { 0 } - s.trailing_newlines;
    let mut read = 0u64;
    let mut line = String::new();
    if !s.multiline {
        // One line: a scalar, as the canonical writer gives it (the line is held in memory).
        file.read_to_string(&mut line)?;
        let mut text = String::from("    body: ");
        scalar(&mut text, &transform(&line));
        text.push('\n');
        return out.write_all(text.as_bytes());
    }
    if s.block_safe {
        let mut head = String::from("    body: |");
        if s.leading_space {
            head.push('2');
        }
        match s.trailing_newlines {
            0 => head.push('-'),
            1 => {}
            _ => head.push('+'),
        }
        head.push('\n');
        out.write_all(head.as_bytes())?;
        let (mut lines, mut block) = (Vec::new(), Vec::new());
        while read < core {
            // A run of whole lines, up to the end of the core (the trailing newlines are written
            // apart): a block, and the rest of the line it ends in.
            lines.resize(LINES_AT_ONCE.min((core - read) as usize), 0);
            file.read_exact(&mut lines)?;
            read += lines.len() as u64;
            if read < core && lines.last() != Some(&b'\n') {
                read += file.read_until(b'\n', &mut lines)? as u64;
            }
            let run =
                std::str::from_utf8(&lines).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            // Indented line by line into one buffer, written at once.
            let text = transform(run.strip_suffix('\n').unwrap_or(run));
            let text = text.as_bytes();
            block.clear();
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', text).chain([text.len()]) {
                if end > start {
                    block.extend_from_slice(b"      ");
                    block.extend_from_slice(&text[start..end]);
                }
                block.push(b'\n');
                start = end + 1;
            }
            out.write_all(&block)?;
        }
        for _ in 1..s.trailing_newlines {
            out.write_all(b"\n")?;
        }
    } else {
        out.write_all(b"    body: \"")?;
        let mut rest = s.len - if s.bom { 3 } else { 0 };
        while rest > 0 {
            line.clear();
            let n = file.read_line(&mut line)? as u64;
            if n == 0 {
                break;
            }
            rest -= n;
            let (text, newline) = match line.strip_suffix('\n') {
                Some(t) => (t, true),
                None => (line.as_str(), false),
            };
            let mut escaped = String::new();
            quoted(&mut escaped, &transform(text));
            out.write_all(&escaped.as_bytes()[1..escaped.len() - 1])?;
            if newline {
                out.write_all(b"\\n")?;
            }
        }
        out.write_all(b"\"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod spool_tests {
    use super::*;
    use crate::cassette::{Cassette, Exchange, RecordedRequest, RecordedResponse};

    /// A large body written from a file must read exactly as the in-memory writer's output,
    /// whether it is surveyed first or was surveyed as it came.
    #[test]
    fn spooled_bodies_match_the_canonical_writer() {
        let dir = crate::Scratch::new("spool");
        let samples: Vec<Vec<u8>> = vec![
            b"<a>\n  <b/>\n</a>\n".to_vec(),
            b"no newline at the end".to_vec(),
            b"  leading\n\n\n".to_vec(),
            b"crlf\r\nlines\r\n".to_vec(),
            "\u{feff}{\"bom\": true}\n".as_bytes().to_vec(),
            vec![0xff, 0xfe, 0x00, 0x41],
            // A BOM, then white space, then characters split between any two parts.
            "\u{feff}  é\nü€\n\n".as_bytes().to_vec(),
            "\u{feff}".as_bytes().to_vec(),
            // A character cut short at the end, and a broken one.
            vec![b'a', b'\n', 0xc3],
            vec![b'a', 0xc3, 0x28, b'\n'],
            "x".repeat(200_000).into_bytes(),
            // Runs of lines past one transform's worth, one line crossing each boundary.
            format!("{}\n\n", "a line of text, ünïcödé\n".repeat(20_000)).into_bytes(),
            "a line of text\n".repeat(20_000).trim_end().as_bytes().to_vec(),
        ];
        for (i, bytes) in samples.iter().enumerate() {
            let path = dir.join(format!("b{i}"));
            std::fs::write(&path, bytes).unwrap();
            let mut spooled = Vec::new();
            let open = || Ok(std::io::BufReader::new(std::fs::File::open(&path)?));
            large_body(&mut spooled, open, None, &|l| l.into()).unwrap();
            for size in [1, 3, 7, 4096].into_iter().filter(|&n| n >= 4096 || bytes.len() < 1000) {
                let parts: Vec<bytes::Bytes> = bytes.chunks(size).map(bytes::Bytes::copy_from_slice).collect();
                let mut held = Vec::new();
                crate::cassette::write_large_body(&mut held, &parts, &|l| l.into()).unwrap();
                assert_eq!(held, spooled, "sample {i} in parts of {size}");
                // Surveyed as it was spooled, in those parts, it is written alike.
                let mut surveyor = Surveyor::default();
                parts.iter().for_each(|p| surveyor.feed(p));
                let mut surveyed = Vec::new();
                large_body(&mut surveyed, open, Some(surveyor.finish()), &|l| l.into()).unwrap();
                assert_eq!(surveyed, spooled, "sample {i} surveyed in parts of {size}");
            }
            let e = Exchange {
                seq: 1,
                request: RecordedRequest {
                    method: "GET".into(),
                    uri: "/".into(),
                    headers: Default::default(),
                    body: Body::Empty,
                },
                response: RecordedResponse {
                    status: 200,
                    reason: None,
                    headers: Default::default(),
                    body: Body::from_bytes(bytes),
                    body_same_as: None,
                },
            };
            let whole = e.to_yaml();
            let head = whole.find("    body").map_or(whole.as_str(), |at| &whole[at..]);
            assert_eq!(String::from_utf8(spooled).unwrap(), head, "sample {i}");
            let text = format!("format: emtape/cassette-v1\nexchanges:\n{whole}");
            assert_eq!(Cassette::parse("t", &text).unwrap().cassette.exchanges[0].response.body.to_bytes(), *bytes);
        }
    }
}
