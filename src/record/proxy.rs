//! The recording proxy: forwards each request to the upstream EM, hands the answer back with
//! every link pointing at the proxy, and records the exchange before the client has the last
//! byte of it. Faults (a dead upstream, TLS, a timeout) become 502s with an EM `Error` body.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::rewrite::{self, Rewriter, StreamRewriter};
use super::{Recorder, Sent};
use crate::cassette::Surveyor;
use crate::em::{self, Repr};
use crate::http::client::{BodyStream, Client};
use crate::http::server::{Handler, Reply};
use crate::http::{HOP_BY_HOP, Headers, Request, Response};
use crate::mock::{Lookup, Mock};

/// The VCR record modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward and record everything into a new cassette.
    New,
    /// Answer what the cassette has; forward and add the rest.
    Append,
    /// Never touch the upstream; answer from the cassette or fail as `serve` does.
    ReplayOnly,
}

pub struct Proxy {
    /// `scheme://host:port` of the upstream EM.
    pub upstream: String,
    pub client: Client,
    /// Where exchanges go (none in replay-only mode).
    pub recorder: Option<Arc<Recorder>>,
    /// The cassette so far, answering in append and replay-only modes.
    pub mock: Option<Mock>,
    pub mode: Mode,
    /// Where large bodies are spooled while they stream through.
    pub spool_dir: PathBuf,
    /// Responses larger than this stream instead of being held.
    pub max_buffer: usize,
    pub verbose: bool,
    /// Requests the upstream did not answer, and the first one's cause.
    pub failures: std::sync::Mutex<(usize, Option<String>)>,
}

impl Proxy {
    /// How many requests the upstream did not answer, and why the first did not.
    pub fn failures(&self) -> (usize, Option<String>) {
        self.failures.lock().map(|f| f.clone()).unwrap_or_default()
    }

    fn fault(&self, req: &Request, cause: &str) -> Reply {
        log::warn!("emtape: 502 {} {}: {cause}", req.method, crate::em::session::loggable(&req.target));
        if let Ok(mut f) = self.failures.lock() {
            f.0 += 1;
            f.1.get_or_insert_with(|| format!("{} {}: {cause}", req.method, crate::em::session::loggable(&req.target)));
        }
        let message = format!("emtape could not get an answer from the upstream EM {}: {cause}", self.upstream);
        em::error(Repr::from_accept(&req.headers), 502, &message).into()
    }

    /// The request as the upstream must see it: no hop-by-hop headers, the proxy's address
    /// replaced by the upstream's.
    fn upstream_request(&self, req: &Request) -> (Headers, Bytes) {
        let down = Rewriter::new(&req.origin, &self.upstream);
        let mut headers = Headers::new();
        for (name, value) in req.headers.iter() {
            let lower = name.to_ascii_lowercase();
            if HOP_BY_HOP.contains(&lower.as_str()) || lower == "content-length" {
                continue;
            }
            headers.push(name, down.text(value).into_owned());
        }
        let body = match down.bytes(&req.body) {
            std::borrow::Cow::Borrowed(_) => req.body.clone(),
            std::borrow::Cow::Owned(b) => Bytes::from(b),
        };
        (headers, body)
    }

    /// The response head as the client must see it: links and cookies on the proxy.
    fn client_head(&self, upstream: &Response, proxy_origin: &str) -> Response {
        let up = Rewriter::new(&self.upstream, proxy_origin);
        let plain = proxy_origin.starts_with("http://");
        let mut head = Response::new(upstream.status);
        head.reason = upstream.reason.clone();
        for (name, value) in upstream.headers.iter() {
            let lower = name.to_ascii_lowercase();
            if HOP_BY_HOP.contains(&lower.as_str()) || lower == "content-length" {
                continue;
            }
            let mut value = up.text(value).into_owned();
            if lower == "set-cookie" {
                value = cookie_for_proxy(&value, plain);
            }
            head.headers.push(name, value);
        }
        head
    }

