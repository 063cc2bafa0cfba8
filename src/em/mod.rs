//! What emtape knows about Enterprise Manager itself, in one place: the session header and
//! cookie, how the server picks XML or JSON, its `Error` bodies, the logon endpoint and how it
//! refuses, how a body's links are found ([`links`]), and how a token relates to its session and
//! what is a secret ([`session`]). Every other module asks here.

pub mod json;
pub mod links;
pub mod list;
pub mod node;
pub mod session;

pub use links::Link;
pub use session::{Scrubber, TokenStyle, mint_token, session_id_of};

use crate::http::{Headers, Response};
use crate::xml::escape;

/// The header (and cookie) that carries the session token.
pub const SESSION_HEADER: &str = "X-RestSvcSessionId";
/// EM's default XML namespace.
pub const NAMESPACE: &str = "http://www.veeam.com/ent/v1.0";
/// What EM answers a request without valid credentials or session.
pub const AUTHENTICATE: &str = "Basic Realm=RestSvc";

/// The two representations EM serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Repr {
    Xml,
    Json,
}

impl Repr {
    /// EM answers XML unless `Accept` contains `application/json` (any case).
    pub fn from_accept(headers: &Headers) -> Repr {
        let json = headers.get_all("accept").any(|v| v.to_ascii_lowercase().contains("application/json"));
        if json { Repr::Json } else { Repr::Xml }
    }

    /// The representation a `Content-Type` names, if it names one.
    pub fn from_content_type(value: &str) -> Option<Repr> {
        let v = value.to_ascii_lowercase();
        if v.contains("json") {
            Some(Repr::Json)
        } else if v.contains("xml") {
            Some(Repr::Xml)
        } else {
            None
        }
    }

    /// The representation a body's text looks like: XML, JSON, or neither.
    pub fn sniff(text: &str) -> Option<Repr> {
        let t = text.trim_start_matches('\u{feff}').trim_start();
        if t.starts_with('<') {
            Some(Repr::Xml)
        } else if t.starts_with(['{', '[']) {
            Some(Repr::Json)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Repr::Xml => "application/xml",
            Repr::Json => "application/json",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Repr::Xml => "XML",
            Repr::Json => "JSON",
        }
    }
}

/// The session token a request carries. EM reads the cookie first and ignores the header
/// when both are sent; a cookie sent twice is fine.
pub fn session_token(headers: &Headers) -> Option<&str> {
    headers
        .get_all("cookie")
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| name.trim().eq_ignore_ascii_case(SESSION_HEADER) && !value.trim().is_empty())
        .map(|(_, value)| value.trim())
        .or_else(|| headers.get(SESSION_HEADER).map(str::trim).filter(|v| !v.is_empty()))
}

/// An EM `Error` body in the requested representation, with its status.
pub fn error(repr: Repr, status: u16, message: &str) -> Response {
    let body = match repr {
        Repr::Xml => format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error Message=\"{}\" StatusCode=\"{status}\" xmlns=\"{NAMESPACE}\" \
             xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" />\n",
            escape(message)
        ),
        Repr::Json => format!(
            "{{\"FirstChanceExceptionMessage\":null,\"Message\":{},\"StackTrace\":null,\"Status\":null,\"StatusCode\":{status}}}",
            serde_json::Value::String(message.to_owned())
        ),
    };
    Response::new(status).header("Content-Type", repr.content_type()).header("Server", "emtape").body(body)
}

/// `401` with the challenge EM sends.
pub fn unauthorized(repr: Repr, message: &str) -> Response {
    error(repr, 401, message).header("WWW-Authenticate", AUTHENTICATE)
}

/// EM's 500 for a request whose handling panicked (see [`crate::http::server::Handler::panicked`]).
pub fn panicked(request_line: &str, headers: &Headers, why: &str) -> Response {
    error(Repr::from_accept(headers), 500, &format!("emtape failed while answering {request_line}: {why}"))
}

/// The `Message` of an EM `Error` body (XML or JSON), if `body` is one.
pub fn error_message(body: &str) -> Option<String> {
    let body = body.trim_start_matches('\u{feff}').trim();
    if let Ok(root) = crate::xml::parse(body) {
        return (root.name == "Error").then(|| root.attribute("Message").map(str::to_owned)).flatten();
    }
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    json.get("Message").and_then(|m| m.as_str()).map(str::to_owned)
}

/// What a client should tell its user when EM refuses a logon: `401` is wrong credentials,
/// `403` an account without an Enterprise Manager role; `None` for any other answer.
pub fn logon_refusal(response: &Response) -> Option<String> {
    let hint = match response.status {
        401 => "check --user / --password-env",
        403 => "the account needs the Portal Administrator, Portal User or Restore Operator role",
        _ => return None,
    };
    let said =
        error_message(&String::from_utf8_lossy(&response.body)).map(|m| format!(", EM: {m}")).unwrap_or_default();
    Some(format!("logon refused ({}{said}): {hint}", response.status))
}

/// Whether a normalised path is the logon endpoint (`/api/sessionMngr`, any case, any slashes).
pub fn is_logon_path(normalized: &str) -> bool {
    normalized == "/api/sessionmngr"
}

/// Whether a normalised path is the query service's endpoint, `/api/query`. Its URLs are built
/// by the client (`type`, `format`, `filter`, `sortAsc`/`sortDesc`, `pageSize`, `page`) from the
/// query service it was given, not followed one by one from links.
pub fn is_query_path(normalized: &str) -> bool {
    normalized == "/api/query"
}

