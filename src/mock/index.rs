//! Recorded exchanges compiled for matching: normalised request keys, body matchers, and the
//! grouping of identical requests into sequences (a Task polled Running, Running, Finished).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::render::{BodySource, Rendered};
use crate::cassette::template::Template;
use crate::cassette::{Body, Exchange, LoadedCassette};
use crate::em::{self, Repr};
use crate::xml;

use crate::RecordedMap as HashMap;

/// For each of `n` items in order, the first whose key is the same as its own (itself, when
/// none before it has its key). The keys are hashed once and sorted by hash, not kept in a
/// table: a large estate's index has 600,000, and a table of their keys would hold a hundred
/// MB at the moment serve's catalog is being read.
pub(crate) fn first_alike<K: std::hash::Hash + Eq>(n: usize, key: impl Fn(usize) -> K) -> Vec<usize> {
    use std::hash::BuildHasher;
    let state = foldhash::fast::RandomState::default();
    let mut hashed: Vec<(u64, usize)> = (0..n).map(|i| (state.hash_one(key(i)), i)).collect();
    hashed.sort_unstable();
    let mut first: Vec<usize> = (0..n).collect();
    for run in hashed.chunk_by(|a, b| a.0 == b.0).filter(|run| run.len() > 1) {
        // In order within a run: each is the first of its key, or has an earlier one's.
        let mut firsts: Vec<(usize, K)> = Vec::new();
        for &(_, i) in run {
            let k = key(i);
            match firsts.iter().find(|(_, f)| *f == k) {
                Some(&(f, _)) => first[i] = f,
                None => firsts.push((i, k)),
            }
        }
    }
    first
}

/// Placeholder that matches any value in a recorded request body.
pub(crate) const WILDCARD: &str = "{{redacted}}";

/// One recorded exchange, ready to match and answer. What few have (a session path's template,
/// a logon, a JSON request body) is boxed: a large estate's index holds 600,000 of them.
pub(crate) struct Entry {
    pub source: usize,
    pub seq: u64,
    pub line: usize,
    pub method: String,
    /// Path and query as recorded, for messages.
    pub uri: String,
    pub path: String,
    /// Set when the path holds session placeholders (`/api/logonSessions/{{session-id:1}}`).
    pub path_template: Option<Box<Template>>,
    pub query: Vec<(String, String)>,
    pub logon: Option<Box<Logon>>,
    pub logout: bool,
    /// The representation of the recorded response; `None` when it has no body.
    pub repr: Option<Repr>,
    /// The recorded request carried a session token (of this recorded session, when known).
    pub session: Option<Option<u32>>,
    pub needs_credentials: bool,
    pub body: BodyMatcher,
    pub response: Rendered,
    pub used: AtomicBool,
}

/// What a request must be to match an exchange ([`Entry::match_key`]), its texts the entry's
/// (a large estate's index groups 600,000 exchanges by it).
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct MatchKey<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a [(String, String)],
    repr: Option<Repr>,
    session: Option<Option<u32>>,
    logon: Option<&'a str>,
    /// Empty (and no allocation) for an exchange without a request body.
    body: String,
}

/// What a logon exchange accepts and starts.
pub(crate) struct Logon {
    /// The `v=` recorded, lower case (`latest` when none was sent).
    pub recorded: String,
    /// Every version a logon may ask for: the recorded one and those the server advertised.
    pub versions: Vec<String>,
    /// The recorded session it opened.
    pub session: u32,
}

