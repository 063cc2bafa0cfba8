//! `emtape serve`: the mock Enterprise Manager on a socket, checking clients against a scenario
//! when asked.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Exit, Failure, runtime, stop_signal};
use crate::cassette::{self, Cassette, LoadedCassette};
use crate::cli::{CheckArgs, ListenTls, ServeArgs};
use crate::clientcheck::{CheckOptions, Checker};
use crate::http::server::{Server, ServerOptions};
use crate::http::tls::{self, ServerTls};
use crate::mock::{Mock, MockOptions};
use crate::report::Style;
use crate::scenario::{Scenario, parse_duration};
use crate::vbr::{Api, VbrMock, VbrOptions};

pub(super) fn serve(args: ServeArgs) -> Result<Exit, Failure> {
    super::small_pages();
    let cassettes = match &args.release {
        Some(name) => load_release(name)?,
        // `serve --api vbr` alone serves the newest VBR revision on tape.
        None if args.cassettes.is_empty() && args.api == Some(Api::Vbr) => load_release("vbr-1.3-rev1")?,
        None => load_cassettes(&args.cassettes, true)?,
    };
    // A body that does not parse is served as recorded, but a client will choke on it: said
    // at start, as `emtape lint` reports it.
    for d in crate::parallel::map(&cassettes, LoadedCassette::unparsable_bodies).into_iter().flatten() {
        eprintln!("warning: {}:{}:{}: {}", d.file, d.line, d.column, d.message);
    }
    let (tls, minted) = listen_tls(&args.tls)?;
    if api_of(args.api, &cassettes)? == Api::Vbr {
        return serve_vbr(args, in_memory(cassettes)?, tls, minted);
    }
    if args.spec.is_some() {
        return Err(Failure::bad_input("--spec: EM has no OpenAPI document; --spec checks VBR REST bodies".to_owned()));
    }
    let check = check_options(&args.check)?;
    let plain = args.check.scenario.is_none();
    let users = users_of(&args)?;
    let options = MockOptions {
        users: users.into(),
        coverage: args.coverage.wanted() || args.strict,
        session_timeout: Duration::from_secs(args.session_timeout),
        max_sessions: args.max_sessions,
        log_requests: args.verbose,
        log_misses: true,
        // With a scenario, the checker shapes the run (per session, with its report).
        running_polls: check.running_polls.filter(|_| plain),
        latency: check.latency.filter(|_| plain),
        ..MockOptions::default()
    };
    let scenario = match &args.check.scenario {
        Some(path) => Some(Scenario::load(path).map_err(|e| Failure::bad_input(e.to_string()))?),
        None => None,
    };
    runtime(args.threads)?.block_on(async move {
        let server = bind(&args.listen, tls, minted).await?;
        let (names, count) = described(&cassettes);
        let mock = Mock::new(cassettes, options);
        let shadowed = mock.shadowed();
        if let Some((file, line, _)) = shadowed.first() {
            eprintln!(
                "warning: {} recorded exchanges can never be served: an earlier cassette answers the same request \
                 first ({file}:{line}, and `emtape lint` lists them all); serve one release at a time",
                shadowed.len()
            );
        }
        let server_options = ServerOptions { max_body: args.max_body };
        let signal = stop_signal();
        let Some(scenario) = scenario else {
            announce(&server.base_url());
            eprintln!("emtape: serving {count} exchanges from {}", names.join(", "));
            let mock = Arc::new(mock);
            server.run(mock.clone(), server_options, signal).await;
            coverage(&args.coverage, &mock, "emtape serve")?;
            return Ok(strict(args.strict, &mock));
        };
        let checker = Arc::new(Checker::new(mock, scenario, check).map_err(Failure::bad_input)?);
        announce(&server.base_url());
        eprintln!(
            "emtape: serving {count} exchanges from {}, checking clients against {}",
            names.join(", "),
            checker.scenario_name()
        );
        for fault in checker.fault_names() {
            eprintln!("emtape: injecting {fault}");
        }
        let until = args.check.until_complete;
        let deadline = args.check.deadline.as_deref().map(|v| duration_arg("--deadline", v)).transpose()?;
        let grace = duration_arg("--grace", &args.check.grace)?;
        let watcher = checker.clone();
        let (timed_out, timed_out_rx) = tokio::sync::oneshot::channel::<()>();
        let stop = async move {
            let expected = async {
                match until {
                    Some(n) => {
                        watcher.until_ended(n).await;
                        // The client's last requests (a final GET after logout) still get answers.
                        tokio::time::sleep(grace).await;
                    }
                    None => std::future::pending().await,
                }
            };
            let deadline = async {
                match deadline {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = signal => {}
                () = expected => {}
                () = deadline => { let _ = timed_out.send(()); }
            }
        };
        server.run(checker.clone(), server_options, stop).await;
        let mut timed_out_rx = timed_out_rx;
        let deadline_passed = deadline.filter(|_| timed_out_rx.try_recv().is_ok());
        let report = checker.report().judged(until, deadline_passed);
        print!("{}", crate::report::check::text(&report, Style::for_stdout()));
        write_file(args.check.junit.as_deref(), &crate::report::check::junit(&report))?;
        write_file(args.check.json.as_deref(), &crate::report::check::json(&report))?;
        write_file(args.check.html.as_deref(), &crate::report::html::check(&report))?;
        coverage(&args.coverage, checker.mock(), &format!("emtape serve --scenario {}", report.scenario))?;
        let used = strict(args.strict, checker.mock());
        Ok(if report.passed && used == Exit::Success { Exit::Success } else { Exit::Failed })
    })
}

/// Who may log on: `--user` flags and the `--users` file.
fn users_of(args: &ServeArgs) -> Result<Vec<crate::mock::User>, Failure> {
    let mut users = args.users.clone();
    if let Some(file) = &args.users_file {
        users.extend(crate::mock::users::load(file).map_err(|e| Failure::bad_input(e.to_string()))?);
    }
    Ok(users)
}

/// The API the cassettes hold: the one `--api` names, or the one they say (all alike).
pub(super) fn api_of(named: Option<Api>, cassettes: &[LoadedCassette]) -> Result<Api, Failure> {
    let said = |c: &LoadedCassette| c.cassette.meta.api.as_deref().and_then(Api::parse).unwrap_or_default();
    let apis: Vec<(Api, &str)> = cassettes.iter().map(|c| (said(c), c.name.as_str())).collect();
    if let Some(((a, first), (b, other))) = apis.iter().zip(apis.iter().skip(1)).find(|((a, _), (b, _))| a != b) {
        return Err(Failure::bad_input(format!(
            "{first} holds {} traffic and {other} {}: serve one API per mock",
            a.title(),
            b.title()
        )));
    }
    let held = apis.first().map(|(a, _)| *a);
    // A cassette says its API by `api:`, or EM's by naming the product.
    let said_so = |c: &LoadedCassette| {
        c.cassette.meta.api.is_some()
            || c.cassette.meta.product.as_deref().is_some_and(|p| p.contains("Enterprise Manager"))
    };
    match (named, held) {
        (Some(n), Some(h)) if n != h && cassettes.iter().any(said_so) => Err(Failure::bad_input(format!(
            "--api {}: the cassettes hold {} traffic (their meta says so)",
            n.name(),
            h.title()
        ))),
        (Some(n), _) => Ok(n),
        (None, h) => Ok(h.unwrap_or_default()),
    }
}

/// The mock VBR server (`serve` of VBR REST cassettes).
fn serve_vbr(
    args: ServeArgs,
    cassettes: Vec<LoadedCassette>,
    tls: Option<ServerTls>,
    minted: Option<Minted>,
) -> Result<Exit, Failure> {
    if args.check.scenario.is_some() {
        return Err(Failure::bad_input(
            "--scenario: checking clients is for EM for now; run a VBR scenario against the mock with `emtape run`"
                .to_owned(),
        ));
    }
    let users = users_of(&args)?;
    let spec = super::load_spec(args.spec.as_deref())?;
    if let Some(s) = &spec {
        eprintln!(
            "emtape: checking bodies against {} ({} operations, version {})",
            s.file,
            s.operation_count(),
            s.version.as_deref().unwrap_or("?")
        );
    }
    let options = VbrOptions {
        spec,
        coverage: args.coverage.wanted() || args.strict,
        token_lifetime: Duration::from_secs(args.session_timeout),
        running_polls: args.check.running_polls.unwrap_or(1),
        users: users.into(),
        log_requests: args.verbose,
        log_misses: true,
        ..VbrOptions::default()
    };
    runtime(args.threads)?.block_on(async move {
        let server = bind(&args.listen, tls, minted).await?;
        let (names, count) = described(&cassettes);
        let mock = Arc::new(VbrMock::new(cassettes, options));
        announce(&server.base_url());
        let revisions = mock.revisions().join(", ");
        eprintln!("emtape: serving VBR REST ({revisions}) from {count} exchanges of {}", names.join(", "));
        server.run(mock.clone(), ServerOptions { max_body: args.max_body }, stop_signal()).await;
        vbr_coverage(&args.coverage, &mock)?;
        Ok(vbr_strict(args.strict, &mock))
    })
}

/// The socket a mock listens on; a certificate minted for it is written out once it does.
async fn bind(listen: &str, tls: Option<ServerTls>, minted: Option<Minted>) -> Result<Server, Failure> {
    let server =
        Server::bind(listen, tls).await.map_err(|e| Failure::network(format!("cannot listen on {listen}: {e}")))?;
    write_minted(minted)?;
    Ok(server)
}

/// The cassettes' names and how many exchanges they hold, for the line that says what is served.
fn described(cassettes: &[LoadedCassette]) -> (Vec<String>, usize) {
    (cassettes.iter().map(|c| c.name.clone()).collect(), cassettes.iter().map(|c| c.cassette.exchanges.len()).sum())
}

/// With `--strict`, the operations on tape no request used (VBR answers are made from the
/// tape per operation, so the operation, not the exchange, is what goes unused); `Failed` if any.
fn vbr_strict(enabled: bool, mock: &VbrMock) -> Exit {
    if !enabled {
        return Exit::Success;
    }
    let c = mock.coverage();
    let unused: Vec<&str> =
        c.recorded.operations.iter().filter(|u| u.count == 0).map(|u| u.operation.as_str()).collect();
    if unused.is_empty() {
        eprintln!("emtape: strict: every operation on tape was used");
        return Exit::Success;
    }
    eprintln!("emtape: strict: {} of {} operations on tape were never used:", unused.len(), c.recorded.total);
    for op in unused {
        eprintln!("  {op}");
    }
    Exit::Failed
}

/// A coverage's text on stderr (`--coverage`) and JSON to its file (`--coverage-json`).
fn text_and_json(args: &crate::cli::CoverageArgs, text: &str, c: &impl serde::Serialize) -> Result<(), Failure> {
    if args.coverage {
        eprint!("{text}");
    }
    write_file(args.coverage_json.as_deref(), &serde_json::to_string_pretty(c).unwrap_or_default())
}

/// A VBR mock's coverage as the flags ask for it: text on stderr, JSON (HTML not yet).
pub(super) fn vbr_coverage(args: &crate::cli::CoverageArgs, mock: &VbrMock) -> Result<(), Failure> {
    if !args.wanted() {
        return Ok(());
    }
    let c = mock.coverage();
    text_and_json(args, &c.text(), &c)?;
    if args.coverage_html.is_some() {
        eprintln!("warning: --coverage-html: not yet for VBR REST; --coverage-json has it all");
    }
    Ok(())
}

/// The coverage the flags ask for: text on stderr, JSON, HTML.
pub(super) fn coverage(args: &crate::cli::CoverageArgs, mock: &Mock, what: &str) -> Result<(), Failure> {
    if !args.wanted() {
        return Ok(());
    }
    let c = mock.coverage();
    text_and_json(args, &c.text(), &c)?;
    write_file(args.coverage_html.as_deref(), &crate::report::html::coverage(&c, what))
}

fn write_file(path: Option<&Path>, text: &str) -> Result<(), Failure> {
    match path {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", p.display())))
        }
        None => Ok(()),
    }
}

