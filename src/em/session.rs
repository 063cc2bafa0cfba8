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
    // `X-Api-Key`, `api_key` and `ApiKey` are one name.
    let plain: String = name.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| plain == *s || plain.ends_with(s))
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

/// A token for the LogonSession `id`, as EM up to 12 mints them: the base64 of the id.
pub fn mint_token(id: &str) -> String {
    base64_encode(id.as_bytes())
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

    /// A scrubber for one session's token.
    pub fn for_session(token: &str) -> Scrubber {
        let mut s = Scrubber::default();
        s.session(token, None);
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

    #[test]
    fn a_token_made_from_its_session_id_gives_the_id_and_an_opaque_one_none() {
        let token = mint_token("d75b29ea-9b8d-4d77-a43d-d55225d1f748");
        assert_eq!(session_id_of(&token).as_deref(), Some("d75b29ea-9b8d-4d77-a43d-d55225d1f748"));
        assert_eq!(session_id_of("aW5mby4uLg=="), None, "too short to be an id");
        assert_eq!(session_id_of("x7Jk2mQpZr9TfWv0"), None, "opaque bytes are no id");
    }

    #[test]
    fn a_session_is_hidden_by_token_and_id_in_one_pass() {
        let token = mint_token("d75b29ea-9b8d-4d77-a43d-d55225d1f748");
        let s = Scrubber::for_session(&token);
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
