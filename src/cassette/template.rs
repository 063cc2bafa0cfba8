//! Placeholders in recorded text. A cassette never holds the recorded server's address, a live
//! session token or a credential; it holds these instead, and the mock fills them per request:
//!
//! | placeholder        | stands for                                              |
//! |--------------------|---------------------------------------------------------|
//! | `{{origin}}`       | `scheme://host:port` of the server the client talks to  |
//! | `{{date}}`         | the current HTTP date                                   |
//! | `{{token:N}}`      | the session token of logon session N                    |
//! | `{{session-id:N}}` | the id of logon session N (the token is its base64)     |
//! | `{{refresh-token:N}}` | the OAuth2 refresh token of session N (VBR REST)     |
//! | `{{redacted}}`     | a secret that was never written down; matches anything  |
//!
//! Any other `{{...}}` is ordinary text.

use std::sync::Arc;

use crate::diagnostic::did_you_mean;

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Origin,
    Date,
    Token(u32),
    SessionId(u32),
    RefreshToken(u32),
    Redacted,
}

impl Part {
    fn render_into(&self, fill: &Fill<'_>, out: &mut String) {
        match self {
            Part::Text(t) => out.push_str(t),
            Part::Origin => out.push_str(fill.origin),
            Part::Date => out.push_str(fill.date),
            Part::Token(n) => match fill.session {
                Some((_, token)) => out.push_str(token),
                None => push_placeholder(out, "token", *n),
            },
            Part::SessionId(n) => match fill.session {
                Some((id, _)) => out.push_str(id),
                None => push_placeholder(out, "session-id", *n),
            },
            Part::RefreshToken(n) => push_placeholder(out, "refresh-token", *n),
            Part::Redacted => out.push_str("{{redacted}}"),
        }
    }

    /// Whether filling it needs anything besides the origin.
    fn varies_per_request(&self) -> bool {
        matches!(self, Part::Token(_) | Part::SessionId(_) | Part::Date)
    }
}

/// Text with placeholders, parsed once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// The values a template is filled with.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fill<'a> {
    pub origin: &'a str,
    pub date: &'a str,
    /// Id and token of the caller's live session.
    pub session: Option<(&'a str, &'a str)>,
}

pub const NAMES: [&str; 6] = ["origin", "date", "token", "session-id", "refresh-token", "redacted"];

/// Parses the inside of `{{...}}`; `None` when it is not a placeholder.
fn placeholder(inner: &str) -> Option<Part> {
    // In every link: known without a search for a number.
    if inner == "origin" {
        return Some(Part::Origin);
    }
    let (name, number) = match inner.split_once(':') {
        Some((n, num)) => (n, Some(num.parse::<u32>().ok()?)),
        None => (inner, None),
    };
    Some(match (name, number) {
        ("origin", None) => Part::Origin,
        ("date", None) => Part::Date,
        ("redacted", None) => Part::Redacted,
        ("token", Some(n)) => Part::Token(n),
        ("session-id", Some(n)) => Part::SessionId(n),
        ("refresh-token", Some(n)) => Part::RefreshToken(n),
        _ => return None,
    })
}

/// Finds `{{...}}` spans: (start, end, inner) with end past the closing braces.
fn spans(s: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let mut from = 0;
    // memmem: a large answer is searched for `{{` end to end (str::find took a tenth of the
    // query service's answer of 50,000 references).
    let opening = memchr::memmem::Finder::new(b"{{");
    std::iter::from_fn(move || {
        while let Some(i) = opening.find(&s.as_bytes()[from..]) {
            let start = from + i;
            let rest = &s[start + 2..];
            let ends = |c: char| c == '}' || c == '{' || c.is_whitespace();
            // Its first 40 characters, read as bytes while they are ASCII (a placeholder's are:
            // a large answer has one in each of its millions of links).
            let ascii = rest.bytes().take(40).position(|b| !b.is_ascii() || ends(char::from(b)));
            let close = match ascii.map(|j| (j, rest.as_bytes()[j])) {
                Some((j, b)) if b.is_ascii() => Some((j, char::from(b))),
                None => None,
                Some(_) => rest.char_indices().take(40).find(|(_, c)| ends(*c)),
            };
            match close {
                Some((j, '}')) if rest[j..].starts_with("}}") => {
                    from = start + 2 + j + 2;
                    return Some((start, from, &rest[..j]));
                }
                _ => from = start + 2,
            }
        }
        None
    })
}

/// What filling a text takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Nothing: it has no placeholder.
    Nothing,
    /// The caller's address alone.
    Origin,
    /// More than the address (the session, the date): filled for each request.
    Request,
}

/// What filling `s` takes, found without parsing it into a template.
pub fn needs(s: &str) -> Needs {
    let mut needs = Needs::Nothing;
    for (_, _, inner) in spans(s) {
        match placeholder(inner) {
            Some(part) if part.varies_per_request() => return Needs::Request,
            Some(_) => needs = Needs::Origin,
            None => {}
        }
    }
    needs
}

