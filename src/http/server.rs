//! The server side of the edge: accepts plain or TLS connections, converts each hyper request
//! once into a [`Request`], hands it to a [`Handler`] and converts the [`Response`] back.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::case::EmSpelling;
use super::target::RawTargets;
use super::tls::ServerTls;
use super::{Headers, Request, Response, is_valid_authority};

/// Why a request never reached the handler whole.
#[derive(Debug)]
#[non_exhaustive]
pub enum RequestProblem {
    /// The body is larger than the server accepts.
    TooLarge { limit: usize },
    /// The connection failed while the body was being read.
    Broken(String),
}

/// A response body that arrives in pieces: send chunks, then drop the sender to end it. An
/// `Err` aborts the response (the client sees the connection close before the end).
pub type Chunks = tokio::sync::mpsc::Receiver<Result<Bytes, io::Error>>;

/// What a handler answers: a whole response, or a head whose body streams.
pub enum Reply {
    Full(Response),
    /// The head (its `body` is ignored) and a body held in pieces, sent as they are.
    Parts(Response, Vec<Bytes>),
    /// The head (its `body` is ignored) and the body's chunks; sent with chunked encoding.
    Stream(Response, Chunks),
    /// No answer: the connection is closed (a fault a mock injects).
    Drop,
}

impl From<Response> for Reply {
    fn from(r: Response) -> Reply {
        Reply::Full(r)
    }
}

/// What a server does with requests. Only `handle` is required.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: Request) -> impl Future<Output = Reply> + Send;

    /// Answers a request whose body could not be read; `request_line` is `METHOD target`.
    fn reject(&self, request_line: &str, problem: &RequestProblem) -> Response {
        let (status, text) = match problem {
            RequestProblem::TooLarge { limit } => (413, format!("{request_line}: body larger than {limit} bytes\n")),
            RequestProblem::Broken(e) => (400, format!("{request_line}: body could not be read: {e}\n")),
        };
        Response::new(status).header("Content-Type", "text/plain; charset=utf-8").body(text)
    }

    /// Answers a request whose handling panicked (a bug of ours): the client keeps its
    /// connection and gets a 500. `headers` holds the request's `Accept` values.
    fn panicked(&self, request_line: &str, _headers: &Headers, why: &str) -> Response {
        Response::new(500)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(format!("emtape failed while answering {request_line}: {why}\n"))
    }
}

/// Limits a server applies to every request.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Largest request body read into memory.
    pub max_body: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self { max_body: 64 << 20 }
    }
}

/// A bound listening socket, plain or TLS, not yet serving.
pub struct Server {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    local: SocketAddr,
}

struct Connection {
    peer: Option<SocketAddr>,
    scheme: &'static str,
    local: SocketAddr,
    max_body: usize,
}

impl Server {
    /// Binds `addr` (`127.0.0.1:0` picks a free port).
    pub async fn bind(addr: &str, tls: Option<ServerTls>) -> io::Result<Server> {
        let tcp = TcpListener::bind(addr).await?;
        let local = tcp.local_addr()?;
        Ok(Server { tcp, tls: tls.map(|t| TlsAcceptor::from(t.0)), local })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `http://127.0.0.1:40123` or `https://...`: what `listening on` prints.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.local)
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves until `shutdown` completes. Connections still open then are dropped.
    pub async fn run<H: Handler>(self, handler: Arc<H>, options: ServerOptions, shutdown: impl Future<Output = ()>) {
        let shared = (self.scheme(), self.local, options.max_body);
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                accepted = self.tcp.accept() => accepted,
                () = &mut shutdown => return,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: report, breathe, go on.
                    log::warn!("emtape: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let conn = Arc::new(Connection { peer: Some(peer), scheme: shared.0, local: shared.1, max_body: shared.2 });
            let tls = self.tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve_connection(stream, handler, conn).await,
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(stream) => serve_connection(stream, handler, conn).await,
                        Err(e) => log::warn!("emtape: TLS handshake with {peer} failed: {e}"),
                    },
                }
            });
        }
    }
}

/// Serves HTTP/1.1 on a stream another listener accepted (the forward proxy's tunnels, after
/// their TLS handshake): `scheme` and `local` as the requests' origin should say.
pub async fn serve_stream<S, H>(
    stream: S,
    handler: Arc<H>,
    peer: Option<SocketAddr>,
    scheme: &'static str,
    max_body: usize,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let local = peer.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    serve_connection(stream, handler, Arc::new(Connection { peer, scheme, local, max_body })).await;
}

async fn serve_connection<S, H>(stream: S, handler: Arc<H>, conn: Arc<Connection>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let peer = conn.peer;
    let service = service_fn(move |req| {
        let handler = handler.clone();
        let conn = conn.clone();
        async move { dispatch(&*handler, &conn, req).await.ok_or(Dropped) }
    });
    // The head's limit is set, not left to hyper's read buffer: that one is reached or not
    // depending on how the bytes arrive (a plain socket hands over more at once than TLS
    // records do), so the same request got 431 one way and waited for the rest the other.
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(60))
        .max_header_size(MAX_HEAD)
        .title_case_headers(true)
        .serve_connection(TokioIo::new(EmSpelling::new(RawTargets::new(stream))), service)
        .await;
    // Other errors are clients going away mid-request; nothing to tell anyone.
    if let Err(e) = served {
        if e.is_parse_too_large() {
            let from = peer.map(|p| format!(" from {p}")).unwrap_or_default();
            log::warn!(
                "emtape: a request{from} had a head (request line and headers) over {} KiB: answered 431",
                MAX_HEAD >> 10
            );
        }
    }
}

