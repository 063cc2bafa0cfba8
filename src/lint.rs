//! `emtape lint`: proves a set of cassettes closed and clean. Closed: every link a client may
//! GET from what the mock serves answers, by the rules `serve` uses (derivation included).
//! Clean: no credential, session token or private key slipped past redaction; every body parses
//! as its Content-Type; every placeholder is one.

use std::collections::HashSet;

use serde::Serialize;

use crate::cassette::pack::Checked;
use crate::cassette::template::{Part, Template};
use crate::cassette::{Body, LoadedCassette, Parsed, Side};
use crate::em::session::secret_name;
use crate::em::{self, Repr};
use crate::http::{Headers, Request};
use crate::mock::{Mock, MockOptions};

/// What is wrong, where, and what to do.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// `dangling-link`, `unrecorded`, `derived`, `secret`, `unparsable-body`, `not-a-placeholder`,
    /// `shadowed`, `cassette-warning`.
    pub kind: &'static str,
    pub file: String,
    pub line: usize,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Every kind of finding, for `--allow`.
pub const KINDS: [&str; 8] = [
    "dangling-link",
    "unrecorded",
    "derived",
    "secret",
    "unparsable-body",
    "not-a-placeholder",
    "shadowed",
    "cassette-warning",
];

/// Whether a value is only placeholders (or nothing).
fn is_placeholder(v: &str) -> bool {
    Template::parse(v.trim()).parts().iter().all(|p| match p {
        Part::Text(t) => t.trim().is_empty(),
        _ => true,
    })
}

/// Whether a value is nothing but placeholders (and a scheme word like `Basic`).
fn redacted(v: &str) -> bool {
    let v = v.trim();
    let v = v.strip_prefix("Basic ").or_else(|| v.strip_prefix("Bearer ")).unwrap_or(v);
    is_placeholder(v)
}

