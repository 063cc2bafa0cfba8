//! `emtape crawl`: the command around [`crate::crawl`]: flags, the cassette, the summary.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use super::{Exit, Failure, runtime};
use crate::cli::{CrawlArgs, CrawlRepr};
use crate::crawl::{CrawlOptions, crawl as run_crawl};
use crate::em::Repr;
use crate::http::client::Client;
use crate::http::tls::{self, Trust};
use crate::record::{Recorder, RedactConfig};

pub(super) fn crawl(args: CrawlArgs) -> Result<Exit, Failure> {
    let password = std::env::var(&args.password_env).map_err(|_| {
        Failure::bad_input(format!("--password-env {}: the environment variable is not set", args.password_env))
    })?;
    if args.insecure {
        eprintln!("warning: --insecure: the target's certificate is not checked");
    }
    let trust = Trust { ca_files: args.ca.clone(), insecure: args.insecure };
    let tls = tls::client(&trust).map_err(|e| Failure::bad_input(e.to_string()))?;
    let client = Arc::new(Client::new(Some(tls)).with_timeout(Duration::from_secs(args.timeout)));
    let base = args.target.trim_end_matches('/').to_owned();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(Failure::bad_input(format!(
            "--target {}: give the EM's base URL, like https://em:9398",
            args.target
        )));
    }
    let recorder = Recorder::create(&args.out, &base, &RedactConfig::default())
        .map_err(|e| Failure::bad_input(format!("cannot write the cassette {}: {e}", args.out.display())))?;
    let recorder = Arc::new(recorder);
    let options = CrawlOptions {
        base,
        user: args.user.clone(),
        password,
        reprs: match args.repr {
            CrawlRepr::Xml => vec![Repr::Xml],
            CrawlRepr::Json => vec![Repr::Json],
            CrawlRepr::Both => vec![Repr::Xml, Repr::Json],
        },
        max_requests: args.max_requests,
        depth: args.depth,
        sample: args.sample.max(1),
        concurrency: args.concurrency.max(1),
        rate: args.rate,
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        progress: Some(if std::io::stderr().is_terminal() { Duration::from_secs(1) } else { Duration::from_secs(5) }),
    };
    let report = runtime(None)?.block_on(run_crawl(client, recorder.clone(), &options));
    let written = recorder.finish().map_err(Failure::bad_input)?;
    println!(
        "emtape crawl {} -> {}: {} requests, {written} exchanges recorded",
        options.base,
        args.out.display(),
        report.requests
    );
    for (kind, (ok, failed)) in &report.by_type {
        println!(
            "  {kind:<36} {ok:>5} answered{}",
            if failed.is_empty() { String::new() } else { format!(", {} failed", failed.len()) }
        );
        for f in failed.iter().take(5) {
            println!("      {f}");
        }
        if failed.len() > 5 {
            println!("      … and {} more", failed.len() - 5);
        }
    }
    if report.stopped_at_max {
        println!("stopped at --max-requests {}: links were left unfollowed", args.max_requests);
    }
    let failures = report.failures();
    println!("{}", if failures == 0 { "every link answered".to_owned() } else { format!("{failures} links failed") });
    Ok(if failures == 0 { Exit::Success } else { Exit::Failed })
}
