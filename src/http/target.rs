//! Request targets as EM takes them.
//!
//! EM's query service is written with quotes and comparisons, `filter=VmDisplayName=="ubuntu88"`
//! or `CreationTime>"2024-01-01"`, and curl sends them as typed. HTTP.sys answers; hyper refuses
//! `"`, `<` and `>` in a request target with an empty 400. So, under hyper, those three bytes are
//! percent-encoded in each request line on its way in (a query decodes to the same text). The
//! stream is followed request by request: the line, the head (for `Content-Length` and chunked
//! bodies), the body; a chunked body leaves the rest of the connection as it comes.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where the reader is in the request stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Method,
    Target,
    Version,
    /// In the header lines; `length` and `chunked` as they have said so far.
    Head {
        length: u64,
        chunked: bool,
    },
    /// In a body with this many bytes to go.
    Body(u64),
    /// After a chunked body: nothing is changed any more.
    Opaque,
}

/// A stream whose request lines reach hyper with `"`, `<` and `>` percent-encoded.
pub(crate) struct RawTargets<S> {
    inner: S,
    at: At,
    /// The header line being read (only its start is kept: enough for the two names looked for).
    line: Vec<u8>,
    /// Bytes made longer by encoding that did not fit the reader's buffer.
    pending: Vec<u8>,
}

const HEADER_PREFIX: usize = 64;

impl<S> RawTargets<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, at: At::Method, line: Vec::new(), pending: Vec::new() }
    }

    /// Moves past the byte `b`; true when it must be sent percent-encoded.
    fn step(&mut self, b: u8) -> bool {
        match self.at {
            At::Method if b == b' ' => self.at = At::Target,
            At::Target if b == b' ' => self.at = At::Version,
            At::Target => return matches!(b, b'"' | b'<' | b'>'),
            At::Version if b == b'\n' => {
                self.at = At::Head { length: 0, chunked: false };
                self.line.clear();
            }
            At::Head { length, chunked } if b == b'\n' => {
                let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
                self.at = if line.is_empty() {
                    match (chunked, length) {
                        (true, _) => At::Opaque,
                        (false, 0) => At::Method,
                        (false, n) => At::Body(n),
                    }
                } else {
                    let (length, chunked) = header(line, length, chunked);
                    At::Head { length, chunked }
                };
                self.line.clear();
            }
            At::Head { .. } => {
                if self.line.len() < HEADER_PREFIX {
                    self.line.push(b);
                }
            }
            At::Body(n) => self.at = if n <= 1 { At::Method } else { At::Body(n - 1) },
            At::Method | At::Version | At::Opaque => {}
        }
        false
    }

    /// Follows `bytes` (just read); returns the index of the first byte to encode, if any.
    fn scan(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < bytes.len() {
            match self.at {
                At::Opaque => return None,
                At::Body(n) => {
                    // Whole bodies are skipped at once.
                    let take = usize::try_from(n).unwrap_or(usize::MAX).min(bytes.len() - i);
                    let left = n - take as u64;
                    self.at = if left == 0 { At::Method } else { At::Body(left) };
                    i += take;
                }
                _ => {
                    if self.step(bytes[i]) {
                        return Some(i);
                    }
                    i += 1;
                }
            }
        }
        None
    }
}

impl<S> RawTargets<S> {
    /// `rest`, whose first byte `scan` stopped at, with every byte to encode percent-encoded.
    fn encode(&mut self, rest: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(rest.len() + 8);
        let mut rest = rest;
        while let Some((&b, after)) = rest.split_first() {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
            match self.scan(after) {
                Some(i) => {
                    out.extend_from_slice(&after[..i]);
                    rest = &after[i..];
                }
                None => {
                    out.extend_from_slice(after);
                    break;
                }
            }
        }
        out
    }
}

/// `Content-Length` and `Transfer-Encoding: chunked` as a header line says them.
fn header(line: &[u8], length: u64, chunked: bool) -> (u64, bool) {
    let Some(colon) = line.iter().position(|&b| b == b':') else { return (length, chunked) };
    let (name, value) = (&line[..colon], String::from_utf8_lossy(&line[colon + 1..]));
    if name.eq_ignore_ascii_case(b"content-length") {
        (value.trim().parse().unwrap_or(length), chunked)
    } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
        (length, chunked || value.to_ascii_lowercase().contains("chunked"))
    } else {
        (length, chunked)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for RawTargets<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pending.is_empty() {
            let start = buf.filled().len();
            match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            let Some(first) = this.scan(&buf.filled()[start..]) else { return Poll::Ready(Ok(())) };
            // From the first byte to encode on, the bytes go out through `pending`, encoded.
            let rest = buf.filled()[start + first..].to_vec();
            buf.set_filled(start + first);
            this.pending = this.encode(&rest);
        }
        let n = this.pending.len().min(buf.remaining());
        buf.put_slice(&this.pending[..n]);
        this.pending.drain(..n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RawTargets<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// A reader giving `chunks` one read at a time.
    struct Chunks(Vec<Vec<u8>>);

    impl AsyncRead for Chunks {
        fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            if let Some(chunk) = this.0.first_mut() {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                chunk.drain(..n);
                if chunk.is_empty() {
                    this.0.remove(0);
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    async fn through(chunks: &[&[u8]]) -> String {
        let mut out = Vec::new();
        let reader = Chunks(chunks.iter().map(|c| c.to_vec()).collect());
        RawTargets::new(reader).read_to_end(&mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn quotes_and_comparisons_in_a_target_are_encoded_and_nothing_else_is() {
        let request = b"GET /api/query?filter=Name==\"a\";CreationTime>\"x\" HTTP/1.1\r\nX-Q: \"kept\"\r\n\r\n";
        let want = "GET /api/query?filter=Name==%22a%22;CreationTime%3E%22x%22 HTTP/1.1\r\nX-Q: \"kept\"\r\n\r\n";
        assert_eq!(through(&[request]).await, want);
        // Split anywhere, byte by byte, the same.
        let bytes: Vec<&[u8]> = request.chunks(1).collect();
        assert_eq!(through(&bytes).await, through(&[request]).await);
    }

    #[tokio::test]
    async fn bodies_are_skipped_by_their_length_and_the_next_request_is_followed() {
        let stream = b"POST /a?x=\"1\" HTTP/1.1\r\nContent-Length: 9\r\n\r\n<b x=\"\"/>GET /b?y=<2> HTTP/1.1\r\n\r\n";
        assert_eq!(
            through(&[stream]).await,
            "POST /a?x=%221%22 HTTP/1.1\r\nContent-Length: 9\r\n\r\n<b x=\"\"/>GET /b?y=%3C2%3E HTTP/1.1\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn after_a_chunked_body_the_connection_passes_as_it_comes() {
        let stream =
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\"<>\r\n0\r\n\r\nGET /b?\"\" HTTP/1.1\r\n\r\n";
        assert_eq!(through(&[stream]).await, String::from_utf8_lossy(stream));
    }
}
