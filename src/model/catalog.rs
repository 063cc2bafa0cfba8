//! What the recordings say exists: every resource named anywhere in a recorded body (a listing's
//! `Ref`, an entity, a link to it), with its identity, the links its reference carries and the
//! entity bodies recorded for it; every collection a link names, with the type of its members;
//! and every service document a link names.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::RecordedMap as HashMap;

use crate::cassette::pack::Placed;
use crate::cassette::{Body, LoadedCassette};
use crate::codec::is_uuid;
use crate::em::{self, Repr};

pub(crate) use crate::em::Link;
use crate::em::links::{Seen, own_links_of_object};

/// An entity body recorded for a resource: a body of its own, or an item of a recorded list
/// (lent by the list). Stored in a pack as [`stored`] says: a list's items by the list's number.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// The recorded body, placeholders and all, shared with the cassette it comes from.
    body: Recorded,
    /// Where the entity stands in `body` when `body` is a list of them.
    item: Option<(std::ops::Range<usize>, Repr)>,
    /// Which cassette and exchange it comes from, for `-v` (shared by a list's items).
    pub origin: Arc<str>,
}

/// A recorded body as the catalog keeps it: shared with the cassette in memory, or left in its
/// pack and read by place (a listing's item alone). Stored as the cassette stores a body (a
/// placed one by place, see [`crate::cassette::pack`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "Body", into = "Body")]
enum Recorded {
    Memory(Arc<str>),
    Placed(Arc<Placed>),
}

impl From<Recorded> for Body {
    fn from(r: Recorded) -> Body {
        match r {
            Recorded::Memory(text) => Body::Text { text, bom: false },
            Recorded::Placed(p) => Body::Placed(p),
        }
    }
}

impl TryFrom<Body> for Recorded {
    type Error = &'static str;

    fn try_from(b: Body) -> Result<Recorded, &'static str> {
        match b {
            Body::Text { text, .. } => Ok(Recorded::Memory(text)),
            Body::Placed(p) => Ok(Recorded::Placed(p)),
            Body::Empty | Body::Binary(_) => Err("a recorded entity or listing is a text body"),
        }
    }
}

impl Recorded {
    fn of(body: &Body, text: &Arc<str>) -> Recorded {
        match body {
            Body::Placed(p) => Recorded::Placed(p.clone()),
            _ => Recorded::Memory(text.clone()),
        }
    }
}

impl Sample {
    pub fn whole(body: Arc<str>, origin: String) -> Sample {
        Sample { body: Recorded::Memory(body), item: None, origin: origin.into() }
    }

    /// An item of a list, lent by the list, not a body of its own.
    fn lent(&self) -> bool {
        self.item.is_some()
    }

    /// The entity text (an item of a list, as a document of its own). Empty when its pack can
    /// no longer be read, which the mock checks before and after it answers (see
    /// [`crate::cassette::pack::PackFile::unchanged`]).
    pub fn text(&self) -> Cow<'_, str> {
        match (&self.body, &self.item) {
            (Recorded::Memory(body), None) => Cow::Borrowed(body),
            (Recorded::Memory(body), Some((at, repr))) => em::list::standalone(body, at.clone(), *repr),
            (Recorded::Placed(placed), item) => {
                let read = match item {
                    None => placed.text(),
                    Some((at, _)) => placed.text_of(at.clone()),
                };
                match (read, item) {
                    (Ok(text), None) => Cow::Owned(text),
                    (Ok(text), Some((_, repr))) => {
                        Cow::Owned(em::list::standalone(&text, 0..text.len(), *repr).into_owned())
                    }
                    (Err(e), _) => {
                        log::warn!("{e}");
                        Cow::Borrowed("")
                    }
                }
            }
        }
    }
}

/// One resource the recordings name.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Resource {
    /// As written, `{{origin}}/api/vmRestorePoints/6c95…`, without query.
    pub href: String,
    /// The entity type, `VmRestorePoint` (a reference's `VmRestorePointReference` without its
    /// suffix), shared with every resource of the type (stored by number, as links' texts).
    #[serde(serialize_with = "stored::share", deserialize_with = "stored::shared")]
    pub kind: Text,
    pub name: Option<String>,
    /// Its UID as recorded (see [`Resource::uid`]).
    pub uid: Option<Uid>,
    /// The links its reference (a listing's `Ref`, an `EntityRef`) carries.
    pub ref_links: Option<Links>,
    /// The links its entity carries, when an entity was recorded.
    pub entity_links: Option<Links>,
    /// Recorded entity bodies, XML then JSON.
    pub entity: [Option<Sample>; 2],
    /// Its entity's own Href is its plain path (a job's `ObjectInJob`, an account's roles): a
    /// GET of the path answers the entity, not a reference.
    pub plain_entity: bool,
}

/// A resource's UID as recorded. Nearly every one is `urn:veeam:{type}:{id}`, its type's and
/// id's: kept as that alone (a large estate records a million).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Uid {
    Typed,
    Other(String),
}

impl Uid {
    const TYPED: &str = "urn:veeam:";

    /// EM's UID of a resource of type `kind` with `id`.
    pub fn typed(kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", Uid::TYPED)
    }

    /// The UID `text` of a resource of type `kind` with `id`, as kept.
    fn of(text: &str, kind: &str, id: &str) -> Uid {
        let rest = text.strip_prefix(Uid::TYPED).and_then(|r| r.strip_prefix(kind)).and_then(|r| r.strip_prefix(':'));
        match rest == Some(id) {
            true => Uid::Typed,
            false => Uid::Other(text.to_owned()),
        }
    }
}

impl Resource {
    /// The id: the last segment of its Href, as written.
    pub fn id(&self) -> &str {
        self.href.rsplit('/').next().unwrap_or_default()
    }

    /// Its UID: the recorded one, or else, for an id that is a UUID, the one EM gives it
    /// (`urn:veeam:{type}:{id}`).
    pub fn uid(&self) -> Option<Cow<'_, str>> {
        match &self.uid {
            Some(Uid::Other(text)) => Some(Cow::Borrowed(text)),
            Some(Uid::Typed) => Some(Cow::Owned(self.typed_uid())),
            None => is_uuid(self.id()).then(|| Cow::Owned(self.typed_uid())),
        }
    }

    fn typed_uid(&self) -> String {
        Uid::typed(&self.kind, self.id())
    }

    /// Takes the UID a sighting recorded, when it had none.
    fn said_uid(&mut self, uid: Option<&str>) {
        if self.uid.is_none() {
            self.uid = uid.map(|u| Uid::of(u, &self.kind, self.id()));
        }
    }

    /// What its links' texts say of it, written as its own ([`Own`]).
    pub fn own(&self) -> Own<'_> {
        Own { href: &self.href, name: self.name.as_deref() }
    }

    /// What a later sighting adds: whatever this one did not say yet. Its links are taken as
    /// they are when they say the same of it as this one's would (its Href and Name), else
    /// written out.
    fn absorb(&mut self, later: Resource) {
        let uid = later.uid.is_some().then(|| later.uid()).flatten().map(Cow::into_owned);
        let Resource { href, name, ref_links, entity_links, entity, plain_entity, .. } = later;
        let (name, uid) = (name.as_deref(), uid.as_deref());
        self.absorb_said(Said { href: &href, name, uid, ref_links, entity_links, entity, plain_entity });
    }

    /// [`Resource::absorb`] of what a later sighting `said`, its texts taken only where this
    /// one lacks them (a later pack's part names a million resources known already).
    fn absorb_said(&mut self, said: Said<'_>) {
        let Said { href, name, uid, ref_links, entity_links, entity, plain_entity } = said;
        let same = href == self.href && name == self.name.as_deref();
        let theirs = |ours: &mut Option<Links>, links: Option<Links>| {
            if ours.is_none() {
                *ours = if same { links } else { links.map(|l| l.written_out(Own { href, name })) };
            }
        };
        theirs(&mut self.ref_links, ref_links);
        theirs(&mut self.entity_links, entity_links);
        if self.name.is_none() {
            self.name = name.map(str::to_owned);
        }
        self.said_uid(uid);
        self.plain_entity |= plain_entity;
        for (ours, theirs) in self.entity.iter_mut().zip(entity) {
            // An entity of its own recorded anywhere is taken over one a list lent: lists lend
            // only what no body recorded (each part's lists lend as its part is learned).
            match (ours.as_ref(), theirs) {
                (None, theirs) => *ours = theirs,
                (Some(lent), Some(own)) if lent.lent() && !own.lent() => *ours = Some(own),
                _ => {}
            }
        }
    }

    /// Lends it the entity a list holds in `repr` (made only when taken): its own if none was
    /// recorded or lent before.
    fn lend(&mut self, repr: Repr, sample: impl FnOnce() -> Sample) {
        self.entity[repr_index(repr)].get_or_insert_with(sample);
    }

    /// The links a reference to it carries: those recorded on a `Ref`, or else the entity's
    /// `Up` links and an `Alternate` to the entity.
    pub fn reference_links(&self) -> Vec<Link> {
        if let Some(links) = &self.ref_links {
            return links.to_vec(self.own());
        }
        let mut links: Vec<Link> = self.entity_links.as_ref().map(|l| l.to_vec(self.own())).unwrap_or_default();
        links.retain(|l| l.rel == "Up" && l.kind.is_some());
        links.push(Link {
            rel: "Alternate".into(),
            kind: Some(self.kind.to_string()),
            href: format!("{}?format=Entity", self.href),
            name: self.name.clone(),
        });
        links
    }
}

/// What a sighting of a resource says of it, its texts borrowed ([`Resource::absorb_said`]).
struct Said<'a> {
    href: &'a str,
    name: Option<&'a str>,
    uid: Option<&'a str>,
    ref_links: Option<Links>,
    entity_links: Option<Links>,
    entity: [Option<Sample>; 2],
    plain_entity: bool,
}

/// Links as the catalog keeps them: each string shared with every other link of the same
/// stretch that says the same (the `Up` link to the backup server is in every task session's
/// reference, the one to its job session in each of that session's tasks).
///
/// A set of links is itself shared: siblings' links say the same of each (their server, their
/// parent, their own Href and Name written as their own), so a part keeps each set once and a
/// pack stores it once, by number (a large estate's million resources carry a few hundred
/// thousand sets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Links(Arc<[KeptLink]>);

/// Stored in a pack, its strings are numbers in a table of the part's, shared again when read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct KeptLink {
    #[serde(serialize_with = "stored::share", deserialize_with = "stored::shared")]
    rel: Text,
    #[serde(serialize_with = "stored::share_option", deserialize_with = "stored::shared_option")]
    kind: Option<Text>,
    #[serde(serialize_with = "stored::share", deserialize_with = "stored::shared")]
    href: Text,
    #[serde(serialize_with = "stored::share_option", deserialize_with = "stored::shared_option")]
    name: Option<Text>,
}

/// A text links and resources share, one pointer wide: a link is four of them, and a large
/// estate's resources carry millions of links (an `Arc<str>` is two pointers).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Text(Arc<String>);

impl Text {
    fn new(text: String) -> Text {
        Text(Arc::new(text))
    }

    /// Where it is kept: the same for every link that shares it.
    fn address(&self) -> *const u8 {
        Arc::as_ptr(&self.0).cast()
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        *self.0 == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == *other
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// What a resource's links say of it, kept as one text for every resource: a link to itself
/// (its `Alternate`, `?format=Entity` or not) or below it, and its own Name. Most of a large
/// estate's link texts were its resources' own Hrefs and Names, each kept once per resource
/// (2.7 million texts in a full-size pack's part); written as its own, each is kept once.
#[derive(Clone, Copy)]
pub(crate) struct Own<'a> {
    href: &'a str,
    name: Option<&'a str>,
}

impl Own<'_> {
    /// A text that begins so is written as its resource's own: `h` and what follows its Href,
    /// `n` its Name, and the marker again a text that began with it.
    const MARK: char = '\u{0}';

    fn href(&self, href: String) -> String {
        let own = Some(self.href).filter(|h| !h.is_empty());
        match own.and_then(|h| href.strip_prefix(h)).filter(|rest| rest.is_empty() || rest.starts_with(['?', '/'])) {
            Some(rest) => format!("{}h{rest}", Own::MARK),
            None => Own::escaped(href),
        }
    }

    fn name(&self, name: String) -> String {
        match self.name == Some(name.as_str()) {
            true => format!("{}n", Own::MARK),
            false => Own::escaped(name),
        }
    }

    fn escaped(text: String) -> String {
        match text.starts_with(Own::MARK) {
            true => format!("{}{text}", Own::MARK),
            false => text,
        }
    }

    /// The text a kept one says.
    fn written_out<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let Some(rest) = text.strip_prefix(Own::MARK) else { return Cow::Borrowed(text) };
        if let Some(rest) = rest.strip_prefix('h') {
            return Cow::Owned(format!("{}{rest}", self.href));
        }
        match rest {
            "n" => Cow::Owned(self.name.unwrap_or_default().to_owned()),
            // One that began with the marker, escaped.
            _ => Cow::Borrowed(rest),
        }
    }
}

impl Links {
    /// `links` of the resource `own` says, their texts and the set shared by `strings`.
    fn keep(links: Vec<Link>, own: Own<'_>, strings: &mut Strings) -> Links {
        let mut kept = |s: String| strings.get(s);
        let links = links
            .into_iter()
            .map(|l| KeptLink {
                rel: kept(l.rel),
                kind: l.kind.map(&mut kept),
                href: kept(own.href(l.href)),
                name: l.name.map(|n| kept(own.name(n))),
            })
            .collect();
        strings.set(links)
    }

    /// Where it is kept: the same for every resource that shares it.
    fn address(&self) -> *const u8 {
        Arc::as_ptr(&self.0).cast()
    }

    /// What tells it from another set of the same part: its texts' addresses (a part keeps
    /// each text once).
    fn addresses(links: &[KeptLink]) -> impl Iterator<Item = *const u8> + '_ {
        let address = |t: Option<&Text>| t.map_or(std::ptr::null(), Text::address);
        links.iter().flat_map(move |l| {
            [address(Some(&l.rel)), address(l.kind.as_ref()), address(Some(&l.href)), address(l.name.as_ref())]
        })
    }

    /// The links of the resource `own` says.
    pub fn to_vec(&self, own: Own<'_>) -> Vec<Link> {
        self.0
            .iter()
            .map(|l| Link {
                rel: l.rel.to_string(),
                kind: l.kind.as_deref().map(str::to_owned),
                href: own.written_out(&l.href).into_owned(),
                name: l.name.as_deref().map(|n| own.written_out(n).into_owned()),
            })
            .collect()
    }

    /// The same links, of the resource `own` says, written out: none says what it says of it
    /// as its own.
    fn written_out(&self, own: Own<'_>) -> Links {
        self.rewritten(own, str::to_owned)
    }

    /// The same links of the resource `own` says, written out, with their Hrefs and Names
    /// rewritten by `rewrite`.
    pub fn rewritten(&self, own: Own<'_>, rewrite: impl Fn(&str) -> String) -> Links {
        let rewrite = |text: &str| Text::new(Own::escaped(rewrite(&own.written_out(text))));
        Links(
            self.0
                .iter()
                .map(|l| KeptLink { href: rewrite(&l.href), name: l.name.as_deref().map(rewrite), ..l.clone() })
                .collect(),
        )
    }
}

/// One copy of each string kept many times, and of each set of links made of them.
#[derive(Default)]
struct Strings {
    texts: std::collections::HashSet<Text, foldhash::fast::RandomState>,
    /// Sets of links by the hash of their texts' addresses (one set of each hash).
    sets: HashMap<u64, Links>,
}

