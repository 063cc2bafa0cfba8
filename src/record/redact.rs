//! Turning live exchanges into cassette exchanges that are safe to keep: the recorded server's
//! address becomes `{{origin}}`, session tokens and ids become `{{token:N}}` and
//! `{{session-id:N}}` (one number per session, throughout the cassette), credentials and
//! whatever the user lists become `{{redacted}}`, and volatile or per-connection headers are
//! normalised or dropped so that re-recording an unchanged server gives the same cassette.

use std::borrow::Cow;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use super::Sent;
use crate::cassette::{Body, Exchange, RecordedRequest, RecordedResponse};
use crate::diagnostic::yaml_diagnostic;
use crate::em;
use crate::http::{HOP_BY_HOP, Headers, Response, canonical_name};
use crate::vbr;

/// What the user adds to the built-in redactions (`--redact FILE`).
///
/// ```yaml
/// headers: [X-Api-Key]          # header values
/// xml: [Password, "@Secret"]    # element text or attribute values, by name (the last step of a path)
/// json: [apiKey]                # values of these keys
/// regex: ["SECRET-[0-9]+"]      # anything matching (group 1 if there is one)
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub xml: Vec<String>,
    #[serde(default)]
    pub json: Vec<String>,
    #[serde(default)]
    pub regex: Vec<String>,
}

impl RedactConfig {
    /// Reads a redaction file; errors name file, line and column.
    pub fn load(path: &Path) -> Result<RedactConfig, String> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read redaction file {name}: {e}"))?;
        let config: RedactConfig = serde_yaml::from_str(&text)
            .map_err(|e| format!("invalid redaction file: {}", yaml_diagnostic(&name, &text, &e)))?;
        for r in &config.regex {
            Regex::new(r).map_err(|e| format!("invalid redaction file {name}: regex `{r}` does not compile: {e}"))?;
        }
        Ok(config)
    }
}

use crate::em::session::{REDACTED, redact_query};

struct Session {
    token: String,
    id: Option<SessionId>,
    /// The OAuth2 refresh token issued with it (VBR), written `{{refresh-token:N}}`.
    refresh: Option<String>,
    number: u32,
}

/// Remembers sessions across the exchanges of one cassette.
pub struct Redactor {
    origins: Vec<String>,
    sessions: Vec<Session>,
    first_session: u32,
    headers: Vec<String>,
    /// Each rule: a text its guard does not admit has no match of its own.
    body_rules: Vec<(Guard, Regex, Replace)>,
    /// How the server mints tokens, learnt from its first logon.
    pub token_style: Option<em::TokenStyle>,
}

