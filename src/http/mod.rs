//! The HTTP edge: the only place hyper and rustls types appear. Everything past it works on the
//! crate's own buffered [`Request`] and [`Response`], converted once at the edge.

mod case;
pub mod client;
mod date;
pub mod server;
mod target;
pub mod tls;

use bytes::Bytes;

pub use date::{format_http_date, format_rfc3339, http_date, parse_datetime_seconds};

/// Header fields in the order they were sent, duplicates kept. Names compare case-insensitively.
/// Shared until changed: the exchanges of a large estate's cassette (half a million in each)
/// read with the same few header lists each share one ([`Headers::deserialize`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Headers(std::sync::Arc<Fields>);

/// Header fields, name and value.
type Fields = Vec<(String, String)>;

impl<'de> serde::Deserialize<'de> for Headers {
    /// Read as a list of fields (as it is written); a list equal to one of the first few this
    /// thread read is that one, shared.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Headers, D::Error> {
        /// How many lists a thread keeps to share.
        const KEPT: usize = 32;
        thread_local! {
            static READ: std::cell::RefCell<Vec<std::sync::Arc<Fields>>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        let fields = Fields::deserialize(d)?;
        Ok(Headers(READ.with_borrow_mut(|read| {
            if let Some(same) = read.iter().find(|r| ***r == fields) {
                return same.clone();
            }
            let fields = std::sync::Arc::new(fields);
            if read.len() < KEPT {
                read.push(fields.clone());
            }
            fields
        })))
    }
}

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.fields().push((name.into(), value.into()));
    }

    /// The fields to change: this list's own (copied first if it is shared).
    fn fields(&mut self) -> &mut Fields {
        std::sync::Arc::make_mut(&mut self.0)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes every field called `name`.
    pub fn remove(&mut self, name: &str) {
        if self.contains(name) {
            self.fields().retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
    }

    /// Replaces every field called `name` by one with `value`, in the place of the first.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        let fields = self.fields();
        match fields.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(i) => {
                fields[i].1 = value;
                let mut seen = 0;
                fields.retain(|(n, _)| {
                    let same = n.eq_ignore_ascii_case(name);
                    seen += usize::from(same);
                    !same || seen == 1
                });
            }
            None => fields.push((name.to_owned(), value)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&mut String, &mut String)> {
        self.fields().iter_mut().map(|(n, v)| (n, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, String)> for Headers {
    fn from_iter<T: IntoIterator<Item = (String, String)>>(iter: T) -> Self {
        Self(std::sync::Arc::new(iter.into_iter().collect()))
    }
}

/// Headers that belong to one connection, never forwarded or recorded.
pub const HOP_BY_HOP: [&str; 9] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A request as the server received it, body fully read.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path and query exactly as sent (origin form).
    pub target: String,
    pub headers: Headers,
    pub body: Bytes,
    /// `scheme://host[:port]` the client addressed, taken from `Host` (or the listening address
    /// when `Host` is missing or malformed). Links in responses are rewritten to it.
    pub origin: String,
    /// The client's address, when it came over a socket.
    pub peer: Option<std::net::SocketAddr>,
}

impl Request {
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
}

/// A response to send, or one a client received.
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub status: u16,
    /// A reason phrase other than the standard one (EM sends `BadRequest`, for example).
    pub reason: Option<String>,
    pub headers: Headers,
    pub body: Bytes,
    /// A body too large to hold, written block by block as it is sent (then `body` is empty).
    pub later: Option<Later>,
}

/// Writes a body block by block, in order, to a sink that says whether to go on: a server
/// sends the blocks as they come, in bounded memory.
type WriteBlocks = dyn Fn(&mut dyn FnMut(Bytes) -> bool) -> Result<(), String> + Send + Sync;

/// A body written when it is sent (a large body of a pack, read and filled a block at a time),
/// about how long it is, and how its sample is written when it has one ([`Later::sample`]).
#[derive(Clone)]
pub struct Later(std::sync::Arc<WriteBlocks>, usize, Option<std::sync::Arc<WriteBlocks>>);

impl Later {
    pub fn new(
        about: usize,
        write: impl Fn(&mut dyn FnMut(Bytes) -> bool) -> Result<(), String> + Send + Sync + 'static,
    ) -> Later {
        Later(std::sync::Arc::new(write), about, None)
    }

    /// With a sample: a large listing with its first items alone, whose links are the whole
    /// body's (see [`crate::em::list::sample_cut`]), written by `write`.
    pub fn sampled(
        self,
        write: impl Fn(&mut dyn FnMut(Bytes) -> bool) -> Result<(), String> + Send + Sync + 'static,
    ) -> Later {
        Later(self.0, self.1, Some(std::sync::Arc::new(write)))
    }

    /// Its sample, written now, or else the whole body: what a walk of its links reads
    /// (`emtape lint` walks a large estate's listings of half a million items).
    pub fn sample(&self) -> Result<Bytes, String> {
        match &self.2 {
            Some(write) => joined(&**write, 0),
            None => self.whole(),
        }
    }

    /// The whole body, written now ([`joined`]).
    pub fn whole(&self) -> Result<Bytes, String> {
        joined(&*self.0, self.1)
    }

    /// The body's blocks as they are written, on a blocking thread (a few blocks ahead of the
    /// client); a failure part way ends the body with an error, which breaks the connection.
    pub fn blocks(&self) -> server::Chunks {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let write = self.0.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = write(&mut |block| tx.blocking_send(Ok(block)).is_ok()) {
                log::warn!("emtape: a body broke off while it was sent: {e}");
                let _ = tx.blocking_send(Err(std::io::Error::other(e)));
            }
        });
        rx
    }
}

