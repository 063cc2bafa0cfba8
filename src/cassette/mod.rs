//! Cassettes: recorded exchanges with an EM server, as readable, versioned YAML.
//!
//! A cassette holds metadata (product and API version, recording time) and an ordered list of
//! exchanges. Bodies are block text when they are UTF-8 and base64 only when they are not;
//! headers are an ordered list that keeps duplicates. The recorded server's address, session
//! tokens and credentials are stored as placeholders (see [`template`]), never as values.
//! [`Cassette::to_yaml`] writes the one canonical form, so loading and saving a cassette gives
//! back the same bytes.

mod blocks;
mod bodies;
mod load;
pub mod pack;
pub mod template;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use bodies::Parsed;
pub use load::{BodyAt, CassetteError, LoadedCassette, Side};
pub use yaml::{Survey, Surveyor};

use crate::http::Headers;

/// The `format` every cassette this version reads and writes carries.
pub const FORMAT: &str = "emtape/cassette-v1";

/// Everything recorded in one file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cassette {
    pub meta: Meta,
    pub exchanges: Vec<Exchange>,
}

/// What was recorded, from which product, when.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    /// Which API: `vbr` (Backup & Replication REST); EM's when absent.
    pub api: Option<String>,
    pub product: Option<String>,
    pub product_version: Option<String>,
    /// The `v=` the flow logged on with (`v1_7`); also what `latest` means on replay.
    pub api_version: Option<String>,
    /// Versions the server advertised; a logon asking for any of them is answered.
    pub supported_versions: Vec<String>,
    pub recorded_at: Option<String>,
    pub recorded_with: Option<String>,
    /// How the server minted session tokens: `session-id` (the id in base64, EM up to 12) or
    /// `opaque` (EM 13); replay mints them alike. Without it, `product_version` decides.
    pub session_tokens: Option<String>,
    pub description: Option<String>,
}

/// One request and the response it got.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Exchange {
    /// Order of arrival while recording, from 1.
    pub seq: u64,
    pub request: RecordedRequest,
    pub response: RecordedResponse,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub headers: Headers,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecordedResponse {
    pub status: u16,
    /// Only when it differs from the standard phrase.
    pub reason: Option<String>,
    pub headers: Headers,
    /// Empty when `body_same_as` is set.
    pub body: Body,
    /// The body is the one exchange `seq` = this recorded (a poll answered the same again, a
    /// list fetched twice): stored once, referred to afterwards.
    pub body_same_as: Option<u64>,
}

/// A message body as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Body {
    #[default]
    Empty,
    /// UTF-8 text; `bom` when the bytes began with a UTF-8 byte order mark (kept out of the text).
    Text { text: std::sync::Arc<str>, bom: bool },
    /// Bytes that are not UTF-8.
    Binary(Vec<u8>),
    /// A response body left in its pack, UTF-8 text read by place: only a cassette loaded with
    /// [`Cassette::load_placed`] has them, for those who read bodies with [`Body::read`].
    Placed(std::sync::Arc<pack::Placed>),
}

const BOM: &str = "\u{feff}";

