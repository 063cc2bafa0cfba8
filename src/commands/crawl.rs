//! `emtape crawl`: the command around [`crate::crawl`]: flags, the cassette, the summary.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use super::{Exit, Failure, output_folder, plural, runtime};
use crate::cli::{CrawlArgs, CrawlRepr};
use crate::crawl::{CrawlOptions, crawl as run_crawl};
use crate::em::Repr;
use crate::http::client::Client;
use crate::http::tls::{self, Trust};
use crate::record::{Recorder, RedactConfig};
use crate::vbr::Api;
use crate::vbr::crawl::VbrCrawl;

/// `crawl --api vbr`: the VBR read surface, from its OpenAPI document or the revision on tape.
fn crawl_vbr(
    args: &CrawlArgs,
    client: Arc<Client>,
    recorder: Arc<Recorder>,
    base: String,
    password: String,
) -> Result<Exit, Failure> {
    let spec = super::load_spec(args.spec.as_deref())?;
    recorder.name_api(Api::Vbr);
    let options = VbrCrawl {
        base,
        user: args.user.clone(),
        password,
        revision: args
            .api_version
            .clone()
            .or_else(|| spec.as_ref().and_then(|s| s.version.clone()))
            .unwrap_or_else(|| "1.3-rev1".into()),
        templates: crate::vbr::crawl::templates_of(spec.as_deref()),
        max_requests: args.max_requests,
        sample: args.sample.max(1),
        concurrency: args.concurrency.max(1),
        rate: args.rate,
    };
    let crawled = runtime(None)?.block_on(crate::vbr::crawl::crawl(client, recorder.clone(), &options));
    let written = recorder.finish().map_err(Failure::bad_input)?;
    let crawled = crawled.map_err(|e| Failure::network(format!("crawl of {}: {e}", options.base)))?;
    println!(
        "emtape crawl {} -> {}: {}, {} recorded, {} refused",
        options.base,
        args.out.display(),
        plural(crawled.requests, "request"),
        plural(usize::try_from(written).unwrap_or(usize::MAX), "exchange"),
        crawled.refused.len()
    );
    for r in crawled.refused.iter().take(10) {
        println!("  refused: {r}");
    }
    Ok(Exit::Success)
}

pub(super) fn crawl(args: CrawlArgs) -> Result<Exit, Failure> {
    super::small_pages();
    output_folder("--out", &args.out)?;
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
    if args.api == Some(Api::Vbr) {
        return crawl_vbr(&args, client, recorder, base, password);
    }
    let terminal = std::io::stderr().is_terminal();
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
        progress: Some(if terminal { Duration::from_millis(200) } else { Duration::from_secs(5) }),
        stop: Arc::default(),
        spool_dir: super::folder_of(&args.out),
    };
    let (stop, spools) = (options.stop.clone(), options.spool_dir.clone());
    let report = runtime(None)?.block_on(async {
        // Ctrl-C once: finish what is in flight, log out, report. Twice: leave at once (the
        // cassette is written exchange by exchange and loads either way), spools removed.
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("emtape: crawl: stopping (Ctrl-C again to leave at once)");
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
                if tokio::signal::ctrl_c().await.is_ok() {
                    crate::crawl::remove_spools(&spools);
                    std::process::exit(130);
                }
            }
        });
        run_crawl(client, recorder.clone(), &options).await
    });
    // None is left once every holder has let go; any that is left is nobody's.
    crate::crawl::remove_spools(&options.spool_dir);
    let written = recorder.finish().map_err(Failure::bad_input)?;
    println!(
        "emtape crawl {} -> {}: {}, {} recorded",
        options.base,
        args.out.display(),
        plural(report.requests, "request"),
        plural(usize::try_from(written).unwrap_or(usize::MAX), "exchange")
    );
    if written == 0 && args.out.exists() {
        println!("{} is left as it was", args.out.display());
    }
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
    if report.interrupted {
        println!("interrupted: links were left unfollowed; the cassette holds what was answered");
        return Ok(Exit::Interrupted);
    }
    if let Some(refusal) = &report.refused {
        // Nothing could be crawled, as with a target that does not answer.
        println!("{refusal}");
        return Ok(Exit::Network);
    }
    let failures = report.failures();
    let logged_on = report.by_type.get("LogonSession").is_some_and(|(ok, _)| *ok > 0);
    if !logged_on {
        println!("could not log on: nothing was crawled");
    } else if failures == 0 {
        println!("every link answered");
    } else {
        println!("{failures} of {} failed", plural(report.requests, "request"));
    }
    // No answer to the logon (a dead target, an untrusted certificate) is a network failure,
    // as in `run`; a link that fails on the way is a failure named above.
    Ok(if !logged_on && report.unanswered > 0 {
        Exit::Network
    } else if failures == 0 {
        Exit::Success
    } else {
        Exit::Failed
    })
}
