//! Recorded responses turned into real ones: placeholders filled with the caller's address,
//! session and the date. A body that depends only on the address is rendered once per address
//! and then served from memory, so link rewriting costs nothing on the hot path.

use crate::RecordedMap as HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use crate::cassette::pack::Placed;
use crate::cassette::template::{Fill, Needs, SharedTemplate, Template, fill_text, needs};
use crate::cassette::{Body, CassetteError, RecordedResponse};
use crate::http::{Headers, Later, Response};

/// Addresses remembered per response; more than this (a client sending many `Host` values)
/// are rendered each time instead of growing memory.
const CACHED_ORIGINS: usize = 16;

pub(crate) struct Rendered {
    status: u16,
    reason: Option<String>,
    /// Shared by every response recorded with the same headers (most of a cassette's).
    headers: Arc<[(String, Template)]>,
    /// Shared by every exchange whose body is `body_same_as` this one.
    body: Arc<BodySource>,
}

pub(crate) enum BodySource {
    Fixed(Bytes),
    /// Filled with the caller's address alone: filled once per address, then served from
    /// memory. Its placeholders are found again when it is filled, not kept (a large listing
    /// has one per link, and most bodies are never asked for).
    PerOrigin {
        text: Arc<str>,
        bom: bool,
        cache: RwLock<Vec<(Box<str>, Bytes)>>,
    },
    PerRequest {
        template: SharedTemplate,
        bom: bool,
    },
    /// Left in its pack: read by place and filled at each answer, never kept (a pack is served
    /// so that its bodies are not all in memory). Its place is its own, not shared with the
    /// cassette: a pack's exchanges are let go once compiled, and with them what they hold
    /// (600,000 places for a large estate).
    Placed(Placed),
}

const BOM: &[u8] = "\u{feff}".as_bytes();

impl BodySource {
    pub fn compile(body: &Body) -> Arc<BodySource> {
        Arc::new(match body {
            Body::Empty => BodySource::Fixed(Bytes::new()),
            Body::Placed(p) => BodySource::Placed((**p).clone()),
            Body::Binary(b) => BodySource::Fixed(Bytes::from(b.clone())),
            Body::Text { text, bom } => match needs(text) {
                Needs::Nothing => BodySource::Fixed(Bytes::from(body.to_bytes())),
                Needs::Request => BodySource::PerRequest { template: SharedTemplate::parse(text.clone()), bom: *bom },
                Needs::Origin => {
                    BodySource::PerOrigin { text: text.clone(), bom: *bom, cache: RwLock::new(Vec::new()) }
                }
            },
        })
    }
}