impl Body {
    /// Classifies raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Body {
        if bytes.is_empty() {
            return Body::Empty;
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => match s.strip_prefix(BOM) {
                Some(rest) => Body::Text { text: rest.into(), bom: true },
                None => Body::Text { text: s.into(), bom: false },
            },
            Err(_) => Body::Binary(bytes.to_vec()),
        }
    }

    pub fn text(text: impl Into<String>) -> Body {
        let text = text.into();
        if text.is_empty() { Body::Empty } else { Body::Text { text: text.into(), bom: false } }
    }

    /// The body in memory: itself, or a placed body read from its pack.
    pub fn read(&self) -> Result<std::borrow::Cow<'_, Body>, CassetteError> {
        match self {
            Body::Placed(p) => Ok(std::borrow::Cow::Owned(Body::Text { text: p.text()?.into(), bom: p.bom() })),
            _ => Ok(std::borrow::Cow::Borrowed(self)),
        }
    }

    /// The bytes on the wire; empty for a placed body, which is [read](Body::read) first.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Body::Empty | Body::Placed(_) => Vec::new(),
            Body::Text { text, bom } => {
                let mut out = Vec::with_capacity(text.len() + 3);
                if *bom {
                    out.extend_from_slice(BOM.as_bytes());
                }
                out.extend_from_slice(text.as_bytes());
                out
            }
            Body::Binary(b) => b.clone(),
        }
    }

    /// The text, without any byte order mark; `None` for binary bodies and placed ones (which
    /// are [read](Body::read) first).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Body::Empty => Some(""),
            Body::Text { text, .. } => Some(text),
            Body::Binary(_) | Body::Placed(_) => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Body::Empty)
    }

    /// Whether `other` holds the same bytes: two bodies of packs that keep their digests by
    /// them; otherwise a placed body is read a block at a time for it, never whole.
    pub fn same_as(&self, other: &Body) -> Result<bool, CassetteError> {
        match (self, other) {
            (Body::Placed(a), Body::Placed(b)) => a.same_as(b),
            (Body::Placed(p), Body::Text { text, bom }) | (Body::Text { text, bom }, Body::Placed(p)) => {
                p.same_as_text(text, *bom)
            }
            (Body::Placed(_), _) | (_, Body::Placed(_)) => Ok(false),
            (a, b) => Ok(a == b),
        }
    }

    /// Its lines at the numbers in `wanted` (from 1, as `str::lines` counts them), read only as
    /// far as the last of them: a placed body a block at a time, so that a drift's few lines are
    /// shown without reading a listing of hundreds of MB whole. A binary body has none.
    pub fn lines(&self, wanted: &BTreeSet<usize>) -> Result<BTreeMap<usize, String>, CassetteError> {
        let mut lines = LinesAt::new(wanted);
        match self {
            Body::Placed(p) => p.blocks(|block| lines.feed(block))?,
            _ => {
                lines.feed(self.as_text().unwrap_or_default().as_bytes());
            }
        }
        Ok(lines.finish())
    }

    /// Its size in bytes (without any byte order mark); a placed body's, without reading it.
    pub fn len(&self) -> usize {
        match self {
            Body::Empty => 0,
            Body::Text { text, .. } => text.len(),
            Body::Binary(b) => b.len(),
            Body::Placed(p) => p.len(),
        }
    }
}

/// The lines at some numbers of a text read in pieces ([`Body::lines`]).
struct LinesAt<'a> {
    /// The numbers still to be read, in order.
    wanted: std::iter::Peekable<std::collections::btree_set::Iter<'a, usize>>,
    /// The number of the line being read, from 1.
    line: usize,
    /// What has been read of the line, when it is wanted.
    partial: Vec<u8>,
    found: BTreeMap<usize, String>,
}

