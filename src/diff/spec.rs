//! Drift against OpenAPI documents: a recording against the document it should meet (every body
//! checked, every operation looked up), and one document against another (oasdiff's question:
//! operations gone or new, the fields an operation's answers and requests hold, enum values),
//! graded with the same severities as recordings' drift.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{DiffReport, Drift, DriftKind, ExchangeDiff, exchange_key, renamed_paths, report, simple};
use crate::cassette::LoadedCassette;
use crate::openapi::Spec;

/// A recording against a document: each exchange's JSON bodies checked against its operation;
/// an exchange the document has no operation for is one it no longer (or never) defined.
pub fn recording(spec: &Spec, c: &LoadedCassette) -> DiffReport {
    let mut out: Vec<ExchangeDiff> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut compared = 0;
    for (i, e) in c.cassette.exchanges.iter().enumerate() {
        let key = exchange_key(&c.cassette, i);
        let path = e.request.uri.split('?').next().unwrap_or(&e.request.uri);
        let place = format!("{}:{}, exchange {}", c.name, c.lines.get(i).copied().unwrap_or(0), e.seq);
        let Some(template) = spec.template_of(&e.request.method, path) else {
            if seen.insert(key.clone()) {
                let gone = simple(DriftKind::OperationRemoved, &key, Some(key.clone()), None);
                out.push(ExchangeDiff {
                    key,
                    old: Some(place),
                    new: Some(spec.file.clone()),
                    drifts: vec![gone],
                    bodies: None,
                });
            }
            continue;
        };
        compared += 1;
        let mut drifts = Vec::new();
        let method = &e.request.method;
        let sent = e.request.body.as_text().unwrap_or_default().as_bytes();
        for v in spec.check_request(method, path, sent).map(|c| c.violations).unwrap_or_default() {
            drifts.push(violation(&format!("request {}", v.pointer), &v));
        }
        let read = c.cassette.response_body(i).read();
        if let Err(e) = &read {
            drifts.push(simple(DriftKind::SpecViolation, "(the body)", None, Some(format!("cannot be read: {e}"))));
        }
        let answer = read.as_ref().ok().and_then(|b| b.as_text()).unwrap_or_default().as_bytes();
        for v in spec.check_response(method, path, e.response.status, answer).map(|c| c.violations).unwrap_or_default()
        {
            drifts.push(violation(&v.pointer, &v));
        }
        // One report per kind of exchange: the same violations of the next poll are no news.
        let shown = format!("{key} -> {} ({} {template})", e.response.status, e.request.method);
        if !drifts.is_empty() && seen.insert(format!("{shown}{drifts:?}")) {
            out.push(ExchangeDiff { key: shown, old: Some(place), new: Some(spec.file.clone()), drifts, bodies: None });
        }
    }
    report(c.name.clone(), spec.file.clone(), out, compared)
}

fn violation(path: &str, v: &crate::openapi::Violation) -> Drift {
    let mut d = simple(
        DriftKind::SpecViolation,
        if path.is_empty() { "(the body)" } else { path },
        None,
        Some(v.message.clone()),
    );
    d.old = (!v.schema.is_empty()).then(|| v.schema.clone());
    d
}

/// One document against the next: operations removed and added; for those both define, the
/// fields of their successful answers and of their request bodies, and enum values.
pub fn documents(old: &Spec, new: &Spec) -> DiffReport {
    let ops = |s: &Spec| -> BTreeSet<(String, String)> {
        s.operations().map(|(m, t)| (m.to_owned(), t.to_owned())).collect()
    };
    let (oo, no) = (ops(old), ops(new));
    let mut out = Vec::new();
    let name = |(m, t): &(String, String)| format!("{m} {t}");
    // An operation moved in one segment (1.2's objectRestorePoints -> restorePoints) is the same.
    let gone: Vec<String> = oo.difference(&no).map(name).collect();
    let came: Vec<String> = no.difference(&oo).map(name).collect();
    // Of the operations one segment apart, the one that keeps the most of the old one's fields
    // (at least half), then whose moved segment ends most alike.
    let fields_of = |s: &Spec, key: &str| -> BTreeSet<String> {
        let Some((m, t)) = key.split_once(' ') else { return BTreeSet::new() };
        let (answers, requests) = operation_fields(s, m, t);
        answers.into_keys().chain(requests.into_keys().map(|k| format!("/request{k}"))).collect()
    };
    let alike = |o: &str, n: &str| -> f64 {
        let (a, b) = (fields_of(old, o), fields_of(new, n));
        let kept = if a.is_empty() { 1.0 } else { a.intersection(&b).count() as f64 / a.len() as f64 };
        let suffix = o.bytes().rev().zip(n.bytes().rev()).take_while(|(x, y)| x.eq_ignore_ascii_case(y)).count();
        if kept >= 0.5 { kept + 0.001 * suffix as f64 } else { 0.0 }
    };
    let moved = renamed_paths(gone.iter().collect(), came.iter().collect(), alike);
    let split = |k: &str| k.split_once(' ').map(|(m, t)| (m.to_owned(), t.to_owned())).unwrap_or_default();
    let moved_to: BTreeSet<&String> = moved.values().copied().collect();
    for key in gone.iter().filter(|k| !moved.contains_key(k)) {
        let drift = simple(DriftKind::OperationRemoved, key, Some(key.clone()), None);
        out.push(ExchangeDiff { key: key.clone(), old: None, new: None, drifts: vec![drift], bodies: None });
    }
    for key in came.iter().filter(|k| !moved_to.contains(k)) {
        let drift = simple(DriftKind::OperationAdded, key, None, Some(key.clone()));
        out.push(ExchangeDiff { key: key.clone(), old: None, new: None, drifts: vec![drift], bodies: None });
    }
    let mut pairs: Vec<((String, String), (String, String))> =
        oo.intersection(&no).map(|o| (o.clone(), o.clone())).collect();
    pairs.extend(moved.iter().map(|(o, n)| (split(o), split(n))));
    let mut compared = 0;
    for (o, n) in pairs {
        compared += 1;
        let mut drifts = Vec::new();
        if o != n {
            drifts.push(simple(DriftKind::PathRenamed, &name(&o), Some(o.1.clone()), Some(n.1.clone())));
        }
        let ((old_answers, old_requests), (new_answers, new_requests)) =
            (operation_fields(old, &o.0, &o.1), operation_fields(new, &n.0, &n.1));
        compare(&old_answers, &new_answers, false, &mut drifts);
        compare(&old_requests, &new_requests, true, &mut drifts);
        if !drifts.is_empty() {
            out.push(ExchangeDiff { key: name(&o), old: None, new: None, drifts, bodies: None });
        }
    }
    report(old.file.clone(), new.file.clone(), out, compared)
}