impl Strings {
    fn get(&mut self, s: String) -> Text {
        if let Some(kept) = self.texts.get(s.as_str()) {
            return kept.clone();
        }
        let kept = Text::new(s);
        self.texts.insert(kept.clone());
        kept
    }

    /// [`Strings::get`] of a text borrowed: made only the first time.
    fn of(&mut self, s: &str) -> Text {
        match self.texts.get(s) {
            Some(kept) => kept.clone(),
            None => self.get(s.to_owned()),
        }
    }

    /// The set of `links` (their texts this one's), shared with any before it that says the
    /// same.
    fn set(&mut self, links: Vec<KeptLink>) -> Links {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = foldhash::fast::FixedState::default().build_hasher();
        Links::addresses(&links).for_each(|a| hasher.write_usize(a as usize));
        let same = |kept: &Links| Links::addresses(&kept.0).eq(Links::addresses(&links));
        match self.sets.entry(hasher.finish()) {
            std::collections::hash_map::Entry::Occupied(kept) if same(kept.get()) => kept.get().clone(),
            std::collections::hash_map::Entry::Occupied(_) => Links(links.into()),
            std::collections::hash_map::Entry::Vacant(slot) => slot.insert(Links(links.into())).clone(),
        }
    }
}

/// A resource's normalised path, kept once and shared by the tables that name it (a large
/// estate has a million resources, each in a table by path, in the order, its type's list and
/// its collection's members).
pub(crate) type Path = Arc<str>;

/// The resources, in the order first seen, each found by its path: read in that order without
/// a lookup each (a large estate has a million), and grown a chunk at a time, so that growing
/// never moves those kept (a table of them grown whole was two copies of every resource at once).
#[derive(Default)]
pub(crate) struct Resources {
    /// Their paths, in order.
    paths: Vec<Path>,
    /// Each path's place in the order.
    at: HashMap<Path, u32>,
    /// The resources, in order, [`Resources::CHUNK`] to a chunk.
    kept: Vec<Vec<Resource>>,
}

impl Resources {
    const CHUNK: usize = 1 << 12;

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Their paths, in order.
    pub fn paths(&self) -> &[Path] {
        &self.paths
    }

    /// The place of the resource at `path` in the order.
    pub fn place(&self, path: &str) -> Option<usize> {
        self.at.get(path).map(|&n| n as usize)
    }

    /// The place of the resource at `path`, looked for first at `guess`: a later part names
    /// the resources an earlier one named in much the same order (the other representation's
    /// pack of the same estate), and a path found where it was expected costs no lookup.
    pub fn place_from(&self, path: &str, guess: usize) -> Option<usize> {
        match self.paths.get(guess) {
            Some(kept) if **kept == *path => Some(guess),
            _ => self.place(path),
        }
    }

    /// The resource at place `n` in the order.
    pub fn nth(&self, n: usize) -> Option<&Resource> {
        self.kept.get(n / Resources::CHUNK)?.get(n % Resources::CHUNK)
    }

    pub fn nth_mut(&mut self, n: usize) -> Option<&mut Resource> {
        self.kept.get_mut(n / Resources::CHUNK)?.get_mut(n % Resources::CHUNK)
    }

    pub fn get(&self, path: &str) -> Option<&Resource> {
        self.nth(self.place(path)?)
    }

    pub fn get_mut(&mut self, path: &str) -> Option<&mut Resource> {
        self.nth_mut(self.place(path)?)
    }

    /// The resource at place `n`, and the path it is kept at (shared by the tables that name it).
    pub fn kept_mut(&mut self, n: usize) -> Option<(&Path, &mut Resource)> {
        let resource = self.kept.get_mut(n / Resources::CHUNK)?.get_mut(n % Resources::CHUNK)?;
        Some((self.paths.get(n)?, resource))
    }

    /// The path `path` is kept at, if it is.
    pub fn kept_path(&self, path: &str) -> Option<&Path> {
        self.paths.get(self.place(path)?)
    }

    /// Adds a resource at a path not kept yet, after the others.
    pub fn push(&mut self, path: Path, resource: Resource) -> &mut Resource {
        self.at.insert(path.clone(), self.paths.len() as u32);
        self.paths.push(path);
        if self.kept.last().is_none_or(|chunk| chunk.len() == Resources::CHUNK) {
            self.kept.push(Vec::with_capacity(Resources::CHUNK));
        }
        let chunk = self.kept.last_mut().expect("a chunk with room was just made");
        chunk.push(resource);
        chunk.last_mut().expect("a resource was just pushed")
    }

    /// Makes room for `n` more (their resources are given room a chunk at a time).
    pub fn reserve(&mut self, n: usize) {
        self.paths.reserve(n);
        self.at.reserve(n);
    }

    /// Each with its path, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Path, &Resource)> {
        self.paths.iter().zip(self.kept.iter().flatten())
    }

    /// The resources, in order.
    pub fn values(&self) -> impl Iterator<Item = &Resource> {
        self.kept.iter().flatten()
    }
}

impl IntoIterator for Resources {
    type Item = (Path, Resource);
    type IntoIter = std::iter::Zip<std::vec::IntoIter<Path>, std::iter::Flatten<std::vec::IntoIter<Vec<Resource>>>>;

    /// Each with its path, in order.
    fn into_iter(self) -> Self::IntoIter {
        self.paths.into_iter().zip(self.kept.into_iter().flatten())
    }
}

#[cfg(test)]
impl std::ops::Index<&str> for Resources {
    type Output = Resource;

    fn index(&self, path: &str) -> &Resource {
        self.get(path).unwrap_or_else(|| panic!("no resource at {path}"))
    }
}

/// The paths of the collections listings list.
type ListedPaths<'a> = std::collections::HashSet<&'a str, foldhash::fast::RandomState>;

/// A collection a link names.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Collection {
    pub href: String,
    /// The type of its members, `VmRestorePoint`.
    pub member: String,
    /// Normalised paths of its known members, in the order first seen.
    pub members: Vec<Path>,
    /// A recording listed it: its members are those of that listing (none, if it was empty),
    /// not only what other bodies happen to name.
    pub recorded: bool,
}

/// A service document a link names (`QueryService`, `Report`, …).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Service {
    pub href: String,
    pub kind: String,
    pub name: Option<String>,
}

/// Read through its methods alone: what the model asks of it, not how it is kept.
#[derive(Default)]
pub(crate) struct Catalog {
    /// In the order first seen.
    resources: Resources,
    /// Collections as the catalog is built; once built, read through [`Catalog::table`].
    collections: HashMap<String, Collection>,
    /// The collections, when they are settled after the catalog is handed over
    /// ([`Catalog::build_when`]): what asks for them waits for them.
    settled: Option<Settling>,
    /// Collections by shape (ids replaced by `{}`), for sub-collections of resources no link
    /// named directly: `/api/vmrestorepoints/{}/mounts`.
    shapes: HashMap<String, String>,
    services: HashMap<String, Service>,
    /// The first resource of each type with a recorded entity, per representation (XML, JSON):
    /// the sibling others of its type are derived from.
    samples: HashMap<String, [Option<Path>; 2]>,
    /// Resource paths by type, in the order first seen.
    by_kind: HashMap<String, Vec<Path>>,
    camel_json: bool,
    /// The strings its links share.
    strings: Strings,
    /// Every kind of link the recordings hold, by where it leads: how many, and a path it
    /// leads to (for coverage); keyed by a text that says the kind (see `count_link`).
    link_uses: HashMap<String, (LinkUse, usize, String)>,
    /// The key text `count_link` writes, kept from link to link.
    said: String,
    /// The last segment of the collections' hrefs as written, by its lower case: how a
    /// collection no recording names is spelled. Made at the first such ask from every
    /// collection once (a large estate has 300,000, and each ask scanned them).
    spellings: OnceLock<HashMap<String, String>>,
}

/// Collections settled after their catalog was handed over: they come once, and what asks for
/// them before waits (no collections at all, should whatever settles them fail).
struct Settling {
    table: OnceLock<HashMap<String, Collection>>,
    coming: std::sync::Mutex<Option<std::sync::mpsc::Receiver<HashMap<String, Collection>>>>,
}

impl Settling {
    fn table(&self) -> &HashMap<String, Collection> {
        self.table.get_or_init(|| {
            let coming = self.coming.lock().unwrap_or_else(|e| e.into_inner()).take();
            coming.and_then(|c| c.recv().ok()).unwrap_or_default()
        })
    }
}

/// A kind of link by where it leads: Rel, Type, the path's shape (ids as `{}`), the method its
/// Rel takes, its `action=`, and whether it asks for the entity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub(crate) struct LinkUse {
    pub rel: String,
    pub kind: Option<String>,
    pub shape: String,
    pub method: &'static str,
    pub action: String,
    pub entity: bool,
}

impl LinkUse {
    /// The kind of link a request for `path` with `query` by `method` would have followed.
    pub fn key(
        shape: String,
        method: &'static str,
        query: &[(String, String)],
    ) -> (String, &'static str, String, bool) {
        let value = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.to_ascii_lowercase());
        (shape, method, value("action").unwrap_or_default(), value("format").is_some_and(|f| f == "entity"))
    }
}

/// The `action=` of a link's query and whether it asks `format=entity`, as [`LinkUse::key`]
/// reads them from [`em::normalize_query`]; a query with nothing to decode is read in place.
fn action_and_entity(query: &str) -> (Cow<'_, str>, bool) {
    if query.contains(['%', '+']) {
        let (_, _, action, entity) = LinkUse::key(String::new(), "", &em::normalize_query(query));
        return (Cow::Owned(action), entity);
    }
    let lower = |s: &str| s.bytes().map(|b| b.to_ascii_lowercase()).collect::<Vec<u8>>();
    let (mut action, mut format): (Option<&str>, Option<&str>) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match k {
            _ if k.eq_ignore_ascii_case("action") => &mut action,
            _ if k.eq_ignore_ascii_case("format") => &mut format,
            _ => continue,
        };
        // Of a name given twice, the least value (normalize_query sorts the pairs).
        if slot.is_none_or(|s| lower(v) < lower(s)) {
            *slot = Some(v);
        }
    }
    let action = action.map_or(Cow::Borrowed(""), |a| Cow::Owned(a.to_ascii_lowercase()));
    (action, format.is_some_and(|f| f.eq_ignore_ascii_case("entity")))
}

/// Types that are the session's own business, never listed from recordings.
const SESSION_KINDS: [&str; 3] = ["Task", "LogonSession", "EnterpriseManager"];

/// The normalised path of an Href (`{{origin}}/api/X?y` → `/api/x`); `None` when it is not
/// one of this server's links.
pub(crate) fn href_path(href: &str) -> Option<String> {
    let rest = href.strip_prefix("{{origin}}").or_else(|| {
        let after_scheme = href.split_once("://")?.1;
        after_scheme.find('/').map(|i| &after_scheme[i..])
    })?;
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    path.starts_with("/api").then(|| em::normalize_path(path))
}

/// Whether a path segment is an id: a UUID, `task-N`, or a number.
pub(crate) fn is_id(segment: &str) -> bool {
    is_uuid(segment)
        || segment.strip_prefix("task-").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        || (!segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()))
}

