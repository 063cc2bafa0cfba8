//! `emtape record --forward`: a forward proxy for clients that can only be pointed at a proxy.
//! For an HTTPS EM (CONNECT), the tunnel is opened here: the client's TLS ends on a certificate
//! for the EM's host signed by a CA emtape mints (the client is told to trust it). A plain-HTTP
//! EM (9.5 and older on 9399) is asked for with absolute URLs (`GET http://em:9399/api/`). Either
//! way its requests go through the recording proxy as a reverse-proxy recording's do; tunnels
//! and requests to any other host are passed through untouched and unrecorded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::proxy::Proxy;
use crate::http::server::{Handler, Reply, serve_stream};
use crate::http::tls::{ServerTls, TlsError, server_config};
use crate::http::{HOP_BY_HOP, Headers, Request, Response};

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

/// The origin `--only` names, `scheme://host:port`: `https` unless it says `http://`, the
/// scheme's port when it gives none.
pub fn origin(only: &str) -> String {
    let t = only.trim().trim_end_matches('/').to_ascii_lowercase();
    match t.strip_prefix("http://") {
        Some(plain) => format!("http://{}", with_port(plain, 80)),
        None => format!("https://{}", with_port(t.strip_prefix("https://").unwrap_or(&t), 443)),
    }
}

/// `host:port` with the port written out (`default` when `authority` has none).
fn with_port(authority: &str, default: u16) -> String {
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && !authority.ends_with(']'));
    if has_port { authority.to_owned() } else { format!("{authority}:{default}") }
}

/// The hosts passed through untouched, with how many tunnels or requests each had: when
/// nothing was recorded, they tell the user what `--only` should have said.
#[derive(Default)]
pub struct Passed(Mutex<HashMap<String, usize>>);

impl Passed {
    fn count(&self, host: &str) {
        if let Ok(mut hosts) = self.0.lock() {
            *hosts.entry(host.to_owned()).or_default() += 1;
        }
    }

    /// The hosts, most used first.
    pub fn hosts(&self) -> Vec<(String, usize)> {
        let mut hosts: Vec<_> = self.0.lock().map(|h| h.clone().into_iter().collect()).unwrap_or_default();
        hosts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        hosts
    }
}

/// Serves proxy requests until `shutdown`: those for `recorded` (an [`origin`]) are recorded
/// through `proxy`, any other is passed through (and counted in `passed`).
pub async fn serve(
    listener: TcpListener,
    ca: Arc<ForwardCa>,
    recorded: String,
    proxy: Arc<Proxy>,
    passed: Arc<Passed>,
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
        let (ca, recorded, proxy, passed) = (ca.clone(), recorded.clone(), proxy.clone(), passed.clone());
        tokio::spawn(async move {
            let conn = Tunnel { peer, ca: &ca, recorded: &recorded, proxy, passed, max_body };
            if let Err(e) = conn.serve(stream).await {
                log::warn!("emtape: forward proxy, {peer}: {e}");
            }
        });
    }
}

/// Reads a request head (up to the blank line), at most 16 KiB: the head's bytes and any that
/// came after it.
async fn head(stream: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
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

/// One client connection to the forward proxy.
struct Tunnel<'a> {
    peer: SocketAddr,
    ca: &'a ForwardCa,
    recorded: &'a str,
    proxy: Arc<Proxy>,
    passed: Arc<Passed>,
    max_body: usize,
}