/// Field paths (with their enum values) of an operation: of its successful answers, and of
/// its request body.
type Fields = BTreeMap<String, Option<Vec<String>>>;

fn operation_fields(s: &Spec, method: &str, template: &str) -> (Fields, Fields) {
    let (mut answers, mut requests) = (BTreeMap::new(), BTreeMap::new());
    for (_, schema) in s.success_schemas(method, template) {
        collect(s.document(), schema, "", &mut answers, &mut Vec::new());
    }
    if let Some(schema) = s.request_schema(method, template) {
        collect(s.document(), schema, "", &mut requests, &mut Vec::new());
    }
    (answers, requests)
}

fn compare(
    old: &BTreeMap<String, Option<Vec<String>>>,
    new: &BTreeMap<String, Option<Vec<String>>>,
    request: bool,
    out: &mut Vec<Drift>,
) {
    let (removed, added) = if request {
        (DriftKind::RequestFieldRemoved, DriftKind::RequestFieldAdded)
    } else {
        (DriftKind::AttributeRemoved, DriftKind::AttributeAdded)
    };
    let at = |p: &str| if request { format!("request {p}") } else { p.to_owned() };
    for (path, values) in old {
        match new.get(path) {
            None => out.push(simple(removed, &at(path), Some(path.clone()), None)),
            Some(now) => {
                let (Some(was), Some(now)) = (values, now) else { continue };
                let gone: Vec<&String> = was.iter().filter(|v| !now.contains(v)).collect();
                let came: Vec<&String> = now.iter().filter(|v| !was.contains(v)).collect();
                // Long enums (a session's 80 types) are shown by their first values.
                let list = |v: &[&String]| {
                    let shown: Vec<&str> = v.iter().take(8).map(|s| s.as_str()).collect();
                    let more = v.len().saturating_sub(8);
                    if more > 0 { format!("{} and {more} more", shown.join(", ")) } else { shown.join(", ") }
                };
                if !gone.is_empty() {
                    out.push(simple(DriftKind::EnumValueChanged, &at(path), Some(list(&gone)), Some(list(&came))));
                } else if !came.is_empty() {
                    out.push(simple(DriftKind::EnumValueAdded, &at(path), None, Some(list(&came))));
                }
            }
        }
    }
    for path in new.keys().filter(|p| !old.contains_key(*p)) {
        out.push(simple(added, &at(path), None, Some(path.clone())));
    }
}

/// The field paths a schema describes (`/data/*/platformName`), each with its enum values, as
/// deep as 8 levels, a `$ref` never followed into itself.
fn collect(
    doc: &Value,
    schema: &Value,
    at: &str,
    out: &mut BTreeMap<String, Option<Vec<String>>>,
    chain: &mut Vec<String>,
) {
    if chain.len() > 24 || at.matches('/').count() > 8 {
        return;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if chain.iter().any(|c| c == r) {
            return;
        }
        if let Some(target) = r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
            chain.push(r.to_owned());
            collect(doc, target, at, out, chain);
            chain.pop();
        }
        return;
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !at.is_empty() {
            let names = values.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect();
            out.insert(at.to_owned(), Some(names));
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for part in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
            collect(doc, part, at, out, chain);
        }
    }
    if let Some(items) = schema.get("items") {
        collect(doc, items, &format!("{at}/*"), out, chain);
    }
    for (name, field) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
        let here = format!("{at}/{name}");
        out.entry(here.clone()).or_insert(None);
        collect(doc, field, &here, out, chain);
    }
}