impl Entry {
    /// `bodies` holds the compiled response bodies of the cassette so far, by seq, so that
    /// `body_same_as` shares one; `headers` the header lists compiled so far, shared alike.
    pub fn compile(
        source: usize,
        cassette: &LoadedCassette,
        index: usize,
        bodies: &mut HashMap<u64, Arc<BodySource>>,
        headers: &mut HashMap<crate::http::Headers, Arc<[(String, Template)]>>,
    ) -> Entry {
        let exchange: &Exchange = &cassette.cassette.exchanges[index];
        let response_body = cassette.cassette.response_body(index);
        let compiled = match exchange.response.body_same_as.and_then(|seq| bodies.get(&seq)) {
            Some(shared) => shared.clone(),
            None => BodySource::compile(response_body),
        };
        bodies.insert(exchange.seq, compiled.clone());
        let meta = &cassette.cassette.meta;
        let request = &exchange.request;
        let (raw_path, raw_query) = request.uri.split_once('?').unwrap_or((&request.uri, ""));
        let path = em::normalize_path(raw_path);
        let path_template = Template::parse(&path);
        let path_template = path_template.uses_session().then(|| Box::new(path_template));
        let mut query = em::normalize_query(raw_query);
        let logon = em::is_logon_path(&path).then(|| {
            let recorded = query.iter().find(|(k, _)| k == "v").map_or_else(|| "latest".to_owned(), |(_, v)| v.clone());
            let mut versions: Vec<String> = meta.supported_versions.iter().map(|v| v.to_ascii_lowercase()).collect();
            for v in meta.api_version.iter().map(|v| v.to_ascii_lowercase()).chain([recorded.clone()]) {
                if v != "latest" && !versions.contains(&v) {
                    versions.push(v);
                }
            }
            let session = exchange
                .response
                .headers
                .get(em::SESSION_HEADER)
                .and_then(|v| Template::parse(v).sessions().next())
                .unwrap_or(1);
            Box::new(Logon { recorded, versions, session })
        });
        query.retain(|(k, _)| k != "v");
        let session = em::session_token(&request.headers).map(|t| Template::parse(t).sessions().next());
        let logout = request.method == "DELETE" && path.starts_with("/api/logonsessions/") && path_template.is_some();
        let repr = (!matches!(response_body, Body::Empty)).then(|| exchange.response_repr());
        Entry {
            source,
            seq: exchange.seq,
            line: cassette.lines.get(index).copied().unwrap_or(0),
            method: request.method.clone(),
            uri: request.uri.clone(),
            path,
            path_template,
            query,
            needs_credentials: logon.is_some() && request.headers.contains("authorization"),
            logon,
            logout,
            repr,
            session,
            body: BodyMatcher::compile(&request.body, request.headers.get("content-type")),
            response: Rendered::compile(&exchange.response, compiled, headers),
            used: AtomicBool::new(false),
        }
    }

    pub fn status(&self) -> u16 {
        self.response.status()
    }

    /// A logon the recorded server refused (`401`): EM's answer to those credentials, served
    /// for the same request unless a recorded logon that succeeded answers it too.
    pub fn refused_logon(&self) -> bool {
        self.logon.is_some() && self.status() == 401
    }

    /// A logon that opened its recorded session (and so starts one of the caller's).
    pub fn opens_session(&self) -> bool {
        self.logon.is_some() && self.status() < 300
    }

    /// Whether this successful logon answers the request `refused` recorded, so that the
    /// refusal can never be served (a client that mistyped the password, then logged on).
    fn answers_refused(&self, refused: &Entry) -> bool {
        self.opens_session()
            && self.method == refused.method
            && self.path == refused.path
            && self.query == refused.query
            && self.repr == refused.repr
            && self.body.key() == refused.body.key()
            && refused.logon.as_ref().is_some_and(|l| self.accepts_version(Some(&l.recorded)))
    }

    /// Identical requests of one cassette form one sequence; this is what makes them identical.
    pub fn group_key(&self) -> (usize, MatchKey<'_>) {
        (self.source, self.match_key())
    }

    /// What a request must be to match this exchange, whichever cassette holds it.
    pub fn match_key(&self) -> MatchKey<'_> {
        MatchKey {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            repr: self.repr,
            session: self.session,
            logon: self.logon.as_ref().map(|l| l.recorded.as_str()),
            body: self.body.key(),
        }
    }

    /// Whether the (normalised) request path is this exchange's path.
    pub fn path_matches(&self, path: &str, session: Option<(&str, &str)>) -> bool {
        match &self.path_template {
            Some(t) => t.matches(path, true, session),
            None => self.path == path,
        }
    }

    /// Whether a logon asking for `version` (`None` for none) may be answered by this exchange.
    pub fn accepts_version(&self, version: Option<&str>) -> bool {
        match (&self.logon, version) {
            (None, _) => true,
            (Some(_), None | Some("latest")) => true,
            (Some(l), Some(v)) => l.versions.iter().any(|x| x == v),
        }
    }
}

/// How a recorded request body is compared with a replayed one.
pub(crate) enum BodyMatcher {
    /// Nothing was recorded, so anything goes (EM ignores junk on logon, for one).
    Any,
    Xml(Box<xml::Element>),
    Json(Box<serde_json::Value>),
    Text(Template),
    Bytes(Vec<u8>),
}

