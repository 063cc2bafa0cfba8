//! One self-contained HTML file per report (a run, a client check, a diff, a release matrix),
//! fed by the same result types as the text reports. Askama templates (`src/report/html/`)
//! escape every value; the page loads nothing: its style and script are inline and allowed by
//! their hashes in a Content-Security-Policy that forbids everything else.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;

use askama::Template;

use crate::clientcheck::result::{ClientReport, Ending};
use crate::diff::{DiffReport, ExchangeDiff, Severity};
use crate::matrix::{self, Matrix};
use crate::runner::result::{Outcome, Phase, RunReport, StepResult};

const STYLE: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");

/// What every page has: its title, and the inline style and script with the policy that
/// allows exactly them.
pub struct Page {
    title: String,
    csp: String,
    style: &'static str,
    script: &'static str,
    version: &'static str,
}

fn sha256(text: &str) -> String {
    crate::codec::base64_encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
}

impl Page {
    fn new(title: String) -> Page {
        let csp = format!(
            "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src data:; base-uri 'none'; form-action 'none'",
            sha256(STYLE),
            sha256(SCRIPT)
        );
        Page { title, csp, style: STYLE, script: SCRIPT, version: env!("CARGO_PKG_VERSION") }
    }
}

fn verdict(passed: bool) -> (&'static str, &'static str) {
    if passed { ("PASSED", "pass") } else { ("FAILED", "fail") }
}

fn millis(ms: f64) -> String {
    if ms >= 1000.0 { format!("{:.2} s", ms / 1000.0) } else { format!("{ms:.1} ms") }
}

/// A body as it is easiest to read: JSON re-indented, XML as it came (EM indents it).
fn pretty(body: &str) -> String {
    let trimmed = body.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(trimmed) {
            return serde_json::to_string_pretty(&v).unwrap_or_else(|_| body.to_owned());
        }
    }
    body.to_owned()
}

struct FailedCheck {
    what: String,
    expected: String,
    actual: String,
    context: Option<String>,
    /// Where the scenario asks for it.
    at: Option<String>,
}

struct StepView {
    name: String,
    class: &'static str,
    badge_class: &'static str,
    outcome: &'static str,
    phase_finally: bool,
    request: String,
    status: Option<u16>,
    duration: String,
    polls: Option<String>,
    message: Option<String>,
    failures: Vec<FailedCheck>,
    bodies: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    page: Page,
    scenario: String,
    file: String,
    target: String,
    verdict: &'static str,
    verdict_class: &'static str,
    passed: usize,
    failed: usize,
    skipped: usize,
    duration: String,
    steps: Vec<StepView>,
}

/// Polling attempts collapsed: `3 times: State=Running ×2, State=Finished ×1`.
fn polls(step: &StepResult) -> Option<String> {
    if step.attempts.is_empty() {
        return None;
    }
    let mut states: Vec<(String, usize)> = Vec::new();
    for a in &step.attempts {
        let note = if a.note.is_empty() { format!("status {}", a.status) } else { a.note.clone() };
        match states.iter_mut().find(|(n, _)| *n == note) {
            Some((_, k)) => *k += 1,
            None => states.push((note, 1)),
        }
    }
    let n = step.attempts.len();
    let states: Vec<String> = states.into_iter().map(|(note, k)| format!("{note} ×{k}")).collect();
    Some(format!("{n} time{}: {}", if n == 1 { "" } else { "s" }, states.join(", ")))
}

