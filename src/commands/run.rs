//! `emtape run`: a scenario against a real server or the built-in mock, with reports.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::serve::{load_cassettes, load_release};
use super::{Exit, Failure, output_folder, runtime, server_url};
use crate::cli::RunArgs;
use crate::diagnostic::did_you_mean;
use crate::http::client::Client;
use crate::http::server::{Server, ServerOptions};
use crate::http::tls::{self, Trust};
use crate::mock::{Mock, MockOptions};
use crate::record::{Recorder, RedactConfig};
use crate::report::{self, Style};
use crate::runner::result::{Outcome, RunReport};
use crate::runner::{self, Credentials, RunOptions, Secret};
use crate::scenario::{self, Scenario};
use crate::vbr::{Api, VbrMock, VbrOptions};

/// The built-in mock a run went against.
enum Served {
    Em(Arc<Mock>),
    Vbr(Arc<VbrMock>),
}

/// The VBR REST revision a VBR scenario runs against when nothing else is named.
const VBR_DEFAULT: &str = "vbr-1.3-rev1";

pub(super) fn run(args: RunArgs) -> Result<Exit, Failure> {
    for (flag, path) in
        [("--record", &args.record), ("--junit", &args.junit), ("--json", &args.json), ("--html", &args.html)]
    {
        if let Some(path) = path {
            output_folder(flag, path)?;
        }
    }
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path),
        None => Scenario::parse(&format!("built-in {}", scenario::VM_RESTORE.0), scenario::VM_RESTORE.1),
    }
    .map_err(|e| Failure::bad_input(e.to_string()))?;
    let vars = variables(&scenario, &args.vars)?;
    let spec = super::load_spec(args.spec.as_deref())?;
    let credentials = credentials(&args)?;
    let redact = match &args.redact {
        Some(p) => RedactConfig::load(p).map_err(Failure::bad_input)?,
        None => RedactConfig::default(),
    };
    let client_tls = if args.insecure {
        eprintln!("warning: --insecure: the target's certificate is not checked");
        Some(tls::client(&Trust { ca_files: Vec::new(), insecure: true }))
    } else {
        Some(tls::client(&Trust { ca_files: args.ca.clone(), insecure: false }))
    }
    .transpose()
    .map_err(|e| Failure::bad_input(e.to_string()))?;
    let client = Client::new(client_tls).with_timeout(Duration::from_secs(args.timeout));
    let cassettes = match (&args.target, &args.release) {
        (Some(_), _) => None,
        (None, Some(name)) => Some(load_release(name)?),
        // A VBR scenario with nothing named runs against the newest VBR revision on tape.
        (None, None) if args.cassettes.is_empty() && scenario.api == Api::Vbr => Some(load_release(VBR_DEFAULT)?),
        (None, None) => Some(load_cassettes(&args.cassettes, true)?),
    };
    if args.target.is_some() && credentials.is_none() && needs_credentials(&scenario) {
        return Err(Failure::bad_input(
            "this scenario logs on (a step has `auth:`); pass --user NAME --password-env VAR for the target",
        ));
    }
    runtime(Some(1))?.block_on(async move {
        let (base_url, target, mock) = match (&args.target, cassettes) {
            (Some(url), _) => {
                let base = server_url("--target", url)?;
                (base.clone(), base, None)
            }
            (None, Some(cassettes)) => {
                let names: Vec<String> = cassettes.iter().map(|c| c.name.clone()).collect();
                let server = Server::bind("127.0.0.1:0", None)
                    .await
                    .map_err(|e| Failure::network(format!("cannot start the built-in mock: {e}")))?;
                let base = server.base_url();
                let coverage = args.coverage.wanted();
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let stopped = async move {
                    let _ = stopped.await;
                };
                let (task, mock) = if super::serve::api_of(None, &cassettes)? == Api::Vbr {
                    let options =
                        VbrOptions { log_misses: true, coverage, spec: spec.clone(), ..VbrOptions::default() };
                    let vbr = Arc::new(VbrMock::new(super::serve::in_memory(cassettes)?, options));
                    (tokio::spawn(server.run(vbr.clone(), ServerOptions::default(), stopped)), Served::Vbr(vbr))
                } else {
                    let mock = Arc::new(Mock::new(
                        cassettes,
                        MockOptions { log_misses: true, coverage, ..MockOptions::default() },
                    ));
                    (tokio::spawn(server.run(mock.clone(), ServerOptions::default(), stopped)), Served::Em(mock))
                };
                let label = match &args.release {
                    Some(r) => format!("release {r} on tape"),
                    None if args.cassettes.is_empty() && scenario.api == Api::Vbr => {
                        format!("release {VBR_DEFAULT} on tape")
                    }
                    None if args.cassettes.is_empty() => "reference cassettes".to_owned(),
                    None => names.join(", "),
                };
                (base.clone(), format!("{base} (built-in mock: {label})"), Some((stop, task, mock)))
            }
            (None, None) => unreachable!("cassettes are loaded whenever there is no target"),
        };
        let recorder = match &args.record {
            Some(path) => Some(
                Recorder::create(path, &base_url, &redact)
                    .map_err(|e| Failure::bad_input(format!("cannot write the cassette {}: {e}", path.display())))?,
            ),
            None => None,
        };
        let credentials = credentials.or_else(|| {
            mock.as_ref().map(|_| Credentials { user: "emtape".into(), password: Secret::new("emtape".into()) })
        });
        let secret_names = redact.headers.iter().chain(&redact.json).cloned().collect();
        let options = RunOptions {
            client: &client,
            base_url,
            target,
            vars,
            credentials,
            recorder: recorder.as_ref(),
            secret_names,
            spec: spec.as_deref(),
        };
        let report = runner::run(&scenario, options).await;
        let mut served = None;
        if let Some((stop, task, mock)) = mock {
            let _ = stop.send(());
            let _ = task.await;
            served = Some(mock);
        }
        if let (Some(recorder), Some(path)) = (&recorder, &args.record) {
            match recorder.finish() {
                Ok(n) => eprintln!("emtape: {}", crate::record::written(n, path)),
                Err(e) => eprintln!("error: {e}"),
            }
        }
        print!("{}", report::text(&report, Style::for_stdout()));
        write_report(args.junit.as_deref(), &report::junit(&report))?;
        write_report(args.json.as_deref(), &report::json(&report))?;
        write_report(args.html.as_deref(), &report::html::run(&report))?;
        match &served {
            Some(Served::Em(mock)) => {
                super::serve::coverage(&args.coverage, mock, &format!("emtape run {}", report.scenario))?
            }
            Some(Served::Vbr(mock)) => super::serve::vbr_coverage(&args.coverage, mock)?,
            None if args.coverage.wanted() => {
                eprintln!(
                    "warning: --coverage: a --target's surface is not known to emtape; run against the built-in mock"
                )
            }
            None => {}
        }
        Ok(exit_for(&report))
    })
}

