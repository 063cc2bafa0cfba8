//! The client side of the edge: keep-alive HTTP/1.1 over plain TCP or rustls, used by the
//! scenario runner, the recording proxy and the tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::tls::ClientTls;
use super::{Headers, Response};

/// Why a request got no response. Every message names the URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("{url}: not an http:// or https:// URL")]
    BadUrl { url: String },
    #[error("{url}: https needs TLS settings, and this client has none")]
    NoTls { url: String },
    #[error("{url}: cannot connect: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url}: TLS handshake failed: {reason}")]
    Tls { url: String, reason: String },
    #[error("{url}: no response within {secs} s")]
    Timeout { url: String, secs: u64 },
    /// An `http://` URL whose server answered with a TLS record: it wants `https://`.
    #[error("{url}: the server speaks TLS (HTTPS) on this port, not plain HTTP: use {https}")]
    SpeaksTls { url: String, https: String },
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
}

impl ClientError {
    /// Whether the failure is about TLS (certificate, handshake) rather than the network.
    pub fn is_tls(&self) -> bool {
        matches!(self, ClientError::Tls { .. } | ClientError::NoTls { .. } | ClientError::SpeaksTls { .. })
    }
}

struct Target {
    key: String,
    https: bool,
    host: String,
    port: u16,
    authority: String,
    path_and_query: String,
}

/// `url` with what may not stand raw in a request line percent-encoded after its authority
/// (`filter=VmDisplayName=="ubuntu88"`, as typed for EM's query service and as curl sends it
/// to HTTP.sys; hyper refuses the raw quotes). Browsers encode the same bytes.
fn encoded(url: &str) -> std::borrow::Cow<'_, str> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let start = url[start..].find('/').map_or(url.len(), |i| start + i);
    let raw = |b: u8| b <= b' ' || b >= 0x7f || b"\"<>`{}|\\^".contains(&b);
    if !url.bytes().skip(start).any(raw) {
        return url.into();
    }
    let mut out = String::with_capacity(url.len() + 16);
    out.push_str(&url[..start]);
    for b in url[start..].bytes() {
        if raw(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out.into()
}

fn parse_url(url: &str) -> Result<Target, ClientError> {
    let bad = || ClientError::BadUrl { url: url.to_owned() };
    let uri: hyper::Uri = encoded(url).parse().map_err(|_| bad())?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(bad()),
    };
    let authority = uri.authority().ok_or_else(bad)?;
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    Ok(Target {
        key: format!("{}://{}:{port}", if https { "https" } else { "http" }, authority.host()),
        https,
        host,
        port,
        authority: authority.as_str().to_owned(),
        path_and_query: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
    })
}

type Pool = Mutex<HashMap<String, Vec<SendRequest<Full<Bytes>>>>>;

/// A small keep-alive client. Connections are pooled per `scheme://host:port`.
pub struct Client {
    tls: Option<ClientTls>,
    timeout: Duration,
    pool: Arc<Pool>,
    /// What an untrusted certificate's error tells the user to do, in the command's own flags.
    trust_hint: &'static str,
}

/// The hint for `run`'s flags.
const TRUST_HINT: &str = "neither the system trust store nor --ca holds its CA: pass the CA with --ca (or add it to the system store), or --insecure";

/// The body of a response, read chunk by chunk. Its connection goes back to the pool when the
/// body has been read to the end.
pub struct BodyStream {
    incoming: hyper::body::Incoming,
    url: String,
    back: Option<(Arc<Pool>, String, SendRequest<Full<Bytes>>)>,
}

impl BodyStream {
    /// The next chunk; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<Bytes, ClientError>> {
        loop {
            match self.incoming.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            return Some(Ok(data));
                        }
                    }
                }
                Some(Err(e)) => {
                    self.back = None;
                    return Some(Err(ClientError::Http {
                        url: self.url.clone(),
                        reason: format!("the body broke off: {e}"),
                    }));
                }
                None => {
                    if let Some((pool, key, sender)) = self.back.take() {
                        if !sender.is_closed() {
                            if let Ok(mut p) = pool.lock() {
                                p.entry(key).or_default().push(sender);
                            }
                        }
                    }
                    return None;
                }
            }
        }
    }

    /// Reads the rest of the body.
    pub async fn collect(self) -> Result<Bytes, ClientError> {
        let mut parts = self.parts().await?;
        Ok(match parts.len() {
            0 => Bytes::new(),
            1 => parts.pop().unwrap_or_default(),
            _ => Bytes::from(parts.concat()),
        })
    }

    /// Reads the rest of the body as it arrived, in chunks: a large body is not copied whole.
    pub async fn parts(mut self) -> Result<Vec<Bytes>, ClientError> {
        let mut parts: Vec<Bytes> = Vec::new();
        while let Some(chunk) = self.next().await {
            parts.push(chunk?);
        }
        Ok(parts)
    }
}

impl Client {
    /// A client; `tls` is needed for https URLs.
    pub fn new(tls: Option<ClientTls>) -> Self {
        Self {
            tls,
            timeout: Duration::from_secs(30),
            pool: Arc::new(Mutex::new(HashMap::new())),
            trust_hint: TRUST_HINT,
        }
    }

    /// Names the flags that fix an untrusted certificate in this command
    /// (`--upstream-ca` and `--insecure-upstream` for record).
    pub fn with_trust_hint(mut self, hint: &'static str) -> Self {
        self.trust_hint = hint;
        self
    }

    /// Sets how long a request may take, connection included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends one request and reads the whole response.
    pub async fn send(&self, method: &str, url: &str, headers: &Headers, body: Bytes) -> Result<Response, ClientError> {
        self.within_timeout(url, async {
            let (mut head, stream) = self.send_inner(method, url, headers, body).await?;
            head.body = stream.collect().await?;
            Ok(head)
        })
        .await
    }