/// The run (`emtape run --html`).
pub fn run(report: &RunReport) -> String {
    let count = |o: Outcome| report.steps.iter().filter(|s| s.outcome == o).count();
    let steps = report
        .steps
        .iter()
        .map(|s| {
            let (outcome, class, badge) = match s.outcome {
                Outcome::Passed => ("PASS", "passed", "pass"),
                Outcome::Failed => ("FAIL", "failed", "fail"),
                Outcome::Error => ("ERROR", "error", "error"),
                Outcome::Skipped => ("SKIP", "skipped", "skip"),
            };
            StepView {
                name: s.name.clone(),
                class,
                badge_class: badge,
                outcome,
                phase_finally: s.phase == Phase::Finally,
                request: match (&s.method, &s.url) {
                    (Some(m), Some(u)) => format!("{m} {u}"),
                    _ => String::new(),
                },
                status: s.status,
                duration: millis(s.duration_ms),
                polls: polls(s),
                message: s.message.clone().filter(|m| !m.is_empty()),
                failures: s
                    .failures()
                    .map(|c| FailedCheck {
                        what: c.what.clone(),
                        expected: c.expected.clone(),
                        actual: c.actual.clone(),
                        context: c.context.clone(),
                        at: c.at.clone(),
                    })
                    .collect(),
                bodies: s.bodies.as_ref().map(|(q, a)| (pretty(q), pretty(a))),
            }
        })
        .collect();
    let (verdict, verdict_class) = verdict(report.passed);
    RunPage {
        page: Page::new(format!("emtape run: {}", report.scenario)),
        scenario: report.scenario.clone(),
        file: report.file.clone(),
        target: report.target.clone(),
        verdict,
        verdict_class,
        passed: count(Outcome::Passed),
        failed: count(Outcome::Failed) + count(Outcome::Error),
        skipped: count(Outcome::Skipped),
        duration: millis(report.duration_ms),
        steps,
    }
    .render()
    .unwrap_or_else(|e| format!("the report could not be written: {e}"))
}

struct RequestView {
    at: String,
    step: String,
    request: String,
    status: String,
}

struct SessionView {
    number: usize,
    representation: String,
    passed: bool,
    class: &'static str,
    badge_class: &'static str,
    verdict: &'static str,
    ending: String,
    duration: String,
    faults: Vec<String>,
    problems: Vec<(String, String)>,
    requests: Vec<RequestView>,
}

#[derive(Template)]
#[template(path = "check.html")]
struct CheckPage {
    page: Page,
    scenario: String,
    verdict: &'static str,
    verdict_class: &'static str,
    failed: usize,
    problems: usize,
    reasons: Vec<String>,
    unattributed: Vec<String>,
    sessions: Vec<SessionView>,
}

