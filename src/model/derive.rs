//! Deriving a resource nobody recorded from a sibling somebody did: the sibling's body with
//! the sibling's identity (id, UID, Name and its parts, the links its reference carries)
//! replaced by the target's, in one pass so that one replacement never feeds another.

use super::catalog::{Link, Resource};
use crate::em::Repr;
use crate::xml;

/// Text replacements applied together, longest first.
#[derive(Clone, Debug, Default)]
pub(crate) struct Substitution {
    /// Longest `from` first; among equally long ones, in the order pushed.
    pairs: Vec<(String, String)>,
    /// The first bytes of the `from`s, as a bitset: most of a body is skipped on one test.
    starts: [u64; 4],
    /// Fields whose value is set, whatever the sibling's was (`Algorithm`, `PointType`).
    fields: Vec<(&'static str, &'static str)>,
}

impl Substitution {
    pub fn push(&mut self, from: &str, to: &str) {
        if from.is_empty() || from == to || self.pairs.iter().any(|(f, _)| f == from) {
            return;
        }
        let at = self.pairs.partition_point(|(f, _)| f.len() >= from.len());
        self.pairs.insert(at, (from.to_owned(), to.to_owned()));
        let b = from.as_bytes()[0];
        self.starts[usize::from(b / 64)] |= 1 << (b % 64);
    }

    /// Applies the replacements to a body in `repr`, where values are escaped as that
    /// representation escapes them (`R&D` is `R&amp;D` in XML, `a"b` is `a\"b` in JSON).
    pub fn apply_to(&self, text: &str, repr: Repr) -> String {
        let escape = |v: &str| match repr {
            Repr::Xml => xml::escape(v).into_owned(),
            Repr::Json => {
                let quoted = serde_json::Value::String(v.to_owned()).to_string();
                quoted[1..quoted.len() - 1].to_owned()
            }
        };
        let mut escaped = Substitution::default();
        for (f, t) in &self.pairs {
            escaped.push(&escape(f), &escape(t));
        }
        let mut out = escaped.apply(text);
        for (name, value) in &self.fields {
            if let Some(at) = field_value(&out, name) {
                out.replace_range(at, value);
            }
        }
        out
    }

    /// Replaces a `Name` of the form `vm@yyyy-mm-dd hh:mm:ss` part by part too, so that the VM
    /// name in `VmDisplayName` and the time in `CreationTimeUTC` follow.
    pub fn push_name(&mut self, from: &str, to: &str) {
        self.push(from, to);
        if let (Some((from_vm, from_time)), Some((to_vm, to_time))) = (from.split_once('@'), to.split_once('@')) {
            self.push(from_vm, to_vm);
            self.push(from_time, to_time);
            self.push(&from_time.replacen(' ', "T", 1), &to_time.replacen(' ', "T", 1));
        }
    }

    /// Pairs `from`'s identity with `to`'s: id, UID, Name, and the links their references carry,
    /// matched by (Rel, Type) in order.
    pub fn identity(&mut self, from: &Resource, to: &Resource) {
        self.push(from.id(), to.id());
        if let (Some(f), Some(t)) = (from.uid(), to.uid()) {
            self.push(&f, &t);
        }
        if let (Some(f), Some(t)) = (&from.name, &to.name) {
            self.push_name(f, t);
            self.hierarchy_ref(from, f, t);
        }
        let (ours, theirs) = (from.reference_links(), to.reference_links());
        if let (Some(f), Some(t)) = (BackupFile::of(&ours), BackupFile::of(&theirs)) {
            if f != t {
                self.fields = vec![("Algorithm", t.algorithm()), ("PointType", t.point_type())];
            }
        }
        let mut used = vec![false; theirs.len()];
        for link in ours {
            let Some(i) =
                theirs.iter().enumerate().position(|(i, l)| !used[i] && l.rel == link.rel && l.kind == link.kind)
            else {
                continue;
            };
            used[i] = true;
            self.link(&link, &theirs[i]);
        }
    }

    /// A restore point of another VM gets a `HierarchyObjRef` of its own (`…:vm-38211`, made
    /// from the VM's name, the same for every point of it): the listing does not carry it, and
    /// two VMs sharing the sibling's would be one VM to a client that keys on it.
    fn hierarchy_ref(&mut self, from: &Resource, from_name: &str, to_name: &str) {
        let vm = |name: &str| name.split_once('@').map(|(vm, _)| vm.to_owned());
        let (Some(from_vm), Some(to_vm)) = (vm(from_name), vm(to_name)) else { return };
        if from_vm == to_vm {
            return;
        }
        let hierarchy_ref = |text: &str| {
            field_value(text, "HierarchyObjRef").map(|at| text[at].trim().to_owned()).filter(|v| !v.is_empty())
        };
        let Some(recorded) = from.entity.iter().flatten().find_map(|s| hierarchy_ref(&s.text())) else { return };
        let Some((prefix, tail)) = recorded.rsplit_once('-').filter(|(_, t)| t.chars().all(|c| c.is_ascii_digit()))
        else {
            return;
        };
        // FNV-1a: stable across runs and platforms, unlike the std hasher.
        let hash =
            to_vm.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let width = tail.len().max(5);
        let number = 10u64.pow(width as u32 - 1) + hash % (9 * 10u64.pow(width as u32 - 1));
        self.push(&recorded, &format!("{prefix}-{number}"));
    }

