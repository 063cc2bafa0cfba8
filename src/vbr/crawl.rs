//! `emtape crawl --api vbr`: a VBR server's read surface on tape. VBR's bodies hold no links, so
//! the map is the OpenAPI document (`--spec`, every GET it defines) or, without one, the GETs the
//! newest revision on tape answers. Lists are read first (one page of `--sample` items), then
//! each listed id's entity and sub-lists (`/api/v1/backups/{id}/objects`), as deep as the
//! templates go. Every exchange is recorded as `record` records it (tokens as placeholders).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::{API_VERSION_HEADER, LOGOUT_PATH, TOKEN_PATH, password_grant};
use crate::http::Headers;
use crate::http::client::Client;
use crate::openapi::Spec;
use crate::record::{Recorder, Sent};

/// What to crawl and how much.
#[derive(Clone, Debug)]
pub struct VbrCrawl {
    pub base: String,
    pub user: String,
    pub password: String,
    /// The `x-api-version` every request sends.
    pub revision: String,
    /// GET path templates to read (`/api/v1/backups/{id}/objects`), each with whether it is a
    /// list that takes `limit`.
    pub templates: Vec<(String, bool)>,
    pub max_requests: usize,
    /// Items per list: the page asked for (`limit`) and the ids opened.
    pub sample: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// At most this many requests per second.
    pub rate: Option<f64>,
}

/// Spaces requests out to the rate asked for, whoever sends them.
struct Gate {
    next: tokio::sync::Mutex<tokio::time::Instant>,
    gap: Option<std::time::Duration>,
}

impl Gate {
    async fn pass(&self) {
        let Some(gap) = self.gap else { return };
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(tokio::time::Instant::now());
            *next = at + gap;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// What a crawl did.
#[derive(Debug, Default)]
pub struct Crawled {
    pub requests: usize,
    /// Requests the server refused (4xx, 5xx), with the error model's message.
    pub refused: Vec<String>,
}

/// The GET templates of an OpenAPI document (a list is one with a `limit` parameter), or of the
/// revision on tape (a list is one that answered `data`).
pub fn templates_of(spec: Option<&Spec>) -> Vec<(String, bool)> {
    let mut out: BTreeMap<String, bool> = BTreeMap::new();
    match spec {
        Some(s) => {
            for (_, t) in s.operations().filter(|(m, _)| *m == "GET") {
                out.insert(t.to_owned(), s.takes_parameter("GET", t, "limit"));
            }
        }
        None => {
            if let Some(Ok(cassettes)) = crate::cassette::release("vbr-1.3-rev1") {
                for c in &cassettes {
                    for (i, e) in c.cassette.exchanges.iter().enumerate().filter(|(_, e)| e.request.method == "GET") {
                        let path = e.request.uri.split('?').next().unwrap_or(&e.request.uri);
                        let list = c.cassette.response_body(i).as_text().is_some_and(|b| b.contains("\"pagination\""));
                        out.insert(super::store::shape(path).replace("{}", "{id}"), list);
                    }
                }
            }
        }
    }
    out.into_iter().filter(|(t, _)| t.starts_with("/api/")).collect()
}

/// Crawls a VBR server: token, lists, entities and sub-lists, logout.
pub async fn crawl(client: Arc<Client>, recorder: Arc<Recorder>, options: &VbrCrawl) -> Result<Crawled, String> {
    let mut done = Crawled::default();
    let gap = options.rate.filter(|r| *r > 0.0).map(|r| std::time::Duration::from_secs_f64(1.0 / r));
    let gate = Arc::new(Gate { next: tokio::sync::Mutex::new(tokio::time::Instant::now()), gap });
    let mut headers = Headers::new();
    headers.push("Accept", "application/json");
    headers.push(API_VERSION_HEADER, options.revision.clone());
    let mut form = headers.clone();
    form.push("Content-Type", "application/x-www-form-urlencoded");
    let grant = password_grant(&options.user, &options.password);
    let url = format!("{}{TOKEN_PATH}", options.base);
    let token = send(client.clone(), recorder.clone(), gate.clone(), "POST", url, form, grant).await?;
    done.count(&token);
    let Some(access) = super::tokens_in(&token.1.body).0 else {
        let said = super::logon_refusal(&token.1).unwrap_or_else(|| "the answer holds no access_token".into());
        return Err(format!("{TOKEN_PATH}: {said}"));
    };
    headers.push("Authorization", format!("Bearer {access}"));
    // Templates by how many parameters they take; a template's `{…}` are filled with the ids
    // of the list its path before the parameter names.
    let mut templates: Vec<&(String, bool)> = options.templates.iter().collect();
    templates.sort_by_key(|(t, _)| (t.matches('{').count(), t.len()));
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (template, listing) in templates {
        let listing = *listing;
        let room = options.max_requests.saturating_sub(done.requests);
        let paths: Vec<String> = fill(template, &ids).into_iter().take(room).collect();
        // `concurrency` at a time; answered in any order, read in the paths' order.
        let mut answers = Vec::new();
        for chunk in paths.chunks(options.concurrency.max(1)) {
            let mut running = tokio::task::JoinSet::new();
            for (i, path) in chunk.iter().enumerate() {
                let limit = if listing { format!("?limit={}", options.sample) } else { String::new() };
                let url = format!("{}{path}{limit}", options.base);
                let (client, recorder, gate, headers) =
                    (client.clone(), recorder.clone(), gate.clone(), headers.clone());
                running
                    .spawn(async move { (i, send(client, recorder, gate, "GET", url, headers, String::new()).await) });
            }
            let mut batch = Vec::new();
            while let Some(joined) = running.join_next().await {
                let (i, answer) = joined.map_err(|e| format!("a request failed: {e}"))?;
                batch.push((i, answer?));
            }
            batch.sort_by_key(|(i, _)| *i);
            answers.extend(batch.into_iter().map(|(_, a)| a));
        }
        for (path, answer) in paths.iter().zip(&answers) {
            done.count(answer);
            let r = &answer.1;
            if !listing || r.status != 200 {
                continue;
            }
            let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&r.body) else { continue };
            let found: Vec<String> = m
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|x| x.get("id").and_then(Value::as_str).map(str::to_owned))
                .take(options.sample)
                .collect();
            ids.entry(super::store::shape(path).replace("{}", "{id}")).or_default().extend(found);
        }
    }
    let url = format!("{}{LOGOUT_PATH}", options.base);
    if let Ok(answer) = send(client, recorder, gate, "POST", url, headers, String::new()).await {
        done.count(&answer);
    }
    Ok(done)
}

