//! `emtape matrix`: one check across every release on tape, as a table: which releases a flow
//! (the scenario, in XML and JSON) or a client (`--client CMD`) works with; and with `--diff`,
//! what changed from release to release, as a compatibility changelog. The matrix itself is
//! [`crate::matrix`]; its reports are [`crate::report::matrix`].

use std::time::Instant;

use super::run::variables;
use super::{Exit, Failure, runtime};
use crate::cassette;
use crate::cli::{CrawlRepr, MatrixArgs};
use crate::em::Repr;
use crate::matrix::{self, Ca, ClientPlan, Clients, Matrix, MatrixError, ScenarioPlan};
use crate::report::{self, Style};
use crate::scenario::{self, Scenario, parse_duration};
use crate::vbr::Api;

pub(super) fn matrix(args: MatrixArgs) -> Result<Exit, Failure> {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path),
        None => Scenario::parse(&format!("built-in {}", scenario::VM_RESTORE.0), scenario::VM_RESTORE.1),
    }
    .map_err(|e| Failure::bad_input(e.to_string()))?;
    // A VBR REST scenario (or VBR revisions named) runs across the VBR revisions on tape.
    let vbr_names = cassette::vbr_release_names();
    let vbr =
        scenario.api == Api::Vbr || args.releases.iter().any(|r| vbr_names.iter().any(|n| n.eq_ignore_ascii_case(r)));
    let known = if vbr { vbr_names } else { cassette::release_names() };
    let canonical =
        |r: &str| if r.eq_ignore_ascii_case("reference") { "13".to_owned() } else { r.to_ascii_lowercase() };
    let releases: Vec<String> = if args.releases.is_empty() {
        known.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.releases.iter().map(|r| canonical(r)).collect()
    };
    let expect_fail: Vec<String> = args.expect_fail.iter().map(|r| canonical(r)).collect();
    for r in releases.iter().chain(&expect_fail) {
        if !known.contains(&r.as_str()) {
            return Err(Failure::bad_input(format!(
                "release {r} is not on tape; the {} releases are {}",
                if vbr { "VBR REST" } else { "EM" },
                known.join(", ")
            )));
        }
    }
    let style = Style::for_stdout();
    if args.diff {
        if releases.len() < 2 {
            return Err(Failure::bad_input(format!(
                "--diff compares releases: name two or more (--releases {}), or leave --releases out for all of them",
                known.join(",")
            )));
        }
        let log = matrix::changelog(&releases).map_err(failure)?;
        print!("{}", report::matrix::changelog_text(&log, style));
        if let Some(path) = &args.markdown {
            write(path, &report::matrix::changelog_markdown(&log))?;
        }
        if let Some(path) = &args.json {
            write(path, &report::matrix::changelog_json(&log))?;
        }
        return Ok(Exit::Success);
    }
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1);
    let threads = Some(jobs.min(releases.len().max(1)));
    let started = Instant::now();
    let cells = match &args.client {
        Some(command) => {
            let timeout = parse_duration(&args.client_timeout).ok_or_else(|| {
                Failure::bad_input(format!("--client-timeout {}: not a duration (write 30s, 2m)", args.client_timeout))
            })?;
            let plan = ClientPlan { command: command.clone(), timeout, vars: super::serve::var_pairs(&args.vars)? };
            let ca = if args.tls { Some(Ca::mint().map_err(failure)?) } else { None };
            runtime(threads)?.block_on(async {
                // The clients run in process groups of their own (so that a timeout ends all they
                // started), where the terminal's Ctrl-C does not reach them: pass it on, then leave.
                let clients = Clients::default();
                let stop = super::stop_signal();
                let (on_stop, leftover) = (clients.clone(), ca.as_ref().map(|c| c.dir().to_owned()));
                tokio::spawn(async move {
                    stop.await;
                    on_stop.end_all();
                    if let Some(dir) = leftover {
                        let _ = std::fs::remove_dir_all(dir);
                    }
                    eprintln!("interrupted: the clients were stopped");
                    std::process::exit(130);
                });
                matrix::client_cells(&releases, &scenario, &plan, ca.as_ref(), jobs, &clients).await
            })
        }
        None => {
            let representations = match args.repr {
                // VBR REST speaks JSON only.
                _ if vbr => vec![Repr::Json],
                CrawlRepr::Xml => vec![Repr::Xml],
                CrawlRepr::Json => vec![Repr::Json],
                CrawlRepr::Both => vec![Repr::Xml, Repr::Json],
            };
            let vars = variables(&scenario, &args.vars)?;
            let given = args.vars.iter().filter_map(|v| v.split_once('=')).map(|(name, _)| name.to_owned()).collect();
            let plan = ScenarioPlan { representations, vars, given };
            runtime(threads)?.block_on(matrix::scenario_cells(&releases, &scenario, &plan, jobs))
        }
    }
    .map_err(failure)?;
    let check = match &args.client {
        Some(command) => format!("client `{command}` checked against scenario {}", scenario.name),
        None => format!("scenario {}", scenario.name),
    };
    let mut cells = cells;
    matrix::explain_regressions(&mut cells).map_err(failure)?;
    let mut m = Matrix { check, cells, took: started.elapsed() };
    for c in &mut m.cells {
        c.expected_to_fail = expect_fail.contains(&c.release);
    }
    print!("{}", report::matrix::text(&m, style));
    if let Some(path) = &args.json {
        write(path, &report::matrix::json(&m))?;
    }
    if let Some(path) = &args.markdown {
        write(path, &report::matrix::markdown(&m))?;
    }
    if let Some(path) = &args.junit {
        write(path, &report::matrix::junit(&m))?;
    }
    if let Some(path) = &args.html {
        write(path, &report::html::matrix(&m))?;
    }
    Ok(if m.unexpected_failures() == 0 { Exit::Success } else { Exit::Failed })
}

/// The network failing is exit 3; everything else is the input's.
fn failure(e: MatrixError) -> Failure {
    match e {
        MatrixError::Mock { .. } => Failure::network(e.to_string()),
        _ => Failure::bad_input(e.to_string()),
    }
}

fn write(path: &std::path::Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))
}