impl Redactor {
    /// `origin` is the recorded server's `scheme://host:port`.
    pub fn new(origin: &str, config: &RedactConfig) -> Redactor {
        let origin = origin.trim_end_matches('/').to_owned();
        let mut origins = vec![origin.clone(), origin.replace('/', "\\/")];
        // A default port may or may not be written out.
        for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
            if let Some(stripped) = origin.strip_suffix(port).filter(|o| o.starts_with(scheme)) {
                origins.push(stripped.to_owned());
            }
        }
        let mut body_rules = Vec::new();
        let mut xml_names = vec!["Password".to_owned()];
        xml_names.extend(config.xml.iter().map(|p| p.rsplit('/').next().unwrap_or(p).to_owned()));
        let literal = |text: &str| Guard::Literal(Box::new(memchr::memmem::Finder::new(text.as_bytes()).into_owned()));
        for raw in xml_names {
            let raw = raw.trim();
            let name = regex::escape(raw);
            if let Some(attr) = name.strip_prefix('@') {
                body_rules.push((
                    literal(&raw[1..]),
                    Regex::new(&format!(r#"(\b{attr}\s*=\s*")[^"]*(")"#)).expect("escaped"),
                    Replace::With(format!("${{1}}{REDACTED}${{2}}")),
                ));
            } else {
                body_rules.push((
                    literal(raw),
                    Regex::new(&format!(r"(<(?:[\w.-]+:)?{name}(?:\s[^>]*)?>)[^<]*(</(?:[\w.-]+:)?{name}\s*>)"))
                        .expect("escaped"),
                    Replace::With(format!("${{1}}{REDACTED}${{2}}")),
                ));
            }
        }
        // Built-in names in any (ASCII) case: EM's `Password`, VBR's `password`, OAuth2's
        // tokens. The user's as written.
        let builtin = format!("(?i-u:{})", BUILTIN_JSON_KEYS.join("|"));
        body_rules.push((
            Guard::JsonKey(Box::new(JsonKeys::new(BUILTIN_JSON_KEYS))),
            json_rule(&builtin),
            Replace::JsonValue,
        ));
        for key in &config.json {
            body_rules.push((literal(key), json_rule(&regex::escape(key)), Replace::JsonValue));
        }
        for r in &config.regex {
            if let Ok(re) = Regex::new(r) {
                let replacement =
                    if re.captures_len() > 1 { Replace::Group } else { Replace::With(REDACTED.to_owned()) };
                body_rules.push((Guard::Any, re, replacement));
            }
        }
        Redactor {
            origins,
            sessions: Vec::new(),
            first_session: 1,
            headers: config.headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
            body_rules,
            token_style: None,
        }
    }

    /// One exchange, redacted: the request as sent (`uri` its path and query), the response's
    /// head and its body. With `body_same_as` the body is one an earlier exchange recorded, and
    /// is not written again.
    pub fn exchange(
        &mut self,
        seq: u64,
        sent: &Sent<'_>,
        uri: &str,
        head: &Response,
        response_body: &[u8],
        body_same_as: Option<u64>,
    ) -> Exchange {
        let (method, request_headers, request_body) = (sent.method, sent.headers, sent.body);
        let (status, reason, response_headers) = (head.status, head.reason.as_deref(), &head.headers);
        if let Some(token) = em::session_token(request_headers).or_else(|| vbr::bearer(request_headers)) {
            self.learn(token, None);
        }
        if let (Some(access), refresh) = vbr::tokens_in(response_body) {
            self.learn(&access, None);
            if let Some(s) = self.sessions.iter_mut().find(|s| s.token == access) {
                s.refresh = s.refresh.take().or(refresh);
            }
        }
        if let Some(token) = response_headers.get(em::SESSION_HEADER) {
            let id = crate::em::session::session_id_in(response_body);
            if let Some(id) = &id {
                self.token_style.get_or_insert(em::TokenStyle::of_token(token.trim(), id));
            }
            self.learn(token.trim(), id);
        }
        let request = RecordedRequest {
            method: method.to_owned(),
            uri: redact_query(&self.text(uri)),
            headers: self.headers(request_headers, false),
            body: self.request_body(request_headers, request_body),
        };
        let response = RecordedResponse {
            status,
            reason: reason.map(str::to_owned),
            headers: self.headers(response_headers, true),
            body: if body_same_as.is_some() { Body::Empty } else { self.body(response_body) },
            body_same_as,
        };
        Exchange { seq, request, response }
    }

    fn learn(&mut self, token: &str, id: Option<String>) {
        if token.is_empty() || token.contains("{{") {
            return;
        }
        if let Some(s) = self.sessions.iter_mut().find(|s| s.token == token) {
            if s.id.is_none() {
                s.id = id.map(SessionId::new);
            }
            return;
        }
        let number = self.sessions.iter().map(|s| s.number).max().unwrap_or(0).max(self.first_session - 1) + 1;
        self.assign(token, id, number);
    }

    /// Records `token` as logon session `number` (a recorder appending to a cassette reuses the
    /// number the cassette already gives the session).
    pub fn assign(&mut self, token: &str, id: Option<String>, number: u32) {
        let decoded = crate::em::session_id_of(token);
        self.sessions.retain(|s| s.token != token);
        let id = id.or(decoded).map(SessionId::new);
        self.sessions.push(Session { token: token.to_owned(), id, refresh: None, number });
    }

    /// New sessions are numbered from `first` on.
    pub fn number_from(&mut self, first: u32) {
        self.first_session = first.max(1);
    }

    /// Replaces the origin and every known session token and id in `text`.
    fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for s in &self.sessions {
            let n = s.number;
            replace_in(&mut out, &s.token, &format!("{{{{token:{n}}}}}"));
            if let Some(id) = &s.id {
                id.replace_in(&mut out, &format!("{{{{session-id:{n}}}}}"));
            }
            if let Some(refresh) = &s.refresh {
                replace_in(&mut out, refresh, &format!("{{{{refresh-token:{n}}}}}"));
            }
        }
        for origin in &self.origins {
            replace_in(&mut out, origin, "{{origin}}");
        }
        out
    }