impl<'a> LinesAt<'a> {
    fn new(wanted: &'a BTreeSet<usize>) -> LinesAt<'a> {
        LinesAt { wanted: wanted.iter().peekable(), line: 1, partial: Vec::new(), found: BTreeMap::new() }
    }

    /// Reads the next piece of the text; `false` once every wanted line is read.
    fn feed(&mut self, mut piece: &[u8]) -> bool {
        while let Some(&&next) = self.wanted.peek() {
            let wanted = next == self.line;
            let Some(end) = memchr::memchr(b'\n', piece) else {
                if wanted {
                    self.partial.extend_from_slice(piece);
                }
                return true;
            };
            if wanted {
                self.partial.extend_from_slice(&piece[..end]);
                if self.partial.last() == Some(&b'\r') {
                    self.partial.pop();
                }
                self.keep();
            }
            self.line += 1;
            piece = &piece[end + 1..];
        }
        false
    }

    fn keep(&mut self) {
        let text = String::from_utf8_lossy(&self.partial).into_owned();
        self.found.insert(self.line, text);
        self.partial.clear();
        self.wanted.next();
    }

    /// The lines found; the last line counts when it is not empty, as for `str::lines`.
    fn finish(mut self) -> BTreeMap<usize, String> {
        if !self.partial.is_empty() {
            self.keep();
        }
        self.found
    }
}

/// The reference cassettes shipped in `cassettes/reference/`, built into the binary so that
/// `emtape serve` and `emtape run` work with no files at hand: the restore flow, then the
/// estate (the documented read surface), each in XML and JSON.
pub const REFERENCE: &[(&str, &str)] = &[
    ("cassettes/reference/vm-restore.yaml", include_str!("../../cassettes/reference/vm-restore.yaml")),
    ("cassettes/reference/vm-restore-json.yaml", include_str!("../../cassettes/reference/vm-restore-json.yaml")),
    ("cassettes/reference/estate.yaml", include_str!("../../cassettes/reference/estate.yaml")),
    ("cassettes/reference/estate-json.yaml", include_str!("../../cassettes/reference/estate-json.yaml")),
];

/// The releases on tape, built in, oldest first: (name, its cassettes). `13` is the reference;
/// `cassettes/releases.py` writes the others from it.
pub const RELEASES: [(&str, &[(&str, &str)]); 5] = [
    (
        "9.5",
        &[
            ("cassettes/em-9.5/vm-restore.yaml", include_str!("../../cassettes/em-9.5/vm-restore.yaml")),
            ("cassettes/em-9.5/vm-restore-json.yaml", include_str!("../../cassettes/em-9.5/vm-restore-json.yaml")),
            ("cassettes/em-9.5/estate.yaml", include_str!("../../cassettes/em-9.5/estate.yaml")),
            ("cassettes/em-9.5/estate-json.yaml", include_str!("../../cassettes/em-9.5/estate-json.yaml")),
        ],
    ),
    (
        "10",
        &[
            ("cassettes/em-10/vm-restore.yaml", include_str!("../../cassettes/em-10/vm-restore.yaml")),
            ("cassettes/em-10/vm-restore-json.yaml", include_str!("../../cassettes/em-10/vm-restore-json.yaml")),
            ("cassettes/em-10/estate.yaml", include_str!("../../cassettes/em-10/estate.yaml")),
            ("cassettes/em-10/estate-json.yaml", include_str!("../../cassettes/em-10/estate-json.yaml")),
        ],
    ),
    (
        "11",
        &[
            ("cassettes/em-11/vm-restore.yaml", include_str!("../../cassettes/em-11/vm-restore.yaml")),
            ("cassettes/em-11/vm-restore-json.yaml", include_str!("../../cassettes/em-11/vm-restore-json.yaml")),
            ("cassettes/em-11/estate.yaml", include_str!("../../cassettes/em-11/estate.yaml")),
            ("cassettes/em-11/estate-json.yaml", include_str!("../../cassettes/em-11/estate-json.yaml")),
        ],
    ),
    (
        "12",
        &[
            ("cassettes/em-12/vm-restore.yaml", include_str!("../../cassettes/em-12/vm-restore.yaml")),
            ("cassettes/em-12/vm-restore-json.yaml", include_str!("../../cassettes/em-12/vm-restore-json.yaml")),
            ("cassettes/em-12/estate.yaml", include_str!("../../cassettes/em-12/estate.yaml")),
            ("cassettes/em-12/estate-json.yaml", include_str!("../../cassettes/em-12/estate-json.yaml")),
        ],
    ),
    ("13", REFERENCE),
];

/// The VBR REST revisions on tape, built in, oldest first; `cassettes/vbr.py` writes them.
pub const VBR_RELEASES: [(&str, &[(&str, &str)]); 3] = [
    ("vbr-1.1-rev0", &[("cassettes/vbr-1.1-rev0/vbr.yaml", include_str!("../../cassettes/vbr-1.1-rev0/vbr.yaml"))]),
    ("vbr-1.2-rev1", &[("cassettes/vbr-1.2-rev1/vbr.yaml", include_str!("../../cassettes/vbr-1.2-rev1/vbr.yaml"))]),
    ("vbr-1.3-rev1", &[("cassettes/vbr-1.3-rev1/vbr.yaml", include_str!("../../cassettes/vbr-1.3-rev1/vbr.yaml"))]),
];

/// What a release brought that its cassettes cannot show by themselves (the release before it
/// is not on tape).
pub fn release_note(name: &str) -> Option<&'static str> {
    match name {
        "9.5" => Some("JSON arrives: Accept: application/json gives every resource in JSON (API v1_4)"),
        _ => None,
    }
}

/// The names `--release` takes: every release on tape, and `reference` for 13.
pub fn release_names() -> Vec<&'static str> {
    RELEASES.iter().map(|(n, _)| *n).collect()
}

/// The names `--release` takes for VBR REST: `vbr-1.1-rev0` ….
pub fn vbr_release_names() -> Vec<&'static str> {
    VBR_RELEASES.iter().map(|(n, _)| *n).collect()
}

/// Parses the built-in cassettes of a release (`9.5` … `13`, or `reference`; `vbr-1.3-rev1`);
/// `None` for a release not on tape.
pub fn release(name: &str) -> Option<Result<Vec<LoadedCassette>, CassetteError>> {
    let name = if name.eq_ignore_ascii_case("reference") { "13" } else { name };
    let (_, files) = RELEASES.iter().chain(VBR_RELEASES.iter()).find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    Some(files.iter().map(|(file, text)| Cassette::parse(&format!("built-in {file}"), text)).collect())
}

