//! What emtape knows about the Veeam Backup & Replication REST API (`https://<vbr>:9419/api/v1`,
//! JSON only): its OAuth2 token endpoint and bearer tokens, the `x-api-version` header and its
//! revisions, its error model, and how its traffic is told apart from Enterprise Manager's.
//! Every other module asks here, as it asks [`crate::em`] about EM.

use crate::http::Headers;

/// The product a VBR cassette's `meta.product` names.
pub const PRODUCT: &str = "Veeam Backup & Replication";
/// The header every request names its API revision in (`1.3-rev1`).
pub const API_VERSION_HEADER: &str = "x-api-version";
/// Where a client trades credentials (or a refresh token) for an access token.
pub const TOKEN_PATH: &str = "/api/oauth2/token";
/// Where a client gives its tokens back.
pub const LOGOUT_PATH: &str = "/api/oauth2/logout";
/// The port a VBR server listens on by default.
pub const DEFAULT_PORT: u16 = 9419;

/// The revisions of the API, oldest first, and the product versions that serve them.
pub const REVISIONS: [(&str, &str); 9] = [
    ("1.0-rev1", "11"),
    ("1.1-rev0", "12.0"),
    ("1.1-rev1", "12.1"),
    ("1.1-rev2", "12.2"),
    ("1.2-rev0", "12.3"),
    ("1.2-rev1", "12.3"),
    ("1.3-rev0", "13.0"),
    ("1.3-rev1", "13.0"),
    ("1.3-rev2", "13.1"),
];

/// Which API a cassette holds; EM's unless it says otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Api {
    /// Veeam Backup Enterprise Manager REST (port 9398, XML and JSON).
    #[default]
    Em,
    /// Veeam Backup & Replication REST (port 9419, JSON, OAuth2).
    Vbr,
}

impl Api {
    /// The name a cassette's `meta.api` and `--api` use.
    pub fn name(self) -> &'static str {
        match self {
            Api::Em => "em",
            Api::Vbr => "vbr",
        }
    }

    pub fn parse(name: &str) -> Option<Api> {
        match name.trim().to_ascii_lowercase().as_str() {
            "em" | "enterprise-manager" => Some(Api::Em),
            "vbr" | "vbr-rest" | "backup-and-replication" => Some(Api::Vbr),
            _ => None,
        }
    }

    /// The API a request belongs to, when it says: VBR's requests name a revision or go to its
    /// token endpoint or under `/api/v1/`; EM never does either.
    pub fn of_request(path: &str, headers: &Headers) -> Option<Api> {
        let path = path.split('?').next().unwrap_or(path).to_ascii_lowercase();
        let vbr = headers.get(API_VERSION_HEADER).is_some()
            || path.starts_with("/api/oauth2/")
            || path.starts_with("/api/v1/")
            || path == "/api/v1"
            || bearer(headers).is_some();
        vbr.then_some(Api::Vbr)
    }
}

/// The access token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &Headers) -> Option<&str> {
    headers.get_all("authorization").find_map(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
    })
}

/// Names of the fields of an OAuth2 form whose values are secrets.
const FORM_SECRETS: [&str; 6] = ["password", "refresh_token", "access_token", "client_secret", "code", "assertion"];

/// Whether a body is an OAuth2 form (`grant_type=…&…`), by its `Content-Type` or its look.
pub fn is_form(content_type: Option<&str>, body: &str) -> bool {
    content_type.is_some_and(|c| c.to_ascii_lowercase().contains("x-www-form-urlencoded"))
        || body.trim_start().starts_with("grant_type=")
}

/// The value of field `name` of a form body, percent-decoded.
pub fn form_value(body: &str, name: &str) -> Option<String> {
    body.trim()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| form_decode(v))
}

fn form_decode(v: &str) -> String {
    crate::em::percent_decode(&v.replace('+', " "))
}

/// A form body with every secret field's value replaced: by what `known` maps it to (a token
/// the cassette names `{{token:1}}`), kept when it already is a placeholder, else `redacted`.
pub fn redact_form(body: &str, known: impl Fn(&str) -> Option<String>, redacted: &str) -> String {
    body.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if FORM_SECRETS.contains(&form_decode(k).to_ascii_lowercase().as_str()) && !v.is_empty() => {
                let value = form_decode(v);
                let shown =
                    if is_placeholder(&value) { value } else { known(&value).unwrap_or_else(|| redacted.to_owned()) };
                format!("{k}={shown}")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `{{token:1}}`, `{{redacted}}`: a value a cassette writes in place of a secret.
pub fn is_placeholder(value: &str) -> bool {
    value.starts_with("{{") && value.ends_with("}}") && !value[2..value.len() - 2].contains(['{', '}'])
}

/// The access and refresh tokens of a token endpoint's JSON answer.
pub fn tokens_in(body: &[u8]) -> (Option<String>, Option<String>) {
    let text = match std::str::from_utf8(body) {
        Ok(t) if t.contains("access_token") || t.contains("refresh_token") => t,
        _ => return (None, None),
    };
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(text) else {
        return (None, None);
    };
    let get = |k: &str| m.get(k).and_then(|v| v.as_str()).filter(|v| !v.is_empty()).map(str::to_owned);
    (get("access_token"), get("refresh_token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn vbr_traffic_is_told_apart_from_ems() {
        assert_eq!(Api::of_request("/api/oauth2/token", &h(&[])), Some(Api::Vbr));
        assert_eq!(Api::of_request("/api/v1/restorePoints?limit=5", &h(&[])), Some(Api::Vbr));
        assert_eq!(Api::of_request("/api/serverInfo", &h(&[("x-api-version", "1.3-rev1")])), Some(Api::Vbr));
        assert_eq!(Api::of_request("/api/vmRestorePoints", &h(&[("X-RestSvcSessionId", "x")])), None);
        assert_eq!(Api::of_request("/api/", &h(&[("Authorization", "Basic eDp5")])), None);
    }

    #[test]
    fn a_forms_secrets_are_placeholders_or_redacted_and_the_rest_stays() {
        let known = |v: &str| (v == "RT-1").then(|| "{{refresh-token:1}}".to_owned());
        assert_eq!(
            redact_form("grant_type=password&username=CORP%5Cadmin&password=p%40ss%26w", known, "{{redacted}}"),
            "grant_type=password&username=CORP%5Cadmin&password={{redacted}}"
        );
        let once = redact_form("grant_type=refresh_token&refresh_token=RT-1", known, "{{redacted}}");
        assert_eq!(once, "grant_type=refresh_token&refresh_token={{refresh-token:1}}");
        assert_eq!(redact_form(&once, known, "{{redacted}}"), once);
        // A password that looks like a placeholder only in part is still a password.
        assert_eq!(redact_form("password={{x}}y{{z}}", known, "R"), "password=R");
    }
}
