//! `emtape serve`: the mock Enterprise Manager on a socket.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{Exit, Failure, runtime, stop_signal};
use crate::cassette::{self, Cassette, LoadedCassette};
use crate::cli::{ListenTls, ServeArgs};
use crate::http::server::{Server, ServerOptions};
use crate::http::tls::{self, ServerTls};
use crate::replay::{Mock, MockOptions};

pub(super) fn serve(args: ServeArgs) -> Result<Exit, Failure> {
    let cassettes = load_cassettes(&args.cassettes)?;
    let tls = listen_tls(&args.tls)?;
    let options =
        MockOptions { session_timeout: Duration::from_secs(args.session_timeout), log_requests: args.verbose };
    runtime(args.threads)?.block_on(async move {
        let server = Server::bind(&args.listen, tls)
            .await
            .map_err(|e| Failure::network(format!("cannot listen on {}: {e}", args.listen)))?;
        let names: Vec<String> = cassettes.iter().map(|c| c.name.clone()).collect();
        let mock = Arc::new(Mock::new(cassettes, options));
        announce(&server.base_url());
        eprintln!("emtape: serving {} exchanges from {}", mock.exchange_count(), names.join(", "));
        server.run(mock.clone(), ServerOptions { max_body: args.max_body }, stop_signal()).await;
        if !args.strict {
            return Ok(Exit::Success);
        }
        let unused = mock.unused();
        if unused.is_empty() {
            eprintln!("emtape: strict: every recorded exchange was used");
            return Ok(Exit::Success);
        }
        eprintln!("emtape: strict: {} recorded exchanges were never used:", unused.len());
        for line in unused {
            eprintln!("  {line}");
        }
        Ok(Exit::Failed)
    })
}

/// The first line on stdout, which scripts wait for.
pub(super) fn announce(base_url: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {base_url}");
    let _ = out.flush();
}

/// The named cassettes, or the built-in reference ones. Warnings go to stderr.
pub(super) fn load_cassettes(paths: &[PathBuf]) -> Result<Vec<LoadedCassette>, Failure> {
    let loaded = if paths.is_empty() {
        cassette::reference().map_err(|e| Failure::bad_input(e.to_string()))?
    } else {
        paths
            .iter()
            .map(|p| Cassette::load(p).map_err(|e| Failure::bad_input(e.to_string())))
            .collect::<Result<_, _>>()?
    };
    for c in &loaded {
        for w in &c.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(loaded)
}

/// The listening side's TLS, minted or loaded, as the flags ask.
pub(super) fn listen_tls(args: &ListenTls) -> Result<Option<ServerTls>, Failure> {
    let bad = |e: tls::TlsError| Failure::bad_input(e.to_string());
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        return tls::server_from_files(cert, key).map(Some).map_err(bad);
    }
    if !args.tls {
        return Ok(None);
    }
    let minted = tls::mint_localhost().map_err(bad)?;
    if let Some(path) = &args.tls_cert_out {
        std::fs::write(path, &minted.cert_pem)
            .map_err(|e| Failure::bad_input(format!("cannot write the certificate to {}: {e}", path.display())))?;
    }
    Ok(Some(minted.tls))
}
