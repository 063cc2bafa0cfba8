//! Sessions and secrets: how a session token relates to its LogonSession, and how every report,
//! log and message shows a secret (`{session-token}`, `{session-id}`, `(redacted)`).

use crate::codec::{base64_decode, base64_encode};
use crate::em;

/// What a cassette holds in place of a secret.
pub const REDACTED: &str = "{{redacted}}";

/// Names of fields, headers and query parameters whose values are secrets (any case, without
/// `-` and `_`; a name ending in one counts too: `AdminPassword`, `X-Api-Token`).
pub const SECRET_NAMES: [&str; 10] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "apikey",
    "privatekey",
    "accesstoken",
    "clientsecret",
    "token",
    "sessionid",
];

/// Whether a field, header or parameter of this name holds a secret.
pub fn secret_name(name: &str) -> bool {
    SECRET_NAMES.iter().any(|s| plain_ends_with(name, s))
}

/// Whether `name` without its `-` and `_`, in lower case, ends with `suffix` (lower case, ASCII):
/// `X-Api-Key`, `api_key` and `ApiKey` are one name. Read from the end, with nothing made: lint
/// asks it of every element and attribute name of every body.
pub(crate) fn plain_ends_with(name: &str, suffix: &str) -> bool {
    let mut plain = name.bytes().rev().filter(|b| *b != b'-' && *b != b'_').map(|b| b.to_ascii_lowercase());
    suffix.bytes().rev().all(|c| plain.next() == Some(c))
}