impl BodyMatcher {
    fn compile(body: &Body, content_type: Option<&str>) -> BodyMatcher {
        let text = match body {
            Body::Empty => return BodyMatcher::Any,
            Body::Binary(b) => return BodyMatcher::Bytes(b.clone()),
            Body::Text { text, .. } => text,
            // A pack places response bodies only: a request's is always in memory.
            Body::Placed(_) => return BodyMatcher::Bytes(Vec::new()),
        };
        let kind = content_type.and_then(Repr::from_content_type).or_else(|| Repr::sniff(text));
        match kind {
            Some(Repr::Xml) => xml::parse(text)
                .map_or_else(|_| BodyMatcher::Text(Template::parse(text)), |e| BodyMatcher::Xml(Box::new(e))),
            Some(Repr::Json) => serde_json::from_str(text)
                .map_or_else(|_| BodyMatcher::Text(Template::parse(text)), |v| BodyMatcher::Json(Box::new(v))),
            None => BodyMatcher::Text(Template::parse(text)),
        }
    }

    fn key(&self) -> String {
        match self {
            BodyMatcher::Any => String::new(),
            BodyMatcher::Xml(e) => format!("{e:?}"),
            BodyMatcher::Json(v) => v.to_string(),
            BodyMatcher::Text(t) => format!("{t:?}"),
            BodyMatcher::Bytes(b) => format!("{b:?}"),
        }
    }

    /// `Err` says how `body` differs. An empty body always matches: EM takes a restore POST
    /// without its optional `RestoreSpec`.
    pub fn check(&self, body: &[u8]) -> Result<(), String> {
        if body.is_empty() {
            return Ok(());
        }
        let text = || std::str::from_utf8(body).map_err(|_| "the request body is not UTF-8 text".to_owned());
        match self {
            BodyMatcher::Any => Ok(()),
            BodyMatcher::Bytes(b) => {
                if b == body {
                    Ok(())
                } else {
                    Err("the bytes differ from the recorded body".to_owned())
                }
            }
            BodyMatcher::Text(t) => {
                if t.matches(text()?, false, None) {
                    Ok(())
                } else {
                    Err("the text differs from the recorded body".to_owned())
                }
            }
            BodyMatcher::Xml(expected) => {
                let actual =
                    xml::parse(text()?).map_err(|e| format!("recorded XML, got a body that does not parse ({e})"))?;
                match xml::first_difference(expected, &actual, WILDCARD) {
                    None => Ok(()),
                    Some(d) => Err(d),
                }
            }
            BodyMatcher::Json(expected) => {
                let actual: serde_json::Value = serde_json::from_str(text()?)
                    .map_err(|e| format!("recorded JSON, got a body that does not parse ({e})"))?;
                match json_difference(expected, &actual, "") {
                    None => Ok(()),
                    Some(d) => Err(d),
                }
            }
        }
    }
}

/// Where two JSON values first differ; `"{{redacted}}"` in `expected` matches any value.
fn json_difference(expected: &serde_json::Value, actual: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (expected, actual) {
        (Value::String(e), _) if e == WILDCARD => None,
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    None => return Some(format!("{path}/{k}: missing")),
                    Some(x) => {
                        if let Some(d) = json_difference(v, x, &format!("{path}/{k}")) {
                            return Some(d);
                        }
                    }
                }
            }
            a.keys().find(|k| !e.contains_key(*k)).map(|k| format!("{path}/{k}: not expected"))
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            e.iter().zip(a).enumerate().find_map(|(i, (x, y))| json_difference(x, y, &format!("{path}/{i}")))
        }
        (e, a) if e == a => None,
        (e, a) => Some(format!("{}: expected {e}, got {a}", if path.is_empty() { "/" } else { path })),
    }
}

/// Exchanges grouped into sequences and indexed by path. A large estate's index holds 600,000
/// sequences, nearly all of one exchange each: the tables are flat, not a list or a path each.
pub(crate) struct Index {
    pub entries: Vec<Entry>,
    /// Entry ids of every sequence, in recorded order, one sequence after another.
    members: Vec<usize>,
    /// Where each sequence's entry ids begin in `members` (and, last, where they end).
    starts: Vec<usize>,
    /// The sequences whose path holds no placeholder, by the hash of their normalised path
    /// (then in order): paths of the same hash are told apart by the path itself.
    routes: Vec<(u64, usize)>,
    /// Sequences whose path holds session placeholders.
    pub templated: Vec<usize>,
}

/// Every exchange of the cassettes compiled, in their order: what an [`Index`] is built of,
/// needing the cassettes no longer (a large estate's are hundreds of MB, let go meanwhile).
pub(crate) struct Compiled(Vec<Entry>);

