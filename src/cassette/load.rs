//! Reading cassettes: YAML to checked types, and every problem reported with file, line and
//! column, what was expected, and a hint where one helps.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::blocks;
use super::template::suspicious_placeholders;
use super::{Body, Cassette, Exchange, FORMAT, Meta, RecordedRequest, RecordedResponse};
use crate::codec::base64_decode;
use crate::diagnostic::{Diagnostic, yaml_diagnostic};
use crate::http::Headers;
use crate::yamlish::Scalar;

/// Why a cassette could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CassetteError {
    #[error("cannot read cassette {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("invalid cassette: {0}")]
    Invalid(Box<Diagnostic>),
}

/// A cassette with what is known about where it came from.
#[derive(Clone, Debug)]
pub struct LoadedCassette {
    /// The file name (or the embedded cassette's name), for messages.
    pub name: String,
    pub cassette: Cassette,
    /// The line each exchange starts on, parallel to `cassette.exchanges`.
    pub lines: Vec<usize>,
    /// Things that load but are probably mistakes.
    pub warnings: Vec<Diagnostic>,
    /// Where each exchange's request and response bodies are written, parallel to
    /// `cassette.exchanges` ([`Side`] as the index); `None` for a body not written (or not
    /// found).
    pub bodies: Vec<[Option<BodyAt>; 2]>,
    /// The pack it was read from, whose response bodies it leaves there.
    pub pack: Option<Arc<super::pack::PackFile>>,
}

/// Which body of an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Request => "request",
            Side::Response => "response",
        }
    }
}

/// Where a body's text is written in the cassette file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BodyAt {
    /// The line of the body's first line (a literal block, `body: |`), or of its `body:` key.
    pub line: usize,
    /// The columns before the body's text: its indentation in a literal block.
    pub indent: usize,
    /// Whether the body is a literal block, whose lines are lines of the file.
    pub block: bool,
}

impl BodyAt {
    /// The file's line and column of `line:column` (from 1) of the body's text; a body that
    /// is not a literal block (a quoted scalar) is placed at its start.
    pub fn position(&self, line: usize, column: usize) -> (usize, usize) {
        if self.block {
            (self.line + line.saturating_sub(1), self.indent + column.max(1))
        } else {
            (self.line, self.indent + 1)
        }
    }
}

impl LoadedCassette {
    /// The cassette with every placed body read into memory.
    pub fn into_memory(mut self) -> Result<LoadedCassette, CassetteError> {
        for exchange in &mut self.cassette.exchanges {
            if let Body::Placed(_) = &exchange.response.body {
                exchange.response.body = exchange.response.body.read()?.into_owned();
            }
        }
        self.pack = None;
        Ok(self)
    }

    /// Where `line:column` of a body of exchange `index` is in the file: a response stored
    /// once and referred to (`body_same_as`) is where it is stored. `None` when not known.
    pub fn body_position(&self, index: usize, side: Side, line: usize, column: usize) -> Option<(usize, usize)> {
        let index = match side {
            Side::Request => index,
            Side::Response => self.cassette.response_body_index(index),
        };
        let at = self.bodies.get(index)?[side as usize]?;
        Some(at.position(line, column))
    }
}

pub(super) fn load_file(path: &Path) -> Result<LoadedCassette, CassetteError> {
    let name = path.display().to_string();
    let unreadable = |e: std::io::Error| CassetteError::Read { path: name.clone(), reason: e.to_string() };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut head = [0; 32];
    let read = std::io::Read::read(&mut &file, &mut head).map_err(unreadable)?;
    if super::pack::is_pack(&head[..read]) {
        return super::pack::load(path, file);
    }
    std::io::Seek::rewind(&mut &file).map_err(unreadable)?;
    if let Some(loaded) = streamed(&name, std::io::BufReader::with_capacity(1 << 20, file)).map_err(unreadable)? {
        return Ok(loaded);
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let before = String::from_utf8_lossy(&e.as_bytes()[..offset]).into_owned();
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        CassetteError::Invalid(Box::new(
            Diagnostic::at(&name, &before, line, column, "the file is not UTF-8 text")
                .with_hint("bodies that are not UTF-8 belong in `body` with `body_encoding: base64`"),
        ))
    })?;
    whole(&name, &text)
}