/// Whether a normalised URL path leads to the query service: its document (`/api/querySvc`, the
/// `QueryService` link of the LogonSession) or a query (a paging link, a preconfigured query).
pub fn is_query_service_path(normalized: &str) -> bool {
    normalized == "/api/querysvc" || is_query_path(normalized)
}

/// Whether a normalised path is answered without a session: the root document, which clients
/// read before they log on (a crawl records it inside its session all the same).
pub fn is_public_path(normalized: &str) -> bool {
    normalized == "/api"
}

/// Lower-cases a path, folds repeated slashes and drops a trailing slash, the way EM treats
/// `/api/sessionMngr/`, `/api/sessionMngr` and `//api//sessionMngr` alike.
pub fn normalize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out.make_ascii_lowercase();
    out
}

/// Query pairs, percent-decoded, keys lower-cased, values lower-cased except `filter` (it holds
/// names), sorted. EM reads `format=Entity` and `format=entity` alike.
pub fn normalize_query(query: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            // `+` is a space in a query (Python's requests writes `filter=Name==Backup+Job+1`).
            let k = percent_decode(&k.replace('+', " ")).to_ascii_lowercase();
            let v = percent_decode(&v.replace('+', " "));
            let v = if k == "filter" { v } else { v.to_ascii_lowercase() };
            (k, v)
        })
        .collect();
    pairs.sort();
    pairs
}

/// Decodes `%XX` escapes; anything malformed is kept as it is.
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // On bytes: `%a` followed by a multi-byte character must not slice the text inside it.
        if b[i] == b'%' {
            if let (Some(hi), Some(lo)) = (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex)) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: &u8) -> Option<u8> {
    char::from(*b).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn query_normalisation_never_panics_and_is_stable(query in ".{0,60}") {
            let once = normalize_query(&query);
            let _ = normalize_path(&query);
            // Decoded values written back raw normalise to themselves when they hold no
            // separators or escapes.
            for (k, v) in &once {
                if !k.contains(['&', '=', '%', '+']) && !v.contains(['&', '=', '%', '+']) && k != "filter" {
                    proptest::prop_assert_eq!(normalize_query(&format!("{k}={v}")), vec![(k.clone(), v.clone())]);
                }
            }
        }
    }

    #[test]
    fn a_refused_logon_names_its_status_what_em_said_and_what_to_check() {
        let refused = unauthorized(Repr::Xml, "Authentication failed.");
        assert_eq!(
            logon_refusal(&refused).as_deref(),
            Some("logon refused (401, EM: Authentication failed.): check --user / --password-env")
        );
        let bare = Response::new(401);
        assert_eq!(logon_refusal(&bare).as_deref(), Some("logon refused (401): check --user / --password-env"));
        assert!(
            logon_refusal(&error(Repr::Json, 403, "Access denied"))
                .unwrap()
                .starts_with("logon refused (403, EM: Access denied): ")
        );
        assert_eq!(logon_refusal(&error(Repr::Xml, 400, "version")), None);
    }

    #[test]
    fn percent_decoding_never_splits_a_character() {
        assert_eq!(percent_decode("x=%a\u{e9}"), "x=%a\u{e9}");
        assert_eq!(percent_decode("%e9%"), "\u{fffd}%");
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
        assert_eq!(percent_decode("%22ubuntu88%22"), "\"ubuntu88\"");
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn cookie_wins_over_header_and_may_repeat() {
        let h = headers(&[
            ("X-RestSvcSessionId", "header"),
            ("Cookie", "a=1; X-RestSvcSessionId=cookie; X-RestSvcSessionId=cookie"),
        ]);
        assert_eq!(session_token(&h), Some("cookie"));
        assert_eq!(session_token(&headers(&[("x-restsvcsessionid", "h")])), Some("h"));
        assert_eq!(session_token(&headers(&[("Cookie", "other=1")])), None);
    }

    #[test]
    fn json_only_when_accept_asks_for_it() {
        assert_eq!(Repr::from_accept(&headers(&[("Accept", "Application/JSON; q=1")])), Repr::Json);
        assert_eq!(Repr::from_accept(&headers(&[("Accept", "*/*")])), Repr::Xml);
        assert_eq!(Repr::from_accept(&Headers::new()), Repr::Xml);
    }

    #[test]
    fn paths_and_queries_normalise_like_em() {
        assert_eq!(normalize_path("//api//sessionMngr/"), "/api/sessionmngr");
        assert_eq!(normalize_path("/api/"), "/api");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(
            normalize_query("format=Entity&filter=VmDisplayName%3D%3D%22Srv%22"),
            [("filter".to_owned(), "VmDisplayName==\"Srv\"".to_owned()), ("format".to_owned(), "entity".to_owned())]
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn errors_look_like_em_errors() {
        let r = unauthorized(Repr::Json, "no \"token\"");
        assert_eq!(r.status, 401);
        assert_eq!(r.headers.get("www-authenticate"), Some("Basic Realm=RestSvc"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["Message"], "no \"token\"");
        assert_eq!(body["StatusCode"], 401);
        let x = error(Repr::Xml, 404, "a<b");
        assert!(std::str::from_utf8(&x.body).unwrap().contains("Message=\"a&lt;b\" StatusCode=\"404\""));
    }
}
