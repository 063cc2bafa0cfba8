//! `emtape record`: a reverse proxy in front of a real EM that writes a cassette.

use std::sync::Arc;
use std::time::Duration;

use super::serve::{announce, listen_tls, write_minted};
use super::{Exit, Failure, output_folder, runtime, server_url, stop_signal};
use crate::cassette::Cassette;
use crate::cassette::template::Template;
use crate::cli::{FailOn, RecordArgs, RecordMode};
use crate::http::client::Client;
use crate::http::server::{Server, ServerOptions};
use crate::http::tls::{self, Trust};
use crate::mock::{Mock, MockOptions};
use crate::record::forward;
use crate::record::proxy::{Mode, Proxy};
use crate::record::{Recorder, RedactConfig};

pub(super) fn record(args: RecordArgs) -> Result<Exit, Failure> {
    output_folder("--out", &args.out)?;
    let upstream = match (&args.upstream, &args.only) {
        (Some(u), _) => server_url("--upstream", u)?,
        (None, Some(only)) => forward::origin(only),
        (None, None) => return Err(Failure::bad_input("give --upstream URL (or --forward --only HOST)".to_owned())),
    };
    if args.forward && args.mode != RecordMode::New {
        return Err(Failure::bad_input("--forward records a new cassette (--mode new)".to_owned()));
    }
    let ca = if args.forward {
        let read = |path: &Option<std::path::PathBuf>, what: &str| -> Result<Option<String>, Failure> {
            path.as_ref()
                .map(|p| {
                    std::fs::read_to_string(p)
                        .map_err(|e| Failure::bad_input(format!("cannot read the {what} {}: {e}", p.display())))
                })
                .transpose()
        };
        let (key, cert) = (read(&args.ca_key, "CA key")?, read(&args.ca_cert, "CA certificate")?);
        let ca = forward::ForwardCa::new(key.as_deref(), cert.as_deref()).map_err(|e| {
            let named = args.ca_cert.as_ref().or(args.ca_key.as_ref()).map(|p| format!("{}: ", p.display()));
            Failure::bad_input(format!("{}{e}", named.unwrap_or_default()))
        })?;
        Some(Arc::new(ca))
    } else {
        None
    };
    let redact = match &args.redact {
        Some(p) => RedactConfig::load(p).map_err(Failure::bad_input)?,
        None => RedactConfig::default(),
    };
    if args.insecure_upstream {
        eprintln!("warning: --insecure-upstream: the upstream's certificate is not checked");
    }
    let trust = Trust { ca_files: args.upstream_ca.clone(), insecure: args.insecure_upstream };
    let client_tls = tls::client(&trust).map_err(|e| Failure::bad_input(e.to_string()))?;
    let client = Client::new(Some(client_tls))
        .with_timeout(Duration::from_secs(args.timeout))
        .with_trust_hint(
            "neither the system trust store nor --upstream-ca holds its CA: pass the CA with --upstream-ca (or add it to the system store), or --insecure-upstream",
        );
    let (listen, minted) = listen_tls(&args.tls)?;
    // Read before anything is written: a bad document leaves the cassette as it was.
    let spec = super::load_spec(args.spec.as_deref())?;
    let existing = match args.mode {
        RecordMode::New => None,
        RecordMode::Append if !args.out.exists() => None,
        RecordMode::Append if crate::cassette::pack::is_pack_file(&args.out) => {
            return Err(Failure::bad_input(format!(
                "--mode append: {} is a pack, which `emtape pack` writes whole; record into a YAML cassette and pack \
                 it again",
                args.out.display()
            )));
        }
        RecordMode::Append | RecordMode::ReplayOnly => {
            let loaded = Cassette::load(&args.out).map_err(|e| Failure::bad_input(e.to_string()))?;
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            // The recorder replays with EM's mock; a VBR cassette would be answered as EM.
            if loaded.cassette.meta.api.as_deref().and_then(crate::vbr::Api::parse) == Some(crate::vbr::Api::Vbr) {
                return Err(Failure::bad_input(format!(
                    "--mode {}: {} holds VBR REST traffic, which the recorder does not replay yet; replay it with \
                     `emtape serve {}`, or record anew (--mode new)",
                    if args.mode == RecordMode::Append { "append" } else { "replay-only" },
                    args.out.display(),
                    args.out.display()
                )));
            }
            Some(loaded)
        }
    };
    let cannot_write =
        |e: std::io::Error| Failure::bad_input(format!("cannot write the cassette {}: {e}", args.out.display()));
    let (recorder, mock, mode) = match (args.mode, existing) {
        (RecordMode::ReplayOnly, Some(loaded)) => (
            None,
            Some(Mock::new(vec![loaded], MockOptions { log_misses: true, ..MockOptions::default() })),
            Mode::ReplayOnly,
        ),
        (RecordMode::Append, Some(loaded)) => {
            let last_seq = loaded.cassette.exchanges.iter().map(|e| e.seq).max().unwrap_or(0);
            let sessions = session_count(&loaded.cassette);
            let recorder = Recorder::append(&args.out, &upstream, &redact, loaded.cassette.meta.clone(), last_seq)
                .map_err(cannot_write)?;
            recorder.number_sessions_from(sessions + 1);
            (
                Some(Arc::new(recorder)),
                Some(Mock::new(vec![loaded], MockOptions { log_misses: true, ..MockOptions::default() })),
                Mode::Append,
            )
        }
        _ => {
            let recorder = Recorder::create(&args.out, &upstream, &redact).map_err(cannot_write)?;
            if let Some(api) = args.api {
                recorder.name_api(api);
            }
            let recorder = match spec {
                Some(spec) => recorder.checking(spec),
                None => recorder,
            };
            let recorder = match &args.compare {
                Some(path) => {
                    let reference = Cassette::load(path).map_err(|e| Failure::bad_input(e.to_string()))?;
                    recorder.comparing(reference)
                }
                None => recorder,
            };
            (Some(Arc::new(recorder)), None, Mode::New)
        }
    };
    if args.compare.is_some() && mode != Mode::New {
        return Err(Failure::bad_input("--compare compares what a new recording records (--mode new)".to_owned()));
    }
    let spool_dir = super::folder_of(&args.out);
    let proxy = Proxy {
        upstream: upstream.clone(),
        client,
        recorder: recorder.clone(),
        mock,
        mode,
        spool_dir,
        max_buffer: args.max_buffer,
        verbose: args.verbose,
        failures: Default::default(),
    };
    if let Some(ca) = ca {
        return forward_proxy(&args, ca, proxy, recorder, &upstream);
    }
    runtime(args.threads)?.block_on(async move {
        let server = Server::bind(&args.listen, listen)
            .await
            .map_err(|e| Failure::network(format!("cannot listen on {}: {e}", args.listen)))?;
        write_minted(minted)?;
        let stop = stop_signal();
        announce(&server.base_url());
        let what = match mode {
            Mode::New => "recording",
            Mode::Append => "appending",
            Mode::ReplayOnly => "replaying (upstream untouched)",
        };
        eprintln!(
            "emtape: {what} {} -> {upstream} into {}{}",
            server.base_url(),
            args.out.display(),
            replacing(mode, &args.out)
        );
        let proxy = Arc::new(proxy);
        server.run(proxy.clone(), ServerOptions { max_body: args.max_body }, stop).await;
        let exit = summary(recorder.as_deref(), &proxy, &args.out, None)?;
        match recorder.as_deref().and_then(Recorder::compared) {
            Some(report) => compared(&args, &report, exit),
            None => Ok(exit),
        }
    })
}

