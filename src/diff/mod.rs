//! Contract drift between two recordings of the same flow (two EM versions): exchanges paired
//! by what they mean, bodies compared as trees, links as a graph, every difference located and
//! graded. Ids, timestamps, hosts and other data that differ between any two recordings are not
//! drift.

mod compare;
mod spec;
mod tree;
mod values;

/// The template of a link: no scheme or host, ids as `{id}`, the API version as `{v}`.
pub fn link_template(href: &str) -> String {
    values::template(href)
}

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::cassette::{Body, Cassette, LoadedCassette, Side};
use crate::diagnostic::Diagnostic;
use crate::em::Repr;
use crate::xml::XmlError;
use compare::{Comparer, Stopped};
use tree::Tree;

/// How much a drift matters to a client written against the old version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A client of the old version may break.
    Breaking,
    /// Something new; old clients keep working.
    Additive,
    /// Representation only (order, prefixes).
    Cosmetic,
    /// Not drift: what one recording exercised and the other did not.
    Coverage,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Breaking => "breaking",
            Severity::Additive => "additive",
            Severity::Cosmetic => "cosmetic",
            Severity::Coverage => "coverage",
        }
    }
}

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    ExchangeRemoved,
    ExchangeAdded,
    StatusChanged,
    ContentTypeChanged,
    HeaderRemoved,
    HeaderAdded,
    RootChanged,
    NamespaceChanged,
    ElementRemoved,
    ElementAdded,
    AttributeRemoved,
    AttributeAdded,
    KindChanged,
    JsonTypeChanged,
    ElementRepeated,
    EnumValueAdded,
    EnumValueChanged,
    ItemRemoved,
    ItemAdded,
    LinkRemoved,
    LinkAdded,
    LinkTypeChanged,
    LinkTemplateChanged,
    PrefixChanged,
    OrderChanged,
    CharsetChanged,
    KeyRenamed,
    PathRenamed,
    RequestFieldRemoved,
    RequestFieldAdded,
    SpecViolation,
    OperationRemoved,
    OperationAdded,
}

impl DriftKind {
    pub fn severity(self) -> Severity {
        use DriftKind::*;
        match self {
            HeaderAdded | ElementAdded | AttributeAdded | EnumValueAdded | ItemAdded | LinkAdded
            | RequestFieldAdded | OperationAdded => Severity::Additive,
            PrefixChanged | OrderChanged | CharsetChanged => Severity::Cosmetic,
            ExchangeRemoved | ExchangeAdded => Severity::Coverage,
            _ => Severity::Breaking,
        }
    }

    /// Its stable id, as every report shows it (`json-type-changed`): what baselines and
    /// `--severity` files name.
    pub fn id(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    /// Every kind of drift.
    pub const ALL: [DriftKind; 33] = [
        DriftKind::ExchangeRemoved,
        DriftKind::ExchangeAdded,
        DriftKind::StatusChanged,
        DriftKind::ContentTypeChanged,
        DriftKind::HeaderRemoved,
        DriftKind::HeaderAdded,
        DriftKind::RootChanged,
        DriftKind::NamespaceChanged,
        DriftKind::ElementRemoved,
        DriftKind::ElementAdded,
        DriftKind::AttributeRemoved,
        DriftKind::AttributeAdded,
        DriftKind::KindChanged,
        DriftKind::JsonTypeChanged,
        DriftKind::ElementRepeated,
        DriftKind::EnumValueAdded,
        DriftKind::EnumValueChanged,
        DriftKind::ItemRemoved,
        DriftKind::ItemAdded,
        DriftKind::LinkRemoved,
        DriftKind::LinkAdded,
        DriftKind::LinkTypeChanged,
        DriftKind::LinkTemplateChanged,
        DriftKind::PrefixChanged,
        DriftKind::OrderChanged,
        DriftKind::CharsetChanged,
        DriftKind::KeyRenamed,
        DriftKind::PathRenamed,
        DriftKind::RequestFieldRemoved,
        DriftKind::RequestFieldAdded,
        DriftKind::SpecViolation,
        DriftKind::OperationRemoved,
        DriftKind::OperationAdded,
    ];

    /// In words, for reports.
    pub fn describe(self) -> &'static str {
        use DriftKind::*;
        match self {
            ExchangeRemoved => "only in the old recording",
            ExchangeAdded => "only in the new recording",
            StatusChanged => "status changed",
            ContentTypeChanged => "content type changed",
            HeaderRemoved => "header removed",
            HeaderAdded => "header added",
            RootChanged => "root element changed",
            NamespaceChanged => "namespace changed",
            ElementRemoved => "element removed",
            ElementAdded => "element added",
            AttributeRemoved => "attribute removed",
            AttributeAdded => "attribute added",
            KindChanged => "value kind changed",
            JsonTypeChanged => "JSON type changed",
            ElementRepeated => "element now repeats",
            EnumValueAdded => "new enum value",
            EnumValueChanged => "enum value changed",
            ItemRemoved => "item removed",
            ItemAdded => "item added",
            LinkRemoved => "link removed",
            LinkAdded => "link added",
            LinkTypeChanged => "link target type changed",
            LinkTemplateChanged => "link path changed",
            PrefixChanged => "namespace prefix changed",
            OrderChanged => "element order changed",
            CharsetChanged => "content type parameters changed",
            KeyRenamed => "JSON key renamed",
            PathRenamed => "path renamed",
            RequestFieldRemoved => "request field no longer sent",
            RequestFieldAdded => "request field now sent",
            SpecViolation => "breaks the document",
            OperationRemoved => "operation not documented",
            OperationAdded => "operation added",
        }
    }

    /// Link drift, as opposed to schema drift.
    pub fn is_link(self) -> bool {
        matches!(
            self,
            DriftKind::LinkRemoved | DriftKind::LinkAdded | DriftKind::LinkTypeChanged | DriftKind::LinkTemplateChanged
        )
    }
}

/// One difference, where it is, and what it was and is.
#[derive(Clone, Debug, Serialize)]
pub struct Drift {
    pub kind: DriftKind,
    pub severity: Severity,
    /// Path into the body (`/EntityReferences/Ref[@UID='urn:...']/Links/Link[@Rel='Alternate']`), or
    /// the header or status.
    pub path: String,
    /// The list item it belongs to (its UID), when it belongs to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_line: Option<usize>,
}

/// The drifts of one exchange (one request as both recordings made it).
#[derive(Clone, Debug, Serialize)]
pub struct ExchangeDiff {
    /// `GET /api/vmRestorePoints/{id}?format=Entity (XML)`.
    pub key: String,
    /// Where the exchange is in each recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    pub drifts: Vec<Drift>,
    /// The compared bodies, for snippets (not serialised).
    #[serde(skip)]
    pub bodies: Option<Compared>,
}

/// Two compared bodies, kept for showing them: shared with the recordings, not copied (every
/// body of two large estates is gigabytes); a pack's are read again when shown.
#[derive(Clone, Debug)]
pub struct Compared(Body, Body);