/// A path with its id segments replaced by `{}`.
pub(crate) fn shape(path: &str) -> String {
    path.split('/').map(|s| if is_id(s) { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// The path one segment up.
pub(crate) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn strip_href_query(href: &str) -> &str {
    href.split_once('?').map_or(href, |(p, _)| p)
}

/// The member type of a list type: `VmRestorePointReferenceList` → `VmRestorePoint`.
fn list_member(kind: &str) -> Option<&str> {
    kind.strip_suffix("ReferenceList").or_else(|| kind.strip_suffix("List")).filter(|k| !k.is_empty())
}

/// What names a resource where it is seen: its Href and type, and its name and UID if given.
struct Named<'a> {
    href: &'a str,
    kind: &'a str,
    name: Option<&'a str>,
    uid: Option<&'a str>,
}

/// A recorded listing: where, what it lists, and its body; kept until its part has been read
/// ([`Catalog::settle`]), so only what lending needs of each item.
struct List {
    path: String,
    href: String,
    /// The type of its first item that names one of this server's paths, as written.
    kind: Option<String>,
    items: Vec<ListItem>,
    body: Recorded,
    repr: Repr,
    origin: String,
}

/// An item of a recorded listing that names one of this server's paths.
struct ListItem {
    /// The normalised path its Href names: the resource's own where it is one of its part's.
    path: Path,
    /// Where its text stands in the list's body.
    at: std::ops::Range<usize>,
    reference: bool,
}

impl List {
    /// What `listed` its body, `known` the resources its part knows so far.
    fn new(path: String, href: String, listed: Listed, known: &Resources) -> List {
        let Listed { items, body, repr, origin } = listed;
        let mut kind = None;
        let items = items
            .into_iter()
            .filter_map(|item| {
                let path = href_path(&item.href)?;
                let path = known.kept_path(&path).map_or_else(|| path.into(), Path::clone);
                kind.get_or_insert(item.kind);
                Some(ListItem { path, at: item.at, reference: item.reference })
            })
            .collect();
        List { path, href, kind, items, body, repr, origin }
    }
}

/// What a recorded listing says once its part has lent the entities it lists
/// ([`Catalog::settle`]): the collection it lists, learned once every part has been read (the
/// first listing of a collection gives its members, see [`take_listing`]).
#[derive(Serialize, Deserialize)]
struct Listing {
    path: String,
    href: String,
    /// The type of its members, a reference's without its suffix.
    kind: Option<String>,
    /// The normalised paths of its items: the resources' own where they are its part's.
    members: Members,
    /// Entities it lists of resources its part does not know, lent by the whole catalog.
    strangers: Vec<(Path, Sample)>,
}

/// The paths a listing's items name. A part stores each by its number in the part's order
/// where it is one of the part's resources, else written out (a large estate lists millions).
enum Members {
    Paths(Vec<Path>),
    /// As read from a stored part: numbers in the part's `order` ([`Members::WRITTEN`] for the
    /// next of `written`), made paths only if the listing gives its collection's members (a
    /// later part's listings most often list again what an earlier part's listed).
    Numbered {
        order: Arc<[Path]>,
        numbers: Vec<u32>,
        written: Vec<Path>,
    },
}

impl Members {
    const WRITTEN: u32 = u32::MAX;

    fn len(&self) -> usize {
        match self {
            Members::Paths(paths) => paths.len(),
            Members::Numbered { numbers, .. } => numbers.len(),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = &Path> + '_> {
        match self {
            Members::Paths(paths) => Box::new(paths.iter()),
            Members::Numbered { order, numbers, written } => {
                let mut written = written.iter();
                // Numbers were checked to be the part's when they were read.
                Box::new(numbers.iter().filter_map(move |&n| match n {
                    Members::WRITTEN => written.next(),
                    n => order.get(n as usize),
                }))
            }
        }
    }

    fn paths(self) -> Vec<Path> {
        match self {
            Members::Paths(paths) => paths,
            numbered => numbered.iter().cloned().collect(),
        }
    }
}

/// What a listing's body lists, and where it was recorded.
struct Listed {
    items: Vec<em::list::Item>,
    body: Recorded,
    repr: Repr,
    origin: String,
}

/// What one stretch of the recordings says, learned on a thread of its own. Stretches are
/// merged in the order of the recordings, so what is seen first wins as if read in one go. A
/// pack stores the part its cassette makes (see [`stored`]).
#[derive(Default)]
struct Part {
    catalog: Catalog,
    /// Recorded listings, their entities lent.
    listings: Vec<Listing>,
    json_bodies: usize,
    camel_bodies: usize,
}

impl Part {
    /// `nodes`: JSON bodies read as [`em::node::Node`]s (else as whole values, as a body with
    /// a name twice always is).
    fn learn(exchanges: &[(&LoadedCassette, usize)], nodes: bool) -> Part {
        let (mut part, mut lists) = (Part::default(), Vec::new());
        for &(cassette, i) in exchanges {
            let exchange = &cassette.cassette.exchanges[i];
            let status = exchange.response.status;
            if !(200..300).contains(&status) {
                continue;
            }
            let recorded = cassette.cassette.response_body(i);
            // A body its pack no longer gives teaches nothing; the mock says why when it answers.
            let Ok(read) = recorded.read() else { continue };
            let Body::Text { text, .. } = &*read else { continue };
            let repr = exchange.response_repr();
            let uri = &exchange.request.uri;
            let (raw_path, raw_query) = uri.split_once('?').unwrap_or((uri, ""));
            let entity_get = exchange.request.method == "GET"
                && em::normalize_query(raw_query).iter().any(|(k, v)| k == "format" && v == "entity");
            // Made only for a body that is an entity (a listing's text is not one).
            let sample = || {
                entity_get.then(|| Sample {
                    body: Recorded::of(recorded, text),
                    item: None,
                    origin: format!("{} exchange {}", cassette.name, exchange.seq).into(),
                })
            };
            let path = em::normalize_path(raw_path);
            let get = exchange.request.method == "GET";
            let mut listed = None;
            match repr {
                Repr::Xml => {
                    listed = get.then(|| em::list::items(text, repr)).flatten();
                    part.catalog.learn_xml(text, || sample().map(|s| (path.clone(), Repr::Xml, s)));
                }
                Repr::Json => {
                    part.json_bodies += 1;
                    part.camel_bodies += usize::from(em::json::is_camel(text));
                    let listing = if nodes { part.catalog.learn_listing(text) } else { None };
                    if let Some(items) = listing {
                        listed = get.then_some(items);
                    } else {
                        match em::node::parse(text) {
                            Ok(Some(node)) if nodes => {
                                listed = get.then(|| em::list::json_items_of_node(text, &node)).flatten();
                                part.catalog.learn_node(&node, sample().map(|s| (path.clone(), s)));
                            }
                            Ok(_) => {
                                if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
                                    listed = get.then(|| em::list::json_items_of(text, &value)).flatten();
                                    part.catalog.learn_json(&value, sample().map(|s| (path.clone(), s)));
                                }
                            }
                            Err(_) => {}
                        }
                    }
                }
            }
            if let Some(items) = listed {
                let origin = format!("{} exchange {}", cassette.name, exchange.seq);
                let href = format!("{{{{origin}}}}{raw_path}");
                let listed = Listed { items, body: Recorded::of(recorded, text), repr, origin };
                lists.push(List::new(path, href, listed, &part.catalog.resources));
            }
        }
        part.listings = part.catalog.settle(lists);
        part
    }
}

/// The parts read so far, taken in in the order of the recordings ([`Catalog::read_parts`]).
#[derive(Default)]
struct Taken {
    catalog: Catalog,
    /// Each part's listings, in order (one list of them all would be copied whole as it grew).
    listings: Vec<Vec<Listing>>,
    json_bodies: usize,
    camel_bodies: usize,
    /// How many parts it took in.
    read: usize,
    /// The part after them proved unreadable ([`Taken::ahead`]).
    unreadable: bool,
}

impl Taken {
    /// The stored parts of `packs` (those the cassettes begin with), read before their
    /// cassettes come, up to the first that cannot be read: that one is learned from its
    /// exchanges when they come, and those after it with them.
    fn ahead(packs: &[Arc<crate::cassette::pack::PackFile>]) -> Taken {
        let mut taken = Taken::default();
        for (n, pack) in packs.iter().enumerate() {
            let read = match n {
                0 => stored::part_from(pack, stored::Sink::Part),
                _ => taken.read_later(pack),
            };
            let Some(part) = read else {
                taken.unreadable = true;
                break;
            };
            taken.take(part);
        }
        taken
    }

    /// The stored part of `pack`, a later one: its resources are read into the catalog a frame
    /// at a time ([`stored::Sink::Into`]), and the rest handed back.
    fn read_later(&mut self, pack: &Arc<crate::cassette::pack::PackFile>) -> Option<Part> {
        let listed: ListedPaths<'_> = self.listings.iter().flatten().map(|l| l.path.as_str()).collect();
        stored::part_from(pack, stored::Sink::Into(&mut self.catalog, &listed))
    }

    fn take(&mut self, part: Part) {
        self.catalog.absorb(part.catalog);
        (self.json_bodies, self.camel_bodies) =
            (self.json_bodies + part.json_bodies, self.camel_bodies + part.camel_bodies);
        self.listings.push(part.listings);
        self.read += 1;
    }

    /// The catalog but what is learned once every part has been read, and the parts' listings.
    fn done(mut self) -> (Catalog, Vec<Vec<Listing>>) {
        self.catalog.camel_json = self.camel_bodies * 2 > self.json_bodies;
        (self.catalog, self.listings)
    }
}

/// A catalog part stored in a pack (`emtape pack`): the part its cassette makes, learned when
/// it was packed, so that serving it reads the part instead of every body. A part is stored
/// with the version of emtape that wrote it and read back only by the same one: another
/// learns it from the bodies, as for a cassette.
pub(crate) mod stored {
    use std::cell::RefCell;

    use super::HashMap;
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Collection, KeptLink, Links, Part, Path, Recorded, Repr, Sample, Service, Text};
    use crate::cassette::LoadedCassette;
    use crate::cassette::pack::{self, PackFile, put_frame};

    /// What a stored part begins with: which emtape wrote it (bump the number with any change to
    /// what a part holds).
    const WRITTEN_BY: &str = concat!("emtape ", env!("CARGO_PKG_VERSION"), " catalog part 12");

    /// How many resources, texts or listings a frame holds: a part is read a frame at a time,
    /// so reading it holds what it has read and one frame, not every byte of it (a large
    /// estate's part is hundreds of MB).
    const FRAME: usize = if cfg!(test) { 7 } else { 8192 };

    /// What a part is stored as: frames ([`pack::put_frame`]). The first says who wrote it
    /// ([`WRITTEN_BY`]); texts come before the links that name them by number, and the bodies
    /// of the lists that lent entities before the samples that name them by number.
    #[derive(Serialize, Deserialize)]
    enum Frame<T, S, R, L, B, X> {
        /// How many resources and listings follow, for the tables to be made to size.
        Head {
            resources: usize,
            lists: usize,
            json_bodies: usize,
            camel_bodies: usize,
            camel_json: bool,
        },
        Tables(Box<X>),
        /// The next texts of the part's table.
        Texts(Vec<T>),
        /// The next sets of links of the part's table, their texts by number.
        Sets(Vec<S>),
        /// The next bodies of lists that lent entities, each with where it was recorded.
        Lent(Vec<B>),
        /// Resources in the order first seen, each with its path.
        Resources(Vec<R>),
        Lists(Vec<L>),
    }

    /// A frame as read, its resources `R` and its tables `X`.
    type Read<R, X> = Frame<String, Vec<KeptLink>, R, super::Listing, (Recorded, String), X>;

    /// A sample as stored: a body of its own, or an item of a list whose body the part's
    /// [`Frame::Lent`] holds, by number (a large estate's lists lend a million and a half).
    #[derive(Serialize, Deserialize)]
    enum StoredSample<B, O> {
        Own { body: B, item: Option<(std::ops::Range<usize>, Repr)>, origin: O },
        Lent { list: u32, at: std::ops::Range<usize>, repr: Repr },
    }

    impl Serialize for Sample {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let lent = WRITING.with(|w| w.borrow().lent.get(&Arc::as_ptr(&self.origin).cast()).copied());
            match (lent, &self.item) {
                (Some(list), Some((at, repr))) => {
                    StoredSample::<&Recorded, &str>::Lent { list, at: at.clone(), repr: *repr }.serialize(s)
                }
                _ => {
                    StoredSample::Own { body: &self.body, item: self.item.clone(), origin: &*self.origin }.serialize(s)
                }
            }
        }
    }

    impl<'de> Deserialize<'de> for Sample {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sample, D::Error> {
            match StoredSample::<Recorded, String>::deserialize(d)? {
                StoredSample::Own { body, item, origin } => Ok(Sample { body, item, origin: renamed(origin).into() }),
                StoredSample::Lent { list, at, repr } => {
                    READING.with(|r| r.borrow().as_ref().and_then(|r| r.lent.get(list as usize).cloned())).map_or_else(
                        || {
                            Err(serde::de::Error::custom(format!(
                                "list {list} of the part's lent bodies, which has no such one"
                            )))
                        },
                        |(body, origin)| Ok(Sample { body, item: Some((at, repr)), origin }),
                    )
                }
            }
        }
    }

    impl Serialize for super::Members {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            WRITING.with(|w| {
                let numbers = &w.borrow().paths;
                s.collect_seq(self.iter().map(|path| match numbers.get(&Arc::as_ptr(path).cast()) {
                    Some(&number) => Named::Resource(number),
                    None => Named::Path(&**path),
                }))
            })
        }
    }

    impl<'de> Deserialize<'de> for super::Members {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<super::Members, D::Error> {
            let named = Vec::<Named<String>>::deserialize(d)?;
            let order = READING.with(|r| {
                let mut reading = r.borrow_mut();
                let reading = reading.as_mut()?;
                // Listings come after every resource: the paths read are the part's order.
                Some(reading.order.get_or_insert_with(|| std::mem::take(&mut reading.paths).into()).clone())
            });
            let order = order.ok_or_else(|| serde::de::Error::custom("a listing read outside its part"))?;
            let (mut numbers, mut written) = (Vec::with_capacity(named.len()), Vec::new());
            for name in named {
                match name {
                    Named::Resource(number) if (number as usize) < order.len() => numbers.push(number),
                    Named::Resource(number) => {
                        return Err(serde::de::Error::custom(format!(
                            "resource {number} of the part, which has no such one"
                        )));
                    }
                    Named::Path(path) => {
                        numbers.push(super::Members::WRITTEN);
                        written.push(path.into());
                    }
                }
            }
            Ok(super::Members::Numbered { order, numbers, written })
        }
    }

    /// A catalog's tables but its resources (small beside them).
    #[derive(Default, Serialize, Deserialize)]
    struct Tables {
        #[serde(deserialize_with = "sized")]
        collections: HashMap<String, Collection>,
        shapes: HashMap<String, String>,
        services: HashMap<String, Service>,
        samples: HashMap<String, [Option<Path>; 2]>,
        by_kind: HashMap<String, Vec<Path>>,
        link_uses: HashMap<String, (super::LinkUse, usize, String)>,
    }

    /// A table read at the size it says: a map as read grows from a cautious size, and each
    /// time it grows, hashes every key again (a large estate's part has 300,000 collections).
    fn sized<'de, D: Deserializer<'de>, V: Deserialize<'de>>(d: D) -> Result<HashMap<String, V>, D::Error> {
        let pairs = Vec::<(String, V)>::deserialize(d)?;
        let mut table = HashMap::with_capacity_and_hasher(pairs.len(), Default::default());
        table.extend(pairs);
        Ok(table)
    }

    /// A later part's tables as read ([`Tables`]), their texts borrowed from the frame: most
    /// name what earlier parts named (the other representation's pack names the same
    /// estate), and are made only where they are new.
    #[derive(Deserialize)]
    struct LaterTables<'a> {
        #[serde(borrow)]
        collections: Vec<(&'a str, LaterCollection<'a>)>,
        #[serde(borrow)]
        shapes: Vec<(&'a str, &'a str)>,
        services: HashMap<String, Service>,
        /// Learned once every part is read ([`super::learn_kinds`]): a part's are its own.
        #[serde(borrow)]
        _samples: Vec<(&'a str, [Option<&'a str>; 2])>,
        #[serde(borrow)]
        _by_kind: Vec<(&'a str, Vec<&'a str>)>,
        link_uses: HashMap<String, (super::LinkUse, usize, String)>,
    }

    /// A [`Collection`] as a later part stores it, its texts borrowed.
    #[derive(Deserialize)]
    struct LaterCollection<'a> {
        href: &'a str,
        member: &'a str,
        #[serde(borrow)]
        members: Vec<&'a str>,
        recorded: bool,
    }

    impl LaterCollection<'_> {
        fn made(self) -> Collection {
            let LaterCollection { href, member, members, recorded } = self;
            let members = members.into_iter().map(Path::from).collect();
            Collection { href: href.to_owned(), member: member.to_owned(), members, recorded }
        }
    }

    /// The part of `cassette` (a pack being written, loaded as [`pack::OWN_NAME`]), stored.
    pub(crate) fn part_of(cassette: &LoadedCassette) -> Vec<u8> {
        let exchanges: Vec<_> = (0..cassette.cassette.exchanges.len()).map(|i| (cassette, i)).collect();
        let part = Part::learn(&exchanges, true);
        // Without one, serving the pack learns its catalog from the bodies.
        frames(part).map_err(|e| log::warn!("the catalog was not stored: {e}")).unwrap_or_default()
    }

    fn frames(part: Part) -> postcard::Result<Vec<u8>> {
        type Out<'a> = Frame<
            &'a str,
            &'a [KeptLink],
            (Path, &'a super::Resource),
            &'a super::Listing,
            (&'a Recorded, &'a str),
            Tables,
        >;
        let Part { catalog, listings, json_bodies, camel_bodies } = part;
        let super::Catalog { resources, collections, shapes, services, samples, by_kind, link_uses, .. } = catalog;
        // The sets of links its resources share, each once, and the texts they and its
        // resources' types share, each once: resources name them by number, and sets texts.
        let (mut table, mut numbers) = (Vec::new(), HashMap::default());
        let (mut sets, mut set_numbers) = (Vec::new(), HashMap::default());
        let mut text = |text: &'_ Text| {
            numbers.entry(text.address()).or_insert_with(|| {
                table.push(text.clone());
                table.len() as u32 - 1
            });
        };
        for resource in resources.values() {
            text(&resource.kind);
            for links in resource.ref_links.iter().chain(&resource.entity_links) {
                set_numbers.entry(links.address()).or_insert_with(|| {
                    sets.push(links.clone());
                    sets.len() as u32 - 1
                });
            }
        }
        for link in sets.iter().flat_map(|l| l.0.iter()) {
            [Some(&link.rel), link.kind.as_ref(), Some(&link.href), link.name.as_ref()]
                .into_iter()
                .flatten()
                .for_each(&mut text);
        }
        let mut out = Vec::new();
        put_frame(&mut out, &WRITTEN_BY)?;
        let head = Out::Head {
            resources: resources.len(),
            lists: listings.len(),
            json_bodies,
            camel_bodies,
            camel_json: catalog.camel_json,
        };
        put_frame(&mut out, &head)?;
        put_frame(
            &mut out,
            &Out::Tables(Box::new(Tables { collections, shapes, services, samples, by_kind, link_uses })),
        )?;
        for texts in table.chunks(FRAME) {
            put_frame(&mut out, &Out::Texts(texts.iter().map(|t| &**t).collect()))?;
        }
        // The bodies of the lists that lent entities, each once (its items share its origin):
        // the samples name them by number.
        let (mut bodies, mut lent) = (Vec::new(), HashMap::default());
        let entities = resources.values().flat_map(|r| r.entity.iter().flatten());
        for sample in entities.chain(listings.iter().flat_map(|l| l.strangers.iter().map(|(_, s)| s))) {
            if sample.lent() {
                lent.entry(Arc::as_ptr(&sample.origin).cast()).or_insert_with(|| {
                    bodies.push((&sample.body, &*sample.origin));
                    bodies.len() as u32 - 1
                });
            }
        }
        // A listing's members name the part's resources by their number in its order.
        let paths = resources.paths().iter().enumerate().map(|(n, p)| (Arc::as_ptr(p).cast(), n as u32)).collect();
        WRITING.with(|w| *w.borrow_mut() = Writing { texts: numbers, sets: set_numbers, paths, lent });
        let written = sets
            .chunks(FRAME)
            .try_for_each(|chunk| put_frame(&mut out, &Out::Sets(chunk.iter().map(|l| &*l.0).collect())))
            .and_then(|()| bodies.chunks(FRAME).try_for_each(|lent| put_frame(&mut out, &Out::Lent(lent.to_vec()))))
            .and_then(|()| {
                let in_order: Vec<_> = resources.iter().collect();
                in_order.chunks(FRAME).try_for_each(|chunk| {
                    put_frame(&mut out, &Out::Resources(chunk.iter().map(|(p, r)| ((*p).clone(), *r)).collect()))
                })
            })
            .and_then(|()| {
                // Listings by as many items as a frame of resources holds (one may list half a
                // million).
                let (mut listed, mut items) = (Vec::new(), 0);
                for (n, listing) in listings.iter().enumerate() {
                    listed.push(listing);
                    items += listing.members.len().max(1);
                    if items >= FRAME || n + 1 == listings.len() {
                        put_frame(&mut out, &Out::Lists(std::mem::take(&mut listed)))?;
                        items = 0;
                    }
                }
                Ok(())
            });
        WRITING.with(|w| *w.borrow_mut() = Writing::default());
        written.map(|()| out)
    }

    /// A resource of a later part as read: what [`super::Resource`] is stored as, its texts
    /// borrowed from its frame and its links' texts left as numbers in the part's table. Most
    /// of a later part's resources are known already (the other representation's pack names
    /// the same estate), and what they add is their samples: their texts and links would be
    /// made only to be let go.
    #[derive(Deserialize)]
    pub(super) struct Later<'a> {
        href: &'a str,
        #[serde(deserialize_with = "number")]
        kind: u32,
        #[serde(borrow)]
        name: Option<&'a str>,
        #[serde(borrow)]
        uid: Option<LaterUid<'a>>,
        #[serde(deserialize_with = "set_number_option")]
        ref_links: Option<u32>,
        #[serde(deserialize_with = "set_number_option")]
        entity_links: Option<u32>,
        entity: [Option<super::Sample>; 2],
        plain_entity: bool,
    }

    /// A UID as stored ([`super::Uid`]), its text borrowed.
    #[derive(Deserialize)]
    enum LaterUid<'a> {
        Typed,
        Other(&'a str),
    }

    /// What a part's links and resources name by number: its texts and its sets of links.
    #[derive(Clone, Default)]
    pub(super) struct Table {
        texts: Vec<Text>,
        sets: Vec<Links>,
    }

    impl Table {
        fn text(&self, number: u32) -> Text {
            self.texts.get(number as usize).cloned().unwrap_or_default()
        }

        fn set(&self, number: u32) -> Links {
            self.sets.get(number as usize).cloned().unwrap_or_default()
        }
    }

    impl Later<'_> {
        /// Taken into `ours`, a resource known already: what it did not say yet, links shared
        /// from `table` only where it had none.
        pub(super) fn fill(self, ours: &mut super::Resource, table: &Table) {
            let Later { href, kind, name, uid, ref_links, entity_links, entity, plain_entity } = self;
            // A typed UID is written out only for a resource without one.
            let typed;
            let uid = match uid {
                Some(LaterUid::Other(text)) => Some(text),
                Some(LaterUid::Typed) if ours.uid.is_none() => {
                    let kind = table.texts.get(kind as usize).map_or("", |k| k);
                    typed = super::Uid::typed(kind, href.rsplit('/').next().unwrap_or_default());
                    Some(typed.as_str())
                }
                _ => None,
            };
            let wanted = |known: bool, number: Option<u32>| match known {
                true => None,
                false => number.map(|n| table.set(n)),
            };
            let ref_links = wanted(ours.ref_links.is_some(), ref_links);
            let entity_links = wanted(ours.entity_links.is_some(), entity_links);
            ours.absorb_said(super::Said { href, name, uid, ref_links, entity_links, entity, plain_entity });
        }

        /// The resource it is, its texts and links shared from `table`.
        pub(super) fn resource(self, table: &Table) -> super::Resource {
            let Later { href, kind, name, uid, ref_links, entity_links, entity, plain_entity } = self;
            super::Resource {
                href: href.to_owned(),
                kind: table.text(kind),
                name: name.map(str::to_owned),
                uid: uid.map(|u| match u {
                    LaterUid::Typed => super::Uid::Typed,
                    LaterUid::Other(text) => super::Uid::Other(text.to_owned()),
                }),
                ref_links: ref_links.map(|n| table.set(n)),
                entity_links: entity_links.map(|n| table.set(n)),
                entity,
                plain_entity,
            }
        }
    }

    /// Lets `cassette`'s exchanges go when it is a pack whose part is stored: reading the part
    /// needs none of them (a large estate's are hundreds of MB), and a part that proves
    /// unreadable is learned from them read again from the pack
    /// ([`crate::cassette::pack::PackFile::loaded_again`]).
    pub(crate) fn let_go(cassette: &mut LoadedCassette) {
        let Some(pack) = cassette.pack.as_ref().filter(|p| p.as_packed()) else { return };
        let first = pack.catalog_frames().next().and_then(Result::ok);
        if first.is_some_and(|by| pack::signed_by(&by, WRITTEN_BY)) {
            cassette.cassette.exchanges = Vec::new();
            cassette.lines = Vec::new();
            cassette.bodies = Vec::new();
        }
    }

    /// Where the resources of a stored part go as they are read.
    pub(super) enum Sink<'c> {
        /// Into the part read.
        Part,
        /// Into a catalog of earlier parts, a frame at a time ([`super::Catalog::absorb_later`]):
        /// a later part is never held whole beside it. `listed`: the paths the earlier parts'
        /// listings list, whose collections a later listing cannot change.
        Into(&'c mut super::Catalog, &'c super::ListedPaths<'c>),
    }

    /// The part stored in `cassette`'s pack; `None` for a cassette, or a part written by another
    /// emtape or no longer readable. Its resources go to the `sink`: into the part, or into a
    /// catalog. A part found unreadable after some went into a catalog put each there as its
    /// frame says it, which (damage aside that still reads) is as its bodies teach it: learning
    /// the part from its bodies then gives what learning it all would.
    pub(super) fn part_in(cassette: &LoadedCassette, sink: Sink<'_>) -> Option<Part> {
        part_from(cassette.pack.as_ref()?, sink)
    }

    /// [`part_in`] the cassette `pack` is.
    pub(super) fn part_from(pack: &Arc<PackFile>, sink: Sink<'_>) -> Option<Part> {
        let pack = Some(pack).filter(|p| p.as_packed())?;
        let unreadable = |e: String| {
            log::warn!("{}: its stored catalog is not readable ({e}); learning it from the bodies", pack.name());
        };
        let mut frames = pack.catalog_frames();
        let by = frames.next()?.map_err(unreadable).ok()?;
        if !pack::signed_by(&by, WRITTEN_BY) {
            return None;
        }
        let reading =
            Reading { pack: pack.clone(), table: Table::default(), paths: Vec::new(), order: None, lent: Vec::new() };
        READING.with(|r| *r.borrow_mut() = Some(reading));
        let most = usize::try_from(pack.catalog_len() / 8).unwrap_or(usize::MAX);
        // Its bodies are the pack's, by place.
        let read = pack::reading(pack, || match sink {
            Sink::Part => read_whole(frames, most),
            Sink::Into(catalog, listed) => read_into(frames, most, catalog, listed),
        });
        READING.with(|r| *r.borrow_mut() = None);
        read.map_err(unreadable).ok()
    }

    /// The part the `frames` after its first say, read whole. `most`: how many of anything the
    /// part could hold.
    fn read_whole(frames: impl Iterator<Item = Result<Vec<u8>, String>>, most: usize) -> Result<Part, String> {
        let mut part = Part::default();
        for bytes in frames {
            let frame: Read<(Path, super::Resource), Tables> =
                postcard::from_bytes(&bytes?).map_err(|e| e.to_string())?;
            let tables = |part: &mut Part, t: Tables| {
                let c = &mut part.catalog;
                (c.collections, c.shapes, c.services) = (t.collections, t.shapes, t.services);
                (c.samples, c.by_kind, c.link_uses) = (t.samples, t.by_kind, t.link_uses);
            };
            let Some(resources) = take_frame(&mut part, frame, (most, true), tables) else { continue };
            let c = &mut part.catalog;
            let paths = resources.into_iter().map(|(path, resource)| {
                c.resources.push(path.clone(), resource);
                path
            });
            let paths: Vec<Path> = paths.collect();
            READING.with(|r| r.borrow_mut().as_mut().map(|reading| reading.paths.extend(paths)));
        }
        Ok(part)
    }

    /// The part the `frames` after its first say but its resources, which are taken into
    /// `catalog` a frame at a time, as they are read.
    fn read_into(
        frames: impl Iterator<Item = Result<Vec<u8>, String>>,
        most: usize,
        catalog: &mut super::Catalog,
        listed: &super::ListedPaths<'_>,
    ) -> Result<Part, String> {
        // `next`: where the resource after the last one read is likeliest to be.
        let (mut part, mut table, mut next) = (Part::default(), None, 0);
        for bytes in frames {
            let bytes = bytes?;
            let frame: Read<(&str, Later<'_>), LaterTables<'_>> =
                postcard::from_bytes(&bytes).map_err(|e| e.to_string())?;
            // Taken in as they are read, not held to the end of the part (a large estate's are
            // hundreds of MB, and say mostly what the earlier parts said).
            let frame = match frame {
                Frame::Lists(listings) => {
                    // A collection an earlier listing listed is that listing's: a later one
                    // lends its entities of resources its part did not know, and no more.
                    for listing in listings {
                        if !listed.contains(listing.path.as_str()) {
                            part.listings.push(listing);
                        } else if !listing.strangers.is_empty() {
                            part.listings
                                .push(super::Listing { members: super::Members::Paths(Vec::new()), ..listing });
                        }
                    }
                    continue;
                }
                frame => frame,
            };
            let tables = |part: &mut Part, t: LaterTables<'_>| {
                // Made only where new, as `absorb_tables` takes them in.
                for (path, c) in t.collections {
                    super::made_at(&mut catalog.collections, path, || (path.to_owned(), c.made()));
                }
                for (shape, member) in t.shapes {
                    super::made_at(&mut catalog.shapes, shape, || (shape.to_owned(), member.to_owned()));
                }
                catalog.absorb_tables(HashMap::default(), HashMap::default(), t.services);
                // Counted when the part is taken in, not before: a part found unreadable later
                // is learned from its bodies, and counted then.
                part.catalog.link_uses = t.link_uses;
            };
            let Some(resources) = take_frame(&mut part, frame, (most, false), tables) else { continue };
            // Every text and set of links comes before the first resource.
            let table: &Table = table.get_or_insert_with(|| {
                READING.with(|r| r.borrow().as_ref().map(|r| r.table.clone())).unwrap_or_default()
            });
            // A listing's members are the catalog's own paths.
            let paths: Vec<Path> = resources
                .into_iter()
                .map(|(path, later)| {
                    let (kept, at) = catalog.absorb_later(path, next, later, table);
                    next = at + 1;
                    kept
                })
                .collect();
            READING.with(|r| r.borrow_mut().as_mut().map(|reading| reading.paths.extend(paths)));
        }
        Ok(part)
    }

    /// Takes a `frame` of a part being read into `part`, but a frame of resources, which it
    /// hands back. `most`: how many of anything the part could hold; `whole`: its resources are
    /// kept in the part, whose tables are made to size for them and its listings; its tables go
    /// to `tables`.
    fn take_frame<R, X>(
        part: &mut Part,
        frame: Read<R, X>,
        (most, whole): (usize, bool),
        tables: impl FnOnce(&mut Part, X),
    ) -> Option<Vec<R>> {
        let c = &mut part.catalog;
        match frame {
            Frame::Head { resources, lists, json_bodies, camel_bodies, camel_json } => {
                // Counts from the file are hints, never more than the part could hold.
                // A later part's mostly list what earlier parts listed (see `read_into`).
                if whole {
                    c.resources.reserve(resources.min(most));
                    part.listings.reserve(lists.min(most));
                }
                (part.json_bodies, part.camel_bodies, c.camel_json) = (json_bodies, camel_bodies, camel_json);
            }
            Frame::Tables(t) => tables(part, *t),
            Frame::Texts(texts) => {
                let texts = texts.into_iter().map(Text::new);
                READING.with(|r| r.borrow_mut().as_mut().map(|reading| reading.table.texts.extend(texts)));
            }
            Frame::Sets(sets) => {
                let sets = sets.into_iter().map(|links| Links(links.into()));
                READING.with(|r| r.borrow_mut().as_mut().map(|reading| reading.table.sets.extend(sets)));
            }
            Frame::Lent(bodies) => {
                let lent: Vec<_> = bodies.into_iter().map(|(body, origin)| (body, renamed(origin).into())).collect();
                READING.with(|r| r.borrow_mut().as_mut().map(|reading| reading.lent.extend(lent)));
            }
            Frame::Resources(read) => return Some(read),
            Frame::Lists(listings) => part.listings.extend(listings),
        }
        None
    }

    thread_local! {
        static WRITING: RefCell<Writing> = RefCell::new(Writing::default());
        static READING: RefCell<Option<Reading>> = const { RefCell::new(None) };
    }

    /// While a part is written: the number of each text its links share and of each of its
    /// resources' paths (its place in the part's order), by address.
    #[derive(Default)]
    struct Writing {
        texts: HashMap<*const u8, u32>,
        /// The number of each set of links, by its address.
        sets: HashMap<*const u8, u32>,
        paths: HashMap<*const u8, u32>,
        /// The number of each list that lent entities, by the address of their origin.
        lent: HashMap<*const u8, u32>,
    }

    /// The pack whose part is being read, and what it names by number: the texts its links
    /// share, and its resources' paths read so far.
    struct Reading {
        pack: Arc<PackFile>,
        table: Table,
        paths: Vec<Path>,
        /// `paths` once every resource has been read, shared by its listings' members.
        order: Option<Arc<[Path]>>,
        /// The bodies of the lists that lent entities, and where each was recorded.
        lent: Vec<(Recorded, Arc<str>)>,
    }

    /// A text links share, by its number in the part's table.
    pub(super) fn share<S: Serializer>(text: &Text, s: S) -> Result<S::Ok, S::Error> {
        match WRITING.with(|w| w.borrow().texts.get(&text.address()).copied()) {
            Some(number) => number.serialize(s),
            None => Err(serde::ser::Error::custom("a link's text is not in its part's table")),
        }
    }

    pub(super) fn share_option<S: Serializer>(text: &Option<Text>, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Share<'a>(#[serde(serialize_with = "share")] &'a Text);
        text.as_ref().map(Share).serialize(s)
    }

    /// What the table of the part being read has at `number`, as `at` finds it: an error naming
    /// it (`what`, `such`) when it has none (a damaged frame is found as it is read).
    fn in_table<T, E: serde::de::Error>(
        number: u32,
        (what, such): (&str, &str),
        at: impl FnOnce(&Table, usize) -> Option<T>,
    ) -> Result<T, E> {
        READING
            .with(|r| r.borrow().as_ref().and_then(|r| at(&r.table, number as usize)))
            .ok_or_else(|| E::custom(format!("{what} {number} of the part's table, which has no such {such}")))
    }

    const TEXT: (&str, &str) = ("text", "text");
    const SET: (&str, &str) = ("set of links", "set");

    pub(super) fn shared<'de, D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        in_table(u32::deserialize(d)?, TEXT, |table, n| table.texts.get(n).cloned())
    }

    /// [`shared`]'s number, checked to be one of the part's table, its text left unshared.
    fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let number = u32::deserialize(d)?;
        in_table(number, TEXT, |table, n| (n < table.texts.len()).then_some(number))
    }

    /// A set of links' number, checked to be one of the part's table (see [`Links`]).
    fn set_number_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let Some(number) = Option::<u32>::deserialize(d)? else { return Ok(None) };
        in_table(number, SET, |table, n| (n < table.sets.len()).then_some(Some(number)))
    }

    /// A set of links is stored as its number in the part's table.
    impl Serialize for Links {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match WRITING.with(|w| w.borrow().sets.get(&self.address()).copied()) {
                Some(number) => number.serialize(s),
                None => Err(serde::ser::Error::custom("a set of links is not in its part's table")),
            }
        }
    }

    impl<'de> Deserialize<'de> for Links {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Links, D::Error> {
            in_table(u32::deserialize(d)?, SET, |table, n| table.sets.get(n).cloned())
        }
    }

    pub(super) fn shared_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Text>, D::Error> {
        #[derive(Deserialize)]
        struct Shared(#[serde(deserialize_with = "shared")] Text);
        Ok(Option::<Shared>::deserialize(d)?.map(|s| s.0))
    }

    /// A path as a listing's item names it: by its number in the part's order where it is one
    /// of the part's resources (kept in [`Writing`]), else written out.
    #[derive(Serialize, Deserialize)]
    enum Named<P> {
        Resource(u32),
        Path(P),
    }

    /// Where a sample or list was recorded, `text` as stored: the pack, by the name it has now.
    fn renamed(text: String) -> String {
        READING.with(|r| match (r.borrow().as_ref(), text.strip_prefix(pack::OWN_NAME)) {
            (Some(reading), Some(rest)) => format!("{}{rest}", reading.pack.name()),
            _ => text,
        })
    }

    /// A kind of link as stored: its method a text.
    #[derive(Deserialize)]
    pub(super) struct LinkUse {
        rel: String,
        kind: Option<String>,
        shape: String,
        method: String,
        action: String,
        entity: bool,
    }

    // By hand: a derived one would ask the bytes to outlive the program, for `method`.
    impl<'de> Deserialize<'de> for super::LinkUse {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<super::LinkUse, D::Error> {
            let l = LinkUse::deserialize(d)?;
            let method = ["GET", "POST", "PUT", "DELETE", "PATCH"]
                .into_iter()
                .find(|m| *m == l.method)
                .ok_or_else(|| serde::de::Error::custom(format!("`{}` is not a method a link takes", l.method)))?;
            Ok(super::LinkUse { rel: l.rel, kind: l.kind, shape: l.shape, method, action: l.action, entity: l.entity })
        }
    }
}