impl Tunnel<'_> {
    async fn serve(self, mut stream: TcpStream) -> std::io::Result<()> {
        let (head, early) = head(&mut stream).await?;
        let line = String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or_default()).into_owned();
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        if target.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://")) {
            // A plain-HTTP proxy connection: the requests on it are served one by one.
            let stream = Rewind { prefix: [head, early].concat(), offset: 0, inner: stream };
            let handler =
                Arc::new(PlainProxy { proxy: self.proxy, recorded: self.recorded.to_owned(), passed: self.passed });
            serve_stream(stream, handler, Some(self.peer), "http", self.max_body).await;
            return Ok(());
        }
        if !method.eq_ignore_ascii_case("CONNECT") {
            let why =
                "emtape record --forward is a proxy: it takes CONNECT host:port (HTTPS) and absolute http:// URLs\n";
            return refuse(&mut stream, "405 Method Not Allowed", why).await;
        }
        let wanted = with_port(&target.to_ascii_lowercase(), 443);
        if self.recorded.strip_prefix("https://") != Some(wanted.as_str()) {
            // Not the EM: a plain tunnel, untouched and unrecorded.
            self.passed.count(&wanted);
            let mut upstream = match TcpStream::connect(&wanted).await {
                Ok(u) => u,
                Err(e) => {
                    return refuse(&mut stream, "502 Bad Gateway", &format!("cannot reach {wanted}: {e}\n")).await;
                }
            };
            stream.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await?;
            upstream.write_all(&early).await?;
            tokio::io::copy_bidirectional(&mut stream, &mut upstream).await?;
            return Ok(());
        }
        let host = wanted.rsplit_once(':').map_or(wanted.as_str(), |(h, _)| h).trim_matches(['[', ']']);
        let tls = self.ca.leaf(host).map_err(|e| std::io::Error::other(e.to_string()))?;
        stream.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await?;
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.0.clone());
        let tls_stream = acceptor.accept(stream).await.map_err(|e| {
            std::io::Error::other(format!("TLS with the client for {host} failed (does it trust the CA?): {e}"))
        })?;
        serve_stream(tls_stream, self.proxy, Some(self.peer), "https", self.max_body).await;
        Ok(())
    }
}

/// The requests of a plain-HTTP proxy connection: those for the recorded origin are recorded,
/// any other is forwarded as it came.
struct PlainProxy {
    proxy: Arc<Proxy>,
    /// The recorded [`origin`].
    recorded: String,
    passed: Arc<Passed>,
}

impl Handler for PlainProxy {
    async fn handle(&self, mut req: Request) -> Reply {
        let asked = origin(&req.origin);
        if asked == self.recorded {
            // The client sees the EM's own links, as it would without a proxy.
            req.origin = asked;
            return self.proxy.handle(req).await;
        }
        self.passed.count(&asked);
        pass_through(&self.proxy, req).await
    }

    fn panicked(&self, request_line: &str, headers: &Headers, why: &str) -> Response {
        crate::em::panicked(request_line, headers, why)
    }
}

/// Forwards a request to another host untouched (but for its hop-by-hop headers), streaming the
/// answer back.
async fn pass_through(proxy: &Proxy, req: Request) -> Reply {
    let url = format!("{}{}", req.origin, req.target);
    let kept = |name: &str| {
        let lower = name.to_ascii_lowercase();
        !HOP_BY_HOP.contains(&lower.as_str()) && lower != "content-length"
    };
    let headers: Headers =
        req.headers.iter().filter(|(n, _)| kept(n)).map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
    let (head, mut body) = match proxy.client.send_streaming(&req.method, &url, &headers, req.body).await {
        Ok(answer) => answer,
        Err(e) => {
            return Response::new(502)
                .header("Content-Type", "text/plain; charset=utf-8")
                .body(format!("emtape, forward proxy: {e}\n"))
                .into();
        }
    };
    let mut answer = Response::new(head.status);
    answer.reason = head.reason;
    answer.headers = head.headers.iter().filter(|(n, _)| kept(n)).map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    Reply::Stream(answer, rx)
}

/// A stream whose first bytes were already read (a proxy request's head): they are read again.
struct Rewind {
    prefix: Vec<u8>,
    offset: usize,
    inner: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.offset < this.prefix.len() {
            let n = buf.remaining().min(this.prefix.len() - this.offset);
            buf.put_slice(&this.prefix[this.offset..this.offset + n]);
            this.offset += n;
            if this.offset == this.prefix.len() {
                this.prefix = Vec::new();
                this.offset = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_have_their_scheme_and_port() {
        assert_eq!(origin("em.example"), "https://em.example:443");
        assert_eq!(origin("EM.example:9398"), "https://em.example:9398");
        assert_eq!(origin("https://em.example:9398/"), "https://em.example:9398");
        assert_eq!(origin("[::1]"), "https://[::1]:443");
        assert_eq!(origin("http://em.example:9399"), "http://em.example:9399");
        assert_eq!(origin("http://em.example"), "http://em.example:80");
    }
}