impl Index {
    /// The exchanges of `cassettes` compiled, one cassette per core.
    pub fn compile(cassettes: &[LoadedCassette]) -> Compiled {
        let sources: Vec<(usize, &LoadedCassette)> = cassettes.iter().enumerate().collect();
        let entries = crate::parallel::map(&sources, |&(source, cassette)| {
            let (mut bodies, mut headers) = (HashMap::default(), HashMap::default());
            // A recorded 401 is evidence of the session rules (a token used after logout), not
            // data: the mock's own session rules answer those requests. A logon's 401 is EM's
            // answer to the credentials sent, and is kept.
            let mut compiled: Vec<Entry> = (0..cassette.cassette.exchanges.len())
                .map(|i| Entry::compile(source, cassette, i, &mut bodies, &mut headers))
                .filter(|e| e.status() != 401 || e.logon.is_some())
                .collect();
            // Sequences replay in arrival order; a recorder serving concurrent clients writes
            // exchanges as they complete.
            compiled.sort_by_key(|e| e.seq);
            compiled
        });
        Compiled(entries.into_iter().flatten().collect())
    }

    pub fn build(Compiled(mut entries): Compiled) -> Index {
        // Credentials are redacted, so a refused logon and a successful one of the same request
        // cannot be told apart: the one that logs on answers, and the refusal stays evidence.
        let outranked: Vec<bool> =
            entries.iter().map(|r| r.refused_logon() && entries.iter().any(|e| e.answers_refused(r))).collect();
        let mut outranked = outranked.into_iter();
        entries.retain(|_| !outranked.next().unwrap_or(false));
        // Each entry's sequence, numbered as first seen, then each sequence's entries together.
        let (mut sizes, mut group_of) = (Vec::new(), Vec::with_capacity(entries.len()));
        for (id, first) in first_alike(entries.len(), |id| entries[id].group_key()).into_iter().enumerate() {
            let g = match first == id {
                true => {
                    sizes.push(0);
                    sizes.len() - 1
                }
                false => group_of[first],
            };
            sizes[g] += 1;
            group_of.push(g);
        }
        let mut starts = Vec::with_capacity(sizes.len() + 1);
        let mut at = 0;
        for size in &sizes {
            starts.push(at);
            at += size;
        }
        starts.push(at);
        let mut next = starts.clone();
        let mut members = vec![0; entries.len()];
        for (id, &g) in group_of.iter().enumerate() {
            members[next[g]] = id;
            next[g] += 1;
        }
        let (mut routes, mut templated) = (Vec::new(), Vec::new());
        for g in 0..sizes.len() {
            let first = &entries[members[starts[g]]];
            if first.path_template.is_some() {
                templated.push(g);
            } else {
                routes.push((path_hash(&first.path), g));
            }
        }
        routes.sort_unstable();
        Index { entries, members, starts, routes, templated }
    }

    /// The entry ids of sequence `g`, in recorded order.
    pub fn group(&self, g: usize) -> &[usize] {
        &self.members[self.starts[g]..self.starts[g + 1]]
    }

    /// Every sequence's entry ids, in order.
    pub fn groups(&self) -> impl Iterator<Item = &[usize]> {
        self.starts.windows(2).map(|w| &self.members[w[0]..w[1]])
    }

    /// The sequences recorded for the normalised `path` (no placeholder in it), in order.
    pub fn routed<'a>(&'a self, path: &'a str) -> impl Iterator<Item = usize> + 'a {
        let hash = path_hash(path);
        let from = self.routes.partition_point(|&(h, _)| h < hash);
        self.routes[from..]
            .iter()
            .take_while(move |&&(h, _)| h == hash)
            .map(|&(_, g)| g)
            .filter(move |&g| self.entries[self.group(g)[0]].path == path)
    }
}

fn path_hash(path: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(path)
}

#[cfg(test)]
mod tests {
    /// A key whose hash says little: most keys share one, and are told apart by the key.
    #[derive(PartialEq, Eq)]
    struct Coarse(u32);

    impl std::hash::Hash for Coarse {
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            (self.0 % 3).hash(state);
        }
    }

    #[test]
    fn each_item_is_given_the_first_with_its_key_even_where_keys_share_a_hash() {
        let keys = [5, 7, 5, 1, 8, 7, 7, 2, 5, 11, 8];
        let firsts = super::first_alike(keys.len(), |i| Coarse(keys[i]));
        let by_search: Vec<usize> = (0..keys.len()).map(|i| keys.iter().position(|k| *k == keys[i]).unwrap()).collect();
        assert_eq!(firsts, by_search);
        assert_eq!(firsts, [0, 1, 0, 3, 4, 1, 1, 7, 0, 9, 4]);
        assert!(super::first_alike(0, |i| Coarse(keys[i])).is_empty());
    }
}
