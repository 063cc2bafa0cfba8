//! `emtape record --forward`: an HTTPS forward proxy (HTTP CONNECT) for clients that can only
//! be pointed at a proxy. The tunnel to the recorded EM is opened here: the client's TLS ends
//! on a certificate for the EM's host signed by a CA emtape mints (the client is told to trust
//! it), and its requests go through the recording proxy as a reverse-proxy recording's do.
//! Tunnels to any other host are passed through untouched.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::proxy::Proxy;
use crate::http::server::serve_stream;
use crate::http::tls::{ServerTls, TlsError, server_config};

const CA_NAME: &str = "emtape forward-proxy CA";

/// The CA the tunnels' certificates are signed by, and the certificates made so far.
pub struct ForwardCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    leaves: Mutex<HashMap<String, ServerTls>>,
}

fn mint_error(e: rcgen::Error) -> TlsError {
    TlsError::Mint(e.to_string())
}

impl ForwardCa {
    /// A new CA; or the one whose key `key_pem` holds, with its certificate `cert_pem` (a
    /// company's CA, or one an earlier `--ca-out` wrote), or emtape's own name when only the key
    /// is given: the same key, name and key identifier make the same issuer, so a client that
    /// trusts it keeps trusting.
    pub fn new(key_pem: Option<&str>, cert_pem: Option<&str>) -> Result<ForwardCa, TlsError> {
        let key = match key_pem {
            Some(pem) => KeyPair::from_pem(pem).map_err(mint_error)?,
            None => KeyPair::generate().map_err(mint_error)?,
        };
        if let Some(pem) = cert_pem {
            // A key of another certificate would mint a CA no client trusts: refuse it here.
            use rustls::pki_types::pem::PemObject as _;
            let der = CertificateDer::from_pem_slice(pem.as_bytes())
                .map_err(|e| TlsError::Mint(format!("the CA certificate does not parse: {e}")))?;
            let public = key.public_key_raw();
            if !der.windows(public.len()).any(|w| w == public) {
                return Err(TlsError::Mint("the CA key is not the key of the CA certificate".into()));
            }
            let params = CertificateParams::from_ca_cert_pem(pem)
                .map_err(|e| TlsError::Mint(format!("the CA certificate does not parse: {e}")))?;
            let cert = params.self_signed(&key).map_err(mint_error)?;
            return Ok(ForwardCa { cert, key, leaves: Mutex::default() });
        }
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(mint_error)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, CA_NAME);
        name.push(DnType::OrganizationName, "emtape");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).map_err(mint_error)?;
        Ok(ForwardCa { cert, key, leaves: Mutex::default() })
    }

    /// The CA certificate a client is to trust (PEM).
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA's private key (PEM), to reuse the CA next time.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// The TLS configuration presenting a certificate for `host`, made once per host.
    fn leaf(&self, host: &str) -> Result<ServerTls, TlsError> {
        if let Some(tls) = self.leaves.lock().ok().and_then(|l| l.get(host).cloned()) {
            return Ok(tls);
        }
        let key = KeyPair::generate().map_err(mint_error)?;
        let mut params = CertificateParams::new(vec![host.to_owned()]).map_err(mint_error)?;
        params.distinguished_name.push(DnType::CommonName, host);
        params.use_authority_key_identifier_extension = true;
        let leaf = params.signed_by(&key, &self.cert, &self.key).map_err(mint_error)?;
        let chain = vec![CertificateDer::from(leaf.der().to_vec())];
        let private = PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| TlsError::Mint(e.to_string()))?;
        let tls = server_config(chain, private)?;
        if let Ok(mut leaves) = self.leaves.lock() {
            leaves.insert(host.to_owned(), tls.clone());
        }
        Ok(tls)
    }
}

/// `host:port` with the port written out (443 when a CONNECT or --only leaves it out).
pub fn authority(target: &str) -> String {
    let t = target.trim().trim_end_matches('/').to_ascii_lowercase();
    let t = t.strip_prefix("https://").unwrap_or(&t).to_owned();
    if t.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty())
        && !t.ends_with(']')
    {
        t
    } else {
        format!("{t}:443")
    }
}

/// Serves CONNECT requests until `shutdown`: tunnels to `recorded` (a `host:port`) are opened
/// and recorded through `proxy`, any other is passed through.
pub async fn serve(
    listener: TcpListener,
    ca: Arc<ForwardCa>,
    recorded: String,
    proxy: Arc<Proxy>,
    max_body: usize,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return,
        };
        let Ok((stream, peer)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (ca, recorded, proxy) = (ca.clone(), recorded.clone(), proxy.clone());
        tokio::spawn(async move {
            if let Err(e) = tunnel(stream, peer, &ca, &recorded, proxy, max_body).await {
                log::warn!("emtape: forward proxy, {peer}: {e}");
            }
        });
    }
}

/// Reads a request head (up to the blank line), at most 16 KiB.
async fn head(stream: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > 16 << 10 {
            return Err(std::io::Error::other("a request head larger than 16 KiB"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("the client closed before its request head ended"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn refuse(stream: &mut TcpStream, status: &str, why: &str) -> std::io::Result<()> {
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{why}",
        why.len()
    );
    stream.write_all(reply.as_bytes()).await
}

async fn tunnel(
    mut stream: TcpStream,
    peer: SocketAddr,
    ca: &ForwardCa,
    recorded: &str,
    proxy: Arc<Proxy>,
    max_body: usize,
) -> std::io::Result<()> {
    let (head, early) = head(&mut stream).await?;
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if !method.eq_ignore_ascii_case("CONNECT") {
        let why = "emtape record --forward is an HTTPS proxy: it takes CONNECT host:port requests\n";
        return refuse(&mut stream, "405 Method Not Allowed", why).await;
    }
    let wanted = authority(target);
    if wanted != recorded {
        // Not the EM: a plain tunnel, untouched and unrecorded.
        let mut upstream = match TcpStream::connect(&wanted).await {
            Ok(u) => u,
            Err(e) => return refuse(&mut stream, "502 Bad Gateway", &format!("cannot reach {wanted}: {e}\n")).await,
        };
        stream.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await?;
        upstream.write_all(&early).await?;
        tokio::io::copy_bidirectional(&mut stream, &mut upstream).await?;
        return Ok(());
    }
    let host = wanted.rsplit_once(':').map_or(wanted.as_str(), |(h, _)| h).trim_matches(['[', ']']);
    let tls = ca.leaf(host).map_err(|e| std::io::Error::other(e.to_string()))?;
    stream.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.0.clone());
    let tls_stream = acceptor.accept(stream).await.map_err(|e| {
        std::io::Error::other(format!("TLS with the client for {host} failed (does it trust the CA?): {e}"))
    })?;
    serve_stream(tls_stream, proxy, Some(peer), "https", max_body).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_have_their_port() {
        assert_eq!(authority("em.example"), "em.example:443");
        assert_eq!(authority("EM.example:9398"), "em.example:9398");
        assert_eq!(authority("https://em.example:9398/"), "em.example:9398");
        assert_eq!(authority("[::1]"), "[::1]:443");
    }
}
