//! The `emtape` binary: parse arguments, run the command, turn the outcome into an exit code.
#![forbid(unsafe_code)]

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc, for the allocation-heavy model of a large estate (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The library never prints; its diagnostics are `log` records, which the binary writes to
/// stderr as they are (`emtape: ...`). The crawl's progress rewrites one line on a terminal.
struct Stderr {
    terminal: bool,
}

impl log::Log for Stderr {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        if !record.target().starts_with("emtape") {
            return;
        }
        let line = record.args().to_string();
        if record.target() == emtape::crawl::PROGRESS {
            match (self.terminal, line.is_empty()) {
                (true, _) => eprint!("\r\x1b[K{line}"),
                (false, false) => eprintln!("{line}"),
                (false, true) => {}
            }
        } else {
            eprintln!("{line}");
        }
    }

    fn flush(&self) {}
}

fn main() -> ExitCode {
    let logger = Box::leak(Box::new(Stderr { terminal: std::io::stderr().is_terminal() }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    let cli = emtape::cli::Cli::parse();
    match emtape::commands::run(cli) {
        Ok(exit) => exit.into(),
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit.into()
        }
    }
}
