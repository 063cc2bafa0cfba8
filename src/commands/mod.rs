//! The commands: each wires the library's pieces together for one job and says how it ended.

mod crawl;
mod diff;
mod fmt;
mod har;
mod lint;
mod matrix;
mod pack;
mod record;
mod run;
mod serve;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// How a command ended, as the process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything passed.
    Success = 0,
    /// A check failed (an assertion, a contract, unused exchanges under `--strict`).
    Failed = 1,
    /// Bad usage, or a file that cannot be read or understood.
    BadInput = 2,
    /// The network or TLS failed.
    Network = 3,
    /// The user stopped it (Ctrl-C) before it was done; what it did is kept.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// A command that could not do its job, with the exit code that says why.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn bad_input(message: impl Into<String>) -> Failure {
        Failure { exit: Exit::BadInput, message: message.into() }
    }

    pub fn network(message: impl Into<String>) -> Failure {
        Failure { exit: Exit::Network, message: message.into() }
    }
}

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> Result<Exit, Failure> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Serve(args) => serve::serve(args),
        Command::Record(args) => record::record(args),
        Command::Diff(args) => diff::diff(args),
        Command::Fmt(args) => fmt::fmt(args),
        Command::Lint(args) => lint::lint(args),
        Command::Pack(args) => pack::pack(args),
        Command::Crawl(args) => crawl::crawl(args),
        Command::Import(args) => har::import(args),
        Command::Export(args) => har::export(args),
        Command::Matrix(args) => matrix::matrix(args),
        Command::Completions { shell } => {
            let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut command, "emtape", &mut text);
            print_all(&text)
        }
        Command::Man { subcommand, dir } => man(subcommand.as_deref(), dir.as_deref()),
    }
}

/// `emtape man`: the main page, a subcommand's (`emtape-run(1)`, which the main page names), or
/// every page written into `dir`.
fn man(subcommand: Option<&str>, dir: Option<&std::path::Path>) -> Result<Exit, Failure> {
    let mut command = <crate::cli::Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    command.build();
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(command, dir))
            .map_err(|e| Failure::bad_input(format!("cannot write the manual pages to {}: {e}", dir.display())))?;
        eprintln!("emtape: manual pages written to {}", dir.display());
        return Ok(Exit::Success);
    }
    let page = match subcommand {
        None => command,
        Some(name) => match command.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = command.get_subcommands().map(clap::Command::get_name).collect();
                let hint = crate::diagnostic::did_you_mean(name, names.iter().copied()).map_or_else(
                    || format!("the subcommands are {}", names.join(", ")),
                    |n| format!("did you mean {n}?"),
                );
                return Err(Failure::bad_input(format!("emtape man {name}: no such subcommand; {hint}")));
            }
        },
    };
    let mut text = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut text)
        .map_err(|e| Failure::bad_input(format!("cannot render the manual page: {e}")))?;
    print_all(&text)
}

/// Asks for small pages for the rest of the process: serve, lint and diff read a large estate's
/// bodies and build its model, and crawl receives the large bodies it records, gigabytes touched
/// for the first time. With transparent huge pages each first touch cleared 2 MB, and the
/// kernel's time varied from 2 to 6 s from run to run once the page cache held the estate: serve
/// of the 0.1 estate reached its first entity in 6.2-6.8 s with them and 5.1-5.4 s without, lint
/// took 8.7 s and 7.5-7.7 s. None of these commands starts another program, which would inherit
/// it.
fn small_pages() {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
}

/// A tokio runtime with `threads` workers (one per available core by default).
fn runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime, Failure> {
    let threads = threads.unwrap_or_else(crate::parallel::cores).max(1);
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    builder.enable_all().build().map_err(|e| Failure::bad_input(format!("cannot start the runtime: {e}")))
}

/// An EM given on the command line as `scheme://host:port`; `https://em:9398/` and
/// `https://em:9398/api` mean the same server.
fn server_url(flag: &str, url: &str) -> Result<String, Failure> {
    let trimmed = url.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api").unwrap_or(trimmed);
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) || trimmed.contains(char::is_whitespace) {
        return Err(Failure::bad_input(format!("{flag} {url}: give the EM as http(s)://host:port")));
    }
    Ok(trimmed.to_owned())
}

/// Checks that the folder of a file the command will write (`--out`, `--record`) exists, before
/// anything is listened on or sent: a mistyped path must neither grow a tree of folders nor
/// fail once the work is done.
fn output_folder(flag: &str, path: &std::path::Path) -> Result<(), Failure> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else { return Ok(()) };
    let problem = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => "is not a folder",
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist",
        Err(_) => "cannot be read",
    };
    Err(Failure::bad_input(format!("{flag} {}: the folder {} {problem}", path.display(), dir.display())))
}

/// The folder `out` is written in, where a large body is spooled beside it (`.` for a bare name).
fn folder_of(out: &std::path::Path) -> std::path::PathBuf {
    out.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| ".".into(), |p| p.to_owned())
}

/// Writes generated text to stdout; a reader that stops early (`| head`) is no error.
fn print_all(text: &[u8]) -> Result<Exit, Failure> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::bad_input(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(Exit::Success),
    }
}

/// Completes on SIGINT or SIGTERM. The handlers are installed when it is called, not when it
/// is first awaited: call it before printing `listening on`, or a signal sent right after that
/// line kills the process instead of stopping it cleanly. Needs the runtime.
pub(crate) fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, int) {
                (Some(mut term), Some(mut int)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `1 request`, `2 requests`.
pub(crate) fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The OpenAPI document a `--spec` names, read (a bad one is bad input, with its place).
pub(super) fn load_spec(
    path: Option<&std::path::Path>,
) -> Result<Option<std::sync::Arc<crate::openapi::Spec>>, Failure> {
    path.map(|p| crate::openapi::Spec::load(p).map(std::sync::Arc::new).map_err(|d| Failure::bad_input(d.to_string())))
        .transpose()
}
