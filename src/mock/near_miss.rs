//! Explaining a request the mock cannot answer: the closest recorded request and exactly
//! which parts differ (method, path, query, header, body).

use super::{Key, Mock};
use crate::http::Request;

/// How many recorded requests are compared in full, the path letter by letter, with one the
/// mock cannot answer: those the quick comparison finds closest (a large estate records
/// 600,000, and comparing every path takes seconds per request).
const COMPARED: usize = 2_000;

/// The explanation served in the 404 body and printed on stderr.
pub(crate) fn explain(mock: &Mock, req: &Request, key: &Key<'_>, live: Option<(&str, &str)>) -> String {
    let head = format!(
        "no recorded exchange matches {} {} ({})",
        req.method,
        crate::em::session::loggable(&req.target),
        key.repr.name()
    );
    let entries = &mock.index.entries;
    // Quickly first, paths alike by how they begin and end.
    let roughly = |e| score(e, key, live, Alike::Quickly);
    let mut quick: Vec<(f32, usize)> = entries.iter().enumerate().map(|(i, e)| (roughly(e), i)).collect();
    if quick.len() > COMPARED {
        quick.select_nth_unstable_by(COMPARED, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        quick.truncate(COMPARED);
    }
    // The first of the closest, in recorded order.
    let best = quick
        .into_iter()
        .map(|(_, i)| (score(&entries[i], key, live, Alike::Letters), i))
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let Some((_, best)) = best else {
        return format!("{head}; the cassettes hold no exchanges");
    };
    let best = &entries[best];
    let mut out = format!("{head}\nclosest: {} {} ({})", best.method, best.uri, mock.place(best));
    for d in differences(best, req, key, live) {
        out.push_str("\ndiffers in ");
        out.push_str(&d);
    }
    out
}

/// How alike two paths are, from 0 to 1.
#[derive(Clone, Copy)]
enum Alike {
    /// The share of their letters in a diff of the two.
    Letters,
    /// The share of the longer one they begin and end with alike.
    Quickly,
}

impl Alike {
    fn ratio(self, a: &str, b: &str) -> f32 {
        match self {
            Alike::Letters => similar::TextDiff::from_chars(a, b).ratio(),
            Alike::Quickly => {
                let same = |x: &mut dyn Iterator<Item = (u8, u8)>| x.take_while(|(x, y)| x == y).count();
                let begin = same(&mut a.bytes().zip(b.bytes()));
                let end = same(&mut a.bytes().rev().zip(b.bytes().rev()));
                let longer = a.len().max(b.len()).max(1);
                (begin + end).min(longer) as f32 / longer as f32
            }
        }
    }
}

/// How far `e` is from the request: the more it differs, the higher.
fn score(e: &super::index::Entry, key: &Key<'_>, live: Option<(&str, &str)>, alike: Alike) -> f32 {
    let mut score = 0.0;
    let path = |e: &super::index::Entry| 3.0 + 3.0 * (1.0 - alike.ratio(&e.path, &key.path));
    walk(e, key, &key.path, live, path, |weight, _| score += weight);
    score
}

/// What tells `e` from the request, each said in full.
fn differences(e: &super::index::Entry, req: &Request, key: &Key<'_>, live: Option<(&str, &str)>) -> Vec<String> {
    let mut differences = Vec::new();
    walk(e, key, req.path(), live, |_| 0.0, |_, said: &dyn Fn() -> String| differences.push(said()));
    differences
}

/// Each way `e` differs from the request (its path as `sent`), with its weight in a score
/// (`path`'s for a path that differs) and what says it in full, made only when asked.
fn walk(
    e: &super::index::Entry,
    key: &Key<'_>,
    sent: &str,
    live: Option<(&str, &str)>,
    path: impl Fn(&super::index::Entry) -> f32,
    mut differs: impl FnMut(f32, &dyn Fn() -> String),
) {
    if e.method != key.method {
        differs(2.0, &|| format!("method: recorded {}, got {}", e.method, key.method));
    }
    if !e.path_matches(&key.path, live) {
        let recorded = e.uri.split('?').next().unwrap_or(&e.uri);
        differs(path(e), &|| format!("path: recorded {recorded}, got {sent}"));
    }
    if e.query != key.query {
        differs(1.5, &|| format!("query: {}", query_difference(&e.query, &key.query)));
    }
    if !e.accepts_version(key.version.as_deref()) {
        let accepted = || e.logon.as_ref().map(|l| l.versions.join(", ")).unwrap_or_default();
        differs(1.5, &|| {
            format!(
                "query: logon asks for v={}, recorded server accepts {} (or latest)",
                key.version.as_deref().unwrap_or(""),
                accepted()
            )
        });
    }
    if let Some(r) = e.repr.filter(|r| *r != key.repr) {
        differs(1.0, &|| {
            format!("header Accept: recorded response is {}, the request asks for {}", r.name(), key.repr.name())
        });
    }
    if let Err(d) = e.body.check(key.body) {
        differs(1.0, &|| format!("body: {d}"));
    }
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
