//! A model of an Enterprise Manager built from recordings: what exists (the catalog), how to
//! answer for what was not recorded (derivation from a recorded sibling, or a representation
//! written from what the listings say), what an action creates, and the query service. No I/O:
//! the mock asks, the model answers with body text still holding `{{origin}}` placeholders.

mod catalog;
mod derive;
pub(crate) mod query;
mod search;
pub(crate) mod spec;
mod surface;
pub use surface::{Asked, Surface};
mod write;

/// What a pack stores of the catalog its cassette makes (see [`crate::cassette::pack`]).
pub fn stored_catalog(pack: &crate::cassette::LoadedCassette) -> Vec<u8> {
    catalog::stored::part_of(pack)
}

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crate::cassette::{Body, LoadedCassette};
use crate::clock::Clock;
use crate::codec::random_uuid;
use crate::em::{self, Repr};
use crate::http::{format_rfc3339, parse_datetime_seconds};
use catalog::{Catalog, Link, Resource, href_path, is_id, parent, repr_index};
use derive::Substitution;

/// How the 404 for a collection nobody recorded begins (what `lint` tells apart from a link
/// that leads nowhere).
pub const NOT_RECORDED: &str = "Nothing was recorded of ";

/// What an answer the tape did not hold as it is rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Recorded data put together: a recorded entity answered alone, a list of recorded items,
    /// a query over them, a service document of recorded links.
    Assembled,
    /// A recorded sibling's body with this resource's identity: its other values are the
    /// sibling's, not recorded for it.
    Derived,
    /// Written from what listings say of it (identity and links): no recorded body at all.
    Written,
}

impl Basis {
    /// Whether a verdict resting on it rests on data nobody recorded.
    pub fn unrecorded(self) -> bool {
        self != Basis::Assembled
    }
}

/// What the model answers with.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub repr: Repr,
    /// Body text with placeholders, or an error message when `status` is an error.
    pub body: String,
    /// How it was made, for `-v`: "derived from … exchange 5".
    pub note: String,
    pub basis: Basis,
}

impl Answer {
    fn ok(repr: Repr, body: String, note: impl Into<String>, basis: Basis) -> Answer {
        Answer { status: 200, repr, body, note: note.into(), basis }
    }

    fn error(repr: Repr, status: u16, message: impl Into<String>) -> Answer {
        Answer { status, repr, body: message.into(), note: "model".into(), basis: Basis::Assembled }
    }
}

/// A resource a session created (a RestoreSession a restore started).
#[derive(Clone, Debug)]
pub struct Created {
    path: String,
    resource: Resource,
}

impl Created {
    /// Whether it is a member of the collection at `path` (normalised).
    pub fn is_in(&self, path: &str) -> bool {
        parent(&self.path) == path
    }
}

/// A recorded action that answered 202 with a Task: the template for every POST like it.
#[derive(Clone, Debug)]
struct Action {
    /// Normalised path of the collection the recorded target belongs to.
    collection: String,
    query: Vec<(String, String)>,
    repr: Repr,
    /// Normalised path of the recorded target.
    target: String,
    task_id: String,
    status: u16,
    headers: Vec<(String, String)>,
    /// The 202 body, then each recorded poll of the task, in order.
    steps: Vec<String>,
    /// The resource the finished task links `Related` (the RestoreSession), as recorded.
    related: Option<String>,
    /// (cassette index, seq) of the exchanges it stands for.
    exchanges: Vec<(usize, u64)>,
}

/// A task started by an action, owned by the session that started it.
#[derive(Clone, Debug)]
pub struct Task {
    pub id: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Bodies per representation: the 202 body, then the polls.
    steps: Vec<(Repr, Vec<String>)>,
    polled: usize,
    pub note: String,
}

/// Which of several recorded polls to give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Next,
    First,
    Last,
    /// The first (Running) state this many times, then the last.
    Running(u32),
}

impl Task {
    fn bodies(&self, repr: Repr) -> (Repr, &[String]) {
        let (r, b) = self.steps.iter().find(|(r, _)| *r == repr).unwrap_or(&self.steps[0]);
        (*r, b)
    }

    /// The body the POST answers with.
    pub fn accepted(&self, repr: Repr) -> (Repr, String) {
        let (r, b) = self.bodies(repr);
        (r, b[0].clone())
    }