impl Rendered {
    /// `headers`: the header lists compiled so far, so that responses recorded with the same
    /// headers share one.
    pub fn compile(
        response: &RecordedResponse,
        body: Arc<BodySource>,
        headers: &mut HashMap<Headers, Arc<[(String, Template)]>>,
    ) -> Rendered {
        let compiled = match headers.get(&response.headers) {
            Some(shared) => shared.clone(),
            None => {
                let compiled: Arc<[(String, Template)]> =
                    response.headers.iter().map(|(n, v)| (n.to_owned(), Template::parse(v))).collect();
                headers.insert(response.headers.clone(), compiled.clone());
                compiled
            }
        };
        Rendered { status: response.status, reason: response.reason.clone(), headers: compiled, body }
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response for `fill`; a large body of a pack is left to be written as it is sent
    /// ([`Response::later`]).
    pub fn render(&self, fill: &Fill<'_>) -> Response {
        let mut headers = Headers::new();
        for (name, value) in self.headers.iter() {
            headers.push(name.clone(), value.render(fill));
        }
        let mut response =
            Response { status: self.status, reason: self.reason.clone(), headers, ..Response::default() };
        match &*self.body {
            BodySource::Placed(placed) if placed.len() > crate::cassette::LARGE_BODY => {
                response.later = Some(written_as_sent(Arc::new(placed.clone()), fill));
            }
            _ => match self.body(fill) {
                Ok(body) => response.body = body,
                Err(e) => return unreadable(&e),
            },
        }
        response
    }

    fn body(&self, fill: &Fill<'_>) -> Result<Bytes, CassetteError> {
        Ok(match &*self.body {
            BodySource::Placed(placed) => {
                let text = placed.text()?;
                let filled = match needs(&text) {
                    Needs::Nothing => text,
                    Needs::Origin => fill_text(&text, fill),
                    Needs::Request => Template::parse(&text).render(fill),
                };
                with_bom(filled, placed.bom())
            }
            BodySource::Fixed(b) => b.clone(),
            BodySource::PerRequest { template, bom } => {
                let mut text = String::new();
                template.render_into(fill, &mut text);
                with_bom(text, *bom)
            }
            BodySource::PerOrigin { text, bom, cache } => {
                if let Ok(cached) = cache.read() {
                    if let Some((_, b)) = cached.iter().find(|(o, _)| **o == *fill.origin) {
                        return Ok(b.clone());
                    }
                }
                let body = with_bom(fill_text(text, fill), *bom);
                if let Ok(mut cached) = cache.write() {
                    if cached.len() < CACHED_ORIGINS && !cached.iter().any(|(o, _)| **o == *fill.origin) {
                        cached.push((fill.origin.into(), body.clone()));
                    }
                }
                body
            }
        })
    }
}

/// How much of a large body of a pack ([`crate::cassette::LARGE_BODY`]: a listing of half a
/// million task sessions) is read and filled at once, as it is sent, instead of holding it whole
/// twice (as read and as filled).
const BLOCK: usize = 1 << 20;

/// The body at `placed` filled for `fill`, written as it is sent; with its sample when its
/// pack found where to cut it ([`Placed::sample_cut`]).
fn written_as_sent(placed: Arc<Placed>, fill: &Fill<'_>) -> Later {
    let (origin, date) = (fill.origin.to_owned(), fill.date.to_owned());
    let session = fill.session.map(|(id, token)| (id.to_owned(), token.to_owned()));
    // The whole body is its first part, the second empty.
    let writer = |parts: [std::ops::Range<usize>; 2]| {
        let (placed, origin, date, session) = (placed.clone(), origin.clone(), date.clone(), session.clone());
        move |sink: &mut dyn FnMut(Bytes) -> bool| {
            let session = session.as_ref().map(|(id, token)| (id.as_str(), token.as_str()));
            let fill = Fill { origin: &origin, date: &date, session };
            write_blocks(&placed, &parts, &fill, sink).map_err(|e| e.to_string())
        }
    };
    let len = placed.len();
    let later = Later::new(len, writer([0..len, len..len]));
    match placed.sample_cut() {
        Some((head, tail)) => later.sampled(writer([0..head, tail..len])),
        None => later,
    }
}

/// Writes the `parts` of the body at `placed` filled, in order, about [`BLOCK`] bytes at a
/// time, to `sink` until it says stop.
fn write_blocks(
    placed: &Placed,
    parts: &[std::ops::Range<usize>],
    fill: &Fill<'_>,
    sink: &mut dyn FnMut(Bytes) -> bool,
) -> Result<(), CassetteError> {
    if placed.bom() && !sink(Bytes::from_static(BOM)) {
        return Ok(());
    }
    for part in parts {
        let mut at = part.start;
        while at < part.end {
            let end = (at + BLOCK).min(part.end);
            let bytes = placed.bytes_of(at..end)?;
            let cut = block_end(&bytes, end == part.end);
            let text = std::str::from_utf8(&bytes[..cut]).map_err(|_| placed.not_text(at))?;
            if !sink(Bytes::from(fill_text(text, fill))) {
                return Ok(());
            }
            at += cut;
        }
    }
    Ok(())
}

/// How much of `block`, read from a large body (`last`: to its end), is filled now, so that
/// the rest, read again with the next block, splits no placeholder and no character: up to its
/// last line; in a body of one line, up to a `{{` it does not close (or a last `{`).
fn block_end(block: &[u8], last: bool) -> usize {
    let mut cut = block.len();
    if !last {
        if let Some(newline) = memchr::memrchr(b'\n', block) {
            cut = newline + 1;
        } else {
            match memchr::memmem::rfind(block, b"{{") {
                Some(open) if memchr::memmem::find(&block[open..], b"}}").is_none() => cut = open,
                _ if block.last() == Some(&b'{') => cut -= 1,
                _ => {}
            }
            if cut == 0 {
                cut = block.len();
            }
        }
    }
    match std::str::from_utf8(&block[..cut]) {
        // A character the block's end splits starts the next block.
        Err(e) if !last && e.error_len().is_none() && e.valid_up_to() > 0 => e.valid_up_to(),
        _ => cut,
    }
}

/// `response` with any body left to be written as it is sent written now, or the answer
/// saying it cannot be read.
pub(crate) fn settled(response: Response) -> Response {
    response.settled().unwrap_or_else(|e| unreadable(&e))
}

/// The answer when what was recorded cannot be read (a pack written over while served).
pub(crate) fn unreadable(e: &dyn std::fmt::Display) -> Response {
    Response::new(500)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(format!("emtape: the recorded answer cannot be read: {e}\n"))
}

fn with_bom(text: String, bom: bool) -> Bytes {
    if bom {
        let mut out = Vec::with_capacity(text.len() + BOM.len());
        out.extend_from_slice(BOM);
        out.extend_from_slice(text.as_bytes());
        Bytes::from(out)
    } else {
        Bytes::from(text)
    }
}

#[cfg(test)]
mod tests {
    use super::block_end;

    /// A block of a large body ends where the next can start a placeholder and a character whole.
    #[test]
    fn a_block_splits_no_placeholder_and_no_character() {
        let u = "ü".as_bytes();
        let cases: [(&[u8], usize); 8] = [
            (b"<a/>\n<b Href=\"{{orig", 5),
            (b"{\"Href\":\"{{origin}}/x\",\"Href\":\"{{ori", 31),
            (b"{\"Href\":\"{{origin}}/x\",\"Href\":\"{", 31),
            (b"{\"Href\":\"{{origin}}/x\"}", 23),
            (b"{{never closed", 14),
            (&[b"\"Name\":\"", u].concat(), 10),
            (&[b"\"Name\":\"", &u[..1]].concat(), 8),
            (&[b"<a>\xc3\x28\n", &u[..1]].concat(), 6),
        ];
        for (block, end) in cases {
            assert_eq!(block_end(block, false), end, "{:?}", String::from_utf8_lossy(block));
            assert_eq!(block_end(block, true), block.len(), "the last block is read to its end");
        }
    }
}