impl Compared {
    pub fn texts(old: String, new: String) -> Compared {
        Compared(Body::text(old), Body::text(new))
    }

    /// The lines of each text at the numbers asked (from 1), old and new, each read only as
    /// far as the last asked ([`Body::lines`]); `None` when a pack can no longer give them.
    pub fn lines(&self, old: &BTreeSet<usize>, new: &BTreeSet<usize>) -> Option<[BTreeMap<usize, String>; 2]> {
        Some([self.0.lines(old).ok()?, self.1.lines(new).ok()?])
    }

    /// The two texts, old and new; `None` when a pack can no longer give them.
    pub fn read(&self) -> Option<(String, String)> {
        let text = |b: &Body| b.read().ok().map(|b| b.as_text().unwrap_or_default().to_owned());
        Some((text(&self.0)?, text(&self.1)?))
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub exchanges: usize,
    pub breaking: usize,
    pub additive: usize,
    pub cosmetic: usize,
    /// Exchanges only one recording holds.
    pub coverage: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    pub old: String,
    pub new: String,
    pub summary: Summary,
    pub exchanges: Vec<ExchangeDiff>,
}

/// One accepted drift of a baseline: which exchange, which kind, where, from what to what.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Accepted {
    pub exchange: String,
    pub kind: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

impl Accepted {
    fn of(e: &ExchangeDiff, d: &Drift) -> Accepted {
        Accepted {
            exchange: e.key.clone(),
            kind: d.kind.id(),
            path: d.path.clone(),
            old: d.old.clone(),
            new: d.new.clone(),
        }
    }
}

impl DiffReport {
    /// Every drift as a baseline entry (`--write-baseline`).
    pub fn baseline(&self) -> Vec<Accepted> {
        let mut all: Vec<Accepted> =
            self.exchanges.iter().flat_map(|e| e.drifts.iter().map(move |d| Accepted::of(e, d))).collect();
        all.sort();
        all.dedup();
        all
    }

    /// Leaves out the drifts a baseline accepts; returns how many, and the entries that no
    /// longer occur.
    pub fn accept(&mut self, baseline: &[Accepted]) -> (usize, Vec<Accepted>) {
        let known: std::collections::HashSet<&Accepted> = baseline.iter().collect();
        let mut seen = std::collections::HashSet::new();
        let mut accepted = 0;
        for e in &mut self.exchanges {
            let key = e.key.clone();
            e.drifts.retain(|d| {
                let entry = Accepted {
                    exchange: key.clone(),
                    kind: d.kind.id(),
                    path: d.path.clone(),
                    old: d.old.clone(),
                    new: d.new.clone(),
                };
                if known.contains(&entry) {
                    accepted += 1;
                    seen.insert(entry);
                    false
                } else {
                    true
                }
            });
        }
        self.recount();
        let gone = baseline.iter().filter(|b| !seen.contains(*b)).cloned().collect();
        (accepted, gone)
    }

    /// Sets the severity of kinds of drift (`--severity`), then recounts.
    pub fn reclassify(&mut self, severities: &BTreeMap<String, Severity>) {
        for d in self.exchanges.iter_mut().flat_map(|e| e.drifts.iter_mut()) {
            if let Some(s) = severities.get(&d.kind.id()) {
                d.severity = *s;
            }
        }
        self.recount();
    }

    fn recount(&mut self) {
        let compared = self.summary.exchanges;
        let exchanges = std::mem::take(&mut self.exchanges);
        *self = report(std::mem::take(&mut self.old), std::mem::take(&mut self.new), exchanges, compared);
    }

    pub fn drifts(&self) -> impl Iterator<Item = &Drift> {
        self.exchanges.iter().flat_map(|e| &e.drifts)
    }

    /// Whether any drift is at least as severe as `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.drifts().any(|d| d.severity <= threshold)
    }
}

/// What to leave out (`--ignore`): a body path (`/A/B` and what is under it, `//B` or a bare
/// `B` anywhere), a header (`header Location`), or exchanges (`GET /api/logonSessions/*`, `*`
/// matching anything). Counts what it matched, so that a pattern that matched nothing can be
/// reported instead of silently doing nothing.
#[derive(Debug)]
pub struct Ignore {
    pattern: String,
    hits: std::sync::atomic::AtomicUsize,
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

impl Ignore {
    pub fn new(pattern: &str) -> Ignore {
        let pattern = pattern.trim();
        let exchange = pattern.split_once(' ').is_some_and(|(m, _)| METHODS.contains(&m));
        let pattern = if exchange || pattern.starts_with('/') || pattern.to_ascii_lowercase().starts_with("header ") {
            pattern.trim_end_matches('/').to_owned()
        } else {
            format!("//{pattern}")
        };
        Ignore { pattern, hits: Default::default() }
    }

    /// The pattern as it is applied.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// How many drifts or exchanges it left out.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn hit(&self, yes: bool) -> bool {
        if yes {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        yes
    }

    fn matches(&self, plain: &str) -> bool {
        let yes = match self.pattern.strip_prefix("//") {
            Some(tail) => plain.ends_with(&format!("/{tail}")) || plain.contains(&format!("/{tail}/")),
            None => plain == self.pattern || plain.starts_with(&format!("{}/", self.pattern)),
        };
        self.hit(yes)
    }

    fn matches_header(&self, path: &str) -> bool {
        self.hit(self.pattern.eq_ignore_ascii_case(path))
    }

    /// Whether it leaves out the exchanges of `key` (`GET /api/x/{id} (XML)`); the pattern is
    /// matched against the method and path, `*` standing for any run of characters.
    fn matches_exchange(&self, key: &str) -> bool {
        let Some((method, path)) = self.pattern.split_once(' ') else { return false };
        if !METHODS.contains(&method) {
            return false;
        }
        let key = key.split(" (").next().unwrap_or(key);
        let Some((kmethod, kpath)) = key.split_once(' ') else { return false };
        self.hit(kmethod == method && glob(&path.to_ascii_lowercase(), &kpath.to_ascii_lowercase()))
    }
}

/// `*` matches any run of characters; everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else { return false };
            (0..=rest.len()).filter(|i| rest.is_char_boundary(*i)).any(|i| glob(tail, &rest[i..]))
        }
    }
}

/// Why a diff could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
    #[error(
        "{0} and {1} are not the same kind of input: give two cassettes, two folders of cassettes, or two XML or JSON bodies"
    )]
    Mismatch(String, String),
    #[error(
        "{old} and {new} hold different representations, so no exchange of one can be compared with the other: diff XML recordings with XML ones and JSON with JSON (record each with the same Accept)"
    )]
    Representations { old: String, new: String },
}

impl From<crate::cassette::CassetteError> for DiffError {
    fn from(e: crate::cassette::CassetteError) -> DiffError {
        use crate::cassette::CassetteError;
        match e {
            CassetteError::Invalid(d) => DiffError::Invalid(d),
            CassetteError::Read { path, reason } | CassetteError::Write { path, reason } => {
                DiffError::Read { path, reason }
            }
        }
    }
}