/// Lints cassettes as one served set.
pub fn lint(cassettes: Vec<LoadedCassette>) -> Vec<Finding> {
    let names: Vec<String> = cassettes.iter().map(|c| c.name.clone()).collect();
    // The files are scanned on every core before the mock takes them (no copy of them).
    let mut findings: Vec<Finding> = crate::parallel::map(&cassettes, findings_of).into_iter().flatten().collect();
    let mock = Mock::new(cassettes, MockOptions::default());
    for (file, line, message) in mock.shadowed() {
        findings.push(Finding {
            kind: "shadowed",
            file,
            line,
            message,
            hint: Some("remove one, or record them in one cassette (repeated requests form a sequence)".into()),
        });
    }
    // Each representation's walk is a session of its own: the two walk side by side (at full
    // size each waits on its largest listings, one per thread), and report XML's first.
    let walks = std::thread::scope(|scope| {
        let walks = [Repr::Xml, Repr::Json].map(|repr| {
            let (mock, names) = (&mock, &names);
            scope.spawn(move || {
                let mut found = Vec::new();
                dangling(mock, repr, names, &mut found);
                found
            })
        });
        walks.map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    findings.extend(walks.into_iter().flatten());
    // What the walk was answered with that no recording holds: serve answers it the same way.
    let unrecorded = mock.unrecorded();
    if !unrecorded.is_empty() {
        let shown: Vec<String> = unrecorded.iter().take(5).map(|u| format!("{} ({})", u.request, u.note)).collect();
        let more = if unrecorded.len() > 5 { format!("; and {} more", unrecorded.len() - 5) } else { String::new() };
        findings.push(Finding {
            kind: "derived",
            file: names.first().cloned().unwrap_or_default(),
            line: 1,
            message: format!(
                "{} {}{more}",
                crate::report::check::unrecorded_heading(&unrecorded).trim_end_matches(':'),
                shown.join("; ")
            ),
            hint: Some(
                "record them (emtape crawl), or --allow derived when a derived or written answer is good enough".into(),
            ),
        });
    }
    // A model of a large EM takes a while to free; the answer need not wait for it.
    std::thread::spawn(move || drop(mock));
    findings
}

/// What one file says of itself: its warnings, and its secrets and bodies.
fn findings_of(c: &LoadedCassette) -> Vec<Finding> {
    let mut out = Vec::new();
    for w in &c.warnings {
        let kind = if w.message.contains("not a placeholder") { "not-a-placeholder" } else { "cassette-warning" };
        out.push(Finding {
            kind,
            file: w.file.clone(),
            line: w.line,
            message: w.message.clone(),
            hint: w.hint.clone(),
        });
    }
    if c.cassette.exchanges.is_empty() {
        out.push(Finding {
            kind: "cassette-warning",
            file: c.name.clone(),
            line: 1,
            message: "the cassette holds no exchanges: it answers nothing".into(),
            hint: Some("record into it (emtape record, crawl or import), or remove it".into()),
        });
    }
    scan(c, &mut out);
    out
}

/// Secrets and bodies, exchange by exchange.
fn scan(c: &LoadedCassette, out: &mut Vec<Finding>) {
    let secret_name = secret_names(c);
    // A pack's response bodies were checked when it was written: what it found is read, while
    // the pack is the one loaded (one written over is read, to say so for each body).
    let stored = c.pack.as_ref().filter(|p| p.unchanged().is_ok()).and_then(|p| p.checked());
    for (i, x) in c.cassette.exchanges.iter().enumerate() {
        let line = c.lines.get(i).copied().unwrap_or(0);
        let mut broken: Vec<Finding> = Vec::new();
        let mut secret = |message: String, hint: &str| out.push(secret_finding(c, line, message, hint));
        let request_headers: &Headers = &x.request.headers;
        for (name, value) in request_headers.iter().chain(x.response.headers.iter()) {
            let lower = name.to_ascii_lowercase();
            if (lower == "authorization" || lower == "proxy-authorization") && !redacted(value) {
                secret(
                    format!("exchange {}: {name} holds a credential", x.seq),
                    "write `Basic {{redacted}}`; record again, or redact it by hand",
                );
            }
            if lower == em::SESSION_HEADER.to_ascii_lowercase() && !redacted(value) {
                secret(format!("exchange {}: {name} holds a live session token", x.seq), "write `{{token:1}}`");
            }
            if lower == "cookie" || lower == "set-cookie" {
                for pair in value.split(';') {
                    if let Some((k, v)) = pair.split_once('=') {
                        if k.trim().eq_ignore_ascii_case(em::SESSION_HEADER) && !redacted(v) {
                            secret(
                                format!("exchange {}: {name} holds a live session token", x.seq),
                                "write `X-RestSvcSessionId={{token:1}}`",
                            );
                        }
                    }
                }
            }
        }
        if let Some((_, query)) = x.request.uri.split_once('?') {
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let k = em::percent_decode(k).to_ascii_lowercase();
                if secret_name(&k) && !redacted(v) {
                    secret(
                        format!("exchange {}: the query parameter `{k}` holds a secret", x.seq),
                        "write `{{redacted}}`",
                    );
                }
            }
        }
        for side in [Side::Request, Side::Response] {
            let stored = match (side, stored) {
                (Side::Response, Some(checked)) if matches!(x.response.body, Body::Placed(_)) => Some(checked),
                _ => None,
            };
            let [secrets, mut unread] = match stored {
                Some(checked) => match checked.binary_search_by_key(&i, |(at, _)| *at) {
                    Ok(at) => checked[at]
                        .1
                        .clone()
                        .map(|found| found.into_iter().filter_map(|f| f.finding(&c.name)).collect()),
                    Err(_) => Default::default(),
                },
                None => body_findings(c, i, side, secret_name),
            };
            out.extend(secrets);
            broken.append(&mut unread);
        }
        out.append(&mut broken);
    }
}

/// What body `side` of exchange `i` holds that it should not (secrets), and whether it does not
/// read or parse (the second), in the order they are found. A pack stores what this finds in its
/// response bodies ([`checked_when_packed`]): a change to what it finds is a change to what a
/// pack's YAML as read holds (bump `WRITTEN_BY` in `cassette::pack`).
fn body_findings(c: &LoadedCassette, i: usize, side: Side, secret_name: fn(&str) -> bool) -> [Vec<Finding>; 2] {
    let x = &c.cassette.exchanges[i];
    let line = c.lines.get(i).copied().unwrap_or(0);
    let (mut out, mut broken) = (Vec::new(), Vec::new());
    let mut secret = |message: String, hint: &str| out.push(secret_finding(c, line, message, hint));
    let body = match side {
        Side::Request => &x.request.body,
        // Stored once, checked where it is stored.
        Side::Response if x.response.body_same_as.is_some() => return [out, broken],
        Side::Response => &x.response.body,
    };
    // A pack's body is read from it, one at a time.
    let body = match body.read() {
        Ok(body) => body,
        Err(e) => {
            let message = format!("exchange {}: {e}", x.seq);
            broken.push(Finding { kind: "cassette-warning", file: c.name.clone(), line, message, hint: None });
            return [out, broken];
        }
    };
    let Body::Text { text, .. } = &*body else { return [out, broken] };
    let which = side.name();
    if text.contains("PRIVATE KEY-----") {
        secret(format!("exchange {}: the {which} body holds a private key", x.seq), "remove it");
    }
    let mut found = |field: String| {
        secret(format!("exchange {}: the {which} body's {field} holds a secret", x.seq), "write `{{redacted}}`")
    };
    // XML is read as it streams past: a tree of every body of a large estate is most of lint's
    // time. A body that does not read is parsed, to say where.
    let streamed = match c.text_as(i, side, text) {
        Some(Repr::Xml) => xml_secrets(text, secret_name, &mut found),
        _ => false,
    };
    if !streamed {
        match c.parse_text(i, side, text) {
            // Read above: the stream takes every document the parser takes.
            Some(Ok(Parsed::Xml(_))) => {}
            Some(Ok(Parsed::Json(value))) => json_secrets(&value, secret_name, &mut found),
            // The same check, and the same words, as `serve`'s warning at load.
            Some(Err(d)) => broken.push(Finding {
                kind: "unparsable-body",
                file: d.file,
                line: d.line,
                message: d.message,
                hint: None,
            }),
            None => {}
        }
    }
    [out, broken]
}

/// What lint finds in the response body of exchange `i` of a pack being written (see
/// [`crate::cassette::pack::write`]), stored in it so that lint need not read the body again.
pub fn checked_when_packed(c: &LoadedCassette, i: usize) -> [Vec<Checked>; 2] {
    body_findings(c, i, Side::Response, secret_names(c)).map(|found| {
        found
            .into_iter()
            .map(|f| Checked { kind: f.kind.to_owned(), line: f.line, message: f.message, hint: f.hint })
            .collect()
    })
}

impl Checked {
    /// The finding it stands for, in the pack named `file`; `None` for a kind this lint does
    /// not know.
    fn finding(self, file: &str) -> Option<Finding> {
        let kind = KINDS.into_iter().find(|k| *k == self.kind)?;
        // Found while the pack was written, under the name it had then.
        let message = self.message.replace(crate::cassette::pack::OWN_NAME, file);
        Some(Finding { kind, file: file.to_owned(), line: self.line, message, hint: self.hint })
    }
}

/// A secret in `c` at `line`, and how to take it out.
fn secret_finding(c: &LoadedCassette, line: usize, message: String, hint: &str) -> Finding {
    Finding { kind: "secret", file: c.name.clone(), line, message, hint: Some(hint.to_owned()) }
}

/// What names a secret in `c`'s bodies: Backup & Replication's names in its cassettes, EM's in
/// the others.
fn secret_names(c: &LoadedCassette) -> fn(&str) -> bool {
    let vbr = c.cassette.meta.api.as_deref().and_then(crate::vbr::Api::parse) == Some(crate::vbr::Api::Vbr);
    if vbr { crate::vbr::secret_name } else { secret_name }
}

/// The secrets of an XML body read as it streams past, as its tree would show them: an
/// attribute with a secret's name, and an element with one that holds text and no elements.
/// False when the body does not read (nothing is reported then).
fn xml_secrets(text: &str, secret_name: fn(&str) -> bool, found: &mut dyn FnMut(String)) -> bool {
    /// An element being read: its name and text are kept only when its name is a secret's.
    struct Open {
        secret: Option<(String, String)>,
        has_elements: bool,
    }
    let mut open: Vec<Open> = Vec::new();
    // Reported once the body has read to its end, so that a body that does not read reports
    // nothing (as its tree, which is never built, would not).
    let mut seen: Vec<String> = Vec::new();
    let read = crate::xml::walk(text, &mut |step| match step {
        crate::xml::Step::Open(e, empty) => {
            // Borrowed from the body (it is text): a name is made only for a secret's element.
            let name = String::from_utf8_lossy(e.local_name().into_inner());
            for a in e.attributes().flatten() {
                if a.key.as_namespace_binding().is_some() {
                    continue;
                }
                let attribute = String::from_utf8_lossy(a.key.local_name().into_inner());
                if secret_name(&attribute) && !a.unescape_value().is_ok_and(|v| redacted(&v)) {
                    seen.push(format!("attribute {name}/@{attribute}"));
                }
            }
            if let Some(parent) = open.last_mut() {
                parent.has_elements = true;
            }
            // An empty element has no text: nothing to redact.
            if !empty {
                let secret = secret_name(&name).then(|| (name.into_owned(), String::new()));
                open.push(Open { secret, has_elements: false });
            }
        }
        crate::xml::Step::Text(t) => {
            if let Some(Open { secret: Some((_, text)), .. }) = open.last_mut() {
                text.push_str(t);
            }
        }
        crate::xml::Step::Close => {
            if let Some(Open { secret: Some((name, text)), has_elements: false }) = open.pop() {
                if !redacted(&text) {
                    seen.push(format!("element <{name}>"));
                }
            }
        }
    });
    if read {
        seen.into_iter().for_each(found);
    }
    read
}

fn json_secrets(v: &serde_json::Value, secret_name: fn(&str) -> bool, found: &mut dyn FnMut(String)) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map {
                if let Some(s) = x.as_str() {
                    if secret_name(k) && !redacted(s) {
                        found(format!("\"{k}\""));
                    }
                }
                json_secrets(x, secret_name, found);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|x| json_secrets(x, secret_name, found)),
        _ => {}
    }
}