impl Crawled {
    /// Counts an answer, and a refusal with what the server said.
    fn count(&mut self, (shown, r): &(String, crate::http::Response)) {
        self.requests += 1;
        if r.status >= 400 {
            let said = super::error_message(&r.body).unwrap_or_default();
            self.refused.push(format!("{shown} -> {} {said}", r.status));
        }
    }
}

/// The paths a template stands for: itself when it takes no parameter, else one per id of the
/// list its path names before the parameter (none when that list gave none). A template of two
/// parameters (an item of a sub-list) is not crawled.
fn fill(template: &str, ids: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let Some(open) = template.find('{') else { return vec![template.to_owned()] };
    let close = template[open..].find('}').map_or(template.len(), |c| open + c + 1);
    let rest = &template[close..];
    if rest.contains('{') {
        return Vec::new();
    }
    let list = template[..open].trim_end_matches('/');
    ids.get(list).map(|found| found.iter().map(|id| format!("{list}/{id}{rest}")).collect()).unwrap_or_default()
}

/// One request, recorded: the answer, and the request as reports show it.
async fn send(
    client: Arc<Client>,
    recorder: Arc<Recorder>,
    gate: Arc<Gate>,
    method: &'static str,
    url: String,
    headers: Headers,
    body: String,
) -> Result<(String, crate::http::Response), String> {
    gate.pass().await;
    let body = Bytes::from(body);
    let response = client.send(method, &url, &headers, body.clone()).await.map_err(|e| e.to_string())?;
    recorder.record(&Sent { method, url: &url, headers: &headers, body: &body }, &response);
    Ok((format!("{method} {}", crate::em::session::loggable(&url)), response))
}