/// A request target with the values of its secret-named query parameters (`?token=…`,
/// `&password=…`) replaced by `{{redacted}}`; the rest as it was.
pub fn redact_query(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else { return target.to_owned() };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !v.is_empty() && v != REDACTED && secret_name(&em::percent_decode(k)) => {
                format!("{k}={REDACTED}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// A request target as logs and explanations show it: secret query values redacted, and the id
/// of a LogonSession (its session token is that id in base64) shown as `{session-id}`.
pub fn loggable(target: &str) -> String {
    let target = redact_query(target);
    let (path, rest) = target.split_at(target.find('?').unwrap_or(target.len()));
    let lower = path.to_ascii_lowercase();
    match lower.find("/logonsessions/") {
        Some(at) => {
            let start = at + "/logonsessions/".len();
            let end = path[start..].find('/').map_or(path.len(), |i| start + i);
            if end == start {
                return target;
            }
            format!("{}{{session-id}}{}{rest}", &path[..start], &path[end..])
        }
        None => target,
    }
}

/// How a release mints its session tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenStyle {
    /// EM up to 12: the base64 of the LogonSession id (48 characters).
    #[default]
    FromSessionId,
    /// EM 13: 24 characters, the base64 of a new random GUID in .NET's byte order, unrelated
    /// to the LogonSession id (the v13 documentation's `OsU6RL7OGkGKrPBGxKxURw==`).
    Opaque,
}

impl TokenStyle {
    /// How a cassette's `session_tokens` names it.
    pub fn name(self) -> &'static str {
        match self {
            TokenStyle::FromSessionId => "session-id",
            TokenStyle::Opaque => "opaque",
        }
    }

    /// The style a cassette's meta says: `session_tokens`, or else its `product_version`.
    pub fn of_meta(session_tokens: Option<&str>, product_version: Option<&str>) -> Option<TokenStyle> {
        match session_tokens {
            Some("opaque") => Some(TokenStyle::Opaque),
            Some("session-id") => Some(TokenStyle::FromSessionId),
            _ => product_version.map(TokenStyle::of_product_version),
        }
    }

    /// The style of a live token whose LogonSession id is `id`.
    pub fn of_token(token: &str, id: &str) -> TokenStyle {
        match session_id_of(token) {
            Some(made_of) if made_of.eq_ignore_ascii_case(id) => TokenStyle::FromSessionId,
            _ => TokenStyle::Opaque,
        }
    }

    /// The style of the release a cassette's `product_version` names (13 and later: opaque).
    pub fn of_product_version(version: &str) -> TokenStyle {
        match version.split('.').next().and_then(|major| major.parse::<u32>().ok()) {
            Some(major) if major >= 13 => TokenStyle::Opaque,
            _ => TokenStyle::FromSessionId,
        }
    }
}

/// A token for the LogonSession `id`, as a release of `style` mints them.
pub fn mint_token(id: &str, style: TokenStyle) -> String {
    match style {
        TokenStyle::FromSessionId => base64_encode(id.as_bytes()),
        TokenStyle::Opaque => {
            let mut guid = crate::codec::random_bytes();
            // Guid.ToByteArray(): version 4 in the high nibble of byte 7, the variant in byte 8.
            guid[7] = (guid[7] & 0x0f) | 0x40;
            guid[8] = (guid[8] & 0x3f) | 0x80;
            base64_encode(&guid)
        }
    }
}

/// A LogonSession body (or a list of them) naming `user` as its `UserName`, in XML or JSON of
/// either key spelling.
pub fn with_user_name(body: &str, user: &str) -> String {
    let mut out = body.to_owned();
    if let Some(start) = out.find("<UserName>").map(|i| i + "<UserName>".len()) {
        if let Some(end) = out[start..].find("</UserName>").map(|e| start + e) {
            out.replace_range(start..end, &crate::xml::escape(user));
        }
        return out;
    }
    for key in ["\"UserName\"", "\"userName\""] {
        let Some(at) = out.find(key) else { continue };
        let after = at + key.len();
        let Some(open) = out[after..].find('"').map(|i| after + i) else { continue };
        let mut end = open + 1;
        let bytes = out.as_bytes();
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        if end < bytes.len() {
            let quoted = serde_json::Value::String(user.to_owned()).to_string();
            out.replace_range(open..=end, &quoted);
        }
    }
    out
}

/// The `SessionId` a LogonSession body carries (XML, or JSON in either spelling of the key).
pub fn session_id_in(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("SessionId").or_else(|| text.find("sessionId"))?;
    let rest = &text[start + "SessionId".len()..];
    let rest = rest.trim_start_matches(['>', '"', ':', ' ']);
    let id: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    (id.len() >= 8).then_some(id)
}

/// The LogonSession id a logon's answer names: its `Location` (`…/logonSessions/{id}`), or the
/// `SessionId` of its body. A token names none by itself on EM 13.
pub fn logon_session_id(response: &crate::http::Response) -> Option<String> {
    let from_location = response.headers.get("location").and_then(|l| {
        let at = l.to_ascii_lowercase().find("/logonsessions/")? + "/logonsessions/".len();
        let id = l[at..].trim_end_matches('/');
        (id.len() >= 8 && !id.contains('/')).then(|| id.to_owned())
    });
    from_location.or_else(|| session_id_in(&response.body))
}

/// The LogonSession id a token is made from, when it is made from one (EM up to 12: the base64
/// of the id). An opaque token names none: whoever needs the id reads it from the LogonSession
/// the logon answered, never from the token.
pub fn session_id_of(token: &str) -> Option<String> {
    base64_decode(token.trim())
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|id| id.len() >= 8 && id.chars().all(|c| c.is_ascii_graphic()))
}

/// Secrets shorter than this are only hidden where they stand alone (not inside a word): a
/// password `Admin` must not cut `Administrator` into a hint of what it is.
const SHORT_SECRET: usize = 8;

/// The secrets of a run, each with what is shown in its place; [`Scrubber::scrub`] hides them
/// in any text a user will see.
#[derive(Clone, Debug, Default)]
pub struct Scrubber {
    secrets: Vec<(String, &'static str)>,
}

impl Scrubber {
    /// Hides `value` as `shown` from now on (an empty value hides nothing).
    pub fn secret(&mut self, value: &str, shown: &'static str) {
        if !value.is_empty() && !self.secrets.iter().any(|(s, _)| s == value) {
            self.secrets.push((value.to_owned(), shown));
        }
    }

    /// Hides a session's token as `{session-token}` and its LogonSession id, given or made
    /// from the token, as `{session-id}`.
    pub fn session(&mut self, token: &str, id: Option<&str>) {
        self.secret(token, "{session-token}");
        if let Some(id) = id.map(str::to_owned).or_else(|| session_id_of(token)).filter(|id| id.len() >= 8) {
            self.secret(&id, "{session-id}");
        }
    }

    /// A scrubber for one session: its token, and its LogonSession id (given, or made from a
    /// token made from it).
    pub fn for_session(token: &str, id: Option<&str>) -> Scrubber {
        let mut s = Scrubber::default();
        s.session(token, id);
        s
    }