    /// The task as a poll sees it; `Step::Next` moves it along its recorded progression.
    pub fn poll(&mut self, repr: Repr, step: Step) -> (Repr, String) {
        let (r, b) = self.bodies(repr);
        let polls = if b.len() > 1 { &b[1..] } else { b };
        let i = match step {
            Step::First => 0,
            Step::Last => polls.len() - 1,
            Step::Next => self.polled.min(polls.len() - 1),
            Step::Running(n) if self.polled < n as usize => 0,
            Step::Running(_) => polls.len() - 1,
        };
        let body = polls[i].clone();
        if matches!(step, Step::Next | Step::Running(_)) {
            self.polled += 1;
        }
        (r, body)
    }

    /// The task as the list of tasks shows it, without moving it along.
    pub fn current(&self, repr: Repr) -> (Repr, String) {
        let (r, b) = self.bodies(repr);
        let polls = if b.len() > 1 { &b[1..] } else { b };
        let i = self.polled.saturating_sub(1).min(polls.len() - 1);
        (r, if self.polled == 0 { b[0].clone() } else { polls[i].clone() })
    }
}

/// Query fields of every resource of a type.
type Fields = Arc<search::Table>;

/// A body the model made, how (for `-v`), and what it rests on.
type Made = Arc<(String, String, Basis)>;

/// What starting an action gives: the task, the resource it creates, and the recorded
/// exchanges it stands for.
pub struct Started {
    pub task: Task,
    pub created: Option<Created>,
    pub exchanges: Vec<(usize, u64)>,
}

/// The model; built once, shared by every connection.
pub struct Model {
    /// Built on a thread of its own so that a large cassette does not hold up `listening on`;
    /// the first request that needs it waits for it.
    catalog: OnceLock<Arc<Catalog>>,
    /// Where the catalog comes from, built on a thread of its own.
    pending: Mutex<Option<std::sync::mpsc::Receiver<Arc<Catalog>>>>,
    actions: Vec<Action>,
    /// Entity bodies derived so far, by (path, representation).
    derived: RwLock<HashMap<(String, usize), Made>>,
    /// Query fields of every resource of a type, by type.
    fields: RwLock<HashMap<String, Fields>>,
    /// The catalog rows the latest queries matched, in order (see [`search::Matched`]).
    matched: search::Matched,
    /// Where a new restore session's times come from.
    clock: Arc<dyn Clock>,
    surface: OnceLock<surface::Surface>,
}

/// Types the query service knows (EM documentation, `query_type`).
const QUERY_TYPES: [&str; 48] = [
    "AgentBackupJob",
    "AgentProtectionGroup",
    "AgentRestorePoint",
    "Backup",
    "BackupFile",
    "BackupJobSession",
    "BackupServer",
    "BackupTaskSession",
    "CdpPolicy",
    "CdpReplica",
    "CdpReplicaSession",
    "CdpReplicaTaskSession",
    "CloudGateway",
    "CloudGatewayPool",
    "CloudTenant",
    "CloudFailoverPlan",
    "CloudFailoverSession",
    "CloudHardwarePlan",
    "CloudPublicIpAddress",
    "CloudReplica",
    "CloudSubtenant",
    "CloudVmReplicaPoint",
    "Credentials",
    "DiscoveredComputer",
    "FailoverPlan",
    "FileServer",
    "HierarchyRoot",
    "Job",
    "ManagedServer",
    "NasJob",
    "NasObject",
    "ObjectInJob",
    "Passwords",
    "Replica",
    "ReplicaJobSession",
    "ReplicaTaskSession",
    "Repository",
    "RestorePoint",
    "RestoreSession",
    "Task",
    "vAppReplicaPoint",
    "vAppRestorePoint",
    "VCloudOrganizationConfig",
    "VlanConfiguration",
    "VmReplicaPoint",
    "VmRestorePoint",
    "VsphereSelfServiceConfig",
    "WanAccelerator",
];

fn query_value<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn wants_entity(query: &[(String, String)]) -> bool {
    query_value(query, "format") == Some("entity")
}

/// The `Related` link of a Task body, XML or JSON.
fn related_link(body: &str) -> Option<String> {
    let repr = Repr::sniff(body)?;
    em::links::root_links(body, repr).into_iter().find(|l| l.rel == "Related").map(|l| l.href)
}