fn exit_for(report: &RunReport) -> Exit {
    if report.steps.iter().any(|s| s.outcome == Outcome::Error) {
        Exit::Network
    } else if report.passed {
        Exit::Success
    } else {
        Exit::Failed
    }
}

fn write_report(path: Option<&Path>, text: &str) -> Result<(), Failure> {
    match path {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", p.display())))
        }
        None => Ok(()),
    }
}

/// The scenario's variables with `--var` overrides; an unknown name is an error with a hint, and
/// a value its place cannot take (`poll_interval=fast`) is refused before anything runs.
pub(super) fn variables(scenario: &Scenario, overrides: &[String]) -> Result<HashMap<String, String>, Failure> {
    let mut vars: HashMap<String, String> = scenario.vars.iter().cloned().collect();
    for o in overrides {
        let Some((name, value)) = o.split_once('=') else {
            return Err(Failure::bad_input(format!("--var {o}: write NAME=VALUE")));
        };
        if !vars.contains_key(name) {
            let known: Vec<&str> = scenario.vars.iter().map(|(n, _)| n.as_str()).collect();
            let hint = match did_you_mean(name, known.iter().copied()) {
                Some(k) => format!("did you mean `{k}`?"),
                None => format!("its variables are: {}", known.join(", ")),
            };
            return Err(Failure::bad_input(format!(
                "--var {o}: scenario {} has no variable `{name}`; {hint}",
                scenario.file
            )));
        }
        vars.insert(name.to_owned(), value.to_owned());
    }
    scenario.check_values(&vars).map_err(|e| Failure::bad_input(e.to_string()))?;
    Ok(vars)
}

fn credentials(args: &RunArgs) -> Result<Option<Credentials>, Failure> {
    let Some(user) = &args.user else { return Ok(None) };
    let password = match &args.password_env {
        Some(var) => std::env::var(var)
            .map_err(|_| Failure::bad_input(format!("--password-env {var}: the environment variable is not set")))?,
        None => {
            return Err(Failure::bad_input(
                "--user needs --password-env VAR: the password is read from the environment, never from the command line",
            ));
        }
    };
    Ok(Some(Credentials { user: user.clone(), password: Secret::new(password) }))
}

fn needs_credentials(scenario: &Scenario) -> bool {
    scenario.steps.iter().chain(&scenario.finally).any(|s| s.auth.is_some())
}