enum Input {
    Cassette(Box<LoadedCassette>),
    Body { name: String, text: String, json: bool },
    Spec(Box<crate::openapi::Spec>),
}

/// Two folders of cassettes, file by file (by name); a file only one folder holds is coverage.
fn diff_dirs(old: &Path, new: &Path, ignore: &[Ignore]) -> Result<DiffReport, DiffError> {
    let list = |dir: &Path| -> Result<BTreeMap<String, std::path::PathBuf>, DiffError> {
        if !dir.is_dir() {
            return Err(DiffError::Mismatch(old.display().to_string(), new.display().to_string()));
        }
        let entries = std::fs::read_dir(dir)
            .map_err(|e| DiffError::Read { path: dir.display().to_string(), reason: e.to_string() })?;
        Ok(entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .filter_map(|p| Some((p.file_name()?.to_string_lossy().into_owned(), p)))
            .collect())
    };
    let (olds, news) = (list(old)?, list(new)?);
    let mut exchanges = Vec::new();
    let mut compared = 0;
    let names: BTreeSet<&String> = olds.keys().chain(news.keys()).collect();
    for name in names {
        match (olds.get(name), news.get(name)) {
            (Some(o), Some(n)) => {
                let r = diff_files(o, n, ignore)?;
                compared += r.summary.exchanges;
                exchanges.extend(r.exchanges);
            }
            (Some(o), None) => exchanges.push(only(&format!("file {name}"), Some(o.display().to_string()), None)),
            (None, Some(n)) => exchanges.push(only(&format!("file {name}"), None, Some(n.display().to_string()))),
            (None, None) => {}
        }
    }
    Ok(report(old.display().to_string(), new.display().to_string(), exchanges, compared))
}

/// A file to compare, told apart by how it begins: an OpenAPI document, a body (XML or JSON), or
/// a cassette, which is read an exchange at a time (a large one's text is never held whole).
fn read(path: &Path) -> Result<Input, DiffError> {
    use std::io::Read as _;
    let name = path.display().to_string();
    let unreadable = |e: std::io::Error| DiffError::Read { path: name.clone(), reason: e.to_string() };
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path).and_then(|f| f.take(4096).read_to_end(&mut head)).map_err(unreadable)?;
    let head = String::from_utf8_lossy(&head);
    let start = head.trim_start_matches('\u{feff}').trim_start();
    let spec = start.contains("\"openapi\"") || start.starts_with("openapi:") || start.contains("\nopenapi:");
    if !(spec || start.starts_with(['<', '{', '['])) {
        // A pack's bodies stay in it: a diff reads the few it compares.
        return Ok(Input::Cassette(Box::new(Cassette::load_placed(path)?)));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| DiffError::Read { path: name.clone(), reason: "not UTF-8 text".into() })?;
    if spec {
        return crate::openapi::Spec::parse(&name, &text)
            .map(|s| Input::Spec(Box::new(s)))
            .map_err(|d| DiffError::Invalid(Box::new(d)));
    }
    let json = !start.starts_with('<');
    Ok(Input::Body { name, text, json })
}

/// Where one of two bodies does not parse: the new one, or the old.
struct Unparsed {
    new: bool,
    error: XmlError,
}

/// The drifts between two bodies. XML is read as skeletons whose items are parsed as they are
/// compared ([`tree::skeleton_xml`]; an item never compared is never parsed either); where the
/// comparison needs a list whole (its items do not pair by their keys), the whole trees are
/// compared instead, their room made on this thread ([`tree::room_for_xml`]). With `apart`, the
/// two bodies are parsed at once, one per core.
fn compare_bodies(old: &str, new: &str, json: bool, apart: bool, ignore: &[Ignore]) -> Result<Vec<Drift>, Unparsed> {
    fn sides<'a>(
        (old, new): (Result<Tree<'a>, XmlError>, Result<Tree<'a>, XmlError>),
    ) -> Result<(Tree<'a>, Tree<'a>), Unparsed> {
        let old = old.map_err(|error| Unparsed { new: false, error })?;
        let new = new.map_err(|error| Unparsed { new: true, error })?;
        Ok((old, new))
    }
    let compared = |(o, n): (Tree<'_>, Tree<'_>)| {
        let mut c = Comparer::new(&o, &n, ignore);
        c.roots();
        (c.drifts, c.stopped)
    };
    if json {
        let trees = sides(crate::parallel::both(apart, || tree::parse_json(old), || tree::parse_json(new)))?;
        return Ok(compared(trees).0);
    }
    let skeletons = sides(crate::parallel::both(apart, || tree::skeleton_xml(old), || tree::skeleton_xml(new)))?;
    match compared(skeletons) {
        (drifts, None) => return Ok(drifts),
        (_, Some(Stopped::Unparsed { new, error })) => return Err(Unparsed { new, error }),
        (_, Some(Stopped::Whole)) => {}
    }
    let (oroom, nroom) = (tree::room_for_xml(old), tree::room_for_xml(new));
    let trees = sides(crate::parallel::both(apart, || tree::parse_xml_in(oroom), || tree::parse_xml_in(nroom)))?;
    Ok(compared(trees).0)
}

/// Bodies larger than this, on both sides of an exchange, are read and parsed one per core.
const PARSED_APART: usize = 1 << 20;

/// A body that does not parse, as the error that names the file, line and column.
fn unparsed(name: &str, text: &str, json: bool, e: XmlError) -> DiffError {
    let what = if json { "JSON" } else { "XML" };
    let message = format!("the {what} does not parse: {}", e.message);
    DiffError::Invalid(Box::new(Diagnostic::at(name, text, e.line, e.column, message)))
}

/// The response body of exchange `index` of a cassette that does not parse, as the error that
/// names the cassette file's line and column, and the exchange.
fn unparsed_body(c: &LoadedCassette, index: usize, text: &str, json: bool, e: XmlError) -> DiffError {
    let what = if json { "JSON" } else { "XML" };
    let seq = c.cassette.exchanges[index].seq;
    let message = format!("exchange {seq}: the response {what} does not parse: {}", e.message);
    DiffError::Invalid(Box::new(c.body_diagnostic(index, Side::Response, text, e.line, e.column, message)))
}