/// Parses the built-in reference cassettes.
pub fn reference() -> Result<Vec<LoadedCassette>, CassetteError> {
    REFERENCE.iter().map(|(name, text)| Cassette::parse(&format!("built-in {name}"), text)).collect()
}

impl Cassette {
    /// Reads and checks a cassette file (or a pack, its bodies read into memory).
    pub fn load(path: &Path) -> Result<LoadedCassette, CassetteError> {
        load::load_file(path)?.into_memory()
    }

    /// Reads and checks a cassette file; a pack's response bodies are left in it, as
    /// [`Body::Placed`].
    pub fn load_placed(path: &Path) -> Result<LoadedCassette, CassetteError> {
        load::load_file(path)
    }

    /// Reads and checks cassette files, several at once (one per core): an XML and a JSON
    /// recording of a large EM load in the time of the larger. In the order given. `placed`:
    /// as [`Cassette::load_placed`] does, else as [`Cassette::load`].
    pub fn load_all(paths: &[std::path::PathBuf], placed: bool) -> Vec<Result<LoadedCassette, CassetteError>> {
        let load = if placed { Cassette::load_placed } else { Cassette::load };
        let cores = crate::parallel::cores();
        let mut out = Vec::with_capacity(paths.len());
        for batch in paths.chunks(cores.max(1)) {
            std::thread::scope(|scope| {
                let running: Vec<_> = batch.iter().map(|p| scope.spawn(move || load(p))).collect();
                for (handle, path) in running.into_iter().zip(batch) {
                    // A load that panicked is a bug; it is said as the file's error, not a crash.
                    out.push(handle.join().unwrap_or_else(|_| {
                        let reason = "emtape failed reading it (a bug: please report it)".to_owned();
                        Err(CassetteError::Read { path: path.display().to_string(), reason })
                    }));
                }
            });
        }
        out
    }

    /// Parses cassette text; `name` is used in error messages.
    pub fn parse(name: &str, text: &str) -> Result<LoadedCassette, CassetteError> {
        load::parse(name, text)
    }

    /// The canonical YAML text.
    pub fn to_yaml(&self) -> String {
        let mut out = yaml::header(&self.meta);
        for exchange in &self.exchanges {
            yaml::exchange(exchange, &mut out);
        }
        out
    }

    /// The file header alone: comment, format and metadata, ending with `exchanges:`, ready for
    /// exchanges to be appended one by one with [`Exchange::to_yaml`].
    pub fn header_yaml(meta: &Meta) -> String {
        yaml::header(meta)
    }
}

impl Cassette {
    /// The response body of exchange `index`, following `body_same_as`.
    pub fn response_body(&self, index: usize) -> &Body {
        &self.exchanges[self.response_body_index(index)].response.body
    }

    /// The index of the exchange that stores the response body of exchange `index`: itself,
    /// or the one its `body_same_as` names.
    pub fn response_body_index(&self, index: usize) -> usize {
        let mut at = index;
        for _ in 0..self.exchanges.len() {
            match self.exchanges[at].response.body_same_as {
                Some(seq) => match self.numbered(seq) {
                    Some(e) => at = e,
                    None => break,
                },
                None => break,
            }
        }
        at
    }

    /// The index of the exchange numbered `seq`. Exchanges are written in the order of their
    /// seqs but where a recorder served clients at once, so they are searched as sorted first:
    /// a scan for each `body_same_as` made loading a cassette of many repeated bodies
    /// quadratic (100,000 exchanges: 4 s).
    fn numbered(&self, seq: u64) -> Option<usize> {
        match self.exchanges.binary_search_by_key(&seq, |e| e.seq) {
            Ok(found) => Some(found),
            Err(_) => self.exchanges.iter().position(|e| e.seq == seq),
        }
    }
}

/// A body larger than this is not held whole, nor copied: it is written into a cassette a run of
/// lines at a time (record's `--max-buffer` default), and served from a pack a block at a time.
pub const LARGE_BODY: usize = 8 << 20;

/// Writes a response body kept in a file (too large to hold) as the `body` lines of a cassette
/// exchange, exactly as [`Cassette::to_yaml`] writes the same body; `transform` redacts a run
/// of whole lines at a time. The body was `surveyed` as it was spooled: it is read once.
pub fn write_spooled_body(
    out: &mut impl std::io::Write,
    path: &Path,
    surveyed: Survey,
    transform: &dyn Fn(&str) -> std::borrow::Cow<'_, str>,
) -> std::io::Result<()> {
    let open = || Ok(std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(path)?));
    yaml::large_body(out, open, Some(surveyed), transform)
}

