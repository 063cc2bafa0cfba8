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
    let mut headers = Headers::new();
    headers.push("Accept", "application/json");
    headers.push(API_VERSION_HEADER, options.revision.clone());
    let mut form = headers.clone();
    form.push("Content-Type", "application/x-www-form-urlencoded");
    let grant = password_grant(&options.user, &options.password);
    let token =
        send(&client, &recorder, &mut done, "POST", &format!("{}{TOKEN_PATH}", options.base), &form, grant).await?;
    let Some(access) = super::tokens_in(&token.body).0 else {
        let said = super::logon_refusal(&token).unwrap_or_else(|| "the answer holds no access_token".into());
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
        for path in fill(template, &ids) {
            if done.requests >= options.max_requests {
                break;
            }
            let url = if listing {
                format!("{}{path}?limit={}", options.base, options.sample)
            } else {
                format!("{}{path}", options.base)
            };
            let r = send(&client, &recorder, &mut done, "GET", &url, &headers, String::new()).await?;
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
            ids.entry(super::store::shape(&path).replace("{}", "{id}")).or_default().extend(found);
        }
    }
    let _ =
        send(&client, &recorder, &mut done, "POST", &format!("{}{LOGOUT_PATH}", options.base), &headers, String::new())
            .await;
    Ok(done)
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

async fn send(
    client: &Client,
    recorder: &Recorder,
    done: &mut Crawled,
    method: &str,
    url: &str,
    headers: &Headers,
    body: String,
) -> Result<crate::http::Response, String> {
    let body = Bytes::from(body);
    let response = client.send(method, url, headers, body.clone()).await.map_err(|e| e.to_string())?;
    recorder.record(&Sent { method, url, headers, body: &body }, &response);
    done.requests += 1;
    if response.status >= 400 {
        let said = super::error_message(&response.body).unwrap_or_default();
        done.refused.push(format!("{method} {} -> {} {said}", crate::em::session::loggable(url), response.status));
    }
    Ok(response)
}
