//! Packs: a cassette whose response bodies stay on disk. A YAML cassette writes each body as an
//! indented block, so no part of a body can be read without reading and unindenting all of it,
//! and a loaded cassette holds every body in memory: gigabytes for a large estate. A pack is the
//! same cassette with each response body written once, byte for byte, after the YAML, which
//! names it by place (`body_at: [offset, length]`); the bodies are read by place when they are
//! answered, and a listing's item without the rest of the listing.
//!
//! ```text
//! # emtape-pack v1 skeleton=00000000000000041022 bodies=00000000000000912340 catalog=00000000000000203112
//! # emtape cassette: ...
//! format: emtape/cassette-v1
//! exchanges:
//! - seq: 1
//!   ...
//!     body_at: [0, 1234]
//! <the bodies, each at its offset from the end of the YAML>
//! <the catalog: what the bodies name, learned when the pack was written>
//! ```
//!
//! The first line says how long the YAML is (that line included) and how many bytes of bodies
//! and of catalog follow, so a pack cut short or written over is known as such. The YAML is an
//! ordinary cassette but for `body_at`, read by the cassette reader with its positions. The
//! catalog is the mock's ([`crate::model`]), stored so that serving a pack need not read every
//! body to learn it again.

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use super::load::{CassetteError, LoadedCassette};
use super::{Body, Cassette, yaml};

const MAGIC: &str = "# emtape-pack v1 ";
/// The first line's length: the magic and three 20-digit counts.
const HEADER_LEN: usize = MAGIC.len() + "skeleton=".len() + 20 + " bodies=".len() + 20 + " catalog=".len() + 20 + 1;

/// The name a pack's cassette goes by while its catalog is learned for storing (the pack has
/// another name by the time it is read).
pub const OWN_NAME: &str = "{{pack}}";

/// Whether a file that begins with `head` is a pack.
pub fn is_pack(head: &[u8]) -> bool {
    head.starts_with(MAGIC.as_bytes())
}

/// Whether the file at `path` is a pack (`false` when it cannot be read).
pub fn is_pack_file(path: &Path) -> bool {
    let mut head = [0; MAGIC.len()];
    File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && is_pack(&head)
}

/// An open pack file, shared by the bodies placed in it.
pub struct PackFile {
    name: String,
    file: File,
    /// Where the bodies start: the YAML's length.
    base: u64,
    bodies: u64,
    catalog: u64,
    /// The file as it was when it was loaded: its bodies are read by place only while it is.
    stamp: Stamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    fn of(file: &File) -> std::io::Result<Stamp> {
        let meta = file.metadata()?;
        Ok(Stamp { len: meta.len(), modified: meta.modified().ok() })
    }
}

impl std::fmt::Debug for PackFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackFile({})", self.name)
    }
}

