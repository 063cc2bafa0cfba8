//! Reports of a client check: each session's requests against the scenario's steps, and what
//! it did against the contract.

use std::fmt::Write as _;

use crate::clientcheck::result::{ClientReport, Ending, SessionReport};

use super::Style;
use super::junit::{Case, Suite, Verdict};

fn ending(s: &SessionReport) -> String {
    match s.ended {
        Some(Ending::LoggedOut) => format!("logged out after {} ms", s.duration_ms),
        Some(Ending::Idle) => "went idle without logging out".to_owned(),
        Some(Ending::Expired) => "its session was expired by the server".to_owned(),
        Some(Ending::ClientExited) => "the client exited without logging out".to_owned(),
        None => "still active".to_owned(),
    }
}

/// The terminal report.
pub fn text(r: &ClientReport, style: Style) -> String {
    let mut out = String::new();
    let n = r.sessions.len();
    let _ = writeln!(
        out,
        "{} {n} client session{} against scenario {}\n",
        style.paint("1", "emtape checked"),
        if n == 1 { "" } else { "s" },
        r.scenario
    );
    let width = r
        .sessions
        .iter()
        .flat_map(|s| &s.requests)
        .map(|p| p.step.as_deref().unwrap_or("(not a step)").len())
        .max()
        .unwrap_or(0);
    for s in &r.sessions {
        let verdict = if s.passed { style.paint("32;1", "PASSED") } else { style.paint("31;1", "FAILED") };
        let _ = writeln!(out, "session {} ({}): {verdict}, {}", s.number, s.representation, ending(s));
        for f in &s.faults {
            let _ = writeln!(out, "  fault injected: {f}");
        }
        for c in &s.choices {
            let _ = writeln!(out, "  choice: {c}");
        }
        for (i, p) in s.requests.iter().enumerate() {
            let status = p.status.map_or_else(|| "connection dropped".to_owned(), |c| c.to_string());
            let step = p.step.as_deref().unwrap_or("(not a step)");
            let fault = p.fault.as_deref().map(|f| format!("  [{f}]")).unwrap_or_default();
            let _ = writeln!(out, "  {:>2}. {step:<width$}  {} -> {status}{fault}", i + 1, p.request);
        }
        for p in &s.probes {
            let _ = writeln!(out, "  probe: {p}");
        }
        if s.problems.is_empty() {
            let _ = writeln!(out, "  {}", style.paint("2", "no problems"));
        } else {
            for p in &s.problems {
                let _ = writeln!(out, "  {} {}", style.paint("31", "-"), p.message);
            }
        }
        out.push('\n');
    }
    for p in &r.probes {
        let _ = writeln!(out, "probe: {p}");
    }
    if !r.unattributed.is_empty() {
        let _ = writeln!(out, "requests of no session:");
        for p in &r.unattributed {
            let _ = writeln!(out, "  {} {}", style.paint("31", "-"), p.message);
        }
        out.push('\n');
    }
    if !r.unrecorded.is_empty() {
        let _ = writeln!(out, "{}", unrecorded_heading(&r.unrecorded));
        for u in r.unrecorded.iter().take(10) {
            let _ = writeln!(out, "  {} {}: {}", style.paint("33", "-"), u.request, u.note);
        }
        if r.unrecorded.len() > 10 {
            let _ = writeln!(out, "  and {} more", r.unrecorded.len() - 10);
        }
        out.push('\n');
    }
    if !r.reasons.is_empty() {
        let _ = writeln!(out, "the run failed because:");
        for reason in &r.reasons {
            let _ = writeln!(out, "  {} {reason}", style.paint("31", "-"));
        }
        out.push('\n');
    }
    let good = r.sessions.iter().filter(|s| s.passed).count();
    let verdict = if r.passed { style.paint("32;1", "PASSED") } else { style.paint("31;1", "FAILED") };
    let _ = writeln!(out, "{verdict}: {good} of {n} sessions met the contract");
    out
}

/// What a list of unrecorded answers is, in one line.
pub fn unrecorded_heading(all: &[crate::mock::Unrecorded]) -> String {
    let n = all.len();
    format!(
        "{n} answer{} rested on no recording of {} own (derived from a sibling, or written from listings); \
         record {} to judge on EM's data:",
        if n == 1 { "" } else { "s" },
        if n == 1 { "its" } else { "their" },
        if n == 1 { "it" } else { "them" },
    )
}

/// JSON.
pub fn json(r: &ClientReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default() + "\n"
}

/// JUnit XML: a test case per client session.
pub fn junit(r: &ClientReport) -> String {
    // The run's own reasons (too few sessions, none at all) are a test case of their own, so
    // that the counts never read as a pass when the verdict is not one.
    let mut cases = Vec::new();
    if let Some(first) = r.reasons.first() {
        cases.push(Case {
            classname: "emtape.client".into(),
            name: "the run".into(),
            millis: Some(0.0),
            verdict: Verdict::Failed {
                kind: "evidence",
                message: first.clone(),
                text: r.reasons.iter().map(|p| format!("{p}\n")).collect(),
            },
        });
    }
    cases.extend(r.sessions.iter().map(|s| Case {
        classname: "emtape.client".into(),
        name: format!("session {} ({})", s.number, s.representation),
        millis: Some(s.duration_ms),
        verdict: if s.passed {
            Verdict::Passed
        } else {
            Verdict::Failed {
                kind: "contract",
                message: s.problems.first().map_or_else(String::new, |p| p.message.clone()),
                text: s.problems.iter().map(|p| format!("{}\n", p.message)).collect(),
            }
        },
    }));
    super::junit::write(&Suite {
        tool: "emtape serve --scenario".into(),
        name: r.scenario.clone(),
        file: None,
        properties: Vec::new(),
        cases,
        millis: None,
    })
}
