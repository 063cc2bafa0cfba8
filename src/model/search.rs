//! The query service, `GET /api/query?type=T[&format=Entities|References][&filter=…]
//! [&sortAsc|sortDesc=F][&pageSize=N&page=M]`, answered from every resource the model knows.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use super::catalog::{Resource, Uid};
use super::derive::Substitution;
use super::query;
use super::write::{self, Paging};
use super::{Answer, Created, Fields, Link, Model, QUERY_TYPES, query_value};
use crate::em::Repr;

/// What a page holds when the client names no page size.
const DEFAULT_PAGE_SIZE: usize = 100;

/// Characters a paging link leaves as they are in its `filter`, as EM's own links do.
fn encode_filter(filter: &str) -> String {
    let mut out = String::new();
    for b in filter.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b';' | b',' | b'(' | b')' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A sort key computed once per item, in a total order (a comparison that switched between
/// number, date and text pair by pair would not be one): numbers, then date-times, then text,
/// then items without the field.
#[derive(Debug)]
enum SortKey {
    Number(f64),
    Text(String),
    Missing,
}

impl SortKey {
    fn rank(&self) -> u8 {
        match self {
            SortKey::Number(_) => 0,
            SortKey::Text(_) => 1,
            SortKey::Missing => 2,
        }
    }

    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl SortKey {
    fn of(value: Option<&str>) -> SortKey {
        let Some(v) = value else { return SortKey::Missing };
        match v.trim().parse::<f64>() {
            Ok(n) if !n.is_nan() => SortKey::Number(n),
            _ => SortKey::Text(query::sort_text(v)),
        }
    }
}

/// A recorded entity's query fields: the root's attributes and simple child elements (XML), or
/// the top-level values (JSON).
fn parse_fields(text: &str) -> Vec<(String, String)> {
    if let Some(fields) = xml_fields(text) {
        return fields;
    }
    let mut fields = Vec::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text) {
        for (k, v) in map {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            fields.push((k.to_ascii_lowercase(), text));
        }
    }
    fields
}

/// The XML side of [`parse_fields`], read as a stream: the query tables of a large EM hold
/// every entity's fields, and a tree per entity made the first query of a type wait.
/// `None` when the text is not XML.
fn xml_fields(text: &str) -> Option<Vec<(String, String)>> {
    use quick_xml::events::Event;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if !trimmed.starts_with('<') {
        return None;
    }
    let mut reader = quick_xml::Reader::from_str(trimmed);
    let local = |name: &[u8]| {
        let name = name.rsplit(|b| *b == b':').next().unwrap_or(name);
        String::from_utf8_lossy(name).to_ascii_lowercase()
    };
    let mut fields = Vec::new();
    let mut depth = 0usize;
    // The child being read: its name, its text, and whether it has elements of its own.
    let mut child: Option<(String, String, bool)> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                match depth {
                    1 => fields.extend(root_attributes(&e)),
                    2 => child = Some((local(e.name().as_ref()), String::new(), false)),
                    _ => {
                        if let Some(c) = child.as_mut() {
                            c.2 = true;
                        }
                    }
                }
            }
            Ok(Event::Empty(e)) => match depth {
                0 => {
                    fields.extend(root_attributes(&e));
                    return Some(fields);
                }
                1 => fields.push((local(e.name().as_ref()), String::new())),
                _ => {
                    if let Some(c) = child.as_mut() {
                        c.2 = true;
                    }
                }
            },
            Ok(Event::Text(t)) if depth >= 2 => {
                if let Some(c) = child.as_mut() {
                    c.1.push_str(&t.unescape().ok()?);
                }
            }
            Ok(Event::CData(t)) if depth >= 2 => {
                if let Some(c) = child.as_mut() {
                    c.1.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Ok(Event::End(_)) => {
                if depth == 2 {
                    if let Some((name, value, complex)) = child.take() {
                        if !complex {
                            fields.push((name, value.trim().to_owned()));
                        }
                    }
                }
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(fields);
                }
            }
            Ok(Event::Eof) => return (depth == 0 && !fields.is_empty()).then_some(fields),
            Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// A root element's own attributes (no namespace declarations, no prefixed ones).
fn root_attributes(e: &quick_xml::events::BytesStart<'_>) -> Vec<(String, String)> {
    e.attributes()
        .flatten()
        .filter(|a| a.key.as_namespace_binding().is_none() && a.key.prefix().is_none())
        .filter_map(|a| {
            let value = a.unescape_value().ok()?.into_owned();
            Some((String::from_utf8_lossy(a.key.local_name().as_ref()).to_ascii_lowercase(), value))
        })
        .collect()
}

/// A query result before paging: path, the resource when a session created it (catalog ones
/// are looked up for the page shown), its row of fields (none when the query neither filters
/// nor sorts).
type Item<'a> = (&'a str, Option<&'a Resource>, Row<'a>);

/// The resource of a type with a recorded entity, and that entity's fields.
type Sibling<'a> = Option<(&'a Resource, Vec<(String, String)>)>;

impl Model {
    /// The query fields of a resource: its recorded entity's, or its sibling's with the
    /// identity substituted as derivation does; then its identity, and `<X>Name`/`<X>Id`/
    /// `<X>Uid` of each `X` its reference links `Up` to.
    fn fields_of(&self, r: &Resource, sibling: &Sibling<'_>) -> Vec<(String, String)> {
        let own = r.entity.iter().flatten().next();
        let mut fields = match (own, sibling) {
            (Some(sample), _) => parse_fields(&sample.text()),
            (None, Some((s, theirs))) => {
                let mut sub = Substitution::default();
                sub.identity(s, r);
                theirs.iter().map(|(k, v)| (k.clone(), sub.apply(v))).collect()
            }
            (None, None) => Vec::new(),
        };
        let mut identity = vec![("id".to_owned(), r.id().to_owned())];
        identity.extend(r.name.iter().map(|n| ("name".to_owned(), n.clone())));
        identity.extend(r.uid().map(|u| ("uid".to_owned(), u.into_owned())));
        for link in r.reference_links().iter().filter(|l| l.rel == "Up") {
            let Some(kind) = link.kind.as_deref().and_then(|k| k.strip_suffix("Reference")) else { continue };
            let id = link.href.rsplit('/').next().unwrap_or_default().to_owned();
            let lower = kind.to_ascii_lowercase();
            identity.extend(link.name.iter().map(|n| (format!("{lower}name"), n.clone())));
            identity.push((format!("{lower}uid"), Uid::typed(kind, &id)));
            identity.push((format!("{lower}id"), id));
        }
        for (k, v) in identity {
            if !fields.iter().any(|(f, _)| *f == k) {
                fields.push((k, v));
            }
        }
        fields
    }

    fn sibling(&self, kind: &str) -> Sibling<'_> {
        let catalog = self.catalog();
        let (_, r) = catalog.sample(kind, None)?;
        Some((r, parse_fields(&r.entity.iter().flatten().next()?.text())))
    }

    /// The query fields of every resource of a type, in catalog order; computed once.
    fn kind_fields(&self, kind: &str) -> Fields {
        if let Some(hit) = self.fields.read().ok().and_then(|f| f.get(kind).cloned()) {
            return hit;
        }
        let catalog = self.catalog();
        let sibling = self.sibling(kind);
        // On every core: a large estate's entities are read from its packs one by one.
        let all = Table::of(catalog.of_kind(kind), |p| catalog.resource(p).map(|r| self.fields_of(r, &sibling)));
        let all = Arc::new(all);
        if let Ok(mut f) = self.fields.write() {
            f.insert(kind.to_owned(), all.clone());
        }
        all
    }

    pub(super) fn query(&self, q: &[(String, String)], repr: Repr, created: &[Created]) -> Answer {
        let bad = |message: String| Answer::error(repr, 400, message);
        let Some(asked) = query_value(q, "type") else {
            return bad("The query needs a type: /api/query?type=VmRestorePoint".into());
        };
        let catalog = self.catalog();
        let known = catalog.kinds().chain(QUERY_TYPES);
        let Some(kind) = known.into_iter().find(|k| k.eq_ignore_ascii_case(asked)).map(str::to_owned) else {
            return bad(format!("Unknown query type {asked}."));
        };
        let entities = match query_value(q, "format") {
            None | Some("references" | "reference" | "refs") => false,
            Some("entities" | "entity") => true,
            Some(other) => return bad(format!("Unknown format {other}: use Entities or References.")),
        };
        let filter = match query_value(q, "filter").filter(|f| !f.trim().is_empty()) {
            Some(text) => match query::parse(text) {
                Ok(f) => Some(f),
                Err(e) => return bad(format!("Failed to parse the filter: {e}")),
            },
            None => None,
        };
        let number = |key: &str, shown: &str| -> Result<Option<usize>, Answer> {
            match query_value(q, key) {
                None => Ok(None),
                Some(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Some)
                    .ok_or_else(|| bad(format!("{shown} must be a positive whole number, not {v}."))),
            }
        };
        let (page_size, page) = match (number("pagesize", "pageSize"), number("page", "page")) {
            (Ok(s), Ok(p)) => (s, p.unwrap_or(1)),
            (Err(e), _) | (_, Err(e)) => return e,
        };

        let paths = catalog.of_kind(&kind);
        let sort = query_value(q, "sortasc").map(|f| (f, false)).or(query_value(q, "sortdesc").map(|f| (f, true)));
        let mine: Vec<&Created> =
            created.iter().filter(|c| *c.resource.kind == *kind && catalog.resource(&c.path).is_none()).collect();
        // The page's rows (of `size`, `skip` passed), of `total` matched.
        let size_of = |total: usize| page_size.unwrap_or(total.max(DEFAULT_PAGE_SIZE));
        let skip_of = |total: usize| (page - 1).saturating_mul(size_of(total));
        // Neither filtered nor sorted: the type's resources in the catalog's order, with no
        // fields read (a type's table of fields takes seconds on a large estate).
        let plain = filter.is_none() && sort.is_none();
        let table = if plain { Arc::new(Table::default()) } else { self.kind_fields(&kind) };
        let extra: Vec<Vec<Option<String>>> = if plain {
            Vec::new()
        } else {
            let sibling = self.sibling(&kind);
            mine.iter().map(|c| table.row(self.fields_of(&c.resource, &sibling))).collect()
        };
        // The rows a filter and sort give are kept for the next page of the same query; a type
        // with resources made since (a restore's session) is matched anew each time.
        let key = (
            kind.clone(),
            query_value(q, "filter").unwrap_or_default().to_owned(),
            sort.map(|(f, d)| (f.to_owned(), d)),
        );
        let kept = if mine.is_empty() && !plain { self.matched.get(&key) } else { None };
        let (rows, total): (Vec<Item<'_>>, usize) = match kept {
            _ if plain => {
                let all =
                    paths.iter().map(|p| (&**p, None)).chain(mine.iter().map(|c| (c.path.as_str(), Some(&c.resource))));
                let total = paths.len() + mine.len();
                (all.skip(skip_of(total)).take(size_of(total)).map(|(p, r)| (p, r, Row::Made(&[]))).collect(), total)
            }
            Some(rows) => {
                let shown = rows.iter().skip(skip_of(rows.len())).take(size_of(rows.len()));
                let shown = shown.map(|&i| (&*paths[i as usize], None, Row::At(i)));
                (shown.collect(), rows.len())
            }
            None => {
                // Catalog resources are looked up only for the page shown, not for every row.
                let mut items: Vec<(Option<u32>, Item<'_>)> = (0..table.len().min(paths.len()))
                    .filter_map(|i| {
                        let i = u32::try_from(i).ok()?;
                        Some((Some(i), (&*paths[i as usize], None, Row::At(i))))
                    })
                    .collect();
                items.extend(
                    mine.iter().zip(&extra).map(|(c, f)| (None, (c.path.as_str(), Some(&c.resource), Row::Made(f)))),
                );
                if let Some(filter) = &filter {
                    let mut columns = Vec::new();
                    for field in filter.fields() {
                        match table.column(field) {
                            Some(c) => columns.push((field, c)),
                            None if table.len() == 0 => {}
                            None => return bad(format!("Unknown field {field} for type {kind}.")),
                        }
                    }
                    items.retain(|(_, (_, _, row))| {
                        filter.matches(&|name| {
                            columns.iter().find(|(f, _)| *f == name).and_then(|(_, c)| table.get(*c, *row))
                        })
                    });
                }
                if let Some((field, descending)) = sort {
                    let column = table.column(field);
                    let mut keyed: Vec<(SortKey, _)> = items
                        .into_iter()
                        .map(|item| (SortKey::of(column.and_then(|c| table.get(c, item.1.2))), item))
                        .collect();
                    keyed.sort_by(|(a, _), (b, _)| match (a, b) {
                        (SortKey::Missing, _) | (_, SortKey::Missing) => a.cmp(b),
                        _ if descending => b.cmp(a),
                        _ => a.cmp(b),
                    });
                    items = keyed.into_iter().map(|(_, item)| item).collect();
                }
                if mine.is_empty() {
                    self.matched.keep(key, items.iter().filter_map(|(i, _)| *i).collect());
                }
                let total = items.len();
                (items.into_iter().skip(skip_of(total)).take(size_of(total)).map(|(_, item)| item).collect(), total)
            }
        };

        let size = size_of(total);
        let pages = total.div_ceil(size).max(1);
        let shown: Vec<String> = rows
            .iter()
            .filter_map(|(path, r, _)| Some((*path, r.or_else(|| catalog.resource(path))?)))
            .map(|(path, r)| {
                if entities {
                    write::as_item(&self.entity(path, r, repr).0, repr)
                } else {
                    write::reference(r, repr, false)
                }
            })
            .collect();
        let href = |n: usize| {
            let mut h = format!("{{{{origin}}}}/api/query?type={kind}");
            if entities {
                h.push_str("&format=Entities");
            }
            if let Some(f) = query_value(q, "filter") {
                h.push_str(&format!("&filter={}", encode_filter(f)));
            }
            if let Some((field, descending)) = sort {
                h.push_str(&format!("&{}={field}", if descending { "sortDesc" } else { "sortAsc" }));
            }
            h.push_str(&format!("&pageSize={size}&page={n}"));
            h
        };
        let link = |rel: &str, n: usize| Link { rel: rel.into(), kind: None, href: href(n), name: None };
        let mut links = vec![link("First", 1)];
        if page > 1 && page <= pages {
            links.push(link("Previous", page - 1));
        }
        if page < pages {
            links.push(link("Next", page + 1));
        }
        links.push(link("Last", pages));
        let paging = Paging { page, page_size: size, pages, links };
        let body = write::query_result(&shown, &kind, entities, &paging, repr);
        Answer::ok(
            repr,
            body,
            format!("the query service: {total} {kind} matched, page {page} of {pages}"),
            super::Basis::Assembled,
        )
    }
}

/// A query as its matches are kept: type, filter, and sort (field, descending).
type QueryKey = (String, String, Option<(String, bool)>);

/// What a query matched: the catalog rows it gave, in order.
type MatchedRows = (QueryKey, Arc<Vec<u32>>);

/// The rows the latest queries matched, so that the next page of a query is read from them
/// rather than filtering and sorting every resource of its type again (a client paging through
/// 500,000 task sessions asks the same query for each page). A few are kept, the latest first.
#[derive(Default)]
pub(crate) struct Matched(std::sync::Mutex<std::collections::VecDeque<MatchedRows>>);

/// Queries whose matches are kept.
const MATCHED_KEPT: usize = 16;

impl Matched {
    fn get(&self, key: &QueryKey) -> Option<Arc<Vec<u32>>> {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter().find(|(k, _)| k == key).map(|(_, rows)| rows.clone())
    }

    fn keep(&self, key: QueryKey, rows: Vec<u32>) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|(k, _)| *k != key);
        kept.push_front((key, Arc::new(rows)));
        kept.truncate(MATCHED_KEPT);
    }
}

