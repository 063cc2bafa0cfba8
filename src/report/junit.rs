//! JUnit XML: one test case per step, failures and errors with their messages, so CI systems
//! show a failed contract like a failed test.

use std::fmt::Write as _;

use crate::play::result::{Outcome, RunReport, StepResult};
use crate::xml::{escape, escape_text};

fn secs(ms: f64) -> String {
    format!("{:.3}", ms / 1000.0)
}

fn details(step: &StepResult) -> String {
    let mut out = String::new();
    if let (Some(m), Some(u)) = (&step.method, &step.url) {
        let _ = write!(out, "{m} {u}");
        if let Some(s) = step.status {
            let _ = write!(out, " -> {s}");
        }
        out.push('\n');
    }
    for c in step.failures() {
        let _ = writeln!(out, "{}\n  expected: {}\n  actual:   {}", c.what, c.expected, c.actual);
        if let Some(ctx) = &c.context {
            for l in ctx.lines() {
                let _ = writeln!(out, "  | {l}");
            }
        }
    }
    out
}

/// The run as a JUnit XML document.
pub fn junit(report: &RunReport) -> String {
    let tests = report.steps.len();
    let failures = report.count(Outcome::Failed);
    let errors = report.count(Outcome::Error);
    let skipped = report.count(Outcome::Skipped);
    let time = secs(report.duration_ms);
    let name = escape(&report.scenario);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"emtape\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" file=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\">",
        escape(&report.file)
    );
    let _ = writeln!(
        out,
        "    <properties>\n      <property name=\"target\" value=\"{}\"/>\n    </properties>",
        escape(&report.target)
    );
    for (i, step) in report.steps.iter().enumerate() {
        let case = format!(
            "    <testcase name=\"{:02} {}\" classname=\"{name}\" time=\"{}\"",
            i + 1,
            escape(&step.name),
            secs(step.duration_ms)
        );
        match step.outcome {
            Outcome::Passed => {
                let _ = writeln!(out, "{case}/>");
            }
            Outcome::Skipped => {
                let _ = writeln!(
                    out,
                    "{case}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                    escape(step.message.as_deref().unwrap_or(""))
                );
            }
            Outcome::Failed => {
                let first = step
                    .failures()
                    .next()
                    .map(|c| format!("{}: expected {}, got {}", c.what, c.expected, c.actual))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{case}>\n      <failure message=\"{}\" type=\"assertion\">{}</failure>\n    </testcase>",
                    escape(&first),
                    escape_text(&details(step))
                );
            }
            Outcome::Error => {
                let _ = writeln!(
                    out,
                    "{case}>\n      <error message=\"{}\" type=\"network\">{}</error>\n    </testcase>",
                    escape(step.message.as_deref().unwrap_or("")),
                    escape_text(&details(step))
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