/// A problem's kind as every report names it (`missing-step`).
fn kind_id(kind: &crate::clientcheck::result::ProblemKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A client check (`emtape serve --scenario … --html`).
pub fn check(report: &ClientReport) -> String {
    let sessions = report
        .sessions
        .iter()
        .map(|s| SessionView {
            number: s.number,
            representation: s.representation.clone(),
            passed: s.passed,
            class: if s.passed { "passed" } else { "failed" },
            badge_class: if s.passed { "pass" } else { "fail" },
            verdict: if s.passed { "PASS" } else { "FAIL" },
            ending: match s.ended {
                Some(Ending::LoggedOut) => "logged out".into(),
                Some(Ending::Idle) => "went idle without logging out".into(),
                Some(Ending::Expired) => "expired by the server".into(),
                Some(Ending::ClientExited) => "the client exited without logging out".into(),
                None => "still open".into(),
            },
            duration: millis(s.duration_ms),
            faults: s.faults.clone(),
            problems: s.problems.iter().map(|p| (kind_id(&p.kind), p.message.clone())).collect(),
            requests: s
                .requests
                .iter()
                .map(|r| RequestView {
                    at: millis(r.at_ms),
                    step: r.step.clone().unwrap_or_else(|| "(outside the flow)".into()),
                    request: r.request.clone(),
                    status: match (r.status, &r.fault) {
                        (Some(s), Some(f)) => format!("{s} ({f})"),
                        (Some(s), None) => s.to_string(),
                        (None, Some(f)) => format!("dropped ({f})"),
                        (None, None) => "dropped".into(),
                    },
                })
                .collect(),
        })
        .collect();
    let (verdict, verdict_class) = verdict(report.passed);
    CheckPage {
        page: Page::new(format!("emtape client check: {}", report.scenario)),
        scenario: report.scenario.clone(),
        verdict,
        verdict_class,
        failed: report.sessions.iter().filter(|s| !s.passed).count(),
        problems: report.sessions.iter().map(|s| s.problems.len()).sum::<usize>() + report.unattributed.len(),
        reasons: report.reasons.clone(),
        unattributed: report.unattributed.iter().map(|p| p.message.clone()).collect(),
        sessions,
    }
    .render()
    .unwrap_or_else(|e| format!("the report could not be written: {e}"))
}

struct DriftView {
    severity: &'static str,
    describe: &'static str,
    id: String,
    path: String,
    item: Option<String>,
    old: String,
    new: String,
}

/// A row of the side-by-side view, or a gap (lines with nothing to see left out).
#[derive(Default)]
struct Line {
    gap: bool,
    old_n: String,
    old: String,
    old_mark: bool,
    new_n: String,
    new: String,
    new_mark: bool,
}

struct ExchangeView {
    key: String,
    old_at: String,
    new_at: String,
    drifts: Vec<DriftView>,
    lines: Vec<Line>,
}

#[derive(Template)]
#[template(path = "diff.html")]
struct DiffPage {
    page: Page,
    old: String,
    new: String,
    verdict: &'static str,
    verdict_class: &'static str,
    exchanges_compared: usize,
    breaking: usize,
    additive: usize,
    cosmetic: usize,
    coverage: usize,
    graph: String,
    exchanges: Vec<ExchangeView>,
}

/// Lines shown around each changed or drifting line.
const CONTEXT: usize = 3;
/// Side-by-side rows shown per exchange at most (a 10,000-ref list stays readable and small).
const MOST_LINES: usize = 400;

/// The two bodies aligned line by line (a line diff), the changed lines and those a drift
/// names marked, with only a few lines of context around them.
fn side_by_side(e: &ExchangeDiff) -> Vec<Line> {
    let Some((old, new)) = e.bodies.as_ref().and_then(|b| b.read()) else { return Vec::new() };
    let (old, new) = (pretty(&old), pretty(&new));
    let named_old: HashSet<usize> = e.drifts.iter().filter_map(|d| d.old_line).collect();
    let named_new: HashSet<usize> = e.drifts.iter().filter_map(|d| d.new_line).collect();
    let diff = similar::TextDiff::configure().timeout(std::time::Duration::from_millis(200)).diff_lines(&old, &new);
    let mut rows: Vec<Line> = Vec::new();
    for op in diff.ops() {
        for change in diff.iter_changes(op) {
            let text = change.value().trim_end_matches(['\n', '\r']).to_owned();
            let (o, n) = (change.old_index().map(|i| i + 1), change.new_index().map(|i| i + 1));
            let changed = change.tag() != similar::ChangeTag::Equal;
            // An equal line pairs with itself; a deleted line opens a row an inserted one may fill.
            match (o, n) {
                (Some(o), Some(n)) => rows.push(Line {
                    old_n: o.to_string(),
                    old: text.clone(),
                    old_mark: named_old.contains(&o),
                    new_n: n.to_string(),
                    new: text,
                    new_mark: named_new.contains(&n),
                    gap: false,
                }),
                (Some(o), None) => rows.push(Line {
                    old_n: o.to_string(),
                    old: text,
                    old_mark: changed || named_old.contains(&o),
                    ..Line::default()
                }),
                (None, Some(n)) => {
                    let open = rows.iter_mut().rev().take_while(|r| r.new_n.is_empty() && !r.old_n.is_empty()).last();
                    match open {
                        Some(r) => {
                            r.new_n = n.to_string();
                            r.new = text;
                            r.new_mark = true;
                        }
                        None => rows.push(Line { new_n: n.to_string(), new: text, new_mark: true, ..Line::default() }),
                    }
                }
                (None, None) => {}
            }
        }
    }
    let marked: Vec<usize> =
        rows.iter().enumerate().filter(|(_, r)| r.old_mark || r.new_mark).map(|(i, _)| i).collect();
    let mut keep = vec![false; rows.len()];
    for i in marked {
        for k in keep.iter_mut().take((i + CONTEXT + 1).min(rows.len())).skip(i.saturating_sub(CONTEXT)) {
            *k = true;
        }
    }
    let mut out = Vec::new();
    let mut skipped = false;
    for (row, keep) in rows.into_iter().zip(keep) {
        if out.len() >= MOST_LINES {
            out.push(Line { gap: true, ..Line::default() });
            break;
        }
        if keep {
            if skipped {
                out.push(Line { gap: true, ..Line::default() });
            }
            skipped = false;
            out.push(row);
        } else {
            skipped = true;
        }
    }
    if skipped && !out.is_empty() {
        out.push(Line { gap: true, ..Line::default() });
    }
    out
}

/// Link drift as a graph: each resource type (the root of the body the link is in) on the
/// left, each linked type on the right, an edge per added (green) or removed (red) link.
fn link_graph(r: &DiffReport) -> String {
    let mut edges: BTreeMap<(String, String), BTreeSet<&'static str>> = BTreeMap::new();
    for e in &r.exchanges {
        for d in e.drifts.iter().filter(|d| d.kind.is_link()) {
            let from = d.path.trim_start_matches('/').split(['/', '[']).next().unwrap_or("").to_owned();
            let value = d.new.as_deref().or(d.old.as_deref()).unwrap_or("");
            let to = value.split_whitespace().nth(1).unwrap_or(value).to_owned();
            let how = match d.kind {
                crate::diff::DriftKind::LinkAdded => "added",
                crate::diff::DriftKind::LinkRemoved => "removed",
                _ => "changed",
            };
            edges.entry((if from.is_empty() { "(body)".into() } else { from }, to)).or_default().insert(how);
        }
    }
    if edges.is_empty() {
        return String::new();
    }
    let sources: Vec<&String> = edges.keys().map(|(f, _)| f).collect::<BTreeSet<_>>().into_iter().collect();
    let targets: Vec<&String> = edges.keys().map(|(_, t)| t).collect::<BTreeSet<_>>().into_iter().collect();
    let (row, width) = (22, 760);
    let height = 20 + row * sources.len().max(targets.len());
    let y = |i: usize| 20 + row * i;
    let esc = |s: &str| crate::xml::escape(s).into_owned();
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"100%\" role=\"img\" aria-label=\"link drift\">"
    );
    for ((from, to), how) in &edges {
        let (a, b) = (sources.iter().position(|s| *s == from), targets.iter().position(|t| *t == to));
        let (Some(a), Some(b)) = (a, b) else { continue };
        let colour = match (how.contains("added"), how.contains("removed")) {
            (true, false) => "#1a7f37",
            (false, true) => "#cf222e",
            _ => "#9a6700",
        };
        let label = how.iter().copied().collect::<Vec<_>>().join("/");
        let _ = write!(
            svg,
            "<line class=\"edge {label}\" x1=\"250\" y1=\"{}\" x2=\"500\" y2=\"{}\" stroke=\"{colour}\" stroke-width=\"2\"><title>{} → {}: {label}</title></line>",
            y(a) - 4,
            y(b) - 4,
            esc(from),
            esc(to)
        );
    }
    for (i, s) in sources.iter().enumerate() {
        let _ = write!(svg, "<text x=\"244\" y=\"{}\" text-anchor=\"end\">{}</text>", y(i), esc(s));
    }
    for (i, t) in targets.iter().enumerate() {
        let _ = write!(svg, "<text x=\"506\" y=\"{}\">{}</text>", y(i), esc(t));
    }
    svg.push_str("</svg>");
    svg
}