    /// Forwards `req`, records the exchange, answers the client.
    async fn forward(&self, req: Request) -> Reply {
        // Numbers follow arrival, so they are taken now; an exchange the cassette already has
        // (a logon while appending) takes none.
        let known = match (self.mode, &self.mock) {
            (Mode::Append, Some(mock)) => mock.lookup(&req),
            _ => None,
        };
        let url = format!("{}{}", self.upstream, req.target);
        let (headers, body) = self.upstream_request(&req);
        let sent = Sent { method: &req.method, url: &url, headers: &headers, body: &body };
        let (seq, mut repeat) = match (&self.recorder, known) {
            (Some(r), None) => (r.next_seq(), Some(r.repeat_probe(&sent))),
            _ => (0, None),
        };
        let (head, mut stream) = match self.client.send_streaming(&req.method, &url, &headers, body.clone()).await {
            Ok(x) => x,
            Err(e) => return self.fault(&req, &e.to_string()),
        };
        let mut parts: Vec<Bytes> = Vec::new();
        let mut size = 0;
        loop {
            match self.next_chunk(&mut stream).await {
                Ok(None) => break,
                Ok(Some(chunk)) => {
                    size += chunk.len();
                    if let Some(r) = &mut repeat {
                        r.feed(&chunk);
                    }
                    parts.push(chunk);
                    if size > self.max_buffer {
                        return self.stream_rest(seq, req, url, headers, body, head, parts, stream).await;
                    }
                }
                Err(cause) => return self.fault(&req, &cause),
            }
        }
        self.follow_sessions(known, &req, &head);
        // Recorded unless the cassette has it already; whether the body names the upstream
        // (so its links must be rewritten) comes with the recording.
        let names_upstream = match (&self.recorder, repeat) {
            (Some(recorder), Some(repeat)) => recorder.record_parts(seq, &sent, &head, &parts, repeat),
            _ => rewrite::names(&self.upstream, &parts),
        };
        let answer = self.client_head(&head, &req.origin);
        if self.verbose {
            log::info!(
                "emtape: {} {} -> {} (recorded as exchange {seq})",
                req.method,
                crate::em::session::loggable(&req.target),
                answer.status
            );
        }
        if !names_upstream {
            return Reply::Parts(answer, parts);
        }
        let rewritten = Rewriter::new(&self.upstream, &req.origin).bytes(&parts.concat()).into_owned();
        Response { body: Bytes::from(rewritten), ..answer }.into()
    }

    async fn next_chunk(&self, stream: &mut BodyStream) -> Result<Option<Bytes>, String> {
        match tokio::time::timeout(self.client.timeout(), stream.next()).await {
            Err(_) => Err(format!("the upstream stopped sending the body for {} s", self.client.timeout().as_secs())),
            Ok(None) => Ok(None),
            Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
            Ok(Some(Err(e))) => Err(e.to_string()),
        }
    }

    /// Keeps the append-mode mock in step with the real sessions a forwarded exchange opened
    /// or closed.
    fn follow_sessions(&self, known: Option<Lookup>, req: &Request, received: &Response) {
        let (Some(recorder), Some(mock)) = (&self.recorder, &self.mock) else { return };
        if let Some(token) = received.headers.get(em::SESSION_HEADER) {
            // A real logon while appending: the mock treats the real token as a session of the cassette.
            let number = known.and_then(|k| k.logon).unwrap_or(1);
            mock.adopt(token, number);
            if known.is_some() {
                recorder.assign_session(token, number);
            }
        }
        if let Some(k) = known {
            if k.logout && received.status < 300 {
                if let Some(token) = em::session_token(&req.headers) {
                    mock.end_session(token);
                }
            }
        }
    }

