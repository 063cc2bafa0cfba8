//! Header names spelled the way EM spells them on the wire.
//!
//! hyper writes response header names in title case (`X-Restsvcsessionid`); EM sends
//! `X-RestSvcSessionId`. HTTP says names are case-insensitive, but clients that look the header
//! up by its exact spelling exist, and a mock must not fail them where EM would not. The fix
//! sits under hyper: the response head is patched in place on its way to the socket. The
//! spellings have the same length, so no byte count changes.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Title-cased names and EM's spelling of them.
const SPELLINGS: [(&[u8], &[u8]); 3] = [
    (b"\r\nX-Restsvcsessionid:", b"\r\nX-RestSvcSessionId:"),
    (b"\r\nWww-Authenticate:", b"\r\nWWW-Authenticate:"),
    (b"\r\nEtag:", b"\r\nETag:"),
];

/// A stream whose outgoing response heads get EM's header spellings.
pub(crate) struct EmSpelling<S> {
    inner: S,
    head: Vec<u8>,
}

impl<S> EmSpelling<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, head: Vec::new() }
    }
}

/// The head at the start of `buf` (a write that begins a response), respelled, or `None`.
fn respell(buf: &[u8], out: &mut Vec<u8>) -> bool {
    if !buf.starts_with(b"HTTP/1.") {
        return false;
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").map_or(buf.len(), |i| i + 4);
    let head = &buf[..end];
    if !SPELLINGS.iter().any(|(from, _)| head.windows(from.len()).any(|w| w == *from)) {
        return false;
    }
    out.clear();
    out.extend_from_slice(head);
    for (from, to) in SPELLINGS {
        let mut i = 0;
        while let Some(at) = out[i..].windows(from.len()).position(|w| w == from) {
            out[i + at..i + at + to.len()].copy_from_slice(to);
            i += at + to.len();
        }
    }
    out.extend_from_slice(&buf[end..]);
    true
}

impl<S: AsyncRead + Unpin> AsyncRead for EmSpelling<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for EmSpelling<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut head = std::mem::take(&mut this.head);
        let result = if respell(buf, &mut head) {
            Pin::new(&mut this.inner).poll_write(cx, &head)
        } else {
            Pin::new(&mut this.inner).poll_write(cx, buf)
        };
        this.head = head;
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut head = std::mem::take(&mut this.head);
        let result = match bufs.split_first() {
            Some((first, rest)) if respell(first, &mut head) => {
                let mut slices = Vec::with_capacity(bufs.len());
                slices.push(IoSlice::new(&head));
                slices.extend(rest.iter().map(|b| IoSlice::new(b)));
                Pin::new(&mut this.inner).poll_write_vectored(cx, &slices)
            }
            _ => Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
        };
        this.head = head;
        result
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

    #[test]
    fn respells_only_response_heads() {
        let mut out = Vec::new();
        let head = b"HTTP/1.1 201 Created\r\nX-Restsvcsessionid: abc\r\nWww-Authenticate: Basic\r\n\r\nX-Restsvcsessionid: body";
        assert!(respell(head, &mut out));
        assert_eq!(
            out,
            b"HTTP/1.1 201 Created\r\nX-RestSvcSessionId: abc\r\nWWW-Authenticate: Basic\r\n\r\nX-Restsvcsessionid: body"
        );
        assert!(!respell(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &mut out));
        assert!(!respell(b"body bytes\r\nX-Restsvcsessionid: x", &mut out));
    }
}