/// A diff (`emtape diff --html`).
pub fn diff(r: &DiffReport, failed: bool) -> String {
    let exchanges = r
        .exchanges
        .iter()
        .filter(|e| !e.drifts.is_empty())
        .map(|e| ExchangeView {
            key: e.key.clone(),
            old_at: e.old.clone().unwrap_or_else(|| "(not in the old recording)".into()),
            new_at: e.new.clone().unwrap_or_else(|| "(not in the new recording)".into()),
            // Drifts that are the same but for the list item are one row, with their items.
            drifts: super::diff::groups(&e.drifts)
                .iter()
                .map(|g| {
                    let d = g.first;
                    DriftView {
                        severity: d.severity.name(),
                        describe: d.kind.describe(),
                        id: d.kind.id(),
                        path: if g.count > 1 { super::diff::plain(&d.path) } else { d.path.clone() },
                        item: super::diff::items_line(g).or_else(|| d.item.clone()),
                        old: d.old.clone().unwrap_or_default(),
                        new: d.new.clone().unwrap_or_default(),
                    }
                })
                .collect(),
            lines: if e.drifts.iter().all(|d| d.severity == Severity::Coverage) { Vec::new() } else { side_by_side(e) },
        })
        .collect();
    let (verdict, verdict_class) = if failed { ("DRIFT", "fail") } else { ("OK", "pass") };
    DiffPage {
        page: Page::new(format!("emtape diff: {} → {}", r.old, r.new)),
        old: r.old.clone(),
        new: r.new.clone(),
        verdict,
        verdict_class,
        exchanges_compared: r.summary.exchanges,
        breaking: r.summary.breaking,
        additive: r.summary.additive,
        cosmetic: r.summary.cosmetic,
        coverage: r.summary.coverage,
        graph: link_graph(r),
        exchanges,
    }
    .render()
    .unwrap_or_else(|e| format!("the report could not be written: {e}"))
}