/// Writes a large response body held in memory, in the chunks it arrived in, as
/// [`write_spooled_body`] writes it from a file: without the copies of the whole body that
/// [`Cassette::to_yaml`] would make.
pub fn write_large_body(
    out: &mut impl std::io::Write,
    parts: &[bytes::Bytes],
    transform: &dyn Fn(&str) -> std::borrow::Cow<'_, str>,
) -> std::io::Result<()> {
    yaml::large_body(out, || Ok(Chunks { parts, at: 0 }), None, transform)
}

/// Chunks of a body read as one.
struct Chunks<'a> {
    parts: &'a [bytes::Bytes],
    /// Where the first part not yet read starts in it.
    at: usize,
}

impl std::io::Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = std::io::BufRead::fill_buf(self)?.read(buf)?;
        std::io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl std::io::BufRead for Chunks<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while let [first, rest @ ..] = self.parts {
            if self.at < first.len() {
                break;
            }
            (self.parts, self.at) = (rest, 0);
        }
        Ok(self.parts.first().map_or(&[], |p| &p[self.at..]))
    }

    fn consume(&mut self, n: usize) {
        self.at += n;
    }
}

impl Exchange {
    /// The representation of its response: what the `Content-Type` says, else what the request
    /// asked for.
    pub fn response_repr(&self) -> crate::em::Repr {
        let declared = self.response.headers.get("content-type").and_then(crate::em::Repr::from_content_type);
        declared.unwrap_or_else(|| crate::em::Repr::from_accept(&self.request.headers))
    }

    /// One exchange as it appears in the `exchanges:` list.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        yaml::exchange(self, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GET exchange of a cassette's YAML, its response's status 200 and `body` (`same as N`:
    /// `body_same_as: N`).
    pub(in crate::cassette) fn exchange(seq: u64, body: &str) -> String {
        let response = match body.strip_prefix("same as ") {
            Some(target) => format!("body_same_as: {target}"),
            None => format!("body: {body}"),
        };
        format!(
            "- seq: {seq}\n  request:\n    method: GET\n    uri: /api/{seq}\n  response:\n    status: 200\n    {response}\n"
        )
    }

    #[test]
    fn a_body_same_as_another_is_found_whether_exchanges_are_in_seq_order_or_not() {
        // In order, a chain of repeats; then as a recorder serving two clients at once writes them.
        let in_order = [(1, "a"), (2, "same as 1"), (3, "b"), (4, "same as 2"), (5, "same as 3")];
        let crossed = [(2, "a"), (1, "b"), (4, "same as 1"), (3, "same as 2"), (5, "same as 4")];
        for (exchanges, stored_in) in [(in_order, [0, 0, 2, 0, 2]), (crossed, [0, 1, 1, 0, 1])] {
            let text: String = exchanges.iter().map(|&(seq, body)| exchange(seq, body)).collect();
            let loaded = Cassette::parse("t.yaml", &format!("format: emtape/cassette-v1\nexchanges:\n{text}")).unwrap();
            let found: Vec<usize> = (0..exchanges.len()).map(|i| loaded.cassette.response_body_index(i)).collect();
            assert_eq!(found, stored_in, "{exchanges:?}");
        }
    }

    proptest::proptest! {
        /// The lines read in pieces of any size, at any numbers, are the lines `str::lines` gives
        /// at them: ends in `\n` and `\r\n`, an empty last line, characters split between pieces.
        #[test]
        fn lines_read_in_pieces_are_the_lines_str_lines_gives(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "<Ref>", "\n", "\r\n", "\r", "ü", "€", " ",
            ]), 0..40),
            cuts in proptest::collection::vec(0usize..200, 0..6),
            wanted in proptest::collection::btree_set(1usize..20, 0..6),
        ) {
            let text = parts.concat();
            let bytes = text.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.extend([0, bytes.len()]);
            cuts.sort_unstable();
            let mut lines = LinesAt::new(&wanted);
            for piece in cuts.windows(2) {
                if !lines.feed(&bytes[piece[0]..piece[1]]) {
                    break;
                }
            }
            let expected: BTreeMap<usize, String> = text
                .lines()
                .enumerate()
                .map(|(i, l)| (i + 1, l.to_owned()))
                .filter(|(n, _)| wanted.contains(n))
                .collect();
            proptest::prop_assert_eq!(lines.finish(), expected, "{:?}", text);
        }
    }
}
