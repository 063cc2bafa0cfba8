//! HAR 1.2 (HTTP Archive), the format browsers, mitmproxy, Fiddler, Charles and Postman save
//! traffic in: read into exchanges for the recorder, and a cassette written out as one. No I/O.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::cassette::template::{Fill, fill_text};
use crate::cassette::{Body, LoadedCassette};
use crate::codec::base64_decode;
use crate::http::{Headers, Response};

#[derive(Deserialize)]
struct Har {
    log: Log,
}

#[derive(Deserialize)]
struct Log {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    request: HarRequest,
    response: HarResponse,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HarRequest {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    post_data: Option<Content>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HarResponse {
    status: i64,
    #[serde(default)]
    status_text: Option<String>,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

/// One usable entry: the request as sent (full URL) and the response as received.
pub struct HarExchange {
    pub method: String,
    pub url: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    pub response: Response,
}

/// What a HAR file held: the entries emtape can use, and why the others could not be.
pub struct HarImport {
    pub exchanges: Vec<HarExchange>,
    pub unusable: Vec<String>,
}

fn body(content: Option<Content>) -> Result<Vec<u8>, String> {
    let Some(c) = content else { return Ok(Vec::new()) };
    let text = c.text.unwrap_or_default();
    match c.encoding.as_deref() {
        Some("base64") => base64_decode(text.trim()).ok_or_else(|| "its base64 body does not decode".to_owned()),
        _ => Ok(text.into_bytes()),
    }
}

/// Headers HAR tools write that are not what went over the wire as HTTP/1.1: HTTP/2 pseudo
/// headers, and the framing of a body HAR stores decoded.
fn kept(name: &str, response: bool) -> bool {
    let framing =
        matches!(name.to_ascii_lowercase().as_str(), "content-encoding" | "content-length" | "transfer-encoding");
    !(name.starts_with(':') || response && framing)
}

/// Reads a HAR file's text; a file that is not HAR is an error with its line and column.
pub fn read(text: &str) -> Result<HarImport, String> {
    let har: Har = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| format!("line {}, column {}: not a HAR 1.2 file: {e}", e.line(), e.column()))?;
    let mut out = HarImport { exchanges: Vec::new(), unusable: Vec::new() };
    for (i, e) in har.log.entries.into_iter().enumerate() {
        let n = i + 1;
        let what = format!("entry {n} ({} {})", e.request.method, e.request.url);
        if !(100..=599).contains(&e.response.status) {
            out.unusable.push(format!("{what}: no response (status {})", e.response.status));
            continue;
        }
        if !(e.request.url.starts_with("http://") || e.request.url.starts_with("https://")) {
            out.unusable.push(format!("{what}: not an HTTP URL"));
            continue;
        }
        let (request_body, response_body) = match (body(e.request.post_data), body(e.response.content)) {
            (Ok(q), Ok(a)) => (q, a),
            (Err(why), _) | (_, Err(why)) => {
                out.unusable.push(format!("{what}: {why}"));
                continue;
            }
        };
        let mut headers = Headers::new();
        for h in e.request.headers.iter().filter(|h| kept(&h.name, false)) {
            headers.push(&h.name, &h.value);
        }
        let mut response = Response::new(e.response.status as u16);
        // The reason phrase only when it is not the standard one (EM's `BadRequest`).
        response.reason = e.response.status_text.filter(|t| !t.is_empty() && *t != reason(response.status));
        for h in e.response.headers.iter().filter(|h| kept(&h.name, true)) {
            response.headers.push(&h.name, &h.value);
        }
        response.body = response_body.into();
        out.exchanges.push(HarExchange {
            method: e.request.method,
            url: e.request.url,
            headers,
            body: request_body,
            response,
        });
    }
    Ok(out)
}

/// The `scheme://host:port` of a URL.
pub fn origin_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    Some(&url[..url.len() - rest.len() + end])
}

fn reason(status: u16) -> String {
    hyper::StatusCode::from_u16(status).ok().and_then(|c| c.canonical_reason()).unwrap_or("").to_owned()
}

fn pairs(headers: &Headers) -> Vec<Value> {
    headers.iter().map(|(n, v)| json!({"name": n, "value": v})).collect()
}

fn content(b: &Body, mime: &str, fill: &Fill<'_>) -> Value {
    let b = match b.read() {
        Ok(b) => b,
        Err(e) => return json!({"size": 0, "mimeType": mime, "comment": e.to_string()}),
    };
    match &*b {
        Body::Empty | Body::Placed(_) => json!({"size": 0, "mimeType": mime}),
        Body::Text { text, .. } => {
            let text = fill_text(text, fill);
            json!({"size": text.len(), "mimeType": mime, "text": text})
        }
        Body::Binary(bytes) => {
            json!({"size": bytes.len(), "mimeType": mime, "text": crate::codec::base64_encode(bytes), "encoding": "base64"})
        }
    }
}

/// A cassette as a HAR 1.2 log, its server at `origin`; session placeholders stay as they are
/// (they stand for tokens that were never written down).
pub fn write(c: &LoadedCassette, origin: &str) -> String {
    let started = c.cassette.meta.recorded_at.clone().unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
    let date = crate::http::format_http_date(0);
    let fill = Fill { origin, date: &date, session: None };
    let render_headers =
        |h: &Headers| -> Headers { h.iter().map(|(n, v)| (n.to_owned(), fill_text(v, &fill))).collect() };
    let entries: Vec<Value> = c
        .cassette
        .exchanges
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let url = format!("{origin}{}", fill_text(&x.request.uri, &fill));
            let query: Vec<Value> = url
                .split_once('?')
                .map(|(_, q)| q.split('&').filter(|p| !p.is_empty()).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .map(|p| {
                    let (n, v) = p.split_once('=').unwrap_or((p, ""));
                    json!({"name": crate::em::percent_decode(n), "value": crate::em::percent_decode(v)})
                })
                .collect();
            let request_headers = render_headers(&x.request.headers);
            let response_headers = render_headers(&x.response.headers);
            let mime = |h: &Headers| h.get("content-type").unwrap_or("").to_owned();
            let mut request = json!({
                "method": x.request.method,
                "url": url,
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": pairs(&request_headers),
                "queryString": query,
                "headersSize": -1,
                "bodySize": 0,
            });
            if let Body::Text { text, .. } = &x.request.body {
                let text = fill_text(text, &fill);
                request["bodySize"] = json!(text.len());
                request["postData"] = json!({"mimeType": mime(&request_headers), "text": text});
            }
            let response_body = c.cassette.response_body(i);
            let body_size = match response_body {
                Body::Empty => 0,
                Body::Text { text, .. } => text.len(),
                Body::Binary(b) => b.len(),
                Body::Placed(p) => p.len(),
            };
            json!({
                "startedDateTime": started,
                "time": 0,
                "request": request,
                "response": {
                    "status": x.response.status,
                    "statusText": x.response.reason.clone().unwrap_or_else(|| reason(x.response.status)),
                    "httpVersion": "HTTP/1.1",
                    "cookies": [],
                    "headers": pairs(&response_headers),
                    "content": content(response_body, &mime(&response_headers), &fill),
                    "redirectURL": response_headers.get("location").unwrap_or(""),
                    "headersSize": -1,
                    "bodySize": body_size,
                },
                "cache": {},
                "timings": {"send": 0, "wait": 0, "receive": 0},
                "comment": format!("{} exchange {}", c.name, x.seq),
            })
        })
        .collect();
    let har = json!({"log": {
        "version": "1.2",
        "creator": {"name": "emtape", "version": env!("CARGO_PKG_VERSION")},
        "pages": [],
        "entries": entries,
    }});
    serde_json::to_string_pretty(&har).unwrap_or_default() + "\n"
}