fn duration_arg(flag: &str, v: &str) -> Result<Duration, Failure> {
    parse_duration(v).ok_or_else(|| Failure::bad_input(format!("{flag} {v}: not a duration (write 500ms, 1s, 2m)")))
}

/// `--var NAME=VALUE` flags as pairs; a flag without `=` is a usage error.
pub(super) fn var_pairs(vars: &[String]) -> Result<Vec<(String, String)>, Failure> {
    vars.iter()
        .map(|v| {
            v.split_once('=')
                .map(|(n, v)| (n.trim().to_owned(), v.to_owned()))
                .ok_or_else(|| Failure::bad_input(format!("--var {v}: write NAME=VALUE")))
        })
        .collect()
}

fn check_options(args: &CheckArgs) -> Result<CheckOptions, Failure> {
    let duration = duration_arg;
    Ok(CheckOptions {
        running_polls: args.running_polls,
        latency: args.latency.as_deref().map(|v| duration("--latency", v)).transpose()?,
        faults: args.faults.clone(),
        poll_min_interval: args.poll_min_interval.as_deref().map(|v| duration("--poll-min-interval", v)).transpose()?,
        idle: duration("--idle", &args.idle)?,
        vars: var_pairs(&args.vars)?,
        count_calls: false,
    })
}

