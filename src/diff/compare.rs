//! Comparing two bodies as trees: elements by name (namespace-aware, prefixes cosmetic),
//! attributes as a set, values by kind, links as a set keyed by (Rel, Type, path template), and
//! lists item by item when their keys say which items correspond.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::tree::{IN_ARRAY, Tree, json_type_name};
use super::values::{Kind, contains_date, enum_like, kind, stable_key, template};
use super::{Drift, DriftKind, Ignore};
use crate::xml::XmlError;

/// A place in a body: the path shown (with item keys) and the plain one (for `--ignore`).
/// Paths read like XPath in XML (`/Task/Result/@Success`) and like JSON pointers in JSON
/// (`/Result/Success`).
#[derive(Clone, Debug)]
pub(crate) struct Place {
    pub shown: String,
    pub plain: String,
    json: bool,
}

impl Place {
    pub fn root(name: &str, json: bool) -> Place {
        let start = if json { String::new() } else { format!("/{name}") };
        Place { shown: start.clone(), plain: start, json }
    }

    fn child(&self, name: &str) -> Place {
        Place { shown: format!("{}/{name}", self.shown), plain: format!("{}/{name}", self.plain), json: self.json }
    }

    fn keyed(&self, field: &str, key: &str) -> Place {
        let at = if self.json { "" } else { "@" };
        Place { shown: format!("{}[{at}{field}='{key}']", self.shown), plain: self.plain.clone(), json: self.json }
    }

    fn attribute(&self, name: &str) -> Place {
        let at = if self.json { "" } else { "@" };
        Place {
            shown: format!("{}/{at}{name}", self.shown),
            plain: format!("{}/{at}{name}", self.plain),
            json: self.json,
        }
    }

    fn link(&self, rel: &str) -> Place {
        if self.json {
            self.child(&format!("Links[Rel='{rel}']"))
        } else {
            self.child(&format!("Links/Link[@Rel='{rel}']"))
        }
    }
}