    fn headers(&self, headers: &Headers, response: bool) -> Headers {
        let mut out = Headers::new();
        for (name, value) in headers.iter() {
            let lower = name.to_ascii_lowercase();
            if HOP_BY_HOP.contains(&lower.as_str()) || lower == "content-length" {
                continue;
            }
            let value = if lower == "authorization" || lower == "proxy-authorization" {
                match value.split_once(' ') {
                    // A bearer token is a session's: `Bearer {{token:1}}` keeps which.
                    Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && self.knows(token.trim()) => {
                        format!("{scheme} {}", self.text(token.trim()))
                    }
                    Some((scheme, _)) => format!("{scheme} {REDACTED}"),
                    None => REDACTED.to_owned(),
                }
            } else if self.headers.contains(&lower) {
                REDACTED.to_owned()
            } else if response && lower == "date" {
                "{{date}}".to_owned()
            } else {
                self.text(value).into_owned()
            };
            out.push(canonical_name(name), value);
        }
        out
    }

    fn knows(&self, token: &str) -> bool {
        self.sessions.iter().any(|s| s.token == token)
    }

    /// A request body; an OAuth2 form's secrets become the session's placeholders or are
    /// redacted field by field.
    fn request_body(&self, headers: &Headers, bytes: &[u8]) -> Body {
        match Body::from_bytes(bytes) {
            Body::Text { text, bom } if vbr::is_form(headers.get("content-type"), &text) => {
                let known = |v: &str| self.knows_secret(v).then(|| self.text(v).into_owned());
                Body::Text { text: self.body_text(&vbr::redact_form(&text, known, REDACTED)).into(), bom }
            }
            _ => self.body(bytes),
        }
    }

    fn knows_secret(&self, value: &str) -> bool {
        self.sessions.iter().any(|s| s.token == value || s.refresh.as_deref() == Some(value))
    }

    fn body(&self, bytes: &[u8]) -> Body {
        match Body::from_bytes(bytes) {
            Body::Text { text, bom } => Body::Text { text: self.body_text(&text).into(), bom },
            other => other,
        }
    }

    /// Body text with the origin, sessions and every redaction rule applied.
    pub fn body_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = self.text(text);
        for (guard, re, replacement) in &self.body_rules {
            if guard.admits(&text) && re.is_match(&text) {
                text = Cow::Owned(match replacement {
                    Replace::JsonValue => redact_json_values(re, &text),
                    Replace::Group => redact_groups(re, &text),
                    Replace::With(with) => re.replace_all(&text, with.as_str()).into_owned(),
                });
            }
        }
        text
    }
}

/// The JSON keys whose string values are always redacted, in any ASCII case.
const BUILTIN_JSON_KEYS: &[&str] = &["password", "client_secret", "access_token", "refresh_token"];