/// With `--strict`, lists the recorded exchanges no request used; `Failed` if there are any.
fn strict(enabled: bool, mock: &Mock) -> Exit {
    if !enabled {
        return Exit::Success;
    }
    let unused = mock.unused();
    if let Some(repr) = mock.unasked() {
        eprintln!("emtape: strict: no client asked for {}: its exchanges are not counted", repr.name());
    }
    // An answer made from no recording of its own is a verdict on data nobody recorded.
    let unrecorded = mock.unrecorded();
    if !unrecorded.is_empty() {
        eprintln!("emtape: strict: {}", crate::report::check::unrecorded_heading(&unrecorded));
        for u in &unrecorded {
            eprintln!("  {} ({}x): {}", u.request, u.count, u.note);
        }
    }
    if unused.is_empty() {
        eprintln!("emtape: strict: every recorded exchange was used");
        return if unrecorded.is_empty() { Exit::Success } else { Exit::Failed };
    }
    eprintln!("emtape: strict: {} recorded exchanges were never used:", unused.len());
    for line in unused {
        eprintln!("  {line}");
    }
    Exit::Failed
}

/// The first line on stdout, which scripts wait for.
pub(super) fn announce(base_url: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {base_url}");
    let _ = out.flush();
}

/// The built-in cassettes of a release on tape (`--release 11`).
pub(super) fn load_release(name: &str) -> Result<Vec<LoadedCassette>, Failure> {
    match cassette::release(name) {
        Some(loaded) => loaded.map_err(|e| Failure::bad_input(e.to_string())),
        None => {
            // Release numbers are too short for a did-you-mean (14 is one edit from 10): all are named.
            let names = cassette::release_names();
            let vbr = cassette::vbr_release_names();
            Err(Failure::bad_input(format!(
                "--release {name}: no such release on tape; they are {} (EM) and {} (VBR REST)",
                names.join(", "),
                vbr.join(", ")
            )))
        }
    }
}

