//! Packs: a cassette whose response bodies stay on disk. A YAML cassette writes each body as an
//! indented block, so no part of a body can be read without reading and unindenting all of it,
//! and a loaded cassette holds every body in memory: gigabytes for a large estate. A pack is the
//! same cassette with each response body written once, byte for byte, after the YAML, which
//! names it by place (`body_at: [offset, length]`); the bodies are read by place when they are
//! answered, and a listing's item without the rest of the listing.
//!
//! ```text
//! # emtape-pack v2 skeleton=00000000000000041022 bodies=00000000000000912340 catalog=00000000000000203112 loaded=00000000000000012345
//! # emtape cassette: ...
//! format: emtape/cassette-v1
//! exchanges:
//! - seq: 1
//!   ...
//!     body_at: [0, 1234]
//! <the bodies, each at its offset from the end of the YAML>
//! <the catalog: what the bodies name, learned when the pack was written>
//! <the YAML as read: what the cassette reader made of it, stored>
//! ```
//!
//! The first line says how long the YAML is (that line included) and how many bytes of bodies,
//! of catalog and of the YAML as read follow, so a pack cut short or written over is known as
//! such. The YAML is an ordinary cassette but for `body_at`, read by the cassette reader with its
//! positions. The catalog is the mock's ([`crate::model`]), stored so that serving a pack need
//! not read every body to learn it again; the YAML as read, so that loading a pack need not
//! parse its YAML (seconds for a large estate's). Both are read only by the emtape that wrote
//! them, and only while the YAML is the one they were made from (the YAML as read carries its
//! digest); otherwise the YAML and the bodies are read. A pack of the first version (`v1`,
//! without the YAML as read) is read as it was.

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use super::load::{CassetteError, LoadedCassette};
use super::{Body, Cassette, yaml};

const MAGIC: &str = "# emtape-pack v2 ";
/// The first line's length: the magic and four 20-digit counts.
const HEADER_LEN: usize = V1_LEN + " loaded=".len() + 20;
/// A pack of the first version: three counts.
const MAGIC_V1: &str = "# emtape-pack v1 ";
const V1_LEN: usize = MAGIC_V1.len() + "skeleton=".len() + 20 + " bodies=".len() + 20 + " catalog=".len() + 20 + 1;

/// The name a pack's cassette goes by while its catalog is learned for storing (the pack has
/// another name by the time it is read).
pub const OWN_NAME: &str = "{{pack}}";

/// Whether a file that begins with `head` is a pack.
pub fn is_pack(head: &[u8]) -> bool {
    head.starts_with(MAGIC.as_bytes()) || head.starts_with(MAGIC_V1.as_bytes())
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
    /// The YAML as read, after the catalog.
    loaded: u64,
    /// Its YAML is the one it was packed from: its catalog and YAML as read say what it does.
    as_packed: bool,
    /// The file as it was when it was loaded: its bodies are read by place only while it is.
    stamp: Stamp,
    /// What lint found in its response bodies when it was written, by exchange (those with
    /// findings, in order), when its YAML as read stores that and was read.
    checked: std::sync::OnceLock<Vec<FoundIn>>,
}

/// A finding of `lint` in a response body (see [`crate::lint`]), made when the pack was written
/// and stored in its YAML as read. The file is the pack.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checked {
    pub kind: String,
    pub line: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// What lint finds in the response body of an exchange: where it leaks a secret, and where it
/// cannot be read or parsed.
pub type CheckBody = fn(&LoadedCassette, usize) -> [Vec<Checked>; 2];

/// What lint found in the response body of the exchange at an index (see [`CheckBody`]).
pub type FoundIn = (usize, [Vec<Checked>; 2]);

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

    /// What lint found in its response bodies when it was written, by exchange (those with
    /// findings, in order); `None` when that is not stored, or its YAML was edited since.
    pub fn checked(&self) -> Option<&[FoundIn]> {
        self.checked.get().map(Vec::as_slice)
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

    /// Whether its stored catalog describes its YAML (not edited since it was packed).
    pub fn as_packed(&self) -> bool {
        self.as_packed
    }

    /// Its cassette read again as it was loaded (from its YAML as read, or else its YAML): for a
    /// holder that let its exchanges go (the catalog, see [`crate::model`]). An error when it
    /// was written over since (its bodies cannot be read either) or can no longer be read.
    pub fn loaded_again(self: &Arc<PackFile>) -> Result<LoadedCassette, CassetteError> {
        self.unchanged()?;
        cassette_of(self)
    }

    /// How many bytes of catalog are stored after the bodies (none: 0).
    pub fn catalog_len(&self) -> u64 {
        self.catalog
    }

    /// The frames of its stored catalog, each read as it is asked for.
    pub fn catalog_frames(&self) -> impl Iterator<Item = Result<Vec<u8>, String>> + '_ {
        self.frames(self.bodies, self.catalog)
    }

    /// The frames of the `len` bytes from `start` (from the end of the YAML). A frame that
    /// cannot be read is the last one given.
    fn frames(&self, start: u64, len: u64) -> impl Iterator<Item = Result<Vec<u8>, String>> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            (at < len).then(|| {
                let read = |from: u64, n: u64| {
                    let end = from.saturating_add(n);
                    let n = usize::try_from(n).ok().filter(|_| end <= len);
                    let n = n.ok_or_else(|| format!("a frame at bytes {from}..{end} runs past its {len} bytes"))?;
                    self.read(start + from, n).map_err(|e| e.to_string())
                };
                let frame = read(at, 8).and_then(|n| {
                    let n = u64::from_le_bytes(n.try_into().unwrap_or_default());
                    read(at + 8, n).inspect(|_| at += 8 + n)
                });
                if frame.is_err() {
                    at = len;
                }
                frame
            })
        })
    }

    fn error(&self, reason: &str) -> CassetteError {
        CassetteError::Read { path: self.name.clone(), reason: reason.to_owned() }
    }

    fn read(&self, at: u64, len: usize) -> Result<Vec<u8>, CassetteError> {
        let mut buffer = vec![0; len];
        self.read_into(at, &mut buffer)?;
        Ok(buffer)
    }

    /// Fills `buffer` with the bytes at `at` of its bodies.
    fn read_into(&self, at: u64, buffer: &mut [u8]) -> Result<(), CassetteError> {
        self.unchanged()?;
        read_exact_at(&self.file, buffer, self.base + at)
            .map_err(|e| self.error(&format!("bytes {at}..{} after its YAML: {e}", at + buffer.len() as u64)))
    }
}