/// The rule for a JSON key (`key`, a regex): group 1 up to the value, group 2 the value.
fn json_rule(key: &str) -> Regex {
    Regex::new(&format!(r#"("{key}"\s*:\s*)"((?:[^"\\]|\\.)*)""#)).expect("escaped")
}

/// What a text must hold for a body rule to match in it, found faster than by the rule's own
/// regex (redaction reads every body, some of them hundreds of megabytes).
enum Guard {
    /// Nothing: the rule's regex looks for itself.
    Any,
    /// A literal the rule needs.
    Literal(Box<memchr::memmem::Finder<'static>>),
    /// One of these JSON keys.
    JsonKey(Box<JsonKeys>),
}

impl Guard {
    fn admits(&self, text: &str) -> bool {
        match self {
            Guard::Any => true,
            Guard::Literal(finder) => finder.find(text.as_bytes()).is_some(),
            Guard::JsonKey(keys) => keys.in_text(text),
        }
    }
}

/// JSON keys (ASCII names, compared in any case) found as keys: `"name"`, then white space, then
/// `:`. Each is looked for by its last letters and closing quote, in every case at once: rare in
/// XML and JSON alike. (Read from each colon back, it stopped at the two of every link's Href;
/// a search for the names alone would stop at every `Href`, `ref` as in `refresh_token`.)
struct JsonKeys {
    names: &'static [&'static str],
    /// The names' ends, found by aho-corasick's SIMD searcher: its automaton picks a search of
    /// its own for these (for `"`, in every XML attribute), and is kept for a machine without.
    simd: Option<aho_corasick::packed::Searcher>,
    automaton: aho_corasick::AhoCorasick,
}

impl JsonKeys {
    /// How many of a name's last letters are looked for, before its closing quote.
    const LAST: usize = 3;

    fn new(names: &'static [&'static str]) -> JsonKeys {
        let mut ends = std::collections::BTreeSet::new();
        for name in names {
            let last = &name.as_bytes()[name.len().saturating_sub(Self::LAST)..];
            for upper in 0..1u32 << last.len() {
                let mut end: Vec<u8> = (last.iter().enumerate())
                    .map(|(i, b)| if upper >> i & 1 == 1 { b.to_ascii_uppercase() } else { b.to_ascii_lowercase() })
                    .collect();
                end.push(b'"');
                ends.insert(end);
            }
        }
        JsonKeys {
            names,
            simd: aho_corasick::packed::Searcher::new(&ends),
            automaton: aho_corasick::AhoCorasick::new(&ends).expect("a few short literals"),
        }
    }

    fn in_text(&self, text: &str) -> bool {
        let bytes = text.as_bytes();
        let is_key = |end: usize| {
            let quote = end - 1;
            // The regex's `\s` is Unicode white space, as `trim_start` is.
            text[end..].trim_start().starts_with(':')
                && self.names.iter().any(|name| {
                    quote > name.len()
                        && bytes[quote - name.len() - 1] == b'"'
                        && bytes[quote - name.len()..quote].eq_ignore_ascii_case(name.as_bytes())
                })
        };
        match &self.simd {
            Some(simd) => simd.find_iter(bytes).any(|m| is_key(m.end())),
            None => self.automaton.find_iter(bytes).any(|m| is_key(m.end())),
        }
    }
}

/// A logon session's id, found in any ASCII case without a lower-case copy of the text: by its
/// longest run without a letter (a UUID's digits and dashes), each find checked in full.
struct SessionId {
    id: String,
    /// Where that run starts in the id, and a search for it.
    anchor: Option<(usize, memchr::memmem::Finder<'static>)>,
}

impl SessionId {
    /// A run this short would be found too often to check each find.
    const SHORTEST_ANCHOR: usize = 4;

    fn new(id: String) -> SessionId {
        let mut best = (0, 0);
        let mut start = 0;
        for (i, b) in id.bytes().chain([b'a']).enumerate() {
            if b.is_ascii_alphabetic() {
                if i - start > best.1 - best.0 {
                    best = (start, i);
                }
                start = i + 1;
            }
        }
        let anchor = (best.1 - best.0 >= Self::SHORTEST_ANCHOR)
            .then(|| (best.0, memchr::memmem::Finder::new(&id.as_bytes()[best.0..best.1]).into_owned()));
        SessionId { id, anchor }
    }

    fn replace_in(&self, text: &mut Cow<'_, str>, replacement: &str) {
        let Some((offset, finder)) = &self.anchor else {
            if let Some(out) = replaced(text, &text.to_ascii_lowercase(), &self.id.to_ascii_lowercase(), replacement) {
                *text = Cow::Owned(out);
            }
            return;
        };
        let (bytes, id) = (text.as_bytes(), self.id.as_bytes());
        // Each find searched from the byte after the last: a find that is not the id may
        // overlap one that is (id `0000a`, text `00000a`). Bytes equal to the id's but for ASCII
        // case begin and end characters, as the id's do.
        let mut from = 0;
        let starts = std::iter::from_fn(|| {
            let found = from + finder.find(bytes.get(from..)?)?;
            from = found + 1;
            Some(found)
        })
        .filter_map(|found| found.checked_sub(*offset))
        .filter(|start| bytes.get(*start..start + id.len()).is_some_and(|b| b.eq_ignore_ascii_case(id)));
        if let Some(out) = replaced_at(text, starts, id.len(), replacement) {
            *text = Cow::Owned(out);
        }
    }
}

/// What a body rule puts in place of what it matches.
enum Replace {
    /// This text (`$1` and `$2` for the groups kept).
    With(String),
    /// Group 1 becomes the placeholder, the rest of the match stays (a user's regex with a group).
    Group,
    /// A JSON secret key's string value (group 2) becomes the placeholder, unless it is one.
    JsonValue,
}

/// Replaces the value (group 2) of every match with the placeholder, unless it already is one.
fn redact_json_values(re: &Regex, text: &str) -> String {
    re.replace_all(text, |caps: &regex::Captures<'_>| {
        let value = &caps[2];
        if vbr::is_placeholder(value) { caps[0].to_owned() } else { format!("{}\"{REDACTED}\"", &caps[1]) }
    })
    .into_owned()
}

/// Replaces group 1 of every match with the placeholder, keeping the rest of the match.
fn redact_groups(re: &Regex, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        if let Some(g) = caps.get(1) {
            out.push_str(&text[last..g.start()]);
            out.push_str(REDACTED);
            last = g.end();
        }
    }
    out.push_str(&text[last..]);
    out
}