/// The exchanges cut into up to `n` stretches of about as many response body bytes each.
fn stretches<'a, 'c>(exchanges: &'a [(&'c LoadedCassette, usize)], n: usize) -> Vec<&'a [(&'c LoadedCassette, usize)]> {
    let size = |&(c, i): &(&LoadedCassette, usize)| match c.cassette.response_body(i) {
        Body::Text { text, .. } => text.len() + 1,
        Body::Placed(p) => p.len() + 1,
        _ => 1,
    };
    let total: usize = exchanges.iter().map(size).sum();
    let share = total.div_ceil(n.max(1)).max(1);
    let (mut out, mut start, mut bytes) = (Vec::new(), 0, 0);
    for (i, exchange) in exchanges.iter().enumerate() {
        bytes += size(exchange);
        if bytes >= share * (out.len() + 1) {
            out.push(&exchanges[start..=i]);
            start = i + 1;
        }
    }
    if start < exchanges.len() || out.is_empty() {
        out.push(&exchanges[start..]);
    }
    out
}

impl Catalog {
    /// Built from `cassettes`, which it takes: before anything is read, each pack whose part is
    /// stored lets its exchanges go ([`stored::let_go`]). (Serve and lint hand them over to
    /// [`Catalog::build_when`], as [`super::Model::build_beside`] does.)
    #[cfg(test)]
    pub fn build(mut cassettes: Vec<LoadedCassette>) -> Catalog {
        cassettes.iter_mut().for_each(stored::let_go);
        Catalog::build_ahead(&cassettes, crate::parallel::cores(), true, true, Taken::default())
    }

