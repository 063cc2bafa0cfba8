//! Reports of the release matrix: the terminal table, Markdown for a pull request, JSON and
//! JUnit for CI; and of its changelog (`--diff`), as terminal text, Markdown and JSON.

use std::fmt::Write as _;

use crate::diff::Severity;
use crate::matrix::{self, Cell, Changelog, Matrix, ReleaseFacts};

use super::Style;
use super::junit::{Case, Suite, Verdict};

fn colour(c: &Cell) -> &'static str {
    match c.verdict() {
        matrix::Verdict::Passed => "32",
        matrix::Verdict::FailedAsExpected => "33",
        matrix::Verdict::Failed => "31",
    }
}

/// The terminal table: a line per cell, and under a failed one what else went wrong.
pub fn text(m: &Matrix, style: Style) -> String {
    let cells = &m.cells;
    let mut out = format!("emtape matrix: {}, {} cells\n\n", m.check, cells.len());
    // VBR's revisions (`vbr-1.3-rev1`) are longer than EM's release numbers.
    let w = cells.iter().map(|c| c.release.len()).max().unwrap_or(0).max(8);
    let _ = writeln!(out, "  {:<w$} {:<14} {:<6} {:<22} why", "release", "check", "result", "");
    for c in cells {
        let painted = style.paint(colour(c), &format!("{:<6}", c.verdict().word()));
        let _ = writeln!(
            out,
            "  {:<w$} {:<14} {painted} {:<22} {}",
            c.release,
            c.check,
            c.summary,
            c.reason.as_deref().or(c.choices.first().map(String::as_str)).unwrap_or("")
        );
        if !c.passed {
            for d in c.details.iter().take(8) {
                let _ = writeln!(out, "  {:<w$} {:<14} {:<6} {:<22}   {d}", "", "", "", "");
            }
        }
    }
    let shares: Vec<f64> = cells.iter().filter_map(|c| c.coverage.as_ref().map(|v| v.share())).collect();
    if let (Some(low), Some(high)) = (shares.iter().copied().reduce(f64::min), shares.iter().copied().reduce(f64::max))
    {
        let range = if low == high { format!("{low}%") } else { format!("{low}% to {high}%") };
        let _ = writeln!(
            out,
            "\neach check used {range} of what its release serves (resource types, links, actions, query types, \
             representations, statuses; --json has each cell's)"
        );
    }
    let passed = cells.iter().filter(|c| c.passed).count();
    let expected = cells.iter().filter(|c| c.verdict() == matrix::Verdict::FailedAsExpected).count();
    let _ = write!(out, "\n{passed} of {} cells passed", cells.len());
    if expected > 0 {
        let _ = write!(out, ", {expected} failed as expected");
    }
    let _ = writeln!(out, " in {:.2} s", m.took.as_secs_f64());
    if let Some(most) = cells.iter().filter_map(|c| c.overhead_ms).reduce(f64::max) {
        let _ = writeln!(
            out,
            "the mock's own time per release (start, check, stop; the client's excluded): at most {most:.1} ms"
        );
    }
    out
}

/// Markdown, for a pull request comment.
pub fn markdown(m: &Matrix) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!(
        "## emtape matrix: {}\n\n| release | check | result | | why |\n|---|---|---|---|---|\n",
        cell(&m.check)
    );
    for c in &m.cells {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            c.release,
            c.check,
            c.verdict().word(),
            cell(&c.summary),
            cell(c.reason.as_deref().unwrap_or(""))
        );
    }
    out
}

/// JSON: what was checked, and every cell.
pub fn json(m: &Matrix) -> String {
    let json = serde_json::json!({"check": m.check, "cells": m.cells});
    serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
}

/// JUnit XML: a test case per release × check; an expected failure is a skipped case, so CI
/// tracks it without going red.
pub fn junit(m: &Matrix) -> String {
    let cases = m
        .cells
        .iter()
        .map(|c| {
            let reason = c.reason.as_deref().unwrap_or("failed");
            let verdict = match c.verdict() {
                matrix::Verdict::Passed => Verdict::Passed,
                matrix::Verdict::FailedAsExpected => {
                    Verdict::Skipped { message: format!("expected to fail: {reason}") }
                }
                matrix::Verdict::Failed => Verdict::Failed {
                    kind: "incompatible",
                    message: reason.to_owned(),
                    text: c.details.iter().map(|d| format!("{d}\n")).collect(),
                },
            };
            Case {
                classname: "emtape.matrix".into(),
                name: format!("release {} / {}", c.release, c.check),
                millis: Some(c.millis),
                verdict,
            }
        })
        .collect();
    super::junit::write(&Suite {
        tool: "emtape matrix".into(),
        name: m.check.clone(),
        file: None,
        properties: Vec::new(),
        cases,
        millis: None,
    })
}

fn describe_release(f: &ReleaseFacts) -> String {
    if f.supported_versions.is_empty() {
        // VBR REST advertises no versions in a body: its revision is the header's.
        return format!(
            "{} (VBR {}, API {}; {})",
            f.release,
            f.product_version,
            f.api_version,
            f.representations.join(" and ")
        );
    }
    format!(
        "{} (EM {}, API {}; advertises {}; {})",
        f.release,
        f.product_version,
        f.api_version,
        f.supported_versions.join(", "),
        f.representations.join(" and ")
    )
}

/// The changelog in the terminal: each release, and under each step its changes.
pub fn changelog_text(log: &Changelog, style: Style) -> String {
    let mut out = String::from("emtape matrix --diff: what changed from release to release\n\n");
    if let Some(first) = log.releases.first() {
        let _ = writeln!(out, "{}", describe_release(first));
        if let Some(note) = &first.note {
            let _ = writeln!(out, "  {note}");
        }
    }
    for (step, to) in log.steps.iter().zip(log.releases.iter().skip(1)) {
        let _ = writeln!(
            out,
            "\n{} -> {}: {} breaking, {} additive",
            step.from,
            describe_release(to),
            step.breaking,
            step.additive
        );
        if let Some(note) = &to.note {
            let _ = writeln!(out, "  {note}");
        }
        for c in &step.changes {
            let colour = if c.severity == Severity::Breaking { "31" } else { "32" };
            let more = if c.seen_in.len() > 1 { format!(" and {} more", c.seen_in.len() - 1) } else { String::new() };
            let _ = writeln!(
                out,
                "  {} {}  ({}{more})",
                style.paint(colour, &format!("{:<8}", c.severity.name())),
                c.change,
                c.seen_in[0]
            );
        }
    }
    out
}

/// The changelog in Markdown.
pub fn changelog_markdown(log: &Changelog) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::from("## Compatibility changelog\n\n");
    if let Some(first) = log.releases.first() {
        let _ = writeln!(out, "**{}**", cell(&describe_release(first)));
        if let Some(note) = &first.note {
            let _ = writeln!(out, "\n- {}", cell(note));
        }
    }
    for (step, to) in log.steps.iter().zip(log.releases.iter().skip(1)) {
        let _ = writeln!(
            out,
            "\n**{} → {}**: {} breaking, {} additive\n",
            step.from,
            cell(&describe_release(to)),
            step.breaking,
            step.additive
        );
        if let Some(note) = &to.note {
            let _ = writeln!(out, "- {}", cell(note));
        }
        for c in &step.changes {
            let _ = writeln!(out, "- {}: {} (`{}`)", c.severity.name(), cell(&c.change), c.seen_in.join("`, `"));
        }
    }
    out
}

/// The changelog as JSON.
pub fn changelog_json(log: &Changelog) -> String {
    serde_json::to_string_pretty(log).unwrap_or_default() + "\n"
}