/// `s` with its placeholders filled: what `Template::parse(s).render(fill)` gives, without
/// the template (a model's answer is filled once; its text need not be cut into parts first).
pub fn fill_text(s: &str, fill: &Fill<'_>) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    let mut last = 0;
    for (start, end, inner) in spans(s) {
        if let Some(part) = placeholder(inner) {
            out.push_str(&s[last..start]);
            part.render_into(fill, &mut out);
            last = end;
        }
    }
    out.push_str(&s[last..]);
    out
}

impl Template {
    pub fn parse(s: &str) -> Template {
        let mut parts = Vec::new();
        let mut last = 0;
        for (start, end, inner) in spans(s) {
            if let Some(part) = placeholder(inner) {
                if start > last {
                    parts.push(Part::Text(s[last..start].to_owned()));
                }
                parts.push(part);
                last = end;
            }
        }
        if last < s.len() || parts.is_empty() {
            parts.push(Part::Text(s[last..].to_owned()));
        }
        Template { parts }
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether the template is plain text.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Whether filling it needs the caller's session.
    pub fn uses_session(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Token(_) | Part::SessionId(_)))
    }

    /// Whether filling it needs anything besides the origin (so it cannot be cached per origin).
    pub fn varies_per_request(&self) -> bool {
        self.parts.iter().any(Part::varies_per_request)
    }

    /// The logon session numbers it mentions.
    pub fn sessions(&self) -> impl Iterator<Item = u32> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Token(n) | Part::SessionId(n) => Some(*n),
            _ => None,
        })
    }

    pub fn render(&self, fill: &Fill<'_>) -> String {
        let mut out = String::new();
        self.render_into(fill, &mut out);
        out
    }

    pub fn render_into(&self, fill: &Fill<'_>, out: &mut String) {
        for part in &self.parts {
            part.render_into(fill, out);
        }
    }

    /// Whether `actual` is an instance of this template: text parts equal (ASCII case folded
    /// when `fold`), placeholders standing for any non-empty run. Session placeholders must
    /// equal `session` values when given.
    pub fn matches(&self, actual: &str, fold: bool, session: Option<(&str, &str)>) -> bool {
        fn eq(a: &str, b: &str, fold: bool) -> bool {
            if fold { a.eq_ignore_ascii_case(b) } else { a == b }
        }
        fn go(parts: &[Part], s: &str, fold: bool, session: Option<(&str, &str)>) -> bool {
            let Some((first, rest)) = parts.split_first() else {
                return s.is_empty();
            };
            let fixed = match (first, session) {
                (Part::Text(t), _) => Some(t.as_str()),
                (Part::SessionId(_), Some((id, _))) => Some(id),
                (Part::Token(_), Some((_, token))) => Some(token),
                _ => None,
            };
            match fixed {
                Some(t) => {
                    s.len() >= t.len()
                        && s.is_char_boundary(t.len())
                        && eq(&s[..t.len()], t, fold)
                        && go(rest, &s[t.len()..], fold, session)
                }
                None => (1..=s.len()).filter(|i| s.is_char_boundary(*i)).any(|i| go(rest, &s[i..], fold, session)),
            }
        }
        go(&self.parts, actual, fold, session)
    }
}

/// A text with placeholders that stays where it is (a cassette's body, shared with the
/// cassette), filled for every request (see [`needs`]): only where its placeholders stand is
/// kept.
#[derive(Clone, Debug)]
pub struct SharedTemplate {
    text: Arc<str>,
    /// (start, end) of each placeholder, `{{` to `}}`, in order.
    holes: Vec<(usize, usize)>,
}

impl SharedTemplate {
    pub fn parse(text: Arc<str>) -> SharedTemplate {
        let holes = spans(&text).filter(|(_, _, inner)| placeholder(inner).is_some()).map(|(s, e, _)| (s, e)).collect();
        SharedTemplate { text, holes }
    }

    /// Whether the template is plain text.
    #[cfg(test)]
    pub fn is_literal(&self) -> bool {
        self.holes.is_empty()
    }

    /// Whether filling it needs anything besides the origin (so it cannot be cached per origin).
    #[cfg(test)]
    pub fn varies_per_request(&self) -> bool {
        self.holes.iter().any(|&(s, e)| placeholder(&self.text[s + 2..e - 2]).is_some_and(|p| p.varies_per_request()))
    }

    pub fn render_into(&self, fill: &Fill<'_>, out: &mut String) {
        out.reserve(self.text.len());
        let mut last = 0;
        for &(start, end) in &self.holes {
            out.push_str(&self.text[last..start]);
            match placeholder(&self.text[start + 2..end - 2]) {
                Some(part) => part.render_into(fill, out),
                None => out.push_str(&self.text[start..end]),
            }
            last = end;
        }
        out.push_str(&self.text[last..]);
    }
}

fn push_placeholder(out: &mut String, name: &str, n: u32) {
    out.push_str("{{");
    out.push_str(name);
    out.push(':');
    out.push_str(&n.to_string());
    out.push_str("}}");
}