/// The query fields of every resource of a type as a table: one column per field name (lower
/// case), so that a filter finds its column once, not once per resource. A column holds each of
/// its values once, its rows by number: half a million task sessions share a few states, job
/// sessions and servers, and their fields were most of a large estate's memory as strings.
#[derive(Default)]
pub(crate) struct Table {
    columns: Vec<String>,
    /// Each column's cells, by row: the number of its value, or [`NONE`].
    cells: Vec<Vec<u32>>,
    values: Vec<Values>,
    rows: usize,
}

/// A row without a value in a column.
const NONE: u32 = u32::MAX;

/// A column's values, one after the other in one text.
#[derive(Default)]
struct Values {
    text: String,
    ends: Vec<usize>,
    /// While the table is made: each value's number, by its hash (a value whose hash another
    /// has is kept again: the table is the same, only larger).
    seen: HashMap<u64, u32, foldhash::fast::FixedState>,
}

impl Values {
    fn get(&self, n: u32) -> Option<&str> {
        let end = *self.ends.get(n as usize)?;
        let start = n.checked_sub(1).map_or(0, |before| self.ends[before as usize]);
        self.text.get(start..end)
    }

    /// `value`'s number: the one it has, or a new one.
    fn number(&mut self, value: &str) -> u32 {
        let hash = std::hash::BuildHasher::hash_one(&foldhash::fast::FixedState::default(), value);
        if let Some(&n) = self.seen.get(&hash)
            && self.get(n) == Some(value)
        {
            return n;
        }
        let n = self.ends.len() as u32;
        self.text.push_str(value);
        self.ends.push(self.text.len());
        self.seen.entry(hash).or_insert(n);
        n
    }
}