    /// [`Catalog::build`] of the cassettes `later` hands over, handed to `built` as soon as
    /// its resources are (their types learned): its collections are settled after that, and
    /// what asks for them waits for them (an entity needs none; a large estate's 600,000
    /// listings take a second). The stored parts of `packs`, those of the packs they begin
    /// with, are read before they come (up to the first that cannot be): the request index
    /// reads them meanwhile, and they come having let their exchanges go ([`stored::let_go`]).
    pub fn build_when(
        packs: Vec<Arc<crate::cassette::pack::PackFile>>,
        later: std::sync::mpsc::Receiver<Vec<LoadedCassette>>,
        built: impl FnOnce(Arc<Catalog>),
    ) {
        let ahead = Taken::ahead(&packs);
        let Ok(cassettes) = later.recv() else { return built(Arc::default()) };
        let (catalog, listings) = Catalog::read_parts(&cassettes, crate::parallel::cores(), true, true, ahead);
        drop(cassettes);
        catalog.settle_after(listings, built);
    }

    #[cfg(test)]
    fn build_in(cassettes: &[LoadedCassette], threads: usize, nodes: bool, stored: bool) -> Catalog {
        Catalog::build_ahead(cassettes, threads, nodes, stored, Taken::default())
    }

    /// Built at once: [`Catalog::read_parts`], then settled.
    #[cfg(test)]
    fn build_ahead(cassettes: &[LoadedCassette], threads: usize, nodes: bool, stored: bool, ahead: Taken) -> Catalog {
        let (catalog, listings) = Catalog::read_parts(cassettes, threads, nodes, stored, ahead);
        let mut built = None;
        catalog.settle_after(listings, |c| built = Some(c));
        built.and_then(Arc::into_inner).unwrap_or_default()
    }