/// Compares two recordings (cassettes, or two single bodies).
pub fn diff_files(old: &Path, new: &Path, ignore: &[Ignore]) -> Result<DiffReport, DiffError> {
    if old.is_dir() || new.is_dir() {
        return diff_dirs(old, new, ignore);
    }
    // Large bodies: read and parse both at once, one per core.
    let (a, b) = std::thread::scope(|s| {
        let h = s.spawn(|| read(new));
        let a = read(old);
        (
            a,
            h.join().unwrap_or_else(|_| {
                Err(DiffError::Read { path: new.display().to_string(), reason: "reader failed".into() })
            }),
        )
    });
    let (a, b) = (a?, b?);
    match (a, b) {
        (Input::Body { name: on, text: ot, json: oj }, Input::Body { name: nn, text: nt, json: nj }) => {
            if oj != nj {
                return Err(DiffError::Mismatch(on, nn));
            }
            // Bodies byte for byte the same cannot drift, and are not parsed.
            let apart = ot.len() > PARSED_APART && nt.len() > PARSED_APART;
            let drifts = if ot == nt {
                Vec::new()
            } else {
                compare_bodies(&ot, &nt, oj, apart, ignore).map_err(|u| match u.new {
                    false => unparsed(&on, &ot, oj, u.error),
                    true => unparsed(&nn, &nt, nj, u.error),
                })?
            };
            let key = format!("body ({})", if oj { "JSON" } else { "XML" });
            let exchange = ExchangeDiff {
                key,
                old: Some(on.clone()),
                new: Some(nn.clone()),
                drifts,
                bodies: Some(Compared::texts(ot, nt)),
            };
            Ok(report(on, nn, vec![exchange], 1))
        }
        (Input::Cassette(o), Input::Cassette(n)) => diff_cassettes(&o, &n, ignore),
        (Input::Spec(o), Input::Spec(n)) => Ok(spec::documents(&o, &n)),
        (Input::Cassette(c), Input::Spec(s)) | (Input::Spec(s), Input::Cassette(c)) => Ok(spec::recording(&s, &c)),
        (a, b) => Err(DiffError::Mismatch(name_of(&a), name_of(&b))),
    }
}

fn name_of(i: &Input) -> String {
    match i {
        Input::Cassette(c) => c.name.clone(),
        Input::Body { name, .. } => name.clone(),
        Input::Spec(s) => s.file.clone(),
    }
}

/// A report of drift found elsewhere (exchange by exchange, as `record --compare` finds it).
pub fn report_of(old: String, new: String, exchanges: Vec<ExchangeDiff>, compared: usize) -> DiffReport {
    report(old, new, exchanges, compared)
}

fn report(old: String, new: String, exchanges: Vec<ExchangeDiff>, compared: usize) -> DiffReport {
    let mut summary = Summary { exchanges: compared, ..Summary::default() };
    for d in exchanges.iter().flat_map(|e| &e.drifts) {
        match d.severity {
            Severity::Breaking => summary.breaking += 1,
            Severity::Additive => summary.additive += 1,
            Severity::Cosmetic => summary.cosmetic += 1,
            Severity::Coverage => summary.coverage += 1,
        }
    }
    DiffReport { old, new, summary, exchanges }
}

/// The representation of a recorded response.
fn repr_of(c: &Cassette, i: usize) -> Option<Repr> {
    let e = &c.exchanges[i];
    let body = c.response_body(i);
    if body.is_empty() {
        return None;
    }
    e.response.headers.get("content-type").and_then(Repr::from_content_type).or_else(|| {
        let read = body.read().ok()?;
        read.as_text().and_then(Repr::sniff)
    })
}

/// What an exchange means: method, path template, representation.
/// What a recorded exchange asks, as diff pairs exchanges: `GET /api/tasks/{id} (JSON)`.
pub fn request_key(c: &Cassette, i: usize) -> String {
    exchange_key(c, i)
}

fn exchange_key(c: &Cassette, i: usize) -> String {
    let e = &c.exchanges[i];
    let repr = repr_of(c, i).map_or(String::new(), |r| format!(" ({})", r.name()));
    format!("{} {}{repr}", e.request.method, values::template(&e.request.uri))
}

/// Compares two cassettes already loaded (the releases built in).
pub fn diff_loaded(old: &LoadedCassette, new: &LoadedCassette, ignore: &[Ignore]) -> Result<DiffReport, DiffError> {
    diff_cassettes(old, new, ignore)
}