/// How the items of a list correspond.
enum Key {
    /// By a name that is part of the contract (`SupportedVersion Name="v1_7"`): items that
    /// come and go are drift.
    Stable(&'static str),
    /// By an identity of the data (`UID`): items that come and go are data.
    Data(&'static str),
}

pub(crate) struct Comparer<'t, 'a> {
    pub old: &'t Tree<'a>,
    pub new: &'t Tree<'a>,
    pub ignore: &'t [Ignore],
    pub drifts: Vec<Drift>,
    /// The two roots are different resources (their UIDs differ): what their fields hold is
    /// data, so a value one has and the other lacks is no new enum value.
    pub different_resources: bool,
    /// Why the comparison stopped before the end, if it did.
    pub stopped: Option<Stopped>,
}

/// Why a comparison of skeletons ([`Tree::item`]) stopped.
pub(crate) enum Stopped {
    /// It met items of lists to be taken together (they do not pair by their keys): compare
    /// the whole trees instead.
    Whole,
    /// An item does not parse.
    Unparsed { new: bool, error: XmlError },
}

type Link = (String, String, String);

/// Items of a list paired by their keys, compared in runs of this many, one run per core at a
/// time, when there are more.
const PAIRED_APART: usize = 512;

impl<'t, 'a> Comparer<'t, 'a> {
    pub fn new(old: &'t Tree<'a>, new: &'t Tree<'a>, ignore: &'t [Ignore]) -> Self {
        Comparer { old, new, ignore, drifts: Vec::new(), different_resources: false, stopped: None }
    }

    fn drift(
        &mut self,
        kind: DriftKind,
        place: &Place,
        item: Option<&str>,
        old: Option<String>,
        new: Option<String>,
        lines: (Option<u32>, Option<u32>),
    ) {
        if self.ignore.iter().any(|i| i.matches(&place.plain)) {
            return;
        }
        self.drifts.push(Drift {
            kind,
            severity: kind.severity(),
            path: place.shown.clone(),
            item: item.map(str::to_owned),
            old,
            new,
            old_line: lines.0.map(|n| self.old.line(n)),
            new_line: lines.1.map(|n| self.new.line(n)),
        });
    }

    /// Compares two roots.
    pub fn roots(&mut self) {
        let (o, n) = (self.old.root(), self.new.root());
        self.different_resources = matches!(
            (self.old.attribute(o, "UID"), self.new.attribute(n, "UID")),
            (Some(a), Some(b)) if a != b
        );
        let place = Place::root(self.new.name(n), self.new.json);
        if self.old.name(o) != self.new.name(n) {
            let (old, new) = (self.old.name(o).to_owned(), self.new.name(n).to_owned());
            self.drift(DriftKind::RootChanged, &place, None, Some(old), Some(new), (Some(o), Some(n)));
        }
        self.group(&[o], &[n], &place, None, None, None);
    }

    fn key_of(&self, olds: &[u32], news: &[u32]) -> Option<Key> {
        let all = |field: &str| {
            olds.iter().all(|n| self.old.attribute(*n, field).is_some())
                && news.iter().all(|n| self.new.attribute(*n, field).is_some())
        };
        if all("UID") {
            return Some(Key::Data("UID"));
        }
        if all("Name") {
            let stable = olds.iter().all(|n| self.old.attribute(*n, "Name").is_some_and(stable_key))
                && news.iter().all(|n| self.new.attribute(*n, "Name").is_some_and(stable_key));
            return Some(if stable { Key::Stable("Name") } else { Key::Data("Name") });
        }
        None
    }

    /// Compares the elements of one name under corresponding parents.
    fn group(
        &mut self,
        olds: &[u32],
        news: &[u32],
        place: &Place,
        item: Option<&str>,
        ns: Option<(u32, u32)>,
        prefix: Option<(String, String)>,
    ) {
        if self.stopped.is_some() {
            return;
        }
        if olds.len() > 1 || news.len() > 1 {
            match self.key_of(olds, news) {
                Some(Key::Stable(field)) => {
                    let old_keys: Vec<(&str, u32)> =
                        olds.iter().map(|n| (self.old.attribute(*n, field).unwrap_or(""), *n)).collect();
                    let new_keys: HashMap<&str, u32> =
                        news.iter().map(|n| (self.new.attribute(*n, field).unwrap_or(""), *n)).collect();
                    let old_set: BTreeSet<&str> = old_keys.iter().map(|(k, _)| *k).collect();
                    for (k, o) in &old_keys {
                        match new_keys.get(k) {
                            Some(n) => self.group(&[*o], &[*n], &place.keyed(field, k), item, ns, prefix.clone()),
                            None => self.drift(
                                DriftKind::ItemRemoved,
                                &place.keyed(field, k),
                                item,
                                Some((*k).to_owned()),
                                None,
                                (Some(*o), None),
                            ),
                        }
                    }
                    for n in news {
                        let k = self.new.attribute(*n, field).unwrap_or("");
                        if !old_set.contains(k) {
                            self.drift(
                                DriftKind::ItemAdded,
                                &place.keyed(field, k),
                                item,
                                None,
                                Some(k.to_owned()),
                                (None, Some(*n)),
                            );
                        }
                    }
                    return;
                }
                Some(Key::Data(field)) => {
                    let new_keys: HashMap<&str, u32> =
                        news.iter().map(|n| (self.new.attribute(*n, field).unwrap_or(""), *n)).collect();
                    let pairs: Vec<(u32, u32, &str)> = olds
                        .iter()
                        .filter_map(|o| {
                            let k = self.old.attribute(*o, field)?;
                            new_keys.get(k).map(|n| (*o, *n, k))
                        })
                        .collect();
                    if !pairs.is_empty() && pairs.len() * 2 >= olds.len().min(news.len()) {
                        self.pairs(&pairs, place, field, ns, prefix);
                        return;
                    }
                }
                None => {}
            }
        }
        self.element(olds, news, place, item, ns, prefix);
    }

    /// Compares the items of two lists paired by their `field`, in their order. A listing of
    /// half a million items is compared in runs, one per core, each on a comparer of its own:
    /// its drifts come in the order the items do, and it stops where the first run stopped.
    fn pairs(
        &mut self,
        pairs: &[(u32, u32, &str)],
        place: &Place,
        field: &str,
        ns: Option<(u32, u32)>,
        prefix: Option<(String, String)>,
    ) {
        let compare_run = |c: &mut Comparer<'t, 'a>, run: &[(u32, u32, &str)]| {
            for &(o, n, k) in run {
                // Byte-identical items cannot differ (a namespace inherited from above was
                // reported above).
                if c.old.same_source(o, c.new, n) {
                    continue;
                }
                c.group(&[o], &[n], &place.keyed(field, k), Some(k), ns, prefix.clone());
                if c.stopped.is_some() {
                    return;
                }
            }
        };
        if pairs.len() < PAIRED_APART {
            return compare_run(self, pairs);
        }
        let runs: Vec<&[(u32, u32, &str)]> = pairs.chunks(PAIRED_APART).collect();
        let (old, new, ignore, different) = (self.old, self.new, self.ignore, self.different_resources);
        let done = crate::parallel::map(&runs, |run| {
            let mut c = Comparer::new(old, new, ignore);
            c.different_resources = different;
            compare_run(&mut c, run);
            (c.drifts, c.stopped)
        });
        for (mut drifts, stopped) in done {
            self.drifts.append(&mut drifts);
            if stopped.is_some() {
                self.stopped = stopped;
                return;
            }
        }
    }

    /// Compares `olds` taken together with `news` taken together (one each, or the items of
    /// lists whose items do not correspond one to one).
    fn element(
        &mut self,
        olds: &[u32],
        news: &[u32],
        place: &Place,
        item: Option<&str>,
        ns: Option<(u32, u32)>,
        prefix: Option<(String, String)>,
    ) {
        if self.stopped.is_some() {
            return;
        }
        if olds.iter().any(|n| self.old.is_lazy(*n)) || news.iter().any(|n| self.new.is_lazy(*n)) {
            match (olds, news) {
                ([o], [n]) => self.items(*o, *n, place, item, ns, prefix),
                _ => self.stopped = Some(Stopped::Whole),
            }
            return;
        }
        let (o0, n0) = (olds[0], news[0]);
        let lines = (Some(o0), Some(n0));
        // Namespace: reported where it changes, not again for everything inside.
        let (oi, ni) = (self.old.nodes[o0 as usize].ns, self.new.nodes[n0 as usize].ns);
        let same_ns = self.old.namespaces[oi as usize] == self.new.namespaces[ni as usize];
        let mut ns = ns;
        if !same_ns && ns != Some((oi, ni)) {
            let (o, n) = (self.old.namespaces[oi as usize].clone(), self.new.namespaces[ni as usize].clone());
            self.drift(DriftKind::NamespaceChanged, place, item, Some(o), Some(n), lines);
            ns = Some((oi, ni));
        } else if same_ns {
            ns = None;
        }
        let show = |p: Option<&str>| p.map_or_else(|| "(default)".to_owned(), |p| format!("{p}:"));
        let prefixes = (show(self.old.prefix(o0)), show(self.new.prefix(n0)));
        let mut prefix = prefix;
        if same_ns && prefixes.0 != prefixes.1 && prefix.as_ref() != Some(&prefixes) && !self.old.json {
            self.drift(
                DriftKind::PrefixChanged,
                place,
                item,
                Some(prefixes.0.clone()),
                Some(prefixes.1.clone()),
                lines,
            );
            prefix = Some(prefixes);
        } else if prefixes.0 == prefixes.1 {
            prefix = None;
        }
        // Attributes, as sets of names with their values.
        let collect = |t: &Tree<'_>, nodes: &[u32]| {
            let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for n in nodes {
                for (k, v) in t.attributes(*n) {
                    map.entry(k.to_owned()).or_default().push(v.to_owned());
                }
            }
            map
        };
        let (oa, na) = (collect(self.old, olds), collect(self.new, news));
        // In JSON a member that went from a scalar to an object or array (or back) is one type
        // change (reported by `json_types`), not a removal and an addition.
        let (ok, nk) = (child_names(self.old, olds), child_names(self.new, news));
        let retyped = |name: &str, other: &BTreeSet<String>| self.old.json && other.contains(name);
        for (name, values) in &oa {
            match na.get(name) {
                None if retyped(name, &nk) => {}
                None => {
                    let was = values.first().map(|v| format!("{name}=\"{v}\""));
                    self.drift(DriftKind::AttributeRemoved, &place.attribute(name), item, was, None, lines);
                }
                Some(new_values) => self.values(&place.attribute(name), item, values, new_values, lines),
            }
        }
        for (name, values) in &na {
            if !oa.contains_key(name) && !retyped(name, &ok) {
                let now = values.first().map(|v| format!("{name}=\"{v}\""));
                self.drift(DriftKind::AttributeAdded, &place.attribute(name), item, None, now, lines);
            }
        }
        if self.old.json && self.new.json {
            self.json_types(olds, news, place, item, lines);
        }
        // Text.
        let texts = |t: &Tree<'_>, nodes: &[u32]| {
            nodes.iter().filter_map(|n| t.text(*n).map(str::to_owned)).collect::<Vec<_>>()
        };
        let (ot, nt) = (texts(self.old, olds), texts(self.new, news));
        if !ot.is_empty() && !nt.is_empty() {
            self.values(place, item, &ot, &nt, lines);
        }
        // XML text that became elements: a client reading the text gets nothing (what JSON
        // reports as a string become an object). The new elements are that one change.
        if !self.old.json && !ot.is_empty() && nt.is_empty() && ok.is_empty() && !nk.is_empty() {
            let now = nk.iter().map(String::as_str).collect::<Vec<_>>().join(", ");
            self.drift(
                DriftKind::KindChanged,
                place,
                item,
                Some(format!("text ({})", ot[0])),
                Some(format!("elements ({now})")),
                lines,
            );
            return;
        }
        self.links(olds, news, place, item, lines);
        // Children, by name; `Links` is compared above, as a set.
        let children = |t: &Tree<'_>, nodes: &[u32]| {
            let mut map: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            let mut order: Vec<String> = Vec::new();
            for n in nodes {
                for c in t.children(*n) {
                    let name = t.name(c).to_owned();
                    if order.last() != Some(&name) {
                        order.push(name.clone());
                    }
                    map.entry(name).or_default().push(c);
                }
            }
            (map, order)
        };
        let ((oc, oorder), (nc, norder)) = (children(self.old, olds), children(self.new, news));
        for (name, old_nodes) in &oc {
            let child = place.child(name);
            match nc.get(name) {
                // Links, kept or gone, are compared as a set above.
                _ if name == "Links" => {}
                None if self.old.json && na.contains_key(name) => {}
                None => self.drift(
                    DriftKind::ElementRemoved,
                    &child,
                    item,
                    Some(name.clone()),
                    None,
                    (Some(old_nodes[0]), None),
                ),
                Some(new_nodes) => {
                    if !self.old.json && self.now_repeats(olds, news, name, old_nodes, new_nodes) {
                        self.drift(
                            DriftKind::ElementRepeated,
                            &child,
                            item,
                            Some(format!("one {name}")),
                            Some(format!("{} {name}", most_under(self.new, news, name))),
                            (Some(old_nodes[0]), Some(new_nodes[1])),
                        );
                    }
                    self.group(old_nodes, new_nodes, &child, item, ns, prefix.clone())
                }
            }
        }
        for (name, new_nodes) in &nc {
            if !oc.contains_key(name) && name != "Links" && !(self.old.json && oa.contains_key(name)) {
                self.drift(
                    DriftKind::ElementAdded,
                    &place.child(name),
                    item,
                    None,
                    Some(name.clone()),
                    (None, Some(new_nodes[0])),
                );
            }
        }
        if olds.len() == 1 && news.len() == 1 && !self.old.json {
            let common: Vec<&String> = oorder.iter().filter(|n| nc.contains_key(*n)).collect();
            let common_new: Vec<&String> = norder.iter().filter(|n| oc.contains_key(*n)).collect();
            if common != common_new && common.len() == common_new.len() {
                let show = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                self.drift(DriftKind::OrderChanged, place, item, Some(show(&common)), Some(show(&common_new)), lines);
            }
        }
    }

    /// Compares two corresponding elements of skeletons, one of them (or both) not yet parsed:
    /// each such is parsed on its own, and compared as a tree.
    fn items(
        &mut self,
        o: u32,
        n: u32,
        place: &Place,
        item: Option<&str>,
        ns: Option<(u32, u32)>,
        prefix: Option<(String, String)>,
    ) {
        let (old, new) = match (self.old.item(o).transpose(), self.new.item(n).transpose()) {
            (Ok(old), Ok(new)) => (old, new),
            (Err(error), _) => {
                self.stopped = Some(Stopped::Unparsed { new: false, error });
                return;
            }
            (_, Err(error)) => {
                self.stopped = Some(Stopped::Unparsed { new: true, error });
                return;
            }
        };
        let (ot, o) = old.as_ref().map_or((self.old, o), |t| (t, t.root()));
        let (nt, n) = new.as_ref().map_or((self.new, n), |t| (t, t.root()));
        let mut inner = Comparer::new(ot, nt, self.ignore);
        inner.different_resources = self.different_resources;
        inner.element(&[o], &[n], place, item, ns, prefix);
        self.drifts.append(&mut inner.drifts);
        self.stopped = inner.stopped;
    }

    /// JSON types of the members two objects share, scalars and containers alike: a typed client
    /// (.NET, Go, Java) that reads `true` fails on `"true"`, and one that reads an array fails on
    /// an object. `null` goes with any type.
    fn json_types(
        &mut self,
        olds: &[u32],
        news: &[u32],
        place: &Place,
        item: Option<&str>,
        lines: (Option<u32>, Option<u32>),
    ) {
        const NULL: u8 = 4;
        let types = |t: &Tree<'_>, nodes: &[u32]| {
            let mut map: BTreeMap<String, BTreeSet<u8>> = BTreeMap::new();
            for n in nodes {
                for (k, json) in t.typed_attributes(*n) {
                    map.entry(k.to_owned()).or_default().insert(json);
                }
                for c in t.children(*n) {
                    map.entry(t.name(c).to_owned()).or_default().insert(t.nodes[c as usize].json);
                }
            }
            for set in map.values_mut() {
                set.retain(|j| j & !IN_ARRAY != NULL);
            }
            map
        };
        let (old, new) = (types(self.old, olds), types(self.new, news));
        for (name, was) in &old {
            let Some(now) = new.get(name) else { continue };
            if was.is_empty() || now.is_empty() || was == now {
                continue;
            }
            let show = |set: &BTreeSet<u8>| set.iter().map(|j| json_type_name(*j)).collect::<Vec<_>>().join(" or ");
            self.drift(DriftKind::JsonTypeChanged, &place.child(name), item, Some(show(was)), Some(show(now)), lines);
        }
    }

    /// The values of one attribute (or text) across items: a change of kind is breaking, a new
    /// value of a field that holds a few named states is additive, anything else is data.
    fn values(
        &mut self,
        place: &Place,
        item: Option<&str>,
        old: &[String],
        new: &[String],
        lines: (Option<u32>, Option<u32>),
    ) {
        let kinds = |v: &[String]| v.iter().filter_map(|x| kind(x)).collect::<BTreeSet<Kind>>();
        let (ok, nk) = (kinds(old), kinds(new));
        if !ok.is_empty() && !nk.is_empty() && ok.is_disjoint(&nk) {
            let show = |k: &BTreeSet<Kind>| k.iter().map(|k| k.name()).collect::<Vec<_>>().join(" or ");
            let (o, n) = (show(&ok), show(&nk));
            self.drift(
                DriftKind::KindChanged,
                place,
                item,
                Some(format!("{o} ({})", old[0])),
                Some(format!("{n} ({})", new[0])),
                lines,
            );
            return;
        }
        let states = |v: &[String]| v.iter().all(|x| enum_like(x) && !contains_date(x));
        if states(old) && states(new) && !(self.different_resources && item.is_none()) {
            let known: BTreeSet<&str> = old.iter().map(String::as_str).collect();
            let fresh: BTreeSet<&str> = new.iter().map(String::as_str).filter(|v| !known.contains(v)).collect();
            if !fresh.is_empty() && known.len() <= 16 {
                // None of the old values is left: renamed, unless the new recording still
                // answers them elsewhere (`diff_cassettes` looks).
                let kept = new.iter().any(|v| known.contains(v.as_str()));
                let kind = if kept { DriftKind::EnumValueAdded } else { DriftKind::EnumValueChanged };
                let was = known.into_iter().collect::<Vec<_>>().join(", ");
                let now = fresh.into_iter().collect::<Vec<_>>().join(", ");
                self.drift(kind, place, item, Some(was), Some(now), lines);
            }
        }
    }

    /// The links under `nodes`, each with the node it is written in.
    fn link_set(t: &Tree<'_>, nodes: &[u32]) -> BTreeMap<Link, u32> {
        let mut set = BTreeMap::new();
        for n in nodes {
            for c in t.children(*n).filter(|c| t.name(*c) == "Links") {
                // XML: <Links><Link .../></Links>; JSON: "Links": [{...}] (each item is a node).
                let links: Vec<u32> =
                    if t.json { vec![c] } else { t.children(c).filter(|l| t.name(*l) == "Link").collect() };
                for l in links {
                    let rel = t.attribute(l, "Rel").unwrap_or("").to_owned();
                    let kind = t.attribute(l, "Type").unwrap_or("").to_owned();
                    let href = template(t.attribute(l, "Href").unwrap_or(""));
                    set.entry((rel, kind, href)).or_insert(l);
                }
            }
        }
        set
    }

    /// Links as a graph: what an element leads to, keyed by (Rel, Type, path template).
    fn links(
        &mut self,
        olds: &[u32],
        news: &[u32],
        place: &Place,
        item: Option<&str>,
        lines: (Option<u32>, Option<u32>),
    ) {
        let old = Self::link_set(self.old, olds);
        let new = Self::link_set(self.new, news);
        if old.keys().eq(new.keys()) {
            return;
        }
        let mut removed: Vec<&Link> = old.keys().filter(|l| !new.contains_key(*l)).collect();
        let mut added: Vec<&Link> = new.keys().filter(|l| !old.contains_key(*l)).collect();
        // Snippets show the link itself; the owner when it has none on that side.
        let at_old = |l: &Link| old.get(l).copied().or(lines.0);
        let at_new = |l: &Link| new.get(l).copied().or(lines.1);
        let show =
            |l: &Link| if l.1.is_empty() { format!("{} {}", l.0, l.2) } else { format!("{} {} {}", l.0, l.1, l.2) };
        let at = |l: &Link| place.link(&l.0);
        // Same Rel and target, other Type; same Rel and Type, other target.
        for (same, kind) in [(0usize, DriftKind::LinkTypeChanged), (1, DriftKind::LinkTemplateChanged)] {
            let mut i = 0;
            while i < removed.len() {
                let r = removed[i];
                let found = added
                    .iter()
                    .position(|a| a.0 == r.0 && if same == 0 { a.2 == r.2 } else { a.1 == r.1 && !a.1.is_empty() });
                match found {
                    Some(j) => {
                        let a = added.remove(j);
                        self.drift(kind, &at(r), item, Some(show(r)), Some(show(a)), (at_old(r), at_new(a)));
                        removed.remove(i);
                    }
                    None => i += 1,
                }
            }
        }
        for r in removed {
            self.drift(DriftKind::LinkRemoved, &at(r), item, Some(show(r)), None, (at_old(r), None));
        }
        for a in added {
            self.drift(DriftKind::LinkAdded, &at(a), item, None, Some(show(a)), (None, at_new(a)));
        }
    }
}

