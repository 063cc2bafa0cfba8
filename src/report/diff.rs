//! Reports of a diff: terminal text grouped by exchange with a coloured snippet of each changed
//! region, Markdown for a pull request, JSON, and JUnit for CI.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::diff::{DiffReport, Drift, DriftKind, Severity};

use super::Style;
use super::junit::{Case, Suite, Verdict};

/// Drifts that are the same but for the list item they are in, shown once with their items.
pub(crate) struct Group<'a> {
    pub first: &'a Drift,
    pub items: Vec<&'a str>,
    pub count: usize,
}

pub(crate) fn plain(path: &str) -> String {
    // `/A/Ref[@UID='x']/B` and `/A/Ref[@UID='y']/B` are the same place in different items.
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Kind, place (without item keys), old and new value.
type GroupKey<'a> = (DriftKind, String, Option<&'a str>, Option<&'a str>);

pub(crate) fn groups(drifts: &[Drift]) -> Vec<Group<'_>> {
    let mut out: Vec<Group<'_>> = Vec::new();
    let mut index: std::collections::HashMap<GroupKey<'_>, usize> = Default::default();
    for d in drifts {
        let key = if d.item.is_some() {
            (d.kind, plain(&d.path), d.old.as_deref(), d.new.as_deref())
        } else {
            (d.kind, d.path.clone(), d.old.as_deref(), d.new.as_deref())
        };
        match index.get(&key) {
            Some(i) if d.item.is_some() => {
                let g = &mut out[*i];
                g.count += 1;
                g.items.extend(d.item.as_deref());
            }
            _ => {
                index.insert(key, out.len());
                out.push(Group { first: d, items: d.item.as_deref().into_iter().collect(), count: 1 });
            }
        }
    }
    out.sort_by_key(|g| g.first.severity);
    out
}

fn values(d: &Drift) -> String {
    match (&d.old, &d.new) {
        (Some(o), Some(n)) => format!("{o} -> {n}"),
        (Some(o), None) => o.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => String::new(),
    }
}

pub(crate) fn items_line(g: &Group<'_>) -> Option<String> {
    if g.count < 2 && g.items.len() < 2 {
        return None;
    }
    let shown: Vec<&str> = g.items.iter().take(3).copied().collect();
    let more = if g.count > 3 { format!(", and {} more", g.count - 3) } else { String::new() };
    Some(format!("in {} items: {}{more}", g.count, shown.join(", ")))
}

/// How many of each body's lines a drift's snippet shows, from its line on: a removed or added
/// thing is its first line; a change shows a little context.
fn shown(d: &Drift) -> usize {
    if d.old_line.is_some() && d.new_line.is_some() { 3 } else { 1 }
}

/// The lines the snippets of an exchange's first `most` shown drifts need, old and new.
fn lines_shown(groups: &[Group<'_>], most: usize) -> [BTreeSet<usize>; 2] {
    let mut wanted = [BTreeSet::new(), BTreeSet::new()];
    let snipped = groups.iter().map(|g| g.first).filter(|d| d.severity != Severity::Cosmetic);
    for d in snipped.filter(|d| d.old_line.is_some() || d.new_line.is_some()).take(most) {
        for (lines, line) in wanted.iter_mut().zip([d.old_line, d.new_line]) {
            lines.extend(line.map(|l| l..l + shown(d)).into_iter().flatten());
        }
    }
    wanted
}

/// The lines around a drift, old and new (those [`lines_shown`] asked for), as a small
/// coloured diff.
fn snippet(bodies: Option<&[BTreeMap<usize, String>; 2]>, d: &Drift, style: Style) -> Option<String> {
    let [old, new] = bodies?;
    let n = shown(d);
    let take = |text: &BTreeMap<usize, String>, line: Option<usize>| {
        line.map(|l| (l..l + n).map_while(|i| text.get(&i)).map(|x| format!("{x}\n")).collect::<String>())
            .unwrap_or_default()
    };
    let (a, b) = (take(old, d.old_line), take(new, d.new_line));
    if a.is_empty() && b.is_empty() {
        return None;
    }
    let diff = similar::TextDiff::from_lines(&a, &b);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let line = change.to_string_lossy();
        let line = line.trim_end();
        let line: String = line.chars().take(140).collect();
        let _ = match change.tag() {
            similar::ChangeTag::Delete => writeln!(out, "      {}", style.paint("31", &format!("- {line}"))),
            similar::ChangeTag::Insert => writeln!(out, "      {}", style.paint("32", &format!("+ {line}"))),
            similar::ChangeTag::Equal => writeln!(out, "      {}", style.paint("2", &format!("  {line}"))),
        };
    }
    Some(out)
}

fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Breaking => "31;1",
        Severity::Additive => "32",
        Severity::Cosmetic => "2",
        Severity::Coverage => "33",
    }
}