/// A row of a query's results: of the type's table, or made for a resource a session created.
#[derive(Clone, Copy)]
pub(crate) enum Row<'a> {
    At(u32),
    Made(&'a [Option<String>]),
}

/// Where a field's value is: a column, or the part before `@` of one (a restore point's
/// `VmDisplayName` from its Name).
#[derive(Clone, Copy)]
enum Column {
    Plain(usize),
    BeforeAt(usize),
}

impl Table {
    /// The table of `resources`' fields (`None`: a row without any), made a run of resources at
    /// a time, a table of its own per core then joined: a large estate's entities are read from
    /// its packs one by one, and a run's fields as strings are let go once a table holds them.
    fn of<T: Sync>(resources: &[T], fields: impl Fn(&T) -> Option<Vec<(String, String)>> + Sync) -> Table {
        let mut table = Table::default();
        let runs: Vec<&[T]> = resources.chunks(ROWS_AT_ONCE).collect();
        for runs in runs.chunks(crate::parallel::cores()) {
            let parts = crate::parallel::map(runs, |run| {
                let mut part = Table::default();
                run.iter().for_each(|r| part.push(fields(r).unwrap_or_default()));
                part
            });
            parts.into_iter().for_each(|part| table.append(part));
        }
        table.values.iter_mut().for_each(|v| v.seen = HashMap::default());
        table
    }