impl PackFile {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Ok` while the file is as it was loaded. A pack written again by `emtape pack` is a new
    /// file (the old one stays readable to whoever has it open); one written over in place is
    /// not, and its bodies are no longer where the YAML says.
    pub fn unchanged(&self) -> Result<(), CassetteError> {
        match Stamp::of(&self.file) {
            Ok(now) if now == self.stamp => Ok(()),
            Ok(_) => Err(self.error("it was written over after it was loaded; load it again (restart serve)")),
            Err(e) => Err(self.error(&e.to_string())),
        }
    }

    /// How many bytes of catalog are stored after the bodies (none: 0).
    pub fn catalog_len(&self) -> u64 {
        self.catalog
    }

    /// `len` bytes of its stored catalog from `at`.
    pub fn read_catalog(&self, at: u64, len: usize) -> Result<Vec<u8>, CassetteError> {
        if at.checked_add(len as u64).is_none_or(|end| end > self.catalog) {
            let end = at.saturating_add(len as u64);
            let reason = format!("its catalog's bytes {at}..{end} run past its {} bytes", self.catalog);
            return Err(self.error(&reason));
        }
        self.read(self.bodies + at, len)
    }

    fn error(&self, reason: &str) -> CassetteError {
        CassetteError::Read { path: self.name.clone(), reason: reason.to_owned() }
    }

    fn read(&self, at: u64, len: usize) -> Result<Vec<u8>, CassetteError> {
        self.unchanged()?;
        let mut buffer = vec![0; len];
        read_exact_at(&self.file, &mut buffer, self.base + at)
            .map_err(|e| self.error(&format!("bytes {at}..{} after its YAML: {e}", at + len as u64)))?;
        Ok(buffer)
    }
}

/// A response body left in its pack.
pub struct Placed {
    pack: Arc<PackFile>,
    at: u64,
    len: usize,
    bom: bool,
}

impl Placed {
    /// The body at `at` of `pack`'s bodies, `len` bytes long.
    pub fn in_pack(pack: &Arc<PackFile>, at: u64, len: u64, bom: bool) -> Result<Placed, String> {
        let bodies = pack.bodies;
        let end = at.checked_add(len).filter(|end| *end <= bodies).ok_or_else(|| {
            format!("`body_at: [{at}, {len}]` runs past the pack's {bodies} bytes of bodies: the file is damaged")
        })?;
        let len = usize::try_from(end - at).map_err(|_| format!("`body_at: [{at}, {len}]` is too large"))?;
        Ok(Placed { pack: pack.clone(), at, len, bom })
    }

    /// Its length in bytes, without any byte order mark.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bom(&self) -> bool {
        self.bom
    }

    /// Where it is, from the end of the pack's YAML.
    pub fn at(&self) -> u64 {
        self.at
    }

    pub fn pack(&self) -> &Arc<PackFile> {
        &self.pack
    }

    /// The body's text.
    pub fn text(&self) -> Result<String, CassetteError> {
        self.text_of(0..self.len)
    }

    /// The text at `range` of the body's text (a listing's item).
    pub fn text_of(&self, range: std::ops::Range<usize>) -> Result<String, CassetteError> {
        if range.start > range.end || range.end > self.len {
            return Err(self.pack.error(&format!("bytes {range:?} are outside a body of {} bytes", self.len)));
        }
        let bytes = self.pack.read(self.at + range.start as u64, range.len())?;
        String::from_utf8(bytes).map_err(|_| {
            self.pack
                .error(&format!("the body at bytes {} (+{}) of its bodies is not UTF-8 text", self.at, range.start))
        })
    }
}

impl std::fmt::Debug for Placed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Placed({} bytes {}+{})", self.pack.name, self.at, self.len)
    }
}

impl PartialEq for Placed {
    fn eq(&self, other: &Placed) -> bool {
        Arc::ptr_eq(&self.pack, &other.pack) && self.at == other.at && self.len == other.len && self.bom == other.bom
    }
}

impl Eq for Placed {}

thread_local! {
    /// The pack whose YAML is being read: what `body_at` refers to.
    static READING: RefCell<Option<Arc<PackFile>>> = const { RefCell::new(None) };
}

/// A `body_at: [offset, length]` of the YAML being read.
pub(super) fn placed(at: u64, len: u64, bom: bool) -> Result<Body, String> {
    READING.with(|r| {
        let Some(pack) = r.borrow().clone() else {
            return Err(
                "`body_at` places a body in a pack (`emtape pack` writes them); a cassette writes it in `body`"
                    .to_owned(),
            );
        };
        let placed = Placed::in_pack(&pack, at, len, bom)?;
        Ok(if placed.is_empty() { Body::Empty } else { Body::Placed(Arc::new(placed)) })
    })
}

/// Loads a pack: its YAML read as a cassette is, its response bodies left in the file.
pub(super) fn load(path: &Path, file: File) -> Result<LoadedCassette, CassetteError> {
    load_named(path.display().to_string(), file)
}

fn load_named(name: String, file: File) -> Result<LoadedCassette, CassetteError> {
    let unreadable = |reason: String| CassetteError::Read { path: name.clone(), reason };
    let mut header = [0; HEADER_LEN];
    read_exact_at(&file, &mut header, 0).map_err(|_| unreadable("a pack too short for its first line".to_owned()))?;
    let [skeleton, bodies, catalog] = counts(&header).ok_or_else(|| {
        unreadable("its first line is not `# emtape-pack v1 skeleton=N bodies=N catalog=N` (20 digits each)".to_owned())
    })?;
    let stamp = Stamp::of(&file).map_err(|e| unreadable(e.to_string()))?;
    let total = skeleton.checked_add(bodies).and_then(|n| n.checked_add(catalog));
    if total != Some(stamp.len) {
        return Err(unreadable(format!(
            "its first line says {} bytes ({skeleton} of YAML, {bodies} of bodies, {catalog} of catalog), and the \
             file has {}: it was cut short or added to",
            total.map_or_else(|| "more than 2^64".to_owned(), |t| t.to_string()),
            stamp.len
        )));
    }
    let yaml_len = usize::try_from(skeleton).map_err(|_| unreadable("its YAML is too large".to_owned()))?;
    let mut text = vec![0; yaml_len];
    read_exact_at(&file, &mut text, 0).map_err(|e| unreadable(e.to_string()))?;
    let text = String::from_utf8(text).map_err(|_| unreadable("its YAML is not UTF-8 text".to_owned()))?;
    let pack = Arc::new(PackFile { name: name.clone(), file, base: skeleton, bodies, catalog, stamp });
    READING.with(|r| *r.borrow_mut() = Some(pack.clone()));
    let loaded = Cassette::parse(&name, &text);
    READING.with(|r| *r.borrow_mut() = None);
    let mut loaded = loaded?;
    loaded.pack = Some(pack);
    Ok(loaded)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buffer: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, at)
}

