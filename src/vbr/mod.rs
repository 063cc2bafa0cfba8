//! What emtape knows about the Veeam Backup & Replication REST API (`https://<vbr>:9419/api/v1`,
//! JSON only): its OAuth2 token endpoint and bearer tokens, the `x-api-version` header and its
//! revisions, its error model, and how its traffic is told apart from Enterprise Manager's.
//! Every other module asks here, as it asks [`crate::em`] about EM.

pub mod coverage;
pub mod crawl;
pub mod mock;
pub mod store;

pub use mock::{VbrMock, VbrOptions};

use crate::http::{Headers, Response};

/// The product a VBR cassette's `meta.product` names.
pub const PRODUCT: &str = "Veeam Backup & Replication";
/// The header every request names its API revision in (`1.3-rev1`).
pub const API_VERSION_HEADER: &str = "x-api-version";
/// Where a client trades credentials (or a refresh token) for an access token.
pub const TOKEN_PATH: &str = "/api/oauth2/token";
/// Where a client gives its tokens back.
pub const LOGOUT_PATH: &str = "/api/oauth2/logout";
/// Whether `revision` (`1.3-rev1`) is `other` or later; an unparsable one is not.
pub fn revision_at_least(revision: &str, other: &str) -> bool {
    let parse = |r: &str| -> Option<(u32, u32, u32)> {
        let (version, rev) = r.trim().split_once("-rev")?;
        let (major, minor) = version.split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?, rev.parse().ok()?))
    };
    matches!((parse(revision), parse(other)), (Some(a), Some(b)) if a >= b)
}

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

    /// How messages name it.
    pub fn title(self) -> &'static str {
        match self {
            Api::Em => "Enterprise Manager REST",
            Api::Vbr => "VBR REST",
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

/// Whether a field, header or parameter of this name holds a secret in VBR's traffic: EM's
/// names ([`crate::em::session::secret_name`]) but `sessionId`, which here names a job's
/// session, not a logon.
pub fn secret_name(name: &str) -> bool {
    !crate::em::session::plain_ends_with(name, "sessionid") && crate::em::session::secret_name(name)
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

/// The form of an OAuth2 password grant for `user` and `password`, percent-encoded.
pub fn password_grant(user: &str, password: &str) -> String {
    fn encode(v: &str) -> String {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    format!("grant_type=password&username={}&password={}", encode(user), encode(password))
}

/// Why the token endpoint refused a logon, when it did: its status and the error model's
/// code and message, with a hint.
pub fn logon_refusal(response: &Response) -> Option<String> {
    if response.status < 400 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let code = v.get("errorCode").and_then(|c| c.as_str()).unwrap_or("no errorCode");
    let said = v.get("message").and_then(|m| m.as_str()).map(|m| format!(": {m}")).unwrap_or_default();
    let hint = match response.status {
        401 | 403 => "check --user / --password-env",
        400 => "check the x-api-version the scenario sends (vars: api_version)",
        _ => "the server could not issue a token",
    };
    Some(format!("logon refused ({} {code}{said}): {hint}", response.status))
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

/// The `errorCode`s of the API's error model (the same ten in every revision).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    AccessDenied,
    ExpiredToken,
    InvalidToken,
    InvalidUri,
    MethodNotAllowed,
    NotFound,
    NotImplemented,
    ServiceUnavailable,
    UnexpectedContent,
    UnknownError,
}

impl ErrorCode {
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::AccessDenied => "AccessDenied",
            ErrorCode::ExpiredToken => "ExpiredToken",
            ErrorCode::InvalidToken => "InvalidToken",
            ErrorCode::InvalidUri => "InvalidURI",
            ErrorCode::MethodNotAllowed => "MethodNotAllowed",
            ErrorCode::NotFound => "NotFound",
            ErrorCode::NotImplemented => "NotImplemented",
            ErrorCode::ServiceUnavailable => "ServiceUnavailable",
            ErrorCode::UnexpectedContent => "UnexpectedContent",
            ErrorCode::UnknownError => "UnknownError",
        }
    }
}

/// An answer in the API's error model: `{"errorCode": …, "message": …, "resourceId": …}`.
pub fn error(status: u16, code: ErrorCode, message: &str, resource: Option<&str>) -> Response {
    let mut body = serde_json::json!({"errorCode": code.name(), "message": message});
    if let Some(id) = resource {
        body["resourceId"] = id.into();
    }
    Response::new(status).header("Content-Type", "application/json; charset=utf-8").body(body.to_string())
}

/// The `message` of an error-model body, if `body` is one.
pub fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("errorCode")?;
    Some(v.get("message")?.as_str()?.to_owned())
}

/// Seconds since 1970 of an RFC 3339 time (`2025-11-02T13:42:25.123+01:00`, `…Z`), zone applied.
pub fn seconds(text: &str) -> Option<i64> {
    let local = crate::http::parse_datetime_seconds(text)? as i64;
    let rest = text.get(19..)?.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match rest.as_bytes().first() {
        Some(sign @ (b'+' | b'-')) => {
            let (h, m) = rest[1..].split_once(':').unwrap_or((rest.get(1..3)?, rest.get(3..5).unwrap_or("0")));
            let secs = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => 0,
    };
    Some(local - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn times_compare_across_zones() {
        assert_eq!(seconds("2025-11-02T13:42:25+01:00"), seconds("2025-11-02T12:42:25Z"));
        assert_eq!(seconds("2025-11-02T12:42:25.1234567-00:30"), seconds("2025-11-02T13:12:25Z"));
        assert_eq!(seconds("yesterday"), None);
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