    /// The column named `name`, made (empty in every row so far) if there is none.
    fn column_at(&mut self, name: String) -> usize {
        if let Some(at) = self.columns.iter().position(|c| *c == name) {
            return at;
        }
        self.columns.push(name);
        self.cells.push(vec![NONE; self.rows]);
        self.values.push(Values::default());
        self.columns.len() - 1
    }

    fn push(&mut self, fields: Vec<(String, String)>) {
        for (name, value) in fields {
            let at = self.column_at(name);
            let n = self.values[at].number(&value);
            // A field named twice keeps its last value.
            let cells = &mut self.cells[at];
            cells.truncate(self.rows);
            cells.push(n);
        }
        self.rows += 1;
        self.cells.iter_mut().for_each(|c| c.resize(self.rows, NONE));
    }

    /// `part`'s rows after these.
    fn append(&mut self, part: Table) {
        let Table { columns, cells, values, rows } = part;
        for ((name, cells), values) in columns.into_iter().zip(cells).zip(values) {
            let at = self.column_at(name);
            let ours = &mut self.values[at];
            let numbers: Vec<u32> =
                (0..values.ends.len() as u32).map(|n| ours.number(values.get(n).unwrap_or(""))).collect();
            let column = &mut self.cells[at];
            column.extend(cells.into_iter().map(|n| numbers.get(n as usize).copied().unwrap_or(NONE)));
        }
        self.rows += rows;
        self.cells.iter_mut().for_each(|c| c.resize(self.rows, NONE));
    }