impl Model {
    /// The model of `cassettes`, its catalog learned on a thread of its own; and `beside` (the
    /// request index) made of the same cassettes meanwhile, while the catalog reads the parts the
    /// packs they begin with store (each on a core of its own).
    pub fn build_beside<T>(
        cassettes: Vec<LoadedCassette>,
        clock: Arc<dyn Clock>,
        beside: impl FnOnce(&[LoadedCassette]) -> T,
    ) -> (Model, T) {
        let actions = cassettes.iter().enumerate().flat_map(|(i, c)| actions_of(i, c)).collect();
        let packs = cassettes.iter().map_while(|c| c.pack.clone()).collect();
        let (hand_over, later) = std::sync::mpsc::channel();
        let (built, pending) = std::sync::mpsc::channel();
        // Should no thread be had, the model knows nothing and the tape still answers.
        let pending = std::thread::Builder::new()
            .name("emtape-model".into())
            .spawn(move || Catalog::build_when(packs, later, |c| drop(built.send(c))))
            .map(|_| pending);
        let made = beside(&cassettes);
        // What it made needs them no longer: a pack whose part is stored lets its exchanges go
        // before the catalog has them (hundreds of MB for a large estate's).
        let mut cassettes = cassettes;
        cassettes.iter_mut().for_each(catalog::stored::let_go);
        let _ = hand_over.send(cassettes);
        let model = Model {
            catalog: OnceLock::new(),
            pending: Mutex::new(pending.ok()),
            actions,
            derived: RwLock::default(),
            fields: RwLock::default(),
            matched: search::Matched::default(),
            clock,
            surface: OnceLock::new(),
        };
        (model, made)
    }

