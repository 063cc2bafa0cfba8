//! Recorded responses turned into real ones: placeholders filled with the caller's address,
//! session and the date. A body that depends only on the address is rendered once per address
//! and then served from memory, so link rewriting costs nothing on the hot path.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use crate::cassette::pack::Placed;
use crate::cassette::template::{Fill, Needs, SharedTemplate, Template, fill_text, needs};
use crate::cassette::{Body, CassetteError, RecordedResponse};
use crate::http::{Headers, Response};

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
    /// so that its bodies are not all in memory).
    Placed(Arc<Placed>),
}

const BOM: &[u8] = "\u{feff}".as_bytes();

impl BodySource {
    pub fn compile(body: &Body) -> Arc<BodySource> {
        Arc::new(match body {
            Body::Empty => BodySource::Fixed(Bytes::new()),
            Body::Placed(p) => BodySource::Placed(p.clone()),
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

    pub fn render(&self, fill: &Fill<'_>) -> Response {
        let mut headers = Headers::new();
        for (name, value) in self.headers.iter() {
            headers.push(name.clone(), value.render(fill));
        }
        match self.body(fill) {
            Ok(body) => Response { status: self.status, reason: self.reason.clone(), headers, body },
            Err(e) => unreadable(&e),
        }
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

/// The answer when what was recorded cannot be read (a pack written over while served).
pub(crate) fn unreadable(e: &CassetteError) -> Response {
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