fn diff_cassettes(old: &LoadedCassette, new: &LoadedCassette, ignore: &[Ignore]) -> Result<DiffReport, DiffError> {
    let groups = |c: &LoadedCassette| {
        let mut map: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut order = Vec::new();
        for i in 0..c.cassette.exchanges.len() {
            let key = exchange_key(&c.cassette, i);
            if ignore.iter().any(|p| p.matches_exchange(&key)) {
                continue;
            }
            if !map.contains_key(&key) {
                order.push(key.clone());
            }
            map.entry(key).or_default().push(i);
        }
        (map, order)
    };
    // Half a million keys each at full size: made one per core.
    let ((og, oorder), (ng, norder)) = crate::parallel::both(true, || groups(old), || groups(new));
    let reprs = |c: &LoadedCassette| -> BTreeSet<&'static str> {
        (0..c.cassette.exchanges.len()).filter_map(|i| repr_of(&c.cassette, i)).map(Repr::name).collect()
    };
    let (or, nr) = (reprs(old), reprs(new));
    if !or.is_empty() && !nr.is_empty() && or.is_disjoint(&nr) {
        return Err(DiffError::Representations {
            old: format!("{} ({})", old.name, or.into_iter().collect::<Vec<_>>().join(", ")),
            new: format!("{} ({})", new.name, nr.into_iter().collect::<Vec<_>>().join(", ")),
        });
    }
    let place = |c: &LoadedCassette, i: usize| {
        let line = c.lines.get(i).copied().unwrap_or(0);
        format!("{}:{line}, exchange {}", c.name, c.cassette.exchanges[i].seq)
    };
    let mut out = Vec::new();
    let mut compared = 0;
    // An operation whose path changed in one segment (VBR 1.2's `objectRestorePoints` became
    // `restorePoints`) is the same operation, moved: compared, with the move as a drift.
    let renamed: BTreeMap<&String, &String> = renamed_paths(
        oorder.iter().filter(|k| !ng.contains_key(*k)).collect(),
        norder.iter().filter(|k| !og.contains_key(*k)).collect(),
        // Recordings of one flow: the segment that reads most alike.
        |o, n| 1.0 + o.bytes().rev().zip(n.bytes().rev()).take_while(|(a, b)| a.eq_ignore_ascii_case(b)).count() as f64,
    );
    let moved_to: BTreeSet<&String> = renamed.values().copied().collect();
    let keys = oorder
        .iter()
        .map(|k| (k, renamed.get(k).copied().unwrap_or(k)))
        .chain(norder.iter().filter(|k| !og.contains_key(*k) && !moved_to.contains(k)).map(|k| (k, k)));
    for (key, new_key) in keys {
        match (og.get(key), ng.get(new_key)) {
            (Some(o), Some(n)) => {
                if key != new_key {
                    let path = |k: &str| k.split(' ').nth(1).unwrap_or(k).to_owned();
                    let moved = simple(DriftKind::PathRenamed, key, Some(path(key)), Some(path(new_key)));
                    out.push(ExchangeDiff {
                        key: key.clone(),
                        old: None,
                        new: None,
                        drifts: vec![moved],
                        bodies: None,
                    });
                }
                compared += 1;
                // Within a key, answers pair by status: a 404 for an id one client asked for is
                // not a changed 200, it is an exchange the other recording does not hold.
                // But a success answered with another success code (202 Accepted become 201)
                // is the same answer changed.
                let status = |c: &LoadedCassette, i: usize| c.cassette.exchanges[i].response.status;
                let codes =
                    |c: &LoadedCassette, at: &[usize]| at.iter().map(|i| status(c, *i)).collect::<BTreeSet<u16>>();
                let (ocodes, ncodes) = (codes(old, o), codes(new, n));
                let mut pairs: Vec<(u16, u16)> = ocodes.intersection(&ncodes).map(|c| (*c, *c)).collect();
                let mut new_only: Vec<u16> = ncodes.difference(&ocodes).copied().collect();
                for code in ocodes.difference(&ncodes) {
                    let success = (200..400).contains(code);
                    match new_only.iter().position(|c| success && c / 100 == code / 100) {
                        Some(at) => pairs.push((*code, new_only.remove(at))),
                        None => pairs.push((*code, 0)),
                    }
                }
                pairs.extend(new_only.into_iter().map(|c| (0, c)));
                pairs.sort_unstable_by_key(|(a, b)| if *a == 0 { *b } else { *a });
                for (ocode, ncode) in pairs {
                    let os: Vec<usize> = o.iter().copied().filter(|i| status(old, *i) == ocode).collect();
                    let ns: Vec<usize> = n.iter().copied().filter(|j| status(new, *j) == ncode).collect();
                    let shown = format!("{key} -> {}", ocode.max(ncode));
                    match (os.first(), ns.first()) {
                        (Some(i), Some(j)) => {
                            // Polls: the first answers with each other, and the last with each other.
                            let mut pairs = vec![(*i, *j)];
                            if os.len() > 1 || ns.len() > 1 {
                                pairs.push((*os.last().unwrap_or(i), *ns.last().unwrap_or(j)));
                            }
                            for (i, j) in pairs {
                                let mut e = diff_exchange(old, i, new, j, ignore)?;
                                e.key = key.clone();
                                e.old = Some(place(old, i));
                                e.new = Some(place(new, j));
                                if !out
                                    .iter()
                                    .any(|x: &ExchangeDiff| x.key == e.key && x.old == e.old && x.new == e.new)
                                {
                                    out.push(e);
                                }
                            }
                        }
                        (Some(i), None) => out.push(only(&shown, Some(place(old, *i)), None)),
                        (None, Some(j)) => out.push(only(&shown, None, Some(place(new, *j)))),
                        (None, None) => {}
                    }
                }
            }
            (Some(o), None) => out.push(only(key, Some(place(old, o[0])), None)),
            (None, Some(n)) => out.push(only(key, None, Some(place(new, n[0])))),
            (None, None) => {}
        }
    }
    // A state the new recording still gives the same field elsewhere (a later poll) was not
    // renamed: the new value is one more.
    for d in out.iter_mut().flat_map(|e| e.drifts.iter_mut()).filter(|d| d.kind == DriftKind::EnumValueChanged) {
        let field = d.path.rsplit('/').next().unwrap_or("").trim_start_matches('@');
        let field = field.split('[').next().unwrap_or(field);
        let was = d.old.as_deref().unwrap_or("");
        let kept =
            was.split(", ").any(|v| (0..new.cassette.exchanges.len()).any(|j| answers(&new.cassette, j, field, v)));
        if kept {
            d.kind = DriftKind::EnumValueAdded;
            d.severity = d.kind.severity();
        }
    }
    Ok(report(old.name.clone(), new.name.clone(), out, compared))
}

/// Whether exchange `i`'s response body gives `field` the value `value` (`<State>Finished<`,
/// `State="Finished"`, `"State": "Finished"`), by its text.
fn answers(c: &Cassette, i: usize, field: &str, value: &str) -> bool {
    let Ok(body) = c.response_body(i).read() else { return false };
    let Some(text) = body.as_text() else { return false };
    let word = |ch: Option<char>| ch.is_some_and(|ch| ch.is_alphanumeric() || ch == '_');
    text.match_indices(value).any(|(at, _)| {
        let before = text[..at].trim_end_matches([' ', '"', '\'']);
        let before = before.strip_suffix(['>', '=', ':']).unwrap_or("").trim_end_matches([' ', '"']);
        !word(text[..at].chars().next_back())
            && !word(text[at + value.len()..].chars().next())
            && before.ends_with(field)
    })
}

/// An exchange only one recording holds: coverage, not drift.
fn only(key: &str, old: Option<String>, new: Option<String>) -> ExchangeDiff {
    let drift = if old.is_some() {
        simple(DriftKind::ExchangeRemoved, key, Some(key.to_owned()), None)
    } else {
        simple(DriftKind::ExchangeAdded, key, None, Some(key.to_owned()))
    };
    ExchangeDiff { key: key.to_owned(), old, new, drifts: vec![drift], bodies: None }
}

fn simple(kind: DriftKind, path: &str, old: Option<String>, new: Option<String>) -> Drift {
    Drift {
        kind,
        severity: kind.severity(),
        path: path.to_owned(),
        item: None,
        old,
        new,
        old_line: None,
        new_line: None,
    }
}

/// The object keys of `new` spelled otherwise in `old` (the same letters, another case), and
/// only so: old spelling to new, in order.
fn renamed_keys(old: &str, new: &str) -> BTreeMap<String, String> {
    fn keys(v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    out.insert(k.clone());
                    keys(x, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
            _ => {}
        }
    }
    let parse = |t: &str| {
        let mut set = BTreeSet::new();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(t) {
            keys(&v, &mut set);
        }
        set
    };
    let (o, n) = (parse(old), parse(new));
    let mut out = BTreeMap::new();
    for now in n.difference(&o) {
        let mut was = o.iter().filter(|k| k.eq_ignore_ascii_case(now) && !n.contains(*k));
        if let (Some(w), None) = (was.next(), was.next()) {
            out.insert(w.clone(), now.clone());
        }
    }
    out
}

/// The text of exchange `i`'s response body (`""` for a binary one); a placed body is read
/// from its pack as it is, not copied again into a [`crate::cassette::Body`].
fn response_text(c: &LoadedCassette, i: usize) -> Result<std::borrow::Cow<'_, str>, DiffError> {
    use crate::cassette::Body;
    Ok(match c.cassette.response_body(i) {
        Body::Placed(p) => {
            p.text().map_err(|e| DiffError::Read { path: c.name.clone(), reason: e.to_string() })?.into()
        }
        body => body.as_text().unwrap_or("").into(),
    })
}