/// The cassettes with their packs' bodies read into memory: VBR REST answers from bodies in
/// memory.
pub(super) fn in_memory(cassettes: Vec<LoadedCassette>) -> Result<Vec<LoadedCassette>, Failure> {
    cassettes.into_iter().map(|c| c.into_memory().map_err(|e| Failure::bad_input(e.to_string()))).collect()
}

/// The named cassettes, or the built-in reference ones. Warnings go to stderr.
/// `placed`: a pack's response bodies are left in it (for the mock, which reads them by place).
pub(super) fn load_cassettes(paths: &[PathBuf], placed: bool) -> Result<Vec<LoadedCassette>, Failure> {
    let loaded = if paths.is_empty() {
        cassette::reference().map_err(|e| Failure::bad_input(e.to_string()))?
    } else {
        Cassette::load_all(&expand_dirs(paths)?, placed)
            .into_iter()
            .map(|c| c.map_err(|e| Failure::bad_input(e.to_string())))
            .collect::<Result<_, _>>()?
    };
    for c in &loaded {
        for w in &c.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(loaded)
}

/// The paths given, with each folder replaced by the cassettes in it and its subfolders
/// (`*.yaml`, `*.yml`, by path).
pub(super) fn expand_dirs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Failure> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Failure::bad_input(format!("cannot read the folder {}: {e}", dir.display())))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if !p.is_dir() {
            out.push(p.clone());
            continue;
        }
        let before = out.len();
        walk(p, &mut out)?;
        if out.len() == before {
            return Err(Failure::bad_input(format!("{}: a folder with no cassettes (*.yaml) in it", p.display())));
        }
    }
    Ok(out)
}

/// The listening side's TLS, minted or loaded, as the flags ask; with the minted certificate
/// to write to `--tls-cert-out` once listening has succeeded ([`write_minted`]).
pub(super) fn listen_tls(args: &ListenTls) -> Result<(Option<ServerTls>, Option<Minted>), Failure> {
    let bad = |e: tls::TlsError| Failure::bad_input(e.to_string());
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        return tls::server_from_files(cert, key).map(|t| (Some(t), None)).map_err(bad);
    }
    if !args.tls {
        return Ok((None, None));
    }
    let minted = tls::mint_localhost().map_err(bad)?;
    let out = args.tls_cert_out.clone().map(|path| Minted { path, pem: minted.cert_pem.clone() });
    Ok((Some(minted.tls), out))
}

/// A minted certificate a client is to trust, and where it goes.
pub(super) struct Minted {
    path: PathBuf,
    pem: String,
}

/// Writes the minted certificate; called after listening succeeded, so that a failed start
/// leaves no file behind that looks like a running server's.
pub(super) fn write_minted(minted: Option<Minted>) -> Result<(), Failure> {
    let Some(m) = minted else { return Ok(()) };
    std::fs::write(&m.path, &m.pem)
        .map_err(|e| Failure::bad_input(format!("cannot write the certificate to {}: {e}", m.path.display())))
}
