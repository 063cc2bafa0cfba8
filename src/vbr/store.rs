//! What a VBR recording says exists: every list a GET answered (`{"data": [...],
//! "pagination": …}`) with its items in order, every entity by its path (recorded alone, or an
//! item of a list of its type), the answers of actions (`POST …/vmRestore/vSphere` answered a
//! SessionModel), the token endpoint's answer, and whatever else was recorded, by request.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::cassette::LoadedCassette;
use crate::codec::is_uuid;

/// A sub-collection whose items are those of another top-level collection: a backup's
/// `objects` are `backupObjects`.
const ALIASES: [(&str, &str); 1] = [("objects", "backupObjects")];

/// A recorded answer.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub status: u16,
    pub body: String,
    /// `cassette.yaml:12`, for logs.
    pub origin: String,
}

#[derive(Default)]
pub struct Store {
    /// Lists by path (no query), items in the order first seen, each once.
    pub lists: HashMap<String, Vec<Value>>,
    /// Entities by path: recorded alone, or an item of a list of their type.
    pub entities: HashMap<String, Value>,
    /// What an action (a POST, PUT or DELETE) answered, by method and path shape.
    pub actions: HashMap<(String, String), Recorded>,
    /// The token endpoint's answer, as a model for the ones the mock mints.
    pub token: Option<Map<String, Value>>,
    /// Every recorded GET answer, by path with query.
    pub exact: HashMap<String, Recorded>,
    /// Paths of every list and entity, as recorded (for explanations).
    pub known: Vec<String>,
}