    /// Whether `value` is hidden already.
    pub fn knows(&self, value: &str) -> bool {
        self.secrets.iter().any(|(s, _)| s == value)
    }

    /// `text` with every secret replaced by what is shown for it, in one pass over the text (so
    /// no secret is searched for inside another's replacement), the longest secret first where
    /// two start at the same place.
    pub fn scrub(&self, text: &str) -> String {
        let secrets = &self.secrets;
        if !secrets.iter().any(|(s, _)| text.contains(s.as_str())) {
            return text.to_owned();
        }
        let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        let found = |at: usize| {
            secrets
                .iter()
                .filter(|(s, _)| {
                    text[at..].starts_with(s.as_str())
                        && (s.chars().count() >= SHORT_SECRET
                            || (!word(text[..at].chars().next_back()) && !word(text[at + s.len()..].chars().next())))
                })
                .max_by_key(|(s, _)| s.len())
        };
        let (mut out, mut copied, mut at) = (String::with_capacity(text.len()), 0, 0);
        while let Some(c) = text[at..].chars().next() {
            match found(at) {
                Some((secret, shown)) => {
                    out.push_str(&text[copied..at]);
                    out.push_str(shown);
                    at += secret.len();
                    copied = at;
                }
                None => at += c.len_utf8(),
            }
        }
        out.push_str(&text[copied..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Read from the end without making the plain name, a name is a secret's exactly when
        /// its plain name (no `-`, `_`, lower case) is or ends with one.
        #[test]
        fn a_name_read_from_its_end_is_a_secret_when_its_plain_name_is(
            name in "[-_a-zA-Z\u{e9}\u{130}]{0,14}(Password|passwd|PWD|Secret|api[-_]?key|Token|Session[-_]Id)?",
        ) {
            let plain: String = name.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_ascii_lowercase();
            let made = SECRET_NAMES.iter().any(|s| plain == *s || plain.ends_with(s));
            proptest::prop_assert_eq!(secret_name(&name), made, "{}", name);
        }
    }

    #[test]
    fn a_token_made_from_its_session_id_gives_the_id_and_an_opaque_one_none() {
        let opaque = mint_token("d75b29ea-9b8d-4d77-a43d-d55225d1f748", TokenStyle::Opaque);
        assert_eq!((opaque.len(), &opaque[22..]), (24, "=="), "{opaque}");
        assert_eq!(session_id_of(&opaque), None, "{opaque}");
        assert_eq!(TokenStyle::of_product_version("13.0.1.1071"), TokenStyle::Opaque);
        assert_eq!(TokenStyle::of_product_version("12.0.0.1420"), TokenStyle::FromSessionId);
        let token = mint_token("d75b29ea-9b8d-4d77-a43d-d55225d1f748", TokenStyle::FromSessionId);
        assert_eq!(session_id_of(&token).as_deref(), Some("d75b29ea-9b8d-4d77-a43d-d55225d1f748"));
        assert_eq!(session_id_of("aW5mby4uLg=="), None, "too short to be an id");
        assert_eq!(session_id_of("x7Jk2mQpZr9TfWv0"), None, "opaque bytes are no id");
    }

    #[test]
    fn a_session_is_hidden_by_token_and_id_in_one_pass() {
        let token = mint_token("d75b29ea-9b8d-4d77-a43d-d55225d1f748", TokenStyle::FromSessionId);
        let s = Scrubber::for_session(&token, None);
        assert_eq!(
            s.scrub(&format!("{token} /api/logonSessions/d75b29ea-9b8d-4d77-a43d-d55225d1f748")),
            "{session-token} /api/logonSessions/{session-id}"
        );
    }

    #[test]
    fn logged_targets_show_no_session_id_and_no_secret_query_value() {
        assert_eq!(
            loggable("/api/logonSessions/4f0c-11/x?token=abc&a=1"),
            "/api/logonSessions/{session-id}/x?token={{redacted}}&a=1"
        );
        assert_eq!(loggable("/api/LOGONSESSIONS/4f0c"), "/api/LOGONSESSIONS/{session-id}");
        assert_eq!(loggable("/api/logonSessions/"), "/api/logonSessions/");
        assert_eq!(loggable("/api/vmRestorePoints?format=Entity"), "/api/vmRestorePoints?format=Entity");
    }
}