fn counts(r: &DiffReport) -> String {
    let coverage = match r.summary.coverage {
        0 => String::new(),
        1 => " (1 exchange only one recording holds)".to_owned(),
        n => format!(" ({n} exchanges only one recording holds)"),
    };
    format!(
        "{} breaking, {} additive, {} cosmetic{coverage}",
        r.summary.breaking, r.summary.additive, r.summary.cosmetic
    )
}

/// The terminal report.
pub fn text(r: &DiffReport, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {} -> {}", style.paint("1", "emtape diff"), r.old, r.new);
    let _ = writeln!(out, "{} exchanges compared: {}\n", r.summary.exchanges, counts(r));
    for e in r.exchanges.iter().filter(|e| !e.drifts.is_empty()) {
        let _ = writeln!(out, "{}", style.paint("1", &e.key));
        const SNIPPETS: usize = 4;
        let mut snippets = 0;
        let groups = groups(&e.drifts);
        // Read once for the exchange's snippets, only if one is shown, and only as far as the
        // last line one shows.
        let mut bodies = None;
        for g in &groups {
            let d = g.first;
            let kind = if d.kind.is_link() { "link" } else { "schema" };
            let id = d.kind.id();
            let place = if d.severity == Severity::Coverage {
                format!("({id}: not compared, the other recording has no such exchange)")
            } else {
                format!("({kind}, {id}) {}", if g.count > 1 { plain(&d.path) } else { d.path.clone() })
            };
            let _ = writeln!(
                out,
                "  {} {:<26} {}  {}",
                style.paint(severity_colour(d.severity), &format!("{:<9}", d.severity.name())),
                d.kind.describe(),
                values(d),
                style.paint("2", &place),
            );
            if let Some(items) = items_line(g) {
                let _ = writeln!(out, "      {}", style.paint("2", &items));
            }
            if snippets < SNIPPETS && d.severity != Severity::Cosmetic {
                let texts = bodies.get_or_insert_with(|| {
                    let [old, new] = lines_shown(&groups, SNIPPETS);
                    e.bodies.as_ref().and_then(|b| b.lines(&old, &new))
                });
                if let Some(s) = snippet(texts.as_ref(), d, style) {
                    out.push_str(&s);
                    snippets += 1;
                }
            }
        }
        out.push('\n');
    }
    if r.exchanges.iter().all(|e| e.drifts.is_empty()) {
        out.push_str("no drift\n");
    }
    out
}

/// Markdown, for a pull request comment.
pub fn markdown(r: &DiffReport) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!(
        "## emtape diff: `{}` → `{}`\n\n**{}** in {} exchanges.\n",
        r.old,
        r.new,
        counts(r),
        r.summary.exchanges
    );
    for e in r.exchanges.iter().filter(|e| !e.drifts.is_empty()) {
        let _ = write!(out, "\n### `{}`\n\n| severity | drift | where | old | new |\n|---|---|---|---|---|\n", e.key);
        for g in groups(&e.drifts) {
            let d = g.first;
            let place =
                if g.count > 1 { format!("`{}` ({} items)", plain(&d.path), g.count) } else { format!("`{}`", d.path) };
            let _ = writeln!(
                out,
                "| {} | {} (`{}`) | {} | {} | {} |",
                d.severity.name(),
                d.kind.describe(),
                d.kind.id(),
                cell(&place),
                d.old.as_deref().map(|o| format!("`{}`", cell(o))).unwrap_or_default(),
                d.new.as_deref().map(|n| format!("`{}`", cell(n))).unwrap_or_default()
            );
        }
    }
    if r.exchanges.iter().all(|e| e.drifts.is_empty()) {
        out.push_str("\nNo drift.\n");
    }
    out
}

/// JSON, every drift listed.
pub fn json(r: &DiffReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default() + "\n"
}

/// JUnit XML: one test case per exchange, failing when it drifts at or beyond `threshold`
/// (never, without one: `--fail-on never` must not turn a CI job red through its JUnit file).
pub fn junit(r: &DiffReport, threshold: Option<Severity>) -> String {
    let fails = |d: &Drift| threshold.is_some_and(|t| d.severity <= t);
    let cases = r
        .exchanges
        .iter()
        .map(|e| {
            let worst = e.drifts.iter().filter(|d| fails(d)).count();
            let verdict = if worst == 0 {
                Verdict::Passed
            } else {
                let mut text = String::new();
                for d in &e.drifts {
                    let _ = writeln!(
                        text,
                        "{} {} [{}]: {} {}",
                        d.severity.name(),
                        d.kind.describe(),
                        d.kind.id(),
                        d.path,
                        values(d)
                    );
                }
                let at = threshold.map_or("", Severity::name);
                let message = format!("{} drifts ({worst} at or beyond {at})", e.drifts.len());
                Verdict::Failed { kind: "drift", message, text }
            };
            Case { classname: "emtape.diff".into(), name: e.key.clone(), millis: None, verdict }
        })
        .collect();
    super::junit::write(&Suite {
        tool: "emtape diff".into(),
        name: format!("{} -> {}", r.old, r.new),
        file: None,
        properties: Vec::new(),
        cases,
        millis: None,
    })
}
