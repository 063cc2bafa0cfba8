//! The terminal report: one line per step, and under a failed step every failed check with
//! expected and actual values and the part of the response that shows it.

use std::fmt::Write as _;

use crate::runner::result::{Outcome, Phase, RunReport, StepResult};

/// How to render: colour (for a terminal that wants it) and timings (left out for snapshots).
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub colour: bool,
    pub times: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is not set.
    pub fn for_stdout() -> Style {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style { colour: std::io::stdout().is_terminal() && !no_color, times: true }
    }

    pub(crate) fn paint(&self, code: &str, text: &str) -> String {
        if self.colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }
}

fn label(outcome: Outcome) -> (&'static str, &'static str) {
    match outcome {
        Outcome::Passed => ("PASS ", "32"),
        Outcome::Failed => ("FAIL ", "31;1"),
        Outcome::Skipped => ("SKIP ", "33"),
        Outcome::Error => ("ERROR", "35;1"),
    }
}

fn request_line(step: &StepResult) -> String {
    let mut line = match (&step.method, &step.url) {
        (Some(m), Some(u)) => format!("{m} {u}"),
        _ => String::new(),
    };
    if let Some(s) = step.status {
        let _ = write!(line, " -> {s}");
    }
    if step.attempts.len() > 1 {
        let _ = write!(line, " ({} attempts)", step.attempts.len());
    }
    line
}

/// Renders the report.
pub fn text(report: &RunReport, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({}) against {}\n", style.paint("1", &report.scenario), report.file, report.target);
    let width = report.steps.iter().map(|s| s.name.chars().count()).max().unwrap_or(0).min(36);
    let mut finally_started = false;
    for step in &report.steps {
        if step.phase == Phase::Finally && !finally_started {
            finally_started = true;
            let _ = writeln!(out, "  {}", style.paint("2", "finally:"));
        }
        let (word, colour) = label(step.outcome);
        let what = match (step.outcome, &step.message) {
            (Outcome::Skipped, Some(m)) => style.paint("2", m),
            _ => request_line(step),
        };
        let time = if style.times && step.outcome != Outcome::Skipped {
            format!("  {:.1} ms", step.duration_ms)
        } else {
            String::new()
        };
        let _ =
            writeln!(out, "  {}  {:<width$}  {what}{}", style.paint(colour, word), step.name, style.paint("2", &time));
        let pad = " ".repeat(9);
        match (step.outcome, &step.message) {
            (Outcome::Error, Some(m)) => {
                let _ = writeln!(out, "{pad}{}", style.paint("35", m));
            }
            (Outcome::Failed, Some(m)) => {
                let _ = writeln!(out, "{pad}{}", style.paint("31", m));
            }
            _ => {}
        }
        if step.outcome == Outcome::Failed && step.attempts.len() > 1 {
            let seen: Vec<String> = step.attempts.iter().map(|a| format!("{} {}", a.status, a.note)).collect();
            let _ = writeln!(out, "{pad}attempts: {}", seen.join(", "));
        }
        for c in step.failures() {
            let _ = writeln!(out, "{pad}{}", style.paint("31", &c.what));
            if let Some(at) = &c.at {
                let _ = writeln!(out, "{pad}  --> {at}");
            }
            let _ = writeln!(out, "{pad}  expected: {}", c.expected);
            let _ = writeln!(out, "{pad}  actual:   {}", c.actual);
            if let Some(ctx) = &c.context {
                for line in ctx.lines() {
                    let _ = writeln!(out, "{pad}  {} {line}", style.paint("2", "|"));
                }
            }
        }
    }
    let mut counts = Vec::new();
    for (outcome, word) in [
        (Outcome::Passed, "passed"),
        (Outcome::Failed, "failed"),
        (Outcome::Error, "errors"),
        (Outcome::Skipped, "skipped"),
    ] {
        let n = report.count(outcome);
        if n > 0 || outcome == Outcome::Passed {
            counts.push(format!("{n} {word}"));
        }
    }
    let verdict = if report.passed { style.paint("32;1", "PASSED") } else { style.paint("31;1", "FAILED") };
    let time = if style.times { format!(" in {:.1} ms", report.duration_ms) } else { String::new() };
    let _ = writeln!(out, "\n{verdict}: {} steps, {}{time}", report.steps.len(), counts.join(", "));
    out
}