/// `--compare`: the drift seen, on stdout as `diff` prints it and in the files asked for; exit
/// 1 at `--fail-on`.
fn compared(args: &RecordArgs, report: &crate::diff::DiffReport, exit: Exit) -> Result<Exit, Failure> {
    use crate::diff::Severity;
    let threshold = match args.fail_on {
        FailOn::Breaking => Some(Severity::Breaking),
        FailOn::Additive => Some(Severity::Additive),
        FailOn::Any => Some(Severity::Cosmetic),
        FailOn::Coverage => Some(Severity::Coverage),
        FailOn::Never => None,
    };
    print!("{}", crate::report::diff::text(report, crate::report::Style::for_stdout()));
    let write = |path: &std::path::Path, text: String| {
        std::fs::write(path, text).map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))
    };
    let failed = threshold.is_some_and(|t| report.fails(t));
    if let Some(path) = &args.json {
        write(path, crate::report::diff::json(report))?;
    }
    if let Some(path) = &args.junit {
        write(path, crate::report::diff::junit(report, threshold))?;
    }
    if let Some(path) = &args.html {
        write(path, crate::report::html::diff(report, failed))?;
    }
    Ok(if failed { Exit::Failed } else { exit })
}

/// Completes the cassette and says what was recorded; nothing recorded while requests came is a
/// failure, with its likely cause: the upstream never answered, or (forward) the client's EM
/// was another host than `--only` named, listed in `passed`.
fn summary(
    recorder: Option<&Recorder>,
    proxy: &Proxy,
    out: &std::path::Path,
    passed: Option<(&str, &forward::Passed)>,
) -> Result<Exit, Failure> {
    let Some(recorder) = recorder else { return Ok(Exit::Success) };
    let n = recorder.finish().map_err(Failure::bad_input)?;
    eprintln!("emtape: {}", crate::record::written(n, out));
    if n > 0 {
        return Ok(Exit::Success);
    }
    let (failed, first) = proxy.failures();
    if failed > 0 {
        eprintln!(
            "emtape: nothing was recorded: all {failed} requests failed to reach the upstream; the first: {}",
            first.unwrap_or_default()
        );
        return Ok(Exit::Failed);
    }
    if let Some((only, passed)) = passed {
        let hosts = passed.hosts();
        if !hosts.is_empty() {
            let list: Vec<String> = hosts.iter().take(5).map(|(h, n)| format!("{h} ({n})")).collect();
            eprintln!(
                "emtape: nothing was recorded: --only names {only}, and the client went to {} instead; give --only the EM as the client addresses it",
                list.join(", ")
            );
            return Ok(Exit::Failed);
        }
    }
    Ok(Exit::Success)
}