pub(super) fn parse(name: &str, text: &str) -> Result<LoadedCassette, CassetteError> {
    match streamed(name, text.as_bytes()) {
        Ok(Some(loaded)) => Ok(loaded),
        _ => whole(name, text),
    }
}

/// A cassette read an exchange at a time, as the recorder writes them (the exchanges the last
/// key, each item at the start of a line), holding no more of the file's text than one
/// exchange: a large cassette's text is never in memory whole. `None` for anything that needs
/// the whole text (an error or a warning to place in it, a cut-off file, a cassette written
/// another way), which [`whole`] then reads as if this had not been tried.
fn streamed(name: &str, reader: impl std::io::BufRead) -> std::io::Result<Option<LoadedCassette>> {
    let mut lines = WholeLines { reader, buffer: Vec::new() };
    let mut head = String::new();
    loop {
        match lines.next()? {
            Some("") | None => return Ok(None),
            Some(line) => head.push_str(line),
        }
        if head.ends_with("\nexchanges:\n") || head == "exchanges:\n" {
            break;
        }
    }
    let Ok(raw) = serde_yaml::from_str::<RawCassette>(&head) else { return Ok(None) };
    if raw.format != FORMAT || !raw.exchanges.is_empty() {
        return Ok(None);
    }
    let mut read = head.matches('\n').count();
    let (mut exchanges, mut starts, mut bodies) = (Vec::new(), Vec::new(), Vec::new());
    let mut seqs = std::collections::HashSet::new();
    // The item being read, and the line it starts on.
    let (mut item, mut start) = (String::new(), 0);
    loop {
        let Some(line) = lines.next()? else { return Ok(None) };
        if line.is_empty() || line.starts_with("- ") {
            if !item.is_empty() {
                let Some(exchange) = one_exchange(&item, &mut seqs) else { return Ok(None) };
                let places = body_places(&item, &[1]).pop().unwrap_or_default();
                bodies.push(places.map(|at| at.map(|at| BodyAt { line: at.line + start - 1, ..at })));
                exchanges.push(exchange);
                starts.push(start);
                item.clear();
            }
            if line.is_empty() {
                break;
            }
            start = read + 1;
        } else if !line.starts_with([' ', '#', '\n']) || (item.is_empty() && line.starts_with(' ')) {
            return Ok(None);
        }
        read += 1;
        if start > 0 {
            item.push_str(line);
        }
    }
    let cassette = Cassette { meta: raw.meta.into(), exchanges };
    Ok(Some(LoadedCassette {
        name: name.to_owned(),
        cassette,
        lines: starts,
        warnings: Vec::new(),
        bodies,
        pack: None,
    }))
}

/// The lines of a text read through a buffer, each with its line break.
struct WholeLines<R> {
    reader: R,
    buffer: Vec<u8>,
}

impl<R: std::io::BufRead> WholeLines<R> {
    /// The next line; `Some("")` at the end, `None` for one that is not UTF-8 or that the end
    /// cuts short.
    fn next(&mut self) -> std::io::Result<Option<&str>> {
        self.buffer.clear();
        self.reader.read_until(b'\n', &mut self.buffer)?;
        let whole = self.buffer.is_empty() || self.buffer.ends_with(b"\n");
        Ok(std::str::from_utf8(&self.buffer).ok().filter(|_| whole))
    }
}