const ORIGIN: &str = "http://emtape.lint";

fn request(method: &str, target: &str, repr: Repr, token: Option<&str>) -> Request {
    let mut headers = Headers::new();
    headers.push("Accept", repr.content_type());
    if let Some(t) = token {
        headers.push(em::SESSION_HEADER, t);
    }
    if method == "POST" {
        headers.push("Authorization", "Basic bGludDpsaW50");
    }
    Request {
        method: method.into(),
        target: target.into(),
        headers,
        body: Default::default(),
        origin: ORIGIN.into(),
        peer: None,
    }
}

/// Breadth-first over every link a client may GET, from the root document and a logon in
/// `repr`; a link that does not answer 2xx is a finding, located where the cassettes name it.
fn dangling(mock: &Mock, repr: Repr, files: &[String], out: &mut Vec<Finding>) {
    let logon_request = request("POST", "/api/sessionMngr/?v=latest", repr, None);
    let Some(found) = mock.lookup(&logon_request) else { return };
    let logon = mock.respond(&logon_request);
    if logon.status >= 300 || Repr::from_content_type(logon.headers.get("content-type").unwrap_or("")) != Some(repr) {
        return;
    }
    let Some(token) = logon.headers.get(em::SESSION_HEADER).map(str::to_owned) else { return };
    // The logon's own exchange: where a link no cassette names, found in no page that one
    // names, is located.
    let logon_place = (files.get(found.source).cloned().unwrap_or_default(), found.line.max(1));
    // A logon whose token is not its session's placeholder (a live token pasted in) hands out
    // a session the mock does not know: every link of the session would answer 401 for that
    // one reason, which is one finding, not one per link. What needs no session is checked.
    let live = mock.is_live(&token);
    let reachable = |links: Vec<(String, String)>| -> Vec<(String, String)> {
        if live {
            return links;
        }
        links
            .into_iter()
            .filter(|(t, _)| em::is_public_path(&em::normalize_path(t.split('?').next().unwrap_or(t))))
            .collect()
    };
    if !live {
        out.push(Finding {
            kind: "dangling-link",
            file: logon_place.0.clone(),
            line: logon_place.1,
            message: format!(
                "exchange {}: the links could not be checked ({}): the logon answers {} with a value that is \
                 not its session's placeholder `{{{{token:1}}}}`, so the mock refuses (401) every request of the \
                 session it starts",
                found.seq,
                repr.name(),
                em::SESSION_HEADER
            ),
            hint: Some("write `{{token:1}}` in place of the live token (the `secret` finding), and lint again".into()),
        });
    }
    let root = mock.respond(&request("GET", "/api/", repr, None));
    let mut frontier: Vec<(String, String)> = Vec::new();
    let mut seen = HashSet::new();
    for body in [&logon.body, &root.body] {
        frontier.extend(reachable(navigable(&String::from_utf8_lossy(body), repr, ORIGIN)));
    }
    // Which page's answer named each target first: a link no cassette names is located where
    // the page that named it is.
    let mut named_by: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    // Links of one shape (ids as parameters) answer alike once the model answers a few of
    // them: checking three of each keeps a 10,000-point cassette's lint about a second.
    let mut shapes: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let workers = crate::parallel::cores();
    let mut unrecorded: Vec<String> = Vec::new();
    // Breadth-first, a level at a time; the requests of a level are answered in parallel.
    while !frontier.is_empty() {
        let mut level: Vec<(String, String)> = Vec::new();
        for (target, what) in frontier.drain(..) {
            if !seen.insert(target.clone()) {
                continue;
            }
            // Paging and filtering make no new shape: the first page stands for the others.
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let unpaged: Vec<&str> = query
                .split('&')
                .filter(|p| {
                    !["page=", "pagesize=", "filter=", "sortasc=", "sortdesc="]
                        .iter()
                        .any(|k| p.to_ascii_lowercase().starts_with(k))
                })
                .collect();
            let unpaged = format!("{path}?{}", unpaged.join("&"));
            let paged = unpaged.len() < path.len() + 1 + query.len();
            if paged && !seen.insert(unpaged.clone()) {
                continue;
            }
            let checked = shapes.entry(crate::diff::link_template(&unpaged)).or_default();
            if *checked >= 3 {
                continue;
            }
            *checked += 1;
            level.push((target, what));
        }
        let answers = answer_all(mock, &level, repr, &token, workers);
        for ((target, what), answer) in level.into_iter().zip(answers) {
            match answer {
                Err(Unanswered::NotRecorded) => unrecorded.push(target),
                Ok(links) => {
                    for (link, _) in &links {
                        named_by.entry(link.clone()).or_insert_with(|| target.clone());
                    }
                    frontier.extend(reachable(links));
                }
                Err(Unanswered::Status(status)) => {
                    let (file, line) = locate_link(files, &target, &named_by).unwrap_or_else(|| logon_place.clone());
                    out.push(Finding {
                        kind: "dangling-link",
                        file,
                        line,
                        message: format!("{what} GET {target} ({}) answers {status}: nothing answers it", repr.name()),
                        hint: Some(
                            "record it (emtape record or crawl), or record a sibling of its type to derive it from"
                                .into(),
                        ),
                    });
                }
            }
        }
    }
    if !unrecorded.is_empty() {
        let n = unrecorded.len();
        let shown: Vec<&str> = unrecorded.iter().take(5).map(String::as_str).collect();
        let more = if n > 5 { format!(" and {} more", n - 5) } else { String::new() };
        out.push(Finding {
            kind: "unrecorded",
            file: logon_place.0.clone(),
            line: logon_place.1,
            message: format!(
                "{n} link{} lead{} to collections no recording lists ({}): GET {}{more} answer EM's 404 saying \
                 nothing was recorded, not an empty list",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" },
                repr.name(),
                shown.join(", ")
            ),
            hint: Some(
                "record them (`emtape crawl` records every collection a client can reach), or --allow unrecorded \
                 when no client reads them"
                    .into(),
            ),
        });
    }
    let id = mock.session_id(&token).unwrap_or_default();
    let logout = request("DELETE", &format!("/api/logonSessions/{id}"), repr, Some(&token));
    let _ = mock.respond(&logout);
}