    fn catalog(&self) -> &Catalog {
        self.catalog.get_or_init(|| {
            let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner()).take();
            pending.and_then(|p| p.recv().ok()).unwrap_or_default()
        })
    }

    fn resource<'a>(&'a self, path: &str, created: &'a [Created]) -> Option<&'a Resource> {
        created.iter().find(|c| c.path == path).map(|c| &c.resource).or_else(|| self.catalog().resource(path))
    }

    /// The entity body of `r` in `repr`: recorded, derived from a recorded sibling, or written
    /// from what the catalog knows; with a note saying which.
    fn entity(&self, path: &str, r: &Resource, repr: Repr) -> Made {
        let slot = repr_index(repr);
        if let Some(sample) = &r.entity[slot] {
            return Arc::new((sample.text().into_owned(), format!("recorded in {}", sample.origin), Basis::Assembled));
        }
        let key = (path.to_owned(), slot);
        if let Some(hit) = self.derived.read().ok().and_then(|d| d.get(&key).cloned()) {
            return hit;
        }
        let sibling = self.catalog().sample(&r.kind, Some(slot)).and_then(|(p, s)| {
            (**p != *path).then_some(())?;
            Some((s, s.entity[slot].as_ref()?))
        });
        let made = match sibling {
            Some((s, sample)) => {
                let mut sub = Substitution::default();
                sub.identity(s, r);
                let note = format!("derived from {} ({} {})", sample.origin, s.kind, s.id());
                (sub.apply_to(&sample.text(), repr), note, Basis::Derived)
            }
            None => (write::thin_entity(r, repr), format!("written from the {} listing", r.kind), Basis::Written),
        };
        let made = Arc::new(made);
        if let Ok(mut d) = self.derived.write() {
            if d.len() < 100_000 {
                d.insert(key, made.clone());
            }
        }
        made
    }

    /// Answers a GET the tape did not: a resource, a collection, a service, the query service,
    /// or EM's 404 for an id no listing names. `None` when the model knows nothing of the path.
    /// JSON is spelled as the recordings spell it (camelCase keys for EM 13).
    pub fn get(&self, path: &str, query: &[(String, String)], repr: Repr, created: &[Created]) -> Option<Answer> {
        let mut answer = self.answer(path, query, repr, created)?;
        if repr == Repr::Json && answer.status < 400 && self.catalog().camel_json() {
            answer.body = em::json::camel_keys(&answer.body);
        }
        Some(answer)
    }

    fn answer(&self, path: &str, query: &[(String, String)], repr: Repr, created: &[Created]) -> Option<Answer> {
        if em::is_query_path(path) {
            return Some(self.query(query, repr, created));
        }
        if query_value(query, "format").is_some_and(|f| f != "entity") {
            return None;
        }
        if let Some(r) = self.resource(path, created) {
            return Some(if wants_entity(query) || r.plain_entity {
                let made = self.entity(path, r, repr);
                Answer::ok(repr, made.0.clone(), made.1.clone(), made.2)
            } else {
                let basis = if r.ref_links.is_some() { Basis::Assembled } else { Basis::Written };
                Answer::ok(repr, write::reference(r, repr, true), format!("written from the {} listing", r.kind), basis)
            });
        }
        if let Some(c) = self.catalog().collection(path) {
            let extra = created.iter().filter(|x| parent(&x.path) == path && !c.members.iter().any(|m| **m == *x.path));
            let members: Vec<&str> = c.members.iter().map(|m| &**m).chain(extra.map(|x| x.path.as_str())).collect();
            if members.is_empty() && !c.recorded {
                // Never an empty 200 for what nobody recorded: a client would read it as "none".
                let what = if c.member.is_empty() { "it".to_owned() } else { format!("its {}s", c.member) };
                return Some(Answer::error(
                    repr,
                    404,
                    format!(
                        "{NOT_RECORDED}{path}: no recording lists {what}, so whether EM has any is not known \
                         (emtape: record it with `emtape crawl` or `emtape record`)."
                    ),
                ));
            }
            let entities = wants_entity(query);
            // A list is as recorded as the least recorded of its items.
            let mut basis = if c.recorded { Basis::Assembled } else { Basis::Derived };
            let items: Vec<String> = members
                .iter()
                .filter_map(|p| Some((&**p, self.resource(p, created)?)))
                .map(|(p, r)| {
                    if entities {
                        let made = self.entity(p, r, repr);
                        basis = basis.max(made.2);
                        write::as_item(&made.0, repr)
                    } else {
                        write::reference(r, repr, false)
                    }
                })
                .collect();
            let note = format!("the {} collection as the recordings list it ({} known)", c.member, items.len());
            return Some(Answer::ok(repr, write::list(&items, &c.member, entities, repr), note, basis));
        }
        if let Some(s) = self.catalog().service(path) {
            let mut links = vec![Link {
                rel: "Up".into(),
                kind: Some("EnterpriseManager".into()),
                href: "{{origin}}/api/".into(),
                name: None,
            }];
            if s.kind == "QueryService" {
                // Every type a resource has (not a walk through a million resources per request).
                let mut kinds: Vec<&str> = self.catalog().kinds().collect();
                kinds.sort_unstable();
                links.extend(kinds.into_iter().map(|k| Link {
                    rel: "Down".into(),
                    kind: Some("QueryResult".into()),
                    href: format!("{{{{origin}}}}/api/query?type={k}"),
                    name: Some(k.to_owned()),
                }));
            }
            let body = write::service(&s.kind, &s.href, s.name.as_deref(), &links, repr);
            return Some(Answer::ok(repr, body, format!("the {} service document", s.kind), Basis::Assembled));
        }
        let last = path.rsplit('/').next().unwrap_or_default();
        if is_id(last) {
            if let Some(c) = self.catalog().collection(parent(path)) {
                let message = if c.member == "Task" {
                    format!(
                        "Task {last} does not exist in this logon session (a task belongs to the session that started it)."
                    )
                } else {
                    format!("{} with id {last} was not found (no listing names it).", c.member)
                };
                return Some(Answer::error(repr, 404, message));
            }
        }
        None
    }

    /// The recorded action a POST stands for, if any.
    fn action(&self, path: &str, query: &[(String, String)], repr: Repr) -> Option<&Action> {
        let matching = self.actions.iter().filter(|a| a.collection == parent(path) && a.query == query);
        let all: Vec<&Action> = matching.collect();
        all.iter().find(|a| a.repr == repr).or(all.first()).copied()
    }

    /// The VM a restore point at `path` is of: its `VmDisplayName`, or its name's part before `@`.
    pub fn vm_of(&self, path: &str) -> Option<String> {
        let r = self.catalog().resource(path)?;
        let from_entity = r.entity.iter().flatten().find_map(|s| {
            let text = s.text();
            let at = text.find("VmDisplayName").or_else(|| text.find("vmDisplayName"))? + "VmDisplayName".len();
            let rest = text[at..].trim_start_matches(['"', '=', ':', ' ']);
            let end = rest.find('"')?;
            Some(rest[..end].to_owned())
        });
        from_entity.or_else(|| r.name.as_deref()?.split_once('@').map(|(vm, _)| vm.to_owned()))
    }

    /// Whether a POST is a recorded action's.
    pub fn is_action(&self, path: &str, query: &[(String, String)]) -> bool {
        self.action(path, query, Repr::Xml).is_some()
    }

    /// Starts the action a POST asks for: `Err` is EM's error answer (404 for a target no
    /// listing names, 400 for a malformed RestoreSpec). `number` is the session's next task
    /// number; `first` says whether this session has restored the recorded target before.
    pub fn start(
        &self,
        path: &str,
        query: &[(String, String)],
        repr: Repr,
        body: &[u8],
        number: u32,
        repeat: bool,
    ) -> Option<Result<Started, Answer>> {
        let action = self.action(path, query, repr)?;
        let Some(target) = self.catalog().resource(path) else {
            let kind = self.catalog().resource(action.target.as_str()).map_or("resource", |r| &*r.kind);
            let last = path.rsplit('/').next().unwrap_or_default();
            return Some(Err(Answer::error(repr, 404, format!("{kind} with id {last} was not found."))));
        };
        if query_value(query, "action") == Some("restore") {
            if let Err(message) = spec::check_restore_spec(body, repr) {
                return Some(Err(Answer::error(repr, 400, message)));
            }
        }
        let task_id = format!("task-{number}");
        let mut sub = Substitution::default();
        if let Some(recorded) = self.catalog().resource(action.target.as_str()) {
            if action.target != path {
                sub.identity(recorded, target);
            }
        }
        sub.push(&action.task_id, &task_id);
        let created = action.related.as_ref().and_then(|related| {
            let recorded = self.catalog().resource(related.as_str())?;
            let fresh = repeat || action.target != path;
            let new_id = if fresh { random_uuid() } else { recorded.id().to_owned() };
            sub.push(recorded.id(), &new_id);
            if fresh {
                shift_times(&mut sub, recorded, self.clock.unix_seconds());
            }
            let mut resource = recorded.clone();
            resource.href = sub.apply(&recorded.href);
            resource.name = recorded.name.as_ref().map(|n| sub.apply(n));
            resource.uid = recorded.uid().map(|u| catalog::Uid::Other(sub.apply(&u)));
            resource.ref_links = recorded.ref_links.as_ref().map(|l| l.rewritten(recorded.own(), |s| sub.apply(s)));
            resource.entity_links =
                recorded.entity_links.as_ref().map(|l| l.rewritten(recorded.own(), |s| sub.apply(s)));
            for slot in 0..2 {
                let repr = if slot == 0 { Repr::Xml } else { Repr::Json };
                let text = match &recorded.entity[slot] {
                    Some(s) => Some(s.text().into_owned()),
                    None => Some(self.entity(related, recorded, repr).0.clone()),
                };
                resource.entity[slot] = text.map(|t| {
                    catalog::Sample::whole(sub.apply_to(&t, repr).into(), format!("the restore of {}", target.id()))
                });
            }
            Some(Created { path: href_path(&resource.href)?, resource })
        });
        // The same action recorded in the other representation answers polls in it: its own
        // recorded task id, target and RestoreSession map to this task's.
        let new_related = created.as_ref().map(|c| c.resource.id().to_owned());
        let mut steps =
            vec![(action.repr, action.steps.iter().map(|s| sub.apply_to(s, action.repr)).collect::<Vec<_>>())];
        let others = self
            .actions
            .iter()
            .filter(|a| a.collection == action.collection && a.query == action.query && a.repr != action.repr);
        for a in others {
            if steps.iter().any(|(r, _)| *r == a.repr) {
                continue;
            }
            let mut theirs = sub.clone();
            if let Some(recorded) = self.catalog().resource(a.target.as_str()) {
                if a.target != path {
                    theirs.identity(recorded, target);
                }
            }
            theirs.push(&a.task_id, &task_id);
            if let (Some(related), Some(new_id)) = (a.related.as_ref(), new_related.as_deref()) {
                if let Some(recorded) = self.catalog().resource(related.as_str()) {
                    theirs.push(recorded.id(), new_id);
                }
            }
            steps.push((a.repr, a.steps.iter().map(|s| theirs.apply_to(s, a.repr)).collect::<Vec<_>>()));
        }
        let exchanges = action.exchanges.clone();
        let note = format!("{task_id} started on {} {}", target.kind, target.id());
        let task = Task { id: task_id, status: action.status, headers: action.headers.clone(), steps, polled: 0, note };
        Some(Ok(Started { task, created, exchanges }))
    }

    /// Every task of a session as `GET /api/tasks` lists them.
    pub fn task_list(&self, tasks: &[Task], repr: Repr) -> String {
        let items: Vec<String> = tasks.iter().map(|t| write::as_item(&t.current(repr).1, repr)).collect();
        let key = if self.catalog().camel_json() { "tasks" } else { "Tasks" };
        match repr {
            Repr::Xml if items.is_empty() => format!("<Tasks xmlns=\"{}\" />\n", em::NAMESPACE),
            Repr::Xml => format!("<Tasks xmlns=\"{}\">\n{}</Tasks>\n", em::NAMESPACE, items.concat()),
            Repr::Json => format!("{{\"{key}\": [{}]}}\n", items.join(",\n")),
        }
    }
}