/// One item of the exchanges' list, when it is an exchange that loads without a word to say:
/// a seq not seen before, a `body_same_as` naming one seen, no mistyped placeholder.
fn one_exchange(item: &str, seqs: &mut std::collections::HashSet<u64>) -> Option<Exchange> {
    let read: blocks::Reading<Vec<RawExchange>> = |s| serde_yaml::from_str(s);
    let mut one = blocks::from_str(item, read).ok()?;
    let raw = one.pop().filter(|_| one.is_empty())?;
    let target_seen = raw.response.0.body_same_as.is_none_or(|target| seqs.contains(&target));
    let suspicious = [&raw.request.0.body, &raw.response.0.body]
        .into_iter()
        .any(|b| b.as_text().is_some_and(|t| !suspicious_placeholders(t).is_empty()));
    (seqs.insert(raw.seq) && target_seen && !suspicious).then_some(())?;
    Some(Exchange { seq: raw.seq, request: raw.request.0, response: raw.response.0 })
}

/// A cassette read from its whole text: every way YAML may write one, and every problem
/// placed in it.
fn whole(name: &str, text: &str) -> Result<LoadedCassette, CassetteError> {
    let invalid = |d: Diagnostic| CassetteError::Invalid(Box::new(d));
    if text.trim().is_empty() {
        return Err(invalid(
            Diagnostic::at(name, text, 1, 1, "the cassette is empty")
                .with_hint(format!("a cassette starts with `format: {FORMAT}`")),
        ));
    }
    let (raw, torn) = parse_raw(name, text)?;
    if raw.format != FORMAT {
        let line = find_line(text, "format:").unwrap_or(1);
        return Err(invalid(
            Diagnostic::at(name, text, line, 9, format!("unsupported cassette format `{}`", raw.format))
                .with_hint(format!("this emtape reads and writes `format: {FORMAT}`")),
        ));
    }
    let lines = exchange_lines(text, raw.exchanges.len());
    let mut seen = std::collections::HashMap::new();
    let mut warnings = Vec::new();
    if let Some(cut) = torn {
        let line = text[..cut].matches('\n').count() + 1;
        warnings.push(
            Diagnostic::at(name, text, line, 1, "the last exchange is incomplete and was left out")
                .with_hint("a recorder stopped while writing it; every exchange before it is intact"),
        );
    }
    for (i, ex) in raw.exchanges.iter().enumerate() {
        if let Some(first) = seen.insert(ex.seq, i) {
            return Err(invalid(
                Diagnostic::at(name, text, lines[i], 3, format!("exchange seq {} appears twice", ex.seq))
                    .with_hint(format!("the first is on line {}; every exchange needs its own seq", lines[first])),
            ));
        }
        if let Some(target) = ex.response.0.body_same_as {
            if seen.get(&target).is_none_or(|&at| at >= i) {
                return Err(invalid(
                    Diagnostic::at(
                        name,
                        text,
                        lines[i],
                        3,
                        format!(
                            "exchange {} has `body_same_as: {target}`, and no earlier exchange has seq {target}",
                            ex.seq
                        ),
                    )
                    .with_hint("`body_same_as` names the seq of an exchange written before it"),
                ));
            }
        }
        for body in [&ex.request.0.body, &ex.response.0.body] {
            if let Some(t) = body.as_text() {
                for (found, guess) in suspicious_placeholders(t) {
                    warnings.push(
                        Diagnostic::at(
                            name,
                            text,
                            lines[i],
                            1,
                            format!("exchange {} has `{found}`, which is not a placeholder", ex.seq),
                        )
                        .with_hint(format!("did you mean `{{{{{guess}}}}}`? As written it is served as plain text")),
                    );
                }
            }
        }
    }
    let cassette = Cassette {
        meta: raw.meta.into(),
        exchanges: raw
            .exchanges
            .into_iter()
            .map(|e| Exchange { seq: e.seq, request: e.request.0, response: e.response.0 })
            .collect(),
    };
    let bodies = body_places(text, &lines);
    Ok(LoadedCassette { name: name.to_owned(), cassette, lines, warnings, bodies, pack: None })
}