/// A new recording over a cassette already there replaces it, but only once an exchange is
/// recorded: the start says so, and how to add to it instead.
fn replacing(mode: Mode, out: &std::path::Path) -> &'static str {
    let holds = std::fs::metadata(out).is_ok_and(|m| m.len() > 0);
    if mode == Mode::New && holds {
        " (replacing it once the first exchange is recorded; --mode append adds to it instead)"
    } else {
        ""
    }
}

/// Writes a file only its owner may read (a private key), replacing any there.
fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(contents)
}

/// `record --forward`: the CONNECT listener in front of the recording proxy.
fn forward_proxy(
    args: &RecordArgs,
    ca: Arc<forward::ForwardCa>,
    proxy: Proxy,
    recorder: Option<Arc<Recorder>>,
    upstream: &str,
) -> Result<Exit, Failure> {
    if let Some(path) = &args.ca_out {
        let key = path.with_extension("key");
        std::fs::write(path, ca.cert_pem())
            .and_then(|()| write_private(&key, ca.key_pem().as_bytes()))
            .map_err(|e| Failure::bad_input(format!("cannot write the CA to {}: {e}", path.display())))?;
    }
    let recorded = forward::origin(upstream);
    runtime(args.threads)?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| Failure::network(format!("cannot listen on {}: {e}", args.listen)))?;
        let local = listener.local_addr().map_err(|e| Failure::network(e.to_string()))?;
        announce(&format!("http://{local}"));
        let trust = if recorded.starts_with("http://") {
            String::new()
        } else {
            args.ca_out.as_ref().map_or_else(
                || " (give --ca-out FILE to have its CA to trust)".to_owned(),
                |p| format!("; clients trust the CA in {}", p.display()),
            )
        };
        eprintln!(
            "emtape: forward proxy on {local}: recording {recorded} into {}{}{trust}",
            args.out.display(),
            replacing(Mode::New, &args.out)
        );
        let proxy = Arc::new(proxy);
        let passed = Arc::new(forward::Passed::default());
        forward::serve(listener, ca, recorded.clone(), proxy.clone(), passed.clone(), args.max_body, stop_signal())
            .await;
        summary(recorder.as_deref(), &proxy, &args.out, Some((&recorded, &passed)))
    })
}

/// The highest logon session number a cassette uses.
fn session_count(cassette: &Cassette) -> u32 {
    cassette
        .exchanges
        .iter()
        .flat_map(|e| {
            e.response.headers.iter().chain(e.request.headers.iter()).map(|(_, v)| v.to_owned()).collect::<Vec<_>>()
        })
        .flat_map(|v| Template::parse(&v).sessions().collect::<Vec<_>>())
        .max()
        .unwrap_or(0)
}