impl Comparer<'_, '_> {
    /// Whether the `name` children of `olds`, one under each, repeat under `news`: a client
    /// that reads one `Result` now meets several (what JSON shows as an object become an array).
    /// The items of a list (a `UID` or `Name` each, or all their parent holds) are data.
    fn now_repeats(&self, olds: &[u32], news: &[u32], name: &str, old_nodes: &[u32], new_nodes: &[u32]) -> bool {
        if name == "Links" || most_under(self.old, olds, name) != 1 || most_under(self.new, news, name) < 2 {
            return false;
        }
        let keyed = |t: &Tree<'_>, nodes: &[u32]| {
            nodes.iter().any(|n| t.attribute(*n, "UID").is_some() || t.attribute(*n, "Name").is_some())
        };
        let only_child =
            |t: &Tree<'_>, parents: &[u32]| parents.iter().all(|p| t.children(*p).all(|c| t.name(c) == name));
        !keyed(self.old, old_nodes)
            && !keyed(self.new, new_nodes)
            && !only_child(self.old, olds)
            && !only_child(self.new, news)
    }
}

/// The most `name` children any one of `nodes` has.
fn most_under(t: &Tree<'_>, nodes: &[u32], name: &str) -> usize {
    nodes.iter().map(|n| t.children(*n).filter(|c| t.name(*c) == name).count()).max().unwrap_or(0)
}

/// The names of the children of `nodes`.
fn child_names(t: &Tree<'_>, nodes: &[u32]) -> BTreeSet<String> {
    nodes.iter().flat_map(|n| t.children(*n)).map(|c| t.name(c).to_owned()).collect()
}
