//! `emtape matrix`: one scenario against every release on tape, in XML and JSON, as a table:
//! which releases a flow (or a client written like it) works with.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::run::variables;
use super::{Exit, Failure, runtime};
use crate::cassette::{self, RELEASES};
use crate::cli::{CrawlRepr, MatrixArgs};
use crate::http::client::Client;
use crate::http::server::{Server, ServerOptions};
use crate::mock::{Mock, MockOptions};
use crate::play::result::Outcome;
use crate::play::{self, Credentials, RunOptions, Secret};
use crate::scenario::{self, Scenario};

/// One cell: a release in a representation.
#[derive(Debug, Serialize)]
struct Cell {
    release: String,
    representation: String,
    passed: bool,
    expected_to_fail: bool,
    /// The first step that did not pass, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    steps_passed: usize,
    steps: usize,
}

pub(super) fn matrix(args: MatrixArgs) -> Result<Exit, Failure> {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path),
        None => Scenario::parse(&format!("built-in {}", scenario::VM_RESTORE.0), scenario::VM_RESTORE.1),
    }
    .map_err(|e| Failure::bad_input(e.to_string()))?;
    let known: Vec<&str> = RELEASES.iter().map(|(n, _)| *n).collect();
    let releases: Vec<String> =
        if args.releases.is_empty() { known.iter().map(|s| (*s).to_owned()).collect() } else { args.releases.clone() };
    for r in releases.iter().chain(&args.expect_fail) {
        if !known.contains(&r.as_str()) {
            return Err(Failure::bad_input(format!(
                "release {r} is not on tape; the releases are {}",
                known.join(", ")
            )));
        }
    }
    let reprs: &[(&str, &str)] = match args.repr {
        CrawlRepr::Xml => &[("XML", "application/xml")],
        CrawlRepr::Json => &[("JSON", "application/json")],
        CrawlRepr::Both => &[("XML", "application/xml"), ("JSON", "application/json")],
    };
    let base_vars = variables(&scenario, &args.vars)?;
    let cells = runtime(Some(1))?.block_on(async {
        let mut cells = Vec::new();
        for release in &releases {
            let cassettes = cassette::release(release)
                .unwrap_or_else(|| Ok(Vec::new()))
                .map_err(|e| Failure::bad_input(e.to_string()))?;
            let server = Server::bind("127.0.0.1:0", None)
                .await
                .map_err(|e| Failure::network(format!("cannot start the mock of release {release}: {e}")))?;
            let base = server.base_url();
            let mock = Arc::new(Mock::new(cassettes, MockOptions::default()));
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(server.run(mock, ServerOptions::default(), async move {
                let _ = stopped.await;
            }));
            for (name, accept) in reprs {
                let mut vars: HashMap<String, String> = base_vars.clone();
                if vars.contains_key("accept") && !args.vars.iter().any(|v| v.starts_with("accept=")) {
                    vars.insert("accept".into(), (*accept).to_owned());
                }
                if !args.vars.iter().any(|v| v.starts_with("poll_interval=")) && vars.contains_key("poll_interval") {
                    vars.insert("poll_interval".into(), "0s".into());
                }
                let client = Client::new(None);
                let options = RunOptions {
                    client: &client,
                    base_url: base.clone(),
                    target: format!("{base} (release {release})"),
                    vars,
                    credentials: Some(Credentials { user: "emtape".into(), password: Secret::new("emtape".into()) }),
                    recorder: None,
                };
                let report = play::run(&scenario, options).await;
                let failed =
                    report.steps.iter().find(|s| s.outcome != Outcome::Passed && s.outcome != Outcome::Skipped);
                let reason = failed.map(|s| {
                    s.checks
                        .iter()
                        .find(|c| !c.passed)
                        .map(|c| format!("{}: expected {}, got {}", c.what, c.expected, c.actual))
                        .or_else(|| s.message.clone())
                        .unwrap_or_else(|| "failed".into())
                });
                cells.push(Cell {
                    release: release.clone(),
                    representation: (*name).to_owned(),
                    passed: report.passed,
                    expected_to_fail: args.expect_fail.contains(release),
                    failed_step: failed.map(|s| s.name.clone()),
                    reason,
                    steps_passed: report.steps.iter().filter(|s| s.outcome == Outcome::Passed).count(),
                    steps: report.steps.len(),
                });
            }
            let _ = stop.send(());
            let _ = task.await;
        }
        Ok::<_, Failure>(cells)
    })?;
    print!("{}", text(&scenario.name, &cells));
    if let Some(path) = &args.json {
        let json = serde_json::json!({"scenario": scenario.name, "cells": cells});
        std::fs::write(path, serde_json::to_string_pretty(&json).unwrap_or_default() + "\n")
            .map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, markdown(&scenario.name, &cells))
            .map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))?;
    }
    let unexpected = cells.iter().filter(|c| !c.passed && !c.expected_to_fail).count();
    Ok(if unexpected == 0 { Exit::Success } else { Exit::Failed })
}

fn verdict(c: &Cell) -> &'static str {
    match (c.passed, c.expected_to_fail) {
        (true, _) => "PASS",
        (false, true) => "XFAIL",
        (false, false) => "FAIL",
    }
}

fn text(name: &str, cells: &[Cell]) -> String {
    let mut out = format!("emtape matrix: scenario {name} against {} release × representation cells\n\n", cells.len());
    out.push_str(&format!(
        "  {:<8} {:<5} {:<6} {:>6}  {}\n",
        "release", "repr", "result", "steps", "first failing step"
    ));
    for c in cells {
        let failing = match (&c.failed_step, &c.reason) {
            (Some(s), Some(r)) => format!("{s}: {r}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  {:<8} {:<5} {:<6} {:>6}  {failing}\n",
            c.release,
            c.representation,
            verdict(c),
            format!("{}/{}", c.steps_passed, c.steps)
        ));
    }
    let passed = cells.iter().filter(|c| c.passed).count();
    out.push_str(&format!("\n{passed} of {} cells passed\n", cells.len()));
    out
}

fn markdown(name: &str, cells: &[Cell]) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = format!(
        "## emtape matrix: `{name}`\n\n| release | repr | result | steps | first failing step |\n|---|---|---|---|---|\n"
    );
    for c in cells {
        let failing = match (&c.failed_step, &c.reason) {
            (Some(s), Some(r)) => cell(&format!("{s}: {r}")),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {}/{} | {failing} |\n",
            c.release,
            c.representation,
            verdict(c),
            c.steps_passed,
            c.steps
        ));
    }
    out
}