    fn len(&self) -> usize {
        self.rows
    }

    /// `fields` laid out as a row of this table; fields it has no column for are left out.
    fn row(&self, fields: Vec<(String, String)>) -> Vec<Option<String>> {
        let mut row = vec![None; self.columns.len()];
        for (name, value) in fields {
            if let Some(i) = self.columns.iter().position(|c| *c == name) {
                row[i] = Some(value);
            }
        }
        row
    }

    fn cell<'r>(&'r self, row: Row<'r>, at: usize) -> Option<&'r str> {
        match row {
            Row::At(r) => self.values.get(at)?.get(*self.cells.get(at)?.get(r as usize)?),
            Row::Made(row) => row.get(at)?.as_deref(),
        }
    }

    /// The value of `column` in `row`.
    fn get<'r>(&'r self, column: Column, row: Row<'r>) -> Option<&'r str> {
        match column {
            Column::Plain(i) => self.cell(row, i),
            Column::BeforeAt(i) => self.cell(row, i)?.split_once('@').map(|(vm, _)| vm),
        }
    }

    /// A field by name (any case), with EM's aliases: `CreationTime` is `CreationTimeUTC`, and
    /// a restore point's `VmDisplayName` is its `VmName` or the part of its Name before `@`.
    fn column(&self, name: &str) -> Option<Column> {
        let find = |n: &str| self.columns.iter().position(|c| c.eq_ignore_ascii_case(n)).map(Column::Plain);
        find(name).or_else(|| find(&format!("{name}utc"))).or_else(|| {
            name.eq_ignore_ascii_case("vmdisplayname")
                .then(|| find("vmname").or_else(|| self.columns.iter().position(|c| c == "name").map(Column::BeforeAt)))
                .flatten()
        })
    }
}