/// Replaces every `needle` in `text` (memchr's search: redaction reads every body, some of
/// them hundreds of megabytes).
fn replace_in(text: &mut Cow<'_, str>, needle: &str, replacement: &str) {
    if let Some(out) = replaced(text, text, needle, replacement) {
        *text = Cow::Owned(out);
    }
}

/// `text` with what `needle` matches in `searched` (the text, or the same text in another
/// case, byte for byte as long) replaced; `None` when nothing matches.
fn replaced(text: &str, searched: &str, needle: &str, replacement: &str) -> Option<String> {
    if needle.is_empty() {
        return None;
    }
    let at = memchr::memmem::find_iter(searched.as_bytes(), needle.as_bytes());
    replaced_at(text, at, needle.len(), replacement)
}

/// `text` with the `len` bytes at each of `starts` (in order; one overlapping the last
/// replaced is passed over) replaced; `None` when there is none.
fn replaced_at(text: &str, starts: impl Iterator<Item = usize>, len: usize, replacement: &str) -> Option<String> {
    let mut out = String::new();
    let mut last = None;
    for start in starts {
        match last {
            Some(l) if start < l => continue,
            Some(_) => {}
            None => out.reserve(text.len()),
        }
        out.push_str(&text[last.unwrap_or(0)..start]);
        out.push_str(replacement);
        last = Some(start + len);
    }
    out.push_str(&text[last?..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Redaction is idempotent, and a seeded secret never survives it, in any place.
        #[test]
        fn redaction_is_idempotent_and_leaves_no_seeded_secret(
            secret in "[A-Za-z0-9]{8,16}",
            filler in "[ a-z<>/\"=:,{}]{0,40}",
            place in 0usize..4,
        ) {
            let r = Redactor::new("http://em:9398", &RedactConfig { json: vec!["ApiSecret".into()], ..RedactConfig::default() });
            let body = match place {
                0 => format!("{filler}<Password>{secret}</Password>{filler}"),
                1 => format!("{{\"Password\": \"{secret}\", \"x\": \"{filler}\"}}"),
                2 => format!("{{\"ApiSecret\": \"{secret}\"}}{filler}"),
                _ => format!("<a:Password xmlns:a=\"u\">{secret}</a:Password>"),
            };
            let once = r.body_text(&body);
            proptest::prop_assert!(!once.contains(&secret), "{once}");
            proptest::prop_assert_eq!(r.body_text(&once), once.clone());
            let target = format!("/api/x?a=1&token={secret}&Password={secret}");
            let redacted = redact_query(&target);
            proptest::prop_assert!(!redacted.contains(&secret));
            proptest::prop_assert_eq!(redact_query(&redacted), redacted);
        }
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// The guard of the built-in JSON keys admits every text their rule matches in: a key in
        /// any case, Unicode white space before its colon, in JSON or inside XML.
        #[test]
        fn the_json_key_guard_admits_every_text_the_rule_matches_in(
            before in "[a-z<>/\"=:, {}]{0,12}",
            open in proptest::bool::ANY,
            key in proptest::sample::select(vec!["password", "client_secret", "access_token", "refresh_token", "refresh", "Href", "my_password"])
                .prop_flat_map(|name| proptest::collection::vec(proptest::bool::ANY, name.len())
                    .prop_map(move |upper| name.chars().zip(upper).map(|(c, u)| if u { c.to_ascii_uppercase() } else { c }).collect::<String>())),
            close in proptest::bool::ANY,
            space in proptest::collection::vec(proptest::sample::select(vec![" ", "\t", "\n", "\u{a0}", "\u{2003}", "\u{3000}"]), 0..3),
            colon in proptest::bool::ANY,
            value in proptest::option::of(" ?\"[a-z]{0,5}\""),
            after in "[a-z<>/\"=:, {}]{0,12}",
        ) {
            let quote = |q: bool| if q { "\"" } else { "" };
            let colon = if colon { ":" } else { "" };
            let value = value.unwrap_or_default();
            let text = format!("{before}{}{key}{}{}{colon}{value}{after}", quote(open), quote(close), space.concat());
            let rule = json_rule(&format!("(?i-u:{})", BUILTIN_JSON_KEYS.join("|")));
            let keys = JsonKeys::new(BUILTIN_JSON_KEYS);
            proptest::prop_assert!(!rule.is_match(&text) || keys.in_text(&text), "{text:?}");
        }
    }

    #[test]
    fn a_json_key_is_found_in_any_case_before_its_colon_and_a_near_name_is_not() {
        let (simd, automaton) =
            (JsonKeys::new(BUILTIN_JSON_KEYS), JsonKeys { simd: None, ..JsonKeys::new(BUILTIN_JSON_KEYS) });
        // Found alike by either search.
        let json_key_in = |text: &str| {
            let found = simd.in_text(text);
            assert_eq!(automaton.in_text(text), found, "{text}");
            found
        };
        assert!(json_key_in("{\"Refresh_Token\" \u{a0}: \"x\"}"));
        assert!(json_key_in(r#"<a>{"PASSWORD":"x"}</a>"#));
        assert!(json_key_in(r#""password":"#), "at the very start");
        assert!(json_key_in(r#"{"a": "b\"token", "access_tOKEN"  :"x"}"#), "after a near miss");
        assert!(!json_key_in(r#"<Link Href="/api/x" Rel="refresh_token" />"#), "a value, not a key");
        assert!(!json_key_in(r#"{"my_password": "x"}"#), "another key");
        assert!(!json_key_in(r#"{password": "x"}"#), "no opening quote");
        assert!(!json_key_in(r#"{"password" "x"}"#), "no colon");
        assert!(!json_key_in(r#"{"password""#), "the end");
        assert!(!json_key_in(":"));
        let r = Redactor::new("http://em:9398", &RedactConfig::default());
        assert_eq!(r.body_text(r#"{"Client_Secret" : "s3cr3t"}"#), r#"{"Client_Secret" : "{{redacted}}"}"#);
    }

    #[test]
    fn a_session_id_is_replaced_in_any_case_wherever_it_stands() {
        let placeholder = "{{session-id:1}}";
        let replace = |id: &str, text: &str| {
            let mut text = Cow::Borrowed(text);
            SessionId::new(id.to_owned()).replace_in(&mut text, placeholder);
            text.into_owned()
        };
        let id = "1c4b5d0e-8f21-4a3b-9c77-0123456789ab";
        let upper = id.to_ascii_uppercase();
        let mixed = "1C4b5D0e-8F21-4a3B-9c77-0123456789Ab";
        let text = format!("{id}/{upper} é {mixed}x{id}");
        assert_eq!(replace(id, &text), "{{session-id:1}}/{{session-id:1}} é {{session-id:1}}x{{session-id:1}}");
        assert_eq!(replace(id, "0123456789 1c4b5d0e-8f21"), "0123456789 1c4b5d0e-8f21", "its digits alone are not it");
        // Letters only: no run to search by, the whole text is compared in lower case.
        assert_eq!(replace("AbCdEf", "x abcdef ABCDEF"), "x {{session-id:1}} {{session-id:1}}");
        assert_eq!(replace("", "text"), "text");
        // A find of its run that is not the id overlaps one that is.
        assert_eq!(replace("0000a", "00000a 00000A"), "0{{session-id:1}} 0{{session-id:1}}");
        // The id's run stands after its start, and the id ends the text.
        assert_eq!(replace("ab1234", "x AB1234"), "x {{session-id:1}}");
    }

    proptest::proptest! {
        /// A session id is replaced where the text and the id, both in lower case, match, left to
        /// right: the lower-cased search it spares.
        #[test]
        fn a_session_id_is_replaced_where_a_lower_cased_search_finds_it(
            id in proptest::prop_oneof!["[a-fA-F0-9-]{1,10}", "[0-]{4,6}[a-f]{0,2}"],
            pieces in proptest::collection::vec((0usize..5, "[a-fA-F0-9é -]{0,4}"), 0..8),
        ) {
            let text: String = pieces
                .iter()
                .map(|(how, noise)| match how {
                    0 => id.to_ascii_uppercase(),
                    1 => id.to_ascii_lowercase(),
                    2 => id[..id.len() / 2].to_owned(),
                    // Its start, then the id: a find of its run overlaps it.
                    3 => format!("{}{id}", &id[..1]),
                    _ => noise.clone(),
                })
                .collect();
            let expected = replaced(&text, &text.to_ascii_lowercase(), &id.to_ascii_lowercase(), "{{id}}")
                .unwrap_or_else(|| text.clone());
            let mut got = Cow::Borrowed(text.as_str());
            SessionId::new(id.clone()).replace_in(&mut got, "{{id}}");
            proptest::prop_assert_eq!(got.as_ref(), expected.as_str());
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn secrets_become_placeholders_one_number_per_session() {
        let mut r = Redactor::new("https://em.lab:9398", &RedactConfig::default());
        let token = "NDRjZmJkYmUtNWE5NS00MTU2LTg4NjctOTFmMDY5YjdjMmNj";
        let request = h(&[("authorization", "Basic dXNlcjpwYXNz"), ("host", "em.lab:9398")]);
        let sent = Sent { method: "POST", url: "/api/sessionMngr/?v=latest", headers: &request, body: b"" };
        let head = Response {
            status: 201,
            reason: None,
            body: Default::default(),
            later: None,
            headers: h(&[
                ("x-restsvcsessionid", token),
                ("location", "https://em.lab:9398/api/logonSessions/44cfbdbe-5a95-4156-8867-91f069b7c2cc"),
                ("date", "Thu, 01 Jan 2026 00:00:00 GMT"),
            ]),
        };
        let logon = r.exchange(
            1,
            &sent,
            sent.url,
            &head,
            b"<LogonSession Href=\"https://em.lab:9398/api/logonSessions/44cfbdbe-5a95-4156-8867-91f069b7c2cc\"><SessionId>44cfbdbe-5a95-4156-8867-91f069b7c2cc</SessionId></LogonSession>",
            None,
        );
        let text = crate::cassette::Cassette { meta: Default::default(), exchanges: vec![logon] }.to_yaml();
        assert!(
            !text.contains(token)
                && !text.contains("44cfbdbe")
                && !text.contains("dXNlcjpwYXNz")
                && !text.contains("em.lab"),
            "{text}"
        );
        assert!(text.contains("- Authorization: Basic {{redacted}}"));
        assert!(text.contains("- X-RestSvcSessionId: \"{{token:1}}\""));
        assert!(text.contains("- Location: \"{{origin}}/api/logonSessions/{{session-id:1}}\""));
        assert!(text.contains("<SessionId>{{session-id:1}}</SessionId>"));
        assert!(text.contains("- Date: \"{{date}}\""));
        assert!(!text.contains("Host"));
        let cookie = h(&[("Cookie", &format!("X-RestSvcSessionId={token}"))]);
        let uri = "/api/logonSessions/44CFBDBE-5a95-4156-8867-91f069b7c2cc";
        let sent = Sent { method: "DELETE", url: uri, headers: &cookie, body: b"" };
        let later = r.exchange(2, &sent, uri, &Response::new(204), b"", None);
        assert_eq!(later.request.uri, "/api/logonSessions/{{session-id:1}}");
        assert_eq!(later.request.headers.get("cookie"), Some("X-RestSvcSessionId={{token:1}}"));
    }

    #[test]
    fn vbr_oauth2_secrets_never_reach_the_cassette_and_tokens_keep_their_session() {
        let mut r = Redactor::new("https://vbr.lab:9419", &RedactConfig::default());
        let (access, refresh) = ("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "rt-7f3a9c0d2e4b");
        let form = h(&[("Content-Type", "application/x-www-form-urlencoded"), ("x-api-version", "1.3-rev1")]);
        let body = b"grant_type=password&username=CORP%5Cadmin&password=Hunter2%21";
        let sent = Sent { method: "POST", url: "/api/oauth2/token", headers: &form, body };
        let answer = format!(
            r#"{{"access_token":"{access}","token_type":"bearer","refresh_token":"{refresh}","expires_in":899,"username":"CORP\\admin"}}"#
        );
        let logon = r.exchange(1, &sent, sent.url, &Response::new(200), answer.as_bytes(), None);
        let bearer = h(&[("Authorization", &format!("Bearer {access}")), ("x-api-version", "1.3-rev1")]);
        let sent = Sent { method: "GET", url: "/api/v1/restorePoints?limit=5", headers: &bearer, body: b"" };
        let list = r.exchange(2, &sent, sent.url, &Response::new(200), br#"{"data":[],"password":"p"}"#, None);
        let again = format!("grant_type=refresh_token&refresh_token={refresh}");
        let sent = Sent { method: "POST", url: "/api/oauth2/token", headers: &form, body: again.as_bytes() };
        let renewed = r.exchange(3, &sent, sent.url, &Response::new(200), br#"{"access_token":"second"}"#, None);
        let bodies = |e: &Exchange| {
            [e.request.body.as_text().unwrap_or("").to_owned(), e.response.body.as_text().unwrap_or("").to_owned()]
        };
        let (logon, renewed) = (bodies(&logon), bodies(&renewed));
        assert_eq!(logon[0], "grant_type=password&username=CORP%5Cadmin&password={{redacted}}");
        assert_eq!(
            logon[1],
            r#"{"access_token":"{{token:1}}","token_type":"bearer","refresh_token":"{{refresh-token:1}}","expires_in":899,"username":"CORP\\admin"}"#
        );
        assert_eq!(list.request.headers.get("authorization"), Some("Bearer {{token:1}}"));
        assert_eq!(list.response.body.as_text(), Some(r#"{"data":[],"password":"{{redacted}}"}"#));
        assert_eq!(
            renewed,
            ["grant_type=refresh_token&refresh_token={{refresh-token:1}}", r#"{"access_token":"{{token:2}}"}"#]
        );
        let text = crate::cassette::Cassette { meta: Default::default(), exchanges: vec![list] }.to_yaml();
        for secret in [access, refresh, "Hunter2", "second", "\"p\""] {
            assert!(
                !text.contains(secret) && !logon.concat().contains(secret) && !renewed.concat().contains(secret),
                "{secret}"
            );
        }
    }

    #[test]
    fn credentials_in_bodies_and_user_rules_are_redacted() {
        let config = RedactConfig {
            headers: vec!["X-Api-Key".into()],
            xml: vec!["LoginSpec/OrganizationName".into(), "@Secret".into()],
            json: vec!["apiKey".into()],
            regex: vec!["card=([0-9]+)".into()],
        };
        let mut r = Redactor::new("http://127.0.0.1:1", &config);
        let body = br#"<LoginSpec><TenantCredentials><Username>t</Username><Password>hunter2</Password></TenantCredentials><OrganizationName>Org</OrganizationName><X Secret="s3"/> card=4111</LoginSpec>"#;
        let key = h(&[("X-Api-Key", "k")]);
        let sent = Sent { method: "POST", url: "/x", headers: &key, body };
        let e =
            r.exchange(1, &sent, "/x", &Response::new(200), br#"{"Password": "p\"w", "apiKey":"abc", "ok": 1}"#, None);
        let req = e.request.body.as_text().unwrap();
        assert_eq!(
            req,
            "<LoginSpec><TenantCredentials><Username>t</Username><Password>{{redacted}}</Password></TenantCredentials><OrganizationName>{{redacted}}</OrganizationName><X Secret=\"{{redacted}}\"/> card={{redacted}}</LoginSpec>"
        );
        assert_eq!(
            e.response.body.as_text().unwrap(),
            r#"{"Password": "{{redacted}}", "apiKey":"{{redacted}}", "ok": 1}"#
        );
        assert_eq!(e.request.headers.get("x-api-key"), Some("{{redacted}}"));
    }
}