    /// A body too large to hold: spooled to disk while it streams to the client, recorded from
    /// the spool when complete; the client's last chunk waits for the recording.
    #[allow(clippy::too_many_arguments)]
    async fn stream_rest(
        &self,
        seq: u64,
        req: Request,
        url: String,
        headers: Headers,
        body: Bytes,
        head: Response,
        parts: Vec<Bytes>,
        mut stream: BodyStream,
    ) -> Reply {
        let spool_path = self.spool_dir.join(format!(".emtape-spool-{}-{seq}", std::process::id()));
        let mut spool = match tokio::fs::File::create(&spool_path).await {
            Ok(f) => f,
            Err(e) => return self.fault(&req, &format!("cannot spool a large body to {}: {e}", spool_path.display())),
        };
        let client_head = self.client_head(&head, &req.origin);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(8);
        let mut rewriter = StreamRewriter::new(Rewriter::new(&self.upstream, &req.origin));
        // The recorder, and the body surveyed as it comes for it to read the spool once.
        let mut recording = self.recorder.clone().map(|r| (r, Surveyor::default()));
        let timeout = self.client.timeout();
        let verbose = self.verbose;
        tokio::spawn(async move {
            let fail = |cause: String| {
                log::info!(
                    "emtape: {} {}: the upstream broke off a large body: {cause}; nothing recorded",
                    req.method,
                    crate::em::session::loggable(&req.target)
                );
                io::Error::other(cause)
            };
            let mut pending = parts;
            loop {
                for chunk in pending.drain(..) {
                    if let Some((_, surveyor)) = &mut recording {
                        surveyor.feed(&chunk);
                    }
                    if let Err(e) = spool.write_all(&chunk).await {
                        let _ = tx.send(Err(fail(format!("cannot spool: {e}")))).await;
                        let _ = tokio::fs::remove_file(&spool_path).await;
                        return;
                    }
                    let out = rewriter.push(&chunk);
                    if tx.send(Ok(Bytes::from(out))).await.is_err() {
                        // The client went away: it has no complete response, so nothing is recorded.
                        let _ = tokio::fs::remove_file(&spool_path).await;
                        return;
                    }
                }
                match tokio::time::timeout(timeout, stream.next()).await {
                    Ok(None) => break,
                    Ok(Some(Ok(chunk))) => pending.push(chunk),
                    Ok(Some(Err(e))) => {
                        let _ = tx.send(Err(fail(e.to_string()))).await;
                        let _ = tokio::fs::remove_file(&spool_path).await;
                        return;
                    }
                    Err(_) => {
                        let _ = tx.send(Err(fail(format!("no data for {} s", timeout.as_secs())))).await;
                        let _ = tokio::fs::remove_file(&spool_path).await;
                        return;
                    }
                }
            }
            let _ = spool.flush().await;
            drop(spool);
            if let Some((recorder, surveyor)) = recording {
                let (path, surveyed) = (spool_path.clone(), surveyor.finish());
                let _ = tokio::task::spawn_blocking(move || {
                    recorder.record_spooled(
                        seq,
                        &Sent { method: &req.method, url: &url, headers: &headers, body: &body },
                        &head,
                        &path,
                        surveyed,
                    );
                    if verbose {
                        log::info!(
                            "emtape: {} {} -> {} (large body, recorded as exchange {seq})",
                            req.method,
                            crate::em::session::loggable(&req.target),
                            head.status
                        );
                    }
                })
                .await;
            }
            let _ = tokio::fs::remove_file(&spool_path).await;
            let _ = tx.send(Ok(Bytes::from(rewriter.finish()))).await;
        });
        Reply::Stream(client_head, rx)
    }
}

/// A cookie the client will send back to the proxy: no `Domain` (the proxy's host is not the
/// upstream's), and no `Secure` when the proxy itself speaks plain HTTP.
fn cookie_for_proxy(value: &str, plain: bool) -> String {
    value
        .split(';')
        .filter(|attr| {
            let name = attr.trim().split('=').next().unwrap_or("").to_ascii_lowercase();
            name != "domain" && !(plain && name == "secure")
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Requests that start or end a session: while appending they always reach the upstream, so
/// that the session the client holds is real there.
fn session_boundary(req: &Request) -> bool {
    let path = em::normalize_path(req.path());
    em::is_logon_path(&path) || (req.method == "DELETE" && path.starts_with("/api/logonsessions/"))
}

impl Handler for Proxy {
    async fn handle(&self, req: Request) -> Reply {
        if let Some(mock) = &self.mock {
            match self.mode {
                Mode::ReplayOnly => return mock.respond_later(&req, None).into(),
                Mode::Append if !session_boundary(&req) && mock.lookup(&req).is_some() => {
                    if self.verbose {
                        log::info!(
                            "emtape: {} {} answered from the cassette",
                            req.method,
                            crate::em::session::loggable(&req.target)
                        );
                    }
                    return mock.respond_later(&req, None).into();
                }
                _ => {}
            }
        }
        self.forward(req).await
    }

    fn panicked(&self, request_line: &str, headers: &Headers, why: &str) -> Response {
        crate::em::panicked(request_line, headers, why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_lose_domain_and_secure_on_a_plain_proxy() {
        assert_eq!(
            cookie_for_proxy("X-RestSvcSessionId=abc; Path=/api; Domain=em.lab; Secure; HttpOnly", true),
            "X-RestSvcSessionId=abc; Path=/api; HttpOnly"
        );
        assert_eq!(cookie_for_proxy("a=b; Secure", false), "a=b; Secure");
    }
}