    /// What up to `threads` stretches of the recordings learned at once, and (`stored`) the
    /// parts packs store read instead of learned, say: the catalog but what is learned once
    /// every part has been read ([`Catalog::settle_after`]), and their listings. A part that
    /// comes first is read on a thread of its own like the stretches, any other into the
    /// catalog of those before it a frame at a time when its turn comes (a large estate's part
    /// is gigabytes once read: a part beside it is never held whole).
    /// `ahead`: the stored parts of the packs the cassettes begin with, read already
    /// ([`Taken::ahead`]).
    fn read_parts(
        cassettes: &[LoadedCassette],
        threads: usize,
        nodes: bool,
        stored: bool,
        ahead: Taken,
    ) -> (Catalog, Vec<Vec<Listing>>) {
        // In the order of the recordings: a pack's stored part, or the exchanges of the
        // cassettes up to the next one, learned in stretches. Each run of exchanges follows the
        // pack that ends the one before it.
        enum Job<'a, 'c> {
            Stored(&'c LoadedCassette),
            Learn(&'a [(&'c LoadedCassette, usize)]),
        }
        type Run<'c> = (Option<&'c LoadedCassette>, Vec<(&'c LoadedCassette, usize)>);
        let mut runs: Vec<Run<'_>> = vec![(None, Vec::new())];
        for c in cassettes {
            if stored && c.pack.is_some() {
                runs.push((Some(c), Vec::new()));
            } else if let Some((_, run)) = runs.last_mut() {
                run.extend((0..c.cassette.exchanges.len()).map(|i| (c, i)));
            }
        }
        let mut jobs = Vec::new();
        for (pack, run) in &runs {
            jobs.extend(pack.map(Job::Stored));
            if !run.is_empty() {
                jobs.extend(stretches(run, threads).into_iter().map(Job::Learn));
            }
        }
        let learned = |c: &LoadedCassette| {
            // A pack that let its exchanges go (or has none) reads them again.
            let again = match &c.pack {
                Some(pack) if c.cassette.exchanges.is_empty() => pack
                    .loaded_again()
                    .map_err(|e| log::warn!("{e}: its catalog is learned from none of its exchanges"))
                    .ok(),
                _ => None,
            };
            let c = again.as_ref().unwrap_or(c);
            let exchanges: Vec<_> = (0..c.cassette.exchanges.len()).map(|i| (c, i)).collect();
            Part::learn(&exchanges, nodes)
        };
        // The jobs of the packs read ahead are done, but that of one found unreadable there,
        // which is learned from its exchanges.
        let (read, unreadable) = (ahead.read, ahead.unreadable);
        let mut taken = ahead;
        std::thread::scope(|scope| {
            // A later stored part is read into the catalog when its turn comes, a frame at a
            // time: what it says of a resource known already is taken from its frame in place.
            use std::thread::ScopedJoinHandle;
            enum Learning<'s, 'c> {
                Part(ScopedJoinHandle<'s, Part>),
                Later(&'c LoadedCassette),
                Learned(&'c LoadedCassette),
            }
            let learning: Vec<_> = jobs
                .into_iter()
                .enumerate()
                .skip(read)
                .map(|(n, job)| match job {
                    Job::Stored(c) if n == read && unreadable => Learning::Learned(c),
                    Job::Stored(c) if n > 0 => Learning::Later(c),
                    Job::Stored(c) => Learning::Part(
                        scope.spawn(move || stored::part_in(c, stored::Sink::Part).unwrap_or_else(|| learned(c))),
                    ),
                    Job::Learn(stretch) => Learning::Part(scope.spawn(move || Part::learn(stretch, nodes))),
                })
                .collect();
            for job in learning {
                let part = match job {
                    Learning::Part(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                    Learning::Later(c) => {
                        c.pack.as_ref().and_then(|p| taken.read_later(p)).unwrap_or_else(|| learned(c))
                    }
                    Learning::Learned(c) => learned(c),
                };
                taken.take(part);
            }
        });
        taken.done()
    }

    /// Takes in what a later stretch learned: resources, collections, shapes and services it
    /// names first are added, and what a known resource lacked is filled in.
    fn absorb(&mut self, later: Catalog) {
        let empty = [self.resources.len(), self.collections.len(), self.shapes.len(), self.services.len()];
        if empty == [0; 4] && self.link_uses.is_empty() {
            // The first part (a pack's stored one, most often) is taken as it is.
            *self = later;
            return;
        }
        let Catalog { resources, collections, shapes, services, link_uses, .. } = later;
        for (path, theirs) in resources {
            self.absorb_resource(path, theirs);
        }
        self.absorb_tables(collections, shapes, services);
        for (said, (kind, count, path)) in link_uses {
            self.link_uses.entry(said).or_insert((kind, 0, path)).1 += count;
        }
    }

    /// Takes in the collections, shapes and services a later part names first (taking in the
    /// same twice changes nothing).
    fn absorb_tables(
        &mut self,
        collections: HashMap<String, Collection>,
        shapes: HashMap<String, String>,
        services: HashMap<String, Service>,
    ) {
        for (path, c) in collections {
            self.collections.entry(path).or_insert(c);
        }
        for (shape, member) in shapes {
            self.shapes.entry(shape).or_insert(member);
        }
        for (path, service) in services {
            self.services.entry(path).or_insert(service);
        }
    }

    /// Takes in a resource a later part names: added if it is new, else what it lacked filled in.
    fn absorb_resource(&mut self, path: Path, theirs: Resource) {
        match self.resources.get_mut(&path) {
            Some(ours) => ours.absorb(theirs),
            None => {
                self.resources.push(path, theirs);
            }
        }
    }

    /// [`Catalog::absorb_resource`] of a resource a later stored part names at `path`, its
    /// links' texts by number in `texts` (shared only where they are taken in), looked for
    /// first at place `guess` ([`Resources::place_from`]): the path the catalog keeps it at,
    /// and its place.
    fn absorb_later(
        &mut self,
        path: &str,
        guess: usize,
        theirs: stored::Later<'_>,
        table: &stored::Table,
    ) -> (Path, usize) {
        let known = self.resources.place_from(path, guess);
        if let Some((n, (kept, ours))) = known.and_then(|n| Some((n, self.resources.kept_mut(n)?))) {
            let kept = kept.clone();
            theirs.fill(ours, table);
            return (kept, n);
        }
        let kept: Path = path.into();
        self.resources.push(kept.clone(), theirs.resource(table));
        (kept, self.resources.len() - 1)
    }

    /// What an XML body names, as it streams past ([`em::links::xml_seen_each`]), learned apart
    /// so that one that is not well-formed teaches nothing. `sample`: the body as its root
    /// resource's entity, when it is one.
    fn learn_xml(&mut self, body: &str, sample: impl FnOnce() -> Option<(String, Repr, Sample)>) {
        let mut sample = Some(sample);
        self.learn_apart(|learned| {
            em::links::xml_seen_each(body, &mut |seen| match seen {
                Seen::Link(link) => learned.learn_link(&link),
                Seen::Resource(r) => {
                    let sample = if r.root { sample.take().and_then(|s| s()) } else { None };
                    let (name, uid) = (r.name.as_deref(), r.uid.as_deref());
                    learned.learn_resource(&r.href, &r.kind, name, uid, r.links, r.reference, sample);
                }
            })
        });
    }

    /// What a JSON listing names, read an item at a time: one item's tree at once, where the
    /// whole body's would be some times its size (every task session's entity is listed in
    /// one). Learned apart, each item as [`Catalog::learn_node`] reads it; `None`, with nothing
    /// learned, for a body that is not a listing of such items.
    fn learn_listing(&mut self, body: &str) -> Option<Vec<em::list::Item>> {
        use em::node::Node;
        let (key, places) = em::list::json_listing(body)?;
        self.learn_apart(|learned| {
            let mut items = Vec::with_capacity(places.len());
            for at in places {
                let Ok(Some(node)) = em::node::parse(&body[at.clone()]) else { return None };
                let Node::Object(o) = &node else { return None };
                let (href, kind) = (o.text("Href")?.to_owned(), o.text("Type")?.to_owned());
                let reference = key.eq_ignore_ascii_case("Refs") || kind.ends_with("Reference");
                learned.learn_node(&node, None);
                items.push(em::list::Item { href, kind, reference, at });
            }
            Some(items)
        })
    }

    /// What `learn` teaches a catalog of its own (sharing this one's strings), taken in only
    /// when it reads to its end (`Some`): a body read as it streams may turn out broken after
    /// part of it was learned.
    fn learn_apart<T>(&mut self, learn: impl FnOnce(&mut Catalog) -> Option<T>) -> Option<T> {
        let mut learned = Catalog { strings: std::mem::take(&mut self.strings), ..Catalog::default() };
        let read = learn(&mut learned);
        self.strings = std::mem::take(&mut learned.strings);
        if read.is_some() {
            self.absorb(learned);
        }
        read
    }

    /// What a JSON body read as a [`em::node::Node`] names: as [`Catalog::learn_json`] reads the
    /// whole value.
    fn learn_node(&mut self, node: &em::node::Node, sample: Option<(String, Sample)>) {
        use em::node::Node;
        match node {
            Node::Object(o) => {
                if let Some(href) = o.text("Href") {
                    if let Some(link) = o.link() {
                        self.learn_link(&link);
                    } else if let Some(kind) = o.text("Type") {
                        let is_ref = kind.ends_with("Reference");
                        let sample = sample.map(|(p, s)| (p, Repr::Json, s));
                        self.learn_resource(href, kind, o.text("Name"), o.text("UID"), o.links(), is_ref, sample);
                    }
                }
                for child in &o.children {
                    self.learn_node(child, None);
                }
            }
            Node::Array(items) => items.iter().for_each(|i| self.learn_node(i, None)),
            Node::Text(_) | Node::Other => {}
        }
    }

    fn learn_json(&mut self, v: &serde_json::Value, sample: Option<(String, Sample)>) {
        use serde_json::Value;
        match v {
            Value::Object(map) => {
                let text = |k: &str| crate::em::links::text(map, k);
                if let Some(href) = text("Href") {
                    let links = crate::em::links::member(map, "Links")
                        .filter(|l| l.is_array())
                        .map(|_| own_links_of_object(map));
                    if let Some(link) = Link::of_object(map) {
                        self.learn_link(&link);
                    } else if let Some(kind) = text("Type") {
                        let is_ref = kind.ends_with("Reference");
                        self.learn_resource(
                            href,
                            kind,
                            text("Name"),
                            text("UID"),
                            links,
                            is_ref,
                            sample.map(|(p, s)| (p, Repr::Json, s)),
                        );
                    }
                }
                for child in map.values() {
                    self.learn_json(child, None);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| self.learn_json(i, None)),
            _ => {}
        }
    }

    fn learn_link(&mut self, link: &Link) {
        let Some(path) = href_path(&link.href) else { return };
        self.count_link(link, &path);
        let Some(kind) = link.kind.as_deref() else { return };
        if !matches!(link.rel.as_str(), "Down" | "Up" | "Alternate" | "Related") {
            return;
        }
        let last = path.rsplit('/').next().unwrap_or_default();
        if let Some(member) = list_member(kind) {
            if member == "LogonSession" {
                return;
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = self.collections.entry(path) {
                let shape = shape(slot.key());
                slot.insert(Collection {
                    href: strip_href_query(&link.href).to_owned(),
                    member: member.to_owned(),
                    members: Vec::new(),
                    recorded: false,
                });
                self.shapes.entry(shape).or_insert_with(|| member.to_owned());
            }
        } else if is_id(last) {
            let kind = kind.strip_suffix("Reference").unwrap_or(kind);
            let named = Named { href: &link.href, kind, name: link.name.as_deref(), uid: None };
            self.learn_resource_at(path, named, None, false, None);
        } else if !SESSION_KINDS.contains(&kind) && path != "/api" {
            self.services.entry(path).or_insert_with(|| Service {
                href: strip_href_query(&link.href).to_owned(),
                kind: kind.to_owned(),
                name: link.name.clone(),
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn learn_resource(
        &mut self,
        href: &str,
        kind: &str,
        name: Option<&str>,
        uid: Option<&str>,
        links: Option<Vec<Link>>,
        is_ref: bool,
        sample: Option<(String, Repr, Sample)>,
    ) {
        let Some(path) = href_path(href) else { return };
        self.learn_resource_at(path, Named { href, kind, name, uid }, links, is_ref, sample);
    }

    /// [`Catalog::learn_resource`] of a resource whose Href's path is `path`.
    fn learn_resource_at(
        &mut self,
        path: String,
        named: Named<'_>,
        links: Option<Vec<Link>>,
        is_ref: bool,
        sample: Option<(String, Repr, Sample)>,
    ) {
        let Named { href, kind, name, uid } = named;
        let kind = kind.strip_suffix("Reference").unwrap_or(kind);
        if SESSION_KINDS.contains(&kind) || list_member(kind).is_some() {
            return;
        }
        if !path.rsplit('/').next().is_some_and(is_id) {
            return;
        }
        // Most sightings are of a resource known already.
        let resource = match self.resources.place(&path) {
            Some(n) => match self.resources.nth_mut(n) {
                Some(known) => known,
                None => return,
            },
            None => {
                let kind = self.strings.of(kind);
                let made = Resource { href: strip_href_query(href).to_owned(), kind, ..Resource::default() };
                self.resources.push(path.as_str().into(), made)
            }
        };
        if resource.name.is_none() {
            resource.name = name.map(str::to_owned);
        }
        resource.said_uid(uid);
        let own = Own { href: &resource.href, name: resource.name.as_deref() };
        match links {
            Some(links) if is_ref => {
                resource.ref_links.get_or_insert_with(|| Links::keep(links, own, &mut self.strings));
            }
            Some(links) => {
                resource.entity_links.get_or_insert_with(|| Links::keep(links, own, &mut self.strings));
                if !href.to_ascii_lowercase().contains("format=entity") {
                    resource.plain_entity = true;
                }
            }
            None => {}
        }
        if let Some((sample_path, repr, sample)) = sample {
            if sample_path == path {
                let slot = &mut resource.entity[repr_index(repr)];
                slot.get_or_insert(sample);
            }
        }
    }

    /// Every kind of link the recordings hold: how many, and a path one of them leads to.
    pub fn link_uses(&self) -> impl Iterator<Item = (&LinkUse, usize, &str)> {
        self.link_uses.values().map(|(kind, n, path)| (kind, *n, path.as_str()))
    }

    /// What its part's `lists` lend, once every body of the part has been read: each entity
    /// listed (`?format=Entity`, a job's includes) is that resource's, unless a body of its own
    /// was recorded or an earlier list lent one ([`Resource::absorb`] keeps that true across
    /// parts). What they say of their collections is learned once every part has been read.
    fn settle(&mut self, lists: Vec<List>) -> Vec<Listing> {
        lists
            .into_iter()
            .map(|List { path, href, kind, items, body, repr, origin }| {
                // Made when a first entity is lent (most lists are of references).
                let mut lent: Option<Arc<str>> = None;
                let mut sample = |at| Sample {
                    body: body.clone(),
                    item: Some((at, repr)),
                    origin: lent.get_or_insert_with(|| format!("{origin} (an item of its list)").into()).clone(),
                };
                let mut strangers = Vec::new();
                let members = items
                    .into_iter()
                    .map(|item| {
                        if !item.reference {
                            match self.resources.get_mut(&item.path) {
                                Some(r) => r.lend(repr, || sample(item.at)),
                                None => strangers.push((item.path.clone(), sample(item.at))),
                            }
                        }
                        item.path
                    })
                    .collect();
                let kind = kind.map(|k| k.strip_suffix("Reference").map_or(k.clone(), str::to_owned));
                Listing { path, href, kind, members: Members::Paths(members), strangers }
            })
            .collect()
    }

    /// What is learned once every part has been read: what the parts' `listings` say of their
    /// collections, beside what each resource says of its type (the two share nothing, and a
    /// large estate has 600,000 listings and a million resources); then each resource is filed
    /// under its collection. The catalog is handed to `built` once its resources' types are
    /// learned, its collections settled after (on a thread of their own, here if none can be
    /// had).
    fn settle_after(mut self, mut listings: Vec<Vec<Listing>>, built: impl FnOnce(Arc<Catalog>)) {
        self.lend_strangers(&mut listings);
        let mut collections = std::mem::take(&mut self.collections);
        std::thread::scope(|scope| {
            let listed = scope.spawn(move || {
                listings.into_iter().flatten().for_each(|l| take_listing(&mut collections, l));
                collections
            });
            learn_kinds(&self.resources, &mut self.by_kind, &mut self.samples);
            let (settle, coming) = std::sync::mpsc::channel();
            self.settled = Some(Settling { table: OnceLock::new(), coming: std::sync::Mutex::new(Some(coming)) });
            let catalog = Arc::new(self);
            built(catalog.clone());
            let mut collections = listed.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            gather_members(&mut collections, &catalog.resources);
            let _ = settle.send(collections);
        });
    }

    /// Lends each entity the `listings` hold of a resource their own part did not know.
    fn lend_strangers(&mut self, listings: &mut [Vec<Listing>]) {
        for listing in listings.iter_mut().flatten() {
            for (path, sample) in std::mem::take(&mut listing.strangers) {
                if let (Some(r), Some((_, repr))) = (self.resources.get_mut(&path), sample.item.clone()) {
                    r.lend(repr, || sample);
                }
            }
        }
    }

    /// Counts a link by where it leads (links of every body: the logon's, the services', the
    /// resources'), `path` being its Href's. A kind seen before is counted without making its
    /// key: it is looked up by a text that says the same (rel, type, shape, action, entity).
    fn count_link(&mut self, link: &Link, path: &str) {
        let query = link.href.split_once('?').map_or("", |(_, q)| q);
        // A session placeholder (`{{session-id:1}}`) is an id like any other.
        let placeholder = |s: &str| s.starts_with("{{") && s.ends_with("}}");
        let mut said = std::mem::take(&mut self.said);
        said.clear();
        let (action, entity) = action_and_entity(query);
        for part in [link.rel.as_str(), link.kind.as_deref().unwrap_or("\u{0}"), action.as_ref()] {
            said.push_str(part);
            said.push('\u{1f}');
        }
        said.push(if entity { 'e' } else { '-' });
        let shape_at = said.len();
        for (n, segment) in path.split('/').enumerate() {
            if n > 0 {
                said.push('/');
            }
            said.push_str(if is_id(segment) || placeholder(segment) { "{}" } else { segment });
        }
        match self.link_uses.get_mut(said.as_str()) {
            Some((_, count, _)) => *count += 1,
            None => {
                let method = em::links::method_for_rel(&link.rel);
                let shape = said[shape_at..].to_owned();
                let kind = LinkUse {
                    rel: link.rel.clone(),
                    kind: link.kind.clone(),
                    shape,
                    method,
                    action: action.into_owned(),
                    entity,
                };
                self.link_uses.insert(said.clone(), (kind, 1, path.to_owned()));
            }
        }
        self.said = said;
    }

    /// The resource at the normalised `path`.
    pub fn resource(&self, path: &str) -> Option<&Resource> {
        self.resources.get(path)
    }

    /// Every resource, in no order.
    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.resources.values()
    }

    /// The paths of the resources of a type, in the order first seen.
    pub fn of_kind(&self, kind: &str) -> &[Path] {
        self.by_kind.get(kind).map_or(&[], Vec::as_slice)
    }

    /// Every type a resource has.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.by_kind.keys().map(String::as_str)
    }

    /// The first resource of a type with a recorded entity in the representation of `slot`
    /// ([`repr_index`]); any representation's when `slot` is `None`.
    pub fn sample(&self, kind: &str, slot: Option<usize>) -> Option<(&Path, &Resource)> {
        let samples = self.samples.get(kind)?;
        let path = match slot {
            Some(slot) => samples.get(slot)?.as_ref()?,
            None => samples.iter().flatten().next()?,
        };
        Some((path, self.resource(path)?))
    }

    /// The service document at `path`.
    pub fn service(&self, path: &str) -> Option<&Service> {
        self.services.get(path)
    }

    /// Every service document, in no order.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }

    /// Every collection a link names or a resource was filed under, in no order.
    pub fn collections(&self) -> impl Iterator<Item = &Collection> {
        self.table().values()
    }

    /// Its collections by path: once they are settled, when that is done after it is built.
    fn table(&self) -> &HashMap<String, Collection> {
        match &self.settled {
            Some(settled) => settled.table(),
            None => &self.collections,
        }
    }

    /// Whether the recordings' JSON has camelCase keys (EM 13): what the model writes in JSON
    /// follows.
    pub fn camel_json(&self) -> bool {
        self.camel_json
    }

    /// The collection at `path`: a known one, or an empty one of a known shape under a known
    /// resource (`/api/vmrestorepoints/{id}/mounts` for a point no recording opened).
    pub fn collection(&self, path: &str) -> Option<Cow<'_, Collection>> {
        if let Some(c) = self.table().get(path) {
            return Some(Cow::Borrowed(c));
        }
        let member = self.shapes.get(&shape(path))?;
        let owner = self.resources.get(parent(path))?;
        let last = path.rsplit('/').next().unwrap_or_default();
        let spellings = self.spellings.get_or_init(|| {
            let mut spellings = HashMap::default();
            for written in self.table().values().filter_map(|c| c.href.rsplit('/').next()) {
                spellings.entry(written.to_ascii_lowercase()).or_insert_with(|| written.to_owned());
            }
            spellings
        });
        let written = spellings.get(&last.to_ascii_lowercase()).map_or(last, String::as_str);
        Some(Cow::Owned(Collection {
            href: format!("{}/{written}", owner.href),
            member: member.clone(),
            members: Vec::new(),
            recorded: false,
        }))
    }
}

/// What a recorded listing says of its collection: the collection at its path holds exactly its
/// items, those of the first listing of it recorded (a later one, the other representation or
/// `?format=Entity`, only lent what it lists).
fn take_listing(collections: &mut HashMap<String, Collection>, listing: Listing) {
    use std::collections::hash_map::Entry;
    let Listing { path, href, kind, members, .. } = listing;
    match collections.entry(path) {
        Entry::Occupied(c) if c.get().recorded => {}
        Entry::Occupied(mut c) => {
            let c = c.get_mut();
            if let Some(kind) = kind {
                c.member = kind;
            }
            (c.members, c.recorded) = (members.paths(), true);
        }
        // An empty list no link typed is a collection of nothing whose type no one said.
        Entry::Vacant(slot) => {
            slot.insert(Collection {
                href,
                member: kind.unwrap_or_default(),
                members: members.paths(),
                recorded: true,
            });
        }
    }
}

/// Files every resource under the collection one segment up, creating collections that no
/// link named but whose members were seen; a recorded listing keeps the members it listed.
/// A run of resources under one collection (most are: a million resources share a few
/// dozen collections) is filed at once.
fn gather_members(collections: &mut HashMap<String, Collection>, resources: &Resources) {
    let order = resources.paths();
    let mut run = 0;
    while let (Some(first), Some(resource)) = (order.get(run), resources.nth(run)) {
        let up = parent(first);
        let end = run + order[run..].iter().take_while(|p| parent(p) == up).count();
        let collection = made_at(collections, up, || {
            let href = parent(&resource.href).to_owned();
            (
                up.to_owned(),
                Collection { href, member: resource.kind.to_string(), members: Vec::new(), recorded: false },
            )
        });
        if let Some(collection) = collection.filter(|c| !c.recorded) {
            collection.members.extend(order[run..end].iter().cloned());
        }
        run = end;
    }
}

/// What each resource says of its type, in the order first seen: the resources of each type,
/// the first of each with a recorded entity per representation (the sibling others are
/// derived from).
fn learn_kinds(
    resources: &Resources,
    by_kind: &mut HashMap<String, Vec<Path>>,
    samples: &mut HashMap<String, [Option<Path>; 2]>,
) {
    // By type as they come: a few dozen types, each kept once by each part, and most resources
    // of the type before them (a large estate has a million).
    type OfKind<'r> = (&'r Text, Vec<Path>, [Option<Path>; 2]);
    let mut kinds: Vec<OfKind<'_>> = Vec::new();
    let mut last = 0;
    for (path, resource) in resources.iter() {
        let kind = &resource.kind;
        if kinds.get(last).is_none_or(|(k, ..)| k.address() != kind.address()) {
            last = match kinds.iter().position(|(k, ..)| k.address() == kind.address() || k == &kind) {
                Some(at) => at,
                None => {
                    kinds.push((kind, Vec::new(), [None, None]));
                    kinds.len() - 1
                }
            };
        }
        let (_, of_kind, first) = &mut kinds[last];
        of_kind.push(path.clone());
        for (sample, entity) in first.iter_mut().zip(&resource.entity) {
            if sample.is_none() && entity.is_some() {
                *sample = Some(path.clone());
            }
        }
    }
    for (kind, of_kind, first) in kinds {
        if let Some(known) = made_at(by_kind, kind, || (kind.to_string(), Vec::new())) {
            known.extend(of_kind);
        }
        if let Some(known) = made_at(samples, kind, || (kind.to_string(), [None, None])) {
            for (sample, first) in known.iter_mut().zip(first) {
                if sample.is_none() {
                    *sample = first;
                }
            }
        }
    }
}

/// The value at `key`, made first by `make` (with its key) when there is none: looked up before
/// a key is made, for tables most lookups find something in. `None` only if `make`'s key is not
/// `key`.
fn made_at<'m, K, V>(map: &'m mut HashMap<K, V>, key: &str, make: impl FnOnce() -> (K, V)) -> Option<&'m mut V>
where
    K: std::borrow::Borrow<str> + Eq + std::hash::Hash,
{
    if !map.contains_key(key) {
        let (kept, made) = make();
        map.insert(kept, made);
    }
    map.get_mut(key)
}

pub(crate) fn repr_index(repr: Repr) -> usize {
    match repr {
        Repr::Xml => 0,
        Repr::Json => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A link's action and whether it asks for the entity, read in place, are what the
        /// normalised query says: names in any case, names given twice, escapes and `+`.
        #[test]
        fn a_query_read_in_place_names_the_action_and_format_its_normal_form_does(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "action=", "Action=", "format=", "FORMAT=", "Entity", "entity", "ENTITY", "restore", "Restore",
                "%41", "+", "&", "=", "x", "filter=A",
            ]), 0..10),
        ) {
            let query = parts.concat();
            let (_, _, action, entity) = LinkUse::key(String::new(), "", &em::normalize_query(&query));
            proptest::prop_assert_eq!(action_and_entity(&query), (Cow::Owned(action), entity), "{}", query);
        }
    }

    /// Everything a catalog holds, in a stable order.
    fn described(c: &Catalog) -> String {
        let sorted = |m: Vec<String>| {
            let mut m = m;
            m.sort();
            m.join("\n")
        };
        [
            format!("{:?}", c.resources.paths()),
            sorted(c.resources.iter().map(|(p, r)| format!("{p} {r:?}")).collect()),
            sorted(c.table().iter().map(|(k, v)| format!("{k} {v:?}")).collect()),
            sorted(c.shapes.iter().map(|(k, v)| format!("{k} {v}")).collect()),
            sorted(c.services.iter().map(|(k, v)| format!("{k} {v:?}")).collect()),
            sorted(c.samples.iter().map(|(k, v)| format!("{k} {v:?}")).collect()),
            sorted(c.by_kind.iter().map(|(k, v)| format!("{k} {v:?}")).collect()),
            sorted(c.link_uses.iter().map(|(k, v)| format!("{k:?} {v:?}")).collect()),
            c.camel_json.to_string(),
        ]
        .join("\n--\n")
    }

    /// Four recordings that say different things of one backup server and one collection.
    fn conflicting() -> LoadedCassette {
        let id = "a490c017-2c1c-40ee-8bcf-73bcce6ab36f";
        let mut text = "format: emtape/cassette-v1\nexchanges:\n".to_owned();
        for (seq, (name, uid, list)) in [
            (None, None, "X"),
            (Some("first"), None, "BackupServer"),
            (Some("second"), Some("u2"), "Y"),
            (None, Some("u3"), "Z"),
        ]
        .into_iter()
        .enumerate()
        {
            let name = name.map(|n| format!(" Name=\"{n}\"")).unwrap_or_default();
            let uid = uid.map(|u| format!(" UID=\"{u}\"")).unwrap_or_default();
            let rel = if seq == 3 { "Alternate" } else { "Down" };
            text.push_str(&format!(
                "- seq: {}\n  request:\n    method: GET\n    uri: /api/backupServers\n  response:\n    status: 200\n    \
                 headers:\n    - Content-Type: application/xml\n    body: |\n      <EntityReferences>\n        \
                 <Ref Type=\"BackupServerReference\" Href=\"{{{{origin}}}}/api/backupServers/{id}\"{name}{uid}>\n          \
                 <Links><Link Href=\"{{{{origin}}}}/api/backupServers/{id}/jobs\" Type=\"{list}List\" Rel=\"{rel}\"/></Links>\n        \
                 </Ref>\n      </EntityReferences>\n",
                seq + 1
            ));
        }
        crate::cassette::Cassette::parse("conflicting.yaml", &text).unwrap()
    }

    #[test]
    fn a_uid_of_its_type_and_id_is_kept_as_that_alone_and_said_as_recorded() {
        let id = "a490c017-2c1c-40ee-8bcf-73bcce6ab36f";
        let server = |id: &str| Resource {
            href: format!("{{{{origin}}}}/api/backupServers/{id}"),
            kind: Text::new("BackupServer".into()),
            ..Resource::default()
        };
        let mut typed = server(id);
        typed.said_uid(Some(&format!("urn:veeam:BackupServer:{id}")));
        typed.said_uid(Some("urn:veeam:BackupServer:later"));
        assert_eq!(typed.uid, Some(Uid::Typed));
        assert_eq!(typed.uid().as_deref(), Some(format!("urn:veeam:BackupServer:{id}").as_str()));
        let mut other = server(id);
        other.said_uid(Some(&format!("urn:veeam:Job:{id}")));
        assert_eq!(other.uid().as_deref(), Some(format!("urn:veeam:Job:{id}").as_str()));
        // None recorded: EM's own for a UUID, none for another id.
        assert_eq!(server(id).uid().as_deref(), Some(format!("urn:veeam:BackupServer:{id}").as_str()));
        assert_eq!(server("42").uid(), None);
    }

    #[test]
    fn links_kept_as_their_resources_own_read_back_as_recorded_wherever_they_are_taken() {
        let own = "{{origin}}/api/backupTaskSessions/6a1a";
        let link = |rel: &str, href: String, name: Option<&str>| Link {
            rel: rel.into(),
            kind: Some("BackupTaskSession".into()),
            href,
            name: name.map(str::to_owned),
        };
        let recorded = vec![
            link("Alternate", own.to_owned(), Some("vm1@today")),
            link("Alternate", format!("{own}?format=Entity"), Some("vm1@today")),
            link("Down", format!("{own}/mounts"), None),
            // Not its own: a longer id, and another resource's name.
            link("Related", format!("{own}0"), Some("vm1@yesterday")),
            link("Up", "{{origin}}/api/backupServers/b30e".into(), Some("\u{0}n")),
            link("Up", "\u{0}h".into(), Some("\u{0}\u{0}")),
        ];
        let resource = |href: &str, name: &str, links: &[Link]| {
            let mut strings = Strings::default();
            let mut r =
                Resource { href: href.into(), kind: Text::new("BackupTaskSession".into()), ..Resource::default() };
            r.name = Some(name.to_owned());
            r.ref_links = Some(Links::keep(links.to_vec(), r.own(), &mut strings));
            (r, strings)
        };
        let (kept, strings) = resource(own, "vm1@today", &recorded);
        assert_eq!(kept.reference_links(), recorded);
        let own_texts =
            strings.texts.iter().filter(|t| t.starts_with(Own::MARK) && !t.starts_with("\u{0}\u{0}")).count();
        assert_eq!(own_texts, 4, "its Href, its entity's, one below it and its Name: {:?}", strings.texts);
        // Taken by a resource that says another Href or Name, they are written out.
        for (href, name) in [(own, "vm1@then"), ("{{origin}}/api/BackupTaskSessions/6a1a", "vm1@today")] {
            let mut ours = Resource { href: href.into(), name: Some(name.into()), ..Resource::default() };
            ours.absorb(resource(own, "vm1@today", &recorded).0);
            assert_eq!(ours.reference_links(), recorded, "taken by {href} {name}");
        }
        let mut same = Resource { href: own.into(), name: Some("vm1@today".into()), ..Resource::default() };
        same.absorb(kept.clone());
        assert_eq!(same.ref_links, kept.ref_links, "taken as they are by one that says the same");
        // Rewritten (a restore's new session), they are rewritten as recorded.
        let rewritten = kept.ref_links.as_ref().unwrap().rewritten(kept.own(), |t| t.replace("6a1a", "77"));
        let fresh = Resource { href: "elsewhere".into(), ..Resource::default() };
        let expected: Vec<Link> = recorded
            .iter()
            .map(|l| Link {
                href: l.href.replace("6a1a", "77"),
                name: l.name.as_ref().map(|n| n.replace("6a1a", "77")),
                ..l.clone()
            })
            .collect();
        assert_eq!(rewritten.to_vec(fresh.own()), expected);
    }

    #[test]
    fn what_is_seen_first_wins_whatever_the_stretch_it_is_learned_in() {
        let cassettes = [conflicting()];
        let whole = Catalog::build_in(&cassettes, 1, true, true);
        let server = &whole.resources["/api/backupservers/a490c017-2c1c-40ee-8bcf-73bcce6ab36f"];
        assert_eq!((server.name.as_deref(), server.uid().as_deref()), (Some("first"), Some("u2")));
        assert_eq!(whole.table()["/api/backupservers/a490c017-2c1c-40ee-8bcf-73bcce6ab36f/jobs"].member, "X");
        for threads in [2, 3, 4] {
            assert_eq!(
                described(&Catalog::build_in(&cassettes, threads, true, true)),
                described(&whole),
                "in {threads}"
            );
        }
    }

    /// VM restore points the listings of the tests list.
    const A: &str = "6c958531-3177-4055-b0ce-dc4ef1ce6433";
    const B: &str = "f5fbed2b-697c-415a-be75-086be4034e1e";
    const C: &str = "92357047-d358-4326-8d6d-28bc619b2876";

    /// A VM restore point as a listing lists it: a reference, or the entity.
    fn listed_point(id: &str, entity: bool) -> String {
        let (kind, href) = if entity { ("VmRestorePoint", "?format=Entity") } else { ("VmRestorePointReference", "") };
        format!(
            "<{0} Type=\"{kind}\" Href=\"{{{{origin}}}}/api/vmRestorePoints/{id}{href}\" Name=\"{id}\"/>",
            if entity { "VmRestorePoint" } else { "Ref" }
        )
    }

    /// An exchange listing VM restore points: `items`, of references or of entities.
    fn point_listing(seq: usize, uri: &str, items: &[String], entity: bool) -> String {
        let root = if entity { "VmRestorePoints" } else { "EntityReferences" };
        format!(
            "- seq: {seq}\n  request:\n    method: GET\n    uri: {uri}\n  response:\n    status: 200\n    headers:\n    \
             - Content-Type: application/xml\n    body: |\n      <{root}>{}</{root}>\n",
            items.concat()
        )
    }

    #[test]
    fn a_collection_has_the_members_its_first_listing_gives_and_later_listings_lend_their_entities() {
        let (vm, list) = (listed_point, point_listing);
        let text = format!(
            "format: emtape/cassette-v1\nexchanges:\n{}{}{}",
            list(1, "/api/vmRestorePoints", &[vm(A, false), vm(B, false)], false),
            list(2, "/api/vmRestorePoints?format=Entity", &[vm(A, true), vm(C, true)], true),
            list(3, "/api/vmRestorePoints", &[vm(B, false)], false),
        );
        let cassettes = [crate::cassette::Cassette::parse("lists.yaml", &text).unwrap()];
        let catalog = Catalog::build_in(&cassettes, 1, true, true);
        let listed = &catalog.table()["/api/vmrestorepoints"];
        assert!(listed.recorded);
        assert_eq!(listed.member, "VmRestorePoint");
        let members: Vec<&str> = listed.members.iter().map(|m| &**m).collect();
        assert_eq!(
            members,
            [format!("/api/vmrestorepoints/{A}"), format!("/api/vmrestorepoints/{B}")],
            "the first listing's"
        );
        let entity = |id: &str| catalog.resources[format!("/api/vmrestorepoints/{id}").as_str()].entity[0].is_some();
        assert!(entity(A) && entity(C), "lent by the later listing of entities");
        assert!(!entity(B), "listed as a reference only");
    }

    #[test]
    fn a_later_packs_listing_of_a_collection_an_earlier_pack_listed_lends_its_entities_and_no_members() {
        let (vm, list) = (listed_point, point_listing);
        let cassette = |listings: String| format!("format: emtape/cassette-v1\nexchanges:\n{listings}");
        let texts = [
            cassette(list(1, "/api/vmRestorePoints", &[vm(A, false), vm(B, false)], false)),
            cassette(format!(
                "{}{}",
                list(1, "/api/vmRestorePoints?format=Entity", &[vm(A, true), vm(C, true)], true),
                list(2, "/api/vmRestorePoints", &[vm(C, false)], false)
            )),
        ];
        let dir = crate::Scratch::new("catalog-relisted");
        let packs: Vec<LoadedCassette> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let out = dir.join(format!("{i}.emtape"));
                let cassette = crate::cassette::Cassette::parse(&format!("{i}.yaml"), text).unwrap();
                crate::cassette::pack::write(&cassette, &out, stored::part_of, None).unwrap();
                crate::cassette::Cassette::load_placed(&out).unwrap()
            })
            .collect();
        assert_stored_is_learned(&packs);
        let catalog = Catalog::build_in(&packs, 2, true, true);
        let members: Vec<&str> = catalog.table()["/api/vmrestorepoints"].members.iter().map(|m| &**m).collect();
        assert_eq!(members, [format!("/api/vmrestorepoints/{A}"), format!("/api/vmrestorepoints/{B}")]);
        let entity = |id: &str| catalog.resources[format!("/api/vmrestorepoints/{id}").as_str()].entity[0].is_some();
        assert!(entity(A) && entity(C) && !entity(B));
    }