/// A response body left in its pack.
#[derive(Clone)]
pub struct Placed {
    pack: Arc<PackFile>,
    at: u64,
    len: usize,
    bom: bool,
    /// The SHA-256 of its bytes, taken when the pack was written (stored in its YAML as read):
    /// two bodies with one are compared without reading either.
    digest: Option<[u8; 32]>,
    /// Where a large listing can be cut to its sample ([`crate::em::list::sample_cut`]), found
    /// when the pack was written (stored in its YAML as read): a walk of its links reads that.
    cut: Option<(usize, usize)>,
}

impl Placed {
    /// The body at `at` of `pack`'s bodies, `len` bytes long.
    pub fn in_pack(pack: &Arc<PackFile>, at: u64, len: u64, bom: bool) -> Result<Placed, String> {
        let bodies = pack.bodies;
        let end = at.checked_add(len).filter(|end| *end <= bodies).ok_or_else(|| {
            format!("`body_at: [{at}, {len}]` runs past the pack's {bodies} bytes of bodies: the file is damaged")
        })?;
        let len = usize::try_from(end - at).map_err(|_| format!("`body_at: [{at}, {len}]` is too large"))?;
        Ok(Placed { pack: pack.clone(), at, len, bom, digest: None, cut: None })
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

    /// Where it can be cut to its sample, `(head, tail)`: its bytes before `head` and from
    /// `tail` on are the listing with its first items alone, whose links are the whole body's.
    pub fn sample_cut(&self) -> Option<(usize, usize)> {
        self.cut
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
        let start = range.start;
        String::from_utf8(self.bytes_of(range)?).map_err(|_| self.not_text(start))
    }

    /// The bytes at `range` of the body.
    pub fn bytes_of(&self, range: std::ops::Range<usize>) -> Result<Vec<u8>, CassetteError> {
        if range.start > range.end || range.end > self.len {
            return Err(self.pack.error(&format!("bytes {range:?} are outside a body of {} bytes", self.len)));
        }
        self.pack.read(self.at + range.start as u64, range.len())
    }

    /// Whether `other` holds the same body: by their digests when both packs keep them (neither
    /// is read, so a pack written over since it was loaded still answers for what it held),
    /// otherwise read from both a block at a time: two listings of half a million items are
    /// compared without holding either.
    pub fn same_as(&self, other: &Placed) -> Result<bool, CassetteError> {
        if let (Some(ours), Some(theirs)) = (self.digest, other.digest) {
            return Ok(ours == theirs && self.len == other.len && self.bom == other.bom);
        }
        let mut theirs = Vec::new();
        self.same_by_blocks(other.len, other.bom, |at, block| {
            theirs.resize(block.len(), 0);
            other.pack.read_into(other.at + at as u64, &mut theirs)?;
            Ok(block == theirs.as_slice())
        })
    }

    /// Whether the body is `text` (without a byte order mark, which `bom` says it had), read a
    /// block at a time.
    pub fn same_as_text(&self, text: &str, bom: bool) -> Result<bool, CassetteError> {
        self.same_by_blocks(text.len(), bom, |at, block| Ok(block == &text.as_bytes()[at..at + block.len()]))
    }

    /// Whether a body of `len` bytes and `bom` is this one: `same(at, block)` compares each of
    /// its blocks in turn, and the first that differs ends the reading.
    fn same_by_blocks(
        &self,
        len: usize,
        bom: bool,
        mut same: impl FnMut(usize, &[u8]) -> Result<bool, CassetteError>,
    ) -> Result<bool, CassetteError> {
        if len != self.len || bom != self.bom {
            return Ok(false);
        }
        let (mut at, mut same_so_far) = (0, Ok(true));
        self.blocks(|block| {
            same_so_far = same(at, block);
            at += block.len();
            matches!(same_so_far, Ok(true))
        })?;
        same_so_far
    }

    /// Reads its bytes a block at a time into `take`, until `take` says `false` (or the end).
    pub fn blocks(&self, take: impl FnMut(&[u8]) -> bool) -> Result<(), CassetteError> {
        in_blocks(self.len as u64, |at, block| self.pack.read_into(self.at + at, block), take)
    }

    /// The error for bytes from `start` on that are not UTF-8 text.
    pub fn not_text(&self, start: usize) -> CassetteError {
        self.pack.error(&format!("the body at bytes {} (+{start}) of its bodies is not UTF-8 text", self.at))
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

/// `read` with `pack` as the pack being read: the one a body placed by `body_at`, or stored by
/// place (the YAML as read, the catalog), is in.
pub(crate) fn reading<T>(pack: &Arc<PackFile>, read: impl FnOnce() -> T) -> T {
    let before = READING.with(|r| r.borrow_mut().replace(pack.clone()));
    let out = read();
    READING.with(|r| *r.borrow_mut() = before);
    out
}

/// A `body_at: [offset, length]` of the YAML being read.
pub(super) fn placed(at: u64, len: u64, bom: bool) -> Result<Body, String> {
    placed_with(at, len, bom, Kept::default())
}

/// What a pack keeps of a body beside its place, found when it was written.
#[derive(Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct Kept {
    /// The SHA-256 of its bytes.
    digest: Option<[u8; 32]>,
    /// Where it can be cut to its sample, when it is a large listing.
    cut: Option<(u64, u64)>,
}

/// A body of the pack being read, with what the pack keeps of it.
fn placed_with(at: u64, len: u64, bom: bool, kept: Kept) -> Result<Body, String> {
    READING.with(|r| {
        let Some(pack) = r.borrow().clone() else {
            return Err(
                "`body_at` places a body in a pack (`emtape pack` writes them); a cassette writes it in `body`"
                    .to_owned(),
            );
        };
        let placed = Placed::in_pack(&pack, at, len, bom)?;
        // A cut outside the body is no cut (the body is read whole).
        let cut = kept.cut.and_then(|(head, tail)| Some((usize::try_from(head).ok()?, usize::try_from(tail).ok()?)));
        let cut = cut.filter(|(head, tail)| head <= tail && *tail <= placed.len);
        let placed = Placed { digest: kept.digest, cut, ..placed };
        Ok(if placed.is_empty() { Body::Empty } else { Body::Placed(Arc::new(placed)) })
    })
}

/// Loads a pack: its YAML read as a cassette is, its response bodies left in the file.
pub(super) fn load(path: &Path, file: File) -> Result<LoadedCassette, CassetteError> {
    load_named(path.display().to_string(), file)
}

fn load_named(name: String, file: File) -> Result<LoadedCassette, CassetteError> {
    let unreadable = |reason: String| CassetteError::Read { path: name.clone(), reason };
    let mut header = [0; V1_LEN];
    read_exact_at(&file, &mut header, 0).map_err(|_| unreadable("a pack too short for its first line".to_owned()))?;
    let counts = if header.starts_with(MAGIC_V1.as_bytes()) {
        counts(&header, MAGIC_V1).map(|[skeleton, bodies, catalog]| [skeleton, bodies, catalog, 0])
    } else {
        let mut header = [0; HEADER_LEN];
        read_exact_at(&file, &mut header, 0).ok().and_then(|()| counts(&header, MAGIC))
    };
    let [skeleton, bodies, catalog, loaded] = counts.ok_or_else(|| {
        unreadable(
            "its first line is not `# emtape-pack v2 skeleton=N bodies=N catalog=N loaded=N` (20 digits each)"
                .to_owned(),
        )
    })?;
    let stamp = Stamp::of(&file).map_err(|e| unreadable(e.to_string()))?;
    let total = skeleton.checked_add(bodies).and_then(|n| n.checked_add(catalog)).and_then(|n| n.checked_add(loaded));
    if total != Some(stamp.len) {
        return Err(unreadable(format!(
            "its first line says {} bytes ({skeleton} of YAML, {bodies} of bodies, {catalog} of catalog, {loaded} \
             of the YAML as read), and the file has {}: it was cut short or added to",
            total.map_or_else(|| "more than 2^64".to_owned(), |t| t.to_string()),
            stamp.len
        )));
    }
    let mut pack = PackFile {
        name: name.clone(),
        file,
        base: skeleton,
        bodies,
        catalog,
        loaded,
        stamp,
        as_packed: true,
        checked: Default::default(),
    };
    pack.as_packed = stored::as_packed(&pack);
    if !pack.as_packed {
        log::warn!(
            "{name}: its YAML is not the one it was packed from (edited since?): reading its YAML and learning its \
             catalog from its bodies (pack it again to load it faster)"
        );
    }
    cassette_of(&Arc::new(pack))
}

/// The cassette `pack` holds, its response bodies placed in it: its YAML as read, or else its
/// YAML read.
fn cassette_of(pack: &Arc<PackFile>) -> Result<LoadedCassette, CassetteError> {
    let mut loaded = match stored::loaded(pack) {
        Some(loaded) => loaded,
        None => {
            let yaml_len = usize::try_from(pack.base).map_err(|_| pack.error("its YAML is too large"))?;
            let mut text = vec![0; yaml_len];
            read_exact_at(&pack.file, &mut text, 0).map_err(|e| pack.error(&e.to_string()))?;
            let text = String::from_utf8(text).map_err(|_| pack.error("its YAML is not UTF-8 text"))?;
            reading(pack, || Cassette::parse(&pack.name, &text))?
        }
    };
    loaded.pack = Some(pack.clone());
    Ok(loaded)
}

/// Reads `len` bytes a block at a time, `read(at, block)` filling each from `at` on, into
/// `take`, until `take` says `false` (or the end).
fn in_blocks<E>(
    len: u64,
    mut read: impl FnMut(u64, &mut [u8]) -> Result<(), E>,
    mut take: impl FnMut(&[u8]) -> bool,
) -> Result<(), E> {
    const BLOCK: u64 = 1 << 20;
    let mut block = vec![0; BLOCK.min(len) as usize];
    let mut at = 0;
    while at < len {
        let n = BLOCK.min(len - at) as usize;
        read(at, &mut block[..n])?;
        if !take(&block[..n]) {
            break;
        }
        at += n as u64;
    }
    Ok(())
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

/// The counts of a first line that begins with `magic`: three (v1) or four.
fn counts<const N: usize>(header: &[u8], magic: &str) -> Option<[u64; N]> {
    let line = std::str::from_utf8(header).ok()?.strip_prefix(magic)?.strip_suffix('\n')?;
    let mut fields = line.split(' ');
    let mut numbers = [0; N];
    for (key, number) in ["skeleton=", "bodies=", "catalog=", "loaded="].into_iter().zip(&mut numbers) {
        let digits = fields.next()?.strip_prefix(key)?;
        *number = (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok())??;
    }
    fields.next().is_none().then_some(numbers)
}

fn header(skeleton: u64, bodies: u64, catalog: u64, loaded: u64) -> String {
    let line =
        format!("{MAGIC}skeleton={skeleton:020} bodies={bodies:020} catalog={catalog:020} loaded={loaded:020}\n");
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
    /// The YAML as read, stored.
    pub loaded_bytes: u64,
    pub file_bytes: u64,
}

/// Writes `loaded` as a pack at `out`: to a file beside it, renamed over `out` once whole, so
/// that `out` is never half written and whoever has the old one open keeps reading it.
/// `catalog`: what to store after the bodies, made from the pack as written so far (loaded as
/// [`OWN_NAME`], its bodies placed); `check`: what lint finds in each response body of it, stored
/// with the YAML as read.
pub fn write(
    loaded: &LoadedCassette,
    out: &Path,
    catalog: impl FnOnce(&LoadedCassette) -> Vec<u8>,
    check: Option<CheckBody>,
) -> Result<Packed, CassetteError> {
    let cassette = &loaded.cassette;
    // The YAML, each response body named by where it will be.
    let mut yaml = yaml::header(&cassette.meta);
    let mut placed: Vec<&Body> = Vec::new();
    // Bodies larger than a pack sends whole, by where they will be.
    let mut large = Vec::new();
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
                if len > crate::cassette::LARGE_BODY {
                    large.push((offset, exchange));
                }
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
    // Removed whatever ends the writing (an error, or a panic in what learns or checks it),
    // unless it became the pack.
    struct Partial(std::path::PathBuf);
    impl Drop for Partial {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let partial = Partial(dir.join(format!(".{file_name}.{}.partial", std::process::id())));
    let partial = &partial.0;
    let (mut catalog_bytes, mut loaded_bytes) = (0, 0);
    // A large listing's cut to its sample, by where it is, found on every core from the bodies in
    // hand (few are that large).
    let cuts: std::collections::HashMap<u64, (usize, usize)> = crate::parallel::map(&large, |(at, exchange)| {
        let Body::Text { text, .. } = &*exchange.response.body.read().ok()? else { return None };
        Some((*at, crate::em::list::sample_cut(text, exchange.response_repr())?))
    })
    .into_iter()
    .flatten()
    .collect();
    let written = (|| {
        let mut file = std::io::BufWriter::with_capacity(1 << 20, File::create(partial)?);
        file.write_all(header(skeleton, offset, 0, 0).as_bytes())?;
        file.write_all(yaml.as_bytes())?;
        // Each body's digest, by where it is.
        let mut digests = std::collections::HashMap::new();
        let mut at = 0;
        for body in &placed {
            if let Body::Text { text, .. } = &*body.read().map_err(std::io::Error::other)? {
                file.write_all(text.as_bytes())?;
                digests.insert(at, sha256(text.as_bytes()));
                at += text.len() as u64;
            }
        }
        let mut file = file.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        // The pack as written so far, its bodies placed: what the catalog is learned from.
        let mut own = load_named(OWN_NAME.to_owned(), File::open(partial)?).map_err(std::io::Error::other)?;
        for exchange in &mut own.cassette.exchanges {
            if let Body::Placed(p) = &mut exchange.response.body {
                let (digest, cut) = (digests.get(&p.at).copied(), cuts.get(&p.at).copied());
                *p = Arc::new(Placed { pack: p.pack.clone(), at: p.at, len: p.len, bom: p.bom, digest, cut });
            }
        }
        // Each response body it placed, checked on every core (read before anything more is
        // written: the pack as loaded is read only as it was).
        let checked = check.map(|check| {
            let placed: Vec<usize> = (0..own.cassette.exchanges.len())
                .filter(|i| matches!(own.cassette.exchanges[*i].response.body, Body::Placed(_)))
                .collect();
            let found = crate::parallel::map(&placed, |i| (*i, check(&own, *i)));
            found.into_iter().filter(|(_, [a, b])| !a.is_empty() || !b.is_empty()).collect::<Vec<_>>()
        });
        let stored = catalog(&own);
        catalog_bytes = stored.len() as u64;
        file.write_all(&stored)?;
        drop(stored);
        let read = stored::of(&own, yaml.as_bytes(), checked.as_deref());
        loaded_bytes = read.len() as u64;
        file.write_all(&read)?;
        write_all_at(&file, header(skeleton, offset, catalog_bytes, loaded_bytes).as_bytes(), 0)?;
        file.sync_all()?;
        std::fs::rename(partial, out)
    })();
    written.map_err(failed)?;
    Ok(Packed {
        exchanges: cassette.exchanges.len(),
        bodies: placed.len(),
        body_bytes: offset,
        catalog_bytes,
        loaded_bytes,
        file_bytes: skeleton + offset + catalog_bytes + loaded_bytes,
    })
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().try_into().unwrap_or_default()
}

/// Whether `frame`, the first of a section of frames, says the section was written by `by` (an
/// emtape of this version, with this layout): another's is read from what it was made from.
pub fn signed_by(frame: &[u8], by: &str) -> bool {
    postcard::from_bytes::<&str>(frame).ok() == Some(by)
}

/// Adds a frame to a section of them ([`PackFile::catalog_frames`]): its length (8 bytes,
/// little-endian) and its postcard bytes, so that a section is read a frame at a time.
pub fn put_frame(out: &mut Vec<u8>, frame: &impl serde::Serialize) -> postcard::Result<()> {
    let at = out.len();
    out.extend([0; 8]);
    *out = postcard::to_extend(frame, std::mem::take(out))?;
    let len = (out.len() - at - 8) as u64;
    out[at..at + 8].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// The YAML as read (a [`LoadedCassette`] but its name and pack), stored after the catalog in
/// frames of exchanges.
mod stored {
    use std::borrow::Cow;
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Body, LoadedCassette, OWN_NAME, PackFile, put_frame};
    use crate::cassette::load::BodyAt;
    use crate::cassette::{Cassette, Exchange, Meta};
    use crate::diagnostic::Diagnostic;

    /// Which emtape wrote it (bump the number with any change to what a loaded cassette holds:
    /// the test `the_yaml_as_read_is_laid_out_as_its_written_by_says` pins the layout).
    pub(super) const WRITTEN_BY: &str = concat!("emtape ", env!("CARGO_PKG_VERSION"), " loaded 5");

    /// Exchanges a frame holds.
    const FRAME: usize = if cfg!(test) { 3 } else { 8192 };

    #[derive(Serialize, Deserialize)]
    enum Frame<M, W, E> {
        /// `yaml`: the SHA-256 of the YAML it was read from (after the first line): a pack
        /// whose YAML was edited since is read from its YAML.
        Head { yaml: [u8; 32], meta: M, exchanges: usize, warnings: W },
        /// Exchanges in order, each with the line it starts on and where its bodies are written.
        Exchanges(Vec<(E, usize, [Option<BodyAt>; 2])>),
        /// What lint found in the response bodies, by exchange (those with findings, in order);
        /// after the exchanges, and none when they were not checked.
        Checked(Vec<super::FoundIn>),
    }

    use super::sha256 as digest;

    /// `loaded` (the pack being written, as read from `yaml`), and what lint found in its
    /// response bodies, stored; nothing when it cannot be.
    pub(super) fn of(loaded: &LoadedCassette, yaml: &[u8], checked: Option<&[super::FoundIn]>) -> Vec<u8> {
        let mut out = Vec::new();
        let written = (|| {
            put_frame(&mut out, &WRITTEN_BY)?;
            let exchanges = &loaded.cassette.exchanges;
            let head = Frame::<_, _, &Exchange>::Head {
                yaml: digest(yaml),
                meta: &loaded.cassette.meta,
                exchanges: exchanges.len(),
                warnings: &loaded.warnings,
            };
            put_frame(&mut out, &head)?;
            for (n, chunk) in exchanges.chunks(FRAME).enumerate() {
                let first = n * FRAME;
                let each = chunk.iter().enumerate().map(|(i, e)| {
                    let at = first + i;
                    (e, loaded.lines.get(at).copied().unwrap_or(0), loaded.bodies.get(at).copied().unwrap_or_default())
                });
                put_frame(&mut out, &Frame::<&Meta, &[Diagnostic], _>::Exchanges(each.collect()))?;
            }
            if let Some(checked) = checked {
                // One frame even when nothing was found: it says the bodies were checked.
                for chunk in checked.chunks(FRAME).chain(checked.is_empty().then_some(&[][..])) {
                    put_frame(&mut out, &Frame::<&Meta, &[Diagnostic], &Exchange>::Checked(chunk.to_vec()))?;
                }
            }
            Ok::<_, postcard::Error>(())
        })();
        match written {
            Ok(()) => out,
            Err(e) => {
                // Without it, loading the pack reads its YAML.
                log::warn!("the YAML as read was not stored: {e}");
                Vec::new()
            }
        }
    }

    /// Whether `pack`'s YAML is the one it was packed from (its YAML as read carries the
    /// YAML's digest): only then do its catalog and YAML as read say what its YAML does. A pack
    /// that stores no YAML as read (of the first version, or being written) makes no such claim.
    pub(super) fn as_packed(pack: &PackFile) -> bool {
        if pack.loaded == 0 {
            return true;
        }
        let mut frames = pack.frames(pack.bodies + pack.catalog, pack.loaded);
        let (Some(Ok(by)), Some(Ok(head))) = (frames.next(), frames.next()) else { return false };
        if !super::signed_by(&by, WRITTEN_BY) {
            return false;
        }
        let Ok(Frame::<Meta, Vec<Diagnostic>, Exchange>::Head { yaml, .. }) = postcard::from_bytes(&head) else {
            return false;
        };
        // Read a block at a time: a large estate's YAML is hundreds of MB.
        let mut read = ring::digest::Context::new(&ring::digest::SHA256);
        let start = super::HEADER_LEN as u64;
        let blocks = super::in_blocks(
            pack.base.saturating_sub(start),
            |at, block| super::read_exact_at(&pack.file, block, start + at),
            |block| {
                read.update(block);
                true
            },
        );
        blocks.is_ok() && read.finish().as_ref() == yaml
    }

    /// The cassette `pack` stores as read (its bodies placed in `pack`); `None` when it stores
    /// none, or one another emtape wrote, or one that cannot be read, or its YAML was edited
    /// since (its YAML is read instead).
    pub(super) fn loaded(pack: &Arc<PackFile>) -> Option<LoadedCassette> {
        if !pack.as_packed || pack.loaded == 0 {
            return None;
        }
        let mut frames = pack.frames(pack.bodies + pack.catalog, pack.loaded).skip(1);
        let mut loaded = LoadedCassette {
            name: pack.name.clone(),
            cassette: Cassette::default(),
            lines: Vec::new(),
            warnings: Vec::new(),
            bodies: Vec::new(),
            pack: None,
        };
        let not_readable = |e: postcard::Error| format!("its YAML as read is not readable ({e})");
        // A count from the file is a hint, never more than the section could hold.
        let most = usize::try_from(pack.loaded / 8).unwrap_or(usize::MAX);
        let read = super::reading(pack, || {
            let head = frames.next().ok_or("its YAML as read is empty")??;
            let Frame::<Meta, Vec<Diagnostic>, Exchange>::Head { meta, exchanges, warnings, .. } =
                postcard::from_bytes(&head).map_err(not_readable)?
            else {
                return Err("its YAML as read does not begin with its head".to_owned());
            };
            loaded.cassette.meta = meta;
            loaded.cassette.exchanges.reserve(exchanges.min(most));
            loaded.lines.reserve(exchanges.min(most));
            loaded.bodies.reserve(exchanges.min(most));
            loaded.warnings = warnings;
            let mut checked = None;
            for bytes in frames {
                match postcard::from_bytes(&bytes?).map_err(not_readable)? {
                    Frame::<Meta, Vec<Diagnostic>, Exchange>::Exchanges(each) => {
                        for (exchange, line, bodies) in each {
                            loaded.cassette.exchanges.push(exchange);
                            loaded.lines.push(line);
                            loaded.bodies.push(bodies);
                        }
                    }
                    Frame::Checked(found) => checked.get_or_insert_with(Vec::new).extend(found),
                    Frame::Head { .. } => return Err("its YAML as read has a second head".to_owned()),
                }
            }
            let read = loaded.cassette.exchanges.len();
            if read != exchanges {
                return Err(format!("its YAML as read has {read} exchanges of the {exchanges} it says"));
            }
            if let Some(checked) = checked {
                let _ = pack.checked.set(checked);
            }
            Ok(())
        });
        if let Err(e) = read {
            log::warn!("{}: {e}; reading its YAML", pack.name);
            return None;
        }
        for d in &mut loaded.warnings {
            if d.file == OWN_NAME {
                d.file.clone_from(&pack.name);
            }
        }
        Some(loaded)
    }

    /// A body as stored: in the YAML as read, a response body is one of the pack's by place.
    #[derive(Serialize, Deserialize)]
    enum Stored<'a> {
        Empty,
        Text { text: Cow<'a, str>, bom: bool },
        Binary(Cow<'a, [u8]>),
        Placed { at: u64, len: u64, bom: bool, kept: super::Kept },
    }

    impl Serialize for Body {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Body::Empty => Stored::Empty,
                Body::Text { text, bom } => Stored::Text { text: Cow::Borrowed(text), bom: *bom },
                Body::Binary(bytes) => Stored::Binary(Cow::Borrowed(bytes)),
                Body::Placed(p) => {
                    let cut = p.cut.map(|(head, tail)| (head as u64, tail as u64));
                    Stored::Placed {
                        at: p.at,
                        len: p.len as u64,
                        bom: p.bom,
                        kept: super::Kept { digest: p.digest, cut },
                    }
                }
            }
            .serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for Body {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Body, D::Error> {
            Ok(match Stored::deserialize(d)? {
                Stored::Empty => Body::Empty,
                Stored::Text { text, bom } => Body::Text { text: text.into(), bom },
                Stored::Binary(bytes) => Body::Binary(bytes.into_owned()),
                Stored::Placed { at, len, bom, kept } => {
                    super::placed_with(at, len, bom, kept).map_err(serde::de::Error::custom)?
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cassette::FORMAT;

    fn dir(name: &str) -> crate::Scratch {
        crate::Scratch::new(&format!("pack-{name}"))
    }

    fn packed(name: &str, yaml: &str) -> Packed {
        let dir = dir(name);
        let out = dir.join("c.emtape");
        write(&Cassette::parse("c.yaml", yaml).unwrap(), &out, |_| Vec::new(), None).unwrap();
        Packed { path: out, _dir: dir }
    }

    /// A pack written in a folder of its own, which goes with it.
    struct Packed {
        path: std::path::PathBuf,
        _dir: crate::Scratch,
    }

    impl std::ops::Deref for Packed {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.path
        }
    }

    impl AsRef<Path> for Packed {
        fn as_ref(&self) -> &Path {
            &self.path
        }
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
            let packed = write(&original, &out, |_| Vec::new(), None).unwrap();
            assert_eq!(packed.file_bytes, std::fs::metadata(&out).unwrap().len(), "{name}");
            assert_eq!(Cassette::load(&out).unwrap().cassette, original.cassette, "{name}");
            let placed = Cassette::load_placed(&out).unwrap();
            assert!(placed.pack.is_some());
            let bodies =
                placed.cassette.exchanges.iter().filter(|x| matches!(x.response.body, Body::Placed(_))).count();
            assert_eq!(bodies, packed.bodies, "{name}");
            // Packed again from its placed self: the same bytes.
            let again = dir.join(format!("{i}-again.emtape"));
            write(&placed, &again, |_| Vec::new(), None).unwrap();
            assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&out).unwrap(), "{name}");
        }
    }

    /// The file at `path` with the first `from` in it made `to` (as long), in place.
    fn replace_first(path: &Path, from: &[u8], to: &[u8]) {
        let bytes = std::fs::read(path).unwrap();
        let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
        std::fs::write(path, [&bytes[..at], to, &bytes[at + from.len()..]].concat()).unwrap();
    }

    /// The YAML as read `loaded`'s pack stores, read as loading it does.
    fn as_read(loaded: &LoadedCassette) -> Option<LoadedCassette> {
        stored::loaded(loaded.pack.as_ref().unwrap())
    }

    /// A copy of the pack at `path` whose YAML as read is marked as another emtape's: loading it
    /// reads its YAML.
    fn as_another_emtapes(path: &Path) -> std::path::PathBuf {
        let mut bytes = std::fs::read(path).unwrap();
        let at = bytes.windows(8).rposition(|w| w == b" loaded ").unwrap();
        bytes[at + 1] = b'L';
        let other = path.with_extension("other.emtape");
        std::fs::write(&other, bytes).unwrap();
        other
    }

    #[test]
    fn a_pack_loads_as_its_yaml_reads() {
        let dir = dir("as-read");
        let mut paths: Vec<(&str, &str)> = vec![("small.yaml", SMALL)];
        for (_, files) in crate::cassette::RELEASES.iter() {
            paths.extend(files.iter().copied());
        }
        // A cassette with a warning: a placeholder written as no recording writes one.
        let warned = SMALL.replace("body: |\n      in\n", "body: |\n      {{origni}}\n");
        assert_ne!(warned, SMALL);
        paths.push(("warned.yaml", &warned));
        for (i, (name, text)) in paths.into_iter().enumerate() {
            let out = dir.join(format!("{i}.emtape"));
            write(&Cassette::parse(name, text).unwrap(), &out, |_| Vec::new(), None).unwrap();
            let stored = Cassette::load_placed(&out).unwrap();
            assert!(as_read(&stored).is_some(), "{name}: the YAML as read is read");
            let yaml = Cassette::load_placed(&as_another_emtapes(&out)).unwrap();
            assert!(as_read(&yaml).is_none(), "{name}: another emtape's is not");
            let other = out.with_extension("other.emtape").display().to_string();
            let said = |l: &LoadedCassette| {
                let text = format!("{:?} {:?} {:?} {:?}", l.cassette, l.lines, l.warnings, l.bodies);
                text.replace(&l.name, "PACK")
            };
            assert_eq!(said(&stored), said(&yaml).replace(&other, "PACK"), "{name}");
            assert_eq!(stored.name, out.display().to_string());
            if name == "warned.yaml" {
                assert!(!stored.warnings.is_empty() && stored.warnings[0].file == stored.name, "{:?}", stored.warnings);
            }
        }
    }

    #[test]
    fn a_pack_whose_yaml_as_read_is_damaged_is_read_from_its_yaml() {
        let path = packed("as-read-damaged", SMALL);
        let whole = std::fs::read(&path).unwrap();
        let stored = Cassette::load_placed(&path).unwrap();
        // The last frame's length one byte more than there is.
        let at = whole.len() - stored.pack.as_ref().unwrap().loaded as usize;
        let mut frames = Vec::new();
        let mut next = at;
        while next < whole.len() {
            frames.push(next);
            next += 8 + u64::from_le_bytes(whole[next..next + 8].try_into().unwrap()) as usize;
        }
        let last = *frames.last().unwrap();
        let mut bytes = whole.clone();
        let len = u64::from_le_bytes(bytes[last..last + 8].try_into().unwrap());
        bytes[last..last + 8].copy_from_slice(&(len + 1).to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let read = Cassette::load_placed(&path).unwrap();
        assert_eq!(format!("{:?}", read.cassette), format!("{:?}", stored.cassette));
        assert!(as_read(&read).is_none());
    }

    #[test]
    fn a_pack_whose_yaml_was_edited_after_packing_is_read_from_its_yaml() {
        let path = packed("edited", SMALL);
        replace_first(&path, b"status: 200", b"status: 404");
        let read = Cassette::load_placed(&path).unwrap();
        assert_eq!(read.cassette.exchanges[0].response.status, 404);
        assert!(as_read(&read).is_none());
        assert!(!read.pack.as_ref().unwrap().as_packed(), "its catalog is not the edited YAML's either");
    }

    #[test]
    fn the_yaml_as_read_is_laid_out_as_its_written_by_says() {
        // A change to a type the YAML as read stores (Exchange, Headers, Body, Meta, Diagnostic,
        // BodyAt, Checked) changes these bytes: bump the number in `stored::WRITTEN_BY` and pin anew, or
        // another build of this version would misread packs this one wrote. The second is a
        // pack's, its bodies placed.
        const PINNED: (&str, &str, &str) = (
            "loaded 5",
            "f1915713d706ee3de93a67963acbc01aba80273c4210001892cb64e43bb2308a",
            "6d4798fe8c9ad2b1a93e105c87d2180e3c56ca817672cf89d50cbe85a661ad91",
        );
        assert!(stored::WRITTEN_BY.ends_with(PINNED.0), "pin the layout of the number `WRITTEN_BY` says");
        let hex = |bytes: &[u8]| {
            let bytes = &bytes[8 + 1 + stored::WRITTEN_BY.len()..];
            let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
            digest.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let warned = SMALL.replace("body: |\n      in\n", "body: |\n      {{origni}}\n");
        let loaded = Cassette::parse("c.yaml", &warned).unwrap();
        assert!(!loaded.warnings.is_empty());
        assert_eq!(hex(&stored::of(&loaded, b"yaml", None)), PINNED.1, "the layout changed: bump `WRITTEN_BY`, pin it");
        let placed = Cassette::load_placed(&packed("pinned", SMALL)).unwrap();
        let found = Checked { kind: "secret".into(), line: 7, message: "m".into(), hint: None };
        let checked = [(3, [vec![found], Vec::new()])];
        let bytes = stored::of(&placed, b"yaml", Some(&checked));
        assert_eq!(hex(&bytes), PINNED.2, "the layout changed: bump `WRITTEN_BY`, pin it");
    }

    #[test]
    fn a_pack_whose_writing_panics_leaves_no_partial_file() {
        let dir = dir("panics");
        let out = dir.join("c.emtape");
        let loaded = Cassette::parse("c.yaml", SMALL).unwrap();
        let check: CheckBody = |_, _| panic!("a check that fails");
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write(&loaded, &out, |_| Vec::new(), Some(check))
        }));
        assert!(written.is_err());
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_large_listing_is_packed_with_where_it_is_cut_to_its_sample_and_a_large_other_body_whole() {
        let item = |n: usize| format!("<Ref Href=\"{{{{origin}}}}/api/jobs/{n:08}\" Type=\"JobReference\" />");
        let items: Vec<String> = (0..150_000).map(item).collect();
        let listing = format!("<EntityReferences>{}</EntityReferences>", items.join(""));
        let other = format!("<Job Href=\"{{{{origin}}}}/api/jobs/1\" Type=\"Job\">{}</Job>", items.join(""));
        assert!(listing.len() > crate::cassette::LARGE_BODY && other.len() > crate::cassette::LARGE_BODY);
        let mut yaml = format!("format: {FORMAT}\nexchanges:\n");
        for (seq, body) in [&listing, &other].into_iter().enumerate() {
            yaml.push_str(&format!(
                "- seq: {}\n  request:\n    method: GET\n    uri: /api/{seq}\n  response:\n    status: 200\n    \
                 headers:\n    - Content-Type: application/xml\n    body: '{body}'\n",
                seq + 1
            ));
        }
        let pack = packed("sample-cut", &yaml);
        let read = Cassette::load_placed(&pack).unwrap();
        let placed = |i: usize| match read.cassette.response_body(i) {
            Body::Placed(p) => p.clone(),
            other => panic!("a placed body, not {other:?}"),
        };
        let (head, tail) = placed(0).sample_cut().expect("a large listing is cut");
        let text = placed(0).text().unwrap();
        let sample = format!("<EntityReferences>{}</EntityReferences>", items[..3].join(""));
        assert_eq!([&text[..head], &text[tail..]].concat(), sample);
        assert_eq!(placed(1).sample_cut(), None, "an entity is read whole");
    }

    #[test]
    fn bodies_packed_alike_are_known_alike_by_their_digests_without_reading_them() {
        let one = |text: &str| SMALL.replace("body: \"ü\"", &format!("body: \"{text}\""));
        let (a, b) = (packed("digest-a", &one("ab")), packed("digest-b", &one("ac")));
        let (a, b) = (Cassette::load_placed(&a).unwrap(), Cassette::load_placed(&b).unwrap());
        let body = |c: &LoadedCassette, i: usize| match c.cassette.response_body(i) {
            Body::Placed(p) => p.clone(),
            other => panic!("a placed body, not {other:?}"),
        };
        assert!(body(&a, 0).digest.is_some());
        assert!(body(&a, 0).same_as(&body(&b, 0)).unwrap(), "the same listing");
        assert!(!body(&a, 3).same_as(&body(&b, 3)).unwrap(), "one byte apart");
        // Written over, the packs can no longer be read; their digests still say what they held.
        for pack in [&a, &b] {
            let path = body(pack, 0).pack.name().to_owned();
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.push(b'\n');
            std::fs::write(&path, bytes).unwrap();
        }
        assert!(body(&a, 0).text().is_err());
        assert!(body(&a, 0).same_as(&body(&b, 0)).unwrap());
    }

    #[test]
    fn a_pack_of_the_first_version_is_read_from_its_yaml() {
        let path = packed("v1", SMALL);
        let bytes = std::fs::read(&path).unwrap();
        let head = std::str::from_utf8(&bytes[..HEADER_LEN]).unwrap();
        let [skeleton, bodies, catalog, loaded] = counts::<4>(head.as_bytes(), MAGIC).unwrap();
        let skeleton = skeleton - (HEADER_LEN - V1_LEN) as u64;
        let first = format!("{MAGIC_V1}skeleton={skeleton:020} bodies={bodies:020} catalog={catalog:020}\n");
        let v1 = [first.as_bytes(), &bytes[HEADER_LEN..bytes.len() - loaded as usize]].concat();
        let old = path.with_extension("v1.emtape");
        std::fs::write(&old, v1).unwrap();
        assert!(is_pack_file(&old));
        let read = Cassette::load(&old).unwrap();
        assert_eq!(read.cassette, Cassette::parse("c.yaml", SMALL).unwrap().cassette);
        assert!(Cassette::load_placed(&old).unwrap().pack.is_some_and(|p| p.loaded == 0));
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
        assert!(error(&path).contains("is not `# emtape-pack v2"), "{}", error(&path));
    }

    #[test]
    fn a_body_placed_past_the_bodies_is_refused_at_its_line() {
        let path = packed("past", SMALL);
        replace_first(&path, b"body_at: [0, ", b"body_at: [9, ");
        // Its YAML read (the YAML as read is stored as the YAML was).
        let path = as_another_emtapes(&path);
        let said = error(&path);
        assert!(said.contains("c.other.emtape:") && said.contains("runs past the pack's"), "{said}");
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
    fn a_placed_bodys_lines_are_read_across_its_blocks_as_far_as_the_last_asked() {
        // Lines of 26 bytes: line 40,330 runs across the end of the first block (1 MiB).
        let body: String = (1..=100_000).map(|n| format!("<Ref Name=\"{n:012}\"/>\n")).collect();
        let block: String = body.lines().map(|l| format!("      {l}\n")).collect();
        let yaml = format!(
            "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /api/\n  \
             response:\n    status: 200\n    body: |\n{block}"
        );
        let loaded = Cassette::load_placed(&packed("lines", &yaml)).unwrap();
        let placed = &loaded.cassette.exchanges[0].response.body;
        assert!(matches!(placed, Body::Placed(_)));
        let wanted: std::collections::BTreeSet<usize> = [1, 40_329, 40_330, 40_331, 100_000, 100_001].into();
        let lines = placed.lines(&wanted).unwrap();
        let expected: std::collections::BTreeMap<usize, String> =
            body.lines().enumerate().map(|(i, l)| (i + 1, l.to_owned())).filter(|(n, _)| wanted.contains(n)).collect();
        assert_eq!(lines, expected);
        assert_eq!(lines.len(), 5);
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
        write(
            &Cassette::parse("other.yaml", &SMALL.replace("<Items>", "<Other>")).unwrap(),
            &path,
            |_| Vec::new(),
            None,
        )
        .unwrap();
        let Body::Placed(p) = &loaded.cassette.exchanges[0].response.body else { panic!("not placed") };
        assert!(p.text().unwrap().starts_with("<Items>"));
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }
}