#[cfg(unix)]
fn write_all_at(file: &File, buffer: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buffer, at)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut buffer: &[u8], mut at: u64) -> std::io::Result<()> {
    while !buffer.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, buffer, at)?;
        buffer = &buffer[n..];
        at += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buffer: &mut [u8], mut at: u64) -> std::io::Result<()> {
    while !buffer.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buffer, at)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buffer = &mut buffer[n..];
                at += n as u64;
            }
        }
    }
    Ok(())
}

fn counts(header: &[u8]) -> Option<[u64; 3]> {
    let line = std::str::from_utf8(header).ok()?.strip_prefix(MAGIC)?.strip_suffix('\n')?;
    let mut fields = line.split(' ');
    let mut number = |key: &str| -> Option<u64> {
        let digits = fields.next()?.strip_prefix(key)?;
        (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok())?
    };
    Some([number("skeleton=")?, number("bodies=")?, number("catalog=")?])
}

fn header(skeleton: u64, bodies: u64, catalog: u64) -> String {
    let line = format!("{MAGIC}skeleton={skeleton:020} bodies={bodies:020} catalog={catalog:020}\n");
    debug_assert_eq!(line.len(), HEADER_LEN);
    line
}

/// What [`write`] wrote.
#[derive(Debug)]
pub struct Packed {
    pub exchanges: usize,
    /// Response bodies placed, and their bytes.
    pub bodies: usize,
    pub body_bytes: u64,
    pub catalog_bytes: u64,
    pub file_bytes: u64,
}