    #[test]
    fn an_entity_recorded_of_its_own_is_the_resources_though_a_list_lent_one_first_in_another_stretch_or_pack() {
        let exchange = |seq: usize, uri: &str, body: &str| {
            format!(
                "- seq: {seq}\n  request:\n    method: GET\n    uri: {uri}\n  response:\n    status: 200\n    headers:\n    \
                 - Content-Type: application/xml\n    body: |\n      {body}\n"
            )
        };
        let point = |name: &str| {
            format!(
                "<VmRestorePoint Type=\"VmRestorePoint\" Href=\"{{{{origin}}}}/api/vmRestorePoints/{A}?format=Entity\" Name=\"{name}\"/>"
            )
        };
        let listed = exchange(
            1,
            "/api/vmRestorePoints?format=Entity",
            &format!("<VmRestorePoints>{}</VmRestorePoints>", point("A")),
        );
        let own = exchange(2, &format!("/api/vmRestorePoints/{A}?format=Entity"), &point("A"));
        let cassette = |name: &str, exchanges: &[&str]| {
            let text = format!("format: emtape/cassette-v1\nexchanges:\n{}", exchanges.concat());
            crate::cassette::Cassette::parse(name, &text).unwrap()
        };
        let dir = crate::Scratch::new("catalog-own-entity");
        let packs: Vec<LoadedCassette> = [&listed, &own]
            .iter()
            .enumerate()
            .map(|(i, exchange)| {
                let out = dir.join(format!("{i}.emtape"));
                crate::cassette::pack::write(&cassette("c.yaml", &[exchange]), &out, stored::part_of, None).unwrap();
                crate::cassette::Cassette::load_placed(&out).unwrap()
            })
            .collect();
        let whole = [cassette("both.yaml", &[&listed, &own])];
        for (how, catalog) in [
            ("in one go", Catalog::build_in(&whole, 1, true, true)),
            ("in stretches", Catalog::build_in(&whole, 2, true, true)),
            ("as two packs", Catalog::build_in(&packs, 2, true, true)),
        ] {
            let sample = catalog.resources[format!("/api/vmrestorepoints/{A}").as_str()].entity[0].clone();
            let sample = sample.unwrap_or_else(|| panic!("{how}: no entity"));
            assert!(sample.item.is_none() && sample.origin.ends_with("exchange 2"), "{how}: {sample:?}");
        }
    }

    #[test]
    fn json_bodies_read_as_nodes_teach_what_their_whole_values_teach() {
        for name in crate::cassette::release_names() {
            let cassettes = crate::cassette::release(name).unwrap().unwrap();
            assert!(cassettes.iter().any(|c| c.name.contains("json")), "{name}");
            let nodes = described(&Catalog::build_in(&cassettes, 1, true, true));
            assert_eq!(nodes, described(&Catalog::build_in(&cassettes, 1, false, true)), "{name}");
        }
    }