/// How many resources' fields are read at once into a type's table.
const ROWS_AT_ONCE: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields as a tree reads them: what the streaming reader must agree with.
    fn tree_fields(text: &str) -> Vec<(String, String)> {
        let root = crate::xml::parse(text).unwrap();
        let mut fields: Vec<(String, String)> = root
            .attributes
            .iter()
            .filter(|a| a.namespace.is_none())
            .map(|a| (a.name.to_ascii_lowercase(), a.value.clone()))
            .collect();
        let simple = root.elements().filter(|e| e.elements().next().is_none());
        fields.extend(simple.map(|e| (e.name.to_ascii_lowercase(), e.text())));
        fields
    }

    #[test]
    fn a_table_made_in_runs_gives_each_row_its_own_fields_whatever_run_it_was_read_in() {
        // More rows than a run, so that parts are joined; a column first named late, a row
        // with no fields, a field named twice, and values that rows share.
        let n = ROWS_AT_ONCE * 3 + 7;
        let fields = |i: &usize| {
            let i = *i;
            if i == 5 {
                return None;
            }
            let mut f =
                vec![("id".to_owned(), i.to_string()), ("state".to_owned(), ["Success", "Failed"][i % 2].to_owned())];
            if i >= ROWS_AT_ONCE * 2 {
                f.push(("late".to_owned(), format!("l{i}")));
            }
            if i == 9 {
                f.push(("state".to_owned(), "Working".to_owned()));
            }
            Some(f)
        };
        let rows: Vec<usize> = (0..n).collect();
        let table = Table::of(&rows, fields);
        assert_eq!(table.len(), n);
        let [id, state, late] = ["id", "State", "LATE"].map(|c| table.column(c).unwrap());
        for i in rows {
            let row = Row::At(i as u32);
            let want = fields(&i).unwrap_or_default();
            let of = |name: &str| want.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
            assert_eq!(
                [table.get(id, row), table.get(state, row), table.get(late, row)],
                [of("id"), of("state"), of("late")],
                "row {i}"
            );
        }
        assert_eq!(table.values[1].ends.len(), 3, "Success, Failed and Working are each kept once");
    }

    #[test]
    fn an_entitys_fields_read_as_a_stream_are_those_of_its_tree() {
        let text = r#"<?xml version="1.0" encoding="utf-8"?>
<VmRestorePoint Href="{{origin}}/api/vmRestorePoints/6c95" Type="VmRestorePoint" Name="ubuntu88@2025-11-02 13:42:25" UID="urn:veeam:VmRestorePoint:6c95" xmlns="http://www.veeam.com/ent/v1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="false">
  <Links>
    <Link Href="{{origin}}/api/backupServers/1" Type="BackupServerReference" Rel="Up" />
  </Links>
  <CreationTimeUTC>2025-11-02T13:42:25Z</CreationTimeUTC>
  <VmName> ubuntu88 &amp; co </VmName>
  <Empty/>
  <PointType><![CDATA[Full]]></PointType>
  <HierarchyObjRef>urn:VMware:Vm:7a2b.vm-1</HierarchyObjRef>
</VmRestorePoint>"#;
        assert_eq!(parse_fields(text), tree_fields(text));
        assert_eq!(parse_fields(text)[4], ("creationtimeutc".to_owned(), "2025-11-02T13:42:25Z".to_owned()));
        assert_eq!(
            parse_fields(r#"{"Name": "x", "Size": 3, "Links": []}"#),
            [("name".into(), "x".into()), ("size".into(), "3".into())]
        );
        assert_eq!(parse_fields("<broken><a>"), Vec::<(String, String)>::new());
    }
}
