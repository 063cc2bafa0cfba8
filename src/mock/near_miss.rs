//! Explaining a request the mock cannot answer: the closest recorded request and exactly
//! which parts differ (method, path, query, header, body).

use super::{Key, Mock};
use crate::http::Request;

struct Candidate<'a> {
    score: f32,
    entry: &'a super::index::Entry,
    differences: Vec<String>,
}

/// The explanation served in the 404 body and printed on stderr.
pub(crate) fn explain(mock: &Mock, req: &Request, key: &Key<'_>, live: Option<(&str, &str)>) -> String {
    let head = format!(
        "no recorded exchange matches {} {} ({})",
        req.method,
        crate::em::session::loggable(&req.target),
        key.repr.name()
    );
    let best = mock.index.entries.iter().map(|e| compare(e, req, key, live)).min_by(|a, b| a.score.total_cmp(&b.score));
    let Some(best) = best else {
        return format!("{head}; the cassettes hold no exchanges");
    };
    let mut out = format!("{head}\nclosest: {} {} ({})", best.entry.method, best.entry.uri, mock.place(best.entry));
    for d in &best.differences {
        out.push_str("\ndiffers in ");
        out.push_str(d);
    }
    out
}

fn compare<'a>(e: &'a super::index::Entry, req: &Request, key: &Key<'_>, live: Option<(&str, &str)>) -> Candidate<'a> {
    let mut differences = Vec::new();
    let mut score = 0.0;
    if e.method != key.method {
        differences.push(format!("method: recorded {}, got {}", e.method, key.method));
        score += 2.0;
    }
    if !e.path_matches(&key.path, live) {
        let recorded = e.uri.split('?').next().unwrap_or(&e.uri);
        let similarity = similar::TextDiff::from_chars(&e.path, &key.path).ratio();
        score += 3.0 + 3.0 * (1.0 - similarity);
        differences.push(format!("path: recorded {recorded}, got {}", req.path()));
    }
    if e.query != key.query {
        score += 1.5;
        differences.push(format!("query: {}", query_difference(&e.query, &key.query)));
    }
    if !e.accepts_version(key.version.as_deref()) {
        score += 1.5;
        let accepted = e.logon.as_ref().map(|l| l.versions.join(", ")).unwrap_or_default();
        differences.push(format!(
            "query: logon asks for v={}, recorded server accepts {accepted} (or latest)",
            key.version.as_deref().unwrap_or("")
        ));
    }
    if let Some(r) = e.repr.filter(|r| *r != key.repr) {
        score += 1.0;
        differences.push(format!(
            "header Accept: recorded response is {}, the request asks for {}",
            r.name(),
            key.repr.name()
        ));
    }
    if let Err(d) = e.body.check(key.body) {
        score += 1.0;
        differences.push(format!("body: {d}"));
    }
    Candidate { score, entry: e, differences }
}

fn query_difference(recorded: &[(String, String)], got: &[(String, String)]) -> String {
    let mut parts = Vec::new();
    for (k, v) in recorded {
        match got.iter().find(|(gk, _)| gk == k) {
            None => parts.push(format!("missing {k}={v}")),
            Some((_, gv)) if gv != v => parts.push(format!("{k}: recorded {v}, got {gv}")),
            _ => {}
        }
    }
    for (k, v) in got {
        if !recorded.iter().any(|(rk, _)| rk == k) {
            parts.push(format!("unexpected {k}={v}"));
        }
    }
    parts.join("; ")
}