/// Moves a restore session's times to now: its Name's time, `CreationTimeUTC`, and an
/// `EndTimeUTC` as far after it as recorded.
fn shift_times(sub: &mut Substitution, recorded: &Resource, now: u64) {
    let stamp = |secs: u64| format_rfc3339(secs)[..19].replacen('T', " ", 1);
    let Some((_, time)) = recorded.name.as_deref().and_then(|n| n.split_once('@')) else { return };
    let Some(start) = parse_datetime_seconds(time) else { return };
    if let Some(sample) = recorded.entity.iter().flatten().next() {
        let text = sample.text();
        if let Some(at) = text.find("EndTimeUTC") {
            let after = &text[at..];
            if let Some(end) = after.char_indices().find_map(|(i, _)| {
                let s = after.get(i..i + 19)?;
                parse_datetime_seconds(s).map(|secs| (s.to_owned(), secs))
            }) {
                let shifted = stamp(now + end.1.saturating_sub(start)).replacen(' ', "T", 1);
                sub.push(&end.0, &shifted);
            }
        }
    }
    if let Some(name) = &recorded.name {
        let (vm, _) = name.split_once('@').unwrap_or((name, ""));
        let vm = sub.apply(vm);
        sub.push_name(name, &format!("{vm}@{}", stamp(now)));
    }
}