struct CellView {
    check: String,
    passed: bool,
    /// Its reason shown from the start (few failures), or on a click.
    open: bool,
    class: &'static str,
    verdict: &'static str,
    summary: String,
    reason: String,
    details: Vec<String>,
}

struct RowView {
    release: String,
    cells: Vec<Option<CellView>>,
}

#[derive(Template)]
#[template(path = "matrix.html")]
struct MatrixPage {
    page: Page,
    what: String,
    verdict: &'static str,
    verdict_class: &'static str,
    cells: usize,
    passed: usize,
    failed: usize,
    expected: usize,
    checks: Vec<String>,
    rows: Vec<RowView>,
}

/// The release matrix (`emtape matrix --html`): a row per release, a column per check.
pub fn matrix(m: &Matrix) -> String {
    let (what, cells) = (&m.check, &m.cells);
    let mut checks: Vec<String> = Vec::new();
    let mut releases: Vec<String> = Vec::new();
    for c in cells {
        if !checks.contains(&c.check) {
            checks.push(c.check.clone());
        }
        if !releases.contains(&c.release) {
            releases.push(c.release.clone());
        }
    }
    let passed = cells.iter().filter(|c| c.passed).count();
    let expected = cells.iter().filter(|c| c.verdict() == matrix::Verdict::FailedAsExpected).count();
    let total = cells.len();
    let open = total - passed <= 10;
    let mut rows: Vec<RowView> =
        releases.iter().map(|r| RowView { release: r.clone(), cells: checks.iter().map(|_| None).collect() }).collect();
    for c in cells {
        let (Some(row), Some(col)) =
            (releases.iter().position(|r| *r == c.release), checks.iter().position(|k| *k == c.check))
        else {
            continue;
        };
        let class = match c.verdict() {
            matrix::Verdict::Passed => "pass",
            matrix::Verdict::FailedAsExpected => "xfail",
            matrix::Verdict::Failed => "fail",
        };
        rows[row].cells[col] = Some(CellView {
            check: c.check.clone(),
            passed: c.passed,
            open,
            class,
            verdict: c.verdict().word(),
            summary: c.summary.clone(),
            reason: c.reason.clone().unwrap_or_default(),
            details: c.details.clone(),
        });
    }
    let failed = total - passed - expected;
    let (verdict, verdict_class) = verdict(failed == 0);
    MatrixPage {
        page: Page::new(format!("emtape matrix: {what}")),
        what: what.clone(),
        verdict,
        verdict_class,
        cells: total,
        passed,
        failed,
        expected,
        checks,
        rows,
    }
    .render()
    .unwrap_or_else(|e| format!("the report could not be written: {e}"))
}

struct CoverageItemView {
    name: String,
    served: usize,
    used: usize,
    class: &'static str,
}

struct CoverageDimensionView {
    name: &'static str,
    served: usize,
    used: usize,
    percent: f64,
    items: Vec<CoverageItemView>,
}

#[derive(Template)]
#[template(path = "coverage.html")]
struct CoveragePage {
    page: Page,
    what: String,
    requests: usize,
    dimensions: Vec<CoverageDimensionView>,
}

/// Coverage (`serve --coverage-html`): per dimension of the surface, a box per part, used parts
/// marked with their counts.
pub fn coverage(c: &crate::mock::coverage::Coverage, what: &str) -> String {
    let dimensions = c
        .dimensions
        .iter()
        .map(|d| CoverageDimensionView {
            name: d.name,
            served: d.served,
            used: d.used,
            percent: d.percent,
            items: d
                .items
                .iter()
                .map(|i| CoverageItemView {
                    name: i.name.clone(),
                    served: i.served,
                    used: i.used,
                    class: match (i.served > 0, i.used > 0) {
                        (true, true) => "used",
                        (false, _) => "extra",
                        (true, false) => "",
                    },
                })
                .collect(),
        })
        .collect();
    let page = CoveragePage {
        page: Page::new(format!("coverage: {what}")),
        what: what.to_owned(),
        requests: c.requests,
        dimensions,
    };
    page.render().unwrap_or_else(|e| format!("<!DOCTYPE html><p>the report could not be written: {e}</p>"))
}
