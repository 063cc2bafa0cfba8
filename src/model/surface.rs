//! The surface the recordings serve, for coverage: the resource types there are, the links
//! (Rel and Type) the resources carry, the actions their links offer, the query types the
//! query service answers; and what a request is in those terms.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::catalog::{Catalog, LinkUse, shape};
use super::{Model, QUERY_TYPES, query_value};
use crate::em;

/// What the recordings serve, each item with how many resources or links it has.
#[derive(Clone, Debug, Default)]
pub struct Surface {
    pub types: BTreeMap<String, usize>,
    /// `Down VmRestorePointReferenceList`, `Alternate VmRestorePoint`: the links a client may GET.
    pub links: BTreeMap<String, usize>,
    /// `Restore VmRestorePoint`: the links that act (POST, PUT, DELETE), by Rel and what they act on.
    pub actions: BTreeMap<String, usize>,
    pub query_types: BTreeMap<String, usize>,
    /// Where links lead (shape, method, action, entity) to the names of the links that lead there.
    leads: HashMap<(String, &'static str, String, bool), BTreeSet<String>>,
}

/// What a request was, in the surface's terms.
#[derive(Clone, Debug, Default)]
pub struct Asked {
    pub kind: Option<String>,
    pub links: Vec<String>,
    pub actions: Vec<String>,
    pub query_type: Option<String>,
}

/// What a path is: a resource's type, a service's, or a collection (`VmRestorePoint list`).
fn kind_at(catalog: &Catalog, path: &str) -> Option<String> {
    if path == "/api" {
        return Some("EnterpriseManager".to_owned());
    }
    if em::is_logon_path(path) || path.starts_with("/api/logonsessions") {
        return Some("LogonSession".to_owned());
    }
    if path.starts_with("/api/tasks/") {
        return Some("Task".to_owned());
    }
    catalog
        .resource(path)
        .map(|r| r.kind.to_string())
        .or_else(|| catalog.service(path).map(|s| s.kind.clone()))
        .or_else(|| catalog.collection(path).map(|c| format!("{} list", c.member)))
}

impl Surface {
    fn build(catalog: &Catalog) -> Surface {
        let mut s = Surface::default();
        for r in catalog.resources() {
            *s.types.entry(r.kind.to_string()).or_default() += 1;
        }
        for svc in catalog.services() {
            *s.types.entry(svc.kind.clone()).or_default() += 1;
        }
        for c in catalog.collections().filter(|c| !c.member.is_empty()) {
            *s.types.entry(format!("{} list", c.member)).or_default() += 1;
        }
        for kind in ["EnterpriseManager", "LogonSession"] {
            s.types.entry(kind.to_owned()).or_insert(1);
        }
        for (u, n, sample) in catalog.link_uses() {
            let name = if u.method == "GET" {
                match &u.kind {
                    Some(k) => format!("{} {k}", u.rel),
                    None => u.rel.clone(),
                }
            } else {
                let on = kind_at(catalog, sample).or_else(|| u.kind.clone()).unwrap_or_default();
                format!("{} {on}", u.rel).trim_end().to_owned()
            };
            let map = if u.method == "GET" { &mut s.links } else { &mut s.actions };
            *map.entry(name.clone()).or_default() += n;
            s.leads.entry((u.shape.clone(), u.method, u.action.clone(), u.entity)).or_default().insert(name);
        }
        if !s.actions.is_empty() {
            s.types.entry("Task".to_owned()).or_insert(1);
        }
        for kind in QUERY_TYPES {
            let n = catalog.of_kind(kind).len();
            if n > 0 {
                s.query_types.insert(kind.to_owned(), n);
            }
        }
        s
    }
}

impl Model {
    /// What the recordings serve (built once the catalog is).
    pub fn surface(&self) -> &Surface {
        self.surface.get_or_init(|| Surface::build(self.catalog()))
    }

    /// What a request for `path` (normalised) with `query` is.
    pub fn asked(&self, method: &str, path: &str, query: &[(String, String)]) -> Asked {
        let catalog = self.catalog();
        let surface = self.surface();
        let mut asked = Asked::default();
        if em::is_query_path(path) {
            let kind = query_value(query, "type").and_then(|t| QUERY_TYPES.iter().find(|k| k.eq_ignore_ascii_case(t)));
            asked.query_type = kind.map(|k| (*k).to_owned());
            asked.kind = Some("QueryResult".to_owned());
            return asked;
        }
        asked.kind = kind_at(catalog, path);
        let method = match method {
            "GET" | "HEAD" => "GET",
            "DELETE" => "DELETE",
            "PUT" => "PUT",
            _ => "POST",
        };
        if let Some(leads) = surface.leads.get(&LinkUse::key(shape(path), method, query)) {
            let named: Vec<String> = leads.iter().cloned().collect();
            if method == "GET" {
                asked.links = named;
            } else {
                asked.actions = named;
            }
        }
        asked
    }
}