/// The largest request head (request line and headers) read; past it the client gets 431.
const MAX_HEAD: usize = 64 << 10;

/// A reply of [`Reply::Drop`]: hyper closes the connection without answering.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

async fn dispatch<H: Handler>(
    handler: &H,
    conn: &Connection,
    req: hyper::Request<Incoming>,
) -> Option<hyper::Response<OutBody>> {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_owned();
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let mut headers = Headers::new();
    for (name, value) in &parts.headers {
        headers.push(name.as_str(), String::from_utf8_lossy(value.as_bytes()));
    }
    let host = parts.uri.authority().map(|a| a.as_str()).or_else(|| headers.get("host"));
    let origin = match host {
        Some(h) if is_valid_authority(h) => format!("{}://{h}", conn.scheme),
        _ => format!("{}://{}", conn.scheme, conn.local),
    };
    let body = match Limited::new(body, conn.max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let line = format!("{method} {target}");
            let problem = if e.downcast_ref::<LengthLimitError>().is_some() {
                RequestProblem::TooLarge { limit: conn.max_body }
            } else {
                RequestProblem::Broken(e.to_string())
            };
            return into_hyper(handler.reject(&line, &problem).into());
        }
    };
    let mut accept = Headers::new();
    for value in headers.get_all("accept") {
        accept.push("Accept", value);
    }
    let line = format!("{method} {target}");
    let handling =
        CatchUnwind(Box::pin(handler.handle(Request { method, target, headers, body, origin, peer: conn.peer })));
    match handling.await {
        Ok(reply) => into_hyper(reply),
        Err(why) => {
            // A bug of ours must not cost the client its connection: it gets EM's 500.
            log::error!("emtape: {line} panicked: {why}");
            into_hyper(handler.panicked(&line, &accept, &why).into())
        }
    }
}

/// A future whose panics, while polled, become `Err` with the panic's message.
struct CatchUnwind<F>(std::pin::Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let inner = self.get_mut().0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(payload) => {
                let why = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_owned());
                std::task::Poll::Ready(Err(why))
            }
        }
    }
}

/// The body hyper sends: whole (with its length) or streamed (chunked).
enum OutBody {
    Full(Option<Bytes>),
    Parts(std::collections::VecDeque<Bytes>, u64),
    Stream(Chunks),
}

impl hyper::body::Body for OutBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            OutBody::Full(b) => std::task::Poll::Ready(b.take().map(|b| Ok(hyper::body::Frame::data(b)))),
            OutBody::Parts(parts, left) => std::task::Poll::Ready(parts.pop_front().map(|b| {
                *left -= b.len() as u64;
                Ok(hyper::body::Frame::data(b))
            })),
            OutBody::Stream(rx) => rx.poll_recv(cx).map(|c| c.map(|r| r.map(hyper::body::Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            OutBody::Full(b) => b.is_none(),
            OutBody::Parts(parts, _) => parts.is_empty(),
            OutBody::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            OutBody::Full(b) => http_body::SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            OutBody::Parts(_, left) => http_body::SizeHint::with_exact(*left),
            OutBody::Stream(_) => http_body::SizeHint::default(),
        }
    }
}

fn into_hyper(reply: Reply) -> Option<hyper::Response<OutBody>> {
    let (response, body) = match reply {
        Reply::Drop => return None,
        Reply::Full(mut r) => match r.later.take() {
            Some(later) => (r, OutBody::Stream(later.blocks())),
            None => {
                let body = std::mem::take(&mut r.body);
                (r, OutBody::Full((!body.is_empty()).then_some(body)))
            }
        },
        Reply::Parts(r, parts) => {
            let len = parts.iter().map(|p| p.len() as u64).sum();
            (r, OutBody::Parts(parts.into_iter().filter(|p| !p.is_empty()).collect(), len))
        }
        Reply::Stream(r, chunks) => (r, OutBody::Stream(chunks)),
    };
    let mut out = hyper::Response::new(body);
    *out.status_mut() =
        hyper::StatusCode::from_u16(response.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(reason) = response.reason {
        if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(reason.into_bytes()) {
            out.extensions_mut().insert(phrase);
        }
    }
    let headers = out.headers_mut();
    for (name, value) in response.headers.iter() {
        // hyper frames the body itself; a recorded length or encoding would lie.
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("connection")
        {
            continue;
        }
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            headers.append(n, v);
        }
    }
    Some(out)
}

#[cfg(test)]
mod panic_tests {
    use super::*;

    struct Panics;

    impl Handler for Panics {
        async fn handle(&self, req: Request) -> Reply {
            if req.target.contains("boom") {
                panic!("boom at {}", req.target);
            }
            Response::new(200).body("fine").into()
        }
    }

    #[tokio::test]
    async fn a_panic_while_answering_is_a_500_and_the_connection_lives_on() {
        let server = Server::bind("127.0.0.1:0", None).await.unwrap();
        let url = server.base_url();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(Arc::new(Panics), ServerOptions { max_body: 1024 }, async move {
            let _ = stopped.await;
        }));
        let client = crate::http::client::Client::new(None);
        let boom = client.send("GET", &format!("{url}/api/boom"), &Headers::new(), Bytes::new()).await.unwrap();
        assert_eq!(boom.status, 500);
        assert!(String::from_utf8_lossy(&boom.body).contains("boom at /api/boom"));
        let fine = client.send("GET", &format!("{url}/api/"), &Headers::new(), Bytes::new()).await.unwrap();
        assert_eq!(fine.status, 200, "the same keep-alive client goes on");
        let _ = stop.send(());
        let _ = task.await;
    }
}