/// Parses the YAML, leaving out a last exchange that a killed recorder left unfinished (and
/// saying where it started).
fn parse_raw(name: &str, text: &str) -> Result<(RawCassette, Option<usize>), CassetteError> {
    let last = text.rfind("\n- seq:").map(|i| i + 1);
    let without_last = |cut: usize| blocks::from_str(&text[..cut], by_exchange).ok().map(|raw| (raw, Some(cut)));
    // The recorder writes whole lines: a file of its own that stops mid-line was cut short.
    if !text.ends_with('\n') && text.contains("\n  recorded_with: emtape") {
        if let Some(parsed) = last.and_then(without_last) {
            return Ok(parsed);
        }
    }
    match blocks::from_str(text, by_exchange) {
        Ok(raw) => Ok((raw, None)),
        Err(e) => {
            let torn = last.filter(|cut| {
                let last_line = text[..*cut].matches('\n').count() + 1;
                let in_last = e.location().is_none_or(|l| l.line() >= last_line);
                in_last && (!text.ends_with('\n') || e.to_string().contains("missing field"))
            });
            match torn.and_then(without_last) {
                Some(parsed) => Ok(parsed),
                None => Err(CassetteError::Invalid(Box::new(yaml_diagnostic(name, text, &e)))),
            }
        }
    }
}

/// A cassette's YAML read one exchange at a time (the YAML parser holds every event of what
/// it reads: a whole large cassette's would be half its size again), when its exchanges are
/// the last key, as the recorder writes them; otherwise read whole.
fn by_exchange(text: &str) -> Result<RawCassette, serde_yaml::Error> {
    let Some((head, items)) = exchange_items(text) else { return serde_yaml::from_str(text) };
    let mut raw: RawCassette = serde_yaml::from_str(head)?;
    if !raw.exchanges.is_empty() {
        return serde_yaml::from_str(text);
    }
    for item in items {
        let mut one: Vec<RawExchange> = serde_yaml::from_str(item)?;
        match (one.pop(), one.is_empty()) {
            (Some(exchange), true) => raw.exchanges.push(exchange),
            _ => return serde_yaml::from_str(text),
        }
    }
    Ok(raw)
}

/// The text up to a last top-level `exchanges:` and each item of its list (`- ` at the start
/// of a line); `None` when anything else follows at the start of a line.
fn exchange_items(text: &str) -> Option<(&str, Vec<&str>)> {
    let list = text.match_indices("\nexchanges:\n").last()?.0 + "\nexchanges:\n".len();
    let mut items = Vec::new();
    let mut start = None;
    let mut at = list;
    for line in text[list..].split_inclusive('\n') {
        if line.starts_with("- ") {
            if let Some(s) = start {
                items.push(&text[s..at]);
            }
            start = Some(at);
        } else if !(line.starts_with([' ', '#', '\n']) || line.is_empty()) || (start.is_none() && line.starts_with(' '))
        {
            return None;
        }
        at += line.len();
    }
    items.extend(start.map(|s| &text[s..]));
    Some((&text[..list], items))
}

fn find_line(text: &str, prefix: &str) -> Option<usize> {
    text.lines().position(|l| l.starts_with(prefix)).map(|i| i + 1)
}

/// Lines on which the items of the top-level `exchanges:` list start (`- seq: 1`, indented
/// or not); an item not found this way (a flow-style list) is placed at `exchanges:` itself.
fn exchange_lines(text: &str, count: usize) -> Vec<usize> {
    let mut lines = Vec::with_capacity(count);
    let mut list: Option<usize> = None;
    let mut inside = false;
    // The indentation of the list's items, once the first is seen.
    let mut items: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("exchanges:") {
            (inside, list, items) = (true, Some(i + 1), None);
            continue;
        }
        let trimmed = line.trim_start();
        if !inside || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let item = trimmed.starts_with("- ") || trimmed == "-";
        match items {
            None if item => {
                items = Some(indent);
                lines.push(i + 1);
            }
            None => inside = false,
            Some(n) if item && indent == n => lines.push(i + 1),
            Some(n) if indent <= n => inside = false,
            Some(_) => {}
        }
    }
    lines.resize(count, list.unwrap_or(1));
    lines
}