/// A path with its ids as `{}`: `/api/v1/restore/instantRecovery/vSphere/vm/{}/migrate`.
pub fn shape(path: &str) -> String {
    path.split('/').map(|s| if is_uuid(s) { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// The path without its trailing slash (1.1's `vmRestore/vmware/` is the same place).
pub fn plain(path: &str) -> &str {
    if path.len() > 1 { path.trim_end_matches('/') } else { path }
}

impl Store {
    pub fn build(cassettes: &[LoadedCassette]) -> Store {
        let mut store = Store::default();
        for c in cassettes {
            for (i, e) in c.cassette.exchanges.iter().enumerate() {
                let (path, query) = e.request.uri.split_once('?').unwrap_or((&e.request.uri, ""));
                let path = plain(path).to_owned();
                let body = c.cassette.response_body(i).as_text().unwrap_or_default();
                let recorded = Recorded {
                    status: e.response.status,
                    body: body.to_owned(),
                    origin: format!("{}:{}", c.name, c.lines.get(i).copied().unwrap_or(0)),
                };
                let method = e.request.method.to_ascii_uppercase();
                if path.eq_ignore_ascii_case(super::TOKEN_PATH) {
                    if let (true, Ok(Value::Object(m))) = (e.response.status < 300, serde_json::from_str(body)) {
                        store.token.get_or_insert(m);
                    }
                    continue;
                }
                if method != "GET" {
                    if e.response.status < 300 {
                        store.actions.entry((method, shape(&path))).or_insert(recorded);
                    }
                    continue;
                }
                let target = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
                store.exact.entry(target).or_insert(recorded);
                let value = (e.response.status == 200).then(|| serde_json::from_str::<Value>(body).ok()).flatten();
                match value {
                    Some(Value::Object(mut m)) if m.get("data").is_some_and(Value::is_array) => {
                        let Some(Value::Array(items)) = m.remove("data") else { continue };
                        store.learn_list(&path, items);
                    }
                    Some(v @ Value::Object(_)) if path.rsplit('/').next().is_some_and(is_uuid) => {
                        store.known.push(path.clone());
                        store.entities.insert(path, v);
                    }
                    _ => {}
                }
            }
        }
        // Items answer as entities where a top-level list of theirs lives (1.1's restore points
        // are `objectRestorePoints`); a sub-list's items no top-level list holds, by its name.
        let mut lists: Vec<(&String, &Vec<Value>)> = store.lists.iter().collect();
        lists.sort_by_key(|(p, _)| (p.matches('/').count(), p.as_str()));
        let mut held: HashMap<String, String> = HashMap::new();
        for (path, items) in lists {
            let top = path.matches('/').count() == 3;
            for item in items {
                let Some(id) = item.get("id").and_then(Value::as_str) else { continue };
                if !top && held.contains_key(id) {
                    continue;
                }
                let at = format!("{}/{id}", if top { path.clone() } else { entity_collection(path) });
                held.entry(id.to_owned()).or_insert_with(|| at.clone());
                store.entities.entry(at).or_insert_with(|| item.clone());
            }
        }
        store
    }

    fn learn_list(&mut self, path: &str, items: Vec<Value>) {
        let list = self.lists.entry(path.to_owned()).or_default();
        if list.is_empty() {
            self.known.push(path.to_owned());
        }
        for item in items {
            let id = item.get("id").and_then(Value::as_str);
            if id.is_none() || !list.iter().any(|x| x.get("id").and_then(Value::as_str) == id) {
                list.push(item);
            }
        }
    }

    /// The restore point of this id (1.2 on: `restorePoints`; 1.1: `objectRestorePoints`).
    pub fn restore_point(&self, id: &str) -> Option<&Value> {
        ["/api/v1/restorePoints", "/api/v1/objectRestorePoints"]
            .iter()
            .find_map(|list| self.entities.get(&format!("{list}/{id}")))
    }

    /// A list a recording holds, or the one a relation gives: the restore points of a backup
    /// object are those the top-level list names with its id (`backupObjectId`, `backupId`).
    pub fn list(&self, path: &str) -> Option<Vec<&Value>> {
        if let Some(items) = self.lists.get(path) {
            return Some(items.iter().collect());
        }
        // /api/v1/{parents}/{id}/{children}: the children whose `{parent}Id` is the id.
        let mut parts = path.rsplitn(3, '/');
        let (child, id, parent) = (parts.next()?, parts.next()?, parts.next()?);
        if !is_uuid(id) || !self.entities.contains_key(&format!("{parent}/{id}")) {
            return None;
        }
        let top = format!("{}/{}", parent.rsplit_once('/')?.0, alias(child));
        let key = format!("{}Id", singular(parent.rsplit('/').next()?));
        let items = self.lists.get(&top)?;
        Some(items.iter().filter(|x| x.get(&key).and_then(Value::as_str) == Some(id)).collect())
    }

    /// Whether a list's item is a member of the `parent` whose id is `id`, by its `{parent}Id`
    /// field or by a recorded list of the parent's (`/api/v1/backupObjects/{id}/restorePoints`).
    pub fn member_of(&self, item: &Value, parent: &str, id: &str) -> bool {
        if let Some(v) = item.get(format!("{parent}Id")).and_then(Value::as_str) {
            return v.eq_ignore_ascii_case(id);
        }
        let Some(item_id) = item.get("id").and_then(Value::as_str) else { return false };
        // /api/v1/{parents}/{id}/{children}: 1.1's `objectRestorePoints` are a backup object's `restorePoints`.
        self.lists.iter().any(|(p, items)| {
            let mut segments = p.trim_start_matches("/api/v1/").split('/');
            let (Some(parents), Some(pid), Some(_), None) =
                (segments.next(), segments.next(), segments.next(), segments.next())
            else {
                return false;
            };
            singular(parents) == parent
                && pid.eq_ignore_ascii_case(id)
                && items.iter().any(|x| x.get("id").and_then(Value::as_str) == Some(item_id))
        })
    }
}

/// Where the entities of a list's items live: `/api/v1/backups/{id}/objects` lists
/// `/api/v1/backupObjects/{id}`s; `/api/v1/backupObjects/{id}/restorePoints`, `/api/v1/restorePoints/{id}`s.
fn entity_collection(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or(path);
    match path.strip_prefix("/api/v1/") {
        Some(rest) if rest.contains('/') => format!("/api/v1/{}", alias(last)),
        _ => path.to_owned(),
    }
}

fn alias(segment: &str) -> &str {
    ALIASES.iter().find(|(from, _)| *from == segment).map_or(segment, |(_, to)| to)
}

/// `backupObjects` -> `backupObject`, `restorePoints` -> `restorePoint`.
pub fn singular(plural: &str) -> &str {
    plural.strip_suffix('s').unwrap_or(plural)
}