    fn link(&mut self, from: &Link, to: &Link) {
        let id = |l: &Link| {
            let path = l.href.split_once('?').map_or(l.href.as_str(), |(p, _)| p);
            path.rsplit('/').next().unwrap_or_default().to_owned()
        };
        self.push(&id(from), &id(to));
        if let (Some(f), Some(t)) = (&from.name, &to.name) {
            self.push(f, t);
        }
    }

    /// Applies every replacement at once: at each place the longest `from` that matches wins,
    /// and a `from` that starts or ends with a word character only matches whole words.
    pub fn apply(&self, text: &str) -> String {
        if self.pairs.is_empty() {
            return text.to_owned();
        }
        let starts = |b: u8| self.starts[usize::from(b / 64)] & (1 << (b % 64)) != 0;
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut i = 0;
        let bytes = text.as_bytes();
        while i < bytes.len() {
            if !starts(bytes[i]) || !text.is_char_boundary(i) {
                i += 1;
                continue;
            }
            let rest = &text[i..];
            let before = text[..i].chars().next_back();
            let found = self.pairs.iter().find(|(from, _)| {
                rest.starts_with(from.as_str())
                    && !(word(from.chars().next()) && word(before))
                    && !(word(from.chars().next_back()) && word(rest[from.len()..].chars().next()))
            });
            match found {
                Some((from, to)) => {
                    out.push_str(&text[copied..i]);
                    out.push_str(to);
                    i += from.len();
                    copied = i;
                }
                None => i += 1,
            }
        }
        out.push_str(&text[copied..]);
        out
    }
}

/// Where the value of the first field `name` of an entity body is: an element's text (XML)
/// or a string value (JSON).
fn field_value(text: &str, name: &str) -> Option<std::ops::Range<usize>> {
    let open = format!("<{name}>");
    if let Some(at) = text.find(&open) {
        let start = at + open.len();
        return text[start..].find('<').map(|end| start..start + end);
    }
    let key = format!("\"{name}\"");
    let at = text.find(&key)? + key.len();
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let start = text.len() - rest.len();
    rest.find('"').map(|end| start..start + end)
}

/// The kind of backup file a restore point's reference names (`Up BackupFileReference`), by
/// its extension: what the listing says of a point that the entity of a sibling does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BackupFile {
    /// `.vbk`
    Full,
    /// `.vib`
    Increment,
    /// `.vrb`
    ReverseIncrement,
}

impl BackupFile {
    fn of(links: &[Link]) -> Option<BackupFile> {
        let link = links.iter().find(|l| l.rel == "Up" && l.kind.as_deref() == Some("BackupFileReference"))?;
        let name = link.name.as_deref()?.to_ascii_lowercase();
        let (_, extension) = name.rsplit_once('.')?;
        match extension {
            "vbk" => Some(BackupFile::Full),
            "vib" => Some(BackupFile::Increment),
            "vrb" => Some(BackupFile::ReverseIncrement),
            _ => None,
        }
    }

    /// The documented `Algorithm` (Full | ReversedIncremental | Incremental | SyntheticFull):
    /// a full file is the seed document's `Full`; which chain a `.vbk` belongs to (a forward
    /// chain's full is also written `Full` by EM) is inferred.
    fn algorithm(self) -> &'static str {
        match self {
            BackupFile::Full => "Full",
            BackupFile::Increment => "Incremental",
            BackupFile::ReverseIncrement => "ReversedIncremental",
        }
    }

    /// The documented `PointType` (Full | Increment).
    fn point_type(self) -> &'static str {
        match self {
            BackupFile::Full => "Full",
            BackupFile::Increment | BackupFile::ReverseIncrement => "Increment",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_never_replaces_a_replacement() {
        let mut s = Substitution::default();
        s.push("a1", "b2");
        s.push("b2", "c3");
        assert_eq!(s.apply("a1 b2"), "b2 c3");
    }

    #[test]
    fn replacements_are_escaped_as_the_body_escapes() {
        let mut s = Substitution::default();
        s.push("oracle03", "R&D \"lab\"");
        assert_eq!(s.apply_to("Name=\"oracle03\"", Repr::Xml), "Name=\"R&amp;D &quot;lab&quot;\"");
        assert_eq!(s.apply_to("\"Name\": \"oracle03\"", Repr::Json), "\"Name\": \"R&D \\\"lab\\\"\"");
    }

    #[test]
    fn names_are_replaced_by_their_vm_and_time_parts_as_whole_words() {
        let mut s = Substitution::default();
        s.push_name("ubuntu88@2025-10-20 20:04:07", "dc01@2025-12-07 11:48:39");
        assert_eq!(
            s.apply("VmDisplayName=\"ubuntu88\" ubuntu881 2025-10-20T20:04:07.267Z ubuntu88@2025-10-20 20:04:07"),
            "VmDisplayName=\"dc01\" ubuntu881 2025-12-07T11:48:39.267Z dc01@2025-12-07 11:48:39"
        );
    }
}