/// Where the request and response bodies of each exchange (starting on `lines`) are written:
/// the `body:` key under `request:` or `response:`, and, for a literal block, the line and
/// indentation of its text.
fn body_places(text: &str, lines: &[usize]) -> Vec<[Option<BodyAt>; 2]> {
    let all: Vec<&str> = text.lines().collect();
    let mut places = Vec::with_capacity(lines.len());
    for (i, &start) in lines.iter().enumerate() {
        let end = lines.get(i + 1).copied().filter(|&e| e > start).unwrap_or(all.len() + 1);
        let mut found = [None, None];
        let mut side = None;
        // A block's text is skipped: a `body:` in it is text, not a key.
        let mut skip_deeper_than: Option<usize> = None;
        let mut n = start;
        while n < end && n <= all.len() {
            let line = all[n - 1];
            n += 1;
            let mut trimmed = line.trim_start();
            if trimmed.is_empty() {
                continue;
            }
            let mut indent = line.len() - trimmed.len();
            if let Some(deeper) = skip_deeper_than {
                if indent > deeper {
                    continue;
                }
                skip_deeper_than = None;
            }
            if let Some(rest) = trimmed.strip_prefix("- ") {
                (trimmed, indent) = (rest.trim_start(), indent + 2 + rest.len() - rest.trim_start().len());
            }
            if trimmed.starts_with("request:") {
                side = Some(Side::Request);
            } else if trimmed.starts_with("response:") {
                side = Some(Side::Response);
            }
            let (Some(side), Some(value)) = (side, trimmed.strip_prefix("body:")) else { continue };
            let value_at = indent + "body:".len() + value.len() - value.trim_start().len();
            let value = value.trim_start();
            let at = if let Some(header) = value.strip_prefix('|') {
                let explicit = header.chars().find_map(|c| c.to_digit(10)).map(|d| indent + d as usize);
                let first_text = all[(n - 1).min(all.len())..(end - 1).min(all.len())]
                    .iter()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| l.len() - l.trim_start().len());
                skip_deeper_than = Some(indent);
                BodyAt { line: n, indent: explicit.or(first_text).unwrap_or(indent + 2), block: true }
            } else {
                BodyAt { line: n - 1, indent: value_at, block: false }
            };
            found[side as usize] = Some(at);
        }
        places.push(found);
    }
    places
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCassette {
    format: String,
    #[serde(default)]
    meta: RawMeta,
    #[serde(default, deserialize_with = "null_as_empty")]
    exchanges: Vec<RawExchange>,
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    api: Option<String>,
    product: Option<String>,
    product_version: Option<String>,
    api_version: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    supported_versions: Vec<String>,
    recorded_at: Option<String>,
    recorded_with: Option<String>,
    session_tokens: Option<String>,
    description: Option<String>,
}

