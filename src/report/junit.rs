//! JUnit XML, the one writer every report feeds (`run`, `diff`, `serve --scenario`, `matrix`):
//! each gives a [`Suite`] of [`Case`]s, and the counts and times on `<testsuites>` and
//! `<testsuite>` are worked out here, the same way for all of them, so CI systems show a failed
//! contract, a drift or an incompatible release like a failed test.

use std::fmt::Write as _;

use crate::runner::result::{Outcome, RunReport, StepResult};
use crate::xml::{escape, escape_text};

/// One `<testsuite>` inside `<testsuites name="...">`.
#[derive(Clone, Debug)]
pub struct Suite {
    /// The `<testsuites>` name: the command (`emtape`, `emtape diff`).
    pub tool: String,
    pub name: String,
    /// The file the suite comes from (a scenario).
    pub file: Option<String>,
    pub properties: Vec<(String, String)>,
    pub cases: Vec<Case>,
    /// The whole suite's time, when it is not the sum of its cases'.
    pub millis: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub millis: Option<f64>,
    pub verdict: Verdict,
}

#[derive(Clone, Debug)]
pub enum Verdict {
    Passed,
    Skipped {
        message: String,
    },
    /// An assertion that did not hold: `kind` is its `type` (assertion, drift, contract).
    Failed {
        kind: &'static str,
        message: String,
        text: String,
    },
    /// The check could not be made (a network failure).
    Error {
        kind: &'static str,
        message: String,
        text: String,
    },
}

fn secs(ms: f64) -> String {
    format!("{:.3}", ms / 1000.0)
}

/// The suite as a JUnit XML document.
pub fn write(suite: &Suite) -> String {
    let count = |f: fn(&Verdict) -> bool| suite.cases.iter().filter(|c| f(&c.verdict)).count();
    let tests = suite.cases.len();
    let failures = count(|v| matches!(v, Verdict::Failed { .. }));
    let errors = count(|v| matches!(v, Verdict::Error { .. }));
    let skipped = count(|v| matches!(v, Verdict::Skipped { .. }));
    let time =
        secs(suite.millis.unwrap_or_else(|| suite.cases.iter().filter_map(|c| c.millis).fold(0.0, |a, b| a + b)));
    let counts =
        format!("tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\"");
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"{}\" {counts}>", escape(&suite.tool));
    let file = suite.file.as_ref().map(|f| format!(" file=\"{}\"", escape(f))).unwrap_or_default();
    let _ = writeln!(out, "  <testsuite name=\"{}\"{file} {counts}>", escape(&suite.name));
    if !suite.properties.is_empty() {
        out.push_str("    <properties>\n");
        for (name, value) in &suite.properties {
            let _ = writeln!(out, "      <property name=\"{}\" value=\"{}\"/>", escape(name), escape(value));
        }
        out.push_str("    </properties>\n");
    }
    for case in &suite.cases {
        let time = case.millis.map(|ms| format!(" time=\"{}\"", secs(ms))).unwrap_or_default();
        let open =
            format!("    <testcase name=\"{}\" classname=\"{}\"{time}", escape(&case.name), escape(&case.classname));
        let _ = match &case.verdict {
            Verdict::Passed => writeln!(out, "{open}/>"),
            Verdict::Skipped { message } => {
                writeln!(out, "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>", escape(message))
            }
            Verdict::Failed { kind, message, text } | Verdict::Error { kind, message, text } => {
                let element = if matches!(case.verdict, Verdict::Failed { .. }) { "failure" } else { "error" };
                writeln!(
                    out,
                    "{open}>\n      <{element} message=\"{}\" type=\"{kind}\">{}</{element}>\n    </testcase>",
                    escape(message),
                    escape_text(text)
                )
            }
        };
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
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
    if let (Outcome::Failed, Some(m)) = (step.outcome, &step.message) {
        let _ = writeln!(out, "{m}");
    }
    for c in step.failures() {
        let _ = writeln!(out, "{}", c.what);
        if let Some(at) = &c.at {
            let _ = writeln!(out, "  at:       {at}");
        }
        let _ = writeln!(out, "  expected: {}\n  actual:   {}", c.expected, c.actual);
        if let Some(ctx) = &c.context {
            for l in ctx.lines() {
                let _ = writeln!(out, "  | {l}");
            }
        }
    }
    out
}

/// The run: one test case per step.
pub fn junit(report: &RunReport) -> String {
    let cases = report
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| Case {
            classname: report.scenario.clone(),
            name: format!("{:02} {}", i + 1, step.name),
            millis: Some(step.duration_ms),
            verdict: match step.outcome {
                Outcome::Passed => Verdict::Passed,
                Outcome::Skipped => Verdict::Skipped { message: step.message.clone().unwrap_or_default() },
                Outcome::Failed => Verdict::Failed {
                    kind: "assertion",
                    message: step.message.clone().unwrap_or_else(|| {
                        step.failures()
                            .next()
                            .map(|c| format!("{}: expected {}, got {}", c.what, c.expected, c.actual))
                            .unwrap_or_default()
                    }),
                    text: details(step),
                },
                Outcome::Error => Verdict::Error {
                    kind: "network",
                    message: step.message.clone().unwrap_or_default(),
                    text: details(step),
                },
            },
        })
        .collect();
    write(&Suite {
        tool: "emtape".into(),
        name: report.scenario.clone(),
        file: Some(report.file.clone()),
        properties: vec![("target".into(), report.target.clone())],
        cases,
        millis: Some(report.duration_ms),
    })
}