    /// Sends one request and reads the whole response, its body in the chunks it arrived in
    /// (the head's own body is empty).
    pub async fn send_in_parts(
        &self,
        method: &str,
        url: &str,
        headers: &Headers,
        body: Bytes,
    ) -> Result<(Response, Vec<Bytes>), ClientError> {
        self.within_timeout(url, async {
            let (head, stream) = self.send_inner(method, url, headers, body).await?;
            Ok((head, stream.parts().await?))
        })
        .await
    }

    /// Sends one request and returns the response head (with an empty body) and its body as a
    /// stream. The timeout covers the head only.
    pub async fn send_streaming(
        &self,
        method: &str,
        url: &str,
        headers: &Headers,
        body: Bytes,
    ) -> Result<(Response, BodyStream), ClientError> {
        self.within_timeout(url, self.send_inner(method, url, headers, body)).await
    }

    /// `work` (about `url`) within the client's timeout, else [`ClientError::Timeout`].
    pub async fn within_timeout<T>(
        &self,
        url: &str,
        work: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout { url: url.to_owned(), secs: self.timeout.as_secs() }),
        }
    }

    async fn send_inner(
        &self,
        method: &str,
        url: &str,
        headers: &Headers,
        body: Bytes,
    ) -> Result<(Response, BodyStream), ClientError> {
        let target = parse_url(url)?;
        let http_err = |e: hyper::Error| ClientError::Http { url: url.to_owned(), reason: e.to_string() };
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(&target.path_and_query)
            .body(Full::new(body))
            .map_err(|e| ClientError::Http { url: url.to_owned(), reason: e.to_string() })?;
        let map = request.headers_mut();
        if !headers.contains("host") {
            if let Ok(v) = HeaderValue::from_str(&target.authority) {
                map.insert(hyper::header::HOST, v);
            }
        }
        for (name, value) in headers.iter() {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                map.append(n, v);
            }
        }
        let (mut sender, first_byte) = self.connection(&target, url).await?;
        let response = sender.send_request(request).await.map_err(|e| {
            match first_byte.and_then(|b| b.get().copied()) {
                // A TLS server answers plain HTTP with a TLS alert (or a handshake record).
                Some(TLS_ALERT | TLS_HANDSHAKE) => {
                    ClientError::SpeaksTls { url: url.to_owned(), https: format!("https://{}", target.authority) }
                }
                _ => http_err(e),
            }
        })?;
        let (parts, incoming) = response.into_parts();
        let mut out = Response::new(parts.status.as_u16());
        if let Some(reason) = parts.extensions.get::<hyper::ext::ReasonPhrase>() {
            let reason = String::from_utf8_lossy(reason.as_bytes());
            if Some(reason.as_ref()) != parts.status.canonical_reason() {
                out.reason = Some(reason.into_owned());
            }
        }
        for (name, value) in &parts.headers {
            out.headers.push(name.as_str(), String::from_utf8_lossy(value.as_bytes()));
        }
        let stream = BodyStream { incoming, url: url.to_owned(), back: Some((self.pool.clone(), target.key, sender)) };
        Ok((out, stream))
    }

    /// A connection to `target`, pooled or new; a new plain one comes with the first byte the
    /// server sends on it, to tell a TLS server from a broken one.
    async fn connection(
        &self,
        target: &Target,
        url: &str,
    ) -> Result<(SendRequest<Full<Bytes>>, Option<FirstByte>), ClientError> {
        loop {
            let pooled = self.pool.lock().ok().and_then(|mut p| p.get_mut(&target.key).and_then(Vec::pop));
            match pooled {
                Some(mut sender) => {
                    if sender.ready().await.is_ok() {
                        return Ok((sender, None));
                    }
                }
                None => break,
            }
        }
        let connect_err = |e: std::io::Error| ClientError::Connect { url: url.to_owned(), reason: e.to_string() };
        let tcp = TcpStream::connect((target.host.as_str(), target.port)).await.map_err(connect_err)?;
        let _ = tcp.set_nodelay(true);
        let http_err = |e: hyper::Error| ClientError::Http { url: url.to_owned(), reason: e.to_string() };
        if target.https {
            let tls = self.tls.as_ref().ok_or_else(|| ClientError::NoTls { url: url.to_owned() })?;
            let name =
                ServerName::try_from(target.host.clone()).map_err(|_| ClientError::BadUrl { url: url.to_owned() })?;
            let stream = TlsConnector::from(tls.0.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| ClientError::Tls { url: url.to_owned(), reason: tls_reason(&e, self.trust_hint) })?;
            let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(http_err)?;
            tokio::spawn(conn);
            Ok((sender, None))
        } else {
            let first = FirstByte::default();
            let stream = Sniffed { inner: tcp, first: first.clone() };
            let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(http_err)?;
            tokio::spawn(conn);
            Ok((sender, Some(first)))
        }
    }
}

/// The content types of a TLS record's first byte: what a TLS server sends a client that
/// speaks plain HTTP to it (an alert), or a handshake.
const TLS_ALERT: u8 = 0x15;
const TLS_HANDSHAKE: u8 = 0x16;

/// The first byte a server sent on a connection, once it has.
type FirstByte = Arc<std::sync::OnceLock<u8>>;

/// A stream that notes the first byte read from it.
struct Sniffed<S> {
    inner: S,
    first: FirstByte,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Sniffed<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Some(&b) = buf.filled().get(before) {
            let _ = self.first.set(b);
        }
        polled
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Sniffed<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

fn tls_reason(e: &std::io::Error, hint: &str) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            format!("the server's certificate is not trusted ({cert:?}); {hint}")
        }
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}