impl From<RawMeta> for Meta {
    fn from(m: RawMeta) -> Meta {
        Meta {
            api: m.api,
            product: m.product,
            product_version: m.product_version,
            api_version: m.api_version,
            supported_versions: m.supported_versions,
            recorded_at: m.recorded_at,
            recorded_with: m.recorded_with,
            session_tokens: m.session_tokens,
            description: m.description,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    seq: u64,
    request: Req,
    response: Resp,
}

#[derive(Clone, Copy, Deserialize)]
enum BodyEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    #[serde(rename = "base64")]
    Base64,
}

fn body(encoding: Option<BodyEncoding>, body: Option<Arc<str>>) -> Result<Body, String> {
    Ok(match (encoding.unwrap_or(BodyEncoding::Utf8), body) {
        (BodyEncoding::Utf8, None) | (BodyEncoding::Base64, None) => Body::Empty,
        (BodyEncoding::Utf8, Some(t)) if t.is_empty() => Body::Empty,
        (BodyEncoding::Utf8, Some(text)) => Body::Text { text, bom: false },
        (BodyEncoding::Utf8Bom, t) => Body::Text { text: t.unwrap_or_else(|| "".into()), bom: true },
        (BodyEncoding::Base64, Some(t)) => {
            let bytes = base64_decode(&t).ok_or("`body` is not valid base64, as `body_encoding: base64` says it is")?;
            if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes) }
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    method: String,
    uri: String,
    #[serde(default)]
    headers: HeaderList,
    body_encoding: Option<BodyEncoding>,
    #[serde(default, deserialize_with = "blocks::body")]
    body: Option<Arc<str>>,
}

#[derive(Deserialize)]
#[serde(try_from = "RawRequest")]
struct Req(RecordedRequest);

impl TryFrom<RawRequest> for Req {
    type Error = String;

    fn try_from(r: RawRequest) -> Result<Self, String> {
        if r.method.is_empty() || !r.method.bytes().all(is_token_byte) {
            return Err(format!("`method: {}` is not an HTTP method", r.method));
        }
        if !r.uri.starts_with('/') || r.uri.contains(char::is_whitespace) {
            return Err(format!("`uri: {}` must be a path and query starting with `/`, without spaces", r.uri));
        }
        Ok(Req(RecordedRequest {
            method: r.method,
            uri: r.uri,
            headers: r.headers.0,
            body: body(r.body_encoding, r.body)?,
        }))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResponse {
    status: u16,
    reason: Option<String>,
    #[serde(default)]
    headers: HeaderList,
    body_encoding: Option<BodyEncoding>,
    #[serde(default, deserialize_with = "blocks::body")]
    body: Option<Arc<str>>,
    /// In a pack: where the body is, after the YAML.
    body_at: Option<(u64, u64)>,
    body_same_as: Option<u64>,
}

#[derive(Deserialize)]
#[serde(try_from = "RawResponse")]
struct Resp(RecordedResponse);

impl TryFrom<RawResponse> for Resp {
    type Error = String;

    fn try_from(r: RawResponse) -> Result<Self, String> {
        if !(100..=599).contains(&r.status) {
            return Err(format!("`status: {}` is not an HTTP status (100 to 599)", r.status));
        }
        if let Some(reason) = &r.reason {
            if reason.contains(['\r', '\n']) {
                return Err("`reason` must be one line".to_owned());
            }
        }
        if r.body_same_as.is_some() && (r.body.is_some() || r.body_encoding.is_some() || r.body_at.is_some()) {
            return Err("`body_same_as` refers to another exchange's body; it cannot go with `body`, `body_at` or \
                 `body_encoding`"
                .to_owned());
        }
        let body = match (r.body_at, r.body_encoding) {
            (None, _) => body(r.body_encoding, r.body)?,
            (Some(_), _) if r.body.is_some() => return Err("a body is in `body` or at `body_at`, not both".to_owned()),
            (Some((at, len)), None | Some(BodyEncoding::Utf8)) => super::pack::placed(at, len, false)?,
            (Some((at, len)), Some(BodyEncoding::Utf8Bom)) => super::pack::placed(at, len, true)?,
            (Some(_), Some(BodyEncoding::Base64)) => {
                return Err("a pack places text bodies; a base64 one is written in `body`".to_owned());
            }
        };
        Ok(Resp(RecordedResponse {
            status: r.status,
            reason: r.reason,
            headers: r.headers.0,
            body,
            body_same_as: r.body_same_as,
        }))
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `headers:` is a list of one-entry mappings, `- Name: value`, so order and duplicates survive.
#[derive(Default)]
struct HeaderList(Headers);

impl<'de> Deserialize<'de> for HeaderList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = HeaderList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of headers, each `- Name: value`")
            }
            fn visit_unit<E: de::Error>(self) -> Result<HeaderList, E> {
                Ok(HeaderList::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeaderList, A::Error> {
                let mut headers = Headers::new();
                while let Some(Header(name, value)) = seq.next_element()? {
                    headers.push(name, value);
                }
                Ok(HeaderList(headers))
            }
        }
        d.deserialize_any(ListVisitor)
    }
}

struct Header(String, String);

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = Header;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a header as a one-entry mapping `Name: value`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
                let Some((name, Scalar(value))) = map.next_entry::<String, Scalar>()? else {
                    return Err(de::Error::custom("a header entry is empty; write `- Name: value`"));
                };
                if map.next_entry::<String, Scalar>()?.is_some() {
                    return Err(de::Error::custom(format!(
                        "header `{name}` shares its list item with another; write one `- Name: value` per item"
                    )));
                }
                if name.is_empty() || !name.bytes().all(is_token_byte) {
                    return Err(de::Error::custom(format!("`{name}` is not a valid header name")));
                }
                if value.contains(['\r', '\n']) {
                    return Err(de::Error::custom(format!("header `{name}` has a line break in its value")));
                }
                Ok(Header(name, value))
            }
        }
        d.deserialize_map(EntryVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_body_is_placed_at_its_first_line_and_indentation() {
        let text = "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: POST\n    uri: /a\n    \
                    body: '{\"a\": 1}'\n  response:\n    status: 200\n    body: |\n      <A>\n        body: x\n      </A>\n\
                    - seq: 2\n  request:\n    method: GET\n    uri: /b\n  response:\n    status: 200\n    body_same_as: 1\n";
        let c = parse("t.yaml", text).unwrap();
        assert_eq!(c.body_position(0, Side::Request, 1, 5), Some((7, 11)), "a quoted body: where it starts");
        assert_eq!(c.body_position(0, Side::Response, 2, 3), Some((12, 9)));
        assert_eq!(c.body_position(1, Side::Response, 3, 1), Some((13, 7)), "body_same_as: where it is stored");
        assert_eq!(c.body_position(1, Side::Request, 1, 1), None);
    }

    #[test]
    fn a_body_same_as_an_exchange_not_written_before_it_is_refused_at_its_line() {
        let exchange = |seq: u64, same_as: u64| crate::cassette::tests::exchange(seq, &format!("same as {same_as}"));
        let head = "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /\n  \
                    response:\n    status: 200\n    body: a\n";
        // Itself, one written after it, one never written; then one written before it.
        for (same_as, refused) in [(2, true), (3, true), (9, true), (1, false)] {
            let text = format!("{head}{}{}", exchange(2, same_as), exchange(3, 1));
            match parse("t.yaml", &text) {
                Err(e) if refused => {
                    let e = e.to_string();
                    assert!(
                        e.contains(&format!("no earlier exchange has seq {same_as}")) && e.contains("t.yaml:10:3"),
                        "{e}"
                    );
                }
                Ok(c) if !refused => assert_eq!(c.cassette.response_body_index(1), 0),
                other => panic!("body_same_as: {same_as}: {:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn exchanges_of_an_indented_list_are_placed_at_their_items() {
        let text = "format: x\nexchanges:\n  - seq: 1\n    request: {}\n  # c\n  - seq: 2\n    response: {}\n";
        assert_eq!(exchange_lines(text, 2), [3, 6]);
        assert_eq!(exchange_lines("format: x\nexchanges:\n- seq: 1\n  a: b\n- seq: 2\n", 2), [3, 5]);
        assert_eq!(exchange_lines("format: x\nexchanges: [{seq: 1}]\n", 1), [2], "never line 0");
    }

    fn shipped(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                shipped(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }

    #[test]
    fn exchanges_are_read_one_by_one_only_when_they_are_the_last_key() {
        let text = "format: x\n# c\nexchanges:\n- seq: 1\n  request: {}\n# between\n\n- seq: 2\n";
        let (head, items) = exchange_items(text).unwrap();
        assert_eq!(head, "format: x\n# c\nexchanges:\n");
        assert_eq!(items, ["- seq: 1\n  request: {}\n# between\n\n", "- seq: 2\n"]);
        assert_eq!(exchange_items("format: x\nexchanges:\n- seq: 1\nmeta: {}\n"), None);
        assert_eq!(exchange_items("format: x\nexchanges:\n  - seq: 1\n"), None);
        assert_eq!(exchange_items("format: x\nexchanges:\n- seq: 1\n---\n"), None);
        assert_eq!(exchange_items("format: x\nexchanges: []\n"), None);
    }

    /// The parts of a loaded cassette that say what it holds and where.
    fn said(c: &LoadedCassette) -> String {
        let warnings: Vec<_> = c.warnings.iter().map(|w| format!("{}:{}: {}", w.line, w.column, w.message)).collect();
        format!("{:#?}\nlines {:?}\nbodies {:?}\nwarnings {warnings:?}", c.cassette, c.lines, c.bodies)
    }

    #[test]
    fn a_cassette_read_an_exchange_at_a_time_is_the_one_read_whole() {
        let mut paths = Vec::new();
        shipped(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cassettes"), &mut paths);
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            let streamed = streamed("c.yaml", text.as_bytes()).unwrap();
            let streamed = streamed.unwrap_or_else(|| panic!("{} was not read an exchange at a time", path.display()));
            assert_eq!(said(&streamed), said(&whole("c.yaml", &text).unwrap()), "{}", path.display());
        }
    }

    proptest::proptest! {
        /// Whatever lies between and inside the exchanges, reading them one at a time gives what
        /// reading the whole text gives, or leaves it to that reading.
        #[test]
        fn reading_exchanges_one_at_a_time_never_differs_from_reading_the_whole_text(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "- seq: 1\n  request:\n    method: GET\n    uri: /api/\n  response:\n    status: 200\n    body: |\n      <A>\n        <B/>\n      </A>\n",
                "- seq: 2\n  request:\n    method: POST\n    uri: /b\n    body: '{\"a\": 1}'\n  response:\n    status: 201\n    body_same_as: 1\n",
                "- seq: 3\n  request: {method: GET, uri: /c}\n  response:\n    status: 200\n    body: |-\n      x {{orign}}\n",
                "- seq: 1\n  request:\n    method: GET\n    uri: /d\n  response:\n    status: 204\n",
                "# a comment\n", "\n", "  # indented comment\n", "meta: {}\n", "  - seq: 9\n", "- seq: 4\n  response: {}\n",
                "- seq: 5\n  request:\n    method: GET\n    uri: /e\n  response:\n    status: 200\n    body: |\n      a\n\n      b\n    headers:\n    - A: b\n",
            ]), 0..6),
            end in proptest::sample::select(vec!["", "- seq: 6\n  request:\n    method: GET\n    uri: /f\n  response:\n    status: 2"]),
        ) {
            let text = format!("format: {FORMAT}\nmeta:\n  product_version: 13.0\nexchanges:\n{}{end}", parts.concat());
            if let Some(streamed) = streamed("c.yaml", text.as_bytes()).unwrap() {
                let whole = whole("c.yaml", &text).map(|c| said(&c)).map_err(|e| e.to_string());
                proptest::prop_assert_eq!(Ok(said(&streamed)), whole, "{}", text);
            }
        }
    }

    #[test]
    fn every_shipped_cassette_reads_the_same_with_its_bodies_lifted() {
        let mut paths = Vec::new();
        shipped(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cassettes"), &mut paths);
        assert!(paths.len() >= 10, "{paths:?}");
        let exchanges = |raw: RawCassette| -> Vec<Exchange> {
            raw.exchanges
                .into_iter()
                .map(|e| Exchange { seq: e.seq, request: e.request.0, response: e.response.0 })
                .collect()
        };
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            let parsed = serde_yaml::from_str::<RawCassette>(&text).unwrap();
            let count = exchange_items(&text).map(|(_, items)| items.len());
            assert_eq!(count, Some(parsed.exchanges.len()), "{}", path.display());
            let lifted =
                blocks::lifted_parse(&text, by_exchange).unwrap_or_else(|| panic!("{} not lifted", path.display()));
            assert_eq!(lifted.meta.description, parsed.meta.description, "{}", path.display());
            assert_eq!(exchanges(lifted), exchanges(parsed), "{}", path.display());
        }
    }
}