/// What `write` writes, written now: one block as it is, several joined as they come (a large
/// listing's blocks are never all held beside their join), into room made once for a body a
/// quarter longer than `about` (room never written to is never given memory; a join grown as
/// it comes was copied and its memory cleared again at each doubling).
fn joined(write: &WriteBlocks, about: usize) -> Result<Bytes, String> {
    let (mut only, mut joined) = (None::<Bytes>, Vec::new());
    write(&mut |block| {
        if only.is_none() && joined.is_empty() {
            only = Some(block);
        } else {
            if joined.is_empty() {
                joined.reserve(about.saturating_add(about / 4));
            }
            joined.extend_from_slice(&only.take().unwrap_or_default());
            joined.extend_from_slice(&block);
        }
        true
    })?;
    Ok(only.unwrap_or_else(|| Bytes::from(joined)))
}

impl std::fmt::Debug for Later {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Later(..)")
    }
}

impl Response {
    /// With any [`Later`] body written into `body`; why not, when it could not be written.
    pub fn settled(mut self) -> Result<Response, String> {
        if let Some(later) = self.later.take() {
            self.body = later.whole()?;
        }
        Ok(self)
    }

    pub fn new(status: u16) -> Self {
        Self { status, ..Self::default() }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push(name, value);
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}

/// Header names as EM and common clients spell them, so cassettes read naturally even though
/// hyper hands names over in lower case.
pub fn canonical_name(name: &str) -> String {
    const KNOWN: &[&str] = &[
        "X-RestSvcSessionId",
        "WWW-Authenticate",
        "ETag",
        "X-Powered-By",
        "X-AspNet-Version",
        "Content-MD5",
        "TE",
        "DNT",
    ];
    if let Some(k) = KNOWN.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        return (*k).to_owned();
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
        upper = c == '-';
    }
    out
}

/// Whether `host` is safe to put into a URL we hand back to clients: a host name, IPv4 or
/// bracketed IPv6 address, with an optional port. Anything else is ignored as a `Host` value.
pub fn is_valid_authority(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lists_read_alike_are_shared_until_one_is_changed() {
        let text = r#"[["Content-Type","application/xml"],["Date","{{date}}"]]"#;
        let (a, mut b): (Headers, Headers) = (serde_json::from_str(text).unwrap(), serde_json::from_str(text).unwrap());
        assert!(std::sync::Arc::ptr_eq(&a.0, &b.0), "read alike, kept once");
        b.set("Date", "Mon, 07 Dec 2026 12:00:00 GMT");
        b.push("Server", "Microsoft-HTTPAPI/2.0");
        assert_eq!(a.get("Date"), Some("{{date}}"));
        assert_eq!(a.len(), 2);
        assert_eq!((b.get("Date"), b.len()), (Some("Mon, 07 Dec 2026 12:00:00 GMT"), 3));
        assert_eq!(serde_json::to_string(&a).unwrap(), text, "written as it was read");
        let other: Headers = serde_json::from_str(r#"[["Accept","application/json"]]"#).unwrap();
        assert_eq!(other.get("accept"), Some("application/json"));
    }

    #[test]
    fn a_later_body_written_whole_is_its_blocks_joined_in_order() {
        let of = |blocks: &'static [&'static str]| {
            Later::new(4, move |sink| {
                blocks.iter().all(|b| sink(Bytes::from_static(b.as_bytes())));
                Ok(())
            })
            .whole()
            .unwrap()
        };
        assert_eq!(of(&["<Items>"]), "<Items>");
        assert_eq!(of(&["", "<Items>", "", "</Items>", "\n"]), "<Items></Items>\n");
        assert_eq!(of(&["", ""]), "");
        assert_eq!(of(&[]), "");
        let failed = Later::new(7, |sink| {
            sink(Bytes::from_static(b"<Items>"));
            Err("the pack was written over".into())
        });
        assert_eq!(failed.whole().unwrap_err(), "the pack was written over");
    }

    #[test]
    fn headers_keep_order_and_duplicates() {
        let mut h = Headers::new();
        h.push("Cookie", "a=1");
        h.push("Accept", "application/json");
        h.push("cookie", "b=2");
        assert_eq!(h.get_all("COOKIE").collect::<Vec<_>>(), ["a=1", "b=2"]);
        h.set("cookie", "c=3");
        assert_eq!(h.iter().collect::<Vec<_>>(), [("Cookie", "c=3"), ("Accept", "application/json")]);
        h.remove("accept");
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn canonical_names_read_like_em() {
        assert_eq!(canonical_name("x-restsvcsessionid"), "X-RestSvcSessionId");
        assert_eq!(canonical_name("content-type"), "Content-Type");
        assert_eq!(canonical_name("www-authenticate"), "WWW-Authenticate");
    }

    #[test]
    fn authorities_reject_injection() {
        assert!(is_valid_authority("127.0.0.1:9398"));
        assert!(is_valid_authority("[::1]:80"));
        assert!(is_valid_authority("em01.lab.local"));
        assert!(!is_valid_authority("evil\"><x"));
        assert!(!is_valid_authority("a/b"));
        assert!(!is_valid_authority(""));
    }
}