fn diff_exchange(
    old: &LoadedCassette,
    i: usize,
    new: &LoadedCassette,
    j: usize,
    ignore: &[Ignore],
) -> Result<ExchangeDiff, DiffError> {
    let (oe, ne) = (&old.cassette.exchanges[i], &new.cassette.exchanges[j]);
    let mut drifts = Vec::new();
    if oe.response.status != ne.response.status {
        drifts.push(simple(
            DriftKind::StatusChanged,
            "status",
            Some(oe.response.status.to_string()),
            Some(ne.response.status.to_string()),
        ));
    }
    let (oct, nct) = (oe.response.headers.get("content-type"), ne.response.headers.get("content-type"));
    let media = |v: Option<&str>| v.map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if media(oct) != media(nct) {
        drifts.push(simple(
            DriftKind::ContentTypeChanged,
            "header Content-Type",
            oct.map(str::to_owned),
            nct.map(str::to_owned),
        ));
    } else if oct.map(|v| v.replace(' ', "").to_ascii_lowercase())
        != nct.map(|v| v.replace(' ', "").to_ascii_lowercase())
    {
        drifts.push(simple(
            DriftKind::CharsetChanged,
            "header Content-Type",
            oct.map(str::to_owned),
            nct.map(str::to_owned),
        ));
    }
    for header in ["Location", "X-RestSvcSessionId", "Set-Cookie", "WWW-Authenticate"] {
        match (oe.response.headers.contains(header), ne.response.headers.contains(header)) {
            (true, false) => drifts.push(simple(
                DriftKind::HeaderRemoved,
                &format!("header {header}"),
                Some(header.to_owned()),
                None,
            )),
            (false, true) => {
                drifts.push(simple(DriftKind::HeaderAdded, &format!("header {header}"), None, Some(header.to_owned())))
            }
            _ => {}
        }
    }
    let (orepr, nrepr) = (repr_of(&old.cassette, i), repr_of(&new.cassette, j));
    let mut bodies = None;
    if let (Some(r), Some(s)) = (orepr, nrepr)
        && r == s
    {
        let (obody, nbody) = (old.cassette.response_body(i), new.cassette.response_body(j));
        // Bodies byte for byte the same cannot drift, and are not parsed (`lint` says whether
        // they do): two listings of half a million items are read a block at a time.
        if !obody.same_as(nbody)? {
            drifts.extend(diff_bodies(old, i, new, j, r == Repr::Json, ignore)?);
        }
        bodies = Some(Compared(obody.clone(), nbody.clone()));
    }
    drifts.extend(request_fields(oe.request.body.as_text(), ne.request.body.as_text()));
    drifts.retain(|d| !ignore.iter().any(|i| d.path.starts_with("header ") && i.matches_header(&d.path)));
    Ok(ExchangeDiff { key: String::new(), old: None, new: None, drifts, bodies })
}

/// The drifts between the response bodies of exchange `i` of `old` and `j` of `new`, both XML
/// or both JSON.
fn diff_bodies(
    old: &LoadedCassette,
    i: usize,
    new: &LoadedCassette,
    j: usize,
    json: bool,
    ignore: &[Ignore],
) -> Result<Vec<Drift>, DiffError> {
    // Two large bodies (a listing of half a million items) are parsed one per core.
    let large = |c: &LoadedCassette, i: usize| c.cassette.response_body(i).len() > PARSED_APART;
    let apart = large(old, i) && large(new, j);
    // Read one after the other: what a thread reads it leaves behind in its own memory.
    let (ob, nb) = (response_text(old, i)?, response_text(new, j)?);
    let (ot, nt) = (ob.as_ref(), nb.as_ref());
    let mut drifts = Vec::new();
    // Keys spelled anew (EM 13's camelCase) are one drift each; the bodies are then compared as
    // if spelled alike, so that what else changed still shows.
    let renamed = if json { renamed_keys(ot, nt) } else { BTreeMap::new() };
    for (was, now) in &renamed {
        drifts.push(simple(DriftKind::KeyRenamed, &format!("key {was}"), Some(was.clone()), Some(now.clone())));
    }
    let respelled;
    let nt = if renamed.is_empty() {
        nt
    } else {
        let back: HashMap<&str, &str> = renamed.iter().map(|(o, n)| (n.as_str(), o.as_str())).collect();
        respelled = crate::em::json::rename_keys(nt, |k| back.get(k).map(|o| (*o).to_owned()));
        respelled.as_str()
    };
    let compared = compare_bodies(ot, nt, json, apart, ignore).map_err(|u| match u.new {
        false => unparsed_body(old, i, ot, json, u.error),
        true => unparsed_body(new, j, nt, json, u.error),
    })?;
    drifts.extend(compared);
    Ok(drifts)
}

/// The fields a JSON request body sends that the other does not (`objectRestorePointId`
/// became `restorePointId`): a server of the new version may refuse what an old client sends.
fn request_fields(old: Option<&str>, new: Option<&str>) -> Vec<Drift> {
    fn paths(v: &serde_json::Value, at: &str, out: &mut BTreeSet<String>) {
        if let serde_json::Value::Object(m) = v {
            for (k, x) in m {
                let here = format!("{at}/{k}");
                paths(x, &here, out);
                out.insert(here);
            }
        }
    }
    let parse =
        |t: Option<&str>| t.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()).filter(|v| v.is_object());
    let (Some(o), Some(n)) = (parse(old), parse(new)) else { return Vec::new() };
    let (mut op, mut np) = (BTreeSet::new(), BTreeSet::new());
    paths(&o, "", &mut op);
    paths(&n, "", &mut np);
    let removed = op
        .difference(&np)
        .map(|p| simple(DriftKind::RequestFieldRemoved, &format!("request {p}"), Some(p.clone()), None));
    let added = np
        .difference(&op)
        .map(|p| simple(DriftKind::RequestFieldAdded, &format!("request {p}"), None, Some(p.clone())));
    removed.chain(added).collect()
}

