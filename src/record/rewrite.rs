//! Keeping HATEOAS clients on the proxy: the upstream's address in bodies and headers becomes
//! the proxy's on the way to the client, and the proxy's becomes the upstream's on the way up,
//! whole or chunk by chunk.

use std::borrow::Cow;

use memchr::memmem;

/// Whether `chunks` (one body) name `origin`'s host anywhere, seams included.
pub fn names(origin: &str, chunks: &[bytes::Bytes]) -> bool {
    let host = host_of(origin);
    host.is_empty() || contains(host.as_bytes(), chunks)
}

/// `em.lab` of `https://em.lab:9398`.
fn host_of(origin: &str) -> &str {
    origin.split("://").nth(1).unwrap_or(origin).split(['/', ':']).next().unwrap_or("")
}

/// Whether `needle` occurs in the bytes `chunks` make up.
fn contains(needle: &[u8], chunks: &[bytes::Bytes]) -> bool {
    let finder = memmem::Finder::new(needle);
    let edge = needle.len().saturating_sub(1);
    chunks.iter().enumerate().any(|(i, c)| {
        finder.find(c).is_some()
            || chunks.get(i + 1).is_some_and(|next| {
                let mut seam = c[c.len().saturating_sub(edge)..].to_vec();
                seam.extend_from_slice(&next[..next.len().min(edge)]);
                finder.find(&seam).is_some()
            })
    })
}

/// Replaces each `from` by its `to`, in order.
#[derive(Clone, Debug)]
pub struct Rewriter {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    /// The host every spelling contains: one search for it rules all of them out.
    host: Vec<u8>,
}

/// The spellings of an origin in a body: as is, without its default port, and with JSON's
/// escaped slashes (`https:\/\/em:9398`).
fn spellings(origin: &str) -> Vec<String> {
    let origin = origin.trim_end_matches('/');
    let mut out = vec![origin.to_owned()];
    for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
        if let Some(short) = origin.strip_suffix(port).filter(|o| o.starts_with(scheme)) {
            out.push(short.to_owned());
        }
    }
    let escaped: Vec<String> = out.iter().map(|o| o.replace('/', "\\/")).collect();
    out.extend(escaped);
    out
}

impl Rewriter {
    /// Rewrites `from` (in every spelling) to `to` (spelled alike).
    pub fn new(from: &str, to: &str) -> Rewriter {
        let to = to.trim_end_matches('/');
        let pairs = spellings(from)
            .into_iter()
            .map(|f| {
                let t = if f.contains("\\/") { to.replace('/', "\\/") } else { to.to_owned() };
                (f.into_bytes(), t.into_bytes())
            })
            .filter(|(f, t)| f != t)
            .collect();
        Rewriter { pairs, host: host_of(from).as_bytes().to_vec() }
    }

    pub fn bytes<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        if self.pairs.is_empty() || (!self.host.is_empty() && memmem::find(input, &self.host).is_none()) {
            return Cow::Borrowed(input);
        }
        let mut out: Cow<'a, [u8]> = Cow::Borrowed(input);
        for (from, to) in &self.pairs {
            if memmem::find(&out, from).is_some() {
                out = Cow::Owned(replace(&out, from, to));
            }
        }
        out
    }

    pub fn text<'a>(&self, input: &'a str) -> Cow<'a, str> {
        match self.bytes(input.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(input),
            Cow::Owned(b) => {
                Cow::Owned(String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
            }
        }
    }

    /// The longest `from`: how much a chunk boundary can split.
    fn reach(&self) -> usize {
        self.pairs.iter().map(|(f, _)| f.len()).max().unwrap_or(0)
    }
}

fn replace(input: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut last = 0;
    for at in memmem::find_iter(input, from) {
        out.extend_from_slice(&input[last..at]);
        out.extend_from_slice(to);
        last = at + from.len();
    }
    out.extend_from_slice(&input[last..]);
    out
}

/// A [`Rewriter`] over a body that arrives in chunks: holds back the few bytes at the end of a
/// chunk that could begin a match completed by the next one.
pub struct StreamRewriter {
    rewriter: Rewriter,
    carry: Vec<u8>,
}

impl StreamRewriter {
    pub fn new(rewriter: Rewriter) -> StreamRewriter {
        StreamRewriter { rewriter, carry: Vec::new() }
    }

    /// The rewritten bytes that are final once `chunk` is known.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(chunk);
        let keep = self.rewriter.reach().saturating_sub(1).min(data.len());
        let mut cut = data.len() - keep;
        // Never split a match: if one starts before the cut and runs past it, cut after it.
        for (from, _) in &self.rewriter.pairs {
            let start = cut.saturating_sub(from.len() - 1);
            if let Some(at) = memmem::find(&data[start..], from) {
                let at = start + at;
                if at < cut && at + from.len() > cut {
                    cut = at + from.len();
                }
            }
        }
        self.carry = data.split_off(cut);
        self.rewriter.bytes(&data).into_owned()
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.carry);
        self.rewriter.bytes(&rest).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_every_spelling() {
        let r = Rewriter::new("https://em.lab:443", "http://127.0.0.1:9399");
        let body = r#"<L Href="https://em.lab:443/api/x"/><L Href="https://em.lab/api/y"/>{"Href":"https:\/\/em.lab\/api\/z"}"#;
        assert_eq!(
            r.text(body),
            r#"<L Href="http://127.0.0.1:9399/api/x"/><L Href="http://127.0.0.1:9399/api/y"/>{"Href":"http:\/\/127.0.0.1:9399\/api\/z"}"#
        );
        assert!(matches!(r.text("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn chunks_are_searched_across_their_seams() {
        let split = |s: &str, at: usize| {
            vec![bytes::Bytes::copy_from_slice(&s.as_bytes()[..at]), bytes::Bytes::copy_from_slice(&s.as_bytes()[at..])]
        };
        assert!(names("http://up.example:1", &split("x http://up.example:1/a", 12)));
        assert!(!names("http://up.example:1", &split("x http://other:1/a", 12)));
    }

    #[test]
    fn streaming_gives_the_same_bytes_whatever_the_chunking() {
        let r = Rewriter::new("http://up:1", "http://proxy.example:9399");
        let body = "a http://up:1/x b http://up:1/y http://up:1".repeat(50);
        let whole = r.bytes(body.as_bytes()).into_owned();
        for size in [1, 2, 3, 7, 11, 64, 4096] {
            let mut s = StreamRewriter::new(r.clone());
            let mut out = Vec::new();
            for chunk in body.as_bytes().chunks(size) {
                out.extend(s.push(chunk));
            }
            out.extend(s.finish());
            assert_eq!(out, whole, "chunks of {size}");
        }
    }
}