/// `{{...}}` spans in `s` that look like a mistyped placeholder, with the likely intent.
pub fn suspicious_placeholders(s: &str) -> Vec<(String, &'static str)> {
    spans(s)
        .filter(|(_, _, inner)| placeholder(inner).is_none())
        .filter_map(|(_, _, inner)| {
            let name = inner.split(':').next().unwrap_or(inner);
            let guess = did_you_mean(name, NAMES)?;
            Some((format!("{{{{{inner}}}}}"), guess))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_placeholders_only() {
        let t = Template::parse("{{origin}}/api/logonSessions/{{session-id:1}}?x={{other}}");
        assert_eq!(
            t.parts(),
            [
                Part::Origin,
                Part::Text("/api/logonSessions/".into()),
                Part::SessionId(1),
                Part::Text("?x={{other}}".into()),
            ]
        );
        assert!(Template::parse("plain {{ text").is_literal());
        assert_eq!(Template::parse("").parts(), [Part::Text(String::new())]);
    }

    #[test]
    fn renders_with_the_callers_values() {
        let t = Template::parse("X-RestSvcSessionId={{token:1}}; Path=/api; {{date}} {{origin}}");
        let fill = Fill { origin: "http://127.0.0.1:1", date: "D", session: Some(("id", "tok")) };
        assert_eq!(t.render(&fill), "X-RestSvcSessionId=tok; Path=/api; D http://127.0.0.1:1");
    }

    #[test]
    fn a_shared_template_and_a_filled_text_render_as_the_text_parsed_would() {
        let texts = [
            "{{origin}}/api/x {{token:2}} {{other}} {{date}}",
            "",
            "plain",
            "{{origin}}",
            "a{{redacted}}b{{",
            "{{{{origin}}}}",
            "{{ origin}}{{origin}",
        ];
        for text in texts {
            let fill = Fill { origin: "http://o:1", date: "D", session: Some(("id", "tok")) };
            let shared = SharedTemplate::parse(text.into());
            let mut out = String::new();
            shared.render_into(&fill, &mut out);
            assert_eq!(out, Template::parse(text).render(&fill), "{text}");
            assert_eq!(fill_text(text, &fill), out, "{text}");
            let needs = match (shared.is_literal(), shared.varies_per_request()) {
                (true, _) => Needs::Nothing,
                (false, false) => Needs::Origin,
                (false, true) => Needs::Request,
            };
            assert_eq!(super::needs(text), needs, "{text}");
            assert_eq!(shared.is_literal(), Template::parse(text).is_literal(), "{text}");
            assert_eq!(shared.varies_per_request(), Template::parse(text).varies_per_request(), "{text}");
        }
    }

    /// [`spans`] as it read every placeholder: by its first 40 characters.
    fn spans_by_characters(text: &str) -> Vec<(usize, usize, &str)> {
        let (mut found, mut from) = (Vec::new(), 0);
        while let Some(i) = text[from..].find("{{") {
            let start = from + i;
            let rest = &text[start + 2..];
            let close = rest.char_indices().take(40).find(|(_, c)| *c == '}' || *c == '{' || c.is_whitespace());
            match close {
                Some((j, '}')) if rest[j..].starts_with("}}") => {
                    from = start + 2 + j + 2;
                    found.push((start, from, &rest[..j]));
                }
                _ => from = start + 2,
            }
        }
        found
    }

    proptest::proptest! {
        /// A placeholder's end is found as by reading its first 40 characters, whatever bytes
        /// they are: ASCII read as bytes, the rest as characters.
        #[test]
        fn spans_end_where_the_first_forty_characters_say(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec!["{{", "}}", "}", "{", "origin", "token:1", " ", "\u{a0}", "\u{b}", "é", "€", "x", "-"]),
                0..40,
            ),
        ) {
            let text = pieces.concat();
            proptest::prop_assert_eq!(spans(&text).collect::<Vec<_>>(), spans_by_characters(&text), "{:?}", text);
        }
    }

    #[test]
    fn a_placeholder_ends_within_its_first_forty_characters_ascii_or_not() {
        for letter in ["a", "é", "€"] {
            for (n, found) in [(39, true), (40, false)] {
                let text = format!("{{{{{}}}}} {{{{origin}}}}", letter.repeat(n));
                let spans: Vec<_> = spans(&text).collect();
                assert_eq!(spans, spans_by_characters(&text), "{text}");
                assert_eq!(spans.len(), if found { 2 } else { 1 }, "{text}");
            }
        }
    }

    #[test]
    fn matches_instances() {
        let t = Template::parse("/api/logonSessions/{{session-id:1}}");
        assert!(t.matches("/api/logonsessions/abc", true, None));
        assert!(t.matches("/api/logonSessions/abc", false, Some(("abc", "t"))));
        assert!(!t.matches("/api/logonSessions/abd", false, Some(("abc", "t"))));
        assert!(!t.matches("/api/logonSessions/", false, None));
        assert!(Template::parse("Basic {{redacted}}").matches("Basic dXNlcjpw", false, None));
    }

    #[test]
    fn flags_typos() {
        assert_eq!(suspicious_placeholders("{{orgin}}/api {{foo}}"), [("{{orgin}}".to_owned(), "origin")]);
    }
}