/// Pairs keys only one side holds whose paths differ in one segment, not an id: same method,
/// same representation, as many segments; of several, the one `score` rates highest (above 0).
pub(super) fn renamed_paths<'a>(
    old: Vec<&'a String>,
    new: Vec<&'a String>,
    score: impl Fn(&str, &str) -> f64,
) -> BTreeMap<&'a String, &'a String> {
    let split = |k: &'a str| -> Option<(&'a str, Vec<&'a str>, &'a str)> {
        let (method, rest) = k.split_once(' ')?;
        let (path, repr) = rest.split_once(' ').unwrap_or((rest, ""));
        Some((method, path.trim_end_matches('/').split('/').collect(), repr))
    };
    let mut out = BTreeMap::new();
    let mut taken = BTreeSet::new();
    for o in old {
        let Some((om, os, or)) = split(o) else { continue };
        let candidates = new.iter().filter(|n| {
            let Some((nm, ns, nr)) = split(n) else { return false };
            let differ: Vec<usize> = (0..os.len().min(ns.len())).filter(|i| os[*i] != ns[*i]).collect();
            !taken.contains(*n)
                && om == nm
                && or == nr
                && os.len() == ns.len()
                && differ.len() == 1
                && !os[differ[0]].starts_with('{')
                && !ns[differ[0]].starts_with('{')
        });
        let best = candidates.map(|n| (score(o, n), *n)).filter(|(s, _)| *s > 0.0).max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((_, n)) = best {
            taken.insert(n);
            out.insert(o, n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i32>().prop_map(|n| serde_json::json!(n)),
            "[a-zA-Z0-9 ]{0,8}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("[A-Za-z]{1,6}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn a_body_never_drifts_from_itself(value in json_value()) {
            let text = serde_json::json!({"Body": value}).to_string();
            proptest::prop_assert_eq!(body_diff(&text, &text), vec![]);
        }

        #[test]
        fn diffs_both_ways_agree_on_how_much_changed(a in json_value(), b in json_value()) {
            let (a, b) = (serde_json::json!({"Body": a}).to_string(), serde_json::json!({"Body": b}).to_string());
            proptest::prop_assert_eq!(body_diff(&a, &b).is_empty(), body_diff(&b, &a).is_empty());
        }
    }

    fn body_diff(old: &str, new: &str) -> Vec<(DriftKind, String, Option<String>, Option<String>)> {
        let json = old.trim_start().starts_with('{');
        let (o, n) = if json {
            (tree::parse_json(old).unwrap(), tree::parse_json(new).unwrap())
        } else {
            (tree::parse_xml(old).unwrap(), tree::parse_xml(new).unwrap())
        };
        let mut c = Comparer::new(&o, &n, &[]);
        c.roots();
        c.drifts.into_iter().map(|d| (d.kind, d.path, d.old, d.new)).collect()
    }

    const NS: &str = "http://www.veeam.com/ent/v1.0";

    #[test]
    fn shuffled_attributes_prefixes_and_white_space_are_no_drift() {
        let a = format!(r#"<Task xmlns="{NS}" Type="Task" Href="h"><State>Running</State></Task>"#);
        let b = format!("<e:Task xmlns:e=\"{NS}\" Href=\"h\" Type=\"Task\">\n  <e:State>Running</e:State>\n</e:Task>");
        assert_eq!(
            body_diff(&a, &b),
            vec![(DriftKind::PrefixChanged, "/Task".into(), Some("(default)".into()), Some("e:".into()))]
        );
        assert_eq!(DriftKind::PrefixChanged.severity(), Severity::Cosmetic);
    }

    #[test]
    fn ids_dates_and_hosts_are_data_not_drift() {
        let a = format!(
            r#"<RP xmlns="{NS}" UID="urn:veeam:RP:1" Name="vm@2013-08-21 10:44:36" Href="https://a:9398/api/x/1"><CreationTimeUTC>2013-08-21T10:44:36Z</CreationTimeUTC><VmName>a</VmName></RP>"#
        );
        let b = format!(
            r#"<RP xmlns="{NS}" UID="urn:veeam:RP:2" Name="other@2025-10-20 20:04:07" Href="http://b:1/api/x/2"><CreationTimeUTC>2025-10-20T20:04:07.267Z</CreationTimeUTC><VmName>b</VmName></RP>"#
        );
        assert_eq!(body_diff(&a, &b), vec![]);
    }

    #[test]
    fn each_kind_of_drift_is_graded() {
        let a = format!(
            r#"<VmRestorePoint xmlns="{NS}" Type="VmRestorePoint"><Links><Link Rel="Restore" Href="h/x/1?action=restore"/><Link Rel="Up" Type="BackupServerReference" Href="h/backupServers/1"/></Links><Algorithm>Full</Algorithm><Size>10</Size><Old>x</Old></VmRestorePoint>"#
        );
        let b = format!(
            r#"<VmRestorePoint xmlns="{NS}" Type="VmRestorePoint" VmDisplayName="v"><Links><Link Rel="Up" Type="BackupServerReference" Href="h/servers/1"/><Link Rel="Up" Type="BackupFileReference" Href="h/backupFiles/1"/></Links><Algorithm>Incremental</Algorithm><Size>ten</Size><VmName>v</VmName></VmRestorePoint>"#
        );
        let kinds: Vec<DriftKind> = body_diff(&a, &b).into_iter().map(|d| d.0).collect();
        assert_eq!(
            kinds,
            [
                DriftKind::AttributeAdded,
                DriftKind::LinkTemplateChanged,
                DriftKind::LinkRemoved,
                DriftKind::LinkAdded,
                DriftKind::EnumValueChanged,
                DriftKind::ElementRemoved,
                DriftKind::KindChanged,
                DriftKind::ElementAdded,
            ]
        );
    }

    #[test]
    fn a_namespace_change_is_reported_once_where_it_happens() {
        let a = format!(
            r#"<L xmlns="{NS}"><Ref UID="1"><Links><Link Rel="A" Href="/x/1"/></Links></Ref><Ref UID="2"/></L>"#
        );
        let b = format!(
            r#"<L xmlns="{NS}"><Ref xmlns="http://www.veeam.com/ent/v1.1" UID="1"><Links><Link Rel="A" Href="/x/1"/></Links></Ref><Ref UID="2"/></L>"#
        );
        assert_eq!(
            body_diff(&a, &b),
            vec![(
                DriftKind::NamespaceChanged,
                "/L/Ref[@UID='1']".into(),
                Some(NS.into()),
                Some("http://www.veeam.com/ent/v1.1".into())
            )]
        );
    }

    #[test]
    fn lists_keyed_by_a_stable_name_report_items_that_come_and_go() {
        let a = format!(
            r#"<EM xmlns="{NS}"><SupportedVersions><SupportedVersion Name="v1_3"/><SupportedVersion Name="v1_4"/></SupportedVersions></EM>"#
        );
        let b = format!(
            r#"<EM xmlns="{NS}"><SupportedVersions><SupportedVersion Name="v1_4"/><SupportedVersion Name="v1_5"/></SupportedVersions></EM>"#
        );
        let d = body_diff(&a, &b);
        assert_eq!(d[0].0, DriftKind::ItemRemoved);
        assert_eq!(d[0].1, "/EM/SupportedVersions/SupportedVersion[@Name='v1_3']");
        assert_eq!(d[1].0, DriftKind::ItemAdded);
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn json_bodies_drift_like_xml() {
        let a = r#"{"Refs":[{"UID":"u1","Name":"a@2024-01-01 00:00:00","Links":[{"Rel":"Alternate","Type":"VmRestorePoint","Href":"h/vmRestorePoints/1?format=Entity"}]}]}"#;
        let b = r#"{"Refs":[{"UID":"u1","Name":"a@2024-01-02 00:00:00","Links":[],"Description":"d"}]}"#;
        let kinds: Vec<DriftKind> = body_diff(a, b).into_iter().map(|d| d.0).collect();
        assert_eq!(kinds, [DriftKind::AttributeAdded, DriftKind::LinkRemoved]);
    }

    #[test]
    fn ignore_patterns() {
        assert!(Ignore::new("//Description").matches("/EntityReferences/Ref/Description"));
        assert!(Ignore::new("/EntityReferences/Ref").matches("/EntityReferences/Ref/@Name"));
        assert!(!Ignore::new("/EntityReferences/Re").matches("/EntityReferences/Ref"));
        assert!(Ignore::new("Description").matches("/EntityReferences/Ref/Description"), "a bare name is anywhere");
        let logon = Ignore::new("GET /api/logonSessions/*");
        assert!(logon.matches_exchange("GET /api/logonSessions/{id} (XML)"));
        assert!(!logon.matches_exchange("GET /api/logonSessions (XML)"));
        assert!(!logon.matches_exchange("DELETE /api/logonSessions/{id}"));
        assert_eq!(logon.hits(), 1);
    }

    /// The drifts of two XML bodies as whole trees, each as its Debug text.
    fn whole_tree_drifts(old: &str, new: &str) -> Vec<String> {
        let (o, n) = (tree::parse_xml(old).unwrap(), tree::parse_xml(new).unwrap());
        let mut c = Comparer::new(&o, &n, &[]);
        c.roots();
        c.drifts.iter().map(|d| format!("{d:?}")).collect()
    }

    fn skeleton_drifts(old: &str, new: &str) -> Vec<String> {
        let Ok(drifts) = compare_bodies(old, new, false, false, &[]) else { panic!("the bodies parse") };
        drifts.iter().map(|d| format!("{d:?}")).collect()
    }

    #[test]
    fn items_parsed_as_they_are_compared_drift_as_whole_trees_do() {
        // Every XML body of each release against each body of the same request in the next, both
        // ways.
        let releases: Vec<Vec<LoadedCassette>> = crate::cassette::RELEASES
            .iter()
            .map(|(_, files)| {
                files.iter().filter(|(n, _)| !n.contains("json")).map(|(n, t)| Cassette::parse(n, t).unwrap()).collect()
            })
            .collect();
        let mut skeletons = 0;
        for pair in releases.windows(2) {
            for (old, new) in [(&pair[0], &pair[1]), (&pair[1], &pair[0])] {
                for (a, b) in old.iter().zip(new) {
                    let uri = |c: &LoadedCassette, i: usize| {
                        let r = &c.cassette.exchanges[i].request;
                        format!("{} {}", r.method, r.uri)
                    };
                    let keys: Vec<String> = (0..b.cassette.exchanges.len()).map(|j| uri(b, j)).collect();
                    for i in 0..a.cassette.exchanges.len() {
                        let key = uri(a, i);
                        for j in (0..keys.len()).filter(|j| keys[*j] == key) {
                            let (Some(ot), Some(nt)) =
                                (a.cassette.response_body(i).as_text(), b.cassette.response_body(j).as_text())
                            else {
                                continue;
                            };
                            let (Ok(lazy), Ok(_)) = (tree::skeleton_xml(ot), tree::skeleton_xml(nt)) else { continue };
                            skeletons += (0..lazy.nodes.len() as u32).filter(|n| lazy.is_lazy(*n)).count();
                            assert_eq!(skeleton_drifts(ot, nt), whole_tree_drifts(ot, nt), "{} {key}", a.name);
                        }
                    }
                }
            }
        }
        assert!(skeletons > 100, "the bodies have items to leave unparsed ({skeletons})");
    }

    #[test]
    fn items_in_skeletons_keep_their_namespaces_lines_and_errors() {
        let old = "<L xmlns=\"urn:a\" xmlns:p=\"urn:p\">\n<I UID=\"1\"><p:N>a</p:N></I>\n<I UID=\"2\"><N>b</N></I>\n<I UID=\"3\"/>\n</L>";
        let new = "<L xmlns=\"urn:a\" xmlns:p=\"urn:p\">\n<I UID=\"1\"><p:N>a</p:N></I>\n<I UID=\"2\" xmlns:q=\"urn:b\">\n<q:N>b</q:N><M/></I>\n<I UID=\"3\"/>\n</L>";
        let skeleton = tree::skeleton_xml(new).unwrap();
        let lazy: Vec<bool> = skeleton.children(0).map(|n| skeleton.is_lazy(n)).collect();
        assert_eq!(lazy, [true, true, false], "an empty item has nothing left to parse");
        let drifts = skeleton_drifts(old, new);
        assert_eq!(drifts, whole_tree_drifts(old, new));
        let lines: Vec<String> = drifts.iter().map(|d| d.split("new_line: ").nth(1).unwrap_or("").to_owned()).collect();
        assert!(drifts.iter().any(|d| d.contains("NamespaceChanged")), "{drifts:?}");
        assert!(lines.iter().all(|l| l.starts_with("Some(3)") || l.starts_with("Some(4)")), "{lines:?}");
        // Items that do not pair are taken together, as whole trees.
        let other = "<L xmlns=\"urn:a\">\n<I UID=\"7\"><N>a</N></I>\n<I UID=\"8\"><N>1</N><O/></I>\n</L>";
        assert_eq!(skeleton_drifts(old, other), whole_tree_drifts(old, other));
        // An item that does not parse is found where it is, when it is compared.
        let broken = "<L xmlns=\"urn:a\">\n<I UID=\"1\">\n<x:N>a</x:N></I>\n</L>";
        let Err(unparsed) = compare_bodies(old, broken, false, false, &[]) else { panic!("an undeclared prefix") };
        assert!(unparsed.new);
        assert_eq!((unparsed.error.line, unparsed.error.column), (3, 1), "{}", unparsed.error.message);
    }

    #[test]
    fn a_long_listing_compared_a_run_per_core_drifts_and_stops_in_the_order_of_its_items() {
        // Item `i` on line `i + 2`; `changed` items say another State, `broken` ones an undeclared prefix.
        let listing = |changed: &[usize], broken: &[usize]| {
            let mut s = String::from("<L xmlns=\"urn:a\">\n");
            for i in 0..3000 {
                let state = if changed.contains(&i) { "Failed" } else { "Success" };
                let prefix = if broken.contains(&i) { "x:" } else { "" };
                s.push_str(&format!("<I UID=\"urn:i:{i}\"><{prefix}State>{state}</{prefix}State><N>{i}</N></I>\n"));
            }
            s + "</L>"
        };
        let old = listing(&[], &[]);
        let Ok(drifts) = compare_bodies(&old, &listing(&[2999, 5, 1500], &[]), false, false, &[]) else {
            panic!("the bodies parse")
        };
        let items: Vec<_> = drifts.iter().map(|d| (d.item.as_deref(), d.new_line)).collect();
        assert_eq!(
            items,
            [(Some("urn:i:5"), Some(7)), (Some("urn:i:1500"), Some(1502)), (Some("urn:i:2999"), Some(3001))]
        );
        // The first item that does not parse is the one named, whichever run reaches it first.
        let Err(unparsed) = compare_bodies(&old, &listing(&[100], &[2900, 2500]), false, false, &[]) else {
            panic!("an undeclared prefix")
        };
        assert_eq!(unparsed.error.line, 2502, "{}", unparsed.error.message);
    }
}