/// The recorded actions of one cassette: each POST answered 202 with a Task, with the polls of
/// that task that followed it in the same session and representation.
fn actions_of(source: usize, cassette: &LoadedCassette) -> Vec<Action> {
    let exchanges = &cassette.cassette.exchanges;
    let mut actions = Vec::new();
    for (i, x) in exchanges.iter().enumerate() {
        if x.request.method != "POST" || x.response.status != 202 {
            continue;
        }
        let Ok(body) = cassette.cassette.response_body(i).read() else { continue };
        let Body::Text { text, .. } = &*body else { continue };
        let repr = x.response_repr();
        let Some(task_id) = task_id(text) else { continue };
        let (raw_path, raw_query) = x.request.uri.split_once('?').unwrap_or((&x.request.uri, ""));
        let target = em::normalize_path(raw_path);
        let mut query = em::normalize_query(raw_query);
        query.retain(|(k, _)| k != "v");
        let task_path = format!("/api/tasks/{}", task_id.to_ascii_lowercase());
        let token = em::session_token(&x.request.headers);
        let mut steps = vec![text.to_string()];
        let mut seqs = vec![(source, x.seq)];
        for (j, poll) in exchanges.iter().enumerate().skip(i + 1) {
            let same_session = em::session_token(&poll.request.headers) == token;
            let poll_path = em::normalize_path(poll.request.uri.split('?').next().unwrap_or_default());
            if poll.request.method == "POST" && same_session && poll_path == target {
                break;
            }
            if poll.request.method == "GET" && poll_path == task_path && same_session && poll.response.status == 200 {
                if let Ok(Body::Text { text, .. }) = cassette.cassette.response_body(j).read().as_deref() {
                    steps.push(text.to_string());
                    seqs.push((source, poll.seq));
                }
            }
        }
        let related = steps.iter().rev().find_map(|s| related_link(s)).and_then(|h| href_path(&h));
        actions.push(Action {
            collection: parent(&target).to_owned(),
            query,
            repr,
            target,
            task_id,
            status: x.response.status,
            headers: x.response.headers.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect(),
            steps,
            related,
            exchanges: seqs,
        });
    }
    actions
}

/// The `TaskId` of a Task body, XML or JSON (`TaskId` or, as EM 13 writes it, `taskId`).
fn task_id(body: &str) -> Option<String> {
    if let Ok(root) = crate::xml::parse(body) {
        return (root.name == "Task").then(|| root.child("TaskId").map(|t| t.text())).flatten();
    }
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    em::links::text(v.as_object()?, "TaskId").map(str::to_owned)
}