/// Writes `loaded` as a pack at `out`: to a file beside it, renamed over `out` once whole, so
/// that `out` is never half written and whoever has the old one open keeps reading it.
/// `catalog`: what to store after the bodies, made from the pack as written so far (loaded as
/// [`OWN_NAME`], its bodies placed).
pub fn write(
    loaded: &LoadedCassette,
    out: &Path,
    catalog: impl FnOnce(&LoadedCassette) -> Vec<u8>,
) -> Result<Packed, CassetteError> {
    let cassette = &loaded.cassette;
    // The YAML, each response body named by where it will be.
    let mut yaml = yaml::header(&cassette.meta);
    let mut placed: Vec<&Body> = Vec::new();
    let mut offset = 0u64;
    for exchange in &cassette.exchanges {
        let body = &exchange.response.body;
        let place = match body {
            Body::Text { text, bom } => Some((text.len(), *bom)),
            Body::Placed(p) => Some((p.len(), p.bom())),
            Body::Empty | Body::Binary(_) => None,
        };
        // Called only for a body of its own (not `body_same_as` another's).
        yaml::exchange_with(exchange, &mut yaml, |out| match place {
            Some((len, bom)) => {
                yaml::body_at(out, offset, len as u64, bom);
                offset += len as u64;
                placed.push(body);
            }
            None => yaml::body(out, body),
        });
    }
    let skeleton = (HEADER_LEN + yaml.len()) as u64;
    let failed = |e: std::io::Error| CassetteError::Write { path: out.display().to_string(), reason: e.to_string() };
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = out.file_name().map_or_else(|| "pack".into(), |n| n.to_string_lossy().into_owned());
    let partial = dir.join(format!(".{file_name}.{}.partial", std::process::id()));
    let mut catalog_bytes = 0;
    let written = (|| {
        let mut file = std::io::BufWriter::with_capacity(1 << 20, File::create(&partial)?);
        file.write_all(header(skeleton, offset, 0).as_bytes())?;
        file.write_all(yaml.as_bytes())?;
        for body in &placed {
            if let Body::Text { text, .. } = &*body.read().map_err(std::io::Error::other)? {
                file.write_all(text.as_bytes())?;
            }
        }
        let mut file = file.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        // The pack as written so far, its bodies placed: what the catalog is learned from.
        let stored = catalog(&load_named(OWN_NAME.to_owned(), File::open(&partial)?).map_err(std::io::Error::other)?);
        catalog_bytes = stored.len() as u64;
        file.write_all(&stored)?;
        write_all_at(&file, header(skeleton, offset, catalog_bytes).as_bytes(), 0)?;
        file.sync_all()?;
        std::fs::rename(&partial, out)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(failed(e));
    }
    Ok(Packed {
        exchanges: cassette.exchanges.len(),
        bodies: placed.len(),
        body_bytes: offset,
        catalog_bytes,
        file_bytes: skeleton + offset + catalog_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cassette::FORMAT;

    fn dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("emtape-pack-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn packed(name: &str, yaml: &str) -> std::path::PathBuf {
        let dir = dir(name);
        let out = dir.join("c.emtape");
        write(&Cassette::parse("c.yaml", yaml).unwrap(), &out, |_| Vec::new()).unwrap();
        out
    }

    fn error(path: &Path) -> String {
        Cassette::load_placed(path).unwrap_err().to_string()
    }

    const SMALL: &str = "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /api/\n  \
                         response:\n    status: 200\n    body: |\n      <Items>\n        <Item Href=\"{{origin}}/api/a\"/>\n      </Items>\n\
                         - seq: 2\n  request:\n    method: GET\n    uri: /api/again\n  response:\n    status: 200\n    \
                         body_same_as: 1\n- seq: 3\n  request:\n    method: POST\n    uri: /api/x\n    body: |\n      in\n  \
                         response:\n    status: 204\n- seq: 4\n  request:\n    method: GET\n    uri: /api/bom\n  response:\n    \
                         status: 200\n    body_encoding: utf-8-bom\n    body: \"ü\"\n";

    #[test]
    fn every_shipped_cassette_packs_and_loads_back_as_it_was() {
        let dir = dir("shipped");
        let mut paths = Vec::new();
        for (_, files) in crate::cassette::RELEASES.iter().chain(crate::cassette::VBR_RELEASES.iter()) {
            paths.extend(files.iter());
        }
        for (i, (name, text)) in paths.into_iter().enumerate() {
            let original = Cassette::parse(name, text).unwrap();
            let out = dir.join(format!("{i}.emtape"));
            let packed = write(&original, &out, |_| Vec::new()).unwrap();
            assert_eq!(packed.file_bytes, std::fs::metadata(&out).unwrap().len(), "{name}");
            assert_eq!(Cassette::load(&out).unwrap().cassette, original.cassette, "{name}");
            let placed = Cassette::load_placed(&out).unwrap();
            assert!(placed.pack.is_some());
            let bodies =
                placed.cassette.exchanges.iter().filter(|x| matches!(x.response.body, Body::Placed(_))).count();
            assert_eq!(bodies, packed.bodies, "{name}");
            // Packed again from its placed self: the same bytes.
            let again = dir.join(format!("{i}-again.emtape"));
            write(&placed, &again, |_| Vec::new()).unwrap();
            assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&out).unwrap(), "{name}");
        }
    }

    #[test]
    fn a_listing_item_is_read_alone_from_its_place() {
        let loaded = Cassette::load_placed(&packed("item", SMALL)).unwrap();
        let Body::Placed(p) = &loaded.cassette.exchanges[0].response.body else { panic!("not placed") };
        let text = p.text().unwrap();
        assert_eq!(text, "<Items>\n  <Item Href=\"{{origin}}/api/a\"/>\n</Items>\n");
        let at = text.find("<Item ").unwrap()..text.find("/>").unwrap() + 2;
        assert_eq!(p.text_of(at.clone()).unwrap(), text[at]);
        assert!(p.text_of(0..p.len() + 1).unwrap_err().to_string().contains("outside a body of"));
        // A request body, a referred body and a BOM stay what they were.
        let x = &loaded.cassette.exchanges;
        assert_eq!(x[2].request.body, Body::text("in\n"));
        assert_eq!(x[1].response.body_same_as, Some(1));
        assert!(matches!(&x[3].response.body, Body::Placed(p) if p.bom() && p.text().unwrap() == "ü"));
    }

    #[test]
    fn a_pack_cut_short_or_added_to_is_refused_naming_the_file() {
        let path = packed("cut", SMALL);
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 1]).unwrap();
        let said = error(&path);
        assert!(said.contains(&path.display().to_string()) && said.contains("cut short or added to"), "{said}");
        std::fs::write(&path, [&whole[..], b"x"].concat()).unwrap();
        assert!(error(&path).contains("cut short or added to"));
        std::fs::write(&path, &whole[..40]).unwrap();
        assert!(error(&path).contains("too short for its first line"), "{}", error(&path));
        std::fs::write(&path, whole.clone().into_iter().map(|b| if b == b'=' { b':' } else { b }).collect::<Vec<_>>())
            .unwrap();
        assert!(error(&path).contains("is not `# emtape-pack v1"), "{}", error(&path));
    }

    #[test]
    fn a_body_placed_past_the_bodies_is_refused_at_its_line() {
        let path = packed("past", SMALL);
        let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        let damaged = text.replacen("body_at: [0, ", "body_at: [9, ", 1);
        std::fs::write(&path, damaged).unwrap();
        let said = error(&path);
        assert!(said.contains("c.emtape:") && said.contains("runs past the pack's"), "{said}");
    }

    #[test]
    fn body_at_in_a_yaml_cassette_is_refused_with_what_it_is_for() {
        let yaml = format!(
            "format: {FORMAT}\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /\n  response:\n    \
             status: 200\n    body_at: [0, 3]\n"
        );
        let said = Cassette::parse("c.yaml", &yaml).unwrap_err().to_string();
        assert!(said.contains("c.yaml:9") && said.contains("`body_at` places a body in a pack"), "{said}");
    }

    #[test]
    fn a_pack_written_over_after_it_was_loaded_is_not_read() {
        let path = packed("over", SMALL);
        let loaded = Cassette::load_placed(&path).unwrap();
        let Body::Placed(p) = &loaded.cassette.exchanges[0].response.body else { panic!("not placed") };
        assert!(p.pack().unchanged().is_ok());
        // Written over in place, as `cp` does: the same length, other bytes.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 2;
        bytes[last] = b'X';
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().write_all(&bytes).unwrap();
        let said = p.text().unwrap_err().to_string();
        assert!(said.contains("written over after it was loaded"), "{said}");
    }

    #[test]
    fn a_pack_written_again_leaves_the_one_open_readable() {
        let path = packed("again", SMALL);
        let loaded = Cassette::load_placed(&path).unwrap();
        write(&Cassette::parse("other.yaml", &SMALL.replace("<Items>", "<Other>")).unwrap(), &path, |_| Vec::new())
            .unwrap();
        let Body::Placed(p) = &loaded.cassette.exchanges[0].response.body else { panic!("not placed") };
        assert!(p.text().unwrap().starts_with("<Items>"));
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }
}