/// Why a link did not answer: EM's 404 for a collection nobody recorded, or another status.
enum Unanswered {
    NotRecorded,
    Status(u16),
}

/// What a GET of a link gave: the links of its answer, or why it did not answer.
type Reached = Result<Vec<(String, String)>, Unanswered>;

/// GETs every target (in `workers` threads): the links of each answer, or its status when it
/// is not a success; in the order of `targets`.
fn answer_all(mock: &Mock, targets: &[(String, String)], repr: Repr, token: &str, workers: usize) -> Vec<Reached> {
    let answer = |target: &str| {
        let mut r = mock.respond_later(&walked(mock, target, repr, token), None);
        // A large listing of a pack is read as its sample: its links are the whole body's.
        if let Some(later) = r.later.take() {
            match later.sample() {
                Ok(sample) => r.body = sample,
                Err(_) => return Err(Unanswered::Status(500)),
            }
        }
        // `from_utf8` first: its check is several times faster than `from_utf8_lossy`'s on the
        // listings of a large estate.
        let body =
            std::str::from_utf8(&r.body).map_or_else(|_| String::from_utf8_lossy(&r.body), std::borrow::Cow::Borrowed);
        match r.status {
            404 if em::error_message(&body).is_some_and(|m| m.starts_with(crate::model::NOT_RECORDED)) => {
                Err(Unanswered::NotRecorded)
            }
            status if status >= 300 => Err(Unanswered::Status(status)),
            _ => Ok(navigable(&body, repr, ORIGIN)),
        }
    };
    if workers < 2 || targets.len() < 2 {
        return targets.iter().map(|(t, _)| answer(t)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut answers: Vec<(usize, Reached)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.min(targets.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((target, _)) = targets.get(i) else { break mine };
                        mine.push((i, answer(target)));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    // A worker that died (a panic answering) leaves its targets as EM's 500.
    let mut ordered: Vec<Reached> = targets.iter().map(|_| Err(Unanswered::Status(500))).collect();
    for (i, a) in answers.drain(..) {
        ordered[i] = a;
    }
    ordered
}

/// How many entities the walk asks of an unpaged query (its first page).
const FIRST_PAGE: usize = 100;

/// The request the walk makes for `target`. A query not recorded as asked and without paging
/// puts every entity of its type on one page (as EM does): hundreds of megabytes on a large
/// estate, whose first page shows the same shapes, so the walk asks for that page. What was
/// recorded is asked as it was recorded, and a query that pages as it asks.
fn walked(mock: &Mock, target: &str, repr: Repr, token: &str) -> Request {
    let asked = request("GET", target, repr, Some(token));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let paged = query.split('&').any(|p| {
        let p = p.to_ascii_lowercase();
        p.starts_with("pagesize=") || p.starts_with("page=")
    });
    if paged || !em::is_query_path(&em::normalize_path(path)) || mock.lookup(&asked).is_some() {
        return asked;
    }
    let joint = if query.is_empty() { '?' } else { '&' };
    request("GET", &format!("{target}{joint}pageSize={FIRST_PAGE}"), repr, Some(token))
}

/// The links a client may GET in a body, as request targets on the lint's origin, each with
/// what names it; of a list's items the first few (the rest have the same shapes).
fn navigable(body: &str, repr: Repr, origin: &str) -> Vec<(String, String)> {
    em::links::gettable(body, repr, Some(em::links::SAMPLED_ITEMS))
        .into_iter()
        .filter_map(|f| {
            let target = f.href.strip_prefix(origin)?.to_owned();
            let what = match (f.rel, f.kind.filter(|k| !k.is_empty())) {
                (Some(r), Some(k)) => format!("link Rel={r} Type={k}"),
                (Some(r), None) => format!("link Rel={r}"),
                (None, Some(k)) => format!("reference {k}"),
                (None, None) => "reference".to_owned(),
            };
            Some((target, what))
        })
        .collect()
}

/// Where a cassette names the link `target`, or else the page that named it (a link only a
/// derived body holds), and so on up to a page a cassette names.
fn locate_link(
    files: &[String],
    target: &str,
    named_by: &std::collections::HashMap<String, String>,
) -> Option<(String, usize)> {
    let mut target = target;
    for _ in 0..=named_by.len() {
        if let Some(place) = locate(files, target.split('?').next().unwrap_or(target)) {
            return Some(place);
        }
        target = named_by.get(target)?;
    }
    None
}

/// The first place a cassette names `path` (any case) as a whole path: `/api/backups` is not
/// named by `/api/backupServers`, nor `/api/vmRestorePoints` by one of its members. The files
/// are read again only here, when there is a finding to locate.
fn locate(files: &[String], path: &str) -> Option<(String, usize)> {
    let path = path.to_ascii_lowercase();
    let within_path = |c: u8| c.is_ascii_alphanumeric() || b"-_./%".contains(&c);
    for name in files {
        let text = std::fs::read_to_string(name).unwrap_or_default();
        let lower = text.to_ascii_lowercase();
        let whole = lower
            .match_indices(&path)
            .find(|(at, _)| lower.as_bytes().get(at + path.len()).is_none_or(|c| !within_path(*c)));
        if let Some((at, _)) = whole {
            return Some((name.clone(), text[..at].matches('\n').count() + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The secrets of a body as its tree shows them (what lint read before it streamed).
    fn tree_secrets(e: &crate::xml::Element, out: &mut Vec<String>) {
        for a in &e.attributes {
            if secret_name(&a.name) && !redacted(&a.value) {
                out.push(format!("attribute {}/@{}", e.name, a.name));
            }
        }
        if secret_name(&e.name) && e.elements().next().is_none() && !redacted(&e.text()) {
            out.push(format!("element <{}>", e.name));
        }
        e.elements().for_each(|c| tree_secrets(c, out));
    }

    fn streamed(text: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        xml_secrets(text, secret_name, &mut |s| out.push(s)).then_some(out)
    }

    /// A small document of secret-named and other elements and attributes, with text written
    /// in pieces (comments, CDATA, entities) and values redacted or not.
    fn document() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let name = prop::sample::select(vec!["Password", "x:ApiKey", "Name", "Link", "client_secret", "Data"]);
        let value =
            prop::sample::select(vec!["", "{{redacted}}", "hunter2", " {{token:1}} ", "a&amp;b", "Basic {{redacted}}"]);
        let text = prop::sample::select(vec![
            "",
            "hunter2",
            "{{redacted}}",
            "  ",
            "<!-- c -->",
            "<![CDATA[s3cret]]>",
            "{{red<!-- -->acted}}",
            "&lt;x&gt;",
        ]);
        // Attributes of an element have names of their own.
        let names = vec!["Password", "x:ApiKey", "Name", "client_secret", "Href"];
        let attributes = (prop::sample::subsequence(names, 0..3), prop::collection::vec(value, 3))
            .prop_map(|(n, v)| n.iter().zip(v).map(|(n, v)| format!(" {n}=\"{v}\"")).collect::<String>());
        let leaf =
            (name.clone(), attributes.clone(), prop::collection::vec(text.clone(), 0..3)).prop_map(|(n, a, t)| {
                if t.is_empty() { format!("<{n}{a}/>") } else { format!("<{n}{a}>{}</{n}>", t.concat()) }
            });
        // Text between elements too: an element that holds elements is no secret's value.
        leaf.prop_recursive(3, 24, 4, move |inner| {
            let child = prop_oneof![3 => inner, 1 => text.clone().prop_map(str::to_owned)];
            (name.clone(), attributes.clone(), prop::collection::vec(child, 0..4))
                .prop_map(|(n, a, c)| format!("<{n}{a}>{}</{n}>", c.concat()))
        })
        .prop_map(|body| format!("<Root xmlns:x=\"urn:x\">{body}</Root>"))
    }

    proptest::proptest! {
        /// Read as it streams past, a body reports the secrets its tree holds, in its order.
        #[test]
        fn a_streamed_body_reports_the_secrets_its_tree_holds(text in document()) {
            let root = crate::xml::parse(&text).unwrap();
            let mut want = Vec::new();
            tree_secrets(&root, &mut want);
            proptest::prop_assert_eq!(streamed(&text), Some(want));
        }
    }

    #[test]
    fn a_body_that_does_not_read_reports_no_secret_and_is_left_to_the_parser() {
        for broken in ["<Root><Password>hunter2</Password>", "<Root><Password>x</Root>", "<a/><b/>", "<y:P/>"] {
            assert_eq!(streamed(broken), None, "{broken}");
            assert!(crate::xml::parse(broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn placeholders_are_not_secrets() {
        assert!(redacted("Basic {{redacted}}"));
        assert!(redacted("{{token:1}}"));
        assert!(!redacted("Basic dXNlcjpwYXNz"));
        assert!(!redacted("hunter2"));
    }

    #[test]
    fn a_pack_keeps_what_lint_found_in_its_bodies_and_lint_reads_it_there() {
        use std::io::Write as _;
        let yaml = "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /api/a\n  \
                    response:\n    status: 200\n    headers:\n      - Content-Type: application/xml\n    body: |\n      \
                    <A><Password>hunter2</Password></A>\n- seq: 2\n  request:\n    method: GET\n    uri: /api/b\n  \
                    response:\n    status: 200\n    headers:\n      - Content-Type: application/xml\n    body: |\n      \
                    <B><C></B>\n- seq: 3\n  request:\n    method: GET\n    uri: /api/c\n  response:\n    status: 200\n    \
                    headers:\n      - Content-Type: application/xml\n    body: |\n      <C/>\n";
        let dir = crate::Scratch::new("lint-pack");
        let out = dir.join("c.emtape");
        let loaded = crate::cassette::Cassette::parse("c.yaml", yaml).unwrap();
        let said = |findings: Vec<Finding>| {
            let mut said: Vec<String> = findings
                .into_iter()
                .filter(|f| f.kind == "secret" || f.kind == "unparsable-body")
                .map(|f| format!("{} {} {}", f.kind, f.line, f.message))
                .collect();
            said.sort();
            said
        };
        // Read from the bodies (a pack that does not keep them), and as kept.
        let unkept = dir.join("unkept.emtape");
        crate::cassette::pack::write(&loaded, &unkept, |_| Vec::new(), None).unwrap();
        let unkept = crate::cassette::Cassette::load_placed(&unkept).unwrap();
        assert!(unkept.pack.as_ref().is_some_and(|p| p.checked().is_none()));
        let from_bodies = said(lint(vec![unkept]));
        // A catalog is written after the bodies are checked (what is written after them is no
        // longer the pack as loaded).
        let catalog = |_: &LoadedCassette| b"not a catalog".to_vec();
        crate::cassette::pack::write(&loaded, &out, catalog, Some(checked_when_packed)).unwrap();
        let pack = crate::cassette::Cassette::load_placed(&out).unwrap();
        let checked = pack.pack.as_ref().and_then(|p| p.checked()).expect("the pack says what lint found");
        let at: Vec<usize> = checked.iter().map(|(i, _)| *i).collect();
        assert_eq!(at, [0, 1], "the secret, and the body that does not parse; nothing for the third");
        assert_eq!(from_bodies.len(), 2, "{from_bodies:?}");
        assert_eq!(said(lint(vec![pack])), from_bodies);
        // A pack written over since it was loaded is not taken at its word: its bodies are read,
        // and each says it cannot be.
        let pack = crate::cassette::Cassette::load_placed(&out).unwrap();
        std::fs::OpenOptions::new().append(true).open(&out).unwrap().write_all(b"\n").unwrap();
        let unread = lint(vec![pack]).into_iter().filter(|f| f.message.contains("written over")).count();
        assert_eq!(unread, 3, "one for each body");
    }

    #[test]
    fn the_walk_asks_a_query_the_model_answers_for_its_first_page_and_a_recorded_one_as_recorded() {
        let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cassettes/reference");
        let estate = crate::cassette::Cassette::load(&reference.join("estate.yaml")).unwrap();
        let restore = crate::cassette::Cassette::load(&reference.join("vm-restore.yaml")).unwrap();
        let yaml = "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    \
                    uri: /api/query?type=Job\n  response:\n    status: 200\n    headers:\n      - \
                    Content-Type: application/xml\n    body: |\n      <QueryResult/>\n";
        let recorded = crate::cassette::Cassette::parse("query.yaml", yaml).unwrap();
        let mock = Mock::new(vec![estate, restore, recorded], MockOptions::default());
        let logon = mock.respond(&request("POST", "/api/sessionMngr/?v=latest", Repr::Xml, None));
        let token = logon.headers.get(em::SESSION_HEADER).expect("the estate logs on").to_owned();
        let asked = |target: &str| walked(&mock, target, Repr::Xml, &token).target;
        assert_eq!(
            asked("/api/query?type=VmRestorePoint"),
            format!("/api/query?type=VmRestorePoint&pageSize={FIRST_PAGE}")
        );
        assert_eq!(
            asked("/api/query?type=VmRestorePoint&pageSize=5&page=2"),
            "/api/query?type=VmRestorePoint&pageSize=5&page=2"
        );
        assert_eq!(asked("/api/query?type=VmRestorePoint&page=2"), "/api/query?type=VmRestorePoint&page=2");
        assert_eq!(asked("/api/query?type=Job"), "/api/query?type=Job", "recorded as it is asked");
        assert_eq!(asked("/api/vmRestorePoints"), "/api/vmRestorePoints", "not the query service");
    }

    #[test]
    fn the_answer_shown_for_a_shape_made_from_no_recording_is_its_least_whatever_the_order_asked() {
        let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cassettes/reference");
        let restore = crate::cassette::Cassette::load(&reference.join("vm-restore.yaml")).unwrap();
        let shown = |order: [&str; 2]| {
            let mock = Mock::new(vec![restore.clone()], MockOptions::default());
            let logon = mock.respond(&request("POST", "/api/sessionMngr/?v=latest", Repr::Xml, None));
            let token = logon.headers.get(em::SESSION_HEADER).unwrap().to_owned();
            for id in order {
                let target = format!("/api/backupServers/{id}?format=Entity");
                assert_eq!(mock.respond(&request("GET", &target, Repr::Xml, Some(&token))).status, 200);
            }
            let unrecorded = mock.unrecorded();
            assert_eq!((unrecorded.len(), unrecorded[0].count), (1, 2), "one shape, asked twice");
            unrecorded[0].request.clone()
        };
        let ids = ["00fd67d9-2b4c-4c56-8a95-0b3dbec7ae43", "e42211aa-321d-4f91-9c13-2342cf9557eb"];
        let least = format!("GET /api/backupServers/{}?format=Entity (XML)", ids[0]);
        assert_eq!(shown([ids[1], ids[0]]), least);
        assert_eq!(shown(ids), least);
    }
}