    #[test]
    fn xml_bodies_learned_as_they_stream_teach_what_they_teach_read_whole_and_broken_ones_nothing() {
        let streamed_and_whole = |body: &str| {
            let mut streamed = Catalog::default();
            streamed.learn_xml(body, || None);
            let mut whole = Catalog::default();
            for seen in em::links::xml_seen(body).unwrap_or_default() {
                match seen {
                    Seen::Link(link) => whole.learn_link(&link),
                    Seen::Resource(r) => {
                        let (name, uid) = (r.name.as_deref(), r.uid.as_deref());
                        whole.learn_resource(&r.href, &r.kind, name, uid, r.links, r.reference, None);
                    }
                }
            }
            (described(&streamed), described(&whole))
        };
        let mut bodies = 0;
        for name in ["9.5", "12", "13"] {
            for cassette in crate::cassette::release(name).unwrap().unwrap() {
                for i in 0..cassette.cassette.exchanges.len() {
                    let Some((body, Repr::Xml)) = cassette.body_as(i, crate::cassette::Side::Response) else {
                        continue;
                    };
                    let (streamed, whole) = streamed_and_whole(body);
                    assert_eq!(streamed, whole, "{} exchange {i}", cassette.name);
                    bodies += 1;
                }
            }
        }
        assert!(bodies > 100, "{bodies}");
        let broken = "<EntityReferences><Ref Type=\"VmReference\" Href=\"{{origin}}/api/vms/1\"/></EntityReference>";
        let (streamed, whole) = streamed_and_whole(broken);
        assert_eq!(streamed, whole);
        assert_eq!(streamed, described(&Catalog::default()), "a broken body teaches nothing");
    }

    #[test]
    fn a_catalog_learned_in_stretches_is_the_one_learned_in_one_go() {
        for name in ["9.5", "12", "13"] {
            let cassettes = crate::cassette::release(name).unwrap().unwrap();
            let whole = described(&Catalog::build_in(&cassettes, 1, true, true));
            assert!(whole.len() > 10_000, "{name}: {}", whole.len());
            for threads in [2, 3, 7, 1000] {
                assert_eq!(
                    described(&Catalog::build_in(&cassettes, threads, true, true)),
                    whole,
                    "{name} in {threads}"
                );
            }
        }
    }

    /// The releases' cassettes, each packed into `dir` with its catalog.
    fn packed(name: &str, dir: &std::path::Path) -> Vec<LoadedCassette> {
        let mut packs = Vec::new();
        for (i, c) in crate::cassette::release(name).unwrap().unwrap().iter().enumerate() {
            let out = dir.join(format!("{i}.emtape"));
            crate::cassette::pack::write(c, &out, stored::part_of, None).unwrap();
            packs.push(crate::cassette::Cassette::load_placed(&out).unwrap());
        }
        packs
    }

    /// Release `name` packed into a folder of the test's own (`tag`): the folder, and how many.
    fn packed_in(tag: &str, name: &str) -> (crate::Scratch, usize) {
        let dir = crate::Scratch::new(&format!("catalog-{tag}"));
        let count = packed(name, &dir).len();
        (dir, count)
    }

    /// What the packs' stored parts give is what their bodies teach.
    #[track_caller]
    fn assert_stored_is_learned(packs: &[LoadedCassette]) {
        let learned = described(&Catalog::build_in(packs, 2, true, false));
        assert_eq!(described(&Catalog::build_in(packs, 2, true, true)), learned);
        assert_eq!(described(&handed_over(packs.to_vec())), learned, "read before the cassettes came");
    }

    /// The `count` packs [`packed`] wrote in `dir`, loaded as they are now.
    fn reloaded(dir: &std::path::Path, count: usize) -> Vec<LoadedCassette> {
        (0..count).map(|i| crate::cassette::Cassette::load_placed(&dir.join(format!("{i}.emtape"))).unwrap()).collect()
    }

    #[test]
    fn a_packs_stored_catalog_is_the_one_its_bodies_teach() {
        let dir = crate::Scratch::new("catalog-stored");
        for name in ["9.5", "12", "13"] {
            let packs = packed(name, &dir);
            assert!(
                packs.iter().all(|p| stored::part_in(p, stored::Sink::Part).is_some()),
                "{name}: a stored part is read"
            );
            let learned = described(&Catalog::build_in(&packs, 2, true, false));
            assert!(learned.contains(".emtape exchange"), "{name}: origins name the pack");
            assert_eq!(described(&Catalog::build_in(&packs, 2, true, true)), learned, "{name}");
            // A cassette before, between and after packs: learned in its place.
            let yaml = crate::cassette::release(name).unwrap().unwrap();
            let mixed = [yaml[0].clone(), packs[1].clone(), yaml[2].clone(), packs[3].clone()];
            let all_learned = described(&Catalog::build_in(&mixed, 3, true, false));
            assert_eq!(described(&Catalog::build_in(&mixed, 3, true, true)), all_learned, "{name} mixed");
        }
    }

    #[test]
    fn resources_are_found_by_path_and_read_in_the_order_first_seen_across_chunks() {
        let mut resources = Resources::default();
        let count = Resources::CHUNK * 2 + 3;
        let path = |n: usize| -> Path { format!("/api/jobs/{n:08}").into() };
        for n in (0..count).rev() {
            let name = Some(format!("job {n}"));
            resources
                .push(path(n), Resource { href: format!("{{{{origin}}}}{}", path(n)), name, ..Resource::default() });
        }
        resources.get_mut(&path(0)).unwrap().plain_entity = true;
        assert_eq!(resources.len(), count);
        assert_eq!(resources.kept_path(&path(7)).map(|p| &**p), Some(&*path(7)));
        assert!(resources.get("/api/jobs/x").is_none());
        let last = resources.place(&path(0)).unwrap();
        assert_eq!(last, count - 1);
        let (kept, resource) = resources.kept_mut(last).unwrap();
        assert_eq!((&**kept, resource.plain_entity), (&*path(0), true));
        // Looked for where it is expected first, and anywhere else after.
        for guess in [count - 1, 0, count + 5] {
            assert_eq!(resources.place_from(&path(0), guess), Some(count - 1), "{guess}");
        }
        assert_eq!(resources.place_from("/api/jobs/x", 0), None);
        let read: Vec<_> = resources.iter().map(|(p, r)| (p.to_string(), r.name.clone().unwrap())).collect();
        let expected: Vec<_> = (0..count).rev().map(|n| (path(n).to_string(), format!("job {n}"))).collect();
        assert_eq!(read, expected);
        let taken: Vec<_> = resources.into_iter().map(|(p, r)| (p.to_string(), r.name.unwrap())).collect();
        assert_eq!(taken, expected);
    }

    #[test]
    fn resources_whose_links_say_the_same_share_one_set_learned_or_stored() {
        let dir = crate::Scratch::new("catalog-sets");
        let packs = packed("13", &dir);
        for stored in [false, true] {
            let (mut sets, mut kept) = (0, 0);
            for pack in &packs {
                let catalog = Catalog::build_in(std::slice::from_ref(pack), 1, true, stored);
                let all: Vec<&Links> =
                    catalog.resources().flat_map(|r| r.ref_links.iter().chain(&r.entity_links)).collect();
                let mut distinct: Vec<&Links> = Vec::new();
                for links in &all {
                    match distinct.iter().find(|d| d.0 == links.0) {
                        Some(d) => {
                            assert_eq!(d.address(), links.address(), "stored {stored}: said the same, kept twice")
                        }
                        None => distinct.push(links),
                    }
                }
                (sets, kept) = (sets + all.len(), kept + distinct.len());
            }
            assert!(kept < sets, "stored {stored}: {sets} sets of links kept as {kept}");
        }
    }

    #[test]
    fn a_catalog_stored_by_another_emtape_is_learned_from_the_bodies() {
        let (dir, count) = packed_in("other", "13");
        let path = dir.join("2.emtape");
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.windows(13).rposition(|w| w == b"catalog part ").unwrap();
        bytes[at] = b'C';
        std::fs::write(&path, bytes).unwrap();
        let packs = reloaded(&dir, count);
        assert!(stored::part_in(&packs[2], stored::Sink::Part).is_none());
        assert!(stored::part_in(&packs[1], stored::Sink::Part).is_some());
        assert_stored_is_learned(&packs);
    }

    #[test]
    fn the_catalog_of_a_pack_whose_yaml_was_edited_is_learned_from_its_bodies() {
        let (dir, count) = packed_in("edited", "13");
        let path = dir.join("0.emtape");
        let bytes = std::fs::read(&path).unwrap();
        // The first answer (the API root) made a 404: it teaches nothing now.
        let at = bytes.windows(11).position(|w| w == b"status: 200").unwrap();
        std::fs::write(&path, [&bytes[..at], b"status: 404", &bytes[at + 11..]].concat()).unwrap();
        let packs = reloaded(&dir, count);
        assert!(stored::part_in(&packs[0], stored::Sink::Part).is_none());
        assert_stored_is_learned(&packs);
    }

    /// Makes frame `which` (of how many the stored part of the pack at `path` has, or with
    /// `loaded` its YAML as read) one byte longer than it is: it and the frames after it misread.
    fn damage_frame(path: &std::path::Path, loaded: bool, which: impl FnOnce(usize) -> usize) {
        let pack = crate::cassette::Cassette::load_placed(path).unwrap();
        let stored = pack.pack.as_ref().unwrap().catalog_len() as usize;
        let mut bytes = std::fs::read(path).unwrap();
        let head = String::from_utf8_lossy(&bytes[..bytes.iter().position(|b| *b == b'\n').unwrap()]).into_owned();
        let as_read: usize = head.rsplit("loaded=").next().unwrap().parse().unwrap();
        let (start, end) = match loaded {
            false => (bytes.len() - as_read - stored, bytes.len() - as_read),
            true => (bytes.len() - as_read, bytes.len()),
        };
        let mut frames = vec![start];
        while let Some(&at) = frames.last().filter(|at| **at < end) {
            frames.push(at + 8 + u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize);
        }
        frames.pop();
        let at = frames[which(frames.len())];
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        bytes[at..at + 8].copy_from_slice(&(len + 1).to_le_bytes());
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_stored_part_with_a_damaged_frame_is_learned_from_the_bodies() {
        let (dir, count) = packed_in("frame", "12");
        damage_frame(&dir.join("1.emtape"), false, |frames| {
            assert!(frames > 4, "the part has more than four frames");
            4
        });
        let packs = reloaded(&dir, count);
        assert!(stored::part_in(&packs[1], stored::Sink::Part).is_none());
        assert!(stored::part_in(&packs[0], stored::Sink::Part).is_some());
        assert_stored_is_learned(&packs);
    }

    #[test]
    fn a_later_part_found_damaged_after_its_resources_were_taken_in_is_learned_from_the_bodies() {
        let (dir, count) = packed_in("last-frame", "13");
        // Its last frame (a listing's): every resource before it was read into the catalog.
        damage_frame(&dir.join("2.emtape"), false, |frames| frames - 1);
        let packs = reloaded(&dir, count);
        let mut catalog = Catalog::default();
        assert!(stored::part_in(&packs[2], stored::Sink::Into(&mut catalog, &ListedPaths::default())).is_none());
        assert!(!catalog.resources.is_empty(), "resources were taken in before the damage was found");
        assert_stored_is_learned(&packs);
    }

    #[test]
    fn packs_that_let_their_exchanges_go_and_prove_unreadable_are_learned_from_them_read_again() {
        let (dir, count) = packed_in("let-go", "13");
        let mut whole = reloaded(&dir, count).swap_remove(1);
        stored::let_go(&mut whole);
        assert!(whole.cassette.exchanges.is_empty(), "an intact pack lets its exchanges go");
        // The first part (read on a thread of its own) and a later one (sent a frame at a time).
        for damaged in ["0.emtape", "2.emtape"] {
            damage_frame(&dir.join(damaged), false, |frames| frames - 1);
        }
        // The first also loads from its YAML (its YAML as read is damaged past its head), and so
        // reads its exchanges again.
        damage_frame(&dir.join("0.emtape"), true, |frames| {
            assert!(frames > 2, "exchanges after the head");
            2
        });
        assert!(reloaded(&dir, count)[0].pack.as_ref().unwrap().as_packed(), "its part is still read");
        let learned = described(&Catalog::build_in(&reloaded(&dir, count), 2, true, false));
        assert_eq!(described(&Catalog::build(reloaded(&dir, count))), learned);
        assert_eq!(described(&handed_over(reloaded(&dir, count))), learned, "its first part read ahead");
    }

    /// [`Catalog::build_when`] of `cassettes`, the parts of the packs they begin with read
    /// before they are handed over.
    fn handed_over(cassettes: Vec<LoadedCassette>) -> Arc<Catalog> {
        let (hand_over, later) = std::sync::mpsc::channel();
        let (built, catalog) = std::sync::mpsc::channel();
        let packs = cassettes.iter().map_while(|c| c.pack.clone()).collect();
        std::thread::spawn(move || Catalog::build_when(packs, later, |c| built.send(c).unwrap()));
        let mut cassettes = cassettes;
        cassettes.iter_mut().for_each(stored::let_go);
        hand_over.send(cassettes).unwrap();
        catalog.recv().unwrap()
    }

    #[test]
    fn a_sub_collection_no_recording_names_is_spelled_as_those_of_its_shape_are() {
        let catalog = Catalog::build(crate::cassette::release("13").unwrap().unwrap());
        // A sub-collection recorded or linked under one resource, asked under a sibling that has none.
        let mut asked = 0;
        for (path, c) in catalog.table() {
            let (owner, last) = (parent(path), path.rsplit('/').next().unwrap_or_default());
            let written = c.href.rsplit('/').next().unwrap_or_default();
            let Some(owner) = catalog.resources.get(owner) else { continue };
            let siblings =
                catalog.resources.iter().filter(|(p, r)| r.kind == owner.kind && parent(p) == parent(parent(path)));
            for (sibling, _) in siblings.filter(|(p, _)| catalog.table().get(&format!("{p}/{last}")).is_none()).take(1)
            {
                let made = catalog.collection(&format!("{sibling}/{last}")).expect("a collection of a known shape");
                assert!(made.href.ends_with(&format!("/{written}")), "{} for {path} ({})", made.href, c.href);
                assert!(!made.recorded && made.members.is_empty());
                asked += 1;
            }
        }
        assert!(asked > 0, "the release has such sub-collections");
        assert!(catalog.collection("/api/nosuchthings/1/mounts").is_none());
    }

    #[test]
    fn a_catalog_whose_first_part_is_read_before_the_cassettes_come_is_the_one_built_at_once() {
        let (dir, count) = packed_in("ahead", "12");
        let at_once = described(&Catalog::build(reloaded(&dir, count)));
        assert_eq!(described(&handed_over(reloaded(&dir, count))), at_once);
        // Cassettes that begin with a YAML one: nothing is read ahead.
        let mut mixed = reloaded(&dir, count);
        mixed[0] = crate::cassette::release("12").unwrap().unwrap().swap_remove(0);
        assert_eq!(described(&handed_over(mixed.clone())), described(&Catalog::build(mixed)));
        // Nothing handed over (the index failed): a catalog of nothing, not a hang.
        let (hand_over, later) = std::sync::mpsc::channel::<Vec<LoadedCassette>>();
        drop(hand_over);
        let (built, catalog) = std::sync::mpsc::channel();
        Catalog::build_when(Vec::new(), later, |c| built.send(c).unwrap());
        assert!(catalog.recv().unwrap().resources.is_empty());
    }
}
